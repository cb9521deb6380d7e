#!/bin/bash
# test-volume-e2e.sh - the disk in hand end to end (issue 10): the real
# binary reads a BitLocker volume Windows made (tests/volume/data/), looks
# its recovery-password protector IDs up in the Samba AD DC and the Graph
# emulator at once, and proves each password found against the volume:
#
#   - `lookup --volume IMAGE --show --json`: the key found by protector ID
#     (in both directories: one key, two sources), "unlocks": true; the
#     computer's stale key listed with "this_volume": false, its password
#     never read (no audit record, no Graph key read); without --show no
#     password is read at all
#   - a wrong password escrowed under the right protector ID: "unlocks":
#     false, exit 5, and `--read-out` refuses it; the right one is read out
#   - one protector ID with AD's password wrong and Entra's right: both
#     listed and proved; unlock and --read-out use the one that opens
#   - a recovery protector no directory has: an `errors` entry of kind
#     not-found naming it, exit 1; not when a directory is down (it may
#     have it): exit 4
#   - `unlock --test IMAGE` without a key option picks the key that opens
#     the volume (AD, Graph, the second recovery password), recorded in the
#     audit log before use; a wrong key on file, none on file, a --key-id
#     that is not the volume's; `unlock` without device-mapper asks no
#     directory
#
# Keys go into the DC under their own OU (added as Administrator, removed
# on exit) and into the emulator's fixture (tests/e2e/volume_fixture.py).
# Starts the servers itself (reusing a DC given in BDEKEY_AD_DIR) and
# stops them on exit.  Prints 'volume-e2e: N passed, M failed'.
set -u
SUITE=volume-e2e
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
: "${BDEKEY:?BDEKEY must name the binary under test}"
case $BDEKEY in /*) ;; *) BDEKEY=$PWD/$BDEKEY ;; esac
PY=/usr/bin/python3
T="timeout 60"

make_tmp volume-e2e /tmp
ou=
cleanup() {
	[ -z "$ou" ] || ad_remove
	e2e_stop
}

# expect WHAT RC [PATTERN]: the last run (bk) exited RC, stderr matches PATTERN
expect() { expect_rc "$@"; }
# recs EXPR: a Python expression over the audit records since mark (r) holds
mark=0
setmark() { mark=$(records); }
recs() {
	local what=$1
	if tail -n +"$((mark + 1))" "$audit" 2>/dev/null | "$PY" -c 'import json, sys
r = [json.loads(l) for l in sys.stdin if l.strip()]
sys.exit(0 if eval(sys.argv[1]) else 1)' "$2" 2>>"$tmp/jerr"; then
		ok
	else
		bad "$what: $2: $(tail -n +"$((mark + 1))" "$audit" 2>/dev/null | head -c 600)"
	fi
}
# Graph key reads logged by the emulator since the last glog_mark
glog_mark() { glog_n=$(wc -l <"$GRAPH_EMU_LOG"); }
glog_new() { tail -n +"$((glog_n + 1))" "$GRAPH_EMU_LOG"; }
key_read() { glog_new | grep -i "recoveryKeys/$1?\$select=key" | grep -c key-read; }

# --- the images ------------------------------------------------------------
tar --sparse -xJf tests/volume/data/bitlk-images.tar.xz -C "$tmp" ||
	fatal "cannot extract the test images"
img=$tmp/bitlk-images
eval "$("$PY" tests/e2e/volume_fixture.py env "$img/images.conf")" ||
	fatal "volume_fixture.py env"
X128=$img/bitlk-aes-xts-128.img
CBC=$img/bitlk-aes-cbc-128.img
X256=$img/bitlk-aes-xts-256.img
SK=$img/bitlk-aes-xts-128-startup-key.img
TWO=$img/bitlk-aes-xts-128-two-recovery.img
TOGO=$img/bitlk-togo-aes-xts-128.img

# --- servers ---------------------------------------------------------------
e2e_dc
ADM=(-x -H "$AD_URI_LDAPS" -D "$AD_ADMIN_DN" -y "$AD_ADMIN_PASS_FILE")
ad_remove() {
	timeout 30 ldapdelete "${ADM[@]}" -r "$ou" >/dev/null 2>&1
}
ou="OU=VolumeE2E,$BDEKEY_TEST_BASE"
# a run that died before its cleanup left its OU behind
ad_remove
"$PY" tests/e2e/volume_fixture.py ldif "$img/images.conf" "$ou" >"$tmp/vol.ldif" ||
	fatal "volume_fixture.py ldif"
timeout 30 ldapadd "${ADM[@]}" -f "$tmp/vol.ldif" >"$tmp/ldapadd.out" 2>&1 ||
	fatal "the keys did not go into the DC: $(tail -5 "$tmp/ldapadd.out")"
"$PY" tests/e2e/volume_fixture.py graph "$img/images.conf" "$tmp/fixture.json" ||
	fatal "volume_fixture.py graph"
e2e_graph

for v in $(env | sed -n 's/^\(BDEKEY_[A-Z_]*\)=.*/\1/p'); do
	case $v in BDEKEY | BDEKEY_AD_DIR | BDEKEY_TEST_BASE | BDEKEY_AUTHORITY | \
		BDEKEY_GRAPH | BDEKEY_CA_BUNDLE | BDEKEY_TENANT | BDEKEY_CLIENT_ID) ;;
	*) unset "$v" ;;
	esac
done
e2e_env
$T kinit "$AD_HELPDESK_UPN" <"$AD_HELPDESK_PASS_FILE" >/dev/null 2>&1 ||
	fatal "kinit helpdesk failed"
bk login
expect "login" 0

# --- found by protector ID in both directories, proved to open ------------
setmark
glog_mark
bk lookup --volume "$X128" --show --json --reason VOL-1
expect "lookup --volume --show: exit 0" 0
jtest "the volume in the JSON" \
	"d['volume']['volume_id'] == '$X128_GUID' and d['volume']['computer'] == 'DESKTOP-NPM7RCA' and d['volume']['path'] == '$X128' and d['query']['volume'] == '$X128'"
jtest "found by protector ID in AD and Entra: one key, two sources" \
	"key('$X128_RP_ID') is not None and key('$X128_RP_ID')['sources'] == ['ad', 'graph']"
jtest "it opens this volume" \
	"key('$X128_RP_ID')['this_volume'] is True and key('$X128_RP_ID')['unlocks'] is True and key('$X128_RP_ID')['password'] == '$X128_RP' and key('$X128_RP_ID')['password_valid'] is True"
jtest "the computer's stale key: listed, not this volume" \
	"key('$STALE_AD') is not None and key('$STALE_AD')['device'] == 'DESKTOP-NPM7RCA' and key('$STALE_AD')['this_volume'] is False and key('$STALE_AD')['unlocks'] is None"
jtest "the stale key's password is not read" \
	"'password' not in key('$STALE_AD') and key('$STALE_AD')['password_valid'] is None"
jtest "the other volume's key of the computer: not this volume" \
	"key('$CBC_RP_ID')['this_volume'] is False and 'password' not in key('$CBC_RP_ID')"
jtest "no errors" "d['errors'] == []"
lacks "the stale password is nowhere in the output" "$tmp/out" "$STALE_AD_PW"
recs "one audit record, for the key that was shown" \
	"len(r) == 1 and r[0]['action'] == 'show' and r[0]['key_id'] == '$X128_RP_ID' and r[0]['reason'] == 'VOL-1'"
same "Graph: the key read once" "$(key_read "${X128_RP_ID,,}")" 1

bk lookup --volume "$X128" --show
expect "human: exit 0" 0
has "human: the volume block" "$tmp/out" "volume id   $X128_GUID"
has "human: the volume's computer" "$tmp/out" "computer    DESKTOP-NPM7RCA"
has "human: the key" "$tmp/out" "key id      $X128_RP_ID"
has "human: opens" "$tmp/out" "unlocks     opens this volume"
has "human: the stale key is not this volume's" "$tmp/out" \
	"protector   not one of this volume's"
lacks "human: no stale password" "$tmp/out" "$STALE_AD_PW"
# the volume block comes first, then the key with its line
"$PY" - "$tmp/out" "$X128_RP_ID" <<'EOF' && ok || bad "human: order of blocks: $(head -c 800 "$tmp/out")"
import sys
blocks = open(sys.argv[1]).read().split("\n\n")
key = [b for b in blocks if "key id      " + sys.argv[2] in b]
sys.exit(0 if blocks[0].startswith("path ") and "volume id" in blocks[0]
         and len(key) == 1 and "unlocks     opens this volume" in key[0]
         else 1)
EOF

# without --show: nothing read, nothing proved, nothing recorded
setmark
glog_mark
bk lookup --volume "$X128" --json
expect "lookup --volume without --show" 0
jtest "without --show: this volume's key, unlocks not known" \
	"key('$X128_RP_ID')['this_volume'] is True and key('$X128_RP_ID')['unlocks'] is None and all('password' not in k for k in d['keys'])"
same "without --show: no audit record" "$(records)" "$mark"
same "without --show: no Graph key read" "$(glog_new | grep -c key-read)" 0

# --- Graph: the startup-key volume, with the device's stale key -------------
setmark
glog_mark
bk lookup --volume "$SK" --show --json
expect "Graph: lookup --volume --show" 0
jtest "Graph: found by protector ID, opens" \
	"key('$SK_RP_ID')['source'] == 'graph' and key('$SK_RP_ID')['unlocks'] is True and key('$SK_RP_ID')['device'] == 'DESKTOP-LG39GVP'"
jtest "Graph: the stale key listed, not this volume, not read" \
	"key('$STALE_GRAPH')['this_volume'] is False and 'password' not in key('$STALE_GRAPH')"
same "Graph: the volume's key read" "$(key_read "${SK_RP_ID,,}")" 1
same "Graph: the stale key never read" "$(key_read "${STALE_GRAPH,,}")" 0
recs "Graph: no audit record for the stale key" \
	"[x['key_id'] for x in r] == ['$SK_RP_ID']"
# the startup key itself is no directory's: not an error
jtest "Graph: no error for the startup-key protector" "d['errors'] == []"
bk lookup --volume "$SK" --source ad --json
expect "only AD asked: the Graph key is missing" 1
jtest "only AD asked: not-found for the recovery protector" \
	"d['keys'] == [] and [(e['kind'], e['key_id'], e['protector']) for e in d['errors']] == [('not-found', '$SK_RP_ID', 'recovery-password')]"

# --- a wrong password under the right protector ID ---------------------------
setmark
bk lookup --volume "$CBC" --show --json
expect "wrong password escrowed: exit 5" 5
jtest "wrong password: this volume's, does not open it" \
	"key('$CBC_RP_ID')['this_volume'] is True and key('$CBC_RP_ID')['unlocks'] is False and key('$CBC_RP_ID')['password_valid'] is True"
jtest "wrong password: xts-128's key is not this volume's" \
	"key('$X128_RP_ID')['this_volume'] is False"
bk lookup --volume "$CBC" --show
expect "wrong password, human: exit 5" 5
has "wrong password, human: says so" "$tmp/out" \
	"unlocks     does NOT open this volume"
setmark
bk lookup --volume "$CBC" --read-out --reason VOL-2
expect "--read-out refuses a password that does not open the volume" 5 \
	"key $CBC_RP_ID does not open this volume; not reading it out"
lacks "--read-out refuses: nothing read out" "$tmp/out" "block 1 of 8"
lacks "--read-out refuses: no password on stdout" "$tmp/out" "$X256_RP"
# the password was read and tried on the disk: that is recorded, first
recs "--read-out refuses: the key tried is recorded, nothing more" \
	"len(r) == 1 and r[0]['key_id'] == '$CBC_RP_ID'"
setmark
bk lookup --volume "$X128" --read-out --reason VOL-3
expect "--read-out of the password that opens the volume" 0
has "--read-out: block 1" "$tmp/out" "block 1 of 8:  235 818"
recs "--read-out: recorded" \
	"len(r) == 1 and r[0]['action'] == 'read-out' and r[0]['key_id'] == '$X128_RP_ID'"

# --- recovery protectors on file nowhere ------------------------------------
bk lookup --volume "$X256" --show --json
expect "protector on file nowhere: exit 1" 1 \
	"no directory has the recovery password of protector $X256_RP_ID"
jtest "protector on file nowhere: a not-found error naming it" \
	"[(e['kind'], e['key_id'], e['protector']) for e in d['errors']] == [('not-found', '$X256_RP_ID', 'recovery-password')]"
jtest "protector on file nowhere: the computer's keys, none this volume's" \
	"len(d['keys']) >= 4 and all(k['this_volume'] is False and k['unlocks'] is None and 'password' not in k for k in d['keys'])"
bk lookup --volume "$TWO" --show --json
expect "two-recovery, one escrowed: exit 1" 1
jtest "two-recovery: the second password opens it" \
	"key('$TWO_RP2_ID')['unlocks'] is True and key('$TWO_RP2_ID')['password'] == '$TWO_RP2'"
jtest "two-recovery: the first protector is not-found" \
	"[(e['kind'], e['key_id']) for e in d['errors']] == [('not-found', '$TWO_RP_ID')]"
# --- one protector ID, two passwords: AD's wrong, Entra's right -----------
bk lookup --volume "$TOGO" --show --json
expect "AD and Entra disagree: exit 5 (a wrong key is on file)" 5
jtest "AD and Entra disagree: two entries, Entra's opens, AD's does not" \
	"sorted((k['source'], k['unlocks']) for k in d['keys'] if k['key_id'] == '$TOGO_RP_ID') == [('ad', False), ('graph', True)]"
bk unlock --test "$TOGO"
expect "AD and Entra disagree: unlock --test picks the one that opens" 0 \
	"key $TOGO_RP_ID \\(ad\\) does not open this volume"
has "AD and Entra disagree: Entra's key used" "$tmp/out" \
	"key $TOGO_RP_ID (graph) opens volume $TOGO_GUID"
bk lookup --volume "$TOGO" --read-out --reason VOL-5
expect "AD and Entra disagree: --read-out reads Entra's" 0
has "AD and Entra disagree: the right password read out" "$tmp/out" \
	"block 1 of 8:  243 067"

# a directory that fails may have it: unreachable, not "not found"
BDEKEY_GRAPH=https://127.0.0.1:9/graph bk lookup --volume "$X256" --json --timeout 5
expect "Graph down: exit 4" 4
jtest "Graph down: its error, no not-found claims" \
	"[e['kind'] for e in d['errors']] == ['unreachable'] and d['errors'][0]['source'] == 'graph'"

# --- unlock --test: the key on file that opens the volume ---------------------
setmark
bk unlock --test --reason VOL-4 "$X128"
expect "unlock --test from the directories" 0
has "unlock --test: the key that opens it" "$tmp/out" \
	"key $X128_RP_ID (ad) opens volume $X128_GUID"
recs "unlock --test: one record, before use" \
	"len(r) == 1 and r[0]['action'] == 'unlock-test' and r[0]['key_id'] == '$X128_RP_ID' and r[0]['volume_id'] == '$X128_GUID' and r[0]['reason'] == 'VOL-4' and r[0]['identity']"
lacks "unlock --test: no password in the log" "$audit" "$X128_RP"
# no record, no use: the key is not tried
BDEKEY_AUDIT_LOG=/dev/full bk unlock --test "$X128"
expect "unlock --test, audit log full" 4
lacks "unlock --test, audit log full: nothing opened" "$tmp/out" "opens"
bk unlock --test "$SK"
expect "unlock --test, key in Entra" 0
has "unlock --test, key in Entra: picked" "$tmp/out" "key $SK_RP_ID (graph) opens volume $SK_GUID"
bk unlock --test "$TWO"
expect "unlock --test, the second recovery password" 0
has "unlock --test, second password: picked" "$tmp/out" "key $TWO_RP2_ID (graph) opens"
bk unlock --test --key-id "${X128_RP_ID:0:8}" "$X128"
expect "unlock --test --key-id (8 digits)" 0
bk unlock --test --key-id "$STALE_AD" "$X128"
expect "unlock --test --key-id of a key not this volume's" 1 \
	"no key with ID '$STALE_AD' among this volume's recovery passwords"
setmark
bk unlock --test "$CBC"
expect "unlock --test, wrong key on file" 5 "key $CBC_RP_ID \\(ad\\) does not open this volume"
lacks "unlock --test, wrong key: nothing opened" "$tmp/out" "opens"
bk unlock --test "$X256"
expect "unlock --test, no key on file" 1 "no directory has a recovery password of this volume"

# --- unlock without device-mapper: no directory is asked -------------------
if [ -e /dev/mapper/control ] && [ "$(id -u)" -eq 0 ]; then
	echo "NOT RUN: unlock without device-mapper: device-mapper works here"
else
	setmark
	glog_mark
	bk unlock "$X128"
	expect "unlock without device-mapper" 4 "device-mapper .*--test proves the key without it"
	same "no device-mapper: no Graph request" "$(glog_new | grep -c ' http ')" 0
	same "no device-mapper: no audit record" "$(records)" "$mark"
fi

finish
