#!/usr/bin/env python3
"""Places many real UDP calls through one gateway, for the listing tests and benchmark.

  many_calls.py SOCKET USER PASSWORD CALLEE COUNT --first-port P --lan-addr A
                [--window W] [--hold S] [--ready FILE] [--rate R]
                [--logged-in FILE --go FILE]

Logs in once on the secondary's unix socket (the client API, framed JSON: a 4-byte
big-endian length and a JSON object) and asks for COUNT calls to CALLEE, one channel
each on ports P, P+1, ..., at most W outstanding at a time (the gateway's own set-up
work is what is being loaded, not the password check: one login, not COUNT). Once every
call is up it writes "up N" to --ready, and then, for --hold seconds at most, sends R
small datagrams a second spread over all the calls (from A, the gateway's LAN address,
the party of a call placed on the unix socket, to A:port), so that every call carries
traffic. Exits on SIGTERM or after --hold; the calls stay up without their client until
the secondary stops. Prints one line: "up N failed M". With --logged-in and --go, it
writes --logged-in once logged in and places the calls only once --go exists (within
--setup-timeout): a test can then hold the principal up between the two.
"""
import argparse
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time


RETRY = ("busy",)


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def request(self, op, **fields):
        msg = {"op": op, "id": self.next_id, **fields}
        self.next_id += 1
        self.send(msg)
        return msg["id"]

    def read(self, timeout):
        """The messages that arrive within timeout seconds (at least one read)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return []
        if not data:
            raise EOFError("the secondary closed the connection")
        self.buf += data
        out = []
        while len(self.buf) >= 4:
            (n,) = struct.unpack(">I", self.buf[:4])
            if len(self.buf) < 4 + n:
                break
            out.append(json.loads(self.buf[4:4 + n]))
            self.buf = self.buf[4 + n:]
        return out

    def wait_reply(self, rid, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.read(deadline - time.monotonic()):
                if m.get("id") == rid and "op" not in m:
                    return m
        raise TimeoutError(f"no reply to request {rid}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("callee")
    ap.add_argument("count", type=int)
    ap.add_argument("--first-port", type=int, required=True)
    ap.add_argument("--lan-addr", required=True)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--hold", type=float, default=300)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--ready")
    ap.add_argument("--setup-timeout", type=float, default=300)
    ap.add_argument("--logged-in")
    ap.add_argument("--go")
    a = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    c = Conn(a.socket)
    r = c.wait_reply(c.request("hello", version=1), 10)
    if not r.get("ok"):
        sys.exit(f"hello refused: {r}")
    r = c.wait_reply(c.request("login", user=a.user, password=a.password), 30)
    if not r.get("ok"):
        sys.exit(f"login refused: {r}")
    if a.logged_in:
        open(a.logged_in, "w").close()
    if a.go:
        go_by = time.monotonic() + a.setup_timeout
        while not os.path.exists(a.go) and time.monotonic() < go_by and not stop:
            time.sleep(0.05)

    pending = {}  # request id -> port
    up = failed = 0
    ports = list(range(a.first_port, a.first_port + a.count))
    nxt = 0
    errors = {}
    tries = {}
    deadline = time.monotonic() + a.setup_timeout
    while (nxt < len(ports) or pending) and time.monotonic() < deadline and not stop:
        while nxt < len(ports) and len(pending) < a.window:
            rid = c.request("call", callee=a.callee,
                            channels=[{"kind": "udp", "port": ports[nxt]}])
            pending[rid] = ports[nxt]
            nxt += 1
        for m in c.read(1.0):
            if "op" in m:  # a notice (call_up, call_ended) or a request: none needs us
                continue
            if m.get("id") in pending:
                port = pending.pop(m["id"])
                code = m.get("error", {}).get("code", "?")
                if m.get("ok"):
                    up += 1
                elif code in RETRY and tries.get(port, 0) < 50:
                    # The callee's client answers one call at a time: ask again.
                    tries[port] = tries.get(port, 0) + 1
                    ports.append(port)
                else:
                    failed += 1
                    errors[code] = errors.get(code, 0) + 1
    failed += len(pending) + (len(ports) - nxt)
    ports = ports[:a.count]
    print(f"up {up} failed {failed}" + (f" {errors}" if errors else ""), flush=True)
    if a.ready:
        with open(a.ready + ".tmp", "w") as f:
            f.write(f"up {up}\n")
        os.rename(a.ready + ".tmp", a.ready)

    # Traffic: a steady trickle over every call, bounded by --hold.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((a.lan_addr, 0))
    end = time.monotonic() + a.hold
    gap = 1.0 / a.rate if a.rate > 0 else 1.0
    i = 0
    payload = b"x" * 64
    c.sock.setblocking(False)
    while time.monotonic() < end and not stop:
        if a.rate > 0:
            try:
                u.sendto(payload, (a.lan_addr, ports[i % len(ports)]))
            except OSError:
                pass
            i += 1
        time.sleep(gap)
        try:  # drain the notices so that the secondary never queues for us
            while c.sock.recv(1 << 20):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            break
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
