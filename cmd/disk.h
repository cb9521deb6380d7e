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
 * Scan path for one BitLocker volume into *out (release it with
 * bde_volume_release): the one there is, or the one in partition partno
 * (0: any) of a disk.  A disk holding several without partno asks for it
 * (the message lists them).  Returns EXIT_OK or an exit status after
 * printing why, prefixed with cmdname.
 */
int disk_open_one(const char *cmdname, const char *path, unsigned partno,
    struct bde_volume *out);

/*
 * Parse --partition's argument (1 to 128) into *out; 0, or -1 after
 * printing why.
 */
int disk_partition_arg(const char *cmdname, const char *arg,
    unsigned *out);

#endif
