/*
 * graph_int.h - what the files of graph/ share: the backend's state
 * (graph.c), one request and paging (request.c), groups of requests
 * (batch.c), OData helpers (odata.c), and the operations of keys.c and
 * managed.c.  Not for use outside graph/ (unit tests excepted).
 */
#ifndef BDEKEY_GRAPH_INT_H
#define BDEKEY_GRAPH_INT_H

#include <time.h>

#include <cJSON.h>

#include "core/json.h"
#include "graph/graph.h"
#include "http/http.h"
#include "identity/identity.h"

/* $batch takes at most 20 requests (Graph JSON batching). */
#define GRAPH_BATCH_MAX 20

struct graph {
	char *base;		/* Graph base URL, no trailing slash */
	char *v1;		/* base + "/v1.0" */
	char *beta;		/* base + "/beta" */
	char *origin;		/* scheme://host[:port] of base */
	char *authority;
	char *scope;
	char *ident;		/* "app:CLIENT_ID" or the UPN */
	struct id_config idc;
	struct http_client *http;
	struct id_session *id;
	void (*progress)(void *arg, unsigned long scanned,
	    unsigned long matched);
	void *progress_arg;
};

/* Why a request failed with 403: the permission or role it needs. */
#define NEED_DEVICES "needs Device.Read.All (or Directory.Read.All)"
#define NEED_KEYS "needs BitlockerKey.ReadBasic.All or " \
	"BitlockerKey.Read.All and a role that may read BitLocker keys " \
	"(Helpdesk Administrator, Cloud Device Administrator, Security " \
	"Reader, Global Reader, ...) or ownership of the device"
#define NEED_PASSWORD "needs BitlockerKey.Read.All (BitlockerKey." \
	"ReadBasic.All shows no passwords) and a role that may read " \
	"BitLocker keys (Helpdesk Administrator, Cloud Device " \
	"Administrator, ...)"
#define NEED_MANAGED "needs DeviceManagementManagedDevices.Read.All " \
	"(or .ReadWrite.All) and an Intune role"
#define NEED_ROTATE "needs DeviceManagementManagedDevices.ReadWrite.All " \
	"and an Intune role allowed to rotate BitLocker keys"

/* One request (request.c). */

/*
 * Send method url with the access token.  A 401 renews the token once and
 * tries again; a second 401 is BDE_EAUTH.  Any other status is left in
 * rs->status for the caller (release rs also after failure).
 */
enum bde_status graph_call(struct graph *g, const char *method,
    const char *url, const char *body, struct http_response *rs,
    char **errstr);

/*
 * The error for a failed answer: the status class (400 BDE_EPROTO, 401
 * BDE_EAUTH, 403 BDE_EPERM with need, 404 BDE_ENOTFOUND, 5xx
 * BDE_EUNREACH) and "what: code: message (need; client-request-id X)".
 */
enum bde_status graph_fail(long status, const cJSON *body,
    const char *request_id, const char *what, const char *need,
    char **errstr);

/*
 * GET url and every @odata.nextLink after it (same origin only), calling
 * page(value, arg) with each page's "value" array; pages are freed as
 * they go, so memory stays flat.  The first answer may be given (a list
 * that came back in a $batch): then url is not fetched.
 */
enum bde_status graph_pages(struct graph *g, const char *url,
    const cJSON *first, const char *what, const char *need,
    enum bde_status (*page)(const cJSON *value, void *arg, char **errstr),
    void *arg, char **errstr);

/* Groups of requests (batch.c). */

/*
 * One request of a group sent with graph_fetch_all: path is relative to
 * {graph}/v1.0 ("/devices?..."); the answer's status and body (owned,
 * wiped when freed: it may hold a password) are filled in.
 */
struct graph_req {
	char *path;
	long status;
	cJSON *body;
	char request_id[BDE_GUID_LEN + 1];
};

/* Free path and body (wiping it) of n requests, then the array. */
void graph_reqs_free(struct graph_req *r, size_t n);

/*
 * Send every request in r: one GET when n is 1, else $batch requests of
 * up to GRAPH_BATCH_MAX answered in any order.  Inner 429/503/504 are
 * sent again after their Retry-After; other inner failures (but 403 and
 * 404, which are the answer) and a refused batch fall back to single
 * GETs.  On BDE_OK every r[i] has its final status and body.
 */
enum bde_status graph_fetch_all(struct graph *g, struct graph_req *r,
    size_t n, char **errstr);

/* OData (odata.c). */

/*
 * An answer that may come bare or wrapped as {"value": {...}} (the v1.0
 * get example): the object itself.
 */
const cJSON *graph_unwrap(const cJSON *body);

/*
 * OData: the query "$filter=PROP eq 'VALUE'" with the literal's quotes
 * doubled (OData ABNF) and the whole value percent-encoded (RFC 3986).
 * Returns a new string the caller frees, or NULL when out of memory.
 */
char *graph_filter_eq(const char *prop, const char *value);

/* 'VALUE' with every ' doubled; new string, or NULL. */
char *graph_odata_literal(const char *value);

/*
 * volumeType as a number (1), a numeric string ("1") or a name
 * ("operatingSystemVolume"): "operatingSystem", "fixedData",
 * "removableData" or "unknown".  Static strings.
 */
const char *graph_volume_name(const cJSON *v);

/*
 * ISO 8601 / RFC 3339 date-time ("2025-03-02T14:05:41.1234567Z",
 * "...+02:00", no zone = UTC) to UTC seconds.  Returns 0, or -1 when
 * malformed.
 */
int graph_parse_time(const char *s, time_t *out);

/* Lookups (keys.c). */
enum bde_status graph_by_device(void *self, const char *name, int flags,
    struct bde_keylist *out, char **errstr);
enum bde_status graph_by_keyid(void *self, const struct bde_keyid *id,
    int flags, struct bde_keylist *out, char **errstr);

/* Intune (managed.c): the backend's find_device and rotate operations. */
enum bde_status graph_find_managed(void *self, const char *name,
    const char *device_id, struct bde_device *out, char **errstr);
enum bde_status graph_rotate(void *self, const struct bde_device *d,
    char **errstr);

/*
 * Devices named name: calls found(device_id, display_name, arg) for each
 * (keys.c).  Errors as graph_pages.
 */
enum bde_status graph_devices_named(struct graph *g, const char *name,
    enum bde_status (*found)(const char *device_id, const char *display_name,
    void *arg, char **errstr), void *arg, char **errstr);

#endif
