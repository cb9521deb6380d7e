#!/bin/bash
# test-report-e2e.sh - `bdekey report` over both directories at once (issue
# 12): the Samba AD DC and the Graph emulator (the hybrid fixture plus
# --report-fixture).  A device both have is one row: joined by objectSid =
# onPremisesSecurityIdentifier (PC-BETA, renamed in Entra ID so that only
# the SID can join it) or by name (PC-ALPHA); ad-only / entra-only flag a
# hybrid device whose keys are in one directory only; the Entra devices no
# computer matched follow AD's rows.  Metadata only in both directories.
#
# Starts both servers itself (reusing a DC given in BDEKEY_AD_DIR) and stops
# them on exit.  Prints 'report-e2e: N passed, M failed'.
set -u
SUITE=report-e2e
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
: "${BDEKEY:?BDEKEY must name the binary under test}"
PY=/usr/bin/python3
T="timeout 60"

make_tmp repe2e /tmp
# the DC may be shared (BDEKEY_AD_DIR): PC-BADSUM's host name put back
cleanup() { [ "${host_set:-0}" = 0 ] || set_host "$AD_BADSUM_DNSNAME"; e2e_stop; }
set_host() {	# set_host NAME: PC-BADSUM's dNSHostName
	printf 'dn: %s\nchangetype: modify\nreplace: dNSHostName\ndNSHostName: %s\n' \
		"$AD_BADSUM_DN" "$1" | $T ldapmodify -x -H "$AD_URI_LDAPS" \
		-D "$AD_ADMIN_DN" -y "$AD_ADMIN_PASS_FILE" >/dev/null 2>&1
}

check() { check_eq "$@"; }	# check NAME EXPECTED ACTUAL
# row NAME EXPR: a Python expression over the JSON row r of device NAME
row() {
	"$PY" -c 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [x for x in rows if x.get("name") == sys.argv[2]]
r = r[0] if len(r) == 1 else {"count": len(r)}
v = eval(sys.argv[3])
print(json.dumps(v) if isinstance(v, (list, dict, bool)) or v is None else v)' "$tmp/out" "$1" "$2"
}

# --- servers ------------------------------------------------------------
e2e_dc
"$PY" tests/e2e/hybrid_fixture.py "$tmp/fixture.json" || fatal "fixture"
e2e_graph --report-fixture
setdev() {	# setdev MATCH JSON-PROPS: change an Entra device
	tcurl -o /dev/null -f -H 'Content-Type: application/json' \
	    -d "{\"match\": \"$1\", \"set\": $2}" "$GRAPH_EMU_URL/_test/device" ||
		bad "set $1 $2"
}

# PC-BETA's real objectSid (the provisioned domain's), as text
sid=$($T ldapsearch -LLL -o ldif-wrap=no -x -H "$AD_URI_LDAPS" -D "$AD_ADMIN_DN" \
	-y "$AD_ADMIN_PASS_FILE" -b "$AD_BETA_DN" -s base objectSid 2>/dev/null |
	sed -n 's/^objectSid:: //p' | "$PY" -c 'import base64,struct,sys
b = base64.b64decode(sys.stdin.read().strip())
n = b[1]
auth = int.from_bytes(b[2:8], "big")
subs = struct.unpack("<%dI" % n, b[8:8 + 4 * n])
print("S-%d-%d-%s" % (b[0], auth, "-".join(map(str, subs))))')
case $sid in S-1-5-21-*) ok ;; *) bad "PC-BETA's objectSid: '$sid'" ;; esac
# Entra's PC-BETA under another name: only the SID can join it
setdev PC-BETA "{\"displayName\": \"PC-BETA-AAD\", \"onPremisesSecurityIdentifier\": \"$sid\"}"
# a hybrid device with keys in AD only, and one with keys in Entra only
setdev RPT-NOKEY '{"displayName": "PC-TWIN1"}'
setdev RPT-ONEKEY '{"displayName": "PC-NOKEY"}'
# a host name longer than cn's 15 characters: only dNSHostName can join it
host_set=1
set_host "pc-badsum-workstation.${AD_BADSUM_DNSNAME#*.}" || bad "set PC-BADSUM's dNSHostName"
setdev BADSUM-PC '{"displayName": "PC-BADSUM-WORKSTATION"}'

e2e_env
export BDEKEY_CLIENT_ID=$GRAPH_EMU_APP_CLIENT_ID
export BDEKEY_CLIENT_SECRET_FILE=$GRAPH_EMU_APP_SECRET_FILE
# the reader has no Control Access on the recovery objects
$T kinit "$AD_READER_UPN" <"$AD_READER_PASS_FILE" >/dev/null 2>&1 ||
	fatal "kinit reader failed"

# --- both directories, one row per device ---------------------------------
$T "$BDEKEY" report --json >"$tmp/out" 2>"$tmp/err"
check "report over both: exit" 0 $?
check "no errors line" 0 "$(grep -c '"errors"' "$tmp/out")"
check "PC-ALPHA: one row, joined by name" '[["ad", "graph"], 1]' \
	"$(row PC-ALPHA '[r["sources"], int(r["dn"] is not None and r["device_id"] is not None)]')"
check "PC-ALPHA: the keys of both" true \
	"$(row PC-ALPHA 'r["ad_keys"] == 3 and r["graph_keys"] >= 1 and r["keys"] == r["ad_keys"] + r["graph_keys"]')"
check "PC-BETA: joined by its SID" '[["ad", "graph"], "'"$GRAPH_FX_DEV_R_HYBRID_DEVICE_ID"'"]' \
	"$(row PC-BETA '[r["sources"], r["device_id"]]')"
check "PC-BETA-AAD: no row of its own" 0 "$(row PC-BETA-AAD 'r.get("count")')"
check "PC-BETA: keys in both, no one-directory flag" '[1, 1, []]' \
	"$(row PC-BETA '[r["ad_keys"], r["graph_keys"], [f for f in r["flags"] if f.endswith("-only")]]')"
check "PC-BADSUM: joined by its host name (dNSHostName), cn cut short" \
	'[["ad", "graph"], true]' \
	"$(row PC-BADSUM '[r["sources"], r["device_id"] is not None and r["graph_keys"] >= 1]')"
check "PC-BADSUM-WORKSTATION: no row of its own" 0 \
	"$(row PC-BADSUM-WORKSTATION 'r.get("count")')"
check "PC-TWIN1: keys in AD only" '[["ad", "graph"], ["ad-only"]]' \
	"$(row PC-TWIN1 '[r["sources"], r["flags"]]')"
check "PC-NOKEY: keys in Entra only" '[["ad", "graph"], ["entra-only"], 1]' \
	"$(row PC-NOKEY '[r["sources"], r["flags"], r["keys"]]')"
check "PC-MANY: AD only, every key counted" '[["ad"], 1050]' \
	"$(row PC-MANY '[r["sources"], r["keys"]]')"
check "RPT-CAP: Entra only, after AD's rows, near the cap" '[["graph"], ["near-cap"]]' \
	"$(row RPT-CAP '[r["sources"], r["flags"]]')"
check "Entra-only rows come after AD's" true "$("$PY" -c 'import json,sys
src = [json.loads(l)["sources"] for l in open(sys.argv[1]) if l.strip()]
first = next(i for i, s in enumerate(src) if s == ["graph"])
print(json.dumps(all(s == ["graph"] for s in src[first:])))' "$tmp/out")"
# (Entra's two SHARED-NAME devices are two devices: their IDs differ)
check "every device once" 0 "$("$PY" -c 'import json,sys,collections
c = collections.Counter(((r["name"] or "").lower(), r["dn"], r["device_id"]) for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip()))
print(sum(1 for n, k in c.items() if k > 1))' "$tmp/out")"
grep -q "^report: [0-9]* devices, [0-9]* with a key, [0-9]* without" "$tmp/err" &&
	ok || bad "summary on stderr: $(tail -2 "$tmp/err")"
grep -q "ad-only 1, entra-only 1" "$tmp/err" && ok ||
	bad "summary counts the flags: $(tail -1 "$tmp/err")"

# --- --missing over both: a joined device with Entra's key is not missing --
$T "$BDEKEY" report --missing --csv >"$tmp/out" 2>"$tmp/err"
check "--missing --csv: exit" 0 $?
grep -q '^PC-NOKEY,' "$tmp/out" && bad "PC-NOKEY listed as missing: Entra has its key" || ok
check "--missing --csv: every row has no key" '[true, 0]' "$("$PY" -c 'import csv,json,sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print(json.dumps([len(rows) > 3, sum(r["keys"] != "0" for r in rows)]))' "$tmp/out")"

# --- one directory down: AD's rows stand, the errors line says which -------
$T env BDEKEY_LDAP_URI=ldap://127.0.0.1:9 "$BDEKEY" report --json \
	>"$tmp/out" 2>"$tmp/err"
check "AD down: exit 4" 4 $?
check "AD down: errors line last" '["ad"]' "$(tail -1 "$tmp/out" | "$PY" -c 'import json,sys; print(json.dumps([e["source"] for e in json.load(sys.stdin)["errors"]]))')"
check "AD down: Entra's rows still written" true \
	"$(head -n -1 "$tmp/out" | "$PY" -c 'import json,sys; rows=[json.loads(l) for l in sys.stdin]; print(json.dumps(len(rows) > 10 and all(r["sources"] == ["graph"] for r in rows)))')"

finish
