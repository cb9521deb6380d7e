#!/bin/bash
# test-ad.sh - bdekey's AD backend against a real Samba AD DC on loopback.
#
#   BDEKEY=build/dev/bdekey tests/ad/test-ad.sh
#
# Starts the fixture DC (tests/ad/dc.sh) in a temporary directory and stops
# it on exit, or reuses a running one when BDEKEY_AD_DIR names its
# directory.  Drives the real binary through `bdekey lookup --source ad` and
# `bdekey package`, checking stdout, JSON, stderr and exit statuses.  What
# went over the wire inside TLS (paged results control, attribute list,
# filters) is checked through tests/ad/ldapspy.py, a TLS-terminating proxy.
#
# Ends with one line "ad: N passed, M failed"; exits 1 when any failed.
# Outside CI a DC that cannot start skips the suite (said loudly); with
# CI=true it is a failure.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=ad
# shellcheck source=tests/lib.sh
. "$HERE/../lib.sh"
PY=/usr/bin/python3
BDEKEY=${BDEKEY:?BDEKEY must name the bdekey binary under test}
case $BDEKEY in /*) ;; *) BDEKEY=$PWD/$BDEKEY ;; esac
T=${AD_TEST_TIMEOUT:-30}	# seconds for any one command
# a sanitizer build: leaks in libraries we do not own are listed there
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERE/../lsan.supp:print_suppressions=0}

make_tmp ad
DIR=${BDEKEY_AD_DIR:-$TMP/dc}
cleanup() {
	stop_pids
	stop_dc
}

# check NAME COND...: a test passes when the shell condition holds.
check() { check_cmd "$@"; }
# run [VAR=value...] -- ARGS...: bdekey, bounded by $T (lib.sh)
run() { run_bdekey "$@"; }
# expect NAME STATUS: the last run exited with STATUS.
expect() { expect_exit "$@"; }

# spy EXPR: a Python expression over the spy log's records (r, a list);
# a = every search, s = the searches but the RootDSE read (base "").
spy() {
	"$PY" -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
a = [x for x in r if x["op"] == "search"]
s = [x for x in a if x["base"] != ""]
v = eval(sys.argv[2])
print(v if not isinstance(v, bool) else str(v).lower())' "$SPY_LOG" "$1" 2>>"$TMP/err"
}

# ------------------------------------------------------------ the DC
start_dc() {
	dc_reuse "$DIR" && return 0
	# a DC of someone else's on 127.0.0.1: ours goes on another address
	if [ -z "${AD_IP:-}" ] && [ ! -s "$DIR/ad_ip" ]; then
		AD_IP=$(free_ip 1 30 389 636 88)
		export AD_IP
	fi
	dc_start dc.sh "$DIR" 600
}

if ! start_dc; then
	skip_or_fail "FAIL the Samba AD DC did not start" \
		"SKIPPED: the Samba AD DC did not start (not CI: not a failure)"
fi
dc_env "$DIR"

# A clean, private environment: no config file, no audit log in $HOME.
ad_private_env

# password files, mode 0600
(
	umask 077
	printf '%s\n' "$AD_HELPDESK_PASS" >"$TMP/helpdesk.pass"
	printf '%s\n' "$AD_READER_PASS" >"$TMP/reader.pass"
	printf '%s\n' "$AD_NOACCESS_PASS" >"$TMP/noaccess.pass"
	printf '%s\n' "not-the-Password-1" >"$TMP/wrong.pass"
)
cp "$TMP/helpdesk.pass" "$TMP/open.pass"
chmod 644 "$TMP/open.pass"

LDAPS=$AD_URI_LDAPS
LDAP=$AD_URI_LDAP
SIMPLE=(BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_HELPDESK_DN"
	"BDEKEY_LDAP_PASSWORD_FILE=$TMP/helpdesk.pass")
READER=(BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_READER_DN"
	"BDEKEY_LDAP_PASSWORD_FILE=$TMP/reader.pass" "BDEKEY_LDAP_URI=$LDAPS")
GSS=("BDEKEY_LDAP_URI=$LDAP")

# ------------------------------------------------------------ GSSAPI
kinit_helpdesk

run "${GSS[@]}" -- lookup --source ad --device PC-ALPHA --json
expect "gssapi: lookup --device PC-ALPHA" 0
jcheck "gssapi: three keys, newest first by whenCreated (not CN order)" \
	"[k['key_id'] for k in d['keys']] == ['$AD_ALPHA_KEY_NEW'.strip('{}'), '$AD_ALPHA_KEY_B'.strip('{}'), '$AD_ALPHA_KEY_OLD'.strip('{}')]"
jcheck "gssapi: two volumes, rotation history on volume A" \
	"[k['volume_guid'] for k in d['keys']] == ['$AD_ALPHA_VOL_A'.strip('{}'), '$AD_ALPHA_VOL_B'.strip('{}'), '$AD_ALPHA_VOL_A'.strip('{}')]"
jcheck "gssapi: record fields (source, device, dn, computer_dn)" \
	"all(k['source'] == 'ad' and k['device'] == 'PC-ALPHA' and k['computer_dn'] == '$AD_ALPHA_DN' for k in d['keys']) and d['keys'][0]['dn'] == r'''$AD_ALPHA_KEYDN_NEW'''"
jcheck "gssapi: created is RFC 3339 UTC" \
	"all(__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', k['created']) for k in d['keys'])"
jcheck "gssapi: without --show no password and password_valid null" \
	"all('password' not in k and k['password_valid'] is None for k in d['keys']) and d['errors'] == []"

run "${GSS[@]}" -- lookup --source ad --device PC-ALPHA --show --json
expect "gssapi: lookup --device PC-ALPHA --show" 0
jcheck "gssapi: --show reads every password, all valid" \
	"[k.get('password') for k in d['keys']] == ['$AD_ALPHA_PW_NEW', '$AD_ALPHA_PW_B', '$AD_ALPHA_PW_OLD'] and all(k['password_valid'] is True for k in d['keys'])"

run "${GSS[@]}" -- lookup --source ad --device PC-BETA --show
expect "gssapi: human output" 0
check "gssapi: human output has key ID and password" \
	eval 'out_has "${AD_BETA_KEY:1:36}" && out_has "$AD_BETA_PW"'

run "${GSS[@]}" "BDEKEY_LDAP_URI=$LDAPS" -- lookup --source ad \
	--device PC-BETA
expect "gssapi over TLS (maxssf=0; Samba allows no SASL inside TLS)" 3
check "gssapi over TLS: Samba's answer to maxssf=0" err_has "Sign or Seal are required"

run "${GSS[@]}" "KRB5CCNAME=FILE:$TMP/no-such-ccache" -- lookup --source ad \
	--device PC-BETA
expect "gssapi without a ticket" 3
check "gssapi without a ticket: says so" err_has "No Kerberos credentials"

# ------------------------------------------------------------ simple bind
run "${SIMPLE[@]}" "BDEKEY_LDAP_URI=$LDAPS" -- lookup --source ad \
	--device PC-BETA --show --json
expect "simple bind over LDAPS" 0
jcheck "simple bind over LDAPS: the password" \
	"d['keys'][0]['password'] == '$AD_BETA_PW' and d['keys'][0]['password_valid'] is True"

run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "$LDAP" --starttls \
	--device PC-BETA --show --json
expect "simple bind with --starttls" 0
jcheck "simple bind with --starttls: the password" \
	"d['keys'][0]['password'] == '$AD_BETA_PW'"

# refused before anything is sent: nothing may even connect to the spy
spy_start clear --silent
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldap://127.0.0.1:$SPY_PORT" \
	--device PC-BETA
expect "cleartext simple bind refused" 2
check "cleartext simple bind: message names ldaps:// and --starttls" \
	eval 'err_has "refusing a simple bind without TLS" && err_has "use ldaps:// or --starttls"'
scheck "cleartext simple bind: no connection was even opened" "len(r) == 0"
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "$LDAPS" \
	--ldap-uri "ldap://127.0.0.1:$SPY_PORT" --device PC-BETA
expect "cleartext simple bind refused on a later failover URI too" 2
scheck "cleartext as second URI: refused before connecting" "len(r) == 0"

run BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_HELPDESK_DN" \
	"BDEKEY_LDAP_PASSWORD_FILE=$TMP/wrong.pass" "BDEKEY_LDAP_URI=$LDAPS" -- \
	lookup --source ad --device PC-BETA
expect "wrong password" 3
check "wrong password: message" \
	eval 'err_has "cannot bind as '"'$AD_HELPDESK_DN'"'" && err_has "invalid credentials"'

run BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_HELPDESK_DN" \
	"BDEKEY_LDAP_PASSWORD_FILE=$TMP/wrong.pass" "BDEKEY_LDAP_URI=$LDAPS" -- \
	lookup --source ad --device PC-BETA --json
expect "wrong password --json" 3
jcheck "wrong password --json: error kind auth" \
	"d['keys'] == [] and d['errors'][0]['source'] == 'ad' and d['errors'][0]['kind'] == 'auth'"

run BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_HELPDESK_DN" \
	"BDEKEY_LDAP_PASSWORD_FILE=$TMP/open.pass" "BDEKEY_LDAP_URI=$LDAPS" -- \
	lookup --source ad --device PC-BETA
expect "password file readable by others refused" 2
check "password file readable by others: names it, says chmod 600" \
	eval 'err_has "secret file '"'$TMP/open.pass'"' is readable by others" && err_has "chmod 600"'

run "${SIMPLE[@]}" "BDEKEY_LDAP_URI=$LDAPS" "LDAPTLS_CACERT=/etc/ssl/certs/ca-certificates.crt" \
	LDAPTLS_REQCERT=never -- lookup --source ad --device PC-BETA
expect "unknown CA refused even with LDAPTLS_REQCERT=never" 4
check "unknown CA: says the TLS handshake failed" err_has "TLS handshake failed"

# ------------------------------------------------------------ failover
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri ldaps://127.0.0.1:1 \
	--ldap-uri "$LDAPS" --device PC-BETA --json
expect "failover: first URI down, second answers" 0
jcheck "failover: key found through the second URI" \
	"d['keys'][0]['key_id'] == '${AD_BETA_KEY:1:36}'"

run "${SIMPLE[@]}" "BDEKEY_LDAP_URI=ldaps://127.0.0.1:1 $LDAPS" -- lookup \
	--source ad --device PC-BETA
expect "failover from BDEKEY_LDAP_URI (space-separated)" 0
check "failover from BDEKEY_LDAP_URI: the key, no complaint" \
	eval 'out_has "${AD_BETA_KEY:1:36}" && [ ! -s "$TMP/err" ]'

run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri ldaps://127.0.0.1:1 \
	--ldap-uri ldaps://127.0.0.1:2 --device PC-BETA
expect "every URI down" 4
check "every URI down: names both" \
	eval 'err_has "ldaps://127.0.0.1:1" && err_has "ldaps://127.0.0.1:2"'

spy_start silent --silent
run "${SIMPLE[@]}" -- lookup --source ad --timeout 2 \
	--ldap-uri "ldaps://127.0.0.1:$SPY_PORT" --device PC-BETA
expect "silent server: the TLS handshake times out" 4
# a loose bound: sanitizer builds run slower, but never for 30 s
check "silent server: says the connect timed out after 2 s, in < 30 s" \
	eval 'err_has "ldaps://127.0.0.1:$SPY_PORT: cannot connect: timed out after 2 s" &&
	    awk -v s="$SECS" "BEGIN { exit !(s < 30) }"'
run "${SIMPLE[@]}" -- lookup --source ad --timeout 2 \
	--ldap-uri "ldaps://127.0.0.1:$SPY_PORT" --ldap-uri "$LDAPS" --device PC-BETA
expect "silent first server: failover to the second" 0
check "silent first server: the key through the second" \
	out_has "${AD_BETA_KEY:1:36}"

spy_start stall --stall-search
run "${SIMPLE[@]}" -- lookup --source ad --timeout 2 \
	--ldap-uri "ldaps://127.0.0.1:$SPY_PORT" --device PC-BETA
expect "server hangs after the bind: the search times out" 4
check "server hangs after the bind: says the first search timed out, in < 30 s" \
	eval 'err_has "ldaps://127.0.0.1:$SPY_PORT: cannot read the RootDSE: timed out after 2 s" &&
	    awk -v s="$SECS" "BEGIN { exit !(s < 30) }"'

# ------------------------------------------------------------ permissions
# The backend reports the withheld passwords itself (issue 9 #3): one
# BDE_EPERM naming how many and the right that is missing, keys kept.
WITHHELD="no permission to read the password of 3 keys: needs Control Access on the recovery objects (msFVE-RecoveryPassword is confidential)"
run "${READER[@]}" -- lookup --source ad --device PC-ALPHA --show
expect "reader (Read Property, no Control Access): --show" 3
check "reader: each key says no permission, not no key" \
	out_has "password    no permission to read the password (needs Control Access"
check "reader: one line on stderr, naming how many and the right" \
	eval 'err_has "bdekey: ad: $WITHHELD" && [ "$(wc -l <"$TMP/err")" = 1 ]'
run "${READER[@]}" -- lookup --source ad --device PC-ALPHA --show --json
expect "reader --json: exit 3" 3
jcheck "reader --json: keys listed, no password, password_valid null" \
	"len(d['keys']) == 3 and all('password' not in k and k['password_valid'] is None for k in d['keys'])"
jcheck "reader --json: the withheld passwords in errors, kind permission, naming Control Access" \
	"[(e['source'], e['kind']) for e in d['errors']] == [('ad', 'permission')] and d['errors'][0]['message'] == '$WITHHELD'"
run "${READER[@]}" -- lookup --source ad --device PC-ALPHA
expect "reader without --show lists the keys" 0
check "reader without --show: the three key IDs" \
	eval 'out_has "${AD_ALPHA_KEY_NEW:1:36}" && out_has "${AD_ALPHA_KEY_B:1:36}" && out_has "${AD_ALPHA_KEY_OLD:1:36}"'

run BDEKEY_LDAP_MECH=SIMPLE "BDEKEY_LDAP_BINDDN=$AD_NOACCESS_DN" \
	"BDEKEY_LDAP_PASSWORD_FILE=$TMP/noaccess.pass" "BDEKEY_LDAP_URI=$LDAPS" -- \
	lookup --source ad --device PC-ALPHA --show
expect "no grant at all: the DC hides the recovery objects" 1
check "no grant at all: says there are no keys this account can see" \
	err_has "computer 'PC-ALPHA' has no recovery keys you can see"

# ------------------------------------------------------------ names
run "${GSS[@]}" -- lookup --source ad --device "$AD_WEIRD_CN" --json
expect "name with ( ) * \\ , and non-ASCII" 0
jcheck "odd name: device and computer_dn as stored" \
	"len(d['keys']) == 1 and d['keys'][0]['device'] == '''$AD_WEIRD_CN''' and d['keys'][0]['computer_dn'] == r'''$AD_WEIRD_DN'''"
run "${GSS[@]}" -- lookup --source ad --device "$AD_WEIRD_SAM" --json
jcheck "odd name: found by sAMAccountName '$AD_WEIRD_SAM'" \
	"[k['key_id'] for k in d['keys']] == ['${AD_WEIRD_KEY:1:36}']"
run "${GSS[@]}" -- lookup --source ad --device "$AD_WEIRD_DNSNAME" --json
jcheck "odd name: found by dNSHostName '$AD_WEIRD_DNSNAME'" \
	"[k['key_id'] for k in d['keys']] == ['${AD_WEIRD_KEY:1:36}']"
run "${GSS[@]}" -- lookup --source ad --key-id "${AD_WEIRD_KEY:1:8}" --json
jcheck "odd name: by key ID, device unescaped from the DN" \
	"d['keys'][0]['device'] == '''$AD_WEIRD_CN''' and d['keys'][0]['computer_dn'] == r'''$AD_WEIRD_DN'''"
for name in '*' 'PC-*' 'PC-ALPHA)(cn=*' '*)(objectClass=*'; do
	run "${GSS[@]}" -- lookup --source ad --device "$name"
	expect "filter characters are escaped: --device '$name' finds nothing" 1
	check "filter characters are escaped: no computer named '$name'" \
		err_has "no computer named '$name'"
done
run "${GSS[@]}" -- lookup --source ad --device pc-alpha
expect "device names are case-insensitive" 0
check "device names are case-insensitive: PC-ALPHA's keys" \
	eval 'out_has "PC-ALPHA" && out_has "${AD_ALPHA_KEY_NEW:1:36}"'

run "${GSS[@]}" -- lookup --source ad --device PC-NOKEY
expect "computer without a key" 1
check "computer without a key: says no key found" \
	err_has "computer 'PC-NOKEY' has no recovery keys you can see"
run "${GSS[@]}" -- lookup --source ad --device NO-SUCH-PC
expect "unknown computer" 1
check "unknown computer: says so" err_has "no computer named 'NO-SUCH-PC'"

run "${GSS[@]}" -- lookup --source ad --device PC-BADSUM --show --json
expect "stored password with a bad block" 5
jcheck "bad block: flagged invalid, never valid" \
	"d['keys'][0]['password_valid'] is False and d['keys'][0]['password'] == '$AD_BADSUM_PW'"
run "${GSS[@]}" -- lookup --source ad --device PC-BADSUM --show
check "bad block: human output warns" out_has "INVALID"

# ------------------------------------------------------------ key IDs
NEW=${AD_ALPHA_KEY_NEW:1:36}
HEX=${NEW//-/}
run "${GSS[@]}" -- lookup --source ad --key-id "${HEX:0:8}" --json
expect "key ID prefix of 8 hex digits" 0
jcheck "8 digits: the one key, with its computer" \
	"[(k['key_id'], k['device'], k['computer_dn']) for k in d['keys']] == [('$NEW', 'PC-ALPHA', '$AD_ALPHA_DN')]"
run "${GSS[@]}" -- lookup --source ad --key-id "${HEX,,}" --show --json
expect "key ID of 32 hex digits, lower case" 0
jcheck "32 digits: the key and its password" \
	"[k['key_id'] for k in d['keys']] == ['$NEW'] and d['keys'][0]['password'] == '$AD_ALPHA_PW_NEW'"
run "${GSS[@]}" -- lookup --source ad --key-id "$AD_ALPHA_KEY_NEW" --json
jcheck "full ID with braces and dashes" "[k['key_id'] for k in d['keys']] == ['$NEW']"
for n in 9 10 12 13 16 18 20 25 31; do
	run "${GSS[@]}" -- lookup --source ad --key-id "${HEX:0:$n}" --json
	jcheck "key ID prefix of $n hex digits" "[k['key_id'] for k in d['keys']] == ['$NEW']"
done
# same first 8 digits, differs later: the DC filter matches, the client must not
run "${GSS[@]}" -- lookup --source ad --key-id "${HEX:0:8}FFFF"
expect "prefix matching 8 digits but not 12: nothing" 1
check "prefix matching 8 digits but not 12: says not found, prints no key" \
	eval 'err_has "no recovery key with ID '"'${HEX:0:8}FFFF...'"'" && [ ! -s "$TMP/out" ]'
run "${GSS[@]}" -- lookup --source ad --key-id "${HEX:0:31}0"
expect "31 digits right, last one wrong: nothing" 1
check "31 digits right, last one wrong: says not found, prints no key" \
	eval 'err_has "no recovery key with ID '"'${HEX:0:31}0'"'" && [ ! -s "$TMP/out" ]'
run "${GSS[@]}" -- lookup --source ad --key-id "$AD_TWIN_PREFIX" --json
expect "twin prefix" 0
jcheck "twin prefix: both keys, both computers" \
	"sorted((k['key_id'], k['device']) for k in d['keys']) == [('${AD_TWIN1_KEY:1:36}', 'PC-TWIN1'), ('${AD_TWIN2_KEY:1:36}', 'PC-TWIN2')]"
# Samba cuts substring chunks at a NUL byte and matches nothing when the
# first stored byte is NUL: key IDs whose digits 7-8 are "00" (1 in 256)
NULKEY=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import fixture
print(fixture.many_key_guid(100).strip("{}"))' "$HERE")
run "${GSS[@]}" -- lookup --source ad --key-id "${NULKEY:0:8}" --json
expect "key ID whose first stored byte is NUL (${NULKEY:0:8})" 0
jcheck "first stored byte NUL: found, on PC-MANY" \
	"[(k['key_id'], k['device']) for k in d['keys']] == [('$NULKEY', 'PC-MANY')]"
TWIN1=${AD_TWIN1_KEY:1:36}
TWINHEX=${TWIN1//-/}
run "${GSS[@]}" -- lookup --source ad --key-id "${TWINHEX:0:22}" --json
expect "key ID prefix with a NUL byte inside (${TWINHEX:0:22})" 0
jcheck "NUL inside the prefix: the one key" "[k['key_id'] for k in d['keys']] == ['$TWIN1']"
while IFS='|' read -r bad why; do
	run "${GSS[@]}" -- lookup --source ad --key-id "$bad"
	expect "malformed key ID '$bad'" 2
	check "malformed key ID '$bad': says $why" \
		eval 'err_has "key ID '"'$bad'"': $why"'
done <<'EOF'
1A2B3C4|need at least the first 8 hex digits
XYZ12345|'X' is not a hex digit
1A2B3C4D5E6F4A5B8C7D9E0F1A2B3C4D0|more than 32 hex digits
1A2B-3C4D|misplaced '-'
1A2B3C4D}|closing brace without an opening one
|need at least the first 8 hex digits
EOF

# ------------------------------------------------------------ on the wire
# PC-MANY has more than 1000 recovery objects: AD's MaxPageSize.
spy_start many
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--page-size 100 --device PC-MANY --json
expect "PC-MANY ($AD_MANY_COUNT keys) with --page-size 100" 0
jcheck "PC-MANY: every key, newest first" \
	"len(d['keys']) == $AD_MANY_COUNT and d['keys'][0]['key_id'] == '${AD_MANY_KEY_LAST:1:36}' and d['keys'][-1]['key_id'] == '${AD_MANY_KEY_FIRST:1:36}' and len({k['key_id'] for k in d['keys']}) == $AD_MANY_COUNT"
PAGED=1.2.840.113556.1.4.319
scheck "paging: every search carries the paged results control" \
	"len(a) > 0 and all(any(c['oid'] == '$PAGED' for c in x['controls']) for x in a)"
scheck "paging: one-level search followed the cookie over 11 pages of 100" \
	"[(c['size'], c['cookie'] != '') for x in s if x['scope'] == 'one' for c in x['controls'] if c['oid'] == '$PAGED'] == [(100, False)] + [(100, True)] * 10"
scheck "paging: LDAP_SERVER_DOMAIN_SCOPE sent, not critical" \
	"all(any(c['oid'] == '1.2.840.113556.1.4.1339' and not c['critical'] for c in x['controls']) for x in a)"
scheck "computer search: cn and sAMAccountName, no dNSHostName for a bare name" \
	"s[0]['filter'] == '(&(objectCategory=computer)(|(cn=PC-MANY)(sAMAccountName=PC-MANY\$)))'"
scheck "recovery search: one level under the computer" \
	"all(x['base'] == '$AD_MANY_DN' and x['filter'] == '(objectClass=msFVE-RecoveryInformation)' for x in s if x['scope'] == 'one')"
scheck "without --show: msFVE-RecoveryPassword never requested" \
	"all(x['attrs'] and '*' not in x['attrs'] and 'msfve-recoverypassword' not in [n.lower() for n in x['attrs']] for x in a)"

# Passwords are read from exactly the objects wanted (issue 9 #16): the
# searches never ask for msFVE-RecoveryPassword, a base search a key does.
spy_start show
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--device PC-BETA --show
expect "through the spy with --show" 0
scheck "with --show: only a base search of the key's own DN asks for msFVE-RecoveryPassword" \
	"[(x['scope'], x['base'] if 'msFVE-RecoveryPassword' in x['attrs'] else None) for x in s] == [('sub', None), ('one', None), ('base', r'''$AD_BETA_KEYDN''')]"
scheck "a bind, the RootDSE (no base set), computer and keys searches, the key's password" \
	"[(x['op'], x.get('scope')) for x in r if x['op'] not in ('accept', 'unbind')] == [('bind', None), ('search', 'base'), ('search', 'sub'), ('search', 'one'), ('search', 'base')]"
spy_start keyshow
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--key-id "$AD_TWIN_PREFIX" --show --json
expect "twin prefix with --show through the spy" 0
jcheck "twin prefix with --show: both passwords" \
	"sorted(k['password'] for k in d['keys']) == sorted(['$AD_TWIN1_PW', '$AD_TWIN2_PW'])"
scheck "twin prefix with --show: the subtree search without the password, one base search a key" \
	"[(x['scope'], 'msFVE-RecoveryPassword' in x['attrs']) for x in s] == [('sub', False), ('base', True), ('base', True)] and sorted(x['base'] for x in s if x['scope'] == 'base') == sorted([r'''$AD_TWIN1_KEYDN''', r'''$AD_TWIN2_KEYDN'''])"

spy_start fqdn
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--device "$AD_BETA_DNSNAME"
expect "dotted name" 0
scheck "dotted name: dNSHostName asked as well" \
	"'(dNSHostName=$AD_BETA_DNSNAME)' in s[0]['filter']"

spy_start keyid
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--key-id "${HEX:0:8}"
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--key-id "$HEX"
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--key-id "${HEX:0:12}"
# storage order of 1A2B3C4D-5E6F-4A5B-8C7D-9E0F1A2B3C4D (MS-DTYP 2.3.4.2)
scheck "key ID filters: binary msFVE-RecoveryGuid, first field reversed" \
	"[x['filter'] for x in s] == ['(&(objectClass=msFVE-RecoveryInformation)(msFVE-RecoveryGuid=\\\\4d\\\\3c\\\\2b\\\\1a*))', '(&(objectClass=msFVE-RecoveryInformation)(msFVE-RecoveryGuid=\\\\4d\\\\3c\\\\2b\\\\1a\\\\6f\\\\5e\\\\5b\\\\4a\\\\8c\\\\7d\\\\9e\\\\0f\\\\1a\\\\2b\\\\3c\\\\4d))', '(&(objectClass=msFVE-RecoveryInformation)(msFVE-RecoveryGuid=\\\\4d\\\\3c\\\\2b\\\\1a\\\\6f\\\\5e*))']"
run "${SIMPLE[@]}" -- lookup --source ad --ldap-uri "ldaps://127.0.0.1:$SPY_PORT" \
	--key-id "${NULKEY:0:8}"
scheck "key ID with a NUL first stored byte: matched in the CN instead" \
	"s[-1]['filter'] == '(&(objectClass=msFVE-RecoveryInformation)(cn=*{${NULKEY:0:8}*))'"
scheck "key ID search: from the domain root, subtree" \
	"all(x['base'] == '$BDEKEY_TEST_BASE' and x['scope'] == 'sub' for x in s)"

# ------------------------------------------------------------ forged object
# A recovery object whose CN names another key ID than its
# msFVE-RecoveryGuid: refused (protocol error) rather than shown under
# either ID.  Added as Administrator, removed again at once.
FORGED_PC=PC-FORGED-$$
FORGED_DN="CN=$FORGED_PC,$AD_OU"
# The attribute's key ID never has a NUL first stored byte (digits 7-8
# "00"): that one is searched in the CN (Samba quirk, see filter.c), which
# names the other ID, and the key-ID case below would find nothing.
read -r FORGED_CN_ID FORGED_ATTR_ID FORGED_B64 < <("$PY" -c 'import uuid, base64
a, b = uuid.uuid4(), uuid.uuid4()
while b.bytes_le[0] == 0:
    b = uuid.uuid4()
print(str(a).upper(), str(b).upper(), base64.b64encode(b.bytes_le).decode())')
printf '%s\n' "dn: $FORGED_DN" "objectClass: computer" \
	"sAMAccountName: $FORGED_PC\$" "userAccountControl: 4096" "" \
	"dn: CN=2024-06-01T10:00:00Z{$FORGED_CN_ID},$FORGED_DN" \
	"objectClass: msFVE-RecoveryInformation" \
	"msFVE-RecoveryGuid:: $FORGED_B64" \
	"msFVE-RecoveryPassword: $AD_ALPHA_PW_OLD" >"$TMP/forged.ldif"
forged_cleanup() {
	timeout "$T" ldapdelete -r -x -H "$LDAPS" -D "$AD_ADMIN_DN" \
		-y "$AD_ADMIN_PASS_FILE" "$FORGED_DN" >/dev/null 2>&1
}
if timeout "$T" ldapadd -x -H "$LDAPS" -D "$AD_ADMIN_DN" -y "$AD_ADMIN_PASS_FILE" \
    -f "$TMP/forged.ldif" >"$TMP/err" 2>&1; then
	ok "forged recovery object added"
	run "${GSS[@]}" -- lookup --source ad --device "$FORGED_PC" --show
	expect "CN and msFVE-RecoveryGuid disagree: refused" 4
	check "CN and msFVE-RecoveryGuid disagree: names both IDs, no password" \
		eval 'err_has "$FORGED_CN_ID" && err_has "$FORGED_ATTR_ID" && ! out_has "$AD_ALPHA_PW_OLD"'
	run "${GSS[@]}" -- lookup --source ad --key-id "${FORGED_ATTR_ID:0:8}" --show
	expect "forged object found by key ID: refused too" 4
else
	not_ok "forged recovery object added"
fi
forged_cleanup

# ------------------------------------------------------------ package
PKG=$TMP/pkg/key.bin
mkdir -p "$TMP/pkg"
expected_pkg() {
	"$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import fixture
sys.stdout.buffer.write(fixture.key_package(sys.argv[2]))' "$HERE" "$1"
}
expected_pkg "$AD_ALPHA_KEY_NEW" >"$TMP/expected.bin"
run "${GSS[@]}" -- package --key-id "${HEX:0:8}" -o "$PKG"
expect "package: --key-id 8 digits -o FILE" 0
check "package: the bytes of msFVE-KeyPackage" cmp -s "$PKG" "$TMP/expected.bin"
check "package: mode 0600" eval '[ "$(stat -c %a "$PKG")" = 600 ]'
check "package: audited before writing" \
	eval 'grep -q "\"action\":\"package\"" "$BDEKEY_AUDIT_LOG" && grep -q "$NEW" "$BDEKEY_AUDIT_LOG"'
printf 'keep me' >"$TMP/pkg/other.bin"
run "${GSS[@]}" -- package --key-id "${HEX:0:8}" -o "$TMP/pkg/other.bin"
expect "package: refuses to overwrite" 2
check "package: existing file untouched" eval '[ "$(cat "$TMP/pkg/other.bin")" = "keep me" ]'
check "package: says use --force" err_has "use --force"
chmod 644 "$TMP/pkg/other.bin"
run "${GSS[@]}" -- package --key-id "$AD_ALPHA_KEY_NEW" -o "$TMP/pkg/other.bin" --force
expect "package --force overwrites" 0
check "package --force: new content, mode 0600" \
	eval 'cmp -s "$TMP/pkg/other.bin" "$TMP/expected.bin" && [ "$(stat -c %a "$TMP/pkg/other.bin")" = 600 ]'
ln -s "$TMP/pkg/target.bin" "$TMP/pkg/link.bin"
run "${GSS[@]}" -- package --key-id "${HEX:0:8}" -o "$TMP/pkg/link.bin" --force
check "package --force never writes through a symbolic link" \
	eval '[ "$RC" != 0 ] && [ ! -e "$TMP/pkg/target.bin" ]'
run "${GSS[@]}" -- package --key-id "$AD_TWIN_PREFIX" -o "$TMP/pkg/twin.bin"
expect "package: ambiguous prefix" 2
check "package: ambiguous prefix: says how many, asks for more digits" \
	err_has "key ID '$AD_TWIN_PREFIX' matches 2 recovery keys: give more digits"
check "package: ambiguous prefix writes nothing" eval '[ ! -e "$TMP/pkg/twin.bin" ]'
run "${GSS[@]}" -- package --key-id 0BADC0DE -o "$TMP/pkg/none.bin"
expect "package: unknown key" 1
check "package: unknown key: says so, writes nothing" \
	eval 'err_has "no recovery key with ID '"'0BADC0DE...'"'" && [ ! -e "$TMP/pkg/none.bin" ]'
run "${READER[@]}" -- package --key-id "${HEX:0:8}" -o "$TMP/pkg/reader.bin"
expect "package: reader may not read it" 3
check "package: reader: names the object, says Control Access" \
	eval 'err_has "recovery object '"'$AD_ALPHA_KEYDN_NEW'"' has no key package you can read" && err_has "needs Control Access"'
check "package: reader writes nothing" eval '[ ! -e "$TMP/pkg/reader.bin" ]'
run "${GSS[@]}" -- package --key-id 1A2B -o "$TMP/pkg/bad.bin"
expect "package: malformed key ID" 2
check "package: malformed key ID: says why" \
	err_has "key ID '1A2B': need at least the first 8 hex digits"
run "${GSS[@]}" -- package --key-id "${HEX:0:8}"
expect "package: -o missing" 2
check "package: -o missing: says -o FILE is needed" err_has "-o FILE"

# ------------------------------------------------------------ issue 9 (AD)
# 14: one key ID on two computers (manage-bde -adbackup twice, or a forged
# copy elsewhere); 19: a name longer than NetBIOS's 15 characters.  Added
# as Administrator, removed again at once.
BETA=${AD_BETA_KEY:1:36}
BETAHEX=${BETA//-/}
DUP_PC=PC-DUP-$$
DUP_DN="CN=$DUP_PC,$AD_OU"
DUP_KEYDN="CN=2025-01-01T00:00:00Z{$BETA},$DUP_DN"
DUP_PW=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import fixture
print(fixture.recovery_password(sys.argv[2], "dup"))' "$HERE" "$BETA")
LONG_NAME=BDKLONGNAME-$$-0042
LONG_NB=${LONG_NAME:0:15}
LONG_DN="CN=$LONG_NB,$AD_OU"
read -r LONG_KEY LONG_B64 < <("$PY" -c 'import uuid, base64
g = uuid.uuid4()
while g.bytes_le[0] == 0:
    g = uuid.uuid4()
print(str(g).upper(), base64.b64encode(g.bytes_le).decode())')
"$PY" - "$HERE" "$AD_BETA_KEY" >"$TMP/dup-b64" <<'EOF'
import base64, sys
sys.path.insert(0, sys.argv[1])
import fixture
print(base64.b64encode(fixture.guid_le(sys.argv[2])).decode())
print(base64.b64encode(b"DIFFERENT" + fixture.key_package(sys.argv[2])).decode())
print(base64.b64encode(fixture.key_package(sys.argv[2])).decode())
EOF
{ read -r BETA_B64; read -r PKG_OTHER_B64; read -r PKG_SAME_B64; } <"$TMP/dup-b64"
printf '%s\n' "dn: $DUP_DN" "objectClass: computer" "sAMAccountName: $DUP_PC\$" \
	"userAccountControl: 4096" "" \
	"dn: $DUP_KEYDN" "objectClass: msFVE-RecoveryInformation" \
	"msFVE-RecoveryGuid:: $BETA_B64" "msFVE-RecoveryPassword: $DUP_PW" \
	"msFVE-KeyPackage:: $PKG_OTHER_B64" "" \
	"dn: $LONG_DN" "objectClass: computer" "sAMAccountName: $LONG_NB\$" \
	"dNSHostName: ${LONG_NAME,,}.$AD_DNS_DOMAIN" "userAccountControl: 4096" "" \
	"dn: CN=2024-07-01T12:00:00\\+02:00{$LONG_KEY},$LONG_DN" \
	"objectClass: msFVE-RecoveryInformation" "msFVE-RecoveryGuid:: $LONG_B64" \
	"msFVE-RecoveryPassword: $AD_BETA_PW" >"$TMP/issue9.ldif"
issue9_cleanup() {
	local d
	for d in "$DUP_DN" "$LONG_DN"; do
		timeout "$T" ldapdelete -r -x -H "$LDAPS" -D "$AD_ADMIN_DN" \
			-y "$AD_ADMIN_PASS_FILE" "$d" >/dev/null 2>&1
	done
}
if timeout "$T" ldapadd -x -H "$LDAPS" -D "$AD_ADMIN_DN" -y "$AD_ADMIN_PASS_FILE" \
    -f "$TMP/issue9.ldif" >"$TMP/err" 2>&1; then
	ok "issue 9 objects added (a copy of PC-BETA's key ID, a long name)"
	run "${GSS[@]}" -- lookup --source ad --key-id "$BETAHEX" --show --json
	expect "14: one key ID on two computers: lookup" 0
	jcheck "14: both objects listed, each with its own password" \
		"sorted((k['device'], k['password']) for k in d['keys']) == sorted([('PC-BETA', '$AD_BETA_PW'), ('$DUP_PC', '$DUP_PW')])"
	run "${GSS[@]}" -- lookup --source ad --key-id "$BETAHEX" --read-out
	expect "14: read-out of a key ID with two different passwords refused" 2
	check "14: read-out names both computers, shows no password" \
		eval 'err_has PC-BETA && err_has "$DUP_PC" && ! out_has "${AD_BETA_PW:0:6}"'
	run "${GSS[@]}" -- package --key-id "$BETAHEX" -o "$TMP/pkg/dup.bin"
	expect "14: package of a key ID with two different packages refused" 2
	check "14: package names both objects, writes nothing" \
		eval 'err_has "different key packages" && err_has "$AD_BETA_KEYDN" && err_has "$DUP_KEYDN" && [ ! -e "$TMP/pkg/dup.bin" ]'
	printf '%s\n' "dn: $DUP_KEYDN" "changetype: modify" "replace: msFVE-KeyPackage" \
		"msFVE-KeyPackage:: $PKG_SAME_B64" >"$TMP/dup-same.ldif"
	if timeout "$T" ldapmodify -x -H "$LDAPS" -D "$AD_ADMIN_DN" \
	    -y "$AD_ADMIN_PASS_FILE" -f "$TMP/dup-same.ldif" >"$TMP/err" 2>&1; then
		expected_pkg "$AD_BETA_KEY" >"$TMP/expected-beta.bin"
		run "${GSS[@]}" -- package --key-id "$BETAHEX" -o "$TMP/pkg/dup.bin"
		expect "14: package of two equal copies" 0
		check "14: equal copies: the package, from the newest object" \
			eval 'cmp -s "$TMP/pkg/dup.bin" "$TMP/expected-beta.bin" && grep -q "$DUP_PC" "$BDEKEY_AUDIT_LOG"'
	else
		not_ok "14: the copy's package made equal"
	fi
	run "${GSS[@]}" -- lookup --source ad --device "$LONG_NAME" --json
	expect "19: a name longer than 15 characters" 0
	jcheck "19: found by dNSHostName's first label, cn holding the NetBIOS name" \
		"[(k['key_id'], k['device']) for k in d['keys']] == [('$LONG_KEY', '$LONG_NB')]"
	run "${GSS[@]}" -- lookup --source ad --device "${LONG_NAME:0:15}X-other"
	expect "19: another long name with the same first 15 characters: not it" 1
else
	not_ok "issue 9 objects added"
fi
issue9_cleanup

# 18: nothing bdekey frees still holds the bind password or a recovery
# password: tests/ad/freescan.c (LD_PRELOAD) searches every freed block.
# Over LDAPS (GnuTLS buffers) with a simple bind, and sealed GSSAPI on
# ldap:// (Cyrus SASL's buffers).  An AddressSanitizer build replaces the
# allocator (the wiping free is compiled out there): skipped, loudly.
if ldd "$BDEKEY" 2>/dev/null | grep -q libasan; then
	echo "SKIP 18 freed secrets: AddressSanitizer build"
elif cc -shared -fPIC -o "$TMP/freescan.so" "$HERE/freescan.c" -ldl 2>"$TMP/err"; then
	scan() {	# scan NAME SECRETS [VAR=value...] -- ARGS: run under the scanner
		local name=$1 secrets=$2
		shift 2
		rm -f "$TMP/scan.log"
		run "$@"
		check "18 $name: the scanner saw bdekey's frees" \
			grep -Eq '^freescan: [0-9]{3,} frees scanned' "$TMP/scan.log"
		check "18 $name: no freed block held a secret" \
			eval '! grep -q "^HIT" "$TMP/scan.log"'
	}
	SCANENV=(FREESCAN_LOG="$TMP/scan.log" FREESCAN_PROG="$(basename "$BDEKEY")"
		LD_PRELOAD="$TMP/freescan.so")
	scan "simple bind over LDAPS, --show" "$AD_HELPDESK_PASS:$AD_BETA_PW" \
		"${SIMPLE[@]}" "BDEKEY_LDAP_URI=$LDAPS" "${SCANENV[@]}" \
		FREESCAN_SECRETS="$AD_HELPDESK_PASS:$AD_BETA_PW" -- \
		lookup --source ad --device PC-BETA --show
	expect "18 simple bind over LDAPS under the scanner" 0
	check "18 simple bind over LDAPS under the scanner: the password shown" out_has "$AD_BETA_PW"
	scan "sealed GSSAPI, --show" "$AD_BETA_PW" "${GSS[@]}" "${SCANENV[@]}" \
		FREESCAN_SECRETS="$AD_BETA_PW" -- lookup --source ad --device PC-BETA --show
	expect "18 sealed GSSAPI under the scanner" 0
else
	not_ok "18: cannot build the free-scanner"
fi

# 20: GSSAPI inside TLS binds the channel (tls-server-end-point, RFC 5929):
# libldap's option read back at the bind and the binding handed to SASL,
# which must carry the hash of the DC's certificate (tests/ad/cbspy.c).
# Samba refuses SASL inside TLS whatever the binding (above); a GSSAPI
# bind on ldap:// still works, without a binding (no TLS channel).
if ldd "$BDEKEY" 2>/dev/null | grep -q libasan; then
	echo "SKIP 20 channel binding: AddressSanitizer build"
elif cc -shared -fPIC -o "$TMP/cbspy.so" "$HERE/cbspy.c" -ldl 2>"$TMP/err"; then
	CB_WANT=$(tls_end_point "$AD_DIR/tls/server.pem")
	rm -f "$TMP/cb.log"
	run "${GSS[@]}" "BDEKEY_LDAP_URI=$LDAPS" CBSPY_LOG="$TMP/cb.log" \
		LD_PRELOAD="$TMP/cbspy.so" -- lookup --source ad --device PC-BETA
	expect "20 gssapi over TLS (Samba refuses SASL inside TLS)" 3
	check "20 gssapi over TLS: LDAP_OPT_X_SASL_CBINDING read back as tls-endpoint" \
		grep -qx "option mech=GSSAPI cbinding=2" "$TMP/cb.log"
	check "20 gssapi over TLS: SASL got tls-server-end-point with the DC certificate's hash" \
		grep -q "^setprop name=ldap critical=0 len=[0-9]* data=$CB_WANT\$" "$TMP/cb.log"
	rm -f "$TMP/cb.log"
	run "${GSS[@]}" CBSPY_LOG="$TMP/cb.log" LD_PRELOAD="$TMP/cbspy.so" -- \
		lookup --source ad --device PC-BETA
	expect "20 gssapi on ldap:// still binds" 0
	check "20 gssapi on ldap://: no TLS channel, no binding set" \
		eval 'grep -qx "option mech=GSSAPI cbinding=0" "$TMP/cb.log" && ! grep -q "^setprop" "$TMP/cb.log"'
else
	not_ok "20: cannot build the channel-binding shim"
fi

finish
