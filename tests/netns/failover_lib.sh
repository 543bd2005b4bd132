#!/usr/bin/env bash
# Failover test bed (issue 13), shared by tests/netns/failover.sh and
# tests/bench/failover.sh: the two sites of lib.sh with a trunk between them (both
# gateways public, the principal's relay at 198.18.0.2:3479 as the standby), the direct
# path cut and restored with an nftables rule in the wan router that drops UDP between the
# two gateways' wan addresses (the relay and the TLS signalling still pass), and a ping
# stream whose timestamps measure the gap. Source after lib.sh and insel_env.sh.
GW_A=198.18.1.2
GW_B=198.18.2.2
RELAY=198.18.0.2:3479

cut_direct() {
	in_ns wan nft -f - <<NFT
table inet insel_failover_test {
	chain between_gateways {
		type filter hook forward priority filter;
		ip saddr { $GW_A, $GW_B } ip daddr { $GW_A, $GW_B } meta l4proto udp counter drop
	}
}
NFT
}
restore_direct() { in_ns wan nft delete table inet insel_failover_test 2>/dev/null; }

# The trunk's path on gateway X as `insel calls` says it ("direct to ...", "relayed to").
trunk_path() {  # trunk_path LETTER
	insel_operator "$1" calls 2>&1 | sed -n 's/.*path: \([a-z]* to [0-9.:]*\).*/\1/p' |
		head -n 1
}
wait_trunk_path() {  # wait_trunk_path LETTER PATTERN SECONDS
	local i
	for i in $(seq $(($3 * 10))); do
		grep -q -- "$2" <<<"$(trunk_path "$1")" && return 0
		sleep 0.1
	done
	return 1
}
# The ids of the calls gateway X has (sorted, one line).
call_ids() {
	insel_operator "$1" calls --json 2>/dev/null |
		python3 -c 'import json,sys
print(" ".join(sorted(c.get("id","") for c in json.load(sys.stdin).get("calls",[]))))' 2>/dev/null
}
now_s() { date +%s.%N; }

# ping_gap LOG CUT: from `ping -D` output and the time of the cut (seconds since the
# epoch), the outage: "GAP_MS LOST", GAP_MS from the cut to the first reply after the
# longest silence between replies that began at or after the cut's last reply (the
# first packet through the new path), LOST the replies missing overall.
ping_gap() {
	python3 - "$1" "$2" <<'PY'
import re, sys
cut = float(sys.argv[2])
ts, seqs = [], []
for line in open(sys.argv[1]):
    m = re.match(r"\[(\d+\.\d+)\].*icmp_seq=(\d+)", line)
    if m:
        ts.append(float(m.group(1)))
        seqs.append(int(m.group(2)))
after = [t for t in ts if t > cut]
before = [t for t in ts if t <= cut]
if not after:
    print("-1 -1")
    sys.exit(0)
# The longest silence that spans or follows the cut ends with the first packet over the
# new path.
points = ([before[-1]] if before else []) + after
best, end = 0.0, after[0]
for a, b in zip(points, points[1:]):
    if b - a > best:
        best, end = b - a, b
lost = (max(seqs) - min(seqs) + 1 - len(seqs)) if seqs else -1
print("%d %d" % (round((end - cut) * 1000), lost))
PY
}
