/*
 * jwt.c - base64url and the certificate client assertion, signed with
 * OpenSSL libcrypto.
 */
#include "identity/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

/* The identity platform allows 10 minutes; 5 leaves room for skew. */
#define ASSERTION_LIFETIME 300

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
jwt_b64url_encode(const unsigned char *p, size_t n)
{
	size_t i, o = 0;
	char *out;
	unsigned v;

	if (n > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	out = malloc(n / 3 * 4 + 4 + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned)p[i] << 16;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

static int
b64url_value(char c)
{
	const char *p;

	if (c == '\0')
		return -1;
	p = strchr(b64url_alphabet, c);
	return p != NULL ? (int)(p - b64url_alphabet) : -1;
}

unsigned char *
jwt_b64url_decode(const char *s, size_t *n)
{
	size_t len = strlen(s), i, o = 0;
	unsigned char *out;
	unsigned acc = 0;
	int bits = 0, v;

	while (len > 0 && s[len - 1] == '=')
		len--;
	/* one leftover character cannot encode a byte */
	if (len % 4 == 1)
		return NULL;
	out = malloc(len / 4 * 3 + 3 + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		v = b64url_value(s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	out[o] = '\0';
	*n = o;
	return out;
}

char *
jwt_claims(const char *jwt)
{
	const char *a = strchr(jwt, '.'), *b;
	char *part = NULL;
	unsigned char *dec = NULL;
	size_t n;

	if (a == NULL)
		return NULL;
	b = strchr(a + 1, '.');
	if (b == NULL)
		return NULL;
	part = strndup(a + 1, (size_t)(b - a - 1));
	if (part == NULL)
		return NULL;
	dec = jwt_b64url_decode(part, &n);
	free(part);
	/* claims with a NUL inside are not JSON text */
	if (dec != NULL && strlen((char *)dec) != n) {
		free(dec);
		dec = NULL;
	}
	return (char *)dec;
}

/* Append the words of s (blank-separated) to out, one blank between. */
static int
add_words(char **out, size_t *len, const char *s)
{
	size_t n;
	char *p;

	for (;;) {
		s += strspn(s, " \t");
		n = strcspn(s, " \t");
		if (n == 0)
			return 0;
		p = realloc(*out, *len + n + 2);
		if (p == NULL)
			return -1;
		*out = p;
		if (*len > 0)
			(*out)[(*len)++] = ' ';
		memcpy(*out + *len, s, n);
		*len += n;
		(*out)[*len] = '\0';
		s += n;
	}
}

char *
jwt_permissions(const char *jwt)
{
	char *claims = jwt_claims(jwt), *out = NULL;
	const cJSON *roles, *r;
	cJSON *doc = NULL;
	const char *scp;
	size_t len = 0;

	if (claims == NULL)
		return NULL;
	doc = cJSON_Parse(claims);
	scp = cJSON_IsObject(doc) ? cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(doc, "scp")) : NULL;
	if (scp != NULL && add_words(&out, &len, scp) < 0)
		goto fail;
	roles = cJSON_IsObject(doc) ?
	    cJSON_GetObjectItemCaseSensitive(doc, "roles") : NULL;
	if (!cJSON_IsArray(roles))
		roles = NULL;
	cJSON_ArrayForEach(r, roles)
		if (cJSON_IsString(r) && add_words(&out, &len,
		    r->valuestring) < 0)
			goto fail;
	cJSON_Delete(doc);
	free(claims);
	return out;
fail:
	free(out);
	cJSON_Delete(doc);
	free(claims);
	return NULL;
}

/* base64url of a cJSON object printed compactly: new string, or NULL. */
static char *
b64url_json(const cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);
	char *enc;

	if (text == NULL)
		return NULL;
	enc = jwt_b64url_encode((unsigned char *)text, strlen(text));
	free(text);
	return enc;
}

/*
 * The certificate's thumbprint (x5t: SHA-1, x5t#S256: SHA-256) in
 * base64url: a new string the caller frees, or NULL.
 */
static char *
thumbprint(X509 *cert, const EVP_MD *md)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_digest(cert, md, d, &n) != 1)
		return NULL;
	return jwt_b64url_encode(d, n);
}

/*
 * Sign input with key: PS256 (RFC 7518 3.5: RSASSA-PSS with SHA-256,
 * MGF1-SHA-256 and a salt as long as the hash) or RS256 (PKCS #1 v1.5).
 * *sig is new (caller frees).  Returns 0, or -1 on failure.
 */
static int
sign_rsa(EVP_PKEY *key, int rs256, const char *input, size_t inlen,
    unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int rc = -1;

	*sig = NULL;
	md = EVP_MD_CTX_new();
	if (md == NULL ||
	    EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1)
		goto out;
	if (!rs256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1
	    || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1))
		goto out;
	if (EVP_DigestSign(md, NULL, siglen, (const unsigned char *)input,
	    inlen) != 1)
		goto out;
	*sig = malloc(*siglen);
	if (*sig == NULL)
		goto out;
	if (EVP_DigestSign(md, *sig, siglen, (const unsigned char *)input,
	    inlen) != 1) {
		free(*sig);
		*sig = NULL;
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	return rc;
}

/* "a.b" of two strings in a new string the caller frees, or NULL. */
static char *
join_dot(const char *a, const char *b)
{
	size_t n = strlen(a) + 1 + strlen(b) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s.%s", a, b);
	return s;
}

enum bde_status
jwt_sign_assertion(X509 *cert, EVP_PKEY *key, int rs256,
    const char *client_id, const char *aud, const char *jti, time_t now,
    char **out, char **errstr)
{
	enum bde_status st = BDE_OK;
	cJSON *header = NULL, *claims = NULL;
	char *h64 = NULL, *c64 = NULL, *s64 = NULL, *x5t = NULL, *input = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;

	*out = NULL;
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		st = bde_error(errstr, BDE_ECONFIG, "the client key is not an "
		    "RSA key (PS256 and RS256 need one)");
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		st = bde_error(errstr, BDE_EAUTH, "the client key does not "
		    "belong to the client certificate");
		goto out;
	}
	st = BDE_ENOMEM;	/* until the end: every failure below is memory */
	x5t = thumbprint(cert, rs256 ? EVP_sha1() : EVP_sha256());
	header = cJSON_CreateObject();
	claims = cJSON_CreateObject();
	if (x5t == NULL || header == NULL || claims == NULL)
		goto out;
	/* RS256 with the SHA-1 "x5t" is the older documented form */
	if (cJSON_AddStringToObject(header, "alg", rs256 ? "RS256" : "PS256")
	    == NULL || cJSON_AddStringToObject(header, "typ", "JWT") == NULL ||
	    cJSON_AddStringToObject(header, rs256 ? "x5t" : "x5t#S256", x5t) ==
	    NULL)
		goto out;
	if (cJSON_AddStringToObject(claims, "aud", aud) == NULL ||
	    cJSON_AddStringToObject(claims, "iss", client_id) == NULL ||
	    cJSON_AddStringToObject(claims, "sub", client_id) == NULL ||
	    cJSON_AddStringToObject(claims, "jti", jti) == NULL ||
	    cJSON_AddNumberToObject(claims, "nbf", (double)now) == NULL ||
	    cJSON_AddNumberToObject(claims, "iat", (double)now) == NULL ||
	    cJSON_AddNumberToObject(claims, "exp",
	    (double)(now + ASSERTION_LIFETIME)) == NULL)
		goto out;
	h64 = b64url_json(header);
	c64 = b64url_json(claims);
	if (h64 == NULL || c64 == NULL ||
	    (input = join_dot(h64, c64)) == NULL)
		goto out;
	if (sign_rsa(key, rs256, input, strlen(input), &sig, &siglen) < 0) {
		st = bde_error(errstr, BDE_ECONFIG, "cannot sign the client "
		    "assertion with the client key");
		goto out;
	}
	s64 = jwt_b64url_encode(sig, siglen);
	if (s64 == NULL || (*out = join_dot(input, s64)) == NULL)
		goto out;
	st = BDE_OK;
out:
	if (st == BDE_ENOMEM)
		bde_error(errstr, st, "out of memory");
	cJSON_Delete(header);
	cJSON_Delete(claims);
	free(h64);
	free(c64);
	free(s64);
	free(x5t);
	free(input);
	free(sig);
	return st;
}

/* No passphrase prompts: an encrypted key is refused, not asked for. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* PEM files we read are small; a larger one is not a certificate or key. */
#define PEM_MAX (64 * 1024)

/*
 * Read a PEM file into a new buffer (*buf, *len) the caller wipes and
 * frees; a private key file must not be readable by others.
 */
static enum bde_status
read_pem(const char *what, const char *path, int private, char **buf,
    size_t *len, char **errstr)
{
	enum bde_status st = BDE_OK;
	struct stat sb;
	ssize_t r;
	int fd = -1;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		st = bde_error(errstr, BDE_EIO, "cannot open %s '%s': %s",
		    what, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > PEM_MAX) {
		st = bde_error(errstr, BDE_ECONFIG, "%s '%s' is not a PEM file",
		    what, path);
		goto out;
	}
	if (private && (sb.st_mode & 077) != 0) {
		st = bde_error(errstr, BDE_ECONFIG, "%s '%s' is readable by "
		    "others: chmod 600 it", what, path);
		goto out;
	}
	*buf = malloc((size_t)sb.st_size + 1);
	if (*buf == NULL) {
		st = bde_error(errstr, BDE_ENOMEM, "out of memory");
		goto out;
	}
	while (*len < (size_t)sb.st_size) {
		r = read(fd, *buf + *len, (size_t)sb.st_size - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		*len += (size_t)r;
	}
	(*buf)[*len] = '\0';
out:
	if (fd >= 0)
		close(fd);
	return st;
}

/* Wipe and free a buffer from read_pem. */
static void
pem_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

enum bde_status
jwt_client_assertion(const char *cert_path, const char *key_path, int rs256,
    const char *client_id, const char *aud, char **out, char **errstr)
{
	enum bde_status st;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	char *pem = NULL, jti[BDE_GUID_LEN + 1];
	size_t len = 0;

	*out = NULL;
	st = read_pem("client certificate", cert_path, 0, &pem, &len, errstr);
	if (st != BDE_OK)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, no_passphrase,
	    NULL) : NULL;
	BIO_free(bio);
	bio = NULL;
	pem_free(pem, len);
	pem = NULL;
	if (cert == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "client certificate '%s' "
		    "holds no PEM certificate", cert_path);
		goto out;
	}
	/* the key is read into a buffer we wipe, not through stdio's */
	st = read_pem("client key", key_path, 1, &pem, &len, errstr);
	if (st != BDE_OK)
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase,
	    NULL) : NULL;
	if (key == NULL) {
		st = bde_error(errstr, BDE_ECONFIG, "client key '%s' holds no "
		    "unencrypted PEM private key", key_path);
		goto out;
	}
	bde_guid_random(jti);
	st = jwt_sign_assertion(cert, key, rs256, client_id, aud, jti,
	    time(NULL), out, errstr);
out:
	ERR_clear_error();
	BIO_free(bio);
	pem_free(pem, len);
	X509_free(cert);
	EVP_PKEY_free(key);
	return st;
}
