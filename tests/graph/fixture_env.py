#!/usr/bin/python3
"""Helpers around the emulator fixture (used by server.sh; handy on its own).

  fixture_env.py check   STATE            validate the fixture (GUIDs, passwords, uniqueness)
  fixture_env.py secrets STATE DIR        write each app's secret to DIR/<secret_file> (0600, no newline)
  fixture_env.py env     STATE DIR PORT   print `export NAME='value'` lines (see README.md)
"""

import json
import os
import re
import shlex
import sys

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def block_ok(b):
    return len(b) == 6 and b.isdigit() and int(b) % 11 == 0 and int(b) // 11 < 65536


def check(fx):
    errs = []
    seen = set()

    def guid(where, v):
        if not isinstance(v, str) or not GUID.match(v):
            errs.append("%s: %r is not a lower-case GUID" % (where, v))
        if v in seen:
            errs.append("%s: %r used twice" % (where, v))
        seen.add(v)

    guid("tenant.id", fx["tenant"]["id"])
    for a in fx["apps"]:
        guid("app %s" % a["var"], a["client_id"])
    for u in fx["users"]:
        guid("user %s" % u["var"], u["id"])
    prefixes = {}
    for d in fx["devices"] + fx.get("report_devices", []):
        guid("device %s id" % d["var"], d["id"])
        gen = d.get("generate_keys", 0)
        if not isinstance(gen, int) or isinstance(gen, bool) or not 0 <= gen <= 200:
            errs.append("device %s: generate_keys %r (0 to 200: Entra keeps at most 200)" % (d["var"], gen))
        guid("device %s deviceId" % d["var"], d["deviceId"])
        for k in d["keys"]:
            guid("key %s" % k["var"], k["id"])
            prefixes.setdefault(k["id"][:8], []).append(k["var"])
            blocks = k["key"].split("-")
            bad = [i + 1 for i, b in enumerate(blocks) if not block_ok(b)]
            want = [k["bad_checksum_block"]] if "bad_checksum_block" in k else []
            if len(blocks) != 8 or bad != want:
                errs.append("key %s: password %s has bad blocks %s, expected %s" % (k["var"], k["key"], bad, want))
            if k["volumeType"] not in (1, 2, 3, 4, "1", "2", "3", "4", "operatingSystemVolume",
                                       "fixedDataVolume", "removableDataVolume", "unknownFutureValue"):
                errs.append("key %s: volumeType %r" % (k["var"], k["volumeType"]))
    for m in fx["managedDevices"]:
        guid("managed device %s" % m["var"], m["id"])
    if not any(len(v) > 1 for v in prefixes.values()):
        errs.append("no two keys share their first 8 hex digits")
    return errs


def secrets(fx, d):
    for a in fx["apps"]:
        if a.get("secret") and a.get("secret_file"):
            path = os.path.join(d, a["secret_file"])
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(a["secret"])


def env(fx, d, port):
    base = "https://127.0.0.1:%s" % port
    out = []

    def e(name, value):
        out.append("export %s=%s" % (name, shlex.quote(str(value))))

    pub = next(a for a in fx["apps"] if a.get("public"))
    e("BDEKEY_AUTHORITY", base + "/auth")
    e("BDEKEY_GRAPH", base + "/graph")
    e("BDEKEY_CA_BUNDLE", os.path.join(d, "ca.pem"))
    e("BDEKEY_TENANT", fx["tenant"]["name"])
    e("BDEKEY_CLIENT_ID", pub["client_id"])
    e("GRAPH_EMU_URL", base)
    e("GRAPH_EMU_PORT", port)
    e("GRAPH_EMU_DIR", d)
    e("GRAPH_EMU_LOG", os.path.join(d, "emulator.log"))
    e("GRAPH_EMU_PID", open(os.path.join(d, "emulator.pid")).read().strip()
      if os.path.exists(os.path.join(d, "emulator.pid")) else "")
    e("GRAPH_EMU_TENANT_ID", fx["tenant"]["id"])
    e("GRAPH_EMU_TOKEN_URL", "%s/auth/%s/oauth2/v2.0/token" % (base, fx["tenant"]["name"]))
    e("GRAPH_EMU_DEVICECODE_URL", "%s/auth/%s/oauth2/v2.0/devicecode" % (base, fx["tenant"]["name"]))
    for a in fx["apps"]:
        e("GRAPH_EMU_%s_CLIENT_ID" % a["var"], a["client_id"])
        if a.get("secret_file"):
            e("GRAPH_EMU_%s_SECRET_FILE" % a["var"], os.path.join(d, a["secret_file"]))
    e("GRAPH_EMU_APP_CERT", os.path.join(d, "app.pem"))
    e("GRAPH_EMU_APP_KEY", os.path.join(d, "app.key"))
    e("GRAPH_EMU_APP_BUNDLE", os.path.join(d, "app-bundle.pem"))
    e("GRAPH_EMU_WRONG_CERT", os.path.join(d, "wrong.pem"))
    e("GRAPH_EMU_WRONG_KEY", os.path.join(d, "wrong.key"))
    e("GRAPH_EMU_OTHER_CA", os.path.join(d, "other-ca.pem"))
    try:
        with open(os.path.join(d, "app.thumbprints")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                e("GRAPH_EMU_APP_%s" % k.upper(), v)
    except OSError:
        pass
    for u in fx["users"]:
        e("GRAPH_FX_USER_%s" % u["var"], u["upn"])
    # report_devices (emulator --report-fixture) too; their times may be relative ("now-3d")
    for dv in fx["devices"] + fx.get("report_devices", []):
        e("GRAPH_FX_DEV_%s_NAME" % dv["var"], dv["displayName"])
        e("GRAPH_FX_DEV_%s_ID" % dv["var"], dv["id"])
        e("GRAPH_FX_DEV_%s_DEVICE_ID" % dv["var"], dv["deviceId"])
        for k in dv["keys"]:
            e("GRAPH_FX_KEY_%s_ID" % k["var"], k["id"])
            e("GRAPH_FX_KEY_%s_PASSWORD" % k["var"], k["key"])
            e("GRAPH_FX_KEY_%s_CREATED" % k["var"], k["createdDateTime"])
    for m in fx["managedDevices"]:
        e("GRAPH_FX_%s_ID" % m["var"], m["id"])
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) >= 3 and argv[1] == "check":
        try:
            errs = check(load(argv[2]))
        except (OSError, ValueError, KeyError, TypeError) as e:
            errs = ["cannot use %s: %s: %s" % (argv[2], type(e).__name__, e)]
        for x in errs:
            print("fixture: " + x, file=sys.stderr)
        return 1 if errs else 0
    if len(argv) == 4 and argv[1] == "secrets":
        secrets(load(argv[2]), argv[3])
        return 0
    if len(argv) == 5 and argv[1] == "env":
        sys.stdout.write(env(load(argv[2]), os.path.abspath(argv[3]), argv[4]))
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
