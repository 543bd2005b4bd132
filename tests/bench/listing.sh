#!/usr/bin/env bash
# Benchmark of listings at scale (not a test: it prints figures), for one build or for
# several in one run (a build of the previous commit as the yardstick):
#   - real calls through one gateway on loopback (tests/integration/loopback.sh: no
#     namespaces, no root needed), placed by tests/integration/many_calls.py on one
#     logged-in session, each carrying a trickle of datagrams; at each size of COUNTS,
#     `insel calls --json` timed RUNS times as the operator on the gateway's unix socket
#     and as alice over TLS (the whole command: connect, login, every page), with the
#     number of calls it listed and its exit status;
#   - the operator's CLI listings (`insel-principal lan list` ...) of a directory of
#     10,000 rows per table (tests/unit/directory_10k.sql).
# Usage: tests/bench/listing.sh [BUILD-DIR...]   COUNTS="200 1000" (a deployment each), RUNS=3,
#        DIRECTORY=0 to skip the directory part, CALLS=0 to skip the calls.
# Build without sanitizers: 1,000 calls are 2,000 auxiliaries on this one machine.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- "$top/build"
COUNTS=${COUNTS:-200 1000}
RUNS=${RUNS:-3}
max=0
for n in $COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
INSEL_USERS="alice@lan-a bob@lan-b"
INSEL_MAX_CALLS=$((max + 64))
INSEL_AUX_UIDS=200000-$((200000 + 2 * max + 100))
INSEL_IDLE=900s
INSEL_DEAD_AFTER=60s
INSEL_BUILD=$(cd "$1" && pwd)
export INSEL_BUILD
source "$top/tests/netns/lib.sh"
source "$top/tests/integration/loopback.sh"
source "$top/tests/netns/insel_env.sh"
MANY=$top/tests/integration/many_calls.py
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

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
		printf '  %-30s run %d: %6d ms  exit %d  listed %s %s\n' "$label" "$i" "$(ms "$t0")" \
			"$rc" "$(listed "$out")" "$(head -c 100 "$NETNS_TMP/err")"
	done
}

# One deployment per size (a second batch of calls placed on a gateway that already
# carries some was refused principal_unreachable in both builds: not what is measured).
calls_bench() {  # calls_bench N
	local n=$1 t0 gw_a first_port=40000
	insel_pki
	insel_directory
	for site in "a 1" "b 2"; do
		write_secondary_config $site
		# Each call holds a peer connection between the gateways (256 by default).
		printf '[peers]\nmax_connections = %d\n' $((max + 64)) \
			>>"$NETNS_TMP/secondary-${site% *}.conf"
	done
	start_principal
	start_secondary a 1
	start_secondary b 2
	wait_registered || { echo "deployment did not come up"; return 1; }
	gw_a=$(lan_net 1).1
	listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || return 1
	spawn_in_ns b1 "$NETNS_TMP/sink.log" python3 "$UDP_TOOL" echo \
		"$first_port-$((first_port + n - 1))" --bind "$(host_addr b1)" \
		--count 100000000 --timeout 1800
	t0=$(date +%s%N)
	spawn_in_ns a1 "$NETNS_TMP/many.log" python3 "$MANY" "$NETNS_TMP/secondary-a.sock" \
		alice pw-alice bob@lan-b "$n" --first-port "$first_port" --lan-addr "$gw_a" \
		--ready "$NETNS_TMP/ready" --hold 1800 --rate 200 --setup-timeout $((n / 2 + 60))
	for _ in $(seq 1 $((n + 240))); do
		[ -f "$NETNS_TMP/ready" ] && break
		sleep 0.5
	done
	echo "== $n calls (placed in $(ms "$t0") ms: $(cat "$NETNS_TMP/many.log"))"
	sleep 3  # let the traffic flow
	echo "  auxiliaries: $(aux_count a) on gateway a, $(aux_count b) on gateway b"
	for i in $(seq 1 "$RUNS"); do
		t0=$(date +%s%N)
		insel_operator a status >/dev/null 2>&1
		printf '  %-30s run %d: %6d ms  (the fixed cost: connect, login)\n' \
			"insel status (operator, unix)" "$i" "$(ms "$t0")"
	done
	time_listing "insel calls (operator, unix)" insel_operator a
	time_listing "insel calls (alice, TLS)" insel_as a1 alice
}

directory_bench() {
	local db=$NETNS_TMP/directory-10k.db what t0 rows
	"$P" status --db "$db" >/dev/null 2>&1  # a fresh directory, migrated
	sqlite3 "$db" <"$top/tests/unit/directory_10k.sql" || return 1
	echo "== the operator's CLI over 10,000 rows per table ($(sqlite3 "$db" \
		'PRAGMA user_version') migrations)"
	for what in "lan list" "secondary list" "host list" "user list" "call list --limit 0" \
		"revoke list"; do
		t0=$(date +%s%N)
		rows=$($P $what --db "$db" --json 2>/dev/null |
			python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)
		printf '  insel-principal %-22s --json: %6d ms, %s rows\n' "$what" "$(ms "$t0")" \
			"${rows:-unreadable}"
	done
}

for build in "$@"; do
	INSEL_BUILD=$(cd "$build" && pwd)
	P=$INSEL_BUILD/principal/insel-principal
	S=$INSEL_BUILD/secondary/insel-secondary
	C=$INSEL_BUILD/client/insel
	echo "######## $INSEL_BUILD ($(git -C "$INSEL_BUILD/.." log --oneline -1 2>/dev/null |
		cut -c1-60))"
	for part in directory $COUNTS; do
		[ "$part" = directory ] && [ "${DIRECTORY:-1}" = 0 ] && continue
		[ "$part" != directory ] && [ "${CALLS:-1}" = 0 ] && continue
		NETNS_PIDS=()
		loopback_begin
		if [ "$part" = directory ]; then
			directory_bench
		else
			calls_bench "$part"
		fi
		# LOGS_TO=DIR keeps the daemons' logs for a look afterwards.
		[ -n "${LOGS_TO:-}" ] && mkdir -p "$LOGS_TO/$part" && cp "$NETNS_TMP"/*.log "$LOGS_TO/$part/"
		netns_cleanup
		NETNS_TMP=""
	done
done
exit 0
