/*
 * voltool.c - a tiny driver for volume/ so that tests/volume/test-volume.sh
 * and bench/volume.sh can exercise the library without the CLI:
 *
 *   voltool scan PATH...          every volume found, as key=value lines
 *   voltool check PATH [N]        recovery password from stdin against
 *                                 the Nth volume of PATH (default 1)
 *   voltool check-bek PATH BEK [N]
 *   voltool activate PATH NAME [rw]   password from stdin
 *   voltool deactivate NAME
 *   voltool dm                    whether device-mapper is usable
 *   voltool bek-id BEK            the protector ID a .BEK file names
 *
 * Exit status: the enum bde_status value (0 ok, 1 notfound, 2 usage,
 * 9 io, 10 bad-key, ...); on failure stderr has "status=KIND" and the
 * message.  The password is read from stdin, never from argv.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume/volume.h"

static int
fail(enum bde_status st, char *err)
{
	fprintf(stderr, "status=%s\nvoltool: %s\n", bde_status_kind(st),
	    err != NULL ? err : "(no message)");
	free(err);
	return (int)st;
}

static void
print_volume(size_t i, const struct bde_volume *v)
{
	char when[21];
	size_t k;

	printf("volume=%zu\npath=%s\ndevice=%s\npartno=%u\noffset=%llu\n"
	    "size=%llu\nto_go=%d\n", i + 1, v->path,
	    v->device != NULL ? v->device : "", v->partno,
	    (unsigned long long)v->offset, (unsigned long long)v->size,
	    v->to_go);
	if (v->error != NULL) {
		printf("error=%s\n", v->error);
		return;
	}
	bde_time_format(v->created, when);
	printf("volume_id=%s\ncreated=%s\ndescription=%s\ncomputer=%s\n"
	    "drive=%s\nmethod=%s\n", v->volume_id, when, v->description,
	    v->computer != NULL ? v->computer : "",
	    v->drive != NULL ? v->drive : "", v->method);
	for (k = 0; k < v->nprotectors; k++)
		printf("protector=%s %s\n", v->protectors[k].id,
		    v->protectors[k].type);
}

/* Scan path and pick volume n (1-based) of it. */
static enum bde_status
pick(const char *path, const char *nth, struct bde_volume_list *l,
    const struct bde_volume **v, char **err)
{
	enum bde_status st;
	unsigned long n = nth != NULL ? strtoul(nth, NULL, 10) : 1;

	st = bde_volume_scan(path, l, err);
	if (st != BDE_OK)
		return st;
	if (n == 0 || n > l->n)
		return bde_error(err, BDE_EUSAGE, "'%s' has %zu volumes", path,
		    l->n);
	*v = &l->v[n - 1];
	return BDE_OK;
}

/* One line of stdin into buf (without the newline); wiped by the caller. */
static size_t
read_secret(char *buf, size_t size)
{
	size_t n;

	if (fgets(buf, (int)size, stdin) == NULL)
		return 0;
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return n;
}

int
main(int argc, char **argv)
{
	struct bde_volume_list l = BDE_VOLUME_LIST_INIT;
	const struct bde_volume *v = NULL;
	struct bde_unlock_key key = { BDE_KEY_RECOVERY_PASSWORD, NULL, 0 };
	enum bde_status st = BDE_OK;
	char *err = NULL, pw[256], id[BDE_GUID_LEN + 1];
	uint8_t *bek = NULL;
	size_t bek_len = 0, i;
	int a, rc = 0;

	/* stdout is a pipe to the test: no buffering games with secrets */
	pw[0] = '\0';
	if (argc >= 3 && strcmp(argv[1], "scan") == 0) {
		for (a = 2; a < argc && st == BDE_OK; a++)
			st = bde_volume_scan(argv[a], &l, &err);
		if (st == BDE_OK)
			for (i = 0; i < l.n; i++)
				print_volume(i, &l.v[i]);
	} else if ((argc == 3 || argc == 4) &&
	    strcmp(argv[1], "check") == 0) {
		key.len = read_secret(pw, sizeof(pw));
		key.data = pw;
		st = pick(argv[2], argc == 4 ? argv[3] : NULL, &l, &v, &err);
		if (st == BDE_OK)
			st = bde_volume_check(v, &key, &err);
	} else if ((argc == 4 || argc == 5) &&
	    strcmp(argv[1], "check-bek") == 0) {
		st = bde_bek_read(argv[3], &bek, &bek_len, &err);
		if (st == BDE_OK)
			st = pick(argv[2], argc == 5 ? argv[4] : NULL, &l, &v,
			    &err);
		key.kind = BDE_KEY_STARTUP_KEY;
		key.data = bek;
		key.len = bek_len;
		if (st == BDE_OK)
			st = bde_volume_check(v, &key, &err);
	} else if ((argc == 4 || argc == 5) &&
	    strcmp(argv[1], "activate") == 0) {
		key.len = read_secret(pw, sizeof(pw));
		key.data = pw;
		st = pick(argv[2], NULL, &l, &v, &err);
		if (st == BDE_OK)
			st = bde_volume_activate(v, argv[3], &key, argc == 5 &&
			    strcmp(argv[4], "rw") == 0 ? BDE_VOLUME_READ_WRITE :
			    0, &err);
	} else if (argc == 3 && strcmp(argv[1], "deactivate") == 0) {
		st = bde_volume_deactivate(argv[2], &err);
	} else if (argc == 2 && strcmp(argv[1], "dm") == 0) {
		st = bde_volume_dm_available(&err);
	} else if (argc == 3 && strcmp(argv[1], "bek-id") == 0) {
		st = bde_bek_read(argv[2], &bek, &bek_len, &err);
		if (st == BDE_OK && bde_bek_protector_id(bek, bek_len, id) == 0)
			printf("%s\n", id);
	} else {
		fprintf(stderr, "usage: voltool scan|check|check-bek|activate|"
		    "deactivate|dm|bek-id ...\n");
		rc = 2;
		goto out;
	}
	rc = st == BDE_OK ? 0 : fail(st, err);
	err = NULL;
out:
	explicit_bzero(pw, sizeof(pw));
	bde_bek_free(bek, bek_len);
	bde_volume_list_free(&l);
	free(err);
	if (fflush(stdout) != 0 || ferror(stdout))
		rc = rc != 0 ? rc : 9;
	return rc;
}
