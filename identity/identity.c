/*
 * identity.c - OAuth 2.0 grants against the Microsoft identity platform:
 * device code (RFC 8628), refresh token, client credentials with a secret
 * or a certificate assertion (RFC 7523); the session's tokens, one per
 * scope set, and when they are renewed (under the cache entry's lock).
 */
#include "identity/identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cJSON.h>

#include "core/clock.h"
#include "core/json.h"
#include "identity/cache.h"
#include "identity/identity_int.h"
#include "identity/jwt.h"

#define DEVICE_CODE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define FORM_TYPE "application/x-www-form-urlencoded"
/* RFC 8628 3.5: slow_down adds this to the interval */
#define DEVICE_SLOW_DOWN 5
/* The longest wait between two polls, however the interval grows. */
#define MAX_INTERVAL 300
/* A token this process received is used until this close to its end. */
#define FRESH_MARGIN 5
/* Scopes that name no permission (OpenID Connect, refresh tokens). */
static const char *const oidc_scopes[] = {
	"openid", "profile", "email", "offline_access", NULL
};

struct id_session {
	struct id_config cfg;
	struct http_client *http;
	char *token_url;
	char *devicecode_url;
	char *cache_path;	/* delegated sessions only */
	const char *scope;	/* the scope set asked for now (borrowed) */
	int cache_loaded;
	struct id_tokens tok;	/* a user's cache entry; an app's in memory */
	char *rejected;		/* secret: an access token a resource refused */
};

/* One form field; value may be secret. */
struct field {
	const char *name;
	const char *value;
};

enum bde_status
id_session_new(const struct id_config *cfg, struct http_client *http,
    struct id_session **out, char **errstr)
{
	struct id_session *s = NULL;
	enum bde_status st = BDE_OK;
	size_t n;

	*out = NULL;
	if (cfg->tenant == NULL || cfg->tenant[0] == '\0' ||
	    cfg->client_id == NULL || cfg->client_id[0] == '\0' ||
	    cfg->authority == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "sign-in needs a tenant, a "
		    "client id and an authority");
		goto out;
	}
	if (strchr(cfg->tenant, '/') != NULL || strchr(cfg->tenant, '?') ||
	    strchr(cfg->tenant, '#') != NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "tenant '%s' is not a tenant "
		    "name or id", cfg->tenant);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	s->cfg = *cfg;
	s->http = http;
	s->scope = cfg->scope;
	n = strlen(cfg->authority);
	while (n > 0 && cfg->authority[n - 1] == '/')
		n--;
	if (asprintf(&s->token_url, "%.*s/%s/oauth2/v2.0/token", (int)n,
	    cfg->authority, cfg->tenant) < 0 ||
	    asprintf(&s->devicecode_url, "%.*s/%s/oauth2/v2.0/devicecode",
	    (int)n, cfg->authority, cfg->tenant) < 0) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (!id_session_is_app(s)) {
		st = id_cache_path(cfg, &s->cache_path, errstr);
		if (st != BDE_OK)
			goto out;
	}
	*out = s;
	s = NULL;
out:
	id_session_free(s);
	return st;
}

void
id_session_free(struct id_session *s)
{
	if (s == NULL)
		return;
	id_tokens_release(&s->tok);
	bde_secret_free(s->rejected);
	free(s->token_url);
	free(s->devicecode_url);
	free(s->cache_path);
	free(s);
}

int
id_session_is_app(const struct id_session *s)
{
	return s->cfg.client_secret != NULL || s->cfg.client_cert != NULL;
}

const char *
id_user(const struct id_session *s)
{
	return s->tok.user;
}

/*
 * "a=1&b=2" with every name and value percent-encoded.  Returns a new
 * string the caller frees with bde_secret_free (values may be secret), or
 * NULL when out of memory.
 */
static char *
form_encode(const struct field *f, size_t n)
{
	char **enc = NULL, *out = NULL;
	size_t i, len = 0, o = 0;

	enc = calloc(n, sizeof(*enc));
	if (enc == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		enc[i] = http_escape(f[i].value);
		if (enc[i] == NULL)
			goto out;
		len += strlen(f[i].name) + 1 + strlen(enc[i]) + 1;
	}
	out = malloc(len + 1);
	if (out == NULL)
		goto out;
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, len + 1 - o, "%s%s=%s",
		    i ? "&" : "", f[i].name, enc[i]);
out:
	for (i = 0; enc != NULL && i < n; i++)
		bde_secret_free(enc[i]);
	free(enc);
	return out;
}

/* POST a form to url; the body is wiped after. */
static enum bde_status
post_form(struct id_session *s, const char *url, const struct field *f,
    size_t n, struct http_response *rs, char **errstr)
{
	struct http_request rq;
	char *body;
	enum bde_status st;

	body = form_encode(f, n);
	if (body == NULL) {
		memset(rs, 0, sizeof(*rs));
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = url;
	rq.content_type = FORM_TYPE;
	rq.body = body;
	rq.body_len = strlen(body);
	st = http_send(s->http, &rq, rs, errstr);
	bde_secret_free(body);
	return st;
}

/*
 * The user name an id_token names (preferred_username, else upn) in a new
 * string the caller frees, or NULL.
 */
static char *
id_token_user(const char *id_token)
{
	char *claims = jwt_claims(id_token), *user = NULL;
	cJSON *doc = NULL;
	const char *v;

	if (claims == NULL)
		return NULL;
	doc = cJSON_Parse(claims);
	v = bde_json_string(doc, "preferred_username");
	if (v == NULL)
		v = bde_json_string(doc, "upn");
	if (v != NULL)
		user = strdup(v);
	cJSON_Delete(doc);
	free(claims);
	return user;
}


/* The access token entry of the current scope set, or NULL. */
static struct id_access *
current(struct id_session *s)
{
	return id_tokens_find(&s->tok, s->scope);
}

/* Whether a is good for a request now (and not one a resource refused). */
static int
usable(const struct id_session *s, const struct id_access *a)
{
	time_t now = time(NULL);

	if (a == NULL || a->access_token == NULL)
		return 0;
	if (s->rejected != NULL && strcmp(s->rejected, a->access_token) == 0)
		return 0;
	/* a cached token must last the command; a fresh one is what we have */
	return a->fresh ? a->expires_on - FRESH_MARGIN > now :
	    a->expires_on - ID_EXPIRY_MARGIN > now;
}

/*
 * Take the tokens of a successful token answer into s->tok: the access
 * token of the current scope set, its expiry and granted scope, a new
 * refresh token (replacing the old one: refresh tokens are rotated) and
 * the user.  Another user's tokens for other scope sets are dropped.
 */
static enum bde_status
take_tokens(struct id_session *s, const struct http_response *rs,
    char **errstr)
{
	struct id_answer an;
	struct id_access *a;
	enum bde_status st;
	char *nat = NULL, *nrt = NULL, *granted = NULL, *user = NULL;
	size_t i;

	st = id_answer_parse(rs->json, rs->request_id, &an, errstr);
	if (st != BDE_OK)
		return st;
	nat = strdup(an.access_token);
	nrt = an.refresh_token != NULL ? strdup(an.refresh_token) : NULL;
	granted = an.scope != NULL ? strdup(an.scope) : NULL;
	user = an.id_token != NULL ? id_token_user(an.id_token) : NULL;
	if (nat == NULL || (an.refresh_token != NULL && nrt == NULL) ||
	    (an.scope != NULL && granted == NULL))
		goto nomem;
	if (user != NULL && s->tok.user != NULL &&
	    strcasecmp(user, s->tok.user) != 0) {
		/* someone else signed in: nothing cached was theirs */
		for (i = 0; i < s->tok.n; i++)
			id_access_release(&s->tok.at[i]);
		s->tok.n = 0;
		bde_secret_free(s->tok.refresh_token);
		s->tok.refresh_token = NULL;
	}
	a = id_tokens_put(&s->tok, s->scope);
	if (a == NULL)
		goto nomem;
	bde_secret_free(a->access_token);
	a->access_token = nat;
	a->expires_on = time(NULL) + (time_t)an.expires_in;
	a->fresh = 1;
	free(a->granted);
	a->granted = granted;
	if (nrt != NULL) {
		bde_secret_free(s->tok.refresh_token);
		s->tok.refresh_token = nrt;
	}
	if (user != NULL) {
		free(s->tok.user);
		s->tok.user = user;
	}
	return BDE_OK;
nomem:
	bde_secret_free(nat);
	bde_secret_free(nrt);
	free(granted);
	free(user);
	return bde_error(errstr, BDE_ENOMEM, "out of memory");
}

/* Client credentials: the app's own token, kept in memory only. */
static enum bde_status
grant_client_credentials(struct id_session *s, char **errstr)
{
	struct http_response rs = { 0 };
	struct field f[5];
	char *assertion = NULL;
	enum bde_status st;
	size_t n = 0;

	f[n++] = (struct field){ "client_id", s->cfg.client_id };
	f[n++] = (struct field){ "scope", s->cfg.scope };
	f[n++] = (struct field){ "grant_type", "client_credentials" };
	if (s->cfg.client_cert != NULL) {
		/* a fresh assertion (new jti) for every request */
		st = jwt_client_assertion(s->cfg.client_cert,
		    s->cfg.client_key, s->cfg.assertion_rs256,
		    s->cfg.client_id, s->token_url, &assertion, errstr);
		if (st != BDE_OK)
			goto out;
		f[n++] = (struct field){ "client_assertion_type", JWT_BEARER };
		f[n++] = (struct field){ "client_assertion", assertion };
	} else {
		f[n++] = (struct field){ "client_secret",
		    s->cfg.client_secret };
	}
	st = post_form(s, s->token_url, f, n, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	if (rs.status != 200) {
		st = id_fail("the application sign-in was refused", rs.status,
		    rs.json, rs.request_id, s->token_url, errstr);
		goto out;
	}
	st = take_tokens(s, &rs, errstr);
out:
	bde_secret_free(assertion);
	http_response_release(&rs);
	return st;
}

/*
 * The permissions a scope string names, short ("BitlockerKey.Read.All",
 * not its resource URL; no OpenID Connect scopes), joined with sep.
 */
static void
scope_names(const char *scope, const char *sep, char *buf, size_t len)
{
	const char *p = scope != NULL ? scope : "", *w, *slash;
	size_t n, o = 0, i;
	int oidc;

	buf[0] = '\0';
	for (;;) {
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n == 0)
			break;
		w = p;
		p += n;
		slash = memrchr(w, '/', n);
		if (slash != NULL) {
			n -= (size_t)(slash + 1 - w);
			w = slash + 1;
		}
		for (oidc = 0, i = 0; oidc_scopes[i] != NULL; i++)
			oidc |= strlen(oidc_scopes[i]) == n &&
			    strncmp(oidc_scopes[i], w, n) == 0;
		if (oidc || o + n + strlen(sep) + 1 >= len)
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%.*s",
		    o ? sep : "", (int)n, w);
	}
}

/*
 * Refresh token grant for the current scope set; the new refresh token
 * replaces the old one.  *need_user is set when the service wants the
 * user first (consent to a scope asked for the first time).
 */
static enum bde_status
grant_refresh(struct id_session *s, int *need_user, char **errstr)
{
	struct http_response rs = { 0 };
	struct field f[4];
	enum bde_status st;
	const char *err;

	*need_user = 0;
	f[0] = (struct field){ "client_id", s->cfg.client_id };
	f[1] = (struct field){ "grant_type", "refresh_token" };
	f[2] = (struct field){ "refresh_token", s->tok.refresh_token };
	f[3] = (struct field){ "scope", s->scope };
	st = post_form(s, s->token_url, f, 4, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	if (rs.status != 200) {
		err = bde_json_string(rs.json, "error");
		if (id_needs_user(rs.json))
			*need_user = 1;
		else if (err != NULL && strcmp(err, "invalid_grant") == 0)
			st = id_fail("the sign-in has expired or was revoked; "
			    "run 'bdekey login'", rs.status, rs.json,
			    rs.request_id, s->token_url, errstr);
		else
			st = id_fail("refreshing the sign-in failed", rs.status,
			    rs.json, rs.request_id, s->token_url, errstr);
		goto out;
	}
	st = take_tokens(s, &rs, errstr);
out:
	http_response_release(&rs);
	return st;
}

/*
 * Poll the token endpoint for the device code until the user signs in
 * (the token answer in *rs, for the caller to take), declines, or the
 * code expires.
 */
static enum bde_status
poll_device_code(struct id_session *s, const char *device_code,
    long long interval, long long expires_in, struct http_response *rs,
    char **errstr)
{
	struct field f[3];
	enum bde_status st = BDE_OK;
	long long deadline = bde_now_ms() + expires_in * 1000, wait;
	const char *err;

	f[0] = (struct field){ "grant_type", DEVICE_CODE_GRANT };
	f[1] = (struct field){ "client_id", s->cfg.client_id };
	f[2] = (struct field){ "device_code", device_code };
	for (;;) {
		/* no poll after the code's end: it cannot succeed */
		wait = bde_wait_clamp(interval * 1000, 0, MAX_INTERVAL * 1000,
		    deadline);
		if (wait < 0) {
			st = bde_error(errstr, BDE_EAUTH, "the sign-in code "
			    "expired before anyone used it: run 'bdekey login' "
			    "again");
			goto out;
		}
		bde_sleep_ms(wait);
		http_response_release(rs);
		st = post_form(s, s->token_url, f, 3, rs, errstr);
		if (st != BDE_OK)
			goto out;
		if (rs->status == 200)
			break;
		err = bde_json_string(rs->json, "error");
		if (err != NULL && strcmp(err, "authorization_pending") == 0)
			continue;
		if (err != NULL && strcmp(err, "slow_down") == 0) {
			/* bounded: the wait is clamped, the code expires */
			if (interval < MAX_INTERVAL)
				interval += DEVICE_SLOW_DOWN;
			continue;
		}
		if (err != NULL && strcmp(err, "authorization_declined") == 0)
			st = id_fail("the sign-in was declined", rs->status,
			    rs->json, rs->request_id, s->token_url, errstr);
		else if (err != NULL && strcmp(err, "expired_token") == 0)
			st = id_fail("the sign-in code expired: run 'bdekey "
			    "login' again", rs->status, rs->json,
			    rs->request_id, s->token_url, errstr);
		else if (err != NULL &&
		    strcmp(err, "bad_verification_code") == 0)
			st = id_fail("the service did not accept the sign-in "
			    "code", rs->status, rs->json, rs->request_id,
			    s->token_url, errstr);
		else
			st = id_fail("the sign-in failed", rs->status, rs->json,
			    rs->request_id, s->token_url, errstr);
		goto out;
	}
out:
	return st;
}

/* Re-read the cache entry (nothing there: nothing signed in). */
static enum bde_status
reload(struct id_session *s, char **errstr)
{
	struct id_tokens t;
	enum bde_status st;

	memset(&t, 0, sizeof(t));
	st = id_cache_load(s->cache_path, &t, errstr);
	if (st == BDE_ENOTFOUND)
		st = BDE_OK;
	if (st != BDE_OK)
		return st;
	id_tokens_release(&s->tok);
	s->tok = t;
	s->cache_loaded = 1;
	return BDE_OK;
}

/*
 * A device code sign-in for the current scope set: the service's message
 * through show, then the tokens into the cache (replace: instead of what
 * it held; else added to it, under the lock).
 */
static enum bde_status
device_sign_in(struct id_session *s, void (*show)(const char *, void *),
    void *arg, int replace, char **errstr)
{
	struct http_response rs = { 0 };
	struct id_devicecode dc;
	struct field f[2];
	enum bde_status st;
	char *own = NULL, *code = NULL;
	const char *msg;
	int lock = -1;

	/* the new tokens will need a place: check it before anything */
	st = id_cache_dir_check(s->cache_path, errstr);
	if (st != BDE_OK)
		goto out;
	f[0] = (struct field){ "client_id", s->cfg.client_id };
	f[1] = (struct field){ "scope", s->scope };
	st = post_form(s, s->devicecode_url, f, 2, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	if (rs.status != 200) {
		st = id_fail("the sign-in could not start", rs.status, rs.json,
		    rs.request_id, s->devicecode_url, errstr);
		goto out;
	}
	st = id_devicecode_parse(rs.json, rs.request_id, &dc, errstr);
	if (st != BDE_OK)
		goto out;
	msg = dc.message;
	if (msg == NULL) {
		if (asprintf(&own, "To sign in, use a web browser to open the "
		    "page %s and enter the code %s to authenticate.",
		    dc.verification_uri, dc.user_code) < 0) {
			own = NULL;
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		msg = own;
	}
	code = strdup(dc.device_code);
	if (code == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	show(msg, arg);
	/* a person is typing a code: the command's deadline must wait */
	http_client_set_deadline(s->http, (int)dc.expires_in + 60);
	st = poll_device_code(s, code, dc.interval, dc.expires_in, &rs,
	    errstr);
	if (st != BDE_OK)
		goto out;
	st = id_cache_lock(s->cache_path, bde_now_ms() + ID_LOCK_WAIT_S * 1000LL,
	    &lock, errstr);
	/* a new sign-in replaces the cache, even a damaged one, unread */
	if (st == BDE_OK && replace) {
		id_tokens_release(&s->tok);
		s->cache_loaded = 1;
	} else if (st == BDE_OK) {
		st = reload(s, errstr);
	}
	if (st == BDE_OK)
		st = take_tokens(s, &rs, errstr);
	if (st == BDE_OK)
		st = id_cache_store(s->cache_path, &s->tok, errstr);
out:
	id_cache_unlock(lock);
	bde_secret_free(code);
	free(own);
	http_response_release(&rs);
	return st;
}

/*
 * A new token for a user's current scope set: the cache directory checked
 * first, then under the entry's lock the cache read again (another bdekey
 * may have renewed meanwhile), and the refresh token redeemed once.  When
 * the service wants the user (a permission never consented to), a device
 * code sign-in for the set follows, if the caller can show one.
 */
static enum bde_status
user_renew(struct id_session *s, char **errstr)
{
	enum bde_status st;
	char perms[512];
	int lock = -1, need_user = 0, had_any;

	/* a refresh token is redeemed only where its successor can be kept */
	st = id_cache_dir_check(s->cache_path, errstr);
	if (st != BDE_OK)
		goto out;
	st = id_cache_lock(s->cache_path, bde_now_ms() + ID_LOCK_WAIT_S * 1000LL,
	    &lock, errstr);
	if (st != BDE_OK)
		goto out;
	st = reload(s, errstr);
	if (st != BDE_OK || usable(s, current(s)))
		goto out;
	had_any = s->tok.n > 0;
	if (s->tok.refresh_token == NULL) {
		if (current(s) != NULL)
			st = bde_error(errstr, BDE_EAUTH, "the cached sign-in of "
			    "'%s' to tenant '%s' cannot be renewed (no refresh "
			    "token: offline_access was not granted): run "
			    "'bdekey login'", s->tok.user != NULL ?
			    s->tok.user : "the user", s->cfg.tenant);
		else if (had_any)
			need_user = 1;
		else
			st = bde_error(errstr, BDE_EAUTH, "not signed in to "
			    "tenant '%s': run 'bdekey login'", s->cfg.tenant);
		goto out;
	}
	st = grant_refresh(s, &need_user, errstr);
	if (st == BDE_OK && !need_user)
		st = id_cache_store(s->cache_path, &s->tok, errstr);
out:
	id_cache_unlock(lock);
	if (st != BDE_OK || !need_user)
		return st;
	/* incremental consent: this scope set needs the user once */
	if (s->cfg.show == NULL) {
		scope_names(s->scope, ", ", perms, sizeof(perms));
		return bde_error(errstr, BDE_EAUTH, "the cached sign-in of "
		    "'%s' to tenant '%s' does not include %s, and getting it "
		    "needs you to sign in (consent) on a terminal",
		    s->tok.user != NULL ? s->tok.user : "the user",
		    s->cfg.tenant, perms);
	}
	return device_sign_in(s, s->cfg.show, s->cfg.show_arg, 0, errstr);
}

/* Read the cache once per session (delegated). */
static enum bde_status
load_once(struct id_session *s, char **errstr)
{
	enum bde_status st;

	if (s->cache_loaded)
		return BDE_OK;
	st = id_cache_load(s->cache_path, &s->tok, errstr);
	if (st != BDE_OK && st != BDE_ENOTFOUND)
		return st;
	s->cache_loaded = 1;
	return BDE_OK;
}

enum bde_status
id_access_token(struct id_session *s, const char **token, char **errstr)
{
	enum bde_status st;

	*token = NULL;
	if (id_session_is_app(s)) {
		if (!usable(s, current(s))) {
			st = grant_client_credentials(s, errstr);
			if (st != BDE_OK)
				return st;
		}
	} else {
		st = load_once(s, errstr);
		if (st != BDE_OK)
			return st;
		if (!usable(s, current(s))) {
			st = user_renew(s, errstr);
			if (st != BDE_OK)
				return st;
		}
	}
	if (!usable(s, current(s)))
		return bde_error(errstr, BDE_EPROTO, "the identity platform "
		    "answered with an access token that expires at once");
	*token = current(s)->access_token;
	return BDE_OK;
}

enum bde_status
id_renew(struct id_session *s, const char **token, char **errstr)
{
	struct id_access *a = current(s);

	*token = NULL;
	/* refused by the resource: not used again, even if the cache has it */
	if (a != NULL && a->access_token != NULL) {
		bde_secret_free(s->rejected);
		s->rejected = strdup(a->access_token);
		if (s->rejected == NULL)
			return bde_error(errstr, BDE_ENOMEM, "out of memory");
		a->expires_on = 0;
	}
	return id_access_token(s, token, errstr);
}

void
id_session_use_scope(struct id_session *s, const char *scope)
{
	if (!id_session_is_app(s) && scope != NULL)
		s->scope = scope;
}

enum bde_status
id_session_check(struct id_session *s, char **errstr)
{
	enum bde_status st;
	const char *token;

	if (id_session_is_app(s))
		return id_access_token(s, &token, errstr);
	st = load_once(s, errstr);
	if (st != BDE_OK)
		return st;
	if (s->tok.refresh_token == NULL && s->tok.n == 0)
		return bde_error(errstr, BDE_EAUTH, "not signed in to tenant "
		    "'%s': run 'bdekey login'", s->cfg.tenant);
	return BDE_OK;
}

char *
id_permissions(struct id_session *s)
{
	struct id_access *a = current(s);
	char *p, buf[1024];

	if (a == NULL || a->access_token == NULL)
		return NULL;
	p = jwt_permissions(a->access_token);
	if (p != NULL || a->granted == NULL)
		return p;
	/* an opaque token: what the service said it granted */
	scope_names(a->granted, " ", buf, sizeof(buf));
	return buf[0] != '\0' ? strdup(buf) : NULL;
}

enum bde_status
id_device_login(struct id_session *s,
    void (*show)(const char *message, void *arg), void *arg, char **errstr)
{
	if (id_session_is_app(s))
		return bde_error(errstr, BDE_ECONFIG, "an application (client "
		    "secret or certificate) does not sign in interactively");
	/* a new sign-in replaces whatever the cache held */
	return device_sign_in(s, show, arg, 1, errstr);
}

enum bde_status
id_logout(const struct id_config *cfg, int *removed, char **errstr)
{
	enum bde_status st;
	char *path = NULL, *lock = NULL;

	*removed = 0;
	st = id_cache_path(cfg, &path, errstr);
	if (st != BDE_OK)
		goto out;
	if (unlink(path) == 0)
		*removed = 1;
	else if (errno != ENOENT)
		st = bde_error(errstr, BDE_EIO, "cannot remove token cache "
		    "'%s': %s", path, strerror(errno));
	/* the lock file holds nothing; left behind it is harmless */
	if (asprintf(&lock, "%s.lock", path) >= 0)
		unlink(lock);
	else
		lock = NULL;
out:
	free(lock);
	free(path);
	return st;
}
