#!/usr/bin/python3
"""A hostile fake Active Directory LDAP server for bdekey's tests (issue 9).

  ldap.py --dir DIR --name NAME [--unix PATH] [--tls-port N] [--trickle-port N]
          [--cert PEM --key PEM]

BER is encoded and decoded here by hand (standard library only).  The server
holds a small directory (DC=hostile,DC=test, see FIXTURE below) and answers
binds (simple and SASL EXTERNAL: every bind succeeds, it is a rogue), RootDSE
reads (Windows or Samba flavour), paged subtree/one-level/base searches with
a real filter evaluator, and unbind.  It listens on

  --unix PATH       ldapi:// (plain; SASL EXTERNAL gets the local SSF there)
  --tls-port N      ldaps://127.0.0.1:N (cert/key from --cert/--key)
  --trickle-port N  ldaps:// that reads the ClientHello and then sends one
                    byte every 1.5 s: a TLS handshake that never ends

Ports 0 = any free port.  Everything binds 127.0.0.1 or a Unix socket only.
Once listening it writes DIR/ldap-NAME.env (shell export lines: the ports and
the socket path) and prints "ready".

Every request is appended to DIR/ldap-NAME.jsonl before it is answered, one
JSON object a line: {"op": "bind", "name", "auth": "simple"|"sasl", "mech",
"password_sha256"} / {"op": "search", "base", "scope", "filter", "attrs",
"controls", "returned": [DN...], "password_dns": [DN...]} / {"op":
"accept", "listener"} / {"event": ...}.  "password_dns" names every entry whose
msFVE-RecoveryPassword went back to the client in that search.

Behaviour switches come from DIR/ldap-NAME-mode.json, re-read for every
request (absent = all defaults):
  rootdse            "windows" (default) or "samba": the RootDSE, and Samba's
                     substring quirk (chunks cut at the first NUL byte; an
                     initial chunk starting with NUL matches nothing)
  endless_page_s     ENDLESS-PC's one-level search pages forever, one new
                     entry a page, each page after this many seconds
  delay_onelevel_s   sleep this long before answering a one-level search
  delay_rootdse_s    sleep this long before answering a RootDSE read (after
                     a bind that succeeded: failover after the bind)
  pause_page2_s      log {"event": "page2"} and sleep this long before
                     answering any page after the first
Every loop and wait is bounded; SIGTERM ends the server.
"""

import argparse
import hashlib
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import uuid

BASE = "DC=hostile,DC=test"
OU = "OU=Workstations," + BASE
SCHEMA = "CN=Schema,CN=Configuration," + BASE
PAGED_OID = "1.2.840.113556.1.4.319"
STARTTLS_OID = "1.3.6.1.4.1.1466.20037"
MAX_MSG = 1 << 20          # a request larger than this ends the connection
IO_TIMEOUT_S = 60          # an idle connection is closed after this
TRICKLE_EVERY_S = 1.5
TRICKLE_MAX_S = 180
ENDLESS_MAX_PAGES = 100000
MAX_CONNECTIONS = 64
BINARY = {"msfve-recoveryguid", "msfve-volumeguid", "msfve-keypackage", "objectguid"}
ESC_NAME = "ESC\x1b[2J\x1b]8;;https://evil.example/\x07X\x1b]8;;\x07\r\nbdekey: ok-PC"


# ---------------------------------------------------------------- fixture

def password(seed):
    """A recovery password that passes its checksums (11 x a 16-bit word)."""
    h = hashlib.sha256(("pw:" + seed).encode()).digest()
    return "-".join("%06d" % (11 * int.from_bytes(h[2 * i:2 * i + 2], "big")) for i in range(8))


def key_guid(seed):
    h = hashlib.sha256(("kid:" + seed).encode()).hexdigest()
    return str(uuid.UUID(h[:8] + h[8:12] + "4" + h[13:16] + "8" + h[17:32]))


# name, key id, created, extra flags; the computers each object lives under
KEYS = {
    "ONE": ("PC-ONE", key_guid("ONE"), "20240301080000"),
    "DUP_INN": ("INNOCENT-PC", key_guid("DUP"), "20240101090000"),
    "DUP_EVIL": ("EVIL-PC", key_guid("DUP"), "20250601090000"),
    "SAME_OLD": ("SAME1-PC", key_guid("SAME"), "20240202100000"),
    "SAME_NEW": ("SAME2-PC", key_guid("SAME"), "20250202100000"),
    "TARGET": ("AB-TARGET-PC", "000000ab-1111-4222-8333-444444444444", "20240404040404"),
    "DECOY": ("AB-DECOY-PC", "123456ab-5555-4666-8777-888888888888", "20240505050505"),
    "MULTI_Y": ("MULTI-PC", key_guid("MULTI_Y"), "20240606060606"),
    "MULTI_Z": ("MULTI-PC", key_guid("MULTI_Z"), "20250606060606"),
    "NOCN": ("NOCN-PC", key_guid("NOCN"), "20240707070707"),
    "NOWHEN_GOOD": ("NOWHEN-PC", key_guid("NOWHEN_GOOD"), "20240808080808"),
    "NOWHEN_BAD": ("NOWHEN-PC", key_guid("NOWHEN_BAD"), "20250808080808"),
    "LONG": ("LONGCOMPUTERNAM", key_guid("LONG"), "20240909090909"),
    "NOACC": ("NOACCESS-PC", key_guid("NOACC"), "20241010101010"),
    "ESC": (ESC_NAME, key_guid("ESC"), "20241111111111"),
    "PAGES1": ("PAGES-PC", key_guid("PAGES1"), "20240101010101"),
    "PAGES2": ("PAGES-PC", key_guid("PAGES2"), "20240201010101"),
    "PAGES3": ("PAGES-PC", key_guid("PAGES3"), "20240301010101"),
    "SLOW": ("SLOW-PC", key_guid("SLOW"), "20240402020202"),
    "BROKEN_GOOD": ("BROKEN-PC", key_guid("BROKEN_GOOD"), "20240303030303"),
    "BROKEN_BAD": ("BROKEN-PC", key_guid("BROKEN_BAD"), "20250303030303"),
}
# computer cn -> dNSHostName first label (when it differs: the NetBIOS cut)
COMPUTERS = ["PC-ONE", "INNOCENT-PC", "EVIL-PC", "SAME1-PC", "SAME2-PC", "AB-TARGET-PC",
             "AB-DECOY-PC", "MULTI-PC", "NOCN-PC", "NOWHEN-PC", "LONGCOMPUTERNAM", "NOACCESS-PC",
             ESC_NAME, "PAGES-PC", "SLOW-PC", "ENDLESS-PC", "BROKEN-PC"]
DNS_LABEL = {"LONGCOMPUTERNAM": "longcomputername-0042"}
NO_CN = {"NOCN-PC"}
WITHHELD = {"NOACCESS-PC"}          # no Control Access: the password never comes back
NO_WHEN = {"NOWHEN_BAD", "BROKEN_BAD"}
NO_CN_TIME = {"BROKEN_BAD"}         # a CN without BitLocker's time: no date at all
# the key packages of the duplicates: different for DUP, equal for SAME
PACKAGES = {"DUP_INN": b"\x01PKG-INNOCENT" * 8, "DUP_EVIL": b"\x02PKG-EVIL" * 8,
            "SAME_OLD": b"\x03PKG-SAME" * 8, "SAME_NEW": b"\x03PKG-SAME" * 8}


def computer_dn(name):
    return "CN=%s,%s" % (name, OU)


def cn_time(when):
    return "%s-%s-%sT%s:%s:%s-00:00" % (when[0:4], when[4:6], when[6:8], when[8:10], when[10:12], when[12:14])


def key_cn(var, kid, when):
    return "%s{%s}" % ("unreadable" if var in NO_CN_TIME else cn_time(when), kid.upper())


def recovery_entry(var, computer, kid, when):
    cn = key_cn(var, kid, when)
    attrs = {
        "objectClass": [b"top", b"msFVE-RecoveryInformation"],
        "objectCategory": [("CN=ms-FVE-RecoveryInformation," + SCHEMA).encode()],
        "cn": [cn.encode()],
        "msFVE-RecoveryGuid": [uuid.UUID(kid).bytes_le],
        "msFVE-VolumeGuid": [uuid.UUID(key_guid("vol:" + var)).bytes_le],
        "msFVE-RecoveryPassword": [password(var).encode()],
        "msFVE-KeyPackage": [PACKAGES.get(var, b"\x00PKG-" + var.encode())],
        "whenCreated": [(when + ".0Z").encode()],
        "uSNCreated": [str(10000 + len(var) * 7 + int(when[-4:])).encode()],
    }
    if var in NO_WHEN:
        del attrs["whenCreated"]
    return Entry("CN=%s,%s" % (cn, computer_dn(computer)), attrs, withheld=computer in WITHHELD)


def computer_entry(name):
    label = DNS_LABEL.get(name, name.lower())
    attrs = {
        "objectClass": [b"top", b"person", b"organizationalPerson", b"user", b"computer"],
        "objectCategory": [("CN=Computer," + SCHEMA).encode()],
        "cn": [name.encode()],
        "sAMAccountName": [(name + "$").encode()],
        "dNSHostName": [(label + ".hostile.test").encode()],
        "whenCreated": [b"20230101000000.0Z"],
    }
    if name in NO_CN:
        del attrs["cn"]
    return Entry(computer_dn(name), attrs)


def fixture():
    entries = [Entry(BASE, {"objectClass": [b"top", b"domain", b"domainDNS"], "dc": [b"hostile"]}),
               Entry(OU, {"objectClass": [b"top", b"organizationalUnit"], "ou": [b"Workstations"]})]
    entries += [computer_entry(n) for n in COMPUTERS]
    entries += [recovery_entry(v, c, k, w) for v, (c, k, w) in KEYS.items()]
    return entries


def env_lines():
    """Fixture values for the tests, as shell assignments."""
    out = ["HL_BASE=%s" % q(BASE)]
    for v, (c, k, w) in KEYS.items():
        out.append("HL_KEY_%s_ID=%s" % (v, k.upper()))
        out.append("HL_KEY_%s_PW=%s" % (v, password(v)))
        out.append("HL_KEY_%s_CREATED=%s" % (v, "%s-%s-%sT%s:%s:%sZ" % (
            w[0:4], w[4:6], w[6:8], w[8:10], w[10:12], w[12:14])))
        out.append("HL_KEY_%s_DN=%s" % (v, q("CN=%s,%s" % (key_cn(v, k, w), computer_dn(c)))))
    return out


def q(s):
    return "'" + s.replace("'", "'\\''") + "'"


ROOTDSE_COMMON = {
    "defaultNamingContext": [BASE],
    "rootDomainNamingContext": [BASE],
    "configurationNamingContext": ["CN=Configuration," + BASE],
    "schemaNamingContext": [SCHEMA],
    "namingContexts": [BASE, "CN=Configuration," + BASE, SCHEMA],
    "dnsHostName": ["dc1.hostile.test"],
    "serverName": ["CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration," + BASE],
    "supportedLDAPVersion": ["3", "2"],
    "supportedControl": [PAGED_OID, "1.2.840.113556.1.4.1339", "1.2.840.113556.1.4.801"],
    "isSynchronized": ["TRUE"],
    "isGlobalCatalogReady": ["TRUE"],
}
# what Samba 4.17 answers (measured against tests/ad's DC) and what a
# Windows Server 2016+ DC answers: Samba names itself in vendorName
ROOTDSE = {
    "samba": dict(ROOTDSE_COMMON, **{
        "vendorName": ["Samba Team (https://www.samba.org)"],
        "supportedCapabilities": ["1.2.840.113556.1.4.800", "1.2.840.113556.1.4.1670",
                                  "1.2.840.113556.1.4.1791", "1.2.840.113556.1.4.1935",
                                  "1.2.840.113556.1.4.2080"],
        "supportedSASLMechanisms": ["GSS-SPNEGO", "GSSAPI", "NTLM"],
        "domainFunctionality": ["4"], "forestFunctionality": ["4"],
        "domainControllerFunctionality": ["4"],
    }),
    "windows": dict(ROOTDSE_COMMON, **{
        "supportedCapabilities": ["1.2.840.113556.1.4.800", "1.2.840.113556.1.4.1670",
                                  "1.2.840.113556.1.4.1791", "1.2.840.113556.1.4.1935",
                                  "1.2.840.113556.1.4.2080", "1.2.840.113556.1.4.2237"],
        "supportedSASLMechanisms": ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"],
        "domainFunctionality": ["7"], "forestFunctionality": ["7"],
        "domainControllerFunctionality": ["7"],
    }),
}


class Entry:
    def __init__(self, dn, attrs, withheld=False):
        self.dn = dn
        self.attrs = {k.lower(): (k, v) for k, v in attrs.items()}
        self.withheld = withheld

    def values(self, name):
        a = self.attrs.get(name.lower())
        return a[1] if a else []


def norm_dn(dn):
    return ",".join(p.strip() for p in dn.split(",")).lower()


def parent_dn(dn):
    i = 0
    while i < len(dn):
        if dn[i] == "\\":
            i += 2
            continue
        if dn[i] == ",":
            return dn[i + 1:]
        i += 1
    return ""


# ---------------------------------------------------------------- BER

def enc_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + enc_len(len(content)) + content


def ber_int(n, tag=0x02):
    length = max(1, (n.bit_length() + 8) // 8)
    return tlv(tag, n.to_bytes(length, "big", signed=True))


def ber_str(s, tag=0x04):
    return tlv(tag, s if isinstance(s, bytes) else s.encode("utf-8"))


def seq(*items, tag=0x30):
    return tlv(tag, b"".join(items))


def dec(b, i=0):
    """(tag, content, next index) of the element at b[i]; ValueError when short."""
    if i + 2 > len(b):
        raise ValueError("short")
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or i + k > len(b):
            raise ValueError("bad length")
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    if i + n > len(b):
        raise ValueError("short")
    return tag, b[i:i + n], i + n


def children(b):
    i = 0
    while i < len(b):
        tag, v, i = dec(b, i)
        yield tag, v


def ldap_result(tag, code, diag="", extra=b""):
    return tlv(tag, ber_int(code, 0x0A) + ber_str("") + ber_str(diag) + extra)


def message(msgid, op, controls=b""):
    return seq(ber_int(msgid), op, controls)


# ---------------------------------------------------------------- filters

def value_text(v, binary):
    out = []
    for c in v:
        if not binary and 0x20 < c < 0x7F and chr(c) not in "*()\\":
            out.append(chr(c))
        else:
            out.append("\\%02x" % c)
    return "".join(out)


def parse_filter(tag, v):
    """A filter as a tuple tree: (kind, ...)."""
    if tag in (0xA0, 0xA1):
        return ("and" if tag == 0xA0 else "or", [parse_filter(t, x) for t, x in children(v)])
    if tag == 0xA2:
        t, x, _ = dec(v)
        return ("not", parse_filter(t, x))
    if tag == 0x87:
        return ("present", v.decode("utf-8", "replace"))
    if tag in (0xA3, 0xA5, 0xA6, 0xA8):
        (_, a), (_, x) = list(children(v))
        return ({0xA3: "eq", 0xA5: "ge", 0xA6: "le", 0xA8: "approx"}[tag], a.decode("utf-8", "replace"), x)
    if tag == 0xA4:
        (_, a), (_, subs) = list(children(v))
        initial, final, anys = None, None, []
        for t, x in children(subs):
            if t == 0x80:
                initial = x
            elif t == 0x81:
                anys.append(x)
            else:
                final = x
        return ("sub", a.decode("utf-8", "replace"), initial, anys, final)
    return ("unknown", tag)


def filter_text(f):
    k = f[0]
    if k in ("and", "or"):
        return "(%s%s)" % ("&" if k == "and" else "|", "".join(filter_text(x) for x in f[1]))
    if k == "not":
        return "(!%s)" % filter_text(f[1])
    if k == "present":
        return "(%s=*)" % f[1]
    if k in ("eq", "ge", "le", "approx"):
        op = {"eq": "=", "ge": ">=", "le": "<=", "approx": "~="}[k]
        return "(%s%s%s)" % (f[1], op, value_text(f[2], f[1].lower() in BINARY))
    if k == "sub":
        b = f[1].lower() in BINARY
        text = (value_text(f[2], b) if f[2] is not None else "") + "*"
        text += "".join(value_text(x, b) + "*" for x in f[3])
        text += value_text(f[4], b) if f[4] is not None else ""
        return "(%s=%s)" % (f[1], text)
    return "(?%02x)" % f[1]


def fold(v, binary):
    return v if binary else v.decode("utf-8", "replace").lower().encode("utf-8")


def match(f, e, flavour):
    k = f[0]
    if k == "and":
        return all(match(x, e, flavour) for x in f[1])
    if k == "or":
        return any(match(x, e, flavour) for x in f[1])
    if k == "not":
        return not match(f[1], e, flavour)
    if k == "present":
        return f[1].lower() == "objectclass" or bool(e.values(f[1]))
    if k == "unknown":
        return False
    attr = f[1].lower()
    binary = attr in BINARY
    vals = e.values(attr)
    if k in ("eq", "approx"):
        want = fold(f[2], binary)
        for v in vals:
            if fold(v, binary) == want:
                return True
            # AD: objectCategory=computer means the class's schema object
            if attr == "objectcategory" and b"=" not in f[2] and \
                    v.decode().split(",")[0].lower() == "cn=" + f[2].decode().lower():
                return True
        return False
    if k in ("ge", "le"):
        want = fold(f[2], binary)
        return any((fold(v, binary) >= want) if k == "ge" else (fold(v, binary) <= want) for v in vals)
    if k == "sub":
        initial, anys, final = f[2], list(f[3]), f[4]
        if binary and flavour == "samba":
            # Samba 4.17 compares chunks as C strings (measured, see
            # ldap/filter.c): cut at the first NUL, NUL-first initial = none
            if initial is not None and initial[:1] == b"\x00":
                return False
            cut = (lambda x: x.split(b"\x00")[0] if x is not None else None)
            initial, anys, final = cut(initial), [cut(x) for x in anys], cut(final)
        for v in vals:
            s = fold(v, binary)
            pos = 0
            if initial is not None:
                ini = fold(initial, binary)
                if not s.startswith(ini):
                    continue
                pos = len(ini)
            ok = True
            for a in anys:
                j = s.find(fold(a, binary), pos)
                if j < 0:
                    ok = False
                    break
                pos = j + len(a)
            if ok and final is not None:
                fin = fold(final, binary)
                ok = len(s) - pos >= len(fin) and s.endswith(fin)
            if ok:
                return True
        return False
    return False


# ---------------------------------------------------------------- server

class Server:
    def __init__(self, args):
        self.dir = args.dir
        self.name = args.name
        self.log_path = os.path.join(args.dir, "ldap-%s.jsonl" % args.name)
        self.mode_path = os.path.join(args.dir, "ldap-%s-mode.json" % args.name)
        self.lock = threading.Lock()
        self.entries = fixture()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.tls = None
        if args.cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.cert, args.key)

    def mode(self):
        try:
            with open(self.mode_path, encoding="utf-8") as f:
                m = json.load(f)
            return m if isinstance(m, dict) else {}
        except (OSError, ValueError):
            return {}

    def log(self, rec):
        rec.setdefault("t", round(time.time(), 3))
        line = json.dumps(rec, ensure_ascii=True) + "\n"
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()

    # -- connections

    def accept_loop(self, sock, kind):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            if not self.slots.acquire(blocking=False):
                conn.close()
                continue
            threading.Thread(target=self.connection, args=(conn, kind), daemon=True).start()

    def connection(self, conn, kind):
        try:
            self.log({"op": "accept", "listener": kind})
            conn.settimeout(IO_TIMEOUT_S)
            if kind == "trickle":
                self.trickle(conn)
                return
            if kind == "tls":
                conn = self.tls.wrap_socket(conn, server_side=True)
            self.session(conn)
        except (OSError, ssl.SSLError, ValueError) as e:
            self.log({"event": "connection-error", "listener": kind, "error": str(e)})
        finally:
            try:
                conn.close()
            except OSError:
                pass
            self.slots.release()

    def trickle(self, conn):
        """Read the ClientHello, then a TLS record header announcing 16 KiB and
        one byte every 1.5 s: every single read succeeds, the handshake never
        finishes."""
        try:
            conn.recv(16384)
        except OSError:
            return
        data = b"\x16\x03\x03\x40\x00" + b"\x02" + b"\x00" * 16379
        end = time.monotonic() + TRICKLE_MAX_S
        sent = 0
        for i in range(len(data)):
            if time.monotonic() > end:
                break
            try:
                conn.sendall(data[i:i + 1])
            except OSError:
                break
            sent += 1
            time.sleep(TRICKLE_EVERY_S)
        self.log({"event": "trickle-end", "bytes": sent})

    def recv_msg(self, conn, buf):
        """One LDAPMessage (bytes) and the rest of buf; (None, b"") at EOF."""
        while True:
            if len(buf) >= 2:
                try:
                    _, _, end = dec(buf)
                    return buf[:end], buf[end:]
                except ValueError:
                    if len(buf) > MAX_MSG:
                        raise
            data = conn.recv(65536)
            if not data:
                return None, b""
            buf += data

    def session(self, conn):
        buf = b""
        while True:
            msg, buf = self.recv_msg(conn, buf)
            if msg is None:
                return
            _, body, _ = dec(msg)
            items = list(children(body))
            msgid = int.from_bytes(items[0][1], "big", signed=True)
            op_tag, op = items[1]
            ctrls = parse_controls(items[2][1]) if len(items) > 2 and items[2][0] == 0xA0 else []
            if op_tag == 0x60:
                conn.sendall(self.bind(msgid, op, ctrls))
            elif op_tag == 0x42:
                self.log({"op": "unbind"})
                return
            elif op_tag == 0x63:
                for out in self.search(msgid, op, ctrls):
                    conn.sendall(out)
            elif op_tag == 0x77:
                name = b""
                for t, x in children(op):
                    if t == 0x80:
                        name = x
                self.log({"op": "extended", "oid": name.decode("ascii", "replace"), "controls": ctrls})
                # no StartTLS here: ldaps:// or ldapi:// only
                conn.sendall(message(msgid, ldap_result(0x78, 2, "unsupported extended operation")))
            elif op_tag == 0x50:
                self.log({"op": "abandon"})
            else:
                self.log({"op": "0x%02x" % op_tag})
                conn.sendall(message(msgid, ldap_result(0x65, 53, "unwilling")))

    def bind(self, msgid, op, ctrls):
        f = list(children(op))
        rec = {"op": "bind", "version": int.from_bytes(f[0][1], "big"),
               "name": f[1][1].decode("utf-8", "replace"), "controls": ctrls}
        tag, cred = f[2]
        if tag == 0x80:
            rec["auth"] = "simple"
            rec["password_sha256"] = hashlib.sha256(cred).hexdigest() if cred else None
            code = 0
        else:
            parts = list(children(cred))
            rec["auth"] = "sasl"
            rec["mech"] = parts[0][1].decode("ascii", "replace")
            code = 0 if rec["mech"].upper() == "EXTERNAL" else 7   # authMethodNotSupported
        rec["result"] = code
        self.log(rec)
        return message(msgid, ldap_result(0x61, code, "" if code == 0 else "only EXTERNAL and simple"))

    # -- searching

    def search(self, msgid, op, ctrls):
        f = list(children(op))
        base = f[0][1].decode("utf-8", "replace")
        scope = ["base", "one", "sub"][f[1][1][0]] if f[1][1] and f[1][1][0] < 3 else "?"
        flt = parse_filter(f[6][0], f[6][1])
        attrs = [a.decode("utf-8", "replace") for _, a in children(f[7][1])]
        mode = self.mode()
        flavour = mode.get("rootdse", "windows")
        rec = {"op": "search", "base": base, "scope": scope, "filter": filter_text(flt), "attrs": attrs,
               "controls": ctrls}
        paged = next((c for c in ctrls if c["oid"] == PAGED_OID), None)
        cookie = bytes.fromhex(paged.get("cookie", "")) if paged else b""
        if cookie and mode.get("pause_page2_s"):
            self.log({"event": "page2", "base": base})
            time.sleep(min(float(mode["pause_page2_s"]), 60))
        if base == "" and scope == "base" and mode.get("delay_rootdse_s"):
            self.log({"event": "delaying-rootdse"})
            time.sleep(min(float(mode["delay_rootdse_s"]), 60))
        if scope == "one" and mode.get("delay_onelevel_s"):
            self.log({"event": "delaying", "base": base})
            time.sleep(min(float(mode["delay_onelevel_s"]), 60))

        if base == "" and scope == "base":
            results = [Entry("", {k: [x.encode() for x in v] for k, v in ROOTDSE[flavour].items()})]
            code = 0
        elif (mode.get("endless_page_s") and scope == "one" and
              norm_dn(base) == norm_dn(computer_dn("ENDLESS-PC"))):
            return self.endless(msgid, rec, paged, cookie, attrs, float(mode["endless_page_s"]))
        else:
            nb = norm_dn(base)
            if not any(norm_dn(e.dn) == nb for e in self.entries):
                rec["result"] = 32
                self.log(rec)
                return [message(msgid, ldap_result(0x65, 32, "0000208D: NameErr: DSID-03100241, problem "
                                                   "2001 (NO_OBJECT), data 0, best match of: '%s'" % BASE))]
            results = [e for e in self.entries if in_scope(e.dn, nb, scope) and match(flt, e, flavour)]
            code = 0
        start = 0
        size = paged["size"] if paged and paged.get("size", 0) > 0 else len(results) or 1
        if cookie:
            try:
                start = int(cookie.decode())
            except ValueError:
                rec["result"] = 2
                self.log(rec)
                return [message(msgid, ldap_result(0x65, 2, "bad paged results cookie"))]
        page = results[start:start + size]
        nxt = start + size if start + size < len(results) else None
        out, pw_dns = [], []
        for e in page:
            pdu, gave_pw = entry_pdu(e, attrs)
            out.append(message(msgid, pdu))
            if gave_pw:
                pw_dns.append(e.dn)
        rec.update({"result": code, "returned": [e.dn for e in page], "password_dns": pw_dns})
        self.log(rec)
        ctl = b""
        if paged:
            ctl = seq(seq(ber_str(PAGED_OID),
                          ber_str(seq(ber_int(len(results)), ber_str(str(nxt).encode() if nxt else b"")))),
                      tag=0xA0)
        out.append(message(msgid, ldap_result(0x65, code), ctl))
        return out

    def endless(self, msgid, rec, paged, cookie, attrs, delay):
        """One new recovery object a page, a cookie every time, forever."""
        try:
            n = int(cookie.decode()) if cookie else 0
        except ValueError:
            n = 0
        time.sleep(min(delay, 60))
        var = "ENDLESS%d" % n
        e = recovery_entry(var, "ENDLESS-PC", key_guid(var), "2024%02d01000000" % (1 + n % 12))
        pdu, gave_pw = entry_pdu(e, attrs)
        rec.update({"result": 0, "returned": [e.dn], "password_dns": [e.dn] if gave_pw else [], "page": n + 1})
        self.log(rec)
        nxt = str(n + 1).encode() if n + 1 < ENDLESS_MAX_PAGES else b""
        ctl = seq(seq(ber_str(PAGED_OID), ber_str(seq(ber_int(0), ber_str(nxt)))), tag=0xA0) if paged else b""
        return [message(msgid, pdu), message(msgid, ldap_result(0x65, 0), ctl)]


def in_scope(dn, nbase, scope):
    nd = norm_dn(dn)
    if scope == "base":
        return nd == nbase
    if scope == "one":
        return norm_dn(parent_dn(dn)) == nbase
    return nd == nbase or nd.endswith("," + nbase)


def entry_pdu(e, want):
    """SearchResultEntry for e with the attributes asked for; (pdu, password
    sent?).  A withheld object never gives its password or key package."""
    low = [a.lower() for a in want]
    every = not low or "*" in low
    parts = []
    gave_pw = False
    for key, (name, vals) in e.attrs.items():
        if "1.1" in low and len(low) == 1:
            break
        if not every and key not in low:
            continue
        if e.withheld and key in ("msfve-recoverypassword", "msfve-keypackage"):
            continue
        if key == "msfve-recoverypassword":
            gave_pw = True
        parts.append(seq(ber_str(name), tlv(0x31, b"".join(ber_str(v) for v in vals))))
    return tlv(0x64, ber_str(e.dn) + seq(*parts)), gave_pw


def parse_controls(v):
    out = []
    for _, c in children(v):
        items = list(children(c))
        rec = {"oid": items[0][1].decode("ascii", "replace"), "critical": False}
        for t, x in items[1:]:
            if t == 0x01:
                rec["critical"] = x != b"\x00"
            elif t == 0x04:
                rec["value"] = x.hex()
                if rec["oid"] == PAGED_OID:
                    try:
                        (_, s), = list(children(x))
                        (_, size), (_, cookie) = list(children(s))
                        rec["size"] = int.from_bytes(size, "big", signed=True)
                        rec["cookie"] = cookie.hex()
                    except ValueError:
                        rec["size"] = -1
        out.append(rec)
    return out


def listen_tcp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(32)
    return s


def main():
    ap = argparse.ArgumentParser(description="hostile fake AD LDAP server (bdekey tests)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--name", default="main")
    ap.add_argument("--unix")
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--trickle-port", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--print-env", action="store_true", help="print the fixture variables and exit")
    a = ap.parse_args()
    if a.print_env:
        print("\n".join(env_lines()))
        return 0
    if a.tls_port is not None and not (a.cert and a.key):
        ap.error("--tls-port needs --cert and --key")
    srv = Server(a)
    env = ["HL_%s_PID=%d" % (a.name.upper(), os.getpid())]
    socks = []
    if a.unix:
        try:
            os.unlink(a.unix)
        except FileNotFoundError:
            pass
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.bind(a.unix)
        u.listen(32)
        socks.append((u, "unix"))
        env.append("HL_%s_SOCK=%s" % (a.name.upper(), q(a.unix)))
    if a.tls_port is not None:
        t = listen_tcp(a.tls_port)
        socks.append((t, "tls"))
        env.append("HL_%s_TLS_PORT=%d" % (a.name.upper(), t.getsockname()[1]))
    if a.trickle_port is not None:
        t = listen_tcp(a.trickle_port)
        socks.append((t, "trickle"))
        env.append("HL_%s_TRICKLE_PORT=%d" % (a.name.upper(), t.getsockname()[1]))
    for s, kind in socks:
        threading.Thread(target=srv.accept_loop, args=(s, kind), daemon=True).start()
    path = os.path.join(a.dir, "ldap-%s.env" % a.name)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(env) + "\n")
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
