#!/usr/bin/env bash
# NAT test bed (issue 12): the topology of lib.sh with a router namespace between each
# site's gateway and the simulated Internet, so that a gateway has no public address and
# the router's nftables rules decide what the Internet sees of it: the behaviours real
# home routers and carrier NATs have, a link of small MTU, UDP blocked, and a rebinding
# (the router forgets its mappings) on demand. Everything lives in namespaces of this
# run ($NS prefix); the root namespace gets nothing.
#
# Use:  source lib.sh; source insel_env.sh; source nat_lib.sh; netns_begin
#       nat_internet; nat_site a 1 preserve a1 a2; nat_site b 2 none b1 b2; insel_deploy
#
# Layout (names carry the prefix $NS):
#   ${NS}principal 198.18.0.2/24 --- ${NS}wan 198.18.0.1   (the principal, its STUN port)
#   ${NS}nat-X  public side 198.18.N.2/24 --- ${NS}wan 198.18.N.1
#               inside 100.64.N.1/24 --- ${NS}gw-X 100.64.N.2/24   (a NAT kind)
#               inside 198.18.(100+N).1/24 --- ${NS}gw-X 198.18.(100+N).2/24   (kind none:
#               the router only routes, the gateway has a public address)
#   ${NS}gw-X   LAN 10.N.0.1/24 with its hosts, as lib.sh's topo_site
#   nat_internet_host NAME M: another machine of the Internet at 198.18.M.2 (a STUN server,
#               an attacker); M from 3 to 99.
# Interfaces: in nat-X "v-wan" (public) and "v-gw-X" (inside); in gw-X "v-nat-X".
#
# NAT kinds (the router's table "ip insel_nat"):
#   none          no translation: the gateway is on the Internet behind a plain router.
#   preserve      `masquerade`: a mapping keeps the gateway's port when it is free, the same
#                 for every destination (endpoint-independent mapping); inbound only on a
#                 mapping's own 5-tuple (address- and port-dependent filtering): the common
#                 home router; hole punching needs both sides to send.
#   eim           endpoint-independent mapping AND filtering ("full cone") that moves the
#                 port: UDP is translated statelessly, the port XOR 0x2000 (so a peer must
#                 use the address STUN saw, never guess the gateway's own port); TCP is
#                 masqueraded (the gateway still cannot be dialled).
#   random        `masquerade random`: each destination gets its own port, chosen by a hash
#                 (endpoint-dependent, "symmetric"): what forces a relay.
#   fully-random  `masquerade fully-random`: each new mapping gets a random port.
# Orthogonal to the kind: nat_block_udp X on|off (UDP dropped both ways through the
# router), nat_mtu X MTU [blackhole] (the public link's MTU; blackhole: no ICMP "too big"
# and no fragmentation on that link, oversize packets silently vanish), nat_rebind X.

declare -A NAT_KIND   # NAT_KIND[X]: site X's NAT kind
declare -A NAT_SITE_N # NAT_SITE_N[X]: site X's number
declare -A NAT_EPOCH  # NAT_EPOCH[X]: how many times site X's mappings were rebound
NAT_XOR_PORT=0x2000   # the eim kind's port translation (0x4000 after an odd rebinding)
STUN_QUERY=${STUN_QUERY:-$INSEL_BUILD/tests/integration/stun-query}

# The test bed's NATs are nftables rules: without nft, a test of it is skipped.
nat_require_nft() {
	command -v nft >/dev/null || { echo "SKIP: nft is not installed" >&2; exit 77; }
}

# What the principal's connect-back check found of LAN's secondary, as the directory's
# LAN listing says it: true, false, or null while not known.
nat_reachable_of() {  # nat_reachable_of LAN
	pdir lan list --json | python3 -c '
import json, sys
for lan in json.load(sys.stdin):
    if lan["name"] == sys.argv[1]:
        print(json.dumps(lan.get("reachable")))' "$1"
}
# Waits (6 s at most: the check answers within its 3 s time-out) for it to say VALUE.
nat_wait_reachable() {  # nat_wait_reachable LAN VALUE
	for _ in $(seq 1 60); do
		[ "$(nat_reachable_of "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# The simulated Internet: the wan router and the principal's namespace on it.
nat_internet() {
	ns_add wan
	enable_forwarding wan
	ns_add principal
	link_ns wan 198.18.0.1/24 principal 198.18.0.2/24
	ip -n "${NS}principal" route add default via 198.18.0.1
}

# Another machine on the Internet: ${NS}NAME at 198.18.M.2/24, the wan at 198.18.M.1.
nat_internet_host() {  # nat_internet_host NAME M
	ns_add "$1"
	link_ns wan "198.18.$2.1/24" "$1" "198.18.$2.2/24"
	ip -n "${NS}$1" route add default via "198.18.$2.1"
}

# A site behind a router: the router ${NS}nat-X, the gateway ${NS}gw-X, its LAN and hosts;
# its secondary's WAN address (insel_env.sh's wan_addr) is the gateway's.
nat_site() {  # nat_site LETTER N KIND HOST...
	local x=$1 n=$2 kind=$3 inside gwaddr
	shift 3
	case "$kind" in
	none | preserve | eim | random | fully-random) ;;
	*) fail "nat_site: unknown NAT kind $kind" ;;
	esac
	NAT_SITE_N[$x]=$n
	NAT_KIND[$x]=$kind
	NAT_EPOCH[$x]=0
	ns_add "nat-$x"
	ns_add "gw-$x"
	enable_forwarding "nat-$x"
	link_ns wan "198.18.$n.1/24" "nat-$x" "198.18.$n.2/24"
	ip -n "${NS}nat-$x" route add default via "198.18.$n.1"
	if [ "$kind" = none ]; then
		inside="198.18.$((100 + n))"
		ip -n "${NS}wan" route add "$inside.0/24" via "198.18.$n.2"
	else
		inside="100.64.$n"
	fi
	gwaddr="$inside.2"
	link_ns "nat-$x" "$inside.1/24" "gw-$x" "$gwaddr/24"
	ip -n "${NS}gw-$x" route add default via "$inside.1"
	INSEL_WAN_ADDR[$n]=$gwaddr
	site_lan "$x" "$n" "v-nat-$x" "$@"
	nat_rules "$x"
}

# The two sites of insel_env.sh's deployment, behind routers of the kinds given.
nat_two_sites() {  # nat_two_sites KIND-A KIND-B
	nat_internet
	nat_site a 1 "$1" a1 a2
	nat_site b 2 "$2" b1 b2
}

nat_public_addr() { echo "198.18.${NAT_SITE_N[$1]}.2"; }  # the router's public address
nat_gateway_addr() { wan_addr "${NAT_SITE_N[$1]}"; }       # the gateway's own
nat_kind() { echo "${NAT_KIND[$1]}"; }

# The router's translation for site X's kind, installed in one nft transaction (the old
# table goes in the same step, so no packet sees a router without rules). An odd epoch
# (after nat_rebind) moves every new UDP mapping elsewhere: masquerading kinds to ports
# 20000-29999, eim to the other port XOR.
nat_rules() {  # nat_rules LETTER
	local x=$1 n=${NAT_SITE_N[$1]} kind epoch=${NAT_EPOCH[$1]} gw pub flags="" range=""
	kind=$(nat_kind "$x")
	gw=$(nat_gateway_addr "$x")
	pub=$(nat_public_addr "$x")
	[ $((epoch % 2)) -eq 1 ] && range=" to :20000-29999"
	case "$kind" in
	random) flags=" random" ;;
	fully-random) flags=" fully-random" ;;
	esac
	{
		echo "table ip insel_nat {}"
		echo "delete table ip insel_nat"
		echo "table ip insel_nat {"
		if [ "$kind" = eim ]; then
			local xor=$NAT_XOR_PORT
			[ $((epoch % 2)) -eq 1 ] && xor=0x4000
			cat <<NFT
	chain stateless_in {
		type filter hook prerouting priority raw;
		iifname "v-gw-$x" ip saddr $gw meta l4proto udp notrack
		iifname "v-wan" ip daddr $pub meta l4proto udp notrack ip daddr set $gw udp dport set udp dport ^ $xor
	}
	chain stateless_out {
		type filter hook postrouting priority srcnat;
		oifname "v-wan" ip saddr $gw meta l4proto udp ip saddr set $pub udp sport set udp sport ^ $xor
	}
NFT
		fi
		if [ "$kind" != none ]; then
			cat <<NFT
	chain post {
		type nat hook postrouting priority srcnat;
		oifname "v-wan" ip saddr 100.64.$n.0/24 meta l4proto udp masquerade$range$flags
		oifname "v-wan" ip saddr 100.64.$n.0/24 masquerade$flags
	}
NFT
		fi
		echo "}"
	} | in_ns "nat-$x" nft -f - || fail "cannot install the NAT rules of site $x"
}

# Changes site X's NAT kind (any but none, which needs other addresses) and forgets the
# mappings made under the old one, unless "keep" (running connections keep theirs).
nat_set_kind() {  # nat_set_kind LETTER KIND [keep]
	[ "$(nat_kind "$1")" != none ] && [ "$2" != none ] ||
		fail "nat_set_kind: a site cannot change to or from kind none"
	NAT_KIND[$1]=$2
	nat_rules "$1"
	[ "${3:-}" = keep ] || nat_flush "$1"
}

# The router forgets every mapping (its connection tracking table).
nat_flush() { in_ns "nat-$1" conntrack -F >/dev/null 2>&1 || true; }

# A rebinding: the router forgets its UDP mappings and makes the next ones with other
# ports (a carrier's UDP mapping time-out, shorter than TCP's), so a gateway's public UDP
# port changes under a running call while its TCP connections (the signalling) stay.
nat_rebind() {  # nat_rebind LETTER
	NAT_EPOCH[$1]=$((NAT_EPOCH[$1] + 1))
	nat_rules "$1"
	in_ns "nat-$1" conntrack -D -p udp >/dev/null 2>&1 || true
}

# The router's UDP mappings as conntrack lists them (for the logs).
nat_mappings() { in_ns "nat-$1" conntrack -L -p udp 2>/dev/null || true; }

# UDP through site X's router dropped both ways (a firewall that allows only TCP), or
# allowed again.
nat_block_udp() {  # nat_block_udp LETTER on|off
	local rules="table ip insel_block {}
delete table ip insel_block"
	if [ "$2" = on ]; then
		rules+="
table ip insel_block {
	chain forward_filter {
		type filter hook forward priority filter;
		meta l4proto udp counter drop
	}
}"
	fi
	in_ns "nat-$1" nft -f - <<<"$rules" || fail "cannot change site $1's UDP filter"
}

# The MTU of the link between site X's router and the Internet (both ends). With
# "blackhole", packets over it vanish without a trace: the router and the wan drop them
# (those with DF set as the kernel does, the others rather than fragment them) and send
# no ICMP "fragmentation needed" (the wan's rule holds
# for every site: Internet routers that filter ICMP); like such routers, site X's clamps
# the MSS of TCP SYNs crossing it, so that TCP (the secondaries' TLS) still works.
nat_mtu() {  # nat_mtu LETTER MTU [blackhole]   (again to change it; without blackhole
	local x=$1 mtu=$2 router wan  #                 the link is honest again)
	ip -n "${NS}nat-$x" link set v-wan mtu "$mtu"
	ip -n "${NS}wan" link set "v-nat-$x" mtu "$mtu"
	router="table ip insel_mtu {}
delete table ip insel_mtu"
	wan="table ip insel_mtu_$x {}
delete table ip insel_mtu_$x"
	if [ "${3:-}" = blackhole ]; then
		router+="
table ip insel_mtu {
	chain forward_filter {
		type filter hook forward priority filter;
		oifname \"v-wan\" ip frag-off & 0x4000 == 0 ip length > $mtu counter drop
		tcp flags syn tcp option maxseg size > $((mtu - 40)) tcp option maxseg size set $((mtu - 40))
	}
	chain output_filter {
		type filter hook output priority filter;
		icmp type destination-unreachable icmp code frag-needed counter drop
	}
}"
		wan+="
table ip insel_mtu_$x {
	chain forward_filter {
		type filter hook forward priority filter;
		oifname \"v-nat-$x\" ip frag-off & 0x4000 == 0 ip length > $mtu counter drop
	}
	chain output_filter {
		type filter hook output priority filter;
		icmp type destination-unreachable icmp code frag-needed counter drop
	}
}"
	fi
	in_ns "nat-$x" nft -f - <<<"$router" && in_ns wan nft -f - <<<"$wan" ||
		fail "cannot change site $x's link MTU rules"
}

# ---- what the NAT tests look at (insel_env.sh's deployment) ----

# path_of SITE CALL FIELD: the call's path field (data, remote, signalling, reason) as
# gateway X's operator sees it.
path_of() {
	insel_operator "$1" calls --json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip().startswith("{"):
        for c in json.loads(line).get("calls", []):
            if c.get("id") == sys.argv[1]:
                print(c.get("path", {}).get(sys.argv[2], ""))' "$2" "$3"
}

# iperf_through LABEL SERVER-HOST ADDR PORT [SECONDS]: an iperf3 TCP transfer to a server
# on SERVER-HOST from the other site's first host (a1 or b1), checked and summed up.
iperf_through() {
	local label=$1 server=$2 addr=$3 port=$4 secs=${5:-2} client=a1 pid out rate
	[ "${server:0:1}" = a ] && client=b1
	spawn_in_ns "$server" "$NETNS_TMP/iperf-s-$port.log" iperf3 -s -1 -p "$port"
	pid=$LAST_PID
	# Under ASan beside other work the server took seconds to listen; its set-up and the
	# results' exchange get their own 30 s beyond the measuring time.
	wait_port "$server" "$port" tcp 20
	out=$(in_ns "$client" timeout $((secs + 30)) iperf3 -c "$addr" -p "$port" -t "$secs" -J 2>&1)
	stop_pid "$pid"
	rate=$(python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]["sum_received"]
print("%d bytes, %.0f Mbit/s" % (e["bytes"], e["bits_per_second"] / 1e6))' <<<"$out" 2>/dev/null)
	check "$label ($client -> $addr: ${rate:-failed})" test -n "$rate"
	[ -n "$rate" ] || { echo "iperf3 said: ${out:0:2000}"; cat "$NETNS_TMP/iperf-s-$port.log"; }
}

# ---- which parts of issue 12 this tree has ----
# A scenario that needs a part still being built prints SKIP with the reason instead of
# running (each part is known by what it brings to the tree).
NAT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAT_SKIPPED=0
nat_feature() {  # nat_feature NAME
	case "$1" in
	discover) [ -f "$NAT_TOP/auxiliary/discover.c" ] ;;  # STUN at bind: srflx candidates
	probe) [ -f "$NAT_TOP/auxiliary/path.c" ] ;;         # probes; "up" once proven
	punch) nat_feature discover && nat_feature probe &&  # the peer's candidates probed
		grep -qs peer_cand "$NAT_TOP"/auxiliary/*.c ;;
	reverse) [ -f "$NAT_TOP/principal/splice.c" ] ;;     # connection reversal, splicing
	relay) [ -d "$NAT_TOP/relay" ] &&                     # the relay, and auxiliaries
		[ -f "$NAT_TOP/auxiliary/relay_leg.c" ] ;;       # registering their legs
	tcp_fallback) grep -qs relay_stream "$NAT_TOP"/auxiliary/*.c ;;
	pmtud) [ -f "$NAT_TOP/auxiliary/pmtu.c" ] ;;         # path MTU discovery
	*) return 1 ;;
	esac
}
nat_needs() {  # nat_needs SCENARIO FEATURE...: true if all are there, else says SKIP
	local what=$1 f missing=()
	shift
	for f in "$@"; do
		nat_feature "$f" || missing+=("$f")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	echo "SKIP - $what: waits for ${missing[*]}"
	NAT_SKIPPED=$((NAT_SKIPPED + 1))
	return 1
}

# ---- STUN from inside the topology ----

# One Binding exchange from namespace NAME (tests/integration/stun_query.c), from LOCAL
# (ADDRESS:PORT) if given: prints "mapped ADDR:PORT local ADDR:PORT[ fingerprint]".
stun_query_from() {  # stun_query_from NAME SERVER [LOCAL]
	in_ns "$1" "$STUN_QUERY" "$2" ${3:+"$3"}
}
mapped_of() { sed -n 's/^mapped \([^ ]*\) .*/\1/p' <<<"$1"; }  # mapped_of "$(stun_query_from ..)"

# coturn's turnserver as a plain STUN server in namespace NAME on ADDRESS:3478, its PID in
# $COTURN_PID; returns 1 (after saying why) when turnserver is missing or did not start.
coturn_start() {  # coturn_start NAME ADDRESS
	local conf=$NETNS_TMP/turnserver-$1.conf
	command -v turnserver >/dev/null || { echo "turnserver is not installed" >&2; return 1; }
	cat >"$conf" <<EOF
listening-ip=$2
relay-ip=$2
listening-port=3478
stun-only
no-tcp
no-tls
no-dtls
no-cli
log-file=$NETNS_TMP/turnserver-$1.log
pidfile=$NETNS_TMP/turnserver-$1.pid
userdb=$NETNS_TMP/turndb-$1
EOF
	spawn_in_ns "$1" "$NETNS_TMP/turnserver-$1.out" turnserver -c "$conf"
	COTURN_PID=$LAST_PID
	wait_port "$1" 3478 udp 10
}
