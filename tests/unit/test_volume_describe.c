/*
 * test_volume_describe.c - the pure parts of volume/: the description
 * parser and the UTF-16 cleaner, table-driven from
 * tests/volume/describe.cases (Windows' own descriptions, other locales,
 * and hostile ones), plus the buffer edges and the protector type names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "volume/volume.h"

#define CASES "tests/volume/describe.cases"

/* Decode \t \n \\ \xHH in s into out (NUL-terminated); "-" is empty. */
static void
unescape(const char *s, char *out, size_t size, int lineno)
{
	size_t n = 0;

	if (strcmp(s, "-") == 0)
		s = "";
	while (*s != '\0') {
		char c = *s++;

		if (c == '\\') {
			c = *s++;
			if (c == 't')
				c = '\t';
			else if (c == 'n')
				c = '\n';
			else if (c == 'x') {
				unsigned v;

				if (sscanf(s, "%2x", &v) != 1)
					fail_msg("line %d: bad \\x escape", lineno);
				c = (char)v;
				s += 2;
			} else if (c != '\\')
				fail_msg("line %d: unknown escape", lineno);
		}
		if (n + 1 >= size)
			fail_msg("line %d: field too long", lineno);
		out[n++] = c;
	}
	out[n] = '\0';
}

static void
run_parse(char *computer, char *drive, char *desc, int lineno)
{
	struct bde_description d;
	char want_c[256], want_d[16], in[1024];
	int rc, want_rc;

	unescape(computer, want_c, sizeof(want_c), lineno);
	unescape(drive, want_d, sizeof(want_d), lineno);
	unescape(desc, in, sizeof(in), lineno);
	want_rc = want_c[0] == '\0' && want_d[0] == '\0' ? -1 : 0;
	memset(&d, 0x55, sizeof(d));
	rc = bde_describe_parse(in, &d);
	if (rc != want_rc || strcmp(d.computer, want_c) != 0 ||
	    strcmp(d.drive, want_d) != 0)
		fail_msg("line %d: '%s': got %d '%s' '%s', want %d '%s' '%s'",
		    lineno, desc, rc, d.computer, d.drive, want_rc, want_c,
		    want_d);
}

static void
run_utf16(char *units, char *expect, int lineno)
{
	uint16_t in[64];
	char want[256], out[256], *p = units, *end;
	size_t n = 0, len;

	if (strcmp(units, "-") != 0) {
		while (*p != '\0') {
			unsigned long v = strtoul(p, &end, 16);

			if (end == p || v > 0xFFFF || n == 64)
				fail_msg("line %d: bad units", lineno);
			in[n++] = (uint16_t)v;
			p = end;
			while (*p == ' ')
				p++;
		}
	}
	unescape(expect, want, sizeof(want), lineno);
	len = bde_describe_utf16(in, n, out, sizeof(out));
	if (len != strlen(want) || strcmp(out, want) != 0)
		fail_msg("line %d: units '%s': got '%s' (%zu bytes), want '%s'",
		    lineno, units, out, len, want);
}

static void
test_cases(void **state)
{
	FILE *f = fopen(CASES, "r");
	char line[2048];
	int lineno = 0, parsed = 0, converted = 0;

	(void)state;
	if (f == NULL)
		fail_msg("cannot open %s (run from the source tree)", CASES);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *field[4], *save = NULL, *tok;
		int n = 0;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (tok = strtok_r(line, "\t", &save); tok != NULL && n < 4;
		    tok = strtok_r(NULL, "\t", &save))
			field[n++] = tok;
		if (n == 4 && strcmp(field[0], "parse") == 0) {
			run_parse(field[1], field[2], field[3], lineno);
			parsed++;
		} else if (n == 3 && strcmp(field[0], "utf16") == 0) {
			run_utf16(field[1], field[2], lineno);
			converted++;
		} else {
			fail_msg("line %d: malformed case", lineno);
		}
	}
	fclose(f);
	/* a cases file that lost its lines must not pass quietly */
	assert_true(parsed >= 50);
	assert_true(converted >= 10);
}

/* The output is cut at a character boundary and always terminated. */
static void
test_utf16_edges(void **state)
{
	static const uint16_t euro[] = { 0x20AC, 0x20AC, 0x20AC };
	static const uint16_t ab[] = { 'A', 'B', 'C' };
	char out[8];

	(void)state;
	/* 3 bytes each: 7 bytes of room take two */
	assert_int_equal(bde_describe_utf16(euro, 3, out, 8), 6);
	assert_string_equal(out, "\xe2\x82\xac\xe2\x82\xac");
	assert_int_equal(bde_describe_utf16(euro, 3, out, 3), 0);
	assert_string_equal(out, "");
	assert_int_equal(bde_describe_utf16(ab, 3, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(bde_describe_utf16(ab, 3, out, 0), 0);
	/* n bounds the input even without a NUL unit */
	assert_int_equal(bde_describe_utf16(ab, 2, out, sizeof(out)), 2);
	assert_string_equal(out, "AB");
	/* a pair cut by n is an unpaired surrogate */
	{
		static const uint16_t pair[] = { 0xD83D, 0xDD12 };

		assert_int_equal(bde_describe_utf16(pair, 1, out, sizeof(out)),
		    3);
		assert_string_equal(out, "\xef\xbf\xbd");
	}
}

static void
test_parse_null(void **state)
{
	struct bde_description d;

	(void)state;
	assert_int_equal(bde_describe_parse(NULL, &d), -1);
	assert_string_equal(d.computer, "");
	assert_string_equal(d.drive, "");
}

static void
test_protector_types(void **state)
{
	static const struct {
		uint16_t raw;
		const char *name;
	} t[] = {
		{ 0x0000, "clear-key" }, { 0x0100, "tpm" },
		{ 0x0200, "startup-key" }, { 0x0300, "tpm+startup-key" },
		{ 0x0500, "tpm+pin" }, { 0x0700, "tpm+pin+startup-key" },
		{ 0x0800, "recovery-password" }, { 0x1000, "certificate" },
		{ 0x2000, "password" }, { 0x0400, "unknown" },
		{ 0x0001, "unknown" }, { 0xFFFF, "unknown" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_string_equal(bde_protector_type_name(t[i].raw),
		    t[i].name);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_utf16_edges),
		cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_protector_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
