#!/usr/bin/env bash
# Integration: signalling across NAT when neither gateway can be dialled (docs/nat.md,
# issue 12), on the NAT test bed (nat_lib.sh): both sites' gateways behind a
# port-preserving masquerade. The principal's check finds neither can be dialled; a call
# from alice@lan-a to bob@lan-b is set up through the principal's splice (both
# secondaries dial its splice port, their mutual TLS end to end through it): `insel
# calls` on both sides, the principal's log and its call record say "spliced". A hang-up
# ends it on both sides and the principal keeps no pairing. A call is up only once its
# UDP crosses (hole punching, the relay): behind two Linux masquerades and without the
# relay it ends no_path instead, after the same splicing.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
source "$here/nat_lib.sh"
netns_begin
nat_require_nft

nat_two_sites preserve preserve
insel_deploy || fail "deployment did not come up"

check "the principal finds that site A's gateway cannot be dialled" nat_wait_reachable lan-a false
check "nor site B's" nat_wait_reachable lan-b false

listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100000 \
	--timeout 120
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
# Behind two Linux masquerades UDP cannot be punched (the first probe to reach the later
# router makes it remap that side), and a call is up only once authenticated frames
# crossed both ways: until the relay carries it, the call ends no_path, after the
# signalling was spliced all the same.
if contains "$out" " up "; then
	call=$(call_id_of "$out")
	check "insel call says the signalling was spliced" contains "$out" "signalling spliced"
	check "alice's side lists the call as spliced" \
		contains "$(insel_as a1 alice calls --json 2>&1)" '"signalling": *"spliced"'
	check "bob's side lists it as spliced too" \
		contains "$(insel_operator b calls --json 2>&1)" '"signalling": *"spliced"'
	insel_as a1 alice hangup "$call" >/dev/null 2>&1
	check "the hang-up ends the call on bob's side" wait_aux_count b 0 5
	check "the principal's call record says spliced" \
		contains "$(pdir call show "$call" 2>&1)" "spliced"
else
	echo "note - no data path through both NATs yet (no relay): the call ends no_path"
	check "the call ends no_path, not up" contains "$out" "no_path"
	call=$(grep -o "splice: call [0-9a-f]\{16\} between lan-a and lan-b" \
		"$NETNS_TMP/principal.log" | head -n 1 | awk '{print $3}')
	check "no auxiliary is left on bob's side" wait_aux_count b 0 5
fi
check "the principal spliced it" grep -q "splice: call $call between lan-a and lan-b" \
	"$NETNS_TMP/principal.log"
check "both secondaries dialled the principal's splice" both \
	grep -q "call $call: both gateways dial the principal's splice" \
	"$NETNS_TMP/secondary-a.log" -- \
	grep -q "call $call: secondary lan-a cannot dial us; dialling the principal's splice" \
	"$NETNS_TMP/secondary-b.log"
# The splice sees only the secondaries' TLS: nothing of the call's JSON crosses in clear.
check "the TLS runs end to end through the splice (the secondaries saw each other's certificates)" \
	grep -q "peer secondary 'lan-a' connected" "$NETNS_TMP/secondary-b.log"

finish_checks
echo "all splicing checks passed"
