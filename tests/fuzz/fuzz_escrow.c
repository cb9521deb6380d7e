/*
 * fuzz_escrow.c - libFuzzer target for what `bdekey report` reads from
 * Microsoft Graph (graph/escrow.c), without I/O.  The first input byte
 * picks the handler, the rest is its input:
 *
 *   0  recoveryKeys page   graph_page_parts + graph_escrow_key_page
 *   1  devices page        graph_page_parts + graph_escrow_device_page,
 *                          joined with a fixed key page
 *   2  both                a key page, a NUL byte, a device page
 *   3  SID string          graph_sid_ok
 *
 * Properties beyond "no crash, no undefined behaviour": every key that
 * was not skipped is counted exactly once in the table, no slot is empty
 * or has volume bits it was not given; every row has a name, a lower
 * case canonical device id or none, a valid SID or none, volumes only of
 * the four names and exactly when it has keys, and the key count the
 * table holds; rows plus skipped devices are the devices read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A key page every device page of handler 1 is joined with. */
static const char fixed_keys[] = "{\"value\":["
    "{\"id\":\"1a2b3c4d-5e6f-4a70-8b91-c2d3e4f5a6b7\","
    "\"deviceId\":\"e3613df8-56e3-4980-95bc-aa15f79de39f\","
    "\"createdDateTime\":\"2024-01-15T09:30:12Z\",\"volumeType\":1},"
    "{\"id\":\"82f83123-e91c-4b96-a867-a588c83f0ecd\","
    "\"deviceId\":\"5840750e-9b5f-413b-9413-4c392c07ca35\","
    "\"createdDateTime\":\"2025-03-02T14:05:41Z\",\"volumeType\":\"2\"}]}";

/* The page's value array (NULL when graph_page_parts refuses it). */
static const cJSON *
value_of(const cJSON *doc)
{
	const cJSON *value;
	const char *next;
	char *err = NULL;

	if (graph_page_parts(doc, "fuzz", "-", &value, &next, &err) !=
	    BDE_OK)
		value = NULL;
	free(err);
	return value;
}

/* What check_table's visit adds up. */
struct tally {
	struct graph_escrow_walk *w;
	unsigned long total, used;
};

static int
visit(const void *key, const void *val, void *arg)
{
	struct tally *t = arg;
	struct graph_escrow_slot s, again;
	uint32_t n;
	char *err = NULL;
	int found = 0;

	memcpy(&s, val, sizeof(s));
	n = s.bits & GRAPH_ESCROW_COUNT_MASK;
	/* a device is there because a key counted it */
	if (n == 0)
		abort();
	t->used++;
	t->total += n;
	if (graph_escrow_table_get(&t->w->table, key, &again, &found, &err) !=
	    BDE_OK || !found || memcmp(&again, &s, sizeof(s)) != 0)
		abort();
	free(err);
	/* a key without a volumeType still sets "unknown" */
	if ((s.bits >> GRAPH_ESCROW_VOL_SHIFT) == 0)
		abort();
	return 0;
}

static void
check_table(struct graph_escrow_walk *w)
{
	struct tally t = { .w = w };
	char *err = NULL;

	if (bde_dtab_each(w->table.d, visit, &t, &err) != BDE_OK)
		abort();
	if (t.used != bde_dtab_count(w->table.d) ||
	    t.total != w->keys - w->bad_keys)
		abort();
}

static int
row(void *arg, const struct bde_escrow *e)
{
	struct graph_escrow_walk *w = arg;
	struct graph_escrow_slot s = { 0, 0 };
	char canon[BDE_GUID_LEN + 1], vols[64], *p, *save = NULL, *err = NULL;
	uint8_t g[16];
	int found = 0;

	if (e->name == NULL || e->name[0] == '\0' || strlen(e->name) > 1024)
		abort();
	if (e->device_id != NULL) {
		if (bde_guid_parse(e->device_id, g) < 0)
			abort();
		bde_guid_format(g, canon);
		if (strcmp(bde_guid_lower(canon), e->device_id) != 0)
			abort();
		if (graph_escrow_table_get(&w->table, g, &s, &found, &err) !=
		    BDE_OK)
			abort();
	}
	if (e->sid != NULL && !graph_sid_ok(e->sid))
		abort();
	if (e->dn != NULL || e->last_seen < 0 || e->newest < 0)
		abort();
	if (e->nkeys != (found ? (s.bits & GRAPH_ESCROW_COUNT_MASK) : 0))
		abort();
	if ((e->nkeys > 0) != (e->volumes != NULL))
		abort();
	if (e->volumes != NULL) {
		snprintf(vols, sizeof(vols), "%s", e->volumes);
		for (p = strtok_r(vols, ",", &save); p != NULL;
		    p = strtok_r(NULL, ",", &save))
			if (strcmp(p, "operatingSystem") != 0 &&
			    strcmp(p, "fixedData") != 0 &&
			    strcmp(p, "removableData") != 0 &&
			    strcmp(p, "unknown") != 0)
				abort();
	}
	/* stop now and then: the walk must say so */
	return e->name[0] == '!';
}

static void
walk(const uint8_t *keys, size_t nkeys, const uint8_t *devs, size_t ndevs)
{
	struct graph_escrow_walk w;
	cJSON *kdoc = cJSON_ParseWithLength((const char *)keys, nkeys);
	cJSON *ddoc = devs ? cJSON_ParseWithLength((const char *)devs, ndevs) :
	    NULL;
	const cJSON *kv = value_of(kdoc), *dv = devs ? value_of(ddoc) : NULL;
	enum bde_status st;
	char *err = NULL;

	memset(&w, 0, sizeof(w));
	if (graph_escrow_table_init(&w.table, &err) != BDE_OK)
		abort();
	w.fn = row;
	w.arg = &w;
	if (kv != NULL && graph_escrow_key_page(kv, &w, &err) == BDE_OK) {
		check_table(&w);
		if (dv != NULL) {
			st = graph_escrow_device_page(dv, &w, &err);
			if (st == BDE_OK && w.rows + w.bad_devices !=
			    w.devices)
				abort();
			if (st == BDE_EIO && (err == NULL ||
			    strcmp(err, "stopped") != 0))
				abort();
			if (st != BDE_OK && st != BDE_EIO)
				abort();
		}
	}
	free(err);
	graph_escrow_table_release(&w.table);
	cJSON_Delete(kdoc);
	cJSON_Delete(ddoc);
}

static void
sid(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	size_t i;

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	if (graph_sid_ok(s)) {
		if (strncmp(s, "S-1-", 4) != 0 || strlen(s) > 184)
			abort();
		for (i = 4; s[i] != '\0'; i++)
			if ((s[i] < '0' || s[i] > '9') && s[i] != '-')
				abort();
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;

	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		walk(data + 1, size - 1, NULL, 0);
		break;
	case 1:
		walk((const uint8_t *)fixed_keys, sizeof(fixed_keys) - 1,
		    data + 1, size - 1);
		break;
	case 2:
		nul = memchr(data + 1, '\0', size - 1);
		if (nul != NULL)
			walk(data + 1, (size_t)(nul - data - 1), nul + 1,
			    size - (size_t)(nul - data) - 1);
		break;
	case 3:
		sid(data + 1, size - 1);
		break;
	}
	return 0;
}
