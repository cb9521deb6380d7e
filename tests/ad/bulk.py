#!/usr/bin/python3
"""Add N computers, each with one BitLocker recovery object, to the test DC.

  bulk.py --conf DIR/etc/smb.conf --dir DIR [-n 10000]

The DC must be STOPPED (dc.sh bulk does stop / bulk.py / start): this writes
directly to sam.ldb in ONE transaction with ldb batch mode, which is orders of
magnitude faster than LDAP adds.  Computers are CN=BULK-NNNNNN,OU=Bulk,DC=bdekey,DC=test
(NNNNNN continues after any earlier bulk run); key i is
{B0NNNNNN-0000-4000-8000-000000NNNNNN}.  Writes DIR/bulk.env (AD_BULK_* variables,
the middle key of all bulk keys) and prints it.
"""
import argparse
import os
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture as F  # noqa: E402
from populate import computer_msg, key_msg, open_samdb  # noqa: E402


def dc_running(dirpath):
    """True if a live (non-zombie) process is in the process group in DIR/run/samba.pgid."""
    try:
        pgid = open(os.path.join(dirpath, "run", "samba.pgid")).read().strip()
    except OSError:
        return False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == pgid and fields[0] != "Z":
            return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("-n", type=int, default=10000)
    a = ap.parse_args()
    if dc_running(a.dir):
        sys.exit("bulk.py: the DC is running; stop it first (dc.sh bulk does)")
    if a.n < 0 or a.n > 999999:
        sys.exit("bulk.py: -n must be 0..999999")

    import ldb
    t0 = time.time()
    # batch mode + a large transaction index cache (what provision uses): ~40% faster
    samdb = open_samdb(a.conf, options=["batch_mode:1", "transaction_index_cache_size:202481"])
    samdb.transaction_start()
    try:
        if not samdb.search(base=F.BASE, scope=ldb.SCOPE_ONELEVEL,
                            expression="(ou=Bulk)", attrs=["ou"]):
            samdb.add({"dn": F.OU_BULK, "objectClass": "organizationalUnit",
                       "description": "bdekey benchmark computers"})
            first = 1
        else:
            have = samdb.search(base=F.OU_BULK, scope=ldb.SCOPE_ONELEVEL,
                                expression="(objectClass=computer)", attrs=["cn"])
            first = 1 + max([int(str(m["cn"][0])[5:]) for m in have] or [0])
        last = first + a.n - 1
        if last > 999999:
            raise SystemExit("bulk.py: at most 999999 bulk computers in total")
        for i in range(first, last + 1):
            name = F.bulk_name(i)
            msg = computer_msg(samdb, name, F.OU_BULK, name + "$",
                               "%s.%s" % (name.lower(), F.DNS_DOMAIN))
            samdb.add(msg)
            guid = F.bulk_key_guid(i)
            samdb.add(key_msg(samdb, msg["dn"], F.key_rdn(F.BULK_TIME, guid), guid,
                              F.BULK_VOLUME_FMT % (i, i), F.recovery_password(guid)))
            if i % 2000 == 0:
                print("bulk.py: %d/%d (%.1f s)" % (i - first + 1, a.n, time.time() - t0),
                      file=sys.stderr)
        t1 = time.time()
        samdb.transaction_commit()
    except BaseException:
        samdb.transaction_cancel()
        raise
    t2 = time.time()
    print("bulk.py: added %d computers + %d recovery objects in %.1f s (commit %.1f s)"
          % (a.n, a.n, t2 - t0, t2 - t1), file=sys.stderr)

    total = last
    if total < 1:
        return
    mid = (total + 1) // 2
    guid = F.bulk_key_guid(mid)
    name = F.bulk_name(mid)
    env = [
        ("AD_BULK_COUNT", str(total)),
        ("AD_BULK_OU", F.OU_BULK),
        ("AD_BULK_CN", name),
        ("AD_BULK_SAM", name + "$"),
        ("AD_BULK_DN", "CN=%s,%s" % (name, F.OU_BULK)),
        ("AD_BULK_KEY", guid),
        ("AD_BULK_PW", F.recovery_password(guid)),
        ("AD_BULK_KEY_FIRST", F.bulk_key_guid(1)),
        ("AD_BULK_KEY_LAST", F.bulk_key_guid(total)),
    ]
    text = "".join("export %s=%s\n" % (k, shlex.quote(v)) for k, v in env)
    with open(os.path.join(a.dir, "bulk.env"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
