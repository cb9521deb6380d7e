/*
 * test_core.c - key ID queries, GUID byte orders, time format, secret
 * files and key lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"

static void
test_keyid_forms(void **state)
{
	static const char *const good[] = {
		"1a2b3c4d", "1A2B3C4D", "{1A2B3C4D", "{1A2B3C4D}", " 1a2b3c4d ",
		"1A2B3C4D-5E6F", "1A2B3C4D5E6F4A5B8C7D9E0F1A2B3C4D",
		"{1a2b3c4d-5e6f-4a5b-8c7d-9e0f1a2b3c4d}",
	};
	struct bde_keyid id;
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(bde_keyid_parse(good[i], &id, &err), BDE_OK);
		assert_true(bde_keyid_match(&id,
		    "1A2B3C4D-5E6F-4A5B-8C7D-9E0F1A2B3C4D"));
		assert_false(bde_keyid_match(&id,
		    "1A2B3C4E-5E6F-4A5B-8C7D-9E0F1A2B3C4D"));
	}
	assert_int_equal(bde_keyid_parse("{1a2b3c4d-5e6f-4a5b-8c7d-"
	    "9e0f1a2b3c4d}", &id, NULL), BDE_OK);
	assert_int_equal(id.len, 32);
	assert_string_equal(id.hex, "1A2B3C4D5E6F4A5B8C7D9E0F1A2B3C4D");
}

static void
test_keyid_malformed(void **state)
{
	static const char *const bad[] = {
		"", "1A2B3C4", "1A2B-3C4D", "1A2B3C4G", "1A2B3C4D--5E6F",
		"1A2B3C4D}", "1A2B3C4D5E6F4A5B8C7D9E0F1A2B3C4D0", "*", "1A2B3C4D)",
		"{{1A2B3C4D",
	};
	struct bde_keyid id;
	char *err = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bde_keyid_parse(bad[i], &id, &err) != BDE_EUSAGE)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(err);
		assert_null(strchr(err, '\n'));
		free(err);
		err = NULL;
	}
}

/* Microsoft's example: {BF967ABA-0DE6-11D0-A285-00AA003049E2} is stored
 * BA 7A 96 BF E6 0D D0 11 A2 85 00 AA 00 30 49 E2. */
static void
test_guid_mixed_endian(void **state)
{
	static const uint8_t stored[16] = {
		0xBA, 0x7A, 0x96, 0xBF, 0xE6, 0x0D, 0xD0, 0x11,
		0xA2, 0x85, 0x00, 0xAA, 0x00, 0x30, 0x49, 0xE2
	};
	uint8_t g[16], back[16];
	char text[BDE_GUID_LEN + 1];

	(void)state;
	bde_guid_swap_ms(stored, g);
	bde_guid_format(g, text);
	assert_string_equal(text, "BF967ABA-0DE6-11D0-A285-00AA003049E2");
	assert_int_equal(bde_guid_parse("{bf967aba-0de6-11d0-a285-00aa003049e2}",
	    back), 0);
	assert_memory_equal(back, g, 16);
	bde_guid_swap_ms(back, back);
	assert_memory_equal(back, stored, 16);
	assert_int_equal(bde_guid_parse("BF967ABA-0DE6-11D0-A285-00AA003049E", g),
	    -1);
	assert_int_equal(bde_guid_parse("BF967ABA-0DE611D0-A285-00AA003049E2X",
	    g), -1);
	assert_int_equal(bde_guid_parse("BF967ABA-0DE6-11D0-A285-00AA003049EZ",
	    g), -1);
}

static void
test_time_and_sort(void **state)
{
	struct bde_keylist l = BDE_KEYLIST_INIT;
	struct bde_key *k;
	char t[21];
	int i;

	(void)state;
	bde_time_format(1704880800, t);
	assert_string_equal(t, "2024-01-10T10:00:00Z");
	for (i = 0; i < 20; i++) {
		k = bde_keylist_add(&l);
		assert_non_null(k);
		k->created = 1000 + (i % 5);
		k->seq = i;
		snprintf(k->key_id, sizeof(k->key_id), "%08d", i);
		k->password = strdup("secret");
	}
	bde_keylist_sort(&l);
	for (i = 1; i < 20; i++)
		assert_true(l.v[i - 1].created > l.v[i].created ||
		    (l.v[i - 1].created == l.v[i].created &&
		    l.v[i - 1].seq > l.v[i].seq));
	bde_keylist_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
}

static void
test_secret_file(void **state)
{
	char path[] = "/tmp/bdekey-test-secretXXXXXX";
	char *s = NULL, *err = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hunter2\nsecond line\n", 20), 20);
	close(fd);
	chmod(path, 0600);
	assert_int_equal(bde_secret_read_file(path, &s, &err), BDE_OK);
	assert_string_equal(s, "hunter2");
	bde_secret_free(s);
	chmod(path, 0644);
	assert_int_equal(bde_secret_read_file(path, &s, &err), BDE_ECONFIG);
	assert_non_null(strstr(err, "readable by others"));
	free(err);
	err = NULL;
	unlink(path);
	assert_int_equal(bde_secret_read_file(path, &s, &err), BDE_EIO);
	assert_null(s);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyid_forms),
		cmocka_unit_test(test_keyid_malformed),
		cmocka_unit_test(test_guid_mixed_endian),
		cmocka_unit_test(test_time_and_sort),
		cmocka_unit_test(test_secret_file),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
