/*
 * safe.c - server text made safe for a terminal (see cmd_safe in cmd.h).
 *
 * Names, DNs, messages and URLs come from directories, proxies or whoever
 * answers: an escape sequence in a device name could clear the screen,
 * rewrite the line a password is on, or set the window title; a CR/LF
 * could forge a line of output.  JSON output is exact (cJSON escapes);
 * human output and stderr go through here.
 */
#include "cmd/cmd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Buffers in the ring: a cmd_safe result lives this many calls. */
#define SAFE_RING 8

static char *safe_ring[SAFE_RING];
static size_t safe_next;

size_t
cmd_utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, *cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, *cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, *cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))) ||
	    (len == 4 && (*cp < 0x10000 || *cp > 0x10ffff)))
		return 0;
	return len;
}

/* Code points a terminal acts on or that reorder text (bidi controls). */
static int
unsafe_cp(unsigned cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

size_t
cmd_safe_copy(const char *s, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0, w = 0, len, elen;
	unsigned cp;
	char esc[12];
	int full = out == NULL;

	while (i < n) {
		len = cmd_utf8_seq(p + i, n - i, &cp);
		if (len == 0)
			snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
		else if (unsafe_cp(cp))
			snprintf(esc, sizeof(esc), cp < 0x80 ? "\\x%02x" :
			    "\\u%04x", cp);
		else
			esc[0] = '\0';
		/* what does not fit is cut whole, never half an escape */
		len = len ? len : 1;
		elen = esc[0] != '\0' ? strlen(esc) : len;
		if (!full && w + elen < outlen) {
			memcpy(out + w, esc[0] != '\0' ? esc : (const char *)p + i,
			    elen);
			w += elen;
		} else {
			full = 1;
		}
		o += elen;
		i += len;
	}
	if (out != NULL && outlen > 0)
		out[w] = '\0';
	return o;
}

const char *
cmd_safe(const char *s)
{
	size_t need;
	char *buf;

	if (s == NULL)
		return "(null)";
	need = cmd_safe_copy(s, NULL, 0) + 1;
	buf = malloc(need);
	if (buf == NULL)
		return "(out of memory)";
	cmd_safe_copy(s, buf, need);
	free(safe_ring[safe_next]);
	safe_ring[safe_next] = buf;
	safe_next = (safe_next + 1) % SAFE_RING;
	return buf;
}

void
cmd_safe_release(void)
{
	size_t i;

	for (i = 0; i < SAFE_RING; i++) {
		free(safe_ring[i]);
		safe_ring[i] = NULL;
	}
}

cJSON *
cmd_json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i = 0, o = 0, len;
	unsigned cp;
	cJSON *item;
	char *fixed;

	if (s == NULL)
		return cJSON_CreateNull();
	n = strlen(s);
	while (i < n && (len = cmd_utf8_seq(p + i, n - i, &cp)) > 0)
		i += len;
	if (i == n)
		return cJSON_CreateString(s);
	/* each invalid byte becomes U+FFFD (3 bytes) */
	if (n > (SIZE_MAX - 1) / 3 || (fixed = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i += len) {
		len = cmd_utf8_seq(p + i, n - i, &cp);
		if (len == 0) {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			len = 1;
		} else {
			memcpy(fixed + o, p + i, len);
			o += len;
		}
	}
	fixed[o] = '\0';
	item = cJSON_CreateString(fixed);
	free(fixed);
	return item;
}

int
cmd_json_add(cJSON *obj, const char *name, const char *s)
{
	cJSON *item = cmd_json_string(s);

	if (item == NULL || !cJSON_AddItemToObject(obj, name, item)) {
		cJSON_Delete(item);
		return -1;
	}
	return 0;
}
