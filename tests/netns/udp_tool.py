#!/usr/bin/env python3
"""UDP helper for the integration tests and the demo, bounded in count and time.

  udp_tool.py echo PORTS [--count N] [--timeout S] [--bind ADDR]
      Echoes each datagram back to its sender on any of PORTS (5004, 5004,5005 or
      7000-7049); stops after N datagrams in all or S seconds.
  udp_tool.py send HOST PORT [--count N] [--size B] [--timeout S] [--src-port P]
                             [--interval S] [--bind ADDR] [--until FILE]
      Sends N datagrams of B bytes (a pattern that carries the sequence number), waits
      for each echo (resending a datagram whose echo does not come, --retries times) and
      checks it byte for byte; with --interval, a steady stream of one datagram every S
      seconds; --bind sends from that address; --until stops the stream early once FILE
      exists (N bounds it still). Prints one summary line (with the longest time a
      datagram waited for its echo, resends included); exits 0 only if every datagram
      sent came back intact.
  udp_tool.py stream HOST PORT [--count N] [--interval S] [--src-port P] [--delay S]
                     [--linger S]
      After --delay seconds, sends N datagrams to HOST:PORT, one every S seconds, from
      one socket, counting what arrives on that socket until --linger seconds after the
      last; prints "sent N received M". HOST "-" sends nothing (a sink: it only counts
      what arrives on --src-port for --linger seconds).
"""
import argparse
import os
import selectors
import socket
import statistics
import sys
import time


def pattern(seq, size):
    head = seq.to_bytes(4, "big")
    body = bytes((seq + i) & 0xFF for i in range(max(size - 4, 0)))
    return (head + body)[:size] if size >= 4 else head[:size]


def parse_ports(text):
    ports = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            ports.extend(range(int(lo), int(hi) + 1))
        else:
            ports.append(int(part))
    return ports


def echo(args):
    sel = selectors.DefaultSelector()
    for port in parse_ports(args.port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((args.bind, port))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + args.timeout
    n = 0
    while n < args.count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(left):
            try:
                data, peer = key.fileobj.recvfrom(65535)
            except BlockingIOError:
                continue
            key.fileobj.sendto(data, peer)
            n += 1
    print(f"echoed {n} datagrams", flush=True)
    return 0


def send(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.src_port or args.bind != "0.0.0.0":
        s.bind((args.bind, args.src_port))
    deadline = time.monotonic() + args.timeout
    ok = bad = lost = 0
    rtts = []
    resent = 0
    worst = 0.0
    lost_seqs = []
    late = 0  # echoes of an earlier datagram that came after it was given up
    sent = 0
    for seq in range(args.count):
        if args.until and os.path.exists(args.until):
            break
        sent += 1
        if args.interval:
            time.sleep(args.interval)
        data = pattern(seq, args.size)
        got = None
        first = time.monotonic()
        # UDP promises nothing: a datagram with no echo is sent once more (counted)
        # before it counts as lost; what does come back must be intact.
        for attempt in range(1 + args.retries):
            if attempt:
                resent += 1
            start = time.monotonic()
            s.sendto(data, (args.host, args.port))
            while time.monotonic() < deadline:
                s.settimeout(min(args.wait, max(deadline - time.monotonic(), 0.001)))
                try:
                    reply, _ = s.recvfrom(65535)
                except socket.timeout:
                    break
                if reply[:4] == data[:4]:
                    got = reply
                    break
                late += 1
            if got is not None or time.monotonic() >= deadline:
                break
        if got is None:
            lost += 1
            lost_seqs.append(seq)
        elif got == data:
            ok += 1
            rtts.append((time.monotonic() - start) * 1e6)
            worst = max(worst, time.monotonic() - first)
        else:
            bad += 1
        if time.monotonic() >= deadline:
            lost += args.count - seq - 1
            sent = args.count
            break
    med = statistics.median(rtts) if rtts else 0
    print(f"sent {sent} x {args.size} B: {ok} intact, {bad} corrupted, {lost} lost,"
          f" {resent} resent, median rtt {med:.0f} us, worst wait {worst * 1e6:.0f} us")
    if lost_seqs or late:
        # Which ones, and whether their echo came after all (late, not lost).
        print(f"no echo in time for datagrams {lost_seqs[:20]}; {late} echoes came late")
    return 0 if ok == sent else 1


def stream(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", args.src_port))
    sent = received = 0

    def drain(until):
        nonlocal received
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            s.settimeout(left)
            try:
                s.recvfrom(65535)
            except socket.timeout:
                return
            received += 1

    drain(time.monotonic() + args.delay)
    if args.host != "-":
        for seq in range(args.count):
            s.sendto(pattern(seq, args.size), (args.host, args.port))
            sent += 1
            drain(time.monotonic() + args.interval)
    drain(time.monotonic() + args.linger)
    print(f"sent {sent} received {received}", flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("echo")
    e.add_argument("port")
    e.add_argument("--count", type=int, default=1000)
    e.add_argument("--timeout", type=float, default=30)
    e.add_argument("--bind", default="0.0.0.0")
    c = sub.add_parser("send")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--count", type=int, default=10)
    c.add_argument("--size", type=int, default=100)
    c.add_argument("--timeout", type=float, default=20)
    c.add_argument("--wait", type=float, default=2)
    c.add_argument("--src-port", type=int, default=0)
    c.add_argument("--retries", type=int, default=1)
    c.add_argument("--interval", type=float, default=0)
    c.add_argument("--bind", default="0.0.0.0")
    c.add_argument("--until")
    t = sub.add_parser("stream")
    t.add_argument("host")
    t.add_argument("port", type=int)
    t.add_argument("--count", type=int, default=20)
    t.add_argument("--size", type=int, default=200)
    t.add_argument("--interval", type=float, default=0.1)
    t.add_argument("--src-port", type=int, default=0)
    t.add_argument("--delay", type=float, default=0)
    t.add_argument("--linger", type=float, default=1)
    args = p.parse_args()
    return {"echo": echo, "send": send, "stream": stream}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
