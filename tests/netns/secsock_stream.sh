#!/usr/bin/env bash
# Reliable stream channels of libinsel-secsock (docs/secsock.md "Reliable channels"): the
# example program examples/secsock_stream.c, built as an application, on two hosts joined
# by a wan namespace that drops UDP with nftables `numgen random` (the call's TLS set-up
# is TCP and stays out of the experiment):
#   - 4 MiB (SECSOCK_STREAM_MB) at 1% loss (blocking calls) and at 5% loss (non-blocking,
#     partial writes):
#     the receiver's file has the sender's SHA-256; time and retransmissions printed;
#   - sec_abort mid-transfer: the receiver reads "the peer aborted the connection";
#   - the wan cut mid-transfer (everything dropped): both sides end with "the peer
#     stopped answering" within the stream time-out (3 s here);
#   - the receiving process killed (-9) mid-transfer: the sender ends with the same error
#     at once (its TLS connection closed without close_notify).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/lib.sh
source "$here/lib.sh"

build=${INSEL_BUILD:?}
prog=$build/tests/netns/secsock-stream
principal=$build/principal/insel-principal
[ -x "$prog" ] || { echo "SKIP: $prog not built" >&2; exit 77; }
command -v nft >/dev/null || { echo "SKIP: nft not installed" >&2; exit 77; }
command -v tc >/dev/null || { echo "SKIP: tc not installed" >&2; exit 77; }
netns_begin
t0=$SECONDS

ns_add wan
enable_forwarding wan
ns_add h1
ns_add h2
link_ns wan 198.18.1.1/24 h1 198.18.1.2/24
link_ns wan 198.18.2.1/24 h2 198.18.2.2/24
ip -n "${NS}h1" route add default via 198.18.1.1
ip -n "${NS}h2" route add default via 198.18.2.1

p=$NETNS_TMP/pki
"$principal" pki init --dir "$p" --org "Stream Test" >"$NETNS_TMP/pki.log" 2>&1 || fail "pki init"
for name in receiver sender; do
	"$principal" pki issue --dir "$p" --role user --name "$name" >>"$NETNS_TMP/pki.log" 2>&1 ||
		fail "pki issue $name"
done
mb=${SECSOCK_STREAM_MB:-4}
head -c $((mb << 20)) /dev/urandom >"$NETNS_TMP/data"
head -c $((32 << 20)) /dev/urandom >"$NETNS_TMP/32m"

# loss N: drop N% of the UDP crossing the wan; 100: drop everything, TCP too (a cut).
loss() {
	local rule="meta l4proto udp numgen random mod 100 < $1 drop"
	in_ns wan nft delete table ip secsock_loss 2>/dev/null
	[ "$1" = 0 ] && return 0
	[ "$1" = 100 ] && rule="drop"
	in_ns wan nft -f - <<NFT
table ip secsock_loss {
	chain lossy {
		type filter hook forward priority 0;
		$rule
	}
}
NFT
}

# serve TAG [OPTION...]: a receiver on h2 writing to $NETNS_TMP/TAG.out; its PID in
# $server, its port in $port.
serve() {
	local tag=$1
	shift
	rm -f "$NETNS_TMP/$tag.port"
	spawn_in_ns h2 "$NETNS_TMP/$tag.server.log" timeout 60 "$prog" serve "$p/ca.crt" \
		"$p/receiver.crt" "$p/receiver.key" 198.18.2.2:0 "$NETNS_TMP/$tag.port" \
		"$NETNS_TMP/$tag.out" "$@"
	server=$LAST_PID
	for _ in $(seq 100); do
		[ -s "$NETNS_TMP/$tag.port" ] && break
		sleep 0.05
	done
	[ -s "$NETNS_TMP/$tag.port" ] || fail "$tag: the receiver wrote no port"
	port=$(cat "$NETNS_TMP/$tag.port")
}

# send TAG FILE [OPTION...]: the sender on h1, in the background; its PID in $sender.
send() {
	local tag=$1 file=$2
	shift 2
	spawn_in_ns h1 "$NETNS_TMP/$tag.sender.log" timeout 60 "$prog" send "$p/ca.crt" \
		"$p/sender.crt" "$p/sender.key" "198.18.2.2:$port" receiver "$file" "$@"
	sender=$LAST_PID
}

# finish PID: its exit status (the program's own; timeout gives 124).
finish() {
	wait "$1"
}

show() {
	sed 's/^/    /' "$NETNS_TMP/$1.sender.log" "$NETNS_TMP/$1.server.log"
}

# until_received TAG BYTES: waits (10 s at most) until the receiver has written that much.
until_received() {
	for _ in $(seq 200); do
		[ "$(stat -c %s "$NETNS_TMP/$1.out" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.05
	done
	fail "$1: the receiver never got $2 bytes"
}

# ---- $mb MiB through loss: the same bytes arrive ----
want=$(sha256sum <"$NETNS_TMP/data" | cut -d' ' -f1)
for run in "1 blocking" "5 nonblocking"; do
	read -r pct how <<<"$run"
	tag=loss$pct
	loss "$pct"
	serve "$tag"
	opt=()
	[ "$how" = nonblocking ] && opt=(--nonblocking)
	start=$SECONDS
	send "$tag" "$NETNS_TMP/data" "${opt[@]}"
	finish "$sender" || { show "$tag"; fail "$tag: the sender failed"; }
	finish "$server" || { show "$tag"; fail "$tag: the receiver failed"; }
	got=$(sha256sum <"$NETNS_TMP/$tag.out" | cut -d' ' -f1)
	[ "$got" = "$want" ] || { show "$tag"; fail "$tag: sha256 $got, sent $want"; }
	grep -q "received $((mb << 20)) bytes, then the end of the stream" "$NETNS_TMP/$tag.server.log" ||
		{ show "$tag"; fail "$tag: the receiver did not see the end of the stream"; }
	pass "$mb MiB at $pct% loss ($how): sha256 matches, $((SECONDS - start)) s;" \
		"$(grep -o 'sent [0-9]* bytes in .*MiB/s)' "$NETNS_TMP/$tag.sender.log")," \
		"$(grep -o 'retransmissions [0-9]*' "$NETNS_TMP/$tag.sender.log")"
done
loss 0

# Mid-transfer checks need a transfer that lasts: the wan forwards toward h2 at 40 Mbit/s.
in_ns wan tc qdisc add dev v-h2 root tbf rate 40mbit burst 64kb latency 100ms ||
	fail "tc tbf on the wan"

# ---- abort: the receiver is told, clearly ----
serve abort
send abort "$NETNS_TMP/32m" --abort-after $((1 << 20))
finish "$sender" || { show abort; fail "abort: the sender failed"; }
finish "$server"
rc=$?
[ "$rc" = 3 ] || { show abort; fail "abort: the receiver exited $rc, not 3"; }
grep -q 'receiving after [0-9]* bytes: the peer aborted the connection' \
	"$NETNS_TMP/abort.server.log" || { show abort; fail "abort: no clear error"; }
pass "abort: $(grep -o 'receiving after.*' "$NETNS_TMP/abort.server.log")"

# ---- the wan cut mid-transfer: both sides time out with the reason ----
serve cut --dead-ms 3000
send cut "$NETNS_TMP/32m" --dead-ms 3000
until_received cut $((1 << 20))
loss 100
cut_at=$SECONDS
finish "$sender"
rc=$?
[ "$rc" = 3 ] || { show cut; fail "cut: the sender exited $rc, not 3"; }
finish "$server"
rc2=$?
took=$((SECONDS - cut_at))
loss 0
[ "$rc2" = 3 ] || { show cut; fail "cut: the receiver exited $rc2, not 3"; }
grep -q 'the peer stopped answering' "$NETNS_TMP/cut.sender.log" ||
	{ show cut; fail "cut: the sender does not say the peer stopped answering"; }
grep -q 'receiving after [0-9]* bytes: the peer stopped answering' "$NETNS_TMP/cut.server.log" ||
	{ show cut; fail "cut: the receiver does not say the peer stopped answering"; }
[ "$took" -le 15 ] || fail "cut: the sides took $took s to give up (time-out 3 s)"
pass "wan cut: both sides say the peer stopped answering, within $took s"

# ---- the receiving process killed: the sender knows at once ----
serve kill
send kill "$NETNS_TMP/32m"
until_received kill $((1 << 20))
# $server is timeout(1); the receiver is its child
victim=$(ps -o pid= --ppid "$server" | tr -d ' ')
[ -n "$victim" ] || fail "kill: no receiver process under $server"
kill -9 "$victim"
killed_at=$SECONDS
finish "$sender"
rc=$?
[ "$rc" = 3 ] || { show kill; fail "kill: the sender exited $rc, not 3"; }
grep -q 'the peer stopped answering' "$NETNS_TMP/kill.sender.log" ||
	{ show kill; fail "kill: the sender does not say why"; }
pass "receiver killed: the sender says so within $((SECONDS - killed_at)) s" \
	"($(grep -o '[a-z]* after [0-9]* bytes' "$NETNS_TMP/kill.sender.log"))"

echo "netns-secsock-stream: all passed in $((SECONDS - t0)) s"
