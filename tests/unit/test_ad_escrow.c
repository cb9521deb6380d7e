/*
 * test_ad_escrow.c - ldap/escrow.c's pure parts: objectSid as text,
 * lastLogonTimestamp (FILETIME) as time, the DN hash that joins recovery
 * objects to their computers, and the join table on disk (many
 * computers, growth, volumes kept once, newest time, two keys that share
 * one hash).  Values are handed over in buffers of exactly their length
 * (no NUL after them), so a parser that reads one byte too far fails
 * under ASan.
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

/* A berval holding a copy of n bytes of s, in a buffer of exactly n. */
static struct berval
bv_mem(const void *s, size_t n)
{
	struct berval bv;

	bv.bv_len = n;
	bv.bv_val = malloc(n ? n : 1);
	assert_non_null(bv.bv_val);
	memcpy(bv.bv_val, s, n);
	return bv;
}

/* ------------------------------------------------------------------ */
/* objectSid                                                            */

/* A binary SID: revision, authority (48 bits), n sub-authorities. */
static size_t
sid_bytes(unsigned char *b, int rev, unsigned long long auth, size_t n,
    const unsigned long *sub)
{
	size_t i;

	b[0] = (unsigned char)rev;
	b[1] = (unsigned char)n;
	for (i = 0; i < 6; i++)
		b[2 + i] = (unsigned char)(auth >> (8 * (5 - i)));
	for (i = 0; i < n; i++) {
		b[8 + 4 * i] = (unsigned char)sub[i];
		b[9 + 4 * i] = (unsigned char)(sub[i] >> 8);
		b[10 + 4 * i] = (unsigned char)(sub[i] >> 16);
		b[11 + 4 * i] = (unsigned char)(sub[i] >> 24);
	}
	return 8 + 4 * n;
}

/* ad_sid_text of n bytes of b: its text, or NULL when refused. */
static const char *
sid(const unsigned char *b, size_t n)
{
	static char out[AD_SID_TEXT_MAX];
	struct berval bv = bv_mem(b, n);
	int r;

	memset(out, 'x', sizeof(out));
	r = ad_sid_text(&bv, out);
	free(bv.bv_val);
	if (r < 0) {
		/* untouched on failure */
		assert_int_equal(out[0], 'x');
		return NULL;
	}
	assert_non_null(memchr(out, '\0', sizeof(out)));
	return out;
}

static void
test_sid_valid(void **state)
{
	static const unsigned long dom[] = { 21, 1004336348, 1177238915,
	    682003330, 512 };
	unsigned long all[15];
	unsigned char b[8 + 4 * 16];
	size_t n, i;

	(void)state;
	n = sid_bytes(b, 1, 5, 5, dom);
	assert_string_equal(sid(b, n),
	    "S-1-5-21-1004336348-1177238915-682003330-512");
	/* well-known, no or one sub-authority */
	n = sid_bytes(b, 1, 0, 0, NULL);
	assert_string_equal(sid(b, n), "S-1-0");
	n = sid_bytes(b, 1, 1, 1, (const unsigned long[]){ 0 });
	assert_string_equal(sid(b, n), "S-1-1-0");
	/* an authority of 2^32 or more is written in hex (MS-DTYP 2.4.2.1) */
	n = sid_bytes(b, 1, 0xffffffffULL, 1, (const unsigned long[]){ 7 });
	assert_string_equal(sid(b, n), "S-1-4294967295-7");
	n = sid_bytes(b, 1, 0x100000000ULL, 1, (const unsigned long[]){ 7 });
	assert_string_equal(sid(b, n), "S-1-0x000100000000-7");
	/* the longest text fits */
	for (i = 0; i < 15; i++)
		all[i] = 0xffffffffUL;
	n = sid_bytes(b, 1, 0xffffffffffffULL, 15, all);
	assert_string_equal(sid(b, n), "S-1-0xFFFFFFFFFFFF"
	    "-4294967295-4294967295-4294967295-4294967295-4294967295"
	    "-4294967295-4294967295-4294967295-4294967295-4294967295"
	    "-4294967295-4294967295-4294967295-4294967295-4294967295");
	assert_int_equal(strlen(sid(b, n)), AD_SID_TEXT_MAX - 1);
}

static void
test_sid_malformed(void **state)
{
	static const unsigned long dom[] = { 21, 1, 2, 3, 1105 };
	unsigned long many[16] = { 0 };
	unsigned char b[8 + 4 * 16];
	struct berval none = { 0, NULL };
	char out[AD_SID_TEXT_MAX];
	size_t n;

	(void)state;
	n = sid_bytes(b, 1, 5, 5, dom);
	assert_non_null(sid(b, n));
	/* cut short, one byte too many, no header */
	assert_null(sid(b, n - 1));
	assert_null(sid(b, n - 4));
	b[n] = 0;
	assert_null(sid(b, n + 1));
	assert_null(sid(b, 7));
	assert_null(sid(b, 0));
	/* revision 2, or 0 */
	n = sid_bytes(b, 2, 5, 5, dom);
	assert_null(sid(b, n));
	n = sid_bytes(b, 0, 5, 5, dom);
	assert_null(sid(b, n));
	/* 16 sub-authorities: more than a SID may have */
	n = sid_bytes(b, 1, 5, 16, many);
	assert_null(sid(b, n));
	/* a count that says more than is there */
	n = sid_bytes(b, 1, 5, 5, dom);
	b[1] = 6;
	assert_null(sid(b, n));
	assert_int_equal(ad_sid_text(&none, out), -1);
}

/* ------------------------------------------------------------------ */
/* lastLogonTimestamp                                                   */

/* ad_filetime_parse of s: 0 and *t, or -1 (t left at 12345). */
static int
filetime(const char *s, time_t *t)
{
	struct berval bv = bv_mem(s, strlen(s));
	int r;

	*t = 12345;
	r = ad_filetime_parse(&bv, t);
	free(bv.bv_val);
	if (r < 0)
		assert_int_equal(*t, 12345);
	return r;
}

static void
test_filetime(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", "01", "00", " 1", "1 ", "1.0", "1e9", "0x10",
		"12a", "9223372036854775808", "18446744073709551615",
		"99999999999999999999", "116444735999999999",
		"2650467744000000000", "1\n",
	};
	struct berval none = { 0, NULL };
	time_t t;
	size_t i;

	(void)state;
	/* 2024-01-14T21:20:00Z */
	assert_int_equal(filetime("133497408000000000", &t), 0);
	assert_int_equal(t, 1705267200);
	/* 100 ns steps below a second are dropped */
	assert_int_equal(filetime("133497408009999999", &t), 0);
	assert_int_equal(t, 1705267200);
	/* never: 0 and the largest Integer8 */
	assert_int_equal(filetime("0", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(filetime("9223372036854775807", &t), 0);
	assert_int_equal(t, 0);
	/* the bounds: 1970 and the end of 9999 */
	assert_int_equal(filetime("116444736010000000", &t), 0);
	assert_int_equal(t, 1);
	assert_int_equal(filetime("2650467743999999999", &t), 0);
	assert_int_equal((long long)t, 253402300799LL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (filetime(bad[i], &t) != -1)
			fail_msg("FILETIME '%s' accepted", bad[i]);
	assert_int_equal(ad_filetime_parse(&none, &t), -1);
}

/* ------------------------------------------------------------------ */
/* DN hash                                                              */

/* ad_dn_hash of s in a buffer of exactly its length: 0 and *h, or -1. */
static int
dn_hash(const char *s, uint64_t seed, uint64_t *h)
{
	struct berval bv = bv_mem(s, strlen(s));
	int r = ad_dn_hash(bv.bv_val, bv.bv_len, seed, h);

	free(bv.bv_val);
	return r;
}

static int
same(const char *a, const char *b)
{
	uint64_t ha, hb;

	if (dn_hash(a, 42, &ha) < 0 || dn_hash(b, 42, &hb) < 0)
		fail_msg("'%s' or '%s' does not hash", a, b);
	return ha == hb;
}

static void
test_dn_hash(void **state)
{
	/* pairs that name the same object */
	static const char *const eq[][2] = {
		{ "CN=PC-ALPHA,OU=Workstations,DC=bdekey,DC=test",
		  "cn=pc-alpha,ou=workstations,dc=bdekey,dc=test" },
		{ "CN=PC-ALPHA,OU=Workstations,DC=bdekey,DC=test",
		  "CN = PC-ALPHA , OU=Workstations,  DC=bdekey,DC=test" },
		{ "CN=PC1,DC=x", "CN=PC1;DC=x" },
		/* Samba's escapes against hex ones (a UTF-8 e-umlaut too) */
		{ "CN=Lab (1) *x\\\\y\\, Zo\xc3\xab,OU=W,DC=x",
		  "CN=Lab (1) *x\\5cy\\2c Zo\\c3\\ab,OU=W,DC=x" },
		{ "CN=a\\+b,DC=x", "CN=a\\2Bb,DC=x" },
		{ "CN=a\\=b,DC=x", "CN=a=b,DC=x" },
		/* unescaped spaces at the end of a value do not count */
		{ "CN=a ,DC=x", "CN=a,DC=x" },
		{ "CN=a b,DC=x", "CN=A B,DC=X" },
	};
	/* pairs that do not */
	static const char *const ne[][2] = {
		{ "CN=PC1,OU=W,DC=x", "CN=PC1,OU=X,DC=x" },
		{ "CN=PC1,OU=W,DC=x", "CN=PC1,OU=W" },
		{ "CN=a\\,b,DC=x", "CN=a,CN=b,DC=x" },
		{ "CN=a\\+OU=b,DC=x", "CN=a+OU=b,DC=x" },
		{ "CN=a\\ ,DC=x", "CN=a,DC=x" },
		{ "CN=a  b,DC=x", "CN=a b,DC=x" },
		{ "CN=ab,DC=x", "CN=a,BDC=x" },
		{ "OU=a,DC=x", "CN=a,DC=x" },
		{ "CN=Zo\xc3\xab,DC=x", "CN=ZO\xc3\x8b,DC=x" },
	};
	static const char *const bad[] = {
		"", "CN", "=a", "CN=a,", "CN=a,DC", "CN=a\\", "CN=a\\z",
		"CN=a\\0", "CN=a\\00b", "CN=a,,DC=x", "C N=a", "CN(=a",
		"CN=a+", ",CN=a",
	};
	uint64_t h1, h2;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(eq) / sizeof(eq[0]); i++)
		if (!same(eq[i][0], eq[i][1]))
			fail_msg("'%s' and '%s' hash apart", eq[i][0], eq[i][1]);
	for (i = 0; i < sizeof(ne) / sizeof(ne[0]); i++)
		if (same(ne[i][0], ne[i][1]))
			fail_msg("'%s' and '%s' hash alike", ne[i][0], ne[i][1]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dn_hash(bad[i], 0, &h1) != -1)
			fail_msg("DN '%s' hashed", bad[i]);
	/* a NUL byte inside is refused, not a cut */
	assert_int_equal(ad_dn_hash("CN=a\0b,DC=x", 11, 0, &h1), -1);
	assert_int_equal(ad_dn_hash(NULL, 0, 0, &h1), -1);
	/* the seed changes every hash */
	assert_int_equal(dn_hash("CN=a,DC=x", 1, &h1), 0);
	assert_int_equal(dn_hash("CN=a,DC=x", 2, &h2), 0);
	assert_true(h1 != h2);
}

/* ------------------------------------------------------------------ */
/* The join table                                                       */

/* The volume GUID numbered i (its first 4 bytes) . */
static const uint8_t *
vol(uint32_t i)
{
	static uint8_t v[16];

	memset(v, 0xc3, sizeof(v));
	memcpy(v, &i, sizeof(i));
	return v;
}

/* A table key: the pair of DN hashes (x and its complement). */
#define K(x) ((const uint64_t[2]){ (uint64_t)(x), ~(uint64_t)(x) })

static struct bde_dtab *
new_table(void)
{
	struct bde_dtab *t = NULL;
	char *err = NULL;

	assert_int_equal(ad_escrow_table_new(&t, &err), BDE_OK);
	assert_null(err);
	return t;
}

/* add, as 0 (BDE_OK) or the status */
static int
add(struct bde_dtab *t, const uint64_t key[2], time_t created,
    const uint8_t vol[16])
{
	char *err = NULL;
	int st = (int)ad_escrow_table_add(t, key, created, vol, &err);

	free(err);
	return st;
}

/* get: 1 found, 0 not, -1 failed */
static int
get(struct bde_dtab *t, const uint64_t key[2], struct ad_escrow_info *in)
{
	char *err = NULL;
	int found = 0;
	enum bde_status st = ad_escrow_table_get(t, key, in, &found, &err);

	free(err);
	return st != BDE_OK ? -1 : found;
}

static void
test_table_basic(void **state)
{
	struct bde_dtab *t = new_table();
	struct ad_escrow_info in;

	(void)state;
	assert_non_null(t);
	/* an empty table has nothing, for any hash */
	assert_int_equal(get(t, K(0), &in), 0);
	assert_int_equal(get(t, K(1), &in), 0);
	/* hashes 0 and all ones are hashes like the others */
	assert_int_equal(add(t, K(0), 100, vol(1)), 0);
	assert_int_equal(add(t, K(UINT64_MAX), 200, NULL), 0);
	assert_int_equal(get(t, K(0), &in), 1);
	assert_int_equal(in.nkeys, 1);
	assert_int_equal(in.newest, 100);
	assert_int_equal(in.nvol, 1);
	assert_memory_equal(in.vol[0], vol(1), 16);
	assert_int_equal(get(t, K(UINT64_MAX), &in), 1);
	assert_int_equal(in.nkeys, 1);
	assert_int_equal(in.newest, 200);
	assert_int_equal(in.nvol, 0);
	assert_int_equal(get(t, K(1), &in), 0);
	assert_int_equal(in.nkeys, 0);
	/* two DNs whose first hashes agree stay apart: the key is both */
	assert_int_equal(add(t, ((const uint64_t[2]){ 5, 1 }), 300, NULL), 0);
	assert_int_equal(add(t, ((const uint64_t[2]){ 5, 2 }), 400, NULL), 0);
	assert_int_equal(add(t, ((const uint64_t[2]){ 5, 2 }), 10, NULL), 0);
	assert_int_equal(get(t, ((const uint64_t[2]){ 5, 1 }), &in), 1);
	assert_int_equal(in.nkeys, 1);
	assert_int_equal(in.newest, 300);
	assert_int_equal(get(t, ((const uint64_t[2]){ 5, 2 }), &in), 1);
	assert_int_equal(in.nkeys, 2);
	assert_int_equal(in.newest, 400);
	bde_dtab_free(t);
	bde_dtab_free(NULL);
}

static void
test_table_volumes(void **state)
{
	struct bde_dtab *t = new_table();
	struct ad_escrow_info in;
	uint32_t i;

	(void)state;
	assert_non_null(t);
	/* a rotation history: keys on volumes A, B, A, A (and one without) */
	assert_int_equal(add(t, K(7), 1000, vol(0xa)), 0);
	assert_int_equal(add(t, K(7), 3000, vol(0xb)), 0);
	assert_int_equal(add(t, K(7), 2000, vol(0xa)), 0);
	assert_int_equal(add(t, K(7), 0, vol(0xa)), 0);
	assert_int_equal(add(t, K(7), -5, NULL), 0);
	assert_int_equal(get(t, K(7), &in), 1);
	assert_int_equal(in.nkeys, 5);
	/* the newest whenCreated, whatever the order met */
	assert_int_equal(in.newest, 3000);
	assert_int_equal(in.nvol, 2);
	assert_false(in.more);
	assert_memory_equal(in.vol[0], vol(0xa), 16);
	assert_memory_equal(in.vol[1], vol(0xb), 16);
	/* six distinct volumes: the first four kept, "more" said */
	for (i = 0; i < 6; i++)
		assert_int_equal(add(t, K(8), 10, vol(i)), 0);
	assert_int_equal(add(t, K(8), 10, vol(5)), 0);
	assert_int_equal(add(t, K(8), 10, vol(0)), 0);
	assert_int_equal(get(t, K(8), &in), 1);
	assert_int_equal(in.nkeys, 8);
	assert_int_equal(in.nvol, AD_ESCROW_VOLS);
	assert_true(in.more);
	for (i = 0; i < AD_ESCROW_VOLS; i++)
		assert_memory_equal(in.vol[i], vol(i), 16);
	/* exactly four: not "more" */
	for (i = 0; i < 4; i++)
		assert_int_equal(add(t, K(9), 10, vol(i)), 0);
	assert_int_equal(get(t, K(9), &in), 1);
	assert_int_equal(in.nvol, 4);
	assert_false(in.more);
	/* a time past 2106 is kept as the latest a table can hold */
	assert_int_equal(add(t, K(10), (time_t)253402300799LL,
	    NULL), 0);
	assert_int_equal(get(t, K(10), &in), 1);
	assert_int_equal((long long)in.newest, (long long)UINT32_MAX);
	bde_dtab_free(t);
}

static uint64_t
mix(uint64_t x)
{
	/* splitmix64: distinct inputs, distinct well-spread hashes */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
test_table_many(void **state)
{
	const uint32_t n = 200000;
	struct bde_dtab *t = new_table();
	struct ad_escrow_info in;
	uint32_t i;

	(void)state;
	assert_non_null(t);
	/* 200,000 computers with 1 to 3 keys; computer i on volume i */
	for (i = 0; i < n; i++)
		assert_int_equal(add(t, K(mix(i)), 1000 + i,
		    vol(i)), 0);
	for (i = 0; i < n; i += 3)
		assert_int_equal(add(t, K(mix(i)), 5, vol(i)), 0);
	for (i = 0; i < n; i += 5)
		assert_int_equal(add(t, K(mix(i)), 999999999,
		    vol(i)), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(get(t, K(mix(i)), &in), 1);
		assert_int_equal(in.nkeys, 1 + (i % 3 == 0) + (i % 5 == 0));
		assert_int_equal(in.newest, i % 5 == 0 ? 999999999 : 1000 + i);
		assert_int_equal(in.nvol, 1);
		assert_memory_equal(in.vol[0], vol(i), 16);
	}
	/* hashes never added are not there */
	for (i = n; i < n + 1000; i++)
		assert_int_equal(get(t, K(mix(i)), &in), 0);
	/* 200,000 computers: the table's own count */
	assert_int_equal(bde_dtab_count(t), n);
	bde_dtab_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sid_valid),
		cmocka_unit_test(test_sid_malformed),
		cmocka_unit_test(test_filetime),
		cmocka_unit_test(test_dn_hash),
		cmocka_unit_test(test_table_basic),
		cmocka_unit_test(test_table_volumes),
		cmocka_unit_test(test_table_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
