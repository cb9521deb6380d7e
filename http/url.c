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
