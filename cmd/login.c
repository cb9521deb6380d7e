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
static void
show_message(const char *message, void *arg)
{
	const unsigned char *p;

	(void)arg;
	fflush(stdout);
	for (p = (const unsigned char *)message; *p != '\0'; p++)
		fputc(*p < 0x20 || *p == 0x7f ? ' ' : *p, stderr);
	fputc('\n', stderr);
	fflush(stderr);
}

static int
run_login(const struct cmd *self, int argc, char **argv)
{
	struct settings s;
	enum bde_status st;
	char *who = NULL, *err = NULL;
	int status = EXIT_USAGE;

	settings_init(&s);
	status = cmd_begin(self, argc, argv, &s);
	if (status != CMD_GO)
		goto out;
	status = EXIT_USAGE;
	if (settings_finish(&s) < 0)
		goto out;
	if (settings_need_graph(&s, "login") < 0)
		goto out;
	if (settings_load_secrets(&s, 0, 1) < 0)
		goto out;
	st = graph_login(&s.graph, show_message, NULL, &who, &err);
	if (st != BDE_OK) {
		cmd_warn("login: %s", err != NULL ? err : "sign-in failed");
		status = cmd_exit_status(st);
		goto out;
	}
	cmd_warn("signed in to tenant '%s' as '%s'", s.graph.tenant,
	    who != NULL ? who : "an unnamed user");
	status = cmd_finish(EXIT_FOUND);
out:
	free(who);
	free(err);
	settings_release(&s);
	return status;
}

const struct cmd cmd_login = {
	"login", "sign in to Entra ID (device code) and cache the tokens",
	login_synopsis, login_groups, run_login
};
