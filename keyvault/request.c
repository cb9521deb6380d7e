/*
 * request.c - one Key Vault or ARM request and what comes of it: the
 * vault's 401 challenge checked before any token goes to its host, the
 * token of the right resource and one renewal on 401, error bodies
 * (innererror included) turned into a status and a message that says
 * what is missing, and listings paged by nextLink (same origin, bounded,
 * no loops).
 */
#include "keyvault/kv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* innererror nests; this deep is plenty (and bounds a hostile body) */
#define INNER_MAX 8

/* The RBAC role that grants a Key Vault data action (RBAC guide). */
static const char *
role_for(const char *action)
{
	if (strcasestr(action, "secrets/getSecret") != NULL)
		return "Key Vault Secrets User";
	if (strcasestr(action, "secrets/readMetadata") != NULL)
		return "Key Vault Reader or Key Vault Secrets User";
	if (strcasestr(action, "keys/unwrap") != NULL)
		return "Key Vault Crypto User or Key Vault Crypto Service "
		    "Encryption User";
	if (strcasestr(action, "keys/read") != NULL)
		return "Key Vault Crypto User or Key Vault Reader";
	return NULL;
}

/*
 * Copy the text of msg between the first occurrence of start and the
 * next stop character into buf (cut to len); 1 when found.
 */
static int
between(const char *msg, const char *start, const char *stop, char *buf,
    size_t len)
{
	const char *p = msg != NULL ? strstr(msg, start) : NULL;
	size_t n;

	if (p == NULL || len == 0)
		return 0;
	p += strlen(start);
	n = strcspn(p, stop);
	if (p[n] == '\0' || n == 0)
		return 0;
	snprintf(buf, len, "%.*s", (int)(n < len - 1 ? n : len - 1), p);
	return 1;
}

/* What to say about an error code (the innermost one given). */
static void
hint_for(long status, const char *code, const char *msg, char *buf,
    size_t len)
{
	char x[200];
	const char *role;

	buf[0] = '\0';
	if (code == NULL) {
		if (status == 429)
			snprintf(buf, len, "still throttled after the retries");
		return;
	}
	if (strcmp(code, "ForbiddenByRbac") == 0) {
		/* the service's message names the action on its own line */
		if (between(msg, "Action: '", "'\r\n", x, sizeof(x))) {
			role = role_for(x);
			snprintf(buf, len, "the caller lacks the RBAC data action "
			    "'%s'%s%s%s", x, role ? " (" : "", role ? role : "",
			    role ? " grants it)" : "");
		} else {
			snprintf(buf, len, "the vault's RBAC denies this caller");
		}
	} else if (strcmp(code, "AccessDenied") == 0) {
		/* "... does not have secrets get permission on key vault" */
		if (between(msg, "does not have ", ".\r\n", x, sizeof(x)) &&
		    strstr(x, " permission") != NULL) {
			*strstr(x, " permission") = '\0';
			snprintf(buf, len, "the vault's access policy does not "
			    "give this caller '%s'", x);
		} else {
			snprintf(buf, len, "the vault's access policy denies "
			    "this caller");
		}
	} else if (strcmp(code, "ForbiddenByFirewall") == 0) {
		snprintf(buf, len, "the vault's firewall refuses this client's "
		    "address: add it to the vault's network rules, or use a "
		    "private endpoint");
	} else if (strcmp(code, "SecretDisabled") == 0) {
		snprintf(buf, len, "this secret version is disabled");
	} else if (strcmp(code, "AuthorizationFailed") == 0) {
		snprintf(buf, len, "ARM needs the Reader role (or a role with "
		    "the action named) on the VM and its disk");
	} else if (status == 429) {
		snprintf(buf, len, "still throttled after the retries");
	}
}

enum bde_status
kv_fail(long status, const cJSON *body, const char *request_id,
    const char *what, char **errstr)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(body, "error");
	const cJSON *in = err;
	const char *code = bde_json_string(err, "code");
	const char *msg = bde_json_string(err, "message"), *c, *last = code;
	char codes[256], hint[400];
	enum bde_status st;
	size_t n;
	int depth;

	if (status == 401)
		st = BDE_EAUTH;
	else if (status == 403)
		st = BDE_EPERM;
	else if (status == 404)
		st = BDE_ENOTFOUND;
	else if (status == 429 || status >= 500)
		st = BDE_EUNREACH;
	else
		st = BDE_EPROTO;
	/* "Forbidden/ForbiddenByRbac": the outer code is shared by many */
	snprintf(codes, sizeof(codes), "%.60s", code != NULL ? code : "");
	for (depth = 0; depth < INNER_MAX; depth++) {
		in = cJSON_GetObjectItemCaseSensitive(in, "innererror");
		if ((c = bde_json_string(in, "code")) == NULL)
			break;
		n = strlen(codes);
		snprintf(codes + n, sizeof(codes) - n, "%s%.60s", n ? "/" : "",
		    c);
		last = c;
	}
	hint_for(status, last, msg, hint, sizeof(hint));
	if (codes[0] == '\0')
		snprintf(codes, sizeof(codes), "HTTP %ld", status);
	/* the first line: RBAC and firewall messages go on for lines */
	n = msg != NULL ? strcspn(msg, "\r\n") : 0;
	return bde_error(errstr, st, "%s: %s%s%.*s (%s%sclient-request-id %s)",
	    what, codes, n ? ": " : "", (int)(n < 300 ? n : 300),
	    msg != NULL ? msg : "", hint, hint[0] ? "; " : "", request_id);
}

/* Send one request as it is (bearer and body may be NULL). */
static enum bde_status
send_one(struct kv *kv, const char *method, const char *url,
    const char *bearer, const char *body, struct http_response *rs,
    char **errstr)
{
	struct http_request rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.bearer = bearer;
	if (body != NULL) {
		rq.body = body;
		rq.body_len = strlen(body);
		rq.content_type = "application/json";
	}
	/*
	 * Not once: every POST here is unwrapkey, which changes nothing
	 * (a decryption), so a retry on a reused connection is safe.
	 */
	return http_send(kv->http, &rq, rs, errstr);
}

/* The session a vault origin's challenge was accepted for, or NULL. */
static struct kv_sess *
accepted(const struct kv *kv, const char *origin)
{
	size_t i;

	for (i = 0; i < kv->nok; i++)
		if (strcmp(kv->ok[i].origin, origin) == 0)
			return kv->ok[i].sess;
	return NULL;
}

static enum bde_status
accept_origin(struct kv *kv, const char *origin, struct kv_sess *ks,
    char **errstr)
{
	if (kv->nok == KV_MAX_ORIGINS)
		return bde_error(errstr, BDE_EPROTO, "more than %d vault hosts "
		    "in one command; stopped", KV_MAX_ORIGINS);
	kv->ok[kv->nok].origin = strdup(origin);
	if (kv->ok[kv->nok].origin == NULL)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	kv->ok[kv->nok++].sess = ks;
	return BDE_OK;
}

/*
 * Whether resource ("https://vault.azure.net") names a parent domain of
 * the host of origin ("https://contoso.vault.azure.net"): the check the
 * Azure SDKs make before a token leaves (azure-sdk-for-python#26141).
 */
static int
parent_domain(const char *resource, const char *origin)
{
	const char *rh = resource + 8, *vh = origin + 8;
	size_t rn, vn;

	if (strncasecmp(resource, "https://", 8) != 0)
		return 0;
	rn = strlen(rh);
	vn = strcspn(vh, ":");
	if (rn == 0 || strpbrk(rh, "/:") != NULL || strchr(rh, '.') == NULL ||
	    vn <= rn + 1)
		return 0;
	return vh[vn - rn - 1] == '.' && strncasecmp(vh + vn - rn, rh, rn) == 0;
}

enum bde_status
kv_challenge_check(const char *vault_resource, const char *origin,
    const char *www, char *res, size_t len, char **errstr)
{
	char *p;
	size_t n;

	res[0] = '\0';
	if (http_auth_param(www, "Bearer", "scope", res, len) &&
	    res[0] != '\0') {
		/* "https://vault.azure.net/.default": the resource part */
		res[strcspn(res, " ")] = '\0';
		p = strrchr(res, '/');
		if (p != NULL && p > res + 8)
			*p = '\0';
	} else if (!http_auth_param(www, "Bearer", "resource", res, len)) {
		res[0] = '\0';
	}
	n = strlen(res);
	if (n + 1 >= len)
		n = 0;		/* cut: not what the vault said */
	while (n > 0 && res[n - 1] == '/')
		n--;
	res[n] = '\0';
	bde_guid_lower(res);
	if (n == 0)
		return bde_error(errstr, BDE_EAUTH, "the vault at %s answered "
		    "401 without a Bearer challenge naming a resource; no "
		    "token was sent to it", origin);
	if (strcmp(res, vault_resource) == 0 || parent_domain(res, origin))
		return BDE_OK;
	return bde_error(errstr, BDE_EAUTH, "the vault at %s asks for a token "
	    "for '%.200s', which is neither the vault resource '%s' nor a "
	    "parent domain of its host; no token was sent to it "
	    "(BDEKEY_VAULT_RESOURCE names another cloud's resource)", origin,
	    res, vault_resource);
}

enum bde_status
kv_call(struct kv *kv, enum kv_target t, const char *method, const char *url,
    const char *body, struct http_response *rs, char **errstr)
{
	struct kv_sess *ks = NULL;
	char origin[KV_ORIGIN_MAX], res[512], what[400];
	enum bde_status st;
	const char *token;
	int renewed = 0;

	memset(rs, 0, sizeof(*rs));
	if (kv_origin_norm(url, origin, sizeof(origin)) < 0)
		return bde_error(errstr, BDE_EPROTO, "refusing a URL that is "
		    "not https:// with a plain host: '%.200s'", url);
	if (t == KV_ARM) {
		st = kv_session_arm(kv, &ks, errstr);
	} else if ((ks = accepted(kv, origin)) != NULL) {
		st = BDE_OK;
	} else {
		/* the challenge first, without a token (and without a body) */
		st = send_one(kv, method, url, NULL, NULL, rs, errstr);
		if (st != BDE_OK)
			return st;
		if (rs->status != 401) {
			/* an answer without a challenge is the answer */
			if (strcmp(method, "GET") == 0)
				return BDE_OK;
			st = bde_error(errstr, BDE_EPROTO, "the vault at %s "
			    "answered HTTP %ld to a request without a token "
			    "instead of asking for one", origin, rs->status);
			http_response_release(rs);
			return st;
		}
		st = kv_challenge_check(kv->vault_resource, origin,
		    rs->www_authenticate, res, sizeof(res), errstr);
		http_response_release(rs);
		if (st == BDE_OK)
			st = kv_session_vault(kv, res, &ks, errstr);
		if (st == BDE_OK)
			st = accept_origin(kv, origin, ks, errstr);
	}
	if (st != BDE_OK)
		return st;
	st = id_access_token(ks->id, &token, errstr);
	if (st != BDE_OK)
		return st;
	for (;;) {
		st = send_one(kv, method, url, token, body, rs, errstr);
		if (st != BDE_OK || rs->status != 401 || renewed)
			break;
		/* expired or revoked: renew once, then give up */
		http_response_release(rs);
		renewed = 1;
		st = id_renew(ks->id, &token, errstr);
		if (st != BDE_OK)
			return st;
	}
	if (st == BDE_OK && rs->status == 401) {
		snprintf(what, sizeof(what), "%s refused the access token for "
		    "'%s' even after renewing it", t == KV_ARM ? "ARM" : origin,
		    ks->resource);
		st = kv_fail(rs->status, rs->json, rs->request_id, what,
		    errstr);
	}
	return st;
}

/* Whether next may be followed: printable, no blanks, on origin. */
static enum bde_status
next_ok(const char *next, const char *origin, const char *what,
    char **errstr)
{
	char o[KV_ORIGIN_MAX];
	const char *p;

	for (p = next; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return bde_error(errstr, BDE_EPROTO, "%s: refusing to "
			    "follow a nextLink with a blank or a control "
			    "character", what);
	/* the token goes wherever nextLink points: only to this vault */
	if (kv_origin_norm(next, o, sizeof(o)) < 0 || strcmp(o, origin) != 0)
		return bde_error(errstr, BDE_EPROTO, "%s: refusing to follow a "
		    "nextLink to another host", what);
	return BDE_OK;
}

enum bde_status
kv_list(struct kv *kv, const char *url, const char *what, size_t max_items,
    enum bde_status (*page)(const cJSON *value, void *arg, char **errstr),
    void *arg, char **errstr)
{
	struct http_response rs = { 0 };
	struct http_links seen = { NULL, 0, 0 };
	enum bde_status st;
	const cJSON *value;
	const char *next;
	char origin[KV_ORIGIN_MAX], *cur = NULL, *perr = NULL;
	size_t pages = 0, items = 0, n;
	int r;

	if (kv_origin_norm(url, origin, sizeof(origin)) < 0)
		return bde_error(errstr, BDE_EPROTO, "%s: not an https:// URL",
		    what);
	if (http_links_add(&seen, url) < 0)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	for (;;) {
		http_response_release(&rs);
		st = kv_call(kv, KV_VAULT, "GET", url, NULL, &rs, errstr);
		if (st != BDE_OK)
			goto out;
		if (rs.status != 200) {
			st = kv_fail(rs.status, rs.json, rs.request_id, what,
			    errstr);
			goto out;
		}
		st = kv_page_parse(rs.json, &value, &next, &perr);
		if (st != BDE_OK) {
			st = bde_error(errstr, st, "%s: %s (client-request-id "
			    "%s)", what, perr ? perr : "bad page",
			    rs.request_id);
			goto out;
		}
		n = (size_t)cJSON_GetArraySize(value);
		pages++;
		items += n;
		if (items > max_items) {
			st = bde_error(errstr, BDE_EPROTO, "%s: more than %zu "
			    "items; stopped", what, max_items);
			goto out;
		}
		st = page(value, arg, errstr);
		if (st != BDE_OK || next == NULL)
			goto out;
		if (pages >= KV_MAX_PAGES) {
			st = bde_error(errstr, BDE_EPROTO, "%s: more than %d "
			    "pages; stopped", what, KV_MAX_PAGES);
			goto out;
		}
		if ((st = next_ok(next, origin, what, errstr)) != BDE_OK)
			goto out;
		r = http_links_add(&seen, next);
		if (r != 0) {
			st = r < 0 ? bde_error(errstr, BDE_ENOMEM, "out of "
			    "memory") : bde_error(errstr, BDE_EPROTO, "%s: the "
			    "nextLink leads back to a page already read (a "
			    "loop); stopped", what);
			goto out;
		}
		free(cur);
		if ((cur = strdup(next)) == NULL) {
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
			goto out;
		}
		url = cur;
	}
out:
	free(perr);
	free(cur);
	http_links_release(&seen);
	http_response_release(&rs);
	return st;
}
