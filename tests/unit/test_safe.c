/*
 * test_safe.c - cmd_safe: server text cannot act on a terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cmd/cmd.h"

static const struct {
	const char *in, *out;
} cases[] = {
	{ "PC-0042", "PC-0042" },
	{ "", "" },
	/* valid UTF-8 text stays as it is */
	{ "B\xc3\xbcro-M\xc3\xbcller \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91",
	  "B\xc3\xbcro-M\xc3\xbcller \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x91" },
	/* an escape sequence: clear the screen, set the window title */
	{ "EVIL\x1b[2J", "EVIL\\x1b[2J" },
	{ "\x1b]0;owned\x07", "\\x1b]0;owned\\x07" },
	/* OSC 8 hyperlink */
	{ "\x1b]8;;http://x\x1b\\a", "\\x1b]8;;http://x\\x1b\\a" },
	/* a forged line */
	{ "PC\r\nkey id      00000000", "PC\\x0d\\x0akey id      00000000" },
	{ "tab\there", "tab\\x09here" },
	{ "del\x7f", "del\\x7f" },
	/* C1 controls, encoded and raw */
	{ "a\xc2\x9b" "2J", "a\\u009b2J" },
	{ "a\x9b" "2J", "a\\x9b2J" },
	/* bidi override: "PC-evil" shown reversed */
	{ "\xe2\x80\xae" "live-CP", "\\u202elive-CP" },
	{ "x\xe2\x81\xa6y", "x\\u2066y" },
	/* invalid UTF-8: lone continuation, overlong, surrogate, truncated */
	{ "\x80", "\\x80" },
	{ "\xc0\xaf", "\\xc0\\xaf" },
	{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },
	{ "ok\xe6\x97", "ok\\xe6\\x97" },
	{ "\xff\xfe", "\\xff\\xfe" },
};

static void
test_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = cmd_safe(cases[i].in);

		if (strcmp(got, cases[i].out) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, got,
			    cases[i].out);
	}
	cmd_safe_release();
}

/* The result never holds a byte a terminal acts on. */
static void
test_no_controls(void **state)
{
	char in[256], out[2048];
	size_t i, n;

	(void)state;
	for (i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	n = cmd_safe_copy(in, out, sizeof(out));
	assert_true(n < sizeof(out));
	for (i = 0; out[i] != '\0'; i++) {
		unsigned char c = (unsigned char)out[i];

		assert_true(c >= 0x20 && c != 0x7f && c < 0x80);
	}
}

/* A short buffer is filled safely and NUL-terminated; the length is whole. */
static void
test_truncation(void **state)
{
	char out[6];
	size_t n;

	(void)state;
	n = cmd_safe_copy("ab\x1b" "cdef", out, sizeof(out));
	assert_int_equal(n, strlen("ab\\x1bcdef"));
	assert_string_equal(out, "ab");
	n = cmd_safe_copy("abcdefgh", out, sizeof(out));
	assert_int_equal(n, 8);
	assert_string_equal(out, "abcde");
}

/* Results stay valid for the ring's size. */
static void
test_ring(void **state)
{
	const char *first = cmd_safe("first");
	int i;

	(void)state;
	for (i = 0; i < 6; i++)
		(void)cmd_safe("x");
	assert_string_equal(first, "first");
	assert_string_equal(cmd_safe(NULL), "(null)");
	cmd_safe_release();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_no_controls),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
