/*
 * identity.h - OAuth 2.0 against the Microsoft identity platform, with the
 * resource and scope as parameters (nothing here knows Graph): the device
 * code flow and refresh tokens for a signed-in user, client credentials
 * (secret or certificate assertion) for an application, and the token
 * cache.
 *
 * Token cache: one file per tenant / client / authority in the directory
 * cmd/ chooses (id_config.cache_dir), named by a hash of the three;
 * directory 0700, files 0600, written atomically.  A cache file
 * that group or others may read is refused.  It holds the delegated
 * access token, its expiry and scope, the refresh token and the user's
 * name.  Application tokens are kept in memory only.
 */
#ifndef BDEKEY_IDENTITY_H
#define BDEKEY_IDENTITY_H

#include <time.h>

#include "core/core.h"
#include "http/http.h"

/* An access token is renewed this long before it expires. */
#define ID_EXPIRY_MARGIN 300

/* Settings; every pointer is borrowed and must outlive the session. */
struct id_config {
	const char *authority;	/* base URL: {authority}/{tenant}/oauth2/v2.0 */
	const char *tenant;	/* name or GUID */
	const char *client_id;
	const char *scope;	/* space-separated scopes to ask for */
	const char *client_secret;	/* secret: app sign-in with a secret */
	const char *client_cert;	/* PEM: app sign-in with an assertion */
	const char *client_key;		/* PEM private key of client_cert */
	int assertion_rs256;	/* RS256 + x5t instead of PS256 + x5t#S256 */
	const char *cache_dir;	/* token cache directory; NULL: none (a
				   user's sign-in is then BDE_ECONFIG) */
};

struct id_session;

/*
 * A session on http (borrowed; it must outlive the session).  Nothing is
 * sent yet.  *out is freed with id_session_free.  Errors: BDE_ENOMEM,
 * BDE_ECONFIG (no tenant or client id).
 */
enum bde_status id_session_new(const struct id_config *cfg,
    struct http_client *http, struct id_session **out, char **errstr);

/* Wipe the tokens and free s (NULL is fine). */
void id_session_free(struct id_session *s);

/* Whether the session signs in as an application (secret or certificate). */
int id_session_is_app(const struct id_session *s);

/*
 * A usable access token in *token (owned by the session, valid until the
 * next call on it): the one in memory or in the cache while it has more
 * than ID_EXPIRY_MARGIN left, else a new one (refresh token for a user,
 * client credentials for an app; the cache is updated).  A user who never
 * signed in: BDE_EAUTH "run 'bdekey login'".  Errors: BDE_EAUTH (with the
 * service's error, first line of its description and correlation id),
 * BDE_ECONFIG, BDE_EIO (cache), BDE_EUNREACH, BDE_EPROTO, BDE_ENOMEM.
 */
enum bde_status id_access_token(struct id_session *s, const char **token,
    char **errstr);

/*
 * Forget the current access token and get a new one, for a resource that
 * answered 401.  Same errors as id_access_token.
 */
enum bde_status id_renew(struct id_session *s, const char **token,
    char **errstr);

/*
 * Sign a user in with the device code flow (RFC 8628): show(message, arg)
 * once with the service's instructions, then poll at the interval it
 * gives (slow_down adds 5 s) until the user signs in, declines or the
 * code expires, and cache the tokens.  Errors: BDE_EAUTH (declined,
 * expired, refused), BDE_ECONFIG (an app session), BDE_EIO,
 * BDE_EUNREACH, BDE_EPROTO, BDE_ENOMEM.
 */
enum bde_status id_device_login(struct id_session *s,
    void (*show)(const char *message, void *arg), void *arg, char **errstr);

/* The signed-in user's name (UPN), or NULL (an app, or not known). */
const char *id_user(const struct id_session *s);

/*
 * Remove the cache file for cfg's tenant / client / authority.  *removed
 * is set to 1 when there was one.  Errors: BDE_EIO, BDE_ECONFIG.
 */
enum bde_status id_logout(const struct id_config *cfg, int *removed,
    char **errstr);

/*
 * The cache file path for cfg into a new string the caller frees.
 * Errors: BDE_ECONFIG (cfg->cache_dir is NULL: "no directory for the
 * token cache"), BDE_ENOMEM.
 */
enum bde_status id_cache_path(const struct id_config *cfg, char **path,
    char **errstr);

#endif
