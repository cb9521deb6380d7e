/*
 * core.h - bdekey's vocabulary: the status codes every layer returns, the
 * recovery key record and list every backend fills, the key-ID query,
 * the backend interface, and secret buffers.
 *
 * Layers below cmd/ never print and never exit: they return a status and,
 * on failure, an allocated one-line message through char **errstr that
 * the caller frees (NULL is allowed when the caller does not want it).
 */
#ifndef BDEKEY_CORE_H
#define BDEKEY_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BDEKEY_VERSION "0.1.0"

/* What went wrong; cmd/ maps these to exit statuses, once. */
enum bde_status {
	BDE_OK = 0,
	BDE_ENOTFOUND,		/* the query matched nothing */
	BDE_EUSAGE,		/* bad user input (malformed ID, bad option) */
	BDE_ECONFIG,		/* settings missing or contradictory */
	BDE_EAUTH,		/* authentication failed */
	BDE_EPERM,		/* authenticated, but not allowed */
	BDE_EUNREACH,		/* server down, timeout, DNS, TLS failure */
	BDE_EPROTO,		/* the server said something we cannot use */
	BDE_ENOMEM,
	BDE_EIO,		/* a local file or terminal failed */
	BDE_EBADKEY		/* a key that fails its checksum or does
				   not unlock the volume it is for */
};

/* "auth", "permission", "unreachable", "protocol", "config", ... */
const char *bde_status_kind(enum bde_status st);

/*
 * printf into a new string for an errstr: stores it in *errstr when errstr
 * is not NULL (the caller frees it) and returns st, so a backend can write
 * `return bde_error(errstr, BDE_EPROTO, "...", ...)`.
 */
enum bde_status bde_error(char **errstr, enum bde_status st, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Whether a key's password was read. */
enum bde_pw_state {
	BDE_PW_NOT_REQUESTED = 0,	/* --show not given: never asked for */
	BDE_PW_READ,			/* password holds it */
	BDE_PW_DENIED			/* asked for, the directory withheld it */
};

/* Canonical key ID: upper-case GUID with dashes, no braces. */
#define BDE_GUID_LEN 36

/* What a key is to the BitLocker volume in hand (cmd/ fills it in). */
enum bde_vol_match {
	BDE_VOL_NONE = 0,	/* no volume asked about */
	BDE_VOL_OTHER,		/* not a protector of the volume */
	BDE_VOL_PROTECTOR,	/* a protector of it, password not checked */
	BDE_VOL_OPENS,		/* its password opens the volume */
	BDE_VOL_WRONG		/* its password does not open the volume */
};

/*
 * One recovery key from one backend.  Every string is owned by the record
 * and freed by bde_keylist_free(); password is wiped first.
 */
struct bde_key {
	const char *source;	/* static: "ad" or "graph" */
	const char *also;	/* static: the other source that has the
				   same key ID (set when merging), or NULL */
	char *device;		/* computer or device display name */
	char *device_id;	/* Graph: Entra deviceId; AD: NULL */
	char *dn;		/* AD: recovery object DN; Graph: NULL */
	char *computer_dn;	/* AD: the computer's DN; Graph: NULL */
	char key_id[BDE_GUID_LEN + 1];
	char *volume_guid;	/* AD: volume GUID, canonical; else NULL */
	char *volume;		/* Graph: operatingSystem, fixedData, ... */
	time_t created;		/* UTC seconds */
	long long seq;		/* tie-break for equal created (uSNCreated) */
	char *password;		/* secret: only when pw == BDE_PW_READ */
	enum bde_pw_state pw;
	enum bde_vol_match vol;	/* against a volume (lookup --volume) */
};

/* A growable list of keys; initialise with BDE_KEYLIST_INIT. */
struct bde_keylist {
	struct bde_key *v;
	size_t n, cap;
};
#define BDE_KEYLIST_INIT { NULL, 0, 0 }

/*
 * Append a zeroed record and return it for the caller to fill (strings it
 * stores become the list's), or NULL when out of memory.
 */
struct bde_key *bde_keylist_add(struct bde_keylist *l);

/* Wipe passwords, free every record and the array; l is reusable. */
void bde_keylist_free(struct bde_keylist *l);

/* Free one record's strings (wiping the password) and zero it. */
void bde_key_release(struct bde_key *k);

/* Sort newest first (created, then seq, then key ID for stability). */
void bde_keylist_sort(struct bde_keylist *l);

/*
 * A key ID query: 8 to 32 hex digits (a prefix of the recovery ID shown
 * on the recovery screen, or all of it), upper case, dashes removed.
 */
struct bde_keyid {
	char hex[33];
	size_t len;
};

/*
 * Parse "1A2B3C4D", "{1a2b3c4d-5e6f-...}", with or without braces and
 * dashes (dashes only where a GUID has them).  Returns BDE_OK or
 * BDE_EUSAGE with a message saying what is wrong.
 */
enum bde_status bde_keyid_parse(const char *s, struct bde_keyid *out,
    char **errstr);

/* Whether a canonical GUID ("XXXXXXXX-XXXX-...") starts with the query. */
int bde_keyid_match(const struct bde_keyid *q, const char *guid);

/*
 * GUIDs: parse text in any case, with or without braces, into 16 bytes in
 * the order written (RFC 4122 order); format those 16 bytes canonically
 * into out (BDE_GUID_LEN + 1 bytes).  Parse returns 0 or -1.
 */
int bde_guid_parse(const char *s, uint8_t g[16]);
void bde_guid_format(const uint8_t g[16], char *out);

/*
 * Microsoft stores GUIDs mixed-endian (first three fields little-endian,
 * MS-DTYP 2.3.4.2); convert between that and written order.  Both
 * directions are the same permutation.
 */
void bde_guid_swap_ms(const uint8_t in[16], uint8_t out[16]);

/*
 * Lower-case the ASCII letters of s in place and return s: GUIDs as Graph
 * and Entra ID write them (in URLs, filters, ids), and the names compared
 * without case that go with them (tenant, client id, authority).  Other
 * bytes, UTF-8 included, are left alone whatever the locale.
 */
char *bde_guid_lower(char *s);

/*
 * Fill out with a fresh random (version 4, RFC 4122) GUID in lower case,
 * from the kernel's random source (getrandom); aborts when there is none,
 * as nothing safe can be done without it.
 */
void bde_guid_random(char out[BDE_GUID_LEN + 1]);

/* Format t as RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" into out (21 bytes). */
void bde_time_format(time_t t, char out[21]);

/*
 * Secrets.  bde_secret_free wipes a NUL-terminated secret and frees it
 * (NULL is fine).  bde_secret_read_file reads the first line of path
 * into a new buffer the caller frees with bde_secret_free; it refuses a
 * file that others can read.  Errors: BDE_EIO, BDE_ECONFIG, BDE_ENOMEM.
 */
void bde_secret_free(char *s);
enum bde_status bde_secret_read_file(const char *path, char **out,
    char **errstr);

/* Flags for backend lookups. */
#define BDE_WANT_PASSWORD 0x1

/*
 * A device a directory can act on (for Graph: the Intune managed device
 * behind an Entra device).  Strings owned by it; bde_device_release frees.
 */
struct bde_device {
	char *id;		/* the directory's handle (managed device id) */
	char *name;		/* its name as the directory has it */
	char *device_id;	/* Entra deviceId, canonical GUID, or NULL */
};

/* Free the strings of d and zero it. */
void bde_device_release(struct bde_device *d);

/*
 * A recovery object's key package (AD msFVE-KeyPackage): data is a
 * secret of len bytes; device and key_id name whose it is.  Owned by the
 * record; bde_package_release wipes data and frees everything.
 */
struct bde_package {
	unsigned char *data;
	size_t len;
	char *device;
	char *key_id;
};

/* Wipe and free what p holds, and zero it. */
void bde_package_release(struct bde_package *p);

/* A rotation as the directory reports it (rotate_state). */
enum bde_rot_state {
	BDE_ROT_NONE = 0,	/* no rotation recorded for the device */
	BDE_ROT_PENDING,	/* asked, not done yet (pending, active) */
	BDE_ROT_DONE,
	BDE_ROT_FAILED,		/* error_code says why */
	BDE_ROT_OTHER		/* canceled, notSupported, or unknown */
};

struct bde_rotation {
	enum bde_rot_state state;
	char state_text[24];	/* the state as sent (safe characters) */
	long long error_code;	/* FAILED: the device's error code, or 0 */
	time_t started;		/* when the action started, 0 unknown */
	time_t updated;		/* its last update, 0 unknown */
	long retry_after;	/* seconds the server asked to wait, or -1 */
};

/*
 * One device's escrow as one directory sees it: metadata only, never a
 * password.  Strings are borrowed for the duration of the callback.
 */
struct bde_escrow {
	const char *name;	/* AD cn / Entra displayName */
	const char *host;	/* AD: dNSHostName's first label (the whole
				   host name; cn is cut at 15), or NULL */
	const char *dn;		/* AD: the computer's DN, else NULL */
	const char *device_id;	/* Entra: deviceId (canonical GUID) */
	const char *sid;	/* AD objectSid / Entra onPremises-
				   SecurityIdentifier ("S-1-5-..."), or NULL */
	const char *os;		/* operatingSystem, or NULL */
	const char *trust;	/* Entra trustType ("ServerAd" = hybrid) */
	time_t last_seen;	/* AD lastLogonTimestamp / Entra approximate-
				   LastSignInDateTime; 0 unknown */
	unsigned nkeys;		/* recovery keys on file */
	time_t newest;		/* the newest key's creation; 0 when none */
	const char *volumes;	/* what the keys cover, comma-separated: AD
				   volume GUIDs, Graph volume types; or NULL */
};

/*
 * Called once per device as its row completes; see
 * bde_backend_ops.escrow.
 */
typedef int (*bde_escrow_fn)(void *arg, const struct bde_escrow *e);

/*
 * What a backend can do.  Lookups append to out (owned by the caller) and
 * return BDE_OK when they found at least one key, BDE_ENOTFOUND when
 * nothing matched, or an error with *errstr set.  A failed lookup may
 * still have appended keys: BDE_EPERM with keys whose password was
 * withheld (pw = BDE_PW_DENIED), BDE_EPROTO when some objects could not
 * be read but others could; the caller shows them with the error.  Optional operations are
 * NULL when the directory cannot do them; cmd/ says so.  close frees self.
 */
struct bde_backend_ops {
	const char *name;	/* "ad" or "graph" */
	enum bde_status (*by_device)(void *self, const char *name, int flags,
	    struct bde_keylist *out, char **errstr);
	enum bde_status (*by_keyid)(void *self, const struct bde_keyid *id,
	    int flags, struct bde_keylist *out, char **errstr);
	/* the directory identity in use (principal, bind DN, UPN), or NULL */
	const char *(*identity)(void *self);
	void (*close)(void *self);

	/*
	 * Optional: the key package of the one recovery object whose key ID
	 * matches id (full or an unambiguous prefix), into *out (release with
	 * bde_package_release).  BDE_ENOTFOUND, BDE_EUSAGE (ambiguous),
	 * BDE_EPERM (withheld), and the errors of a search.
	 */
	enum bde_status (*key_package)(void *self, const struct bde_keyid *id,
	    struct bde_package *out, char **errstr);
	/*
	 * Optional: the one device that a rotation would act on, by name or by
	 * device id (exactly one of them), into *out (bde_device_release).
	 * BDE_ENOTFOUND, BDE_EUSAGE (ambiguous: *errstr lists candidates), ...
	 */
	enum bde_status (*find_device)(void *self, const char *name,
	    const char *device_id, struct bde_device *out, char **errstr);
	/* Optional: ask the device found by find_device to rotate its keys. */
	enum bde_status (*rotate)(void *self, const struct bde_device *d,
	    char **errstr);
	/*
	 * Optional: the newest rotation of the device found by find_device,
	 * as the directory reports it, into *out.  BDE_ENOTFOUND when the
	 * device is gone.
	 */
	enum bde_status (*rotate_state)(void *self, const struct bde_device *d,
	    struct bde_rotation *out, char **errstr);
	/*
	 * Optional: every device of the directory with its escrow metadata
	 * (no password is requested), fn called per device as it completes,
	 * in constant memory apart from a compact per-device join table of
	 * tens of bytes.  A non-zero return of fn stops the walk: BDE_EIO
	 * with *errstr "stopped".  Errors part-way: the rows already given
	 * stand, the status says why the rest is missing.
	 */
	enum bde_status (*escrow)(void *self, bde_escrow_fn fn, void *arg,
	    char **errstr);
};

/* An open backend: its operations and their state. */
struct bde_backend {
	const struct bde_backend_ops *ops;
	void *self;
};

#endif
