/*
 * find.c - run the backends and merge their keys (see find.h).
 */
#include "cmd/find.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Move k to the end of l; -1 when out of memory (k is then left). */
static int
move_key(struct bde_keylist *l, struct bde_key *k)
{
	if (bde_keylist_add(l) == NULL)
		return -1;
	l->v[l->n - 1] = *k;
	memset(k, 0, sizeof(*k));
	return 0;
}

/* Keep only the keys whose ID starts with one of ids. */
static void
filter_keyids(struct bde_keylist *l, const struct bde_keyid *ids, size_t n)
{
	size_t i, k, kept = 0;
	int hit;

	for (i = 0; i < l->n; i++) {
		for (hit = 0, k = 0; k < n && !hit; k++)
			hit = bde_keyid_match(&ids[k], l->v[i].key_id);
		if (hit)
			l->v[kept++] = l->v[i];
		else
			bde_key_release(&l->v[i]);
	}
	l->n = kept;
}

/* Combine one search's status into the job's: the first error stays. */
static void
combine(struct find_job *j, enum bde_status st, char **err)
{
	if (st == BDE_OK && j->st == BDE_ENOTFOUND)
		j->st = BDE_OK;
	else if (st != BDE_OK && st != BDE_ENOTFOUND &&
	    (j->st == BDE_OK || j->st == BDE_ENOTFOUND)) {
		j->st = st;
		free(j->err);
		j->err = *err;
		*err = NULL;
	}
	/* a not-found message is kept only while nothing was found */
	if (st == BDE_ENOTFOUND && j->st == BDE_ENOTFOUND && j->err == NULL) {
		j->err = *err;
		*err = NULL;
	}
	free(*err);
	*err = NULL;
}

/*
 * The IDs, then the device: one open backend for all.  A device key that
 * an ID search already brought (with its password, perhaps) is dropped.
 */
static enum bde_status
ask(struct find_job *j, struct bde_backend *b)
{
	const struct find_query *q = j->q;
	struct bde_keylist dev = BDE_KEYLIST_INIT;
	char *err = NULL;
	size_t i, k;
	int seen;

	j->st = BDE_ENOTFOUND;
	for (i = 0; i < q->nids; i++)
		combine(j, b->ops->by_keyid(b->self, &q->ids[i], q->id_flags,
		    &j->keys, &err), &err);
	if (q->device != NULL) {
		combine(j, b->ops->by_device(b->self, q->device,
		    q->device_flags, &dev, &err), &err);
		for (i = 0; i < dev.n; i++) {
			for (seen = 0, k = 0; k < j->keys.n && !seen; k++)
				seen = strcmp(j->keys.v[k].key_id,
				    dev.v[i].key_id) == 0;
			if (!seen && move_key(&j->keys, &dev.v[i]) < 0) {
				bde_keylist_free(&dev);
				return bde_error(&j->err, BDE_ENOMEM,
				    "out of memory");
			}
		}
		bde_keylist_free(&dev);
	}
	return j->st;
}


/* Whether a and b are the same stored object (DN, else Entra device). */
static int
same_object(const struct bde_key *a, const struct bde_key *b)
{
	if (a->dn != NULL || b->dn != NULL)
		return a->dn != NULL && b->dn != NULL &&
		    strcmp(a->dn, b->dn) == 0;
	return a->device_id != NULL && b->device_id != NULL &&
	    strcmp(a->device_id, b->device_id) == 0;
}

/*
 * A device's keys picked by ID (lookup --device --key-id): the device's
 * keys without passwords, those whose ID matches, then the password of
 * exactly those objects by their full ID, so no other key's password is
 * ever requested (issue 9 #16).
 */
static enum bde_status
ask_filtered(struct find_job *j, struct bde_backend *b)
{
	const struct find_query *q = j->q;
	struct bde_keylist dev = BDE_KEYLIST_INIT, pw = BDE_KEYLIST_INIT;
	struct bde_keyid full;
	struct bde_key *k;
	char *err = NULL;
	size_t i, n;

	/* a failed search may still bring keys (a broken object, say) */
	j->st = BDE_ENOTFOUND;
	combine(j, b->ops->by_device(b->self, q->device, 0, &dev, &err), &err);
	filter_keyids(&dev, q->ids, q->nids);
	for (i = 0; i < dev.n; i++) {
		k = &dev.v[i];
		if ((q->id_flags & BDE_WANT_PASSWORD) &&
		    bde_keyid_parse(k->key_id, &full, NULL) == BDE_OK) {
			/* withheld (EPERM) still lists the key: keep it */
			combine(j, b->ops->by_keyid(b->self, &full,
			    q->id_flags, &pw, &err), &err);
			for (n = 0; n < pw.n && !same_object(&pw.v[n], k); n++)
				;
			if (n < pw.n) {
				/* the device search knows the device's name */
				if (pw.v[n].device == NULL) {
					pw.v[n].device = k->device;
					k->device = NULL;
				}
				k = &pw.v[n];
			} else if (j->st == BDE_OK || j->st == BDE_ENOTFOUND) {
				combine(j, bde_error(&err, BDE_EPROTO, "key %s "
				    "of '%s' vanished before its password was "
				    "read", k->key_id, q->device), &err);
			}
		}
		if (move_key(&j->keys, k) < 0) {
			combine(j, bde_error(&err, BDE_ENOMEM, "out of memory"),
			    &err);
			break;
		}
		bde_keylist_free(&pw);
	}
	if (j->keys.n > 0 && j->st == BDE_ENOTFOUND)
		j->st = BDE_OK;
	else if (j->keys.n == 0 && j->st == BDE_OK)
		j->st = BDE_ENOTFOUND;
	bde_keylist_free(&dev);
	bde_keylist_free(&pw);
	return j->st;
}

static void *
run_job(void *arg)
{
	struct find_job *j = arg;
	const struct find_query *q = j->q;
	struct bde_backend b;
	size_t i;

	memset(&b, 0, sizeof(b));
	j->st = j->backend->open(j->s, &b, &j->err);
	if (j->st != BDE_OK)
		return NULL;
	if (q->device != NULL && q->filter && q->nids > 0)
		j->st = ask_filtered(j, &b);
	else
		j->st = ask(j, &b);
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
    const struct find_query *q)
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
		f->job[i].q = q;
	}
	if (q->device == NULL && q->nids > 0 && isatty(STDERR_FILENO)) {
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
	if (q->device != NULL && q->filter && q->nids > 0)
		filter_keyids(&f->keys, q->ids, q->nids);
	bde_keylist_sort(&f->keys);
	return 0;
}

int
find_has_key(const struct find *f, const char *id)
{
	size_t i;

	for (i = 0; i < f->keys.n; i++)
		if (strcmp(f->keys.v[i].key_id, id) == 0)
			return 1;
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
