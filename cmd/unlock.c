/*
 * unlock.c - `bdekey unlock`: open a BitLocker volume on Linux with the
 * key that is proved to open it (from AD or Entra ID by the volume's own
 * protector IDs, a .BEK startup key, or a password a person types), as
 * /dev/mapper/NAME, read-only unless asked; `bdekey lock` closes it.
 * A key is recorded in the audit log before it is used.
 */
#include "cmd/audit.h"
#include "cmd/bek.h"
#include "cmd/disk.h"
#include "cmd/tty.h"
#include "cmd/volkeys.h"
#include "checksum/checksum.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct unlock_opts {
	const char *name;
	const char *partition;
	unsigned partno;	/* partition, parsed by check */
	const char *key_id;
	const char *key_file;
	int password_stdin;
	int read_write;
	int test;
	struct bde_keyid id;	/* key_id, parsed by check */
};

#define UO struct unlock_opts
static const struct cmd_option unlock_options[] = {
	OPT_STRING("name", 'n', "NAME", "the mapping's name: /dev/mapper/NAME "
	    "(default bdekey-ID, the volume ID's first 8 digits)", UO, name),
	OPT_STRING("partition", 0, "N", "on a disk: the BitLocker volume in "
	    "partition N", UO, partition),
	OPT_BOOL("read-write", 0, "activate for writing (default: read-only)",
	    UO, read_write),
	OPT_STRING("key-id", 'k', "ID", "use the recovery password with this "
	    "key ID from AD or Entra ID", UO, key_id),
	OPT_STRING("key-file", 0, "FILE", "use this .BEK startup-key file",
	    UO, key_file),
	OPT_BOOL("password-stdin", 0, "read a recovery password from standard "
	    "input", UO, password_stdin),
	OPT_SETTING("vault", 0, "NAME|URL", "use the BEK that Azure Disk "
	    "Encryption keeps in this Key Vault (by the volume's startup-key "
	    "protector ID; in memory only)", SET_KV_VAULT),
	OPT_BOOL("test", 't', "prove the key opens the volume; activate "
	    "nothing", UO, test),
	OPT_SOURCE("ad, graph or all (default: every configured one)"),
	OPT_REASON("why the volume is opened (a ticket number), for the "
	    "audit log"),
	OPT_END
};
#undef UO

static const struct cmd_optgroup unlock_group = { "options", unlock_options };
static const struct cmd_optgroup *const unlock_groups[] = {
	&unlock_group, &settings_ad_group, &settings_graph_group,
	&settings_common_group, NULL
};
static const char *const unlock_synopsis[] = {
	"PATH [--partition N] [--name NAME] [--read-write] [--key-id ID | "
	"--key-file FILE.BEK | --vault V | --password-stdin] [--test] "
	"[--reason TEXT]",
	NULL
};

/* The key in use: what it is, where it came from, its bytes. */
struct ukey {
	struct bde_unlock_key k;
	struct bde_key rec;	/* for the audit record (id, source, ...) */
	char *typed;		/* --password-stdin: owned, wiped */
	uint8_t *bek;		/* --key-file: owned, wiped */
	size_t beklen;
	struct vault_bek vb;	/* --vault: owned, wiped */
	int recorded;		/* already in the audit log */
	int proved;		/* already proved to open the volume */
};

static void
ukey_release(struct ukey *u)
{
	bde_secret_free(u->typed);
	bde_bek_free(u->bek, u->beklen);
	bek_vault_release(&u->vb);
	memset(u, 0, sizeof(*u));
}

/*
 * A recovery password typed on standard input: one line, checked block by
 * block first, with corrections suggested for a typo.  EXIT_OK or status.
 */
static int
read_typed(struct ukey *u)
{
	char buf[TTY_MAX_LINE];
	struct ck_password pw;
	struct ck_parse_status ps;
	struct ck_suggestions sg;
	char norm[CK_NORMALIZED_SIZE];
	size_t len;
	int i, j, status = EXIT_USAGE;

	memset(&pw, 0, sizeof(pw));
	if (isatty(STDIN_FILENO))
		fputs("Recovery password: ", stderr);
	if (fgets(buf, sizeof(buf), stdin) == NULL) {
		cmd_warn("unlock: no password on standard input");
		goto out;
	}
	len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && !feof(stdin)) {
		cmd_warn("unlock: the password line is too long");
		goto out;
	}
	if (ck_parse(buf, len, &pw, &ps) != CK_PARSE_OK) {
		cmd_warn("unlock: not a recovery password: %s at position %zu",
		    ck_parse_error_str(ps.error), ps.position);
		goto out;
	}
	if (pw.bad_blocks > 0) {
		for (i = 0; i < CK_BLOCKS; i++) {
			if (pw.block[i].error == CK_BLOCK_OK)
				continue;
			ck_suggest(pw.block[i].digits, &sg);
			fprintf(stderr, "bdekey: unlock: block %d \"%s\": %s; "
			    "did you mean", i + 1, pw.block[i].digits,
			    ck_block_error_str(pw.block[i].error));
			for (j = 0; j < sg.count && j < 4; j++)
				fprintf(stderr, "%s %s", j ? "," : "",
				    sg.block[j]);
			fputs(sg.count > 4 ? ", ...?\n" : "?\n", stderr);
		}
		cmd_warn("unlock: the password has a typo; nothing was tried");
		status = EXIT_BADKEY;
		goto out;
	}
	ck_normalize(&pw, norm);
	u->typed = strdup(norm);
	explicit_bzero(norm, sizeof(norm));
	if (u->typed == NULL) {
		cmd_warn("out of memory");
		status = EXIT_IO;
		goto out;
	}
	u->k.kind = BDE_KEY_RECOVERY_PASSWORD;
	u->k.data = u->typed;
	u->k.len = strlen(u->typed);
	u->rec.source = "stdin";
	status = EXIT_OK;
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(&pw, sizeof(pw));
	return status;
}

/* A .BEK file, named after its startup-key protector. */
static int
read_bek(const char *path, struct ukey *u)
{
	char *err = NULL;
	enum bde_status st;

	st = bde_bek_read(path, &u->bek, &u->beklen, &err);
	if (st != BDE_OK) {
		cmd_warn("unlock: %s", err ? err : "cannot read the key file");
		free(err);
		return cmd_exit_status(st);
	}
	u->k.kind = BDE_KEY_STARTUP_KEY;
	u->k.data = u->bek;
	u->k.len = u->beklen;
	u->rec.source = "key-file";
	if (bde_bek_protector_id(u->bek, u->beklen, u->rec.key_id) < 0)
		snprintf(u->rec.key_id, sizeof(u->rec.key_id), "?");
	return EXIT_OK;
}

/*
 * --vault: the BEK Azure Disk Encryption keeps in Key Vault, the secret
 * named by v's startup-key protector ID; fetched into memory (never a
 * file), recorded by the caller before it is used.
 */
static int
from_vault(struct cmd_ctx *ctx, const struct bde_volume *v, struct ukey *u)
{
	int status = bek_vault_for_volume(ctx->s, "unlock", v, &u->vb);

	if (status != EXIT_OK)
		return status;
	u->k.kind = BDE_KEY_STARTUP_KEY;
	u->k.data = u->vb.bek;
	u->k.len = u->vb.len;
	u->rec.source = "keyvault";
	u->rec.device = u->vb.rec.machine;	/* borrowed from vb */
	snprintf(u->rec.key_id, sizeof(u->rec.key_id), "%s",
	    u->vb.rec.key_id);
	return EXIT_OK;
}

/*
 * A key in the audit log before it is used: no record, no unlock.  k is
 * the key (its ID and source); identity who read it, or NULL.
 */
static int
audit_unlock(const struct cmd_ctx *ctx, const struct bde_volume *v,
    const struct bde_key *k, const char *identity)
{
	const struct unlock_opts *uo = ctx->opts;
	char *where = realpath(v->path, NULL);
	cJSON *rec;
	int rc = -1;

	rec = audit_record_new(uo->test ? "unlock-test" : "unlock", k,
	    identity, ctx->s->reason);
	if (rec == NULL ||
	    cmd_json_add(rec, "volume", where ? where : v->path) < 0 ||
	    cJSON_AddStringToObject(rec, "volume_id", v->volume_id) == NULL) {
		cJSON_Delete(rec);
		cmd_warn("unlock: out of memory");
		goto out;
	}
	rc = audit_append(ctx->s->audit_log, rec);
out:
	free(where);
	return rc;
}

/* Every password the directories gave for v, recorded before a try. */
static int
audit_tries(const struct cmd_ctx *ctx, const struct bde_volume *v,
    const struct volkeys *vk)
{
	const struct bde_key *k;
	size_t i;

	for (i = 0; i < vk->f.keys.n; i++) {
		k = &vk->f.keys.v[i];
		if (k->pw == BDE_PW_READ && audit_unlock(ctx, v, k,
		    find_identity(&vk->f, k->source)) < 0)
			return -1;
	}
	return 0;
}

/*
 * The directories' password that opens v: the key ID asked for (which
 * must be one of v's protectors), else the newest one that opens it.
 * The key stays in vk; u points at it.
 */
static int
from_directories(struct cmd_ctx *ctx, const struct unlock_opts *uo,
    const struct bde_volume *v, struct volkeys *vk, struct ukey *u)
{
	const struct bde_key *pick = NULL, *k;
	size_t i;
	int wrong = 0, status;

	if (volkeys_find(vk, ctx->s, ctx->want, v, 1) < 0)
		return EXIT_IO;
	find_warn_errors(&vk->f);
	/* every password read is recorded before it is tried on the disk */
	if (audit_tries(ctx, v, vk) < 0)
		return EXIT_IO;
	volkeys_prove_all(vk);
	for (i = 0; i < vk->f.keys.n && pick == NULL; i++) {
		k = &vk->f.keys.v[i];
		if (uo->key_id != NULL && !bde_keyid_match(&uo->id, k->key_id))
			continue;
		if (k->vol == BDE_VOL_OPENS) {
			pick = k;
		} else if (k->vol == BDE_VOL_WRONG) {
			cmd_warn("unlock: key %s (%s) does not open this volume",
			    k->key_id, k->source);
			wrong = 1;
		} else if (k->pw == BDE_PW_READ && k->vol == BDE_VOL_PROTECTOR) {
			cmd_warn("unlock: key %s (%s): the password on file "
			    "fails its checksum", k->key_id, k->source);
			wrong = 1;
		}
	}
	if (pick != NULL) {
		u->rec = *pick;		/* borrowed strings: vk keeps them */
		u->k.kind = BDE_KEY_RECOVERY_PASSWORD;
		u->k.data = pick->password;
		u->k.len = strlen(pick->password);
		u->recorded = u->proved = 1;
		return EXIT_OK;
	}
	status = find_error_status(&vk->f);
	if (wrong)
		return EXIT_BADKEY;
	if (status != EXIT_OK)
		cmd_warn("unlock: no key that opens this volume was found; a "
		    "directory failed (see above)");
	else if (uo->key_id != NULL)
		cmd_warn("unlock: no key with ID '%s' among this volume's "
		    "recovery passwords on file", uo->key_id);
	else
		cmd_warn("unlock: no directory has a recovery password of this "
		    "volume");
	return status != EXIT_OK ? status : EXIT_NOTFOUND;
}


/* /dev/mapper/NAME: the one given, else bdekey-<first 8 of the ID>. */
static void
mapping_name(const struct unlock_opts *uo, const struct bde_volume *v,
    char *out, size_t len)
{
	size_t i;

	if (uo->name != NULL) {
		snprintf(out, len, "%s", uo->name);
		return;
	}
	snprintf(out, len, "bdekey-%.8s", v->volume_id);
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

static int
run_unlock(struct cmd_ctx *ctx)
{
	const struct unlock_opts *uo = ctx->opts;
	struct bde_volume v;
	struct volkeys vk;
	struct ukey u;
	enum bde_status st;
	char name[128], what[96], *err = NULL;
	int status;

	memset(&v, 0, sizeof(v));
	memset(&vk, 0, sizeof(vk));
	memset(&u, 0, sizeof(u));
	if ((status = disk_open_one("unlock", ctx->argv[0], uo->partno, &v)) !=
	    EXIT_OK)
		goto out;
	mapping_name(uo, &v, name, sizeof(name));
	if (uo->key_file != NULL)
		status = read_bek(uo->key_file, &u);
	else if (uo->password_stdin)
		status = read_typed(&u);
	else if (ctx->s->origin[SET_KV_VAULT] == ORIGIN_OPTION)
		status = from_vault(ctx, &v, &u);
	else
		status = from_directories(ctx, uo, &v, &vk, &u);
	if (status != EXIT_OK)
		goto out;
	/* a directory's key was recorded and proved by from_directories */
	if (!u.recorded && audit_unlock(ctx, &v, &u.rec, u.vb.identity) < 0) {
		status = EXIT_IO;
		goto out;
	}
	if (uo->test && u.proved)
		st = BDE_OK;
	else if (uo->test)
		st = bde_volume_check(&v, &u.k, &err);
	else
		st = bde_volume_activate(&v, name, &u.k, uo->read_write ?
		    BDE_VOLUME_READ_WRITE : 0, &err);
	if (st != BDE_OK) {
		cmd_warn("unlock: %s", err ? err : "failed");
		status = cmd_exit_status(st);
		goto out;
	}
	if (u.rec.key_id[0] != '\0')
		snprintf(what, sizeof(what), "key %s (%s)", u.rec.key_id,
		    u.rec.source);
	else
		snprintf(what, sizeof(what), "the typed recovery password");
	if (uo->test) {
		printf("%s opens volume %s of '%s'\n", what, v.volume_id,
		    cmd_safe(v.path));
		goto out;
	}
	printf("unlocked volume %s as /dev/mapper/%s (%s) with %s\n"
	    "mount it:  mount -o %s /dev/mapper/%s /mnt   (NTFS: the kernel's "
	    "ntfs3, or ntfs-3g)\nclose it:  umount /mnt && bdekey lock %s\n",
	    v.volume_id, name, uo->read_write ? "read-write" : "read-only",
	    what, uo->read_write ? "rw" : "ro", name, name);
out:
	ukey_release(&u);
	volkeys_release(&vk);
	bde_volume_release(&v);
	free(err);
	return status;
}

static int
unlock_check(struct cmd_ctx *ctx)
{
	struct unlock_opts *uo = ctx->opts;
	char *err = NULL;
	int vault = ctx->s->origin[SET_KV_VAULT] == ORIGIN_OPTION;
	int keys = (uo->key_id != NULL) + (uo->key_file != NULL) +
	    uo->password_stdin;

	if (ctx->argc != 1) {
		cmd_warn("unlock: give one partition, disk or image file");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	if (uo->partition != NULL &&
	    disk_partition_arg("unlock", uo->partition, &uo->partno) < 0)
		return EXIT_USAGE;
	if (keys > 1) {
		cmd_warn("unlock: give at most one of --key-id, --key-file and "
		    "--password-stdin");
		return EXIT_USAGE;
	}
	if (vault && keys > 0) {
		cmd_warn("unlock: --vault is a key source of its own: no "
		    "--key-id, --key-file or --password-stdin with it");
		return EXIT_USAGE;
	}
	if (uo->key_id != NULL &&
	    bde_keyid_parse(uo->key_id, &uo->id, &err) != BDE_OK) {
		cmd_warn("unlock: %s", err);
		free(err);
		return EXIT_USAGE;
	}
	if (uo->name != NULL && bde_volume_name_check(uo->name, &err) !=
	    BDE_OK) {
		cmd_warn("unlock: %s", err);
		free(err);
		return EXIT_USAGE;
	}
	/* no device-mapper: say so before any directory is asked */
	if (!uo->test && bde_volume_dm_available(&err) != BDE_OK) {
		cmd_warn("unlock: %s (--test proves the key without it)",
		    err ? err : "cannot activate");
		free(err);
		return EXIT_IO;
	}
	/* a key in hand, or Key Vault's, needs no directory */
	if (uo->key_file != NULL || uo->password_stdin || vault)
		ctx->flags &= ~(unsigned)(CMD_BACKENDS | CMD_SECRETS);
	return EXIT_OK;
}

const struct cmd cmd_unlock = {
	.name = "unlock",
	.summary = "prove a key opens a BitLocker volume and open it on Linux",
	.synopsis = unlock_synopsis,
	.groups = unlock_groups,
	.flags = CMD_OPERANDS | CMD_SETTINGS | CMD_BACKENDS | CMD_SECRETS |
	    CMD_AUDIT,
	.backends = BACKEND_AD | BACKEND_GRAPH,
	.opts_size = sizeof(struct unlock_opts),
	.check = unlock_check,
	.run = run_unlock,
};

static const struct cmd_optgroup *const lock_groups[] = { NULL };
static const char *const lock_synopsis[] = { "NAME", NULL };

static int
run_lock(struct cmd_ctx *ctx)
{
	enum bde_status st;
	char *err = NULL;

	if (ctx->argc != 1) {
		cmd_warn("lock: give the name of one mapping (/dev/mapper/NAME)");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	st = bde_volume_deactivate(ctx->argv[0], &err);
	if (st != BDE_OK) {
		cmd_warn("lock: %s", err ? err : "failed");
		free(err);
		return cmd_exit_status(st);
	}
	printf("closed /dev/mapper/%s\n", cmd_safe(ctx->argv[0]));
	return EXIT_OK;
}

const struct cmd cmd_lock = {
	.name = "lock",
	.summary = "close a volume opened by unlock",
	.synopsis = lock_synopsis,
	.groups = lock_groups,
	.flags = CMD_OPERANDS,
	.run = run_lock,
};
