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
		return "none: AD is not searched (unless --domain, --site, "
		    "--dns-server, --forest or --source ad: DNS finds the "
		    "domain controllers)";
	case SET_LDAP_DOMAIN:
		return "the Kerberos ticket's realm, else krb5.conf's, else "
		    "ldap.conf BASE";
	case SET_LDAP_SITE:
		return "none: every domain controller of the domain";
	case SET_LDAP_DNS_SERVER:
		return "resolv.conf's";
	case SET_LDAP_FOREST:
		return "when DNS found the servers and the forest has more "
		    "than one domain";
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
	case SET_KV_VAULT:
		return "none: Key Vault is not used (bek needs one)";
	case SET_KV_SUBSCRIPTION:
		return "none: bek --vm needs one (or a VM resource ID)";
	case SET_KV_ARM:
		return "the cloud's (https://management.azure.com)";
	case SET_KV_VAULT_RESOURCE:
		return "the cloud's (https://vault.azure.net)";
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

/*
 * With no URI configured and discovery on: the domain controllers DNS
 * finds, in the order they are tried, and why each (ldap/discover.c).
 * Returns EXIT_OK, or the status of a failed discovery (said on stderr).
 */
static int
print_discovery(const struct settings *s)
{
	struct ad_discovery d;
	char *err = NULL;
	enum bde_status st;
	size_t i, j;

	if (s->nuris > 0 || ad_default_uri_configured() || !s->ad.discover)
		return EXIT_OK;
	st = ad_discover(&s->ad, &d, &err);
	if (st != BDE_OK) {
		cmd_warn("config: %s", err ? err : "discovery failed");
		free(err);
		return cmd_exit_status(st);
	}
	printf("\n# no URI configured: domain controllers from DNS\n");
	printf("# domain %s  # %s\n", cmd_safe(d.domain), cmd_safe(d.origin));
	if (d.note != NULL)
		printf("# %s\n", cmd_safe(d.note));
	printf("# SRV %s%s%s, tried in this order (RFC 2782):\n",
	    cmd_safe(d.srv), s->ad.dns_server ? " from " : "",
	    s->ad.dns_server ? cmd_safe(s->ad.dns_server) : "");
	for (i = 0; i < d.n; i++) {
		const struct ad_dc *dc = &d.dcs[i];

		printf("#   %s  # priority %u, weight %u, port %u", cmd_safe(
		    dc->uri), dc->prio, dc->weight, dc->port);
		for (j = 0; j < dc->naddr; j++)
			printf("%s%s", j ? ", " : ", address ",
			    cmd_safe(dc->addr[j]));
		printf("\n");
	}
	if (s->ad.forest > 0)
		printf("# forest-wide: the Global Catalog (_gc._tcp.<forest "
		    "root>) finds objects, each domain's DC reads passwords\n");
	ad_discovery_free(&d);
	return EXIT_OK;
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
	return print_discovery(s);
}

const struct cmd cmd_config = {
	.name = "config",
	.summary = "print the effective settings and where each came from",
	.synopsis = config_synopsis,
	.groups = config_groups,
	.flags = CMD_SETTINGS,
	.run = run_config,
};
