#!/usr/bin/env bash
# Integration: two principals on one directory (docs/principals.md). Both serve the same
# SQLite file (WAL; the namespaces share the filesystem), each in a namespace of its own
# on the wan; site A prefers principal 1, site B principal 2 ([principal] address lists
# both, in that order):
#   - a look-up at one principal finds the secondary registered at the other: bob (at
#     principal 2) calls carol (at principal 1), and the call carries datagrams;
#   - site B's gateway cannot be dialled: alice (principal 1) calls bob (principal 2) by
#     dial_back, the notice passed through the directory's mailbox (polled on SQLite);
#   - kill -9 of principal 2 while site B places calls: site B moves to principal 1
#     within its heartbeat time; the calls up stay up and carry traffic; new calls work;
#     the record of every call placed meanwhile, ended ones included, is in the
#     directory (the records in flight on the dead link are sent again to the other);
#   - principal 2 back: site B moves back to it (failing back), and calls still work;
#   - principal 2 again, but on a directory that does not know site B (it answers the
#     handshake and refuses the registration): site B stays with principal 1 and tries
#     principal 2 again less and less often (1 s, then 2 s, ...), not once a heartbeat.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
ns_add principal2
link_ns wan 198.18.9.1/24 principal2 198.18.9.2/24
ip -n "${NS}principal2" route add default via 198.18.9.1

P1=198.18.0.2:7443
P2=198.18.9.2:7443
insel_pki
"$P" pki issue --dir "$PKI" --role principal --name principal \
	--out-cert "$PKI/principal2.crt" --out-key "$PKI/principal2.key" >/dev/null
insel_directory
start_principal
P1_PID=$PRINCIPAL_PID

start_principal2() {  # start_principal2 [DB]
	spawn_in_ns principal2 "$NETNS_TMP/principal2.log" "$P" serve --db "${1:-$DB}" \
		--listen "$P2" --ca "$PKI/ca.crt" --cert "$PKI/principal2.crt" \
		--key "$PKI/principal2.key" --heartbeat "$INSEL_HEARTBEAT" \
		--down-after "$INSEL_DOWN_AFTER"
	P2_PID=$LAST_PID
	wait_port principal2 7443 tcp 10
}
start_principal2

# Each site lists both principals, its own preferred one first.
write_secondary_config a 1
write_secondary_config b 2
sed -i "s/^address = .*:$INSEL_PRINCIPAL_PORT\$/address = $P1, $P2/" "$NETNS_TMP/secondary-a.conf"
sed -i "s/^address = .*:$INSEL_PRINCIPAL_PORT\$/address = $P2\naddress = $P1/" \
	"$NETNS_TMP/secondary-b.conf"
# Site B's gateway cannot be dialled (a firewall refuses new connections to its peer
# port, as a NAT would): a call to it from site A needs a dial_back notice that principal
# 1 must pass to principal 2 (the mailbox on SQLite: polled). Its own calls are direct.
have_nft=""
if command -v nft >/dev/null && in_ns gw-b nft -f - <<EOF
table inet xprincipal {
	chain in {
		type filter hook input priority 0;
		tcp dport $INSEL_PEER_PORT ct state new reject with tcp reset;
	}
}
EOF
then
	have_nft=1
fi
start_secondary a 1
start_secondary b 2

registered_at() {  # registered_at LETTER ADDR:PORT [SECONDS]: the site's log says so
	local i
	for i in $(seq 1 $((${3:-10} * 20))); do
		grep -q "registered LAN 'lan-$1' with the principal at $2" \
			"$NETNS_TMP/secondary-$1.log" && return 0
		sleep 0.05
	done
	return 1
}
check "site A registers with principal 1" registered_at a "$P1"
check "site B registers with principal 2" registered_at b "$P2"

# ---- a look-up at principal 2 finds a secondary registered at principal 1 ----
listen_as a2 carol "$NETNS_TMP/listen-carol.log" --auto-answer || fail "carol cannot listen"
spawn_echo a2 "$NETNS_TMP/echo-a2.log" 6100 --count 100000 \
	--timeout 120
out=$(insel_as b1 bob call carol@lan-a --udp 6100 2>&1)
check "bob (principal 2) calls carol (principal 1)" contains "$out" " up "
long_call=$(call_id_of "$out")
check "the call carries datagrams both ways" \
	in_ns b1 python3 "$UDP_TOOL" send 10.2.0.1 6100 --count 10 --size 800
if [ -n "$have_nft" ]; then
	listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
	out=$(insel_as a1 alice call bob@lan-b 2>&1)
	check "alice (principal 1) calls bob (principal 2, cannot be dialled): dial_back" \
		contains "$out" "signalling reversed"
	# Site B may dial back before principal 1 polls the mailbox and sees it delivered.
	for _ in $(seq 1 30); do
		told=$(grep -o "call $(call_id_of "$out"): lan-a cannot dial lan-b (linked to another principal; told in [0-9]* ms)" \
			"$NETNS_TMP/principal.log")
		[ -n "$told" ] && break
		sleep 0.1
	done
	echo "$told"
	check "principal 1 passed the notice to principal 2 through the directory's mailbox" \
		test -n "$told"
	insel_as a1 alice hangup "$(call_id_of "$out")" >/dev/null 2>&1
else
	echo "note - nft is not installed: no call to a gateway that cannot be dialled"
fi

# ---- kill -9 of principal 2 while site B places calls ----
# Three calls from dave stay up over the kill; site A hangs them up right after it, so
# that they end while site B is moving (their records on the dead link or in the outbox).
held=()
for _ in 1 2 3; do
	out=$(insel_as b2 dave call carol@lan-a --udp 6100 2>&1)
	held+=("$(call_id_of "$out")")
done
check "dave holds three calls before the kill" test "$(printf '%s\n' "${held[@]}" | grep -c .)" -eq 3
# Meanwhile dave places calls to carol one after another and hangs each up (again until
# it is done: the hang-up's log-in fails while site B has no principal). Some are refused
# while site B has no principal; every one placed must be recorded with its end.
cat >"$NETNS_TMP/caller.sh" <<SCRIPT
client() { env INSEL_PASSWORD=pw-dave "$C" "\$@" --secondary 10.2.0.1:$INSEL_CLIENT_PORT \
	--ca "$PKI/ca.crt" --user dave; }
end=\$((SECONDS + 10))
for i in \$(seq 1 40); do
	[ \$SECONDS -lt \$end ] || break
	out=\$(client call carol@lan-a --udp 6100 2>&1)
	id=\$(sed -n 's/^call \([0-9a-f]\{16\}\) .*/\1/p' <<<"\$out" | head -n 1)
	if [ -n "\$id" ]; then
		echo "placed \$id"
		for j in \$(seq 1 30); do
			client hangup "\$id" >/dev/null 2>&1 && break
			sleep 0.2
		done
	else
		echo "refused: \$(head -n 1 <<<"\$out")"
	fi
	sleep 0.1
done
SCRIPT
spawn_in_ns b2 "$NETNS_TMP/caller.log" bash "$NETNS_TMP/caller.sh"
caller_pid=$LAST_PID
sleep 1
kill -9 "$P2_PID"
killed_at=$(date +%s%N)
(for id in "${held[@]}"; do  # one after another: two log-ins of one user at once at most
	insel_operator a hangup "$id" >/dev/null 2>&1 ||
		echo "site A could not hang up call $id" >&2
done) &
hangups_pid=$!
wait "$P2_PID" 2>/dev/null
check "site B registers with principal 1" registered_at b "$P1" 5
at=$(grep -m1 "registered LAN 'lan-b' with the principal at $P1" "$NETNS_TMP/secondary-b.log" |
	cut -d' ' -f1)
moved_ms=$((($(date -d "$at" +%s%N) - killed_at) / 1000000))
echo "site B registered with principal 1 ${moved_ms} ms after the kill"
check "site B moved within its heartbeat time (1 s; 2 s allowed under load)" \
	test "$moved_ms" -lt 2000
wait "$hangups_pid"
check "the call up before the kill still carries datagrams" \
	in_ns b1 python3 "$UDP_TOOL" send 10.2.0.1 6100 --count 10 --size 800
out=$(insel_as b1 bob call carol@lan-a --udp 6100 2>&1)
check "a new call from site B works through principal 1" contains "$out" " up "
insel_as b1 bob hangup "$(call_id_of "$out")" >/dev/null 2>&1
wait "$caller_pid" 2>/dev/null  # it ends by itself within its 10 s and the hang-ups
placed=$(grep -c '^placed ' "$NETNS_TMP/caller.log" || true)
echo "dave placed $placed calls over the failover ($(grep -c '^refused' \
	"$NETNS_TMP/caller.log" || true) refused)"
check "calls were placed over the failover" test "$placed" -ge 3

# Every call dave placed has its record with an end in the directory.
all_recorded() {
	local id rec
	for id in "${held[@]}" $(sed -n 's/^placed //p' "$NETNS_TMP/caller.log"); do
		rec=$(pdir call show "$id" --json 2>&1)
		grep -q '"end_reason": *"' <<<"$rec" || {
			echo "call $id: $rec" >&2
			grep -h "$id\|call record\|principal" "$NETNS_TMP/secondary-b.log" >&2
			return 1
		}
	done
}
wait_recorded() {
	for _ in $(seq 1 25); do
		all_recorded 2>/dev/null && return 0
		sleep 0.2
	done
	all_recorded
}
check "every call placed or ended over the failover is recorded, with its end" wait_recorded

# ---- principal 2 back: site B fails back to it ----
start_principal2
registered_twice_at() {  # registered_twice_at LETTER ADDR:PORT SECONDS
	for _ in $(seq 1 $(($3 * 10))); do
		[ "$(grep -c "registered LAN 'lan-$1' with the principal at $2" \
			"$NETNS_TMP/secondary-$1.log")" -ge 2 ] && return 0
		sleep 0.1
	done
	return 1
}
check "site B moves back to principal 2 once it answers again" registered_twice_at b "$P2" 10
check "the first call still carries datagrams" \
	in_ns b1 python3 "$UDP_TOOL" send 10.2.0.1 6100 --count 10 --size 800
insel_as b1 bob hangup "$long_call" >/dev/null 2>&1
rec=$(ended_record "$long_call")
check "the first call's record ends (recorded at principal 2, ended through it again)" \
	contains "$rec" '"end_reason": *"hangup"'

# ---- a principal that answers the handshake but refuses the registration ----
stop_pid "$P2_PID"
check "site B registers with principal 1 again" registered_twice_at b "$P1" 10
start_principal2 "$NETNS_TMP/other.db"
held_back() {  # held_back N MS: the N-th failed move back makes the next wait MS
	for _ in $(seq 1 150); do
		grep -q "moving back to the principal at $P2 did not hold ($1 time.* in a row); the next try in $2 ms" \
			"$NETNS_TMP/secondary-b.log" && return 0
		sleep 0.1
	done
	return 1
}
check "a refused move back to principal 2 waits a heartbeat before the next" held_back 1 1000
check "the next refusal waits twice as long" held_back 2 2000
call_works() {
	local out
	out=$(insel_as b1 bob call carol@lan-a --udp 6100 2>&1)
	contains "$out" " up " || return 1
	insel_as b1 bob hangup "$(call_id_of "$out")" >/dev/null 2>&1
}
check "site B's link stays with principal 1 meanwhile (a call works)" call_works
finish_checks
