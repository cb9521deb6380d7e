/*
 * identity.c - OAuth 2.0 grants against the Microsoft identity platform:
 * device code (RFC 8628), refresh token, client credentials with a secret
 * or a certificate assertion (RFC 7523).
 */
#include "identity/identity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "core/clock.h"
#include "core/json.h"
#include "identity/cache.h"
#include "identity/jwt.h"

#define DEVICE_CODE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define FORM_TYPE "application/x-www-form-urlencoded"
/* RFC 8628 3.2 and 3.5: defaults and the slow_down increment */
#define DEVICE_DEFAULT_INTERVAL 5
#define DEVICE_DEFAULT_EXPIRES 900
#define DEVICE_SLOW_DOWN 5
/*
 * Bounds on what the service says (beyond them its value is not used):
 * a token's life, a device code's life, the wait between polls.
 */
#define MAX_EXPIRES_IN (7 * 86400)
#define MAX_DEVICE_EXPIRES 86400
#define MAX_INTERVAL 300
/* A token answer without a usable expires_in: assume the usual hour. */
#define DEFAULT_EXPIRES_IN 3600

struct id_session {
	struct id_config cfg;
	struct http_client *http;
	char *token_url;
	char *devicecode_url;
	char *cache_path;	/* delegated sessions only */
	int cache_loaded;
	struct id_tokens tok;
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

/*
 * An identity platform error in words: "error: first line of the
 * description (correlation id X)".  Returns the status for it: EAUTH for
 * the service's verdicts, EUNREACH when it is unavailable, EPROTO when
 * the answer is not the documented error JSON.
 */
static enum bde_status
id_fail(const char *what, const struct http_response *rs, const char *url,
    char **errstr)
{
	const char *err = bde_json_string(rs->json, "error");
	const char *desc = bde_json_string(rs->json, "error_description");
	const char *corr = bde_json_string(rs->json, "correlation_id");
	char label[1024];
	int dlen;

	if (err == NULL) {
		http_url_label(url, label, sizeof(label));
		return bde_error(errstr, rs->status >= 500 ? BDE_EUNREACH :
		    BDE_EPROTO, "%s: HTTP %ld from '%s' "
		    "(client-request-id %s)", what, rs->status, label,
		    rs->request_id);
	}
	if (desc == NULL)
		desc = "";
	/* descriptions go on with "\r\nTrace ID: ..." lines */
	dlen = (int)strcspn(desc, "\r\n");
	return bde_error(errstr, strcmp(err, "temporarily_unavailable") == 0 ?
	    BDE_EUNREACH : BDE_EAUTH, "%s: %s%s%.*s (correlation id %s)",
	    what, err, dlen ? ": " : "", dlen, desc,
	    corr != NULL ? corr : rs->request_id);
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

/*
 * Take the tokens out of a successful token answer into s->tok: the
 * access token, its expiry, a new refresh token (replacing the old one:
 * refresh tokens are rotated) and the user.
 */
static enum bde_status
take_tokens(struct id_session *s, const struct http_response *rs,
    char **errstr)
{
	const char *at = bde_json_string(rs->json, "access_token");
	const char *rt = bde_json_string(rs->json, "refresh_token");
	const char *idt = bde_json_string(rs->json, "id_token");
	char *nat = NULL, *nrt = NULL, *scope = NULL, *user = NULL;
	long long expires_in;

	if (at == NULL || at[0] == '\0')
		return bde_error(errstr, BDE_EPROTO, "the token answer has no "
		    "access_token (client-request-id %s)", rs->request_id);
	/* expires_in has been seen as a number and as a string */
	if (bde_json_number(rs->json, "expires_in", 1, MAX_EXPIRES_IN,
	    &expires_in) != BDE_NUM_OK)
		expires_in = DEFAULT_EXPIRES_IN;
	nat = strdup(at);
	nrt = rt != NULL ? strdup(rt) : NULL;
	scope = s->cfg.scope != NULL ? strdup(s->cfg.scope) : NULL;
	user = idt != NULL ? id_token_user(idt) : NULL;
	if (nat == NULL || (rt != NULL && nrt == NULL) ||
	    (s->cfg.scope != NULL && scope == NULL)) {
		bde_secret_free(nat);
		bde_secret_free(nrt);
		free(scope);
		free(user);
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	bde_secret_free(s->tok.access_token);
	s->tok.access_token = nat;
	s->tok.expires_on = time(NULL) + (time_t)expires_in;
	if (nrt != NULL) {
		bde_secret_free(s->tok.refresh_token);
		s->tok.refresh_token = nrt;
	}
	free(s->tok.scope);
	s->tok.scope = scope;
	if (user != NULL) {
		free(s->tok.user);
		s->tok.user = user;
	}
	return BDE_OK;
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
		st = id_fail("the application sign-in was refused", &rs,
		    s->token_url, errstr);
		goto out;
	}
	st = take_tokens(s, &rs, errstr);
out:
	bde_secret_free(assertion);
	http_response_release(&rs);
	return st;
}

static enum bde_status
save_cache(struct id_session *s, char **errstr)
{
	return id_cache_store(s->cache_path, &s->tok, errstr);
}

/* Refresh token grant; the new refresh token replaces the old one. */
static enum bde_status
grant_refresh(struct id_session *s, char **errstr)
{
	struct http_response rs = { 0 };
	struct field f[4];
	enum bde_status st;
	const char *err;

	f[0] = (struct field){ "client_id", s->cfg.client_id };
	f[1] = (struct field){ "grant_type", "refresh_token" };
	f[2] = (struct field){ "refresh_token", s->tok.refresh_token };
	f[3] = (struct field){ "scope", s->cfg.scope };
	st = post_form(s, s->token_url, f, 4, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	if (rs.status != 200) {
		err = bde_json_string(rs.json, "error");
		if (err != NULL && strcmp(err, "invalid_grant") == 0)
			st = id_fail("the sign-in has expired or was revoked; "
			    "run 'bdekey login'", &rs, s->token_url, errstr);
		else
			st = id_fail("refreshing the sign-in failed", &rs,
			    s->token_url, errstr);
		goto out;
	}
	st = take_tokens(s, &rs, errstr);
	if (st == BDE_OK)
		st = save_cache(s, errstr);
out:
	http_response_release(&rs);
	return st;
}

/* Whether the token in memory is good for the configured scope. */
static int
token_usable(const struct id_session *s)
{
	if (s->tok.access_token == NULL ||
	    s->tok.expires_on - ID_EXPIRY_MARGIN <= time(NULL))
		return 0;
	if (s->cfg.scope == NULL)
		return 1;
	return s->tok.scope != NULL && strcmp(s->tok.scope, s->cfg.scope) == 0;
}

/* Get a new token: client credentials, or the refresh token. */
static enum bde_status
new_token(struct id_session *s, char **errstr)
{
	if (id_session_is_app(s))
		return grant_client_credentials(s, errstr);
	if (s->tok.refresh_token == NULL && s->tok.access_token != NULL)
		return bde_error(errstr, BDE_EAUTH, "the cached sign-in of '%s' "
		    "to tenant '%s' cannot be renewed (no refresh token: "
		    "offline_access was not granted): run 'bdekey login'",
		    s->tok.user != NULL ? s->tok.user : "the user",
		    s->cfg.tenant);
	if (s->tok.refresh_token == NULL)
		return bde_error(errstr, BDE_EAUTH, "not signed in to tenant "
		    "'%s': run 'bdekey login'", s->cfg.tenant);
	return grant_refresh(s, errstr);
}

enum bde_status
id_access_token(struct id_session *s, const char **token, char **errstr)
{
	enum bde_status st;

	*token = NULL;
	if (!id_session_is_app(s) && !s->cache_loaded) {
		st = id_cache_load(s->cache_path, &s->tok, errstr);
		if (st != BDE_OK && st != BDE_ENOTFOUND)
			return st;
		s->cache_loaded = 1;
	}
	if (!token_usable(s)) {
		st = new_token(s, errstr);
		if (st != BDE_OK)
			return st;
	}
	*token = s->tok.access_token;
	return BDE_OK;
}

enum bde_status
id_renew(struct id_session *s, const char **token, char **errstr)
{
	*token = NULL;
	bde_secret_free(s->tok.access_token);
	s->tok.access_token = NULL;
	s->tok.expires_on = 0;
	return id_access_token(s, token, errstr);
}

/*
 * Poll the token endpoint for the device code until the user signs in
 * (tokens in s->tok), declines, or the code expires.
 */
static enum bde_status
poll_device_code(struct id_session *s, const char *device_code,
    long long interval, long long expires_in, char **errstr)
{
	struct http_response rs = { 0 };
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
		http_response_release(&rs);
		st = post_form(s, s->token_url, f, 3, &rs, errstr);
		if (st != BDE_OK)
			goto out;
		if (rs.status == 200)
			break;
		err = bde_json_string(rs.json, "error");
		if (err != NULL && strcmp(err, "authorization_pending") == 0)
			continue;
		if (err != NULL && strcmp(err, "slow_down") == 0) {
			interval += DEVICE_SLOW_DOWN;
			continue;
		}
		if (err != NULL && strcmp(err, "authorization_declined") == 0)
			st = id_fail("the sign-in was declined", &rs,
			    s->token_url, errstr);
		else if (err != NULL && strcmp(err, "expired_token") == 0)
			st = id_fail("the sign-in code expired: run 'bdekey "
			    "login' again", &rs, s->token_url, errstr);
		else if (err != NULL &&
		    strcmp(err, "bad_verification_code") == 0)
			st = id_fail("the service did not accept the sign-in "
			    "code", &rs, s->token_url, errstr);
		else
			st = id_fail("the sign-in failed", &rs, s->token_url,
			    errstr);
		goto out;
	}
	st = take_tokens(s, &rs, errstr);
out:
	http_response_release(&rs);
	return st;
}

enum bde_status
id_device_login(struct id_session *s,
    void (*show)(const char *message, void *arg), void *arg, char **errstr)
{
	struct http_response rs = { 0 };
	struct field f[2];
	enum bde_status st;
	const char *msg, *uri, *code, *device_code;
	char *own = NULL, *dc = NULL;
	long long interval, expires_in;

	if (id_session_is_app(s)) {
		st = bde_error(errstr, BDE_ECONFIG, "an application (client "
		    "secret or certificate) does not sign in interactively");
		goto out;
	}
	f[0] = (struct field){ "client_id", s->cfg.client_id };
	f[1] = (struct field){ "scope", s->cfg.scope };
	st = post_form(s, s->devicecode_url, f, 2, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	if (rs.status != 200) {
		st = id_fail("the sign-in could not start", &rs,
		    s->devicecode_url, errstr);
		goto out;
	}
	device_code = bde_json_string(rs.json, "device_code");
	code = bde_json_string(rs.json, "user_code");
	uri = bde_json_string(rs.json, "verification_uri");
	msg = bde_json_string(rs.json, "message");
	if (device_code == NULL || (msg == NULL && (code == NULL ||
	    uri == NULL))) {
		st = bde_error(errstr, BDE_EPROTO, "the device code answer "
		    "lacks device_code, user_code or verification_uri "
		    "(client-request-id %s)", rs.request_id);
		goto out;
	}
	if (msg == NULL) {
		if (asprintf(&own, "To sign in, use a web browser to open the "
		    "page %s and enter the code %s to authenticate.", uri,
		    code) < 0) {
			own = NULL;
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		msg = own;
	}
	if (bde_json_number(rs.json, "interval", 1, MAX_INTERVAL,
	    &interval) != BDE_NUM_OK)
		interval = DEVICE_DEFAULT_INTERVAL;
	if (bde_json_number(rs.json, "expires_in", 1, MAX_DEVICE_EXPIRES,
	    &expires_in) != BDE_NUM_OK)
		expires_in = DEVICE_DEFAULT_EXPIRES;
	dc = strdup(device_code);
	if (dc == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	show(msg, arg);
	/* a person is typing a code: the command's deadline must wait */
	http_client_set_deadline(s->http, (int)expires_in + 60);
	/* a new sign-in replaces whatever the cache held */
	id_tokens_release(&s->tok);
	s->cache_loaded = 1;
	st = poll_device_code(s, dc, interval, expires_in, errstr);
	if (st == BDE_OK)
		st = save_cache(s, errstr);
out:
	bde_secret_free(dc);
	free(own);
	http_response_release(&rs);
	return st;
}

enum bde_status
id_logout(const struct id_config *cfg, int *removed, char **errstr)
{
	enum bde_status st;
	char *path = NULL;

	*removed = 0;
	st = id_cache_path(cfg, &path, errstr);
	if (st != BDE_OK)
		goto out;
	if (unlink(path) == 0)
		*removed = 1;
	else if (errno != ENOENT)
		st = bde_error(errstr, BDE_EIO, "cannot remove token cache "
		    "'%s': %s", path, strerror(errno));
out:
	free(path);
	return st;
}
