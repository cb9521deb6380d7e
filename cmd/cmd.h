/*
 * cmd.h - the CLI layer: the subcommand table, option tables, exit
 * statuses and output helpers.  Only cmd/ prints, and only cmd/ decides
 * exit statuses (see cmd_exit_status()).
 */
#ifndef BDEKEY_CMD_H
#define BDEKEY_CMD_H

#include <stdio.h>

#include "core/core.h"

/* Exit statuses: the contract documented in docs/bdekey.1. */
enum {
	EXIT_FOUND = 0,		/* found / valid / done */
	EXIT_NOTFOUND = 1,	/* nothing found / an invalid password */
	EXIT_USAGE = 2,		/* bad command line or input */
	EXIT_AUTH = 3,		/* authentication or permission failure */
	EXIT_UNREACH = 4,	/* unreachable, protocol or local I/O error */
	EXIT_BADSUM = 5		/* a found password fails its checksum */
};

/* One option: long name (no dashes), short letter or 0, argument name. */
struct cmd_option {
	const char *name;
	int key;		/* short letter, or a value >= 256 */
	const char *arg;	/* NULL when the option takes no argument */
	const char *help;
};

/*
 * A group of options shared by commands (LDAP settings, Graph settings,
 * ...).  apply stores one option in the command's settings struct; it
 * returns 0, or -1 after printing an error.
 */
struct cmd_optgroup {
	const char *title;
	const struct cmd_option *opts;	/* ends with { NULL } */
	int (*apply)(void *settings, int key, const char *arg);
};

/* One subcommand (git's commands[], tmux's cmd entries). */
struct cmd {
	const char *name;
	const char *summary;
	const char *const *synopsis;	/* usage lines after "bdekey NAME" */
	const struct cmd_optgroup *const *groups;	/* NULL-terminated */
	int (*run)(const struct cmd *self, int argc, char **argv);
};

/* The table, NULL-terminated, in the order help lists it. */
extern const struct cmd *const cmd_table[];

extern const struct cmd cmd_check;
extern const struct cmd cmd_help;
extern const struct cmd cmd_lookup;
extern const struct cmd cmd_config;
extern const struct cmd cmd_recover;
extern const struct cmd cmd_login;
extern const struct cmd cmd_logout;
extern const struct cmd cmd_rotate;
extern const struct cmd cmd_package;

const struct cmd *cmd_find(const char *name);

/* The top-level help: every command with its summary. */
void cmd_print_overview(FILE *fp);

/* Print the command's full help (synopsis, summary, options) to fp. */
void cmd_print_help(const struct cmd *c, FILE *fp);

/* Print "usage: ..." lines for c to fp. */
void cmd_print_usage(const struct cmd *c, FILE *fp);

/*
 * Parse argv against c's option groups (plus --help), calling each
 * group's apply with settings.  Returns the index of the first operand,
 * -1 after a usage error (message printed), or -2 when --help was given
 * (help printed to stdout).
 */
int cmd_parse_options(const struct cmd *c, int argc, char **argv,
    void *settings);

/*
 * For a command that takes no operands: parse its options, print help
 * or a usage error.  Returns CMD_GO to go on, else the exit status to
 * return at once (0 after --help, EXIT_USAGE).
 */
#define CMD_GO (-1)
int cmd_begin(const struct cmd *c, int argc, char **argv, void *settings);

/* "bdekey: " + message + newline on stderr. */
void cmd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exit status for a backend status. */
int cmd_exit_status(enum bde_status st);

/* Give stdout bdekey's own buffer (see cmd_finish); first thing in main. */
void cmd_stdout_init(void);

/*
 * Flush stdout, wipe its buffer (it held passwords) and check it: data
 * cut short by a full disk or a closed pipe is an error.  Returns status unchanged, or EXIT_UNREACH after
 * printing why when stdout failed.
 */
int cmd_finish(int status);

/* Whether to colour output: stdout is a terminal and NO_COLOR is unset. */
int cmd_use_color(void);

/*
 * Read k's password out block by block (k->pw must be BDE_PW_READ):
 * validated first, a bad one is refused with its blocks named.  Returns
 * EXIT_FOUND or EXIT_BADSUM.
 */
int cmd_read_out(const struct bde_key *k);

#endif
