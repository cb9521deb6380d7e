/*
 * rotate.h - the rotation rotate and recover share (cmd/rotate.c).
 */
#ifndef BDEKEY_ROTATE_H
#define BDEKEY_ROTATE_H

#include "cmd/settings.h"

/*
 * Have Intune rotate the recovery passwords of the one managed device
 * matching device (a name) or device_id: confirmed on tty first when tty
 * is an open terminal (-1: no question), recorded in the audit log before
 * the request.  Prints what happened; returns the exit status.
 */
int rotate_device(struct settings *s, const char *device,
    const char *device_id, const char *reason, int tty);

#endif
