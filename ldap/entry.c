/*
 * entry.c - recovery objects as a directory sends them, decoded and
 * checked: GeneralizedTime, stored GUIDs, the key ID in the CN, the
 * parent DN, and the one validity check.  Pure: it works on struct
 * berval and needs no connection (libldap only parses DNs), so
 * tests/unit/test_ad_entry.c covers it, hostile shapes included.
 *
 * AD facts used here: recovery objects are children of their computer
 * ([MS-ADSC] msFVE-RecoveryInformation), named "<time>{<key ID>}" with
 * the key ID also in msFVE-RecoveryGuid, stored mixed-endian ([MS-DTYP]
 * 2.3.4.2).
 */
#include "ldap/ad_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest GeneralizedTime accepted (AD sends 17: "20240601100000.0Z"). */
#define AD_TIME_MAX 39

/* n decimal digits at s as a number, or -1 when one is not a digit. */
static int
ad_digits(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
ad_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (the "days from civil" count: years start in March so that the leap
 * day is the last day of a year).
 */
static long long
ad_days(int y, int m, int d)
{
	long long yy = y - (m <= 2), era, yoe, doy, doe;

	era = (yy >= 0 ? yy : yy - 399) / 400;
	yoe = yy - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
ad_time_parse(const struct berval *bv, time_t *out)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	const char *s = bv->bv_val;
	size_t n = bv->bv_len, i;
	int y, mo, d, h, mi, sec, dim, sign = 0, oh = 0, om = 0;
	long long t;

	if (s == NULL || n < 15 || n > AD_TIME_MAX)
		return -1;
	y = ad_digits(s, 4);
	mo = ad_digits(s + 4, 2);
	d = ad_digits(s + 6, 2);
	h = ad_digits(s + 8, 2);
	mi = ad_digits(s + 10, 2);
	sec = ad_digits(s + 12, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return -1;
	dim = mdays[mo - 1] + (mo == 2 && ad_leap(y));
	if (d > dim)
		return -1;
	i = 14;
	/* a fraction of a second has at least one digit; it is dropped */
	if (s[i] == '.' || s[i] == ',') {
		if (++i >= n || s[i] < '0' || s[i] > '9')
			return -1;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && s[i] == 'Z') {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-') && n - i >= 5) {
		sign = s[i] == '-' ? -1 : 1;
		oh = ad_digits(s + i + 1, 2);
		om = ad_digits(s + i + 3, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -1;
		i += 5;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	t = ad_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	/* local = UTC + offset */
	t -= (long long)sign * (oh * 3600 + om * 60);
	*out = (time_t)t;
	return 0;
}

int
ad_guid_text(const struct berval *bv, char out[BDE_GUID_LEN + 1])
{
	uint8_t written[16];

	if (bv->bv_val == NULL || bv->bv_len != 16)
		return -1;
	bde_guid_swap_ms((const uint8_t *)bv->bv_val, written);
	bde_guid_format(written, out);
	return 0;
}

int
ad_cn_guid(const struct berval *cn, char out[BDE_GUID_LEN + 1])
{
	/* "{" GUID "}": the last BDE_GUID_LEN + 2 bytes of the CN */
	char buf[BDE_GUID_LEN + 3];
	uint8_t g[16];

	if (cn->bv_val == NULL || cn->bv_len < sizeof(buf) - 1)
		return -1;
	memcpy(buf, cn->bv_val + cn->bv_len - (sizeof(buf) - 1),
	    sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	if (buf[0] != '{' || bde_guid_parse(buf, g) < 0)
		return -1;
	bde_guid_format(g, out);
	return 0;
}

int
ad_cn_time(const struct berval *cn, time_t *out)
{
	/* "YYYY-MM-DDTHH:MM:SS" then "Z" or "+HH:MM", then "{GUID}" */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	char gt[24];
	const char *s = cn->bv_val;
	size_t n, i, head = sizeof(shape) - 1;
	struct berval bv;

	if (s == NULL || cn->bv_len < BDE_GUID_LEN + 2)
		return -1;
	n = cn->bv_len - (BDE_GUID_LEN + 2);
	if (s[n] != '{' || (n != head + 1 && n != head + 6))
		return -1;
	for (i = 0; i < head; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' :
		    s[i] != shape[i])
			return -1;
	/* as GeneralizedTime: "YYYYMMDDHHMMSS" + "Z" or "+HHMM" */
	memcpy(gt, s, 4);
	memcpy(gt + 4, s + 5, 2);
	memcpy(gt + 6, s + 8, 2);
	memcpy(gt + 8, s + 11, 2);
	memcpy(gt + 10, s + 14, 2);
	memcpy(gt + 12, s + 17, 2);
	if (n == head + 1) {
		if (s[head] != 'Z')
			return -1;
		gt[14] = 'Z';
		bv.bv_len = 15;
	} else {
		if ((s[head] != '+' && s[head] != '-') || s[head + 3] != ':')
			return -1;
		gt[14] = s[head];
		memcpy(gt + 15, s + head + 1, 2);
		memcpy(gt + 17, s + head + 4, 2);
		bv.bv_len = 19;
	}
	bv.bv_val = gt;
	return ad_time_parse(&bv, out);
}

int
ad_entry_created(const struct ad_entry *v, time_t *out)
{
	if (v->when.bv_val != NULL && ad_time_parse(&v->when, out) == 0)
		return 0;
	return ad_cn_time(&v->cn, out);
}

/* Whether bv is s (n bytes), ASCII case ignored. */
static int
ad_bv_is(const struct berval *bv, const char *s, size_t n)
{
	return bv->bv_val != NULL && bv->bv_len == n &&
	    strncasecmp(bv->bv_val, s, n) == 0;
}

int
ad_computer_named(const struct ad_entry *v, const char *name)
{
	struct berval label;
	size_t n = strlen(name);
	const char *dot;

	if (n > 1 && name[n - 1] == '$')
		n--;
	if (n == 0)
		return 0;
	if (ad_bv_is(&v->cn, name, n) || ad_bv_is(&v->dns, name, n) ||
	    (v->sam.bv_val != NULL && v->sam.bv_len == n + 1 &&
	    v->sam.bv_val[n] == '$' && strncasecmp(v->sam.bv_val, name,
	    n) == 0))
		return 1;
	if (v->dns.bv_val == NULL)
		return 0;
	dot = memchr(v->dns.bv_val, '.', v->dns.bv_len);
	label.bv_val = v->dns.bv_val;
	label.bv_len = dot ? (size_t)(dot - v->dns.bv_val) : v->dns.bv_len;
	return ad_bv_is(&label, name, n);
}

/*
 * dn parsed and written back one way (RFC 4514), as a new string in *out
 * (ber_memfree).  libldap's DN parser reads a byte past bv_len: it gets a
 * NUL-terminated copy.  0, or -1 (unparsable, a NUL inside, no memory).
 */
static int
ad_dn_canon(const struct berval *dn, struct berval *out)
{
	struct berval copy;
	LDAPDN ldn = NULL;
	int rc = -1;

	out->bv_val = NULL;
	out->bv_len = 0;
	copy.bv_val = strndup(dn->bv_val, dn->bv_len);
	if (copy.bv_val == NULL)
		return -1;
	copy.bv_len = strlen(copy.bv_val);
	if (copy.bv_len == dn->bv_len &&
	    ldap_bv2dn(&copy, &ldn, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
	    ldap_dn2bv(ldn, out, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS)
		rc = 0;
	if (ldn != NULL)
		ldap_dnfree(ldn);
	free(copy.bv_val);
	return rc;
}

int
ad_dn_equal(const struct berval *a, const struct berval *b)
{
	struct berval na = { 0, NULL }, nb = { 0, NULL };
	int eq = 0;

	if (a->bv_val == NULL || b->bv_val == NULL)
		return 0;
	/* as sent, the usual case */
	if (a->bv_len == b->bv_len &&
	    memchr(a->bv_val, '\0', a->bv_len) == NULL &&
	    strncasecmp(a->bv_val, b->bv_val, a->bv_len) == 0)
		return 1;
	/* else each parsed and written back the one way */
	if (ad_dn_canon(a, &na) == 0 && ad_dn_canon(b, &nb) == 0)
		eq = na.bv_len == nb.bv_len &&
		    strncasecmp(na.bv_val, nb.bv_val, na.bv_len) == 0;
	ber_memfree(na.bv_val);
	ber_memfree(nb.bv_val);
	return eq;
}

size_t
ad_rdn_len(const char *dn, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (dn[i] == '\\' && i + 1 < len)
			i++;
		else if (dn[i] == ',')
			return i;
	}
	return len;
}

enum bde_status
ad_dn_parent(const char *uri, const struct berval *dn, char **parent,
    char **name, char **errstr)
{
	LDAPDN ldn = NULL;
	struct berval pdn;
	size_t n;
	enum bde_status st = BDE_OK;

	*parent = *name = NULL;
	n = ad_rdn_len(dn->bv_val, dn->bv_len);
	if (n + 1 >= dn->bv_len) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s' has no parent", uri,
		    (int)dn->bv_len, dn->bv_val);
		goto out;
	}
	/*
	 * libldap's DN parser reads one byte past bv_len (valgrind shows it):
	 * hand it a NUL-terminated copy, not a slice of the entry
	 */
	*parent = strndup(dn->bv_val + n + 1, dn->bv_len - n - 1);
	if (*parent == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	pdn.bv_val = *parent;
	pdn.bv_len = strlen(*parent);
	if (pdn.bv_len != dn->bv_len - n - 1) {
		st = bde_error(errstr, BDE_EPROTO, "%s: recovery object DN "
		    "'%s...' holds a NUL byte", uri, *parent);
		goto out;
	}
	/* unescaping is ldap_str2dn's job: "Lab (1) *x\\y\, Zo..." */
	if (ldap_bv2dn(&pdn, &ldn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
	    ldn == NULL || ldn[0] == NULL || ldn[0][0] == NULL) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: cannot parse DN '%s'", uri, *parent);
		goto out;
	}
	/* "CN=" parses, to a NULL value (found by fuzz_ad_entry) */
	if (ldn[0][0]->la_value.bv_val == NULL ||
	    ldn[0][0]->la_value.bv_len == 0) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: DN '%s' names no computer", uri, *parent);
		goto out;
	}
	*name = strndup(ldn[0][0]->la_value.bv_val, ldn[0][0]->la_value.bv_len);
	if (*name == NULL)
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
out:
	if (st != BDE_OK) {
		free(*parent);
		free(*name);
		*parent = *name = NULL;
	}
	if (ldn != NULL)
		ldap_dnfree(ldn);
	return st;
}

enum bde_status
ad_recovery_check(const char *uri, const struct ad_entry *v,
    char key_id[BDE_GUID_LEN + 1], char **errstr)
{
	char cnid[BDE_GUID_LEN + 1];

	if (!v->has_guid)
		return bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s' has no valid " AD_ATTR_GUID,
		    uri, (int)v->dn.bv_len, v->dn.bv_val);
	if (ad_guid_text(&v->guid, key_id) < 0)
		return bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s': " AD_ATTR_GUID
		    " is %zu bytes, not 16", uri, (int)v->dn.bv_len,
		    v->dn.bv_val, (size_t)v->guid.bv_len);
	if (ad_cn_guid(&v->cn, cnid) == 0 && strcmp(key_id, cnid) != 0)
		return bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s': key ID {%s} in its name "
		    "differs from " AD_ATTR_GUID " {%s}", uri,
		    (int)v->dn.bv_len, v->dn.bv_val, cnid, key_id);
	return BDE_OK;
}
