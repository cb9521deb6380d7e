/*
 * key.c - prove that a recovery password or a startup key opens a volume,
 * without activating anything; read .BEK files.
 *
 * libcryptsetup (BITLK) checks every key; libbde only supplies metadata.
 * Measured with bench/volume.sh (docs/performance.md) against Debian 12's
 * libbde 20190102 (bdeinfo -r):
 *
 * - Speed.  A recovery password goes through 2^20 chained SHA-256 rounds
 *   (the BitLocker key stretch) before it decrypts anything.
 *   libcryptsetup hashes through OpenSSL, whose SHA-256 uses the CPU's SHA
 *   extensions; libbde links no crypto library and runs libhmac's portable
 *   C SHA-256.  A good password takes libbde 2.2-2.6x as long as
 *   libcryptsetup, a wrong one about 6x (by the times, libbde tries it
 *   on each of the volume's three metadata copies) - and that although
 *   libcryptsetup first runs the stretch once for nothing, on the
 *   password protector, as it tries every protector in metadata order.
 * - Coverage.  libbde 20190102 cannot unlock an AES-XTS-256 volume
 *   ("invalid tweak key value too small") and tries only the first
 *   recovery-password protector, so the second recovery password of a
 *   volume with two does not open it.  libcryptsetup opens all six test
 *   volumes with every key.
 * - One engine.  The check and the activation then agree on every key.
 *
 * A startup key goes the same way: libcryptsetup takes the .BEK bytes as
 * a passphrase and recognises them (it spends one useless stretch on the
 * password protector first, about 0.2 s).
 *
 * A volume inside a whole-disk image: libcryptsetup's BITLK reads its
 * metadata at offsets from the start of the device it is given and has no
 * data offset to shift them (cryptsetup's --offset is for plain and LUKS
 * only); a loop device with an offset would need root and change the
 * system for a mere check.  So the check runs on a shadow of the volume
 * in memory (shadow_volume below): a memfd as large as the volume holding
 * only the metadata bytes, which libcryptsetup opens by /proc/self/fd
 * path, as any user who can read the image.
 */
#include "volume/volume_int.h"
#include "checksum/checksum.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Header (48 bytes) and the entry header of the one key entry after it. */
#define BEK_MIN (48 + 8)
/* Three metadata blocks of 64 KiB and a boot sector; refuse far more. */
#define SHADOW_MAX (16 * 1024 * 1024)

enum bde_status
vol_key_prepare(const struct bde_unlock_key *key, uint8_t *buf, size_t bufsz,
    size_t *len, char **errstr)
{
	struct ck_password pw;
	struct ck_parse_status ps;
	enum bde_status st = BDE_OK;
	int i;

	*len = 0;
	if (key == NULL || key->data == NULL)
		return bde_error(errstr, BDE_EUSAGE, "no key given");
	switch (key->kind) {
	case BDE_KEY_RECOVERY_PASSWORD:
		if (ck_parse(key->data, key->len, &pw, &ps) != CK_PARSE_OK) {
			st = bde_error(errstr, BDE_EUSAGE, "not a recovery "
			    "password: %s", ck_parse_error_str(ps.error));
			break;
		}
		if (pw.bad_blocks > 0) {
			for (i = 0; i < CK_BLOCKS; i++)
				if (pw.block[i].error != CK_BLOCK_OK)
					break;
			st = bde_error(errstr, BDE_EBADKEY, "the recovery "
			    "password fails its checksum in block %d", i + 1);
			break;
		}
		if (bufsz < CK_NORMALIZED_SIZE) {
			st = bde_error(errstr, BDE_ENOMEM, "key buffer too "
			    "small");
			break;
		}
		/* libcryptsetup takes only the dashed form */
		ck_normalize(&pw, (char *)buf);
		*len = CK_NORMALIZED_SIZE - 1;
		break;
	case BDE_KEY_STARTUP_KEY:
		if (key->len < BEK_MIN || key->len > BDE_BEK_MAX ||
		    key->len > bufsz) {
			st = bde_error(errstr, BDE_EUSAGE, "not a .BEK startup "
			    "key: %zu bytes", key->len);
			break;
		}
		memcpy(buf, key->data, key->len);
		*len = key->len;
		break;
	default:
		st = bde_error(errstr, BDE_EUSAGE, "unknown kind of key");
		break;
	}
	explicit_bzero(&pw, sizeof(pw));
	explicit_bzero(&ps, sizeof(ps));
	return st;
}

void
vol_what(const struct bde_volume *v, char *out, size_t size)
{
	if (v->partno != 0)
		snprintf(out, size, "volume %s ('%s' partition %u)",
		    v->volume_id, v->path, v->partno);
	else
		snprintf(out, size, "volume %s ('%s')", v->volume_id, v->path);
}

/*
 * A memfd that libcryptsetup can take for v's volume when v lies inside a
 * whole disk: as large as the volume, holes everywhere except the bytes
 * libbde reads as metadata (boot sector, the three FVE metadata blocks),
 * copied from the disk.  libcryptsetup reads its metadata from those
 * bytes only (BITLK_read_sb: the boot sector and the first metadata
 * block); the encrypted keys it checks the key against are in them.
 * Returns the descriptor in *out.
 */
static enum bde_status
shadow_volume(const struct bde_volume *v, const char *what, int *out,
    char **errstr)
{
	libbfio_handle_t *h = NULL;
	libbde_volume_t *vol = NULL;
	libbde_error_t *error = NULL;
	enum bde_status st = BDE_OK;
	uint8_t buf[65536];
	uint64_t copied = 0;
	char msg[256];
	int fd = -1, mfd = -1, opened = 0, i, n = 0, e;

	*out = -1;
	fd = open(v->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		st = bde_error(errstr, BDE_EIO, "cannot open '%s': %s", v->path,
		    e == EACCES || e == EPERM ? "permission denied: run as "
		    "root or add yourself to the disk group" : strerror(e));
		goto out;
	}
	h = vol_bfio_range(fd, v->offset, v->size);
	if (h == NULL || libbde_volume_initialize(&vol, NULL) != 1 ||
	    libbfio_handle_set_track_offsets_read(h, 1, NULL) != 1) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (libbde_volume_open_file_io_handle(vol, h, LIBBDE_OPEN_READ,
	    &error) < 0) {
		st = bde_error(errstr, BDE_EIO, "cannot read %s: %s", what,
		    vol_bde_error(&error, msg, sizeof(msg)));
		goto out;
	}
	opened = 1;
	mfd = memfd_create("bdekey-volume", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, (off_t)v->size) < 0 ||
	    libbfio_handle_get_number_of_offsets_read(h, &n, NULL) != 1) {
		e = errno;
		st = bde_error(errstr, BDE_EIO, "cannot make a copy of the "
		    "metadata of %s: %s", what, strerror(e));
		goto out;
	}
	for (i = 0; i < n; i++) {
		off64_t off = 0;
		size64_t len = 0;

		if (libbfio_handle_get_offset_read(h, i, &off, &len,
		    NULL) != 1 || off < 0 || (uint64_t)off > v->size ||
		    len > v->size - (uint64_t)off ||
		    (copied += len) > SHADOW_MAX) {
			st = bde_error(errstr, BDE_EIO, "cannot read %s: "
			    "implausible metadata extents", what);
			goto out;
		}
		while (len > 0) {
			size_t want = len < sizeof(buf) ? (size_t)len :
			    sizeof(buf);
			ssize_t r = pread(fd, buf, want,
			    (off_t)(v->offset + (uint64_t)off));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0 || pwrite(mfd, buf, (size_t)r, off) != r) {
				st = bde_error(errstr, BDE_EIO, "cannot copy "
				    "the metadata of %s", what);
				goto out;
			}
			off += r;
			len -= (size64_t)r;
		}
	}
	*out = mfd;
	mfd = -1;
out:
	if (opened)
		libbde_volume_close(vol, NULL);
	if (vol != NULL)
		libbde_volume_free(&vol, NULL);
	if (h != NULL)
		libbfio_handle_free(&h, NULL);
	if (mfd >= 0)
		close(mfd);
	if (fd >= 0)
		close(fd);
	return st;
}

enum bde_status
vol_key_fits(const struct bde_volume *v, const char *what,
    const struct bde_unlock_key *key, char **errstr)
{
	const char *want = key->kind == BDE_KEY_STARTUP_KEY ? "startup-key" :
	    "recovery-password";
	char id[BDE_GUID_LEN + 1];
	size_t i;

	if (v->error != NULL)
		return bde_error(errstr, BDE_EIO, "cannot check a key against "
		    "%s: %s", what, v->error);
	for (i = 0; i < v->nprotectors; i++)
		if (strcmp(v->protectors[i].type, want) == 0)
			break;
	if (i == v->nprotectors)
		return bde_error(errstr, BDE_EUSAGE, "%s has no %s protector",
		    what, want);
	/* a .BEK names the protector it is for: say so when it is not here */
	if (key->kind == BDE_KEY_STARTUP_KEY && key->data != NULL &&
	    bde_bek_protector_id(key->data, key->len, id) == 0 &&
	    bde_volume_protector(v, id) == NULL)
		return bde_error(errstr, BDE_EBADKEY, "the startup key is for "
		    "protector %s, which %s does not have: wrong key for this "
		    "volume", id, what);
	return BDE_OK;
}

enum bde_status
bde_volume_check(const struct bde_volume *v, const struct bde_unlock_key *key,
    char **errstr)
{
	struct vol_crypt c = { NULL, { 0 } };
	enum bde_status st;
	const char *dev;
	char what[160], shadow[32];
	int mfd = -1;

	vol_what(v, what, sizeof(what));
	if (key == NULL || key->data == NULL)
		return bde_error(errstr, BDE_EUSAGE, "no key given");
	st = vol_key_fits(v, what, key, errstr);
	if (st != BDE_OK)
		return st;
	dev = v->device != NULL ? v->device : v->offset == 0 ? v->path : NULL;
	if (dev == NULL) {
		st = shadow_volume(v, what, &mfd, errstr);
		if (st != BDE_OK)
			goto out;
		snprintf(shadow, sizeof(shadow), "/proc/self/fd/%d", mfd);
		dev = shadow;
	}
	st = vol_crypt_open(&c, dev, v->volume_id, errstr);
	if (st == BDE_OK)
		st = vol_crypt_unlock(&c, what, NULL, key, 0, errstr);
	vol_crypt_close(&c);
out:
	if (mfd >= 0)
		close(mfd);
	return st;
}

enum bde_status
bde_bek_read(const char *path, uint8_t **out, size_t *len, char **errstr)
{
	struct stat sb;
	enum bde_status st = BDE_OK;
	uint8_t *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd = -1, e;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		st = bde_error(errstr, BDE_EIO, "cannot open '%s': %s", path,
		    strerror(e));
		goto out;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		st = bde_error(errstr, BDE_EUSAGE, "'%s' is not a .BEK file: "
		    "not a regular file", path);
		goto out;
	}
	if (sb.st_size < BEK_MIN || sb.st_size > BDE_BEK_MAX) {
		st = bde_error(errstr, BDE_EUSAGE, "'%s' is not a .BEK file: "
		    "%lld bytes", path, (long long)sb.st_size);
		goto out;
	}
	buf = malloc(BDE_BEK_MAX + 1);
	if (buf == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	/* read to the end: the file may have changed size since fstat */
	while (got <= BDE_BEK_MAX) {
		r = read(fd, buf + got, BDE_BEK_MAX + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			st = bde_error(errstr, BDE_EIO, "cannot read '%s': %s",
			    path, strerror(e));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got < BEK_MIN || got > BDE_BEK_MAX) {
		st = bde_error(errstr, BDE_EUSAGE, "'%s' is not a .BEK file: "
		    "wrong size", path);
		goto out;
	}
	*out = buf;
	*len = got;
	buf = NULL;
out:
	bde_bek_free(buf, BDE_BEK_MAX + 1);
	if (fd >= 0)
		close(fd);
	return st;
}

void
bde_bek_free(uint8_t *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

int
bde_bek_protector_id(const uint8_t *bek, size_t len,
    char out[BDE_GUID_LEN + 1])
{
	uint8_t g[16];

	if (bek == NULL || len < 48)
		return -1;
	bde_guid_swap_ms(bek + 16, g);
	bde_guid_format(g, out);
	return 0;
}
