#!/usr/bin/env bash
# Integration: the UDP relay under overload (docs/metrics.md, "Drop reasons"). Three LAN
# senders on a1 flood alice's call to bob with 1,200-byte datagrams as fast as they can
# for 4 s (bounded in time and count), more than one auxiliary can seal and send, while
# carol's call to dave carries a steady echoed stream:
#   - the flooded call's loss is counted by reason, each datagram once: of what a1 sent
#     and the sink on b1 did not get, what was lost outside insel is measured with the
#     kernel's own counters (a1's link into the gateway, the gateway's link to b1, the
#     sink's socket), and the two auxiliaries account for at least 95 % of the rest and
#     for no more than all of it; the counts show in insel calls and in /metrics;
#   - what the wan loses on the way is among what the callee's auxiliary counts: the wan
#     router drops 1 in 50 of the flood's packets between the gateways (nftables
#     numgen), and the frames they held are counted lost in transit;
#   - the other call is not stalled: every datagram of its stream is echoed, none waits
#     more than 1.5 s for its echo.
# Prints the offered and delivered rates and where the loss happened.
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
import os, socket, sys, time
mode, port = sys.argv[1], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
if mode == "send":  # as fast as it goes, for argv[4] seconds, at most 20 million datagrams
    data = bytes(1200)
    end = time.monotonic() + float(sys.argv[4])
    while n < 20_000_000 and time.monotonic() < end:
        for _ in range(256):
            try:
                s.sendto(data, (sys.argv[2], port))
                n += 1
            except (BlockingIOError, OSError):
                pass
else:  # sink: counts what arrives until the file argv[4] exists and 0.5 s pass in
       # silence (everything in flight has arrived), 30 s at most
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.5)
    print("ready", flush=True)
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            s.recv(2048)
            n += 1
        except socket.timeout:
            if os.path.exists(sys.argv[4]):
                break
print(n, flush=True)
PY

listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
listen_as b2 dave "$NETNS_TMP/listen-dave.log" --auto-answer || fail "dave cannot listen"
spawn_echo b2 "$NETNS_TMP/echo-b2.log" 5006 --count 100000 \
	--timeout 60
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "alice calls bob (the call to flood)" contains "$out" " up "
flooded=$(call_id_of "$out")
out=$(insel_as a2 carol call dave@lan-b --udp 5006 2>&1)
check "carol calls dave (the call that must go on)" contains "$out" " up "
steady=$(call_id_of "$out")

# What the kernels dropped outside insel, each counted where it happened:
#   - a1's own link: a datagram a1 sent that the gateway's input backlog had no room for
#     (veth counts it as dropped on transmit; a1's sendto() never hears of it);
#   - the gateway's link to b1 (the LAN bridge's port): a datagram gw-b's auxiliary
#     delivered that b1's input backlog had no room for;
#   - the sink's socket on b1 (Python reads slower than insel delivers): RcvbufErrors.
# Each is read in its own namespace, so nothing else running on the machine is counted.
tx_dropped() { in_ns "$1" cat "/sys/class/net/$2/statistics/tx_dropped"; }
udp_counter() {  # udp_counter HOST NAME: a field of HOST's "Udp:" line in /proc/net/snmp
	in_ns "$1" awk -v k="$2" '/^Udp:/ { if (!n++) { for (i = 2; i <= NF; i++) f[$i] = i }
		else print $f[k] }' /proc/net/snmp
}
outside_drops() {
	echo "$(tx_dropped a1 eth0) $(tx_dropped gw-b p-b1) $(udp_counter b1 RcvbufErrors)" \
		"$(udp_counter b1 NoPorts)"
}
read -r a1_link0 b1_link0 sink_sock0 noport0 <<<"$(outside_drops)"
# And between the gateways, for the record (insel's part: frames lost in transit): the
# packets gw-a's uplink and the wan's link to gw-b dropped on transmit.
wan_links() { echo "$(tx_dropped gw-a v-wan) $(tx_dropped wan v-gw-b)"; }
read -r up0 down0 <<<"$(wan_links)"

# The wan loses 2 % of the flood's packets from gw-a to gw-b: only packets of more than
# 1,000 bytes (the flood's frames, one by one or glued by UDP GSO), not the other call's
# 200-byte datagrams.
in_ns wan nft -f - <<NFT
table ip overload_loss {
	chain lossy {
		type filter hook forward priority 0;
		ip saddr $(wan_addr 1) ip daddr $(wan_addr 2) ip protocol udp ip length > 1000 \
			numgen random mod 50 == 0 counter drop
	}
}
NFT
wan_dropped() {
	in_ns wan nft list chain ip overload_loss lossy | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

STOP=$NETNS_TMP/flood-stop
spawn_in_ns b1 "$NETNS_TMP/sink.out" python3 "$FLOOD" sink - 5004 "$STOP"
sink_pid=$LAST_PID
for _ in $(seq 1 100); do  # the sink is bound before anything is sent (10 s at most)
	grep -q ready "$NETNS_TMP/sink.out" 2>/dev/null && break
	sleep 0.1
done
pids=()
for i in 1 2 3; do
	spawn_in_ns a1 "$NETNS_TMP/flood-$i.out" python3 "$FLOOD" send "$(lan_net 1).1" 5004 4
	pids+=("$LAST_PID")
done
# Meanwhile the other call: one datagram every 20 ms for 4 s, each echoed and checked
# (one the kernel drops is sent again after 0.4 s).
stream=$(in_ns a2 python3 "$UDP_TOOL" send "$(lan_net 1).1" 5006 --count 200 --size 200 \
	--interval 0.02 --retries 3 --wait 0.4 --timeout 30 2>&1)
# The senders stop by themselves after 4 s (15 s at most here); then the sink, once
# what is in flight has arrived.
for p in "${pids[@]}"; do
	for _ in $(seq 1 150); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	reap_pid "$p"
done
touch "$STOP"
for _ in $(seq 1 50); do
	kill -0 "$sink_pid" 2>/dev/null || break
	sleep 0.1
done
reap_pid "$sink_pid"
offered=0
for i in 1 2 3; do offered=$((offered + $(tail -n 1 "$NETNS_TMP/flood-$i.out"))); done
delivered=$(tail -n 1 "$NETNS_TMP/sink.out")
read -r a1_link1 b1_link1 sink_sock1 noport1 <<<"$(outside_drops)"
read -r up1 down1 <<<"$(wan_links)"
echo "other call: $stream"
check "the other call's stream was echoed all the while the first was flooded" \
	contains "$stream" "200 intact"
worst=$(sed -n 's/.*worst wait \([0-9]*\) us.*/\1/p' <<<"$stream")
check "and none of its datagrams waited more than 1.5 s (worst ${worst:-?} us)" \
	test "${worst:-9999999}" -lt 1500000

# What the flooded call's auxiliaries counted, on each side (insel calls --json, read
# after the sink saw the last datagram: nothing is left in flight).
ja=$(insel_operator a calls --json 2>&1)
jb=$(insel_operator b calls --json 2>&1)
drops() {  # drops JSON CALL: dropped, buffer full, queue full, in transit of channel 0
	python3 -c '
import json, sys
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for c in json.loads(line).get("calls", []):
            if c.get("id") == sys.argv[1]:
                ch = c["channels"][0]
                print(*(ch.get(k, -1) for k in ("dropped", "dropped_buffer_full",
                      "dropped_queue_full", "dropped_in_transit")))
                sys.exit(0)
print(-1, -1, -1, -1)' "$2" <<<"$1"
}
read -r da dba dqa dia <<<"$(drops "$ja" "$flooded")"
read -r db dbb dqb dib <<<"$(drops "$jb" "$flooded")"
echo "offered $offered datagrams of 1200 B in 4 s ($((offered * 9600 / 4 / 1000000)) Mbit/s)," \
	"delivered $delivered ($((delivered * 9600 / 4 / 1000000)) Mbit/s)"
a1_link=$((a1_link1 - a1_link0))
b1_link=$((b1_link1 - b1_link0))
sink_sock=$((sink_sock1 - sink_sock0))
outside=$((a1_link + b1_link + sink_sock))
echo "lost outside insel: on a1's link into the gateway $a1_link, on the gateway's link" \
	"to b1 $b1_link, in the sink's socket $sink_sock; datagrams to no socket on b1" \
	"$((noport1 - noport0))"
echo "dropped between the gateways (packets, some of them GSO runs of frames): on gw-a's" \
	"uplink $((up1 - up0)), on the wan's link to gw-b $((down1 - down0)), by the wan's" \
	"loss rule $(wan_dropped)"
echo "counted by the caller's auxiliary: $da (socket buffer full $dba, send queue full" \
	"$dqa, lost in transit from the peer $dia)"
echo "counted by the callee's auxiliary: $db (socket buffer full $dbb, send queue full" \
	"$dqb, lost in transit from the peer $dib)"
lost=$((offered - delivered))
check "datagrams were lost to the overload ($lost of $offered)" test "$lost" -gt 0
wan_lost=$(wan_dropped)
check "the wan's drops ($wan_lost packets) are among the frames the callee counts lost in transit ($dib)" \
	test "${wan_lost:-0}" -gt 0 -a "$dib" -ge "${wan_lost:-0}"
# Each lost datagram once: the caller's drops before sealing (what it dropped after
# sealing, a full send queue, the callee counts among the frames lost in transit, as it
# does the frames its own WAN socket had no room for), and what the callee counted: the
# frames that never arrived and its drops towards b1. The caller's "lost in transit" is
# the other direction's (bob's side sends nothing but keep-alives).
counted=$((da - dqa - dia + db))
insel_lost=$((lost - outside))
echo "lost in insel's part: $insel_lost; counted by reason $counted; not attributed" \
	"$((insel_lost - counted))"
check "and counted by reason (counted $counted of $insel_lost: at least 95 %)" \
	test $((counted * 100)) -ge $((insel_lost * 95))
check "each once (counted $counted, at most $insel_lost and 1 % more)" \
	test $((counted * 100)) -le $((insel_lost * 101 + 5000))
human=$(insel_operator a calls 2>&1)
grep "dropped" <<<"$human"
check "insel calls shows the drops with their reasons" contains "$human" "dropped [0-9]* (socket buffer full"
# /metrics: a scrape asks the auxiliaries for fresh stats (at most once a second) and
# shows the last answers, so the page is read until it shows the call's counts (6 s at
# most).
drop_metric() {  # drop_metric SITE WHERE REASON: its insel_secondary_drops_total, or 0
	in_ns "gw-$1" curl -s --max-time 5 http://127.0.0.1:9461/metrics | sed -n \
		"s/^insel_secondary_drops_total{where=\"$2\",reason=\"$3\"} //p" | grep . || echo 0
}
wait_drop_metric() {  # wait_drop_metric SITE WHERE REASON AT_LEAST: prints the last value
	local v=0
	for _ in 1 2 3 4 5; do
		v=$(drop_metric "$1" "$2" "$3")
		[ "$v" -ge "$4" ] && break
		sleep 1.2
	done
	echo "$v"
}
in_lan=$(wait_drop_metric a lan socket_buffer_full "$dba")
check "and /metrics counts them by where and why (caller's LAN socket buffer full $in_lan)" \
	test "$in_lan" -ge "$dba" -a "$in_lan" -gt 0
in_transit=$(wait_drop_metric b wan lost_in_transit "$dib")
echo "callee's WAN socket buffer full (kernel packets): $(drop_metric b wan socket_buffer_full)"
check "the callee's /metrics counts the frames lost in transit ($in_transit >= $dib)" \
	test "$in_transit" -ge "$dib"

insel_as a1 alice hangup "$flooded" >/dev/null 2>&1
insel_as a2 carol hangup "$steady" >/dev/null 2>&1
check "the calls' auxiliaries are gone after hang-up" both wait_aux_count a 0 5 -- \
	wait_aux_count b 0 5
finish_checks
pass
