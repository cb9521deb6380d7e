/*
 * http_int.h - what the files of http/ share: the wiped growable buffer
 * and the trust store setup.  Not for use outside http/.
 */
#ifndef BDEKEY_HTTP_INT_H
#define BDEKEY_HTTP_INT_H

#include <stddef.h>

#include <curl/curl.h>

#include "http/http.h"

/* Bytes that may be secret (an answer, a CA file): wiped when freed. */
struct http_buffer {
	char *p;
	size_t n, cap;
};

/*
 * Make room for want bytes.  Grows without realloc: realloc may leave a
 * copy of a password in the block it frees.  Returns 0, or -1 when out
 * of memory (b is unchanged).
 */
int http_buffer_reserve(struct http_buffer *b, size_t want);

/* Wipe and free b's bytes; b is empty and reusable. */
void http_buffer_wipe(struct http_buffer *b);

/*
 * Set up the trust store of curl: what libcurl trusts by default (the
 * system CA file and the hashed CA directory) plus, when extra is not
 * NULL, the PEM certificates in that file (ca.c).  With full = 0 and a
 * CA directory, the system file is left out at first (OpenSSL parses all
 * of it before the first handshake, ~17 ms; from the directory it reads
 * only the certificate it needs): *partial is then set, and when a peer's
 * issuer is not found, http.c calls this again with full = 1 and tries
 * the same handshake with the system file too.  Errors: BDE_ECONFIG (the
 * file is unreadable, empty or holds no certificate; libcurl refuses
 * it), BDE_ENOMEM.
 */
enum bde_status http_ca_setup(CURL *curl, const char *extra, int full,
    int *partial, char **errstr);

#endif
