#!/usr/bin/env bash
# Heartbeat latency of the principal while the disk under its directory is busy
# (docs/directory-engines.md, "Commits and the disk"): one gateway's TLS session sends a
# heartbeat every 50 ms, each once the last was answered, first on a quiet disk, then
# with a writer beside it that writes and syncs big files in the directory's folder (as a
# `meson install` of a build or a backup would). Prints each phase's median, p99 and
# worst answer time: a directory commit that waits for the disk on the daemon's event
# loop shows here as answers as slow as the disk's sync. With --strace, also the syncs
# (fsync, fdatasync) the daemon made in each phase: on its event loop's thread and on
# others, how many and how long the longest took.
#   bash tests/bench/principal_disk.sh [BUILD-DIR] [--principal PATH] [--seconds N] [--strace]
# Loopback only, no root needed; everything in a temporary folder under /var/tmp (on the
# disk, not in memory), removed at exit.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
[ $# -gt 0 ] && shift
P=$build/principal/insel-principal
C=$build/tests/integration/api-client
seconds=20
trace=()
while [ $# -gt 0 ]; do
	case "$1" in
	--principal) P=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--strace) trace=(strace -f -qq -T -y -e trace=fsync,fdatasync -o "TRACE"); shift ;;
	*) echo "usage: $0 [BUILD-DIR] [--principal PATH] [--seconds N] [--strace]" >&2; exit 2 ;;
	esac
done
tmp=$(mktemp -d /var/tmp/insel-bench.XXXXXX)
pid="" writer=""
cleanup() {
	[ -n "$writer" ] && kill "$writer" 2>/dev/null && wait "$writer" 2>/dev/null
	if [ -n "$pid" ]; then
		# under strace, the daemon is strace's child: stopped first, so that it is
		# done writing its files before they are removed
		[ ${#trace[@]} -gt 0 ] && kill $(ps -o pid= --ppid "$pid") 2>/dev/null
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db=$tmp/directory.db
"$P" pki init --dir "$tmp/ca" --org insel-bench >/dev/null || exit 1
"$P" pki issue --dir "$tmp/ca" --role secondary --name gw-a >/dev/null || exit 1
"$P" pki issue --dir "$tmp/ca" --role principal --name principal >/dev/null || exit 1
"$P" secondary add gw-a --db "$db" >/dev/null || exit 1
"$P" lan add lan-a --prefix 10.1.0.0/24 --secondary gw-a --db "$db" >/dev/null || exit 1
[ ${#trace[@]} -gt 0 ] && trace[-1]=$tmp/strace
"${trace[@]}" "$P" serve --db "$db" --listen 127.0.0.1:0 --ca "$tmp/ca/ca.crt" \
	--cert "$tmp/ca/principal.crt" --key "$tmp/ca/principal.key" --heartbeat 1s \
	--down-after 60s --port-file "$tmp/port" 2>"$tmp/principal.log" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { cat "$tmp/principal.log"; exit 1; }
port=$(cat "$tmp/port")

# phase LABEL: heartbeats for $seconds, each reply timestamped; prints the figures.
phase() {
	local n=$((seconds * 1000 / 60))
	{
		echo '{"op":"hello","id":1,"version":1}'
		echo '{"op":"register","id":2,"lan":"lan-a","prefixes":["10.1.0.0/24"],"endpoint":"127.0.0.1:7445"}'
		for i in $(seq 3 $((n + 2))); do
			echo "#sleep 50"
			echo "{\"op\":\"heartbeat\",\"id\":$i}"
		done
	} | "$C" --ca "$tmp/ca/ca.crt" --cert "$tmp/ca/gw-a.crt" --key "$tmp/ca/gw-a.key" \
		--connect "127.0.0.1:$port" 2>/dev/null |
		python3 -c '
import sys, time
label = sys.argv[1]
stamps = []
for line in sys.stdin:
    if "\"id\"" in line:
        stamps.append(time.monotonic())
# from the register reply on: each gap is the 50 ms pause plus one heartbeat answer
gaps = sorted(max(0.0, (b - a) * 1000 - 50) for a, b in zip(stamps[1:], stamps[2:]))
if not gaps:
    print("%s: no answers" % label); sys.exit(1)
p = lambda q: gaps[min(len(gaps) - 1, int(q * len(gaps)))]
print("%-28s %5d heartbeats: median %7.1f ms, p99 %7.1f ms, worst %7.1f ms" %
      (label, len(gaps), p(0.5), p(0.99), gaps[-1]))
' "$1"
	[ ${#trace[@]} -gt 0 ] && syncs "$1"
}

# syncs LABEL: the daemon's syncs since the last call, from strace's log (a line per
# call: TID fdatasync(FD) = 0 <SECONDS>); the event loop's thread is the process's own.
traced=0
syncs() {
	local main
	main=$(ps -o pid= --ppid "$pid" | head -n 1 | tr -d ' ')
	python3 - "$tmp/strace" "$traced" "$main" "$1" <<'PY'
import re, sys
path, skip, main, label = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
loop, other, files = [], [], set()
for line in open(path).readlines()[skip:]:
    m = re.match(r"(\d+) +f(?:data)?sync\(\d+<([^>]*)>.*<([0-9.]+)>", line)
    if m:
        (loop if m.group(1) == main else other).append(float(m.group(3)) * 1000)
        if m.group(1) == main:
            files.add(m.group(2).rsplit("/", 1)[-1])
fmt = lambda v: "%d, longest %.1f ms" % (len(v), max(v)) if v else "0"
print("%-28s syncs on the event loop: %s%s; on other threads: %s" %
      ("", fmt(loop), " (%s)" % ", ".join(sorted(files)) if files else "", fmt(other)))
PY
	traced=$(wc -l <"$tmp/strace")
}

phase "quiet disk"
# The writer: 1 GiB files written in the directory's folder and synced, one after the
# other, until stopped.
(
	while :; do
		dd if=/dev/zero of="$tmp/ballast" bs=1M count=1024 status=none
		sync -f "$tmp"
		rm -f "$tmp/ballast"
	done
) &
writer=$!
sleep 1
phase "busy disk (writer beside)"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
writer=""
rm -f "$tmp/ballast"
grep -i "error\|not on the disk" "$tmp/principal.log" | head -n 5
