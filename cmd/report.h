/*
 * report.h - `bdekey report`'s rows: what one device's row holds, its
 * flags, the output formats (cmd/reportout.c) and the join of Entra ID's
 * devices with AD's computers (cmd/reportjoin.c).
 */
#ifndef BDEKEY_CMD_REPORT_H
#define BDEKEY_CMD_REPORT_H

#include <stdint.h>
#include <time.h>

#include "core/scratch.h"
#include "cmd/cmd.h"
#include "cmd/settings.h"

/* Row flags (bit numbers), in the order they are printed. */
enum {
	RF_NO_KEY = 0,		/* no recovery key on file */
	RF_STALE,		/* newest key older than --stale days */
	RF_NEAR_CAP,		/* >= 180 keys in Entra ID (cap 200) */
	RF_AD_ONLY,		/* hybrid: keys in AD, none in Entra ID */
	RF_ENTRA_ONLY,		/* hybrid: keys in Entra ID, none in AD */
	RF_INACTIVE,		/* no sign-in for 90 days */
	RF_COUNT
};

/* "no-key", "stale", ... (static). */
extern const char *const report_flag_names[RF_COUNT];

/* One device's row; strings are borrowed for the row's life. */
struct row {
	const char *name;
	const char *dn;			/* AD computer DN, or NULL */
	const char *device_id;		/* Entra device ID, or NULL */
	const char *os;
	const char *ad_volumes;		/* comma-separated, or NULL */
	const char *graph_volumes;
	int in_ad, in_graph;
	unsigned nkeys, ad_keys, graph_keys;
	time_t newest;			/* newest key, 0 none */
	time_t last_seen;		/* newest sign-in / logon, 0 unknown */
	unsigned flags;			/* 1 << RF_* */
};

/* A row from one directory's device (source "ad" or "graph"). */
void row_from_escrow(struct row *r, const struct bde_escrow *e,
    const char *source);

enum report_format { REPORT_TEXT, REPORT_JSON, REPORT_CSV };

/* The header line (CSV's, text's columns); 0, or -1 when stdout failed. */
int report_write_header(enum report_format fmt);

/* One row in fmt; 0, or -1 when stdout failed. */
int report_write(enum report_format fmt, const struct row *r);

/* A directory that failed part-way, for the JSON errors line. */
struct report_failure {
	const char *source;
	enum bde_status st;
	char *err;		/* owned by the caller */
};

/* {"errors":[...]} with the failures whose st is not BDE_OK. */
void report_write_errors(const struct report_failure *f, size_t n);

/*
 * Entra ID's devices kept while AD's computers stream, on disk
 * (core/scratch.h): memory does not grow with their number.
 * join_release frees.  Errors: the scratch file's (BDE_EIO, BDE_ENOMEM).
 */
struct join {
	struct bde_scratch *log;	/* the devices' records */
	struct bde_dtab *idx;		/* SID / name key -> chain */
	uint64_t seed[2];
	char *buf;			/* the strings of the last record read */
	size_t cap;
};

void join_init(struct join *j);
void join_release(struct join *j);

/* Keep a copy of Entra device e. */
enum bde_status join_keep(struct join *j, const struct bde_escrow *e,
    char **errstr);

/*
 * AD computer e (already in r): the unmatched Entra device with e's SID,
 * else with its name ignoring case, is merged into r (its strings valid
 * until the next call) and marked matched.
 */
enum bde_status join_take(struct join *j, const struct bde_escrow *e,
    struct row *r, char **errstr);

/*
 * The next Entra device no computer matched into r (strings valid until
 * the next call), from *it (0 at first); *got 0 at the end.
 */
enum bde_status join_next_unmatched(struct join *j, uint64_t *it,
    struct row *r, int *got, char **errstr);

#endif
