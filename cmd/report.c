/*
 * report.c - `bdekey report`: escrow health, one row per device (name,
 * directories, DN / device ID, OS, keys on file, newest escrow, volumes,
 * last sign-in, flags), metadata only: no password is asked for, so a
 * ReadBasic token or an account without Control Access runs it.
 *
 * Rows stream: each directory's escrow walk (bde_backend_ops.escrow)
 * hands over a device as it completes and the row is written at once.
 * With both directories, Entra ID's devices are walked first and kept
 * (cmd/reportjoin.c) so that a hybrid device (same name, or Entra's
 * onPremisesSecurityIdentifier = AD's objectSid) is one row; AD's rows
 * then stream, and the Entra devices no AD computer matched follow.
 */
#include "cmd/backend.h"
#include "cmd/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400
/* No sign-in for this long: not worth chasing. */
#define INACTIVE_DAYS 90
/* Entra ID keeps 200 keys a device; this close, encryption may fail. */
#define NEAR_CAP 180

struct report_opts {
	int missing;
	const char *stale;
	int json;
	int csv;
	long stale_days;	/* parsed by check; -1 not asked */
};

static const struct cmd_option report_options[] = {
	OPT_SOURCE("ad, graph or all (default: every configured one)"),
	OPT_BOOL("missing", 0, "only the devices with no recovery key on file",
	    struct report_opts, missing),
	OPT_STRING("stale", 0, "DAYS", "flag devices whose newest key is "
	    "older than DAYS days", struct report_opts, stale),
	OPT_BOOL("json", 'j', "JSON Lines: one object per device",
	    struct report_opts, json),
	OPT_BOOL("csv", 0, "CSV (RFC 4180) with a header line",
	    struct report_opts, csv),
	OPT_END
};

static const struct cmd_optgroup report_group = {
	"options", report_options
};
static const struct cmd_optgroup *const report_groups[] = {
	&report_group, &settings_ad_group, &settings_graph_group,
	&settings_common_group, NULL
};
static const char *const report_synopsis[] = {
	"[--source ad|graph|all] [--missing] [--stale DAYS] [--base DN] "
	"[--json | --csv]",
	NULL
};

/* The walk: options, counts, the join, the output. */
struct walk {
	const struct report_opts *ro;
	time_t now;
	int both;		/* AD and Entra ID: rows are joined */
	int tty;		/* progress on stderr */
	struct join join;	/* Entra's devices, when both */
	enum bde_status join_st;	/* the join failed: why */
	char *join_err;			/* (moved to the walk's failure) */
	unsigned long devices, with_key, without, shown;
	unsigned long flagged[RF_COUNT];
	int out_failed;		/* stdout failed: stop */
};

/* The flags of a row, from what it has. */
static unsigned
flags_of(const struct walk *w, const struct row *r)
{
	unsigned f = 0;

	if (r->nkeys == 0)
		f |= 1u << RF_NO_KEY;
	if (r->nkeys > 0 && w->ro->stale_days >= 0 && r->newest > 0 &&
	    w->now - r->newest > (time_t)w->ro->stale_days * DAY)
		f |= 1u << RF_STALE;
	if (r->in_graph && r->graph_keys >= NEAR_CAP)
		f |= 1u << RF_NEAR_CAP;
	/* a hybrid device whose keys are in one directory only */
	if (r->in_ad && r->in_graph && r->ad_keys > 0 && r->graph_keys == 0)
		f |= 1u << RF_AD_ONLY;
	if (r->in_ad && r->in_graph && r->graph_keys > 0 && r->ad_keys == 0)
		f |= 1u << RF_ENTRA_ONLY;
	if (r->last_seen > 0 && w->now - r->last_seen > INACTIVE_DAYS * DAY)
		f |= 1u << RF_INACTIVE;
	return f;
}

/* Count a finished row and write it unless --missing drops it. */
static int
emit(struct walk *w, struct row *r)
{
	int i;

	r->flags = flags_of(w, r);
	w->devices++;
	if (r->nkeys > 0)
		w->with_key++;
	else
		w->without++;
	for (i = 0; i < RF_COUNT; i++)
		if (r->flags & (1u << i))
			w->flagged[i]++;
	if (w->tty && w->devices % 1000 == 0)
		fprintf(stderr, "\rreport: %lu devices...", w->devices);
	if (w->ro->missing && r->nkeys > 0)
		return 0;
	w->shown++;
	if (report_write(w->ro->json ? REPORT_JSON : w->ro->csv ?
	    REPORT_CSV : REPORT_TEXT, r) < 0) {
		w->out_failed = 1;
		return -1;
	}
	return 0;
}

/* One device of AD: joined with Entra's when both are asked. */
static int
ad_device(void *arg, const struct bde_escrow *e)
{
	struct walk *w = arg;
	struct row r;

	row_from_escrow(&r, e, "ad");
	if (w->both && (w->join_st = join_take(&w->join, e, &r,
	    &w->join_err)) != BDE_OK)
		return -1;
	return emit(w, &r);
}

/* One device of Entra ID: kept for the join, or written at once. */
static int
graph_device(void *arg, const struct bde_escrow *e)
{
	struct walk *w = arg;
	struct row r;

	if (w->both)
		return (w->join_st = join_keep(&w->join, e, &w->join_err)) ==
		    BDE_OK ? 0 : -1;
	row_from_escrow(&r, e, "graph");
	return emit(w, &r);
}

/* Walk one directory; its failure into *f (st BDE_OK when none). */
static void
walk_one(struct settings *s, unsigned bit, struct walk *w, struct report_failure *f)
{
	const struct backend *be = backend_get(bit);
	struct bde_backend b;

	memset(&b, 0, sizeof(b));
	f->source = be->name;
	f->st = be->open(s, &b, &f->err);
	if (f->st == BDE_OK && b.ops->escrow == NULL)
		f->st = bde_error(&f->err, BDE_ECONFIG, "%s cannot list its "
		    "devices", be->name);
	if (f->st == BDE_OK)
		f->st = b.ops->escrow(b.self, bit == BACKEND_AD ? ad_device :
		    graph_device, w, &f->err);
	if (b.ops != NULL)
		b.ops->close(b.self);
	/*
	 * The join stopped the walk (its scratch file failed): its reason,
	 * not the backend's; the rows after it are not joined.
	 */
	if (w->join_st != BDE_OK) {
		free(f->err);
		f->st = w->join_st;
		f->err = w->join_err;
		w->join_err = NULL;
		w->join_st = BDE_OK;
		w->both = 0;
	}
	/* a walk that went through may still have a word to say */
	if (f->st == BDE_OK && f->err != NULL) {
		cmd_warn("report: %s: warning: %s", be->name, f->err);
		free(f->err);
		f->err = NULL;
	}
}

/* "report: 12 devices, 9 with a key, 3 without; stale 2, ..." */
static void
summary(const struct walk *w)
{
	char buf[512];
	size_t n;
	int i, any = 0;

	if (w->tty && w->devices >= 1000)
		fputc('\n', stderr);
	n = (size_t)snprintf(buf, sizeof(buf), "report: %lu device%s, %lu "
	    "with a key, %lu without", w->devices, w->devices == 1 ? "" : "s",
	    w->with_key, w->without);
	for (i = 0; i < RF_COUNT && n < sizeof(buf); i++) {
		if (i == RF_NO_KEY || w->flagged[i] == 0)
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s %lu",
		    any ? ", " : "; ", report_flag_names[i], w->flagged[i]);
		any = 1;
	}
	fprintf(stderr, "%s\n", buf);
}

static int
report_check(struct cmd_ctx *ctx)
{
	struct report_opts *ro = ctx->opts;
	char *end;

	ro->stale_days = -1;
	if (ro->json && ro->csv) {
		cmd_warn("report: --json and --csv do not go together");
		return EXIT_USAGE;
	}
	if (ro->stale != NULL) {
		errno = 0;
		ro->stale_days = strtol(ro->stale, &end, 10);
		if (ro->stale[0] < '0' || ro->stale[0] > '9' || *end != '\0' ||
		    errno != 0 || ro->stale_days > 36500) {
			cmd_warn("report: --stale '%s' is not a number of days "
			    "from 0 to 36500", ro->stale);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

static int
run_report(struct cmd_ctx *ctx)
{
	const struct report_opts *ro = ctx->opts;
	struct settings *s = ctx->s;
	struct report_failure fail[3];
	struct walk w;
	size_t i, nfail = 0;
	int status = EXIT_OK, st;

	memset(&w, 0, sizeof(w));
	memset(fail, 0, sizeof(fail));
	w.ro = ro;
	w.now = time(NULL);
	w.both = (ctx->want & BACKEND_AD) && (ctx->want & BACKEND_GRAPH);
	w.tty = isatty(STDERR_FILENO);
	join_init(&w.join);
	if (!ro->json && report_write_header(ro->csv ? REPORT_CSV :
	    REPORT_TEXT) < 0) {
		w.out_failed = 1;
		goto out;
	}
	/* Entra first when joining: its devices wait for AD's rows */
	if (ctx->want & BACKEND_GRAPH)
		walk_one(s, BACKEND_GRAPH, &w, &fail[nfail++]);
	if ((ctx->want & BACKEND_AD) && !w.out_failed)
		walk_one(s, BACKEND_AD, &w, &fail[nfail++]);
	/* the Entra devices no AD computer matched */
	if (w.both && !w.out_failed) {
		struct row r;
		uint64_t it = 0;
		int got;

		fail[nfail].source = "report";
		while ((fail[nfail].st = join_next_unmatched(&w.join, &it, &r,
		    &got, &fail[nfail].err)) == BDE_OK && got)
			if (emit(&w, &r) < 0)
				break;
		nfail++;
	}
out:
	if (w.out_failed || fflush(stdout) != 0) {
		cmd_warn("report: cannot write the report: %s",
		    strerror(errno ? errno : EIO));
		status = EXIT_IO;
	}
	for (i = 0; i < nfail; i++) {
		if (fail[i].st == BDE_OK)
			continue;
		cmd_warn("report: %s: %s", fail[i].source, fail[i].err ?
		    fail[i].err : "failed");
		st = cmd_exit_status(fail[i].st);
		if (status == EXIT_OK || st == EXIT_AUTH)
			status = st;
	}
	if (ro->json && status != EXIT_OK && !w.out_failed)
		report_write_errors(fail, nfail);
	summary(&w);
	if (status == EXIT_OK && ro->missing && w.without == 0) {
		cmd_warn("report: every device has a recovery key on file");
		status = EXIT_NOTFOUND;
	}
	for (i = 0; i < nfail; i++)
		free(fail[i].err);
	join_release(&w.join);
	free(w.join_err);
	return status;
}

const struct cmd cmd_report = {
	.name = "report",
	.summary = "escrow health: devices with no usable key on file",
	.synopsis = report_synopsis,
	.groups = report_groups,
	.flags = CMD_SETTINGS | CMD_BACKENDS | CMD_SECRETS,
	.backends = BACKEND_AD | BACKEND_GRAPH,
	.opts_size = sizeof(struct report_opts),
	.check = report_check,
	.run = run_report,
};
