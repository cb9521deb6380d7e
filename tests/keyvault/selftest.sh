#!/usr/bin/env bash
# selftest.sh - exercise the Key Vault + ARM emulator (and the identity emulator's tokens for
# Key Vault and ARM) with curl, openssl and python: proves the emulator behaves as README.md
# says before client tests rely on it.  Prints 'selftest-kv: N passed, M failed'; exit 0 = all
# passed.  Needs root for the default port-443 mode (KV_EMU_PORTS=any runs without).  20-30 s.
set -u

here=$(cd "$(dirname "$0")" && pwd)
graph=$here/../graph
py=${KV_EMU_PYTHON:-/usr/bin/python3}
command -v curl >/dev/null || { echo "selftest-kv: curl is required" >&2; exit 1; }
"$py" -c 'import cryptography' 2>/dev/null || { echo "selftest-kv: $py lacks python3-cryptography" >&2; exit 1; }

tmp=$(mktemp -d /tmp/bdekey-kvself.XXXXXX)
cleanup() {
    "$here/server.sh" stop "$tmp/kv2" >/dev/null 2>&1
    "$here/server.sh" stop "$tmp/kv"
    "$graph/server.sh" stop "$tmp/graph"
    rm -rf "$tmp"
}
trap cleanup EXIT
t0=$(date +%s.%N)
eval "$("$graph/server.sh" start "$tmp/graph")" || { echo "selftest-kv: the Graph emulator did not start" >&2; exit 1; }
eval "$("$here/server.sh" start "$tmp/kv")" || { echo "selftest-kv: the key vault emulator did not start" >&2; exit 1; }

pass=0
fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if [ "$2" = "$3" ]; then ok; else no "$1: expected [$2], got [$3]"; fi; }
# check_has NAME NEEDLE HAYSTACK
check_has() { case $3 in *"$2"*) ok ;; *) no "$1: [$2] not in [$3]" ;; esac; }
js() { "$py" -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if not isinstance(r,(dict,list,bool)) else json.dumps(r))' "$1"; }

CURL=(curl -sS --cacert "$BDEKEY_CA_BUNDLE" -A "bdekey-kv-selftest/1")
AUTH=$BDEKEY_AUTHORITY/$BDEKEY_TENANT/oauth2/v2.0
DCG=urn:ietf:params:oauth:grant-type:device_code
V=7.4
req() { local out=$1; shift; "${CURL[@]}" -o "$out" -w '%{http_code}' "$@"; }
kvcfg() { "${CURL[@]}" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$1" "$KV_EMU_URL/_test/config"; }
gcfg() { "${CURL[@]}" -o /dev/null -H 'Content-Type: application/json' -d "$1" "$GRAPH_EMU_URL/_test/config"; }
# get TOKEN URL [curl args]: body in $tmp/r, prints the status
get() { local tok=$1 url=$2; shift 2; req "$tmp/r" ${tok:+-H "Authorization: Bearer $tok"} "$@" "$url"; }
unwrap() {  # unwrap TOKEN KID ALG VALUE
    req "$tmp/u" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"alg\":\"$3\",\"value\":\"$4\"}" "$2/unwrapkey?api-version=$V"
}
b64url_to_file() { "$py" -c 'import base64,sys; s=sys.stdin.read().strip(); sys.stdout.buffer.write(base64.urlsafe_b64decode(s+"="*(-len(s)%4)))'; }
app_token() {  # app_token SCOPE -> access token (APP, client secret)
    "${CURL[@]}" -d grant_type=client_credentials -d client_id="$GRAPH_EMU_APP_CLIENT_ID" \
        --data-urlencode "client_secret@$GRAPH_EMU_APP_SECRET_FILE" --data-urlencode "scope=$1" "$AUTH/token" | js 'd["access_token"]'
}
claims() { "$py" -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; d=json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4))); print(eval(sys.argv[2]))' "$1" "$2"; }
bek_guid() {  # the GUID in a .BEK header (bytes 16-31, mixed-endian), upper case
    "$py" -c 'import uuid,sys; print(str(uuid.UUID(bytes_le=open(sys.argv[1],"rb").read()[16:32])).upper())' "$1"
}
port443=$KV_EMU_PORT443

# ---------------------------------------------------------------- tokens (identity emulator)
VT=$(app_token "https://vault.azure.net/.default")
AT=$(app_token "https://management.azure.com/.default")
GT=$(app_token "https://graph.microsoft.com/.default")
check "app vault token aud" "https://vault.azure.net" "$(claims "$VT" 'd["aud"]')"
check "app vault token is RS256, v1 issuer" "RS256 https://sts.windows.net/$GRAPH_EMU_TENANT_ID/ 1.0" \
    "$(claims "$VT" '"%s %s %s" % (json.loads(base64.urlsafe_b64decode(sys.argv[1].split(".")[0]+"==")).get("alg"), d["iss"], d["ver"])')"
check "app ARM token aud" "https://management.azure.com" "$(claims "$AT" 'd["aud"]')"
check "Graph token stays opaque" emuAT "${GT%%.*}"
check "JWKS published" 1 "$("${CURL[@]}" "$BDEKEY_AUTHORITY/$BDEKEY_TENANT/discovery/v2.0/keys" | js 'len(d["keys"])')"
check "openid-configuration names jwks_uri" yes "$("${CURL[@]}" "$BDEKEY_AUTHORITY/$BDEKEY_TENANT/v2.0/.well-known/openid-configuration" | js '"yes" if d["jwks_uri"].endswith("/discovery/v2.0/keys") else "no"')"
check "mixed resources refused" 400 "$(req "$tmp/t" -d grant_type=client_credentials -d client_id="$GRAPH_EMU_APP_CLIENT_ID" \
    --data-urlencode "client_secret@$GRAPH_EMU_APP_SECRET_FILE" \
    --data-urlencode "scope=https://vault.azure.net/.default https://graph.microsoft.com/.default" "$AUTH/token")"
check "vault scope with an unknown permission" 400 "$(req "$tmp/t" -d client_id="$BDEKEY_CLIENT_ID" \
    --data-urlencode "scope=https://vault.azure.net/secrets.read" "$AUTH/devicecode")"
check "unknown vault permission is invalid_scope" invalid_scope "$(js 'd["error"]' <"$tmp/t")"
check "Graph refuses a vault token" 401 "$(get "$VT" "$BDEKEY_GRAPH/v1.0/devices")"
check "Graph says invalid audience" "Access token validation failure. Invalid audience." "$(js 'd["error"]["message"]' <"$tmp/r")"

# delegated: device code for the vault (helpdesk auto-approved after one pending poll)
"${CURL[@]}" -d client_id="$BDEKEY_CLIENT_ID" --data-urlencode "scope=https://vault.azure.net/user_impersonation offline_access openid" \
    "$AUTH/devicecode" >"$tmp/dc"
dc=$(js 'd["device_code"]' <"$tmp/dc")
poll() { req "$tmp/p" -d grant_type=$DCG -d client_id="$BDEKEY_CLIENT_ID" -d device_code="$1" "$AUTH/token" >/dev/null; js 'd.get("error") or "token"' <"$tmp/p"; }
check "vault device code: pending" authorization_pending "$(poll "$dc")"
sleep 1.05
check "vault device code: token" token "$(poll "$dc")"
HVT=$(js 'd["access_token"]' <"$tmp/p")
HVRT=$(js 'd["refresh_token"]' <"$tmp/p")
check "delegated vault scope" "https://vault.azure.net/user_impersonation openid offline_access" "$(js 'd["scope"]' <"$tmp/p")"
check "delegated vault token claims" "https://vault.azure.net user_impersonation helpdesk@contoso.test" \
    "$(claims "$HVT" '"%s %s %s" % (d["aud"], d["scp"], d["upn"])')"
check "vault refresh token for Graph refused" invalid_grant "$(req "$tmp/p" -d grant_type=refresh_token -d client_id="$BDEKEY_CLIENT_ID" \
    -d refresh_token="$HVRT" --data-urlencode "scope=https://graph.microsoft.com/Device.Read.All offline_access" "$AUTH/token" >/dev/null; js 'd["error"]' <"$tmp/p")"
check "vault refresh token for the vault" 200 "$(req "$tmp/p" -d grant_type=refresh_token -d client_id="$BDEKEY_CLIENT_ID" \
    -d refresh_token="$HVRT" "$AUTH/token")"
HVRT=$(js 'd["refresh_token"]' <"$tmp/p")
check "refreshed vault token aud" "https://vault.azure.net" "$(claims "$(js 'd["access_token"]' <"$tmp/p")" 'd["aud"]')"
gcfg '{"refresh_cross_resource":true}'
check "knob refresh_cross_resource: vault RT -> ARM token" 200 "$(req "$tmp/p" -d grant_type=refresh_token -d client_id="$BDEKEY_CLIENT_ID" \
    -d refresh_token="$HVRT" --data-urlencode "scope=https://management.azure.com/user_impersonation offline_access" "$AUTH/token")"
HAT=$(js 'd["access_token"]' <"$tmp/p")
check "delegated ARM token aud" "https://management.azure.com" "$(claims "$HAT" 'd["aud"]')"
gcfg '{"refresh_cross_resource":false,"resource_refused_clients":["'"$BDEKEY_CLIENT_ID"'"]}'
check "knob resource_refused_clients" 400 "$(req "$tmp/t" -d client_id="$BDEKEY_CLIENT_ID" \
    --data-urlencode "scope=https://vault.azure.net/user_impersonation" "$AUTH/devicecode")"
check "AADSTS65002" "[65002]" "$(js 'd["error_codes"]' <"$tmp/t")"
gcfg '{"resource_refused_clients":[]}'
# basic: approved by hand before its first poll
"${CURL[@]}" -d client_id="$BDEKEY_CLIENT_ID" --data-urlencode "scope=https://vault.azure.net/.default" "$AUTH/devicecode" >"$tmp/dc"
"${CURL[@]}" -o /dev/null -d user_code="$(js 'd["user_code"]' <"$tmp/dc")" -d user=basic@contoso.test "$GRAPH_EMU_URL/_test/approve"
check "basic vault token" token "$(poll "$(js 'd["device_code"]' <"$tmp/dc")")"
BVT=$(js 'd["access_token"]' <"$tmp/p")
check "basic: no refresh token (no offline_access)" None "$(js 'd.get("refresh_token")' <"$tmp/p")"
NVT=$("${CURL[@]}" -d grant_type=client_credentials -d client_id="$GRAPH_EMU_NOROLES_CLIENT_ID" \
    --data-urlencode "client_secret@$GRAPH_EMU_NOROLES_SECRET_FILE" --data-urlencode "scope=https://vault.azure.net/.default" "$AUTH/token" | js 'd["access_token"]')
check "tokens listed with their resource" yes "$("${CURL[@]}" "$GRAPH_EMU_URL/_test/tokens" | js '"yes" if {t["resource"] for t in d["access"]} >= {None, "https://vault.azure.net", "https://management.azure.com"} else d')"

# ---------------------------------------------------------------- the challenge
ADE=$KV_EMU_VAULT_ADE
check "no token: 401" 401 "$(req "$tmp/r" -D "$tmp/h" "$ADE/secrets?api-version=$V")"
check "no token: AKV10000" "AKV10000: Request is missing a Bearer or PoP token." "$(js 'd["error"]["message"]' <"$tmp/r")"
check "challenge header" "WWW-Authenticate: Bearer authorization=\"$BDEKEY_AUTHORITY/$GRAPH_EMU_TENANT_ID\", resource=\"https://vault.azure.net\"" \
    "$(grep -i '^www-authenticate' "$tmp/h" | tr -d '\r')"
check "knob challenge_resource" 200 "$(kvcfg '{"challenge_resource":"https://vault.attacker.example"}')"
req "$tmp/r" -D "$tmp/h" "$ADE/secrets?api-version=$V" >/dev/null
check_has "foreign-resource challenge" 'resource="https://vault.attacker.example"' "$(grep -i '^www-authenticate' "$tmp/h")"
kvcfg '{"challenge_resource":null,"challenge_param":"authorization_uri","challenge_scope":"https://vault.azure.net/.default"}' >/dev/null
req "$tmp/r" -D "$tmp/h" "$ADE/secrets?api-version=$V" >/dev/null
check "challenge with authorization_uri and scope" "WWW-Authenticate: Bearer authorization_uri=\"$BDEKEY_AUTHORITY/$GRAPH_EMU_TENANT_ID\", resource=\"https://vault.azure.net\", scope=\"https://vault.azure.net/.default\"" \
    "$(grep -i '^www-authenticate' "$tmp/h" | tr -d '\r')"
kvcfg '{"challenge_param":"authorization","challenge_scope":null}' >/dev/null
check "Graph token at the vault" 401 "$(get "$GT" "$ADE/secrets?api-version=$V")"
check "ARM token at the vault: AKV10022" "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com." \
    "$(get "$AT" "$ADE/secrets?api-version=$V" >/dev/null; js 'd["error"]["message"]' <"$tmp/r")"
bad_sig=$("$py" -c 'import sys; h,p,s=sys.argv[1].split("."); print(h+"."+p+"."+("A" if s[0]!="A" else "B")+s[1:])' "$VT")
check "tampered signature" 401 "$(get "$bad_sig" "$ADE/secrets?api-version=$V")"
check "401s carry the challenge" 1 "$(grep -ci '^www-authenticate' <("${CURL[@]}" -o /dev/null -D - -H "Authorization: Bearer $bad_sig" "$ADE/secrets?api-version=$V"))"

# ---------------------------------------------------------------- listing and paging (:443)
check "api-version required" 400 "$(get "$VT" "$ADE/secrets")"
check "unknown api-version" 400 "$(get "$VT" "$ADE/secrets?api-version=9.9")"
check "maxresults 26 refused" 400 "$(get "$VT" "$ADE/secrets?api-version=$V&maxresults=26")"
check "page 1 of 3" 200 "$(get "$VT" "$ADE/secrets?api-version=$V&maxresults=3")"
next=$(js 'd["nextLink"]' <"$tmp/r")
check "page 1 items" 3 "$(js 'len(d["value"])' <"$tmp/r")"
if [ "$port443" = 1 ]; then
    check "nextLink carries :443" "https://$KV_EMU_VAULT_ADE_HOST:443/secrets?api-version=$V&\$skiptoken=" "${next%%\$skiptoken=*}\$skiptoken="
fi
check_has "nextLink keeps maxresults" "&maxresults=3" "$next"
check "skiptoken: standard base64 without +/=" yes "$(echo "$next" | sed 's/.*skiptoken=//; s/&.*//' | grep -q '^[A-Za-z0-9]*$' && echo yes)"
n=3 pages=1 url=$next
while [ "$url" != None ] && [ $pages -lt 20 ]; do
    get "$VT" "$url" >/dev/null
    n=$((n + $(js 'len(d["value"])' <"$tmp/r"))); pages=$((pages + 1)); url=$(js 'd["nextLink"]' <"$tmp/r")
done
check "all contoso-ade secrets through nextLink" "7 3" "$n $pages"
tampered=$(echo "$next" | sed 's/skiptoken=eyJ/skiptoken=eyK/')
check "tampered skiptoken" 400 "$(get "$VT" "$tampered")"
kvcfg '{"nextlink_api_version":"7.2"}' >/dev/null
get "$VT" "$ADE/secrets?api-version=$V&maxresults=5" >/dev/null
next=$(js 'd["nextLink"]' <"$tmp/r")
check_has "knob nextlink_api_version" "api-version=7.2&" "$next"
check "a 7.2 nextLink is served" 200 "$(get "$VT" "$next")"
kvcfg '{"nextlink_api_version":null,"empty_page_every":2}' >/dev/null
get "$VT" "$ADE/secrets?api-version=$V&maxresults=5" >/dev/null
get "$VT" "$(js 'd["nextLink"]' <"$tmp/r")" >/dev/null
check "knob empty_page_every: empty page with a nextLink" "0 yes" "$(js '"%d %s" % (len(d["value"]), "yes" if d["nextLink"] else "no")' <"$tmp/r")"
kvcfg '{"empty_page_every":0}' >/dev/null
get "$VT" "$ADE/secrets?api-version=$V" >/dev/null
check "ADE items: contentType/MachineName" \
    '[["1AC6DFE3-C059-4FFE-ABD5-B63D17CA6C14", "BEK", "WIN-OTHER09", false], ["4381F759-C4F8-4DE0-BB61-FC33A831BDA5", "Wrapped BEK", "WIN-ADE01", true], ["65036B9E-A988-474E-A0AB-27530F4D5E65", "BEK", null, true], ["6B004EB8-B53C-45A2-BD4E-4D5A96F14C1A", "Wrapped BEK", "win-ade01", true], ["6E15ED15-9DF7-4953-8113-A229F78758F2", "Wrapped BEK", "WIN-ADE01", true], ["db-password", null, null, true], ["web-tls", "application/x-pkcs12", "WIN-ADE01", true]]' \
    "$(js '[[i["id"].rsplit("/",1)[1], i.get("contentType"), (i.get("tags") or {}).get("MachineName"), i["attributes"]["enabled"]] for i in d["value"]]' <"$tmp/r")"
check "default page size is 25, no nextLink" "7 None" "$(js '"%d %s" % (len(d["value"]), d["nextLink"])' <"$tmp/r")"
check "two secrets for WIN-ADE01 C:\\ (newest is the real one)" "6E15ED15-9DF7-4953-8113-A229F78758F2 1684591391 < 4381F759-C4F8-4DE0-BB61-FC33A831BDA5 1710058360" \
    "$(js '" < ".join("%s %d" % (i["id"].rsplit("/",1)[1], i["attributes"]["created"]) for i in sorted([i for i in d["value"] if (i.get("tags") or {}).get("MachineName","").lower()=="win-ade01" and (i.get("tags") or {}).get("VolumeLetter")=="C:\\" and "BEK" in (i.get("contentType") or "")], key=lambda i: i["attributes"]["created"]))' <"$tmp/r")"

# versions, disabled versions, names ignore case
check "versions of ADE_OTHER" 200 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_OTHER_NAME/versions?api-version=$V")"
check "versions: ids versioned, latest disabled" "$KV_FX_SECRET_ADE_OTHER_V1_VERSION:True $KV_FX_SECRET_ADE_OTHER_V2_VERSION:False" \
    "$(js '" ".join("%s:%s" % (i["id"].rsplit("/",1)[1], i["attributes"]["enabled"]) for i in d["value"])' <"$tmp/r")"
check "GET disabled current version" 403 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_OTHER_NAME?api-version=$V")"
check "SecretDisabled" "Forbidden/SecretDisabled Operation get is not allowed on a disabled secret." \
    "$(js '"%s/%s %s" % (d["error"]["code"], d["error"]["innererror"]["code"], d["error"]["message"])' <"$tmp/r")"
check "GET the enabled older version" 200 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_OTHER_NAME/$KV_FX_SECRET_ADE_OTHER_V1_VERSION?api-version=$V")"
check "secret names ignore case" 200 "$(get "$VT" "$ADE/secrets/4381f759-c4f8-4de0-bb61-fc33a831bda5?api-version=$V")"
check "unknown secret" "404 SecretNotFound" "$(get "$VT" "$ADE/secrets/00000000-0000-0000-0000-000000000000?api-version=$V") $(js 'd["error"]["code"]' <"$tmp/r")"
check "unknown secret version" 404 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME/00000000000000000000000000000000?api-version=$V")"
check "double slash and trailing slash accepted" 200 "$(get "$VT" "$ADE//secrets/$KV_FX_SECRET_ADE_REAL_NAME/?api-version=$V")"
check "wrong Host header" 400 "$(get "$VT" "$ADE/secrets?api-version=$V" -H "Host: contoso-ade.vault.azure.net")"

# ---------------------------------------------------------------- the real BEK: plain
PLAIN=$KV_EMU_VAULT_PLAIN
check "plain BEK get" 200 "$(get "$HVT" "$PLAIN/secrets/$KV_FX_SECRET_PLAIN_REAL_NAME/$KV_FX_SECRET_PLAIN_REAL_VERSION?api-version=$V")"
check "plain BEK contentType" BEK "$(js 'd["contentType"]' <"$tmp/r")"
js 'd["value"]' <"$tmp/r" | base64 -d >"$tmp/plain.bek"
check "plain BEK value is the real .BEK (standard base64)" same "$(cmp -s "$tmp/plain.bek" "$KV_FX_REAL_BEK" && echo same)"
check "real .BEK: 156 bytes, header GUID = file name" "156 $KV_FX_REAL_BEK_ID" "$(wc -c <"$KV_FX_REAL_BEK") $(bek_guid "$KV_FX_REAL_BEK")"
check "real .BEK copy is 0600" 600 "$(stat -c %a "$KV_FX_REAL_BEK")"
get "$HVT" "$PLAIN/secrets/$KV_FX_SECRET_PLAIN_STALE_NAME?api-version=$V" >/dev/null
js 'd["value"]' <"$tmp/r" | base64 -d >"$tmp/stale.bek"
check "stale BEK: 156 bytes, its own GUID" "156 $KV_FX_SECRET_PLAIN_STALE_NAME" "$(wc -c <"$tmp/stale.bek") $(bek_guid "$tmp/stale.bek")"

# ---------------------------------------------------------------- the real BEK: wrapped, latest-KEK trap
check "wrapped BEK get" 200 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
wrapped=$(js 'd["value"]' <"$tmp/r")
tagurl=$(js 'd["tags"]["DiskEncryptionKeyEncryptionKeyURL"]' <"$tmp/r")
check "wrapped: contentType, alg tag" "Wrapped BEK RSA-OAEP" "$(js '"%s %s" % (d["contentType"], d["tags"]["DiskEncryptionKeyEncryptionAlgorithm"])' <"$tmp/r")"
check "wrapped value is base64url" yes "$(echo "$wrapped" | grep -q '^[A-Za-z0-9_-]*$' && echo yes)"
check "KEK URL tag: versioned (V2)" "$KV_FX_KEK_ADE_KEK_V2" "${tagurl##*/}"
[ "$port443" = 1 ] && check "KEK URL tag carries :443" "https://$KV_EMU_VAULT_ADE_HOST:443/keys/ade-kek/$KV_FX_KEK_ADE_KEK_V2" "$tagurl"
check "key get (latest)" 200 "$(get "$VT" "$ADE/keys/ade-kek?api-version=$V")"
latest=$(js 'd["key"]["kid"]' <"$tmp/r")
check "latest KEK is V3" "$ADE/keys/ade-kek/$KV_FX_KEK_ADE_KEK_V3" "$latest"
check "key: RSA, unwrapKey op" "RSA True" "$(js '"%s %s" % (d["key"]["kty"], "unwrapKey" in d["key"]["key_ops"])' <"$tmp/r")"
check "key versions" 3 "$(get "$VT" "$ADE/keys/ade-kek/versions?api-version=$V" >/dev/null; js 'len(d["value"])' <"$tmp/r")"
check "TRAP: unwrap with the latest KEK fails" 400 "$(unwrap "$VT" "$latest" RSA-OAEP "$wrapped")"
check "TRAP: BadParameter, OAEP padding" "BadParameter Error occurred while decoding OAEP padding." "$(js '"%s %s" % (d["error"]["code"], d["error"]["message"])' <"$tmp/u")"
check "unwrap with the tag's KEK URL (as given, :443 included)" 200 "$(unwrap "$VT" "$tagurl" RSA-OAEP "$wrapped")"
check "unwrap answer: kid" "$ADE/keys/ade-kek/$KV_FX_KEK_ADE_KEK_V2" "$(js 'd["kid"]' <"$tmp/u")"
js 'd["value"]' <"$tmp/u" | b64url_to_file >"$tmp/oaep.bek"
check "RSA-OAEP unwrap gives the real .BEK" same "$(cmp -s "$tmp/oaep.bek" "$KV_FX_REAL_BEK" && echo same)"
# independent of the emulator's own RSA: openssl with the KEK's private key (DIR/keks/)
echo "$wrapped" | b64url_to_file >"$tmp/wrapped.bin"
check "openssl: RSA-OAEP (SHA-1) with KEK V2 gives the real .BEK" same "$(openssl pkeyutl -decrypt \
    -inkey "$KV_EMU_DIR/keks/contoso-ade.ade-kek.$KV_FX_KEK_ADE_KEK_V2.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha1 -in "$tmp/wrapped.bin" 2>/dev/null | cmp -s - "$KV_FX_REAL_BEK" && echo same)"
check "openssl: KEK V3 cannot" fails "$(openssl pkeyutl -decrypt -inkey "$KV_EMU_DIR/keks/contoso-ade.ade-kek.$KV_FX_KEK_ADE_KEK_V3.pem" \
    -pkeyopt rsa_padding_mode:oaep -in "$tmp/wrapped.bin" >/dev/null 2>&1 || echo fails)"
check "openssl: the server certificate verifies against the test CA, SAN has the vault address" "0 yes" \
    "$(echo | openssl s_client -connect "$KV_EMU_VAULT_ADE_HOST$([ "$port443" = 1 ] && echo :443)" -CAfile "$BDEKEY_CA_BUNDLE" \
        -verify_return_error 2>/dev/null | sed -n 's/^ *Verify return code: \([0-9]*\).*/\1/p' | head -1) $(openssl x509 -in "$KV_EMU_DIR/kv-server.pem" \
        -noout -ext subjectAltName | grep -q "IP Address:${KV_EMU_VAULT_ADE_HOST%%:*}" && echo yes)"
check "unwrap with a wrong alg fails" 400 "$(unwrap "$VT" "$tagurl" RSA-OAEP-256 "$wrapped")"
check "unwrap with an unknown alg" 400 "$(unwrap "$VT" "$tagurl" RSA-OAEP-384 "$wrapped")"
check "unwrap with standard base64 refused" 400 "$(unwrap "$VT" "$tagurl" RSA-OAEP "$(echo "$wrapped" | tr '_-' '/+')==")"
check "unwrap needs JSON" 400 "$(req "$tmp/u" -H "Authorization: Bearer $VT" -d "alg=RSA-OAEP" "$tagurl/unwrapkey?api-version=$V")"
check "unwrap by GET" 405 "$(get "$VT" "$tagurl/unwrapkey?api-version=$V")"
check "unknown KEK version" 404 "$(unwrap "$VT" "$ADE/keys/ade-kek/00000000000000000000000000000000" RSA-OAEP "$wrapped")"
# the stale and the D:\ secret
get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_DATA_NAME?api-version=$V" >/dev/null
check "data volume D:\\, MachineName in lower case, RSA-OAEP-256" 'D:\ win-ade01 RSA-OAEP-256' "$(js '"%s %s %s" % (d["tags"]["VolumeLetter"], d["tags"]["MachineName"], d["tags"]["DiskEncryptionKeyEncryptionAlgorithm"])' <"$tmp/r")"
check "D:\\ unwrap (RSA-OAEP-256)" 200 "$(unwrap "$VT" "$(js 'd["tags"]["DiskEncryptionKeyEncryptionKeyURL"]' <"$tmp/r")" RSA-OAEP-256 "$(js 'd["value"]' <"$tmp/r")")"
js 'd["value"]' <"$tmp/u" | b64url_to_file >"$tmp/data.bek"
check "D:\\ BEK GUID = secret name" "$KV_FX_SECRET_ADE_DATA_NAME" "$(bek_guid "$tmp/data.bek")"

# ---------------------------------------------------------------- RSA-OAEP-256 and RSA1_5 with the real BEK
KEK=$KV_EMU_VAULT_KEK
get "$VT" "$KEK/secrets/$KV_FX_SECRET_KEK_REAL_NAME?api-version=$V" >/dev/null
check "contoso-kek current version: RSA-OAEP-256" "$KV_FX_SECRET_KEK_REAL_CURRENT_VERSION RSA-OAEP-256" "$(js '"%s %s" % (d["id"].rsplit("/",1)[1], d["tags"]["DiskEncryptionKeyEncryptionAlgorithm"])' <"$tmp/r")"
check "RSA-OAEP-256 unwrap" 200 "$(unwrap "$VT" "$(js 'd["tags"]["DiskEncryptionKeyEncryptionKeyURL"]' <"$tmp/r")" RSA-OAEP-256 "$(js 'd["value"]' <"$tmp/r")")"
js 'd["value"]' <"$tmp/u" | b64url_to_file >"$tmp/oaep256.bek"
check "RSA-OAEP-256 gives the real .BEK" same "$(cmp -s "$tmp/oaep256.bek" "$KV_FX_REAL_BEK" && echo same)"
check "openssl: RSA-OAEP-256 is SHA-256 with MGF1-SHA-256" same "$(js 'd["value"]' <"$tmp/r" | b64url_to_file | openssl pkeyutl -decrypt \
    -inkey "$KV_EMU_DIR/keks/contoso-kek.kek-oaep256.$KV_FX_KEK_OAEP256_KEK_V1.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 2>/dev/null | cmp -s - "$KV_FX_REAL_BEK" && echo same)"
get "$VT" "$KEK/secrets/$KV_FX_SECRET_KEK_REAL_NAME/$KV_FX_SECRET_KEK_REAL_LEGACY_VERSION?api-version=$V" >/dev/null
legacy=$(js 'd["value"]' <"$tmp/r")
check "legacy version: RSA1_5" RSA1_5 "$(js 'd["tags"]["DiskEncryptionKeyEncryptionAlgorithm"]' <"$tmp/r")"
check "RSA1_5 unwrap" 200 "$(unwrap "$VT" "$(js 'd["tags"]["DiskEncryptionKeyEncryptionKeyURL"]' <"$tmp/r")" RSA1_5 "$legacy")"
js 'd["value"]' <"$tmp/u" | b64url_to_file >"$tmp/rsa15.bek"
check "RSA1_5 gives the real .BEK" same "$(cmp -s "$tmp/rsa15.bek" "$KV_FX_REAL_BEK" && echo same)"
check "RSA1_5 with the wrong KEK fails (no implicit-rejection garbage)" 400 "$(unwrap "$VT" "$KV_FX_KEK_OAEP256_KEK_V1_URL" RSA1_5 "$legacy")"
if command -v cryptsetup >/dev/null && tar --sparse -xJf "$here/../volume/data/bitlk-images.tar.xz" -C "$tmp" bitlk-images/bitlk-aes-xts-128-startup-key.img 2>/dev/null; then
    img=$tmp/bitlk-images/bitlk-aes-xts-128-startup-key.img
    check "cryptsetup: the unwrapped BEK opens the Windows-made volume" 0 "$(cryptsetup open --test-passphrase --type bitlk --key-file "$tmp/oaep.bek" "$img" >/dev/null 2>&1; echo $?)"
    check "cryptsetup: the stale BEK does not" 2 "$(cryptsetup open --test-passphrase --type bitlk --key-file "$tmp/stale.bek" "$img" >/dev/null 2>&1; echo $?)"
    rm -rf "$tmp/bitlk-images"
else
    echo "selftest-kv: cryptsetup or the image not available: volume-unlock checks skipped" >&2
fi

# ---------------------------------------------------------------- authorization: access policies, RBAC
check "basic lists contoso-ade (secrets list)" 200 "$(get "$BVT" "$ADE/secrets?api-version=$V")"
check "basic cannot get (access policy)" 403 "$(get "$BVT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
check "AccessDenied names secrets get" "Forbidden AccessDenied yes" "$(js '"%s %s %s" % (d["error"]["code"], d["error"]["innererror"]["code"], "yes" if "does not have secrets get permission on key vault '"'"'contoso-ade;location=westeurope'"'"'" in d["error"]["message"] else d["error"]["message"])' <"$tmp/r")"
check "basic cannot unwrap in contoso-kek" 403 "$(unwrap "$BVT" "$KV_FX_KEK_OAEP256_KEK_V1_URL" RSA-OAEP-256 "$wrapped")"
check_has "AccessDenied names keys unwrapKey" "does not have keys unwrapKey permission" "$(js 'd["error"]["message"]' <"$tmp/u")"
check "NOROLES app cannot list" 403 "$(get "$NVT" "$ADE/secrets?api-version=$V")"
check_has "... secrets list" "does not have secrets list permission" "$(js 'd["error"]["message"]' <"$tmp/r")"
check "basic (Key Vault Reader) lists contoso-plain" 200 "$(get "$BVT" "$PLAIN/secrets?api-version=$V")"
check "basic cannot get (RBAC)" 403 "$(get "$BVT" "$PLAIN/secrets/$KV_FX_SECRET_PLAIN_REAL_NAME?api-version=$V")"
check "ForbiddenByRbac names the action" "Forbidden ForbiddenByRbac yes" "$(js '"%s %s %s" % (d["error"]["code"], d["error"]["innererror"]["code"], "yes" if "Action: '"'"'Microsoft.KeyVault/vaults/secrets/getSecret/action'"'"'" in d["error"]["message"] else "no")' <"$tmp/r")"
check "APP (Secrets User only) cannot read keys in contoso-plain" 403 "$(get "$VT" "$PLAIN/keys/none?api-version=$V")"
check_has "... names keys/read" "Microsoft.KeyVault/vaults/keys/read" "$(js 'd["error"]["message"]' <"$tmp/r")"

# ---------------------------------------------------------------- faults (per path)
fault() { kvcfg "{\"faults\":[$1]}"; }
fault '{"host":"contoso-ade","match":"/secrets/4381","kind":"firewall"}' >/dev/null
check "firewall 403" 403 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
check "ForbiddenByFirewall" "Forbidden ForbiddenByFirewall yes" "$(js '"%s %s %s" % (d["error"]["code"], d["error"]["innererror"]["code"], "yes" if d["error"]["message"].startswith("Client address is not authorized and caller is not a trusted service.\r\nClient address: 127.0.0.1") else "no")' <"$tmp/r")"
check "fault count 1: then fine" 200 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
fault '{"match":"/secrets/4381","kind":"rbac","count":null}' >/dev/null
check "RBAC 403 (until cleared)" "403 403" "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V") $(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
check_has "RBAC fault names getSecret" "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'" "$(js 'd["error"]["message"]' <"$tmp/r")"
check "other paths unaffected" 200 "$(get "$VT" "$ADE/secrets?api-version=$V")"
fault '{"match":"/unwrapkey","kind":"policy","permission":"keys unwrapKey"}' >/dev/null
check "access-policy 403 on unwrap" 403 "$(unwrap "$VT" "$tagurl" RSA-OAEP "$wrapped")"
check_has "policy fault names keys unwrapKey" "does not have keys unwrapKey permission" "$(js 'd["error"]["message"]' <"$tmp/u")"
fault '{"match":"/secrets/4381","kind":"throttle","retry_after":2}' >/dev/null
check "429 with Retry-After" "429 Retry-After: 2" "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V" -D "$tmp/h") $(grep -i '^retry-after' "$tmp/h" | tr -d '\r')"
check "429 body" Throttled "$(js 'd["error"]["code"]' <"$tmp/r")"
fault '{"match":"/secrets/4381","kind":"throttle","retry_after":null,"count":2}' >/dev/null
check "429 without Retry-After, twice" "429 0 429" "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V" -D "$tmp/h") $(grep -ci '^retry-after' "$tmp/h") $(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
check "then fine" 200 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
fault '{"match":"/secrets/4381","kind":"throttle"}' >/dev/null
check "429 comes before authentication" 429 "$(get "" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
fault '{"match":"/secrets/4381","kind":"disabled"}' >/dev/null
check "disabled-version fault" "403 SecretDisabled" "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V") $(js 'd["error"]["innererror"]["code"]' <"$tmp/r")"
fault '{"match":"/secrets/4381","kind":"status","status":503,"retry_after":1}' >/dev/null
check "injected 503" 503 "$(get "$VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
fault '{"match":"/secrets/4381","kind":"drop"}' >/dev/null
check "dropped connection" 52 "$(curl -s -o /dev/null -w '%{exitcode}' --cacert "$BDEKEY_CA_BUNDLE" -H "Authorization: Bearer $VT" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V")"
check "unknown fault kind refused" 400 "$(fault '{"kind":"explode"}')"
check "unknown knob refused" 400 "$(kvcfg '{"page_size":3}')"
check "set_enabled hook" 200 "$(req /dev/null -H 'Content-Type: application/json' -d '{"vault":"contoso-plain","name":"'"$KV_FX_SECRET_PLAIN_REAL_NAME"'","enabled":false}' "$KV_EMU_URL/_test/set_enabled")"
check "disabled by the hook" 403 "$(get "$HVT" "$PLAIN/secrets/$KV_FX_SECRET_PLAIN_REAL_NAME?api-version=$V")"
check "list shows it disabled" false "$(get "$HVT" "$PLAIN/secrets?api-version=$V" >/dev/null; js '[i["attributes"]["enabled"] for i in d["value"] if i["id"].endswith("'"$KV_FX_SECRET_PLAIN_REAL_NAME"'")][0]' <"$tmp/r")"
req /dev/null -H 'Content-Type: application/json' -d '{"vault":"contoso-plain","name":"'"$KV_FX_SECRET_PLAIN_REAL_NAME"'","enabled":true}' "$KV_EMU_URL/_test/set_enabled" >/dev/null
check "enabled again" 200 "$(get "$HVT" "$PLAIN/secrets/$KV_FX_SECRET_PLAIN_REAL_NAME?api-version=$V")"

# ---------------------------------------------------------------- counters and request log
"${CURL[@]}" -o /dev/null -X POST "$KV_EMU_URL/_test/stats/reset"
last=$("${CURL[@]}" "$KV_EMU_URL/_test/requests" | js 'd["last"]')
"${CURL[@]}" -o /dev/null -o /dev/null -o /dev/null -H "Authorization: Bearer $VT" \
    "$ADE/secrets?api-version=$V" "$ADE/secrets/$KV_FX_SECRET_ADE_REAL_NAME?api-version=$V" "$ADE/keys/ade-kek?api-version=$V"
"${CURL[@]}" -o /dev/null "$PLAIN/secrets?api-version=$V"
"${CURL[@]}" "$KV_EMU_URL/_test/stats" >"$tmp/s"
check "stats: 3 requests, 1 connection on contoso-ade" "3 1 3 0" "$(js '"%(requests)d %(tls_connections)d %(with_token)d %(without_token)d" % d["hosts"]["contoso-ade"]' <"$tmp/s")"
check "stats: no token sent to contoso-plain" "1 1 0 1" "$(js '"%(requests)d %(tls_connections)d %(with_token)d %(without_token)d" % d["hosts"]["contoso-plain"]' <"$tmp/s")"
check "stats: status per host" '{"200": 3}' "$(js 'd["hosts"]["contoso-ade"]["status"]' <"$tmp/s")"
check "stats: nothing on ARM, hooks not counted" "0 0" "$(js '"%d %d" % (d["hosts"]["arm"]["requests"], d["hosts"]["contoso-kek"]["requests"])' <"$tmp/s")"
"${CURL[@]}" "$KV_EMU_URL/_test/requests?since=$last" >"$tmp/q"
check "request log: 4 entries, hosts in order" "contoso-ade contoso-ade contoso-ade contoso-plain" "$(js '" ".join(r["host"] for r in d["value"])' <"$tmp/q")"
check "request log: Authorization redacted to its aud" "Bearer <aud=https://vault.azure.net sub=$GRAPH_EMU_APP_CLIENT_ID>" "$(js 'd["value"][0]["headers"]["authorization"]' <"$tmp/q")"
check "request log: no token on the last one" "False None None" "$(js '"%s %s %s" % (d["value"][3]["token"], d["value"][3]["aud"], d["value"][3]["headers"].get("authorization"))' <"$tmp/q")"
check "request log: method, path, query, connection reuse" "GET /secrets/$KV_FX_SECRET_ADE_REAL_NAME api-version=$V False" "$(js '"%s %s %s %s" % (d["value"][1]["method"], d["value"][1]["path"], d["value"][1]["query"], d["value"][1]["new_tls"])' <"$tmp/q")"
check "log file: one line per request, no token in it" "yes 0" "$(grep -q "http host=contoso-plain .* GET /secrets?api-version=$V 401 .* auth=- " "$KV_EMU_LOG" && echo yes) $(grep -c 'eyJ0eXAi' "$KV_EMU_LOG")"
check "log file: no secret value in it" 0 "$(grep -c "$(head -c 12 "$tmp/plain.bek" | base64 | head -c 12)" "$KV_EMU_LOG")"

# ---------------------------------------------------------------- ARM
ARM=$BDEKEY_ARM/subscriptions/$BDEKEY_SUBSCRIPTION/resourceGroups
VMV=api-version=2024-07-01
DKV=api-version=2023-04-02
check "ARM without a token" "401 AuthenticationFailed" "$(get "" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV") $(js 'd["error"]["code"]' <"$tmp/r")"
check "ARM with a vault token" "401 InvalidAuthenticationTokenAudience" "$(get "$VT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV") $(js 'd["error"]["code"]' <"$tmp/r")"
check "ARM api-version required" "400 MissingApiVersionParameter" "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual") $(js 'd["error"]["code"]' <"$tmp/r")"
check "ARM unknown api-version" "400 NoRegisteredProviderFound" "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?api-version=2099-01-01") $(js 'd["error"]["code"]' <"$tmp/r")"
check "dual pass VM" 200 "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV")"
es='d["properties"]["storageProfile"]["osDisk"]["encryptionSettings"]'
secret_url=$(js "$es[\"diskEncryptionKey\"][\"secretUrl\"]" <"$tmp/r")
key_url=$(js "$es[\"keyEncryptionKey\"][\"keyUrl\"]" <"$tmp/r")
check "dual pass: versioned secretUrl (name in lower case)" "$ADE/secrets/4381f759-c4f8-4de0-bb61-fc33a831bda5/$KV_FX_SECRET_ADE_REAL_VERSION" "$secret_url"
check "dual pass: keyUrl (V2, name in upper case)" "$ADE/keys/ADE-KEK/$KV_FX_KEK_ADE_KEK_V2" "$key_url"
check "dual pass: computerName = MachineName tag" "WIN-ADE01 True" "$(js 'd["properties"]["osProfile"]["computerName"] + " " + str('"$es"'["enabled"])' <"$tmp/r")"
check "dual pass: secretUrl works as given" 200 "$(get "$HVT" "$secret_url?api-version=$V")"
check "dual pass: keyUrl unwraps as given" 200 "$(unwrap "$HVT" "$key_url" RSA-OAEP "$(js 'd["value"]' <"$tmp/r")")"
js 'd["value"]' <"$tmp/u" | b64url_to_file >"$tmp/arm.bek"
check "dual pass chain: the real .BEK" same "$(cmp -s "$tmp/arm.bek" "$KV_FX_REAL_BEK" && echo same)"
check "single pass VM" 200 "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-single?$VMV")"
check "single pass: no encryptionSettings on the VM" None "$(js 'd["properties"]["storageProfile"]["osDisk"].get("encryptionSettings")' <"$tmp/r")"
disk=$(js 'd["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]' <"$tmp/r")
check "single pass: disk id (resource group in upper case)" "$KV_FX_DISK_SINGLE_OS_ID" "$disk"
check_has "disk id has RG-VMS" "/resourceGroups/RG-VMS/" "$disk"
check "single pass: data disk listed" "vm-single_DataDisk_0" "$(js 'd["properties"]["storageProfile"]["dataDisks"][0]["name"]' <"$tmp/r")"
check "single pass disk (case-insensitive path)" 200 "$(get "$AT" "$BDEKEY_ARM$disk?$DKV")"
check "encryptionSettingsCollection" "True 1.1 1 False" "$(js '(lambda c: "%s %s %d %s" % (c["enabled"], c["encryptionSettingsVersion"], len(c["encryptionSettings"]), "keyEncryptionKey" in c["encryptionSettings"][0]))(d["properties"]["encryptionSettingsCollection"])' <"$tmp/r")"
surl=$(js 'd["properties"]["encryptionSettingsCollection"]["encryptionSettings"][0]["diskEncryptionKey"]["secretUrl"]' <"$tmp/r")
[ "$port443" = 1 ] && check "single pass secretUrl carries :443" "https://$KV_EMU_VAULT_PLAIN_HOST:443/secrets/$KV_FX_SECRET_PLAIN_REAL_NAME/$KV_FX_SECRET_PLAIN_REAL_VERSION" "$surl"
check "single pass chain" 200 "$(get "$HVT" "$surl?api-version=$V")"
js 'd["value"]' <"$tmp/r" | base64 -d >"$tmp/single.bek"
check "single pass chain: the real .BEK" same "$(cmp -s "$tmp/single.bek" "$KV_FX_REAL_BEK" && echo same)"
get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-kek?$VMV" >/dev/null
get "$AT" "$BDEKEY_ARM$(js 'd["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]' <"$tmp/r")?$DKV" >/dev/null
kurl=$(js 'd["properties"]["encryptionSettingsCollection"]["encryptionSettings"][0]["keyEncryptionKey"]["keyUrl"]' <"$tmp/r")
surl=$(js 'd["properties"]["encryptionSettingsCollection"]["encryptionSettings"][0]["diskEncryptionKey"]["secretUrl"]' <"$tmp/r")
[ "$port443" = 1 ] && check "single pass with KEK: keyUrl carries :443" "https://$KV_EMU_VAULT_KEK_HOST:443/keys/kek-oaep256/$KV_FX_KEK_OAEP256_KEK_V1" "$kurl"
get "$HVT" "$surl?api-version=$V" >/dev/null
check "single pass with KEK chain" 200 "$(unwrap "$HVT" "$kurl" RSA-OAEP-256 "$(js 'd["value"]' <"$tmp/r")")"
js 'd["value"]' <"$tmp/u" | b64url_to_file >"$tmp/kek.bek"
check "single pass with KEK: the real .BEK" same "$(cmp -s "$tmp/kek.bek" "$KV_FX_REAL_BEK" && echo same)"
get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-legacy?$VMV" >/dev/null
check "vm-legacy: the older secret version (RSA1_5)" "$KV_FX_SECRET_KEK_REAL_LEGACY_VERSION" "$(js "$es[\"diskEncryptionKey\"][\"secretUrl\"]" <"$tmp/r" | sed 's#.*/##')"
get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-oddurl?$VMV" >/dev/null
check "vm-oddurl: unversioned keyUrl" "$ADE/keys/ade-kek/" "$(js "$es[\"keyEncryptionKey\"][\"keyUrl\"]" <"$tmp/r")"
get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-noade?$VMV" >/dev/null
check "vm-noade: no encryption anywhere" "None None" "$(js 'd["properties"]["storageProfile"]["osDisk"].get("encryptionSettings")' <"$tmp/r") $(get "$AT" "$BDEKEY_ARM$(js 'd["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]' <"$tmp/r")?$DKV" >/dev/null; js 'd["properties"].get("encryptionSettingsCollection")' <"$tmp/r")"
get "$AT" "$BDEKEY_ARM$KV_FX_DISK_DISABLED_OS_ID?$DKV" >/dev/null
check "vm-disabled: settings kept, enabled false" "False 1" "$(js '(lambda c: "%s %d" % (c["enabled"], len(c["encryptionSettings"])))(d["properties"]["encryptionSettingsCollection"])' <"$tmp/r")"
check "list VMs of rg-vms" 7 "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines?$VMV" >/dev/null; js 'len(d["value"])' <"$tmp/r")"
check "vault resource: vaultUri" "$ADE/ False" "$(get "$AT" "$ARM/rg-keys/providers/Microsoft.KeyVault/vaults/contoso-ade?api-version=2022-07-01" >/dev/null; js 'd["properties"]["vaultUri"] + " " + str(d["properties"]["enableRbacAuthorization"])' <"$tmp/r")"
check "unknown VM" "404 ResourceNotFound" "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-nope?$VMV") $(js 'd["error"]["code"]' <"$tmp/r")"
check_has "ResourceNotFound message" "The Resource 'Microsoft.Compute/virtualMachines/vm-nope' under resource group 'rg-vms' was not found." "$(js 'd["error"]["message"]' <"$tmp/r")"
check "unknown resource group" "404 ResourceGroupNotFound" "$(get "$AT" "$ARM/rg-nope/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV") $(js 'd["error"]["code"]' <"$tmp/r")"
check "unknown subscription" "404 SubscriptionNotFound" "$(get "$AT" "$BDEKEY_ARM/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV") $(js 'd["error"]["code"]' <"$tmp/r")"
BAT=$("${CURL[@]}" -d grant_type=client_credentials -d client_id="$GRAPH_EMU_NOROLES_CLIENT_ID" \
    --data-urlencode "client_secret@$GRAPH_EMU_NOROLES_SECRET_FILE" --data-urlencode "scope=https://management.azure.com/.default" "$AUTH/token" | js 'd["access_token"]')
check "ARM 403 for a principal without Reader" "403 AuthorizationFailed" "$(get "$BAT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV") $(js 'd["error"]["code"]' <"$tmp/r")"
check_has "AuthorizationFailed names the action" "does not have authorization to perform action 'Microsoft.Compute/virtualMachines/read' over scope" "$(js 'd["error"]["message"]' <"$tmp/r")"
fault '{"host":"arm","match":"/virtualMachines/vm-dual","kind":"throttle","retry_after":3}' >/dev/null
check "ARM 429 + Retry-After" "429 TooManyRequests Retry-After: 3" "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV" -D "$tmp/h") $(js 'd["error"]["code"]' <"$tmp/r") $(grep -i '^retry-after' "$tmp/h" | tr -d '\r')"
fault '{"host":"arm","kind":"forbidden"}' >/dev/null
check "ARM injected 403" 403 "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV")"
fault '{"host":"arm","kind":"notfound"}' >/dev/null
check "ARM injected 404" 404 "$(get "$AT" "$ARM/rg-vms/providers/Microsoft.Compute/virtualMachines/vm-dual?$VMV")"

# ---------------------------------------------------------------- the 2,000-secret vault, pages of 25
"${CURL[@]}" -o /dev/null -X POST "$KV_EMU_URL/_test/stats/reset"
"$py" - "$BDEKEY_CA_BUNDLE" "$KV_EMU_VAULT_BENCH" "$VT" >"$tmp/bench" <<'PY'
import http.client, json, ssl, sys, urllib.parse
ca, base, tok = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
u = urllib.parse.urlsplit(base)
conn = http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx, timeout=10)
url, pages, items, machines = base + "/secrets?api-version=7.4", 0, 0, set()
while url:
    p = urllib.parse.urlsplit(url)
    conn.request("GET", p.path + "?" + p.query, headers={"Authorization": "Bearer " + tok})
    d = json.loads(conn.getresponse().read())
    pages += 1
    items += len(d["value"])
    machines |= {i["tags"]["MachineName"] for i in d["value"]}
    url = d.get("nextLink")
print(pages, items, len(machines))
PY
check "bench: 2,000 secrets in 80 pages of 25, 1,000 machines" "80 2000 1000" "$(cat "$tmp/bench")"
check "bench: 80 requests on one connection" "80 1" "$("${CURL[@]}" "$KV_EMU_URL/_test/stats" | js '"%(requests)d %(tls_connections)d" % d["hosts"]["contoso-bench"]')"
"${CURL[@]}" "$KV_EMU_URL/_test/bench?i=1555" >"$tmp/b"
check "bench secret 1555: BENCH-0777 D:\\ wrapped" 'BENCH-0777 D:\ Wrapped BEK' "$(js '"%s %s %s" % (d["tags"]["MachineName"], d["tags"]["VolumeLetter"], d["contentType"])' <"$tmp/b")"
get "$VT" "$KV_EMU_VAULT_BENCH/secrets/$(js 'd["name"]' <"$tmp/b")?api-version=$V" >/dev/null
check "bench: unwrap" 200 "$(unwrap "$VT" "$(js 'd["tags"]["DiskEncryptionKeyEncryptionKeyURL"]' <"$tmp/r")" RSA-OAEP "$(js 'd["value"]' <"$tmp/r")")"
check "bench: unwrapped = /_test/bench's BEK" "$(js 'd["bek"]' <"$tmp/b")" "$(js 'd["value"]' <"$tmp/u" | b64url_to_file | base64 -w0)"
check "knob bench_secrets" 200 "$(kvcfg '{"bench_secrets":60}')"
check "bench: 60 secrets now" "25 yes" "$(get "$VT" "$KV_EMU_VAULT_BENCH/secrets?api-version=$V" >/dev/null; js '"%d %s" % (len(d["value"]), "yes" if d["nextLink"] else "no")' <"$tmp/r")"

# ---------------------------------------------------------------- hooks
check "fixture summary" "contoso-ade contoso-bench contoso-kek contoso-plain" "$("${CURL[@]}" "$KV_EMU_URL/_test/fixture" | js '" ".join(sorted(d["vaults"]))')"
check "expected hook: the real BEK" true "$("${CURL[@]}" "$KV_EMU_URL/_test/expected?vault=contoso-ade&name=$KV_FX_SECRET_ADE_REAL_NAME" | js 'd["real"]')"
check "reset" 200 "$(req /dev/null -X POST "$KV_EMU_URL/_test/reset")"
check "reset restores knobs" "[] 2000" "$("${CURL[@]}" "$KV_EMU_URL/_test/config" | js '"%s %d" % (json.dumps(d["faults"]), d["bench_secrets"])')"
check "the control listener serves hooks only" 404 "$(req /dev/null "$KV_EMU_URL/secrets?api-version=$V")"

# ---------------------------------------------------------------- token expiry at the vault
tok2=$VT
check "expire_tokens" 200 "$(req /dev/null -X POST "$KV_EMU_URL/_test/expire_tokens")"
check "old token refused" 401 "$(get "$tok2" "$ADE/secrets?api-version=$V")"
VT=$(app_token "https://vault.azure.net/.default")
AT=$(app_token "https://management.azure.com/.default")
check "new token accepted" 200 "$(get "$VT" "$ADE/secrets?api-version=$V")"

# ---------------------------------------------------------------- --ports any (no root needed)
if KV_EMU_PORTS=any "$here/server.sh" start "$tmp/kv2" >"$tmp/env2"; then
    ok
    check "ports any: KV_EMU_PORT443=0" "export KV_EMU_PORT443=0" "$(grep KV_EMU_PORT443 "$tmp/env2")"
    u=$(sed -n "s/^export KV_EMU_VAULT_PLAIN=//p" "$tmp/env2")
    u443=$(sed -n "s/^export KV_EMU_VAULT_PLAIN_443=//p" "$tmp/env2")
    check "ports any: the :443 form is the plain form" "$u" "$u443"
    check_has "ports any: 127.0.0.1 with a port" "https://127.0.0.1:" "$u"
    check "ports any: serves" 200 "$(get "$VT" "$u/secrets?api-version=$V")"
    "$here/server.sh" stop "$tmp/kv2"
else
    no "KV_EMU_PORTS=any start"
fi

t1=$(date +%s.%N)
echo "selftest-kv: checks took $("$py" -c "print('%.1f s' % ($t1 - $t0))")"
echo "selftest-kv: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
