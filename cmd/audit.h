/*
 * audit.h - the audit trail: one JSON line per revealed password (or
 * rotation, or recovery case), appended and synced BEFORE the secret is
 * shown.  Never holds a password.
 */
#ifndef BDEKEY_AUDIT_H
#define BDEKEY_AUDIT_H

#include <cJSON.h>

#include "core/core.h"

/*
 * A new record with time, local user, host, action, reason and, when k
 * is not NULL, source, device, device_id, key_id and dn; identity is the
 * directory identity used (may be NULL).  The caller may add fields,
 * then passes it to audit_append.  NULL when out of memory.
 */
cJSON *audit_record_new(const char *action, const struct bde_key *k,
    const char *identity, const char *reason);

/*
 * Open the log at path, append rec (freed whatever happens), sync and
 * close: one whole record on disk.  0, or -1 after printing why.
 */
int audit_append(const char *path, cJSON *rec);

#endif
