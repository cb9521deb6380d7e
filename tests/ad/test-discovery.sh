#!/bin/bash
# test-discovery.sh - Active Directory with no configuration (issue 13):
# domain controllers found in DNS, forest-wide searches through the Global
# Catalog, each password read from a writable DC of its own domain.
#
#   BDEKEY=build/dev/bdekey tests/ad/test-discovery.sh
#
# Starts its own fixture DC with Samba's internal DNS (tests/ad/dnsdc.sh) on
# a free loopback address from 127.0.0.69 up, and points bdekey at that DNS
# server with --dns-server: /etc/resolv.conf is never read or touched.  A
# second domain, emea.bdekey.test, is played by the hostile suite's fake LDAP
# server (tests/ad/fakedomain.py: its DC, a read-only DC, and a Global
# Catalog holding objects of both domains); Samba's DNS serves its zone.
# What went over the wire inside TLS is checked with tests/ad/ldapspy.py and
# the fake servers' request logs.
#
# Ends with "discovery: N passed, M failed"; exits 1 when any failed.  Outside
# CI a DC that cannot start skips the suite (said loudly); with CI=true it is
# a failure.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=discovery
# shellcheck source=tests/lib.sh
. "$HERE/../lib.sh"
PY=/usr/bin/python3
BDEKEY=${BDEKEY:?BDEKEY must name the bdekey binary under test}
case $BDEKEY in /*) ;; *) BDEKEY=$PWD/$BDEKEY ;; esac
T=${AD_TEST_TIMEOUT:-30}	# seconds for any one command
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$HERE/../lsan.supp:print_suppressions=0}

make_tmp disc
DIR=$TMP/dc
cleanup() {
	stop_pids
	stop_dc
}

check() { check_cmd "$@"; }
# run [VAR=value...] -- ARGS...: bdekey, bounded by $T (lib.sh)
run() { run_bdekey "$@"; }
expect() { expect_exit "$@"; }
# within SECONDS: the last run took less
faster() { awk -v s="$SECS" -v m="$1" 'BEGIN { exit !(s < m) }'; }

# log EXPR LOG: a Python expression over a JSON-lines request log (r: all
# records, a: the searches, s: those but RootDSE reads)
logq() {
	"$PY" -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
a = [x for x in r if x.get("op") == "search"]
s = [x for x in a if x["base"] != "" or x["scope"] != "base"]
v = eval(sys.argv[2])
print(v if not isinstance(v, bool) else str(v).lower())' "$2" "$1" 2>>"$TMP/err"
}

# lcheck NAME EXPR LOG: a test that EXPR holds over LOG
lcheck() { holds "$1" "$2" logq "$3"; }

# dns ARGS...: samba-tool dns against the DC (dnsdc.sh)
dns() {
	"$HERE/dnsdc.sh" dns "$DIR" "$@" >"$TMP/dns.out" 2>&1 ||
		{ echo "dns $*: $(tail -1 "$TMP/dns.out")" >&2; return 1; }
}

# ------------------------------------------------------------ the DC
start_dc() {
	AD_IP=$(free_ip 69 120 389 636 88 53) dc_start dnsdc.sh "$DIR" 900
}

if ! start_dc; then
	skip_or_fail "FAIL the Samba AD DC with DNS did not start" \
		"SKIPPED: the Samba AD DC with DNS did not start (not CI: not a failure)"
fi
dc_env "$DIR"
eval "$("$PY" "$HERE/fakedomain.py" --print-env)"

# A clean, private environment: no config file, no URI anywhere.
ad_private_env BDEKEY_AD_DOMAIN BDEKEY_AD_SITE BDEKEY_DNS_SERVER \
	BDEKEY_AD_FOREST LDAPHOST
(umask 077; printf '%s\n' "$AD_HELPDESK_PASS" >"$TMP/helpdesk.pass")
DNS=$AD_IP
SIMPLE=(--mech SIMPLE --bind-dn "$AD_HELPDESK_DN" --password-file "$TMP/helpdesk.pass")
KEY_NEW=${AD_ALPHA_KEY_NEW//[\{\}]/}
TWIN1=${AD_TWIN1_KEY//[\{\}]/}
TWIN2=${AD_TWIN2_KEY//[\{\}]/}
EMEA=${EMEA_KEY//[\{\}]/}

kinit_helpdesk

# ------------------------------------------------------------ what Samba registers
run -- config --dns-server "$DNS" --domain bdekey.test
expect "config: discovery through Samba's DNS" 0
check "config: the domain and where it came from" \
	out_has "# domain bdekey.test  # option --domain"
check "config: the SRV name Samba registered answered" \
	out_has "# SRV _ldap._tcp.dc._msdcs.bdekey.test from $DNS"
check "config: the DC with priority, weight, port and its address" \
	out_has "#   ldap://dc1.bdekey.test:389  # priority 0, weight 100, port 389, address $AD_IP"

run -- config --dns-server "$DNS:53" --site Default-First-Site-Name
expect "config: the site's records (Samba's default site)" 0
check "config: domain from the Kerberos ticket" \
	out_has "# domain bdekey.test  # the realm of the Kerberos ticket of $AD_HELPDESK_UPN"
check "config: site SRV name" \
	out_has "# SRV _ldap._tcp.Default-First-Site-Name._sites.dc._msdcs.bdekey.test"

run KRB5CCNAME=FILE:$TMP/no-such-ccache -- config --dns-server "$DNS" --forest
expect "config: no ticket: the default realm" 0
check "config: domain from krb5.conf's default realm" \
	out_has "# domain bdekey.test  # the default Kerberos realm in $KRB5_CONFIG"

run KRB5CCNAME=FILE:$TMP/no-such-ccache KRB5_CONFIG=/dev/null \
    LDAPBASE=OU=Workstations,DC=bdekey,DC=test -- config --dns-server "$DNS"
expect "config: no Kerberos realm: ldap.conf BASE" 0
check "config: domain from BASE's DC= components" \
	out_has "# domain bdekey.test  # BASE OU=Workstations,DC=bdekey,DC=test in environment LDAPBASE"

run KRB5CCNAME=FILE:$TMP/no-such-ccache KRB5_CONFIG=/dev/null -- \
    lookup --source ad --key-id "$KEY_NEW"
expect "no domain anywhere: usage error" 2
check "no domain anywhere: says what to set" \
	err_has "no LDAP server configured and no domain to find one in: set --domain"

# ------------------------------------------------------------ lookups, Kerberos
run -- lookup --dns-server "$DNS" --source ad --key-id "$KEY_NEW" --show --json
expect "gssapi: key ID through discovery" 0
jcheck "gssapi: the password, from the DC DNS named" \
	"[k['password'] for k in d['keys']] == ['$AD_ALPHA_PW_NEW'] and d['errors'] == []"

run BDEKEY_DNS_SERVER="$DNS" BDEKEY_AD_DOMAIN=bdekey.test -- \
    lookup --device PC-ALPHA --json
expect "gssapi: device through discovery, settings from the environment" 0
jcheck "gssapi: the three keys of PC-ALPHA" "len(d['keys']) == 3"

printf '[ldap]\ndomain = bdekey.test\ndns_server = %s\n' "$DNS" >"$TMP/disc.conf"
run -- lookup --config "$TMP/disc.conf" --key-id "$KEY_NEW" --json
expect "config file: [ldap] domain and dns_server" 0
jcheck "config file: found" "len(d['keys']) == 1"

run -- lookup --dns-server "$DNS" --site Nowhere --source ad --key-id "$KEY_NEW"
expect "a site without records: the domain's DCs" 0
run -- config --dns-server "$DNS" --site Nowhere --domain bdekey.test
check "config: says the site had none" \
	out_has "# site 'Nowhere' has none (_ldap._tcp.Nowhere._sites.dc._msdcs.bdekey.test: no such name (NXDOMAIN)): the domain's"

# ------------------------------------------------------------ priority, weight, failover
# "dead": nothing listens on its port (refused); "broken": a server on
# 127.0.0.1 that logs each connection and closes it at once
DEAD_PORT=$(free_port)
BROKEN_PORT=$(free_port)
"$PY" -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
s.settimeout(1)
print("ready", flush=True)
end = time.time() + 600
while time.time() < end:
    try:
        c, _ = s.accept()
    except OSError:
        continue
    with open(sys.argv[2], "a") as f:
        f.write("accept\n")
    c.close()' "$BROKEN_PORT" "$TMP/broken.log" >"$TMP/broken.out" 2>&1 &
PIDS+=($!)
wait_ready "$TMP/broken.out"
dns add "$AD_IP" bdekey.test dead A "$AD_IP" &&
dns add "$AD_IP" bdekey.test broken A 127.0.0.1 &&
dns add "$AD_IP" _msdcs.bdekey.test _ldap._tcp.Failover._sites.dc SRV \
    "dc1.bdekey.test 389 10 100" &&
dns add "$AD_IP" _msdcs.bdekey.test _ldap._tcp.Failover._sites.dc SRV \
    "broken.bdekey.test $BROKEN_PORT 0 5" &&
dns add "$AD_IP" _msdcs.bdekey.test _ldap._tcp.Dead._sites.dc SRV \
    "dead.bdekey.test $DEAD_PORT 0 100"
check "dns: records for the failover sites" test $? = 0

run -- config --dns-server "$DNS" --site Failover --domain bdekey.test
expect "config: two SRV targets" 0
check "config: priority 0 (broken) first, then priority 10" \
	"$PY" -c 'import sys
l = [x for x in open(sys.argv[1]) if x.startswith("#   ldap")]
sys.exit(not (len(l) == 2 and "broken.bdekey.test:'"$BROKEN_PORT"'" in l[0]
    and "priority 0, weight 5" in l[0] and "dc1.bdekey.test:389" in l[1]
    and "priority 10, weight 100" in l[1]))' "$TMP/out"

run -- lookup --dns-server "$DNS" --site Failover --source ad --key-id "$KEY_NEW" --show --json
expect "failover: the broken target first, then the live one" 0
jcheck "failover: the password from the live DC" \
	"[k['password'] for k in d['keys']] == ['$AD_ALPHA_PW_NEW']"
check "failover: the broken target was tried once, first" \
	test "$(cat "$TMP/broken.log" 2>/dev/null)" = accept

run -- lookup --dns-server "$DNS" --site Dead --source ad --key-id "$KEY_NEW" --timeout 3
expect "only a dead target" 4
check "dead target: names it and the reason" \
	err_has "no domain controller of 'bdekey.test' answered (_ldap._tcp.Dead._sites.dc._msdcs.bdekey.test): ldap://dead.bdekey.test:$DEAD_PORT: cannot connect to $AD_IP: Connection refused"

SPY_UPSTREAM=ldaps://127.0.0.1:1 spy_start silent --silent
dns add "$AD_IP" _msdcs.bdekey.test _ldap._tcp.Silent._sites.dc SRV \
    "localhost $SPY_PORT 0 100"
run -- lookup --dns-server "$DNS" --site Silent --source ad --key-id "$KEY_NEW" --timeout 2
expect "a target that accepts and says nothing" 4
check "silent target: timed out, named" \
	err_has "ldap://localhost:$SPY_PORT: cannot bind with SASL GSSAPI: timed out after 2 s"
check "silent target: within the deadline (< 10 s for --timeout 2)" faster 10

# ------------------------------------------------------------ DNS that fails
run -- lookup --dns-server "$DNS" --domain nosuch.test --source ad --key-id "$KEY_NEW"
expect "no SRV record for the domain" 4
check "no SRV record: the name asked, the answer, the server, the origin" \
	err_has "no domain controller of 'nosuch.test' found in DNS: _ldap._tcp.dc._msdcs.nosuch.test: no such name (NXDOMAIN) ($DNS:53) (the domain from option --domain)"

UDP_PORT=$(free_port)
"$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
end = time.time() + 600
while time.time() < end:
    s.settimeout(1)
    try:
        s.recvfrom(4096)
    except OSError:
        pass' "$UDP_PORT" >"$TMP/udp.out" 2>&1 &
PIDS+=($!)
wait_ready "$TMP/udp.out"
run -- lookup --dns-server "127.0.0.1:$UDP_PORT" --domain bdekey.test \
    --source ad --key-id "$KEY_NEW" --timeout 2
expect "a DNS server that never answers" 4
check "silent DNS: says so, with the server" \
	err_has "_ldap._tcp.dc._msdcs.bdekey.test: no DNS answer within 2 s (127.0.0.1:$UDP_PORT)"
check "silent DNS: within the deadline (< 6 s for --timeout 2)" faster 6

run -- lookup --dns-server 127.0.0.1:99999 --source ad --key-id "$KEY_NEW"
expect "a bad --dns-server" 2
check "bad --dns-server: says what it must be" \
	err_has "DNS server '127.0.0.1:99999' is not an IPv4 address with an optional :port"
run -- lookup --dns-server ::1 --source ad --key-id "$KEY_NEW"
expect "an IPv6 --dns-server is refused" 2

run KRB5CCNAME=FILE:$TMP/no-such-ccache -- lookup --dns-server "$DNS" \
    --source ad --key-id "$KEY_NEW"
expect "no Kerberos ticket" 3
check "no Kerberos ticket: says so, and what to do" \
	err_has "No Kerberos credentials available (default cache: FILE:$TMP/no-such-ccache))): no Kerberos ticket (run kinit)"
check "no Kerberos ticket: the DC that was found is named" \
	err_has "ldap://dc1.bdekey.test:389: cannot bind with SASL GSSAPI"

# ------------------------------------------------------------ the Global Catalog, spied
SPY_UPSTREAM=ldaps://$AD_IP:636 spy_start dc
SPY_DC_PORT=$SPY_PORT SPY_DC_LOG=$SPY_LOG
SPY_UPSTREAM=ldaps://$AD_IP:3269 spy_start gc
SPY_GC_PORT=$SPY_PORT SPY_GC_LOG=$SPY_LOG
dns add "$AD_IP" _msdcs.bdekey.test _ldap._tcp.Spy._sites.dc SRV \
    "localhost $SPY_DC_PORT 0 100" &&
dns add "$AD_IP" bdekey.test _gc._tcp.Spy._sites SRV \
    "localhost $SPY_GC_PORT 0 100"
check "dns: the spies' records" test $? = 0

run -- lookup --dns-server "$DNS" --site Spy --forest "${SIMPLE[@]}" \
    --source ad --key-id 1A2B3C4D --show --json
expect "forest: key ID through the GC, password from the DC" 0
jcheck "forest: the password" \
	"[k['password'] for k in d['keys']] == ['$AD_ALPHA_PW_NEW'] and d['errors'] == []"
lcheck "GC: the key-ID search went to the Global Catalog, from the root" \
	"len(s) == 1 and s[0]['base'] == '' and s[0]['scope'] == 'sub' and 'msfve-recoveryguid=\\\\4d\\\\3c\\\\2b\\\\1a' in s[0]['filter'].lower()" \
	"$SPY_GC_LOG"
lcheck "GC: no request ever named the password or key package" \
	"not any(n.lower() in ('msfve-recoverypassword', 'msfve-keypackage', '*') for x in a for n in x['attrs'])" \
	"$SPY_GC_LOG"
lcheck "DC: exactly one read, base scope, of that object" \
	"len(s) == 1 and s[0]['scope'] == 'base' and s[0]['base'] == r'''$AD_ALPHA_KEYDN_NEW''' and 'msFVE-RecoveryPassword' in s[0]['attrs']" \
	"$SPY_DC_LOG"

: >"$SPY_GC_LOG"
: >"$SPY_DC_LOG"
run -- lookup --dns-server "$DNS" --site Spy --forest "${SIMPLE[@]}" \
    --source ad --device PC-BETA --show --json
expect "forest: device name through the GC" 0
jcheck "forest: PC-BETA's password" \
	"[k['password'] for k in d['keys']] == ['$AD_BETA_PW']"
lcheck "GC: the computer search went to the Global Catalog" \
	"len(s) == 1 and s[0]['base'] == '' and 'PC-BETA' in s[0]['filter']" "$SPY_GC_LOG"
lcheck "DC: the keys under the computer, then the password, nothing on the GC" \
	"[x['scope'] for x in s] == ['one', 'base'] and s[0]['base'] == r'''$AD_BETA_DN'''" \
	"$SPY_DC_LOG"

# report over the forest: both walks through the Global Catalog, from the
# root, metadata only; nothing on the DC
: >"$SPY_GC_LOG"
: >"$SPY_DC_LOG"
run -- report --dns-server "$DNS" --site Spy --forest "${SIMPLE[@]}" \
    --source ad --json
expect "forest report: through the GC" 0
holds "forest report: the fixture's computers with their keys" \
	"by['PC-ALPHA']['keys'] == 3 and by['PC-MANY']['keys'] == 1050 and by['PC-NOKEY']['flags'] == ['no-key'] and e is None" jl
lcheck "forest report: two subtree walks on the GC, from the root" \
	"len(s) >= 2 and all(x['base'] == '' and x['scope'] == 'sub' for x in s)" \
	"$SPY_GC_LOG"
lcheck "forest report: no request named the password or key package" \
	"not any(n.lower() in ('msfve-recoverypassword', 'msfve-keypackage', '*') for x in a for n in x['attrs'])" \
	"$SPY_GC_LOG"
lcheck "forest report: the DC is not asked" "len(s) == 0" "$SPY_DC_LOG"

: >"$SPY_GC_LOG"
: >"$SPY_DC_LOG"
run -- lookup --dns-server "$DNS" --site Spy "${SIMPLE[@]}" --source ad \
    --key-id 1A2B3C4D --show --json
expect "one domain, no --forest: the DC alone" 0
lcheck "one domain: the GC is not asked" "len(r) == 0" "$SPY_GC_LOG"

# a configured URI on a Global Catalog port: found there, never read there
run -- lookup --ldap-uri "ldaps://$AD_IP:3269" "${SIMPLE[@]}" --source ad \
    --key-id 1A2B3C4D --json
expect "URI on the GC port: the search works" 0
jcheck "URI on the GC port: the key, no password asked" \
	"[k['key_id'] for k in d['keys']] == ['$KEY_NEW'] and 'password' not in d['keys'][0]"
run -- lookup --ldap-uri "ldaps://$AD_IP:3269" "${SIMPLE[@]}" --source ad \
    --key-id 1A2B3C4D --show
expect "URI on the GC port: no password read there" 4
check "URI on the GC port: says why and what to use" \
	err_has "ldaps://$AD_IP:3269: refusing to read msFVE-RecoveryPassword from a Global Catalog, which keeps none (use the domain controller's LDAP port, or no URI and --forest)"

# GSSAPI: the records Samba registered itself (3268, 389)
run -- lookup --dns-server "$DNS" --forest --source ad --key-id 77777777 --show --json
expect "gssapi forest: the twins through Samba's GC" 0
jcheck "gssapi forest: both twins, both passwords" \
	"sorted(k['password'] for k in d['keys']) == sorted(['$AD_TWIN1_PW', '$AD_TWIN2_PW'])"

# ------------------------------------------------------------ a second domain
openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$TMP/fake.key" \
	-out "$TMP/fake.csr" -subj "/CN=dc1.emea.bdekey.test" 2>/dev/null &&
# libldap checks a loopback peer against the machine's host name
printf 'subjectAltName=DNS:dc1.emea.bdekey.test,DNS:rodc.emea.bdekey.test,DNS:gc.bdekey.test,DNS:localhost,DNS:%s,IP:127.0.0.1\n' \
	"$AD_HOSTNAME" >"$TMP/fake.ext" &&
openssl x509 -req -in "$TMP/fake.csr" -CA "$DIR/tls/ca.pem" \
	-CAkey "$DIR/tls/ca.key" -CAcreateserial -CAserial "$TMP/ca.srl" \
	-days 2 -sha256 -extfile "$TMP/fake.ext" -out "$TMP/fake.pem" 2>/dev/null
check "a certificate for the fake servers from the test CA" test -s "$TMP/fake.pem"

for role in dc rodc gc; do
	"$PY" "$HERE/fakedomain.py" --role "$role" --dir "$TMP" --name "$role" \
		--tls-port 0 --cert "$TMP/fake.pem" --key "$TMP/fake.key" \
		>"$TMP/fake-$role.out" 2>&1 &
	PIDS+=($!)
	wait_ready "$TMP/fake-$role.out"
	# shellcheck disable=SC1090
	. "$TMP/ldap-$role.env"
done
FAKE_DC_LOG=$TMP/ldap-dc.jsonl
FAKE_GC_LOG=$TMP/ldap-gc.jsonl
FAKE_RODC_LOG=$TMP/ldap-rodc.jsonl
dns zonecreate "$AD_IP" emea.bdekey.test &&
dns add "$AD_IP" emea.bdekey.test dc1 A 127.0.0.1 &&
dns add "$AD_IP" emea.bdekey.test rodc A 127.0.0.1 &&
dns add "$AD_IP" bdekey.test gc A 127.0.0.1 &&
dns add "$AD_IP" emea.bdekey.test _ldap._tcp.dc._msdcs SRV \
    "dc1.emea.bdekey.test $HL_DC_TLS_PORT 0 100" &&
dns add "$AD_IP" emea.bdekey.test _ldap._tcp.Rodc._sites.dc._msdcs SRV \
    "rodc.emea.bdekey.test $HL_RODC_TLS_PORT 0 100" &&
dns add "$AD_IP" bdekey.test _gc._tcp.Emea._sites SRV \
    "gc.bdekey.test $HL_GC_TLS_PORT 0 100" &&
dns add "$AD_IP" bdekey.test _gc._tcp.Rodc._sites SRV \
    "gc.bdekey.test $HL_GC_TLS_PORT 0 100"
check "dns: emea.bdekey.test's zone and the fake servers' records" test $? = 0

run -- lookup --dns-server "$DNS" --site Emea --forest "${SIMPLE[@]}" \
    --source ad --key-id 77777777 --show --json
expect "two domains: one key-ID search, three objects" 0
jcheck "two domains: each password from its own domain's DC" \
	"sorted((k['dn'].split(',DC=')[-3 if 'emea' in k['dn'] else -2], k['password']) for k in d['keys']) == sorted([('emea', '$EMEA_PW'), ('bdekey', '$AD_TWIN1_PW'), ('bdekey', '$AD_TWIN2_PW')]) and d['errors'] == []"
lcheck "fake GC: searched from the root for the key ID" \
	"len(s) == 1 and s[0]['base'] == '' and s[0]['scope'] == 'sub' and len(s[0]['returned']) == 3" \
	"$FAKE_GC_LOG"
lcheck "fake GC: never asked for a password, never sent one" \
	"not any(n.lower() in ('msfve-recoverypassword', 'msfve-keypackage', '*') for x in a for n in x['attrs']) and not any(x.get('password_dns') for x in a)" \
	"$FAKE_GC_LOG"
lcheck "emea DC: one base-scope read of the emea object, the password sent" \
	"[(x['scope'], x['base'], x['password_dns']) for x in s] == [('base', r'''$EMEA_KEYDN''', [r'''$EMEA_KEYDN'''])]" \
	"$FAKE_DC_LOG"
lcheck "emea DC: bound with the simple bind DN given" \
	"[x['name'] for x in r if x.get('op') == 'bind'] == ['$AD_HELPDESK_DN']" \
	"$FAKE_DC_LOG"

: >"$FAKE_DC_LOG"
: >"$FAKE_GC_LOG"
run -- lookup --dns-server "$DNS" --site Emea --forest "${SIMPLE[@]}" \
    --source ad --device PC-EMEA --show --json
expect "two domains: device name through the GC" 0
jcheck "two domains: PC-EMEA's key and password" \
	"[(k['device'], k['password']) for k in d['keys']] == [('PC-EMEA', '$EMEA_PW')]"
lcheck "emea DC: the one-level search under the computer, then the read" \
	"[x['scope'] for x in s] == ['one', 'base']" "$FAKE_DC_LOG"

: >"$FAKE_DC_LOG"
: >"$FAKE_GC_LOG"
run -- package --dns-server "$DNS" --site Emea --forest "${SIMPLE[@]}" \
    --key-id "$EMEA" -o "$TMP/emea.pkg"
expect "two domains: the key package, found through the GC" 0
check "two domains: the emea object's key package, byte for byte" \
	"$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import fixture
sys.exit(open(sys.argv[2], "rb").read() != fixture.key_package(sys.argv[3]))' \
	"$HERE" "$TMP/emea.pkg" "$EMEA"
lcheck "key package: read on the emea DC, base scope; nothing secret on the GC" \
	"[(x['scope'], 'msFVE-KeyPackage' in x['attrs']) for x in s] == [('base', True)]" \
	"$FAKE_DC_LOG"
lcheck "key package: the GC was asked for no secret" \
	"not any(n.lower() in ('msfve-recoverypassword', 'msfve-keypackage', '*') for x in a for n in x['attrs'])" \
	"$FAKE_GC_LOG"

: >"$FAKE_DC_LOG"
: >"$FAKE_GC_LOG"
run -- lookup --dns-server "$DNS" --domain emea.bdekey.test --site Emea \
    "${SIMPLE[@]}" --source ad --key-id 77777777 --show --json
expect "a forest of two domains: forest-wide without --forest" 0
jcheck "by default: the three keys" "len(d['keys']) == 3 and d['errors'] == []"
lcheck "by default: the forest's domains read from the DC (two crossRefs)" \
	"any(x['filter'] == '(objectClass=crossRef)' and len(x['returned']) == 2 for x in s)" \
	"$FAKE_DC_LOG"

run BDEKEY_AD_FOREST=no -- lookup --dns-server "$DNS" --domain emea.bdekey.test \
    --site Emea "${SIMPLE[@]}" --source ad --key-id 77777777 --show --json
expect "forest = no: the domain only" 0
jcheck "forest = no: emea's own key" "[k['key_id'] for k in d['keys']] == ['$EMEA']"

run -- lookup --ldap-uri "ldaps://localhost:$HL_DC_TLS_PORT" \
    "${SIMPLE[@]}" --source ad --key-id 77777777 --json
expect "a configured URI: the domain only, no Global Catalog" 0
jcheck "configured URI: emea's own key" "[k['key_id'] for k in d['keys']] == ['$EMEA']"

run -- lookup --dns-server "$DNS" --site Rodc --forest "${SIMPLE[@]}" \
    --source ad --key-id "$EMEA" --show
expect "only a read-only DC of the object's domain" 4
check "RODC: says only read-only DCs answered" \
	err_has "only read-only domain controllers of 'emea.bdekey.test' answered, and they keep no recovery passwords"
lcheck "RODC: no password asked of it" \
	"not any('msFVE-RecoveryPassword' in x['attrs'] for x in a)" "$FAKE_RODC_LOG"

run -- lookup --dns-server "$DNS" --site Emea --forest "${SIMPLE[@]}" \
    --source ad --key-id 66666666 --show
expect "a GC object in a domain not of the forest" 4
check "not of the forest: not followed, said so" \
	err_has "is in 'evil.example', not a domain of this forest: not followed"

finish
