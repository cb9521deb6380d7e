/*
 * cache.h - the token cache file (internal to identity/).
 */
#ifndef BDEKEY_IDENTITY_CACHE_H
#define BDEKEY_IDENTITY_CACHE_H

#include <time.h>

#include "identity/identity.h"

/* What one cache file holds; every string is owned, tokens are secret. */
struct id_tokens {
	char *access_token;
	time_t expires_on;	/* UTC seconds */
	char *refresh_token;
	char *scope;		/* the scope string asked for */
	char *user;		/* UPN, or NULL */
};

/* Wipe the tokens, free every string and zero t. */
void id_tokens_release(struct id_tokens *t);

/*
 * Read the cache file at path into *t (released first).  BDE_ENOTFOUND
 * when there is none.  Errors: BDE_ECONFIG (group or others may read it,
 * or another user owns it), BDE_EAUTH (damaged: sign in again), BDE_EIO,
 * BDE_ENOMEM.
 */
enum bde_status id_cache_load(const char *path, struct id_tokens *t,
    char **errstr);

/*
 * Write t to path atomically: the directory is created 0700 when missing
 * (and refused when others may enter it), the data goes to a 0600
 * temporary file in it, fsync, rename, fsync of the directory.  Errors:
 * BDE_EIO, BDE_ECONFIG, BDE_ENOMEM.
 */
enum bde_status id_cache_store(const char *path, const struct id_tokens *t,
    char **errstr);

#endif
