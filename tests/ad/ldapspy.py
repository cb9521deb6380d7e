#!/usr/bin/python3
"""A TLS-terminating LDAP proxy that logs what a client asks, for tests.

  ldapspy.py --port N --upstream ldaps://127.0.0.1 --cert PEM --key PEM \
             --cafile CA --log FILE [--stall-search] [--silent]

Listens on 127.0.0.1:N with the test DC's certificate, forwards each
connection to the upstream LDAPS server, and appends one JSON line per
client request to FILE: {"op": "search", "base": ..., "scope": ...,
"filter": "(...)", "attrs": [...], "controls": [{"oid", "critical",
"size", "cookie"}]}, plus {"op": "accept"} per connection.  Lets a test
prove what went over the wire inside TLS (the paged results control and
its cookie, the attribute list, the filter).

--stall-search: forward everything until the first search request, then
  go silent (the connection stays open): a server that hangs mid-session.
--silent: accept TCP connections and never answer (not even TLS).
Prints "ready" on stdout once listening.
"""
import argparse
import json
import socket
import ssl
import sys
import threading
import time

LOCK = threading.Lock()


def log(path, rec):
    with LOCK:
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")


def tlv(b, i):
    """(tag, value bytes, next index) of the BER element at b[i]."""
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, b[i:i + n], i + n


def elements(b):
    i = 0
    while i < len(b):
        tag, v, i = tlv(b, i)
        yield tag, v


def value_str(v, binary=False):
    """An assertion value as RFC 4515 text: printable as is, else \\xx
    (every byte for binary attributes)."""
    out = []
    for c in v:
        ch = chr(c)
        if not binary and 0x20 < c < 0x7F and ch not in "*()\\":
            out.append(ch)
        else:
            out.append("\\%02x" % c)
    return "".join(out)


def is_binary(attr):
    """GUID attributes are octet strings: show them in hex."""
    return attr.decode().lower().endswith("guid")


def filter_str(tag, v):
    if tag in (0xA0, 0xA1):
        return "(%s%s)" % ("&" if tag == 0xA0 else "|",
                           "".join(filter_str(t, x) for t, x in elements(v)))
    if tag == 0xA2:
        t, x, _ = tlv(v, 0)
        return "(!%s)" % filter_str(t, x)
    if tag == 0x87:
        return "(%s=*)" % v.decode()
    if tag in (0xA3, 0xA5, 0xA6, 0xA8):
        (_, a), (_, x) = list(elements(v))
        op = {0xA3: "=", 0xA5: ">=", 0xA6: "<=", 0xA8: "~="}[tag]
        return "(%s%s%s)" % (a.decode(), op, value_str(x, is_binary(a)))
    if tag == 0xA4:
        (_, a), (_, subs) = list(elements(v))
        initial, final, anys = "", "", []
        b = is_binary(a)
        for t, x in elements(subs):
            if t == 0x80:
                initial = value_str(x, b)
            elif t == 0x81:
                anys.append(value_str(x, b))
            else:
                final = value_str(x, b)
        text = initial + "*" + "".join(s + "*" for s in anys) + final
        return "(%s=%s)" % (a.decode(), text)
    return "(?%02x)" % tag


def controls(v):
    out = []
    for _, c in elements(v):
        items = list(elements(c))
        rec = {"oid": items[0][1].decode(), "critical": False}
        for t, x in items[1:]:
            if t == 0x01:
                rec["critical"] = x != b"\x00"
            elif t == 0x04:
                rec["value"] = x.hex()
                if rec["oid"] == "1.2.840.113556.1.4.319":
                    (_, seq), = list(elements(x))
                    (_, size), (_, cookie) = list(elements(seq))
                    rec["size"] = int.from_bytes(size, "big", signed=True)
                    rec["cookie"] = cookie.hex()
        out.append(rec)
    return out


OPS = {0x60: "bind", 0x42: "unbind", 0x63: "search", 0x77: "extended",
       0x50: "abandon", 0x66: "modify", 0x68: "add", 0x4A: "delete"}


def parse_request(msg):
    items = list(elements(msg))
    op_tag, op = items[1]
    rec = {"op": OPS.get(op_tag, "0x%02x" % op_tag)}
    if op_tag == 0x63:
        f = list(elements(op))
        rec["base"] = f[0][1].decode("utf-8", "replace")
        rec["scope"] = ["base", "one", "sub"][f[1][1][0]]
        rec["filter"] = filter_str(f[6][0], f[6][1])
        rec["attrs"] = [a.decode() for _, a in elements(f[7][1])]
    elif op_tag == 0x60:
        f = list(elements(op))
        rec["name"] = f[1][1].decode("utf-8", "replace")
        rec["auth"] = "simple" if f[2][0] == 0x80 else "sasl"
    rec["controls"] = controls(items[2][1]) if len(items) > 2 and \
        items[2][0] == 0xA0 else []
    return rec


def pump(src, dst, logpath, parse, stall):
    buf = b""
    stalled = False
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if parse:
                buf += data
                out = b""
                while len(buf) >= 2:
                    try:
                        _, msg, end = tlv(buf, 0)
                    except IndexError:
                        break
                    if end > len(buf):
                        break
                    raw, buf = buf[:end], buf[end:]
                    try:
                        rec = parse_request(msg)
                    except Exception as e:  # noqa: BLE001 - log, keep going
                        rec = {"op": "unparsed", "error": str(e)}
                    log(logpath, rec)
                    if stall and rec["op"] == "search":
                        stalled = True
                    if not stalled:
                        out += raw
                if out:
                    dst.sendall(out)
                if stalled:
                    # keep the connection open, answer nothing
                    while src.recv(65536):
                        pass
                    break
            else:
                dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                # the plain socket's shutdown: SSLSocket.shutdown drops the
                # TLS layer, and the other pump's next recv would then
                # return raw TLS records (a close_notify logged as an
                # "unparsed" request after the unbind)
                socket.socket.shutdown(s, socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, args, sctx, cctx):
    try:
        client = sctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()
        return
    host, port = args.upstream_host, args.upstream_port
    try:
        up = cctx.wrap_socket(socket.create_connection((host, port), 10),
                              server_hostname=host)
    except OSError:
        client.close()
        return
    t = threading.Thread(target=pump, args=(up, client, args.log, False, False),
                         daemon=True)
    t.start()
    pump(client, up, args.log, True, args.stall_search)
    t.join(5)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", default="ldaps://127.0.0.1")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--cafile")
    p.add_argument("--log", required=True)
    p.add_argument("--stall-search", action="store_true")
    p.add_argument("--silent", action="store_true")
    args = p.parse_args()
    hostport = args.upstream.split("://", 1)[1].rstrip("/")
    host, _, port = hostport.partition(":")
    args.upstream_host, args.upstream_port = host, int(port or 636)

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(64)
    sctx = cctx = None
    if not args.silent:
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(args.cert, args.key)
        cctx = ssl.create_default_context(cafile=args.cafile)
        cctx.check_hostname = False
    print("ready", flush=True)
    held = []
    while True:
        conn, _ = ls.accept()
        log(args.log, {"op": "accept", "time": time.time()})
        if args.silent:
            held.append(conn)
            continue
        threading.Thread(target=serve, args=(conn, args, sctx, cctx),
                         daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
