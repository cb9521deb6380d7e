/*
 * keyvault.h - the Azure Key Vault backend: the BitLocker key files (BEK)
 * that Azure Disk Encryption keeps as vault secrets, found by the
 * strongest route the inputs allow and fetched exactly: the secret
 * version and the key-encryption-key (KEK) version that belong together,
 * never "the latest".  Built on http/ (HTTPS + JSON, retries, 429) and
 * identity/ (OAuth), which know nothing of Key Vault.
 *
 * Routes (enum kv_route):
 *   volume  the volume's startup-key protector ID is the secret's name
 *           (kv_find_by_id): that secret's newest enabled version
 *   arm     Azure Resource Manager's VM (dual pass) or OS disk (single
 *           pass) names the versioned secret and KEK URLs (kv_find_by_vm)
 *   tags    ADE's tags on the vault's secrets: contentType containing
 *           "BEK", MachineName equal ignoring case, grouped by
 *           VolumeLetter, newest first (kv_find_by_device)
 *   secret  a secret URL given by the user (kv_bek_from_url)
 *
 * Tokens: one identity session per resource (the vault's, ARM's), never
 * shared with Graph.  Before a token goes to a vault host, that host's
 * 401 challenge must name the configured vault resource or a parent
 * domain of the host (azure-sdk-for-python#26141); otherwise nothing is
 * sent and the call fails with BDE_EAUTH.
 *
 * Like every layer below cmd/: nothing is printed, nothing exits; errors
 * are a status and an allocated one-line message through errstr (NULL
 * allowed).  Secret values (the BEK, the secret's text) live only in
 * buffers this layer wipes, or in buffers handed to the caller who wipes
 * them with kv_bytes_free.
 */
#ifndef BDEKEY_KEYVAULT_H
#define BDEKEY_KEYVAULT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/core.h"

/* The data-plane API version every request names (key-vault.md). */
#define KV_API_VERSION "7.4"
/* ARM API versions for virtual machines and managed disks. */
#define KV_ARM_VM_API "2024-07-01"
#define KV_ARM_DISK_API "2023-04-02"

/*
 * Settings, filled by cmd/; pointers are borrowed and must outlive the
 * backend.  NULL/0 = the default.  Sign-in settings are Graph's.
 */
struct kv_settings {
	const char *vault;		/* a vault name (https://NAME.vault.
					   azure.net in the cloud) or URL */
	const char *cloud;		/* global (default), usgov, dod, china */
	const char *vault_resource;	/* token resource; default the
					   cloud's (https://vault.azure.net) */
	const char *arm;		/* ARM base URL; default the cloud's */
	const char *subscription;	/* for kv_find_by_vm */
	const char *tenant;		/* required: name or GUID */
	const char *client_id;		/* required (cmd/ gives Graph's) */
	const char *authority;		/* identity platform base URL */
	const char *ca_bundle;		/* extra CA file for HTTPS */
	const char *client_secret;	/* secret: app sign-in with a secret */
	const char *client_cert;	/* PEM file: app sign-in with an */
	const char *client_key;		/* ... assertion, and its key */
	int assertion_rs256;		/* RS256 + x5t instead of PS256 */
	const char *cache_dir;		/* token cache directory (cmd/) */
	int timeout;			/* seconds per request; 0 = 30 */
	int deadline;			/* seconds in all; 0 = 300 */
	/* a user's consent to a new resource: the device code message */
	void (*sign_in)(const char *message, void *arg);
	void *sign_in_arg;
};

struct kv;

/* How a BEK was found. */
enum kv_route {
	KV_ROUTE_NONE = 0,
	KV_ROUTE_VOLUME,	/* protector ID = secret name */
	KV_ROUTE_ARM,		/* the VM's or disk's encryption settings */
	KV_ROUTE_TAGS,		/* MachineName / VolumeLetter tags */
	KV_ROUTE_SECRET		/* a secret URL given */
};

/* "volume", "arm", "tags", "secret" (static). */
const char *kv_route_name(enum kv_route r);

#define KV_NOTES_MAX 6

/*
 * One BEK secret: where it is and what the vault says of it (never its
 * value).  Strings are owned and freed by kv_bek_release.
 */
struct kv_bek {
	enum kv_route route;
	char *secret_url;	/* https://host/secrets/NAME[/VERSION];
				   versioned once the version is known */
	char *vault;		/* https://host of the secret's vault */
	char *name;		/* the secret's name as the vault spells it */
	char *version;		/* 32 hex digits, or NULL (not known yet) */
	char key_id[BDE_GUID_LEN + 1];	/* name as a canonical GUID, or "" */
	char *machine;		/* MachineName tag (ARM: computerName) */
	char *volume;		/* VolumeLetter tag ("C:\"), or NULL */
	char *content_type;	/* "BEK", "Wrapped BEK", or NULL */
	time_t created;		/* attributes.created, 0 unknown */
	int enabled;		/* 1, 0, or -1 not known */
	int wrapped;		/* 1, 0, or -1 not known yet */
	char *kek_url;		/* the versioned KEK URL to unwrap with */
	char *kek_tag;		/* DiskEncryptionKeyEncryptionKeyURL as
				   the secret's tag has it, or NULL */
	int kek_from_arm;	/* kek_url came from ARM (authoritative) */
	char *alg;		/* RSA-OAEP (default), RSA-OAEP-256, RSA1_5 */
	int newest;		/* tags: the newest of its volume letter */
	char *vm;		/* ARM: the VM's resource ID */
	int dual;		/* ARM: 1 dual pass (the VM's settings),
				   0 single pass (the OS disk's) */
	int versions;		/* volume: how many versions the secret has */
	/* things worth saying (a KEK version taken from the tag, ...) */
	char *notes[KV_NOTES_MAX];
	size_t nnotes;
};

/* Free b's strings and zero it (NULL fine). */
void kv_bek_release(struct kv_bek *b);

/* A list of candidates; initialise with KV_BEKLIST_INIT. */
struct kv_beklist {
	struct kv_bek *v;
	size_t n, cap;
};
#define KV_BEKLIST_INIT { NULL, 0, 0 }

/* Release every record and the array; l is reusable. */
void kv_beklist_free(struct kv_beklist *l);

/*
 * Make the backend: URLs, the HTTP client; no request is sent yet (the
 * vault's challenge decides its token, see above).  *out is freed with
 * kv_close.  Errors: BDE_ECONFIG (no tenant or client ID, a bad vault name or URL,
 * an unknown cloud, a non-https URL), BDE_ENOMEM, http_client_new's.
 */
enum bde_status kv_open(const struct kv_settings *s, struct kv **out,
    char **errstr);

/* Close and free (NULL fine). */
void kv_close(struct kv *kv);

/* The configured vault's base URL (no trailing /), or NULL. */
const char *kv_vault_url(const struct kv *kv);

/*
 * Who signed in, for the audit trail: "app:CLIENT_ID" or the user's
 * name ("unknown user" before any token).  Owned by kv.
 */
const char *kv_identity(struct kv *kv);

/*
 * Route volume: the secret named key_id (a GUID, any case) in the
 * configured vault; its versions are listed and the newest enabled one
 * is appended to out (route KV_ROUTE_VOLUME, versioned secret_url).
 * BDE_ENOTFOUND: no such secret, or no enabled version.  BDE_ECONFIG: no
 * vault configured.  Others: a request's (see kv_fetch).
 */
enum bde_status kv_find_by_id(struct kv *kv, const char *key_id,
    struct kv_beklist *out, char **errstr);

/*
 * Route arm: the VM resource_group/vm in the configured subscription:
 * its dual-pass encryptionSettings, else its OS disk's
 * encryptionSettingsCollection; the versioned secret and KEK URLs found
 * there go into one record appended to out.  BDE_ENOTFOUND: the VM does
 * not exist, or neither has ADE settings.  BDE_ECONFIG: no subscription.
 * BDE_EPROTO: a URL or disk ID that is not one.
 */
enum bde_status kv_find_by_vm(struct kv *kv, const char *resource_group,
    const char *vm, struct kv_beklist *out, char **errstr);

/* kv_find_by_device flags */
#define KV_FIND_VERSIONS 0x1	/* read each candidate's versions, for a
				   versioned secret_url (lookup) */

/*
 * Route tags: every secret of the configured vault (list pages, nextLink
 * followed on the vault's origin only, bounded) whose contentType
 * contains "BEK" and whose MachineName equals machine ignoring case;
 * appended to out grouped by VolumeLetter, newest created first, the
 * first of each group marked newest.  A candidate whose current version
 * is disabled is replaced by its newest enabled version (one versions
 * listing).  BDE_ENOTFOUND when none.
 */
enum bde_status kv_find_by_device(struct kv *kv, const char *machine,
    unsigned flags, struct kv_beklist *out, char **errstr);

/*
 * A key ID (or a prefix of one, struct bde_keyid) as the secret's name:
 * every BEK secret of the configured vault whose name is a GUID starting
 * with it, listed and ordered as kv_find_by_device does, route volume
 * (the protector ID names the secret).  Metadata only.  BDE_ENOTFOUND
 * when none.
 */
enum bde_status kv_find_by_keyid(struct kv *kv, const struct bde_keyid *id,
    unsigned flags, struct kv_beklist *out, char **errstr);

/*
 * Route secret: a record for a secret URL (https://host/secrets/NAME
 * [/VERSION]), without I/O.  BDE_EUSAGE when url is not one.
 */
enum bde_status kv_bek_from_url(const char *url, struct kv_bek *out,
    char **errstr);

/*
 * Get b's secret (the version b names, else the current one) and turn it
 * into the .BEK file's bytes: "BEK" is standard base64 of the file;
 * "Wrapped BEK" is unwrapped with exactly b's versioned KEK (ARM's, else
 * the secret's DiskEncryptionKeyEncryptionKeyURL tag; an unversioned ARM
 * key URL takes the tag's version and says so in b->notes; never the
 * KEK's latest version) and the tag's algorithm.  b's metadata is filled
 * in from the answer; warnings (a header that does not name the secret,
 * ARM and the tag disagreeing) go into b->notes.  *bek (len bytes) is
 * the caller's, freed with kv_bytes_free.
 *
 * Errors: BDE_EAUTH (sign-in, a refused token, a challenge naming a
 * foreign resource), BDE_EPERM (403: the missing RBAC action, access
 * policy permission, the firewall, a disabled version, named),
 * BDE_ENOTFOUND (404), BDE_EBADKEY ("this KEK version did not wrap this
 * secret"), BDE_EPROTO (not a BEK secret, bad base64, an unversioned KEK
 * with nothing to take a version from), BDE_EUNREACH, BDE_ENOMEM.
 */
enum bde_status kv_fetch(struct kv *kv, struct kv_bek *b, uint8_t **bek,
    size_t *len, char **errstr);

/* Wipe and free a buffer from kv_fetch (NULL fine). */
void kv_bytes_free(uint8_t *p, size_t len);

/* How a finding of kv_check weighs. */
enum kv_level {
	KV_LEVEL_OK = 0,
	KV_LEVEL_INFO,
	KV_LEVEL_WARN,		/* restorable, but worth a look */
	KV_LEVEL_FAIL		/* not restorable as it stands */
};

/* "ok", "info", "warn", "FAIL" (static). */
const char *kv_level_name(enum kv_level l);

/*
 * Preflight for b (read-only): the secret version present, enabled and
 * readable with the caller's rights; BEK only or BEK + KEK; the KEK
 * version present and enabled; the KEK version ARM names matching the
 * secret's tag; the unwrap proved (the BEK is wiped at once); the BEK's
 * header.  finding(arg, level, text) once per finding.  Returns BDE_OK
 * when nothing failed, else the status of the first failure (its text
 * was a finding).
 */
enum bde_status kv_check(struct kv *kv, struct kv_bek *b,
    void (*finding)(void *arg, enum kv_level level, const char *text),
    void *arg);

/*
 * The header of a .BEK file (BitLocker external key, libbde's format
 * notes): size field = len, version 1, header size 48, and the GUID at
 * bytes 16-31 (mixed-endian) = key_id (the secret's name; "" skips it).
 * Returns 0 when all hold, else the number of problems, the first said
 * in why (len bytes, always NUL-terminated when len > 0).  No I/O.
 */
int kv_bek_header_check(const uint8_t *bek, size_t len, const char *key_id,
    char *why, size_t whylen);

#endif
