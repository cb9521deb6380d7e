/*
 * fuzz_keyvault.c - libFuzzer target for every handler of what Key Vault
 * and Azure Resource Manager send back (keyvault/), without I/O.  The
 * first input byte picks the handler, the rest is its input:
 *
 *   0  secret list page      kv_page_parse + kv_item_parse + kv_bek_take
 *   1  secret get            kv_item_parse + kv_bek_take + base64
 *   2  unwrap answer         kv_unwrap_parse
 *   3  VM document           kv_vm_parse (+ the URLs and disk id in it)
 *   4  disk document         kv_disk_parse (+ the URLs in it)
 *   5  error body            kv_fail
 *   6  .BEK header           kv_bek_header_check
 *   7  URLs                  kv_objid_parse, kv_origin_norm, kv_url_same
 *   8  WWW-Authenticate      kv_challenge_check
 *   9  base64, both          kv_b64_decode
 *
 * Properties beyond "no crash, no undefined behaviour": a parsed object
 * URL has a valid name and a version of 32 lower-case hex digits or none,
 * and its rebuilt URL parses to the same; a normalised origin is https://,
 * lower case, without ":443"; a URL is the same as itself; a record's
 * key ID is empty or a canonical GUID; decoded base64 is at most 3/4 of
 * its text; a failed answer always has a message; an accepted challenge
 * names the configured resource or a parent domain of the vault's host;
 * messages are always NUL-terminated inside their buffers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keyvault/kv_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cJSON *
parse(const uint8_t *p, size_t n)
{
	return cJSON_ParseWithLength((const char *)p, n);
}

/* A NUL-terminated copy of the input, for the string handlers. */
static char *
text(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void
check_objid(const char *url, const char *kind)
{
	struct kv_objid id, again;
	char *back;
	size_t i;

	if (kv_objid_parse(url, kind, &id) < 0)
		return;
	if (strncmp(id.origin, "https://", 8) != 0 || id.name[0] == '\0')
		abort();
	for (i = 0; id.name[i] != '\0'; i++)
		if (!((id.name[i] >= 'a' && id.name[i] <= 'z') ||
		    (id.name[i] >= 'A' && id.name[i] <= 'Z') ||
		    (id.name[i] >= '0' && id.name[i] <= '9') ||
		    id.name[i] == '-'))
			abort();
	if (id.version[0] != '\0') {
		if (strlen(id.version) != KV_VERSION_LEN)
			abort();
		for (i = 0; i < KV_VERSION_LEN; i++)
			if (!((id.version[i] >= '0' && id.version[i] <= '9') ||
			    (id.version[i] >= 'a' && id.version[i] <= 'f')))
				abort();
	}
	/* the rebuilt URL is the same object */
	back = kv_objid_url(&id, kind);
	if (back == NULL)
		abort();
	if (kv_objid_parse(back, kind, &again) < 0 ||
	    strcmp(again.origin, id.origin) != 0 ||
	    strcmp(again.name, id.name) != 0 ||
	    strcmp(again.version, id.version) != 0 || !kv_url_same(back, url))
		abort();
	free(back);
}

static void
check_bek(const struct kv_bek *b)
{
	uint8_t g[16];

	if (b->key_id[0] != '\0' && (strlen(b->key_id) != BDE_GUID_LEN ||
	    bde_guid_parse(b->key_id, g) < 0))
		abort();
	if (b->secret_url != NULL)
		check_objid(b->secret_url, "secrets");
	if (b->version != NULL && strlen(b->version) != KV_VERSION_LEN)
		abort();
}

static void
list_page(const uint8_t *p, size_t n)
{
	struct kv_item it;
	struct kv_bek b;
	const cJSON *value, *e;
	const char *next;
	cJSON *doc = parse(p, n);
	char *err = NULL;

	if (kv_page_parse(doc, &value, &next, &err) == BDE_OK) {
		if (next != NULL && next[0] == '\0')
			abort();
		cJSON_ArrayForEach(e, value) {
			if (kv_item_parse(e, &it, NULL) != BDE_OK)
				continue;
			memset(&b, 0, sizeof(b));
			if (kv_bek_take(&b, &it, NULL) == BDE_OK)
				check_bek(&b);
			kv_bek_release(&b);
		}
	} else if (err == NULL) {
		abort();
	}
	free(err);
	cJSON_Delete(doc);
}

static void
b64(const char *s, int url)
{
	uint8_t *out = NULL;
	size_t len = 0;
	int r = kv_b64_decode(s, url, &out, &len);

	if (r == 0 && len > strlen(s) / 4 * 3 + 2)
		abort();
	if (r != 0 && out != NULL)
		abort();
	kv_bytes_free(out, len);
}

static void
secret_get(const uint8_t *p, size_t n)
{
	struct kv_item it;
	struct kv_bek b;
	cJSON *doc = parse(p, n);
	char why[64];

	memset(&b, 0, sizeof(b));
	if (kv_item_parse(doc, &it, NULL) == BDE_OK &&
	    kv_bek_take(&b, &it, NULL) == BDE_OK) {
		check_bek(&b);
		if (it.value != NULL) {
			b64(it.value, 0);
			b64(it.value, 1);
		}
		if (b.kek_tag != NULL)
			check_objid(b.kek_tag, "keys");
		kv_bek_header_check((const uint8_t *)p, n, b.key_id, why,
		    sizeof(why));
	}
	kv_bek_release(&b);
	cJSON_Delete(doc);
}

static void
unwrap_answer(const uint8_t *p, size_t n)
{
	cJSON *doc = parse(p, n);
	const char *kid;
	uint8_t *out;
	size_t len;

	if (kv_unwrap_parse(doc, &out, &len, &kid, NULL) == BDE_OK) {
		if (out == NULL || len == 0)
			abort();
		if (kid != NULL)
			check_objid(kid, "keys");
		kv_bytes_free(out, len);
	} else if (out != NULL) {
		abort();
	}
	cJSON_Delete(doc);
}

static void
arm_doc(const uint8_t *p, size_t n, int vm)
{
	struct kv_ade a;
	cJSON *doc = parse(p, n);

	if ((vm ? kv_vm_parse(doc, &a, NULL) : kv_disk_parse(doc, &a,
	    NULL)) == BDE_OK) {
		if (a.secret_url != NULL)
			check_objid(a.secret_url, "secrets");
		if (a.key_url != NULL)
			check_objid(a.key_url, "keys");
		if (a.secret_url == NULL && a.key_url != NULL && !vm)
			abort();
		if (a.dual && a.secret_url == NULL)
			abort();
		if (a.disk_id != NULL)
			(void)kv_arm_path_ok(a.disk_id);
	}
	cJSON_Delete(doc);
}

static void
error_body(const uint8_t *p, size_t n)
{
	static const long statuses[] = { 400, 401, 403, 404, 409, 429, 500,
		503 };
	cJSON *doc;
	char *err = NULL;
	enum bde_status st;

	if (n == 0)
		return;
	doc = parse(p + 1, n - 1);
	st = kv_fail(statuses[p[0] % 8], doc, "rid", "fuzz", &err);
	if (st == BDE_OK || err == NULL)
		abort();
	free(err);
	cJSON_Delete(doc);
}

static void
bek_header(const uint8_t *p, size_t n)
{
	static const char *const ids[] = { "",
		"4381F759-C4F8-4DE0-BB61-FC33A831BDA5", "not a guid" };
	char small[3], why[200];
	size_t i;
	int r;

	for (i = 0; i < 3; i++) {
		memset(small, 'x', sizeof(small));
		r = kv_bek_header_check(p, n, ids[i], small, sizeof(small));
		if (r < 0 || memchr(small, '\0', sizeof(small)) == NULL)
			abort();
		r = kv_bek_header_check(p, n, ids[i], why, sizeof(why));
		if (r < 0 || (r > 0) != (why[0] != '\0'))
			abort();
	}
}

/* Lines of the input as URLs. */
static void
urls(const uint8_t *p, size_t n)
{
	char *s = text(p, n), *line, *save = NULL, *prev = NULL, o[KV_ORIGIN_MAX];

	for (line = strtok_r(s, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		check_objid(line, "secrets");
		check_objid(line, "keys");
		if (kv_origin_norm(line, o, sizeof(o)) == 0) {
			if (strncmp(o, "https://", 8) != 0 ||
			    strlen(o) < 9 ||
			    (strlen(o) > 4 && strcmp(o + strlen(o) - 4,
			    ":443") == 0))
				abort();
			if (!kv_url_same(line, line))
				abort();
		}
		if (prev != NULL && kv_url_same(prev, line) !=
		    kv_url_same(line, prev))
			abort();
		(void)kv_arm_path_ok(line);
		prev = line;
	}
	free(s);
}

static void
challenge(const uint8_t *p, size_t n)
{
	static const char *const origins[] = { "https://contoso.vault.azure.net",
		"https://127.77.0.10", "https://a.b.vault.azure.cn:8443" };
	char *s = text(p, n), res[512], tiny[8];
	const char *o;
	size_t i, rl, ol;

	for (i = 0; i < 3; i++) {
		o = origins[i];
		if (kv_challenge_check("https://vault.azure.net", o, s, res,
		    sizeof(res), NULL) == BDE_OK) {
			/* the configured resource, or a parent domain of o */
			rl = strlen(res);
			ol = strcspn(o + 8, ":");
			if (strcmp(res, "https://vault.azure.net") != 0 &&
			    (rl <= 8 || ol <= rl - 8 ||
			    o[8 + ol - (rl - 8) - 1] != '.' ||
			    strncasecmp(o + 8 + ol - (rl - 8), res + 8,
			    rl - 8) != 0))
				abort();
		}
		memset(tiny, 'x', sizeof(tiny));
		(void)kv_challenge_check("https://vault.azure.net", o, s, tiny,
		    sizeof(tiny), NULL);
		if (memchr(tiny, '\0', sizeof(tiny)) == NULL)
			abort();
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size == 0)
		return 0;
	switch (data[0] % 10) {
	case 0:
		list_page(data + 1, size - 1);
		break;
	case 1:
		secret_get(data + 1, size - 1);
		break;
	case 2:
		unwrap_answer(data + 1, size - 1);
		break;
	case 3:
		arm_doc(data + 1, size - 1, 1);
		break;
	case 4:
		arm_doc(data + 1, size - 1, 0);
		break;
	case 5:
		error_body(data + 1, size - 1);
		break;
	case 6:
		bek_header(data + 1, size - 1);
		break;
	case 7:
		urls(data + 1, size - 1);
		break;
	case 8:
		challenge(data + 1, size - 1);
		break;
	case 9:
		s = text(data + 1, size - 1);
		b64(s, 0);
		b64(s, 1);
		free(s);
		break;
	}
	return 0;
}
