/*
 * escrow.c - the Graph half of `bdekey report`: every Entra device with
 * the metadata of its BitLocker recovery keys (how many, the newest, the
 * volume types), never a password.  Two listings and nothing per device:
 * the pages of recoveryKeys (no $select=key) are folded into a compact
 * join table keyed by deviceId, then the pages of devices are walked and
 * each device becomes one row as its page arrives.  A ReadBasic token
 * (BitlockerKey.ReadBasic.All) is enough.
 *
 * Memory: one page at a time (HTTP_MAX_BODY) plus the table, 24 bytes a
 * slot at most 3/4 full: 32 to 64 bytes a device that has keys, nothing
 * for one without.  Whatever the server sends is checked; what cannot be
 * read is skipped and counted, and the walk ends in BDE_EPROTO saying how
 * much, after the rows it could give.
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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

/* A 64-bit finalizer (MurmurHash3's fmix64): every bit mixes. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The slot to start probing at: the GUID hashed with the table's seed. */
static size_t
slot_of(const struct graph_escrow_table *t, const uint8_t g[16])
{
	uint64_t lo, hi;

	memcpy(&lo, g, 8);
	memcpy(&hi, g + 8, 8);
	return (size_t)(mix64(mix64(lo ^ t->seed[0]) ^ hi ^ t->seed[1]) &
	    (t->cap - 1));
}

static int
slot_used(const struct graph_escrow_slot *s)
{
	/* a slot holds at least one key once used */
	return (s->bits & GRAPH_ESCROW_COUNT_MASK) != 0;
}

void
graph_escrow_table_init(struct graph_escrow_table *t)
{
	memset(t, 0, sizeof(*t));
	/*
	 * A secret seed, so a server cannot choose deviceIds that all probe
	 * the same slots; without the kernel's randomness, something that
	 * varies will do (this guards speed, not secrets).
	 */
	if (getrandom(t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(t->seed)) {
		t->seed[0] = mix64((uint64_t)time(NULL));
		t->seed[1] = mix64((uint64_t)(uintptr_t)t ^ t->seed[0]);
	}
}

void
graph_escrow_table_release(struct graph_escrow_table *t)
{
	free(t->slot);
	t->slot = NULL;
	t->n = t->cap = 0;
}

/* Double the table (or make the first one) and place every slot again. */
static int
table_grow(struct graph_escrow_table *t)
{
	struct graph_escrow_slot *old = t->slot, *s;
	size_t oldcap = t->cap, cap = t->cap ? t->cap * 2 : 1024, i, j;

	s = calloc(cap, sizeof(*s));
	if (s == NULL)
		return -1;
	t->slot = s;
	t->cap = cap;
	for (i = 0; i < oldcap; i++) {
		if (!slot_used(&old[i]))
			continue;
		for (j = slot_of(t, old[i].guid); slot_used(&s[j]);
		    j = (j + 1) & (cap - 1))
			;
		s[j] = old[i];
	}
	free(old);
	return 0;
}

const struct graph_escrow_slot *
graph_escrow_table_find(const struct graph_escrow_table *t,
    const uint8_t guid[16])
{
	size_t i;

	if (t->cap == 0)
		return NULL;
	/* never full (at most 3/4), so a free slot ends every probe */
	for (i = slot_of(t, guid); slot_used(&t->slot[i]);
	    i = (i + 1) & (t->cap - 1))
		if (memcmp(t->slot[i].guid, guid, 16) == 0)
			return &t->slot[i];
	return NULL;
}

int
graph_escrow_table_add(struct graph_escrow_table *t, const uint8_t guid[16],
    time_t created, unsigned vol)
{
	struct graph_escrow_slot *s;
	uint32_t count;
	size_t i;

	s = (struct graph_escrow_slot *)graph_escrow_table_find(t, guid);
	if (s == NULL) {
		if (t->n >= GRAPH_ESCROW_MAX_DEVICES)
			return -2;
		if ((t->n + 1) * 4 > t->cap * 3 && table_grow(t) < 0)
			return -1;
		for (i = slot_of(t, guid); slot_used(&t->slot[i]);
		    i = (i + 1) & (t->cap - 1))
			;
		s = &t->slot[i];
		memcpy(s->guid, guid, 16);
		t->n++;
	}
	count = s->bits & GRAPH_ESCROW_COUNT_MASK;
	/* saturates; GRAPH_MAX_ITEMS keeps a walk far below it */
	if (count < GRAPH_ESCROW_COUNT_MASK)
		count++;
	s->bits = count | ((s->bits >> GRAPH_ESCROW_VOL_SHIFT |
	    (vol & GRAPH_ESCROW_VOL_ALL)) << GRAPH_ESCROW_VOL_SHIFT);
	if (created > 0 && (uint64_t)created <= UINT32_MAX &&
	    (uint32_t)created > s->newest)
		s->newest = (uint32_t)created;
	return 0;
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
	time_t created;
	int r;

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
		r = graph_escrow_table_add(&w->table, dev, created,
		    graph_escrow_volume_bit(cJSON_GetObjectItemCaseSensitive(
		    item, "volumeType")));
		if (r == -1)
			return bde_error(errstr, BDE_ENOMEM, "out of memory");
		if (r < 0)
			return bde_error(errstr, BDE_EPROTO, "listing the "
			    "recovery keys: keys of more than %d devices; "
			    "stopped", GRAPH_ESCROW_MAX_DEVICES);
	}
	return BDE_OK;
}

/*
 * The row of one device object o into e (strings borrowed from o, the
 * device id and volumes into the caller's buffers).  Returns 0, or -1
 * when o is not a device a row can be made of (no name, a deviceId that
 * is not a GUID).  Fields that cannot be read are left empty and counted.
 */
static int
device_row(struct graph_escrow_walk *w, const cJSON *o, struct bde_escrow *e,
    char devid[BDE_GUID_LEN + 1], char *vols, size_t vols_len)
{
	const struct graph_escrow_slot *s = NULL;
	const cJSON *d;
	uint8_t g[16];

	memset(e, 0, sizeof(*e));
	if (!cJSON_IsObject(o) || opt_string(o, "displayName",
	    NAME_MAX_BYTES, &e->name) < 0 || e->name == NULL)
		return -1;
	/* no deviceId (never registered a key): a row without one */
	d = cJSON_GetObjectItemCaseSensitive(o, "deviceId");
	if (d != NULL && !cJSON_IsNull(d)) {
		if (guid_member(o, "deviceId", g) < 0)
			return -1;
		/* lower case, as lookup's device_id (Graph's own form) */
		bde_guid_format(g, devid);
		e->device_id = bde_guid_lower(devid);
		s = graph_escrow_table_find(&w->table, g);
	}
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
	if (s != NULL) {
		e->nkeys = s->bits & GRAPH_ESCROW_COUNT_MASK;
		e->newest = (time_t)s->newest;
		graph_escrow_volumes(s->bits >> GRAPH_ESCROW_VOL_SHIFT, vols,
		    vols_len);
		e->volumes = vols[0] ? vols : NULL;
	}
	return 0;
}

enum bde_status
graph_escrow_device_page(const cJSON *value, void *arg, char **errstr)
{
	struct graph_escrow_walk *w = arg;
	const cJSON *item;
	struct bde_escrow e;
	char devid[BDE_GUID_LEN + 1], vols[64];

	cJSON_ArrayForEach(item, value) {
		w->devices++;
		if (device_row(w, item, &e, devid, vols, sizeof(vols)) < 0) {
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
	graph_escrow_table_init(&w.table);
	w.fn = fn;
	w.arg = arg;
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
