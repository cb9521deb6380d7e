/*
 * rotate.c - `bdekey rotate`: ask Intune to have a device escrow a new
 * BitLocker recovery password (after the old one was read out).  Finds
 * exactly one managed device, asks for confirmation on the terminal
 * unless --yes, writes the audit record, then POSTs rotateBitLockerKeys.
 * Never rotates when the device is ambiguous or nobody confirmed.
 */
#include "cmd/audit.h"
#include "cmd/find.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rotate_opts {
	const char *device;
	const char *device_id;
	const char *reason;
	int yes;
};

enum {
	OPT_DEVICE = 'd',
	OPT_DEVICE_ID = 400,
	OPT_YES = 'y',
	OPT_REASON = 'r'
};

static const struct cmd_option rotate_options[] = {
	{ "device", OPT_DEVICE, "NAME", "the device's name in Entra ID" },
	{ "device-id", OPT_DEVICE_ID, "GUID", "the device's Entra device ID" },
	{ "yes", OPT_YES, NULL, "do not ask for confirmation" },
	{ "reason", OPT_REASON, "TEXT", "why (e.g. the ticket number), for "
	  "the audit log" },
	{ NULL, 0, NULL, NULL }
};

static int
rotate_apply(void *settings, int key, const char *arg)
{
	struct rotate_opts *ro = ((struct settings *)settings)->cmd;

	switch (key) {
	case OPT_DEVICE:
		ro->device = arg;
		break;
	case OPT_DEVICE_ID:
		ro->device_id = arg;
		break;
	case OPT_YES:
		ro->yes = 1;
		break;
	case OPT_REASON:
		ro->reason = arg;
		break;
	}
	return 0;
}

static const struct cmd_optgroup rotate_group = {
	"options", rotate_options, rotate_apply
};
static const struct cmd_optgroup *const rotate_groups[] = {
	&rotate_group, &settings_graph_group, &settings_common_group, NULL
};
static const char *const rotate_synopsis[] = {
	"--device NAME [--yes] [--reason TEXT]",
	"--device-id GUID [--yes] [--reason TEXT]",
	NULL
};

/*
 * Ask on the terminal; 1 when the answer is yes.  The question goes to
 * /dev/tty, never to stdout: it is not data.
 */
static int
confirm(int tty, const struct bde_device *m)
{
	char line[64], q[512];
	ssize_t r;
	size_t n = 0;
	int len;

	len = snprintf(q, sizeof(q), "rotate the BitLocker recovery "
	    "passwords of '%s' (Entra device %s, Intune device %s)? [y/N] ",
	    m->name, m->device_id, m->id);
	if (len < 0 || write(tty, q, strlen(q)) < 0)
		return 0;
	while (n < sizeof(line) - 1) {
		r = read(tty, line + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

/* The audit record comes before the request: no record, no rotation. */
static int
audit_rotation(const struct settings *s, const struct rotate_opts *ro,
    const struct bde_device *m, const char *identity)
{
	struct audit a;
	cJSON *rec;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	if (audit_open(&a, s->audit_log) < 0)
		goto out;
	rec = audit_record_new("rotate", NULL, identity, ro->reason);
	if (rec == NULL ||
	    cJSON_AddStringToObject(rec, "source", "graph") == NULL ||
	    cJSON_AddStringToObject(rec, "device", m->name) == NULL ||
	    cJSON_AddStringToObject(rec, "device_id", m->device_id) == NULL ||
	    cJSON_AddStringToObject(rec, "managed_device_id", m->id) == NULL) {
		cJSON_Delete(rec);
		cmd_warn("rotate: out of memory");
		goto out;
	}
	if (audit_write(&a, rec) < 0)
		goto out;
	rc = 0;
out:
	if (audit_close(&a) < 0)
		rc = -1;
	return rc;
}

int
rotate_device(struct settings *s, const char *device, const char *device_id,
    const char *reason, int tty)
{
	struct rotate_opts ro;
	struct bde_backend b;
	struct bde_device m;
	enum bde_status st;
	char *err = NULL;
	int status;

	memset(&ro, 0, sizeof(ro));
	memset(&b, 0, sizeof(b));
	memset(&m, 0, sizeof(m));
	ro.reason = reason;
	st = graph_open(&s->graph, &b, &err);
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
	if (audit_rotation(s, &ro, &m, b.ops->identity(b.self)) < 0) {
		status = EXIT_UNREACH;
		goto out;
	}
	st = b.ops->rotate(b.self, &m, &err);
	if (st != BDE_OK) {
		cmd_warn("rotate: %s", err != NULL ? err : "failed");
		status = cmd_exit_status(st);
		goto out;
	}
	printf("rotation requested for '%s' (Entra device %s, Intune device "
	    "%s): the device escrows a new recovery password when it next "
	    "checks in\n", m.name, m.device_id, m.id);
	status = EXIT_FOUND;
out:
	if (b.ops != NULL)
		b.ops->close(b.self);
	bde_device_release(&m);
	free(err);
	return status;
}

static int
run_rotate(const struct cmd *self, int argc, char **argv)
{
	struct rotate_opts ro;
	struct settings s;
	int status = EXIT_USAGE, tty = -1;

	memset(&ro, 0, sizeof(ro));
	settings_init(&s);
	s.cmd = &ro;
	status = cmd_begin(self, argc, argv, &s);
	if (status != CMD_GO)
		goto out;
	status = EXIT_USAGE;
	if ((ro.device == NULL) == (ro.device_id == NULL)) {
		cmd_warn("rotate: give exactly one of --device and --device-id");
		cmd_print_usage(self, stderr);
		goto out;
	}
	if ((ro.device != NULL && ro.device[0] == '\0') ||
	    (ro.device_id != NULL && ro.device_id[0] == '\0')) {
		cmd_warn("rotate: the device is empty");
		goto out;
	}
	if (settings_finish(&s) < 0)
		goto out;
	if (settings_need_graph(&s, "rotate") < 0)
		goto out;
	if (s.require_reason && (ro.reason == NULL || ro.reason[0] == '\0')) {
		cmd_warn("rotate: a --reason (e.g. the ticket number) is "
		    "required ([audit] require_reason)");
		goto out;
	}
	/* nobody to ask and no --yes: refuse before touching anything */
	if (!ro.yes) {
		tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (tty < 0) {
			cmd_warn("rotate: no terminal to confirm on: give --yes "
			    "to rotate without asking");
			goto out;
		}
	}
	if (settings_load_secrets(&s, 0, 1) < 0)
		goto out;
	status = cmd_finish(rotate_device(&s, ro.device, ro.device_id,
	    ro.reason, tty));
out:
	if (tty >= 0)
		close(tty);
	settings_release(&s);
	return status;
}

const struct cmd cmd_rotate = {
	"rotate", "have Intune rotate a device's recovery passwords",
	rotate_synopsis, rotate_groups, run_rotate
};
