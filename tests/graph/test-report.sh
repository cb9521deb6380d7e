#!/usr/bin/env bash
# test-report.sh - drive the real bdekey binary ($BDEKEY) through `bdekey
# report --source graph` against the Graph emulator started with
# --report-fixture (tests/graph/README.md: devices with 0, 1, 179, 180 and
# 200 keys, a hybrid PC-BETA, an inactive device, one never seen): rows
# and flags in JSON Lines, CSV and text; --missing and --stale; a
# ReadBasic sign-in; that no request asks for a password; that requests
# are exactly the pages of keys plus the pages of devices (the emulator's
# counters); failures part-way (rows so far, an errors line, exit 4), a
# nextLink to another origin, fields the server garbles, a full stdout.
#
# Everything runs in a private temp dir; the emulator is stopped on exit.
# Every bdekey run is bounded by `timeout`.  Ends with "report-graph: N
# passed, M failed"; exit status 1 when one failed.  Under CI=true an
# emulator that does not start is a failure, else a skip.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SUITE=report-graph
# shellcheck source=tests/lib.sh
. "$here/../lib.sh"
: "${BDEKEY:?BDEKEY must name the bdekey binary under test}"
PY=${GRAPH_EMU_PYTHON:-/usr/bin/python3}
T=60	# seconds any one bdekey run may take
KEY_PAGE=50	# recoveryKeys page size here: 575 keys are 12 pages
DEV_PAGE=4	# devices per page at most, whatever $top: 20 devices, 5 pages

make_tmp report
cleanup() { "$here/server.sh" stop "$tmp/srv" >/dev/null 2>&1; }

scrub_env
private_home

check() { check_eq "$@"; }

# start [emulator options...]: (re)start the emulator, export its variables
start() {
	"$here/server.sh" stop "$tmp/srv" >/dev/null 2>&1
	start_env 60 "$here/server.sh" start "$tmp/srv" "$@" ||
		skip_or_fail "FAIL: the emulator did not start ($*)" \
			"report-graph: SKIPPED: the emulator did not start (python3-cryptography?)" \
			nosummary
	LOG=$GRAPH_EMU_LOG
	# the application: client credentials, roles Read.All + Device.Read.All
	APP=(env BDEKEY_CLIENT_ID="$GRAPH_EMU_APP_CLIENT_ID"
	    BDEKEY_CLIENT_SECRET_FILE="$GRAPH_EMU_APP_SECRET_FILE")
}

# rows EXPR: a Python expression over the JSON Lines of the last run:
# rows (objects with a name), by (name -> row; a name seen twice keeps
# the last), errors (the errors line's list, or None)
rows() {
	"$PY" -c '
import json, sys
rows, errors = [], None
for line in open(sys.argv[2], encoding="utf-8"):
    o = json.loads(line)
    if "errors" in o:
        errors = o["errors"]
    else:
        rows.append(o)
by = {r["name"]: r for r in rows}
try:
    r = eval(sys.argv[1])
except (KeyError, IndexError, TypeError) as e:
    r = "(%s: %s)" % (type(e).__name__, e)
print(json.dumps(r) if isinstance(r, (dict, list, bool)) or r is None else r)' "$1" "$tmp/out"
}

# run NAME EXPECTED_STATUS COMMAND...: stdout in $tmp/out, stderr in
# $tmp/err, the emulator's log lines of the run in $tmp/log, its counters
# reset before the run; after every run: no request asked for a password
run() {
	local name=$1
	emu stats/reset -o /dev/null -X POST || no "$name: emulator stats reset"
	run_emu "$@"
	emu stats >"$tmp/stats"
	check "$name: no request selects key, no key read" "0 0 0" \
		"$(js '"%d %d %d" % (d["key_selected"], d["key_get_requests"], d["key_reads"])' <"$tmp/stats")"
}
stat() { js "d[\"$1\"]" <"$tmp/stats"; }
REPORT=("$BDEKEY" report --source graph)
user_login() {	# user_login UPN [env...]: sign in through the device code flow
	local upn=$1 code n pid rc
	shift
	cfg '{"device_flow":{"auto_approve_user":null,"pending_polls":1}}'
	n=$(codes_issued)
	timeout "$T" env "$@" "$BDEKEY" login >"$tmp/login.out" 2>"$tmp/login.err" </dev/null &
	pid=$!
	code=$(emu "wait_user_code?after=$n&timeout_s=15" -f)
	emu approve -o /dev/null -f -d "user_code=$code" -d "user=$upn" ||
		echo "approve $upn failed" >&2
	wait "$pid"
	rc=$?
	echo "$rc"
}

start --report-fixture --page-size "$KEY_PAGE"
cfg "{\"devices_top_max\":$DEV_PAGE}"
# what the fixture makes: 11 + 9 devices, 12 + 563 keys
NDEV=20
NKEYS=575
key_pages=$(((NKEYS + KEY_PAGE - 1) / KEY_PAGE))
dev_pages=$(((NDEV + DEV_PAGE - 1) / DEV_PAGE))

# ------------------------------------------------------------ rows and flags
run "report --json" 0 "${APP[@]}" "${REPORT[@]}" --json
check "one row per device" "$NDEV" "$(rows 'len(rows)')"
check "no errors line" null "$(rows 'errors')"
check "every row from graph, no dn" true "$(rows 'all(r["sources"] == ["graph"] and r["dn"] is None for r in rows)')"
check "device ids: lower-case canonical GUIDs, as lookup's" true \
	"$(rows 'all(r["device_id"] == r["device_id"].lower() and len(r["device_id"]) == 36 for r in rows)')"
check "PC-BETA's device id" "${GRAPH_FX_DEV_R_HYBRID_DEVICE_ID,,}" "$(rows 'by["PC-BETA"]["device_id"]')"
check "0 keys: RPT-NOKEY" '0 None [] ["no-key"]' \
	"$(rows '"%d %s %s %s" % (by["RPT-NOKEY"]["keys"], by["RPT-NOKEY"]["newest_key"], json.dumps(by["RPT-NOKEY"]["volumes"]), json.dumps(by["RPT-NOKEY"]["flags"]))')"
check "1 key: RPT-ONEKEY" '1 ["operatingSystem"] []' \
	"$(rows '"%d %s %s" % (by["RPT-ONEKEY"]["keys"], json.dumps(by["RPT-ONEKEY"]["volumes"]), json.dumps(by["RPT-ONEKEY"]["flags"]))')"
check "200 keys: RPT-CAP near the cap" '200 ["near-cap"]' \
	"$(rows '"%d %s" % (by["RPT-CAP"]["keys"], json.dumps(by["RPT-CAP"]["flags"]))')"
check "180 keys: near-cap" '180 ["near-cap"]' \
	"$(rows '"%d %s" % (by["RPT-EDGE180"]["keys"], json.dumps(by["RPT-EDGE180"]["flags"]))')"
check "179 keys: not yet" '179 []' \
	"$(rows '"%d %s" % (by["RPT-EDGE179"]["keys"], json.dumps(by["RPT-EDGE179"]["flags"]))')"
check "RPT-CAP: both volume types" '["operatingSystem", "fixedData"]' "$(rows 'by["RPT-CAP"]["volumes"]')"
check "LAPTOP-ALPHA: 3 keys, newest, volumes" '3 2025-03-02T14:05:41Z ["operatingSystem", "fixedData"]' \
	"$(rows '"%d %s %s" % (by["LAPTOP-ALPHA"]["keys"], by["LAPTOP-ALPHA"]["newest_key"], json.dumps(by["LAPTOP-ALPHA"]["volumes"]))')"
check "COLLIDE-B: volume type 4 is unknown" '["unknown"]' "$(rows 'by["COLLIDE-B"]["volumes"]')"
check "RPT-INACTIVE: inactive (200 days), 2 volumes" 'true ["operatingSystem", "removableData"]' \
	"$(rows '"%s %s" % (json.dumps("inactive" in by["RPT-INACTIVE"]["flags"]), json.dumps(by["RPT-INACTIVE"]["volumes"]))')"
check "RPT-NEVER: never seen, not inactive" 'None false' \
	"$(rows '"%s %s" % (by["RPT-NEVER"]["last_seen"], json.dumps("inactive" in by["RPT-NEVER"]["flags"]))')"
check "PC-BETA: seen 3 days ago, not inactive" false "$(rows '"inactive" in by["PC-BETA"]["flags"]')"
check "RPT-MAC: its OS" MacMDM "$(rows 'by["RPT-MAC"]["os"]')"
check "no stale flag without --stale" 0 "$(rows 'sum("stale" in r["flags"] for r in rows)')"
check "last_seen in RFC 3339" true \
	"$(rows 'all(r["last_seen"] is None or (len(r["last_seen"]) == 20 and r["last_seen"].endswith("Z")) for r in rows)')"
contains "summary on stderr" "$tmp/err" "report: $NDEV devices, 16 with a key, 4 without"
# requests: the pages of the two listings, nothing per device
check "requests = pages of keys + pages of devices" "$((key_pages + dev_pages)) $key_pages $dev_pages" \
	"$(js '"%d %d %d" % (d["graph_requests"], d["key_list_requests"], d["device_list_requests"])' <"$tmp/stats")"
check "no \$batch" 0 "$(stat batch_requests)"
check "every Graph request in the log is a listing" "$((key_pages + dev_pages))" \
	"$(grep -cE ' GET /graph/v1\.0/(informationProtection/bitlocker/recoveryKeys|devices)\?' "$tmp/log")"
check "no \$select in the log names key" 0 \
	"$("$PY" -c '
import re, sys, urllib.parse
n = 0
for line in open(sys.argv[1]):
    m = re.search(r" (GET|POST) (/graph/\S+) ", line)
    if m:
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(m.group(2)).query)
        n += any("key" in [p.strip().lower() for p in v.split(",")] for v in q.get("$select", []))
print(n)' "$tmp/log")"
contains "keys listed with \$select" "$tmp/log" 'recoveryKeys?$select=id,createdDateTime,deviceId,volumeType'
contains "devices listed with \$top=999" "$tmp/log" '$top=999'
check "one TLS connection (token and listings)" 1 "$(grep -c ' http conn=.* new_tls=1 ' "$tmp/log")"

# ------------------------------------------------------------ --stale, --missing
run "--stale 30" 0 "${APP[@]}" "${REPORT[@]}" --json --stale 30
check "--stale 30: a 10-day key is fresh, a 380-day one stale" "false true" \
	"$(rows '"%s %s" % (json.dumps("stale" in by["RPT-ONEKEY"]["flags"]), json.dumps("stale" in by["RPT-INACTIVE"]["flags"]))')"
check "--stale 30: no key, no stale" false "$(rows '"stale" in by["RPT-NOKEY"]["flags"]')"
run "--stale 5" 0 "${APP[@]}" "${REPORT[@]}" --json --stale 5
check "--stale 5: the 10-day key is stale" true "$(rows '"stale" in by["RPT-ONEKEY"]["flags"]')"
run "--missing" 0 "${APP[@]}" "${REPORT[@]}" --json --missing
check "--missing: the devices without a key" "EMPTY-PC RPT-MAC RPT-NEVER RPT-NOKEY" \
	"$(rows '" ".join(sorted(r["name"] for r in rows))')"
check "--missing: still both listings read" "$((key_pages + dev_pages))" "$(stat graph_requests)"

# ------------------------------------------------------------ CSV and text
run "report --csv" 0 "${APP[@]}" "${REPORT[@]}" --csv
check "CSV header" "name,sources,dn,device_id,os,keys,newest_key,volumes,last_seen,flags" "$(head -1 "$tmp/out" | tr -d '\r')"
check "CSV: a record per device" "$NDEV" "$("$PY" -c 'import csv,sys; print(len(list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))))' "$tmp/out")"
check "CSV: RPT-CAP" "graph|${GRAPH_FX_DEV_R_CAP_DEVICE_ID,,}|200|operatingSystem;fixedData|near-cap" \
	"$("$PY" -c 'import csv,sys
r = [r for r in csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")) if r["name"] == "RPT-CAP"][0]
print("|".join([r["sources"], r["device_id"], r["keys"], r["volumes"], r["flags"]]))' "$tmp/out")"
check "CSV: O'Brien and Zoë as sent" "2" "$(grep -cE "^(O'Brien-PC|Zoë-Laptop)," "$tmp/out")"
# a value a spreadsheet would run as a formula, with a comma and a quote
emu device -o /dev/null -f -H 'Content-Type: application/json' \
	-d '{"match": "RPT-MAC", "set": {"operatingSystem": "=HYPERLINK(\"x\"),1"}}' ||
	no "set RPT-MAC's OS"
run "CSV: a formula" 0 "${APP[@]}" "${REPORT[@]}" --csv
check "CSV: a formula is defused and quoted" 1 \
	"$(grep -cF ',"'"'"'=HYPERLINK(""x""),1",' "$tmp/out")"
check "CSV: the field reads back" "'=HYPERLINK(\"x\"),1" "$("$PY" -c 'import csv,sys
print([r for r in csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")) if r["name"] == "RPT-MAC"][0]["os"])' "$tmp/out")"
emu device -o /dev/null -f -H 'Content-Type: application/json' \
	-d '{"match": "RPT-MAC", "set": {"operatingSystem": "MacMDM"}}' ||
	no "restore RPT-MAC's OS"
run "report (text)" 0 "${APP[@]}" "${REPORT[@]}"
contains "text: RPT-CAP" "$tmp/out" "RPT-CAP"
contains "text: summary" "$tmp/err" "report: $NDEV devices"

# ------------------------------------------------------------ permissions
run "app without permissions" 3 env BDEKEY_CLIENT_ID="$GRAPH_EMU_NOROLES_CLIENT_ID" \
	BDEKEY_CLIENT_SECRET_FILE="$GRAPH_EMU_NOROLES_SECRET_FILE" "${REPORT[@]}" --json
contains "403: names ReadBasic" "$tmp/err" "BitlockerKey.ReadBasic.All"
check "403: no rows, an errors line" "0 permission" "$(rows '"%d %s" % (len(rows), errors[0]["kind"])')"
check "403: stopped at the first listing" 1 "$(stat graph_requests)"
# a user who may read metadata only (BitlockerKey.ReadBasic.All)
check "ReadBasic user login" 0 "$(user_login basic@contoso.test BDEKEY_KEY_PERMISSION=ReadBasic.All)"
run "ReadBasic user: report" 0 env BDEKEY_KEY_PERMISSION=ReadBasic.All "${REPORT[@]}" --json
check "ReadBasic user: every row" "$NDEV" "$(rows 'len(rows)')"
check "ReadBasic user: no new token" 0 "$(js 'sum(d["token_requests"].values())' <"$tmp/stats")"
check "ReadBasic user: the only token has no Read.All" '[["BitlockerKey.ReadBasic.All", "Device.Read.All"]]' \
	"$(emu tokens | js '[t["perms"] for t in d["access"] if t["subject"] == "basic@contoso.test"]')"
# a user whose tenant consented to Read.All (the default sign-in)
check "helpdesk login (Read.All)" 0 "$(user_login helpdesk@contoso.test)"
run "Read.All user: report" 0 "${REPORT[@]}" --json
check "Read.All user: every row" "$NDEV" "$(rows 'len(rows)')"

# ------------------------------------------------------------ failures part-way
# a 500 on the 3rd page of devices: 2 pages of rows stand, then the error
cfg '{"fail_next":[{"status":500,"match":"/devices","after":2}]}'
run "500 mid-paging" 4 "${APP[@]}" "${REPORT[@]}" --json
check "500 mid-paging: the rows before it" "$((2 * DEV_PAGE))" "$(rows 'len(rows)')"
check "500 mid-paging: errors line last" '"errors"' "$(tail -1 "$tmp/out" | cut -c2-9)"
check "500 mid-paging: kind" "graph unreachable" "$(rows '"%s %s" % (errors[0]["source"], errors[0]["kind"])')"
contains "500 mid-paging: says what failed" "$tmp/err" "listing the devices"
check "500 mid-paging: requests" "$((key_pages + 3))" "$(stat graph_requests)"
# the join's scratch file cannot be made: no key page read, said with where
run "TMPDIR unusable" 4 "${APP[@]}" TMPDIR=/nonexistent/bdekey-scratch "${REPORT[@]}" --json
check "TMPDIR unusable: no row, errors line kind io" "0 graph io" \
	"$(rows '"%d %s %s" % (len(rows), errors[0]["source"], errors[0]["kind"])')"
contains "TMPDIR unusable: names the directory" "$tmp/err" \
	"scratch file in /nonexistent/bdekey-scratch: cannot create it: No such file or directory"
check "TMPDIR unusable: no key listed" 0 "$(stat graph_requests)"
# a 500 on a key page: no row at all (a row needs all of its keys)
cfg '{"fail_next":[{"status":500,"match":"/recoveryKeys","after":3}]}'
run "500 on a key page" 4 "${APP[@]}" "${REPORT[@]}" --json
check "500 on a key page: no row" 0 "$(rows 'len(rows)')"
contains "500 on a key page: says what failed" "$tmp/err" "listing the recovery keys"
check "500 on a key page: no device listed" 0 "$(stat device_list_requests)"
# throttled: every 4th request a 429 with Retry-After 1; complete anyway
cfg '{"throttle_every_n":4,"retry_after_s":1}'
run "throttled" 0 "${APP[@]}" "${REPORT[@]}" --json
check "throttled: every row" "$NDEV" "$(rows 'len(rows)')"
check "throttled: 429s seen and retried" yes "$([ "$(stat throttled)" -ge 3 ] && echo yes)"
cfg '{"throttle_every_n":0}'
# a nextLink to another origin is not followed (the token would go there)
cfg '{"next_link_origin":"https://evil.example:443"}'
run "nextLink to another origin" 4 "${APP[@]}" "${REPORT[@]}" --json
contains "other origin: refused" "$tmp/err" "another origin"
check "other origin: one request" 1 "$(stat graph_requests)"
cfg '{"next_link_origin":null}'
# what the server garbles is left empty and counted; the rows stand
emu device -o /dev/null -f -H 'Content-Type: application/json' \
	-d '{"match":"RPT-ONEKEY","set":{"approximateLastSignInDateTime":"last tuesday","onPremisesSecurityIdentifier":"S-1-5-21-x"}}' ||
	no "emulator: garble RPT-ONEKEY"
run "garbled fields" 4 "${APP[@]}" "${REPORT[@]}" --json
check "garbled fields: every row" "$NDEV" "$(rows 'len(rows)')"
check "garbled fields: left empty" "None 1" "$(rows '"%s %d" % (by["RPT-ONEKEY"]["last_seen"], by["RPT-ONEKEY"]["keys"])')"
check "garbled fields: a protocol error" protocol "$(rows 'errors[0]["kind"]')"
contains "garbled fields: counted" "$tmp/err" "2 fields that could not be read"
emu reset -o /dev/null -X POST -f || no "emulator reset"
cfg "{\"devices_top_max\":$DEV_PAGE}"
# stdout full: the walk stops ("stopped"), bdekey says it could not write
timeout "$T" "${APP[@]}" "${REPORT[@]}" --json >/dev/full 2>"$tmp/err"
check "stdout full: exit 4" 4 "$?"
contains "stdout full: says so" "$tmp/err" "cannot write"

# ------------------------------------------------------------ --missing with none
"$PY" - "$here/fixture.json" "$tmp/all-keyed.json" <<'PY'
import json, sys
fx = json.load(open(sys.argv[1], encoding="utf-8"))
fx["devices"] = [d for d in fx["devices"] if d["keys"]]
fx["report_devices"] = []
json.dump(fx, open(sys.argv[2], "w", encoding="utf-8"))
PY
GRAPH_EMU_FIXTURE=$tmp/all-keyed.json start --page-size 1000
run "--missing, none missing" 1 "${APP[@]}" "${REPORT[@]}" --json --missing
check "--missing, none missing: no row" 0 "$(rows 'len(rows)')"
contains "--missing, none missing: says so" "$tmp/err" "every device has a recovery key"

# ------------------------------------------------------------ a larger tenant
start --gen-devices 3000 --gen-device-keys 7500 --page-size 1000
run "3,011 devices, 7,512 keys" 0 "${APP[@]}" "${REPORT[@]}" --json
check "generated: every row" 3011 "$(rows 'len(rows)')"
check "generated: 3 keys, 0 keys" "3 0" "$(rows '"%d %d" % (by["GEN-000000"]["keys"], by["GEN-002999"]["keys"])')"
check "generated: every 10th inactive" 300 "$(rows 'sum(1 for r in rows if r["name"].startswith("GEN-") and "inactive" in r["flags"])')"
check "generated: requests = 8 key pages + 4 device pages" "12 8 4" \
	"$(js '"%d %d %d" % (d["graph_requests"], d["key_list_requests"], d["device_list_requests"])' <"$tmp/stats")"

finish
