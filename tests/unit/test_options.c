/*
 * test_options.c - every option in the code's tables appears in the
 * command's --help and in docs/bdekey.1, and every command has a
 * SYNOPSIS entry in the man page (curl's test1139 habit).
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

		/* SYNOPSIS: ".Nm bdekey" then ".Cm name" */
		snprintf(pat, sizeof(pat), "\n.Cm %s", c->name);
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
				if (strstr(help, pat) == NULL)
					fail_msg("'%s --help' lacks %s",
					    c->name, pat);
				snprintf(pat, sizeof(pat), "Fl -%s", o->name);
				if (where == NULL || strstr(where, pat) == NULL)
					fail_msg("%s lacks '%s' in %s", MANPAGE,
					    pat, where == man ? "the page" :
					    c->name);
				if (o->key > 0 && o->key < 256) {
					snprintf(pat, sizeof(pat), "-%c, --%s",
					    o->key, o->name);
					if (strstr(help, pat) == NULL)
						fail_msg("'%s --help' lacks %s",
						    c->name, pat);
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

/* The man page documents no option the code lacks. */
static void
test_man_has_no_stale_options(void **state)
{
	char *man = slurp(MANPAGE), *p, name[64];
	const struct cmd_option *o;
	size_t i, g, n;
	int found;

	(void)state;
	for (p = man; (p = strstr(p, "Fl -")) != NULL; p += 4) {
		for (n = 0; n < sizeof(name) - 1 && (p[4 + n] == '-' ||
		    (p[4 + n] >= 'a' && p[4 + n] <= 'z')); n++)
			name[n] = p[4 + n];
		name[n] = '\0';
		if (strcmp(name, "help") == 0 || strcmp(name, "version") == 0)
			continue;
		found = 0;
		for (i = 0; cmd_table[i] != NULL && !found; i++)
			for (g = 0; cmd_table[i]->groups[g] != NULL; g++)
				for (o = cmd_table[i]->groups[g]->opts;
				    o->name != NULL; o++)
					if (strcmp(o->name, name) == 0)
						found = 1;
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
