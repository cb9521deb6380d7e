/*
 * cmd.h - the CLI layer: the subcommand table, option tables, exit
 * statuses and output helpers.  Only cmd/ prints, and only cmd/ decides
 * exit statuses (see cmd_exit_status()).
 *
 * A command is an entry of cmd_table (git's commands[]): its options are
 * a table whose entries carry their destination, its flags say what
 * shared setup main.c does before run() (settings, directories, secrets,
 * the audit requirement), and main.c checks stdout once after it.
 */
#ifndef BDEKEY_CMD_H
#define BDEKEY_CMD_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

#include "core/core.h"

/* Exit statuses: the contract documented in docs/bdekey.1. */
enum {
	EXIT_OK = 0,		/* found / valid / done */
	EXIT_NOTFOUND = 1,	/* nothing found / an invalid password /
				   declined */
	EXIT_USAGE = 2,		/* bad command line, settings or input */
	EXIT_AUTH = 3,		/* authentication or permission failure */
	EXIT_UNAVAILABLE = 4,	/* unreachable, timed out, protocol error */
	EXIT_BADKEY = 5,	/* a password fails its checksum or does
				   not unlock its volume */
	EXIT_DEVFAILED = 6	/* the device reports that an action (a
				   verified rotation) failed */
};
/*
 * A local failure: stdout, a terminal, a file, or the audit log could not
 * be written (so nothing was shown).  Same status as EXIT_UNAVAILABLE by
 * the contract; its own name says what happened.
 */
#define EXIT_IO EXIT_UNAVAILABLE

/* Where an option's value goes. */
enum cmd_opt_kind {
	OPTK_BOOL = 1,		/* int at dest = 1 */
	OPTK_STRING,		/* const char * at dest = the argument */
	OPTK_CHOICE,		/* int at dest = 1 + index in choices */
	OPTK_SETTING,		/* settings value: dest is an enum setting_id */
	OPTK_OPTIONAL		/* const char * at dest = the argument, or ""
				   when none follows ("--wait", "--wait 60",
				   "--wait=60"; a next word that starts with a
				   digit is the argument) */
};

/* Which struct an option's dest is an offset into. */
enum cmd_opt_base {
	OPTB_CMD = 0,		/* the command's own options (ctx->opts) */
	OPTB_SETTINGS		/* struct settings (ctx->s) */
};

/* One option: long name (no dashes), short letter or 0, argument name. */
struct cmd_option {
	const char *name;
	int key;			/* short letter, or 0 */
	const char *arg;		/* NULL when it takes no argument */
	const char *help;
	enum cmd_opt_kind kind;
	enum cmd_opt_base base;
	size_t dest;			/* offset (or setting id) */
	const char *const *choices;	/* OPTK_CHOICE: NULL-terminated */
};

/*
 * Option table entries.  The member's type is checked at compile time
 * (_Generic has no default), so a table cannot write an int into a
 * string.  T is the struct the member belongs to.
 */
#define CMD_DEST(T, m, type) _Generic(((T *)0)->m, type: offsetof(T, m))
#define OPT_BOOL(n, k, h, T, m) \
	{ n, k, NULL, h, OPTK_BOOL, OPTB_CMD, CMD_DEST(T, m, int), NULL }
#define OPT_STRING(n, k, a, h, T, m) \
	{ n, k, a, h, OPTK_STRING, OPTB_CMD, \
	  CMD_DEST(T, m, const char *), NULL }
#define OPT_CHOICE(n, k, a, h, T, m, c) \
	{ n, k, a, h, OPTK_CHOICE, OPTB_CMD, CMD_DEST(T, m, int), c }
#define OPT_OPTIONAL(n, k, a, h, T, m) \
	{ n, k, a, h, OPTK_OPTIONAL, OPTB_CMD, \
	  CMD_DEST(T, m, const char *), NULL }
#define OPT_END { NULL, 0, NULL, NULL, 0, 0, 0, NULL }

/* A titled group of options, shared by commands (LDAP, Graph, ...). */
struct cmd_optgroup {
	const char *title;
	const struct cmd_option *opts;	/* ends with OPT_END */
};

/* Setup main.c does before a command runs (git's RUN_SETUP & co). */
#define CMD_OPERANDS	0x01	/* takes operands (else one is an error) */
#define CMD_SETTINGS	0x02	/* environment, config file, typed settings */
#define CMD_BACKENDS	0x04	/* choose directories (--source), check them */
#define CMD_SECRETS	0x08	/* read the chosen directories' secrets */
#define CMD_AUDIT	0x10	/* reveals or acts: [audit] require_reason */
#define CMD_KEYVAULT	0x20	/* --source keyvault: Key Vault as a source */

/* Directories, for struct cmd.backends and cmd_ctx.want. */
#define BACKEND_AD	0x1
#define BACKEND_GRAPH	0x2

struct settings;

/* What a command gets: its options, the settings, its operands. */
struct cmd_ctx {
	const struct cmd *cmd;
	void *opts;		/* the command's options (opts_size bytes) */
	struct settings *s;
	int argc;		/* operands */
	char **argv;
	unsigned flags;		/* the command's CMD_* setup; check() may
				   clear what a run does not need */
	unsigned want;		/* BACKEND_* chosen by CMD_BACKENDS */
	int audited;		/* set by check(): this run reveals or acts */
};

/* One subcommand (git's commands[], tmux's cmd entries). */
struct cmd {
	const char *name;
	const char *summary;
	const char *const *synopsis;	/* usage lines after "bdekey NAME" */
	const struct cmd_optgroup *const *groups;	/* NULL-terminated */
	unsigned flags;			/* CMD_* */
	unsigned backends;		/* BACKEND_* it may use */
	size_t opts_size;		/* sizeof its options struct */
	/*
	 * Optional: check the parsed options (usage errors) before any
	 * setup; may set ctx->audited.  Returns EXIT_OK or a status.
	 */
	int (*check)(struct cmd_ctx *ctx);
	int (*run)(struct cmd_ctx *ctx);	/* returns the exit status */
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
extern const struct cmd cmd_volume;
extern const struct cmd cmd_unlock;
extern const struct cmd cmd_lock;
extern const struct cmd cmd_bek;
extern const struct cmd cmd_report;

const struct cmd *cmd_find(const char *name);

/* The top-level help: every command with its summary. */
void cmd_print_overview(FILE *fp);

/* Print the command's full help (synopsis, summary, options) to fp. */
void cmd_print_help(const struct cmd *c, FILE *fp);

/* Print "usage: ..." lines for c to fp. */
void cmd_print_usage(const struct cmd *c, FILE *fp);

/*
 * Parse argv (argv[0] is the command name) against ctx->cmd's option
 * groups (plus --help), storing each value at its destination in
 * ctx->opts or ctx->s.  Returns the index of the first operand,
 * CMD_PARSE_USAGE after a usage error (message printed), or
 * CMD_PARSE_HELP when --help was given (help printed to stdout).
 */
#define CMD_PARSE_USAGE (-1)
#define CMD_PARSE_HELP (-2)
int cmd_parse_options(struct cmd_ctx *ctx, int argc, char **argv);

/*
 * Server text for a terminal: control characters (C0, DEL, C1), bidi
 * controls and invalid UTF-8 become visible escapes (\x1b, \u202e), so
 * an escape sequence or a CR/LF from a server cannot act on the terminal
 * or forge a line.  cmd_safe returns a copy that stays valid for the next
 * 7 calls (a ring; single thread: cmd/ prints from one); never NULL.
 * cmd_safe_copy writes at most outlen bytes (NUL included) and returns
 * the full length (out may be NULL to measure).  cmd_safe_release frees
 * the ring (main.c, at exit).
 */
const char *cmd_safe(const char *s);

/*
 * Length of the valid UTF-8 sequence at s (n > 0 bytes left) with its
 * code point in *cp, or 0 when invalid (overlong, surrogate, > U+10FFFF,
 * cut short).
 */
size_t cmd_utf8_seq(const unsigned char *s, size_t n, unsigned *cp);
size_t cmd_safe_copy(const char *s, char *out, size_t outlen);
void cmd_safe_release(void);

/*
 * Server text for JSON output: a cJSON string (null for NULL) that is
 * valid UTF-8 whatever s holds (each invalid byte becomes U+FFFD; cJSON
 * escapes the controls).  cmd_json_string returns a new item (NULL when
 * out of memory); cmd_json_add adds it to obj as name: 0 or -1.
 */
cJSON *cmd_json_string(const char *s);
int cmd_json_add(cJSON *obj, const char *name, const char *s);

/*
 * "bdekey: " + message + newline on stderr; the message is made safe
 * (cmd_safe) as a whole, since it may quote a server.
 */
void cmd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exit status for a backend status. */
int cmd_exit_status(enum bde_status st);

/* Give stdout bdekey's own buffer (see cmd_finish); first thing in main. */
void cmd_stdout_init(void);

/*
 * Flush stdout, wipe its buffer (it held passwords) and check it: data
 * cut short by a full disk or a closed pipe is an error.  Returns status
 * unchanged, or EXIT_IO after printing why when stdout failed.  main.c
 * calls it once after every command.
 */
int cmd_finish(int status);

/*
 * Print the identity platform's sign-in message (URL and code) on
 * stderr, made safe for the terminal: login's, and rotate's when the
 * Intune permission needs a sign-in of its own.
 */
void cmd_show_signin(const char *message, void *arg);

/* Whether to colour output: stdout is a terminal and NO_COLOR is unset. */
int cmd_use_color(void);

/*
 * Read k's password out block by block (k->pw must be BDE_PW_READ):
 * validated first, a bad one is refused with its blocks named.  Returns
 * EXIT_OK or EXIT_BADKEY.
 */
int cmd_read_out(const struct bde_key *k);

#endif
