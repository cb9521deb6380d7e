/*
 * io.c - the connection's I/O layer: bounds every wait on the socket.
 *
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
#include "ldap/ad_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "core/clock.h"

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
		/* each wait gets the whole timeout (not a phase deadline) */
		deadline = bde_now_ms() + (long long)ad->timeout * 1000;
		while ((left = deadline - bde_now_ms()) > 0) {
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

/* no sbi_remove, and no sbi_close: the TCP layer below closes */
static Sockbuf_IO ad_io = {
	.sbi_setup = ad_io_setup,
	.sbi_ctrl = ad_io_ctrl,
	.sbi_read = ad_io_read,
	.sbi_write = ad_io_write,
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

void
ad_io_conncb(struct ad *ad)
{
	ad->conncb.lc_add = ad_conn_add;
	ad->conncb.lc_del = ad_conn_del;
	ad->conncb.lc_arg = ad;
}
