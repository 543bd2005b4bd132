#!/usr/bin/env bash
# Shared helpers for integration tests and the demo: a per-run set of network namespaces
# standing for a principal, a simulated Internet ("wan", 198.18.0.0/15) and sites with a
# gateway and hosts on 10.N.0.0/24. Everything lives in namespaces this run creates; the
# root namespace gets no address, route or rule, and sends nothing.
#
# Use:  source tests/netns/lib.sh; netns_begin; topo_two_sites; ...; (cleanup is trapped)
#
# Layout made by topo_two_sites (names carry the per-run prefix $NS, e.g. insel-1234-):
#   ${NS}principal  198.18.0.2/24 --- ${NS}wan 198.18.0.1
#   ${NS}gw-a       198.18.1.2/24 --- ${NS}wan 198.18.1.1    LAN 10.1.0.1/24
#   ${NS}gw-b       198.18.2.2/24 --- ${NS}wan 198.18.2.1    LAN 10.2.0.1/24
#   ${NS}a1 10.1.0.11, ${NS}a2 10.1.0.12 on gw-a's LAN; ${NS}b1 10.2.0.11, ${NS}b2 10.2.0.12
# Inside each site only, IPv6 ULA addresses as well: LAN fd0N::/64 with the gateway at
# fd0N::1 and the hosts at fd0N::11, fd0N::12 (no DAD, so they are usable at once). The
# wan stays IPv4: no IPv6 address or route leaves a site.
# The wan routes only 198.18.0.0/15, so LAN A and LAN B cannot reach each other except
# through insel.

NS="insel-$$-"
NETNS_LIST=()
NETNS_PIDS=()
NETNS_TMP=""
NETNS_ETC_MADE=""

netns_cleanup() {
	local pid ns
	for pid in "${NETNS_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${NETNS_PIDS[@]}"; do
		reap_pid "$pid"
	done
	for ns in "${NETNS_LIST[@]}"; do
		ip netns delete "$ns" 2>/dev/null || true
		rm -rf "/etc/netns/$ns"
	done
	# Not an `&&` list: under set -e a failing last command of one ends the trap with 1.
	if [ -n "$NETNS_ETC_MADE" ] && [ -d /etc/netns ]; then
		rmdir /etc/netns 2>/dev/null || true   # another run may still use it
	fi
	if [ -n "$NETNS_TMP" ]; then
		if [ -n "${INSEL_KEEP_LOGS:-}" ]; then
			mkdir -p "$INSEL_KEEP_LOGS" && cp "$NETNS_TMP"/*.log "$INSEL_KEEP_LOGS/" 2>/dev/null
		fi
		rm -rf "$NETNS_TMP"
	fi
}

# Starts a run: temp dir, clean-up on every exit path.
netns_begin() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: network namespace tests need root" >&2
		exit 77
	fi
	NETNS_TMP=$(mktemp -d /tmp/insel-test.XXXXXX)
	[ -d /etc/netns ] || NETNS_ETC_MADE=1  # ns_etc may make it; removed if left empty
	trap netns_cleanup EXIT
	trap 'exit 130' INT TERM
}

ns_add() {  # ns_add NAME: creates ${NS}NAME with loopback up
	ip netns add "${NS}$1"
	NETNS_LIST+=("${NS}$1")
	ip -n "${NS}$1" link set lo up
}

# ns_etc NAME FILE: standard input becomes /etc/FILE (hosts, resolv.conf) for what runs in
# ${NS}NAME from now on: ip netns exec mounts /etc/netns/NS/FILE over it. Written again in
# place, processes already running there see the new text. Removed at clean-up.
ns_etc() {
	mkdir -p "/etc/netns/${NS}$1"
	cat >"/etc/netns/${NS}$1/$2"
}

in_ns() {  # in_ns NAME CMD...: runs CMD inside ${NS}NAME
	local name=$1
	shift
	ip netns exec "${NS}${name}" "$@"
}

# Runs CMD in the background inside a namespace and records its PID for clean-up; the
# PID is left in $LAST_PID.
spawn_in_ns() {  # spawn_in_ns NAME LOGFILE CMD...
	local name=$1 log=$2
	shift 2
	ip netns exec "${NS}${name}" "$@" >"$log" 2>&1 &
	LAST_PID=$!
	NETNS_PIDS+=("$LAST_PID")
}

# Stops one process that spawn_in_ns started (SIGTERM, then SIGKILL after a second).
stop_pid() {
	kill "$1" 2>/dev/null || true
	reap_pid "$1"
}

# Gives a process that was asked to stop a second, then insists, and reaps it.
reap_pid() {
	local pid=$1
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

link_ns() {  # link_ns NS1 ADDR1/LEN NS2 ADDR2/LEN : veth pair between two namespaces
	local a=$1 aaddr=$2 b=$3 baddr=$4
	local ifa="v-${b}" ifb="v-${a}"
	ip link add "${ifa:0:15}" netns "${NS}$a" type veth peer name "${ifb:0:15}" netns "${NS}$b"
	ip -n "${NS}$a" addr add "$aaddr" dev "${ifa:0:15}"
	ip -n "${NS}$b" addr add "$baddr" dev "${ifb:0:15}"
	ip -n "${NS}$a" link set "${ifa:0:15}" up
	ip -n "${NS}$b" link set "${ifb:0:15}" up
}

enable_forwarding() {  # enable_forwarding NAME
	in_ns "$1" sysctl -qw net.ipv4.ip_forward=1
	in_ns "$1" sysctl -qw net.ipv6.conf.all.forwarding=1
}

# A site: gateway ns gw-X on the wan as 198.18.N.2, and a LAN bridge "lan" in the gateway
# holding 10.N.0.1/24, with one veth per host.
topo_site() {  # topo_site LETTER N HOST...
	local x=$1 n=$2
	shift 2
	ns_add "gw-$x"
	link_ns wan "198.18.$n.1/24" "gw-$x" "198.18.$n.2/24"
	ip -n "${NS}gw-$x" route add default via "198.18.$n.1"
	site_lan "$x" "$n" v-wan "$@"
}

# The inside of site X, whose gateway ns gw-X exists and has its uplink: forwarding, the
# LAN bridge "lan" (10.N.0.1/24, fd0N::1/64), one host namespace per HOST, and the
# gateway's masquerade of its LAN out of UPLINK (tests/netns/nat_lib.sh puts a NAT router
# there instead of the wan).
site_lan() {  # site_lan LETTER N UPLINK HOST...
	local x=$1 n=$2 uplink=$3 h i=11 gw="${NS}gw-$1"
	shift 3
	enable_forwarding "gw-$x"
	ip -n "$gw" link add lan type bridge
	ip -n "$gw" addr add "10.$n.0.1/24" dev lan
	ip -n "$gw" addr add "fd0$n::1/64" dev lan nodad
	ip -n "$gw" link set lan up
	for h in "$@"; do
		ns_add "$h"
		ip link add "p-$h" netns "$gw" type veth peer name eth0 netns "${NS}$h"
		ip -n "$gw" link set "p-$h" master lan up
		ip -n "${NS}$h" addr add "10.$n.0.$i/24" dev eth0
		ip -n "${NS}$h" link set eth0 up
		ip -n "${NS}$h" route add default via "10.$n.0.1"
		ip -n "${NS}$h" addr add "fd0$n::$i/64" dev eth0 nodad
		ip -n "${NS}$h" -6 route add default via "fd0$n::1"
		i=$((i + 1))
	done
	# Like any site router, the gateway hides its LAN behind its public address.
	in_ns "gw-$x" nft -f - <<NFT
table ip insel_nat {
	chain post {
		type nat hook postrouting priority srcnat;
		ip saddr 10.$n.0.0/24 oifname "$uplink" masquerade
	}
}
NFT
}

topo_two_sites() {
	ns_add wan
	enable_forwarding wan
	ns_add principal
	link_ns wan 198.18.0.1/24 principal 198.18.0.2/24
	ip -n "${NS}principal" route add default via 198.18.0.1
	topo_site a 1 a1 a2
	topo_site b 2 b1 b2
}

# The ports bound in ${NS}NAME: TCP ones listening, or UDP ones, one a line.
bound_ports() {  # bound_ports NAME tcp|udp
	local flag=-ltnH
	[ "$2" = udp ] && flag=-lunH
	in_ns "$1" ss $flag | awk '{ n = split($4, a, ":"); print a[n] }'
}

# port_list PORTS: 5004, 5004,5005 or 7000-7049 (udp_tool.py's syntax), one a line.
port_list() {
	local part
	for part in ${1//,/ }; do
		if [[ "$part" == *-* ]]; then
			seq "${part%-*}" "${part#*-}"
		else
			echo "$part"
		fi
	done
}

# Waits until every one of PORTS is bound inside a namespace (bounded): a server started
# in the background is not there at once, and a datagram sent to it before it binds meets
# a closed port (the kernel drops it and answers port unreachable).
wait_port() {  # wait_port NAME PORTS [tcp|udp] [SECONDS]
	local name=$1 proto=${3:-tcp} secs=${4:-10} want missing=""
	want=$(port_list "$2" | sort -u)
	for _ in $(seq 1 $((secs * 10))); do
		missing=$(comm -23 <(echo "$want") <(bound_ports "$name" "$proto" | sort -u))
		[ -z "$missing" ] && return 0
		sleep 0.1
	done
	echo "timed out waiting for $proto port(s) $(echo $missing) in $name" >&2
	return 1
}

# Test assertions that print what failed and stop the test.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

pass() {
	echo "ok - $*"
}
