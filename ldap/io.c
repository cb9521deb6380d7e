/*
 * io.c - the connection's I/O layer: bounds every wait on the socket.
 *
 * libldap's network timeout bounds the TCP connect only.  After it,
 * libldap 2.5 puts the socket in non-blocking mode for the TLS handshake
 * and retries the handshake in a loop without polling while the peer is
 * silent (tls2.c ldap_int_tls_start: a spinning CPU, forever); and a peer
 * that trickles a byte just inside every timeout keeps any per-read
 * timeout from ever firing (a handshake at one byte every 1.5 s held
 * `--timeout 2` for 45 s: issue 9 case 15).  This layer sits between TCP
 * and TLS and bounds each phase as a whole: before any read or write it
 * waits for the socket at most until ad->deadline_ms (the end of the
 * current phase: connect, StartTLS, bind, one page of a search; set by
 * ad_io_phase), else ad->timeout; past it the read or write fails with
 * ETIMEDOUT, which ends every retry loop above it.
 */
#include "ldap/ad_int.h"

#include <errno.h>
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

/*
 * Wait until the socket is ready for events, at most until the phase's
 * deadline: 0, or -1 with errno set (ETIMEDOUT, ad->timed_out set).
 */
static int
ad_io_wait(Sockbuf_IO_Desc *sbiod, short events)
{
	struct ad *ad = sbiod->sbiod_pvt;
	struct pollfd p;
	ber_socket_t fd = -1;
	long long deadline, left;
	int r;

	ber_sockbuf_ctrl(sbiod->sbiod_sb, LBER_SB_OPT_GET_FD, &fd);
	deadline = ad->deadline_ms > 0 ? ad->deadline_ms :
	    bde_now_ms() + (long long)ad->timeout * 1000;
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
	ad->timed_out = 1;
	errno = ETIMEDOUT;
	return -1;
}

static ber_slen_t
ad_io_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	ber_slen_t r;

	/* wait first: a blocking read could outlast the deadline */
	for (;;) {
		if (ad_io_wait(sbiod, POLLIN) < 0)
			return -1;
		r = LBER_SBIOD_READ_NEXT(sbiod, buf, len);
		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			return r;
	}
}

static ber_slen_t
ad_io_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
	ber_slen_t r;

	for (;;) {
		if (ad_io_wait(sbiod, POLLOUT) < 0)
			return -1;
		r = LBER_SBIOD_WRITE_NEXT(sbiod, buf, len);
		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			return r;
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
 * Bound blocking reads and writes, and push the layer above under
 * TLS/SASL (libldap adds its TCP layer at LBER_SBIOD_LEVEL_PROVIDER;
 * layers are kept in level order whichever comes first).
 */
int
ad_io_attach(struct ad *ad, Sockbuf *sb)
{
	struct timeval tv;
	ber_socket_t fd = -1;

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

/* Called by libldap right after each TCP connect, before TLS. */
static int
ad_conn_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
    struct ldap_conncb *ctx)
{
	(void)ld;
	(void)srv;
	(void)addr;
	return ad_io_attach(ctx->lc_arg, sb);
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

void
ad_io_phase(struct ad *ad, long long limit_ms)
{
	long long end = bde_now_ms() + (long long)ad->timeout * 1000;

	ad->timed_out = 0;
	ad->deadline_ms = limit_ms > 0 && limit_ms < end ? limit_ms : end;
}

struct timeval
ad_io_left(const struct ad *ad)
{
	struct timeval tv;
	long long left = ad->deadline_ms - bde_now_ms();

	/* libldap takes a zero timeval as "poll": at least 1 ms */
	if (ad->deadline_ms <= 0)
		left = (long long)ad->timeout * 1000;
	if (left < 1)
		left = 1;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	return tv;
}

void
ad_unbind(struct ad *ad)
{
	if (ad->ld == NULL)
		return;
	/* the unbind request is a courtesy: a second at most */
	ad_io_phase(ad, bde_now_ms() + AD_UNBIND_MS);
	ldap_unbind_ext_s(ad->ld, NULL, NULL);
	ad->ld = NULL;
}
