/*
 * fuzz_volume.c - libFuzzer target for what volume/ reads from a disk:
 * the input is a disk image (in a memfd) that goes through the whole scan
 * (libblkid's probes, partition tables, libbde's metadata reader through
 * our bounds layer), and its bytes are also a description for the parser
 * and UTF-16 units for the cleaner.  Whatever the input: no crash, no
 * leak, and every result keeps the promises volume.h makes.  Seeds:
 * tests/fuzz/corpus_volume/ (tests/volume/make-fuzz-seeds.py).  Built by
 * `make fuzz` with clang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "volume/volume_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Printable, valid UTF-8 without control characters: what cmd/ prints. */
static void
check_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7F)
			abort();
}

static void
check_volume(const struct bde_volume *v)
{
	struct bde_description d;
	size_t i;
	int rc;

	if (v->path == NULL || v->offset > (uint64_t)1 << 40)
		abort();
	if (v->error != NULL) {
		if (v->description != NULL || v->nprotectors != 0)
			abort();
		return;
	}
	if (strlen(v->volume_id) != BDE_GUID_LEN || v->description == NULL ||
	    v->method == NULL)
		abort();
	check_text(v->description);
	if (v->computer != NULL) {
		check_text(v->computer);
		if (strlen(v->computer) > BDE_COMPUTER_MAX)
			abort();
	}
	if (v->drive != NULL && strlen(v->drive) != 2)
		abort();
	/* what was parsed is what the description says */
	rc = bde_describe_parse(v->description, &d);
	if ((v->computer != NULL) != (rc == 0 && d.computer[0] != '\0') ||
	    (v->drive != NULL) != (rc == 0 && d.drive[0] != '\0'))
		abort();
	for (i = 0; i < v->nprotectors; i++)
		if (strlen(v->protectors[i].id) != BDE_GUID_LEN ||
		    v->protectors[i].type == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int mfd = -1;
	struct bde_volume_list l = BDE_VOLUME_LIST_INIT;
	struct bde_description d;
	enum bde_status st;
	uint16_t units[512];
	char *err = NULL, text[2048], out[4 * 512 + 1];
	size_t i, n;

	/* the parser and the cleaner on the raw bytes */
	n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	if (bde_describe_parse(text, &d) == 0 && d.computer[0] == '\0' &&
	    d.drive[0] == '\0')
		abort();
	n = size / 2 < 512 ? size / 2 : 512;
	memcpy(units, data, n * 2);
	if (bde_describe_utf16(units, n, out, sizeof(out)) >= sizeof(out))
		abort();
	check_text(out);

	/* the scan, on a file that is the input */
	if (mfd < 0)
		mfd = memfd_create("fuzz-volume", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, 0) < 0 ||
	    (size > 0 && pwrite(mfd, data, size, 0) != (ssize_t)size))
		abort();
	st = vol_scan_fd(mfd, "fuzz.img", size, 0, &l, &err);
	if (st == BDE_OK) {
		if (l.n == 0 || err != NULL)
			abort();
		for (i = 0; i < l.n; i++)
			check_volume(&l.v[i]);
	} else {
		/* a failed scan adds nothing and says why in one line */
		if (l.n != 0 || err == NULL || strchr(err, '\n') != NULL)
			abort();
	}
	free(err);
	bde_volume_list_free(&l);
	return 0;
}
