#!/usr/bin/env bash
# The demo: a principal and two sites in network namespaces, a call placed between a host
# on each site, and traffic through it, shown step by step; everything is removed at the
# end. deploy/demo.sh builds first and then runs this with the build directory.
set -euo pipefail
export INSEL_BUILD
INSEL_BUILD=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
source "$top/tests/netns/lib.sh"
INSEL_PASSWORD_ITERATIONS=  # the principal's default password hashing, as deployed
source "$top/tests/netns/insel_env.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ %s\033[0m\n' "$*"; }

netns_begin
say "Building the network: a principal and two sites in namespaces (prefix $NS)"
topo_two_sites
cat <<TXT
  principal   198.18.0.2        (the simulated Internet is 198.18.0.0/15)
  site A      gateway 198.18.1.2, LAN 10.1.0.0/24: hosts a1 10.1.0.11, a2 10.1.0.12
  site B      gateway 198.18.2.2, LAN 10.2.0.0/24: hosts b1 10.2.0.11, b2 10.2.0.12
TXT

say "Without insel, LAN A cannot reach LAN B"
show "a1: ping -c1 -W1 10.2.0.11"
if in_ns a1 ping -c1 -W1 10.2.0.11 >/dev/null 2>&1; then
	echo "unexpected: reached"
else
	echo "no route to LAN B: 100% packet loss"
fi

say "Organisation CA, directory, principal and one secondary per gateway"
insel_deploy
show "insel-principal lan list"
pdir lan list
show "insel-principal user list"
pdir user list

say "bob waits for calls on b1"
listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer
cat "$NETNS_TMP/listen-bob.log"
spawn_in_ns b1 "$NETNS_TMP/echo.log" python3 "$UDP_TOOL" echo 5004,5005 --count 1000 \
	--timeout 60

say "alice on a1 calls bob@lan-b with two UDP channels (RTP and RTCP)"
show "insel call bob@lan-b --udp 5004,5005"
out=$(insel_as a1 alice call bob@lan-b --udp 5004,5005)
echo "$out"
call=$(call_id_of "$out")
sleep 0.2
echo "bob's side:"
tail -n +2 "$NETNS_TMP/listen-bob.log"

say "Traffic through the call: an application on a1 sends to its gateway; an echo on b1 answers"
show "a1: udp_tool send 10.1.0.1 5004 --count 100 --size 1200"
in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 100 --size 1200
show "a1: udp_tool send 10.1.0.1 5005 --count 20 --size 120"
in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5005 --count 20 --size 120
show "a1: udp_tool send 10.1.0.1 5004 --count 3 --size 9000   (fragmented and reassembled)"
in_ns a1 python3 "$UDP_TOOL" send 10.1.0.1 5004 --count 3 --size 9000

say "On the wan between the sites only encrypted UDP passes"
show "wan: tcpdump -i v-gw-a udp   while a1 sends 'meet at noon in room 4' through the call"
spawn_in_ns wan "$NETNS_TMP/tcpdump.log" timeout 10 tcpdump -n -i v-gw-a -c 2 -w \
	"$NETNS_TMP/wan.pcap" "udp and greater 90"
dump_pid=$LAST_PID
sleep 0.5
in_ns a1 bash -c 'echo "meet at noon in room 4" | timeout 1 nc -u -w0 10.1.0.1 5004' || true
wait "$dump_pid" 2>/dev/null || true
in_ns wan tcpdump -n -r "$NETNS_TMP/wan.pcap" -X 2>/dev/null | head -n 14
if in_ns wan tcpdump -n -r "$NETNS_TMP/wan.pcap" -A 2>/dev/null | grep -q "meet at noon"; then
	echo "PLAINTEXT SEEN ON THE WAN"
else
	echo "(the words 'meet at noon' appear nowhere in the captured datagrams)"
fi
show "insel calls"
insel_as a1 alice calls
show "insel status"
insel_as a1 alice status

say "alice hangs up; the directory keeps the record"
show "insel hangup $call"
insel_as a1 alice hangup "$call"
sleep 0.5
show "insel-principal call list"
pdir call list

say "Done: stopping the daemons and removing the namespaces"
