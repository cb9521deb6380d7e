#!/usr/bin/python3
"""Microsoft identity platform + Microsoft Graph emulator for bdekey's tests.

One HTTPS server on 127.0.0.1 serves both services:
  authority  https://127.0.0.1:PORT/auth   ({authority}/{tenant}/oauth2/v2.0/...)
  Graph      https://127.0.0.1:PORT/graph  ({graph}/v1.0/..., {graph}/beta/...)
  test hooks https://127.0.0.1:PORT/_test/...
Behaviour, fixture values, knobs and the log format are documented in README.md next
to this file.  Standard library only; python3-cryptography (Debian) is imported lazily
to verify client-assertion signatures.  Run it with /usr/bin/python3.
"""

import argparse
import base64
import copy
import hashlib
import hmac
import http.server
import itertools
import json
import os
import random
import re
import secrets
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone

MAX_BODY = 4 * 1024 * 1024          # request bodies above this get 413
MAX_CONNECTIONS = 128               # concurrent connections; more are closed at once
IDLE_TIMEOUT_S = 30                 # keep-alive idle / slow-client bound
HUGE_BODY_BYTES = 12 * 1024 * 1024  # "HUGE-BODY" answers are bigger than 10 MiB
SKEW_S = 300                        # clock skew allowed on client assertions
MAX_ASSERTION_LIFETIME_S = 600      # exp - iat allowed (plus SKEW_S)
GEN_MAX = 5_000_000                 # upper bound for --gen-keys, --gen-devices, --gen-device-keys
SCALE_EPOCH = 1672531200            # --gen-devices: keys from 2023-01-01T00:00:00Z ...
SCALE_SPAN_S = 63072000             # ... spread over two years, whatever their number
DAY = 86400
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_GRAPH_HOST = "https://graph.microsoft.com"
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

OIDC_SCOPES = ["openid", "profile", "email", "offline_access"]
KNOWN_PERMS = {p.lower(): p for p in [
    "BitlockerKey.Read.All", "BitlockerKey.ReadBasic.All",
    "Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
    "DeviceManagementManagedDevices.Read.All", "DeviceManagementManagedDevices.ReadWrite.All",
    "DeviceManagementManagedDevices.PrivilegedOperations.All", "User.Read",
]}
# Resources other than Graph (tests/keyvault/): tokens for them are signed JWTs (RS256, key
# published at {authority}/{tenant}/discovery/v2.0/keys) whose aud is the resource as requested.
# Key: resource without trailing slash, lower case -> (kind, the resource's application id).
OTHER_RESOURCES = {
    "https://vault.azure.net": ("keyvault", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"),
    "https://vault.azure.cn": ("keyvault", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"),
    "https://vault.usgovcloudapi.net": ("keyvault", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"),
    "https://management.azure.com": ("arm", "797f4846-ba00-4fd7-ba43-dac1f8f63013"),
    "https://management.core.windows.net": ("arm", "797f4846-ba00-4fd7-ba43-dac1f8f63013"),
    "https://management.chinacloudapi.cn": ("arm", "797f4846-ba00-4fd7-ba43-dac1f8f63013"),
    "https://management.usgovcloudapi.net": ("arm", "797f4846-ba00-4fd7-ba43-dac1f8f63013"),
}
RESOURCE_PERMS = {"user_impersonation": "user_impersonation"}   # the only delegated permission of both
DEVICE_READ = {"Device.Read.All", "Device.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
KEY_META = {"BitlockerKey.ReadBasic.All", "BitlockerKey.Read.All"}
MANAGED_READ = {"DeviceManagementManagedDevices.Read.All", "DeviceManagementManagedDevices.ReadWrite.All"}
MANAGED_WRITE = {"DeviceManagementManagedDevices.ReadWrite.All"}

KEY_PROPS = ["id", "createdDateTime", "volumeType", "deviceId"]
DEVICE_PROPS = ["id", "deviceId", "displayName", "operatingSystem", "operatingSystemVersion",
                "trustType", "accountEnabled", "registrationDateTime", "approximateLastSignInDateTime",
                "onPremisesSecurityIdentifier"]
MANAGED_PROPS = ["id", "deviceName", "azureADDeviceId", "userPrincipalName", "operatingSystem",
                 "osVersion", "managedDeviceOwnerType", "complianceState", "lastSyncDateTime"]

# Knob defaults; the fixture's "knobs" and POST /_test/config override them.
DEFAULT_KNOBS = {
    "token_lifetime_s": 3600,
    "refresh_token_lifetime_s": 86400,
    "device_flow": {
        "auto_approve_user": None,
        "pending_polls": 1,
        "slow_down_on_poll": 0,
        "interval": 1,
        "expires_in": 900,
        "enforce_interval": True,
        "slow_down_increment_s": 5,
        "verification_uri": "https://microsoft.com/devicelogin",
    },
    "page_size": 2,
    "devices_page_size": 100,
    "devices_top_max": 999,
    "next_link_origin": None,
    "empty_page_every": 0,
    "throttle_every_n": 0,
    "retry_after_s": 1,
    "throttle_503_once": False,
    "fail_next": [],
    "drop_next": [],
    "batch_refused": False,
    "batch_shuffle": True,
    "batch_max": 20,
    "batch_refuse_key_reads": False,
    "ignore_managed_filter": False,
    "rotation_delay_s": 0,
    "rotation_volume_type": 1,
    "require_user_agent": False,
    "delay_ms": 0,
    "refresh_cross_resource": False,
    "resource_refused_clients": [],
    "refresh_delay_ms": 0,
    "rotation": {},
}
# POST /_test/config {"rotation": {"<managed device id or device name>": {...}}}: per device
ROTATION_DEFAULT = {"pending_polls": 0, "outcome": "done", "error_code": -2016345060, "retry_after": None}
ROTATE_RESULT_TYPE = "#microsoft.graph.rotateBitLockerKeysDeviceActionResult"


# ---------------------------------------------------------------- small helpers

def iso(t, frac=False):
    d = datetime.fromtimestamp(t, timezone.utc)
    if frac:
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%07dZ" % (d.microsecond * 10)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", s):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jdump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def random_password(rng=secrets):
    return "-".join("%06d" % (11 * rng.randbelow(65536)) for _ in range(8))


def hashed_password(seed):
    """A valid recovery password computed from seed (bytes): same seed, same password."""
    h = hashlib.sha256(seed).digest()
    return "-".join("%06d" % (11 * int.from_bytes(h[2 * j:2 * j + 2], "big")) for j in range(8))


_REL_TIME = re.compile(r"^now(?:-(\d+)([dhms]))?$")


def rel_time(v, now):
    """Fixture times may be relative to the emulator's start: "now", "now-3d", "now-2h", "now-30s"."""
    m = _REL_TIME.match(v) if isinstance(v, str) else None
    if not m:
        return v
    n = int(m.group(1) or 0) * {"d": DAY, "h": 3600, "m": 60, "s": 1}.get(m.group(2) or "s")
    return iso(now - n)


class Resp:
    """A response: status, header list, body bytes (or None)."""

    def __init__(self, status, body=None, headers=None, ctype="application/json; charset=utf-8"):
        self.status = status
        self.headers = list(headers or [])
        if isinstance(body, (dict, list)):
            body = jdump(body)
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body if body is not None else b""
        if self.body and ctype and not any(k.lower() == "content-type" for k, _ in self.headers):
            self.headers.append(("Content-Type", ctype))
        self.note = ""     # extra text for the log line


class Bad(Exception):
    """A request error that maps straight to a response."""

    def __init__(self, resp):
        super().__init__(resp.status)
        self.resp = resp


def parse_query(qs):
    """Query string -> dict; duplicate names, bad %-escapes or bad UTF-8 raise ValueError."""
    out = {}
    if not qs:
        return out
    for part in qs.split("&"):
        if part == "":
            continue
        name, sep, value = part.partition("=")
        name = urllib.parse.unquote_plus(name, errors="strict")
        value = urllib.parse.unquote_plus(value, errors="strict")
        if re.search(r"%(?![0-9A-Fa-f]{2})", part):
            raise ValueError("malformed percent-escape in %r" % part)
        if name in out:
            raise ValueError("query option %r given twice" % name)
        out[name] = value
    return out


def parse_form(body):
    try:
        return parse_query(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


# ---------------------------------------------------------------- OData $filter

class FilterError(Exception):
    pass


_TOKEN = re.compile(r"\s+|(?P<str>'(?:[^']|'')*')|(?P<id>[A-Za-z_][A-Za-z0-9_./]*)|(?P<p>[(),])")


def parse_filter(text):
    """Parse the two filter shapes Graph supports here.

    Returns ("eq", prop, value) or ("startswith", prop, value).  String literals
    double a single quote (OData ABNF); anything else is a FilterError.
    """
    toks = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise FilterError("syntax error at position %d in '%s'" % (pos, text))
        pos = m.end()
        if m.group("str") is not None:
            toks.append(("str", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("id") is not None:
            toks.append(("id", m.group("id")))
        elif m.group("p") is not None:
            toks.append(("p", m.group("p")))
    if len(toks) == 3 and toks[0][0] == "id" and toks[1] == ("id", "eq") and toks[2][0] == "str":
        return ("eq", toks[0][1], toks[2][1])
    if (len(toks) == 6 and toks[0] == ("id", "startswith") and toks[1] == ("p", "(")
            and toks[2][0] == "id" and toks[3] == ("p", ",") and toks[4][0] == "str"
            and toks[5] == ("p", ")")):
        return ("startswith", toks[2][1], toks[4][1])
    if any(t[0] == "str" for t in toks) or toks:
        raise FilterError("unsupported or invalid filter clause '%s'" % text)
    raise FilterError("empty filter")


def parse_select(text, allowed):
    """'$select' value -> list of canonical property names; unknown names raise ValueError."""
    canon = {p.lower(): p for p in allowed}
    out = []
    for item in text.split(","):
        item = item.strip()
        if item.lower() not in canon:
            raise ValueError(item)
        if canon[item.lower()] not in out:
            out.append(canon[item.lower()])
    return out


# ---------------------------------------------------------------- generated keys (--gen-keys)

class Generated:
    """N extra keys on generated devices, computed on demand from their index.

    The last GUID group encodes the index (xor a mask), so a lookup by id is O(1)
    and nothing is stored: 20,000 or 2,000,000 keys cost the same memory.
    """
    MASK = {"key": 0x5A17C3E29B04, "dev": 0x2C9E41D7F0A3, "obj": 0x71B3A95C0E6D}

    def __init__(self, n, per_device=2, ndev=None, now=None):
        self.n = n
        self.per = per_device
        self.ndev = (n + per_device - 1) // per_device if ndev is None else ndev
        # scale mode (--gen-devices): devices have a trust type, SID and last sign-in; keys
        # span two years whatever their number
        self.scale = ndev is not None
        self.now = int(now or time.time())
        self.step = max(1, SCALE_SPAN_S // max(1, n)) if self.scale else 37 * 60

    @classmethod
    def guid(cls, kind, i):
        h = hashlib.sha256(("%s:%d" % (kind, i)).encode()).hexdigest()
        tail = (i ^ cls.MASK[kind]) & 0xFFFFFFFFFFFF
        return "%s-%s-4%s-%s%s-%012x" % (h[0:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) & 3], h[17:20], tail)

    def index_of(self, kind, guid, limit):
        if not GUID_RE.match(guid or ""):
            return None
        i = int(guid[-12:], 16) ^ self.MASK[kind]
        if i < limit and self.guid(kind, i) == guid.lower():
            return i
        return None

    def key(self, i):
        d = i // self.per
        h = hashlib.sha256(b"pw:%d" % i).digest()
        words = [int.from_bytes(h[2 * j:2 * j + 2], "big") for j in range(8)]
        os_volume = (i % self.per) == 0
        form = i % 3
        vt = (1 if os_volume else 2)
        vt = [vt, str(vt), "operatingSystemVolume" if os_volume else "fixedDataVolume"][form]
        return {"id": self.guid("key", i), "deviceId": self.guid("dev", d),
                "createdDateTime": iso(SCALE_EPOCH + i * self.step),
                "volumeType": vt, "key": "-".join("%06d" % (11 * w) for w in words),
                "wrap_value": False, "visible_after": 0}

    def device(self, d):
        dev = {"id": self.guid("obj", d), "deviceId": self.guid("dev", d),
               "displayName": "GEN-%06d" % d, "keys": None, "broken": None}
        if self.scale:
            # every 4th hybrid (with a SID), every 10th inactive (200 days), the rest seen
            # within the last 30 days
            if d % 4 == 0:
                dev["trustType"] = "ServerAd"
                dev["onPremisesSecurityIdentifier"] = "S-1-5-21-1004336348-1177238915-682003330-%d" % (10000 + d)
            ago = 200 * DAY if d % 10 == 9 else (d % 30) * DAY + 3600
            dev["approximateLastSignInDateTime"] = iso(self.now - ago)
        return dev

    def devices_range(self, start, stop):
        return [self.device(d) for d in range(max(0, start), min(self.ndev, stop))]

    def key_by_id(self, kid):
        i = self.index_of("key", kid, self.n)
        return None if i is None else self.key(i)

    def device_by_device_id(self, did):
        d = self.index_of("dev", did, self.ndev)
        return None if d is None else self.device(d)

    def keys_of_device(self, d):
        return [self.key(i) for i in range(d * self.per, min(self.n, (d + 1) * self.per))]


# ---------------------------------------------------------------- state

class State:
    def __init__(self, fixture_path, cert_dir, page_size, delay_ms, gen_keys, log, gen_devices=None,
                 gen_device_keys=0, report_fixture=False, devices_page_size=None):
        self.fixture_path = fixture_path
        self.cert_dir = cert_dir
        self.cli_knobs = {}
        if page_size is not None:
            self.cli_knobs["page_size"] = page_size
        if delay_ms is not None:
            self.cli_knobs["delay_ms"] = delay_ms
        if devices_page_size is not None:
            self.cli_knobs["devices_page_size"] = devices_page_size
        self.report_fixture = report_fixture
        self.started = time.time()
        if gen_devices is not None:
            per = max(1, -(-gen_device_keys // max(1, gen_devices)))
            self.gen = Generated(gen_device_keys, per, gen_devices, self.started)
        else:
            self.gen = Generated(gen_keys)
        self.log = log
        self.lock = threading.RLock()
        self.codes_cond = threading.Condition(self.lock)    # a device code was issued
        self.huge_cache = {}
        self.reset()

    # -- loading

    def reset(self):
        with open(self.fixture_path, encoding="utf-8") as f:
            fx = json.load(f)
        with self.lock:
            self.fx = fx
            self.knobs = copy.deepcopy(DEFAULT_KNOBS)
            self._merge_knobs(fx.get("knobs", {}))
            self._merge_knobs(self.cli_knobs)
            t = fx["tenant"]
            self.tenant_name = t["name"]
            self.tenant_id = t["id"].lower()
            self.tenant_aliases = [a.lower() for a in t.get("aliases", [])]
            self.apps = {}
            for a in fx["apps"]:
                app = dict(a)
                app["thumbs"] = {}
                for c in a.get("certificates", []):
                    self._load_cert(app, c)
                self.apps[a["client_id"].lower()] = app
            self.users = {u["upn"].lower(): u for u in fx["users"]}
            self.devices = []
            self.keys = []
            devices = list(fx["devices"])
            if self.report_fixture:
                devices += fx.get("report_devices", [])
            for d in devices:
                dev = {k: v for k, v in d.items() if k not in ("keys", "generate_keys")}
                dev.setdefault("broken", None)
                for t in ("approximateLastSignInDateTime", "registrationDateTime"):
                    if t in dev:
                        dev[t] = rel_time(dev[t], self.started)
                self.devices.append(dev)
                for k in d.get("keys", []):
                    key = {"id": k["id"], "deviceId": d["deviceId"],
                           "createdDateTime": rel_time(k["createdDateTime"], self.started),
                           "volumeType": k["volumeType"], "key": k["key"],
                           "wrap_value": bool(k.get("wrap_value")), "visible_after": 0}
                    self.keys.append(key)
                self.keys += self.device_keys(d)
            self.managed = [dict(m) for m in fx.get("managedDevices", [])]
            self.device_codes = {}
            self.codes_issued = 0
            self.access_tokens = {}
            self.refresh_tokens = {}
            self.jtis = {}
            self.audit = []
            self.rotations = []
            self.actions = {}       # managed device id (lower) -> its rotateBitLockerKeys action
            self.graph_counter = 0
            self.reset_stats()

    def device_keys(self, d):
        """The keys a fixture device asks to have made in code ("generate_keys": N).

        Key i of N: id uuid5(URL, "bdekey-report:<deviceId>:<i>"), created i+1 days before the
        newest, which is a day before the emulator started; even i an OS volume (number 1),
        odd i a fixed data volume (its name); a valid password computed from the id.
        """
        n = int(d.get("generate_keys") or 0)
        out = []
        for i in range(n):
            kid = str(uuid.uuid5(uuid.NAMESPACE_URL, "bdekey-report:%s:%d" % (d["deviceId"], i)))
            out.append({"id": kid, "deviceId": d["deviceId"],
                        "createdDateTime": iso(self.started - (n - i) * DAY),
                        "volumeType": 1 if i % 2 == 0 else "fixedDataVolume",
                        "key": hashed_password(kid.encode()), "wrap_value": False, "visible_after": 0})
        return out

    def reset_stats(self):
        with self.lock:
            self.stats = {"http_requests": 0, "auth_requests": 0, "graph_requests": 0,
                          "tls_connections": 0, "token_requests": {}, "tokens_issued": 0,
                          "key_reads": 0, "batch_requests": 0, "batch_items": 0, "throttled": 0,
                          "dropped": 0, "device_list_requests": 0, "key_list_requests": 0,
                          "key_get_requests": 0, "key_selected": 0, "managed_device_gets": 0,
                          "rotation_polls": 0}

    def _load_cert(self, app, path):
        full = path if os.path.isabs(path) else os.path.join(self.cert_dir, path)
        try:
            with open(full, encoding="ascii") as f:
                pem = f.read()
            der = ssl.PEM_cert_to_DER_cert(pem)
        except (OSError, ValueError) as e:
            self.log.line("warning app=%s certificate %s not loaded: %s" % (app["client_id"], full, e))
            return
        app["thumbs"]["x5t#S256:" + b64url(hashlib.sha256(der).digest())] = der
        app["thumbs"]["x5t:" + b64url(hashlib.sha1(der).digest())] = der

    def _merge_knobs(self, new):
        for k, v in new.items():
            if k not in DEFAULT_KNOBS:
                raise ValueError("unknown knob %r" % k)
            if k == "device_flow":
                if not isinstance(v, dict):
                    raise ValueError("device_flow must be an object")
                for k2, v2 in v.items():
                    if k2 not in DEFAULT_KNOBS["device_flow"]:
                        raise ValueError("unknown knob device_flow.%s" % k2)
                    self.knobs["device_flow"][k2] = v2
            elif k == "rotation":
                if not isinstance(v, dict):
                    raise ValueError("rotation must be an object")
                for who, r in v.items():
                    if r is None:
                        self.knobs["rotation"].pop(who.lower(), None)
                        continue
                    self.knobs["rotation"][who.lower()] = self._rotation_entry(who, r)
            else:
                self.knobs[k] = copy.deepcopy(v)
        if self.knobs["empty_page_every"] == 1:
            raise ValueError("empty_page_every must be 0 or >= 2")
        if int(self.knobs["page_size"]) < 1:
            raise ValueError("page_size must be >= 1")

    @staticmethod
    def _rotation_entry(who, r):
        """A checked rotation entry with its defaults filled in."""
        if not isinstance(r, dict):
            raise ValueError("rotation.%s must be an object" % who)
        bad = set(r) - set(ROTATION_DEFAULT)
        if bad:
            raise ValueError("unknown knob rotation.%s.%s" % (who, sorted(bad)[0]))
        e = dict(ROTATION_DEFAULT, **r)
        if not isinstance(e["pending_polls"], int) or isinstance(e["pending_polls"], bool) or e["pending_polls"] < 0:
            raise ValueError("rotation.%s.pending_polls must be an integer >= 0" % who)
        if e["outcome"] not in ("done", "failed", "never"):
            raise ValueError("rotation.%s.outcome must be done, failed or never" % who)
        if not isinstance(e["error_code"], int) or isinstance(e["error_code"], bool):
            raise ValueError("rotation.%s.error_code must be an integer" % who)
        if e["retry_after"] is not None and (not isinstance(e["retry_after"], int) or e["retry_after"] < 0):
            raise ValueError("rotation.%s.retry_after must be null or an integer >= 0" % who)
        return e

    # -- directory lookups (call with the lock held)

    def tenant_ok(self, t, delegated=True):
        t = t.lower()
        if t in (self.tenant_name.lower(), self.tenant_id):
            return "ok"
        if t in self.tenant_aliases:
            return "ok" if delegated else "alias"
        return None

    def visible_keys(self):
        now = time.time()
        return [k for k in self.keys if k["visible_after"] <= now]

    def key_by_id(self, kid):
        for k in self.visible_keys():
            if k["id"].lower() == kid.lower():
                return k
        return self.gen.key_by_id(kid)

    def device_by_device_id(self, did):
        for d in self.devices:
            if d["deviceId"].lower() == did.lower():
                return d
        return self.gen.device_by_device_id(did)

    def all_devices(self):
        for d in self.devices:
            yield d
        for i in range(self.gen.ndev):
            yield self.gen.device(i)

    def devices_slice(self, start, stop):
        """all_devices()[start:stop] without making the ones before start."""
        out = self.devices[start:stop]
        nf = len(self.devices)
        if stop > nf:
            out += self.gen.devices_range(max(0, start - nf), stop - nf)
        return out


# ---------------------------------------------------------------- log

class Log:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8", buffering=1) if path else None
        self.lock = threading.Lock()

    def line(self, text):
        if not self.f:
            return
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self.lock:
            self.f.write("%s %s\n" % (stamp, text))


def q(v):
    """Quote a header value for the log (json string, '-' when absent)."""
    return "-" if v is None else json.dumps(v, ensure_ascii=True)


# ---------------------------------------------------------------- request context

class Req:
    def __init__(self, method, target, headers, body, base, batch=False):
        self.method = method
        self.target = target
        path, _, self.qs = target.partition("?")
        self.path = path
        self.segs = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
        self.headers = headers          # dict, lower-case names
        self.body = body
        self.base = base                # https://host:port
        self.batch = batch
        self.request_id = str(uuid.uuid4())
        self.client_request_id = headers.get("client-request-id") or self.request_id
        self.query = None

    def h(self, name):
        return self.headers.get(name.lower())


class App:
    """Request handling, independent of the socket layer."""

    def __init__(self, state, log):
        self.s = state
        self.log = log

    # -- entry point ------------------------------------------------------

    def handle(self, rq):
        segs = rq.segs
        try:
            if segs[:1] == ["auth"]:
                with self.s.lock:
                    self.s.stats["auth_requests"] += 1
                return self.auth(rq)
            if segs[:1] == ["graph"]:
                return self.graph(rq)
            if segs[:1] == ["_test"]:
                return self.test_hook(rq)
        except Bad as e:
            return e.resp
        return Resp(404, {"error": "not_found", "error_description": "no such endpoint: %s" % rq.path})

    def injected_failure(self, rq, graph):
        """fail_next / throttle_503_once / throttle_every_n, in that order."""
        k = self.s.knobs
        with self.s.lock:
            for i, f in enumerate(k["fail_next"]):
                if f.get("match", "/graph/") in rq.path:
                    if int(f.get("after", 0) or 0) > 0:
                        # let this many matching requests through first
                        f["after"] = int(f["after"]) - 1
                        return None
                    n = int(f.get("count", 1)) - 1
                    if n <= 0:
                        del k["fail_next"][i]
                    else:
                        f["count"] = n
                    return self.failure(rq, graph, int(f.get("status", 503)), f.get("retry_after", 1), f.get("code"))
            if not graph:
                return None
            self.s.graph_counter += 1
            if k["throttle_503_once"]:
                k["throttle_503_once"] = False
                return self.failure(rq, graph, 503, k["retry_after_s"], None)
            n = int(k["throttle_every_n"] or 0)
            if n > 0 and self.s.graph_counter % n == 0:
                return self.failure(rq, graph, 429, k["retry_after_s"], None)
        return None

    def drop(self, rq):
        """drop_next: whether to close this request's connection without an answer."""
        with self.s.lock:
            q = self.s.knobs["drop_next"]
            for i, f in enumerate(q):
                if f.get("match", "/graph/") in rq.path:
                    n = int(f.get("count", 1)) - 1
                    if n <= 0:
                        del q[i]
                    else:
                        f["count"] = n
                    self.s.stats["dropped"] += 1
                    return True
        return False

    def failure(self, rq, graph, status, retry_after, code):
        with self.s.lock:
            self.s.stats["throttled"] += 1
        hdrs = [("Retry-After", str(retry_after))] if retry_after is not None else []
        if graph:
            code = code or {429: "TooManyRequests", 503: "serviceNotAvailable", 504: "gatewayTimeout",
                            500: "generalException"}.get(status, "UnknownError")
            msg = {429: "Too many requests. Please retry after the time given in the Retry-After header."}.get(
                status, "The service is temporarily unavailable. Retry the request.")
            r = self.graph_error(rq, status, code, msg, hdrs)
        else:
            r = self.aad_error(rq, status, code or "temporarily_unavailable", 90025 if status == 429 else 50001,
                               "Service temporarily unavailable (injected by the emulator).", hdrs)
        r.note = "injected=%d" % status
        return r

    # -- identity platform -------------------------------------------------

    def aad_error(self, rq, status, error, code, desc, headers=None):
        trace = str(uuid.uuid4())
        corr = rq.h("client-request-id") or str(uuid.uuid4())
        ts = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        full = "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s" % (code, desc, trace, corr, ts)
        body = {"error": error, "error_description": full, "error_codes": [code], "timestamp": ts,
                "trace_id": trace, "correlation_id": corr,
                "error_uri": "https://login.microsoftonline.com/error?code=%d" % code}
        r = Resp(status, body, list(headers or []) + [("Cache-Control", "no-store, no-cache"),
                                                         ("x-ms-request-id", trace)])
        r.note = "error=%s AADSTS%d" % (error, code)
        return r

    def auth(self, rq):
        segs = rq.segs   # ["auth", tenant, ...]
        if len(segs) == 5 and segs[2:4] == ["oauth2", "v2.0"] and segs[4] in ("token", "devicecode"):
            if rq.method != "POST":
                return self.aad_error(rq, 400, "invalid_request", 900561,
                                      "The endpoint only accepts POST, OPTIONS requests. Received a %s request." % rq.method)
            bad = self.injected_failure(rq, graph=False)
            if bad:
                return bad
            ctype = (rq.h("content-type") or "").split(";")[0].strip().lower()
            form = parse_form(rq.body) if ctype == "application/x-www-form-urlencoded" else None
            if form is None:
                return self.aad_error(rq, 400, "invalid_request", 900144,
                                      "The request body must contain the following parameter: 'grant_type'."
                                      if segs[4] == "token" else
                                      "The request body must contain the following parameter: 'client_id'.")
            tenant = segs[1]
            if segs[4] == "devicecode":
                return self.devicecode(rq, tenant, form)
            return self.token(rq, tenant, form)
        if len(segs) == 5 and segs[2:] == ["v2.0", ".well-known", "openid-configuration"] and rq.method == "GET":
            with self.s.lock:
                if not self.s.tenant_ok(segs[1]):
                    return self.aad_error(rq, 400, "invalid_tenant", 90002, "Tenant '%s' not found." % segs[1])
                tid = self.s.tenant_id
            a = "%s/auth/%s" % (rq.base, segs[1])
            return Resp(200, {"token_endpoint": a + "/oauth2/v2.0/token",
                              "device_authorization_endpoint": a + "/oauth2/v2.0/devicecode",
                              "issuer": "%s/auth/%s/v2.0" % (rq.base, tid),
                              "jwks_uri": a + "/discovery/v2.0/keys",
                              "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                                        "client_secret_basic"],
                              "tenant_region_scope": "WW"})
        if (rq.method == "GET" and segs[2:3] == ["discovery"]
                and segs[3:] in (["keys"], ["v2.0", "keys"])):
            return self.jwks(rq, segs[1])
        return self.aad_error(rq, 404, "invalid_request", 900000, "Endpoint %s not served by the emulator." % rq.path)

    def check_tenant(self, rq, tenant, delegated=True):
        ok = self.s.tenant_ok(tenant, delegated)
        if ok is None:
            raise Bad(self.aad_error(rq, 400, "invalid_request", 90002,
                                     "Tenant '%s' not found. Check to make sure you have the correct tenant ID and "
                                     "are signing into the correct cloud." % tenant))
        if ok == "alias":
            raise Bad(self.aad_error(rq, 400, "invalid_request", 50059,
                                     "No tenant-identifying information found in either the request or implied by "
                                     "any provided credentials."))

    def find_app(self, rq, client_id):
        if not client_id:
            raise Bad(self.aad_error(rq, 400, "invalid_request", 900144,
                                     "The request body must contain the following parameter: 'client_id'."))
        app = self.s.apps.get(client_id.lower())
        if app is None:
            raise Bad(self.aad_error(rq, 400, "unauthorized_client", 700016,
                                     "Application with identifier '%s' was not found in the directory '%s'. This can "
                                     "happen if the application has not been installed by the administrator of the "
                                     "tenant or consented to by any user in the tenant." % (client_id, self.s.tenant_name)))
        return app

    def parse_scopes(self, rq, text):
        """-> (perms set, oidc set, default flag, resource host)."""
        res = self.scope_resource(rq, text)
        if res is not None:
            # Key Vault / ARM: only user_impersonation and .default (validated above)
            return ({"user_impersonation"}, {t.lower() for t in text.split() if t.lower() in OIDC_SCOPES},
                    any(t.endswith("/.default") for t in text.split()), res[1])
        perms, oidc, default, host = set(), set(), False, None
        for tok in text.split():
            if tok.lower() in OIDC_SCOPES:
                oidc.add(tok.lower())
                continue
            m = re.match(r"^(https?://[^/]+)/(.+)$", tok)
            name = m.group(2) if m else tok
            if m and host is None:
                host = m.group(1)
            if name == ".default":
                default = True
                continue
            canon = KNOWN_PERMS.get(name.lower())
            if canon is None:
                raise Bad(self.aad_error(rq, 400, "invalid_scope", 70011,
                                         "The provided request must include a 'scope' input parameter. The provided "
                                         "value for the input parameter 'scope' is not valid. The scope %s is not "
                                         "valid." % tok))
            perms.add(canon)
        return perms, oidc, default, host or DEFAULT_GRAPH_HOST

    def devicecode(self, rq, tenant, form):
        with self.s.lock:
            self.check_tenant(rq, tenant)
            app = self.find_app(rq, form.get("client_id"))
            if not app.get("public"):
                raise Bad(self.aad_error(rq, 401, "invalid_client", 7000218,
                                         "The request body must contain the following parameter: 'client_assertion' or "
                                         "'client_secret'."))
            if not form.get("scope"):
                raise Bad(self.aad_error(rq, 400, "invalid_request", 900144,
                                         "The request body must contain the following parameter: 'scope'."))
            self.parse_scopes(rq, form["scope"])       # validates
            self.resource_refused(rq, app, self.scope_resource(rq, form["scope"]))
            df = self.s.knobs["device_flow"]
            now = time.time()
            for dc in [d for d, r in self.s.device_codes.items() if r["expires"] < now - 3600]:
                del self.s.device_codes[dc]
            if len(self.s.device_codes) > 1000:
                raise Bad(self.aad_error(rq, 429, "temporarily_unavailable", 90025, "Too many device codes."))
            device_code = "DAQABAAEAAA" + secrets.token_urlsafe(48)
            user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
            interval = int(df["interval"])
            self.s.codes_issued += 1
            rec = {"device_code": device_code, "user_code": user_code, "client_id": app["client_id"],
                   "scope": form["scope"], "created": now, "expires": now + int(df["expires_in"]),
                   "interval": interval, "status": "pending", "user": None, "polls": 0, "pending_answers": 0,
                   "last_poll": None, "tenant": tenant, "seq": self.s.codes_issued}
            self.s.device_codes[device_code] = rec
            self.s.codes_cond.notify_all()
            uri = df["verification_uri"]
            r = Resp(200, {"user_code": user_code, "device_code": device_code, "verification_uri": uri,
                           "expires_in": int(df["expires_in"]), "interval": interval,
                           "message": "To sign in, use a web browser to open the page %s and enter the code %s to "
                                      "authenticate." % (uri, user_code)},
                     [("Cache-Control", "no-store, no-cache")])
            r.note = "user_code=%s" % user_code
            return r

    def token(self, rq, tenant, form):
        grant = form.get("grant_type")
        with self.s.lock:
            tr = self.s.stats["token_requests"]
            tr[grant or "-"] = tr.get(grant or "-", 0) + 1
        if not grant:
            return self.aad_error(rq, 400, "invalid_request", 900144,
                                  "The request body must contain the following parameter: 'grant_type'.")
        if grant == DEVICE_CODE_GRANT:
            return self.grant_device_code(rq, tenant, form)
        if grant == "refresh_token":
            # a slow token endpoint: parallel clients overlap (a refresh token is used once)
            delay = min(int(self.s.knobs["refresh_delay_ms"] or 0), 20000)
            if delay > 0:
                time.sleep(delay / 1000.0)
            return self.grant_refresh(rq, tenant, form)
        if grant == "client_credentials":
            return self.grant_client_credentials(rq, tenant, form)
        return self.aad_error(rq, 400, "unsupported_grant_type", 70003,
                              "The app requested an unsupported grant type '%s'." % grant)

    def public_client_no_secret(self, rq, form, app):
        if app.get("public") and (form.get("client_secret") or form.get("client_assertion")):
            raise Bad(self.aad_error(rq, 401, "invalid_client", 700025,
                                     "Client is public so neither 'client_assertion' nor 'client_secret' should be "
                                     "presented."))
        if not app.get("public"):
            raise Bad(self.aad_error(rq, 401, "invalid_client", 7000218,
                                     "The request body must contain the following parameter: 'client_assertion' or "
                                     "'client_secret'."))

    def grant_device_code(self, rq, tenant, form):
        with self.s.lock:
            self.check_tenant(rq, tenant)
            app = self.find_app(rq, form.get("client_id"))
            self.public_client_no_secret(rq, form, app)
            code = form.get("device_code")
            if not code:
                raise Bad(self.aad_error(rq, 400, "invalid_request", 900144,
                                         "The request body must contain the following parameter: 'device_code'."))
            rec = self.s.device_codes.get(code)
            if rec is None or rec["client_id"].lower() != app["client_id"].lower():
                raise Bad(self.aad_error(rq, 400, "bad_verification_code", 70000,
                                         "The provided value for the input parameter 'device_code' is not valid."))
            now = time.time()
            mono = time.monotonic()
            rec["polls"] += 1
            last, rec["last_poll"] = rec["last_poll"], mono
            df = self.s.knobs["device_flow"]
            if rec["status"] == "redeemed":
                raise Bad(self.aad_error(rq, 400, "invalid_grant", 54005,
                                         "OAuth2 Authorization code was already redeemed, please retry with a new valid "
                                         "code or use an existing refresh token."))
            if now >= rec["expires"]:
                raise Bad(self.aad_error(rq, 400, "expired_token", 70020,
                                         "The provided value for the input parameter 'device_code' is not valid. This "
                                         "device code has expired."))
            if rec["status"] == "declined":
                raise Bad(self.aad_error(rq, 400, "authorization_declined", 70000,
                                         "The user has declined the authorization request."))
            # RFC 8628 3.5: a client polling faster than the interval gets slow_down, and
            # the interval grows by 5 s for this and all later requests.
            too_fast = df["enforce_interval"] and last is not None and mono - last < rec["interval"] - 0.1
            if too_fast or rec["polls"] == int(df["slow_down_on_poll"] or 0):
                rec["interval"] += int(df["slow_down_increment_s"])
                raise Bad(self.aad_error(rq, 400, "slow_down", 70016,
                                         "OAuth 2.0 device flow error. Polling too fast; add %d seconds to the polling "
                                         "interval (now %d s)." % (int(df["slow_down_increment_s"]), rec["interval"])))
            auto = df.get("auto_approve_user")
            if rec["status"] == "pending" and auto and rec["pending_answers"] >= int(df["pending_polls"] or 0):
                if auto.lower() in self.s.users:
                    rec["status"], rec["user"] = "approved", auto.lower()
            if rec["status"] != "approved":
                rec["pending_answers"] += 1
                raise Bad(self.aad_error(rq, 400, "authorization_pending", 70016,
                                         "OAuth 2.0 device flow error. Authorization is pending. Continue polling."))
            rec["status"] = "redeemed"
            user = self.s.users[rec["user"]]
            return self.issue_delegated(rq, app, user, rec["scope"], "device_code")

    def issue_delegated(self, rq, app, user, scope_text, how):
        """Tokens for a user: granted = requested ∩ the user's scopes (lock held)."""
        res = self.scope_resource(rq, scope_text)
        if res is not None:
            return self.issue_resource_delegated(rq, app, user, scope_text, how, res)
        perms, oidc, default, host = self.parse_scopes(rq, scope_text)
        allowed = {KNOWN_PERMS.get(s.lower(), s) for s in user["scopes"]}
        granted = (perms | (allowed - set(OIDC_SCOPES) if default else set())) & allowed
        offline = "offline_access" in oidc and "offline_access" in allowed
        now = time.time()
        life = int(self.s.knobs["token_lifetime_s"])
        at = "emuAT." + secrets.token_urlsafe(32)
        self._purge_tokens(now)
        self.s.access_tokens[at] = {"kind": "user", "upn": user["upn"], "oid": user["id"],
                                    "client_id": app["client_id"], "perms": set(granted),
                                    "key_read_role": user.get("key_read_role", True), "exp": now + life}
        scope_out = [host + "/" + p for p in sorted(granted)]
        scope_out += [s for s in OIDC_SCOPES if s in oidc and (s != "offline_access" or offline)]
        body = {"token_type": "Bearer", "scope": " ".join(scope_out), "expires_in": life,
                "ext_expires_in": life, "access_token": at}
        if offline:
            rt = "emuRT." + secrets.token_urlsafe(48)
            self.s.refresh_tokens[rt] = {"upn": user["upn"].lower(), "client_id": app["client_id"],
                                         "scope": scope_text, "status": "valid",
                                         "exp": now + int(self.s.knobs["refresh_token_lifetime_s"])}
            body["refresh_token"] = rt
        if "openid" in oidc:
            tid = self.s.tenant_id
            claims = {"aud": app["client_id"], "iss": "%s/auth/%s/v2.0" % (rq.base, tid), "iat": int(now),
                      "nbf": int(now), "exp": int(now) + life, "name": user["name"], "oid": user["id"],
                      "preferred_username": user["upn"], "upn": user["upn"], "sub": b64url(user["id"].encode()),
                      "tid": tid, "ver": "2.0"}
            body["id_token"] = b64url(jdump({"typ": "JWT", "alg": "none"})) + "." + b64url(jdump(claims)) + "."
        self.s.stats["tokens_issued"] += 1
        r = Resp(200, body, [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")])
        r.note = "issued=%s user=%s" % (how, user["upn"])
        return r

    def _purge_tokens(self, now):
        if len(self.s.access_tokens) > 20000:
            for t in [t for t, r in self.s.access_tokens.items() if r["exp"] < now]:
                del self.s.access_tokens[t]
        if len(self.s.refresh_tokens) > 20000:
            for t in [t for t, r in self.s.refresh_tokens.items() if r["exp"] < now or r["status"] != "valid"]:
                del self.s.refresh_tokens[t]
        if len(self.s.jtis) > 20000:
            for j in [j for j, e in self.s.jtis.items() if e < now - SKEW_S]:
                del self.s.jtis[j]

    def grant_refresh(self, rq, tenant, form):
        with self.s.lock:
            self.check_tenant(rq, tenant)
            app = self.find_app(rq, form.get("client_id"))
            self.public_client_no_secret(rq, form, app)
            rt = form.get("refresh_token")
            if not rt:
                raise Bad(self.aad_error(rq, 400, "invalid_request", 900144,
                                         "The request body must contain the following parameter: 'refresh_token'."))
            rec = self.s.refresh_tokens.get(rt)
            if rec is None:
                raise Bad(self.aad_error(rq, 400, "invalid_grant", 9002313,
                                         "Invalid request. Request is malformed or invalid."))
            if rec["status"] == "redeemed":
                raise Bad(self.aad_error(rq, 400, "invalid_grant", 70000,
                                         "The provided value for 'refresh_token' is not valid: it was already redeemed. "
                                         "Refresh tokens are rotated; use the one returned with the last token."))
            if rec["status"] == "revoked":
                raise Bad(self.aad_error(rq, 400, "invalid_grant", 50173,
                                         "The provided grant has expired due to it being revoked, a fresh auth token is "
                                         "needed."))
            if rec["exp"] <= time.time():
                raise Bad(self.aad_error(rq, 400, "invalid_grant", 700082,
                                         "The refresh token has expired due to inactivity."))
            if rec["client_id"].lower() != app["client_id"].lower():
                raise Bad(self.aad_error(rq, 400, "invalid_grant", 70000,
                                         "The refresh token was issued to a different client."))
            scope = form.get("scope") or rec["scope"]
            self.parse_scopes(rq, scope)
            self.check_refresh_resource(rq, rec, scope)
            rec["status"] = "redeemed"
            # a refreshed grant keeps offline_access even if the client dropped it from scope
            if "offline_access" not in scope.split():
                scope += " offline_access"
            return self.issue_delegated(rq, app, self.s.users[rec["upn"]], scope, "refresh_token")

    def grant_client_credentials(self, rq, tenant, form):
        with self.s.lock:
            self.check_tenant(rq, tenant, delegated=False)
            assertion = form.get("client_assertion")
            secret = form.get("client_secret")
            client_id = form.get("client_id")
            basic = rq.h("authorization")
            if basic and basic.lower().startswith("basic "):
                try:
                    cid, _, sec = base64.b64decode(basic[6:].strip()).decode("utf-8").partition(":")
                    client_id = client_id or urllib.parse.unquote_plus(cid)
                    secret = secret or urllib.parse.unquote_plus(sec)
                except (ValueError, UnicodeDecodeError):
                    raise Bad(self.aad_error(rq, 401, "invalid_client", 7000215, "Malformed Basic authorization."))
            if assertion and not client_id:
                try:
                    client_id = json.loads(b64url_decode(assertion.split(".")[1])).get("iss")
                except (ValueError, IndexError, AttributeError):
                    client_id = None
            app = self.find_app(rq, client_id)
            if app.get("public"):
                if secret or assertion:
                    raise Bad(self.aad_error(rq, 401, "invalid_client", 700025,
                                             "Client is public so neither 'client_assertion' nor 'client_secret' "
                                             "should be presented."))
                raise Bad(self.aad_error(rq, 400, "unauthorized_client", 700016,
                                         "The client credentials grant is not available to public client '%s'."
                                         % app["client_id"]))
            if secret and assertion:
                raise Bad(self.aad_error(rq, 400, "invalid_request", 90014,
                                         "Only one of 'client_secret' and 'client_assertion' may be presented."))
            if not secret and not assertion:
                raise Bad(self.aad_error(rq, 401, "invalid_client", 7000218,
                                         "The request body must contain the following parameter: 'client_assertion' "
                                         "or 'client_secret'."))
            if secret is not None and not assertion:
                if not app.get("secret") or not hmac.compare_digest(secret.encode(), app["secret"].encode()):
                    raise Bad(self.aad_error(rq, 401, "invalid_client", 7000215,
                                             "Invalid client secret provided. Ensure the secret being sent in the "
                                             "request is the client secret value, not the client secret ID, for a "
                                             "secret added to app '%s'." % app["client_id"]))
                how = "client_secret"
            else:
                if form.get("client_assertion_type") != JWT_BEARER:
                    raise Bad(self.aad_error(rq, 400, "invalid_request", 900144,
                                             "client_assertion_type must be '%s'." % JWT_BEARER))
                self.verify_assertion(rq, app, assertion)
                how = "client_assertion"
            scope = form.get("scope") or ""
            parts = scope.split()
            if len(parts) != 1 or not parts[0].endswith("/.default"):
                raise Bad(self.aad_error(rq, 400, "invalid_scope", 1002012,
                                         "The provided value for scope %s is not valid. Client credential flows must "
                                         "have a scope value with /.default suffixed to the resource identifier "
                                         "(application ID URI)." % (scope or "''")))
            res = self.scope_resource(rq, scope)
            if res is not None:
                return self.issue_resource_app(rq, app, res, how)
            now = time.time()
            life = int(self.s.knobs["token_lifetime_s"])
            at = "emuAT." + secrets.token_urlsafe(32)
            self._purge_tokens(now)
            self.s.access_tokens[at] = {"kind": "app", "upn": None, "oid": None, "client_id": app["client_id"],
                                        "perms": {KNOWN_PERMS.get(r.lower(), r) for r in app.get("roles", [])},
                                        "key_read_role": True, "exp": now + life}
            self.s.stats["tokens_issued"] += 1
            r = Resp(200, {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": at},
                     [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")])
            r.note = "issued=%s app=%s" % (how, app["client_id"])
            return r

    def verify_assertion(self, rq, app, jwt):
        """Check a client assertion like Entra does (RFC 7523 + Microsoft's certificate-credential rules)."""
        def fail(code, desc):
            raise Bad(self.aad_error(rq, 401, "invalid_client", code, desc))

        parts = jwt.split(".")
        if len(parts) != 3:
            fail(50027, "JWT token is invalid or malformed.")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            fail(50027, "JWT token is invalid or malformed.")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            fail(50027, "JWT token is invalid or malformed.")
        alg = header.get("alg")
        if alg not in ("PS256", "RS256"):
            fail(5002738, "Invalid JWT token. '%s' is not a supported signature algorithm. Supported signing "
                          "algorithms are: 'RS256, RS384, RS512, PS256'" % alg)
        # PS256 must name the certificate by its SHA-256 thumbprint (x5t#S256);
        # RS256 may use the SHA-1 one (x5t) as in the older documentation.
        names = []
        if header.get("x5t#S256"):
            names.append("x5t#S256:" + str(header["x5t#S256"]))
        if header.get("x5t") and alg == "RS256":
            names.append("x5t:" + str(header["x5t"]))
        if not names:
            fail(700027, "Client assertion failed signature validation. [Reason - The key was not found., "
                         "header has no %s]" % ("x5t#S256" if alg == "PS256" else "x5t or x5t#S256"))
        ders = {app["thumbs"].get(n) for n in names}
        if None in ders or len(ders) != 1:
            fail(700027, "The certificate with identifier used to sign the client assertion is not registered on "
                         "application. [Reason - The key was not found., Thumbprint of key used by client: '%s']"
                 % names[0].split(":", 1)[1])
        der = ders.pop()
        try:
            from cryptography import x509
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding
        except ImportError:
            fail(700027, "emulator: python3-cryptography is not installed, cannot verify assertions")
        pub = x509.load_der_x509_certificate(der).public_key()
        signed = (parts[0] + "." + parts[1]).encode("ascii")
        # RFC 7518 3.5: PS256 uses MGF1-SHA256 and a salt as long as the hash (32 bytes).
        pad = (padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if alg == "PS256"
               else padding.PKCS1v15())
        try:
            pub.verify(sig, signed, pad, hashes.SHA256())
        except (InvalidSignature, ValueError):
            fail(700027, "Client assertion contains an invalid signature. [Reason - The key was not found., "
                         "Thumbprint of key used by client: '%s']" % names[0].split(":", 1)[1])
        expected_aud = "https://%s%s" % (rq.h("host") or "", rq.path)
        if claims.get("aud") != expected_aud:
            fail(50013, "Assertion audience claim does not match the token endpoint. Expected '%s', got '%s'."
                 % (expected_aud, claims.get("aud")))
        if claims.get("iss") != app["client_id"] or claims.get("sub") != app["client_id"]:
            fail(700021, "Client assertion application identifier doesn't match 'client_id' parameter: iss and sub "
                         "must both be '%s'." % app["client_id"])
        now = time.time()
        for c in ("exp", "nbf", "iat"):
            if c in claims and not isinstance(claims[c], (int, float)):
                fail(700024, "Client assertion claim '%s' is not a number." % c)
        if "exp" not in claims:
            fail(700024, "Client assertion has no 'exp' claim.")
        if claims["exp"] <= now:
            fail(700024, "Client assertion is not within its valid time range: it expired at %s." % iso(claims["exp"]))
        for c in ("nbf", "iat"):
            if c in claims and claims[c] > now + SKEW_S:
                fail(700024, "Client assertion is not within its valid time range: '%s' is in the future." % c)
        start = claims.get("iat", claims.get("nbf", now))
        if claims["exp"] - start > MAX_ASSERTION_LIFETIME_S + SKEW_S:
            fail(700024, "Client assertion is valid for too long (exp - iat = %d s; the limit is 10 minutes)."
                 % (claims["exp"] - start))
        jti = claims.get("jti")
        if not jti or not isinstance(jti, str):
            fail(50012, "Client assertion has no 'jti' claim.")
        key = app["client_id"].lower() + "|" + jti
        if key in self.s.jtis:
            fail(50012, "Client assertion 'jti' %s was already used (replayed assertion)." % jti)
        self.s.jtis[key] = claims["exp"]

    # -- tokens for other resources (Key Vault, ARM: tests/keyvault/) -----

    def scope_resource(self, rq, text):
        """(canonical resource, aud as requested) when the scopes name Key Vault or ARM, else None.

        Scopes of two resources in one request are refused (AADSTS28000), and so is any
        permission of those resources other than user_impersonation or .default.
        """
        found = {}
        for tok in text.split():
            if tok.lower() in OIDC_SCOPES:
                continue
            m = re.match(r"^(https?://.+)/([^/]*)$", tok)
            res = m.group(1) if m else DEFAULT_GRAPH_HOST
            key = res.rstrip("/").lower()
            if key not in OTHER_RESOURCES:
                key = DEFAULT_GRAPH_HOST
            found.setdefault(key, (res, tok))
            if key != DEFAULT_GRAPH_HOST and m.group(2) != ".default" and m.group(2).lower() not in RESOURCE_PERMS:
                raise Bad(self.aad_error(rq, 400, "invalid_scope", 70011,
                                         "The provided request must include a 'scope' input parameter. The provided "
                                         "value for the input parameter 'scope' is not valid. The scope %s is not "
                                         "valid." % tok))
        if len(found) > 1:
            raise Bad(self.aad_error(rq, 400, "invalid_scope", 28000,
                                     "Provided value for the input parameter scope is not valid because it contains "
                                     "more than one resource. Scope %s is not valid." % text))
        if not found or DEFAULT_GRAPH_HOST in found:
            return None
        key, (res, _) = next(iter(found.items()))
        return key, res

    def resource_refused(self, rq, app, res):
        """Knob resource_refused_clients: a first-party client not preauthorized for the resource."""
        if res is None:
            return
        refused = [c.lower() for c in self.s.knobs["resource_refused_clients"] or []]
        if app["client_id"].lower() in refused:
            raise Bad(self.aad_error(rq, 400, "invalid_client", 65002,
                                     "Consent between first party application '%s' and first party resource '%s' "
                                     "must be configured via preauthorization - applications owned and operated by "
                                     "Microsoft must get approval from the API owner before requesting tokens for "
                                     "that API." % (app["client_id"], OTHER_RESOURCES[res[0]][1])))

    def check_refresh_resource(self, rq, rec, scope):
        """Refresh tokens are per resource unless the knob refresh_cross_resource is set."""
        res = self.scope_resource(rq, scope)
        want = res[0] if res else None
        if want != rec.get("resource") and not self.s.knobs["refresh_cross_resource"]:
            raise Bad(self.aad_error(rq, 400, "invalid_grant", 70000,
                                     "The provided value for 'refresh_token' is not valid: it was issued for resource "
                                     "'%s' and cannot be redeemed for '%s' (the emulator keeps refresh tokens per "
                                     "resource; knob refresh_cross_resource)." % (rec.get("resource") or
                                                                                  DEFAULT_GRAPH_HOST,
                                                                                  want or DEFAULT_GRAPH_HOST)))

    def signing_key(self):
        """The RSA key that signs Key Vault / ARM tokens: made on first use, kept until exit."""
        with self.s.lock:
            key = getattr(self, "_signing", None)
            if key is None:
                try:
                    from cryptography.hazmat.primitives.asymmetric import rsa
                    from cryptography.hazmat.primitives import serialization
                except ImportError:
                    raise Bad(Resp(500, {"error": "server_error", "error_description":
                                         "emulator: python3-cryptography is needed to sign resource tokens"}))
                priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                der = priv.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
                kid = b64url(hashlib.sha1(der).digest())
                nums = priv.public_key().public_numbers()
                n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
                jwk = {"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid, "n": b64url(n),
                       "e": b64url(nums.e.to_bytes(3, "big")), "alg": "RS256"}
                key = self._signing = (priv, kid, jwk)
            return key

    def jwks(self, rq, tenant):
        with self.s.lock:
            if not self.s.tenant_ok(tenant):
                return self.aad_error(rq, 400, "invalid_tenant", 90002, "Tenant '%s' not found." % tenant)
        return Resp(200, {"keys": [self.signing_key()[2]]})

    def sign_jwt(self, claims):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        priv, kid, _ = self.signing_key()
        head = b64url(jdump({"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid})) + "." + b64url(jdump(claims))
        return head + "." + b64url(priv.sign(head.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()))

    def resource_claims(self, res, app, now, life):
        tid = self.s.tenant_id
        iss = "https://sts.windows.net/%s/" % tid
        return {"aud": res[1], "iss": iss, "iat": int(now), "nbf": int(now), "exp": int(now) + life,
                "appid": app["client_id"], "tid": tid, "uti": secrets.token_urlsafe(16), "ver": "1.0",
                "idp": iss}

    def issue_resource_delegated(self, rq, app, user, scope_text, how, res):
        """A user's token for Key Vault or ARM: a signed JWT, scp user_impersonation (lock held)."""
        self.resource_refused(rq, app, res)
        oidc = {t.lower() for t in scope_text.split() if t.lower() in OIDC_SCOPES}
        allowed = {s.lower() for s in user["scopes"]}
        offline = "offline_access" in oidc and "offline_access" in allowed
        now = time.time()
        life = int(self.s.knobs["token_lifetime_s"])
        claims = self.resource_claims(res, app, now, life)
        claims.update({"appidacr": "0", "idtyp": "user", "amr": ["pwd"], "name": user["name"], "oid": user["id"],
                       "scp": "user_impersonation", "sub": b64url(hashlib.sha256(
                           (user["id"] + res[0]).encode()).digest()[:24]),
                       "unique_name": user["upn"], "upn": user["upn"]})
        at = self.sign_jwt(claims)
        self._purge_tokens(now)
        self.s.access_tokens[at] = {"kind": "user", "upn": user["upn"], "oid": user["id"],
                                    "client_id": app["client_id"], "perms": {"user_impersonation"},
                                    "key_read_role": False, "exp": now + life, "resource": res[0]}
        scope_out = [res[1].rstrip("/") + "/user_impersonation"]
        scope_out += [s for s in OIDC_SCOPES if s in oidc and (s != "offline_access" or offline)]
        body = {"token_type": "Bearer", "scope": " ".join(scope_out), "expires_in": life,
                "ext_expires_in": life, "access_token": at}
        if offline:
            rt = "emuRT." + secrets.token_urlsafe(48)
            self.s.refresh_tokens[rt] = {"upn": user["upn"].lower(), "client_id": app["client_id"],
                                         "scope": scope_text, "status": "valid", "resource": res[0],
                                         "exp": now + int(self.s.knobs["refresh_token_lifetime_s"])}
            body["refresh_token"] = rt
        if "openid" in oidc:
            tid = self.s.tenant_id
            idc = {"aud": app["client_id"], "iss": "%s/auth/%s/v2.0" % (rq.base, tid), "iat": int(now),
                   "nbf": int(now), "exp": int(now) + life, "name": user["name"], "oid": user["id"],
                   "preferred_username": user["upn"], "upn": user["upn"], "sub": b64url(user["id"].encode()),
                   "tid": tid, "ver": "2.0"}
            body["id_token"] = b64url(jdump({"typ": "JWT", "alg": "none"})) + "." + b64url(jdump(idc)) + "."
        self.s.stats["tokens_issued"] += 1
        r = Resp(200, body, [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")])
        r.note = "issued=%s user=%s resource=%s" % (how, user["upn"], res[0])
        return r

    def issue_resource_app(self, rq, app, res, how):
        """An application's token for Key Vault or ARM: a signed JWT without scp or roles (lock held)."""
        self.resource_refused(rq, app, res)
        now = time.time()
        life = int(self.s.knobs["token_lifetime_s"])
        # the service principal's object id: not in the fixture, derived from the client id
        sp = str(uuid.uuid5(uuid.NAMESPACE_URL, "bdekey-emulator-sp:" + app["client_id"].lower()))
        claims = self.resource_claims(res, app, now, life)
        claims.update({"appidacr": "2" if how == "client_assertion" else "1", "idtyp": "app", "oid": sp,
                       "sub": sp})
        at = self.sign_jwt(claims)
        self._purge_tokens(now)
        self.s.access_tokens[at] = {"kind": "app", "upn": None, "oid": sp, "client_id": app["client_id"],
                                    "perms": set(), "key_read_role": False, "exp": now + life, "resource": res[0]}
        self.s.stats["tokens_issued"] += 1
        r = Resp(200, {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": at},
                 [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")])
        r.note = "issued=%s app=%s resource=%s" % (how, app["client_id"], res[0])
        return r

    # -- Graph ------------------------------------------------------------

    def graph_error(self, rq, status, code, message, headers=None):
        body = {"error": {"code": code, "message": message,
                          "innerError": {"date": iso(time.time()), "request-id": rq.request_id,
                                         "client-request-id": rq.client_request_id}}}
        r = Resp(status, body, headers)
        r.note = "error=%s" % code
        return r

    def authz_error(self):
        # the body observed from the recoveryKeys API (no innerError)
        r = Resp(403, {"error": {"code": "authorization_error",
                                 "message": "Failed to authorize, token doesn't have the required permissions."}})
        r.note = "error=authorization_error"
        return r

    def graph(self, rq):
        with self.s.lock:
            self.s.stats["graph_requests"] += 1 if not rq.batch else 0
            if rq.batch:
                self.s.stats["batch_items"] += 1
        if self.s.knobs["require_user_agent"] and not rq.h("user-agent") and not rq.batch:
            return self.graph_error(rq, 400, "BadRequest", "The User-Agent header is required.")
        bad = self.injected_failure(rq, graph=True)
        if bad:
            return bad
        tok = self.bearer(rq)
        if isinstance(tok, Resp):
            return tok
        segs = rq.segs[1:]          # drop "graph"
        if not segs or segs[0] not in ("v1.0", "beta"):
            return self.graph_error(rq, 400, "BadRequest", "Invalid version: %s" % (segs[0] if segs else ""))
        version, rest = segs[0], [s for s in segs[1:]]
        low = [s.lower() for s in rest]
        try:
            rq.query = parse_query(rq.qs)
        except ValueError as e:
            return self.graph_error(rq, 400, "BadRequest", "Invalid query string: %s" % e)
        if "key" in [p.strip().lower() for p in rq.query.get("$select", "").split(",")]:
            # a request that asks for the password, whatever the answer (report must never)
            with self.s.lock:
                self.s.stats["key_selected"] += 1
        if low == ["devices"]:
            self.count("device_list_requests")
            return self.only(rq, "GET") or self.list_devices(rq, tok, version)
        if low == ["informationprotection", "bitlocker", "recoverykeys"]:
            self.count("key_list_requests")
            return self.only(rq, "GET") or self.list_keys(rq, tok, version)
        if len(low) == 4 and low[:3] == ["informationprotection", "bitlocker", "recoverykeys"]:
            self.count("key_get_requests")
            return self.only(rq, "GET") or self.get_key(rq, tok, rest[3])
        if low == ["$batch"]:
            if rq.batch:
                return self.graph_error(rq, 400, "BadRequest", "Nested $batch requests are not allowed.")
            return self.only(rq, "POST") or self.batch(rq, tok, version)
        if low == ["devicemanagement", "manageddevices"]:
            return self.only(rq, "GET") or self.list_managed(rq, tok, version)
        if len(low) == 3 and low[:2] == ["devicemanagement", "manageddevices"]:
            return self.only(rq, "GET") or self.get_managed(rq, tok, rest[2])
        if len(low) == 4 and low[:2] == ["devicemanagement", "manageddevices"] and low[3] == "rotatebitlockerkeys":
            if version != "beta":
                return self.graph_error(rq, 400, "BadRequest", "Resource not found for the segment 'rotateBitLockerKeys'.")
            return self.only(rq, "POST") or self.rotate(rq, tok, rest[2])
        return self.graph_error(rq, 400, "BadRequest", "Resource not found for the segment '%s'."
                                % (rest[0] if rest else version))

    def count(self, name):
        with self.s.lock:
            self.s.stats[name] += 1

    def only(self, rq, method):
        if rq.method != method:
            return self.graph_error(rq, 405, "Request_BadRequest",
                                    "The HTTP method '%s' is not allowed for this resource." % rq.method)
        return None

    def bearer(self, rq):
        auth = rq.h("authorization") or ""
        hdr = [("WWW-Authenticate", 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                                    'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"')]
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return self.graph_error(rq, 401, "InvalidAuthenticationToken", "Access token is empty.", hdr)
        with self.s.lock:
            tok = self.s.access_tokens.get(auth[7:].strip())
            if tok is None:
                return self.graph_error(rq, 401, "InvalidAuthenticationToken",
                                        "IDX14100: JWT is not well formed, there are no dots (.).", hdr)
            if tok.get("resource"):
                # a Key Vault or ARM token (tests/keyvault/): not for Graph
                return self.graph_error(rq, 401, "InvalidAuthenticationToken",
                                        "Access token validation failure. Invalid audience.", hdr)
            if tok["exp"] <= time.time():
                return self.graph_error(rq, 401, "InvalidAuthenticationToken",
                                        "Lifetime validation failed, the token is expired.", hdr)
            return dict(tok)

    def check_options(self, rq, allowed, code="BadRequest"):
        for name in rq.query:
            if name.startswith("$") and name.lower() not in allowed:
                if name.lower() == "$top":
                    raise Bad(self.graph_error(rq, 400, code, "Query option '$top' is not supported for this "
                                                              "resource."))
                raise Bad(self.graph_error(rq, 400, code, "Query option '%s' is not supported." % name))

    def page_params(self, rq, fingerprint):
        """Decode $skiptoken -> (offset, page number); the token must belong to this query."""
        tokn = rq.query.get("$skiptoken")
        if tokn is None:
            return 0, 1
        try:
            d = json.loads(b64url_decode(tokn[4:]).decode("utf-8")) if tokn.startswith("RFNw") else None
            if not isinstance(d, dict) or d.get("f") != fingerprint:
                raise ValueError
            return int(d["o"]), int(d["p"])
        except (ValueError, KeyError, TypeError):
            raise Bad(self.graph_error(rq, 400, "BadRequest", "Invalid $skiptoken: it does not belong to this query."))

    def next_link(self, rq, fingerprint, offset, page):
        tok = "RFNw" + b64url(jdump({"o": offset, "p": page, "f": fingerprint, "r": secrets.token_hex(4)}))
        params = [(k, v) for k, v in rq.query.items() if k != "$skiptoken"] + [("$skiptoken", tok)]
        qs = "&".join("%s=%s" % (urllib.parse.quote(k, safe="$"), urllib.parse.quote(v, safe="$,()'"))
                      for k, v in params)
        return "%s%s?%s" % (self.s.knobs["next_link_origin"] or rq.base, rq.path, qs)

    def filter_arg(self, rq, code):
        f = rq.query.get("$filter")
        if f is None:
            return None
        try:
            return parse_filter(f)
        except FilterError as e:
            raise Bad(self.graph_error(rq, 400, code, "Invalid filter clause: %s" % e))

    # devices

    def list_devices(self, rq, tok, version):
        if not tok["perms"] & DEVICE_READ:
            return self.graph_error(rq, 403, "Authorization_RequestDenied",
                                    "Insufficient privileges to complete the operation.")
        self.check_options(rq, {"$filter", "$select", "$top", "$skiptoken", "$count"}, "Request_BadRequest")
        flt = self.filter_arg(rq, "Request_UnsupportedQuery")
        match = lambda d: True
        if flt:
            op, prop, val = flt
            prop_c = {"displayname": "displayName", "deviceid": "deviceId", "id": "id"}.get(prop.lower())
            if prop_c is None or (op == "startswith" and prop_c != "displayName"):
                return self.graph_error(rq, 400, "Request_UnsupportedQuery",
                                        "Unsupported or invalid query filter clause specified for property '%s' of "
                                        "resource 'Device'." % prop)
            # directory string comparisons are case-insensitive
            v = val.casefold()
            if op == "eq":
                match = lambda d: d[prop_c].casefold() == v
            else:
                match = lambda d: d[prop_c].casefold().startswith(v)
        props = DEVICE_PROPS
        if "$select" in rq.query:
            try:
                props = parse_select(rq.query["$select"], DEVICE_PROPS)
            except ValueError as e:
                return self.graph_error(rq, 400, "Request_BadRequest",
                                        "Could not find a property named '%s' on type 'microsoft.graph.device'." % e)
        size = int(self.s.knobs["devices_page_size"])
        if "$top" in rq.query:
            try:
                size = int(rq.query["$top"])
                if not 1 <= size <= 999:
                    raise ValueError
            except ValueError:
                return self.graph_error(rq, 400, "Request_BadRequest", "Invalid page size specified: '%s'. Must be "
                                        "between 1 and 999 inclusive." % rq.query["$top"])
            # server-driven paging: a page may hold fewer than $top asked for
            size = min(size, max(1, int(self.s.knobs["devices_top_max"])))
        fp = "dev|%s" % rq.query.get("$filter", "")
        offset, page = self.page_params(rq, fp)
        with self.s.lock:
            if flt and flt[0] == "eq" and flt[1].lower() == "displayname" and re.fullmatch(r"GEN-\d{6}", flt[2], re.I):
                n = int(flt[2][4:])
                source = [d for d in self.s.devices if match(d)] + ([self.s.gen.device(n)] if n < self.s.gen.ndev else [])
                chunk = list(itertools.islice(source, offset, offset + size + 1))
            elif not flt:
                # by index: a page of 100,000 generated devices costs what page 1 costs
                chunk = self.s.devices_slice(offset, offset + size + 1)
            else:
                source = (d for d in self.s.all_devices() if match(d))
                chunk = list(itertools.islice(source, offset, offset + size + 1))
        body = {"@odata.context": "%s/graph/%s/$metadata#devices%s" % (
            rq.base, version, "(%s)" % ",".join(props) if "$select" in rq.query else "")}
        if rq.query.get("$count", "").lower() == "true":
            body["@odata.count"] = len(chunk)   # only exact on single-page answers
        body["value"] = [self.device_json(d, props) for d in chunk[:size]]
        if len(chunk) > size:
            body["@odata.nextLink"] = self.next_link(rq, fp, offset + size, page + 1)
        r = Resp(200, body)
        r.note = "page=%d items=%d" % (page, len(body["value"]))
        return r

    def device_json(self, d, props):
        full = {"id": d["id"], "deviceId": d["deviceId"], "displayName": d["displayName"],
                "operatingSystem": d.get("operatingSystem", "Windows"),
                "operatingSystemVersion": d.get("operatingSystemVersion", "10.0.22631.4317"),
                "trustType": d.get("trustType", "AzureAd"), "accountEnabled": d.get("accountEnabled", True),
                "registrationDateTime": d.get("registrationDateTime", "2023-11-02T08:15:00Z"),
                "approximateLastSignInDateTime": d.get("approximateLastSignInDateTime", "2025-05-30T07:45:00Z"),
                "onPremisesSecurityIdentifier": d.get("onPremisesSecurityIdentifier")}
        return {p: full[p] for p in props}

    # recovery keys

    def key_json(self, k, props):
        return {p: k[p] for p in props}

    def broken_body(self, rq, dev, key=None):
        ctx = "%s/graph/v1.0/$metadata#informationProtection/bitlocker/recoveryKeys" % rq.base
        if dev["broken"] == "json":
            # truncated mid-object: not JSON at all
            r = Resp(200, '{"@odata.context":"%s","value":[{"id":"%s","createdDateTime":"2024-' % (
                ctx, (key or {}).get("id", "")))
            r.note = "broken=json"
            return r
        with self.s.lock:
            cached = self.s.huge_cache.get(rq.base)
        if cached is None:
            k = [kk for kk in self.s.keys if kk["deviceId"] == dev["deviceId"]]
            head = jdump({"@odata.context": ctx, "value": [self.key_json(kk, KEY_PROPS) for kk in k]})[:-1]
            tail = b',"padding":"'
            pad = HUGE_BODY_BYTES - len(head) - len(tail) - 2
            cached = head + tail + b"A" * pad + b'"}'
            with self.s.lock:
                self.s.huge_cache[rq.base] = cached
        r = Resp(200, cached)
        r.note = "broken=huge"
        return r

    def list_keys(self, rq, tok, version):
        self.check_options(rq, {"$filter", "$select", "$skiptoken"})
        if not tok["perms"] & KEY_META:
            return self.authz_error()
        flt = self.filter_arg(rq, "BadRequest")
        device_id = None
        if flt:
            op, prop, val = flt
            if op != "eq" or prop.lower() != "deviceid":
                return self.graph_error(rq, 400, "BadRequest", "Invalid filter clause: only 'deviceId eq' is "
                                                               "supported on recoveryKeys.")
            device_id = val.lower()
        props = KEY_PROPS
        if "$select" in rq.query:
            try:
                # the list never returns key, even when selected
                props = [p for p in parse_select(rq.query["$select"], KEY_PROPS + ["key"]) if p != "key"] or KEY_PROPS
            except ValueError as e:
                return self.graph_error(rq, 400, "BadRequest",
                                        "Could not find a property named '%s' on type "
                                        "'microsoft.graph.bitlockerRecoveryKey'." % e)
        size = int(self.s.knobs["page_size"])
        fp = "keys|%s" % (device_id or "")
        offset, page = self.page_params(rq, fp)
        every = int(self.s.knobs["empty_page_every"] or 0)
        with self.s.lock:
            if device_id is not None:
                dev = self.s.device_by_device_id(device_id)
                if dev is not None and dev["broken"]:
                    return self.broken_body(rq, dev)
                fixed = [k for k in self.s.visible_keys() if k["deviceId"].lower() == device_id]
                d = self.s.gen.index_of("dev", device_id, self.s.gen.ndev)
                gen_list = self.s.gen.keys_of_device(d) if d is not None else []
                items = fixed + gen_list
                total = len(items)
                chunk = items[offset:offset + size]
            else:
                fixed = self.s.visible_keys()
                total = len(fixed) + self.s.gen.n
                chunk = fixed[offset:offset + size]
                i = max(0, offset - len(fixed))
                while len(chunk) < size and i < self.s.gen.n:
                    chunk.append(self.s.gen.key(i))
                    i += 1
        body = {"@odata.context": "%s/graph/%s/$metadata#informationProtection/bitlocker/recoveryKeys%s" % (
            rq.base, version, "(%s)" % ",".join(props) if "$select" in rq.query else "")}
        if every and page % every == 0:
            # an empty page that still points onwards (allowed by the paging contract)
            body["value"] = []
            body["@odata.nextLink"] = self.next_link(rq, fp, offset, page + 1)
            r = Resp(200, body)
            r.note = "page=%d empty" % page
            return r
        body["value"] = [self.key_json(k, props) for k in chunk]
        if offset + size < total:
            body["@odata.nextLink"] = self.next_link(rq, fp, offset + size, page + 1)
        r = Resp(200, body)
        r.note = "page=%d items=%d" % (page, len(chunk))
        return r

    def get_key(self, rq, tok, kid):
        self.check_options(rq, {"$select"})
        if not tok["perms"] & KEY_META:
            return self.authz_error()
        with self.s.lock:
            k = self.s.key_by_id(kid)
            dev = self.s.device_by_device_id(k["deviceId"]) if k else None
        if k is None:
            return self.graph_error(rq, 404, "NotFound", "Recovery key with id '%s' was not found." % kid)
        select = None
        if "$select" in rq.query:
            try:
                select = parse_select(rq.query["$select"], KEY_PROPS + ["key"])
            except ValueError as e:
                return self.graph_error(rq, 400, "BadRequest",
                                        "Could not find a property named '%s' on type "
                                        "'microsoft.graph.bitlockerRecoveryKey'." % e)
        want_key = select == ["key"]
        if want_key:
            if "BitlockerKey.Read.All" not in tok["perms"] or not tok["key_read_role"]:
                return self.authz_error()
            if rq.batch and self.s.knobs["batch_refuse_key_reads"]:
                return self.graph_error(rq, 400, "BadRequest", "Reading the key property is not supported in $batch.")
        if dev is not None and dev["broken"]:
            return self.broken_body(rq, dev, k)
        if want_key:
            props = KEY_PROPS + ["key"]
        elif select:
            # key is dropped when it is not the only selected property (graph-explorer #3491)
            props = [p for p in select if p != "key"] or ["id"]
        else:
            props = KEY_PROPS
        entry = self.key_json(k, props)
        ctx = "%s/graph/v1.0/$metadata#informationProtection/bitlocker/recoveryKeys%s/$entity" % (
            rq.base, "(%s)" % ",".join(select) if select else "")
        body = {"@odata.context": ctx, "value": entry} if k["wrap_value"] else dict({"@odata.context": ctx}, **entry)
        r = Resp(200, body)
        if want_key:
            with self.s.lock:
                self.s.stats["key_reads"] += 1
                self.s.audit.append({
                    "time": iso(time.time(), frac=True), "activity": "Read BitLocker key", "category": "KeyManagement",
                    "keyId": k["id"], "deviceId": k["deviceId"], "deviceName": dev["displayName"] if dev else None,
                    "actorType": tok["kind"], "actor": tok["upn"] or tok["client_id"], "clientId": tok["client_id"],
                    "clientRequestId": rq.client_request_id, "userAgent": rq.h("user-agent"),
                    "via": "batch" if rq.batch else "direct"})
                if len(self.s.audit) > 100000:
                    del self.s.audit[:50000]
            r.note = "key-read"
        return r

    # managed devices

    def managed_json(self, m, props):
        full = {"id": m["id"], "deviceName": m["deviceName"], "azureADDeviceId": m["azureADDeviceId"],
                "userPrincipalName": m.get("userPrincipalName", ""), "operatingSystem": "Windows",
                "osVersion": m.get("osVersion", "10.0.22631.4317"), "managedDeviceOwnerType": "company",
                "complianceState": "compliant", "lastSyncDateTime": m.get("lastSyncDateTime", "2025-05-30T07:50:00Z")}
        return {p: full[p] for p in props}

    def managed_forbidden(self, rq, need):
        return self.graph_error(rq, 403, "Forbidden",
                                "Application is not authorized to perform this operation. Application must have one of "
                                "the following scopes: %s" % ", ".join(sorted(need)))

    def list_managed(self, rq, tok, version):
        if not tok["perms"] & MANAGED_READ:
            return self.managed_forbidden(rq, MANAGED_READ)
        self.check_options(rq, {"$filter", "$select", "$top", "$skiptoken"})
        flt = self.filter_arg(rq, "BadRequest")
        props = MANAGED_PROPS
        if "$select" in rq.query:
            try:
                props = parse_select(rq.query["$select"], MANAGED_PROPS)
            except ValueError as e:
                return self.graph_error(rq, 400, "BadRequest", "Could not find a property named '%s' on type "
                                                               "'microsoft.graph.managedDevice'." % e)
        with self.s.lock:
            items = list(self.s.managed)
        if flt and not self.s.knobs["ignore_managed_filter"]:
            op, prop, val = flt
            prop_c = {"azureaddeviceid": "azureADDeviceId", "devicename": "deviceName"}.get(prop.lower())
            if prop_c is None or op != "eq":
                return self.graph_error(rq, 400, "BadRequest", "Invalid filter clause for managedDevices.")
            items = [m for m in items if m[prop_c].lower() == val.lower()]
        return Resp(200, {"@odata.context": "%s/graph/%s/$metadata#deviceManagement/managedDevices" % (rq.base, version),
                          "@odata.count": len(items), "value": [self.managed_json(m, props) for m in items]})

    def get_managed(self, rq, tok, mid):
        if not tok["perms"] & MANAGED_READ:
            return self.managed_forbidden(rq, MANAGED_READ)
        self.check_options(rq, {"$select"})
        props = MANAGED_PROPS + ["deviceActionResults"]
        if "$select" in rq.query:
            try:
                props = parse_select(rq.query["$select"], props)
            except ValueError as e:
                return self.graph_error(rq, 400, "BadRequest", "Could not find a property named '%s' on type "
                                                               "'microsoft.graph.managedDevice'." % e)
        with self.s.lock:
            m = next((m for m in self.s.managed if m["id"].lower() == mid.lower()), None)
            if m is None:
                return self.graph_error(rq, 404, "ResourceNotFound", "Managed device '%s' was not found." % mid)
            self.s.stats["managed_device_gets"] += 1
            results, act = self.action_results(m)
        body = self.managed_json(m, [p for p in props if p != "deviceActionResults"])
        if "deviceActionResults" in props:
            body["deviceActionResults"] = results
        r = Resp(200, dict({"@odata.context": "%s/graph/%s/$metadata#deviceManagement/managedDevices/$entity"
                                              % (rq.base, rq.segs[1])}, **body))
        if act is not None:
            r.note = "rotation=%s poll=%d" % (act["state"], act["polls"])
            if act["state"] == "pending" and act["cfg"] and act["cfg"]["retry_after"] is not None:
                r.headers.append(("Retry-After", str(act["cfg"]["retry_after"])))
        return r

    def rotation_key(self, m, now):
        """A rotated key on managed device m's Entra device (lock held); recorded in /_test/rotations."""
        key = {"id": str(uuid.uuid4()), "deviceId": m["azureADDeviceId"], "createdDateTime": iso(now),
               "volumeType": self.s.knobs["rotation_volume_type"], "key": random_password(),
               "wrap_value": False, "visible_after": now + float(self.s.knobs["rotation_delay_s"] or 0)}
        self.s.keys.append(key)
        return key

    def action_results(self, m):
        """deviceActionResults of managed device m for one GET (lock held): -> (list, action or None).

        Each GET after a rotateBitLockerKeys POST is one poll.  Without a "rotation" entry for the
        device its key came with the POST and the first poll says done; with one, the first
        pending_polls polls say pending, then the outcome: done (a new key appears now), failed
        (errorCode), or never (pending for ever).
        """
        results = [{"@odata.type": "#microsoft.graph.deviceActionResult", "actionName": "syncDevice",
                    "actionState": "done", "startDateTime": "2025-05-30T07:50:00Z",
                    "lastUpdatedDateTime": "2025-05-30T07:51:00Z"}]
        act = self.s.actions.get(m["id"].lower())
        if act is None:
            return results, None
        act["polls"] += 1
        act["record"]["polls"] = act["polls"]
        self.s.stats["rotation_polls"] += 1
        cfg = act["cfg"]
        if act["state"] == "pending":
            now = time.time()
            outcome = "done" if cfg is None else cfg["outcome"]
            if outcome != "never" and (cfg is None or act["polls"] > cfg["pending_polls"]):
                act["state"] = outcome
                act["last"] = now
                if outcome == "failed":
                    act["error"] = cfg["error_code"]
                elif cfg is not None:
                    key = self.rotation_key(m, now)
                    act["record"].update({"newKeyId": key["id"], "key": key["key"],
                                          "visibleAt": iso(key["visible_after"])})
                act["record"]["state"] = act["state"]
        results.append({"@odata.type": ROTATE_RESULT_TYPE, "actionName": "rotateBitLockerKeys",
                        "actionState": act["state"], "startDateTime": iso(act["start"]),
                        "lastUpdatedDateTime": iso(act["last"]), "errorCode": act["error"]})
        return results, act

    def rotate(self, rq, tok, mid):
        # the action takes no body ("Do not supply a request body"): a form is a client bug
        ctype = (rq.h("content-type") or "").split(";")[0].strip().lower()
        if ctype not in ("", "application/json"):
            return self.graph_error(rq, 415, "UnsupportedMediaType",
                                    "rotateBitLockerKeys takes no body; Content-Type '%s' is not supported." % ctype)
        if not tok["perms"] & MANAGED_WRITE:
            return self.managed_forbidden(rq, MANAGED_WRITE)
        with self.s.lock:
            m = next((m for m in self.s.managed if m["id"].lower() == mid.lower()), None)
            if m is None:
                return self.graph_error(rq, 404, "ResourceNotFound", "Managed device '%s' was not found." % mid)
            now = time.time()
            rot = self.s.knobs["rotation"]
            cfg = rot.get(m["id"].lower(), rot.get(m["deviceName"].lower()))
            # without a "rotation" entry the key comes at once, as it always did; with one it
            # comes when a poll of the managed device says done
            key = self.rotation_key(m, now) if cfg is None else None
            record = {"time": iso(now, frac=True), "managedDeviceId": m["id"],
                      "deviceId": m["azureADDeviceId"], "newKeyId": key and key["id"], "key": key and key["key"],
                      "visibleAt": key and iso(key["visible_after"]), "actorType": tok["kind"],
                      "actor": tok["upn"] or tok["client_id"], "clientRequestId": rq.client_request_id,
                      "state": "pending", "polls": 0}
            self.s.rotations.append(record)
            self.s.actions[m["id"].lower()] = {"state": "pending", "polls": 0, "start": now, "last": now,
                                               "error": 0, "cfg": copy.deepcopy(cfg), "record": record}
        r = Resp(204)
        r.note = "rotated new_key=%s" % (key["id"] if key else "on-done")
        return r

    # $batch

    def batch(self, rq, tok, version):
        with self.s.lock:
            self.s.stats["batch_requests"] += 1
        refused = self.s.knobs["batch_refused"]
        if refused:
            status = refused if isinstance(refused, int) and not isinstance(refused, bool) else 400
            return self.graph_error(rq, status, "BadRequest" if status == 400 else "NotImplemented",
                                    "JSON batching is not supported for this tenant (emulator knob batch_refused).")
        ctype = (rq.h("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return self.graph_error(rq, 400, "BadRequest", "Batch requests must have Content-Type application/json.")
        try:
            doc = json.loads(rq.body.decode("utf-8"))
            reqs = doc["requests"]
            if not isinstance(reqs, list):
                raise ValueError
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return self.graph_error(rq, 400, "BadRequest", "Invalid batch payload format.")
        if not reqs:
            return self.graph_error(rq, 400, "BadRequest", "Batch request must contain at least one request.")
        if len(reqs) > int(self.s.knobs["batch_max"]):
            return self.graph_error(rq, 400, "BadRequest", "The number of batch requests in the payload cannot "
                                                           "exceed %d." % int(self.s.knobs["batch_max"]))
        ids = set()
        for item in reqs:
            if (not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item.get("id")
                    or not isinstance(item.get("method"), str) or not isinstance(item.get("url"), str)):
                return self.graph_error(rq, 400, "BadRequest", "Each batch request needs string id, method and url.")
            if item["id"] in ids:
                return self.graph_error(rq, 400, "BadRequest", "Batch request ids must be unique ('%s')." % item["id"])
            ids.add(item["id"])
        out = []
        auth = rq.h("authorization")
        for item in reqs:
            url = item["url"]
            hdrs = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            if auth:
                hdrs["authorization"] = auth
            for h in ("user-agent",):
                if rq.h(h) and h not in hdrs:
                    hdrs[h] = rq.h(h)
            body = item.get("body")
            body = jdump(body) if body is not None else b""
            if re.match(r"^[a-z]+://", url, re.I) or url.startswith("/" + version + "/"):
                sub = self.graph_error(rq, 400, "BadRequest", "Invalid request URL '%s': batch URLs are relative to "
                                                              "the batch endpoint's version." % url)
            else:
                inner = Req(item["method"].upper(), "/graph/%s/%s" % (version, url.lstrip("/")), hdrs, body,
                            rq.base, batch=True)
                sub = self.handle(inner)
                self.log.line("batch-item id=%s %s %s %d %s" % (q(item["id"]), inner.method, inner.target,
                                                                 sub.status, sub.note))
            rh = {k: v for k, v in sub.headers if k.lower() in ("content-type", "retry-after", "location")}
            entry = {"id": item["id"], "status": sub.status, "headers": rh}
            if sub.body:
                try:
                    entry["body"] = json.loads(sub.body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    entry["body"] = sub.body.decode("utf-8", "replace")
            out.append(entry)
        if self.s.knobs["batch_shuffle"] and len(out) > 1:
            order = list(out)
            random.shuffle(out)
            if out == order:
                out = out[1:] + out[:1]   # always out of order, so tests see it every time
        r = Resp(200, {"responses": out})
        r.note = "batch n=%d" % len(out)
        return r

    # -- test hooks -------------------------------------------------------

    def test_args(self, rq):
        args = parse_query(rq.qs)
        ctype = (rq.h("content-type") or "").split(";")[0].strip().lower()
        if rq.body:
            if ctype == "application/json":
                try:
                    doc = json.loads(rq.body.decode("utf-8"))
                except ValueError:
                    raise Bad(Resp(400, {"error": "body is not JSON"}))
                if isinstance(doc, dict):
                    args.update(doc)
            else:
                args.update(parse_form(rq.body) or {})
        return args

    def wait_user_code(self, args):
        """The user code of the first device code issued after the first `after`, waiting for it.

        A test reads "issued" from /_test/device_codes, starts a sign-in, then asks for the
        code that sign-in got: no polling of the client's output, no older pending code.
        """
        s = self.s
        try:
            after = int(args.get("after", ""))
            timeout = min(float(args.get("timeout_s", 10)), 60.0)
        except ValueError:
            return Resp(400, {"error": "need ?after=N (and timeout_s=S, at most 60)"})
        end = time.monotonic() + timeout
        with s.codes_cond:
            while True:
                recs = [r for r in s.device_codes.values() if r["seq"] > after]
                if recs:
                    rec = min(recs, key=lambda r: r["seq"])
                    return Resp(200, rec["user_code"] + "\n", ctype="text/plain")
                left = end - time.monotonic()
                if left <= 0:
                    return Resp(408, {"error": "no device code issued after %d within %g s" % (after, timeout)})
                s.codes_cond.wait(left)

    def test_hook(self, rq):
        name = "/".join(rq.segs[1:])
        s = self.s
        try:
            args = self.test_args(rq)
        except ValueError as e:
            return Resp(400, {"error": str(e)})
        if name == "health":
            return Resp(200, {"ok": True, "pid": os.getpid()})
        if name == "config":
            if rq.method == "POST":
                with s.lock:
                    saved = copy.deepcopy(s.knobs)
                    try:
                        s._merge_knobs(args)
                        if "throttle_every_n" in args:
                            s.graph_counter = 0     # count from this change on
                    except (ValueError, TypeError) as e:
                        s.knobs = saved
                        return Resp(400, {"error": str(e)})
            with s.lock:
                return Resp(200, s.knobs)
        if rq.method == "GET" and name == "wait_user_code":
            return self.wait_user_code(args)
        if rq.method == "GET":
            with s.lock:
                if name == "audit":
                    return Resp(200, {"value": s.audit})
                if name == "rotations":
                    return Resp(200, {"value": s.rotations})
                if name == "stats":
                    return Resp(200, s.stats)
                if name == "device_codes":
                    return Resp(200, {"issued": s.codes_issued, "value": [
                        {k: r[k] for k in ("seq", "user_code", "client_id", "scope", "status", "user", "polls",
                                           "interval")}
                        for r in sorted(s.device_codes.values(), key=lambda r: r["seq"])]})
                if name == "last_user_code":
                    recs = sorted(s.device_codes.values(), key=lambda r: r["created"])
                    return Resp(200, (recs[-1]["user_code"] + "\n") if recs else "", ctype="text/plain")
                if name == "generated":
                    try:
                        i = int(args.get("i", ""))
                    except ValueError:
                        return Resp(400, {"error": "need ?i=INDEX"})
                    if not 0 <= i < s.gen.n:
                        return Resp(404, {"error": "no generated key %d (--gen-keys %d)" % (i, s.gen.n)})
                    k = s.gen.key(i)
                    d = s.gen.device(i // s.gen.per)
                    return Resp(200, {"index": i, "id": k["id"], "deviceId": k["deviceId"], "key": k["key"],
                                      "createdDateTime": k["createdDateTime"], "volumeType": k["volumeType"],
                                      "deviceName": d["displayName"], "deviceObjectId": d["id"]})
                if name == "tokens":
                    return Resp(200, {"access": [{"kind": t["kind"], "subject": t["upn"] or t["client_id"],
                                                  "perms": sorted(t["perms"]), "expired": t["exp"] <= time.time(),
                                                  "resource": t.get("resource")}
                                                 for t in s.access_tokens.values()],
                                      "refresh": [{"subject": r["upn"], "status": r["status"],
                                                   "resource": r.get("resource")}
                                                  for r in s.refresh_tokens.values()]})
        if rq.method == "POST":
            if name in ("approve", "decline"):
                with s.lock:
                    uc = (args.get("user_code") or "").upper()
                    recs = [r for r in s.device_codes.values() if r["status"] == "pending"]
                    rec = (next((r for r in s.device_codes.values() if r["user_code"] == uc), None) if uc
                           else (max(recs, key=lambda r: r["created"]) if recs else None))
                    if rec is None:
                        return Resp(404, {"error": "no such (pending) user_code"})
                    if name == "approve":
                        user = (args.get("user") or "").lower()
                        if user not in s.users:
                            return Resp(400, {"error": "unknown user %r" % args.get("user")})
                        rec["status"], rec["user"] = "approved", user
                    else:
                        rec["status"] = "declined"
                    return Resp(200, {"ok": True, "user_code": rec["user_code"], "status": rec["status"]})
            if name == "expire_tokens":
                with s.lock:
                    now = time.time()
                    for t in s.access_tokens.values():
                        t["exp"] = min(t["exp"], now - 1)
                    n_rt = 0
                    if str(args.get("refresh", "")).lower() in ("1", "true", "yes"):
                        for r in s.refresh_tokens.values():
                            if r["status"] == "valid":
                                r["status"] = "revoked"
                                n_rt += 1
                    return Resp(200, {"ok": True, "access_tokens": len(s.access_tokens), "refresh_revoked": n_rt})
            if name == "device":
                # change a fixture device's properties (e.g. the SID of a provisioned domain)
                who = str(args.get("match") or "").lower()
                props = args.get("set")
                if not isinstance(props, dict) or not props:
                    return Resp(400, {"error": "need {\"match\": NAME or DEVICE_ID, \"set\": {...}}"})
                bad = [p for p in props if p not in DEVICE_PROPS or p in ("id", "deviceId")]
                if bad:
                    return Resp(400, {"error": "cannot set %r" % bad[0]})
                with s.lock:
                    hit = [d for d in s.devices if who in (d["displayName"].lower(), d["deviceId"].lower())]
                    for d in hit:
                        d.update(props)
                if not hit:
                    return Resp(404, {"error": "no fixture device %r" % args.get("match")})
                return Resp(200, {"ok": True, "devices": len(hit)})
            if name == "reset":
                try:
                    s.reset()
                except (OSError, ValueError) as e:
                    return Resp(500, {"error": str(e)})
                return Resp(200, {"ok": True})
            if name == "stats/reset":
                s.reset_stats()
                return Resp(200, {"ok": True})
        return Resp(404, {"error": "no such test hook: %s %s" % (rq.method, name)})


# ---------------------------------------------------------------- HTTP layer

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graph-emulator/1"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S

    def setup(self):
        super().setup()
        self.conn_id = self.server.conn_id
        self.seq = 0

    def log_message(self, fmt, *args):
        pass

    def log_error(self, fmt, *args):
        self.server.log.line("http-error conn=%d %s" % (self.conn_id, q(fmt % args)))

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            data = bytearray()
            while True:
                line = self.rfile.readline(100)
                size = int(line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    raise OverflowError
                data += self.rfile.read(size)
                self.rfile.readline(10)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0:
            raise ValueError("negative Content-Length")
        if n > MAX_BODY:
            raise OverflowError
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        self.seq += 1
        t0 = time.monotonic()
        srv = self.server
        app = srv.app
        target = self.path
        resp = None
        try:
            body = self.read_body()
        except OverflowError:
            resp = Resp(413, {"error": {"code": "RequestEntityTooLarge", "message": "request body too large"}})
            self.close_connection = True
        except (ValueError, OSError):
            resp = Resp(400, {"error": {"code": "BadRequest", "message": "malformed request body framing"}})
            self.close_connection = True
        host = self.headers.get("Host") or "127.0.0.1:%d" % srv.server_address[1]
        headers = {k.lower(): v for k, v in self.headers.items()}
        rq = Req(self.command, target, headers, b"" if resp else body, "https://" + host)
        is_test = rq.segs[:1] == ["_test"]
        # counted on arrival, before any answer: a client that got one was counted
        if not is_test:
            with srv.state.lock:
                st = srv.state.stats
                st["http_requests"] += 1
                st["tls_connections"] += 1 if self.seq == 1 else 0
        if resp is None and not is_test and app.drop(rq):
            # a connection that dies after the request: no status line at all
            self.close_connection = True
            self.log_request_line(rq, headers, 0, 0, t0, "dropped")
            return
        if resp is None:
            if any(ord(c) > 0x7E or ord(c) < 0x21 for c in target):
                # raw non-ASCII or control bytes: the client did not percent-encode its URL
                resp = Resp(400, {"error": {"code": "BadRequest", "message": "Invalid URL: not percent-encoded"}})
            else:
                if not is_test:
                    delay = float(srv.state.knobs.get("delay_ms") or 0)
                    if delay > 0:
                        time.sleep(delay / 1000.0)
                resp = app.handle(rq)
        # logged before the answer goes out: when the client has it, the log has the line
        self.log_request_line(rq, headers, resp.status, len(resp.body), t0, resp.note)
        self.send_response(resp.status)
        for k, v in resp.headers:
            self.send_header(k, v)
        self.send_header("request-id", rq.request_id)
        self.send_header("client-request-id", rq.client_request_id)
        if not any(k.lower() == "cache-control" for k, _ in resp.headers):
            self.send_header("Cache-Control", "no-cache")
        if resp.status != 204 and resp.status >= 200:
            self.send_header("Content-Length", str(len(resp.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            if resp.body and resp.status != 204 and self.command != "HEAD":
                view = memoryview(resp.body)
                for i in range(0, len(view), 1 << 16):
                    self.wfile.write(view[i:i + (1 << 16)])
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def log_request_line(self, rq, headers, status, nbytes, t0, note):
        ms = (time.monotonic() - t0) * 1000
        self.server.log.line("http conn=%d seq=%d new_tls=%d resumed=%d %s %s %d bytes=%d ms=%.1f ua=%s "
                             "ocp-client-name=%s ocp-client-version=%s client-request-id=%s %s" % (
                                 self.conn_id, self.seq, 1 if self.seq == 1 else 0, self.server.resumed,
                                 self.command, rq.target, status, nbytes, ms, q(headers.get("user-agent")),
                                 q(headers.get("ocp-client-name")), q(headers.get("ocp-client-version")),
                                 q(headers.get("client-request-id")), note))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, ssl_ctx, app, state, log):
        super().__init__(addr, Handler)
        self.ssl_ctx = ssl_ctx
        self.app = app
        self.state = state
        self.log = log
        self.ids = itertools.count(1)
        self.active = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def server_bind(self):
        # skip HTTPServer.server_bind's reverse DNS lookup (getfqdn)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        if not self.active.acquire(blocking=False):
            self.log.line("conn-refused too many connections")
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.active.release()

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's own thread, so a slow or
        # broken client cannot stall the accept loop.
        conn_id = next(self.ids)
        request.settimeout(IDLE_TIMEOUT_S)
        # headers and body go out in separate writes: without TCP_NODELAY, Nagle +
        # the client's delayed ACK add ~40 ms to every keep-alive request
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log.line("tls-fail conn=%d peer=%s:%d %s" % (conn_id, client_address[0], client_address[1], q(str(e))))
            return
        try:
            resumed = 1 if tls.session_reused else 0
            self.log.line("tls-ok conn=%d peer=%s:%d version=%s resumed=%d" % (
                conn_id, client_address[0], client_address[1], tls.version(), resumed))
            # the handler (same thread) picks these up in setup() and its log lines
            self._tl.conn = (conn_id, resumed)
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    _tl = threading.local()

    @property
    def conn_id(self):
        return self._tl.conn[0]

    @property
    def resumed(self):
        return self._tl.conn[1]


def main():
    ap = argparse.ArgumentParser(description="Microsoft identity platform + Graph emulator (bdekey tests)")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    ap.add_argument("--state", required=True, help="JSON fixture (see fixture.json)")
    ap.add_argument("--cert", required=True, help="server certificate (PEM)")
    ap.add_argument("--key", required=True, help="server private key (PEM)")
    ap.add_argument("--cert-dir", help="directory for relative app certificate paths (default: the state file's)")
    ap.add_argument("--delay-ms", type=float, default=None, help="added to each non-test request")
    ap.add_argument("--log", help="request log file")
    ap.add_argument("--page-size", type=int, default=None, help="recoveryKeys page size (default 2)")
    ap.add_argument("--gen-keys", type=int, default=0, help="extra keys on generated devices GEN-nnnnnn")
    ap.add_argument("--gen-devices", type=int, default=None,
                    help="scale mode: this many generated devices GEN-nnnnnn (with --gen-device-keys)")
    ap.add_argument("--gen-device-keys", type=int, default=0,
                    help="scale mode: this many keys spread over the --gen-devices devices")
    ap.add_argument("--devices-page-size", type=int, default=None, help="devices page size without $top")
    ap.add_argument("--report-fixture", action="store_true",
                    help="also load the fixture's report_devices (bdekey report's cases)")
    ap.add_argument("--bind", default="127.0.0.1", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not 0 <= a.gen_keys <= GEN_MAX:
        ap.error("--gen-keys must be between 0 and %d" % GEN_MAX)
    if a.page_size is not None and a.page_size < 1:
        ap.error("--page-size must be >= 1")
    if a.devices_page_size is not None and a.devices_page_size < 1:
        ap.error("--devices-page-size must be >= 1")
    if a.gen_devices is not None:
        if a.gen_keys:
            ap.error("--gen-devices and --gen-keys exclude each other")
        if not 1 <= a.gen_devices <= GEN_MAX or not 0 <= a.gen_device_keys <= GEN_MAX:
            ap.error("--gen-devices must be between 1 and %d, --gen-device-keys between 0 and %d"
                     % (GEN_MAX, GEN_MAX))
    elif a.gen_device_keys:
        ap.error("--gen-device-keys needs --gen-devices")

    log = Log(a.log)
    try:
        state = State(a.state, a.cert_dir or os.path.dirname(os.path.abspath(a.state)), a.page_size, a.delay_ms,
                      a.gen_keys, log, a.gen_devices, a.gen_device_keys, a.report_fixture, a.devices_page_size)
    except (OSError, ValueError, KeyError) as e:
        print("emulator: cannot load state %s: %s" % (a.state, e), file=sys.stderr)
        return 2
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        ctx.load_cert_chain(a.cert, a.key)
    except (OSError, ssl.SSLError) as e:
        print("emulator: cannot load server certificate: %s" % e, file=sys.stderr)
        return 2
    try:
        srv = Server((a.bind, a.port), ctx, App(state, log), state, log)
    except OSError as e:
        print("emulator: cannot listen on %s:%d: %s" % (a.bind, a.port, e), file=sys.stderr)
        return 2
    port = srv.server_address[1]
    log.line("start pid=%d port=%d page_size=%s gen_keys=%d delay_ms=%s gen_devices=%s gen_device_keys=%d "
             "report_fixture=%d" % (os.getpid(), port, state.knobs["page_size"], a.gen_keys,
                                    state.knobs["delay_ms"], a.gen_devices, a.gen_device_keys,
                                    1 if a.report_fixture else 0))
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, a.port_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    while not stop.wait(0.5):
        pass
    srv.shutdown()
    srv.server_close()
    log.line("stop pid=%d" % os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
