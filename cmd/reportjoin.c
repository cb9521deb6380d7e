/*
 * reportjoin.c - one row for a device both directories have: Entra ID's
 * devices are kept (their strings and counts, about 100 bytes and the
 * strings a device) while AD's computers stream past; a computer takes
 * the unmatched Entra device with its objectSid (Entra's
 * onPremisesSecurityIdentifier, what hybrid join records), else the one
 * with its name ignoring case.  Lookups are binary searches on two
 * indexes sorted once, when the first computer arrives.
 */
#include "cmd/report.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct jdev {
	char *name, *device_id, *sid, *os, *volumes;
	time_t last_seen, newest;
	unsigned nkeys;
	int used;
};

void
join_init(struct join *j)
{
	memset(j, 0, sizeof(*j));
}

void
join_release(struct join *j)
{
	size_t i;

	for (i = 0; i < j->n; i++) {
		free(j->v[i].name);
		free(j->v[i].device_id);
		free(j->v[i].sid);
		free(j->v[i].os);
		free(j->v[i].volumes);
	}
	free(j->v);
	free(j->by_name);
	free(j->by_sid);
	memset(j, 0, sizeof(*j));
}

/* strdup of s, NULL staying NULL; -1 when out of memory. */
static int
dup(char **dst, const char *s)
{
	*dst = NULL;
	if (s == NULL)
		return 0;
	*dst = strdup(s);
	return *dst == NULL ? -1 : 0;
}

int
join_keep(struct join *j, const struct bde_escrow *e)
{
	struct jdev *d, *nv;
	size_t cap;

	if (j->n == j->cap) {
		cap = j->cap ? j->cap * 2 : 256;
		nv = reallocarray(j->v, cap, sizeof(*nv));
		if (nv == NULL)
			return -1;
		j->v = nv;
		j->cap = cap;
	}
	d = &j->v[j->n];
	memset(d, 0, sizeof(*d));
	if (dup(&d->name, e->name) < 0 || dup(&d->device_id, e->device_id) <
	    0 || dup(&d->sid, e->sid) < 0 || dup(&d->os, e->os) < 0 ||
	    dup(&d->volumes, e->volumes) < 0) {
		free(d->name);
		free(d->device_id);
		free(d->sid);
		free(d->os);
		free(d->volumes);
		return -1;
	}
	d->last_seen = e->last_seen;
	d->newest = e->nkeys > 0 ? e->newest : 0;
	d->nkeys = e->nkeys;
	j->n++;
	return 0;
}

/* qsort has no argument: the array being sorted, for the comparators. */
static const struct jdev *sorting;

static int
by_name(const void *a, const void *b)
{
	const char *x = sorting[*(const size_t *)a].name;
	const char *y = sorting[*(const size_t *)b].name;
	int c = strcasecmp(x ? x : "", y ? y : "");

	/* equal names stay in arrival order */
	if (c == 0)
		return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
	return c;
}

static int
by_sid(const void *a, const void *b)
{
	int c = strcasecmp(sorting[*(const size_t *)a].sid,
	    sorting[*(const size_t *)b].sid);

	if (c == 0)
		return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
	return c;
}

/* Build the indexes; -1 out of memory. */
static int
sort_indexes(struct join *j)
{
	size_t i;

	j->by_name = reallocarray(NULL, j->n ? j->n : 1, sizeof(size_t));
	j->by_sid = reallocarray(NULL, j->n ? j->n : 1, sizeof(size_t));
	if (j->by_name == NULL || j->by_sid == NULL)
		return -1;
	for (i = 0; i < j->n; i++) {
		j->by_name[i] = i;
		if (j->v[i].sid != NULL)
			j->by_sid[j->nsid++] = i;
	}
	sorting = j->v;
	qsort(j->by_name, j->n, sizeof(size_t), by_name);
	qsort(j->by_sid, j->nsid, sizeof(size_t), by_sid);
	sorting = NULL;
	j->sorted = 1;
	return 0;
}

/*
 * The first unmatched device whose field (name or sid) equals key
 * ignoring case, in index idx of n entries; NULL when none.
 */
static struct jdev *
find(struct join *j, const size_t *idx, size_t n, int sid, const char *key)
{
	size_t lo = 0, hi = n, mid;
	const char *v;

	/* the first entry not below key */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		v = sid ? j->v[idx[mid]].sid : j->v[idx[mid]].name;
		if (strcasecmp(v ? v : "", key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n; lo++) {
		struct jdev *d = &j->v[idx[lo]];

		v = sid ? d->sid : d->name;
		if (strcasecmp(v ? v : "", key) != 0)
			break;
		if (!d->used)
			return d;
	}
	return NULL;
}

int
join_take(struct join *j, const struct bde_escrow *e, struct row *r)
{
	struct jdev *d = NULL;

	if (!j->sorted && sort_indexes(j) < 0)
		return -1;
	if (e->sid != NULL)
		d = find(j, j->by_sid, j->nsid, 1, e->sid);
	if (d == NULL && e->name != NULL)
		d = find(j, j->by_name, j->n, 0, e->name);
	if (d == NULL)
		return 0;
	d->used = 1;
	r->in_graph = 1;
	r->device_id = d->device_id;
	r->graph_keys = d->nkeys;
	r->graph_volumes = d->volumes;
	r->nkeys += d->nkeys;
	if (d->newest > r->newest)
		r->newest = d->newest;
	if (d->last_seen > r->last_seen)
		r->last_seen = d->last_seen;
	if (r->os == NULL)
		r->os = d->os;
	return 0;
}

int
join_next_unmatched(const struct join *j, size_t *it, struct row *r)
{
	const struct jdev *d;

	for (; *it < j->n; (*it)++) {
		d = &j->v[*it];
		if (d->used)
			continue;
		memset(r, 0, sizeof(*r));
		r->name = d->name;
		r->device_id = d->device_id;
		r->os = d->os;
		r->in_graph = 1;
		r->nkeys = r->graph_keys = d->nkeys;
		r->graph_volumes = d->volumes;
		r->newest = d->newest;
		r->last_seen = d->last_seen;
		(*it)++;
		return 1;
	}
	return 0;
}
