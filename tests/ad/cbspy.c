/*
 * cbspy.c - an LD_PRELOAD shim that shows what channel binding a SASL
 * bind carries (issue 9 case 20), for the tests.
 *
 *   cc -shared -fPIC -o cbspy.so tests/ad/cbspy.c -ldl
 *   CBSPY_LOG=/tmp/cb.log LD_PRELOAD=$PWD/cbspy.so bdekey lookup ...
 *
 * Two lines a SASL bind, appended to CBSPY_LOG:
 *   "option mech=M cbinding=N": libldap's LDAP_OPT_X_SASL_CBINDING read
 *   back from the handle as ldap_sasl_interactive_bind_s starts (0 none,
 *   1 tls-unique, 2 tls-endpoint);
 *   "setprop name=ldap critical=0 len=L data=HEX": the channel binding
 *   libldap hands to the SASL mechanism (sasl_setprop
 *   SASL_CHANNEL_BINDING), which puts it into the GSS checksum: for
 *   tls-endpoint "tls-server-end-point:" and the hash of the server's
 *   certificate (RFC 5929), which the test compares with the
 *   certificate it gave the server.  No setprop line: no binding.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldap.h>
#include <sasl/sasl.h>

static void
say(const char *line)
{
	const char *path = getenv("CBSPY_LOG");
	int fd;

	if (path == NULL)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	(void)!write(fd, line, strlen(line));
	close(fd);
}

int
sasl_setprop(sasl_conn_t *conn, int propnum, const void *value)
{
	int (*real)(sasl_conn_t *, int, const void *);
	const sasl_channel_binding_t *cb = value;
	char line[512], *p;
	unsigned i;

	*(void **)&real = dlsym(RTLD_NEXT, "sasl_setprop");
	if (propnum == SASL_CHANNEL_BINDING && cb != NULL) {
		p = line + snprintf(line, sizeof(line),
		    "setprop name=%s critical=%d len=%lu data=",
		    cb->name ? cb->name : "", cb->critical,
		    (unsigned long)cb->len);
		for (i = 0; i < cb->len && p < line + sizeof(line) - 4; i++)
			p += sprintf(p, "%02x", cb->data[i]);
		strcpy(p, "\n");
		say(line);
	}
	return real != NULL ? real(conn, propnum, value) : SASL_FAIL;
}

int
ldap_sasl_interactive_bind_s(LDAP *ld, const char *dn, const char *mechs,
    LDAPControl **sctrls, LDAPControl **cctrls, unsigned flags,
    LDAP_SASL_INTERACT_PROC *proc, void *defaults)
{
	int (*real)(LDAP *, const char *, const char *, LDAPControl **,
	    LDAPControl **, unsigned, LDAP_SASL_INTERACT_PROC *, void *);
	char line[256];
	int cb = -1;

	*(void **)&real = dlsym(RTLD_NEXT, "ldap_sasl_interactive_bind_s");
	if (ldap_get_option(ld, LDAP_OPT_X_SASL_CBINDING, &cb) !=
	    LDAP_OPT_SUCCESS)
		cb = -1;
	snprintf(line, sizeof(line), "option mech=%s cbinding=%d\n",
	    mechs ? mechs : "", cb);
	say(line);
	return real != NULL ? real(ld, dn, mechs, sctrls, cctrls, flags, proc,
	    defaults) : LDAP_OTHER;
}
