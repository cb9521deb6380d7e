/*
 * settings.c - options, environment and config file for the backends'
 * settings, and the secrets they point at.
 */
#include "cmd/settings.h"
#include "cmd/conffile.h"
#include "cmd/tty.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
set(struct settings *s, enum setting_id id, const char *v,
    enum setting_origin origin, int line)
{
	s->val[id] = v;
	s->origin[id] = origin;
	s->line[id] = line;
}

static int
add_uri(struct settings *s, const char *uri)
{
	if (s->nuris == SETTINGS_MAX_URIS) {
		cmd_warn("too many LDAP URIs (at most %d)", SETTINGS_MAX_URIS);
		return -1;
	}
	s->uris[s->nuris++] = uri;
	s->uris[s->nuris] = NULL;
	return 0;
}

int
settings_option(struct settings *s, enum setting_id id, const char *arg)
{
	switch (id) {
	case SET_LDAP_TIMEOUT:
		set(s, SET_GRAPH_TIMEOUT, arg, ORIGIN_OPTION, 0);
		break;
	case SET_LDAP_URI:
		/* repeatable: the list is kept as given */
		if (add_uri(s, arg) < 0)
			return -1;
		break;
	case SET_LDAP_STARTTLS:
	case SET_LDAP_FOREST:
		arg = "yes";
		break;
	default:
		break;
	}
	set(s, id, arg, ORIGIN_OPTION, 0);
	return 0;
}


void
settings_init(struct settings *s)
{
	memset(s, 0, sizeof(*s));
}

const char *
settings_origin_str(const struct settings *s, enum setting_id id, char *buf,
    size_t len)
{
	switch (s->origin[id]) {
	case ORIGIN_OPTION:
		snprintf(buf, len, "option --%s", setting_defs[id].option ?
		    setting_defs[id].option : "?");
		return buf;
	case ORIGIN_ENV:
		return setting_defs[id].env;
	case ORIGIN_CONFIG:
		snprintf(buf, len, "%s:%d", s->config_path, s->line[id]);
		return buf;
	case ORIGIN_UNSET:
		break;
	}
	return "default";
}

/* An environment value, NULL when unset or empty. */
static const char *
env(const char *name)
{
	const char *v = name ? getenv(name) : NULL;

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Keep a config value alive until settings_release. */
static const char *
keep(struct settings *s, const char *v)
{
	char **n;
	char *copy = strdup(v);

	if (copy == NULL)
		return NULL;
	n = reallocarray(s->config_strings, s->nconfig_strings + 1,
	    sizeof(*n));
	if (n == NULL) {
		free(copy);
		return NULL;
	}
	s->config_strings = n;
	s->config_strings[s->nconfig_strings++] = copy;
	return copy;
}

/* *errstr = a new message (NULL when out of memory); returns -1. */
static int entry_error(char **errstr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
entry_error(char **errstr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(errstr, fmt, ap) < 0)
		*errstr = NULL;
	va_end(ap);
	return -1;
}

/*
 * One entry of the config file (conffile.h): a known section, a known
 * key in it; fills what options and environment left unset.
 */
static int
config_entry(void *arg, const char *section, const char *key,
    const char *value, int line, char **errstr)
{
	struct settings *s = arg;
	const char *v;
	int id;

	for (id = 0; id < SET_COUNT; id++)
		if (strcmp(setting_defs[id].section, section) == 0 &&
		    (key == NULL || strcmp(setting_defs[id].key, key) == 0))
			break;
	if (key == NULL)
		return id < SET_COUNT ? 0 : entry_error(errstr,
		    "unknown section '[%s]' (known: ldap, graph, keyvault, "
		    "audit)",
		    section);
	if (section[0] == '\0')
		return entry_error(errstr, "'%s' is outside any section", key);
	if (id == SET_COUNT)
		return entry_error(errstr, "unknown key '%s' in [%s]", key,
		    section);
	if (*value == '\0')
		return entry_error(errstr, "'%s' has no value", key);
	if (s->origin[id] != ORIGIN_UNSET)
		return 0;
	if ((v = keep(s, value)) == NULL)
		return entry_error(errstr, "out of memory");
	set(s, (enum setting_id)id, v, ORIGIN_CONFIG, line);
	return 0;
}

/* Read the config file at path; 0, or -1 after printing why. */
static int
read_config(struct settings *s, const char *path, int must_exist)
{
	char *err = NULL;
	int r;

	/* the path first: origins name it ("FILE:LINE") */
	s->config_path = strdup(path);
	if (s->config_path == NULL) {
		cmd_warn("out of memory");
		return -1;
	}
	r = conffile_read(path, must_exist, config_entry, s, &err);
	if (r < 0)
		cmd_warn("%s", err != NULL ? err : "cannot read the config "
		    "file");
	if (r == 0) {
		free(s->config_path);
		s->config_path = NULL;
	}
	free(err);
	return r < 0 ? -1 : 0;
}

/* Print "bdekey: <where>: <what>" for a bad value. */
static void
bad_value(const struct settings *s, enum setting_id id, const char *what)
{
	char buf[600];
	const char *where = settings_origin_str(s, id, buf, sizeof(buf));

	cmd_warn("%s: %s '%s' %s", where, setting_defs[id].key, s->val[id],
	    what);
}

static int
parse_bool(struct settings *s, enum setting_id id, int *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };
	size_t i;

	*out = 0;
	if (s->val[id] == NULL)
		return 0;
	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(s->val[id], yes[i]) == 0)
			return *out = 1, 0;
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(s->val[id], no[i]) == 0)
			return 0;
	bad_value(s, id, "is not yes or no");
	return -1;
}

static int
parse_count(struct settings *s, enum setting_id id, int *out)
{
	char *end;
	long v;

	*out = 0;
	if (s->val[id] == NULL)
		return 0;
	errno = 0;
	v = strtol(s->val[id], &end, 10);
	if (errno != 0 || end == s->val[id] || *end != '\0' || v <= 0 ||
	    v > 100000) {
		bad_value(s, id, "is not a number from 1 to 100000");
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int
parse_choice(struct settings *s, enum setting_id id,
    const char *const *choices, const char *what)
{
	size_t i;

	if (s->val[id] == NULL)
		return 0;
	for (i = 0; choices[i] != NULL; i++)
		if (strcasecmp(s->val[id], choices[i]) == 0)
			return (int)i;
	bad_value(s, id, what);
	return -1;
}

static int
split_uris(struct settings *s)
{
	char *tok, *save = NULL;

	if (s->nuris > 0 || s->val[SET_LDAP_URI] == NULL)
		return 0;
	/* a list separated by blanks or commas, as ldap.conf's URI */
	s->uri_copy = strdup(s->val[SET_LDAP_URI]);
	if (s->uri_copy == NULL) {
		cmd_warn("out of memory");
		return -1;
	}
	for (tok = strtok_r(s->uri_copy, " \t,", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t,", &save))
		if (add_uri(s, tok) < 0)
			return -1;
	return 0;
}

static int
check_uris(struct settings *s)
{
	int i;

	for (i = 0; i < s->nuris; i++) {
		if (strncasecmp(s->uris[i], "ldap://", 7) != 0 &&
		    strncasecmp(s->uris[i], "ldaps://", 8) != 0 &&
		    strncasecmp(s->uris[i], "ldapi://", 8) != 0) {
			char buf[600];

			cmd_warn("%s: LDAP URI '%s' is not ldap://, ldaps:// "
			    "or ldapi://", settings_origin_str(s, SET_LDAP_URI,
			    buf, sizeof(buf)), s->uris[i]);
			return -1;
		}
	}
	s->ad.uris = s->nuris > 0 ? s->uris : NULL;
	return 0;
}

/*
 * An XDG base directory path: $var/leaf, else $HOME/home_rel/leaf, into
 * *out (caller frees; NULL when there is no home).  The XDG spec: a
 * relative $var is invalid and ignored.  0, or -1 when out of memory.
 */
static int
xdg_path(const char *var, const char *home_rel, const char *leaf, char **out)
{
	const char *base = env(var), *home = env("HOME");
	int r = 0;

	*out = NULL;
	if (base != NULL && base[0] == '/')
		r = asprintf(out, "%s/%s", base, leaf);
	else if (home != NULL && home[0] == '/')
		r = asprintf(out, "%s/%s/%s", home, home_rel, leaf);
	if (r < 0) {
		*out = NULL;
		cmd_warn("out of memory");
		return -1;
	}
	return 0;
}

static int
audit_path(struct settings *s)
{
	if (s->val[SET_AUDIT_LOG] != NULL) {
		s->audit_log = strdup(s->val[SET_AUDIT_LOG]);
		if (s->audit_log == NULL) {
			cmd_warn("out of memory");
			return -1;
		}
		return 0;
	}
	if (xdg_path("XDG_STATE_HOME", ".local/state", "bdekey/audit.jsonl",
	    &s->audit_log) < 0)
		return -1;
	if (s->audit_log == NULL) {
		cmd_warn("no place for the audit log: set HOME, XDG_STATE_HOME "
		    "or BDEKEY_AUDIT_LOG");
		return -1;
	}
	return 0;
}

/*
 * Discovery (ldap/discover.c) when no URI is set: asked for by a
 * discovery setting, or by --source ad/all; the domain's origin named.
 */
static int
ad_discovery(struct settings *s)
{
	char buf[600];
	int forest = 0;

	if (s->val[SET_LDAP_FOREST] != NULL) {
		if (parse_bool(s, SET_LDAP_FOREST, &forest) < 0)
			return -1;
		s->ad.forest = forest ? 1 : -1;
	}
	s->ad.domain = s->val[SET_LDAP_DOMAIN];
	s->ad.site = s->val[SET_LDAP_SITE];
	s->ad.dns_server = s->val[SET_LDAP_DNS_SERVER];
	if (s->ad.domain != NULL) {
		s->domain_origin = strdup(settings_origin_str(s,
		    SET_LDAP_DOMAIN, buf, sizeof(buf)));
		if (s->domain_origin == NULL) {
			cmd_warn("out of memory");
			return -1;
		}
		s->ad.domain_origin = s->domain_origin;
	}
	s->ad.discover = s->nuris == 0 && (s->ad.domain != NULL ||
	    s->ad.site != NULL || s->ad.dns_server != NULL ||
	    s->ad.forest > 0 || s->source == SOURCE_AD ||
	    s->source == SOURCE_ALL);
	return 0;
}

int
settings_finish(struct settings *s)
{
	static const char *const clouds[] = {
		"global", "usgov", "dod", "china", NULL
	};
	static const char *const algs[] = { "PS256", "RS256", NULL };
	static const char *const perms[] = { "Read.All", "ReadBasic.All",
		NULL
	};
	const char *path = s->config_option;
	char *dflt = NULL;
	int id, alg, perm, rc = -1;

	for (id = 0; id < SET_COUNT; id++) {
		const char *v = env(setting_defs[id].env);

		if (s->origin[id] == ORIGIN_UNSET && v != NULL)
			set(s, (enum setting_id)id, v, ORIGIN_ENV, 0);
	}

	/* an explicitly named config file must exist */
	if (path == NULL)
		path = env("BDEKEY_CONFIG");
	if (path != NULL) {
		if (read_config(s, path, 1) < 0)
			goto out;
	} else {
		if (xdg_path("XDG_CONFIG_HOME", ".config", "bdekey/config",
		    &dflt) < 0)
			goto out;
		if (dflt != NULL && read_config(s, dflt, 0) < 0)
			goto out;
	}

	if (split_uris(s) < 0 || check_uris(s) < 0 || ad_discovery(s) < 0)
		goto out;
	s->ad.base = s->val[SET_LDAP_BASE];
	s->ad.mech = s->val[SET_LDAP_MECH];
	s->ad.bind_dn = s->val[SET_LDAP_BIND_DN];
	if (parse_bool(s, SET_LDAP_STARTTLS, &s->ad.starttls) < 0 ||
	    parse_count(s, SET_LDAP_PAGE_SIZE, &s->ad.page_size) < 0 ||
	    parse_count(s, SET_LDAP_TIMEOUT, &s->ad.timeout) < 0 ||
	    parse_count(s, SET_GRAPH_TIMEOUT, &s->graph.timeout) < 0 ||
	    parse_bool(s, SET_AUDIT_REQUIRE_REASON, &s->require_reason) < 0)
		goto out;

	s->graph.tenant = s->val[SET_GRAPH_TENANT];
	s->graph.client_id = s->val[SET_GRAPH_CLIENT_ID];
	if (parse_choice(s, SET_GRAPH_CLOUD, clouds,
	    "is not global, usgov, dod or china") < 0)
		goto out;
	s->graph.cloud = s->val[SET_GRAPH_CLOUD];
	s->graph.authority = s->val[SET_GRAPH_AUTHORITY];
	s->graph.graph = s->val[SET_GRAPH_URL];
	s->graph.ca_bundle = s->val[SET_GRAPH_CA_BUNDLE];
	s->graph.client_cert = s->val[SET_GRAPH_CLIENT_CERT];
	s->graph.client_key = s->val[SET_GRAPH_CLIENT_KEY];
	/* ReadBasic.All: metadata only, for a tenant that grants no more */
	if ((perm = parse_choice(s, SET_GRAPH_KEY_PERMISSION, perms,
	    "is not Read.All or ReadBasic.All")) < 0)
		goto out;
	s->graph.read_basic = perm == 1;
	if ((alg = parse_choice(s, SET_GRAPH_ASSERTION_ALG, algs,
	    "is not PS256 or RS256")) < 0)
		goto out;
	s->graph.assertion_rs256 = alg == 1;
	if (s->graph.client_cert != NULL && s->graph.client_key == NULL) {
		cmd_warn("a client certificate needs its key: set --client-key "
		    "or BDEKEY_CLIENT_KEY");
		goto out;
	}
	/* the token cache; NULL (no home) makes Graph sign-in say so */
	if (xdg_path("XDG_CACHE_HOME", ".cache", "bdekey", &s->cache_dir) < 0)
		goto out;
	s->graph.cache_dir = s->cache_dir;
	/* Key Vault signs in as Graph does (tenant, client, secret ...) */
	s->kv.vault = s->val[SET_KV_VAULT];
	s->kv.subscription = s->val[SET_KV_SUBSCRIPTION];
	s->kv.arm = s->val[SET_KV_ARM];
	s->kv.vault_resource = s->val[SET_KV_VAULT_RESOURCE];
	if (audit_path(s) < 0)
		goto out;
	rc = 0;
out:
	free(dflt);
	return rc;
}

struct kv_settings
settings_keyvault(const struct settings *s)
{
	struct kv_settings k = s->kv;

	k.tenant = s->graph.tenant;
	/* the same public client as Graph unless one is set */
	k.client_id = s->graph.client_id != NULL ? s->graph.client_id :
	    GRAPH_DEFAULT_CLIENT_ID;
	k.cloud = s->graph.cloud;
	k.authority = s->graph.authority;
	k.ca_bundle = s->graph.ca_bundle;
	k.client_secret = s->graph.client_secret;
	k.client_cert = s->graph.client_cert;
	k.client_key = s->graph.client_key;
	k.assertion_rs256 = s->graph.assertion_rs256;
	k.cache_dir = s->graph.cache_dir;
	k.timeout = s->graph.timeout;
	k.deadline = s->graph.deadline;
	k.sign_in = cmd_show_signin;
	k.sign_in_arg = NULL;
	return k;
}

int
settings_ad_configured(const struct settings *s)
{
	return s->nuris > 0 || ad_default_uri_configured() || s->ad.discover;
}

int
settings_graph_configured(const struct settings *s)
{
	return s->graph.tenant != NULL;
}

int
settings_need_graph(const struct settings *s, const char *cmdname)
{
	if (settings_graph_configured(s))
		return 0;
	cmd_warn("%s: no Entra tenant configured: set --tenant or "
	    "BDEKEY_TENANT", cmdname);
	return -1;
}

/* Whether the mechanism sends a password we must supply. */
static int
mech_needs_password(const char *mech)
{
	if (mech == NULL || strcasecmp(mech, "GSSAPI") == 0 ||
	    strcasecmp(mech, "GSS-SPNEGO") == 0 ||
	    strcasecmp(mech, "EXTERNAL") == 0)
		return 0;
	return 1;
}

/* Read a secret file, printing why when it fails. */
static int
read_secret(const char *what, const char *path, char **out)
{
	char *err = NULL;

	if (bde_secret_read_file(path, out, &err) != BDE_OK) {
		cmd_warn("%s: %s", what, err ? err : "cannot read");
		free(err);
		return -1;
	}
	return 0;
}

int
settings_load_secrets(struct settings *s, int want_ad, int want_graph)
{
	const char *pwfile = s->val[SET_LDAP_PASSWORD_FILE];
	const char *secfile = s->val[SET_GRAPH_CLIENT_SECRET_FILE];
	char prompt[600];

	if (want_ad && s->ad.password == NULL &&
	    mech_needs_password(s->ad.mech)) {
		if (pwfile != NULL) {
			if (read_secret("bind password", pwfile,
			    &s->ldap_password) < 0)
				return -1;
		} else if (isatty(STDIN_FILENO)) {
			snprintf(prompt, sizeof(prompt), "LDAP password for %s: ",
			    s->ad.bind_dn ? s->ad.bind_dn : "the bind DN");
			if ((s->ldap_password = tty_password(prompt)) == NULL)
				return -1;
		} else {
			cmd_warn("no LDAP bind password: set "
			    "BDEKEY_LDAP_PASSWORD_FILE or --password-file (or "
			    "run on a terminal to be asked)");
			return -1;
		}
		s->ad.password = s->ldap_password;
	}
	if (want_graph && s->client_secret == NULL && secfile != NULL) {
		if (read_secret("client secret", secfile, &s->client_secret) < 0)
			return -1;
		s->graph.client_secret = s->client_secret;
	}
	return 0;
}

void
settings_release(struct settings *s)
{
	size_t i;

	bde_secret_free(s->ldap_password);
	bde_secret_free(s->client_secret);
	for (i = 0; i < s->nconfig_strings; i++)
		free(s->config_strings[i]);
	free(s->config_strings);
	free(s->config_path);
	free(s->uri_copy);
	free(s->audit_log);
	free(s->cache_dir);
	free(s->domain_origin);
	memset(s, 0, sizeof(*s));
}
