#!/usr/bin/env bash
# Integration: failover mid-call (issue 13). Two sites with a trunk between them, both
# gateways public (the path is direct), the principal's relay registered as the warm
# standby. An iperf3 TCP transfer runs through the trunk while a ping stream (every 10 ms)
# timestamps the outage; mid-transfer, an nftables rule in the wan router drops UDP
# between the two gateways' wan addresses (the relay still reachable):
#   - the trunk moves to the relay without ending (same call, same auxiliary), the path
#     notice says why (failover, the silence measured), `insel calls` shows it;
#   - the TCP transfer completes with no reset; the gap (cut to the first packet through
#     the relay) is printed, and must stay under two seconds;
#   - the rule gone, the trunk goes back to direct after the hold (hysteresis), counted
#     as a switch back, still the same call.
# Then a UDP call beside the trunk: cut mid-stream, it moves to the relay and carries
# datagrams again without ending.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/failover_lib.sh"
command -v iperf3 >/dev/null || { echo "SKIP: no iperf3"; exit 77; }
netns_begin
topo_two_sites
insel_pki
insel_directory
start_principal
start_trunk_pair

check "the trunk goes direct" wait_trunk_path a "direct to $GW_B:" 10
check "both legs of the trunk's relay allocation are registered (the standby)" bash -c \
	"grep -q 'leg 0 registered on the relay' '$NETNS_TMP/secondary-a.log' &&
	 grep -q 'leg 1 registered on the relay' '$NETNS_TMP/secondary-b.log'"
ids_a=$(call_ids a) ids_b=$(call_ids b)
aux_a=$(aux_pids a | sort | tr '\n' ' ') aux_b=$(aux_pids b | sort | tr '\n' ' ')
check "one trunk call on each side ($ids_a / $ids_b)" test -n "$ids_a" -a -n "$ids_b"

# ---- cut mid-transfer ----
spawn_in_ns b1 "$NETNS_TMP/iperf-b1.log" iperf3 -s -1 -p 5201
iperf_srv=$LAST_PID
wait_port b1 5201 tcp 5 || fail "iperf3 server did not start"
spawn_in_ns a1 "$NETNS_TMP/iperf-a1.json" timeout 40 iperf3 -c 10.2.0.11 -p 5201 -t 10 -J
iperf_cli=$LAST_PID
spawn_in_ns a2 "$NETNS_TMP/ping.log" ping -D -n -i 0.01 -c 1000 -w 14 10.2.0.12
ping_pid=$LAST_PID
sleep 3
cut_direct || fail "cannot add the nftables rule"
cut=$(now_s)
check "the trunk moves to the relay (A)" wait_trunk_path a "relayed to $RELAY" 5
check "the trunk moves to the relay (B)" wait_trunk_path b "relayed to $RELAY" 5
wait "$iperf_cli"
iperf_rc=$?
reap_pid "$ping_pid"
stop_pid "$iperf_srv"
read -r gap lost <<<"$(ping_gap "$NETNS_TMP/ping.log" "$cut")"
sum=$(python3 -c 'import json,sys
j = json.load(open(sys.argv[1]))
e = j.get("end", {})
print(j.get("error", "-"), int(e.get("sum_received", {}).get("bytes", 0)),
      e.get("sum_sent", {}).get("retransmits", "?"))' "$NETNS_TMP/iperf-a1.json" 2>&1)
read -r iperf_err iperf_bytes iperf_retr <<<"$sum"
echo "failover gap: ${gap} ms from the cut to the first ping reply through the relay" \
	"($lost of the 10 ms pings lost); iperf3: $iperf_bytes bytes, $iperf_retr retransmits"
grep -h "path changed" "$NETNS_TMP/secondary-a.log" "$NETNS_TMP/secondary-b.log"
check "the TCP transfer completed without a reset (iperf3 rc $iperf_rc, error '$iperf_err')" \
	test "$iperf_rc" = 0 -a "$iperf_err" = "-" -a "${iperf_bytes:-0}" -gt 0
check "the gap was measured and is under 2 s ($gap ms)" test "$gap" -ge 0 -a "$gap" -lt 2000
check "a path notice said failover, with the silence measured" \
	grep -Eq "path changed, relayed to $RELAY: failover: nothing authenticated over the direct ($GW_A|$GW_B):[0-9]+ for [0-9]+ ms" \
	"$NETNS_TMP/secondary-a.log" "$NETNS_TMP/secondary-b.log"
check "the trunk never ended: the same calls on A" test "$(call_ids a)" = "$ids_a"
check "and on B" test "$(call_ids b)" = "$ids_b"
check "and the same auxiliaries" test "$(aux_pids a | sort | tr '\n' ' ')" = "$aux_a" \
	-a "$(aux_pids b | sort | tr '\n' ' ')" = "$aux_b"
check "the trunk still carries traffic" pings a2 10.2.0.12 3

# ---- the direct path returns: back after the hold ----
restore_direct
back=$(now_s)
check "the trunk goes back to direct (A)" wait_trunk_path a "direct to $GW_B:" 15
took=$(python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" \
	"$back" "$(now_s)")
check "and B" wait_trunk_path b "direct to $GW_A:" 5
echo "back to direct ${took} ms after the rule went (hold ${took} >= 2000 expected)"
grep -h "path changed" "$NETNS_TMP/secondary-a.log" "$NETNS_TMP/secondary-b.log" | tail -n 2
check "not before the hold (2 s of steady answers)" test "$took" -ge 2000
check "a notice said why it came back" grep -Eqh \
	"path changed, direct to [0-9.:]+: (the direct [0-9.:]+ answered [0-9]+ probes in a row over [0-9]+ ms: back from the relay|the peer's frames now come over the direct)" \
	"$NETNS_TMP/secondary-a.log" "$NETNS_TMP/secondary-b.log"
check "the same calls still" test "$(call_ids a)" = "$ids_a" -a "$(call_ids b)" = "$ids_b"
check "traffic through the trunk" pings a2 10.2.0.12 3

# ---- a UDP call beside the trunk ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 5000 --timeout 60
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "a UDP call goes up" contains "$out" " up "
call=$(call_id_of "$out")
check "it carries datagrams" in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 500
cut_direct || fail "cannot add the nftables rule"
# Traffic makes the silence visible: datagrams keep going while the path moves.
in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 30 --size 200 >/dev/null 2>&1
check "the UDP call moves to the relay" \
	grep -Eq "call $call: path changed, relayed to $RELAY: (failover|the peer's frames)" \
	"$NETNS_TMP/secondary-a.log" "$NETNS_TMP/secondary-b.log"
check "and carries datagrams through it, not ended" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 500
check "the same call ($call)" contains "$(insel_as a1 alice calls 2>&1)" "$call"
restore_direct
insel_as a1 alice hangup "$call" >/dev/null 2>&1
finish_checks
