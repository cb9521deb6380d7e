/*
 * odata.c - the small pieces of OData and Graph's encodings: string
 * literals in $filter, volumeType in its three published forms,
 * createdDateTime, answers bare or wrapped in "value".
 */
#include "graph/graph_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *
graph_odata_literal(const char *value)
{
	size_t i, n = 0, q = 0, len = strlen(value);
	char *out;

	for (i = 0; i < len; i++)
		q += value[i] == '\'';
	out = malloc(len + q + 3);
	if (out == NULL)
		return NULL;
	out[n++] = '\'';
	for (i = 0; i < len; i++) {
		/* OData ABNF SQUOTE-in-string: a quote is written twice */
		if (value[i] == '\'')
			out[n++] = '\'';
		out[n++] = value[i];
	}
	out[n++] = '\'';
	out[n] = '\0';
	return out;
}

char *
graph_filter_eq(const char *prop, const char *value)
{
	char *lit = NULL, *clause = NULL, *enc = NULL, *out = NULL;

	lit = graph_odata_literal(value);
	if (lit == NULL || asprintf(&clause, "%s eq %s", prop, lit) < 0) {
		clause = NULL;
		goto out;
	}
	enc = http_escape(clause);
	if (enc == NULL || asprintf(&out, "$filter=%s", enc) < 0)
		out = NULL;
out:
	free(lit);
	free(clause);
	free(enc);
	return out;
}

const char *
graph_volume_name(const cJSON *v)
{
	/* volumeType n is map[n - 1] */
	static const struct {
		const char *name, *out;
	} map[] = {
		{ "operatingSystemVolume", "operatingSystem" },
		{ "fixedDataVolume", "fixedData" },
		{ "removableDataVolume", "removableData" },
	};
	long long n;
	size_t i;

	/* a number, or a numeric string */
	if (bde_json_integer(v, 1, 3, &n) == BDE_NUM_OK)
		return map[n - 1].out;
	/* the name, with or without its "Volume" suffix */
	for (i = 0; cJSON_IsString(v) && i < sizeof(map) / sizeof(map[0]);
	    i++)
		if (strcasecmp(v->valuestring, map[i].name) == 0 ||
		    strcasecmp(v->valuestring, map[i].out) == 0)
			return map[i].out;
	return "unknown";
}

/* n decimal digits at *p into *v; advances p.  -1 when not digits. */
static int
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

/* Whether *p is one of the characters in set; advances past it. */
static int
expect(const char **p, const char *set)
{
	if (**p == '\0' || strchr(set, **p) == NULL)
		return 0;
	(*p)++;
	return 1;
}

int
graph_parse_time(const char *s, time_t *out)
{
	static const int mdays[] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	struct tm tm;
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	time_t t;

	if (s == NULL)
		return -1;
	if (digits(&p, 4, &y) < 0 || !expect(&p, "-") ||
	    digits(&p, 2, &mo) < 0 || !expect(&p, "-") ||
	    digits(&p, 2, &d) < 0 || !expect(&p, "Tt ") ||
	    digits(&p, 2, &h) < 0 || !expect(&p, ":") ||
	    digits(&p, 2, &mi) < 0 || !expect(&p, ":") ||
	    digits(&p, 2, &sec) < 0)
		return -1;
	/* a fraction of any length (Graph writes seven digits) is dropped */
	if (expect(&p, ".")) {
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	/* "Z", an offset, or nothing (taken as UTC) */
	if (!expect(&p, "Zz") && (*p == '+' || *p == '-')) {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) < 0)
			return -1;
		expect(&p, ":");
		if (digits(&p, 2, &om) < 0)
			return -1;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31))
		return -1;
	*out = t - sign * (oh * 3600 + om * 60);
	return 0;
}

const cJSON *
graph_unwrap(const cJSON *body)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "value");

	return cJSON_IsObject(v) ? v : body;
}
