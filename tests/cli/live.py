#!/usr/bin/env python3
"""live.py - CLI cases that need a terminal or a live server.

Through a pseudo-terminal (the standard library's pty and termios): the
LDAP password prompt (no echo; the typed password, blanks and all, reaches
the bind whole; echo back on afterwards, also after ^C or SIGTERM at the
prompt, and on while ^Z has stopped it), a password over 512 characters,
declining the rotate confirmation, 'q' and Enter during a read-out.
Without a terminal: exit status precedence across two directories,
standard output on a full disk, password files long or with blanks.

Servers, all on loopback and stopped on exit: the Graph emulator
(tests/graph/server.sh, the fixture's app signs in with its secret) and
fakeldap.py (an LDAPS server that records simple binds and refuses them as
AD refuses a wrong password).  Every command runs in clitest.py's clean
environment plus what the case sets, under a timeout.

    BDEKEY=build/dev/bdekey tests/cli/live.py

Ends with 'live: N passed, M failed'.  A server that does not start is a
failure under CI=true, else its cases are skipped (said loudly).
"""
import fcntl
import hashlib
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import termios
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from clitest import clean_env  # noqa: E402
from fakeldap import FakeLDAP  # noqa: E402

T = 30                  # seconds any one command may take
BIND_DN = "CN=helpdesk,CN=Users,DC=bdekey,DC=test"


class Suite:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, cond, why=""):
        if cond:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}")
            for line in str(why).splitlines()[:12]:
                print(f"     {line}")
        return cond


class Term:
    """A command on a new pseudo-terminal, its controlling terminal.

    The test keeps the terminal's slave side open, so its settings can
    be read (and outlive the command): echo_on() after the command ended
    says whether it left the terminal as it found it.
    """

    def __init__(self, argv, env, job_control=False):
        self.master, self.slave = os.openpty()
        self.out = b""
        self.status = None
        if job_control:
            evt_r, evt_w = os.pipe()
            cmd_r, cmd_w = os.pipe()
        pid = os.fork()
        if pid == 0:            # the child: a session led by the command
            try:
                os.setsid()
                fcntl.ioctl(self.slave, termios.TIOCSCTTY, 0)
                if job_control:
                    self._shell(argv, env, evt_w, cmd_r)
                for fd in (0, 1, 2):
                    os.dup2(self.slave, fd)
                os.closerange(3, 1024)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid = pid
        if job_control:
            os.close(evt_w)
            os.close(cmd_r)
            self.evt, self.cmd = evt_r, cmd_w

    def _shell(self, argv, env, evt, cmd):
        """In the child: a job-control shell, as bash runs a job.  The
        command gets a process group of its own in the foreground, so ^Z
        stops it (a terminal stop never reaches an orphaned group); the
        shell says b"S" on evt when it stopped, continues it when told on
        cmd, and exits with its status (128 + N for signal N)."""
        b = os.fork()
        if b == 0:
            os.setpgid(0, 0)
            for fd in (0, 1, 2):
                os.dup2(self.slave, fd)
            os.closerange(3, 1024)
            os.execve(argv[0], argv, env)
        try:
            os.setpgid(b, b)
        except OSError:
            pass                # the command did it first
        signal.signal(signal.SIGTTOU, signal.SIG_IGN)
        os.tcsetpgrp(self.slave, b)
        while True:
            _, st = os.waitpid(b, os.WUNTRACED)
            if os.WIFSTOPPED(st):
                os.write(evt, b"S")
                if os.read(cmd, 1) != b"C":
                    os.kill(b, signal.SIGKILL)
                os.tcsetpgrp(self.slave, b)
                os.kill(b, signal.SIGCONT)
                continue
            os._exit(os.WEXITSTATUS(st) if os.WIFEXITED(st)
                     else 128 + os.WTERMSIG(st))

    def stopped(self, timeout=T):
        """Job control: whether the command stopped within timeout."""
        r, _, _ = select.select([self.evt], [], [], timeout)
        return bool(r) and os.read(self.evt, 1) == b"S"

    def resume(self):
        os.write(self.cmd, b"C")

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if r:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            self.out += data
            return len(data)
        return 0

    def expect(self, pattern, timeout=T):
        """Read until pattern (bytes regex) is in the output; the match."""
        end = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.out)
            if m:
                return m
            left = end - time.monotonic()
            if left <= 0 or (self.poll() is not None and not self._read(0.2)):
                return None
            self._read(min(left, 0.2))

    def send(self, data):
        os.write(self.master, data)

    def echo_on(self):
        return bool(termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def settle(self):
        """Give the command a moment to block reading, as a person would
        before pressing a key that sends a signal.  (A signal that comes
        between turning echo off and the read(2) must not be lost either,
        but that is a race a test cannot hit on purpose.)"""
        time.sleep(0.3)

    def quiet(self, timeout=T):
        """Wait until echo is off: a password prompt that flushes input
        when it turns echo off (TCSAFLUSH) has done so; type after this."""
        end = time.monotonic() + timeout
        while self.echo_on():
            if time.monotonic() > end or self.poll() is not None:
                return False
            self._read(0.02)
        return True

    def poll(self):
        if self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = (os.WEXITSTATUS(st) if os.WIFEXITED(st)
                               else -os.WTERMSIG(st))
        return self.status

    def wait(self, timeout=T):
        """The exit status (-N for signal N), or None after a timeout
        (the command is then killed)."""
        end = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < end:
            self._read(0.1)
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = "killed after %d s" % timeout
            return None
        while self._read(0.05):
            pass
        return self.status

    def text(self):
        return self.out.decode("utf-8", "replace")

    def close(self):
        if self.status is None:
            self.wait(5)
        for fd in (self.master, self.slave, getattr(self, "evt", None),
                   getattr(self, "cmd", None)):
            if fd is not None:
                os.close(fd)


class Graph:
    """The Graph emulator, through tests/graph/server.sh."""

    def __init__(self, dir):
        self.dir = dir
        r = subprocess.run([os.path.join(TOP, "tests/graph/server.sh"),
                            "start", dir], capture_output=True, text=True,
                           timeout=90)
        if r.returncode != 0:
            raise RuntimeError("the Graph emulator did not start: " +
                               r.stderr[-2000:])
        self.env = {}
        for line in r.stdout.splitlines():
            w = shlex.split(line)
            if len(w) == 2 and w[0] == "export":
                k, _, v = w[1].partition("=")
                self.env[k] = v
        self.ctx = ssl.create_default_context(cafile=os.path.join(dir,
                                                                  "ca.pem"))

    def app_env(self):
        """bdekey's settings for the fixture's app (client secret)."""
        e = self.env
        return {"BDEKEY_TENANT": e["BDEKEY_TENANT"],
                "BDEKEY_AUTHORITY": e["BDEKEY_AUTHORITY"],
                "BDEKEY_GRAPH": e["BDEKEY_GRAPH"],
                "BDEKEY_CA_BUNDLE": e["BDEKEY_CA_BUNDLE"],
                "BDEKEY_CLIENT_ID": e["GRAPH_EMU_APP_CLIENT_ID"],
                "BDEKEY_CLIENT_SECRET_FILE": e["GRAPH_EMU_APP_SECRET_FILE"]}

    def hook(self, name, post=False):
        req = urllib.request.Request(self.env["GRAPH_EMU_URL"] + "/_test/" +
                                     name, data=b"" if post else None,
                                     method="POST" if post else "GET")
        with urllib.request.urlopen(req, context=self.ctx, timeout=20) as r:
            return json.load(r)

    def reset(self):
        self.hook("reset", post=True)

    def rotations(self):
        return len(self.hook("rotations")["value"])

    def stop(self):
        subprocess.run([os.path.join(TOP, "tests/graph/server.sh"), "stop",
                        self.dir], capture_output=True, timeout=30)


def run(argv, env, stdout=subprocess.PIPE):
    """Run bdekey without a terminal: (status, stdout, stderr)."""
    try:
        p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                           stdout=stdout, stderr=subprocess.PIPE, timeout=T,
                           start_new_session=True)
    except subprocess.TimeoutExpired:
        return None, "", "(no exit within %d s)" % T
    out = p.stdout.decode("utf-8", "replace") if p.stdout else ""
    return p.returncode, out, p.stderr.decode("utf-8", "replace")


def main():
    bdekey = os.environ.get("BDEKEY")
    if not bdekey:
        print("live.py: BDEKEY must name the binary under test",
              file=sys.stderr)
        return 2
    bdekey = os.path.abspath(bdekey)
    ci = os.environ.get("CI") == "true"
    s = Suite()
    tmp = tempfile.mkdtemp(prefix="bdekey-live.")
    graph = ldap = None
    n = 0

    def env(**extra):
        """A clean environment in a new private HOME, plus extra."""
        nonlocal n
        n += 1
        e = clean_env(os.path.join(tmp, "home%d" % n))
        e.update(extra)
        return e

    try:
        # ---------------------------------------------------- servers
        try:
            graph = Graph(os.path.join(tmp, "graph"))
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print(("FAIL " if ci else "SKIPPED (not CI: not a failure) ") +
                  str(e))
            if ci:
                s.failed += 1
        pki = os.path.join(tmp, "graph")
        if graph is None:       # the PKI alone, for the LDAPS server
            subprocess.run([os.path.join(TOP, "tests/graph/ca.sh"), pki],
                           capture_output=True, timeout=60)
        try:
            ldap = FakeLDAP(os.path.join(pki, "server.pem"),
                            os.path.join(pki, "server.key"))
        except (OSError, ssl.SSLError) as e:
            print(("FAIL " if ci else "SKIPPED (not CI: not a failure) ") +
                  "the LDAPS server did not start: %s" % e)
            if ci:
                s.failed += 1
        ldap_env = {} if ldap is None else {
            "LDAPTLS_CACERT": os.path.join(pki, "ca.pem"),
            "LDAPTLS_REQCERT": "demand"}

        def prompt_cmd(*more):
            return [bdekey, "lookup", "--source", "ad", "--device", "PC-1",
                    "--ldap-uri", ldap.uri, "--mech", "SIMPLE", "--bind-dn",
                    BIND_DN, "--timeout", "10"] + list(more)

        if ldap is not None:
            password_prompt(s, ldap, prompt_cmd, env(**ldap_env))
            password_files(s, ldap, prompt_cmd, tmp, env, ldap_env)
        if graph is not None:
            rotate_declined(s, graph, bdekey, env)
            read_out(s, graph, bdekey, env)
            full_stdout(s, graph, bdekey, env)
        if graph is not None and ldap is not None:
            precedence(s, graph, ldap, bdekey, env, ldap_env)
    finally:
        if ldap is not None:
            ldap.close()
        if graph is not None:
            graph.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"live: {s.passed} passed, {s.failed} failed")
    return 1 if s.failed else 0


# ------------------------------------------------------------ the prompt
def password_prompt(s, ldap, cmd, e):
    prompt = rb"LDAP password for " + re.escape(BIND_DN.encode()) + rb": "
    typed = "Typed-Sentinel-4711"

    # no echo while asking; what was typed is what is bound with
    ldap.reset()
    t = Term(cmd(), e)
    asked = t.expect(prompt)
    s.check("prompt: asks for the LDAP password on the terminal",
            asked, t.text())
    if asked:
        s.check("prompt: echo is off while it waits", t.quiet())
        t.send(typed.encode() + b"\n")
    st = t.wait()
    s.check("prompt: a refused password exits 3", st == 3, f"exit {st}")
    s.check("prompt: the typed password is not echoed",
            typed not in t.text(), t.text())
    s.check("prompt: the typed password reaches the bind, whole",
            [b["sha256"] for b in ldap.binds] == [sha(typed)] and
            ldap.binds[0]["dn"] == BIND_DN, ldap.binds)
    s.check("prompt: echo is back on afterwards", t.echo_on())
    t.close()

    # blanks are part of a password, at its ends too
    blanks = "  pass word  "
    ldap.reset()
    t = Term(cmd(), e)
    if t.expect(prompt) and t.quiet():
        t.send(blanks.encode() + b"\n")
    st = t.wait()
    s.check("prompt: a password with blanks, leading and trailing ones "
            "too, is bound as typed", [b["sha256"] for b in ldap.binds] ==
            [sha(blanks)], f"exit {st}; binds {ldap.binds} (length "
            f"{len(blanks)} typed)")
    t.close()

    # ^Z while it waits: the terminal echoes while bdekey is stopped;
    # once continued (fg) it asks on and takes the password
    ldap.reset()
    t = Term(cmd(), e, job_control=True)
    asked = t.expect(prompt) and t.quiet()
    if asked:
        t.settle()
        t.send(b"\x1a")
    stopped = asked and t.stopped()
    s.check("prompt: ^Z at the prompt stops bdekey", stopped, t.text())
    if stopped:
        # red before issue 8's cmd/tty.c: a stop left echo off
        s.check("prompt: echo is on while bdekey is stopped at the prompt",
                t.echo_on(), "stty -a would show -echo")
        t.resume()
        if t.quiet():
            t.send(typed.encode() + b"\n")
    st = t.wait()
    s.check("prompt: after ^Z and fg the typed password is bound, whole",
            [b["sha256"] for b in ldap.binds] == [sha(typed)],
            f"exit {st}; binds {ldap.binds}; {t.text()}")
    s.check("prompt: after ^Z and fg the password is not echoed",
            typed not in t.text(), t.text())
    s.check("prompt: echo is back on after ^Z, fg and the password",
            t.echo_on())
    t.close()

    # an empty answer: nothing is sent
    ldap.reset()
    t = Term(cmd(), e)
    if t.expect(prompt) and t.quiet():
        t.send(b"\n")
    st = t.wait()
    s.check("prompt: an empty password is refused (exit 2)", st == 2,
            f"exit {st}: {t.text()}")
    s.check("prompt: an empty password says so",
            "no password entered" in t.text(), t.text())
    s.check("prompt: an empty password binds nothing", not ldap.binds,
            ldap.binds)
    s.check("prompt: echo is back on after an empty password", t.echo_on())
    t.close()

    # a password over 512 characters: refused before any bind with a
    # clear message, or bound whole; never cut short, never a crash
    long_pw = "L" * 600
    ldap.reset()
    t = Term(cmd(), e)
    if t.expect(prompt) and t.quiet():
        t.send(long_pw.encode() + b"\n")
    st = t.wait()
    s.check("prompt: 600 characters: no crash", st is not None and st >= 0,
            f"exit {st}")
    # red before issue 8's cmd/tty.c: silently cut to 511 characters
    s.check("prompt: 600 characters: refused with a message, or bound whole",
            refused_or_whole(ldap, long_pw, t.text()),
            f"exit {st}; binds {ldap.binds}; {t.text()[-300:]}")
    s.check("prompt: echo is back on after 600 characters", t.echo_on())
    t.close()

    # ^C and SIGTERM while it waits: the terminal is left as it was
    for name, kill in (("^C", lambda t: t.send(b"\x03")),
                       ("SIGTERM", lambda t: os.kill(t.pid, signal.SIGTERM))):
        ldap.reset()
        t = Term(cmd(), e)
        asked = t.expect(prompt) and t.quiet()
        if asked:
            t.settle()
            kill(t)
        st = t.wait()
        s.check(f"prompt: {name} at the prompt ends bdekey", asked and
                st is not None and st != 0, f"exit {st}: {t.text()}")
        s.check(f"prompt: {name} at the prompt binds nothing",
                not ldap.binds, ldap.binds)
        # red before issue 8's cmd/tty.c: the signal left echo off
        s.check(f"prompt: echo is back on after {name} at the prompt",
                t.echo_on(), "stty -a would show -echo")
        t.close()


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def refused_or_whole(ldap, pw, said):
    """A password bdekey will not take: refused before any bind with a
    message naming its length, or bound whole."""
    if not ldap.binds:
        return re.search(r"(?i)too long|longer than|at most", said) is not None
    return all(b["sha256"] == sha(pw) for b in ldap.binds)


def password_files(s, ldap, cmd, tmp, env, ldap_env):
    pw = "  file pass word  "
    path = os.path.join(tmp, "pw-blanks")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, pw.encode() + b"\n")
    os.close(fd)
    ldap.reset()
    st, out, err = run(cmd("--password-file", path), env(**ldap_env))
    s.check("password file with blanks at its ends: bound as written "
            "(up to the newline)",
            [b["sha256"] for b in ldap.binds] == [sha(pw)],
            f"exit {st}; binds {ldap.binds}; {err}")
    # 5000: red while bde_secret_read_file cuts a file at 4095 bytes
    for size in (600, 5000):
        pw = "F" * size
        path = os.path.join(tmp, f"pw{size}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, pw.encode() + b"\n")
        os.close(fd)
        ldap.reset()
        st, out, err = run(cmd("--password-file", path), env(**ldap_env))
        s.check(f"password file of {size} characters: no crash",
                st is not None and st >= 0, f"exit {st}: {err}")
        s.check(f"password file of {size} characters: refused with a "
                "message, or bound whole",
                refused_or_whole(ldap, pw, err),
                f"exit {st}; binds {ldap.binds}; {err}")
        s.check(f"password file of {size} characters: never on stderr",
                pw[:64] not in err, err)


# ------------------------------------------------------------ Graph cases
def rotate_declined(s, graph, bdekey, env):
    graph.reset()
    prompt = (rb"rotate the BitLocker recovery passwords of 'LAPTOP-ALPHA'"
              rb".*\[y/N\] ")
    for answer in (b"n", b""):
        what = "'n'" if answer else "Enter alone"
        t = Term([bdekey, "rotate", "--device", "LAPTOP-ALPHA", "--reason",
                  "INC-9"], env(**graph.app_env()))
        asked = t.expect(prompt)
        s.check(f"rotate: asks on the terminal ({what})", asked, t.text())
        if asked:
            t.send(answer + b"\n")
        st = t.wait()
        s.check(f"rotate declined with {what}: exit 1", st == 1,
                f"exit {st}: {t.text()}")
        s.check(f"rotate declined with {what}: says nothing was rotated",
                "not confirmed; nothing rotated" in t.text(), t.text())
        s.check(f"rotate declined with {what}: no rotation POST reached "
                "the emulator", graph.rotations() == 0,
                graph.hook("rotations"))
        t.close()
    # the same answered 'y' does rotate: the check above can see a POST
    t = Term([bdekey, "rotate", "--device", "LAPTOP-ALPHA", "--reason",
              "INC-9"], env(**graph.app_env()))
    if t.expect(prompt):
        t.send(b"y\n")
    st = t.wait()
    s.check("rotate confirmed with 'y': exit 0 and one rotation",
            st == 0 and graph.rotations() == 1, f"exit {st}: {t.text()}")
    t.close()


def read_out(s, graph, bdekey, env):
    e = graph.env
    pw = e["GRAPH_FX_KEY_OBRIEN_OS_PASSWORD"]
    blocks = pw.split("-")
    argv = [bdekey, "lookup", "--source", "graph", "--device", "O'Brien-PC",
            "--read-out", "--reason", "INC-7"]
    wait = rb"\[Enter: block (\d), q: stop\] "

    # Enter between blocks: all eight, in order, grouped for speaking
    home_env = env(**graph.app_env())
    t = Term(argv, home_env)
    for i in range(2, 9):
        m = t.expect(rb"\[Enter: block %d, q: stop\] " % i)
        if not m:
            break
        t.send(b"\n")
    st = t.wait()
    said = t.text()
    shown = re.findall(r"block (\d) of 8:\s+(\d{3}) (\d{3})", said)
    s.check("read-out: Enter between blocks reads all eight, in order",
            st == 0 and shown == [(str(i + 1), b[:3], b[3:])
                                  for i, b in enumerate(blocks)],
            f"exit {st}: {said}")
    t.close()

    # 'q' after the first block: nothing more is said
    audit = os.path.join(home_env["HOME"], "q-audit.jsonl")
    t = Term(argv, dict(env(**graph.app_env()), BDEKEY_AUDIT_LOG=audit))
    m = t.expect(wait)
    s.check("read-out: waits for Enter after block 1",
            m and m.group(1) == b"2", t.text())
    if m:
        t.send(b"q\n")
    st = t.wait()
    said = t.text()
    s.check("read-out: 'q' stops it (exit 0)", st == 0, f"exit {st}: {said}")
    s.check("read-out: 'q' says where it stopped",
            "stopped after block 1" in said, said)
    s.check("read-out: after 'q' no later block is said",
            "block 2 of 8" not in said and
            all(b[:3] + " " + b[3:] not in said for b in blocks[1:]), said)
    try:
        recs = [json.loads(l) for l in open(audit)]
    except (OSError, ValueError):
        recs = []
    s.check("read-out: one read-out record in the audit log",
            [r.get("action") for r in recs] == ["read-out"], recs)


def full_stdout(s, graph, bdekey, env):
    for args in (["--show"], ["--show", "--json"], ["--read-out"]):
        with open("/dev/full", "wb") as full:
            st, _, err = run([bdekey, "lookup", "--source", "graph",
                              "--device", "O'Brien-PC"] + args,
                             env(**graph.app_env()), stdout=full)
        what = "lookup " + " ".join(args) + " >/dev/full"
        s.check(f"{what}: exit 4", st == 4, f"exit {st}: {err}")
        s.check(f"{what}: says standard output failed",
                "cannot write to standard output" in err, err)


def precedence(s, graph, ldap, bdekey, env, ldap_env):
    graph.reset()
    both = dict(graph.app_env(), **ldap_env)
    pwfile = os.path.join(env()["HOME"], "wrong.pass")
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not-the-password\n")
    os.close(fd)
    ad = ["--ldap-uri", ldap.uri, "--mech", "SIMPLE", "--bind-dn", BIND_DN,
          "--password-file", pwfile, "--timeout", "10"]

    # AD refuses the bind (3); Entra ID finds a key that fails its
    # checksum (5): a found key's status wins
    st, out, err = run([bdekey, "lookup", "--device", "BADSUM-PC", "--show"]
                       + ad, env(**both))
    s.check("precedence: bad checksum found (5) beats AD auth failure (3)",
            st == 5, f"exit {st}: {err}")
    s.check("precedence: the auth failure is still reported",
            "bdekey: ad: " in err and "invalid credentials" in err, err)
    s.check("precedence: the bad key is flagged", "INVALID" in out, out)

    # AD refuses the bind (3); Entra ID cannot be reached (4): 3
    port = free_port()
    gone = dict(both, BDEKEY_GRAPH="https://127.0.0.1:%d/graph" % port,
                BDEKEY_AUTHORITY="https://127.0.0.1:%d/auth" % port)
    st, out, err = run([bdekey, "lookup", "--device", "PC-1"] + ad,
                       env(**gone))
    s.check("precedence: AD auth failure (3) beats Entra ID unreachable (4)",
            st == 3, f"exit {st}: {err}")
    s.check("precedence: both failures are reported",
            "bdekey: ad: " in err and "bdekey: graph: " in err, err)


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
