/*
 * test_json.c - core/json.c: the bounded number parser that every value a
 * server sends as "a number or a numeric string" goes through (expires_in,
 * interval, Retry-After, $batch ids and statuses, volumeType), the string
 * member reader, and the wiping delete of trees that held secrets.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cJSON.h>

#include "core/json.h"

#define OK BDE_NUM_OK
#define INVALID BDE_NUM_INVALID
#define RANGE BDE_NUM_RANGE
/* what *out holds before a call: a failure must leave it alone */
#define UNTOUCHED 424242LL

/*
 * One member value, as JSON text, with the bounds it is read with and
 * what must come of it.  Numbers and numeric strings alike.
 */
static const struct number_case {
	const char *json;
	long long min, max;
	int rc;
	long long value;
} number_cases[] = {
	/* integers as JSON numbers */
	{ "0", 0, 10, OK, 0 },
	{ "3600", 1, 86400, OK, 3600 },
	{ "3600.0", 1, 86400, OK, 3600 },
	{ "36e2", 1, 86400, OK, 3600 },
	{ "-0.0", 0, 0, OK, 0 },
	{ "-5", -10, -1, OK, -5 },
	{ "9007199254740992", 0, LLONG_MAX, OK, 9007199254740992LL },
	{ "-9223372036854775808", LLONG_MIN, 0, OK, LLONG_MIN },
	/* numeric strings */
	{ "\"3600\"", 1, 86400, OK, 3600 },
	{ "\"+5\"", 0, 10, OK, 5 },
	{ "\"-5\"", -10, 10, OK, -5 },
	{ "\"-0\"", 0, 0, OK, 0 },
	{ "\"0003600\"", 1, 86400, OK, 3600 },
	{ "\"9223372036854775807\"", 0, LLONG_MAX, OK, LLONG_MAX },
	{ "\"-9223372036854775808\"", LLONG_MIN, 0, OK, LLONG_MIN },
	/* bounds, inclusive */
	{ "1", 1, 10, OK, 1 },
	{ "10", 1, 10, OK, 10 },
	{ "0", 1, 10, RANGE, 0 },
	{ "11", 1, 10, RANGE, 0 },
	{ "-1", 0, 10, RANGE, 0 },
	{ "\"11\"", 1, 10, RANGE, 0 },
	{ "\"-1\"", 0, 10, RANGE, 0 },
	/* beyond long long, without undefined behaviour */
	{ "1e309", 0, LLONG_MAX, RANGE, 0 },
	{ "-1e309", LLONG_MIN, LLONG_MAX, RANGE, 0 },
	{ "1e19", 0, LLONG_MAX, RANGE, 0 },
	{ "9223372036854775807", 0, LLONG_MAX, RANGE, 0 },	/* 2^63 */
	/* a double: this one rounds to -2^63, which fits */
	{ "-9223372036854775809", LLONG_MIN, 0, OK, LLONG_MIN },
	{ "-1e300", LLONG_MIN, 0, RANGE, 0 },
	{ "\"9223372036854775808\"", 0, LLONG_MAX, RANGE, 0 },
	{ "\"-9223372036854775809\"", LLONG_MIN, 0, RANGE, 0 },
	{ "\"18446744073709551616\"", 0, LLONG_MAX, RANGE, 0 },
	{ "\"99999999999999999999999999\"", LLONG_MIN, LLONG_MAX, RANGE, 0 },
	/* fractions where an integer is wanted */
	{ "1.5", 0, 10, INVALID, 0 },
	{ "0.001", 0, 10, INVALID, 0 },
	{ "1e-3", 0, 10, INVALID, 0 },
	{ "-2.5", -10, 10, INVALID, 0 },
	{ "\"1.5\"", 0, 10, INVALID, 0 },
	{ "\"1.0\"", 0, 10, INVALID, 0 },
	{ "\"1e3\"", 0, 10000, INVALID, 0 },
	/* strings that are not (only) a number */
	{ "\"NaN\"", LLONG_MIN, LLONG_MAX, INVALID, 0 },
	{ "\"nan\"", LLONG_MIN, LLONG_MAX, INVALID, 0 },
	{ "\"inf\"", LLONG_MIN, LLONG_MAX, INVALID, 0 },
	{ "\"Infinity\"", LLONG_MIN, LLONG_MAX, INVALID, 0 },
	{ "\"12abc\"", 0, 100, INVALID, 0 },
	{ "\"abc12\"", 0, 100, INVALID, 0 },
	{ "\"0x10\"", 0, 100, INVALID, 0 },
	{ "\" 12\"", 0, 100, INVALID, 0 },
	{ "\"12 \"", 0, 100, INVALID, 0 },
	{ "\"1 2\"", 0, 100, INVALID, 0 },
	{ "\"\"", 0, 100, INVALID, 0 },
	{ "\"-\"", 0, 100, INVALID, 0 },
	{ "\"+\"", 0, 100, INVALID, 0 },
	{ "\"--1\"", -10, 100, INVALID, 0 },
	{ "\"+-1\"", -10, 100, INVALID, 0 },
	{ "\"\\u0661\\u0662\"", 0, 100, INVALID, 0 },	/* Arabic-Indic 12 */
	{ "\"99999999999999999999x\"", 0, LLONG_MAX, INVALID, 0 },
	/* not numbers at all */
	{ "true", 0, 10, INVALID, 0 },
	{ "false", 0, 10, INVALID, 0 },
	{ "null", 0, 10, INVALID, 0 },
	{ "[1]", 0, 10, INVALID, 0 },
	{ "{\"v\":1}", 0, 10, INVALID, 0 },
};

/* Why a case failed, for the message. */
static const char *
rc_name(int rc)
{
	return rc == OK ? "ok" : rc == INVALID ? "invalid" : rc == RANGE ?
	    "range" : "?";
}

static void
test_number_table(void **state)
{
	const struct number_case *c;
	char text[256];
	cJSON *doc;
	long long out;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(number_cases) / sizeof(number_cases[0]); i++) {
		c = &number_cases[i];
		snprintf(text, sizeof(text), "{\"v\":%s}", c->json);
		doc = cJSON_Parse(text);
		if (doc == NULL)
			fail_msg("case %s: not JSON", c->json);
		out = UNTOUCHED;
		rc = bde_json_number(doc, "v", c->min, c->max, &out);
		if (rc != c->rc)
			fail_msg("%s in [%lld, %lld]: %s, expected %s", c->json,
			    c->min, c->max, rc_name(rc), rc_name(c->rc));
		if (out != (c->rc == OK ? c->value : UNTOUCHED))
			fail_msg("%s: *out is %lld, expected %lld", c->json, out,
			    c->rc == OK ? c->value : UNTOUCHED);
		/* the same value as an item (an array's, a header's) */
		out = UNTOUCHED;
		rc = bde_json_integer(cJSON_GetObjectItem(doc, "v"), c->min,
		    c->max, &out);
		if (rc != c->rc || out != (c->rc == OK ? c->value : UNTOUCHED))
			fail_msg("%s as an item: %s, %lld", c->json, rc_name(rc),
			    out);
		cJSON_Delete(doc);
	}
}

/* A value that cannot come from parsing JSON text: NaN and infinities. */
static void
test_number_not_finite(void **state)
{
	cJSON *doc = cJSON_CreateObject();
	long long out = UNTOUCHED;

	(void)state;
	assert_non_null(cJSON_AddNumberToObject(doc, "nan", NAN));
	assert_non_null(cJSON_AddNumberToObject(doc, "inf", INFINITY));
	assert_non_null(cJSON_AddNumberToObject(doc, "ninf", -INFINITY));
	assert_int_equal(bde_json_number(doc, "nan", LLONG_MIN, LLONG_MAX,
	    &out), INVALID);
	assert_int_equal(bde_json_number(doc, "inf", LLONG_MIN, LLONG_MAX,
	    &out), RANGE);
	assert_int_equal(bde_json_number(doc, "ninf", LLONG_MIN, LLONG_MAX,
	    &out), RANGE);
	assert_int_equal(out, UNTOUCHED);
	cJSON_Delete(doc);
}

/* No member, no object, another member's name or case. */
static void
test_number_absent(void **state)
{
	cJSON *doc = cJSON_Parse("{\"Interval\":5,\"v\":7}");
	cJSON *arr = cJSON_Parse("[5]");
	long long out = UNTOUCHED;

	(void)state;
	assert_non_null(doc);
	assert_non_null(arr);
	assert_int_equal(bde_json_number(doc, "interval", 0, 10, &out),
	    INVALID);
	assert_int_equal(bde_json_number(doc, "missing", 0, 10, &out),
	    INVALID);
	assert_int_equal(bde_json_number(NULL, "v", 0, 10, &out), INVALID);
	assert_int_equal(bde_json_number(arr, "v", 0, 10, &out), INVALID);
	assert_int_equal(bde_json_integer(NULL, 0, 10, &out), INVALID);
	assert_int_equal(bde_integer_parse(NULL, 0, 10, &out), INVALID);
	assert_int_equal(out, UNTOUCHED);
	assert_int_equal(bde_json_number(doc, "v", 0, 10, &out), OK);
	assert_int_equal(out, 7);
	cJSON_Delete(doc);
	cJSON_Delete(arr);
}

/* Strings far longer than any number: no overflow, no slow path. */
static void
test_number_huge_strings(void **state)
{
	const size_t n = 100000;
	char *s = malloc(n + 2);
	long long out = UNTOUCHED;

	(void)state;
	assert_non_null(s);
	memset(s, '9', n);
	s[n] = '\0';
	assert_int_equal(bde_integer_parse(s, LLONG_MIN, LLONG_MAX, &out),
	    RANGE);
	s[0] = '-';
	assert_int_equal(bde_integer_parse(s, LLONG_MIN, LLONG_MAX, &out),
	    RANGE);
	/* junk at the very end still makes it no number */
	s[n - 1] = 'x';
	assert_int_equal(bde_integer_parse(s, LLONG_MIN, LLONG_MAX, &out),
	    INVALID);
	/* leading zeros are only zeros */
	memset(s, '0', n);
	s[n] = '7';
	s[n + 1] = '\0';
	assert_int_equal(out, UNTOUCHED);
	assert_int_equal(bde_integer_parse(s, 0, 10, &out), OK);
	assert_int_equal(out, 7);
	free(s);
}

static void
test_string_member(void **state)
{
	cJSON *doc = cJSON_Parse("{\"a\":\"x\",\"n\":1,\"z\":null,\"t\":true,"
	    "\"o\":{\"a\":\"inner\"},\"l\":[\"a\"],\"e\":\"\",\"\":\"noname\"}");
	cJSON *arr = cJSON_Parse("[\"a\",\"b\"]");

	(void)state;
	assert_non_null(doc);
	assert_non_null(arr);
	assert_string_equal(bde_json_string(doc, "a"), "x");
	assert_string_equal(bde_json_string(doc, "e"), "");
	assert_string_equal(bde_json_string(doc, ""), "noname");
	assert_string_equal(bde_json_string(cJSON_GetObjectItem(doc, "o"),
	    "a"), "inner");
	assert_null(bde_json_string(doc, "A"));		/* case matters */
	assert_null(bde_json_string(doc, "n"));
	assert_null(bde_json_string(doc, "z"));
	assert_null(bde_json_string(doc, "t"));
	assert_null(bde_json_string(doc, "o"));
	assert_null(bde_json_string(doc, "l"));
	assert_null(bde_json_string(doc, "missing"));
	assert_null(bde_json_string(NULL, "a"));
	assert_null(bde_json_string(arr, "a"));
	cJSON_Delete(doc);
	cJSON_Delete(arr);
}

/*
 * bde_json_wipe_delete: cJSON's allocator is replaced by one that looks at
 * every block as it is freed; no freed block may still hold the secret.
 */
#define SECRET "158422-038236-492536-574783"
#define HDR 16		/* keeps the blocks handed out 16-byte aligned */

static int secret_freed;

static void *
spy_malloc(size_t n)
{
	unsigned char *p = malloc(n + HDR);

	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

static void
spy_free(void *q)
{
	unsigned char *p;
	size_t n;

	if (q == NULL)
		return;
	p = (unsigned char *)q - HDR;
	memcpy(&n, p, sizeof(n));
	if (memmem(q, n, SECRET, strlen(SECRET)) != NULL ||
	    memmem(q, n, "access_token", strlen("access_token")) != NULL)
		secret_freed++;
	free(p);
}

static void
test_wipe_delete(void **state)
{
	cJSON_Hooks spy = { spy_malloc, spy_free }, plain = { NULL, NULL };
	static const char doc_text[] = "{\"value\":[{\"id\":\"k1\",\"key\":\""
	    SECRET "\"},{\"nested\":{\"access_token\":\"" SECRET "\"}}],"
	    "\"n\":1}";
	cJSON *doc;

	(void)state;
	cJSON_InitHooks(&spy);
	/* the spy sees a secret when the tree is deleted without a wipe */
	secret_freed = 0;
	doc = cJSON_Parse(doc_text);
	assert_non_null(doc);
	cJSON_Delete(doc);
	assert_true(secret_freed > 0);
	/* and none with it: values and names alike */
	secret_freed = 0;
	doc = cJSON_Parse(doc_text);
	assert_non_null(doc);
	bde_json_wipe_delete(doc);
	assert_int_equal(secret_freed, 0);
	/* a string root, a detached item, NULL */
	secret_freed = 0;
	bde_json_wipe_delete(cJSON_CreateString(SECRET));
	doc = cJSON_Parse(doc_text);
	assert_non_null(doc);
	bde_json_wipe_delete(cJSON_DetachItemFromObject(doc, "value"));
	bde_json_wipe_delete(doc);
	bde_json_wipe_delete(NULL);
	assert_int_equal(secret_freed, 0);
	cJSON_InitHooks(&plain);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_number_table),
		cmocka_unit_test(test_number_not_finite),
		cmocka_unit_test(test_number_absent),
		cmocka_unit_test(test_number_huge_strings),
		cmocka_unit_test(test_string_member),
		cmocka_unit_test(test_wipe_delete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
