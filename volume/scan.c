/*
 * scan.c - find the BitLocker volumes in a path: a partition or volume
 * image, or a whole disk (device or image) with a partition table, and
 * say what is there instead when there is none.
 *
 * libblkid decides what is where.  The volume is probed before any
 * partition table: a BitLocker boot sector ends in 55 AA like an MBR,
 * and partition tools read it as a DOS table full of garbage.  Each
 * partition is probed through its own window of the same descriptor, so
 * nothing is opened twice and nothing outside a partition is read for
 * it.
 */
#include "volume/volume_int.h"

#include <blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* More partitions than any real table has; a hostile one may claim more. */
#define MAX_PARTITIONS 256
/* How much of a disk without signatures is looked at for "only zeros". */
#define ZERO_CHECK (1024 * 1024)
/* What is said about each partition when none is BitLocker. */
#define FOUND_MAX 512

void
bde_volume_release(struct bde_volume *v)
{
	free(v->path);
	free(v->device);
	free(v->description);
	free(v->computer);
	free(v->drive);
	free(v->protectors);
	free(v->error);
	memset(v, 0, sizeof(*v));
}

void
bde_volume_list_free(struct bde_volume_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		bde_volume_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const struct bde_protector *
bde_volume_protector(const struct bde_volume *v, const char *id)
{
	size_t i;

	for (i = 0; i < v->nprotectors; i++)
		if (strcmp(v->protectors[i].id, id) == 0)
			return &v->protectors[i];
	return NULL;
}

/* A whole-disk block device's partition partno as its own node, or NULL. */
static char *
part_devnode(int fd, unsigned partno)
{
	char dir[64], file[64 + 2 * NAME_MAX], buf[32];
	struct dirent *de;
	struct stat sb;
	char *node = NULL;
	DIR *d = NULL;
	FILE *f;
	unsigned ma, mi, n;

	if (fstat(fd, &sb) < 0 || !S_ISBLK(sb.st_mode))
		return NULL;
	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u", major(sb.st_rdev),
	    minor(sb.st_rdev));
	d = opendir(dir);
	if (d == NULL)
		return NULL;
	/* the kernel lists partition sdc2 as /sys/.../sdc/sdc2/partition */
	while (node == NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/partition", dir,
		    de->d_name);
		f = fopen(file, "re");
		if (f == NULL)
			continue;
		n = 0;
		if (fgets(buf, sizeof(buf), f) == NULL ||
		    sscanf(buf, "%u", &n) != 1 || n != partno) {
			fclose(f);
			continue;
		}
		fclose(f);
		snprintf(file, sizeof(file), "%s/%s/dev", dir, de->d_name);
		f = fopen(file, "re");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    sscanf(buf, "%u:%u", &ma, &mi) == 2)
			node = blkid_devno_to_devname(makedev(ma, mi));
		fclose(f);
	}
	closedir(d);
	return node;
}

/* Whether the first bytes of fd (up to ZERO_CHECK) are all zero. */
static int
only_zeros(int fd, uint64_t size)
{
	static const uint8_t zero[4096];
	uint8_t buf[4096];
	uint64_t off = 0, end = size;

	if (end > ZERO_CHECK)
		end = ZERO_CHECK;
	while (off < end) {
		size_t want = end - off < sizeof(buf) ? (size_t)(end - off) :
		    sizeof(buf);
		ssize_t r = pread(fd, buf, want, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		if (memcmp(buf, zero, (size_t)r) != 0)
			return 0;
		off += (uint64_t)r;
	}
	return 1;
}

/*
 * Whether the volume at off starts with a BitLocker boot sector that
 * libblkid did not take (it also checks the metadata block the sector
 * points to): then a volume is there but cut off or damaged, which says
 * more than "nothing found".  Vista and later write "-FVE-FS-" as OEM
 * name; To Go volumes write "MSWIN4.1" like FAT and so are known by
 * BitLocker's identifier GUID 4967D63B-2E29-4AD8-8399-F6A339E3D001
 * (mixed-endian) at 0x1A8.  A diagnosis only: nothing is read from it.
 */
static int
bitlocker_remnant(int fd, uint64_t off, uint64_t size)
{
	static const uint8_t fve_id[16] = {
		0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a,
		0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01
	};
	uint8_t b[512];

	if (size < sizeof(b) || off > INT64_MAX ||
	    pread(fd, b, sizeof(b), (off_t)off) != (ssize_t)sizeof(b))
		return 0;
	return memcmp(b + 3, "-FVE-FS-", 8) == 0 ||
	    (memcmp(b + 3, "MSWIN4.1", 8) == 0 &&
	    memcmp(b + 0x1A8, fve_id, sizeof(fve_id)) == 0);
}

/* "an NTFS filesystem", "a LUKS volume", "a 'xfs' filesystem", ... */
static void
say_found(char *out, size_t size, const char *type, const char *usage)
{
	static const struct {
		const char *type, *says;
	} names[] = {
		{ "ntfs", "an NTFS filesystem" },
		{ "vfat", "a FAT filesystem" },
		{ "exfat", "an exFAT filesystem" },
		{ "crypto_LUKS", "a LUKS volume" },
		{ "swap", "swap space" },
		{ "LVM2_member", "an LVM physical volume" },
		{ "linux_raid_member", "a Linux RAID member" },
		{ "iso9660", "an ISO 9660 image" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(type, names[i].type) == 0) {
			snprintf(out, size, "%s", names[i].says);
			return;
		}
	snprintf(out, size, "a%s %s %s",
	    strchr("aeiou", type[0]) != NULL ? "n" : "", type,
	    usage != NULL && strcmp(usage, "crypto") == 0 ? "volume" :
	    usage != NULL && strcmp(usage, "raid") == 0 ? "RAID member" :
	    "filesystem");
}

/*
 * What libblkid finds in [off, off + size) of fd: 1 and *bitlocker set,
 * or 1 with a description of what else is there in found, or 0 for
 * nothing, -1 when libblkid fails.
 */
static int
probe_range(int fd, uint64_t off, uint64_t size, int *bitlocker, int *to_go,
    char *found, size_t found_size)
{
	blkid_probe pr = NULL;
	const char *type = NULL, *usage = NULL, *magic = NULL;
	size_t mlen = 0;
	int rc = -1;

	*bitlocker = *to_go = 0;
	found[0] = '\0';
	pr = blkid_new_probe();
	if (pr == NULL || blkid_probe_set_device(pr, fd, (blkid_loff_t)off,
	    (blkid_loff_t)size) != 0)
		goto out;
	blkid_probe_enable_partitions(pr, 0);
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
	    BLKID_SUBLKS_USAGE | BLKID_SUBLKS_MAGIC);
	rc = blkid_do_safeprobe(pr);
	if (rc == -2) {
		snprintf(found, found_size, "signatures of more than one kind "
		    "(libblkid cannot tell which is right)");
		rc = 1;
		goto out;
	}
	if (rc != 0) {
		rc = rc == 1 ? 0 : -1;
		goto out;
	}
	rc = 1;
	if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL) != 0)
		type = "unknown";
	if (blkid_probe_lookup_value(pr, "USAGE", &usage, NULL) != 0)
		usage = NULL;
	if (strcmp(type, "BitLocker") != 0) {
		say_found(found, found_size, type, usage);
		goto out;
	}
	*bitlocker = 1;
	/*
	 * BitLocker To Go volumes start like a FAT boot sector ("MSWIN4.1"
	 * as OEM name, so that old Windows can run the reader on them); the
	 * other kinds say "-FVE-FS-".  libblkid reports the magic it matched.
	 */
	if (blkid_probe_lookup_value(pr, "SBMAGIC", &magic, &mlen) == 0 &&
	    magic != NULL && memmem(magic, mlen, "MSWIN4.1", 8) != NULL)
		*to_go = 1;
out:
	if (pr != NULL)
		blkid_free_probe(pr);
	return rc;
}

/* Append a record for the volume at off and read its metadata. */
static enum bde_status
add_volume(struct bde_volume_list *out, const char *name, int fd,
    uint64_t off, uint64_t size, unsigned partno, int to_go, int is_blk,
    char **errstr)
{
	struct bde_volume *v;
	enum bde_status st;

	v = reallocarray(out->v, out->n + 1, sizeof(*v));
	if (v == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	out->v = v;
	v = &out->v[out->n++];
	memset(v, 0, sizeof(*v));
	v->path = strdup(name);
	if (v->path == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	v->partno = partno;
	v->offset = off;
	v->size = size;
	v->to_go = to_go;
	if (partno != 0 && is_blk)
		v->device = part_devnode(fd, partno);
	st = vol_meta_read(fd, off, size, v, NULL);
	if (st == BDE_EIO && v->error == NULL)
		st = BDE_ENOMEM;
	if (st == BDE_ENOMEM)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	return BDE_OK;
}

/* The partitions of a whole disk; *found says what when none is BitLocker. */
static enum bde_status
scan_partitions(int fd, const char *name, uint64_t size, int is_blk,
    struct bde_volume_list *out, size_t *nbde, char *found,
    size_t found_size, char **errstr)
{
	blkid_probe pr = NULL;
	blkid_partlist ls;
	blkid_parttable tab;
	const char *pt;
	enum bde_status st = BDE_OK;
	char what[128], pttype[16];
	size_t len;
	int i, n;

	pr = blkid_new_probe();
	if (pr == NULL || blkid_probe_set_device(pr, fd, 0,
	    (blkid_loff_t)size) != 0) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 0);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	if (blkid_do_safeprobe(pr) != 0)
		goto out;	/* no partition table: found stays empty */
	/* the values go when the binary interface below probes again */
	if (blkid_probe_lookup_value(pr, "PTTYPE", &pt, NULL) != 0)
		pt = "";
	snprintf(pttype, sizeof(pttype), "%s", pt);
	ls = blkid_probe_get_partitions(pr);
	if (ls == NULL)
		goto out;
	/*
	 * No table but a list: a protective MBR whose GPT libblkid rejects,
	 * which is what a whole-disk image cut short looks like (the GPT
	 * claims sectors past the end; the backup header is gone).
	 */
	tab = blkid_partlist_get_table(ls);
	if (tab == NULL) {
		if (strcmp(pttype, "PMBR") == 0)
			snprintf(found, found_size, "a protective MBR but no GPT "
			    "that libblkid accepts (a disk image cut short?)");
		goto out;
	}
	pt = blkid_parttable_get_type(tab);
	if (pt == NULL)
		pt = "unknown";
	n = blkid_partlist_numof_partitions(ls);
	if (n < 0)
		n = 0;
	snprintf(found, found_size, "%s %s partition table with %d "
	    "partition%s", strcmp(pt, "dos") == 0 ? "an" : "a",
	    strcmp(pt, "dos") == 0 ? "MBR" : strcmp(pt, "gpt") == 0 ? "GPT" :
	    pt, n, n == 1 ? "" : "s");
	if (n > 0)
		strncat(found, ", none BitLocker (", found_size -
		    strlen(found) - 1);
	for (i = 0; i < n && i < MAX_PARTITIONS; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);
		int64_t start, psize;
		int bde = 0, to_go = 0, partno, rc;

		if (par == NULL)
			continue;
		partno = blkid_partition_get_partno(par);
		start = blkid_partition_get_start(par);
		psize = blkid_partition_get_size(par);
		what[0] = '\0';
		/* sizes are in 512-byte units; all of it must be inside */
		if (partno <= 0 || start < 0 || psize <= 0 ||
		    start > INT64_MAX / 512 || psize > INT64_MAX / 512)
			snprintf(what, sizeof(what), "an impossible entry");
		else if ((uint64_t)start * 512 >= size)
			snprintf(what, sizeof(what), "starts past the end");
		else if (blkid_partition_is_extended(par))
			snprintf(what, sizeof(what), "extended");
		else {
			uint64_t off = (uint64_t)start * 512;
			uint64_t len64 = (uint64_t)psize * 512;

			/* a cut-off partition is probed as far as it goes */
			if (len64 > size - off)
				len64 = size - off;
			rc = probe_range(fd, off, len64, &bde, &to_go, what,
			    sizeof(what));
			if (rc <= 0 && bitlocker_remnant(fd, off, len64))
				snprintf(what, sizeof(what), "a BitLocker boot "
				    "sector without readable metadata "
				    "(truncated or damaged)");
			else if (rc <= 0)
				snprintf(what, sizeof(what), "nothing "
				    "libblkid recognises");
			if (bde) {
				st = add_volume(out, name, fd, off, len64,
				    (unsigned)partno, to_go, is_blk, errstr);
				if (st != BDE_OK)
					goto out;
				(*nbde)++;
				continue;
			}
		}
		len = strlen(found);
		if (len + 1 < found_size)
			snprintf(found + len, found_size - len, "%s%d: %s",
			    found[len - 1] == '(' ? "" : ", ", partno, what);
	}
	if (n > MAX_PARTITIONS)
		strncat(found, ", ...", found_size - strlen(found) - 1);
	if (n > 0)
		strncat(found, ")", found_size - strlen(found) - 1);
out:
	if (pr != NULL)
		blkid_free_probe(pr);
	return st;
}

enum bde_status
vol_scan_fd(int fd, const char *name, uint64_t size, int is_blk,
    struct bde_volume_list *out, char **errstr)
{
	struct bde_volume_list keep = *out;
	enum bde_status st = BDE_OK;
	char found[FOUND_MAX], parts[FOUND_MAX];
	size_t i, nbde = 0, good = 0;
	int bde = 0, to_go = 0, rc;

	found[0] = parts[0] = '\0';
	if (size == 0)
		return bde_error(errstr, BDE_ENOTFOUND, "no BitLocker volume "
		    "in '%s': it is empty", name);
	rc = probe_range(fd, 0, size, &bde, &to_go, found, sizeof(found));
	if (rc < 0) {
		st = bde_error(errstr, BDE_EIO, "cannot read '%s': libblkid "
		    "failed to probe it", name);
		goto out;
	}
	if (bde) {
		st = add_volume(out, name, fd, 0, size, 0, to_go, is_blk,
		    errstr);
		if (st != BDE_OK)
			goto out;
		nbde = 1;
	} else {
		st = scan_partitions(fd, name, size, is_blk, out, &nbde, parts,
		    sizeof(parts), errstr);
		if (st != BDE_OK)
			goto out;
	}
	for (i = keep.n; i < out->n; i++)
		if (out->v[i].error == NULL)
			good++;
	if (good > 0)
		goto out;
	if (nbde > 0) {
		const struct bde_volume *v = &out->v[keep.n];

		if (v->partno != 0)
			st = bde_error(errstr, BDE_EIO, "'%s' partition %u: %s",
			    name, v->partno, v->error);
		else
			st = bde_error(errstr, BDE_EIO, "'%s': %s", name,
			    v->error);
		goto out;
	}
	if (found[0] != '\0' && parts[0] != '\0')
		st = bde_error(errstr, BDE_ENOTFOUND, "no BitLocker volume in "
		    "'%s': found %s and %s", name, found, parts);
	else if (found[0] != '\0' || parts[0] != '\0')
		st = bde_error(errstr, BDE_ENOTFOUND, "no BitLocker volume in "
		    "'%s': found %s", name, found[0] != '\0' ? found : parts);
	else if (bitlocker_remnant(fd, 0, size))
		st = bde_error(errstr, BDE_ENOTFOUND, "no BitLocker volume in "
		    "'%s': found a BitLocker boot sector but no metadata "
		    "libblkid accepts (truncated or damaged volume?)", name);
	else if (only_zeros(fd, size))
		st = bde_error(errstr, BDE_ENOTFOUND, "no BitLocker volume in "
		    "'%s': only zeros%s", name, size > ZERO_CHECK ?
		    " in its first MiB" : "");
	else
		st = bde_error(errstr, BDE_ENOTFOUND, "no BitLocker volume in "
		    "'%s': no partition table and no filesystem that libblkid "
		    "recognises", name);
out:
	if (st != BDE_OK) {
		/* a failed scan leaves the list as it was */
		for (i = keep.n; i < out->n; i++)
			bde_volume_release(&out->v[i]);
		out->n = keep.n;
	}
	return st;
}

/* Open path for reading, refusing what cannot hold a volume. */
static enum bde_status
open_input(const char *path, int *fdp, uint64_t *size, int *is_blk,
    char **errstr)
{
	struct stat sb;
	const char *kind = NULL;
	int fd, e;

	*fdp = -1;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		if (e == EACCES || e == EPERM)
			return bde_error(errstr, BDE_EIO, "cannot open '%s': "
			    "permission denied: run as root or add yourself "
			    "to the disk group", path);
		return bde_error(errstr, BDE_EIO, "cannot open '%s': %s", path,
		    strerror(e));
	}
	if (fstat(fd, &sb) < 0) {
		e = errno;
		close(fd);
		return bde_error(errstr, BDE_EIO, "cannot stat '%s': %s", path,
		    strerror(e));
	}
	if (S_ISDIR(sb.st_mode))
		kind = "a directory";
	else if (S_ISFIFO(sb.st_mode))
		kind = "a FIFO";
	else if (S_ISSOCK(sb.st_mode))
		kind = "a socket";
	else if (S_ISCHR(sb.st_mode))
		kind = "a character device";
	else if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode))
		kind = "not a regular file";
	if (kind != NULL) {
		close(fd);
		return bde_error(errstr, BDE_EUSAGE, "'%s' is %s: give a disk, "
		    "a partition or an image file", path, kind);
	}
	*is_blk = S_ISBLK(sb.st_mode);
	if (*is_blk) {
		uint64_t bytes = 0;

		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
			e = errno;
			close(fd);
			return bde_error(errstr, BDE_EIO, "cannot get the size "
			    "of '%s': %s", path, strerror(e));
		}
		*size = bytes;
	} else {
		*size = sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
	}
	if (fcntl(fd, F_SETFL, 0) < 0) {
		e = errno;
		close(fd);
		return bde_error(errstr, BDE_EIO, "cannot use '%s': %s", path,
		    strerror(e));
	}
	*fdp = fd;
	return BDE_OK;
}

enum bde_status
bde_volume_scan(const char *path, struct bde_volume_list *out, char **errstr)
{
	enum bde_status st;
	uint64_t size = 0;
	int fd = -1, is_blk = 0;

	st = open_input(path, &fd, &size, &is_blk, errstr);
	if (st != BDE_OK)
		goto out;
	st = vol_scan_fd(fd, path, size, is_blk, out, errstr);
out:
	if (fd >= 0)
		close(fd);
	return st;
}
