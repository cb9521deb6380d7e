/*
 * fuzz_ad_entry.c - libFuzzer target for what a directory sends about a
 * recovery object or a computer (ldap/entry.c) and for the key-ID filter
 * (ldap/filter.c), all from one input.
 *
 * The input is a flags byte, then fields separated by 0x1f:
 *   whenCreated, msFVE-RecoveryGuid (bytes), cn, DN, dNSHostName,
 *   sAMAccountName, a computer name asked for, a key ID as typed.
 * Missing fields are absent attributes (the DN is always there, as
 * libldap always gives one).  Flags: bit 0, the GUID attribute counts as
 * present.  The filter is built for Windows and for Samba alike.  Every
 * value is copied into a buffer of exactly its length, so reading past it
 * is an ASan report.
 *
 * Properties beyond "no crash":
 *   - a GUID decodes to canonical text that encodes back to its bytes;
 *   - a key ID found in a CN, or by the validity check, is canonical, and
 *     the check's ID is the attribute's;
 *   - times only come from well-formed text (fixed lengths);
 *   - a parent DN is the tail of the DN after its first RDN, and a DN
 *     equals itself;
 *   - the key-ID filter is one balanced AND of objectClass and one
 *     assertion, every '\' starts two hex digits, and its bytes are the
 *     stored (mixed-endian) form of the ID's leading bytes: whole for
 *     Windows, cut before a NUL for Samba (or the CN form).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldap/ad_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS 8
#define FIELD_SEP 0x1f
#define FILTER_HEAD "(&(objectClass=" AD_CLASS_RECOVERY ")("

/* A field as a berval in a buffer of exactly its length (NULL: absent). */
static struct berval
field(const uint8_t *p, size_t n, int present)
{
	struct berval bv = { 0, NULL };

	if (!present)
		return bv;
	bv.bv_val = malloc(n ? n : 1);
	if (bv.bv_val == NULL)
		abort();
	memcpy(bv.bv_val, p, n);
	bv.bv_len = n;
	return bv;
}

static int
canonical(const char *id)
{
	uint8_t g[16];
	char again[BDE_GUID_LEN + 1];

	if (strlen(id) != BDE_GUID_LEN || bde_guid_parse(id, g) < 0)
		return 0;
	bde_guid_format(g, again);
	return strcmp(again, id) == 0;
}

static void
check_guid(const struct berval *guid)
{
	char id[BDE_GUID_LEN + 1];
	uint8_t written[16], stored[16];

	if (ad_guid_text(guid, id) < 0) {
		if (guid->bv_val != NULL && guid->bv_len == 16)
			abort();
		return;
	}
	if (!canonical(id) || bde_guid_parse(id, written) < 0)
		abort();
	bde_guid_swap_ms(written, stored);
	if (memcmp(stored, guid->bv_val, 16) != 0)
		abort();
}

static void
check_times(const struct ad_entry *v)
{
	time_t t;

	if (ad_time_parse(&v->when, &t) == 0 &&
	    (v->when.bv_len < 15 || v->when.bv_len > 39))
		abort();
	/* "YYYY-MM-DDTHH:MM:SS" + "Z" or "+HH:MM", then "{GUID}" */
	if (ad_cn_time(&v->cn, &t) == 0 && v->cn.bv_len != 20 + 38 &&
	    v->cn.bv_len != 25 + 38)
		abort();
	(void)ad_entry_created(v, &t);
}

static void
check_dn(const struct ad_entry *v)
{
	char *parent = NULL, *name = NULL, *err = NULL;
	size_t n;

	if (v->dn.bv_val == NULL)
		return;
	n = ad_rdn_len(v->dn.bv_val, v->dn.bv_len);
	if (n > v->dn.bv_len)
		abort();
	if (ad_dn_parent("fuzz://", &v->dn, &parent, &name, &err) == BDE_OK) {
		if (parent == NULL || name == NULL || err != NULL ||
		    strlen(parent) != v->dn.bv_len - n - 1 ||
		    memcmp(parent, v->dn.bv_val + n + 1, strlen(parent)) != 0)
			abort();
	} else if (parent != NULL || name != NULL || err == NULL) {
		abort();
	}
	free(parent);
	free(name);
	free(err);
	if (memchr(v->dn.bv_val, '\0', v->dn.bv_len) == NULL &&
	    !ad_dn_equal(&v->dn, &v->dn))
		abort();
	if (v->cn.bv_val != NULL)
		(void)ad_dn_equal(&v->dn, &v->cn);
}

static void
check_recovery(const struct ad_entry *v)
{
	char id[BDE_GUID_LEN + 1], want[BDE_GUID_LEN + 1], *err = NULL;

	if (ad_cn_guid(&v->cn, id) == 0 && !canonical(id))
		abort();
	if (ad_recovery_check("fuzz://", v, id, &err) == BDE_OK) {
		if (err != NULL || !v->has_guid || ad_guid_text(&v->guid,
		    want) < 0 || strcmp(id, want) != 0)
			abort();
	} else if (err == NULL) {
		abort();
	}
	free(err);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The filter for id against one kind of server, checked. */
static void
check_filter_one(const struct bde_keyid *id, int samba)
{
	uint8_t written[16], stored[16], got[16];
	char *f = ad_keyid_filter(id, samba), *p;
	size_t i, n = 0, depth = 0, want;
	unsigned b;

	if (f == NULL)
		return;
	for (p = f; *p != '\0'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth-- == 0)
			abort();
		else if (*p == '\\' && (hexval(p[1]) < 0 || hexval(p[2]) < 0))
			abort();
	}
	if (depth != 0 || strncmp(f, FILTER_HEAD, strlen(FILTER_HEAD)) != 0)
		abort();
	memset(written, 0, sizeof(written));
	for (i = 0; i + 1 < id->len; i += 2) {
		if (sscanf(id->hex + i, "%2x", &b) != 1)
			abort();
		written[i / 2] = (uint8_t)b;
	}
	bde_guid_swap_ms(written, stored);
	p = f + strlen(FILTER_HEAD);
	if (strncmp(p, "cn=*{", 5) == 0) {
		/* the CN form: Samba only, when the first stored byte is NUL */
		if (!samba || stored[0] != 0 || id->len == 32)
			abort();
		goto out;
	}
	if (strncmp(p, AD_ATTR_GUID "=", strlen(AD_ATTR_GUID) + 1) != 0)
		abort();
	for (p += strlen(AD_ATTR_GUID) + 1; *p == '\\' && n < 16; p += 3)
		got[n++] = (uint8_t)(hexval(p[1]) * 16 + hexval(p[2]));
	if (strcmp(p, id->len == 32 ? "))" : "*))") != 0 || n == 0 ||
	    memcmp(got, stored, n) != 0)
		abort();
	/* the whole fixed prefix for Windows; for Samba up to a NUL */
	want = id->len == 32 ? 16 : id->len >= 16 ? 8 + (id->len - 16) / 2 :
	    id->len >= 12 ? 6 : 4;
	if (samba && id->len < 32)
		for (i = 0; i < want; i++)
			if (stored[i] == 0) {
				want = i;
				break;
			}
	if (n != want)
		abort();
out:
	free(f);
}

static void
check_filter(const struct berval *typed)
{
	struct bde_keyid id;
	char *s;

	if (typed->bv_val == NULL)
		return;
	s = malloc(typed->bv_len + 1);
	if (s == NULL)
		abort();
	memcpy(s, typed->bv_val, typed->bv_len);
	s[typed->bv_len] = '\0';
	if (bde_keyid_parse(s, &id, NULL) == BDE_OK) {
		check_filter_one(&id, 0);
		check_filter_one(&id, 1);
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct berval f[NFIELDS];
	struct ad_entry v;
	const uint8_t *p, *end, *sep;
	char *name = NULL;
	size_t i;
	int flags;

	if (size < 1)
		return 0;
	flags = data[0];
	p = data + 1;
	end = data + size;
	for (i = 0; i < NFIELDS; i++) {
		if (p > end) {
			f[i] = field(data, 0, i == 3);
			continue;
		}
		sep = memchr(p, FIELD_SEP, (size_t)(end - p));
		f[i] = field(p, (size_t)((sep ? sep : end) - p), 1);
		p = (sep ? sep : end) + 1;
	}
	memset(&v, 0, sizeof(v));
	v.when = f[0];
	v.guid = f[1];
	v.has_guid = (flags & 1) && f[1].bv_val != NULL;
	v.cn = f[2];
	v.dn = f[3];
	v.dns = f[4];
	v.sam = f[5];

	check_guid(&v.guid);
	check_times(&v);
	check_dn(&v);
	check_recovery(&v);
	if (f[6].bv_val != NULL) {
		name = strndup(f[6].bv_val, f[6].bv_len);
		if (name == NULL)
			abort();
		(void)ad_computer_named(&v, name);
		free(name);
	}
	check_filter(&f[7]);
	for (i = 0; i < NFIELDS; i++)
		free(f[i].bv_val);
	return 0;
}
