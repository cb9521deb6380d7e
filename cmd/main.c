/*
 * main.c - bdekey's entry point: harden the process, find the command in
 * the table (cmd/table.c), parse its options, do the setup its flags ask
 * for, run it, and check stdout once at the end (git's run_builtin).
 */
#include "cmd/backend.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* Passwords and tokens live in this process: no core dumps, no ptrace. */
static void
harden(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/*
 * The shared setup the command's flags ask for, in the order a person
 * expects errors: settings, the audit requirement, the directories, then
 * (last, as it may prompt) their secrets.  Returns EXIT_OK or a status.
 */
static int
setup(struct cmd_ctx *ctx)
{
	const struct cmd *c = ctx->cmd;
	struct settings *s = ctx->s;
	unsigned flags = ctx->flags;

	if ((flags & CMD_SETTINGS) && settings_finish(s) < 0)
		return EXIT_USAGE;
	if ((flags & CMD_AUDIT) && ctx->audited && s->require_reason &&
	    (s->reason == NULL || s->reason[0] == '\0')) {
		cmd_warn("%s: a --reason (e.g. the ticket number) is required "
		    "([audit] require_reason)", c->name);
		return EXIT_USAGE;
	}
	if ((flags & CMD_BACKENDS) && backend_select(ctx) < 0)
		return EXIT_USAGE;
	if ((flags & CMD_SECRETS) &&
	    settings_load_secrets(s, (ctx->want & BACKEND_AD) != 0,
	    (ctx->want & BACKEND_GRAPH) != 0) < 0)
		return EXIT_USAGE;
	return EXIT_OK;
}

/* Parse, set up and run c with argv (argv[0] is its name). */
static int
run_command(const struct cmd *c, int argc, char **argv)
{
	struct settings s;
	struct cmd_ctx ctx;
	int first, status;

	settings_init(&s);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cmd = c;
	ctx.flags = c->flags;
	ctx.s = &s;
	ctx.opts = calloc(1, c->opts_size > 0 ? c->opts_size : 1);
	if (ctx.opts == NULL) {
		cmd_warn("out of memory");
		status = EXIT_IO;
		goto out;
	}
	first = cmd_parse_options(&ctx, argc, argv);
	if (first == CMD_PARSE_HELP) {
		status = EXIT_OK;
		goto out;
	}
	status = EXIT_USAGE;
	if (first < 0)
		goto out;
	if (!(c->flags & CMD_OPERANDS) && first < argc) {
		cmd_warn("%s: unexpected argument '%s'", c->name, argv[first]);
		cmd_print_usage(c, stderr);
		goto out;
	}
	ctx.argc = argc - first;
	ctx.argv = argv + first;
	ctx.audited = (c->flags & CMD_AUDIT) != 0;
	if (c->check != NULL && (status = c->check(&ctx)) != EXIT_OK)
		goto out;
	if ((status = setup(&ctx)) != EXIT_OK)
		goto out;
	status = c->run(&ctx);
out:
	if (ctx.opts != NULL) {
		explicit_bzero(ctx.opts, c->opts_size);
		free(ctx.opts);
	}
	settings_release(&s);
	return status;
}

int
main(int argc, char **argv)
{
	const struct cmd *c;
	int status;

	harden();
	cmd_stdout_init();
	setlocale(LC_CTYPE, "");
	if (argc < 2) {
		cmd_print_overview(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cmd_print_overview(stdout);
		return cmd_finish(EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("bdekey %s\n", BDEKEY_VERSION);
		return cmd_finish(EXIT_OK);
	}
	if (argv[1][0] == '-') {
		cmd_warn("unknown option '%s'", argv[1]);
		cmd_print_overview(stderr);
		return EXIT_USAGE;
	}
	c = cmd_find(argv[1]);
	if (c == NULL) {
		cmd_warn("'%s' is not a bdekey command; see 'bdekey --help'",
		    argv[1]);
		return EXIT_USAGE;
	}
	status = run_command(c, argc - 1, argv + 1);
	/* one place checks that everything written really went out */
	status = cmd_finish(status);
	cmd_safe_release();
	return status;
}
