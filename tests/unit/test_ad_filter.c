/*
 * test_ad_filter.c - LDAP filter values: RFC 4515 escaping of names, and
 * the msFVE-RecoveryGuid filter for key IDs in AD's mixed-endian order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ldap/ad_int.h"

#define PRE "(&(objectClass=msFVE-RecoveryInformation)(msFVE-RecoveryGuid="

static void
expect_escape(const char *in, const char *want)
{
	char *got = ad_filter_escape(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_escape(void **state)
{
	(void)state;
	expect_escape("PC-ALPHA", "PC-ALPHA");
	/* the fixture's weird computer name, and an injection attempt */
	expect_escape("Lab (1) *x\\y, Zo\xc3\xab", "Lab \\281\\29 \\2ax\\5cy, Zo\xc3\xab");
	expect_escape("*)(objectClass=*", "\\2a\\29\\28objectClass=\\2a");
	expect_escape("O'Brien", "O'Brien");
	expect_escape("", "");
}

/* The filter for keyid against Samba (samba 1) or Windows (0). */
static void
expect_filter_for(int samba, const char *keyid, const char *want)
{
	struct bde_keyid id;
	char *got;

	assert_int_equal(bde_keyid_parse(keyid, &id, NULL), BDE_OK);
	got = ad_keyid_filter(&id, samba);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* The same filter for both, where no NUL byte is involved. */
static void
expect_filter(const char *keyid, const char *want)
{
	expect_filter_for(0, keyid, want);
	expect_filter_for(1, keyid, want);
}

static void
test_keyid_filter(void **state)
{
	(void)state;
	/* 8 digits: the first field, bytes reversed, as an initial substring */
	expect_filter("1A2B3C4D", PRE "\\4D\\3C\\2B\\1A*))");
	/* odd field lengths fix no more stored bytes than the whole fields */
	expect_filter("1A2B3C4D5E6", PRE "\\4D\\3C\\2B\\1A*))");
	expect_filter("1A2B3C4D-5E6F", PRE "\\4D\\3C\\2B\\1A\\6F\\5E*))");
	expect_filter("1A2B3C4D5E6F4A5B", PRE
	    "\\4D\\3C\\2B\\1A\\6F\\5E\\5B\\4A*))");
	expect_filter("1A2B3C4D5E6F4A5B8C7D", PRE
	    "\\4D\\3C\\2B\\1A\\6F\\5E\\5B\\4A\\8C\\7D*))");
	/* a full ID: equality on all 16 stored bytes */
	expect_filter("{1a2b3c4d-5e6f-4a5b-8c7d-9e0f1a2b3c4d}", PRE
	    "\\4D\\3C\\2B\\1A\\6F\\5E\\5B\\4A\\8C\\7D\\9E\\0F\\1A\\2B\\3C\\4D))");
	/* Microsoft's example GUID, stored BA 7A 96 BF E6 0D D0 11 ... */
	expect_filter("BF967ABA-0DE6-11D0-A285-00AA003049E2", PRE
	    "\\BA\\7A\\96\\BF\\E6\\0D\\D0\\11\\A2\\85\\00\\AA\\00\\30\\49\\E2))");
	/* Samba cuts substring values at NUL: stop before it... */
	expect_filter_for(1, "001A2B3C", PRE "\\3C\\2B\\1A*))");
	/* ...and when the first stored byte is NUL, match the CN instead */
	expect_filter_for(1, "AB000100",
	    "(&(objectClass=msFVE-RecoveryInformation)(cn=*{AB000100*))");
	expect_filter_for(1, "AB000100-0000",
	    "(&(objectClass=msFVE-RecoveryInformation)(cn=*{AB000100-0000*))");
	expect_filter_for(1, "000000AB", PRE "\\AB*))");
	/*
	 * Windows compares octet strings byte by byte, NUL included: the
	 * whole prefix, never cut (cut, 000000AB would ask for 1 in 256 of
	 * the domain's recovery objects)
	 */
	expect_filter_for(0, "001A2B3C", PRE "\\3C\\2B\\1A\\00*))");
	expect_filter_for(0, "AB000100", PRE "\\00\\01\\00\\AB*))");
	expect_filter_for(0, "000000AB", PRE "\\AB\\00\\00\\00*))");
	expect_filter_for(0, "00000000-0000", PRE
	    "\\00\\00\\00\\00\\00\\00*))");
	/* a full ID is equality either way, NUL bytes and all */
	expect_filter_for(1, "00000000-0000-0000-0000-000000000000", PRE
	    "\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00))");
}

static void
test_keyid_filter_refuses(void **state)
{
	struct bde_keyid id;

	(void)state;
	/* only what bde_keyid_parse makes reaches a filter */
	memset(&id, 0, sizeof(id));
	memcpy(id.hex, "1A2B3C4)", 8);
	id.len = 8;
	assert_null(ad_keyid_filter(&id, 0));
	assert_null(ad_keyid_filter(&id, 1));
	memcpy(id.hex, "1A2B3C4D", 8);
	id.len = 7;
	assert_null(ad_keyid_filter(&id, 0));
	id.len = 33;
	assert_null(ad_keyid_filter(&id, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_keyid_filter),
		cmocka_unit_test(test_keyid_filter_refuses),
	};

	return cmocka_run_group_tests_name("ad_filter", tests, NULL, NULL);
}
