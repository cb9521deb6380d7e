"""benchproc.py - what the benchmark drivers (bench/ad.sh, bench/graph.sh)
share: running one measured command, and percentiles."""
import math
import os
import subprocess
import threading


def spawn(argv, env, tmp, timeout, rss_pass):
    """Run argv; (exit status, stdout, stderr, peak RSS in KiB or 0).

    In a timed run the peak RSS is not taken: wait4's ru_maxrss of a child
    forked from a Python process starts at that process's RSS.  The
    separate RSS pass (rss_pass) runs argv under /usr/bin/time, a small
    forker."""
    errpath = os.path.join(tmp, "stderr")
    rsspath = os.path.join(tmp, "rss")
    if rss_pass:
        argv = ["/usr/bin/time", "-f", "%M", "-o", rsspath] + argv
    with open(errpath, "wb") as err:
        p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=err)
    timer = threading.Timer(timeout, lambda: os.kill(p.pid, 9))
    timer.start()
    out = p.stdout.read()
    p.stdout.close()
    _, status, _ = os.wait4(p.pid, 0)
    timer.cancel()
    code = os.waitstatus_to_exitcode(status)
    with open(errpath, "rb") as f:
        errtext = f.read()
    rss = 0
    if rss_pass:
        with open(rsspath) as f:
            rss = int(f.read().split()[-1])
    return code, out.decode("utf-8", "replace"), \
        errtext.decode("utf-8", "replace"), rss


def pct(v, p):
    """The p-quantile (0..1) of v, nearest rank."""
    s = sorted(v)
    return s[max(0, math.ceil(p * len(s)) - 1)]
