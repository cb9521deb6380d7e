/*
 * graph.h - the Microsoft Graph backend: bitlockerRecoveryKey lookups,
 * sign-in helpers for cmd/, and the Intune rotation trigger.  Built on
 * http/ (HTTPS + JSON) and identity/ (OAuth, token cache), which know
 * nothing of Graph.
 */
#ifndef BDEKEY_GRAPH_H
#define BDEKEY_GRAPH_H

#include "core/core.h"

/* The public client id of "Microsoft Graph Command Line Tools". */
#define GRAPH_DEFAULT_CLIENT_ID "14d82eec-204b-4c2f-b7e8-296a70dab67e"

/*
 * Settings, filled by cmd/ (options > environment > config file); every
 * pointer is borrowed and must outlive the backend.  NULL/0 = default.
 * Nothing below cmd/ reads the environment.
 */
struct graph_settings {
	const char *tenant;		/* required: name or GUID */
	const char *client_id;		/* default GRAPH_DEFAULT_CLIENT_ID */
	const char *cloud;		/* global (default), usgov, dod, china */
	const char *authority;		/* base URL, overrides the cloud's */
	const char *graph;		/* base URL, overrides the cloud's */
	const char *ca_bundle;		/* extra CA file for HTTPS */
	const char *client_secret;	/* secret: app sign-in with a secret */
	const char *client_cert;	/* PEM certificate: app sign-in with */
	const char *client_key;		/* ... a signed JWT assertion */
	int assertion_rs256;		/* RS256 + x5t instead of PS256 */
	const char *cache_dir;		/* token cache directory, chosen by
					   cmd/; NULL: no home, so a user's
					   sign-in is BDE_ECONFIG */
	int timeout;			/* seconds per request; 0 = 30 */
	int deadline;			/* seconds for a whole command; 0 = 300 */
	/*
	 * A key-ID prefix scan reads every key page by page; progress, when
	 * set, is called after each page with the keys seen and matched so
	 * far (cmd/ decides whether to print; backends never print).
	 */
	void (*progress)(void *arg, unsigned long scanned,
	    unsigned long matched);
	void *progress_arg;
};

/*
 * Lookups (out->by_device, out->by_keyid) follow core.h, with one
 * addition: when BDE_WANT_PASSWORD is set and Graph refuses a key's
 * password (403: a BitlockerKey.ReadBasic.All token, or a user without a
 * role that may read keys), that key is still appended with pw =
 * BDE_PW_DENIED and the lookup returns BDE_EPERM, *errstr naming the
 * missing permission.  Without BDE_WANT_PASSWORD no password is ever
 * requested: every such read writes an audit event in Entra ID.
 *
 * Optional operations offered: find_device (the one Intune managed
 * device for an Entra device name or id; every result of the
 * managedDevices filter is re-checked) and rotate (POST
 * rotateBitLockerKeys, beta; BDE_OK on 2xx).
 *
 * Open the backend with a usable token: the app's (secret or
 * certificate), else the cached delegated token, refreshed silently when
 * needed.  Not signed in: BDE_EAUTH with "run 'bdekey login'".  Other
 * errors: BDE_ECONFIG, BDE_EUNREACH, BDE_EPROTO, BDE_ENOMEM.
 */
enum bde_status graph_open(const struct graph_settings *s,
    struct bde_backend *out, char **errstr);

/*
 * Interactive sign-in with the device code flow.  show() is called once
 * with the service's sign-in message (URL and code) for cmd/ to print on
 * stderr; then this polls until the user signs in, declines or the code
 * expires, and caches the tokens (0600, atomically).  *who receives the
 * signed-in user's name (caller frees).  Errors: BDE_EAUTH (declined,
 * expired), BDE_ECONFIG, BDE_EUNREACH, BDE_EPROTO, BDE_EIO.
 */
enum bde_status graph_login(const struct graph_settings *s,
    void (*show)(const char *message, void *arg), void *arg, char **who,
    char **errstr);

/* Remove the cached tokens for these settings.  BDE_OK when none existed. */
enum bde_status graph_logout(const struct graph_settings *s, char **errstr);

#endif
