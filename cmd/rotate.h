/*
 * rotate.h - the rotation rotate and recover share (cmd/rotate.c).
 */
#ifndef BDEKEY_ROTATE_H
#define BDEKEY_ROTATE_H

#include "cmd/settings.h"
#include "core/core.h"

/* Verifying a rotation (rotwait.c). */
struct rotwait_opts {
	int wait;		/* seconds in all; 0 = do not verify */
	int poll;		/* seconds between polls without Retry-After */
	/* on stderr's terminal: the state after each unanswered poll */
	void (*progress)(void *arg, const char *state, long long seconds);
	void *progress_arg;
};

enum rotwait_outcome {
	ROTWAIT_ROTATED = 1,	/* a new key ID was escrowed */
	ROTWAIT_FAILED,		/* Intune reports the action failed */
	ROTWAIT_TIMEOUT,	/* no new key before the wait ran out */
	ROTWAIT_ERROR		/* a request failed: st, err */
};

struct rotwait_result {
	enum rotwait_outcome outcome;
	enum bde_rot_state state;	/* Intune's last word */
	char state_text[24];
	long long error_code;		/* FAILED: Intune's errorCode */
	char key_id[BDE_GUID_LEN + 1];	/* ROTATED: the new key */
	time_t created;			/* ROTATED: its escrow time */
	int polls;
	long long seconds;		/* how long it took */
	enum bde_status st;		/* ERROR */
	char *err;			/* ERROR: message, owned */
};

/*
 * The device's key IDs before the rotation (no password), into before
 * (the caller's, bde_keylist_free).  BDE_ECONFIG when the backend cannot
 * report a rotation's state.
 */
enum bde_status rotwait_before(const struct bde_backend *b,
    const struct bde_device *m, struct bde_keylist *before, char **errstr);

/*
 * Poll until a key not in before appears, Intune reports failure, or
 * o->wait seconds pass; never prints (o->progress aside).  *r is
 * released with rotwait_release.
 */
void rotwait_run(const struct bde_backend *b, const struct bde_device *m,
    const struct bde_keylist *before, const struct rotwait_opts *o,
    struct rotwait_result *r);

void rotwait_release(struct rotwait_result *r);

/* The default of --wait given without a number: ten minutes. */
#define ROTWAIT_DEFAULT 600
/* Polls without a Retry-After: every 15 seconds by default. */
#define ROTWAIT_POLL 15

/*
 * Parse --wait's argument ("" = ROTWAIT_DEFAULT) and --poll's (NULL =
 * ROTWAIT_POLL) into o; -1 after saying why (prefixed with cmdname).
 */
int rotwait_options(const char *cmdname, const char *wait, const char *poll,
    struct rotwait_opts *o);

/*
 * Have Intune rotate the recovery passwords of the one managed device
 * matching device (a name) or device_id: confirmed on tty first when tty
 * is an open terminal (-1: no question), recorded in the audit log before
 * the request; with wo->wait, verified (rotwait_run) and the outcome
 * recorded too.  Prints what happened; returns the exit status.
 */
int rotate_device(struct settings *s, const char *device,
    const char *device_id, const char *reason, int tty,
    const struct rotwait_opts *wo);

#endif
