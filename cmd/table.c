/*
 * table.c - the subcommand table and the help command.
 */
#include "cmd/cmd.h"

#include <string.h>

const struct cmd *const cmd_table[] = {
	&cmd_lookup,
	&cmd_check,
	&cmd_recover,
	&cmd_package,
	&cmd_rotate,
	&cmd_login,
	&cmd_logout,
	&cmd_config,
	&cmd_help,
	NULL
};

void
cmd_print_overview(FILE *fp)
{
	size_t i;

	fputs("usage: bdekey [--version] [--help] COMMAND [ARGS]\n\n"
	    "Find, check, read out and rotate BitLocker recovery passwords\n"
	    "kept in Active Directory or Microsoft Entra ID.\n\n"
	    "commands:\n", fp);
	for (i = 0; cmd_table[i] != NULL; i++)
		fprintf(fp, "  %-10s %s\n", cmd_table[i]->name,
		    cmd_table[i]->summary);
	fputs("\nRun 'bdekey help COMMAND' or 'bdekey COMMAND --help' for "
	    "a command's options;\nsee bdekey(1) for exit statuses and "
	    "examples.\n", fp);
}

static const struct cmd_optgroup *const help_groups[] = { NULL };
static const char *const help_synopsis[] = { "[COMMAND]", NULL };

static int
run_help(const struct cmd *self, int argc, char **argv)
{
	const struct cmd *c;
	int first;

	first = cmd_parse_options(self, argc, argv, NULL);
	if (first == -2)
		return cmd_finish(EXIT_FOUND);
	if (first < 0)
		return EXIT_USAGE;
	if (first == argc) {
		cmd_print_overview(stdout);
		return cmd_finish(EXIT_FOUND);
	}
	if (argc - first > 1) {
		cmd_warn("help: too many arguments");
		cmd_print_usage(self, stderr);
		return EXIT_USAGE;
	}
	c = cmd_find(argv[first]);
	if (c == NULL) {
		cmd_warn("help: '%s' is not a bdekey command", argv[first]);
		return EXIT_USAGE;
	}
	cmd_print_help(c, stdout);
	return cmd_finish(EXIT_FOUND);
}

const struct cmd cmd_help = {
	"help", "show help for bdekey or one command", help_synopsis,
	help_groups, run_help
};

