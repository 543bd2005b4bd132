#!/usr/bin/env bash
# Integration: endpoint discovery (docs/nat.md). Site A's gateway sits behind a NAT
# router (nftables masquerade, gateway 100.64.1.2, router 198.18.1.2 on the simulated
# Internet); site B's gateway has a public address; the principal answers STUN as it
# does by default, and coturn (when installed) runs on another machine of the Internet.
#   - alice (behind the NAT) calls bob: her call's auxiliary learns a srflx candidate at
#     the router's public address from the principal, her secondary logs it with its host
#     candidate, bob's secondary receives both in the offer, and the call carries
#     datagrams both ways;
#   - the principal answers on two ports (3478, 3480): behind masquerade both see one
#     endpoint ("independent"), behind `masquerade random` two ("dependent");
#   - bob's side, with a public address, sees mapping "none" when asked two servers;
#   - with coturn as a second server behind an endpoint-independent NAT (masquerade): both
#     see the same endpoint, "independent"; with `masquerade random` (a port per
#     destination): "dependent";
#   - with [nat] stun = off, a call still works and no discovery is logged;
#   - a STUN server that does not answer delays bind by stun_timeout at most.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin

# ---- the topology: the Internet, site B as lib.sh makes it, site A behind a router ----
ns_add wan
enable_forwarding wan
ns_add principal
link_ns wan 198.18.0.1/24 principal 198.18.0.2/24
ip -n "${NS}principal" route add default via 198.18.0.1
topo_site b 2 b1

ns_add nat-a
enable_forwarding nat-a
link_ns wan 198.18.1.1/24 nat-a 198.18.1.2/24
ip -n "${NS}nat-a" route add default via 198.18.1.1
ns_add gw-a
enable_forwarding gw-a
link_ns nat-a 100.64.1.1/24 gw-a 100.64.1.2/24
ip -n "${NS}gw-a" route add default via 100.64.1.1
ip -n "${NS}gw-a" link add lan type bridge
ip -n "${NS}gw-a" addr add 10.1.0.1/24 dev lan
ip -n "${NS}gw-a" link set lan up
ns_add a1
ip link add p-a1 netns "${NS}gw-a" type veth peer name eth0 netns "${NS}a1"
ip -n "${NS}gw-a" link set p-a1 master lan up
ip -n "${NS}a1" addr add 10.1.0.11/24 dev eth0
ip -n "${NS}a1" link set eth0 up
ip -n "${NS}a1" route add default via 10.1.0.1

# The router: what leaves toward the Internet takes its public address. flags "" keeps
# one mapping per socket for every destination; " random" gives each destination its own.
nat_rules() {  # nat_rules FLAGS
	in_ns nat-a nft -f - <<NFT || fail "cannot install the NAT rules"
table ip insel_nat {}
delete table ip insel_nat
table ip insel_nat {
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "v-wan" ip saddr 100.64.1.0/24 masquerade$1
	}
}
NFT
	# UDP mappings go (a new call's socket may get the port of the last call's, whose
	# mapping would otherwise stand); TCP ones stay (the secondary's own connections).
	in_ns nat-a conntrack -D -p udp >/dev/null 2>&1 || true
}
nat_rules ""

# A machine of the Internet for coturn.
ns_add stun
link_ns wan 198.18.3.1/24 stun 198.18.3.2/24
ip -n "${NS}stun" route add default via 198.18.3.1
coturn=""
if command -v turnserver >/dev/null; then
	cat >"$NETNS_TMP/turnserver.conf" <<EOF
listening-ip=198.18.3.2
relay-ip=198.18.3.2
listening-port=3478
stun-only
no-tcp
no-tls
no-dtls
no-cli
log-file=$NETNS_TMP/turnserver.log
pidfile=$NETNS_TMP/turnserver.pid
userdb=$NETNS_TMP/turndb
EOF
	spawn_in_ns stun "$NETNS_TMP/turnserver.out" turnserver -c "$NETNS_TMP/turnserver.conf"
	wait_port stun 3478 udp 10 && coturn=198.18.3.2:3478
fi

# ---- the deployment: site A's secondary on its private address ----
INSEL_USERS="alice@lan-a bob@lan-b"
insel_pki
insel_directory
start_principal
wait_port principal 3478 udp 10 || fail "the principal does not answer STUN"
write_secondary_config a 1
sed -i 's/^listen = 198\.18\.1\.2:/listen = 100.64.1.2:/' "$NETNS_TMP/secondary-a.conf"
write_secondary_config b 2
nat_config() {  # nat_config LETTER STUN-VALUE: sets [nat] stun (and a short time-out)
	sed -i '/^\[nat\]/,$d' "$NETNS_TMP/secondary-$1.conf"
	printf '[nat]\nstun = %s\nstun_timeout = 600ms\n' "$2" >>"$NETNS_TMP/secondary-$1.conf"
}
nat_config a principal
nat_config b principal
start_secondary a 1
start_secondary b 2
wait_registered || fail "the secondaries did not register"

log_a=$NETNS_TMP/secondary-a.log
log_b=$NETNS_TMP/secondary-b.log
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100000 \
	--timeout 120

# The secondary's log line for call ID: "call ID: candidates ...; NAT mapping M".
discovered() { grep "call $2: candidates" "$1" | tail -n 1; }
restart_with() {  # restart_with LETTER N STUN-VALUE
	stop_pid "${SECONDARY_PID[$1]}"
	nat_config "$1" "$3"
	: >"$NETNS_TMP/secondary-$1.log"
	start_secondary "$1" "$2"
	wait_secondary_registered "$1"
}
call_bob() {  # call_bob: alice calls bob; the call's id in $call, or fails
	local out
	out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
	call=$(call_id_of "$out")
	contains "$out" " up " || { echo "$out"; return 1; }
}
carries() {
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 10 --size 500
}

# ---- behind the NAT: a srflx candidate at the router's public address ----
grep -q "the principal answers STUN at 198.18.0.2:3478" "$log_a" ||
	fail "site A did not learn the principal's STUN endpoint from its registration"
check "alice calls bob from behind the NAT" call_bob
line=$(discovered "$log_a" "$call")
echo "A: $line"
check "A's call has its host candidate on the private address" \
	grep -Eq "candidates host 100\.64\.1\.2:[0-9]+" <<<"$line"
check "A's call has a srflx candidate at the router's public address" \
	grep -Eq "srflx 198\.18\.1\.2:[0-9]+" <<<"$line"
check "the principal's two ports see one endpoint: mapping independent" \
	grep -q "NAT mapping independent" <<<"$line"
peer_line=$(grep "call $call: the peer's candidates" "$log_b" | tail -n 1)
echo "B: $peer_line"
check "B receives A's host and srflx candidates in the offer" \
	grep -Eq "host 100\.64\.1\.2:[0-9]+, srflx 198\.18\.1\.2:[0-9]+" <<<"$peer_line"
line_b=$(discovered "$log_b" "$call")
check "B (a public address) has a host candidate and no srflx" \
	grep -Eq "candidates host 198\.18\.2\.2:[0-9]+; NAT mapping none" <<<"$line_b"
check "the call carries datagrams both ways" carries
insel_as a1 alice hangup "$call" >/dev/null 2>&1
nat_rules " random"
check "a call from behind a NAT with a port per destination" call_bob
line=$(discovered "$log_a" "$call")
echo "A: $line"
check "the principal's two ports alone tell it: mapping dependent" \
	grep -Eq "srflx 198\.18\.1\.2:[0-9]+, srflx 198\.18\.1\.2:[0-9]+; NAT mapping dependent" \
	<<<"$line"
insel_as a1 alice hangup "$call" >/dev/null 2>&1
nat_rules ""

# ---- two servers: coturn as well ----
if [ -n "$coturn" ]; then
	restart_with a 1 "principal, $coturn"
	check "a call with two STUN servers (the principal's, coturn)" call_bob
	line=$(discovered "$log_a" "$call")
	echo "A: $line"
	check "behind masquerade, both see the same endpoint: independent" \
		grep -Eq "srflx 198\.18\.1\.2:[0-9]+; NAT mapping independent" <<<"$line"
	check "the call carries datagrams" carries
	insel_as a1 alice hangup "$call" >/dev/null 2>&1
	nat_rules " random"
	check "a call behind a NAT with a port per destination" call_bob
	line=$(discovered "$log_a" "$call")
	echo "A: $line"
	check "two srflx candidates, mapping dependent" \
		grep -Eq "srflx 198\.18\.1\.2:[0-9]+, srflx 198\.18\.1\.2:[0-9]+; NAT mapping dependent" \
		<<<"$line"
	insel_as a1 alice hangup "$call" >/dev/null 2>&1
	nat_rules ""
else
	echo "SKIP: coturn checks (turnserver not installed; deploy/install-deps.sh installs it)"
fi

# ---- a server that never answers: bind waits stun_timeout, no longer ----
restart_with a 1 "principal, 198.18.3.2:9"
started=$(date +%s%N)
check "a call with a silent STUN server still comes up" call_bob
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
line=$(discovered "$log_a" "$call")
echo "A: $line (call set up in ${elapsed_ms} ms)"
check "the answering servers' srflx candidate is there (2 of 3 answered)" \
	grep -Eq "srflx 198\.18\.1\.2:[0-9]+; NAT mapping independent" <<<"$line"
check "set-up stayed within a few seconds" test "$elapsed_ms" -lt 5000
insel_as a1 alice hangup "$call" >/dev/null 2>&1

# ---- stun = off: no discovery, the call works as before ----
restart_with a 1 off
check "with stun = off, alice still calls bob" call_bob
check "and nothing was discovered" test -z "$(discovered "$log_a" "$call")"
peer_line=$(grep "call $call: the peer's candidates" "$log_b" | tail -n 1)
check "B sees A's endpoint alone as its host candidate (beside the principal's relay)" \
	grep -Eq "candidates: host 100\.64\.1\.2:[0-9]+(, relay 198\.18\.0\.2:3479)?$" <<<"$peer_line"
check "the call carries datagrams" carries
insel_as a1 alice hangup "$call" >/dev/null 2>&1

# ---- a configuration that names no usable server is refused at start ----
refused_config() {  # refused_config VALUE: the secondary will not start with stun = VALUE
	local conf=$NETNS_TMP/bad-nat.conf out
	sed '/^\[nat\]/,$d' "$NETNS_TMP/secondary-a.conf" >"$conf"
	printf '[nat]\nstun = %s\n' "$1" >>"$conf"
	out=$(in_ns gw-a timeout 10 "$S" run --config "$conf" 2>&1)
	[ $? -ne 0 ] && grep -q "nat: stun" <<<"$out"
}
check "stun = 198.18.0.2 (no port) is refused" refused_config 198.18.0.2
check "stun = [2001:db8::1]:3478 (not the WAN family) is refused" \
	refused_config "[2001:db8::1]:3478"
check "five servers are refused" refused_config "principal, 1.2.3.4:1, 1.2.3.4:2, 1.2.3.4:3, 1.2.3.4:4"

finish_checks
