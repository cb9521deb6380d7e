/*
 * search.c - searching the directory: the paged search runner every
 * search goes through, reading an entry's values where libldap decoded
 * them (and wiping its secrets there), the RootDSE, the recovery-object
 * search the lookups and the key package share, and the one way a
 * secret is read: a base-scope search of exactly the object wanted.
 */
#include "ldap/ad_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"

/*
 * Bounds on one search whatever the server sends: 10,000 pages and
 * 100,000 entries are far beyond any computer's or key ID's recovery
 * objects (PC-MANY in tests/ad has 1,001).
 */
#define AD_MAX_PAGES 10000
#define AD_MAX_ENTRIES 100000

/*
 * A walk (q->walk: every object of a class under the base, `bdekey
 * report`) is as large as the directory, so its bounds are others: no
 * end for the whole search, but each page has --timeout (and
 * ad->limit_ms when the caller set one), AD_WALK_MAX_ENTRIES entries at
 * most, and at most AD_WALK_MAX_EMPTY pages in a row without one.  The
 * first page may take AD_WALK_FIRST_PAGE times --timeout: Samba builds
 * the whole paged result before it sends a page (81 s for 100,000
 * computers; the default --timeout is 10 s), AD streams.
 */
#define AD_WALK_MAX_ENTRIES 10000000L
#define AD_WALK_MAX_EMPTY 100
#define AD_WALK_FIRST_PAGE 10
#define AD_WALK_FIRST_TEXT "10"

/* LDAP_SERVER_DOMAIN_SCOPE_OID (MS-ADTS 3.1.1.3.4.1.9): no referrals */
#define AD_CONTROL_DOMAIN_SCOPE "1.2.840.113556.1.4.1339"

/* Where a search is, for its bounds. */
struct ad_search_state {
	long long deadline_ms;	/* the whole search ends here (not a walk) */
	long pages;
	long entries;
	long got;		/* entries of the last page */
};

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
		else if (IS("sAMAccountName"))
			dst = &v->sam;
		else if (IS("dNSHostName"))
			dst = &v->dns;
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
 * Wipe every value of every entry of res where libldap decoded it, the
 * entries no callback looked at included (those after a failing one).
 * An entry that stops decoding keeps the rest of its values: the wiping
 * free (wipe.c) still clears the buffer when res is freed.
 */
static void
ad_msg_wipe(LDAP *ld, LDAPMessage *res)
{
	struct berval dn, attr, *vals;
	BerElement *ber;
	LDAPMessage *e;
	size_t i;

	for (e = ldap_first_entry(ld, res); e != NULL;
	    e = ldap_next_entry(ld, e)) {
		ber = NULL;
		if (ldap_get_dn_ber(ld, e, &ber, &dn) != LDAP_SUCCESS) {
			if (ber != NULL)
				ber_free(ber, 0);
			continue;
		}
		for (;;) {
			vals = NULL;
			if (ldap_get_attribute_ber(ld, e, ber, &attr, &vals) !=
			    LDAP_SUCCESS || attr.bv_val == NULL) {
				ber_memfree(vals);
				break;
			}
			for (i = 0; vals != NULL && vals[i].bv_val != NULL; i++)
				explicit_bzero(vals[i].bv_val, vals[i].bv_len);
			ber_memfree(vals);
		}
		ber_free(ber, 0);
	}
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
    struct ad_search_state *ss, struct berval *cookie, char **errstr)
{
	LDAPControl *page = NULL, **rctrls = NULL, *ctrls[3], *c;
	LDAPControl scope = {
		.ldctl_oid = AD_CONTROL_DOMAIN_SCOPE,
		.ldctl_value = { .bv_len = 0, .bv_val = NULL },
		.ldctl_iscritical = 0,
	};
	LDAPMessage *res = NULL, *e;
	struct timeval tv;
	enum bde_status st = BDE_OK;
	ber_int_t count;
	int rc, err = LDAP_SUCCESS, first = cookie->bv_len == 0;
	long long end;

	ss->got = 0;
	/*
	 * Critical where a server ignoring it would cut the result short; a
	 * base search returns one entry either way.
	 */
	rc = ldap_create_page_control(ad->ld, q->page_size > 0 ? q->page_size :
	    ad->page_size, cookie->bv_len > 0 ? cookie : NULL,
	    q->scope != LDAP_SCOPE_BASE, &page);
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
	/* this page: the timeout, and never past the whole search's end */
	ad_io_phase(ad, q->walk ? ad->limit_ms : ss->deadline_ms);
	if (q->walk && first) {
		end = bde_now_ms() + (long long)AD_WALK_FIRST_PAGE *
		    ad->timeout * 1000;
		ad->deadline_ms = ad->limit_ms > 0 && ad->limit_ms < end ?
		    ad->limit_ms : end;
	}
	/* the whole page is read before an entry is handed on: the time
	   the caller takes for its rows never counts against the server */
	tv = ad_io_left(ad);
	rc = ldap_search_ext_s(ad->ld, q->base, q->scope, q->filter, q->attrs,
	    0, ctrls, NULL, &tv, 0, &res);
	if (rc != LDAP_SUCCESS && res == NULL) {
		st = ad_fail(ad, ad->uri, rc, 0, errstr, "%s%s", q->what,
		    q->walk && first ? " (its first page may take "
		    AD_WALK_FIRST_TEXT " x --timeout)" : "");
		goto out;
	}
	/* the result code and controls of the searchResultDone */
	rc = ldap_parse_result(ad->ld, res, &err, NULL, NULL, NULL, &rctrls,
	    0);
	if (rc == LDAP_SUCCESS && err == LDAP_NO_SUCH_OBJECT &&
	    q->scope != LDAP_SCOPE_SUBTREE) {
		/* the computer or the object went away meanwhile */
		goto out;
	}
	if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
		st = ad_fail(ad, ad->uri, rc != LDAP_SUCCESS ? rc : err, 0,
		    errstr, "%s", q->what);
		goto out;
	}
	for (e = ldap_first_entry(ad->ld, res); e != NULL;
	    e = ldap_next_entry(ad->ld, e)) {
		if (++ss->entries > (q->walk ? AD_WALK_MAX_ENTRIES :
		    AD_MAX_ENTRIES)) {
			st = bde_error(errstr, BDE_EPROTO, "%s: %s: more than "
			    "%ld entries", ad->uri, q->what, q->walk ?
			    AD_WALK_MAX_ENTRIES : (long)AD_MAX_ENTRIES);
			goto out;
		}
		ss->got++;
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
	if (res != NULL) {
		ad_msg_wipe(ad->ld, res);
		ldap_msgfree(res);
	}
	return st;
}

enum bde_status
ad_search_run(struct ad *ad, const struct ad_search *q, char **errstr)
{
	struct berval cookie = { .bv_len = 0, .bv_val = NULL };
	struct ad_search_state ss = { .deadline_ms = 0, .pages = 0 };
	long long total = (long long)AD_SEARCH_TIMEOUTS * ad->timeout * 1000;
	enum bde_status st;
	long empty = 0;

	ss.deadline_ms = bde_now_ms() + total;
	if (ad->limit_ms > 0 && ad->limit_ms < ss.deadline_ms)
		ss.deadline_ms = ad->limit_ms;
	for (;;) {
		st = ad_search_page(ad, q, &ss, &cookie, errstr);
		if (st != BDE_OK || cookie.bv_len == 0)
			goto out;
		if (q->walk) {
			/* each page bounded, so the walk makes progress */
			empty = ss.got == 0 ? empty + 1 : 0;
			if (empty > AD_WALK_MAX_EMPTY) {
				st = bde_error(errstr, BDE_EPROTO, "%s: %s: %d "
				    "pages in a row without an entry", ad->uri,
				    q->what, AD_WALK_MAX_EMPTY + 1);
				goto out;
			}
			continue;
		}
		/*
		 * A server that never ends the search, each page just inside
		 * the timeout, would keep us here: the whole search has an
		 * end, and so have its pages.  (The cookie itself may
		 * repeat: Samba sends the same one on every page.)
		 */
		if (bde_now_ms() >= ss.deadline_ms) {
			ad->timed_out = 1;
			st = bde_error(errstr, BDE_EUNREACH, "%s: %s: timed out "
			    "after %lld s in all (%ld pages)", ad->uri, q->what,
			    (total + 999) / 1000, ss.pages + 1);
			goto out;
		}
		if (++ss.pages >= AD_MAX_PAGES) {
			st = bde_error(errstr, BDE_EPROTO, "%s: %s: more than "
			    "%d pages", ad->uri, q->what, AD_MAX_PAGES);
			goto out;
		}
	}
out:
	ber_memfree(cookie.bv_val);
	return st;
}

/* ------------------------------------------------------------------ */
/* The RootDSE                                                          */

struct ad_rootdse_ctx {
	int samba, rodc, gc_ready;
	char *dn[3];		/* default, root domain, configuration NC */
};

/* Capabilities OID of a read-only DC (MS-ADTS 3.1.1.3.4.3.4) */
#define AD_CAP_PARTIAL_SECRETS "1.2.840.113556.1.4.1920"

/* Whether attribute attr of e has a value equal to want (case ignored). */
static int
ad_rootdse_has(struct ad *ad, LDAPMessage *e, const char *attr,
    const char *want)
{
	struct berval **vals = ldap_get_values_len(ad->ld, e, attr);
	size_t i, n = strlen(want);
	int has = 0;

	for (i = 0; vals != NULL && vals[i] != NULL; i++)
		if (vals[i]->bv_len == n &&
		    strncasecmp(vals[i]->bv_val, want, n) == 0)
			has = 1;
	ldap_value_free_len(vals);
	return has;
}

static enum bde_status
ad_rootdse_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	static const char *const ncs[] = { "defaultNamingContext",
	    "rootDomainNamingContext", "configurationNamingContext" };
	struct ad_rootdse_ctx *ctx = arg;
	struct berval **vals = NULL;
	enum bde_status st = BDE_OK;
	size_t i;

	vals = ldap_get_values_len(ad->ld, e, "vendorName");
	/* Samba 4.17: "Samba Team (https://www.samba.org)"; AD has none */
	for (i = 0; vals != NULL && vals[i] != NULL; i++)
		if (memmem(vals[i]->bv_val, vals[i]->bv_len, "Samba", 5) !=
		    NULL)
			ctx->samba = 1;
	ldap_value_free_len(vals);
	ctx->rodc = ad_rootdse_has(ad, e, "supportedCapabilities",
	    AD_CAP_PARTIAL_SECRETS);
	ctx->gc_ready = ad_rootdse_has(ad, e, "isGlobalCatalogReady", "TRUE");
	for (i = 0; i < 3; i++) {
		vals = ldap_get_values_len(ad->ld, e, ncs[i]);
		if (vals != NULL && vals[0] != NULL && ctx->dn[i] == NULL) {
			ctx->dn[i] = strndup(vals[0]->bv_val, vals[0]->bv_len);
			if (ctx->dn[i] == NULL)
				st = ad_nomem(errstr);
		}
		ldap_value_free_len(vals);
	}
	return st;
}

enum bde_status
ad_rootdse(struct ad *ad, char **base, char **errstr)
{
	static char *attrs[] = { "defaultNamingContext", "vendorName",
	    "rootDomainNamingContext", "configurationNamingContext",
	    "supportedCapabilities", "isGlobalCatalogReady", NULL };
	struct ad_rootdse_ctx ctx = { .samba = 0 };
	enum bde_status st;
	size_t i;

	/* RootDSE (RFC 4512 5.1): AD names its domain defaultNamingContext */
	st = ad_search_run(ad, &(const struct ad_search){
		.base = "",
		.scope = LDAP_SCOPE_BASE,
		.filter = "(objectClass=*)",
		.attrs = attrs,
		.what = "cannot read the RootDSE",
		.entry = ad_rootdse_entry,
		.arg = &ctx,
	}, errstr);
	if (st != BDE_OK)
		goto out;
	if (base != NULL && *base == NULL && ctx.dn[0] != NULL) {
		*base = strdup(ctx.dn[0]);
		if (*base == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
	}
	ad->vendor_known = 1;
	ad->samba = ctx.samba;
	ad->rodc = ctx.rodc;
	ad->gc_ready = ctx.gc_ready;
	free(ad->domain_dn);
	free(ad->forest_dn);
	free(ad->config_dn);
	ad->domain_dn = ctx.dn[0];
	ad->forest_dn = ctx.dn[1];
	ad->config_dn = ctx.dn[2];
	ctx.dn[0] = ctx.dn[1] = ctx.dn[2] = NULL;
out:
	for (i = 0; i < 3; i++)
		free(ctx.dn[i]);
	return st;
}

/* ------------------------------------------------------------------ */
/* Recovery objects                                                     */

enum bde_status
ad_recovery_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct ad_recovery_visit *visit = arg;
	struct ad_entry v;
	struct berval parent;
	char id[BDE_GUID_LEN + 1], *why = NULL;
	enum bde_status st;
	size_t n;

	st = ad_entry_read(ad, e, &v, errstr);
	if (st != BDE_OK)
		goto out;
	/* one broken object is reported, and the others still found */
	if (ad_recovery_check(ad->uri, &v, id, &why) != BDE_OK) {
		st = ad_problem(ad, why, errstr);
		why = NULL;
		goto out;
	}
	/* a one-level answer: every object is a child of the computer */
	if (visit->parent != NULL) {
		n = ad_rdn_len(v.dn.bv_val, v.dn.bv_len);
		parent.bv_val = v.dn.bv_val + (n < v.dn.bv_len ? n + 1 : n);
		parent.bv_len = v.dn.bv_len - (size_t)(parent.bv_val -
		    v.dn.bv_val);
		if (!ad_dn_equal(&parent, &(struct berval){
		    .bv_len = strlen(visit->parent),
		    .bv_val = (char *)visit->parent })) {
			if (asprintf(&why, "%s: recovery object '%.*s' is not "
			    "under '%s'", ad->uri, (int)v.dn.bv_len,
			    v.dn.bv_val, visit->parent) < 0) {
				why = NULL;
				st = ad_nomem(errstr);
				goto out;
			}
			st = ad_problem(ad, why, errstr);
			why = NULL;
			goto out;
		}
	}
	/* the filter may be wider than the query: re-check every hit */
	if (visit->id != NULL && !bde_keyid_match(visit->id, id))
		goto out;
	visit->matched++;
	st = visit->found(ad, &v, id, visit->arg, errstr);
out:
	free(why);
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
		.parent = NULL,
		.found = found,
		.arg = arg,
		.matched = 0,
	};
	char *filter = NULL, *what = NULL;
	enum bde_status st;

	/*
	 * The filter depends on the server: Samba cuts values at NUL.  A
	 * RootDSE that cannot be read leaves Windows's filter: against Samba
	 * that can only miss a key, never select others.
	 */
	if (!ad->vendor_known) {
		st = ad_rootdse(ad, NULL, errstr);
		if (st == BDE_EUNREACH || st == BDE_ENOMEM)
			goto out;
		if (st != BDE_OK) {
			free(*errstr);
			*errstr = NULL;
			ad->vendor_known = 1;
		}
	}
	filter = ad_keyid_filter(id, ad->samba);
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

/* ------------------------------------------------------------------ */
/* Secrets, one object at a time                                        */

/* What ad_read_secret's search found. */
struct ad_secret_ctx {
	const char *dn;
	const char *key_id;
	int package;		/* the key package, else the password */
	int seen;		/* the object was returned */
	char *val;		/* secret */
	size_t len;
};

static enum bde_status
ad_secret_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct ad_secret_ctx *ctx = arg;
	struct ad_entry v;
	const struct berval *bv;
	char id[BDE_GUID_LEN + 1], *why = NULL;
	enum bde_status st;
	int has;

	st = ad_entry_read(ad, e, &v, errstr);
	if (st != BDE_OK)
		goto out;
	/* a base search answers with that object, once, or it is not one */
	if (ctx->seen || !ad_dn_equal(&v.dn, &(struct berval){
	    .bv_len = strlen(ctx->dn), .bv_val = (char *)ctx->dn })) {
		st = bde_error(errstr, BDE_EPROTO, "%s: asked for '%s', the "
		    "server answered with '%.*s'", ad->uri, ctx->dn,
		    (int)v.dn.bv_len, v.dn.bv_val);
		goto out;
	}
	ctx->seen = 1;
	if (ad_recovery_check(ad->uri, &v, id, &why) != BDE_OK) {
		st = ad_problem(ad, why, errstr);
		why = NULL;
		goto out;
	}
	if (strcmp(id, ctx->key_id) != 0) {
		if (asprintf(&why, "%s: recovery object '%s' is now key ID "
		    "{%s}, not {%s}", ad->uri, ctx->dn, id, ctx->key_id) < 0) {
			why = NULL;
			st = ad_nomem(errstr);
			goto out;
		}
		st = ad_problem(ad, why, errstr);
		why = NULL;
		goto out;
	}
	bv = ctx->package ? &v.package : &v.password;
	has = ctx->package ? v.has_package : v.has_password;
	/* a visible object without the value: withheld (Control Access) */
	if (!has)
		goto out;
	ctx->val = malloc(bv->bv_len + 1);
	if (ctx->val == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	memcpy(ctx->val, bv->bv_val, bv->bv_len);
	ctx->val[bv->bv_len] = '\0';
	ctx->len = bv->bv_len;
out:
	free(why);
	ad_entry_wipe(&v);
	return st;
}

enum bde_status
ad_read_secret(struct ad *ad, const char *dn, const char *key_id,
    const char *attr, char **val, size_t *len, char **errstr)
{
	char *attrs[] = { "cn", AD_ATTR_GUID, (char *)attr, NULL };
	struct ad_secret_ctx ctx = {
		.dn = dn,
		.key_id = key_id,
		.package = strcmp(attr, AD_ATTR_PACKAGE) == 0,
		.seen = 0,
		.val = NULL,
		.len = 0,
	};
	char *what = NULL, *why = NULL;
	size_t before = ad->nproblems;
	enum bde_status st;

	*val = NULL;
	*len = 0;
	/*
	 * A Global Catalog keeps no secret (and Samba's would send one):
	 * a secret is read on a writable DC of the object's domain only.
	 */
	if (ad->gc || ad->gc_port || ad->rodc) {
		st = bde_error(errstr, BDE_EPROTO, "%s: refusing to read %s "
		    "from a %s, which keeps none%s", ad->uri, attr,
		    ad->rodc ? "read-only domain controller" :
		    "Global Catalog", ad->gc_port ? " (use the domain "
		    "controller's LDAP port, or no URI and --forest)" : "");
		goto out;
	}
	if (asprintf(&what, "read %s of '%s'", attr, dn) < 0) {
		what = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	st = ad_search_run(ad, &(const struct ad_search){
		.base = dn,
		.scope = LDAP_SCOPE_BASE,
		.filter = "(objectClass=" AD_CLASS_RECOVERY ")",
		.attrs = attrs,
		.what = what,
		.entry = ad_secret_entry,
		.arg = &ctx,
	}, errstr);
	if (st != BDE_OK)
		goto out;
	if (ad->nproblems > before) {
		st = BDE_ENOTFOUND;
		goto out;
	}
	if (!ctx.seen) {
		/* found a moment ago: deleted since, or never what it said */
		if (asprintf(&why, "%s: recovery object '%s' could not be read "
		    "again", ad->uri, dn) < 0) {
			why = NULL;
			st = ad_nomem(errstr);
			goto out;
		}
		st = ad_problem(ad, why, errstr);
		why = NULL;
		if (st == BDE_OK)
			st = BDE_ENOTFOUND;
		goto out;
	}
	*val = ctx.val;
	*len = ctx.len;
	ctx.val = NULL;
out:
	if (ctx.val != NULL) {
		explicit_bzero(ctx.val, ctx.len);
		free(ctx.val);
	}
	free(why);
	free(what);
	return st;
}
