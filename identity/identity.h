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
 * that group or others may read is refused.  It holds the user's name,
 * the refresh token and one access token per scope set (incremental
 * consent: each command asks for the permissions it needs, and a lookup's
 * token never carries a rotation's).  A token is renewed under a lock on
 * the cache entry, and only once the cache directory is known to be able
 * to keep the new refresh token.  Application tokens are kept in memory
 * only.
 */
#ifndef BDEKEY_IDENTITY_H
#define BDEKEY_IDENTITY_H

#include <time.h>

#include "core/core.h"
#include "http/http.h"

/* A cached access token is renewed this long before it expires. */
#define ID_EXPIRY_MARGIN 300
/* How long to wait for another bdekey renewing the same sign-in. */
#define ID_LOCK_WAIT_S 60

/* A national cloud's endpoints (cloud.c): base URLs, no trailing slash. */
struct id_cloud {
	const char *name;		/* global, usgov, dod, china */
	const char *login;		/* the identity platform */
	const char *graph;		/* Microsoft Graph */
	const char *vault_suffix;	/* ".vault.azure.net" */
	const char *vault_resource;	/* Key Vault's token resource */
	const char *arm;		/* Azure Resource Manager */
};

/*
 * The cloud called name (ignoring case; NULL: global), static; NULL when
 * there is none of that name.
 */
const struct id_cloud *id_cloud_find(const char *name);

/* Settings; every pointer is borrowed and must outlive the session. */
struct id_config {
	const char *authority;	/* base URL: {authority}/{tenant}/oauth2/v2.0 */
	const char *tenant;	/* name or GUID */
	const char *client_id;
	const char *scope;	/* space-separated scopes to ask for first
				   (an app: "{resource}/.default") */
	const char *client_secret;	/* secret: app sign-in with a secret */
	const char *client_cert;	/* PEM: app sign-in with an assertion */
	const char *client_key;		/* PEM private key of client_cert */
	int assertion_rs256;	/* RS256 + x5t instead of PS256 + x5t#S256 */
	const char *cache_dir;	/* token cache directory; NULL: none (a
				   user's sign-in is then BDE_ECONFIG) */
	/*
	 * Called with the service's sign-in message when a scope set needs
	 * the user (a permission the cached sign-in was never granted):
	 * then a device code sign-in for that set follows.  NULL: such a
	 * scope set is BDE_EAUTH.
	 */
	void (*show)(const char *message, void *arg);
	void *show_arg;
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
 * Ask for scope (borrowed: it must outlive the session) from now on: a
 * user's tokens are kept per scope set, so switching back and forth costs
 * nothing once each has a token.  An application's .default scope covers
 * everything it was granted: this is a no-op for it.
 */
void id_session_use_scope(struct id_session *s, const char *scope);

/*
 * Whether there is a sign-in to work with, without renewing anything for
 * a user (the cache is read: a refresh token or an access token for any
 * scope set); an application gets its token now, so a wrong secret shows
 * before any lookup.  A user who never signed in: BDE_EAUTH "run 'bdekey
 * login'".  Other errors as id_access_token.
 */
enum bde_status id_session_check(struct id_session *s, char **errstr);

/*
 * The permissions the current access token carries, for messages: its
 * "scp" or "roles" claims (decoded, not verified), else what the service
 * said it granted, as short names ("BitlockerKey.ReadBasic.All
 * Device.Read.All").  A new string the caller frees, or NULL when there
 * is no token or nothing is known.
 */
char *id_permissions(struct id_session *s);

/*
 * A usable access token for the current scope set in *token (owned by
 * the session, valid until the next call on it): the one in memory or in
 * the cache while it has more than ID_EXPIRY_MARGIN left (one received by
 * this process: until just before it expires), else a new one: client
 * credentials for an app; for a user, under the cache entry's lock, the
 * refresh token (the cache is updated), or, when the service says the
 * user must consent first and id_config.show is set, a device code
 * sign-in for that scope set.  A user who never signed in: BDE_EAUTH "run
 * 'bdekey login'".  Errors: BDE_EAUTH (with the service's error, first
 * line of its description and correlation id), BDE_ECONFIG (the cache
 * directory cannot keep a token: checked before anything is redeemed),
 * BDE_EIO (cache), BDE_EUNREACH, BDE_EPROTO (an answer without a usable
 * access token, e.g. one with characters RFC 6750 does not allow),
 * BDE_ENOMEM.
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
 * Sign a user in with the device code flow (RFC 8628) for the current
 * scope set: show(message, arg) once with the service's instructions,
 * then poll at the interval it gives (slow_down adds 5 s) until the user
 * signs in, declines or the code expires, and cache the tokens (they
 * replace what the cache held).  Errors: BDE_EAUTH (declined, expired,
 * refused), BDE_ECONFIG (an app session), BDE_EIO, BDE_EUNREACH,
 * BDE_EPROTO, BDE_ENOMEM.
 */
enum bde_status id_device_login(struct id_session *s,
    void (*show)(const char *message, void *arg), void *arg, char **errstr);

/* The signed-in user's name (UPN), or NULL (an app, or not known). */
const char *id_user(const struct id_session *s);

/*
 * Remove the cache file (and its lock file) for cfg's tenant / client /
 * authority.  *removed is set to 1 when there was one.  Errors: BDE_EIO,
 * BDE_ECONFIG.
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
