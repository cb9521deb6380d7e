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
	&cmd_volume,
	&cmd_unlock,
	&cmd_lock,
	&cmd_bek,
	&cmd_rotate,
	&cmd_report,
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
run_help(struct cmd_ctx *ctx)
{
	const struct cmd *c;

	if (ctx->argc == 0) {
		cmd_print_overview(stdout);
		return EXIT_OK;
	}
	if (ctx->argc > 1) {
		cmd_warn("help: too many arguments");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	c = cmd_find(ctx->argv[0]);
	if (c == NULL) {
		cmd_warn("help: '%s' is not a bdekey command", ctx->argv[0]);
		return EXIT_USAGE;
	}
	cmd_print_help(c, stdout);
	return EXIT_OK;
}

const struct cmd cmd_help = {
	.name = "help",
	.summary = "show help for bdekey or one command",
	.synopsis = help_synopsis,
	.groups = help_groups,
	.flags = CMD_OPERANDS,
	.run = run_help,
};
