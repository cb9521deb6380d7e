/*
 * gc.c - the forest: a Global Catalog to find objects in every domain,
 * and a writable DC of each object's own domain to read its password.
 *
 * The Global Catalog holds a partial replica of every domain: the
 * recovery objects with their msFVE-RecoveryGuid, never the confidential
 * password or key package (they are not in the partial attribute set;
 * Samba's single-database GC would even send them, which is why no
 * secret is ever asked of a GC connection: ad_read_secret refuses).  So a
 * forest-wide lookup searches the GC (_gc._tcp.<forest root>, port 3268,
 * 3269 with TLS), takes each object's domain from its DN, and reads the
 * password with a base-scope search on a DC of that domain, found in DNS
 * the same way as the first one and bound the same way (a Kerberos
 * ticket of the forest works in all its domains; a simple bind uses the
 * same --bind-dn, only inside verified TLS).
 *
 * A DN names its domain, and a hostile GC could name any: only domains
 * of the forest are followed (the crossRef objects of its Partitions
 * container, or DNS names under the forest root).
 */
#include "ldap/ad_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A server of the forest other than the first, opened once, on demand. */
struct ad_peer {
	char *domain;		/* its DNS domain; a GC's: the forest root */
	int gc;
	struct ad *ad;		/* NULL when it could not be opened: */
	enum bde_status st;	/* why */
	char *err;
};

void
ad_conn_free(struct ad *ad)
{
	size_t i;

	if (ad == NULL)
		return;
	for (i = 0; i < ad->npeers; i++) {
		ad_conn_free(ad->peers[i].ad);
		free(ad->peers[i].domain);
		free(ad->peers[i].err);
	}
	free(ad->peers);
	for (i = 0; i < ad->ndomains; i++)
		free(ad->domains[i]);
	free(ad->domains);
	ad_unbind(ad);
	free(ad->uri);
	free(ad->base);
	free(ad->identity);
	free(ad->domain_dn);
	free(ad->forest_dn);
	free(ad->config_dn);
	free(ad->problems);
	free(ad);
}

enum bde_status
ad_peer_get(struct ad *home, const char *domain, int gc, struct ad **out,
    char **errstr)
{
	struct ad_discovery d = { .n = 0 };
	struct ad_peer *v, *p = NULL;
	struct ad *c = NULL;
	enum bde_status st;
	size_t i;

	*out = NULL;
	for (i = 0; i < home->npeers; i++) {
		p = &home->peers[i];
		if (p->gc == gc && strcasecmp(p->domain, domain) == 0)
			goto found;
	}
	v = reallocarray(home->peers, home->npeers + 1, sizeof(*v));
	if (v == NULL)
		return ad_nomem(errstr);
	home->peers = v;
	p = &v[home->npeers];
	memset(p, 0, sizeof(*p));
	p->gc = gc;
	p->domain = strdup(domain);
	c = calloc(1, sizeof(*c));
	if (p->domain == NULL || c == NULL) {
		free(p->domain);
		free(c);
		return ad_nomem(errstr);
	}
	home->npeers++;
	c->s = home->s;
	c->timeout = home->timeout;
	c->page_size = home->page_size;
	c->peer = 1;
	c->gc = gc;
	st = ad_locate(home->s, domain, gc, home->timeout, &d, &p->err);
	if (st == BDE_OK)
		st = ad_connect_found(c, home->s, &d, &p->err);
	ad_discovery_free(&d);
	p->st = st;
	if (st == BDE_OK) {
		p->ad = c;
		c = NULL;
	}
found:
	ad_conn_free(c);
	if (p->st != BDE_OK)
		return bde_error(errstr, p->st, "%s", p->err ? p->err :
		    "cannot connect");
	*out = p->ad;
	return BDE_OK;
}

/* ------------------------------------------------------------------ */
/* The forest's domains                                                 */

/* crossRef systemFlags: FLAG_CR_NTDS_NC | FLAG_CR_NTDS_DOMAIN (MS-ADTS
   6.1.1.2.1.1.5): the naming context of a domain of the forest */
#define AD_CR_NTDS_DOMAIN 0x2

struct ad_xref_ctx {
	char **v;
	size_t n;
};

static enum bde_status
ad_xref_entry(struct ad *ad, LDAPMessage *e, void *arg, char **errstr)
{
	struct ad_xref_ctx *ctx = arg;
	struct berval **root = NULL, **flags = NULL;
	char num[16], **nv, *dns = NULL;
	enum bde_status st = BDE_OK;
	long f;

	root = ldap_get_values_len(ad->ld, e, "dnsRoot");
	flags = ldap_get_values_len(ad->ld, e, "systemFlags");
	if (root == NULL || root[0] == NULL || flags == NULL ||
	    flags[0] == NULL || flags[0]->bv_len >= sizeof(num))
		goto out;
	memcpy(num, flags[0]->bv_val, flags[0]->bv_len);
	num[flags[0]->bv_len] = '\0';
	f = strtol(num, NULL, 10);
	if (!(f & AD_CR_NTDS_DOMAIN))
		goto out;
	dns = strndup(root[0]->bv_val, root[0]->bv_len);
	if (dns == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	/* a name that is no host name is no domain we would look up */
	if (!ad_dns_hostname_ok(dns) || ctx->n >= AD_FOREST_MAX_DOMAINS)
		goto out;
	nv = reallocarray(ctx->v, ctx->n + 1, sizeof(*nv));
	if (nv == NULL) {
		st = ad_nomem(errstr);
		goto out;
	}
	ctx->v = nv;
	ctx->v[ctx->n++] = dns;
	dns = NULL;
out:
	free(dns);
	ldap_value_free_len(root);
	ldap_value_free_len(flags);
	return st;
}

enum bde_status
ad_forest_domains(struct ad *home, char **errstr)
{
	static char *attrs[] = { "dnsRoot", "systemFlags", NULL };
	struct ad_xref_ctx ctx = { .v = NULL, .n = 0 };
	char *base = NULL;
	enum bde_status st = BDE_OK;
	size_t i;

	if (home->domains_read)
		goto out;
	if (!home->vendor_known) {
		st = ad_rootdse(home, NULL, errstr);
		if (st != BDE_OK)
			goto out;
	}
	if (home->config_dn == NULL)
		goto done;
	if (asprintf(&base, "CN=Partitions,%s", home->config_dn) < 0) {
		base = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	/* every DC holds the configuration: the forest's domains are here */
	st = ad_search_run(home, &(const struct ad_search){
		.base = base,
		.scope = LDAP_SCOPE_ONELEVEL,
		.filter = "(objectClass=crossRef)",
		.attrs = attrs,
		.what = "search for the forest's domains",
		.entry = ad_xref_entry,
		.arg = &ctx,
	}, errstr);
	if (st != BDE_OK)
		goto out;
done:
	home->domains = ctx.v;
	home->ndomains = ctx.n;
	home->domains_read = 1;
	ctx.v = NULL;
	ctx.n = 0;
out:
	for (i = 0; i < ctx.n; i++)
		free(ctx.v[i]);
	free(ctx.v);
	free(base);
	return st;
}

enum bde_status
ad_forest_root(struct ad *home, char **root, char **errstr)
{
	enum bde_status st = BDE_OK;

	*root = NULL;
	if (!home->vendor_known) {
		st = ad_rootdse(home, NULL, errstr);
		if (st != BDE_OK)
			return st;
	}
	if (home->forest_dn == NULL)
		return bde_error(errstr, BDE_EPROTO, "%s: the RootDSE names no "
		    "forest root (rootDomainNamingContext)", home->uri);
	st = ad_dn_domain(home->forest_dn, strlen(home->forest_dn), root);
	if (st == BDE_ENOMEM)
		return ad_nomem(errstr);
	if (st != BDE_OK)
		return bde_error(errstr, st, "%s: the forest root '%s' is not a "
		    "DNS domain", home->uri, home->forest_dn);
	return BDE_OK;
}

/* Whether name is root or a name under it ("x.root"); case ignored. */
static int
ad_dns_under(const char *name, const char *root)
{
	size_t n = strlen(name), r = strlen(root);

	if (n == r)
		return strcasecmp(name, root) == 0;
	return n > r + 1 && name[n - r - 1] == '.' &&
	    strcasecmp(name + n - r, root) == 0;
}

enum bde_status
ad_object_domain(struct ad *home, const char *dn, size_t len, char **domain,
    int *here, char **errstr)
{
	char *mine = NULL, *root = NULL;
	enum bde_status st;
	size_t i;
	int known = 0;

	*domain = NULL;
	*here = 0;
	st = ad_dn_domain(dn, len, domain);
	if (st == BDE_ENOMEM)
		return ad_nomem(errstr);
	if (st != BDE_OK)
		return bde_error(errstr, BDE_EPROTO, "'%.*s' names no domain "
		    "(no DC= components)", (int)len, dn);
	if (home->domain_dn != NULL && ad_dn_domain(home->domain_dn,
	    strlen(home->domain_dn), &mine) == BDE_OK &&
	    strcasecmp(mine, *domain) == 0) {
		*here = 1;
		goto out;
	}
	/* only a domain of this forest is looked up and bound to */
	st = ad_forest_domains(home, errstr);
	if (st != BDE_OK)
		goto out;
	for (i = 0; i < home->ndomains; i++)
		if (strcasecmp(home->domains[i], *domain) == 0)
			known = 1;
	if (!known && ad_forest_root(home, &root, NULL) == BDE_OK &&
	    ad_dns_under(*domain, root))
		known = 1;
	if (!known)
		st = bde_error(errstr, BDE_EPROTO, "'%.*s' is in '%s', not a "
		    "domain of this forest: not followed", (int)len, dn,
		    *domain);
out:
	if (st != BDE_OK) {
		free(*domain);
		*domain = NULL;
	}
	free(mine);
	free(root);
	return st;
}

enum bde_status
ad_object_conn(struct ad *home, const char *dn, struct ad **conn,
    char **errstr)
{
	char *domain = NULL;
	enum bde_status st;
	int here;

	*conn = home;
	if (!home->forest)
		return BDE_OK;
	st = ad_object_domain(home, dn, strlen(dn), &domain, &here, errstr);
	if (st == BDE_OK && !here)
		st = ad_peer_get(home, domain, 0, conn, errstr);
	free(domain);
	return st;
}

enum bde_status
ad_forest_gc(struct ad *home, struct ad **gc, char **errstr)
{
	char *root = NULL;
	enum bde_status st;

	*gc = NULL;
	st = ad_forest_root(home, &root, errstr);
	if (st == BDE_OK)
		st = ad_peer_get(home, root, 1, gc, errstr);
	free(root);
	return st;
}

int
ad_forest_wide(struct ad *home)
{
	const struct ad_settings *s = home->s;

	if (s == NULL || s->forest < 0)
		return 0;
	if (s->forest > 0)
		return 1;
	/*
	 * By default only a discovered connection looks beyond its domain
	 * (a configured URI keeps its meaning), and only when the forest
	 * has more than one domain: one more search on the DC.
	 */
	if (!home->found)
		return 0;
	if (ad_forest_domains(home, NULL) != BDE_OK)
		return 0;
	return home->ndomains > 1;
}

enum bde_status
ad_lookup_conn(struct ad *home, struct ad **sc, char **errstr)
{
	*sc = home;
	home->forest = ad_forest_wide(home);
	if (!home->forest)
		return BDE_OK;
	return ad_forest_gc(home, sc, errstr);
}
