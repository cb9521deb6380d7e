/*
 * main.c - bdekey's entry point: harden the process, dispatch to the
 * subcommand table (cmd/table.c).
 */
#include "cmd/cmd.h"

#include <locale.h>
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

int
main(int argc, char **argv)
{
	const struct cmd *c;

	harden();
	cmd_stdout_init();
	setlocale(LC_CTYPE, "");
	if (argc < 2) {
		cmd_print_overview(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cmd_print_overview(stdout);
		return cmd_finish(EXIT_FOUND);
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("bdekey %s\n", BDEKEY_VERSION);
		return cmd_finish(EXIT_FOUND);
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
	return c->run(c, argc - 1, argv + 1);
}
