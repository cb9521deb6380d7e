/*
 * managed.c - the Intune side: find the one managed device behind an
 * Entra device and ask it to rotate its BitLocker recovery passwords.
 * Everything a rotation acts on is checked first: every id a whole GUID,
 * the names Entra and Intune give the one asked for (issue 9 #4: a server
 * that answered EVIL-PC with INNOCENT-PC's ids made the wrong device
 * rotate).
 */
#include "graph/graph_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Candidates named in an ambiguity message, at most. */
#define LIST_MAX 8

/* Append ", s" (or "s" first) to a bounded list for a message. */
static void
list_add(char *list, size_t len, size_t count, const char *s)
{
	size_t n = strlen(list);

	if (count > LIST_MAX)
		return;
	snprintf(list + n, len - n, "%s%s", n ? ", " : "",
	    count == LIST_MAX ? "..." : s);
}

/* Devices of one name: the first's deviceId, how many, their ids. */
struct named_devices {
	const char *name;
	char device_id[BDE_GUID_LEN + 1];
	size_t count;
	char list[LIST_MAX * (BDE_GUID_LEN + 2) + 8];
};

static enum bde_status
count_device(const char *device_id, const char *display_name, void *arg,
    char **errstr)
{
	struct named_devices *nd = arg;

	/* the filter is the server's: the name must be the one asked for */
	if (strcasecmp(display_name, nd->name) != 0)
		return bde_error(errstr, BDE_EPROTO, "Entra ID answered device "
		    "'%.200s' when asked for '%s'; not rotating", display_name,
		    nd->name);
	/* graph_device_page let only whole GUIDs through: this fits */
	if (nd->count == 0)
		snprintf(nd->device_id, sizeof(nd->device_id), "%s",
		    device_id);
	list_add(nd->list, sizeof(nd->list), nd->count, device_id);
	nd->count++;
	return BDE_OK;
}

/* The device asked for, in words: "'NAME' (Entra device id X)" or "X". */
static void
asked_for(const struct graph_matches *m, char *buf, size_t len)
{
	if (m->name != NULL)
		snprintf(buf, len, "'%.200s' (Entra device id %s)", m->name,
		    m->device_id);
	else
		snprintf(buf, len, "Entra device id %s", m->device_id);
}

enum bde_status
graph_managed_page(const cJSON *value, void *arg, char **errstr)
{
	struct graph_matches *m = arg;
	const cJSON *item;
	const char *id, *aad, *name;
	char asked[300];

	asked_for(m, asked, sizeof(asked));
	cJSON_ArrayForEach(item, value) {
		id = bde_json_string(item, "id");
		aad = bde_json_string(item, "azureADDeviceId");
		name = bde_json_string(item, "deviceName");
		/* not registered in Entra ID: no id, or an empty one */
		if (aad == NULL || aad[0] == '\0')
			continue;
		if (!graph_guid_ok(aad))
			return bde_error(errstr, BDE_EPROTO, "looking up the "
			    "Intune managed device of %s: Intune answered one "
			    "whose azureADDeviceId is not a GUID; not rotating",
			    asked);
		/* the filter has been seen ignored: check every answer */
		if (strcasecmp(aad, m->device_id) != 0)
			continue;
		if (!graph_guid_ok(id))
			return bde_error(errstr, BDE_EPROTO, "looking up the "
			    "Intune managed device of %s: its id is not a GUID; "
			    "not rotating", asked);
		if (m->name != NULL && (name == NULL ||
		    strcasecmp(name, m->name) != 0))
			return bde_error(errstr, BDE_EPROTO, "looking up the "
			    "Intune managed device of %s: Intune names it "
			    "'%.200s'; not rotating", asked,
			    name != NULL ? name : "");
		if (m->count == 0) {
			m->first.id = strdup(id);
			m->first.device_id = strdup(aad);
			m->first.name = strdup(name != NULL ? name : "");
			if (m->first.id == NULL || m->first.device_id == NULL ||
			    m->first.name == NULL)
				return bde_error(errstr, BDE_ENOMEM,
				    "out of memory");
			bde_guid_lower(m->first.id);
			bde_guid_lower(m->first.device_id);
		}
		list_add(m->list, sizeof(m->list), m->count, id);
		m->count++;
	}
	return BDE_OK;
}

enum bde_status
graph_find_managed(void *self, const char *name, const char *device_id,
    struct bde_device *out, char **errstr)
{
	struct graph *g = self;
	struct named_devices nd;
	struct graph_matches m;
	enum bde_status st;
	char *filter = NULL, *url = NULL;

	memset(out, 0, sizeof(*out));
	memset(&nd, 0, sizeof(nd));
	memset(&m, 0, sizeof(m));
	graph_begin(g, 1);
	if ((name == NULL) == (device_id == NULL)) {
		st = bde_error(errstr, BDE_EUSAGE, "give a device name or a "
		    "device id");
		goto out;
	}
	if (name != NULL) {
		nd.name = name;
		st = graph_devices_named(g, name, count_device, &nd, errstr);
		if (st != BDE_OK)
			goto out;
		if (nd.count == 0) {
			st = bde_error(errstr, BDE_ENOTFOUND, "no device named "
			    "'%s' in Entra ID", name);
			goto out;
		}
		if (nd.count > 1) {
			st = bde_error(errstr, BDE_EUSAGE, "device name '%s' is "
			    "ambiguous: %zu devices in Entra ID (device ids %s); "
			    "give one with --device-id", name, nd.count,
			    nd.list);
			goto out;
		}
		device_id = nd.device_id;
	} else if (!graph_guid_ok(device_id)) {
		st = bde_error(errstr, BDE_EUSAGE, "device id '%s' is not a "
		    "GUID", device_id);
		goto out;
	}
	m.device_id = device_id;
	m.name = name;
	filter = graph_filter_eq("azureADDeviceId", device_id);
	if (filter == NULL || asprintf(&url, "%s/deviceManagement/"
	    "managedDevices?%s&$select=id,deviceName,azureADDeviceId",
	    g->beta, filter) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = graph_pages(g, url, NULL, "looking up the Intune managed device",
	    NEED_MANAGED, graph_managed_page, &m, errstr);
	if (st != BDE_OK)
		goto out;
	if (m.count == 0) {
		st = bde_error(errstr, BDE_ENOTFOUND, "no Intune managed device "
		    "for Entra device id '%s'", device_id);
		goto out;
	}
	if (m.count > 1) {
		st = bde_error(errstr, BDE_EUSAGE, "Entra device id '%s' is "
		    "ambiguous: %zu Intune managed devices (%s); not rotating",
		    device_id, m.count, m.list);
		goto out;
	}
	*out = m.first;
	memset(&m.first, 0, sizeof(m.first));
out:
	bde_device_release(&m.first);
	free(filter);
	free(url);
	return st;
}

enum bde_status
graph_rotate(void *self, const struct bde_device *m, char **errstr)
{
	struct graph *g = self;
	struct http_response rs = { 0 };
	enum bde_status st;
	char *url = NULL, *what = NULL;

	graph_begin(g, 1);
	/* the id goes into the URL: the GUID find_device checked, nothing else */
	if (!graph_guid_ok(m->id)) {
		st = bde_error(errstr, BDE_EUSAGE, "Intune managed device id "
		    "'%s' is not a GUID", m->id);
		goto out;
	}
	if (asprintf(&url, "%s/deviceManagement/managedDevices/%s/"
	    "rotateBitLockerKeys", g->beta, m->id) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	/*
	 * Beta only; no body, so no content type; 204 No Content when Intune
	 * took the task.  Not idempotent: sent once, on its own connection.
	 */
	st = graph_call(g, "POST", url, NULL, GRAPH_ONCE, &rs, errstr);
	if (st != BDE_OK || (rs.status >= 200 && rs.status <= 299))
		goto out;
	if (asprintf(&what, "rotating the recovery passwords of '%s'%s",
	    m->name, rs.status >= 500 ? " (the outcome is unknown: Intune "
	    "may have taken the request; it is not sent again)" : "") < 0) {
		what = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	st = graph_fail(rs.status, rs.json, rs.request_id, what, NEED_ROTATE,
	    errstr);
out:
	free(url);
	free(what);
	http_response_release(&rs);
	return st;
}
