/*
 * graph.c - the Graph backend's setup: scopes, the HTTP client
 * and identity session; open, close, login and logout.  Requests are in
 * request.c, $batch in batch.c, lookups in keys.c, Intune in managed.c.
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Delegated permissions per command (incremental consent): lookups never
 * carry the Intune scope, so a tenant that did not consent to it can
 * still sign in, and no cached lookup token can rotate.  Each is prefixed
 * with the Graph resource.  rotateBitLockerKeys (beta) documents
 * DeviceManagementManagedDevices.ReadWrite.All, which also covers reading
 * managedDevices; Device.Read.All finds the Entra device by name.
 */
static const char *const scopes_lookup[] = {
	"BitlockerKey.Read.All", "Device.Read.All", NULL
};
static const char *const scopes_lookup_basic[] = {
	"BitlockerKey.ReadBasic.All", "Device.Read.All", NULL
};
static const char *const scopes_rotate[] = {
	"Device.Read.All", "DeviceManagementManagedDevices.ReadWrite.All", NULL
};

/*
 * The scope string: the app's "{resource}/.default", or the delegated
 * permissions perms with openid/profile (for the user's name in the
 * id_token) and offline_access (for a refresh token).  The resource is
 * the Graph origin: the cloud's host, or the overriding URL's origin.
 * Returns a new string the caller frees, or NULL when out of memory.
 */
static char *
make_scope(const char *origin, int app, const char *const *perms)
{
	char *s = NULL, *t;
	size_t i;

	if (app) {
		if (asprintf(&s, "%s/.default", origin) < 0)
			return NULL;
		return s;
	}
	s = strdup("");
	for (i = 0; s != NULL && perms[i] != NULL; i++) {
		if (asprintf(&t, "%s%s/%s ", s, origin, perms[i]) < 0)
			t = NULL;
		free(s);
		s = t;
	}
	if (s == NULL)
		return NULL;
	if (asprintf(&t, "%sopenid profile offline_access", s) < 0)
		t = NULL;
	free(s);
	return t;
}

void
graph_begin(struct graph *g, int rotation)
{
	id_session_use_scope(g->id, rotation ? g->scope_rotate :
	    g->scope_lookup);
	memset(&g->budget, 0, sizeof(g->budget));
	g->budget.max_pages = GRAPH_MAX_PAGES;
	g->budget.max_items = GRAPH_MAX_ITEMS;
}

static void
graph_free(struct graph *g)
{
	if (g == NULL)
		return;
	id_session_free(g->id);
	http_client_free(g->http);
	free(g->base);
	free(g->v1);
	free(g->beta);
	free(g->origin);
	free(g->authority);
	free(g->scope_lookup);
	free(g->scope_rotate);
	free(g->ident);
	free(g);
}

/*
 * The state without network: URLs, scope, HTTP client and identity
 * session.  allow_app = 0 forces a delegated session (login, logout).
 */
static enum bde_status
graph_new(const struct graph_settings *s, int allow_app, struct graph **out,
    char **errstr)
{
	const struct id_cloud *cl;
	struct graph *g = NULL;
	struct http_options ho;
	enum bde_status st = BDE_OK;
	int app;

	*out = NULL;
	if (s->tenant == NULL || s->tenant[0] == '\0') {
		st = bde_error(errstr, BDE_ECONFIG, "no Entra tenant: set "
		    "--tenant or BDEKEY_TENANT");
		goto out;
	}
	cl = id_cloud_find(s->cloud);
	if (cl == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "cloud '%s' is not global, "
		    "usgov, dod or china", s->cloud);
		goto out;
	}
	if (s->client_cert != NULL && s->client_key == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "a client certificate "
		    "needs its private key (--client-key)");
		goto out;
	}
	app = allow_app && (s->client_secret != NULL || s->client_cert != NULL);
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	g->base = http_url_trim(s->graph != NULL ? s->graph : cl->graph);
	g->authority = http_url_trim(s->authority != NULL ? s->authority :
	    cl->login);
	if (g->base == NULL || g->authority == NULL ||
	    asprintf(&g->v1, "%s/v1.0", g->base) < 0 ||
	    asprintf(&g->beta, "%s/beta", g->base) < 0) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (strncasecmp(g->base, "https://", 8) != 0 ||
	    strncasecmp(g->authority, "https://", 8) != 0) {
		st = bde_error(errstr, BDE_ECONFIG, "Graph and authority URLs "
		    "must be https:// ('%s', '%s')", g->base, g->authority);
		goto out;
	}
	g->origin = http_origin(g->base);
	if (g->origin == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "bad Graph URL '%s'",
		    g->base);
		goto out;
	}
	g->scope_lookup = make_scope(g->origin, app, s->read_basic ?
	    scopes_lookup_basic : scopes_lookup);
	g->scope_rotate = make_scope(g->origin, app, scopes_rotate);
	if (g->scope_lookup == NULL || g->scope_rotate == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	g->idc.authority = g->authority;
	g->idc.tenant = s->tenant;
	g->idc.client_id = s->client_id != NULL ? s->client_id :
	    GRAPH_DEFAULT_CLIENT_ID;
	g->idc.scope = g->scope_lookup;
	g->idc.show = s->sign_in;
	g->idc.show_arg = s->sign_in_arg;
	if (app) {
		g->idc.client_secret = s->client_secret;
		g->idc.client_cert = s->client_cert;
		g->idc.client_key = s->client_key;
		g->idc.assertion_rs256 = s->assertion_rs256 > 0;
	}
	g->idc.cache_dir = s->cache_dir;
	g->progress = s->progress;
	g->progress_arg = s->progress_arg;

	memset(&ho, 0, sizeof(ho));
	ho.ca_bundle = s->ca_bundle;
	ho.timeout = s->timeout;
	ho.deadline = s->deadline;
	st = http_client_new(&ho, &g->http, errstr);
	if (st != BDE_OK)
		goto out;
	st = id_session_new(&g->idc, g->http, &g->id, errstr);
	if (st != BDE_OK)
		goto out;
	graph_begin(g, 0);
	*out = g;
	g = NULL;
out:
	graph_free(g);
	return st;
}

static const char *
graph_identity(void *self)
{
	struct graph *g = self;

	return g->ident;
}

static void
graph_close(void *self)
{
	graph_free(self);
}

/* "app:CLIENT_ID" or the user's name, for the audit trail. */
static enum bde_status
set_ident(struct graph *g, char **errstr)
{
	const char *user = id_user(g->id);
	int r;

	free(g->ident);
	if (id_session_is_app(g->id))
		r = asprintf(&g->ident, "app:%s", g->idc.client_id);
	else
		r = asprintf(&g->ident, "%s", user != NULL ? user :
		    "unknown user");
	if (r < 0) {
		g->ident = NULL;
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	return BDE_OK;
}

static const struct bde_backend_ops graph_ops = {
	.name = "graph",
	.by_device = graph_by_device,
	.by_keyid = graph_by_keyid,
	.identity = graph_identity,
	.close = graph_close,
	.find_device = graph_find_managed,
	.rotate = graph_rotate,
	.rotate_state = graph_rotate_state,
	.escrow = graph_escrow,
};

enum bde_status
graph_open(const struct graph_settings *s, struct bde_backend *out,
    char **errstr)
{
	struct graph *g = NULL;
	enum bde_status st;

	memset(out, 0, sizeof(*out));
	st = graph_new(s, 1, &g, errstr);
	if (st != BDE_OK)
		goto out;
	/*
	 * Fail early, before any lookup, when there is no sign-in; a user's
	 * token is renewed only when a request needs it, for the scope set
	 * of that command.
	 */
	st = id_session_check(g->id, errstr);
	if (st != BDE_OK)
		goto out;
	st = set_ident(g, errstr);
	if (st != BDE_OK)
		goto out;
	out->ops = &graph_ops;
	out->self = g;
	g = NULL;
out:
	graph_free(g);
	return st;
}

enum bde_status
graph_login(const struct graph_settings *s,
    void (*show)(const char *message, void *arg), void *arg, char **who,
    char **errstr)
{
	struct graph *g = NULL;
	enum bde_status st;
	const char *user;

	*who = NULL;
	if (s->client_secret != NULL || s->client_cert != NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "an application (client "
		    "secret or certificate) needs no login: it signs in by "
		    "itself");
		goto out;
	}
	st = graph_new(s, 0, &g, errstr);
	if (st != BDE_OK)
		goto out;
	st = id_device_login(g->id, show, arg, errstr);
	if (st != BDE_OK)
		goto out;
	user = id_user(g->id);
	if (user != NULL && (*who = strdup(user)) == NULL)
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
out:
	graph_free(g);
	return st;
}

enum bde_status
graph_logout(const struct graph_settings *s, char **errstr)
{
	struct graph *g = NULL;
	enum bde_status st;
	int removed;

	st = graph_new(s, 0, &g, errstr);
	if (st != BDE_OK)
		goto out;
	st = id_logout(&g->idc, &removed, errstr);
out:
	graph_free(g);
	return st;
}
