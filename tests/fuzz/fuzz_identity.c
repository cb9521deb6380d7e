/*
 * fuzz_identity.c - libFuzzer target for every handler of what the
 * identity platform sends back, and of the token cache file (identity/),
 * without I/O.  The first input byte picks the handler:
 *
 *   0  token answer        id_answer_parse
 *   1  device code answer  id_devicecode_parse
 *   2  error body          id_fail, id_needs_user
 *   3  token cache file    id_cache_parse
 *   4  JWT claims          jwt_claims, jwt_permissions
 *
 * Properties beyond "no crash, no undefined behaviour": an accepted access
 * token is a bearer token (RFC 6750 b64token: no CR, LF, blank, non-ASCII)
 * and its life is within 1 s .. 7 days; a device code's interval and life
 * are within their bounds; an error always yields a message and a status
 * other than BDE_OK; a cache document yields at most ID_CACHE_SCOPES
 * tokens, each with a scope.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "http/http.h"
#include "identity/cache.h"
#include "identity/identity_int.h"
#include "identity/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
token_answer(const cJSON *doc)
{
	struct id_answer an;
	char *err = NULL;

	if (id_answer_parse(doc, "rid", &an, &err) == BDE_OK) {
		if (!http_bearer_ok(an.access_token) ||
		    strpbrk(an.access_token, "\r\n \t") != NULL ||
		    an.expires_in < 1 || an.expires_in > 7 * 86400)
			abort();
	} else if (err == NULL) {
		abort();
	}
	free(err);
}

static void
devicecode_answer(const cJSON *doc)
{
	struct id_devicecode dc;
	char *err = NULL;

	if (id_devicecode_parse(doc, "rid", &dc, &err) == BDE_OK) {
		if (dc.device_code == NULL || dc.interval < 1 ||
		    dc.interval > 300 || dc.expires_in < 1 ||
		    dc.expires_in > 86400 || (dc.message == NULL &&
		    (dc.user_code == NULL || dc.verification_uri == NULL)))
			abort();
	}
	free(err);
}

static void
error_body(const cJSON *doc, uint8_t b)
{
	static const long statuses[] = { 400, 401, 429, 500, 503, 200 };
	char *err = NULL;

	if (id_fail("fuzz", statuses[b % 6], doc, "rid",
	    "https://login.example/t/oauth2/v2.0/token?x=y", &err) == BDE_OK ||
	    err == NULL)
		abort();
	free(err);
	(void)id_needs_user(doc);
}

static void
cache_file(const cJSON *doc)
{
	struct id_tokens t;
	size_t i;

	memset(&t, 0, sizeof(t));
	if (id_cache_parse(doc, &t) == BDE_OK) {
		if (t.n > ID_CACHE_SCOPES)
			abort();
		for (i = 0; i < t.n; i++)
			if (t.at[i].scope == NULL)
				abort();
	}
	id_tokens_release(&t);
}

static void
jwt(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1), *c, *perms;

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	c = jwt_claims(s);
	perms = jwt_permissions(s);
	/* joined with single blanks, none at either end */
	if (perms != NULL && (perms[0] == '\0' || perms[0] == ' ' ||
	    perms[strlen(perms) - 1] == ' ' || strstr(perms, "  ") != NULL))
		abort();
	free(perms);
	free(c);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *doc;

	if (size < 2)
		return 0;
	if (data[0] % 5 == 4) {
		jwt(data + 1, size - 1);
		return 0;
	}
	doc = cJSON_ParseWithLength((const char *)data + 2, size - 2);
	switch (data[0] % 5) {
	case 0:
		token_answer(doc);
		break;
	case 1:
		devicecode_answer(doc);
		break;
	case 2:
		error_body(doc, data[1]);
		break;
	case 3:
		cache_file(doc);
		break;
	}
	bde_json_wipe_delete(doc);
	return 0;
}
