#!/usr/bin/env bash
# Integration: the directory trusts the operator, and secondaries trust only the principal.
#   - a server presenting an operator-role certificate (a tool's), a principal-role
#     certificate with another name, or the right name but not the pinned fingerprint is
#     never taken for the directory: the secondary refuses it at the handshake and never
#     registers with it;
#   - with the right principal, a secondary whose configuration widens its LAN's prefixes,
#     or names a LAN the operator bound to another secondary, or that the operator never
#     added, is refused with the rule it broke, and the directory is unchanged;
#   - the operator's binding and a confirming (or narrowing) configuration register.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_pki
"$P" pki issue --dir "$PKI" --role operator --name ops --out-cert "$PKI/ops.crt" \
	--out-key "$PKI/ops.key" >/dev/null
"$P" pki issue --dir "$PKI" --role principal --name impostor \
	--out-cert "$PKI/impostor.crt" --out-key "$PKI/impostor.key" >/dev/null
"$P" pki issue --dir "$PKI" --role secondary --name lan-c \
	--out-cert "$PKI/lan-c.crt" --out-key "$PKI/lan-c.key" >/dev/null
insel_directory

# serve_as CERT: a principal daemon at the usual address presenting certificate CERT.
serve_as() {
	spawn_in_ns principal "$NETNS_TMP/principal.log" "$P" serve --db "$DB" \
		--listen 198.18.0.2:7443 --ca "$PKI/ca.crt" --cert "$PKI/$1.crt" \
		--key "$PKI/$1.key" --heartbeat 1s --down-after 5s
	PRINCIPAL_PID=$LAST_PID
	wait_port principal 7443 tcp 10
}
# set_principal KEY VALUE: the [principal] KEY of site a's configuration (KEY = VALUE).
set_principal() {
	sed -i "/^\[principal\]/,/^\[/{/^$1 = /d}" "$NETNS_TMP/secondary-a.conf"
	sed -i "s/^\[principal\]\$/[principal]\n$1 = $2/" "$NETNS_TMP/secondary-a.conf"
}
# try_secondary_a PATTERN: starts site a's secondary until its log shows PATTERN (bounded),
# then stops it; succeeds if the pattern came.
try_secondary_a() {
	local found=1
	start_secondary a 1
	wait_log "$NETNS_TMP/secondary-a.log" "$1" && found=0
	stop_pid "${SECONDARY_PID[a]}"
	return $found
}
wait_log() {  # wait_log FILE PATTERN: until FILE shows PATTERN (at most 10 s)
	for _ in $(seq 1 100); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "---- $1" && tail -n 20 "$1"
	return 1
}
never_registered() { ! grep -q "registered LAN" "$NETNS_TMP/secondary-a.log"; }

write_secondary_config a 1

# ---- only the configured principal is the directory ----
serve_as ops
check "a server with an operator-role (tool) certificate is refused" \
	try_secondary_a "role 'operator', expected 'principal'"
check "and never registered with" never_registered
stop_pid "$PRINCIPAL_PID"

serve_as impostor
check "a principal-role certificate with another name is refused" \
	try_secondary_a "peer is 'impostor', expected 'principal'"
check "and never registered with" never_registered
stop_pid "$PRINCIPAL_PID"

serve_as principal
set_principal fingerprint "$(printf '%064d' 0)"
check "the right name with another fingerprint than the pinned one is refused" \
	try_secondary_a "not the pinned"
check "and never registered with" never_registered
fp=$("$P" pki show "$PKI/principal.crt" --json | sed -n 's/.*"fingerprint": *"\([0-9a-f]*\)".*/\1/p')
set_principal fingerprint "$fp"
check "the pinned principal is accepted" try_secondary_a "registered LAN 'lan-a'"

# ---- registrations confirm the operator's binding, never widen or claim ----
sed -i 's|^prefix = 10.1.0.0/24|prefix = 10.1.0.0/16|' "$NETNS_TMP/secondary-a.conf"
check "a configuration widening the LAN's prefixes is refused, naming the rule" \
	try_secondary_a "prefix 10.1.0.0/16 is not inside a prefix of LAN lan-a"
sed -i 's|^prefix = 10.1.0.0/16|prefix = 10.1.0.0/25|' "$NETNS_TMP/secondary-a.conf"
check "a narrower configuration registers" try_secondary_a "registered LAN 'lan-a'"
out=$(pdir lan show lan-a)
check "the directory keeps the operator's prefix" contains "$out" "10.1.0.0/24"
sed -i 's|^prefix = 10.1.0.0/25|prefix = 10.1.0.0/24|' "$NETNS_TMP/secondary-a.conf"

# lan-c: a CA-issued secondary certificate the operator never added, claiming lan-b from
# lan-b's gateway.
write_secondary_config b 2
sed -e 's/^name = lan-b/name = lan-c/' -e 's|lan-b.crt|lan-c.crt|' -e 's|lan-b.key|lan-c.key|' \
	-e 's|secondary-b.sock|secondary-c.sock|' \
	"$NETNS_TMP/secondary-b.conf" >"$NETNS_TMP/secondary-c.conf"
spawn_in_ns gw-b "$NETNS_TMP/secondary-c.log" "$S" -v run --config "$NETNS_TMP/secondary-c.conf"
c_pid=$LAST_PID
check "a secondary the operator never added cannot register" \
	wait_log "$NETNS_TMP/secondary-c.log" "secondary lan-c is not in the directory"
stop_pid "$c_pid"
pdir secondary add lan-c >/dev/null
spawn_in_ns gw-b "$NETNS_TMP/secondary-c.log" "$S" -v run --config "$NETNS_TMP/secondary-c.conf"
c_pid=$LAST_PID
check "nor take over a LAN bound to another secondary" \
	wait_log "$NETNS_TMP/secondary-c.log" "LAN lan-b is served by secondary lan-b, not lan-c"
stop_pid "$c_pid"
out=$(pdir lan show lan-b)
check "lan-b is still bound to lan-b" contains "$out" "secondary *lan-b"

# ---- and with the operator's binding the deployment works ----
start_secondary a 1
start_secondary b 2
check "both secondaries register" wait_registered
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100 --timeout 30
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "a call goes up" contains "$out" " up "
check "and carries traffic" in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 5 --size 300

check_tun_teardown
finish_checks
