/*
 * test_checksum.c - the recovery password validator: the cases in
 * checksum.cases, an exhaustive check of all 1,000,000 blocks against the
 * arithmetic rule, suggestions that always recover a one-digit slip, and
 * the key conversion.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "checksum/checksum.h"

#define CASES "tests/unit/checksum.cases"

static const struct {
	const char *name;
	enum ck_parse_error e;
} parse_names[] = {
	{ "EMPTY", CK_PARSE_EMPTY },
	{ "BAD_CHAR", CK_PARSE_BAD_CHAR },
	{ "BAD_SEPARATOR", CK_PARSE_BAD_SEPARATOR },
	{ "BLOCK_LENGTH", CK_PARSE_BLOCK_LENGTH },
	{ "BLOCK_COUNT", CK_PARSE_BLOCK_COUNT },
	{ "DIGIT_COUNT", CK_PARSE_DIGIT_COUNT },
	{ "TOO_LONG", CK_PARSE_TOO_LONG },
};

static enum ck_parse_error
parse_name(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(parse_names) / sizeof(parse_names[0]); i++)
		if (strlen(parse_names[i].name) == n &&
		    strncmp(parse_names[i].name, s, n) == 0)
			return parse_names[i].e;
	fail_msg("unknown parse error kind '%.*s'", (int)n, s);
	return CK_PARSE_OK;
}

static void
run_case(const char *expect, const char *input, int lineno)
{
	struct ck_password pw;
	struct ck_parse_status st;
	enum ck_parse_error e;
	char norm[CK_NORMALIZED_SIZE];
	int i, want_bad[CK_BLOCKS] = { 0 };

	e = ck_parse(input, strlen(input), &pw, &st);
	if (strncmp(expect, "parse:", 6) == 0) {
		const char *at = strchr(expect, '@');

		assert_non_null(at);
		if (e != parse_name(expect + 6, (size_t)(at - expect - 6)) ||
		    st.position != strtoul(at + 1, NULL, 10))
			fail_msg("line %d: '%s': got error %d at %zu, want %s",
			    lineno, input, e, st.position, expect);
		return;
	}
	if (e != CK_PARSE_OK)
		fail_msg("line %d: '%s' did not parse (error %d at %zu)",
		    lineno, input, e, st.position);
	if (strncmp(expect, "bad:", 4) == 0) {
		const char *p = expect + 4;

		while (*p) {
			int b = (int)strtol(p, (char **)&p, 10);

			assert_in_range(b, 1, CK_BLOCKS);
			want_bad[b - 1] = 1;
			if (*p == ',')
				p++;
		}
	} else if (strcmp(expect, "ok") != 0) {
		fail_msg("line %d: bad expectation '%s'", lineno, expect);
	}
	for (i = 0; i < CK_BLOCKS; i++)
		if ((pw.block[i].error != CK_BLOCK_OK) != want_bad[i])
			fail_msg("line %d: block %d: got %s", lineno, i + 1,
			    ck_block_error_str(pw.block[i].error));
	ck_normalize(&pw, norm);
	assert_int_equal(strlen(norm), 55);
}

static void
test_cases_file(void **state)
{
	char line[1024];
	FILE *fp = fopen(CASES, "r");
	int lineno = 0, ran = 0;

	(void)state;
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *tab;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		tab = strchr(line, '\t');
		assert_non_null(tab);
		*tab = '\0';
		run_case(line, tab + 1, lineno);
		ran++;
	}
	fclose(fp);
	assert_true(ran >= 25);
}

/* Every six-digit block: valid exactly when a multiple of 11 below 720896. */
static void
test_all_blocks(void **state)
{
	char d[7];
	long v;
	int valid = 0;

	(void)state;
	for (v = 0; v < 1000000; v++) {
		enum ck_block_error want;

		snprintf(d, sizeof(d), "%06ld", v);
		want = v % 11 ? CK_BLOCK_NOT_MULTIPLE :
		    v >= 720896 ? CK_BLOCK_TOO_LARGE : CK_BLOCK_OK;
		if (ck_block_check(d) != want)
			fail_msg("block %s: got %d want %d", d,
			    ck_block_check(d), want);
		valid += want == CK_BLOCK_OK;
	}
	/* one valid block per 16-bit word */
	assert_int_equal(valid, 65536);
}

static int
suggested(const struct ck_suggestions *sg, const char *block)
{
	int i;

	for (i = 0; i < sg->count; i++)
		if (strcmp(sg->block[i], block) == 0)
			return 1;
	return 0;
}

/*
 * For valid blocks (every 13th word, for time), every one-digit slip or
 * adjacent swap that makes the block invalid is undone by a suggestion,
 * and every suggestion is itself valid.
 */
static void
test_suggestions_recover(void **state)
{
	struct ck_suggestions sg;
	char good[7], bad[7];
	long w;
	int pos, dgt, k;

	(void)state;
	for (w = 0; w < 65536; w += 13) {
		snprintf(good, sizeof(good), "%06ld", w * 11);
		for (pos = 0; pos < 6; pos++) {
			for (dgt = 0; dgt <= 9; dgt++) {
				memcpy(bad, good, sizeof(bad));
				bad[pos] = (char)('0' + dgt);
				if (ck_block_check(bad) == CK_BLOCK_OK)
					continue;
				ck_suggest(bad, &sg);
				assert_true(suggested(&sg, good));
				for (k = 0; k < sg.count; k++)
					assert_int_equal(ck_block_check(
					    sg.block[k]), CK_BLOCK_OK);
			}
			if (pos == 5 || good[pos] == good[pos + 1])
				continue;
			memcpy(bad, good, sizeof(bad));
			bad[pos] = good[pos + 1];
			bad[pos + 1] = good[pos];
			if (ck_block_check(bad) == CK_BLOCK_OK)
				continue;
			ck_suggest(bad, &sg);
			assert_true(suggested(&sg, good));
		}
	}
}

/* The example: the check-digit fix comes first. */
static void
test_suggestion_order(void **state)
{
	struct ck_suggestions sg;

	(void)state;
	ck_suggest("321465", &sg);
	assert_true(sg.count >= 1 && sg.count <= CK_MAX_SUGGESTIONS);
	assert_string_equal(sg.block[0], "321464");
	/* a swap that lands on a valid block is listed before substitutions */
	ck_suggest("135979", &sg);
	assert_true(sg.swaps >= 1);
	assert_string_equal(sg.block[0], "139579");
	/* a valid block has no single-substitution neighbour that is valid */
	ck_suggest("139579", &sg);
	assert_int_equal(sg.count - sg.swaps, 0);
}

static void
test_key_roundtrip(void **state)
{
	const char *ms = "496298-461032-321464-595518-463221-173943-033616-139579";
	struct ck_password pw;
	uint8_t key[16], key2[16];
	char out[CK_NORMALIZED_SIZE];
	int i, r;

	(void)state;
	assert_int_equal(ck_parse(ms, strlen(ms), &pw, NULL), CK_PARSE_OK);
	assert_int_equal(ck_to_key(&pw, key), 0);
	/* 496298 / 11 = 45118 = 0xB03E, little-endian */
	assert_int_equal(key[0], 0x3E);
	assert_int_equal(key[1], 0xB0);
	ck_from_key(key, out);
	assert_string_equal(out, ms);
	srand(42);
	for (r = 0; r < 1000; r++) {
		for (i = 0; i < 16; i++)
			key[i] = (uint8_t)(rand() & 0xff);
		ck_from_key(key, out);
		assert_int_equal(ck_parse(out, strlen(out), &pw, NULL),
		    CK_PARSE_OK);
		assert_int_equal(pw.bad_blocks, 0);
		assert_int_equal(ck_to_key(&pw, key2), 0);
		assert_memory_equal(key, key2, 16);
	}
	/* a bad block has no key */
	assert_int_equal(ck_parse("496298-461032-321465-595518-463221-173943-"
	    "033616-139579", 55, &pw, NULL), CK_PARSE_OK);
	assert_int_equal(ck_to_key(&pw, key), -1);
}

/* Input need not be NUL-terminated: only len bytes are read. */
static void
test_length_bounded(void **state)
{
	char buf[64];
	struct ck_password pw;

	(void)state;
	memcpy(buf, "496298461032321464595518463221173943033616139579XXXX", 52);
	assert_int_equal(ck_parse(buf, 48, &pw, NULL), CK_PARSE_OK);
	assert_int_equal(pw.bad_blocks, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases_file),
		cmocka_unit_test(test_all_blocks),
		cmocka_unit_test(test_suggestions_recover),
		cmocka_unit_test(test_suggestion_order),
		cmocka_unit_test(test_key_roundtrip),
		cmocka_unit_test(test_length_bounded),
	};

	return cmocka_run_group_tests_name("checksum", tests, NULL, NULL);
}
