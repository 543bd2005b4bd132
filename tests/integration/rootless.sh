#!/usr/bin/env bash
# Integration without root and without namespaces, in a few seconds: a principal, two
# secondaries (LANs lan-a and lan-b) and a UDP call between a user on each, every process
# real and unprivileged, on 127.x.y.z addresses of the loopback (loopback.sh). It goes
# through the whole call machinery: registration and heartbeats, logins, the look-up,
# mutual TLS between the secondaries, the call_request negotiation, one forked
# auxiliary per side relaying sealed UDP frames, hang-up, the directory's call record.
#   - a two-channel call carries datagrams intact both ways, fragmented ones too;
#   - each auxiliary runs as the test's own uid (no per-call uid without root) and still
#     confines itself: no new privileges, a seccomp filter;
#   - hang-up releases both auxiliaries and their ports; the record says why and how much;
#   - what needs root is refused with a clear error: a network call (--tun), by the
#     caller's gateway and by the callee's, and a secondary configured with a trunk.
# Run as root (as CI does), it first becomes nobody for the whole test.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
INSEL_BUILD=${INSEL_BUILD:-$(cd "$here/../.." && pwd)/build}
export INSEL_BUILD

# ---- as root: run the whole test as nobody instead ----

# as_nobody CMD...: CMD as nobody, with no supplementary group, capability or way back.
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
		--no-new-privs "$@"
}

# The files the unprivileged run reads: the programs and the test's scripts.
needed_files() {
	local f
	for f in principal/insel-principal secondary/insel-secondary \
		auxiliary/insel-auxiliary client/insel; do
		echo "$INSEL_BUILD/$f"
	done
	echo "$here/rootless.sh" "$here/loopback.sh" "$here/../netns/lib.sh" \
		"$here/../netns/insel_env.sh" "$here/../netns/udp_tool.py" \
		"$here/../netns/hostile.py"
}

readable_by_nobody() {
	local f
	for f in $(needed_files); do
		as_nobody test -r "$f" || return 1
	done
}

# A copy of what the run needs in a directory nobody can read, for a build tree it cannot.
stage_copy() {
	local stage=$1 f
	mkdir -p "$stage/build/principal" "$stage/build/secondary" "$stage/build/auxiliary" \
		"$stage/build/client" "$stage/tests/integration" "$stage/tests/netns"
	for f in principal/insel-principal secondary/insel-secondary \
		auxiliary/insel-auxiliary client/insel; do
		cp "$INSEL_BUILD/$f" "$stage/build/$f"
	done
	cp "$here/rootless.sh" "$here/loopback.sh" "$stage/tests/integration/"
	cp "$here/../netns/lib.sh" "$here/../netns/insel_env.sh" "$here/../netns/udp_tool.py" \
		"$here/../netns/hostile.py" "$stage/tests/netns/"
	chmod -R a+rX "$stage"
}

if [ "$(id -u)" -eq 0 ]; then
	if ! command -v setpriv >/dev/null || ! getent passwd nobody >/dev/null ||
		! getent group nogroup >/dev/null || ! as_nobody true 2>/dev/null; then
		echo "SKIP: as root this test runs as nobody (group nogroup) through setpriv," \
			"which cannot be done here"
		exit 77
	fi
	if readable_by_nobody; then
		as_nobody bash "$here/rootless.sh"
		exit $?
	fi
	stage=$(mktemp -d /tmp/insel-rootless.XXXXXX)
	trap 'rm -rf "$stage"' EXIT
	chmod 755 "$stage"
	stage_copy "$stage"
	echo "(the build tree is not readable by nobody: running a copy in $stage)"
	INSEL_BUILD=$stage/build as_nobody bash "$stage/tests/integration/rootless.sh"
	exit $?
fi

# ---- unprivileged from here on ----

for tool in python3 ss; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: this test needs $tool"
		exit 77
	fi
done
INSEL_USERS="alice@lan-a bob@lan-b"  # each one a slow password hash: no more than needed
source "$here/../netns/lib.sh"
source "$here/loopback.sh"
source "$here/../netns/insel_env.sh"
loopback_begin
started=$(date +%s%N)
insel_deploy || fail "deployment did not come up"

rtp=$((LOOPBACK_PORT + 3))
rtcp=$((LOOPBACK_PORT + 4))
gw_a=$(lan_net 1).1
gw_b=$(lan_net 2).1
a1=$(host_addr a1)
b1=$(host_addr b1)
uid=$(id -u)
udp_bound() { ss -lun | awk '{print $4}' | grep -qx "$1:$2"; }
ports_released() {
	local gw port
	for gw in "$gw_a" "$gw_b"; do
		for port in "$rtp" "$rtcp"; do
			! udp_bound "$gw" "$port" || return 1
		done
	done
}
both_logs_say() { grep -q -- "$1" "$NETNS_TMP/secondary-a.log" &&
	grep -q -- "$1" "$NETNS_TMP/secondary-b.log"; }
confined() {  # confined PID: no new privileges, a seccomp filter
	grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$1/status" &&
		grep -q '^Seccomp:[[:space:]]*2' "/proc/$1/status"
}

# ---- a two-channel call, both ways ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" "$rtp,$rtcp" --bind "$b1" \
	--count 1000 --timeout 60
out=$(insel_as a1 alice call bob@lan-b --udp "$rtp,$rtcp" 2>&1)
echo "$out"
check "alice on lan-a calls bob on lan-b on two channels" contains "$out" " up "
call=$(call_id_of "$out")
check "channel 0 carries 1000-byte datagrams intact both ways" \
	python3 "$UDP_TOOL" send "$gw_a" "$rtp" --bind "$a1" --count 20 --size 1000 --timeout 10
check "channel 1 carries datagrams intact both ways" \
	python3 "$UDP_TOOL" send "$gw_a" "$rtcp" --bind "$a1" --count 20 --size 200 --timeout 10
check "a 9000-byte datagram crosses in fragments" \
	python3 "$UDP_TOOL" send "$gw_a" "$rtp" --bind "$a1" --count 3 --size 9000 --timeout 10

# ---- who the processes are ----
check "each secondary says it runs without root, and what that means" \
	both_logs_say "not running as root (uid $uid): each auxiliary keeps this uid"
aux_a=$(aux_pids a | head -n 1)
aux_b=$(aux_pids b | head -n 1)
check "one auxiliary on each side" test -n "$aux_a" -a -n "$aux_b"
for pid in $aux_a $aux_b; do
	check "auxiliary $pid runs as this test's uid $uid" \
		test "$(ps -o uid= -p "$pid" | tr -d ' ')" = "$uid"
	check "auxiliary $pid has no new privileges and a seccomp filter" confined "$pid"
done
check "each auxiliary says so in its secondary's log" \
	both_logs_say "not root: running as uid $uid, gid $(id -g), confined all the same"
stats=$(insel_as a1 alice calls --json 2>&1)
check "insel calls counts the bytes of both channels" \
	test "$(grep -Eo '"bytes_out": *[1-9]' <<<"$stats" | wc -l)" -eq 2

# ---- hang-up: both auxiliaries and their ports released, the call recorded ----
out=$(insel_as a1 alice hangup "$call" 2>&1)
check "alice hangs up" contains "$out" "hung up"
check "the caller's auxiliary exits" wait_aux_count a 0 5
check "the callee's auxiliary exits" wait_aux_count b 0 5
check "the LAN ports are released on both sides" ports_released
rec=""
for _ in $(seq 1 20); do
	rec=$(pdir call show "$call" --json 2>&1)
	contains "$rec" '"end_reason"' && break
	sleep 0.1
done
echo "$rec"
check "the directory records the call as hung up" contains "$rec" '"end_reason": *"hangup"'
check "with its bytes" grep -Eq '"bytes_up": *[1-9]' <<<"$rec"

# ---- what needs root is refused, clearly ----
out=$(insel_as a1 alice call "$b1" --tun 2>&1)
echo "$out"
check "a network call is refused: the gateway runs without root" \
	contains "$out" "runs without root"
check "and no auxiliary was started for it" test "$(aux_count a)" -eq 0
# The callee's side refuses too, whoever asks: here a client with lan-a's certificate.
out=$(timeout 20 python3 "$here/../netns/hostile.py" tun-call "$(wan_addr 2)" \
	"$INSEL_PEER_PORT" "$PKI" "$a1" "$b1" "$gw_a" 2>&1 | head -n 1)
check "a network call to a gateway without root is refused there (got: $out)" \
	test "$out" = tun_unavailable
check "and no auxiliary was started for it there" test "$(aux_count b)" -eq 0
add_trunk t 1 to-b lan-b  # a configuration of its own, like site A's with a trunk
out=$(timeout 10 "$S" run --config "$NETNS_TMP/secondary-t.conf" 2>&1)
rc=$?
echo "$out" | tail -n 1
check "a secondary with a trunk will not start without root (exit $rc, config error)" \
	test "$rc" -eq 3
check "and says why" contains "$out" "\[trunk to-b\] needs root"

elapsed_ms=$((($(date +%s%N) - started) / 1000000))
echo "ran in $((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000)))s"
finish_checks
