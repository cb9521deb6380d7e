/*
 * describe.c - the volume description: make the UTF-16 text from the disk
 * safe to print, and find the computer and drive in it.  Pure code: no
 * I/O, no allocation; every input may be hostile.
 *
 * Windows writes "<computer> <drive letter or volume label> <date>" when
 * it turns BitLocker on (manage-bde, the control panel): the NetBIOS
 * computer name (no blanks), then "E:" or, for a volume without a
 * letter, its label ("New Volume"), then the date in the locale's format
 * (which may itself contain blanks: "2020. 09. 15.").  So only the first
 * two words are trusted: the computer, and a drive letter if there is
 * one.
 */
#include "volume/volume.h"

#include <string.h>

#define REPLACEMENT 0xFFFDu

/*
 * Code points that must not reach a terminal or a JSON consumer as they
 * are: C0 and C1 controls and DEL (escape sequences), bidirectional marks
 * and overrides (text that reads differently than it is, CVE-2021-42574),
 * line and paragraph separators, and the noncharacters U+FFFE/U+FFFF.
 */
static int
unsafe_cp(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
	    cp == 0x061C || cp == 0x200E || cp == 0x200F ||
	    (cp >= 0x2028 && cp <= 0x202E) ||
	    (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xFFFE || cp == 0xFFFF;
}

static size_t
utf8_encode(uint32_t cp, char buf[4])
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xC0 | cp >> 6);
		buf[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		buf[0] = (char)(0xE0 | cp >> 12);
		buf[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		buf[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	buf[0] = (char)(0xF0 | cp >> 18);
	buf[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	buf[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	buf[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t
bde_describe_utf16(const uint16_t *in, size_t n, char *out, size_t outsz)
{
	size_t i = 0, len = 0;

	if (outsz == 0)
		return 0;
	while (i < n && in[i] != 0) {
		uint32_t cp = in[i++];
		char enc[4];
		size_t k;

		if (cp >= 0xD800 && cp <= 0xDBFF && i < n &&
		    in[i] >= 0xDC00 && in[i] <= 0xDFFF)
			cp = 0x10000 + ((cp - 0xD800) << 10) +
			    (uint32_t)(in[i++] - 0xDC00);
		else if (cp >= 0xD800 && cp <= 0xDFFF)
			cp = REPLACEMENT;	/* unpaired surrogate */
		if (unsafe_cp(cp))
			cp = REPLACEMENT;
		k = utf8_encode(cp, enc);
		if (k > outsz - 1 - len)
			break;
		memcpy(out + len, enc, k);
		len += k;
	}
	out[len] = '\0';
	return len;
}

/*
 * Decode one UTF-8 sequence of s (at most n bytes) into *cp and return its
 * length, or 0 when it is not valid UTF-8 (overlong forms, surrogates and
 * values past U+10FFFF are not).
 */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t v, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xE0) == 0xC0) {
		len = 2, v = s[0] & 0x1Fu, min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3, v = s[0] & 0x0Fu, min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4, v = s[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3Fu);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

static int
is_drive(const char *w, size_t n)
{
	return n == 2 && w[1] == ':' &&
	    ((w[0] >= 'A' && w[0] <= 'Z') || (w[0] >= 'a' && w[0] <= 'z'));
}

/* Digits with '.', '/' or '-' between them: a date, not a name. */
static int
is_date(const char *w, size_t n)
{
	size_t i;
	int digits = 0;

	for (i = 0; i < n; i++) {
		if (w[i] >= '0' && w[i] <= '9')
			digits = 1;
		else if (w[i] != '.' && w[i] != '/' && w[i] != '-')
			return 0;
	}
	return digits;
}

/*
 * Whether w can be a Windows computer name: not too long, valid UTF-8
 * without unsafe or replacement characters, none of the characters
 * Windows forbids in computer names (\ / : * ? " < > |, and , ; = + [ ]
 * which NetBIOS and AD reject), not starting with '.', at least one
 * letter or digit, and not a date.
 */
static int
is_computer(const char *w, size_t n)
{
	const unsigned char *s = (const unsigned char *)w;
	size_t i = 0, k;
	int alnum = 0;

	if (n == 0 || n > BDE_COMPUTER_MAX || w[0] == '.' || is_date(w, n))
		return 0;
	while (i < n) {
		uint32_t cp;

		k = utf8_decode(s + i, n - i, &cp);
		if (k == 0 || unsafe_cp(cp) || cp == REPLACEMENT)
			return 0;
		if (cp < 0x80 && strchr("\\/:*?\"<>|,;=+[]", (int)cp) != NULL)
			return 0;
		if (cp >= 0x80 || (cp >= '0' && cp <= '9') ||
		    (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
			alnum = 1;
		i += k;
	}
	return alnum;
}

/* The next word of s from *pos: its start and length (0 at the end). */
static const char *
next_word(const char *s, size_t *pos, size_t *len)
{
	size_t i = *pos, start;

	while (s[i] != '\0' && is_blank(s[i]))
		i++;
	start = i;
	while (s[i] != '\0' && !is_blank(s[i]))
		i++;
	*pos = i;
	*len = i - start;
	return s + start;
}

static void
set_drive(struct bde_description *out, const char *w)
{
	out->drive[0] = (char)(w[0] >= 'a' ? w[0] - 'a' + 'A' : w[0]);
	out->drive[1] = ':';
	out->drive[2] = '\0';
}

int
bde_describe_parse(const char *desc, struct bde_description *out)
{
	const char *w1, *w2;
	size_t pos = 0, n1, n2;

	memset(out, 0, sizeof(*out));
	if (desc == NULL)
		return -1;
	w1 = next_word(desc, &pos, &n1);
	w2 = next_word(desc, &pos, &n2);
	if (is_drive(w1, n1)) {
		set_drive(out, w1);
		return 0;
	}
	if (is_computer(w1, n1)) {
		memcpy(out->computer, w1, n1);
		out->computer[n1] = '\0';
	}
	if (is_drive(w2, n2))
		set_drive(out, w2);
	return out->computer[0] != '\0' || out->drive[0] != '\0' ? 0 : -1;
}
