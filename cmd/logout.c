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
run_logout(const struct cmd *self, int argc, char **argv)
{
	struct settings s;
	enum bde_status st;
	char *err = NULL;
	int status = EXIT_USAGE;

	settings_init(&s);
	status = cmd_begin(self, argc, argv, &s);
	if (status != CMD_GO)
		goto out;
	status = EXIT_USAGE;
	if (settings_finish(&s) < 0)
		goto out;
	if (settings_need_graph(&s, "logout") < 0)
		goto out;
	st = graph_logout(&s.graph, &err);
	if (st != BDE_OK) {
		cmd_warn("logout: %s", err != NULL ? err : "failed");
		status = cmd_exit_status(st);
		goto out;
	}
	cmd_warn("signed out of tenant '%s'", s.graph.tenant);
	status = cmd_finish(EXIT_FOUND);
out:
	free(err);
	settings_release(&s);
	return status;
}

const struct cmd cmd_logout = {
	"logout", "remove the cached Entra ID sign-in",
	logout_synopsis, logout_groups, run_logout
};
