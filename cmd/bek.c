/*
 * bek.c - `bdekey bek`: the BitLocker key file (BEK) that Azure Disk
 * Encryption keeps in Key Vault, found by the strongest route the
 * options allow (the volume's startup-key protector ID, ARM's VM or
 * disk, ADE's tags), fetched exactly (its own KEK version), recorded in
 * the audit log, then written to a file: mode 0600, never through a
 * symbolic link, never over a file unless --force; and the next step on
 * either kind of repair VM.  `bek --check` proves a VM's keys restorable
 * without writing anything.  Also the volume route for `unlock --vault`.
 */
#include "cmd/audit.h"
#include "cmd/bek.h"
#include "cmd/disk.h"
#include "cmd/kvlookup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESOURCE_MAX 128

struct bek_opts {
	const char *volume;
	const char *partition;
	unsigned partno;	/* parsed by check */
	const char *vm;
	const char *resource_group;
	const char *device;
	const char *secret;
	const char *output;
	int force;
	int check;
	/* --vm as a VM resource ID, taken apart by check */
	char id_sub[RESOURCE_MAX], id_rg[RESOURCE_MAX], id_vm[RESOURCE_MAX];
};

#define BO struct bek_opts
static const struct cmd_option bek_options[] = {
	OPT_STRING("volume", 0, "PATH", "the BEK of the BitLocker volume in "
	    "PATH: its startup-key protector ID names the secret", BO, volume),
	OPT_STRING("partition", 0, "N", "with --volume on a disk: the volume "
	    "in partition N", BO, partition),
	OPT_STRING("vm", 0, "NAME", "the BEK that Azure Resource Manager "
	    "names for the VM's OS disk (NAME or a VM resource ID)", BO, vm),
	OPT_STRING("resource-group", 'g', "RG", "the VM's resource group", BO,
	    resource_group),
	OPT_STRING("device", 'd', "NAME", "the BEKs whose MachineName tag is "
	    "NAME, newest of each volume letter", BO, device),
	OPT_STRING("secret", 0, "URL", "the BEK secret at URL "
	    "(https://VAULT/secrets/NAME[/VERSION])", BO, secret),
	OPT_STRING("output", 'o', "FILE|DIR", "write the .BEK to FILE, or "
	    "to DIR/<ID>.BEK", BO, output),
	OPT_BOOL("force", 'f', "replace an existing file", BO, force),
	OPT_BOOL("check", 0, "check that the keys are there, enabled, "
	    "readable and unwrap; write nothing", BO, check),
	OPT_REASON("why the key is read (a ticket number), for the audit "
	    "log"),
	OPT_END
};
#undef BO

static const struct cmd_optgroup bek_group = { "options", bek_options };
static const struct cmd_optgroup *const bek_groups[] = {
	&bek_group, &settings_keyvault_group, &settings_signin_group,
	&settings_common_group, NULL
};
static const char *const bek_synopsis[] = {
	"(--volume PATH | --vm NAME -g RG | --device NAME | --secret URL) "
	"[--vault V] -o FILE|DIR [--force] [--reason TEXT]",
	"--check (--vm NAME -g RG | --volume PATH | --device NAME | --secret "
	"URL) [--vault V]",
	NULL
};

/* Say a backend failure and return its exit status. */
static int
fail(const char *cmdname, enum bde_status st, char *err)
{
	cmd_warn("%s: %s", cmdname, err ? err : "failed");
	free(err);
	return cmd_exit_status(st);
}

/*
 * Route volume: v's startup-key protectors, each ID the name of a secret
 * tried in turn; the found ones appended to out.
 */
static int
find_volume(struct kv *kv, const char *cmdname, const struct bde_volume *v,
    struct kv_beklist *out)
{
	enum bde_status st, last = BDE_ENOTFOUND;
	char *err = NULL;
	size_t i;
	int any = 0;

	for (i = 0; i < v->nprotectors; i++) {
		if (strcmp(v->protectors[i].type, "startup-key") != 0)
			continue;
		any = 1;
		free(err);
		err = NULL;
		st = kv_find_by_id(kv, v->protectors[i].id, out, &err);
		if (st == BDE_OK)
			continue;
		if (st != BDE_ENOTFOUND)
			return fail(cmdname, st, err);
		last = st;
	}
	if (!any) {
		free(err);
		cmd_warn("%s: volume %s of '%s' has no startup-key protector "
		    "(Azure Disk Encryption's BEK is one; its ID names the "
		    "secret)", cmdname, v->volume_id, cmd_safe(v->path));
		return EXIT_NOTFOUND;
	}
	if (out->n == 0)
		return fail(cmdname, last, err);
	free(err);
	return EXIT_OK;
}

/* Print b's notes on stderr, once. */
static void
say_notes(const char *cmdname, struct kv_bek *b, size_t *done)
{
	for (; *done < b->nnotes; (*done)++)
		cmd_warn("%s: %s: %s", cmdname, b->key_id[0] ? b->key_id :
		    b->name, b->notes[*done]);
}

int
bek_vault_for_volume(struct settings *s, const char *cmdname,
    const struct bde_volume *v, struct vault_bek *out)
{
	struct kv_beklist l = KV_BEKLIST_INIT;
	struct kv *kv = NULL;
	enum bde_status st;
	char *err = NULL;
	size_t done = 0;
	int status;

	memset(out, 0, sizeof(*out));
	if ((status = kvlookup_open(s, cmdname, &kv)) != EXIT_OK)
		goto out;
	if ((status = find_volume(kv, cmdname, v, &l)) != EXIT_OK)
		goto out;
	out->rec = l.v[0];
	memset(&l.v[0], 0, sizeof(l.v[0]));
	st = kv_fetch(kv, &out->rec, &out->bek, &out->len, &err);
	say_notes(cmdname, &out->rec, &done);
	if (st != BDE_OK) {
		status = fail(cmdname, st, err);
		goto out;
	}
	if ((out->identity = strdup(kv_identity(kv))) == NULL) {
		cmd_warn("out of memory");
		status = EXIT_IO;
	}
out:
	if (status != EXIT_OK)
		bek_vault_release(out);
	kv_beklist_free(&l);
	kv_close(kv);
	return status;
}

void
bek_vault_release(struct vault_bek *b)
{
	kv_bytes_free(b->bek, b->len);
	kv_bek_release(&b->rec);
	free(b->identity);
	memset(b, 0, sizeof(*b));
}

/* "C:\  4381F759-...  2024-03-10T08:12:40Z  Wrapped BEK" and a mark. */
static void
print_candidate(const struct kv_bek *b, const char *mark)
{
	char when[21] = "-";

	if (b->created > 0)
		bde_time_format(b->created, when);
	printf("  %-4s %-36s  %s  %-11s %s%s\n", b->volume ?
	    cmd_safe(b->volume) : "-", b->key_id[0] ? b->key_id :
	    cmd_safe(b->name), when, b->content_type ?
	    cmd_safe(b->content_type) : "-", b->enabled == 0 ? "disabled, " :
	    "", mark);
}

/* What was found, and how: every candidate of the tags route. */
static void
print_found(const struct bek_opts *bo, const struct kv_beklist *l,
    const char *vault)
{
	const struct kv_bek *b;
	size_t i;

	for (i = 0; i < l->n; i++) {
		b = &l->v[i];
		switch (b->route) {
		case KV_ROUTE_VOLUME:
			printf("route volume: the startup-key protector %s of "
			    "'%s' names secret %s (newest enabled of %d "
			    "version%s)\n", b->key_id, cmd_safe(bo->volume),
			    b->secret_url, b->versions, b->versions == 1 ? "" :
			    "s");
			break;
		case KV_ROUTE_ARM:
			printf("route arm: VM %s (%s) names secret %s%s%s\n",
			    cmd_safe(b->vm), b->dual ? "dual pass: the VM's "
			    "encryptionSettings" : "single pass: its OS disk's "
			    "encryptionSettingsCollection", b->secret_url,
			    b->kek_url ? " and KEK " : " (no KEK)", b->kek_url ?
			    b->kek_url : "");
			break;
		case KV_ROUTE_TAGS:
			if (i == 0)
				printf("route tags: %zu BEK secret%s with "
				    "MachineName '%s' in %s (newest of each "
				    "volume letter used)\n", l->n, l->n == 1 ?
				    "" : "s", cmd_safe(bo->device), vault);
			print_candidate(b, b->newest ? "used" :
			    b->enabled == 0 ? "not used" : "older: not used");
			break;
		case KV_ROUTE_SECRET:
			printf("route secret: %s\n", b->secret_url);
			break;
		case KV_ROUTE_NONE:
			break;
		}
	}
}

/* Whether path names a directory (an existing one, or ends with "/"). */
static int
is_dir(const char *path)
{
	struct stat sb;
	size_t n = strlen(path);

	return (n > 0 && path[n - 1] == '/') ||
	    (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
}

/* The file for b: FILE, or DIR/<ID>.BEK; a new string (NULL: memory). */
static char *
target_path(const struct bek_opts *bo, const struct kv_bek *b)
{
	size_t n = strlen(bo->output);
	char *p;

	if (!is_dir(bo->output))
		return strdup(bo->output);
	/* Key Vault names are letters, digits and dashes: a safe file name */
	while (n > 1 && bo->output[n - 1] == '/')
		n--;
	if (asprintf(&p, "%.*s/%s.BEK", (int)n, bo->output, b->key_id[0] ?
	    b->key_id : b->name) < 0)
		return NULL;
	return p;
}

/* -o DIR/ that does not exist yet: made, 0700 (one level). */
static int
make_dir(const char *out)
{
	size_t n = strlen(out);
	int e;

	if (n == 0 || out[n - 1] != '/' || mkdir(out, 0700) == 0 ||
	    errno == EEXIST)
		return EXIT_OK;
	e = errno;
	cmd_warn("bek: cannot make directory '%s': %s", out, strerror(e));
	return EXIT_IO;
}

/*
 * Whether path may be written: not a symbolic link (ever), not an
 * existing file unless --force.  EXIT_OK or a status after saying why.
 */
static int
target_ok(const char *path, int force)
{
	struct stat sb;
	char *dir, *slash;
	int e = 0;

	if (lstat(path, &sb) < 0) {
		/* a new file: its directory must be there */
		if ((dir = strdup(path)) == NULL) {
			cmd_warn("out of memory");
			return EXIT_IO;
		}
		slash = strrchr(dir, '/');
		if (slash != NULL) {
			slash[1] = '\0';
			if (stat(dir, &sb) < 0)
				e = errno;
			else if (!S_ISDIR(sb.st_mode))
				e = ENOTDIR;
		}
		free(dir);
		if (e != 0) {
			cmd_warn("bek: cannot write '%s': %s", path,
			    strerror(e));
			return EXIT_IO;
		}
		return EXIT_OK;
	}
	if (S_ISLNK(sb.st_mode)) {
		cmd_warn("bek: '%s' is a symbolic link; a key is never written "
		    "through one", path);
		return EXIT_USAGE;
	}
	if (!S_ISREG(sb.st_mode)) {
		cmd_warn("bek: '%s' exists and is not a regular file", path);
		return EXIT_USAGE;
	}
	if (!force) {
		cmd_warn("bek: '%s' exists; --force replaces it", path);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Write len bytes to fd, fsync; 0 or -1 (errno). */
static int
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return fsync(fd);
}

/*
 * Write the .BEK to path, mode 0600: a new file (O_EXCL, O_NOFOLLOW), or
 * with --force a new file beside it renamed over it (rename replaces a
 * name; it never writes through a link).  EXIT_OK or EXIT_IO.
 */
static int
write_bek(const char *path, const uint8_t *bek, size_t len, int force)
{
	char *tmp = NULL;
	int fd, e, status = EXIT_IO;

	if (force) {
		if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
			cmd_warn("out of memory");
			return EXIT_IO;
		}
		fd = mkostemp(tmp, O_CLOEXEC);
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC | O_NOCTTY, 0600);
	}
	if (fd < 0) {
		e = errno;
		cmd_warn("bek: cannot create '%s': %s%s", path, strerror(e),
		    e == EEXIST ? " (--force replaces it)" : "");
		goto out;
	}
	/* 0600 whatever the umask says */
	if (fchmod(fd, 0600) < 0 || write_all(fd, bek, len) < 0) {
		e = errno;
		cmd_warn("bek: cannot write '%s': %s", path, strerror(e));
		close(fd);
		unlink(tmp != NULL ? tmp : path);
		goto out;
	}
	if (close(fd) < 0 || (tmp != NULL && rename(tmp, path) < 0)) {
		e = errno;
		cmd_warn("bek: cannot write '%s': %s", path, strerror(e));
		unlink(tmp != NULL ? tmp : path);
		goto out;
	}
	status = EXIT_OK;
out:
	free(tmp);
	return status;
}

/* The audit record of a BEK about to be written (or proved). */
static int
audit_bek(const struct cmd_ctx *ctx, const struct kv_bek *b,
    const char *identity, const char *file)
{
	struct bde_key k;
	char *abs = NULL, *dir;
	cJSON *rec;

	memset(&k, 0, sizeof(k));
	k.source = "keyvault";
	k.device = b->machine;
	snprintf(k.key_id, sizeof(k.key_id), "%s", b->key_id[0] ?
	    b->key_id : b->name);
	/* the file's absolute name: it does not exist yet, its directory does */
	if (file != NULL && file[0] != '/' && (dir = getcwd(NULL, 0)) != NULL) {
		if (asprintf(&abs, "%s/%s", dir, file) < 0)
			abs = NULL;
		free(dir);
	}
	rec = audit_record_new("bek", &k, identity, ctx->s->reason);
	if (rec == NULL || cmd_json_add(rec, "route",
	    kv_route_name(b->route)) < 0 ||
	    cmd_json_add(rec, "secret_url", b->secret_url) < 0 ||
	    (b->kek_url && cmd_json_add(rec, "kek_url", b->kek_url) < 0) ||
	    (b->volume && cmd_json_add(rec, "volume_letter", b->volume) < 0) ||
	    (b->vm && cmd_json_add(rec, "vm", b->vm) < 0) ||
	    cmd_json_add(rec, "file", abs ? abs : file) < 0) {
		cJSON_Delete(rec);
		free(abs);
		cmd_warn("bek: out of memory");
		return -1;
	}
	free(abs);
	return audit_append(ctx->s->audit_log, rec);
}

/* Fetch, record, (prove,) write one BEK; *written = its file's name. */
static int
one_bek(const struct cmd_ctx *ctx, struct kv *kv, struct kv_bek *b,
    const struct bde_volume *v, char **written)
{
	const struct bek_opts *bo = ctx->opts;
	struct bde_unlock_key key;
	enum bde_status st;
	uint8_t *bek = NULL;
	size_t len = 0, done = 0;
	char *path = NULL, *err = NULL;
	int status;

	path = target_path(bo, b);
	if (path == NULL) {
		cmd_warn("out of memory");
		return EXIT_IO;
	}
	/* before the vault is asked: nothing read in vain */
	if ((status = make_dir(bo->output)) != EXIT_OK ||
	    (status = target_ok(path, bo->force)) != EXIT_OK)
		goto out;
	st = kv_fetch(kv, b, &bek, &len, &err);
	say_notes("bek", b, &done);
	if (st != BDE_OK) {
		status = fail("bek", st, err);
		goto out;
	}
	/* recorded before it is proved or written: no record, no file */
	if (audit_bek(ctx, b, kv_identity(kv), path) < 0) {
		status = EXIT_IO;
		goto out;
	}
	if (v != NULL) {
		key.kind = BDE_KEY_STARTUP_KEY;
		key.data = bek;
		key.len = len;
		err = NULL;
		st = bde_volume_check(v, &key, &err);
		if (st != BDE_OK) {
			status = fail("bek", st, err);
			goto out;
		}
		printf("it opens volume %s of '%s'\n", v->volume_id,
		    cmd_safe(v->path));
	}
	if ((status = write_bek(path, bek, len, bo->force)) != EXIT_OK)
		goto out;
	printf("wrote %s (%zu bytes, mode 0600): the BEK of %s%s%s from "
	    "secret %s%s%s%s%s\n", cmd_safe(path), len, b->machine ?
	    cmd_safe(b->machine) : "the volume", b->volume ? " " : "",
	    b->volume ? cmd_safe(b->volume) : "", b->secret_url,
	    b->wrapped ? ", unwrapped with " : "", b->wrapped ? b->kek_url : "",
	    b->wrapped ? " " : "", b->wrapped ? b->alg : "");
	*written = path;
	path = NULL;
out:
	kv_bytes_free(bek, len);
	free(path);
	return status;
}

/* The next step on either kind of repair VM, for the files written. */
static void
print_next(char *const *files, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	printf("next, on a Windows repair VM (the encrypted volume attached "
	    "as F:):\n");
	for (i = 0; i < n; i++)
		printf("  manage-bde -unlock F: -RecoveryKey %s\n",
		    cmd_safe(files[i]));
	printf("or on a Linux repair VM (the volume's partition as "
	    "/dev/sdX2):\n");
	for (i = 0; i < n; i++)
		printf("  bdekey unlock /dev/sdX2 --key-file %s\n",
		    cmd_safe(files[i]));
}

/* kv_check's findings, one line each. */
static void
print_finding(void *arg, enum kv_level level, const char *text)
{
	(void)arg;
	printf("%-4s %s\n", kv_level_name(level), cmd_safe(text));
}

static int
run_bek(struct cmd_ctx *ctx)
{
	const struct bek_opts *bo = ctx->opts;
	struct kv_beklist l = KV_BEKLIST_INIT;
	struct kv_bek *b;
	struct bde_volume v;
	struct kv *kv = NULL;
	enum bde_status st = BDE_OK;
	const char *vm = bo->vm, *rg = bo->resource_group;
	char *err = NULL, **files = NULL;
	size_t i, used = 0, nfiles = 0;
	int status, r;

	memset(&v, 0, sizeof(v));
	if (bo->id_vm[0] != '\0') {
		/* a VM resource ID names its subscription */
		ctx->s->kv.subscription = bo->id_sub;
		vm = bo->id_vm;
		rg = bo->id_rg;
	}
	if (bo->volume != NULL && (status = disk_open_one("bek", bo->volume,
	    bo->partno, &v)) != EXIT_OK)
		goto out;
	if ((status = kvlookup_open(ctx->s, "bek", &kv)) != EXIT_OK)
		goto out;
	if (bo->volume != NULL) {
		if ((status = find_volume(kv, "bek", &v, &l)) != EXIT_OK)
			goto out;
	} else {
		if (vm != NULL)
			st = kv_find_by_vm(kv, rg, vm, &l, &err);
		else if (bo->device != NULL)
			st = kv_find_by_device(kv, bo->device, 0, &l, &err);
		else if ((b = calloc(1, sizeof(*b))) == NULL)
			st = bde_error(&err, BDE_ENOMEM, "out of memory");
		else if ((st = kv_bek_from_url(bo->secret, b, &err)) ==
		    BDE_OK) {
			l.v = b;
			l.n = l.cap = 1;
		} else {
			free(b);
		}
		if (st != BDE_OK) {
			status = fail("bek", st, err);
			goto out;
		}
	}
	print_found(bo, &l, kv_vault_url(kv) ? kv_vault_url(kv) : "-");
	for (i = 0; i < l.n; i++)
		used += l.v[i].route != KV_ROUTE_TAGS || l.v[i].newest;
	if (used == 0) {
		cmd_warn("bek: no enabled BEK among them");
		status = EXIT_NOTFOUND;
		goto out;
	}
	if (!bo->check && used > 1 && !is_dir(bo->output)) {
		cmd_warn("bek: %zu volumes have a BEK: give a directory to -o "
		    "for one file each", used);
		status = EXIT_USAGE;
		goto out;
	}
	if ((files = calloc(used, sizeof(*files))) == NULL) {
		cmd_warn("out of memory");
		status = EXIT_IO;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		b = &l.v[i];
		if (b->route == KV_ROUTE_TAGS && !b->newest)
			continue;
		if (bo->check) {
			printf("check %s:\n", b->secret_url);
			st = kv_check(kv, b, print_finding, NULL);
			r = st == BDE_OK ? EXIT_OK : cmd_exit_status(st);
		} else {
			r = one_bek(ctx, kv, b, bo->volume ? &v : NULL,
			    &files[nfiles]);
			nfiles += files[nfiles] != NULL;
		}
		if (r != EXIT_OK && status == EXIT_OK)
			status = r;
	}
	if (bo->check)
		printf("%s\n", status == EXIT_OK ? "restorable" :
		    "NOT restorable as it stands");
	print_next(files, nfiles);
out:
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	kv_beklist_free(&l);
	kv_close(kv);
	bde_volume_release(&v);
	return status;
}

/* "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/
 * virtualMachines/NAME" into bo's id_* fields; 0, or -1. */
static int
vm_resource_id(struct bek_opts *bo, const char *id)
{
	static const char *const fixed[] = { "subscriptions", NULL,
		"resourceGroups", NULL, "providers", "Microsoft.Compute",
		"virtualMachines", NULL };
	char *dst[] = { NULL, bo->id_sub, NULL, bo->id_rg, NULL, NULL, NULL,
		bo->id_vm };
	const char *p = id;
	size_t k, n;

	for (k = 0; k < 8; k++) {
		if (*p++ != '/')
			return -1;
		n = strcspn(p, "/");
		if (n == 0 || n >= RESOURCE_MAX)
			return -1;
		if (fixed[k] != NULL ? strlen(fixed[k]) != n ||
		    strncasecmp(p, fixed[k], n) != 0 : 0)
			return -1;
		if (dst[k] != NULL)
			memcpy(dst[k], p, n);
		p += n;
	}
	return *p == '\0' ? 0 : -1;
}

static int
bek_check(struct cmd_ctx *ctx)
{
	struct bek_opts *bo = ctx->opts;
	int routes = (bo->volume != NULL) + (bo->vm != NULL) +
	    (bo->device != NULL) + (bo->secret != NULL);

	if (routes != 1) {
		cmd_warn("bek: give one of --volume, --vm, --device and "
		    "--secret");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	if (bo->vm != NULL && bo->vm[0] == '/') {
		if (vm_resource_id(bo, bo->vm) < 0) {
			cmd_warn("bek: '%s' is not a VM resource ID (/"
			    "subscriptions/S/resourceGroups/RG/providers/"
			    "Microsoft.Compute/virtualMachines/NAME)", bo->vm);
			return EXIT_USAGE;
		}
	} else if ((bo->vm != NULL) != (bo->resource_group != NULL)) {
		cmd_warn("bek: --vm and --resource-group go together");
		return EXIT_USAGE;
	}
	if (bo->partition != NULL && (bo->volume == NULL ||
	    disk_partition_arg("bek", bo->partition, &bo->partno) < 0)) {
		if (bo->volume == NULL)
			cmd_warn("bek: --partition goes with --volume");
		return EXIT_USAGE;
	}
	if (bo->check) {
		if (bo->output != NULL || bo->force) {
			cmd_warn("bek: --check writes nothing: no -o or --force");
			return EXIT_USAGE;
		}
		/* nothing is revealed: the key is proved and wiped */
		ctx->audited = 0;
	} else if (bo->output == NULL || bo->output[0] == '\0') {
		cmd_warn("bek: give -o FILE or -o DIR for the .BEK file");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

const struct cmd cmd_bek = {
	.name = "bek",
	.summary = "fetch an Azure VM's BitLocker key file (BEK) from Key Vault",
	.synopsis = bek_synopsis,
	.groups = bek_groups,
	.flags = CMD_SETTINGS | CMD_AUDIT,
	.opts_size = sizeof(struct bek_opts),
	.check = bek_check,
	.run = run_bek,
};
