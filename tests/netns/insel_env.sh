#!/usr/bin/env bash
# An insel deployment on the namespace topology of lib.sh, for tests and the demo:
# an organisation CA, a principal in ${NS}principal, and one secondary per site gateway,
# with users alice and carol on lan-a, bob and dave on lan-b (password "pw-<name>").
# Source lib.sh first, call netns_begin and topo_two_sites, then insel_deploy.

INSEL_BUILD=${INSEL_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
P=$INSEL_BUILD/principal/insel-principal
S=$INSEL_BUILD/secondary/insel-secondary
C=$INSEL_BUILD/client/insel
UDP_TOOL=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/udp_tool.py
DB=""
PKI=""
PRINCIPAL_PID=""
declare -A SECONDARY_PID

# Knobs a test may set before insel_deploy.
INSEL_HEARTBEAT=${INSEL_HEARTBEAT:-1s}
INSEL_DOWN_AFTER=${INSEL_DOWN_AFTER:-5s}
INSEL_KEEPALIVE=${INSEL_KEEPALIVE:-500ms}
INSEL_DEAD_AFTER=${INSEL_DEAD_AFTER:-2s}
INSEL_IDLE=${INSEL_IDLE:-120s}
INSEL_MAX_CALLS=${INSEL_MAX_CALLS:-64}
INSEL_AUX_UIDS=${INSEL_AUX_UIDS:-200000-200999}  # one uid of these per auxiliary
INSEL_REKEY_INTERVAL=${INSEL_REKEY_INTERVAL:-120s}
# The directory's users.
INSEL_USERS=${INSEL_USERS:-alice@lan-a carol@lan-a bob@lan-b dave@lan-b}
# Their password hashes: PBKDF2 with 1,000 iterations (the principal's minimum) instead
# of its default 600,000. The tests log in hundreds of times (netns-calls 109), each
# check of a default hash costs the principal about 0.1 s of CPU (seconds on a loaded
# host, against the gateway's 5 s wait for the answer), and the code run is the same at
# any count. INSEL_PASSWORD_ITERATIONS= (empty) keeps the default (the demo does).
INSEL_PASSWORD_ITERATIONS=${INSEL_PASSWORD_ITERATIONS-1000}
# INSEL_IPV6=1: the LANs have their IPv6 prefix (fd0N::/64) too, in the directory and in
# the secondaries' configurations (lan_address6 fd0N::1), and clients reach their gateway
# over IPv6 at [fd0N::1]:7444 instead of 10.N.0.1:7444.
INSEL_IPV6=${INSEL_IPV6:-}
# INSEL_LAN6_SITES="a b": those sites' LANs have their IPv6 prefix (fd0N::/64) in the
# directory and their secondaries' configurations (lan_address6 fd0N::1), while clients
# still reach them over IPv4.
INSEL_LAN6_SITES=${INSEL_LAN6_SITES:-}
# INSEL_PRINCIPAL_CONF=FILE: the principal also reads that configuration file (the flags
# above still win).
INSEL_PRINCIPAL_CONF=${INSEL_PRINCIPAL_CONF:-}
# INSEL_SECONDARY_EXTRA=TEXT: sections every secondary's configuration ends with
# (e.g. $'[metrics]\nlisten = 127.0.0.1:9461').
INSEL_SECONDARY_EXTRA=${INSEL_SECONDARY_EXTRA:-}

# Where everything listens: the namespace topology's addresses (lib.sh) unless a test
# places the deployment elsewhere (tests/integration/loopback.sh: 127.x.y.z, ports of
# its own). A format takes the site's number N: site N's LAN is FORMAT.0/24, with the
# gateway at .1 and the hosts at .11, .12; its secondary meets peers on its WAN address.
INSEL_LAN_FORMAT=${INSEL_LAN_FORMAT:-10.%d.0}
INSEL_WAN_FORMAT=${INSEL_WAN_FORMAT:-198.18.%d.2}
INSEL_PRINCIPAL_ADDR=${INSEL_PRINCIPAL_ADDR:-198.18.0.2}
INSEL_PRINCIPAL_PORT=${INSEL_PRINCIPAL_PORT:-7443}
INSEL_CLIENT_PORT=${INSEL_CLIENT_PORT:-7444}
INSEL_PEER_PORT=${INSEL_PEER_PORT:-7445}
# INSEL_CLIENT_SOURCE=1: clients name their host's address (--source), for hosts that
# are not namespaces of their own and so would connect from another address.
INSEL_CLIENT_SOURCE=${INSEL_CLIENT_SOURCE:-}

# INSEL_WAN_ADDR[N]: site N's WAN address when it is not the format's (a gateway behind
# a NAT router of tests/netns/nat_lib.sh has a private one).
declare -A INSEL_WAN_ADDR
lan_net() { printf "$INSEL_LAN_FORMAT" "$1"; }  # lan_net N: site N's LAN, less ".0"
wan_addr() {
	if [ -n "${INSEL_WAN_ADDR[$1]:-}" ]; then
		echo "${INSEL_WAN_ADDR[$1]}"
	else
		printf "$INSEL_WAN_FORMAT" "$1"
	fi
}
site_number() {  # site_number HOST|LETTER: 1 for a, a1, a2; 2 for b, b1, b2
	case "$1" in a*) echo 1 ;; *) echo 2 ;; esac
}
host_addr() {  # host_addr HOST: a1 -> site 1's .11, b2 -> site 2's .12 (as lib.sh)
	echo "$(lan_net "$(site_number "$1")").$((10 + ${1:1}))"
}

pdir() { "$P" "$@" --db "$DB"; }
# add_user NAME@LAN: the user, with the password pw-NAME hashed as the tests hash.
add_user() {
	echo "pw-${1%@*}" | pdir user add "$1" \
		${INSEL_PASSWORD_ITERATIONS:+--iterations "$INSEL_PASSWORD_ITERATIONS"} >/dev/null
}
ended_record() {  # ended_record CALL: its record (JSON) once its end is written, 5 s at most
	local i rec
	for i in $(seq 25); do
		rec=$(pdir call show "$1" --json 2>&1)
		grep -q '"end_reason": *"' <<<"$rec" && break
		sleep 0.2
	done
	echo "$rec"
}
# no_active_call SECONDS: waits (bounded) until the directory lists no active call: the
# gateways send a call's end record after the hang-up, on their own time. A listing that
# is not the empty JSON array (an error included) is not "none".
no_active_call() {
	local list=""
	for _ in $(seq 1 $(($1 * 5))); do
		list=$(pdir call list --active --json 2>&1) &&
			python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != [])' "$list" \
				2>/dev/null && return 0
		sleep 0.2
	done
	echo "the directory still lists active calls: ${list:0:400}" >&2
	return 1
}

insel_pki() {
	PKI=$NETNS_TMP/pki
	"$P" pki init --dir "$PKI" --org "insel test" >/dev/null
	"$P" pki issue --dir "$PKI" --role principal --name principal \
		--out-cert "$PKI/principal.crt" --out-key "$PKI/principal.key" >/dev/null
	for lan in lan-a lan-b; do
		"$P" pki issue --dir "$PKI" --role secondary --name "$lan" \
			--out-cert "$PKI/$lan.crt" --out-key "$PKI/$lan.key" >/dev/null
	done
}

insel_directory() {
	DB=$NETNS_TMP/directory.db
	local v6a=() v6b=()
	if [ -n "$INSEL_IPV6" ]; then
		v6a=(--prefix fd01::/64)
		v6b=(--prefix fd02::/64)
	fi
	[[ " $INSEL_LAN6_SITES " == *" a "* ]] && v6a=(--prefix fd01::/64)
	[[ " $INSEL_LAN6_SITES " == *" b "* ]] && v6b=(--prefix fd02::/64)
	# The operator binds each LAN to its secondary; registrations only confirm it.
	pdir secondary add lan-a >/dev/null
	pdir secondary add lan-b >/dev/null
	pdir lan add lan-a --prefix "$(lan_net 1).0/24" "${v6a[@]}" --secondary lan-a >/dev/null
	pdir lan add lan-b --prefix "$(lan_net 2).0/24" "${v6b[@]}" --secondary lan-b >/dev/null
	for u in $INSEL_USERS; do
		add_user "$u"
	done
	pdir host add printer --lan lan-b --address "$(lan_net 2).12" >/dev/null
}

# insel_site_c: a third site's secondary in the PKI and the directory (after insel_pki
# and insel_directory): its certificate lan-c, and LAN lan-c on 10.3.0.0/24 bound to it.
insel_site_c() {
	"$P" pki issue --dir "$PKI" --role secondary --name lan-c \
		--out-cert "$PKI/lan-c.crt" --out-key "$PKI/lan-c.key" >/dev/null
	pdir secondary add lan-c >/dev/null
	pdir lan add lan-c --prefix 10.3.0.0/24 --secondary lan-c >/dev/null
}

# insel_three_sites: sites a and b (topo_two_sites) and c (host c1), the PKI, and the
# directory with their three LANs; the principal is not started yet.
insel_three_sites() {
	topo_two_sites
	topo_site c 3 c1
	insel_pki
	insel_directory
	insel_site_c
}

# start_three_secondaries: the three sites' secondaries, until all three registered.
start_three_secondaries() {
	start_secondary a 1
	start_secondary b 2
	start_secondary c 3
	wait_registered || fail "lan-a and lan-b did not register"
	wait_secondary_registered c || fail "lan-c did not register"
}

start_principal() {
	spawn_in_ns principal "$NETNS_TMP/principal.log" "$P" serve --db "$DB" \
		--listen "$INSEL_PRINCIPAL_ADDR:$INSEL_PRINCIPAL_PORT" --ca "$PKI/ca.crt" --cert "$PKI/principal.crt" \
		--key "$PKI/principal.key" --heartbeat "$INSEL_HEARTBEAT" \
		--down-after "$INSEL_DOWN_AFTER" ${INSEL_PRINCIPAL_CONF:+--config "$INSEL_PRINCIPAL_CONF"}
	PRINCIPAL_PID=$LAST_PID
	wait_port principal "$INSEL_PRINCIPAL_PORT" tcp 10
}

# write_secondary_config LETTER N: the configuration of site X's secondary.
write_secondary_config() {
	local x=$1 n=$2
	local v6="" clients="$(lan_net "$n").1:$INSEL_CLIENT_PORT"
	if [ -n "$INSEL_IPV6" ]; then
		v6=$'prefix = fd0'$n$'::/64\nlan_address6 = fd0'$n'::1'
		clients="[fd0$n::1]:$INSEL_CLIENT_PORT"
	elif [[ " $INSEL_LAN6_SITES " == *" $x "* ]]; then
		v6=$'prefix = fd0'$n$'::/64\nlan_address6 = fd0'$n'::1'
	fi
	cat >"$NETNS_TMP/secondary-$x.conf" <<CONF
[secondary]
name = lan-$x
lan = lan-$x
prefix = $(lan_net "$n").0/24
lan_address = $(lan_net "$n").1
$v6
[principal]
address = $INSEL_PRINCIPAL_ADDR:$INSEL_PRINCIPAL_PORT
name = principal
heartbeat = $INSEL_HEARTBEAT
[tls]
ca = $PKI/ca.crt
cert = $PKI/lan-$x.crt
key = $PKI/lan-$x.key
[peers]
listen = $(wan_addr "$n"):$INSEL_PEER_PORT
rekey_interval = $INSEL_REKEY_INTERVAL
[clients]
listen = $clients
socket = $NETNS_TMP/secondary-$x.sock
[auxiliary]
program = $INSEL_BUILD/auxiliary/insel-auxiliary
uid_range = $INSEL_AUX_UIDS
[limits]
calls = $INSEL_MAX_CALLS
idle_timeout = $INSEL_IDLE
keepalive = $INSEL_KEEPALIVE
dead_after = $INSEL_DEAD_AFTER
ring_timeout = 10s
$INSEL_SECONDARY_EXTRA
CONF
}

start_secondary() {  # start_secondary LETTER N
	local x=$1 n=$2
	[ -f "$NETNS_TMP/secondary-$x.conf" ] || write_secondary_config "$x" "$n"
	spawn_in_ns "gw-$x" "$NETNS_TMP/secondary-$x.log" "$S" -v run \
		--config "$NETNS_TMP/secondary-$x.conf"
	SECONDARY_PID[$x]=$LAST_PID
	wait_port "gw-$x" "$INSEL_CLIENT_PORT" tcp 10
}

# Waits until the running principal has taken both secondaries' registrations and the
# directory shows them up (bounded).
wait_registered() {
	for _ in $(seq 1 150); do
		if grep -q "registered LAN lan-a" "$NETNS_TMP/principal.log" &&
			grep -q "registered LAN lan-b" "$NETNS_TMP/principal.log" &&
			[ "$(pdir lan list --json | grep -o '"state": *"up"' | wc -l)" -ge 2 ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "secondaries did not register; logs:" >&2
	tail -n 20 "$NETNS_TMP"/secondary-*.log "$NETNS_TMP/principal.log" >&2
	return 1
}

insel_deploy() {
	insel_pki
	insel_directory
	start_principal
	start_secondary a 1
	start_secondary b 2
	wait_registered
}

# client_gateway HOST: where the clients of HOST's site reach their secondary.
client_gateway() {
	local n
	n=$(site_number "$1")
	if [ -n "$INSEL_IPV6" ]; then
		echo "[fd0$n::1]:$INSEL_CLIENT_PORT"
	else
		echo "$(lan_net "$n").1:$INSEL_CLIENT_PORT"
	fi
}


# insel_as HOST USER ARGS...: runs the client on a host as a user of its LAN.
insel_as() {
	local host=$1 user=$2 gw src=()
	shift 2
	gw=$(client_gateway "$host")
	[ -n "$INSEL_CLIENT_SOURCE" ] && src=(--source "$(host_addr "$host")")
	in_ns "$host" env INSEL_PASSWORD="pw-$user" "$C" "$@" "${src[@]}" --secondary "$gw" \
		--ca "$PKI/ca.crt" --user "$user"
}

# listen_as HOST USER LOG ARGS...: `insel listen` in the background; waits until ready.
listen_as() {
	local host=$1 user=$2 log=$3 gw src=()
	shift 3
	gw=$(client_gateway "$host")
	[ -n "$INSEL_CLIENT_SOURCE" ] && src=(--source "$(host_addr "$host")")
	spawn_in_ns "$host" "$log" env INSEL_PASSWORD="pw-$user" "$C" listen "$@" "${src[@]}" \
		--secondary "$gw" --ca "$PKI/ca.crt" --user "$user"
	for _ in $(seq 1 50); do
		grep -q "listening for calls" "$log" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "insel listen did not start:" >&2
	cat "$log" >&2
	return 1
}

# spawn_echo HOST LOG PORTS [ECHO-ARGS...]: udp_tool.py's echo on HOST (PORTS as 5004,
# 5004,5005 or 7000-7049), its PID in $LAST_PID; returns once every port is bound, so
# that nothing sent right after meets a closed port. Fails the test if one is not.
spawn_echo() {
	local host=$1 log=$2 ports=$3
	shift 3
	spawn_in_ns "$host" "$log" python3 "$UDP_TOOL" echo "$ports" "$@"
	wait_port "$host" "$ports" udp 10 || fail "the echo on $host did not bind $ports"
}

# add_trunk LETTER N TRUNK PEER_LAN [KEY=VALUE...]: appends a "[trunk TRUNK]" section to
# site X's secondary configuration (written first if need be); it takes effect when the
# secondary (re)starts. Extra arguments become lines of the section ("remote=10.2.0.0/24").
add_trunk() {
	local x=$1 n=$2 name=$3 peer=$4 kv
	shift 4
	[ -f "$NETNS_TMP/secondary-$x.conf" ] || write_secondary_config "$x" "$n"
	{
		echo "[trunk $name]"
		echo "peer_lan = $peer"
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >>"$NETNS_TMP/secondary-$x.conf"
}

# add_trunk_mesh LETTER:N...: a trunk from each of these sites to every other one, named
# to-LETTER, to its LAN lan-LETTER (add_trunk).
add_trunk_mesh() {
	local from to
	for from in "$@"; do
		for to in "$@"; do
			[ "$from" = "$to" ] ||
				add_trunk "${from%%:*}" "${from#*:}" "to-${to%%:*}" "lan-${to%%:*}"
		done
	done
}

# wait_secondary_registered LETTER: until site X's running secondary (its log starts anew
# with each start) says it registered with the principal (bounded).
wait_secondary_registered() {
	for _ in $(seq 1 100); do
		grep -q "registered LAN" "$NETNS_TMP/secondary-$1.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# restart_secondary LETTER N: stops site X's secondary (SIGTERM: its calls end) and starts
# it again with its configuration file as it is now.
restart_secondary() {
	local x=$1 n=$2
	stop_pid "${SECONDARY_PID[$x]}"
	start_secondary "$x" "$n"
}

# insel_operator LETTER ARGS...: the client on gateway X itself, over the secondary's
# unix socket (an operator there sees every call, trunks included), as user alice/bob.
insel_operator() {
	local x=$1 user=alice
	shift
	[ "$x" = b ] && user=bob
	in_ns "gw-$x" env INSEL_PASSWORD="pw-$user" "$C" "$@" \
		--secondary "$NETNS_TMP/secondary-$x.sock" --user "$user"
}

# ---- for tests: checks that count failures, and what they look at ----

failures=0
check() {  # check LABEL COMMAND...: passes if COMMAND succeeds
	local label=$1
	shift
	if "$@"; then
		echo "ok - $label"
	else
		echo "FAIL - $label"
		failures=$((failures + 1))
	fi
}
contains() { grep -q -- "$2" <<<"$1"; }

# The end of every namespace test: no sanitizer report in the daemons' logs; on any
# failure, the logs' last lines and exit status 1.
finish_checks() {
	check "no sanitizer report in the daemons' logs" bash -c \
		"! grep -l 'Sanitizer' $NETNS_TMP/*.log"
	if [ "$failures" -ne 0 ]; then
		echo "---- logs"
		tail -n 40 "$NETNS_TMP"/secondary-*.log "$NETNS_TMP/principal.log"
		exit 1
	fi
}
both() {  # both COMMAND1... -- COMMAND2...: passes if both succeed
	local first=()
	while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
		first+=("$1")
		shift
	done
	shift
	"${first[@]}" && "$@"
}

# The auxiliaries a secondary supervises right now (its children but its key holder), by
# PID; and its key holder.
aux_pids() {
	ps -o pid=,comm= --ppid "${SECONDARY_PID[$1]}" 2>/dev/null |
		awk '$2 != "insel-keyholder" { print $1 }'
}
keyholder_pid() {
	ps -o pid=,comm= --ppid "${SECONDARY_PID[$1]}" 2>/dev/null |
		awk '$2 == "insel-keyholder" { print $1 }'
}
aux_count() { aux_pids "$1" | grep -c . || true; }
wait_aux_count() {  # wait_aux_count SITE N SECONDS
	for _ in $(seq 1 $(($3 * 10))); do
		[ "$(aux_count "$1")" -eq "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
call_id_of() { sed -n 's/^call \([0-9a-f]\{16\}\) .*/\1/p' <<<"$1" | head -n 1; }

# ---- for network-call tests and benchmarks ----

pings() { in_ns "$1" ping -n -c "${3:-1}" -W 1 -i 0.2 "$2" >/dev/null 2>&1; }
no_ping() { ! pings "$1" "$2"; }
tun_links() { ip -n "${NS}gw-$1" -o link show type tun 2>/dev/null | grep -c . || true; }
has_link() { ip -n "${NS}gw-$1" link show "$2" >/dev/null 2>&1; }
no_link() { ! has_link "$1" "$2"; }
route_via() { ip -n "${NS}gw-$1" route show dev "$2" 2>/dev/null | grep -q .; }
wait_ping() {  # wait_ping HOST ADDR SECONDS: until one ping gets through (bounded)
	for _ in $(seq 1 "$3"); do
		pings "$1" "$2" && return 0
		sleep 0.5
	done
	return 1
}
# tun_counter JSON NAME [CALL]: a TUN counter summed over the listed calls, or only over
# call CALL (its id), or with CALL "trunk" over the trunks.
tun_counter() {
	python3 -c '
import json, sys
total = 0
want = sys.argv[2]
for line in sys.stdin.read().splitlines():
    if line.strip().startswith("{"):
        for call in json.loads(line).get("calls", []):
            for ch in call.get("channels", []):
                if want == "trunk" and "trunk" not in ch:
                    continue
                if want not in ("", "trunk") and call.get("id") != want:
                    continue
                total += int(ch.get("counters", {}).get(sys.argv[1], 0))
print(total)' "$2" "${3:-}" <<<"$1" 2>/dev/null || echo 0
}

# The source-routing rules of host calls (protocol 73, docs/tun.md "Routing") on gateway
# X: IPv4 ones, or IPv6 ones with -6 as the last argument. (Filtered here: ip 6.1's
# "rule list protocol" shows every rule.)
insel_rules() { ip -n "${NS}gw-$1" ${2:-} rule 2>/dev/null | grep -w "proto 73" || true; }
rule_count() { insel_rules "$@" | grep -c . || true; }
has_rule() {  # has_rule SITE FROM TO [-6]: "from FROM to TO lookup <a call's table>"
	local rules
	rules=$(insel_rules "$1" "${4:-}")
	grep -q "from $2 to $3 lookup 1[0-9]\{9\} " <<<"$rules"
}
rule_table() {  # rule_table SITE FROM TO [-6]: the table of that rule
	insel_rules "$1" "${4:-}" | sed -n "s/.*from $2 to $3 lookup \([0-9]*\).*/\1/p" |
		head -n 1
}
# has_own_rules SITE REMOTE [-6]: the rules for gateway X's own packets to REMOTE (its
# ICMP errors about a host call's packets): "to REMOTE iif lo lookup main
# suppress_prefixlength 0" at 31999, then "to REMOTE iif lo lookup <a call's table>".
has_own_rules() {
	local rules
	rules=$(insel_rules "$1" "${3:-}")
	grep -q "^31999:[[:space:]]*from all to $2 iif lo lookup main suppress_prefixlength 0 " \
		<<<"$rules" &&
		grep -q "^32000:[[:space:]]*from all to $2 iif lo lookup 1[0-9]\{9\} " <<<"$rules"
}
# own_main_rules SITE REMOTE [-6]: how many copies of the first of them gateway X has.
own_main_rules() { insel_rules "$1" "${3:-}" | grep -c "to $2 iif lo lookup main " || true; }
# own_route SITE ADDR [-6]: the route gateway X's own packets to ADDR take (ip route get).
own_route() { ip -n "${NS}gw-$1" ${3:-} route get "$2" 2>&1 | head -n 1; }
wait_rule_count() {  # wait_rule_count SITE N SECONDS [-6]
	for _ in $(seq 1 $(($3 * 10))); do
		[ "$(rule_count "$1" "${4:-}")" -eq "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# Only the kernel's own rules (local, main, default) on gateway X, IPv4 and IPv6.
only_kernel_rules() {
	local v4 v6
	v4=$(ip -n "${NS}gw-$1" rule) && v6=$(ip -n "${NS}gw-$1" -6 rule) &&
		! grep -qvE '^(0|32766|32767):' <<<"$v4" && ! grep -qvE '^(0|32766):' <<<"$v6"
}

# Stops both secondaries (their auxiliaries die with them) and checks that neither
# gateway keeps a TUN interface, a route through one (any table, either family), a rule
# of insel's, or an auxiliary.
check_tun_teardown() {
	local x
	stop_pid "${SECONDARY_PID[a]}"
	stop_pid "${SECONDARY_PID[b]}"
	sleep 0.5
	for x in a b; do
		check "no TUN interface left on gw-$x" test "$(tun_links $x)" -eq 0
		check "no route left through a tunnel on gw-$x (IPv4 or IPv6)" \
			bash -c "! ip -n ${NS}gw-$x route show table all | grep -q 'dev lan-' &&
				 ! ip -n ${NS}gw-$x -6 route show table all | grep -q 'dev lan-'"
		check "no routing rule left on gw-$x (ip rule, ip -6 rule)" only_kernel_rules $x
	done
	for _ in $(seq 1 50); do  # each exits on its parent's death (PR_SET_PDEATHSIG)
		[ "$(aux_left)" -eq 0 ] && break
		sleep 0.1
	done
	check "no auxiliary left" test "$(aux_left)" -eq 0
}
# The auxiliaries still running in this test's gateways: only those, as other tests of the
# same build may run beside this one.
aux_left() {
	local x pid n=0
	for x in a b; do
		for pid in $(ip netns pids "${NS}gw-$x" 2>/dev/null); do
			[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = insel-auxiliary ] && n=$((n + 1))
		done
	done
	echo "$n"
}

# Starts both secondaries with a trunk to each other, and waits (bounded) until ping
# a1 -> b1 goes through it.
start_trunk_pair() {
	add_trunk a 1 to-b lan-b
	add_trunk b 2 to-a lan-a
	start_secondary a 1
	start_secondary b 2
	wait_registered || fail "secondaries did not register"
	wait_ping a1 10.2.0.11 40 || fail "the trunk did not come up"
}
