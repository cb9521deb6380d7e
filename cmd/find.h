/*
 * find.h - the lookup every command shares: pick the backends, run them
 * side by side, merge their keys (one entry per key ID, newest first).
 */
#ifndef BDEKEY_FIND_H
#define BDEKEY_FIND_H

#include <pthread.h>

#include "cmd/backend.h"

/*
 * What to look for: the keys of a device, and/or keys by ID.  With a
 * device and filter set, the IDs only pick among the device's keys
 * (lookup --device --key-id); else the results are joined (lookup
 * --volume: the volume's protector IDs and its computer's other keys).
 */
struct find_query {
	const char *device;		/* NULL: no device lookup */
	int device_flags;		/* BDE_WANT_PASSWORD for its keys */
	const struct bde_keyid *ids;	/* key IDs or prefixes */
	size_t nids;
	int id_flags;			/* BDE_WANT_PASSWORD for their keys */
	int filter;			/* the IDs filter the device's keys */
};

/* One backend's share of the work. */
struct find_job {
	const struct backend *backend;	/* which directory */
	enum bde_status st;		/* BDE_OK, BDE_ENOTFOUND, or why not */
	char *err;			/* message when st is an error */
	char *identity;			/* who we were in that directory */
	struct bde_keylist keys;	/* moved to find.keys when merged */
	/* private */
	struct settings *s;
	const struct find_query *q;
	pthread_t thread;
};

/* Backends one lookup may ask at once. */
#define FIND_MAX_JOBS 4

struct find {
	struct find_job job[FIND_MAX_JOBS];
	size_t njobs;
	struct bde_keylist keys;	/* merged, newest first */
	int progress_shown;		/* a scan printed progress on stderr */
};

/*
 * Run q in the wanted backends (BACKEND_* bits), concurrently (one
 * connection each, however many IDs), and merge into f->keys.  Backend
 * failures stay in f->job[].  Returns 0, or -1 when out of memory
 * (printed).  Release f with find_release.
 */
int find_keys(struct find *f, struct settings *s, unsigned want,
    const struct find_query *q);

/* Whether some key in f has the full key ID id (canonical GUID). */
int find_has_key(const struct find *f, const char *id);

/* Print each failed backend's error as "bdekey: SOURCE: message". */
void find_warn_errors(const struct find *f);

/* The job of the backend a key came from (its source), or NULL. */
const struct find_job *find_job_of(const struct find *f, const char *source);

/*
 * The worst error of the backends that failed (not found is no error):
 * EXIT_USAGE over EXIT_AUTH over EXIT_UNAVAILABLE; EXIT_OK when none did.
 */
int find_error_status(const struct find *f);

/*
 * The directory identity a key was found with: source is the key's
 * source, which find_keys sets to its backend's name in the table.
 * NULL when that directory did not say.
 */
const char *find_identity(const struct find *f, const char *source);

/*
 * The exit status when nothing was found: 1, or the worst backend error
 * (usage over authentication over unreachable).
 */
int find_failure_status(const struct find *f);

/* Free everything f holds (wiping passwords). */
void find_release(struct find *f);

#endif
