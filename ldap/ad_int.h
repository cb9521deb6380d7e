/*
 * ad_int.h - what the AD backend's files share, and its unit tests see.
 * Not for cmd/: use ad.h.
 */
#ifndef BDEKEY_AD_INT_H
#define BDEKEY_AD_INT_H

#include "core/core.h"

#define AD_CLASS_RECOVERY "msFVE-RecoveryInformation"
#define AD_ATTR_GUID "msFVE-RecoveryGuid"

/*
 * s escaped for an LDAP filter value (RFC 4515 section 3: '*', '(', ')'
 * and '\' as \XX).  Returns a new string the caller frees, or NULL when
 * out of memory.
 */
char *ad_filter_escape(const char *s);

/*
 * The filter for recovery objects whose key ID starts with id (see
 * filter.c for the stored byte order and a Samba quirk).  Returns a new
 * string the caller frees, or NULL when out of memory.
 */
char *ad_keyid_filter(const struct bde_keyid *id);

#endif
