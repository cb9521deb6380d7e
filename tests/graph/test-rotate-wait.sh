#!/usr/bin/env bash
# test-rotate-wait.sh - verified rotation (issue 12): `rotate --wait` and
# `recover --rotate yes --wait` against the Graph emulator, whose managed
# devices report deviceActionResults for rotateBitLockerKeys (pending ->
# done with a new key escrowed, pending -> failed with an error code, or
# pending for ever; tests/graph/README.md, "rotation" in /_test/config).
# Asserts each outcome's words, exit status and audit records, that a
# Retry-After is waited out (counted polls, not timed), and that no
# password is read while verifying.
#
# Ends with "rotate-wait: N passed, M failed"; exit 1 when one failed.
# Under CI=true an emulator that does not start is a failure, else a skip.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SUITE=rotate-wait
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"
: "${BDEKEY:?BDEKEY must name the bdekey binary under test}"
PY=${GRAPH_EMU_PYTHON:-/usr/bin/python3}
T=60	# seconds any one bdekey run may take

make_tmp rotwait
cleanup() { "$here/server.sh" stop "$tmp/srv" >/dev/null 2>&1; }

scrub_env
private_home
AUDIT=$XDG_STATE_HOME/bdekey/audit.jsonl

start_env 60 "$here/server.sh" start "$tmp/srv" ||
	skip_or_fail "rotate-wait: the emulator did not start" \
		"rotate-wait: SKIPPED: the emulator did not start" nosummary
LOG=$GRAPH_EMU_LOG
export BDEKEY_CLIENT_ID=$GRAPH_EMU_APP_CLIENT_ID
export BDEKEY_CLIENT_SECRET_FILE=$GRAPH_EMU_APP_SECRET_FILE

check() { check_eq "$@"; }
run() { run_emu "$@"; }
bd() { run "$1" "$2" "$BDEKEY" "${@:3}"; }
# the managed device's GETs (polls) and key reads in the last run's log
polls() { grep -c 'GET /graph/beta/deviceManagement/managedDevices/[0-9a-f-]*?' "$tmp/log"; }
keyreads() { grep -c 'select=key\b\|select=key&\|select=key ' "$tmp/log"; }
# the key IDs of LAPTOP-ALPHA, from the emulator's state via bdekey
keys_of() {
	timeout "$T" "$BDEKEY" lookup --source graph --device LAPTOP-ALPHA --json |
	    js '" ".join(sorted(k["key_id"] for k in d["keys"]))'
}
W=(rotate --device LAPTOP-ALPHA --yes --poll 1 --reason INC-9)

# --- done at once (the default): the new key is named -----------------
before=$(keys_of)
bd "done: rotated" 0 "${W[@]}" --wait 30
after=$(keys_of)
new=$(comm -13 <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after"))
check "done: one new key in Entra ID" 1 "$(printf '%s\n' "$new" | grep -c .)"
contains "done: the words" "$tmp/out" "rotated: new key ${new:0:8} escrowed at "
contains "done: its whole ID" "$tmp/out" "(key ID $new;"
check "done: audit outcome" rotated "$(last_audit outcome)"
check "done: audit new key" "$new" "$(last_audit new_key_id)"
check "done: three records (intent, request, outcome)" \
	'[null, "requested", "rotated"]' "$(tail -3 "$AUDIT" | "$PY" -c 'import json,sys; print(json.dumps([json.loads(l).get("outcome") for l in sys.stdin]))')"
check "done: no password read" 0 "$(keyreads)"

# --- pending twice with Retry-After: 1, then done -----------------------
cfg '{"rotation": {"LAPTOP-ALPHA": {"pending_polls": 2, "outcome": "done", "retry_after": 1}}}'
# --poll 20 > --wait 15: only the server's Retry-After gets it done in time
bd "pending, then done" 0 rotate --device LAPTOP-ALPHA --yes --reason INC-9 --wait 15 --poll 20
contains "pending: rotated at last" "$tmp/out" "rotated: new key "
check "pending: polled three times" 3 "$(polls)"

# --- failed: the device's error code ------------------------------------
cfg '{"rotation": {"LAPTOP-ALPHA": {"pending_polls": 1, "outcome": "failed", "error_code": -2016345060}}}'
n0=$(keys_of)
bd "failed: exit 6" 6 "${W[@]}" --wait 30
contains "failed: the words" "$tmp/err" "Intune reports failed: -2016345060 (0x87D1041C)"
contains "failed: the old password stands" "$tmp/err" "the old password stays valid"
check "failed: audit outcome" device-failed "$(last_audit outcome)"
contains "failed: audit error" "$AUDIT" "Intune reports failed: -2016345060"
check "failed: no new key" "$n0" "$(keys_of)"

# --- never: no new key in time ------------------------------------------
cfg '{"rotation": {"LAPTOP-ALPHA": {"outcome": "never"}}}'
bd "never: exit 1" 1 "${W[@]}" --wait 3
contains "never: the words" "$tmp/err" "no new key after 0 min"
contains "never: device offline?" "$tmp/err" "(device offline?); Intune says pending"
check "never: audit outcome" no-new-key "$(last_audit outcome)"
n=$(polls)
if [ "$n" -ge 2 ] && [ "$n" -le 6 ]; then ok; else
	no "never: polled $n times in 3 s at 1 s intervals"; fi

# --- the state cannot be read: the outcome is not known -----------------
# (the POST passes: "after": 1; every poll of the device then gets a 403)
cfg '{"rotation": {"LAPTOP-ALPHA": {"outcome": "never"}}, "fail_next": [{"status": 403, "match": "managedDevices/'"$GRAPH_FX_MD_ALPHA_ID"'", "after": 1, "count": 10}]}'
bd "unreadable state" 3 "${W[@]}" --wait 10
contains "unreadable: said" "$tmp/err" "whether it happened is not known"
check "unreadable: audit outcome" unverified "$(last_audit outcome)"
cfg '{"fail_next": []}'

# --- recover ends with the same verified rotation ----------------------
cfg '{"rotation": {"LAPTOP-ALPHA": {"pending_polls": 1, "outcome": "failed", "error_code": 5}}}'
k=$(timeout "$T" "$BDEKEY" lookup --source graph -d LAPTOP-ALPHA --json | js 'd["keys"][0]["key_id"]')
bd "recover: the rotation failed on the device" 6 recover --verified --yes --device LAPTOP-ALPHA --key-id "$k" --source graph --rotate yes --wait 30 --poll 1 --reason INC-10
contains "recover: read out first" "$tmp/out" "block 8 of 8:"
contains "recover: then the outcome" "$tmp/err" "Intune reports failed: 5 (0x00000005)"
check "recover: audit outcome" device-failed "$(last_audit outcome)"

# --- without --wait: as before, nothing polled -------------------------
cfg '{"rotation": {}}'
bd "no --wait: requested only" 0 rotate --device LAPTOP-ALPHA --yes
contains "no --wait: the words" "$tmp/out" "rotation requested for 'LAPTOP-ALPHA'"
check "no --wait: no poll" 0 "$(polls)"

finish
