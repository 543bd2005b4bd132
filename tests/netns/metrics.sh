#!/usr/bin/env bash
# Integration: /metrics on the principal and both secondaries (docs/metrics.md) and the
# principal's event log (docs/events.md), with real processes and a real call:
#   - each page passes `promtool check metrics` (SKIP of that check alone, with a line,
#     where promtool is missing) and shows the state: both LANs up, the principal link up;
#   - values move with traffic: a call placed and answered counts a set-up (and its
#     duration), the datagrams it carries move the bytes and frames, a call to a user who
#     does not answer counts a refusal with its reason, a wrong password a failed login at
#     the principal (and an auth_failed API error), look-ups count;
#   - the event log holds the call (placed, answered, ended with its reason), the call to
#     dave (placed, refused with its reason) and the failed login,
#     in text and --json; `events --follow` prints a new one as it happens;
#   - plain HTTP is not served off loopback unless configured (the daemons refuse to start);
#   - the principal stopped (SIGSTOP) for longer than its down_after, gw-b's secondary
#     stopped with it: once it runs again, it logs its stall and does not mark lan-a down
#     (its heartbeats waited in the socket), but marks lan-b down, which stays silent;
#     `insel-principal lan list` meanwhile judges as the principal will (db_clock.h).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
# Short, so that the stall below outlasts it cheaply; still three heartbeats (1 s).
INSEL_DOWN_AFTER=3s
netns_begin
topo_two_sites

cat >"$NETNS_TMP/principal.conf" <<CONF
[metrics]
listen = 127.0.0.1:9460
CONF
INSEL_PRINCIPAL_CONF=$NETNS_TMP/principal.conf
INSEL_SECONDARY_EXTRA=$'[metrics]\nlisten = 127.0.0.1:9461'
insel_deploy || fail "deployment did not come up"

scrape() {  # scrape NS PORT: the page, from inside the daemon's namespace
	in_ns "$1" curl -s --max-time 5 "http://127.0.0.1:$2/metrics"
}
value() {  # value PAGE 'name{labels}': the sample's value, or -1
	awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print -1 }' <<<"$1"
}
sum_of() {  # sum_of PAGE name: the sum of all its samples, whatever their labels
	awk -v n="$1" 'index($1, n "{") == 1 || $1 == n { s += $2 } END { print s + 0 }' <<<"$2"
}
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
promtool_ok() {  # promtool_ok LABEL PAGE
	if ! command -v promtool >/dev/null; then
		echo "SKIP - $1: promtool is not installed (Debian package prometheus)"
		return 0
	fi
	local out
	out=$(promtool check metrics <<<"$2" 2>&1)
	check "$1 passes promtool check metrics" test -z "$out"
	[ -z "$out" ] || echo "$out" | head -n 20
}

# ---- the pages as they start ----
pp=$(scrape principal 9460)
pa=$(scrape gw-a 9461)
promtool_ok "the principal's page" "$pp"
promtool_ok "secondary a's page" "$pa"
check "the principal shows both LANs up" test "$(value "$pp" 'insel_principal_lans{state="up"}')" = 2
check "secondary a shows its principal link up" \
	test "$(value "$pa" insel_secondary_principal_link_up)" = 1
check "the principal counts its connections (two secondaries)" \
	test "$(value "$pp" insel_principal_connections)" -ge 2
check "no key, password or address in the samples" bash -c \
	"! grep -v '^#' <<<\"\$1\$2\" | grep -Eqi 'BEGIN|pw-|alice|bob|198\\.18\\.|10\\.[12]\\.0\\.'" \
	_ "$pp" "$pa"

# ---- a call, its traffic, a refused call, a failed login ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 10000 \
	--timeout 60
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "alice calls bob" contains "$out" " up "
call=$(call_id_of "$out")
stream=$(in_ns a1 python3 "$UDP_TOOL" send "$(lan_net 1).1" 5004 --count 200 --size 500 \
	--interval 0.002 --retries 0 --wait 1 --timeout 20 2>&1)
# On a failure, where the datagram was lost: each gateway's counters of the call (drops by
# reason, bytes each way), and the kernels' UDP and link counters on the way (docs/metrics.md,
# "Drop reasons"). In stream.log, which a failure's output shows and INSEL_KEEP_LOGS keeps.
echo "$stream" | tee "$NETNS_TMP/stream.log"
check "200 datagrams echoed through the call" contains "$stream" "200 intact"
if ! contains "$stream" "200 intact"; then
	{
		for site in a b; do
			echo "--- secondary $site: calls"
			insel_operator $site calls --json 2>&1
		done
		for ns in a1 gw-a gw-b b1; do
			echo "--- $ns: UDP and links"
			in_ns $ns grep '^Udp:' /proc/net/snmp
			in_ns $ns ip -s -o link | grep -v ' lo:'
		done
		echo "--- softnet_stat (per CPU: processed, dropped, ...)"
		cat /proc/net/softnet_stat
	} >>"$NETNS_TMP/stream.log" 2>&1
	cat "$NETNS_TMP/stream.log"
fi
# The first scrape asks the auxiliaries for fresh stats; a later one shows them. Stats
# are asked at most once a second, by scrapes and by the call rates reports alike, so a
# scrape may first show stats taken while the stream still ran: wait for the whole of it.
bytes=-1
for _ in $(seq 1 30); do
	pa=$(scrape gw-a 9461)
	bytes=$(value "$pa" 'insel_secondary_bytes_total{direction="out"}')
	gt "$bytes" 100000 && gt "$(value "$pa" 'insel_secondary_frames_total{direction="out"}')" 199 &&
		break
	sleep 0.2
done
check "secondary a's bytes out moved with the traffic ($bytes > 100000)" gt "$bytes" 100000
check "and its frames out ($(value "$pa" 'insel_secondary_frames_total{direction="out"}'))" \
	gt "$(value "$pa" 'insel_secondary_frames_total{direction="out"}')" 199
check "one call up on secondary a" test "$(value "$pa" 'insel_secondary_calls{state="up"}')" = 1
check "its set-up was counted, with its duration" both \
	test "$(value "$pa" insel_secondary_call_setups_total)" -ge 1 -- \
	test "$(value "$pa" insel_secondary_call_setup_duration_seconds_count)" -ge 1

refused=$(insel_as a1 alice call dave@lan-b --udp 5005 2>&1)
echo "call to dave: $refused"
pa=$(scrape gw-a 9461)
grep '^insel_secondary_call_refusals_total' <<<"$pa"
check "the call dave did not answer is counted as a refusal with its reason" \
	gt "$(sum_of insel_secondary_call_refusals_total "$pa")" 0

bad=$(in_ns a1 env INSEL_PASSWORD=wrong "$C" calls --secondary "$(client_gateway a1)" \
	--ca "$PKI/ca.crt" --user alice 2>&1)
echo "wrong password: $bad"
pp=$(scrape principal 9460)
check "the principal counts the failed login" \
	test "$(value "$pp" insel_principal_logins_failed_total)" -ge 1
check "and its auth_failed reply" \
	test "$(value "$pp" 'insel_principal_api_errors_total{code="auth_failed"}')" -ge 1
check "and the look-ups of the calls, with their durations" both \
	test "$(value "$pp" insel_principal_lookups_total)" -ge 2 -- \
	test "$(value "$pp" insel_principal_lookup_duration_seconds_count)" -ge 2
promtool_ok "the principal's page after traffic" "$pp"
promtool_ok "secondary a's page after traffic" "$pa"
promtool_ok "secondary b's page after traffic" "$(scrape gw-b 9461)"

insel_as a1 alice hangup "$call" >/dev/null 2>&1
ended_record "$call" >/dev/null

# ---- the event log ----
ev=""
for _ in $(seq 1 30); do
	ev=$(pdir events --json)
	grep -q "\"call_ended\".*\"$call\"\|\"call\":\"$call\".*call_ended" <<<"$ev" && break
	sleep 0.2
done
echo "$ev"
check "the log has the call answered" grep -q "\"event\":\"call_answered\",\"call\":\"$call\"" <<<"$ev"
check "and ended, with its reason" grep -q "\"event\":\"call_ended\",\"call\":\"$call\",\"reason\":\"hangup\"" <<<"$ev"
check "the log has the call placed" grep -q "\"event\":\"call_placed\",\"call\":\"$call\",\"caller\":\"alice@lan-a\",\"callee\":\"bob@lan-b\"" <<<"$ev"
check "and the call to dave placed and refused, with its reason" both \
	bash -c 'grep "\"event\":\"call_placed\"" <<<"$1" | grep -q "\"callee\":\"dave@lan-b\""' _ "$ev" -- \
	bash -c 'grep "\"event\":\"call_refused\"" <<<"$1" | grep "\"callee\":\"dave@lan-b\"" | grep -q "\"reason\":\"not_listening\""' _ "$ev"
check "and the failed login of alice" grep -q '"event":"login_failed","user":"alice@lan-a"' <<<"$ev"
check "and both gateways coming up" both contains "$ev" '"gateway_up","secondary":"lan-a"' -- \
	contains "$ev" '"gateway_up","secondary":"lan-b"'
text=$(pdir events --last 3)
echo "$text"
check "the text form names the event and its fields" contains "$text" "call_ended .*call=$call reason=hangup"
check "no password in the log" bash -c "! grep -q 'pw-\|wrong' <<<\"\$1\"" _ "$ev"

"$P" events --db "$DB" --follow --json >"$NETNS_TMP/follow.out" 2>&1 &
follow_pid=$!
sleep 0.5
in_ns a1 env INSEL_PASSWORD=wrong "$C" calls --secondary "$(client_gateway a1)" \
	--ca "$PKI/ca.crt" --user carol >/dev/null 2>&1
for _ in $(seq 1 50); do
	grep -q '"login_failed","user":"carol@lan-a"' "$NETNS_TMP/follow.out" && break
	sleep 0.1
done
kill "$follow_pid" 2>/dev/null
wait "$follow_pid" 2>/dev/null
check "events --follow prints the new failed login as it happens" \
	grep -q '"login_failed","user":"carol@lan-a"' "$NETNS_TMP/follow.out"

# ---- plain HTTP off loopback is refused ----
printf '[metrics]\nlisten = %s:9462\n' "$INSEL_PRINCIPAL_ADDR" >"$NETNS_TMP/bad.conf"
bad=$(in_ns principal timeout 10 "$P" serve --db "$DB" --config "$NETNS_TMP/bad.conf" \
	--listen "$INSEL_PRINCIPAL_ADDR:0" --ca "$PKI/ca.crt" --cert "$PKI/principal.crt" \
	--key "$PKI/principal.key" 2>&1)
check "a principal asked for plain HTTP on a public address refuses to start" \
	contains "$bad" "refusing plain HTTP"

# ---- a principal that stalls ----
# Stopped for 4.5 s, longer than down_after (3 s) plus a second of its rounding, with gw-b's
# secondary stopped too. libuv runs the due sweep before it reads the heartbeats that
# waited in the sockets: judged on the wall clock, lan-a looked silent and was marked down
# (so it was before stall_clock.c). Stopped past three heartbeats, gw-a also drops its
# link meanwhile (its heartbeats went unanswered) and makes it again: not a silence
# either. lan-b stays silent and must be marked down all the same.
gateway_downs() {  # gateway_downs LAN: how many gateway_down events of its secondary
	pdir events --json | grep -c "\"gateway_down\",\"secondary\":\"$1\"" || true
}
down_a=$(gateway_downs lan-a)
down_b=$(gateway_downs lan-b)
kill -STOP "${SECONDARY_PID[b]}"
kill -STOP "$PRINCIPAL_PID"
sleep 4.5
# The operator's listing reads the directory meanwhile: it judges as the principal will
# once it runs again (its clock in the directory, db_clock.h), not on the wall clock with
# the principal's 3 s: both LANs up, and it says why.
listing=$(pdir lan list 2>&1)
kill -CONT "$PRINCIPAL_PID"
resumed=$(date +%s%N)
for _ in $(seq 1 100); do
	[ "$(gateway_downs lan-b)" -gt "$down_b" ] && break
	sleep 0.2
done
b_after=$((($(date +%s%N) - resumed) / 1000000))
sleep 1  # lan-a's verdict would have come first; a second more for good measure
after=$(pdir lan list 2>&1)
kill -CONT "${SECONDARY_PID[b]}"
grep "did not run for\|marked down" "$NETNS_TMP/principal.log"
check "lan-a, live all along, was not marked down for the principal's stall" \
	test "$(gateway_downs lan-a)" = "$down_a"
check "lan-b, stopped, was marked down ($b_after ms after the principal ran again)" \
	test "$(gateway_downs lan-b)" -gt "$down_b"
check "the principal logged its stall of 4.5 s, once" test "$(grep -c \
	'this principal did not run for \([4-9][0-9]\{3\}\|[0-9]\{5,\}\) ms' "$NETNS_TMP/principal.log")" = 1
states() {  # states LISTING: "LAN STATE" of lan-a and lan-b on one line
	awk '$1 == "lan-a" || $1 == "lan-b" { for (i = 2; i <= NF; i++) if ($i ~ /^(up|down|new)$/) {
		printf "%s %s ", $1, $i; break } }' <<<"$1"
}
echo "$listing"
check "lan list during the stall: lan-a and lan-b still up (as the principal judges)" \
	test "$(states "$listing")" = "lan-a up lan-b up "
check "and it says that no principal has run for 4 s or more" \
	grep -q "note: no principal has run for \([4-9]\|[1-9][0-9]\+\) s" <<<"$listing"
echo "$after"
check "lan list once it ran again: lan-b down, lan-a up, no note" \
	test "$(states "$after")" = "lan-a up lan-b down " -a -z "$(grep note: <<<"$after")"

finish_checks
pass
