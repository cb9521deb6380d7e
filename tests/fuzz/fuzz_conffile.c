/*
 * fuzz_conffile.c - libFuzzer target for the config file parser
 * (cmd/conffile.c): any bytes parse or fail with a "LINE: message"; every
 * key and value handed to the callback is a bounded, NUL-free string of
 * the line it came from, and line numbers only go up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/conffile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	int last_line;
	size_t entries;
};

static int
entry(void *arg, const char *section, const char *key, const char *value,
    int line, char **errstr)
{
	struct seen *s = arg;

	if (line < s->last_line || line < 1 || section == NULL ||
	    strlen(section) >= 64)
		abort();
	if ((key == NULL) != (value == NULL))
		abort();
	if (key != NULL && (strlen(key) > CONFFILE_MAX_LINE ||
	    strlen(value) > CONFFILE_MAX_LINE || key[0] == '\0'))
		abort();
	s->last_line = line;
	/* refuse now and then, as settings do for unknown keys */
	if (key != NULL && key[0] == 'x') {
		*errstr = strdup("refused");
		return -1;
	}
	s->entries++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { 0, 0 };
	char *err = NULL;
	int rc;

	rc = conffile_parse((const char *)data, size, entry, &s, &err);
	if (rc == 0 && err != NULL)
		abort();
	if (rc < 0 && (err == NULL || err[0] < '1' || err[0] > '9'))
		abort();
	free(err);
	return 0;
}
