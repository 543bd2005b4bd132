#!/usr/bin/env python3
"""insel-relay's TCP fallback on loopback, driven as its principal would drive it.

Starts insel-relay with its control socket on fd 3, a UDP port and a TLS listener
(--tcp-listen); checks that socket's hello (refused before it, from another role or
version, and twice), allocates, then plays the auxiliaries' legs: a UDP leg and a TCP leg
(TLS 1.3, the relay's certificate checked against the organisation's CA, each datagram
after a 2-byte length) register and exchange frames both ways through the one
forwarding table; two TCP legs likewise; a TCP leg moves back to UDP with a new REGISTER;
a third party over TCP is refused; a first record that is not a REGISTER, a zero-length
record and a client that trusts another CA are all refused; runs of frames sent as one
UDP GSO datagram come out frame by frame; the counters say so.

usage: relay_tcp.py RELAY_PROGRAM CA_CRT CERT KEY FOREIGN_CA_CRT
Prints ok/FAIL per check; exit status the number of failures (99: could not run).
"""
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import time

PROGRAM, CA, CERT, KEY, FOREIGN_CA = sys.argv[1:6]
failures = 0


def check(label, cond):
    global failures
    print(("ok: " if cond else "FAIL: ") + label, flush=True)
    if not cond:
        failures += 1


class Control:
    """The principal's end of the relay's control socket (4-byte length, JSON)."""

    def __init__(self, sock):
        self.sock = sock
        self.next_id = 1

    def ask(self, op, **fields):
        msg = dict(op=op, id=self.next_id, **fields)
        self.next_id += 1
        data = json.dumps(msg).encode()
        self.sock.sendall(struct.pack(">I", len(data)) + data)
        while True:
            reply = self.read()
            if reply.get("id") == msg["id"]:
                return reply

    def read(self):
        head = self.exact(4)
        return json.loads(self.exact(struct.unpack(">I", head)[0]))

    def exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError("control socket closed")
            out += chunk
        return out


def register(alloc, token, leg, counter, sessions):
    body = struct.pack(">BBBBQQ", 0x20, 1, leg, len(sessions), alloc, counter)
    body += b"".join(struct.pack(">I", s) for s in sessions)
    return body + hmac.new(token, body, hashlib.sha256).digest()[:16]


def is_registered(dgram, alloc, token, counter):
    if len(dgram) != 36 or dgram[0] != 0x21:
        return False
    _, _, _, _, a, c = struct.unpack(">BBBBQQ", dgram[:20])
    mac = hmac.new(token, dgram[:20], hashlib.sha256).digest()[:16]
    return a == alloc and c == counter and hmac.compare_digest(mac, dgram[20:])


def frame(session, fill, size=64):
    """A DATA frame's clear header (type 1, receiver session at bytes 4..7), opaque rest."""
    return struct.pack(">BBHI", 1, 0, 0, session) + bytes([fill]) * (size - 8)


class UdpLeg:
    def __init__(self, relay):
        self.relay = relay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(1.0)

    def send(self, data):
        self.sock.sendto(data, self.relay)

    def recv(self):
        try:
            return self.sock.recvfrom(70000)[0]
        except socket.timeout:
            return None


class TcpLeg:
    """A leg over TLS: what an auxiliary's tcp_leg.c does."""

    def __init__(self, port, cafile=CA):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False  # organisation names, not DNS names: the CA decides
        ctx.load_verify_locations(cafile)
        raw = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.sock = ctx.wrap_socket(raw)
        self.sock.settimeout(1.0)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(struct.pack(">H", len(data)) + data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        deadline = time.time() + 1.0
        while True:
            if len(self.buf) >= 2:
                n = struct.unpack(">H", self.buf[:2])[0]
                if len(self.buf) >= 2 + n:
                    rec, self.buf = self.buf[2:2 + n], self.buf[2 + n:]
                    return rec
            if time.time() > deadline:
                return None
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLError, OSError):
                return None
            if not chunk:
                return None
            self.buf += chunk

    def closed_by_relay(self):
        try:
            self.sock.settimeout(3.0)
            return self.sock.recv(100) == b""
        except (ssl.SSLError, ConnectionError):
            return True
        except socket.timeout:
            return False


def send_gso(leg, frames, segment):
    """frames back to back in one UDP GSO datagram (what an auxiliary's batch sends)."""
    leg.sock.sendmsg([b"".join(frames)], [(socket.IPPROTO_UDP, 103,  # UDP_SEGMENT
                                            struct.pack("=H", segment))], 0, leg.relay)


def gso_runs(ctl, relay, tcp_port):
    """Runs of frames sent as one GSO datagram: the relay reads them with GRO and each
    frame leaves alone, whole and in order, to a UDP leg (as a GSO send of its own) and to
    a TCP leg (a record each); a bad frame among them is dropped alone."""
    alloc, token = 0x0a0b0c0d0e0f1011, bytes(range(16, 32))
    ctl.ask("allocate", allocation="%016x" % alloc, token=token.hex())
    e, f = UdpLeg(relay), UdpLeg(relay)
    e.send(register(alloc, token, 0, 1, [0x5151]))
    f.send(register(alloc, token, 1, 1, [0x6161]))
    check("two more UDP legs register", is_registered(e.recv() or b"", alloc, token, 1) and
          is_registered(f.recv() or b"", alloc, token, 1))
    run = [frame(0x6161, i, 1200) for i in range(11)] + [frame(0x6161, 11, 900)]
    before = ctl.ask("stats")["gro_messages"]
    try:
        send_gso(e, run, 1200)
    except OSError as err:
        print("skip: no UDP GSO here (%s)" % err, flush=True)
        return
    got = [f.recv() for _ in range(12)]
    check("UDP -> UDP: a GSO run of 12 frames leaves as 12 datagrams, whole, in order",
          got == run and f.recv() is None)
    check("counted: the run was read as one GRO message",
          ctl.ask("stats")["gro_messages"] == before + 1)
    bad = list(run)
    bad[4] = frame(0x7777, 4, 1200)
    send_gso(e, bad, 1200)
    got = [f.recv() for _ in range(11)]
    check("a frame for no leg in a run is dropped alone",
          got == run[:4] + run[5:] and f.recv() is None)
    g = TcpLeg(tcp_port)
    g.send(register(alloc, token, 1, 2, [0x6161]))
    check("leg 1 moves to TCP", is_registered(g.recv() or b"", alloc, token, 2))
    send_gso(e, run, 1200)
    got = [g.recv() for _ in range(12)]
    check("UDP -> TCP: a GSO run arrives as 12 records, whole, in order", got == run)


def main():
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    if parent.fileno() == 3:  # fd 3 is to be the child's end
        moved = parent.dup()
        parent.close()
        parent = moved
    if child.fileno() != 3:
        os.dup2(child.fileno(), 3, inheritable=True)
    else:
        os.set_inheritable(3, True)
    user = ["--user", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [PROGRAM, "-v", "run", "--listen", "127.0.0.1:0", "--tcp-listen", "127.0.0.1:0",
         "--ca", CA, "--tls-cert", CERT, "--tls-key", KEY] + user,
        pass_fds=(3,), stderr=open(os.environ.get("RELAY_LOG", "/dev/null"), "w"))
    if child.fileno() != 3:
        os.close(3)
    child.close()
    ctl = Control(parent)
    try:
        # The control socket (common/control/child_control.c): hello first, from the
        # principal only, in this protocol's version; each refusal changes nothing.
        early = ctl.ask("stats")
        check("a request before hello is refused",
              early.get("ok") is False and early["error"]["code"] == "protocol")
        other = ctl.ask("hello", version=1, role="secondary")
        check("a hello from another role is refused (forbidden)",
              other.get("ok") is False and other["error"]["code"] == "forbidden")
        old = ctl.ask("hello", version=99, role="principal")
        check("a hello of another version is refused",
              old.get("ok") is False and old["error"]["code"] == "unsupported_version")
        hello = ctl.ask("hello", version=1, role="principal")
        check("the principal's hello is answered: role relay, its port",
              hello.get("ok") is True and hello.get("role") == "relay" and
              hello.get("version") == 1 and hello.get("port", 0) > 0)
        again = ctl.ask("hello", version=1, role="principal")
        check("a second hello is refused", again.get("ok") is False)
        udp_port = hello["port"]
        stats = ctl.ask("stats")
        tcp_port = stats["tcp"]["port"]
        check("the relay listens on UDP and on TCP", udp_port > 0 and tcp_port > 0)
        relay = ("127.0.0.1", udp_port)
        alloc, token = 0x0102030405060708, bytes(range(16))
        check("allocate", ctl.ask("allocate", allocation="%016x" % alloc, token=token.hex())
              .get("ok") is True)

        # --- a UDP leg (0) and a TCP leg (1) ---
        a = UdpLeg(relay)
        b = TcpLeg(tcp_port)
        check("TLS 1.3 with the relay, its certificate checked against the CA",
              b.sock.version() == "TLSv1.3")
        a.send(register(alloc, token, 0, 1, [0x1111]))
        check("the UDP leg registers", is_registered(a.recv() or b"", alloc, token, 1))
        b.send(register(alloc, token, 1, 1, [0x2222]))
        check("the TCP leg registers over the stream", is_registered(b.recv() or b"", alloc, token, 1))
        for i in range(20):
            a.send(frame(0x2222, i, 40 + i * 50))
        got = [b.recv() for _ in range(20)]
        check("UDP -> TCP: 20 frames arrive whole and in order",
              got == [frame(0x2222, i, 40 + i * 50) for i in range(20)])
        for i in range(20):
            b.send(frame(0x1111, 100 + i, 1400))
        got = [a.recv() for _ in range(20)]
        check("TCP -> UDP: 20 frames arrive whole and in order",
              got == [frame(0x1111, 100 + i, 1400) for i in range(20)])
        # Several records in one TLS write, cut anywhere: the stream is a stream.
        blob = b"".join(struct.pack(">H", 300) + frame(0x1111, 7, 300) for _ in range(5))
        b.send_raw(blob[:7])
        b.send_raw(blob[7:])
        got = [a.recv() for _ in range(5)]
        check("records cut across writes come out whole", got == [frame(0x1111, 7, 300)] * 5)

        # --- a third party over TCP is only another source: refused ---
        mallory = TcpLeg(tcp_port)
        mallory.send(register(alloc, bytes(16), 1, 9, [0x3333]))
        check("a REGISTER with a wrong MAC over TCP is not answered", mallory.recv() is None)
        mallory2 = TcpLeg(tcp_port)
        mallory2.send(frame(0x1111, 1))
        check("a first record that is not a REGISTER closes the connection",
              mallory2.closed_by_relay())
        mallory3 = TcpLeg(tcp_port)
        mallory3.send(register(alloc, token, 1, 2, [0x2222]))
        mallory3.recv()
        mallory3.send_raw(b"\x00\x00")
        check("a zero-length record closes the connection", mallory3.closed_by_relay())
        try:
            TcpLeg(tcp_port, cafile=FOREIGN_CA).send(b"x")
            refused = False
        except ssl.SSLError:
            refused = True
        check("a client that trusts another CA refuses the relay", refused)

        # --- leg 1 moved to mallory3 (counter 2): b is no longer the leg ---
        a.send(frame(0x2222, 42))
        check("a leg's newer REGISTER from another connection moves it", b.recv() is None)
        # --- two TCP legs ---
        c = TcpLeg(tcp_port)
        c.send(register(alloc, token, 0, 2, [0x1111]))
        check("leg 0 moves from UDP to TCP", is_registered(c.recv() or b"", alloc, token, 2))
        d = TcpLeg(tcp_port)
        d.send(register(alloc, token, 1, 3, [0x2222]))
        check("leg 1 registers on a new connection", is_registered(d.recv() or b"", alloc, token, 3))
        c.send(frame(0x2222, 1, 1000))
        d.send(frame(0x1111, 2, 1000))
        check("TCP <-> TCP both ways", d.recv() == frame(0x2222, 1, 1000) and
              c.recv() == frame(0x1111, 2, 1000))
        # --- and back to UDP ---
        a.send(register(alloc, token, 0, 3, [0x1111]))
        check("leg 0 moves back to UDP", is_registered(a.recv() or b"", alloc, token, 3))
        d.send(frame(0x1111, 3, 500))
        check("TCP -> UDP after the move", a.recv() == frame(0x1111, 3, 500))
        check("... and nothing to the old TCP connection", c.recv() is None)

        gso_runs(ctl, relay, tcp_port)

        stats = ctl.ask("stats")
        tcp = stats["tcp"]
        print("stats:", json.dumps(tcp), flush=True)
        check("counted: accepted connections, records both ways",
              tcp["accepted"] >= 7 and tcp["records_in"] >= 34 and tcp["records_out"] >= 26)
        check("counted: a frame for a connection that has closed", tcp["gone"] >= 1)
        check("counted: malformed streams closed", tcp["closed_malformed"] >= 2)
        check("counted: the bad MAC, by the one table", stats["datagrams"]["bad_mac"] >= 1)
        check("the relay is confined", "Seccomp:\t2" in open("/proc/%d/status" % proc.pid).read())
    finally:
        parent.close()
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    check("the relay ends cleanly when its control socket closes", rc == 0)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any breakage of the run is a failure
        print("FAIL: the test broke:", repr(e), flush=True)
        failures += 1
    sys.exit(min(failures, 98))
