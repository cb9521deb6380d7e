/*
 * meta.c - a BitLocker volume's metadata through libbde: volume ID,
 * creation time, description, encryption method and key protectors.
 *
 * libbde rather than libcryptsetup for this: libcryptsetup hands the
 * description and the protectors out only as crypt_dump() text, libbde
 * has an accessor for each.  libbde opens a locked volume (no key set)
 * and reads only the metadata then; it reads through vol_bfio_range, so
 * nothing outside the volume's bytes is ever read.
 */
#include "volume/volume_int.h"

#include <stdlib.h>
#include <string.h>

/* Seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01. */
#define FILETIME_UNIX_DIFF 11644473600LL

/* Windows descriptions are about 40 characters; this is plenty. */
#define DESC_MAX_UNITS 1024
#define DESC_MAX_BYTES (DESC_MAX_UNITS * 3 + 1)

/*
 * Protection types on disk: 0x0100 TPM, 0x0200 startup key, 0x0400 PIN
 * (seen only with TPM: 0x0500), 0x0800 recovery password, 0x1000
 * certificate (public key or smart card), 0x2000 password, 0x0000 a clear
 * key (BitLocker suspended).  libbde's documentation and cryptsetup's
 * BITLK list these; 0x0300 and 0x0700 (TPM with startup key, and with PIN
 * as well) follow from the bits and are what Windows' "TPM And Startup
 * Key" protectors must be stored as, but no test volume has one.
 */
static const struct {
	uint16_t raw;
	const char *name;
} protector_types[] = {
	{ 0x0000, "clear-key" },
	{ 0x0100, "tpm" },
	{ 0x0200, "startup-key" },
	{ 0x0300, "tpm+startup-key" },
	{ 0x0500, "tpm+pin" },
	{ 0x0700, "tpm+pin+startup-key" },
	{ 0x0800, "recovery-password" },
	{ 0x1000, "certificate" },
	{ 0x2000, "password" },
};

const char *
bde_protector_type_name(uint16_t raw)
{
	size_t i;

	for (i = 0; i < sizeof(protector_types) / sizeof(protector_types[0]);
	    i++)
		if (protector_types[i].raw == raw)
			return protector_types[i].name;
	return "unknown";
}

static const char *
method_name(uint16_t m)
{
	switch (m) {
	case LIBBDE_ENCRYPTION_METHOD_AES_128_CBC_DIFFUSER:
		return "AES-CBC-128-DIFFUSER";
	case LIBBDE_ENCRYPTION_METHOD_AES_256_CBC_DIFFUSER:
		return "AES-CBC-256-DIFFUSER";
	case LIBBDE_ENCRYPTION_METHOD_AES_128_CBC:
		return "AES-CBC-128";
	case LIBBDE_ENCRYPTION_METHOD_AES_256_CBC:
		return "AES-CBC-256";
	case LIBBDE_ENCRYPTION_METHOD_AES_128_XTS:
		return "AES-XTS-128";
	case LIBBDE_ENCRYPTION_METHOD_AES_256_XTS:
		return "AES-XTS-256";
	}
	return "unknown";
}

/* 16 GUID bytes as stored (mixed-endian) to the canonical text. */
static void
guid_from_disk(const uint8_t disk[16], char out[BDE_GUID_LEN + 1])
{
	uint8_t g[16];

	bde_guid_swap_ms(disk, g);
	bde_guid_format(g, out);
}

/*
 * The description, made safe: libbde converts the stored UTF-16LE to host
 * UTF-16 (an unpaired surrogate makes it fail: then there is none), we
 * do the rest.  Returns a new string ("" when none) or NULL (no memory).
 */
static char *
read_description(libbde_volume_t *vol)
{
	uint16_t *u16 = NULL;
	char *s = NULL;
	size_t units = 0;

	if (libbde_volume_get_utf16_description_size(vol, &units, NULL) != 1 ||
	    units == 0)
		return strdup("");
	if (units > DESC_MAX_UNITS)
		units = DESC_MAX_UNITS;
	u16 = calloc(units, sizeof(*u16));
	s = malloc(DESC_MAX_BYTES);
	if (u16 == NULL || s == NULL) {
		free(s);
		s = NULL;
		goto out;
	}
	/*
	 * A description longer than the cap does not fit the buffer and
	 * libbde refuses it: an absurd description is no description.
	 */
	if (libbde_volume_get_utf16_description(vol, u16, units, NULL) != 1)
		s[0] = '\0';
	else
		bde_describe_utf16(u16, units, s, DESC_MAX_BYTES);
out:
	free(u16);
	return s;
}

static enum bde_status
read_protectors(libbde_volume_t *vol, struct bde_volume *v, char **errstr)
{
	libbde_key_protector_t *kp = NULL;
	libbde_error_t *error = NULL;
	enum bde_status st = BDE_OK;
	char msg[256];
	int i, n = 0;

	if (libbde_volume_get_number_of_key_protectors(vol, &n, &error) != 1) {
		st = bde_error(errstr, BDE_EIO, "cannot list the key "
		    "protectors: %s", vol_bde_error(&error, msg, sizeof(msg)));
		goto out;
	}
	if (n <= 0)
		goto out;
	v->protectors = calloc((size_t)n, sizeof(*v->protectors));
	if (v->protectors == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct bde_protector *p = &v->protectors[v->nprotectors];
		uint8_t id[16];
		uint16_t type = 0;

		if (libbde_volume_get_key_protector(vol, i, &kp, &error) != 1 ||
		    libbde_key_protector_get_identifier(kp, id, sizeof(id),
		    &error) != 1 ||
		    libbde_key_protector_get_type(kp, &type, &error) != 1) {
			st = bde_error(errstr, BDE_EIO, "cannot read key "
			    "protector %d: %s", i + 1,
			    vol_bde_error(&error, msg, sizeof(msg)));
			goto out;
		}
		libbde_key_protector_free(&kp, NULL);
		guid_from_disk(id, p->id);
		p->raw_type = type;
		p->type = bde_protector_type_name(type);
		v->nprotectors++;
	}
out:
	if (kp != NULL)
		libbde_key_protector_free(&kp, NULL);
	return st;
}

/* Forget what was read of a volume whose metadata failed us. */
static void
drop_metadata(struct bde_volume *v)
{
	free(v->description);
	free(v->computer);
	free(v->drive);
	free(v->protectors);
	v->description = v->computer = v->drive = NULL;
	v->protectors = NULL;
	v->nprotectors = 0;
	v->method = NULL;
	v->created = 0;
	memset(v->volume_id, 0, sizeof(v->volume_id));
}

enum bde_status
vol_meta_read(int fd, uint64_t off, uint64_t size, struct bde_volume *v,
    char **errstr)
{
	libbfio_handle_t *h = NULL;
	libbde_volume_t *vol = NULL;
	libbde_error_t *error = NULL;
	struct bde_description d;
	enum bde_status st = BDE_OK;
	uint8_t id[16];
	uint64_t ft = 0;
	uint16_t method = 0;
	size64_t vsize = 0;
	char msg[256], *err = NULL;
	int opened = 0;

	h = vol_bfio_range(fd, off, size);
	if (h == NULL || libbde_volume_initialize(&vol, NULL) != 1) {
		st = bde_error(&err, BDE_ENOMEM, "out of memory");
		goto out;
	}
	/* 0: open but locked (no key given, as here); -1: not readable */
	if (libbde_volume_open_file_io_handle(vol, h, LIBBDE_OPEN_READ,
	    &error) < 0) {
		vol_bde_error(&error, msg, sizeof(msg));
		if (vol_bfio_past_end(h))
			st = bde_error(&err, BDE_EIO, "the BitLocker metadata "
			    "lies past the end of the %llu bytes there: "
			    "truncated image or damaged volume (libbde: %s)",
			    (unsigned long long)size, msg);
		else
			st = bde_error(&err, BDE_EIO, "libbde cannot read the "
			    "BitLocker metadata: %s", msg);
		goto out;
	}
	opened = 1;
	/*
	 * libbde's size is what the metadata says the volume is; less on
	 * disk is a cut-off image (or a wrong partition table), which
	 * nothing could decrypt entirely.
	 */
	if (libbde_volume_get_size(vol, &vsize, NULL) == 1 && vsize > size) {
		st = bde_error(&err, BDE_EIO, "truncated: the BitLocker "
		    "volume is %llu bytes, only %llu are there",
		    (unsigned long long)vsize, (unsigned long long)size);
		goto out;
	}
	if (libbde_volume_get_volume_identifier(vol, id, sizeof(id),
	    &error) != 1) {
		st = bde_error(&err, BDE_EIO, "the BitLocker metadata has no "
		    "volume ID: %s", vol_bde_error(&error, msg, sizeof(msg)));
		goto out;
	}
	guid_from_disk(id, v->volume_id);
	if (libbde_volume_get_creation_time(vol, &ft, NULL) == 1 &&
	    ft / 10000000 > (uint64_t)FILETIME_UNIX_DIFF)
		v->created = (time_t)((int64_t)(ft / 10000000) -
		    FILETIME_UNIX_DIFF);
	if (libbde_volume_get_encryption_method(vol, &method, NULL) != 1)
		method = 0;
	v->method = method_name(method);
	v->description = read_description(vol);
	if (v->description == NULL) {
		st = bde_error(&err, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (bde_describe_parse(v->description, &d) == 0) {
		if (d.computer[0] != '\0' &&
		    (v->computer = strdup(d.computer)) == NULL) {
			st = bde_error(&err, BDE_ENOMEM, "out of memory");
			goto out;
		}
		if (d.drive[0] != '\0' && (v->drive = strdup(d.drive)) == NULL) {
			st = bde_error(&err, BDE_ENOMEM, "out of memory");
			goto out;
		}
	}
	st = read_protectors(vol, v, &err);
out:
	if (st != BDE_OK) {
		drop_metadata(v);
		/* the record keeps why; a NULL error tells the scan no memory */
		if (st == BDE_EIO && err != NULL)
			v->error = strdup(err);
		bde_error(errstr, st, "%s", err != NULL ? err : "out of memory");
	}
	free(err);
	if (opened)
		libbde_volume_close(vol, NULL);
	if (vol != NULL)
		libbde_volume_free(&vol, NULL);
	if (h != NULL)
		libbfio_handle_free(&h, NULL);
	return st;
}
