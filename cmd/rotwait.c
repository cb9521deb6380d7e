/*
 * rotwait.c - a rotation verified: the device's key IDs noted before the
 * request, then Intune's deviceActionResults and the key list polled
 * (Retry-After honoured, bounded by --wait) until a key ID that was not
 * there before is escrowed, Intune reports the action failed, or time
 * runs out.  Each outcome has its own exit status and audit record.
 */
#include "cmd/rotate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

/* The device's keys (IDs and times, no password) into out. */
static enum bde_status
device_keys(const struct bde_backend *b, const struct bde_device *m,
    struct bde_keylist *out, char **errstr)
{
	enum bde_status st;
	size_t i, n;

	st = b->ops->by_device(b->self, m->name, 0, out, errstr);
	if (st == BDE_ENOTFOUND) {
		free(*errstr);
		*errstr = NULL;
		st = BDE_OK;
	}
	if (st != BDE_OK)
		return st;
	/* several devices may share the name: only this one's */
	for (i = n = 0; i < out->n; i++) {
		if (out->v[i].device_id != NULL && m->device_id != NULL &&
		    strcasecmp(out->v[i].device_id, m->device_id) == 0)
			out->v[n++] = out->v[i];
		else
			bde_key_release(&out->v[i]);
	}
	out->n = n;
	return BDE_OK;
}

enum bde_status
rotwait_before(const struct bde_backend *b, const struct bde_device *m,
    struct bde_keylist *before, char **errstr)
{
	if (b->ops->rotate_state == NULL)
		return bde_error(errstr, BDE_ECONFIG, "%s cannot tell whether a "
		    "rotation happened", b->ops->name);
	return device_keys(b, m, before, errstr);
}

/* The first key of now that before does not have, or NULL. */
static const struct bde_key *
new_key(const struct bde_keylist *before, const struct bde_keylist *now)
{
	size_t i, j;

	for (i = 0; i < now->n; i++) {
		for (j = 0; j < before->n; j++)
			if (strcasecmp(now->v[i].key_id, before->v[j].key_id) ==
			    0)
				break;
		if (j == before->n)
			return &now->v[i];
	}
	return NULL;
}

/* Sleep ms milliseconds (interrupted sleeps resume). */
static void
nap(long long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void
rotwait_run(const struct bde_backend *b, const struct bde_device *m,
    const struct bde_keylist *before, const struct rotwait_opts *o,
    struct rotwait_result *r)
{
	struct bde_keylist now = { 0 };
	struct bde_rotation rot;
	const struct bde_key *k;
	long long start = bde_now_ms(), deadline, wait_ms, left;
	enum bde_status st;
	char *err = NULL;

	memset(r, 0, sizeof(*r));
	deadline = start + (long long)o->wait * 1000;
	for (r->polls = 1;; r->polls++) {
		st = b->ops->rotate_state(b->self, m, &rot, &err);
		if (st != BDE_OK)
			goto failed;
		r->state = rot.state;
		snprintf(r->state_text, sizeof(r->state_text), "%s",
		    rot.state_text[0] ? rot.state_text : "none");
		if (rot.state == BDE_ROT_FAILED) {
			r->outcome = ROTWAIT_FAILED;
			r->error_code = rot.error_code;
			goto out;
		}
		bde_keylist_free(&now);
		st = device_keys(b, m, &now, &err);
		if (st != BDE_OK)
			goto failed;
		if ((k = new_key(before, &now)) != NULL) {
			r->outcome = ROTWAIT_ROTATED;
			snprintf(r->key_id, sizeof(r->key_id), "%s", k->key_id);
			r->created = k->created;
			goto out;
		}
		left = deadline - bde_now_ms();
		if (left <= 0) {
			r->outcome = ROTWAIT_TIMEOUT;
			goto out;
		}
		/* the server's Retry-After, else our interval; never past */
		wait_ms = rot.retry_after > 0 ? rot.retry_after * 1000LL :
		    (long long)o->poll * 1000;
		if (o->progress != NULL)
			o->progress(o->progress_arg, r->state_text,
			    (bde_now_ms() - start) / 1000);
		nap(wait_ms < left ? wait_ms : left);
	}
failed:
	r->outcome = ROTWAIT_ERROR;
	r->st = st;
	r->err = err;
	err = NULL;
out:
	r->seconds = (bde_now_ms() - start) / 1000;
	bde_keylist_free(&now);
	free(err);
}

/* A whole number of seconds in [lo, hi] from text; -1 otherwise. */
static long
seconds(const char *text, long lo, long hi)
{
	char *end;
	long v;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	return v;
}

int
rotwait_options(const char *cmdname, const char *wait, const char *poll,
    struct rotwait_opts *o)
{
	long v;

	memset(o, 0, sizeof(*o));
	o->poll = ROTWAIT_POLL;
	if (wait == NULL && poll != NULL) {
		cmd_warn("%s: --poll goes with --wait", cmdname);
		return -1;
	}
	if (wait == NULL)
		return 0;
	o->wait = ROTWAIT_DEFAULT;
	if (wait[0] != '\0') {
		if ((v = seconds(wait, 1, 86400)) < 0) {
			cmd_warn("%s: --wait '%s' is not a number of seconds "
			    "from 1 to 86400", cmdname, wait);
			return -1;
		}
		o->wait = (int)v;
	}
	if (poll != NULL) {
		if ((v = seconds(poll, 1, 3600)) < 0) {
			cmd_warn("%s: --poll '%s' is not a number of seconds "
			    "from 1 to 3600", cmdname, poll);
			return -1;
		}
		o->poll = (int)v;
	}
	return 0;
}

void
rotwait_release(struct rotwait_result *r)
{
	free(r->err);
	memset(r, 0, sizeof(*r));
}
