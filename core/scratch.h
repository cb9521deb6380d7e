/*
 * scratch.h - working storage on disk for walks whose size the servers
 * choose (`bdekey report` over a whole directory), so that the process's
 * memory does not grow with the directory: a file that is unlinked from
 * the start (O_TMPFILE where the file system has it, else mkstemp and
 * unlink at once), mode 0600, read and written at offsets, gone when it
 * is closed or the process dies.  It holds metadata only (hashes,
 * counts, times, device names), never a password or a key.
 *
 * On it, a hash table of fixed-size records (bde_dtab): open addressing
 * with linear probing, at most 3/4 full, the slot hashed from the key
 * with a random seed (a server cannot choose keys that all collide).
 * Probes read 16 slots at a time; a lookup is one pread, almost always.
 *
 * Errors are BDE_EIO (the disk: full, read-only, gone) with a message
 * naming the directory, or BDE_ENOMEM.
 */
#ifndef BDEKEY_SCRATCH_H
#define BDEKEY_SCRATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct bde_scratch;

/*
 * A new empty scratch file in $TMPDIR (when it is an absolute path),
 * else /tmp.  *out is owned by the caller: bde_scratch_free.
 */
enum bde_status bde_scratch_new(struct bde_scratch **out, char **errstr);
void bde_scratch_free(struct bde_scratch *s);

/* Bytes written so far (the end of the file: where append writes). */
uint64_t bde_scratch_size(const struct bde_scratch *s);

/*
 * len bytes at off into buf.  Past the end (or in a hole), zeros.
 * BDE_OK, or BDE_EIO.
 */
enum bde_status bde_scratch_read(struct bde_scratch *s, uint64_t off,
    void *buf, size_t len, char **errstr);

/* len bytes of buf at off (the file grows as needed).  BDE_OK, BDE_EIO. */
enum bde_status bde_scratch_write(struct bde_scratch *s, uint64_t off,
    const void *buf, size_t len, char **errstr);

/* buf at the end; *off (may be NULL) says where.  BDE_OK, BDE_EIO. */
enum bde_status bde_scratch_append(struct bde_scratch *s, const void *buf,
    size_t len, uint64_t *off, char **errstr);

/*
 * The table: keys of keysize bytes (1 to 64) to values of valsize bytes
 * (0 to 256).  *out is owned by the caller: bde_dtab_free.
 */
struct bde_dtab;
enum bde_status bde_dtab_new(size_t keysize, size_t valsize,
    struct bde_dtab **out, char **errstr);
void bde_dtab_free(struct bde_dtab *t);

/* Keys stored. */
uint64_t bde_dtab_count(const struct bde_dtab *t);

/*
 * The value of key into val (valsize bytes; zeros when absent); *found
 * says whether it was there.  BDE_OK, or BDE_EIO.
 */
enum bde_status bde_dtab_get(struct bde_dtab *t, const void *key, void *val,
    int *found, char **errstr);

/* key's value set to val (added or replaced).  BDE_OK, or BDE_EIO. */
enum bde_status bde_dtab_put(struct bde_dtab *t, const void *key,
    const void *val, char **errstr);

/*
 * fn(key, val, arg) for every key, in no order (no put meanwhile); fn
 * returning non-zero stops it: BDE_EIO "stopped".  BDE_OK, BDE_EIO,
 * BDE_ENOMEM.
 */
enum bde_status bde_dtab_each(struct bde_dtab *t, int (*fn)(const void *key,
    const void *val, void *arg), void *arg, char **errstr);

#endif
