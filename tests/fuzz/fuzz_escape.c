/*
 * fuzz_escape.c - libFuzzer target for the two escapers that put user
 * values into queries: RFC 4515 LDAP filter values (ldap/filter.c) and
 * OData string literals in a percent-encoded $filter (graph/odata.c).
 *
 * Property: escaped text never changes the structure of the query it is
 * put in, and decodes back to exactly the input.
 *   LDAP:  no '(', ')', '*' or NUL remains; every '\' starts two hex
 *          digits; unescaping gives the input.
 *   OData: "$filter=" + percent-encoded "p eq '<lit>'": after decoding,
 *          the literal is the input with each quote doubled, so it ends
 *          at the last quote only; nothing outside the unreserved set
 *          is left unencoded.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_int.h"
#include "ldap/ad_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void
check_ldap(const char *in)
{
	char *esc = ad_filter_escape(in), *dec;
	size_t i, n = 0;

	if (esc == NULL)
		return;
	dec = malloc(strlen(esc) + 1);
	if (dec == NULL)
		abort();
	for (i = 0; esc[i] != '\0'; i++) {
		if (esc[i] == '(' || esc[i] == ')' || esc[i] == '*')
			abort();
		if (esc[i] == '\\') {
			if (hex(esc[i + 1]) < 0 || hex(esc[i + 2]) < 0)
				abort();
			dec[n++] = (char)(hex(esc[i + 1]) * 16 +
			    hex(esc[i + 2]));
			i += 2;
		} else {
			dec[n++] = esc[i];
		}
	}
	dec[n] = '\0';
	if (strcmp(dec, in) != 0)
		abort();
	free(dec);
	free(esc);
}

static void
check_odata(const char *in)
{
	static const char prefix[] = "$filter=";
	static const char head[] = "p eq '";
	char *q = graph_filter_eq("p", in), *dec, *p;
	size_t i, n = 0;

	if (q == NULL)
		return;
	if (strncmp(q, prefix, sizeof(prefix) - 1) != 0)
		abort();
	dec = malloc(strlen(q) + 1);
	if (dec == NULL)
		abort();
	for (p = q + sizeof(prefix) - 1; *p != '\0'; p++) {
		if (*p == '%') {
			if (hex(p[1]) < 0 || hex(p[2]) < 0)
				abort();
			dec[n++] = (char)(hex(p[1]) * 16 + hex(p[2]));
			p += 2;
		} else if (isalnum((unsigned char)*p) ||
		    strchr("-._~", *p) != NULL) {
			dec[n++] = *p;
		} else {
			abort();	/* a byte that changes the URL */
		}
	}
	dec[n] = '\0';
	/* p eq '<in with '' for '>' */
	if (strncmp(dec, head, sizeof(head) - 1) != 0 || n < sizeof(head) ||
	    dec[n - 1] != '\'')
		abort();
	p = dec + sizeof(head) - 1;
	for (i = 0; in[i] != '\0'; i++) {
		if (*p != in[i])
			abort();
		if (in[i] == '\'' && *++p != '\'')
			abort();
		p++;
	}
	if (p != dec + n - 1)
		abort();
	free(dec);
	free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';	/* C strings: the input up to its first NUL */
	check_ldap(s);
	check_odata(s);
	free(s);
	return 0;
}
