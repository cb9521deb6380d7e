/*
 * dial.c - the transport under a bind: a handle's options (timeouts,
 * certificate verification), TCP to a discovered server's addresses
 * (for a name only --dns-server knows), TLS (ldaps:// or StartTLS), and
 * whether the peer is a Global Catalog port.  Every wait is bounded by
 * the phase's deadline (ad_io_phase).
 */
#include "ldap/ad_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openldap.h>

#include "core/clock.h"

/*
 * Options common to every handle.  Timeouts: the network timeout bounds
 * connect, LDAP_OPT_TIMEOUT every synchronous call (ldap_result without a
 * timeout uses it), and the connect callback the TLS handshake and reads.
 */
enum bde_status
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
 * TCP to dc's address i before the current phase ends: 0 with *fd the
 * connected (blocking) socket, or an errno value.
 */
static int
ad_dial_one(struct ad *ad, const struct ad_dc *dc, size_t i, int *fd)
{
	struct sockaddr_storage ss;
	struct pollfd p;
	socklen_t len, elen;
	long long left;
	int s = -1, err = 0, r, flags, one = 1;

	*fd = -1;
	if (ad_dc_sockaddr(dc, i, &ss, &len) < 0)
		return EINVAL;
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (s < 0)
		return errno;
	r = connect(s, (struct sockaddr *)&ss, len);
	if (r < 0 && errno != EINPROGRESS) {
		err = errno;
		goto out;
	}
	while (r < 0) {
		left = ad->deadline_ms - bde_now_ms();
		if (left <= 0) {
			ad->timed_out = 1;
			err = ETIMEDOUT;
			goto out;
		}
		p.fd = s;
		p.events = POLLOUT;
		p.revents = 0;
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno != EINTR) {
			err = errno;
			goto out;
		}
		if (r <= 0) {
			r = -1;
			continue;
		}
		elen = sizeof(err);
		if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0)
			goto out;
	}
	/*
	 * As libldap sets its own sockets (os-ip.c): blocking, and no Nagle
	 * delay (a request held back for a delayed ACK costs 40 ms a round)
	 */
	flags = fcntl(s, F_GETFL);
	if (flags < 0 || fcntl(s, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		err = errno;
		goto out;
	}
	*fd = s;
	s = -1;
out:
	if (s >= 0)
		close(s);
	return err;
}

/*
 * TCP to the first of dc's addresses that answers, before the current
 * phase ends: what libldap does for a URI, for a name the system
 * resolver does not know.  *fd is the connected (blocking) socket.
 */
static enum bde_status
ad_dial(struct ad *ad, const struct ad_dc *dc, int *fd, char **errstr)
{
	size_t i;
	int err = EINVAL;

	for (i = 0; i < dc->naddr; i++) {
		err = ad_dial_one(ad, dc, i, fd);
		if (err == 0)
			return BDE_OK;
		if (err == ETIMEDOUT)
			break;
	}
	if (err == ETIMEDOUT)
		return bde_error(errstr, BDE_EUNREACH, "%s: cannot connect to "
		    "%s: timed out after %d s", ad->uri, dc->addr[i],
		    ad->timeout);
	return bde_error(errstr, BDE_EUNREACH, "%s: cannot connect to %s%s: "
	    "%s", ad->uri, dc->naddr ? dc->addr[0] : "?", dc->naddr > 1 ?
	    " (and its other addresses)" : "", strerror(err));
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
enum bde_status
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

/*
 * Whether the connection went to a Global Catalog's port (3268, 3269):
 * a configured URI may name one; it holds no secret to read.
 */
int
ad_peer_gc_port(struct ad *ad)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	unsigned port = 0;
	int fd = -1;

	if (ldap_get_option(ad->ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS ||
	    fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return port == AD_PORT_GC || port == AD_PORT_GC_TLS;
}

