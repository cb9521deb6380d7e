#!/bin/bash
# dnsdc.sh - the fixture DC of dc.sh with Samba's internal DNS server, for
# DC discovery tests (tests/ad/test-discovery.sh).
#
#   dnsdc.sh start DIR            dc.sh start DIR, then (once) DNS: the
#                                 DnsAdmins group, the DNS partitions and
#                                 records (samba_upgradedns), "dns" in the
#                                 server services, the SPN ldap/dc1.<realm>
#   dnsdc.sh stop DIR             dc.sh stop DIR
#   dnsdc.sh dns DIR ARGS...      samba-tool dns ARGS... as Administrator
#                                 against the DC (e.g. add IP ZONE NAME SRV
#                                 'target port prio weight')
#
# The DC's address is dc.sh's (AD_IP at provisioning, then DIR/ad_ip); its
# DNS server answers on that address, port 53 (UDP and TCP).  Samba creates
# the records a DC registers: _ldap._tcp.dc._msdcs.<domain>,
# _ldap._tcp.<site>._sites.dc._msdcs.<domain>, _gc._tcp.<domain>,
# dc1.<domain> A ... (site Default-First-Site-Name).  Nothing outside DIR
# is touched: the resolver is pointed at it by bdekey's --dns-server.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

die() { echo "dnsdc.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
CMD=$1
DIR=$2
shift 2

# samba-tool against the stopped DC's database, or the running DC
tool_ldb() {
	env -u KRB5_CONFIG -u KRB5CCNAME timeout 120 samba-tool "$@" \
	    -H "tdb://$DIR/private/sam.ldb" -s "$DIR/etc/smb.conf"
}

enable_dns() {
	local ip
	ip=$(cat "$DIR/ad_ip")
	timeout 60 "$HERE/dc.sh" stop "$DIR" >&2
	# dc.sh provisions with --dns-backend=NONE: no DnsAdmins group,
	# which samba_upgradedns needs
	tool_ldb group add DnsAdmins --description="DNS Administrators Group" \
	    >/dev/null 2>&1 || true
	# samba_upgradedns takes the DC's address from its interfaces, but
	# never a loopback one: give it the DC's own
	(cd "$DIR" && env -u KRB5_CONFIG -u KRB5CCNAME timeout 120 "$PY" -c '
import sys
import samba.provision as p
ip = sys.argv[1]
p.interface_ips_v4 = lambda lp, all_interfaces=False: [ip]
p.interface_ips_v6 = lambda lp: []
sys.argv = ["samba_upgradedns", "--dns-backend=SAMBA_INTERNAL", "-s", sys.argv[2]]
exec(compile(open("/usr/sbin/samba_upgradedns").read(), "samba_upgradedns", "exec"))
' "$ip" "$DIR/etc/smb.conf") >"$DIR/log/upgradedns.log" 2>&1 ||
		{ tail -n 20 "$DIR/log/upgradedns.log" >&2; die "samba_upgradedns failed"; }
	grep -q '^\s*server services = .*\bdns\b' "$DIR/etc/smb.conf" ||
		sed -i 's/^\(\s*server services = .*\)$/\1, dns/' "$DIR/etc/smb.conf"
	# a Windows DC has ldap/<its FQDN>; Samba's KDC does not map it to host/
	tool_ldb spn add "ldap/dc1.bdekey.test" 'DC1$' >/dev/null 2>&1 || true
	date -u +%FT%TZ >"$DIR/.dns"
}

case $CMD in
start)
	timeout 600 "$HERE/dc.sh" start "$DIR" >&2
	if [ ! -f "$DIR/.dns" ]; then
		enable_dns
		timeout 120 "$HERE/dc.sh" start "$DIR" >&2
	fi
	;;
stop)
	timeout 60 "$HERE/dc.sh" stop "$DIR" >&2
	;;
dns)
	[ -f "$DIR/.dns" ] || die "$DIR has no DNS (run: dnsdc.sh start $DIR)"
	rc=0
	out=$(env -u KRB5CCNAME KRB5_CONFIG="$DIR/krb5.conf" \
	    PASSWD="$(cat "$DIR/admin.pass")" timeout 60 samba-tool dns "$@" \
	    -U Administrator -s "$DIR/etc/smb.conf" 2>&1) || rc=$?
	grep -v 'setproctitle' <<<"$out" || true
	exit "$rc"
	;;
*)
	die "unknown command '$CMD'"
	;;
esac
