#!/bin/sh
# ca.sh DIR - test PKI for the Graph emulator (openssl CLI only).
#
# Writes into DIR:
#   ca.pem, ca.key             test CA; ca.pem is what clients trust (BDEKEY_CA_BUNDLE)
#   server.pem, server.key     server certificate for 127.0.0.1, ::1 and localhost, signed by ca.pem
#   app.pem, app.key           the confidential app's credential: self-signed RSA 2048 cert
#                              (registered in the fixture as "app.pem") and its key
#   app-bundle.pem             app.key followed by app.pem, for clients that want one file
#   app.thumbprints            x5t= (SHA-1) and x5t_s256= (SHA-256) of app.pem, base64url
#   wrong.pem, wrong.key       another RSA 2048 pair, NOT registered: a client using it must fail
#   other-ca.pem, other-ca.key an unrelated CA that did not sign server.pem (TLS must fail with it)
# Keys are mode 0600.  Existing files are overwritten.
set -eu

dir=${1:?usage: ca.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

quiet() { "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }; }

# CA
quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -sha256 \
    -subj "/CN=bdekey test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"

# server certificate
quiet openssl req -new -newkey rsa:2048 -nodes -keyout server.key -out "$tmp/server.csr" \
    -subj "/CN=localhost"
cat >"$tmp/server.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EOF
quiet openssl x509 -req -in "$tmp/server.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -CAserial "$tmp/ca.srl" -out server.pem -days 825 -sha256 -extfile "$tmp/server.ext"

# app credential (registered) and a wrong one (not registered)
for name in app wrong; do
    quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.pem" -days 730 -sha256 \
        -subj "/CN=bdekey-test-$name"
done
cat app.key app.pem >app-bundle.pem

# unrelated CA
quiet openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 3650 -sha256 \
    -subj "/CN=unrelated test CA" -addext "basicConstraints=critical,CA:TRUE"

thumb() {
    openssl x509 -in app.pem -outform DER | openssl dgst "-$1" -binary | openssl base64 -A | tr '+/' '-_' | tr -d '='
}
{
    echo "x5t=$(thumb sha1)"
    echo "x5t_s256=$(thumb sha256)"
} >app.thumbprints

chmod 644 ca.pem server.pem app.pem wrong.pem other-ca.pem app.thumbprints
