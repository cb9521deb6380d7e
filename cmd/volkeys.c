/*
 * volkeys.c - the keys of the volume in hand (lookup --volume, unlock):
 * its recovery-password protectors by their full IDs in every directory,
 * its computer's other keys marked as not this volume's, and each password
 * read proved against the volume itself.
 */
#include "cmd/volkeys.h"
#include "checksum/checksum.h"

#include <stdlib.h>
#include <string.h>

/* Whether pw parses and every block passes its checksum. */
static int
checksum_ok(const char *pw)
{
	struct ck_password p;
	struct ck_parse_status st;
	int ok;

	ok = ck_parse(pw, strlen(pw), &p, &st) == CK_PARSE_OK &&
	    p.bad_blocks == 0;
	explicit_bzero(&p, sizeof(p));
	return ok;
}

/* Whether p is a recovery password, the kind a directory escrows. */
static int
escrowed_kind(const struct bde_protector *p)
{
	return strcmp(p->type, "recovery-password") == 0;
}

int
volkeys_find(struct volkeys *vk, struct settings *s, unsigned want,
    const struct bde_volume *v, int show)
{
	struct find_query q;
	size_t i;

	memset(vk, 0, sizeof(*vk));
	vk->v = v;
	vk->ids = calloc(v->nprotectors > 0 ? v->nprotectors : 1,
	    sizeof(*vk->ids));
	if (vk->ids == NULL) {
		cmd_warn("out of memory");
		return -1;
	}
	for (i = 0; i < v->nprotectors; i++)
		if (escrowed_kind(&v->protectors[i]) &&
		    bde_keyid_parse(v->protectors[i].id, &vk->ids[vk->nids],
		    NULL) == BDE_OK)
			vk->nids++;
	memset(&q, 0, sizeof(q));
	/* the computer's other keys: listed, their passwords never read */
	q.device = v->computer;
	q.ids = vk->ids;
	q.nids = vk->nids;
	q.id_flags = show ? BDE_WANT_PASSWORD : 0;
	if (find_keys(&vk->f, s, want, &q) < 0)
		return -1;
	for (i = 0; i < vk->f.keys.n; i++)
		vk->f.keys.v[i].vol = bde_volume_protector(v,
		    vk->f.keys.v[i].key_id) != NULL ? BDE_VOL_PROTECTOR :
		    BDE_VOL_OTHER;
	return 0;
}

void
volkeys_prove_all(struct volkeys *vk)
{
	size_t i;

	for (i = 0; i < vk->f.keys.n; i++)
		volkeys_prove(vk->v, &vk->f.keys.v[i]);
}

void
volkeys_prove(const struct bde_volume *v, struct bde_key *k)
{
	struct bde_unlock_key key;
	enum bde_status st;

	if (bde_volume_protector(v, k->key_id) == NULL) {
		k->vol = BDE_VOL_OTHER;
		return;
	}
	k->vol = BDE_VOL_PROTECTOR;
	/* a checksum failure stays the checksum's: vol says "not tried" */
	if (k->pw != BDE_PW_READ || !checksum_ok(k->password))
		return;
	key.kind = BDE_KEY_RECOVERY_PASSWORD;
	key.data = k->password;
	key.len = strlen(k->password);
	st = bde_volume_check(v, &key, NULL);
	if (st == BDE_OK)
		k->vol = BDE_VOL_OPENS;
	else if (st == BDE_EBADKEY)
		k->vol = BDE_VOL_WRONG;
}

const struct bde_protector *
volkeys_missing(const struct volkeys *vk, size_t *iter)
{
	const struct bde_volume *v = vk->v;

	/* a directory that failed may have it: nothing is known missing */
	if (v == NULL || find_error_status(&vk->f) != EXIT_OK)
		return NULL;
	while (*iter < v->nprotectors) {
		const struct bde_protector *p = &v->protectors[(*iter)++];

		if (escrowed_kind(p) && !find_has_key(&vk->f, p->id))
			return p;
	}
	return NULL;
}

void
volkeys_release(struct volkeys *vk)
{
	find_release(&vk->f);
	free(vk->ids);
	memset(vk, 0, sizeof(*vk));
}
