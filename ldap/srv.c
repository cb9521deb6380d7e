/*
 * srv.c - DNS answers for domain controller discovery, decoded and put in
 * order.  Pure: bytes in, checked records out; no network (discover.c
 * asks the questions).
 *
 * Every answer is hostile input: it comes over UDP from whatever server
 * the resolver configuration names.  libresolv's ns_initparse/ns_parserr
 * check each record against the message's end; on top of that a record
 * counts only when its owner is the name asked, its class IN and its
 * data the right size, and a target becomes part of an LDAP URI only when
 * it is a plain host name (letters, digits, '-' and '_', dot-separated
 * labels): a name carrying '/', '?', '%' or an escape is dropped, never
 * quoted.
 */
#include "ldap/ad_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 1035 2.3.4: 63 octets a label, 255 a name (253 in text) */
#define AD_LABEL_MAX 63

int
ad_dns_hostname_ok(const char *name)
{
	size_t len = strlen(name), label = 0, i;
	unsigned char c;

	if (len == 0 || len > AD_HOST_MAX || name[0] == '.' ||
	    name[len - 1] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > AD_LABEL_MAX)
			return 0;
	}
	return 1;
}

/* Whether two names in presentation form are one (ASCII case, a final
   dot ignored). */
static int
ad_dns_same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* Parse msg into h: 0, or -1 when it is no DNS message at all. */
static int
ad_dns_init(const unsigned char *msg, size_t len, ns_msg *h)
{
	/* a UDP answer is at most 64 KiB; ns_initparse takes an int */
	if (msg == NULL || len < NS_HFIXEDSZ || len > 65535)
		return -1;
	return ns_initparse(msg, (int)len, h) < 0 ? -1 : 0;
}

enum bde_status
ad_srv_parse(const unsigned char *msg, size_t len, const char *qname,
    struct ad_srv **out, size_t *n, size_t *skipped, char **errstr)
{
	struct ad_srv *v = NULL;
	const unsigned char *rd;
	char target[NS_MAXDNAME];
	ns_msg h;
	ns_rr rr;
	enum bde_status st = BDE_OK;
	int i, count, r;
	size_t k, j;

	*out = NULL;
	*n = 0;
	*skipped = 0;
	if (ad_dns_init(msg, len, &h) < 0) {
		st = bde_error(errstr, BDE_EPROTO, "%s: the DNS answer cannot "
		    "be decoded", qname);
		goto out;
	}
	v = calloc(AD_SRV_MAX, sizeof(*v));
	if (v == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	count = ns_msg_count(h, ns_s_an);
	for (i = 0; i < count; i++) {
		/* a record that does not decode ends the section */
		if (ns_parserr(&h, ns_s_an, i, &rr) < 0) {
			*skipped += (size_t)(count - i);
			break;
		}
		/* CNAMEs and records of other names are not SRV answers */
		if (ns_rr_type(rr) != ns_t_srv || ns_rr_class(rr) != ns_c_in ||
		    !ad_dns_same(ns_rr_name(rr), qname))
			continue;
		rd = ns_rr_rdata(rr);
		/* priority, weight, port (RFC 2782), then at least "." */
		if (ns_rr_rdlen(rr) < 7) {
			(*skipped)++;
			continue;
		}
		r = dn_expand(ns_msg_base(h), ns_msg_end(h), rd + 6, target,
		    sizeof(target));
		if (r < 0 || (size_t)r != (size_t)ns_rr_rdlen(rr) - 6) {
			(*skipped)++;
			continue;
		}
		/* RFC 2782: "." says the service is not offered here */
		if (strcmp(target, ".") == 0 || target[0] == '\0')
			continue;
		if (!ad_dns_hostname_ok(target) || ns_get16(rd + 4) == 0 ||
		    *n == AD_SRV_MAX) {
			(*skipped)++;
			continue;
		}
		/* one server once, whatever its records say */
		for (k = 0; k < *n; k++)
			if (v[k].port == ns_get16(rd + 4) &&
			    strcasecmp(v[k].target, target) == 0)
				break;
		if (k < *n)
			continue;
		v[*n].prio = ns_get16(rd);
		v[*n].weight = ns_get16(rd + 2);
		v[*n].port = ns_get16(rd + 4);
		/* lower case: one spelling in URIs and messages */
		for (j = 0; target[j] != '\0'; j++)
			v[*n].target[j] = (char)(target[j] >= 'A' &&
			    target[j] <= 'Z' ? target[j] + 32 : target[j]);
		v[*n].target[j] = '\0';
		(*n)++;
	}
	*out = v;
	v = NULL;
out:
	free(v);
	return st;
}

/*
 * The section's A/AAAA records of name (or of a name it is a CNAME of,
 * followed at most AD_CNAME_HOPS times) appended to out as text.
 */
#define AD_CNAME_HOPS 8

static void
ad_dns_section_addrs(ns_msg *h, ns_sect sect, const char *name,
    char out[][AD_ADDR_MAX], size_t max, size_t *n)
{
	char cur[NS_MAXDNAME], alias[NS_MAXDNAME], text[AD_ADDR_MAX];
	const unsigned char *rd;
	ns_rr rr;
	int i, count = ns_msg_count(*h, sect), hops, r, af;
	size_t k;

	if (strlen(name) >= sizeof(cur))
		return;
	strcpy(cur, name);
	for (hops = 0; hops <= AD_CNAME_HOPS; hops++) {
		int followed = 0;

		for (i = 0; i < count; i++) {
			if (ns_parserr(h, sect, i, &rr) < 0)
				break;
			if (ns_rr_class(rr) != ns_c_in ||
			    !ad_dns_same(ns_rr_name(rr), cur))
				continue;
			rd = ns_rr_rdata(rr);
			if (ns_rr_type(rr) == ns_t_cname && !followed) {
				r = dn_expand(ns_msg_base(*h), ns_msg_end(*h),
				    rd, alias, sizeof(alias));
				if (r < 0 || (size_t)r != ns_rr_rdlen(rr))
					continue;
				followed = 1;
				continue;
			}
			if (ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4)
				af = AF_INET;
			else if (ns_rr_type(rr) == ns_t_aaaa &&
			    ns_rr_rdlen(rr) == 16)
				af = AF_INET6;
			else
				continue;
			if (inet_ntop(af, rd, text, sizeof(text)) == NULL)
				continue;
			for (k = 0; k < *n; k++)
				if (strcmp(out[k], text) == 0)
					break;
			if (k == *n && *n < max)
				memcpy(out[(*n)++], text, sizeof(text));
		}
		if (!followed)
			break;
		strcpy(cur, alias);
	}
}

int
ad_dns_addrs(const unsigned char *msg, size_t len, const char *name,
    char out[][AD_ADDR_MAX], size_t max, size_t *n)
{
	ns_msg h;

	*n = 0;
	if (ad_dns_init(msg, len, &h) < 0)
		return -1;
	ad_dns_section_addrs(&h, ns_s_an, name, out, max, n);
	/* glue: the SRV answer's additional section names the targets */
	ad_dns_section_addrs(&h, ns_s_ar, name, out, max, n);
	return 0;
}

/* qsort order: priority, lowest first */
static int
ad_srv_prio_cmp(const void *a, const void *b)
{
	const struct ad_srv *x = a, *y = b;

	return (x->prio > y->prio) - (x->prio < y->prio);
}

void
ad_srv_order(struct ad_srv *v, size_t n,
    unsigned long (*rnd)(void *arg, unsigned long bound), void *arg)
{
	struct ad_srv t;
	unsigned long sum, pick, run;
	size_t start, end, i, j, z;

	/* by priority; within one, the order is drawn below */
	qsort(v, n, sizeof(*v), ad_srv_prio_cmp);
	for (start = 0; start < n; start = end) {
		for (end = start + 1; end < n && v[end].prio == v[start].prio;
		    end++)
			;
		/*
		 * RFC 2782: weight-0 records first in the list, then pick
		 * each next one with probability weight / sum of those left
		 * (a random number in [0, sum], the first whose running sum
		 * reaches it).
		 */
		for (i = start, z = start; i < end; i++)
			if (v[i].weight == 0) {
				t = v[z];
				v[z] = v[i];
				v[i] = t;
				z++;
			}
		for (i = start; i + 1 < end; i++) {
			sum = 0;
			for (j = i; j < end; j++)
				sum += v[j].weight;
			pick = rnd(arg, sum);
			if (pick > sum)
				pick = sum;
			run = 0;
			for (j = i; j < end; j++) {
				run += v[j].weight;
				if (run >= pick)
					break;
			}
			if (j == end)
				j = end - 1;
			/* shift, not swap: the weight-0 ones stay in front */
			t = v[j];
			memmove(&v[i + 1], &v[i], (j - i) * sizeof(*v));
			v[i] = t;
		}
	}
}

unsigned long
ad_srv_random(void *arg, unsigned long bound)
{
	(void)arg;
	/* 0..bound inclusive; weights are 16-bit, their sum fits */
	if (bound >= 0xffffffffUL)
		return arc4random();
	return arc4random_uniform((uint32_t)bound + 1);
}
