#!/usr/bin/env bash
# Integration: revocation reaches live sessions. Two sites with a trunk between them, a
# UDP call (carol@a2 -> dave@lan-b), a host network call (a1 -> b1) and a UDP call placed
# from lan-b (bob@b1 -> alice@lan-a) on top, traffic flowing; then the operator revokes
# lan-b's secondary
# (`insel-principal secondary revoke lan-b`) while it runs:
#   - the principal closes lan-b's connection and pushes the serial to lan-a, which ends
#     the UDP call, the host call and the trunk: gone on both gateways within 5 s
#     (auxiliaries, TUN interfaces, routing rules);
#   - the directory records every call as ended with reason "revoked" (the call lan-b
#     recorded itself is ended by the revocation, as lan-b can no longer reach the
#     principal), and the clients are told so in a sentence;
#   - a new call to lan-b is refused, and the trunk does not come back;
#   - before any of it: with 600 serials already revoked, a secondary fetches the whole
#     list (more than one 500-serial page).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_pki
insel_directory

# ---- 600 revocations already in the directory: more than one page of the API ----
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
	INSERT INTO revoked_certs (serial, name, reason, revoked_at)
	SELECT printf('%032x', 4096 + i), 'retired-' || i, 'test', strftime('%s', 'now') FROM n" ||
	fail "cannot add the old revocations"

start_principal
add_trunk a 1 to-b lan-b
add_trunk b 2 to-a lan-a
start_secondary a 1
start_secondary b 2
wait_registered || fail "secondaries did not register"
for _ in $(seq 1 50); do
	grep -q "revocation list: 600 certificates" "$NETNS_TMP/secondary-a.log" && break
	sleep 0.1
done
check "a secondary fetches all 600 revoked serials (two pages)" \
	grep -q "revocation list: 600 certificates" "$NETNS_TMP/secondary-a.log"
check "the trunk comes up" wait_ping a2 10.2.0.12 40

# ---- a UDP call and a host network call beside the trunk ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer --tun || fail "bob cannot listen"
listen_as b2 dave "$NETNS_TMP/listen-dave.log" --auto-answer || fail "dave cannot listen"
spawn_echo b2 "$NETNS_TMP/echo-b2.log" 6000 --count 100000 \
	--timeout 60
out=$(insel_as a2 carol call dave@lan-b --udp 6000 2>&1)
check "a UDP call carol -> dave goes up" contains "$out" " up "
udp_call=$(call_id_of "$out")
out=$(insel_as a1 alice call 10.2.0.11 --tun 2>&1)
check "a host call a1 -> b1 goes up beside the trunk" contains "$out" " up "
tun_call=$(call_id_of "$out")
check "the UDP call carries traffic" \
	in_ns a2 python3 "$UDP_TOOL" send 10.1.0.1 6000 --count 20 --size 500
check "the host call carries traffic" pings a1 10.2.0.11 3
check "the trunk carries traffic" pings a2 10.2.0.12 3
listen_as a1 alice "$NETNS_TMP/listen-alice.log" --auto-answer || fail "alice cannot listen"
spawn_echo a1 "$NETNS_TMP/echo-a1.log" 6100 --count 100000 \
	--timeout 60
out=$(insel_as b1 bob call alice@lan-a --udp 6100 2>&1)
check "a UDP call placed from lan-b (bob -> alice) goes up" contains "$out" " up "
b_call=$(call_id_of "$out")
check "and carries traffic" in_ns b1 python3 "$UDP_TOOL" send 10.2.0.1 6100 --count 10 --size 300
check "four auxiliaries on each gateway" both wait_aux_count a 4 5 -- wait_aux_count b 4 5

# Traffic flowing through all three while the revocation lands (bounded: ~15 s each).
spawn_in_ns a2 "$NETNS_TMP/udp-a2.log" python3 "$UDP_TOOL" send 10.1.0.1 6000 \
	--count 100000 --size 200 --timeout 15
spawn_in_ns a1 "$NETNS_TMP/ping-a1.log" ping -n -c 150 -i 0.1 -W 1 10.2.0.11
spawn_in_ns a2 "$NETNS_TMP/ping-a2.log" ping -n -c 150 -i 0.1 -W 1 10.2.0.12
spawn_in_ns b1 "$NETNS_TMP/udp-b1.log" python3 "$UDP_TOOL" send 10.2.0.1 6100 \
	--count 100000 --size 200 --timeout 15
sleep 1

# ---- the operator revokes lan-b's secondary while everything runs ----
gone() {  # nothing of the calls is left on either gateway
	[ "$(aux_count a)" -eq 0 ] && [ "$(aux_count b)" -eq 0 ] &&
		[ "$(tun_links a)" -eq 0 ] && [ "$(tun_links b)" -eq 0 ] &&
		only_kernel_rules a && only_kernel_rules b
}
t0=$(date +%s%N)
pdir secondary revoke lan-b --reason "test: gateway retired" >/dev/null ||
	fail "cannot revoke lan-b"
for _ in $(seq 1 100); do
	gone && break
	sleep 0.1
done
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "every call, trunk and their traces gone ${ms} ms after the revocation"
check "the UDP calls, host call and trunk end on both gateways within 5 s (${ms} ms)" \
	bash -c "[ $ms -le 5000 ]"
check "no auxiliary left on either gateway" \
	bash -c "[ $(aux_count a) -eq 0 ] && [ $(aux_count b) -eq 0 ]"
check "no TUN interface left on either gateway" \
	bash -c "[ $(tun_links a) -eq 0 ] && [ $(tun_links b) -eq 0 ]"
check "no routing rule left on either gateway" both only_kernel_rules a -- only_kernel_rules b
check "the principal closed lan-b's connection" \
	grep -q "closing the connection of secondary lan-b" "$NETNS_TMP/principal.log"
check "lan-a was told by the principal, not at its next refresh" \
	grep -q "the principal revoked 1 certificate" "$NETNS_TMP/secondary-a.log"

# ---- what the directory and the users see ----
calls=$(pdir call list --json)
revoked_records() {
	python3 -c '
import json, sys
calls = json.load(sys.stdin)
want = set(sys.argv[1:])
ended = [c for c in calls if c.get("end_reason") == "revoked"]
trunks = [c for c in ended if c.get("caller") == "lan-a"]
ok = want <= {c["id"] for c in ended} and trunks and not [c for c in calls if c.get("ended_at") is None]
sys.exit(0 if ok else 1)' "$udp_call" "$tun_call" "$b_call" <<<"$calls"
}
check "the directory shows the UDP calls, the host call and the trunk ended: revoked" \
	revoked_records
for _ in $(seq 1 20); do
	grep -q "ended: revoked" "$NETNS_TMP/listen-dave.log" && break
	sleep 0.1
done
check "dave is told the call ended because a certificate was revoked" both \
	grep -q "call $udp_call ended: revoked" "$NETNS_TMP/listen-dave.log" -- \
	grep -q "revoked the certificate of a gateway" "$NETNS_TMP/listen-dave.log"
check "bob is told too" grep -q "call $tun_call ended: revoked" "$NETNS_TMP/listen-bob.log"
check "and alice, called from lan-b" \
	grep -q "call $b_call ended: revoked" "$NETNS_TMP/listen-alice.log"
out=$(insel_as a2 carol call dave@lan-b --udp 6001 2>&1)
echo "$out"
lacks() { ! grep -q -- "$2" <<<"$1"; }
check "a new call to lan-b is refused" lacks "$out" " up "
sleep 2
check "the trunk does not come back" bash -c "[ $(tun_links a) -eq 0 ] && ! pings a2 10.2.0.12"

# ---- nothing remains ----
check_tun_teardown
finish_checks
