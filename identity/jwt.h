/*
 * jwt.h - base64url and the signed JWT client assertion (RFC 7523) the
 * identity platform accepts instead of a client secret.  Internal to
 * identity/ (and its unit tests).
 */
#ifndef BDEKEY_IDENTITY_JWT_H
#define BDEKEY_IDENTITY_JWT_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/core.h"

/*
 * base64url without padding (RFC 4648 section 5) of n bytes.  Returns a
 * new string the caller frees, or NULL when out of memory.
 */
char *jwt_b64url_encode(const unsigned char *p, size_t n);

/*
 * Decode base64url (padding optional).  Returns a new NUL-terminated
 * buffer of *n bytes the caller frees, or NULL on bad input or no memory.
 */
unsigned char *jwt_b64url_decode(const char *s, size_t *n);

/*
 * Build and sign a client assertion: header {"alg":"PS256","typ":"JWT",
 * "x5t#S256":...} (or RS256 with "x5t", the SHA-1 thumbprint, when
 * rs256), claims aud, iss = sub = client_id, jti, nbf = iat = now,
 * exp = now + 5 minutes.  *out is a new string the caller frees with
 * bde_secret_free.  Errors: BDE_ECONFIG (not an RSA key), BDE_EAUTH (the
 * key does not belong to the certificate), BDE_ENOMEM.
 */
enum bde_status jwt_sign_assertion(X509 *cert, EVP_PKEY *key, int rs256,
    const char *client_id, const char *aud, const char *jti, time_t now,
    char **out, char **errstr);

/*
 * Load the PEM certificate and private key (the key file must not be
 * readable by others) and sign an assertion with a fresh jti as above.
 * Errors: BDE_ECONFIG, BDE_EIO, BDE_EAUTH, BDE_ENOMEM.
 */
enum bde_status jwt_client_assertion(const char *cert_path,
    const char *key_path, int rs256, const char *client_id, const char *aud,
    char **out, char **errstr);

/*
 * The claims (middle part) of a JWT as a new NUL-terminated JSON string
 * the caller frees, without checking the signature: only for display
 * (the user name in an id_token received straight from the token
 * endpoint).  NULL when malformed.
 */
char *jwt_claims(const char *jwt);

/*
 * The permissions a JWT access token's claims name, without checking the
 * signature (only for messages): "scp" (a user's, space-separated) and
 * "roles" (an application's, an array), joined with single spaces, in a
 * new string the caller frees.  NULL when the token is not a JWT, names
 * none, or memory runs out.
 */
char *jwt_permissions(const char *jwt);

#endif
