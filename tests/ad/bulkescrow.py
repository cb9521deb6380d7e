#!/usr/bin/python3
"""Add computers with a realistic spread of recovery objects to the test
DC, for bench/report-ad.sh (bdekey report at scale).

  bulkescrow.py --conf DIR/etc/smb.conf --dir DIR -n N

The DC must be STOPPED: like bulk.py this writes to sam.ldb through the
full DSDB module stack in ldb batch mode, committing every 5,000
computers.  Computers are CN=ESC-NNNNNN,OU=Escrow,DC=bdekey,DC=test
(numbering continues after earlier runs).  Computer i has
KEYS[i % 10] recovery objects (0 to 4, 2.5 on average: one in ten has
none), on volume A, rotations on A, and every third computer's second
key on a volume B; operatingSystem, dNSHostName and a lastLogonTimestamp
(every seventh never logged on) are set.  Prints "computers keys" added
and the totals (DIR/escrow.count holds them).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture as F  # noqa: E402
from bulk import dc_running  # noqa: E402
from populate import computer_msg, key_msg, open_samdb  # noqa: E402

OU = "OU=Escrow," + F.BASE
KEYS = [0, 1, 2, 3, 4, 2, 3, 2, 4, 4]
BATCH = 5000
# 2024-06-01T00:00:00Z as a FILETIME, minus a minute a computer
LOGON = (1717200000 + 11644473600) * 10000000


def key_guid(i, k):
    return "{E%07d-%04d-4000-8000-%012d}" % (i, k, i)


def vol_guid(i, which):
    return "{%s%07d-0000-4000-8000-%012d}" % ("A" if which == 0 else "B", i, i)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("-n", type=int, default=10000)
    a = ap.parse_args()
    if dc_running(a.dir):
        sys.exit("bulkescrow.py: the DC is running; stop it first")
    t0 = time.time()
    samdb = open_samdb(a.conf, options=["batch_mode:1",
                                        "transaction_index_cache_size:202481"])
    countfile = os.path.join(a.dir, "escrow.count")
    first, total_keys = 1, 0
    if os.path.exists(countfile):
        done, total_keys = (int(x) for x in open(countfile).read().split())
        first = done + 1
    else:
        samdb.add({"dn": OU, "objectClass": "organizationalUnit"})
    last = first + a.n - 1
    if last > 9999999:
        sys.exit("bulkescrow.py: at most 9,999,999 computers")
    keys = 0
    i = first
    while i <= last:
        samdb.transaction_start()
        try:
            for i in range(i, min(i + BATCH, last + 1)):
                name = "ESC-%06d" % i
                msg = computer_msg(samdb, name, OU, name + "$",
                                   "%s.%s" % (name.lower(), F.DNS_DOMAIN))
                if i % 7:
                    msg["lastLogonTimestamp"] = str(LOGON - i * 600000000)
                samdb.add(msg)
                for k in range(KEYS[i % 10]):
                    g = key_guid(i, k)
                    v = vol_guid(i, 1 if k == 1 and i % 3 == 0 else 0)
                    m = key_msg(samdb, msg["dn"], F.key_rdn(F.BULK_TIME, g),
                                g, v, F.recovery_password(g))
                    samdb.add(m)
                    keys += 1
            samdb.transaction_commit()
        except BaseException:
            samdb.transaction_cancel()
            raise
        i += 1
        print("bulkescrow.py: %d/%d computers, %d keys (%.0f s)"
              % (i - first, a.n, keys, time.time() - t0), file=sys.stderr)
        with open(countfile, "w") as f:
            f.write("%d %d\n" % (i - 1, total_keys + keys))
    print("%d %d" % (last, total_keys + keys))


if __name__ == "__main__":
    main()
