/*
 * test_graph_escape.c - the pure pieces of the Graph backend and its
 * HTTPS/identity layers: OData literals and percent-encoding, volumeType
 * in its three forms, createdDateTime, answers wrapped in "value",
 * base64url, the shape and signature of the JWT client assertion, the
 * GUIDs the HTTPS layer sends and the statuses it retries.
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
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "graph/graph_int.h"
#include "http/http.h"
#include "identity/jwt.h"

static void
test_odata_literal(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "LAPTOP-ALPHA", "'LAPTOP-ALPHA'" },
		{ "O'Brien-PC", "'O''Brien-PC'" },
		{ "''", "''''''" },
		{ "", "''" },
		{ "Zo\xc3\xab", "'Zo\xc3\xab'" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = graph_odata_literal(cases[i].in);
		assert_non_null(s);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

static void
test_percent_encoding(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "abcXYZ019-._~", "abcXYZ019-._~" },
		{ "a b", "a%20b" },
		{ "'&=+?#/%", "%27%26%3D%2B%3F%23%2F%25" },
		{ "Zo\xc3\xab-Laptop", "Zo%C3%AB-Laptop" },
		{ "\x01\x7f\xff", "%01%7F%FF" },
		{ "", "" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = http_escape(cases[i].in);
		assert_non_null(s);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

static void
test_filter_eq(void **state)
{
	char *s;

	(void)state;
	s = graph_filter_eq("displayName", "O'Brien-PC");
	assert_string_equal(s, "$filter=displayName%20eq%20%27O%27%27Brien-PC"
	    "%27");
	free(s);
	s = graph_filter_eq("displayName", "Zo\xc3\xab & co");
	assert_string_equal(s, "$filter=displayName%20eq%20%27Zo%C3%AB%20%26"
	    "%20co%27");
	free(s);
	/* a name cannot smuggle in a second query option */
	s = graph_filter_eq("displayName", "x'&$select=key&a='");
	assert_null(strchr(s + strlen("$filter="), '&'));
	assert_null(strchr(s + strlen("$filter="), '='));
	free(s);
}

static void
test_origin_and_label(void **state)
{
	char buf[64], *o;

	(void)state;
	o = http_origin("https://127.0.0.1:8443/graph/v1.0?x=1");
	assert_string_equal(o, "https://127.0.0.1:8443");
	free(o);
	o = http_origin("https://graph.microsoft.com");
	assert_string_equal(o, "https://graph.microsoft.com");
	free(o);
	assert_null(http_origin("graph.microsoft.com/v1.0"));
	assert_null(http_origin("https:///x"));
	assert_string_equal(http_url_label("https://h/p?$filter=x", buf,
	    sizeof(buf)), "https://h/p");
}

/* volumeType as a number, a numeric string or a name. */
static void
test_volume_type(void **state)
{
	static const struct {
		const char *json, *out;
	} cases[] = {
		{ "1", "operatingSystem" },
		{ "\"1\"", "operatingSystem" },
		{ "\"operatingSystemVolume\"", "operatingSystem" },
		{ "\"OperatingSystemVolume\"", "operatingSystem" },
		{ "2", "fixedData" },
		{ "\"2\"", "fixedData" },
		{ "\"fixedDataVolume\"", "fixedData" },
		{ "3", "removableData" },
		{ "\"removableDataVolume\"", "removableData" },
		{ "4", "unknown" },
		{ "\"unknownFutureValue\"", "unknown" },
		{ "\"removableData\"", "removableData" },
		{ "1.5", "unknown" },
		{ "\"1x\"", "unknown" },
		{ "\" 1\"", "unknown" },
		{ "0", "unknown" },
		{ "-1", "unknown" },
		{ "\"-1\"", "unknown" },
		{ "1e309", "unknown" },
		{ "-1e309", "unknown" },
		{ "9223372036854775808", "unknown" },
		{ "null", "unknown" },
		{ "true", "unknown" },
		{ "{}", "unknown" },
	};
	cJSON *v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = cJSON_Parse(cases[i].json);
		assert_non_null(v);
		if (strcmp(graph_volume_name(v), cases[i].out) != 0)
			fail_msg("volumeType %s gave %s, expected %s",
			    cases[i].json, graph_volume_name(v), cases[i].out);
		cJSON_Delete(v);
	}
	assert_string_equal(graph_volume_name(NULL), "unknown");
}

static void
test_created_time(void **state)
{
	static const struct {
		const char *in;
		long long t;
	} good[] = {
		{ "2024-01-15T09:30:12Z", 1705311012LL },
		{ "2025-03-02T14:05:41.1234567Z", 1740924341LL },
		{ "2025-03-02T14:05:41.1Z", 1740924341LL },
		{ "2025-03-02T16:05:41+02:00", 1740924341LL },
		{ "2025-03-02T09:05:41-0500", 1740924341LL },
		{ "2025-03-02T14:05:41", 1740924341LL },
		{ "2025-03-02t14:05:41z", 1740924341LL },
		{ "1970-01-01T00:00:00Z", 0LL },
		{ "2024-02-29T00:00:00Z", 1709164800LL },
	};
	static const char *const bad[] = {
		"", "2024", "2024-01-15", "2024-01-15T09:30Z",
		"2024-13-01T00:00:00Z", "2024-01-32T00:00:00Z",
		"2024-01-15T24:00:00Z", "2024-01-15T09:30:12.Z",
		"2024-01-15T09:30:12Zjunk", "2024-01-15T09:30:12+2",
		"20240115T093012Z",
	};
	time_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (graph_parse_time(good[i].in, &t) != 0)
			fail_msg("'%s' was refused", good[i].in);
		if ((long long)t != good[i].t)
			fail_msg("'%s' gave %lld, expected %lld", good[i].in,
			    (long long)t, good[i].t);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (graph_parse_time(bad[i], &t) == 0)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(graph_parse_time(NULL, &t), -1);
}

static void
test_unwrap(void **state)
{
	cJSON *bare = cJSON_Parse("{\"id\":\"a\",\"key\":\"k\"}");
	cJSON *wrapped = cJSON_Parse("{\"@odata.context\":\"x\","
	    "\"value\":{\"id\":\"a\",\"key\":\"k\"}}");
	cJSON *list = cJSON_Parse("{\"value\":[{\"id\":\"a\"}]}");

	(void)state;
	assert_string_equal(cJSON_GetObjectItem(graph_unwrap(bare), "key")
	    ->valuestring, "k");
	assert_string_equal(cJSON_GetObjectItem(graph_unwrap(wrapped), "key")
	    ->valuestring, "k");
	/* a list's value is not an object: the body stays as it is */
	assert_ptr_equal(graph_unwrap(list), list);
	cJSON_Delete(bare);
	cJSON_Delete(wrapped);
	cJSON_Delete(list);
}

static void
test_b64url(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "f", "Zg" },
		{ "fo", "Zm8" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg" },
		{ "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" },
		{ "\xfb\xff\xbf", "-_-_" },
	};
	unsigned char *dec;
	size_t i, n;
	char *enc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enc = jwt_b64url_encode((const unsigned char *)cases[i].in,
		    strlen(cases[i].in));
		assert_string_equal(enc, cases[i].out);
		dec = jwt_b64url_decode(enc, &n);
		assert_non_null(dec);
		assert_int_equal(n, strlen(cases[i].in));
		assert_memory_equal(dec, cases[i].in, n);
		free(enc);
		free(dec);
	}
	dec = jwt_b64url_decode("Zm9vYg==", &n);
	assert_non_null(dec);
	assert_int_equal(n, 4);
	free(dec);
	assert_null(jwt_b64url_decode("Zm9v+g", &n));
	assert_null(jwt_b64url_decode("Z", &n));
	assert_null(jwt_b64url_decode("Zm 9", &n));
}

/* A fresh RSA key and a self-signed certificate for it. */
static void
make_cert(EVP_PKEY **key, X509 **cert)
{
	X509_NAME *name;

	*key = EVP_RSA_gen(2048);
	assert_non_null(*key);
	*cert = X509_new();
	assert_non_null(*cert);
	ASN1_INTEGER_set(X509_get_serialNumber(*cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(*cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(*cert), 3600);
	X509_set_pubkey(*cert, *key);
	name = X509_get_subject_name(*cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"bdekey unit test", -1, -1, 0);
	X509_set_issuer_name(*cert, name);
	assert_true(X509_sign(*cert, *key, EVP_sha256()) > 0);
}

/* Split a JWT into its three parts, decoding the first two. */
static void
split_jwt(const char *jwt, cJSON **header, cJSON **claims,
    unsigned char **sig, size_t *siglen, size_t *signed_len)
{
	const char *a = strchr(jwt, '.'), *b;
	char *part;
	unsigned char *dec;
	size_t n;

	assert_non_null(a);
	b = strchr(a + 1, '.');
	assert_non_null(b);
	assert_null(strchr(b + 1, '.'));
	assert_null(strchr(jwt, '='));
	part = strndup(jwt, (size_t)(a - jwt));
	dec = jwt_b64url_decode(part, &n);
	assert_non_null(dec);
	*header = cJSON_Parse((char *)dec);
	free(part);
	free(dec);
	part = strndup(a + 1, (size_t)(b - a - 1));
	dec = jwt_b64url_decode(part, &n);
	assert_non_null(dec);
	*claims = cJSON_Parse((char *)dec);
	free(part);
	free(dec);
	*sig = jwt_b64url_decode(b + 1, siglen);
	assert_non_null(*sig);
	*signed_len = (size_t)(b - jwt);
	assert_non_null(*header);
	assert_non_null(*claims);
}

static char *
thumb(X509 *cert, const EVP_MD *md)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n;

	assert_int_equal(X509_digest(cert, md, d, &n), 1);
	return jwt_b64url_encode(d, n);
}

static int
verify(EVP_PKEY *key, int pss, const char *data, size_t len,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok;

	assert_int_equal(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
	    key), 1);
	if (pss) {
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
		/* RFC 7518 3.5: the salt is exactly as long as the hash */
		EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
		EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
	}
	ok = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)data,
	    len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static void
check_assertion(int rs256)
{
	static const char aud[] =
	    "https://login.example/contoso/oauth2/v2.0/token";
	static const char cid[] = "0a565296-4e53-477d-b118-b89e25e1af62";
	static const char jti[] = "6f1b2d3c-0000-4000-8000-000000000001";
	cJSON *header = NULL, *claims = NULL;
	EVP_PKEY *key;
	X509 *cert;
	unsigned char *sig;
	size_t siglen, slen;
	char *jwt = NULL, *err = NULL, *tp;

	make_cert(&key, &cert);
	assert_int_equal(jwt_sign_assertion(cert, key, rs256, cid, aud, jti,
	    1700000000, &jwt, &err), BDE_OK);
	split_jwt(jwt, &header, &claims, &sig, &siglen, &slen);

	assert_string_equal(cJSON_GetObjectItem(header, "alg")->valuestring,
	    rs256 ? "RS256" : "PS256");
	assert_string_equal(cJSON_GetObjectItem(header, "typ")->valuestring,
	    "JWT");
	tp = thumb(cert, rs256 ? EVP_sha1() : EVP_sha256());
	assert_string_equal(cJSON_GetObjectItem(header, rs256 ? "x5t" :
	    "x5t#S256")->valuestring, tp);
	assert_null(cJSON_GetObjectItem(header, rs256 ? "x5t#S256" : "x5t"));
	free(tp);

	assert_string_equal(cJSON_GetObjectItem(claims, "aud")->valuestring,
	    aud);
	assert_string_equal(cJSON_GetObjectItem(claims, "iss")->valuestring,
	    cid);
	assert_string_equal(cJSON_GetObjectItem(claims, "sub")->valuestring,
	    cid);
	assert_string_equal(cJSON_GetObjectItem(claims, "jti")->valuestring,
	    jti);
	assert_int_equal(cJSON_GetObjectItem(claims, "iat")->valuedouble,
	    1700000000);
	assert_int_equal(cJSON_GetObjectItem(claims, "nbf")->valuedouble,
	    1700000000);
	assert_int_equal(cJSON_GetObjectItem(claims, "exp")->valuedouble,
	    1700000300);

	assert_int_equal(siglen, 256);
	assert_true(verify(key, !rs256, jwt, slen, sig, siglen));
	/* a changed claim breaks the signature */
	jwt[slen - 2] ^= 1;
	assert_false(verify(key, !rs256, jwt, slen, sig, siglen));

	free(sig);
	free(jwt);
	free(err);
	cJSON_Delete(header);
	cJSON_Delete(claims);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void
test_assertion_ps256(void **state)
{
	(void)state;
	check_assertion(0);
}

static void
test_assertion_rs256(void **state)
{
	(void)state;
	check_assertion(1);
}

static void
test_assertion_wrong_key(void **state)
{
	EVP_PKEY *key, *other;
	X509 *cert, *other_cert;
	char *jwt = NULL, *err = NULL;

	(void)state;
	make_cert(&key, &cert);
	make_cert(&other, &other_cert);
	assert_int_equal(jwt_sign_assertion(cert, other, 0, "c", "a", "j", 1,
	    &jwt, &err), BDE_EAUTH);
	assert_null(jwt);
	assert_non_null(err);
	assert_non_null(strstr(err, "does not belong"));
	free(err);
	X509_free(cert);
	X509_free(other_cert);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void
test_jwt_claims(void **state)
{
	char *c;

	(void)state;
	/* {"preferred_username":"a@b"} */
	c = jwt_claims("e30.eyJwcmVmZXJyZWRfdXNlcm5hbWUiOiJhQGIifQ.");
	assert_non_null(c);
	assert_string_equal(c, "{\"preferred_username\":\"a@b\"}");
	free(c);
	assert_null(jwt_claims("nodots"));
	assert_null(jwt_claims("a.b"));
	assert_null(jwt_claims("a.!!.c"));
}

static void
test_random_guid(void **state)
{
	char a[BDE_GUID_LEN + 1], b[BDE_GUID_LEN + 1];
	uint8_t g[16];

	(void)state;
	bde_guid_random(a);
	bde_guid_random(b);
	assert_int_equal(strlen(a), BDE_GUID_LEN);
	assert_int_equal(bde_guid_parse(a, g), 0);
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	/* lower case, as a client-request-id and a jti are written */
	assert_int_equal(strspn(a, "0123456789abcdef-"), BDE_GUID_LEN);
	assert_string_not_equal(a, b);
}

/* GUIDs (and the names beside them) lower-cased, ASCII only. */
static void
test_guid_lower(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "1A2B3C4D-5E6F-4A70-8B91-C2D3E4F5A6B7",
		  "1a2b3c4d-5e6f-4a70-8b91-c2d3e4f5a6b7" },
		{ "{F47889C3-2578-42E6-A1E6-7D0EF46E7FD6}",
		  "{f47889c3-2578-42e6-a1e6-7d0ef46e7fd6}" },
		{ "already-lower-0123", "already-lower-0123" },
		{ "Contoso.TEST", "contoso.test" },
		/* "ZOË": the UTF-8 bytes of Ë are no ASCII letters */
		{ "ZO\xc3\x8b", "zo\xc3\x8b" },
		{ "@[`{", "@[`{" },
		{ "", "" },
	};
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		assert_ptr_equal(bde_guid_lower(buf), buf);
		assert_string_equal(buf, cases[i].out);
	}
}

/* The statuses worth asking again for, and no others. */
static void
test_status_retryable(void **state)
{
	static const long yes[] = { 429, 503, 504 };
	static const long no[] = { 200, 204, 400, 401, 403, 404, 408, 500,
		502, 505, 0, -1 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(http_status_retryable(yes[i]));
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (http_status_retryable(no[i]))
			fail_msg("HTTP %ld taken as retryable", no[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_odata_literal),
		cmocka_unit_test(test_percent_encoding),
		cmocka_unit_test(test_filter_eq),
		cmocka_unit_test(test_origin_and_label),
		cmocka_unit_test(test_volume_type),
		cmocka_unit_test(test_created_time),
		cmocka_unit_test(test_unwrap),
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_assertion_ps256),
		cmocka_unit_test(test_assertion_rs256),
		cmocka_unit_test(test_assertion_wrong_key),
		cmocka_unit_test(test_jwt_claims),
		cmocka_unit_test(test_random_guid),
		cmocka_unit_test(test_guid_lower),
		cmocka_unit_test(test_status_retryable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
