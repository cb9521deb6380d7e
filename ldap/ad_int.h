/*
 * ad_int.h - what the AD backend's files share, and its unit tests see.
 * Not for cmd/: use ad.h.
 *
 * The rooms, lowest first (a file uses only those above it in this list):
 *   filter.c  LDAP filter values (pure)
 *   entry.c   recovery-object decoding and the one validity check (pure:
 *             works on struct berval, needs no connection)
 *   error.c   LDAP result code + diagnostic -> bde_status and message
 *   io.c      the Sockbuf I/O layer that bounds every wait on the socket
 *   search.c  the paged search runner, entry read/wipe, recovery searches
 *   bind.c    URI and TLS policy, SASL, bind, failover, RootDSE/base
 *   package.c the key_package operation
 *   ad.c      the lookups, open/close and the ops table
 */
#ifndef BDEKEY_AD_INT_H
#define BDEKEY_AD_INT_H

#include <stddef.h>
#include <time.h>

#include <lber.h>
#include <ldap.h>

#include "core/core.h"
#include "ldap/ad.h"

#define AD_CLASS_RECOVERY "msFVE-RecoveryInformation"
#define AD_ATTR_GUID "msFVE-RecoveryGuid"
#define AD_ATTR_VOLUME "msFVE-VolumeGuid"
#define AD_ATTR_PASSWORD "msFVE-RecoveryPassword"
#define AD_ATTR_PACKAGE "msFVE-KeyPackage"

/* ------------------------------------------------------------------ */
/* filter.c                                                             */

/*
 * s escaped for an LDAP filter value (RFC 4515 section 3: '*', '(', ')'
 * and '\' as \XX).  Returns a new string the caller frees, or NULL when
 * out of memory.
 */
char *ad_filter_escape(const char *s);

/*
 * The filter for recovery objects whose key ID starts with id (see
 * filter.c for the stored byte order and a Samba quirk).  Returns a new
 * string the caller frees, or NULL when out of memory.
 */
char *ad_keyid_filter(const struct bde_keyid *id);

/* ------------------------------------------------------------------ */
/* entry.c: pure decoding of what a directory sent                      */

/*
 * The values of one entry we care about.  Every berval points into the
 * LDAPMessage (ldap_get_attribute_ber does not copy), so secrets can be
 * wiped where libldap decoded them; valid until the message is freed.
 * A unit test fills one by hand.
 */
struct ad_entry {
	struct berval dn;
	struct berval cn, guid, volume, when, usn, password, package;
	int has_guid, has_password, has_package;
};

/*
 * Parse an LDAP GeneralizedTime as AD sends it, "YYYYMMDDHHMMSS[.f]Z"
 * (RFC 4517 3.3.13; "," for "." and a "+hhmm"/"-hhmm" offset are
 * accepted too), into UTC seconds.  Every field is range-checked (the
 * day against its month, a leap second "60" allowed).  Returns 0, or -1
 * for anything else (out is then untouched).
 */
int ad_time_parse(const struct berval *bv, time_t *out);

/*
 * A 16-byte GUID as AD stores it (mixed-endian, MS-DTYP 2.3.4.2) as
 * canonical text into out.  Returns 0, or -1 when bv is not 16 bytes.
 */
int ad_guid_text(const struct berval *bv, char out[BDE_GUID_LEN + 1]);

/*
 * The key ID named at the end of a recovery object's CN,
 * "<time>{GUID}" (BitLocker writes "2020-01-01T00:00:00-08:00{GUID}"),
 * as canonical text into out.  Returns 0, or -1 when the CN does not end
 * in a braced GUID.
 */
int ad_cn_guid(const struct berval *cn, char out[BDE_GUID_LEN + 1]);

/*
 * Length of the first RDN of dn (up to the first unescaped ','), RFC
 * 4514 escapes included: "CN=a\,b,OU=x" -> 7.  len when there is no ','.
 */
size_t ad_rdn_len(const char *dn, size_t len);

/*
 * The parent DN of a recovery object's DN and the unescaped value of the
 * parent's first RDN (the computer's cn), as new strings the caller
 * frees (both NULL on failure).  uri names the server in messages.
 * BDE_EPROTO (no parent, unparsable DN) or BDE_ENOMEM.
 */
enum bde_status ad_dn_parent(const char *uri, const struct berval *dn,
    char **parent, char **name, char **errstr);

/*
 * The one check every recovery object passes before bdekey uses it (the
 * lookups and the key package alike): msFVE-RecoveryGuid is present (the
 * schema makes it mandatory: systemMustContain) and 16 bytes, and when
 * the CN names a key ID, it is the same one: BitLocker writes both from
 * the same protector ID, so a disagreement is a forged or broken object
 * whose password would unlock nothing under either ID.  On BDE_OK the
 * canonical key ID is in key_id; else BDE_EPROTO, the message naming uri
 * and the object.
 */
enum bde_status ad_recovery_check(const char *uri, const struct ad_entry *v,
    char key_id[BDE_GUID_LEN + 1], char **errstr);

/* ------------------------------------------------------------------ */
/* The backend's state behind bde_backend.self                          */

struct ad {
	LDAP *ld;
	char *uri;		/* the URI(s) in use, for messages */
	char *base;		/* naming context searched */
	char *identity;		/* bound principal or DN, or NULL */
	int timeout;		/* seconds */
	int page_size;
	int timed_out;		/* the I/O layer gave up waiting */
	int tcp_up;		/* a TCP connection was made */
	struct ldap_conncb conncb;	/* libldap keeps a pointer to it */
};

/* ------------------------------------------------------------------ */
/* error.c                                                              */

/* Sets *errstr to "out of memory"; returns BDE_ENOMEM. */
enum bde_status ad_nomem(char **errstr);

/*
 * The diagnostic message libldap kept for ld's last operation, on one
 * line without a trailing dot, as a new string the caller frees; NULL
 * when there is none (or no memory).
 */
char *ad_diag(LDAP *ld);

/*
 * Fail with "URI: WHAT: reason (diagnostic)" for result rc, WHAT being
 * printf(fmt, ...).  bind says the operation was the bind, where any
 * refusal by the server is an authentication failure.  Returns the
 * status (BDE_EUNREACH after a timeout of the I/O layer).
 */
enum bde_status ad_fail(struct ad *ad, const char *uri, int rc, int bind,
    char **errstr, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ------------------------------------------------------------------ */
/* io.c                                                                 */

/*
 * Fill ad->conncb so that every connection of ad's handle waits at most
 * ad->timeout seconds for any read or write (the TLS handshake
 * included), and sets ad->tcp_up / ad->timed_out.  Give &ad->conncb to
 * LDAP_OPT_CONNECT_CB.
 */
void ad_io_conncb(struct ad *ad);

/* ------------------------------------------------------------------ */
/* search.c                                                             */

/* A search: where, what, and where each entry goes. */
struct ad_search {
	const char *base;
	int scope;
	const char *filter;
	char **attrs;
	const char *what;	/* for messages: "search for computer 'X'" */
	enum bde_status (*entry)(struct ad *ad, LDAPMessage *e, void *arg,
	    char **errstr);
	void *arg;
};

/*
 * Run q paged (RFC 2696) and domain-scoped, calling q->entry for every
 * entry.  BDE_OK (also when a one-level base vanished), or the error of
 * the search or of q->entry.
 */
enum bde_status ad_search_run(struct ad *ad, const struct ad_search *q,
    char **errstr);

/*
 * Read the values we use from entry e into v (pointers into e; see
 * struct ad_entry).  BDE_OK or BDE_EPROTO.  Call ad_entry_wipe(v) before
 * e is freed, also after a failure.
 */
enum bde_status ad_entry_read(struct ad *ad, LDAPMessage *e,
    struct ad_entry *v, char **errstr);

/* Wipe the secrets of v where libldap decoded them. */
void ad_entry_wipe(struct ad_entry *v);

/*
 * Where a recovery search hands each object: give ad_recovery_entry as
 * an ad_search's entry and a struct ad_recovery_visit as its arg.  Every
 * object is read, passes ad_recovery_check (else the search fails), is
 * skipped unless its key ID matches id (when set: filters may be wider
 * than the query), counted in matched, and given to found with its key
 * ID; v's values are valid until found returns, then its secrets are
 * wiped.
 */
struct ad_recovery_visit {
	const struct bde_keyid *id;
	enum bde_status (*found)(struct ad *ad, const struct ad_entry *v,
	    const char *key_id, void *arg, char **errstr);
	void *arg;
	size_t matched;
};

/* An ad_search entry callback; arg is a struct ad_recovery_visit. */
enum bde_status ad_recovery_entry(struct ad *ad, LDAPMessage *e, void *arg,
    char **errstr);

/*
 * The one key-ID search, domain-wide: recovery objects whose key ID
 * starts with id, reading attrs, each matching object given to found
 * (see struct ad_recovery_visit).  BDE_ENOTFOUND when none matched, or
 * the errors of ad_search_run and found.
 */
enum bde_status ad_keyid_search(struct ad *ad, const struct bde_keyid *id,
    char **attrs, enum bde_status (*found)(struct ad *ad,
    const struct ad_entry *v, const char *key_id, void *arg, char **errstr),
    void *arg, char **errstr);

/* ------------------------------------------------------------------ */
/* bind.c                                                               */

/*
 * Connect ad (its timeout and page size set) to the first server of s
 * that can be used, failing over through s->uris, bind, and find the
 * base.  On BDE_OK ad->ld, ad->uri, ad->base and ad->identity are set;
 * ad_open's errors otherwise (ad->ld is then NULL).
 */
enum bde_status ad_connect(struct ad *ad, const struct ad_settings *s,
    char **errstr);

/* ------------------------------------------------------------------ */
/* package.c                                                            */

/* The key_package operation (see struct bde_backend_ops). */
enum bde_status ad_key_package(void *self, const struct bde_keyid *id,
    struct bde_package *out, char **errstr);

#endif
