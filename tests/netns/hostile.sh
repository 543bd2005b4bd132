#!/usr/bin/env bash
# Integration: hostile peers and clients against a running secondary (hostile.py speaks
# the protocols), and the secondary still serves a real call afterwards:
#   - peer port (lan-b's secondary, dialled by a program holding lan-a's certificate):
#     certificates of other roles (principal, operator tool, user, none) refused; requests before hello,
#     a second hello, a hangup of no call, a second call_request on one connection,
#     garbage JSON, a frame cut short, a 4 GiB length prefix, 5000 pipelined requests,
#     100 connections at once; a forged caller, a malformed call_request, and network
#     calls whose caller_gateway lies outside lan-a's prefixes in the directory;
#   - client port (TLS) and unix socket: the same kinds of abuse of the client protocol,
#     and certificates of other roles on the client port;
#   - the dialling side: a fake lan-b secondary sends requests only a dialled side may
#     send (refused) and answers a network call with a callee_gateway outside lan-b: the
#     caller's secondary ends the call and the client says why; another never answers
#     hello and hangs up late: the call ends (peer_down) and the secondary lives on;
#   - afterwards alice calls bob and bytes go through the call both ways; nothing is left
#     behind (auxiliaries, TUN interfaces, routes, rules).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
INSEL_DOWN_AFTER=60s  # lan-b stays "up" while a fake plays its secondary
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"
"$P" pki issue --dir "$PKI" --role user --name eve --out-cert "$PKI/user-eve.crt" \
	--out-key "$PKI/user-eve.key" >/dev/null
"$P" pki issue --dir "$PKI" --role operator --name ops --out-cert "$PKI/tool-ops.crt" \
	--out-key "$PKI/tool-ops.key" >/dev/null
HOSTILE=$here/hostile.py

hostile() {  # hostile NS LABEL ARGS...: runs hostile.py inside NS; its checks count here
	local ns=$1 label=$2 out
	shift 2
	out=$(in_ns "$ns" timeout 120 python3 "$HOSTILE" "$@" 2>&1)
	echo "$out"
	check "$label" grep -q '^0 failure(s)$' <<<"$out"
}

hostile gw-a "hostile peers on lan-b's peer port" peer 198.18.2.2 7445 "$PKI"
hostile b2 "hostile clients on lan-b's client port" client 10.2.0.1 7444 "$PKI"
hostile gw-b "hostile clients on lan-b's unix socket" unix "$NETNS_TMP/secondary-b.sock"
check "lan-b's secondary is still running" kill -0 "${SECONDARY_PID[b]}"
check "no auxiliary left on gw-b" wait_aux_count b 0 5

# ---- the dialling side against a fake callee secondary ----
stop_pid "${SECONDARY_PID[b]}"
spawn_in_ns gw-b "$NETNS_TMP/fake-callee.log" timeout 60 python3 "$HOSTILE" fake-callee \
	198.18.2.2 7445 "$PKI"
fake=$LAST_PID
wait_port gw-b 7445 tcp 10 || fail "the fake callee did not start"
out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
echo "$out"
check "the caller is told the callee's gateway lies outside its LAN" \
	contains "$out" "gateway_outside_lan"
wait "$fake" 2>/dev/null
cat "$NETNS_TMP/fake-callee.log"
check "the fake callee's checks pass" grep -q '^0 failure(s)$' "$NETNS_TMP/fake-callee.log"
check "the refused call's auxiliary is gone on gw-a" wait_aux_count a 0 5
check "and its TUN interface" bash -c "[ \$(ip -n ${NS}gw-a -o link show type tun | wc -l) -eq 0 ]"

spawn_in_ns gw-b "$NETNS_TMP/silent-callee.log" timeout 60 python3 "$HOSTILE" \
	silent-callee 198.18.2.2 7445 "$PKI"
fake=$LAST_PID
wait_port gw-b 7445 tcp 10 || fail "the silent callee did not start"
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "a callee secondary that never answers hello: the call ends (peer_down)" \
	contains "$out" "peer_down"
wait "$fake" 2>/dev/null
cat "$NETNS_TMP/silent-callee.log"
check "the silent callee's checks pass" grep -q '^0 failure(s)$' "$NETNS_TMP/silent-callee.log"
check "lan-a's secondary is still running after it hung up" kill -0 "${SECONDARY_PID[a]}"

# ---- afterwards a real call carries bytes ----
start_secondary b 2
check "lan-b's secondary registers again" wait_secondary_registered b
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100 --timeout 60
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "alice calls bob after all that" contains "$out" " up "
check "the call carries 1000-byte datagrams intact both ways" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 1000
insel_as a1 alice hangup "$(call_id_of "$out")" >/dev/null 2>&1
check "both auxiliaries exit" both wait_aux_count a 0 5 -- wait_aux_count b 0 5

check_tun_teardown
finish_checks
