/*
 * cache.c - the token cache: file naming, private directory, atomic
 * writes, strict permission checks.
 */
#include "identity/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "core/json.h"

/* A cache file is a few KiB; anything much larger is not ours. */
#define CACHE_MAX_SIZE (256 * 1024)
#define CACHE_VERSION 1

void
id_tokens_release(struct id_tokens *t)
{
	bde_secret_free(t->access_token);
	bde_secret_free(t->refresh_token);
	free(t->scope);
	free(t->user);
	memset(t, 0, sizeof(*t));
}

/* Lower-case copy of s without trailing slashes, into buf. */
static void
normalise(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	bde_guid_lower(buf);
}

enum bde_status
id_cache_path(const struct id_config *cfg, char **path, char **errstr)
{
	char tenant[256], client[256], authority[1024];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *key = NULL, hex[33];
	enum bde_status st = BDE_OK;
	int i;

	*path = NULL;
	/* cmd/ finds the directory; none means there is no home */
	if (cfg->cache_dir == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "no directory for the token "
		    "cache: set XDG_CACHE_HOME or HOME");
		goto out;
	}
	/* one file per tenant / client / authority; case does not matter */
	normalise(cfg->tenant, tenant, sizeof(tenant));
	normalise(cfg->client_id, client, sizeof(client));
	normalise(cfg->authority, authority, sizeof(authority));
	if (asprintf(&key, "%s\n%s\n%s", tenant, client, authority) < 0) {
		key = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) != 1
	    || mdlen < 16) {
		st = bde_error(errstr, BDE_ENOMEM, "cannot hash the cache name");
		goto out;
	}
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (asprintf(path, "%s/token-%s.json", cfg->cache_dir, hex) < 0) {
		*path = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
out:
	free(key);
	return st;
}

/* A string member, copied; NULL when absent.  -1 when out of memory. */
static int
take_string(const cJSON *o, const char *name, char **dst)
{
	const char *v = bde_json_string(o, name);

	*dst = NULL;
	if (v == NULL || v[0] == '\0')
		return 0;
	*dst = strdup(v);
	return *dst == NULL ? -1 : 0;
}

/* Read the whole (small) file into a new buffer; wiped by the caller. */
static enum bde_status
read_all(int fd, const char *path, size_t size, char **buf, char **errstr)
{
	size_t n = 0;
	ssize_t r;

	*buf = malloc(size + 1);
	if (*buf == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	while (n < size) {
		r = read(fd, *buf + n, size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return bde_error(errstr, BDE_EIO, "cannot read token "
			    "cache '%s': %s", path, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	(*buf)[n] = '\0';
	return BDE_OK;
}

enum bde_status
id_cache_load(const char *path, struct id_tokens *t, char **errstr)
{
	enum bde_status st = BDE_OK;
	struct stat sb;
	cJSON *doc = NULL;
	char *buf = NULL;
	size_t size = 0;
	long long version, expires_on;
	int fd = -1;

	id_tokens_release(t);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		st = BDE_ENOTFOUND;
		goto out;
	}
	if (fd < 0) {
		st = bde_error(errstr, errno == ELOOP ? BDE_ECONFIG : BDE_EIO,
		    "cannot open token cache '%s': %s", path,
		    errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		st = bde_error(errstr, BDE_ECONFIG, "token cache '%s' is not a "
		    "regular file", path);
		goto out;
	}
	if (sb.st_uid != geteuid()) {
		st = bde_error(errstr, BDE_ECONFIG, "token cache '%s' belongs to "
		    "another user", path);
		goto out;
	}
	/* tokens are as good as a password: nobody else may read them */
	if ((sb.st_mode & 077) != 0) {
		st = bde_error(errstr, BDE_ECONFIG, "token cache '%s' is "
		    "accessible by others (mode %04o): remove it with 'bdekey "
		    "logout' and sign in again", path,
		    (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_size > CACHE_MAX_SIZE) {
		st = bde_error(errstr, BDE_EAUTH, "token cache '%s' is damaged: "
		    "run 'bdekey login'", path);
		goto out;
	}
	size = (size_t)sb.st_size;
	st = read_all(fd, path, size, &buf, errstr);
	if (st != BDE_OK)
		goto out;
	doc = cJSON_Parse(buf);
	if (!cJSON_IsObject(doc) || bde_json_number(doc, "version",
	    CACHE_VERSION, CACHE_VERSION, &version) != BDE_NUM_OK) {
		st = bde_error(errstr, BDE_EAUTH, "token cache '%s' is damaged "
		    "or from another version: run 'bdekey login'", path);
		goto out;
	}
	if (take_string(doc, "access_token", &t->access_token) < 0 ||
	    take_string(doc, "refresh_token", &t->refresh_token) < 0 ||
	    take_string(doc, "scope", &t->scope) < 0 ||
	    take_string(doc, "user", &t->user) < 0) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	/* an expiry we cannot read is one long past: the token is renewed */
	if (bde_json_number(doc, "expires_on", 0, LLONG_MAX, &expires_on) !=
	    BDE_NUM_OK || (time_t)expires_on != expires_on)
		expires_on = 0;
	t->expires_on = (time_t)expires_on;
out:
	if (st != BDE_OK)
		id_tokens_release(t);
	if (buf != NULL) {
		explicit_bzero(buf, size + 1);
		free(buf);
	}
	bde_json_wipe_delete(doc);
	if (fd >= 0)
		close(fd);
	return st;
}

/* Create dir (and missing parents) 0700; refuse one others may enter. */
static enum bde_status
private_dir(const char *dir, char **errstr)
{
	char buf[PATH_MAX];
	struct stat sb;
	size_t i, n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return bde_error(errstr, BDE_ECONFIG, "bad cache directory "
		    "'%s'", dir);
	memcpy(buf, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return bde_error(errstr, BDE_EIO, "cannot create cache "
			    "directory '%s': %s", buf, strerror(errno));
		buf[i] = dir[i];
	}
	if (lstat(dir, &sb) < 0)
		return bde_error(errstr, BDE_EIO, "cannot use cache directory "
		    "'%s': %s", dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
		return bde_error(errstr, BDE_ECONFIG, "cache directory '%s' is "
		    "not a directory of this user", dir);
	if ((sb.st_mode & 077) != 0)
		return bde_error(errstr, BDE_ECONFIG, "cache directory '%s' is "
		    "accessible by others (mode %04o): chmod 700 it", dir,
		    (unsigned)(sb.st_mode & 07777));
	return BDE_OK;
}

/*
 * The document to write: a new tree the caller frees with
 * bde_json_wipe_delete (it holds tokens); NULL when out of memory.
 */
static cJSON *
tokens_json(const struct id_tokens *t)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "version", CACHE_VERSION) == NULL ||
	    (t->user != NULL &&
	    cJSON_AddStringToObject(o, "user", t->user) == NULL) ||
	    (t->scope != NULL &&
	    cJSON_AddStringToObject(o, "scope", t->scope) == NULL) ||
	    (t->access_token != NULL &&
	    cJSON_AddStringToObject(o, "access_token", t->access_token) ==
	    NULL) ||
	    cJSON_AddNumberToObject(o, "expires_on", (double)t->expires_on) ==
	    NULL ||
	    (t->refresh_token != NULL &&
	    cJSON_AddStringToObject(o, "refresh_token", t->refresh_token) ==
	    NULL)) {
		bde_json_wipe_delete(o);
		return NULL;
	}
	return o;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

enum bde_status
id_cache_store(const char *path, const struct id_tokens *t, char **errstr)
{
	enum bde_status st = BDE_OK;
	cJSON *doc = NULL;
	char *text = NULL, *dir = NULL, *tmp = NULL, *slash;
	int fd = -1, dfd = -1;

	dir = strdup(path);
	if (dir == NULL || asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		st = bde_error(errstr, BDE_ECONFIG, "bad token cache path "
		    "'%s'", path);
		goto out;
	}
	*slash = '\0';
	st = private_dir(dir, errstr);
	if (st != BDE_OK)
		goto out;
	doc = tokens_json(t);
	text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;
	if (text == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	/* mkstemp creates the file 0600 whatever the umask */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		free(tmp);
		tmp = NULL;
		st = bde_error(errstr, BDE_EIO, "cannot create a file in '%s': "
		    "%s", dir, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, text, strlen(text)) < 0 ||
	    write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
		st = bde_error(errstr, BDE_EIO, "cannot write token cache "
		    "'%s': %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		st = bde_error(errstr, BDE_EIO, "cannot write token cache "
		    "'%s': %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		st = bde_error(errstr, BDE_EIO, "cannot replace token cache "
		    "'%s': %s", path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* make the rename itself durable */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	if (dfd >= 0)
		close(dfd);
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	bde_json_wipe_delete(doc);
	free(tmp);
	free(dir);
	return st;
}
