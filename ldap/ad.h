/*
 * ad.h - the Active Directory backend: msFVE-RecoveryInformation objects
 * over LDAP (OpenLDAP libldap + Cyrus SASL).
 *
 * Named ad.h, not ldap.h, so it never shadows <ldap.h>.
 */
#ifndef BDEKEY_AD_H
#define BDEKEY_AD_H

#include <stddef.h>

#include "core/core.h"

/*
 * Settings, filled by cmd/ (options > environment > config file); every
 * pointer is borrowed and must outlive the backend.  NULL or 0 means
 * "not set": libldap's own ldap.conf / LDAP* environment then applies,
 * then the defaults named here.
 */
struct ad_settings {
	const char *const *uris;	/* tried in order (failover); NULL-ended */
	const char *base;	/* else ldap.conf BASE, else RootDSE
				   defaultNamingContext */
	const char *mech;	/* "GSSAPI" (default), "SIMPLE", or a SASL
				   mechanism name */
	const char *bind_dn;	/* simple bind DN, or SASL authcid */
	const char *password;	/* secret for SIMPLE / password SASL mechs */
	int starttls;		/* StartTLS on ldap:// URIs */
	int timeout;		/* seconds for connect, TLS and each
				   operation; 0 = 10 */
	int page_size;		/* paged results page size; 0 = 500 */

	/*
	 * Discovery (discover.c), when no URI is set here or in ldap.conf:
	 * domain controllers from DNS SRV records.  discover says to do it
	 * (cmd/ sets it when no URI is configured and discovery was asked
	 * for); the rest are optional.
	 */
	int discover;
	const char *domain;	/* DNS domain; else the Kerberos ticket's or
				   krb5.conf's realm, else ldap.conf BASE */
	const char *domain_origin;	/* where domain was set, for messages */
	const char *site;	/* AD site: its DCs first */
	const char *dns_server;	/* "IPV4[:PORT]": ask it, not resolv.conf */
	/*
	 * Key-ID and device lookups through the Global Catalog, each
	 * password read from a writable DC of the object's domain: 1
	 * always, -1 never, 0 when discovering and the forest has more
	 * than one domain.
	 */
	int forest;
};

/*
 * Check s without touching the network: a simple bind needs a bind DN
 * and, on every URI (s->uris, else ldap.conf's), TLS (ldaps:// or
 * starttls).  cmd/ calls it before prompting for a password; ad_open
 * checks again.  The first call of this or of any function here has
 * libldap read its configuration (never ./ldaprc: see conf.c), so call
 * one before starting threads.  Returns BDE_OK or BDE_ECONFIG with
 * *errstr set.
 */
enum bde_status ad_check(const struct ad_settings *s, char **errstr);

/*
 * Connect (failing over through the URIs in order) and bind.  On success
 * fills *out (out->ops->close frees it; ops->key_package is offered).
 * Refuses a simple bind without TLS
 * (BDE_ECONFIG) before sending anything.  Errors: BDE_ECONFIG,
 * BDE_EUNREACH (no URI answered, TLS failure, timeout), BDE_EAUTH (bind
 * refused), BDE_EPROTO, BDE_ENOMEM; *errstr says which URI and why.
 *
 * The lookups (ops->by_device, ops->by_keyid) may fail and still append
 * keys: BDE_EPERM when passwords asked for were withheld (those keys are
 * BDE_PW_DENIED; the message names the missing right), BDE_EPROTO when
 * some objects could not be read (the message names them; the others
 * are there).  A password is only ever read from exactly the object of a
 * key returned.
 */
enum bde_status ad_open(const struct ad_settings *s, struct bde_backend *out,
    char **errstr);

/* A text address of a server ("127.0.0.1", "::1"): INET6_ADDRSTRLEN. */
#define AD_ADDR_MAX 46

/* One server discovery found (a DNS SRV record). */
struct ad_dc {
	char *host;		/* the SRV target */
	unsigned port, prio, weight;
	int gc;			/* a Global Catalog (_gc._tcp) */
	char *uri;		/* what is tried: ldap[s]://host:uri_port */
	unsigned uri_port;	/* port, or its TLS port (636, 3269) */
	char (*addr)[AD_ADDR_MAX];	/* its addresses from --dns-server */
	size_t naddr;		/* 0: the system resolver's, when connecting */
};

/* What discovery found; every string owned (ad_discovery_free). */
struct ad_discovery {
	char *domain;		/* the DNS domain */
	char *origin;		/* where that name came from */
	char *srv;		/* the SRV name that answered */
	char *note;		/* why another name was asked first, or NULL */
	struct ad_dc *dcs;	/* in the order they are tried (RFC 2782) */
	size_t n;
};

/*
 * The domain controllers of s's domain (s->domain, else the Kerberos
 * ticket cache's realm, else krb5.conf's default realm, else ldap.conf
 * BASE's DC= components) from DNS, in RFC 2782 order, within one
 * s->timeout.  Network: DNS only.  On BDE_OK *out holds at least one
 * server (free with ad_discovery_free).  BDE_ECONFIG (no domain, a bad
 * --dns-server), BDE_EUNREACH (no answer, no records: the message names
 * the SRV name, the DNS server and where the domain came from),
 * BDE_ENOMEM.
 */
enum bde_status ad_discover(const struct ad_settings *s,
    struct ad_discovery *out, char **errstr);

/* Free what d holds (d itself is the caller's); NULL is fine. */
void ad_discovery_free(struct ad_discovery *d);

/*
 * Whether libldap's own configuration (ldap.conf, ~/.ldaprc, LDAPURI ...)
 * names a server, so AD can be tried without bdekey settings.
 */
int ad_default_uri_configured(void);

/*
 * libldap's configured "URI" or "BASE" (from ldap.conf, ~/.ldaprc or
 * LDAP* variables; never ./ldaprc: libldap reads its configuration with
 * "/" as the working directory) as a new string the caller frees, or
 * NULL when unset.
 */
char *ad_ldapconf(const char *what);

/*
 * Where libldap's setting what (an ldap.conf keyword: "URI", "BASE",
 * "TLS_CACERT", "TLS_REQCERT", "SASL_MECH", ...; any case) came from,
 * found the way libldap reads its configuration: the system ldap.conf,
 * ~/ldaprc, ~/.ldaprc, /ldaprc, $LDAPCONF, $LDAPRC's files, then the
 * LDAP<KEYWORD> variable, the last one winning (for URI the old HOST
 * keyword counts too).  Returns 0 with *value (the text of that setting)
 * and *origin (a file path, or "environment LDAPURI") as new strings the
 * caller frees (either pointer may be NULL), or -1 when it is not set
 * (or not a keyword, or LDAPNOINIT is set).  For the value libldap
 * really uses of URI and BASE, ask ad_ldapconf.
 */
int ad_ldapconf_origin(const char *what, char **value, char **origin);

/*
 * The i-th ldap.conf keyword libldap knows (i from 0), for listing them
 * all with ad_ldapconf_origin; NULL past the last.
 */
const char *ad_ldapconf_key(size_t i);

#endif
