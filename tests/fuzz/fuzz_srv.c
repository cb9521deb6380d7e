/*
 * fuzz_srv.c - libFuzzer target for the DNS answers DC discovery reads
 * (ldap/srv.c): any bytes, as a DNS server on the path could send them.
 *
 * Properties: every SRV record kept names a plain host name (the only
 * text that goes into an LDAP URI) and a port, at most AD_SRV_MAX of
 * them, no server twice; RFC 2782 order (driven by bytes of the input)
 * leaves priorities ascending and loses no record; every address read
 * for a target, from the answer or the glue, is a valid IPv4 or IPv6
 * address in text.
 *
 * The name asked is the first question's when the message has one, so
 * the records can match it; else a fixed name.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ldap/ad_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Random numbers for the order, taken from the input's bytes. */
struct bytes {
	const uint8_t *p;
	size_t n, i;
};

static unsigned long
from_input(void *arg, unsigned long bound)
{
	struct bytes *b = arg;
	unsigned long v = 0;
	int k;

	for (k = 0; k < 3; k++)
		v = v << 8 | (b->n ? b->p[b->i++ % b->n] : 0);
	/* out of range now and then: the order must cope */
	return (v & 0x800000) ? v : v % (bound + 1);
}

/*
 * The oracle, independent of the code under test: a target may hold
 * only what a host name in a URI can (letters, digits, '-', '_', '.').
 */
static int
uri_safe(const char *t)
{
	size_t n = strlen(t), i;

	if (n == 0 || n > AD_HOST_MAX || t[0] == '.' || t[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", t[i]) == NULL ||
		    (t[i] == '.' && t[i + 1] == '.'))
			return 0;
	return 1;
}

static void
check_addrs(const uint8_t *data, size_t size, const char *name)
{
	char out[8][AD_ADDR_MAX];
	unsigned char bin[16];
	size_t n, i;

	if (ad_dns_addrs(data, size, name, out, 8, &n) < 0) {
		if (n != 0)
			abort();
		return;
	}
	if (n > 8)
		abort();
	for (i = 0; i < n; i++)
		if (memchr(out[i], '\0', AD_ADDR_MAX) == NULL ||
		    (inet_pton(AF_INET, out[i], bin) != 1 &&
		    inet_pton(AF_INET6, out[i], bin) != 1))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *qname = "_ldap._tcp.dc._msdcs.bdekey.test";
	struct ad_srv *v = NULL, *copy = NULL;
	struct bytes b = { .p = data, .n = size, .i = 0 };
	char *err = NULL, asked[NS_MAXDNAME];
	size_t n = 0, skipped = 0, i, j;
	unsigned long sum_before = 0, sum_after = 0;
	ns_msg h;
	ns_rr rr;

	if (size <= 65535 && ns_initparse(data, (int)size, &h) == 0 &&
	    ns_msg_count(h, ns_s_qd) > 0 &&
	    ns_parserr(&h, ns_s_qd, 0, &rr) == 0 &&
	    strlen(ns_rr_name(rr)) < sizeof(asked)) {
		strcpy(asked, ns_rr_name(rr));
		qname = asked;
	}
	if (ad_srv_parse(data, size, qname, &v, &n, &skipped, &err) !=
	    BDE_OK) {
		if (v != NULL || n != 0 || err == NULL)
			abort();
		free(err);
		check_addrs(data, size, qname);
		return 0;
	}
	if (n > AD_SRV_MAX || v == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (!uri_safe(v[i].target) || v[i].port == 0 ||
		    v[i].port > 65535 || v[i].prio > 65535 ||
		    v[i].weight > 65535)
			abort();
		for (j = 0; j < i; j++)
			if (v[j].port == v[i].port &&
			    strcasecmp(v[j].target, v[i].target) == 0)
				abort();
		sum_before += v[i].weight + v[i].port;
		check_addrs(data, size, v[i].target);
	}
	copy = malloc((n ? n : 1) * sizeof(*copy));
	if (copy == NULL)
		abort();
	memcpy(copy, v, n * sizeof(*v));
	ad_srv_order(v, n, from_input, &b);
	for (i = 0; i < n; i++) {
		if (i > 0 && v[i].prio < v[i - 1].prio)
			abort();
		sum_after += v[i].weight + v[i].port;
		/* each record is still one of those read */
		for (j = 0; j < n; j++)
			if (memcmp(&copy[j], &v[i], sizeof(v[i])) == 0)
				break;
		if (j == n)
			abort();
	}
	if (sum_before != sum_after)
		abort();
	free(copy);
	free(v);
	return 0;
}
