/*
 * activate.c - a BitLocker volume as /dev/mapper/NAME through
 * libcryptsetup (BITLK) and device-mapper, and its deactivation.
 *
 * Read-only unless asked: the mapping is made with
 * CRYPT_ACTIVATE_READONLY, and a loop device we make is read-only too.
 */
#include "volume/volume_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DM_CONTROL "/dev/mapper/control"
#define DM_NAME_MAX 127

enum bde_status
bde_volume_dm_available(char **errstr)
{
	int fd;

	if (access(DM_CONTROL, F_OK) != 0)
		return bde_error(errstr, BDE_EIO, "device-mapper is not "
		    "available: no %s (load the dm_mod kernel module, as root)",
		    DM_CONTROL);
	if (geteuid() != 0 || access(DM_CONTROL, R_OK | W_OK) != 0)
		return bde_error(errstr, BDE_EIO, "device-mapper needs root: "
		    "run as root");
	/*
	 * The node can outlive the driver, or be made without it (libdevmapper
	 * creates it when asked; containers copy it): only opening tells.
	 */
	fd = open(DM_CONTROL, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == ENODEV || errno == ENXIO))
		return bde_error(errstr, BDE_EIO, "device-mapper is not "
		    "available: the kernel has no device-mapper driver (load "
		    "the dm_mod kernel module, as root)");
	if (fd < 0)
		return bde_error(errstr, BDE_EIO, "device-mapper is not "
		    "available: cannot open %s: %s", DM_CONTROL,
		    strerror(errno));
	close(fd);
	return BDE_OK;
}

enum bde_status
bde_volume_name_check(const char *name, char **errstr)
{
	size_t i, n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > DM_NAME_MAX || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return bde_error(errstr, BDE_EUSAGE, "bad mapping name '%s': 1 "
		    "to %d characters, not '.' or '..'", name != NULL ? name :
		    "", DM_NAME_MAX);
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '+' || c == '-'))
			return bde_error(errstr, BDE_EUSAGE, "bad mapping name: "
			    "only letters, digits and . _ + - are allowed");
	}
	return BDE_OK;
}

/*
 * A loop device showing [off, off + size) of path, read-only unless rw,
 * that the kernel removes when its last user closes it (autoclear): the
 * mapping keeps it open, our descriptor goes at the end of activation.
 * Fills dev ("/dev/loopN") and returns the loop's descriptor, or -1 with
 * a message.
 */
static int
loop_attach(const char *path, uint64_t off, uint64_t size, int rw, char *dev,
    size_t devsz, char **errstr)
{
	struct loop_config cfg;
	int ctl = -1, back = -1, loop = -1, n, tries, e = 0;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		e = errno;
	back = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (back < 0 && e == 0)
		e = errno;
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (uint32_t)back;
	cfg.info.lo_offset = off;
	cfg.info.lo_sizelimit = size;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (rw ? 0 : LO_FLAGS_READ_ONLY);
	/* another process may take the free device first: try again */
	for (tries = 0; e == 0 && tries < 8; tries++) {
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			e = errno;
			break;
		}
		snprintf(dev, devsz, "/dev/loop%d", n);
		loop = open(dev, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (loop < 0) {
			e = errno;
			break;
		}
		if (ioctl(loop, LOOP_CONFIGURE, &cfg) == 0)
			goto out;
		e = errno;
		close(loop);
		loop = -1;
		if (e != EBUSY)
			break;
		e = 0;
	}
	bde_error(errstr, BDE_EIO, "cannot set up a loop device for '%s': %s",
	    path, strerror(e != 0 ? e : EBUSY));
out:
	if (ctl >= 0)
		close(ctl);
	if (back >= 0)
		close(back);
	return loop;
}

enum bde_status
bde_volume_activate(const struct bde_volume *v, const char *name,
    const struct bde_unlock_key *key, unsigned flags, char **errstr)
{
	struct vol_crypt c = { NULL, { 0 } };
	enum bde_status st;
	const char *dev;
	char what[160], loopdev[32];
	int rw = (flags & BDE_VOLUME_READ_WRITE) != 0, loop = -1;

	vol_what(v, what, sizeof(what));
	if (key == NULL || key->data == NULL)
		return bde_error(errstr, BDE_EUSAGE, "no key given");
	if ((st = bde_volume_name_check(name, errstr)) != BDE_OK ||
	    (st = vol_key_fits(v, what, key, errstr)) != BDE_OK ||
	    (st = bde_volume_dm_available(errstr)) != BDE_OK)
		return st;
	vol_crypt_quiet();
	if (crypt_status(NULL, name) != CRYPT_INACTIVE)
		return bde_error(errstr, BDE_EUSAGE, "'/dev/mapper/%s' exists "
		    "already", name);
	dev = v->device != NULL ? v->device : v->offset == 0 ? v->path : NULL;
	if (dev == NULL) {
		/* libcryptsetup's BITLK cannot start at an offset: see key.c */
		loop = loop_attach(v->path, v->offset, v->size, rw, loopdev,
		    sizeof(loopdev), errstr);
		if (loop < 0)
			return BDE_EIO;
		dev = loopdev;
	}
	st = vol_crypt_open(&c, dev, v->volume_id, errstr);
	if (st == BDE_OK)
		st = vol_crypt_unlock(&c, what, name, key, rw ? 0 :
		    CRYPT_ACTIVATE_READONLY, errstr);
	vol_crypt_close(&c);
	if (loop >= 0)
		close(loop);
	return st;
}

enum bde_status
bde_volume_deactivate(const char *name, char **errstr)
{
	struct crypt_device *cd = NULL;
	enum bde_status st;
	const char *type;
	int r;

	if ((st = bde_volume_name_check(name, errstr)) != BDE_OK ||
	    (st = bde_volume_dm_available(errstr)) != BDE_OK)
		return st;
	vol_crypt_quiet();
	r = crypt_init_by_name(&cd, name);
	if (r == -ENODEV) {
		cd = NULL;
		st = bde_error(errstr, BDE_ENOTFOUND, "no active volume "
		    "'/dev/mapper/%s'", name);
		goto out;
	}
	if (r < 0) {
		cd = NULL;
		st = bde_error(errstr, BDE_EIO, "cannot look at "
		    "'/dev/mapper/%s': %s", name, strerror(-r));
		goto out;
	}
	type = crypt_get_type(cd);
	if (type == NULL || strcmp(type, CRYPT_BITLK) != 0) {
		st = bde_error(errstr, BDE_EUSAGE, "'/dev/mapper/%s' is not a "
		    "BitLocker volume (%s): not closing it", name,
		    type != NULL ? type : "unknown type");
		goto out;
	}
	r = crypt_deactivate(cd, name);
	if (r == -EBUSY)
		st = bde_error(errstr, BDE_EIO, "'/dev/mapper/%s' is in use: "
		    "unmount it first", name);
	else if (r < 0)
		st = bde_error(errstr, BDE_EIO, "cannot deactivate "
		    "'/dev/mapper/%s': %s", name, strerror(-r));
out:
	if (cd != NULL)
		crypt_free(cd);
	return st;
}
