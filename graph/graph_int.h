/*
 * graph_int.h - what the files of graph/ share: the backend's state
 * (graph.c), one request and paging (request.c), groups of requests
 * (batch.c), OData helpers (odata.c), and the operations of keys.c and
 * managed.c.  Not for use outside graph/ (unit tests excepted).
 */
#ifndef BDEKEY_GRAPH_INT_H
#define BDEKEY_GRAPH_INT_H

#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "core/json.h"
#include "core/scratch.h"
#include "graph/graph.h"
#include "http/http.h"
#include "identity/identity.h"

/* $batch takes at most 20 requests (Graph JSON batching). */
#define GRAPH_BATCH_MAX 20

/*
 * One lookup reads at most this many pages and list items, however the
 * server pages (issue 9 #10): Entra keeps at most 200 keys a device, and a
 * tenant-wide prefix scan of a million keys is ~1,000 pages of 1,000.
 */
#define GRAPH_MAX_PAGES 50000
#define GRAPH_MAX_ITEMS 5000000

/* Pages and items read so far in one lookup, and its caps. */
struct graph_budget {
	unsigned long pages, items;
	unsigned long max_pages, max_items;
};

struct graph {
	char *base;		/* Graph base URL, no trailing slash */
	char *v1;		/* base + "/v1.0" */
	char *beta;		/* base + "/beta" */
	char *origin;		/* scheme://host[:port] of base */
	char *authority;
	char *scope_lookup;	/* what lookups ask for */
	char *scope_rotate;	/* what find_device and rotate ask for */
	char *ident;		/* "app:CLIENT_ID" or the UPN */
	struct id_config idc;
	struct http_client *http;
	struct id_session *id;
	void (*progress)(void *arg, unsigned long scanned,
	    unsigned long matched);
	void *progress_arg;
	struct graph_budget budget;	/* reset by each operation */
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

/* The permission that shows passwords (Graph: $select=key). */
#define PERM_READ_KEY "BitlockerKey.Read.All"

/*
 * Start an operation: its scope set (lookups or rotation) and a fresh
 * page budget.
 */
void graph_begin(struct graph *g, int rotation);

/* One request (request.c). */

/* graph_call flags */
#define GRAPH_ONCE 0x1		/* not idempotent: see http_request.once */

/*
 * Send method url with the access token (flags: GRAPH_ONCE).  A 401
 * renews the token once and tries again; a second 401 is BDE_EAUTH
 * naming the WWW-Authenticate challenge's error.  Any other status is
 * left in rs->status for the caller (release rs also after failure).
 */
enum bde_status graph_call(struct graph *g, const char *method,
    const char *url, const char *body, unsigned flags,
    struct http_response *rs, char **errstr);

/*
 * The error for a failed answer: the status class (400 BDE_EPROTO, 401
 * BDE_EAUTH, 403 BDE_EPERM with need, 404 BDE_ENOTFOUND, 5xx
 * BDE_EUNREACH) and "what: code: message (need; client-request-id X)".
 * No I/O: body may be anything (NULL, not an object).
 */
enum bde_status graph_fail(long status, const cJSON *body,
    const char *request_id, const char *what, const char *need,
    char **errstr);

/*
 * A Bearer challenge (WWW-Authenticate of a 401) in words for a message:
 * "error: error_description" (RFC 6750 3), cut to len, or "" when it
 * names no error.  No I/O.
 */
void graph_challenge_text(const char *www_authenticate, char *buf,
    size_t len);

/*
 * The parts of one list page: its "value" array and its nextLink (NULL
 * on the last page).  Errors (BDE_EPROTO, naming what): doc is not an
 * object (an empty or non-JSON body), has no value array, or a nextLink
 * that is neither absent, null nor a string.  No I/O.
 */
enum bde_status graph_page_parts(const cJSON *doc, const char *what,
    const char *request_id, const cJSON **value, const char **next,
    char **errstr);

/*
 * A walk over @odata.nextLink pages: the links seen (hashes in an open
 * addressing set), against loops A -> B -> A.  Zero it to start;
 * graph_walk_release frees it.
 */
struct graph_walk {
	struct http_links links;
};
void graph_walk_release(struct graph_walk *w);

/*
 * Count a page of nitems items into the budget b and remember its
 * nextLink next (NULL: the last page).  BDE_OK, or BDE_EPROTO (naming
 * what) for a link seen before in this walk, a link that is not a
 * printable URL, or a budget passed; BDE_ENOMEM.  No I/O.
 */
enum bde_status graph_walk_page(struct graph_walk *w, struct graph_budget *b,
    const char *next, size_t nitems, const char *what, char **errstr);

/*
 * GET url and every @odata.nextLink after it (same origin only), calling
 * page(value, arg) with each page's "value" array; pages are freed as
 * they go, so memory stays flat.  url NULL: first is the first page (a
 * list that came back in a $batch; NULL there is an answer without a
 * body: BDE_EPROTO).  Errors: those of graph_call and graph_fail, and
 * BDE_EPROTO as graph_page_parts and graph_walk_page.
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
 * sent again after their Retry-After (a wait past HTTP_RETRY_AFTER_MAX_S
 * is not waited for: those go one by one at once); other inner failures
 * (but 403 and 404, which are the answer) and a refused batch fall back
 * to single GETs.  On BDE_OK every r[i] has its final status and body
 * (which may be NULL: an answer without one).
 */
enum bde_status graph_fetch_all(struct graph *g, struct graph_req *r,
    size_t n, char **errstr);

/*
 * Take a $batch answer doc (its "responses") into r: for each answer to
 * one of the indexes idx[0..n) (ids are the indexes, nreq requests in
 * all), its status and body (detached from doc) go to r[k] and k leaves
 * idx; throttled ones stay, and *wait_ms is the longest Retry-After they
 * ask for (a default when none).  *left: how many stay.  Returns 0, or
 * -1 when doc is not a batch answer (nothing was taken).  No I/O.
 */
int graph_batch_take(cJSON *doc, struct graph_req *r, size_t nreq,
    size_t *idx, size_t n, size_t *left, long long *wait_ms);

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

/*
 * Append the key Graph's object o describes (a list item or a get
 * answer, unwrapped) to out, with device as its device name (may be
 * NULL).  BDE_EPROTO: no id that is a GUID, or a deviceId that is not
 * one.  No I/O.
 */
enum bde_status graph_add_key(const cJSON *o, const char *device,
    struct bde_keylist *out, char **errstr);

/* The state of graph_key_page: keys of one list go to out. */
struct graph_key_pages {
	struct graph *g;		/* for progress, or NULL */
	struct bde_keylist *out;
	const char *device;		/* name for every key, or NULL */
	const struct bde_keyid *match;	/* keep only these, or NULL */
	unsigned long scanned, matched;
};

/* Page handler for key lists (graph_pages); arg is a graph_key_pages. */
enum bde_status graph_key_page(const cJSON *value, void *arg,
    char **errstr);

/*
 * The password in a key read's answer body (bare or wrapped in "value")
 * into k: BDE_PW_READ with k->password, or BDE_PW_DENIED when the object
 * has no "key" (Graph's answer to a token without BitlockerKey.Read.All).
 * BDE_EPROTO: no object at all, or a key that is not a non-empty string.
 * No I/O.
 */
enum bde_status graph_take_password(struct bde_key *k, const cJSON *body,
    const char *request_id, char **errstr);

/*
 * Why Graph withheld a password, from the permissions the access token
 * carries (perms: "A B C" as id_permissions gives, or NULL when
 * unknown): the permission it lacks and what it has, or, with
 * BitlockerKey.Read.All, the role the user lacks.  Into buf.  No I/O.
 */
void graph_denied_reason(const char *perms, char *buf, size_t len);

/* The state of graph_device_page: found() for each device. */
struct graph_named {
	enum bde_status (*found)(const char *device_id,
	    const char *display_name, void *arg, char **errstr);
	void *arg;
};

/*
 * Page handler for device lists: found(deviceId, displayName) for each
 * device that has both (one never registered for BitLocker has no
 * deviceId); BDE_EPROTO for a deviceId that is not a GUID.  No I/O.
 */
enum bde_status graph_device_page(const cJSON *value, void *arg,
    char **errstr);

/*
 * Devices named name: calls found(device_id, display_name, arg) for each
 * (keys.c).  Errors as graph_pages.
 */
enum bde_status graph_devices_named(struct graph *g, const char *name,
    enum bde_status (*found)(const char *device_id, const char *display_name,
    void *arg, char **errstr), void *arg, char **errstr);

/* Whether s is a GUID, 36 characters exactly (no braces, nothing more). */
int graph_guid_ok(const char *s);

/* Intune (managed.c): the backend's find_device and rotate operations. */
enum bde_status graph_find_managed(void *self, const char *name,
    const char *device_id, struct bde_device *out, char **errstr);
/* Rotation state (rotation.c): the bde_backend_ops.rotate_state op. */
enum bde_status graph_rotate_state(void *self, const struct bde_device *d,
    struct bde_rotation *out, char **errstr);

/*
 * The newest rotateBitLockerKeys entry of a managed device document's
 * deviceActionResults into *out (state BDE_ROT_NONE when there is none).
 * Returns 0, or -1 when doc is not such a document.  No I/O.
 */
int graph_rotation_parse(const cJSON *doc, struct bde_rotation *out);

enum bde_status graph_rotate(void *self, const struct bde_device *d,
    char **errstr);

/*
 * Managed devices of one Entra device: what the page handler collects.
 * device_id is the Entra deviceId asked for, name the device name asked
 * for (NULL: by id).
 */
struct graph_matches {
	const char *device_id;
	const char *name;
	struct bde_device first;
	size_t count;
	char list[8 * (BDE_GUID_LEN + 2) + 8];
};

/*
 * Page handler for managedDevices: every answer is checked (the filter
 * has been seen ignored): a present azureADDeviceId must be a GUID, and
 * the ones that are device_id must have a GUID id and, when a name was
 * asked for, that deviceName (case-insensitive); else BDE_EPROTO.  No
 * I/O.
 */
enum bde_status graph_managed_page(const cJSON *value, void *arg,
    char **errstr);

/*
 * The escrow report (escrow.c): the backend's escrow operation, its join
 * table and its page handlers.
 *
 * The table maps an Entra deviceId (16 bytes, written order) to the
 * number of its recovery keys, the newest key's creation and the volume
 * types they cover.  It is kept on disk (core/scratch.h), so the memory
 * a walk uses does not grow with the number of devices.
 */
struct graph_escrow_slot {
	uint32_t newest;	/* newest key's creation, UTC s; 0 unknown */
	uint32_t bits;		/* count | volume mask << VOL_SHIFT */
};
#define GRAPH_ESCROW_COUNT_MASK 0x0fffffffu
#define GRAPH_ESCROW_VOL_SHIFT 28
/* Volume mask bits: graph_volume_name's four answers. */
#define GRAPH_VOL_OS 0x1u		/* operatingSystemVolume (1) */
#define GRAPH_VOL_FIXED 0x2u		/* fixedDataVolume (2) */
#define GRAPH_VOL_REMOVABLE 0x4u	/* removableDataVolume (3) */
#define GRAPH_VOL_UNKNOWN 0x8u		/* unknownFutureValue, anything else */
#define GRAPH_ESCROW_VOL_ALL 0xfu
/* Devices with keys one walk keeps at most (about 100 MB of disk). */
#define GRAPH_ESCROW_MAX_DEVICES 2000000

struct graph_escrow_table {
	struct bde_dtab *d;
	uint64_t max;		/* devices it takes: GRAPH_ESCROW_MAX_DEVICES */
};

/* An empty table (release frees it; NULL-safe after a failed init). */
enum bde_status graph_escrow_table_init(struct graph_escrow_table *t,
    char **errstr);
void graph_escrow_table_release(struct graph_escrow_table *t);

/*
 * Count one key of device guid: created (UTC s; 0 or out of 32 bits:
 * unknown, not counted as newest) and vol (GRAPH_VOL_* bits).  BDE_OK,
 * BDE_EPROTO when t->max devices are there already, or the scratch
 * file's BDE_EIO / BDE_ENOMEM.
 */
enum bde_status graph_escrow_table_add(struct graph_escrow_table *t,
    const uint8_t guid[16], time_t created, unsigned vol, char **errstr);

/* What t holds for device guid into *out, *found 0 when nothing. */
enum bde_status graph_escrow_table_get(struct graph_escrow_table *t,
    const uint8_t guid[16], struct graph_escrow_slot *out, int *found,
    char **errstr);

/* The GRAPH_VOL_* bit of a volumeType in any of its three forms. */
unsigned graph_escrow_volume_bit(const cJSON *volume_type);

/*
 * The names of the volume types in mask ("operatingSystem,fixedData"),
 * comma-separated in bit order, into buf (cut at a whole name); returns
 * the length written.
 */
size_t graph_escrow_volumes(unsigned mask, char *buf, size_t len);

/*
 * Whether s is a SID string: "S-1-", a 48-bit authority and 1 to 15
 * 32-bit sub-authorities, decimal, at most 184 bytes.
 */
int graph_sid_ok(const char *s);

/*
 * The state of one escrow walk: the table the key pages fill, the
 * callback the device pages call, and the counts of what was read and
 * what could not be (skipped items, fields left empty).
 */
struct graph_escrow_walk {
	struct graph_escrow_table table;
	bde_escrow_fn fn;
	void *arg;
	unsigned long keys, devices, rows;
	unsigned long bad_keys, bad_devices, bad_fields;
};

/*
 * Page handler for recoveryKeys (arg: a graph_escrow_walk): each key
 * with a GUID id and deviceId is counted into the table; others are
 * skipped (bad_keys), a createdDateTime that is not a time is left out
 * (bad_fields).  BDE_EPROTO past the table's max; the scratch file's
 * errors.  No network I/O.
 */
enum bde_status graph_escrow_key_page(const cJSON *value, void *arg,
    char **errstr);

/*
 * Page handler for devices (arg: a graph_escrow_walk): fn once per
 * device with a displayName and a GUID deviceId (or none), its row
 * joined with the table (device_id lower case; strings borrowed for the
 * call); other items are skipped (bad_devices), unreadable or over-long
 * fields left NULL/0 (bad_fields).  fn returning non-zero: BDE_EIO
 * "stopped"; the scratch file's errors.  No network I/O.
 */
enum bde_status graph_escrow_device_page(const cJSON *value, void *arg,
    char **errstr);

/*
 * The backend's escrow operation (core.h): the recoveryKeys pages into
 * the table, then the devices pages, one row each.  Errors: those of
 * graph_pages; BDE_EIO "stopped"; BDE_EPROTO after the last row when
 * anything was skipped or left empty (the message counts them).
 */
enum bde_status graph_escrow(void *self, bde_escrow_fn fn, void *arg,
    char **errstr);

#endif
