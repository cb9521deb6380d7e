/*
 * checksum.h - the BitLocker recovery password validator.
 *
 * A recovery password is 48 digits in 8 blocks of 6.  Each block is a
 * multiple of 11 below 720896 (65536 * 11); block / 11 is one 16-bit
 * little-endian word of the 128-bit key.  The last digit is a check digit
 * (d6 = d1 - d2 + d3 - d4 + d5 mod 11), which is the same test as
 * divisibility by 11.
 *
 * Pure code: no I/O, no allocation, nothing of bdekey's included.  All
 * results live in caller-owned structs.
 */
#ifndef BDEKEY_CHECKSUM_H
#define BDEKEY_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#define CK_BLOCKS 8
#define CK_BLOCK_DIGITS 6
#define CK_KEY_BYTES 16
/* "dddddd-" * 8 without the last dash, plus NUL */
#define CK_NORMALIZED_SIZE (CK_BLOCKS * (CK_BLOCK_DIGITS + 1))
/* one-digit substitutions (6 positions) + adjacent swaps (5) */
#define CK_MAX_SUGGESTIONS 11
/* a block is below 65536 * 11 */
#define CK_BLOCK_LIMIT 720896L

/* Why a whole input could not be parsed into 8 blocks. */
enum ck_parse_error {
	CK_PARSE_OK = 0,
	CK_PARSE_EMPTY,		/* nothing but whitespace */
	CK_PARSE_BAD_CHAR,	/* a character that is no digit, '-' or blank */
	CK_PARSE_BAD_SEPARATOR,	/* separator at the start/end or doubled '-' */
	CK_PARSE_BLOCK_LENGTH,	/* a block without exactly 6 digits */
	CK_PARSE_BLOCK_COUNT,	/* blocks of 6, but not 8 of them */
	CK_PARSE_DIGIT_COUNT,	/* digits in a row, but not 48 */
	CK_PARSE_TOO_LONG	/* longer than any plausible password */
};

/* Why one block is not valid. */
enum ck_block_error {
	CK_BLOCK_OK = 0,
	CK_BLOCK_NOT_MULTIPLE,	/* fails the check digit */
	CK_BLOCK_TOO_LARGE	/* a multiple of 11, but not below 720896 */
};

/* Where and why parsing failed. */
struct ck_parse_status {
	enum ck_parse_error error;
	size_t position;	/* 1-based character position in the input */
	int block;		/* 1-based block index, when relevant, else 0 */
	size_t count;		/* digits in that block / blocks / digits seen */
	char ch;		/* the offending character for BAD_CHAR */
};

/* One parsed block; digits is NUL-terminated. */
struct ck_block {
	char digits[CK_BLOCK_DIGITS + 1];
	enum ck_block_error error;
};

/* A password split into its 8 blocks, each checked. */
struct ck_password {
	struct ck_block block[CK_BLOCKS];
	int bad_blocks;		/* number of blocks with an error */
};

/* Candidate corrections for one bad block, most likely first. */
struct ck_suggestions {
	char block[CK_MAX_SUGGESTIONS][CK_BLOCK_DIGITS + 1];
	int count;
	int swaps;		/* how many of them (at the front) are swaps */
};

/*
 * Parse a password as a person types it: 8 blocks separated by '-' or
 * blanks (a separator is a run of blanks with at most one '-'), or 48
 * digits in a row; surrounding whitespace is ignored.  On success fills
 * pw (every block checked) and returns CK_PARSE_OK; otherwise fills st
 * and returns the error.  st may be NULL.  s need not be NUL-terminated.
 */
enum ck_parse_error ck_parse(const char *s, size_t len, struct ck_password *pw,
    struct ck_parse_status *st);

/* Check one 6-digit block (exactly 6 characters, all digits assumed). */
enum ck_block_error ck_block_check(const char *digits);

/*
 * Every valid block one digit substitution or one adjacent swap away from
 * digits, swaps first (a swap that lands on a valid block is rarer and so
 * more telling), then substitutions from the last digit backwards.
 */
void ck_suggest(const char *digits, struct ck_suggestions *out);

/* Write "dddddd-dddddd-...": out must hold CK_NORMALIZED_SIZE bytes. */
void ck_normalize(const struct ck_password *pw, char *out);

/*
 * The 16-byte key: block i / 11 as the i-th little-endian 16-bit word.
 * Returns 0, or -1 when pw has a bad block.
 */
int ck_to_key(const struct ck_password *pw, uint8_t key[CK_KEY_BYTES]);

/* The password for a 16-byte key, normalized; out holds CK_NORMALIZED_SIZE. */
void ck_from_key(const uint8_t key[CK_KEY_BYTES], char *out);

/* A short lowercase English reason, e.g. "not a multiple of 11". */
const char *ck_block_error_str(enum ck_block_error e);

/* A short lowercase English description of a parse error kind. */
const char *ck_parse_error_str(enum ck_parse_error e);

#endif
