/*
 * escrowtab.c - what the escrow walk (escrow.c, bdekey report) decodes
 * and keeps, without I/O: a binary objectSid as text, lastLogonTimestamp
 * (FILETIME), a DN's spelling-independent hash, and the table of
 * recovery objects counted per computer (DN hashes -> count, newest
 * whenCreated, the first volumes), kept on disk (core/scratch.h).
 * Fuzzed by tests/fuzz/fuzz_adsid.c.
 */
#include "ldap/ad_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Pure decoding                                                        */

int
ad_sid_text(const struct berval *bv, char out[AD_SID_TEXT_MAX])
{
	const unsigned char *p = (const unsigned char *)bv->bv_val;
	unsigned long long auth = 0;
	unsigned long sub;
	size_t n, i, off;

	/* Revision 1, SubAuthorityCount <= 15, then exactly that many */
	if (p == NULL || bv->bv_len < 8 || p[0] != 1 || p[1] > 15)
		return -1;
	n = p[1];
	if (bv->bv_len != 8 + 4 * n)
		return -1;
	/* IdentifierAuthority: 48 bits, big-endian */
	for (i = 2; i < 8; i++)
		auth = auth << 8 | p[i];
	/* [MS-DTYP] 2.4.2.1: decimal below 2^32, else 0x and 12 hex digits */
	off = (size_t)snprintf(out, AD_SID_TEXT_MAX, auth < 0x100000000ULL ?
	    "S-1-%llu" : "S-1-0x%012llX", auth);
	for (i = 0; i < n; i++) {
		/* SubAuthority: 32 bits, little-endian */
		sub = (unsigned long)p[8 + 4 * i] |
		    (unsigned long)p[9 + 4 * i] << 8 |
		    (unsigned long)p[10 + 4 * i] << 16 |
		    (unsigned long)p[11 + 4 * i] << 24;
		off += (size_t)snprintf(out + off, AD_SID_TEXT_MAX - off, "-%lu",
		    sub);
	}
	return 0;
}

/* 100-ns intervals from 1601-01-01 (FILETIME's epoch) to 1970-01-01 */
#define AD_FILETIME_1970 116444736000000000LL
/* 9999-12-31T23:59:59.9999999Z, the last time bdekey accepts */
#define AD_FILETIME_MAX 2650467743999999999LL

int
ad_filetime_parse(const struct berval *bv, time_t *out)
{
	const char *s = bv->bv_val;
	long long v = 0;
	size_t i;

	/* Integer8 as decimal text: no sign, no leading zero, <= 19 digits */
	if (s == NULL || bv->bv_len == 0 || bv->bv_len > 19 ||
	    (s[0] == '0' && bv->bv_len > 1))
		return -1;
	for (i = 0; i < bv->bv_len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    v > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	/* 0 and the largest value both say "never" */
	if (v == 0 || v == INT64_MAX) {
		*out = 0;
		return 0;
	}
	if (v < AD_FILETIME_1970 || v > AD_FILETIME_MAX)
		return -1;
	*out = (time_t)((v - AD_FILETIME_1970) / 10000000);
	return 0;
}

/* FNV-1a, 64 bits */
#define AD_FNV_OFFSET 0xcbf29ce484222325ULL
#define AD_FNV_PRIME 0x100000001b3ULL

static uint64_t
ad_fnv(uint64_t h, unsigned char c)
{
	return (h ^ c) * AD_FNV_PRIME;
}

/* What libldap's DN parser takes for a blank */
#define AD_SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

static unsigned char
ad_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int
ad_hex(char c)
{
	const char *x = "0123456789abcdef", *p;

	p = c != '\0' ? strchr(x, ad_lower((unsigned char)c)) : NULL;
	return p != NULL ? (int)(p - x) : -1;
}

/*
 * The one form a DN is hashed in (RFC 4514): attribute types and values
 * with ASCII case folded, escapes ("\,", "\2c") replaced by the bytes
 * they stand for, blanks around types, separators and values dropped,
 * and 0x00 before each '=' and separator (a value holds no NUL, so the
 * stream says where each value ends).  Multi-valued RDNs are hashed in
 * the order given, and the server writes both DNs the same way.
 */
int
ad_dn_hash(const char *dn, size_t len, uint64_t seed, uint64_t *out)
{
	uint64_t h = AD_FNV_OFFSET ^ seed;
	size_t i = 0, ws = 0, nws;
	unsigned char c;
	int hi, lo;

	if (dn == NULL || len == 0)
		return -1;
	for (;;) {
		/* the attribute type */
		while (i < len && AD_SPACE(dn[i]))
			i++;
		if (i == len || dn[i] == '=')
			return -1;
		for (; i < len && dn[i] != '=' && !AD_SPACE(dn[i]); i++) {
			c = (unsigned char)dn[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '.'))
				return -1;
			h = ad_fnv(h, ad_lower(c));
		}
		while (i < len && AD_SPACE(dn[i]))
			i++;
		if (i++ == len || dn[i - 1] != '=')
			return -1;
		h = ad_fnv(ad_fnv(h, 0), '=');
		/* the value: unescaped blanks count only before another byte */
		while (i < len && AD_SPACE(dn[i]))
			i++;
		for (nws = 0; i < len && dn[i] != ',' && dn[i] != '+' &&
		    dn[i] != ';';) {
			c = (unsigned char)dn[i++];
			if (c == '\0')
				return -1;
			if (AD_SPACE(c)) {
				ws = nws++ == 0 ? i - 1 : ws;
				continue;
			}
			if (c == '\\') {
				hi = i < len ? ad_hex(dn[i]) : -1;
				lo = i + 1 < len ? ad_hex(dn[i + 1]) : -1;
				if (hi >= 0 && lo >= 0) {
					c = (unsigned char)(hi << 4 | lo);
					i += 2;
				} else if (i < len && dn[i] != '\0' &&
				    strchr(" \"#+,;<=>\\", dn[i]) != NULL) {
					c = (unsigned char)dn[i++];
				} else {
					return -1;
				}
				if (c == '\0')
					return -1;
			}
			for (; nws > 0; nws--)
				h = ad_fnv(h, ad_lower((unsigned char)dn[ws++]));
			h = ad_fnv(h, ad_lower(c));
		}
		if (i == len)
			break;
		/* ';' is RFC 1779's ',' */
		h = ad_fnv(ad_fnv(h, 0), dn[i] == '+' ? '+' : ',');
		if (++i == len)
			return -1;
	}
	*out = h;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The join table                                                       */

/*
 * A computer's record, on disk (core/scratch.h): the DN's two hashes are
 * the key (128 bits: two DNs that share both, odds about n^2 / 2^129,
 * would share their keys), this the value.  The memory a walk uses does
 * not grow with the number of computers.
 */
#define AD_ESCROW_MORE 0x80000000u	/* in nkeys: more volumes than kept */
#define AD_ESCROW_NKEYS 0x7fffffffu

struct ad_escrow_rec {
	uint32_t nkeys;		/* saturating; AD_ESCROW_MORE or'ed in */
	uint32_t newest;	/* UTC seconds, 0 none (clamped at 2106) */
	uint32_t nvol;		/* volumes in vol */
	uint8_t vol[AD_ESCROW_VOLS][16];	/* as stored, in order met */
};

enum bde_status
ad_escrow_table_new(struct bde_dtab **out, char **errstr)
{
	return bde_dtab_new(2 * sizeof(uint64_t), sizeof(struct ad_escrow_rec),
	    out, errstr);
}

enum bde_status
ad_escrow_table_add(struct bde_dtab *t, const uint64_t key[2],
    time_t created, const uint8_t vol[16], char **errstr)
{
	struct ad_escrow_rec r;
	enum bde_status st;
	uint32_t i;
	int found;

	st = bde_dtab_get(t, key, &r, &found, errstr);
	if (st != BDE_OK)
		return st;
	if ((r.nkeys & AD_ESCROW_NKEYS) < AD_ESCROW_NKEYS)
		r.nkeys++;
	if (created > 0 && (uint64_t)created > r.newest)
		r.newest = (uint64_t)created > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)created;
	/* the first AD_ESCROW_VOLS distinct volumes, in the order met */
	for (i = 0; vol != NULL && i < r.nvol && i < AD_ESCROW_VOLS; i++)
		if (memcmp(r.vol[i], vol, 16) == 0)
			break;
	if (vol != NULL && i == r.nvol) {
		if (r.nvol < AD_ESCROW_VOLS)
			memcpy(r.vol[r.nvol++], vol, 16);
		else
			r.nkeys |= AD_ESCROW_MORE;
	}
	return bde_dtab_put(t, key, &r, errstr);
}

enum bde_status
ad_escrow_table_get(struct bde_dtab *t, const uint64_t key[2],
    struct ad_escrow_info *out, int *found, char **errstr)
{
	struct ad_escrow_rec r;
	enum bde_status st;

	memset(out, 0, sizeof(*out));
	st = bde_dtab_get(t, key, &r, found, errstr);
	if (st != BDE_OK || !*found)
		return st;
	out->nkeys = r.nkeys & AD_ESCROW_NKEYS;
	out->more = (r.nkeys & AD_ESCROW_MORE) != 0;
	out->newest = (time_t)r.newest;
	/* the disk is ours, yet a count is checked before it is used */
	out->nvol = r.nvol < AD_ESCROW_VOLS ? r.nvol : AD_ESCROW_VOLS;
	memcpy(out->vol, r.vol, sizeof(out->vol));
	return BDE_OK;
}
