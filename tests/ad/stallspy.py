#!/usr/bin/python3
"""tests/ad/ldapspy.py that goes silent at the Nth search request (the
RootDSE read not counted) instead of the first: a server that fails
part-way through a walk, for tests/ad/test-report.sh.

  stallspy.py --stall-at N ARGS...    ARGS: ldapspy.py's (--stall-search
                                      is implied)
  stallspy.py --delay-at N S ARGS...  the Nth search is forwarded S
                                      seconds late (a server slow to send
                                      its first page), none stalls

Requests before the Nth search are forwarded and logged as op
"search-passed"; the Nth is logged as "search" and never forwarded, and
the connection stays open, answering nothing.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ldapspy  # noqa: E402


def main():
    args = sys.argv[1:]
    if len(args) >= 3 and args[0] == "--delay-at":
        delay_at, delay = int(args[1]), float(args[2])
        seen = [0]
        parse = ldapspy.parse_request

        def delaying(msg):
            rec = parse(msg)
            if rec["op"] == "search" and rec["base"] != "":
                seen[0] += 1
                if seen[0] == delay_at:
                    time.sleep(delay)
            return rec

        ldapspy.parse_request = delaying
        sys.argv = [sys.argv[0]] + args[3:]
        ldapspy.main()
        return
    if len(args) < 2 or args[0] != "--stall-at":
        sys.exit("usage: stallspy.py --stall-at N | --delay-at N S "
                 "ldapspy-args...")
    stall_at = int(args[1])
    seen = [0]
    parse = ldapspy.parse_request

    def counting(msg):
        rec = parse(msg)
        if rec["op"] == "search":
            if rec["base"] != "":
                seen[0] += 1
            if rec["base"] == "" or seen[0] < stall_at:
                rec["op"] = "search-passed"
        return rec

    ldapspy.parse_request = counting
    sys.argv = [sys.argv[0]] + args[2:] + ["--stall-search"]
    ldapspy.main()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
