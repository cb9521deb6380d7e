/*
 * volume.h - the disk in hand: find the BitLocker volumes on a partition,
 * a whole disk or an image file, read their metadata, prove that a
 * recovery password or a startup key opens one, and activate one as
 * /dev/mapper/NAME.
 *
 * Libraries, each for what it does best:
 *   libblkid       what is on the disk: BitLocker, another filesystem, a
 *                  partition table and its partitions (scan.c)
 *   libbde         the metadata: volume ID, creation time, description,
 *                  encryption method, key protectors (meta.c); and which
 *                  bytes are metadata, for the in-memory shadow a volume
 *                  inside a whole-disk image is checked on (key.c)
 *   libcryptsetup  every key check (a faster key stretch, and keys libbde
 *                  cannot use: key.c says which) and activation through
 *                  device-mapper (activate.c)
 * No BitLocker cryptography is written here.
 *
 * Everything read from a disk is hostile: libbde reads through a
 * bounds-checked window on our own descriptor (bfio.c), strings from the
 * disk are made safe to print (describe.c).
 *
 * Like every layer below cmd/: nothing is printed, nothing exits; errors
 * come back as a status and an allocated one-line message through errstr
 * (NULL allowed; otherwise *errstr must be NULL or a string the function
 * may free; the caller frees what it gets).
 *
 * Not for concurrent use from several threads: libcryptsetup's default
 * log callback is process-wide, and these functions set it (to silence
 * it) before each use.
 */
#ifndef BDEKEY_VOLUME_H
#define BDEKEY_VOLUME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/core.h"

/* One key protector of a volume. */
struct bde_protector {
	char id[BDE_GUID_LEN + 1];	/* canonical upper-case GUID: the
					   key ID AD and Entra store */
	const char *type;		/* static: "recovery-password",
					   "startup-key", "password", "tpm",
					   "tpm+pin", "tpm+startup-key",
					   "tpm+pin+startup-key", "clear-key",
					   "certificate" or "unknown" */
	uint16_t raw_type;		/* the protection type on disk */
};

/*
 * One BitLocker volume found by bde_volume_scan.  Strings are owned by the
 * record and freed by bde_volume_list_free.
 */
struct bde_volume {
	char *path;		/* the PATH scanned, as given */
	char *device;		/* a whole-disk block device: the partition's
				   own node ("/dev/sdc2"), else NULL */
	unsigned partno;	/* partition number, 0 for a bare volume */
	uint64_t offset;	/* byte offset of the volume inside path */
	uint64_t size;		/* bytes of path from offset that hold it (the
				   partition, or the whole file or device) */
	char volume_id[BDE_GUID_LEN + 1];	/* canonical GUID */
	time_t created;		/* UTC; 0 when the metadata has none */
	char *description;	/* as Windows wrote it ("DESKTOP-LG39GVP E:
				   15/09/2020"), made safe to print; "" when
				   the volume has none */
	char *computer;		/* parsed from description, or NULL */
	char *drive;		/* "E:" parsed from description, or NULL */
	const char *method;	/* static: "AES-XTS-128", "AES-XTS-256",
				   "AES-CBC-128", "AES-CBC-256",
				   "AES-CBC-128-DIFFUSER",
				   "AES-CBC-256-DIFFUSER" or "unknown" */
	int to_go;		/* BitLocker To Go (removable drive format) */
	struct bde_protector *protectors;
	size_t nprotectors;
	char *error;		/* NULL, or why this volume's metadata could
				   not be read (then only path, device,
				   partno, offset, size and to_go are set) */
};

/* The volumes of one or more scans; initialise with BDE_VOLUME_LIST_INIT. */
struct bde_volume_list {
	struct bde_volume *v;
	size_t n;
};
#define BDE_VOLUME_LIST_INIT { NULL, 0 }

/*
 * Find the BitLocker volumes in path: a BitLocker partition or image of
 * one, or a whole disk (block device or image file) with an MBR or GPT
 * partition table.  Appends one record per volume found to out (the
 * caller frees the list with bde_volume_list_free); a failed scan leaves
 * out as it was.
 *
 * BDE_OK: at least one volume's metadata was read.  A volume whose
 * metadata cannot be read (a truncated image, an unsupported metadata
 * version) is listed with its error set; when no volume of path could be
 * read at all, that is BDE_EIO with the first volume's error instead.
 * BDE_ENOTFOUND: no BitLocker volume; the message names what path holds
 * instead ("an NTFS filesystem", "a GPT partition table with 3
 * partitions, none BitLocker (...)", "only zeros", ...).
 * BDE_EIO: cannot open or read path (permission denied says "run as root
 * or add yourself to the disk group").  BDE_EUSAGE: path is a directory,
 * FIFO, socket or character device.  BDE_ENOMEM.
 */
enum bde_status bde_volume_scan(const char *path, struct bde_volume_list *out,
    char **errstr);

/* Free every record and the array; l is reusable (NULL is fine). */
void bde_volume_list_free(struct bde_volume_list *l);

/* Free one record's memory and zero it. */
void bde_volume_release(struct bde_volume *v);

/* The protector of v with this canonical ID (owned by v), or NULL. */
const struct bde_protector *bde_volume_protector(const struct bde_volume *v,
    const char *id);

/* What a key is. */
enum bde_key_kind {
	BDE_KEY_RECOVERY_PASSWORD = 1,	/* 48 digits as a person types them
					   (dashes or blanks, see checksum.h) */
	BDE_KEY_STARTUP_KEY		/* the bytes of a .BEK file */
};

/*
 * A key to try, borrowed from the caller (who owns and wipes data).  The
 * functions below copy it only into buffers they wipe before returning,
 * and never into argv, the environment or a child process.
 */
struct bde_unlock_key {
	enum bde_key_kind kind;
	const void *data;
	size_t len;
};

/*
 * Prove that key opens v without activating anything (no root needed for
 * an image file).  The volume must still be the one scanned: its volume
 * ID is compared first.
 *
 * BDE_OK: it opens v.  BDE_EBADKEY: a well-formed key that does not open
 * v (also: a recovery password that fails its checksum, a .BEK file made
 * for another volume).  BDE_EUSAGE: not a recovery password at all, not a
 * .BEK file, or v has no protector of that kind.  BDE_EIO: v cannot be
 * read, or holds another volume now.  BDE_ENOMEM.
 */
enum bde_status bde_volume_check(const struct bde_volume *v,
    const struct bde_unlock_key *key, char **errstr);

/* Flags for bde_volume_activate. */
#define BDE_VOLUME_READ_WRITE 0x1	/* default: read-only */

/*
 * Whether device-mapper can be used here: BDE_OK, or BDE_EIO with one
 * line saying why not (no /dev/mapper/control, not root).
 */
enum bde_status bde_volume_dm_available(char **errstr);

/*
 * Whether name is usable as /dev/mapper/NAME: 1 to 127 characters from
 * [A-Za-z0-9._+-], not "." or "..".  BDE_OK or BDE_EUSAGE.
 */
enum bde_status bde_volume_name_check(const char *name, char **errstr);

/*
 * Activate v as /dev/mapper/NAME with key, read-only unless flags has
 * BDE_VOLUME_READ_WRITE.  A volume inside a whole-disk image is reached
 * through a loop device that goes away with the mapping.
 *
 * BDE_OK.  BDE_EBADKEY, BDE_EUSAGE as for bde_volume_check; BDE_EUSAGE
 * also for a bad or taken name.  BDE_EIO: no device-mapper (one line:
 * bde_volume_dm_available's), or the kernel refused.  BDE_ENOMEM.
 */
enum bde_status bde_volume_activate(const struct bde_volume *v,
    const char *name, const struct bde_unlock_key *key, unsigned flags,
    char **errstr);

/*
 * Deactivate /dev/mapper/NAME; refuses a mapping that is not BitLocker
 * (BITLK), so a typo cannot close someone's LUKS disk.
 * BDE_OK, BDE_ENOTFOUND (no such mapping), BDE_EUSAGE (bad name, not
 * BitLocker), BDE_EIO (no device-mapper, busy: still mounted).
 */
enum bde_status bde_volume_deactivate(const char *name, char **errstr);

/* A .BEK file is small: Windows writes 156 bytes. */
#define BDE_BEK_MAX 4096

/*
 * Read a .BEK startup-key file into a new buffer *out of *len bytes that
 * the caller frees with bde_bek_free.  Refuses anything but a regular
 * file of at most BDE_BEK_MAX bytes.  BDE_OK, BDE_EIO, BDE_EUSAGE,
 * BDE_ENOMEM.
 */
enum bde_status bde_bek_read(const char *path, uint8_t **out, size_t *len,
    char **errstr);

/* Wipe and free a buffer from bde_bek_read (NULL is fine). */
void bde_bek_free(uint8_t *buf, size_t len);

/*
 * The startup-key protector ID a .BEK file is for (header bytes 16-31,
 * mixed-endian, MS-DTYP 2.3.4.2), canonical, into out; the file is named
 * after it.  Returns 0, or -1 when bek is too short to have a header.
 */
int bde_bek_protector_id(const uint8_t *bek, size_t len,
    char out[BDE_GUID_LEN + 1]);

/* Static name of an on-disk protection type ("tpm+pin", ..., "unknown"). */
const char *bde_protector_type_name(uint16_t raw);

/*
 * describe.c: pure functions, no I/O, no allocation.
 *
 * The computer and drive Windows writes into a volume's description:
 * "<computer> <drive letter or volume label> <date in the locale's
 * format>", e.g. "DESKTOP-LG39GVP E: 15/09/2020" or "WIN11 New Volume
 * 09/03/2025".  Strings are empty when absent.
 */
#define BDE_COMPUTER_MAX 63	/* bytes; NetBIOS names have 15 */
struct bde_description {
	char computer[BDE_COMPUTER_MAX + 1];
	char drive[3];			/* "E:" (upper case) or "" */
};

/*
 * Parse desc (any bytes, NUL-terminated) into out.  The first word is the
 * computer when it can be a computer name (no control or reserved
 * characters, valid UTF-8, not a date); a word that is a drive letter
 * ("e:") as first or second word is the drive.  Returns 0 when at least
 * one of them was found, -1 when neither (out is then empty).
 */
int bde_describe_parse(const char *desc, struct bde_description *out);

/*
 * UTF-16 (host order, as libbde hands it over) to UTF-8 that is safe to
 * print: stops at the first NUL unit or after n units; unpaired
 * surrogates, control characters (C0, DEL, C1), bidirectional overrides
 * and line separators become U+FFFD.  Writes at most outsz - 1 bytes and
 * a NUL (cut at a character boundary; outsz must be at least 1) and
 * returns the length written.
 */
size_t bde_describe_utf16(const uint16_t *in, size_t n, char *out,
    size_t outsz);

#endif
