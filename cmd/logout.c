/*
 * logout.c - `bdekey logout`: remove the cached Entra ID tokens for the
 * configured tenant, client and authority.
 */
#include "cmd/settings.h"

#include <stdlib.h>

static const struct cmd_optgroup *const logout_groups[] = {
	&settings_graph_group, &settings_common_group, NULL
};
static const char *const logout_synopsis[] = { "[--tenant TENANT]", NULL };

static int
run_logout(struct cmd_ctx *ctx)
{
	struct settings *s = ctx->s;
	enum bde_status st;
	char *err = NULL;
	int status = EXIT_OK;

	st = graph_logout(&s->graph, &err);
	if (st != BDE_OK) {
		cmd_warn("logout: %s", err != NULL ? err : "failed");
		status = cmd_exit_status(st);
		goto out;
	}
	cmd_warn("signed out of tenant '%s'", s->graph.tenant);
out:
	free(err);
	return status;
}

const struct cmd cmd_logout = {
	.name = "logout",
	.summary = "remove the cached Entra ID sign-in",
	.synopsis = logout_synopsis,
	.groups = logout_groups,
	.flags = CMD_SETTINGS | CMD_BACKENDS,
	.backends = BACKEND_GRAPH,
	.run = run_logout,
};
