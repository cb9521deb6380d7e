#!/bin/bash
# test-e2e.sh - the helpdesk experience end to end (issue 5): the real
# binary against the Samba AD DC and the Graph emulator at once: merged
# results, one backend down, the audit log before any password, require_
# reason, read-out, and a scripted `recover` through a pseudo-terminal.
#
# Starts both servers itself (reusing a DC given in BDEKEY_AD_DIR) and
# stops them on exit.  Prints 'e2e: N passed, M failed'.
set -u
SUITE=e2e
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
: "${BDEKEY:?BDEKEY must name the binary under test}"
PY=/usr/bin/python3
T="timeout 60"

make_tmp e2e /tmp
cleanup() { e2e_stop; }

# check NAME EXPECTED-EXIT ACTUAL-EXIT
check_rc() { [ "$2" = "$3" ] && ok || bad "$1: exit $3, want $2 ($(head -c 300 "$tmp/err" 2>/dev/null))"; }

# --- servers ------------------------------------------------------------
e2e_dc
"$PY" tests/e2e/hybrid_fixture.py "$tmp/fixture.json" || fatal "fixture"
e2e_graph

e2e_env
$T kinit "$AD_HELPDESK_UPN" <"$AD_HELPDESK_PASS_FILE" >/dev/null 2>&1 ||
	fatal "kinit helpdesk failed"
$T "$BDEKEY" login >"$tmp/out" 2>"$tmp/err"
check_rc "login" 0 $?

# --- one lookup over both directories -------------------------------------
$T "$BDEKEY" lookup --device PC-ALPHA --json >"$tmp/j" 2>"$tmp/err"
check_rc "merged lookup" 0 $?
jtest "merged: 4 keys, the shared one once" "$tmp/j" \
	'len(d["keys"]) == 4 and sum(k["key_id"] == "063EA4E1-220C-4293-BA01-4754620A96E7" for k in d["keys"]) == 1'
jtest "merged: shared key has both sources" "$tmp/j" \
	'[k for k in d["keys"] if k["key_id"].startswith("063EA4E1")][0]["sources"] == ["ad", "graph"]'
jtest "merged: AD fields and Graph fields joined" "$tmp/j" \
	'(lambda k: k["dn"].startswith("CN=2024-01-10T10:00:00-08:00{063EA4E1") and k["device_id"] == "a9e8d7c6-b5a4-4392-8170-6f5e4d3c2b1a" and k["volume"] == "operatingSystem")([k for k in d["keys"] if k["key_id"].startswith("063EA4E1")][0])'
jtest "merged: newest first" "$tmp/j" \
	'[k["created"] for k in d["keys"]] == sorted([k["created"] for k in d["keys"]], reverse=True)'
jtest "merged: no password, no errors" "$tmp/j" \
	'all("password" not in k and k["password_valid"] is None for k in d["keys"]) and d["errors"] == []'
[ -e "$audit" ] && bad "lookup without --show wrote an audit record" || ok

# --- the audit record comes before the password -----------------------------
$T "$BDEKEY" lookup --key-id 063EA4E1 --show --reason TICKET-42 --json \
	>"$tmp/j" 2>"$tmp/err"
check_rc "show by key ID" 0 $?
jtest "show: password read and valid" "$tmp/j" \
	'len(d["keys"]) == 1 and d["keys"][0]["password"] == "496298-461032-321464-595518-463221-173943-033616-139579" and d["keys"][0]["password_valid"] is True'
jtest "audit: one record for the key, with reason and identities" "$audit" \
	'd["action"] == "show" and d["key_id"] == "063EA4E1-220C-4293-BA01-4754620A96E7" and d["reason"] == "TICKET-42" and d["source"] == "ad" and d["also_in"] == "graph" and d["identity"]'
lacks "audit: never the password" "$audit" "496298-461032"
m=$(stat -c %a "$audit")
[ "$m" = 600 ] && ok || bad "audit log mode $m, want 600"

# a log that cannot be written: no password, exit 4
BDEKEY_AUDIT_LOG=/dev/full $T "$BDEKEY" lookup --key-id 063EA4E1 --show \
	>"$tmp/out" 2>"$tmp/err"
check_rc "audit on a full disk" 4 $?
lacks "audit full: no password on stdout" "$tmp/out" "496298"
has "audit full: says why" "$tmp/err" "nothing is revealed or changed without a record"
BDEKEY_AUDIT_LOG=/etc/hostname/audit.jsonl $T "$BDEKEY" lookup \
	--key-id 063EA4E1 --show >"$tmp/out" 2>"$tmp/err"
check_rc "audit in an unusable directory" 4 $?
[ -s "$tmp/out" ] && bad "audit unusable: stdout not empty" || ok

# require_reason from the config file
mkdir -p "$XDG_CONFIG_HOME/bdekey"
printf '[audit]\nrequire_reason = yes\n' >"$XDG_CONFIG_HOME/bdekey/config"
$T "$BDEKEY" lookup --key-id 063EA4E1 --show >"$tmp/out" 2>"$tmp/err"
check_rc "require_reason without --reason" 2 $?
has "require_reason message" "$tmp/err" "--reason"
$T "$BDEKEY" lookup --key-id 063EA4E1 --show --reason T-1 >"$tmp/out" 2>"$tmp/err"
check_rc "require_reason with --reason" 0 $?
rm "$XDG_CONFIG_HOME/bdekey/config"

# --- read-out --------------------------------------------------------------
$T "$BDEKEY" lookup --device PC-ALPHA --key-id 063EA4E1 --read-out \
	--reason T-2 >"$tmp/out" 2>"$tmp/err"
check_rc "read-out" 0 $?
has "read-out: block 1 grouped" "$tmp/out" "block 1 of 8:  496 298"
has "read-out: block 8 spelled" "$tmp/out" "(one three nine, five seven nine)"
[ "$(tail -1 "$audit" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["action"])')" = read-out ] &&
	ok || bad "read-out audit action"
$T "$BDEKEY" lookup --device PC-ALPHA --read-out >"$tmp/out" 2>"$tmp/err"
check_rc "read-out with several keys" 2 $?
has "read-out several: lists the IDs" "$tmp/err" "5C1D2E3F-4A5B-4C6D-8E7F-8091A2B3C4D5"
$T "$BDEKEY" lookup --device PC-BADSUM --source ad --read-out >"$tmp/out" 2>"$tmp/err"
check_rc "read-out of a bad password" 5 $?
has "read-out bad: names the block" "$tmp/err" 'block 3 "321465": not a multiple of 11'
lacks "read-out bad: nothing read out" "$tmp/out" "block 1 of 8"

# --- one backend down ------------------------------------------------------
tests/graph/server.sh stop "$tmp/graph" >/dev/null 2>&1
$T "$BDEKEY" lookup --device PC-ALPHA --json --timeout 5 >"$tmp/j" 2>"$tmp/err"
# the keys AD has are shown, but the answer is incomplete: not exit 0
check_rc "graph down: AD still answers, exit 4" 4 $?
jtest "graph down: AD keys, a graph error" "$tmp/j" \
	'len(d["keys"]) == 3 and all(k["source"] == "ad" for k in d["keys"]) and len(d["errors"]) == 1 and d["errors"][0]["source"] == "graph" and d["errors"][0]["kind"] == "unreachable"'
has "graph down: warning on stderr" "$tmp/err" "bdekey: graph:"
BDEKEY_LDAP_URI=ldap://127.0.0.1:9 $T "$BDEKEY" lookup --device PC-ALPHA \
	--timeout 5 >"$tmp/out" 2>"$tmp/err"
check_rc "both down" 4 $?
GRAPH_EMU_FIXTURE="$tmp/fixture.json" tests/graph/server.sh start "$tmp/graph" \
	>"$tmp/graph.env" 2>"$tmp/graph.err" || fatal "emulator restart"
. "$tmp/graph.env"
$T "$BDEKEY" login >"$tmp/out" 2>"$tmp/err"
check_rc "login again" 0 $?
BDEKEY_LDAP_URI=ldap://127.0.0.1:9 $T "$BDEKEY" lookup --device PC-ALPHA \
	--json --timeout 5 >"$tmp/j" 2>"$tmp/err"
check_rc "AD down: Graph still answers, exit 4" 4 $?
jtest "AD down: Graph keys, an ad error" "$tmp/j" \
	'len(d["keys"]) == 2 and d["errors"][0]["source"] == "ad" and d["errors"][0]["kind"] == "unreachable"'

# --- recover, scripted through a pseudo-terminal -----------------------------
# answers: verified, device, key ID, ticket, 5 root-cause answers, 7 Enters
# between blocks, rotate
answers="yes
PC-ALPHA
c0ffee00
CASE-7
tpm+pin
yes
no
yesterday morning
no







yes
"
printf '%s' "$answers" | $T script -qefc "$BDEKEY recover" /dev/null \
	>"$tmp/out" 2>&1
rc=$?
tr -d '\r' <"$tmp/out" >"$tmp/rec"
check_rc "recover through a terminal" 0 $rc
has "recover: read out" "$tmp/rec" "block 8 of 8"
has "recover: rotation requested" "$tmp/rec" "Intune device 7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a090)"
# the case, the rotation's intent, then its outcome
tail -3 "$audit" | head -1 >"$tmp/case"
jtest "recover: the case in one record" "$tmp/case" \
	'd["action"] == "recover" and d["key_id"] == "C0FFEE00-1111-4222-8333-444455556666" and d["reason"] == "CASE-7" and d["case"]["protector"] == "tpm+pin" and d["case"]["boot_change"] == "yes" and d["case"]["last_good_start"] == "yesterday morning" and d["case"]["identity_verified"] is True'
tail -2 "$audit" | head -1 >"$tmp/rot"
jtest "recover: rotation recorded before it is sent" "$tmp/rot" \
	'd["action"] == "rotate" and d["managed_device_id"] == "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a090" and "outcome" not in d'
tail -1 "$audit" >"$tmp/rot"
jtest "recover: rotation outcome recorded" "$tmp/rot" \
	'd["action"] == "rotate" and d["managed_device_id"] == "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a090" and d["outcome"] == "requested" and d["error"] is None'
curl -s --cacert "$BDEKEY_CA_BUNDLE" "$GRAPH_EMU_URL/_test/rotations" >"$tmp/rots"
jtest "recover: the emulator saw one rotation" "$tmp/rots" \
	'len(d["value"]) == 1 and d["value"][0]["managedDeviceId"] == "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a090"'

# non-interactive: every answer as an option; a key ID not of this device
$T "$BDEKEY" recover --verified --device PC-BETA --key-id 063EA4E1 \
	--reason CASE-8 --rotate no </dev/null >"$tmp/out" 2>"$tmp/err"
check_rc "recover without a terminal" 0 $?
has "recover: mismatched key ID warned" "$tmp/err" "matches no key of device 'PC-BETA'"
has "recover: found by ID alone" "$tmp/out" "belongs to device 'PC-ALPHA'"
tail -1 "$audit" >"$tmp/case"
jtest "recover: case answers default to unknown" "$tmp/case" \
	'd["action"] == "recover" and d["case"]["protector"] == "unknown"'
$T "$BDEKEY" recover --device PC-ALPHA --key-id 063EA4E1 </dev/null \
	>"$tmp/out" 2>"$tmp/err"
check_rc "recover: unverified caller" 2 $?
has "recover: asks for --verified" "$tmp/err" "--verified"

finish
