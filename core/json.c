/*
 * json.c - shared cJSON helpers and the bounded number parser (json.h).
 */
#include "core/json.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* Wipe the strings of one cJSON level and everything below it. */
static void
json_wipe(cJSON *item)
{
	cJSON *c;

	for (c = item; c != NULL; c = c->next) {
		if (c->valuestring != NULL)
			explicit_bzero(c->valuestring, strlen(c->valuestring));
		if (c->string != NULL)
			explicit_bzero(c->string, strlen(c->string));
		if (c->child != NULL)
			json_wipe(c->child);
	}
}

void
bde_json_wipe_delete(cJSON *item)
{
	if (item == NULL)
		return;
	/* the root's siblings are not ours: wipe from its child down */
	if (item->valuestring != NULL)
		explicit_bzero(item->valuestring, strlen(item->valuestring));
	if (item->child != NULL)
		json_wipe(item->child);
	cJSON_Delete(item);
}

const char *
bde_json_string(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
bde_integer_parse(const char *s, long long min, long long max,
    long long *out)
{
	unsigned long long mag = 0, limit;
	int neg = 0, big = 0;
	long long v;

	if (s == NULL)
		return BDE_NUM_INVALID;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (*s == '\0')
		return BDE_NUM_INVALID;
	/* LLONG_MIN's magnitude is one more than LLONG_MAX's */
	limit = neg ? (unsigned long long)LLONG_MAX + 1 :
	    (unsigned long long)LLONG_MAX;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return BDE_NUM_INVALID;
		/* keep reading after an overflow: "9...9x" is still invalid */
		if (big || mag > (limit - (unsigned long long)(*s - '0')) / 10)
			big = 1;
		else
			mag = mag * 10 + (unsigned long long)(*s - '0');
	}
	if (big)
		return BDE_NUM_RANGE;
	if (neg)
		v = mag == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN :
		    -(long long)mag;
	else
		v = (long long)mag;
	if (v < min || v > max)
		return BDE_NUM_RANGE;
	*out = v;
	return BDE_NUM_OK;
}

int
bde_json_integer(const cJSON *v, long long min, long long max,
    long long *out)
{
	double d;
	long long n;

	if (cJSON_IsString(v))
		return bde_integer_parse(v->valuestring, min, max, out);
	if (!cJSON_IsNumber(v))
		return BDE_NUM_INVALID;
	d = v->valuedouble;
	if (isnan(d))
		return BDE_NUM_INVALID;
	/*
	 * Converting a double outside long long's range is undefined: check
	 * first.  -2^63 is exact in a double; 2^63 is the first value above.
	 */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return BDE_NUM_RANGE;
	n = (long long)d;
	if ((double)n != d)
		return BDE_NUM_INVALID;	/* a fraction */
	if (n < min || n > max)
		return BDE_NUM_RANGE;
	*out = n;
	return BDE_NUM_OK;
}

int
bde_json_number(const cJSON *obj, const char *name, long long min,
    long long max, long long *out)
{
	return bde_json_integer(cJSON_GetObjectItemCaseSensitive(obj, name),
	    min, max, out);
}
