#!/usr/bin/env bash
# Integration: the certificate lifecycle run from the principal (issue 10). lan-a's
# gateway starts with a certificate that expires 70 s into the test:
#   - `insel-principal status`, the principal's log and the client's `insel status` warn;
#   - with an online issuing key, the gateway renews by itself (renew_before 45 s): new key,
#     request, certificate written in place (key 0600), recorded as the gateway's in the
#     directory; a call in progress keeps carrying bytes across the switch; new calls
#     both ways work afterwards;
#   - with no issuing key, the request waits: `status` and `pki requests` show it, the
#     client hears it waits for approval; right after `pki approve` (the directory names
#     the new certificate, the gateway still presents the old one) a call to the gateway
#     goes up (peers accept both); the gateway switches at its next poll, the call in
#     progress goes on, new calls work, and once it registers again the directory forgets
#     the old certificate;
#   - a switch interrupted between its two renames is finished when the gateway starts.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites

json_field() {  # json_field KEY: a top-level field of the JSON object on stdin
	python3 -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"
}
serial_of() { "$P" pki show "$1" --json | json_field serial; }
fingerprint_of() { "$P" pki show "$1" --json | json_field fingerprint; }
renewals() { grep -c "certificate renewed" "$NETNS_TMP/secondary-a.log" 2>/dev/null || true; }
wait_renewals() {  # wait_renewals N SECONDS
	for _ in $(seq 1 $(($2 * 10))); do
		[ "$(renewals)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_log() {  # wait_log FILE TEXT SECONDS
	for _ in $(seq 1 $(($3 * 10))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
start_principal_with() {  # start_principal_with EXTRA-ARGS...: the principal, and wait
	spawn_in_ns principal "$NETNS_TMP/principal.log" "$P" serve --db "$DB" \
		--listen 198.18.0.2:7443 --ca "$PKI/ca.crt" --cert "$PKI/principal.crt" \
		--key "$PKI/principal.key" --heartbeat "$INSEL_HEARTBEAT" \
		--down-after "$INSEL_DOWN_AFTER" "$@"
	PRINCIPAL_PID=$LAST_PID
	wait_port principal 7443 tcp 10
}
# sender LOG PORT: paced datagrams from a1 through the call on PORT (one every 0.1 s),
# each echoed and checked byte for byte, until stop_sender (at most 1,500, 150 s); the
# PID is left in $LAST_PID.
sender() {
	rm -f "$NETNS_TMP/stop-sender"
	spawn_in_ns a1 "$1" python3 "$UDP_TOOL" send 10.1.0.1 "$2" --count 1500 --size 300 \
		--interval 0.1 --timeout 160 --retries 3 --until "$NETNS_TMP/stop-sender"
}
# stop_sender: once the switch is done, 5 s more of datagrams through it (2.5 times
# dead_after), then the sender stops (rather than running a fixed count past the switch).
stop_sender() {
	sleep 5
	touch "$NETNS_TMP/stop-sender"
}
# all_intact LOG: the sender's summary says every datagram it sent came back intact.
all_intact() {
	cat "$1"
	grep -Eq "^sent ([1-9][0-9]*) x 300 B: \1 intact, 0 corrupted, 0 lost" "$1"
}
wait_pid() {  # wait_pid PID SECONDS: until it exits (bounded); its status
	for _ in $(seq 1 $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	wait "$1"
}

# ---- a deployment whose lan-a certificate expires 70 s from now ----
insel_pki
rm -f "$PKI/lan-a.crt" "$PKI/lan-a.key"
"$P" pki issue --dir "$PKI" --role secondary --name lan-a --seconds 70 \
	--out-cert "$PKI/lan-a.crt" --out-key "$PKI/lan-a.key" >/dev/null ||
	fail "pki issue --seconds"
first_serial=$(serial_of "$PKI/lan-a.crt")
insel_directory
start_principal_with --issuing-ca-key "$PKI/ca.key" --issue-validity 75s ||
	fail "principal did not start"
write_secondary_config a 1
write_secondary_config b 2
# renew_poll: after `pki approve`, the test places a call before the gateway's next poll
# fetches the certificate (the middle of the switch); 20 s leaves room for that under
# load (with 10 s, approve and the call took longer than the poll at load 17).
sed -i 's/^\[tls\]$/[tls]\nrenew_before = 45s\nrenew_poll = 20s/' "$NETNS_TMP/secondary-a.conf"
start_secondary a 1
start_secondary b 2
wait_registered || fail "secondaries did not register"

# ---- warnings ahead of the expiry ----
out=$(pdir status 2>&1)
echo "$out"
check "insel-principal status warns of lan-a's expiry" \
	contains "$out" "secondary certificate of lan-a expires in"
check "insel-principal status --json lists it" \
	contains "$(pdir status --json 2>&1)" '"certificate_warnings"'
check "and knows the CA's and the principal's expiries" \
	contains "$(pdir status --warn-before 36500d 2>&1)" "ca certificate of insel test CA"
check "the principal logs the warning" \
	wait_log "$NETNS_TMP/principal.log" "certificate of lan-a expires in" 20
out=$(insel_as a1 alice status 2>&1)
echo "$out"
check "the client's insel status warns of the gateway's expiry" \
	contains "$out" "WARNING  the gateway's certificate expires in"

# ---- a call in progress across the online renewal ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004,5006,5008 \
	--count 100000 --timeout 280
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "alice calls bob before the renewal" contains "$out" " up "
long_call=$(call_id_of "$out")
sender "$NETNS_TMP/send-1.log" 5004
send1=$LAST_PID
check "lan-a's gateway renews its certificate by itself (online issuing key)" \
	wait_renewals 1 60
check "the new key was made inside the key holder, not the daemon" \
	grep -q "generated a new key for a renewal" "$NETNS_TMP/secondary-a.log"
check "the principal issued it at once" \
	grep -q "renewed the certificate of lan-a" "$NETNS_TMP/principal.log"
second_serial=$(serial_of "$PKI/lan-a.crt")
echo "serials: $first_serial -> $second_serial"
check "the certificate file holds a new certificate" \
	test -n "$second_serial" -a "$second_serial" != "$first_serial"
check "the key file is the new key, mode 0600" test "$(stat -c %a "$PKI/lan-a.key")" = 600
same_key() {  # same_key CERT KEY: the certificate certifies that key
	[ "$(certtool --key-id --infile "$1" 2>/dev/null)" = \
		"$(certtool --key-id --load-privkey "$2" 2>/dev/null)" ]
}
check "new certificate and key match" same_key "$PKI/lan-a.crt" "$PKI/lan-a.key"
check "no new key or certificate left beside them" \
	test ! -e "$PKI/lan-a.key.pending" -a ! -e "$PKI/lan-a.key.new" -a ! -e "$PKI/lan-a.crt.new"
fp2=$(fingerprint_of "$PKI/lan-a.crt")
cp "$PKI/lan-a.crt" "$NETNS_TMP/lan-a-second.crt"
check "the directory records it as lan-a's certificate" \
	contains "$(pdir secondary show lan-a --json 2>&1)" "\"fingerprint\": *\"$fp2\""
check "pki requests --all: issued online" \
	contains "$(pdir pki requests --all --json 2>&1)" '"issued_by": *"online"'
stop_sender
wait_pid "$send1" 60
check "bytes kept flowing through the call across the switch (every datagram intact)" \
	all_intact "$NETNS_TMP/send-1.log"
check "it is still the same call" contains "$(insel_as a1 alice calls 2>&1)" "$long_call"
# The gateway registers again with its new certificate (its second registration) before
# peers are asked to reach it.
registrations() { grep -c "registered LAN 'lan-a'" "$NETNS_TMP/secondary-a.log" 2>/dev/null || true; }
for _ in $(seq 1 100); do [ "$(registrations)" -ge 2 ] && break; sleep 0.1; done
out=$(insel_as a1 alice call bob@lan-b --udp 5006 2>&1)
check "a new call from the renewed gateway goes up" contains "$out" " up "
check "and carries traffic" in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5006 --count 5
insel_as a1 alice hangup "$(call_id_of "$out")" >/dev/null 2>&1
listen_as a2 carol "$NETNS_TMP/listen-carol.log" --auto-answer || fail "carol cannot listen"
spawn_echo a2 "$NETNS_TMP/echo-a2.log" 6100,6101 --count 1000 \
	--timeout 280
out=$(insel_as b1 bob call carol@lan-a --udp 6100 2>&1)
check "a new call to the renewed gateway goes up" contains "$out" " up "
check "and carries traffic" in_ns b1 python3 "$UDP_TOOL" send 10.2.0.1 6100 --count 5
insel_as b1 bob hangup "$(call_id_of "$out")" >/dev/null 2>&1

# ---- no issuing key online: the request waits for the operator ----
stop_pid "$PRINCIPAL_PID"
start_principal_with || fail "principal did not restart"
wait_registered || fail "secondaries did not register again"
sender "$NETNS_TMP/send-2.log" 5004
send2=$LAST_PID
check "the next renewal waits for approval" \
	wait_log "$NETNS_TMP/secondary-a.log" "waits for approval at the principal" 60
out=$(pdir pki requests --json 2>&1)
request=$(python3 -c 'import json, sys; r = json.load(sys.stdin); print(r[0]["request"] if r else "")' <<<"$out")
check "pki requests lists the waiting request" test -n "$request"
out=$(pdir pki approve "$request" --dir "$PKI" --seconds 600 2>&1)
echo "$out"
check "pki approve issues it" contains "$out" "valid until"
# Until its next poll the gateway presents the old certificate, while the directory
# already names the new one: peers accept both.
out=$(insel_as b1 bob call carol@lan-a --udp 6101 2>&1)
switched=$(renewals)
check "a call to the gateway goes up in the middle of the switch" contains "$out" " up "
check "(the gateway had not switched yet when it did)" test "$switched" -eq 1
check "and carries traffic" in_ns b1 python3 "$UDP_TOOL" send 10.2.0.1 6101 --count 5
insel_as b1 bob hangup "$(call_id_of "$out")" >/dev/null 2>&1
check "the gateway fetches the approved certificate and switches" wait_renewals 2 40
check "the certificate file holds the approved one" \
	test "$(fingerprint_of "$PKI/lan-a.crt")" = \
	"$(pdir pki requests --all --json | python3 -c 'import json, sys; print([r["fingerprint"] for r in json.load(sys.stdin) if r["request"] == '"$request"'][0])')"
stop_sender
wait_pid "$send2" 90
check "bytes kept flowing through the call across the second switch (every datagram intact)" \
	all_intact "$NETNS_TMP/send-2.log"
check "it is still the same call" contains "$(insel_as a1 alice calls 2>&1)" "$long_call"
out=$(insel_as a1 alice call bob@lan-b --udp 5008 2>&1)
check "a new call after the approved switch goes up" contains "$out" " up "
check "and carries traffic" in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5008 --count 5
insel_as a1 alice hangup "$(call_id_of "$out")" >/dev/null 2>&1
forgets_previous() {
	for _ in $(seq 1 100); do
		pdir lan show lan-a --json | grep -q previous_fingerprint || return 0
		sleep 0.1
	done
	return 1
}
check "once the gateway registers with it, the directory forgets the old certificate" \
	forgets_previous
check "the switches were logged as such" \
	test "$(grep -c "reconnecting to the principal with the new certificate" \
		"$NETNS_TMP/secondary-a.log")" -ge 2

insel_as a1 alice hangup "$long_call" >/dev/null 2>&1
check "the call ends on both gateways" both wait_aux_count a 0 5 -- wait_aux_count b 0 5

# ---- a switch cut short between its renames (new key in place, certificate not) ----
fp3=$(fingerprint_of "$PKI/lan-a.crt")
stop_pid "${SECONDARY_PID[a]}"
mv "$PKI/lan-a.crt" "$PKI/lan-a.crt.new"
cp "$NETNS_TMP/lan-a-second.crt" "$PKI/lan-a.crt"
start_secondary a 1
check "the gateway finishes the interrupted switch at start" \
	wait_log "$NETNS_TMP/secondary-a.log" "finishing a certificate switch" 5
check "and registers with the new certificate" wait_secondary_registered a
check "the certificate in place is the new one" \
	test "$(fingerprint_of "$PKI/lan-a.crt")" = "$fp3" -a ! -e "$PKI/lan-a.crt.new"
check_tun_teardown
finish_checks
