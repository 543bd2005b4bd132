#!/usr/bin/env python3
"""A TCP transfer spread over time, for tests that must keep a connection busy across
events (key exchanges); bounded in size and time.

  paced_tcp.py recv PORT OUT [--timeout S]
      Accepts one connection and writes what it sends to OUT until it closes.
  paced_tcp.py send HOST PORT FILE [--rate BYTES_PER_S] [--timeout S]
      Sends FILE at about that rate, in 16 KiB writes, then closes.
"""
import argparse
import socket
import sys
import time

CHUNK = 16384


def recv(args):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", args.port))
    srv.listen(1)
    srv.settimeout(args.timeout)
    conn, _ = srv.accept()
    conn.settimeout(args.timeout)
    deadline = time.monotonic() + args.timeout
    total = 0
    with open(args.out, "wb") as out:
        while time.monotonic() < deadline:
            data = conn.recv(65536)
            if not data:
                break
            out.write(data)
            total += len(data)
    print(f"received {total} bytes", flush=True)
    return 0


def send(args):
    with open(args.file, "rb") as f:
        data = f.read()
    s = socket.create_connection((args.host, args.port), timeout=args.timeout)
    start = time.monotonic()
    sent = 0
    while sent < len(data):
        if time.monotonic() - start > args.timeout:
            print("timed out", flush=True)
            return 1
        s.sendall(data[sent:sent + CHUNK])
        sent += min(CHUNK, len(data) - sent)
        ahead = sent / args.rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(args.timeout)
    while s.recv(65536):
        pass
    s.close()
    print(f"sent {sent} bytes in {time.monotonic() - start:.1f} s", flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("recv")
    r.add_argument("port", type=int)
    r.add_argument("out")
    r.add_argument("--timeout", type=float, default=60)
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("file")
    s.add_argument("--rate", type=float, default=1 << 20)
    s.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    return recv(args) if args.mode == "recv" else send(args)


if __name__ == "__main__":
    sys.exit(main())
