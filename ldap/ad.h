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
