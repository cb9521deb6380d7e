/*
 * test_graph_hostile.c - issue 9's Graph, identity and HTTPS cases where
 * they can be tested without a server: what a hostile answer may hold
 * (pages without bodies, nextLink loops, endless pages, $batch items
 * without bodies or with huge Retry-After values, managed devices with
 * the wrong ids or names, passwords withheld), the bearer token alphabet,
 * WWW-Authenticate and Retry-After, token and device code answers, the
 * token cache document, the permissions a JWT names, and the one clamp
 * every wait goes through.
 */
#include <limits.h>
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

#include "core/clock.h"
#include "graph/graph_int.h"
#include "http/http.h"
#include "identity/cache.h"
#include "identity/identity_int.h"
#include "identity/jwt.h"

/* Parse JSON text that the test knows is valid. */
static cJSON *
json(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	if (j == NULL)
		fail_msg("bad test JSON: %s", text);
	return j;
}

static struct graph_budget
budget(unsigned long pages, unsigned long items)
{
	struct graph_budget b;

	memset(&b, 0, sizeof(b));
	b.max_pages = pages;
	b.max_items = items;
	return b;
}

/* #1: an answer without a JSON object is an error naming the request. */
static void
test_page_parts(void **state)
{
	static const struct {
		const char *doc;	/* NULL: no body at all */
		enum bde_status st;
		int has_next;
	} cases[] = {
		{ NULL, BDE_EPROTO, 0 },
		{ "[]", BDE_EPROTO, 0 },
		{ "\"<html>\"", BDE_EPROTO, 0 },
		{ "{}", BDE_EPROTO, 0 },
		{ "{\"value\":{}}", BDE_EPROTO, 0 },
		{ "{\"value\":[]}", BDE_OK, 0 },
		{ "{\"value\":[],\"@odata.nextLink\":null}", BDE_OK, 0 },
		{ "{\"value\":[],\"@odata.nextLink\":\"https://g/x\"}", BDE_OK, 1 },
		{ "{\"value\":[],\"@odata.nextLink\":7}", BDE_EPROTO, 0 },
		{ "{\"value\":[],\"@odata.nextLink\":\"\"}", BDE_EPROTO, 0 },
	};
	const cJSON *value;
	const char *next;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *doc = cases[i].doc ? json(cases[i].doc) : NULL;
		enum bde_status st;

		err = NULL;
		st = graph_page_parts(doc, "listing the keys of 'PC'", "RID",
		    &value, &next, &err);
		if (st != cases[i].st)
			fail_msg("%s: status %d", cases[i].doc, st);
		if (st != BDE_OK && (err == NULL || strstr(err, "'PC'") == NULL))
			fail_msg("%s: message '%s' does not name the request",
			    cases[i].doc, err ? err : "");
		if (st == BDE_OK && (value == NULL || (next != NULL) !=
		    cases[i].has_next))
			fail_msg("%s: parts", cases[i].doc);
		free(err);
		cJSON_Delete(doc);
	}
}

/* #10: a nextLink seen before ends the walk; so do the budgets. */
static void
test_walk_loop(void **state)
{
	struct graph_walk w = { { NULL, 0, 0 } };
	struct graph_budget b = budget(GRAPH_MAX_PAGES, GRAPH_MAX_ITEMS);
	char *err = NULL;

	(void)state;
	assert_int_equal(graph_walk_page(&w, &b, "https://g/k?t=A", 1, "scan",
	    &err), BDE_OK);
	assert_int_equal(graph_walk_page(&w, &b, "https://g/k?t=B", 0, "scan",
	    &err), BDE_OK);
	assert_int_equal(graph_walk_page(&w, &b, "https://g/k?t=A", 0, "scan",
	    &err), BDE_EPROTO);
	assert_non_null(strstr(err, "loop"));
	free(err);
	graph_walk_release(&w);
}

static void
test_walk_many_links(void **state)
{
	struct graph_walk w = { { NULL, 0, 0 } };
	struct graph_budget b = budget(GRAPH_MAX_PAGES, GRAPH_MAX_ITEMS);
	char link[64], *err = NULL;
	int i;

	(void)state;
	/* distinct links are no loop, however many (the set grows) */
	for (i = 0; i < 20000; i++) {
		snprintf(link, sizeof(link), "https://g/k?$skiptoken=%d", i);
		if (graph_walk_page(&w, &b, link, 2, "scan", &err) != BDE_OK)
			fail_msg("link %d: %s", i, err);
	}
	snprintf(link, sizeof(link), "https://g/k?$skiptoken=%d", 12345);
	assert_int_equal(graph_walk_page(&w, &b, link, 2, "scan", &err),
	    BDE_EPROTO);
	free(err);
	graph_walk_release(&w);
}

static void
test_walk_budget(void **state)
{
	struct graph_walk w = { { NULL, 0, 0 } };
	struct graph_budget b = budget(3, 100);
	char link[64], *err = NULL;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		snprintf(link, sizeof(link), "https://g/k?p=%d", i);
		assert_int_equal(graph_walk_page(&w, &b, link, 1, "scan", &err),
		    BDE_OK);
	}
	/* the third page may be the last, but may not lead to a fourth */
	assert_int_equal(graph_walk_page(&w, &b, NULL, 1, "scan", &err),
	    BDE_OK);
	assert_int_equal(graph_walk_page(&w, &b, "https://g/k?p=9", 1, "scan",
	    &err), BDE_EPROTO);
	assert_non_null(strstr(err, "pages"));
	free(err);
	err = NULL;
	graph_walk_release(&w);

	b = budget(1000, 100);
	assert_int_equal(graph_walk_page(&w, &b, "https://g/a", 100, "scan",
	    &err), BDE_OK);
	assert_int_equal(graph_walk_page(&w, &b, "https://g/b", 1, "scan",
	    &err), BDE_EPROTO);
	assert_non_null(strstr(err, "items"));
	free(err);
	err = NULL;
	/* a link that would be a header line of its own */
	b = budget(1000, 1000);
	assert_int_equal(graph_walk_page(&w, &b, "https://g/c\r\nX: y", 1,
	    "scan", &err), BDE_EPROTO);
	free(err);
	graph_walk_release(&w);
}

/* #1, #6: $batch items without a body; Retry-After of every size. */
static void
test_batch_take(void **state)
{
	struct graph_req r[3];
	size_t idx[3] = { 0, 1, 2 }, left;
	long long wait;
	cJSON *doc;

	(void)state;
	memset(r, 0, sizeof(r));
	doc = json("{\"responses\":["
	    "{\"id\":\"1\",\"status\":200},"
	    "{\"id\":\"0\",\"status\":200,\"body\":{\"value\":[]}},"
	    "{\"id\":\"2\",\"status\":429,\"headers\":{\"retry-after\":"
	    "\"99999999999999999999\"}},"
	    "{\"id\":\"7\",\"status\":200},"
	    "{\"id\":\"0\",\"status\":500}]}");
	assert_int_equal(graph_batch_take(doc, r, 3, idx, 3, &left, &wait), 0);
	assert_int_equal(left, 1);
	assert_int_equal(idx[0], 2);
	/* answered without a body: the caller sees a 200 and no body */
	assert_int_equal(r[1].status, 200);
	assert_null(r[1].body);
	assert_int_equal(r[0].status, 200);
	assert_non_null(r[0].body);
	/* a huge wait is reported as huge: http_client_sleep will not wait */
	assert_true(wait > HTTP_RETRY_AFTER_MAX_S * 1000LL);
	cJSON_Delete(doc);
	bde_json_wipe_delete(r[0].body);

	/* not a batch answer: nothing taken */
	doc = json("{\"value\":[]}");
	idx[0] = 0;
	assert_int_equal(graph_batch_take(doc, r, 3, idx, 1, &left, &wait), -1);
	cJSON_Delete(doc);

	/* Retry-After as a JSON number, and a sane one */
	memset(r, 0, sizeof(r));
	idx[0] = 0;
	doc = json("{\"responses\":[{\"id\":0,\"status\":503,"
	    "\"headers\":{\"Retry-After\":3}}]}");
	assert_int_equal(graph_batch_take(doc, r, 1, idx, 1, &left, &wait), 0);
	assert_int_equal(left, 1);
	assert_int_equal(wait, 3000);
	cJSON_Delete(doc);
}

/* #6: one clamp for every wait. */
static void
test_wait_clamp(void **state)
{
	(void)state;
	assert_int_equal(bde_wait_clamp(-5, 100, 1000, 0), 100);
	assert_int_equal(bde_wait_clamp(LLONG_MAX, 100, 1000, 0), 1000);
	assert_int_equal(bde_wait_clamp(500, 100, 1000, 0), 500);
	/* past the deadline: not waited for at all */
	assert_int_equal(bde_wait_clamp(500, 100, 1000, bde_now_ms() + 200),
	    -1);
}

/* #9: Retry-After of any size, without undefined behaviour. */
static void
test_retry_after(void **state)
{
	static const struct {
		const char *v;
		long want;
	} cases[] = {
		{ "0", 0 },
		{ "120", 120 },
		{ " 7 \r\n", 7 },
		{ "-1", 0 },
		{ "99999999999999999999", 366L * 86400 },
		{ "9223372036854775807", 366L * 86400 },
		{ "-9223372036854775809", 0 },
		{ "1e30", -1 },
		{ "1.5", -1 },
		{ "", -1 },
		{ "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 0 },
		{ "Fri, 31 Dec 9999 23:59:59 GMT", 366L * 86400 },
		{ "soon", -1 },
	};
	size_t i;
	long got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = http_parse_retry_after(cases[i].v, strlen(cases[i].v),
		    (time_t)1700000000);
		if (got != cases[i].want)
			fail_msg("Retry-After '%s': %ld, want %ld", cases[i].v,
			    got, cases[i].want);
	}
	/* an HTTP date 60 s ahead of "now" */
	assert_int_equal(http_parse_retry_after("Tue, 14 Nov 2023 22:14:20 GMT",
	    29, (time_t)1700000000), 60);
}

/* #8: only RFC 6750's b64token alphabet goes into a header. */
static void
test_bearer_alphabet(void **state)
{
	static const char *const good[] = {
		"abc", "eyJ0eXAiOiJKV1QifQ.e30.c2ln", "a-b_c~d+e/f.g==",
		"A", "x=",
	};
	static const char *const bad[] = {
		"", "=", "abc\r\nX-Injected: yes", "abc def", "abc\t",
		"abc\n", "ab=c", "caf\xc3\xa9", "a\"b", "a,b", "a;b", "a:b",
	};
	char *big;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!http_bearer_ok(good[i]))
			fail_msg("'%s' refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_bearer_ok(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
	big = malloc(70000);
	assert_non_null(big);
	memset(big, 'a', 69999);
	big[69999] = '\0';
	assert_false(http_bearer_ok(big));
	free(big);
}

/* WWW-Authenticate's Bearer challenge (RFC 6750 3, RFC 9110 11.6.1). */
static void
test_www_authenticate(void **state)
{
	static const struct {
		const char *h, *name, *want;	/* want NULL: not found */
	} cases[] = {
		{ "Bearer realm=\"\", error=\"invalid_token\", "
		  "error_description=\"The token expired\"", "error",
		  "invalid_token" },
		{ "Bearer realm=\"\", error=\"invalid_token\", "
		  "error_description=\"The token expired\"",
		  "error_description", "The token expired" },
		{ "bearer ERROR=insufficient_claims", "error",
		  "insufficient_claims" },
		{ "Bearer error=\"a\\\"b\"", "error", "a\"b" },
		{ "Basic realm=\"x\"", "realm", NULL },
		{ "Bearer realm=\"x\", Basic error=\"no\"", "error", NULL },
		{ "Bearer error=\"unterminated", "error", NULL },
		{ "Bearer", "error", NULL },
		{ "", "error", NULL },
		{ "Bearer =x", "error", NULL },
	};
	char buf[64];
	size_t i;
	int found;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		found = http_auth_param(cases[i].h, "Bearer", cases[i].name,
		    buf, sizeof(buf));
		if (found != (cases[i].want != NULL) ||
		    (found && strcmp(buf, cases[i].want) != 0))
			fail_msg("'%s' %s: %d '%s'", cases[i].h, cases[i].name,
			    found, buf);
	}
	/* cut, not overrun */
	assert_int_equal(http_auth_param("Bearer error=\"0123456789\"",
	    "Bearer", "error", buf, 4), 1);
	assert_string_equal(buf, "012");
	graph_challenge_text("Bearer error=\"invalid_token\", "
	    "error_description=\"expired\"", buf, sizeof(buf));
	assert_string_equal(buf, "invalid_token: expired");
	graph_challenge_text("Bearer realm=\"\"", buf, sizeof(buf));
	assert_string_equal(buf, "");
}

/* #3: a 200 without "key" is a withheld password, not a protocol error. */
static void
test_take_password(void **state)
{
	static const struct {
		const char *body;
		enum bde_status st;
		enum bde_pw_state pw;
	} cases[] = {
		{ "{\"id\":\"x\",\"key\":\"111111-111111\"}", BDE_OK,
		  BDE_PW_READ },
		{ "{\"value\":{\"key\":\"111111-111111\"}}", BDE_OK,
		  BDE_PW_READ },
		{ "{\"id\":\"x\"}", BDE_OK, BDE_PW_DENIED },
		{ "{\"id\":\"x\",\"key\":null}", BDE_OK, BDE_PW_DENIED },
		{ "{\"key\":\"\"}", BDE_EPROTO, BDE_PW_NOT_REQUESTED },
		{ "{\"key\":7}", BDE_EPROTO, BDE_PW_NOT_REQUESTED },
		{ NULL, BDE_EPROTO, BDE_PW_NOT_REQUESTED },
		{ "[]", BDE_EPROTO, BDE_PW_NOT_REQUESTED },
	};
	struct bde_key k;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *b = cases[i].body ? json(cases[i].body) : NULL;

		memset(&k, 0, sizeof(k));
		err = NULL;
		if (graph_take_password(&k, b, "RID", &err) != cases[i].st ||
		    k.pw != cases[i].pw)
			fail_msg("%s: pw %d", cases[i].body, k.pw);
		bde_key_release(&k);
		free(err);
		cJSON_Delete(b);
	}
}

/* #3: the message says what the token lacks and what it has. */
static void
test_denied_reason(void **state)
{
	char buf[600];

	(void)state;
	graph_denied_reason("BitlockerKey.ReadBasic.All Device.Read.All", buf,
	    sizeof(buf));
	assert_non_null(strstr(buf, "lacks BitlockerKey.Read.All"));
	assert_non_null(strstr(buf,
	    "it has BitlockerKey.ReadBasic.All, Device.Read.All"));
	graph_denied_reason("Device.Read.All bitlockerkey.read.all", buf,
	    sizeof(buf));
	assert_non_null(strstr(buf, "role"));
	assert_null(strstr(buf, "lacks"));
	graph_denied_reason(NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "BitlockerKey.Read.All"));
	graph_denied_reason("A B C", buf, 20);
	assert_int_equal(strlen(buf), 19);
}

/* #4: GUIDs whole, names compared, anything else refused. */
static void
test_guid_ok(void **state)
{
	(void)state;
	assert_true(graph_guid_ok("e3613df8-56e3-4980-95bc-aa15f79de39f"));
	assert_false(graph_guid_ok("e3613df8-56e3-4980-95bc-aa15f79de39f0000"));
	assert_false(graph_guid_ok("{e3613df8-56e3-4980-95bc-aa15f79de39f}"));
	assert_false(graph_guid_ok("not-a-guid"));
	assert_false(graph_guid_ok(""));
	assert_false(graph_guid_ok(NULL));
}

static enum bde_status
run_managed(const char *page, const char *name, struct graph_matches *m)
{
	cJSON *v = json(page);
	enum bde_status st;
	char *err = NULL;

	memset(m, 0, sizeof(*m));
	m->device_id = "e3613df8-56e3-4980-95bc-aa15f79de39f";
	m->name = name;
	st = graph_managed_page(v, m, &err);
	if (st != BDE_OK && (err == NULL || (name != NULL &&
	    strstr(err, name) == NULL)))
		fail_msg("message '%s' does not name %s", err ? err : "",
		    name);
	free(err);
	cJSON_Delete(v);
	return st;
}

static void
test_managed_page(void **state)
{
	struct graph_matches m;

	(void)state;
	/* the one asked for, and the filter ignored: others skipped */
	assert_int_equal(run_managed("[{\"id\":\"9100d3c8-a754-4529-9c28-"
	    "4cafff2398f9\",\"deviceName\":\"laptop-alpha\",\"azureADDeviceId\":"
	    "\"E3613DF8-56E3-4980-95BC-AA15F79DE39F\"},{\"id\":\"x\","
	    "\"deviceName\":\"OTHER\",\"azureADDeviceId\":\"5840750e-9b5f-413b-"
	    "9413-4c392c07ca35\"},{\"id\":\"y\",\"azureADDeviceId\":\"\"}]",
	    "LAPTOP-ALPHA", &m), BDE_OK);
	assert_int_equal(m.count, 1);
	assert_string_equal(m.first.id, "9100d3c8-a754-4529-9c28-4cafff2398f9");
	bde_device_release(&m.first);
	/* another device's name for the one asked for */
	assert_int_equal(run_managed("[{\"id\":\"9100d3c8-a754-4529-9c28-"
	    "4cafff2398f9\",\"deviceName\":\"INNOCENT-PC\",\"azureADDeviceId\":"
	    "\"e3613df8-56e3-4980-95bc-aa15f79de39f\"}]", "EVIL-PC", &m),
	    BDE_EPROTO);
	bde_device_release(&m.first);
	/* no name at all when one was asked for */
	assert_int_equal(run_managed("[{\"id\":\"9100d3c8-a754-4529-9c28-"
	    "4cafff2398f9\",\"azureADDeviceId\":\"e3613df8-56e3-4980-95bc-"
	    "aa15f79de39f\"}]", "EVIL-PC", &m), BDE_EPROTO);
	bde_device_release(&m.first);
	/* an id that is a path */
	assert_int_equal(run_managed("[{\"id\":\"../../x/9100d3c8-a754-4529-"
	    "9c28-4cafff2398f9\",\"deviceName\":\"EVIL-PC\",\"azureADDeviceId\":"
	    "\"e3613df8-56e3-4980-95bc-aa15f79de39f\"}]", "EVIL-PC", &m),
	    BDE_EPROTO);
	bde_device_release(&m.first);
	/* an azureADDeviceId too long, or not a GUID */
	assert_int_equal(run_managed("[{\"id\":\"9100d3c8-a754-4529-9c28-"
	    "4cafff2398f9\",\"deviceName\":\"EVIL-PC\",\"azureADDeviceId\":"
	    "\"e3613df8-56e3-4980-95bc-aa15f79de39fffff\"}]", "EVIL-PC", &m),
	    BDE_EPROTO);
	bde_device_release(&m.first);
	/* by device id: no name to compare */
	assert_int_equal(run_managed("[{\"id\":\"9100d3c8-a754-4529-9c28-"
	    "4cafff2398f9\",\"deviceName\":\"ANY\",\"azureADDeviceId\":"
	    "\"e3613df8-56e3-4980-95bc-aa15f79de39f\"}]", NULL, &m), BDE_OK);
	bde_device_release(&m.first);
}

/* #4: a device list with a deviceId that is not a whole GUID. */
static enum bde_status
found_ok(const char *id, const char *name, void *arg, char **errstr)
{
	(void)id;
	(void)name;
	(void)errstr;
	++*(int *)arg;
	return BDE_OK;
}

static void
test_device_page(void **state)
{
	struct graph_named nm;
	cJSON *v;
	char *err = NULL;
	int n = 0;

	(void)state;
	nm.found = found_ok;
	nm.arg = &n;
	v = json("[{\"deviceId\":\"e3613df8-56e3-4980-95bc-aa15f79de39f\","
	    "\"displayName\":\"A\"},{\"displayName\":\"no id\"}]");
	assert_int_equal(graph_device_page(v, &nm, &err), BDE_OK);
	assert_int_equal(n, 1);
	cJSON_Delete(v);
	v = json("[{\"deviceId\":\"e3613df8-56e3-4980-95bc-aa15f79de39f0000\","
	    "\"displayName\":\"EVIL-PC\"}]");
	assert_int_equal(graph_device_page(v, &nm, &err), BDE_EPROTO);
	assert_non_null(strstr(err, "EVIL-PC"));
	free(err);
	cJSON_Delete(v);
}

/* #8, #9: token answers. */
static void
test_token_answer(void **state)
{
	static const struct {
		const char *doc;
		enum bde_status st;
		long long expires_in;
	} cases[] = {
		{ "{\"access_token\":\"a.b.c\",\"expires_in\":3599}", BDE_OK,
		  3599 },
		{ "{\"access_token\":\"a.b.c\",\"expires_in\":\"3599\"}", BDE_OK,
		  3599 },
		{ "{\"access_token\":\"a.b.c\",\"expires_in\":1e30}", BDE_OK,
		  3600 },
		{ "{\"access_token\":\"a.b.c\",\"expires_in\":-1}", BDE_OK,
		  3600 },
		{ "{\"access_token\":\"a.b.c\",\"expires_in\":3599.5}", BDE_OK,
		  3600 },
		{ "{\"access_token\":\"a.b.c\",\"expires_in\":1e400}", BDE_OK,
		  3600 },
		{ "{\"access_token\":\"a.b.c\",\"expires_in\":"
		  "\"99999999999999999999\"}", BDE_OK, 3600 },
		{ "{\"access_token\":\"a.b.c\",\"token_type\":\"bearer\"}",
		  BDE_OK, 3600 },
		{ "{\"access_token\":\"a.b.c\",\"token_type\":\"mac\"}",
		  BDE_EPROTO, 0 },
		{ "{\"access_token\":\"a.b.c\\r\\nX-Injected: yes\"}",
		  BDE_EPROTO, 0 },
		{ "{\"access_token\":\"a b\"}", BDE_EPROTO, 0 },
		{ "{\"access_token\":\"\"}", BDE_EPROTO, 0 },
		{ "{\"access_token\":7}", BDE_EPROTO, 0 },
		{ "[]", BDE_EPROTO, 0 },
	};
	struct id_answer an;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *d = json(cases[i].doc);

		err = NULL;
		if (id_answer_parse(d, "RID", &an, &err) != cases[i].st ||
		    (cases[i].st == BDE_OK &&
		    an.expires_in != cases[i].expires_in))
			fail_msg("%s: %s", cases[i].doc, err ? err : "ok");
		free(err);
		cJSON_Delete(d);
	}
}

/* #9: device code answers with hostile numbers. */
static void
test_devicecode_answer(void **state)
{
	struct id_devicecode dc;
	cJSON *d;
	char *err = NULL;

	(void)state;
	d = json("{\"device_code\":\"D\",\"user_code\":\"U\","
	    "\"verification_uri\":\"https://x\",\"interval\":"
	    "\"9223372036854775807\",\"expires_in\":2147483647}");
	assert_int_equal(id_devicecode_parse(d, "RID", &dc, &err), BDE_OK);
	assert_int_equal(dc.interval, 5);
	assert_int_equal(dc.expires_in, 900);
	cJSON_Delete(d);
	d = json("{\"device_code\":\"D\",\"message\":\"M\",\"interval\":1e30,"
	    "\"expires_in\":1e400}");
	assert_int_equal(id_devicecode_parse(d, "RID", &dc, &err), BDE_OK);
	assert_int_equal(dc.interval, 5);
	assert_int_equal(dc.expires_in, 900);
	cJSON_Delete(d);
	d = json("{\"user_code\":\"U\"}");
	assert_int_equal(id_devicecode_parse(d, "RID", &dc, &err), BDE_EPROTO);
	free(err);
	cJSON_Delete(d);
}

/* #13: a refresh that needs the user (consent) is told apart. */
static void
test_needs_user(void **state)
{
	static const struct {
		const char *doc;
		int want;
	} cases[] = {
		{ "{\"error\":\"interaction_required\"}", 1 },
		{ "{\"error\":\"consent_required\"}", 1 },
		{ "{\"error\":\"invalid_grant\",\"error_codes\":[65001]}", 1 },
		{ "{\"error\":\"invalid_grant\",\"suberror\":"
		  "\"consent_required\"}", 1 },
		{ "{\"error\":\"invalid_grant\",\"error_codes\":[70000]}", 0 },
		{ "{\"error\":\"invalid_grant\",\"error_codes\":\"65001\"}", 0 },
		{ "{\"error\":\"invalid_client\",\"error_codes\":[65001]}", 0 },
		{ "{}", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *d = json(cases[i].doc);

		if (id_needs_user(d) != cases[i].want)
			fail_msg("%s", cases[i].doc);
		cJSON_Delete(d);
	}
}

/* #13: the cache holds an access token per scope set. */
static void
test_cache_document(void **state)
{
	struct id_tokens t;
	cJSON *d;

	(void)state;
	memset(&t, 0, sizeof(t));
	d = json("{\"version\":2,\"user\":\"u@x\",\"refresh_token\":\"R\","
	    "\"tokens\":[{\"scope\":\"A\",\"access_token\":\"a\","
	    "\"expires_on\":100},{\"scope\":\"B\",\"access_token\":\"b\","
	    "\"expires_on\":1e400},{\"scope\":\"A\",\"access_token\":\"dup\"},"
	    "{\"access_token\":\"no scope\"},7]}");
	assert_int_equal(id_cache_parse(d, &t), BDE_OK);
	assert_int_equal(t.n, 2);
	assert_string_equal(id_tokens_find(&t, "A")->access_token, "a");
	assert_int_equal(id_tokens_find(&t, "B")->expires_on, 0);
	assert_null(id_tokens_find(&t, "C"));
	assert_string_equal(t.refresh_token, "R");
	cJSON_Delete(d);
	/* version 1: one token with its scope */
	d = json("{\"version\":1,\"scope\":\"S\",\"access_token\":\"a\","
	    "\"expires_on\":5,\"refresh_token\":\"R\"}");
	assert_int_equal(id_cache_parse(d, &t), BDE_OK);
	assert_int_equal(t.n, 1);
	assert_int_equal(id_tokens_find(&t, "S")->expires_on, 5);
	cJSON_Delete(d);
	d = json("{\"version\":3}");
	assert_int_equal(id_cache_parse(d, &t), BDE_EAUTH);
	cJSON_Delete(d);
	d = json("{\"version\":2,\"tokens\":{}}");
	assert_int_equal(id_cache_parse(d, &t), BDE_EAUTH);
	cJSON_Delete(d);
	/* the oldest scope set goes when all places are taken */
	memset(&t, 0, sizeof(t));
	{
		char scope[8];
		int i;

		for (i = 0; i < ID_CACHE_SCOPES + 2; i++) {
			snprintf(scope, sizeof(scope), "S%d", i);
			assert_non_null(id_tokens_put(&t, scope));
		}
		assert_int_equal(t.n, ID_CACHE_SCOPES);
		assert_null(id_tokens_find(&t, "S0"));
		assert_non_null(id_tokens_find(&t, "S9"));
	}
	id_tokens_release(&t);
}

/* #3: the permissions an access token names (not verified). */
static void
test_jwt_permissions(void **state)
{
	/* {"scp":"BitlockerKey.Read.All Device.Read.All"} */
	static const char user[] = "e30.eyJzY3AiOiJCaXRsb2NrZXJLZXkuUmVhZC5B"
	    "bGwgRGV2aWNlLlJlYWQuQWxsIn0.sig";
	/* {"roles":["BitlockerKey.ReadBasic.All",7,"Device.Read.All"]} */
	static const char app[] = "e30.eyJyb2xlcyI6WyJCaXRsb2NrZXJLZXkuUmVhZEJ"
	    "hc2ljLkFsbCIsNywiRGV2aWNlLlJlYWQuQWxsIl19.sig";
	char *p;

	(void)state;
	p = jwt_permissions(user);
	assert_non_null(p);
	assert_string_equal(p, "BitlockerKey.Read.All Device.Read.All");
	free(p);
	p = jwt_permissions(app);
	assert_non_null(p);
	assert_string_equal(p, "BitlockerKey.ReadBasic.All Device.Read.All");
	free(p);
	assert_null(jwt_permissions("emuAT.opaque"));
	assert_null(jwt_permissions("e30.e30.x"));
	assert_null(jwt_permissions(""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_parts),
		cmocka_unit_test(test_walk_loop),
		cmocka_unit_test(test_walk_many_links),
		cmocka_unit_test(test_walk_budget),
		cmocka_unit_test(test_batch_take),
		cmocka_unit_test(test_wait_clamp),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_bearer_alphabet),
		cmocka_unit_test(test_www_authenticate),
		cmocka_unit_test(test_take_password),
		cmocka_unit_test(test_denied_reason),
		cmocka_unit_test(test_guid_ok),
		cmocka_unit_test(test_managed_page),
		cmocka_unit_test(test_device_page),
		cmocka_unit_test(test_token_answer),
		cmocka_unit_test(test_devicecode_answer),
		cmocka_unit_test(test_needs_user),
		cmocka_unit_test(test_cache_document),
		cmocka_unit_test(test_jwt_permissions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
