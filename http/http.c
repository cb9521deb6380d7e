/*
 * http.c - the HTTPS + JSON client on one reused libcurl easy handle:
 * requests, answers and the one place where requests are retried.
 */
#include "http/http_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/x509_vfy.h>

#include "core/clock.h"
#include "core/json.h"

/* Backoff without Retry-After: 1 s, 2 s, 4 s ... capped, with jitter. */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_CAP_MS 16000
/* Never retry at once, even after "Retry-After: 0". */
#define RETRY_MIN_MS 100
/* Retry-After values beyond this (a year) read as this: no overflow. */
#define RETRY_AFTER_LIMIT_S (366L * 86400)
#define CONNECT_TIMEOUT_MAX_MS 15000

struct http_client {
	CURL *curl;
	struct http_options o;
	long long deadline_ms;	/* monotonic, bde_now_ms() */
	char errbuf[CURL_ERROR_SIZE];
	/* per-transfer state, filled by the callbacks */
	struct http_buffer body;
	int too_big;
	long retry_after;
	int json_type;
	char www_auth[HTTP_CHALLENGE_MAX];
	/* the system CA file is not in the trust store yet (ca.c) */
	int ca_partial;
};

void
http_buffer_wipe(struct http_buffer *b)
{
	if (b->p != NULL) {
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->n = b->cap = 0;
}

int
http_buffer_reserve(struct http_buffer *b, size_t want)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (want <= b->cap)
		return 0;
	/* copy, wipe the old block, then free it */
	while (cap < want)
		cap *= 2;
	p = malloc(cap);
	if (p == NULL)
		return -1;
	if (b->p != NULL) {
		memcpy(p, b->p, b->n);
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_client *c = arg;
	size_t n = size * nmemb;

	if (n > c->o.max_body - c->body.n) {
		c->too_big = 1;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (http_buffer_reserve(&c->body, c->body.n + n + 1) < 0)
		return 0;
	memcpy(c->body.p + c->body.n, data, n);
	c->body.n += n;
	c->body.p[c->body.n] = '\0';
	return n;
}

/* Whether a header line is "name: ..." (case-insensitive). */
static const char *
header_value(const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	line += nl + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

long
http_parse_retry_after(const char *v, size_t len, time_t now)
{
	char buf[128];
	long long secs;
	time_t when;

	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' ||
	    v[len - 1] == '\r' || v[len - 1] == '\n'))
		len--;
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	if (len == 0 || len >= sizeof(buf) || memchr(v, '\0', len) != NULL)
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	switch (bde_integer_parse(buf, 0, RETRY_AFTER_LIMIT_S, &secs)) {
	case BDE_NUM_OK:
		return (long)secs;
	case BDE_NUM_RANGE:
		return buf[0] == '-' ? 0 : RETRY_AFTER_LIMIT_S;
	}
	when = curl_getdate(buf, NULL);
	if (when == (time_t)-1)
		return -1;
	/* compared before subtracting: no overflow for any date */
	if (when <= now)
		return 0;
	if (when - now > RETRY_AFTER_LIMIT_S)
		return RETRY_AFTER_LIMIT_S;
	return (long)(when - now);
}

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_client *c = arg;
	size_t n = size * nmemb, vl;
	const char *v;

	/* a new status line (after "100 Continue"): forget the last one's */
	if (n > 5 && strncmp(data, "HTTP/", 5) == 0) {
		c->retry_after = -1;
		c->json_type = 0;
		c->www_auth[0] = '\0';
	} else if ((v = header_value(data, n, "retry-after")) != NULL) {
		c->retry_after = http_parse_retry_after(v,
		    n - (size_t)(v - data), time(NULL));
	} else if ((v = header_value(data, n, "content-type")) != NULL) {
		vl = n - (size_t)(v - data);
		c->json_type = memmem(v, vl, "json", 4) != NULL;
	} else if ((v = header_value(data, n, "www-authenticate")) != NULL &&
	    c->www_auth[0] == '\0') {
		/* the first challenge is enough; the line ends with CRLF */
		vl = strcspn(v, "\r\n");
		if (vl > n - (size_t)(v - data))
			vl = n - (size_t)(v - data);
		if (vl >= sizeof(c->www_auth))
			vl = sizeof(c->www_auth) - 1;
		memcpy(c->www_auth, v, vl);
		c->www_auth[vl] = '\0';
	}
	return n;
}

enum bde_status
http_client_new(const struct http_options *o, struct http_client **out,
    char **errstr)
{
	struct http_client *c = NULL;
	enum bde_status st = BDE_OK;
	static const char ua[] = "bdekey/" BDEKEY_VERSION;

	*out = NULL;
	/* thread-safe since libcurl 7.84; a no-op after the first call */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		st = bde_error(errstr, BDE_EUNREACH, "cannot initialise libcurl");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (o != NULL)
		c->o = *o;
	if (c->o.timeout <= 0)
		c->o.timeout = HTTP_DEFAULT_TIMEOUT;
	if (c->o.deadline <= 0)
		c->o.deadline = HTTP_DEFAULT_DEADLINE;
	if (c->o.max_body == 0)
		c->o.max_body = HTTP_MAX_BODY;
	if (c->o.max_attempts <= 0)
		c->o.max_attempts = HTTP_DEFAULT_ATTEMPTS;
	c->deadline_ms = bde_now_ms() + (long long)c->o.deadline * 1000;

	c->curl = curl_easy_init();
	if (c->curl == NULL) {
		st = bde_error(errstr, BDE_EUNREACH, "cannot initialise libcurl");
		goto out;
	}
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, ua);
	/* tokens never travel in clear text, never to another host */
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85.0 */
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c->curl, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)c->o.max_body);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, (long)c->o.timeout);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	st = http_ca_setup(c->curl, c->o.ca_bundle, 0, &c->ca_partial, errstr);
	if (st != BDE_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	http_client_free(c);
	return st;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	http_buffer_wipe(&c->body);
	free(c);
}

void
http_client_set_deadline(struct http_client *c, int seconds)
{
	c->deadline_ms = bde_now_ms() + (long long)seconds * 1000;
}

int
http_client_sleep(struct http_client *c, long long ms)
{
	long long wait;

	if (ms > HTTP_RETRY_AFTER_MAX_S * 1000LL)
		return -1;
	wait = bde_wait_clamp(ms, RETRY_MIN_MS, HTTP_RETRY_AFTER_MAX_S * 1000LL,
	    c->deadline_ms);
	if (wait < 0)
		return -1;
	bde_sleep_ms(wait);
	return 0;
}

int
http_status_retryable(long status)
{
	/* throttled, or unavailable for now: Retry-After says when */
	return status == 429 || status == 503 || status == 504;
}

void
http_response_release(struct http_response *rs)
{
	if (rs->body != NULL) {
		explicit_bzero(rs->body, rs->len);
		free(rs->body);
	}
	bde_json_wipe_delete(rs->json);
	memset(rs, 0, sizeof(*rs));
	rs->retry_after = -1;
}

/* Free a header list after wiping it: it may hold the bearer token. */
static void
slist_wipe_free(struct curl_slist *l)
{
	struct curl_slist *p;

	for (p = l; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

/* Append "Name: value" to *l; -1 when out of memory. */
static int
add_header(struct curl_slist **l, const char *line)
{
	struct curl_slist *n = curl_slist_append(*l, line);

	if (n == NULL)
		return -1;
	*l = n;
	return 0;
}

/*
 * Headers for one attempt: a new list the caller frees with
 * slist_wipe_free (it holds the bearer token); NULL when out of memory.
 */
static struct curl_slist *
make_headers(const struct http_request *rq, const char *request_id)
{
	struct curl_slist *l = NULL;
	char line[128];
	char *auth = NULL;
	size_t i, alen;
	int bad = 0;

	snprintf(line, sizeof(line), "client-request-id: %s", request_id);
	bad |= add_header(&l, line);
	bad |= add_header(&l, "return-client-request-id: true");
	bad |= add_header(&l, "ocp-client-name: bdekey");
	bad |= add_header(&l, "ocp-client-version: " BDEKEY_VERSION);
	bad |= add_header(&l, "Accept: application/json");
	/* no "Expect: 100-continue" round trip for a large POST */
	bad |= add_header(&l, "Expect:");
	if (rq->body != NULL && rq->content_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s",
		    rq->content_type);
		bad |= add_header(&l, line);
	} else if (strcmp(rq->method, "GET") != 0) {
		/* no body: not libcurl's default form content type either */
		bad |= add_header(&l, "Content-Type:");
	}
	for (i = 0; rq->headers != NULL && rq->headers[i] != NULL; i++)
		bad |= add_header(&l, rq->headers[i]);
	if (rq->bearer != NULL) {
		alen = strlen(rq->bearer) + sizeof("Authorization: Bearer ");
		auth = malloc(alen);
		if (auth == NULL) {
			bad = -1;
		} else {
			snprintf(auth, alen, "Authorization: Bearer %s",
			    rq->bearer);
			bad |= add_header(&l, auth);
			explicit_bzero(auth, alen);
			free(auth);
		}
	}
	if (bad) {
		slist_wipe_free(l);
		return NULL;
	}
	return l;
}

/* Whether a failed transfer may be tried again (GET only). */
static int
transport_retryable(CURLcode rc)
{
	return rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
	    rc == CURLE_SEND_ERROR || rc == CURLE_PARTIAL_FILE ||
	    rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
}

static long long
backoff_ms(int attempt)
{
	long long ms = BACKOFF_FIRST_MS;
	uint32_t r = 0;
	int i;

	for (i = 1; i < attempt && ms < BACKOFF_CAP_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_CAP_MS)
		ms = BACKOFF_CAP_MS;
	/* "full jitter" halved: between ms/2 and ms; best effort */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = 0;
	return ms / 2 + (long long)(r % (uint32_t)(ms / 2 + 1));
}

/* Whether the body looks like JSON when no Content-Type says so. */
static int
looks_json(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && isspace((unsigned char)p[i]); i++)
		;
	return i < n && (p[i] == '{' || p[i] == '[');
}

/* One transfer; the response body stays in c->body. */
static CURLcode
perform(struct http_client *c, const struct http_request *rq,
    struct curl_slist *headers, long long budget_ms)
{
	long long conn_ms = budget_ms < CONNECT_TIMEOUT_MAX_MS ? budget_ms :
	    CONNECT_TIMEOUT_MAX_MS;
	long timeout_ms = (long)(budget_ms < (long long)c->o.timeout * 1000 ?
	    budget_ms : (long long)c->o.timeout * 1000);
	CURLcode rc;

	c->errbuf[0] = '\0';
	c->too_big = 0;
	c->retry_after = -1;
	c->json_type = 0;
	c->www_auth[0] = '\0';
	c->body.n = 0;
	curl_easy_setopt(c->curl, CURLOPT_URL, rq->url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)conn_ms);
	/*
	 * libcurl sends a request again by itself when a reused connection
	 * turns out dead: not one that must be sent at most once.
	 */
	curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, (long)(rq->once != 0));
	curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, (long)(rq->once != 0));
	if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS,
		    rq->body != NULL ? rq->body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(rq->body != NULL ? rq->body_len : 0));
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
		    strcmp(rq->method, "POST") == 0 ? NULL : rq->method);
	}
	rc = curl_easy_perform(c->curl);
	/* the handle keeps pointers to these: clear them */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	return rc;
}

/* Move c->body into rs and parse it; BDE_EPROTO for 2xx bad JSON. */
static enum bde_status
take_body(struct http_client *c, struct http_response *rs, const char *label,
    char **errstr)
{
	int is_json;

	if (c->body.n > 0) {
		/* hand the buffer over: no copy of a password left behind */
		rs->body = c->body.p;
		rs->len = c->body.n;
		c->body.p = NULL;
		c->body.n = c->body.cap = 0;
	}
	if (rs->body == NULL)
		return BDE_OK;
	is_json = c->json_type || looks_json(rs->body, rs->len);
	if (!is_json)
		return BDE_OK;
	rs->json = cJSON_ParseWithLength(rs->body, rs->len);
	if (rs->json == NULL && rs->status >= 200 && rs->status < 300)
		return bde_error(errstr, BDE_EPROTO, "malformed JSON in the "
		    "answer from '%s' (HTTP %ld, client-request-id %s)", label,
		    rs->status, rs->request_id);
	return BDE_OK;
}

/*
 * Whether a failed handshake is one the system CA file may fix: the
 * peer's issuer was not found in the CA directory (ca.c's first stage).
 */
static int
issuer_unknown(struct http_client *c, CURLcode rc)
{
	long vr = 0;

	if (!c->ca_partial || rc != CURLE_PEER_FAILED_VERIFICATION ||
	    curl_easy_getinfo(c->curl, CURLINFO_SSL_VERIFYRESULT, &vr) !=
	    CURLE_OK)
		return 0;
	return vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	    vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	    vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	    vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
	    vr == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

/* Whether any byte of the request went out (it may have been acted on). */
static int
request_sent(struct http_client *c)
{
	long n = 0;

	return curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &n) !=
	    CURLE_OK || n > 0;
}

int
http_bearer_ok(const char *t)
{
	size_t i = 0, n;

	/* RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" /
	   "~" / "+" / "/" ) *"=" */
	/* ASCII by hand: isalnum() follows the locale */
	while (i <= 65536 && t[i] != '\0' && ((t[i] >= 'A' && t[i] <= 'Z') ||
	    (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') ||
	    strchr("-._~+/", t[i]) != NULL))
		i++;
	n = i;
	while (i <= 65536 && t[i] == '=')
		i++;
	return n > 0 && i <= 65536 && t[i] == '\0';
}

enum bde_status
http_send(struct http_client *c, const struct http_request *rq,
    struct http_response *rs, char **errstr)
{
	struct curl_slist *headers = NULL;
	enum bde_status st = BDE_OK;
	char label[1024];
	long long left, wait;
	int attempt, is_get = strcmp(rq->method, "GET") == 0;
	CURLcode rc;

	memset(rs, 0, sizeof(*rs));
	rs->retry_after = -1;
	http_url_label(rq->url, label, sizeof(label));
	/* a CR or LF in the token would be a header line of its own */
	if (rq->bearer != NULL && !http_bearer_ok(rq->bearer)) {
		st = bde_error(errstr, BDE_EPROTO, "refusing to send '%s %s': "
		    "the access token has characters a bearer token cannot "
		    "have (RFC 6750)", rq->method, label);
		goto out;
	}
	for (attempt = 1;; attempt++) {
		left = c->deadline_ms - bde_now_ms();
		if (left <= 0) {
			st = bde_error(errstr, BDE_EUNREACH, "'%s %s' not "
			    "answered within the deadline of %d s%s%s%s",
			    rq->method, label, c->o.deadline,
			    attempt > 1 ? " (client-request-id " : "",
			    attempt > 1 ? rs->request_id : "",
			    attempt > 1 ? ")" : "");
			goto out;
		}
		bde_guid_random(rs->request_id);
		slist_wipe_free(headers);
		headers = make_headers(rq, rs->request_id);
		if (headers == NULL) {
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		rc = perform(c, rq, headers, left);
		if (rc != CURLE_OK && issuer_unknown(c, rc)) {
			/* not verified against the CA directory: add the file */
			st = http_ca_setup(c->curl, c->o.ca_bundle, 1,
			    &c->ca_partial, errstr);
			if (st != BDE_OK)
				goto out;
			c->ca_partial = 0;
			attempt--;
			continue;
		}
		if (rc != CURLE_OK) {
			if (c->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
				st = bde_error(errstr, BDE_EPROTO, "the answer "
				    "from '%s' is larger than %zu bytes "
				    "(client-request-id %s)", label,
				    c->o.max_body, rs->request_id);
				goto out;
			}
			if (rq->once && request_sent(c)) {
				st = bde_error(errstr, BDE_EUNREACH, "'%s %s' "
				    "got no answer (%s): the outcome is unknown, "
				    "it may or may not have been carried out; "
				    "not sent again (client-request-id %s)",
				    rq->method, label, c->errbuf[0] ?
				    c->errbuf : curl_easy_strerror(rc),
				    rs->request_id);
				goto out;
			}
			wait = is_get && transport_retryable(rc) &&
			    attempt < c->o.max_attempts ?
			    bde_wait_clamp(backoff_ms(attempt), RETRY_MIN_MS,
			    BACKOFF_CAP_MS, c->deadline_ms) : -1;
			if (wait >= 0) {
				bde_sleep_ms(wait);
				continue;
			}
			st = bde_error(errstr, rc == CURLE_OUT_OF_MEMORY ?
			    BDE_ENOMEM : BDE_EUNREACH, "cannot reach '%s': %s "
			    "(client-request-id %s)", label,
			    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc),
			    rs->request_id);
			goto out;
		}
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &rs->status);
		rs->retry_after = c->retry_after;
		memcpy(rs->www_authenticate, c->www_auth,
		    sizeof(rs->www_authenticate));
		/* a 503 or 504 may come after the server acted: the caller's */
		if (!http_status_retryable(rs->status) ||
		    (rq->once && rs->status != 429))
			break;
		wait = rs->retry_after > HTTP_RETRY_AFTER_MAX_S ? -1 :
		    bde_wait_clamp(rs->retry_after >= 0 ?
		    rs->retry_after * 1000LL : backoff_ms(attempt),
		    RETRY_MIN_MS, HTTP_RETRY_AFTER_MAX_S * 1000LL,
		    c->deadline_ms);
		if (wait < 0) {
			st = bde_error(errstr, BDE_EUNREACH, "'%s %s' is "
			    "throttled (HTTP %ld) and the wait it asks for "
			    "passes the deadline of %d s (client-request-id %s)",
			    rq->method, label, rs->status, c->o.deadline,
			    rs->request_id);
			goto out;
		}
		if (attempt >= c->o.max_attempts) {
			st = bde_error(errstr, BDE_EUNREACH, "'%s %s' is still "
			    "throttled (HTTP %ld) after %d attempts "
			    "(client-request-id %s)", rq->method, label,
			    rs->status, attempt, rs->request_id);
			goto out;
		}
		bde_sleep_ms(wait);
	}
	st = take_body(c, rs, label, errstr);
out:
	slist_wipe_free(headers);
	/* a body left in the transfer buffer is wiped, not kept */
	if (c->body.p != NULL)
		explicit_bzero(c->body.p, c->body.cap);
	c->body.n = 0;
	return st;
}

/* Whether c is a token character (RFC 9110 5.6.2). */
static int
tchar(int c)
{
	return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) ==
	    NULL;
}

int
http_auth_param(const char *p, const char *scheme, const char *name,
    char *buf, size_t len)
{
	size_t sl = strlen(scheme), nl = strlen(name), n, o;
	int match;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	/* challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ] */
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (strncasecmp(p, scheme, sl) != 0 || (p[sl] != '\0' && p[sl] != ' '))
		return 0;
	p += sl;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		for (n = 0; tchar((unsigned char)p[n]) && p[n] != '='; n++)
			;
		if (n == 0)
			return 0;
		match = n == nl && strncasecmp(p, name, n) == 0;
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
		/* a token without "=": the next challenge's scheme */
		if (*p != '=')
			return 0;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		o = 0;
		if (*p == '"') {
			/* quoted-string with quoted-pairs */
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (match && o + 1 < len)
					buf[o++] = *p;
			}
			if (*p != '"')
				return 0;	/* unterminated */
			p++;
		} else {
			for (; tchar((unsigned char)*p); p++)
				if (match && o + 1 < len)
					buf[o++] = *p;
		}
		if (match) {
			buf[o] = '\0';
			return 1;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ',')
			return 0;
	}
}
