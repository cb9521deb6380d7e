/*
 * kv.c - the Key Vault backend's setup: the vault and ARM URLs,
 * the HTTP client, one identity session per resource, the records'
 * memory.  Requests are in request.c, routes in find.c, fetching and the
 * preflight in fetch.c, what the services send in parse.c.
 */
#include "keyvault/kv_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Permissions a user asks for, after the resource; OIDC for the name. */
#define USER_SCOPE "/user_impersonation openid profile offline_access"

const char *
kv_route_name(enum kv_route r)
{
	switch (r) {
	case KV_ROUTE_VOLUME:
		return "volume";
	case KV_ROUTE_ARM:
		return "arm";
	case KV_ROUTE_TAGS:
		return "tags";
	case KV_ROUTE_SECRET:
		return "secret";
	case KV_ROUTE_NONE:
		break;
	}
	return "none";
}

const char *
kv_level_name(enum kv_level l)
{
	static const char *const names[] = { "ok", "info", "warn", "FAIL" };

	return (unsigned)l < 4 ? names[l] : "?";
}

void
kv_bytes_free(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

void
kv_bek_release(struct kv_bek *b)
{
	size_t i;

	if (b == NULL)
		return;
	free(b->secret_url);
	free(b->vault);
	free(b->name);
	free(b->version);
	free(b->machine);
	free(b->volume);
	free(b->content_type);
	free(b->kek_url);
	free(b->kek_tag);
	free(b->alg);
	free(b->vm);
	for (i = 0; i < b->nnotes; i++)
		free(b->notes[i]);
	memset(b, 0, sizeof(*b));
}

void
kv_beklist_free(struct kv_beklist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		kv_bek_release(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void
kv_note(struct kv_bek *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (b->nnotes == KV_NOTES_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s != NULL)
		b->notes[b->nnotes++] = s;
}

/* A resource as compared: lower case, no trailing slash; NULL: no memory. */
static char *
norm_resource(const char *r)
{
	char *s = http_url_trim(r);

	return s != NULL ? bde_guid_lower(s) : NULL;
}

/* A vault name: 3-24 letters, digits and dashes (Key Vault's rule). */
static int
vault_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 3 || n > 24 || !isalpha((unsigned char)s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* The vault setting as a base URL: a name in the cloud, or a URL. */
static enum bde_status
vault_url(const char *v, const struct id_cloud *cl, char **out,
    char **errstr)
{
	char origin[KV_ORIGIN_MAX];

	*out = NULL;
	if (strstr(v, "://") == NULL) {
		if (!vault_name_ok(v))
			return bde_error(errstr, BDE_ECONFIG, "vault '%s' is "
			    "neither a vault name (3 to 24 letters, digits and "
			    "dashes) nor an https:// URL", v);
		if (asprintf(out, "https://%s%s", v, cl->vault_suffix) < 0) {
			*out = NULL;
			return bde_error(errstr, BDE_ENOMEM, "out of memory");
		}
		bde_guid_lower(*out);
		return BDE_OK;
	}
	/* a URL is used as given, a path included */
	if (kv_origin_norm(v, origin, sizeof(origin)) < 0 ||
	    strpbrk(v, "?#") != NULL)
		return bde_error(errstr, BDE_ECONFIG, "vault URL '%s' is not an "
		    "https:// URL without query", v);
	if ((*out = http_url_trim(v)) == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	return BDE_OK;
}

static void
kv_free(struct kv *kv)
{
	size_t i;

	if (kv == NULL)
		return;
	for (i = 0; i < kv->nsess; i++) {
		id_session_free(kv->sess[i].id);
		free(kv->sess[i].resource);
		free(kv->sess[i].scope);
	}
	for (i = 0; i < kv->nok; i++)
		free(kv->ok[i].origin);
	http_client_free(kv->http);
	free(kv->vault);
	free(kv->vault_resource);
	free(kv->arm);
	free(kv->arm_resource);
	free(kv->subscription);
	free(kv->authority);
	free(kv->ident);
	free(kv);
}

void
kv_close(struct kv *kv)
{
	kv_free(kv);
}

const char *
kv_vault_url(const struct kv *kv)
{
	return kv->vault;
}

enum bde_status
kv_open(const struct kv_settings *s, struct kv **out, char **errstr)
{
	const struct id_cloud *cl;
	struct http_options ho;
	struct kv *kv = NULL;
	enum bde_status st = BDE_OK;
	char origin[KV_ORIGIN_MAX];

	*out = NULL;
	if (s->tenant == NULL || s->tenant[0] == '\0') {
		st = bde_error(errstr, BDE_ECONFIG, "no Entra tenant for Key "
		    "Vault: set --tenant or BDEKEY_TENANT");
		goto out;
	}
	cl = id_cloud_find(s->cloud);
	if (cl == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "cloud '%s' is not global, "
		    "usgov, dod or china", s->cloud);
		goto out;
	}
	if (s->client_id == NULL || s->client_id[0] == '\0') {
		st = bde_error(errstr, BDE_ECONFIG, "no client ID for Key "
		    "Vault: set --client-id or BDEKEY_CLIENT_ID");
		goto out;
	}
	if (s->client_cert != NULL && s->client_key == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "a client certificate "
		    "needs its private key (--client-key)");
		goto out;
	}
	kv = calloc(1, sizeof(*kv));
	if (kv == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (s->vault != NULL && s->vault[0] != '\0' &&
	    (st = vault_url(s->vault, cl, &kv->vault, errstr)) != BDE_OK)
		goto out;
	kv->vault_resource = norm_resource(s->vault_resource != NULL ?
	    s->vault_resource : cl->vault_resource);
	kv->arm = http_url_trim(s->arm != NULL ? s->arm : cl->arm);
	kv->arm_resource = norm_resource(cl->arm);
	kv->authority = http_url_trim(s->authority != NULL ? s->authority :
	    cl->login);
	if (kv->vault_resource == NULL || kv->arm == NULL ||
	    kv->arm_resource == NULL || kv->authority == NULL ||
	    (s->subscription != NULL &&
	    (kv->subscription = strdup(s->subscription)) == NULL)) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (kv_origin_norm(kv->arm, origin, sizeof(origin)) < 0 ||
	    strpbrk(kv->arm, "?#") != NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "ARM URL '%s' is not an "
		    "https:// URL without query", kv->arm);
		goto out;
	}
	if (strncasecmp(kv->vault_resource, "https://", 8) != 0 ||
	    strncasecmp(kv->authority, "https://", 8) != 0) {
		st = bde_error(errstr, BDE_ECONFIG, "the vault resource and "
		    "the authority must be https:// ('%s', '%s')",
		    kv->vault_resource, kv->authority);
		goto out;
	}
	kv->app = s->client_secret != NULL || s->client_cert != NULL;
	kv->base.authority = kv->authority;
	kv->base.tenant = s->tenant;
	kv->base.client_id = s->client_id;
	kv->base.client_secret = s->client_secret;
	kv->base.client_cert = s->client_cert;
	kv->base.client_key = s->client_key;
	kv->base.assertion_rs256 = s->assertion_rs256 > 0;
	kv->base.cache_dir = s->cache_dir;
	kv->base.show = s->sign_in;
	kv->base.show_arg = s->sign_in_arg;

	memset(&ho, 0, sizeof(ho));
	ho.ca_bundle = s->ca_bundle;
	ho.timeout = s->timeout;
	ho.deadline = s->deadline;
	st = http_client_new(&ho, &kv->http, errstr);
	if (st != BDE_OK)
		goto out;
	*out = kv;
	kv = NULL;
out:
	kv_free(kv);
	return st;
}

/*
 * The session for resource (normalised), made on first use with its own
 * scope: "{resource}/.default" for an app, user_impersonation for a user.
 */
static enum bde_status
kv_session(struct kv *kv, const char *resource, struct kv_sess **out,
    char **errstr)
{
	struct kv_sess *ks;
	enum bde_status st;
	size_t i;

	*out = NULL;
	for (i = 0; i < kv->nsess; i++)
		if (strcmp(kv->sess[i].resource, resource) == 0) {
			*out = &kv->sess[i];
			return BDE_OK;
		}
	if (kv->nsess == KV_MAX_SESS)
		return bde_error(errstr, BDE_EPROTO, "tokens for more than %d "
		    "resources asked for; stopped", KV_MAX_SESS);
	ks = &kv->sess[kv->nsess];
	memset(ks, 0, sizeof(*ks));
	ks->resource = strdup(resource);
	if (ks->resource == NULL || asprintf(&ks->scope, "%s%s", resource,
	    kv->app ? "/.default" : USER_SCOPE) < 0) {
		free(ks->resource);
		memset(ks, 0, sizeof(*ks));
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	ks->idc = kv->base;
	ks->idc.scope = ks->scope;
	st = id_session_new(&ks->idc, kv->http, &ks->id, errstr);
	if (st != BDE_OK) {
		free(ks->resource);
		free(ks->scope);
		memset(ks, 0, sizeof(*ks));
		return st;
	}
	kv->nsess++;
	*out = ks;
	return BDE_OK;
}

enum bde_status
kv_session_arm(struct kv *kv, struct kv_sess **out, char **errstr)
{
	return kv_session(kv, kv->arm_resource, out, errstr);
}

enum bde_status
kv_session_vault(struct kv *kv, const char *resource, struct kv_sess **out,
    char **errstr)
{
	return kv_session(kv, resource, out, errstr);
}

const char *
kv_identity(struct kv *kv)
{
	const char *user = NULL;
	size_t i;

	if (kv->ident != NULL)
		return kv->ident;
	if (kv->app) {
		if (asprintf(&kv->ident, "app:%s", kv->base.client_id) < 0)
			kv->ident = NULL;
		return kv->ident != NULL ? kv->ident : "app";
	}
	for (i = 0; i < kv->nsess && user == NULL; i++)
		user = id_user(kv->sess[i].id);
	if (user == NULL)
		return "unknown user";
	kv->ident = strdup(user);
	return kv->ident != NULL ? kv->ident : user;
}
