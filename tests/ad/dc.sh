#!/bin/bash
# Samba AD domain controller test fixture for bdekey (see tests/ad/README.md).
#
#   dc.sh start DIR      provision + populate (first time only), start the DC on 127.0.0.1
#   dc.sh stop DIR       stop it (kills its whole process group, bounded wait)
#   dc.sh status DIR     exit 0 if running and answering on LDAPS
#   dc.sh env DIR        print `export` lines for tests:  eval "$(dc.sh env DIR)"
#   dc.sh bulk DIR [N]   stop, add N computers (default 10000) with one key each, restart
#
# Knobs: AD_START_TIMEOUT (s, default 60), AD_STOP_TIMEOUT (s, default 20),
#        AD_IP (loopback address, default 127.0.0.1; fixed per DIR at provisioning:
#        use e.g. AD_IP=127.0.0.2 to run a second DC next to another one).
# Needs root (ports 88/389/636).  One DC per loopback address.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
REALM=BDEKEY.TEST
DOMAIN=BDEKEY
DC_HOST=dc1
BASE=DC=bdekey,DC=test
START_TIMEOUT=${AD_START_TIMEOUT:-60}
STOP_TIMEOUT=${AD_STOP_TIMEOUT:-20}
LOCK_TIMEOUT=180

die() { echo "dc.sh: $*" >&2; exit 1; }
log() { echo "dc.sh: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

usage() {
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ $# -ge 2 ] || usage
CMD=$1
case "$CMD" in start|stop|status|env|bulk) ;; *) usage ;; esac
case "$CMD" in
start|bulk) mkdir -p "$2" ;;
*) [ -d "$2" ] || die "no such directory: $2" ;;
esac
DIR=$(cd "$2" && pwd)
[ "$DIR" != / ] || die "DIR must not be /"
# The DC's address is chosen at provisioning and stored in DIR/ad_ip.
if [ -s "$DIR/ad_ip" ]; then
    IP=$(cat "$DIR/ad_ip")
    if [ -n "${AD_IP:-}" ] && [ "$AD_IP" != "$IP" ]; then
        log "note: $DIR was provisioned for $IP; ignoring AD_IP=$AD_IP"
    fi
else
    IP=${AD_IP:-127.0.0.1}
fi
[[ $IP =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "AD_IP must be a 127.x.y.z address"
CONF=$DIR/etc/smb.conf
TLS=$DIR/tls
PGID_FILE=$DIR/run/samba.pgid
SAMBA_LOG=$DIR/log/samba.log
SAMBA_OUT=$DIR/log/samba.out

# ---------------------------------------------------------------- helpers
tail_logs() {
    local f
    for f in "$SAMBA_OUT" "$SAMBA_LOG"; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f ----" >&2
        tail -n 40 "$f" >&2
    done
}

# A real rootDSE answer over LDAPS, with certificate verification.
rootdse_ok() {
    local out
    out=$(LDAPTLS_CACERT=$TLS/ca.pem LDAPTLS_REQCERT=demand \
          timeout 5 ldapsearch -LLL -x -H "ldaps://$IP" -o nettimeout=3 -l 3 \
          -b '' -s base defaultNamingContext 2>/dev/null) || return 1
    grep -qi "^defaultNamingContext: $BASE\$" <<<"$out"
}

# pids whose process group is $1 (scans /proc: no procps needed)
group_pids() {
    local want=$1 st line p
    local -a f
    for st in /proc/[0-9]*/stat; do
        line=
        read -r line 2>/dev/null <"$st" || continue
        line=${line##*) }                   # drop "pid (comm) ": comm may hold spaces
        read -ra f <<<"$line"               # state ppid pgrp ...
        if [ "${f[2]:-}" = "$want" ] && [ "${f[0]}" != Z ]; then   # zombies don't count
            p=${st#/proc/}
            echo "${p%/stat}"
        fi
    done
    return 0
}

# Process group of our running DC (empty if none). A stale pgid file whose
# group holds no /usr/sbin/samba process is ignored (pgid reuse).
running_pgid() {
    local pgid p
    [ -s "$PGID_FILE" ] || return 0
    pgid=$(tr -dc 0-9 <"$PGID_FILE")
    [ -n "$pgid" ] || return 0
    for p in $(group_pids "$pgid"); do
        if [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/sbin/samba ]; then
            echo "$pgid"
            return 0
        fi
    done
}

port_busy() {  # something accepts TCP connections on $IP:$1
    timeout 2 bash -c "exec 3<>/dev/tcp/$IP/$1" 2>/dev/null
}

host_names() {  # the machine's host name (and FQDN if different), for SANs/SPNs
    local host fqdn
    host=$(hostname)
    echo "$host"
    fqdn=$(timeout 3 hostname -f 2>/dev/null || true)
    if [ -n "$fqdn" ] && [ "$fqdn" != "$host" ] && [ "$fqdn" != localhost ]; then
        echo "$fqdn"
    fi
}

make_tls() {
    [ -s "$TLS/server.pem" ] && [ -s "$TLS/server.key" ] && [ -s "$TLS/ca.pem" ] && return 0
    local san h
    san="IP:$IP,DNS:localhost,DNS:$DC_HOST.${REALM,,},DNS:$DC_HOST"
    [ "$IP" = 127.0.0.1 ] || san="$san,IP:127.0.0.1"
    for h in $(host_names); do san="$san,DNS:$h"; done
    mkdir -p "$TLS"
    (
        cd "$TLS"
        umask 077
        openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
            -keyout ca.key -out ca.pem -subj "/O=bdekey test/CN=bdekey test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
            -subj "/O=bdekey test/CN=$DC_HOST.${REALM,,}" 2>/dev/null
        printf '%s\n' "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" "subjectAltName=$san" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
            -sha256 -days 3650 -extfile server.ext -out server.pem 2>/dev/null
        rm -f server.csr ca.srl
        chmod 644 ca.pem server.pem      # server.key stays 0600 (samba insists)
    ) || die "certificate generation failed"
}

write_krb5_conf() {
    local h
    {
        cat <<EOF
# private Kerberos configuration for the bdekey test DC (no DNS)
[libdefaults]
    default_realm = $REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
    kdc_timeout = 5000
    max_retries = 1

[realms]
    $REALM = {
        kdc = $IP
        admin_server = $IP
        kpasswd_server = $IP
    }

[domain_realm]
    .${REALM,,} = $REALM
    ${REALM,,} = $REALM
    $IP = $REALM
    localhost = $REALM
EOF
        for h in $(host_names); do echo "    $h = $REALM"; done
    } >"$DIR/krb5.conf.tmp"
    mv "$DIR/krb5.conf.tmp" "$DIR/krb5.conf"
}

provision() {
    local t0 t1 adminpass
    t0=$(now)
    IP=${AD_IP:-$IP}
    # Start from scratch: a half-done provisioning is never reused.
    rm -rf "${DIR:?}/etc" "$DIR/private" "$DIR/state" "$DIR/cache" "$DIR/bind-dns" \
           "$DIR/run" "$DIR/log" "$DIR"/*.tdb "$DIR"/*.pass "$DIR/msg.lock" "$DIR/msg.sock" \
           "$DIR/.provisioned" "$DIR/bulk.env" "$DIR/krb5cc" "$DIR/ad_ip"
    mkdir -p "$DIR/run/ncalrpc" "$DIR/run/winbindd" "$DIR/run/ntp_signd" "$DIR/log"
    echo "$IP" >"$DIR/ad_ip"
    local ifaces=lo                     # 127.0.0.1 and ::1
    [ "$IP" = 127.0.0.1 ] || ifaces="$IP/8"
    rm -rf "$TLS"
    make_tls
    adminpass="Adm-$(openssl rand -hex 8)-Z9q"
    (umask 077; printf '%s' "$adminpass" >"$DIR/admin.pass")
    log "provisioning $REALM in $DIR"
    # winbindd is left out of "server services": LDAP/KDC do not need it and
    # it would leave samba's process group (it calls setsid).
    if ! env -u KRB5_CONFIG -u KRB5CCNAME \
            timeout 300 samba-tool domain provision --targetdir="$DIR" -s /dev/null \
            --use-rfc2307 --realm="$REALM" --domain="$DOMAIN" --host-name="$DC_HOST" \
            --server-role=dc --dns-backend=NONE --adminpass="$adminpass" \
            --option="interfaces = $ifaces" \
            --option="bind interfaces only = yes" \
            --option="pid directory = $DIR/run" \
            --option="ncalrpc dir = $DIR/run/ncalrpc" \
            --option="winbindd socket directory = $DIR/run/winbindd" \
            --option="ntp signd socket directory = $DIR/run/ntp_signd" \
            --option="log file = $SAMBA_LOG" \
            --option="max log size = 0" \
            --option="log level = 1" \
            --option="server services = rpc, ldap, cldap, kdc, drepl, kcc" \
            --option="ldap server require strong auth = yes" \
            --option="tls enabled = yes" \
            --option="tls certfile = $TLS/server.pem" \
            --option="tls keyfile = $TLS/server.key" \
            --option="tls cafile = $TLS/ca.pem" \
            >"$DIR/log/provision.log" 2>&1; then
        tail -n 30 "$DIR/log/provision.log" >&2
        die "samba-tool domain provision failed (full log: $DIR/log/provision.log)"
    fi
    log "provisioned in $(since "$t0") s; populating"
    t1=$(now)
    local hosts
    hosts=$( (echo "$IP"; host_names) | paste -sd, -)
    if ! env -u KRB5_CONFIG -u KRB5CCNAME timeout 300 "$PY" "$HERE/populate.py" \
            --conf "$CONF" --dir "$DIR" --hosts "$hosts" >"$DIR/log/populate.log" 2>&1; then
        cat "$DIR/log/populate.log" >&2
        die "populate.py failed"
    fi
    sed 's/^/dc.sh: /' "$DIR/log/populate.log" >&2
    log "populated in $(since "$t1") s"
    date -u +%FT%TZ >"$DIR/.provisioned"
}

check_ports() {
    local port
    for port in 636 389 88; do
        if port_busy "$port"; then
            die "$IP:$port is already in use (another DC running? stop it, or provision this DIR with another AD_IP=127.x.y.z)"
        fi
    done
}

start_samba() {
    local t0 pid pgid deadline
    t0=$(now)
    check_ports
    mkdir -p "$DIR/run/ncalrpc" "$DIR/run/winbindd" "$DIR/run/ntp_signd" "$DIR/log"
    : >"$SAMBA_OUT"
    # New session => own process group.  -F keeps samba's root process in the
    # foreground, so $! is its pid (setsid execs in place: a background child of
    # this script is not a group leader).
    env -u KRB5CCNAME KRB5_CONFIG="$DIR/krb5.conf" \
        setsid samba -F -s "$CONF" </dev/null >>"$SAMBA_OUT" 2>&1 9>&- &
    pid=$!
    pgid=
    deadline=$(( $(date +%s) + 5 ))
    while [ -z "$pgid" ] && [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 0.1
        pgid=$(awk '{ sub(/^.*\) /, ""); print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
        kill -0 "$pid" 2>/dev/null || break
    done
    [ -n "$pgid" ] || { tail_logs; die "samba exited immediately"; }
    [ "$pgid" = "$pid" ] || log "warning: samba pgid $pgid != pid $pid"
    echo "$pgid" >"$PGID_FILE"
    deadline=$(( $(date +%s) + START_TIMEOUT ))
    until rootdse_ok && port_busy 389 && port_busy 88; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail_logs
            stop_samba --kill || true
            die "samba exited before answering on LDAPS"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            tail_logs
            stop_samba --kill || true
            die "no LDAPS rootDSE answer from samba within ${START_TIMEOUT}s"
        fi
        sleep 0.3
    done
    log "samba up (pgid $pgid): LDAPS answered, KDC listening after $(since "$t0") s"
}

# Daemons that leave samba's process group (winbindd calls setsid, if someone
# enables it) but keep a pid file in DIR/run: stop those whose command line
# names our smb.conf.
sweep_pidfiles() {
    local f pid t
    for f in "$DIR"/run/*.pid; do
        [ -s "$f" ] || continue
        pid=$(tr -dc 0-9 <"$f")
        [ -n "$pid" ] || continue
        if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$CONF"; then
            kill -TERM "$pid" 2>/dev/null || true
            t=0
            while kill -0 "$pid" 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t+1)); done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

stop_samba() {  # [--kill]: SIGKILL at once (used when start failed)
    local pgid deadline t sig=TERM
    [ "${1:-}" = --kill ] && sig=KILL
    pgid=$(running_pgid)
    if [ -z "$pgid" ]; then
        rm -f "$PGID_FILE"
        sweep_pidfiles
        return 0
    fi
    kill -"$sig" -- "-$pgid" 2>/dev/null || true
    deadline=$(( $(date +%s) + STOP_TIMEOUT ))
    while [ -n "$(group_pids "$pgid")" ]; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "process group $pgid still alive after ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL -- "-$pgid" 2>/dev/null || true
            t=0
            while [ -n "$(group_pids "$pgid")" ] && [ $t -lt 50 ]; do sleep 0.1; t=$((t+1)); done
            [ -z "$(group_pids "$pgid")" ] || die "could not kill process group $pgid"
            break
        fi
        sleep 0.1
    done
    rm -f "$PGID_FILE"
    sweep_pidfiles
    log "samba stopped (pgid $pgid)"
}

print_env() {
    q() { printf '%q' "$1"; }
    echo "export LDAPTLS_CACERT=$(q "$TLS/ca.pem")"
    echo "export LDAPTLS_REQCERT=demand"
    echo "export KRB5_CONFIG=$(q "$DIR/krb5.conf")"
    echo "export KRB5CCNAME=$(q "FILE:$DIR/krb5cc")"
    echo "export LDAPSASL_NOCANON=on"
    echo "export AD_DIR=$(q "$DIR")"
    echo "export AD_HOSTNAME=$(q "$(hostname)")"
    echo "export AD_IP=$IP"
    echo "export AD_URI_LDAPS=ldaps://$IP"
    echo "export AD_URI_LDAP=ldap://$IP"
    local u U
    for u in admin helpdesk reader noaccess; do
        U=${u^^}
        echo "export AD_${U}_PASS_FILE=$(q "$DIR/$u.pass")"
        if [ -r "$DIR/$u.pass" ]; then
            echo "export AD_${U}_PASS=$(q "$(cat "$DIR/$u.pass")")"
        fi
    done
    "$PY" "$HERE/populate.py" --env
    if [ -s "$DIR/bulk.env" ]; then cat "$DIR/bulk.env"; fi
}

lock() {  # serialise start/stop/bulk on one DIR (bounded)
    exec 9>"$DIR/.dc.lock"
    flock -w "$LOCK_TIMEOUT" 9 || die "another dc.sh holds $DIR/.dc.lock for over ${LOCK_TIMEOUT}s"
}

# ---------------------------------------------------------------- commands
case "$CMD" in
start)
    lock
    T0=$(now)
    if [ -f "$DIR/.provisioned" ] && [ -n "$(running_pgid)" ] && rootdse_ok; then
        log "already running"
        exit 0
    fi
    stop_samba
    check_ports
    if [ ! -f "$DIR/.provisioned" ]; then
        provision
    else
        log "using cached provisioning in $DIR"
    fi
    make_tls
    write_krb5_conf
    start_samba
    log "start finished in $(since "$T0") s"
    ;;
stop)
    lock
    stop_samba
    ;;
status)
    if [ -n "$(running_pgid)" ] && rootdse_ok; then
        echo "running (pgid $(cat "$PGID_FILE"))"
    else
        echo "not running"
        exit 1
    fi
    ;;
env)
    [ -f "$DIR/.provisioned" ] || die "$DIR is not provisioned (run: dc.sh start $DIR)"
    print_env
    ;;
bulk)
    N=${3:-10000}
    [[ $N =~ ^[0-9]+$ ]] || die "bulk: N must be a number"
    [ -f "$DIR/.provisioned" ] || die "$DIR is not provisioned (run: dc.sh start $DIR)"
    lock
    T0=$(now)
    stop_samba
    env -u KRB5_CONFIG -u KRB5CCNAME timeout 1800 \
        "$PY" "$HERE/bulk.py" --conf "$CONF" --dir "$DIR" -n "$N" >/dev/null \
        || die "bulk.py failed (the DC is left stopped)"
    write_krb5_conf
    start_samba
    log "bulk finished in $(since "$T0") s"
    cat "$DIR/bulk.env"
    ;;
esac
