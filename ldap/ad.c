/*
 * ad.c - the Active Directory backend: find msFVE-RecoveryInformation
 * objects over LDAP with OpenLDAP's libldap and Cyrus SASL.
 *
 * One LDAP handle per backend, bound once in ad_open(); every search is
 * synchronous, paged and bounded by the settings' timeout.  AD facts used
 * here: recovery objects are children of their computer ([MS-ADSC]
 * msFVE-RecoveryInformation), named "<time>{<key ID>}" with the key ID
 * also in msFVE-RecoveryGuid, stored mixed-endian ([MS-DTYP] 2.3.4.2);
 * the password is a confidential attribute (Control Access to read).
 */
#include "ldap/ad.h"
#include "ldap/ad_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <lber.h>
#include <ldap.h>
#include <sasl/sasl.h>

#define AD_DEFAULT_TIMEOUT 10
#define AD_DEFAULT_PAGE_SIZE 500
/* AD refuses pages above MaxPageSize (1000 by default) */
#define AD_MAX_PAGE_SIZE 1000
/* 100,000 pages: far beyond any directory's recovery objects */
#define AD_MAX_PAGES 100000

/* LDAP_SERVER_DOMAIN_SCOPE_OID (MS-ADTS 3.1.1.3.4.1.9): no referrals */
#define AD_CONTROL_DOMAIN_SCOPE "1.2.840.113556.1.4.1339"

#define AD_ATTR_VOLUME "msFVE-VolumeGuid"
#define AD_ATTR_PASSWORD "msFVE-RecoveryPassword"
#define AD_ATTR_PACKAGE "msFVE-KeyPackage"

/* The backend's state behind bde_backend.self. */
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

/* A search: filter, scope and where each entry goes. */
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
 * The values of one entry we care about.  Every berval points into the
 * LDAPMessage (ldap_get_attribute_ber does not copy), so secrets can be
 * wiped where libldap decoded them; valid until the message is freed.
 */
struct ad_entry {
	struct berval dn;
	struct berval cn, guid, volume, when, usn, password, package;
	int has_guid, has_password, has_package;
};

/* What a recovery-object callback adds keys for. */
struct ad_keyctx {
	int flags;
	const struct bde_keyid *id;	/* by key ID: hits are re-checked */
	const char *device;		/* by device: the computer's name */
	const char *computer_dn;	/* and DN */
	struct bde_keylist *keys;
};

/* A computer found by name. */
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
/* Bounding every wait                                                  */

/*
 * libldap's network timeout bounds the TCP connect only.  After it,
 * libldap 2.5 puts the socket in non-blocking mode for the TLS handshake
 * and retries the handshake in a loop without polling while the peer is
 * silent (tls2.c ldap_int_tls_start: a spinning CPU, forever).  This
 * layer sits between TCP and TLS: on a would-block it waits at most the
 * timeout and then fails the read or write with ETIMEDOUT, which ends
 * every retry loop above it.  On a blocking socket SO_RCVTIMEO and
 * SO_SNDTIMEO (set in ad_conn_add) already waited, so a would-block
 * there is the timeout itself.
 */
static int
ad_io_setup(Sockbuf_IO_Desc *sbiod, void *arg)
{
	sbiod->sbiod_pvt = arg;
	return 0;
}

static int
ad_io_ctrl(Sockbuf_IO_Desc *sbiod, int opt, void *arg)
{
	return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg);
}

static long long
ad_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the socket is ready for events: 0, or -1 with errno set. */
static int
ad_io_wait(Sockbuf_IO_Desc *sbiod, short events)
{
	struct ad *ad = sbiod->sbiod_pvt;
	struct pollfd p;
	ber_socket_t fd = -1;
	long long deadline, left;
	int fl, r;

	ber_sockbuf_ctrl(sbiod->sbiod_sb, LBER_SB_OPT_GET_FD, &fd);
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK) != 0) {
		deadline = ad_now_ms() + (long long)ad->timeout * 1000;
		while ((left = deadline - ad_now_ms()) > 0) {
			p.fd = fd;
			p.events = events;
			p.revents = 0;
			r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
			if (r > 0)
				return 0;
			if (r < 0 && errno != EINTR)
				return -1;
		}
	}
	ad->timed_out = 1;
	errno = ETIMEDOUT;
	return -1;
}

static ber_slen_t
ad_io_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	ber_slen_t r;

	for (;;) {
		r = LBER_SBIOD_READ_NEXT(sbiod, buf, len);
		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return r;
		if (ad_io_wait(sbiod, POLLIN) < 0)
			return -1;
	}
}

static ber_slen_t
ad_io_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	ber_slen_t r;

	for (;;) {
		r = LBER_SBIOD_WRITE_NEXT(sbiod, buf, len);
		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return r;
		if (ad_io_wait(sbiod, POLLOUT) < 0)
			return -1;
	}
}

static Sockbuf_IO ad_io = {
	ad_io_setup,	/* sbi_setup */
	NULL,		/* sbi_remove */
	ad_io_ctrl,	/* sbi_ctrl */
	ad_io_read,	/* sbi_read */
	ad_io_write,	/* sbi_write */
	NULL		/* sbi_close: the TCP layer below closes */
};

/*
 * Called by libldap right after each TCP connect, before TLS: bound
 * blocking reads and writes, and push the layer above under TLS/SASL
 * (libldap adds its TCP layer at LBER_SBIOD_LEVEL_PROVIDER afterwards).
 */
static int
ad_conn_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
    struct ldap_conncb *ctx)
{
	struct ad *ad = ctx->lc_arg;
	struct timeval tv;
	ber_socket_t fd = -1;

	(void)ld;
	(void)srv;
	(void)addr;
	tv.tv_sec = ad->timeout;
	tv.tv_usec = 0;
	if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) != 1 || fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	if (ber_sockbuf_add_io(sb, &ad_io, LBER_SBIOD_LEVEL_PROVIDER + 1,
	    ad) < 0)
		return -1;
	ad->tcp_up = 1;
	return 0;
}

static void
ad_conn_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
	(void)ld;
	(void)sb;
	(void)ctx;
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */

static enum bde_status
ad_nomem(char **errstr)
{
	return bde_error(errstr, BDE_ENOMEM, "out of memory");
}

/* Result codes that mean "this server cannot be used now". */
static int
ad_rc_unreachable(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_TIMEOUT:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
	case LDAP_TIMELIMIT_EXCEEDED:
		return 1;
	}
	return 0;
}

/*
 * The status for rc.  bind says the operation was the bind, where any
 * refusal by the server is an authentication failure.
 */
static enum bde_status
ad_status(int rc, int bind, const char *diag)
{
	if (ad_rc_unreachable(rc))
		return BDE_EUNREACH;
	switch (rc) {
	case LDAP_NO_MEMORY:
		return BDE_ENOMEM;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_CONFIDENTIALITY_REQUIRED:
	case LDAP_AUTH_METHOD_NOT_SUPPORTED:
		return BDE_EAUTH;
	case LDAP_AUTH_UNKNOWN:
		return BDE_ECONFIG;
	case LDAP_INSUFFICIENT_ACCESS:
		return bind ? BDE_EAUTH : BDE_EPERM;
	case LDAP_NOT_SUPPORTED:
		return BDE_ECONFIG;
	case LDAP_NO_SUCH_OBJECT:
		return bind ? BDE_EAUTH : BDE_ECONFIG;
	case LDAP_OPERATIONS_ERROR:
		/* AD: "000004DC: ... a successful bind must be completed" */
		if (diag != NULL && strncasecmp(diag, "000004DC", 8) == 0)
			return BDE_EAUTH;
		break;
	}
	if (bind && (rc > 0 || rc == LDAP_LOCAL_ERROR))
		return BDE_EAUTH;
	return BDE_EPROTO;
}

/*
 * AD's diagnostic for invalidCredentials carries a Win32 error code in
 * hex ("80090308: LdapErr: ..., data 52e, v4563"; 0x52e is
 * ERROR_LOGON_FAILURE in [MS-ERREF] 2.2): say what it means.
 */
static const char *
ad_bind_data_reason(const char *diag)
{
	static const struct {
		const char *code, *reason;
	} codes[] = {
		{ "525", "no such user" },
		{ "52e", "wrong password" },
		{ "530", "logon not permitted at this time" },
		{ "531", "logon not permitted from this workstation" },
		{ "532", "password expired" },
		{ "533", "account disabled" },
		{ "701", "account expired" },
		{ "773", "password must be changed" },
		{ "775", "account locked out" },
	};
	const char *p;
	size_t i;

	if (diag == NULL || (p = strstr(diag, "data ")) == NULL)
		return NULL;
	p += 5;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strncasecmp(p, codes[i].code, 3) == 0 &&
		    !isxdigit((unsigned char)p[3]))
			return codes[i].reason;
	return NULL;
}

/* The diagnostic message libldap kept for the last operation, or NULL. */
static char *
ad_diag(LDAP *ld)
{
	char *msg = NULL, *copy;
	size_t n, i;

	if (ld == NULL ||
	    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) !=
	    LDAP_OPT_SUCCESS || msg == NULL)
		return NULL;
	copy = strdup(msg);
	ldap_memfree(msg);
	if (copy == NULL)
		return NULL;
	/* one line, no trailing dot or blanks: it goes inside our message */
	for (i = 0; copy[i] != '\0'; i++)
		if ((unsigned char)copy[i] < 0x20)
			copy[i] = ' ';
	n = strlen(copy);
	while (n > 0 && (copy[n - 1] == ' ' || copy[n - 1] == '.' ||
	    copy[n - 1] == '\0'))
		copy[--n] = '\0';
	/* what libldap says when the TLS library gave no reason */
	if (n == 0 || strcmp(copy, "(unknown error code)") == 0) {
		free(copy);
		return NULL;
	}
	return copy;
}

/*
 * Fail with "URI: WHAT: reason (diagnostic)" for result rc; returns the
 * status (see ad_status).  what is a printf format.
 */
static enum bde_status
ad_fail(struct ad *ad, const char *uri, int rc, int bind, char **errstr,
    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum bde_status
ad_fail(struct ad *ad, const char *uri, int rc, int bind, char **errstr,
    const char *fmt, ...)
{
	char reason[128], *what = NULL, *diag = NULL;
	const char *data = NULL;
	enum bde_status st;
	va_list ap;
	int r;

	diag = ad_diag(ad->ld);
	st = ad_status(rc, bind, diag);
	if (ad->timed_out || rc == LDAP_TIMEOUT) {
		snprintf(reason, sizeof(reason), "timed out after %d s",
		    ad->timeout);
		st = BDE_EUNREACH;
	} else {
		snprintf(reason, sizeof(reason), "%s", ldap_err2string(rc));
		reason[0] = (char)tolower((unsigned char)reason[0]);
	}
	if (rc == LDAP_INVALID_CREDENTIALS)
		data = ad_bind_data_reason(diag);
	/* after a timeout the diagnostic is the TLS library's aftermath */
	if (st == BDE_EUNREACH && ad->timed_out) {
		free(diag);
		diag = NULL;
	}
	va_start(ap, fmt);
	r = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (r < 0) {
		what = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	if (data != NULL)
		bde_error(errstr, st, "%s: %s: %s (%s)", uri, what, reason,
		    data);
	else if (diag != NULL && strcasecmp(diag, reason) != 0)
		bde_error(errstr, st, "%s: %s: %s (%s)", uri, what, reason,
		    diag);
	else
		bde_error(errstr, st, "%s: %s: %s", uri, what, reason);
out:
	free(what);
	free(diag);
	return st;
}

/* ------------------------------------------------------------------ */
/* Connecting and binding                                               */

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
ad_set_options(struct ad *ad, const char *uri, int tls, char **errstr)
{
	struct timeval tv;
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND;

	tv.tv_sec = ad->timeout;
	tv.tv_usec = 0;
	ad->conncb.lc_add = ad_conn_add;
	ad->conncb.lc_del = ad_conn_del;
	ad->conncb.lc_arg = ad;
	if (ldap_set_option(ad->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    ldap_set_option(ad->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) ||
	    ldap_set_option(ad->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) ||
	    ldap_set_option(ad->ld, LDAP_OPT_TIMEOUT, &tv) ||
	    ldap_set_option(ad->ld, LDAP_OPT_CONNECT_CB, &ad->conncb))
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

/* Bind on ad->ld; uri names the server in messages. */
static enum bde_status
ad_bind(struct ad *ad, const struct ad_settings *s, const char *mech,
    const char *uri, int tls, char **errstr)
{
	struct ad_sasl sasl;
	struct berval cred;
	char *user = NULL;
	enum bde_status st = BDE_OK;
	int rc;

	if (ad_mech_simple(mech)) {
		cred.bv_val = (char *)s->password;
		cred.bv_len = strlen(s->password);
		rc = ldap_sasl_bind_s(ad->ld, s->bind_dn, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			st = ad_fail(ad, uri, rc, 1, errstr,
			    "cannot bind as '%s'", s->bind_dn);
			goto out;
		}
		ad->identity = strdup(s->bind_dn);
		if (ad->identity == NULL)
			st = ad_nomem(errstr);
		goto out;
	}

	if (ldap_set_option(ad->ld, LDAP_OPT_X_SASL_SECPROPS,
	    ad_secprops(tls)) != LDAP_OPT_SUCCESS) {
		st = bde_error(errstr, BDE_ECONFIG,
		    "%s: cannot set SASL security properties", uri);
		goto out;
	}
	memset(&sasl, 0, sizeof(sasl));
	sasl.authcid = s->bind_dn;
	sasl.password = s->password;
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
		int as = s->bind_dn != NULL && strcasecmp(mech, "GSSAPI") != 0;

		st = ad_fail(ad, uri, rc, 1, errstr,
		    "cannot bind with SASL %s%s%s%s", mech, as ? " as '" : "",
		    as ? s->bind_dn : "", as ? "'" : "");
		goto out;
	}
	/* who we are, as SASL knows it (a Kerberos principal for GSSAPI) */
	if (ldap_get_option(ad->ld, LDAP_OPT_X_SASL_USERNAME, &user) ==
	    LDAP_OPT_SUCCESS && user != NULL)
		ad->identity = strdup(user);
	else if (s->bind_dn != NULL)
		ad->identity = strdup(s->bind_dn);
out:
	if (user != NULL)
		ldap_memfree(user);
	return st;
}

/* Base from ldap.conf BASE (LDAP_OPT_DEFBASE), else RootDSE. */
static enum bde_status ad_find_base(struct ad *ad, char **errstr);

/*
 * Open a handle for uri (NULL: libldap's configured URIs), connect, TLS,
 * bind.  On failure ad->ld is closed again.
 */
static enum bde_status
ad_try(struct ad *ad, const struct ad_settings *s, const char *mech,
    const char *uri, char **errstr)
{
	char *conf_uri = NULL;
	const char *name = uri;
	enum bde_status st = BDE_OK;
	int rc, tls, starttls;

	ad->timed_out = 0;
	rc = ldap_initialize(&ad->ld, uri);
	if (rc != LDAP_SUCCESS) {
		st = bde_error(errstr, BDE_ECONFIG, "'%s': bad LDAP URI: %s",
		    uri ? uri : "(ldap.conf)", ldap_err2string(rc));
		goto out;
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
	starttls = s->starttls && !ad_uris_all_tls(name, 0);
	tls = starttls || ad_uris_all_tls(name, 0);
	if (ad_mech_simple(mech) && !tls) {
		st = ad_cleartext(name, errstr);
		goto out;
	}
	free(ad->uri);
	ad->uri = strdup(name);
	if (ad->uri == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	st = ad_set_options(ad, name, tls, errstr);
	if (st != BDE_OK)
		goto out;
	ad->tcp_up = 0;
	rc = ldap_connect(ad->ld);
	if (rc == LDAP_SUCCESS && starttls)
		rc = ldap_start_tls_s(ad->ld, NULL, NULL);
	if (rc != LDAP_SUCCESS && tls && ad->tcp_up && !ad->timed_out &&
	    (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)) {
		/* TCP worked, TLS did not: most often an unknown CA */
		char *diag = ad_diag(ad->ld);

		st = bde_error(errstr, BDE_EUNREACH, "%s: TLS handshake "
		    "failed: %s", name, diag ? diag : "certificate not "
		    "verified (is its CA in TLS_CACERT or LDAPTLS_CACERT, and "
		    "the host name in it?)");
		free(diag);
		goto out;
	}
	if (rc != LDAP_SUCCESS) {
		st = ad_fail(ad, name, rc, 0, errstr, "cannot connect%s",
		    starttls ? " with StartTLS" : "");
		/* a handshake or certificate failure: try the next server */
		if (st == BDE_EPROTO || st == BDE_ECONFIG)
			st = BDE_EUNREACH;
		goto out;
	}
	st = ad_bind(ad, s, mech, name, tls, errstr);
	if (st != BDE_OK)
		goto out;
	if (s->base != NULL && *s->base != '\0') {
		ad->base = strdup(s->base);
		if (ad->base == NULL)
			st = ad_nomem(errstr);
	} else {
		st = ad_find_base(ad, errstr);
	}
out:
	if (conf_uri != NULL)
		ldap_memfree(conf_uri);
	if (st != BDE_OK && ad->ld != NULL) {
		ldap_unbind_ext_s(ad->ld, NULL, NULL);
		ad->ld = NULL;
	}
	return st;
}

/* ------------------------------------------------------------------ */
/* Searching                                                            */

/*
 * Read the values we use from entry e into v (pointers into e).
 * Returns BDE_OK or BDE_EPROTO.
 */
static enum bde_status
ad_entry_read(struct ad *ad, LDAPMessage *e, struct ad_entry *v,
    char **errstr)
{
	struct berval attr, *vals = NULL;
	BerElement *ber = NULL;
	enum bde_status st = BDE_OK;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = ldap_get_dn_ber(ad->ld, e, &ber, &v->dn);
	if (rc != LDAP_SUCCESS || v->dn.bv_val == NULL) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: cannot decode a search result entry", ad->uri);
		goto out;
	}
	for (;;) {
		struct berval *dst = NULL;
		int *has = NULL;

		rc = ldap_get_attribute_ber(ad->ld, e, ber, &attr, &vals);
		if (rc != LDAP_SUCCESS) {
			st = bde_error(errstr, BDE_EPROTO,
			    "%s: cannot decode entry '%.*s'", ad->uri,
			    (int)v->dn.bv_len, v->dn.bv_val);
			goto out;
		}
		if (attr.bv_val == NULL)
			break;
#define IS(name) (attr.bv_len == strlen(name) && \
		    strncasecmp(attr.bv_val, name, attr.bv_len) == 0)
		if (IS("cn"))
			dst = &v->cn;
		else if (IS(AD_ATTR_GUID))
			dst = &v->guid, has = &v->has_guid;
		else if (IS(AD_ATTR_VOLUME))
			dst = &v->volume;
		else if (IS("whenCreated"))
			dst = &v->when;
		else if (IS("uSNCreated"))
			dst = &v->usn;
		else if (IS(AD_ATTR_PASSWORD))
			dst = &v->password, has = &v->has_password;
		else if (IS(AD_ATTR_PACKAGE))
			dst = &v->package, has = &v->has_package;
#undef IS
		/* single-valued in the AD schema: the first value is it */
		if (dst != NULL && vals != NULL && vals[0].bv_val != NULL) {
			*dst = vals[0];
			if (has != NULL)
				*has = 1;
		}
		ber_memfree(vals);
		vals = NULL;
	}
out:
	ber_memfree(vals);
	if (ber != NULL)
		ber_free(ber, 0);
	return st;
}

/* Wipe the secrets of v where libldap decoded them. */
static void
ad_entry_wipe(struct ad_entry *v)
{
	if (v->password.bv_val != NULL)
		explicit_bzero(v->password.bv_val, v->password.bv_len);
	if (v->package.bv_val != NULL)
		explicit_bzero(v->package.bv_val, v->package.bv_len);
}

/*
 * Run q with the Simple Paged Results control (RFC 2696; AD stops an
 * unpaged search at MaxPageSize) and LDAP_SERVER_DOMAIN_SCOPE, following
 * the cookie to the end; q->entry is called for every entry, search
 * references are ignored.  Returns BDE_OK or an error.
 */
static enum bde_status
ad_search_run(struct ad *ad, const struct ad_search *q, char **errstr)
{
	struct berval cookie = { 0, NULL };
	LDAPControl *page = NULL, **rctrls = NULL, *ctrls[3];
	LDAPControl scope;
	LDAPMessage *res = NULL, *e;
	struct timeval tv;
	enum bde_status st = BDE_OK;
	ber_int_t count;
	long pages = 0;
	int rc, err;

	scope.ldctl_oid = AD_CONTROL_DOMAIN_SCOPE;
	scope.ldctl_value.bv_len = 0;
	scope.ldctl_value.bv_val = NULL;
	scope.ldctl_iscritical = 0;
	do {
		/*
		 * Critical where a server ignoring it would cut the result
		 * short; a base search returns one entry either way.
		 */
		rc = ldap_create_page_control(ad->ld, ad->page_size,
		    cookie.bv_val ? &cookie : NULL,
		    q->scope != LDAP_SCOPE_BASE, &page);
		if (rc != LDAP_SUCCESS) {
			st = ad_nomem(errstr);
			goto out;
		}
		ctrls[0] = page;
		ctrls[1] = &scope;
		ctrls[2] = NULL;
		tv.tv_sec = ad->timeout;
		tv.tv_usec = 0;
		ad->timed_out = 0;
		rc = ldap_search_ext_s(ad->ld, q->base, q->scope, q->filter,
		    q->attrs, 0, ctrls, NULL, &tv, 0, &res);
		ldap_control_free(page);
		page = NULL;
		if (rc != LDAP_SUCCESS && res == NULL) {
			st = ad_fail(ad, ad->uri, rc, 0, errstr, "%s", q->what);
			goto out;
		}
		/* the result code and controls of the searchResultDone */
		err = LDAP_SUCCESS;
		rc = ldap_parse_result(ad->ld, res, &err, NULL, NULL, NULL,
		    &rctrls, 0);
		if (rc == LDAP_SUCCESS && err == LDAP_NO_SUCH_OBJECT &&
		    q->scope == LDAP_SCOPE_ONELEVEL) {
			/* the computer went away between two searches */
			goto out;
		}
		if (rc != LDAP_SUCCESS || err != LDAP_SUCCESS) {
			st = ad_fail(ad, ad->uri, rc != LDAP_SUCCESS ? rc : err,
			    0, errstr, "%s", q->what);
			goto out;
		}
		for (e = ldap_first_entry(ad->ld, res); e != NULL;
		    e = ldap_next_entry(ad->ld, e)) {
			st = q->entry(ad, e, q->arg, errstr);
			if (st != BDE_OK)
				goto out;
		}
		/* a new cookie, empty on the last page */
		ber_memfree(cookie.bv_val);
		cookie.bv_val = NULL;
		cookie.bv_len = 0;
		if (rctrls != NULL) {
			LDAPControl *c;

			c = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls,
			    NULL);
			if (c != NULL && ldap_parse_pageresponse_control(
			    ad->ld, c, &count, &cookie) != LDAP_SUCCESS) {
				st = bde_error(errstr, BDE_EPROTO,
				    "%s: %s: bad paged results control",
				    ad->uri, q->what);
				goto out;
			}
		}
		/*
		 * A server that never ends the search would keep us here:
		 * each page is bounded by the timeout, the pages by this.
		 * (The cookie itself may repeat: Samba sends the same one
		 * on every page.)
		 */
		if (++pages >= AD_MAX_PAGES && cookie.bv_len > 0) {
			st = bde_error(errstr, BDE_EPROTO, "%s: %s: more than "
			    "%d pages", ad->uri, q->what, AD_MAX_PAGES);
			goto out;
		}
		ldap_controls_free(rctrls);
		rctrls = NULL;
		ldap_msgfree(res);
		res = NULL;
	} while (cookie.bv_val != NULL && cookie.bv_len > 0);
out:
	ber_memfree(cookie.bv_val);
	if (page != NULL)
		ldap_control_free(page);
	if (rctrls != NULL)
		ldap_controls_free(rctrls);
	if (res != NULL)
		ldap_msgfree(res);
	return st;
}

static enum bde_status
ad_rootdse_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct berval **vals = NULL;
	char **base = arg;
	enum bde_status st = BDE_OK;

	vals = ldap_get_values_len(ad->ld, e, "defaultNamingContext");
	if (vals != NULL && vals[0] != NULL && *base == NULL) {
		*base = strndup(vals[0]->bv_val, vals[0]->bv_len);
		if (*base == NULL)
			st = ad_nomem(errstr);
	}
	ldap_value_free_len(vals);
	return st;
}

static enum bde_status
ad_find_base(struct ad *ad, char **errstr)
{
	static char *attrs[] = { "defaultNamingContext", NULL };
	struct ad_search q;
	char *conf = NULL;
	enum bde_status st;

	if (ldap_get_option(ad->ld, LDAP_OPT_DEFBASE, &conf) ==
	    LDAP_OPT_SUCCESS && conf != NULL && *conf != '\0') {
		ad->base = strdup(conf);
		ldap_memfree(conf);
		return ad->base ? BDE_OK :
		    ad_nomem(errstr);
	}
	if (conf != NULL)
		ldap_memfree(conf);
	/* RootDSE (RFC 4512 5.1): AD names its domain defaultNamingContext */
	memset(&q, 0, sizeof(q));
	q.base = "";
	q.scope = LDAP_SCOPE_BASE;
	q.filter = "(objectClass=*)";
	q.attrs = attrs;
	q.what = "cannot read the RootDSE";
	q.entry = ad_rootdse_entry;
	q.arg = &ad->base;
	st = ad_search_run(ad, &q, errstr);
	if (st == BDE_OK && ad->base == NULL)
		st = bde_error(errstr, BDE_ECONFIG,
		    "%s: no search base: the RootDSE has no "
		    "defaultNamingContext (set --base)", ad->uri);
	return st;
}

/* ------------------------------------------------------------------ */
/* Filters                                                              */

/* ------------------------------------------------------------------ */
/* Recovery objects to keys                                             */

/* Parse a GeneralizedTime "YYYYMMDDHHMMSS[.f]Z" (or +hhmm) as UTC. */
static int
ad_parse_time(const struct berval *bv, time_t *out)
{
	char buf[40], *p;
	struct tm tm;
	int off = 0, sign = 0, hh, mm;
	time_t t;

	if (bv->bv_val == NULL || bv->bv_len < 15 || bv->bv_len >= sizeof(buf))
		return -1;
	memcpy(buf, bv->bv_val, bv->bv_len);
	buf[bv->bv_len] = '\0';
	memset(&tm, 0, sizeof(tm));
	p = strptime(buf, "%Y%m%d%H%M%S", &tm);
	if (p == NULL || p != buf + 14)
		return -1;
	if (*p == '.' || *p == ',') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z') {
		p++;
	} else if ((*p == '+' || *p == '-') &&
	    sscanf(p + 1, "%2d%2d", &hh, &mm) == 2) {
		sign = *p == '-' ? -1 : 1;
		off = hh * 3600 + mm * 60;
		p += 5;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	/* local = UTC + offset */
	*out = t - sign * off;
	return 0;
}

/* A 16-byte stored GUID as canonical text; -1 when not 16 bytes. */
static int
ad_guid_text(const struct berval *bv, char out[BDE_GUID_LEN + 1])
{
	uint8_t written[16];

	if (bv->bv_val == NULL || bv->bv_len != 16)
		return -1;
	bde_guid_swap_ms((const uint8_t *)bv->bv_val, written);
	bde_guid_format(written, out);
	return 0;
}

/*
 * The key ID named in a recovery object's CN, "<time>{GUID}"; -1 when
 * the CN does not end that way.
 */
static int
ad_cn_guid(const struct berval *cn, char out[BDE_GUID_LEN + 1])
{
	char buf[BDE_GUID_LEN + 3];
	uint8_t g[16];

	if (cn->bv_val == NULL || cn->bv_len < sizeof(buf) - 1)
		return -1;
	memcpy(buf, cn->bv_val + cn->bv_len - (sizeof(buf) - 1),
	    sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	if (bde_guid_parse(buf, g) < 0 || buf[0] != '{')
		return -1;
	bde_guid_format(g, out);
	return 0;
}

/*
 * Length of the first RDN of dn (up to the first unescaped ','), RFC 4514
 * escapes included: "CN=a\,b,OU=x" -> 7.
 */
static size_t
ad_rdn_len(const char *dn, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (dn[i] == '\\' && i + 1 < len)
			i++;
		else if (dn[i] == ',')
			return i;
	}
	return len;
}

/*
 * The parent DN and the unescaped value of its first RDN (the computer's
 * cn) for a recovery object's DN.  Both are new strings the caller frees.
 */
static enum bde_status
ad_parent(struct ad *ad, const struct berval *dn, char **parent, char **name,
    char **errstr)
{
	LDAPDN ldn = NULL;
	struct berval pdn;
	size_t n;
	enum bde_status st = BDE_OK;

	*parent = *name = NULL;
	n = ad_rdn_len(dn->bv_val, dn->bv_len);
	if (n + 1 >= dn->bv_len) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s' has no parent", ad->uri,
		    (int)dn->bv_len, dn->bv_val);
		goto out;
	}
	pdn.bv_val = dn->bv_val + n + 1;
	pdn.bv_len = dn->bv_len - n - 1;
	/* unescaping is ldap_str2dn's job: "Lab (1) *x\\y\, Zo..." */
	if (ldap_bv2dn(&pdn, &ldn, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
	    ldn == NULL || ldn[0] == NULL || ldn[0][0] == NULL) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: cannot parse DN '%.*s'", ad->uri, (int)pdn.bv_len,
		    pdn.bv_val);
		goto out;
	}
	*parent = strndup(pdn.bv_val, pdn.bv_len);
	*name = strndup(ldn[0][0]->la_value.bv_val, ldn[0][0]->la_value.bv_len);
	if (*parent == NULL || *name == NULL) {
		free(*parent);
		free(*name);
		*parent = *name = NULL;
		st = ad_nomem(errstr);
	}
out:
	if (ldn != NULL)
		ldap_dnfree(ldn);
	return st;
}

/*
 * Turn a recovery object into a key in ctx->keys.  The key ID comes from
 * msFVE-RecoveryGuid and must agree with the GUID in the CN: BitLocker
 * writes both from the same protector ID, so a disagreement is a forged
 * or broken object, and reading out its password against the wrong ID
 * would unlock nothing.  That is BDE_EPROTO for the whole lookup (the
 * message names the object) rather than a guess.
 */
static enum bde_status
ad_key_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct ad_keyctx *ctx = arg;
	struct ad_entry v;
	struct bde_key *k = NULL;
	char id[BDE_GUID_LEN + 1], cnid[BDE_GUID_LEN + 1];
	char vol[BDE_GUID_LEN + 1];
	char *parent = NULL, *name = NULL;
	enum bde_status st;
	int have_cnid;

	st = ad_entry_read(ad, e, &v, errstr);
	if (st != BDE_OK)
		goto out;
	have_cnid = ad_cn_guid(&v.cn, cnid) == 0;
	if (v.has_guid) {
		if (ad_guid_text(&v.guid, id) < 0) {
			st = bde_error(errstr, BDE_EPROTO,
			    "%s: recovery object '%.*s': " AD_ATTR_GUID
			    " is %zu bytes, not 16", ad->uri,
			    (int)v.dn.bv_len, v.dn.bv_val,
			    (size_t)v.guid.bv_len);
			goto out;
		}
		if (have_cnid && strcmp(id, cnid) != 0) {
			st = bde_error(errstr, BDE_EPROTO,
			    "%s: recovery object '%.*s': key ID {%s} in its "
			    "name differs from " AD_ATTR_GUID " {%s}", ad->uri,
			    (int)v.dn.bv_len, v.dn.bv_val, cnid, id);
			goto out;
		}
	} else if (have_cnid) {
		memcpy(id, cnid, sizeof(id));
	} else {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s' has no key ID", ad->uri,
		    (int)v.dn.bv_len, v.dn.bv_val);
		goto out;
	}
	/* the filter may be wider than the query: re-check every hit */
	if (ctx->id != NULL && !bde_keyid_match(ctx->id, id))
		goto out;

	k = bde_keylist_add(ctx->keys);
	if (k == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	k->source = "ad";
	memcpy(k->key_id, id, sizeof(k->key_id));
	if (v.volume.bv_val != NULL) {
		if (ad_guid_text(&v.volume, vol) < 0) {
			st = bde_error(errstr, BDE_EPROTO,
			    "%s: recovery object '%.*s': " AD_ATTR_VOLUME
			    " is %zu bytes, not 16", ad->uri,
			    (int)v.dn.bv_len, v.dn.bv_val,
			    (size_t)v.volume.bv_len);
			goto out;
		}
		k->volume_guid = strdup(vol);
		if (k->volume_guid == NULL) {
			st = ad_nomem(errstr);
			goto out;
	}
	}
	if (ad_parse_time(&v.when, &k->created) < 0) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s': bad whenCreated '%.*s'",
		    ad->uri, (int)v.dn.bv_len, v.dn.bv_val,
		    (int)v.when.bv_len, v.when.bv_val ? v.when.bv_val : "");
		goto out;
	}
	if (v.usn.bv_val != NULL && v.usn.bv_len < 24) {
		char usn[24];

		memcpy(usn, v.usn.bv_val, v.usn.bv_len);
		usn[v.usn.bv_len] = '\0';
		k->seq = strtoll(usn, NULL, 10);
	}
	k->dn = strndup(v.dn.bv_val, v.dn.bv_len);
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
		st = ad_parent(ad, &v.dn, &parent, &name, errstr);
		if (st != BDE_OK)
			goto out;
		k->computer_dn = parent;
		k->device = name;
		parent = name = NULL;
	}
	if (ctx->flags & BDE_WANT_PASSWORD) {
		/* visible object, no value: withheld (Control Access) */
		if (v.has_password) {
			k->password = strndup(v.password.bv_val,
			    v.password.bv_len);
			if (k->password == NULL) {
				st = ad_nomem(errstr);
				goto out;
		}
			k->pw = BDE_PW_READ;
		} else {
			k->pw = BDE_PW_DENIED;
		}
	}
	k = NULL;
out:
	/* a half-filled record is dropped again */
	if (k != NULL && st != BDE_OK) {
		bde_key_release(k);
		ctx->keys->n--;
	}
	free(parent);
	free(name);
	ad_entry_wipe(&v);
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
	struct ad_computer *c;
	struct ad_entry v;
	enum bde_status st;

	st = ad_entry_read(ad, e, &v, errstr);
	if (st != BDE_OK)
		return st;
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? cs->cap * 2 : 4;
		struct ad_computer *nv = reallocarray(cs->v, cap, sizeof(*nv));

		if (nv == NULL)
			return ad_nomem(errstr);
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
		return ad_nomem(errstr);
	}
	cs->n++;
	return BDE_OK;
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
 * by_device: the computers named name (cn, sAMAccountName, and
 * dNSHostName for a dotted name), then a one-level search for recovery
 * objects under each.
 */
static enum bde_status
ad_by_device(void *self, const char *name, int flags,
    struct bde_keylist *out, char **errstr)
{
	static char *computer_attrs[] = { "cn", NULL };
	struct ad *ad = self;
	struct ad_computers cs = { NULL, 0, 0 };
	struct bde_keylist keys = BDE_KEYLIST_INIT;
	struct ad_keyctx ctx;
	struct ad_search q;
	char *attrs[8], *esc = NULL, *filter = NULL, *short_name = NULL;
	char *what = NULL;
	enum bde_status st = BDE_OK;
	size_t i, n;
	int fqdn;

	if (name == NULL || *name == '\0') {
		st = bde_error(errstr, BDE_EUSAGE, "empty device name");
		goto out;
	}
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
	memset(&q, 0, sizeof(q));
	q.base = ad->base;
	q.scope = LDAP_SCOPE_SUBTREE;
	q.filter = filter;
	q.attrs = computer_attrs;
	q.what = what;
	q.entry = ad_computer_entry;
	q.arg = &cs;
	st = ad_search_run(ad, &q, errstr);
	if (st != BDE_OK)
		goto out;
	if (cs.n == 0) {
		st = bde_error(errstr, BDE_ENOTFOUND,
		    "no computer named '%s'", name);
		goto out;
	}

	ad_key_attrs(flags, attrs);
	for (i = 0; i < cs.n; i++) {
		memset(&ctx, 0, sizeof(ctx));
		ctx.flags = flags;
		ctx.device = cs.v[i].name;
		ctx.computer_dn = cs.v[i].dn;
		ctx.keys = &keys;
		free(what);
		if (asprintf(&what, "search for recovery keys of '%s'",
		    cs.v[i].dn) < 0) {
			what = NULL;
			st = ad_nomem(errstr);
			goto out;
		}
		memset(&q, 0, sizeof(q));
		/* one level: recovery objects are children of the computer */
		q.base = cs.v[i].dn;
		q.scope = LDAP_SCOPE_ONELEVEL;
		q.filter = "(objectClass=" AD_CLASS_RECOVERY ")";
		q.attrs = attrs;
		q.what = what;
		q.entry = ad_key_entry;
		q.arg = &ctx;
		st = ad_search_run(ad, &q, errstr);
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
	free(short_name);
	free(esc);
	free(filter);
	free(what);
	return st;
}

/* by_keyid: recovery objects whose key ID starts with id, domain-wide. */
static enum bde_status
ad_by_keyid(void *self, const struct bde_keyid *id, int flags,
    struct bde_keylist *out, char **errstr)
{
	struct ad *ad = self;
	struct bde_keylist keys = BDE_KEYLIST_INIT;
	struct ad_keyctx ctx;
	struct ad_search q;
	char *attrs[8], *filter = NULL, *what = NULL;
	enum bde_status st = BDE_OK;

	filter = ad_keyid_filter(id);
	if (filter == NULL ||
	    asprintf(&what, "search for key ID '%s'", id->hex) < 0) {
		what = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	ad_key_attrs(flags, attrs);
	memset(&ctx, 0, sizeof(ctx));
	ctx.flags = flags;
	ctx.id = id;
	ctx.keys = &keys;
	memset(&q, 0, sizeof(q));
	q.base = ad->base;
	q.scope = LDAP_SCOPE_SUBTREE;
	q.filter = filter;
	q.attrs = attrs;
	q.what = what;
	q.entry = ad_key_entry;
	q.arg = &ctx;
	st = ad_search_run(ad, &q, errstr);
	if (st != BDE_OK)
		goto out;
	if (keys.n == 0) {
		st = bde_error(errstr, BDE_ENOTFOUND,
		    "no recovery key with ID '%s%s'", id->hex,
		    id->len < 32 ? "...": "");
		goto out;
	}
	bde_keylist_sort(&keys);
	st = ad_keys_move(out, &keys, errstr);
out:
	bde_keylist_free(&keys);
	free(filter);
	free(what);
	return st;
}

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

/* The mechanism to use: the setting, else GSSAPI. */
static const char *
ad_mech(const struct ad_settings *s)
{
	return s->mech != NULL && *s->mech != '\0' ? s->mech : "GSSAPI";
}

enum bde_status
ad_check(const struct ad_settings *s, char **errstr)
{
	const char *mech = ad_mech(s);
	char *conf = NULL;
	enum bde_status st = BDE_OK;
	size_t i;

	if (!ad_mech_simple(mech))
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
	/* no URI set: libldap's ldap.conf URI list is what will be used */
	if ((s->uris == NULL || s->uris[0] == NULL) &&
	    ldap_get_option(NULL, LDAP_OPT_URI, &conf) == LDAP_OPT_SUCCESS &&
	    conf != NULL && !ad_uris_all_tls(conf, s->starttls))
		st = ad_cleartext(conf, errstr);
out:
	if (conf != NULL)
		ldap_memfree(conf);
	return st;
}

static enum bde_status ad_key_package(void *self, const struct bde_keyid *id,
    struct bde_package *out, char **errstr);

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
	const char *mech;
	char *tried = NULL, *msg = NULL;
	enum bde_status st = BDE_OK;
	size_t i, nuris = 0;

	memset(out, 0, sizeof(*out));
	mech = ad_mech(s);
	st = ad_check(s, errstr);
	if (st != BDE_OK)
		goto out;
	/* an empty password makes an unauthenticated bind (RFC 4513 5.1.2) */
	if (ad_mech_simple(mech) &&
	    (s->password == NULL || *s->password == '\0')) {
		st = bde_error(errstr, BDE_ECONFIG,
		    "a simple bind needs a password (--password-file)");
		goto out;
	}
	if (s->uris != NULL)
		while (s->uris[nuris] != NULL)
			nuris++;
	st = ad_tls_demand(errstr);
	if (st != BDE_OK)
		goto out;
	ad = calloc(1, sizeof(*ad));
	if (ad == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	ad->timeout = s->timeout > 0 ? s->timeout : AD_DEFAULT_TIMEOUT;
	ad->page_size = s->page_size > 0 ? s->page_size : AD_DEFAULT_PAGE_SIZE;
	if (ad->page_size > AD_MAX_PAGE_SIZE)
		ad->page_size = AD_MAX_PAGE_SIZE;

	/* failover: the next URI only when this one could not be used */
	i = 0;
	do {
		free(msg);
		msg = NULL;
		st = ad_try(ad, s, mech, nuris ? s->uris[i] : NULL, &msg);
		if (st == BDE_EUNREACH && nuris > 1) {
			char *t = NULL;

			if (asprintf(&t, "%s%s%s", tried ? tried : "",
			    tried ? "; " : "", msg ? msg : "?") < 0) {
				st = bde_error(errstr, BDE_ENOMEM,
				    "out of memory");
				goto out;
			}
			free(tried);
			tried = t;
		}
	} while (st == BDE_EUNREACH && ++i < nuris);
	if (st != BDE_OK) {
		if (st == BDE_EUNREACH && nuris > 1)
			bde_error(errstr, st,
			    "no directory server answered: %s", tried);
		else
			bde_error(errstr, st, "%s", msg ? msg : "cannot open");
		goto out;
	}
	out->ops = &ad_ops;
	out->self = ad;
	ad = NULL;
out:
	ad_free(ad);
	free(tried);
	free(msg);
	return st;
}

/* The entry callback of ad_key_package: collects the matching objects. */
struct ad_pkgctx {
	const struct bde_keyid *id;
	size_t matches;
	unsigned char *pkg;
	size_t len;
	int withheld;
	char *device, *key_id, *dn;
};

static enum bde_status
ad_package_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct ad_pkgctx *p = arg;
	struct ad_entry v;
	char id[BDE_GUID_LEN + 1], cnid[BDE_GUID_LEN + 1];
	char *parent = NULL;
	enum bde_status st;

	st = ad_entry_read(ad, e, &v, errstr);
	if (st != BDE_OK)
		goto out;
	if (!v.has_guid || ad_guid_text(&v.guid, id) < 0) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s' has no valid " AD_ATTR_GUID,
		    ad->uri, (int)v.dn.bv_len, v.dn.bv_val);
		goto out;
	}
	if (ad_cn_guid(&v.cn, cnid) == 0 && strcmp(id, cnid) != 0) {
		st = bde_error(errstr, BDE_EPROTO,
		    "%s: recovery object '%.*s': key ID {%s} in its name "
		    "differs from " AD_ATTR_GUID " {%s}", ad->uri,
		    (int)v.dn.bv_len, v.dn.bv_val, cnid, id);
		goto out;
	}
	if (!bde_keyid_match(p->id, id))
		goto out;
	/* only the first match is kept; a second makes the ID ambiguous */
	if (p->matches++ > 0)
		goto out;
	st = ad_parent(ad, &v.dn, &parent, &p->device, errstr);
	if (st != BDE_OK)
		goto out;
	p->key_id = strdup(id);
	p->dn = strndup(v.dn.bv_val, v.dn.bv_len);
	if (p->key_id == NULL || p->dn == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	if (!v.has_package) {
		p->withheld = 1;
		goto out;
	}
	p->pkg = malloc(v.package.bv_len ? v.package.bv_len : 1);
	if (p->pkg == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	memcpy(p->pkg, v.package.bv_val, v.package.bv_len);
	p->len = v.package.bv_len;
out:
	free(parent);
	ad_entry_wipe(&v);
	return st;
}

static enum bde_status
ad_key_package(void *self, const struct bde_keyid *id,
    struct bde_package *out, char **errstr)
{
	static char *attrs[] = { "cn", AD_ATTR_GUID, AD_ATTR_PACKAGE, NULL };
	struct ad *ad = self;
	struct ad_pkgctx p;
	struct ad_search q;
	char *filter = NULL, *what = NULL;
	enum bde_status st = BDE_OK;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.id = id;
	filter = ad_keyid_filter(id);
	if (filter == NULL ||
	    asprintf(&what, "search for key ID '%s'", id->hex) < 0) {
		what = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.base = ad->base;
	q.scope = LDAP_SCOPE_SUBTREE;
	q.filter = filter;
	q.attrs = attrs;
	q.what = what;
	q.entry = ad_package_entry;
	q.arg = &p;
	st = ad_search_run(ad, &q, errstr);
	if (st != BDE_OK)
		goto out;
	if (p.matches == 0) {
		st = bde_error(errstr, BDE_ENOTFOUND,
		    "no recovery key with ID '%s%s'", id->hex,
		    id->len < 32 ? "..." : "");
		goto out;
	}
	if (p.matches > 1) {
		st = bde_error(errstr, BDE_EUSAGE,
		    "key ID '%s' matches %zu recovery keys: give more digits",
		    id->hex, p.matches);
		goto out;
	}
	if (p.withheld) {
		st = bde_error(errstr, BDE_EPERM,
		    "%s: recovery object '%s' has no key package you can "
		    "read (needs Control Access, or none was escrowed)",
		    ad->uri, p.dn);
		goto out;
	}
	out->data = p.pkg;
	out->len = p.len;
	out->device = p.device;
	out->key_id = p.key_id;
	p.pkg = NULL;
	p.device = NULL;
	p.key_id = NULL;
out:
	if (p.pkg != NULL) {
		explicit_bzero(p.pkg, p.len);
		free(p.pkg);
	}
	free(p.device);
	free(p.key_id);
	free(p.dn);
	free(filter);
	free(what);
	return st;
}
