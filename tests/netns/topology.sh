#!/usr/bin/env bash
# Integration: the namespace topology that every later test and the demo stand on. The
# sites reach the wan and each other's gateways, but LAN A cannot reach LAN B (only an
# insel call may join them), and nothing leaks into the root namespace.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
netns_begin
topo_two_sites

in_ns gw-a ping -c1 -W2 198.18.2.2 >/dev/null || fail "gw-a cannot reach gw-b over the wan"
pass "gateways reach each other over the simulated Internet"
in_ns a1 ping -c1 -W2 10.1.0.12 >/dev/null || fail "a1 cannot reach a2 on its LAN"
pass "hosts reach each other within a LAN"
in_ns a1 ping -c1 -W2 198.18.0.2 >/dev/null || fail "a1 cannot reach the principal"
pass "LAN hosts reach the Internet through their gateway"
if in_ns a1 ping -c1 -W1 10.2.0.11 >/dev/null 2>&1; then
	fail "a1 reached b1 without insel: sites must be isolated"
fi
pass "LAN A cannot reach LAN B without a call"
if ip route show | grep -qE '^(10\.[12]\.0|198\.18\.)'; then
	fail "a route leaked into the root namespace"
fi
pass "root namespace untouched"
