/*
 * identity_int.h - the identity platform's answers read without I/O:
 * token answers, device code answers, error bodies.  Internal to
 * identity/ (and its tests and fuzz targets).
 */
#ifndef BDEKEY_IDENTITY_INT_H
#define BDEKEY_IDENTITY_INT_H

#include <cJSON.h>

#include "core/core.h"

/* A token answer's parts; the strings belong to the parsed answer. */
struct id_answer {
	const char *access_token;	/* secret; RFC 6750 b64token */
	const char *refresh_token;	/* secret, or NULL */
	const char *id_token;		/* or NULL */
	const char *scope;		/* granted, or NULL */
	long long expires_in;		/* seconds, 1 .. 7 days */
};

/*
 * Read a successful token answer (RFC 6749 5.1).  expires_in has been
 * seen as a number and as a string; one outside 1 s .. 7 days, or
 * missing, reads as an hour.  Errors: BDE_EPROTO (not an object, no
 * access_token, one outside the RFC 6750 alphabet, a token_type other
 * than Bearer), naming request_id.
 */
enum bde_status id_answer_parse(const cJSON *json, const char *request_id,
    struct id_answer *out, char **errstr);

/* A device code answer's parts (RFC 8628 3.2); strings borrowed. */
struct id_devicecode {
	const char *device_code;	/* secret */
	const char *message;		/* or NULL: made of the next two */
	const char *user_code;
	const char *verification_uri;
	long long interval;		/* seconds, 1 .. 300 (default 5) */
	long long expires_in;		/* seconds, 1 .. 1 day (default 900) */
};

/*
 * Read a device code answer.  Errors: BDE_EPROTO (no device_code, or
 * neither a message nor a user_code and verification_uri).
 */
enum bde_status id_devicecode_parse(const cJSON *json,
    const char *request_id, struct id_devicecode *out, char **errstr);

/*
 * An identity platform error in words: "what: error: first line of the
 * description (correlation id X)".  The status: BDE_EAUTH for the
 * service's verdicts, BDE_EUNREACH when it is unavailable (also a 5xx
 * without the error JSON), BDE_EPROTO when the answer is not the
 * documented error JSON.  url is for the message (its query is left out).
 */
enum bde_status id_fail(const char *what, long status, const cJSON *json,
    const char *request_id, const char *url, char **errstr);

/*
 * Whether an error answer to a refresh says that the user must take part
 * (consent to a permission asked for the first time, MFA): error
 * interaction_required or consent_required, or invalid_grant with
 * suberror consent_required or AADSTS65001 among error_codes.
 */
int id_needs_user(const cJSON *json);

#endif
