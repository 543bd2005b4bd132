#!/usr/bin/env bash
# Integration: the confined auxiliary and the daemons' allowlists (issue 10, "The confined
# auxiliary"), on the two-site topology with real processes:
#   - two concurrent calls through one gateway: each auxiliary runs as a uid of its own
#     from [auxiliary] uid_range (uid and gid, every one of the four ids, no groups),
#     so one call's uid cannot signal the other's process (kill -0 gets EPERM) while its
#     own can; each is confined (NoNewPrivs, a seccomp filter);
#   - each auxiliary leads a session of its own, and its stderr is a socket the secondary
#     reads: its lines appear in the secondary's log under the call's id;
#   - the uids are given back when auxiliaries are reaped: with a range of exactly as
#     many uids as calls allowed, call after call still gets one;
#   - the principal and both secondaries run under their own seccomp filters, and calls
#     work through them (every other netns suite runs with them too).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"
netns_begin
topo_two_sites
insel_deploy || fail "deployment did not come up"

status_field() { awk -v k="$2:" '$1 == k {print $2, $3, $4, $5}' "/proc/$1/status"; }
seccomp_of() { awk '$1 == "Seccomp:" {print $2}' "/proc/$1/status"; }

# ---- the daemons are filtered ----
check "the principal runs under a seccomp filter" test "$(seccomp_of "$PRINCIPAL_PID")" = 2
check "gw-a's secondary runs under a seccomp filter" \
	test "$(seccomp_of "${SECONDARY_PID[a]}")" = 2
check "gw-b's secondary runs under a seccomp filter" \
	test "$(seccomp_of "${SECONDARY_PID[b]}")" = 2

# ---- two concurrent calls through gw-a ----
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"
listen_as b2 dave "$NETNS_TMP/listen-dave.log" --auto-answer || fail "dave cannot listen"
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 1000 \
	--timeout 60
out1=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "alice calls bob" contains "$out1" " up "
out2=$(insel_as a2 carol call dave@lan-b --udp 6000 2>&1)
check "carol calls dave at the same time" contains "$out2" " up "
call1=$(call_id_of "$out1")
call2=$(call_id_of "$out2")
check "the first call carries traffic through its confined auxiliaries" \
	in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 20 --size 500

mapfile -t pids < <(aux_pids a)
check "gw-a runs two auxiliaries" test "${#pids[@]}" -eq 2
p1=${pids[0]:-0}
p2=${pids[1]:-0}
read -r u1 _ < <(status_field "$p1" Uid)
read -r u2 _ < <(status_field "$p2" Uid)
echo "auxiliaries $p1 (uid $u1) and $p2 (uid $u2)"
for p in "$p1" "$p2"; do
	read -r ruid euid suid fsuid < <(status_field "$p" Uid)
	read -r rgid egid sgid fsgid < <(status_field "$p" Gid)
	check "auxiliary $p: every uid is the same unprivileged one from the range" \
		bash -c "[ $ruid = $euid ] && [ $euid = $suid ] && [ $suid = $fsuid ] &&
			 [ $ruid -ge 200000 ] && [ $ruid -le 200999 ]"
	check "auxiliary $p: its gid is the same number, every one" \
		bash -c "[ $rgid = $ruid ] && [ $egid = $ruid ] && [ $sgid = $ruid ] &&
			 [ $fsgid = $ruid ]"
	check "auxiliary $p: no supplementary groups" \
		test -z "$(awk '$1 == "Groups:" {print $2}' "/proc/$p/status")"
	check "auxiliary $p: no new privileges, a seccomp filter" \
		bash -c "grep -q '^NoNewPrivs:.1' /proc/$p/status &&
			 grep -q '^Seccomp:.2' /proc/$p/status"
	check "auxiliary $p leads a session of its own" \
		bash -c "[ \"\$(ps -o sid= -p $p | tr -d ' ')\" = $p ] &&
			 [ \"\$(ps -o sid= -p $p | tr -d ' ')\" != \
			   \"\$(ps -o sid= -p ${SECONDARY_PID[a]} | tr -d ' ')\" ]"
	check "auxiliary $p writes its stderr to a socket, not the secondary's log file" \
		bash -c "readlink /proc/$p/fd/2 | grep -q '^socket:' &&
			 [ \"\$(readlink /proc/$p/fd/2)\" != \
			   \"\$(readlink /proc/${SECONDARY_PID[a]}/fd/2)\" ]"
done
check "the two calls' auxiliaries have different uids" test "$u1" != "$u2"
check "a process of the first call's uid cannot signal the second's auxiliary" \
	bash -c "! setpriv --reuid=$u1 --regid=$u1 --clear-groups kill -0 $p2 2>$NETNS_TMP/kill.err &&
		 grep -qi 'not permitted' $NETNS_TMP/kill.err"
check "nor the other way round" \
	bash -c "! setpriv --reuid=$u2 --regid=$u2 --clear-groups kill -0 $p1 2>/dev/null"
check "while a process of its own uid can (the check is by uid)" \
	setpriv --reuid="$u2" --regid="$u2" --clear-groups kill -0 "$p2"
check "the secondary logs its auxiliaries' lines under their call ids" \
	bash -c "grep -q 'auxiliary: call $call1, pid [0-9]*: .*WAN port' \
			$NETNS_TMP/secondary-a.log &&
		 grep -q 'auxiliary: call $call2, pid [0-9]*: .*WAN port' \
			$NETNS_TMP/secondary-a.log"
check "and none of them lands in the log with a timestamp of its own" \
	bash -c "! grep -q 'auxiliary: call .*Z insel-auxiliary\[' $NETNS_TMP/secondary-a.log"
insel_as a1 alice hangup "$call1" >/dev/null 2>&1
insel_as a2 carol hangup "$call2" >/dev/null 2>&1
check "both auxiliaries are reaped" wait_aux_count a 0 10

# ---- uids come back when auxiliaries are reaped ----
stop_pid "${SECONDARY_PID[a]}"
sed -i 's/^uid_range = .*/uid_range = 200500-200501/; s/^calls = .*/calls = 2/' \
	"$NETNS_TMP/secondary-a.conf"
start_secondary a 1
wait_secondary_registered a || fail "gw-a's secondary did not register again"
seen=""
for round in 1 2 3; do
	o1=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
	o2=$(insel_as a2 carol call dave@lan-b --udp 6000 2>&1)
	check "round $round: two calls with a range of two uids" \
		bash -c "grep -q ' up ' <<<'$o1' && grep -q ' up ' <<<'$o2'"
	for p in $(aux_pids a); do
		seen+=" $(awk '$1 == "Uid:" {print $2}' "/proc/$p/status")"
	done
	insel_as a1 alice hangup "$(call_id_of "$o1")" >/dev/null 2>&1
	insel_as a2 carol hangup "$(call_id_of "$o2")" >/dev/null 2>&1
	wait_aux_count a 0 10 || echo "round $round: auxiliaries still there"
done
echo "uids seen:$seen"
check "only the two uids of the range were used" \
	bash -c "! tr ' ' '\n' <<<'$seen' | grep -v -e '^\$' -e '^200500\$' -e '^200501\$'"

# ---- what an auxiliary writes on stderr reaches the log bounded ----
# (The long line and the forged one count towards the 500 of their second.)
# A stand-in auxiliary that writes an over-long line, control characters that would
# forge log lines, and a flood, then exits (the call fails; the log is what is looked at).
cat >"$NETNS_TMP/noisy-aux.sh" <<'NOISY'
#!/bin/bash
head -c 3000 /dev/zero | tr '\0' x >&2
echo >&2
printf 'forged\rline\033[2J\n' >&2
for i in $(seq 1 1500); do echo "<6>flood $i"; done >&2
NOISY
chmod 755 "$NETNS_TMP/noisy-aux.sh"
stop_pid "${SECONDARY_PID[a]}"
sed -i "s|^program = .*|program = $NETNS_TMP/noisy-aux.sh|" "$NETNS_TMP/secondary-a.conf"
start_secondary a 1
wait_secondary_registered a || fail "gw-a's secondary did not register again"
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
echo "$out"
check "a call whose auxiliary only writes garbage fails" test -n "$out" -a -z "$(grep ' up ' <<<"$out")"
log=$NETNS_TMP/secondary-a.log
for _ in $(seq 1 50); do grep -q "log line(s) dropped" "$log" && break; sleep 0.1; done
long=$(grep -a 'auxiliary: call [0-9a-f]*, pid [0-9]*: xxx' "$log" | head -n 1 |
	sed 's/.*, pid [0-9]*: //')
check "a 3000-byte line is cut at 800 bytes and marked" \
	bash -c '[ ${#1} -le 800 ] && [ ${#1} -gt 700 ] && [ "${1: -3}" = ... ]' _ "$long"
check "and its rest is not logged as lines of their own" \
	test "$(grep -ac 'pid [0-9]*: xxx' "$log")" -eq 1
check "control characters cannot forge log lines" grep -q 'forged?line?\[2J' "$log"
logged=$(grep -ac 'pid [0-9]*: flood [0-9]*$' "$log")
dropped=$(sed -n 's/.*: \([0-9]*\) log line(s) dropped.*/\1/p' "$log" | paste -sd+ | bc)
echo "flood: $logged lines logged, ${dropped:-0} dropped"
check "a flood is cut at 500 lines a second, and the rest counted" \
	bash -c "[ $logged -le 1000 ] && [ $((logged + ${dropped:-0})) -eq 1500 ]"

check_tun_teardown
finish_checks
