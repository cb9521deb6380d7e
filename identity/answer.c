/*
 * answer.c - what the identity platform answers, read without I/O: token
 * answers (RFC 6749 5.1), device code answers (RFC 8628 3.2) and error
 * bodies (RFC 6749 5.2 plus Entra's correlation_id and error_codes).
 */
#include "identity/identity_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "http/http.h"

/* Bounds on what the service says; beyond them its value is not used. */
#define MAX_EXPIRES_IN (7 * 86400)
#define DEFAULT_EXPIRES_IN 3600
#define MAX_DEVICE_EXPIRES 86400
#define MAX_INTERVAL 300
/* RFC 8628 3.2: the defaults */
#define DEVICE_DEFAULT_INTERVAL 5
#define DEVICE_DEFAULT_EXPIRES 900
/* AADSTS65001: the user or an administrator has not consented */
#define AADSTS_CONSENT 65001

enum bde_status
id_answer_parse(const cJSON *json, const char *request_id,
    struct id_answer *out, char **errstr)
{
	const char *type = bde_json_string(json, "token_type");

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(json))
		return bde_error(errstr, BDE_EPROTO, "the token answer is not "
		    "a JSON object (client-request-id %s)", request_id);
	out->access_token = bde_json_string(json, "access_token");
	if (out->access_token == NULL || out->access_token[0] == '\0')
		return bde_error(errstr, BDE_EPROTO, "the token answer has no "
		    "access_token (client-request-id %s)", request_id);
	/* it goes into a header line: CR, LF or a blank would be injection */
	if (!http_bearer_ok(out->access_token))
		return bde_error(errstr, BDE_EPROTO, "the token answer's "
		    "access_token has characters a bearer token cannot have "
		    "(RFC 6750); it is not used (client-request-id %s)",
		    request_id);
	if (type != NULL && strcasecmp(type, "Bearer") != 0)
		return bde_error(errstr, BDE_EPROTO, "the token answer's "
		    "token_type is not Bearer (client-request-id %s)",
		    request_id);
	out->refresh_token = bde_json_string(json, "refresh_token");
	if (out->refresh_token != NULL && out->refresh_token[0] == '\0')
		out->refresh_token = NULL;
	out->id_token = bde_json_string(json, "id_token");
	out->scope = bde_json_string(json, "scope");
	/* expires_in has been seen as a number and as a string */
	if (bde_json_number(json, "expires_in", 1, MAX_EXPIRES_IN,
	    &out->expires_in) != BDE_NUM_OK)
		out->expires_in = DEFAULT_EXPIRES_IN;
	return BDE_OK;
}

enum bde_status
id_devicecode_parse(const cJSON *json, const char *request_id,
    struct id_devicecode *out, char **errstr)
{
	memset(out, 0, sizeof(*out));
	out->device_code = bde_json_string(json, "device_code");
	out->user_code = bde_json_string(json, "user_code");
	out->verification_uri = bde_json_string(json, "verification_uri");
	out->message = bde_json_string(json, "message");
	if (out->device_code == NULL || out->device_code[0] == '\0' ||
	    (out->message == NULL && (out->user_code == NULL ||
	    out->verification_uri == NULL)))
		return bde_error(errstr, BDE_EPROTO, "the device code answer "
		    "lacks device_code, user_code or verification_uri "
		    "(client-request-id %s)", request_id);
	if (bde_json_number(json, "interval", 1, MAX_INTERVAL,
	    &out->interval) != BDE_NUM_OK)
		out->interval = DEVICE_DEFAULT_INTERVAL;
	if (bde_json_number(json, "expires_in", 1, MAX_DEVICE_EXPIRES,
	    &out->expires_in) != BDE_NUM_OK)
		out->expires_in = DEVICE_DEFAULT_EXPIRES;
	return BDE_OK;
}

enum bde_status
id_fail(const char *what, long status, const cJSON *json,
    const char *request_id, const char *url, char **errstr)
{
	const char *err = bde_json_string(json, "error");
	const char *desc = bde_json_string(json, "error_description");
	const char *corr = bde_json_string(json, "correlation_id");
	char label[1024];
	int dlen;

	if (err == NULL || err[0] == '\0') {
		http_url_label(url, label, sizeof(label));
		return bde_error(errstr, status >= 500 ? BDE_EUNREACH :
		    BDE_EPROTO, "%s: HTTP %ld from '%s' "
		    "(client-request-id %s)", what, status, label, request_id);
	}
	if (desc == NULL)
		desc = "";
	/* descriptions go on with "\r\nTrace ID: ..." lines */
	dlen = (int)strcspn(desc, "\r\n");
	if (dlen > 400)
		dlen = 400;
	return bde_error(errstr, strcmp(err, "temporarily_unavailable") == 0 ?
	    BDE_EUNREACH : BDE_EAUTH, "%s: %.100s%s%.*s (correlation id %.64s)",
	    what, err, dlen ? ": " : "", dlen, desc,
	    corr != NULL ? corr : request_id);
}

int
id_needs_user(const cJSON *json)
{
	const char *err = bde_json_string(json, "error");
	const char *sub = bde_json_string(json, "suberror");
	const cJSON *codes = cJSON_GetObjectItemCaseSensitive(json,
	    "error_codes"), *c;
	long long code;

	if (err == NULL)
		return 0;
	if (strcmp(err, "interaction_required") == 0 ||
	    strcmp(err, "consent_required") == 0)
		return 1;
	if (strcmp(err, "invalid_grant") != 0)
		return 0;
	if (sub != NULL && strcmp(sub, "consent_required") == 0)
		return 1;
	if (!cJSON_IsArray(codes))
		return 0;
	cJSON_ArrayForEach(c, codes)
		if (bde_json_integer(c, 0, 99999999, &code) == BDE_NUM_OK &&
		    code == AADSTS_CONSENT)
			return 1;
	return 0;
}
