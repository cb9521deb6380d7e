#!/bin/bash
# report-graph.sh - `bdekey report --source graph --json >/dev/null` against
# the Graph emulator (tests/graph/) in its scale mode, beside curl paging
# the same two listings.
#
#   BDEKEY=build/rel/bdekey bash bench/report-graph.sh
#
# For each size (BENCH_SIZES, "devices:keys ...", default 10,000:25,000 and
# 100,000:250,000; the emulator's --gen-devices / --gen-device-keys, keys
# 3 a device on the first two thirds of the devices, plus the fixture's 11
# devices and 12 keys), recoveryKeys in pages of 1,000, devices in pages of
# 999 ($top):
#   bdekey   signs in as the application (client secret: one token request
#            a run), then pages every key and every device; its rows go to
#            /dev/null (one run to a file checks their number)
#   curl     the tool a user would otherwise script: one curl per page
#            (a new TLS connection each), jq for the nextLink, the pages
#            kept as files (what a later join would read); the token is
#            fetched before and not counted
# Per run: Graph requests (the emulator's /_test/stats, reset before each
# run: key pages, device pages), wall time (median and p90 of BENCH_RUNS
# runs, default 5, after one warm-up) and peak RSS (/usr/bin/time -v,
# largest of the runs; for curl the largest process of the script).  The
# emulator is the bottleneck here (Python, ~20 ms a page): both clients
# wait for the same pages.
#
# Settings: BENCH_RUNS (5), BENCH_SIZES, BENCH_KEEP=1 (keep the temporary
# directory).  2 CPUs are shared with the emulator.
# shellcheck disable=SC2317  # functions called from traps and through fg
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
BDEKEY=${BDEKEY:-$ROOT/build/rel/bdekey}
case $BDEKEY in /*) ;; *) BDEKEY=$ROOT/$BDEKEY ;; esac
RUNS=${BENCH_RUNS:-5}
SIZES=${BENCH_SIZES:-"10000:25000 100000:250000"}

skip() { echo "bench/report-graph.sh: SKIPPED: $*" >&2; exit 0; }
[ -x "$BDEKEY" ] || { echo "bench/report-graph.sh: no bdekey binary at $BDEKEY" >&2; exit 1; }
[ -x "$PY" ] || skip "$PY is missing"
[ -x /usr/bin/time ] || skip "/usr/bin/time is missing (Debian package time)"
command -v curl >/dev/null || skip "curl is not installed"
command -v jq >/dev/null || skip "jq is not installed"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
"$BDEKEY" report --help >/dev/null 2>&1 || skip "this bdekey has no report command"

TMP=$(mktemp -d /tmp/bdekey-bench-report.XXXXXX)
EMU=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "${CHILD:-}" ]; then
		kill_tree "$CHILD"
		wait "$CHILD" 2>/dev/null || true
	fi
	[ -z "$EMU" ] || timeout 20 "$ROOT/tests/graph/server.sh" stop "$EMU" >/dev/null 2>&1 ||
		echo "bench/report-graph.sh: could not stop the emulator in $EMU" >&2
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench/report-graph.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BENCH_NAME=bench/report-graph.sh
. "$ROOT/bench/lib.sh"

private_home BDEKEY_ GRAPH_

# the scripted alternative: every page of one listing with curl and jq
cat >"$TMP/pages.sh" <<'EOF'
#!/bin/bash
# pages.sh DIR URL...: GET each URL and every @odata.nextLink after it, one
# curl a page, the pages into DIR
set -euo pipefail
dir=$1
shift
n=0
for url in "$@"; do
	while [ -n "$url" ]; do
		n=$((n + 1))
		curl -sS --fail --cacert "$BDEKEY_CA_BUNDLE" -H "Authorization: Bearer $TOKEN" \
			-o "$dir/page-$n.json" "$url"
		url=$(jq -r '."@odata.nextLink" // empty' "$dir/page-$n.json")
	done
done
EOF
chmod +x "$TMP/pages.sh"

emu() { curl -sS --fail --max-time 20 --cacert "$BDEKEY_CA_BUNDLE" "$GRAPH_EMU_URL/_test/$1" "${@:2}"; }
ms_since() { "$PY" -c "import time,sys; print('%.0f' % ((time.time() - float(sys.argv[1])) * 1000))" "$1"; }
rss_of() { sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$1"; }
# user + system CPU seconds of a run (the process and its children)
cpu_of() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$1"; }
# median / p90 of the numbers on stdin (nearest rank)
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(p * NR + 0.999999); if (i < 1) i = 1; print v[i] }'; }

# one_run TOOL: a measured run; appends "ms rss cpu graph keypages devpages tokens" to $TMP/TOOL.runs
one_run() {
	local tool=$1 t0 rc=0
	emu stats/reset -o /dev/null -X POST
	rm -rf "$TMP/pages" && mkdir -p "$TMP/pages"
	t0=$(date +%s.%N)
	if [ "$tool" = bdekey ]; then
		fg /usr/bin/time -v -o "$TMP/time" env BDEKEY_CLIENT_ID="$GRAPH_EMU_APP_CLIENT_ID" \
			BDEKEY_CLIENT_SECRET_FILE="$GRAPH_EMU_APP_SECRET_FILE" \
			"$BDEKEY" report --source graph --json >/dev/null 2>"$TMP/err" || rc=$?
	else
		fg /usr/bin/time -v -o "$TMP/time" env TOKEN="$TOKEN" "$TMP/pages.sh" "$TMP/pages" \
			"$BDEKEY_GRAPH/v1.0/informationProtection/bitlocker/recoveryKeys?\$select=id,createdDateTime,deviceId,volumeType" \
			"$BDEKEY_GRAPH/v1.0/devices?\$select=id,deviceId,displayName,operatingSystem,trustType,approximateLastSignInDateTime,onPremisesSecurityIdentifier&\$top=999" \
			2>"$TMP/err" || rc=$?
	fi
	local ms
	ms=$(ms_since "$t0")
	if [ "$rc" != 0 ]; then
		log "$tool failed (exit $rc):"
		cat "$TMP/err" >&2
		exit 1
	fi
	emu stats | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["graph_requests"], d["key_list_requests"], d["device_list_requests"], sum(d["token_requests"].values()))' >"$TMP/stats"
	echo "$ms $(rss_of "$TMP/time") $(cpu_of "$TMP/time") $(cat "$TMP/stats")" >>"$TMP/$tool.runs"
}

results=()
for size in $SIZES; do
	devs=${size%%:*}
	keys=${size#*:}
	[ -z "$EMU" ] || timeout 20 "$ROOT/tests/graph/server.sh" stop "$EMU" >/dev/null 2>&1
	EMU=$TMP/emu-$devs
	log "emulator: $devs devices, $keys keys"
	eval "$(timeout 60 "$ROOT/tests/graph/server.sh" start "$EMU" --gen-devices "$devs" \
		--gen-device-keys "$keys" --page-size 1000)"
	TOKEN=$(curl -sS --fail --cacert "$BDEKEY_CA_BUNDLE" -d grant_type=client_credentials \
		-d client_id="$GRAPH_EMU_APP_CLIENT_ID" --data-urlencode "client_secret=$(cat "$GRAPH_EMU_APP_SECRET_FILE")" \
		--data-urlencode scope=https://graph.microsoft.com/.default "$GRAPH_EMU_TOKEN_URL" | jq -r .access_token)
	# the rows, once
	env BDEKEY_CLIENT_ID="$GRAPH_EMU_APP_CLIENT_ID" BDEKEY_CLIENT_SECRET_FILE="$GRAPH_EMU_APP_SECRET_FILE" \
		timeout 600 "$BDEKEY" report --source graph --json >"$TMP/rows" 2>"$TMP/err"
	rows=$(grep -c '"name"' "$TMP/rows")
	want=$((devs + 11))
	[ "$rows" = "$want" ] || { log "bdekey gave $rows rows, expected $want"; cat "$TMP/err" >&2; exit 1; }
	: >"$TMP/bdekey.runs"
	: >"$TMP/curl.runs"
	for i in $(seq 0 "$RUNS"); do
		for tool in bdekey curl; do
			one_run "$tool"
		done
		# the first round warms up
		[ "$i" != 0 ] || { : >"$TMP/bdekey.runs"; : >"$TMP/curl.runs"; }
	done
	for tool in bdekey curl; do
		f=$TMP/$tool.runs
		med=$(cut -d' ' -f1 "$f" | pct 0.5)
		p90=$(cut -d' ' -f1 "$f" | pct 0.9)
		rss=$(cut -d' ' -f2 "$f" | sort -n | tail -1)
		cpu=$(cut -d' ' -f3 "$f" | pct 0.5)
		req=$(cut -d' ' -f4- "$f" | sort -u | tr '\n' '/' | sed 's|/$||')
		results+=("$devs|$keys|$tool|$med|$p90|$rss|$req|$cpu")
		log "$devs devices: $tool median $med ms, p90 $p90 ms, CPU $cpu s, peak RSS $rss KiB, requests (graph key dev token) $req"
	done
done

echo
echo "| devices (+11) | keys (+12) | client | Graph requests (key pages + device pages) | token requests | median / p90 ms | CPU s (median) | peak RSS MiB |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|"
for r in "${results[@]}"; do
	IFS='|' read -r devs keys tool med p90 rss req cpu <<<"$r"
	read -r g k d t <<<"$req"
	echo "| $devs | $keys | $tool | $g ($k + $d) | $t | $med / $p90 | $cpu | $(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }') |"
done
# memory: bdekey at the largest size against the smallest
first=$(printf '%s\n' "${results[@]}" | awk -F'|' '$3 == "bdekey" { print $6; exit }')
last=$(printf '%s\n' "${results[@]}" | awk -F'|' '$3 == "bdekey" { v = $6 } END { print v }')
echo
echo "bdekey peak RSS, largest size / smallest: $(awk -v a="$last" -v b="$first" 'BEGIN { printf "%.3f", a / b }')"
