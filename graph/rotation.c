/*
 * rotation.c - what became of a rotation: the managed device's
 * deviceActionResults, the newest rotateBitLockerKeys entry (pending,
 * done, failed with its errorCode).  Read-only; the answer is hostile
 * until checked: types, sizes, times, the state's words.
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Entries of deviceActionResults looked at, at most. */
#define ACTIONS_MAX 256

/* actionState in words to our state. */
static enum bde_rot_state
state_of(const char *s)
{
	if (strcasecmp(s, "pending") == 0 || strcasecmp(s, "active") == 0)
		return BDE_ROT_PENDING;
	if (strcasecmp(s, "done") == 0)
		return BDE_ROT_DONE;
	if (strcasecmp(s, "failed") == 0)
		return BDE_ROT_FAILED;
	return BDE_ROT_OTHER;
}

/* s's letters only (a state is a word), cut to the buffer. */
static void
copy_word(char *dst, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < len; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
			dst[n++] = *s;
	dst[n] = '\0';
}

/* A string member's time, or 0 when absent or malformed. */
static time_t
time_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	time_t t;

	if (!cJSON_IsString(v) || graph_parse_time(v->valuestring, &t) < 0)
		return 0;
	return t;
}

int
graph_rotation_parse(const cJSON *doc, struct bde_rotation *out)
{
	const cJSON *arr, *e, *v;
	size_t n = 0;
	time_t started;
	int have = 0;

	memset(out, 0, sizeof(*out));
	out->retry_after = -1;
	if (!cJSON_IsObject(doc))
		return -1;
	arr = cJSON_GetObjectItemCaseSensitive(doc, "deviceActionResults");
	if (arr == NULL || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return -1;
	cJSON_ArrayForEach(e, arr) {
		if (++n > ACTIONS_MAX)
			break;
		v = cJSON_GetObjectItemCaseSensitive(e, "actionName");
		if (!cJSON_IsObject(e) || !cJSON_IsString(v) ||
		    strcasecmp(v->valuestring, "rotateBitLockerKeys") != 0)
			continue;
		started = time_of(e, "startDateTime");
		/* the newest rotation; the later entry when times tie */
		if (have && started < out->started)
			continue;
		v = cJSON_GetObjectItemCaseSensitive(e, "actionState");
		if (!cJSON_IsString(v))
			continue;
		have = 1;
		out->started = started;
		out->updated = time_of(e, "lastUpdatedDateTime");
		out->state = state_of(v->valuestring);
		copy_word(out->state_text, sizeof(out->state_text),
		    v->valuestring);
		v = cJSON_GetObjectItemCaseSensitive(e, "errorCode");
		out->error_code = cJSON_IsNumber(v) && v->valuedouble >=
		    -9007199254740992.0 && v->valuedouble <= 9007199254740992.0 ?
		    (long long)v->valuedouble : 0;
	}
	return 0;
}

enum bde_status
graph_rotate_state(void *self, const struct bde_device *m,
    struct bde_rotation *out, char **errstr)
{
	struct graph *g = self;
	struct http_response rs = { 0 };
	enum bde_status st;
	const cJSON *id;
	char *url = NULL;

	memset(out, 0, sizeof(*out));
	out->retry_after = -1;
	graph_begin(g, 1);
	if (!graph_guid_ok(m->id)) {
		st = bde_error(errstr, BDE_EUSAGE, "Intune managed device id "
		    "'%s' is not a GUID", m->id);
		goto out;
	}
	if (asprintf(&url, "%s/deviceManagement/managedDevices/%s?$select=id,"
	    "deviceActionResults", g->beta, m->id) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = graph_call(g, "GET", url, NULL, 0, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	if (rs.status != 200) {
		st = graph_fail(rs.status, rs.json, rs.request_id, "reading the "
		    "rotation's state", NEED_MANAGED, errstr);
		goto out;
	}
	/* the device asked about, and an answer that parses */
	id = cJSON_GetObjectItemCaseSensitive(rs.json, "id");
	if (!cJSON_IsString(id) || strcasecmp(id->valuestring, m->id) != 0 ||
	    graph_rotation_parse(rs.json, out) < 0) {
		st = bde_error(errstr, BDE_EPROTO, "reading the rotation's "
		    "state: Intune answered something that is not managed "
		    "device %s's actions (client-request-id %s)", m->id,
		    rs.request_id);
		goto out;
	}
	out->retry_after = rs.retry_after;
out:
	free(url);
	http_response_release(&rs);
	return st;
}
