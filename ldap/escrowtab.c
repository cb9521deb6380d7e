/*
 * escrowtab.c - what the escrow walk (escrow.c, bdekey report) decodes
 * and keeps, without I/O: a binary objectSid as text, lastLogonTimestamp
 * (FILETIME), a DN's spelling-independent hash, and the compact table of
 * recovery objects counted per computer (DN hash -> count, newest
 * whenCreated, the first volumes).  Fuzzed by tests/fuzz/fuzz_adsid.c.
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
 * Memory per computer with keys: a record (20 bytes), a volume node (20
 * bytes) per distinct volume kept (AD_ESCROW_VOLS at most) and 6 to 11
 * bytes of slots (a load of 35 to 70 %): about 50 bytes with one
 * volume, 70 with two, plus up to half again as arrays double.  It keeps
 * 64-bit hashes, not DNs: two DNs with one hash (odds about n^2 / 2^65;
 * the seed is random per walk) would share their keys.
 */
#define AD_ESCROW_MORE 0x80000000u	/* in nkeys: more volumes than kept */
#define AD_ESCROW_NKEYS 0x7fffffffu
/* every index + 1 fits a uint32_t link */
#define AD_ESCROW_MAX_ITEMS (UINT32_MAX / 2)

struct ad_escrow_rec {
	uint32_t hash[2];	/* low, high 32 bits */
	uint32_t nkeys;		/* saturating; AD_ESCROW_MORE or'ed in */
	uint32_t newest;	/* UTC seconds, 0 none (clamped at 2106) */
	uint32_t vols;		/* first volume: index + 1, 0 none */
};

struct ad_escrow_vol {
	uint8_t guid[16];	/* as stored */
	uint32_t next;		/* index + 1, 0 last */
};

struct ad_escrow_table {
	uint32_t *slot;		/* record index + 1, 0 empty */
	size_t nslot;		/* a power of two */
	struct ad_escrow_rec *rec;
	size_t nrec, caprec;
	struct ad_escrow_vol *vol;
	size_t nvol, capvol;
};

struct ad_escrow_table *
ad_escrow_table_new(void)
{
	return calloc(1, sizeof(struct ad_escrow_table));
}

void
ad_escrow_table_free(struct ad_escrow_table *t)
{
	if (t == NULL)
		return;
	free(t->rec);
	free(t->vol);
	free(t->slot);
	free(t);
}

/* Where h goes: murmur3's finaliser, as FNV's low bits mix poorly. */
static size_t
ad_escrow_bucket(uint64_t h, size_t nslot)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (size_t)h & (nslot - 1);
}

static uint64_t
ad_escrow_hash(const struct ad_escrow_rec *r)
{
	return (uint64_t)r->hash[1] << 32 | r->hash[0];
}

/* The slot holding h, or the empty one where it would go. */
static uint32_t *
ad_escrow_find(const struct ad_escrow_table *t, uint64_t h)
{
	size_t b = ad_escrow_bucket(h, t->nslot);

	/* linear probing; the load stays below 70 %: there is a hole */
	while (t->slot[b] != 0 && ad_escrow_hash(&t->rec[t->slot[b] - 1]) != h)
		b = (b + 1) & (t->nslot - 1);
	return &t->slot[b];
}

/* Double the slots (1024 at first).  0, or -1 out of memory. */
static int
ad_escrow_grow(struct ad_escrow_table *t)
{
	size_t n = t->nslot ? t->nslot * 2 : 1024, i;
	uint32_t *old = t->slot;

	t->slot = calloc(n, sizeof(*t->slot));
	if (t->slot == NULL) {
		t->slot = old;
		return -1;
	}
	t->nslot = n;
	for (i = 0; i < t->nrec; i++)
		*ad_escrow_find(t, ad_escrow_hash(&t->rec[i])) = (uint32_t)(i + 1);
	free(old);
	return 0;
}

/* v (of *cap items of size) with room for item n, or NULL. */
static void *
ad_escrow_room(void *v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 256;

	if (n < *cap)
		return v;
	if (n >= AD_ESCROW_MAX_ITEMS || (v = reallocarray(v, c, size)) == NULL)
		return NULL;
	*cap = c;
	return v;
}

int
ad_escrow_table_add(struct ad_escrow_table *t, uint64_t h, time_t created,
    const uint8_t vol[16])
{
	struct ad_escrow_rec *r;
	uint32_t *s, i, last = 0;
	size_t kept = 0;
	void *nv;

	if ((t->nrec + 1) * 10 > t->nslot * 7 && ad_escrow_grow(t) < 0)
		return -1;
	s = ad_escrow_find(t, h);
	if (*s == 0) {
		nv = ad_escrow_room(t->rec, &t->caprec, t->nrec, sizeof(*r));
		if (nv == NULL)
			return -1;
		t->rec = nv;
		memset(&t->rec[t->nrec], 0, sizeof(*r));
		t->rec[t->nrec].hash[0] = (uint32_t)h;
		t->rec[t->nrec].hash[1] = (uint32_t)(h >> 32);
		*s = (uint32_t)++t->nrec;
	}
	r = &t->rec[*s - 1];
	if ((r->nkeys & AD_ESCROW_NKEYS) < AD_ESCROW_NKEYS)
		r->nkeys++;
	if (created > 0 && (uint64_t)created > r->newest)
		r->newest = (uint64_t)created > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)created;
	if (vol == NULL)
		return 0;
	/* the first AD_ESCROW_VOLS distinct volumes, in the order met */
	for (i = r->vols; i != 0; last = i, i = t->vol[i - 1].next, kept++)
		if (memcmp(t->vol[i - 1].guid, vol, 16) == 0)
			return 0;
	if (kept == AD_ESCROW_VOLS) {
		r->nkeys |= AD_ESCROW_MORE;
		return 0;
	}
	nv = ad_escrow_room(t->vol, &t->capvol, t->nvol, sizeof(*t->vol));
	if (nv == NULL)
		return -1;
	t->vol = nv;
	memcpy(t->vol[t->nvol].guid, vol, 16);
	t->vol[t->nvol].next = 0;
	*(last ? &t->vol[last - 1].next : &r->vols) = (uint32_t)++t->nvol;
	return 0;
}

int
ad_escrow_table_get(const struct ad_escrow_table *t, uint64_t h,
    struct ad_escrow_info *out)
{
	const struct ad_escrow_rec *r;
	uint32_t *s, i;

	memset(out, 0, sizeof(*out));
	if (t->nslot == 0 || *(s = ad_escrow_find(t, h)) == 0)
		return -1;
	r = &t->rec[*s - 1];
	out->nkeys = r->nkeys & AD_ESCROW_NKEYS;
	out->more = (r->nkeys & AD_ESCROW_MORE) != 0;
	out->newest = (time_t)r->newest;
	for (i = r->vols; i != 0 && out->nvol < AD_ESCROW_VOLS;
	    i = t->vol[i - 1].next)
		memcpy(out->vol[out->nvol++], t->vol[i - 1].guid, 16);
	return 0;
}

size_t
ad_escrow_table_bytes(const struct ad_escrow_table *t)
{
	return sizeof(*t) + t->nslot * sizeof(*t->slot) +
	    t->caprec * sizeof(*t->rec) + t->capvol * sizeof(*t->vol);
}

