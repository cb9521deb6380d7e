/*
 * cache.h - the token cache file (internal to identity/).
 *
 * One file per tenant / client / authority holds the user's name, one
 * refresh token (the identity platform's refresh tokens serve every scope
 * set the user consented to, and each use returns a new one) and one
 * access token per scope set asked for (incremental consent: a lookup's
 * token never carries the Intune permission a rotation asks for).  Next
 * to it, FILE.lock is locked (flock) while a token is renewed, so that
 * parallel commands redeem the refresh token once.
 */
#ifndef BDEKEY_IDENTITY_CACHE_H
#define BDEKEY_IDENTITY_CACHE_H

#include <time.h>

#include <cJSON.h>

#include "identity/identity.h"

/* Access tokens kept, one per scope set; the oldest goes first. */
#define ID_CACHE_SCOPES 8

/* One scope set's access token; every string owned, the token secret. */
struct id_access {
	char *scope;		/* the scope string asked for */
	char *access_token;
	time_t expires_on;	/* UTC seconds */
	char *granted;		/* the scope the service said it granted */
	int fresh;		/* received by this process */
};

/* What one cache file holds. */
struct id_tokens {
	char *refresh_token;	/* secret, or NULL */
	char *user;		/* UPN, or NULL */
	struct id_access at[ID_CACHE_SCOPES];
	size_t n;
};

/* Wipe the tokens, free every string and zero t. */
void id_tokens_release(struct id_tokens *t);

/* Wipe and free one access token entry's strings and zero it. */
void id_access_release(struct id_access *a);

/* The access token entry for scope, or NULL. */
struct id_access *id_tokens_find(struct id_tokens *t, const char *scope);

/*
 * The entry for scope, added (dropping the oldest when all are taken)
 * when missing; its old token is kept for the caller to replace.  NULL
 * when out of memory.
 */
struct id_access *id_tokens_put(struct id_tokens *t, const char *scope);

/*
 * The cache document (a parsed cache file) into *t (released first).
 * Version 1 files (one access token, one scope) are read as one entry.
 * Errors: BDE_EAUTH (not a cache document, or from another version),
 * BDE_ENOMEM.  No I/O.
 */
enum bde_status id_cache_parse(const cJSON *doc, struct id_tokens *t);

/*
 * Read the cache file at path into *t (released first).  BDE_ENOTFOUND
 * when there is none.  Errors: BDE_ECONFIG (group or others may read it,
 * or another user owns it), BDE_EAUTH (damaged: sign in again), BDE_EIO,
 * BDE_ENOMEM.
 */
enum bde_status id_cache_load(const char *path, struct id_tokens *t,
    char **errstr);

/*
 * Make sure the directory of path can keep a token: created 0700 when
 * missing, owned by us, closed to others and writable.  A refresh token
 * is redeemed only after this: the new one replaces it, and throwing it
 * away would leave the cache with a dead one.  Errors: BDE_ECONFIG,
 * BDE_EIO, BDE_ENOMEM.
 */
enum bde_status id_cache_dir_check(const char *path, char **errstr);

/*
 * Write t to path atomically: the directory is checked as above, the
 * data goes to a 0600 temporary file in it, fsync, rename, fsync of the
 * directory.  Errors: BDE_EIO, BDE_ECONFIG, BDE_ENOMEM.
 */
enum bde_status id_cache_store(const char *path, const struct id_tokens *t,
    char **errstr);

/*
 * Lock the cache entry at path (flock on path + ".lock", made 0600),
 * waiting until deadline_ms (bde_now_ms() time) at most.  *fd is for
 * id_cache_unlock.  Errors: BDE_EIO (cannot make the lock file; another
 * bdekey held the lock past the deadline), BDE_ENOMEM.
 */
enum bde_status id_cache_lock(const char *path, long long deadline_ms,
    int *fd, char **errstr);

/* Release a lock of id_cache_lock (fd < 0 is fine). */
void id_cache_unlock(int fd);

#endif
