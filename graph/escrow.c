/*
 * escrow.c - the Graph half of `bdekey report`: every Entra device with
 * the metadata of its BitLocker recovery keys (how many, the newest, the
 * volume types), never a password.  Two listings and nothing per device:
 * the pages of recoveryKeys (no $select=key) are folded into a compact
 * join table keyed by deviceId, then the pages of devices are walked and
 * each device becomes one row as its page arrives.  A ReadBasic token
 * (BitlockerKey.ReadBasic.All) is enough.
 *
 * Memory: one page at a time (HTTP_MAX_BODY); the table is on disk
 * (core/scratch.h), so the walk's memory does not grow with the number
 * of devices.  Whatever the server sends is checked; what cannot be
 * read is skipped and counted, and the walk ends in BDE_EPROTO saying how
 * much, after the rows it could give.
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYS_URL "%s/informationProtection/bitlocker/recoveryKeys" \
	"?$select=id,createdDateTime,deviceId,volumeType"
#define DEVICES_URL "%s/devices?$select=id,deviceId,displayName," \
	"operatingSystem,trustType,approximateLastSignInDateTime," \
	"onPremisesSecurityIdentifier&$top=999"

/*
 * Longest strings taken from a device, in bytes: Entra caps displayName
 * at 256 characters (up to 4 bytes each in UTF-8); a SID string has at
 * most 15 sub-authorities (MS-DTYP 2.4.2.1).  Anything longer is not
 * Entra's.
 */
#define NAME_MAX_BYTES 1024
#define OS_MAX_BYTES 256
#define TRUST_MAX_BYTES 64
#define SID_MAX_BYTES 184

/* Volume type names, in the order of their mask bits. */
static const char *const vol_names[] = {
	"operatingSystem", "fixedData", "removableData", "unknown"
};

enum bde_status
graph_escrow_table_init(struct graph_escrow_table *t, char **errstr)
{
	t->max = GRAPH_ESCROW_MAX_DEVICES;
	return bde_dtab_new(16, sizeof(struct graph_escrow_slot), &t->d,
	    errstr);
}

void
graph_escrow_table_release(struct graph_escrow_table *t)
{
	bde_dtab_free(t->d);
	t->d = NULL;
}

enum bde_status
graph_escrow_table_get(struct graph_escrow_table *t, const uint8_t guid[16],
    struct graph_escrow_slot *out, int *found, char **errstr)
{
	return bde_dtab_get(t->d, guid, out, found, errstr);
}

enum bde_status
graph_escrow_table_add(struct graph_escrow_table *t, const uint8_t guid[16],
    time_t created, unsigned vol, char **errstr)
{
	struct graph_escrow_slot s;
	enum bde_status st;
	uint32_t count;
	int found;

	st = bde_dtab_get(t->d, guid, &s, &found, errstr);
	if (st != BDE_OK)
		return st;
	if (!found && bde_dtab_count(t->d) >= t->max)
		return bde_error(errstr, BDE_EPROTO, "listing the recovery "
		    "keys: keys of more than %llu devices; stopped",
		    (unsigned long long)t->max);
	count = s.bits & GRAPH_ESCROW_COUNT_MASK;
	/* saturates; GRAPH_MAX_ITEMS keeps a walk far below it */
	if (count < GRAPH_ESCROW_COUNT_MASK)
		count++;
	s.bits = count | ((s.bits >> GRAPH_ESCROW_VOL_SHIFT |
	    (vol & GRAPH_ESCROW_VOL_ALL)) << GRAPH_ESCROW_VOL_SHIFT);
	if (created > 0 && (uint64_t)created <= UINT32_MAX &&
	    (uint32_t)created > s.newest)
		s.newest = (uint32_t)created;
	return bde_dtab_put(t->d, guid, &s, errstr);
}

unsigned
graph_escrow_volume_bit(const cJSON *volume_type)
{
	const char *name = graph_volume_name(volume_type);
	unsigned i;

	for (i = 0; i < sizeof(vol_names) / sizeof(vol_names[0]); i++)
		if (strcmp(name, vol_names[i]) == 0)
			return 1u << i;
	return GRAPH_VOL_UNKNOWN;
}

size_t
graph_escrow_volumes(unsigned mask, char *buf, size_t len)
{
	size_t n = 0, i;
	int w;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	for (i = 0; i < sizeof(vol_names) / sizeof(vol_names[0]); i++) {
		if (!(mask & (1u << i)))
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n ? "," : "",
		    vol_names[i]);
		if (w < 0 || (size_t)w >= len - n) {
			/* cut at the last whole name */
			buf[n] = '\0';
			break;
		}
		n += (size_t)w;
	}
	return n;
}

int
graph_sid_ok(const char *s)
{
	const char *p;
	unsigned long long v;
	size_t groups = 0, digits;

	/* S-1-<authority, 48 bits>-<sub-authority, 32 bits>{1,15} */
	if (s == NULL || strlen(s) > SID_MAX_BYTES || strncmp(s, "S-1-", 4) != 0)
		return 0;
	for (p = s + 4;; p++) {
		v = 0;
		for (digits = 0; *p >= '0' && *p <= '9'; p++, digits++) {
			if (digits == 15)
				return 0;
			v = v * 10 + (unsigned long long)(*p - '0');
		}
		if (digits == 0 || v > (groups == 0 ? 0xffffffffffffULL :
		    0xffffffffULL))
			return 0;
		groups++;
		if (*p == '\0')
			break;
		if (*p != '-')
			return 0;
	}
	return groups >= 2 && groups <= 16;
}

/*
 * An optional string member: *out is it (borrowed from o), or NULL when
 * absent, null or empty.  Returns 0, or -1 (with *out NULL) when it is of
 * another type or longer than max bytes.
 */
static int
opt_string(const cJSON *o, const char *name, size_t max, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > max)
		return -1;
	if (v->valuestring[0] != '\0')
		*out = v->valuestring;
	return 0;
}

/*
 * An optional date-time member in UTC seconds into *out: 0 when absent
 * or null; -1 (with *out 0) when not a string, not an RFC 3339 time or
 * not after 1970.
 */
static int
opt_time(const cJSON *o, const char *name, time_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	time_t t;

	*out = 0;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > 64 ||
	    graph_parse_time(v->valuestring, &t) < 0 || t <= 0)
		return -1;
	*out = t;
	return 0;
}

/* A whole-GUID member into g.  0, or -1 when absent or not a GUID. */
static int
guid_member(const cJSON *o, const char *name, uint8_t g[16])
{
	const char *s = bde_json_string(o, name);

	if (!graph_guid_ok(s) || bde_guid_parse(s, g) < 0)
		return -1;
	return 0;
}

enum bde_status
graph_escrow_key_page(const cJSON *value, void *arg, char **errstr)
{
	struct graph_escrow_walk *w = arg;
	const cJSON *item;
	uint8_t id[16], dev[16];
	enum bde_status st;
	time_t created;

	cJSON_ArrayForEach(item, value) {
		w->keys++;
		/* no key without its own id and its device's */
		if (!cJSON_IsObject(item) || guid_member(item, "id", id) < 0 ||
		    guid_member(item, "deviceId", dev) < 0) {
			w->bad_keys++;
			continue;
		}
		/* a key whose time cannot be read still counts */
		if (opt_time(item, "createdDateTime", &created) < 0 ||
		    (uint64_t)created > UINT32_MAX) {
			w->bad_fields++;
			created = 0;
		}
		st = graph_escrow_table_add(&w->table, dev, created,
		    graph_escrow_volume_bit(cJSON_GetObjectItemCaseSensitive(
		    item, "volumeType")), errstr);
		if (st != BDE_OK)
			return st;
	}
	return BDE_OK;
}

/*
 * The row of one device object o into e (strings borrowed from o, the
 * device id and volumes into the caller's buffers); *skip set when o is
 * not a device a row can be made of (no name, a deviceId that is not a
 * GUID).  Fields that cannot be read are left empty and counted.
 * BDE_OK, or the table's errors.
 */
static enum bde_status
device_row(struct graph_escrow_walk *w, const cJSON *o, struct bde_escrow *e,
    char devid[BDE_GUID_LEN + 1], char *vols, size_t vols_len, int *skip,
    char **errstr)
{
	struct graph_escrow_slot s = { 0, 0 };
	const cJSON *d;
	enum bde_status st;
	uint8_t g[16];
	int found = 0;

	memset(e, 0, sizeof(*e));
	*skip = 1;
	if (!cJSON_IsObject(o) || opt_string(o, "displayName",
	    NAME_MAX_BYTES, &e->name) < 0 || e->name == NULL)
		return BDE_OK;
	/* no deviceId (never registered a key): a row without one */
	d = cJSON_GetObjectItemCaseSensitive(o, "deviceId");
	if (d != NULL && !cJSON_IsNull(d)) {
		if (guid_member(o, "deviceId", g) < 0)
			return BDE_OK;
		/* lower case, as lookup's device_id (Graph's own form) */
		bde_guid_format(g, devid);
		e->device_id = bde_guid_lower(devid);
		st = graph_escrow_table_get(&w->table, g, &s, &found, errstr);
		if (st != BDE_OK)
			return st;
	}
	*skip = 0;
	if (opt_string(o, "operatingSystem", OS_MAX_BYTES, &e->os) < 0)
		w->bad_fields++;
	if (opt_string(o, "trustType", TRUST_MAX_BYTES, &e->trust) < 0)
		w->bad_fields++;
	if (opt_string(o, "onPremisesSecurityIdentifier", SID_MAX_BYTES,
	    &e->sid) < 0 || (e->sid != NULL && !graph_sid_ok(e->sid))) {
		w->bad_fields++;
		e->sid = NULL;
	}
	if (opt_time(o, "approximateLastSignInDateTime", &e->last_seen) < 0)
		w->bad_fields++;
	if (found) {
		e->nkeys = s.bits & GRAPH_ESCROW_COUNT_MASK;
		e->newest = (time_t)s.newest;
		graph_escrow_volumes(s.bits >> GRAPH_ESCROW_VOL_SHIFT, vols,
		    vols_len);
		e->volumes = vols[0] ? vols : NULL;
	}
	return BDE_OK;
}

enum bde_status
graph_escrow_device_page(const cJSON *value, void *arg, char **errstr)
{
	struct graph_escrow_walk *w = arg;
	const cJSON *item;
	struct bde_escrow e;
	enum bde_status st;
	char devid[BDE_GUID_LEN + 1], vols[64];
	int skip;

	cJSON_ArrayForEach(item, value) {
		w->devices++;
		st = device_row(w, item, &e, devid, vols, sizeof(vols), &skip,
		    errstr);
		if (st != BDE_OK)
			return st;
		if (skip) {
			w->bad_devices++;
			continue;
		}
		if (w->fn(w->arg, &e) != 0)
			return bde_error(errstr, BDE_EIO, "stopped");
		w->rows++;
	}
	return BDE_OK;
}

/* What was skipped or left empty, as the walk's error; BDE_OK if nothing. */
static enum bde_status
walk_flaws(const struct graph_escrow_walk *w, char **errstr)
{
	if (w->bad_keys == 0 && w->bad_devices == 0 && w->bad_fields == 0)
		return BDE_OK;
	return bde_error(errstr, BDE_EPROTO, "the report is incomplete: Graph "
	    "sent %lu recovery key%s and %lu device%s that could not be read "
	    "(skipped: no GUID id or deviceId, no name, not an object) and "
	    "%lu field%s that could not be read (left empty: times, SIDs, "
	    "strings)", w->bad_keys, w->bad_keys == 1 ? "" : "s",
	    w->bad_devices, w->bad_devices == 1 ? "" : "s", w->bad_fields,
	    w->bad_fields == 1 ? "" : "s");
}

enum bde_status
graph_escrow(void *self, bde_escrow_fn fn, void *arg, char **errstr)
{
	struct graph *g = self;
	struct graph_escrow_walk w;
	enum bde_status st;
	char *keys_url = NULL, *devices_url = NULL;

	memset(&w, 0, sizeof(w));
	w.fn = fn;
	w.arg = arg;
	st = graph_escrow_table_init(&w.table, errstr);
	if (st != BDE_OK)
		goto out;
	/* lookups' scopes: BitlockerKey.ReadBasic.All is enough for these */
	graph_begin(g, 0);
	if (asprintf(&keys_url, KEYS_URL, g->v1) < 0)
		keys_url = NULL;
	if (asprintf(&devices_url, DEVICES_URL, g->v1) < 0)
		devices_url = NULL;
	if (keys_url == NULL || devices_url == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	/*
	 * Every key first (no row is right before its device's keys are
	 * all counted), then the devices, one row each as its page comes.
	 */
	st = graph_pages(g, keys_url, NULL, "listing the recovery keys",
	    NEED_KEYS, graph_escrow_key_page, &w, errstr);
	if (st != BDE_OK)
		goto out;
	st = graph_pages(g, devices_url, NULL, "listing the devices",
	    NEED_DEVICES, graph_escrow_device_page, &w, errstr);
	if (st != BDE_OK)
		goto out;
	st = walk_flaws(&w, errstr);
out:
	free(keys_url);
	free(devices_url);
	graph_escrow_table_release(&w.table);
	return st;
}
