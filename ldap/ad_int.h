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
 *   srv.c     DNS answers: SRV and address records checked, RFC 2782
 *             order (pure)
 *   entry.c   recovery-object decoding and the one validity check (pure:
 *             works on struct berval, needs no connection)
 *   error.c   LDAP result code + diagnostic -> bde_status and message
 *   discover.c the domain (setting, Kerberos, ldap.conf), DNS SRV
 *             lookups through libresolv: domain controllers and Global
 *             Catalogs in the order to try them
 *   io.c      the Sockbuf I/O layer that bounds every wait on the socket
 *   search.c  the paged search runner, entry read/wipe, recovery searches
 *   bind.c    URI and TLS policy, SASL, bind, failover, RootDSE/base
 *   gc.c      the forest: Global Catalog and other domains' DCs, opened
 *             on demand; which domain an object is in
 *   package.c the key_package operation
 *   escrow.c  the escrow operation: two paged searches joined in a
 *             compact table (its parsers and the table are pure)
 *   ad.c      the lookups, open/close and the ops table
 */
#ifndef BDEKEY_AD_INT_H
#define BDEKEY_AD_INT_H

#include <stddef.h>
#include <time.h>

#include <lber.h>
#include <ldap.h>

#include "core/core.h"
#include "core/scratch.h"
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
/* srv.c: DNS answers (pure)                                            */

#define AD_SRV_MAX 64		/* SRV records kept from one answer */
#define AD_HOST_MAX 253		/* a host name in text, RFC 1035 */

/* One SRV record (RFC 2782) whose target passed ad_dns_hostname_ok. */
struct ad_srv {
	char target[AD_HOST_MAX + 1];	/* lower case, no final dot */
	unsigned prio, weight, port;
};

/*
 * Whether name is a plain host name: dot-separated labels of 1 to 63
 * letters, digits, '-' or '_', 253 characters at most, no final dot.
 * Only such a name goes into an LDAP URI.
 */
int ad_dns_hostname_ok(const char *name);

/*
 * The SRV records of qname in the DNS message msg (len bytes, as
 * res_nquery returns it): answer-section records owned by qname (case
 * ignored), class IN, with a target that is a host name and a port; a
 * target "." (the service is not offered, RFC 2782) and duplicates are
 * left out, the rest of what cannot be used is counted in *skipped.  At
 * most AD_SRV_MAX.  On BDE_OK *out (AD_SRV_MAX entries, caller frees)
 * holds *n records; BDE_EPROTO when msg is no DNS message, BDE_ENOMEM.
 */
enum bde_status ad_srv_parse(const unsigned char *msg, size_t len,
    const char *qname, struct ad_srv **out, size_t *n, size_t *skipped,
    char **errstr);

/*
 * The A and AAAA records of name in msg's answer and additional
 * sections (through CNAMEs in the message), as text, appended to out
 * (max entries; *n set to how many).  0, or -1 when msg is no DNS
 * message.
 */
int ad_dns_addrs(const unsigned char *msg, size_t len, const char *name,
    char out[][AD_ADDR_MAX], size_t max, size_t *n);

/*
 * v in the order to try (RFC 2782): priority ascending; within one
 * priority, each next record picked with probability weight / the sum
 * of the weights left, rnd(arg, sum) giving the random number in
 * [0, sum] (tests pass their own; ad_srv_random otherwise).
 */
void ad_srv_order(struct ad_srv *v, size_t n,
    unsigned long (*rnd)(void *arg, unsigned long bound), void *arg);

/* A random number in [0, bound] (arc4random); arg is unused. */
unsigned long ad_srv_random(void *arg, unsigned long bound);

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

struct ad_peer;

struct ad {
	LDAP *ld;
	char *uri;		/* the URI(s) in use, for messages */
	char *base;		/* naming context searched */
	char *identity;		/* bound principal or DN, or NULL */
	int timeout;		/* seconds */
	int page_size;
	int timed_out;		/* the I/O layer gave up waiting */
	int tcp_up;		/* a TCP connection was made */
	int vendor_known;	/* the RootDSE was read: */
	int samba;		/* vendorName names Samba */
	int rodc;		/* a read-only DC (partial secrets) */
	int gc_ready;		/* isGlobalCatalogReady */
	char *domain_dn;	/* defaultNamingContext */
	char *forest_dn;	/* rootDomainNamingContext */
	char *config_dn;	/* configurationNamingContext */
	/* what this connection is for */
	int gc;			/* a Global Catalog: never read a secret */
	int gc_port;		/* connected to port 3268 or 3269: a GC's */
	int peer;		/* another server of the forest (gc.c): its
				   base is its own domain, never --base */
	const struct ad_settings *s;	/* borrowed (ad_open's) */
	int forest;		/* lookups forest-wide (see gc.c) */
	int found;		/* connected to a server found in DNS */
	struct ad_peer *peers;	/* the forest's other servers (gc.c) */
	size_t npeers;
	char **domains;		/* the forest's domains (DNS names) */
	size_t ndomains;
	int domains_read;
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

#define AD_DEFAULT_TIMEOUT 10

/* AD's ports: LDAP, LDAPS, Global Catalog, Global Catalog over TLS */
#define AD_PORT_LDAP 389
#define AD_PORT_LDAPS 636
#define AD_PORT_GC 3268
#define AD_PORT_GC_TLS 3269

/* ------------------------------------------------------------------ */
/* discover.c                                                           */

/*
 * The servers of domain in DNS, within timeout seconds: its domain
 * controllers (_ldap._tcp.dc._msdcs), or its Global Catalogs (gc:
 * _gc._tcp), s->site's first; each with the URI to try (ad_bind_needs_tls
 * decides ldaps://) and, with s->dns_server, the addresses it gave.  On
 * BDE_OK out holds at least one (origin NULL); the errors of
 * ad_discover.
 */
enum bde_status ad_locate(const struct ad_settings *s, const char *domain,
    int gc, int timeout, struct ad_discovery *out, char **errstr);

/* "IPV4[:PORT]" into sin (port 53 by default); BDE_OK or BDE_ECONFIG. */
struct sockaddr_in;
enum bde_status ad_dns_server_parse(const char *text,
    struct sockaddr_in *sin, char **errstr);

/*
 * The DNS domain of a DN: its DC= components joined with '.' (RFC
 * 2247), lower case, into *domain (a new string).  BDE_OK, BDE_EPROTO
 * (no DC= component, not a DN, not a host name) or BDE_ENOMEM.
 */
enum bde_status ad_dn_domain(const char *dn, size_t len, char **domain);

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

/*
 * Move from's problems to to (the connection an operation reports on),
 * from's being forgotten.  BDE_OK, or BDE_ENOMEM.
 */
enum bde_status ad_problems_merge(struct ad *to, struct ad *from,
    char **errstr);

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
/* dial.c                                                               */

/*
 * Options common to every handle (ad->ld): timeouts, no referrals, the
 * connect callback; no canonical host names for a server found in DNS
 * (found); certificate verification demanded when tls.
 */
enum bde_status ad_set_options(struct ad *ad, const char *uri, int tls,
    int found, char **errstr);

/*
 * TCP, then TLS (the ldaps:// handshake, or StartTLS) for ad's handle;
 * on a socket connected here to dc's addresses when dc has some.  Every
 * failure is BDE_EUNREACH: the next server is the one to try.
 */
enum bde_status ad_transport(struct ad *ad, const struct ad_dc *dc, int tls,
    int starttls, char **errstr);

/* Whether ad's connection goes to a Global Catalog port (3268, 3269). */
int ad_peer_gc_port(struct ad *ad);

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

/*
 * Put the layer that bounds every wait on sb (what the connect callback
 * does; for a socket bind.c connected itself).  0, or -1.
 */
int ad_io_attach(struct ad *ad, Sockbuf *sb);

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
	int page_size;		/* 0: ad->page_size */
	int walk;		/* the whole directory: a walk's bounds */
};

/*
 * Run q paged (RFC 2696) and domain-scoped, calling q->entry for every
 * entry.  Bounded: each page by ad->timeout, the whole search by
 * AD_SEARCH_TIMEOUTS x ad->timeout and ad->limit_ms (BDE_EUNREACH), and
 * by AD_MAX_PAGES pages and AD_MAX_ENTRIES entries (BDE_EPROTO); a walk
 * (q->walk) by its own bounds instead (search.c).  Every page is wiped
 * before it is freed.  BDE_OK (also when a one-level base
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
 * Read the RootDSE (RFC 4512 5.1): sets ad->vendor_known, ad->samba
 * (vendorName names Samba), ad->rodc (a read-only DC), ad->gc_ready, the
 * naming contexts ad->domain_dn, ->forest_dn and ->config_dn, and *base
 * (when base is not NULL and *base is NULL) to a copy of
 * defaultNamingContext.  The errors of ad_search_run.
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

/*
 * Connect ad to the first server of d that can be used (failover in d's
 * order; ad->gc and ad->peer set say what for), bind with s's
 * mechanism, and read its RootDSE: a read-only DC is passed over, and a
 * Global Catalog must say it is ready.  ad_connect's results.
 */
enum bde_status ad_connect_found(struct ad *ad, const struct ad_settings *s,
    const struct ad_discovery *d, char **errstr);

/* Whether s's bind may only go inside TLS (a simple bind). */
int ad_bind_needs_tls(const struct ad_settings *s);

/* ------------------------------------------------------------------ */
/* gc.c                                                                 */

/* A forest's domains read at most (crossRef objects). */
#define AD_FOREST_MAX_DOMAINS 1000

/*
 * Free a connection and everything it holds: its peers, its problems,
 * its strings (ad_unbind first).  NULL is fine.
 */
void ad_conn_free(struct ad *ad);

/*
 * home's connection to domain's writable DC (gc 0) or to a Global
 * Catalog of the forest whose root is domain (gc 1): found in DNS and
 * bound with home's settings on first use, kept in home->peers (the
 * outcome too: a server that could not be reached is not tried again
 * in this process).  *out is home's, not the caller's.  The errors of
 * ad_locate and ad_connect_found.
 */
enum bde_status ad_peer_get(struct ad *home, const char *domain, int gc,
    struct ad **out, char **errstr);

/*
 * The forest's domains (crossRef objects with FLAG_CR_NTDS_DOMAIN in
 * the Partitions container, read from home once) into home->domains.
 * The errors of ad_search_run.
 */
enum bde_status ad_forest_domains(struct ad *home, char **errstr);

/* The forest root's DNS name (RootDSE rootDomainNamingContext), new. */
enum bde_status ad_forest_root(struct ad *home, char **root, char **errstr);

/*
 * The DNS domain of the object dn (len bytes) into *domain (new), *here
 * set when it is home's own.  Another domain must be one of the forest
 * (ad_forest_domains, or a name under the forest root): BDE_EPROTO
 * otherwise, as for a DN without DC= components.
 */
enum bde_status ad_object_domain(struct ad *home, const char *dn, size_t len,
    char **domain, int *here, char **errstr);

/*
 * The connection to read the object dn's secrets on: home, or (home
 * forest-wide) a writable DC of the object's domain (ad_peer_get).
 */
enum bde_status ad_object_conn(struct ad *home, const char *dn,
    struct ad **conn, char **errstr);

/* home's forest's Global Catalog connection (ad_peer_get). */
enum bde_status ad_forest_gc(struct ad *home, struct ad **gc, char **errstr);

/*
 * Whether home's lookups go forest-wide: s->forest 1 yes, -1 no; 0 only
 * for a connection found in DNS in a forest of more than one domain
 * (what ad_forest_domains reads; a failure there says no).
 */
int ad_forest_wide(struct ad *home);

/*
 * Where a lookup of home searches (and sets home->forest): home, or when
 * forest-wide (ad_forest_wide) the forest's Global Catalog, which finds
 * the objects of every domain but keeps none of their secrets (read them
 * on ad_object_conn's).  The errors of ad_forest_gc.
 */
enum bde_status ad_lookup_conn(struct ad *home, struct ad **sc,
    char **errstr);

/* ------------------------------------------------------------------ */
/* package.c                                                            */

/* The key_package operation (see struct bde_backend_ops). */
enum bde_status ad_key_package(void *self, const struct bde_keyid *id,
    struct bde_package *out, char **errstr);

/* ------------------------------------------------------------------ */
/* escrow.c                                                             */

/* "S-1-", "0x" and 12 hex digits, 15 x "-4294967295", NUL */
#define AD_SID_TEXT_MAX 184

/*
 * A binary objectSid ([MS-DTYP] 2.4.2.2) as text ("S-1-5-21-...", 2.4.2.1)
 * into out.  0, or -1 unless it has revision 1, at most 15
 * sub-authorities and exactly their length (out is then untouched).
 */
int ad_sid_text(const struct berval *bv, char out[AD_SID_TEXT_MAX]);

/*
 * An Integer8 FILETIME as AD sends it (lastLogonTimestamp: decimal
 * text, 100 ns since 1601) into UTC seconds: 0 for 0 and for the largest
 * value (both say "never").  Returns 0, or -1 for anything but plain
 * digits without a leading zero, or a time before 1970 or after 9999.
 */
int ad_filetime_parse(const struct berval *bv, time_t *out);

/*
 * A 64-bit hash (FNV-1a from seed) of the DN of len bytes in one form
 * (RFC 4514: ASCII case, escapes and spaces around separators do not
 * count), so a parent DN cut from a child's DN and the DN the server
 * gives the parent hash alike.  0, or -1 when dn does not parse (or
 * holds a NUL).
 */
int ad_dn_hash(const char *dn, size_t len, uint64_t seed, uint64_t *out);

/* Distinct volumes a table keeps per computer. */
#define AD_ESCROW_VOLS 4

/* What a join table holds for one computer. */
struct ad_escrow_info {
	unsigned nkeys;		/* recovery objects counted */
	time_t newest;		/* the latest whenCreated, 0 none */
	unsigned nvol;		/* distinct volumes in vol */
	int more;		/* and at least one other volume */
	uint8_t vol[AD_ESCROW_VOLS][16];	/* as stored, in order met */
};

/*
 * The join table, on disk (core/scratch.h): a DN's two hashes (key[0]
 * and key[1], ad_dn_hash with two seeds) -> keys, newest time, first
 * distinct volumes.  new makes an empty one (*out: bde_dtab_free).  add
 * counts one recovery object of that computer, created at created (<= 0:
 * unknown), on volume vol (16 bytes as stored, or NULL).  get fills *out
 * and *found (0: nothing under key; *out zeroed).  BDE_OK, or the
 * scratch file's BDE_EIO / BDE_ENOMEM.
 */
enum bde_status ad_escrow_table_new(struct bde_dtab **out, char **errstr);
enum bde_status ad_escrow_table_add(struct bde_dtab *t, const uint64_t key[2],
    time_t created, const uint8_t vol[16], char **errstr);
enum bde_status ad_escrow_table_get(struct bde_dtab *t, const uint64_t key[2],
    struct ad_escrow_info *out, int *found, char **errstr);

/* The escrow operation (see struct bde_backend_ops). */
enum bde_status ad_escrow(void *self, bde_escrow_fn fn, void *arg,
    char **errstr);

#endif
