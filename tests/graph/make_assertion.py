#!/usr/bin/python3
"""Make a client-assertion JWT for the emulator's client_credentials grant (tests' helper).

The good case (what a correct client sends):
    make_assertion.py --key app.key --cert app.pem --client-id ID --aud TOKEN_URL
prints a PS256 JWT with x5t#S256 of app.pem, iss = sub = ID, fresh jti, nbf = iat = now,
exp = now + 600.  Options break one thing at a time for negative tests:
    --key wrong.key --cert app.pem      signature made with the wrong key (invalid signature)
    --key wrong.key --cert wrong.pem    certificate not registered on the app
    --alg RS256                         RS256 with x5t (SHA-1) instead
    --thumbprint none|x5t|x5t#S256|both which thumbprint header(s) to send
    --aud URL, --iss ID, --sub ID       wrong audience / issuer / subject
    --jti X | --no-jti                  fixed jti (send twice to test replay) / none
    --exp-in S, --iat-offset S, --nbf-offset S   times relative to now (seconds)
    --pss-salt digest|max               PS256 salt length (Entra and RFC 7518: digest = 32)
    --tamper                            change the claims after signing
Needs python3-cryptography (Debian's /usr/bin/python3).
"""

import argparse
import base64
import hashlib
import json
import ssl
import sys
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--key", required=True, help="PEM private key that signs")
    ap.add_argument("--cert", required=True, help="PEM certificate named in the header thumbprint")
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--aud", required=True, help="the token URL, exactly as POSTed to")
    ap.add_argument("--alg", choices=["PS256", "RS256", "HS256"], default="PS256")
    ap.add_argument("--thumbprint", choices=["auto", "none", "x5t", "x5t#S256", "both"], default="auto")
    ap.add_argument("--iss")
    ap.add_argument("--sub")
    ap.add_argument("--jti")
    ap.add_argument("--no-jti", action="store_true")
    ap.add_argument("--exp-in", type=int, default=600)
    ap.add_argument("--iat-offset", type=int, default=0)
    ap.add_argument("--nbf-offset", type=int, default=0)
    ap.add_argument("--pss-salt", choices=["digest", "max"], default="digest")
    ap.add_argument("--tamper", action="store_true")
    a = ap.parse_args()

    with open(a.cert, encoding="ascii") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    with open(a.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)

    header = {"alg": a.alg, "typ": "JWT"}
    tp = a.thumbprint
    if tp == "auto":
        tp = "x5t#S256" if a.alg == "PS256" else "x5t"
    if tp in ("x5t", "both"):
        header["x5t"] = b64url(hashlib.sha1(der).digest())
    if tp in ("x5t#S256", "both"):
        header["x5t#S256"] = b64url(hashlib.sha256(der).digest())

    now = int(time.time())
    claims = {"aud": a.aud, "iss": a.iss or a.client_id, "sub": a.sub or a.client_id,
              "iat": now + a.iat_offset, "nbf": now + a.nbf_offset, "exp": now + a.exp_in}
    if not a.no_jti:
        claims["jti"] = a.jti or str(uuid.uuid4())

    signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(claims, separators=(",", ":")).encode())
    if a.alg == "PS256":
        salt = 32 if a.pss_salt == "digest" else padding.PSS.MAX_LENGTH
        sig = key.sign(signing_input.encode(), padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
                       hashes.SHA256())
    elif a.alg == "RS256":
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        sig = b"\0" * 32
    if a.tamper:
        claims["sub"] = claims["sub"] + "x"
        signing_input = signing_input.split(".")[0] + "." + \
            b64url(json.dumps(claims, separators=(",", ":")).encode())
    sys.stdout.write(signing_input + "." + b64url(sig) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
