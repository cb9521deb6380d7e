/*
 * test_ad_entry.c - ldap/entry.c, what a directory sends about a recovery
 * object: GeneralizedTime, stored GUIDs, the key ID and the time in the
 * CN, parent DN and RDN, DN equality, computer names, and the one
 * validity check.  Every value is handed over as a
 * berval in a buffer of exactly its length (no NUL after it), so a
 * decoder that reads one byte too far fails under ASan.
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

#define GUID "1A2B3C4D-5E6F-4A5B-8C7D-9E0F1A2B3C4D"
#define GUID2 "0BADC0DE-0000-4000-8000-000000000001"
/* GUID as AD stores it: first three fields little-endian (MS-DTYP) */
static const unsigned char guid_stored[16] = {
	0x4d, 0x3c, 0x2b, 0x1a, 0x6f, 0x5e, 0x5b, 0x4a,
	0x8c, 0x7d, 0x9e, 0x0f, 0x1a, 0x2b, 0x3c, 0x4d,
};

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

static struct berval
bv_str(const char *s)
{
	return bv_mem(s, strlen(s));
}

static void
bv_free(struct berval *bv)
{
	free(bv->bv_val);
	bv->bv_val = NULL;
	bv->bv_len = 0;
}

/* ------------------------------------------------------------------ */
/* GeneralizedTime                                                      */

static int
parse_time(const char *s, time_t *t)
{
	struct berval bv = bv_str(s);
	int r = ad_time_parse(&bv, t);

	bv_free(&bv);
	return r;
}

static void
expect_time(const char *s, long long want)
{
	time_t t = 0;

	if (parse_time(s, &t) != 0)
		fail_msg("'%s' was refused", s);
	if ((long long)t != want)
		fail_msg("'%s': %lld, expected %lld", s, (long long)t, want);
}

static void
expect_bad_time(const char *s)
{
	time_t t = 12345;

	if (parse_time(s, &t) == 0)
		fail_msg("'%s' was accepted as %lld", s, (long long)t);
	assert_int_equal((long long)t, 12345);	/* untouched */
}

static void
test_time_valid(void **state)
{
	(void)state;
	/* what AD sends for whenCreated */
	expect_time("20240601100000.0Z", 1717236000);
	expect_time("20240601100000Z", 1717236000);
	/* fractions of a second are dropped; RFC 4517 allows ',' too */
	expect_time("20240601100000,5Z", 1717236000);
	expect_time("20240601100000.999999999Z", 1717236000);
	/* offsets: local time = UTC + offset */
	expect_time("20240601120000+0200", 1717236000);
	expect_time("20240601083000-0130", 1717236000);
	expect_time("20240601100000.0+0000", 1717236000);
	expect_time("20240602000000+1400", 1717236000);
	/* calendar edges */
	expect_time("19700101000000Z", 0);
	expect_time("19691231235959Z", -1);
	expect_time("20240229000000Z", 1709164800);
	expect_time("20000229120000Z", 951868800 - 12 * 3600);
	expect_time("16010101000000Z", -11644473600LL);
	expect_time("99991231235959Z", 253402300799LL);
	/* a leap second is the next minute's first */
	expect_time("20161231235960Z", 1483228800);
}

static void
test_time_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"Z",
		"2024060110000Z",		/* 13 digits */
		"20240601100000",		/* no time zone */
		"20240601100000.0",
		"202406011000000Z",		/* 15 digits */
		"2024060110000aZ",
		" 0240601100000Z",
		"2024 601100000Z",		/* strptime skipped the blank */
		"2024-06-01T10:00:00Z",		/* RFC 3339, not LDAP */
		"+2024060110000Z",
		"20240601100000.Z",		/* a fraction needs a digit */
		"20240601100000,Z",
		"20240601100000..0Z",
		"20240601100000.0.0Z",
		"20240601100000ZZ",
		"20240601100000Z ",
		"20240601100000z",
		"20240601100000 Z",
		"20240601100000+02",		/* hours only */
		"20240601100000+020",
		"20240601100000+02000",
		"20240601100000+-1-1",		/* sscanf's %2d took signs */
		"20240601100000+ 1 2",		/* and blanks */
		"20240601100000+0a00",
		"20240601100000+0200Z",
		"20240601100000Z+0200",
		"20240601100000-",
		"20240601100000EST",
		/* as long as allowed (39), the offset one digit short: the
		   old parser read past the end here */
		"20240601100000.12345678901234567890+020",
		/* longer than any GeneralizedTime AD sends */
		"20240601100000.123456789012345678901234Z",
	};
	time_t t = 0;
	struct berval bv;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_time(bad[i]);
	/* no value, and an embedded NUL */
	bv.bv_val = NULL;
	bv.bv_len = 17;
	assert_int_equal(ad_time_parse(&bv, &t), -1);
	bv = bv_mem("20240601100000\0Z", 16);
	assert_int_equal(ad_time_parse(&bv, &t), -1);
	bv_free(&bv);
	bv = bv_mem("2024060110000\0000Z", 16);
	assert_int_equal(ad_time_parse(&bv, &t), -1);
	bv_free(&bv);
}

static void
test_time_out_of_range(void **state)
{
	static const char *const bad[] = {
		"20240001100000Z",	/* month 0 */
		"20241301100000Z",	/* month 13 */
		"20240600100000Z",	/* day 0 */
		"20240132100000Z",	/* day 32 */
		"20240431100000Z",	/* 31 April */
		"20230229100000Z",	/* 29 February, no leap year */
		"21000229100000Z",	/* 2100 is no leap year */
		"20240230100000Z",
		"20240601240000Z",	/* hour 24 */
		"20240601106000Z",	/* minute 60 */
		"20240601100061Z",	/* second 61 */
		"20240601100099Z",
		"20240601100000+2400",	/* offset hour 24 */
		"20240601100000+0060",	/* offset minute 60 */
		"20240601100000-9999",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_time(bad[i]);
}

/* ------------------------------------------------------------------ */
/* Stored GUIDs                                                         */

static void
test_guid_text(void **state)
{
	char out[BDE_GUID_LEN + 1];
	unsigned char big[17];
	struct berval bv;
	size_t n;

	(void)state;
	bv = bv_mem(guid_stored, 16);
	assert_int_equal(ad_guid_text(&bv, out), 0);
	assert_string_equal(out, GUID);
	bv_free(&bv);
	/* every other length is refused, the empty value and none too */
	memset(big, 0xab, sizeof(big));
	for (n = 0; n <= sizeof(big); n++) {
		if (n == 16)
			continue;
		bv = bv_mem(big, n);
		if (ad_guid_text(&bv, out) != -1)
			fail_msg("a %zu-byte GUID was accepted", n);
		bv_free(&bv);
	}
	bv.bv_val = NULL;
	bv.bv_len = 16;
	assert_int_equal(ad_guid_text(&bv, out), -1);
	/* the text form is no stored GUID */
	bv = bv_str(GUID);
	assert_int_equal(ad_guid_text(&bv, out), -1);
	bv_free(&bv);
}

/* ------------------------------------------------------------------ */
/* The key ID in the CN                                                 */

static int
cn_guid(const char *cn, char out[BDE_GUID_LEN + 1])
{
	struct berval bv = bv_str(cn);
	int r = ad_cn_guid(&bv, out);

	bv_free(&bv);
	return r;
}

static void
test_cn_guid(void **state)
{
	static const char *const good[] = {
		/* as BitLocker names them: local time with its offset */
		"2020-01-01T00:00:00-08:00{" GUID "}",
		"2024-06-01T10:00:00Z{" GUID "}",
		"2020-01-01T00:00:00+05:30{1a2b3c4d-5e6f-4a5b-8c7d-9e0f1a2b3c4d}",
		"{" GUID "}",
		"x{" GUID "}",
		/* only the end counts: a second GUID before it is no ID */
		"{" GUID2 "}{" GUID "}",
	};
	static const char *const bad[] = {
		"",
		"{",
		"{}",
		GUID,					/* no braces */
		"2020-01-01T00:00:00-08:00" GUID,
		"2020-01-01T00:00:00-08:00{" GUID,	/* no closing brace */
		"2020-01-01T00:00:00-08:00{" GUID "}x",	/* after the brace */
		"2020-01-01T00:00:00-08:00{" GUID "} ",
		"2020-01-01T00:00:00-08:00(" GUID ")",
		"{1A2B3C4D5E6F4A5B8C7D9E0F1A2B3C4D}",	/* no dashes */
		"{1A2B3C4D-5E6F-4A5B-8C7D-9E0F1A2B3C4}",	/* 35 digits */
		"{1A2B3C4D-5E6F-4A5B-8C7D-9E0F1A2B3C4G}",
		"{1A2B3C4D-5E6F-4A5B-8C7D9-E0F1A2B3C4D}",
		"{{" GUID "}}",
		"2020-01-01T00:00:00-08:00{" GUID2 "}{",
	};
	char out[BDE_GUID_LEN + 1], *big;
	struct berval bv;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(out, 0, sizeof(out));
		if (cn_guid(good[i], out) != 0)
			fail_msg("CN '%s' was refused", good[i]);
		assert_string_equal(out, GUID);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cn_guid(bad[i], out) != -1)
			fail_msg("CN '%s' was accepted", bad[i]);
	/* hostile lengths: every length around the 38 of "{GUID}" */
	for (n = 0; n < 38; n++) {
		bv = bv_mem("{" GUID "}" + 38 - n, n);
		if (ad_cn_guid(&bv, out) != -1)
			fail_msg("a CN of %zu bytes was accepted", n);
		bv_free(&bv);
	}
	/* a NUL inside, and no value at all */
	bv = bv_mem("{1A2B3C4D-5E6F-4A5B-8C7D\0009E0F1A2B3C4D}", 38);
	assert_int_equal(ad_cn_guid(&bv, out), -1);
	bv_free(&bv);
	bv.bv_val = NULL;
	bv.bv_len = 38;
	assert_int_equal(ad_cn_guid(&bv, out), -1);
	/* 64 KiB of anything before it */
	n = 65536;
	big = malloc(n + 38);
	assert_non_null(big);
	memset(big, '{', n);
	memcpy(big + n, "{" GUID "}", 38);
	bv = bv_mem(big, n + 38);
	assert_int_equal(ad_cn_guid(&bv, out), 0);
	assert_string_equal(out, GUID);
	bv_free(&bv);
	free(big);
}

/* ------------------------------------------------------------------ */
/* Parent DN and RDN                                                    */

static void
test_rdn_len(void **state)
{
	(void)state;
	assert_int_equal(ad_rdn_len("CN=a,OU=x", 9), 4);
	assert_int_equal(ad_rdn_len("CN=a\\,b,OU=x", 12), 7);
	/* an escaped backslash does not escape the comma after it */
	assert_int_equal(ad_rdn_len("CN=a\\\\,OU=x", 11), 6);
	assert_int_equal(ad_rdn_len("CN=a\\2Cb,OU=x", 13), 8);
	assert_int_equal(ad_rdn_len("CN=a", 4), 4);
	assert_int_equal(ad_rdn_len("CN=a\\,", 6), 6);
	/* a backslash at the very end escapes nothing past len */
	assert_int_equal(ad_rdn_len("CN=a\\", 5), 5);
	assert_int_equal(ad_rdn_len("CN=a\\,b", 5), 5);
	/* len is the end, not the NUL */
	assert_int_equal(ad_rdn_len("CN=a,OU=x", 3), 3);
	assert_int_equal(ad_rdn_len("", 0), 0);
}

static enum bde_status
parent(const char *dn, char **p, char **name, char **err)
{
	struct berval bv = bv_str(dn);
	enum bde_status st = ad_dn_parent("ldaps://dc", &bv, p, name, err);

	bv_free(&bv);
	return st;
}

static void
expect_parent(const char *dn, const char *want_parent, const char *want_name)
{
	char *p = NULL, *name = NULL, *err = NULL;

	if (parent(dn, &p, &name, &err) != BDE_OK)
		fail_msg("'%s': %s", dn, err ? err : "?");
	assert_string_equal(p, want_parent);
	assert_string_equal(name, want_name);
	free(p);
	free(name);
	free(err);
}

static void
expect_no_parent(const char *dn, const char *why)
{
	char *p = (char *)"x", *name = (char *)"x", *err = NULL;

	assert_int_equal(parent(dn, &p, &name, &err), BDE_EPROTO);
	assert_null(p);
	assert_null(name);
	assert_non_null(err);
	if (strstr(err, why) == NULL || strstr(err, "ldaps://dc: ") != err)
		fail_msg("'%s': message '%s' does not say '%s'", dn, err, why);
	free(err);
}

static void
test_dn_parent(void **state)
{
	(void)state;
	expect_parent("CN=2024-06-01T10:00:00Z{" GUID "},CN=PC-ALPHA,"
	    "OU=Computers,DC=bdekey,DC=test",
	    "CN=PC-ALPHA,OU=Computers,DC=bdekey,DC=test", "PC-ALPHA");
	/* the fixture's odd name: escaped comma, parentheses, star, UTF-8 */
	expect_parent("CN=2024-06-01T10:00:00Z{" GUID "},"
	    "CN=Lab (1) *x\\5Cy\\, Zo\xc3\xab,OU=Lab,DC=bdekey,DC=test",
	    "CN=Lab (1) *x\\5Cy\\, Zo\xc3\xab,OU=Lab,DC=bdekey,DC=test",
	    "Lab (1) *x\\y, Zo\xc3\xab");
	/* an escaped comma in the recovery object's own RDN */
	expect_parent("CN=a\\,b,CN=PC\\2C1,DC=test", "CN=PC\\2C1,DC=test",
	    "PC,1");
	expect_parent("CN=x,CN=y", "CN=y", "y");
	expect_no_parent("CN=2024{" GUID "}", "has no parent");
	expect_no_parent("CN=a\\,b", "has no parent");
	expect_no_parent("CN=a,", "has no parent");
	expect_no_parent("", "has no parent");
	expect_no_parent("CN=a,garbage", "cannot parse DN 'garbage'");
	expect_no_parent("CN=a,CN=b\\", "cannot parse DN");
	/* an empty value parses, to NULL (found by tests/fuzz/fuzz_ad_entry) */
	expect_no_parent("CN=a,CN=", "names no computer");
	expect_no_parent("CyC=Nx,D=", "names no computer");
}

/* ------------------------------------------------------------------ */
/* The validity check                                                   */

/* A recovery object: DN, CN and (when guid is not NULL) its GUID. */
static void
entry_init(struct ad_entry *v, const char *cn, const void *guid, size_t n)
{
	char dn[512];

	memset(v, 0, sizeof(*v));
	snprintf(dn, sizeof(dn), "CN=%s,CN=PC-ALPHA,DC=bdekey,DC=test", cn);
	v->dn = bv_str(dn);
	v->cn = bv_str(cn);
	if (guid != NULL) {
		v->guid = bv_mem(guid, n);
		v->has_guid = 1;
	}
}

static void
entry_release(struct ad_entry *v)
{
	bv_free(&v->dn);
	bv_free(&v->cn);
	bv_free(&v->guid);
}

/* Check v; expect status want and, on failure, a message with each of
   the NULL-ended strings after it. */
static void
expect_valid(struct ad_entry *v, enum bde_status want, ...)
{
	char id[BDE_GUID_LEN + 1], *err = NULL;
	const char *s;
	va_list ap;

	memset(id, 0, sizeof(id));
	assert_int_equal(ad_recovery_check("ldaps://dc", v, id, &err), want);
	if (want == BDE_OK) {
		assert_null(err);
		assert_string_equal(id, GUID);
	} else {
		assert_non_null(err);
		va_start(ap, want);
		while ((s = va_arg(ap, const char *)) != NULL)
			if (strstr(err, s) == NULL)
				fail_msg("'%s' does not say '%s'", err, s);
		va_end(ap);
		free(err);
	}
	/* no errstr wanted: the same status */
	assert_int_equal(ad_recovery_check("ldaps://dc", v, id, NULL), want);
}

static void
test_recovery_check(void **state)
{
	struct ad_entry v;
	uint8_t other[16], written[16];

	(void)state;
	/* CN and attribute agree, in any case */
	entry_init(&v, "2020-01-01T00:00:00-08:00{" GUID "}", guid_stored, 16);
	expect_valid(&v, BDE_OK);
	entry_release(&v);
	entry_init(&v, "2020-01-01T00:00:00-08:00{"
	    "1a2b3c4d-5e6f-4a5b-8c7d-9e0f1a2b3c4d}", guid_stored, 16);
	expect_valid(&v, BDE_OK);
	entry_release(&v);
	/* a CN without a key ID: the attribute alone names it */
	entry_init(&v, "renamed", guid_stored, 16);
	expect_valid(&v, BDE_OK);
	entry_release(&v);
	entry_init(&v, "x", guid_stored, 16);
	bv_free(&v.cn);
	expect_valid(&v, BDE_OK);
	entry_release(&v);

	/* no msFVE-RecoveryGuid: refused, even when the CN names one */
	entry_init(&v, "2020-01-01T00:00:00-08:00{" GUID "}", NULL, 0);
	expect_valid(&v, BDE_EPROTO, "ldaps://dc: recovery object 'CN=2020",
	    "has no valid msFVE-RecoveryGuid", (char *)NULL);
	entry_release(&v);
	entry_init(&v, "no-id", NULL, 0);
	expect_valid(&v, BDE_EPROTO, "has no valid msFVE-RecoveryGuid",
	    (char *)NULL);
	entry_release(&v);
	/* present but not 16 bytes */
	entry_init(&v, "{" GUID "}", guid_stored, 15);
	expect_valid(&v, BDE_EPROTO, "msFVE-RecoveryGuid is 15 bytes, not 16",
	    (char *)NULL);
	entry_release(&v);
	entry_init(&v, "{" GUID "}", "", 0);
	expect_valid(&v, BDE_EPROTO, "is 0 bytes, not 16", (char *)NULL);
	entry_release(&v);

	/* the CN names another key ID than the attribute: both named */
	assert_int_equal(bde_guid_parse(GUID2, written), 0);
	bde_guid_swap_ms(written, other);
	entry_init(&v, "2020-01-01T00:00:00-08:00{" GUID "}", other, 16);
	expect_valid(&v, BDE_EPROTO, "key ID {" GUID "} in its name differs "
	    "from msFVE-RecoveryGuid {" GUID2 "}", (char *)NULL);
	entry_release(&v);
	/* one byte apart: the stored order is compared, not the text */
	memcpy(other, guid_stored, 16);
	other[0] ^= 1;
	entry_init(&v, "{" GUID "}", other, 16);
	expect_valid(&v, BDE_EPROTO, "differs from", (char *)NULL);
	entry_release(&v);
	/* the attribute in written order, as a careless tool would store it */
	assert_int_equal(bde_guid_parse(GUID, written), 0);
	entry_init(&v, "{" GUID "}", written, 16);
	expect_valid(&v, BDE_EPROTO, "differs from", (char *)NULL);
	entry_release(&v);
}

/* ------------------------------------------------------------------ */
/* The time in a CN, and when an object was made                        */

static void
expect_cn_time(const char *cn, long long want)
{
	struct berval bv = bv_str(cn);
	time_t t = 12345;

	if (want < 0) {
		assert_int_equal(ad_cn_time(&bv, &t), -1);
		assert_int_equal((long long)t, 12345);
	} else {
		assert_int_equal(ad_cn_time(&bv, &t), 0);
		assert_int_equal((long long)t, want);
	}
	bv_free(&bv);
}

static void
test_cn_time(void **state)
{
	struct ad_entry v;
	time_t t;

	(void)state;
	/* BitLocker's form: local time and its offset from UTC */
	expect_cn_time("2023-10-10T10:00:00-08:00{" GUID "}", 1696960800);
	expect_cn_time("2023-10-10T18:00:00+00:00{" GUID "}", 1696960800);
	expect_cn_time("2023-10-10T18:00:00Z{" GUID "}", 1696960800);
	expect_cn_time("2024-02-29T23:59:60+01:30{" GUID "}", 1709245800);
	/* anything else: no time */
	expect_cn_time("unreadable{" GUID "}", -1);
	expect_cn_time("{" GUID "}", -1);
	expect_cn_time("2023-10-10 10:00:00-08:00{" GUID "}", -1);
	expect_cn_time("2023-10-10T10:00:00-0800{" GUID "}", -1);
	expect_cn_time("2023-10-10T10:00:00-08:00", -1);
	expect_cn_time("2023-10-10T10:00:00.5Z{" GUID "}", -1);
	expect_cn_time("2023-02-30T10:00:00Z{" GUID "}", -1);
	expect_cn_time("2023-10-10T24:00:00Z{" GUID "}", -1);
	expect_cn_time("2023-10-10T10:00:00-24:00{" GUID "}", -1);
	expect_cn_time("+023-10-10T10:00:00Z{" GUID "}", -1);
	expect_cn_time("", -1);

	/* whenCreated first, else the CN's time, else none */
	entry_init(&v, "2023-10-10T10:00:00-08:00{" GUID "}", guid_stored, 16);
	v.when = bv_str("20240601100000.0Z");
	assert_int_equal(ad_entry_created(&v, &t), 0);
	assert_int_equal((long long)t, 1717236000);
	bv_free(&v.when);
	v.when = bv_str("garbage");
	assert_int_equal(ad_entry_created(&v, &t), 0);
	assert_int_equal((long long)t, 1696960800);
	bv_free(&v.when);
	assert_int_equal(ad_entry_created(&v, &t), 0);
	entry_release(&v);
	entry_init(&v, "renamed{" GUID "}", guid_stored, 16);
	assert_int_equal(ad_entry_created(&v, &t), -1);
	entry_release(&v);
}

/* ------------------------------------------------------------------ */
/* Computer names                                                       */

static int
named(const char *cn, const char *sam, const char *dns, const char *name)
{
	struct ad_entry v;
	int r;

	memset(&v, 0, sizeof(v));
	if (cn != NULL)
		v.cn = bv_str(cn);
	if (sam != NULL)
		v.sam = bv_str(sam);
	if (dns != NULL)
		v.dns = bv_str(dns);
	r = ad_computer_named(&v, name);
	bv_free(&v.cn);
	bv_free(&v.sam);
	bv_free(&v.dns);
	return r;
}

static void
test_computer_named(void **state)
{
	(void)state;
	assert_true(named("PC1", "PC1$", NULL, "PC1"));
	assert_true(named("PC1", "PC1$", NULL, "pc1"));
	assert_true(named("PC1", "PC1$", NULL, "PC1$"));
	assert_true(named(NULL, "PC1$", NULL, "pc1"));
	/* longer than NetBIOS: cn/sAMAccountName cut to 15 */
	assert_true(named("LONGCOMPUTERNAM", "LONGCOMPUTERNAM$",
	    "longcomputername-0042.hostile.test", "LONGCOMPUTERNAME-0042"));
	assert_false(named("LONGCOMPUTERNAM", "LONGCOMPUTERNAM$",
	    "longcomputername-0043.hostile.test", "LONGCOMPUTERNAME-0042"));
	assert_false(named("LONGCOMPUTERNAM", "LONGCOMPUTERNAM$", NULL,
	    "LONGCOMPUTERNAME-0042"));
	/* the first label, whole: no prefix matches */
	assert_false(named("X", "X$", "longcomputername-00421.test",
	    "LONGCOMPUTERNAME-0042"));
	assert_true(named("X", "X$", "longcomputername-0042",
	    "LONGCOMPUTERNAME-0042"));
	/* a dotted name: dNSHostName whole */
	assert_true(named("PC1", "PC1$", "pc1.example.test",
	    "PC1.example.test"));
	assert_false(named("PC1", "PC1$", "pc1.example.test", "PC1.example"));
	assert_false(named("PC1", "PC1$", NULL, "PC2"));
	assert_false(named("PC1", "PC1$", NULL, ""));
	assert_false(named("PC1", "PC1$", NULL, "$"));
	assert_false(named(NULL, NULL, NULL, "PC1"));
	/* sAMAccountName needs its "$" */
	assert_false(named(NULL, "PC1", NULL, "PC1"));
}

/* ------------------------------------------------------------------ */
/* DN equality                                                          */

static int
dn_equal(const char *a, const char *b)
{
	struct berval x = bv_str(a), y = bv_str(b);
	int r = ad_dn_equal(&x, &y);

	bv_free(&x);
	bv_free(&y);
	return r;
}

static void
test_dn_equal(void **state)
{
	(void)state;
	assert_true(dn_equal("CN=PC1,OU=W,DC=x", "CN=PC1,OU=W,DC=x"));
	assert_true(dn_equal("CN=PC1,OU=W,DC=x", "cn=pc1,ou=w,dc=X"));
	assert_true(dn_equal("CN=PC1,OU=W,DC=x", "CN=PC1, OU=W, DC=x"));
	/* escapes: \, and \2C are one comma */
	assert_true(dn_equal("CN=Lab\\, A,DC=x", "CN=Lab\\2C A,DC=x"));
	assert_false(dn_equal("CN=PC1,OU=W,DC=x", "CN=PC1,OU=X,DC=x"));
	assert_false(dn_equal("CN=PC1,OU=W,DC=x", "CN=PC1,OU=W"));
	assert_false(dn_equal("CN=PC1", "CN=PC1\\"));
	assert_false(dn_equal("", "CN=PC1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_valid),
		cmocka_unit_test(test_time_malformed),
		cmocka_unit_test(test_time_out_of_range),
		cmocka_unit_test(test_guid_text),
		cmocka_unit_test(test_cn_guid),
		cmocka_unit_test(test_rdn_len),
		cmocka_unit_test(test_dn_parent),
		cmocka_unit_test(test_recovery_check),
		cmocka_unit_test(test_cn_time),
		cmocka_unit_test(test_computer_named),
		cmocka_unit_test(test_dn_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
