#!/usr/bin/python3
"""A hostile HTTPS server: identity platform + Microsoft Graph, for bdekey's
hostile-server tests (issue 9).  See README.md next to this file.

  https.py --dir DIR

On start it makes a throw-away PKI in DIR/pki (python3-cryptography, EC P-256):
ca.pem (the CA the tests trust), server.pem (127.0.0.1), expired.pem,
wronghost.pem (DNS:wrong-host.invalid only), unknownca.pem (signed by
other-ca.pem, which nobody trusts).  Then it listens on two loopback ports:

  auth   https://127.0.0.1:AUTH/auth/{tenant}/oauth2/v2.0/{token,devicecode}
         (client credentials with a secret, device code, rotating refresh
         tokens), plus /_ctl/requests, /_ctl/reset and /_steal (a foreign
         origin that records who came)
  graph  https://127.0.0.1:GRAPH/graph/{v1.0,beta}/... a small Graph (devices,
         recoveryKeys, $batch, managedDevices, rotateBitLockerKeys)

and writes DIR/env.sh (export lines: ports, CA, secret file, fixture values).
Tokens are JWT-shaped (payload readable, signature random) and carry "roles"
(applications) or "scp" (users), so a client can see which permissions it has.

Behaviour comes from DIR/mode.json, re-read for every connection and request
(absent = everything normal).  Keys:
  graph     a Graph mode (GRAPH_MODES below; "normal" by default;
            "rotate-drop" closes the rotateBitLockerKeys connection unanswered)
  tls       "good" | "expired" | "wronghost" | "unknownca": the graph port's cert
  roles     application token roles (default: every permission bdekey uses)
  readbasic_answer  "403" (default) or "200": a key read without
            BitlockerKey.Read.All answers 403 or 200 without the key
  expires_in_raw, access_token_raw   JSON text put as-is into token answers
  at_expires_in     expires_in of user tokens (default 3600)
  dc        device code answer overrides: interval_raw, expires_in_raw,
            message, verification_uri
  dc_poll   "token" (default) | "declined-escapes" | "pending"
  refresh_delay_s   sleep before answering a refresh grant (the old refresh
            token is dead as soon as it arrives: they rotate)
  retry_after       Retry-After header value of the throttling modes

Every request is appended to DIR/requests.jsonl *before* it is answered, one
JSON object a line: {"seq", "port": "auth"|"graph", "conn", "method", "path",
"target", "headers": [[name, value], ...], "body"}; each $batch item is also
logged as {"port": "graph", "batch_item": true, "method", "target", ...}.
Connections are logged as {"event": "connect"|"tls-fail", "port", "conn"}.
Standard library + cryptography only; binds 127.0.0.1 only; every wait is
bounded.
"""

import argparse
import base64
import datetime
import hashlib
import ipaddress
import itertools
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

MAX_CONNECTIONS = 64
IO_TIMEOUT_S = 30           # a silent client is dropped after this
HOLD_MAX_S = 120            # "silent" mode holds a connection at most this long
MAX_HEADER = 64 * 1024
MAX_BODY = 4 * 1024 * 1024
HUGE_BYTES = 100 * 1024 * 1024
SECRET = "Hostile~Test-Secret_0123456789"
TENANT = "hostile.test"
TENANT_ID = "7d0c4b0e-5a1f-4c55-9a8e-2b6b8f0e1a11"
CLIENT_ID = "3f1b9a3e-8a57-4f0b-9d3c-6c1f2b7e9d10"
USER = "helpdesk@hostile.test"
ALL_ROLES = ["BitlockerKey.Read.All", "Device.Read.All", "DeviceManagementManagedDevices.ReadWrite.All"]
OIDC = {"openid", "profile", "email", "offline_access"}
ESCAPES = "\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\r\nbdekey: all is fine\x1b[0m"
GRAPH_MODES = """normal keylist-empty keylist-nonjson batch-nobody page2-429 page2-503
evil-device-longid evil-device-nonguid evil-managed-name evil-managed-badid evil-managed-longaad
rotate-504 batch-retry-after nextlink-loop escapes-name escapes-error escapes-rotate silent
close-header close-body huge-body nest-bomb bad-utf8 html-devices throttle-forever
redirect rotate-drop""".split()


# ---------------------------------------------------------------- fixture

def guid(seed):
    h = hashlib.sha256(seed.encode()).hexdigest()
    return str(uuid.UUID(h[:12] + "4" + h[13:16] + "a" + h[17:32]))


def password(seed):
    """A recovery password that passes its checksums (11 x a 16-bit word)."""
    h = hashlib.sha256(("pw:" + seed).encode()).digest()
    return "-".join("%06d" % (11 * int.from_bytes(h[2 * i:2 * i + 2], "big")) for i in range(8))


# var: displayName; every device gets an object id and an Entra deviceId
DEVICES = {"HOSTILE": "HOSTILE-PC", "TWIN_A": "TWIN-PC", "TWIN_B": "TWIN-PC",
           "EVIL": "EVIL-PC", "INNOCENT": "INNOCENT-PC", "ESC": "ESC-PC", "BADUTF": "BADUTF-PC"}
# var: (device var, createdDateTime, volumeType)
KEYS = {"HOSTILE_OS": ("HOSTILE", "2025-01-02T10:00:00Z", 1),
        "HOSTILE_DATA": ("HOSTILE", "2024-06-01T09:00:00Z", 2),
        "TWIN_A": ("TWIN_A", "2024-03-03T03:03:03Z", 1),
        "TWIN_B": ("TWIN_B", "2024-04-04T04:04:04Z", 1),
        "EVIL": ("EVIL", "2024-05-05T05:05:05Z", 1),
        "INNOCENT": ("INNOCENT", "2024-05-06T05:05:05Z", 1),
        "ESC": ("ESC", "2024-07-07T07:07:07Z", 1),
        "BADUTF": ("BADUTF", "2024-08-08T08:08:08Z", 1)}
MANAGED = {"EVIL": "EVIL", "INNOCENT": "INNOCENT", "ESC": "ESC", "HOSTILE": "HOSTILE"}


def fixture():
    devs = {v: {"id": guid("obj:" + v), "deviceId": guid("dev:" + v), "displayName": n}
            for v, n in DEVICES.items()}
    keys = {v: {"id": guid("key:" + v), "deviceId": devs[d]["deviceId"], "createdDateTime": c,
                "volumeType": t, "key": password(v)} for v, (d, c, t) in KEYS.items()}
    managed = {v: {"id": guid("md:" + v), "deviceName": devs[d]["displayName"],
                   "azureADDeviceId": devs[d]["deviceId"]} for v, d in MANAGED.items()}
    return devs, keys, managed


# ---------------------------------------------------------------- PKI

def make_pki(d):
    """The CAs and server certificates, EC P-256 (fast to make)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(d, mode=0o700, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(stem, key, cert):
        with open(os.path.join(d, stem + ".key"), "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(os.path.join(d, stem + ".pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))

    def ca(stem, cn):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - day).not_valid_after(now + 3650 * day)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        write(stem, key, cert)
        return key, cert

    def leaf(stem, issuer, sans, start, end):
        ikey, icert = issuer
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name("hostile " + stem)).issuer_name(icert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(ikey, hashes.SHA256()))
        write(stem, key, cert)

    local = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    good = ca("ca", "bdekey hostile test CA")
    other = ca("other-ca", "bdekey hostile unknown CA")
    leaf("server", good, local, now - day, now + 30 * day)
    leaf("expired", good, local, now - 30 * day, now - day)
    leaf("wronghost", good, [x509.DNSName("wrong-host.invalid")], now - day, now + 30 * day)
    leaf("unknownca", other, local, now - day, now + 30 * day)


# ---------------------------------------------------------------- small helpers

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def jwt(claims, alg="RS256"):
    head = b64url(json.dumps({"typ": "JWT", "alg": alg, "kid": "hostile"}).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return head + "." + body + "." + (b64url(secrets.token_bytes(64)) if alg != "none" else "")


def claims_of(token):
    try:
        part = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}


class Resp:
    def __init__(self, status, body=b"", ctype="application/json", headers=None, raw=None):
        self.status = status
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.body = body
        self.headers = list(headers or [])
        if body and ctype:
            self.headers.append(("Content-Type", ctype))
        self.raw = raw        # a special action instead of a normal answer


REASONS = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable", 504: "Gateway Timeout"}


def graph_error(status, code, message, headers=None):
    return Resp(status, {"error": {"code": code, "message": message,
                                   "innerError": {"request-id": str(uuid.uuid4())}}}, headers=headers)


def aad_error(status, error, desc):
    return Resp(status, {"error": error, "error_description": desc + "\r\nTrace ID: " + str(uuid.uuid4()),
                         "error_codes": [50000], "correlation_id": str(uuid.uuid4())})


def filter_eq(text):
    """"prop eq 'value'" -> (prop, value), else None (OData doubles ')."""
    m = re.fullmatch(r"\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*", text or "")
    return (m.group(1), m.group(2).replace("''", "'")) if m else None


# ---------------------------------------------------------------- the server

class Server:
    def __init__(self, d):
        self.dir = d
        self.pki = os.path.join(d, "pki")
        self.lock = threading.Lock()
        self.requests = []
        self.seq = itertools.count(1)
        self.conns = itertools.count(1)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.issued = set()
        self.refresh = {}
        self.devs, self.keys, self.managed = fixture()
        self.ports = {}
        self.ctx = {}
        for stem in ("server", "expired", "wronghost", "unknownca"):
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            c.minimum_version = ssl.TLSVersion.TLSv1_2
            c.set_alpn_protocols(["http/1.1"])
            c.load_cert_chain(os.path.join(self.pki, stem + ".pem"), os.path.join(self.pki, stem + ".key"))
            self.ctx[stem] = c

    # -- mode, log

    def mode(self):
        try:
            with open(os.path.join(self.dir, "mode.json"), encoding="utf-8") as f:
                m = json.load(f)
            return m if isinstance(m, dict) else {}
        except (OSError, ValueError):
            return {}

    def log(self, rec):
        rec["t"] = round(time.time(), 3)
        line = json.dumps(rec, ensure_ascii=True) + "\n"
        with self.lock:
            self.requests.append(rec)
            if len(self.requests) > 10000:
                del self.requests[:5000]
            with open(os.path.join(self.dir, "requests.jsonl"), "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()

    # -- sockets

    def listen(self, which):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        self.ports[which] = s.getsockname()[1]
        threading.Thread(target=self.accept_loop, args=(s, which), daemon=True).start()

    def accept_loop(self, s, which):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            if not self.slots.acquire(blocking=False):
                c.close()
                continue
            threading.Thread(target=self.connection, args=(c, which), daemon=True).start()

    def connection(self, sock, which):
        cid = next(self.conns)
        try:
            mode = self.mode()
            self.log({"event": "connect", "port": which, "conn": cid})
            sock.settimeout(IO_TIMEOUT_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if which == "graph" and mode.get("graph") == "silent":
                # accept, never answer, not even the TLS handshake
                end = time.monotonic() + HOLD_MAX_S
                sock.settimeout(1)
                while time.monotonic() < end:
                    try:
                        if sock.recv(65536) == b"":
                            break
                    except socket.timeout:
                        continue
                return
            stem = "server"
            if which == "graph":
                stem = {"expired": "expired", "wronghost": "wronghost",
                        "unknownca": "unknownca"}.get(mode.get("tls"), "server")
            try:
                tls = self.ctx[stem].wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.log({"event": "tls-fail", "port": which, "conn": cid, "error": str(e)})
                return
            buf = b""
            while True:
                req, buf = read_request(tls, buf)
                if req is None:
                    return
                req.update({"port": which, "conn": cid})
                self.log(dict(req, seq=next(self.seq)))
                if not self.answer(tls, req, which):
                    return
        except (OSError, ValueError) as e:
            self.log({"event": "conn-error", "port": which, "conn": cid, "error": str(e)})
        finally:
            try:
                sock.close()
            except OSError:
                pass
            self.slots.release()

    def answer(self, tls, req, which):
        """Answer one request; False to close the connection."""
        mode = self.mode()
        if which == "auth":
            resp = self.auth(req, mode)
        else:
            resp = self.graph(req, mode)
        if resp.raw is not None:
            return resp.raw(tls)
        send(tls, resp, req)
        return True

    # -- identity platform

    def auth(self, req, mode):
        path = req["path"]
        if path == "/_ctl/requests":
            with self.lock:
                return Resp(200, list(self.requests))
        if path == "/_ctl/reset":
            with self.lock:
                self.requests = []
            return Resp(200, {"ok": True})
        if path == "/_ctl/health":
            return Resp(200, {"ok": True, "pid": os.getpid()})
        if path.startswith("/_steal"):
            return Resp(200, {"stolen": True})
        m = re.fullmatch(r"/auth/([^/]+)/oauth2/v2\.0/(token|devicecode)", path)
        if not m or req["method"] != "POST":
            return aad_error(404, "invalid_request", "AADSTS900000: no such endpoint")
        form = dict(urllib.parse.parse_qsl(req["body"], keep_blank_values=True))
        if m.group(2) == "devicecode":
            return self.devicecode(form, mode)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if form.get("client_secret") != SECRET:
                return aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
            claims = {"aud": "https://graph.microsoft.com", "tid": TENANT_ID, "appid": form.get("client_id"),
                      "idtyp": "app", "roles": mode.get("roles", ALL_ROLES)}
            return self.token_answer(mode, claims, refresh=False)
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            poll = mode.get("dc_poll", "token")
            if poll == "declined-escapes":
                return aad_error(400, "authorization_declined", "AADSTS70000: the user declined" + ESCAPES)
            if poll == "pending":
                return aad_error(400, "authorization_pending", "AADSTS70016: pending")
            return self.token_answer(mode, self.user_claims(form.get("scope") or self.dc_scope), refresh=True,
                                     expires=mode.get("at_expires_in", 3600))
        if grant == "refresh_token":
            rt = form.get("refresh_token")
            with self.lock:
                state = self.refresh.get(rt)
                if state == "valid":
                    self.refresh[rt] = "redeemed"
            if state is None:
                return aad_error(400, "invalid_grant", "AADSTS9002313: Invalid request.")
            if state == "redeemed":
                self.log({"event": "refresh-token-reused"})
                return aad_error(400, "invalid_grant", "AADSTS70000: The refresh token was already redeemed.")
            time.sleep(min(float(mode.get("refresh_delay_s", 0)), 20))
            return self.token_answer(mode, self.user_claims(form.get("scope", "")), refresh=True,
                                     expires=mode.get("at_expires_in", 3600))
        return aad_error(400, "unsupported_grant_type", "AADSTS70003: unsupported grant type")

    dc_scope = ""

    def user_claims(self, scope):
        names = [s.rsplit("/", 1)[-1] for s in scope.split()]
        scp = [n for n in names if n.lower() not in OIDC and n != ".default"]
        if "scp_allowed" in self.mode():
            scp = [n for n in scp if n in self.mode()["scp_allowed"]]
        return {"aud": "https://graph.microsoft.com", "tid": TENANT_ID, "scp": " ".join(scp), "upn": USER,
                "preferred_username": USER, "oid": guid("user")}

    def token_answer(self, mode, claims, refresh, expires=3600):
        now = int(time.time())
        claims = dict(claims, iat=now, nbf=now, exp=now + 3600, jti=secrets.token_hex(8))
        at = jwt(claims)
        with self.lock:
            self.issued.add(at)
        parts = ['"token_type":"Bearer"', '"expires_in":%s' % mode.get("expires_in_raw", json.dumps(expires)),
                 '"ext_expires_in":3600',
                 '"access_token":%s' % mode.get("access_token_raw", json.dumps(at))]
        if "access_token_raw" in mode:
            try:
                with self.lock:
                    self.issued.add(json.loads(mode["access_token_raw"]))
            except ValueError:
                pass
        if refresh:
            rt = "hostileRT." + secrets.token_urlsafe(24)
            with self.lock:
                self.refresh[rt] = "valid"
            parts.append('"refresh_token":%s' % json.dumps(rt))
            parts.append('"scope":%s' % json.dumps(claims.get("scp", "")))
            parts.append('"id_token":%s' % json.dumps(jwt({"preferred_username": USER, "upn": USER,
                                                           "name": "Helpdesk"}, alg="none")))
        return Resp(200, "{" + ",".join(parts) + "}", headers=[("Cache-Control", "no-store")])

    def devicecode(self, form, mode):
        self.dc_scope = form.get("scope", "")
        dc = mode.get("dc", {})
        uri = dc.get("verification_uri", "https://microsoft.com/devicelogin")
        msg = dc.get("message", "To sign in, use a web browser to open the page %s and enter the code HOSTILE01 "
                                "to authenticate." % uri)
        parts = ['"user_code":"HOSTILE01"', '"device_code":%s' % json.dumps("hostileDC." + secrets.token_hex(8)),
                 '"verification_uri":%s' % json.dumps(uri),
                 '"expires_in":%s' % dc.get("expires_in_raw", "900"),
                 '"interval":%s' % dc.get("interval_raw", "1"),
                 '"message":%s' % json.dumps(msg)]
        return Resp(200, "{" + ",".join(parts) + "}")

    # -- Graph

    def graph(self, req, mode):
        gm = mode.get("graph", "normal")
        ra = str(mode.get("retry_after", "1"))
        if gm not in GRAPH_MODES:
            # a typo in a test must not pass as "normal"
            return graph_error(500, "UnknownMode", "https.py: no Graph mode %r" % gm)
        if gm == "close-header":
            return Resp(200, raw=lambda t: raw_close(t, b"HTTP/1.1 200 OK\r\nContent-Type: appl"))
        if gm == "close-body":
            return Resp(200, raw=lambda t: raw_close(t, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                                     b"Content-Length: 5000\r\n\r\n" + b'{"value":[{"id":"' + b"x" * 90))
        if gm == "huge-body":
            return Resp(200, raw=huge_body)
        if gm == "nest-bomb":
            return Resp(200, b"[" * 200000 + b"]" * 200000)
        if gm == "html-devices":
            return Resp(200, "<html><body><h1>Proxy login</h1></body></html>", ctype="text/html")
        if gm == "throttle-forever":
            return graph_error(429, "TooManyRequests", "Too many requests.", [("Retry-After", ra)])
        if gm == "redirect":
            return Resp(302, "", headers=[("Location", "https://127.0.0.1:%d/_steal?from=graph" % self.ports["auth"])])
        auth = dict(req["headers"]).get("authorization", "")
        tok = auth[7:] if auth.lower().startswith("bearer ") else None
        with self.lock:
            known = tok in self.issued
        if not known:
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty or not one of ours.",
                               [("WWW-Authenticate", 'Bearer realm=""')])
        claims = claims_of(tok)
        perms = set(claims.get("roles") or []) | set((claims.get("scp") or "").split())
        m = re.fullmatch(r"/graph/(v1\.0|beta)(/.*)", req["path"])
        if not m:
            return graph_error(400, "BadRequest", "Invalid version")
        rel = m.group(2)
        query = dict(urllib.parse.parse_qsl(req["query"], keep_blank_values=True))
        if rel == "/$batch" and req["method"] == "POST":
            return self.batch(req, mode, perms, m.group(1))
        return self.graph_get(req["method"], rel, query, req["query"], mode, perms, m.group(1))

    def graph_get(self, method, rel, query, qs, mode, perms, version):
        gm = mode.get("graph", "normal")
        base = "https://127.0.0.1:%d/graph/%s" % (self.ports["graph"], version)
        if rel == "/devices" and method == "GET":
            f = filter_eq(query.get("$filter"))
            out = []
            if f:
                for v, d in self.devs.items():
                    if str(d.get(f[0], "")).lower() == f[1].lower():
                        out.append(dict(d))
            if f and f[0] == "displayName" and f[1].upper() == "EVIL-PC":
                if gm == "evil-device-longid":
                    # 40 characters: the first 36 are INNOCENT-PC's deviceId
                    out = [dict(self.devs["EVIL"], deviceId=self.devs["INNOCENT"]["deviceId"] + "0000")]
                elif gm == "evil-device-nonguid":
                    out = [dict(self.devs["EVIL"], deviceId="not-a-guid")]
            if gm == "escapes-name":
                for d in out:
                    d["displayName"] = "ESC-PC" + ESCAPES
            if gm == "bad-utf8" and f and f[1].upper() == "BADUTF-PC":
                d = self.devs["BADUTF"]
                body = ('{"value":[{"id":"%s","deviceId":"%s","displayName":"BAD' % (d["id"], d["deviceId"])).encode()
                return Resp(200, body + b"\xff\xfe\xc0\xaf-PC\"}]}")
            return Resp(200, {"@odata.context": base + "/$metadata#devices", "value": out})
        km = re.fullmatch(r"/informationProtection/bitlocker/recoveryKeys(?:/([^/?]+))?", rel)
        if km and method == "GET" and km.group(1) is None:
            return self.key_list(query, qs, mode, base)
        if km and method == "GET":
            kid = urllib.parse.unquote(km.group(1)).lower()
            k = next((k for k in self.keys.values() if k["id"] == kid), None)
            if k is None:
                return graph_error(404, "NotFound", "Key not found")
            out = {x: k[x] for x in ("id", "createdDateTime", "volumeType", "deviceId")}
            if (query.get("$select") or "").lower() == "key":
                if "BitlockerKey.Read.All" not in perms:
                    if mode.get("readbasic_answer") == "200":
                        return Resp(200, out)
                    return Resp(403, {"error": {"code": "authorization_error", "message":
                                                "Failed to authorize, token doesn't have the required permissions."}})
                out["key"] = k["key"]
            return Resp(200, out)
        if rel == "/deviceManagement/managedDevices" and method == "GET":
            f = filter_eq(query.get("$filter"))
            out = []
            if f:
                out = [dict(x) for x in self.managed.values() if str(x.get(f[0], "")).lower() == f[1].lower()]
            evil = self.devs["EVIL"]["deviceId"]
            inn = self.managed["INNOCENT"]
            if gm == "evil-device-nonguid" and f and f[1] == "not-a-guid":
                out = [dict(inn, azureADDeviceId="not-a-guid")]
            elif gm == "evil-managed-name" and f and f[1].lower() == evil:
                out = [dict(inn, azureADDeviceId=evil)]
            elif gm == "evil-managed-badid" and f and f[1].lower() == evil:
                out = [dict(self.managed["EVIL"], id="../../deviceManagement/managedDevices/" + inn["id"])]
            elif gm == "evil-managed-longaad" and f and f[1].lower() == evil:
                out = [dict(self.managed["EVIL"], azureADDeviceId=evil + "ffff")]
            elif gm == "escapes-rotate":
                for x in out:
                    x["deviceName"] = x["deviceName"] + ESCAPES
            return Resp(200, {"@odata.context": base + "/$metadata#deviceManagement/managedDevices", "value": out})
        rm = re.fullmatch(r"/deviceManagement/managedDevices/([^/]+)/rotateBitLockerKeys", rel)
        if rm and method == "POST" and version == "beta":
            if gm == "rotate-504":
                return graph_error(504, "GatewayTimeout", "The gateway timed out.", [("Retry-After", "1")])
            if gm == "rotate-drop":
                # the connection dies after the request, before any answer
                return Resp(0, raw=lambda t: raw_close(t, b""))
            if gm == "escapes-rotate":
                return graph_error(403, "Forbidden" + ESCAPES, "Not allowed" + ESCAPES)
            mid = urllib.parse.unquote(rm.group(1))
            if not any(x["id"] == mid for x in self.managed.values()):
                return graph_error(404, "ResourceNotFound", "No managed device " + mid)
            return Resp(204)
        return graph_error(400, "BadRequest", "Resource not found for the segment '%s'." % rel)

    def key_list(self, query, qs, mode, base):
        gm = mode.get("graph", "normal")
        if gm == "keylist-empty":
            return Resp(200, b"", ctype=None, headers=[("Content-Type", "application/json")])
        if gm == "keylist-nonjson":
            return Resp(200, "<html><body>502 Bad Gateway (but 200)</body></html>", ctype="text/html")
        if gm == "escapes-error":
            return graph_error(400, "Bad" + ESCAPES, "Invalid filter" + ESCAPES)
        f = filter_eq(query.get("$filter"))
        keys = [k for k in self.keys.values() if not f or k.get(f[0], "").lower() == f[1].lower()]
        keys.sort(key=lambda k: k["id"])
        tok = query.get("$skiptoken")
        plain = "&".join(p for p in qs.split("&") if p and not p.startswith("$skiptoken=") and
                         not p.startswith("%24skiptoken="))
        url = base + "/informationProtection/bitlocker/recoveryKeys?" + plain + ("&" if plain else "")
        if gm == "nextlink-loop":
            nxt = {None: "A", "A": "B", "B": "A"}.get(tok, "A")
            page = [strip_key(k) for k in keys[:1]] if tok is None else []
            return Resp(200, {"value": page, "@odata.nextLink": url + "$skiptoken=" + nxt})
        size = 1 if gm in ("page2-429", "page2-503") else 100
        if tok and gm == "page2-429":
            return graph_error(429, "TooManyRequests", "Too many requests.", [("Retry-After", str(mode.get("retry_after", 200)))])
        if tok and gm == "page2-503":
            return graph_error(503, "serviceNotAvailable", "Unavailable.", [("Retry-After", "1")])
        try:
            start = int(tok or 0)
        except ValueError:
            return graph_error(400, "BadRequest", "bad skiptoken")
        page = keys[start:start + size]
        out = {"@odata.context": base + "/$metadata#informationProtection/bitlocker/recoveryKeys",
               "value": [strip_key(k) for k in page]}
        if start + size < len(keys):
            out["@odata.nextLink"] = url + "$skiptoken=%d" % (start + size)
        return Resp(200, out)

    def batch(self, req, mode, perms, version):
        gm = mode.get("graph", "normal")
        try:
            doc = json.loads(req["body"])
            items = doc["requests"]
        except (ValueError, KeyError, TypeError):
            return graph_error(400, "BadRequest", "Invalid batch payload")
        out = []
        for it in items:
            url = it.get("url", "")
            target = url if url.startswith("/") else "/" + url
            path, _, qs = target.partition("?")
            self.log({"port": "graph", "batch_item": True, "method": it.get("method"), "target": target,
                      "path": path, "query": qs, "id": it.get("id")})
            query = dict(urllib.parse.parse_qsl(qs, keep_blank_values=True))
            if gm == "batch-retry-after" and query.get("$select", "").lower() == "key":
                out.append({"id": it.get("id"), "status": 429, "headers": {"Retry-After": "250"},
                            "body": {"error": {"code": "TooManyRequests", "message": "slow down"}}})
                continue
            r = self.graph_get(it.get("method", "GET"), path, query, qs, mode, perms, version)
            item = {"id": it.get("id"), "status": r.status,
                    "headers": {k: v for k, v in r.headers}}
            if r.body and gm != "batch-nobody":
                try:
                    item["body"] = json.loads(r.body)
                except ValueError:
                    item["body"] = r.body.decode("utf-8", "replace")
            out.append(item)
        return Resp(200, {"responses": out})


def strip_key(k):
    return {x: k[x] for x in ("id", "createdDateTime", "volumeType", "deviceId")}


# ---------------------------------------------------------------- HTTP/1.1 by hand

def read_request(sock, buf):
    """(request dict, rest of buf), or (None, b"") at EOF / on garbage."""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEADER:
            return None, b""
        try:
            data = sock.recv(65536)
        except (OSError, ssl.SSLError):
            return None, b""
        if not data:
            return None, b""
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _ = lines[0].split(" ", 2)
    except ValueError:
        return None, b""
    headers = []
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers.append([k.strip().lower(), v.strip()])
    h = dict(headers)
    body = b""
    if h.get("transfer-encoding", "").lower() == "chunked":
        while True:
            while b"\r\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    return None, b""
                buf += data
            line, _, buf = buf.partition(b"\r\n")
            n = int(line.split(b";")[0] or b"0", 16)
            while len(buf) < n + 2:
                data = sock.recv(65536)
                if not data:
                    return None, b""
                buf += data
            body += buf[:n]
            buf = buf[n + 2:]
            if n == 0 or len(body) > MAX_BODY:
                break
    else:
        n = int(h.get("content-length") or 0)
        if n > MAX_BODY:
            return None, b""
        while len(buf) < n:
            data = sock.recv(65536)
            if not data:
                return None, b""
            buf += data
        body, buf = buf[:n], buf[n:]
    path, _, query = target.partition("?")
    return {"method": method, "target": target, "path": path, "query": query, "headers": headers,
            "body": body.decode("utf-8", "replace")}, buf


def send(sock, resp, req):
    h = dict(req["headers"])
    lines = ["HTTP/1.1 %d %s" % (resp.status, REASONS.get(resp.status, "Status"))]
    lines += ["%s: %s" % (k, v) for k, v in resp.headers]
    lines.append("request-id: %s" % uuid.uuid4())
    lines.append("client-request-id: %s" % h.get("client-request-id", "-"))
    if resp.status != 204:
        lines.append("Content-Length: %d" % len(resp.body))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (resp.body if resp.status != 204 else b""))


def raw_close(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass
    return False


def huge_body(sock):
    """100 MB of valid JSON, streamed until the client hangs up."""
    head = b'{"value":['
    tail = b"]}"
    pad = HUGE_BYTES - len(head) - len(tail)
    try:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % HUGE_BYTES + head)
        chunk = b" " * 65536
        while pad > 0:
            n = min(pad, len(chunk))
            sock.sendall(chunk[:n])
            pad -= n
        sock.sendall(tail)
    except OSError:
        pass
    return False


def env_lines(srv):
    d = srv.dir
    out = {
        "HX_AUTH_PORT": srv.ports["auth"], "HX_GRAPH_PORT": srv.ports["graph"],
        "HX_CA": os.path.join(d, "pki", "ca.pem"), "HX_OTHER_CA": os.path.join(d, "pki", "other-ca.pem"),
        "HX_SERVER_CERT": os.path.join(d, "pki", "server.pem"), "HX_SERVER_KEY": os.path.join(d, "pki", "server.key"),
        "HX_ROGUE_CERT": os.path.join(d, "pki", "unknownca.pem"),
        "HX_ROGUE_KEY": os.path.join(d, "pki", "unknownca.key"),
        "HX_SECRET_FILE": os.path.join(d, "client-secret"), "HX_TENANT": TENANT, "HX_CLIENT_ID": CLIENT_ID,
        "HX_AUTHORITY": "https://127.0.0.1:%d/auth" % srv.ports["auth"],
        "HX_GRAPH": "https://127.0.0.1:%d/graph" % srv.ports["graph"],
        "HX_REQUESTS": os.path.join(d, "requests.jsonl"), "HX_PID": os.getpid(),
    }
    for v, dv in srv.devs.items():
        out["HX_DEV_%s_ID" % v] = dv["deviceId"]
    for v, k in srv.keys.items():
        out["HX_KEY_%s_ID" % v] = k["id"]
        out["HX_KEY_%s_PW" % v] = k["key"]
    for v, m in srv.managed.items():
        out["HX_MD_%s_ID" % v] = m["id"]
    return ["%s='%s'" % (k, v) for k, v in out.items()]


def main():
    ap = argparse.ArgumentParser(description="hostile identity + Graph server (bdekey tests)")
    ap.add_argument("--dir", required=True, help="PKI, env.sh, mode.json and requests.jsonl live here")
    a = ap.parse_args()
    d = os.path.abspath(a.dir)
    if not os.path.exists(os.path.join(d, "pki", "unknownca.key")):
        make_pki(os.path.join(d, "pki"))
    with open(os.path.join(d, "client-secret"), "w", encoding="ascii") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(SECRET)
    srv = Server(d)
    srv.listen("auth")
    srv.listen("graph")
    path = os.path.join(d, "env.sh")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join("export " + x for x in env_lines(srv)) + "\n")
    os.replace(path + ".tmp", path)
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
