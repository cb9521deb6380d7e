#!/usr/bin/python3
"""A second domain of the test forest, played by the hostile suite's fake
LDAP server (tests/hostile/ldap.py), for DC discovery tests.

  fakedomain.py --role dc|rodc|gc --dir DIR --name NAME --cert PEM --key PEM
                [--tls-port N]
  fakedomain.py --print-env

The forest is the fixture DC's bdekey.test (Samba, tests/ad/dc.sh) with a
child domain emea.bdekey.test, which Samba cannot host:

  dc    a writable DC of emea.bdekey.test: DC=emea,DC=bdekey,DC=test with
        PC-EMEA and its recovery object (password included), the forest's
        Partitions container naming both domains (two crossRefs)
  rodc  the same as a read-only DC: its RootDSE lists the partial-secrets
        capability (1.2.840.113556.1.4.1920) and it has no passwords
  gc    a Global Catalog of the forest: the recovery objects of emea and
        the 77777777 twins of bdekey.test (tests/ad/fixture.py), DNs exactly
        as Samba returns them, without any password or key package (not in
        the partial attribute set); answers subtree searches from "" (the
        whole forest)

Everything else is ldap.py: ldaps:// on 127.0.0.1 (any bind succeeds), every
request logged to DIR/ldap-NAME.jsonl with "password_dns", the env file
DIR/ldap-NAME.env, "ready" on stdout, SIGTERM ends it.
"""
import importlib.util
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fixture as F  # noqa: E402

spec = importlib.util.spec_from_file_location(
    "hostile_ldap", os.path.join(HERE, "..", "hostile", "ldap.py"))
hl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hl)

ROOT = F.BASE                                   # DC=bdekey,DC=test
EMEA = "DC=emea," + ROOT
CONFIG = "CN=Configuration," + ROOT
SCHEMA = "CN=Schema," + CONFIG
PARTITIONS = "CN=Partitions," + CONFIG
EMEA_OU = "OU=Workstations," + EMEA
EMEA_PC = "CN=PC-EMEA," + EMEA_OU
# in the twins' prefix, so one key-ID search finds objects of both domains
EMEA_KEY = "77777777-EEEE-4EEE-8EEE-00000000000E"
EMEA_VOL = "E7E7E7E7-7777-4777-8777-77777777777E"
EMEA_CN = "2024-06-01T10:00:00+02:00{%s}" % EMEA_KEY
EMEA_KEYDN = "CN=2024-06-01T10:00:00\\+02:00{%s},%s" % (EMEA_KEY, EMEA_PC)
EMEA_PW = F.recovery_password(EMEA_KEY)
PARTIAL_SECRETS = "1.2.840.113556.1.4.1920"
# a GC object in a domain that is not of the forest: never followed
EVIL_PC = "CN=PC-EVIL,OU=Workstations,DC=evil,DC=example"
EVIL_KEY = "66666666-EEEE-4EEE-8EEE-00000000000F"
EVIL_KEYDN = "CN=2024-06-01T10:00:00\\+02:00{%s},%s" % (EVIL_KEY, EVIL_PC)


def recovery(dn, cn, key, vol, when, password):
    attrs = {
        "objectClass": [b"top", b"msFVE-RecoveryInformation"],
        "objectCategory": [("CN=ms-FVE-RecoveryInformation," + SCHEMA).encode()],
        "cn": [cn.encode()],
        "msFVE-RecoveryGuid": [uuid.UUID(key).bytes_le],
        "msFVE-VolumeGuid": [uuid.UUID(vol).bytes_le],
        "whenCreated": [when.encode()],
    }
    if password is not None:
        attrs["msFVE-RecoveryPassword"] = [password.encode()]
        attrs["msFVE-KeyPackage"] = [F.key_package(key)]
    return hl.Entry(dn, attrs)


def computer(dn, cn, host):
    return hl.Entry(dn, {
        "objectClass": [b"top", b"person", b"organizationalPerson", b"user", b"computer"],
        "objectCategory": [("CN=Computer," + SCHEMA).encode()],
        "cn": [cn.encode()],
        "sAMAccountName": [(cn + "$").encode()],
        "dNSHostName": [host.encode()],
    })


def container(dn, cls=b"container"):
    return hl.Entry(dn, {"objectClass": [b"top", cls]})


def crossref(name, nc, dns):
    return hl.Entry("CN=%s,%s" % (name, PARTITIONS), {
        "objectClass": [b"top", b"crossRef"],
        "nCName": [nc.encode()], "dnsRoot": [dns.encode()],
        "systemFlags": [b"3"],
    })


def emea_entries(with_passwords):
    pw = EMEA_PW if with_passwords else None
    return [
        hl.Entry(EMEA, {"objectClass": [b"top", b"domain", b"domainDNS"], "dc": [b"emea"]}),
        container(EMEA_OU, b"organizationalUnit"),
        computer(EMEA_PC, "PC-EMEA", "pc-emea.emea.bdekey.test"),
        recovery(EMEA_KEYDN, EMEA_CN, EMEA_KEY, EMEA_VOL, "20240601080000.0Z", pw),
    ]


def twin_entries():
    """The fixture's twins as a GC holds them: no password."""
    out = [hl.Entry(ROOT, {"objectClass": [b"top", b"domain", b"domainDNS"]}),
           container(F.OU_WS, b"organizationalUnit")]
    for c in F.computers():
        if c.env not in ("AD_TWIN1", "AD_TWIN2"):
            continue
        out.append(computer(c.dn, c.cn, c.dnshost))
        for k in c.keys:
            key = k.guid.strip("{}")
            out.append(recovery(F.dn(k.rdn, c.dn), k.rdn, key, k.volume.strip("{}"),
                                "20240501080000.0Z", None))
    return out


def rootdse(role):
    d = {
        "defaultNamingContext": [EMEA if role != "gc" else ROOT],
        "rootDomainNamingContext": [ROOT],
        "configurationNamingContext": [CONFIG],
        "schemaNamingContext": [SCHEMA],
        "namingContexts": [EMEA, CONFIG, SCHEMA],
        "dnsHostName": ["dc1.emea.bdekey.test" if role != "gc" else "gc.bdekey.test"],
        "supportedLDAPVersion": ["3"],
        "supportedControl": [hl.PAGED_OID, "1.2.840.113556.1.4.1339"],
        "supportedSASLMechanisms": ["GSSAPI", "GSS-SPNEGO", "EXTERNAL"],
        "supportedCapabilities": ["1.2.840.113556.1.4.800", "1.2.840.113556.1.4.1670"],
        "isSynchronized": ["TRUE"],
        "isGlobalCatalogReady": ["TRUE" if role == "gc" else "FALSE"],
    }
    if role == "rodc":
        d["supportedCapabilities"].append(PARTIAL_SECRETS)
    return d


def fixture_for(role):
    entries = [hl.Entry("", {})]        # lets a search from "" be answered
    entries += [container(CONFIG, b"configuration"), container(PARTITIONS, b"crossRefContainer"),
                crossref("BDEKEY", ROOT, "bdekey.test"), crossref("EMEA", EMEA, "emea.bdekey.test")]
    if role == "gc":
        entries += emea_entries(False) + twin_entries()
        entries += [computer(EVIL_PC, "PC-EVIL", "pc-evil.evil.example"),
                    recovery(EVIL_KEYDN, "2024-06-01T10:00:00+02:00{%s}" % EVIL_KEY, EVIL_KEY,
                             EMEA_VOL, "20240601080000.0Z", None)]
    else:
        entries += emea_entries(role == "dc")
    return entries


def main():
    if "--print-env" in sys.argv:
        for k, v in (("EMEA_BASE", EMEA), ("EMEA_KEY", "{%s}" % EMEA_KEY),
                     ("EMEA_KEYDN", EMEA_KEYDN), ("EMEA_PW", EMEA_PW),
                     ("EMEA_PC_DN", EMEA_PC), ("EVIL_KEY", "{%s}" % EVIL_KEY),
                     ("EVIL_KEYDN", EVIL_KEYDN)):
            print("export %s=%s" % (k, hl.q(v)))
        return 0
    role = "dc"
    if "--role" in sys.argv:
        i = sys.argv.index("--role")
        role = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    if role not in ("dc", "rodc", "gc"):
        print("fakedomain.py: --role dc, rodc or gc", file=sys.stderr)
        return 2
    entries = fixture_for(role)
    hl.fixture = lambda: entries
    hl.ROOTDSE = {"windows": rootdse(role), "samba": rootdse(role)}
    plain_in_scope = hl.in_scope

    def in_scope(dn, nbase, scope):
        # a Global Catalog's search from "" covers the whole forest
        if nbase == "":
            return scope == "sub" and dn != ""
        return plain_in_scope(dn, nbase, scope)
    hl.in_scope = in_scope
    return hl.main()


if __name__ == "__main__":
    sys.exit(main())
