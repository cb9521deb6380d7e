/*
 * bind.c - getting a bound connection: which URIs may carry which bind
 * (a password never crosses the network outside TLS), certificate
 * verification, SASL, the bind itself, failover through the URIs, and the
 * search base (ldap.conf BASE, else the RootDSE).
 *
 * Each server is tried in phases, connect (TCP, then TLS: ldaps:// or
 * StartTLS), bind, base; a phase that fails makes the next URI the one to
 * try only when the server could not be used (BDE_EUNREACH).  Each of
 * connect, StartTLS and bind has one deadline of --timeout in all
 * (ad_io_phase): a server trickling bytes cannot stretch it.
 */
#include "ldap/ad_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openldap.h>
#include <sasl/sasl.h>

#include "core/clock.h"

/* Whether a URI's scheme is TLS from the first byte (ldaps://). */
static int
ad_uri_is_ldaps(const char *uri)
{
	return strncasecmp(uri, "ldaps://", 8) == 0;
}

/*
 * Whether every URI in a space- or comma-separated list would carry a
 * simple bind inside TLS.  ldapi:// counts as cleartext: AD has none,
 * and a password is never sent outside TLS.
 */
static int
ad_uris_all_tls(const char *list, int starttls)
{
	const char *p = list;
	size_t n;

	if (list == NULL)
		return starttls;
	while (*p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == 0)
			break;
		if (!starttls && !(n >= 8 && ad_uri_is_ldaps(p)))
			return 0;
		p += n;
	}
	return 1;
}

/* The refusal of a simple bind on a cleartext URI. */
static enum bde_status
ad_cleartext(const char *uri, char **errstr)
{
	return bde_error(errstr, BDE_ECONFIG, "%s: refusing a simple bind "
	    "without TLS: the password would cross the network in clear "
	    "(use ldaps:// or --starttls)", uri);
}

/* Whether mech means a simple bind. */
static int
ad_mech_simple(const char *mech)
{
	return strcasecmp(mech, "SIMPLE") == 0;
}

/* The mechanism to use: the setting, else GSSAPI. */
static const char *
ad_mech(const struct ad_settings *s)
{
	return s->mech != NULL && *s->mech != '\0' ? s->mech : "GSSAPI";
}

int
ad_bind_needs_tls(const struct ad_settings *s)
{
	return ad_mech_simple(ad_mech(s));
}

/* Whether mech is a GSS-API one (Kerberos), which can bind the channel. */
static int
ad_mech_gss(const char *mech)
{
	return strcasecmp(mech, "GSSAPI") == 0 ||
	    strcasecmp(mech, "GSS-SPNEGO") == 0;
}

/* Answers Cyrus SASL's questions from the settings. */
struct ad_sasl {
	const char *authcid;
	const char *password;
	int missing;		/* a question we could not answer */
};

static int
ad_sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
	struct ad_sasl *s = defaults;
	sasl_interact_t *q;

	(void)ld;
	(void)flags;
	for (q = in; q->id != SASL_CB_LIST_END; q++) {
		const char *v = NULL;

		switch (q->id) {
		case SASL_CB_AUTHNAME:
			v = s->authcid;
			break;
		case SASL_CB_PASS:
			v = s->password;
			break;
		case SASL_CB_USER:
			/* no authzid: act as the authenticated identity */
			v = "";
			break;
		case SASL_CB_GETREALM:
			v = q->defresult;
			break;
		default:
			break;
		}
		if (v == NULL) {
			s->missing = (int)q->id;
			return LDAP_OTHER;
		}
		q->result = v;
		q->len = (unsigned)strlen(v);
	}
	return LDAP_SUCCESS;
}

/*
 * Certificate verification is not negotiable: whatever ldap.conf or
 * LDAPTLS_REQCERT say (never/allow/try), demand a valid certificate.  A
 * handle inherits libldap's global TLS context but not the CA paths it
 * was made from (libldap open.c), so a per-handle context would lose
 * TLS_CACERT; raise the global setting instead and rebuild that context.
 */
static enum bde_status
ad_tls_demand(char **errstr)
{
	int cur = LDAP_OPT_X_TLS_NEVER, demand = LDAP_OPT_X_TLS_DEMAND;
	int zero = 0;
	char *diag = NULL;
	enum bde_status st = BDE_OK;

	if (ldap_get_option(NULL, LDAP_OPT_X_TLS_REQUIRE_CERT, &cur) ==
	    LDAP_OPT_SUCCESS && (cur == LDAP_OPT_X_TLS_DEMAND ||
	    cur == LDAP_OPT_X_TLS_HARD))
		goto out;
	if (ldap_set_option(NULL, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) ||
	    ldap_set_option(NULL, LDAP_OPT_X_TLS_NEWCTX, &zero)) {
		ldap_get_option(NULL, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
		st = bde_error(errstr, BDE_ECONFIG,
		    "cannot set up TLS with certificate verification%s%s%s",
		    diag ? " (" : "", diag ? diag : "", diag ? ")" : "");
	}
out:
	if (diag != NULL)
		ldap_memfree(diag);
	return st;
}

/* The SASL security properties for a mechanism over this transport. */
static const char *
ad_secprops(int tls)
{
	/*
	 * Inside TLS no SASL layer: AD refuses one on top of TLS (reference
	 * "Binding securely").  In cleartext insist on a confidentiality
	 * layer (GSSAPI sealing, ssf 56) so nothing, not even a password,
	 * crosses the network readable; mechanisms without one (PLAIN, ...)
	 * are refused by SASL itself.
	 */
	return tls ? "maxssf=0" : "minssf=56";
}

/* After a Kerberos bind failed for want of a ticket, say what to do. */
static void
ad_hint_kinit(const char *mech, char **errstr)
{
	char *t;

	if (!ad_mech_gss(mech) || errstr == NULL || *errstr == NULL ||
	    (strstr(*errstr, "No Kerberos credentials") == NULL &&
	    strstr(*errstr, "No credentials cache") == NULL))
		return;
	if (asprintf(&t, "%s: no Kerberos ticket (run kinit)", *errstr) < 0)
		return;
	free(*errstr);
	*errstr = t;
}

/* A simple bind (DN and password; only ever inside TLS). */
static enum bde_status
ad_bind_simple(struct ad *ad, const struct ad_settings *s, char **errstr)
{
	struct berval cred = {
		.bv_len = strlen(s->password),
		.bv_val = (char *)s->password,
	};
	enum bde_status st = BDE_OK;
	int rc;

	ad_io_phase(ad, 0);
	rc = ldap_sasl_bind_s(ad->ld, s->bind_dn, LDAP_SASL_SIMPLE, &cred,
	    NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		st = ad_fail(ad, ad->uri, rc, 1, errstr, "cannot bind as '%s'",
		    s->bind_dn);
		goto out;
	}
	ad->identity = strdup(s->bind_dn);
	if (ad->identity == NULL)
		st = ad_nomem(errstr);
out:
	return st;
}

/* A SASL bind with mechanism mech; tls says the connection is TLS. */
static enum bde_status
ad_bind_sasl(struct ad *ad, const struct ad_settings *s, const char *mech,
    int tls, char **errstr)
{
	struct ad_sasl sasl = {
		.authcid = s->bind_dn,
		.password = s->password,
		.missing = 0,
	};
	const char *uri = ad->uri;
	char *user = NULL;
	enum bde_status st = BDE_OK;
	int rc, as, cbinding = LDAP_OPT_X_SASL_CBINDING_TLS_ENDPOINT;

	if (ldap_set_option(ad->ld, LDAP_OPT_X_SASL_SECPROPS,
	    ad_secprops(tls)) != LDAP_OPT_SUCCESS) {
		st = bde_error(errstr, BDE_ECONFIG,
		    "%s: cannot set SASL security properties", uri);
		goto out;
	}
	/*
	 * Kerberos inside TLS binds the TLS channel (RFC 5929
	 * tls-server-end-point: the hash of the server's certificate goes
	 * into the GSS checksum): DCs with LdapEnforceChannelBinding=2
	 * refuse a bind without it, and a TLS man in the middle cannot relay
	 * one with it.  libldap hands it to SASL as not critical.
	 */
	if (tls && ad_mech_gss(mech) && ldap_set_option(ad->ld,
	    LDAP_OPT_X_SASL_CBINDING, &cbinding) != LDAP_OPT_SUCCESS) {
		st = bde_error(errstr, BDE_ECONFIG,
		    "%s: cannot set SASL channel binding", uri);
		goto out;
	}
	ad_io_phase(ad, 0);
	rc = ldap_sasl_interactive_bind_s(ad->ld, NULL, mech, NULL, NULL,
	    LDAP_SASL_QUIET, ad_sasl_interact, &sasl);
	if (rc != LDAP_SUCCESS && sasl.missing != 0) {
		st = bde_error(errstr, BDE_ECONFIG,
		    "%s: SASL mechanism '%s' needs %s", uri, mech,
		    sasl.missing == SASL_CB_PASS ?
		    "a password (--password-file)" :
		    sasl.missing == SASL_CB_AUTHNAME ?
		    "a user name (--bind-dn)" : "input bdekey cannot give");
		goto out;
	}
	if (rc == LDAP_AUTH_UNKNOWN) {
		st = bde_error(errstr, BDE_ECONFIG, "%s: SASL mechanism '%s' "
		    "is not available%s", uri, mech, tls ? "" : " or offers "
		    "no encryption on ldap:// (use GSSAPI, ldaps:// or "
		    "--starttls)");
		goto out;
	}
	if (rc != LDAP_SUCCESS) {
		/* GSSAPI takes the identity from the Kerberos ticket */
		as = s->bind_dn != NULL && strcasecmp(mech, "GSSAPI") != 0;
		st = ad_fail(ad, uri, rc, 1, errstr,
		    "cannot bind with SASL %s%s%s%s", mech, as ? " as '" : "",
		    as ? s->bind_dn : "", as ? "'" : "");
		ad_hint_kinit(mech, errstr);
		goto out;
	}
	/* who we are, as SASL knows it (a Kerberos principal for GSSAPI) */
	if (ldap_get_option(ad->ld, LDAP_OPT_X_SASL_USERNAME, &user) ==
	    LDAP_OPT_SUCCESS && user != NULL)
		ad->identity = strdup(user);
	else if (s->bind_dn != NULL)
		ad->identity = strdup(s->bind_dn);
	if ((user != NULL || s->bind_dn != NULL) && ad->identity == NULL)
		st = ad_nomem(errstr);
out:
	if (user != NULL)
		ldap_memfree(user);
	return st;
}

/*
 * The search base into ad->base: the setting, else ldap.conf BASE
 * (LDAP_OPT_DEFBASE), else the RootDSE's defaultNamingContext (and then
 * what server it is, for the key-ID filter, comes with it).
 */
static enum bde_status
ad_find_base(struct ad *ad, const struct ad_settings *s, char **errstr)
{
	char *conf = NULL;
	enum bde_status st;
	/* another domain's DC or a Global Catalog: its own naming context */
	int own = ad->peer || ad->gc;

	if (!own && s->base != NULL && *s->base != '\0') {
		ad->base = strdup(s->base);
		st = ad->base != NULL ? BDE_OK : ad_nomem(errstr);
		goto out;
	}
	if (!own && ldap_get_option(ad->ld, LDAP_OPT_DEFBASE, &conf) ==
	    LDAP_OPT_SUCCESS && conf != NULL && *conf != '\0') {
		ad->base = strdup(conf);
		st = ad->base != NULL ? BDE_OK : ad_nomem(errstr);
		goto out;
	}
	st = ad_rootdse(ad, &ad->base, errstr);
	if (st == BDE_OK && ad->base == NULL)
		st = bde_error(errstr, BDE_ECONFIG,
		    "%s: no search base: the RootDSE has no "
		    "defaultNamingContext (set --base)", ad->uri);
out:
	if (conf != NULL)
		ldap_memfree(conf);
	return st;
}

/*
 * A handle for uri (NULL: libldap's configured URIs) with our options;
 * nothing is sent yet.  Refuses a simple bind on a cleartext URI.  Sets
 * ad->ld, ad->uri (the URI named in messages), *tls (the connection will
 * be TLS) and *starttls (by StartTLS).  A discovered server dc whose
 * addresses came from --dns-server gets its handle in ad_transport, on
 * the socket connected there (ad->ld stays NULL here).
 */
static enum bde_status
ad_handle(struct ad *ad, const struct ad_settings *s, const char *mech,
    const char *uri, const struct ad_dc *dc, int *tls, int *starttls,
    char **errstr)
{
	char *conf_uri = NULL;
	const char *name = uri;
	enum bde_status st = BDE_OK;
	int rc;

	if (dc == NULL || dc->naddr == 0) {
		rc = ldap_initialize(&ad->ld, uri);
		if (rc != LDAP_SUCCESS) {
			st = bde_error(errstr, BDE_ECONFIG, "'%s': bad LDAP "
			    "URI: %s", uri ? uri : "(ldap.conf)",
			    ldap_err2string(rc));
			goto out;
		}
	}
	if (uri == NULL) {
		if (ldap_get_option(ad->ld, LDAP_OPT_URI, &conf_uri) !=
		    LDAP_OPT_SUCCESS || conf_uri == NULL) {
			st = bde_error(errstr, BDE_ECONFIG,
			    "no LDAP URI configured (set --ldap-uri)");
			goto out;
		}
		name = conf_uri;
	}
	/* ldaps:// is TLS already; StartTLS upgrades the others */
	*starttls = s->starttls && !ad_uris_all_tls(name, 0);
	*tls = *starttls || ad_uris_all_tls(name, 0);
	if (ad_mech_simple(mech) && !*tls) {
		st = ad_cleartext(name, errstr);
		goto out;
	}
	free(ad->uri);
	ad->uri = strdup(name);
	if (ad->uri == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	if (ad->ld != NULL)
		st = ad_set_options(ad, name, *tls, dc != NULL, errstr);
out:
	if (conf_uri != NULL)
		ldap_memfree(conf_uri);
	return st;
}

/*
 * What a server found in DNS must be: a Global Catalog that says it is
 * ready, or a writable DC (an RODC keeps no recovery passwords: it is
 * passed over, BDE_EUNREACH with *rodc set).  Reads the RootDSE when
 * ad_find_base did not.
 */
static enum bde_status
ad_check_found(struct ad *ad, const struct ad_dc *dc, int *rodc,
    char **errstr)
{
	enum bde_status st = BDE_OK;

	if (!ad->vendor_known) {
		st = ad_rootdse(ad, NULL, errstr);
		if (st != BDE_OK)
			return st;
	}
	if (dc->gc && !ad->gc_ready)
		return bde_error(errstr, BDE_EUNREACH, "%s: not a ready Global "
		    "Catalog (its RootDSE says isGlobalCatalogReady is not "
		    "TRUE)", ad->uri);
	if (!dc->gc && ad->rodc) {
		*rodc = 1;
		return bde_error(errstr, BDE_EUNREACH, "%s: a read-only domain "
		    "controller, which keeps no recovery passwords", ad->uri);
	}
	return st;
}

/*
 * Try one server: a handle for uri (NULL: libldap's configured URIs),
 * connect, TLS, bind, base; for a server found in DNS (dc), what it
 * must be.  On failure ad->ld is closed again.
 */
static enum bde_status
ad_try(struct ad *ad, const struct ad_settings *s, const char *mech,
    const char *uri, const struct ad_dc *dc, int *rodc, char **errstr)
{
	enum bde_status st;
	int tls = 0, starttls = 0;

	st = ad_handle(ad, s, mech, uri, dc, &tls, &starttls, errstr);
	if (st != BDE_OK)
		goto out;
	st = ad_transport(ad, dc, tls, starttls, errstr);
	if (st != BDE_OK)
		goto out;
	ad->gc_port = ad_peer_gc_port(ad);
	st = ad_mech_simple(mech) ? ad_bind_simple(ad, s, errstr) :
	    ad_bind_sasl(ad, s, mech, tls, errstr);
	/*
	 * A host DNS names that Kerberos does not know as ldap/<host> is no
	 * domain controller (a stale SRV record): the next one may be.
	 */
	if (st == BDE_EAUTH && dc != NULL && errstr != NULL && *errstr !=
	    NULL && strstr(*errstr, "Server not found in Kerberos database"))
		st = BDE_EUNREACH;
	if (st != BDE_OK)
		goto out;
	st = ad_find_base(ad, s, errstr);
	if (st == BDE_OK && dc != NULL)
		st = ad_check_found(ad, dc, rodc, errstr);
	/* a Global Catalog is searched from the root: the whole forest */
	if (st == BDE_OK && ad->gc) {
		free(ad->base);
		ad->base = strdup("");
		if (ad->base == NULL)
			st = ad_nomem(errstr);
	}
out:
	if (st != BDE_OK) {
		ad_unbind(ad);
		/* a bind may have succeeded before the base failed */
		free(ad->identity);
		free(ad->base);
		free(ad->domain_dn);
		free(ad->forest_dn);
		free(ad->config_dn);
		ad->identity = ad->base = NULL;
		ad->domain_dn = ad->forest_dn = ad->config_dn = NULL;
		ad->vendor_known = ad->samba = ad->rodc = ad->gc_ready = 0;
		ad->gc_port = 0;
	}
	return st;
}

/* The discovery settings, before DNS is asked anything. */
static enum bde_status
ad_check_discovery(const struct ad_settings *s, char **errstr)
{
	struct sockaddr_in sin;

	if (!s->discover)
		return BDE_OK;
	if (s->domain != NULL && *s->domain != '\0' &&
	    !ad_dns_hostname_ok(s->domain))
		return bde_error(errstr, BDE_ECONFIG, "domain '%s' is not a DNS "
		    "domain name", s->domain);
	/* a site is one DNS label */
	if (s->site != NULL && *s->site != '\0' &&
	    (!ad_dns_hostname_ok(s->site) || strchr(s->site, '.') != NULL))
		return bde_error(errstr, BDE_ECONFIG, "site '%s' is not a site "
		    "name (one DNS label)", s->site);
	if (s->dns_server != NULL && *s->dns_server != '\0')
		return ad_dns_server_parse(s->dns_server, &sin, errstr);
	return BDE_OK;
}

enum bde_status
ad_check(const struct ad_settings *s, char **errstr)
{
	const char *mech = ad_mech(s);
	char *conf = NULL;
	enum bde_status st;
	size_t i;

	/* libldap reads its configuration here, safely, if not yet */
	st = ad_conf_init(errstr);
	if (st != BDE_OK)
		goto out;
	st = ad_check_discovery(s, errstr);
	if (st != BDE_OK || !ad_mech_simple(mech))
		goto out;
	if (s->bind_dn == NULL || *s->bind_dn == '\0') {
		st = bde_error(errstr, BDE_ECONFIG,
		    "a simple bind needs a bind DN (--bind-dn)");
		goto out;
	}
	/* before sending anything anywhere: no password in clear */
	for (i = 0; s->uris != NULL && s->uris[i] != NULL; i++) {
		if (!ad_uris_all_tls(s->uris[i], s->starttls)) {
			st = ad_cleartext(s->uris[i], errstr);
			goto out;
		}
	}
	/*
	 * no URI set: libldap's ldap.conf URI list is what will be used (not
	 * its built-in default: then DNS finds servers, with TLS for this)
	 */
	if ((s->uris == NULL || s->uris[0] == NULL) &&
	    ad_default_uri_configured() &&
	    ldap_get_option(NULL, LDAP_OPT_URI, &conf) == LDAP_OPT_SUCCESS &&
	    conf != NULL && !ad_uris_all_tls(conf, s->starttls))
		st = ad_cleartext(conf, errstr);
out:
	if (conf != NULL)
		ldap_memfree(conf);
	return st;
}

/*
 * The checks before anything is sent, once a process: the settings
 * (ad_check), a password for a simple bind, certificate verification.
 */
static enum bde_status
ad_connect_checks(const struct ad_settings *s, char **errstr)
{
	enum bde_status st;

	st = ad_check(s, errstr);
	if (st != BDE_OK)
		return st;
	/* an empty password makes an unauthenticated bind (RFC 4513 5.1.2) */
	if (ad_mech_simple(ad_mech(s)) &&
	    (s->password == NULL || *s->password == '\0'))
		return bde_error(errstr, BDE_ECONFIG,
		    "a simple bind needs a password (--password-file)");
	return ad_tls_demand(errstr);
}

enum bde_status
ad_connect_found(struct ad *ad, const struct ad_settings *s,
    const struct ad_discovery *d, char **errstr)
{
	const char *mech = ad_mech(s);
	char *tried = NULL, *msg = NULL, *t;
	enum bde_status st = BDE_EUNREACH;
	size_t i, rodcs = 0;
	int rodc;

	/* failover: the next server only when this one could not be used */
	for (i = 0; i < d->n && st == BDE_EUNREACH; i++) {
		free(msg);
		msg = NULL;
		rodc = 0;
		st = ad_try(ad, s, mech, d->dcs[i].uri, &d->dcs[i], &rodc,
		    &msg);
		rodcs += rodc;
		if (st != BDE_EUNREACH)
			break;
		if (asprintf(&t, "%s%s%s", tried ? tried : "", tried ? "; " :
		    "", msg ? msg : "?") < 0) {
			st = ad_nomem(errstr);
			goto out;
		}
		free(tried);
		tried = t;
	}
	if (st == BDE_OK)
		ad->found = 1;
	if (st == BDE_EUNREACH && d->n > 0 && rodcs == d->n)
		bde_error(errstr, st, "only read-only domain controllers of "
		    "'%s' answered, and they keep no recovery passwords: %s",
		    d->domain, tried);
	else if (st == BDE_EUNREACH)
		bde_error(errstr, st, "no %s of '%s' answered (%s): %s",
		    d->n > 0 && d->dcs[0].gc ? "Global Catalog" :
		    "domain controller", d->domain, d->srv ? d->srv : "DNS",
		    tried ? tried : "none found");
	else if (st != BDE_OK)
		bde_error(errstr, st, "%s", msg ? msg : "cannot open");
out:
	free(tried);
	free(msg);
	return st;
}

enum bde_status
ad_connect(struct ad *ad, const struct ad_settings *s, char **errstr)
{
	const char *mech = ad_mech(s);
	struct ad_discovery d = { .n = 0 };
	char *tried = NULL, *msg = NULL, *t;
	enum bde_status st;
	size_t i = 0, nuris = 0;

	st = ad_connect_checks(s, errstr);
	if (st != BDE_OK)
		goto out;
	if (s->uris != NULL)
		while (s->uris[nuris] != NULL)
			nuris++;
	/* no URI anywhere: the domain's controllers from DNS */
	if (nuris == 0 && s->discover && !ad_default_uri_configured()) {
		st = ad_discover(s, &d, errstr);
		if (st == BDE_OK)
			st = ad_connect_found(ad, s, &d, errstr);
		goto out;
	}

	/* failover: the next URI only when this one could not be used */
	do {
		free(msg);
		msg = NULL;
		st = ad_try(ad, s, mech, nuris ? s->uris[i] : NULL, NULL, NULL,
		    &msg);
		if (st == BDE_EUNREACH && nuris > 1) {
			if (asprintf(&t, "%s%s%s", tried ? tried : "",
			    tried ? "; " : "", msg ? msg : "?") < 0) {
				st = ad_nomem(errstr);
				goto out;
			}
			free(tried);
			tried = t;
		}
	} while (st == BDE_EUNREACH && ++i < nuris);
	if (st == BDE_EUNREACH && nuris > 1)
		bde_error(errstr, st, "no directory server answered: %s", tried);
	else if (st != BDE_OK)
		bde_error(errstr, st, "%s", msg ? msg : "cannot open");
out:
	ad_discovery_free(&d);
	free(tried);
	free(msg);
	return st;
}
