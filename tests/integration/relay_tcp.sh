#!/usr/bin/env bash
# insel-relay's TCP fallback on 127.0.0.1 (docs/relay.md, section 6): a PKI made for the
# run (the organisation's CA, the relay's certificate of role principal, and another
# organisation's CA), then relay_tcp.py drives the relay as its principal does and plays
# the legs: UDP <-> TCP and TCP <-> TCP through the one forwarding table, legs moving
# between the two, the stream's refusals, the certificate check, the counters.
set -uo pipefail

build=${INSEL_BUILD:-$(dirname "$0")/../../build}
P=$build/principal/insel-principal
R=$build/relay/insel-relay
tmp=$(mktemp -d /tmp/insel-relay-tcp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$P" pki init --dir "$tmp/ca" --org insel-test >/dev/null || exit 1
"$P" pki issue --dir "$tmp/ca" --role principal --name principal >/dev/null || exit 1
"$P" pki init --dir "$tmp/other" --org other-org >/dev/null || exit 1
RELAY_LOG=$tmp/relay.log python3 "$(dirname "$0")/relay_tcp.py" "$R" "$tmp/ca/ca.crt" \
	"$tmp/ca/principal.crt" "$tmp/ca/principal.key" "$tmp/other/ca.crt"
rc=$?
[ "$rc" = 0 ] || tail -30 "$tmp/relay.log"
exit "$rc"
