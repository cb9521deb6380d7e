/*
 * package.c - the key_package operation: the msFVE-KeyPackage of the one
 * recovery object a key ID names (repair-bde uses it to decrypt a
 * damaged volume).  Like the password it is confidential: Control Access
 * to read.
 */
#include "ldap/ad_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * What the search collects: the first matching object's package, where
 * it is and whose; how many matched (a second makes the ID ambiguous).
 * Strings and pkg are owned here and freed by ad_pkgctx_release.
 */
struct ad_pkgctx {
	size_t matches;
	unsigned char *pkg;	/* secret: wiped before free */
	size_t len;
	int withheld;		/* the object has no package we can read */
	char *device, *key_id, *dn;
};

static void
ad_pkgctx_release(struct ad_pkgctx *p)
{
	if (p->pkg != NULL) {
		explicit_bzero(p->pkg, p->len);
		free(p->pkg);
	}
	free(p->device);
	free(p->key_id);
	free(p->dn);
	memset(p, 0, sizeof(*p));
}

/* ad_keyid_search's found: keep the first match, count the others. */
static enum bde_status
ad_package_found(struct ad *ad, const struct ad_entry *v, const char *key_id,
    void *arg, char **errstr)
{
	struct ad_pkgctx *p = arg;
	char *parent = NULL;
	enum bde_status st = BDE_OK;

	if (p->matches++ > 0)
		goto out;
	st = ad_dn_parent(ad->uri, &v->dn, &parent, &p->device, errstr);
	if (st != BDE_OK)
		goto out;
	p->key_id = strdup(key_id);
	p->dn = strndup(v->dn.bv_val, v->dn.bv_len);
	if (p->key_id == NULL || p->dn == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	if (!v->has_package) {
		p->withheld = 1;
		goto out;
	}
	p->pkg = malloc(v->package.bv_len ? v->package.bv_len : 1);
	if (p->pkg == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	memcpy(p->pkg, v->package.bv_val, v->package.bv_len);
	p->len = v->package.bv_len;
out:
	free(parent);
	return st;
}

enum bde_status
ad_key_package(void *self, const struct bde_keyid *id,
    struct bde_package *out, char **errstr)
{
	static char *attrs[] = { "cn", AD_ATTR_GUID, AD_ATTR_PACKAGE, NULL };
	struct ad *ad = self;
	struct ad_pkgctx p = { .matches = 0 };
	enum bde_status st;

	memset(out, 0, sizeof(*out));
	st = ad_keyid_search(ad, id, attrs, ad_package_found, &p, errstr);
	if (st != BDE_OK)
		goto out;
	if (p.matches > 1) {
		st = bde_error(errstr, BDE_EUSAGE,
		    "key ID '%s' matches %zu recovery keys: give more digits",
		    id->hex, p.matches);
		goto out;
	}
	if (p.withheld) {
		st = bde_error(errstr, BDE_EPERM,
		    "%s: recovery object '%s' has no key package you can "
		    "read (needs Control Access, or none was escrowed)",
		    ad->uri, p.dn);
		goto out;
	}
	out->data = p.pkg;
	out->len = p.len;
	out->device = p.device;
	out->key_id = p.key_id;
	p.pkg = NULL;
	p.len = 0;
	p.device = NULL;
	p.key_id = NULL;
out:
	ad_pkgctx_release(&p);
	return st;
}
