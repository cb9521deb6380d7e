#!/bin/bash
# keyvault.sh - `bdekey bek` against the Key Vault + ARM emulator
# (tests/keyvault/) with 20 ms added to every request, beside the seed's
# sequence (seed 001: list, get per candidate, key get, unwrap) in the same
# run.
#
#   BDEKEY=build/rel/bdekey bash bench/keyvault.sh
#
# (a) bek --vm vm-dual (dual pass, wrapped: ARM 1 GET, the secret, the
#     unwrap) and bek --vm vm-kek (single pass: the VM and its OS disk);
# (b) bek --device BENCH-0777 over contoso-bench's 2,000 secrets (80 pages
#     of 25; two volumes, wrapped) and the seed's sequence for the same
#     machine.
# Per run: vault and ARM requests and TLS connections (from the emulator's
# /_test/stats, which counts a request when it arrives), token requests
# (the identity emulator's stats), wall time (median and p90 of BENCH_RUNS
# runs, 9), peak RSS (two more runs under /usr/bin/time, the larger).
#
# bdekey signs in as the application (client secret): each run asks the
# identity emulator for a vault token and, with --vm, an ARM token; they are
# counted apart.  The seed's client (embedded below, /usr/bin/python3) uses a
# vault token fetched once (not counted) and opens a new TLS connection per
# request, as one PowerShell cmdlet per step does: it lists every page,
# gets each candidate's secret (the seed reads them to compare), gets the
# KEK by name (its latest version) and unwraps with that.  Its time is
# taken inside the script (interpreter start-up excluded).
#
# Settings: BENCH_RUNS (9), BENCH_KEEP=1 (keep the temporary directory).
# shellcheck disable=SC2317  # functions called from traps and through fg
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
BDEKEY=${BDEKEY:-$ROOT/build/rel/bdekey}
case $BDEKEY in /*) ;; *) BDEKEY=$ROOT/$BDEKEY ;; esac
RUNS=${BENCH_RUNS:-9}
DELAY_MS=20

skip() { echo "bench/keyvault.sh: SKIPPED: $*" >&2; exit 0; }
[ -x "$BDEKEY" ] || { echo "bench/keyvault.sh: no bdekey binary at $BDEKEY" >&2; exit 1; }
[ -x "$PY" ] || skip "$PY is missing"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
"$BDEKEY" bek --help >/dev/null 2>&1 || skip "this bdekey has no bek command"

TMP=$(mktemp -d /tmp/bdekey-bench-kv.XXXXXX)
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "${CHILD:-}" ]; then
		kill_tree "$CHILD"
		wait "$CHILD" 2>/dev/null || true
	fi
	timeout 20 "$ROOT/tests/keyvault/server.sh" stop "$TMP/kv" >/dev/null 2>&1 || true
	timeout 20 "$ROOT/tests/graph/server.sh" stop "$TMP/graph" >/dev/null 2>&1 || true
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench/keyvault.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BENCH_NAME=bench/keyvault.sh
. "$ROOT/bench/lib.sh"

private_home BDEKEY_ GRAPH_ KV_

[ "$(id -u)" -eq 0 ] || export KV_EMU_PORTS=any
eval "$(timeout 60 "$ROOT/tests/graph/server.sh" start "$TMP/graph")" ||
	skip "the identity emulator did not start"
eval "$(timeout 60 "$ROOT/tests/keyvault/server.sh" start "$TMP/kv" \
	--bench-secrets 2000 --delay-ms "$DELAY_MS")" ||
	skip "the Key Vault emulator did not start"
export BDEKEY_CLIENT_ID=$GRAPH_EMU_APP_CLIENT_ID
export BDEKEY_CLIENT_SECRET_FILE=$GRAPH_EMU_APP_SECRET_FILE
CURL=(curl -sS --max-time 30 --cacert "$BDEKEY_CA_BUNDLE")

cat >"$TMP/seed.py" <<'PYEOF'
"""The seed's sequence (seed 001), one TLS connection per request:
seed.py VAULT_URL MACHINE TOKEN_FILE.  List every page of secrets, get the
secret of each candidate (MachineName, BEK), get the KEK by name (its latest
version) for the wrapped ones, unwrap with it.  Prints one JSON object."""
import http.client, json, os, ssl, sys, time, urllib.parse
vault, machine, tokfile = sys.argv[1], sys.argv[2], sys.argv[3]
token = open(tokfile).read().strip()
ctx = ssl.create_default_context(cafile=os.environ["BDEKEY_CA_BUNDLE"])
ctx.check_hostname = False
n = 0
def call(method, url, body=None):
    global n
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx)
    hdr = {"Authorization": "Bearer " + token, "Host": u.netloc}
    if body is not None:
        hdr["Content-Type"] = "application/json"
        body = json.dumps(body)
    c.request(method, u.path + "?" + u.query, body=body, headers=hdr)
    r = c.getresponse()
    d = json.loads(r.read() or b"null")
    c.close()
    n += 1
    if r.status != 200:
        raise SystemExit("%s %s: %d %s" % (method, url, r.status, d))
    return d
t0 = time.monotonic()
url, cands = vault + "/secrets?api-version=7.4", []
while url:
    page = call("GET", url)
    for s in page["value"]:
        t = s.get("tags") or {}
        if "BEK" in (s.get("contentType") or "") and \
                (t.get("MachineName") or "").lower() == machine.lower():
            cands.append(s)
    url = page.get("nextLink")
got = 0
for s in cands:
    sec = call("GET", s["id"] + "?api-version=7.4")
    if sec.get("contentType") == "Wrapped BEK":
        kek = sec["tags"]["DiskEncryptionKeyEncryptionKeyURL"]
        name = urllib.parse.urlsplit(kek).path.split("/")[2]
        key = call("GET", vault + "/keys/" + name + "?api-version=7.4")
        call("POST", key["key"]["kid"] + "/unwrapkey?api-version=7.4",
             {"alg": "RSA-OAEP", "value": sec["value"]})
    got += 1
print(json.dumps({"keys": got, "requests": n, "s": time.monotonic() - t0}))
PYEOF

# the seed's token (fetched once, not counted)
"${CURL[@]}" "$GRAPH_EMU_TOKEN_URL" -d "client_id=$GRAPH_EMU_APP_CLIENT_ID" \
	--data-urlencode "client_secret@$GRAPH_EMU_APP_SECRET_FILE" \
	-d grant_type=client_credentials -d "scope=$KV_EMU_VAULT_SCOPE" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' \
	>"$TMP/token"
chmod 600 "$TMP/token"

kvstat() { "${CURL[@]}" "$KV_EMU_URL/_test/stats"; }
idstat() { "${CURL[@]}" "$GRAPH_EMU_URL/_test/stats"; }
reset_stats() {
	"${CURL[@]}" -X POST -o /dev/null "$KV_EMU_URL/_test/stats/reset"
	"${CURL[@]}" -X POST -o /dev/null "$GRAPH_EMU_URL/_test/stats/reset"
}
# counts of one run: vault requests, vault TLS, ARM requests, ARM TLS, tokens
counts() {
	local k i
	k=$(kvstat)
	i=$(idstat)
	"$PY" -c 'import json,sys
k = json.loads(sys.argv[1]); i = json.loads(sys.argv[2])
v = [h for n, h in k["hosts"].items() if n != "arm"]
a = k["hosts"].get("arm", {"requests": 0, "tls_connections": 0})
print(sum(h["requests"] for h in v), sum(h["tls_connections"] for h in v),
      a["requests"], a["tls_connections"], sum(i["token_requests"].values()))' "$k" "$i"
}
# ms of a command run in the foreground
ms() {
	local t0 t1
	t0=$(date +%s%N)
	fg "$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 1000000 ))
}
# median and p90 of numbers on stdin
stats() { sort -n | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; p=v[int(NR*0.9+0.999)]; print m " / " p}'; }
rss() {	# peak RSS in MiB of a command, the larger of two runs
	local a b
	/usr/bin/time -f %M "$@" >/dev/null 2>"$TMP/rss1" || true
	/usr/bin/time -f %M "$@" >/dev/null 2>"$TMP/rss2" || true
	a=$(tail -1 "$TMP/rss1")
	b=$(tail -1 "$TMP/rss2")
	echo "$(( (a > b ? a : b) * 10 / 1024 ))" | sed -E 's/(.)$/.\1/'
}

row() {	# row LABEL COMMAND...: one table row for bdekey
	local label=$1 c t r
	shift
	local cmd=("$@" -o "$TMP/out/" -f)
	rm -rf "$TMP/out"
	reset_stats
	fg "${cmd[@]}" >"$TMP/last.out" 2>&1 ||
		{ cat "$TMP/last.out" >&2; log "$label failed"; exit 1; }
	c=$(counts)
	for _ in $(seq "$RUNS"); do
		ms "${cmd[@]}"
	done | stats >"$TMP/t"
	t=$(cat "$TMP/t")
	r=$(rss "${cmd[@]}" 2>/dev/null || echo -)
	rm -rf "$TMP/out"
	set -- $c
	printf '| %s | %s (%s) | %s (%s) | %s | %s | %s |\n' "$label" "$1" "$2" \
	    "$3" "$4" "$5" "$t" "$r"
}

echo "bench/keyvault.sh: $RUNS runs each, ${DELAY_MS} ms a request" >&2
echo "| run | vault requests (TLS) | ARM requests (TLS) | token requests | median / p90 ms | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|"
row "bek --vm vm-dual (dual pass, wrapped)" "$BDEKEY" bek --vm vm-dual -g rg-vms
row "bek --vm vm-kek (single pass, wrapped)" "$BDEKEY" bek --vm vm-kek -g rg-vms
row "bek --device BENCH-0777 (2,000 secrets)" "$BDEKEY" bek --device BENCH-0777 --vault "$KV_EMU_VAULT_BENCH"
# the seed's sequence for the same machine
reset_stats
"$PY" "$TMP/seed.py" "$KV_EMU_VAULT_BENCH" BENCH-0777 "$TMP/token" >"$TMP/seed.json"
c=$(counts)
for _ in $(seq "$RUNS"); do
	"$PY" "$TMP/seed.py" "$KV_EMU_VAULT_BENCH" BENCH-0777 "$TMP/token" |
	    "$PY" -c 'import json,sys; print(int(json.load(sys.stdin)["s"]*1000))'
done | stats >"$TMP/t"
set -- $c
printf '| seed 001 sequence, BENCH-0777 | %s (%s) | %s (%s) | 0 (one token, fetched before) | %s | %s (Python) |\n' \
    "$1" "$2" "$3" "$4" "$(cat "$TMP/t")" \
    "$(/usr/bin/time -f %M "$PY" "$TMP/seed.py" "$KV_EMU_VAULT_BENCH" BENCH-0777 "$TMP/token" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}')"
