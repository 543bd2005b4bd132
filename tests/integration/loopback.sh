#!/usr/bin/env bash
# The deployment of tests/netns/insel_env.sh on loopback, for tests that need neither root
# nor network namespaces: the same interface as tests/netns/lib.sh (in_ns, spawn_in_ns,
# wait_port, stop_pid, the clean-up trap), where a "namespace" is only a name and every
# host, gateway and the principal is an address of 127.B.0.0/16 on the loopback, B
# chosen from this run's PID (the kernel answers the whole of 127.0.0.0/8 on lo, so no
# address is added). Nothing is sent anywhere but to those addresses. Without root that
# loopback is the root namespace's; with root, a network namespace the run makes for
# itself (below).
#
#   principal       127.B.100.2
#   site N (1, 2)   WAN 127.B.10N.2, LAN 127.B.N.0/24: gateway .1, hosts .11 and .12
#
# Ports come from the PID too (LOOPBACK_PORT and the 7 above it, below the ephemeral
# range): the principal, clients and peers take the first three; a test uses the rest.
# Clients name their host's address (--source): on loopback they would otherwise all
# connect from 127.0.0.1, outside both LANs.
#
# Use: source tests/netns/lib.sh (its process helpers and clean-up), then this file, then
# tests/netns/insel_env.sh; call loopback_begin.

# As root, a run first moves into a network namespace of its own (only its loopback up):
# a call the gateways place themselves as root (a room's leg, a trunk) makes a TUN
# interface and routes, which belong in no namespace but the run's, and two runs at once
# must not meet on an interface name or a route.
if [ "$(id -u)" -eq 0 ] && [ -z "${INSEL_LOOPBACK_PRIVATE:-}" ] && command -v unshare >/dev/null; then
	exec env INSEL_LOOPBACK_PRIVATE=1 unshare --net sh -c 'ip link set lo up && exec bash "$@"' \
		sh "$0" "$@"
fi

LOOPBACK_NET="127.$((16 + $$ % 224))"
LOOPBACK_PORT=$((10000 + ($$ % 2500) * 8))

INSEL_LAN_FORMAT="$LOOPBACK_NET.%d"
INSEL_WAN_FORMAT="$LOOPBACK_NET.10%d.2"
INSEL_PRINCIPAL_ADDR="$LOOPBACK_NET.100.2"
INSEL_PRINCIPAL_PORT=$LOOPBACK_PORT
INSEL_CLIENT_PORT=$((LOOPBACK_PORT + 1))
INSEL_PEER_PORT=$((LOOPBACK_PORT + 2))
INSEL_CLIENT_SOURCE=1

# Starts a run: temp dir, clean-up of every process started (lib.sh's) on every exit path.
loopback_begin() {
	NETNS_TMP=$(mktemp -d /tmp/insel-loopback.XXXXXX)
	trap netns_cleanup EXIT
	trap 'exit 130' INT TERM
}

in_ns() {  # in_ns NAME CMD...: runs CMD (here, where everything runs)
	shift
	"$@"
}

spawn_in_ns() {  # spawn_in_ns NAME LOGFILE CMD...: in the background, PID in $LAST_PID
	local log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	LAST_PID=$!
	NETNS_PIDS+=("$LAST_PID")
}

# The ports bound on this run's addresses ($LOOPBACK_NET.*): TCP ones listening, or UDP
# ones, one a line (lib.sh's wait_port waits on them).
bound_ports() {  # bound_ports NAME tcp|udp
	local flag=-ltnH
	[ "$2" = udp ] && flag=-lunH
	ss $flag | awk -v net="$LOOPBACK_NET." \
		'index($4, net) == 1 { n = split($4, a, ":"); print a[n] }'
}
