/*
 * batch.c - groups of GETs: Graph JSON batching ($batch, up to 20 a
 * request, answered in any order), the retries of throttled items inside
 * a batch, and single GETs for what a batch did not settle.
 */
#include "graph/graph_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Rounds of inner 429s a $batch group may see before single GETs. */
#define BATCH_ROUNDS 3
#define BATCH_RETRY_DEFAULT_MS 1000
/* Retry-After seconds beyond this read as this (no overflow in ms). */
#define BATCH_RETRY_LIMIT_S (366LL * 86400)

void
graph_reqs_free(struct graph_req *r, size_t n)
{
	size_t i;

	for (i = 0; r != NULL && i < n; i++) {
		free(r[i].path);
		bde_json_wipe_delete(r[i].body);
	}
	free(r);
}

/* One request on its own: GET {v1}{path}. */
static enum bde_status
fetch_one(struct graph *g, struct graph_req *r, char **errstr)
{
	struct http_response rs = { 0 };
	enum bde_status st;
	char *url = NULL;

	if (asprintf(&url, "%s%s", g->v1, r->path) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = graph_call(g, "GET", url, NULL, 0, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	bde_json_wipe_delete(r->body);
	r->status = rs.status;
	r->body = rs.json;
	rs.json = NULL;
	memcpy(r->request_id, rs.request_id, sizeof(r->request_id));
out:
	free(url);
	http_response_release(&rs);
	return st;
}

/*
 * The $batch body for the requests whose indexes are in idx: a new
 * string the caller frees, or NULL when out of memory.
 */
static char *
batch_body(const struct graph_req *r, const size_t *idx, size_t n)
{
	cJSON *doc = cJSON_CreateObject(), *reqs, *o;
	char id[24], *text = NULL;
	size_t i;

	reqs = cJSON_AddArrayToObject(doc, "requests");
	if (reqs == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(reqs, o))
			goto out;
		/* ids are the indexes: answers come back in any order */
		snprintf(id, sizeof(id), "%zu", idx[i]);
		if (cJSON_AddStringToObject(o, "id", id) == NULL ||
		    cJSON_AddStringToObject(o, "method", "GET") == NULL ||
		    cJSON_AddStringToObject(o, "url", r[idx[i]].path) == NULL)
			goto out;
	}
	text = cJSON_PrintUnformatted(doc);
out:
	cJSON_Delete(doc);
	return text;
}

/*
 * Retry-After of an inner answer, from its headers (any case), in ms:
 * seconds as a number or a string, or an HTTP date; -1 when there is none
 * we can use.  Huge values are capped here and not waited for later
 * (http_client_sleep).
 */
static long long
inner_retry_after_ms(const cJSON *resp)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(resp, "headers"), *v;
	long long secs;
	long r;

	if (!cJSON_IsObject(h))
		return -1;
	cJSON_ArrayForEach(v, h) {
		if (v->string == NULL || strcasecmp(v->string, "Retry-After"))
			continue;
		switch (bde_json_integer(v, 0, BATCH_RETRY_LIMIT_S, &secs)) {
		case BDE_NUM_OK:
			return secs * 1000;
		case BDE_NUM_RANGE:
			return BATCH_RETRY_LIMIT_S * 1000;
		}
		if (!cJSON_IsString(v))
			return -1;
		r = http_parse_retry_after(v->valuestring,
		    strlen(v->valuestring), time(NULL));
		return r < 0 ? -1 : r * 1000LL;
	}
	return -1;
}

int
graph_batch_take(cJSON *doc, struct graph_req *r, size_t nreq, size_t *idx,
    size_t n, size_t *left, long long *wait_ms)
{
	cJSON *resps, *a;
	long long k, status, ra;
	size_t i, m;

	*left = n;
	*wait_ms = 0;
	resps = cJSON_GetObjectItemCaseSensitive(doc, "responses");
	if (!cJSON_IsArray(resps))
		return -1;
	cJSON_ArrayForEach(a, resps) {
		/* ids are the indexes sent (batch_body) */
		if (nreq == 0 ||
		    bde_json_number(a, "id", 0, (long long)nreq - 1, &k) !=
		    BDE_NUM_OK ||
		    bde_json_number(a, "status", 100, 999, &status) !=
		    BDE_NUM_OK)
			continue;
		for (i = 0; i < *left && idx[i] != (size_t)k; i++)
			;
		if (i == *left)
			continue;	/* not asked for, or answered twice */
		if (http_status_retryable((long)status)) {
			ra = inner_retry_after_ms(a);
			if (ra > *wait_ms)
				*wait_ms = ra;
			continue;
		}
		bde_json_wipe_delete(r[k].body);
		r[k].status = (long)status;
		r[k].body = cJSON_DetachItemFromObjectCaseSensitive(a, "body");
		/* done: drop k from the list still to do */
		for (m = i; m + 1 < *left; m++)
			idx[m] = idx[m + 1];
		(*left)--;
	}
	if (*left > 0 && *wait_ms == 0)
		*wait_ms = BATCH_RETRY_DEFAULT_MS;
	return 0;
}

/*
 * Send the requests idx[0..n) as one $batch.  Answers land in r; the
 * indexes still to do (throttled, unanswered) are left in idx and *left,
 * *wait_ms says how long to wait first.  *refused is set when the batch
 * as a whole was not accepted: then nothing was answered.
 */
static enum bde_status
batch_once(struct graph *g, struct graph_req *r, size_t nreq, size_t *idx,
    size_t n, size_t *left, long long *wait_ms, int *refused, char **errstr)
{
	struct http_response rs = { 0 };
	enum bde_status st = BDE_OK;
	char *body = NULL, *url = NULL;
	size_t orig[GRAPH_BATCH_MAX], i, j;

	*left = n;
	*wait_ms = 0;
	*refused = 0;
	memcpy(orig, idx, n * sizeof(*idx));
	body = batch_body(r, idx, n);
	if (body == NULL || asprintf(&url, "%s/$batch", g->v1) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = graph_call(g, "POST", url, body, 0, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	if (rs.status < 200 || rs.status > 299 ||
	    graph_batch_take(rs.json, r, nreq, idx, n, left, wait_ms) < 0) {
		*refused = 1;
		goto out;
	}
	/* what was answered (left idx) carries the batch's request id */
	for (i = 0; i < n; i++) {
		for (j = 0; j < *left && idx[j] != orig[i]; j++)
			;
		if (j == *left)
			memcpy(r[orig[i]].request_id, rs.request_id,
			    sizeof(r[orig[i]].request_id));
	}
out:
	free(body);
	free(url);
	http_response_release(&rs);
	return st;
}

/* Whether a request's answer must be fetched again on its own. */
static int
needs_single(const struct graph_req *r)
{
	if (r->status >= 200 && r->status <= 299)
		return 0;
	/* 403 and 404 are the answer; anything else may be batch-specific */
	return r->status != 403 && r->status != 404;
}

enum bde_status
graph_fetch_all(struct graph *g, struct graph_req *r, size_t n,
    char **errstr)
{
	enum bde_status st = BDE_OK;
	size_t idx[GRAPH_BATCH_MAX], start, i, cnt, left;
	long long wait;
	int round, refused;

	for (i = 0; i < n; i++)
		r[i].status = 0;
	for (start = 0; n > 1 && start < n; start += GRAPH_BATCH_MAX) {
		cnt = n - start;
		if (cnt > GRAPH_BATCH_MAX)
			cnt = GRAPH_BATCH_MAX;
		if (cnt == 1)
			break;
		for (i = 0; i < cnt; i++)
			idx[i] = start + i;
		left = cnt;
		for (round = 0; round < BATCH_ROUNDS && left > 0; round++) {
			st = batch_once(g, r, n, idx, left, &left, &wait,
			    &refused, errstr);
			if (st != BDE_OK)
				goto out;
			if (refused)
				break;
			/* a wait past the cap: one by one now instead */
			if (left > 0 && http_client_sleep(g->http, wait) < 0)
				break;
		}
	}
	/* what the batches did not settle, one by one */
	for (i = 0; i < n; i++) {
		if (!needs_single(&r[i]))
			continue;
		st = fetch_one(g, &r[i], errstr);
		if (st != BDE_OK)
			goto out;
	}
out:
	return st;
}
