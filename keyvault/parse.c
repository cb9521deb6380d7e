/*
 * parse.c - the pure handlers of what Key Vault and ARM send (secret
 * items, list pages, unwrap answers, VM and disk documents), Key Vault
 * URLs taken apart and compared, base64 in both alphabets, and the .BEK
 * header check.  No I/O; every input is hostile (tests/fuzz).
 */
#include "keyvault/kv_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A string tag of tags, or NULL. */
static const char *
tag(const cJSON *tags, const char *name)
{
	return bde_json_string(tags, name);
}

enum bde_status
kv_item_parse(const cJSON *obj, struct kv_item *it, char **errstr)
{
	const cJSON *attr, *tags, *en;
	long long v;

	memset(it, 0, sizeof(*it));
	it->enabled = -1;
	it->id = bde_json_string(obj, "id");
	if (it->id == NULL || it->id[0] == '\0')
		return bde_error(errstr, BDE_EPROTO, "a secret without an id");
	it->content_type = bde_json_string(obj, "contentType");
	it->value = bde_json_string(obj, "value");
	tags = cJSON_GetObjectItemCaseSensitive(obj, "tags");
	if (cJSON_IsObject(tags)) {
		it->machine = tag(tags, "MachineName");
		it->volume = tag(tags, "VolumeLetter");
		it->file_name = tag(tags, "DiskEncryptionKeyFileName");
		it->alg = tag(tags, "DiskEncryptionKeyEncryptionAlgorithm");
		it->kek_url = tag(tags, "DiskEncryptionKeyEncryptionKeyURL");
	}
	attr = cJSON_GetObjectItemCaseSensitive(obj, "attributes");
	if (cJSON_IsObject(attr)) {
		en = cJSON_GetObjectItemCaseSensitive(attr, "enabled");
		if (cJSON_IsBool(en))
			it->enabled = cJSON_IsTrue(en);
		/* Unix seconds; up to the year 9999 */
		if (bde_json_number(attr, "created", 0, 253402300799LL, &v) ==
		    BDE_NUM_OK)
			it->created = v;
		if (bde_json_number(attr, "updated", 0, 253402300799LL, &v) ==
		    BDE_NUM_OK)
			it->updated = v;
	}
	return BDE_OK;
}

enum bde_status
kv_page_parse(const cJSON *doc, const cJSON **value, const char **next,
    char **errstr)
{
	const cJSON *n;

	*value = NULL;
	*next = NULL;
	if (!cJSON_IsObject(doc))
		return bde_error(errstr, BDE_EPROTO, "the answer has no JSON "
		    "body");
	*value = cJSON_GetObjectItemCaseSensitive(doc, "value");
	if (!cJSON_IsArray(*value)) {
		*value = NULL;
		return bde_error(errstr, BDE_EPROTO, "the answer has no value "
		    "list");
	}
	n = cJSON_GetObjectItemCaseSensitive(doc, "nextLink");
	if (n == NULL || cJSON_IsNull(n))
		return BDE_OK;
	if (!cJSON_IsString(n) || n->valuestring[0] == '\0') {
		*value = NULL;
		return bde_error(errstr, BDE_EPROTO, "refusing to follow a bad "
		    "nextLink");
	}
	*next = n->valuestring;
	return BDE_OK;
}

int
kv_origin_norm(const char *url, char *out, size_t len)
{
	const char *h;
	size_t n, i, host;

	if (len < 9 || url == NULL || strncasecmp(url, "https://", 8) != 0)
		return -1;
	h = url + 8;
	n = strcspn(h, "/?#");
	if (n == 0 || n + 9 > len)
		return -1;
	/* host[:port]: a DNS name or an IPv4 address; no user info */
	host = strcspn(h, ":/?#");
	if (host == 0)
		return -1;
	memcpy(out, "https://", 8);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (i < host ? !isalnum(c) && c != '.' && c != '-' :
		    i == host ? c != ':' : !isdigit(c))
			return -1;
		out[8 + i] = (char)tolower(c);
	}
	out[8 + n] = '\0';
	if (host < n && (n - host < 2 || n - host > 6))
		return -1;	/* ":" alone, or more than 5 digits */
	/* https's own port is no port: "host:443" is "host" */
	if (host < n && strcmp(out + 8 + host, ":443") == 0)
		out[8 + host] = '\0';
	return 0;
}

/* Whether s is a Key Vault object name: 1-127 letters, digits, dashes. */
static int
name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > KV_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int
kv_objid_parse(const char *url, const char *kind, struct kv_objid *out)
{
	const char *p, *seg[4];
	size_t len[4], k = 0, n;

	memset(out, 0, sizeof(*out));
	if (kv_origin_norm(url, out->origin, sizeof(out->origin)) < 0)
		return -1;
	p = url + 8 + strcspn(url + 8, "/?#");
	if (strpbrk(p, "?#") != NULL)
		return -1;
	/* segments after the origin; one trailing "/" allowed */
	while (*p == '/') {
		p++;
		if (*p == '\0')
			break;
		if (k == 3)
			return -1;
		n = strcspn(p, "/");
		seg[k] = p;
		len[k++] = n;
		p += n;
		if (n == 0)
			return -1;	/* "//" inside */
	}
	if (*p != '\0' || k < 2)
		return -1;
	if (len[0] != strlen(kind) || strncasecmp(seg[0], kind, len[0]) != 0)
		return -1;
	if (!name_ok(seg[1], len[1]))
		return -1;
	memcpy(out->name, seg[1], len[1]);
	if (k == 3) {
		if (len[2] != KV_VERSION_LEN)
			return -1;
		for (n = 0; n < KV_VERSION_LEN; n++) {
			if (!isxdigit((unsigned char)seg[2][n]))
				return -1;
			out->version[n] = (char)tolower((unsigned char)seg[2][n]);
		}
	}
	return 0;
}

/* The path of url (after its origin) without query, fragment, trailing /. */
static const char *
path_of(const char *url, size_t *len)
{
	const char *p = url + 8 + strcspn(url + 8, "/?#");
	size_t n = strcspn(p, "?#");

	while (n > 0 && p[n - 1] == '/')
		n--;
	*len = n;
	return p;
}

int
kv_url_same(const char *a, const char *b)
{
	char oa[KV_ORIGIN_MAX], ob[KV_ORIGIN_MAX];
	const char *pa, *pb;
	size_t na, nb;

	if (a == NULL || b == NULL || kv_origin_norm(a, oa, sizeof(oa)) < 0 ||
	    kv_origin_norm(b, ob, sizeof(ob)) < 0 || strcmp(oa, ob) != 0)
		return 0;
	pa = path_of(a, &na);
	pb = path_of(b, &nb);
	return na == nb && strncasecmp(pa, pb, na) == 0;
}

/* The value of base64 digit c in the alphabet, or -1. */
static int
b64_value(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int
kv_b64_decode(const char *s, int url, uint8_t **out, size_t *len)
{
	size_t n = strlen(s), pad = 0, i, o = 0;
	uint32_t acc = 0;
	uint8_t *buf;
	int bits = 0, v;

	*out = NULL;
	*len = 0;
	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	/* padding, when present, completes the last group of four */
	if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
		return -1;
	buf = malloc(n / 4 * 3 + 3);
	if (buf == NULL)
		return -2;
	for (i = 0; i < n; i++) {
		v = b64_value((unsigned char)s[i], url);
		if (v < 0) {
			kv_bytes_free(buf, o);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* the unused low bits of the last digit are zero (RFC 4648 3.5) */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
		kv_bytes_free(buf, o);
		return -1;
	}
	explicit_bzero(&acc, sizeof(acc));
	*out = buf;
	*len = o;
	return 0;
}

enum bde_status
kv_unwrap_parse(const cJSON *doc, uint8_t **out, size_t *len,
    const char **kid, char **errstr)
{
	const char *v = bde_json_string(doc, "value");
	int r;

	*out = NULL;
	*len = 0;
	*kid = bde_json_string(doc, "kid");
	if (v == NULL)
		return bde_error(errstr, BDE_EPROTO, "the unwrap answer has no "
		    "value");
	r = kv_b64_decode(v, 1, out, len);
	if (r == -2)
		return bde_error(errstr, BDE_ENOMEM, "out of memory");
	if (r < 0 || *len == 0) {
		kv_bytes_free(*out, *len);
		*out = NULL;
		*len = 0;
		return bde_error(errstr, BDE_EPROTO, "the unwrap answer's value "
		    "is not base64url");
	}
	return BDE_OK;
}

/* obj.a.b... : the member at the path of names, or NULL. */
static const cJSON *
dig(const cJSON *obj, const char *const *path)
{
	for (; *path != NULL && obj != NULL; path++)
		obj = cJSON_IsObject(obj) ?
		    cJSON_GetObjectItemCaseSensitive(obj, *path) : NULL;
	return obj;
}

/* diskEncryptionKey.secretUrl and keyEncryptionKey.keyUrl of es. */
static void
settings_urls(const cJSON *es, struct kv_ade *out)
{
	static const char *const secret[] = { "diskEncryptionKey",
		"secretUrl", NULL };
	static const char *const key[] = { "keyEncryptionKey", "keyUrl",
		NULL };
	const cJSON *v;

	v = dig(es, secret);
	out->secret_url = cJSON_IsString(v) && v->valuestring[0] != '\0' ?
	    v->valuestring : NULL;
	v = dig(es, key);
	out->key_url = cJSON_IsString(v) && v->valuestring[0] != '\0' ?
	    v->valuestring : NULL;
}

enum bde_status
kv_vm_parse(const cJSON *doc, struct kv_ade *out, char **errstr)
{
	static const char *const osdisk[] = { "properties", "storageProfile",
		"osDisk", NULL };
	static const char *const disk_id[] = { "managedDisk", "id", NULL };
	static const char *const computer[] = { "properties", "osProfile",
		"computerName", NULL };
	const cJSON *od, *es, *v;

	memset(out, 0, sizeof(*out));
	out->enabled = -1;
	if (!cJSON_IsObject(doc))
		return bde_error(errstr, BDE_EPROTO, "the VM answer has no JSON "
		    "body");
	out->vm_id = bde_json_string(doc, "id");
	v = dig(doc, computer);
	out->computer = cJSON_IsString(v) ? v->valuestring : NULL;
	od = dig(doc, osdisk);
	if (!cJSON_IsObject(od))
		return BDE_OK;
	v = dig(od, disk_id);
	out->disk_id = cJSON_IsString(v) && v->valuestring[0] != '\0' ?
	    v->valuestring : NULL;
	/* dual pass (the AAD-app version 1.0) keeps them on the VM */
	es = cJSON_GetObjectItemCaseSensitive(od, "encryptionSettings");
	if (cJSON_IsObject(es)) {
		settings_urls(es, out);
		v = cJSON_GetObjectItemCaseSensitive(es, "enabled");
		if (cJSON_IsBool(v))
			out->enabled = cJSON_IsTrue(v);
		out->dual = out->secret_url != NULL;
		out->count = out->dual;
	}
	return BDE_OK;
}

enum bde_status
kv_disk_parse(const cJSON *doc, struct kv_ade *out, char **errstr)
{
	static const char *const coll[] = { "properties",
		"encryptionSettingsCollection", NULL };
	const cJSON *c, *list, *es, *v;

	memset(out, 0, sizeof(*out));
	out->enabled = -1;
	if (!cJSON_IsObject(doc))
		return bde_error(errstr, BDE_EPROTO, "the disk answer has no "
		    "JSON body");
	c = dig(doc, coll);
	if (!cJSON_IsObject(c))
		return BDE_OK;
	v = cJSON_GetObjectItemCaseSensitive(c, "enabled");
	if (cJSON_IsBool(v))
		out->enabled = cJSON_IsTrue(v);
	list = cJSON_GetObjectItemCaseSensitive(c, "encryptionSettings");
	if (!cJSON_IsArray(list))
		return BDE_OK;
	out->count = cJSON_GetArraySize(list);
	/* an OS disk has one entry; the first that names a secret */
	cJSON_ArrayForEach(es, list) {
		settings_urls(es, out);
		if (out->secret_url != NULL)
			break;
	}
	if (out->secret_url == NULL)
		out->key_url = NULL;
	return BDE_OK;
}

int
kv_arm_path_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n > 1024 || strncasecmp(id, "/subscriptions/", 15) != 0 ||
	    strstr(id, "..") != NULL || strstr(id, "//") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];

		if (!isalnum(c) && strchr("/._-()", c) == NULL)
			return 0;
	}
	return 1;
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

int
kv_bek_header_check(const uint8_t *bek, size_t len, const char *key_id,
    char *why, size_t whylen)
{
	uint8_t g[16], want[16];
	char id[BDE_GUID_LEN + 1];
	int bad = 0;

	if (whylen > 0)
		why[0] = '\0';
	/* the first problem is the one said */
#define PROBLEM(...) do { \
	if (bad++ == 0 && whylen > 0) \
		snprintf(why, whylen, __VA_ARGS__); \
} while (0)
	if (bek == NULL || len < 48) {
		PROBLEM("only %zu bytes: shorter than a .BEK header (48)", len);
		return bad;
	}
	if (le32(bek) != len)
		PROBLEM("its header says %lu bytes, it has %zu",
		    (unsigned long)le32(bek), len);
	if (le32(bek + 4) != 1)
		PROBLEM("its header says version %lu, not 1",
		    (unsigned long)le32(bek + 4));
	if (le32(bek + 8) != 48)
		PROBLEM("its header size is %lu, not 48",
		    (unsigned long)le32(bek + 8));
	if (key_id != NULL && key_id[0] != '\0') {
		/* MS-DTYP 2.3.4.2: stored mixed-endian */
		bde_guid_swap_ms(bek + 16, g);
		if (bde_guid_parse(key_id, want) < 0 ||
		    memcmp(g, want, sizeof(g)) != 0) {
			bde_guid_format(g, id);
			PROBLEM("its header names protector %s, not %s", id,
			    key_id);
		}
	}
#undef PROBLEM
	return bad;
}
