/*
 * reportout.c - `bdekey report`'s output: a line of text, a JSON Lines
 * object or an RFC 4180 CSV record per device.  Every value came from a
 * directory: text goes through cmd_safe, JSON through cJSON (control
 * characters escaped), and a CSV field that a spreadsheet would run as a
 * formula (= + - @ first) gets a leading apostrophe.
 */
#include "cmd/report.h"

#include <stdlib.h>
#include <string.h>

const char *const report_flag_names[RF_COUNT] = {
	"no-key", "stale", "near-cap", "ad-only", "entra-only", "inactive"
};

void
row_from_escrow(struct row *r, const struct bde_escrow *e, const char *source)
{
	int ad = strcmp(source, "ad") == 0;

	memset(r, 0, sizeof(*r));
	r->name = e->name;
	r->dn = e->dn;
	r->device_id = e->device_id;
	r->os = e->os;
	r->in_ad = ad;
	r->in_graph = !ad;
	r->nkeys = e->nkeys;
	if (ad) {
		r->ad_keys = e->nkeys;
		r->ad_volumes = e->volumes;
	} else {
		r->graph_keys = e->nkeys;
		r->graph_volumes = e->volumes;
	}
	r->newest = e->nkeys > 0 ? e->newest : 0;
	r->last_seen = e->last_seen;
}

/* "2026-11-30T10:00:00Z", or NULL for 0. */
static const char *
when(time_t t, char buf[21])
{
	if (t <= 0)
		return NULL;
	bde_time_format(t, buf);
	return buf;
}

/* The row's directories: "ad", "graph" or "ad;graph" (sep between). */
static void
sources(const struct row *r, char sep, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", r->in_ad ? "ad" : "", r->in_ad &&
	    r->in_graph ? (sep == ';' ? ";" : ",") : "", r->in_graph ?
	    "graph" : "");
}

/* The flags joined by sep, into buf. */
static void
flag_list(unsigned flags, const char *sep, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < RF_COUNT && n < len; i++)
		if (flags & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			    n ? sep : "", report_flag_names[i]);
}

/* Each item of a comma-separated list into arr; -1 out of memory. */
static int
json_list(cJSON *arr, const char *list)
{
	const char *p = list, *c;
	char *item;

	while (p != NULL && *p != '\0') {
		c = strchr(p, ',');
		item = strndup(p, c ? (size_t)(c - p) : strlen(p));
		if (item == NULL || (item[0] != '\0' &&
		    !cJSON_AddItemToArray(arr, cmd_json_string(item)))) {
			free(item);
			return -1;
		}
		free(item);
		p = c ? c + 1 : NULL;
	}
	return 0;
}

static int
write_json(const struct row *r)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char t1[21], t2[21];
	char *text = NULL;
	int i, rc = -1;

	if (o == NULL ||
	    cmd_json_add(o, "name", r->name) < 0 ||
	    (a = cJSON_AddArrayToObject(o, "sources")) == NULL ||
	    (r->in_ad && !cJSON_AddItemToArray(a, cJSON_CreateString("ad"))) ||
	    (r->in_graph &&
	    !cJSON_AddItemToArray(a, cJSON_CreateString("graph"))) ||
	    cmd_json_add(o, "dn", r->dn) < 0 ||
	    cmd_json_add(o, "device_id", r->device_id) < 0 ||
	    cmd_json_add(o, "os", r->os) < 0 ||
	    cJSON_AddNumberToObject(o, "keys", r->nkeys) == NULL ||
	    cmd_json_add(o, "newest_key", when(r->newest, t1)) < 0 ||
	    (a = cJSON_AddArrayToObject(o, "volumes")) == NULL ||
	    json_list(a, r->ad_volumes) < 0 ||
	    json_list(a, r->graph_volumes) < 0 ||
	    cmd_json_add(o, "last_seen", when(r->last_seen, t2)) < 0 ||
	    (a = cJSON_AddArrayToObject(o, "flags")) == NULL)
		goto out;
	for (i = 0; i < RF_COUNT; i++)
		if ((r->flags & (1u << i)) && !cJSON_AddItemToArray(a,
		    cJSON_CreateString(report_flag_names[i])))
			goto out;
	/* the keys each directory has, where it has the device */
	if ((r->in_ad && cJSON_AddNumberToObject(o, "ad_keys", r->ad_keys) ==
	    NULL) || (r->in_graph && cJSON_AddNumberToObject(o, "graph_keys",
	    r->graph_keys) == NULL))
		goto out;
	if ((text = cJSON_PrintUnformatted(o)) == NULL)
		goto out;
	rc = puts(text) < 0 ? -1 : 0;
out:
	free(text);
	cJSON_Delete(o);
	return rc;
}

/* One CSV field: quoted when it must be, a formula defused. */
static int
csv_field(const char *s, int last)
{
	const char *p;
	int quote, rc = 0;

	if (s == NULL)
		s = "";
	quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote && fputc('"', stdout) == EOF)
		return -1;
	if (s[0] != '\0' && strchr("=+-@", s[0]) != NULL &&
	    fputc('\'', stdout) == EOF)
		return -1;
	for (p = s; *p != '\0' && rc == 0; p++) {
		if (*p == '"' && fputc('"', stdout) == EOF)
			rc = -1;
		if (fputc(*p, stdout) == EOF)
			rc = -1;
	}
	if (rc == 0 && quote && fputc('"', stdout) == EOF)
		rc = -1;
	if (rc == 0 && fputs(last ? "\r\n" : ",", stdout) == EOF)
		rc = -1;
	return rc;
}

static int
write_csv(const struct row *r)
{
	char src[16], keys[16], t1[21], t2[21], flags[128], *vol = NULL, *c;
	int rc;

	sources(r, ';', src, sizeof(src));
	snprintf(keys, sizeof(keys), "%u", r->nkeys);
	flag_list(r->flags, ";", flags, sizeof(flags));
	if (asprintf(&vol, "%s%s%s", r->ad_volumes ? r->ad_volumes : "",
	    r->ad_volumes && r->graph_volumes ? ";" : "", r->graph_volumes ?
	    r->graph_volumes : "") < 0)
		return -1;
	/* lists are ';'-separated: commas inside would need quoting */
	for (c = vol; *c != '\0'; c++)
		if (*c == ',')
			*c = ';';
	rc = csv_field(r->name, 0) < 0 || csv_field(src, 0) < 0 ||
	    csv_field(r->dn, 0) < 0 || csv_field(r->device_id, 0) < 0 ||
	    csv_field(r->os, 0) < 0 || csv_field(keys, 0) < 0 ||
	    csv_field(when(r->newest, t1), 0) < 0 || csv_field(vol, 0) < 0 ||
	    csv_field(when(r->last_seen, t2), 0) < 0 ||
	    csv_field(flags, 1) < 0 ? -1 : 0;
	free(vol);
	return rc;
}

/* Columns s takes on a terminal: UTF-8 characters (cmd_safe's output). */
static size_t
columns(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int
write_text(const struct row *r)
{
	char src[16], t1[21], t2[21], flags[128];
	const char *name = r->name ? cmd_safe(r->name) : "?";
	size_t w = columns(name);

	sources(r, ',', src, sizeof(src));
	flag_list(r->flags, ",", flags, sizeof(flags));
	return printf("%s%*s %-8s %5u  %-20s  %-20s  %s\n", name,
	    w < 24 ? (int)(24 - w) : 0, "", src, r->nkeys,
	    when(r->newest, t1) ? t1 : "-", when(r->last_seen, t2) ? t2 : "-",
	    flags[0] ? flags : "-") < 0 ? -1 : 0;
}

int
report_write_header(enum report_format fmt)
{
	if (fmt == REPORT_CSV)
		return fputs("name,sources,dn,device_id,os,keys,newest_key,"
		    "volumes,last_seen,flags\r\n", stdout) == EOF ? -1 : 0;
	if (fmt == REPORT_TEXT)
		return printf("%-24s %-8s %5s  %-20s  %-20s  %s\n", "DEVICE",
		    "SOURCES", "KEYS", "NEWEST KEY", "LAST SEEN", "FLAGS") < 0 ?
		    -1 : 0;
	return 0;
}

int
report_write(enum report_format fmt, const struct row *r)
{
	switch (fmt) {
	case REPORT_JSON:
		return write_json(r);
	case REPORT_CSV:
		return write_csv(r);
	case REPORT_TEXT:
		break;
	}
	return write_text(r);
}

void
report_write_errors(const struct report_failure *f, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *arr, *e;
	char *text = NULL;
	size_t i;

	if (o == NULL || (arr = cJSON_AddArrayToObject(o, "errors")) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if (f[i].st == BDE_OK)
			continue;
		if ((e = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(arr, e) ||
		    cJSON_AddStringToObject(e, "source", f[i].source) == NULL ||
		    cJSON_AddStringToObject(e, "kind",
		    bde_status_kind(f[i].st)) == NULL ||
		    cmd_json_add(e, "message", f[i].err ? f[i].err :
		    "failed") < 0)
			goto out;
	}
	if ((text = cJSON_PrintUnformatted(o)) != NULL)
		puts(text);
out:
	free(text);
	cJSON_Delete(o);
}
