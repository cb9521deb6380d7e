/*
 * test_ad_srv.c - DNS answers for DC discovery (ldap/srv.c): SRV records
 * checked and kept, hostile ones dropped, RFC 2782 order with the random
 * numbers injected, address records and glue; and the domain of a DN
 * (ldap/discover.c).  Messages are built here byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ldap/ad_int.h"

#define QNAME "_ldap._tcp.dc._msdcs.bdekey.test"

/* A DNS message under construction. */
struct msg {
	unsigned char b[8192];
	size_t n;
	unsigned an, ar;	/* records in the answer, additional sections */
};

static void
put8(struct msg *m, unsigned v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (unsigned char)v;
}

static void
put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 0xff);
}

/* A name in wire form, labels from dotted text ("" is the root). */
static void
putname(struct msg *m, const char *name)
{
	const char *p = name, *dot;
	size_t len;

	while (*p != '\0') {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		put8(m, (unsigned)len);
		memcpy(m->b + m->n, p, len);
		m->n += len;
		p += len;
		if (*p == '.')
			p++;
	}
	put8(m, 0);
}

/* Header and the question; counts are patched by done(). */
static void
start(struct msg *m, const char *qname, unsigned qtype)
{
	memset(m, 0, sizeof(*m));
	put16(m, 0x1234);	/* id */
	put16(m, 0x8580);	/* response, AA, RD, RA, NOERROR */
	put16(m, 1);
	put16(m, 0);
	put16(m, 0);
	put16(m, 0);
	putname(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

static void
done(struct msg *m)
{
	m->b[6] = (unsigned char)(m->an >> 8);
	m->b[7] = (unsigned char)m->an;
	m->b[10] = (unsigned char)(m->ar >> 8);
	m->b[11] = (unsigned char)m->ar;
}

/* A record's owner, type, class, TTL; the caller writes rdlength+data. */
static void
rr(struct msg *m, const char *owner, unsigned type)
{
	putname(m, owner);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 600);
}

static void
srv(struct msg *m, const char *owner, unsigned prio, unsigned weight,
    unsigned port, const char *target)
{
	size_t at;

	rr(m, owner, 33);
	at = m->n;
	put16(m, 0);
	put16(m, prio);
	put16(m, weight);
	put16(m, port);
	putname(m, target);
	m->b[at] = (unsigned char)((m->n - at - 2) >> 8);
	m->b[at + 1] = (unsigned char)(m->n - at - 2);
	m->an++;
}

static void
a(struct msg *m, const char *owner, const unsigned char ip[4], int additional)
{
	rr(m, owner, 1);
	put16(m, 4);
	memcpy(m->b + m->n, ip, 4);
	m->n += 4;
	if (additional)
		m->ar++;
	else
		m->an++;
}

static struct ad_srv *
parse(struct msg *m, size_t *n, size_t *skipped)
{
	struct ad_srv *v = NULL;
	char *err = NULL;

	done(m);
	assert_int_equal(ad_srv_parse(m->b, m->n, QNAME, &v, n, skipped,
	    &err), BDE_OK);
	assert_null(err);
	assert_non_null(v);
	return v;
}

static void
test_srv_basic(void **state)
{
	struct msg m;
	struct ad_srv *v;
	size_t n, skipped;

	(void)state;
	start(&m, QNAME, 33);
	srv(&m, QNAME, 0, 100, 389, "dc1.bdekey.test");
	srv(&m, QNAME, 10, 50, 3268, "DC2.BDEKEY.TEST");
	v = parse(&m, &n, &skipped);
	assert_int_equal(n, 2);
	assert_int_equal(skipped, 0);
	assert_string_equal(v[0].target, "dc1.bdekey.test");
	assert_int_equal(v[0].prio, 0);
	assert_int_equal(v[0].weight, 100);
	assert_int_equal(v[0].port, 389);
	/* one spelling: lower case */
	assert_string_equal(v[1].target, "dc2.bdekey.test");
	assert_int_equal(v[1].port, 3268);
	free(v);
}

/* What is not a usable SRV record of the name asked is not kept. */
static void
test_srv_hostile(void **state)
{
	struct msg m;
	struct ad_srv *v;
	size_t n, skipped;

	(void)state;
	start(&m, QNAME, 33);
	/* RFC 2782: "." says the service is not offered: left out */
	srv(&m, QNAME, 0, 0, 389, "");
	/* a target that would change the URI: dropped */
	srv(&m, QNAME, 0, 0, 389, "evil.test/??sub");
	srv(&m, QNAME, 0, 0, 389, "evil%2ftest");
	srv(&m, QNAME, 0, 0, 389, "a b.test");
	/* port 0 */
	srv(&m, QNAME, 0, 0, 0, "dc9.bdekey.test");
	/* another name's record, even an SRV one: not an answer */
	srv(&m, "_ldap._tcp.evil.test", 0, 0, 389, "evil.test");
	/* the same server twice counts once */
	srv(&m, QNAME, 5, 1, 389, "dc1.bdekey.test");
	srv(&m, QNAME, 0, 9, 389, "DC1.bdekey.test");
	v = parse(&m, &n, &skipped);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].target, "dc1.bdekey.test");
	assert_int_equal(v[0].prio, 5);
	assert_int_equal(skipped, 4);
	free(v);
}

/* rdata shorter than an SRV record, or a name running past it. */
static void
test_srv_short_rdata(void **state)
{
	struct msg m;
	struct ad_srv *v;
	size_t n, skipped;

	(void)state;
	start(&m, QNAME, 33);
	rr(&m, QNAME, 33);
	put16(&m, 6);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 389);
	m.an++;
	/* rdlength 8 but the target's name is longer: its end is elsewhere */
	rr(&m, QNAME, 33);
	put16(&m, 8);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 389);
	put8(&m, 1);
	put8(&m, 'x');
	m.an++;
	srv(&m, QNAME, 1, 1, 389, "dc1.bdekey.test");
	v = parse(&m, &n, &skipped);
	/* both broken ones counted; the section goes on by rdlength */
	assert_int_equal(n, 1);
	assert_int_equal(skipped, 2);
	assert_string_equal(v[0].target, "dc1.bdekey.test");
	free(v);
}

/* A compression pointer to itself: decoding stops, nothing loops. */
static void
test_srv_pointer_loop(void **state)
{
	struct msg m;
	struct ad_srv *v;
	size_t n, skipped, at;

	(void)state;
	start(&m, QNAME, 33);
	rr(&m, QNAME, 33);
	put16(&m, 8);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 389);
	at = m.n;
	put16(&m, 0xc000 | (unsigned)at);
	m.an++;
	v = parse(&m, &n, &skipped);
	assert_int_equal(n, 0);
	assert_int_equal(skipped, 1);
	free(v);
}

/* Not a DNS message at all. */
static void
test_srv_garbage(void **state)
{
	static const unsigned char junk[] = { 1, 2, 3 };
	struct ad_srv *v = NULL;
	char *err = NULL;
	size_t n, skipped;
	struct msg m;

	(void)state;
	assert_int_equal(ad_srv_parse(junk, sizeof(junk), QNAME, &v, &n,
	    &skipped, &err), BDE_EPROTO);
	assert_non_null(err);
	assert_null(v);
	free(err);
	err = NULL;
	/* a header that claims records the message does not have */
	start(&m, QNAME, 33);
	m.an = 5;
	done(&m);
	assert_int_equal(ad_srv_parse(m.b, m.n, QNAME, &v, &n, &skipped,
	    &err), BDE_EPROTO);
	free(err);
}

/* At most AD_SRV_MAX records kept; the rest counted. */
static void
test_srv_many(void **state)
{
	struct msg m;
	struct ad_srv *v;
	char host[64];
	size_t n, skipped;
	unsigned i;

	(void)state;
	start(&m, QNAME, 33);
	for (i = 0; i < AD_SRV_MAX + 6; i++) {
		snprintf(host, sizeof(host), "dc%u.bdekey.test", i);
		srv(&m, QNAME, i % 3, 1, 389, host);
	}
	v = parse(&m, &n, &skipped);
	assert_int_equal(n, AD_SRV_MAX);
	assert_int_equal(skipped, 6);
	free(v);
}

/* A scripted "random" source: returns its values in turn. */
struct script {
	unsigned long v[8];
	size_t i;
	unsigned long bounds[8];
};

static unsigned long
scripted(void *arg, unsigned long bound)
{
	struct script *s = arg;

	s->bounds[s->i] = bound;
	return s->v[s->i++];
}

static void
fill(struct ad_srv *v, const char *name, unsigned prio, unsigned weight)
{
	snprintf(v->target, sizeof(v->target), "%s", name);
	v->prio = prio;
	v->weight = weight;
	v->port = 389;
}

static void
test_order(void **state)
{
	struct ad_srv v[4];
	struct script s = { .v = { 0 }, .i = 0 };

	(void)state;
	/* priority first: 10 after 0 whatever the weights */
	fill(&v[0], "late", 10, 1000);
	fill(&v[1], "a", 0, 10);
	fill(&v[2], "b", 0, 0);
	fill(&v[3], "c", 0, 90);
	/*
	 * Priority 0 holds a (10), b (0), c (90); b goes to the front
	 * (weight 0 first, RFC 2782).  First pick: sum 100, number 50:
	 * running sums b 0, a 10, c 100: c.  Second: sum 10, number 0: b
	 * (running sum 0 reaches 0).  Last: a.
	 */
	s.v[0] = 50;
	s.v[1] = 0;
	ad_srv_order(v, 4, scripted, &s);
	assert_int_equal(s.i, 2);
	assert_int_equal(s.bounds[0], 100);
	assert_int_equal(s.bounds[1], 10);
	assert_string_equal(v[0].target, "c");
	assert_string_equal(v[1].target, "b");
	assert_string_equal(v[2].target, "a");
	assert_string_equal(v[3].target, "late");

	/* the top of the range picks the last by running sum */
	fill(&v[0], "x", 1, 30);
	fill(&v[1], "y", 1, 70);
	s.i = 0;
	s.v[0] = 100;
	ad_srv_order(v, 2, scripted, &s);
	assert_string_equal(v[0].target, "y");
	assert_string_equal(v[1].target, "x");
	/* 30 reaches x */
	fill(&v[0], "x", 1, 30);
	fill(&v[1], "y", 1, 70);
	s.i = 0;
	s.v[0] = 30;
	ad_srv_order(v, 2, scripted, &s);
	assert_string_equal(v[0].target, "x");
	/* a source out of range cannot pick past the end */
	s.i = 0;
	s.v[0] = 5000;
	ad_srv_order(v, 2, scripted, &s);
	assert_string_equal(v[0].target, "y");
}

/* With the real source, the lower priority is always first. */
static void
test_order_random(void **state)
{
	struct ad_srv v[3];
	int i, first_a = 0;

	(void)state;
	for (i = 0; i < 200; i++) {
		fill(&v[0], "dead", 20, 0);
		fill(&v[1], "a", 5, 90);
		fill(&v[2], "b", 5, 10);
		ad_srv_order(v, 3, ad_srv_random, NULL);
		assert_string_equal(v[2].target, "dead");
		first_a += strcmp(v[0].target, "a") == 0;
	}
	/* 90:10 weights: a first far more often (p < 1e-30 otherwise) */
	assert_true(first_a > 120);
}

static void
test_addrs(void **state)
{
	static const unsigned char ip1[4] = { 127, 0, 0, 69 };
	static const unsigned char ip2[4] = { 10, 1, 2, 3 };
	char out[4][AD_ADDR_MAX];
	struct msg m;
	size_t n;

	(void)state;
	/* glue in the additional section of an SRV answer */
	start(&m, QNAME, 33);
	srv(&m, QNAME, 0, 100, 389, "dc1.bdekey.test");
	a(&m, "dc1.bdekey.test", ip1, 1);
	a(&m, "other.test", ip2, 1);
	done(&m);
	assert_int_equal(ad_dns_addrs(m.b, m.n, "dc1.bdekey.test", out, 4,
	    &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "127.0.0.69");

	/* an A answer through a CNAME */
	start(&m, "dc2.bdekey.test", 1);
	rr(&m, "dc2.bdekey.test", 5);
	{
		size_t at = m.n;

		put16(&m, 0);
		putname(&m, "real.bdekey.test");
		m.b[at + 1] = (unsigned char)(m.n - at - 2);
		m.an++;
	}
	a(&m, "real.bdekey.test", ip2, 0);
	/* a wrong-size A record is no address */
	rr(&m, "real.bdekey.test", 1);
	put16(&m, 3);
	put8(&m, 1);
	put8(&m, 2);
	put8(&m, 3);
	m.an++;
	done(&m);
	assert_int_equal(ad_dns_addrs(m.b, m.n, "dc2.bdekey.test", out, 4, &n),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(out[0], "10.1.2.3");
	/* at most max */
	assert_int_equal(ad_dns_addrs(m.b, m.n, "dc2.bdekey.test", out, 0, &n),
	    0);
	assert_int_equal(n, 0);
	assert_int_equal(ad_dns_addrs(m.b, 2, "x", out, 4, &n), -1);
}

static void
test_hostname_ok(void **state)
{
	char name[300];
	size_t i;

	(void)state;
	assert_true(ad_dns_hostname_ok("dc1.bdekey.test"));
	assert_true(ad_dns_hostname_ok("localhost"));
	assert_true(ad_dns_hostname_ok("_gc._tcp.x"));
	assert_false(ad_dns_hostname_ok(""));
	assert_false(ad_dns_hostname_ok("."));
	assert_false(ad_dns_hostname_ok("a..b"));
	assert_false(ad_dns_hostname_ok("a.b."));
	assert_false(ad_dns_hostname_ok(".a"));
	assert_false(ad_dns_hostname_ok("a\\.b"));
	assert_false(ad_dns_hostname_ok("a:389"));
	assert_false(ad_dns_hostname_ok("a/b"));
	assert_false(ad_dns_hostname_ok("\xc3\xa9.test"));
	/* 63 characters a label, 253 in all */
	memset(name, 'a', 63);
	name[63] = '\0';
	assert_true(ad_dns_hostname_ok(name));
	memset(name, 'a', 64);
	name[64] = '\0';
	assert_false(ad_dns_hostname_ok(name));
	memset(name, 'a', 253);
	name[253] = '\0';
	for (i = 50; i < 253; i += 51)
		name[i] = '.';
	assert_true(ad_dns_hostname_ok(name));
	name[253] = 'a';
	name[254] = '\0';
	assert_false(ad_dns_hostname_ok(name));
}

static void
expect_domain(const char *dn, enum bde_status want, const char *domain)
{
	char *got = NULL;

	assert_int_equal(ad_dn_domain(dn, strlen(dn), &got), want);
	if (domain == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, domain);
	free(got);
}

static void
test_dn_domain(void **state)
{
	(void)state;
	expect_domain("CN=2024{X},CN=PC-EMEA,OU=Workstations,DC=emea,"
	    "DC=bdekey,DC=test", BDE_OK, "emea.bdekey.test");
	expect_domain("dc=Bdekey, dc=TEST", BDE_OK, "bdekey.test");
	/* escaped text that is no host name */
	expect_domain("CN=x,DC=evil\\,DC=com,DC=test", BDE_EPROTO, NULL);
	expect_domain("CN=x,DC=ev/il,DC=test", BDE_EPROTO, NULL);
	expect_domain("CN=x,OU=y", BDE_EPROTO, NULL);
	expect_domain("not a dn", BDE_EPROTO, NULL);
	/* a multi-valued RDN is not a DC= component */
	expect_domain("CN=x,DC=a+CN=b,DC=test", BDE_OK, "test");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_srv_basic),
		cmocka_unit_test(test_srv_hostile),
		cmocka_unit_test(test_srv_short_rdata),
		cmocka_unit_test(test_srv_pointer_loop),
		cmocka_unit_test(test_srv_garbage),
		cmocka_unit_test(test_srv_many),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_order_random),
		cmocka_unit_test(test_addrs),
		cmocka_unit_test(test_hostname_ok),
		cmocka_unit_test(test_dn_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
