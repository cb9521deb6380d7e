/*
 * volume.c - `bdekey volume`: the BitLocker volumes on a partition, a
 * whole disk or an image file, with the key protector IDs that AD and
 * Entra ID store, and the computer and drive Windows wrote into the
 * volume's description.  Also what the other commands show of a volume
 * (disk.h).
 */
#include "cmd/disk.h"
#include "cmd/cmd.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct volume_opts {
	int json;
};

static const struct cmd_option volume_options[] = {
	OPT_BOOL("json", 'j', "print one JSON object", struct volume_opts,
	    json),
	OPT_END
};

static const struct cmd_optgroup volume_group = { "options", volume_options };
static const struct cmd_optgroup *const volume_groups[] = {
	&volume_group, NULL
};
static const char *const volume_synopsis[] = { "[--json] PATH...", NULL };

void
disk_print(const struct bde_volume *v)
{
	char created[21];
	size_t i;

	printf("path        %s\n", cmd_safe(v->path));
	if (v->device != NULL)
		printf("partition   %s\n", cmd_safe(v->device));
	else if (v->partno > 0)
		printf("partition   %u\n", v->partno);
	printf("offset      %" PRIu64 "\n", v->offset);
	if (v->error != NULL) {
		printf("error       %s\n", cmd_safe(v->error));
		return;
	}
	printf("volume id   %s\n", v->volume_id);
	if (v->created != 0) {
		bde_time_format(v->created, created);
		printf("created     %s\n", created);
	}
	printf("description %s\n", cmd_safe(v->description));
	if (v->computer != NULL)
		printf("computer    %s\n", cmd_safe(v->computer));
	if (v->drive != NULL)
		printf("drive       %s\n", cmd_safe(v->drive));
	printf("encryption  %s%s\n", v->method, v->to_go ?
	    " (BitLocker To Go)" : "");
	for (i = 0; i < v->nprotectors; i++)
		printf("protector   %s  %s\n", v->protectors[i].id,
		    v->protectors[i].type);
}

cJSON *
disk_json(const struct bde_volume *v)
{
	cJSON *o = cJSON_CreateObject(), *arr, *p;
	char created[21];
	size_t i;

	if (o == NULL)
		return NULL;
	bde_time_format(v->created, created);
	if (cmd_json_add(o, "path", v->path) < 0 ||
	    cmd_json_add(o, "device", v->device) < 0 ||
	    cJSON_AddNumberToObject(o, "partition", v->partno) == NULL ||
	    cJSON_AddNumberToObject(o, "offset", (double)v->offset) == NULL ||
	    cJSON_AddNumberToObject(o, "size", (double)v->size) == NULL ||
	    cmd_json_add(o, "error", v->error) < 0)
		goto fail;
	if (v->error != NULL)
		return o;
	if (cJSON_AddStringToObject(o, "volume_id", v->volume_id) == NULL ||
	    cmd_json_add(o, "created", v->created ? created : NULL) < 0 ||
	    cmd_json_add(o, "description", v->description) < 0 ||
	    cmd_json_add(o, "computer", v->computer) < 0 ||
	    cmd_json_add(o, "drive", v->drive) < 0 ||
	    cJSON_AddStringToObject(o, "method", v->method) == NULL ||
	    cJSON_AddBoolToObject(o, "to_go", v->to_go) == NULL ||
	    (arr = cJSON_AddArrayToObject(o, "protectors")) == NULL)
		goto fail;
	for (i = 0; i < v->nprotectors; i++) {
		p = cJSON_CreateObject();
		if (p == NULL || !cJSON_AddItemToArray(arr, p) ||
		    cJSON_AddStringToObject(p, "id",
		    v->protectors[i].id) == NULL ||
		    cJSON_AddStringToObject(p, "type",
		    v->protectors[i].type) == NULL)
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

int
disk_partition_arg(const char *cmdname, const char *arg, unsigned *out)
{
	char *end;
	unsigned long v;

	v = strtoul(arg, &end, 10);
	if (arg[0] < '1' || arg[0] > '9' || *end != '\0' || v > 128) {
		cmd_warn("%s: partition '%s' is not a number from 1 to 128",
		    cmdname, arg);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int
disk_open_one(const char *cmdname, const char *path, unsigned partno,
    struct bde_volume *out)
{
	struct bde_volume_list l = BDE_VOLUME_LIST_INIT;
	enum bde_status st;
	char *err = NULL;
	size_t i, pick = 0;
	int status;

	memset(out, 0, sizeof(*out));
	st = bde_volume_scan(path, &l, &err);
	if (st != BDE_OK) {
		cmd_warn("%s: %s", cmdname, err ? err : "cannot read");
		status = cmd_exit_status(st);
		goto out;
	}
	if (partno > 0) {
		for (pick = 0; pick < l.n && l.v[pick].partno != partno; pick++)
			;
		if (pick == l.n) {
			cmd_warn("%s: '%s' has no BitLocker volume in partition "
			    "%u", cmdname, path, partno);
			status = EXIT_NOTFOUND;
			goto out;
		}
	} else if (l.n > 1) {
		cmd_warn("%s: '%s' holds %zu BitLocker volumes; give one "
		    "with --partition N:", cmdname, path, l.n);
		for (i = 0; i < l.n; i++)
			fprintf(stderr, "  %s  partition %u at byte %" PRIu64
			    "  %s\n", l.v[i].device ? cmd_safe(l.v[i].device) :
			    cmd_safe(path), l.v[i].partno, l.v[i].offset,
			    l.v[i].error ? "(unreadable)" : l.v[i].volume_id);
		status = EXIT_USAGE;
		goto out;
	}
	if (l.v[pick].error != NULL) {
		cmd_warn("%s: '%s': %s", cmdname, path, l.v[pick].error);
		status = EXIT_IO;
		goto out;
	}
	/* the record is the caller's now */
	*out = l.v[pick];
	memset(&l.v[pick], 0, sizeof(l.v[pick]));
	status = EXIT_OK;
out:
	bde_volume_list_free(&l);
	free(err);
	return status;
}

/* One path's failure in the JSON errors array; -1 when out of memory. */
static int
json_error(cJSON *errs, const char *path, enum bde_status st, const char *msg)
{
	cJSON *e = cJSON_CreateObject();

	if (e == NULL || !cJSON_AddItemToArray(errs, e)) {
		cJSON_Delete(e);
		return -1;
	}
	if (cmd_json_add(e, "path", path) < 0 ||
	    cJSON_AddStringToObject(e, "kind", st == BDE_ENOTFOUND ?
	    "not-found" : bde_status_kind(st)) == NULL ||
	    cmd_json_add(e, "message", msg) < 0)
		return -1;
	return 0;
}

/*
 * The exit status: a path that could not be read or used outranks one
 * that holds no BitLocker volume; 0 only when every path gave volumes.
 */
static int
worse(int a, int b)
{
	if (a == EXIT_OK)
		return b;
	if (b == EXIT_OK || b == EXIT_NOTFOUND)
		return a;
	return a == EXIT_NOTFOUND || a < b ? b : a;
}

static int
run_volume(struct cmd_ctx *ctx)
{
	const struct volume_opts *o = ctx->opts;
	struct bde_volume_list l = BDE_VOLUME_LIST_INIT;
	cJSON *root = NULL, *vols = NULL, *errs = NULL, *item;
	enum bde_status st;
	char *err = NULL, *text = NULL;
	size_t i, first, shown = 0;
	int status = EXIT_OK, a;

	if (o->json) {
		root = cJSON_CreateObject();
		vols = cJSON_AddArrayToObject(root, "volumes");
		errs = cJSON_AddArrayToObject(root, "errors");
		if (vols == NULL || errs == NULL)
			goto nomem;
	}
	for (a = 0; a < ctx->argc; a++) {
		first = l.n;
		st = bde_volume_scan(ctx->argv[a], &l, &err);
		if (st != BDE_OK) {
			cmd_warn("volume: %s", err ? err : "cannot read");
			status = worse(status, cmd_exit_status(st));
			if (errs != NULL && json_error(errs, ctx->argv[a], st,
			    err ? err : "cannot read") < 0)
				goto nomem;
			free(err);
			err = NULL;
			continue;
		}
		for (i = first; i < l.n; i++) {
			if (l.v[i].error != NULL) {
				/* listed, but not everything was delivered */
				cmd_warn("volume: '%s' at byte %" PRIu64 ": %s",
				    ctx->argv[a], l.v[i].offset, l.v[i].error);
				status = worse(status, EXIT_IO);
			}
			if (vols != NULL) {
				if ((item = disk_json(&l.v[i])) == NULL ||
				    !cJSON_AddItemToArray(vols, item))
					goto nomem;
			} else {
				if (shown++ > 0)
					fputc('\n', stdout);
				disk_print(&l.v[i]);
			}
		}
	}
	if (root != NULL) {
		text = cJSON_PrintUnformatted(root);
		if (text == NULL)
			goto nomem;
		printf("%s\n", text);
	}
	goto out;
nomem:
	cmd_warn("volume: out of memory");
	status = EXIT_IO;
out:
	free(text);
	free(err);
	cJSON_Delete(root);
	bde_volume_list_free(&l);
	return status;
}

static int
volume_check(struct cmd_ctx *ctx)
{
	if (ctx->argc == 0) {
		cmd_warn("volume: give a partition, a disk or an image file");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

const struct cmd cmd_volume = {
	.name = "volume",
	.summary = "show the BitLocker volumes and key protectors on a disk",
	.synopsis = volume_synopsis,
	.groups = volume_groups,
	.flags = CMD_OPERANDS,
	.opts_size = sizeof(struct volume_opts),
	.check = volume_check,
	.run = run_volume,
};
