/*
 * lookup.c - `bdekey lookup`: find recovery keys by device name or key ID
 * in AD and/or Graph (concurrently), merge them, check every password
 * read, and print them as text or JSON.
 */
#include "cmd/audit.h"
#include "cmd/disk.h"
#include "cmd/kvlookup.h"
#include "cmd/volkeys.h"
#include "core/json.h"
#include "checksum/checksum.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

struct lookup_opts {
	const char *device;
	const char *key_id;
	const char *volume;
	const char *partition;
	unsigned partno;	/* partition, parsed by check */
	int show;
	int json;
	int read_out;
	struct bde_keyid id;	/* key_id, parsed by check */
};

static const struct cmd_option lookup_options[] = {
	OPT_STRING("device", 'd', "NAME", "find the keys of the device NAME",
	    struct lookup_opts, device),
	OPT_STRING("key-id", 'k', "ID", "find a key by its ID or first 8+ "
	    "hex digits", struct lookup_opts, key_id),
	OPT_STRING("volume", 0, "PATH", "find the keys of the BitLocker volume "
	    "at PATH (partition, disk or image) and prove them against it",
	    struct lookup_opts, volume),
	OPT_STRING("partition", 0, "N", "with --volume on a disk: the "
	    "BitLocker volume in partition N", struct lookup_opts, partition),
	OPT_SOURCE_KV("ad, graph, keyvault (BEK secrets, metadata) or all "
	    "(default: every configured one)"),
	OPT_BOOL("show", 's', "read, check and print the passwords",
	    struct lookup_opts, show),
	OPT_BOOL("json", 'j', "print one JSON object", struct lookup_opts,
	    json),
	OPT_BOOL("read-out", 0, "read one key out block by block (for the "
	    "phone)", struct lookup_opts, read_out),
	OPT_REASON("why the password is read (a ticket number), for the "
	    "audit log"),
	OPT_END
};

static const struct cmd_optgroup lookup_group = {
	"options", lookup_options
};
static const struct cmd_optgroup *const lookup_groups[] = {
	&lookup_group, &settings_ad_group, &settings_graph_group,
	&settings_keyvault_group, &settings_common_group, NULL
};
static const char *const lookup_synopsis[] = {
	"--device NAME [--key-id ID] [--source ad|graph|keyvault|all] "
	"[--vault V] [--show | "
	"--read-out] [--json] [--reason TEXT]",
	"--key-id ID [--source ad|graph|keyvault|all] [--vault V] [--show | "
	"--read-out] [--json] "
	"[--reason TEXT]",
	"--volume PATH [--partition N] [--source ad|graph|all] [--show | "
	"--read-out] [--json] [--reason TEXT]",
	NULL
};

/* 1 valid, 0 invalid; why receives the first bad block in words. */
static int
password_ok(const char *pw, char *why, size_t whylen)
{
	struct ck_password p;
	struct ck_parse_status st;
	int i, ok = 0;

	why[0] = '\0';
	if (ck_parse(pw, strlen(pw), &p, &st) != CK_PARSE_OK) {
		snprintf(why, whylen, "%s at position %zu",
		    ck_parse_error_str(st.error), st.position);
		goto out;
	}
	for (i = 0; i < CK_BLOCKS; i++) {
		if (p.block[i].error != CK_BLOCK_OK) {
			snprintf(why, whylen, "block %d: %s", i + 1,
			    ck_block_error_str(p.block[i].error));
			goto out;
		}
	}
	ok = 1;
out:
	explicit_bzero(&p, sizeof(p));
	return ok;
}

/*
 * Why k's password was withheld, in a few words for its line: the right
 * its directory wants (the directory's own message, naming what the
 * reader has, is in errors and on stderr once).  Static or in buf.
 */
static const char *
denied_text(const struct find *f, const struct bde_key *k, char *buf,
    size_t len)
{
	const struct find_job *j = find_job_of(f, k->source);

	snprintf(buf, len, "no permission to read the password (needs %s)",
	    j != NULL ? j->backend->read_right : "the right to read it");
	return buf;
}

/* A withheld password its directory did not report as an error. */
static int
denied_unreported(const struct find *f, const struct bde_key *k)
{
	const struct find_job *j = find_job_of(f, k->source);

	return k->pw == BDE_PW_DENIED && (j == NULL || j->st != BDE_EPERM);
}


/* Add one key to the JSON array; returns -1 when out of memory. */
/* What k is to the volume in hand, in JSON: this_volume and unlocks. */
static int
json_vol(cJSON *o, const struct bde_key *k)
{
	if (k->vol == BDE_VOL_NONE)
		return 0;
	if (cJSON_AddBoolToObject(o, "this_volume",
	    k->vol != BDE_VOL_OTHER) == NULL)
		return -1;
	if (k->vol == BDE_VOL_OPENS || k->vol == BDE_VOL_WRONG)
		return cJSON_AddBoolToObject(o, "unlocks",
		    k->vol == BDE_VOL_OPENS) ? 0 : -1;
	return cJSON_AddNullToObject(o, "unlocks") ? 0 : -1;
}

static int
json_key(cJSON *arr, const struct find *f, const struct bde_key *k, int show)
{
	cJSON *o = cJSON_CreateObject(), *src;
	char created[21], why[256];

	if (o == NULL)
		return -1;
	cJSON_AddItemToArray(arr, o);
	bde_time_format(k->created, created);
	cJSON_AddStringToObject(o, "source", k->source);
	src = cJSON_AddArrayToObject(o, "sources");
	if (src == NULL)
		return -1;
	cJSON_AddItemToArray(src, cJSON_CreateString(k->source));
	if (k->also != NULL)
		cJSON_AddItemToArray(src, cJSON_CreateString(k->also));
	cJSON_AddItemToObject(o, "device", cmd_json_string(k->device));
	cJSON_AddItemToObject(o, "device_id", cmd_json_string(k->device_id));
	cJSON_AddStringToObject(o, "key_id", k->key_id);
	cJSON_AddStringToObject(o, "created", created);
	cJSON_AddItemToObject(o, "volume_guid",
	    cmd_json_string(k->volume_guid));
	cJSON_AddItemToObject(o, "volume", cmd_json_string(k->volume));
	cJSON_AddItemToObject(o, "dn", cmd_json_string(k->dn));
	cJSON_AddItemToObject(o, "computer_dn",
	    cmd_json_string(k->computer_dn));
	if (json_vol(o, k) < 0)
		return -1;
	if (show && k->pw == BDE_PW_READ) {
		int ok = password_ok(k->password, why, sizeof(why));

		cJSON_AddStringToObject(o, "password", k->password);
		cJSON_AddBoolToObject(o, "password_valid", ok);
		cJSON_AddItemToObject(o, "password_error",
		    cmd_json_string(ok ? NULL : why));
	} else {
		cJSON_AddNullToObject(o, "password_valid");
		cJSON_AddItemToObject(o, "password_error", cmd_json_string(
		    k->pw == BDE_PW_DENIED ? denied_text(f, k, why, sizeof(why)) :
		    NULL));
	}
	return 0;
}

static int
print_json(const struct settings *s, const struct lookup_opts *lo,
    const struct find *f, const struct volkeys *vk,
    const struct kvlookup *kvl)
{
	const struct bde_protector *p;
	size_t it = 0;
	cJSON *root = NULL, *q, *arr, *errs, *e;
	char *text = NULL;
	size_t i;
	int rc = -1;

	root = cJSON_CreateObject();
	if (root == NULL)
		goto out;
	q = cJSON_AddObjectToObject(root, "query");
	arr = cJSON_AddArrayToObject(root, "keys");
	errs = cJSON_AddArrayToObject(root, "errors");
	if (q == NULL || arr == NULL || errs == NULL)
		goto out;
	cJSON_AddItemToObject(q, "device", cmd_json_string(lo->device));
	cJSON_AddItemToObject(q, "key_id", cmd_json_string(lo->key_id));
	if (vk != NULL && (cmd_json_add(q, "volume", lo->volume) < 0 ||
	    (e = disk_json(vk->v)) == NULL ||
	    !cJSON_AddItemToObject(root, "volume", e)))
		goto out;
	cJSON_AddStringToObject(q, "source", s->source == SOURCE_AUTO ?
	    "auto" : settings_sources_kv[s->source - 1]);
	cJSON_AddBoolToObject(q, "show", lo->show);
	for (i = 0; i < f->keys.n; i++)
		if (json_key(arr, f, &f->keys.v[i], lo->show) < 0)
			goto out;
	if (kvlookup_json(kvl, arr, errs) < 0)
		goto out;
	for (i = 0; i < f->njobs; i++) {
		const struct find_job *j = &f->job[i];

		if (j->st == BDE_OK || j->st == BDE_ENOTFOUND)
			continue;
		e = cJSON_CreateObject();
		if (e == NULL)
			goto out;
		cJSON_AddItemToArray(errs, e);
		cJSON_AddStringToObject(e, "source", j->backend->name);
		cJSON_AddStringToObject(e, "kind", bde_status_kind(j->st));
		cmd_json_add(e, "message", j->err ? j->err : "failed");
	}
	/* a recovery protector of the volume that no directory has */
	while (vk != NULL && (p = volkeys_missing(vk, &it)) != NULL) {
		e = cJSON_CreateObject();
		if (e == NULL || !cJSON_AddItemToArray(errs, e) ||
		    cJSON_AddStringToObject(e, "kind", "not-found") == NULL ||
		    cJSON_AddStringToObject(e, "key_id", p->id) == NULL ||
		    cJSON_AddStringToObject(e, "protector", p->type) == NULL ||
		    cmd_json_add(e, "message", "no directory has this "
		    "protector's recovery password") < 0)
			goto out;
	}
	/* every withheld password is an error, reported or not */
	for (i = 0; i < f->keys.n; i++) {
		const struct bde_key *k = &f->keys.v[i];
		char why[256];

		if (!lo->show || !denied_unreported(f, k))
			continue;
		e = cJSON_CreateObject();
		if (e == NULL)
			goto out;
		cJSON_AddItemToArray(errs, e);
		cJSON_AddStringToObject(e, "source", k->source);
		cJSON_AddStringToObject(e, "kind",
		    bde_status_kind(BDE_EPERM));
		cJSON_AddStringToObject(e, "key_id", k->key_id);
		cmd_json_add(e, "message", denied_text(f, k, why, sizeof(why)));
	}
	text = cJSON_PrintUnformatted(root);
	if (text == NULL)
		goto out;
	fputs(text, stdout);
	fputc('\n', stdout);
	rc = 0;
out:
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	/* the tree holds passwords */
	bde_json_wipe_delete(root);
	if (rc < 0)
		cmd_warn("lookup: out of memory");
	return rc;
}

/* What k is to the volume in hand, as a line. */
static void
print_vol(const struct bde_key *k)
{
	switch (k->vol) {
	case BDE_VOL_OTHER:
		printf("protector   not one of this volume's (another "
		    "volume's, or an older key)\n");
		break;
	case BDE_VOL_OPENS:
		printf("unlocks     opens this volume\n");
		break;
	case BDE_VOL_WRONG:
		printf("unlocks     does NOT open this volume: wrong key for "
		    "this disk; do not read it out\n");
		break;
	case BDE_VOL_PROTECTOR:
	case BDE_VOL_NONE:
		break;
	}
}

static void
print_human(const struct lookup_opts *lo, const struct find *f,
    const struct volkeys *vk)
{
	const struct bde_keylist *keys = &f->keys;
	char created[21], why[256];
	size_t i;

	for (i = 0; i < keys->n; i++) {
		const struct bde_key *k = &keys->v[i];

		if (i > 0)
			fputc('\n', stdout);
		bde_time_format(k->created, created);
		printf("device      %s\n", k->device ? cmd_safe(k->device) : "?");
		printf("source      %s%s%s\n", k->source, k->also ? ", " : "",
		    k->also ? k->also : "");
		printf("key id      %s\n", k->key_id);
		printf("created     %s\n", created);
		if (k->volume != NULL)
			printf("volume      %s\n", cmd_safe(k->volume));
		if (k->volume_guid != NULL)
			printf("volume id   %s\n", cmd_safe(k->volume_guid));
		if (k->device_id != NULL)
			printf("device id   %s\n", cmd_safe(k->device_id));
		if (k->dn != NULL)
			printf("dn          %s\n", cmd_safe(k->dn));
		if (!lo->show) {
			print_vol(k);
			continue;
		}
		if (k->pw == BDE_PW_DENIED) {
			printf("password    %s\n",
			    cmd_safe(denied_text(f, k, why, sizeof(why))));
		} else if (k->pw == BDE_PW_READ) {
			if (password_ok(k->password, why, sizeof(why)))
				printf("password    %s  (checksums ok)\n",
				    k->password);
			else
				printf("password    %s  INVALID: %s; do not "
				    "read it out\n", k->password, why);
		}
		print_vol(k);
	}
}

/*
 * The exit status by the contract: 0 only when nothing went wrong and
 * everything asked for was delivered.  A bad checksum (5) first, then a
 * withheld password or a refused sign-in (3), then the worst failed
 * directory; a key found elsewhere does not hide a failure.
 */
static int
lookup_status(const struct lookup_opts *lo, const struct find *f,
    const struct volkeys *vk, const struct kvlookup *kvl)
{
	size_t it = 0;
	const struct bde_keylist *keys = &f->keys;
	char why[128];
	int denied = 0, bad = 0, err = find_error_status(f);
	int kerr = kvlookup_status(kvl);
	size_t i;

	/* Key Vault's failure counts like a directory's (usage, auth first) */
	if (kerr != EXIT_OK && kerr != EXIT_NOTFOUND && (err == EXIT_OK ||
	    kerr == EXIT_USAGE || (kerr == EXIT_AUTH && err != EXIT_USAGE)))
		err = kerr;

	for (i = 0; i < keys->n; i++) {
		if (!lo->show)
			continue;
		if (keys->v[i].pw == BDE_PW_DENIED)
			denied = 1;
		else if (keys->v[i].pw == BDE_PW_READ &&
		    (!password_ok(keys->v[i].password, why, sizeof(why)) ||
		    keys->v[i].vol == BDE_VOL_WRONG))
			bad = 1;
	}
	if (bad)
		return EXIT_BADKEY;
	if (denied && err != EXIT_USAGE)
		return EXIT_AUTH;
	if (err != EXIT_OK)
		return err;
	/* a volume's key that no directory has: not all was delivered */
	if (vk != NULL && volkeys_missing(vk, &it) != NULL)
		return EXIT_NOTFOUND;
	return keys->n + kvl->l.n > 0 ? EXIT_OK : EXIT_NOTFOUND;
}

/*
 * Record every password about to be revealed, synced, before it is
 * shown.  Returns 0, or -1 (printed) when the log cannot be written.
 */
static int
audit_reveal(const struct settings *s, const struct lookup_opts *lo,
    const struct find *f)
{
	const struct bde_keylist *keys = &f->keys;
	size_t i;

	for (i = 0; i < keys->n; i++) {
		const struct bde_key *k = &keys->v[i];
		cJSON *rec;

		if (k->pw != BDE_PW_READ)
			continue;
		rec = audit_record_new(lo->read_out ? "read-out" : "show", k,
		    find_identity(f, k->source), s->reason);
		if (rec == NULL) {
			cmd_warn("out of memory");
			return -1;
		}
		if (k->also != NULL)
			cJSON_AddStringToObject(rec, "also_in", k->also);
		if (audit_append(s->audit_log, rec) < 0)
			return -1;
	}
	return 0;
}

/* Drop every password read, so nothing can show it. */
static void
forget_passwords(struct bde_keylist *keys)
{
	size_t i;

	for (i = 0; i < keys->n; i++) {
		bde_secret_free(keys->v[i].password);
		keys->v[i].password = NULL;
		if (keys->v[i].pw == BDE_PW_READ)
			keys->v[i].pw = BDE_PW_NOT_REQUESTED;
	}
}

/*
 * Copies of one key: the same key ID stored twice (manage-bde -adbackup
 * run twice makes such AD objects) with the same password.  Then the
 * newest (keys are sorted) is the one to read; 1 when that is so.
 */
static int
same_key(const struct bde_keylist *all)
{
	size_t i;

	for (i = 1; i < all->n; i++)
		if (strcmp(all->v[i].key_id, all->v[0].key_id) != 0 ||
		    all->v[i].pw != BDE_PW_READ || all->v[0].pw != BDE_PW_READ ||
		    strcmp(all->v[i].password, all->v[0].password) != 0)
			return 0;
	return 1;
}

/*
 * Read-out needs exactly one key whose password was read and passes its
 * checksums; checked before anything is recorded or shown.  Returns
 * EXIT_OK or the status to stop with.
 */
static int
read_out_check(const struct find *f)
{
	const struct bde_keylist *all = &f->keys;
	char why[256];
	size_t i;

	if (all->n > 1 && !same_key(all)) {
		cmd_warn("read-out: %zu keys match; give --key-id with the ID "
		    "on the user's screen:", all->n);
		for (i = 0; i < all->n; i++)
			fprintf(stderr, "  %s  %s  (%s)%s%s\n", all->v[i].key_id,
			    all->v[i].device ? cmd_safe(all->v[i].device) : "?",
			    all->v[i].source, all->v[i].dn ? "  " : "",
			    all->v[i].dn ? cmd_safe(all->v[i].dn) : "");
		return EXIT_USAGE;
	}
	if (all->v[0].pw != BDE_PW_READ) {
		cmd_warn("read-out: key %s: %s", all->v[0].key_id,
		    denied_text(f, &all->v[0], why, sizeof(why)));
		return EXIT_AUTH;
	}
	if (!password_ok(all->v[0].password, why, sizeof(why)))
		/* cmd_read_out names every failing block and refuses */
		return cmd_read_out(&all->v[0]);
	return EXIT_OK;
}

/* Nothing found: each directory's own words (no such computer, no keys). */
static void
warn_not_found(const struct lookup_opts *lo, const struct find *f,
    const struct kvlookup *kvl)
{
	size_t i;
	int said = 0;

	if (kvl->asked && kvl->err != NULL) {
		kvlookup_warn(kvl);
		said = 1;
	}
	for (i = 0; i < f->njobs; i++) {
		if (f->job[i].st == BDE_ENOTFOUND && f->job[i].err != NULL) {
			cmd_warn("%s: %s", f->job[i].backend->name, f->job[i].err);
			said = 1;
		}
	}
	if (lo->device != NULL && lo->key_id != NULL)
		cmd_warn("lookup: device '%s' has no recovery key with ID "
		    "'%s'", lo->device, lo->key_id);
	else if (!said)
		cmd_warn("lookup: no recovery key found for %s '%s'",
		    lo->device ? "device" : "key ID",
		    lo->device ? lo->device : lo->key_id);
}

static int
lookup_check(struct cmd_ctx *ctx)
{
	struct lookup_opts *lo = ctx->opts;
	char *err = NULL;

	if (lo->read_out)
		lo->show = 1;
	if (lo->volume != NULL && (lo->device != NULL || lo->key_id != NULL)) {
		cmd_warn("lookup: --volume finds the volume's own keys: give it "
		    "without --device and --key-id");
		return EXIT_USAGE;
	}
	if (lo->partition != NULL && (lo->volume == NULL ||
	    disk_partition_arg("lookup", lo->partition, &lo->partno) < 0)) {
		if (lo->volume == NULL)
			cmd_warn("lookup: --partition goes with --volume");
		return EXIT_USAGE;
	}
	if (lo->device == NULL && lo->key_id == NULL && lo->volume == NULL) {
		cmd_warn("lookup: give --device, --key-id, or both, or "
		    "--volume");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	if (lo->device != NULL && lo->device[0] == '\0') {
		cmd_warn("lookup: the device name is empty");
		return EXIT_USAGE;
	}
	if (lo->key_id != NULL && bde_keyid_parse(lo->key_id, &lo->id, &err) !=
	    BDE_OK) {
		cmd_warn("lookup: %s", err);
		free(err);
		return EXIT_USAGE;
	}
	if (lo->read_out && lo->json) {
		cmd_warn("lookup: --read-out and --json do not go together");
		return EXIT_USAGE;
	}
	if (ctx->s->source == SOURCE_KEYVAULT && (lo->volume != NULL ||
	    lo->show || lo->read_out)) {
		cmd_warn("lookup: Key Vault is listed by --device or --key-id, "
		    "metadata only: `bdekey bek` fetches a key file");
		return EXIT_USAGE;
	}
	/* only a run that reads passwords needs a --reason */
	ctx->audited = lo->show;
	return EXIT_OK;
}

/*
 * Read-out from a volume's keys: only a password proved to open it.  The
 * others are dropped (wiped) here; -1 when none is left, after saying why
 * (*status: 5 when a found password does not open it).
 */
static int
keep_openers(struct find *f, int *status)
{
	struct bde_keylist *l = &f->keys;
	size_t i, n = 0;
	int wrong = 0;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].vol == BDE_VOL_OPENS) {
			l->v[n++] = l->v[i];
			continue;
		}
		if (l->v[i].vol == BDE_VOL_WRONG) {
			cmd_warn("read-out: key %s does not open this volume; "
			    "not reading it out", l->v[i].key_id);
			wrong = 1;
		}
		bde_key_release(&l->v[i]);
	}
	l->n = n;
	if (n > 0)
		return 0;
	if (!wrong)
		cmd_warn("read-out: no password on file opens this volume");
	*status = wrong ? EXIT_BADKEY : find_failure_status(f);
	return -1;
}

static int
run_lookup(struct cmd_ctx *ctx)
{
	const struct lookup_opts *lo = ctx->opts;
	struct settings *s = ctx->s;
	struct find_query q;
	struct find local, *f = &local;
	struct volkeys vk, *vkp = NULL;
	struct kvlookup kvl;
	struct bde_volume vol;
	const struct bde_protector *p;
	char why[256];
	size_t i, it = 0;
	int status;

	memset(&local, 0, sizeof(local));
	memset(&kvl, 0, sizeof(kvl));
	memset(&vk, 0, sizeof(vk));
	memset(&vol, 0, sizeof(vol));
	if (lo->volume != NULL) {
		if ((status = disk_open_one("lookup", lo->volume, lo->partno,
		    &vol)) != EXIT_OK)
			goto out;
		vkp = &vk;
		f = &vk.f;
		if (volkeys_find(&vk, s, ctx->want, &vol, lo->show) < 0) {
			status = EXIT_IO;
			goto out;
		}
	} else {
		memset(&q, 0, sizeof(q));
		q.device = lo->device;
		q.device_flags = lo->show ? BDE_WANT_PASSWORD : 0;
		q.ids = lo->key_id ? &lo->id : NULL;
		q.nids = lo->key_id ? 1 : 0;
		q.id_flags = q.device_flags;
		q.filter = lo->device != NULL && lo->key_id != NULL;
		if (ctx->want != 0 && find_keys(f, s, ctx->want, &q) < 0) {
			status = EXIT_IO;
			goto out;
		}
		/* Key Vault's BEK secrets beside them (nothing to read out) */
		if (!lo->read_out && kvlookup_wanted(s))
			kvlookup_run(&kvl, s, lo->device, q.ids);
	}
	find_warn_errors(f);
	if (kvl.st != BDE_ENOTFOUND)
		kvlookup_warn(&kvl);
	for (i = 0; lo->show && i < f->keys.n; i++)
		if (denied_unreported(f, &f->keys.v[i]))
			cmd_warn("%s: key %s: %s", f->keys.v[i].source,
			    f->keys.v[i].key_id, denied_text(f, &f->keys.v[i],
			    why, sizeof(why)));
	while (vkp != NULL && (p = volkeys_missing(vkp, &it)) != NULL)
		cmd_warn("lookup: no directory has the recovery password of "
		    "protector %s of this volume", p->id);

	/*
	 * A volume's passwords are tried on it: recorded first, every one
	 * read (also one that will not be read out: it was used).
	 */
	if (vkp != NULL && lo->show) {
		if (audit_reveal(s, lo, f) < 0) {
			forget_passwords(&f->keys);
			status = EXIT_IO;
			goto out;
		}
		volkeys_prove_all(vkp);
	}
	if (lo->read_out && vkp != NULL && keep_openers(f, &status) < 0)
		goto out;
	if (lo->read_out && f->keys.n > 0 &&
	    (status = read_out_check(f)) != EXIT_OK)
		goto out;
	/* the audit record comes first: no record, no password */
	if (lo->show && vkp == NULL && audit_reveal(s, lo, f) < 0) {
		forget_passwords(&f->keys);
		status = EXIT_IO;
		goto out;
	}
	if (lo->read_out && f->keys.n > 0) {
		status = cmd_read_out(&f->keys.v[0]);
		goto out;
	}
	if (lo->json) {
		if (print_json(s, lo, f, vkp, &kvl) < 0) {
			status = EXIT_IO;
			goto out;
		}
	} else {
		if (vkp != NULL) {
			disk_print(&vol);
			if (f->keys.n > 0)
				fputc('\n', stdout);
		}
		print_human(lo, f, vkp);
		kvlookup_print(&kvl, f->keys.n > 0);
		if (f->keys.n + kvl.l.n == 0 && find_failure_status(f) ==
		    EXIT_NOTFOUND && (!kvl.asked || kvl.st == BDE_ENOTFOUND) &&
		    vkp == NULL)
			warn_not_found(lo, f, &kvl);
	}
	status = lookup_status(lo, f, vkp, &kvl);
out:
	kvlookup_release(&kvl);
	find_release(&local);
	volkeys_release(&vk);
	bde_volume_release(&vol);
	return status;
}

const struct cmd cmd_lookup = {
	.name = "lookup",
	.summary = "find recovery keys by device name, key ID or volume",
	.synopsis = lookup_synopsis,
	.groups = lookup_groups,
	.flags = CMD_SETTINGS | CMD_BACKENDS | CMD_SECRETS | CMD_AUDIT |
	    CMD_KEYVAULT,
	.backends = BACKEND_AD | BACKEND_GRAPH,
	.opts_size = sizeof(struct lookup_opts),
	.check = lookup_check,
	.run = run_lookup,
};
