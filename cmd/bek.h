/*
 * bek.h - the BitLocker key file (BEK) Azure Disk Encryption keeps in
 * Key Vault, for a volume in hand: what `bek --volume` and `unlock
 * --vault` share (cmd/bek.c).
 */
#ifndef BDEKEY_CMD_BEK_H
#define BDEKEY_CMD_BEK_H

#include "cmd/settings.h"
#include "keyvault/keyvault.h"
#include "volume/volume.h"

/* A BEK fetched for a volume; bek_vault_release wipes and frees. */
struct vault_bek {
	struct kv_bek rec;	/* where it came from (route volume) */
	uint8_t *bek;		/* the .BEK file's bytes: secret */
	size_t len;
	char *identity;		/* who read it, for the audit trail */
};

/*
 * The BEK of v from the configured vault: v's startup-key protector IDs
 * are the secret names tried (route volume), the first found is fetched
 * (unwrapped when wrapped), its notes said on stderr.  Nothing is
 * written anywhere; the caller audits before using it.  Returns EXIT_OK,
 * or an exit status after printing why, prefixed with cmdname.
 */
int bek_vault_for_volume(struct settings *s, const char *cmdname,
    const struct bde_volume *v, struct vault_bek *out);

/* Wipe and free what b holds, and zero it. */
void bek_vault_release(struct vault_bek *b);

#endif
