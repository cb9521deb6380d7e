/*
 * test_options.c - every option in the code's tables appears in the
 * command's --help and in docs/bdekey.1, short letter included, and every
 * command has a SYNOPSIS entry in the man page (curl's test1139 habit).
 * Names match whole: "Fl -device" is not found in "Fl -device-id".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/cmd.h"

#define MANPAGE "docs/bdekey.1"

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static char *
help_text(const struct cmd *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	cmd_print_help(c, fp);
	fclose(fp);
	return text;
}

/* A character that can continue an option name. */
static int
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/*
 * Whether text holds pat as a whole word: neither preceded nor followed
 * by a character of a name, so "--device" is not found in "--device-id"
 * and "Fl -device" not in "Fl -device-id".
 */
static int
has_word(const char *text, const char *pat)
{
	const char *p;
	size_t n = strlen(pat);

	for (p = text; (p = strstr(p, pat)) != NULL; p++)
		if ((p == text || !name_char(p[-1])) && !name_char(p[n]))
			return 1;
	return 0;
}

/*
 * The text of ".Ss name" up to the next section, in a new string; a
 * command's own options must be documented there, not just anywhere.
 */
static char *
man_section(const char *man, const char *name)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\n.Ss %s\n", name);
	p = strstr(man, pat);
	if (p == NULL)
		return NULL;
	p += strlen(pat);
	end = p + strlen(p);
	if (strstr(p, "\n.Ss ") != NULL)
		end = strstr(p, "\n.Ss ");
	if (strstr(p, "\n.Sh ") != NULL && strstr(p, "\n.Sh ") < end)
		end = strstr(p, "\n.Sh ");
	return strndup(p, (size_t)(end - p));
}

static void
test_help_and_man_agree(void **state)
{
	char *man = slurp(MANPAGE), *help, *section, pat[128];
	const struct cmd_option *o;
	size_t i, g, checked = 0;

	(void)state;
	for (i = 0; cmd_table[i] != NULL; i++) {
		const struct cmd *c = cmd_table[i];

		/* SYNOPSIS: ".Nm bdekey" then ".Cm name" on its own line */
		snprintf(pat, sizeof(pat), "\n.Cm %s\n", c->name);
		if (strstr(man, pat) == NULL)
			fail_msg("%s: command '%s' is not in the man page",
			    MANPAGE, c->name);
		help = help_text(c);
		section = man_section(man, c->name);
		for (g = 0; c->groups[g] != NULL; g++) {
			/* a command's own group is documented in its section */
			const char *where = strcmp(c->groups[g]->title,
			    "options") == 0 ? section : man;

			for (o = c->groups[g]->opts; o->name != NULL; o++) {
				snprintf(pat, sizeof(pat), "--%s", o->name);
				if (!has_word(help, pat))
					fail_msg("'%s --help' lacks %s",
					    c->name, pat);
				snprintf(pat, sizeof(pat), "Fl -%s", o->name);
				if (where == NULL || !has_word(where, pat))
					fail_msg("%s lacks '%s' in %s", MANPAGE,
					    pat, where == man ? "the page" :
					    c->name);
				if (o->key > 0 && o->key < 256) {
					snprintf(pat, sizeof(pat), "-%c, --%s",
					    o->key, o->name);
					if (!has_word(help, pat))
						fail_msg("'%s --help' lacks %s",
						    c->name, pat);
					/* ".It Fl d , Fl -device" */
					snprintf(pat, sizeof(pat),
					    "Fl %c , Fl -%s", o->key, o->name);
					if (where == NULL || !has_word(where, pat))
						fail_msg("%s lacks '%s' in %s",
						    MANPAGE, pat, where == man ?
						    "the page" : c->name);
				}
				checked++;
			}
		}
		free(help);
		free(section);
	}
	/* and the man page has its required sections */
	assert_non_null(strstr(man, "\n.Sh EXIT STATUS"));
	assert_non_null(strstr(man, "\n.Sh EXAMPLES"));
	assert_non_null(strstr(man, "\n.Sh ENVIRONMENT"));
	assert_true(checked > 0);
	free(man);
}

/* The option of c with this long name, or NULL. */
static const struct cmd_option *
find_option(const struct cmd *c, const char *name)
{
	const struct cmd_option *o;
	size_t g;

	for (g = 0; c->groups[g] != NULL; g++)
		for (o = c->groups[g]->opts; o->name != NULL; o++)
			if (strcmp(o->name, name) == 0)
				return o;
	return NULL;
}

/* The man page documents no option the code lacks. */
static void
test_man_has_no_stale_options(void **state)
{
	char *man = slurp(MANPAGE), *p, *section, name[64];
	const struct cmd_option *o;
	size_t i, n;
	int found;

	(void)state;
	/* ".It Fl d , Fl -device": the command has -d, and as --device */
	for (i = 0; cmd_table[i] != NULL; i++) {
		const struct cmd *c = cmd_table[i];

		section = man_section(man, c->name);
		for (p = section; p != NULL &&
		    (p = strstr(p, "Fl ")) != NULL; p += 3) {
			if ((p != section && name_char(p[-1])) ||
			    p[3] == '-' || !name_char(p[3]) ||
			    name_char(p[4]) || strncmp(p + 4, " , Fl -", 7) != 0)
				continue;
			for (n = 0; n < sizeof(name) - 1 &&
			    name_char(p[11 + n]); n++)
				name[n] = p[11 + n];
			name[n] = '\0';
			o = find_option(c, name);
			if (o == NULL || o->key != p[3])
				fail_msg("%s: %s documents -%c, --%s, which "
				    "'%s --help' does not have", MANPAGE,
				    c->name, p[3], name, c->name);
		}
		free(section);
	}
	for (p = man; (p = strstr(p, "Fl -")) != NULL; p += 4) {
		for (n = 0; n < sizeof(name) - 1 && name_char(p[4 + n]); n++)
			name[n] = p[4 + n];
		name[n] = '\0';
		if (strcmp(name, "help") == 0 || strcmp(name, "version") == 0)
			continue;
		found = 0;
		for (i = 0; cmd_table[i] != NULL && !found; i++)
			found = find_option(cmd_table[i], name) != NULL;
		if (!found)
			fail_msg("%s documents --%s, which no command has",
			    MANPAGE, name);
	}
	free(man);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_man_agree),
		cmocka_unit_test(test_man_has_no_stale_options),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
