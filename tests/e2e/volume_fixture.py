#!/usr/bin/python3
"""volume_fixture.py - escrowed keys of the BitLocker test volumes
(tests/volume/data/) for tests/e2e/test-volume-e2e.sh: each under its
recovery-password protector's ID (images.conf RP_VMK_GUID), for the
computer named in the volume's description, as Windows would escrow them.

  volume_fixture.py graph IMAGES_CONF OUT.json   the Graph emulator's
        fixture (tests/graph/fixture.json) plus the devices below
  volume_fixture.py ldif IMAGES_CONF OU_DN       LDIF for the Samba DC:
        the OU, its computers and their recovery objects
  volume_fixture.py env IMAGES_CONF              shell variables for the test

Active Directory, computer DESKTOP-NPM7RCA:
  - bitlk-aes-xts-128's recovery password under its protector ID (opens it)
  - a stale key of the same computer (another ID: not a protector of any
    image), the kind a re-encrypted or rotated disk leaves behind
  - under bitlk-aes-cbc-128's protector ID, bitlk-aes-xts-256's password:
    checksum-valid, escrowed under the right ID, does not open the volume
  - under bitlk-togo-aes-xts-128's protector ID, a wrong password too,
    while Entra ID has the right one under the same ID (two entries)
  - nothing for bitlk-aes-xts-256 (its protector is on file nowhere)
Entra ID (the Graph emulator):
  - DESKTOP-LG39GVP: the startup-key volume's recovery password, and a
    stale key of the same device
  - WIN11: only the second recovery password of the two-recovery volume
    (the first protector is on file nowhere)
  - DESKTOP-NPM7RCA: bitlk-aes-xts-128's key again (hybrid-joined: AD and
    Entra both have it), and bitlk-togo-aes-xts-128's right password
"""
import base64
import configparser
import json
import os
import shlex
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ad"))
import fixture as F  # noqa: E402  (recovery_password: valid, deterministic)

STALE_AD = "5EA1E0AD-0000-4000-8000-0000000000AD"
STALE_GRAPH = "5ea1e017-0000-4000-8000-00000000e17a"
# the Graph devices: (var, id, deviceId, displayName)
DEV_SK = ("VOL_SK", "b1710c4e-0000-4000-8000-000000000001",
          "b1710c4e-0000-4000-8000-0000000000d1", "DESKTOP-LG39GVP")
DEV_TWO = ("VOL_TWO", "b1710c4e-0000-4000-8000-000000000002",
           "b1710c4e-0000-4000-8000-0000000000d2", "WIN11")
DEV_X128 = ("VOL_X128", "b1710c4e-0000-4000-8000-000000000003",
            "b1710c4e-0000-4000-8000-0000000000d3", "DESKTOP-NPM7RCA")


def images(path):
    c = configparser.ConfigParser()
    c.read(path)
    return c


def graph(conf, out):
    with open(os.path.join(HERE, "..", "graph", "fixture.json")) as f:
        fx = json.load(f)

    def device(d, keys):
        fx["devices"].append({
            "var": d[0], "id": d[1], "deviceId": d[2], "displayName": d[3],
            "keys": [{"var": "%s_%d" % (d[0], i), "id": kid.lower(),
                      "createdDateTime": created, "volumeType": vt,
                      "key": pw}
                     for i, (kid, created, vt, pw) in enumerate(keys)]})

    sk = conf["bitlk-aes-xts-128-startup-key"]
    two = conf["bitlk-aes-xts-128-two-recovery"]
    x128 = conf["bitlk-aes-xts-128"]
    togo = conf["bitlk-togo-aes-xts-128"]
    device(DEV_SK, [
        (sk["RP_VMK_GUID"], "2020-09-15T07:25:00Z", "fixedDataVolume",
         sk["RP"]),
        (STALE_GRAPH, "2020-06-01T10:00:00Z", "fixedDataVolume",
         F.recovery_password(STALE_GRAPH)),
    ])
    device(DEV_TWO, [
        (two["RP2_VMK_GUID"], "2025-03-09T09:10:00Z", 2, two["RP2"]),
    ])
    device(DEV_X128, [
        (x128["RP_VMK_GUID"], "2019-07-04T07:03:00Z", 2, x128["RP"]),
        (togo["RP_VMK_GUID"], "2019-10-18T09:06:00Z", 3, togo["RP"]),
    ])
    with open(out, "w") as f:
        json.dump(fx, f, indent=1)


def b64(guid):
    return base64.b64encode(uuid.UUID(guid).bytes_le).decode()


def ldif(conf, ou):
    x128 = conf["bitlk-aes-xts-128"]
    cbc = conf["bitlk-aes-cbc-128"]
    togo = conf["bitlk-togo-aes-xts-128"]
    wrong = conf["bitlk-aes-xts-256"]["RP"]
    comp = "CN=DESKTOP-NPM7RCA," + ou
    out = ["dn: " + ou, "objectClass: organizationalUnit", "",
           "dn: " + comp, "objectClass: computer",
           "sAMAccountName: DESKTOP-NPM7RCA$", "userAccountControl: 4096",
           "dNSHostName: desktop-npm7rca." + F.DNS_DOMAIN, ""]
    for when, kid, vol, pw in (
            ("2019-07-04T09:03:00+02:00", x128["RP_VMK_GUID"], x128["GUID"],
             x128["RP"]),
            ("2019-06-01T09:00:00+02:00", STALE_AD, x128["GUID"],
             F.recovery_password(STALE_AD)),
            ("2019-07-04T08:40:00+02:00", cbc["RP_VMK_GUID"], cbc["GUID"],
             wrong),
            ("2019-10-18T11:06:00+02:00", togo["RP_VMK_GUID"], togo["GUID"],
             wrong)):
        out += ["dn: CN=%s,%s" % (F._dn_escape(F.key_rdn(when, kid)), comp),
                "objectClass: msFVE-RecoveryInformation",
                "msFVE-RecoveryGuid:: " + b64(kid),
                "msFVE-VolumeGuid:: " + b64(vol),
                "msFVE-RecoveryPassword: " + pw, ""]
    sys.stdout.write("\n".join(out))


def env(conf):
    v = [("STALE_AD", STALE_AD), ("STALE_AD_PW", F.recovery_password(STALE_AD)),
         ("STALE_GRAPH", STALE_GRAPH.upper()),
         ("STALE_GRAPH_PW", F.recovery_password(STALE_GRAPH))]
    for name, var in (("bitlk-aes-xts-128", "X128"),
                      ("bitlk-aes-cbc-128", "CBC"),
                      ("bitlk-aes-xts-256", "X256"),
                      ("bitlk-aes-xts-128-startup-key", "SK"),
                      ("bitlk-aes-xts-128-two-recovery", "TWO"),
                      ("bitlk-togo-aes-xts-128", "TOGO")):
        c = conf[name]
        v += [(var + "_GUID", c["GUID"].upper()),
              (var + "_RP", c["RP"]),
              (var + "_RP_ID", c["RP_VMK_GUID"].upper())]
        if "RP2" in c:
            v += [(var + "_RP2", c["RP2"]),
                  (var + "_RP2_ID", c["RP2_VMK_GUID"].upper())]
    for n, val in v:
        print("%s=%s" % (n, shlex.quote(val)))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("graph", "ldif", "env"):
        sys.exit(__doc__)
    conf = images(sys.argv[2])
    if sys.argv[1] == "graph":
        graph(conf, sys.argv[3])
    elif sys.argv[1] == "ldif":
        ldif(conf, sys.argv[3])
    else:
        env(conf)


if __name__ == "__main__":
    main()
