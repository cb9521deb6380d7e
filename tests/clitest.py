#!/usr/bin/env python3
"""clitest.py - run declarative CLI cases (curl's tests/data habit).

A case file holds cases like:

    === name of the case
    args: check --json -          (shlex-split; ${VAR} from the environment)
    env: NAME=value               (any number)
    stdin:
    | a line of standard input
    exit: 1
    stdout:
    | the exact standard output, line by line
    stdout-has: a substring of standard output
    stdout-lacks: a substring that must not appear
    stderr-has: a substring of standard error
    stderr-lines: 1               (standard error has exactly this many lines)

Usage: clitest.py BINARY FILE...   Prints 'cli: N passed, M failed'.
"""
import os
import re
import shlex
import subprocess
import sys


def expand(s):
    return re.sub(r"\$\{(\w+)\}", lambda m: os.environ.get(m.group(1), ""), s)


def parse(path):
    cases, cur, block = [], None, None
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("=== "):
                cur = {"name": line[4:], "where": f"{path}:{n}", "env": {},
                       "has": [], "lacks": [], "errhas": []}
                cases.append(cur)
                block = None
                continue
            if cur is None or line.startswith("#") or not line.strip():
                continue
            if line.startswith("|"):
                if block is None:
                    raise SystemExit(f"{path}:{n}: '|' outside a block")
                cur[block].append(line[2:] if line.startswith("| ") else line[1:])
                continue
            key, _, val = line.partition(":")
            val = val.strip()
            block = None
            if key in ("stdin", "stdout"):
                cur[key] = []
                block = key
            elif key == "args":
                cur["args"] = [expand(a) for a in shlex.split(val)]
            elif key == "env":
                k, _, v = val.partition("=")
                cur["env"][k] = expand(v)
            elif key == "exit":
                cur["exit"] = int(val)
            elif key == "stdout-has":
                cur["has"].append(expand(val))
            elif key == "stdout-lacks":
                cur["lacks"].append(expand(val))
            elif key == "stderr-has":
                cur["errhas"].append(expand(val))
            elif key == "stderr-lines":
                cur["errlines"] = int(val)
            else:
                raise SystemExit(f"{path}:{n}: unknown key '{key}'")
    return cases


def run(binary, case):
    env = dict(os.environ)
    env.update(case["env"])
    stdin = "".join(l + "\n" for l in case["stdin"]) if "stdin" in case else ""
    p = subprocess.run([binary] + case["args"], input=stdin.encode(),
                       capture_output=True, env=env, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    problems = []
    if "exit" in case and p.returncode != case["exit"]:
        problems.append(f"exit {p.returncode}, want {case['exit']}")
    if "stdout" in case:
        want = "".join(l + "\n" for l in case["stdout"])
        if out != want:
            problems.append(f"stdout:\n{out}--- want:\n{want}---")
    for s in case["has"]:
        if s not in out:
            problems.append(f"stdout lacks {s!r}:\n{out}")
    for s in case["lacks"]:
        if s in out:
            problems.append(f"stdout has {s!r}")
    for s in case["errhas"]:
        if s not in err:
            problems.append(f"stderr lacks {s!r}: {err!r}")
    if "errlines" in case and len(err.splitlines()) != case["errlines"]:
        problems.append(f"stderr has {len(err.splitlines())} lines, want "
                        f"{case['errlines']}: {err!r}")
    return problems


def main():
    binary, files = sys.argv[1], sys.argv[2:]
    passed = failed = 0
    for path in files:
        for case in parse(path):
            problems = run(binary, case)
            if problems:
                failed += 1
                print(f"FAIL {case['where']}: {case['name']}")
                for pr in problems:
                    print("    " + pr.replace("\n", "\n    "))
            else:
                passed += 1
    print(f"cli: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
