#!/usr/bin/env bash
# Benchmark (not a test; prints figures): the goodput of `insel send-file` (a reliable
# channel, docs/reliable.md) against TCP over the same lossy path, in one run of the
# netns topology of tests/netns. At each loss rate (nftables `numgen random` drops of the
# UDP between the gateways, in the wan namespace: the sealed frames of both calls):
#   send-file  a file of SIZE MiB, a1 -> b1, time from the command's own figures; its
#              SHA-256 must match on both sides (a corrupted byte is reported);
#   tcp        iperf3, one TCP stream a1 -> b1 for the same number of bytes (-n), through
#              a host network call (`insel call 10.2.0.11 --tun`): TCP's own loss
#              recovery over the same gateways and the same drops.
#   copy       a plain TCP copy of the same file over the same call, doing send-file's
#              work at the ends (read and SHA-256 the file; write and SHA-256 it): the
#              transports compared, where iperf3 neither reads, writes nor hashes.
# All run one after the other (not at once) at 0%, 1% and 5% loss; the ratios send-file /
# iperf3 and send-file / TCP copy are printed for each. The issue's target, at least 80%
# of TCP at 1%, is judged against the TCP copy (the same end work: like for like);
# iperf3 shows what reading, writing and hashing the file cost.
# Usage (root): bash tests/bench/reliable.sh [BUILD-DIR] [SIZE-MB] (default 100 MiB;
#   build with `meson setup build-rel --buildtype=release` for figures that mean anything)
# RELIABLE_LOSSES="0 1 5" the loss rates; RELIABLE_PERF=PREFIX records `perf record -a -g`
# during each send-file into PREFIX.file.LOSS, each iperf3 into PREFIX.tcp.LOSS and each TCP
# copy into PREFIX.copy.LOSS.
# RELIABLE_KEEP=DIR copies the deployment's logs (principal, secondaries with their
# auxiliaries, listener, TCP ends) into DIR when the run ends, for a transfer that broke;
# each send-file line also carries the load average before it.
set -uo pipefail
source "$(dirname "$0")/bench_lib.sh"
bench_build_arg "${1:-}" && shift
source "$here/lib.sh"
INSEL_DEAD_AFTER=${INSEL_DEAD_AFTER:-10s}
source "$here/insel_env.sh"
size_mb=${1:-100}
losses=${RELIABLE_LOSSES:-0 1 5}
failures=0
netns_begin
keep_logs() {
	[ -n "${RELIABLE_KEEP:-}" ] && [ -n "$NETNS_TMP" ] || return 0
	mkdir -p "$RELIABLE_KEEP" && cp "$NETNS_TMP"/*.log "$RELIABLE_KEEP"/ 2>/dev/null
}
trap 'keep_logs; netns_cleanup' EXIT
command -v iperf3 >/dev/null || { echo "SKIP: iperf3 not installed"; exit 77; }
topo_two_sites
insel_deploy || fail "deployment did not come up"

loss() {
	in_ns wan nft delete table ip insel_loss 2>/dev/null
	[ "$1" = 0 ] && return 0
	in_ns wan nft -f - <<NFT
table ip insel_loss {
	chain lossy {
		type filter hook forward priority 0;
		meta l4proto udp numgen random mod 100 < $1 drop
	}
}
NFT
}

recv_dir=$NETNS_TMP/recv
mkdir -p "$recv_dir"
chmod 777 "$recv_dir"
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer --tun --save "$recv_dir" ||
	fail "bob cannot listen"
out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
contains "$out" " up " || fail "no network call: $out"
wait_ping a1 10.2.0.11 10 || fail "the network call carries no ping"
file=$NETNS_TMP/bench.bin
head -c "$((size_mb << 20))" /dev/urandom >"$file"
bytes=$((size_mb << 20))

declare -A MBPS RETR BACK FWD BUSY
# The machine's CPU time (all cores, in clock ticks) busy and in total so far, from
# /proc/stat: a transfer that leaves cores idle is waiting (for the window, an ACK, a
# timer), one that keeps them all busy is bounded by CPU per byte.
cpu_ticks() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}
busy_since() {  # busy_since "BUSY TOTAL": the % of CPU time busy since that sample
	local now
	now=$(cpu_ticks)
	awk -v a="$1" -v b="$now" 'BEGIN { split(a, x, " "); split(b, y, " ");
		d = y[2] - x[2]; printf "%d", (d > 0 ? 100 * (y[1] - x[1]) / d : 0) }'
}
# Packets (skbs: a GSO run of frames is one) the wan forwarded from site b to site a (the
# acknowledgements: send-file's own, or those of TCP carried in the network call) and
# from a to b, counted on the wan's links: fewer, larger ones cost less CPU per byte.
back_packets() {
	in_ns wan cat /sys/class/net/v-gw-b/statistics/rx_packets
}
fwd_packets() {
	in_ns wan cat /sys/class/net/v-gw-a/statistics/rx_packets
}
PERF_PID=""
perf_start() {  # perf_start NAME: RELIABLE_PERF=PREFIX profiles the machine into PREFIX.NAME
	[ -n "${RELIABLE_PERF:-}" ] || return 0
	perf record -q -a -g -o "$RELIABLE_PERF.$1" 2>/dev/null &
	PERF_PID=$!
	sleep 0.5
}
perf_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID"
	wait "$PERF_PID"
	PERF_PID=""
}
tcp_run() {  # tcp_run LOSS: iperf3 -n BYTES a1 -> b1 through the network call
	local out pid
	spawn_in_ns b1 "$NETNS_TMP/iperf-s.log" iperf3 -s -1 -p 5201
	pid=$LAST_PID
	wait_port b1 5201 tcp 5 || return 1
	perf_start "tcp.$1"
	BACK[tcp,$1]=$(back_packets) FWD[tcp,$1]=$(fwd_packets)
	local ticks
	ticks=$(cpu_ticks)
	out=$(in_ns a1 timeout 600 iperf3 -c 10.2.0.11 -p 5201 -n "$bytes" -J 2>&1)
	BUSY[tcp,$1]=$(busy_since "$ticks")
	BACK[tcp,$1]=$(($(back_packets) - BACK[tcp,$1])) FWD[tcp,$1]=$(($(fwd_packets) - FWD[tcp,$1]))
	perf_stop
	stop_pid "$pid"
	read -r MBPS[tcp,$1] RETR[tcp,$1] < <(python3 -c '
import json, sys
e = json.load(sys.stdin)["end"]
print("%.1f" % (e["sum_received"]["bits_per_second"] / 8 / 2**20),
      int(e["sum_sent"].get("retransmits", 0)))' <<<"$out" 2>/dev/null || echo "0 0")
}

# copy_run LOSS: a plain TCP copy of the same file through the network call, with the
# work send-file does at its ends (read the file and hash it; write it and hash it), so
# that the transport is compared, not iperf3's discarding of what it receives.
COPY_PY='
import hashlib, socket, sys, time
if sys.argv[1] == "recv":
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 5202)); srv.listen(1); c, _ = srv.accept()
    h = hashlib.sha256(); buf = bytearray(256 << 10); view = memoryview(buf); n = 0
    with open(sys.argv[2], "wb", buffering=0) as f:
        while True:
            k = c.recv_into(buf)
            if not k: break
            h.update(view[:k]); f.write(view[:k]); n += k
    print(n, h.hexdigest())
else:
    c = socket.create_connection((sys.argv[2], 5202)); h = hashlib.sha256(); t = time.time()
    with open(sys.argv[3], "rb") as f:
        while True:
            b = f.read(256 << 10)
            if not b: break
            h.update(b); c.sendall(b)
    c.shutdown(socket.SHUT_WR); c.recv(1)
    print("%.1f" % (__import__("os").path.getsize(sys.argv[3]) / (time.time() - t) / 2**20), h.hexdigest())
'
copy_run() {
	local pid out
	rm -f "$recv_dir/copy.bin"
	spawn_in_ns b1 "$NETNS_TMP/copy-recv.log" python3 -c "$COPY_PY" recv "$recv_dir/copy.bin"
	pid=$LAST_PID
	wait_port b1 5202 tcp 5 || return 1
	perf_start "copy.$1"
	BACK[copy,$1]=$(back_packets) FWD[copy,$1]=$(fwd_packets)
	local ticks
	ticks=$(cpu_ticks)
	out=$(in_ns a1 timeout 600 python3 -c "$COPY_PY" send 10.2.0.11 "$file" 2>&1)
	BUSY[copy,$1]=$(busy_since "$ticks")
	BACK[copy,$1]=$(($(back_packets) - BACK[copy,$1])) FWD[copy,$1]=$(($(fwd_packets) - FWD[copy,$1]))
	perf_stop
	reap_pid "$pid"
	MBPS[copy,$1]=${out%% *}
	[ "${out#* }" = "$(cut -d' ' -f2 "$NETNS_TMP/copy-recv.log")" ] ||
		echo "    [${1}% loss] TCP copy: digests differ ($out)"
	rm -f "$recv_dir/copy.bin"
}

file_run() {  # file_run LOSS: insel send-file of the file
	local out
	rm -f "$recv_dir/bench.bin"
	echo "    [${1}% loss] load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	perf_start "file.$1"
	BACK[file,$1]=$(back_packets) FWD[file,$1]=$(fwd_packets)
	local ticks
	ticks=$(cpu_ticks)
	out=$(insel_as a1 alice send-file bob@lan-b "$file" 2>&1)
	BUSY[file,$1]=$(busy_since "$ticks")
	BACK[file,$1]=$(($(back_packets) - BACK[file,$1])) FWD[file,$1]=$(($(fwd_packets) - FWD[file,$1]))
	perf_stop
	echo "$out" | sed "s/^/    [${1}% loss] /"
	if ! contains "$out" "sha256 match"; then
		echo "    [${1}% loss] CORRUPTED OR BROKEN TRANSFER"
		failures=$((failures + 1))
	fi
	MBPS[file,$1]=$(sed -n 's/.*bytes in [0-9.]* s (\([0-9.]*\) MiB\/s).*/\1/p' <<<"$out")
	RETR[file,$1]=$(sed -n 's/.*retransmissions \([0-9-]*\)$/\1/p' <<<"$out" | head -n 1)
	rm -f "$recv_dir/bench.bin"
}

for pct in $losses; do
	loss "$pct"
	file_run "$pct"
	tcp_run "$pct"
	copy_run "$pct"
done
loss 0
echo
echo "goodput of ${size_mb} MiB a1 -> b1 (MiB/s), send-file against TCP through a network call:"
printf '%-6s %16s %8s %16s %8s %8s %16s %8s\n' loss send-file retrans "tcp (iperf3)" \
	retrans ratio "tcp file copy" ratio
for pct in $losses; do
	printf '%-6s %16s %8s %16s %8s %7s%% %16s %7s%%\n' "$pct%" "${MBPS[file,$pct]:-?}" \
		"${RETR[file,$pct]:-?}" "${MBPS[tcp,$pct]:-?}" "${RETR[tcp,$pct]:-?}" \
		"$(python3 -c "print(round(100 * float('${MBPS[file,$pct]:-0}' or 0) / (float('${MBPS[tcp,$pct]:-0}' or 0) or 1)))")" \
		"${MBPS[copy,$pct]:-?}" \
		"$(python3 -c "print(round(100 * float('${MBPS[file,$pct]:-0}' or 0) / (float('${MBPS[copy,$pct]:-0}' or 0) or 1)))")"
done
echo "(target: send-file >= 80% of the TCP file copy at 1% loss; iperf3 does no end work)"
for pct in $losses; do
	echo "wan packets at $pct%, a -> b / b -> a: send-file ${FWD[file,$pct]:-?} / ${BACK[file,$pct]:-?}," \
		"iperf3 ${FWD[tcp,$pct]:-?} / ${BACK[tcp,$pct]:-?}, TCP copy ${FWD[copy,$pct]:-?} / ${BACK[copy,$pct]:-?}"
done
for pct in $losses; do
	echo "CPU busy (both cores) at $pct%: send-file ${BUSY[file,$pct]:-?}%," \
		"iperf3 ${BUSY[tcp,$pct]:-?}%, TCP copy ${BUSY[copy,$pct]:-?}%"
done
[ "$failures" -eq 0 ] || echo "CORRUPTED OR BROKEN TRANSFERS: $failures"
