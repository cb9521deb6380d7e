/*
 * test_scratch.c - core/scratch.c (the report's unlinked scratch file
 * and the hash table on it) and cmd/reportjoin.c (Entra devices kept on
 * disk, taken by SID, host name or name, the earliest first).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmd/report.h"
#include "core/scratch.h"

/* A fresh empty directory as TMPDIR; its path (static). */
static const char *
fresh_tmpdir(void)
{
	static char dir[] = "/tmp/bdekey-scratch-test.XXXXXX";

	strcpy(dir, "/tmp/bdekey-scratch-test.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(setenv("TMPDIR", dir, 1), 0);
	return dir;
}

/* Names in dir besides . and .. */
static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_scratch_file(void **state)
{
	const char *dir = fresh_tmpdir();
	struct bde_scratch *s = NULL;
	char buf[64], *err = NULL;
	uint64_t off = 99;

	(void)state;
	assert_int_equal(bde_scratch_new(&s, &err), BDE_OK);
	assert_null(err);
	assert_int_equal(bde_scratch_size(s), 0);
	assert_int_equal(bde_scratch_append(s, "hello", 5, &off, &err), BDE_OK);
	assert_int_equal(off, 0);
	assert_int_equal(bde_scratch_append(s, "world", 5, &off, &err), BDE_OK);
	assert_int_equal(off, 5);
	assert_int_equal(bde_scratch_size(s), 10);
	assert_int_equal(bde_scratch_write(s, 0, "J", 1, &err), BDE_OK);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(bde_scratch_read(s, 0, buf, 10, &err), BDE_OK);
	assert_memory_equal(buf, "Jelloworld", 10);
	/* past the end and across it: zeros */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(bde_scratch_read(s, 8, buf, 6, &err), BDE_OK);
	assert_memory_equal(buf, "ld\0\0\0\0", 6);
	/* a write far out leaves a hole that reads as zeros */
	assert_int_equal(bde_scratch_write(s, 1 << 20, "z", 1, &err), BDE_OK);
	assert_int_equal(bde_scratch_size(s), (1 << 20) + 1);
	assert_int_equal(bde_scratch_read(s, 4096, buf, 4, &err), BDE_OK);
	assert_memory_equal(buf, "\0\0\0\0", 4);
	/* nothing with a name is left in TMPDIR, even while it is open */
	assert_int_equal(entries(dir), 0);
	bde_scratch_free(s);
	bde_scratch_free(NULL);
	assert_int_equal(entries(dir), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_scratch_no_dir(void **state)
{
	struct bde_scratch *s = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(setenv("TMPDIR", "/nonexistent/bdekey-test", 1), 0);
	assert_int_equal(bde_scratch_new(&s, &err), BDE_EIO);
	assert_null(s);
	assert_non_null(err);
	/* the message names the directory and why */
	assert_non_null(strstr(err, "/nonexistent/bdekey-test"));
	assert_non_null(strstr(err, "No such file"));
	free(err);
	/* a relative TMPDIR is not taken: /tmp is */
	assert_int_equal(setenv("TMPDIR", "relative", 1), 0);
	err = NULL;
	assert_int_equal(bde_scratch_new(&s, &err), BDE_OK);
	bde_scratch_free(s);
	unsetenv("TMPDIR");
}

/* Key i: 16 bytes, distinct for every i. */
static void
key_n(uint32_t i, uint8_t k[16])
{
	uint64_t a = i * 0x9e3779b97f4a7c15ULL, b = ~(uint64_t)i;

	memcpy(k, &a, 8);
	memcpy(k + 8, &b, 8);
}

static int
sum_vals(const void *key, const void *val, void *arg)
{
	uint32_t v;

	(void)key;
	memcpy(&v, val, sizeof(v));
	*(uint64_t *)arg += v;
	return 0;
}

static int
stop_at_once(const void *key, const void *val, void *arg)
{
	(void)key;
	(void)val;
	(void)arg;
	return 1;
}

static void
test_dtab(void **state)
{
	const uint32_t n = 100000;
	struct bde_dtab *t = NULL;
	uint8_t k[16];
	uint32_t i, v;
	uint64_t sum = 0;
	char *err = NULL;
	int found;

	(void)state;
	assert_int_equal(bde_dtab_new(0, 4, &t, &err), BDE_EUSAGE);
	free(err);
	err = NULL;
	assert_int_equal(bde_dtab_new(16, sizeof(v), &t, &err), BDE_OK);
	/* through several doublings (4,096 slots at first) */
	for (i = 0; i < n; i++) {
		key_n(i, k);
		v = i;
		assert_int_equal(bde_dtab_put(t, k, &v, &err), BDE_OK);
	}
	assert_int_equal(bde_dtab_count(t), n);
	/* replace every third, after a get (the put reuses its probe) */
	for (i = 0; i < n; i += 3) {
		key_n(i, k);
		assert_int_equal(bde_dtab_get(t, k, &v, &found, &err), BDE_OK);
		assert_true(found);
		v += 7;
		assert_int_equal(bde_dtab_put(t, k, &v, &err), BDE_OK);
	}
	assert_int_equal(bde_dtab_count(t), n);
	for (i = 0; i < n; i++) {
		key_n(i, k);
		assert_int_equal(bde_dtab_get(t, k, &v, &found, &err), BDE_OK);
		assert_true(found);
		assert_int_equal(v, i % 3 == 0 ? i + 7 : i);
	}
	/* absent keys: not found, value zeroed */
	for (i = n; i < n + 1000; i++) {
		key_n(i, k);
		v = 5;
		assert_int_equal(bde_dtab_get(t, k, &v, &found, &err), BDE_OK);
		assert_false(found);
		assert_int_equal(v, 0);
	}
	/* a get of another key between get and put: the put still lands */
	key_n(1, k);
	assert_int_equal(bde_dtab_get(t, k, &v, &found, &err), BDE_OK);
	key_n(2, k);
	v = 1234567;
	assert_int_equal(bde_dtab_put(t, k, &v, &err), BDE_OK);
	assert_int_equal(bde_dtab_get(t, k, &v, &found, &err), BDE_OK);
	assert_int_equal(v, 1234567);
	key_n(1, k);
	assert_int_equal(bde_dtab_get(t, k, &v, &found, &err), BDE_OK);
	assert_int_equal(v, 1);
	/* each visits every key once */
	assert_int_equal(bde_dtab_each(t, sum_vals, &sum, &err), BDE_OK);
	assert_int_equal(sum, (uint64_t)n * (n - 1) / 2 + 7ULL *
	    ((n + 2) / 3) + 1234567 - 2);
	assert_int_equal(bde_dtab_each(t, stop_at_once, NULL, &err), BDE_EIO);
	assert_string_equal(err, "stopped");
	free(err);
	bde_dtab_free(t);
	bde_dtab_free(NULL);
}

/* An Entra device for the join. */
static struct bde_escrow
dev(const char *name, const char *id, const char *sid, unsigned nkeys,
    time_t newest)
{
	struct bde_escrow e;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.device_id = id;
	e.sid = sid;
	e.os = "Windows";
	e.nkeys = nkeys;
	e.newest = newest;
	e.volumes = nkeys ? "operatingSystem" : NULL;
	e.last_seen = 1000;
	return e;
}

/* Take for an AD computer; the device ID it got ("" none). */
static const char *
take(struct join *j, const char *cn, const char *host, const char *sid,
    struct row *r)
{
	struct bde_escrow e;
	char *err = NULL;

	memset(&e, 0, sizeof(e));
	memset(r, 0, sizeof(*r));
	e.name = cn;
	e.host = host;
	e.sid = sid;
	r->name = cn;
	r->in_ad = 1;
	r->nkeys = r->ad_keys = 2;
	r->newest = 500;
	assert_int_equal(join_take(j, &e, r, &err), BDE_OK);
	assert_null(err);
	return r->device_id != NULL ? r->device_id : "";
}

static void
keep(struct join *j, struct bde_escrow e)
{
	char *err = NULL;

	assert_int_equal(join_keep(j, &e, &err), BDE_OK);
	assert_null(err);
}

static void
test_join(void **state)
{
	struct join j;
	struct row r;
	uint64_t it = 0;
	char *err = NULL, names[256] = "";
	int got;

	(void)state;
	join_init(&j);
	/* nothing kept: nothing taken, nothing left */
	assert_string_equal(take(&j, "PC1", NULL, NULL, &r), "");
	assert_int_equal(join_next_unmatched(&j, &it, &r, &got, &err), BDE_OK);
	assert_false(got);
	keep(&j, dev("PC1", "id-a", "S-1-5-21-1-2-3-1001", 3, 900));
	keep(&j, dev("pc1", "id-b", NULL, 0, 0));
	keep(&j, dev("LongHostName-0123456", "id-c", NULL, 1, 100));
	keep(&j, dev("PC1", "id-d", NULL, 1, 100));
	keep(&j, dev("Lonely", "id-e", "S-1-5-21-9", 1, 100));
	/* by SID first, whatever the name */
	assert_string_equal(take(&j, "RENAMED", NULL, "s-1-5-21-1-2-3-1001",
	    &r), "id-a");
	assert_true(r.in_graph);
	assert_int_equal(r.graph_keys, 3);
	assert_int_equal(r.nkeys, 5);
	assert_int_equal(r.newest, 900);
	assert_int_equal(r.last_seen, 1000);
	assert_string_equal(r.graph_volumes, "operatingSystem");
	assert_string_equal(r.os, "Windows");
	/* by name ignoring case: the earliest left, then the next */
	assert_string_equal(take(&j, "Pc1", NULL, NULL, &r), "id-b");
	assert_int_equal(r.nkeys, 2);
	assert_int_equal(r.newest, 500);
	assert_string_equal(take(&j, "PC1", NULL, "S-1-5-21-77", &r), "id-d");
	assert_string_equal(take(&j, "PC1", NULL, NULL, &r), "");
	assert_false(r.in_graph);
	/* the host name when cn is cut at 15 characters */
	assert_string_equal(take(&j, "LONGHOSTNAME-01", "longhostname-0123456",
	    NULL, &r), "id-c");
	/* a device listed after its chain was used up is found */
	keep(&j, dev("PC1", "id-f", NULL, 0, 0));
	assert_string_equal(take(&j, "pc1", NULL, NULL, &r), "id-f");
	/* one device no computer took */
	while (join_next_unmatched(&j, &it, &r, &got, &err) == BDE_OK && got) {
		strcat(names, r.name);
		strcat(names, ";");
		assert_true(r.in_graph);
		assert_false(r.in_ad);
		assert_int_equal(r.graph_keys, 1);
	}
	assert_null(err);
	assert_string_equal(names, "Lonely;");
	join_release(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scratch_file),
		cmocka_unit_test(test_scratch_no_dir),
		cmocka_unit_test(test_dtab),
		cmocka_unit_test(test_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
