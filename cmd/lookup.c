/*
 * lookup.c - `bdekey lookup`: find recovery keys by device name or key ID
 * in AD and/or Graph (concurrently), merge them, check every password
 * read, and print them as text or JSON.
 */
#include "cmd/audit.h"
#include "cmd/find.h"
#include "http/http.h"
#include "checksum/checksum.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

struct lookup_opts {
	const char *device;
	const char *key_id;
	enum find_source source;
	const char *reason;
	int show;
	int json;
	int read_out;
};

enum {
	OPT_DEVICE = 'd',
	OPT_KEY_ID = 'k',
	OPT_SOURCE = 400,
	OPT_SHOW = 's',
	OPT_JSON = 'j',
	OPT_REASON = 'r',
	OPT_READ_OUT = 401
};

static const struct cmd_option lookup_options[] = {
	{ "device", OPT_DEVICE, "NAME", "find the keys of the device NAME" },
	{ "key-id", OPT_KEY_ID, "ID",
	  "find a key by its ID or first 8+ hex digits" },
	{ "source", OPT_SOURCE, "SOURCE", "ad, graph or all (default: every "
	  "configured one)" },
	{ "show", OPT_SHOW, NULL, "read, check and print the passwords" },
	{ "json", OPT_JSON, NULL, "print one JSON object" },
	{ "read-out", OPT_READ_OUT, NULL, "read one key out block by block "
	  "(for the phone)" },
	{ "reason", OPT_REASON, "TEXT", "why the password is read (a ticket "
	  "number), for the audit log" },
	{ NULL, 0, NULL, NULL }
};

static int
lookup_apply(void *settings, int key, const char *arg)
{
	struct lookup_opts *lo = ((struct settings *)settings)->cmd;

	switch (key) {
	case OPT_DEVICE:
		lo->device = arg;
		break;
	case OPT_KEY_ID:
		lo->key_id = arg;
		break;
	case OPT_SOURCE:
		return find_parse_source("lookup", arg, &lo->source);
	case OPT_SHOW:
		lo->show = 1;
		break;
	case OPT_JSON:
		lo->json = 1;
		break;
	case OPT_READ_OUT:
		lo->read_out = 1;
		lo->show = 1;
		break;
	case OPT_REASON:
		lo->reason = arg;
		break;
	}
	return 0;
}

static const struct cmd_optgroup lookup_group = {
	"options", lookup_options, lookup_apply
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

static const char *
denied_text(const struct bde_key *k)
{
	if (strcmp(k->source, "ad") == 0)
		return "no permission to read the password (needs Control "
		    "Access)";
	return "no permission to read the password (needs "
	    "BitlockerKey.Read.All and a role that may read keys)";
}

static cJSON *
json_str_or_null(const char *s)
{
	return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Add one key to the JSON array; returns -1 when out of memory. */
static int
json_key(cJSON *arr, const struct bde_key *k, int show)
{
	cJSON *o = cJSON_CreateObject(), *src;
	char created[21], why[128];

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
	cJSON_AddItemToObject(o, "device", json_str_or_null(k->device));
	cJSON_AddItemToObject(o, "device_id", json_str_or_null(k->device_id));
	cJSON_AddStringToObject(o, "key_id", k->key_id);
	cJSON_AddStringToObject(o, "created", created);
	cJSON_AddItemToObject(o, "volume_guid",
	    json_str_or_null(k->volume_guid));
	cJSON_AddItemToObject(o, "volume", json_str_or_null(k->volume));
	cJSON_AddItemToObject(o, "dn", json_str_or_null(k->dn));
	cJSON_AddItemToObject(o, "computer_dn",
	    json_str_or_null(k->computer_dn));
	if (show && k->pw == BDE_PW_READ) {
		int ok = password_ok(k->password, why, sizeof(why));

		cJSON_AddStringToObject(o, "password", k->password);
		cJSON_AddBoolToObject(o, "password_valid", ok);
		cJSON_AddItemToObject(o, "password_error",
		    json_str_or_null(ok ? NULL : why));
	} else {
		cJSON_AddNullToObject(o, "password_valid");
		cJSON_AddItemToObject(o, "password_error", json_str_or_null(
		    k->pw == BDE_PW_DENIED ? denied_text(k) : NULL));
	}
	return 0;
}

static int
print_json(const struct lookup_opts *lo, const struct find *f)
{
	static const char *const srcname[] = { "auto", "ad", "graph", "all" };
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
	cJSON_AddItemToObject(q, "device", json_str_or_null(lo->device));
	cJSON_AddItemToObject(q, "key_id", json_str_or_null(lo->key_id));
	cJSON_AddStringToObject(q, "source", srcname[lo->source]);
	cJSON_AddBoolToObject(q, "show", lo->show);
	for (i = 0; i < f->keys.n; i++)
		if (json_key(arr, &f->keys.v[i], lo->show) < 0)
			goto out;
	for (i = 0; i < f->njobs; i++) {
		const struct find_job *j = &f->job[i];

		if (j->st == BDE_OK || j->st == BDE_ENOTFOUND)
			continue;
		e = cJSON_CreateObject();
		if (e == NULL)
			goto out;
		cJSON_AddItemToArray(errs, e);
		cJSON_AddStringToObject(e, "source", j->name);
		cJSON_AddStringToObject(e, "kind", bde_status_kind(j->st));
		cJSON_AddStringToObject(e, "message",
		    j->err ? j->err : "failed");
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
	http_json_wipe_delete(root);
	if (rc < 0)
		cmd_warn("lookup: out of memory");
	return rc;
}

static void
print_human(const struct lookup_opts *lo, const struct bde_keylist *keys)
{
	char created[21], why[128];
	size_t i;

	for (i = 0; i < keys->n; i++) {
		const struct bde_key *k = &keys->v[i];

		if (i > 0)
			fputc('\n', stdout);
		bde_time_format(k->created, created);
		printf("device      %s\n", k->device ? k->device : "?");
		printf("source      %s%s%s\n", k->source, k->also ? ", " : "",
		    k->also ? k->also : "");
		printf("key id      %s\n", k->key_id);
		printf("created     %s\n", created);
		if (k->volume != NULL)
			printf("volume      %s\n", k->volume);
		if (k->volume_guid != NULL)
			printf("volume id   %s\n", k->volume_guid);
		if (k->device_id != NULL)
			printf("device id   %s\n", k->device_id);
		if (k->dn != NULL)
			printf("dn          %s\n", k->dn);
		if (!lo->show)
			continue;
		if (k->pw == BDE_PW_DENIED) {
			printf("password    %s\n", denied_text(k));
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
 * The exit status by the contract: a found key beats a failed backend;
 * among found keys a bad checksum (5) beats a withheld password (3).
 */
static int
lookup_status(const struct lookup_opts *lo, const struct find *f)
{
	const struct bde_keylist *keys = &f->keys;
	char why[128];
	int denied = 0, bad = 0;
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
	if (keys->n > 0)
		return bad ? EXIT_BADSUM : denied ? EXIT_AUTH : EXIT_FOUND;
	return find_failure_status(f);
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
		    find_identity(f, k->source), lo->reason);
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
 * Read-out needs exactly one key whose password was read and passes its
 * checksums; checked before anything is recorded or shown.  Returns
 * EXIT_FOUND or the status to stop with.
 */
static int
read_out_check(const struct bde_keylist *all)
{
	char why[128];
	size_t i;

	if (all->n > 1) {
		cmd_warn("read-out: %zu keys match; give --key-id with the ID "
		    "on the user's screen:", all->n);
		for (i = 0; i < all->n; i++)
			fprintf(stderr, "  %s  %s  (%s)\n", all->v[i].key_id,
			    all->v[i].device ? all->v[i].device : "?",
			    all->v[i].source);
		return EXIT_USAGE;
	}
	if (all->v[0].pw != BDE_PW_READ) {
		cmd_warn("read-out: key %s: %s", all->v[0].key_id,
		    denied_text(&all->v[0]));
		return EXIT_AUTH;
	}
	if (!password_ok(all->v[0].password, why, sizeof(why)))
		/* cmd_read_out names every failing block and refuses */
		return cmd_read_out(&all->v[0]);
	return EXIT_FOUND;
}

/* Nothing found: each directory's own words (no such computer, no keys). */
static void
warn_not_found(const struct lookup_opts *lo, const struct find *f)
{
	size_t i;
	int said = 0;

	for (i = 0; i < f->njobs; i++) {
		if (f->job[i].st == BDE_ENOTFOUND && f->job[i].err != NULL) {
			cmd_warn("%s: %s", f->job[i].name, f->job[i].err);
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
run_lookup(const struct cmd *self, int argc, char **argv)
{
	struct lookup_opts lo;
	struct settings s;
	struct bde_keyid id;
	struct find f;
	char *err = NULL;
	int status = EXIT_USAGE, want_ad, want_graph;

	memset(&lo, 0, sizeof(lo));
	memset(&id, 0, sizeof(id));
	memset(&f, 0, sizeof(f));
	settings_init(&s);
	s.cmd = &lo;
	status = cmd_begin(self, argc, argv, &s);
	if (status != CMD_GO)
		goto out;
	status = EXIT_USAGE;
	if (lo.device == NULL && lo.key_id == NULL) {
		cmd_warn("lookup: give --device, --key-id, or both");
		cmd_print_usage(self, stderr);
		goto out;
	}
	if (lo.device != NULL && lo.device[0] == '\0') {
		cmd_warn("lookup: the device name is empty");
		goto out;
	}
	if (lo.key_id != NULL && bde_keyid_parse(lo.key_id, &id, &err) !=
	    BDE_OK) {
		cmd_warn("lookup: %s", err);
		goto out;
	}
	if (lo.read_out && lo.json) {
		cmd_warn("lookup: --read-out and --json do not go together");
		goto out;
	}
	if (settings_finish(&s) < 0)
		goto out;
	if (lo.show && s.require_reason &&
	    (lo.reason == NULL || lo.reason[0] == '\0')) {
		cmd_warn("lookup: a --reason (e.g. the ticket number) is "
		    "required to read a password ([audit] require_reason)");
		goto out;
	}
	if (find_select(&s, lo.source, &want_ad, &want_graph, "lookup") < 0 ||
	    settings_load_secrets(&s, want_ad, want_graph) < 0)
		goto out;
	if (find_keys(&f, &s, want_ad, want_graph, lo.device,
	    lo.key_id ? &id : NULL, lo.show ? BDE_WANT_PASSWORD : 0) < 0) {
		status = EXIT_UNREACH;
		goto out;
	}
	find_warn_errors(&f);

	/* a password that will not be read out is not recorded as read */
	if (lo.read_out && f.keys.n > 0 &&
	    (status = read_out_check(&f.keys)) != EXIT_FOUND)
		goto out;
	/* the audit record comes first: no record, no password */
	if (lo.show && audit_reveal(&s, &lo, &f) < 0) {
		forget_passwords(&f.keys);
		status = EXIT_UNREACH;
		goto out;
	}
	if (lo.read_out && f.keys.n > 0) {
		status = cmd_finish(cmd_read_out(&f.keys.v[0]));
		goto out;
	}
	if (lo.json) {
		if (print_json(&lo, &f) < 0) {
			status = EXIT_UNREACH;
			goto out;
		}
	} else {
		print_human(&lo, &f.keys);
		if (f.keys.n == 0 && find_failure_status(&f) == EXIT_NOTFOUND)
			warn_not_found(&lo, &f);
	}
	status = cmd_finish(lookup_status(&lo, &f));
out:
	find_release(&f);
	free(err);
	settings_release(&s);
	return status;
}

const struct cmd cmd_lookup = {
	"lookup", "find recovery keys by device name or key ID",
	lookup_synopsis, lookup_groups, run_lookup
};
