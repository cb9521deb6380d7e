/*
 * checksum.c - parse and check BitLocker recovery passwords.  See
 * checksum.h; this file does no I/O and no allocation.
 */
#include "checksum.h"

#include <string.h>

/* Longest input worth looking at: 48 digits with generous separators. */
#define CK_MAX_INPUT 512

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_space(char c)
{
	return is_blank(c) || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static long
block_value(const char *d)
{
	long v = 0;
	int i;

	for (i = 0; i < CK_BLOCK_DIGITS; i++)
		v = v * 10 + (d[i] - '0');
	return v;
}

enum ck_block_error
ck_block_check(const char *digits)
{
	long v = block_value(digits);

	if (v % 11 != 0)
		return CK_BLOCK_NOT_MULTIPLE;
	if (v >= CK_BLOCK_LIMIT)
		return CK_BLOCK_TOO_LARGE;
	return CK_BLOCK_OK;
}

static void
set_status(struct ck_parse_status *st, enum ck_parse_error e, size_t pos,
    int block, size_t count, char ch)
{
	if (st == NULL)
		return;
	st->error = e;
	st->position = pos;
	st->block = block;
	st->count = count;
	st->ch = ch;
}

static void
fill_block(struct ck_password *pw, int i, const char *src)
{
	memcpy(pw->block[i].digits, src, CK_BLOCK_DIGITS);
	pw->block[i].digits[CK_BLOCK_DIGITS] = '\0';
	pw->block[i].error = ck_block_check(src);
	if (pw->block[i].error != CK_BLOCK_OK)
		pw->bad_blocks++;
}

enum ck_parse_error
ck_parse(const char *s, size_t len, struct ck_password *pw,
    struct ck_parse_status *st)
{
	/* start offset and length of each run of digits seen */
	size_t bstart[CK_BLOCKS + 1], blen[CK_BLOCKS + 1];
	size_t b, e, i, nblocks = 0, ndigits = 0;
	int dash = 0, i_blk;

	set_status(st, CK_PARSE_OK, 0, 0, 0, 0);
	memset(pw, 0, sizeof(*pw));

	b = 0;
	e = len;
	while (b < e && is_space(s[b]))
		b++;
	while (e > b && is_space(s[e - 1]))
		e--;
	if (b == e) {
		set_status(st, CK_PARSE_EMPTY, 0, 0, 0, 0);
		return CK_PARSE_EMPTY;
	}
	if (e - b > CK_MAX_INPUT) {
		set_status(st, CK_PARSE_TOO_LONG, b + CK_MAX_INPUT + 1, 0,
		    e - b, 0);
		return CK_PARSE_TOO_LONG;
	}

	i = b;
	while (i < e) {
		char c = s[i];

		if (is_digit(c)) {
			size_t start = i;

			while (i < e && is_digit(s[i]))
				i++;
			ndigits += i - start;
			/* keep only what fits; the count is still right */
			if (nblocks <= CK_BLOCKS) {
				bstart[nblocks] = start;
				blen[nblocks] = i - start;
			}
			nblocks++;
			dash = 0;
			continue;
		}
		if (c == '-') {
			/* a separator before the first block, or "--" */
			if (i == b || dash) {
				set_status(st, CK_PARSE_BAD_SEPARATOR, i + 1,
				    0, 0, c);
				return CK_PARSE_BAD_SEPARATOR;
			}
			dash = 1;
			i++;
			continue;
		}
		if (is_blank(c)) {
			i++;
			continue;
		}
		set_status(st, CK_PARSE_BAD_CHAR, i + 1, 0, 0, c);
		return CK_PARSE_BAD_CHAR;
	}
	if (dash) {
		/* input ends in a separator: find it for the position */
		size_t p = e;

		while (p > b && s[p - 1] != '-')
			p--;
		set_status(st, CK_PARSE_BAD_SEPARATOR, p, 0, 0, '-');
		return CK_PARSE_BAD_SEPARATOR;
	}

	if (nblocks == 1) {
		if (ndigits != CK_BLOCKS * CK_BLOCK_DIGITS) {
			set_status(st, CK_PARSE_DIGIT_COUNT, bstart[0] + 1, 0,
			    ndigits, 0);
			return CK_PARSE_DIGIT_COUNT;
		}
		for (i_blk = 0; i_blk < CK_BLOCKS; i_blk++)
			fill_block(pw, i_blk,
			    s + bstart[0] + (size_t)i_blk * CK_BLOCK_DIGITS);
		return CK_PARSE_OK;
	}

	/* the first block of the wrong length is the most useful error */
	for (i = 0; i < nblocks && i <= CK_BLOCKS; i++) {
		if (blen[i] != CK_BLOCK_DIGITS) {
			set_status(st, CK_PARSE_BLOCK_LENGTH, bstart[i] + 1,
			    (int)i + 1, blen[i], 0);
			return CK_PARSE_BLOCK_LENGTH;
		}
	}
	if (nblocks != CK_BLOCKS) {
		size_t pos = nblocks > CK_BLOCKS ? bstart[CK_BLOCKS] + 1 : e + 1;

		set_status(st, CK_PARSE_BLOCK_COUNT, pos, 0, nblocks, 0);
		return CK_PARSE_BLOCK_COUNT;
	}
	for (i_blk = 0; i_blk < CK_BLOCKS; i_blk++)
		fill_block(pw, i_blk, s + bstart[i_blk]);
	return CK_PARSE_OK;
}

static void
add_suggestion(struct ck_suggestions *out, const char *cand)
{
	int i;

	for (i = 0; i < out->count; i++)
		if (memcmp(out->block[i], cand, CK_BLOCK_DIGITS) == 0)
			return;
	if (out->count >= CK_MAX_SUGGESTIONS)
		return;
	memcpy(out->block[out->count], cand, CK_BLOCK_DIGITS);
	out->block[out->count][CK_BLOCK_DIGITS] = '\0';
	out->count++;
}

void
ck_suggest(const char *digits, struct ck_suggestions *out)
{
	char cand[CK_BLOCK_DIGITS + 1];
	int pos, d;

	memset(out, 0, sizeof(*out));

	/* adjacent swaps */
	for (pos = 0; pos + 1 < CK_BLOCK_DIGITS; pos++) {
		if (digits[pos] == digits[pos + 1])
			continue;
		memcpy(cand, digits, CK_BLOCK_DIGITS);
		cand[pos] = digits[pos + 1];
		cand[pos + 1] = digits[pos];
		if (ck_block_check(cand) == CK_BLOCK_OK)
			add_suggestion(out, cand);
	}
	out->swaps = out->count;

	/*
	 * One substitution per position at most can restore divisibility
	 * by 11 (10^k is +-1 mod 11), so this finds at most six.
	 */
	for (pos = CK_BLOCK_DIGITS - 1; pos >= 0; pos--) {
		memcpy(cand, digits, CK_BLOCK_DIGITS);
		for (d = 0; d <= 9; d++) {
			if (digits[pos] == '0' + d)
				continue;
			cand[pos] = (char)('0' + d);
			if (ck_block_check(cand) == CK_BLOCK_OK)
				add_suggestion(out, cand);
		}
	}
}

void
ck_normalize(const struct ck_password *pw, char *out)
{
	int i;

	for (i = 0; i < CK_BLOCKS; i++) {
		memcpy(out, pw->block[i].digits, CK_BLOCK_DIGITS);
		out += CK_BLOCK_DIGITS;
		*out++ = i + 1 < CK_BLOCKS ? '-' : '\0';
	}
}

int
ck_to_key(const struct ck_password *pw, uint8_t key[CK_KEY_BYTES])
{
	int i;

	if (pw->bad_blocks != 0)
		return -1;
	for (i = 0; i < CK_BLOCKS; i++) {
		long w = block_value(pw->block[i].digits) / 11;

		key[2 * i] = (uint8_t)(w & 0xff);
		key[2 * i + 1] = (uint8_t)(w >> 8);
	}
	return 0;
}

void
ck_from_key(const uint8_t key[CK_KEY_BYTES], char *out)
{
	int i, k;

	for (i = 0; i < CK_BLOCKS; i++) {
		long v = (long)(key[2 * i] | (key[2 * i + 1] << 8)) * 11;

		for (k = CK_BLOCK_DIGITS - 1; k >= 0; k--) {
			out[k] = (char)('0' + v % 10);
			v /= 10;
		}
		out += CK_BLOCK_DIGITS;
		*out++ = i + 1 < CK_BLOCKS ? '-' : '\0';
	}
}

const char *
ck_block_error_str(enum ck_block_error e)
{
	switch (e) {
	case CK_BLOCK_OK:
		return "valid";
	case CK_BLOCK_NOT_MULTIPLE:
		return "not a multiple of 11";
	case CK_BLOCK_TOO_LARGE:
		return "too large (a block is below 720896)";
	}
	return "unknown error";
}

const char *
ck_parse_error_str(enum ck_parse_error e)
{
	switch (e) {
	case CK_PARSE_OK:
		return "ok";
	case CK_PARSE_EMPTY:
		return "empty password";
	case CK_PARSE_BAD_CHAR:
		return "unexpected character";
	case CK_PARSE_BAD_SEPARATOR:
		return "misplaced separator";
	case CK_PARSE_BLOCK_LENGTH:
		return "block does not have 6 digits";
	case CK_PARSE_BLOCK_COUNT:
		return "not 8 blocks";
	case CK_PARSE_DIGIT_COUNT:
		return "not 48 digits";
	case CK_PARSE_TOO_LONG:
		return "too long";
	}
	return "unknown error";
}
