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
	/*
	 * Users sign in for lookups with BitlockerKey.ReadBasic.All instead
	 * of BitlockerKey.Read.All (a tenant that consented to metadata
	 * only): keys are listed, passwords never shown.
	 */
	int read_basic;
	/*
	 * Incremental consent: a command that needs a permission the cached
	 * sign-in lacks (rotate: the Intune scope) signs the user in for it
	 * with the device code flow, and sign_in shows the service's message
	 * (cmd/ prints it on stderr, as for login).  NULL: such a command
	 * fails with BDE_EAUTH saying what it needs.
	 */
	void (*sign_in)(const char *message, void *arg);
	void *sign_in_arg;
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
 * With BDE_WANT_PASSWORD a key whose read answers 200 without "key" (what
 * Graph does for a BitlockerKey.ReadBasic.All token) counts as withheld
 * too.  The message names what the access token has (its scp or roles
 * claims, decoded only for the message) and what it lacks.  A lookup
 * that fails on a later page returns that error, never a part of the
 * keys; paging stops with BDE_EPROTO at a nextLink seen before or past
 * GRAPH_MAX_PAGES pages or GRAPH_MAX_ITEMS items; a 2xx answer without a
 * JSON body is BDE_EPROTO naming what was asked.
 *
 * Optional operations offered: find_device (the one Intune managed
 * device for an Entra device name or id: every id is checked to be a
 * GUID, every result of the managedDevices filter is re-checked, and the
 * names Entra and Intune give must be the one asked for, else
 * BDE_EPROTO) and rotate (POST rotateBitLockerKeys, beta, no body; BDE_OK
 * on 2xx; sent once on a connection of its own: a 5xx or a lost answer is
 * BDE_EUNREACH saying that the outcome is unknown).
 *
 * Scopes (delegated): lookups ask for BitlockerKey.Read.All (or
 * .ReadBasic.All, read_basic) and Device.Read.All; find_device and rotate
 * ask for Device.Read.All and DeviceManagementManagedDevices.ReadWrite.All,
 * with its own token (see sign_in).
 *
 * Open the backend with a sign-in: the app's token (secret or
 * certificate), else the cached delegated tokens, renewed silently when a
 * request needs it.  Not signed in: BDE_EAUTH with "run 'bdekey login'".
 * Other errors: BDE_ECONFIG, BDE_EUNREACH, BDE_EPROTO, BDE_ENOMEM.
 */
enum bde_status graph_open(const struct graph_settings *s,
    struct bde_backend *out, char **errstr);

/*
 * Interactive sign-in with the device code flow, for what lookups need
 * (BitlockerKey.Read.All or .ReadBasic.All, Device.Read.All; never the
 * Intune scope, which rotate asks for when first used).  show() is called
 * once with the service's sign-in message (URL and code) for cmd/ to
 * print on stderr; then this polls until the user signs in, declines or
 * the code expires, and caches the tokens (0600, atomically).  *who
 * receives the signed-in user's name (caller frees).  Errors: BDE_EAUTH
 * (declined, expired), BDE_ECONFIG, BDE_EUNREACH, BDE_EPROTO, BDE_EIO.
 */
enum bde_status graph_login(const struct graph_settings *s,
    void (*show)(const char *message, void *arg), void *arg, char **who,
    char **errstr);

/* Remove the cached tokens for these settings.  BDE_OK when none existed. */
enum bde_status graph_logout(const struct graph_settings *s, char **errstr);

#endif
