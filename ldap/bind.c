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
 * Options common to every handle.  Timeouts: the network timeout bounds
 * connect, LDAP_OPT_TIMEOUT every synchronous call (ldap_result without a
 * timeout uses it), and the connect callback the TLS handshake and reads.
 */
static enum bde_status
ad_set_options(struct ad *ad, const char *uri, int tls, int found,
    char **errstr)
{
	struct timeval tv;
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;

	tv.tv_sec = ad->timeout;
	tv.tv_usec = 0;
	ad_io_conncb(ad);
	if (ldap_set_option(ad->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    ldap_set_option(ad->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) ||
	    ldap_set_option(ad->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) ||
	    ldap_set_option(ad->ld, LDAP_OPT_TIMEOUT, &tv) ||
	    ldap_set_option(ad->ld, LDAP_OPT_CONNECT_CB, &ad->conncb))
		return bde_error(errstr, BDE_EPROTO,
		    "%s: cannot set LDAP options", uri);
	/*
	 * A server found in DNS is ldap/<SRV target> to Kerberos, as to
	 * Windows's DC locator: no reverse lookup of its address (which
	 * for a name only --dns-server knows would ask another resolver).
	 */
	if (found && ldap_set_option(ad->ld, LDAP_OPT_X_SASL_NOCANON,
	    LDAP_OPT_ON))
		return bde_error(errstr, BDE_EPROTO,
		    "%s: cannot set LDAP options", uri);
	if (!tls)
		return BDE_OK;
	if (ldap_set_option(ad->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand))
		return bde_error(errstr, BDE_ECONFIG,
		    "%s: cannot require certificate verification", uri);
	return BDE_OK;
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
	if (ad->peer || ad->gc)
		goto rootdse;
	if (s->base != NULL && *s->base != '\0') {
		ad->base = strdup(s->base);
		st = ad->base != NULL ? BDE_OK : ad_nomem(errstr);
		goto out;
	}
	if (ldap_get_option(ad->ld, LDAP_OPT_DEFBASE, &conf) ==
	    LDAP_OPT_SUCCESS && conf != NULL && *conf != '\0') {
		ad->base = strdup(conf);
		st = ad->base != NULL ? BDE_OK : ad_nomem(errstr);
		goto out;
	}
rootdse:
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

/* One address of dc as a socket address; 0, or -1 when it is none. */
static int
ad_dc_sockaddr(const struct ad_dc *dc, size_t i,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, dc->addr[i], &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)dc->uri_port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, dc->addr[i], &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)dc->uri_port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

/*
 * TCP to the first of dc's addresses that answers, before the current
 * phase ends: what libldap does for a URI, for a name the system
 * resolver does not know.  *fd is the connected (blocking) socket.
 */
static enum bde_status
ad_dial(struct ad *ad, const struct ad_dc *dc, int *fd, char **errstr)
{
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t len, elen;
	long long left;
	size_t i;
	int s = -1, err = 0, r, flags;

	*fd = -1;
	for (i = 0; i < dc->naddr; i++) {
		if (ad_dc_sockaddr(dc, i, &ss, &len) < 0)
			continue;
		s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (s < 0) {
			err = errno;
			continue;
		}
		r = connect(s, (struct sockaddr *)&ss, len);
		if (r < 0 && errno != EINPROGRESS) {
			err = errno;
			goto next;
		}
		while (r < 0) {
			left = ad->deadline_ms - bde_now_ms();
			if (left <= 0) {
				ad->timed_out = 1;
				err = ETIMEDOUT;
				goto next;
			}
			p.fd = s;
			p.events = POLLOUT;
			p.revents = 0;
			r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
			if (r < 0 && errno != EINTR) {
				err = errno;
				goto next;
			}
			if (r <= 0) {
				r = -1;
				continue;
			}
			elen = sizeof(err);
			if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
			if (err != 0)
				goto next;
			r = 0;
		}
		/* libldap's TCP layer expects a blocking socket */
		flags = fcntl(s, F_GETFL);
		if (flags < 0 || fcntl(s, F_SETFL, flags & ~O_NONBLOCK) < 0) {
			err = errno;
			goto next;
		}
		*fd = s;
		return BDE_OK;
next:
		close(s);
		s = -1;
	}
	if (err == ETIMEDOUT)
		return bde_error(errstr, BDE_EUNREACH, "%s: cannot connect to "
		    "%s: timed out after %d s", ad->uri, dc->naddr ? dc->addr[0] :
		    "?", ad->timeout);
	return bde_error(errstr, BDE_EUNREACH, "%s: cannot connect to %s%s: "
	    "%s", ad->uri, dc->naddr ? dc->addr[0] : "?", dc->naddr > 1 ?
	    " (and its other addresses)" : "", strerror(err ? err : EINVAL));
}

/* A TLS failure after TCP worked (rc from libldap), as ad_transport says. */
static enum bde_status
ad_tls_failed(struct ad *ad, int rc, char **errstr)
{
	char *diag = NULL;
	enum bde_status st;

	if (ad->timed_out || (rc != LDAP_SERVER_DOWN &&
	    rc != LDAP_CONNECT_ERROR)) {
		st = ad_fail(ad, ad->uri, rc, 0, errstr, "cannot connect");
		return st == BDE_EPROTO || st == BDE_ECONFIG ? BDE_EUNREACH :
		    st;
	}
	/* TCP worked, TLS did not: most often an unknown CA */
	diag = ad_diag(ad->ld);
	st = bde_error(errstr, BDE_EUNREACH, "%s: TLS handshake failed: %s",
	    ad->uri, diag ? diag : "certificate not verified (is its CA in "
	    "TLS_CACERT or LDAPTLS_CACERT, and the host name in it?)");
	free(diag);
	return st;
}

/*
 * A handle on a socket connected here (see ad_handle): ldap_init_fd
 * makes libldap use it as the connection to uri, whose host name stays
 * what TLS checks the certificate against and Kerberos asks a ticket
 * for.  libldap calls no connect callback for it: the I/O layer is put
 * on by hand, and TLS started with ldap_install_tls.
 */
static enum bde_status
ad_handle_fd(struct ad *ad, const struct ad_dc *dc, int tls, int starttls,
    char **errstr)
{
	Sockbuf *sb = NULL;
	enum bde_status st;
	int fd = -1, rc;

	st = ad_dial(ad, dc, &fd, errstr);
	if (st != BDE_OK)
		goto out;
	rc = ldap_init_fd(fd, LDAP_PROTO_TCP, ad->uri, &ad->ld);
	if (rc != LDAP_SUCCESS) {
		ad->ld = NULL;
		close(fd);
		st = bde_error(errstr, BDE_EPROTO, "%s: cannot set up the "
		    "connection: %s", ad->uri, ldap_err2string(rc));
		goto out;
	}
	st = ad_set_options(ad, ad->uri, tls, 1, errstr);
	if (st != BDE_OK)
		goto out;
	if (ldap_get_option(ad->ld, LDAP_OPT_SOCKBUF, &sb) !=
	    LDAP_OPT_SUCCESS || sb == NULL || ad_io_attach(ad, sb) < 0) {
		st = bde_error(errstr, BDE_EPROTO, "%s: cannot set up the "
		    "connection", ad->uri);
		goto out;
	}
	if (tls && !starttls) {
		rc = ldap_install_tls(ad->ld);
		if (rc != LDAP_SUCCESS)
			st = ad_tls_failed(ad, rc, errstr);
	}
out:
	return st;
}

/*
 * TCP, then TLS (the ldaps:// handshake, or StartTLS).  Every failure
 * here is BDE_EUNREACH: a handshake or certificate failure makes the
 * next server the one to try.
 */
static enum bde_status
ad_transport(struct ad *ad, const struct ad_dc *dc, int tls, int starttls,
    char **errstr)
{
	enum bde_status st = BDE_OK;
	int rc;

	ad->tcp_up = 0;
	/* TCP and, for ldaps://, the TLS handshake: one deadline */
	ad_io_phase(ad, 0);
	if (dc != NULL && dc->naddr > 0) {
		st = ad_handle_fd(ad, dc, tls, starttls, errstr);
		if (st != BDE_OK)
			goto out;
		rc = LDAP_SUCCESS;
	} else {
		rc = ldap_connect(ad->ld);
	}
	if (rc == LDAP_SUCCESS && starttls) {
		ad_io_phase(ad, 0);
		rc = ldap_start_tls_s(ad->ld, NULL, NULL);
	}
	if (rc != LDAP_SUCCESS && tls && ad->tcp_up && !ad->timed_out &&
	    (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)) {
		st = ad_tls_failed(ad, rc, errstr);
		goto out;
	}
	if (rc != LDAP_SUCCESS) {
		st = ad_fail(ad, ad->uri, rc, 0, errstr, "cannot connect%s",
		    starttls ? " with StartTLS" : "");
		if (st == BDE_EPROTO || st == BDE_ECONFIG)
			st = BDE_EUNREACH;
	}
out:
	return st;
}

/* Capabilities OID of a read-only DC (MS-ADTS 3.1.1.3.4.3.4). */
#define AD_CAP_PARTIAL_SECRETS "1.2.840.113556.1.4.1920"

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
	st = ad_mech_simple(mech) ? ad_bind_simple(ad, s, errstr) :
	    ad_bind_sasl(ad, s, mech, tls, errstr);
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
