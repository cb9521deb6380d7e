/*
 * settings.h - everything a command needs to open backends, gathered
 * before any operation runs ("parse, then operate").  Precedence:
 * options > environment > config file > libldap's ldap.conf > defaults.
 *
 * Every setting is a string until settings_finish() turns them into the
 * backends' typed settings; each remembers where it came from, for error
 * messages and `bdekey config`.
 */
#ifndef BDEKEY_SETTINGS_H
#define BDEKEY_SETTINGS_H

#include "cmd/cmd.h"
#include "graph/graph.h"
#include "keyvault/keyvault.h"
#include "ldap/ad.h"

#define SETTINGS_MAX_URIS 8

/* Where a setting came from. */
enum setting_origin {
	ORIGIN_UNSET = 0,
	ORIGIN_CONFIG,
	ORIGIN_ENV,
	ORIGIN_OPTION
};

/* Every setting, in the order `bdekey config` prints them. */
enum setting_id {
	SET_LDAP_URI,
	SET_LDAP_BASE,
	SET_LDAP_MECH,
	SET_LDAP_BIND_DN,
	SET_LDAP_PASSWORD_FILE,
	SET_LDAP_STARTTLS,
	SET_LDAP_PAGE_SIZE,
	SET_LDAP_TIMEOUT,
	SET_LDAP_DOMAIN,
	SET_LDAP_SITE,
	SET_LDAP_DNS_SERVER,
	SET_LDAP_FOREST,
	SET_GRAPH_TENANT,
	SET_GRAPH_CLIENT_ID,
	SET_GRAPH_CLOUD,
	SET_GRAPH_AUTHORITY,
	SET_GRAPH_URL,
	SET_GRAPH_CA_BUNDLE,
	SET_GRAPH_CLIENT_SECRET_FILE,
	SET_GRAPH_CLIENT_CERT,
	SET_GRAPH_CLIENT_KEY,
	SET_GRAPH_ASSERTION_ALG,
	SET_GRAPH_KEY_PERMISSION,
	SET_GRAPH_TIMEOUT,
	SET_KV_VAULT,
	SET_KV_SUBSCRIPTION,
	SET_KV_ARM,
	SET_KV_VAULT_RESOURCE,
	SET_AUDIT_LOG,
	SET_AUDIT_REQUIRE_REASON,
	SET_COUNT
};

/* One setting's name in each place it can be given. */
struct setting_def {
	const char *section;	/* config file section */
	const char *key;	/* config file key */
	const char *env;	/* environment variable, or NULL */
	const char *option;	/* long option, or NULL */
	const char *help;	/* what it is, for bdekey config */
	int secret_path;	/* names a file holding a secret */
};

extern const struct setting_def setting_defs[SET_COUNT];

struct settings {
	/* raw values and where they came from */
	const char *val[SET_COUNT];
	enum setting_origin origin[SET_COUNT];
	int line[SET_COUNT];		/* config file line */
	char *config_path;		/* the config file read, or NULL */
	char **config_strings;		/* storage behind config values */
	size_t nconfig_strings;
	const char *config_option;	/* --config */

	/* typed, after settings_finish */
	struct ad_settings ad;
	struct graph_settings graph;
	struct kv_settings kv;		/* sign-in settings are Graph's; the
					   client secret is set when read */
	const char *uris[SETTINGS_MAX_URIS + 1];
	int nuris;
	char *uri_copy;
	int require_reason;
	char *audit_log;		/* effective audit log path */
	char *cache_dir;		/* token cache directory, or NULL */
	char *domain_origin;		/* where [ldap] domain came from */

	/* secrets read by settings_load_secrets; owned, wiped at release */
	char *ldap_password;
	char *client_secret;

	/* what the command was asked, shared by the commands that have it */
	int source;			/* --source: 0 every configured one, else
					   1 + index in settings_sources */
	const char *reason;		/* --reason, for the audit log */
};

/* --source's choices: "ad", "graph", "all" (NULL-terminated). */
extern const char *const settings_sources[];
#define SOURCE_AUTO 0
#define SOURCE_AD 1
#define SOURCE_GRAPH 2
#define SOURCE_ALL 3
/* lookup's choices add "keyvault" (settings_sources_kv) */
extern const char *const settings_sources_kv[];
#define SOURCE_KEYVAULT 4

/* Option table entries whose value goes into struct settings. */
#define OPT_SETTING(n, k, a, h, id) \
	{ n, k, a, h, OPTK_SETTING, OPTB_SETTINGS, id, NULL }
#define OPT_S_STRING(n, k, a, h, m) \
	{ n, k, a, h, OPTK_STRING, OPTB_SETTINGS, \
	  CMD_DEST(struct settings, m, const char *), NULL }
#define OPT_SOURCE(h) \
	{ "source", 0, "SOURCE", h, OPTK_CHOICE, OPTB_SETTINGS, \
	  CMD_DEST(struct settings, source, int), settings_sources }
#define OPT_SOURCE_KV(h) \
	{ "source", 0, "SOURCE", h, OPTK_CHOICE, OPTB_SETTINGS, \
	  CMD_DEST(struct settings, source, int), settings_sources_kv }
#define OPT_REASON(h) OPT_S_STRING("reason", 'r', "TEXT", h, reason)

/*
 * Store an option's value for setting id (repeatable --ldap-uri adds a
 * URI; --starttls means yes; --timeout sets both timeouts).  Returns 0,
 * or -1 after printing why.
 */
int settings_option(struct settings *s, enum setting_id id, const char *arg);

/* Option groups a command lists in its table. */
extern const struct cmd_optgroup settings_ad_group;
extern const struct cmd_optgroup settings_graph_group;
extern const struct cmd_optgroup settings_common_group;
/* Key Vault: --vault, --subscription, --arm */
extern const struct cmd_optgroup settings_keyvault_group;
/* the Entra ID sign-in options of Graph, for commands without Graph */
extern const struct cmd_optgroup settings_signin_group;

/* Zero s. */
void settings_init(struct settings *s);

/*
 * After options: fill the rest from the environment and the config file
 * ($BDEKEY_CONFIG, --config, else $XDG_CONFIG_HOME/bdekey/config), check
 * every value and fill the typed settings.  Returns 0, or -1 after
 * printing an error (a bad config line names file and line).
 */
int settings_finish(struct settings *s);

/* Whether AD / Graph has enough settings to be tried. */
int settings_ad_configured(const struct settings *s);
int settings_graph_configured(const struct settings *s);

/*
 * The Key Vault settings with the client secret read so far (after
 * settings_load_secrets): a copy whose pointers borrow from s.
 */
struct kv_settings settings_keyvault(const struct settings *s);

/* 0 when Graph is configured, else -1 after saying how to configure it. */
int settings_need_graph(const struct settings *s, const char *cmdname);

/*
 * Read the secrets the settings point at: the LDAP bind password (file,
 * else a no-echo prompt on a TTY when the mechanism needs one) when
 * want_ad, the client secret file when want_graph.  Returns 0, or -1
 * after printing an error.
 */
int settings_load_secrets(struct settings *s, int want_ad, int want_graph);


/* "option --x", "BDEKEY_X", "FILE:LINE", "default": static or in buf. */
const char *settings_origin_str(const struct settings *s, enum setting_id id,
    char *buf, size_t len);

/* Wipe and free the secrets and everything else s owns. */
void settings_release(struct settings *s);

#endif
