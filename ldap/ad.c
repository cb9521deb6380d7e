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

#include "core/clock.h"

#define AD_DEFAULT_PAGE_SIZE 500
/* AD refuses pages above MaxPageSize (1000 by default) */
#define AD_MAX_PAGE_SIZE 1000

/* What a lookup adds keys for (ad_key_found's arg). */
struct ad_keyctx {
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

/* What the computer search looks for (ad_computer_entry's arg). */
struct ad_computer_query {
	const char *name;	/* as asked */
	int netbios;		/* the filter also asks for its first 15 */
	struct ad_computers *cs;
};

/* NetBIOS names, which cn and sAMAccountName hold, are 15 bytes long */
#define AD_NETBIOS_MAX 15

static void
ad_free(struct ad *ad)
{
	if (ad == NULL)
		return;
	ad_conn_free(ad);
}

/* ------------------------------------------------------------------ */
/* Recovery objects to keys                                             */

/*
 * A recovery search's found (see struct ad_recovery_visit): the checked
 * object v with key ID key_id becomes a key in ctx->keys, without its
 * password (ad_read_passwords reads those of the keys kept).  An object
 * that cannot be used is a problem (ad_problem) and left out.
 */
static enum bde_status
ad_key_found(struct ad *ad, const struct ad_entry *v, const char *key_id,
    void *arg, char **errstr)
{
	struct ad_keyctx *ctx = arg;
	struct bde_key *k = NULL;
	char vol[BDE_GUID_LEN + 1], usn[24];
	char *parent = NULL, *name = NULL, *why = NULL;
	enum bde_status st = BDE_OK;
	int unusable = 0;

	k = bde_keylist_add(ctx->keys);
	if (k == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	k->source = "ad";
	memcpy(k->key_id, key_id, sizeof(k->key_id));
	if (v->volume.bv_val != NULL && ad_guid_text(&v->volume, vol) < 0) {
		unusable = 1;
		if (asprintf(&why, "%s: recovery object '%.*s': "
		    AD_ATTR_VOLUME " is %zu bytes, not 16", ad->uri,
		    (int)v->dn.bv_len, v->dn.bv_val,
		    (size_t)v->volume.bv_len) < 0)
			why = NULL;
		goto out;
	}
	if (v->volume.bv_val != NULL &&
	    (k->volume_guid = strdup(vol)) == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	/* whenCreated, else the time BitLocker wrote into the CN */
	if (ad_entry_created(v, &k->created) < 0) {
		unusable = 1;
		if (asprintf(&why, "%s: recovery object '%.*s': no creation "
		    "time (whenCreated '%.*s', and none in its name)", ad->uri,
		    (int)v->dn.bv_len, v->dn.bv_val, (int)v->when.bv_len,
		    v->when.bv_val ? v->when.bv_val : "") < 0)
			why = NULL;
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
		if (k->computer_dn == NULL || k->device == NULL)
			st = ad_nomem(errstr);
		goto out;
	}
	st = ad_dn_parent(ad->uri, &v->dn, &parent, &name, &why);
	if (st == BDE_EPROTO) {
		st = BDE_OK;
		unusable = 1;
		goto out;
	}
	if (st != BDE_OK) {
		st = ad_nomem(errstr);
		goto out;
	}
	k->computer_dn = parent;
	k->device = name;
	parent = name = NULL;
out:
	if (unusable)
		st = ad_problem(ad, why, errstr);
	else
		free(why);
	/* a half-filled record, or an unusable object's, is dropped again */
	if (k != NULL && (unusable || st != BDE_OK)) {
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

/*
 * The password of every key of keys, each read from exactly its object
 * (ad_read_secret): pw becomes BDE_PW_READ or BDE_PW_DENIED; a key whose
 * object is gone or changed meanwhile is dropped (a problem).  BDE_OK,
 * BDE_EPERM when a password was withheld (the keys are kept; the
 * message names the right that is missing), or a search's error.
 */
static enum bde_status
ad_read_passwords(struct ad *ad, struct bde_keylist *keys, char **errstr)
{
	struct bde_key *k;
	struct ad *conn;
	size_t i, n = 0, denied = 0, len;
	char *pw;
	enum bde_status st = BDE_OK, mv;
	long long limit;

	/* every password in one operation's time */
	limit = bde_now_ms() + (long long)AD_SEARCH_TIMEOUTS * ad->timeout *
	    1000;
	ad->limit_ms = limit;
	for (i = 0; i < keys->n; i++) {
		k = &keys->v[i];
		/* forest-wide: on a writable DC of the object's domain */
		if (st == BDE_OK)
			st = ad_object_conn(ad, k->dn, &conn, errstr);
		if (st == BDE_OK) {
			conn->limit_ms = limit;
			st = ad_read_secret(conn, k->dn, k->key_id,
			    AD_ATTR_PASSWORD, &pw, &len, errstr);
			conn->limit_ms = 0;
			mv = ad_problems_merge(ad, conn, NULL);
			if (mv != BDE_OK && st == BDE_OK)
				st = ad_nomem(errstr);
		}
		if (st == BDE_ENOTFOUND) {
			st = BDE_OK;
			bde_key_release(k);
			continue;
		}
		if (st == BDE_OK) {
			k->password = pw;
			k->pw = pw != NULL ? BDE_PW_READ : BDE_PW_DENIED;
			denied += pw == NULL;
		}
		keys->v[n++] = *k;
	}
	keys->n = n;
	ad->limit_ms = 0;
	if (st == BDE_OK && denied > 0)
		st = bde_error(errstr, BDE_EPERM, "no permission to read the "
		    "password of %zu %s: needs Control Access on the recovery "
		    "objects (" AD_ATTR_PASSWORD " is confidential)", denied,
		    denied == 1 ? "key" : "keys");
	return st;
}

/*
 * The end of a lookup: keys sorted, their passwords read when flags ask
 * for them, moved to out (also with BDE_EPERM), and the objects that
 * could not be used reported (ad_problems_status).  st is the status of
 * the search so far.
 */
static enum bde_status
ad_keys_finish(struct ad *ad, enum bde_status st, struct bde_keylist *keys,
    int flags, struct bde_keylist *out, char **errstr)
{
	enum bde_status mv;

	if (st != BDE_OK)
		goto out;
	bde_keylist_sort(keys);
	if (flags & BDE_WANT_PASSWORD)
		st = ad_read_passwords(ad, keys, errstr);
	if (st != BDE_OK && st != BDE_EPERM)
		goto out;
	mv = ad_keys_move(out, keys, NULL);
	if (mv != BDE_OK) {
		free(*errstr);
		st = ad_nomem(errstr);
		goto out;
	}
out:
	return ad_problems_status(ad, st, errstr);
}

/* Attributes of a recovery object a search asks for: never a secret. */
static char *ad_key_attrs[] = {
	"cn", AD_ATTR_GUID, AD_ATTR_VOLUME, "whenCreated", "uSNCreated", NULL
};

/* The problems conn met, reported by ad; st passed on (or out of memory). */
static enum bde_status
ad_merge(struct ad *ad, struct ad *conn, enum bde_status st, char **errstr)
{
	if (ad_problems_merge(ad, conn, NULL) != BDE_OK && st == BDE_OK)
		st = ad_nomem(errstr);
	return st;
}

/* ------------------------------------------------------------------ */
/* Lookups                                                              */

static enum bde_status
ad_computer_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct ad_computer_query *q = arg;
	struct ad_computers *cs = q->cs;
	struct ad_computer *c, *nv;
	struct ad_entry v;
	char *why = NULL;
	enum bde_status st;
	size_t cap;

	st = ad_entry_read(ad, e, &v, errstr);
	if (st != BDE_OK)
		goto out;
	/* the NetBIOS branch may match another computer: re-check */
	if (q->netbios && !ad_computer_named(&v, q->name))
		goto out;
	if (v.cn.bv_val == NULL) {
		if (asprintf(&why, "%s: computer '%.*s' has no cn", ad->uri,
		    (int)v.dn.bv_len, v.dn.bv_val) < 0) {
			why = NULL;
			st = ad_nomem(errstr);
			goto out;
		}
		st = ad_problem(ad, why, errstr);
		why = NULL;
		goto out;
	}
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
	c->name = strndup(v.cn.bv_val, v.cn.bv_len);
	if (c->dn == NULL || c->name == NULL) {
		free(c->dn);
		free(c->name);
		st = ad_nomem(errstr);
		goto out;
	}
	cs->n++;
out:
	free(why);
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

/* Whether s is printable ASCII only. */
static int
ad_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/*
 * The computers named name (cn, sAMAccountName; dNSHostName for a dotted
 * name; for a name longer than a NetBIOS name, also its first 15
 * characters, re-checked against dNSHostName's first label) into cs (the
 * caller frees it with ad_computers_free).  BDE_ENOTFOUND when there is
 * none.
 */
static enum bde_status
ad_find_computers(struct ad *ad, const char *name, struct ad_computers *cs,
    char **errstr)
{
	static char *attrs[] = { "cn", "sAMAccountName", "dNSHostName", NULL };
	char *esc = NULL, *filter = NULL, *short_name = NULL, *what = NULL;
	char *nb = NULL, *nbesc = NULL;
	struct ad_computer_query q = { .name = name, .netbios = 0, .cs = cs };
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
	/*
	 * A longer name is cut to 15 for cn and sAMAccountName (the NetBIOS
	 * name): ask for that too, by the indexed attributes, and keep only
	 * the computers whose dNSHostName's first label is the whole name
	 * (another long name may share the first 15).  Only for ASCII: the
	 * cut is in the OEM code page's bytes.
	 */
	q.netbios = !fqdn && strlen(short_name) > AD_NETBIOS_MAX &&
	    ad_ascii(short_name);
	if (q.netbios) {
		nb = strndup(short_name, AD_NETBIOS_MAX);
		nbesc = nb ? ad_filter_escape(nb) : NULL;
		if (nbesc == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
		if (asprintf(&filter, "(&(objectCategory=computer)(|(cn=%s)"
		    "(sAMAccountName=%s$)(cn=%s)(sAMAccountName=%s$)))", esc,
		    esc, nbesc, nbesc) < 0)
			filter = NULL;
	} else if (asprintf(&filter, "(&(objectCategory=computer)(|(cn=%s)"
	    "(sAMAccountName=%s$)%s%s%s))", esc, esc,
	    fqdn ? "(dNSHostName=" : "", fqdn ? esc : "",
	    fqdn ? ")" : "") < 0) {
		filter = NULL;
	}
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
		.arg = &q,
	}, errstr);
	if (st == BDE_OK && cs->n == 0)
		st = bde_error(errstr, BDE_ENOTFOUND,
		    "no computer named '%s'", name);
out:
	free(short_name);
	free(esc);
	free(nb);
	free(nbesc);
	free(filter);
	free(what);
	return st;
}

/*
 * The recovery objects of computer c into keys: a one-level search, as
 * they are children of the computer.
 */
static enum bde_status
ad_computer_keys(struct ad *ad, const struct ad_computer *c,
    struct bde_keylist *keys, char **errstr)
{
	char *what = NULL;
	struct ad_keyctx ctx = {
		.device = c->name,
		.computer_dn = c->dn,
		.keys = keys,
	};
	struct ad_recovery_visit visit = {
		.id = NULL,
		.parent = c->dn,
		.found = ad_key_found,
		.arg = &ctx,
		.matched = 0,
	};
	enum bde_status st;

	if (asprintf(&what, "search for recovery keys of '%s'", c->dn) < 0) {
		what = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	st = ad_search_run(ad, &(const struct ad_search){
		.base = c->dn,
		.scope = LDAP_SCOPE_ONELEVEL,
		.filter = "(objectClass=" AD_CLASS_RECOVERY ")",
		.attrs = ad_key_attrs,
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
	struct ad *ad = self, *sc = ad, *conn = ad;
	struct ad_computers cs = { .v = NULL, .n = 0, .cap = 0 };
	struct bde_keylist keys = BDE_KEYLIST_INIT;
	enum bde_status st = BDE_OK;
	size_t i;

	ad_problems_reset(ad);
	if (name == NULL || *name == '\0') {
		st = bde_error(errstr, BDE_EUSAGE, "empty device name");
		goto out;
	}
	st = ad_lookup_conn(ad, &sc, errstr);
	if (st != BDE_OK)
		goto out;
	st = ad_find_computers(sc, name, &cs, errstr);
	st = ad_merge(ad, sc, st, errstr);
	/* each computer's keys where they are kept: its domain's DC */
	for (i = 0; st == BDE_OK && i < cs.n; i++) {
		st = ad_object_conn(ad, cs.v[i].dn, &conn, errstr);
		if (st == BDE_OK)
			st = ad_computer_keys(conn, &cs.v[i], &keys, errstr);
		st = ad_merge(ad, conn, st, errstr);
	}
	if (st == BDE_OK && keys.n == 0 && ad->nproblems == 0) {
		st = bde_error(errstr, BDE_ENOTFOUND, "computer '%s' has no "
		    "recovery keys you can see", cs.n == 1 ? cs.v[0].name :
		    name);
		goto out;
	}
	/* what was found, and what could not be read */
	st = ad_keys_finish(ad, st, &keys, flags, out, errstr);
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
		.device = NULL,
		.computer_dn = NULL,
		.keys = &keys,
	};
	struct ad *sc = ad;
	enum bde_status st;

	ad_problems_reset(ad);
	st = ad_lookup_conn(ad, &sc, errstr);
	if (st != BDE_OK)
		goto out;
	st = ad_keyid_search(sc, id, ad_key_attrs, ad_key_found, &ctx,
	    errstr);
	st = ad_merge(ad, sc, st, errstr);
	/* every match was unusable: say why rather than "no such key" */
	if (st == BDE_ENOTFOUND && ad->nproblems > 0) {
		free(*errstr);
		*errstr = NULL;
		st = BDE_OK;
	}
	if (st == BDE_ENOTFOUND)
		goto out;
	st = ad_keys_finish(ad, st, &keys, flags, out, errstr);
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
	.escrow = ad_escrow,
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
	ad->s = s;
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
