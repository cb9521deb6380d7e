#!/bin/bash
# ad.sh - bdekey's AD lookups against ldapsearch doing the same searches,
# on a Samba AD DC with 1,000 and then 10,000 extra computers.
#
#   BDEKEY=build/rel/bdekey bash bench/ad.sh
#
# Starts its own DC (tests/ad/dc.sh) in a temporary directory on a loopback
# address of its own (BENCH_AD_IP, else the first of 127.0.0.7..127.0.0.99
# with nothing listening on 88/389/636), stops it on exit.  Needs root and
# the packages listed in tests/ad/README.md; without them it says SKIPPED
# and exits 0 so that bench/run.sh goes on.
#
# For every lookup: median and p90 wall time over BENCH_RUNS runs (15;
# 2 warm-up rounds first; the cases are interleaved, each round in a
# rotated order), the peak RSS of the process(es) (one more run under
# /usr/bin/time; for two ldapsearch processes the larger), and the LDAP
# connections and requests, counted once per case outside the timed runs:
#   - simple bind over LDAPS: through tests/ad/ldapspy.py, a TLS-terminating
#     proxy that decodes and logs every request PDU the client sends;
#   - SASL GSSAPI over ldap://: through a plain TCP proxy in the harness
#     below that counts client PDUs: BER messages (the SASL bind steps) and,
#     once the security layer is on, sealed SASL frames (one per request).
# Timed runs talk to the DC directly.
#
# The "discovery" rows (issue 13) look up the same key with no URI: the
# domain controllers from Samba's DNS server (tests/ad/dnsdc.sh, asked with
# --dns-server), then with --forest the Global Catalog (_gc._tcp, 3268/3269)
# for the search and the DC for the password, beside the URI configured
# without a base (the RootDSE read either way).  Their counted runs go
# through site records pointing at the counting proxies (a DC and a GC
# proxy) and a counting DNS forwarder; DNS queries are counted too.
#
# Settings: BENCH_RUNS (15), BENCH_AD_SIZES ("1000 10000": cumulative bulk
# computer counts), BENCH_AD_IP, BENCH_KEEP=1 (keep the temporary directory).
# shellcheck disable=SC2317  # functions called from traps and through fg
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
BDEKEY=${BDEKEY:-$ROOT/build/rel/bdekey}
case $BDEKEY in /*) ;; *) BDEKEY=$ROOT/$BDEKEY ;; esac
RUNS=${BENCH_RUNS:-15}
SIZES=${BENCH_AD_SIZES:-1000 10000}

skip() { echo "bench/ad.sh: SKIPPED: $*" >&2; exit 0; }
[ -x "$BDEKEY" ] || { echo "bench/ad.sh: no bdekey binary at $BDEKEY" >&2; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (the DC binds ports 88, 389 and 636)"
for c in samba samba-tool ldapsearch kinit timeout flock setsid; do
	command -v "$c" >/dev/null || skip "$c is not installed (see tests/ad/README.md)"
done
[ -x "$PY" ] || skip "$PY is missing"

port_busy() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
addr_free() {
	local p
	for p in 53 88 389 636 3268; do
		port_busy "$1" "$p" && return 1
	done
	return 0
}
if [ -n "${BENCH_AD_IP:-}" ]; then
	IP=$BENCH_AD_IP
	addr_free "$IP" || { echo "bench/ad.sh: $IP already has a DC port in use" >&2; exit 1; }
else
	IP=
	for i in $(seq 7 99); do
		if addr_free "127.0.0.$i"; then IP=127.0.0.$i; break; fi
	done
	[ -n "$IP" ] || { echo "bench/ad.sh: no free loopback address in 127.0.0.7-99" >&2; exit 1; }
fi

TMP=$(mktemp -d /tmp/bdekey-bench-ad.XXXXXX)
DC=$TMP/dc
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "${CHILD:-}" ]; then
		kill_tree "$CHILD"
		wait "$CHILD" 2>/dev/null || true
	fi
	for f in "$TMP/spy.pid" "$TMP/gcspy.pid"; do
		if [ -f "$f" ]; then
			kill "$(cat "$f")" 2>/dev/null || true
		fi
	done
	if [ -d "$DC" ]; then
		timeout 60 "$ROOT/tests/ad/dc.sh" stop "$DC" >/dev/null 2>&1 ||
			echo "bench/ad.sh: could not stop the DC in $DC" >&2
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench/ad.sh: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BENCH_NAME=bench/ad.sh
. "$ROOT/bench/lib.sh"

private_home BDEKEY_ LDAP

log "DC in $DC on $IP"
SECONDS=0
fg env AD_IP="$IP" timeout 600 "$ROOT/tests/ad/dnsdc.sh" start "$DC" >"$TMP/dc-start.log" 2>&1 || {
	tail -n 30 "$TMP/dc-start.log" >&2
	exit 1
}
log "DC up after ${SECONDS} s"
eval "$(timeout 30 "$ROOT/tests/ad/dc.sh" env "$DC")"
[ "$AD_IP" = "$IP" ] || { echo "bench/ad.sh: DC is on $AD_IP, not $IP" >&2; exit 1; }

# the bind password, mode 0600, as both tools read it (no trailing newline)
PWFILE=$TMP/helpdesk.pass
install -m 0600 "$AD_HELPDESK_PASS_FILE" "$PWFILE"

# GSSAPI over ldap:// if a ticket can be had
GSS=0
if timeout 20 kinit "$AD_HELPDESK_UPN" <"$PWFILE" >"$TMP/kinit.log" 2>&1; then
	GSS=1
else
	log "kinit failed, no GSSAPI rows:"
	cat "$TMP/kinit.log" >&2
fi

cat >"$TMP/adbench.py" <<'PYEOF'
"""The timing and counting harness of bench/ad.sh (see there)."""
import base64
import json
import math
import os
import select
import socket
import subprocess
import sys
import threading
import time

E = os.environ
TMP = E["BENCH_TMP"]
ROOT = E["BENCH_ROOT"]
BDEKEY = E["BDEKEY"]
RUNS = int(E.get("BENCH_RUNS", "15"))
WARM = 2
BASE = E["BDEKEY_TEST_BASE"]
IP = E["AD_IP"]
LDAPS = E["AD_URI_LDAPS"]
PWFILE = E["BENCH_PWFILE"]
BIND_DN = E["AD_HELPDESK_DN"]
GSS = E.get("BENCH_GSSAPI") == "1"
sys.path.insert(0, os.path.join(ROOT, "tests", "ad"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import benchproc  # noqa: E402
import fixture  # noqa: E402

CLASS = "msFVE-RecoveryInformation"
KEY_ATTRS = ["cn", "msFVE-RecoveryGuid", "msFVE-VolumeGuid", "whenCreated",
             "uSNCreated"]
PW_ATTR = "msFVE-RecoveryPassword"
FAILED = []
NOTES = []
RSS_PASS = False


# ---------------------------------------------------------------- processes

def spawn(argv, env, timeout=60):
    return benchproc.spawn(argv, env, TMP, timeout, RSS_PASS)


def base_env():
    return {k: v for k, v in E.items()
            if not k.startswith("BENCH_") and k != "BDEKEY"}


# ------------------------------------------------------ GSSAPI counting proxy

class CountProxy:
    """Plain TCP proxy on IP:port -> IP:upstream (389) counting client PDUs."""

    def __init__(self, upstream=389):
        self.upstream = upstream
        self.ls = socket.socket()
        self.ls.bind((IP, 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.lock = threading.Lock()
        self.recs = []
        self.active = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.ls.accept()
            with self.lock:
                self.recs.append("accept")
                self.active += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            u = socket.create_connection((IP, self.upstream), 10)
        except OSError:
            c.close()
            with self.lock:
                self.active -= 1
            return
        t = threading.Thread(target=self.pump, args=(u, c, False), daemon=True)
        t.start()
        self.pump(c, u, True)
        t.join(5)
        with self.lock:
            self.active -= 1

    def pump(self, src, dst, parse):
        buf = b""
        ops = {0x60: "bind", 0x42: "unbind", 0x63: "search", 0x77: "extended",
               0x50: "abandon"}
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if not parse:
                    continue
                buf += data
                while buf:
                    if buf[0] == 0x30:          # a BER LDAPMessage
                        if len(buf) < 2:
                            break
                        n, i = buf[1], 2
                        if n & 0x80:
                            k = n & 0x7F
                            if len(buf) < 2 + k:
                                break
                            n, i = int.from_bytes(buf[2:2 + k], "big"), 2 + k
                        if len(buf) < i + n:
                            break
                        msg = buf[i:i + n]
                        # messageID INTEGER, then the protocolOp tag
                        j = 2 + msg[1]
                        rec = ops.get(msg[j], "0x%02x" % msg[j])
                        buf = buf[i + n:]
                    else:                       # a SASL-wrapped (sealed) PDU
                        if len(buf) < 4:
                            break
                        n = int.from_bytes(buf[:4], "big")
                        if len(buf) < 4 + n:
                            break
                        rec = "sealed"
                        buf = buf[4 + n:]
                    with self.lock:
                        self.recs.append(rec)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def take(self):
        for _ in range(100):
            with self.lock:
                if self.active == 0:
                    break
            time.sleep(0.02)
        with self.lock:
            r, self.recs = self.recs, []
        return r


class Spy:
    """tests/ad/ldapspy.py in front of the DC's LDAPS port (or another)."""

    def __init__(self, upstream=None, name="spy"):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.name = name
        self.log = os.path.join(TMP, name + ".log")
        open(self.log, "w").close()
        d = os.path.join(E["AD_DIR"], "tls")
        self.p = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(ROOT, "tests/ad/ldapspy.py"),
             "--port", str(self.port), "--upstream", upstream or LDAPS,
             "--cert", d + "/server.pem", "--key", d + "/server.key",
             "--cafile", d + "/ca.pem", "--log", self.log],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        with open(os.path.join(TMP, name + ".pid"), "w") as f:
            f.write(str(self.p.pid))
        r, _, _ = select.select([self.p.stdout], [], [], 10)
        if not r or b"ready" not in self.p.stdout.readline():
            raise SystemExit("ldapspy did not start")
        # the server certificate names DNS:localhost
        self.uri = "ldaps://localhost:%d" % self.port

    def take(self):
        time.sleep(0.15)
        with open(self.log) as f:
            recs = [json.loads(line) for line in f if line.strip()]
        open(self.log, "w").close()
        return recs

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)
        os.unlink(os.path.join(TMP, self.name + ".pid"))


class DnsProxy:
    """UDP forwarder on 127.0.0.1 to the DC's DNS server, counting queries."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]
        self.lock = threading.Lock()
        self.n = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            q, client = self.s.recvfrom(65535)
            with self.lock:
                self.n += 1
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(5)
            try:
                u.sendto(q, (IP, 53))
                a, _ = u.recvfrom(65535)
                self.s.sendto(a, client)
            except OSError:
                pass
            finally:
                u.close()

    def take(self):
        with self.lock:
            n, self.n = self.n, 0
        return n


def dns_add(zone, name, data):
    """A record in the DC's DNS (tests/ad/dnsdc.sh), for the counted runs."""
    r = subprocess.run([os.path.join(ROOT, "tests/ad/dnsdc.sh"), "dns",
                        E["AD_DIR"], "add", IP, zone, name, "SRV", data],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    if r.returncode != 0:
        raise SystemExit("dns add %s %s: %s" % (zone, name, r.stdout[-500:]))


# ------------------------------------------------------------------ clients

def bdekey(mech, uri, args, base=True):
    env = base_env()
    env["BDEKEY_LDAP_URI"] = uri
    if mech == "simple":
        env.update(BDEKEY_LDAP_MECH="SIMPLE", BDEKEY_LDAP_BINDDN=BIND_DN,
                   BDEKEY_LDAP_PASSWORD_FILE=PWFILE)
    else:
        env["BDEKEY_LDAP_MECH"] = "GSSAPI"
    if base:
        env["BDEKEY_LDAP_BASE"] = BASE
    return spawn([BDEKEY, "lookup", "--source", "ad"] + args, env)


def ldapsearch(mech, uri, b, scope, filt, attrs):
    argv = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=10",
            "-l", "60",
            "-E", "pr=500/noprompt", "-H", uri]
    if mech == "simple":
        argv += ["-x", "-D", BIND_DN, "-y", PWFILE]
    else:
        argv += ["-Q", "-Y", "GSSAPI"]
    argv += ["-b", b, "-s", scope, filt] + attrs
    return spawn(argv, base_env())


def ldif_dns(text):
    """The entry DNs in ldapsearch's LDIF (unfolded; dn:: is base64)."""
    text = text.replace("\n ", "")
    out = []
    for line in text.splitlines():
        if line.startswith("dn:: "):
            out.append(base64.b64decode(line[5:]).decode())
        elif line.startswith("dn: "):
            out.append(line[4:])
    return out


def esc(v):
    return "".join("\\%02x" % ord(c) if c in "*()\\" else c for c in v)


# -------------------------------------------------------------------- cases

class Case:
    """One lookup: run(uri) -> (ok, detail, peak RSS KiB)."""

    def __init__(self, group, name, tool, mech, fn, pair=None):
        self.group, self.name, self.tool, self.mech = group, name, tool, mech
        self.fn, self.pair = fn, pair
        self.times, self.rss, self.count = [], 0, None

    def uri(self, counting):
        if getattr(self, "disc", False):
            return "count" if counting else "direct"
        if self.mech == "simple":
            return SPY.uri if counting else LDAPS
        return ("ldap://%s:%d" % (IP, GSSPROXY.port)) if counting \
            else "ldap://%s" % IP


def bde_case(group, name, mech, args, expect, base=True, pair=None,
             reject=()):
    def fn(uri):
        rc, out, err, rss = bdekey(mech, uri, args, base)
        bad = [e for e in expect if e not in out] + \
            ["unexpected " + r for r in reject if r in out]
        if rc != 0 or bad:
            return False, "exit %d, missing %s\nstdout: %s\nstderr: %s" % (
                rc, bad, out[-2000:], err[-2000:]), rss
        return True, "", rss
    return Case(group, name, "bdekey", mech, fn, pair)


def disc_case(group, name, mech, args, expect, forest, pair=None):
    """bdekey with no URI: the DC (and with forest, the GC) from DNS."""
    def fn(uri):
        counting = uri == "count"
        env = base_env()
        for k in ("BDEKEY_LDAP_URI", "BDEKEY_LDAP_BASE"):
            env.pop(k, None)
        env["BDEKEY_AD_DOMAIN"] = "bdekey.test"
        env["BDEKEY_DNS_SERVER"] = ("127.0.0.1:%d" % DNSPROXY.port
                                    if counting else IP)
        if counting:
            env["BDEKEY_AD_SITE"] = SITES[mech]
        if forest:
            env["BDEKEY_AD_FOREST"] = "yes"
        if mech == "simple":
            env.update(BDEKEY_LDAP_MECH="SIMPLE", BDEKEY_LDAP_BINDDN=BIND_DN,
                       BDEKEY_LDAP_PASSWORD_FILE=PWFILE)
        else:
            env["BDEKEY_LDAP_MECH"] = "GSSAPI"
        rc, out, err, rss = spawn([BDEKEY, "lookup", "--source", "ad"] + args,
                                  env)
        bad = [e for e in expect if e not in out]
        if rc != 0 or bad:
            return False, "exit %d, missing %s\nstdout: %s\nstderr: %s" % (
                rc, bad, out[-2000:], err[-2000:]), rss
        return True, "", rss
    c = Case(group, name, "bdekey", mech, fn, pair)
    c.disc = True
    return c


def ls_device_case(group, name, mech, computer, attrs, expect):
    """ldapsearch twice, as a script would: the computer, then one level
    under each DN found."""
    sam = esc(computer)
    filt = "(&(objectCategory=computer)(|(cn=%s)(sAMAccountName=%s$)))" % (
        sam, sam)

    def fn(uri):
        rc, out, err, rss = ldapsearch(mech, uri, BASE, "sub", filt, ["cn"])
        dns = ldif_dns(out)
        if rc != 0 or not dns:
            return False, "computer search: exit %d %s" % (rc, err), rss
        text = ""
        for dn in dns:
            rc, out, err, r2 = ldapsearch(
                mech, uri, dn, "one", "(objectClass=%s)" % CLASS, attrs)
            rss = max(rss, r2)
            if rc != 0:
                return False, "one-level search: exit %d %s" % (rc, err), rss
            text += out
        bad = [e for e in expect if e not in text]
        return (not bad), "missing %s" % bad if bad else "", rss
    return Case(group, name, "ldapsearch", mech, fn)


def ls_case(group, name, mech, b, scope, filt, attrs, expect, nmin=1):
    def fn(uri):
        f = filt() if callable(filt) else filt
        rc, out, err, rss = ldapsearch(mech, uri, b, scope, f, attrs)
        n = len(ldif_dns(out))
        bad = [e for e in expect if e not in out]
        if rc != 0 or bad or n < nmin:
            return False, "exit %d, %d entries, missing %s: %s" % (
                rc, n, bad, err), rss
        return True, "", rss
    return Case(group, name, "ldapsearch", mech, fn)


def hexid(guid):
    return guid.strip("{}").replace("-", "")


BULK_I = 501
BULK_CN = fixture.bulk_name(BULK_I)
BULK_KEY = fixture.bulk_key_guid(BULK_I).strip("{}").upper()
BULK_PW = fixture.recovery_password(fixture.bulk_key_guid(BULK_I))
BULK0_KEY = fixture.bulk_key_guid(500).strip("{}").upper()
BETA_KEY = E["AD_BETA_KEY"].strip("{}").upper()
BETA_PW = E["AD_BETA_PW"]
BETA8 = hexid(BETA_KEY)[:8]
FILTERS = {}          # bdekey's key-ID filters, as seen by the spy


def key_filter(name):
    return lambda: FILTERS[name]


def build_cases():
    cs = []
    for mech in (["simple", "gssapi"] if GSS else ["simple"]):
        g = "device"
        cs.append(bde_case(g, "bdekey --device %s" % BULK_CN, mech,
                           ["--device", BULK_CN], [BULK_KEY],
                           pair="ldapsearch computer + one-level"))
        cs.append(bde_case(g, "bdekey --device %s --show" % BULK_CN, mech,
                           ["--device", BULK_CN, "--show"], [BULK_KEY, BULK_PW],
                           pair="ldapsearch computer + one-level, password"))
        cs.append(ls_device_case(g, "ldapsearch computer + one-level", mech,
                                 BULK_CN, KEY_ATTRS, ["msFVE-RecoveryGuid"]))
        cs.append(ls_device_case(g, "ldapsearch computer + one-level, password",
                                 mech, BULK_CN, KEY_ATTRS + [PW_ATTR],
                                 [BULK_PW]))
        if mech == "simple":
            cs.append(bde_case(g, "bdekey --device %s, no BDEKEY_LDAP_BASE "
                               "(RootDSE read)" % BULK_CN, mech,
                               ["--device", BULK_CN], [BULK_KEY], base=False,
                               pair="ldapsearch computer + one-level"))
            cs.append(ls_case(g, "ldapsearch one-level only (DN known)", mech,
                              fixture.dn(BULK_CN, fixture.OU_BULK), "one",
                              "(objectClass=%s)" % CLASS, KEY_ATTRS,
                              ["msFVE-RecoveryGuid"]))
        g = "key-id"
        cs.append(bde_case(g, "bdekey --key-id %s" % BETA8, mech,
                           ["--key-id", BETA8], [BETA_KEY],
                           pair="ldapsearch, bdekey's filter"))
        cs.append(bde_case(g, "bdekey --key-id %s --show" % BETA8, mech,
                           ["--key-id", BETA8, "--show"], [BETA_KEY, BETA_PW],
                           pair="ldapsearch, bdekey's filter, password"))
        cs.append(ls_case(g, "ldapsearch, bdekey's filter", mech, BASE, "sub",
                          key_filter(BETA8), KEY_ATTRS, ["msFVE-RecoveryGuid"]))
        cs.append(ls_case(g, "ldapsearch, bdekey's filter, password", mech,
                          BASE, "sub", key_filter(BETA8),
                          KEY_ATTRS + [PW_ATTR], [BETA_PW]))
        if mech == "simple":
            cs.append(ls_case(g, "ldapsearch (name=*{%s*)" % BETA8, mech,
                              BASE, "sub", "(&(objectClass=%s)(name=*{%s*))" % (
                                  CLASS, BETA8), KEY_ATTRS,
                              ["msFVE-RecoveryGuid"]))
            full = hexid(BETA_KEY)
            cs.append(bde_case(g, "bdekey --key-id <full GUID>", mech,
                               ["--key-id", full], [BETA_KEY],
                               pair="ldapsearch, full-GUID equality"))
            cs.append(ls_case(g, "ldapsearch, full-GUID equality", mech, BASE,
                              "sub", key_filter(full), KEY_ATTRS,
                              ["msFVE-RecoveryGuid"]))
            # B0000501: stored 01 05 00 B0, the filter stops before the NUL
            # byte and also matches PC-MANY's {AB000501-...}: bdekey must
            # drop that one.  B0000500: stored 00 ..., matched in the CN.
            for key, nmin, reject in ((BULK_KEY, 2, ["AB000501"]),
                                      (BULK0_KEY, 1, [])):
                k8 = hexid(key)[:8]
                cs.append(bde_case(g, "bdekey --key-id %s" % k8, mech,
                                   ["--key-id", k8], [key], reject=reject,
                                   pair="ldapsearch %s, bdekey's filter" % k8))
                cs.append(ls_case(g, "ldapsearch %s, bdekey's filter" % k8,
                                  mech, BASE, "sub", key_filter(k8), KEY_ATTRS,
                                  ["msFVE-RecoveryGuid"], nmin=nmin))
        g = "discovery"
        base_name = "bdekey --key-id %s --show, URI configured, no base" % BETA8
        cs.append(bde_case(g, base_name, mech, ["--key-id", BETA8, "--show"],
                           [BETA_KEY, BETA_PW], base=False))
        cs.append(disc_case(g, "bdekey --key-id %s --show, DC from DNS" % BETA8,
                            mech, ["--key-id", BETA8, "--show"],
                            [BETA_KEY, BETA_PW], False, pair=base_name))
        cs.append(disc_case(g, "bdekey --key-id %s --show, DC from DNS, "
                            "--forest: GC + DC" % BETA8, mech,
                            ["--key-id", BETA8, "--show"], [BETA_KEY, BETA_PW],
                            True, pair=base_name))
    return cs


def count_sites(label):
    """Site records that send the counted discovery runs to the proxies."""
    SITES["simple"] = "BenchTls%s" % label
    dns_add("_msdcs.bdekey.test", "_ldap._tcp.%s._sites.dc" % SITES["simple"],
            "localhost %d 0 100" % SPY.port)
    dns_add("bdekey.test", "_gc._tcp.%s._sites" % SITES["simple"],
            "localhost %d 0 100" % GCSPY.port)
    if GSS:
        SITES["gssapi"] = "BenchGss%s" % label
        dns_add("_msdcs.bdekey.test", "_ldap._tcp.%s._sites.dc" %
                SITES["gssapi"], "dc1.bdekey.test %d 0 100" % GSSPROXY.port)
        dns_add("bdekey.test", "_gc._tcp.%s._sites" % SITES["gssapi"],
                "dc1.bdekey.test %d 0 100" % GCPROXY.port)


pct = benchproc.pct


def count_pass(cases):
    """Each case once through a counting proxy, outside the timed runs."""
    for c in cases:
        # bdekey first: its key-ID filters are needed by the ldapsearch cases
        if c.tool != "bdekey":
            continue
        run_count(c)
    for c in cases:
        if c.tool != "bdekey":
            run_count(c)


def run_count(c):
    proxies = [SPY, GCSPY] if c.mech == "simple" else [GSSPROXY, GCPROXY]
    for p in proxies:
        p.take()
    DNSPROXY.take()
    ok, detail, _ = c.fn(c.uri(True))
    recs = []
    for p in proxies:
        recs += p.take()
    ndns = DNSPROXY.take()
    if not ok:
        FAILED.append("%s (%s, counted run): %s" % (c.name, c.mech, detail))
    if c.mech == "simple":
        # ldapspy logs "unparsed" when, after the server has closed, it reads
        # the client's TLS close_notify as plain bytes (its other pump thread
        # has shut the TLS socket down): not an LDAP request
        n = sum(1 for r in recs if r["op"] == "unparsed")
        recs = [r for r in recs if r["op"] != "unparsed"]
        if n:
            NOTES.append("%s: %d undecodable record(s) after the unbind "
                         "left out (TLS close_notify)" % (c.name, n))
    if c.mech == "simple":
        ops = [r["op"] for r in recs]
        if c.tool == "bdekey" and "--key-id" in c.name:
            k = c.name.split()[2]
            if k.startswith("<"):
                k = hexid(BETA_KEY)
            s = [r for r in recs if r["op"] == "search" and r["base"] == BASE]
            if s:
                FILTERS[k] = s[-1]["filter"]
        c.searches = [(r["base"], r["scope"], r["filter"]) for r in recs
                      if r["op"] == "search"]
    else:
        ops = recs
    c.count = {"connections": ops.count("accept"),
               "requests": len(ops) - ops.count("accept"),
               "ops": {o: ops.count(o) for o in sorted(set(ops))
                       if o != "accept"}}
    if getattr(c, "disc", False):
        c.count["dns"] = ndns


def rss_pass(cases):
    """Each case once more under /usr/bin/time for its peak RSS."""
    global RSS_PASS
    if not os.access("/usr/bin/time", os.X_OK):
        return
    RSS_PASS = True
    try:
        for c in cases:
            ok, detail, rss = c.fn(c.uri(False))
            if ok:
                c.rss = rss
            else:
                FAILED.append("%s (%s, RSS run): %s" % (c.name, c.mech, detail))
    finally:
        RSS_PASS = False


def time_pass(cases):
    for rnd in range(WARM + RUNS):
        k = rnd % len(cases)
        for c in cases[k:] + cases[:k]:
            t0 = time.perf_counter()
            ok, detail, rss = c.fn(c.uri(False))
            dt = (time.perf_counter() - t0) * 1000
            if not ok:
                FAILED.append("%s (%s): %s" % (c.name, c.mech, detail))
                continue
            if rnd >= WARM:
                c.times.append(dt)


SITES = {}


def main():
    global SPY, GSSPROXY, GCSPY, GCPROXY, DNSPROXY
    label, outpath = sys.argv[1], sys.argv[2]
    SPY = Spy()
    GCSPY = Spy("ldaps://%s:3269" % IP, "gcspy")
    GSSPROXY = CountProxy() if GSS else None
    GCPROXY = CountProxy(3268) if GSS else None
    DNSPROXY = DnsProxy()
    try:
        count_sites(label)
        cases = build_cases()
        count_pass(cases)
        rss_pass(cases)
        time_pass(cases)
    finally:
        SPY.stop()
        GCSPY.stop()
    res = []
    for c in cases:
        r = {"group": c.group, "name": c.name, "tool": c.tool, "mech": c.mech,
             "pair": c.pair, "runs": len(c.times), "count": c.count,
             "rss_kib": c.rss, "searches": getattr(c, "searches", None)}
        if c.times:
            r.update(median=pct(c.times, 0.5), p90=pct(c.times, 0.9),
                     min=min(c.times))
        res.append(r)
    meta = {"label": label, "runs": RUNS, "filters": FILTERS, "notes": NOTES,
            "objects": json.loads(E["BENCH_OBJECTS"]), "failed": FAILED}
    with open(outpath, "w") as f:
        json.dump({"meta": meta, "cases": res}, f, indent=1)
    report(meta, res)
    return 1 if FAILED else 0


def fmt_count(c):
    if not c:
        return "?"
    ops = c["ops"]
    return "%d / %d (%s)%s" % (c["connections"], c["requests"], ", ".join(
        "%d %s" % (n, o) for o, n in ops.items()),
        "; %d DNS queries" % c["dns"] if "dns" in c else "")


def report(meta, res):
    o = meta["objects"]
    print()
    print("### %s extra computers (%d computers, %d recovery objects)" % (
        meta["label"], o["computers"], o["recovery"]))
    print()
    print("Median and p90 of %d runs, ms; ratio = bdekey median / the paired "
          "ldapsearch median; connections / LDAP requests per lookup." %
          meta["runs"])
    by = {(r["name"], r["mech"]): r for r in res}
    for mech in ("simple", "gssapi"):
        rows = [r for r in res if r["mech"] == mech]
        if not rows:
            continue
        print()
        print("%s:" % ("simple bind over LDAPS" if mech == "simple"
                       else "SASL GSSAPI over ldap:// (sealed)"))
        print()
        print("| lookup | median ms | p90 ms | ratio | connections / requests "
              "| peak RSS MiB |")
        print("|---|---:|---:|---:|---|---:|")
        for r in rows:
            if "median" not in r:
                print("| %s | FAILED | | | | |" % r["name"])
                continue
            ratio = ""
            p = by.get((r["pair"], mech)) if r["pair"] else None
            if p and "median" in p:
                ratio = "%.2f×" % (r["median"] / p["median"])
            print("| %s | %.1f | %.1f | %s | %s | %s |" % (
                r["name"], r["median"], r["p90"], ratio, fmt_count(r["count"]),
                "%.1f" % (r["rss_kib"] / 1024) if r["rss_kib"] else "n/a"))
    print()
    for k, f in sorted(meta["filters"].items()):
        print("bdekey's filter for %s: `%s`" % (k, f))
    for n in meta["notes"]:
        print("note: %s" % n)
    seen = []
    for f in meta["failed"]:
        if f not in seen:
            seen.append(f)
    for f in seen:
        print("FAILED (%d×): %s" % (meta["failed"].count(f), f))
    sys.stdout.flush()


def summary(paths):
    data = [json.load(open(p)) for p in paths]
    if len(data) < 2:
        return 0
    print()
    print("### Growth: %s" % " vs ".join(
        "%s extra computers" % d["meta"]["label"] for d in data))
    print()
    objs = [d["meta"]["objects"]["recovery"] for d in data]
    print("Recovery objects: %s (×%.1f)." % (
        " → ".join(str(n) for n in objs), objs[-1] / objs[0]))
    print()
    print("| lookup | %s | growth |" % " | ".join(
        "median ms @ %s" % d["meta"]["label"] for d in data))
    print("|---|%s---:|" % ("---:|" * len(data)))
    for r0 in data[0]["cases"]:
        ms = []
        for d in data:
            m = [r for r in d["cases"] if r["name"] == r0["name"]
                 and r["mech"] == r0["mech"]]
            ms.append(m[0].get("median") if m else None)
        if None in ms:
            continue
        print("| %s%s | %s | ×%.2f |" % (
            r0["name"], "" if r0["mech"] == "simple" else " (GSSAPI)",
            " | ".join("%.1f" % m for m in ms), ms[-1] / ms[0]))
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        sys.exit(summary(sys.argv[2:]))
    sys.exit(main())
PYEOF

# objects in the directory, counted as Administrator (paged)
count_objects() {
	local f n
	for f in '(objectCategory=computer)' '(objectClass=msFVE-RecoveryInformation)'; do
		n=$(timeout 120 ldapsearch -LLL -x -o nettimeout=10 -H "$AD_URI_LDAPS" \
			-D "$AD_ADMIN_DN" -y "$AD_ADMIN_PASS_FILE" -E pr=1000/noprompt \
			-b "$BDEKEY_TEST_BASE" "$f" 1.1 | grep -c '^dn:') || true
		printf '%s ' "$n"
	done
}

export BENCH_TMP=$TMP BENCH_ROOT=$ROOT BENCH_RUNS=$RUNS BENCH_PWFILE=$PWFILE \
	BENCH_GSSAPI=$GSS BDEKEY
echo "## bench/ad.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(samba -V), $(ldapsearch -VV 2>&1 | sed -n 's/.*\(ldapsearch [0-9.][^ ]*\).*/\1/p'), bdekey $("$BDEKEY" --version 2>&1 | head -n 1)"
have=0
results=()
fail=0
for n in $SIZES; do
	add=$((n - have))
	[ "$add" -gt 0 ] || { echo "bench/ad.sh: BENCH_AD_SIZES must grow" >&2; exit 1; }
	log "adding $add bulk computers (total $n)"
	fg timeout 900 "$ROOT/tests/ad/dc.sh" bulk "$DC" "$add" >"$TMP/bulk-$n.log" 2>&1 || {
		tail -n 30 "$TMP/bulk-$n.log" >&2
		exit 1
	}
	have=$n
	read -r ncomp nrec <<<"$(count_objects)"
	export BENCH_OBJECTS="{\"computers\": ${ncomp:-0}, \"recovery\": ${nrec:-0}}"
	log "$ncomp computers, $nrec recovery objects; timing ($RUNS runs per lookup)"
	fg timeout 1200 "$PY" "$TMP/adbench.py" "$n" "$TMP/res-$n.json" || fail=1
	results+=("$TMP/res-$n.json")
done
timeout 60 "$PY" "$TMP/adbench.py" summary "${results[@]}"
exit "$fail"
