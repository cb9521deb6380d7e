/*
 * escrow.c - the escrow operation (bdekey report): every computer under
 * the base with its recovery objects' metadata, never a password.
 *
 * Two paged subtree searches whatever the number of computers: every
 * msFVE-RecoveryInformation object (DN, msFVE-VolumeGuid, whenCreated:
 * nothing confidential, so an account without Control Access gets the
 * same report) counted per parent DN, the computer ([MS-ADSC]: its only
 * possible superior), into a join table on disk (core/scratch.h); then
 * every computer, looked up there and handed over as its row completes.
 * Memory: a page of entries, whatever the number of computers.  All the server sends is checked; a value
 * that fails is unknown (SID, logon time) or makes its object a problem
 * (ad_problem), reported after the rows.
 */
#include "ldap/ad_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"

/* ------------------------------------------------------------------ */
/* The walk                                                             */

/* computers with keys a walk keeps (its scratch table: about 500 MB) */
#define AD_ESCROW_MAX_COMPUTERS 2000000
/* AD's MaxPageSize; a --page-size that was set is used instead */
#define AD_ESCROW_PAGE_SIZE 1000
#define AD_ESCROW_ATTRS 5	/* attributes asked at most */

/* The state of one walk. */
struct ad_escrow_walk {
	struct bde_dtab *t;	/* the join table, on disk */
	uint64_t seed[2];	/* of the DN hashes: random per walk */
	bde_escrow_fn fn;
	void *arg;
	unsigned long keys, computers;	/* objects counted, rows given */
	char *buf;		/* a row's strings */
	size_t cap;
};

/*
 * One search of the walk (ad_search_run's q->arg): entry gets each
 * entry's DN and the first value of each of attrs (absent: bv_val NULL),
 * all pointing into the entry.
 */
struct ad_escrow_search {
	struct ad_escrow_walk *w;
	char **attrs;
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
ad_escrow_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	const struct ad_escrow_search *q = arg;
	struct berval dn, attr, *vals = NULL, v[AD_ESCROW_ATTRS];
	BerElement *ber = NULL;
	enum bde_status st = BDE_OK;
	size_t i;

	memset(v, 0, sizeof(v));
	if (ldap_get_dn_ber(ad->ld, e, &ber, &dn) != LDAP_SUCCESS ||
	    dn.bv_val == NULL) {
		st = bde_error(errstr, BDE_EPROTO, "%s: cannot decode an "
		    "entry", ad->uri);
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
	st = q->entry(ad, q->w, &dn, v, errstr);
out:
	ber_memfree(vals);
	if (ber != NULL)
		ber_free(ber, 0);
	return st;
}

/* Every entry of class filter under the base to entry: one walk. */
static enum bde_status
ad_escrow_run(struct ad *ad, struct ad_escrow_walk *w, const char *filter,
    char **attrs, const char *what, enum bde_status (*entry)(struct ad *,
    struct ad_escrow_walk *, const struct berval *, const struct berval *,
    char **), char **errstr)
{
	struct ad_escrow_search q = { .w = w, .attrs = attrs, .entry = entry };

	return ad_search_run(ad, &(const struct ad_search){
		.base = ad->base,
		.scope = LDAP_SCOPE_SUBTREE,
		.filter = filter,
		.attrs = attrs,
		.what = what,
		.entry = ad_escrow_entry,
		.arg = &q,
		.page_size = ad->s != NULL && ad->s->page_size > 0 ?
		    ad->page_size : AD_ESCROW_PAGE_SIZE,
		.walk = 1,
	}, errstr);
}

/* The join table's key of a DN: its hash with each of the walk's seeds. */
static int
ad_escrow_key_of(const struct ad_escrow_walk *w, const char *dn, size_t len,
    uint64_t key[2])
{
	if (ad_dn_hash(dn, len, w->seed[0], &key[0]) < 0 ||
	    ad_dn_hash(dn, len, w->seed[1], &key[1]) < 0)
		return -1;
	return 0;
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
	uint64_t key[2];
	size_t n = ad_rdn_len(dn->bv_val, dn->bv_len);

	if (n + 1 >= dn->bv_len || ad_escrow_key_of(w, dn->bv_val + n + 1,
	    dn->bv_len - n - 1, key) < 0)
		why = "no parent DN that can be read";
	else if (when->bv_val == NULL || ad_time_parse(when, &created) < 0)
		why = "no valid whenCreated";
	else if (vol->bv_val != NULL && vol->bv_len != 16)
		why = AD_ATTR_VOLUME " is not 16 bytes";
	if (why != NULL)
		return ad_escrow_problem(ad, dn, "recovery object", why, errstr);
	if (bde_dtab_count(w->t) >= AD_ESCROW_MAX_COMPUTERS)
		return bde_error(errstr, BDE_EPROTO, "%s: search for recovery "
		    "objects: keys of %d computers or more; stopped", ad->uri,
		    AD_ESCROW_MAX_COMPUTERS);
	w->keys++;
	return ad_escrow_table_add(w->t, key, created, vol->bv_val == NULL ?
	    NULL : (const uint8_t *)vol->bv_val, errstr);
}

/* Computers: what the second search asks. */
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
	const struct berval *sid = &v[3], *dns = &v[4];
	struct berval host = { .bv_len = 0, .bv_val = NULL };
	struct ad_escrow_info info;
	struct bde_escrow row;
	char sidtext[AD_SID_TEXT_MAX], vols[AD_ESCROW_VOLS * (BDE_GUID_LEN + 1)];
	const char *why = NULL;
	enum bde_status st;
	uint64_t key[2];
	size_t need, i;
	char *p;
	int found;

	if (!ad_escrow_text(cn) || cn->bv_len == 0)
		why = "no cn";
	else if (ad_escrow_key_of(w, dn->bv_val, dn->bv_len, key) < 0)
		why = "a DN that cannot be read";
	if (why != NULL)
		return ad_escrow_problem(ad, dn, "computer", why, errstr);
	/* the host name: dNSHostName up to its first dot (a DNS label) */
	if (ad_escrow_text(dns)) {
		host.bv_val = dns->bv_val;
		p = memchr(dns->bv_val, '.', dns->bv_len);
		host.bv_len = p != NULL ? (size_t)(p - dns->bv_val) :
		    dns->bv_len;
		if (host.bv_len == 0 || host.bv_len > 63)
			host.bv_val = NULL;
	}
	/* the strings, NUL-terminated, in one buffer reused row to row */
	need = dn->bv_len + cn->bv_len + os->bv_len + host.bv_len + 4;
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
	if (host.bv_val != NULL)
		row.host = ad_escrow_put(&p, &host);
	if (ad_escrow_text(os) && os->bv_len > 0)
		row.os = ad_escrow_put(&p, os);
	if (sid->bv_val != NULL && ad_sid_text(sid, sidtext) == 0)
		row.sid = sidtext;
	if (logon->bv_val == NULL || ad_filetime_parse(logon, &row.last_seen) < 0)
		row.last_seen = 0;
	st = ad_escrow_table_get(w->t, key, &info, &found, errstr);
	if (st != BDE_OK)
		return st;
	if (found) {
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
	w->computers++;
	return BDE_OK;
}

enum bde_status
ad_escrow(void *self, bde_escrow_fn fn, void *arg, char **errstr)
{
	struct ad *ad = self, *sc = ad;
	struct ad_escrow_walk w = { .fn = fn, .arg = arg };
	enum bde_status st;

	ad_problems_reset(ad);
	st = ad_escrow_table_new(&w.t, errstr);
	if (st != BDE_OK)
		goto out;
	arc4random_buf(w.seed, sizeof(w.seed));
	/* forest-wide: the Global Catalog has both classes, no secret */
	st = ad_lookup_conn(ad, &sc, errstr);
	if (st != BDE_OK)
		goto out;
	st = ad_escrow_run(sc, &w, "(objectClass=" AD_CLASS_RECOVERY ")",
	    ad_escrow_key_attrs, "search for recovery objects", ad_escrow_key,
	    errstr);
	if (st == BDE_OK)
		st = ad_escrow_run(sc, &w, "(objectCategory=computer)",
		    ad_escrow_pc_attrs, "search for computers",
		    ad_escrow_computer, errstr);
	if (ad_problems_merge(ad, sc, NULL) != BDE_OK && st == BDE_OK)
		st = ad_nomem(errstr);
	st = ad_problems_status(ad, st, errstr);
	/*
	 * Not one recovery object: none was escrowed, or (AD's default:
	 * they are readable by admins only) this account cannot see them.
	 */
	if (st == BDE_OK && w.keys == 0 && w.computers > 0)
		st = bde_error(errstr, BDE_OK, "%s: no recovery object "
		    "(msFVE-RecoveryInformation) is visible under '%s': "
		    "either no computer ever escrowed a key, or this account "
		    "may not list them (delegate List Contents and Read on "
		    "msFVE-RecoveryInformation objects); every computer shows "
		    "no-key", sc->uri, sc->base);
out:
	free(w.buf);
	bde_dtab_free(w.t);
	return st;
}
