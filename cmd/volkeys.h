/*
 * volkeys.h - the keys of the volume in hand (cmd/volkeys.c).
 */
#ifndef BDEKEY_VOLKEYS_H
#define BDEKEY_VOLKEYS_H

#include "cmd/find.h"
#include "volume/volume.h"

struct volkeys {
	struct find f;			/* the keys found, each k->vol set */
	const struct bde_volume *v;	/* borrowed */
	struct bde_keyid *ids;		/* the recovery-password protectors */
	size_t nids;
};

/*
 * Look v's recovery-password protectors up by full key ID in the wanted
 * directories (their passwords too when show), and the keys of the
 * computer named in v's description (never their passwords); each key is
 * marked BDE_VOL_PROTECTOR or BDE_VOL_OTHER.  Nothing is tried yet: the
 * caller records the passwords read, then calls volkeys_prove_all.  0, or
 * -1 when out of memory (printed).  Release vk with volkeys_release
 * whatever it returned.
 */
int volkeys_find(struct volkeys *vk, struct settings *s, unsigned want,
    const struct bde_volume *v, int show);

/* volkeys_prove for every key found. */
void volkeys_prove_all(struct volkeys *vk);

/*
 * Set k->vol: BDE_VOL_OTHER when k is not a protector of v, else whether
 * its password (when read) opens v.  A password that fails its checksum,
 * or a check that could not run, stays BDE_VOL_PROTECTOR.
 */
void volkeys_prove(const struct bde_volume *v, struct bde_key *k);

/*
 * The next recovery-password protector of the volume that no directory
 * has, or NULL (always when a directory failed: it may have it); start
 * with *iter = 0.
 */
const struct bde_protector *volkeys_missing(const struct volkeys *vk,
    size_t *iter);

/* Free what vk holds (wiping passwords). */
void volkeys_release(struct volkeys *vk);

#endif
