/*
 * login.c - `bdekey login`: sign a helpdesk user in to Entra ID with the
 * device code flow and cache the tokens, so lookups run without asking
 * again (the refresh token is used silently).
 */
#include "cmd/settings.h"

#include <stdlib.h>
#include <string.h>

static const struct cmd_optgroup *const login_groups[] = {
	&settings_graph_group, &settings_common_group, NULL
};
static const char *const login_synopsis[] = { "[--tenant TENANT]", NULL };

/*
 * The service's sign-in message (URL and code) on stderr.  It comes from
 * the network: control characters are not passed to the terminal.
 */
void
cmd_show_signin(const char *message, void *arg)
{
	(void)arg;
	fflush(stdout);
	fprintf(stderr, "%s\n", cmd_safe(message));
	fflush(stderr);
}

static int
run_login(struct cmd_ctx *ctx)
{
	struct settings *s = ctx->s;
	enum bde_status st;
	char *who = NULL, *err = NULL;
	int status = EXIT_OK;

	st = graph_login(&s->graph, cmd_show_signin, NULL, &who, &err);
	if (st != BDE_OK) {
		cmd_warn("login: %s", err != NULL ? err : "sign-in failed");
		status = cmd_exit_status(st);
		goto out;
	}
	cmd_warn("signed in to tenant '%s' as '%s'", s->graph.tenant,
	    who != NULL ? who : "an unnamed user");
out:
	free(who);
	free(err);
	return status;
}

const struct cmd cmd_login = {
	.name = "login",
	.summary = "sign in to Entra ID (device code) and cache the tokens",
	.synopsis = login_synopsis,
	.groups = login_groups,
	.flags = CMD_SETTINGS | CMD_BACKENDS | CMD_SECRETS,
	.backends = BACKEND_GRAPH,
	.run = run_login,
};
