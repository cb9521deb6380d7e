/*
 * find.c - run the backends and merge their keys (see find.h).
 */
#include "cmd/find.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
find_parse_source(const char *cmdname, const char *arg, enum find_source *out)
{
	if (strcmp(arg, "ad") == 0)
		*out = SRC_AD;
	else if (strcmp(arg, "graph") == 0)
		*out = SRC_GRAPH;
	else if (strcmp(arg, "all") == 0)
		*out = SRC_ALL;
	else {
		cmd_warn("%s: source '%s' is not ad, graph or all", cmdname,
		    arg);
		return -1;
	}
	return 0;
}

int
find_select(const struct settings *s, enum find_source src, int *want_ad,
    int *want_graph, const char *cmdname)
{
	char *err = NULL;

	*want_ad = src == SRC_AD || src == SRC_ALL ||
	    (src == SRC_AUTO && settings_ad_configured(s));
	*want_graph = src == SRC_GRAPH || src == SRC_ALL ||
	    (src == SRC_AUTO && settings_graph_configured(s));
	if (*want_ad && !settings_ad_configured(s)) {
		cmd_warn("%s: no LDAP server configured: set --ldap-uri, "
		    "BDEKEY_LDAP_URI or URI in ldap.conf", cmdname);
		return -1;
	}
	if (*want_graph && settings_need_graph(s, cmdname) < 0)
		return -1;
	if (!*want_ad && !*want_graph) {
		cmd_warn("%s: no directory configured: set BDEKEY_LDAP_URI for "
		    "Active Directory or BDEKEY_TENANT for Entra ID", cmdname);
		return -1;
	}
	/* refuse e.g. a cleartext simple bind before asking for a password */
	if (*want_ad && ad_check(&s->ad, &err) != BDE_OK) {
		cmd_warn("%s: %s", cmdname, err ? err : "bad LDAP settings");
		free(err);
		return -1;
	}
	return 0;
}

static void *
run_job(void *arg)
{
	struct find_job *j = arg;
	struct bde_backend b;

	memset(&b, 0, sizeof(b));
	if (strcmp(j->name, "ad") == 0)
		j->st = ad_open(&j->s->ad, &b, &j->err);
	else
		j->st = graph_open(&j->s->graph, &b, &j->err);
	if (j->st != BDE_OK)
		return NULL;
	if (j->device != NULL)
		j->st = b.ops->by_device(b.self, j->device, j->flags, &j->keys,
		    &j->err);
	else
		j->st = b.ops->by_keyid(b.self, j->id, j->flags, &j->keys,
		    &j->err);
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

/* Move every key of src into dst, merging a key ID already there. */
static int
merge(struct bde_keylist *dst, struct bde_keylist *src)
{
	size_t i, k;

	for (i = 0; i < src->n; i++) {
		struct bde_key *s = &src->v[i], *d = NULL;

		for (k = 0; k < dst->n && d == NULL; k++)
			if (strcmp(dst->v[k].key_id, s->key_id) == 0)
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
find_keys(struct find *f, struct settings *s, int want_ad, int want_graph,
    const char *device, const struct bde_keyid *id, int flags)
{
	int started[2] = { 0, 0 };
	size_t i;

	memset(f, 0, sizeof(*f));
	if (want_ad)
		f->job[f->njobs++].name = "ad";
	if (want_graph)
		f->job[f->njobs++].name = "graph";
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
			cmd_warn("%s: %s", f->job[i].name,
			    f->job[i].err ? f->job[i].err : "failed");
}

const char *
find_identity(const struct find *f, const char *source)
{
	size_t i;

	for (i = 0; i < f->njobs; i++)
		if (strcmp(f->job[i].name, source) == 0)
			return f->job[i].identity;
	return NULL;
}

int
find_failure_status(const struct find *f)
{
	int worst = EXIT_NOTFOUND, st;
	size_t i;

	for (i = 0; i < f->njobs; i++) {
		if (f->job[i].st == BDE_ENOTFOUND || f->job[i].st == BDE_OK)
			continue;
		st = cmd_exit_status(f->job[i].st);
		/* a usage error (malformed input) outranks the rest */
		if (worst == EXIT_NOTFOUND || st == EXIT_USAGE ||
		    (st == EXIT_AUTH && worst != EXIT_USAGE))
			worst = st;
	}
	return worst;
}

void
find_release(struct find *f)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		bde_keylist_free(&f->job[i].keys);
		free(f->job[i].err);
		free(f->job[i].identity);
	}
	bde_keylist_free(&f->keys);
	memset(f, 0, sizeof(*f));
}
