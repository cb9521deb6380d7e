/*
 * conf.c - libldap's own configuration: read once, safely, and described
 * for cmd/'s decisions and `bdekey config`.
 *
 * libldap reads its configuration at its first use in the process
 * (libldap init.c, ldap_int_initialize): the system ldap.conf, then
 * ~/ldaprc, ~/.ldaprc and "ldaprc" in the current directory, the file
 * named by $LDAPCONF, those named by $LDAPRC (again also in the current
 * directory), and the LDAP* variables last.  The current directory is
 * wherever the helpdesk happens to be: a ./ldaprc there redirected the
 * URI and the trusted CA, and a simple bind sent the password to a rogue
 * server (issue 9 case 17).  So libldap reads its configuration with "/"
 * as the working directory, once, before any other libldap or SASL call
 * (ad_conf_init), and the directory is restored right after.
 */
#include "ldap/ad.h"
#include "ldap/ad_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Debian's libldap: --sysconfdir=/etc, LDAP_CONF_FILE */
#define AD_LDAP_CONF_FILE "/etc/ldap/ldap.conf"
/* libldap's LDAP_USERRC_FILE */
#define AD_LDAP_USERRC "ldaprc"
/* where libldap sees a relative name: the directory it reads in */
#define AD_LDAP_INIT_DIR "/"
/* libldap's line buffer (AC_LINE_MAX); longer lines are cut there */
#define AD_LDAP_LINE_MAX 2048
#define LDAP_BUILTIN_URI "ldap://localhost:389/??base"

static pthread_once_t ad_conf_once = PTHREAD_ONCE_INIT;
static const char *ad_conf_failed;	/* what went wrong, or NULL */
static int ad_conf_errno;

static void
ad_conf_init_once(void)
{
	int fd, v = 0;

	/* before libldap's initialisation runs sasl_client_init */
	(void)ad_wipe_install();
	fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ad_conf_errno = errno;
		ad_conf_failed = "cannot open the working directory";
		return;
	}
	if (chdir(AD_LDAP_INIT_DIR) < 0) {
		ad_conf_errno = errno;
		ad_conf_failed = "cannot change to " AD_LDAP_INIT_DIR;
		close(fd);
		return;
	}
	/* any global get makes libldap read its configuration now */
	(void)ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v);
	if (fchdir(fd) < 0) {
		ad_conf_errno = errno;
		ad_conf_failed = "cannot return to the working directory";
	}
	close(fd);
}

enum bde_status
ad_conf_init(char **errstr)
{
	pthread_once(&ad_conf_once, ad_conf_init_once);
	if (ad_conf_failed != NULL)
		return bde_error(errstr, BDE_ECONFIG, "cannot read libldap's "
		    "configuration safely: %s: %s", ad_conf_failed,
		    strerror(ad_conf_errno));
	return BDE_OK;
}

char *
ad_ldapconf(const char *what)
{
	char *v = NULL, *copy = NULL;
	int opt = strcasecmp(what, "BASE") == 0 ? LDAP_OPT_DEFBASE :
	    LDAP_OPT_URI;

	if (ad_conf_init(NULL) != BDE_OK)
		return NULL;
	if (ldap_get_option(NULL, opt, &v) != LDAP_OPT_SUCCESS || v == NULL)
		return NULL;
	/*
	 * With nothing configured libldap still answers its built-in default,
	 * rendered this way; a URI the user gave never has the "??base" tail
	 * (only the old HOST setting gives it, so honour that one).
	 */
	if (opt == LDAP_OPT_URI && strcmp(v, LDAP_BUILTIN_URI) == 0 &&
	    ad_ldapconf_origin("HOST", NULL, NULL) < 0) {
		ldap_memfree(v);
		return NULL;
	}
	if (*v != '\0')
		copy = strdup(v);
	ldap_memfree(v);
	return copy;
}

int
ad_default_uri_configured(void)
{
	char *uri = ad_ldapconf("URI");
	int set = uri != NULL;

	free(uri);
	return set;
}

/* ------------------------------------------------------------------ */
/* Where each setting came from                                         */

/*
 * Every keyword libldap reads (init.c attrs[]); useronly ones are
 * ignored in the system files (ldap.conf, $LDAPCONF).
 */
static const struct {
	const char *key;
	int useronly;
} ad_conf_keys[] = {
	{ "URI", 0 }, { "HOST", 0 }, { "PORT", 0 }, { "BASE", 0 },
	{ "BINDDN", 1 }, { "TIMEOUT", 0 }, { "NETWORK_TIMEOUT", 0 },
	{ "VERSION", 0 }, { "DEREF", 0 }, { "SIZELIMIT", 0 },
	{ "TIMELIMIT", 0 }, { "REFERRALS", 0 },
	{ "SOCKET_BIND_ADDRESSES", 0 }, { "KEEPALIVE_IDLE", 0 },
	{ "KEEPALIVE_PROBES", 0 }, { "KEEPALIVE_INTERVAL", 0 },
	{ "SASL_MECH", 0 }, { "SASL_REALM", 0 }, { "SASL_AUTHCID", 1 },
	{ "SASL_AUTHZID", 1 }, { "SASL_SECPROPS", 0 }, { "SASL_NOCANON", 0 },
	{ "SASL_CBINDING", 0 }, { "TLS_CERT", 1 }, { "TLS_KEY", 1 },
	{ "TLS_CACERT", 0 }, { "TLS_CACERTDIR", 0 }, { "TLS_REQCERT", 0 },
	{ "TLS_REQSAN", 0 }, { "TLS_RANDFILE", 0 }, { "TLS_CIPHER_SUITE", 0 },
	{ "TLS_PROTOCOL_MIN", 0 }, { "TLS_PROTOCOL_MAX", 0 },
	{ "TLS_PEERKEY_HASH", 0 }, { "TLS_ECNAME", 0 }, { "TLS_CRLFILE", 0 },
};
#define AD_NKEYS (sizeof(ad_conf_keys) / sizeof(ad_conf_keys[0]))

const char *
ad_ldapconf_key(size_t i)
{
	return i < AD_NKEYS ? ad_conf_keys[i].key : NULL;
}

/* The index of key in ad_conf_keys, or -1. */
static int
ad_conf_key_index(const char *key)
{
	size_t i;

	for (i = 0; i < AD_NKEYS; i++)
		if (strcasecmp(key, ad_conf_keys[i].key) == 0)
			return (int)i;
	return -1;
}

/* What the search for one keyword found so far. */
struct ad_conf_find {
	int key;		/* index into ad_conf_keys */
	int alias;		/* another keyword that sets it, or -1 */
	char *value;		/* the text of the last setting */
	char *origin;		/* where it was */
	int failed;		/* out of memory */
};

/* Replace f's value and origin (copies). */
static void
ad_conf_found(struct ad_conf_find *f, const char *value, const char *origin)
{
	char *v = strdup(value), *o = strdup(origin);

	if (v == NULL || o == NULL) {
		free(v);
		free(o);
		f->failed = 1;
		return;
	}
	free(f->value);
	free(f->origin);
	f->value = v;
	f->origin = o;
}

/*
 * One configuration file the way libldap parses it (init.c
 * openldap_ldap_init_w_conf): a '#' in the first column makes a comment,
 * then "KEYWORD value" with blanks trimmed; a keyword without a value
 * is ignored.  user says whether useronly keywords count.
 */
static void
ad_conf_file(struct ad_conf_find *f, const char *path, int user)
{
	char line[AD_LDAP_LINE_MAX], *s, *e, *cmd;
	FILE *fp;

	if (!user && ad_conf_keys[f->key].useronly)
		return;
	fp = fopen(path, "re");
	if (fp == NULL)
		return;
	while ((s = fgets(line, sizeof(line), fp)) != NULL) {
		if (*s == '#')
			continue;
		while (*s != '\0' && isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			continue;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		cmd = s;
		while (*s != '\0' && !isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			continue;
		*s++ = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (strcasecmp(cmd, ad_conf_keys[f->key].key) == 0 ||
		    (f->alias >= 0 &&
		    strcasecmp(cmd, ad_conf_keys[f->alias].key) == 0))
			ad_conf_found(f, s, path);
	}
	fclose(fp);
}

/* name as libldap opens it: relative to the directory it reads in. */
static void
ad_conf_path(char *buf, size_t len, const char *dir, const char *dot,
    const char *name)
{
	if (dir == NULL && name[0] != '/')
		dir = AD_LDAP_INIT_DIR;
	snprintf(buf, len, "%s%s%s%s", dir ? dir : "",
	    dir && dir[strlen(dir) - 1] != '/' ? "/" : "", dot, name);
}

/* ~/name, ~/.name, then name itself (init.c openldap_ldap_init_w_userconf) */
static void
ad_conf_userconf(struct ad_conf_find *f, const char *name)
{
	char path[4096];
	const char *home = getenv("HOME");

	if (home != NULL) {
		ad_conf_path(path, sizeof(path), home, "", name);
		ad_conf_file(f, path, 1);
		ad_conf_path(path, sizeof(path), home, ".", name);
		ad_conf_file(f, path, 1);
	}
	ad_conf_path(path, sizeof(path), NULL, "", name);
	ad_conf_file(f, path, 1);
}

/* The variable LDAP<keyword> of ad_conf_keys[key], when set. */
static void
ad_conf_env(struct ad_conf_find *f, int key)
{
	char name[64], origin[80];
	const char *v;

	snprintf(name, sizeof(name), "LDAP%s", ad_conf_keys[key].key);
	if ((v = getenv(name)) == NULL)
		return;
	snprintf(origin, sizeof(origin), "environment %s", name);
	ad_conf_found(f, v, origin);
}

int
ad_ldapconf_origin(const char *what, char **value, char **origin)
{
	struct ad_conf_find f = { .key = ad_conf_key_index(what) };
	char path[4096];
	const char *v;
	int rc = -1, alias;

	if (value != NULL)
		*value = NULL;
	if (origin != NULL)
		*origin = NULL;
	if (f.key < 0 || getenv("LDAPNOINIT") != NULL)
		return -1;
	/* the old HOST keyword sets the URI too */
	alias = strcasecmp(what, "URI") == 0 ? ad_conf_key_index("HOST") : -1;
	f.alias = alias;
	/* the order of init.c ldap_int_initialize; later ones win */
	ad_conf_file(&f, AD_LDAP_CONF_FILE, 0);
	/* a set-user-ID process reads only the system file */
	if (geteuid() == getuid()) {
		ad_conf_userconf(&f, AD_LDAP_USERRC);
		if ((v = getenv("LDAPCONF")) != NULL) {
			ad_conf_path(path, sizeof(path), NULL, "", v);
			ad_conf_file(&f, path, 0);
		}
		if ((v = getenv("LDAPRC")) != NULL)
			ad_conf_userconf(&f, v);
		/* LDAP<KEYWORD>, in attrs[] order: LDAPHOST before LDAPURI */
		if (alias >= 0)
			ad_conf_env(&f, alias);
		ad_conf_env(&f, f.key);
	}
	if (f.failed || f.value == NULL || f.value[0] == '\0')
		goto out;
	rc = 0;
	if (value != NULL) {
		*value = f.value;
		f.value = NULL;
	}
	if (origin != NULL) {
		*origin = f.origin;
		f.origin = NULL;
	}
out:
	free(f.value);
	free(f.origin);
	return rc;
}
