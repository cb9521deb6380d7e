#!/bin/sh
# server.sh start DIR [emulator options...]   start the Graph emulator in the background
# server.sh stop DIR                          stop it (SIGTERM, then SIGKILL after 5 s)
#
# start: makes the test PKI in DIR if missing (ca.sh), copies the fixture to DIR/state.json
# (fresh state on every start; GRAPH_EMU_FIXTURE=FILE picks another fixture), writes the app
# secret files, starts emulator.py on a free port (GRAPH_EMU_PORT=N to choose one), waits up
# to 10 s until it answers over TLS, then prints `export NAME=value` lines on stdout and
# writes the same lines to DIR/env.sh.  Typical use:
#     eval "$(tests/graph/server.sh start "$tmp/graph")"
#     trap 'tests/graph/server.sh stop "$tmp/graph"' EXIT
# Extra options go to emulator.py, e.g. --page-size 1000 --gen-keys 20000 --delay-ms 5.
# Files in DIR: emulator.pid, port, emulator.log (request log), emulator.out (stderr), env.sh.
# GRAPH_EMU_PYTHON overrides the interpreter (default /usr/bin/python3: Debian's, which has
# python3-cryptography).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
py=${GRAPH_EMU_PYTHON:-/usr/bin/python3}

usage() { echo "usage: server.sh start|stop DIR [emulator options...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
shift 2

is_ours() {  # is PID our emulator (and not a recycled pid)?
    [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "emulator.py .*--state $dir/state.json"
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
            echo "server.sh: emulator $pid ignored SIGTERM for 5 s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
    fi
    rm -f "$dir/emulator.pid" "$dir/port"
}

case $cmd in
stop)
    stop
    ;;
start)
    if [ -f "$dir/emulator.pid" ] && is_ours "$(cat "$dir/emulator.pid")"; then
        echo "server.sh: an emulator is already running for $dir (pid $(cat "$dir/emulator.pid"))" >&2
        exit 1
    fi
    [ -f "$dir/ca.pem" ] && [ -f "$dir/server.pem" ] && [ -f "$dir/app.pem" ] && [ -f "$dir/wrong.key" ] ||
        "$here/ca.sh" "$dir"
    cp "${GRAPH_EMU_FIXTURE:-$here/fixture.json}" "$dir/state.json"
    "$py" "$here/fixture_env.py" check "$dir/state.json"
    "$py" "$here/fixture_env.py" secrets "$dir/state.json" "$dir"
    rm -f "$dir/port" "$dir/env.sh"
    : >"$dir/emulator.log"
    "$py" "$here/emulator.py" --port "${GRAPH_EMU_PORT:-0}" --port-file "$dir/port" \
        --state "$dir/state.json" --cert "$dir/server.pem" --key "$dir/server.key" \
        --log "$dir/emulator.log" "$@" >"$dir/emulator.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/emulator.pid"
    i=0
    up=no
    while [ $i -lt 100 ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        if [ -s "$dir/port" ] && "$py" - "$dir/ca.pem" "$(cat "$dir/port")" <<'PY'
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
try:
    c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[2]), context=ctx, timeout=2)
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
            echo "server.sh: the Graph emulator did not answer within 10 s" >&2
        else
            st=0
            wait "$pid" || st=$?
            echo "server.sh: the Graph emulator exited with status $st" >&2
        fi
        tail_logs
        stop
        exit 1
    fi
    "$py" "$here/fixture_env.py" env "$dir/state.json" "$dir" "$(cat "$dir/port")" >"$dir/env.sh"
    cat "$dir/env.sh"
    ;;
*)
    usage
    ;;
esac
