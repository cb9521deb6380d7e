/*
 * crypt.c - libcryptsetup (BITLK) for key checks and activation, with its
 * messages caught: left alone it prints errors to stderr itself.
 */
#include "volume/volume_int.h"

#include <ctype.h>
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>

static void
log_drop(int level, const char *msg, void *usrptr)
{
}

/* Keep the last error line for our own message. */
static void
log_keep(int level, const char *msg, void *usrptr)
{
	struct vol_crypt *c = usrptr;
	size_t n;

	if (level != CRYPT_LOG_ERROR || msg == NULL)
		return;
	snprintf(c->log, sizeof(c->log), "%s", msg);
	/* one line, lower case start, no full stop: our message style */
	n = strcspn(c->log, "\r\n");
	c->log[n] = '\0';
	while (n > 0 && (c->log[n - 1] == '.' || c->log[n - 1] == ' '))
		c->log[--n] = '\0';
	if (n > 1 && isupper((unsigned char)c->log[0]) &&
	    !isupper((unsigned char)c->log[1]))
		c->log[0] = (char)tolower((unsigned char)c->log[0]);
	/* it may quote bytes of a .BEK or the disk */
	while (n-- > 0)
		if ((unsigned char)c->log[n] < 0x20 ||
		    (unsigned char)c->log[n] >= 0x7F)
			c->log[n] = '?';
}

void
vol_crypt_quiet(void)
{
	/*
	 * Process-wide: before crypt_init there is no handle to set a
	 * callback on, and crypt_init's own messages would go to stderr.
	 */
	crypt_set_log_callback(NULL, log_drop, NULL);
}

enum bde_status
vol_crypt_open(struct vol_crypt *c, const char *device, const char *volume_id,
    char **errstr)
{
	const char *uuid;
	char want[BDE_GUID_LEN + 1];
	enum bde_status st = BDE_OK;
	size_t i;
	int r;

	memset(c, 0, sizeof(*c));
	vol_crypt_quiet();
	r = crypt_init(&c->cd, device);
	if (r < 0) {
		c->cd = NULL;
		st = bde_error(errstr, BDE_EIO, "cannot open '%s': %s", device,
		    r == -EACCES || r == -EPERM ? "permission denied: run as "
		    "root or add yourself to the disk group" : strerror(-r));
		goto out;
	}
	crypt_set_log_callback(c->cd, log_keep, c);
	r = crypt_load(c->cd, CRYPT_BITLK, NULL);
	if (r < 0) {
		st = bde_error(errstr, BDE_EIO, "'%s': libcryptsetup cannot "
		    "read the BitLocker metadata: %s", device,
		    c->log[0] != '\0' ? c->log : strerror(-r));
		goto out;
	}
	/* the volume scanned may have been swapped for another since */
	uuid = crypt_get_uuid(c->cd);
	if (volume_id != NULL) {
		for (i = 0; uuid != NULL && uuid[i] != '\0' &&
		    i < BDE_GUID_LEN; i++)
			want[i] = (char)toupper((unsigned char)uuid[i]);
		want[i] = '\0';
		if (uuid == NULL || strcmp(want, volume_id) != 0) {
			st = bde_error(errstr, BDE_EIO, "'%s' no longer holds "
			    "BitLocker volume %s", device, volume_id);
			goto out;
		}
	}
out:
	if (st != BDE_OK)
		vol_crypt_close(c);
	return st;
}

void
vol_crypt_close(struct vol_crypt *c)
{
	if (c->cd != NULL)
		crypt_free(c->cd);
	c->cd = NULL;
	explicit_bzero(c->log, sizeof(c->log));
}

enum bde_status
vol_crypt_unlock(struct vol_crypt *c, const char *what, const char *name,
    const struct bde_unlock_key *key, uint32_t flags, char **errstr)
{
	uint8_t buf[BDE_BEK_MAX];
	enum bde_status st;
	size_t len = 0;
	int r;

	st = vol_key_prepare(key, buf, sizeof(buf), &len, errstr);
	if (st != BDE_OK)
		goto out;
	c->log[0] = '\0';
	/*
	 * libcryptsetup tries the key on every protector in metadata order
	 * (as a password, as a recovery password, as a startup key); name
	 * NULL only checks.  A wrong key is -EPERM when no protector could
	 * take it, and -EINVAL when the last one tried failed its MAC check
	 * (cryptsetup 2.6: crypt_bitlk_decrypt_key); that failure logs no
	 * error, whereas the -EINVAL of damaged metadata or a .BEK for
	 * another volume comes with one.
	 */
	r = crypt_activate_by_passphrase(c->cd, name, CRYPT_ANY_SLOT,
	    (const char *)buf, len, flags);
	if (r >= 0)
		goto out;
	if (r == -EINVAL && c->log[0] == '\0')
		r = -EPERM;
	switch (r) {
	case -EPERM:
		st = bde_error(errstr, BDE_EBADKEY, "the %s does not open %s: "
		    "wrong key for this volume", key->kind ==
		    BDE_KEY_STARTUP_KEY ? "startup key" : "recovery password",
		    what);
		break;
	case -ENOTSUP:
		st = bde_error(errstr, BDE_EUSAGE, "%s cannot be opened with "
		    "a %s%s%s", what, key->kind == BDE_KEY_STARTUP_KEY ?
		    "startup key" : "recovery password", c->log[0] != '\0' ?
		    ": " : "", c->log);
		break;
	case -EINVAL:
		/* a .BEK for another volume, or not a .BEK at all */
		st = bde_error(errstr, key->kind == BDE_KEY_STARTUP_KEY ?
		    BDE_EBADKEY : BDE_EIO, "%s: %s", what, c->log[0] != '\0' ?
		    c->log : "invalid key or metadata");
		break;
	case -EEXIST:
		st = bde_error(errstr, BDE_EUSAGE, "'/dev/mapper/%s' exists "
		    "already", name != NULL ? name : "");
		break;
	case -ENOMEM:
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		break;
	default:
		st = bde_error(errstr, BDE_EIO, "cannot %s %s: %s", name !=
		    NULL ? "activate" : "check the key of", what,
		    c->log[0] != '\0' ? c->log : strerror(-r));
		break;
	}
out:
	explicit_bzero(buf, sizeof(buf));
	return st;
}
