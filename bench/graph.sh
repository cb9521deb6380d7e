#!/bin/bash
# graph.sh - bdekey's Graph lookups against the emulator (tests/graph/) with
# 20 ms added to every request, beside a naive client in the same run.
#
#   BDEKEY=build/rel/bdekey bash bench/graph.sh
#
# (a) device-name lookup of LAPTOP-ALPHA (3 keys, 2 volumes), with and
#     without --show, at recoveryKeys page size 1000 and at the emulator's
#     default 2;
# (b) key-ID prefix scan (8 hex digits) over 20,000 generated keys and over
#     5,000 (to show that bdekey's memory does not grow), page size 1000.
# Per lookup: Graph requests and TLS handshakes (from the emulator's request
# log: ' http ' lines outside /_test/, and those with new_tls=1; checked
# against /_test/stats), wall time (median and p90 of BENCH_RUNS runs, 9),
# and peak RSS (two more runs under /usr/bin/time, the larger).
#
# The naive client (embedded below, /usr/bin/python3) does one request per
# step and per key and opens a new TLS connection for each: the devices
# query, every recoveryKeys page, then GET .../recoveryKeys/{id}?$select=key
# per key (and, for the scan, the device query that names the device, which
# bdekey does too).  Its scan keeps every listed key in memory before
# filtering.  It uses the same access token as bdekey (read from bdekey's
# token cache after `bdekey login`, device code flow, auto-approved by the
# emulator).  Its wall time is taken inside the script, from its first
# request to its last answer (interpreter start-up excluded).
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

skip() { echo "bench/graph.sh: SKIPPED: $*" >&2; exit 0; }
[ -x "$BDEKEY" ] || { echo "bench/graph.sh: no bdekey binary at $BDEKEY" >&2; exit 1; }
[ -x "$PY" ] || skip "$PY is missing"
command -v openssl >/dev/null || skip "openssl is not installed"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"

TMP=$(mktemp -d /tmp/bdekey-bench-graph.XXXXXX)
EMUS=()
cleanup() {
	local rc=$? d
	trap - EXIT INT TERM
	if [ -n "${CHILD:-}" ]; then
		kill_tree "$CHILD"
		wait "$CHILD" 2>/dev/null || true
	fi
	for d in "${EMUS[@]}"; do
		timeout 20 "$ROOT/tests/graph/server.sh" stop "$d" >/dev/null 2>&1 ||
			echo "bench/graph.sh: could not stop the emulator in $d" >&2
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench/graph.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BENCH_NAME=bench/graph.sh
. "$ROOT/bench/lib.sh"

private_home BDEKEY_ GRAPH_

cat >"$TMP/naive.py" <<'PYEOF'
"""The naive client: one request per step and per key, a new connection
each time.  naive.py device NAME [--show] | scan PREFIX [--show]
Prints one JSON object: keys found, elapsed seconds, requests made."""
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse

URL = urllib.parse.urlsplit(os.environ["BDEKEY_GRAPH"])
CTX = None
TOKEN = os.environ["NAIVE_TOKEN"]
REQUESTS = 0


def get(path_or_url):
    """GET on a new connection; the parsed JSON answer."""
    global REQUESTS
    u = urllib.parse.urlsplit(path_or_url)
    target = path_or_url if not u.scheme else \
        u.path + ("?" + u.query if u.query else "")
    c = http.client.HTTPSConnection(URL.hostname, URL.port, context=CTX,
                                    timeout=30)
    try:
        c.request("GET", target, headers={"Authorization": "Bearer " + TOKEN,
                                          "User-Agent": "naive/1",
                                          "Connection": "close"})
        r = c.getresponse()
        body = r.read()
        REQUESTS += 1
        if r.status != 200:
            raise SystemExit("GET %s: %d %s" % (target, r.status, body[:300]))
        return json.loads(body)
    finally:
        c.close()


def q(s):
    return urllib.parse.quote(s, safe="")


def g(rel):
    return URL.path + "/v1.0/" + rel


def keys_of(device_id):
    page = get(g("informationProtection/bitlocker/recoveryKeys?$filter=" +
                 q("deviceId eq '%s'" % device_id)))
    out = list(page["value"])
    while page.get("@odata.nextLink"):
        page = get(page["@odata.nextLink"])
        out += page["value"]
    return out


def read_key(k):
    v = get(g("informationProtection/bitlocker/recoveryKeys/%s?$select=key"
              % k["id"]))
    v = v.get("value", v) if isinstance(v.get("value"), dict) else v
    return v["key"]


def main():
    mode, arg = sys.argv[1], sys.argv[2]
    show = "--show" in sys.argv[3:]
    t0 = time.perf_counter()
    # the same trust as bdekey's: the system store plus BDEKEY_CA_BUNDLE,
    # loaded once (bdekey loads both into its one curl handle)
    global CTX
    CTX = ssl.create_default_context()
    CTX.load_verify_locations(cafile=os.environ["BDEKEY_CA_BUNDLE"])
    found = []
    if mode == "device":
        devs = get(g("devices?$filter=" + q("displayName eq '%s'" % arg) +
                     "&$select=id,deviceId,displayName"))["value"]
        for d in devs:
            for k in keys_of(d["deviceId"]):
                found.append({"id": k["id"], "device": d["displayName"],
                              "key": read_key(k) if show else None})
    else:
        page = get(g("informationProtection/bitlocker/recoveryKeys"))
        allkeys = list(page["value"])
        while page.get("@odata.nextLink"):
            page = get(page["@odata.nextLink"])
            allkeys += page["value"]
        for k in allkeys:
            if k["id"].replace("-", "").lower().startswith(arg.lower()):
                d = get(g("devices?$filter=" + q("deviceId eq '%s'" %
                                                  k["deviceId"]) +
                          "&$select=id,deviceId,displayName"))["value"]
                found.append({"id": k["id"],
                              "device": d[0]["displayName"] if d else None,
                              "key": read_key(k) if show else None})
    print(json.dumps({"keys": found, "elapsed": time.perf_counter() - t0,
                      "requests": REQUESTS}))


main()
PYEOF

cat >"$TMP/graphbench.py" <<'PYEOF'
"""The timing harness of bench/graph.sh (see there).
graphbench.py LABEL OUT.json CASES...  with CASES among device, scan."""
import glob
import json
import math
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

E = os.environ
TMP = E["BENCH_TMP"]
BDEKEY = E["BDEKEY"]
sys.path.insert(0, os.path.join(E["BENCH_ROOT"], "bench"))
import benchproc  # noqa: E402
RUNS = int(E.get("BENCH_RUNS", "9"))
WARM = 1
EMU = E.get("GRAPH_EMU_URL")
LOGF = E.get("GRAPH_EMU_LOG")
CTX = ssl.create_default_context(cafile=E.get("BDEKEY_CA_BUNDLE"))
FAILED = []
RSS_PASS = False
HTTP_RE = re.compile(r" http conn=\S+ seq=\d+ new_tls=(\d) resumed=(\d) "
                     r"(\S+) (\S+) (\d+) ")


def hook(path, body=None):
    req = urllib.request.Request(EMU + "/_test/" + path,
                                 data=None if body is None else
                                 json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
        return json.loads(r.read() or b"null")


def token():
    files = glob.glob(os.path.join(E["XDG_CACHE_HOME"], "bdekey", "*.json"))
    if len(files) != 1:
        raise SystemExit("expected one token cache file, found %s" % files)
    with open(files[0]) as f:
        doc = json.load(f)
    # version 2 keeps an access token per scope set: the lookups' is the one
    if "tokens" in doc:
        return next(t["access_token"] for t in doc["tokens"] if "BitlockerKey" in t["scope"])
    return doc["access_token"]


def spawn(argv, env, timeout=120):
    return benchproc.spawn(argv, env, TMP, timeout, RSS_PASS)


def env_for(tool):
    env = {k: v for k, v in E.items()
           if not k.startswith("BENCH_") and k != "BDEKEY"}
    if tool == "naive":
        env["NAIVE_TOKEN"] = TOKEN
    return env


def log_size():
    return os.path.getsize(LOGF)


def log_since(off):
    """Graph/auth requests logged after off, once the log is quiet."""
    last = -1
    for _ in range(50):
        n = log_size()
        if n == last:
            break
        last = n
        time.sleep(0.03)
    with open(LOGF, "rb") as f:
        f.seek(off)
        text = f.read().decode("utf-8", "replace")
    reqs, items = [], 0
    for line in text.splitlines():
        m = HTTP_RE.search(line)
        if m and not m.group(4).startswith("/_test/"):
            reqs.append((int(m.group(1)), int(m.group(2)), m.group(3),
                         m.group(4), int(m.group(5))))
        elif " batch-item " in line:
            items += 1
    return reqs, items


class Case:
    def __init__(self, name, tool, argv, expect, pair=None, knobs=None):
        self.name, self.tool, self.argv = name, tool, argv
        self.expect, self.pair, self.knobs = expect, pair, knobs or {}
        self.times, self.rss, self.counts = [], 0, []

    def run(self):
        """One run: (wall ms, (requests, handshakes, resumed, batch items,
        statuses), peak RSS)."""
        hook("stats/reset", {})
        off = log_size()
        if self.tool == "bdekey":
            argv = [BDEKEY, "lookup", "--source", "graph"] + self.argv
        else:
            argv = ["/usr/bin/python3", os.path.join(TMP, "naive.py")] + \
                self.argv
        t0 = time.perf_counter()
        rc, out, err, rss = spawn(argv, env_for(self.tool))
        ms = (time.perf_counter() - t0) * 1000
        if self.tool == "naive" and rc == 0:
            ms = json.loads(out)["elapsed"] * 1000
        reqs, items = log_since(off)
        stats = hook("stats")
        bad = [e for e in self.expect if e.lower() not in out.lower()]
        if rc != 0 or bad:
            FAILED.append("%s: exit %d, missing %s\nstdout: %s\nstderr: %s" % (
                self.name, rc, bad, out[-1500:], err[-1500:]))
            return None
        n, tls = len(reqs), sum(r[0] for r in reqs)
        if stats["http_requests"] != n or stats["tls_connections"] != tls:
            FAILED.append("%s: log says %d requests / %d handshakes, "
                          "/_test/stats %d / %d" % (
                              self.name, n, tls, stats["http_requests"],
                              stats["tls_connections"]))
        bad_status = [r for r in reqs if r[4] >= 400]
        if bad_status:
            FAILED.append("%s: error answers %s" % (self.name, bad_status))
        return ms, (n, tls, sum(r[1] for r in reqs), items,
                    stats["key_reads"]), rss


pct = benchproc.pct


def build(which):
    cs = []
    if "device" in which:
        for ps in (1000, 2):
            kn = {"page_size": ps}
            tag = " (page size %d)" % ps
            keys = [E["GRAPH_FX_KEY_ALPHA_%s_ID" % v]
                    for v in ("OS_OLD", "OS_NEW", "FIXED")]
            pws = [E["GRAPH_FX_KEY_ALPHA_%s_PASSWORD" % v]
                   for v in ("OS_OLD", "OS_NEW", "FIXED")]
            for show in (False, True):
                s = " --show" if show else ""
                exp = keys + (pws if show else [])
                cs.append(Case("bdekey --device LAPTOP-ALPHA%s%s" % (s, tag),
                               "bdekey", ["--device", "LAPTOP-ALPHA"] +
                               (["--show"] if show else []), exp,
                               pair="naive device%s%s" % (s, tag), knobs=kn))
                cs.append(Case("naive device%s%s" % (s, tag), "naive",
                               ["device", "LAPTOP-ALPHA"] +
                               (["--show"] if show else []), exp, knobs=kn))
    if "scan" in which:
        n = int(E["BENCH_GEN_KEYS"])
        g = hook("generated?i=%d" % (n * 6 // 10))
        prefix = g["id"].replace("-", "")[:8]
        for show in (False, True):
            s = " --show" if show else ""
            exp = [g["id"], g["deviceName"]] + ([g["key"]] if show else [])
            cs.append(Case("bdekey --key-id %s%s (scan)" % (prefix, s),
                           "bdekey", ["--key-id", prefix] +
                           (["--show"] if show else []), exp,
                           pair="naive scan%s" % s,
                           knobs={"page_size": 1000}))
            cs.append(Case("naive scan%s" % s, "naive",
                           ["scan", prefix] + (["--show"] if show else []),
                           exp, knobs={"page_size": 1000}))
    return cs


def main():
    global TOKEN, RSS_PASS
    label, outpath, which = sys.argv[1], sys.argv[2], sys.argv[3:]
    TOKEN = token()
    cases = build(which)
    # group by knobs: the page size is a server setting
    groups = []
    for c in cases:
        if not groups or groups[-1][0] != c.knobs:
            groups.append((c.knobs, []))
        groups[-1][1].append(c)
    for knobs, cs in groups:
        hook("config", knobs)
        RSS_PASS = True
        for c in cs:
            for _ in range(2):
                r = c.run()
                if r:
                    c.rss = max(c.rss, r[2])
        RSS_PASS = False
        for rnd in range(WARM + RUNS):
            k = rnd % len(cs)
            for c in cs[k:] + cs[:k]:
                r = c.run()
                if r and rnd >= WARM:
                    c.times.append(r[0])
                    c.counts.append(r[1])
    res = []
    for c in cases:
        r = {"name": c.name, "tool": c.tool, "pair": c.pair, "knobs": c.knobs,
             "runs": len(c.times), "rss_kib": c.rss,
             "counts": sorted(set(c.counts))}
        if c.times:
            r.update(median=pct(c.times, 0.5), p90=pct(c.times, 0.9))
        res.append(r)
    meta = {"label": label, "runs": RUNS, "failed": FAILED,
            "gen_keys": int(E["BENCH_GEN_KEYS"]), "delay_ms": E["BENCH_DELAY"]}
    with open(outpath, "w") as f:
        json.dump({"meta": meta, "cases": res}, f, indent=1)
    report(meta, res)
    return 1 if FAILED else 0


def report(meta, res):
    print()
    print("### %s (%d generated keys + the fixture's 12; %s ms added to "
          "each request)" % (meta["label"], meta["gen_keys"], meta["delay_ms"]))
    print()
    print("Wall time: median and p90 of %d runs (naive: inside the script). "
          "requests / TLS handshakes from the emulator log; batch items and "
          "key reads ($select=key) from the log and /_test/stats." %
          meta["runs"])
    print()
    print("| lookup | requests | TLS handshakes | batch items | key reads "
          "| median ms | p90 ms | vs naive | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    by = {r["name"]: r for r in res}
    for r in res:
        cs = r["counts"]
        if not cs or "median" not in r:
            print("| %s | FAILED | | | | | | | |" % r["name"])
            continue

        def col(i):
            v = sorted(set(c[i] for c in cs))
            return "/".join(str(x) for x in v)
        ratio = ""
        p = by.get(r["pair"]) if r["pair"] else None
        if p and "median" in p:
            ratio = "%.2f×" % (r["median"] / p["median"])
        print("| %s | %s | %s | %s | %s | %.0f | %.0f | %s | %s |" % (
            r["name"], col(0), col(1), col(3), col(4), r["median"], r["p90"],
            ratio, "%.1f" % (r["rss_kib"] / 1024) if r["rss_kib"] else "n/a"))
    resumed = sum(c[2] for r in res for c in r["counts"])
    if resumed:
        print()
        print("(%d TLS session resumptions seen)" % resumed)
    seen = []
    for f in meta["failed"]:
        if f not in seen:
            seen.append(f)
    for f in seen:
        print("FAILED (%d×): %s" % (meta["failed"].count(f), f))
    sys.stdout.flush()


def summary(paths):
    data = [json.load(open(p)) for p in paths]
    rows = {}
    for d in data:
        for r in d["cases"]:
            if "(scan)" in r["name"] or r["name"].startswith("naive scan"):
                key = re.sub(r"--key-id \S+", "--key-id PREFIX", r["name"])
                rows.setdefault(key, {})[d["meta"]["gen_keys"]] = r
    sizes = sorted({s for per in rows.values() for s in per})
    if len(sizes) < 2:
        return 0
    print()
    print("### Prefix scan: %s keys" % " vs ".join(str(s) for s in sizes))
    print()
    print("| lookup | %s |" % " | ".join(
        "requests @ %d | median ms @ %d | peak RSS MiB @ %d" % (s, s, s)
        for s in sizes))
    print("|---|%s" % ("---:|---:|---:|" * len(sizes)))
    for name, per in rows.items():
        cells = []
        for s in sizes:
            r = per.get(s)
            if not r or "median" not in r:
                cells.append("| | ")
                continue
            cells.append("%s | %.0f | %.1f" % (
                "/".join(str(x) for x in sorted({c[0] for c in r["counts"]})),
                r["median"], r["rss_kib"] / 1024))
        print("| %s | %s |" % (name, " | ".join(cells)))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        sys.exit(summary(sys.argv[2:]))
    sys.exit(main())
PYEOF

export BENCH_TMP=$TMP BENCH_ROOT=$ROOT BENCH_RUNS=$RUNS BENCH_DELAY=$DELAY_MS BDEKEY
echo "## bench/graph.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $("$PY" -V), bdekey $("$BDEKEY" --version 2>&1 | head -n 1), $(curl -V 2>/dev/null | head -n 1 | cut -d' ' -f1-2)"
fail=0
results=()
# emu_lookups N LABEL CASES...: sign in to the running emulator N and run
# the harness (in a subshell, through fg: the emulator's variables stay there)
emu_lookups() {
	local n=$1 label=$2
	shift 2
	# shellcheck disable=SC1090
	. "$TMP/emu-$n.env"
	export BENCH_GEN_KEYS=$n
	rm -rf "$XDG_CACHE_HOME/bdekey"
	timeout 60 "$BDEKEY" login </dev/null >"$TMP/login-$n.out" 2>&1 || {
		echo "bench/graph.sh: bdekey login failed:" >&2
		cat "$TMP/login-$n.out" >&2
		return 1
	}
	timeout 900 "$PY" "$TMP/graphbench.py" "$label" "$TMP/res-$n.json" "$@"
}
# run_emu N LABEL CASES...: an emulator with N generated keys, the lookups
run_emu() {
	local n=$1 label=$2 d=$TMP/emu-$1
	shift 2
	EMUS+=("$d")
	log "emulator with $n generated keys, --delay-ms $DELAY_MS"
	fg timeout 60 "$ROOT/tests/graph/server.sh" start "$d" --delay-ms "$DELAY_MS" \
		--gen-keys "$n" --page-size 1000 >"$TMP/emu-$n.env" 2>"$TMP/emu-$n.err" || {
		cat "$TMP/emu-$n.err" >&2
		return 1
	}
	fg emu_lookups "$n" "$label" "$@" || fail=1
	timeout 20 "$ROOT/tests/graph/server.sh" stop "$d" >/dev/null 2>&1 || true
	results+=("$TMP/res-$n.json")
}
# the device lookups on the plain fixture: with generated keys the
# emulator's devices query walks the generated devices too (+25 ms at 20,000)
run_emu 0 "device lookups, fixture only" device
run_emu 20000 "prefix scan, 20,000 keys" scan
run_emu 5000 "prefix scan, 5,000 keys" scan
timeout 60 "$PY" "$TMP/graphbench.py" summary "${results[@]}"
exit "$fail"
