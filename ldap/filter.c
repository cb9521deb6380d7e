/*
 * filter.c - LDAP filter values for the AD backend: RFC 4515 escaping of
 * names, and the indexed msFVE-RecoveryGuid filter for key-ID prefixes.
 * Pure string work, unit-tested in tests/unit/test_ad_filter.c.
 */
#include "ldap/ad_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Escape s for a filter value (RFC 4515 3: '*', '(', ')', '\' and NUL
 * as \XX).  Returns a new string the caller frees, or NULL.
 */
char *
ad_filter_escape(const char *s)
{
	size_t n = 0, i;
	char *out, *p;

	for (i = 0; s[i] != '\0'; i++)
		n += strchr("*()\\", s[i]) != NULL ? 3 : 1;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	for (p = out, i = 0; s[i] != '\0'; i++) {
		if (strchr("*()\\", s[i]) != NULL)
			p += sprintf(p, "\\%02x", (unsigned char)s[i]);
		else
			*p++ = s[i];
	}
	*p = '\0';
	return out;
}

/*
 * How many leading bytes of the stored (mixed-endian) GUID a key-ID
 * prefix of n hex digits fixes.  Storage order is field 1 reversed
 * (bytes 3 2 1 0), field 2 reversed (5 4), field 3 reversed (7 6), then
 * bytes 8..15 as written (MS-DTYP 2.3.4.2).  A field fixes its stored
 * bytes only when all its digits are known: 10 digits fix written byte 4,
 * which is stored after the unknown byte 5, so they give no more than 8.
 */
static size_t
ad_guid_stored_prefix(size_t n)
{
	if (n >= 16)
		return 8 + (n - 16) / 2;
	if (n >= 12)
		return 6;
	return 4;
}

/*
 * The filter for recovery objects whose key ID starts with id: equality
 * on all 16 stored bytes of msFVE-RecoveryGuid for a full ID, else an
 * initial substring of the stored bytes the prefix fixes (served from
 * the attribute's index by Windows DCs).  Hits are still re-checked on
 * the decoded GUID: the filter may be wider than the query (odd digit
 * counts, partial fields, Samba's cut below), never narrower.
 *
 * Windows compares octet strings byte by byte, NUL included, for
 * equality, ordering and substrings alike ([MS-ADTS] 3.1.1.2.2.4.7,
 * Octet comparison rule: "each byte in the value is treated as if it was
 * a character"), so the prefix goes as it is: key ID 000000AB is
 * (msFVE-RecoveryGuid=\AB\00\00\00*).  An ordering range (>= prefix,
 * < prefix + 1) would select the same objects, but needs a carry for
 * prefixes ending in FF and says less plainly what is meant; the
 * substring is what the index serves.
 *
 * Samba 4.17 compares substring chunks as C strings: it cuts a chunk at
 * its first NUL byte, and an initial chunk that starts with NUL matches
 * nothing (measured).  For Samba only (samba set: the RootDSE's
 * vendorName) the chunk is cut before its first NUL here, and when the
 * first stored byte is NUL (key IDs whose digits 7-8 are "00", 1 in
 * 256) the key ID is matched in the CN, "<time>{GUID}", instead.  Cut
 * against Windows, the same filter would select 1 in 256 of the domain's
 * recovery objects for such an ID.  Returns a new string the caller
 * frees, or NULL.
 */
char *
ad_keyid_filter(const struct bde_keyid *id, int samba)
{
	uint8_t written[16], stored[16];
	char value[16 * 3 + 1], dashed[BDE_GUID_LEN + 1], *p, *f = NULL;
	size_t i, n, nbytes;
	unsigned b;

	/* only hex digits ever reach the filter (bde_keyid_parse's output) */
	if (id->len < 8 || id->len > 32 || strspn(id->hex,
	    "0123456789ABCDEFabcdef") < id->len)
		return NULL;
	memset(written, 0, sizeof(written));
	for (i = 0; i + 1 < id->len && i / 2 < 16; i += 2) {
		if (sscanf(id->hex + i, "%2x", &b) != 1)
			return NULL;
		written[i / 2] = (uint8_t)b;
	}
	bde_guid_swap_ms(written, stored);
	if (id->len == 32) {
		nbytes = 16;
	} else {
		nbytes = ad_guid_stored_prefix(id->len);
		for (n = 0; samba && n < nbytes && stored[n] != 0; n++)
			;
		if (samba)
			nbytes = n;
	}
	if (nbytes == 0) {
		/* the prefix as written in the CN: dashes after 8-4-4-4 */
		for (p = dashed, i = 0; i < id->len; i++) {
			if (i == 8 || i == 12 || i == 16 || i == 20)
				*p++ = '-';
			*p++ = id->hex[i];
		}
		*p = '\0';
		if (asprintf(&f, "(&(objectClass=" AD_CLASS_RECOVERY
		    ")(cn=*{%s*))", dashed) < 0)
			return NULL;
		return f;
	}
	for (p = value, i = 0; i < nbytes; i++)
		p += sprintf(p, "\\%02X", stored[i]);
	if (asprintf(&f, "(&(objectClass=" AD_CLASS_RECOVERY ")("
	    AD_ATTR_GUID "=%s%s))", value, nbytes == 16 ? "" : "*") < 0)
		return NULL;
	return f;
}
