/*
 * json.h - the cJSON helpers every layer that reads JSON shares (http/,
 * identity/, graph/, cmd/): wiping a tree that held secrets, reading a
 * string member, and one bounded parser for numbers that servers send as
 * a JSON number or as a numeric string.
 */
#ifndef BDEKEY_JSON_H
#define BDEKEY_JSON_H

#include <cJSON.h>

/*
 * Wipe every string (values and names) in a cJSON tree, then delete it.
 * For trees that held tokens or passwords.  NULL is fine.
 */
void bde_json_wipe_delete(cJSON *item);

/*
 * The string member name of obj, or NULL (obj NULL or not an object, no
 * such member, or not a string).  The string belongs to obj.
 */
const char *bde_json_string(const cJSON *obj, const char *name);

/* What the number parsers return. */
#define BDE_NUM_OK 0
#define BDE_NUM_INVALID (-1)	/* absent, not a number, not an integer */
#define BDE_NUM_RANGE (-2)	/* an integer outside [min, max] */

/*
 * The integer member name of obj into *out when it lies in [min, max].
 * Servers send such values as a JSON number (3600, 3600.0, 36e2) or as a
 * string of decimal digits ("3600", "-5"); both are accepted.  Fractions,
 * NaN, infinities, strings with anything else in them ("12abc", " 1",
 * "1.5", "0x10", "") are BDE_NUM_INVALID; integers outside the bounds,
 * however large (1e309, a string of 500 digits), are BDE_NUM_RANGE.
 * *out is set only on BDE_NUM_OK.  Never undefined behaviour.
 */
int bde_json_number(const cJSON *obj, const char *name, long long min,
    long long max, long long *out);

/* The same for a cJSON value itself (an array item, a header value). */
int bde_json_integer(const cJSON *v, long long min, long long max,
    long long *out);

/*
 * The same for text: an optional sign and one or more decimal digits,
 * nothing else (a header value, a numeric string, an id).
 */
int bde_integer_parse(const char *s, long long min, long long max,
    long long *out);

#endif
