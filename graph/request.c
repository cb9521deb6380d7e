/*
 * request.c - one Graph request and what comes of it: the bearer token and
 * one renewal on 401, Graph's error bodies mapped to a status and a
 * message, and paging with @odata.nextLink (same origin only, no loops,
 * a budget of pages and items per lookup).
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum bde_status
graph_call(struct graph *g, const char *method, const char *url,
    const char *body, unsigned flags, struct http_response *rs,
    char **errstr)
{
	static const char *const extra[] = {
		/* a person is waiting: Graph may favour these requests */
		"x-ms-throttle-priority: high",
		NULL
	};
	struct http_request rq;
	enum bde_status st;
	const char *token;
	char why[300], what[400];
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
		rq.once = (flags & GRAPH_ONCE) != 0;
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
	if (st == BDE_OK && rs->status == 401) {
		/* RFC 6750 3: the challenge may say why */
		graph_challenge_text(rs->www_authenticate, why, sizeof(why));
		snprintf(what, sizeof(what), "Graph refused the access token "
		    "even after renewing it%s%s%s", why[0] ? " (" : "", why,
		    why[0] ? ")" : "");
		st = graph_fail(rs->status, rs->json, rs->request_id, what,
		    NULL, errstr);
	}
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
		snprintf(detail, sizeof(detail), "%.100s: %.300s", code, msg);
	else if (code != NULL)
		snprintf(detail, sizeof(detail), "%.100s", code);
	else
		snprintf(detail, sizeof(detail), "HTTP %ld", status);
	return bde_error(errstr, st, "%s: %s (%s%sclient-request-id %s)", what,
	    detail, status == 403 && need != NULL ? need : "",
	    status == 403 && need != NULL ? "; " : "", request_id);
}

void
graph_challenge_text(const char *www, char *buf, size_t len)
{
	char err[64], desc[200];

	buf[0] = '\0';
	if (len == 0 || www == NULL ||
	    !http_auth_param(www, "Bearer", "error", err, sizeof(err)) ||
	    err[0] == '\0')
		return;
	if (http_auth_param(www, "Bearer", "error_description", desc,
	    sizeof(desc)) && desc[0] != '\0')
		snprintf(buf, len, "%s: %s", err, desc);
	else
		snprintf(buf, len, "%s", err);
}

enum bde_status
graph_page_parts(const cJSON *doc, const char *what, const char *request_id,
    const cJSON **value, const char **next, char **errstr)
{
	const cJSON *n;

	*value = NULL;
	*next = NULL;
	/* a gateway's 200 with an empty or HTML body lands here */
	if (!cJSON_IsObject(doc))
		return bde_error(errstr, BDE_EPROTO, "%s: the answer has no "
		    "JSON body (client-request-id %s)", what, request_id);
	*value = cJSON_GetObjectItemCaseSensitive(doc, "value");
	if (!cJSON_IsArray(*value)) {
		*value = NULL;
		return bde_error(errstr, BDE_EPROTO, "%s: the answer has no "
		    "value list (client-request-id %s)", what, request_id);
	}
	n = cJSON_GetObjectItemCaseSensitive(doc, "@odata.nextLink");
	if (n == NULL || cJSON_IsNull(n))
		return BDE_OK;
	if (!cJSON_IsString(n) || n->valuestring[0] == '\0') {
		*value = NULL;
		return bde_error(errstr, BDE_EPROTO, "%s: refusing to follow a "
		    "bad @odata.nextLink (client-request-id %s)", what,
		    request_id);
	}
	*next = n->valuestring;
	return BDE_OK;
}

void
graph_walk_release(struct graph_walk *w)
{
	http_links_release(&w->links);
}

enum bde_status
graph_walk_page(struct graph_walk *w, struct graph_budget *b,
    const char *next, size_t nitems, const char *what, char **errstr)
{
	const char *p;
	int r;

	b->pages++;
	b->items += nitems;
	if (b->items > b->max_items || b->items < nitems)
		return bde_error(errstr, BDE_EPROTO, "%s: more than %lu items in "
		    "one lookup; stopped", what, b->max_items);
	if (next == NULL)
		return BDE_OK;
	if (b->pages >= b->max_pages)
		return bde_error(errstr, BDE_EPROTO, "%s: more than %lu pages in "
		    "one lookup; stopped", what, b->max_pages);
	/* it becomes a request line: printable ASCII, no blanks */
	for (p = next; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return bde_error(errstr, BDE_EPROTO, "%s: refusing to "
			    "follow an @odata.nextLink with a blank or a "
			    "control character", what);
	r = http_links_add(&w->links, next);
	if (r < 0)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	if (r > 0)
		return bde_error(errstr, BDE_EPROTO, "%s: the @odata.nextLink "
		    "leads back to a page already read (a loop); stopped",
		    what);
	return BDE_OK;
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
	struct graph_walk w = { { NULL, 0, 0 } };
	enum bde_status st = BDE_OK;
	const cJSON *doc = first, *value;
	const char *next;
	char *cur = NULL;
	int fetch = url != NULL;

	for (;;) {
		if (fetch) {
			http_response_release(&rs);
			st = graph_call(g, "GET", url, NULL, 0, &rs, errstr);
			if (st != BDE_OK)
				goto out;
			if (rs.status != 200) {
				st = graph_fail(rs.status, rs.json,
				    rs.request_id, what, need, errstr);
				goto out;
			}
			doc = rs.json;
		}
		st = graph_page_parts(doc, what, rs.request_id[0] ?
		    rs.request_id : "-", &value, &next, errstr);
		if (st != BDE_OK)
			goto out;
		st = graph_walk_page(&w, &g->budget, next,
		    (size_t)cJSON_GetArraySize(value), what, errstr);
		if (st != BDE_OK)
			goto out;
		st = page(value, arg, errstr);
		if (st != BDE_OK || next == NULL)
			goto out;
		/* the token goes wherever nextLink points: only to Graph */
		if (!same_origin(g, next)) {
			st = bde_error(errstr, BDE_EPROTO, "%s: refusing to "
			    "follow an @odata.nextLink to another origin",
			    what);
			goto out;
		}
		free(cur);
		cur = strdup(next);
		if (cur == NULL) {
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		url = cur;
		fetch = 1;
	}
out:
	free(cur);
	graph_walk_release(&w);
	http_response_release(&rs);
	return st;
}
