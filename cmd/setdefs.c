/*
 * setdefs.c - the settings bdekey knows (their config-file sections and
 * keys, environment variables, defaults) and the option tables that set
 * them, shared by the commands (cmd/settings.c reads and checks them).
 */
#include "cmd/settings.h"

#include <stddef.h>

const struct setting_def setting_defs[SET_COUNT] = {
	[SET_LDAP_URI] = { "ldap", "uri", "BDEKEY_LDAP_URI", "ldap-uri",
	    "LDAP servers, tried in order", 0 },
	[SET_LDAP_BASE] = { "ldap", "base", "BDEKEY_LDAP_BASE", "base",
	    "search base", 0 },
	[SET_LDAP_MECH] = { "ldap", "mech", "BDEKEY_LDAP_MECH", "mech",
	    "bind mechanism", 0 },
	[SET_LDAP_BIND_DN] = { "ldap", "bind_dn", "BDEKEY_LDAP_BINDDN",
	    "bind-dn", "bind DN", 0 },
	[SET_LDAP_PASSWORD_FILE] = { "ldap", "password_file",
	    "BDEKEY_LDAP_PASSWORD_FILE", "password-file",
	    "bind password file", 1 },
	[SET_LDAP_STARTTLS] = { "ldap", "starttls", "BDEKEY_LDAP_STARTTLS",
	    "starttls", "StartTLS on ldap://", 0 },
	[SET_LDAP_PAGE_SIZE] = { "ldap", "page_size", "BDEKEY_LDAP_PAGE_SIZE",
	    "page-size", "entries per page", 0 },
	[SET_LDAP_TIMEOUT] = { "ldap", "timeout", "BDEKEY_TIMEOUT", "timeout",
	    "seconds per network step", 0 },
	[SET_LDAP_DOMAIN] = { "ldap", "domain", "BDEKEY_AD_DOMAIN", "domain",
	    "domain whose DCs are found in DNS", 0 },
	[SET_LDAP_SITE] = { "ldap", "site", "BDEKEY_AD_SITE", "site",
	    "AD site whose DCs come first", 0 },
	[SET_LDAP_DNS_SERVER] = { "ldap", "dns_server", "BDEKEY_DNS_SERVER",
	    "dns-server", "DNS server for discovery", 0 },
	[SET_LDAP_FOREST] = { "ldap", "forest", "BDEKEY_AD_FOREST", "forest",
	    "lookups through the Global Catalog", 0 },
	[SET_GRAPH_TENANT] = { "graph", "tenant", "BDEKEY_TENANT", "tenant",
	    "Entra tenant", 0 },
	[SET_GRAPH_CLIENT_ID] = { "graph", "client_id", "BDEKEY_CLIENT_ID",
	    "client-id", "application (client) ID", 0 },
	[SET_GRAPH_CLOUD] = { "graph", "cloud", "BDEKEY_CLOUD", "cloud",
	    "national cloud", 0 },
	[SET_GRAPH_AUTHORITY] = { "graph", "authority", "BDEKEY_AUTHORITY",
	    "authority", "identity platform URL", 0 },
	[SET_GRAPH_URL] = { "graph", "graph", "BDEKEY_GRAPH", "graph",
	    "Microsoft Graph URL", 0 },
	[SET_GRAPH_CA_BUNDLE] = { "graph", "ca_bundle", "BDEKEY_CA_BUNDLE",
	    "ca-bundle", "extra CA certificates", 0 },
	[SET_GRAPH_CLIENT_SECRET_FILE] = { "graph", "client_secret_file",
	    "BDEKEY_CLIENT_SECRET_FILE", "client-secret-file",
	    "client secret file", 1 },
	[SET_GRAPH_CLIENT_CERT] = { "graph", "client_cert", "BDEKEY_CLIENT_CERT",
	    "client-cert", "client certificate", 0 },
	[SET_GRAPH_CLIENT_KEY] = { "graph", "client_key", "BDEKEY_CLIENT_KEY",
	    "client-key", "client certificate key", 1 },
	[SET_GRAPH_ASSERTION_ALG] = { "graph", "assertion_alg",
	    "BDEKEY_ASSERTION_ALG", "assertion-alg",
	    "client assertion algorithm", 0 },
	[SET_GRAPH_KEY_PERMISSION] = { "graph", "key_permission",
	    "BDEKEY_KEY_PERMISSION", "key-permission",
	    "permission asked for to read keys", 0 },
	[SET_GRAPH_TIMEOUT] = { "graph", "timeout", "BDEKEY_TIMEOUT", "timeout",
	    "seconds per request", 0 },
	[SET_KV_VAULT] = { "keyvault", "vault", "BDEKEY_VAULT", "vault",
	    "Key Vault name or URL", 0 },
	[SET_KV_SUBSCRIPTION] = { "keyvault", "subscription",
	    "BDEKEY_SUBSCRIPTION", "subscription", "Azure subscription ID", 0 },
	[SET_KV_ARM] = { "keyvault", "arm", "BDEKEY_ARM", "arm",
	    "Azure Resource Manager URL", 0 },
	[SET_KV_VAULT_RESOURCE] = { "keyvault", "vault_resource",
	    "BDEKEY_VAULT_RESOURCE", NULL, "token resource of Key Vault", 0 },
	[SET_AUDIT_LOG] = { "audit", "log", "BDEKEY_AUDIT_LOG", NULL,
	    "audit log", 0 },
	[SET_AUDIT_REQUIRE_REASON] = { "audit", "require_reason",
	    "BDEKEY_REQUIRE_REASON", NULL, "--reason required", 0 },
};

const char *const settings_sources[] = { "ad", "graph", "all", NULL };
const char *const settings_sources_kv[] = { "ad", "graph", "all", "keyvault",
	NULL };

static const struct cmd_option ad_options[] = {
	OPT_SETTING("ldap-uri", 0, "URI",
	    "LDAP server; repeat for failover in order", SET_LDAP_URI),
	OPT_SETTING("base", 0, "DN", "search base (default: the domain)",
	    SET_LDAP_BASE),
	OPT_SETTING("mech", 0, "MECH", "GSSAPI (default), SIMPLE, or a "
	    "SASL mechanism", SET_LDAP_MECH),
	OPT_SETTING("bind-dn", 0, "DN", "DN for a simple bind",
	    SET_LDAP_BIND_DN),
	OPT_SETTING("password-file", 0, "FILE",
	    "read the bind password from FILE (mode 0600)",
	    SET_LDAP_PASSWORD_FILE),
	OPT_SETTING("starttls", 0, NULL, "use StartTLS on ldap:// URIs",
	    SET_LDAP_STARTTLS),
	OPT_SETTING("page-size", 0, "N", "entries per page of a search "
	    "(default 500)", SET_LDAP_PAGE_SIZE),
	OPT_SETTING("domain", 0, "DOMAIN", "with no URI: find DOMAIN's "
	    "controllers in DNS (default: the Kerberos realm)",
	    SET_LDAP_DOMAIN),
	OPT_SETTING("site", 0, "SITE", "with no URI: the AD site whose "
	    "controllers come first", SET_LDAP_SITE),
	OPT_SETTING("dns-server", 0, "ADDR[:PORT]", "with no URI: ask this "
	    "DNS server (IPv4), not resolv.conf's", SET_LDAP_DNS_SERVER),
	OPT_SETTING("forest", 0, NULL, "search every domain of the forest "
	    "through the Global Catalog", SET_LDAP_FOREST),
	OPT_END
};

/* Graph's sign-in options: Graph's own group, and Key Vault's commands. */
#define SIGNIN_OPTIONS \
	OPT_SETTING("tenant", 0, "TENANT", "Entra tenant name or ID", \
	    SET_GRAPH_TENANT), \
	OPT_SETTING("client-id", 0, "ID", "application (client) ID", \
	    SET_GRAPH_CLIENT_ID), \
	OPT_SETTING("cloud", 0, "CLOUD", "global, usgov, dod or china", \
	    SET_GRAPH_CLOUD), \
	OPT_SETTING("authority", 0, "URL", "identity platform base URL", \
	    SET_GRAPH_AUTHORITY), \
	OPT_SETTING("ca-bundle", 0, "FILE", "extra CA certificates (PEM)", \
	    SET_GRAPH_CA_BUNDLE), \
	OPT_SETTING("client-secret-file", 0, "FILE", \
	    "sign in as the app with the secret in FILE", \
	    SET_GRAPH_CLIENT_SECRET_FILE), \
	OPT_SETTING("client-cert", 0, "FILE", \
	    "sign in as the app with this certificate (PEM)", \
	    SET_GRAPH_CLIENT_CERT), \
	OPT_SETTING("client-key", 0, "FILE", \
	    "private key of --client-cert (PEM)", SET_GRAPH_CLIENT_KEY), \
	OPT_SETTING("assertion-alg", 0, "ALG", \
	    "client assertion algorithm: PS256 (default) or RS256", \
	    SET_GRAPH_ASSERTION_ALG)

static const struct cmd_option graph_options[] = {
	SIGNIN_OPTIONS,
	OPT_SETTING("graph", 0, "URL", "Microsoft Graph base URL",
	    SET_GRAPH_URL),
	OPT_SETTING("key-permission", 0, "PERM", "Read.All (default) or "
	    "ReadBasic.All: the BitlockerKey permission lookups ask for",
	    SET_GRAPH_KEY_PERMISSION),
	OPT_END
};

static const struct cmd_option keyvault_options[] = {
	OPT_SETTING("vault", 0, "NAME|URL", "the Key Vault: a name (NAME."
	    "vault.azure.net in the cloud) or a URL", SET_KV_VAULT),
	OPT_SETTING("subscription", 0, "ID", "Azure subscription of the VM "
	    "(--vm)", SET_KV_SUBSCRIPTION),
	OPT_SETTING("arm", 0, "URL", "Azure Resource Manager base URL "
	    "(default: the cloud's)", SET_KV_ARM),
	OPT_END
};

/* Graph's sign-in options, without what only Graph uses. */
static const struct cmd_option signin_options[] = {
	SIGNIN_OPTIONS,
	OPT_END
};

static const struct cmd_option common_options[] = {
	/* one option, two settings: settings_option sets both */
	OPT_SETTING("timeout", 0, "SECONDS",
	    "network timeout for each step (default 10 LDAP, 30 HTTPS)",
	    SET_LDAP_TIMEOUT),
	OPT_S_STRING("config", 0, "FILE", "read settings from FILE",
	    config_option),
	OPT_END
};

const struct cmd_optgroup settings_ad_group = {
	"Active Directory (LDAP)", ad_options
};
const struct cmd_optgroup settings_graph_group = {
	"Microsoft Graph", graph_options
};
const struct cmd_optgroup settings_common_group = {
	"settings", common_options
};
const struct cmd_optgroup settings_keyvault_group = {
	"Azure Key Vault", keyvault_options
};
const struct cmd_optgroup settings_signin_group = {
	"Entra ID sign-in", signin_options
};
