#!/bin/bash
# test-report.sh - `bdekey report --source ad` against a real Samba AD DC
# on loopback (issue 12, escrow health).
#
#   BDEKEY=build/dev/bdekey bash tests/ad/test-report.sh
#
# Reuses the DC in $BDEKEY_AD_DIR when it answers (make check), else starts
# its own on 127.0.0.91 (REPORT_AD_IP) in a temporary directory and stops it
# on exit.  The computers it reports on are its own, under OU=Report-<pid>
# (tests/ad/reportfixture.py, added and deleted again as Administrator):
# none, one and four keys (a rotation over two volumes), an old and a
# recent lastLogonTimestamp, a name with ',' and '+', a key without a
# volume; 54 more for the scaling case; a broken recovery object in an OU
# of its own.  Every report is read as `reader`, an account that sees the
# recovery objects without Control Access (no password).  What bdekey sent
# is checked through tests/ad/ldapspy.py: two searches whatever the number
# of computers, paged, never a password attribute.
#
# Ends with "report-ad: N passed, M failed"; exits 1 when any failed.
# Outside CI a DC that cannot start skips the suite (said loudly); with
# CI=true it is a failure.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=report-ad
# shellcheck source=tests/lib.sh
. "$HERE/../lib.sh"
PY=/usr/bin/python3
BDEKEY=${BDEKEY:?BDEKEY must name the bdekey binary under test}
case $BDEKEY in /*) ;; *) BDEKEY=$PWD/$BDEKEY ;; esac
T=${AD_TEST_TIMEOUT:-60}	# seconds for any one command
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERE/../lsan.supp:print_suppressions=0}

make_tmp report-ad
DIR=${BDEKEY_AD_DIR:-$TMP/dc}
ADDED=()	# OUs to delete on exit

ldap_admin() {	# ldapadd/ldapdelete/ldapsearch as Administrator, bounded
	local tool=$1
	shift
	timeout "$T" "$tool" -x -H "$AD_URI_LDAPS" -D "$AD_ADMIN_DN" \
		-y "$AD_ADMIN_PASS_FILE" "$@"
}

cleanup() {
	local ou
	stop_pids
	for ou in "${ADDED[@]}"; do
		ldap_admin ldapdelete -r "$ou" >/dev/null 2>&1
	done
	stop_dc
}

check() { check_cmd "$@"; }
# run [VAR=value...] -- ARGS...: bdekey, bounded by $T (lib.sh)
run() { run_bdekey "$@"; }
expect() { expect_exit "$@"; }

# jl EXPR: a Python expression over the last --json output (JSON Lines):
# r = the device rows in order, by = rows by name, e = the "errors" list
# (None without one), last = the last line's object.
JSON_EVAL=jl	# jcheck NAME EXPR reads the output with jl

# spy EXPR: over the spy's records r; s = its searches but the RootDSE
# read, k = those for recovery objects, c = those for computers.
spy() {
	"$PY" -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
s = [x for x in r if x["op"] == "search" and x["base"] != ""]
k = [x for x in s if "RecoveryInformation" in x["filter"]]
c = [x for x in s if "computer" in x["filter"]]
page = lambda x: next((y for y in x["controls"] if y["oid"] == "1.2.840.113556.1.4.319"), None)
v = eval(sys.argv[2])
print(v if not isinstance(v, bool) else str(v).lower())' "$SPY_LOG" "$1" 2>>"$TMP/err"
}

# ------------------------------------------------------------ the DC
start_dc() {
	local p
	dc_reuse "$DIR" && return 0
	export AD_IP=${REPORT_AD_IP:-127.0.0.91}
	for p in 88 389 636; do
		if port_busy "$AD_IP" "$p"; then
			echo "$AD_IP:$p is taken (set REPORT_AD_IP)"
			return 1
		fi
	done
	dc_start dc.sh "$DIR" 600
}

if ! start_dc; then
	skip_or_fail "FAIL the Samba AD DC did not start" \
		"SKIPPED: the Samba AD DC did not start (not CI: not a failure)"
fi
dc_env "$DIR"

ad_private_env
(
	umask 077
	printf '%s\n' "$AD_READER_PASS" >"$TMP/reader.pass"
	printf '%s\n' "$AD_ADMIN_PASS" >"$TMP/admin.pass"
)
LDAPS=$AD_URI_LDAPS
# Read Property on recovery objects, no Control Access (tests/ad/README.md)
READER=(BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_READER_DN"
	"BDEKEY_LDAP_PASSWORD_FILE=$TMP/reader.pass" "BDEKEY_LDAP_URI=$LDAPS")
ADMIN=(BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_ADMIN_DN"
	"BDEKEY_LDAP_PASSWORD_FILE=$TMP/admin.pass" "BDEKEY_LDAP_URI=$LDAPS")

# ------------------------------------------------------------ fixture
OU="OU=Report-$$,$BDEKEY_TEST_BASE"
BADOU="OU=Report-$$-bad,$BDEKEY_TEST_BASE"
NKOU="OU=Report-$$-nokeys,$BDEKEY_TEST_BASE"
export REPORT_RECENT=$(( $(date +%s) - 86400 ))
FX=("$PY" "$HERE/reportfixture.py")
eval "$("${FX[@]}" env "$OU" "$BADOU")"
ADDED=("$OU" "$BADOU" "$NKOU")
"${FX[@]}" base "$OU" >"$TMP/base.ldif"
"${FX[@]}" rot "$OU" >"$TMP/rot.ldif"
"${FX[@]}" extra "$OU" 54 >"$TMP/extra.ldif"
"${FX[@]}" bad "$BADOU" >"$TMP/bad.ldif"
"${FX[@]}" nokeys "$NKOU" >"$TMP/nokeys.ldif"
if ldap_admin ldapadd -f "$TMP/base.ldif" >"$TMP/err" 2>&1 && sleep 1.2 &&
    ldap_admin ldapadd -f "$TMP/rot.ldif" >"$TMP/err" 2>&1; then
	ok "fixture: 6 computers, 7 recovery objects under $OU"
else
	not_ok "fixture: 6 computers, 7 recovery objects under $OU"
	finish
fi
# whenCreated as the DC has it, RFC 3339: the newest per computer
created() {	# created CN: that computer's recovery objects' times, sorted
	ldap_admin ldapsearch -LLL -b "CN=$1,$OU" -s one \
		'(objectClass=msFVE-RecoveryInformation)' whenCreated 2>/dev/null |
		sed -n 's/^whenCreated: \(....\)\(..\)\(..\)\(..\)\(..\)\(..\)\.0Z$/\1-\2-\3T\4:\5:\6Z/p' |
		sort
}
ROT_TIMES=$(created RPT-ROT | paste -sd' ')
ROT_NEWEST=$(created RPT-ROT | tail -n 1)
ONE_NEWEST=$(created RPT-ONE | tail -n 1)
check "fixture: RPT-ROT's keys span more than one second ($ROT_TIMES)" \
	eval '[ "$(created RPT-ROT | wc -l)" = 4 ] && [ "$(created RPT-ROT | head -n 1)" != "$ROT_NEWEST" ]'
RECENT_ISO=$(date -u -d "@$RPT_RECENT_UNIX" +%FT%TZ)
NAMES="['RPT-NOKEY', 'RPT-ONE', 'RPT-ROT', 'RPT-OLD', '''$RPT_WEIRD''', 'RPT-RECENT']"

# ------------------------------------------------------------ the rows
run "${READER[@]}" -- report --source ad --base "$OU" --json
expect "reader (no Control Access): report --json" 0
jcheck "one row per computer, nothing else" \
	"sorted(x['name'] for x in r) == sorted($NAMES) and e is None"
jcheck "every row: sources ad, its DN, no device ID, the fields of the contract" \
	"all(x['sources'] == ['ad'] and x['device_id'] is None and x['dn'].endswith(',$OU') and set(x) >= {'name', 'sources', 'dn', 'device_id', 'os', 'keys', 'newest_key', 'volumes', 'last_seen', 'flags'} for x in r)"
jcheck "no key: 0 keys, no time, no volume, flagged no-key" \
	"(lambda x: x['keys'] == 0 and x['newest_key'] is None and x['volumes'] == [] and x['flags'] == ['no-key'] and x['os'] == 'Windows 11 Pro')(by['RPT-NOKEY'])"
jcheck "one key: its volume and its whenCreated ($ONE_NEWEST)" \
	"(lambda x: x['keys'] == 1 and x['volumes'] == ['$RPT_VOL_ONE'] and x['newest_key'] == '$ONE_NEWEST' and x['flags'] == [])(by['RPT-ONE'])"
jcheck "rotation history: 4 keys, two volumes once each, the newest whenCreated ($ROT_NEWEST)" \
	"(lambda x: x['keys'] == 4 and sorted(x['volumes']) == sorted(['$RPT_VOL_A', '$RPT_VOL_B']) and x['newest_key'] == '$ROT_NEWEST')(by['RPT-ROT'])"
jcheck "old lastLogonTimestamp: last_seen 2020-01-01, flagged inactive, its OS" \
	"(lambda x: x['last_seen'] == '2020-01-01T00:00:00Z' and 'inactive' in x['flags'] and x['os'] == 'Windows 10 Pro' and x['keys'] == 1)(by['RPT-OLD'])"
jcheck "recent lastLogonTimestamp: last_seen to the second, not inactive" \
	"(lambda x: x['last_seen'] == '$RECENT_ISO' and 'inactive' not in x['flags'])(by['RPT-RECENT'])"
jcheck "no lastLogonTimestamp: last_seen null" \
	"by['RPT-ONE']['last_seen'] is None and by['RPT-NOKEY']['last_seen'] is None"
jcheck "name with ',' and '+': joined to its key through the escaped DN; a key without a volume" \
	"(lambda x: x['dn'] == r'''$RPT_WEIRD_DN''' and x['keys'] == 1 and x['volumes'] == [] and x['newest_key'] is not None)(by['''$RPT_WEIRD'''])"
check "summary on stderr: 6 devices, 5 with a key, 1 without" \
	err_has "report: 6 devices, 5 with a key, 1 without"
cp "$TMP/out" "$TMP/reader.json"

run "${ADMIN[@]}" -- report --source ad --base "$OU" --json
expect "Administrator (every right): report --json" 0
check "the reader's report is the same as the Administrator's" \
	"$PY" -c 'import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
sys.exit(sorted(a, key=str) != sorted(b, key=str))' "$TMP/reader.json" "$TMP/out"

# ------------------------------------------------------------ flags, formats
# "older than 0 days": created at least a second before now (bounded wait)
for _ in $(seq 50); do
	[ "$(date +%s)" -gt "$(date -d "$ROT_NEWEST" +%s)" ] && break
	sleep 0.1
done
run "${READER[@]}" -- report --source ad --base "$OU" --json --stale 0
expect "--stale 0" 0
jcheck "--stale 0: every computer with a key is stale (created before now), not the one without" \
	"all(('stale' in x['flags']) == (x['keys'] > 0) for x in r)"
check "--stale 0: the summary counts them" err_has "stale 5"
run "${READER[@]}" -- report --source ad --base "$OU" --json --stale 1
jcheck "--stale 1: keys made today are not stale" \
	"not any('stale' in x['flags'] for x in r) and len(r) == 6"

run "${READER[@]}" -- report --source ad --base "$OU" --json --missing
expect "--missing" 0
jcheck "--missing: only the computer without a key" \
	"[x['name'] for x in r] == ['RPT-NOKEY']"
check "--missing: the summary still counts all" \
	err_has "report: 6 devices, 5 with a key, 1 without"
run "${READER[@]}" -- report --source ad --base "CN=RPT-ROT,$OU" --missing
expect "--missing where every device has a key" 1
check "--missing where every device has a key: no row" \
	eval '! out_has RPT-ROT'

run "${READER[@]}" -- report --source ad --base "$OU" --csv
expect "--csv" 0
check "--csv: RFC 4180, the header, one record a computer, lists joined with ';'" \
	"$PY" -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
want = "name,sources,dn,device_id,os,keys,newest_key,volumes,last_seen,flags".split(",")
by = {x[0]: dict(zip(want, x)) for x in rows[1:]}
w = by[sys.argv[2]]
rot = by["RPT-ROT"]
sys.exit(not (rows[0] == want and len(rows) == 7 and w["dn"] == sys.argv[3]
    and sorted(rot["volumes"].split(";")) == sorted(sys.argv[4:6])
    and rot["keys"] == "4" and by["RPT-NOKEY"]["flags"] == "no-key"))' \
	"$TMP/out" "$RPT_WEIRD" "$RPT_WEIRD_DN" "$RPT_VOL_A" "$RPT_VOL_B"

run "${READER[@]}" -- report --source ad --base "$OU"
expect "text" 0
check "text: a header and one line a computer" \
	eval '[ "$(wc -l <"$TMP/out")" = 7 ] && grep -q "^RPT-NOKEY .* no-key" "$TMP/out" && grep -q "^RPT-ROT .* 4 " "$TMP/out"'

# ------------------------------------------------------------ on the wire
PWATTRS="'msFVE-RecoveryPassword' in x['attrs'] or 'msFVE-KeyPackage' in x['attrs']"
spy_start six
run "${READER[@]}" -- report --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--base "$OU" --json
expect "through the spy, 6 computers" 0
jcheck "through the spy: the same 6 rows" "len(r) == 6"
scheck "two searches: recovery objects, then computers, subtree from --base" \
	"[(x['base'], x['scope']) for x in s] == [('$OU', 'sub')] * 2 and s[0] in k and s[1] in c"
scheck "recovery objects: asked for msFVE-VolumeGuid and whenCreated only" \
	"k[0]['filter'] == '(objectClass=msFVE-RecoveryInformation)' and k[0]['attrs'] == ['msFVE-VolumeGuid', 'whenCreated']"
scheck "computers: (objectCategory=computer), a short list of attributes" \
	"c[0]['filter'] == '(objectCategory=computer)' and 0 < len(c[0]['attrs']) <= 6 and not ({'*', '+'} & set(c[0]['attrs']))"
scheck "no request ever names msFVE-RecoveryPassword or msFVE-KeyPackage" \
	"not any($PWATTRS for x in r if x['op'] == 'search')"
scheck "paged (critical, 1000 a page) and domain-scoped" \
	"all(page(x) and page(x)['critical'] and page(x)['size'] == 1000 and any(y['oid'] == '1.2.840.113556.1.4.1339' for y in x['controls']) for x in s)"
SIX=$(spy "len(s)")

if ldap_admin ldapadd -f "$TMP/extra.ldif" >"$TMP/err" 2>&1; then
	ok "fixture: 54 more computers with a key each (60 in all)"
else
	not_ok "fixture: 54 more computers with a key each (60 in all)"
fi
spy_start sixty
run "${READER[@]}" -- report --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--base "$OU" --json
expect "through the spy, 60 computers" 0
jcheck "60 computers: 60 rows, 59 with a key" \
	"len(r) == 60 and sum(x['keys'] > 0 for x in r) == 59"
scheck "60 computers: as many searches as for 6 ($SIX), none per computer" \
	"len(s) == $SIX == 2 and len([x for x in r if x['op'] == 'search']) <= 3"
cp "$TMP/out" "$TMP/sixty.json"

spy_start paged
run "${READER[@]}" BDEKEY_LDAP_PAGE_SIZE=7 -- report --source ad \
	--ldap-uri "ldaps://127.0.0.1:$SPY_PORT" --base "$OU" --json
expect "--page-size 7" 0
check "--page-size 7: the same rows as in one page" \
	"$PY" -c 'import json, sys
a, b = ([json.loads(l) for l in open(p)] for p in sys.argv[1:])
sys.exit(sorted(a, key=str) != sorted(b, key=str))' "$TMP/sixty.json" "$TMP/out"
# 61 recovery objects and 60 computers: 9 pages each (the last may be empty)
scheck "--page-size 7: only pages are added (9 or 10 a search), 7 a page" \
	"len(k) in (9, 10) and len(c) in (9, 10) and all(page(x)['size'] == 7 for x in s)"
scheck "--page-size 7: each search starts without a cookie, then follows the server's" \
	"page(k[0])['cookie'] == '' and page(c[0])['cookie'] == '' and all(page(x)['cookie'] != '' for x in k[1:] + c[1:])"
scheck "--page-size 7: still never a password attribute" \
	"not any($PWATTRS for x in r if x['op'] == 'search')"
# the stall below: at the computers' third page
STALL_AT=$(( $(spy "len(k)") + 3 ))

# ------------------------------------------------------------ failures
if ldap_admin ldapadd -f "$TMP/bad.ldif" >"$TMP/err" 2>&1; then
	ok "fixture: a recovery object with a 15-byte msFVE-VolumeGuid"
	run "${READER[@]}" -- report --source ad --base "$BADOU" --json
	expect "a recovery object that cannot be read: protocol error" 4
	jcheck "broken object: the rows stand, the good key counted, the bad one not" \
		"sorted((x['name'], x['keys']) for x in r) == [('RPT-BADVOL', 1), ('RPT-FINE', 1)] and by['RPT-BADVOL']['volumes'] == ['$RPT_VOL_ONE']"
	jcheck "broken object: the errors line last, kind protocol, naming the object and why" \
		"'errors' in last and [(x['source'], x['kind']) for x in e] == [('ad', 'protocol')] and r'''$RPT_BADKEY_DN''' in e[0]['message'] and 'msFVE-VolumeGuid is not 16 bytes' in e[0]['message'] and '1 object could not be read' in e[0]['message']"
else
	not_ok "fixture: a recovery object with a 15-byte msFVE-VolumeGuid"
fi
# gone again before the whole domain is reported
ldap_admin ldapdelete -r "$BADOU" >/dev/null 2>&1

# the server stops answering at the computers' third page: 14 rows stand
spy_start stall --stall-at "$STALL_AT"
run "${READER[@]}" BDEKEY_LDAP_PAGE_SIZE=7 -- report --source ad --timeout 2 \
	--ldap-uri "ldaps://127.0.0.1:$SPY_PORT" --base "$OU" --json
expect "server silent part-way: unreachable" 4
jcheck "server silent part-way: the two pages of rows before it stand" \
	"len(r) == 14 and len(set(x['name'] for x in r)) == 14"
jcheck "server silent part-way: the errors line says the computers' search timed out" \
	"[(x['source'], x['kind']) for x in e] == [('ad', 'unreachable')] and 'search for computers: timed out after 2 s' in e[0]['message']"
check "server silent part-way: within the page's timeout (< 30 s)" \
	awk -v s="$SECS" 'BEGIN { exit !(s < 30) }'

# a first page late (Samba builds the whole result before it): up to 10 x
# --timeout; a later page as late is a timeout
spy_start slow1 --delay-at 1 3
run "${READER[@]}" -- report --source ad --timeout 1 \
	--ldap-uri "ldaps://127.0.0.1:$SPY_PORT" --base "$OU" --json
expect "first page 3 s late, --timeout 1: allowed (10 x --timeout)" 0
jcheck "first page late: every row" "len(r) == 60"
spy_start slow2 --delay-at 2 3
run "${READER[@]}" BDEKEY_LDAP_PAGE_SIZE=7 -- report --source ad --timeout 1 \
	--ldap-uri "ldaps://127.0.0.1:$SPY_PORT" --base "$OU" --json
expect "second page 3 s late, --timeout 1: unreachable" 4
jcheck "second page late: the recovery objects' search timed out after 1 s" \
	"r == [] and [(x['source'], x['kind']) for x in e] == [('ad', 'unreachable')] and 'search for recovery objects: timed out after 1 s' in e[0]['message']"

# computers but not one visible recovery object: said, the rows stand
if ldap_admin ldapadd -f "$TMP/nokeys.ldif" >"$TMP/err" 2>&1; then
	ok "fixture: two computers without a key under $NKOU"
	run "${READER[@]}" -- report --source ad --base "$NKOU" --json
	expect "no recovery object visible: the report still completes" 0
	jcheck "no recovery object visible: both computers, no-key" \
		"sorted((x['name'], x['flags']) for x in r) == [('RPT-NK1', ['no-key']), ('RPT-NK2', ['no-key'])]"
	check "no recovery object visible: a warning on stderr says why it may be" \
		grep -q "warning: .*no recovery object (msFVE-RecoveryInformation) is visible under 'OU=Report-$$-nokeys,.*may not list them" "$TMP/err"
	run "${READER[@]}" -- report --source ad --base "$OU" --json
	check "recovery objects visible: no such warning" \
		bash -c "! grep -q 'no recovery object' '$TMP/err'"
else
	not_ok "fixture: two computers without a key under $NKOU"
fi
ldap_admin ldapdelete -r "$NKOU" >/dev/null 2>&1

run "${READER[@]}" -- report --source ad --base "OU=No-Such-$$,$BDEKEY_TEST_BASE" --json
expect "a base that does not exist" 2
jcheck "a base that does not exist: no row, the errors line (config)" \
	"r == [] and [(x['source'], x['kind']) for x in e] == [('ad', 'config')] and 'no such object' in e[0]['message']"

# ------------------------------------------------------------ the domain
run "${READER[@]}" -- report --source ad --json
expect "the whole domain (no --base)" 0
jcheck "the whole domain: the fixture's computers (PC-MANY's 1,050 keys: two pages)" \
	"by['PC-MANY']['keys'] == 1050 and by['PC-ALPHA']['keys'] == 3 and sorted(by['PC-ALPHA']['volumes']) == sorted(['${AD_ALPHA_VOL_A:1:36}', '${AD_ALPHA_VOL_B:1:36}']) and by['PC-NOKEY']['flags'] == ['no-key'] and by['''$AD_WEIRD_CN''']['keys'] == 1"
jcheck "the whole domain: this suite's 60 and the domain controller too" \
	"sum(x['dn'].endswith(',$OU') for x in r) == 60 and any(x['dn'].startswith('CN=DC1,OU=Domain Controllers,') for x in r)"

finish
