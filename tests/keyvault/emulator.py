#!/usr/bin/python3
"""Azure Key Vault (data plane, api-version 7.4) + Azure Resource Manager emulator for bdekey's tests.

Every vault and ARM is a host of its own: its own loopback address on port 443 (the default;
needs root or CAP_NET_BIND_SERVICE), or with --ports any its own port on 127.0.0.1.  A control
listener on 127.0.0.1 serves the test hooks (/_test/...), which every host also answers.
Tokens come from the Graph/identity emulator (tests/graph/): signed RS256 JWTs whose key is
fetched from its JWKS endpoint.  The vault holds the real Windows-made .BEK of
tests/volume/data (plain and wrapped with real RSA keys).  Behaviour, fixture, knobs and log
format: README.md next to this file.  Python standard library + python3-cryptography.
"""

import argparse
import base64
import copy
import datetime as dt
import hashlib
import http.server
import itertools
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import sys
import tarfile
import threading
import time
import urllib.parse
import urllib.request
import uuid

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # pragma: no cover
    sys.exit("emulator: python3-cryptography is required (apt-get install python3-cryptography)")

MAX_BODY = 1024 * 1024
MAX_CONNECTIONS = 128
IDLE_TIMEOUT_S = 30
REAL_BEK_ID = "4381F759-C4F8-4DE0-BB61-FC33A831BDA5"
REAL_BEK_MEMBER = "bitlk-images/%s.BEK" % REAL_BEK_ID
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
VERSION_RE = re.compile(r"^[0-9a-f]{32}$")
KV_API_VERSIONS = ["2015-06-01", "2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "2025-06-01", "2025-07-01"]
ARM_API_VERSIONS = {
    "virtualmachines": ["2019-07-01", "2020-06-01", "2020-12-01", "2021-03-01", "2021-07-01", "2021-11-01",
                        "2022-03-01", "2022-08-01", "2022-11-01", "2023-03-01", "2023-07-01", "2023-09-01",
                        "2024-03-01", "2024-07-01", "2024-11-01"],
    "disks": ["2019-07-01", "2020-05-01", "2020-09-30", "2020-12-01", "2021-04-01", "2021-08-01", "2021-12-01",
              "2022-03-02", "2022-07-02", "2023-01-02", "2023-04-02", "2023-10-02", "2024-03-02"],
    "vaults": ["2019-09-01", "2021-10-01", "2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01"],
}
ALGS = ("RSA-OAEP", "RSA-OAEP-256", "RSA1_5")

# RBAC data actions of the built-in roles that matter here (Key Vault RBAC guide).
ROLE_ACTIONS = {
    "Key Vault Administrator": {"*"},
    "Key Vault Secrets User": {"Microsoft.KeyVault/vaults/secrets/getSecret/action",
                               "Microsoft.KeyVault/vaults/secrets/readMetadata/action"},
    "Key Vault Secrets Officer": {"Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                  "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
                                  "Microsoft.KeyVault/vaults/secrets/setSecret/action"},
    "Key Vault Crypto User": {"Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/unwrap/action",
                              "Microsoft.KeyVault/vaults/keys/wrap/action",
                              "Microsoft.KeyVault/vaults/keys/decrypt/action",
                              "Microsoft.KeyVault/vaults/keys/encrypt/action"},
    "Key Vault Crypto Service Encryption User": {"Microsoft.KeyVault/vaults/keys/read",
                                                 "Microsoft.KeyVault/vaults/keys/wrap/action",
                                                 "Microsoft.KeyVault/vaults/keys/unwrap/action"},
    "Key Vault Reader": {"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
                         "Microsoft.KeyVault/vaults/keys/read"},
}
# operation -> (access-policy kind, permission, RBAC data action)
OPS = {
    "secrets.list": ("secrets", "list", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"),
    "secrets.versions": ("secrets", "list", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"),
    "secrets.get": ("secrets", "get", "Microsoft.KeyVault/vaults/secrets/getSecret/action"),
    "keys.get": ("keys", "get", "Microsoft.KeyVault/vaults/keys/read"),
    "keys.versions": ("keys", "list", "Microsoft.KeyVault/vaults/keys/read"),
    "keys.unwrapkey": ("keys", "unwrapKey", "Microsoft.KeyVault/vaults/keys/unwrap/action"),
}

DEFAULT_KNOBS = {
    "faults": [],
    "challenge_resource": None,     # None: the vault resource (fixture vault_resource)
    "challenge_authority": None,    # None: {authority}/{tenant id}
    "challenge_param": "authorization",
    "challenge_scope": None,
    "page_size_max": 25,
    "nextlink_port443": True,
    "nextlink_api_version": None,
    "empty_page_every": 0,
    "bench_secrets": 2000,
    "delay_ms": 0,
}


# ---------------------------------------------------------------- helpers

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    if not isinstance(s, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", s):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jdump(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_time(s):
    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp())


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def guid_le(guid):
    """BitLocker (mixed-endian) bytes of a GUID string."""
    return uuid.UUID(guid).bytes_le


def synthetic_bek(guid, seed):
    """A .BEK in the layout of the real Windows 10 file (156 bytes), with its own GUID and key."""
    h = hashlib.sha256(b"bek:" + seed.encode()).digest()
    filetime = (0x01D68B31FEBA02F0 + int.from_bytes(h[:4], "little") * 10_000_000).to_bytes(8, "little")
    g = guid_le(guid)
    out = bytearray()
    out += (156).to_bytes(4, "little") + (1).to_bytes(4, "little") + (48).to_bytes(4, "little")
    out += (156).to_bytes(4, "little") + g + (1).to_bytes(4, "little") + (0).to_bytes(4, "little") + filetime
    out += bytes.fromhex("6c00060009000100") + g + filetime
    name = "ExternalKey\0".encode("utf-16-le")
    out += (8 + len(name)).to_bytes(2, "little") + bytes.fromhex("000002000100") + name
    out += (44).to_bytes(2, "little") + bytes.fromhex("000001000100") + (0x2002).to_bytes(4, "little") + h
    assert len(out) == 156
    return bytes(out)


class Resp:
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
        self.note = ""
        self.drop = False


class Bad(Exception):
    def __init__(self, resp):
        super().__init__(resp.status)
        self.resp = resp


def parse_query(qs):
    out = {}
    for part in (qs or "").split("&"):
        if part == "":
            continue
        if re.search(r"%(?![0-9A-Fa-f]{2})", part):
            raise ValueError("malformed percent-escape in %r" % part)
        name, _, value = part.partition("=")
        name = urllib.parse.unquote_plus(name, errors="strict")
        value = urllib.parse.unquote_plus(value, errors="strict")
        if name in out:
            raise ValueError("query option %r given twice" % name)
        out[name] = value
    return out


# ---------------------------------------------------------------- RSA

def rsa_wrap(pub, alg, data):
    if alg == "RSA-OAEP":
        return pub.encrypt(data, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    if alg == "RSA-OAEP-256":
        return pub.encrypt(data, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                                              label=None))
    return pub.encrypt(data, padding.PKCS1v15())


def rsa_unwrap(priv, alg, data):
    """-> bytes, or raises ValueError with Key Vault's message."""
    size = (priv.key_size + 7) // 8
    if len(data) != size:
        raise ValueError("The length of the data to decrypt is not valid for the size of this key.")
    if alg in ("RSA-OAEP", "RSA-OAEP-256"):
        h = hashes.SHA1() if alg == "RSA-OAEP" else hashes.SHA256()
        try:
            return priv.decrypt(data, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
        except ValueError:
            raise ValueError("Error occurred while decoding OAEP padding.")
    # RSA1_5 by hand: OpenSSL's implicit rejection would hand back random bytes for a wrong
    # key; the emulator answers an error instead, deterministically.
    nums = priv.private_numbers()
    m = pow(int.from_bytes(data, "big"), nums.d, nums.public_numbers.n).to_bytes(size, "big")
    sep = m.find(b"\x00", 2)
    if m[0:2] != b"\x00\x02" or sep < 10:
        raise ValueError("Error occurred while decoding PKCS1 padding.")
    return m[sep + 1:]


def jwk_of(pub):
    n = pub.public_numbers()
    return {"kty": "RSA", "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
            "e": b64url(n.e.to_bytes(3, "big"))}


# ---------------------------------------------------------------- log

class Log:
    def __init__(self, path):
        self.f = open(path, "a", encoding="utf-8", buffering=1) if path else None
        self.lock = threading.Lock()

    def line(self, text):
        if not self.f:
            return
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self.lock:
            self.f.write("%s %s\n" % (stamp, text))


def q(v):
    return "-" if v is None else json.dumps(v, ensure_ascii=True)


# ---------------------------------------------------------------- state

class Host:
    """One emulated host: a vault or ARM (or the control listener)."""

    def __init__(self, name, kind):
        self.name = name
        self.kind = kind          # "vault", "arm", "control"
        self.ip = None
        self.port = None
        self.default_port = False

    @property
    def netloc(self):
        return self.ip if self.default_port else "%s:%d" % (self.ip, self.port)

    @property
    def netloc443(self):
        return "%s:443" % self.ip if self.default_port else self.netloc

    @property
    def url(self):
        return "https://" + self.netloc


class State:
    def __init__(self, args, log):
        self.a = args
        self.log = log
        self.lock = threading.RLock()
        with open(args.fixture, encoding="utf-8") as f:
            self.fx = json.load(f)
        self.sub = self.fx["subscription"].lower()
        self.location = self.fx["location"]
        self.vault_resource = self.fx["vault_resource"]
        self.hosts = {}
        for v in self.fx["vaults"]:
            self.hosts[v["name"]] = Host(v["name"], "vault")
        self.hosts["arm"] = Host("arm", "arm")
        self.control = Host("control", "control")
        self.jwks = {}
        self.jwks_fetched = 0.0
        self.real_bek = self.load_real_bek()
        self.key_material = {}    # (vault, lname, version) -> private key
        self.bench_cache = {}
        self.cli_knobs = {}
        if args.bench_secrets is not None:
            self.cli_knobs["bench_secrets"] = args.bench_secrets
        if args.delay_ms is not None:
            self.cli_knobs["delay_ms"] = args.delay_ms

    # -- loading

    def load_real_bek(self):
        with tarfile.open(self.a.bek_archive, "r:*") as t:
            f = t.extractfile(REAL_BEK_MEMBER)
            data = f.read()
        if len(data) != 156 or data[16:32] != guid_le(REAL_BEK_ID):
            raise ValueError("%s in %s is not the expected .BEK" % (REAL_BEK_MEMBER, self.a.bek_archive))
        return data

    def key_for(self, vault, name, version):
        """RSA 2048 key of a KEK version: made once per DIR and kept in DIR/keks/."""
        k = (vault, name.lower(), version)
        if k in self.key_material:
            return self.key_material[k]
        path = os.path.join(self.a.key_dir, "%s.%s.%s.pem" % (vault, name.lower(), version))
        priv = None
        try:
            with open(path, "rb") as f:
                priv = serialization.load_pem_private_key(f.read(), password=None)
        except (OSError, ValueError):
            priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            os.makedirs(self.a.key_dir, mode=0o700, exist_ok=True)
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
            os.replace(path + ".tmp", path)
        self.key_material[k] = priv
        return priv

    def expand(self, s):
        def sub(m):
            kind, name = m.group(1), m.group(2)
            if kind == "sub":
                return self.sub
            h = self.hosts[name]
            return "https://" + (h.netloc443 if kind == "vault443" else h.netloc)
        return re.sub(r"\{(vault443|vault|sub)(?::([^}]+))?\}", sub, s)

    def expand_obj(self, o):
        if isinstance(o, str):
            return self.expand(o)
        if isinstance(o, list):
            return [self.expand_obj(x) for x in o]
        if isinstance(o, dict):
            return {k: self.expand_obj(v) for k, v in o.items()}
        return o

    def build(self):
        """Fixture -> runtime objects (hosts must be bound: URLs need their addresses)."""
        fx = self.fx
        with self.lock:
            self.knobs = copy.deepcopy(DEFAULT_KNOBS)
            self.merge_knobs(self.cli_knobs)
            self.not_before = 0          # /_test/expire_tokens: tokens issued at or before are refused
            self.vaults = {}
            for v in fx["vaults"]:
                self.vaults[v["name"]] = {"fx": v, "secrets": {}, "keys": {}}
            for k in fx["keys"]:
                vault = self.vaults[k["vault"]]
                vers = []
                for kv in k["versions"]:
                    priv = self.key_for(k["vault"], k["name"], kv["version"])
                    t = parse_time(kv["created"])
                    vers.append({"version": kv["version"], "created": t, "updated": t, "enabled": True,
                                 "priv": priv, "var": kv.get("var")})
                vault["keys"][k["name"].lower()] = {"name": k["name"], "versions": vers, "var": k["var"]}
            for s in fx["secrets"]:
                vault = self.vaults[s["vault"]]
                vers = []
                for sv in s["versions"]:
                    vers.append(self.make_secret_version(s, sv))
                vault["secrets"][s["name"].lower()] = {"name": s["name"], "versions": vers, "var": s["var"]}
            self.arm_vms = {}
            for vm in fx["vms"]:
                self.arm_vms[(vm["resource_group"].lower(), vm["name"].lower())] = vm
            self.arm_disks = {}
            for d in fx["disks"]:
                self.arm_disks[(d["resource_group"].lower(), d["name"].lower())] = d
            self.reset_stats()
            self.requests = []
            self.req_seq = 0

    def make_secret_version(self, s, sv):
        t = parse_time(sv["created"])
        tags = self.expand_obj(sv.get("tags")) if sv.get("tags") is not None else None
        bek = None
        if sv.get("bek") == "real":
            bek = self.real_bek
        elif sv.get("bek") == "synthetic":
            bek = synthetic_bek(s["name"], s["name"] + "/" + sv["version"])
        elif sv.get("bek") == "passphrase":
            bek = hashlib.sha256(b"linux-passphrase:" + s["name"].encode()).hexdigest()[:32].encode()
        wrap = sv.get("wrap")
        if bek is not None and wrap:
            key = self.vaults[s["vault"]]["keys"][wrap["key"].lower()]
            kv = next(v for v in key["versions"] if v["version"] == wrap["version"])
            value = b64url(rsa_wrap(kv["priv"].public_key(), wrap["alg"], bek))
            ctype = "Wrapped BEK"
        elif bek is not None:
            value = base64.b64encode(bek).decode("ascii")
            ctype = "BEK"
        else:
            value = sv.get("text", "")
            ctype = None
        ctype = sv.get("contentType", ctype)
        return {"version": sv["version"], "created": t, "updated": t, "enabled": sv.get("enabled", True),
                "contentType": ctype, "tags": tags, "value": value, "bek": bek, "wrap": wrap, "var": sv.get("var")}

    def merge_knobs(self, new):
        for k, v in new.items():
            if k not in DEFAULT_KNOBS:
                raise ValueError("unknown knob %r" % k)
            if k == "faults":
                if not isinstance(v, list) or not all(isinstance(f, dict) for f in v):
                    raise ValueError("faults must be a list of objects")
                for f in v:
                    unknown = set(f) - {"host", "match", "method", "kind", "count", "retry_after", "status",
                                        "code", "inner", "message", "action", "permission"}
                    if unknown:
                        raise ValueError("unknown fault field(s) %s" % sorted(unknown))
                    if f.get("kind") not in ("throttle", "status", "drop", "rbac", "policy", "firewall",
                                             "disabled", "forbidden", "notfound"):
                        raise ValueError("fault kind must be one of throttle status drop rbac policy firewall "
                                         "disabled forbidden notfound")
                    for fld in ("count", "retry_after", "status"):
                        x = f.get(fld)
                        if x is not None and (isinstance(x, bool) or not isinstance(x, int)):
                            raise ValueError("fault field %s must be an integer or null" % fld)
                    for fld in ("host", "match", "method", "code", "inner", "message", "action", "permission"):
                        if f.get(fld) is not None and not isinstance(f[fld], str):
                            raise ValueError("fault field %s must be a string" % fld)
            self.knobs[k] = copy.deepcopy(v)
        if not 1 <= int(self.knobs["page_size_max"]) <= 25:
            raise ValueError("page_size_max must be 1..25")
        if int(self.knobs["bench_secrets"]) < 0 or int(self.knobs["bench_secrets"]) > 1_000_000:
            raise ValueError("bench_secrets must be 0..1000000")
        if self.knobs["empty_page_every"] == 1:
            raise ValueError("empty_page_every must be 0 or >= 2")

    def reset_stats(self):
        with self.lock:
            self.stats = {"hosts": {h: {"requests": 0, "tls_connections": 0, "with_token": 0, "without_token": 0,
                                        "status": {}} for h in self.hosts},
                          "secret_lists": 0, "secret_gets": 0, "key_gets": 0, "unwraps": 0, "unwrap_failures": 0,
                          "arm_gets": 0, "throttled": 0, "faults": 0, "dropped": 0, "challenges": 0}

    # -- bench vault (generated, lazily)

    def bench_item(self, i):
        """Generated secret i of contoso-bench (name, tags, created, value)."""
        cached = self.bench_cache.get(i)
        if cached:
            return cached
        name = self.bench_name(i)
        d = i // 2
        wrapped = d % 2 == 1
        bek = synthetic_bek(name, "bench/%d" % i)
        created = 1640995200 + i * 3600
        version = hashlib.sha256(b"bench-version:%d" % i).hexdigest()[:32]
        tags = {"MachineName": "BENCH-%04d" % d, "VolumeLetter": "C:\\" if i % 2 == 0 else "D:\\",
                "DiskEncryptionKeyFileName": name + ".BEK"}
        bench = next(v for v in self.fx["vaults"] if v.get("generated"))["name"]
        if wrapped:
            key = self.vaults[bench]["keys"]["bench-kek"]["versions"][-1]
            value = b64url(rsa_wrap(key["priv"].public_key(), "RSA-OAEP", bek))
            tags["DiskEncryptionKeyEncryptionAlgorithm"] = "RSA-OAEP"
            tags["DiskEncryptionKeyEncryptionKeyURL"] = "https://%s/keys/bench-kek/%s" % (
                self.hosts[bench].netloc443, key["version"])
            ctype = "Wrapped BEK"
            wrap = {"key": "bench-kek", "version": key["version"], "alg": "RSA-OAEP"}
        else:
            value = base64.b64encode(bek).decode("ascii")
            ctype = "BEK"
            wrap = None
        item = {"name": name, "versions": [{"version": version, "created": created, "updated": created,
                                            "enabled": True, "contentType": ctype, "tags": tags, "value": value,
                                            "bek": bek, "wrap": wrap, "var": None}], "var": None, "index": i}
        if len(self.bench_cache) > 20000:
            self.bench_cache.clear()
        self.bench_cache[i] = item
        return item

    @staticmethod
    def bench_name(i):
        h = hashlib.sha256(b"bench-secret:%d" % i).hexdigest().upper()
        return "%s-%s-4%s-%s%s-%s" % (h[0:8], h[8:12], h[13:16], "89AB"[int(h[16], 16) & 3], h[17:20], h[20:32])

    def bench_index(self, name):
        n = int(self.knobs["bench_secrets"])
        m = re.fullmatch(r"[0-9A-Fa-f-]{36}", name or "")
        if not m:
            return None
        # names are not invertible; search the (small) index space once and cache
        idx = getattr(self, "_bench_names", None)
        if idx is None or idx[0] != n:
            idx = (n, {self.bench_name(i).lower(): i for i in range(n)})
            self._bench_names = idx
        return idx[1].get(name.lower())

    # -- lookups

    def secrets_of(self, vault):
        """Sorted list of secret objects of a vault (generated ones for the bench vault)."""
        v = self.vaults[vault]
        if v["fx"].get("generated"):
            return [self.bench_item(i) for i in range(int(self.knobs["bench_secrets"]))]
        return [v["secrets"][k] for k in sorted(v["secrets"])]

    def secret(self, vault, name):
        v = self.vaults[vault]
        if v["fx"].get("generated"):
            i = self.bench_index(name)
            return None if i is None else self.bench_item(i)
        return v["secrets"].get(name.lower())


# ---------------------------------------------------------------- request

class Req:
    def __init__(self, host, method, target, headers, body, peer):
        self.host = host
        self.method = method
        self.target = target
        self.path, _, self.qs = target.partition("?")
        self.headers = headers
        self.body = body
        self.peer = peer
        self.request_id = str(uuid.uuid4())
        self.query = None
        self.token = None     # validated claims
        self.op = None

    def h(self, name):
        return self.headers.get(name.lower())


class App:
    def __init__(self, state, log):
        self.s = state
        self.log = log

    # -- errors ------------------------------------------------------------

    def kv_error(self, status, code, message, inner=None, headers=None):
        err = {"code": code, "message": message}
        if inner:
            err["innererror"] = {"code": inner}
        r = Resp(status, {"error": err}, headers)
        r.note = "error=%s%s" % (code, "/" + inner if inner else "")
        return r

    def arm_error(self, status, code, message, headers=None):
        r = Resp(status, {"error": {"code": code, "message": message}}, headers)
        r.note = "error=%s" % code
        return r

    # -- entry ------------------------------------------------------------

    def handle(self, rq):
        try:
            if rq.path.startswith("/_test/") or rq.path == "/_test":
                return self.test_hook(rq)
            if rq.host.kind == "control":
                return Resp(404, {"error": "the control listener serves /_test/ only"})
            try:
                rq.query = parse_query(rq.qs)
            except ValueError as e:
                if rq.host.kind == "arm":
                    return self.arm_error(400, "InvalidRequestUri", "Invalid query string: %s" % e)
                return self.kv_error(400, "BadParameter", "Invalid query string: %s" % e)
            pre = self.fault(rq, early=True)
            if pre:
                return pre
            if rq.host.kind == "arm":
                return self.arm(rq)
            return self.vault(rq)
        except Bad as e:
            return e.resp

    # -- faults -----------------------------------------------------------

    def match_fault(self, rq, kinds):
        with self.s.lock:
            faults = self.s.knobs["faults"]
            for i, f in enumerate(faults):
                if f.get("kind") not in kinds:
                    continue
                if f.get("host") and f["host"].lower() != rq.host.name.lower():
                    continue
                if f.get("method") and f["method"].upper() != rq.method:
                    continue
                if f.get("match", "") not in rq.target:
                    continue
                cnt = f.get("count", 1)
                if cnt is not None:
                    cnt = int(cnt) - 1
                    if cnt <= 0:
                        del faults[i]
                    else:
                        f["count"] = cnt
                self.s.stats["faults"] += 1
                return dict(f)
        return None

    def fault(self, rq, early):
        """early: throttle/status/drop (before authentication); else the 403 kinds."""
        kinds = ("throttle", "status", "drop", "notfound", "forbidden") if early else \
            ("rbac", "policy", "firewall", "disabled")
        f = self.match_fault(rq, kinds)
        if f is None:
            return None
        kind = f["kind"]
        if kind == "drop":
            r = Resp(0)
            r.drop = True
            r.note = "dropped"
            with self.s.lock:
                self.s.stats["dropped"] += 1
            return r
        if kind == "throttle":
            ra = f.get("retry_after", 1)
            hdrs = [("Retry-After", str(ra))] if ra is not None else []
            with self.s.lock:
                self.s.stats["throttled"] += 1
            if rq.host.kind == "arm":
                r = self.arm_error(429, f.get("code") or "TooManyRequests", f.get("message") or
                                   "The request is being throttled as the limit has been reached for operation "
                                   "type - Read_ObservationWindow_00:05:00. For more information, see - "
                                   "https://aka.ms/srpthrottlinglimits", hdrs)
            else:
                r = self.kv_error(429, f.get("code") or "Throttled", f.get("message") or
                                  "Request was not processed because too many requests were received. Reason: "
                                  "VaultRequestTypeLimitReached", f.get("inner"), hdrs)
            r.note += " injected=429 retry_after=%s" % ra
            return r
        if kind == "status":
            st = int(f.get("status", 503))
            hdrs = [("Retry-After", str(f["retry_after"]))] if f.get("retry_after") is not None else []
            if rq.host.kind == "arm":
                r = self.arm_error(st, f.get("code") or "InternalServerError", f.get("message") or
                                   "Injected failure (emulator).", hdrs)
            else:
                r = self.kv_error(st, f.get("code") or "ServiceUnavailable", f.get("message") or
                                  "Injected failure (emulator).", f.get("inner"), hdrs)
            r.note += " injected=%d" % st
            return r
        if kind == "notfound":
            r = self.arm_error(404, f.get("code") or "ResourceNotFound", f.get("message") or
                               "The Resource was not found (injected by the emulator). For more details please go "
                               "to https://aka.ms/ARMResourceNotFoundFix")
            r.note += " injected=404"
            return r
        if kind == "forbidden":
            r = self.arm_error(403, f.get("code") or "AuthorizationFailed", f.get("message") or
                               "The client does not have authorization to perform action (injected by the "
                               "emulator). If access was recently granted, please refresh your credentials.")
            r.note += " injected=403"
            return r
        # the 403 kinds need the caller (after authentication)
        if kind == "rbac":
            r = self.rbac_denied(rq, f.get("action"))
        elif kind == "policy":
            r = self.policy_denied(rq, f.get("permission"))
        elif kind == "firewall":
            r = self.firewall_denied(rq)
        else:
            r = self.kv_error(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
        r.note += " injected=%s" % kind
        return r

    # -- tokens -------------------------------------------------------------

    def fetch_jwks(self, force=False):
        with self.s.lock:
            if self.s.jwks and not force:
                return self.s.jwks
            if force and time.monotonic() - self.s.jwks_fetched < 1.0:
                return self.s.jwks
            self.s.jwks_fetched = time.monotonic()
        ctx = ssl.create_default_context(cafile=self.s.a.ca_file)
        try:
            with urllib.request.urlopen(self.s.a.jwks_url, context=ctx, timeout=5) as r:
                doc = json.load(r)
        except (OSError, ValueError) as e:
            self.log.line("jwks-fail %s %s" % (self.s.a.jwks_url, q(str(e))))
            return self.s.jwks
        keys = {}
        for k in doc.get("keys", []):
            try:
                n = int.from_bytes(b64url_decode(k["n"]), "big")
                e = int.from_bytes(b64url_decode(k["e"]), "big")
                keys[k["kid"]] = rsa.RSAPublicNumbers(e, n).public_key()
            except (KeyError, ValueError):
                continue
        with self.s.lock:
            self.s.jwks = keys
        self.log.line("jwks-ok keys=%d" % len(keys))
        return keys

    def decode_jwt(self, tok):
        """-> (claims, None) or (None, reason).  Signature checked with the identity emulator's key."""
        parts = tok.split(".")
        if len(parts) != 3:
            return None, "not a JWT"
        try:
            head = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            return None, "malformed JWT"
        if not isinstance(head, dict) or not isinstance(claims, dict):
            return None, "malformed JWT"
        if head.get("alg") != "RS256":
            return None, "unsupported alg %r" % head.get("alg")
        kid = head.get("kid")
        keys = self.fetch_jwks()
        if kid not in keys:
            keys = self.fetch_jwks(force=True)
        pub = keys.get(kid)
        if pub is None:
            return None, "signing key %r unknown" % kid
        try:
            pub.verify(sig, (parts[0] + "." + parts[1]).encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return None, "bad signature"
        return claims, None

    def peek_aud(self, auth):
        """For the log: 'aud=…' of a bearer token, without checking it."""
        if not auth:
            return None
        scheme, _, tok = auth.partition(" ")
        if scheme.lower() != "bearer":
            return "%s <redacted>" % scheme
        try:
            c = json.loads(b64url_decode(tok.strip().split(".")[1]))
            return "Bearer <aud=%s sub=%s>" % (c.get("aud"), c.get("upn") or c.get("appid"))
        except (ValueError, IndexError, AttributeError):
            return "Bearer <not a JWT>"

    def caller(self, rq):
        c = rq.token or {}
        return "appid=%s;oid=%s;iss=%s" % (c.get("appid"), c.get("oid"), c.get("iss"))

    def principal(self, rq):
        c = rq.token or {}
        if c.get("idtyp") == "user" or c.get("upn"):
            return "user:" + str(c.get("upn", "")).lower()
        return "app:" + str(c.get("appid", "")).lower()

    def challenge_header(self):
        k = self.s.knobs
        res = self.s.vault_resource if k["challenge_resource"] is None else k["challenge_resource"]
        auth = k["challenge_authority"] or "%s/%s" % (self.s.a.authority.rstrip("/"), self.s.a.tenant_id)
        parts = ['Bearer %s="%s"' % (k["challenge_param"], auth)]
        if res != "":
            parts.append('resource="%s"' % res)
        if k["challenge_scope"]:
            parts.append('scope="%s"' % k["challenge_scope"])
        return ("WWW-Authenticate", ", ".join(parts))

    def vault_auth(self, rq):
        auth = rq.h("authorization")
        hdr = [self.challenge_header()]
        if not auth or not auth.lower().startswith("bearer ") or not auth[7:].strip():
            with self.s.lock:
                self.s.stats["challenges"] += 1
            return self.kv_error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.",
                                 headers=hdr)
        claims, why = self.decode_jwt(auth[7:].strip())
        if claims is None:
            return self.kv_error(401, "Unauthorized", "Token validation failed: %s (emulator)." % why, headers=hdr)
        if claims.get("aud") != self.s.vault_resource:
            return self.kv_error(401, "Unauthorized", "AKV10022: Invalid audience. Expected %s, found: %s." % (
                self.s.vault_resource, claims.get("aud")), headers=hdr)
        tid = self.s.a.tenant_id.lower()
        if str(claims.get("tid", "")).lower() != tid or claims.get("iss") not in (
                "https://sts.windows.net/%s/" % tid, "https://login.microsoftonline.com/%s/v2.0" % tid):
            return self.kv_error(401, "Unauthorized", "AKV10032: Invalid issuer. Expected one of "
                                 "https://sts.windows.net/%s/, https://login.microsoftonline.com/%s/v2.0, found %s."
                                 % (tid, tid, claims.get("iss")), headers=hdr)
        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            return self.kv_error(401, "Unauthorized", "Token validation failed: the token is expired (exp %s)."
                                 % claims.get("exp"), headers=hdr)
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + 300:
            return self.kv_error(401, "Unauthorized", "Token validation failed: the token is not valid yet.",
                                 headers=hdr)
        if int(claims.get("iat", 0)) <= self.s.not_before:
            return self.kv_error(401, "Unauthorized", "Token validation failed: the token is expired "
                                 "(revoked by /_test/expire_tokens).", headers=hdr)
        rq.token = claims
        return None

    # -- authorization ------------------------------------------------------

    def vault_fx(self, rq):
        return self.s.vaults[rq.host.name]["fx"]

    def resource_id(self, rq, tail=""):
        v = self.vault_fx(rq)
        return ("/subscriptions/%s/resourcegroups/%s/providers/microsoft.keyvault/vaults/%s%s" % (
            self.s.sub, v["resource_group"], v["name"], tail)).lower()

    def rbac_denied(self, rq, action=None):
        v = self.vault_fx(rq)
        action = action or OPS.get(rq.op, OPS["secrets.get"])[2]
        msg = ("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or "
               "role definitions were changed recently, please observe propagation time.\r\nCaller: %s\r\n"
               "Action: '%s'\r\nResource: '%s'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\n"
               "DecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: %s;location=%s\r\n" % (
                   self.caller(rq), action, self.resource_id(rq, getattr(rq, "res_tail", "")), v["name"],
                   self.s.location))
        return self.kv_error(403, "Forbidden", msg, "ForbiddenByRbac")

    def policy_denied(self, rq, permission=None):
        v = self.vault_fx(rq)
        if not permission:
            kind, perm, _ = OPS.get(rq.op, OPS["secrets.get"])
            permission = "%s %s" % (kind, perm)
        msg = ("The user, group or application '%s' does not have %s permission on key vault '%s;location=%s'. "
               "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287" % (
                   self.caller(rq), permission, v["name"], self.s.location))
        return self.kv_error(403, "Forbidden", msg, "AccessDenied")

    def firewall_denied(self, rq):
        v = self.vault_fx(rq)
        msg = ("Client address is not authorized and caller is not a trusted service.\r\nClient address: %s\r\n"
               "Caller: %s\r\nVault: %s;location=%s" % (rq.peer, self.caller(rq), v["name"], self.s.location))
        return self.kv_error(403, "Forbidden", msg, "ForbiddenByFirewall")

    def authorize(self, rq):
        v = self.vault_fx(rq)
        kind, perm, action = OPS[rq.op]
        grant = v.get("access", {}).get(self.principal(rq))
        if v["model"] == "rbac":
            actions = set()
            for role in grant or []:
                actions |= ROLE_ACTIONS.get(role, set())
            if "*" not in actions and action not in actions:
                raise Bad(self.rbac_denied(rq))
        else:
            if perm.lower() not in [p.lower() for p in (grant or {}).get(kind, [])]:
                raise Bad(self.policy_denied(rq))
        f = self.fault(rq, early=False)
        if f:
            raise Bad(f)

    # -- data plane ---------------------------------------------------------

    def vault(self, rq):
        host = rq.host
        hh = (rq.h("host") or "").lower()
        if hh not in (host.netloc.lower(), host.netloc443.lower(), "%s:%d" % (host.ip, host.port)):
            return self.kv_error(400, "BadParameter", "The Host header '%s' does not name this vault (%s)."
                                 % (hh, host.netloc))
        bad = self.vault_auth(rq)
        if bad:
            return bad
        ver = rq.query.get("api-version")
        if ver is None:
            return self.kv_error(400, "BadParameter", "The api-version query parameter is missing.")
        if ver not in KV_API_VERSIONS:
            return self.kv_error(400, "BadParameter", "The specified version (%s) is not recognized. Consider "
                                 "using the latest supported version (7.4)." % ver)
        segs = rq.path.split("/")[1:]
        while segs and segs[0] == "":
            segs = segs[1:]            # https://vault//secrets/... (the docs' own example) is accepted
        if segs and segs[-1] == "" and len(segs) > 1:
            segs = segs[:-1]           # a trailing '/' is accepted
        try:
            segs = [urllib.parse.unquote(x, errors="strict") for x in segs]
        except UnicodeDecodeError:
            return self.kv_error(400, "BadParameter", "Invalid URL encoding.")
        low = [x.lower() for x in segs]
        if low[:1] == ["secrets"]:
            if len(segs) == 1:
                return self.only(rq, "GET") or self.list_secrets(rq)
            if len(segs) == 3 and low[2] == "versions":
                return self.only(rq, "GET") or self.list_versions(rq, segs[1])
            if len(segs) in (2, 3):
                return self.only(rq, "GET") or self.get_secret(rq, segs[1], segs[2] if len(segs) == 3 else "")
        if low[:1] == ["keys"]:
            if len(segs) == 3 and low[2] == "versions":
                return self.only(rq, "GET") or self.list_key_versions(rq, segs[1])
            if len(segs) in (2, 3):
                return self.only(rq, "GET") or self.get_key(rq, segs[1], segs[2] if len(segs) == 3 else "")
            if len(segs) == 4 and low[3] == "unwrapkey":
                return self.only(rq, "POST") or self.unwrap(rq, segs[1], segs[2])
        return self.kv_error(404, "NotFound", "The emulator does not serve %s %s." % (rq.method, rq.path))

    def only(self, rq, method):
        if rq.method != method:
            return self.kv_error(405, "MethodNotAllowed", "The requested resource does not support http method "
                                 "'%s'." % rq.method)
        return None

    def base(self, rq):
        return rq.host.url

    def attrs(self, v, recoverable=True):
        a = {"enabled": v["enabled"], "created": v["created"], "updated": v["updated"]}
        if recoverable:
            a["recoveryLevel"] = "Recoverable+Purgeable"
            a["recoverableDays"] = 90
        return a

    def secret_item(self, rq, sec, v, versioned):
        item = {"id": "%s/secrets/%s%s" % (self.base(rq), sec["name"], "/" + v["version"] if versioned else ""),
                "attributes": self.attrs(v)}
        if v["contentType"] is not None:
            item["contentType"] = v["contentType"]
        if v["tags"] is not None:
            item["tags"] = v["tags"]
        return item

    def page(self, rq, n, item, fingerprint, what):
        """One page of a listing of n entries; item(i) builds entry i (only this page's are built)."""
        size = int(self.s.knobs["page_size_max"])
        if "maxresults" in rq.query:
            try:
                size = int(rq.query["maxresults"])
                if not 1 <= size <= int(self.s.knobs["page_size_max"]):
                    raise ValueError
            except ValueError:
                raise Bad(self.kv_error(400, "BadParameter", "The value of parameter 'maxresults' should be between 1 "
                                        "and %d." % int(self.s.knobs["page_size_max"])))
        offset, pageno = 0, 1
        tok = rq.query.get("$skiptoken")
        if tok is not None:
            try:
                d = json.loads(base64.b64decode(tok, validate=True).decode("utf-8"))
                marker = d["NextMarker"].split("!")
                if marker[0] != "emu" or marker[3] != fingerprint:
                    raise ValueError
                offset, pageno = int(marker[1]), int(marker[2])
            except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError):
                raise Bad(self.kv_error(400, "BadParameter", "The provided $skiptoken is not valid for this "
                                        "request."))
        every = int(self.s.knobs["empty_page_every"] or 0)
        empty = every and pageno % every == 0
        with self.s.lock:
            chunk = [] if empty else [item(i) for i in range(offset, min(n, offset + size))]
        nxt = offset if empty else offset + size
        body = {"value": chunk, "nextLink": None}
        if nxt < n:
            body["nextLink"] = self.next_link(rq, nxt, pageno + 1, fingerprint)
        r = Resp(200, body)
        r.note = "%s page=%d items=%d%s" % (what, pageno, len(chunk), " empty" if empty else "")
        return r

    def next_link(self, rq, offset, pageno, fingerprint):
        for attempt in range(64):
            # standard base64 like the service's, without '+', '/' or '=' (a fresh nonce until so)
            nonce = secrets.token_hex(3) + "0" * (attempt % 3)
            doc = {"NextMarker": "emu!%d!%d!%s!%s" % (offset, pageno, fingerprint, nonce),
                   "TargetLocation": 0}
            tok = base64.b64encode(jdump(doc)).decode("ascii")
            if not re.search(r"[+/=]", tok):
                break
        k = self.s.knobs
        netloc = rq.host.netloc443 if k["nextlink_port443"] else rq.host.netloc
        params = [("api-version", k["nextlink_api_version"] or rq.query["api-version"]), ("$skiptoken", tok)]
        if "maxresults" in rq.query:
            params.append(("maxresults", rq.query["maxresults"]))
        return "https://%s%s?%s" % (netloc, rq.path, "&".join("%s=%s" % (a, urllib.parse.quote(b, safe="$"))
                                                             for a, b in params))

    def list_secrets(self, rq):
        rq.op = "secrets.list"
        self.authorize(rq)
        with self.s.lock:
            self.s.stats["secret_lists"] += 1
            if self.s.vaults[rq.host.name]["fx"].get("generated"):
                n = int(self.s.knobs["bench_secrets"])
                sec_at = self.s.bench_item
            else:
                secs = self.s.secrets_of(rq.host.name)
                n = len(secs)
                sec_at = secs.__getitem__
        return self.page(rq, n, lambda i: (lambda sec: self.secret_item(rq, sec, sec["versions"][-1], False))(
            sec_at(i)), "secrets", "list")

    def find_secret(self, rq, name):
        with self.s.lock:
            sec = self.s.secret(rq.host.name, name)
        if sec is None:
            raise Bad(self.kv_error(404, "SecretNotFound", "A secret with (name/id) %s was not found in this key "
                                    "vault. If you recently deleted this secret you may be able to recover it using "
                                    "the correct recovery command. For help resolving this issue, please see "
                                    "https://go.microsoft.com/fwlink/?linkid=2125182" % name))
        return sec

    def list_versions(self, rq, name):
        rq.op = "secrets.versions"
        rq.res_tail = "/secrets/" + name
        self.authorize(rq)
        sec = self.find_secret(rq, name)
        vers = sec["versions"]
        return self.page(rq, len(vers), lambda i: self.secret_item(rq, sec, vers[i], True),
                         "versions:" + sec["name"].lower(), "versions")

    def get_secret(self, rq, name, version):
        rq.op = "secrets.get"
        rq.res_tail = "/secrets/" + name
        self.authorize(rq)
        sec = self.find_secret(rq, name)
        if version:
            v = next((x for x in sec["versions"] if x["version"] == version.lower()), None)
            if v is None:
                raise Bad(self.kv_error(404, "SecretNotFound", "A secret with (name/id) %s/%s was not found in this "
                                        "key vault. If you recently deleted this secret you may be able to recover "
                                        "it using the correct recovery command. For help resolving this issue, "
                                        "please see https://go.microsoft.com/fwlink/?linkid=2125182" % (name, version)))
        else:
            v = sec["versions"][-1]
        if not v["enabled"]:
            return self.kv_error(403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                                 "SecretDisabled")
        body = {"value": v["value"]}
        body.update(self.secret_item(rq, sec, v, True))
        with self.s.lock:
            self.s.stats["secret_gets"] += 1
        r = Resp(200, body)
        r.note = "secret-get %s/%s%s" % (sec["name"], v["version"], " wrapped" if v.get("wrap") else "")
        return r

    def find_key(self, rq, name, version):
        with self.s.lock:
            key = self.s.vaults[rq.host.name]["keys"].get(name.lower())
        if key is not None and version:
            kv = next((x for x in key["versions"] if x["version"] == version.lower()), None)
        else:
            kv = key["versions"][-1] if key else None
        if kv is None:
            raise Bad(self.kv_error(404, "KeyNotFound", "A key with (name/id) %s%s was not found in this key vault. "
                                    "If you recently deleted this key you may be able to recover it using the correct "
                                    "recovery command. For help resolving this issue, please see "
                                    "https://go.microsoft.com/fwlink/?linkid=2125182" % (
                                        name, "/" + version if version else "")))
        return key, kv

    def key_item(self, rq, key, kv):
        return "%s/keys/%s/%s" % (self.base(rq), key["name"], kv["version"])

    def get_key(self, rq, name, version):
        rq.op = "keys.get"
        rq.res_tail = "/keys/" + name
        self.authorize(rq)
        key, kv = self.find_key(rq, name, version)
        jwk = {"kid": self.key_item(rq, key, kv)}
        jwk.update(jwk_of(kv["priv"].public_key()))
        jwk["key_ops"] = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
        with self.s.lock:
            self.s.stats["key_gets"] += 1
        a = self.attrs(kv)
        a["exportable"] = False
        return Resp(200, {"key": jwk, "attributes": a, "tags": {}})

    def list_key_versions(self, rq, name):
        rq.op = "keys.versions"
        rq.res_tail = "/keys/" + name
        self.authorize(rq)
        key, _ = self.find_key(rq, name, "")
        vers = key["versions"]
        return self.page(rq, len(vers), lambda i: {"kid": self.key_item(rq, key, vers[i]),
                                                   "attributes": self.attrs(vers[i]), "tags": {}},
                         "keyversions:" + key["name"].lower(), "key-versions")

    def unwrap(self, rq, name, version):
        rq.op = "keys.unwrapkey"
        rq.res_tail = "/keys/" + name
        self.authorize(rq)
        ctype = (rq.h("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return self.kv_error(400, "BadParameter", "The request body must be JSON (Content-Type: "
                                 "application/json); got %r." % (rq.h("content-type") or ""))
        try:
            doc = json.loads(rq.body.decode("utf-8"))
            if not isinstance(doc, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            return self.kv_error(400, "BadParameter", "The request body is not valid JSON.")
        alg = doc.get("alg")
        if alg not in ALGS:
            return self.kv_error(400, "BadParameter", "Property 'alg' has invalid value %r: expected one of %s."
                                 % (alg, ", ".join(ALGS)))
        try:
            data = b64url_decode(doc.get("value"))
        except ValueError:
            return self.kv_error(400, "BadParameter", "Property 'value' must be base64url without padding.")
        key, kv = self.find_key(rq, name, version)
        with self.s.lock:
            self.s.stats["unwraps"] += 1
        try:
            out = rsa_unwrap(kv["priv"], alg, data)
        except ValueError as e:
            with self.s.lock:
                self.s.stats["unwrap_failures"] += 1
            r = self.kv_error(400, "BadParameter", str(e))
            r.note += " unwrap-failed %s/%s %s" % (key["name"], kv["version"], alg)
            return r
        r = Resp(200, {"kid": self.key_item(rq, key, kv), "value": b64url(out)})
        r.note = "unwrap %s/%s %s" % (key["name"], kv["version"], alg)
        return r

    # -- ARM ----------------------------------------------------------------

    def arm_auth(self, rq):
        auth = rq.h("authorization")
        authority = self.s.a.authority.rstrip("/") + "/"
        if not auth or not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return self.arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                                  "missing.", [("WWW-Authenticate", 'Bearer authorization_uri="%s", error='
                                                '"invalid_token", error_description="The authentication failed '
                                                'because of missing \'Authorization\' header."' % authority)])
        hdr = [("WWW-Authenticate", 'Bearer authorization_uri="%s", error="invalid_token", error_description="The '
                                    'access token is invalid."' % authority)]
        claims, why = self.decode_jwt(auth[7:].strip())
        if claims is None:
            return self.arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.", hdr)
        auds = self.s.fx["arm_audiences"]
        if claims.get("aud") not in auds:
            return self.arm_error(401, "InvalidAuthenticationTokenAudience", "The access token has been obtained for "
                                  "wrong audience or resource '%s'. It should exactly match with one of the allowed "
                                  "audiences %s." % (claims.get("aud"), ",".join("'%s'" % a for a in auds)), hdr)
        tid = self.s.a.tenant_id.lower()
        if str(claims.get("tid", "")).lower() != tid:
            return self.arm_error(401, "InvalidAuthenticationTokenTenant", "The access token is from the wrong "
                                  "issuer '%s'. It must match the tenant 'https://sts.windows.net/%s/' associated "
                                  "with this subscription." % (claims.get("iss"), tid), hdr)
        now = time.time()
        if (not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now
                or int(claims.get("iat", 0)) <= self.s.not_before):
            return self.arm_error(401, "ExpiredAuthenticationToken", "The access token expiry UTC time '%s' is "
                                  "earlier than current UTC time '%s'." % (
                                      dt.datetime.fromtimestamp(claims.get("exp") or 0, dt.timezone.utc)
                                      .strftime("%m/%d/%Y %I:%M:%S %p"),
                                      dt.datetime.now(dt.timezone.utc).strftime("%m/%d/%Y %I:%M:%S %p")), hdr)
        rq.token = claims
        return None

    def arm(self, rq):
        bad = self.arm_auth(rq)
        if bad:
            return bad
        if rq.method != "GET":
            return self.arm_error(405, "MethodNotAllowed", "The emulator serves GET only.")
        segs = [urllib.parse.unquote(x) for x in rq.path.split("/")[1:]]
        if segs and segs[-1] == "":
            segs = segs[:-1]
        low = [x.lower() for x in segs]
        if len(segs) < 2 or low[0] != "subscriptions":
            return self.arm_error(400, "InvalidRequestUri", "The request uri '%s' is not valid." % rq.path)
        if "api-version" not in rq.query:
            return self.arm_error(400, "MissingApiVersionParameter", "The api-version query parameter "
                                  "(?api-version=) is required for all requests.")
        if low[1] != self.s.sub:
            return self.arm_error(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % segs[1])
        kinds = {"virtualmachines": ("Microsoft.Compute", "virtualMachines"), "disks": ("Microsoft.Compute", "disks"),
                 "vaults": ("Microsoft.KeyVault", "vaults")}
        if not (len(segs) in (7, 8) and low[2] == "resourcegroups" and low[4] == "providers"
                and low[6] in kinds and low[5] == kinds[low[6]][0].lower()):
            return self.arm_error(400, "InvalidResourceType", "The resource type '%s' could not be found (the "
                                  "emulator serves virtualMachines, disks and vaults)." % "/".join(segs[5:7]))
        rg, kind = segs[3], low[6]
        ns, typ = kinds[kind]
        action = "%s/%s/read" % (ns, typ)
        scope = "/subscriptions/%s/resourceGroups/%s/providers/%s/%s%s" % (
            segs[1], rg, ns, typ, "/" + segs[7] if len(segs) == 8 else "")
        if self.principal(rq) not in [p.lower() for p in self.s.fx["arm_readers"]]:
            c = rq.token
            who = c.get("upn") or c.get("appid")
            return self.arm_error(403, "AuthorizationFailed", "The client '%s' with object id '%s' does not have "
                                  "authorization to perform action '%s' over scope '%s' or the scope is invalid. If "
                                  "access was recently granted, please refresh your credentials." % (
                                      who, c.get("oid"), action, scope))
        av = rq.query["api-version"]
        if av not in ARM_API_VERSIONS[kind]:
            return self.arm_error(400, "NoRegisteredProviderFound", "No registered resource provider found for "
                                  "location '%s' and API version '%s' for type '%s'. The supported api-versions "
                                  "are '%s'." % (self.s.location, av, typ, ", ".join(ARM_API_VERSIONS[kind])))
        rgs = {vm["resource_group"].lower() for vm in self.s.fx["vms"]} | {
            v["resource_group"].lower() for v in self.s.fx["vaults"]}
        if rg.lower() not in rgs:
            return self.arm_error(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)
        with self.s.lock:
            self.s.stats["arm_gets"] += 1
        if len(segs) == 7:
            if kind != "virtualmachines":
                return self.arm_error(400, "InvalidResourceType", "The emulator lists virtualMachines only.")
            vms = [vm for vm in self.s.fx["vms"] if vm["resource_group"].lower() == rg.lower()]
            r = Resp(200, {"value": [self.vm_doc(vm) for vm in vms]})
            r.note = "arm-list n=%d" % len(vms)
            return r
        name = segs[7]
        doc = None
        if kind == "virtualmachines":
            vm = self.s.arm_vms.get((rg.lower(), name.lower()))
            doc = vm and self.vm_doc(vm)
        elif kind == "disks":
            d = self.s.arm_disks.get((rg.lower(), name.lower()))
            doc = d and self.disk_doc(d)
        else:
            v = next((v for v in self.s.fx["vaults"] if v["name"].lower() == name.lower()
                      and v["resource_group"].lower() == rg.lower()), None)
            doc = v and self.vault_doc(v)
        if doc is None:
            return self.arm_error(404, "ResourceNotFound", "The Resource '%s/%s/%s' under resource group '%s' was not "
                                  "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix" % (
                                      ns, typ, name, rg))
        r = Resp(200, doc, [("x-ms-ratelimit-remaining-subscription-reads", "11999")])
        r.note = "arm-get %s/%s" % (typ, doc["name"])
        return r

    def rid(self, rg, ns, typ, name):
        return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s" % (self.s.sub, rg, ns, typ, name)

    def disk_id(self, d):
        return self.rid(d.get("id_resource_group", d["resource_group"]), "Microsoft.Compute", "disks", d["name"])

    def vm_doc(self, vm):
        fx = self.s.fx
        os_d = next(d for d in fx["disks"] if d["name"] == vm["os_disk"])
        os_disk = {"osType": "Windows", "name": os_d["name"], "createOption": "FromImage", "caching": "ReadWrite",
                   "managedDisk": {"storageAccountType": "Premium_LRS", "id": self.disk_id(os_d)},
                   "deleteOption": "Delete", "diskSizeGB": 127}
        if vm.get("encryption_settings"):
            os_disk["encryptionSettings"] = self.s.expand_obj(vm["encryption_settings"])
        data = []
        for dn in vm.get("data_disks", []):
            d = next(x for x in fx["disks"] if x["name"] == dn)
            data.append({"lun": d.get("lun", 0), "name": d["name"], "createOption": "Attach", "caching": "None",
                         "managedDisk": {"storageAccountType": "Premium_LRS", "id": self.disk_id(d)},
                         "deleteOption": "Detach", "diskSizeGB": 64, "toBeDetached": False})
        vm_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "vm:" + vm["name"]))
        return {"name": vm["name"], "id": self.rid(vm["resource_group"], "Microsoft.Compute", "virtualMachines",
                                                   vm["name"]),
                "type": "Microsoft.Compute/virtualMachines", "location": self.s.location,
                "properties": {
                    "vmId": vm_id, "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                    "storageProfile": {
                        "imageReference": {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                                           "sku": "2022-datacenter-azure-edition", "version": "latest",
                                           "exactVersion": "20348.2655.240905"},
                        "osDisk": os_disk, "dataDisks": data, "diskControllerType": "SCSI"},
                    "osProfile": {"computerName": vm["computer_name"], "adminUsername": "azureadmin",
                                  "windowsConfiguration": {"provisionVMAgent": True, "enableAutomaticUpdates": True},
                                  "secrets": [], "allowExtensionOperations": True},
                    "networkProfile": {"networkInterfaces": [{"id": self.rid(vm["resource_group"], "Microsoft.Network",
                                                                             "networkInterfaces", vm["name"] + "-nic")}]},
                    "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
                    "provisioningState": "Succeeded",
                    "timeCreated": "2023-11-02T08:15:00.0000000+00:00"},
                "resources": [{"id": self.rid(vm["resource_group"], "Microsoft.Compute", "virtualMachines",
                                              vm["name"] + "/extensions/AzureDiskEncryption")}]
                if vm.get("encryption_settings") or self.disk_encrypted(os_d) else []}

    def disk_encrypted(self, d):
        return bool(d.get("encryption"))

    def disk_doc(self, d):
        props = {"osType": "Windows" if d.get("os") else None, "hyperVGeneration": "V2",
                 "creationData": {"createOption": "FromImage" if d.get("os") else "Empty"},
                 "diskSizeGB": 127 if d.get("os") else 64, "diskIOPSReadWrite": 500, "diskMBpsReadWrite": 100,
                 "encryption": {"type": "EncryptionAtRestWithPlatformKey"}, "networkAccessPolicy": "AllowAll",
                 "publicNetworkAccess": "Enabled", "timeCreated": "2023-11-02T08:15:00.0000000+00:00",
                 "provisioningState": "Succeeded", "diskState": "Attached",
                 "uniqueId": str(uuid.uuid5(uuid.NAMESPACE_URL, "disk:" + d["name"]))}
        if props["osType"] is None:
            del props["osType"]
        e = d.get("encryption")
        if e:
            props["encryptionSettingsCollection"] = {"enabled": e["enabled"],
                                                     "encryptionSettings": self.s.expand_obj(e["settings"]),
                                                     "encryptionSettingsVersion": e["version"]}
        return {"name": d["name"], "id": self.disk_id(d), "type": "Microsoft.Compute/disks",
                "location": self.s.location,
                "managedBy": self.rid(d["resource_group"], "Microsoft.Compute", "virtualMachines", d["vm"]),
                "sku": {"name": "Premium_LRS", "tier": "Premium"}, "properties": props}

    def vault_doc(self, v):
        return {"id": self.rid(v["resource_group"], "Microsoft.KeyVault", "vaults", v["name"]), "name": v["name"],
                "type": "Microsoft.KeyVault/vaults", "location": self.s.location, "tags": {},
                "properties": {"sku": {"family": "A", "name": "standard"}, "tenantId": self.s.a.tenant_id,
                               "vaultUri": self.s.hosts[v["name"]].url + "/",
                               "enabledForDiskEncryption": True, "enableRbacAuthorization": v["model"] == "rbac",
                               "enableSoftDelete": True, "softDeleteRetentionInDays": 90,
                               "publicNetworkAccess": "Enabled", "provisioningState": "Succeeded"}}

    # -- test hooks ---------------------------------------------------------

    def test_args(self, rq):
        args = parse_query(rq.qs)
        if rq.body:
            ctype = (rq.h("content-type") or "").split(";")[0].strip().lower()
            if ctype == "application/json":
                try:
                    doc = json.loads(rq.body.decode("utf-8"))
                except ValueError:
                    raise Bad(Resp(400, {"error": "body is not JSON"}))
                if isinstance(doc, dict):
                    args.update(doc)
            else:
                args.update(parse_query(rq.body.decode("ascii", "replace")))
        return args

    def fixture_summary(self):
        s = self.s
        out = {"subscription": s.sub, "location": s.location, "vault_resource": s.vault_resource,
               "arm": s.hosts["arm"].url, "port443": s.hosts["arm"].default_port, "vaults": {}}
        for name, v in s.vaults.items():
            h = s.hosts[name]
            vd = {"var": v["fx"]["var"], "url": h.url, "url443": "https://" + h.netloc443, "model": v["fx"]["model"],
                  "keys": {}, "secrets": {}}
            for k in v["keys"].values():
                vd["keys"][k["name"]] = [x["version"] for x in k["versions"]]
            for sec in v["secrets"].values():
                vd["secrets"][sec["name"]] = [{"version": x["version"], "enabled": x["enabled"],
                                               "contentType": x["contentType"], "tags": x["tags"],
                                               "wrap": x["wrap"], "created": x["created"]} for x in sec["versions"]]
            if v["fx"].get("generated"):
                vd["generated"] = int(s.knobs["bench_secrets"])
            out["vaults"][name] = vd
        return out

    def test_hook(self, rq):
        name = rq.path[len("/_test/"):].strip("/")
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
                        s.merge_knobs(args)
                    except (ValueError, TypeError) as e:
                        s.knobs = saved
                        return Resp(400, {"error": str(e)})
            with s.lock:
                return Resp(200, s.knobs)
        if rq.method == "GET":
            with s.lock:
                if name == "stats":
                    return Resp(200, s.stats)
                if name == "requests":
                    try:
                        since = int(args.get("since", 0))
                    except ValueError:
                        return Resp(400, {"error": "since must be a number"})
                    host = args.get("host")
                    return Resp(200, {"last": s.req_seq, "value": [
                        r for r in s.requests if r["seq"] > since and (not host or r["host"] == host)]})
                if name == "fixture":
                    return Resp(200, self.fixture_summary())
            if name == "bench":
                try:
                    i = int(args.get("i", ""))
                except ValueError:
                    return Resp(400, {"error": "need ?i=INDEX"})
                with s.lock:
                    if not 0 <= i < int(s.knobs["bench_secrets"]):
                        return Resp(404, {"error": "no bench secret %d" % i})
                    it = s.bench_item(i)
                v = it["versions"][0]
                return Resp(200, {"index": i, "name": it["name"], "version": v["version"], "tags": v["tags"],
                                  "created": v["created"], "contentType": v["contentType"],
                                  "bek": base64.b64encode(v["bek"]).decode()})
            if name == "expected":
                vault = args.get("vault", "")
                with s.lock:
                    if vault not in s.vaults:
                        return Resp(404, {"error": "no vault %r" % vault})
                    sec = s.secret(vault, args.get("name", ""))
                if sec is None:
                    return Resp(404, {"error": "no secret %r" % args.get("name")})
                ver = (args.get("version") or "").lower()
                v = next((x for x in sec["versions"] if x["version"] == ver), None) if ver else sec["versions"][-1]
                if v is None:
                    return Resp(404, {"error": "no version %r" % ver})
                return Resp(200, {"name": sec["name"], "version": v["version"], "contentType": v["contentType"],
                                  "wrap": v["wrap"], "bek": base64.b64encode(v["bek"]).decode() if v["bek"] else None,
                                  "real": v["bek"] == s.real_bek})
        if rq.method == "POST":
            if name == "stats/reset":
                s.reset_stats()
                return Resp(200, {"ok": True})
            if name == "requests/reset":
                with s.lock:
                    s.requests = []
                return Resp(200, {"ok": True, "last": s.req_seq})
            if name == "expire_tokens":
                with s.lock:
                    s.not_before = int(time.time())
                time.sleep(1.0)   # tokens issued from the next second on are fine
                return Resp(200, {"ok": True, "not_before": s.not_before})
            if name == "reset":
                s.build()
                return Resp(200, {"ok": True})
            if name == "set_enabled":
                with s.lock:
                    vault = args.get("vault", "")
                    if vault not in s.vaults:
                        return Resp(404, {"error": "no vault %r" % vault})
                    sec = s.secret(vault, args.get("name", ""))
                    if sec is None:
                        return Resp(404, {"error": "no secret %r" % args.get("name")})
                    ver = (args.get("version") or "").lower()
                    v = next((x for x in sec["versions"] if x["version"] == ver), None) if ver else sec["versions"][-1]
                    if v is None:
                        return Resp(404, {"error": "no version %r" % ver})
                    en = args.get("enabled")
                    v["enabled"] = en if isinstance(en, bool) else str(en).lower() in ("1", "true", "yes")
                    v["updated"] = int(time.time())
                    return Resp(200, {"ok": True, "name": sec["name"], "version": v["version"],
                                      "enabled": v["enabled"]})
        return Resp(404, {"error": "no such test hook: %s %s" % (rq.method, name)})


# ---------------------------------------------------------------- HTTP layer

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keyvault-emulator/1"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S

    def setup(self):
        super().setup()
        self.conn_id = self.server.conn_id
        self.seq = 0

    def log_message(self, fmt, *args):
        pass

    def log_error(self, fmt, *args):
        self.server.log.line("http-error host=%s conn=%d %s" % (self.server.hostobj.name, self.conn_id,
                                                                 q(fmt % args)))

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

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
            raise ValueError
        if n > MAX_BODY:
            raise OverflowError
        return self.rfile.read(n) if n else b""

    def handle_any(self):
        self.seq += 1
        t0 = time.monotonic()
        srv = self.server
        app, st = srv.app, srv.state
        host = srv.hostobj
        resp = None
        try:
            body = self.read_body()
        except OverflowError:
            resp = Resp(413, {"error": {"code": "RequestEntityTooLarge", "message": "request body too large"}})
            self.close_connection = True
            body = b""
        except (ValueError, OSError):
            resp = Resp(400, {"error": {"code": "BadRequest", "message": "malformed request body framing"}})
            self.close_connection = True
            body = b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        rq = Req(host, self.command, self.path, headers, body, self.client_address[0])
        is_test = rq.path.startswith("/_test")
        auth = headers.get("authorization")
        if not is_test and host.kind != "control":
            with st.lock:
                hs = st.stats["hosts"][host.name]
                hs["requests"] += 1
                hs["tls_connections"] += 1 if self.seq == 1 else 0
                hs["with_token" if auth else "without_token"] += 1
        if resp is None:
            if any(ord(c) > 0x7E or ord(c) < 0x21 for c in self.path):
                resp = Resp(400, {"error": {"code": "BadParameter", "message": "Invalid URL: not percent-encoded"}})
            else:
                if not is_test and float(st.knobs.get("delay_ms") or 0) > 0:
                    time.sleep(float(st.knobs["delay_ms"]) / 1000.0)
                resp = app.handle(rq)
        if not resp.drop:
            resp.headers.append(("x-ms-request-id", rq.request_id))
            cid = headers.get("x-ms-client-request-id")
            if cid:
                resp.headers.append(("x-ms-client-request-id", cid))
            if host.kind == "vault":
                resp.headers += [("x-ms-keyvault-region", st.location),
                                 ("x-ms-keyvault-service-version", "1.9.2183.1"),
                                 ("x-ms-keyvault-network-info", "conn_type=Ipv4;addr=%s;act_addr_fam=InterNetwork;"
                                  % rq.peer)]
            elif host.kind == "arm":
                resp.headers.append(("x-ms-correlation-request-id", cid or rq.request_id))
        if not is_test:
            self.record(rq, headers, resp, t0)
        if resp.drop:
            self.close_connection = True
            return
        self.send_response(resp.status)
        for k, v in resp.headers:
            self.send_header(k, v)
        if not any(k.lower() == "cache-control" for k, _ in resp.headers):
            self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(resp.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            if resp.body and self.command != "HEAD":
                self.wfile.write(resp.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def record(self, rq, headers, resp, t0):
        """Request log (file and /_test/requests), written before the answer goes out."""
        srv = self.server
        st = srv.state
        host = srv.hostobj
        auth = headers.get("authorization")
        shown = {k: (srv.app.peek_aud(v) if k == "authorization" else v) for k, v in headers.items()}
        aud = None
        if auth:
            m = re.search(r"aud=(\S+?) sub=", shown["authorization"] or "")
            aud = m.group(1) if m else None
        with st.lock:
            st.req_seq += 1
            seq = st.req_seq
            hs = st.stats["hosts"].get(host.name)
            if hs is not None:
                hs["status"][str(resp.status)] = hs["status"].get(str(resp.status), 0) + 1
            st.requests.append({"seq": seq, "time": iso(time.time()), "host": host.name, "addr": host.netloc,
                                "conn": self.conn_id, "new_tls": self.seq == 1, "method": rq.method,
                                "path": rq.path, "query": rq.qs, "headers": shown, "token": bool(auth),
                                "aud": aud, "status": resp.status, "note": resp.note.strip()})
            if len(st.requests) > 50000:
                del st.requests[:10000]
        ms = (time.monotonic() - t0) * 1000
        srv.log.line("http host=%s conn=%d seq=%d new_tls=%d %s %s %d bytes=%d ms=%.1f auth=%s ua=%s "
                     "client-request-id=%s %s" % (host.name, self.conn_id, self.seq, 1 if self.seq == 1 else 0,
                                                  rq.method, rq.target, resp.status, len(resp.body), ms,
                                                  q(shown.get("authorization")), q(headers.get("user-agent")),
                                                  q(headers.get("x-ms-client-request-id")), resp.note.strip()))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, sock, hostobj, app, state, log):
        self.hostobj = hostobj
        self.app = app
        self.state = state
        self.log = log
        self.ssl_ctx = None
        self.ids = itertools.count(1)
        self.active = threading.BoundedSemaphore(MAX_CONNECTIONS)
        socketserver.BaseServer.__init__(self, sock.getsockname(), Handler)
        self.socket = sock
        self.server_name, self.server_port = sock.getsockname()[:2]

    def process_request(self, request, client_address):
        if not self.active.acquire(blocking=False):
            self.log.line("conn-refused host=%s too many connections" % self.hostobj.name)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.active.release()

    def finish_request(self, request, client_address):
        conn_id = next(self.ids)
        request.settimeout(IDLE_TIMEOUT_S)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log.line("tls-fail host=%s conn=%d peer=%s:%d %s" % (self.hostobj.name, conn_id, client_address[0],
                                                                       client_address[1], q(str(e))))
            return
        try:
            self.log.line("tls-ok host=%s conn=%d peer=%s:%d version=%s" % (
                self.hostobj.name, conn_id, client_address[0], client_address[1], tls.version()))
            self._tl.conn = conn_id
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    _tl = threading.local()

    @property
    def conn_id(self):
        return self._tl.conn


# ---------------------------------------------------------------- startup

def listen(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((ip, port))
        s.listen(64)
    except OSError:
        s.close()
        raise
    return s


def bind_hosts(state, mode, net):
    """Give every host an address: IP:443 each (mode 443) or 127.0.0.1:any each."""
    hosts = list(state.hosts.values())
    socks = {}
    if mode == "443":
        a, b = net.split(".")[:2]
        last = None
        for k in range(64):
            got = {}
            try:
                for i, h in enumerate(hosts):
                    got[h.name] = listen("%s.%s.%d.%d" % (a, b, k, 10 + i), 443)
            except OSError as e:
                last = e
                for s in got.values():
                    s.close()
                continue
            socks = got
            break
        if not socks:
            raise OSError("cannot listen on %s.%s.*.*:443 (%s); run as root, or use --ports any" % (a, b, last))
        for h in hosts:
            h.ip, h.port = socks[h.name].getsockname()[:2]
            h.default_port = True
    else:
        for h in hosts:
            socks[h.name] = listen("127.0.0.1", 0)
            h.ip, h.port = socks[h.name].getsockname()[:2]
    c = state.control
    socks["control"] = listen("127.0.0.1", 0)
    c.ip, c.port = socks["control"].getsockname()[:2]
    return socks


def make_cert(state, ca_file, ca_key, out_dir):
    """Server certificate for every bound address, signed by the test CA (tests/graph/ca.sh)."""
    with open(ca_file, "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(ca_key, "rb") as f:
        cakey = serialization.load_pem_private_key(f.read(), password=None)
    kpath = os.path.join(out_dir, "kv-server.key")
    try:
        with open(kpath, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except (OSError, ValueError):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fd = os.open(kpath + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.replace(kpath + ".tmp", kpath)
    import ipaddress
    ips = sorted({h.ip for h in state.hosts.values()} | {"127.0.0.1"})
    san = [x509.IPAddress(ipaddress.ip_address(i)) for i in ips] + [x509.DNSName("localhost")]
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bdekey key vault emulator")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(cakey.public_key()), critical=False)
            .sign(cakey, hashes.SHA256()))
    cpath = os.path.join(out_dir, "kv-server.pem")
    with open(cpath + ".tmp", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(cpath + ".tmp", cpath)
    return cpath, kpath


def env_lines(state, a):
    import shlex
    out = []

    def e(name, value):
        out.append("export %s=%s" % (name, shlex.quote(str(value))))

    s = state
    fx = s.fx
    main = fx["vaults"][0]["name"]
    e("BDEKEY_VAULT", s.hosts[main].url)
    e("BDEKEY_ARM", s.hosts["arm"].url)
    e("BDEKEY_VAULT_RESOURCE", s.vault_resource)
    e("BDEKEY_SUBSCRIPTION", s.sub)
    e("BDEKEY_CA_BUNDLE", a.ca_file)
    e("KV_EMU_URL", s.control.url)
    e("KV_EMU_DIR", a.dir)
    e("KV_EMU_LOG", a.log)
    e("KV_EMU_PID", os.getpid())
    e("KV_EMU_PORT443", 1 if s.hosts["arm"].default_port else 0)
    e("KV_EMU_ARM_HOST", s.hosts["arm"].netloc)
    e("KV_EMU_VAULT_SCOPE", s.vault_resource + "/.default")
    e("KV_EMU_ARM_SCOPE", "https://management.azure.com/.default")
    e("KV_EMU_LOCATION", s.location)
    for v in fx["vaults"]:
        h = s.hosts[v["name"]]
        e("KV_EMU_VAULT_%s" % v["var"], h.url)
        e("KV_EMU_VAULT_%s_443" % v["var"], "https://" + h.netloc443)
        e("KV_EMU_VAULT_%s_HOST" % v["var"], h.netloc)
        e("KV_EMU_VAULT_%s_NAME" % v["var"], v["name"])
    for k in fx["keys"]:
        h = s.hosts[k["vault"]]
        e("KV_FX_KEK_%s_NAME" % k["var"], k["name"])
        e("KV_FX_KEK_%s_VAULT" % k["var"], h.url)
        for kv in k["versions"]:
            e("KV_FX_KEK_%s_%s" % (k["var"], kv["var"]), kv["version"])
            e("KV_FX_KEK_%s_%s_URL" % (k["var"], kv["var"]), "%s/keys/%s/%s" % (h.url, k["name"], kv["version"]))
        e("KV_FX_KEK_%s_LATEST" % k["var"], k["versions"][-1]["version"])
    for sec in fx["secrets"]:
        h = s.hosts[sec["vault"]]
        e("KV_FX_SECRET_%s_NAME" % sec["var"], sec["name"])
        e("KV_FX_SECRET_%s_VAULT" % sec["var"], h.url)
        for i, sv in enumerate(sec["versions"]):
            if len(sec["versions"]) > 1:
                tag = sv.get("var") or "V%d" % (i + 1)
                e("KV_FX_SECRET_%s_%s_VERSION" % (sec["var"], tag), sv["version"])
                e("KV_FX_SECRET_%s_%s_URL" % (sec["var"], tag),
                  "%s/secrets/%s/%s" % (h.url, sec["name"], sv["version"]))
        e("KV_FX_SECRET_%s_VERSION" % sec["var"], sec["versions"][-1]["version"])
        e("KV_FX_SECRET_%s_URL" % sec["var"], "%s/secrets/%s/%s" % (h.url, sec["name"],
                                                                    sec["versions"][-1]["version"]))
        last = sec["versions"][-1]
        tags = last.get("tags") or {}
        e("KV_FX_SECRET_%s_MACHINE" % sec["var"], tags.get("MachineName", ""))
        e("KV_FX_SECRET_%s_VOLUME" % sec["var"], tags.get("VolumeLetter", ""))
        e("KV_FX_SECRET_%s_CREATED" % sec["var"], parse_time(last["created"]))
        e("KV_FX_SECRET_%s_WRAPPED" % sec["var"], 1 if last.get("wrap") else 0)
        if last.get("wrap"):
            e("KV_FX_SECRET_%s_ALG" % sec["var"], last["wrap"]["alg"])
            e("KV_FX_SECRET_%s_KEK_URL" % sec["var"], s.expand(tags.get("DiskEncryptionKeyEncryptionKeyURL", "")))
    for vm in fx["vms"]:
        e("KV_FX_VM_%s_NAME" % vm["var"], vm["name"])
        e("KV_FX_VM_%s_RG" % vm["var"], vm["resource_group"])
        e("KV_FX_VM_%s_ID" % vm["var"], "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/"
                                        "virtualMachines/%s" % (s.sub, vm["resource_group"], vm["name"]))
        e("KV_FX_VM_%s_COMPUTER" % vm["var"], vm["computer_name"])
    for d in fx["disks"]:
        e("KV_FX_DISK_%s_NAME" % d["var"], d["name"])
        e("KV_FX_DISK_%s_ID" % d["var"], "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/disks/%s"
          % (s.sub, d.get("id_resource_group", d["resource_group"]), d["name"]))
    e("KV_FX_REAL_BEK", os.path.join(a.dir, "real", REAL_BEK_ID + ".BEK"))
    e("KV_FX_REAL_BEK_ID", REAL_BEK_ID)
    e("KV_FX_BENCH_SECRETS", int(s.knobs["bench_secrets"]))
    return "\n".join(out) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="Azure Key Vault + ARM emulator (bdekey tests)")
    ap.add_argument("--dir", required=True, help="state directory (keys, certificate, env.sh, real BEK copy)")
    ap.add_argument("--fixture", default=os.path.join(here, "fixture.json"))
    ap.add_argument("--bek-archive", default=os.path.join(here, "..", "volume", "data", "bitlk-images.tar.xz"))
    ap.add_argument("--ca-file", required=True, help="test CA certificate (tests/graph DIR/ca.pem)")
    ap.add_argument("--ca-key", required=True, help="test CA key (tests/graph DIR/ca.key)")
    ap.add_argument("--authority", required=True, help="identity emulator authority URL (BDEKEY_AUTHORITY)")
    ap.add_argument("--tenant-id", required=True, help="tenant GUID (GRAPH_EMU_TENANT_ID)")
    ap.add_argument("--jwks-url", required=True, help="identity emulator JWKS URL")
    ap.add_argument("--ports", choices=["443", "any"], default="443")
    ap.add_argument("--net", default="127.77", help="first two octets of the loopback addresses (--ports 443)")
    ap.add_argument("--log", help="request log file")
    ap.add_argument("--env-file", help="write export lines here once listening")
    ap.add_argument("--bench-secrets", type=int, default=None, help="secrets in the bench vault (default 2000)")
    ap.add_argument("--delay-ms", type=float, default=None)
    a = ap.parse_args()
    a.dir = os.path.abspath(a.dir)
    a.key_dir = os.path.join(a.dir, "keks")
    a.log = os.path.abspath(a.log) if a.log else os.path.join(a.dir, "emulator.log")

    log = Log(a.log)
    try:
        state = State(a, log)
    except (OSError, ValueError, KeyError, tarfile.TarError) as e:
        print("kv-emulator: cannot load fixture or BEK: %s" % e, file=sys.stderr)
        return 2
    try:
        socks = bind_hosts(state, a.ports, a.net)
    except OSError as e:
        print("kv-emulator: %s" % e, file=sys.stderr)
        return 3
    try:
        state.build()
        cert, key = make_cert(state, a.ca_file, a.ca_key, a.dir)
    except (OSError, ValueError, KeyError, StopIteration) as e:
        print("kv-emulator: cannot build the fixture: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(cert, key)
    os.makedirs(os.path.join(a.dir, "real"), exist_ok=True)
    real = os.path.join(a.dir, "real", REAL_BEK_ID + ".BEK")
    fd = os.open(real + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(state.real_bek)
    os.replace(real + ".tmp", real)

    app = App(state, log)
    servers = []
    for name, sock in socks.items():
        h = state.control if name == "control" else state.hosts[name]
        srv = Server(sock, h, app, state, log)
        srv.ssl_ctx = ctx
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    log.line("start pid=%d ports=%s %s" % (os.getpid(), a.ports, " ".join(
        "%s=%s" % (h.name, h.netloc) for h in list(state.hosts.values()) + [state.control])))
    if a.env_file:
        with open(a.env_file + ".tmp", "w") as f:
            f.write(env_lines(state, a))
        os.replace(a.env_file + ".tmp", a.env_file)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    for srv in servers:
        srv.shutdown()
        srv.server_close()
    log.line("stop pid=%d" % os.getpid())
    return 0


if __name__ == "__main__":
    sys.exit(main())
