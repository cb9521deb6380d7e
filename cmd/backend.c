/*
 * backend.c - the table of directories (see backend.h).
 */
#include "cmd/backend.h"

#include <stdlib.h>

static int
ad_usable(const struct settings *s, const char *cmdname)
{
	char *err = NULL;

	if (!settings_ad_configured(s)) {
		cmd_warn("%s: no LDAP server configured: set --ldap-uri, "
		    "BDEKEY_LDAP_URI or URI in ldap.conf, or --domain to find "
		    "the domain controllers in DNS", cmdname);
		return -1;
	}
	/* refuse e.g. a cleartext simple bind before asking for a password */
	if (ad_check(&s->ad, &err) != BDE_OK) {
		cmd_warn("%s: %s", cmdname, err ? err : "bad LDAP settings");
		free(err);
		return -1;
	}
	return 0;
}

static enum bde_status
ad_open_settings(struct settings *s, struct bde_backend *out, char **errstr)
{
	return ad_open(&s->ad, out, errstr);
}

static int
graph_usable(const struct settings *s, const char *cmdname)
{
	return settings_need_graph(s, cmdname);
}

static enum bde_status
graph_open_settings(struct settings *s, struct bde_backend *out,
    char **errstr)
{
	return graph_open(&s->graph, out, errstr);
}

const struct backend backends[] = {
	{ "ad", BACKEND_AD, settings_ad_configured, ad_usable,
	  "Control Access on the recovery object", ad_open_settings },
	{ "graph", BACKEND_GRAPH, settings_graph_configured, graph_usable,
	  "BitlockerKey.Read.All and a role that may read keys",
	  graph_open_settings },
	{ NULL, 0, NULL, NULL, NULL, NULL }
};

const struct backend *
backend_get(unsigned bit)
{
	const struct backend *b;

	for (b = backends; b->name != NULL; b++)
		if (b->bit == bit)
			return b;
	abort();	/* a programming error */
}

int
backend_select(struct cmd_ctx *ctx)
{
	const struct settings *s = ctx->s;
	const char *name = ctx->cmd->name;
	unsigned mine = ctx->cmd->backends, want = 0;
	const struct backend *b;

	switch (s->source) {
	case SOURCE_KEYVAULT:
		/* lookup's own: no directory (cmd/kvlookup.c) */
		if (!(ctx->cmd->flags & CMD_KEYVAULT)) {
			cmd_warn("%s: --source keyvault is for lookup; bek "
			    "reads Key Vault", name);
			return -1;
		}
		ctx->want = 0;
		return 0;
	case SOURCE_AD:
		want = BACKEND_AD;
		break;
	case SOURCE_GRAPH:
		want = BACKEND_GRAPH;
		break;
	case SOURCE_ALL:
		want = mine;
		break;
	default:
		for (b = backends; b->name != NULL; b++)
			if ((mine & b->bit) && b->configured(s))
				want |= b->bit;
		/* a command of one directory needs that one */
		if (want == 0 && (mine & (mine - 1)) == 0)
			want = mine;
		break;
	}
	if (want & ~mine) {
		cmd_warn("%s: works with %s only", name, mine == BACKEND_AD ?
		    "Active Directory" : "Entra ID");
		return -1;
	}
	/* a vault alone is enough for a command that lists Key Vault */
	if (want == 0 && (ctx->cmd->flags & CMD_KEYVAULT) &&
	    s->kv.vault != NULL) {
		ctx->want = 0;
		return 0;
	}
	if (want == 0) {
		cmd_warn("%s: no directory configured: set BDEKEY_LDAP_URI for "
		    "Active Directory or BDEKEY_TENANT for Entra ID", name);
		return -1;
	}
	for (b = backends; b->name != NULL; b++)
		if ((want & b->bit) && b->usable(s, name) < 0)
			return -1;
	ctx->want = want;
	return 0;
}
