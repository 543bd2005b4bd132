#!/usr/bin/env bash
# The Secsockets library as an application writer gets it: `meson install` into a
# temporary root, then the example (examples/secsock_echo.c) compiled against that copy
# with nothing but `cc $(pkg-config --cflags --libs insel-secsock)` and run for real: a
# server and a caller on 127.0.0.1, with certificates from the installed
# insel-principal, exchange messages over a call (TLS 1.3, then encrypted UDP channels).
# Also checked: the library exports the sec_* functions and nothing else, and it is the
# installed copy that the example runs with; examples/secsock_stream.c (a reliable stream
# channel) builds and runs the same way and is the only one needing INSEL_SECSOCK_0.1.
#
# Environment (set by meson): INSEL_BUILD (build directory), INSEL_SOURCE (source root),
# INSEL_CC (the build's C compiler), INSEL_EXAMPLE_CFLAGS (the build's sanitizer flags,
# which a program linking a sanitized library must share).
set -uo pipefail

build=${INSEL_BUILD:?}
source=${INSEL_SOURCE:?}
cc=${INSEL_CC:-cc}
extra_cflags=${INSEL_EXAMPLE_CFLAGS:-}
tmp=$(mktemp -d /tmp/insel-secsock-install.XXXXXX)
root=$tmp/root
server=""
checks=0

cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null
		wait "$server" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	for log in "$tmp"/*.log; do
		[ -f "$log" ] && { echo "--- $log"; sed 's/^/    /' "$log"; }
	done
	exit 1
}

ok() {
	checks=$((checks + 1))
	echo "ok: $*"
}

# wait_server: the server's exit status, once it has exited; killed (status 124) if it
# is still running 10 s later.
wait_server() {
	local status
	for _ in $(seq 200); do
		kill -0 "$server" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$server" 2>/dev/null; then
		kill "$server" 2>/dev/null
		wait "$server" 2>/dev/null
		status=124
	else
		wait "$server"
		status=$?
	fi
	server=""
	return "$status"
}

# ---- install ----
meson install -C "$build" --no-rebuild --destdir "$root" >"$tmp/install.log" 2>&1 ||
	fail "meson install"
pc=$(find "$root" -name insel-secsock.pc -path '*/pkgconfig/*' | head -1)
[ -n "$pc" ] || fail "no insel-secsock.pc was installed"
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libinsel-secsock.so" ] || fail "no libinsel-secsock.so beside the .pc"
header=$(find "$root" -path '*/include/insel/secsock.h' | head -1)
[ -n "$header" ] || fail "no include/insel/secsock.h was installed"
ok "installed: ${pc#"$root"}, ${header#"$root"}"

# ---- only the API is exported ----
nm -D --defined-only "$libdir/libinsel-secsock.so" >"$tmp/symbols.log" ||
	fail "cannot read the library's symbols"
exported=$(awk '$2 != "A" {print $3}' "$tmp/symbols.log" | sed 's/@.*//' | sort -u)
grep -qx 'sec_connect' <<<"$exported" || fail "sec_connect is not exported"
others=$(grep -v '^sec_' <<<"$exported")
[ -z "$others" ] || fail "the library exports more than sec_*: $(echo $others | head -c 300)"
ok "exports $(wc -l <<<"$exported") symbols, all sec_*"

# ---- compile the example against the installed copy, through pkg-config only ----
export PKG_CONFIG_PATH=$libdir/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs insel-secsock 2>"$tmp/pkg-config.log") ||
	fail "pkg-config --cflags --libs insel-secsock"
grep -q -- "-I$root" <<<"$flags" || fail "pkg-config's flags do not point into the install: $flags"
# shellcheck disable=SC2086 # the compiler command and the flags are words
$cc -std=c11 -Wall -Wextra -Werror $extra_cflags -o "$tmp/secsock-echo" \
	"$source/examples/secsock_echo.c" $flags >"$tmp/compile.log" 2>&1 ||
	fail "the example does not build: $cc ... $flags"
ok "built the example with: $flags"

export LD_LIBRARY_PATH=$libdir
resolved=$(ldd "$tmp/secsock-echo" | awk '/libinsel-secsock/ {print $3}')
[ "$resolved" = "$(readlink -f "$libdir/libinsel-secsock.so.0")" ] ||
	[ "$(readlink -f "$resolved")" = "$(readlink -f "$libdir/libinsel-secsock.so.0")" ] ||
	fail "the example would run with '$resolved', not the installed copy"
ok "the example links the installed libinsel-secsock.so.0"

# ---- certificates, from the installed principal ----
principal=$(find "$root" -name insel-principal -type f | head -1)
[ -x "$principal" ] || fail "no insel-principal was installed"
"$principal" pki init --dir "$tmp/pki" --org "Echo Example" >"$tmp/pki.log" 2>&1 ||
	fail "pki init"
for name in echo-server echo-client; do
	"$principal" pki issue --dir "$tmp/pki" --role user --name "$name" >>"$tmp/pki.log" 2>&1 ||
		fail "pki issue $name"
done
p=$tmp/pki

# ---- run it: a server, a caller, real messages both ways ----
"$tmp/secsock-echo" serve "$p/ca.crt" "$p/echo-server.crt" "$p/echo-server.key" \
	127.0.0.1:0 "$tmp/port" >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
	[ -s "$tmp/port" ] && break
	kill -0 "$server" 2>/dev/null || fail "the example server exited"
	sleep 0.05
done
[ -s "$tmp/port" ] || fail "the example server wrote no port"
port=$(cat "$tmp/port")

timeout 30 "$tmp/secsock-echo" call "$p/ca.crt" "$p/echo-client.crt" "$p/echo-client.key" \
	"127.0.0.1:$port" echo-server "hello over insel" "second message" "third" \
	>"$tmp/client.log" 2>&1 || fail "the example caller failed"
grep -q 'echo on channel 0: hello over insel' "$tmp/client.log" || fail "no first echo"
grep -q 'echo on channel 1: second message' "$tmp/client.log" || fail "no echo on channel 1"
grep -q 'echo on channel 0: third' "$tmp/client.log" || fail "no third echo"
ok "the caller got every message back on its channel"

wait_server || fail "the example server failed (or did not end after \"bye\")"
grep -q 'call from echo-client on 2 channels' "$tmp/server.log" || fail "server did not see the caller"
grep -q 'echoed 4 messages' "$tmp/server.log" || fail "server did not echo 4 messages"
ok "the server saw echo-client and echoed 4 messages"

# ---- a caller that expects another name is refused, with the reason ----
"$tmp/secsock-echo" serve "$p/ca.crt" "$p/echo-server.crt" "$p/echo-server.key" \
	127.0.0.1:0 "$tmp/port2" >"$tmp/server2.log" 2>&1 &
server=$!
for _ in $(seq 100); do
	[ -s "$tmp/port2" ] && break
	sleep 0.05
done
[ -s "$tmp/port2" ] || fail "the second example server wrote no port"
if timeout 30 "$tmp/secsock-echo" call "$p/ca.crt" "$p/echo-client.crt" "$p/echo-client.key" \
	"127.0.0.1:$(cat "$tmp/port2")" someone-else "hello" >"$tmp/client2.log" 2>&1; then
	fail "a caller expecting 'someone-else' was let through"
fi
grep -q "expected 'someone-else'" "$tmp/client2.log" || fail "the refusal does not say why"
wait_server
ok "a wrong peer name is refused: $(tail -1 "$tmp/client2.log")"

# ---- the reliable-stream example, from the installed copy too ----
# shellcheck disable=SC2086 # the compiler command and the flags are words
$cc -std=c11 -Wall -Wextra -Werror $extra_cflags -o "$tmp/secsock-stream" \
	"$source/examples/secsock_stream.c" $flags >"$tmp/compile-stream.log" 2>&1 ||
	fail "examples/secsock_stream.c does not build against the installed copy"
# (to files first: grep -q ending early would fail the pipeline under pipefail)
objdump -T "$tmp/secsock-stream" >"$tmp/stream-symbols.txt" || fail "objdump"
objdump -T "$tmp/secsock-echo" >"$tmp/echo-symbols.txt" || fail "objdump"
grep -q '(INSEL_SECSOCK_0\.1) *sec_connect_modes$' "$tmp/stream-symbols.txt" ||
	fail "the stream example does not ask for sec_connect_modes@INSEL_SECSOCK_0.1"
grep -q '(INSEL_SECSOCK_0\.1)' "$tmp/echo-symbols.txt" &&
	fail "the datagram example needs INSEL_SECSOCK_0.1 (it must run with the first library)"
head -c 1048576 /dev/urandom >"$tmp/stream.in"
"$tmp/secsock-stream" serve "$p/ca.crt" "$p/echo-server.crt" "$p/echo-server.key" \
	127.0.0.1:0 "$tmp/port3" "$tmp/stream.out" >"$tmp/server3.log" 2>&1 &
server=$!
for _ in $(seq 100); do
	[ -s "$tmp/port3" ] && break
	sleep 0.05
done
[ -s "$tmp/port3" ] || fail "the stream example's server wrote no port"
timeout 30 "$tmp/secsock-stream" send "$p/ca.crt" "$p/echo-client.crt" "$p/echo-client.key" \
	"127.0.0.1:$(cat "$tmp/port3")" echo-server "$tmp/stream.in" >"$tmp/client3.log" 2>&1 ||
	fail "the stream example's sender failed"
wait_server || fail "the stream example's receiver failed"
cmp -s "$tmp/stream.in" "$tmp/stream.out" || fail "the stream example's file differs"
ok "a 1 MiB stream over the installed library arrived intact (symbols of INSEL_SECSOCK_0.1)"

echo "secsock install: $checks checks passed"
