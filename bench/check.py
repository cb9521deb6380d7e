#!/usr/bin/env python3
"""bench/check.py - `bdekey check -` over 1,000,000 passwords from a file.

Writes the file once (valid passwords from random keys, 1 in 100 with a
misheard digit), then runs the plain and --json forms REPEAT times each,
output to /dev/null, pinned to one core when taskset exists.  Reports the
best wall time as passwords/s and the peak RSS of the child.
Usage: check.py BDEKEY [COUNT]
"""
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPEAT = 5


def password(rng):
    blocks = ["%06d" % (rng.randrange(65536) * 11) for _ in range(8)]
    if rng.randrange(100) == 0:
        b = list(blocks[2])
        b[5] = str((int(b[5]) + 1) % 10)
        blocks[2] = "".join(b)
    return "-".join(blocks)


def run(cmd, path):
    """Best wall time of REPEAT runs and the largest peak RSS (KiB)."""
    best, rss = None, 0
    for _ in range(REPEAT):
        with open(path, "rb") as inp, open(os.devnull, "wb") as out:
            t = time.perf_counter()
            p = subprocess.Popen(cmd, stdin=inp, stdout=out)
            _, status, ru = os.wait4(p.pid, 0)
            dt = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            raise SystemExit(f"{cmd}: exit {code}")
        best = dt if best is None else min(best, dt)
        rss = max(rss, ru.ru_maxrss)
    return best, rss


def main():
    bdekey = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    rng = random.Random(1)
    d = tempfile.mkdtemp()
    try:
        path = os.path.join(d, "passwords")
        with open(path, "w") as f:
            for _ in range(count):
                f.write(password(rng) + "\n")
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        for label, extra in (("plain", []), ("--json", ["--json"])):
            dt, rss = run(pin + [bdekey, "check"] + extra + ["-"], path)
            print(f"check {label:7s} {count} passwords: best of {REPEAT} "
                  f"{dt:.3f} s = {count / dt / 1e6:.2f} M passwords/s, "
                  f"peak RSS {rss / 1024:.1f} MiB")
        # constant memory: a tenth of the input must peak at the same RSS
        small = os.path.join(d, "small")
        with open(path) as src, open(small, "w") as dst:
            for i, line in enumerate(src):
                if i >= count // 10:
                    break
                dst.write(line)
        _, rss = run([bdekey, "check", "-"], small)
        print(f"check plain   {count // 10} passwords: peak RSS "
              f"{rss / 1024:.1f} MiB")
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
