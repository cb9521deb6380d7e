/*
 * lookup.c - `bdekey lookup`: find recovery keys by device name or key ID
 * in AD and/or Graph (concurrently), merge them, check every password
 * read, and print them as text or JSON.
 */
#include "cmd/audit.h"
#include "cmd/find.h"
#include "core/json.h"
#include "checksum/checksum.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

struct lookup_opts {
	const char *device;
	const char *key_id;
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
	OPT_SOURCE("ad, graph or all (default: every configured one)"),
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
	&settings_common_group, NULL
};
static const char *const lookup_synopsis[] = {
	"--device NAME [--key-id ID] [--source ad|graph|all] [--show | "
	"--read-out] [--json] [--reason TEXT]",
	"--key-id ID [--source ad|graph|all] [--show | --read-out] [--json] "
	"[--reason TEXT]",
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
 * Why k's password was withheld: the directory's own words when it
 * reported the refusal (they name the right the reader lacks), else the
 * right that backend needs.  The text lives in f or is static.
 */
static const char *
denied_text(const struct find *f, const struct bde_key *k, char *buf,
    size_t len)
{
	const struct find_job *j = find_job_of(f, k->source);

	if (j != NULL && j->st == BDE_EPERM && j->err != NULL)
		return j->err;
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
    const struct find *f)
{
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
	cJSON_AddStringToObject(q, "source", s->source == SOURCE_AUTO ?
	    "auto" : settings_sources[s->source - 1]);
	cJSON_AddBoolToObject(q, "show", lo->show);
	for (i = 0; i < f->keys.n; i++)
		if (json_key(arr, f, &f->keys.v[i], lo->show) < 0)
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

static void
print_human(const struct lookup_opts *lo, const struct find *f)
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
		if (!lo->show)
			continue;
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
	}
}

/*
 * The exit status by the contract: 0 only when nothing went wrong and
 * everything asked for was delivered.  A bad checksum (5) first, then a
 * withheld password or a refused sign-in (3), then the worst failed
 * directory; a key found elsewhere does not hide a failure.
 */
static int
lookup_status(const struct lookup_opts *lo, const struct find *f)
{
	const struct bde_keylist *keys = &f->keys;
	char why[128];
	int denied = 0, bad = 0, err = find_error_status(f);
	size_t i;

	for (i = 0; i < keys->n; i++) {
		if (!lo->show)
			continue;
		if (keys->v[i].pw == BDE_PW_DENIED)
			denied = 1;
		else if (keys->v[i].pw == BDE_PW_READ &&
		    !password_ok(keys->v[i].password, why, sizeof(why)))
			bad = 1;
	}
	if (bad)
		return EXIT_BADKEY;
	if (denied && err != EXIT_USAGE)
		return EXIT_AUTH;
	if (err != EXIT_OK)
		return err;
	return keys->n > 0 ? EXIT_OK : EXIT_NOTFOUND;
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
	struct audit a;
	size_t i;
	int rc = -1, any = 0;

	for (i = 0; i < keys->n; i++)
		any |= keys->v[i].pw == BDE_PW_READ;
	if (!any)
		return 0;
	memset(&a, 0, sizeof(a));
	if (audit_open(&a, s->audit_log) < 0)
		goto out;
	for (i = 0; i < keys->n; i++) {
		const struct bde_key *k = &keys->v[i];
		cJSON *rec;

		if (k->pw != BDE_PW_READ)
			continue;
		rec = audit_record_new(lo->read_out ? "read-out" : "show", k,
		    find_identity(f, k->source), s->reason);
		if (rec == NULL) {
			cmd_warn("out of memory");
			goto out;
		}
		if (k->also != NULL)
			cJSON_AddStringToObject(rec, "also_in", k->also);
		if (audit_write(&a, rec) < 0)
			goto out;
	}
	rc = 0;
out:
	if (audit_close(&a) < 0)
		rc = -1;
	return rc;
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
warn_not_found(const struct lookup_opts *lo, const struct find *f)
{
	size_t i;
	int said = 0;

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
	if (lo->device == NULL && lo->key_id == NULL) {
		cmd_warn("lookup: give --device, --key-id, or both");
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
	/* only a run that reads passwords needs a --reason */
	ctx->audited = lo->show;
	return EXIT_OK;
}

static int
run_lookup(struct cmd_ctx *ctx)
{
	const struct lookup_opts *lo = ctx->opts;
	struct settings *s = ctx->s;
	struct find f;
	char why[256];
	size_t i;
	int status;

	if (find_keys(&f, s, ctx->want, lo->device,
	    lo->key_id ? &lo->id : NULL, lo->show ? BDE_WANT_PASSWORD : 0) < 0) {
		status = EXIT_IO;
		goto out;
	}
	find_warn_errors(&f);
	for (i = 0; lo->show && i < f.keys.n; i++)
		if (denied_unreported(&f, &f.keys.v[i]))
			cmd_warn("%s: key %s: %s", f.keys.v[i].source,
			    f.keys.v[i].key_id, denied_text(&f, &f.keys.v[i],
			    why, sizeof(why)));

	/* a password that will not be read out is not recorded as read */
	if (lo->read_out && f.keys.n > 0 &&
	    (status = read_out_check(&f)) != EXIT_OK)
		goto out;
	/* the audit record comes first: no record, no password */
	if (lo->show && audit_reveal(s, lo, &f) < 0) {
		forget_passwords(&f.keys);
		status = EXIT_IO;
		goto out;
	}
	if (lo->read_out && f.keys.n > 0) {
		status = cmd_read_out(&f.keys.v[0]);
		goto out;
	}
	if (lo->json) {
		if (print_json(s, lo, &f) < 0) {
			status = EXIT_IO;
			goto out;
		}
	} else {
		print_human(lo, &f);
		if (f.keys.n == 0 && find_failure_status(&f) == EXIT_NOTFOUND)
			warn_not_found(lo, &f);
	}
	status = lookup_status(lo, &f);
out:
	find_release(&f);
	return status;
}

const struct cmd cmd_lookup = {
	.name = "lookup",
	.summary = "find recovery keys by device name or key ID",
	.synopsis = lookup_synopsis,
	.groups = lookup_groups,
	.flags = CMD_SETTINGS | CMD_BACKENDS | CMD_SECRETS | CMD_AUDIT,
	.backends = BACKEND_AD | BACKEND_GRAPH,
	.opts_size = sizeof(struct lookup_opts),
	.check = lookup_check,
	.run = run_lookup,
};
