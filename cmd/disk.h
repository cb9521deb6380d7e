/*
 * disk.h - what cmd/ shows of a BitLocker volume (volume/volume.h), shared
 * by volume, lookup --volume and unlock.
 */
#ifndef BDEKEY_DISK_H
#define BDEKEY_DISK_H

#include <cJSON.h>

#include "volume/volume.h"

/* Print v as a block of "label  value" lines on stdout. */
void disk_print(const struct bde_volume *v);

/*
 * v as a JSON object (volume_id, created, description, computer, drive,
 * method, to_go, protectors[{id, type}], ...).  A new item, or NULL when
 * out of memory.
 */
cJSON *disk_json(const struct bde_volume *v);

/*
 * Scan path for exactly one BitLocker volume into *out (release it with
 * bde_volume_release).  A disk holding several asks for the partition
 * (the message lists them).  Returns EXIT_OK or an exit status after
 * printing why, prefixed with cmdname.
 */
int disk_open_one(const char *cmdname, const char *path,
    struct bde_volume *out);

#endif
