/*
 * find.h - the lookup every command shares: pick the backends, run them
 * side by side, merge their keys (one entry per key ID, newest first).
 */
#ifndef BDEKEY_FIND_H
#define BDEKEY_FIND_H

#include <pthread.h>

#include "cmd/settings.h"

enum find_source { SRC_AUTO = 0, SRC_AD, SRC_GRAPH, SRC_ALL };

/* One backend's share of the work. */
struct find_job {
	const char *name;		/* "ad" or "graph" */
	enum bde_status st;		/* BDE_OK, BDE_ENOTFOUND, or why not */
	char *err;			/* message when st is an error */
	char *identity;			/* who we were in that directory */
	struct bde_keylist keys;	/* moved to find.keys when merged */
	/* private */
	struct settings *s;
	const char *device;
	const struct bde_keyid *id;
	int flags;
	pthread_t thread;
};

struct find {
	struct find_job job[2];
	size_t njobs;
	struct bde_keylist keys;	/* merged, newest first */
	int progress_shown;		/* a scan printed progress on stderr */
};

/* --source ARG: ad, graph or all.  0, or -1 after printing why not. */
int find_parse_source(const char *cmdname, const char *arg,
    enum find_source *out);

/*
 * Which backends to ask: the one named, or every configured one.
 * Returns 0, or -1 after printing what is missing (a usage error).
 */
int find_select(const struct settings *s, enum find_source src, int *want_ad,
    int *want_graph, const char *cmdname);

/*
 * Look up by device (device != NULL; then id, when given, filters) or by
 * key ID in the wanted backends, concurrently, and merge into f->keys.
 * flags: BDE_WANT_PASSWORD.  Backend failures stay in f->job[].  Returns
 * 0, or -1 when out of memory (printed).  Release f with find_release.
 */
int find_keys(struct find *f, struct settings *s, int want_ad, int want_graph,
    const char *device, const struct bde_keyid *id, int flags);

/* Print each failed backend's error as "bdekey: SOURCE: message". */
void find_warn_errors(const struct find *f);

/* The directory identity of a backend ("ad", "graph"), or NULL. */
const char *find_identity(const struct find *f, const char *source);

/*
 * The exit status when nothing was found: 1, or the worst backend error
 * (usage over authentication over unreachable).
 */
int find_failure_status(const struct find *f);

/* Free everything f holds (wiping passwords). */
void find_release(struct find *f);

/*
 * Have Intune rotate the recovery passwords of the one managed device
 * matching device (a name) or device_id: confirmed on tty first when tty
 * is an open terminal (-1: no question), recorded in the audit log before
 * the request.  Prints what happened; returns the exit status.  Shared by
 * rotate and recover (cmd/rotate.c).
 */
int rotate_device(struct settings *s, const char *device,
    const char *device_id, const char *reason, int tty);

#endif
