/*
 * ad.c - the Active Directory backend: find msFVE-RecoveryInformation
 * objects over LDAP with OpenLDAP's libldap and Cyrus SASL.  This file
 * holds the lookups, open/close and the ops table; ad_int.h names the
 * rooms the rest lives in.
 *
 * One LDAP handle per backend, bound once in ad_open(); every search is
 * synchronous, paged and bounded by the settings' timeout.  Recovery
 * objects are children of their computer ([MS-ADSC]
 * msFVE-RecoveryInformation); the password is a confidential attribute
 * (Control Access to read).
 */
#include "ldap/ad.h"
#include "ldap/ad_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AD_DEFAULT_TIMEOUT 10
#define AD_DEFAULT_PAGE_SIZE 500
/* AD refuses pages above MaxPageSize (1000 by default) */
#define AD_MAX_PAGE_SIZE 1000

/* What a lookup adds keys for (ad_key_found's arg). */
struct ad_keyctx {
	int flags;
	const char *device;		/* by device: the computer's name */
	const char *computer_dn;	/* and DN; NULL: from the key's DN */
	struct bde_keylist *keys;
};

/* A computer found by name; both strings owned by ad_computers. */
struct ad_computer {
	char *dn;
	char *name;
};

struct ad_computers {
	struct ad_computer *v;
	size_t n, cap;
};

static void
ad_free(struct ad *ad)
{
	if (ad == NULL)
		return;
	if (ad->ld != NULL)
		ldap_unbind_ext_s(ad->ld, NULL, NULL);
	free(ad->uri);
	free(ad->base);
	free(ad->identity);
	free(ad);
}

/* ------------------------------------------------------------------ */
/* Recovery objects to keys                                             */

/*
 * A recovery search's found (see struct ad_recovery_visit): the checked
 * object v with key ID key_id becomes a key in ctx->keys.
 */
static enum bde_status
ad_key_found(struct ad *ad, const struct ad_entry *v, const char *key_id,
    void *arg, char **errstr)
{
	struct ad_keyctx *ctx = arg;
	struct bde_key *k = NULL;
	char vol[BDE_GUID_LEN + 1], usn[24];
	char *parent = NULL, *name = NULL;
	enum bde_status st = BDE_OK;

	k = bde_keylist_add(ctx->keys);
	if (k == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	k->source = "ad";
	memcpy(k->key_id, key_id, sizeof(k->key_id));
	if (v->volume.bv_val != NULL) {
		if (ad_guid_text(&v->volume, vol) < 0) {
			st = bde_error(errstr, BDE_EPROTO,
			    "%s: recovery object '%.*s': " AD_ATTR_VOLUME
			    " is %zu bytes, not 16", ad->uri,
			    (int)v->dn.bv_len, v->dn.bv_val,
			    (size_t)v->volume.bv_len);
			goto out;
		}
		k->volume_guid = strdup(vol);
		if (k->volume_guid == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
	}
	if (ad_time_parse(&v->when, &k->created) < 0) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s': bad whenCreated '%.*s'",
		    ad->uri, (int)v->dn.bv_len, v->dn.bv_val,
		    (int)v->when.bv_len, v->when.bv_val ? v->when.bv_val : "");
		goto out;
	}
	if (v->usn.bv_val != NULL && v->usn.bv_len < sizeof(usn)) {
		memcpy(usn, v->usn.bv_val, v->usn.bv_len);
		usn[v->usn.bv_len] = '\0';
		k->seq = strtoll(usn, NULL, 10);
	}
	k->dn = strndup(v->dn.bv_val, v->dn.bv_len);
	if (k->dn == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	if (ctx->computer_dn != NULL) {
		k->computer_dn = strdup(ctx->computer_dn);
		k->device = strdup(ctx->device);
		if (k->computer_dn == NULL || k->device == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
	} else {
		st = ad_dn_parent(ad->uri, &v->dn, &parent, &name, errstr);
		if (st != BDE_OK)
			goto out;
		k->computer_dn = parent;
		k->device = name;
		parent = name = NULL;
	}
	if (ctx->flags & BDE_WANT_PASSWORD) {
		/* visible object, no value: withheld (Control Access) */
		if (v->has_password) {
			k->password = strndup(v->password.bv_val,
			    v->password.bv_len);
			if (k->password == NULL) {
				st = ad_nomem(errstr);
				goto out;
			}
			k->pw = BDE_PW_READ;
		} else {
			k->pw = BDE_PW_DENIED;
		}
	}
out:
	/* a half-filled record is dropped again */
	if (k != NULL && st != BDE_OK) {
		bde_key_release(k);
		ctx->keys->n--;
	}
	free(parent);
	free(name);
	return st;
}

/* Move every key of from to the end of to; from is emptied. */
static enum bde_status
ad_keys_move(struct bde_keylist *to, struct bde_keylist *from, char **errstr)
{
	struct bde_key *k;
	size_t i;

	for (i = 0; i < from->n; i++) {
		k = bde_keylist_add(to);
		if (k == NULL)
			return ad_nomem(errstr);
		*k = from->v[i];
		memset(&from->v[i], 0, sizeof(from->v[i]));
	}
	bde_keylist_free(from);
	return BDE_OK;
}

/* Attributes of a recovery object; the password only when asked for. */
static void
ad_key_attrs(int flags, char **attrs)
{
	size_t n = 0;

	attrs[n++] = "cn";
	attrs[n++] = AD_ATTR_GUID;
	attrs[n++] = AD_ATTR_VOLUME;
	attrs[n++] = "whenCreated";
	attrs[n++] = "uSNCreated";
	/* left out otherwise, so reading it shows in audit trails only
	   when a password was really wanted */
	if (flags & BDE_WANT_PASSWORD)
		attrs[n++] = AD_ATTR_PASSWORD;
	attrs[n] = NULL;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                              */

static enum bde_status
ad_computer_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct ad_computers *cs = arg;
	struct ad_computer *c, *nv;
	struct ad_entry v;
	enum bde_status st;
	size_t cap;

	st = ad_entry_read(ad, e, &v, errstr);
	if (st != BDE_OK)
		goto out;
	if (cs->n == cs->cap) {
		cap = cs->cap ? cs->cap * 2 : 4;
		nv = reallocarray(cs->v, cap, sizeof(*nv));
		if (nv == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
		cs->v = nv;
		cs->cap = cap;
	}
	c = &cs->v[cs->n];
	c->dn = strndup(v.dn.bv_val, v.dn.bv_len);
	c->name = v.cn.bv_val != NULL ? strndup(v.cn.bv_val, v.cn.bv_len) :
	    NULL;
	if (c->dn == NULL || c->name == NULL) {
		free(c->dn);
		free(c->name);
		st = ad_nomem(errstr);
		goto out;
	}
	cs->n++;
out:
	ad_entry_wipe(&v);
	return st;
}

static void
ad_computers_free(struct ad_computers *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++) {
		free(cs->v[i].dn);
		free(cs->v[i].name);
	}
	free(cs->v);
	memset(cs, 0, sizeof(*cs));
}

/*
 * The computers named name (cn, sAMAccountName, and dNSHostName for a
 * dotted name) into cs (the caller frees it with ad_computers_free).
 * BDE_ENOTFOUND when there is none.
 */
static enum bde_status
ad_find_computers(struct ad *ad, const char *name, struct ad_computers *cs,
    char **errstr)
{
	static char *attrs[] = { "cn", NULL };
	char *esc = NULL, *filter = NULL, *short_name = NULL, *what = NULL;
	enum bde_status st;
	size_t n;
	int fqdn;

	/* "PC1$" is the account name of "PC1" */
	n = strlen(name);
	short_name = strndup(name, n > 1 && name[n - 1] == '$' ? n - 1 : n);
	esc = short_name ? ad_filter_escape(short_name) : NULL;
	if (esc == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	/*
	 * dNSHostName is not indexed (searchFlags 0): one OR branch on it
	 * makes the DC scan every object, so ask only for a dotted name.
	 */
	fqdn = strchr(short_name, '.') != NULL;
	if (asprintf(&filter, "(&(objectCategory=computer)(|(cn=%s)"
	    "(sAMAccountName=%s$)%s%s%s))", esc, esc,
	    fqdn ? "(dNSHostName=" : "", fqdn ? esc : "", fqdn ? ")" : "") < 0)
		filter = NULL;
	if (asprintf(&what, "search for computer '%s'", name) < 0)
		what = NULL;
	if (filter == NULL || what == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	st = ad_search_run(ad, &(const struct ad_search){
		.base = ad->base,
		.scope = LDAP_SCOPE_SUBTREE,
		.filter = filter,
		.attrs = attrs,
		.what = what,
		.entry = ad_computer_entry,
		.arg = cs,
	}, errstr);
	if (st == BDE_OK && cs->n == 0)
		st = bde_error(errstr, BDE_ENOTFOUND,
		    "no computer named '%s'", name);
out:
	free(short_name);
	free(esc);
	free(filter);
	free(what);
	return st;
}

/*
 * The recovery objects of computer c into keys: a one-level search, as
 * they are children of the computer.
 */
static enum bde_status
ad_computer_keys(struct ad *ad, const struct ad_computer *c, int flags,
    struct bde_keylist *keys, char **errstr)
{
	char *attrs[8], *what = NULL;
	struct ad_keyctx ctx = {
		.flags = flags,
		.device = c->name,
		.computer_dn = c->dn,
		.keys = keys,
	};
	struct ad_recovery_visit visit = {
		.id = NULL,
		.found = ad_key_found,
		.arg = &ctx,
		.matched = 0,
	};
	enum bde_status st;

	ad_key_attrs(flags, attrs);
	if (asprintf(&what, "search for recovery keys of '%s'", c->dn) < 0) {
		what = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	st = ad_search_run(ad, &(const struct ad_search){
		.base = c->dn,
		.scope = LDAP_SCOPE_ONELEVEL,
		.filter = "(objectClass=" AD_CLASS_RECOVERY ")",
		.attrs = attrs,
		.what = what,
		.entry = ad_recovery_entry,
		.arg = &visit,
	}, errstr);
out:
	free(what);
	return st;
}

/* by_device: the computers named name, then the keys under each. */
static enum bde_status
ad_by_device(void *self, const char *name, int flags,
    struct bde_keylist *out, char **errstr)
{
	struct ad *ad = self;
	struct ad_computers cs = { .v = NULL, .n = 0, .cap = 0 };
	struct bde_keylist keys = BDE_KEYLIST_INIT;
	enum bde_status st = BDE_OK;
	size_t i;

	if (name == NULL || *name == '\0') {
		st = bde_error(errstr, BDE_EUSAGE, "empty device name");
		goto out;
	}
	st = ad_find_computers(ad, name, &cs, errstr);
	if (st != BDE_OK)
		goto out;
	for (i = 0; i < cs.n; i++) {
		st = ad_computer_keys(ad, &cs.v[i], flags, &keys, errstr);
		if (st != BDE_OK)
			goto out;
	}
	if (keys.n == 0) {
		st = bde_error(errstr, BDE_ENOTFOUND,
		    "computer '%s' has no recovery keys you can see",
		    cs.n == 1 ? cs.v[0].name : name);
		goto out;
	}
	bde_keylist_sort(&keys);
	st = ad_keys_move(out, &keys, errstr);
out:
	bde_keylist_free(&keys);
	ad_computers_free(&cs);
	return st;
}

/* by_keyid: recovery objects whose key ID starts with id, domain-wide. */
static enum bde_status
ad_by_keyid(void *self, const struct bde_keyid *id, int flags,
    struct bde_keylist *out, char **errstr)
{
	struct ad *ad = self;
	struct bde_keylist keys = BDE_KEYLIST_INIT;
	struct ad_keyctx ctx = {
		.flags = flags,
		.device = NULL,
		.computer_dn = NULL,
		.keys = &keys,
	};
	char *attrs[8];
	enum bde_status st;

	ad_key_attrs(flags, attrs);
	st = ad_keyid_search(ad, id, attrs, ad_key_found, &ctx, errstr);
	if (st != BDE_OK)
		goto out;
	bde_keylist_sort(&keys);
	st = ad_keys_move(out, &keys, errstr);
out:
	bde_keylist_free(&keys);
	return st;
}

/* ------------------------------------------------------------------ */
/* The backend                                                          */

static const char *
ad_identity(void *self)
{
	struct ad *ad = self;

	return ad->identity;
}

static void
ad_close(void *self)
{
	ad_free(self);
}

static const struct bde_backend_ops ad_ops = {
	.name = "ad",
	.by_device = ad_by_device,
	.by_keyid = ad_by_keyid,
	.identity = ad_identity,
	.close = ad_close,
	.key_package = ad_key_package,
};

enum bde_status
ad_open(const struct ad_settings *s, struct bde_backend *out, char **errstr)
{
	struct ad *ad = NULL;
	enum bde_status st;

	memset(out, 0, sizeof(*out));
	ad = calloc(1, sizeof(*ad));
	if (ad == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	ad->timeout = s->timeout > 0 ? s->timeout : AD_DEFAULT_TIMEOUT;
	ad->page_size = s->page_size > 0 ? s->page_size : AD_DEFAULT_PAGE_SIZE;
	if (ad->page_size > AD_MAX_PAGE_SIZE)
		ad->page_size = AD_MAX_PAGE_SIZE;
	st = ad_connect(ad, s, errstr);
	if (st != BDE_OK)
		goto out;
	out->ops = &ad_ops;
	out->self = ad;
	ad = NULL;
out:
	ad_free(ad);
	return st;
}
