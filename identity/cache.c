/*
 * cache.c - the token cache: file naming, private directory, atomic
 * writes, strict permission checks, one access token per scope set, and
 * the lock held while a token is renewed.
 */
#include "identity/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/evp.h>

#include "core/clock.h"
#include "core/json.h"

/* A cache file is a few KiB; anything much larger is not ours. */
#define CACHE_MAX_SIZE (256 * 1024)
#define CACHE_VERSION 2
/* Version 1: one access token and its scope, at the top level. */
#define CACHE_VERSION_1 1
/* Between two tries of a lock another bdekey holds. */
#define LOCK_POLL_MS 50

void
id_access_release(struct id_access *a)
{
	bde_secret_free(a->access_token);
	free(a->scope);
	free(a->granted);
	memset(a, 0, sizeof(*a));
}

void
id_tokens_release(struct id_tokens *t)
{
	size_t i;

	bde_secret_free(t->refresh_token);
	free(t->user);
	for (i = 0; i < t->n; i++)
		id_access_release(&t->at[i]);
	memset(t, 0, sizeof(*t));
}

struct id_access *
id_tokens_find(struct id_tokens *t, const char *scope)
{
	size_t i;

	for (i = 0; scope != NULL && i < t->n; i++)
		if (t->at[i].scope != NULL && strcmp(t->at[i].scope, scope) == 0)
			return &t->at[i];
	return NULL;
}

struct id_access *
id_tokens_put(struct id_tokens *t, const char *scope)
{
	struct id_access *a = id_tokens_find(t, scope);
	char *copy;

	if (a != NULL)
		return a;
	copy = strdup(scope);
	if (copy == NULL)
		return NULL;
	if (t->n == ID_CACHE_SCOPES) {
		/* entries are kept oldest first: drop the first */
		id_access_release(&t->at[0]);
		memmove(&t->at[0], &t->at[1], (t->n - 1) * sizeof(t->at[0]));
		memset(&t->at[--t->n], 0, sizeof(t->at[0]));
	}
	a = &t->at[t->n++];
	a->scope = copy;
	return a;
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

/* One access token entry of a cache document; -1 when out of memory. */
static int
take_access(const cJSON *o, struct id_tokens *t)
{
	const char *scope = bde_json_string(o, "scope");
	struct id_access *a;
	long long expires_on;

	/* an entry without a token or a scope is of no use: skipped */
	if (scope == NULL || scope[0] == '\0' ||
	    bde_json_string(o, "access_token") == NULL ||
	    id_tokens_find(t, scope) != NULL)
		return 0;
	a = id_tokens_put(t, scope);
	if (a == NULL || take_string(o, "access_token", &a->access_token) < 0 ||
	    take_string(o, "granted", &a->granted) < 0)
		return -1;
	/* an expiry we cannot read is one long past: the token is renewed */
	if (bde_json_number(o, "expires_on", 0, LLONG_MAX, &expires_on) !=
	    BDE_NUM_OK || (time_t)expires_on != expires_on)
		expires_on = 0;
	a->expires_on = (time_t)expires_on;
	return 0;
}

enum bde_status
id_cache_parse(const cJSON *doc, struct id_tokens *t)
{
	const cJSON *list, *o;
	long long version;

	id_tokens_release(t);
	if (!cJSON_IsObject(doc) || bde_json_number(doc, "version",
	    CACHE_VERSION_1, CACHE_VERSION, &version) != BDE_NUM_OK)
		return BDE_EAUTH;
	if (take_string(doc, "refresh_token", &t->refresh_token) < 0 ||
	    take_string(doc, "user", &t->user) < 0)
		goto nomem;
	if (version == CACHE_VERSION_1) {
		if (take_access(doc, t) < 0)
			goto nomem;
		return BDE_OK;
	}
	list = cJSON_GetObjectItemCaseSensitive(doc, "tokens");
	if (list != NULL && !cJSON_IsArray(list)) {
		id_tokens_release(t);
		return BDE_EAUTH;
	}
	cJSON_ArrayForEach(o, list)
		if (take_access(o, t) < 0)
			goto nomem;
	return BDE_OK;
nomem:
	id_tokens_release(t);
	return BDE_ENOMEM;
}

enum bde_status
id_cache_load(const char *path, struct id_tokens *t, char **errstr)
{
	enum bde_status st = BDE_OK;
	struct stat sb;
	cJSON *doc = NULL;
	char *buf = NULL;
	size_t size = 0;
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
	st = id_cache_parse(doc, t);
	if (st == BDE_EAUTH)
		st = bde_error(errstr, BDE_EAUTH, "token cache '%s' is damaged "
		    "or from another version: run 'bdekey login'", path);
	else if (st == BDE_ENOMEM)
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
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
	if (access(dir, W_OK | X_OK) < 0)
		return bde_error(errstr, BDE_ECONFIG, "cache directory '%s' is "
		    "not writable: %s", dir, strerror(errno));
	return BDE_OK;
}

/* The directory part of path in a new string; NULL when out of memory. */
static enum bde_status
dir_of(const char *path, char **dir, char **errstr)
{
	char *slash;

	*dir = strdup(path);
	if (*dir == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	slash = strrchr(*dir, '/');
	if (slash == NULL || slash == *dir) {
		free(*dir);
		*dir = NULL;
		return bde_error(errstr, BDE_ECONFIG, "bad token cache path "
		    "'%s'", path);
	}
	*slash = '\0';
	return BDE_OK;
}

enum bde_status
id_cache_dir_check(const char *path, char **errstr)
{
	enum bde_status st;
	char *dir = NULL;

	st = dir_of(path, &dir, errstr);
	if (st == BDE_OK)
		st = private_dir(dir, errstr);
	free(dir);
	return st;
}

/*
 * The document to write: a new tree the caller frees with
 * bde_json_wipe_delete (it holds tokens); NULL when out of memory.
 */
static cJSON *
tokens_json(const struct id_tokens *t)
{
	cJSON *o = cJSON_CreateObject(), *list, *e;
	const struct id_access *a;
	size_t i;

	if (o == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "version", CACHE_VERSION) == NULL ||
	    (t->user != NULL &&
	    cJSON_AddStringToObject(o, "user", t->user) == NULL) ||
	    (t->refresh_token != NULL &&
	    cJSON_AddStringToObject(o, "refresh_token", t->refresh_token) ==
	    NULL) ||
	    (list = cJSON_AddArrayToObject(o, "tokens")) == NULL)
		goto fail;
	for (i = 0; i < t->n; i++) {
		a = &t->at[i];
		if (a->scope == NULL || a->access_token == NULL)
			continue;
		e = cJSON_CreateObject();
		if (e == NULL || !cJSON_AddItemToArray(list, e) ||
		    cJSON_AddStringToObject(e, "scope", a->scope) == NULL ||
		    cJSON_AddStringToObject(e, "access_token",
		    a->access_token) == NULL ||
		    cJSON_AddNumberToObject(e, "expires_on",
		    (double)a->expires_on) == NULL ||
		    (a->granted != NULL && cJSON_AddStringToObject(e,
		    "granted", a->granted) == NULL))
			goto fail;
	}
	return o;
fail:
	bde_json_wipe_delete(o);
	return NULL;
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
	char *text = NULL, *dir = NULL, *tmp = NULL;
	int fd = -1, dfd = -1;

	st = dir_of(path, &dir, errstr);
	if (st != BDE_OK)
		goto out;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
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

enum bde_status
id_cache_lock(const char *path, long long deadline_ms, int *fd,
    char **errstr)
{
	enum bde_status st = BDE_OK;
	char *lock = NULL;
	long long wait;

	*fd = -1;
	if (asprintf(&lock, "%s.lock", path) < 0) {
		lock = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    0600);
	if (*fd < 0) {
		st = bde_error(errstr, BDE_EIO, "cannot open lock file '%s': %s",
		    lock, strerror(errno));
		goto out;
	}
	/* flock cannot time out: try, and wait a little, until the deadline */
	while (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			st = bde_error(errstr, BDE_EIO, "cannot lock '%s': %s",
			    lock, strerror(errno));
			goto out;
		}
		wait = bde_wait_clamp(LOCK_POLL_MS, LOCK_POLL_MS, LOCK_POLL_MS,
		    deadline_ms);
		if (wait < 0) {
			st = bde_error(errstr, BDE_EIO, "another bdekey kept the "
			    "token cache locked too long ('%s')", lock);
			goto out;
		}
		bde_sleep_ms(wait);
	}
out:
	if (st != BDE_OK && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(lock);
	return st;
}

void
id_cache_unlock(int fd)
{
	if (fd < 0)
		return;
	flock(fd, LOCK_UN);
	close(fd);
}
