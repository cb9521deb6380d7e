/*
 * opts.c - option tables to getopt_long, help text, shared output helpers.
 */
#include "cmd/settings.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HELP_KEY 'h'
#define MAX_OPTIONS 64
/* getopt values of options without a short letter: LONG_KEY + index */
#define LONG_KEY 256

static const struct cmd_option help_option = {
	"help", HELP_KEY, NULL, "show this help and exit", OPTK_BOOL,
	OPTB_CMD, 0, NULL
};

void
cmd_warn(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int r;

	fflush(stdout);
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "bdekey: %s\n", r < 0 ? "out of memory" :
	    cmd_safe(msg));
	/* a message may quote a bad block of a password: wipe it */
	if (r >= 0) {
		explicit_bzero(msg, (size_t)r);
		free(msg);
	}
}

const struct cmd *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; cmd_table[i] != NULL; i++)
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	return NULL;
}

void
cmd_print_usage(const struct cmd *c, FILE *fp)
{
	size_t i;

	for (i = 0; c->synopsis[i] != NULL; i++)
		fprintf(fp, "%s bdekey %s %s\n", i == 0 ? "usage:" : "      ",
		    c->name, c->synopsis[i]);
}

static void
print_option(const struct cmd_option *o, FILE *fp)
{
	char left[64];

	if (o->key > 0)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->key, o->name,
		    o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->name,
		    o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(fp, "  %-28s %s\n", left, o->help);
}

void
cmd_print_help(const struct cmd *c, FILE *fp)
{
	const struct cmd_option *o;
	size_t i;

	cmd_print_usage(c, fp);
	fprintf(fp, "\n%s\n", c->summary);
	for (i = 0; c->groups[i] != NULL; i++) {
		fprintf(fp, "\n%s:\n", c->groups[i]->title);
		for (o = c->groups[i]->opts; o->name != NULL; o++)
			print_option(o, fp);
	}
	fputs("\n", fp);
	print_option(&help_option, fp);
	fputs("\nSee bdekey(1) for exit statuses and examples.\n", fp);
}

/* Every option of c, in table order, help last; returns the count. */
static size_t
flatten(const struct cmd *c, const struct cmd_option **all)
{
	const struct cmd_option *o;
	size_t i, n = 0;

	for (i = 0; c->groups[i] != NULL; i++)
		for (o = c->groups[i]->opts; o->name != NULL; o++) {
			if (n + 2 > MAX_OPTIONS)
				abort();	/* a programming error */
			all[n++] = o;
		}
	all[n++] = &help_option;
	return n;
}

/* "a, b or c" for a usage message, into buf. */
static void
choice_list(const char *const *choices, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; choices[i] != NULL && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    i == 0 ? "" : choices[i + 1] == NULL ? " or " : ", ",
		    choices[i]);
}

/* Store one option's value at its destination; 0, or -1 (printed). */
static int
store(struct cmd_ctx *ctx, const struct cmd_option *o, const char *arg)
{
	unsigned char *base = o->base == OPTB_SETTINGS ?
	    (unsigned char *)ctx->s : (unsigned char *)ctx->opts;
	char list[256];
	int v = 1;
	size_t i;

	switch (o->kind) {
	case OPTK_BOOL:
		memcpy(base + o->dest, &v, sizeof(v));
		return 0;
	case OPTK_STRING:
	case OPTK_OPTIONAL:
		memcpy(base + o->dest, &arg, sizeof(arg));
		return 0;
	case OPTK_CHOICE:
		for (i = 0; o->choices[i] != NULL; i++)
			if (strcasecmp(o->choices[i], arg) == 0)
				break;
		if (o->choices[i] == NULL) {
			choice_list(o->choices, list, sizeof(list));
			cmd_warn("%s: %s '%s' is not %s", ctx->cmd->name,
			    o->name, arg, list);
			return -1;
		}
		v = (int)i + 1;
		memcpy(base + o->dest, &v, sizeof(v));
		return 0;
	case OPTK_SETTING:
		return settings_option(ctx->s, (enum setting_id)o->dest, arg);
	}
	abort();
}

int
cmd_parse_options(struct cmd_ctx *ctx, int argc, char **argv)
{
	const struct cmd *c = ctx->cmd;
	const struct cmd_option *all[MAX_OPTIONS];
	struct option lo[MAX_OPTIONS + 1];
	char shorts[MAX_OPTIONS * 2 + 3];
	size_t n, ns = 0, i;
	int ch;

	n = flatten(c, all);
	/*
	 * options may follow operands (GNU getopt permutes; "--" ends
	 * them); ':' first: report missing arguments
	 */
	shorts[ns++] = ':';
	for (i = 0; i < n; i++) {
		lo[i].name = all[i]->name;
		lo[i].has_arg = all[i]->kind == OPTK_OPTIONAL ?
		    optional_argument : all[i]->arg ? required_argument :
		    no_argument;
		lo[i].flag = NULL;
		lo[i].val = all[i]->key > 0 ? all[i]->key : LONG_KEY + (int)i;
		if (all[i]->key > 0) {
			shorts[ns++] = (char)all[i]->key;
			if (all[i]->arg)
				shorts[ns++] = ':';
			if (all[i]->kind == OPTK_OPTIONAL)
				shorts[ns++] = ':';
		}
	}
	memset(&lo[n], 0, sizeof(lo[n]));
	shorts[ns] = '\0';

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		if (ch == HELP_KEY) {
			cmd_print_help(c, stdout);
			return CMD_PARSE_HELP;
		}
		if (ch == '?' || ch == ':') {
			const char *what = argv[optind - 1];

			if (optopt > 0 && optopt < LONG_KEY)
				cmd_warn("%s: option '-%c' %s", c->name, optopt,
				    ch == ':' ? "needs an argument" :
				    "is unknown");
			else
				cmd_warn("%s: option '%s' %s", c->name, what,
				    ch == ':' ? "needs an argument" :
				    "is unknown");
			cmd_print_usage(c, stderr);
			return CMD_PARSE_USAGE;
		}
		for (i = 0; i < n; i++)
			if (lo[i].val == ch)
				break;
		if (i == n)
			abort();
		/* an optional argument as its own word: a number */
		if (all[i]->kind == OPTK_OPTIONAL && optarg == NULL) {
			optarg = (char *)"";
			if (optind < argc && argv[optind][0] >= '0' &&
			    argv[optind][0] <= '9')
				optarg = argv[optind++];
		}
		if (store(ctx, all[i], optarg) < 0)
			return CMD_PARSE_USAGE;
	}
	return optind;
}

int
cmd_exit_status(enum bde_status st)
{
	switch (st) {
	case BDE_OK:
		return EXIT_OK;
	case BDE_ENOTFOUND:
		return EXIT_NOTFOUND;
	case BDE_EUSAGE:
	case BDE_ECONFIG:
		return EXIT_USAGE;
	case BDE_EAUTH:
	case BDE_EPERM:
		return EXIT_AUTH;
	case BDE_EUNREACH:
	case BDE_EPROTO:
	case BDE_ENOMEM:
		return EXIT_UNAVAILABLE;
	case BDE_EIO:
		return EXIT_IO;
	case BDE_EBADKEY:
		return EXIT_BADKEY;
	}
	return EXIT_UNAVAILABLE;
}

/*
 * stdout's buffer is ours: it holds passwords on their way out, so it is
 * wiped once flushed (cmd_finish).  Full buffering, 64 KiB, unless stdout
 * is a terminal (then a line at a time, for the guided commands).
 */
static char stdout_buf[1 << 16];

void
cmd_stdout_init(void)
{
	setvbuf(stdout, stdout_buf, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF,
	    sizeof(stdout_buf));
}

int
cmd_finish(int status)
{
	int bad = fflush(stdout) != 0 || ferror(stdout);

	explicit_bzero(stdout_buf, sizeof(stdout_buf));

	if (bad) {
		cmd_warn("cannot write to standard output: %s",
		    errno ? strerror(errno) : "write error");
		return EXIT_IO;
	}
	return status;
}
