/*
 * graph.c - the Graph backend's setup (clouds, scopes, sign-in) and its
 * request plumbing: the bearer token and one renewal on 401, Graph's
 * error bodies, paging with @odata.nextLink, and $batch.
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Rounds of inner 429s a $batch group may see before single GETs. */
#define BATCH_ROUNDS 3
#define BATCH_RETRY_DEFAULT_MS 1000

static const struct cloud {
	const char *name, *login, *graph;
} clouds[] = {
	{ "global", "https://login.microsoftonline.com",
	  "https://graph.microsoft.com" },
	{ "usgov", "https://login.microsoftonline.us",
	  "https://graph.microsoft.us" },
	{ "dod", "https://login.microsoftonline.us",
	  "https://dod-graph.microsoft.us" },
	{ "china", "https://login.chinacloudapi.cn",
	  "https://microsoftgraph.chinacloudapi.cn" },
};

/* Delegated permissions, each prefixed with the Graph resource. */
static const char *const delegated_scopes[] = {
	"BitlockerKey.Read.All",
	/* granted alone when an admin consented only to metadata */
	"BitlockerKey.ReadBasic.All",
	"Device.Read.All",
	"DeviceManagementManagedDevices.ReadWrite.All",
	NULL
};

static const struct cloud *
find_cloud(const char *name)
{
	size_t i;

	if (name == NULL)
		return &clouds[0];
	for (i = 0; i < sizeof(clouds) / sizeof(clouds[0]); i++)
		if (strcasecmp(name, clouds[i].name) == 0)
			return &clouds[i];
	return NULL;
}

/* url without trailing slashes, copied; NULL when out of memory. */
static char *
trim_url(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return strndup(url, n);
}

/*
 * The scope string: the app's "{resource}/.default", or the delegated
 * permissions with openid/profile (for the user's name in the id_token)
 * and offline_access (for a refresh token).  The resource is the Graph
 * origin: the cloud's host, or the overriding URL's origin.  Returns a
 * new string the caller frees, or NULL when out of memory.
 */
static char *
make_scope(const char *origin, int app)
{
	char *s = NULL, *t;
	size_t i;

	if (app) {
		if (asprintf(&s, "%s/.default", origin) < 0)
			return NULL;
		return s;
	}
	s = strdup("");
	for (i = 0; s != NULL && delegated_scopes[i] != NULL; i++) {
		if (asprintf(&t, "%s%s/%s ", s, origin, delegated_scopes[i]) < 0)
			t = NULL;
		free(s);
		s = t;
	}
	if (s == NULL)
		return NULL;
	if (asprintf(&t, "%sopenid profile offline_access", s) < 0)
		t = NULL;
	free(s);
	return t;
}

static void
graph_free(struct graph *g)
{
	if (g == NULL)
		return;
	id_session_free(g->id);
	http_client_free(g->http);
	free(g->base);
	free(g->v1);
	free(g->beta);
	free(g->origin);
	free(g->authority);
	free(g->scope);
	free(g->ident);
	free(g);
}

/*
 * The state without network: URLs, scope, HTTP client and identity
 * session.  allow_app = 0 forces a delegated session (login, logout).
 */
static enum bde_status
graph_new(const struct graph_settings *s, int allow_app, struct graph **out,
    char **errstr)
{
	const struct cloud *cl;
	struct graph *g = NULL;
	struct http_options ho;
	enum bde_status st = BDE_OK;
	int app;

	*out = NULL;
	if (s->tenant == NULL || s->tenant[0] == '\0') {
		st = bde_error(errstr, BDE_ECONFIG, "no Entra tenant: set "
		    "--tenant or BDEKEY_TENANT");
		goto out;
	}
	cl = find_cloud(s->cloud);
	if (cl == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "cloud '%s' is not global, "
		    "usgov, dod or china", s->cloud);
		goto out;
	}
	if (s->client_cert != NULL && s->client_key == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "a client certificate "
		    "needs its private key (--client-key)");
		goto out;
	}
	app = allow_app && (s->client_secret != NULL || s->client_cert != NULL);
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	g->base = trim_url(s->graph != NULL ? s->graph : cl->graph);
	g->authority = trim_url(s->authority != NULL ? s->authority :
	    cl->login);
	if (g->base == NULL || g->authority == NULL ||
	    asprintf(&g->v1, "%s/v1.0", g->base) < 0 ||
	    asprintf(&g->beta, "%s/beta", g->base) < 0) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	if (strncasecmp(g->base, "https://", 8) != 0 ||
	    strncasecmp(g->authority, "https://", 8) != 0) {
		st = bde_error(errstr, BDE_ECONFIG, "Graph and authority URLs "
		    "must be https:// ('%s', '%s')", g->base, g->authority);
		goto out;
	}
	g->origin = http_origin(g->base);
	if (g->origin == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "bad Graph URL '%s'",
		    g->base);
		goto out;
	}
	g->scope = make_scope(g->origin, app);
	if (g->scope == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	g->idc.authority = g->authority;
	g->idc.tenant = s->tenant;
	g->idc.client_id = s->client_id != NULL ? s->client_id :
	    GRAPH_DEFAULT_CLIENT_ID;
	g->idc.scope = g->scope;
	if (app) {
		g->idc.client_secret = s->client_secret;
		g->idc.client_cert = s->client_cert;
		g->idc.client_key = s->client_key;
		g->idc.assertion_rs256 = s->assertion_rs256 > 0;
	}
	g->idc.cache_dir = s->cache_dir;
	g->progress = s->progress;
	g->progress_arg = s->progress_arg;

	memset(&ho, 0, sizeof(ho));
	ho.ca_bundle = s->ca_bundle;
	ho.timeout = s->timeout;
	ho.deadline = s->deadline;
	ho.stats_file = s->http_stats;
	st = http_client_new(&ho, &g->http, errstr);
	if (st != BDE_OK)
		goto out;
	st = id_session_new(&g->idc, g->http, &g->id, errstr);
	if (st != BDE_OK)
		goto out;
	*out = g;
	g = NULL;
out:
	graph_free(g);
	return st;
}

static const char *
graph_identity(void *self)
{
	struct graph *g = self;

	return g->ident;
}

static void
graph_close(void *self)
{
	graph_free(self);
}

/* "app:CLIENT_ID" or the user's name, for the audit trail. */
static enum bde_status
set_ident(struct graph *g, char **errstr)
{
	const char *user = id_user(g->id);
	int r;

	free(g->ident);
	if (id_session_is_app(g->id))
		r = asprintf(&g->ident, "app:%s", g->idc.client_id);
	else
		r = asprintf(&g->ident, "%s", user != NULL ? user :
		    "unknown user");
	if (r < 0) {
		g->ident = NULL;
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	}
	return BDE_OK;
}

static const struct bde_backend_ops graph_ops = {
	.name = "graph",
	.by_device = graph_by_device,
	.by_keyid = graph_by_keyid,
	.identity = graph_identity,
	.close = graph_close,
	.find_device = graph_find_managed,
	.rotate = graph_rotate,
};

enum bde_status
graph_open(const struct graph_settings *s, struct bde_backend *out,
    char **errstr)
{
	struct graph *g = NULL;
	enum bde_status st;
	const char *token;

	memset(out, 0, sizeof(*out));
	st = graph_new(s, 1, &g, errstr);
	if (st != BDE_OK)
		goto out;
	/* fail early, before any lookup, when there is no usable sign-in */
	st = id_access_token(g->id, &token, errstr);
	if (st != BDE_OK)
		goto out;
	st = set_ident(g, errstr);
	if (st != BDE_OK)
		goto out;
	out->ops = &graph_ops;
	out->self = g;
	g = NULL;
out:
	graph_free(g);
	return st;
}

enum bde_status
graph_login(const struct graph_settings *s,
    void (*show)(const char *message, void *arg), void *arg, char **who,
    char **errstr)
{
	struct graph *g = NULL;
	enum bde_status st;
	const char *user;

	*who = NULL;
	if (s->client_secret != NULL || s->client_cert != NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "an application (client "
		    "secret or certificate) needs no login: it signs in by "
		    "itself");
		goto out;
	}
	st = graph_new(s, 0, &g, errstr);
	if (st != BDE_OK)
		goto out;
	st = id_device_login(g->id, show, arg, errstr);
	if (st != BDE_OK)
		goto out;
	user = id_user(g->id);
	if (user != NULL && (*who = strdup(user)) == NULL)
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
out:
	graph_free(g);
	return st;
}

enum bde_status
graph_logout(const struct graph_settings *s, char **errstr)
{
	struct graph *g = NULL;
	enum bde_status st;
	int removed;

	st = graph_new(s, 0, &g, errstr);
	if (st != BDE_OK)
		goto out;
	st = id_logout(&g->idc, &removed, errstr);
out:
	graph_free(g);
	return st;
}

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
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
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
	if (cJSON_IsString(code) && cJSON_IsString(msg))
		snprintf(detail, sizeof(detail), "%s: %.300s", code->valuestring,
		    msg->valuestring);
	else if (cJSON_IsString(code))
		snprintf(detail, sizeof(detail), "%s", code->valuestring);
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

void
graph_reqs_free(struct graph_req *r, size_t n)
{
	size_t i;

	for (i = 0; r != NULL && i < n; i++) {
		free(r[i].path);
		http_json_wipe_delete(r[i].body);
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
	st = graph_call(g, "GET", url, NULL, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	http_json_wipe_delete(r->body);
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

/* Retry-After (seconds) in an inner answer's headers, or -1. */
static long
inner_retry_after(const cJSON *resp)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(resp, "headers"), *v;

	cJSON_ArrayForEach(v, h) {
		if (v->string == NULL || strcasecmp(v->string, "Retry-After"))
			continue;
		if (cJSON_IsNumber(v))
			return (long)v->valuedouble;
		if (cJSON_IsString(v))
			return strtol(v->valuestring, NULL, 10);
	}
	return -1;
}

static int
throttled(long status)
{
	return status == 429 || status == 503 || status == 504;
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
	cJSON *resps, *a;
	const cJSON *idv, *stv;
	enum bde_status st = BDE_OK;
	char *body = NULL, *url = NULL, *end;
	unsigned long k;
	size_t i, m;
	long ra;

	*left = n;
	*wait_ms = 0;
	*refused = 0;
	body = batch_body(r, idx, n);
	if (body == NULL || asprintf(&url, "%s/$batch", g->v1) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = graph_call(g, "POST", url, body, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	resps = cJSON_GetObjectItemCaseSensitive(rs.json, "responses");
	if (rs.status < 200 || rs.status > 299 || !cJSON_IsArray(resps)) {
		*refused = 1;
		goto out;
	}
	cJSON_ArrayForEach(a, resps) {
		idv = cJSON_GetObjectItemCaseSensitive(a, "id");
		stv = cJSON_GetObjectItemCaseSensitive(a, "status");
		if (!cJSON_IsString(idv) || !cJSON_IsNumber(stv))
			continue;
		k = strtoul(idv->valuestring, &end, 10);
		if (*end != '\0' || end == idv->valuestring || k >= nreq)
			continue;
		for (i = 0; i < *left && idx[i] != k; i++)
			;
		if (i == *left)
			continue;	/* not asked for, or answered twice */
		if (throttled((long)stv->valuedouble)) {
			ra = inner_retry_after(a);
			if (ra * 1000LL > *wait_ms)
				*wait_ms = ra * 1000LL;
			continue;
		}
		http_json_wipe_delete(r[k].body);
		r[k].status = (long)stv->valuedouble;
		r[k].body = cJSON_DetachItemFromObjectCaseSensitive(a, "body");
		memcpy(r[k].request_id, rs.request_id, sizeof(r[k].request_id));
		/* done: drop k from the list still to do */
		for (m = i; m + 1 < *left; m++)
			idx[m] = idx[m + 1];
		(*left)--;
	}
	if (*left > 0 && *wait_ms == 0)
		*wait_ms = BATCH_RETRY_DEFAULT_MS;
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
		cnt = n - start < GRAPH_BATCH_MAX ? n - start : GRAPH_BATCH_MAX;
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
