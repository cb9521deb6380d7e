/*
 * find.c - the three routes to a BEK secret, strongest first: the
 * volume's startup-key protector ID (= the secret's name), ARM's VM or
 * OS disk (the versioned URLs ADE itself uses), and ADE's tags on the
 * vault's secrets (the seed's heuristic, every candidate kept).  No
 * secret value is read here: listings and ARM documents only.
 */
#include "keyvault/kv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *
kv_objid_url(const struct kv_objid *id, const char *kind)
{
	char *s;

	if (asprintf(&s, "%s/%s/%s%s%s", id->origin, kind, id->name,
	    id->version[0] ? "/" : "", id->version) < 0)
		return NULL;
	return s;
}

/* Replace *dst with a copy of src when src is not NULL; -1 no memory. */
static int
take(char **dst, const char *src)
{
	char *c;

	if (src == NULL)
		return 0;
	if ((c = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

enum bde_status
kv_bek_take(struct kv_bek *b, const struct kv_item *it, char **errstr)
{
	struct kv_objid id;
	uint8_t g[16];
	char *url = NULL;

	if (kv_objid_parse(it->id, "secrets", &id) < 0)
		return bde_error(errstr, BDE_EPROTO, "the vault sent a secret "
		    "id that is not a secret URL: '%.200s'", it->id);
	url = kv_objid_url(&id, "secrets");
	if (url == NULL || take(&b->vault, id.origin) < 0 ||
	    take(&b->name, id.name) < 0 ||
	    (id.version[0] && take(&b->version, id.version) < 0) ||
	    take(&b->machine, it->machine) < 0 ||
	    take(&b->volume, it->volume) < 0 ||
	    take(&b->content_type, it->content_type) < 0 ||
	    take(&b->kek_tag, it->kek_url) < 0 ||
	    take(&b->alg, it->alg) < 0) {
		free(url);
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	free(b->secret_url);
	b->secret_url = url;
	/* the name is the key ID when it is a GUID (ADE's are) */
	b->key_id[0] = '\0';
	if (bde_guid_parse(id.name, g) == 0)
		bde_guid_format(g, b->key_id);
	if (it->created > 0)
		b->created = (time_t)it->created;
	if (it->enabled >= 0)
		b->enabled = it->enabled;
	if (it->content_type != NULL)
		b->wrapped = strcasestr(it->content_type, "wrapped") != NULL;
	return BDE_OK;
}

/* Append a zeroed record to l; NULL when out of memory. */
static struct kv_bek *
add(struct kv_beklist *l)
{
	struct kv_bek *v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 8;
		v = reallocarray(l->v, cap, sizeof(*v));
		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	v = &l->v[l->n++];
	memset(v, 0, sizeof(*v));
	v->enabled = -1;
	v->wrapped = -1;
	return v;
}

/* The newest enabled version among the pages of a versions listing. */
struct versions {
	struct kv_bek best;
	long long best_updated;
	int have, count;
};

static enum bde_status
versions_page(const cJSON *value, void *arg, char **errstr)
{
	struct versions *vs = arg;
	struct kv_item it;
	const cJSON *e;
	enum bde_status st;

	cJSON_ArrayForEach(e, value) {
		if (kv_item_parse(e, &it, NULL) != BDE_OK)
			continue;
		vs->count++;
		if (it.enabled == 0)
			continue;
		if (vs->have && (it.created < (long long)vs->best.created ||
		    (it.created == (long long)vs->best.created &&
		    it.updated <= vs->best_updated)))
			continue;
		st = kv_bek_take(&vs->best, &it, errstr);
		if (st != BDE_OK)
			return st;
		vs->best_updated = it.updated;
		vs->have = 1;
	}
	return BDE_OK;
}

/*
 * The newest enabled version of secret name in vault (a base URL) into
 * *out (filled by kv_bek_take; released by the caller).  BDE_ENOTFOUND
 * when the secret has none.
 */
static enum bde_status
newest_enabled(struct kv *kv, const char *vault, const char *name,
    struct kv_bek *out, int *count, char **errstr)
{
	struct versions vs;
	enum bde_status st;
	char *url = NULL, what[300];

	memset(&vs, 0, sizeof(vs));
	vs.best.enabled = -1;
	vs.best.wrapped = -1;
	*count = 0;
	if (asprintf(&url, "%s/secrets/%s/versions?api-version=%s", vault, name,
	    KV_API_VERSION) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "listing the versions of secret %s in "
	    "%s", name, vault);
	st = kv_list(kv, url, what, KV_MAX_VERSIONS, versions_page, &vs,
	    errstr);
	if (st != BDE_OK)
		goto out;
	*count = vs.count;
	if (!vs.have) {
		st = bde_error(errstr, BDE_ENOTFOUND, "secret %s in %s has %d "
		    "version%s, none enabled", name, vault, vs.count,
		    vs.count == 1 ? "" : "s");
		goto out;
	}
	*out = vs.best;
	memset(&vs.best, 0, sizeof(vs.best));
out:
	kv_bek_release(&vs.best);
	free(url);
	return st;
}

enum bde_status
kv_find_by_id(struct kv *kv, const char *key_id, struct kv_beklist *out,
    char **errstr)
{
	struct kv_bek b, *r;
	enum bde_status st;
	char id[BDE_GUID_LEN + 1];
	uint8_t g[16];
	int count;

	memset(&b, 0, sizeof(b));
	if (kv->vault == NULL)
		return bde_error(errstr, BDE_ECONFIG, "no vault: set --vault or "
		    "BDEKEY_VAULT");
	if (bde_guid_parse(key_id, g) < 0)
		return bde_error(errstr, BDE_EUSAGE, "'%s' is not a key ID (a "
		    "GUID)", key_id);
	bde_guid_format(g, id);
	st = newest_enabled(kv, kv->vault, id, &b, &count, errstr);
	if (st != BDE_OK)
		return st;
	b.route = KV_ROUTE_VOLUME;
	b.versions = count;
	if ((r = add(out)) == NULL) {
		kv_bek_release(&b);
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	*r = b;
	return BDE_OK;
}

/* The tags route's state across pages: one of machine and id is set. */
struct tags {
	const char *machine;		/* MachineName, without case */
	const struct bde_keyid *id;	/* the secret name's key ID prefix */
	struct kv_beklist *out;
};

/* Whether a secret URL's name is a GUID starting with the key ID query. */
static int
name_matches(const char *secret_url, const struct bde_keyid *id)
{
	struct kv_objid o;
	char guid[BDE_GUID_LEN + 1];
	uint8_t g[16];

	if (kv_objid_parse(secret_url, "secrets", &o) < 0 ||
	    bde_guid_parse(o.name, g) < 0)
		return 0;
	bde_guid_format(g, guid);
	return bde_keyid_match(id, guid);
}

static enum bde_status
tags_page(const cJSON *value, void *arg, char **errstr)
{
	struct tags *t = arg;
	struct kv_item it;
	struct kv_bek *b;
	const cJSON *e;
	enum bde_status st;

	cJSON_ArrayForEach(e, value) {
		if (kv_item_parse(e, &it, NULL) != BDE_OK)
			continue;
		/* ADE's: "BEK" or "Wrapped BEK"; MachineName without case */
		if (it.content_type == NULL ||
		    strcasestr(it.content_type, "BEK") == NULL)
			continue;
		if (t->machine != NULL && (it.machine == NULL ||
		    strcasecmp(it.machine, t->machine) != 0))
			continue;
		if (t->id != NULL && !name_matches(it.id, t->id))
			continue;
		if ((b = add(t->out)) == NULL)
			return bde_error(errstr, BDE_ENOMEM, "out of memory");
		b->route = t->id != NULL ? KV_ROUTE_VOLUME : KV_ROUTE_TAGS;
		st = kv_bek_take(b, &it, errstr);
		if (st != BDE_OK)
			return st;
	}
	return BDE_OK;
}

/* Grouped by volume letter (none last), enabled first, newest first. */
static int
tags_order(const void *a, const void *b)
{
	const struct kv_bek *x = a, *y = b;
	int c;

	if ((x->volume == NULL) != (y->volume == NULL))
		return x->volume == NULL ? 1 : -1;
	if (x->volume != NULL && (c = strcasecmp(x->volume, y->volume)) != 0)
		return c;
	if ((x->enabled != 0) != (y->enabled != 0))
		return x->enabled != 0 ? -1 : 1;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Whether two candidates are in the same volume group. */
static int
same_group(const struct kv_bek *x, const struct kv_bek *y)
{
	if (x->volume == NULL || y->volume == NULL)
		return x->volume == y->volume;
	return strcasecmp(x->volume, y->volume) == 0;
}

/*
 * The BEK secrets of the vault that t admits, appended to t->out grouped
 * and ordered (see kv_find_by_device); BDE_ENOTFOUND (saying what) when
 * none.
 */
static enum bde_status
list_beks(struct kv *kv, struct tags *t, unsigned flags, char **errstr)
{
	struct kv_beklist *out = t->out;
	struct kv_bek nb, *b;
	enum bde_status st;
	char *url = NULL, *e, what[300];
	size_t first = out->n, i;
	int count;

	if (kv->vault == NULL)
		return bde_error(errstr, BDE_ECONFIG, "no vault: set --vault or "
		    "BDEKEY_VAULT");
	if (asprintf(&url, "%s/secrets?api-version=%s", kv->vault,
	    KV_API_VERSION) < 0)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	snprintf(what, sizeof(what), "listing the secrets of %s", kv->vault);
	st = kv_list(kv, url, what, KV_MAX_ITEMS, tags_page, t, errstr);
	free(url);
	if (st != BDE_OK)
		return st;
	if (out->n == first && t->machine != NULL)
		return bde_error(errstr, BDE_ENOTFOUND, "no BEK secret in %s has "
		    "the tag MachineName '%s' (compared without case)",
		    kv->vault, t->machine);
	if (out->n == first)
		return bde_error(errstr, BDE_ENOTFOUND, "no BEK secret in %s is "
		    "named by a key ID starting %s", kv->vault, t->id->hex);
	/*
	 * A list item is the current version; when that one is disabled,
	 * the newest enabled version stands in for it (one listing).  With
	 * KV_FIND_VERSIONS every candidate gets its versioned URL so.
	 */
	for (i = first; i < out->n; i++) {
		b = &out->v[i];
		if (b->enabled != 0 && !(flags & KV_FIND_VERSIONS))
			continue;
		memset(&nb, 0, sizeof(nb));
		e = NULL;
		st = newest_enabled(kv, b->vault, b->name, &nb, &count, &e);
		/* no enabled version: shown as it is, never chosen */
		if (st == BDE_ENOTFOUND) {
			free(e);
			continue;
		}
		if (st != BDE_OK) {
			if (errstr != NULL)
				*errstr = e;
			else
				free(e);
			return st;
		}
		if (b->enabled == 0)
			kv_note(&nb, "its current version is disabled; version "
			    "%s is the newest enabled one", nb.version);
		nb.route = b->route;
		nb.versions = count;
		kv_bek_release(b);
		*b = nb;
	}
	qsort(out->v + first, out->n - first, sizeof(out->v[0]), tags_order);
	for (i = first; i < out->n; i++)
		out->v[i].newest = out->v[i].enabled != 0 && (i == first ||
		    !same_group(&out->v[i - 1], &out->v[i]));
	return BDE_OK;
}

enum bde_status
kv_find_by_device(struct kv *kv, const char *machine, unsigned flags,
    struct kv_beklist *out, char **errstr)
{
	struct tags t = { machine, NULL, out };

	return list_beks(kv, &t, flags, errstr);
}

enum bde_status
kv_find_by_keyid(struct kv *kv, const struct bde_keyid *id, unsigned flags,
    struct kv_beklist *out, char **errstr)
{
	struct tags t = { NULL, id, out };

	return list_beks(kv, &t, flags, errstr);
}

/* GET an ARM document into rs (200 only). */
static enum bde_status
arm_get(struct kv *kv, const char *url, const char *what,
    struct http_response *rs, char **errstr)
{
	enum bde_status st;

	st = kv_call(kv, KV_ARM, "GET", url, NULL, rs, errstr);
	if (st == BDE_OK && rs->status != 200)
		st = kv_fail(rs->status, rs->json, rs->request_id, what, errstr);
	return st;
}

/* The record for what ARM names (secret and KEK URLs). */
static enum bde_status
from_arm(const struct kv_ade *a, const char *vm, struct kv_bek *b,
    char **errstr)
{
	struct kv_objid sid, kid;
	uint8_t g[16];

	if (kv_objid_parse(a->secret_url, "secrets", &sid) < 0)
		return bde_error(errstr, BDE_EPROTO, "ARM names a secret URL "
		    "that is not one: '%.200s'", a->secret_url);
	if (a->key_url != NULL && kv_objid_parse(a->key_url, "keys", &kid) < 0)
		return bde_error(errstr, BDE_EPROTO, "ARM names a key URL that "
		    "is not one: '%.200s'", a->key_url);
	b->route = KV_ROUTE_ARM;
	b->secret_url = kv_objid_url(&sid, "secrets");
	b->vault = strdup(sid.origin);
	b->name = strdup(sid.name);
	b->version = sid.version[0] ? strdup(sid.version) : NULL;
	b->machine = a->computer != NULL ? strdup(a->computer) : NULL;
	b->vm = strdup(a->vm_id != NULL ? a->vm_id : vm);
	if (a->key_url != NULL) {
		b->kek_url = kv_objid_url(&kid, "keys");
		b->kek_from_arm = 1;
		b->wrapped = 1;
	}
	if (b->secret_url == NULL || b->vault == NULL || b->name == NULL ||
	    (sid.version[0] && b->version == NULL) || b->vm == NULL ||
	    (a->computer != NULL && b->machine == NULL) ||
	    (a->key_url != NULL && b->kek_url == NULL))
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	if (bde_guid_parse(sid.name, g) == 0)
		bde_guid_format(g, b->key_id);
	if (!sid.version[0])
		kv_note(b, "ARM's secret URL has no version: the secret's "
		    "current version is read");
	if (a->enabled == 0)
		kv_note(b, "ARM says these encryption settings are disabled "
		    "(enabled: false); their keys are used all the same");
	return BDE_OK;
}

enum bde_status
kv_find_by_vm(struct kv *kv, const char *resource_group, const char *vm,
    struct kv_beklist *out, char **errstr)
{
	struct http_response rs = { 0 }, drs = { 0 };
	struct kv_ade a, d;
	struct kv_bek *b;
	enum bde_status st;
	char *sub = NULL, *rg = NULL, *name = NULL, *url = NULL, what[400];

	if (kv->subscription == NULL)
		return bde_error(errstr, BDE_ECONFIG, "no subscription: set "
		    "--subscription or BDEKEY_SUBSCRIPTION");
	sub = http_escape(kv->subscription);
	rg = http_escape(resource_group);
	name = http_escape(vm);
	if (sub == NULL || rg == NULL || name == NULL ||
	    asprintf(&url, "%s/subscriptions/%s/resourceGroups/%s/providers/"
	    "Microsoft.Compute/virtualMachines/%s?api-version=%s", kv->arm,
	    sub, rg, name, KV_ARM_VM_API) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "reading VM '%.100s' in resource group "
	    "'%.100s'", vm, resource_group);
	if ((st = arm_get(kv, url, what, &rs, errstr)) != BDE_OK ||
	    (st = kv_vm_parse(rs.json, &a, errstr)) != BDE_OK)
		goto out;
	/* dual pass: on the VM; single pass: on its OS disk only */
	if (a.secret_url == NULL && a.disk_id != NULL) {
		if (!kv_arm_path_ok(a.disk_id)) {
			st = bde_error(errstr, BDE_EPROTO, "ARM names an OS disk "
			    "id that is not one: '%.200s'", a.disk_id);
			goto out;
		}
		free(url);
		if (asprintf(&url, "%s%s?api-version=%s", kv->arm, a.disk_id,
		    KV_ARM_DISK_API) < 0) {
			url = NULL;
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		snprintf(what, sizeof(what), "reading the OS disk of VM "
		    "'%.100s'", vm);
		if ((st = arm_get(kv, url, what, &drs, errstr)) != BDE_OK ||
		    (st = kv_disk_parse(drs.json, &d, errstr)) != BDE_OK)
			goto out;
		a.secret_url = d.secret_url;
		a.key_url = d.key_url;
		a.enabled = d.enabled;
	}
	if (a.secret_url == NULL) {
		st = bde_error(errstr, BDE_ENOTFOUND, "VM '%s' has no Azure Disk "
		    "Encryption settings, on the VM or on its OS disk", vm);
		goto out;
	}
	if ((b = add(out)) == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = from_arm(&a, vm, b, errstr);
	b->dual = a.dual;
	if (st != BDE_OK) {
		kv_bek_release(b);
		out->n--;
	}
out:
	http_response_release(&rs);
	http_response_release(&drs);
	free(sub);
	free(rg);
	free(name);
	free(url);
	return st;
}

enum bde_status
kv_bek_from_url(const char *url, struct kv_bek *out, char **errstr)
{
	struct kv_objid id;
	uint8_t g[16];

	memset(out, 0, sizeof(*out));
	out->enabled = -1;
	out->wrapped = -1;
	if (kv_objid_parse(url, "secrets", &id) < 0)
		return bde_error(errstr, BDE_EUSAGE, "'%s' is not a Key Vault "
		    "secret URL (https://VAULT/secrets/NAME[/VERSION])", url);
	out->route = KV_ROUTE_SECRET;
	out->secret_url = kv_objid_url(&id, "secrets");
	out->vault = strdup(id.origin);
	out->name = strdup(id.name);
	out->version = id.version[0] ? strdup(id.version) : NULL;
	if (out->secret_url == NULL || out->vault == NULL ||
	    out->name == NULL || (id.version[0] && out->version == NULL)) {
		kv_bek_release(out);
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	if (bde_guid_parse(id.name, g) == 0)
		bde_guid_format(g, out->key_id);
	return BDE_OK;
}
