#!/usr/bin/env python3
"""Floods for the limits test, bounded in count, rate and time.

  flood_tool.py idle HOST PORT [--connections N] [--rate R] [--seconds S] [--reopen-after T]
      Opens up to N TCP connections that never send a byte, at most R new ones a second,
      and reopens each one the server closes (at once, or T seconds later: a patient
      attacker), for S seconds. Prints
      one JSON line: connections opened, closed by the server, open at the end, and
      "held": open at the end and older than a second (what the server let it keep, as
      far as the flood can tell: under load it includes connections still waiting in the
      server's accept queue or still sending SYNs, so limits.sh counts the server's own).
  flood_tool.py logins HOST PORT --ca FILE [--users U,...] [--parallel P] [--seconds S]
      P threads log in over TLS (no client certificate, as `insel` does) with wrong
      passwords for the users in turn, reconnecting when the server closes, for S
      seconds, at most 50 attempts a second per thread. Prints one JSON line counting the
      replies by error code.
  flood_tool.py hold HOST PORT [--ca FILE [--cert FILE --key FILE] [--hello ROLE]]
                [--seconds S]
      One connection that then says nothing: bare TCP, or with --ca a TLS handshake (with
      the certificate, if given) and, with --hello, a hello in that role. Prints how many
      seconds passed until the server closed it, or "open" after S seconds.
"""
import argparse
import json
import resource
import selectors
import socket
import ssl
import struct
import sys
import threading
import time


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def idle(args):
    raise_fd_limit()
    sel = selectors.DefaultSelector()
    opened_at = {}
    reopen_at = []  # when each connection the server closed may be opened again
    stats = {"opened": 0, "closed_by_server": 0, "connect_failed": 0}
    start = time.monotonic()
    end = start + args.seconds
    budget = 0.0
    last = start

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((args.host, args.port))
        sel.register(s, selectors.EVENT_READ)
        opened_at[s] = time.monotonic()
        stats["opened"] += 1

    while True:
        now = time.monotonic()
        if now >= end:
            break
        budget = min(budget + (now - last) * args.rate, args.rate)
        last = now
        waiting = sum(1 for t in reopen_at if t > now)
        reopen_at = [t for t in reopen_at if t > now]
        while len(opened_at) + waiting < args.connections and budget >= 1:
            open_one()
            budget -= 1
        for key, _ in sel.select(0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
                stats["connect_failed"] += 1
            if not data:
                sel.unregister(s)
                del opened_at[s]
                s.close()
                stats["closed_by_server"] += 1
                if args.reopen_after:
                    reopen_at.append(time.monotonic() + args.reopen_after)
    now = time.monotonic()
    stats["open_at_end"] = len(opened_at)
    stats["held"] = sum(1 for t in opened_at.values() if now - t > 1.0)
    for s in list(opened_at):
        s.close()
    print(json.dumps(stats), flush=True)
    return 0


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.codes = {}

    def add(self, code):
        with self.lock:
            self.codes[code] = self.codes.get(code, 0) + 1


def frame(body):
    data = json.dumps(body).encode()
    return struct.pack(">I", len(data)) + data


def read_msg(s):
    hdr = b""
    while len(hdr) < 4:
        chunk = s.recv(4 - len(hdr))
        if not chunk:
            raise ConnectionError("closed")
        hdr += chunk
    n = struct.unpack(">I", hdr)[0]
    body = b""
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return json.loads(body)


def login_thread(args, ctx, users, counter, end, index):
    attempt = index
    while time.monotonic() < end:
        try:
            raw = socket.create_connection((args.host, args.port), timeout=5)
            s = ctx.wrap_socket(raw)
            s.sendall(frame({"op": "hello", "id": 1, "version": 1, "role": "client"}))
            read_msg(s)
            while time.monotonic() < end:
                user = users[attempt % len(users)]
                attempt += 1
                s.sendall(frame({"op": "login", "id": 2, "user": user,
                                 "password": "guess-%d" % attempt}))
                reply = read_msg(s)
                code = "ok" if reply.get("ok") else reply["error"]["code"]
                counter.add(code)
                time.sleep(0.02)
            s.close()
        except (OSError, ConnectionError, ValueError, KeyError):
            counter.add("connection_lost")
            time.sleep(0.05)


def logins(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(args.ca)
    users = args.users.split(",")
    counter = Counter()
    end = time.monotonic() + args.seconds
    threads = [threading.Thread(target=login_thread,
                                args=(args, ctx, users, counter, end, i), daemon=True)
               for i in range(args.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + 10)
    print(json.dumps(counter.codes, sort_keys=True), flush=True)
    return 0


def hold(args):
    raw = socket.create_connection((args.host, args.port), timeout=args.seconds + 5)
    s = raw
    if args.ca:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.load_verify_locations(args.ca)
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key)
        s = ctx.wrap_socket(raw)
        if args.hello:
            s.sendall(frame({"op": "hello", "id": 1, "version": 1, "role": args.hello}))
            read_msg(s)
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < args.seconds:
        try:
            if not s.recv(4096):
                break
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            break
    else:
        print("open", flush=True)
        return 0
    print("%.1f" % (time.monotonic() - start), flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    i = sub.add_parser("idle")
    i.add_argument("host")
    i.add_argument("port", type=int)
    i.add_argument("--connections", type=int, default=3000)
    i.add_argument("--rate", type=float, default=1000)
    i.add_argument("--seconds", type=float, default=10)
    i.add_argument("--reopen-after", type=float, default=0)
    lg = sub.add_parser("logins")
    lg.add_argument("host")
    lg.add_argument("port", type=int)
    lg.add_argument("--ca", required=True)
    lg.add_argument("--users", default="carol")
    lg.add_argument("--parallel", type=int, default=4)
    lg.add_argument("--seconds", type=float, default=10)
    h = sub.add_parser("hold")
    h.add_argument("host")
    h.add_argument("port", type=int)
    h.add_argument("--ca")
    h.add_argument("--cert")
    h.add_argument("--key")
    h.add_argument("--hello")
    h.add_argument("--seconds", type=float, default=10)
    args = p.parse_args()
    if args.mode == "hold":
        if args.seconds > 120:
            p.error("at most 120 s")
        return hold(args)
    if args.mode == "idle":
        if not 0 < args.connections <= 10000 or args.seconds > 120:
            p.error("at most 10000 connections for at most 120 s")
        return idle(args)
    if not 0 < args.parallel <= 64 or args.seconds > 120:
        p.error("at most 64 threads for at most 120 s")
    return logins(args)


if __name__ == "__main__":
    sys.exit(main())
