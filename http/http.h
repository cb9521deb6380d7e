/*
 * http.h - a small HTTPS + JSON client on libcurl, resource-agnostic: the
 * identity platform, Graph and (later) Key Vault all go through it.
 *
 * One client owns one CURL easy handle for a whole command, so every
 * request reuses one connection (one TLS handshake; HTTP/2 when the
 * server offers it).  TLS verification is always on; only https:// URLs
 * are allowed.  Throttling answers (429, 503, 504) are retried here,
 * honouring Retry-After, within a bounded number of attempts and the
 * client's overall deadline.  A request marked `once` (not idempotent,
 * RFC 9110 9.2.2) is never sent twice once it may have reached the
 * server.  Bodies are capped (HTTP_MAX_BODY) and every response body is
 * wiped when released: it may hold a password or token.  Nothing here
 * prints; nothing logs headers or bodies.
 */
#ifndef BDEKEY_HTTP_H
#define BDEKEY_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "core/core.h"

#define HTTP_MAX_BODY (4u * 1024 * 1024)
#define HTTP_DEFAULT_TIMEOUT 30		/* seconds per attempt */
#define HTTP_DEFAULT_DEADLINE 300	/* seconds for the whole client */
#define HTTP_DEFAULT_ATTEMPTS 5		/* tries of one request */
/* A wait a server asks for beyond this is not waited for. */
#define HTTP_RETRY_AFTER_MAX_S 120
/* The part of a WWW-Authenticate challenge kept, bytes with the NUL. */
#define HTTP_CHALLENGE_MAX 1024

/* Client settings; NULL/0 = the default.  Pointers are borrowed. */
struct http_options {
	const char *ca_bundle;	/* extra CA certificates (PEM), added to
				   the system's */
	int timeout;		/* seconds for one attempt */
	int deadline;		/* seconds from http_client_new for all
				   requests and their retries */
	size_t max_body;	/* bytes; larger answers are BDE_EPROTO */
	int max_attempts;	/* tries of one request (1 = no retry) */
};

struct http_client;

/* One request.  Every pointer is borrowed for the call. */
struct http_request {
	const char *method;	/* "GET" or "POST" */
	const char *url;	/* absolute https:// URL, already encoded */
	const char *bearer;	/* secret: sent as "Authorization: Bearer" */
	const char *content_type;	/* of body */
	const char *body;	/* may hold secrets: the caller wipes it */
	size_t body_len;
	const char *const *headers;	/* extra "Name: value" lines,
					   NULL-terminated, or NULL */
	/*
	 * Not idempotent (a POST that changes something): sent on a new
	 * connection that is closed after it, so libcurl cannot send it
	 * again on a reused connection that died, and never sent again once
	 * it may have reached the server (only a 429, which says the server
	 * did not act on it, RFC 6585 4, is tried again).
	 */
	int once;
};

/* An answer: any HTTP status is an answer, the caller judges it. */
struct http_response {
	long status;
	char *body;		/* NUL-terminated, len bytes; owned */
	size_t len;
	cJSON *json;		/* body parsed when it is JSON, else NULL */
	char request_id[BDE_GUID_LEN + 1];	/* client-request-id sent */
	long retry_after;	/* seconds the server asked for, or -1 */
	/* the first WWW-Authenticate challenge (cut), or "" */
	char www_authenticate[HTTP_CHALLENGE_MAX];
};

/*
 * Make a client.  *out is freed with http_client_free.  Errors:
 * BDE_ENOMEM, BDE_ECONFIG (the CA bundle is unreadable), BDE_EUNREACH
 * (libcurl cannot be set up).
 */
enum bde_status http_client_new(const struct http_options *o,
    struct http_client **out, char **errstr);

/* Close the connection and free c (NULL is fine). */
void http_client_free(struct http_client *c);

/*
 * Move the client's deadline to `seconds` from now (the device code flow
 * waits for a person far longer than a lookup may take).
 */
void http_client_set_deadline(struct http_client *c, int seconds);

/*
 * Sleep ms milliseconds (a Retry-After the caller handles itself, as in
 * a $batch answer), at least the minimum between two tries.  Returns 0,
 * or -1 without sleeping when ms is more than HTTP_RETRY_AFTER_MAX_S or
 * the wait would pass the deadline (bde_wait_clamp, like every wait).
 */
int http_client_sleep(struct http_client *c, long long ms);

/*
 * Whether an answer with this status may be asked for again after a
 * wait (429, 503, 504: throttled or unavailable for now).  http_send
 * retries these itself; callers use it for answers inside a $batch.
 */
int http_status_retryable(long status);

/*
 * Send rq and fill *rs (release it with http_response_release, also after
 * a failure).  Retryable statuses (http_status_retryable) are sent again
 * after Retry-After (seconds or an HTTP date; more than
 * HTTP_RETRY_AFTER_MAX_S is not waited for) or a capped exponential
 * backoff with jitter; GETs are also retried after a connection that died
 * without an answer.  A request marked once: see struct http_request; a
 * 5xx comes back as the answer, and a connection that dies after it was
 * sent is BDE_EUNREACH saying that the outcome is unknown.  Returns
 * BDE_OK with any final status in rs->status.  A 2xx body that claims to
 * be JSON and does not parse is BDE_EPROTO.  Errors: BDE_EUNREACH
 * (connect, TLS, timeout, deadline, still throttled), BDE_EPROTO
 * (oversized or malformed answer; a bearer token outside the RFC 6750
 * alphabet, then nothing is sent), BDE_ENOMEM; *errstr names the URL
 * (without its query) and the client-request-id.
 */
enum bde_status http_send(struct http_client *c, const struct http_request *rq,
    struct http_response *rs, char **errstr);

/*
 * Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, v of len
 * bytes (not NUL-terminated; trailing blanks ignored), in seconds from
 * now: a date in the past is 0, a wait past a year is a year.  -1 when
 * malformed.  No undefined behaviour whatever the digits.
 */
long http_parse_retry_after(const char *v, size_t len, time_t now);

/* Wipe and free the body and the parsed JSON; rs may be reused. */
void http_response_release(struct http_response *rs);

/*
 * Whether token may go into "Authorization: Bearer": RFC 6750 2.1's
 * b64token, 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=", at most 64 KiB.  Anything else (CR, LF, blanks, NUL ...) could
 * add a header line of the server's choosing.
 */
int http_bearer_ok(const char *token);

/*
 * The auth-param name of the first challenge in a WWW-Authenticate value
 * when that challenge's scheme is scheme (RFC 9110 11.6.1, 11.2; names
 * without case, values as token or quoted-string, unquoted), into buf
 * (cut to len - 1 bytes).  Returns 1 when found, else 0 (buf is "").
 */
int http_auth_param(const char *challenge, const char *scheme,
    const char *name, char *buf, size_t len);

/* URL pieces (url.c). */

/*
 * Percent-encode s (RFC 3986: everything but unreserved characters) for
 * a query value or a form field.  Returns a new string the caller frees
 * (bde_secret_free when s was secret), or NULL when out of memory.
 */
char *http_escape(const char *s);

/*
 * "scheme://host[:port]" of url into a new string the caller frees, or
 * NULL when url is not absolute or memory runs out.
 */
char *http_origin(const char *url);

/* "https://host/path" of url without its query, for messages, in buf. */
const char *http_url_label(const char *url, char *buf, size_t len);

/* url without its trailing slashes: a new string, or NULL (no memory). */
char *http_url_trim(const char *url);

/*
 * The links one paged listing has followed, so that a server's
 * nextLink cannot lead back to a page already read: a set of 64-bit
 * hashes (FNV-1a) of the URLs, open addressing, at most half full.
 * Zeroed: empty.  add returns 0 when url is new (and keeps it), 1 when
 * it was there already, -1 when out of memory; release frees.
 */
struct http_links {
	uint64_t *t;
	size_t n, cap;
};
int http_links_add(struct http_links *l, const char *url);
void http_links_release(struct http_links *l);

#endif
