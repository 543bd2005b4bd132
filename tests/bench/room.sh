#!/usr/bin/env bash
# Benchmark (not a test; prints figures): a room's data path (docs/rooms.md, "The data
# path") between a1 and b1 of the netns topology, in one run:
#   - join time: from `insel room join` on b1 (the client through its gateway, the
#     principal's PBKDF2 check at the room's iterations, default 600000) to its answer,
#     and on to the first ping a1 -> b1 answered through the room (the principal's
#     notice, both gateways' leg placed and up);
#   - ping RTT (50 pings, 20 ms apart) a1 -> b1's room address against a host network
#     call (`insel call 10.2.0.11 --tun`) between the same hosts: what the mapping and
#     the room's leg cost beside a plain network call;
#   - TCP throughput (iperf3, one stream, SECONDS) through the room and through the
#     host call.
# Usage (root): bash tests/bench/room.sh [BUILD-DIR] [SECONDS]
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
INSEL_USERS="alice@lan-a carol@lan-a bob@lan-b"
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/room_lib.sh"
secs=${1:-5}
netns_begin
room_deploy
pwfile=$NETNS_TMP/room-pw
echo sesame >"$pwfile"
ms() { date +%s%3N; }

ping_avg() {  # ping_avg HOST ADDR: "min/avg/max/mdev" of 50 pings 20 ms apart
	in_ns "$1" ping -n -q -c 50 -i 0.02 -W 1 "$2" 2>&1 | sed -n 's/.*= \([0-9.\/]*\) ms/\1/p'
}
iperf_gbps() {  # iperf_gbps ADDR: one TCP stream a1 -> ADDR (b1), Gbit/s
	local out
	spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
	wait_port b1 5201 tcp 5 >/dev/null
	out=$(in_ns a1 iperf3 -c "$1" -p 5201 -t "$secs" -J 2>/dev/null)
	python3 -c 'import json, sys
j = json.loads(sys.stdin.read())
print("%.2f" % (j["end"]["sum_received"]["bits_per_second"] / 1e9))' <<<"$out" 2>/dev/null ||
		echo "?"
}

# ---- join time ----
echo sesame | pdir room add games --network 172.30.0.0/24 >/dev/null
room_join games alice@lan-a 10.1.0.11
t0=$(ms)
out=$(insel_as b1 bob room join games --room-password-file "$pwfile" 2>&1)
t1=$(ms)
for _ in $(seq 1 200); do
	in_ns a1 ping -n -c 1 -W 0.2 172.30.0.2 >/dev/null 2>&1 && break
done
t2=$(ms)
echo "join: $out"
printf 'join time: answer %d ms (PBKDF2 600000 iterations included), first ping through the room %d ms after the answer, %d ms in all\n' \
	$((t1 - t0)) $((t2 - t1)) $((t2 - t0))

# ---- the room ----
printf 'room      ping a1 -> 172.30.0.2 RTT min/avg/max/mdev: %s ms\n' "$(ping_avg a1 172.30.0.2)"
printf 'room      iperf3 TCP a1 -> b1, %ss: %s Gbit/s\n' "$secs" "$(iperf_gbps 172.30.0.2)"

# ---- a host network call between the same hosts ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer --tun >/dev/null ||
	fail "bob cannot listen"
out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
grep -q " up " <<<"$out" || fail "the host call did not go up: $out"
wait_ping a1 10.2.0.11 10 >/dev/null
printf 'hostcall  ping a1 -> 10.2.0.11 RTT min/avg/max/mdev: %s ms\n' "$(ping_avg a1 10.2.0.11)"
printf 'hostcall  iperf3 TCP a1 -> b1, %ss: %s Gbit/s\n' "$secs" "$(iperf_gbps 10.2.0.11)"
