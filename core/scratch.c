/*
 * scratch.c - an unlinked temporary file as working storage, and a hash
 * table of fixed-size records kept in one (see scratch.h).
 */
#include "core/scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bde_scratch {
	int fd;
	uint64_t size;		/* bytes written: the end */
	char *dir;		/* for messages */
};

/* $TMPDIR when it is an absolute path, else /tmp (static or environ). */
static const char *
scratch_dir(void)
{
	const char *d = getenv("TMPDIR");

	return d != NULL && d[0] == '/' ? d : "/tmp";
}

static enum bde_status
scratch_fail(const struct bde_scratch *s, const char *what, char **errstr)
{
	return bde_error(errstr, BDE_EIO, "the report's scratch file in %s: "
	    "%s: %s", s->dir, what, strerror(errno));
}

enum bde_status
bde_scratch_new(struct bde_scratch **out, char **errstr)
{
	struct bde_scratch *s;
	enum bde_status st = BDE_OK;
	char *path = NULL;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s != NULL)
		s->fd = -1;
	if (s == NULL || (s->dir = strdup(scratch_dir())) == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	/* a file without a name: nothing to clean up, nothing to find */
	s->fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
	    errno == EINVAL)) {
		if (asprintf(&path, "%s/bdekey-report.XXXXXX", s->dir) < 0) {
			path = NULL;
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		/* mkstemp: O_EXCL, mode 0600; the name is gone at once */
		s->fd = mkostemp(path, O_CLOEXEC);
		if (s->fd >= 0 && unlink(path) < 0) {
			st = scratch_fail(s, "cannot unlink it", errstr);
			goto out;
		}
	}
	if (s->fd < 0) {
		st = scratch_fail(s, "cannot create it", errstr);
		goto out;
	}
	*out = s;
	s = NULL;
out:
	free(path);
	bde_scratch_free(s);
	return st;
}

void
bde_scratch_free(struct bde_scratch *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->dir);
	free(s);
}

uint64_t
bde_scratch_size(const struct bde_scratch *s)
{
	return s->size;
}

enum bde_status
bde_scratch_read(struct bde_scratch *s, uint64_t off, void *buf, size_t len,
    char **errstr)
{
	unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		if (off > (uint64_t)LLONG_MAX - len) {
			errno = EFBIG;
			return scratch_fail(s, "cannot read it", errstr);
		}
		n = pread(s->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return scratch_fail(s, "cannot read it", errstr);
		if (n == 0) {
			/* past the end: what was never written reads as 0 */
			memset(p, 0, len);
			break;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return BDE_OK;
}

enum bde_status
bde_scratch_write(struct bde_scratch *s, uint64_t off, const void *buf,
    size_t len, char **errstr)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		if (off > (uint64_t)LLONG_MAX - len) {
			errno = EFBIG;
			return scratch_fail(s, "cannot write it", errstr);
		}
		n = pwrite(s->fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return scratch_fail(s, "cannot write it", errstr);
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
		if (off > s->size)
			s->size = off;
	}
	return BDE_OK;
}

enum bde_status
bde_scratch_append(struct bde_scratch *s, const void *buf, size_t len,
    uint64_t *off, char **errstr)
{
	if (off != NULL)
		*off = s->size;
	return bde_scratch_write(s, s->size, buf, len, errstr);
}

/* ------------------------------------------------------------------ */
/* The table                                                            */

#define DTAB_FIRST 4096		/* slots at first (a power of 2) */
#define DTAB_RUN 16		/* slots read by one probe */
#define DTAB_MAX_SLOTS (1ULL << 40)
#define DTAB_COPY 65536		/* bytes read at a time while growing */

/* A slot: a byte that says it is used, the key, the value. */
struct bde_dtab {
	struct bde_scratch *f;
	size_t keysize, valsize, slotsize;
	uint64_t nslot, n;
	uint64_t seed[2];
	unsigned char *run;	/* DTAB_RUN slots, the last probe's */
	/* the last get's answer, so the put after it need not probe again */
	unsigned char last_key[64];
	uint64_t last_pos;
	int last_found, last_valid;
};

/* MurmurHash3's 64-bit finaliser: every bit mixes. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Where key's probe starts: its bytes folded 8 at a time with the seed. */
static uint64_t
dtab_home(const struct bde_dtab *t, const unsigned char *key)
{
	uint64_t h = t->seed[0], w;
	size_t i, n;

	for (i = 0; i < t->keysize; i += 8) {
		w = 0;
		n = t->keysize - i < 8 ? t->keysize - i : 8;
		memcpy(&w, key + i, n);
		h = mix64(h ^ w) + t->seed[1];
	}
	return mix64(h ^ t->keysize) & (t->nslot - 1);
}

/*
 * Where key is (*found 1, its slot in t->run at *at) or the free slot
 * it would take (*found 0).  *pos is the slot's number.
 */
static enum bde_status
dtab_find(struct bde_dtab *t, const unsigned char *key, uint64_t *pos,
    int *found, const unsigned char **at, char **errstr)
{
	uint64_t p = dtab_home(t, key), n, i, seen = 0;
	enum bde_status st;
	const unsigned char *slot;

	for (;;) {
		/* the slots from p to the end of the table, DTAB_RUN at most */
		n = DTAB_RUN;
		if (t->nslot - p < n)
			n = t->nslot - p;
		st = bde_scratch_read(t->f, p * t->slotsize, t->run,
		    (size_t)n * t->slotsize, errstr);
		if (st != BDE_OK)
			return st;
		for (i = 0; i < n; i++) {
			slot = t->run + i * t->slotsize;
			/* never full (at most 3/4): a free slot ends it */
			if (slot[0] == 0 || memcmp(slot + 1, key,
			    t->keysize) == 0) {
				*pos = p + i;
				*found = slot[0] != 0;
				*at = slot;
				return BDE_OK;
			}
		}
		seen += n;
		if (seen >= t->nslot)
			return bde_error(errstr, BDE_EIO, "the report's "
			    "scratch table is full");
		p = (p + n) & (t->nslot - 1);
	}
}

/* A table of nslot slots in a new file, with t's seed and sizes. */
static enum bde_status
dtab_file(struct bde_dtab *t, uint64_t nslot, char **errstr)
{
	enum bde_status st;

	st = bde_scratch_new(&t->f, errstr);
	if (st != BDE_OK)
		return st;
	t->nslot = nslot;
	t->n = 0;
	return BDE_OK;
}

/* Store slot (used byte, key, value) at pos; counts a new key. */
static enum bde_status
dtab_store(struct bde_dtab *t, uint64_t pos, int found, const void *key,
    const void *val, char **errstr)
{
	unsigned char *slot = t->run;	/* the probe is done with it */
	enum bde_status st;

	slot[0] = 1;
	memcpy(slot + 1, key, t->keysize);
	memcpy(slot + 1 + t->keysize, val, t->valsize);
	t->last_valid = 0;
	st = bde_scratch_write(t->f, pos * t->slotsize, slot, t->slotsize,
	    errstr);
	if (st == BDE_OK && !found)
		t->n++;
	return st;
}

/* Twice the slots, in a new file: every used slot placed again. */
static enum bde_status
dtab_grow(struct bde_dtab *t, char **errstr)
{
	struct bde_scratch *old = t->f;
	uint64_t oldn = t->nslot, count = t->n, per = DTAB_COPY / t->slotsize, i, j, n, pos;
	unsigned char *buf, *slot;
	const unsigned char *at;
	enum bde_status st;
	int found;

	if (oldn * 2 > DTAB_MAX_SLOTS)
		return bde_error(errstr, BDE_EIO, "the report's scratch table "
		    "would pass %llu slots", (unsigned long long)DTAB_MAX_SLOTS);
	buf = malloc((size_t)per * t->slotsize);
	if (buf == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	st = dtab_file(t, oldn * 2, errstr);
	if (st != BDE_OK) {
		t->f = old;
		t->n = count;
		goto out;
	}
	for (i = 0; i < oldn && st == BDE_OK; i += n) {
		n = oldn - i < per ? oldn - i : per;
		st = bde_scratch_read(old, i * t->slotsize, buf,
		    (size_t)n * t->slotsize, errstr);
		for (j = 0; j < n && st == BDE_OK; j++) {
			slot = buf + j * t->slotsize;
			if (slot[0] == 0)
				continue;
			st = dtab_find(t, slot + 1, &pos, &found, &at, errstr);
			if (st == BDE_OK)
				st = dtab_store(t, pos, found, slot + 1,
				    slot + 1 + t->keysize, errstr);
		}
	}
	if (st != BDE_OK) {
		/* the old table stands: nothing was lost */
		bde_scratch_free(t->f);
		t->f = old;
		t->nslot = oldn;
		t->n = count;
		goto out;
	}
	bde_scratch_free(old);
out:
	free(buf);
	return st;
}

enum bde_status
bde_dtab_new(size_t keysize, size_t valsize, struct bde_dtab **out,
    char **errstr)
{
	struct bde_dtab *t;
	enum bde_status st = BDE_OK;

	*out = NULL;
	if (keysize == 0 || keysize > 64 || valsize > 256)
		return bde_error(errstr, BDE_EUSAGE, "bad table sizes");
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	t->keysize = keysize;
	t->valsize = valsize;
	t->slotsize = 1 + keysize + valsize;
	arc4random_buf(t->seed, sizeof(t->seed));
	t->run = malloc(DTAB_RUN * t->slotsize);
	if (t->run == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = dtab_file(t, DTAB_FIRST, errstr);
	if (st != BDE_OK)
		goto out;
	*out = t;
	t = NULL;
out:
	bde_dtab_free(t);
	return st;
}

void
bde_dtab_free(struct bde_dtab *t)
{
	if (t == NULL)
		return;
	bde_scratch_free(t->f);
	free(t->run);
	free(t);
}

uint64_t
bde_dtab_count(const struct bde_dtab *t)
{
	return t->n;
}

enum bde_status
bde_dtab_get(struct bde_dtab *t, const void *key, void *val, int *found,
    char **errstr)
{
	const unsigned char *at;
	enum bde_status st;
	uint64_t pos;

	memset(val, 0, t->valsize);
	t->last_valid = 0;
	st = dtab_find(t, key, &pos, found, &at, errstr);
	if (st != BDE_OK)
		return st;
	if (*found)
		memcpy(val, at + 1 + t->keysize, t->valsize);
	memcpy(t->last_key, key, t->keysize);
	t->last_pos = pos;
	t->last_found = *found;
	t->last_valid = 1;
	return BDE_OK;
}

enum bde_status
bde_dtab_put(struct bde_dtab *t, const void *key, const void *val,
    char **errstr)
{
	const unsigned char *at;
	enum bde_status st = BDE_OK;
	uint64_t pos;
	int found;

	/* right after a get of the same key: where it is (or would go) */
	if (t->last_valid && memcmp(t->last_key, key, t->keysize) == 0) {
		pos = t->last_pos;
		found = t->last_found;
	} else {
		st = dtab_find(t, key, &pos, &found, &at, errstr);
	}
	if (st == BDE_OK && !found && (t->n + 1) * 4 > t->nslot * 3) {
		st = dtab_grow(t, errstr);
		if (st == BDE_OK)
			st = dtab_find(t, key, &pos, &found, &at, errstr);
	}
	if (st != BDE_OK)
		return st;
	return dtab_store(t, pos, found, key, val, errstr);
}

enum bde_status
bde_dtab_each(struct bde_dtab *t, int (*fn)(const void *key,
    const void *val, void *arg), void *arg, char **errstr)
{
	uint64_t per = DTAB_COPY / t->slotsize, i, j, n;
	unsigned char *buf, *slot;
	enum bde_status st = BDE_OK;

	buf = malloc((size_t)per * t->slotsize);
	if (buf == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	for (i = 0; i < t->nslot && st == BDE_OK; i += n) {
		n = t->nslot - i < per ? t->nslot - i : per;
		st = bde_scratch_read(t->f, i * t->slotsize, buf,
		    (size_t)n * t->slotsize, errstr);
		for (j = 0; j < n && st == BDE_OK; j++) {
			slot = buf + j * t->slotsize;
			if (slot[0] != 0 && fn(slot + 1, slot + 1 + t->keysize,
			    arg) != 0)
				st = bde_error(errstr, BDE_EIO, "stopped");
		}
	}
	free(buf);
	return st;
}
