#!/usr/bin/env bash
# Benchmark of listings at scale (not a test: it prints figures). Real calls through one
# gateway on loopback (tests/integration/loopback.sh: no namespaces, no root needed),
# placed by tests/integration/many_calls.py on one logged-in session, each carrying a
# trickle of datagrams; then, at each size, `insel calls` timed as the operator on the
# gateway's unix socket and as alice over TLS (the whole command: connect, login, every
# page), with the number of calls it listed and its exit status, and the principal's
# operator listing of its call records (`insel-principal call list`).
# Usage: tests/bench/listing.sh [BUILD-DIR]   COUNTS="200 1000" (cumulative), RUNS=3
# Build without sanitizers: 1,000 calls are 2,000 auxiliaries on this one machine.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export INSEL_BUILD
INSEL_BUILD=$(cd "${1:-$top/build}" && pwd)
COUNTS=${COUNTS:-200 1000}
RUNS=${RUNS:-3}
max=0
for n in $COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
INSEL_USERS="alice@lan-a bob@lan-b"
INSEL_MAX_CALLS=$((max + 64))
INSEL_AUX_UIDS=200000-$((200000 + 2 * max + 100))
INSEL_IDLE=900s
source "$top/tests/netns/lib.sh"
source "$top/tests/integration/loopback.sh"
source "$top/tests/netns/insel_env.sh"
MANY=$top/tests/integration/many_calls.py
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
loopback_begin
insel_pki
insel_directory
for site in "a 1" "b 2"; do
	write_secondary_config $site
	printf '[peers]\nmax_connections = %d\n' $((max + 64)) >>"$NETNS_TMP/secondary-${site% *}.conf"
done
start_principal
start_secondary a 1
start_secondary b 2
wait_registered || fail "deployment did not come up"
gw_a=$(lan_net 1).1
first_port=$((LOOPBACK_PORT + 8 > 40000 ? 20000 : 40000))
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_in_ns b1 "$NETNS_TMP/sink.log" python3 "$UDP_TOOL" echo \
	"$first_port-$((first_port + max - 1))" --bind "$(host_addr b1)" --count 100000000 \
	--timeout 1800

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
listed() {  # listed JSON: how many calls a --json listing holds, or "unreadable"
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["calls"]))' <<<"$1" \
		2>/dev/null || echo unreadable
}
time_listing() {  # time_listing LABEL CMD...
	local label=$1 t0 out rc i
	shift
	for i in $(seq 1 "$RUNS"); do
		t0=$(date +%s%N)
		out=$("$@" calls --json 2>"$NETNS_TMP/err")
		rc=$?
		printf '  %-34s run %d: %6d ms  exit %d  listed %s %s\n' "$label" "$i" "$(ms "$t0")" \
			"$rc" "$(listed "$out")" "$(head -c 120 "$NETNS_TMP/err")"
	done
}

placed=0
for n in $COUNTS; do
	more=$((n - placed))
	t0=$(date +%s%N)
	spawn_in_ns a1 "$NETNS_TMP/many-$n.log" python3 "$MANY" "$NETNS_TMP/secondary-a.sock" \
		alice pw-alice bob@lan-b "$more" --first-port $((first_port + placed)) \
		--lan-addr "$gw_a" --ready "$NETNS_TMP/ready-$n" --hold 1800 --rate 200
	for _ in $(seq 1 600); do
		[ -f "$NETNS_TMP/ready-$n" ] && break
		sleep 0.5
	done
	echo "== $n calls ($more more placed in $(ms "$t0") ms: $(cat "$NETNS_TMP/many-$n.log"))"
	placed=$n
	sleep 2  # let the traffic flow
	echo "  auxiliaries: $(aux_count a) on gateway a, $(aux_count b) on gateway b;" \
		"RSS of one: $(ps -o rss= -p "$(aux_pids a | head -n 1)") KiB"
	time_listing "insel calls (operator, unix)" insel_operator a
	time_listing "insel calls (alice, TLS)" insel_as a1 alice
	t0=$(date +%s%N)
	rows=$(pdir call list --json 2>/dev/null | python3 -c \
		'import json,sys; d=json.load(sys.stdin); print(len(d if isinstance(d,list) else d.get("calls",[])))' 2>/dev/null)
	echo "  insel-principal call list --json: $(ms "$t0") ms, $rows records"
done
# LOGS_TO=DIR keeps the daemons' logs for a look afterwards.
[ -n "${LOGS_TO:-}" ] && mkdir -p "$LOGS_TO" && cp "$NETNS_TMP"/*.log "$LOGS_TO/"
exit 0
