/*
 * url.c - URL pieces: percent-encoding, origins, labels for messages.
 */
#include "http/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = 0, len = strlen(s);
	char *out;

	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* RFC 3986 2.3 unreserved characters stay as they are */
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
	return out;
}

char *
http_origin(const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (p == NULL || p == url)
		return NULL;
	p += 3;
	n = (size_t)(p - url) + strcspn(p, "/?#");
	if (n == (size_t)(p - url))
		return NULL;
	return strndup(url, n);
}

const char *
http_url_label(const char *url, char *buf, size_t len)
{
	size_t n = strcspn(url, "?#");

	snprintf(buf, len, "%.*s", (int)(n < 1000 ? n : 1000), url);
	return buf;
}

char *
http_url_trim(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return strndup(url, n);
}

/* FNV-1a, 64 bits: enough to tell a server's links apart; never 0. */
static uint64_t
link_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	/* 0 marks a free slot */
	return h != 0 ? h : 1;
}

int
http_links_add(struct http_links *l, const char *url)
{
	uint64_t h = link_hash(url), *t;
	size_t i, j, cap;

	/* at most half full: grow, place every hash again */
	if ((l->n + 1) * 2 > l->cap) {
		cap = l->cap ? l->cap * 2 : 64;
		t = calloc(cap, sizeof(*t));
		if (t == NULL)
			return -1;
		for (i = 0; i < l->cap; i++) {
			if (l->t[i] == 0)
				continue;
			for (j = (size_t)(l->t[i] % cap); t[j] != 0;
			    j = (j + 1) % cap)
				;
			t[j] = l->t[i];
		}
		free(l->t);
		l->t = t;
		l->cap = cap;
	}
	for (i = (size_t)(h % l->cap); l->t[i] != 0; i = (i + 1) % l->cap)
		if (l->t[i] == h)
			return 1;
	l->t[i] = h;
	l->n++;
	return 0;
}

void
http_links_release(struct http_links *l)
{
	free(l->t);
	memset(l, 0, sizeof(*l));
}
