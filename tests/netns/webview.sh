#!/usr/bin/env bash
# Integration: the principal's live web view (docs/webview.md) in a real headless
# Chromium. A principal with [web] on loopback (plain HTTP) and two sites:
#   - the page, its script and style sheet come with a strict Content-Security-Policy;
#     /api/state is JSON with both sites and no secret; other methods and paths refused;
#   - plain HTTP on a non-loopback address is refused by the configuration check;
#   - HTTPS with the principal's own certificate verifies against the organisation's CA
#     (a second principal on a copy of the directory, so the first keeps its setup);
#   - a call carrying echoed traffic shows a non-zero rate each way in /api/state (the
#     caller's secondary's call_rates reports);
#   - in Chromium (inside the principal's namespace): both sites up; the room with its
#     members; a call record whose
#     parties are hostile markup is shown as text and runs nothing; a call placed from
#     site A to site B appears in the live calls, and after hang-up leaves them for the
#     recent calls. The screenshot taken while the call is up goes to the build's
#     meson-logs/webview.png (docs/webview.png in the repository is one of them).
# Skips (77) only where Chromium, its driver or python3-selenium is missing or Chromium
# cannot start.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
source "$here/insel_env.sh"

# Debian's python3-selenium is for Debian's Python, whatever python3 the PATH finds.
SYS_PY=/usr/bin/python3
for need in /usr/bin/chromium /usr/bin/chromedriver; do
	if [ ! -x "$need" ]; then
		echo "SKIP: $need is missing (Debian packages chromium, chromium-driver)"
		exit 77
	fi
done
if ! "$SYS_PY" -c 'import selenium' 2>/dev/null; then
	echo "SKIP: python3-selenium is missing"
	exit 77
fi

# Chromium's own processes (renderers, zygote) were started by the browser this test
# started, inside this test's namespace: none outlives the test, whatever ends it.
stop_chromium() {
	local pid
	for pid in $(ip netns pids "${NS}principal" 2>/dev/null); do
		case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
		chrom*) kill -9 "$pid" 2>/dev/null || true ;;
		esac
	done
}

netns_begin
trap 'stop_chromium; netns_cleanup' EXIT
topo_two_sites
WEB_PORT=8080
cat >"$NETNS_TMP/principal.conf" <<CONF
[web]
listen = 127.0.0.1:$WEB_PORT
https = off
CONF
INSEL_PRINCIPAL_CONF=$NETNS_TMP/principal.conf
insel_deploy || fail "deployment did not come up"
wait_port principal "$WEB_PORT" tcp 10 || fail "the web view does not listen"
check "the principal says where the web view is" \
	grep -q "web view on http://127.0.0.1:$WEB_PORT" "$NETNS_TMP/principal.log"

# fetch NAME URL [METHOD]: "STATUS<TAB>CSP<TAB>BODY" from inside a namespace.
fetch() {
	in_ns "$1" "$SYS_PY" - "$2" "${3:-GET}" <<'PY'
import http.client, sys, urllib.parse
url, method = sys.argv[1:3]
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
c.request(method, u.path or '/')
r = c.getresponse()
body = r.read().decode('utf-8', 'replace')
print('%d\t%s\t%s' % (r.status, r.getheader('Content-Security-Policy') or '', body))
PY
}

base="http://127.0.0.1:$WEB_PORT"
out=$(fetch principal "$base/")
check "GET / is the page" contains "$out" $'^200\t'
check "the page carries a strict CSP" contains "$out" "default-src 'none'; script-src 'self'"
check "the page loads nothing from outside" bash -c "! grep -Eq '(src|href)=\"(https?:)?//' <<<\"\$1\"" _ "$out"
out=$(fetch principal "$base/app.js")
check "the script is served" contains "$out" "EventSource"
state=$(fetch principal "$base/api/state")
check "/api/state names both sites" bash -c 'grep -q "\"name\":\"lan-a\"" <<<"$1" && grep -q "\"name\":\"lan-b\"" <<<"$1"' _ "$state"
check "/api/state holds no fingerprint or password hash" \
	bash -c '! grep -Eq "fingerprint|pbkdf2|serial" <<<"$1"' _ "$state"
out=$(fetch principal "$base/api/state" POST)
check "POST is refused (405)" contains "$out" $'^405\t'
out=$(fetch principal "$base/nothing-here")
check "an unknown path is 404" contains "$out" $'^404\t'

# ---- plain HTTP off loopback: refused before anything starts ----
cat >"$NETNS_TMP/plain-wan.conf" <<CONF
[web]
listen = 198.18.0.2:8081
https = off
CONF
out=$(in_ns principal timeout 10 "$P" serve --db "$NETNS_TMP/unused.db" --config "$NETNS_TMP/plain-wan.conf" \
	--ca "$PKI/ca.crt" --cert "$PKI/principal.crt" --key "$PKI/principal.key" 2>&1)
rc=$?
check "plain HTTP on a network address is refused (exit $rc)" \
	bash -c '[ "$1" -ne 0 ] && grep -q "loopback" <<<"$2"' _ "$rc" "$out"

# ---- HTTPS with the principal's own certificate ----
sqlite3 "$DB" ".backup '$NETNS_TMP/copy.db'"
cat >"$NETNS_TMP/https.conf" <<CONF
[web]
listen = 198.18.0.2:8443
CONF
spawn_in_ns principal "$NETNS_TMP/principal-https.log" "$P" serve --db "$NETNS_TMP/copy.db" \
	--config "$NETNS_TMP/https.conf" --listen 127.0.0.1:0 --stun-listen off \
	--relay-listen off --splice-listen off \
	--ca "$PKI/ca.crt" --cert "$PKI/principal.crt" --key "$PKI/principal.key"
https_pid=$LAST_PID
if wait_port principal 8443 tcp 10; then
	out=$(in_ns principal "$SYS_PY" - "$PKI/ca.crt" <<'PY' 2>&1
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = http.client.HTTPSConnection('198.18.0.2', 8443, timeout=5, context=ctx)
# The certificate names the principal ("principal"), not its address.
c.sock = ctx.wrap_socket(__import__('socket').create_connection(('198.18.0.2', 8443), 5),
                         server_hostname='principal')
c.request('GET', '/api/state')
r = c.getresponse()
print(r.status, r.read()[:200].decode())
PY
)
	check "HTTPS verifies against the organisation's CA and serves the state" \
		contains "$out" '^200 {"principal":"principal"'
else
	check "the HTTPS web view listens" false
fi
stop_pid "$https_pid"

# ---- in Chromium ----
# A call record as a misbehaving or compromised secondary could write it: its parties are
# markup. The page must show it as text, and nothing of it may run.
hostile='<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
sqlite3 "$DB" "INSERT INTO calls (id, caller, caller_lan, callee, callee_lan, started_at,
	ended_at, end_reason) VALUES ('00000000deadbeef', '$hostile', 'lan-a', 'x$hostile',
	'lan-b', strftime('%s','now') - 60, strftime('%s','now') - 30, 'hangup')"

# A room with a member on each site, placed by the operator.
echo "pw-room" | pdir room add games --network 172.30.0.0/24 --iterations 1000 >/dev/null
pdir room join games alice@lan-a --host "$(host_addr a1)" >/dev/null
pdir room join games bob@lan-b --host "$(host_addr b1)" >/dev/null

listen_as b1 bob "$NETNS_TMP/listen-bob.log" --auto-answer || fail "bob cannot listen"

# Live rates: a call carrying echoed traffic shows a non-zero rate each way in /api/state
# (the caller's secondary reports its counters every 2 s, the principal takes the rate
# over the last interval; docs/webview.md).
spawn_echo b1 "$NETNS_TMP/echo-b1.log" 5004 --count 100000 \
	--timeout 60
echo_pid=$LAST_PID
out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
check "alice calls bob, a call to carry traffic" contains "$out" " up "
rcall=$(call_id_of "$out")
spawn_in_ns a1 "$NETNS_TMP/send-a1.log" python3 "$UDP_TOOL" send "$(lan_net 1).1" 5004 \
	--count 6000 --size 500 --interval 0.005 --retries 0 --wait 1 --timeout 40
send_pid=$LAST_PID
rated=""
for _ in $(seq 1 60); do
	rated=$(fetch principal "$base/api/state" | "$SYS_PY" -c '
import json, sys
state = json.loads(sys.stdin.read().split("\t", 2)[2])
for c in state["calls"]:
    if c["id"] == sys.argv[1] and (c["rate_up"] or 0) > 0 and (c["rate_down"] or 0) > 0:
        print("up %.0f B/s, down %.0f B/s" % (c["rate_up"], c["rate_down"]))' "${rcall:-none}")
	[ -n "$rated" ] && break
	sleep 0.5
done
check "the call carrying traffic shows its rates in /api/state (${rated:-none})" test -n "$rated"
kill "$send_pid" "$echo_pid" 2>/dev/null || true
insel_as a1 alice hangup "${rcall:-none}" >/dev/null 2>&1
sync=$NETNS_TMP/sync
mkdir -p "$sync" "$NETNS_TMP/home"
shot=$NETNS_TMP/webview.png
spawn_in_ns principal "$NETNS_TMP/browser.log" env HOME="$NETNS_TMP/home" timeout 90 \
	"$SYS_PY" "$here/webview_browser.py" --url "$base/" --sync "$sync" --screenshot "$shot" \
	--profile "$NETNS_TMP/chromium" --hostile "$hostile"
browser=$LAST_PID
wait_sync() {  # wait_sync NAME SECONDS: the browser's step NAME, or its end
	for _ in $(seq 1 $(($2 * 10))); do
		[ -e "$sync/$1" ] && return 0
		kill -0 "$browser" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
if wait_sync ready 60; then
	out=$(insel_as a1 alice call bob@lan-b --udp 5004 2>&1)
	check "alice calls bob" contains "$out" " up "
	call=$(call_id_of "$out")
	echo "${call:-none}" >"$sync/call"
	if wait_sync seen 20; then
		insel_as a1 alice hangup "$call" >/dev/null 2>&1
	fi
	echo >"$sync/hungup"
fi
wait "$browser"
rc=$?
cat "$NETNS_TMP/browser.log"
if [ "$rc" -eq 77 ]; then
	exit 77
fi
check "the browser saw every step (exit $rc)" [ "$rc" -eq 0 ]
if [ -s "$shot" ]; then
	logdir=${INSEL_BUILD}/meson-logs
	mkdir -p "$logdir" && cp "$shot" "$logdir/webview.png" && echo "screenshot: $logdir/webview.png"
fi
finish_checks
