/*
 * package.c - `bdekey package`: write the key package (msFVE-KeyPackage)
 * of one recovery key from Active Directory to a file, for repair-bde
 * on a damaged volume (Microsoft "BitLocker recovery process": the key
 * package plus the recovery password decrypt what is left of the disk).
 *
 * The package is as secret as the password: it is audited like a
 * revealed password, written mode 0600, synced, and never over an
 * existing file unless --force.
 */
#include "cmd/audit.h"
#include "cmd/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct package_opts {
	const char *key_id;
	const char *output;
	int force;
	struct bde_keyid id;	/* key_id, parsed by check */
};

static const struct cmd_option package_options[] = {
	OPT_STRING("key-id", 'k', "ID", "key ID, or a unique prefix of 8+ hex "
	    "digits", struct package_opts, key_id),
	OPT_STRING("output", 'o', "FILE", "write the key package to FILE "
	    "(mode 0600)", struct package_opts, output),
	OPT_BOOL("force", 'f', "overwrite FILE if it exists",
	    struct package_opts, force),
	OPT_REASON("why the package is read (a ticket number), for the "
	    "audit log"),
	OPT_END
};

static const struct cmd_optgroup package_group = {
	"options", package_options
};
static const struct cmd_optgroup *const package_groups[] = {
	&package_group, &settings_ad_group, &settings_common_group, NULL
};
static const char *const package_synopsis[] = {
	"--key-id ID -o FILE [--force] [--reason TEXT]",
	NULL
};

/* fsync the directory holding path, so the new name survives a crash. */
static void
sync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd = -1;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* best effort: some file systems (FAT, ...) cannot sync a directory */
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/*
 * Write len bytes of p to path: a new file (O_EXCL) unless force, never
 * through a symbolic link, mode 0600, synced.  Returns EXIT_OK, or an
 * exit status after printing why (EXIT_USAGE when the file exists).  A
 * file this call created is removed again when writing fails.
 */
static int
write_package(const char *path, const unsigned char *p, size_t len, int force)
{
	struct stat sb;
	size_t off = 0;
	ssize_t w;
	int fd = -1, created, status = EXIT_IO;

	created = lstat(path, &sb) < 0 && errno == ENOENT;
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    (force ? O_TRUNC : O_EXCL), 0600);
	if (fd < 0) {
		if (errno == EEXIST) {
			cmd_warn("package: '%s' exists: refusing to overwrite "
			    "it (use --force)", path);
			status = EXIT_USAGE;
		} else if (errno == ELOOP) {
			cmd_warn("package: '%s' is a symbolic link: not "
			    "writing through it", path);
		} else {
			cmd_warn("package: cannot create '%s': %s", path,
			    strerror(errno));
		}
		created = 0;
		goto out;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		cmd_warn("package: '%s' is not a regular file", path);
		goto out;
	}
	/* --force over an old file: it may have had wider permissions */
	if (fchmod(fd, 0600) < 0) {
		cmd_warn("package: cannot chmod '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	while (off < len) {
		w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			cmd_warn("package: cannot write '%s': %s", path,
			    strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		cmd_warn("package: cannot sync '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		cmd_warn("package: cannot write '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	sync_parent(path);
	status = EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (status != EXIT_OK && created)
		unlink(path);
	return status;
}

/* Record the read before the package leaves memory; 0 or -1 (printed). */
static int
audit_package(const struct settings *s, const struct package_opts *po,
    const char *device, const char *key_id, const char *identity,
    size_t len)
{
	struct bde_key k;
	cJSON *rec;

	memset(&k, 0, sizeof(k));
	k.source = "ad";
	k.device = (char *)device;
	snprintf(k.key_id, sizeof(k.key_id), "%s", key_id);
	rec = audit_record_new("package", &k, identity, s->reason);
	if (rec == NULL || cmd_json_add(rec, "file", po->output) < 0 ||
	    cJSON_AddNumberToObject(rec, "bytes", (double)len) == NULL) {
		cJSON_Delete(rec);
		cmd_warn("package: out of memory");
		return -1;
	}
	return audit_append(s->audit_log, rec);
}

static int
package_check(struct cmd_ctx *ctx)
{
	struct package_opts *po = ctx->opts;
	struct stat sb;
	char *err = NULL;

	if (po->key_id == NULL || po->output == NULL || *po->output == '\0') {
		cmd_warn("package: give --key-id and -o FILE");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	if (bde_keyid_parse(po->key_id, &po->id, &err) != BDE_OK) {
		cmd_warn("package: %s", err);
		free(err);
		return EXIT_USAGE;
	}
	/* before the network and a password prompt (written with O_EXCL) */
	if (!po->force && lstat(po->output, &sb) == 0) {
		cmd_warn("package: '%s' exists: refusing to overwrite it (use "
		    "--force)", po->output);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int
run_package(struct cmd_ctx *ctx)
{
	const struct package_opts *po = ctx->opts;
	struct bde_backend b;
	struct bde_package pkg;
	char *err = NULL;
	enum bde_status st;
	int status;

	memset(&b, 0, sizeof(b));
	memset(&pkg, 0, sizeof(pkg));
	st = backend_get(BACKEND_AD)->open(ctx->s, &b, &err);
	if (st == BDE_OK && b.ops->key_package == NULL)
		st = bde_error(&err, BDE_ECONFIG, "no key packages here");
	if (st == BDE_OK)
		st = b.ops->key_package(b.self, &po->id, &pkg, &err);
	if (st != BDE_OK) {
		cmd_warn("package: ad: %s", err);
		status = cmd_exit_status(st);
		goto out;
	}
	/* the audit record comes first: no record, no package */
	if (audit_package(ctx->s, po, pkg.device, pkg.key_id,
	    b.ops->identity(b.self), pkg.len) < 0) {
		status = EXIT_IO;
		goto out;
	}
	status = write_package(po->output, pkg.data, pkg.len, po->force);
	if (status != EXIT_OK)
		goto out;
	printf("wrote the key package of key %s (device '%s', %zu bytes) to "
	    "'%s'\n", cmd_safe(pkg.key_id), pkg.device ?
	    cmd_safe(pkg.device) : "?", pkg.len,
	    po->output);
out:
	bde_package_release(&pkg);
	if (b.ops != NULL)
		b.ops->close(b.self);
	free(err);
	return status;
}

const struct cmd cmd_package = {
	.name = "package",
	.summary = "write a key package from AD to a file for repair-bde",
	.synopsis = package_synopsis,
	.groups = package_groups,
	.flags = CMD_SETTINGS | CMD_BACKENDS | CMD_SECRETS | CMD_AUDIT,
	.backends = BACKEND_AD,
	.opts_size = sizeof(struct package_opts),
	.check = package_check,
	.run = run_package,
};
