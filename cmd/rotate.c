/*
 * rotate.c - `bdekey rotate`: ask Intune to have a device escrow a new
 * BitLocker recovery password (after the old one was read out).  Finds
 * exactly one managed device, asks for confirmation on the terminal
 * unless --yes, writes the audit record, then POSTs rotateBitLockerKeys.
 * Never rotates when the device is ambiguous or nobody confirmed.  With
 * --wait, verifies (rotwait.c): a new key ID escrowed, or why not.
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
	const char *wait;	/* NULL: do not verify; "": the default */
	const char *poll;
	struct rotwait_opts wo;	/* wait and poll, parsed by check */
};

static const struct cmd_option rotate_options[] = {
	OPT_STRING("device", 'd', "NAME", "the device's name in Entra ID",
	    struct rotate_opts, device),
	OPT_STRING("device-id", 0, "GUID", "the device's Entra device ID",
	    struct rotate_opts, device_id),
	OPT_BOOL("yes", 'y', "do not ask for confirmation",
	    struct rotate_opts, yes),
	OPT_OPTIONAL("wait", 0, "[SECONDS]", "verify: wait (default 600 s) "
	    "until a new key is escrowed or Intune reports failure",
	    struct rotate_opts, wait),
	OPT_STRING("poll", 0, "SECONDS", "with --wait: ask every SECONDS "
	    "when Intune gives no Retry-After (default 15)",
	    struct rotate_opts, poll),
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
	"--device NAME [--yes] [--wait [SECONDS]] [--reason TEXT]",
	"--device-id GUID [--yes] [--wait [SECONDS]] [--reason TEXT]",
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
    const char *error, const char *key_id)
{
	cJSON *rec;

	rec = audit_record_new("rotate", NULL, identity, reason);
	if (rec == NULL ||
	    (key_id != NULL && cmd_json_add(rec, "new_key_id", key_id) < 0) ||
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

/* The state while waiting, on stderr's terminal. */
static void
progress(void *arg, const char *state, long long seconds)
{
	(void)arg;
	fprintf(stderr, "\rrotate: waiting for the device: Intune says %s "
	    "(%lld s)   ", cmd_safe(state), seconds);
	fflush(stderr);
}

/*
 * Wait for the rotation's outcome, say it and record it: "rotated" (0),
 * "device-failed" (EXIT_DEVFAILED), "no-new-key" (EXIT_NOTFOUND), or the
 * failed request's status.
 */
static int
verify(const struct settings *s, const char *reason, const struct
    bde_backend *b, const struct bde_device *m, const struct bde_keylist
    *before, const struct rotwait_opts *wo)
{
	struct rotwait_opts o = *wo;
	struct rotwait_result r;
	char when[21], why[160], id8[9];
	const char *outcome;
	int status;

	if (isatty(STDERR_FILENO))
		o.progress = progress;
	rotwait_run(b, m, before, &o, &r);
	if (o.progress != NULL && r.polls > 1)
		fputc('\n', stderr);
	why[0] = '\0';
	switch (r.outcome) {
	case ROTWAIT_ROTATED:
		outcome = "rotated";
		bde_time_format(r.created, when);
		memcpy(id8, r.key_id, 8);
		id8[8] = '\0';
		printf("rotated: new key %s escrowed at %s for '%s' (key ID %s; "
		    "Intune says %s after %lld s)\n", id8, when,
		    cmd_safe(m->name), r.key_id, r.state_text, r.seconds);
		status = EXIT_OK;
		break;
	case ROTWAIT_FAILED:
		outcome = "device-failed";
		snprintf(why, sizeof(why), "Intune reports failed: %lld "
		    "(0x%08llX)", r.error_code, (unsigned long long)
		    r.error_code & 0xffffffffULL);
		cmd_warn("rotate: '%s': %s; the old password stays valid",
		    m->name, why);
		status = EXIT_DEVFAILED;
		break;
	case ROTWAIT_TIMEOUT:
		outcome = "no-new-key";
		snprintf(why, sizeof(why), "no new key after %lld min %lld s "
		    "(device offline?); Intune says %s", r.seconds / 60,
		    r.seconds % 60, r.state_text);
		cmd_warn("rotate: '%s': %s", m->name, why);
		status = EXIT_NOTFOUND;
		break;
	default:
		outcome = "unverified";
		snprintf(why, sizeof(why), "%s", r.err != NULL ? r.err :
		    "failed");
		cmd_warn("rotate: the rotation was requested, but whether it "
		    "happened is not known: %s", why);
		status = cmd_exit_status(r.st);
		break;
	}
	if (audit_rotation(s, reason, m, b->ops->identity(b->self), outcome,
	    why[0] ? why : NULL, r.outcome == ROTWAIT_ROTATED ? r.key_id :
	    NULL) < 0 && status == EXIT_OK) {
		cmd_warn("rotate: the new key was escrowed, but this could not "
		    "be recorded");
		status = EXIT_IO;
	}
	rotwait_release(&r);
	return status;
}

int
rotate_device(struct settings *s, const char *device, const char *device_id,
    const char *reason, int tty, const struct rotwait_opts *wo)
{
	struct bde_backend b;
	struct bde_device m;
	struct bde_keylist before = { 0 };
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
	/* a verified rotation needs the keys it is compared with */
	if (wo->wait > 0 && (st = rotwait_before(&b, &m, &before, &err)) !=
	    BDE_OK) {
		cmd_warn("rotate: cannot note the device's keys before "
		    "rotating: %s", err != NULL ? err : "failed");
		status = cmd_exit_status(st);
		goto out;
	}
	if (audit_rotation(s, reason, &m, b.ops->identity(b.self), NULL,
	    NULL, NULL) < 0) {
		status = EXIT_IO;
		goto out;
	}
	st = b.ops->rotate(b.self, &m, &err);
	/* unreachable after sending: Intune may have taken it or not */
	outcome = st == BDE_OK ? "requested" : st == BDE_EUNREACH ? "unknown" :
	    "failed";
	if (audit_rotation(s, reason, &m, b.ops->identity(b.self), outcome,
	    st == BDE_OK ? NULL : err, NULL) < 0 && st == BDE_OK) {
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
	if (wo->wait > 0) {
		status = verify(s, reason, &b, &m, &before, wo);
		goto out;
	}
	printf("rotation requested for '%s' (Entra device %s, Intune device "
	    "%s): the device escrows a new recovery password when it next "
	    "checks in\n", cmd_safe(m.name), cmd_safe(m.device_id),
	    cmd_safe(m.id));
	status = EXIT_OK;
out:
	bde_keylist_free(&before);
	if (b.ops != NULL)
		b.ops->close(b.self);
	bde_device_release(&m);
	free(err);
	return status;
}

static int
rotate_check(struct cmd_ctx *ctx)
{
	struct rotate_opts *ro = ctx->opts;

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
	if (rotwait_options("rotate", ro->wait, ro->poll, &ro->wo) < 0)
		return EXIT_USAGE;
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
	    ctx->s->reason, tty, &ro->wo);
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
