#!/usr/bin/env python3
"""A steady UDP stream against an echo, measuring the longest silence: what a call loses
while its path changes under it (a NAT rebinding). Bounded in count and time.

  gap_probe.py HOST PORT [--count N] [--interval S] [--size B] [--linger S]
      Sends datagram number 0..N-1 to HOST:PORT, one every S seconds without waiting
      for answers, and notes when each echo comes back (only echoes of datagrams it sent,
      byte for byte). Stops --linger seconds after the last. Prints one line:
        sent N received M lost L longest_gap_ms G
      where G is the longest time between two consecutive echoes (from the first echo
      to the last). Exit 0 if at least one echo came back, 1 otherwise.
"""
import argparse
import socket
import sys
import time


def payload(seq, size):
    head = seq.to_bytes(4, "big")
    return (head + bytes((seq * 7 + i) & 0xFF for i in range(size)))[:max(size, 4)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--interval", type=float, default=0.01)
    p.add_argument("--size", type=int, default=200)
    p.add_argument("--linger", type=float, default=1.0)
    a = p.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.host, a.port))
    arrivals = {}
    start = time.monotonic()
    end_of_sending = start + a.count * a.interval
    stop = end_of_sending + a.linger
    seq = 0
    while True:
        now = time.monotonic()
        if now >= stop:
            break
        due = start + seq * a.interval
        if seq < a.count and now >= due:
            try:
                s.send(payload(seq, a.size))
            except OSError:
                pass  # an ICMP error from an earlier datagram: keep the pace
            seq += 1
            continue
        wait = (due if seq < a.count else stop) - now
        s.settimeout(max(wait, 0.0005))
        try:
            data = s.recv(65535)
        except socket.timeout:
            continue
        except OSError:
            continue
        n = int.from_bytes(data[:4], "big")
        if n < seq and data == payload(n, a.size) and n not in arrivals:
            arrivals[n] = time.monotonic()
    times = sorted(arrivals.values())
    gap = max((b - t for t, b in zip(times, times[1:])), default=0.0)
    print(f"sent {seq} received {len(arrivals)} lost {seq - len(arrivals)} "
          f"longest_gap_ms {gap * 1000:.0f}", flush=True)
    return 0 if arrivals else 1


if __name__ == "__main__":
    sys.exit(main())
