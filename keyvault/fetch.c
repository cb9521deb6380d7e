/*
 * fetch.c - a BEK secret's value made into the .BEK file's bytes: the
 * secret read, a "BEK" decoded (standard base64), a "Wrapped BEK"
 * unwrapped with exactly its own KEK version (ARM's URL, else the
 * secret's tag; never the key's latest version) and its algorithm, the
 * header checked; and the read-only preflight of `bek --check`.
 */
#include "keyvault/kv_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The algorithms ADE writes and Key Vault unwraps with (key-vault.md). */
static const char *const algs[] = { "RSA-OAEP", "RSA-OAEP-256", "RSA1_5",
	NULL };

/* "NAME/VERSION" or "NAME" of b, for messages, in buf. */
static const char *
label(const struct kv_bek *b, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", b->name, b->version ? "/" : "",
	    b->version ? b->version : "");
	return buf;
}

/*
 * Read b's secret into rs (200) and b's metadata; *value borrows the
 * secret's text from rs (wiped with it).  The answer must be the secret
 * (and version) asked for, and a BEK.
 */
static enum bde_status
secret_get(struct kv *kv, struct kv_bek *b, struct http_response *rs,
    const char **value, char **errstr)
{
	struct kv_objid want, got;
	struct kv_item it;
	enum bde_status st;
	char *url = NULL, what[600], lb[200];

	*value = NULL;
	if (kv_objid_parse(b->secret_url, "secrets", &want) < 0)
		return bde_error(errstr, BDE_EUSAGE, "'%s' is not a secret URL",
		    b->secret_url);
	if (asprintf(&url, "%s?api-version=%s", b->secret_url,
	    KV_API_VERSION) < 0)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	snprintf(what, sizeof(what), "reading secret %s in %s",
	    label(b, lb, sizeof(lb)), want.origin);
	st = kv_call(kv, KV_VAULT, "GET", url, NULL, rs, errstr);
	free(url);
	if (st != BDE_OK)
		return st;
	if (rs->status != 200)
		return kv_fail(rs->status, rs->json, rs->request_id, what,
		    errstr);
	st = kv_item_parse(rs->json, &it, NULL);
	if (st != BDE_OK || kv_objid_parse(it.id, "secrets", &got) < 0 ||
	    strcasecmp(got.name, want.name) != 0 ||
	    (want.version[0] && strcmp(got.version, want.version) != 0))
		return bde_error(errstr, BDE_EPROTO, "%s: the answer is not that "
		    "secret (client-request-id %s)", what, rs->request_id);
	st = kv_bek_take(b, &it, errstr);
	if (st != BDE_OK)
		return st;
	if (it.content_type == NULL || strcasestr(it.content_type, "BEK") ==
	    NULL)
		return bde_error(errstr, BDE_EPROTO, "secret %s is not a "
		    "BitLocker key (contentType '%.60s', not BEK or Wrapped "
		    "BEK)", label(b, lb, sizeof(lb)), it.content_type ?
		    it.content_type : "");
	if (it.value == NULL || it.value[0] == '\0')
		return bde_error(errstr, BDE_EPROTO, "%s: the answer has no "
		    "value (client-request-id %s)", what, rs->request_id);
	*value = it.value;
	return BDE_OK;
}

/*
 * The KEK to unwrap b with, into *kid: ARM's versioned URL, else the
 * secret's own tag.  An unversioned ARM URL takes the tag's version when
 * the tag names the same key (said in b->notes); nothing unversioned is
 * ever used: the key's latest version may be the wrong one.
 */
static enum bde_status
kek_choose(struct kv_bek *b, struct kv_objid *kid, char **errstr)
{
	struct kv_objid tag;
	int have_tag;
	char lb[200];

	have_tag = b->kek_tag != NULL &&
	    kv_objid_parse(b->kek_tag, "keys", &tag) == 0;
	if (b->kek_tag != NULL && !have_tag)
		kv_note(b, "the secret's DiskEncryptionKeyEncryptionKeyURL tag "
		    "is not a key URL: '%.200s'", b->kek_tag);
	if (b->kek_from_arm && b->kek_url != NULL) {
		if (kv_objid_parse(b->kek_url, "keys", kid) < 0)
			return bde_error(errstr, BDE_EPROTO, "ARM's key URL "
			    "'%.200s' is not one", b->kek_url);
		if (kid->version[0] == '\0') {
			if (!have_tag || tag.version[0] == '\0' ||
			    strcmp(tag.origin, kid->origin) != 0 ||
			    strcasecmp(tag.name, kid->name) != 0)
				return bde_error(errstr, BDE_EPROTO, "ARM's key "
				    "URL '%s' has no version and the secret's "
				    "tag names none for that key; bdekey does "
				    "not guess (the key's latest version may "
				    "not be the one that wrapped it)",
				    b->kek_url);
			memcpy(kid->version, tag.version, sizeof(tag.version));
			kv_note(b, "ARM's key URL has no version; version %s "
			    "is the secret's own DiskEncryptionKeyEncryption"
			    "KeyURL tag's", tag.version);
		} else if (have_tag && !kv_url_same(b->kek_url, b->kek_tag)) {
			kv_note(b, "ARM's KEK (%s) is not the one the secret's "
			    "tag names (%s); ARM's is used", b->kek_url,
			    b->kek_tag);
		}
		return BDE_OK;
	}
	if (!have_tag)
		return bde_error(errstr, BDE_EPROTO, "secret %s is a Wrapped BEK "
		    "without a usable DiskEncryptionKeyEncryptionKeyURL tag: "
		    "give --vm so that ARM names its KEK",
		    label(b, lb, sizeof(lb)));
	if (tag.version[0] == '\0')
		return bde_error(errstr, BDE_EPROTO, "the KEK URL in secret "
		    "%s's tag has no version; bdekey does not guess (the key's "
		    "latest version may not be the one that wrapped it)",
		    label(b, lb, sizeof(lb)));
	*kid = tag;
	return BDE_OK;
}

/* The tag's algorithm in Key Vault's spelling, or NULL when unknown. */
static const char *
alg_of(const struct kv_bek *b)
{
	size_t i;

	if (b->alg == NULL)
		return algs[0];		/* ADE's default */
	for (i = 0; algs[i] != NULL; i++)
		if (strcasecmp(b->alg, algs[i]) == 0)
			return algs[i];
	return NULL;
}

/* Whether s holds base64url digits only (it goes into a JSON string). */
static int
b64url_chars(const char *s)
{
	return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx"
	    "yz0123456789-_=")] == '\0';
}

/*
 * POST {kid}/unwrapkey with the wrapped value verbatim: the .BEK's
 * bytes into *out (kv_bytes_free).  A refusal to decrypt is BDE_EBADKEY.
 */
static enum bde_status
unwrap(struct kv *kv, struct kv_bek *b, const struct kv_objid *kid,
    const char *value, uint8_t **out, size_t *len, char **errstr)
{
	struct http_response rs = { 0 };
	const cJSON *err;
	enum bde_status st;
	const char *alg = alg_of(b), *rkid, *code, *msg;
	char *url = NULL, *body = NULL, *key = NULL, what[400], lb[200];
	size_t blen = 0;

	*out = NULL;
	*len = 0;
	if (alg == NULL)
		return bde_error(errstr, BDE_EPROTO, "secret %s names the "
		    "algorithm '%.40s', not RSA-OAEP, RSA-OAEP-256 or RSA1_5",
		    label(b, lb, sizeof(lb)), b->alg);
	if (!b64url_chars(value))
		return bde_error(errstr, BDE_EPROTO, "secret %s: a Wrapped BEK "
		    "holds base64url, and this value is not",
		    label(b, lb, sizeof(lb)));
	key = kv_objid_url(kid, "keys");
	if (key == NULL || asprintf(&url, "%s/unwrapkey?api-version=%s", key,
	    KV_API_VERSION) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	blen = strlen(value) + 64;
	if ((body = malloc(blen)) == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(body, blen, "{\"alg\":\"%s\",\"value\":\"%s\"}", alg, value);
	snprintf(what, sizeof(what), "unwrapping secret %s with key %s/%s",
	    label(b, lb, sizeof(lb)), kid->name, kid->version);
	st = kv_call(kv, KV_VAULT, "POST", url, body, &rs, errstr);
	if (st != BDE_OK)
		goto out;
	if (rs.status == 400) {
		/* the service's words for "not this key" (key-vault.md) */
		err = cJSON_GetObjectItemCaseSensitive(rs.json, "error");
		code = bde_json_string(err, "code");
		msg = bde_json_string(err, "message");
		if (code != NULL && strcmp(code, "BadParameter") == 0 &&
		    msg != NULL && (strcasestr(msg, "padding") != NULL ||
		    strcasestr(msg, "length of the data") != NULL)) {
			st = bde_error(errstr, BDE_EBADKEY, "%s (%s): this KEK "
			    "version did not wrap this secret (the vault: "
			    "%.200s)", what, alg, msg);
			goto out;
		}
	}
	if (rs.status != 200) {
		st = kv_fail(rs.status, rs.json, rs.request_id, what, errstr);
		goto out;
	}
	st = kv_unwrap_parse(rs.json, out, len, &rkid, errstr);
	if (st == BDE_OK && rkid != NULL && !kv_url_same(rkid, key)) {
		kv_bytes_free(*out, *len);
		*out = NULL;
		*len = 0;
		st = bde_error(errstr, BDE_EPROTO, "%s: the vault answered for "
		    "another key (%.200s)", what, rkid);
	}
	if (st == BDE_OK) {
		free(b->kek_url);
		b->kek_url = key;
		key = NULL;
		free(b->alg);
		b->alg = strdup(alg);
	}
out:
	if (body != NULL) {
		explicit_bzero(body, blen);
		free(body);
	}
	http_response_release(&rs);
	free(url);
	free(key);
	return st;
}

/* The header check's finding as a note on b. */
static void
check_header(struct kv_bek *b, const uint8_t *bek, size_t len)
{
	char why[200];

	if (kv_bek_header_check(bek, len, b->key_id, why, sizeof(why)) > 0)
		kv_note(b, "this does not look like the .BEK file ADE "
		    "writes: %s", why);
}

enum bde_status
kv_fetch(struct kv *kv, struct kv_bek *b, uint8_t **bek, size_t *len,
    char **errstr)
{
	struct http_response rs = { 0 };
	struct kv_objid kid;
	enum bde_status st;
	const char *value;
	char lb[200];
	int r;

	*bek = NULL;
	*len = 0;
	st = secret_get(kv, b, &rs, &value, errstr);
	if (st != BDE_OK)
		goto out;
	if (!b->wrapped) {
		/* a BEK secret is the file in standard base64 (the seed) */
		r = kv_b64_decode(value, 0, bek, len);
		if (r == -2)
			st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		else if (r < 0 || *len == 0)
			st = bde_error(errstr, BDE_EPROTO, "secret %s: a BEK "
			    "holds the .BEK file in standard base64, and this "
			    "value is not", label(b, lb, sizeof(lb)));
	} else if ((st = kek_choose(b, &kid, errstr)) == BDE_OK) {
		st = unwrap(kv, b, &kid, value, bek, len, errstr);
	}
	if (st == BDE_OK)
		check_header(b, *bek, *len);
out:
	if (st != BDE_OK) {
		kv_bytes_free(*bek, *len);
		*bek = NULL;
		*len = 0;
	}
	http_response_release(&rs);
	return st;
}

/* One finding, formatted. */
static void finding_f(void (*finding)(void *, enum kv_level, const char *),
    void *arg, enum kv_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
finding_f(void (*finding)(void *, enum kv_level, const char *), void *arg,
    enum kv_level level, const char *fmt, ...)
{
	char buf[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	finding(arg, level, buf);
}

/* GET the KEK version: present and enabled; 403 etc. as kv_fail. */
static enum bde_status
key_get(struct kv *kv, const struct kv_objid *kid, int *enabled,
    char **errstr)
{
	struct http_response rs = { 0 };
	const cJSON *attr, *en;
	enum bde_status st;
	char *key = kv_objid_url(kid, "keys"), *url = NULL, what[300];

	*enabled = -1;
	if (key == NULL || asprintf(&url, "%s?api-version=%s", key,
	    KV_API_VERSION) < 0) {
		url = NULL;
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "reading key %s/%s", kid->name,
	    kid->version);
	st = kv_call(kv, KV_VAULT, "GET", url, NULL, &rs, errstr);
	if (st == BDE_OK && rs.status != 200)
		st = kv_fail(rs.status, rs.json, rs.request_id, what, errstr);
	if (st != BDE_OK)
		goto out;
	attr = cJSON_GetObjectItemCaseSensitive(rs.json, "attributes");
	en = cJSON_GetObjectItemCaseSensitive(attr, "enabled");
	if (cJSON_IsBool(en))
		*enabled = cJSON_IsTrue(en);
out:
	http_response_release(&rs);
	free(url);
	free(key);
	return st;
}

/* Every note of b from index *done on as an info finding. */
static void
notes_out(struct kv_bek *b, size_t *done,
    void (*finding)(void *, enum kv_level, const char *), void *arg)
{
	for (; *done < b->nnotes; (*done)++)
		finding(arg, KV_LEVEL_INFO, b->notes[*done]);
}

enum bde_status
kv_check(struct kv *kv, struct kv_bek *b,
    void (*finding)(void *arg, enum kv_level level, const char *text),
    void *arg)
{
	struct http_response rs = { 0 };
	struct kv_objid kid;
	enum bde_status st;
	const char *value;
	char *err = NULL, lb[200];
	uint8_t *bek = NULL;
	size_t len = 0, done = 0;
	char *chosen;
	int enabled, same;

	notes_out(b, &done, finding, arg);
	st = secret_get(kv, b, &rs, &value, &err);
	if (st != BDE_OK) {
		finding_f(finding, arg, KV_LEVEL_FAIL, "secret: %s", err);
		goto out;
	}
	finding_f(finding, arg, KV_LEVEL_OK, "secret %s: present, enabled, "
	    "readable (%s)", label(b, lb, sizeof(lb)), b->content_type);
	if (!b->wrapped) {
		finding_f(finding, arg, KV_LEVEL_WARN, "BEK only, no KEK: the "
		    "key can be restored, but Azure Backup refuses VMs "
		    "encrypted with a BEK alone (it needs BEK and KEK)");
		if (kv_b64_decode(value, 0, &bek, &len) != 0 || len == 0) {
			st = BDE_EPROTO;
			finding_f(finding, arg, KV_LEVEL_FAIL, "its value is not "
			    "the standard base64 of a .BEK file");
			goto out;
		}
	} else {
		finding_f(finding, arg, KV_LEVEL_OK, "BEK and KEK (Wrapped "
		    "BEK, %s)", b->alg ? b->alg : "RSA-OAEP by default");
		st = kek_choose(b, &kid, &err);
		notes_out(b, &done, finding, arg);
		if (st != BDE_OK) {
			finding_f(finding, arg, KV_LEVEL_FAIL, "KEK: %s", err);
			goto out;
		}
		chosen = kv_objid_url(&kid, "keys");
		same = chosen != NULL && kv_url_same(chosen, b->kek_tag);
		free(chosen);
		if (b->kek_from_arm && b->kek_tag != NULL)
			finding_f(finding, arg, same ? KV_LEVEL_OK :
			    KV_LEVEL_WARN, "the KEK version ARM names %s the "
			    "one the secret's tag names", same ? "is" :
			    "is NOT");
		else if (b->kek_tag != NULL)
			finding_f(finding, arg, KV_LEVEL_OK, "the KEK is the "
			    "secret's tag's (versioned)");
		st = key_get(kv, &kid, &enabled, &err);
		if (st != BDE_OK) {
			finding_f(finding, arg, KV_LEVEL_FAIL, "KEK: %s", err);
			goto out;
		}
		finding_f(finding, arg, enabled == 0 ? KV_LEVEL_FAIL :
		    KV_LEVEL_OK, "KEK %s/%s in %s: present, %s", kid.name,
		    kid.version, kid.origin, enabled == 0 ? "DISABLED" :
		    "enabled");
		if (enabled == 0) {
			st = BDE_EPERM;
			goto out;
		}
		st = unwrap(kv, b, &kid, value, &bek, &len, &err);
		if (st != BDE_OK) {
			finding_f(finding, arg, KV_LEVEL_FAIL, "unwrap: %s", err);
			goto out;
		}
		finding_f(finding, arg, KV_LEVEL_OK, "unwrap with %s/%s: this "
		    "KEK version wrapped this secret", kid.name, kid.version);
	}
	notes_out(b, &done, finding, arg);
	check_header(b, bek, len);
	if (b->nnotes > done)
		finding(arg, KV_LEVEL_WARN, b->notes[done++]);
	else
		finding_f(finding, arg, KV_LEVEL_OK, ".BEK: %zu bytes, a "
		    "BitLocker external key%s", len, b->key_id[0] ? " whose "
		    "header names the secret" : "");
out:
	/* the key was proved, never kept */
	kv_bytes_free(bek, len);
	http_response_release(&rs);
	free(err);
	return st;
}
