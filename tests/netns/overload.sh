#!/usr/bin/env bash
# Integration: the UDP relay under overload (docs/metrics.md, "Drop reasons"). Three LAN
# senders on a1 flood alice's call to bob with 1,200-byte datagrams as fast as they can
# for 4 s (bounded in time and count), more than one auxiliary can seal and send, while
# carol's call to dave carries a steady echoed stream:
#   - the flooded call's losses are counted by reason, not silent: the drops its auxiliary
#     counts (the kernel's socket buffer full, the send queue full, ...), what arrived
#     at bob and what bob's own socket dropped account for at least 70 % of what was
#     offered (see the check for the part not yet attributed); they show in insel calls and in /metrics;
#   - the other call is not stalled: its stream is echoed all the while.
# Prints the offered and delivered rates.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
INSEL_SECONDARY_EXTRA=$'[metrics]\nlisten = 127.0.0.1:9461'
insel_deploy || fail "deployment did not come up"

FLOOD=$NETNS_TMP/flood.py
cat >"$FLOOD" <<'PY'
import socket, sys, time
mode, port, seconds = sys.argv[1], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
if mode == "send":  # as fast as it goes, for `seconds`, at most 20 million datagrams
    data = bytes(1200)
    end = time.monotonic() + seconds
    while n < 20_000_000 and time.monotonic() < end:
        for _ in range(256):
            try:
                s.sendto(data, (sys.argv[2], port))
                n += 1
            except (BlockingIOError, OSError):
                pass
else:  # sink: counts what arrives for `seconds`
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.5)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            s.recv(2048)
            n += 1
        except socket.timeout:
            pass
print(n, flush=True)
PY

listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
listen_as b2 dave "$NETNS_TMP/listen-dave.log" --auto-answer || fail "dave cannot listen"
spawn_in_ns b2 "$NETNS_TMP/echo-b2.log" python3 "$UDP_TOOL" echo 5006 --count 100000 \
	--timeout 60
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "alice calls bob (the call to flood)" contains "$out" " up "
flooded=$(call_id_of "$out")
out=$(insel_as a2 carol call dave@lan-b --udp 5006 2>&1)
check "carol calls dave (the call that must go on)" contains "$out" " up "
steady=$(call_id_of "$out")

# udp_rcvbuf_errors HOST: datagrams HOST's kernel dropped for a full socket buffer (its
# namespace's /proc/net/snmp, Udp: RcvbufErrors). The sink on b1 is Python: when insel
# delivers faster than it reads, b1 drops them there, past insel and not insel's to count.
udp_rcvbuf_errors() {
	in_ns "$1" awk '/^Udp:/ && ++n == 2 { print $6 }' /proc/net/snmp
}
# backlog_drops: packets the kernel dropped for a full per-CPU input backlog (the veth
# links between the hosts queue there; /proc/net/softnet_stat's second column, summed over
# CPUs; machine-wide, and nothing else floods while this test runs).
backlog_drops() {
	local total=0 d
	while read -r _ d _; do total=$((total + 16#$d)); done </proc/net/softnet_stat
	echo "$total"
}
sink_drops_before=$(udp_rcvbuf_errors b1)
backlog_before=$(backlog_drops)
spawn_in_ns b1 "$NETNS_TMP/sink.out" python3 "$FLOOD" sink - 5004 9
sink_pid=$LAST_PID
sleep 0.5
pids=()
for i in 1 2 3; do
	spawn_in_ns a1 "$NETNS_TMP/flood-$i.out" python3 "$FLOOD" send "$(lan_net 1).1" 5004 4
	pids+=("$LAST_PID")
done
# Meanwhile the other call: one datagram every 20 ms for 4 s, each echoed and checked.
stream=$(in_ns a2 python3 "$UDP_TOOL" send "$(lan_net 1).1" 5006 --count 200 --size 200 \
	--interval 0.02 --retries 2 --wait 1 --timeout 30 2>&1)
# The senders stop after 4 s and the sink after 9 s, by themselves: wait for their counts
# (12 s at most), then reap.
for _ in $(seq 1 120); do
	kill -0 "$sink_pid" 2>/dev/null || break
	sleep 0.1
done
for p in "${pids[@]}"; do reap_pid "$p"; done
wait "$sink_pid"  # it ends by itself 9 s after it started, and only then prints its count
offered=0
for i in 1 2 3; do offered=$((offered + $(tail -n 1 "$NETNS_TMP/flood-$i.out"))); done
delivered=$(tail -n 1 "$NETNS_TMP/sink.out")
echo "other call: $stream"
check "the other call's stream was echoed all the while the first was flooded" \
	contains "$stream" "200 intact"

# What the flooded call's auxiliaries say they dropped, on each side.
sleep 0.5
ja=$(insel_operator a calls --json 2>&1)
jb=$(insel_operator b calls --json 2>&1)
drops() {  # drops JSON CALL: dropped, buffer full, queue full of the call's first channel
	python3 -c '
import json, sys
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for c in json.loads(line).get("calls", []):
            if c.get("id") == sys.argv[1]:
                ch = c["channels"][0]
                print(ch.get("dropped", -1), ch.get("dropped_buffer_full", -1),
                      ch.get("dropped_queue_full", -1))
                sys.exit(0)
print(-1, -1, -1)' "$2" <<<"$1"
}
read -r da dba dqa <<<"$(drops "$ja" "$flooded")"
read -r db dbb dqb <<<"$(drops "$jb" "$flooded")"
echo "offered $offered datagrams of 1200 B in 4 s ($((offered * 9600 / 4 / 1000000)) Mbit/s)," \
	"delivered $delivered ($((delivered * 9600 / 4 / 1000000)) Mbit/s)"
echo "counted drops: caller's auxiliary $da (socket buffer full $dba, send queue full $dqa)," \
	"callee's $db (socket buffer full $dbb, send queue full $dqb)"
sink_drops=$(($(udp_rcvbuf_errors b1) - sink_drops_before))
backlog=$(($(backlog_drops) - backlog_before))
echo "dropped outside insel: by the sink's own socket on b1 $sink_drops," \
	"by the kernel's input backlog between the hosts $backlog"
lost=$((offered - delivered - sink_drops - backlog))
counted=$((da + db))
check "datagrams were lost to the overload ($lost of $offered)" test "$lost" -gt 0
# At least 70 %: with the flood above 1 Gbit/s (an idle machine), 5-21 % of what is lost
# is not yet attributed to a reason (neither the sink's socket nor the hosts' input
# backlog, measured above): where it goes is still to be found; under 0.6 Gbit/s it is
# under 5 %.
echo "not attributed: $((lost - counted)) of $lost lost"
check "and counted by reason (counted $counted, lost $lost: at least 70 %)" \
	test $((counted * 10)) -ge $((lost * 7))
human=$(insel_operator a calls 2>&1)
grep "dropped" <<<"$human"
check "insel calls shows the drops with their reasons" contains "$human" "dropped [0-9]* (socket buffer full"
page=$(in_ns gw-a curl -s --max-time 5 http://127.0.0.1:9461/metrics)
page=$(sleep 1.2; in_ns gw-a curl -s --max-time 5 http://127.0.0.1:9461/metrics)
grep '^insel_secondary_drops_total' <<<"$page"
check "and /metrics counts them by where and why" \
	grep -Eq '^insel_secondary_drops_total\{where="(lan|wan)",reason="(socket_buffer_full|send_queue_full)"\} [1-9]' <<<"$page"

insel_as a1 alice hangup "$flooded" >/dev/null 2>&1
insel_as a2 carol hangup "$steady" >/dev/null 2>&1
check "the calls' auxiliaries are gone after hang-up" both wait_aux_count a 0 5 -- \
	wait_aux_count b 0 5
finish_checks
pass
