/*
 * reportjoin.c - one row for a device both directories have.  Entra
 * ID's devices are kept while AD's computers stream past; a computer
 * takes the unmatched Entra device with its objectSid (Entra's
 * onPremisesSecurityIdentifier, what hybrid join records), else the one
 * named as its host (dNSHostName's first label), else as its cn, ignoring
 * ASCII case; the earliest listed first.
 *
 * The devices are kept on disk (core/scratch.h), so memory does not grow
 * with the directory: a log of records (counts, times, the strings) and
 * a table from each SID's and each name's key to the first and last
 * record with it, the records of one key chained in the order listed.
 * A matched record is marked; a chain's head moves past marked ones, so
 * each record is passed over at most once per chain.
 */
#include "cmd/report.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The strings of a record, in this order. */
enum { JS_NAME, JS_DEVICE_ID, JS_SID, JS_OS, JS_VOLUMES, JS_COUNT };
#define JS_NULL 0xffffu		/* a length that says "absent" */
#define JS_MAX 0xfff0u		/* the longest string kept */

/* The chains a record is on: by SID, by name. */
enum { JK_SID, JK_NAME, JK_COUNT };

/* A record on disk: this header, then the strings without their NULs. */
struct jrec {
	uint32_t used;			/* a computer took it */
	uint32_t nkeys;
	int64_t newest, last_seen;
	uint64_t next[JK_COUNT];	/* the next with the key: offset + 1 */
	uint16_t len[JS_COUNT];
};

/* What the table holds for a key: its chain, offsets + 1 (0: none). */
struct jchain {
	uint64_t head, tail;
};

void
join_init(struct join *j)
{
	memset(j, 0, sizeof(*j));
}

void
join_release(struct join *j)
{
	bde_scratch_free(j->log);
	bde_dtab_free(j->idx);
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* a and b equal ignoring ASCII case (what the key folds). */
static int
same(const char *a, const char *b)
{
	while (*a != '\0' && lower((unsigned char)*a) ==
	    lower((unsigned char)*b))
		a++, b++;
	return lower((unsigned char)*a) == lower((unsigned char)*b);
}

/*
 * The table's key of s on chain kind: two FNV-1a hashes of the kind and
 * s folded to lower case, each from its own random seed (128 bits: two
 * strings that share a key are compared anyway).
 */
static void
key_of(const struct join *j, int kind, const char *s, uint64_t key[2])
{
	int i;

	for (i = 0; i < 2; i++) {
		const unsigned char *p = (const unsigned char *)s;
		uint64_t h = 0xcbf29ce484222325ULL ^ j->seed[i];

		h = (h ^ (unsigned char)kind) * 0x100000001b3ULL;
		for (; *p != '\0'; p++)
			h = (h ^ lower(*p)) * 0x100000001b3ULL;
		key[i] = h;
	}
}

/* The scratch file and the table, made when the first device comes. */
static enum bde_status
join_open(struct join *j, char **errstr)
{
	enum bde_status st;

	if (j->log != NULL)
		return BDE_OK;
	arc4random_buf(j->seed, sizeof(j->seed));
	st = bde_scratch_new(&j->log, errstr);
	if (st == BDE_OK)
		st = bde_dtab_new(2 * sizeof(uint64_t), sizeof(struct jchain),
		    &j->idx, errstr);
	return st;
}

/* Put record off at the end of the chain of s. */
static enum bde_status
chain_add(struct join *j, int kind, const char *s, uint64_t off,
    char **errstr)
{
	struct jchain c;
	enum bde_status st;
	uint64_t key[2], link = off + 1;
	int found;

	key_of(j, kind, s, key);
	st = bde_dtab_get(j->idx, key, &c, &found, errstr);
	if (st != BDE_OK)
		return st;
	if (found) {
		st = bde_scratch_write(j->log, c.tail - 1 +
		    offsetof(struct jrec, next) + kind * sizeof(uint64_t),
		    &link, sizeof(link), errstr);
		if (st != BDE_OK)
			return st;
	}
	/* a chain whose records were all taken has no head: this is it */
	if (!found || c.head == 0)
		c.head = link;
	c.tail = link;
	return bde_dtab_put(j->idx, key, &c, errstr);
}

enum bde_status
join_keep(struct join *j, const struct bde_escrow *e, char **errstr)
{
	const char *str[JS_COUNT] = { e->name, e->device_id, e->sid, e->os,
	    e->volumes };
	struct jrec h;
	enum bde_status st;
	uint64_t off;
	size_t n;
	int i;

	st = join_open(j, errstr);
	if (st != BDE_OK)
		return st;
	memset(&h, 0, sizeof(h));
	h.nkeys = e->nkeys;
	h.newest = e->nkeys > 0 ? (int64_t)e->newest : 0;
	h.last_seen = (int64_t)e->last_seen;
	for (i = 0; i < JS_COUNT; i++) {
		n = str[i] != NULL ? strlen(str[i]) : 0;
		if (n > JS_MAX)
			return bde_error(errstr, BDE_EPROTO, "a device's "
			    "string of %zu bytes", n);
		h.len[i] = str[i] != NULL ? (uint16_t)n : JS_NULL;
	}
	st = bde_scratch_append(j->log, &h, sizeof(h), &off, errstr);
	for (i = 0; i < JS_COUNT && st == BDE_OK; i++)
		if (str[i] != NULL)
			st = bde_scratch_append(j->log, str[i], h.len[i], NULL,
			    errstr);
	if (st == BDE_OK && e->sid != NULL)
		st = chain_add(j, JK_SID, e->sid, off, errstr);
	if (st == BDE_OK && e->name != NULL)
		st = chain_add(j, JK_NAME, e->name, off, errstr);
	return st;
}

/*
 * The record at off into *h and its strings into str (NUL-terminated in
 * j->buf, valid until the next read); *end is where the next starts.
 */
static enum bde_status
rec_read(struct join *j, uint64_t off, struct jrec *h,
    const char *str[JS_COUNT], uint64_t *end, char **errstr)
{
	enum bde_status st;
	size_t need = 0, at = 0;
	char *p;
	int i;

	st = bde_scratch_read(j->log, off, h, sizeof(*h), errstr);
	if (st != BDE_OK)
		return st;
	for (i = 0; i < JS_COUNT; i++)
		need += (h->len[i] != JS_NULL ? h->len[i] : 0) + 1;
	if (need > j->cap) {
		p = realloc(j->buf, need);
		if (p == NULL)
			return bde_error(errstr, BDE_ENOMEM, "out of memory");
		j->buf = p;
		j->cap = need;
	}
	off += sizeof(*h);
	for (i = 0; i < JS_COUNT; i++) {
		str[i] = NULL;
		if (h->len[i] == JS_NULL)
			continue;
		st = bde_scratch_read(j->log, off, j->buf + at, h->len[i],
		    errstr);
		if (st != BDE_OK)
			return st;
		j->buf[at + h->len[i]] = '\0';
		str[i] = j->buf + at;
		off += h->len[i];
		at += h->len[i] + 1u;
	}
	*end = off;
	return BDE_OK;
}

/* Record h's strings and counts into row r. */
static void
rec_row(const struct jrec *h, const char *str[JS_COUNT], struct row *r)
{
	r->in_graph = 1;
	r->device_id = str[JS_DEVICE_ID];
	r->graph_keys = h->nkeys;
	r->graph_volumes = str[JS_VOLUMES];
	r->nkeys += h->nkeys;
	if (h->newest > (int64_t)r->newest)
		r->newest = (time_t)h->newest;
	if (h->last_seen > (int64_t)r->last_seen)
		r->last_seen = (time_t)h->last_seen;
	if (r->os == NULL)
		r->os = str[JS_OS];
}

/*
 * The first unmatched record on s's chain whose string equals s: merged
 * into r and marked (*taken 1), or nothing (*taken 0).
 */
static enum bde_status
chain_take(struct join *j, int kind, const char *s, struct row *r,
    int *taken, char **errstr)
{
	const char *str[JS_COUNT];
	struct jchain c;
	struct jrec h;
	enum bde_status st;
	uint64_t key[2], at, end, one = 1, head;
	int found, skipping = 1;

	*taken = 0;
	key_of(j, kind, s, key);
	st = bde_dtab_get(j->idx, key, &c, &found, errstr);
	if (st != BDE_OK || !found)
		return st;
	head = c.head;
	for (at = c.head; at != 0 && !*taken; at = h.next[kind]) {
		st = rec_read(j, at - 1, &h, str, &end, errstr);
		if (st != BDE_OK)
			return st;
		/* the head moves past what is taken, up to the first left */
		if (h.used) {
			if (skipping)
				head = h.next[kind];
			continue;
		}
		skipping = 0;
		if (!same(str[kind == JK_SID ? JS_SID : JS_NAME], s))
			continue;
		st = bde_scratch_write(j->log, at - 1 + offsetof(struct jrec,
		    used), &one, sizeof(uint32_t), errstr);
		if (st != BDE_OK)
			return st;
		rec_row(&h, str, r);
		*taken = 1;
	}
	if (head == c.head)
		return BDE_OK;
	/* an empty chain keeps its tail: a later device links onto it */
	c.head = head;
	return bde_dtab_put(j->idx, key, &c, errstr);
}

enum bde_status
join_take(struct join *j, const struct bde_escrow *e, struct row *r,
    char **errstr)
{
	enum bde_status st = BDE_OK;
	int taken = 0;

	if (j->log == NULL)
		return BDE_OK;
	if (e->sid != NULL)
		st = chain_take(j, JK_SID, e->sid, r, &taken, errstr);
	/* Entra's displayName is the host name, which cn may cut short */
	if (st == BDE_OK && !taken && e->host != NULL)
		st = chain_take(j, JK_NAME, e->host, r, &taken, errstr);
	if (st == BDE_OK && !taken && e->name != NULL && (e->host == NULL ||
	    !same(e->host, e->name)))
		st = chain_take(j, JK_NAME, e->name, r, &taken, errstr);
	return st;
}

enum bde_status
join_next_unmatched(struct join *j, uint64_t *it, struct row *r, int *got,
    char **errstr)
{
	const char *str[JS_COUNT];
	struct jrec h;
	enum bde_status st;
	uint64_t end;

	*got = 0;
	while (j->log != NULL && *it < bde_scratch_size(j->log)) {
		st = rec_read(j, *it, &h, str, &end, errstr);
		if (st != BDE_OK)
			return st;
		*it = end;
		if (h.used)
			continue;
		memset(r, 0, sizeof(*r));
		r->name = str[JS_NAME];
		rec_row(&h, str, r);
		*got = 1;
		break;
	}
	return BDE_OK;
}
