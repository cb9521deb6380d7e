#!/usr/bin/env python3
"""fakeldap.py - a tiny LDAPS server that records simple binds.

For CLI tests that need to see what bdekey binds with (the password typed
at the prompt or read from a file) without a domain controller.  It speaks
just enough LDAP (RFC 4511, BER): a BindRequest is recorded (DN, password
length and SHA-256) and answered with RESULT (default 49,
invalidCredentials, as AD answers a wrong password); a SearchRequest gets
an empty SearchResultDone; an UnbindRequest closes the connection.

    srv = FakeLDAP(cert, key)       # listens on 127.0.0.1, a free port
    srv.uri                         # "ldaps://127.0.0.1:PORT"
    srv.binds                       # [{"dn", "length", "sha256"}, ...]
    srv.connections                 # TCP connections accepted
    srv.close()

The client must trust the CA that signed cert (LDAPTLS_CACERT).
"""
import hashlib
import socket
import ssl
import threading

INVALID_CREDENTIALS = 49


def ber_length(data, i):
    """The length at data[i:]; returns (length, index after it)."""
    n = data[i]
    if n < 0x80:
        return n, i + 1
    k = n & 0x7F
    if k == 0 or k > 4 or i + 1 + k > len(data):
        raise ValueError("bad BER length")
    return int.from_bytes(data[i + 1:i + 1 + k], "big"), i + 1 + k


def ber_items(data):
    """The (tag, value) items of a constructed value's contents."""
    i, out = 0, []
    while i < len(data):
        tag = data[i]
        n, j = ber_length(data, i + 1)
        out.append((tag, data[j:j + n]))
        i = j + n
    return out


def ber(tag, value):
    n = len(value)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + value


def ldap_result(msgid, app_tag, code, message=b""):
    op = ber(app_tag, ber(0x0A, bytes([code])) + ber(0x04, b"") +
             ber(0x04, message))
    return ber(0x30, ber(0x02, msgid) + op)


class FakeLDAP:
    def __init__(self, cert, key, result=INVALID_CREDENTIALS):
        self.result = result
        self.binds = []
        self.connections = 0
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.uri = "ldaps://127.0.0.1:%d" % self.port
        self.closed = False
        threading.Thread(target=self.accept, daemon=True).start()

    def reset(self):
        with self.lock:
            self.binds = []
            self.connections = 0

    def accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def read_message(self, tls):
        """One LDAPMessage's contents, or None at the end."""
        head = b""
        while len(head) < 2 or (head[1] & 0x80 and
                                len(head) < 2 + (head[1] & 0x7F)):
            b = tls.recv(1)
            if not b:
                return None
            head += b
        n, j = ber_length(head, 1)
        body = b""
        while len(body) < n:
            b = tls.recv(n - len(body))
            if not b:
                return None
            body += b
        return body

    def serve(self, conn):
        conn.settimeout(20)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                while True:
                    msg = self.read_message(tls)
                    if msg is None:
                        return
                    items = ber_items(msg)
                    msgid, (tag, op) = items[0][1], items[1]
                    if tag == 0x60:             # BindRequest
                        _, (_, dn), (atag, cred) = ber_items(op)[:3]
                        with self.lock:
                            self.binds.append({
                                "dn": dn.decode("utf-8", "replace"),
                                "simple": atag == 0x80,
                                "length": len(cred),
                                "sha256": hashlib.sha256(cred).hexdigest()})
                        tls.sendall(ldap_result(
                            msgid, 0x61, self.result,
                            b"80090308: LdapErr: DSID-0C09044E, comment: "
                            b"AcceptSecurityContext error, data 52e, v4563"
                            if self.result else b""))
                    elif tag == 0x63:           # SearchRequest
                        tls.sendall(ldap_result(msgid, 0x65, 0))
                    else:                       # Unbind, or what we lack
                        return
        except (OSError, ValueError, IndexError, ssl.SSLError):
            return

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
