#!/usr/bin/env python3
"""Looks for a private key's material in a running process's memory.

Usage: key_scan.py PID KEYFILE
Prints "found" (and exits 0) if the memory of PID holds the key file's base64 text, its
DER, or the ECDSA private scalar (big-endian as in the file, or little-endian as big-number
libraries keep it in limbs); "absent" (exit 1) otherwise; exit 2 if it cannot tell. Reads /proc/PID/mem region by
region, skipping regions it cannot read and the huge reservations of sanitizer runtimes.
"""
import base64
import sys

MAX_REGION = 512 << 20


def needles(keyfile):
    text = open(keyfile).read()
    body = "".join(l for l in text.splitlines() if l and not l.startswith("-----"))
    der = base64.b64decode(body)
    # ECPrivateKey inside PKCS#8: INTEGER 1, then an OCTET STRING of the 32-byte scalar
    # (33 bytes with a leading zero when its top bit is set, as GnuTLS writes it).
    at = der.find(b"\x02\x01\x01\x04")
    if at < 0 or der[at + 4] not in (0x20, 0x21):
        print("no P-256 private scalar found in " + keyfile)
        sys.exit(2)
    end = at + 5 + der[at + 4]
    scalar = der[end - 32:end]
    # The body's first 48 characters encode the header every P-256 key shares; the next
    # 48 encode the scalar, which is this key's alone.
    return [body[48:96].encode(), der, scalar, scalar[::-1]]


def regions(pid):
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if "r" not in fields[1] or name in ("[vvar]", "[vsyscall]"):
                continue
            if hi - lo > MAX_REGION:
                continue
            yield lo, hi


def main():
    pid, keyfile = sys.argv[1], sys.argv[2]
    wanted = needles(keyfile)
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for lo, hi in regions(pid):
            try:
                mem.seek(lo)
                chunk = mem.read(hi - lo)
            except OSError:
                continue
            for n in wanted:
                if n in chunk:
                    print("found")
                    return 0
    print("absent")
    return 1


if __name__ == "__main__":
    sys.exit(main())
