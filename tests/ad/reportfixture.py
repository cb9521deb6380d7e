#!/usr/bin/python3
"""LDIF for tests/ad/test-report.sh: computers and recovery objects of
`bdekey report` under an OU of the suite's own, added over LDAPS as
Administrator (and deleted again) on the fixture DC.

  reportfixture.py base OU        the OU and its computers, first keys
  reportfixture.py rot OU         RPT-ROT's last key (added a second later,
                                  so its whenCreated is the newest)
  reportfixture.py extra OU N     N more computers, RPT-X001..., one key each
  reportfixture.py bad OU         another OU: a recovery object whose
                                  msFVE-VolumeGuid is 15 bytes, beside a
                                  good one
  reportfixture.py nokeys OU      another OU: two computers, no key
  reportfixture.py env OU BADOU   the expected values, as shell variables

Key IDs are uuid5 of the OU and the computer, so a run is repeatable and no
prefix the other suites look up is taken (their keys are fixed).  Every
recovery object has a valid password (the schema makes it mandatory): the
report must never ask for it.
"""
import base64
import os
import shlex
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture as F  # noqa: E402

VOL_ONE = "0E0E0E0E-1111-4111-8111-0000000000E1"
VOL_A = "0A0A0A0A-2222-4222-8222-0000000000A1"
VOL_B = "0B0B0B0B-3333-4333-8333-0000000000B2"
VOL_OLD = "0C0C0C0C-4444-4444-8444-0000000000C3"
VOL_RECENT = "0D0D0D0D-5555-4555-8555-0000000000D4"
# 2020-01-01T00:00:00Z as a FILETIME (100 ns since 1601)
OLD_LOGON = 132223104000000000
WEIRD = "RPT Lab (2), x+y"

# name -> (sAMAccountName, operatingSystem, lastLogonTimestamp or None,
#          volumes of its first keys (None: no msFVE-VolumeGuid))
COMPUTERS = [
    ("RPT-NOKEY", "RPT-NOKEY$", "Windows 11 Pro", None, []),
    ("RPT-ONE", "RPT-ONE$", "Windows 11 Enterprise", None, [VOL_ONE]),
    # a rotation history on two volumes; its fourth key comes with "rot"
    ("RPT-ROT", "RPT-ROT$", "Windows 11 Enterprise", None,
     [VOL_A, VOL_B, VOL_A]),
    ("RPT-OLD", "RPT-OLD$", "Windows 10 Pro", OLD_LOGON, [VOL_OLD]),
    (WEIRD, "RPTLAB2$", "Windows 11 Enterprise", None, [None]),
    ("RPT-RECENT", "RPT-RECENT$", "Windows 11 Enterprise", "recent",
     [VOL_RECENT]),
]


def b64(b):
    return base64.b64encode(b).decode()


def filetime(unix):
    return (unix + 11644473600) * 10000000


def recent_logon():
    """A day ago, whole seconds, as (FILETIME, unix seconds) -- fixed per
    run through REPORT_RECENT so that base and env agree."""
    t = int(os.environ["REPORT_RECENT"])
    return filetime(t), t


def key_guid(ou, name, i):
    g = uuid.uuid5(uuid.NAMESPACE_URL, "bdekey-report:%s:%s:%d" % (ou, name, i))
    return str(g).upper()


def key_entry(ou, cn, i, vol, when="2024-06-01T12:00:00Z", volbytes=None):
    guid = key_guid(ou, cn, i)
    lines = ["dn: " + F.dn(F.key_rdn(when, guid), F.dn(cn, ou)),
             "objectClass: msFVE-RecoveryInformation",
             "msFVE-RecoveryGuid:: " + b64(F.guid_le(guid)),
             "msFVE-RecoveryPassword: " + F.recovery_password(guid)]
    if volbytes is not None:
        lines.append("msFVE-VolumeGuid:: " + b64(volbytes))
    elif vol is not None:
        lines.append("msFVE-VolumeGuid:: " + b64(F.guid_le(vol)))
    return lines + [""]


def computer_entry(ou, cn, sam, os_name, logon):
    lines = ["dn: " + F.dn(cn, ou), "objectClass: computer",
             "sAMAccountName: " + sam, "userAccountControl: 4096",
             "dNSHostName: %s.%s" % (sam.rstrip("$").lower(), F.DNS_DOMAIN),
             "operatingSystem: " + os_name]
    if logon == "recent":
        logon = recent_logon()[0]
    if logon is not None:
        lines.append("lastLogonTimestamp: %d" % logon)
    return lines + [""]


def ou_entry(ou):
    return ["dn: " + ou, "objectClass: organizationalUnit", ""]


def base(ou):
    out = ou_entry(ou)
    for cn, sam, os_name, logon, vols in COMPUTERS:
        out += computer_entry(ou, cn, sam, os_name, logon)
        for i, vol in enumerate(vols):
            out += key_entry(ou, cn, i, vol)
    return out


def rot(ou):
    return key_entry(ou, "RPT-ROT", 3, VOL_A)


def extra(ou, n):
    out = []
    for i in range(1, n + 1):
        cn = "RPT-X%03d" % i
        out += computer_entry(ou, cn, cn + "$", "Windows 11 Enterprise", None)
        out += key_entry(ou, cn, 0, "0F%06d-6666-4666-8666-%012d" % (i, i))
    return out


def bad(ou):
    out = ou_entry(ou)
    out += computer_entry(ou, "RPT-BADVOL", "RPT-BADVOL$", "Windows 11 Pro", None)
    out += key_entry(ou, "RPT-BADVOL", 0, None, volbytes=b"\x0b" * 15)
    out += key_entry(ou, "RPT-BADVOL", 1, VOL_ONE)
    out += computer_entry(ou, "RPT-FINE", "RPT-FINE$", "Windows 11 Pro", None)
    out += key_entry(ou, "RPT-FINE", 0, VOL_A)
    return out


def nokeys(ou):
    """An OU whose two computers never escrowed a key: what an account
    that may not list recovery objects sees everywhere."""
    out = ou_entry(ou)
    out += computer_entry(ou, "RPT-NK1", "RPT-NK1$", "Windows 11 Pro", None)
    out += computer_entry(ou, "RPT-NK2", "RPT-NK2$", "Windows 10 Pro", None)
    return out


def env(ou, badou):
    v = [("RPT_VOL_ONE", VOL_ONE), ("RPT_VOL_A", VOL_A), ("RPT_VOL_B", VOL_B),
         ("RPT_VOL_OLD", VOL_OLD), ("RPT_VOL_RECENT", VOL_RECENT),
         ("RPT_WEIRD", WEIRD), ("RPT_WEIRD_DN", F.dn(WEIRD, ou)),
         ("RPT_RECENT_UNIX", str(recent_logon()[1])),
         ("RPT_BADKEY_DN", F.dn(F.key_rdn("2024-06-01T12:00:00Z",
                                         key_guid(badou, "RPT-BADVOL", 0)),
                                F.dn("RPT-BADVOL", badou)))]
    return "".join("%s=%s\n" % (k, shlex.quote(x)) for k, x in v)


def main():
    cmd, ou = sys.argv[1], sys.argv[2]
    if cmd == "base":
        out = base(ou)
    elif cmd == "rot":
        out = rot(ou)
    elif cmd == "extra":
        out = extra(ou, int(sys.argv[3]))
    elif cmd == "bad":
        out = bad(ou)
    elif cmd == "nokeys":
        out = nokeys(ou)
    elif cmd == "env":
        sys.stdout.write(env(ou, sys.argv[3]))
        return
    else:
        sys.exit("reportfixture.py: unknown command " + cmd)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
