/*
 * volume_int.h - what the files of volume/ share and nobody else uses
 * (the fuzz target excepted: it drives vol_scan_fd).
 */
#ifndef BDEKEY_VOLUME_INT_H
#define BDEKEY_VOLUME_INT_H

#include <libbde.h>
#include <stdint.h>

#include "volume/volume.h"

/*
 * bfio.c: a libbfio handle reading the bytes [base, base + size) of fd
 * (borrowed: it must stay open while the handle is used) and nothing
 * outside them.  Returns the handle (the caller frees it with
 * libbfio_handle_free) or NULL when out of memory or base + size does not
 * fit an off_t.
 */
libbfio_handle_t *vol_bfio_range(int fd, uint64_t base, uint64_t size);

/* Whether a read through h wanted bytes past the end of its window. */
int vol_bfio_past_end(libbfio_handle_t *h);

/*
 * libbde's error as one short line into buf (the innermost message,
 * which names what failed), then frees *error.  Returns buf.
 */
const char *vol_bde_error(libbde_error_t **error, char *buf, size_t size);

/*
 * meta.c: read the metadata of the BitLocker volume at [off, off + size)
 * of fd into v (path, device and partno are the caller's to set).
 * BDE_OK; BDE_EIO with a message (also stored in v->error) when libbde
 * cannot read it; BDE_ENOMEM.
 */
enum bde_status vol_meta_read(int fd, uint64_t off, uint64_t size,
    struct bde_volume *v, char **errstr);

/*
 * scan.c: bde_volume_scan on an open descriptor (regular file or block
 * device) of size bytes; name is what messages and records call it.
 */
enum bde_status vol_scan_fd(int fd, const char *name, uint64_t size,
    int is_blk, struct bde_volume_list *out, char **errstr);

/*
 * crypt.c: libcryptsetup with its messages caught instead of printed.
 * vol_crypt_open loads the BITLK metadata of device and checks that it
 * is the volume volume_id (when not NULL).  The log keeps the last error
 * message libcryptsetup gave.
 */
struct crypt_device;
struct vol_crypt {
	struct crypt_device *cd;
	char log[256];
};
enum bde_status vol_crypt_open(struct vol_crypt *c, const char *device,
    const char *volume_id, char **errstr);
void vol_crypt_close(struct vol_crypt *c);

/*
 * Try key on c's volume: activate as name (NULL: only check), with
 * libcryptsetup's activation flags.  Maps the result to a status and a
 * message about what (the volume, for messages).
 */
enum bde_status vol_crypt_unlock(struct vol_crypt *c, const char *what,
    const char *name, const struct bde_unlock_key *key, uint32_t flags,
    char **errstr);

/* Silence libcryptsetup's default logging (to stderr) for good. */
void vol_crypt_quiet(void);

/*
 * key.c: the key as the libraries want it in buf (wiped by the caller):
 * a recovery password checked and normalized to dashes, or the .BEK bytes
 * with a sane length.  BDE_OK, BDE_EBADKEY, BDE_EUSAGE.
 */
enum bde_status vol_key_prepare(const struct bde_unlock_key *key,
    uint8_t *buf, size_t bufsz, size_t *len, char **errstr);

/* "volume 5A95DB04-... ('disk.img' partition 2)", for messages. */
void vol_what(const struct bde_volume *v, char *out, size_t size);

/*
 * Whether v was read and has a protector of the key's kind (for a .BEK:
 * the very protector it names).  BDE_OK, BDE_EIO, BDE_EUSAGE, BDE_EBADKEY.
 */
enum bde_status vol_key_fits(const struct bde_volume *v, const char *what,
    const struct bde_unlock_key *key, char **errstr);

#endif
