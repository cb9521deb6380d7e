/*
 * core.c - status codes, key records and lists, key IDs, GUIDs, secrets.
 */
#include "core.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

const char *
bde_status_kind(enum bde_status st)
{
	switch (st) {
	case BDE_OK:
		return "ok";
	case BDE_ENOTFOUND:
		return "notfound";
	case BDE_EUSAGE:
		return "usage";
	case BDE_ECONFIG:
		return "config";
	case BDE_EAUTH:
		return "auth";
	case BDE_EPERM:
		return "permission";
	case BDE_EUNREACH:
		return "unreachable";
	case BDE_EPROTO:
		return "protocol";
	case BDE_ENOMEM:
		return "memory";
	case BDE_EIO:
		return "io";
	case BDE_EBADKEY:
		return "bad-key";
	}
	return "unknown";
}

enum bde_status
bde_error(char **errstr, enum bde_status st, const char *fmt, ...)
{
	va_list ap;

	if (errstr == NULL)
		return st;
	free(*errstr);
	*errstr = NULL;
	va_start(ap, fmt);
	if (vasprintf(errstr, fmt, ap) < 0)
		*errstr = NULL;
	va_end(ap);
	return st;
}

struct bde_key *
bde_keylist_add(struct bde_keylist *l)
{
	struct bde_key *k;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct bde_key *v = reallocarray(l->v, cap, sizeof(*v));

		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	k = &l->v[l->n++];
	memset(k, 0, sizeof(*k));
	return k;
}

void
bde_key_release(struct bde_key *k)
{
	free(k->device);
	free(k->device_id);
	free(k->dn);
	free(k->computer_dn);
	free(k->volume_guid);
	free(k->volume);
	bde_secret_free(k->password);
	memset(k, 0, sizeof(*k));
}

void
bde_keylist_free(struct bde_keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		bde_key_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int
key_cmp_newest(const void *a, const void *b)
{
	const struct bde_key *x = a, *y = b;

	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return strcmp(x->key_id, y->key_id);
}

void
bde_keylist_sort(struct bde_keylist *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), key_cmp_newest);
}

enum bde_status
bde_keyid_parse(const char *s, struct bde_keyid *out, char **errstr)
{
	size_t i, n, len;
	const char *p = s;

	memset(out, 0, sizeof(*out));
	while (isspace((unsigned char)*p))
		p++;
	len = strlen(p);
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	if (len > 0 && p[0] == '{') {
		p++;
		len--;
		/* a closing brace is optional: a prefix need not be complete */
		if (len > 0 && p[len - 1] == '}')
			len--;
	} else if (len > 0 && p[len - 1] == '}') {
		return bde_error(errstr, BDE_EUSAGE,
		    "key ID '%s': closing brace without an opening one", s);
	}
	for (i = 0, n = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '-') {
			/* dashes only where a GUID has them: 8-4-4-4-12 */
			if (n != 8 && n != 12 && n != 16 && n != 20)
				return bde_error(errstr, BDE_EUSAGE,
				    "key ID '%s': misplaced '-' after %zu hex "
				    "digits", s, n);
			if (i + 1 < len && p[i + 1] == '-')
				return bde_error(errstr, BDE_EUSAGE,
				    "key ID '%s': doubled '-'", s);
			continue;
		}
		if (!isxdigit(c))
			return bde_error(errstr, BDE_EUSAGE,
			    "key ID '%s': '%c' is not a hex digit", s,
			    isprint(c) ? c : '?');
		if (n == 32)
			return bde_error(errstr, BDE_EUSAGE,
			    "key ID '%s': more than 32 hex digits", s);
		out->hex[n++] = (char)toupper(c);
	}
	if (n < 8)
		return bde_error(errstr, BDE_EUSAGE,
		    "key ID '%s': need at least the first 8 hex digits", s);
	out->hex[n] = '\0';
	out->len = n;
	return BDE_OK;
}

int
bde_keyid_match(const struct bde_keyid *q, const char *guid)
{
	size_t i, n = 0;

	for (i = 0; guid[i] != '\0' && n < q->len; i++) {
		if (guid[i] == '-' || guid[i] == '{')
			continue;
		if (toupper((unsigned char)guid[i]) != q->hex[n])
			return 0;
		n++;
	}
	return n == q->len;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = toupper(c);
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
bde_guid_parse(const char *s, uint8_t g[16])
{
	static const int dash_at[] = { 8, 13, 18, 23 };
	size_t i, n = 0, len = strlen(s);
	int d = 0;

	if (len == 38 && s[0] == '{' && s[37] == '}') {
		s++;
		len = 36;
	}
	if (len != 36)
		return -1;
	for (i = 0; i < 36; i++) {
		int hi, lo;

		if (d < 4 && (int)i == dash_at[d]) {
			if (s[i] != '-')
				return -1;
			d++;
			continue;
		}
		hi = hexval((unsigned char)s[i]);
		lo = hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0 || (d < 4 && (int)i + 1 == dash_at[d]))
			return -1;
		g[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return n == 16 ? 0 : -1;
}

void
bde_guid_format(const uint8_t g[16], char *out)
{
	snprintf(out, BDE_GUID_LEN + 1,
	    "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
	    "%02X%02X%02X%02X%02X%02X",
	    g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
	    g[10], g[11], g[12], g[13], g[14], g[15]);
}

void
bde_guid_swap_ms(const uint8_t in[16], uint8_t out[16])
{
	static const int perm[16] = {
		3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15
	};
	uint8_t tmp[16];
	int i;

	for (i = 0; i < 16; i++)
		tmp[i] = in[perm[i]];
	memcpy(out, tmp, 16);
}

char *
bde_guid_lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

void
bde_guid_random(char out[BDE_GUID_LEN + 1])
{
	uint8_t g[16];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(g)) {
		r = getrandom(g + n, sizeof(g) - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			abort();	/* no entropy: nothing safe to do */
		n += (size_t)r;
	}
	/* RFC 4122 4.4: version 4, variant 10xx */
	g[6] = (uint8_t)((g[6] & 0x0f) | 0x40);
	g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
	bde_guid_format(g, out);
	bde_guid_lower(out);
}

void
bde_time_format(time_t t, char out[21])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(out, "1970-01-01T00:00:00Z");
}

void
bde_secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void
bde_device_release(struct bde_device *d)
{
	free(d->id);
	free(d->name);
	free(d->device_id);
	memset(d, 0, sizeof(*d));
}

void
bde_package_release(struct bde_package *p)
{
	if (p->data != NULL) {
		explicit_bzero(p->data, p->len);
		free(p->data);
	}
	free(p->device);
	free(p->key_id);
	memset(p, 0, sizeof(*p));
}

enum bde_status
bde_secret_read_file(const char *path, char **out, char **errstr)
{
	char buf[4096];
	struct stat sb;
	enum bde_status st = BDE_OK;
	ssize_t r;
	size_t len = 0;
	int fd = -1;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		st = bde_error(errstr, BDE_EIO, "cannot open '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		st = bde_error(errstr, BDE_EIO, "cannot stat '%s': %s", path,
		    strerror(errno));
		goto out;
	}
	if (S_ISREG(sb.st_mode) && (sb.st_mode & 077) != 0) {
		st = bde_error(errstr, BDE_ECONFIG,
		    "secret file '%s' is readable by others: chmod 600 it",
		    path);
		goto out;
	}
	for (;;) {
		r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			st = bde_error(errstr, BDE_EIO, "cannot read '%s': %s",
			    path, strerror(errno));
			goto out;
		}
		if (r == 0 || memchr(buf + len, '\n', (size_t)r) != NULL) {
			len += (size_t)r;
			break;
		}
		len += (size_t)r;
		/* a secret is one line; never cut one short silently */
		if (len == sizeof(buf) - 1) {
			st = bde_error(errstr, BDE_ECONFIG, "the first line of "
			    "secret file '%s' is too long (at most %zu "
			    "characters)", path, sizeof(buf) - 2);
			goto out;
		}
	}
	buf[len] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (len == 0) {
		st = bde_error(errstr, BDE_ECONFIG, "secret file '%s' is empty",
		    path);
		goto out;
	}
	*out = strdup(buf);
	if (*out == NULL)
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return st;
}
