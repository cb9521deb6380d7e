/*
 * kvlookup.c - Key Vault as a source of `lookup`: the BEK secrets Azure
 * Disk Encryption keeps for a device (MachineName tag) or under a key ID
 * (the secret's name), listed like the directories' keys.  Metadata only:
 * secrets are listed, never read (`bek` reads one).  Also the one place
 * cmd/ opens the Key Vault backend (kvlookup_open, for bek.c too).
 */
#include "cmd/kvlookup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* kv_open with s (the client secret read first); status, message. */
static enum bde_status
open_kv(struct settings *s, struct kv **kv, char **err)
{
	struct kv_settings ks;

	*kv = NULL;
	if (settings_load_secrets(s, 0, 1) < 0)
		return bde_error(err, BDE_EUSAGE, "cannot read the client "
		    "secret");
	ks = settings_keyvault(s);
	return kv_open(&ks, kv, err);
}

int
kvlookup_open(struct settings *s, const char *cmdname, struct kv **kv)
{
	enum bde_status st;
	char *err = NULL;

	st = open_kv(s, kv, &err);
	if (st != BDE_OK) {
		cmd_warn("%s: %s", cmdname, err ? err : "cannot set up Key Vault");
		free(err);
		return cmd_exit_status(st);
	}
	return EXIT_OK;
}

int
kvlookup_wanted(const struct settings *s)
{
	if (s->source == SOURCE_KEYVAULT)
		return 1;
	return (s->source == SOURCE_AUTO || s->source == SOURCE_ALL) &&
	    s->kv.vault != NULL;
}

void
kvlookup_run(struct kvlookup *k, struct settings *s, const char *device,
    const struct bde_keyid *id)
{
	struct kv *kv = NULL;
	size_t i, n;

	memset(k, 0, sizeof(*k));
	k->asked = 1;
	if (s->kv.vault == NULL) {
		k->st = bde_error(&k->err, BDE_ECONFIG, "no vault: set --vault "
		    "or BDEKEY_VAULT");
		return;
	}
	k->st = open_kv(s, &kv, &k->err);
	if (k->st != BDE_OK)
		return;
	/* a device's BEKs, optionally only those under the key ID */
	if (device != NULL)
		k->st = kv_find_by_device(kv, device, KV_FIND_VERSIONS, &k->l,
		    &k->err);
	else
		k->st = kv_find_by_keyid(kv, id, KV_FIND_VERSIONS, &k->l,
		    &k->err);
	if (k->st == BDE_OK && device != NULL && id != NULL) {
		for (i = n = 0; i < k->l.n; i++) {
			if (bde_keyid_match(id, k->l.v[i].key_id))
				k->l.v[n++] = k->l.v[i];
			else
				kv_bek_release(&k->l.v[i]);
		}
		k->l.n = n;
		if (n == 0)
			k->st = bde_error(&k->err, BDE_ENOTFOUND, "no BEK secret "
			    "of device '%s' in %s is named by a key ID "
			    "starting %s", device, kv_vault_url(kv), id->hex);
	}
	k->identity = strdup(kv_identity(kv));
	kv_close(kv);
}

void
kvlookup_release(struct kvlookup *k)
{
	kv_beklist_free(&k->l);
	free(k->err);
	free(k->identity);
	memset(k, 0, sizeof(*k));
}

int
kvlookup_status(const struct kvlookup *k)
{
	if (!k->asked || k->st == BDE_OK)
		return EXIT_OK;
	return cmd_exit_status(k->st);
}

void
kvlookup_warn(const struct kvlookup *k)
{
	if (k->asked && k->st != BDE_OK && k->err != NULL)
		cmd_warn("keyvault: %s", k->err);
}

/* One record as lookup's JSON key: the contract's fields first. */
static int
json_bek(cJSON *arr, const struct kv_bek *b)
{
	cJSON *o = cJSON_CreateObject(), *src;
	char created[21] = "";

	if (o == NULL || !cJSON_AddItemToArray(arr, o))
		return -1;
	if (b->created > 0)
		bde_time_format(b->created, created);
	if (cJSON_AddStringToObject(o, "source", "keyvault") == NULL ||
	    (src = cJSON_AddArrayToObject(o, "sources")) == NULL ||
	    !cJSON_AddItemToArray(src, cJSON_CreateString("keyvault")) ||
	    cmd_json_add(o, "device", b->machine) < 0 ||
	    cmd_json_add(o, "key_id", b->key_id[0] ? b->key_id : NULL) < 0 ||
	    cmd_json_add(o, "volume", b->volume) < 0 ||
	    cmd_json_add(o, "created", b->created > 0 ? created : NULL) < 0 ||
	    cmd_json_add(o, "secret_url", b->secret_url) < 0 ||
	    (b->wrapped < 0 ? cJSON_AddNullToObject(o, "wrapped") :
	    cJSON_AddBoolToObject(o, "wrapped", b->wrapped)) == NULL ||
	    cmd_json_add(o, "kek_url", b->kek_url ? b->kek_url : b->kek_tag) < 0 ||
	    cJSON_AddStringToObject(o, "route", kv_route_name(b->route)) ==
	    NULL ||
	    cmd_json_add(o, "secret_name", b->name) < 0 ||
	    cmd_json_add(o, "version", b->version) < 0 ||
	    cmd_json_add(o, "content_type", b->content_type) < 0 ||
	    (b->enabled < 0 ? cJSON_AddNullToObject(o, "enabled") :
	    cJSON_AddBoolToObject(o, "enabled", b->enabled)) == NULL ||
	    cJSON_AddBoolToObject(o, "newest", b->newest) == NULL)
		return -1;
	return 0;
}

int
kvlookup_json(const struct kvlookup *k, cJSON *keys, cJSON *errors)
{
	cJSON *e;
	size_t i;

	if (!k->asked)
		return 0;
	for (i = 0; i < k->l.n; i++)
		if (json_bek(keys, &k->l.v[i]) < 0)
			return -1;
	if (k->st == BDE_OK || k->st == BDE_ENOTFOUND)
		return 0;
	if ((e = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToArray(errors, e) ||
	    cJSON_AddStringToObject(e, "source", "keyvault") == NULL ||
	    cJSON_AddStringToObject(e, "kind", bde_status_kind(k->st)) == NULL ||
	    cmd_json_add(e, "message", k->err ? k->err : "failed") < 0)
		return -1;
	return 0;
}

void
kvlookup_print(const struct kvlookup *k, int after)
{
	const struct kv_bek *b;
	char created[21];
	size_t i;

	for (i = 0; k->asked && i < k->l.n; i++) {
		b = &k->l.v[i];
		if (after || i > 0)
			fputc('\n', stdout);
		printf("device      %s\n", b->machine ? cmd_safe(b->machine) :
		    "?");
		printf("source      keyvault (route %s)\n",
		    kv_route_name(b->route));
		printf("key id      %s\n", b->key_id[0] ? b->key_id :
		    cmd_safe(b->name));
		if (b->created > 0) {
			bde_time_format(b->created, created);
			printf("created     %s\n", created);
		}
		if (b->volume != NULL)
			printf("volume      %s\n", cmd_safe(b->volume));
		printf("secret      %s%s\n", cmd_safe(b->secret_url),
		    b->enabled == 0 ? "  (disabled)" : b->newest ?
		    "  (newest of its volume letter)" : "  (older)");
		if (b->wrapped == 1)
			printf("wrapped     yes, KEK %s\n", b->kek_url ?
			    cmd_safe(b->kek_url) : b->kek_tag ?
			    cmd_safe(b->kek_tag) : "not named");
		else if (b->wrapped == 0)
			printf("wrapped     no\n");
	}
}
