#!/usr/bin/env bash
# test-keyvault.sh - drive the real bdekey binary ($BDEKEY) against the Key
# Vault + ARM emulator (tests/keyvault/, README.md there is the contract)
# and the identity emulator (tests/graph/): `bek` by every route (volume,
# ARM dual and single pass, tags, secret URL), the real Windows-made .BEK
# fetched plain and wrapped (RSA-OAEP, RSA-OAEP-256, RSA1_5) and proved on
# the Windows-made volume (`unlock --test --key-file`, `unlock --test
# --vault`), the traps (the KEK's latest version, two secrets for one
# volume, MachineName's case, nextLinks with :443, a data volume D:\, an
# unversioned ARM key URL, a disabled current version), the vault's
# refusals (RBAC, access policy, firewall, 429, a challenge naming a
# foreign resource: no token sent), and the file (0600, O_EXCL, --force,
# symbolic links, the audit record before the file).  What the vault saw
# comes from the emulator's request list and counters.
#
# Everything runs in a private temp dir; the emulators are stopped on exit;
# every bdekey run is bounded by `timeout`.  Ends with "keyvault: N passed,
# M failed"; exit 1 when one failed.  Under CI=true an emulator that does
# not start is a failure, else a skip.  Port-443 mode (root) tests the
# ":443" traps; without root they are skipped and said so.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SUITE=keyvault
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"
root=$(cd "$here/../.." && pwd)
: "${BDEKEY:?BDEKEY must name the bdekey binary under test}"
PY=${KV_EMU_PYTHON:-/usr/bin/python3}
T=60	# seconds any one bdekey run may take

make_tmp kv
cleanup() {
	"$here/server.sh" stop "$tmp/kv" >/dev/null 2>&1
	"$root/tests/graph/server.sh" stop "$tmp/graph" >/dev/null 2>&1
}

# nothing from the caller's environment leaks in
scrub_env
private_home
AUDIT=$XDG_STATE_HOME/bdekey/audit.jsonl

# not_started WHAT: a failure under CI, else the suite is skipped
not_started() {
	skip_or_fail "keyvault: $1" "keyvault: SKIPPED: $1" nosummary
}
# the port-443 mode needs root; otherwise every host on 127.0.0.1:port
[ "$(id -u)" -eq 0 ] || export KV_EMU_PORTS=any
start_env 60 "$root/tests/graph/server.sh" start "$tmp/graph" ||
	not_started "the identity emulator did not start (python3-cryptography?)"
start_env 60 "$here/server.sh" start "$tmp/kv" ||
	not_started "the Key Vault emulator did not start"
# an application signs in (the delegated case is its own test below)
export BDEKEY_CLIENT_ID=$GRAPH_EMU_APP_CLIENT_ID
export BDEKEY_CLIENT_SECRET_FILE=$GRAPH_EMU_APP_SECRET_FILE

# the Windows-made volumes (cryptsetup's images) and the real .BEK
tar --sparse -xJf "$root/tests/volume/data/bitlk-images.tar.xz" -C "$tmp" ||
	not_started "cannot extract tests/volume/data/bitlk-images.tar.xz"
IMG=$tmp/bitlk-images/bitlk-aes-xts-128-startup-key.img
NOSK=$tmp/bitlk-images/bitlk-aes-xts-128.img
REAL=$KV_FX_REAL_BEK
REAL_ID=$KV_FX_REAL_BEK_ID

check() { check_eq "$@"; }	# check NAME EXPECTED ACTUAL
same_file() {	# same_file NAME A B
	if cmp -s "$2" "$3"; then ok; else no "$1: $2 differs from $3"; fi
}
mode_of() { stat -c %a "$1" 2>/dev/null; }

kv() { tcurl "$KV_EMU_URL/_test/$1" "${@:2}"; }
kvcfg() {
	kv config -o /dev/null -f -H 'Content-Type: application/json' -d "$1" ||
		no "emulator config $1"
}
gcfg() {
	tcurl "$GRAPH_EMU_URL/_test/config" -o /dev/null -f \
	    -H 'Content-Type: application/json' -d "$1" || no "graph config $1"
}
kvreset() { kv reset -o /dev/null -X POST || no "emulator reset"; }

# run NAME EXPECTED_STATUS COMMAND...: stdout in $tmp/out, stderr in
# $tmp/err; the vault's and ARM's requests of the run in $tmp/req.json,
# their counters in $tmp/stats.json
run() {
	local name=$1 want=$2 rc
	shift 2
	kv stats/reset -o /dev/null -X POST || no "$name: stats reset"
	kv requests/reset -o /dev/null -X POST || no "$name: requests reset"
	timeout "$T" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	kv "requests?since=0" >"$tmp/req.json" || no "$name: requests"
	kv stats >"$tmp/stats.json" || no "$name: stats"
	if [ "$rc" = "$want" ]; then ok; else
		no "$name: exit $rc, expected $want"
		sed 's/^/    out: /' "$tmp/out" | head -10
		sed 's/^/    err: /' "$tmp/err" | head -10
	fi
}
bd() { run "$1" "$2" "$BDEKEY" "${@:3}"; }
# how many requests of the last run match a Python condition on r
nreq() { js "len([r for r in d['value'] if $1])" <"$tmp/req.json"; }
stat_of() { js "$1" <"$tmp/stats.json"; }
# the expected BEK of a secret (base64 from the emulator) into a file
expected() {	# expected VAULT NAME [VERSION] > file
	kv "expected?vault=$1&name=$2${3:+&version=$3}" | js 'd["bek"]' |
	    base64 -d
}

ADE=$KV_EMU_VAULT_ADE
PLAIN=$KV_EMU_VAULT_PLAIN
KEKV=$KV_EMU_VAULT_KEK
V2=$KV_FX_KEK_ADE_KEK_V2
V3=$KV_FX_KEK_ADE_KEK_V3
STALE=$KV_FX_SECRET_ADE_STALE_NAME
DATA=$KV_FX_SECRET_ADE_DATA_NAME
OUT=$tmp/out.d
fresh() { rm -rf "$OUT"; mkdir -p "$OUT"; }

# --- route tags: the seed's heuristic done right ---------------------------
fresh
bd "tags: WIN-ADE01" 0 bek --device WIN-ADE01 -o "$OUT"
contains "tags: the route is said" "$tmp/out" "route tags: 3 BEK secrets with MachineName 'WIN-ADE01'"
# two secrets for one volume: both shown, the newest used
contains "tags: newest C: used" "$tmp/out" "C:\\  $REAL_ID  2024-03-10T08:12:40Z  Wrapped BEK used"
contains "tags: older C: shown, not used" "$tmp/out" "C:\\  $STALE  2023-05-20T14:03:11Z  Wrapped BEK older: not used"
# MachineName in another case, on a data volume
contains "tags: win-ade01's D: found" "$tmp/out" "D:\\  $DATA"
same_file "tags: the C: file is the real .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
expected contoso-ade "$DATA" >"$tmp/data.bek"
same_file "tags: the D: file (RSA-OAEP-256)" "$OUT/$DATA.BEK" "$tmp/data.bek"
check "tags: C: file mode" 600 "$(mode_of "$OUT/$REAL_ID.BEK")"
check "tags: D: file mode" 600 "$(mode_of "$OUT/$DATA.BEK")"
check "tags: the older secret is never read" 0 "$(nreq "'$STALE' in r['path'].upper() and 'versions' not in r['path']")"
check "tags: no other file" 2 "$(ls "$OUT" | wc -l)"
# the latest-KEK trap: V2 wrapped it, V3 is the latest, only V2 is asked
check "tags: unwrapped with the tag's KEK version" 2 "$(nreq "r['path'].endswith('/$V2/unwrapkey')")"
check "tags: never the KEK's latest version" 0 "$(nreq "'$V3' in r['path']")"
check "tags: no failed unwrap" 0 "$(stat_of 'd["unwraps"] - 2 + d["unwrap_failures"]')"
contains "tags: next step, Windows" "$tmp/out" "manage-bde -unlock F: -RecoveryKey $OUT/$REAL_ID.BEK"
contains "tags: next step, Linux" "$tmp/out" "bdekey unlock /dev/sdX2 --key-file $OUT/$REAL_ID.BEK"
# the web-tls secret (MachineName WIN-ADE01, not a BEK) and Linux's are not
lacks "tags: not a BEK: not a candidate" "$tmp/out" "web-tls"
bd "tags: MachineName compared without case" 0 bek -d wIn-AdE01 -o "$OUT" -f
contains "tags: any case" "$tmp/out" "route tags: 3 BEK secrets"
bd "tags: unknown machine" 1 bek -d NO-SUCH-PC -o "$OUT"
contains "tags: unknown machine said" "$tmp/err" "no BEK secret in $ADE has the tag MachineName 'NO-SUCH-PC'"
bd "tags: one FILE for two volumes refused" 2 bek -d WIN-ADE01 -o "$tmp/one.BEK"
contains "tags: asks for a directory" "$tmp/err" "2 volumes have a BEK: give a directory"
# a disabled current version: the newest enabled one stands in
fresh
bd "tags: disabled current version" 0 bek -d win-other09 -o "$OUT"
contains "tags: says which version" "$tmp/err" "its current version is disabled; version $KV_FX_SECRET_ADE_OTHER_V1_VERSION is the newest enabled one"
expected contoso-ade "$KV_FX_SECRET_ADE_OTHER_NAME" "$KV_FX_SECRET_ADE_OTHER_V1_VERSION" >"$tmp/other.bek"
same_file "tags: V1 of the disabled one" "$OUT/$KV_FX_SECRET_ADE_OTHER_NAME.BEK" "$tmp/other.bek"

# --- nextLink: verbatim, with :443 and another api-version ----------------
kvcfg '{"page_size_max": 2, "nextlink_api_version": "7.2", "empty_page_every": 3}'
fresh
bd "paging: small pages" 0 bek --device WIN-ADE01 -o "$OUT"
same_file "paging: the same real .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
check "paging: every page read (5 with an empty one)" 5 "$(nreq "r['path'].rstrip('/') == '/secrets' and r['token']")"
check "paging: nextLink's api-version kept" 4 "$(nreq "'api-version=7.2' in r['query']")"
if [ "${KV_EMU_PORT443:-0}" = 1 ]; then
	check "paging: the :443 links reused the connection" 1 "$(nreq "r['host'] == 'contoso-ade' and r['new_tls']")"
else
	echo "keyvault: :443 nextLinks not tested (not root: KV_EMU_PORTS=any)"
fi
kvreset

# --- route volume: the protector ID is the secret name --------------------
fresh
bd "volume: wrapped, RSA-OAEP" 0 bek --volume "$IMG" --vault "$ADE" -o "$OUT"
contains "volume: the route is said" "$tmp/out" "route volume: the startup-key protector $REAL_ID of '$IMG' names secret $ADE/secrets/$REAL_ID/$KV_FX_SECRET_ADE_REAL_VERSION"
contains "volume: proved on the volume" "$tmp/out" "it opens volume"
same_file "volume: the real .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
check "volume: the versions listed, not the vault" 0 "$(nreq "r['path'].rstrip('/') == '/secrets'")"
fresh
bd "volume: plain BEK (contoso-plain, RBAC)" 0 bek --volume "$IMG" --vault "$PLAIN" -o "$OUT"
same_file "volume: plain .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
check "volume: plain: no unwrap" 0 "$(stat_of 'd["unwraps"]')"
fresh
bd "volume: two versions, the newest enabled (RSA-OAEP-256)" 0 bek --volume "$IMG" --vault "$KEKV" -o "$OUT"
contains "volume: the current version" "$tmp/out" "/$KV_FX_SECRET_KEK_REAL_CURRENT_VERSION (newest enabled of 2 versions)"
same_file "volume: RSA-OAEP-256 .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
bd "volume: no startup-key protector" 1 bek --volume "$NOSK" --vault "$ADE" -o "$OUT"
contains "volume: says so" "$tmp/err" "has no startup-key protector"
bd "volume: not in this vault" 1 bek --volume "$IMG" --vault "$KV_EMU_VAULT_BENCH" -o "$tmp/x.BEK"
contains "volume: SecretNotFound" "$tmp/err" "SecretNotFound"

# --- route arm: exactly the versioned URLs ARM names ----------------------
fresh
bd "arm: dual pass" 0 bek --vm vm-dual -g rg-vms -o "$OUT"
contains "arm: dual said" "$tmp/out" "(dual pass: the VM's encryptionSettings)"
same_file "arm: dual: the real .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
check "arm: dual: one ARM GET" 1 "$(stat_of 'd["arm_gets"]')"
check "arm: dual: one secret get" 1 "$(stat_of 'd["secret_gets"]')"
check "arm: dual: no listing" 0 "$(stat_of 'd["secret_lists"]')"
check "arm: dual: one connection to ARM" 1 "$(stat_of 'd["hosts"]["arm"]["tls_connections"]')"
check "arm: dual: one connection to the vault" 1 "$(stat_of 'd["hosts"]["contoso-ade"]["tls_connections"]')"
check "arm: vault tokens only to the vault" 0 "$(nreq "r['host'] == 'contoso-ade' and r['token'] and r['aud'] != 'https://vault.azure.net'")"
check "arm: ARM tokens only to ARM" 0 "$(nreq "r['host'] == 'arm' and r['aud'] != 'https://management.azure.com'")"
fresh
bd "arm: single pass (the disk, :443 secret URL)" 0 bek --vm vm-single -g rg-vms -o "$OUT"
contains "arm: single said" "$tmp/out" "(single pass: its OS disk's encryptionSettingsCollection)"
same_file "arm: single: the real plain .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
check "arm: single: VM and disk" 2 "$(stat_of 'd["arm_gets"]')"
fresh
bd "arm: KEK URL with :443" 0 bek --vm vm-kek -g rg-vms -o "$OUT"
same_file "arm: vm-kek .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
fresh
bd "arm: an older secret version, RSA1_5" 0 bek --vm vm-legacy -g rg-vms -o "$OUT"
same_file "arm: RSA1_5 .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
check "arm: legacy: the version ARM names" 1 "$(nreq "r['path'].endswith('/$KV_FX_SECRET_KEK_REAL_LEGACY_VERSION') and r['token']")"
fresh
bd "arm: unversioned key URL" 0 bek --vm vm-oddurl -g rg-vms -o "$OUT"
contains "arm: the tag's version, said" "$tmp/err" "ARM's key URL has no version; version $V2 is the secret's own"
same_file "arm: oddurl .BEK" "$OUT/$DATA.BEK" "$tmp/data.bek"
check "arm: oddurl: never the latest" 0 "$(nreq "'$V3' in r['path'] or r['path'].endswith('ade-kek//unwrapkey')")"
fresh
bd "arm: settings disabled" 0 bek --vm vm-disabled -g rg-vms -o "$OUT"
contains "arm: disabled said" "$tmp/err" "enabled: false"
bd "arm: not encrypted" 1 bek --vm vm-noade -g rg-vms -o "$OUT"
contains "arm: not encrypted said" "$tmp/err" "has no Azure Disk Encryption settings"
bd "arm: no such VM" 1 bek --vm vm-gone -g rg-vms -o "$OUT"
contains "arm: ResourceNotFound" "$tmp/err" "ResourceNotFound"
fresh
bd "arm: a VM resource ID" 0 bek --vm "$KV_FX_VM_DUAL_ID" -o "$OUT"
same_file "arm: by resource ID" "$OUT/$REAL_ID.BEK" "$REAL"
run "arm: no subscription" 2 env -u BDEKEY_SUBSCRIPTION "$BDEKEY" bek --vm vm-dual -g rg-vms -o "$OUT"
contains "arm: no subscription said" "$tmp/err" "no subscription"

# --- route secret ---------------------------------------------------------
fresh
bd "secret: a versioned URL" 0 bek --secret "$KV_FX_SECRET_ADE_STALE_URL" -o "$OUT"
expected contoso-ade "$STALE" >"$tmp/stale.bek"
same_file "secret: the stale one, as asked" "$OUT/$STALE.BEK" "$tmp/stale.bek"
bd "secret: a disabled current version" 3 bek --secret "$ADE/secrets/$KV_FX_SECRET_ADE_OTHER_NAME" -o "$OUT"
contains "secret: disabled said" "$tmp/err" "SecretDisabled"
bd "secret: not a secret URL" 2 bek --secret "$ADE/keys/ade-kek" -o "$OUT"

# --- the .BEK fetched opens the Windows-made volume ------------------------
fresh
"$BDEKEY" bek --vm vm-dual -g rg-vms -o "$OUT" >/dev/null 2>&1
bd "unlock --key-file: the fetched .BEK opens it" 0 unlock --test --key-file "$OUT/$REAL_ID.BEK" "$IMG"
contains "unlock --key-file: said" "$tmp/out" "key $REAL_ID (key-file) opens volume"
"$BDEKEY" bek --secret "$KV_FX_SECRET_ADE_STALE_URL" -o "$OUT" >/dev/null 2>&1
bd "unlock --key-file: the stale BEK does not" 5 unlock --test --key-file "$OUT/$STALE.BEK" "$IMG"
for v in ADE PLAIN KEK; do
	eval "url=\$KV_EMU_VAULT_$v"
	bd "unlock --vault $v" 0 unlock --test "$IMG" --vault "$url"
	contains "unlock --vault $v: said" "$tmp/out" "key $REAL_ID (keyvault) opens volume"
	check "unlock --vault $v: audited" "keyvault unlock-test" "$(last_audit source) $(last_audit action)"
done
check "unlock --vault: never on disk" 0 "$(find "$tmp" -newer "$OUT/$STALE.BEK" -name '*.BEK' | wc -l)"
bd "unlock --vault with --key-file" 2 unlock --test "$IMG" --vault "$ADE" --key-file "$REAL"
contains "unlock --vault with --key-file: said" "$tmp/err" "--vault is a key source of its own"

# --- bek --check (seed 004) ----------------------------------------------
n0=$(wc -l <"$AUDIT")
bd "check: dual pass, BEK+KEK" 0 bek --check --vm vm-dual -g rg-vms
contains "check: KEK version as tagged" "$tmp/out" "ok   the KEK version ARM names is the one the secret's tag names"
contains "check: unwrap proved" "$tmp/out" "ok   unwrap with ADE-KEK/$V2: this KEK version wrapped this secret"
contains "check: restorable" "$tmp/out" "restorable"
bd "check: BEK only" 0 bek --check --vm vm-single -g rg-vms
contains "check: BEK only said" "$tmp/out" "warn BEK only, no KEK"
kvcfg '{"faults":[{"kind":"policy","host":"contoso-ade","match":"unwrapkey","count":null}]}'
bd "check: no unwrapKey" 3 bek --check --vm vm-dual -g rg-vms
contains "check: the failure" "$tmp/out" "FAIL unwrap:"
contains "check: not restorable" "$tmp/out" "NOT restorable"
kvreset
check "check: writes no audit record" "$n0" "$(wc -l <"$AUDIT")"
bd "check: with -o" 2 bek --check --vm vm-dual -g rg-vms -o "$OUT"

# --- the vault's refusals -------------------------------------------------
kvcfg '{"faults":[{"kind":"rbac","host":"contoso-ade","match":"/secrets/4381","count":null}]}'
bd "rbac: get refused" 3 bek --vm vm-dual -g rg-vms -o "$OUT" -f
contains "rbac: names the action" "$tmp/err" "Forbidden/ForbiddenByRbac"
contains "rbac: and the role" "$tmp/err" "lacks the RBAC data action 'Microsoft.KeyVault/vaults/secrets/getSecret/action' (Key Vault Secrets User grants it)"
kvreset
# the real RBAC of contoso-plain: an app with no role
run "rbac: no role at all" 3 env BDEKEY_CLIENT_ID="$GRAPH_EMU_NOROLES_CLIENT_ID" BDEKEY_CLIENT_SECRET_FILE="$GRAPH_EMU_NOROLES_SECRET_FILE" "$BDEKEY" bek -d WIN-PLAIN02 --vault "$PLAIN" -o "$OUT"
contains "rbac: readMetadata" "$tmp/err" "'Microsoft.KeyVault/vaults/secrets/readMetadata/action'"
run "policy: no access policy" 3 env BDEKEY_CLIENT_ID="$GRAPH_EMU_NOROLES_CLIENT_ID" BDEKEY_CLIENT_SECRET_FILE="$GRAPH_EMU_NOROLES_SECRET_FILE" "$BDEKEY" bek -d WIN-ADE01 -o "$OUT"
contains "policy: names the permission" "$tmp/err" "the vault's access policy does not give this caller 'secrets list'"
kvcfg '{"faults":[{"kind":"policy","host":"contoso-ade","match":"unwrapkey","count":null}]}'
bd "policy: no unwrapKey" 3 bek --vm vm-dual -g rg-vms -o "$OUT" -f
contains "policy: keys unwrapKey" "$tmp/err" "does not give this caller 'keys unwrapKey'"
# what the vault answers when the KEK version did not wrap the secret
kvcfg '{"faults":[{"kind":"status","host":"contoso-ade","match":"unwrapkey","status":400,"code":"BadParameter","message":"Error occurred while decoding OAEP padding."}]}'
bd "wrong KEK: said plainly" 5 bek --vm vm-dual -g rg-vms -o "$OUT" -f
contains "wrong KEK: the words" "$tmp/err" "this KEK version did not wrap this secret"
kvcfg '{"faults":[{"kind":"firewall","host":"contoso-ade","count":null}]}'
bd "firewall" 3 bek --vm vm-dual -g rg-vms -o "$OUT" -f
contains "firewall: said" "$tmp/err" "ForbiddenByFirewall"
contains "firewall: what to do" "$tmp/err" "the vault's firewall refuses this client's address"
kvcfg '{"faults":[{"kind":"throttle","host":"contoso-ade","match":"/secrets/","retry_after":1,"count":2}]}'
fresh
t0=$(date +%s%N)
bd "429: waited out" 0 bek --vm vm-dual -g rg-vms -o "$OUT"
t1=$(date +%s%N)
check "429: both answered" 2 "$(stat_of 'd["throttled"]')"
if [ $(( (t1 - t0) / 1000000 )) -ge 1900 ]; then ok; else
	no "429: Retry-After 1 twice took $(( (t1 - t0) / 1000000 )) ms"; fi
same_file "429: the .BEK all the same" "$OUT/$REAL_ID.BEK" "$REAL"
kvcfg '{"faults":[{"kind":"throttle","host":"contoso-ade","match":"/secrets/","retry_after":1,"count":null}]}'
bd "429: still throttled" 4 bek --vm vm-dual -g rg-vms -o "$OUT" -f
contains "429: said" "$tmp/err" "still throttled"
kvreset

# --- the challenge: no token to a foreign resource -------------------------
kvcfg '{"challenge_resource": "https://vault.attacker.example"}'
bd "challenge: foreign resource" 3 bek --vm vm-dual -g rg-vms -o "$OUT" -f
contains "challenge: said" "$tmp/err" "asks for a token for 'https://vault.attacker.example'"
contains "challenge: nothing sent" "$tmp/err" "no token was sent"
check "challenge: the vault got no token" 0 "$(stat_of 'd["hosts"]["contoso-ade"]["with_token"]')"
kvcfg '{"challenge_resource": ""}'
bd "challenge: no resource" 3 bek --vm vm-dual -g rg-vms -o "$OUT" -f
check "challenge: no resource, no token" 0 "$(stat_of 'd["hosts"]["contoso-ade"]["with_token"]')"
kvcfg '{"challenge_resource": null, "challenge_param": "authorization_uri", "challenge_scope": "https://vault.azure.net/.default"}'
fresh
bd "challenge: scope and authorization_uri" 0 bek --vm vm-dual -g rg-vms -o "$OUT"
check "challenge: one probe without a token" 1 "$(stat_of 'd["hosts"]["contoso-ade"]["without_token"]')"
kvreset

# --- the file ---------------------------------------------------------------
fresh
(umask 000 && "$BDEKEY" bek --vm vm-dual -g rg-vms -o "$OUT/f.BEK" >/dev/null 2>&1)
check "file: 0600 whatever the umask" 600 "$(mode_of "$OUT/f.BEK")"
bd "file: -o NEWDIR/ is made" 0 bek --vm vm-dual -g rg-vms -o "$OUT/new/"
check "file: NEWDIR is private" 700 "$(mode_of "$OUT/new")"
same_file "file: in NEWDIR" "$OUT/new/$REAL_ID.BEK" "$REAL"
bd "file: no such directory" 4 bek --vm vm-dual -g rg-vms -o "$OUT/nodir/x.BEK"
contains "file: no such directory said" "$tmp/err" "No such file or directory"
check "file: no such directory: nothing read" 0 "$(stat_of 'd["secret_gets"]')"
echo keep >"$OUT/x.BEK"
bd "file: exists" 2 bek --vm vm-dual -g rg-vms -o "$OUT/x.BEK"
contains "file: exists said" "$tmp/err" "exists; --force replaces it"
check "file: untouched" keep "$(cat "$OUT/x.BEK")"
check "file: nothing read from the vault" 0 "$(stat_of 'd["secret_gets"]')"
chmod 644 "$OUT/x.BEK"
bd "file: --force" 0 bek --vm vm-dual -g rg-vms -o "$OUT/x.BEK" --force
same_file "file: replaced" "$OUT/x.BEK" "$REAL"
check "file: replaced 0600" 600 "$(mode_of "$OUT/x.BEK")"
echo victim >"$tmp/victim"
ln -s "$tmp/victim" "$OUT/link.BEK"
bd "file: a symbolic link" 2 bek --vm vm-dual -g rg-vms -o "$OUT/link.BEK" --force
contains "file: link said" "$tmp/err" "is a symbolic link"
check "file: the link's target untouched" victim "$(cat "$tmp/victim")"
ln -s "$tmp/victim" "$OUT/$REAL_ID.BEK"
bd "file: a symbolic link in DIR" 2 bek --vm vm-dual -g rg-vms -o "$OUT"
check "file: target still untouched" victim "$(cat "$tmp/victim")"
# the audit record comes first: no record, no file
fresh
n0=$(wc -l <"$AUDIT")
bd "audit: the record" 0 bek --vm vm-dual -g rg-vms -o "$OUT" --reason "INC-42"
check "audit: one more record" $((n0 + 1)) "$(wc -l <"$AUDIT")"
check "audit: action" bek "$(last_audit action)"
check "audit: route" arm "$(last_audit route)"
check "audit: key_id" "$REAL_ID" "$(last_audit key_id)"
check "audit: file" "$OUT/$REAL_ID.BEK" "$(last_audit file)"
check "audit: reason" INC-42 "$(last_audit reason)"
check "audit: versioned secret" "$ADE/secrets/$REAL_ID/$KV_FX_SECRET_ADE_REAL_VERSION" "$(last_audit secret_url)"
lacks "audit: no key in the log" "$AUDIT" "$(base64 -w0 <"$REAL" | cut -c1-40)"
fresh
# a directory where the log should be: it cannot be opened for writing
mkdir -p "$tmp/logdir"
run "audit: the log cannot be written, no file" 4 env BDEKEY_AUDIT_LOG="$tmp/logdir" "$BDEKEY" bek --vm vm-dual -g rg-vms -o "$OUT"
contains "audit: said" "$tmp/err" "nothing is revealed or changed without a record"
check "audit: no file without a record" 0 "$(ls "$OUT" | wc -l)"

# --- a signed-in user (delegated): separate tokens per resource -----------
gcfg '{"refresh_cross_resource": true, "device_flow": {"auto_approve_user": "helpdesk@contoso.test", "pending_polls": 0}}'
if env -u BDEKEY_CLIENT_SECRET_FILE BDEKEY_CLIENT_ID="$GRAPH_EMU_PUBLIC_CLIENT_ID" timeout "$T" "$BDEKEY" login >"$tmp/login.out" 2>&1 </dev/null; then
	ok
	fresh
	run "user: bek --vm" 0 env -u BDEKEY_CLIENT_SECRET_FILE BDEKEY_CLIENT_ID="$GRAPH_EMU_PUBLIC_CLIENT_ID" "$BDEKEY" bek --vm vm-dual -g rg-vms -o "$OUT"
	same_file "user: the real .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
	check "user: audited as the user" helpdesk@contoso.test "$(last_audit identity)"
	check "user: the vault saw the user's vault token" 0 "$(nreq "r['host'] == 'contoso-ade' and r['token'] and r['aud'] != 'https://vault.azure.net'")"
else
	no "user: login failed"; sed 's/^/    /' "$tmp/login.out" | head -5
fi

# --- settings: [keyvault] in the config file, shown by config -----------
cat >"$tmp/bdekey.conf" <<CONF
[keyvault]
vault = $ADE
subscription = $BDEKEY_SUBSCRIPTION
arm = $BDEKEY_ARM
vault_resource = $BDEKEY_VAULT_RESOURCE
CONF
NOENV=(env -u BDEKEY_VAULT -u BDEKEY_SUBSCRIPTION -u BDEKEY_ARM -u BDEKEY_VAULT_RESOURCE)
run "config: [keyvault] read" 0 "${NOENV[@]}" "$BDEKEY" config --config "$tmp/bdekey.conf"
contains "config: [keyvault] shown" "$tmp/out" "[keyvault]"
contains "config: vault" "$tmp/out" "vault = $ADE  # $tmp/bdekey.conf:2"
contains "config: subscription" "$tmp/out" "subscription = $BDEKEY_SUBSCRIPTION  # $tmp/bdekey.conf:3"
contains "config: arm" "$tmp/out" "arm = $BDEKEY_ARM  # $tmp/bdekey.conf:4"
contains "config: vault_resource" "$tmp/out" "vault_resource = $BDEKEY_VAULT_RESOURCE  # $tmp/bdekey.conf:5"
run "config: the environment's origin" 0 "$BDEKEY" config
contains "config: BDEKEY_VAULT" "$tmp/out" "vault = $ADE  # BDEKEY_VAULT"
fresh
run "config: bek from the config file alone" 0 "${NOENV[@]}" "$BDEKEY" bek --config "$tmp/bdekey.conf" --vm vm-dual -g rg-vms -o "$OUT"
same_file "config: the real .BEK" "$OUT/$REAL_ID.BEK" "$REAL"
run "config: --vault beats the file" 0 "${NOENV[@]}" "$BDEKEY" bek --config "$tmp/bdekey.conf" --vault "$PLAIN" --volume "$IMG" -o "$OUT/plain.BEK"
contains "config: the option's vault" "$tmp/out" "names secret $PLAIN/secrets/"
printf '[keyvault]\nvaults = x\n' >"$tmp/bad.conf"
run "config: unknown key in [keyvault]" 2 "$BDEKEY" config --config "$tmp/bad.conf"
contains "config: names it" "$tmp/err" "unknown key 'vaults' in [keyvault]"

# --- lookup --source keyvault: candidates, metadata only -----------------
# a secret read (GET /secrets/NAME[/VERSION]) or an unwrap: none in lookup
reads="(r['path'].rstrip('/').count('/') >= 2 and not r['path'].rstrip('/').endswith('/versions')) or 'unwrapkey' in r['path']"
bd "lookup: device" 0 lookup --source keyvault -d WIN-ADE01 --json
check "lookup: three candidates" 3 "$(js 'len(d["keys"])' <"$tmp/out")"
check "lookup: all from keyvault, route tags" '["keyvault/tags"]' "$(js 'sorted(set(k["source"]+"/"+k["route"] for k in d["keys"]))' <"$tmp/out")"
check "lookup: the newest C: first" "$REAL_ID" "$(js 'd["keys"][0]["key_id"]' <"$tmp/out")"
check "lookup: its fields" '["WIN-ADE01", "C:\\", "2024-03-10T08:12:40Z", true, true]' "$(js '[d["keys"][0][f] for f in ("device","volume","created","wrapped","newest")]' <"$tmp/out")"
check "lookup: versioned secret URL" 1 "$(js 'int(d["keys"][0]["secret_url"].startswith("'"$ADE"'/secrets/") and len(d["keys"][0]["secret_url"].rsplit("/",1)[1]) == 32)' <"$tmp/out")"
check "lookup: the tag's KEK version" 1 "$(js 'int(d["keys"][0]["kek_url"].endswith("/'"$V2"'"))' <"$tmp/out")"
check "lookup: the older C: not newest" "$STALE false" "$(js '" ".join(str(x) for x in [(k["key_id"], k["newest"]) for k in d["keys"] if k["key_id"] == "'"$STALE"'"][0]).replace("True","true").replace("False","false")' <"$tmp/out")"
check "lookup: no errors" '[]' "$(js 'd["errors"]' <"$tmp/out")"
check "lookup: no secret read, nothing unwrapped" 0 "$(nreq "$reads")"
bd "lookup: device, text" 0 lookup --source keyvault -d win-ade01
contains "lookup: text source" "$tmp/out" "source      keyvault (route tags)"
contains "lookup: text key id" "$tmp/out" "key id      $REAL_ID"
contains "lookup: text KEK" "$tmp/out" "wrapped     yes, KEK $ADE/keys/"
bd "lookup: key ID prefix" 0 lookup --source keyvault -k "${REAL_ID:0:8}" --json
check "lookup: prefix finds one" "[\"$REAL_ID\"]" "$(js '[k["key_id"] for k in d["keys"]]' <"$tmp/out")"
check "lookup: prefix route volume" volume "$(js 'd["keys"][0]["route"]' <"$tmp/out")"
check "lookup: prefix reads nothing" 0 "$(nreq "$reads")"
bd "lookup: device and key ID" 0 lookup --source keyvault -d WIN-ADE01 -k "$STALE" --json
check "lookup: filtered to one" "[\"$STALE\"]" "$(js '[k["key_id"] for k in d["keys"]]' <"$tmp/out")"
bd "lookup: unknown device" 1 lookup --source keyvault -d NO-SUCH-PC
contains "lookup: unknown device said" "$tmp/err" "no BEK secret in $ADE has the tag MachineName 'NO-SUCH-PC'"
bd "lookup: unknown key ID" 1 lookup --source keyvault -k 0BADC0DE
contains "lookup: unknown key ID said" "$tmp/err" "no BEK secret in $ADE is named by a key ID starting 0BADC0DE"
bd "lookup: --show refused" 2 lookup --source keyvault -d WIN-ADE01 --show
contains "lookup: --show refused said" "$tmp/err" "metadata only"
run "lookup: every configured source, a vault among them" 0 "$BDEKEY" lookup -d WIN-ADE01 --json
check "lookup: no errors from any source" "[]" "$(js 'd["errors"]' <"$tmp/out")"
check "lookup: keyvault included" 3 "$(js 'len([k for k in d["keys"] if k["source"] == "keyvault"])' <"$tmp/out")"
run "lookup: no vault configured" 1 env -u BDEKEY_VAULT "$BDEKEY" lookup -d WIN-ADE01 --json
check "lookup: no vault, no keyvault" 0 "$(js 'len([k for k in d["keys"] if k["source"] == "keyvault"])' <"$tmp/out")"
kvcfg '{"faults":[{"kind":"firewall","host":"contoso-ade","count":null}]}'
bd "lookup: firewall" 3 lookup --source keyvault -d WIN-ADE01 --json
check "lookup: firewall in errors" '["keyvault"]' "$(js '[e["source"] for e in d["errors"]]' <"$tmp/out")"
contains "lookup: firewall on stderr" "$tmp/err" "keyvault: "
kvreset

# --- usage ----------------------------------------------------------------
bd "usage: no route" 2 bek -o "$OUT"
bd "usage: two routes" 2 bek --vm vm-dual -g rg-vms -d WIN-ADE01 -o "$OUT"
bd "usage: --vm without -g" 2 bek --vm vm-dual -o "$OUT"
bd "usage: no -o" 2 bek --vm vm-dual -g rg-vms
run "usage: no vault" 2 env -u BDEKEY_VAULT "$BDEKEY" bek -d WIN-ADE01 -o "$OUT"
contains "usage: no vault said" "$tmp/err" "no vault: set --vault or BDEKEY_VAULT"
bd "usage: a bad vault name" 2 bek -d WIN-ADE01 --vault "no_such vault" -o "$OUT"

finish
