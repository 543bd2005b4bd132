#!/usr/bin/env python3
"""A gateway's link to the principal through an outage of the directory's database.

    api_outage.py CA_DIR NAME PORT CALLEE STOP_FILE

Connects over TLS with certificate NAME, says hello, then every 200 ms sends a heartbeat
and a look-up of CALLEE on the one connection, timing each answer, until STOP_FILE
exists and three look-ups in a row have been answered after the first refusal (or 60 s
passed). Prints one line per answer ("T OP CODE MS", T the wall-clock time) and a last
line: "summary answers=N max_ms=M unavailable=U closed=0|1 first_ok_after_outage=T".
The test script stops and starts the database meanwhile."""
import json
import os
import socket
import ssl
import struct
import sys
import time

ca_dir, name, port, callee, stop_file = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.check_hostname = False
ctx.load_verify_locations(ca_dir + "/ca.crt")
ctx.load_cert_chain(ca_dir + "/" + name + ".crt", ca_dir + "/" + name + ".key")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=10))


def send(msg):
    body = json.dumps(msg).encode()
    s.sendall(struct.pack(">I", len(body)) + body)


def recv_exact(n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by the principal")
        data += chunk
    return data


def reply(want_id):
    """The answer to want_id; notices (no id) are skipped."""
    while True:
        n = struct.unpack(">I", recv_exact(4))[0]
        msg = json.loads(recv_exact(n))
        if msg.get("id") == want_id:
            return msg


def ask(msg):
    t0 = time.monotonic()
    send(msg)
    r = reply(msg["id"])
    ms = (time.monotonic() - t0) * 1000
    code = "ok" if r.get("ok") else r.get("error", {}).get("code", "?")
    print("%.3f %s %s %.1f" % (time.time(), msg["op"], code, ms), flush=True)
    return code, ms


answers = max_ms = unavailable = closed = 0
first_ok_after = None
oks_after = 0
next_id = 1
deadline = time.monotonic() + 60
try:
    ask({"op": "hello", "id": next_id, "version": 1})
    while time.monotonic() < deadline:
        for op in ({"op": "heartbeat"}, {"op": "lookup", "callee": callee}):
            next_id += 1
            code, ms = ask(dict(op, id=next_id))
            answers += 1
            max_ms = max(max_ms, ms)
            if code == "directory_unavailable":
                unavailable += 1
                oks_after = 0
            elif op["op"] == "lookup" and code == "ok" and unavailable:
                oks_after += 1
                if first_ok_after is None:
                    first_ok_after = time.time()
        if os.path.exists(stop_file) and oks_after >= 3:
            break
        time.sleep(0.2)
except (ConnectionError, OSError) as e:
    print("connection: %s" % e, flush=True)
    closed = 1
print("summary answers=%d max_ms=%.0f unavailable=%d closed=%d first_ok_after_outage=%s" %
      (answers, max_ms, unavailable, closed,
       "%.3f" % first_ok_after if first_ok_after else "none"), flush=True)
