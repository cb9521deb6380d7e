#!/usr/bin/python3
"""Check a running bdekey test DC against the fixture, using only ldapsearch/kinit.

  selftest.py DIR        (after `dc.sh start DIR`; exit status 0 = all checks passed)

Every external command runs under a timeout.  Needs no samba bindings.
"""
import base64
import os
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture as F  # noqa: E402

FAILS = []
PASSES = []


def check(cond, what):
    print("%s  %s" % ("ok  " if cond else "FAIL", what))
    (PASSES if cond else FAILS).append(what)


def load_env(d):
    out = subprocess.run(["bash", "-c", 'eval "$("$0" env "$1")" && env -0',
                          os.path.join(HERE, "dc.sh"), d],
                         stdout=subprocess.PIPE, check=True, timeout=60).stdout
    env = dict(kv.split("=", 1) for kv in out.decode().split("\0") if "=" in kv)
    return env


def run(env, args, stdin=None, timeout=60):
    p = subprocess.run(args, env=env, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def parse_ldif(text):
    """-> list of dicts attr(lower) -> list of values (str, or bytes for ::)."""
    entries, cur = [], None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            if cur:
                entries.append(cur)
                cur = None
            continue
        if line.startswith(" ") and cur is not None:     # should not happen (ldif-wrap=no)
            continue
        name, rest = line.split(":", 1)
        if rest.startswith(":"):
            val = base64.b64decode(rest[1:].strip())
            if name.lower() not in ("msfve-recoveryguid", "msfve-volumeguid",
                                    "msfve-keypackage", "objectguid"):
                val = val.decode("utf-8")
        else:
            val = rest[1:] if rest.startswith(" ") else rest
        if cur is None:
            cur = {}
        cur.setdefault(name.lower(), []).append(val)
    if cur:
        entries.append(cur)
    return entries


def search(env, bind, base, scope, filt, attrs, extra=()):
    args = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=5", "-l", "30"]
    if bind == "gssapi":
        args += ["-Y", "GSSAPI", "-Q", "-H", env["AD_URI_LDAP"]]
    else:
        args += ["-x", "-H", env["AD_URI_LDAPS"], "-D", env["AD_%s_UPN" % bind],
                 "-y", env["AD_%s_PASS_FILE" % bind]]
    args += list(extra) + ["-b", base, "-s", scope, filt] + list(attrs)
    rc, out, err = run(env, args)
    return rc, parse_ldif(out), out, err


def keys_sorted(entries):
    return sorted(entries, key=lambda e: (e["whencreated"][0], int(e["usncreated"][0])))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    env = dict(os.environ)
    env.update(load_env(sys.argv[1]))
    E = env
    FVE = "(objectClass=msFVE-RecoveryInformation)"
    KATTRS = ["msFVE-RecoveryPassword", "msFVE-RecoveryGuid", "msFVE-VolumeGuid",
              "msFVE-KeyPackage", "whenCreated", "uSNCreated"]

    # --- transport / binding rules
    rc, out, err = run(E, ["ldapsearch", "-LLL", "-x", "-o", "nettimeout=5", "-l", "10",
                           "-H", E["AD_URI_LDAPS"], "-b", "", "-s", "base", "defaultNamingContext"])
    check(rc == 0 and ("defaultNamingContext: " + F.BASE) in out, "anonymous rootDSE over LDAPS (CA verified)")
    e2 = dict(E)
    e2.pop("LDAPTLS_CACERT")
    rc, out, err = run(e2, ["ldapsearch", "-LLL", "-x", "-o", "nettimeout=5", "-l", "10",
                            "-H", E["AD_URI_LDAPS"], "-b", "", "-s", "base", "defaultNamingContext"])
    check(rc != 0, "LDAPS without the test CA is rejected (rc=%d)" % rc)
    for host in (["localhost", E["AD_HOSTNAME"]] if E["AD_IP"] == "127.0.0.1" else []):
        rc, out, err = run(E, ["ldapsearch", "-LLL", "-x", "-o", "nettimeout=5", "-l", "10",
                               "-H", "ldaps://%s" % host, "-b", "", "-s", "base", "defaultNamingContext"])
        check(rc == 0, "LDAPS to %s verifies (SAN)" % host)
    rc, out, err = run(E, ["ldapsearch", "-LLL", "-x", "-o", "nettimeout=5", "-l", "10",
                           "-H", E["AD_URI_LDAP"], "-D", E["AD_HELPDESK_UPN"],
                           "-y", E["AD_HELPDESK_PASS_FILE"], "-b", E["AD_ALPHA_DN"], "-s", "base", "dn"])
    check(rc == 8 and "Transport encryption required" in err,
          "cleartext simple bind refused (rc=%d)" % rc)
    rc, out, err = run(E, ["ldapsearch", "-LLL", "-ZZ", "-x", "-o", "nettimeout=5", "-l", "10",
                           "-H", E["AD_URI_LDAP"], "-D", E["AD_HELPDESK_UPN"],
                           "-y", E["AD_HELPDESK_PASS_FILE"], "-b", E["AD_ALPHA_DN"], "-s", "base", "dn"])
    check(rc == 0, "StartTLS simple bind works")

    # --- PC-ALPHA as helpdesk: 3 keys, creation order OLD, B, NEW
    rc, ents, out, err = search(E, "HELPDESK", E["AD_ALPHA_DN"], "one", FVE, KATTRS)
    ks = keys_sorted(ents)
    check(rc == 0 and len(ks) == 3, "helpdesk sees 3 keys on PC-ALPHA")
    want = [("OLD", E["AD_ALPHA_KEY_OLD"]), ("B", E["AD_ALPHA_KEY_B"]), ("NEW", E["AD_ALPHA_KEY_NEW"])]
    for e, (tag, guid) in zip(ks, want):
        g = "{%s}" % str(uuid.UUID(bytes_le=e["msfve-recoveryguid"][0])).upper()
        check(g == guid, "ALPHA key %s: mixed-endian msFVE-RecoveryGuid decodes to %s" % (tag, g))
        check(e.get("msfve-recoverypassword") == [E["AD_ALPHA_PW_" + tag]], "ALPHA key %s password" % tag)
        v = "{%s}" % str(uuid.UUID(bytes_le=e["msfve-volumeguid"][0])).upper()
        check(v == E["AD_ALPHA_VOL_" + tag], "ALPHA key %s volume GUID" % tag)
        check(e["dn"][0] == E["AD_ALPHA_KEYDN_" + tag], "ALPHA key %s DN as exported" % tag)
        check(bool(e.get("msfve-keypackage")), "ALPHA key %s key package readable" % tag)
    check(len({e["whencreated"][0] for e in ks}) == 3, "ALPHA keys have distinct whenCreated")
    check(F.guid_le("{BF967ABA-0DE6-11D0-A285-00AA003049E2}").hex() == "ba7a96bfe60dd011a28500aa003049e2",
          "mixed-endian encoding matches Microsoft's example")

    # --- reader / noaccess
    rc, ents, out, err = search(E, "READER", E["AD_ALPHA_DN"], "one", FVE, KATTRS)
    check(rc == 0 and len(ents) == 3, "reader sees the 3 ALPHA recovery objects")
    check(all("msfve-recoverypassword" not in e and "msfve-keypackage" not in e for e in ents),
          "reader gets no password / key package")
    check(all("msfve-recoveryguid" in e for e in ents), "reader gets msFVE-RecoveryGuid")
    rc, ents, out, err = search(E, "NOACCESS", E["AD_ALPHA_DN"], "one", FVE, KATTRS)
    check(rc == 0 and len(ents) == 0, "noaccess sees no recovery objects with an objectClass filter")

    # --- GSSAPI on ldap://
    e3 = dict(E)
    rc, out, err = run(e3, ["kdestroy"])
    rc, out, err = run(e3, ["kinit", E["AD_HELPDESK_UPN"]], stdin=open(E["AD_HELPDESK_PASS_FILE"], "rb").read() + b"\n")
    check(rc == 0, "kinit helpdesk (private krb5.conf/ccache)")
    rc, ents, out, err = search(e3, "gssapi", E["AD_BETA_DN"], "one", FVE, KATTRS)
    check(rc == 0 and len(ents) == 1 and ents[0].get("msfve-recoverypassword") == [E["AD_BETA_PW"]],
          "GSSAPI over ldap://127.0.0.1 reads PC-BETA's password")
    for nocanon in ("off",):
        e4 = dict(e3, LDAPSASL_NOCANON=nocanon)
        rc, ents, out, err = search(e4, "gssapi", E["AD_BETA_DN"], "base", "(objectClass=*)", ["dn"])
        check(rc == 0 and len(ents) == 1, "GSSAPI with LDAPSASL_NOCANON=%s" % nocanon)
    rc, out, err = run(e3, ["ldapsearch", "-LLL", "-Q", "-Y", "GSSAPI", "-o", "nettimeout=5", "-l", "10",
                            "-H", E["AD_URI_LDAPS"], "-b", E["AD_BETA_DN"], "-s", "base", "dn"])
    check(rc == 53, "GSSAPI inside TLS refused by Samba (rc=%d)" % rc)
    run(e3, ["kdestroy"])

    # --- lookups by device name
    def find_computer(name):
        # RFC 4515: escape ( ) * \ NUL; other characters (UTF-8) go as they are
        esc = "".join("\\%02x" % ord(c) if c in "()*\\\0" else c for c in name)
        filt = "(&(objectCategory=computer)(|(cn=%s)(sAMAccountName=%s$)))" % (esc, esc)
        return search(E, "HELPDESK", F.BASE, "sub", filt, ["cn", "sAMAccountName"])

    rc, ents, out, err = find_computer(E["AD_WEIRD_CN"])
    check(rc == 0 and len(ents) == 1 and ents[0]["dn"][0] == E["AD_WEIRD_DN"],
          "weird cn found by RFC 4515-escaped filter, DN as exported")
    check(len(ents) == 1 and ents[0].get("cn") == [E["AD_WEIRD_CN"]], "weird cn value round-trips")
    rc, ents, out, err = find_computer("LAB1X")
    check(rc == 0 and len(ents) == 1, "weird computer found by sAMAccountName LAB1X$")
    rc, ents, out, err = search(E, "HELPDESK", E["AD_WEIRD_DN"], "one", FVE, KATTRS)
    check(rc == 0 and len(ents) == 1 and ents[0].get("msfve-recoverypassword") == [E["AD_WEIRD_PW"]],
          "one-level search under the weird DN returns its key")
    rc, ents, out, err = find_computer("PC-NOKEY")
    check(rc == 0 and len(ents) == 1, "PC-NOKEY exists")
    rc, ents, out, err = search(E, "HELPDESK", E["AD_NOKEY_DN"], "one", FVE, KATTRS)
    check(rc == 0 and len(ents) == 0, "PC-NOKEY has no recovery objects")
    rc, ents, out, err = search(E, "HELPDESK", E["AD_BADSUM_DN"], "one", FVE, KATTRS)
    check(len(ents) == 1 and ents[0].get("msfve-recoverypassword") == [E["AD_BADSUM_PW"]]
          and not F.is_valid_password(E["AD_BADSUM_PW"]), "PC-BADSUM stores the bad-block password")

    # --- by key id
    def guid_filter(guid, prefix=False):
        b = F.guid_le(guid)
        b = b[:4] if prefix else b
        return "(&%s(msFVE-RecoveryGuid=%s%s))" % (FVE, "".join("\\%02X" % x for x in b), "*" if prefix else "")
    rc, ents, out, err = search(E, "HELPDESK", F.BASE, "sub", guid_filter(E["AD_TWIN1_KEY"], True), ["dn"])
    check(rc == 0 and len(ents) == 2 and {e["dn"][0] for e in ents} == {E["AD_TWIN1_KEYDN"], E["AD_TWIN2_KEYDN"]},
          "4-byte prefix 77777777 matches both twins on two computers")
    rc, ents, out, err = search(E, "HELPDESK", F.BASE, "sub", guid_filter(E["AD_TWIN2_KEY"]), ["msFVE-RecoveryPassword"])
    check(len(ents) == 1 and ents[0].get("msfve-recoverypassword") == [E["AD_TWIN2_PW"]], "full GUID equality finds TWIN2")
    rc, ents, out, err = search(E, "HELPDESK", F.BASE, "sub", "(&%s(name=*{77777777*))" % FVE, ["dn"])
    check(len(ents) == 2, "name=*{77777777* matches both twins")

    # --- paging over PC-MANY
    rc, ents, out, err = search(E, "HELPDESK", E["AD_MANY_DN"], "one", FVE, ["msFVE-RecoveryPassword"],
                                extra=["-E", "pr=100/noprompt"])
    rc2, out2, err2 = run(E, ["ldapsearch", "-x", "-o", "nettimeout=5", "-l", "30", "-H", E["AD_URI_LDAPS"],
                              "-D", E["AD_HELPDESK_UPN"], "-y", E["AD_HELPDESK_PASS_FILE"],
                              "-E", "pr=100/noprompt", "-b", E["AD_MANY_DN"], "-s", "one", FVE, "1.1"])
    pages = sum(1 for l in out2.splitlines() if l.lstrip("# ").startswith("pagedresults:"))
    check(rc == 0 and len(ents) == int(E["AD_MANY_COUNT"]) == 1050, "paged search returns all 1050 PC-MANY keys")
    check(pages >= 11, "paged search used %d pages of 100" % pages)
    pws = {e["dn"][0]: e.get("msfve-recoverypassword", [None])[0] for e in ents}
    check(all(p and F.is_valid_password(p) for p in pws.values()), "all PC-MANY passwords valid")
    last = [p for d, p in pws.items() if E["AD_MANY_KEY_LAST"] in d]
    check(last == [E["AD_MANY_PW_LAST"]], "AD_MANY_PW_LAST matches")

    # --- every exported valid password passes the check-digit test
    bad = [k for k, v in E.items() if k.startswith("AD_") and "_PW" in k and k != "AD_BADSUM_PW"
           and not F.is_valid_password(v)]
    check(not bad, "all exported passwords except AD_BADSUM_PW are valid %s" % (bad or ""))

    # --- bulk (only after dc.sh bulk)
    if "AD_BULK_KEY" in E:
        rc, ents, out, err = search(E, "HELPDESK", F.BASE, "sub", guid_filter(E["AD_BULK_KEY"]),
                                    ["msFVE-RecoveryPassword"])
        check(len(ents) == 1 and ents[0].get("msfve-recoverypassword") == [E["AD_BULK_PW"]]
              and ents[0]["dn"][0].endswith("," + E["AD_BULK_DN"]), "bulk key found by GUID")
        rc, ents, out, err = search(E, "HELPDESK", E["AD_BULK_OU"], "one", "(objectClass=computer)", ["1.1"],
                                    extra=["-E", "pr=1000/noprompt"])
        check(len(ents) == int(E["AD_BULK_COUNT"]), "%d bulk computers" % len(ents))

    print("\nad-selftest: %d passed, %d failed" % (len(PASSES), len(FAILS)))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
