/*
 * conf.c - what libldap's own configuration says, for cmd/'s decisions
 * and `bdekey config`.
 */
#include "ldap/ad.h"

#include <ldap.h>
#include <stdlib.h>
#include <string.h>

#define LDAP_BUILTIN_URI "ldap://localhost:389/??base"

char *
ad_ldapconf(const char *what)
{
	char *v = NULL, *copy = NULL;
	int opt = strcmp(what, "BASE") == 0 ? LDAP_OPT_DEFBASE : LDAP_OPT_URI;

	/* libldap reads ldap.conf, ~/.ldaprc and LDAP* on first use */
	if (ldap_get_option(NULL, opt, &v) != LDAP_OPT_SUCCESS || v == NULL)
		return NULL;
	/*
	 * With nothing configured libldap still answers its built-in default,
	 * rendered this way; a URI the user gave never has the "??base" tail
	 * (only the old HOST setting gives it, so honour that one).
	 */
	if (opt == LDAP_OPT_URI && strcmp(v, LDAP_BUILTIN_URI) == 0 &&
	    getenv("LDAPHOST") == NULL) {
		ldap_memfree(v);
		return NULL;
	}
	if (*v != '\0')
		copy = strdup(v);
	ldap_memfree(v);
	return copy;
}

int
ad_default_uri_configured(void)
{
	char *uri = ad_ldapconf("URI");
	int set = uri != NULL;

	free(uri);
	return set;
}
