#!/usr/bin/env bash
# `meson install` gives an operator everything "Operating insel" uses: the programs, the
# systemd units pointing at the installed programs and configuration, the example
# configurations in /etc/insel, the manual pages and insel-pki-bootstrap, which finds the
# installed insel-principal and bootstraps a PKI and directory with it.
#   install.sh BUILD-DIR
# Installs into a scratch DESTDIR (nothing on the machine), runs as any user.
set -euo pipefail
build=$1
tmp=$(mktemp -d /tmp/insel-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "meson install"; }
prefix=$(meson introspect "$build" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
root=$tmp/root
bin=$root$prefix/bin

for p in insel insel-principal insel-secondary insel-auxiliary insel-relay insel-pki-bootstrap; do
	[ -x "$bin/$p" ] || fail "$prefix/bin/$p is not installed"
done
pass "the programs and insel-pki-bootstrap in $prefix/bin"

for unit in insel-principal insel-secondary; do
	f=$(find "$root" -name "$unit.service" | head -n 1)
	[ -n "$f" ] || fail "$unit.service is not installed"
	exec_start=$(sed -n 's/^ExecStart=//p' "$f")
	program=${exec_start%% *}
	[ -x "$root$program" ] || fail "$unit.service starts $program, which is not installed"
	config=$(sed -n 's/.*--config \([^ ]*\).*/\1/p' <<<"$exec_start")
	[ "$config" = "/etc/insel/${unit#insel-}.conf" ] || fail "$unit.service reads $config"
	[ -f "$root/etc/insel/${unit#insel-}.conf.example" ] ||
		fail "no /etc/insel/${unit#insel-}.conf.example beside $unit.service"
	pass "${f#"$root"}: ExecStart=$exec_start, example configuration in /etc/insel"
done

if grep -q "scdoc not found" "$build/meson-logs/meson-log.txt" 2>/dev/null; then
	echo "manual pages: not built here (no scdoc), not checked"
else
	for page in man1/insel.1 man8/insel-principal.8 man8/insel-secondary.8 \
		man8/insel-auxiliary.8 man8/insel-relay.8 man8/insel-pki-bootstrap.8 \
		man5/insel-principal.conf.5 man5/insel-secondary.conf.5; do
		[ -f "$root$prefix/share/man/$page" ] || fail "$prefix/share/man/$page is not installed"
	done
	pass "the manual pages in $prefix/share/man"
fi

# The bootstrap finds insel-principal on PATH (no /usr/local/bin assumed) and creates the
# CA, the certificates and the LANs.
PATH="$bin:$PATH" INSEL_ETC="$tmp/etc" INSEL_DB="$tmp/lib/principal.db" \
	"$bin/insel-pki-bootstrap" "Example Ltd" lan-a:10.1.0.0/24 >"$tmp/boot.log" 2>&1 ||
	{ cat "$tmp/boot.log"; fail "insel-pki-bootstrap"; }
for f in ca.crt ca.key principal.crt principal.key operator.crt secondaries/lan-a.crt \
	secondaries/lan-a.key; do
	[ -s "$tmp/etc/$f" ] || fail "insel-pki-bootstrap wrote no $f"
done
"$bin/insel-principal" lan show lan-a --db "$tmp/lib/principal.db" | grep -q 10.1.0.0/24 ||
	fail "the bootstrap's LAN is not in the directory"
pass "insel-pki-bootstrap, found on PATH, made the CA, the certificates and LAN lan-a"
# Without an insel-principal anywhere it says what to do.
if PATH=/usr/bin:/bin command -v insel-principal >/dev/null; then
	echo "insel-principal is installed on this machine: the message for its absence is not checked"
	exit 0
fi
if PATH=/usr/bin:/bin INSEL_ETC="$tmp/etc2" INSEL_DB="$tmp/lib2/p.db" \
	bash "$(dirname "$0")/../../deploy/pki-bootstrap.sh" Org lan-a:10.1.0.0/24 >"$tmp/none.log" 2>&1; then
	fail "the uninstalled bootstrap ran without an insel-principal"
fi
grep -q "not installed" "$tmp/none.log" || { cat "$tmp/none.log"; fail "no useful message"; }
pass "without insel-principal installed the bootstrap says so"
