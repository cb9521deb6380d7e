/*
 * audit.c - the append-only audit log (see audit.h).
 */
#include "cmd/audit.h"
#include "cmd/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Said whenever the log cannot be written: then nothing goes ahead. */
#define NO_RECORD "nothing is revealed or changed without a record"

/* mkdir -p for the log's directory, new directories 0700. */
static int
make_parent(const char *path)
{
	char *dir = strdup(path), *p;
	int rc = -1;

	if (dir == NULL)
		return -1;
	p = strrchr(dir, '/');
	if (p == NULL || p == dir) {
		rc = 0;
		goto out;
	}
	*p = '\0';
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			goto out;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto out;
	rc = 0;
out:
	free(dir);
	return rc;
}

/* One open log. */
struct audit {
	int fd;
	char *path;
};

/*
 * Open (creating it and its directory, 0600/0700) the log at path for
 * appending.  Returns 0, or -1 after printing why.
 */
static int
audit_open(struct audit *a, const char *path)
{
	a->fd = -1;
	a->path = strdup(path);
	if (a->path == NULL) {
		cmd_warn("out of memory");
		return -1;
	}
	if (make_parent(path) < 0) {
		cmd_warn("audit log '%s': cannot create its directory: %s; "
		    NO_RECORD, path, strerror(errno));
		return -1;
	}
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0600);
	if (a->fd < 0) {
		cmd_warn("audit log '%s': %s; " NO_RECORD, path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

cJSON *
audit_record_new(const char *action, const struct bde_key *k,
    const char *identity, const char *reason)
{
	struct passwd *pw = getpwuid(getuid());
	char now[21], host[256];
	cJSON *rec = cJSON_CreateObject();

	if (rec == NULL)
		return NULL;
	bde_time_format(time(NULL), now);
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "?");
	host[sizeof(host) - 1] = '\0';
	cJSON_AddStringToObject(rec, "time", now);
	cJSON_AddStringToObject(rec, "user", pw ? pw->pw_name : "?");
	cJSON_AddNumberToObject(rec, "uid", (double)getuid());
	cJSON_AddStringToObject(rec, "host", host);
	cJSON_AddStringToObject(rec, "action", action);
	/* names and DNs come from a directory: valid UTF-8 whatever it sent */
	if (cmd_json_add(rec, "identity", identity) < 0)
		goto fail;
	if (k != NULL) {
		cJSON_AddStringToObject(rec, "source", k->source);
		if ((k->device && cmd_json_add(rec, "device", k->device) < 0) ||
		    (k->device_id &&
		    cmd_json_add(rec, "device_id", k->device_id) < 0) ||
		    cmd_json_add(rec, "key_id", k->key_id) < 0 ||
		    (k->dn && cmd_json_add(rec, "dn", k->dn) < 0))
			goto fail;
	}
	if (cmd_json_add(rec, "reason", reason) < 0)
		goto fail;
	return rec;
fail:
	cJSON_Delete(rec);
	return NULL;
}

/* Append rec as one line (one write(2)) and free it; 0 or -1 (printed). */
static int
audit_write(struct audit *a, cJSON *rec)
{
	char *line = NULL;
	size_t len;
	ssize_t w;
	int rc = -1;

	line = cJSON_PrintUnformatted(rec);
	if (line == NULL) {
		cmd_warn("out of memory");
		goto out;
	}
	len = strlen(line);
	line[len] = '\n';
	/* one write of the whole line: O_APPEND keeps lines whole */
	w = write(a->fd, line, len + 1);
	if (w != (ssize_t)(len + 1)) {
		cmd_warn("audit log '%s': %s; " NO_RECORD,
		    a->path, w < 0 ? strerror(errno) : "short write");
		goto out;
	}
	rc = 0;
out:
	free(line);
	cJSON_Delete(rec);
	return rc;
}

/* fsync and close; 0, or -1 after printing why (then show nothing). */
static int
audit_close(struct audit *a)
{
	int rc = 0;

	if (a->fd >= 0) {
		if (fsync(a->fd) < 0) {
			cmd_warn("audit log '%s': %s; " NO_RECORD,
			    a->path, strerror(errno));
			rc = -1;
		}
		if (close(a->fd) < 0 && rc == 0) {
			cmd_warn("audit log '%s': %s; " NO_RECORD,
			    a->path, strerror(errno));
			rc = -1;
		}
	}
	a->fd = -1;
	free(a->path);
	a->path = NULL;
	return rc;
}

int
audit_append(const char *path, cJSON *rec)
{
	struct audit a;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	a.fd = -1;
	if (audit_open(&a, path) < 0) {
		cJSON_Delete(rec);
		goto out;
	}
	rc = audit_write(&a, rec);
out:
	if (audit_close(&a) < 0)
		rc = -1;
	return rc;
}
