/*
 * settings.c - option groups and environment variables for the backends'
 * settings, and the secrets they point at.
 */
#include "cmd/settings.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

enum {
	OPT_LDAP_URI = 300,
	OPT_BASE,
	OPT_MECH,
	OPT_BIND_DN,
	OPT_PASSWORD_FILE,
	OPT_STARTTLS,
	OPT_PAGE_SIZE,
	OPT_TENANT = 320,
	OPT_CLIENT_ID,
	OPT_CLOUD,
	OPT_AUTHORITY,
	OPT_GRAPH,
	OPT_CA_BUNDLE,
	OPT_CLIENT_SECRET_FILE,
	OPT_CLIENT_CERT,
	OPT_CLIENT_KEY,
	OPT_ASSERTION_ALG,
	OPT_TIMEOUT = 340
};

static const struct cmd_option ad_options[] = {
	{ "ldap-uri", OPT_LDAP_URI, "URI",
	  "LDAP server; repeat for failover in order" },
	{ "base", OPT_BASE, "DN", "search base (default: the domain)" },
	{ "mech", OPT_MECH, "MECH", "GSSAPI (default), SIMPLE, or a SASL "
	  "mechanism" },
	{ "bind-dn", OPT_BIND_DN, "DN", "DN for a simple bind" },
	{ "password-file", OPT_PASSWORD_FILE, "FILE",
	  "read the bind password from FILE (mode 0600)" },
	{ "starttls", OPT_STARTTLS, NULL, "use StartTLS on ldap:// URIs" },
	{ "page-size", OPT_PAGE_SIZE, "N", "entries per page of a search "
	  "(default 500)" },
	{ NULL, 0, NULL, NULL }
};

static const struct cmd_option graph_options[] = {
	{ "tenant", OPT_TENANT, "TENANT", "Entra tenant name or ID" },
	{ "client-id", OPT_CLIENT_ID, "ID", "application (client) ID" },
	{ "cloud", OPT_CLOUD, "CLOUD", "global, usgov, dod or china" },
	{ "authority", OPT_AUTHORITY, "URL", "identity platform base URL" },
	{ "graph", OPT_GRAPH, "URL", "Microsoft Graph base URL" },
	{ "ca-bundle", OPT_CA_BUNDLE, "FILE", "extra CA certificates (PEM)" },
	{ "client-secret-file", OPT_CLIENT_SECRET_FILE, "FILE",
	  "sign in as the app with the secret in FILE" },
	{ "client-cert", OPT_CLIENT_CERT, "FILE",
	  "sign in as the app with this certificate (PEM)" },
	{ "client-key", OPT_CLIENT_KEY, "FILE",
	  "private key of --client-cert (PEM)" },
	{ "assertion-alg", OPT_ASSERTION_ALG, "ALG",
	  "client assertion algorithm: PS256 (default) or RS256" },
	{ NULL, 0, NULL, NULL }
};

static const struct cmd_option common_options[] = {
	{ "timeout", OPT_TIMEOUT, "SECONDS",
	  "network timeout for each step (default 10 LDAP, 30 HTTPS)" },
	{ NULL, 0, NULL, NULL }
};

/* A positive integer option value, or -1. */
static int
parse_count(const char *what, const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v <= 0 || v > 100000) {
		cmd_warn("%s '%s' is not a number from 1 to 100000", what, arg);
		return -1;
	}
	return (int)v;
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
	s->ad.uris = s->uris;
	return 0;
}

static int
ad_apply(void *settings, int key, const char *arg)
{
	struct settings *s = settings;

	switch (key) {
	case OPT_LDAP_URI:
		return add_uri(s, arg);
	case OPT_BASE:
		s->ad.base = arg;
		break;
	case OPT_MECH:
		s->ad.mech = arg;
		break;
	case OPT_BIND_DN:
		s->ad.bind_dn = arg;
		break;
	case OPT_PASSWORD_FILE:
		s->ldap_password_file = arg;
		break;
	case OPT_STARTTLS:
		s->ad.starttls = 1;
		break;
	case OPT_PAGE_SIZE:
		if ((s->ad.page_size = parse_count("page size", arg)) < 0)
			return -1;
		break;
	}
	return 0;
}

static int
check_alg(const char *arg)
{
	if (strcasecmp(arg, "PS256") == 0)
		return 0;
	if (strcasecmp(arg, "RS256") == 0)
		return 1;
	cmd_warn("assertion algorithm '%s' is not PS256 or RS256", arg);
	return -1;
}

static int
check_cloud(const char *arg)
{
	static const char *const clouds[] = {
		"global", "usgov", "dod", "china", NULL
	};
	size_t i;

	for (i = 0; clouds[i] != NULL; i++)
		if (strcmp(arg, clouds[i]) == 0)
			return 0;
	cmd_warn("cloud '%s' is not global, usgov, dod or china", arg);
	return -1;
}

static int
graph_apply(void *settings, int key, const char *arg)
{
	struct settings *s = settings;
	int v;

	switch (key) {
	case OPT_TENANT:
		s->graph.tenant = arg;
		break;
	case OPT_CLIENT_ID:
		s->graph.client_id = arg;
		break;
	case OPT_CLOUD:
		if (check_cloud(arg) < 0)
			return -1;
		s->graph.cloud = arg;
		break;
	case OPT_AUTHORITY:
		s->graph.authority = arg;
		break;
	case OPT_GRAPH:
		s->graph.graph = arg;
		break;
	case OPT_CA_BUNDLE:
		s->graph.ca_bundle = arg;
		break;
	case OPT_CLIENT_SECRET_FILE:
		s->client_secret_file = arg;
		break;
	case OPT_CLIENT_CERT:
		s->graph.client_cert = arg;
		break;
	case OPT_CLIENT_KEY:
		s->graph.client_key = arg;
		break;
	case OPT_ASSERTION_ALG:
		if ((v = check_alg(arg)) < 0)
			return -1;
		/* an explicit PS256 must beat an RS256 from the environment */
		s->graph.assertion_rs256 = v ? 1 : -1;
		break;
	}
	return 0;
}

static int
common_apply(void *settings, int key, const char *arg)
{
	struct settings *s = settings;

	if (key == OPT_TIMEOUT &&
	    (s->timeout = parse_count("timeout", arg)) < 0)
		return -1;
	return 0;
}

const struct cmd_optgroup settings_ad_group = {
	"Active Directory (LDAP)", ad_options, ad_apply
};
const struct cmd_optgroup settings_graph_group = {
	"Microsoft Graph", graph_options, graph_apply
};
const struct cmd_optgroup settings_common_group = {
	"network", common_options, common_apply
};

void
settings_init(struct settings *s)
{
	memset(s, 0, sizeof(*s));
}

/* An environment value, NULL when unset or empty. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static void
fill(const char **dst, const char *name)
{
	if (*dst == NULL)
		*dst = env(name);
}

static int
env_yes(const char *name)
{
	const char *v = env(name);

	return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcasecmp(v, "true") == 0 || strcasecmp(v, "on") == 0);
}

int
settings_from_env(struct settings *s)
{
	const char *v;
	char *tok, *save = NULL;

	if (s->nuris == 0 && (v = env("BDEKEY_LDAP_URI")) != NULL) {
		/* a list separated by blanks or commas, as ldap.conf's URI */
		s->uri_copy = strdup(v);
		if (s->uri_copy == NULL) {
			cmd_warn("out of memory");
			return -1;
		}
		for (tok = strtok_r(s->uri_copy, " \t,", &save); tok != NULL;
		    tok = strtok_r(NULL, " \t,", &save))
			if (add_uri(s, tok) < 0)
				return -1;
	}
	fill(&s->ad.base, "BDEKEY_LDAP_BASE");
	fill(&s->ad.mech, "BDEKEY_LDAP_MECH");
	fill(&s->ad.bind_dn, "BDEKEY_LDAP_BINDDN");
	fill(&s->ldap_password_file, "BDEKEY_LDAP_PASSWORD_FILE");
	if (!s->ad.starttls)
		s->ad.starttls = env_yes("BDEKEY_LDAP_STARTTLS");
	if (s->ad.page_size == 0 && (v = env("BDEKEY_LDAP_PAGE_SIZE")) != NULL &&
	    (s->ad.page_size = parse_count("BDEKEY_LDAP_PAGE_SIZE", v)) < 0)
		return -1;

	fill(&s->graph.tenant, "BDEKEY_TENANT");
	fill(&s->graph.client_id, "BDEKEY_CLIENT_ID");
	if (s->graph.cloud == NULL && (v = env("BDEKEY_CLOUD")) != NULL) {
		if (check_cloud(v) < 0)
			return -1;
		s->graph.cloud = v;
	}
	fill(&s->graph.authority, "BDEKEY_AUTHORITY");
	fill(&s->graph.graph, "BDEKEY_GRAPH");
	fill(&s->graph.ca_bundle, "BDEKEY_CA_BUNDLE");
	fill(&s->client_secret_file, "BDEKEY_CLIENT_SECRET_FILE");
	fill(&s->graph.client_cert, "BDEKEY_CLIENT_CERT");
	fill(&s->graph.client_key, "BDEKEY_CLIENT_KEY");
	if (s->graph.assertion_rs256 == 0 &&
	    (v = env("BDEKEY_ASSERTION_ALG")) != NULL) {
		int alg = check_alg(v);

		if (alg < 0)
			return -1;
		s->graph.assertion_rs256 = alg;
	}
	if (s->graph.assertion_rs256 < 0)
		s->graph.assertion_rs256 = 0;
	if (s->graph.client_cert != NULL && s->graph.client_key == NULL) {
		cmd_warn("a client certificate needs its key: set --client-key "
		    "or BDEKEY_CLIENT_KEY");
		return -1;
	}
	if (s->timeout == 0 && (v = env("BDEKEY_TIMEOUT")) != NULL &&
	    (s->timeout = parse_count("BDEKEY_TIMEOUT", v)) < 0)
		return -1;
	s->ad.timeout = s->timeout;
	s->graph.timeout = s->timeout;
	return 0;
}

int
settings_ad_configured(const struct settings *s)
{
	return s->nuris > 0 || ad_default_uri_configured();
}

int
settings_graph_configured(const struct settings *s)
{
	return s->graph.tenant != NULL;
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

/*
 * Read a password from the terminal without echo.  Returns a new buffer
 * the caller frees with bde_secret_free, or NULL after printing why.
 */
static char *
prompt_password(const char *prompt)
{
	struct termios old, quiet;
	char buf[512];
	char *pw = NULL;
	int fd = -1, restored = 1;
	ssize_t r;
	size_t len = 0;

	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		cmd_warn("cannot open the terminal for a password prompt: %s",
		    strerror(errno));
		goto out;
	}
	if (tcgetattr(fd, &old) < 0) {
		cmd_warn("cannot read terminal settings: %s", strerror(errno));
		goto out;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(fd, prompt, strlen(prompt)) < 0 ||
	    tcsetattr(fd, TCSAFLUSH, &quiet) < 0) {
		cmd_warn("cannot prompt for a password: %s", strerror(errno));
		goto out;
	}
	restored = 0;
	while (len < sizeof(buf) - 1) {
		r = read(fd, buf + len, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || buf[len] == '\n' || buf[len] == '\r')
			break;
		len++;
	}
	buf[len] = '\0';
	tcsetattr(fd, TCSAFLUSH, &old);
	restored = 1;
	(void)!write(fd, "\n", 1);
	if (len == 0) {
		cmd_warn("no password entered");
		goto out;
	}
	pw = strdup(buf);
	if (pw == NULL)
		cmd_warn("out of memory");
out:
	if (!restored)
		tcsetattr(fd, TCSAFLUSH, &old);
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return pw;
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
	char prompt[600];

	if (want_ad && s->ad.password == NULL &&
	    mech_needs_password(s->ad.mech)) {
		if (s->ldap_password_file != NULL) {
			if (read_secret("bind password", s->ldap_password_file,
			    &s->ldap_password) < 0)
				return -1;
		} else if (isatty(STDIN_FILENO)) {
			snprintf(prompt, sizeof(prompt), "LDAP password for %s: ",
			    s->ad.bind_dn ? s->ad.bind_dn : "the bind DN");
			if ((s->ldap_password = prompt_password(prompt)) == NULL)
				return -1;
		} else {
			cmd_warn("no LDAP bind password: set "
			    "BDEKEY_LDAP_PASSWORD_FILE or --password-file (or "
			    "run on a terminal to be asked)");
			return -1;
		}
		s->ad.password = s->ldap_password;
	}
	if (want_graph && s->client_secret == NULL &&
	    s->client_secret_file != NULL) {
		if (read_secret("client secret", s->client_secret_file,
		    &s->client_secret) < 0)
			return -1;
		s->graph.client_secret = s->client_secret;
	}
	return 0;
}

void
settings_release(struct settings *s)
{
	bde_secret_free(s->ldap_password);
	bde_secret_free(s->client_secret);
	free(s->uri_copy);
	memset(s, 0, sizeof(*s));
}
