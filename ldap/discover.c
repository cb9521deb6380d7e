/*
 * discover.c - finding domain controllers when no URI is configured, the
 * way Windows's DC locator does: the domain (the setting, else the
 * Kerberos realm, else ldap.conf's BASE), then DNS SRV records
 * (_ldap._tcp.<site>._sites.dc._msdcs.<domain> for a known site, else
 * _ldap._tcp.dc._msdcs.<domain>; _gc._tcp.<forest root> for a Global
 * Catalog) in RFC 2782 order.  The CLDAP "netlogon ping" Windows uses to
 * learn its site is not done: the site is a setting.
 *
 * DNS goes through libresolv: the system's resolv.conf, or the one server
 * --dns-server names (the res_state's nsaddr_list).  Every query is
 * bounded by what is left of the discovery's deadline (one --timeout in
 * all), asked over UDP with EDNS0 and never retried over TCP (glibc's TCP
 * fallback has no timeout of its own; a truncated answer is used as far
 * as it goes).  What the answers say is checked in srv.c.
 *
 * A host the system resolver cannot know (a name only --dns-server
 * serves) is connected to by the addresses that server gives, the name
 * still used for TLS and Kerberos (bind.c).
 */
#include "ldap/ad_int.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <krb5/krb5.h>

#include "core/clock.h"

/* A DNS answer we read: EDNS0 lets a server send up to this over UDP. */
#define AD_DNS_ANSWER_MAX 65535
/* addresses of one server kept */
#define AD_DC_ADDRS 4
/* the DNS port */
#define AD_DNS_PORT 53

/* ------------------------------------------------------------------ */
/* The domain                                                           */

/* A copy of s in lower case (DNS names are compared without case). */
static char *
ad_lower_dup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	size_t i;

	for (i = 0; d != NULL && d[i] != '\0'; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] + 32);
	return d;
}

/*
 * The realm of the Kerberos ticket cache's principal (the identity
 * GSSAPI binds as), else the default realm of krb5.conf, lower-cased as
 * a DNS domain, into *domain and *origin (new strings).  0, or -1 when
 * Kerberos names no realm (or out of memory: *domain stays NULL).
 */
static int
ad_domain_krb5(char **domain, char **origin)
{
	krb5_context kc = NULL;
	krb5_ccache cc = NULL;
	krb5_principal p = NULL;
	char *realm = NULL, *who = NULL, *ccname = NULL;
	const char *conf = getenv("KRB5_CONFIG");
	int rc = -1;

	*domain = *origin = NULL;
	if (krb5_init_context(&kc) != 0) {
		kc = NULL;
		goto out;
	}
	if (krb5_cc_default(kc, &cc) != 0)
		cc = NULL;
	if (cc != NULL && krb5_cc_get_principal(kc, cc, &p) != 0)
		p = NULL;
	if (p != NULL && p->realm.length > 0) {
		*domain = ad_lower_dup(p->realm.data, p->realm.length);
		if (krb5_unparse_name(kc, p, &who) != 0)
			who = NULL;
		if (krb5_cc_get_full_name(kc, cc, &ccname) != 0)
			ccname = NULL;
		if (asprintf(origin, "the realm of the Kerberos ticket of %s "
		    "in %s", who ? who : "?", ccname ? ccname : "?") < 0)
			*origin = NULL;
	} else {
		if (krb5_get_default_realm(kc, &realm) != 0)
			realm = NULL;
		if (realm != NULL && realm[0] != '\0') {
			*domain = ad_lower_dup(realm, strlen(realm));
			if (asprintf(origin, "the default Kerberos realm in %s",
			    conf ? conf : "/etc/krb5.conf") < 0)
				*origin = NULL;
		}
	}
	if (*domain != NULL && *origin != NULL)
		rc = 0;
	if (rc < 0) {
		free(*domain);
		free(*origin);
		*domain = *origin = NULL;
	}
out:
	if (realm != NULL)
		krb5_free_default_realm(kc, realm);
	if (who != NULL)
		krb5_free_unparsed_name(kc, who);
	if (ccname != NULL)
		krb5_free_string(kc, ccname);
	if (p != NULL)
		krb5_free_principal(kc, p);
	if (cc != NULL)
		krb5_cc_close(kc, cc);
	if (kc != NULL)
		krb5_free_context(kc);
	return rc;
}

enum bde_status
ad_dn_domain(const char *dn, size_t len, char **domain)
{
	LDAPDN parsed = NULL;
	struct berval bv = { .bv_len = len, .bv_val = (char *)dn };
	char *out = NULL, *t;
	size_t i;
	enum bde_status st = BDE_OK;

	*domain = NULL;
	if (ldap_bv2dn(&bv, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
	    parsed == NULL)
		return BDE_EPROTO;
	/* the DC= components, in order, are the DNS name (RFC 2247) */
	for (i = 0; parsed[i] != NULL; i++) {
		LDAPAVA *ava = parsed[i][0];

		if (parsed[i][1] != NULL || ava->la_attr.bv_len != 2 ||
		    strncasecmp(ava->la_attr.bv_val, "DC", 2) != 0)
			continue;
		if (asprintf(&t, "%s%s%.*s", out ? out : "", out ? "." : "",
		    (int)ava->la_value.bv_len, ava->la_value.bv_val) < 0) {
			st = BDE_ENOMEM;
			goto out;
		}
		free(out);
		out = t;
	}
	if (out == NULL || !ad_dns_hostname_ok(out)) {
		st = BDE_EPROTO;
		goto out;
	}
	*domain = ad_lower_dup(out, strlen(out));
	if (*domain == NULL)
		st = BDE_ENOMEM;
out:
	free(out);
	ldap_dnfree(parsed);
	return st;
}

/* ldap.conf's BASE as a DNS domain (its DC= components), with origin. */
static int
ad_domain_base(char **domain, char **origin)
{
	char *base = ad_ldapconf("BASE"), *where = NULL;
	int rc = -1;

	*domain = *origin = NULL;
	if (base == NULL || ad_dn_domain(base, strlen(base), domain) != BDE_OK)
		goto out;
	(void)ad_ldapconf_origin("BASE", NULL, &where);
	if (asprintf(origin, "BASE %s in %s", base, where ? where :
	    "ldap.conf") < 0) {
		*origin = NULL;
		free(*domain);
		*domain = NULL;
		goto out;
	}
	rc = 0;
out:
	free(base);
	free(where);
	return rc;
}

/*
 * The domain to discover: the setting, else Kerberos, else ldap.conf.
 * New strings in *domain and *origin; BDE_ECONFIG when none names one.
 */
static enum bde_status
ad_domain_find(const struct ad_settings *s, char **domain, char **origin,
    char **errstr)
{
	*domain = *origin = NULL;
	if (s->domain != NULL && *s->domain != '\0') {
		*domain = ad_lower_dup(s->domain, strlen(s->domain));
		*origin = strdup(s->domain_origin ? s->domain_origin :
		    "the settings");
	} else if (ad_domain_krb5(domain, origin) < 0 &&
	    ad_domain_base(domain, origin) < 0) {
		return bde_error(errstr, BDE_ECONFIG, "no LDAP server "
		    "configured and no domain to find one in: set --domain "
		    "(or BDEKEY_AD_DOMAIN), run kinit, or set --ldap-uri");
	}
	if (*domain == NULL || *origin == NULL) {
		free(*domain);
		free(*origin);
		*domain = *origin = NULL;
		return ad_nomem(errstr);
	}
	if (!ad_dns_hostname_ok(*domain))
		return bde_error(errstr, BDE_ECONFIG, "'%s' (from %s) is not a "
		    "DNS domain name", *domain, *origin);
	return BDE_OK;
}

/* ------------------------------------------------------------------ */
/* The resolver                                                         */

enum bde_status
ad_dns_server_parse(const char *text, struct sockaddr_in *sin,
    char **errstr)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(text, ':');
	size_t n = colon ? (size_t)(colon - text) : strlen(text);
	unsigned long port = AD_DNS_PORT;
	char *end;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (n == 0 || n >= sizeof(host))
		goto bad;
	memcpy(host, text, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		goto bad;
	if (colon != NULL) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || errno != 0 ||
		    port == 0 || port > 65535)
			goto bad;
	}
	sin->sin_port = htons((unsigned short)port);
	return BDE_OK;
bad:
	return bde_error(errstr, BDE_ECONFIG, "DNS server '%s' is not an IPv4 "
	    "address with an optional :port", text);
}

/* A resolver for one discovery: its state and deadline. */
struct ad_resolver {
	struct __res_state res;
	int ready;
	char server[INET_ADDRSTRLEN + 8];	/* for messages */
	int custom;			/* --dns-server */
	long long deadline_ms;
	int timeout;			/* seconds, for messages */
	unsigned char *buf;		/* the last answer */
	size_t len;
};

static void
ad_resolver_close(struct ad_resolver *r)
{
	if (r->ready)
		res_nclose(&r->res);
	r->ready = 0;
	free(r->buf);
	r->buf = NULL;
}

static enum bde_status
ad_resolver_open(struct ad_resolver *r, const struct ad_settings *s,
    int timeout, long long deadline_ms, char **errstr)
{
	struct sockaddr_in sin;
	enum bde_status st;

	memset(r, 0, sizeof(*r));
	r->deadline_ms = deadline_ms;
	r->timeout = timeout;
	r->buf = malloc(AD_DNS_ANSWER_MAX);
	if (r->buf == NULL)
		return ad_nomem(errstr);
	if (s->dns_server != NULL && *s->dns_server != '\0') {
		st = ad_dns_server_parse(s->dns_server, &sin, errstr);
		if (st != BDE_OK)
			return st;
	}
	if (res_ninit(&r->res) < 0)
		return bde_error(errstr, BDE_EUNREACH, "cannot set up the DNS "
		    "resolver");
	r->ready = 1;
	/*
	 * One try over UDP with EDNS0, never TCP after a truncated answer:
	 * glibc's TCP path waits without a timeout.
	 */
	r->res.options |= RES_USE_EDNS0 | RES_IGNTC;
	r->res.options &= ~(unsigned long)(RES_USEVC | RES_DNSRCH |
	    RES_DEFNAMES);
	r->res.retry = 1;
	snprintf(r->server, sizeof(r->server), "the system resolver");
	if (s->dns_server != NULL && *s->dns_server != '\0') {
		/* res_send uses nsaddr_list when its family is set */
		r->res.nsaddr_list[0] = sin;
		r->res.nscount = 1;
		r->custom = 1;
		inet_ntop(AF_INET, &sin.sin_addr, r->server, INET_ADDRSTRLEN);
		snprintf(r->server + strlen(r->server), 8, ":%u",
		    (unsigned)ntohs(sin.sin_port));
	}
	return BDE_OK;
}

/*
 * Ask r for name's records of type into r->buf/r->len, within r's
 * deadline.  BDE_OK; BDE_ENOTFOUND (no such name, or no such record:
 * *why says which, static); BDE_EUNREACH (no answer in time, a server
 * failure, a refusal) with *errstr set.
 */
static enum bde_status
ad_resolver_query(struct ad_resolver *r, const char *name, int type,
    const char **why, char **errstr)
{
	long long left = r->deadline_ms - bde_now_ms();
	int n, e;

	*why = NULL;
	r->len = 0;
	if (left <= 0)
		return bde_error(errstr, BDE_EUNREACH, "%s: no DNS answer "
		    "within %d s (%s)", name, r->timeout, r->server);
	/* whole seconds: glibc's resolver knows no finer timeout */
	r->res.retrans = left >= 2000 ? (int)(left / 1000) : 1;
	r->res.retry = 1;
	errno = 0;
	n = res_nquery(&r->res, name, ns_c_in, type, r->buf,
	    AD_DNS_ANSWER_MAX);
	e = errno;
	if (n >= 0) {
		r->len = (size_t)n < AD_DNS_ANSWER_MAX ? (size_t)n :
		    AD_DNS_ANSWER_MAX;
		return BDE_OK;
	}
	switch (r->res.res_h_errno) {
	case HOST_NOT_FOUND:
		*why = "no such name (NXDOMAIN)";
		return BDE_ENOTFOUND;
	case NO_DATA:
		*why = type == ns_t_srv ? "no SRV record" : "no address record";
		return BDE_ENOTFOUND;
	case TRY_AGAIN:
		if (e == ETIMEDOUT)
			return bde_error(errstr, BDE_EUNREACH, "%s: no DNS "
			    "answer within %d s (%s)", name, r->timeout,
			    r->server);
		if (e == ECONNREFUSED)
			return bde_error(errstr, BDE_EUNREACH, "%s: the DNS "
			    "server refused the connection (%s)", name,
			    r->server);
		return bde_error(errstr, BDE_EUNREACH, "%s: the DNS server "
		    "failed (SERVFAIL from %s)", name, r->server);
	case NO_RECOVERY:
		return bde_error(errstr, BDE_EUNREACH, "%s: the DNS server "
		    "refused to answer (%s)", name, r->server);
	default:
		return bde_error(errstr, BDE_EUNREACH, "%s: DNS lookup failed "
		    "(%s)", name, r->server);
	}
}

/* ------------------------------------------------------------------ */
/* Domain controllers                                                   */

static void
ad_dc_release(struct ad_dc *dc)
{
	free(dc->host);
	free(dc->uri);
	free(dc->addr);
	memset(dc, 0, sizeof(*dc));
}

void
ad_discovery_free(struct ad_discovery *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		ad_dc_release(&d->dcs[i]);
	free(d->dcs);
	free(d->domain);
	free(d->origin);
	free(d->srv);
	free(d->note);
	memset(d, 0, sizeof(*d));
}

/*
 * The URI a server is tried with.  A simple bind goes inside TLS only:
 * ldaps:// on the TLS port of the one named (636 for 389, 3269 for
 * 3268; any other port is taken as the one to use), unless StartTLS
 * upgrades ldap://.  Kerberos binds seal the connection themselves.
 */
static char *
ad_dc_uri(const struct ad_settings *s, struct ad_dc *dc)
{
	int ldaps = ad_bind_needs_tls(s) && !s->starttls;
	char *uri;

	dc->uri_port = dc->port;
	if (ldaps && dc->port == AD_PORT_LDAP)
		dc->uri_port = AD_PORT_LDAPS;
	else if (ldaps && dc->port == AD_PORT_GC)
		dc->uri_port = AD_PORT_GC_TLS;
	if (asprintf(&uri, "%s://%s:%u", ldaps ? "ldaps" : "ldap", dc->host,
	    dc->uri_port) < 0)
		return NULL;
	return uri;
}

/*
 * The addresses of dc->host from the --dns-server (the SRV answer's
 * additional section first, then A, then AAAA queries), into dc->addr.
 * None is no error: the system resolver is then asked when connecting.
 */
static enum bde_status
ad_dc_addrs(struct ad_resolver *r, const unsigned char *srvmsg,
    size_t srvlen, struct ad_dc *dc, char **errstr)
{
	static const int types[] = { ns_t_a, ns_t_aaaa };
	const char *why;
	char *err = NULL;
	enum bde_status st;
	size_t i;

	dc->addr = calloc(AD_DC_ADDRS, sizeof(*dc->addr));
	if (dc->addr == NULL)
		return ad_nomem(errstr);
	(void)ad_dns_addrs(srvmsg, srvlen, dc->host, dc->addr, AD_DC_ADDRS,
	    &dc->naddr);
	for (i = 0; dc->naddr == 0 && i < sizeof(types) / sizeof(types[0]);
	    i++) {
		st = ad_resolver_query(r, dc->host, types[i], &why, &err);
		free(err);
		err = NULL;
		if (st == BDE_ENOMEM)
			return ad_nomem(errstr);
		/* a timeout here leaves the name to the system resolver */
		if (st != BDE_OK)
			continue;
		(void)ad_dns_addrs(r->buf, r->len, dc->host, dc->addr,
		    AD_DC_ADDRS, &dc->naddr);
	}
	return BDE_OK;
}

/* The SRV name for a service of domain (site: NULL or the site's). */
static char *
ad_srv_name(int gc, const char *site, const char *domain)
{
	char *name;
	int r;

	if (gc)
		r = site ? asprintf(&name, "_gc._tcp.%s._sites.%s", site,
		    domain) : asprintf(&name, "_gc._tcp.%s", domain);
	else
		r = site ? asprintf(&name, "_ldap._tcp.%s._sites.dc._msdcs.%s",
		    site, domain) : asprintf(&name, "_ldap._tcp.dc._msdcs.%s",
		    domain);
	return r < 0 ? NULL : name;
}

enum bde_status
ad_locate(const struct ad_settings *s, const char *domain, int gc,
    int timeout, struct ad_discovery *out, char **errstr)
{
	struct ad_resolver r;
	struct ad_srv *v = NULL;
	const char *why = NULL, *site = s->site && *s->site ? s->site : NULL;
	const char *site_why = NULL;
	char *name = NULL, *site_name = NULL;
	enum bde_status st;
	size_t n = 0, skipped = 0, i;
	int pass;

	memset(out, 0, sizeof(*out));
	st = ad_resolver_open(&r, s, timeout, bde_now_ms() +
	    (long long)timeout * 1000, errstr);
	if (st != BDE_OK)
		goto out;
	out->domain = strdup(domain);
	if (out->domain == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	/* the site's servers first, else the whole domain's (a DC locator) */
	for (pass = site ? 0 : 1; pass < 2; pass++) {
		free(name);
		name = ad_srv_name(gc, pass == 0 ? site : NULL, domain);
		if (name == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
		st = ad_resolver_query(&r, name, ns_t_srv, &why, errstr);
		if (st == BDE_OK) {
			free(v);
			v = NULL;
			st = ad_srv_parse(r.buf, r.len, name, &v, &n, &skipped,
			    errstr);
			if (st != BDE_OK)
				goto out;
			if (n > 0)
				break;
			why = skipped > 0 ? "no usable SRV record" :
			    "no SRV record";
		}
		if (st != BDE_OK && st != BDE_ENOTFOUND)
			goto out;
		if (pass == 0) {
			site_name = name;
			site_why = why;
			name = NULL;
		}
	}
	if (n == 0) {
		st = bde_error(errstr, BDE_EUNREACH, "no %s of '%s' found in "
		    "DNS: %s: %s%s%s%s%s (%s)", gc ? "Global Catalog" :
		    "domain controller", domain, name, why ? why : "no answer",
		    site_name ? "; " : "", site_name ? site_name : "",
		    site_name ? ": " : "", site_name ? site_why : "", r.server);
		goto out;
	}
	if (site_name != NULL && asprintf(&out->note, "site '%s' has none "
	    "(%s: %s): the domain's", site, site_name, site_why) < 0) {
		out->note = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	ad_srv_order(v, n, ad_srv_random, NULL);
	out->dcs = calloc(n, sizeof(*out->dcs));
	if (out->dcs == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct ad_dc *dc = &out->dcs[out->n++];

		dc->port = v[i].port;
		dc->prio = v[i].prio;
		dc->weight = v[i].weight;
		dc->gc = gc;
		dc->host = strdup(v[i].target);
		dc->uri = dc->host ? ad_dc_uri(s, dc) : NULL;
		if (dc->uri == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
	}
	/*
	 * Names only the named server knows: connect by its addresses (the
	 * SRV answer is in r.buf no more once A queries run: copy it).
	 */
	if (r.custom) {
		unsigned char *srvmsg = malloc(r.len ? r.len : 1);
		size_t srvlen = r.len;

		if (srvmsg == NULL) {
			st = ad_nomem(errstr);
			goto out;
		}
		memcpy(srvmsg, r.buf, r.len);
		for (i = 0; i < out->n && st == BDE_OK; i++)
			st = ad_dc_addrs(&r, srvmsg, srvlen, &out->dcs[i],
			    errstr);
		free(srvmsg);
		if (st != BDE_OK)
			goto out;
	}
	out->srv = name;
	name = NULL;
out:
	if (st != BDE_OK)
		ad_discovery_free(out);
	free(name);
	free(site_name);
	free(v);
	ad_resolver_close(&r);
	return st;
}

enum bde_status
ad_discover(const struct ad_settings *s, struct ad_discovery *out,
    char **errstr)
{
	char *domain = NULL, *origin = NULL;
	enum bde_status st;
	int timeout = s->timeout > 0 ? s->timeout : AD_DEFAULT_TIMEOUT;

	memset(out, 0, sizeof(*out));
	st = ad_conf_init(errstr);
	if (st != BDE_OK)
		goto out;
	st = ad_domain_find(s, &domain, &origin, errstr);
	if (st != BDE_OK)
		goto out;
	st = ad_locate(s, domain, 0, timeout, out, errstr);
	if (st == BDE_OK) {
		out->origin = origin;
		origin = NULL;
	} else if (errstr != NULL && *errstr != NULL) {
		/* say where the domain came from: it may be the wrong one */
		char *t = NULL;

		if (asprintf(&t, "%s (the domain from %s)", *errstr,
		    origin) >= 0) {
			free(*errstr);
			*errstr = t;
		}
	}
out:
	free(domain);
	free(origin);
	return st;
}
