/*
 * backend.h - the directories bdekey can search, in one table: how to
 * tell whether each is configured, check its settings before the network
 * (and before a password prompt), and open it (core.h's interface).
 */
#ifndef BDEKEY_BACKEND_H
#define BDEKEY_BACKEND_H

#include "cmd/settings.h"

struct backend {
	const char *name;		/* "ad", "graph" */
	unsigned bit;			/* BACKEND_* */
	/* whether its settings are there (it is tried by default) */
	int (*configured)(const struct settings *s);
	/* check its settings; 0, or -1 after printing what is wrong */
	int (*usable)(const struct settings *s, const char *cmdname);
	/* the right a reader needs for passwords, for "no permission" */
	const char *read_right;
	/* connect and sign in: core.h's bde_backend */
	enum bde_status (*open)(struct settings *s, struct bde_backend *out,
	    char **errstr);
};

/* Every backend, in the order results are merged; ends with name NULL. */
extern const struct backend backends[];

/* The backend with bit (BACKEND_*); never NULL for a known bit. */
const struct backend *backend_get(unsigned bit);

/*
 * Choose the directories for ctx (main.c, CMD_BACKENDS): s->source, else
 * every configured one of the command's, else the command's only one;
 * each checked with usable().  Sets ctx->want.  Returns 0, or -1 after
 * printing why (a usage error).
 */
int backend_select(struct cmd_ctx *ctx);

#endif
