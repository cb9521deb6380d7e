/*
 * ca.c - the trust store: what libcurl trusts by default (the system CA
 * file and directory), plus an extra PEM bundle.
 */
#include "http/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A CA bundle is a few hundred KiB at most; refuse anything silly. */
#define CA_BUNDLE_MAX (8u * 1024 * 1024)

/* Append the file at path to b (NUL-terminated); BDE_ECONFIG on failure. */
static enum bde_status
append_file(const char *path, struct http_buffer *b, char **errstr)
{
	enum bde_status st = BDE_OK;
	struct stat sb;
	size_t want;
	ssize_t r;
	int fd = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		st = bde_error(errstr, BDE_ECONFIG, "cannot read CA bundle "
		    "'%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0 ||
	    (size_t)sb.st_size > CA_BUNDLE_MAX - b->n) {
		st = bde_error(errstr, BDE_ECONFIG, "CA bundle '%s' is not a "
		    "PEM file of a sensible size", path);
		goto out;
	}
	want = b->n + (size_t)sb.st_size;
	if (http_buffer_reserve(b, want + 2) < 0) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	while (b->n < want) {
		r = read(fd, b->p + b->n, want - b->n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			st = bde_error(errstr, BDE_ECONFIG, "cannot read CA "
			    "bundle '%s': %s", path,
			    r < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		b->n += (size_t)r;
	}
	/* PEM files may lack a final newline: keep the blocks apart */
	b->p[b->n++] = '\n';
	b->p[b->n] = '\0';
out:
	if (fd >= 0)
		close(fd);
	return st;
}

/*
 * Whether curl's built-in CA directory exists; *sys receives the built-in
 * CA file when it is readable (else NULL).  Both strings are libcurl's.
 */
static int
system_cas(CURL *curl, char **sys)
{
	int have_dir = 0;

	*sys = NULL;
#if LIBCURL_VERSION_NUM >= 0x075400	/* 7.84.0: CURLINFO_CAINFO, _CAPATH */
	{
		struct stat sb;
		char *dir = NULL;

		have_dir = curl_easy_getinfo(curl, CURLINFO_CAPATH, &dir) ==
		    CURLE_OK && dir != NULL && stat(dir, &sb) == 0 &&
		    S_ISDIR(sb.st_mode);
		if (curl_easy_getinfo(curl, CURLINFO_CAINFO, sys) != CURLE_OK ||
		    *sys == NULL || access(*sys, R_OK) != 0)
			*sys = NULL;
	}
#else
	(void)curl;
#endif
	return have_dir;
}

/*
 * libcurl's defaults trust the system CA file and the hashed CA directory
 * (CAPATH).  OpenSSL parses the whole file (~150 certificates, 17 ms of
 * every command, docs/performance.md) before the first handshake, but
 * reads from the directory only the certificate a handshake needs.  So
 * the first stage leaves the file out (the extra bundle, or nothing, is in
 * the file slot), and the second, asked for by http.c when a peer's
 * issuer is missing from the directory (a CA appended to the file, a
 * directory never rehashed), puts the system file back: in the end the
 * same certificates are trusted as by libcurl's defaults, plus extra.
 * CAINFO_BLOB replaces the file rather than adding to it, so the extra
 * bundle goes after the system file in one blob.
 */
enum bde_status
http_ca_setup(CURL *curl, const char *path, int full, int *partial,
    char **errstr)
{
	struct http_buffer b = { NULL, 0, 0 };
#if LIBCURL_VERSION_NUM >= 0x075400
	struct curl_blob blob;
#endif
	enum bde_status st = BDE_OK;
	CURLcode rc = CURLE_OK;
	char *sys = NULL;
	int have_dir, with_sys;

	*partial = 0;
	have_dir = system_cas(curl, &sys);
	with_sys = sys != NULL && (full || !have_dir);
	*partial = have_dir && sys != NULL && !full;
	if (path == NULL) {
		/* the file slot: the system file, or nothing at first */
		rc = curl_easy_setopt(curl, CURLOPT_CAINFO, with_sys ? sys :
		    NULL);
		goto done;
	}
	if (with_sys) {
		st = append_file(sys, &b, errstr);
		if (st != BDE_OK)
			goto out;
	}
	st = append_file(path, &b, errstr);
	if (st != BDE_OK)
		goto out;
	if (strstr(b.p, "-----BEGIN CERTIFICATE-----") == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "CA bundle '%s' holds no "
		    "PEM certificate", path);
		goto out;
	}
	rc = CURLE_NOT_BUILT_IN;
#if LIBCURL_VERSION_NUM >= 0x075400
	if (with_sys) {
		blob.data = b.p;
		blob.len = b.n;
		blob.flags = CURL_BLOB_COPY;
		rc = curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
	}
#endif
	if (rc == CURLE_NOT_BUILT_IN || rc == CURLE_UNKNOWN_OPTION)
		rc = curl_easy_setopt(curl, CURLOPT_CAINFO, path);
done:
	if (rc != CURLE_OK)
		st = bde_error(errstr, BDE_ECONFIG, "cannot use CA bundle "
		    "'%s': %s", path ? path : "(system)",
		    curl_easy_strerror(rc));
out:
	http_buffer_wipe(&b);
	return st;
}
