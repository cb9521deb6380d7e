/*
 * audit.h - the audit trail: one JSON line per revealed password (or
 * rotation, or recovery case), appended and synced BEFORE the secret is
 * shown.  Never holds a password.
 */
#ifndef BDEKEY_AUDIT_H
#define BDEKEY_AUDIT_H

#include <cJSON.h>

#include "core/core.h"

struct audit {
	int fd;
	char *path;
};

/*
 * Open (creating it and its directory, 0600/0700) the log at path for
 * appending.  Returns 0, or -1 after printing why.
 */
int audit_open(struct audit *a, const char *path);

/*
 * A new record with time, local user, host, action, reason and, when k
 * is not NULL, source, device, device_id, key_id and dn; identity is the
 * directory identity used (may be NULL).  The caller may add fields,
 * then passes it to audit_write.  NULL when out of memory.
 */
cJSON *audit_record_new(const char *action, const struct bde_key *k,
    const char *identity, const char *reason);

/* Append rec as one line (one write(2)) and free it; 0 or -1 (printed). */
int audit_write(struct audit *a, cJSON *rec);

/* fsync and close; 0, or -1 after printing why (then show nothing). */
int audit_close(struct audit *a);

#endif
