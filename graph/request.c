/*
 * request.c - one Graph request and what comes of it: the bearer token and
 * one renewal on 401, Graph's error bodies mapped to a status and a
 * message, and paging with @odata.nextLink (same origin only).
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum bde_status
graph_call(struct graph *g, const char *method, const char *url,
    const char *body, struct http_response *rs, char **errstr)
{
	static const char *const extra[] = {
		/* a person is waiting: Graph may favour these requests */
		"x-ms-throttle-priority: high",
		NULL
	};
	struct http_request rq;
	enum bde_status st;
	const char *token;
	int renewed = 0;

	memset(rs, 0, sizeof(*rs));
	st = id_access_token(g->id, &token, errstr);
	if (st != BDE_OK)
		return st;
	for (;;) {
		memset(&rq, 0, sizeof(rq));
		rq.method = method;
		rq.url = url;
		rq.bearer = token;
		rq.headers = extra;
		if (body != NULL) {
			rq.body = body;
			rq.body_len = strlen(body);
			rq.content_type = "application/json";
		}
		st = http_send(g->http, &rq, rs, errstr);
		if (st != BDE_OK || rs->status != 401 || renewed)
			break;
		/* expired or revoked token: renew once, then give up */
		http_response_release(rs);
		renewed = 1;
		st = id_renew(g->id, &token, errstr);
		if (st != BDE_OK)
			return st;
	}
	if (st == BDE_OK && rs->status == 401)
		st = graph_fail(rs->status, rs->json, rs->request_id,
		    "Graph refused the access token even after renewing it",
		    NULL, errstr);
	return st;
}

enum bde_status
graph_fail(long status, const cJSON *body, const char *request_id,
    const char *what, const char *need, char **errstr)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(body, "error");
	const char *code = bde_json_string(err, "code");
	const char *msg = bde_json_string(err, "message");
	enum bde_status st;
	char detail[512];

	if (status == 401)
		st = BDE_EAUTH;
	else if (status == 403)
		st = BDE_EPERM;
	else if (status == 404)
		st = BDE_ENOTFOUND;
	else if (status >= 500)
		st = BDE_EUNREACH;
	else
		st = BDE_EPROTO;
	if (code != NULL && msg != NULL)
		snprintf(detail, sizeof(detail), "%s: %.300s", code, msg);
	else if (code != NULL)
		snprintf(detail, sizeof(detail), "%s", code);
	else
		snprintf(detail, sizeof(detail), "HTTP %ld", status);
	return bde_error(errstr, st, "%s: %s (%s%sclient-request-id %s)", what,
	    detail, status == 403 && need != NULL ? need : "",
	    status == 403 && need != NULL ? "; " : "", request_id);
}

/* Whether a nextLink may be followed: same origin as the Graph URL. */
static int
same_origin(const struct graph *g, const char *url)
{
	size_t n = strlen(g->origin);

	return strncasecmp(url, g->origin, n) == 0 && url[n] == '/';
}

enum bde_status
graph_pages(struct graph *g, const char *url, const cJSON *first,
    const char *what, const char *need,
    enum bde_status (*page)(const cJSON *value, void *arg, char **errstr),
    void *arg, char **errstr)
{
	struct http_response rs = { 0 };
	enum bde_status st = BDE_OK;
	const cJSON *doc = first, *value, *next;
	char *cur = NULL;

	for (;;) {
		if (doc == NULL) {
			http_response_release(&rs);
			st = graph_call(g, "GET", url, NULL, &rs, errstr);
			if (st != BDE_OK)
				goto out;
			if (rs.status != 200) {
				st = graph_fail(rs.status, rs.json,
				    rs.request_id, what, need, errstr);
				goto out;
			}
			doc = rs.json;
		}
		value = cJSON_GetObjectItemCaseSensitive(doc, "value");
		if (!cJSON_IsArray(value)) {
			st = bde_error(errstr, BDE_EPROTO, "%s: the answer has "
			    "no value list (client-request-id %s)", what,
			    rs.request_id[0] ? rs.request_id : "-");
			goto out;
		}
		st = page(value, arg, errstr);
		if (st != BDE_OK)
			goto out;
		next = cJSON_GetObjectItemCaseSensitive(doc, "@odata.nextLink");
		if (next == NULL || cJSON_IsNull(next))
			break;
		/* the token goes wherever nextLink points: only to Graph */
		if (!cJSON_IsString(next) || !same_origin(g, next->valuestring)
		    || (cur != NULL && strcmp(cur, next->valuestring) == 0)) {
			st = bde_error(errstr, BDE_EPROTO, "%s: refusing to "
			    "follow a bad @odata.nextLink", what);
			goto out;
		}
		free(cur);
		cur = strdup(next->valuestring);
		if (cur == NULL) {
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		url = cur;
		doc = NULL;
	}
out:
	free(cur);
	http_response_release(&rs);
	return st;
}
