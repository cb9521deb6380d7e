/*
 * find.c - run the backends and merge their keys (see find.h).
 */
#include "cmd/find.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *
run_job(void *arg)
{
	struct find_job *j = arg;
	struct bde_backend b;
	size_t i;

	memset(&b, 0, sizeof(b));
	j->st = j->backend->open(j->s, &b, &j->err);
	if (j->st != BDE_OK)
		return NULL;
	if (j->device != NULL)
		j->st = b.ops->by_device(b.self, j->device, j->flags, &j->keys,
		    &j->err);
	else
		j->st = b.ops->by_keyid(b.self, j->id, j->flags, &j->keys,
		    &j->err);
	/* keys name their source by the table's name: see find_identity */
	for (i = 0; i < j->keys.n; i++)
		j->keys.v[i].source = j->backend->name;
	if (b.ops->identity(b.self) != NULL)
		j->identity = strdup(b.ops->identity(b.self));
	b.ops->close(b.self);
	return NULL;
}

/* A key seen by both backends: fill what the first lacks from the second. */
static void
steal(char **dst, char **src)
{
	if (*dst == NULL) {
		*dst = *src;
		*src = NULL;
	}
}

/* Whether both passwords were read and are not the same: not one key. */
static int
differ(const struct bde_key *a, const struct bde_key *b)
{
	return a->pw == BDE_PW_READ && b->pw == BDE_PW_READ &&
	    strcmp(a->password, b->password) != 0;
}

/* Move every key of src into dst, merging a key ID already there. */
static int
merge(struct bde_keylist *dst, struct bde_keylist *src)
{
	size_t i, k;

	for (i = 0; i < src->n; i++) {
		struct bde_key *s = &src->v[i], *d = NULL;

		/*
		 * one key seen by two directories is one entry; two objects
		 * of one directory with one ID are two (a duplicate backup,
		 * or a forgery on another computer): both are listed
		 */
		for (k = 0; k < dst->n && d == NULL; k++)
			if (dst->v[k].source != s->source &&
			    dst->v[k].also == NULL &&
			    strcmp(dst->v[k].key_id, s->key_id) == 0 &&
			    !differ(&dst->v[k], s))
				d = &dst->v[k];
		if (d != NULL) {
			d->also = s->source;
			steal(&d->device_id, &s->device_id);
			steal(&d->volume, &s->volume);
			steal(&d->volume_guid, &s->volume_guid);
			steal(&d->dn, &s->dn);
			steal(&d->computer_dn, &s->computer_dn);
			if (d->pw != BDE_PW_READ && s->pw == BDE_PW_READ) {
				bde_secret_free(d->password);
				d->password = s->password;
				s->password = NULL;
				d->pw = BDE_PW_READ;
			}
			bde_key_release(s);
			continue;
		}
		d = bde_keylist_add(dst);
		if (d == NULL)
			return -1;
		*d = *s;
		memset(s, 0, sizeof(*s));
	}
	src->n = 0;
	return 0;
}

/* Keep only the keys whose ID starts with id. */
static void
filter_keyid(struct bde_keylist *l, const struct bde_keyid *id)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++) {
		if (bde_keyid_match(id, l->v[i].key_id))
			l->v[n++] = l->v[i];
		else
			bde_key_release(&l->v[i]);
	}
	l->n = n;
}

/* A long key-ID scan (Graph reads every key) shows progress on a TTY. */
static void
scan_progress(void *arg, unsigned long scanned, unsigned long matched)
{
	int *shown = arg;

	if (scanned < 1000 && !*shown)
		return;
	*shown = 1;
	fprintf(stderr, "\rbdekey: graph: %lu keys scanned, %lu matching",
	    scanned, matched);
	fflush(stderr);
}

int
find_keys(struct find *f, struct settings *s, unsigned want,
    const char *device, const struct bde_keyid *id, int flags)
{
	int started[FIND_MAX_JOBS] = { 0 };
	const struct backend *b;
	size_t i;

	memset(f, 0, sizeof(*f));
	for (b = backends; b->name != NULL; b++) {
		if (!(want & b->bit) || f->njobs == FIND_MAX_JOBS)
			continue;
		f->job[f->njobs++].backend = b;
	}
	for (i = 0; i < f->njobs; i++) {
		f->job[i].s = s;
		f->job[i].device = device;
		f->job[i].id = id;
		f->job[i].flags = flags;
	}
	if (device == NULL && isatty(STDERR_FILENO)) {
		s->graph.progress = scan_progress;
		s->graph.progress_arg = &f->progress_shown;
	}
	/* one backend runs here; two run side by side */
	if (f->njobs > 1)
		for (i = 0; i < f->njobs; i++)
			started[i] = pthread_create(&f->job[i].thread, NULL,
			    run_job, &f->job[i]) == 0;
	for (i = 0; i < f->njobs; i++) {
		if (started[i])
			pthread_join(f->job[i].thread, NULL);
		else
			run_job(&f->job[i]);
	}
	if (f->progress_shown)
		fputs("\r\033[K", stderr);
	s->graph.progress = NULL;
	for (i = 0; i < f->njobs; i++) {
		if (merge(&f->keys, &f->job[i].keys) < 0) {
			cmd_warn("out of memory");
			return -1;
		}
	}
	if (device != NULL && id != NULL)
		filter_keyid(&f->keys, id);
	bde_keylist_sort(&f->keys);
	return 0;
}

void
find_warn_errors(const struct find *f)
{
	size_t i;

	for (i = 0; i < f->njobs; i++)
		if (f->job[i].st != BDE_OK && f->job[i].st != BDE_ENOTFOUND)
			cmd_warn("%s: %s", f->job[i].backend->name,
			    f->job[i].err ? f->job[i].err : "failed");
}

const struct find_job *
find_job_of(const struct find *f, const char *source)
{
	size_t i;

	/* sources are the table's own name pointers (run_job) */
	for (i = 0; i < f->njobs; i++)
		if (f->job[i].backend->name == source)
			return &f->job[i];
	return NULL;
}

const char *
find_identity(const struct find *f, const char *source)
{
	const struct find_job *j = find_job_of(f, source);

	return j != NULL ? j->identity : NULL;
}

int
find_error_status(const struct find *f)
{
	int worst = EXIT_OK, st;
	size_t i;

	for (i = 0; i < f->njobs; i++) {
		if (f->job[i].st == BDE_ENOTFOUND || f->job[i].st == BDE_OK)
			continue;
		st = cmd_exit_status(f->job[i].st);
		/* a usage error (malformed input) outranks the rest */
		if (worst == EXIT_OK || st == EXIT_USAGE ||
		    (st == EXIT_AUTH && worst != EXIT_USAGE))
			worst = st;
	}
	return worst;
}

int
find_failure_status(const struct find *f)
{
	int st = find_error_status(f);

	return st == EXIT_OK ? EXIT_NOTFOUND : st;
}

void
find_release(struct find *f)
{
	size_t i;

	for (i = 0; i < FIND_MAX_JOBS; i++) {
		bde_keylist_free(&f->job[i].keys);
		free(f->job[i].err);
		free(f->job[i].identity);
	}
	bde_keylist_free(&f->keys);
	memset(f, 0, sizeof(*f));
}
