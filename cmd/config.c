/*
 * config.c - `bdekey config`: the effective settings and where each came
 * from.  Secrets are never printed: only the files that hold them.
 */
#include "cmd/settings.h"

#include <stdlib.h>
#include <string.h>

static const struct cmd_optgroup *const config_groups[] = {
	&settings_ad_group, &settings_graph_group, &settings_common_group, NULL
};
static const char *const config_synopsis[] = { "[options]", NULL };

/* What applies when a setting is not set. */
static const char *
default_text(enum setting_id id)
{
	switch (id) {
	case SET_LDAP_URI:
		return "none: AD is not searched";
	case SET_LDAP_BASE:
		return "the server's defaultNamingContext";
	case SET_LDAP_MECH:
		return "GSSAPI";
	case SET_LDAP_STARTTLS:
		return "no";
	case SET_LDAP_PAGE_SIZE:
		return "500";
	case SET_LDAP_TIMEOUT:
		return "10";
	case SET_GRAPH_TENANT:
		return "none: Entra ID is not searched";
	case SET_GRAPH_CLIENT_ID:
		return GRAPH_DEFAULT_CLIENT_ID;
	case SET_GRAPH_CLOUD:
		return "global";
	case SET_GRAPH_AUTHORITY:
	case SET_GRAPH_URL:
		return "the cloud's";
	case SET_GRAPH_KEY_PERMISSION:
		return "Read.All";
	case SET_GRAPH_ASSERTION_ALG:
		return "PS256";
	case SET_GRAPH_TIMEOUT:
		return "30";
	case SET_AUDIT_REQUIRE_REASON:
		return "no";
	default:
		return "not set";
	}
}

/* libldap settings bdekey sets itself, whatever the configuration says. */
static const char *
ldapconf_override(const char *key)
{
	static const struct {
		const char *key, *note;
	} notes[] = {
		{ "TLS_REQCERT", "bdekey always demands a valid certificate" },
		{ "REFERRALS", "bdekey never follows referrals" },
		{ "SASL_SECPROPS", "bdekey sets them for the transport" },
		{ "SASL_MECH", "bdekey uses mech (GSSAPI by default)" },
		{ "TIMEOUT", "bdekey uses timeout" },
		{ "NETWORK_TIMEOUT", "bdekey uses timeout" },
		{ "VERSION", "bdekey uses LDAPv3" },
	};
	size_t i;

	for (i = 0; i < sizeof(notes) / sizeof(notes[0]); i++)
		if (strcmp(key, notes[i].key) == 0)
			return notes[i].note;
	return NULL;
}

/*
 * The rest of libldap's own settings that are set, each with where it
 * came from (uri and base are shown with the settings above).
 */
static void
print_ldapconf(void)
{
	const char *key, *note;
	char *value, *origin;
	size_t i;
	int head = 0;

	for (i = 0; (key = ad_ldapconf_key(i)) != NULL; i++) {
		if (strcmp(key, "URI") == 0 || strcmp(key, "BASE") == 0 ||
		    strcmp(key, "HOST") == 0 ||
		    ad_ldapconf_origin(key, &value, &origin) < 0)
			continue;
		if (!head)
			printf("\n# libldap's own settings (ldap.conf, ~/ldaprc, "
			    "~/.ldaprc, LDAP* variables; never ./ldaprc):\n");
		head = 1;
		note = ldapconf_override(key);
		printf("#   %s %s  # %s%s%s%s\n", key, value, origin,
		    note ? " (" : "", note ? note : "", note ? ")" : "");
		free(value);
		free(origin);
	}
}

static int
run_config(struct cmd_ctx *ctx)
{
	const struct settings *s = ctx->s;
	const char *section = "";
	char buf[600], *ldapconf = NULL, *origin;
	int id;

	printf("# config file: %s\n", s->config_path ? s->config_path :
	    "none found");
	for (id = 0; id < SET_COUNT; id++) {
		const struct setting_def *d = &setting_defs[id];

		if (strcmp(section, d->section) != 0) {
			section = d->section;
			printf("\n[%s]\n", section);
		}
		if (id == SET_AUDIT_LOG) {
			printf("%s = %s  # %s\n", d->key, s->audit_log,
			    s->origin[id] ? settings_origin_str(s,
			    (enum setting_id)id, buf, sizeof(buf)) : "default");
			continue;
		}
		if (s->origin[id] != ORIGIN_UNSET) {
			printf("%s = %s  # %s\n", d->key, s->val[id],
			    settings_origin_str(s, (enum setting_id)id, buf,
			    sizeof(buf)));
			continue;
		}
		/* libldap's own configuration fills uri and base */
		if ((id == SET_LDAP_URI || id == SET_LDAP_BASE) &&
		    (ldapconf = ad_ldapconf(id == SET_LDAP_URI ? "URI" :
		    "BASE")) != NULL) {
			origin = NULL;
			ad_ldapconf_origin(id == SET_LDAP_URI ? "URI" : "BASE",
			    NULL, &origin);
			printf("%s = %s  # %s\n", d->key, ldapconf,
			    origin ? origin : "libldap");
			free(origin);
			free(ldapconf);
			ldapconf = NULL;
			continue;
		}
		printf("# %s: %s\n", d->key, default_text((enum setting_id)id));
	}
	print_ldapconf();
	return EXIT_OK;
}

const struct cmd cmd_config = {
	.name = "config",
	.summary = "print the effective settings and where each came from",
	.synopsis = config_synopsis,
	.groups = config_groups,
	.flags = CMD_SETTINGS,
	.run = run_config,
};
