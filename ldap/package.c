/*
 * package.c - the key_package operation: the msFVE-KeyPackage of the
 * recovery object a key ID names (repair-bde uses it to decrypt a
 * damaged volume).  Like the password it is confidential: Control Access
 * to read.
 *
 * One key ID can have several objects: `manage-bde -adbackup` run twice
 * stores the same key again (issue 9 case 14), and a forged object on
 * another computer can carry a real key's ID.  Their packages are read,
 * each from exactly its object; equal ones are one key (the newest object
 * is named), different ones are refused with every DN listed, since only
 * the person at the disk can tell which one belongs to it.
 */
#include "ldap/ad_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

/* Objects whose packages are compared; beyond this the ID is refused. */
#define AD_PKG_MAX_COPIES 16

/* One object that matched, and its package once read (a secret). */
struct ad_pkgobj {
	char *dn;
	char key_id[BDE_GUID_LEN + 1];
	time_t created;
	long long seq;
	unsigned char *pkg;
	size_t len;
};

/* What the key-ID search collects; ad_pkgctx_release frees it. */
struct ad_pkgctx {
	struct ad_pkgobj v[AD_PKG_MAX_COPIES];
	size_t n;		/* objects kept in v */
	size_t matches;		/* objects that matched */
	size_t ids;		/* distinct key IDs among them */
};

static void
ad_pkgctx_release(struct ad_pkgctx *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (p->v[i].pkg != NULL) {
			explicit_bzero(p->v[i].pkg, p->v[i].len);
			free(p->v[i].pkg);
		}
		free(p->v[i].dn);
	}
	memset(p, 0, sizeof(*p));
}

/* ad_keyid_search's found: remember where each matching object is. */
static enum bde_status
ad_package_found(struct ad *ad, const struct ad_entry *v, const char *key_id,
    void *arg, char **errstr)
{
	struct ad_pkgctx *p = arg;
	struct ad_pkgobj *o;
	char usn[24];
	size_t i;

	(void)ad;
	p->matches++;
	for (i = 0; i < p->n && strcmp(p->v[i].key_id, key_id) != 0; i++)
		;
	if (i == p->n)
		p->ids++;
	if (p->n == AD_PKG_MAX_COPIES)
		return BDE_OK;
	o = &p->v[p->n];
	memset(o, 0, sizeof(*o));
	memcpy(o->key_id, key_id, sizeof(o->key_id));
	/* no time at all sorts it oldest: it is never the one picked alone */
	if (ad_entry_created(v, &o->created) < 0)
		o->created = 0;
	if (v->usn.bv_val != NULL && v->usn.bv_len < sizeof(usn)) {
		memcpy(usn, v->usn.bv_val, v->usn.bv_len);
		usn[v->usn.bv_len] = '\0';
		o->seq = strtoll(usn, NULL, 10);
	}
	o->dn = strndup(v->dn.bv_val, v->dn.bv_len);
	if (o->dn == NULL)
		return ad_nomem(errstr);
	p->n++;
	return BDE_OK;
}

/* The index of the newest object of p (whenCreated, then uSNCreated). */
static size_t
ad_pkg_newest(const struct ad_pkgctx *p)
{
	size_t i, best = 0;

	for (i = 1; i < p->n; i++)
		if (p->v[i].created > p->v[best].created ||
		    (p->v[i].created == p->v[best].created &&
		    p->v[i].seq > p->v[best].seq))
			best = i;
	return best;
}

/* "DN1, DN2, ..." of p's objects, as a new string (NULL: no memory). */
static char *
ad_pkg_dns(const struct ad_pkgctx *p)
{
	char *s = NULL, *t;
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (asprintf(&t, "%s%s'%s'", s ? s : "", s ? ", " : "",
		    p->v[i].dn) < 0) {
			free(s);
			return NULL;
		}
		free(s);
		s = t;
	}
	return s;
}

enum bde_status
ad_key_package(void *self, const struct bde_keyid *id,
    struct bde_package *out, char **errstr)
{
	static char *attrs[] = { "cn", AD_ATTR_GUID, "whenCreated",
	    "uSNCreated", NULL };
	struct ad *ad = self, *sc = ad, *conn = ad;
	struct ad_pkgctx p;
	struct ad_pkgobj *o;
	char *parent = NULL, *dns = NULL, *val;
	size_t i, best, len;
	enum bde_status st;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	ad_problems_reset(ad);
	/*
	 * where the objects are (forest-wide: in the Global Catalog): no
	 * package is read by this search
	 */
	st = ad_lookup_conn(ad, &sc, errstr);
	if (st == BDE_OK)
		st = ad_keyid_search(sc, id, attrs, ad_package_found, &p,
		    errstr);
	if (ad_problems_merge(ad, sc, NULL) != BDE_OK && st == BDE_OK)
		st = ad_nomem(errstr);
	if (st != BDE_OK)
		goto out;
	if (p.ids > 1) {
		st = bde_error(errstr, BDE_EUSAGE,
		    "key ID '%s' matches %zu recovery keys: give more digits",
		    id->hex, p.ids);
		goto out;
	}
	if (p.matches > p.n) {
		st = bde_error(errstr, BDE_EUSAGE, "key ID '%s' has %zu "
		    "recovery objects: too many to compare", id->hex,
		    p.matches);
		goto out;
	}
	/* the package of exactly each matching object */
	ad->limit_ms = bde_now_ms() +
	    (long long)AD_SEARCH_TIMEOUTS * ad->timeout * 1000;
	for (i = 0; i < p.n; i++) {
		o = &p.v[i];
		/* on a writable DC of the object's own domain */
		st = ad_object_conn(ad, o->dn, &conn, errstr);
		if (st != BDE_OK)
			goto out;
		conn->limit_ms = ad->limit_ms;
		st = ad_read_secret(conn, o->dn, o->key_id, AD_ATTR_PACKAGE,
		    &val, &len, errstr);
		if (conn != ad)
			conn->limit_ms = 0;
		if (ad_problems_merge(ad, conn, NULL) != BDE_OK &&
		    st == BDE_OK) {
			if (val != NULL) {
				explicit_bzero(val, len);
				free(val);
			}
			st = ad_nomem(errstr);
		}
		if (st != BDE_OK)
			goto out;
		if (val == NULL) {
			st = bde_error(errstr, BDE_EPERM, "%s: recovery object "
			    "'%s' has no key package you can read (needs "
			    "Control Access, or none was escrowed)", conn->uri,
			    o->dn);
			goto out;
		}
		o->pkg = (unsigned char *)val;
		o->len = len;
	}
	for (i = 1; i < p.n; i++) {
		if (p.v[i].len == p.v[0].len &&
		    memcmp(p.v[i].pkg, p.v[0].pkg, p.v[0].len) == 0)
			continue;
		dns = ad_pkg_dns(&p);
		if (dns == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
		st = bde_error(errstr, BDE_EUSAGE, "key ID %s has %zu objects "
		    "with different key packages: %s; the disk's own key "
		    "package cannot be told from the others", p.v[0].key_id,
		    p.n, dns);
		goto out;
	}
	/* copies of one package: the newest object is the one named */
	best = ad_pkg_newest(&p);
	o = &p.v[best];
	st = ad_dn_parent(ad->uri, &(struct berval){ .bv_len = strlen(o->dn),
	    .bv_val = o->dn }, &parent, &out->device, errstr);
	if (st != BDE_OK)
		goto out;
	out->key_id = strdup(o->key_id);
	if (out->key_id == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	out->data = o->pkg;
	out->len = o->len;
	o->pkg = NULL;
	o->len = 0;
out:
	ad->limit_ms = 0;
	if (st != BDE_OK)
		bde_package_release(out);
	st = ad_problems_status(ad, st, errstr);
	free(parent);
	free(dns);
	ad_pkgctx_release(&p);
	return st;
}
