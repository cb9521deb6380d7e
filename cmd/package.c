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
#include "cmd/settings.h"

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
	const char *reason;
	int force;
};

enum {
	OPT_KEY_ID = 'k',
	OPT_OUTPUT = 'o',
	OPT_FORCE = 'f',
	OPT_REASON = 'r'
};

static const struct cmd_option package_options[] = {
	{ "key-id", OPT_KEY_ID, "ID",
	  "key ID, or a unique prefix of 8+ hex digits" },
	{ "output", OPT_OUTPUT, "FILE", "write the key package to FILE "
	  "(mode 0600)" },
	{ "force", OPT_FORCE, NULL, "overwrite FILE if it exists" },
	{ "reason", OPT_REASON, "TEXT", "why the package is read (a ticket "
	  "number), for the audit log" },
	{ NULL, 0, NULL, NULL }
};

static int
package_apply(void *settings, int key, const char *arg)
{
	struct package_opts *po = ((struct settings *)settings)->cmd;

	switch (key) {
	case OPT_KEY_ID:
		po->key_id = arg;
		break;
	case OPT_OUTPUT:
		po->output = arg;
		break;
	case OPT_FORCE:
		po->force = 1;
		break;
	case OPT_REASON:
		po->reason = arg;
		break;
	}
	return 0;
}

static const struct cmd_optgroup package_group = {
	"options", package_options, package_apply
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
 * through a symbolic link, mode 0600, synced.  Returns EXIT_FOUND, or an
 * exit status after printing why (EXIT_USAGE when the file exists).  A
 * file this call created is removed again when writing fails.
 */
static int
write_package(const char *path, const unsigned char *p, size_t len, int force)
{
	struct stat sb;
	size_t off = 0;
	ssize_t w;
	int fd = -1, created, status = EXIT_UNREACH;

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
	status = EXIT_FOUND;
out:
	if (fd >= 0)
		close(fd);
	if (status != EXIT_FOUND && created)
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
	struct audit a;
	cJSON *rec;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	memset(&k, 0, sizeof(k));
	k.source = "ad";
	k.device = (char *)device;
	snprintf(k.key_id, sizeof(k.key_id), "%s", key_id);
	if (audit_open(&a, s->audit_log) < 0)
		goto out;
	rec = audit_record_new("package", &k, identity, po->reason);
	if (rec == NULL) {
		cmd_warn("package: out of memory");
		goto out;
	}
	cJSON_AddStringToObject(rec, "file", po->output);
	cJSON_AddNumberToObject(rec, "bytes", (double)len);
	if (audit_write(&a, rec) < 0)
		goto out;
	rc = 0;
out:
	if (audit_close(&a) < 0)
		rc = -1;
	return rc;
}

static int
run_package(const struct cmd *self, int argc, char **argv)
{
	struct package_opts po;
	struct settings s;
	struct bde_keyid id;
	struct bde_backend b;
	struct stat sb;
	struct bde_package pkg;
	char *err = NULL;
	enum bde_status st;
	int status = EXIT_USAGE, opened = 0;

	memset(&po, 0, sizeof(po));
	memset(&b, 0, sizeof(b));
	memset(&pkg, 0, sizeof(pkg));
	settings_init(&s);
	s.cmd = &po;
	status = cmd_begin(self, argc, argv, &s);
	if (status != CMD_GO)
		goto out;
	status = EXIT_USAGE;
	if (po.key_id == NULL || po.output == NULL || *po.output == '\0') {
		cmd_warn("package: give --key-id and -o FILE");
		cmd_print_usage(self, stderr);
		goto out;
	}
	if (bde_keyid_parse(po.key_id, &id, &err) != BDE_OK) {
		cmd_warn("package: %s", err);
		goto out;
	}
	if (settings_finish(&s) < 0)
		goto out;
	if (s.require_reason && (po.reason == NULL || po.reason[0] == '\0')) {
		cmd_warn("package: a --reason (e.g. the ticket number) is "
		    "required to read a key package ([audit] require_reason)");
		goto out;
	}
	if (!settings_ad_configured(&s)) {
		cmd_warn("package: no LDAP server configured: set --ldap-uri, "
		    "BDEKEY_LDAP_URI or URI in ldap.conf");
		goto out;
	}
	/* fail before the network (and a password prompt) when we can */
	if (ad_check(&s.ad, &err) != BDE_OK) {
		cmd_warn("package: ad: %s", err);
		goto out;
	}
	if (!po.force && lstat(po.output, &sb) == 0) {
		cmd_warn("package: '%s' exists: refusing to overwrite it (use "
		    "--force)", po.output);
		goto out;
	}
	if (settings_load_secrets(&s, 1, 0) < 0)
		goto out;

	st = ad_open(&s.ad, &b, &err);
	if (st != BDE_OK) {
		cmd_warn("package: ad: %s", err);
		status = cmd_exit_status(st);
		goto out;
	}
	opened = 1;
	st = b.ops->key_package(b.self, &id, &pkg, &err);
	if (st != BDE_OK) {
		cmd_warn("package: ad: %s", err);
		status = cmd_exit_status(st);
		goto out;
	}
	/* the audit record comes first: no record, no package */
	if (audit_package(&s, &po, pkg.device, pkg.key_id,
	    b.ops->identity(b.self), pkg.len) < 0) {
		status = EXIT_UNREACH;
		goto out;
	}
	status = write_package(po.output, pkg.data, pkg.len, po.force);
	if (status != EXIT_FOUND)
		goto out;
	printf("wrote the key package of key %s (device '%s', %zu bytes) to "
	    "'%s'\n", pkg.key_id, pkg.device ? pkg.device : "?", pkg.len,
	    po.output);
	status = cmd_finish(EXIT_FOUND);
out:
	bde_package_release(&pkg);
	if (opened)
		b.ops->close(b.self);
	free(err);
	settings_release(&s);
	return status;
}

const struct cmd cmd_package = {
	"package", "write a key package from AD to a file for repair-bde",
	package_synopsis, package_groups, run_package
};
