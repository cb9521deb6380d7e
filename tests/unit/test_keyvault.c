/*
 * test_keyvault.c - keyvault/'s pure handlers, table-driven: origins and
 * Key Vault object URLs (":443", case, trailing "/"), the vault's 401
 * challenge (only the configured resource or a parent domain of the host
 * gets a token), base64 in both alphabets, the .BEK header check, ARM's VM
 * and disk documents, error bodies with innererror turned into what is
 * missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cJSON.h>

#include "keyvault/kv_int.h"

static const struct origin_case {
	const char *url, *origin;	/* origin NULL: refused */
} origin_cases[] = {
	{ "https://contoso.vault.azure.net", "https://contoso.vault.azure.net" },
	{ "https://Contoso.Vault.Azure.NET:443/secrets/x",
	  "https://contoso.vault.azure.net" },
	{ "HTTPS://h:8443/", "https://h:8443" },
	{ "https://127.77.0.10:443?x", "https://127.77.0.10" },
	{ "https://h:4430", "https://h:4430" },
	{ "http://h/secrets/x", NULL },
	{ "https://user@h/secrets/x", NULL },
	{ "https://h:/x", NULL },
	{ "https://h:123456/x", NULL },
	{ "https://:443/x", NULL },
	{ "https:///x", NULL },
	{ "https://h:44x/", NULL },
	{ "https://[::1]/x", NULL },
};

static void
test_origins(void **state)
{
	char out[KV_ORIGIN_MAX];
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(origin_cases) / sizeof(origin_cases[0]); i++) {
		const struct origin_case *c = &origin_cases[i];

		r = kv_origin_norm(c->url, out, sizeof(out));
		if (c->origin == NULL) {
			if (r != -1)
				fail_msg("%s: accepted as %s", c->url, out);
			continue;
		}
		if (r != 0 || strcmp(out, c->origin) != 0)
			fail_msg("%s: expected %s, got %s", c->url, c->origin,
			    r == 0 ? out : "(refused)");
	}
}

static const struct objid_case {
	const char *url, *kind, *origin, *name, *version;	/* NULL: refused */
} objid_cases[] = {
	{ "https://v.vault.azure.net/secrets/4381F759-C4F8-4DE0-BB61-"
	  "FC33A831BDA5/4163CEBC070CD9C669C168476D8BBBD3", "secrets",
	  "https://v.vault.azure.net", "4381F759-C4F8-4DE0-BB61-FC33A831BDA5",
	  "4163cebc070cd9c669c168476d8bbbd3" },
	{ "https://v:443/keys/ade-kek/", "keys", "https://v", "ade-kek", "" },
	{ "https://v/KEYS/k/0123456789abcdef0123456789abcdef/", "keys",
	  "https://v", "k", "0123456789abcdef0123456789abcdef" },
	{ "https://v/secrets/a", "secrets", "https://v", "a", "" },
	{ "https://v/secrets/a", "keys", NULL, NULL, NULL },
	{ "https://v/secrets", "secrets", NULL, NULL, NULL },
	{ "https://v/secrets/a/short", "secrets", NULL, NULL, NULL },
	{ "https://v/secrets/a/0123456789abcdef0123456789abcdeg", "secrets",
	  NULL, NULL, NULL },
	{ "https://v/secrets/a/0123456789abcdef0123456789abcdef/x",
	  "secrets", NULL, NULL, NULL },
	{ "https://v/secrets/a?api-version=7.4", "secrets", NULL, NULL, NULL },
	{ "https://v/secrets/a_b", "secrets", NULL, NULL, NULL },
	{ "https://v/secrets//a", "secrets", NULL, NULL, NULL },
	{ "https://v/x/secrets/a", "secrets", NULL, NULL, NULL },
	{ "https://v/secrets/../keys/k", "secrets", NULL, NULL, NULL },
};

static void
test_objids(void **state)
{
	struct kv_objid id;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(objid_cases) / sizeof(objid_cases[0]); i++) {
		const struct objid_case *c = &objid_cases[i];

		r = kv_objid_parse(c->url, c->kind, &id);
		if (c->origin == NULL) {
			if (r != -1)
				fail_msg("%s: accepted", c->url);
			continue;
		}
		if (r != 0 || strcmp(id.origin, c->origin) != 0 ||
		    strcmp(id.name, c->name) != 0 ||
		    strcmp(id.version, c->version) != 0)
			fail_msg("%s: got %d %s %s %s", c->url, r, id.origin,
			    id.name, id.version);
	}
}

static void
test_url_same(void **state)
{
	(void)state;
	/* ARM's URL, the tag's with :443, case, trailing slash */
	assert_true(kv_url_same("https://V.vault.azure.net/keys/ADE-KEK/ab",
	    "https://v.vault.azure.net:443/keys/ade-kek/ab/"));
	assert_true(kv_url_same("https://v/keys/k/ab?api-version=7.4",
	    "https://v/keys/k/ab"));
	assert_false(kv_url_same("https://v/keys/k/ab", "https://v/keys/k/ac"));
	assert_false(kv_url_same("https://v/keys/k/ab", "https://w/keys/k/ab"));
	assert_false(kv_url_same("https://v:8443/keys/k", "https://v/keys/k"));
	assert_false(kv_url_same("http://v/keys/k", "http://v/keys/k"));
	assert_false(kv_url_same(NULL, "https://v/keys/k"));
}

static const struct challenge_case {
	const char *origin, *www, *resource;	/* resource NULL: refused */
} challenge_cases[] = {
	{ "https://contoso.vault.azure.net", "Bearer authorization=\"https://"
	  "login.windows.net/t\", resource=\"https://vault.azure.net\"",
	  "https://vault.azure.net" },
	/* a trailing slash and case: the same resource */
	{ "https://127.77.0.10", "Bearer authorization=\"x\", resource="
	  "\"HTTPS://Vault.Azure.Net/\"", "https://vault.azure.net" },
	/* scope wins over resource, permission dropped */
	{ "https://127.77.0.10", "Bearer authorization_uri=\"x\", resource="
	  "\"https://evil.example\", scope=\"https://vault.azure.net/.default\"",
	  "https://vault.azure.net" },
	/* another cloud: a parent domain of the vault's host */
	{ "https://v.vault.azure.cn", "Bearer resource=\"https://vault.azure"
	  ".cn\"", "https://vault.azure.cn" },
	{ "https://a.b.vault.usgovcloudapi.net:8443", "Bearer resource=\"https"
	  "://vault.usgovcloudapi.net\"", "https://vault.usgovcloudapi.net" },
	/* foreign: no token */
	{ "https://127.77.0.10", "Bearer resource=\"https://vault.attacker"
	  ".example\"", NULL },
	{ "https://contoso.vault.azure.net", "Bearer resource=\"https://"
	  "evilvault.azure.net\"", NULL },
	{ "https://contoso.vault.azure.net", "Bearer resource=\"https://"
	  "contoso.vault.azure.net\"", NULL },
	{ "https://contoso.vault.azure.net", "Bearer resource=\"https://"
	  "vault.azure.net/x\"", NULL },
	{ "https://contoso.vault.azure.net", "Bearer resource=\"https://net\"",
	  NULL },
	{ "https://contoso.vault.azure.net", "Bearer resource=\"http://vault"
	  ".azure.net.\"", NULL },
	{ "https://contoso.vault.azure.net", "Bearer authorization=\"x\"",
	  NULL },
	{ "https://contoso.vault.azure.net", "Basic realm=\"x\"", NULL },
	{ "https://contoso.vault.azure.net", "", NULL },
};

static void
test_challenges(void **state)
{
	char res[512], *err;
	size_t i;
	enum bde_status st;

	(void)state;
	for (i = 0; i < sizeof(challenge_cases) / sizeof(challenge_cases[0]);
	    i++) {
		const struct challenge_case *c = &challenge_cases[i];

		err = NULL;
		st = kv_challenge_check("https://vault.azure.net", c->origin,
		    c->www, res, sizeof(res), &err);
		if (c->resource == NULL) {
			if (st != BDE_EAUTH || err == NULL ||
			    strstr(err, "no token was sent") == NULL)
				fail_msg("%s: accepted (%s)", c->www, res);
		} else if (st != BDE_OK || strcmp(res, c->resource) != 0) {
			fail_msg("%s: expected %s, got %s (%s)", c->www,
			    c->resource, res, err ? err : "");
		}
		free(err);
	}
}

static const struct b64_case {
	const char *in;
	int url;
	const char *out;	/* NULL: refused */
	size_t len;
} b64_cases[] = {
	{ "", 0, "", 0 },
	{ "TWFu", 0, "Man", 3 },
	{ "TWE=", 0, "Ma", 2 },
	{ "TWE", 0, "Ma", 2 },
	{ "TQ==", 0, "M", 1 },
	{ "+/8=", 0, "\xfb\xff", 2 },
	{ "-_8", 1, "\xfb\xff", 2 },
	{ "-_8", 0, NULL, 0 },		/* base64url is not standard */
	{ "+/8", 1, NULL, 0 },		/* and the other way round */
	{ "TWE==", 0, NULL, 0 },	/* too much padding */
	{ "T===", 0, NULL, 0 },
	{ "TQ=a", 0, NULL, 0 },		/* padding inside */
	{ "TR==", 0, NULL, 0 },		/* non-zero unused bits */
	{ "TWFu\n", 0, NULL, 0 },
	{ "T", 0, NULL, 0 },
};

static void
test_base64(void **state)
{
	uint8_t *out;
	size_t len, i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		const struct b64_case *c = &b64_cases[i];

		r = kv_b64_decode(c->in, c->url, &out, &len);
		if (c->out == NULL) {
			if (r != -1 || out != NULL)
				fail_msg("'%s' (url %d) accepted", c->in, c->url);
			continue;
		}
		if (r != 0 || len != c->len || memcmp(out, c->out, len) != 0)
			fail_msg("'%s' (url %d): %d, %zu bytes", c->in, c->url,
			    r, len);
		kv_bytes_free(out, len);
	}
}

/* A .BEK header: size, version, header size, GUID 4381F759-... */
static void
bek_header(uint8_t b[156])
{
	static const uint8_t guid_ms[16] = { 0x59, 0xf7, 0x81, 0x43, 0xf8,
		0xc4, 0xe0, 0x4d, 0xbb, 0x61, 0xfc, 0x33, 0xa8, 0x31, 0xbd,
		0xa5 };

	memset(b, 0, 156);
	b[0] = 156;
	b[4] = 1;
	b[8] = 48;
	b[12] = 156;
	memcpy(b + 16, guid_ms, 16);
}

static void
test_bek_header(void **state)
{
	const char *id = "4381F759-C4F8-4DE0-BB61-FC33A831BDA5";
	uint8_t b[156];
	char why[200];

	(void)state;
	bek_header(b);
	assert_int_equal(kv_bek_header_check(b, sizeof(b), id, why,
	    sizeof(why)), 0);
	assert_string_equal(why, "");
	/* the name in lower case is the same GUID */
	assert_int_equal(kv_bek_header_check(b, sizeof(b),
	    "4381f759-c4f8-4de0-bb61-fc33a831bda5", why, sizeof(why)), 0);
	assert_int_equal(kv_bek_header_check(b, sizeof(b),
	    "6E15ED15-9DF7-4953-8113-A229F78758F2", why, sizeof(why)), 1);
	assert_non_null(strstr(why, "names protector 4381F759-C4F8-4DE0-BB61-"
	    "FC33A831BDA5, not 6E15ED15"));
	assert_int_equal(kv_bek_header_check(b, 155, id, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "says 156 bytes, it has 155"));
	b[4] = 2;
	b[8] = 40;
	assert_int_equal(kv_bek_header_check(b, sizeof(b), id, why,
	    sizeof(why)), 2);
	assert_non_null(strstr(why, "version 2"));
	assert_int_equal(kv_bek_header_check(b, 47, "", why, sizeof(why)), 1);
	assert_non_null(strstr(why, "shorter than a .BEK header"));
	assert_int_equal(kv_bek_header_check(NULL, 0, "", why, 1), 1);
	assert_string_equal(why, "");
}

static void
test_arm_documents(void **state)
{
	struct kv_ade a;
	cJSON *doc;

	(void)state;
	/* dual pass: on the VM */
	doc = cJSON_Parse("{\"id\":\"/subscriptions/s/x\",\"properties\":{"
	    "\"osProfile\":{\"computerName\":\"WIN-ADE01\"},\"storageProfile\":"
	    "{\"osDisk\":{\"managedDisk\":{\"id\":\"/subscriptions/s/d\"},"
	    "\"encryptionSettings\":{\"enabled\":true,\"diskEncryptionKey\":{"
	    "\"secretUrl\":\"https://v/secrets/a/b\"},\"keyEncryptionKey\":{"
	    "\"keyUrl\":\"https://v/keys/k/c\"}}}}}}");
	assert_int_equal(kv_vm_parse(doc, &a, NULL), BDE_OK);
	assert_true(a.dual);
	assert_string_equal(a.secret_url, "https://v/secrets/a/b");
	assert_string_equal(a.key_url, "https://v/keys/k/c");
	assert_string_equal(a.computer, "WIN-ADE01");
	assert_int_equal(a.enabled, 1);
	cJSON_Delete(doc);
	/* single pass: nothing on the VM, the disk's collection */
	doc = cJSON_Parse("{\"properties\":{\"storageProfile\":{\"osDisk\":{"
	    "\"managedDisk\":{\"id\":\"/subscriptions/s/d\"}}}}}");
	assert_int_equal(kv_vm_parse(doc, &a, NULL), BDE_OK);
	assert_false(a.dual);
	assert_null(a.secret_url);
	assert_string_equal(a.disk_id, "/subscriptions/s/d");
	cJSON_Delete(doc);
	doc = cJSON_Parse("{\"properties\":{\"encryptionSettingsCollection\":{"
	    "\"enabled\":false,\"encryptionSettings\":[{\"keyEncryptionKey\":{"
	    "\"keyUrl\":\"https://v/keys/x/y\"}},{\"diskEncryptionKey\":{"
	    "\"secretUrl\":\"https://v/secrets/a/b\"}}],"
	    "\"encryptionSettingsVersion\":\"1.1\"}}}");
	assert_int_equal(kv_disk_parse(doc, &a, NULL), BDE_OK);
	assert_string_equal(a.secret_url, "https://v/secrets/a/b");
	assert_null(a.key_url);		/* not the entry without a secret's */
	assert_int_equal(a.enabled, 0);
	assert_int_equal(a.count, 2);
	cJSON_Delete(doc);
	assert_int_equal(kv_disk_parse(NULL, &a, NULL), BDE_EPROTO);
	/* disk ids become URL paths */
	assert_true(kv_arm_path_ok("/subscriptions/s/resourceGroups/RG-VMS/"
	    "providers/Microsoft.Compute/disks/vm_OsDisk_1_8c41"));
	assert_false(kv_arm_path_ok("/subscriptions/s/../x"));
	assert_false(kv_arm_path_ok("/subscriptions/s/d?x=1"));
	assert_false(kv_arm_path_ok("https://evil/subscriptions/s"));
	assert_false(kv_arm_path_ok("/subscriptions//s"));
}

static const struct fail_case {
	long status;
	const char *body;
	enum bde_status st;
	const char *has;
} fail_cases[] = {
	{ 403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Caller is not "
	  "authorized to perform action on resource.\\r\\nCaller: x\\r\\n"
	  "Action: 'Microsoft.KeyVault/vaults/keys/unwrap/action'\\r\\n"
	  "Resource: 'y'\\r\\n\",\"innererror\":{\"code\":\"ForbiddenByRbac\"}}}",
	  BDE_EPERM, "Forbidden/ForbiddenByRbac: Caller is not authorized to "
	  "perform action on resource. (the caller lacks the RBAC data action "
	  "'Microsoft.KeyVault/vaults/keys/unwrap/action' (Key Vault Crypto "
	  "User or Key Vault Crypto Service Encryption User grants it); "
	  "client-request-id rid)" },
	{ 403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"The user, "
	  "group or application 'appid=a' does not have secrets get permission "
	  "on key vault 'v;location=w'. For help\",\"innererror\":{\"code\":"
	  "\"AccessDenied\"}}}", BDE_EPERM,
	  "the vault's access policy does not give this caller 'secrets get'" },
	{ 403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Client address "
	  "is not authorized\\r\\nClient address: 1.2.3.4\",\"innererror\":{"
	  "\"code\":\"ForbiddenByFirewall\"}}}", BDE_EPERM,
	  "the vault's firewall refuses this client's address" },
	{ 403, "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation get "
	  "is not allowed on a disabled secret.\",\"innererror\":{\"code\":"
	  "\"SecretDisabled\"}}}", BDE_EPERM, "this secret version is disabled" },
	{ 429, "{\"error\":{\"code\":\"Throttled\",\"message\":\"Too many\"}}",
	  BDE_EUNREACH, "still throttled after the retries" },
	{ 404, "{\"error\":{\"code\":\"SecretNotFound\",\"message\":\"A "
	  "secret with (name/id) x was not found\"}}", BDE_ENOTFOUND,
	  "what: SecretNotFound: A secret" },
	{ 401, "{}", BDE_EAUTH, "what: HTTP 401 (client-request-id rid)" },
	{ 503, "not json", BDE_EUNREACH, "what: HTTP 503" },
	{ 400, "{\"error\":{\"code\":\"A\",\"innererror\":{\"code\":\"B\","
	  "\"innererror\":{\"code\":\"C\"}}}}", BDE_EPROTO, "what: A/B/C (" },
};

static void
test_fail(void **state)
{
	enum bde_status st;
	cJSON *doc;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fail_cases) / sizeof(fail_cases[0]); i++) {
		const struct fail_case *c = &fail_cases[i];

		doc = cJSON_Parse(c->body);
		err = NULL;
		st = kv_fail(c->status, doc, "rid", "what", &err);
		if (st != c->st || err == NULL || strstr(err, c->has) == NULL)
			fail_msg("%ld %s: %d '%s'", c->status, c->body, st,
			    err ? err : "");
		/* never a line break from the server in a message */
		if (strpbrk(err, "\r\n") != NULL)
			fail_msg("a line break in '%s'", err);
		free(err);
		cJSON_Delete(doc);
	}
}

static const struct vault_case {
	const char *vault, *cloud, *url;	/* url NULL: refused */
} vault_cases[] = {
	{ "contoso-ade", NULL, "https://contoso-ade.vault.azure.net" },
	{ "Contoso-ADE", "global", "https://contoso-ade.vault.azure.net" },
	{ "contoso", "china", "https://contoso.vault.azure.cn" },
	{ "contoso", "usgov", "https://contoso.vault.usgovcloudapi.net" },
	{ "contoso", "DoD", "https://contoso.vault.usgovcloudapi.net" },
	/* a URL is used as given, a path included, no trailing slash */
	{ "https://127.77.0.10/", NULL, "https://127.77.0.10" },
	{ "https://proxy.example/kv/contoso/", NULL,
	  "https://proxy.example/kv/contoso" },
	{ "http://contoso.vault.azure.net", NULL, NULL },
	{ "https://v/?x", NULL, NULL },
	{ "no_such vault", NULL, NULL },
	{ "ab", NULL, NULL },
	{ "1contoso", NULL, NULL },
	{ "contoso", "mars", NULL },
};

/* The one table of clouds Graph and Key Vault both read (identity/). */
static void
test_clouds(void **state)
{
	const struct id_cloud *c;

	(void)state;
	c = id_cloud_find(NULL);
	assert_non_null(c);
	assert_string_equal(c->name, "global");
	assert_string_equal(c->graph, "https://graph.microsoft.com");
	assert_string_equal(c->login, "https://login.microsoftonline.com");
	c = id_cloud_find("DoD");
	assert_non_null(c);
	assert_string_equal(c->graph, "https://dod-graph.microsoft.us");
	assert_string_equal(c->arm, "https://management.usgovcloudapi.net");
	c = id_cloud_find("china");
	assert_non_null(c);
	assert_string_equal(c->vault_suffix, ".vault.azure.cn");
	assert_string_equal(c->graph, "https://microsoftgraph.chinacloudapi.cn");
	assert_non_null(id_cloud_find("USGOV"));
	assert_null(id_cloud_find("mars"));
	assert_null(id_cloud_find(""));
}

static void
test_vault_names(void **state)
{
	struct kv_settings s;
	struct kv *kv;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vault_cases) / sizeof(vault_cases[0]); i++) {
		const struct vault_case *c = &vault_cases[i];

		memset(&s, 0, sizeof(s));
		s.tenant = "contoso.test";
		s.client_id = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
		s.vault = c->vault;
		s.cloud = c->cloud;
		err = NULL;
		kv = NULL;
		if (kv_open(&s, &kv, &err) != BDE_OK) {
			if (c->url != NULL)
				fail_msg("%s: %s", c->vault, err);
		} else if (c->url == NULL) {
			fail_msg("%s: accepted as %s", c->vault,
			    kv_vault_url(kv));
		} else if (strcmp(kv_vault_url(kv), c->url) != 0) {
			fail_msg("%s: %s, not %s", c->vault, kv_vault_url(kv),
			    c->url);
		}
		free(err);
		kv_close(kv);
	}
	/* no tenant: said */
	memset(&s, 0, sizeof(s));
	err = NULL;
	assert_int_equal(kv_open(&s, &kv, &err), BDE_ECONFIG);
	assert_non_null(strstr(err, "no Entra tenant"));
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origins),
		cmocka_unit_test(test_objids),
		cmocka_unit_test(test_url_same),
		cmocka_unit_test(test_challenges),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_bek_header),
		cmocka_unit_test(test_arm_documents),
		cmocka_unit_test(test_fail),
		cmocka_unit_test(test_clouds),
		cmocka_unit_test(test_vault_names),
	};

	return cmocka_run_group_tests_name("keyvault", tests, NULL, NULL);
}
