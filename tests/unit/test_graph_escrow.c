/*
 * test_graph_escrow.c - the Graph half of `bdekey report` without a
 * server: the deviceId join table (counts, newest, volume masks, growth,
 * its cap, its size per device), volume type names, SID strings, and the
 * two page handlers with what a hostile server may put in a page (wrong
 * types, bad GUIDs, bad times, over-long strings), rows and stopping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <cJSON.h>

#include "graph/graph_int.h"

/* Parse JSON text that the test knows is valid. */
static cJSON *
json(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	if (j == NULL)
		fail_msg("bad test JSON: %s", text);
	return j;
}

/* Device GUID number i: distinct for every i, spread like real ones. */
static void
guid_n(uint32_t i, uint8_t g[16])
{
	uint32_t x = i * 2654435761u;

	memset(g, 0, 16);
	memcpy(g, &i, 4);
	memcpy(g + 8, &x, 4);
	g[6] = 0x40;
	g[15] = (uint8_t)(i >> 24) ^ 0x5a;
}

static uint32_t
count_of(const struct graph_escrow_slot *s)
{
	return s->bits & GRAPH_ESCROW_COUNT_MASK;
}

static unsigned
vols_of(const struct graph_escrow_slot *s)
{
	return s->bits >> GRAPH_ESCROW_VOL_SHIFT;
}

static void
init(struct graph_escrow_table *t)
{
	char *err = NULL;

	assert_int_equal(graph_escrow_table_init(t, &err), BDE_OK);
	assert_null(err);
}

/* add: 0 (BDE_OK) or the status */
static int
add(struct graph_escrow_table *t, const uint8_t g[16], time_t created,
    unsigned vol)
{
	char *err = NULL;
	int st = (int)graph_escrow_table_add(t, g, created, vol, &err);

	free(err);
	return st;
}

/* What t holds for g into *s: 1, or 0 when nothing. */
static int
find(struct graph_escrow_table *t, const uint8_t g[16],
    struct graph_escrow_slot *s)
{
	char *err = NULL;
	int found = -1;

	assert_int_equal(graph_escrow_table_get(t, g, s, &found, &err),
	    BDE_OK);
	assert_null(err);
	return found;
}

/* Counts, newest, volume masks; growth (50,000 devices on disk). */
static void
test_table(void **state)
{
	struct graph_escrow_table t;
	struct graph_escrow_slot s;
	uint8_t g[16];
	uint32_t i, n = 50000;

	(void)state;
	init(&t);
	guid_n(1, g);
	assert_int_equal(find(&t, g, &s), 0);
	for (i = 0; i < n; i++) {
		guid_n(i, g);
		/* device i has i % 5 + 1 keys, the newest at 1e9 + i */
		for (uint32_t k = 0; k <= i % 5; k++)
			assert_int_equal(add(&t, g,
			    (time_t)(1000000000 + i - k),
			    k % 2 ? GRAPH_VOL_FIXED : GRAPH_VOL_OS), 0);
	}
	assert_int_equal(bde_dtab_count(t.d), n);
	for (i = 0; i < n; i++) {
		guid_n(i, g);
		assert_int_equal(find(&t, g, &s), 1);
		assert_int_equal(count_of(&s), i % 5 + 1);
		assert_int_equal(s.newest, 1000000000 + i);
		assert_int_equal(vols_of(&s), i % 5 ? GRAPH_VOL_OS |
		    GRAPH_VOL_FIXED : GRAPH_VOL_OS);
	}
	guid_n(n + 7, g);
	assert_int_equal(find(&t, g, &s), 0);
	assert_int_equal(s.bits, 0);
	graph_escrow_table_release(&t);
	assert_null(t.d);
	graph_escrow_table_release(&t);
}

/* Unknown and out-of-range times never become the newest. */
static void
test_table_times(void **state)
{
	struct graph_escrow_table t;
	struct graph_escrow_slot s;
	uint8_t g[16];

	(void)state;
	init(&t);
	guid_n(42, g);
	assert_int_equal(add(&t, g, 0, GRAPH_VOL_OS), 0);
	assert_int_equal(find(&t, g, &s), 1);
	assert_int_equal(s.newest, 0);
	assert_int_equal(add(&t, g, -5, 0), 0);
	assert_int_equal(add(&t, g, (time_t)UINT32_MAX + 1, 0), 0);
	assert_int_equal(find(&t, g, &s), 1);
	assert_int_equal(s.newest, 0);
	assert_int_equal(count_of(&s), 3);
	assert_int_equal(add(&t, g, 1700000000, 0), 0);
	assert_int_equal(add(&t, g, 1600000000, GRAPH_VOL_REMOVABLE | 0xf0), 0);
	assert_int_equal(find(&t, g, &s), 1);
	assert_int_equal(s.newest, 1700000000);
	assert_int_equal(count_of(&s), 5);
	/* bits outside the mask are dropped, the count is untouched */
	assert_int_equal(vols_of(&s), GRAPH_VOL_OS | GRAPH_VOL_REMOVABLE);
	graph_escrow_table_release(&t);
}

/* Full: a new device is refused, known ones still count. */
static void
test_table_cap(void **state)
{
	struct graph_escrow_table t;
	struct graph_escrow_slot s;
	uint8_t g[16], h[16];

	(void)state;
	init(&t);
	assert_int_equal(t.max, GRAPH_ESCROW_MAX_DEVICES);
	guid_n(1, g);
	guid_n(2, h);
	assert_int_equal(add(&t, g, 1, 1), 0);
	t.max = 1;	/* as if full */
	assert_int_equal(add(&t, h, 1, 1), BDE_EPROTO);
	assert_int_equal(find(&t, h, &s), 0);
	assert_int_equal(add(&t, g, 1, 1), 0);
	assert_int_equal(find(&t, g, &s), 1);
	assert_int_equal(count_of(&s), 2);
	graph_escrow_table_release(&t);
}

static void
test_volumes(void **state)
{
	static const struct {
		const char *vt;
		unsigned bit;
	} vt[] = {
		{ "1", GRAPH_VOL_OS }, { "\"1\"", GRAPH_VOL_OS },
		{ "\"operatingSystemVolume\"", GRAPH_VOL_OS },
		{ "2", GRAPH_VOL_FIXED }, { "\"fixedDataVolume\"", GRAPH_VOL_FIXED },
		{ "\"3\"", GRAPH_VOL_REMOVABLE },
		{ "\"removableDataVolume\"", GRAPH_VOL_REMOVABLE },
		{ "4", GRAPH_VOL_UNKNOWN }, { "\"unknownFutureValue\"", GRAPH_VOL_UNKNOWN },
		{ "0", GRAPH_VOL_UNKNOWN }, { "null", GRAPH_VOL_UNKNOWN },
		{ "{}", GRAPH_VOL_UNKNOWN }, { "1.5", GRAPH_VOL_UNKNOWN },
		{ "\"1 \"", GRAPH_VOL_UNKNOWN },
	};
	char buf[64], small[20];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vt) / sizeof(vt[0]); i++) {
		cJSON *v = json(vt[i].vt);

		assert_int_equal(graph_escrow_volume_bit(v), vt[i].bit);
		cJSON_Delete(v);
	}
	assert_int_equal(graph_escrow_volume_bit(NULL), GRAPH_VOL_UNKNOWN);
	assert_int_equal(graph_escrow_volumes(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	graph_escrow_volumes(GRAPH_VOL_OS, buf, sizeof(buf));
	assert_string_equal(buf, "operatingSystem");
	graph_escrow_volumes(GRAPH_VOL_FIXED | GRAPH_VOL_OS, buf, sizeof(buf));
	assert_string_equal(buf, "operatingSystem,fixedData");
	assert_int_equal(graph_escrow_volumes(GRAPH_ESCROW_VOL_ALL, buf,
	    sizeof(buf)), strlen("operatingSystem,fixedData,removableData,"
	    "unknown"));
	assert_string_equal(buf, "operatingSystem,fixedData,removableData,"
	    "unknown");
	/* cut at a whole name */
	graph_escrow_volumes(GRAPH_ESCROW_VOL_ALL, small, sizeof(small));
	assert_string_equal(small, "operatingSystem");
	assert_int_equal(graph_escrow_volumes(1, small, 0), 0);
}

static void
test_sid(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} c[] = {
		{ "S-1-5-21-3623811015-3361044348-30300820-1013", 1 },
		{ "S-1-5-18", 1 },
		{ "S-1-281474976710655-4294967295", 1 },
		{ "S-1-281474976710656-1", 0 },	/* authority past 48 bits */
		{ "S-1-5-4294967296", 0 },	/* sub-authority past 32 */
		{ "S-1-5", 0 },			/* no sub-authority */
		{ "S-1-5-", 0 }, { "S-1-5--1", 0 }, { "S-1-5-1-", 0 },
		{ "s-1-5-18", 0 }, { "S-2-5-18", 0 }, { "S-1-5-18 ", 0 },
		{ "S-1-5-0x12", 0 }, { "", 0 }, { "S-1-", 0 },
		{ "S-1-5-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1", 1 },	/* 15 */
		{ "S-1-5-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1", 0 },	/* 16 */
		{ "S-1-5-0000000000000000001", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (graph_sid_ok(c[i].s) != c[i].ok)
			fail_msg("SID '%s': expected %d", c[i].s, c[i].ok);
	assert_false(graph_sid_ok(NULL));
}

#define DEV_A "e3613df8-56e3-4980-95bc-aa15f79de39f"
#define DEV_A_UP "E3613DF8-56E3-4980-95BC-AA15F79DE39F"
#define DEV_B "5840750e-9b5f-413b-9413-4c392c07ca35"
#define DEV_B_UP "5840750E-9B5F-413B-9413-4C392C07CA35"
#define DEV_C "794ae8e4-e530-47e2-910a-058b59cf7016"
#define KEY(n) "1a2b3c4d-5e6f-4a70-8b91-c2d3e4f5a6" n

/* Keys of a hostile page: what counts, what is skipped or left out. */
static void
test_key_page(void **state)
{
	struct graph_escrow_walk w;
	struct graph_escrow_slot s;
	uint8_t g[16];
	char *err = NULL;
	cJSON *page = json("[\n"
	    "{\"id\":\"" KEY("b1") "\",\"deviceId\":\"" DEV_A "\","
	    "\"createdDateTime\":\"2024-01-15T09:30:12Z\",\"volumeType\":1},\n"
	    "{\"id\":\"" KEY("b2") "\",\"deviceId\":\"" DEV_A "\","
	    "\"createdDateTime\":\"2025-03-02T14:05:41.1234567Z\","
	    "\"volumeType\":\"fixedDataVolume\"},\n"
	    /* upper case is the same device */
	    "{\"id\":\"" KEY("b3") "\",\"deviceId\":\"" DEV_A_UP "\","
	    "\"createdDateTime\":\"2024-06-20T08:00:00+02:00\","
	    "\"volumeType\":\"3\"},\n"
	    /* a bad time: counted, not newest */
	    "{\"id\":\"" KEY("b4") "\",\"deviceId\":\"" DEV_B "\","
	    "\"createdDateTime\":\"2099-13-01T00:00:00Z\",\"volumeType\":4},\n"
	    "{\"id\":\"" KEY("b5") "\",\"deviceId\":\"" DEV_B "\","
	    "\"createdDateTime\":17,\"volumeType\":null},\n"
	    "{\"id\":\"" KEY("b6") "\",\"deviceId\":\"" DEV_B "\","
	    "\"createdDateTime\":null},\n"
	    "{\"id\":\"" KEY("b7") "\",\"deviceId\":\"" DEV_B "\","
	    "\"createdDateTime\":\"1969-12-31T23:59:59Z\"},\n"
	    /* skipped: no deviceId, a bad one, a bad id, not an object */
	    "{\"id\":\"" KEY("c1") "\"},\n"
	    "{\"id\":\"" KEY("c2") "\",\"deviceId\":\"{" DEV_C "}\"},\n"
	    "{\"id\":\"" KEY("c3") "\",\"deviceId\":\"" DEV_C "x\"},\n"
	    "{\"id\":\"" KEY("c4") "\",\"deviceId\":7},\n"
	    "{\"id\":\"nope\",\"deviceId\":\"" DEV_C "\"},\n"
	    "{\"deviceId\":\"" DEV_C "\"},\n"
	    "\"" DEV_C "\", 5, null, []\n"
	    "]");

	(void)state;
	memset(&w, 0, sizeof(w));
	init(&w.table);
	assert_int_equal(graph_escrow_key_page(page, &w, &err), BDE_OK);
	assert_null(err);
	assert_int_equal(w.keys, 17);
	assert_int_equal(w.bad_keys, 10);
	assert_int_equal(w.bad_fields, 3);	/* 2099-13, 17, 1969 */
	assert_int_equal(bde_dtab_count(w.table.d), 2);
	assert_int_equal(bde_guid_parse(DEV_A, g), 0);
	assert_int_equal(find(&w.table, g, &s), 1);
	assert_int_equal(count_of(&s), 3);
	assert_int_equal(s.newest, 1740924341);	/* 2025-03-02T14:05:41Z */
	assert_int_equal(vols_of(&s), GRAPH_VOL_OS | GRAPH_VOL_FIXED |
	    GRAPH_VOL_REMOVABLE);
	assert_int_equal(bde_guid_parse(DEV_B, g), 0);
	assert_int_equal(find(&w.table, g, &s), 1);
	assert_int_equal(count_of(&s), 4);
	assert_int_equal(s.newest, 0);
	assert_int_equal(vols_of(&s), GRAPH_VOL_UNKNOWN);
	assert_int_equal(bde_guid_parse(DEV_C, g), 0);
	assert_int_equal(find(&w.table, g, &s), 0);
	/* an empty page is fine */
	cJSON_Delete(page);
	page = json("[]");
	assert_int_equal(graph_escrow_key_page(page, &w, &err), BDE_OK);
	cJSON_Delete(page);
	graph_escrow_table_release(&w.table);
}

/* Copies of the rows a walk gave. */
struct rows {
	char line[16][400];
	size_t n;
	size_t stop_at;		/* fn returns 1 on this row (1-based) */
};

static int
take_row(void *arg, const struct bde_escrow *e)
{
	struct rows *r = arg;

	if (r->n >= 16)
		fail_msg("too many rows");
	assert_null(e->dn);
	snprintf(r->line[r->n], sizeof(r->line[0]),
	    "%s|%s|%s|%s|%s|%lld|%u|%lld|%s", e->name,
	    e->device_id ? e->device_id : "-", e->sid ? e->sid : "-",
	    e->os ? e->os : "-", e->trust ? e->trust : "-",
	    (long long)e->last_seen, e->nkeys, (long long)e->newest,
	    e->volumes ? e->volumes : "-");
	r->n++;
	return r->stop_at == r->n;
}

static void
test_device_page(void **state)
{
	struct graph_escrow_walk w;
	struct rows r;
	char *err = NULL, *big;
	cJSON *keys = json("["
	    "{\"id\":\"" KEY("b1") "\",\"deviceId\":\"" DEV_A "\","
	    "\"createdDateTime\":\"2024-01-15T09:30:12Z\",\"volumeType\":1},"
	    "{\"id\":\"" KEY("b2") "\",\"deviceId\":\"" DEV_A "\","
	    "\"createdDateTime\":\"2024-01-16T09:30:12Z\",\"volumeType\":2}]");
	cJSON *devs = json("[\n"
	    "{\"id\":\"x\",\"deviceId\":\"" DEV_A "\",\"displayName\":\"PC-A\","
	    "\"operatingSystem\":\"Windows\",\"trustType\":\"ServerAd\","
	    "\"approximateLastSignInDateTime\":\"2025-05-30T07:45:00Z\","
	    "\"onPremisesSecurityIdentifier\":\"S-1-5-21-1-2-3-1104\"},\n"
	    /* no keys; null fields */
	    "{\"deviceId\":\"" DEV_B "\",\"displayName\":\"PC-B\","
	    "\"operatingSystem\":null,\"trustType\":\"\","
	    "\"approximateLastSignInDateTime\":null,"
	    "\"onPremisesSecurityIdentifier\":null},\n"
	    /* fields that cannot be read: left empty, counted (5) */
	    "{\"deviceId\":\"" DEV_C "\",\"displayName\":\"PC-C\","
	    "\"operatingSystem\":5,\"trustType\":[],"
	    "\"approximateLastSignInDateTime\":\"yesterday\","
	    "\"onPremisesSecurityIdentifier\":\"S-1-5-21-x\"},\n"
	    "{\"deviceId\":\"" DEV_C "\",\"displayName\":\"PC-D\","
	    "\"approximateLastSignInDateTime\":\"\"},\n"
	    /* no deviceId at all: a row without one */
	    "{\"displayName\":\"PC-E\"},\n"
	    /* skipped: no name, an empty one, a bad deviceId, not objects */
	    "{\"deviceId\":\"" DEV_A "\"},\n"
	    "{\"deviceId\":\"" DEV_A "\",\"displayName\":\"\"},\n"
	    "{\"deviceId\":\"" DEV_A "\",\"displayName\":7},\n"
	    "{\"deviceId\":\"not-a-guid\",\"displayName\":\"PC-F\"},\n"
	    "{\"deviceId\":\"{" DEV_A "}\",\"displayName\":\"PC-G\"},\n"
	    "\"PC-H\", 1, null\n"
	    "]");

	(void)state;
	memset(&w, 0, sizeof(w));
	memset(&r, 0, sizeof(r));
	init(&w.table);
	w.fn = take_row;
	w.arg = &r;
	assert_int_equal(graph_escrow_key_page(keys, &w, &err), BDE_OK);
	assert_int_equal(graph_escrow_device_page(devs, &w, &err), BDE_OK);
	assert_null(err);
	assert_int_equal(r.n, 5);
	assert_int_equal(w.rows, 5);
	assert_int_equal(w.devices, 13);
	assert_int_equal(w.bad_devices, 8);
	assert_int_equal(w.bad_fields, 5);
	assert_string_equal(r.line[0], "PC-A|" DEV_A "|S-1-5-21-1-2-3-1104|"
	    "Windows|ServerAd|1748591100|2|1705397412|"
	    "operatingSystem,fixedData");
	assert_string_equal(r.line[1], "PC-B|" DEV_B "|-|-|-|0|0|0|-");
	assert_string_equal(r.line[2], "PC-C|" DEV_C "|-|-|-|0|0|0|-");
	assert_string_equal(r.line[3], "PC-D|" DEV_C "|-|-|-|0|0|0|-");
	assert_string_equal(r.line[4], "PC-E|-|-|-|-|0|0|0|-");

	/* over-long strings are not Entra's */
	big = malloc(2000);
	assert_non_null(big);
	memset(big, 'A', 1999);
	big[1999] = '\0';
	cJSON_Delete(devs);
	devs = cJSON_CreateArray();
	for (int i = 0; i < 3; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "deviceId", DEV_B);
		cJSON_AddStringToObject(o, "displayName", i == 0 ? big : "PC");
		if (i == 1)
			cJSON_AddStringToObject(o, "operatingSystem", big);
		if (i == 2)
			cJSON_AddStringToObject(o, "onPremisesSecurityIdentifier",
			    big);
		cJSON_AddItemToArray(devs, o);
	}
	memset(&r, 0, sizeof(r));
	w.bad_devices = w.bad_fields = 0;
	assert_int_equal(graph_escrow_device_page(devs, &w, &err), BDE_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(w.bad_devices, 1);
	assert_int_equal(w.bad_fields, 2);
	assert_string_equal(r.line[0], "PC|" DEV_B "|-|-|-|0|0|0|-");
	free(big);
	cJSON_Delete(devs);
	cJSON_Delete(keys);
	graph_escrow_table_release(&w.table);
}

/* fn returning non-zero stops the walk: the rows given stand. */
static void
test_device_stop(void **state)
{
	struct graph_escrow_walk w;
	struct rows r;
	char *err = NULL;
	cJSON *devs = json("[{\"displayName\":\"ONE\"},"
	    "{\"displayName\":\"TWO\"},{\"displayName\":\"THREE\"}]");

	(void)state;
	memset(&w, 0, sizeof(w));
	memset(&r, 0, sizeof(r));
	init(&w.table);
	w.fn = take_row;
	w.arg = &r;
	r.stop_at = 2;
	assert_int_equal(graph_escrow_device_page(devs, &w, &err), BDE_EIO);
	assert_string_equal(err, "stopped");
	assert_int_equal(r.n, 2);
	assert_int_equal(w.rows, 1);
	free(err);
	cJSON_Delete(devs);
	graph_escrow_table_release(&w.table);
}

/* A key page past the device cap stops with BDE_EPROTO. */
static void
test_key_page_cap(void **state)
{
	struct graph_escrow_walk w;
	char *err = NULL;
	cJSON *page = json("[{\"id\":\"" KEY("b1") "\",\"deviceId\":\"" DEV_A
	    "\"}]");

	(void)state;
	memset(&w, 0, sizeof(w));
	init(&w.table);
	w.table.max = 0;	/* as if full */
	assert_int_equal(graph_escrow_key_page(page, &w, &err), BDE_EPROTO);
	assert_non_null(strstr(err, "keys of more than 0 devices"));
	free(err);
	cJSON_Delete(page);
	graph_escrow_table_release(&w.table);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_times),
		cmocka_unit_test(test_table_cap),
		cmocka_unit_test(test_volumes),
		cmocka_unit_test(test_sid),
		cmocka_unit_test(test_key_page),
		cmocka_unit_test(test_device_page),
		cmocka_unit_test(test_device_stop),
		cmocka_unit_test(test_key_page_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
