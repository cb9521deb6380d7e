/*
 * escrow.c - the escrow operation (bdekey report): every computer under
 * the base with its recovery objects' metadata, never a password.
 *
 * Two paged subtree searches whatever the number of computers: every
 * msFVE-RecoveryInformation object (DN, msFVE-VolumeGuid, whenCreated:
 * nothing confidential, so an account without Control Access gets the
 * same report) counted per parent DN, the computer ([MS-ADSC]: its only
 * possible superior), into a compact join table; then every computer,
 * looked up there and handed over as its row completes.  Memory: a page
 * of entries and the table.  All the server sends is checked; a value
 * that fails is unknown (SID, logon time) or makes its object a problem
 * (ad_problem), reported after the rows.
 */
#include "ldap/ad_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* The walk                                                             */

/*
 * Bounds on each search of the walk whatever the server sends.  Its
 * size is the directory's, so unlike ad_search_run's (made for one
 * computer's keys) they do not limit the whole search's time: each page
 * has --timeout (and ad->limit_ms when the caller set one), and the
 * search must make progress: AD_ESCROW_MAX_ENTRIES entries at most, and
 * AD_ESCROW_MAX_EMPTY pages in a row without one.
 */
#define AD_ESCROW_MAX_ENTRIES 10000000L
#define AD_ESCROW_MAX_EMPTY 100
/* AD's MaxPageSize; a --page-size that was set is used instead */
#define AD_ESCROW_PAGE_SIZE 1000
/* LDAP_SERVER_DOMAIN_SCOPE_OID (MS-ADTS 3.1.1.3.4.1.9): no referrals */
#define AD_ESCROW_DOMAIN_SCOPE "1.2.840.113556.1.4.1339"
#define AD_ESCROW_ATTRS 5	/* attributes asked at most */

/* The state of one walk. */
struct ad_escrow_walk {
	struct ad_escrow_table *t;
	uint64_t seed;		/* of the DN hashes: random per walk */
	bde_escrow_fn fn;
	void *arg;
	int page_size;
	long entries;		/* of the current search */
	char *buf;		/* a row's strings */
	size_t cap;
};

/*
 * One search of the walk, subtree from the base: entry gets each entry's
 * DN and the first value of each of attrs (absent: bv_val NULL), all
 * pointing into the entry.
 */
struct ad_escrow_search {
	const char *filter;
	char **attrs;
	const char *what;
	enum bde_status (*entry)(struct ad *ad, struct ad_escrow_walk *w,
	    const struct berval *dn, const struct berval *vals,
	    char **errstr);
};

/* Remember object dn (a what) as one the walk could not use, and why. */
static enum bde_status
ad_escrow_problem(struct ad *ad, const struct berval *dn, const char *what,
    const char *why, char **errstr)
{
	char *msg;

	if (asprintf(&msg, "%s: %s '%.*s': %s", ad->uri, what,
	    (int)dn->bv_len, dn->bv_val, why) < 0)
		return ad_nomem(errstr);
	return ad_problem(ad, msg, errstr);
}

/* Entry e of q's search to q->entry (every attribute is single-valued). */
static enum bde_status
ad_escrow_entry(struct ad *ad, const struct ad_escrow_search *q,
    struct ad_escrow_walk *w, LDAPMessage *e, char **errstr)
{
	struct berval dn, attr, *vals = NULL, v[AD_ESCROW_ATTRS];
	BerElement *ber = NULL;
	enum bde_status st = BDE_OK;
	size_t i;

	memset(v, 0, sizeof(v));
	if (ldap_get_dn_ber(ad->ld, e, &ber, &dn) != LDAP_SUCCESS ||
	    dn.bv_val == NULL) {
		st = bde_error(errstr, BDE_EPROTO, "%s: %s: cannot decode an "
		    "entry", ad->uri, q->what);
		goto out;
	}
	for (;;) {
		if (ldap_get_attribute_ber(ad->ld, e, ber, &attr, &vals) !=
		    LDAP_SUCCESS) {
			st = bde_error(errstr, BDE_EPROTO, "%s: cannot decode "
			    "entry '%.*s'", ad->uri, (int)dn.bv_len, dn.bv_val);
			goto out;
		}
		if (attr.bv_val == NULL)
			break;
		for (i = 0; i < AD_ESCROW_ATTRS && q->attrs[i] != NULL; i++)
			if (attr.bv_len == strlen(q->attrs[i]) &&
			    strncasecmp(attr.bv_val, q->attrs[i], attr.bv_len) ==
			    0 && vals != NULL && vals[0].bv_val != NULL)
				v[i] = vals[0];
		ber_memfree(vals);
		vals = NULL;
	}
	st = q->entry(ad, w, &dn, v, errstr);
out:
	ber_memfree(vals);
	if (ber != NULL)
		ber_free(ber, 0);
	return st;
}

/*
 * One page of q continuing *cookie (replaced by the server's next one,
 * empty after the last page; the caller ber_memfree's it); *got says
 * how many entries it had.
 */
static enum bde_status
ad_escrow_page(struct ad *ad, const struct ad_escrow_search *q,
    struct ad_escrow_walk *w, struct berval *cookie, long *got,
    char **errstr)
{
	LDAPControl *page = NULL, **rctrls = NULL, *ctrls[3], *c;
	LDAPControl scope = {
		.ldctl_oid = AD_ESCROW_DOMAIN_SCOPE,
		.ldctl_value = { .bv_len = 0, .bv_val = NULL },
		.ldctl_iscritical = 0,
	};
	LDAPMessage *res = NULL, *e;
	struct timeval tv;
	enum bde_status st = BDE_OK;
	ber_int_t count;
	int rc, err = LDAP_SUCCESS;

	*got = 0;
	/* critical: a server ignoring it would cut the answer short */
	rc = ldap_create_page_control(ad->ld, w->page_size,
	    cookie->bv_len > 0 ? cookie : NULL, 1, &page);
	if (rc != LDAP_SUCCESS) {
		st = ad_nomem(errstr);
		goto out;
	}
	ber_memfree(cookie->bv_val);
	cookie->bv_val = NULL;
	cookie->bv_len = 0;
	ctrls[0] = page;
	ctrls[1] = &scope;
	ctrls[2] = NULL;
	/* read whole before a row goes out: the time the caller takes for
	   its rows never counts against the server's */
	ad_io_phase(ad, ad->limit_ms);
	tv = ad_io_left(ad);
	rc = ldap_search_ext_s(ad->ld, ad->base, LDAP_SCOPE_SUBTREE, q->filter,
	    q->attrs, 0, ctrls, NULL, &tv, 0, &res);
	if (rc != LDAP_SUCCESS && res == NULL) {
		st = ad_fail(ad, ad->uri, rc, 0, errstr, "%s", q->what);
		goto out;
	}
	rc = ldap_parse_result(ad->ld, res, &err, NULL, NULL, NULL, &rctrls,
	    0);
	if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
		st = ad_fail(ad, ad->uri, rc != LDAP_SUCCESS ? rc : err, 0,
		    errstr, "%s", q->what);
		goto out;
	}
	/* search references are left alone (never chased) */
	for (e = ldap_first_entry(ad->ld, res); e != NULL;
	    e = ldap_next_entry(ad->ld, e)) {
		if (++w->entries > AD_ESCROW_MAX_ENTRIES) {
			st = bde_error(errstr, BDE_EPROTO, "%s: %s: more than "
			    "%ld entries", ad->uri, q->what,
			    AD_ESCROW_MAX_ENTRIES);
			goto out;
		}
		++*got;
		st = ad_escrow_entry(ad, q, w, e, errstr);
		if (st != BDE_OK)
			goto out;
	}
	c = rctrls != NULL ? ldap_control_find(LDAP_CONTROL_PAGEDRESULTS,
	    rctrls, NULL) : NULL;
	if (c != NULL && ldap_parse_pageresponse_control(ad->ld, c, &count,
	    cookie) != LDAP_SUCCESS)
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: %s: bad paged results control", ad->uri, q->what);
out:
	if (page != NULL)
		ldap_control_free(page);
	if (rctrls != NULL)
		ldap_controls_free(rctrls);
	if (res != NULL)
		ldap_msgfree(res);
	return st;
}

/* Every page of q (RFC 2696), within the bounds above. */
static enum bde_status
ad_escrow_run(struct ad *ad, const struct ad_escrow_search *q,
    struct ad_escrow_walk *w, char **errstr)
{
	struct berval cookie = { .bv_len = 0, .bv_val = NULL };
	enum bde_status st;
	long got, empty = 0;

	w->entries = 0;
	for (;;) {
		st = ad_escrow_page(ad, q, w, &cookie, &got, errstr);
		if (st != BDE_OK || cookie.bv_len == 0)
			goto out;
		empty = got == 0 ? empty + 1 : 0;
		if (empty > AD_ESCROW_MAX_EMPTY) {
			st = bde_error(errstr, BDE_EPROTO, "%s: %s: %d pages "
			    "in a row without an entry", ad->uri, q->what,
			    AD_ESCROW_MAX_EMPTY + 1);
			goto out;
		}
	}
out:
	ber_memfree(cookie.bv_val);
	return st;
}

/* Recovery objects: what the first search asks. */
static char *ad_escrow_key_attrs[] = { AD_ATTR_VOLUME, "whenCreated", NULL };

/*
 * A recovery object counted for its parent, the computer (what follows
 * the first RDN of its DN).  One that cannot be read is a problem, left
 * out.
 */
static enum bde_status
ad_escrow_key(struct ad *ad, struct ad_escrow_walk *w,
    const struct berval *dn, const struct berval *v, char **errstr)
{
	const struct berval *vol = &v[0], *when = &v[1];
	const char *why = NULL;
	time_t created = 0;
	uint64_t h = 0;
	size_t n = ad_rdn_len(dn->bv_val, dn->bv_len);

	if (n + 1 >= dn->bv_len || ad_dn_hash(dn->bv_val + n + 1,
	    dn->bv_len - n - 1, w->seed, &h) < 0)
		why = "no parent DN that can be read";
	else if (when->bv_val == NULL || ad_time_parse(when, &created) < 0)
		why = "no valid whenCreated";
	else if (vol->bv_val != NULL && vol->bv_len != 16)
		why = AD_ATTR_VOLUME " is not 16 bytes";
	if (why != NULL)
		return ad_escrow_problem(ad, dn, "recovery object", why, errstr);
	if (ad_escrow_table_add(w->t, h, created, vol->bv_val == NULL ? NULL :
	    (const uint8_t *)vol->bv_val) < 0)
		return ad_nomem(errstr);
	return BDE_OK;
}

/* Computers: what the second search asks (dNSHostName is not used yet). */
static char *ad_escrow_pc_attrs[] = { "cn", "operatingSystem",
    "lastLogonTimestamp", "objectSid", "dNSHostName", NULL };

/* Whether bv holds text: present and without a NUL byte. */
static int
ad_escrow_text(const struct berval *bv)
{
	return bv->bv_val != NULL && memchr(bv->bv_val, '\0', bv->bv_len) ==
	    NULL;
}

/* bv as a string at *p (room checked by the caller); the string. */
static const char *
ad_escrow_put(char **p, const struct berval *bv)
{
	char *s = *p;

	memcpy(s, bv->bv_val, bv->bv_len);
	s[bv->bv_len] = '\0';
	*p += bv->bv_len + 1;
	return s;
}

/*
 * A computer's row: its values and what the table holds for its DN, to
 * w->fn.  One without cn or whose DN cannot be read is a problem, left
 * out; a malformed SID or logon time is unknown.
 */
static enum bde_status
ad_escrow_computer(struct ad *ad, struct ad_escrow_walk *w,
    const struct berval *dn, const struct berval *v, char **errstr)
{
	const struct berval *cn = &v[0], *os = &v[1], *logon = &v[2];
	const struct berval *sid = &v[3];
	struct ad_escrow_info info;
	struct bde_escrow row;
	char sidtext[AD_SID_TEXT_MAX], vols[AD_ESCROW_VOLS * (BDE_GUID_LEN + 1)];
	const char *why = NULL;
	uint64_t h = 0;
	size_t need, i;
	char *p;

	if (!ad_escrow_text(cn) || cn->bv_len == 0)
		why = "no cn";
	else if (ad_dn_hash(dn->bv_val, dn->bv_len, w->seed, &h) < 0)
		why = "a DN that cannot be read";
	if (why != NULL)
		return ad_escrow_problem(ad, dn, "computer", why, errstr);
	/* the strings, NUL-terminated, in one buffer reused row to row */
	need = dn->bv_len + cn->bv_len + os->bv_len + 3;
	if (need > w->cap) {
		p = realloc(w->buf, need);
		if (p == NULL)
			return ad_nomem(errstr);
		w->buf = p;
		w->cap = need;
	}
	memset(&row, 0, sizeof(row));
	p = w->buf;
	row.dn = ad_escrow_put(&p, dn);
	row.name = ad_escrow_put(&p, cn);
	if (ad_escrow_text(os) && os->bv_len > 0)
		row.os = ad_escrow_put(&p, os);
	if (sid->bv_val != NULL && ad_sid_text(sid, sidtext) == 0)
		row.sid = sidtext;
	if (logon->bv_val == NULL || ad_filetime_parse(logon, &row.last_seen) < 0)
		row.last_seen = 0;
	if (ad_escrow_table_get(w->t, h, &info) == 0) {
		row.nkeys = info.nkeys;
		row.newest = info.newest;
		for (i = 0; i < info.nvol; i++) {
			ad_guid_text(&(struct berval){ .bv_len = 16,
			    .bv_val = (char *)info.vol[i] },
			    vols + i * (BDE_GUID_LEN + 1));
			if (i > 0)
				vols[i * (BDE_GUID_LEN + 1) - 1] = ',';
		}
		row.volumes = info.nvol > 0 ? vols : NULL;
	}
	if (w->fn(w->arg, &row) != 0)
		return bde_error(errstr, BDE_EIO, "stopped");
	return BDE_OK;
}

enum bde_status
ad_escrow(void *self, bde_escrow_fn fn, void *arg, char **errstr)
{
	struct ad *ad = self, *sc = ad;
	struct ad_escrow_walk w = { .fn = fn, .arg = arg };
	enum bde_status st;

	ad_problems_reset(ad);
	w.t = ad_escrow_table_new();
	if (w.t == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	arc4random_buf(&w.seed, sizeof(w.seed));
	/* forest-wide: the Global Catalog has both classes, no secret */
	st = ad_lookup_conn(ad, &sc, errstr);
	if (st != BDE_OK)
		goto out;
	w.page_size = sc->s != NULL && sc->s->page_size > 0 ? sc->page_size :
	    AD_ESCROW_PAGE_SIZE;
	st = ad_escrow_run(sc, &(const struct ad_escrow_search){
		.filter = "(objectClass=" AD_CLASS_RECOVERY ")",
		.attrs = ad_escrow_key_attrs,
		.what = "search for recovery objects",
		.entry = ad_escrow_key,
	}, &w, errstr);
	if (st == BDE_OK)
		st = ad_escrow_run(sc, &(const struct ad_escrow_search){
			.filter = "(objectCategory=computer)",
			.attrs = ad_escrow_pc_attrs,
			.what = "search for computers",
			.entry = ad_escrow_computer,
		}, &w, errstr);
	if (ad_problems_merge(ad, sc, NULL) != BDE_OK && st == BDE_OK)
		st = ad_nomem(errstr);
	st = ad_problems_status(ad, st, errstr);
out:
	free(w.buf);
	ad_escrow_table_free(w.t);
	return st;
}
