/*
 * fuzz_adsid.c - libFuzzer target for what bdekey report reads from a
 * directory (ldap/escrow.c), all from one input: the input as a binary
 * objectSid, as a lastLogonTimestamp, as a DN to hash; and as a list of
 * operations on the join table.
 *
 * Properties beyond "no crash" (every value is copied into a buffer of
 * exactly its length, so reading past it is an ASan report):
 *   - a SID is accepted exactly when its header says revision 1, at
 *     most 15 sub-authorities and the length is theirs; its text fits
 *     and reads back to the same bytes;
 *   - a FILETIME is accepted exactly when it is plain digits without a
 *     leading zero, within int64, 0 / the largest ("never") or between
 *     1970 and 9999; the seconds are the value's;
 *   - a DN that hashes hashes the same upper-cased, and the same as
 *     libldap's reading of it written back (RFC 4514), when libldap can
 *     read it (but "#" values): the join never depends on how the server
 *     spells a DN;
 *   - the table agrees with a plain model (counts, newest time, the
 *     first four distinct volumes in order, "more").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/ad_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct berval
copy(const uint8_t *p, size_t n)
{
	struct berval bv;

	bv.bv_val = malloc(n ? n : 1);
	if (bv.bv_val == NULL)
		abort();
	memcpy(bv.bv_val, p, n);
	bv.bv_len = n;
	return bv;
}

static void
check_sid(const uint8_t *data, size_t size)
{
	struct berval bv = copy(data, size);
	char out[AD_SID_TEXT_MAX], *p, *end;
	unsigned char back[8 + 4 * 15];
	unsigned long long v;
	size_t n = 0, i;
	int ok = size >= 8 && data[0] == 1 && data[1] <= 15 &&
	    size == 8 + 4 * (size_t)data[1];

	if ((ad_sid_text(&bv, out) == 0) != ok)
		abort();
	free(bv.bv_val);
	if (!ok)
		return;
	if (memchr(out, '\0', sizeof(out)) == NULL ||
	    strncmp(out, "S-1-", 4) != 0)
		abort();
	/* read it back: authority (decimal, or 0x hex), sub-authorities */
	back[0] = 1;
	p = out + 4;
	v = strncmp(p, "0x", 2) == 0 ? strtoull(p + 2, &end, 16) :
	    strtoull(p, &end, 10);
	for (i = 0; i < 6; i++)
		back[2 + i] = (unsigned char)(v >> (8 * (5 - i)));
	for (p = end; *p == '-'; p = end, n++) {
		v = strtoull(p + 1, &end, 10);
		if (n >= 15 || v > 0xffffffffULL)
			abort();
		for (i = 0; i < 4; i++)
			back[8 + 4 * n + i] = (unsigned char)(v >> (8 * i));
	}
	back[1] = (unsigned char)n;
	if (*p != '\0' || 8 + 4 * n != size || memcmp(back, data, size) != 0)
		abort();
}

static void
check_filetime(const uint8_t *data, size_t size)
{
	struct berval bv = copy(data, size);
	unsigned __int128 v = 0;
	time_t t = 12345;
	size_t i;
	int ok = size >= 1 && size <= 20 && (data[0] != '0' || size == 1);

	for (i = 0; ok && i < size; i++) {
		ok = data[i] >= '0' && data[i] <= '9';
		v = v * 10 + (data[i] - '0');
	}
	ok = ok && v <= INT64_MAX && (v == 0 || v == INT64_MAX ||
	    (v >= 116444736000000000ULL && v <= 2650467743999999999ULL));
	if ((ad_filetime_parse(&bv, &t) == 0) != ok)
		abort();
	free(bv.bv_val);
	if (!ok) {
		if (t != 12345)
			abort();
		return;
	}
	if (v == 0 || v == INT64_MAX ? t != 0 :
	    (long long)t != (long long)((v - 116444736000000000ULL) / 10000000))
		abort();
}

/* Whether a blank follows a backslash somewhere in p. */
static int
escaped_blank(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (p[i - 1] == '\\' && strchr(" \t\n\r", p[i]) != NULL &&
		    p[i] != '\0')
			return 1;
	return 0;
}

static void
check_dn(const uint8_t *data, size_t size)
{
	struct berval bv = copy(data, size), up = copy(data, size), canon;
	uint64_t h, h2;
	LDAPDN ldn = NULL;
	char *z;
	size_t i;

	if (ad_dn_hash(bv.bv_val, bv.bv_len, 99, &h) < 0)
		goto out;
	for (i = 0; i < size; i++)
		if (up.bv_val[i] >= 'a' && up.bv_val[i] <= 'z')
			up.bv_val[i] -= 32;
	if (ad_dn_hash(up.bv_val, up.bv_len, 99, &h2) < 0 || h2 != h)
		abort();
	/* libldap reads one byte past bv_len: a NUL-terminated copy */
	z = malloc(size + 1);
	if (z == NULL)
		abort();
	memcpy(z, data, size);
	z[size] = '\0';
	canon.bv_val = NULL;
	/*
	 * Not for "#" (BER) values, which no directory sends for a name:
	 * libldap 2.5 reads "CN=#04 x ==b,DC=y" as "CN=#04" alone; nor
	 * after "\\" and a blank, which it keeps as if the blank were
	 * escaped ("CN=a\\\n" -> "CN=a\5C\0A").
	 */
	if (memchr(data, '#', size) == NULL && !escaped_blank(data, size) &&
	    ldap_bv2dn(&(struct berval){ .bv_len = size, .bv_val = z }, &ldn,
	    LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS && ldn != NULL &&
	    ldap_dn2bv(ldn, &canon, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
	    canon.bv_val != NULL && ad_dn_hash(canon.bv_val, canon.bv_len, 99,
	    &h2) == 0 && h2 != h) {
		fprintf(stderr, "'%.*s' and libldap's '%s' hash apart\n",
		    (int)size, z, canon.bv_val);
		abort();
	}
	ber_memfree(canon.bv_val);
	if (ldn != NULL)
		ldap_dnfree(ldn);
	free(z);
out:
	free(bv.bv_val);
	free(up.bv_val);
}

/* The model of one computer in the table. */
struct model {
	unsigned nkeys;
	time_t newest;
	unsigned nvol;
	int more;
	uint8_t vol[AD_ESCROW_VOLS];
};

static void
check_table(const uint8_t *data, size_t size)
{
	struct bde_dtab *t = NULL;
	struct ad_escrow_info in;
	uint64_t key[2];
	char *err = NULL;
	int found;
	struct model m[16];
	uint8_t guid[16];
	size_t i, j;
	unsigned c, v;

	if (ad_escrow_table_new(&t, &err) != BDE_OK)
		abort();
	memset(m, 0, sizeof(m));
	/* 3 bytes an operation: computer, volume (7: none), time */
	for (i = 0; i + 3 <= size; i += 3) {
		c = data[i] & 15;
		v = data[i + 1] & 7;
		memset(guid, 0x5a, sizeof(guid));
		guid[15] = (uint8_t)v;
		key[0] = (uint64_t)c * 0x9e3779b97f4a7c15ULL;
		key[1] = c;
		if (ad_escrow_table_add(t, key, (time_t)data[i + 2] - 100,
		    v == 7 ? NULL : guid, &err) != BDE_OK)
			abort();
		m[c].nkeys++;
		if (data[i + 2] > 100 && data[i + 2] - 100 > m[c].newest)
			m[c].newest = data[i + 2] - 100;
		if (v == 7)
			continue;
		for (j = 0; j < m[c].nvol && m[c].vol[j] != v; j++)
			;
		if (j < m[c].nvol)
			continue;
		if (m[c].nvol == AD_ESCROW_VOLS)
			m[c].more = 1;
		else
			m[c].vol[m[c].nvol++] = (uint8_t)v;
	}
	for (c = 0; c < 16; c++) {
		key[0] = (uint64_t)c * 0x9e3779b97f4a7c15ULL;
		key[1] = c;
		if (ad_escrow_table_get(t, key, &in, &found, &err) != BDE_OK)
			abort();
		if (!found) {
			if (m[c].nkeys != 0)
				abort();
			continue;
		}
		if (in.nkeys != m[c].nkeys || in.newest != m[c].newest ||
		    in.nvol != m[c].nvol || in.more != m[c].more)
			abort();
		for (j = 0; j < in.nvol; j++)
			if (in.vol[j][15] != m[c].vol[j] || in.vol[j][0] != 0x5a)
				abort();
	}
	bde_dtab_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_sid(data, size);
	check_filetime(data, size);
	check_dn(data, size);
	check_table(data, size);
	return 0;
}
