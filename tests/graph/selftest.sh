#!/usr/bin/env bash
# selftest.sh - exercise the Graph emulator with curl: proves the emulator itself behaves
# as README.md says before client tests rely on it.  Exit status 0 = all checks passed.
# Needs curl, openssl and /usr/bin/python3 with python3-cryptography.  About 15 s.
set -u

here=$(cd "$(dirname "$0")" && pwd)
py=${GRAPH_EMU_PYTHON:-/usr/bin/python3}
command -v curl >/dev/null || { echo "selftest: curl is required" >&2; exit 1; }
"$py" -c 'import cryptography' 2>/dev/null || { echo "selftest: $py lacks python3-cryptography" >&2; exit 1; }

tmp=$(mktemp -d)
trap '"$here/server.sh" stop "$tmp/srv"; rm -rf "$tmp"' EXIT
env_lines=$("$here/server.sh" start "$tmp/srv") || exit 1
eval "$env_lines"

pass=0
fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok; else no "$1: expected [$2], got [$3]"; fi; }
# js EXPR < json : evaluate a Python expression over the parsed document d
js() { "$py" -c 'import json,sys; d=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if not isinstance(r,(dict,list,bool)) else json.dumps(r))' "$1"; }

CURL=(curl -sS --cacert "$BDEKEY_CA_BUNDLE" -A "bdekey-selftest/1" -H "client-request-id: 11111111-2222-3333-4444-555555555555")
AUTH=$BDEKEY_AUTHORITY/$BDEKEY_TENANT/oauth2/v2.0
G=$BDEKEY_GRAPH/v1.0
B=$BDEKEY_GRAPH/beta
DCG=urn:ietf:params:oauth:grant-type:device_code
SC="https://graph.microsoft.com/BitlockerKey.Read.All https://graph.microsoft.com/Device.Read.All https://graph.microsoft.com/DeviceManagementManagedDevices.ReadWrite.All offline_access openid profile"

# req OUTFILE CURL-ARGS... : body to OUTFILE, prints the status code
req() { local out=$1; shift; "${CURL[@]}" -o "$out" -w '%{http_code}' "$@"; }
cfg() { "${CURL[@]}" -o /dev/null -H 'Content-Type: application/json' -d "$1" "$GRAPH_EMU_URL/_test/config"; }
poll() { req "$tmp/poll" -d grant_type=$DCG -d client_id="$BDEKEY_CLIENT_ID" -d device_code="$1" "$AUTH/token" >/dev/null; js 'd.get("error") or "token"' <"$tmp/poll"; }
devicecode() { req "$tmp/dc" -d client_id="$BDEKEY_CLIENT_ID" --data-urlencode "scope=${1:-$SC}" "$AUTH/devicecode" >/dev/null; js 'd["device_code"]' <"$tmp/dc"; }
secret() { req "$tmp/cc" -d grant_type=client_credentials -d client_id="$1" --data-urlencode "client_secret=$2" \
    --data-urlencode "scope=https://graph.microsoft.com/.default" "$AUTH/token"; }
assertion() { req "$tmp/cc" -d grant_type=client_credentials -d client_id="$GRAPH_EMU_APP_CLIENT_ID" \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer -d client_assertion="$1" \
    --data-urlencode "scope=https://graph.microsoft.com/.default" "$AUTH/token"; }
mkjwt() { "$py" "$here/make_assertion.py" --client-id "$GRAPH_EMU_APP_CLIENT_ID" --aud "$GRAPH_EMU_TOKEN_URL" "$@"; }
get() { local tok=$1; shift; req "$tmp/g" -H "Authorization: Bearer $tok" "$@"; }

t0=$(date +%s.%N)

# ---------------------------------------------------------------- device code flow
dc=$(devicecode)
check "devicecode interval" 1 "$(js 'd["interval"]' <"$tmp/dc")"
check "devicecode message" yes "$(js '"yes" if d["user_code"] in d["message"] and "microsoft.com/devicelogin" in d["message"] else "no"' <"$tmp/dc")"
check "poll 1 pending" authorization_pending "$(poll "$dc")"
sleep 1.05
check "poll 2 token (auto-approved helpdesk)" token "$(poll "$dc")"
HD_AT=$(js 'd["access_token"]' <"$tmp/poll")
RT1=$(js 'd["refresh_token"]' <"$tmp/poll")
check "id_token upn" helpdesk@contoso.test "$(js 'json.loads(__import__("base64").urlsafe_b64decode(d["id_token"].split(".")[1]+"=="))["preferred_username"]' <"$tmp/poll")"
check "scope granted" "https://graph.microsoft.com/BitlockerKey.Read.All https://graph.microsoft.com/Device.Read.All https://graph.microsoft.com/DeviceManagementManagedDevices.ReadWrite.All openid profile offline_access" "$(js 'd["scope"]' <"$tmp/poll")"
check "redeemed code" invalid_grant "$(sleep 1.05; poll "$dc")"
check "bad device_code" bad_verification_code "$(poll nope)"

# manual approval of basic (ReadBasic only, no offline_access -> no refresh token)
cfg '{"device_flow":{"auto_approve_user":null}}'
dc=$(devicecode "BitlockerKey.Read.All BitlockerKey.ReadBasic.All Device.Read.All offline_access")
check "pending without approval" authorization_pending "$(poll "$dc")"
uc=$("${CURL[@]}" "$GRAPH_EMU_URL/_test/last_user_code")
check "approve" 200 "$(req /dev/null -d user_code="$uc" -d user=basic@contoso.test "$GRAPH_EMU_URL/_test/approve")"
sleep 1.05
check "basic token" token "$(poll "$dc")"
BASIC_AT=$(js 'd["access_token"]' <"$tmp/poll")
check "basic scope" "https://graph.microsoft.com/BitlockerKey.ReadBasic.All https://graph.microsoft.com/Device.Read.All" "$(js 'd["scope"]' <"$tmp/poll")"
check "basic no refresh token" None "$(js 'd.get("refresh_token")' <"$tmp/poll")"

n=$("${CURL[@]}" "$GRAPH_EMU_URL/_test/device_codes" | js 'd["issued"]')
check "no code after the newest yet" 408 "$(req /dev/null "$GRAPH_EMU_URL/_test/wait_user_code?after=$n&timeout_s=0.3")"
( sleep 0.5; devicecode >/dev/null ) &
check "wait_user_code waits for the next code" 200 "$(req "$tmp/uc" "$GRAPH_EMU_URL/_test/wait_user_code?after=$n&timeout_s=10")"
wait
check "wait_user_code gives that code" "$(js 'd["user_code"]' <"$tmp/dc")" "$(tr -d '\n' <"$tmp/uc")"
check "device_codes: seq and issued" "$((n + 1)) $((n + 1))" "$("${CURL[@]}" "$GRAPH_EMU_URL/_test/device_codes" | js '"%d %d" % (d["value"][-1]["seq"], d["issued"])')"
dc=$(devicecode)
"${CURL[@]}" -o /dev/null -d user=x "$GRAPH_EMU_URL/_test/decline"
check "declined" authorization_declined "$(poll "$dc")"

dc=$(devicecode)
check "norole approve" 200 "$(req /dev/null -d user=norole@contoso.test "$GRAPH_EMU_URL/_test/approve")"
check "norole token" token "$(poll "$dc")"
NOROLE_AT=$(js 'd["access_token"]' <"$tmp/poll")

cfg '{"device_flow":{"slow_down_on_poll":1,"auto_approve_user":"helpdesk@contoso.test","pending_polls":0}}'
dc=$(devicecode)
check "slow_down on poll 1" slow_down "$(poll "$dc")"
check "still too fast after slow_down" slow_down "$(sleep 1.05; poll "$dc")"
check "device code interval grew" 11 "$("${CURL[@]}" "$GRAPH_EMU_URL/_test/device_codes" | js 'd["value"][-1]["interval"]')"
cfg '{"device_flow":{"slow_down_on_poll":0,"interval":2}}'
dc=$(devicecode)
check "interval 2 first poll" token "$(poll "$dc")"
dc=$(devicecode)
poll "$dc" >/dev/null
cfg '{"device_flow":{"interval":1,"expires_in":1}}'
dc=$(devicecode)
sleep 1.1
check "expired code" expired_token "$(poll "$dc")"
cfg '{"device_flow":{"expires_in":900,"pending_polls":1}}'

# ---------------------------------------------------------------- refresh rotation
check "refresh 1" 200 "$(req "$tmp/r" -d grant_type=refresh_token -d client_id="$BDEKEY_CLIENT_ID" -d refresh_token="$RT1" --data-urlencode "scope=$SC" "$AUTH/token")"
RT2=$(js 'd["refresh_token"]' <"$tmp/r")
check "new refresh token differs" yes "$([ "$RT1" != "$RT2" ] && echo yes)"
check "old refresh token rejected" 400 "$(req "$tmp/r" -d grant_type=refresh_token -d client_id="$BDEKEY_CLIENT_ID" -d refresh_token="$RT1" "$AUTH/token")"
check "old refresh error" invalid_grant "$(js 'd["error"]' <"$tmp/r")"
check "refresh 2" 200 "$(req "$tmp/r" -d grant_type=refresh_token -d client_id="$BDEKEY_CLIENT_ID" -d refresh_token="$RT2" "$AUTH/token")"
HD_AT=$(js 'd["access_token"]' <"$tmp/r")

# ---------------------------------------------------------------- client credentials
check "secret ok" 200 "$(secret "$GRAPH_EMU_APP_CLIENT_ID" "$(cat "$GRAPH_EMU_APP_SECRET_FILE")")"
APP_AT=$(js 'd["access_token"]' <"$tmp/cc")
check "secret wrong" 401 "$(secret "$GRAPH_EMU_APP_CLIENT_ID" nope)"
check "secret wrong error" invalid_client "$(js 'd["error"]' <"$tmp/cc")"
check "noroles secret ok" 200 "$(secret "$GRAPH_EMU_NOROLES_CLIENT_ID" "$(cat "$GRAPH_EMU_NOROLES_SECRET_FILE")")"
NOROLES_AT=$(js 'd["access_token"]' <"$tmp/cc")
check "bad scope for client credentials" 400 "$(req "$tmp/cc" -d grant_type=client_credentials -d client_id="$GRAPH_EMU_APP_CLIENT_ID" --data-urlencode "client_secret=$(cat "$GRAPH_EMU_APP_SECRET_FILE")" -d scope=BitlockerKey.Read.All "$AUTH/token")"
jwt=$(mkjwt --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")
check "PS256 assertion ok" 200 "$(assertion "$jwt")"
check "PS256 replay" 401 "$(assertion "$jwt")"
check "PS256 replay AADSTS" 50012 "$(js 'd["error_codes"][0]' <"$tmp/cc")"
check "RS256 x5t ok" 200 "$(assertion "$(mkjwt --alg RS256 --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "wrong key" 401 "$(assertion "$(mkjwt --key "$GRAPH_EMU_WRONG_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "wrong key desc" yes "$(js '"yes" if "invalid signature" in d["error_description"] else d["error_description"]' <"$tmp/cc")"
check "unregistered cert" 401 "$(assertion "$(mkjwt --key "$GRAPH_EMU_WRONG_KEY" --cert "$GRAPH_EMU_WRONG_CERT")")"
check "PS256 with only x5t" 401 "$(assertion "$(mkjwt --thumbprint x5t --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "PSS max salt" 401 "$(assertion "$(mkjwt --pss-salt max --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "wrong aud" 401 "$(assertion "$(mkjwt --aud "$BDEKEY_AUTHORITY/common/oauth2/v2.0/token" --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "wrong iss" 401 "$(assertion "$(mkjwt --iss "$BDEKEY_CLIENT_ID" --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "expired assertion" 401 "$(assertion "$(mkjwt --exp-in -5 --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "too long assertion" 401 "$(assertion "$(mkjwt --exp-in 3600 --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "future iat" 401 "$(assertion "$(mkjwt --iat-offset 900 --nbf-offset 900 --exp-in 1200 --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "no jti" 401 "$(assertion "$(mkjwt --no-jti --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "tampered" 401 "$(assertion "$(mkjwt --tamper --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"
check "HS256" 401 "$(assertion "$(mkjwt --alg HS256 --key "$GRAPH_EMU_APP_KEY" --cert "$GRAPH_EMU_APP_CERT")")"

# ---------------------------------------------------------------- Graph: auth and devices
check "no token" 401 "$(req "$tmp/g" -D "$tmp/h" "$G/devices")"
check "no token code" InvalidAuthenticationToken "$(js 'd["error"]["code"]' <"$tmp/g")"
check "client-request-id echoed" 11111111-2222-3333-4444-555555555555 "$(js 'd["error"]["innerError"]["client-request-id"]' <"$tmp/g")"
check "client-request-id header" 1 "$(grep -ci '^client-request-id: 11111111-2222-3333-4444-555555555555' "$tmp/h")"
check "request-id header" 1 "$(grep -ci '^request-id: ' "$tmp/h")"
check "bogus token" 401 "$(get bogus "$G/devices")"
dev() { get "$1" -G --data-urlencode "\$filter=$2" --data-urlencode '$select=id,deviceId,displayName' "$G/devices"; }
check "ALPHA by name" 200 "$(dev "$HD_AT" "displayName eq 'LAPTOP-ALPHA'")"
check "ALPHA deviceId" "$GRAPH_FX_DEV_ALPHA_DEVICE_ID" "$(js 'd["value"][0]["deviceId"]' <"$tmp/g")"
check "select honoured" '["id", "deviceId", "displayName"]' "$(js 'list(d["value"][0])' <"$tmp/g")"
dev "$HD_AT" "displayName eq 'SHARED-NAME'" >/dev/null
check "SHARED-NAME twice" 2 "$(js 'len(d["value"])' <"$tmp/g")"
dev "$HD_AT" "displayName eq 'O''Brien-PC'" >/dev/null
check "O'Brien" "$GRAPH_FX_DEV_OBRIEN_DEVICE_ID" "$(js 'd["value"][0]["deviceId"]' <"$tmp/g")"
dev "$HD_AT" "displayName eq 'Zoë-Laptop'" >/dev/null
check "Zoë" "$GRAPH_FX_DEV_ZOE_DEVICE_ID" "$(js 'd["value"][0]["deviceId"]' <"$tmp/g")"
dev "$HD_AT" "startswith(displayName,'COLLIDE')" >/dev/null
check "startswith" 2 "$(js 'len(d["value"])' <"$tmp/g")"
dev "$HD_AT" "displayName eq 'NO-SUCH'" >/dev/null
check "no match" 0 "$(js 'len(d["value"])' <"$tmp/g")"
check "unbalanced quote" 400 "$(dev "$HD_AT" "displayName eq 'O'Brien-PC'")"
check "malformed code" Request_UnsupportedQuery "$(js 'd["error"]["code"]' <"$tmp/g")"
check "raw non-ASCII URL" 400 "$(get "$HD_AT" "$G/devices?\$filter=displayName%20eq%20'Zoë-Laptop'")"
check "devices without Device.Read.All" 403 "$(dev "$NOROLES_AT" "displayName eq 'LAPTOP-ALPHA'")"
check "devices 403 code" Authorization_RequestDenied "$(js 'd["error"]["code"]' <"$tmp/g")"

# ---------------------------------------------------------------- recovery keys
keys() { get "$1" -G --data-urlencode "\$filter=deviceId eq '$2'" "$G/informationProtection/bitlocker/recoveryKeys"; }
check "ALPHA keys page 1" 200 "$(keys "$HD_AT" "$GRAPH_FX_DEV_ALPHA_DEVICE_ID")"
check "page 1 size" 2 "$(js 'len(d["value"])' <"$tmp/g")"
next=$(js 'd["@odata.nextLink"]' <"$tmp/g")
check "nextLink absolute" yes "$(case $next in "$BDEKEY_GRAPH"/v1.0/*skiptoken=*) echo yes ;; *) echo "$next" ;; esac)"
check "page 2" 200 "$(get "$HD_AT" "$next")"
check "page 2 size, no more" "1 None" "$(js '"%d %s" % (len(d["value"]), d.get("@odata.nextLink"))' <"$tmp/g")"
check "tampered skiptoken" 400 "$(get "$HD_AT" "${next}x")"
check "\$top refused" 400 "$(get "$HD_AT" "$G/informationProtection/bitlocker/recoveryKeys?\$top=5")"
check "EMPTY-PC" 0 "$(keys "$HD_AT" "$GRAPH_FX_DEV_EMPTY_DEVICE_ID" >/dev/null; js 'len(d["value"])' <"$tmp/g")"
# full scan, following nextLink; no key property anywhere
scan() {
    local url="$G/informationProtection/bitlocker/recoveryKeys" pages=0
    : >"$tmp/scan"
    while [ -n "$url" ] && [ "$url" != None ]; do
        get "$1" "$url" >/dev/null
        js '"\n".join(sorted(k) and ",".join(sorted(k)) for k in d["value"])' <"$tmp/g" >>"$tmp/scan"
        pages=$((pages + 1))
        url=$(js 'd.get("@odata.nextLink")' <"$tmp/g")
    done
    echo "$pages $(grep -c . "$tmp/scan") $(grep -c key, "$tmp/scan")"
}
check "full scan: pages keys with-key" "6 12 0" "$(scan "$HD_AT")"
cfg '{"empty_page_every":2}'
check "scan with empty pages" "11 12 0" "$(scan "$HD_AT")"
cfg '{"empty_page_every":0}'
check "list with ReadBasic" 200 "$(keys "$BASIC_AT" "$GRAPH_FX_DEV_ALPHA_DEVICE_ID")"
check "list without permission" 403 "$(keys "$NOROLES_AT" "$GRAPH_FX_DEV_ALPHA_DEVICE_ID")"
check "list 403 body" '{"error":{"code":"authorization_error","message":"Failed to authorize, token doesn'"'"'t have the required permissions."}}' "$(cat "$tmp/g")"
K=$G/informationProtection/bitlocker/recoveryKeys
check "key read" 200 "$(get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID?\$select=key")"
check "key value" "$GRAPH_FX_KEY_ALPHA_OS_OLD_PASSWORD" "$(js 'd["key"]' <"$tmp/g")"
check "volumeType number" 1 "$(js 'json.dumps(d["volumeType"])' <"$tmp/g")"
get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_NEW_ID?\$select=key" >/dev/null
check "volumeType string" '"1"' "$(js 'json.dumps(d["volumeType"])' <"$tmp/g")"
get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_FIXED_ID?\$select=key" >/dev/null
check "wrapped value" "$GRAPH_FX_KEY_ALPHA_FIXED_PASSWORD fixedDataVolume" "$(js 'd["value"]["key"] + " " + d["value"]["volumeType"]' <"$tmp/g")"
get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID?\$select=key,id" >/dev/null
check "key,id drops key" '{"id": "'"$GRAPH_FX_KEY_ALPHA_OS_OLD_ID"'"}' "$(js '{k: v for k, v in d.items() if k != "@odata.context"}' <"$tmp/g")"
get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID" >/dev/null
check "metadata only" "createdDateTime,deviceId,id,volumeType" "$(js '",".join(sorted(k for k in d if k[0] != "@"))' <"$tmp/g")"
check "key with ReadBasic" 403 "$(get "$BASIC_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID?\$select=key")"
check "key with ReadBasic code" authorization_error "$(js 'd["error"]["code"]' <"$tmp/g")"
check "metadata with ReadBasic" 200 "$(get "$BASIC_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
check "key without role" 403 "$(get "$NOROLE_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID?\$select=key")"
check "key with app token" 200 "$(get "$APP_AT" "$K/$GRAPH_FX_KEY_ZOE_USB_ID?\$select=KEY")"
check "unknown key" 404 "$(get "$HD_AT" "$K/00000000-0000-0000-0000-000000000000")"
check "unknown key code" NotFound "$(js 'd["error"]["code"]' <"$tmp/g")"
"${CURL[@]}" "$GRAPH_EMU_URL/_test/audit" >"$tmp/audit"
check "audit: 4 key reads" "4 helpdesk@contoso.test $GRAPH_EMU_APP_CLIENT_ID" "$(js '"%d %s %s" % (len(d["value"]), d["value"][0]["actor"], d["value"][-1]["actor"])' <"$tmp/audit")"

# broken answers
check "BROKEN-JSON list status" 200 "$(keys "$HD_AT" "$GRAPH_FX_DEV_BROKEN_DEVICE_ID")"
check "BROKEN-JSON is not JSON" bad "$("$py" -c 'import json,sys; json.load(sys.stdin)' <"$tmp/g" 2>/dev/null && echo good || echo bad)"
check "HUGE-BODY is 12 MiB" 12582912 "$(keys "$HD_AT" "$GRAPH_FX_DEV_HUGE_DEVICE_ID" >/dev/null; wc -c <"$tmp/g")"
check "HUGE-BODY is JSON" good "$("$py" -c 'import json,sys; json.load(sys.stdin)' <"$tmp/g" 2>/dev/null && echo good || echo bad)"

# ---------------------------------------------------------------- $batch
batch() { req "$tmp/b" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2" "$G/\$batch"; }
ids="$GRAPH_FX_KEY_ALPHA_OS_OLD_ID $GRAPH_FX_KEY_ALPHA_OS_NEW_ID $GRAPH_FX_KEY_SHARED1_OS_ID 00000000-0000-0000-0000-000000000000"
body=$("$py" -c 'import json,sys; print(json.dumps({"requests":[{"id":str(i+1),"method":"GET","url":"/informationProtection/bitlocker/recoveryKeys/%s?$select=key"%k,"headers":{"client-request-id":"b%d"%i}} for i,k in enumerate(sys.argv[1:])]}))' $ids)
check "batch" 200 "$(batch "$HD_AT" "$body")"
check "batch shuffled" yes "$(js '"yes" if [r["id"] for r in d["responses"]] != ["1","2","3","4"] else "no"' <"$tmp/b")"
check "batch statuses" "200 200 200 404" "$(js '" ".join(str(r["status"]) for r in sorted(d["responses"], key=lambda r: r["id"]))' <"$tmp/b")"
check "batch key" "$GRAPH_FX_KEY_ALPHA_OS_NEW_PASSWORD" "$(js '[r for r in d["responses"] if r["id"]=="2"][0]["body"]["key"]' <"$tmp/b")"
big=$("$py" -c 'import json; print(json.dumps({"requests":[{"id":str(i),"method":"GET","url":"/devices"} for i in range(21)]}))')
check "batch of 21" 400 "$(batch "$HD_AT" "$big")"
cfg '{"batch_refused":501}'
check "batch refused 501" 501 "$(batch "$HD_AT" "$body")"
cfg '{"batch_refused":true}'
check "batch refused 400" 400 "$(batch "$HD_AT" "$body")"
cfg '{"batch_refused":false,"throttle_every_n":3}'
check "batch with inner 429" 200 "$(batch "$HD_AT" "$body")"
check "inner 429 + Retry-After" "2:429:1" "$(js '[ "%s:%s:%s" % (r["id"], r["status"], r["headers"].get("Retry-After")) for r in d["responses"] if r["status"] == 429][0]' <"$tmp/b")"
cfg '{"throttle_every_n":0}'

# ---------------------------------------------------------------- throttling
"${CURL[@]}" -o /dev/null -H 'Content-Type: application/json' -d '{"throttle_every_n":2}' "$GRAPH_EMU_URL/_test/config"
get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID" >/dev/null
check "throttled 2nd" 429 "$(get "$HD_AT" -D "$tmp/h" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
check "Retry-After" "Retry-After: 1" "$(grep -i '^retry-after' "$tmp/h" | tr -d '\r')"
check "TooManyRequests" TooManyRequests "$(js 'd["error"]["code"]' <"$tmp/g")"
cfg '{"throttle_every_n":0,"throttle_503_once":true}'
check "503 once" 503 "$(get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
check "then fine" 200 "$(get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
cfg '{"fail_next":[{"status":429,"retry_after":null,"match":"/recoveryKeys/","count":2}]}'
check "fail_next 1" 429 "$(get "$HD_AT" -D "$tmp/h" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
check "fail_next no Retry-After" 0 "$(grep -ci '^retry-after' "$tmp/h")"
check "fail_next 2" 429 "$(get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
check "fail_next done" 200 "$(get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
cfg '{"drop_next":[{"match":"/recoveryKeys/","count":1}]}'
check "drop_next: no answer at all" 52 "$(curl -s -o /dev/null -w '%{exitcode}' --cacert "$BDEKEY_CA_BUNDLE" -H "Authorization: Bearer $HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
check "drop_next: logged" 1 "$(grep -c "GET /graph/v1.0/informationProtection/bitlocker/recoveryKeys/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID 0 bytes=0 .* dropped$" "$GRAPH_EMU_LOG")"
check "drop_next: counted" 1 "$("${CURL[@]}" "$GRAPH_EMU_URL/_test/stats" | js 'd["dropped"]')"
check "drop_next done" 200 "$(get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
check "unknown knob refused" 400 "$(req /dev/null -H 'Content-Type: application/json' -d '{"throttle_evry_n":1}' "$GRAPH_EMU_URL/_test/config")"

# ---------------------------------------------------------------- managed devices and rotation
md() { get "$1" -G --data-urlencode "\$filter=azureADDeviceId eq '$2'" "$B/deviceManagement/managedDevices"; }
md "$HD_AT" "$GRAPH_FX_DEV_ALPHA_DEVICE_ID" >/dev/null
check "managed ALPHA" "$GRAPH_FX_MD_ALPHA_ID" "$(js '" ".join(m["id"] for m in d["value"])' <"$tmp/g")"
md "$HD_AT" "$GRAPH_FX_DEV_SHARED1_DEVICE_ID" >/dev/null
check "managed SHARED1 ambiguous" 2 "$(js 'len(d["value"])' <"$tmp/g")"
cfg '{"ignore_managed_filter":true}'
md "$HD_AT" "$GRAPH_FX_DEV_ALPHA_DEVICE_ID" >/dev/null
check "filter ignored" 3 "$(js 'len(d["value"])' <"$tmp/g")"
cfg '{"ignore_managed_filter":false}'
check "managed without permission" 403 "$(md "$BASIC_AT" "$GRAPH_FX_DEV_ALPHA_DEVICE_ID")"
check "rotate on v1.0" 400 "$(req "$tmp/g" -X POST -H "Authorization: Bearer $HD_AT" "$G/deviceManagement/managedDevices/$GRAPH_FX_MD_ALPHA_ID/rotateBitLockerKeys")"
check "rotate v1.0 message" "Resource not found for the segment 'rotateBitLockerKeys'." "$(js 'd["error"]["message"]' <"$tmp/g")"
check "rotate without permission" 403 "$(req "$tmp/g" -X POST -H "Authorization: Bearer $BASIC_AT" "$B/deviceManagement/managedDevices/$GRAPH_FX_MD_ALPHA_ID/rotateBitLockerKeys")"
check "rotate beta" 204 "$(req "$tmp/g" -X POST -H "Authorization: Bearer $HD_AT" "$B/deviceManagement/managedDevices/$GRAPH_FX_MD_ALPHA_ID/rotateBitLockerKeys")"
"${CURL[@]}" "$GRAPH_EMU_URL/_test/rotations" >"$tmp/rot"
newid=$(js 'd["value"][0]["newKeyId"]' <"$tmp/rot")
check "rotation recorded" "1 $GRAPH_FX_DEV_ALPHA_DEVICE_ID" "$(js '"%d %s" % (len(d["value"]), d["value"][0]["deviceId"])' <"$tmp/rot")"
cfg '{"page_size":10}'
keys "$HD_AT" "$GRAPH_FX_DEV_ALPHA_DEVICE_ID" >/dev/null
check "ALPHA has 4 keys" 4 "$(js 'len(d["value"])' <"$tmp/g")"
get "$HD_AT" "$K/$newid?\$select=key" >/dev/null
check "new key valid" yes "$(js '"yes" if all(int(b) % 11 == 0 for b in d["key"].split("-")) else "no"' <"$tmp/g")"

# ---------------------------------------------------------------- rotation state (deviceActionResults)
MDU=$B/deviceManagement/managedDevices
# mdget ID [SELECT]: GET a managed device (headers in $tmp/h)
mdget() { get "$HD_AT" -D "$tmp/h" "$MDU/$1${2:+?\$select=$2}"; }
rot() { js '[[r["actionState"], r["errorCode"]] for r in d["deviceActionResults"] if r["actionName"] == "rotateBitLockerKeys"]' <"$tmp/g"; }
nkeys() { cfg '{"page_size":50}'; keys "$HD_AT" "$1" >/dev/null; js 'len(d["value"])' <"$tmp/g"; }
stat() { "${CURL[@]}" "$GRAPH_EMU_URL/_test/stats" | js "d[\"$1\"]"; }
gets0=$(stat managed_device_gets)
polls0=$(stat rotation_polls)
check "no rotation yet: no entry" "200 []" "$(mdget "$GRAPH_FX_MD_SHARED1_A_ID" deviceActionResults) $(rot)"
check "another action is listed" syncDevice "$(js '",".join(r["actionName"] for r in d["deviceActionResults"])' <"$tmp/g")"
check "\$select=deviceActionResults: nothing else" "@odata.context deviceActionResults" "$(js '" ".join(d)' <"$tmp/g")"
check "full managed device has it too" "yes 9100d3c8" "$(mdget "$GRAPH_FX_MD_ALPHA_ID" >/dev/null; js '"%s %s" % ("yes" if "deviceActionResults" in d else "no", d["id"][:8])' <"$tmp/g")"
# ALPHA was rotated above without a "rotation" entry: its key came with the POST, done at once
check "default: done on the first poll" '[["done", 0]]' "$(rot)"
check "default: result type" "#microsoft.graph.rotateBitLockerKeysDeviceActionResult" "$(js '[r["@odata.type"] for r in d["deviceActionResults"] if r["actionName"] == "rotateBitLockerKeys"][0]' <"$tmp/g")"
check "default: times in order" yes "$(js '[("yes" if r["startDateTime"] <= r["lastUpdatedDateTime"] else "no") for r in d["deviceActionResults"] if r["actionName"] == "rotateBitLockerKeys"][0]' <"$tmp/g")"
check "default: still done, no second key" '[["done", 0]] 4' "$(mdget "$GRAPH_FX_MD_ALPHA_ID" deviceActionResults >/dev/null; rot) $(nkeys "$GRAPH_FX_DEV_ALPHA_DEVICE_ID")"
check "unknown \$select" 400 "$(mdget "$GRAPH_FX_MD_ALPHA_ID" deviceActionResult)"
# pending for 2 polls (Retry-After 3), then done with a new key at that poll
cfg '{"rotation":{"'"$GRAPH_FX_MD_SHARED1_A_ID"'":{"pending_polls":2,"retry_after":3}}}'
rotpost() { req "$tmp/g" -X POST -H "Authorization: Bearer $HD_AT" "$B/deviceManagement/managedDevices/$1/rotateBitLockerKeys"; }
check "configured rotation" 204 "$(rotpost "$GRAPH_FX_MD_SHARED1_A_ID")"
check "no key before done" 1 "$(nkeys "$GRAPH_FX_DEV_SHARED1_DEVICE_ID")"
check "poll 1 pending" '[["pending", 0]]' "$(mdget "$GRAPH_FX_MD_SHARED1_A_ID" deviceActionResults >/dev/null; rot)"
check "pending: Retry-After" "Retry-After: 3" "$(grep -i '^retry-after' "$tmp/h" | tr -d '\r')"
check "poll 2 pending (full object)" '[["pending", 0]]' "$(mdget "$GRAPH_FX_MD_SHARED1_A_ID" >/dev/null; rot)"
check "still no key" 1 "$(nkeys "$GRAPH_FX_DEV_SHARED1_DEVICE_ID")"
check "poll 3 done" '[["done", 0]]' "$(mdget "$GRAPH_FX_MD_SHARED1_A_ID" deviceActionResults >/dev/null; rot)"
check "done: no Retry-After" 0 "$(grep -ci '^retry-after' "$tmp/h")"
check "done: the new key is there" 2 "$(nkeys "$GRAPH_FX_DEV_SHARED1_DEVICE_ID")"
newk=$("${CURL[@]}" "$GRAPH_EMU_URL/_test/rotations" | js 'd["value"][-1]["newKeyId"]')
keys "$HD_AT" "$GRAPH_FX_DEV_SHARED1_DEVICE_ID" >/dev/null
check "done: fresh id, created now, OS volume" "yes 1" "$(js '"%s %s" % ("yes" if abs(__import__("calendar").timegm(__import__("time").strptime([k for k in d["value"] if k["id"] == "'"$newk"'"][0]["createdDateTime"], "%Y-%m-%dT%H:%M:%SZ")) - __import__("time").time()) < 60 else "no", [k for k in d["value"] if k["id"] == "'"$newk"'"][0]["volumeType"])' <"$tmp/g")"
check "poll 4: done, no more keys" '[["done", 0]] 2' "$(mdget "$GRAPH_FX_MD_SHARED1_A_ID" deviceActionResults >/dev/null; rot) $(nkeys "$GRAPH_FX_DEV_SHARED1_DEVICE_ID")"
"${CURL[@]}" "$GRAPH_EMU_URL/_test/rotations" >"$tmp/rot"
check "rotations: polls and state" "4 done $newk" "$(js '"%s %s %s" % (d["value"][-1]["polls"], d["value"][-1]["state"], d["value"][-1]["newKeyId"])' <"$tmp/rot")"
# failed, configured by device name (SHARED-NAME's other managed device)
cfg '{"rotation":{"SHARED-NAME":{"outcome":"failed","error_code":-2016345060}}}'
check "failed rotation posted" 204 "$(rotpost "$GRAPH_FX_MD_SHARED1_B_ID")"
check "failed with its code" '[["failed", -2016345060]]' "$(mdget "$GRAPH_FX_MD_SHARED1_B_ID" deviceActionResults >/dev/null; rot)"
check "failed: no key" 2 "$(nkeys "$GRAPH_FX_DEV_SHARED1_DEVICE_ID")"
check "failed: stays failed" '[["failed", -2016345060]]' "$(mdget "$GRAPH_FX_MD_SHARED1_B_ID" deviceActionResults >/dev/null; rot)"
# never: pending for ever
cfg '{"rotation":{"'"$GRAPH_FX_MD_ALPHA_ID"'":{"outcome":"never","pending_polls":0}}}'
check "never: posted" 204 "$(rotpost "$GRAPH_FX_MD_ALPHA_ID")"
for i in 1 2 3; do mdget "$GRAPH_FX_MD_ALPHA_ID" deviceActionResults >/dev/null; done
check "never: pending after 3 polls, no key" '[["pending", 0]] 4' "$(rot) $(nkeys "$GRAPH_FX_DEV_ALPHA_DEVICE_ID")"
check "never: the rotation record" "3 pending None" "$("${CURL[@]}" "$GRAPH_EMU_URL/_test/rotations" | js '"%s %s %s" % (d["value"][-1]["polls"], d["value"][-1]["state"], d["value"][-1]["newKeyId"])')"
check "counters: managed device GETs, rotation polls" "$((gets0 + 12)) $((polls0 + 11))" "$(stat managed_device_gets) $(stat rotation_polls)"
check "rotation: unknown outcome refused" 400 "$(req /dev/null -H 'Content-Type: application/json' -d '{"rotation":{"x":{"outcome":"maybe"}}}' "$GRAPH_EMU_URL/_test/config")"
check "rotation: unknown field refused" 400 "$(req /dev/null -H 'Content-Type: application/json' -d '{"rotation":{"x":{"pending":1}}}' "$GRAPH_EMU_URL/_test/config")"
cfg '{"rotation":{"SHARED-NAME":null}}'
check "rotation: null removes an entry" "['$GRAPH_FX_MD_SHARED1_A_ID', '$GRAPH_FX_MD_ALPHA_ID']" "$("${CURL[@]}" "$GRAPH_EMU_URL/_test/config" | js 'str(sorted(d["rotation"]))')"
cfg '{"page_size":10}'

# ---------------------------------------------------------------- token expiry
"${CURL[@]}" -o /dev/null -X POST "$GRAPH_EMU_URL/_test/expire_tokens"
check "expired token" 401 "$(get "$HD_AT" "$K/$GRAPH_FX_KEY_ALPHA_OS_OLD_ID")"
check "expired message" "Lifetime validation failed, the token is expired." "$(js 'd["error"]["message"]' <"$tmp/g")"

# ---------------------------------------------------------------- keep-alive + log
secret "$GRAPH_EMU_APP_CLIENT_ID" "$(cat "$GRAPH_EMU_APP_SECRET_FILE")" >/dev/null
APP_AT=$(js 'd["access_token"]' <"$tmp/cc")
"${CURL[@]}" -o /dev/null -o /dev/null -H "Authorization: Bearer $APP_AT" -H "ocp-client-name: selftest" \
    "$K/$GRAPH_FX_KEY_OBRIEN_OS_ID" "$K/$GRAPH_FX_KEY_ZOE_USB_ID"
check "second request reused the connection" 1 "$(grep -c "new_tls=0 .* GET /graph/v1.0/informationProtection/bitlocker/recoveryKeys/$GRAPH_FX_KEY_ZOE_USB_ID " "$GRAPH_EMU_LOG")"
# read at once: a request's line is written before its answer
check "ocp-client-name logged" 2 "$(grep -c 'ocp-client-name="selftest"' "$GRAPH_EMU_LOG")"
check "TLS with the wrong CA fails" 60 "$(curl -s -o /dev/null -w '%{exitcode}' --cacert "$GRAPH_EMU_OTHER_CA" "$GRAPH_EMU_URL/_test/health")"
check "stats" yes "$("${CURL[@]}" "$GRAPH_EMU_URL/_test/stats" | js '"yes" if d["http_requests"] > 50 and d["key_reads"] >= 8 else d')"

t1=$(date +%s.%N)
echo "selftest: basic checks took $("$py" -c "print('%.1f s' % ($t1 - $t0))")"

# ---------------------------------------------------------------- 20,000 generated keys
t0=$(date +%s.%N)
"$here/server.sh" stop "$tmp/srv"
t1=$(date +%s.%N)
echo "selftest: stop took $("$py" -c "print('%.2f s' % ($t1 - $t0))")"
# gone, or a zombie waiting for whoever adopted it
check "stopped" gone "$(st=$(awk '{print $3}' "/proc/$GRAPH_EMU_PID/stat" 2>/dev/null); [ -z "$st" ] || [ "$st" = Z ] && echo gone || echo "alive ($st)")"
eval "$("$here/server.sh" start "$tmp/srv" --gen-keys 20000 --page-size 1000)" || exit 1
secret "$GRAPH_EMU_APP_CLIENT_ID" "$(cat "$GRAPH_EMU_APP_SECRET_FILE")" >/dev/null
APP_AT=$(js 'd["access_token"]' <"$tmp/cc")
t0=$(date +%s.%N)
check "20,012-key scan" "21 20012 0" "$(scan "$APP_AT")"
t1=$(date +%s.%N)
echo "selftest: 20,012-key scan, 21 pages of 1000: $("$py" -c "print('%.2f s' % ($t1 - $t0))") (curl + python per page)"
gid=$(get "$APP_AT" -G --data-urlencode '$filter=displayName eq '"'GEN-000123'" "$G/devices" >/dev/null; js 'd["value"][0]["deviceId"]' <"$tmp/g")
keys "$APP_AT" "$gid" >/dev/null
check "generated device has 2 keys" 2 "$(js 'len(d["value"])' <"$tmp/g")"
kid=$(js 'd["value"][0]["id"]' <"$tmp/g")
get "$APP_AT" "$K/$kid?\$select=key" >/dev/null
check "generated key valid" yes "$(js '"yes" if all(int(b) % 11 == 0 and int(b) // 11 < 65536 for b in d["key"].split("-")) else "no"' <"$tmp/g")"

# ---------------------------------------------------------------- the report fixture (--report-fixture)
"$here/server.sh" stop "$tmp/srv"
eval "$("$here/server.sh" start "$tmp/srv" --report-fixture --page-size 1000)" || exit 1
secret "$GRAPH_EMU_APP_CLIENT_ID" "$(cat "$GRAPH_EMU_APP_SECRET_FILE")" >/dev/null
APP_AT=$(js 'd["access_token"]' <"$tmp/cc")
SEL='id,deviceId,displayName,operatingSystem,trustType,approximateLastSignInDateTime,onPremisesSecurityIdentifier'
# devwalk TOP: every device page from $top=TOP on; "pages devices" and the devices in $tmp/devs
devwalk() {
    local url="$G/devices?\$select=$SEL&\$top=$1" pages=0
    : >"$tmp/devs"
    while [ -n "$url" ] && [ "$url" != None ] && [ "$pages" -lt 100 ]; do
        get "$APP_AT" "$url" >/dev/null
        js '"\n".join(json.dumps(v) for v in d["value"])' <"$tmp/g" >>"$tmp/devs"
        pages=$((pages + 1))
        url=$(js 'd.get("@odata.nextLink")' <"$tmp/g")
    done
    echo "$pages $(grep -c . "$tmp/devs")"
}
dv() { "$py" -c 'import json,sys; d={}
for l in open(sys.argv[2]):
    o=json.loads(l); d[o["displayName"]]=o
print(eval(sys.argv[1]))' "$1" "$tmp/devs"; }
"${CURL[@]}" -o /dev/null -X POST "$GRAPH_EMU_URL/_test/stats/reset"
check "devices: 20 in 7 pages of \$top=3" "7 20" "$(devwalk 3)"
check "devices: listing requests counted" 7 "$(stat device_list_requests)"
check "devices: the selected properties" "$SEL" "$(head -1 "$tmp/devs" | js '",".join(d)')"
check "hybrid PC-BETA" "ServerAd S-1-5-21-2915483306-1402271532-3106213567-1104" "$(dv 'd["PC-BETA"]["trustType"] + " " + d["PC-BETA"]["onPremisesSecurityIdentifier"]')"
check "cloud devices have no SID" None "$(dv 'd["RPT-ONEKEY"]["onPremisesSecurityIdentifier"]')"
check "inactive: last sign-in 200 days ago" yes "$(dv '"yes" if 199 * 86400 < __import__("time").time() - __import__("calendar").timegm(__import__("time").strptime(d["RPT-INACTIVE"]["approximateLastSignInDateTime"], "%Y-%m-%dT%H:%M:%SZ")) < 201 * 86400 else "no"')"
check "active: a day ago" yes "$(dv '"yes" if __import__("time").time() - __import__("calendar").timegm(__import__("time").strptime(d["RPT-CAP"]["approximateLastSignInDateTime"], "%Y-%m-%dT%H:%M:%SZ")) < 2 * 86400 else "no"')"
check "never signed in" None "$(dv 'd["RPT-NEVER"]["approximateLastSignInDateTime"]')"
check "RPT-MAC's OS" MacMDM "$(dv 'd["RPT-MAC"]["operatingSystem"]')"
cfg '{"devices_top_max":4}'
check "devices_top_max caps \$top=999" "5 20" "$(devwalk 999)"
cfg '{"devices_top_max":999,"devices_page_size":6}'
check "without \$top: devices_page_size" 6 "$(get "$APP_AT" "$G/devices?\$select=id" >/dev/null; js 'len(d["value"])' <"$tmp/g")"
check "\$top 1000 refused" 400 "$(get "$APP_AT" "$G/devices?\$top=1000")"
check "keys: 575 in one page" "1 575 0" "$(scan "$APP_AT")"
check "keys: listing requests counted" 1 "$("${CURL[@]}" -o /dev/null -X POST "$GRAPH_EMU_URL/_test/stats/reset"; scan "$APP_AT" >/dev/null; stat key_list_requests)"
kc() { keys "$APP_AT" "$1" >/dev/null; js "$2" <"$tmp/g"; }
check "0 keys" 0 "$(kc "$GRAPH_FX_DEV_R_NOKEY_DEVICE_ID" 'len(d["value"])')"
check "1 key" "1 $GRAPH_FX_KEY_R_ONEKEY_OS_ID" "$(kc "$GRAPH_FX_DEV_R_ONEKEY_DEVICE_ID" '"%d %s" % (len(d["value"]), d["value"][0]["id"])')"
check "200 keys, distinct ids" "200 200" "$(kc "$GRAPH_FX_DEV_R_CAP_DEVICE_ID" '"%d %d" % (len(d["value"]), len(set(k["id"] for k in d["value"])))')"
check "200 keys: the newest a day old, the oldest 200 days" yes "$(kc "$GRAPH_FX_DEV_R_CAP_DEVICE_ID" '(lambda t: "yes" if 0.9 * 86400 < __import__("time").time() - max(t) < 1.1 * 86400 and 199.9 * 86400 < __import__("time").time() - min(t) < 200.1 * 86400 else "no")([__import__("calendar").timegm(__import__("time").strptime(k["createdDateTime"], "%Y-%m-%dT%H:%M:%SZ")) for k in d["value"]])')"
check "200 keys: two volume types" '"fixedDataVolume" 1' "$(kc "$GRAPH_FX_DEV_R_CAP_DEVICE_ID" '" ".join(sorted(set(json.dumps(k["volumeType"]) for k in d["value"])))')"
check "180 and 179 keys" "180 179" "$(kc "$GRAPH_FX_DEV_R_EDGE180_DEVICE_ID" 'len(d["value"])') $(kc "$GRAPH_FX_DEV_R_EDGE179_DEVICE_ID" 'len(d["value"])')"
kid=$(kc "$GRAPH_FX_DEV_R_CAP_DEVICE_ID" 'd["value"][7]["id"]')
get "$APP_AT" "$K/$kid?\$select=key" >/dev/null
check "a generated key's password is valid" yes "$(js '"yes" if all(int(b) % 11 == 0 and int(b) // 11 < 65536 for b in d["key"].split("-")) else "no"' <"$tmp/g")"
"${CURL[@]}" -o /dev/null -X POST "$GRAPH_EMU_URL/_test/stats/reset"
get "$APP_AT" "$K?\$select=id,key" >/dev/null
get "$APP_AT" "$K/$kid?\$select=KEY" >/dev/null
get "$APP_AT" "$K/$kid?\$select=id" >/dev/null
check "key_selected, key_get_requests" "2 2 1" "$(stat key_selected) $(stat key_get_requests) $(stat key_list_requests)"
cfg '{"next_link_origin":"https://evil.example"}'
check "next_link_origin" "https://evil.example/graph/v1.0/devices?" "$(get "$APP_AT" "$G/devices?\$top=2" >/dev/null; js 'd["@odata.nextLink"].split("$")[0]' <"$tmp/g")"
cfg '{"next_link_origin":null}'
hook() { req "$tmp/g" -H 'Content-Type: application/json' -d "$1" "$GRAPH_EMU_URL/_test/device"; }
check "device hook" 200 "$(hook '{"match":"pc-beta","set":{"onPremisesSecurityIdentifier":"S-1-5-21-1-2-3-1105"}}')"
check "device hook: seen" "S-1-5-21-1-2-3-1105" "$(get "$APP_AT" -G --data-urlencode "\$filter=displayName eq 'PC-BETA'" --data-urlencode "\$select=$SEL" "$G/devices" >/dev/null; js 'd["value"][0]["onPremisesSecurityIdentifier"]' <"$tmp/g")"
check "device hook: unknown device" 404 "$(hook '{"match":"NO-SUCH","set":{"trustType":"x"}}')"
check "device hook: id refused" 400 "$(hook '{"match":"PC-BETA","set":{"deviceId":"x"}}')"

# ---------------------------------------------------------------- scale: 100,000 devices, 250,000 keys
"$here/server.sh" stop "$tmp/srv"
check "--gen-device-keys needs --gen-devices" 2 "$("$py" "$here/emulator.py" --state x --cert x --key x --gen-device-keys 5 2>/dev/null; echo $?)"
check "--gen-devices excludes --gen-keys" 2 "$("$py" "$here/emulator.py" --state x --cert x --key x --gen-devices 5 --gen-keys 5 2>/dev/null; echo $?)"
eval "$("$here/server.sh" start "$tmp/srv" --gen-devices 100000 --gen-device-keys 250000 --page-size 1000)" || exit 1
secret "$GRAPH_EMU_APP_CLIENT_ID" "$(cat "$GRAPH_EMU_APP_SECRET_FILE")" >/dev/null
APP_AT=$(js 'd["access_token"]' <"$tmp/cc")
t0=$(date +%s.%N)
# both listings with one keep-alive connection, as a client would page them
"$py" - "$BDEKEY_CA_BUNDLE" "$GRAPH_EMU_PORT" "$APP_AT" "$SEL" >"$tmp/walk" <<'PY'
import http.client, json, ssl, sys, urllib.parse
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=ctx, timeout=60)
import time
out = []
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
for path in ("/graph/v1.0/informationProtection/bitlocker/recoveryKeys?$select=id,createdDateTime,deviceId,volumeType",
             "/graph/v1.0/devices?$select=%s&$top=999" % sys.argv[4]):
    pages = items = 0
    past = "past"
    while path and pages < 1000:
        c.request("GET", path, headers={"Authorization": "Bearer " + sys.argv[3]})
        d = json.loads(c.getresponse().read())
        pages += 1
        items += len(d["value"])
        if any(v.get("createdDateTime", "") > now for v in d["value"]):
            past = "future"
        nl = d.get("@odata.nextLink")
        path = urllib.parse.urlsplit(nl)._replace(scheme="", netloc="").geturl() if nl else None
    out.append("%d %d %s" % (pages, items, past))
print(" | ".join(out))
PY
t1=$(date +%s.%N)
check "scale: 251 key pages, 101 device pages, no key from the future" "251 250012 past | 101 100011 past" "$(cat "$tmp/walk")"
echo "selftest: 250,012 keys + 100,011 devices in 352 pages: $("$py" -c "print('%.1f s' % ($t1 - $t0))") (one Python client)"
check "scale: the emulator stays small" yes "$(awk '/VmHWM/ { print ($2 < 200000 ? "yes" : $2 " kB") }' "/proc/$GRAPH_EMU_PID/status")"
dev() { get "$APP_AT" -G --data-urlencode "\$filter=displayName eq '$1'" --data-urlencode "\$select=$SEL" "$G/devices" >/dev/null; }
dkeys() { dev "$1"; keys "$APP_AT" "$(js 'd["value"][0]["deviceId"]' <"$tmp/g")" >/dev/null; js 'len(d["value"])' <"$tmp/g"; }
check "scale: 3 keys a device, 1 on the last, then none" "3 1 0" "$(dkeys GEN-000000) $(dkeys GEN-083333) $(dkeys GEN-099999)"
dev GEN-000004
check "scale: every 4th device hybrid" "ServerAd S-1-5-21-1004336348-1177238915-682003330-10004" "$(js 'd["value"][0]["trustType"] + " " + d["value"][0]["onPremisesSecurityIdentifier"]' <"$tmp/g")"
dev GEN-000009
check "scale: every 10th inactive" yes "$(js '"yes" if __import__("time").time() - __import__("calendar").timegm(__import__("time").strptime(d["value"][0]["approximateLastSignInDateTime"], "%Y-%m-%dT%H:%M:%SZ")) > 199 * 86400 else "no"' <"$tmp/g")"

echo "selftest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
