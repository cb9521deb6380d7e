/*
 * fuzz_checksum.c - libFuzzer target for the password parser: any input
 * must parse or fail cleanly, a parsed password must normalize to
 * something that parses to the same blocks, and suggestions must be
 * valid blocks.  Built by `make fuzz` with clang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checksum/checksum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ck_password pw, again;
	struct ck_parse_status st;
	struct ck_suggestions sg;
	char norm[CK_NORMALIZED_SIZE];
	uint8_t key[CK_KEY_BYTES];
	int i, k;

	if (ck_parse((const char *)data, size, &pw, &st) != CK_PARSE_OK) {
		if (st.error == CK_PARSE_OK || st.position > size + 1)
			abort();
		return 0;
	}
	ck_normalize(&pw, norm);
	if (strlen(norm) != CK_NORMALIZED_SIZE - 1 ||
	    ck_parse(norm, strlen(norm), &again, NULL) != CK_PARSE_OK ||
	    memcmp(&pw, &again, sizeof(pw)) != 0)
		abort();
	for (i = 0; i < CK_BLOCKS; i++) {
		if (pw.block[i].error == CK_BLOCK_OK)
			continue;
		ck_suggest(pw.block[i].digits, &sg);
		for (k = 0; k < sg.count; k++)
			if (ck_block_check(sg.block[k]) != CK_BLOCK_OK)
				abort();
	}
	if ((ck_to_key(&pw, key) == 0) != (pw.bad_blocks == 0))
		abort();
	return 0;
}
