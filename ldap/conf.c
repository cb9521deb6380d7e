/*
 * conf.c - what libldap's own configuration says, for cmd/'s decisions.
 */
#include "ldap/ad.h"

#include <ldap.h>

int
ad_default_uri_configured(void)
{
	char *uri = NULL;
	int set;

	/* libldap reads ldap.conf and LDAP* variables on first use */
	if (ldap_get_option(NULL, LDAP_OPT_URI, &uri) != LDAP_OPT_SUCCESS)
		return 0;
	set = uri != NULL && *uri != '\0';
	ldap_memfree(uri);
	return set;
}
