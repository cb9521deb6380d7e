#!/bin/sh
# server.sh start DIR [emulator options...]   start the Key Vault + ARM emulator in the background
# server.sh stop DIR                          stop it (SIGTERM, then SIGKILL after 5 s)
#
# Needs a running Graph/identity emulator (tests/graph/server.sh): its DIR is taken from
# KV_EMU_GRAPH_DIR or GRAPH_EMU_DIR (set by eval'ing the Graph emulator's env).  Tokens come
# from there, and the server certificate is signed by its test CA, so BDEKEY_CA_BUNDLE serves
# both.  Typical use:
#     eval "$(tests/graph/server.sh start "$tmp/graph")"
#     eval "$(tests/keyvault/server.sh start "$tmp/kv")"
#     trap 'tests/keyvault/server.sh stop "$tmp/kv"; tests/graph/server.sh stop "$tmp/graph"' EXIT
# start waits up to 20 s for the emulator to answer over TLS, then prints `export NAME=value`
# lines (also in DIR/env.sh).  KV_EMU_PORTS=443 (default: every vault and ARM on its own
# loopback address, port 443; needs root) or any (127.0.0.1, a port each: the ':443' URL forms
# are then the same as the plain ones).  Extra options go to emulator.py, e.g.
# --bench-secrets 2000 --delay-ms 5.  Files in DIR: emulator.pid, emulator.log (request log),
# emulator.out (stderr), env.sh, keks/ (KEK private keys, kept between starts), kv-server.pem/.key,
# real/<ID>.BEK (the real .BEK, for comparisons).  KV_EMU_PYTHON overrides /usr/bin/python3.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
py=${KV_EMU_PYTHON:-/usr/bin/python3}

usage() { echo "usage: server.sh start|stop DIR [emulator options...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
shift 2

is_ours() {  # is PID our emulator (and not a recycled pid)?
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "keyvault/emulator.py --dir $dir "
}

tail_logs() {
    for f in "$dir/emulator.out" "$dir/emulator.log"; do
        [ -s "$f" ] && { echo "--- tail of $f" >&2; tail -n 20 "$f" >&2; }
    done
    return 0
}

stop() {
    [ -f "$dir/emulator.pid" ] || return 0
    pid=$(cat "$dir/emulator.pid")
    if [ -n "$pid" ] && is_ours "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while is_ours "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        if is_ours "$pid"; then
            echo "server.sh: key vault emulator $pid ignored SIGTERM for 5 s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    rm -f "$dir/emulator.pid" "$dir/env.sh"
}

case $cmd in
stop)
    stop
    ;;
start)
    if [ -f "$dir/emulator.pid" ] && is_ours "$(cat "$dir/emulator.pid")"; then
        echo "server.sh: a key vault emulator is already running for $dir (pid $(cat "$dir/emulator.pid"))" >&2
        exit 1
    fi
    gdir=${KV_EMU_GRAPH_DIR:-${GRAPH_EMU_DIR:-}}
    if [ -z "$gdir" ] || [ ! -f "$gdir/env.sh" ] || [ ! -f "$gdir/ca.key" ]; then
        echo "server.sh: no running Graph/identity emulator: start tests/graph/server.sh first and eval its" \
             "output (or set KV_EMU_GRAPH_DIR to its DIR)" >&2
        exit 1
    fi
    # the identity emulator's authority and tenant, without touching our caller's environment
    graph=$(. "$gdir/env.sh" && printf '%s\n%s\n%s\n' "$BDEKEY_AUTHORITY" "$BDEKEY_TENANT" "$GRAPH_EMU_TENANT_ID")
    authority=$(echo "$graph" | sed -n 1p)
    tenant=$(echo "$graph" | sed -n 2p)
    tenant_id=$(echo "$graph" | sed -n 3p)
    rm -f "$dir/env.sh"
    : >"$dir/emulator.log"
    "$py" "$here/emulator.py" --dir "$dir" --env-file "$dir/env.sh" --log "$dir/emulator.log" \
        --ca-file "$gdir/ca.pem" --ca-key "$gdir/ca.key" --authority "$authority" --tenant-id "$tenant_id" \
        --jwks-url "$authority/$tenant/discovery/v2.0/keys" --ports "${KV_EMU_PORTS:-443}" "$@" \
        >"$dir/emulator.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/emulator.pid"
    i=0
    up=no
    while [ $i -lt 200 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        if [ -s "$dir/env.sh" ] && "$py" - "$gdir/ca.pem" "$dir/env.sh" <<'PY'
import http.client, re, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
m = re.search(r"^export KV_EMU_URL='?https://([^:']+):(\d+)", open(sys.argv[2]).read(), re.M)
try:
    c = http.client.HTTPSConnection(m.group(1), int(m.group(2)), context=ctx, timeout=2)
    c.request("GET", "/_test/health", headers={"User-Agent": "server.sh"})
    sys.exit(0 if c.getresponse().status == 200 else 1)
except Exception:
    sys.exit(1)
PY
        then
            up=yes
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    if [ $up != yes ]; then
        if kill -0 "$pid" 2>/dev/null; then
            echo "server.sh: the key vault emulator did not answer within 20 s" >&2
        else
            st=0
            wait "$pid" || st=$?
            echo "server.sh: the key vault emulator exited with status $st" >&2
        fi
        tail_logs
        stop
        exit 1
    fi
    cat "$dir/env.sh"
    ;;
*)
    usage
    ;;
esac
