/*
 * keys.c - recovery key lookups: by device name (devices -> keys by
 * deviceId -> passwords in a $batch) and by key ID (one GET for a whole
 * ID, a streaming scan for a prefix), with as few round trips as Graph
 * allows.
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEYS_PATH "/informationProtection/bitlocker/recoveryKeys"
#define DEVICE_SELECT "$select=id,deviceId,displayName"

/* A lower-case copy of a GUID (as Graph writes them) the caller frees. */
static char *
guid_lower_dup(const char *s)
{
	char *d = strdup(s);

	return d != NULL ? bde_guid_lower(d) : NULL;
}

int
graph_guid_ok(const char *s)
{
	uint8_t g[16];

	return s != NULL && strlen(s) == BDE_GUID_LEN && bde_guid_parse(s, g) == 0;
}

enum bde_status
graph_add_key(const cJSON *o, const char *device, struct bde_keylist *out,
    char **errstr)
{
	const char *id = bde_json_string(o, "id");
	const char *created = bde_json_string(o, "createdDateTime");
	const char *devid = bde_json_string(o, "deviceId");
	struct bde_key *k;
	uint8_t guid[16];

	if (!graph_guid_ok(id) || bde_guid_parse(id, guid) < 0)
		return bde_error(errstr, BDE_EPROTO, "Graph returned a "
		    "recovery key without a valid id");
	/* it names the device a rotation would act on: whole GUIDs only */
	if (devid != NULL && !graph_guid_ok(devid))
		return bde_error(errstr, BDE_EPROTO, "Graph returned recovery "
		    "key %s with a deviceId that is not a GUID", id);
	k = bde_keylist_add(out);
	if (k == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	k->source = "graph";
	bde_guid_format(guid, k->key_id);
	if (created == NULL || graph_parse_time(created, &k->created) < 0)
		k->created = 0;
	k->volume = strdup(graph_volume_name(
	    cJSON_GetObjectItemCaseSensitive(o, "volumeType")));
	k->device_id = devid != NULL ? guid_lower_dup(devid) : NULL;
	k->device = device != NULL ? strdup(device) : NULL;
	if (k->volume == NULL || (devid != NULL && k->device_id == NULL) ||
	    (device != NULL && k->device == NULL)) {
		bde_key_release(k);
		out->n--;
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	return BDE_OK;
}

enum bde_status
graph_key_page(const cJSON *value, void *arg, char **errstr)
{
	struct graph_key_pages *kp = arg;
	const cJSON *item;
	const char *id;
	enum bde_status st;

	cJSON_ArrayForEach(item, value) {
		kp->scanned++;
		if (kp->match != NULL) {
			id = bde_json_string(item, "id");
			if (id == NULL || !bde_keyid_match(kp->match, id))
				continue;
		}
		st = graph_add_key(item, kp->device, kp->out, errstr);
		if (st != BDE_OK)
			return st;
		kp->matched++;
	}
	if (kp->match != NULL && kp->g != NULL && kp->g->progress != NULL)
		kp->g->progress(kp->g->progress_arg, kp->scanned, kp->matched);
	return BDE_OK;
}

/* Devices found by name, for the lookup by device. */
struct device {
	char *device_id;
	char *name;
};

struct devices {
	struct device *v;
	size_t n, cap;
};

static void
devices_free(struct devices *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].device_id);
		free(d->v[i].name);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

static enum bde_status
add_device(const char *device_id, const char *name, void *arg,
    char **errstr)
{
	struct devices *d = arg;
	struct device *v;
	size_t cap;

	if (d->n == d->cap) {
		cap = d->cap ? d->cap * 2 : 4;
		v = reallocarray(d->v, cap, sizeof(*v));
		if (v == NULL)
			return bde_error(errstr, BDE_ENOMEM, "out of memory");
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n].device_id = guid_lower_dup(device_id);
	d->v[d->n].name = strdup(name);
	if (d->v[d->n].device_id == NULL || d->v[d->n].name == NULL) {
		free(d->v[d->n].device_id);
		free(d->v[d->n].name);
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	d->n++;
	return BDE_OK;
}

enum bde_status
graph_device_page(const cJSON *value, void *arg, char **errstr)
{
	struct graph_named *nm = arg;
	const cJSON *item;
	const char *id, *name;
	enum bde_status st;

	cJSON_ArrayForEach(item, value) {
		id = bde_json_string(item, "deviceId");
		name = bde_json_string(item, "displayName");
		/* a device never registered for BitLocker has no deviceId */
		if (id == NULL || name == NULL)
			continue;
		/* copied, filtered on, rotated: a whole GUID or nothing */
		if (!graph_guid_ok(id))
			return bde_error(errstr, BDE_EPROTO, "Graph returned "
			    "device '%.200s' with a deviceId that is not a "
			    "GUID", name);
		st = nm->found(id, name, nm->arg, errstr);
		if (st != BDE_OK)
			return st;
	}
	return BDE_OK;
}

enum bde_status
graph_devices_named(struct graph *g, const char *name,
    enum bde_status (*found)(const char *device_id, const char *display_name,
    void *arg, char **errstr), void *arg, char **errstr)
{
	struct graph_named nm = { found, arg };
	enum bde_status st;
	char *filter = NULL, *url = NULL, *what = NULL;

	filter = graph_filter_eq("displayName", name);
	if (filter == NULL ||
	    asprintf(&url, "%s/devices?%s&" DEVICE_SELECT, g->v1, filter) < 0 ||
	    asprintf(&what, "looking up device '%s'", name) < 0) {
		url = what = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = graph_pages(g, url, NULL, what, NEED_DEVICES, graph_device_page,
	    &nm, errstr);
out:
	free(filter);
	free(url);
	free(what);
	return st;
}

/*
 * The path reading one key's password (key must be the only selected
 * property): a new string the caller frees, or NULL.
 */
static char *
password_path(const struct bde_key *k)
{
	char *id = guid_lower_dup(k->key_id), *p = NULL;

	if (id != NULL && asprintf(&p, KEYS_PATH "/%s?$select=key", id) < 0)
		p = NULL;
	free(id);
	return p;
}

/* Device name lookup by Entra deviceId, relative to v1.0: new, or NULL. */
static char *
device_path(const char *device_id)
{
	char *filter = graph_filter_eq("deviceId", device_id), *p = NULL;

	if (filter != NULL &&
	    asprintf(&p, "/devices?%s&" DEVICE_SELECT, filter) < 0)
		p = NULL;
	free(filter);
	return p;
}

enum bde_status
graph_take_password(struct bde_key *k, const cJSON *body,
    const char *request_id, char **errstr)
{
	const cJSON *o = graph_unwrap(body), *key;

	if (!cJSON_IsObject(o))
		return bde_error(errstr, BDE_EPROTO, "reading the recovery "
		    "password of key '%s': the answer has no JSON body "
		    "(client-request-id %s)", k->key_id, request_id);
	key = cJSON_GetObjectItemCaseSensitive(o, "key");
	/* what Graph answers a token without BitlockerKey.Read.All */
	if (key == NULL || cJSON_IsNull(key)) {
		k->pw = BDE_PW_DENIED;
		return BDE_OK;
	}
	if (!cJSON_IsString(key) || key->valuestring[0] == '\0')
		return bde_error(errstr, BDE_EPROTO, "reading the recovery "
		    "password of key '%s': the answer's key is not a string "
		    "(client-request-id %s)", k->key_id, request_id);
	k->password = strdup(key->valuestring);
	if (k->password == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	k->pw = BDE_PW_READ;
	return BDE_OK;
}

/* Whether the blank-separated perms name p (case-insensitive). */
static int
has_perm(const char *perms, const char *p)
{
	size_t n = strlen(p), w;

	while (perms != NULL && *perms != '\0') {
		perms += strspn(perms, " ");
		w = strcspn(perms, " ");
		if (w == n && strncasecmp(perms, p, n) == 0)
			return 1;
		perms += w;
	}
	return 0;
}

void
graph_denied_reason(const char *perms, char *buf, size_t len)
{
	const char *p = perms;
	char list[400];
	size_t o = 0, n;

	if (perms == NULL || perms[0] == '\0') {
		snprintf(buf, len, "the sign-in %s", NEED_PASSWORD);
		return;
	}
	if (has_perm(perms, PERM_READ_KEY)) {
		snprintf(buf, len, "the access token has " PERM_READ_KEY ", so "
		    "the user needs a role that may read BitLocker keys "
		    "(Helpdesk Administrator, Cloud Device Administrator, "
		    "...) or to own the device");
		return;
	}
	/* "A B C" -> "A, B, C" */
	list[0] = '\0';
	while (*(p += strspn(p, " ")) != '\0') {
		n = strcspn(p, " ");
		if (o + n + 3 < sizeof(list))
			o += (size_t)snprintf(list + o, sizeof(list) - o,
			    "%s%.*s", o ? ", " : "", (int)n, p);
		p += n;
	}
	snprintf(buf, len, "the access token lacks " PERM_READ_KEY " (it has "
	    "%s); sign in with it, or ask an administrator to grant it", list);
}

/* Give every key of device_id in out[start..] the name in r's answer. */
static enum bde_status
take_device_name(struct bde_keylist *out, size_t start, const char *device_id,
    const struct graph_req *r, char **errstr)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(r->body, "value");
	const char *name = bde_json_string(cJSON_GetArrayItem(value, 0),
	    "displayName");
	size_t i;

	/* a deleted device or no Device.Read.All: the key stays nameless */
	if (r->status != 200 || name == NULL)
		return BDE_OK;
	for (i = start; i < out->n; i++) {
		if (out->v[i].device != NULL || out->v[i].device_id == NULL ||
		    strcmp(out->v[i].device_id, device_id) != 0)
			continue;
		out->v[i].device = strdup(name);
		if (out->v[i].device == NULL)
			return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	return BDE_OK;
}

/*
 * Second round for the keys out[start..]: their passwords (want_pw) and
 * the names of their devices (want_names), all in one $batch where
 * possible.  A refused password marks the key BDE_PW_DENIED and makes the
 * result BDE_EPERM.
 */
static enum bde_status
enrich(struct graph *g, struct bde_keylist *out, size_t start, int want_pw,
    int want_names, char **errstr)
{
	struct graph_req *r = NULL;
	const char **devids = NULL;
	enum bde_status st = BDE_OK, first = BDE_OK;
	size_t nkeys = out->n - start, npw, ndev = 0, i, j;
	unsigned long denied = 0;
	char deny_id[BDE_GUID_LEN + 1] = "", why[600];
	char *perms = NULL;

	npw = want_pw ? nkeys : 0;
	r = calloc(nkeys * 2 + 1, sizeof(*r));
	devids = calloc(nkeys + 1, sizeof(*devids));
	if (r == NULL || devids == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < npw; i++) {
		r[i].path = password_path(&out->v[start + i]);
		if (r[i].path == NULL) {
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (i = start; want_names && i < out->n; i++) {
		if (out->v[i].device != NULL || out->v[i].device_id == NULL)
			continue;
		for (j = 0; j < ndev; j++)
			if (strcmp(devids[j], out->v[i].device_id) == 0)
				break;
		if (j < ndev)
			continue;
		devids[ndev] = out->v[i].device_id;
		r[npw + ndev].path = device_path(devids[ndev]);
		if (r[npw + ndev].path == NULL) {
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		ndev++;
	}
	if (npw + ndev == 0)
		goto out;
	st = graph_fetch_all(g, r, npw + ndev, errstr);
	if (st != BDE_OK)
		goto out;
	for (j = 0; j < ndev; j++) {
		st = take_device_name(out, start, devids[j], &r[npw + j],
		    errstr);
		if (st != BDE_OK)
			goto out;
	}
	for (i = 0; i < npw; i++) {
		struct bde_key *k = &out->v[start + i];

		if (r[i].status == 200) {
			st = graph_take_password(k, r[i].body, r[i].request_id,
			    errstr);
			if (st == BDE_OK && k->pw == BDE_PW_DENIED &&
			    denied++ == 0)
				memcpy(deny_id, r[i].request_id,
				    sizeof(deny_id));
		} else if (r[i].status == 403) {
			k->pw = BDE_PW_DENIED;
			if (denied++ == 0)
				memcpy(deny_id, r[i].request_id,
				    sizeof(deny_id));
			continue;
		} else {
			st = graph_fail(r[i].status, r[i].body,
			    r[i].request_id, "reading a recovery password",
			    NEED_PASSWORD, errstr);
			/* a key gone since the list is a surprise, not 1 */
			if (st == BDE_ENOTFOUND)
				st = BDE_EPROTO;
		}
		if (st != BDE_OK && first == BDE_OK)
			first = st;
		st = BDE_OK;
	}
	if (first != BDE_OK) {
		st = first;
		goto out;
	}
	if (denied > 0) {
		/* the token's claims, decoded only to say what it lacks */
		perms = id_permissions(g->id);
		graph_denied_reason(perms, why, sizeof(why));
		st = bde_error(errstr, BDE_EPERM, "Graph withheld the recovery "
		    "password of %lu key%s: %s (client-request-id %s)", denied,
		    denied == 1 ? "" : "s", why, deny_id);
	}
out:
	free(perms);
	graph_reqs_free(r, nkeys * 2 + 1);
	free(devids);
	return st;
}

enum bde_status
graph_by_device(void *self, const char *name, int flags,
    struct bde_keylist *out, char **errstr)
{
	struct graph *g = self;
	struct devices devs = { NULL, 0, 0 };
	struct graph_req *r = NULL;
	struct graph_key_pages kp;
	enum bde_status st;
	size_t start = out->n, i;
	char *filter, *what = NULL;

	graph_begin(g, 0);
	st = graph_devices_named(g, name, add_device, &devs, errstr);
	if (st != BDE_OK)
		goto out;
	if (devs.n == 0) {
		st = bde_error(errstr, BDE_ENOTFOUND, "no device named '%s' in "
		    "Entra ID", name);
		goto out;
	}
	/* the key lists of every device of that name, batched when several */
	r = calloc(devs.n, sizeof(*r));
	if (r == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < devs.n; i++) {
		filter = graph_filter_eq("deviceId", devs.v[i].device_id);
		if (filter == NULL || asprintf(&r[i].path, KEYS_PATH "?%s",
		    filter) < 0) {
			r[i].path = NULL;
			free(filter);
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		free(filter);
	}
	st = graph_fetch_all(g, r, devs.n, errstr);
	if (st != BDE_OK)
		goto out;
	for (i = 0; i < devs.n; i++) {
		free(what);
		if (asprintf(&what, "listing the recovery keys of device '%s'",
		    devs.v[i].name) < 0) {
			what = NULL;
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		if (r[i].status != 200) {
			st = graph_fail(r[i].status, r[i].body,
			    r[i].request_id, what, NEED_KEYS, errstr);
			goto out;
		}
		memset(&kp, 0, sizeof(kp));
		kp.g = g;
		kp.out = out;
		kp.device = devs.v[i].name;
		/* the first page came in the batch; later pages one by one */
		st = graph_pages(g, NULL, r[i].body, what, NEED_KEYS,
		    graph_key_page, &kp, errstr);
		if (st != BDE_OK)
			goto out;
		bde_json_wipe_delete(r[i].body);
		r[i].body = NULL;
	}
	if (out->n == start) {
		st = bde_error(errstr, BDE_ENOTFOUND, "device '%s' has no "
		    "recovery key in Entra ID", name);
		goto out;
	}
	if (flags & BDE_WANT_PASSWORD)
		st = enrich(g, out, start, 1, 0, errstr);
out:
	free(what);
	graph_reqs_free(r, devs.n);
	devices_free(&devs);
	return st;
}

/* The one key with this whole ID: a single GET. */
static enum bde_status
key_by_guid(struct graph *g, const struct bde_keyid *id,
    struct bde_keylist *out, char **errstr)
{
	struct graph_req r = { NULL, 0, NULL, "" };
	enum bde_status st;
	char guid[BDE_GUID_LEN + 1];
	const char *h = id->hex;

	/* 8-4-4-4-12 from the 32 digits */
	snprintf(guid, sizeof(guid), "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8,
	    h + 12, h + 16, h + 20);
	bde_guid_lower(guid);
	if (asprintf(&r.path, KEYS_PATH "/%s", guid) < 0) {
		r.path = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = graph_fetch_all(g, &r, 1, errstr);
	if (st != BDE_OK)
		goto out;
	if (r.status == 404) {
		st = bde_error(errstr, BDE_ENOTFOUND, "no recovery key with ID "
		    "'%s' in Entra ID", guid);
		goto out;
	}
	if (r.status != 200) {
		st = graph_fail(r.status, r.body, r.request_id,
		    "reading a recovery key", NEED_KEYS, errstr);
		goto out;
	}
	st = graph_add_key(graph_unwrap(r.body), NULL, out, errstr);
out:
	free(r.path);
	bde_json_wipe_delete(r.body);
	return st;
}

enum bde_status
graph_by_keyid(void *self, const struct bde_keyid *id, int flags,
    struct bde_keylist *out, char **errstr)
{
	struct graph *g = self;
	struct graph_key_pages kp;
	enum bde_status st;
	size_t start = out->n;
	char *url = NULL;

	graph_begin(g, 0);
	if (id->len == 32) {
		st = key_by_guid(g, id, out, errstr);
	} else {
		/*
		 * Graph filters keys by deviceId only: a prefix means reading
		 * the whole list, one page at a time, keeping the matches.
		 */
		if (asprintf(&url, "%s" KEYS_PATH, g->v1) < 0) {
			url = NULL;
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		memset(&kp, 0, sizeof(kp));
		kp.g = g;
		kp.out = out;
		kp.match = id;
		st = graph_pages(g, url, NULL, "scanning the recovery keys",
		    NEED_KEYS, graph_key_page, &kp, errstr);
		if (st == BDE_OK && out->n == start)
			st = bde_error(errstr, BDE_ENOTFOUND, "no recovery key "
			    "ID starts with '%s' in Entra ID", id->hex);
	}
	if (st != BDE_OK)
		goto out;
	st = enrich(g, out, start, (flags & BDE_WANT_PASSWORD) != 0, 1,
	    errstr);
out:
	free(url);
	return st;
}
