/*
 * ad_int.h - what the AD backend's files share, and its unit tests see.
 * Not for cmd/: use ad.h.
 *
 * The rooms, lowest first (a file uses only those above it in this list):
 *   wipe.c    zeroing allocators: liblber, Cyrus SASL and (outside
 *             AddressSanitizer builds) the process's free/realloc
 *   conf.c    libldap's own configuration: read once with "/" as the
 *             working directory (no ./ldaprc), and where each setting
 *             came from
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
/* wipe.c                                                               */

/* free(p) after wiping its malloc_usable_size bytes (p may be NULL). */
void ad_wipe_free(void *p);

/*
 * realloc(p, n) that never leaves a moved block unwiped: a move is done
 * as malloc, copy and ad_wipe_free.  Same contract as realloc.
 */
void *ad_wipe_realloc(void *p, size_t n);

/*
 * Install the wiping allocators in liblber (LBER_OPT_MEMORY_FNS) and
 * Cyrus SASL (sasl_set_alloc).  Must run before any other liblber or
 * SASL call (ad_conf_init does it, once).  0, or -1 when liblber
 * refused (it was used already).
 */
int ad_wipe_install(void);

/* ------------------------------------------------------------------ */
/* conf.c                                                               */

/*
 * Make libldap read its global configuration now, once, with "/" as the
 * working directory (so never ./ldaprc), after ad_wipe_install.  Every
 * public entry point of this backend calls it before touching libldap;
 * the first call changes the process's working directory for a moment,
 * so it must come before other threads run (cmd/ calls
 * ad_default_uri_configured and ad_check first).  BDE_OK, or
 * BDE_ECONFIG when the working directory could not be kept (libldap is
 * then never used).
 */
enum bde_status ad_conf_init(char **errstr);

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
 * filter.c for the stored byte order); samba says the server is Samba,
 * whose substring matching cuts values at NUL bytes.  The filter may
 * match more than the query (hits are re-checked), never less.  Returns
 * a new string the caller frees, or NULL when out of memory.
 */
char *ad_keyid_filter(const struct bde_keyid *id, int samba);

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
	struct berval sam, dns;		/* computers: sAMAccountName,
					   dNSHostName */
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
 * The creation time BitLocker wrote at the start of a recovery object's
 * CN, "2023-10-10T10:00:00-08:00{GUID}" (or "...Z{GUID}"), into *out as
 * UTC seconds.  0, or -1 when the CN does not start that way.
 */
int ad_cn_time(const struct berval *cn, time_t *out);

/*
 * When a recovery object was made: whenCreated, else the time in its CN
 * (ad_cn_time).  0, or -1 when neither can be read.
 */
int ad_entry_created(const struct ad_entry *v, time_t *out);

/*
 * Whether a computer entry names the computer name: cn or
 * sAMAccountName ("NAME$") equal to it, dNSHostName equal to it, or the
 * first label of dNSHostName equal to it (names longer than 15
 * characters: cn and sAMAccountName hold the NetBIOS name, its first
 * 15).  ASCII case is ignored.  A trailing "$" on name is ignored.
 */
int ad_computer_named(const struct ad_entry *v, const char *name);

/*
 * Whether two DNs are the same once parsed (RFC 4514: escapes, case and
 * spaces around separators ignored).  0 when either does not parse.
 */
int ad_dn_equal(const struct berval *a, const struct berval *b);

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
	int vendor_known;	/* the RootDSE's vendorName was read */
	int samba;		/* ... and names Samba */
	long long deadline_ms;	/* end of the current phase (bde_now_ms
				   time; 0 none): see ad_io_phase */
	long long limit_ms;	/* end of the current operation (0 none):
				   no search runs past it */
	/* objects a lookup could not use (it goes on without them) */
	char *problems;		/* "DN: why; DN: why" (the first few) */
	size_t nproblems;
	struct ldap_conncb conncb;	/* libldap keeps a pointer to it */
};

/* A search may take this many --timeout in all, and an operation too. */
#define AD_SEARCH_TIMEOUTS 10

/* ------------------------------------------------------------------ */
/* error.c                                                              */

/* Sets *errstr to "out of memory"; returns BDE_ENOMEM. */
enum bde_status ad_nomem(char **errstr);

/*
 * An object the current operation could not use, remembered (msg, its
 * one-line description, is taken: freed here; NULL says "unreadable") so
 * the operation can go on without it.  BDE_OK, or BDE_ENOMEM.
 */
enum bde_status ad_problem(struct ad *ad, char *msg, char **errstr);

/* Forget the problems of the previous operation. */
void ad_problems_reset(struct ad *ad);

/*
 * The status of an operation that ended with st (*errstr set when st is
 * an error) given its problems: unchanged when there were none or st is
 * a failure of its own (other than BDE_ENOTFOUND and BDE_EPERM);
 * otherwise BDE_EPROTO with "N object(s) could not be read: ..." (and
 * the message of a BDE_EPERM after it), the keys found being kept.
 */
enum bde_status ad_problems_status(struct ad *ad, enum bde_status st,
    char **errstr);

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

/*
 * Start a phase (connect, StartTLS, bind, one page of a search): the
 * I/O layer waits at most ad->timeout from now in all, and never past
 * limit_ms (a bde_now_ms time; 0 = none).  Clears ad->timed_out.
 */
void ad_io_phase(struct ad *ad, long long limit_ms);

/* What is left of the current phase, for libldap's timeouts (>= 1 ms). */
struct timeval ad_io_left(const struct ad *ad);

/* How long closing a connection may wait for the unbind to go out. */
#define AD_UNBIND_MS 1000

/* Unbind and free ad->ld (NULL is fine), waiting AD_UNBIND_MS at most. */
void ad_unbind(struct ad *ad);

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
 * entry.  Bounded: each page by ad->timeout, the whole search by
 * AD_SEARCH_TIMEOUTS x ad->timeout and ad->limit_ms (BDE_EUNREACH), and
 * by AD_MAX_PAGES pages and AD_MAX_ENTRIES entries (BDE_EPROTO).  Every
 * page is wiped before it is freed.  BDE_OK (also when a one-level base
 * vanished), or the error of the search or of q->entry.
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
 * Read the RootDSE (RFC 4512 5.1): sets ad->vendor_known and ad->samba
 * (vendorName names Samba), and *base (when base is not NULL and *base
 * is NULL) to a copy of defaultNamingContext.  The errors of
 * ad_search_run.
 */
enum bde_status ad_rootdse(struct ad *ad, char **base, char **errstr);

/*
 * Where a recovery search hands each object: give ad_recovery_entry as
 * an ad_search's entry and a struct ad_recovery_visit as its arg.  Every
 * object is read and passes ad_recovery_check, and is a child of parent
 * when that is set (a one-level search); one that does not is a problem
 * (ad_problem) and skipped.  It is skipped too unless its key ID matches
 * id (when set: filters may be wider than the query).  The rest are
 * counted in matched and given to found with their key ID; v's values
 * are valid until found returns.  No recovery search asks for a secret:
 * ad_read_secret reads those of exactly the objects wanted.
 */
struct ad_recovery_visit {
	const struct bde_keyid *id;
	const char *parent;
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
 * starts with id, reading attrs (never a secret), each matching object
 * given to found (see struct ad_recovery_visit).  The filter suits the
 * server (Samba or Windows: the RootDSE is read first when not yet
 * known).  BDE_ENOTFOUND when none matched, or the errors of
 * ad_search_run and found.
 */
enum bde_status ad_keyid_search(struct ad *ad, const struct bde_keyid *id,
    char **attrs, enum bde_status (*found)(struct ad *ad,
    const struct ad_entry *v, const char *key_id, void *arg, char **errstr),
    void *arg, char **errstr);

/*
 * The confidential attribute attr (AD_ATTR_PASSWORD or AD_ATTR_PACKAGE)
 * of exactly the recovery object dn, whose key ID must be key_id: a
 * base-scope search.  On BDE_OK *val is a new buffer of *len bytes and a
 * NUL (a secret: the caller wipes and frees it), or NULL when the
 * directory withheld the value (no Control Access).  An object that is
 * gone or is not that key is a problem (ad_problem) and BDE_ENOTFOUND.
 * Else the errors of ad_search_run.
 */
enum bde_status ad_read_secret(struct ad *ad, const char *dn,
    const char *key_id, const char *attr, char **val, size_t *len,
    char **errstr);

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
