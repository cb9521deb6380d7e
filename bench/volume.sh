#!/bin/bash
# volume.sh - `bdekey unlock --test` and `bdekey volume` against their
# floors, on the BitLocker test volumes (tests/volume/data/):
#
#   - `bdekey unlock --test --password-stdin` with the recovery password on
#     each image (the real command: options, scan, the audit record synced
#     to disk, libcryptsetup's check) beside `cryptsetup open
#     --test-passphrase --type bitlk` on the same image in the same run:
#     the key derivation (2^20 SHA-256 rounds) is the floor; target <= 1.1x
#   - the same volume inside a whole-disk GPT image (the check goes
#     through the in-memory shadow of its metadata, key.c), a wrong
#     password, the second recovery password, a .BEK startup key
#     (`--key-file`), each beside cryptsetup on the bare image; and
#     libbde's own check (bdeinfo -r), why key.c does not use it
#   - `bdekey volume` on a whole-disk image with two BitLocker partitions
#     (target <= 20 ms), beside voltool's scan (the library alone) and
#     `blkid -p`
#
#   O=build/rel bash bench/volume.sh   (or BDEKEY=..., VOLTOOL=...)
#
# Every timed run is a process from spawn to exit, median and p90 (nearest
# rank) over BENCH_RUNS rounds (7; one warm-up round first); the cases of a
# round run interleaved, each round in a rotated order.  The scans run
# BENCH_SCAN_RUNS times (31).  bdekey runs with a private HOME (its audit
# log there, no directory configured).  Needs cryptsetup (cryptsetup-bin)
# and sfdisk; without them it says SKIPPED and exits 0.  Results go into
# docs/performance.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
O=${O:-build/rel}
BDEKEY=${BDEKEY:-$O/bdekey}
VOLTOOL=${VOLTOOL:-$O/tests/voltool}
case $BDEKEY in /*) ;; *) BDEKEY=$ROOT/$BDEKEY ;; esac
case $VOLTOOL in /*) ;; *) VOLTOOL=$ROOT/$VOLTOOL ;; esac
export BENCH_RUNS=${BENCH_RUNS:-7} BENCH_SCAN_RUNS=${BENCH_SCAN_RUNS:-31}

skip() { echo "bench/volume.sh: SKIPPED: $*" >&2; exit 0; }
for c in cryptsetup sfdisk tar xz; do
	command -v "$c" >/dev/null || skip "$c is not installed (make deps)"
done
[ -x "$PY" ] || skip "$PY is missing"
if [ ! -x "$BDEKEY" ]; then
	make --no-print-directory O="$O" "$BDEKEY" >/dev/null
fi
if [ ! -x "$VOLTOOL" ]; then
	make --no-print-directory O="$O" "$VOLTOOL" >/dev/null
fi

TMP=$(mktemp -d /tmp/bdekey-bench-volume.XXXXXX)
CHILD=
cleanup() {
	local rc=$?
	[ -z "$CHILD" ] || kill_tree "$CHILD"
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
BENCH_NAME=bench/volume.sh
. "$ROOT/bench/lib.sh"
private_home BDEKEY_ LDAP

tar --sparse -xJf tests/volume/data/bitlk-images.tar.xz -C "$TMP"
img=$TMP/bitlk-images
# the startup-key volume in partition 2, the AES-XTS-256 one in 3
gpt=$TMP/disk.img
truncate -s 240M "$gpt"
sfdisk -q "$gpt" >/dev/null <<'EOF'
label: gpt
unit: sectors
start=2048, size=16384
start=18432, size=206848
start=225280, size=204800
EOF
dd if="$img/bitlk-aes-xts-128-startup-key.img" of="$gpt" bs=1M seek=9 \
	conv=sparse,notrunc status=none
dd if="$img/bitlk-aes-xts-256.img" of="$gpt" bs=1M seek=110 \
	conv=sparse,notrunc status=none
# the same disk with one BitLocker volume (partition 2): `unlock` asks for
# the partition on a disk with two
gpt1=$TMP/disk1.img
truncate -s 240M "$gpt1"
sfdisk -q "$gpt1" >/dev/null <<'EOF'
label: gpt
unit: sectors
start=2048, size=16384
start=18432, size=206848
start=225280, size=204800
EOF
dd if="$img/bitlk-aes-xts-128-startup-key.img" of="$gpt1" bs=1M seek=9 \
	conv=sparse,notrunc status=none

log "bdekey $BDEKEY; voltool $VOLTOOL; $(cryptsetup --version); libbde $(bdeinfo -V 2>/dev/null | head -1 | awk '{print $2}' || echo absent)"
export BDEKEY VOLTOOL IMG=$img GPT=$gpt GPT1=$gpt1
# (a file, not a here-document: fg runs it in the background, where
# stdin is /dev/null)
cat >"$TMP/bench.py" <<'PYEOF'
"""Times the cases; prints Markdown tables."""
import configparser
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, "bench")
from benchproc import pct  # noqa: E402

BK = os.environ["BDEKEY"]
VT = os.environ["VOLTOOL"]
IMG = os.environ["IMG"]
GPT = os.environ["GPT"]
GPT1 = os.environ["GPT1"]
RUNS = int(os.environ["BENCH_RUNS"])
SCAN_RUNS = int(os.environ["BENCH_SCAN_RUNS"])
conf = configparser.ConfigParser()
conf.read(os.path.join(IMG, "images.conf"))
NAMES = ["bitlk-aes-xts-128", "bitlk-aes-cbc-128", "bitlk-aes-xts-256",
         "bitlk-aes-xts-128-startup-key", "bitlk-aes-xts-128-two-recovery",
         "bitlk-togo-aes-xts-128"]
BEK = os.path.join(IMG, "4381F759-C4F8-4DE0-BB61-FC33A831BDA5.BEK")


def rp(name, key="RP"):
    return conf[name][key]


def img(name):
    return os.path.join(IMG, name + ".img")


def ours(path, pw, ok=0):
    # the password on stdin, as a person types it (one line)
    return ([BK, "unlock", "--test", "--password-stdin", path],
            (pw + "\n").encode(), ok)


def cs(path, pw, ok=0):
    # the password on stdin (--key-file=- reads to EOF: no newline)
    return (["cryptsetup", "open", "--test-passphrase", "--type", "bitlk",
             "--key-file=-", path], pw.encode(), ok)


# (group, label, (argv, stdin, expected exit or None for any failure))
cases = []
UT = "bdekey unlock --test"
for name in NAMES:
    cases.append((name, UT, ours(img(name), rp(name))))
    cases.append((name, "cryptsetup --test-passphrase",
                   cs(img(name), rp(name))))
x128, wrong = "bitlk-aes-xts-128", rp("bitlk-aes-xts-256")
cases += [
    ("wrong password (xts-128)", UT, ours(img(x128), wrong, ok=5)),
    ("wrong password (xts-128)", "cryptsetup --test-passphrase",
     cs(img(x128), wrong, ok=None)),
    ("second recovery password", UT,
     ours(img("bitlk-aes-xts-128-two-recovery"),
          rp("bitlk-aes-xts-128-two-recovery", "RP2"))),
    ("second recovery password", "cryptsetup --test-passphrase",
     cs(img("bitlk-aes-xts-128-two-recovery"),
        rp("bitlk-aes-xts-128-two-recovery", "RP2"))),
    ("whole disk, partition 2 (startup-key volume)", UT,
     ours(GPT1, rp("bitlk-aes-xts-128-startup-key"))),
    ("whole disk, partition 2 (startup-key volume)",
     "cryptsetup --test-passphrase, bare volume",
     cs(img("bitlk-aes-xts-128-startup-key"),
        rp("bitlk-aes-xts-128-startup-key"))),
    (".BEK startup key", "bdekey unlock --test --key-file",
     ([BK, "unlock", "--test", "--key-file", BEK,
       img("bitlk-aes-xts-128-startup-key")], b"", 0)),
    (".BEK startup key", "cryptsetup --test-passphrase",
     (["cryptsetup", "open", "--test-passphrase", "--type", "bitlk",
       "--key-file=" + BEK, img("bitlk-aes-xts-128-startup-key")], b"", 0)),
]
if shutil.which("bdeinfo"):
    # libbde's check, for key.c's choice (test passwords, so argv is fine)
    cases += [
        (name, "libbde (bdeinfo -r)",
         (["bdeinfo", "-r", rp(name), img(name)], b"", 0))
        for name in (x128, "bitlk-aes-xts-256")]
    cases += [
        ("wrong password (xts-128)", "libbde (bdeinfo -r)",
         (["bdeinfo", "-r", wrong, img(x128)], b"", 0)),
        ("second recovery password", "libbde (bdeinfo -r)",
         (["bdeinfo", "-r", rp("bitlk-aes-xts-128-two-recovery", "RP2"),
           img("bitlk-aes-xts-128-two-recovery")], b"", 0)),
    ]


def run(argv, data, ok):
    """(wall seconds, CPU seconds, unlocked or None) of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(data)
    p.stdin.close()
    out, err = p.stdout.read(), p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    p.returncode = code = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    p.stderr.close()
    cpu = ru.ru_utime + ru.ru_stime
    if argv[0] == "bdeinfo":
        # exit 1 and "Unable to unlock volume." when the key fails
        return t, cpu, code == 0 and b"Unable to unlock" not in out
    if (ok is None and code == 0) or (ok is not None and code != ok):
        sys.exit("%s: exit %d (want %s): %s" % (
            " ".join(argv[:3]), code, ok, err[:300]))
    return t, cpu, None


times = {i: [] for i in range(len(cases))}
cpus = {i: [] for i in range(len(cases))}
notes = {}
for rnd in range(RUNS + 1):
    order = list(range(len(cases)))
    k = rnd % len(order)
    for i in order[k:] + order[:k]:
        t, cpu, unlocked = run(*cases[i][2])
        if unlocked is not None:
            notes[i] = "unlocks" if unlocked else "does not unlock"
        if rnd > 0:
            times[i].append(t)
            cpus[i].append(cpu)

# CPU time (user + system of the process) as well as wall time: on a
# shared machine the wall time carries the other tenants' load
print("\n### Key checks (%d runs each, seconds)\n" % RUNS)
print("| volume | check | wall median | wall p90 | CPU median "
      "| vs cryptsetup (wall / CPU) |")
print("|---|---|---|---|---|---|")
floor = {}
for i, (group, label, _) in enumerate(cases):
    if label.startswith("cryptsetup"):
        floor[group] = (pct(times[i], 0.5), pct(cpus[i], 0.5))
for i, (group, label, _) in enumerate(cases):
    med, cmed = pct(times[i], 0.5), pct(cpus[i], 0.5)
    ratio = "%.2fx / %.2fx" % (med / floor[group][0],
                               cmed / floor[group][1]) \
        if group in floor else ""
    note = " (%s)" % notes[i] if i in notes else ""
    print("| %s | %s%s | %.3f | %.3f | %.3f | %s |" % (
        group, label, note, med, pct(times[i], 0.9), cmed, ratio))

scans = [("bdekey volume (GPT, 3 partitions, 2 BitLocker)",
          [BK, "volume", GPT]),
         ("bdekey volume --json (the same)", [BK, "volume", "--json", GPT]),
         ("voltool scan (the library alone)", [VT, "scan", GPT])]
scan = {i: [] for i in range(len(scans))}
for rnd in range(SCAN_RUNS + 1):
    for i, (_, argv) in enumerate(scans):
        t, _, _ = run(argv, b"", 0)
        if rnd > 0:
            scan[i].append(t)
blk = []
for rnd in range(SCAN_RUNS + 1):
    t0 = time.perf_counter()
    subprocess.run(["blkid", "-p", GPT], stdout=subprocess.DEVNULL)
    if rnd > 0:
        blk.append(time.perf_counter() - t0)
print("\n### Scan of a whole-disk image (%d runs, milliseconds)\n" %
      SCAN_RUNS)
print("| command | median | p90 |")
print("|---|---|---|")
for i, (label, _) in enumerate(scans):
    print("| %s | %.1f | %.1f |" % (label, 1000 * pct(scan[i], 0.5),
                                    1000 * pct(scan[i], 0.9)))
print("| blkid -p (the same image, whole disk only) | %.1f | %.1f |" % (
    1000 * pct(blk, 0.5), 1000 * pct(blk, 0.9)))
PYEOF
fg "$PY" "$TMP/bench.py"
