/*
 * settings.h - everything a command needs to open backends, gathered
 * from options, the environment and (later) the config file before any
 * operation runs ("parse, then operate").
 */
#ifndef BDEKEY_SETTINGS_H
#define BDEKEY_SETTINGS_H

#include "cmd/cmd.h"
#include "graph/graph.h"
#include "ldap/ad.h"

#define SETTINGS_MAX_URIS 8

/* Where a setting came from, for error messages and `bdekey config`. */
enum setting_origin {
	ORIGIN_DEFAULT = 0,
	ORIGIN_LDAPCONF,
	ORIGIN_CONFIG,
	ORIGIN_ENV,
	ORIGIN_OPTION
};

struct settings {
	struct ad_settings ad;
	struct graph_settings graph;

	/* storage behind ad.uris; uri_copy holds the split environment list */
	const char *uris[SETTINGS_MAX_URIS + 1];
	int nuris;
	char *uri_copy;
	/* files secrets are read from; the secrets themselves are owned */
	const char *ldap_password_file;
	const char *client_secret_file;
	char *ldap_password;
	char *client_secret;
	int timeout;

	/* the command's own options, for its option group's apply */
	void *cmd;
};

/* Option groups a command lists in its table. */
extern const struct cmd_optgroup settings_ad_group;
extern const struct cmd_optgroup settings_graph_group;
extern const struct cmd_optgroup settings_common_group;

/* Zero s. */
void settings_init(struct settings *s);

/*
 * Fill what options left unset from the environment (BDEKEY_LDAP_URI,
 * BDEKEY_TENANT, ...).  Returns 0, or -1 after printing an error.
 */
int settings_from_env(struct settings *s);

/* Whether AD / Graph has enough settings to be tried. */
int settings_ad_configured(const struct settings *s);
int settings_graph_configured(const struct settings *s);

/*
 * Read the secrets the settings point at: the LDAP bind password (file,
 * else a no-echo prompt on a TTY when a simple bind needs one) when
 * want_ad, the client secret file when want_graph.  Returns 0, or -1
 * after printing an error.
 */
int settings_load_secrets(struct settings *s, int want_ad, int want_graph);

/* Wipe and free the secrets. */
void settings_release(struct settings *s);

#endif
