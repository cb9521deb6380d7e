/*
 * rotate.c - `bdekey rotate`: ask Intune to have a device escrow a new
 * BitLocker recovery password (after the old one was read out).  Finds
 * exactly one managed device, asks for confirmation on the terminal
 * unless --yes, writes the audit record, then POSTs rotateBitLockerKeys.
 * Never rotates when the device is ambiguous or nobody confirmed.
 */
#include "cmd/audit.h"
#include "cmd/backend.h"
#include "cmd/rotate.h"
#include "cmd/tty.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rotate_opts {
	const char *device;
	const char *device_id;
	int yes;
};

static const struct cmd_option rotate_options[] = {
	OPT_STRING("device", 'd', "NAME", "the device's name in Entra ID",
	    struct rotate_opts, device),
	OPT_STRING("device-id", 0, "GUID", "the device's Entra device ID",
	    struct rotate_opts, device_id),
	OPT_BOOL("yes", 'y', "do not ask for confirmation",
	    struct rotate_opts, yes),
	OPT_REASON("why (e.g. the ticket number), for the audit log"),
	OPT_END
};

static const struct cmd_optgroup rotate_group = {
	"options", rotate_options
};
static const struct cmd_optgroup *const rotate_groups[] = {
	&rotate_group, &settings_graph_group, &settings_common_group, NULL
};
static const char *const rotate_synopsis[] = {
	"--device NAME [--yes] [--reason TEXT]",
	"--device-id GUID [--yes] [--reason TEXT]",
	NULL
};

/* Ask on the terminal; 1 when the answer is yes. */
static int
confirm(int tty, const struct bde_device *m)
{
	char q[512];

	snprintf(q, sizeof(q), "rotate the BitLocker recovery passwords of "
	    "'%s' (Entra device %s, Intune device %s)? [y/N] ",
	    cmd_safe(m->name), cmd_safe(m->device_id), cmd_safe(m->id));
	return tty_confirm(tty, q) == 1;
}

/*
 * The rotation in the audit log: the intent before the request (outcome
 * NULL: no record, no rotation), then its outcome ("requested", "failed"
 * or "unknown" when the request may have reached Intune unanswered) and
 * the error, if any.  0, or -1 (printed).
 */
static int
audit_rotation(const struct settings *s, const char *reason,
    const struct bde_device *m, const char *identity, const char *outcome,
    const char *error)
{
	cJSON *rec;

	rec = audit_record_new("rotate", NULL, identity, reason);
	if (rec == NULL ||
	    cJSON_AddStringToObject(rec, "source", "graph") == NULL ||
	    cmd_json_add(rec, "device", m->name) < 0 ||
	    cmd_json_add(rec, "device_id", m->device_id) < 0 ||
	    cmd_json_add(rec, "managed_device_id", m->id) < 0 ||
	    (outcome != NULL && (cmd_json_add(rec, "outcome", outcome) < 0 ||
	    cmd_json_add(rec, "error", error) < 0))) {
		cJSON_Delete(rec);
		cmd_warn("rotate: out of memory");
		return -1;
	}
	return audit_append(s->audit_log, rec);
}

int
rotate_device(struct settings *s, const char *device, const char *device_id,
    const char *reason, int tty)
{
	struct bde_backend b;
	struct bde_device m;
	enum bde_status st;
	const char *outcome;
	char *err = NULL;
	int status;

	memset(&b, 0, sizeof(b));
	memset(&m, 0, sizeof(m));
	/*
	 * Intune's permission is asked for on first use (incremental
	 * consent): a person at a terminal may have to sign in for it
	 */
	if (isatty(STDERR_FILENO)) {
		s->graph.sign_in = cmd_show_signin;
		s->graph.sign_in_arg = NULL;
	}
	st = backend_get(BACKEND_GRAPH)->open(s, &b, &err);
	if (st == BDE_OK && (b.ops->find_device == NULL ||
	    b.ops->rotate == NULL))
		st = bde_error(&err, BDE_ECONFIG, "%s cannot rotate keys",
		    b.ops->name);
	if (st == BDE_OK)
		st = b.ops->find_device(b.self, device, device_id, &m, &err);
	if (st != BDE_OK) {
		cmd_warn("rotate: %s", err != NULL ? err : "failed");
		status = cmd_exit_status(st);
		goto out;
	}
	if (tty >= 0 && !confirm(tty, &m)) {
		cmd_warn("rotate: not confirmed; nothing rotated");
		status = EXIT_NOTFOUND;
		goto out;
	}
	if (audit_rotation(s, reason, &m, b.ops->identity(b.self), NULL,
	    NULL) < 0) {
		status = EXIT_IO;
		goto out;
	}
	st = b.ops->rotate(b.self, &m, &err);
	/* unreachable after sending: Intune may have taken it or not */
	outcome = st == BDE_OK ? "requested" : st == BDE_EUNREACH ? "unknown" :
	    "failed";
	if (audit_rotation(s, reason, &m, b.ops->identity(b.self), outcome,
	    st == BDE_OK ? NULL : err) < 0 && st == BDE_OK) {
		cmd_warn("rotate: the rotation was requested, but its outcome "
		    "could not be recorded");
		status = EXIT_IO;
		goto out;
	}
	if (st != BDE_OK) {
		cmd_warn("rotate: %s", err != NULL ? err : "failed");
		status = cmd_exit_status(st);
		goto out;
	}
	printf("rotation requested for '%s' (Entra device %s, Intune device "
	    "%s): the device escrows a new recovery password when it next "
	    "checks in\n", cmd_safe(m.name), cmd_safe(m.device_id),
	    cmd_safe(m.id));
	status = EXIT_OK;
out:
	if (b.ops != NULL)
		b.ops->close(b.self);
	bde_device_release(&m);
	free(err);
	return status;
}

static int
rotate_check(struct cmd_ctx *ctx)
{
	const struct rotate_opts *ro = ctx->opts;

	if ((ro->device == NULL) == (ro->device_id == NULL)) {
		cmd_warn("rotate: give exactly one of --device and --device-id");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	if ((ro->device != NULL && ro->device[0] == '\0') ||
	    (ro->device_id != NULL && ro->device_id[0] == '\0')) {
		cmd_warn("rotate: the device is empty");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int
run_rotate(struct cmd_ctx *ctx)
{
	const struct rotate_opts *ro = ctx->opts;
	int status, tty = -1;

	/* nobody to ask and no --yes: refuse before touching anything */
	if (!ro->yes) {
		tty = tty_open(0);
		if (tty < 0) {
			cmd_warn("rotate: no terminal to confirm on: give --yes "
			    "to rotate without asking");
			return EXIT_USAGE;
		}
	}
	status = rotate_device(ctx->s, ro->device, ro->device_id,
	    ctx->s->reason, tty);
	tty_close(tty);
	return status;
}

const struct cmd cmd_rotate = {
	.name = "rotate",
	.summary = "have Intune rotate a device's recovery passwords",
	.synopsis = rotate_synopsis,
	.groups = rotate_groups,
	.flags = CMD_SETTINGS | CMD_BACKENDS | CMD_SECRETS | CMD_AUDIT,
	.backends = BACKEND_GRAPH,
	.opts_size = sizeof(struct rotate_opts),
	.check = rotate_check,
	.run = run_rotate,
};
