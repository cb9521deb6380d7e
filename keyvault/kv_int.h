/*
 * kv_int.h - what the files of keyvault/ share: the backend's state and
 * sessions (kv.c), requests, challenges, errors and paging (request.c),
 * the pure handlers of what the vault and ARM send (parse.c, also used
 * by the fuzz target), the routes (find.c) and fetching (fetch.c).
 * Not for use outside keyvault/ (tests excepted).
 */
#ifndef BDEKEY_KV_INT_H
#define BDEKEY_KV_INT_H

#include <stdint.h>

#include <cJSON.h>

#include "core/json.h"
#include "http/http.h"
#include "identity/identity.h"
#include "keyvault/keyvault.h"

/*
 * One listing reads at most this many pages and items, however the
 * vault pages: a vault of 100,000 secrets is 4,000 pages of 25.
 */
#define KV_MAX_PAGES 40000
#define KV_MAX_ITEMS 1000000
/* Versions of one secret read at most (ADE rotates rarely). */
#define KV_MAX_VERSIONS 10000

/* Origins ("https://host[:port]") are at most this long, NUL included. */
#define KV_ORIGIN_MAX 300
/* Key Vault object names: 1-127 letters, digits and dashes. */
#define KV_NAME_MAX 127
/* Object versions: 32 hex digits. */
#define KV_VERSION_LEN 32

/* Token sessions: the vault resource(s) and ARM. */
#define KV_MAX_SESS 4
/* Vault hosts whose challenge was accepted. */
#define KV_MAX_ORIGINS 16

/* One identity session for one resource. */
struct kv_sess {
	char *resource;		/* "https://vault.azure.net", no slash */
	char *scope;		/* what is asked for */
	struct id_config idc;
	struct id_session *id;
};

/* A vault host whose challenge named an acceptable resource. */
struct kv_origin {
	char *origin;		/* normalised (kv_origin_norm) */
	struct kv_sess *sess;
};

struct kv {
	char *vault;		/* configured vault base URL, or NULL */
	char *vault_resource;	/* normalised: lower case, no slash */
	char *arm;		/* ARM base URL, no trailing slash */
	char *arm_resource;
	char *subscription;
	char *authority;
	char *ident;		/* kv_identity's answer */
	int app;		/* signs in as an application */
	struct id_config base;	/* sign-in settings; scope per session */
	struct http_client *http;
	struct kv_sess sess[KV_MAX_SESS];
	size_t nsess;
	struct kv_origin ok[KV_MAX_ORIGINS];
	size_t nok;
};

/*
 * The session for ARM, or for a vault token resource (normalised: lower
 * case, no trailing slash), made on first use (kv.c).  Owned by kv.
 */
enum bde_status kv_session_arm(struct kv *kv, struct kv_sess **out,
    char **errstr);
enum bde_status kv_session_vault(struct kv *kv, const char *resource,
    struct kv_sess **out, char **errstr);

/* Requests (request.c). */

enum kv_target {
	KV_VAULT = 0,		/* a vault host: challenge first */
	KV_ARM			/* ARM: its own token */
};

/*
 * Send method url (body: JSON, may be NULL) with the right token.  For a
 * vault host not seen before, the request goes first without a token
 * (and without its body) to get the 401 challenge, which must name an
 * acceptable resource (else BDE_EAUTH, nothing sent with a token); a GET
 * that is answered without a challenge is that answer.  A 401 with the
 * token renews it once; a second 401 is BDE_EAUTH with the service's
 * words.  Any other status is left in rs for the caller (release rs
 * also after a failure).
 */
enum bde_status kv_call(struct kv *kv, enum kv_target t, const char *method,
    const char *url, const char *body, struct http_response *rs,
    char **errstr);

/*
 * The token resource a vault's 401 challenge (www, a WWW-Authenticate
 * value) asks for, into res (len bytes; lower case, no trailing slash):
 * its scope without the permission, else its resource.  BDE_OK only when
 * it is vault_resource (normalised) or a parent domain of origin's host
 * (a normalised origin); else BDE_EAUTH and no token may be sent.  No
 * I/O.
 */
enum bde_status kv_challenge_check(const char *vault_resource,
    const char *origin, const char *www, char *res, size_t len,
    char **errstr);

/*
 * Every page of a vault listing from url (one we built): page(value,
 * arg, errstr) once per page with its "value" array.  nextLink is
 * followed verbatim when it stays on url's origin (":443" and case
 * aside), within KV_MAX_PAGES / max_items, never twice.  what names the
 * listing in messages.
 */
enum bde_status kv_list(struct kv *kv, const char *url, const char *what,
    size_t max_items,
    enum bde_status (*page)(const cJSON *value, void *arg, char **errstr),
    void *arg, char **errstr);

/*
 * The error for a failed vault or ARM answer: 400 BDE_EPROTO, 401
 * BDE_EAUTH, 403 BDE_EPERM, 404 BDE_ENOTFOUND, 429 and 5xx BDE_EUNREACH,
 * with "what: code[/inner]: first line of the message (hint;
 * client-request-id X)".  The hint names the missing RBAC action, access
 * policy permission, the firewall, a disabled version.  No I/O: body may
 * be anything.
 */
enum bde_status kv_fail(long status, const cJSON *body, const char *request_id,
    const char *what, char **errstr);

/* Add a note to b (dropped when full or out of memory). */
void kv_note(struct kv_bek *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct kv_item;
struct kv_objid;

/* Records (find.c). */

/* "ORIGIN/KIND/NAME[/VERSION]" of id: a new string, or NULL (memory). */
char *kv_objid_url(const struct kv_objid *id, const char *kind);

/*
 * What the vault says of a secret (it) into b: secret_url (versioned
 * when it->id is), vault, name, version, key_id, tags, created, enabled,
 * wrapped.  BDE_EPROTO when it->id is not a secret URL; BDE_ENOMEM.
 */
enum bde_status kv_bek_take(struct kv_bek *b, const struct kv_item *it,
    char **errstr);

/* Pure handlers (parse.c): no I/O, any input. */

/*
 * One secret as the vault describes it: a list or versions item, or a
 * get answer.  Pointers borrow from the JSON; absent = NULL, tags that
 * are not strings are absent.
 */
struct kv_item {
	const char *id;
	const char *content_type;
	const char *machine;	/* tags.MachineName */
	const char *volume;	/* tags.VolumeLetter */
	const char *file_name;	/* tags.DiskEncryptionKeyFileName */
	const char *alg;	/* tags.DiskEncryptionKeyEncryptionAlgorithm */
	const char *kek_url;	/* tags.DiskEncryptionKeyEncryptionKeyURL */
	const char *value;	/* get: the secret (never logged) */
	long long created;	/* attributes.created, 0 when absent */
	long long updated;
	int enabled;		/* attributes.enabled: 1, 0, -1 absent */
};

/* obj (an object with a string "id") into *it; BDE_EPROTO otherwise. */
enum bde_status kv_item_parse(const cJSON *obj, struct kv_item *it,
    char **errstr);

/*
 * A list page: its "value" array and its nextLink (NULL when absent or
 * null).  BDE_EPROTO: not an object, no array, a nextLink that is
 * neither null nor a non-empty string.
 */
enum bde_status kv_page_parse(const cJSON *doc, const cJSON **value,
    const char **next, char **errstr);

/* A Key Vault object URL, taken apart. */
struct kv_objid {
	char origin[KV_ORIGIN_MAX];	/* normalised */
	char name[KV_NAME_MAX + 1];
	char version[KV_VERSION_LEN + 1];	/* lower case, or "" */
};

/*
 * Parse "https://host[:port]/KIND/NAME[/VERSION][/]" (KIND "secrets" or
 * "keys", any case; no query, fragment or user info) into *out.
 * Returns 0, or -1 when url is not one.
 */
int kv_objid_parse(const char *url, const char *kind, struct kv_objid *out);

/*
 * "https://host[:port]" of url, normalised: https only, host in lower
 * case, ":443" dropped, no user info, into out.  0, or -1.
 */
int kv_origin_norm(const char *url, char *out, size_t len);

/*
 * Whether two URLs name the same thing: origins normalised, paths
 * compared without case and without trailing slashes, queries ignored.
 */
int kv_url_same(const char *a, const char *b);

/*
 * Decode base64 (url = 0: the standard alphabet; 1: base64url), padding
 * optional, nothing else allowed, into a new buffer *out of *len bytes
 * (free with kv_bytes_free).  0, -1 malformed, -2 out of memory.
 */
int kv_b64_decode(const char *s, int url, uint8_t **out, size_t *len);

/*
 * An unwrapkey answer: its base64url "value" decoded into *out (free
 * with kv_bytes_free), its "kid" in *kid (borrowed, NULL when absent).
 * BDE_EPROTO when malformed.
 */
enum bde_status kv_unwrap_parse(const cJSON *doc, uint8_t **out, size_t *len,
    const char **kid, char **errstr);

/* What ARM says of a disk's encryption (strings borrowed). */
struct kv_ade {
	const char *secret_url;
	const char *key_url;	/* NULL: not wrapped */
	const char *disk_id;	/* VM: its OS disk, for single pass */
	const char *computer;	/* VM: osProfile.computerName */
	const char *vm_id;	/* VM: its resource id */
	int dual;		/* the settings are on the VM */
	int enabled;		/* the settings' "enabled": 1, 0, -1 */
	int count;		/* disk: settings entries */
};

/*
 * A VM (properties.storageProfile.osDisk ...) or a managed disk
 * (properties.encryptionSettingsCollection) into *out; secret_url NULL
 * when there are no settings.  BDE_EPROTO when doc is not an object.
 */
enum bde_status kv_vm_parse(const cJSON *doc, struct kv_ade *out,
    char **errstr);
enum bde_status kv_disk_parse(const cJSON *doc, struct kv_ade *out,
    char **errstr);

/*
 * Whether id can be appended to the ARM base URL as a path:
 * "/subscriptions/..." of letters, digits and "/._-()", no "..", at most
 * 1024 bytes.
 */
int kv_arm_path_ok(const char *id);

#endif
