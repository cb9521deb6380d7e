/*
 * fuzz_graph.c - libFuzzer target for every handler of what Microsoft
 * Graph sends back (graph/, http/), without I/O.  The first input byte
 * picks the handler, the rest is its input:
 *
 *   0  device list page      graph_page_parts + graph_device_page
 *   1  key list page         graph_page_parts + graph_key_page
 *   2  key get               graph_add_key (bare and wrapped) +
 *                            graph_take_password
 *   3  $batch answer         graph_batch_take
 *   4  error body            graph_fail
 *   5  WWW-Authenticate      http_auth_param, graph_challenge_text
 *   6  Retry-After           http_parse_retry_after
 *   7  managedDevices page   graph_managed_page
 *   8  nextLink walk         graph_walk_page over the lines of the input
 *   9  managed device        graph_rotation_parse (deviceActionResults)
 *
 * Properties beyond "no crash, no undefined behaviour": every key added
 * has a canonical key ID and a whole-GUID device id; a withheld password
 * leaves no password; a $batch answer never answers more than was asked
 * and never waits a negative time; a Retry-After is -1 or within a year;
 * a parameter buffer is always NUL-terminated inside its length; a link
 * seen twice in one walk is always refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "graph/graph_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cJSON *
parse(const uint8_t *p, size_t n)
{
	return cJSON_ParseWithLength((const char *)p, n);
}

/* A NUL-terminated copy of the input, for the string handlers. */
static char *
text(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void
check_keys(const struct bde_keylist *l)
{
	uint8_t g[16];
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strlen(l->v[i].key_id) != BDE_GUID_LEN ||
		    bde_guid_parse(l->v[i].key_id, g) < 0)
			abort();
		if (l->v[i].device_id != NULL &&
		    !graph_guid_ok(l->v[i].device_id))
			abort();
		if (l->v[i].volume == NULL)
			abort();
	}
}

static enum bde_status
found(const char *device_id, const char *name, void *arg, char **errstr)
{
	(void)arg;
	(void)errstr;
	if (!graph_guid_ok(device_id) || name == NULL)
		abort();
	return BDE_OK;
}

static void
pages(const uint8_t *p, size_t n, int keys)
{
	struct bde_keylist out = BDE_KEYLIST_INIT;
	struct graph_key_pages kp;
	struct graph_named nm = { found, NULL };
	struct bde_keyid q;
	const cJSON *value;
	const char *next;
	cJSON *doc = parse(p, n);
	char *err = NULL;

	if (graph_page_parts(doc, "fuzz", "-", &value, &next, &err) == BDE_OK) {
		if (keys) {
			memset(&kp, 0, sizeof(kp));
			kp.out = &out;
			kp.device = "FUZZ-PC";
			/* every other run keeps only IDs starting 1A2B3C4D */
			if (n % 2 && bde_keyid_parse("1A2B3C4D", &q, NULL) ==
			    BDE_OK)
				kp.match = &q;
			graph_key_page(value, &kp, &err);
			check_keys(&out);
		} else {
			graph_device_page(value, &nm, &err);
		}
	}
	free(err);
	bde_keylist_free(&out);
	cJSON_Delete(doc);
}

static void
key_get(const uint8_t *p, size_t n)
{
	struct bde_keylist out = BDE_KEYLIST_INIT;
	cJSON *doc = parse(p, n);
	char *err = NULL;

	if (graph_add_key(graph_unwrap(doc), NULL, &out, &err) == BDE_OK) {
		check_keys(&out);
		free(err);
		err = NULL;
		if (graph_take_password(&out.v[0], doc, "-", &err) == BDE_OK) {
			if ((out.v[0].pw == BDE_PW_READ) !=
			    (out.v[0].password != NULL))
				abort();
			if (out.v[0].password != NULL &&
			    out.v[0].password[0] == '\0')
				abort();
		}
	}
	free(err);
	bde_keylist_free(&out);
	cJSON_Delete(doc);
}

static void
batch(const uint8_t *p, size_t n)
{
	struct graph_req r[GRAPH_BATCH_MAX];
	size_t idx[GRAPH_BATCH_MAX], left, i, want;
	long long wait;
	cJSON *doc;

	if (n == 0)
		return;
	/* the next byte: how many were asked */
	want = 1 + p[0] % GRAPH_BATCH_MAX;
	doc = parse(p + 1, n - 1);
	memset(r, 0, sizeof(r));
	for (i = 0; i < want; i++)
		idx[i] = i;
	if (graph_batch_take(doc, r, want, idx, want, &left, &wait) == 0) {
		if (left > want || wait < 0)
			abort();
		for (i = 0; i < want; i++)
			if (r[i].status != 0 && (r[i].status < 100 ||
			    r[i].status > 999))
				abort();
	}
	for (i = 0; i < want; i++)
		bde_json_wipe_delete(r[i].body);
	cJSON_Delete(doc);
}

static void
error_body(const uint8_t *p, size_t n)
{
	static const long statuses[] = { 400, 401, 403, 404, 409, 429, 500,
		503 };
	cJSON *doc;
	char *err = NULL;
	enum bde_status st;

	if (n == 0)
		return;
	doc = parse(p + 1, n - 1);
	st = graph_fail(statuses[p[0] % 8], doc, "rid", "fuzz", "needs X",
	    &err);
	if (st == BDE_OK || err == NULL)
		abort();
	free(err);
	cJSON_Delete(doc);
}

static void
www_authenticate(const uint8_t *p, size_t n)
{
	static const char *const names[] = { "error", "error_description",
		"claims", "realm", "scope" };
	char *s = text(p, n), small[4], big[256];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memset(small, 'x', sizeof(small));
		if (http_auth_param(s, "Bearer", names[i], small,
		    sizeof(small)) && memchr(small, '\0', sizeof(small)) == NULL)
			abort();
		http_auth_param(s, "Bearer", names[i], big, sizeof(big));
		if (memchr(big, '\0', sizeof(big)) == NULL)
			abort();
	}
	graph_challenge_text(s, big, sizeof(big));
	if (memchr(big, '\0', sizeof(big)) == NULL)
		abort();
	free(s);
}

static void
retry_after(const uint8_t *p, size_t n)
{
	long r = http_parse_retry_after((const char *)p, n, (time_t)1700000000);

	if (r < -1 || r > 366L * 86400)
		abort();
}

static void
managed(const uint8_t *p, size_t n)
{
	struct graph_matches m;
	const cJSON *value;
	const char *next;
	cJSON *doc = parse(p, n);
	char *err = NULL;

	memset(&m, 0, sizeof(m));
	m.device_id = "e3613df8-56e3-4980-95bc-aa15f79de39f";
	m.name = n % 2 ? "LAPTOP-ALPHA" : NULL;
	if (graph_page_parts(doc, "fuzz", "-", &value, &next, &err) == BDE_OK &&
	    graph_managed_page(value, &m, &err) == BDE_OK && m.count > 0) {
		/* what a rotation would act on: the device asked for */
		if (!graph_guid_ok(m.first.id) ||
		    strcasecmp(m.first.device_id, m.device_id) != 0 ||
		    (m.name != NULL && strcasecmp(m.first.name, m.name) != 0))
			abort();
	}
	bde_device_release(&m.first);
	free(err);
	cJSON_Delete(doc);
}

static void
walk(const uint8_t *p, size_t n)
{
	struct graph_walk w = { { NULL, 0, 0 } };
	struct graph_budget b;
	char *s = text(p, n), *line, *save = NULL, *err = NULL;
	char *seen[64];
	size_t nseen = 0, i;
	int dup;
	enum bde_status st;

	memset(&b, 0, sizeof(b));
	b.max_pages = 1000;
	b.max_items = 100000;
	for (line = strtok_r(s, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		for (dup = 0, i = 0; i < nseen; i++)
			dup |= strcmp(seen[i], line) == 0;
		st = graph_walk_page(&w, &b, line, (size_t)(line[0] & 7),
		    "fuzz", &err);
		free(err);
		err = NULL;
		if (dup && st == BDE_OK)
			abort();
		if (st != BDE_OK)
			break;
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = line;
	}
	graph_walk_release(&w);
	free(s);
}

/* A rotation state is one of ours, its text a bounded word. */
static void
rotation(const uint8_t *p, size_t n)
{
	struct bde_rotation r;
	cJSON *doc = parse(p, n);
	size_t i, len;

	if (graph_rotation_parse(doc, &r) == 0) {
		if (r.state > BDE_ROT_OTHER || r.retry_after != -1)
			abort();
		len = strnlen(r.state_text, sizeof(r.state_text));
		if (len == sizeof(r.state_text))
			abort();
		for (i = 0; i < len; i++)
			if (!((r.state_text[i] >= 'a' && r.state_text[i] <=
			    'z') || (r.state_text[i] >= 'A' &&
			    r.state_text[i] <= 'Z')))
				abort();
	}
	cJSON_Delete(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 10) {
	case 0:
		pages(data + 1, size - 1, 0);
		break;
	case 1:
		pages(data + 1, size - 1, 1);
		break;
	case 2:
		key_get(data + 1, size - 1);
		break;
	case 3:
		batch(data + 1, size - 1);
		break;
	case 4:
		error_body(data + 1, size - 1);
		break;
	case 5:
		www_authenticate(data + 1, size - 1);
		break;
	case 6:
		retry_after(data + 1, size - 1);
		break;
	case 7:
		managed(data + 1, size - 1);
		break;
	case 8:
		walk(data + 1, size - 1);
		break;
	case 9:
		rotation(data + 1, size - 1);
		break;
	}
	return 0;
}
