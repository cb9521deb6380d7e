/*
 * conffile.c - the config file's syntax (see conffile.h).
 */
#include "cmd/conffile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Strip blanks at both ends, in place; returns the new start. */
static char *
trim(char *p)
{
	char *e;

	while (isspace((unsigned char)*p))
		p++;
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return p;
}

/* Set *errstr to "LINE: what" and return -1. */
static int
line_error(char **errstr, int line, const char *what)
{
	if (asprintf(errstr, "%d: %s", line, what) < 0)
		*errstr = NULL;
	return -1;
}

/* One line (NUL-terminated in buf, which it may change). */
static int
parse_line(char *buf, char *section, size_t seclen, int line,
    conffile_fn fn, void *arg, char **errstr)
{
	char *p, *eq, *key, *val, *end, *msg = NULL;
	size_t vlen;
	int rc;

	p = trim(buf);
	if (*p == '\0' || *p == '#' || *p == ';')
		return 0;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL || end[1] != '\0' ||
		    (size_t)(end - p - 1) >= seclen)
			return line_error(errstr, line,
			    "malformed section header");
		*end = '\0';
		snprintf(section, seclen, "%s", trim(p + 1));
		key = val = NULL;
	} else {
		eq = strchr(p, '=');
		if (eq == NULL)
			return line_error(errstr, line,
			    "expected 'key = value'");
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		/* "quoted" values may keep blanks at their ends */
		vlen = strlen(val);
		if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
			val[vlen - 1] = '\0';
			val++;
		}
		if (*key == '\0')
			return line_error(errstr, line, "a value without a key");
	}
	rc = fn(arg, section, key, val, line, &msg);
	if (rc < 0) {
		line_error(errstr, line, msg != NULL ? msg : "refused");
		free(msg);
	}
	return rc;
}

int
conffile_parse(const char *text, size_t len, conffile_fn fn, void *arg,
    char **errstr)
{
	char line[CONFFILE_MAX_LINE + 1], section[64] = "";
	size_t pos = 0, n;
	const char *nl;
	int lineno = 0, rc = 0;

	*errstr = NULL;
	while (pos < len && rc == 0) {
		lineno++;
		nl = memchr(text + pos, '\n', len - pos);
		n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		if (n > CONFFILE_MAX_LINE) {
			rc = line_error(errstr, lineno, "line too long");
			break;
		}
		if (memchr(text + pos, '\0', n) != NULL) {
			rc = line_error(errstr, lineno, "a NUL byte");
			break;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		rc = parse_line(line, section, sizeof(section), lineno, fn, arg,
		    errstr);
	}
	/* a value may be a path to a secret's file, not a secret: no wipe */
	return rc;
}

int
conffile_read(const char *path, int must_exist, conffile_fn fn, void *arg,
    char **errstr)
{
	struct stat sb;
	char *text = NULL, *err = NULL;
	size_t len = 0;
	ssize_t r;
	int fd, rc = -1;

	*errstr = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		if (asprintf(errstr, "cannot open config file '%s': %s", path,
		    strerror(errno)) < 0)
			*errstr = NULL;
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > CONFFILE_MAX_SIZE) {
		if (asprintf(errstr, "config file '%s' is not a regular file "
		    "of at most %d bytes", path, CONFFILE_MAX_SIZE) < 0)
			*errstr = NULL;
		goto out;
	}
	text = malloc((size_t)sb.st_size + 1);
	if (text == NULL) {
		*errstr = strdup("out of memory");
		goto out;
	}
	while (len < (size_t)sb.st_size) {
		r = read(fd, text + len, (size_t)sb.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	if (len < (size_t)sb.st_size) {
		if (asprintf(errstr, "cannot read config file '%s'", path) < 0)
			*errstr = NULL;
		goto out;
	}
	if (conffile_parse(text, len, fn, arg, &err) < 0) {
		if (asprintf(errstr, "%s:%s", path, err ? err : "?") < 0)
			*errstr = NULL;
		goto out;
	}
	rc = 1;
out:
	free(err);
	free(text);
	close(fd);
	return rc;
}
