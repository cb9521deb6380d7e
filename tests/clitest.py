#!/usr/bin/env python3
"""clitest.py - run declarative CLI cases (curl's tests/data habit).

A case file holds cases like:

    === name of the case
    args: check --json -          (shlex-split; ${VAR} from the environment)
    env: NAME=value               (any number)
    file: NAME MODE               (a file ${CASEDIR}/NAME with octal MODE,
    | its content, line by line    ${VAR} expanded)
    stdin:
    | a line of standard input
    exit: 1
    stdout:
    | the exact standard output, line by line
    stdout-line: a whole line of standard output
    stdout-has: a substring of standard output
    stdout-lacks: a substring that must not appear
    stderr:
    | the exact standard error, line by line
    stderr-has: a substring of standard error
    stderr-lacks: a substring that must not appear on standard error
    stderr-lines: 1               (standard error has exactly this many lines)

Every case runs in a clean environment (clean_env): no BDEKEY_*, LDAP* or
KRB5* variables from the caller, and a private, empty HOME = ${CASEDIR}
with the XDG directories inside it, so a developer's ~/.ldaprc, config
file or token cache cannot change a result.  The working directory is the
caller's (cases name files as tests/cli/data/...).

Usage: clitest.py BINARY FILE...   Prints 'cli: N passed, M failed'.
       clitest.py --env HOME       Prints the clean environment for HOME,
                                   one NAME=value a line (for `env -i`).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

# What a test run may inherit: the tools' path and the sanitizers' settings.
PASS_THROUGH = ("PATH", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS")


def clean_env(home):
    """The environment for a command under test, with HOME at home.

    The directories are created.  Nothing else of the caller's leaks in:
    not BDEKEY_*, LDAP* (libldap's own settings), KRB5*, XDG_* nor HOME.
    """
    env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update({
        "HOME": home,
        "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
        "XDG_RUNTIME_DIR": os.path.join(home, ".run"),
        # no Kerberos ticket of the developer's (/tmp/krb5cc_UID)
        "KRB5CCNAME": "FILE:" + os.path.join(home, ".krb5cc"),
    })
    os.makedirs(home, mode=0o700, exist_ok=True)
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    return env


def expand(s, extra=None):
    def var(m):
        if extra and m.group(1) in extra:
            return extra[m.group(1)]
        return os.environ.get(m.group(1), "")
    return re.sub(r"\$\{(\w+)\}", var, s)


def parse(path):
    cases, cur, block = [], None, None
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("=== "):
                cur = {"name": line[4:], "where": f"{path}:{n}", "env": {},
                       "args": [], "files": [], "has": [], "lines": [],
                       "lacks": [], "errhas": [], "errlacks": []}
                cases.append(cur)
                block = None
                continue
            if cur is None or line.startswith("#") or not line.strip():
                continue
            if line.startswith("|"):
                if block is None:
                    raise SystemExit(f"{path}:{n}: '|' outside a block")
                block.append(line[2:] if line.startswith("| ") else line[1:])
                continue
            key, _, val = line.partition(":")
            val = val.strip()
            block = None
            if key in ("stdin", "stdout", "stderr"):
                cur[key] = block = []
            elif key == "file":
                name, _, mode = val.partition(" ")
                if not name or "/" in name or not re.fullmatch(r"[0-7]{3,4}",
                                                              mode.strip()):
                    raise SystemExit(f"{path}:{n}: want 'file: NAME MODE'")
                block = []
                cur["files"].append((name, int(mode, 8), block))
            elif key == "args":
                cur["args"] = shlex.split(val)
            elif key == "env":
                k, _, v = val.partition("=")
                cur["env"][k] = v
            elif key == "exit":
                cur["exit"] = int(val)
            elif key == "stdout-has":
                cur["has"].append(val)
            elif key == "stdout-line":
                cur["lines"].append(val)
            elif key == "stdout-lacks":
                cur["lacks"].append(val)
            elif key == "stderr-has":
                cur["errhas"].append(val)
            elif key == "stderr-lacks":
                cur["errlacks"].append(val)
            elif key == "stderr-lines":
                cur["errlines"] = int(val)
            else:
                raise SystemExit(f"{path}:{n}: unknown key '{key}'")
    return cases


def run(binary, case, casedir):
    extra = {"CASEDIR": casedir}
    x = lambda s: expand(s, extra)
    env = clean_env(casedir)
    env.update({k: x(v) for k, v in case["env"].items()})
    for name, mode, lines in case["files"]:
        p = os.path.join(casedir, name)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(x(l) + "\n" for l in lines))
        os.chmod(p, mode)
    stdin = "".join(l + "\n" for l in case["stdin"]) if "stdin" in case else ""
    try:
        p = subprocess.run([binary] + [x(a) for a in case["args"]],
                           input=stdin.encode(), capture_output=True, env=env,
                           timeout=60)
    except subprocess.TimeoutExpired:
        return ["no exit within 60 s"]
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    problems = []
    if "exit" in case and p.returncode != case["exit"]:
        problems.append(f"exit {p.returncode}, want {case['exit']}")
    for stream, text in (("stdout", out), ("stderr", err)):
        if stream in case:
            want = "".join(x(l) + "\n" for l in case[stream])
            if text != want:
                problems.append(f"{stream}:\n{text}--- want:\n{want}---")
    for s in map(x, case["lines"]):
        if s not in out.splitlines():
            problems.append(f"stdout lacks the line {s!r}:\n{out}")
    for s in map(x, case["has"]):
        if s not in out:
            problems.append(f"stdout lacks {s!r}:\n{out}")
    for s in map(x, case["lacks"]):
        if s in out:
            problems.append(f"stdout has {s!r}")
    for s in map(x, case["errhas"]):
        if s not in err:
            problems.append(f"stderr lacks {s!r}: {err!r}")
    for s in map(x, case["errlacks"]):
        if s in err:
            problems.append(f"stderr has {s!r}")
    if "errlines" in case and len(err.splitlines()) != case["errlines"]:
        problems.append(f"stderr has {len(err.splitlines())} lines, want "
                        f"{case['errlines']}: {err!r}")
    return problems


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--env":
        for k, v in sorted(clean_env(sys.argv[2]).items()):
            print(f"{k}={v}")
        return 0
    if len(sys.argv) < 3:
        print(__doc__.split("\n\n")[-1], file=sys.stderr)
        return 2
    binary, files = os.path.abspath(sys.argv[1]), sys.argv[2:]
    passed = failed = 0
    top = tempfile.mkdtemp(prefix="bdekey-cli.")
    try:
        for path in files:
            for i, case in enumerate(parse(path)):
                casedir = os.path.join(top, f"{os.path.basename(path)}.{i}")
                problems = run(binary, case, casedir)
                if problems:
                    failed += 1
                    print(f"FAIL {case['where']}: {case['name']}")
                    for pr in problems:
                        print("    " + pr.replace("\n", "\n    "))
                else:
                    passed += 1
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print(f"cli: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
