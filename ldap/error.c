/*
 * error.c - what went wrong, said once: an LDAP result code and the
 * server's diagnostic become a bde_status and a one-line message naming
 * the server, the operation and the reason.
 */
#include "ldap/ad_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum bde_status
ad_nomem(char **errstr)
{
	return bde_error(errstr, BDE_ENOMEM, "out of memory");
}

/* Result codes that mean "this server cannot be used now". */
static int
ad_rc_unreachable(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN:
	case LDAP_CONNECT_ERROR:
	case LDAP_TIMEOUT:
	case LDAP_UNAVAILABLE:
	case LDAP_BUSY:
	case LDAP_TIMELIMIT_EXCEEDED:
		return 1;
	}
	return 0;
}

/*
 * The status for rc.  bind says the operation was the bind, where any
 * refusal by the server is an authentication failure.
 */
static enum bde_status
ad_status(int rc, int bind, const char *diag)
{
	if (ad_rc_unreachable(rc))
		return BDE_EUNREACH;
	switch (rc) {
	case LDAP_NO_MEMORY:
		return BDE_ENOMEM;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_CONFIDENTIALITY_REQUIRED:
	case LDAP_AUTH_METHOD_NOT_SUPPORTED:
		return BDE_EAUTH;
	case LDAP_AUTH_UNKNOWN:
		return BDE_ECONFIG;
	case LDAP_INSUFFICIENT_ACCESS:
		return bind ? BDE_EAUTH : BDE_EPERM;
	case LDAP_NOT_SUPPORTED:
		return BDE_ECONFIG;
	case LDAP_NO_SUCH_OBJECT:
		return bind ? BDE_EAUTH : BDE_ECONFIG;
	case LDAP_OPERATIONS_ERROR:
		/* AD: "000004DC: ... a successful bind must be completed" */
		if (diag != NULL && strncasecmp(diag, "000004DC", 8) == 0)
			return BDE_EAUTH;
		break;
	}
	if (bind && (rc > 0 || rc == LDAP_LOCAL_ERROR))
		return BDE_EAUTH;
	return BDE_EPROTO;
}

/*
 * AD's diagnostic for invalidCredentials carries a Win32 error code in
 * hex ("80090308: LdapErr: ..., data 52e, v4563"; 0x52e is
 * ERROR_LOGON_FAILURE in [MS-ERREF] 2.2): say what it means.
 */
static const char *
ad_bind_data_reason(const char *diag)
{
	static const struct {
		const char *code, *reason;
	} codes[] = {
		{ "525", "no such user" },
		{ "52e", "wrong password" },
		{ "530", "logon not permitted at this time" },
		{ "531", "logon not permitted from this workstation" },
		{ "532", "password expired" },
		{ "533", "account disabled" },
		{ "701", "account expired" },
		{ "773", "password must be changed" },
		{ "775", "account locked out" },
	};
	const char *p;
	size_t i;

	if (diag == NULL || (p = strstr(diag, "data ")) == NULL)
		return NULL;
	p += 5;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strncasecmp(p, codes[i].code, 3) == 0 &&
		    !isxdigit((unsigned char)p[3]))
			return codes[i].reason;
	return NULL;
}

char *
ad_diag(LDAP *ld)
{
	char *msg = NULL, *copy;
	size_t n, i;

	if (ld == NULL ||
	    ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) !=
	    LDAP_OPT_SUCCESS || msg == NULL)
		return NULL;
	copy = strdup(msg);
	ldap_memfree(msg);
	if (copy == NULL)
		return NULL;
	/* one line, no trailing dot or blanks: it goes inside our message */
	for (i = 0; copy[i] != '\0'; i++)
		if ((unsigned char)copy[i] < 0x20)
			copy[i] = ' ';
	n = strlen(copy);
	while (n > 0 && (copy[n - 1] == ' ' || copy[n - 1] == '.' ||
	    copy[n - 1] == '\0'))
		copy[--n] = '\0';
	/* what libldap says when the TLS library gave no reason */
	if (n == 0 || strcmp(copy, "(unknown error code)") == 0) {
		free(copy);
		return NULL;
	}
	return copy;
}

enum bde_status
ad_fail(struct ad *ad, const char *uri, int rc, int bind, char **errstr,
    const char *fmt, ...)
{
	char reason[128], *what = NULL, *diag = NULL;
	const char *data = NULL;
	enum bde_status st;
	va_list ap;
	int r;

	diag = ad_diag(ad->ld);
	st = ad_status(rc, bind, diag);
	if (ad->timed_out || rc == LDAP_TIMEOUT) {
		snprintf(reason, sizeof(reason), "timed out after %d s",
		    ad->timeout);
		st = BDE_EUNREACH;
	} else {
		snprintf(reason, sizeof(reason), "%s", ldap_err2string(rc));
		reason[0] = (char)tolower((unsigned char)reason[0]);
	}
	if (rc == LDAP_INVALID_CREDENTIALS)
		data = ad_bind_data_reason(diag);
	/* after a timeout the diagnostic is the TLS library's aftermath */
	if (st == BDE_EUNREACH && ad->timed_out) {
		free(diag);
		diag = NULL;
	}
	va_start(ap, fmt);
	r = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (r < 0) {
		what = NULL;
		st = ad_nomem(errstr);
		goto out;
	}
	if (data != NULL)
		bde_error(errstr, st, "%s: %s: %s (%s)", uri, what, reason,
		    data);
	else if (diag != NULL && strcasecmp(diag, reason) != 0)
		bde_error(errstr, st, "%s: %s: %s (%s)", uri, what, reason,
		    diag);
	else
		bde_error(errstr, st, "%s: %s: %s", uri, what, reason);
out:
	free(what);
	free(diag);
	return st;
}

/* ------------------------------------------------------------------ */
/* Objects an operation goes on without                                 */

/* The problems named in full in the message; the rest are counted. */
#define AD_PROBLEMS_SHOWN 5

enum bde_status
ad_problem(struct ad *ad, char *msg, char **errstr)
{
	char *joined;
	const char *text = msg != NULL ? msg : "unreadable";
	enum bde_status st = BDE_OK;

	if (ad->nproblems < AD_PROBLEMS_SHOWN) {
		if (asprintf(&joined, "%s%s%s", ad->problems ? ad->problems :
		    "", ad->problems ? "; " : "", text) < 0) {
			st = ad_nomem(errstr);
			goto out;
		}
		free(ad->problems);
		ad->problems = joined;
	}
	ad->nproblems++;
out:
	free(msg);
	return st;
}

enum bde_status
ad_problems_merge(struct ad *to, struct ad *from, char **errstr)
{
	char *text;
	size_t n = from->nproblems;
	enum bde_status st = BDE_OK;

	if (to == from || n == 0)
		return BDE_OK;
	text = from->problems ? strdup(from->problems) : NULL;
	if (from->problems != NULL && text == NULL)
		return ad_nomem(errstr);
	/* counted as one by ad_problem; the text names up to its own few */
	st = ad_problem(to, text, errstr);
	to->nproblems += n - 1;
	ad_problems_reset(from);
	return st;
}

void
ad_problems_reset(struct ad *ad)
{
	free(ad->problems);
	ad->problems = NULL;
	ad->nproblems = 0;
}

enum bde_status
ad_problems_status(struct ad *ad, enum bde_status st, char **errstr)
{
	char *prev = NULL;
	size_t n = ad->nproblems;

	if (n == 0 || (st != BDE_OK && st != BDE_ENOTFOUND && st != BDE_EPERM))
		return st;
	/* a withheld password still says so, after the broken objects */
	if (st == BDE_EPERM && errstr != NULL) {
		prev = *errstr;
		*errstr = NULL;
	} else if (st != BDE_OK && errstr != NULL) {
		free(*errstr);
		*errstr = NULL;
	}
	st = bde_error(errstr, BDE_EPROTO, "%zu %s could not be read: %s%s%s%s",
	    n, n == 1 ? "object" : "objects", ad->problems ? ad->problems : "",
	    n > AD_PROBLEMS_SHOWN ? "; ..." : "", prev ? "; also " : "",
	    prev ? prev : "");
	free(prev);
	return st;
}
