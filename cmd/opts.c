/*
 * opts.c - option tables to getopt_long, help text, shared output helpers.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELP_KEY 'h'
#define MAX_OPTIONS 64

static const struct cmd_option help_options[] = {
	{ "help", HELP_KEY, NULL, "show this help and exit" },
	{ NULL, 0, NULL, NULL }
};

void
cmd_warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bdekey: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
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

	if (o->key > 0 && o->key < 256)
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
	print_option(&help_options[0], fp);
	fputs("\nSee bdekey(1) for exit statuses and examples.\n", fp);
}

/* Append one table's options to the getopt arrays. */
static int
add_options(const struct cmd_option *opts, struct option *lo, size_t *n,
    char *shorts, size_t *ns)
{
	const struct cmd_option *o;

	for (o = opts; o->name != NULL; o++) {
		if (*n + 1 >= MAX_OPTIONS || *ns + 3 >= MAX_OPTIONS * 3)
			return -1;
		lo[*n].name = o->name;
		lo[*n].has_arg = o->arg ? required_argument : no_argument;
		lo[*n].flag = NULL;
		lo[*n].val = o->key;
		(*n)++;
		if (o->key > 0 && o->key < 256) {
			shorts[(*ns)++] = (char)o->key;
			if (o->arg)
				shorts[(*ns)++] = ':';
		}
	}
	return 0;
}

int
cmd_parse_options(const struct cmd *c, int argc, char **argv, void *settings)
{
	struct option lo[MAX_OPTIONS];
	char shorts[MAX_OPTIONS * 3];
	size_t n = 0, ns = 0, i;
	int ch;

	/* '+': stop at the first operand; ':' report missing arguments */
	shorts[ns++] = '+';
	shorts[ns++] = ':';
	for (i = 0; c->groups[i] != NULL; i++)
		if (add_options(c->groups[i]->opts, lo, &n, shorts, &ns) < 0)
			abort();	/* a programming error in a table */
	if (add_options(help_options, lo, &n, shorts, &ns) < 0)
		abort();
	memset(&lo[n], 0, sizeof(lo[n]));
	shorts[ns] = '\0';

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct cmd_option *o;

		if (ch == HELP_KEY) {
			cmd_print_help(c, stdout);
			return -2;
		}
		if (ch == '?' || ch == ':') {
			const char *what = argv[optind - 1];

			if (optopt > 0 && optopt < 256)
				cmd_warn("%s: option '-%c' %s", c->name, optopt,
				    ch == ':' ? "needs an argument" :
				    "is unknown");
			else
				cmd_warn("%s: option '%s' %s", c->name, what,
				    ch == ':' ? "needs an argument" :
				    "is unknown");
			cmd_print_usage(c, stderr);
			return -1;
		}
		for (i = 0; c->groups[i] != NULL; i++) {
			for (o = c->groups[i]->opts; o->name != NULL; o++)
				if (o->key == ch)
					break;
			if (o->name != NULL)
				break;
		}
		if (c->groups[i] == NULL)
			abort();
		if (c->groups[i]->apply(settings, ch, optarg) < 0)
			return -1;
	}
	return optind;
}

int
cmd_begin(const struct cmd *c, int argc, char **argv, void *settings)
{
	int first = cmd_parse_options(c, argc, argv, settings);

	if (first == -2)
		return cmd_finish(EXIT_FOUND);
	if (first < 0)
		return EXIT_USAGE;
	if (first < argc) {
		cmd_warn("%s: unexpected argument '%s'", c->name, argv[first]);
		cmd_print_usage(c, stderr);
		return EXIT_USAGE;
	}
	return CMD_GO;
}

int
cmd_exit_status(enum bde_status st)
{
	switch (st) {
	case BDE_OK:
		return EXIT_FOUND;
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
	case BDE_EIO:
		return EXIT_UNREACH;
	case BDE_EBADKEY:
		return EXIT_BADSUM;
	}
	return EXIT_UNREACH;
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
		return EXIT_UNREACH;
	}
	return status;
}
