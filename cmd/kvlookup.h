/*
 * kvlookup.h - Key Vault for `lookup` (the BEK secrets of a device or a
 * key ID, metadata only) and the opening of the backend from settings.
 */
#ifndef BDEKEY_CMD_KVLOOKUP_H
#define BDEKEY_CMD_KVLOOKUP_H

#include <cJSON.h>

#include "cmd/cmd.h"
#include "cmd/settings.h"
#include "keyvault/keyvault.h"

/* What a Key Vault lookup found; kvlookup_release frees. */
struct kvlookup {
	int asked;		/* 0: Key Vault was not a source */
	enum bde_status st;	/* BDE_OK, BDE_ENOTFOUND, or why not */
	char *err;		/* message when st is not BDE_OK */
	char *identity;		/* who listed the vault, or NULL */
	struct kv_beklist l;	/* candidates, grouped, newest first */
};

/*
 * Open the Key Vault backend with s (the client secret read first) into
 * *kv (kv_close).  Returns EXIT_OK, or an exit status after saying why,
 * prefixed with cmdname.
 */
int kvlookup_open(struct settings *s, const char *cmdname, struct kv **kv);

/* Whether lookup asks Key Vault: --source keyvault, or all/auto with a
 * vault configured. */
int kvlookup_wanted(const struct settings *s);

/*
 * List the BEK secrets of device (MachineName tag; only those under id
 * when id is not NULL), else those whose name starts with id; versioned
 * URLs.  Never prints; the outcome is in *k.
 */
void kvlookup_run(struct kvlookup *k, struct settings *s, const char *device,
    const struct bde_keyid *id);

/* Free what k holds and zero it. */
void kvlookup_release(struct kvlookup *k);

/* EXIT_OK when not asked or found, else the failure's exit status
 * (EXIT_NOTFOUND when nothing matched). */
int kvlookup_status(const struct kvlookup *k);

/* Say k's failure (not-found included) on stderr, once. */
void kvlookup_warn(const struct kvlookup *k);

/* Append k's records to keys and its failure (not not-found) to errors;
 * -1 when out of memory. */
int kvlookup_json(const struct kvlookup *k, cJSON *keys, cJSON *errors);

/* Print k's records as lookup's blocks; after: a block came before. */
void kvlookup_print(const struct kvlookup *k, int after);

#endif
