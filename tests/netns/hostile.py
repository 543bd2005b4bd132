#!/usr/bin/env python3
"""Hostile peers and clients against a running secondary, for tests/netns/hostile.sh.
Speaks insel's framed JSON (4-byte big-endian length, then a JSON object) over TLS or a
unix socket, and prints one "ok - ..." or "FAIL - ..." line per check; exits 1 if any
check failed. Every wait is bounded.

  hostile.py peer HOST PORT PKI       the peer protocol (a secondary's port), with the
                                      certificates in PKI (lan-a is the directory's
                                      gateway of lan-a; principal, tool-ops, user-eve:
                                      other roles)
  hostile.py client HOST PORT PKI     the client protocol over TLS
  hostile.py unix PATH                the client protocol on the gateway's unix socket
  hostile.py fake-callee HOST PORT PKI
                                      plays lan-b's secondary (its certificate) for one
                                      network call: answers hello, sends requests the
                                      dialling side must refuse, then accepts the call
                                      with a callee_gateway outside lan-b
  hostile.py silent-callee HOST PORT PKI
                                      plays lan-b's secondary that never answers hello,
                                      and hangs up only after the caller gave up
  hostile.py tun-call HOST PORT PKI CALLER CALLEE GATEWAY
                                      plays lan-a's secondary asking for one network call
                                      from host CALLER (behind GATEWAY) to host CALLEE;
                                      prints the answer's error code, or "ok"
"""
import json
import socket
import ssl
import struct
import sys
import time

failures = 0
FRAME_MAX = 64 * 1024


def check(label, cond, detail=""):
    global failures
    if cond:
        print(f"ok - {label}", flush=True)
    else:
        failures += 1
        print(f"FAIL - {label} {detail}", flush=True)


class Conn:
    """One framed-JSON connection; reads are bounded by the socket's time-out."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def raw(self, data):
        self.s.sendall(data)

    def frame(self, body):
        self.raw(struct.pack(">I", len(body)) + body)

    def send(self, obj):
        self.frame(json.dumps(obj).encode())

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """The next message, or None on EOF, time-out or a TLS alert."""
        try:
            n = struct.unpack(">I", self._read(4))[0]
            return json.loads(self._read(n))
        except (EOFError, OSError, ssl.SSLError, ValueError):
            return None

    def reply(self, req_id):
        """The reply to req_id, skipping anything else (notices, other replies)."""
        for _ in range(100):
            m = self.recv()
            if m is None or ("op" not in m and m.get("id") == req_id):
                return m
        return None

    def request(self, obj):
        self.send(obj)
        return self.reply(obj.get("id"))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def code(reply):
    if not reply or reply.get("ok") is not False:
        return None
    return reply.get("error", {}).get("code")


def tls_context(pki, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(pki + "/ca.crt")
    if name:
        ctx.load_cert_chain(f"{pki}/{name}.crt", f"{pki}/{name}.key")
    return ctx


def connect(host, port, pki, name, timeout=10):
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        return Conn(tls_context(pki, name).wrap_socket(sock))
    except (OSError, ssl.SSLError):
        sock.close()
        return None


def hello(role, i=1):
    return {"op": "hello", "id": i, "version": 1, "role": role}


def refused(host, port, pki, name, role):
    """A certificate of the wrong role: no answer, whatever the handshake let through."""
    c = connect(host, port, pki, name)
    if c is None:
        return True
    try:
        c.send(hello(role))
    except (OSError, ssl.SSLError):
        c.close()
        return True
    r = c.recv()
    c.close()
    return r is None or r.get("ok") is not True


def pipelined(c, make, count):
    """Sends count requests without waiting, then reads every reply."""
    c.raw(b"".join(struct.pack(">I", len(b)) + b for b in
                   (json.dumps(make(i)).encode() for i in range(count))))
    seen = set()
    for _ in range(count):
        m = c.recv()
        if m is None:
            break
        seen.add(m.get("id"))
    return seen


def truncated_and_huge(open_conn, role, what):
    c = open_conn()
    c.send(hello(role))
    c.reply(1)
    c.raw(b"\x00\x00")  # half a length prefix, then gone
    c.close()
    c = open_conn()
    c.raw(struct.pack(">I", 1000) + b'{"op":"hello"')  # a frame cut short, then gone
    c.close()
    c = open_conn()
    c.raw(struct.pack(">I", 0xFFFFFFF0) + b"A" * 4096)
    r = c.recv()
    check(f"{what}: a 4 GiB length prefix is refused without being buffered",
          code(r) == "too_big", str(r))
    c.close()


def garbage(c, what):
    c.frame(b"{not json")
    check(f"{what}: garbage JSON answered", code(c.recv()) == "bad_json")
    c.frame(b"[1,2,3]")
    check(f"{what}: a JSON array answered", code(c.recv()) == "not_object")
    c.frame(b"")
    check(f"{what}: an empty frame answered", code(c.recv()) is not None)


def many_connections(open_conn, role, n, what):
    conns = []
    for _ in range(n):
        c = open_conn()
        if c is None:
            break
        conns.append(c)
    for c in conns:
        c.send(hello(role))
    answered = sum(1 for c in conns if (c.reply(1) or {}).get("ok") is True)
    for c in conns:
        c.close()
    check(f"{what}: {n} connections at once, each says hello ({answered} answered)",
          answered == n)


# ---- the peer protocol ----

def call_request(i, **fields):
    req = {"op": "call_request", "id": i, "call": "%016x" % (0x1000 + i),
           "caller": "alice@lan-a", "callee": "bob@lan-b", "callee_user": "bob",
           "channels": [{"kind": "udp", "port": 5004}], "offer": {}}
    req.update(fields)
    return req


def tun_request(i, gateway, caller="10.1.0.11", callee="10.2.0.11"):
    return call_request(i, callee=callee, callee_user="", callee_address=callee,
                        channels=[{"kind": "tun"}],
                        tun={"caller": [caller + "/32"], "callee": [callee + "/32"],
                             "caller_gateway": gateway})


def peer(host, port, pki):
    def open_sec():
        return connect(host, port, pki, "lan-a")

    for name, label in (("principal", "a principal-role certificate"),
                        ("tool-ops", "an operator tool's certificate"),
                        ("user-eve", "a user-role certificate"), (None, "no certificate")):
        check(f"peer port: {label} is refused", refused(host, port, pki, name, "secondary"))
    c = open_sec()
    check("peer port: lan-a's secondary certificate is accepted", c is not None)
    r = c.request(call_request(2))
    check("peer port: call_request before hello is refused", code(r) == "protocol", str(r))
    r = c.request({"op": "hangup", "id": 3, "call": "0000000000000001"})
    check("peer port: hangup before hello is refused", code(r) == "protocol", str(r))
    garbage(c, "peer port")
    r = c.request({"op": "frobnicate", "id": 4})
    check("peer port: unknown op answered", code(r) == "unknown_op", str(r))
    r = c.request(hello("secondary", 5))
    check("peer port: hello", r is not None and r.get("ok") is True, str(r))
    r = c.request(hello("secondary", 6))
    check("peer port: a second hello is refused", code(r) == "protocol", str(r))
    r = c.request({"op": "hangup", "id": 7, "call": "0000000000000001"})
    check("peer port: hangup of no call on this connection is refused",
          code(r) == "unknown_call", str(r))
    t0 = time.monotonic()
    seen = pipelined(c, lambda i: {"op": "hangup", "id": 10000 + i,
                                   "call": "0000000000000001"}
                     if i % 2 else {"op": "nope", "id": 10000 + i}, 5000)
    check(f"peer port: 5000 pipelined requests all answered ({len(seen)}, "
          f"{time.monotonic() - t0:.1f} s)", len(seen) == 5000)
    # Two call requests at once: the connection carries one call.
    c.raw(b"".join(struct.pack(">I", len(b)) + b for b in
                   (json.dumps(call_request(20)).encode(),
                    json.dumps(call_request(21)).encode())))
    replies = {}
    for _ in range(2):
        m = c.recv()
        if m:
            replies[m.get("id")] = m
    check("peer port: a second call_request on one connection is refused",
          code(replies.get(21)) == "bad_request", str(replies.get(21)))
    check("peer port: the first is answered (bob is not listening)",
          code(replies.get(20)) == "not_listening", str(replies.get(20)))
    c.close()

    for req, want, label in (
            (call_request(30, channels="many"), "bad_request", "a malformed call_request"),
            (call_request(31, caller="eve@lan-c"), "forbidden",
             "a caller the directory does not give to lan-a's secondary"),
            (tun_request(32, "10.2.0.1"), "gateway_outside_lan",
             "a network call whose caller_gateway lies outside lan-a's prefixes"),
            (tun_request(33, "198.18.2.2"), "gateway_outside_lan",
             "a network call whose caller_gateway is a wan address"),
            (tun_request(34, "10.1.0.1"), "not_listening",
             "a network call with lan-a's real gateway passes that check")):
        c = open_sec()
        c.send(hello("secondary"))
        c.reply(1)
        r = c.request(req)
        check(f"peer port: {label} -> {want}", code(r) == want, str(r))
        c.close()
    truncated_and_huge(open_sec, "secondary", "peer port")
    many_connections(open_sec, "secondary", 100, "peer port")


# ---- the client protocol ----

def client_checks(c, what, login=True):
    r = c.request({"op": "calls", "id": 2})
    check(f"{what}: calls before hello is refused", code(r) == "protocol", str(r))
    r = c.request({"op": "login", "id": 3, "user": "bob", "password": "pw-bob"})
    check(f"{what}: login before hello is refused", code(r) == "protocol", str(r))
    garbage(c, what)
    r = c.request(hello("secondary", 4))
    check(f"{what}: hello as a secondary is refused", code(r) == "forbidden", str(r))
    r = c.request(hello("client", 5))
    check(f"{what}: hello", r is not None and r.get("ok") is True, str(r))
    r = c.request(hello("client", 6))
    check(f"{what}: a second hello is refused", code(r) == "protocol", str(r))
    r = c.request({"op": "hangup", "id": 7, "call": "0000000000000001"})
    check(f"{what}: hangup before login is refused", code(r) == "not_logged_in", str(r))
    t0 = time.monotonic()
    seen = pipelined(c, lambda i: {"op": "status", "id": 10000 + i}, 5000)
    check(f"{what}: 5000 pipelined requests all answered ({len(seen)}, "
          f"{time.monotonic() - t0:.1f} s)", len(seen) == 5000)
    if login:
        r = c.request({"op": "login", "id": 8, "user": "dave", "password": "pw-dave"})
        check(f"{what}: login", r is not None and r.get("ok") is True, str(r))
        r = c.request({"op": "hangup", "id": 9, "call": "zz"})
        check(f"{what}: hangup of a malformed call id", code(r) == "unknown_call", str(r))
        r = c.request({"op": "call", "id": 10, "callee": 5, "channels": []})
        check(f"{what}: a malformed call", code(r) == "bad_request", str(r))


def client(host, port, pki):
    def open_client():
        return connect(host, port, pki, None)

    for name, label in (("lan-a", "a secondary certificate"),
                        ("principal", "a principal-role certificate"),
                        ("tool-ops", "an operator tool's certificate")):
        check(f"client port: {label} is refused", refused(host, port, pki, name, "client"))
    c = open_client()
    check("client port: a client without a certificate is accepted", c is not None)
    client_checks(c, "client port")
    c.close()
    truncated_and_huge(open_client, "client", "client port")
    # Not logged in, each holds one of the host's pending slots ([clients]
    # max_pending_per_source, 8): a ninth would be reset at accept (limits.sh).
    many_connections(open_client, "client", 8, "client port")


def unix(path):
    def open_unix():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
        return Conn(s)

    c = open_unix()
    client_checks(c, "unix socket")
    c.close()
    truncated_and_huge(open_unix, "client", "unix socket")


# ---- the dialling side, seen from a fake callee ----

def accept_as_lan_b(host, port, pki):
    """One connection from a caller's secondary, served with lan-b's certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pki + "/lan-b.crt", pki + "/lan-b.key")
    ctx.load_verify_locations(pki + "/ca.crt")
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = socket.create_server((host, port))
    srv.settimeout(30)
    print("fake callee listening", flush=True)
    sock, _ = srv.accept()
    srv.close()
    sock.settimeout(10)
    return Conn(ctx.wrap_socket(sock, server_side=True))


def silent_callee(host, port, pki):
    c = accept_as_lan_b(host, port, pki)
    m = c.recv()
    check("silent callee: hello received, left unanswered",
          m is not None and m.get("op") == "hello", str(m))
    time.sleep(8)  # past the caller's hello time-out
    c.close()


def fake_callee(host, port, pki):
    c = accept_as_lan_b(host, port, pki)
    m = c.recv()
    check("fake callee: the caller's secondary says hello first",
          m is not None and m.get("op") == "hello", str(m))
    c.send({"id": m["id"], "ok": True, "version": 1, "secondary": "lan-b"})
    # Requests only the dialled side may send: the dialling side refuses them.
    c.send(call_request(900))
    c.send(hello("secondary", 901))
    codes, got_request, hangup = {}, None, None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (len(codes) < 2 or not hangup):
        m = c.recv()
        if m is None:
            break
        if m.get("op") == "call_request":
            got_request = m
            c.send({"id": m["id"], "ok": True, "answer": {},
                    "tun": {"callee_gateway": "10.1.0.99"}})
        elif m.get("op") == "hangup":
            hangup = m
        elif m.get("id") in (900, 901):
            codes[m["id"]] = code(m)
    check("fake callee: the dialling side refuses a call_request on its own connection",
          codes.get(900) == "bad_state", str(codes))
    check("fake callee: ... and a hello", codes.get(901) == "bad_state", str(codes))
    check("fake callee: the network call is requested", got_request is not None)
    check("fake callee: a callee_gateway outside lan-b ends it (hangup)",
          hangup is not None and hangup.get("reason") == "gateway_outside_lan", str(hangup))
    c.close()


def tun_call(host, port, pki, caller, callee, gateway):
    c = connect(host, port, pki, "lan-a")
    if c is None:
        print("no connection")
        return
    r = c.request(hello("secondary", 1))
    if r is None or r.get("ok") is not True:
        print("hello refused: " + str(r))
        return
    r = c.request(tun_request(2, gateway, caller, callee))
    print(code(r) or ("ok" if r and r.get("ok") is True else "no answer"))
    c.close()


def main():
    mode = sys.argv[1]
    if mode == "peer":
        peer(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == "client":
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == "unix":
        unix(sys.argv[2])
    elif mode == "fake-callee":
        fake_callee(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == "silent-callee":
        silent_callee(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == "tun-call":
        tun_call(sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:8])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{failures} failure(s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
