#!/usr/bin/python3
"""Populate the bdekey Samba AD test DC with the fixture (see README.md).

  populate.py --env                       print the fixture's shell variables
  populate.py --conf DIR/etc/smb.conf --dir DIR [--hosts vm,vm.example]
                                          create users, delegation ACEs, SPNs,
                                          computers and recovery objects

Writes through the samba python bindings to the DC's local sam.ldb (full DSDB
module stack, system session: objectGUID, SIDs, whenCreated, uSNCreated and
inherited security descriptors are set exactly as for an LDAP add).  dc.sh runs
it with the DC stopped, right after provisioning; everything is one transaction.
Must be run with /usr/bin/python3 (the interpreter that has the samba bindings).
"""
import argparse
import os
import secrets
import shlex
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture as F  # noqa: E402


def print_env():
    for name, value in F.env_vars():
        print("export %s=%s" % (name, shlex.quote(value)))


def gen_password():
    # Samba's default policy: >= 7 chars, 3 of 4 classes, not containing the name.
    return "Bk-%s-X9z" % secrets.token_hex(8)


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)          # no trailing newline: `ldapsearch -y FILE` uses it verbatim


def open_samdb(conf, options=None):
    from samba.param import LoadParm
    from samba.samdb import SamDB
    from samba.auth import system_session
    lp = LoadParm()
    lp.load(conf)
    return SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp,
                 options=options or [])


def add_ace(samdb, object_dn, ace):
    """Insert an explicit ACE at the front of the DACL, like `samba-tool dsacl set`."""
    import ldb
    from samba.dcerpc import security
    from samba.ndr import ndr_pack, ndr_unpack
    domain_sid = security.dom_sid(samdb.get_domain_sid())
    res = samdb.search(base=object_dn, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"])
    desc = ndr_unpack(security.descriptor, res[0]["nTSecurityDescriptor"][0])
    sddl = desc.as_sddl(domain_sid)
    new_ace = security.descriptor.from_sddl("D:" + ace, domain_sid).as_sddl(domain_sid)[2:]
    if new_ace in sddl:
        return
    # drop inherited ACEs (recomputed by the DC), insert the new one first
    import re
    for a in re.findall(r"\(.*?\)", sddl):
        if "ID" in a.split(";")[1]:
            sddl = sddl.replace(a, "")
    i = sddl.find("(", sddl.find("D:"))
    sddl = sddl[:i] + new_ace + sddl[i:] if i >= 0 else sddl + new_ace
    m = ldb.Message()
    m.dn = ldb.Dn(samdb, object_dn)
    m["nTSecurityDescriptor"] = ldb.MessageElement(
        ndr_pack(security.descriptor.from_sddl(sddl, domain_sid)),
        ldb.FLAG_MOD_REPLACE, "nTSecurityDescriptor")
    samdb.modify(m)


def computer_msg(samdb, c_cn, parent, sam, dnshost):
    import ldb
    from samba import dsdb
    d = ldb.Dn(samdb, "CN=x," + parent)
    d.set_component(0, "CN", c_cn)
    return {
        "dn": d,
        "objectClass": "computer",
        "cn": c_cn,
        "sAMAccountName": sam,
        "dNSHostName": dnshost,
        "userAccountControl": str(dsdb.UF_WORKSTATION_TRUST_ACCOUNT),
        "operatingSystem": "Windows 11 Enterprise",
    }


def key_msg(samdb, computer_dn, key_rdn, key_guid, vol_guid, password):
    import ldb
    d = ldb.Dn(samdb, "CN=x")
    d.set_component(0, "CN", key_rdn)
    d.add_base(computer_dn)
    return {
        "dn": d,
        "objectClass": "msFVE-RecoveryInformation",
        "msFVE-RecoveryGuid": F.guid_le(key_guid),
        "msFVE-VolumeGuid": F.guid_le(vol_guid),
        "msFVE-RecoveryPassword": password,
        "msFVE-KeyPackage": F.key_package(key_guid),
    }


def sleep_to_next_second():
    now = time.time()
    time.sleep(int(now) + 1.02 - now)


def populate(conf, dirpath, hosts):
    import ldb
    from samba.dcerpc import security
    from samba.ndr import ndr_unpack

    t0 = time.time()
    samdb = open_samdb(conf)
    assert str(samdb.domain_dn()) == F.BASE, samdb.domain_dn()
    samdb.transaction_start()
    try:
        # SPNs on the DC account so GSSAPI works whether or not libldap
        # canonicalises 127.0.0.1 to the host name.
        spns = ["ldap/127.0.0.1", "ldap/localhost"] + ["ldap/" + h for h in hosts]
        dc = samdb.search(base=F.BASE, scope=ldb.SCOPE_SUBTREE,
                          expression="(sAMAccountName=%s$)" % F.DC_NAME,
                          attrs=["servicePrincipalName"])
        have = {str(s).lower() for s in dc[0].get("servicePrincipalName", [])}
        add = sorted({s for s in spns if s.lower() not in have})
        if add:
            m = ldb.Message(dc[0].dn)
            m["servicePrincipalName"] = ldb.MessageElement(add, ldb.FLAG_MOD_ADD,
                                                           "servicePrincipalName")
            samdb.modify(m)

        # Users and the delegation ACEs (before any recovery object exists, so the
        # inherit-only ACEs are inherited at creation).
        for user, ace in F.USERS.items():
            pw = gen_password()
            samdb.newuser(user, pw)
            write_secret(os.path.join(dirpath, user + ".pass"), pw)
            if ace:
                res = samdb.search(base=F.BASE, scope=ldb.SCOPE_SUBTREE,
                                   expression="(sAMAccountName=%s)" % user, attrs=["objectSid"])
                sid = str(ndr_unpack(security.dom_sid, res[0]["objectSid"][0]))
                add_ace(samdb, F.BASE, ace.format(sid=sid))

        samdb.add({"dn": F.OU_WS, "objectClass": "organizationalUnit",
                   "description": "bdekey test workstations"})
        t1 = time.time()
        for c in F.computers():
            tc = time.time()
            msg = computer_msg(samdb, c.cn, F.OU_WS, c.sam, c.dnshost)
            samdb.add(msg)
            for i, k in enumerate(c.keys):
                if c.sleep_between and i > 0:
                    sleep_to_next_second()
                samdb.add(key_msg(samdb, msg["dn"], k.rdn, k.guid, k.volume, k.password))
            if len(c.keys) > 100:
                print("populate: %s: %d recovery objects in %.2f s"
                      % (c.cn, len(c.keys), time.time() - tc))
        samdb.transaction_commit()
    except BaseException:
        samdb.transaction_cancel()
        raise
    print("populate: done in %.2f s (objects %.2f s)" % (time.time() - t0, time.time() - t1))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", action="store_true", help="print fixture variables and exit")
    ap.add_argument("--conf", help="DC smb.conf (DIR/etc/smb.conf)")
    ap.add_argument("--dir", help="fixture directory (password files go here)")
    ap.add_argument("--hosts", help="comma-separated host names for ldap/HOST SPNs "
                    "(default: this machine's host name)")
    a = ap.parse_args()
    if a.env:
        print_env()
        return
    if not a.conf or not a.dir:
        ap.error("--conf and --dir are required")
    hosts = [h for h in (a.hosts or socket.gethostname()).split(",") if h]
    populate(a.conf, a.dir, hosts)


if __name__ == "__main__":
    main()
