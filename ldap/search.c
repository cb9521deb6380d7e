/*
 * search.c - searching the directory: the paged search runner every
 * search goes through, reading an entry's values where libldap decoded
 * them (and wiping its secrets there), and the recovery-object search
 * that the lookups and the key package share.
 */
#include "ldap/ad_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* 100,000 pages: far beyond any directory's recovery objects */
#define AD_MAX_PAGES 100000

/* LDAP_SERVER_DOMAIN_SCOPE_OID (MS-ADTS 3.1.1.3.4.1.9): no referrals */
#define AD_CONTROL_DOMAIN_SCOPE "1.2.840.113556.1.4.1339"

enum bde_status
ad_entry_read(struct ad *ad, LDAPMessage *e, struct ad_entry *v,
    char **errstr)
{
	struct berval attr, *vals = NULL;
	BerElement *ber = NULL;
	enum bde_status st = BDE_OK;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = ldap_get_dn_ber(ad->ld, e, &ber, &v->dn);
	if (rc != LDAP_SUCCESS || v->dn.bv_val == NULL) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: cannot decode a search result entry", ad->uri);
		goto out;
	}
	for (;;) {
		struct berval *dst = NULL;
		int *has = NULL;

		rc = ldap_get_attribute_ber(ad->ld, e, ber, &attr, &vals);
		if (rc != LDAP_SUCCESS) {
			st = bde_error(errstr, BDE_EPROTO,
			    "%s: cannot decode entry '%.*s'", ad->uri,
			    (int)v->dn.bv_len, v->dn.bv_val);
			goto out;
		}
		if (attr.bv_val == NULL)
			break;
#define IS(name) (attr.bv_len == strlen(name) && \
		    strncasecmp(attr.bv_val, name, attr.bv_len) == 0)
		if (IS("cn"))
			dst = &v->cn;
		else if (IS(AD_ATTR_GUID))
			dst = &v->guid, has = &v->has_guid;
		else if (IS(AD_ATTR_VOLUME))
			dst = &v->volume;
		else if (IS("whenCreated"))
			dst = &v->when;
		else if (IS("uSNCreated"))
			dst = &v->usn;
		else if (IS(AD_ATTR_PASSWORD))
			dst = &v->password, has = &v->has_password;
		else if (IS(AD_ATTR_PACKAGE))
			dst = &v->package, has = &v->has_package;
#undef IS
		/* single-valued in the AD schema: the first value is it */
		if (dst != NULL && vals != NULL && vals[0].bv_val != NULL) {
			*dst = vals[0];
			if (has != NULL)
				*has = 1;
		}
		ber_memfree(vals);
		vals = NULL;
	}
out:
	ber_memfree(vals);
	if (ber != NULL)
		ber_free(ber, 0);
	return st;
}

void
ad_entry_wipe(struct ad_entry *v)
{
	if (v->password.bv_val != NULL)
		explicit_bzero(v->password.bv_val, v->password.bv_len);
	if (v->package.bv_val != NULL)
		explicit_bzero(v->package.bv_val, v->package.bv_len);
}

/*
 * One page of q: ask for it with the Simple Paged Results control (RFC
 * 2696; AD stops an unpaged search at MaxPageSize) continuing *cookie
 * (empty: the first page) and LDAP_SERVER_DOMAIN_SCOPE, call q->entry
 * for every entry (search references are ignored), and replace *cookie
 * with the server's next one (its bv_val ber_memfree'd by the caller),
 * empty after the last page.  Returns BDE_OK or an error.
 */
static enum bde_status
ad_search_page(struct ad *ad, const struct ad_search *q,
    struct berval *cookie, char **errstr)
{
	LDAPControl *page = NULL, **rctrls = NULL, *ctrls[3], *c;
	LDAPControl scope = {
		.ldctl_oid = AD_CONTROL_DOMAIN_SCOPE,
		.ldctl_value = { .bv_len = 0, .bv_val = NULL },
		.ldctl_iscritical = 0,
	};
	LDAPMessage *res = NULL, *e;
	struct timeval tv = { .tv_sec = ad->timeout, .tv_usec = 0 };
	enum bde_status st = BDE_OK;
	ber_int_t count;
	int rc, err = LDAP_SUCCESS;

	/*
	 * Critical where a server ignoring it would cut the result short; a
	 * base search returns one entry either way.
	 */
	rc = ldap_create_page_control(ad->ld, ad->page_size,
	    cookie->bv_len > 0 ? cookie : NULL, q->scope != LDAP_SCOPE_BASE,
	    &page);
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
	ad->timed_out = 0;
	rc = ldap_search_ext_s(ad->ld, q->base, q->scope, q->filter, q->attrs,
	    0, ctrls, NULL, &tv, 0, &res);
	if (rc != LDAP_SUCCESS && res == NULL) {
		st = ad_fail(ad, ad->uri, rc, 0, errstr, "%s", q->what);
		goto out;
	}
	/* the result code and controls of the searchResultDone */
	rc = ldap_parse_result(ad->ld, res, &err, NULL, NULL, NULL, &rctrls,
	    0);
	if (rc == LDAP_SUCCESS && err == LDAP_NO_SUCH_OBJECT &&
	    q->scope == LDAP_SCOPE_ONELEVEL) {
		/* the computer went away between two searches */
		goto out;
	}
	if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
		st = ad_fail(ad, ad->uri, rc != LDAP_SUCCESS ? rc : err, 0,
		    errstr, "%s", q->what);
		goto out;
	}
	for (e = ldap_first_entry(ad->ld, res); e != NULL;
	    e = ldap_next_entry(ad->ld, e)) {
		st = q->entry(ad, e, q->arg, errstr);
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

enum bde_status
ad_search_run(struct ad *ad, const struct ad_search *q, char **errstr)
{
	struct berval cookie = { .bv_len = 0, .bv_val = NULL };
	enum bde_status st;
	long pages = 0;

	do {
		st = ad_search_page(ad, q, &cookie, errstr);
		if (st != BDE_OK)
			goto out;
		/*
		 * A server that never ends the search would keep us here:
		 * each page is bounded by the timeout, the pages by this.
		 * (The cookie itself may repeat: Samba sends the same one
		 * on every page.)
		 */
		if (++pages >= AD_MAX_PAGES && cookie.bv_len > 0) {
			st = bde_error(errstr, BDE_EPROTO, "%s: %s: more than "
			    "%d pages", ad->uri, q->what, AD_MAX_PAGES);
			goto out;
		}
	} while (cookie.bv_len > 0);
out:
	ber_memfree(cookie.bv_val);
	return st;
}

enum bde_status
ad_recovery_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct ad_recovery_visit *visit = arg;
	struct ad_entry v;
	char id[BDE_GUID_LEN + 1];
	enum bde_status st;

	st = ad_entry_read(ad, e, &v, errstr);
	if (st != BDE_OK)
		goto out;
	st = ad_recovery_check(ad->uri, &v, id, errstr);
	if (st != BDE_OK)
		goto out;
	/* the filter may be wider than the query: re-check every hit */
	if (visit->id != NULL && !bde_keyid_match(visit->id, id))
		goto out;
	visit->matched++;
	st = visit->found(ad, &v, id, visit->arg, errstr);
out:
	ad_entry_wipe(&v);
	return st;
}

enum bde_status
ad_keyid_search(struct ad *ad, const struct bde_keyid *id, char **attrs,
    enum bde_status (*found)(struct ad *ad, const struct ad_entry *v,
    const char *key_id, void *arg, char **errstr), void *arg, char **errstr)
{
	struct ad_recovery_visit visit = {
		.id = id,
		.found = found,
		.arg = arg,
		.matched = 0,
	};
	char *filter = NULL, *what = NULL;
	enum bde_status st;

	filter = ad_keyid_filter(id);
	if (filter == NULL ||
	    asprintf(&what, "search for key ID '%s'", id->hex) < 0) {
		what = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	st = ad_search_run(ad, &(const struct ad_search){
		.base = ad->base,
		.scope = LDAP_SCOPE_SUBTREE,
		.filter = filter,
		.attrs = attrs,
		.what = what,
		.entry = ad_recovery_entry,
		.arg = &visit,
	}, errstr);
	if (st == BDE_OK && visit.matched == 0)
		st = bde_error(errstr, BDE_ENOTFOUND,
		    "no recovery key with ID '%s%s'", id->hex,
		    id->len < 32 ? "..." : "");
out:
	free(filter);
	free(what);
	return st;
}
