#!/usr/bin/env bash
# Creates an organisation's insel PKI and directory on the principal's host, step by step
# as the README describes (installed as insel-pki-bootstrap):
#   insel-pki-bootstrap ORG-NAME LAN:PREFIX[,PREFIX] ...
# e.g. insel-pki-bootstrap "Example Ltd" lan-a:10.1.0.0/24 lan-b:10.2.0.0/24
# writes /etc/insel/ca.{crt,key} (keep ca.key offline afterwards), the principal's
# certificate, an operator certificate for read-only tools, one certificate per LAN's
# secondary in /etc/insel/secondaries/, and the LANs in the directory, each bound to the
# secondary named after it. Refuses to overwrite anything that exists.
set -euo pipefail
etc=${INSEL_ETC:-/etc/insel}
db=${INSEL_DB:-/var/lib/insel/principal.db}
# insel-principal from INSEL_BIN, else from PATH, else where this script was installed
# beside it ('@bindir@' is filled in by meson install).
if [ -n "${INSEL_BIN:-}" ]; then
	P=$INSEL_BIN/insel-principal
elif command -v insel-principal >/dev/null; then
	P=$(command -v insel-principal)
else
	P='@bindir@/insel-principal'
fi
if [ ! -x "$P" ]; then
	echo "insel-pki-bootstrap: insel-principal is not installed (README, \"Operating insel\"," \
		"step 1), or set INSEL_BIN to the folder that holds it" >&2
	exit 1
fi

if [ $# -lt 2 ]; then
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
org=$1
shift
install -d -m 0755 "$etc"
install -d -m 0700 "$etc/secondaries" "$(dirname "$db")"

echo "1. The organisation CA in $etc"
"$P" pki init --dir "$etc" --org "$org"
echo "2. The principal's certificate"
"$P" pki issue --dir "$etc" --role principal --name principal \
	--out-cert "$etc/principal.crt" --out-key "$etc/principal.key"
echo "   and one for operators' read-only tools (role operator, never taken for the directory)"
"$P" pki issue --dir "$etc" --role operator --name operator \
	--out-cert "$etc/operator.crt" --out-key "$etc/operator.key"
for spec in "$@"; do
	lan=${spec%%:*}
	prefixes=${spec#*:}
	echo "3. LAN $lan ($prefixes), bound to its secondary $lan, and that secondary's certificate"
	args=()
	for p in ${prefixes//,/ }; do
		args+=(--prefix "$p")
	done
	# Only the operator binds a LAN to a secondary; its registration merely confirms it.
	"$P" secondary add "$lan" --db "$db"
	"$P" lan add "$lan" "${args[@]}" --secondary "$lan" --db "$db"
	"$P" pki issue --dir "$etc" --role secondary --name "$lan" \
		--out-cert "$etc/secondaries/$lan.crt" --out-key "$etc/secondaries/$lan.key"
done
# The principal's daemon runs as the system user insel (insel-principal.service): give it
# its key (group-readable, 0640) and the directory it keeps.
if getent passwd insel >/dev/null && getent group insel >/dev/null; then
	chgrp insel "$etc/principal.key"
	chmod 0640 "$etc/principal.key"
	chown -R insel:insel "$(dirname "$db")"
fi
cat <<TXT

Next:
  - copy ca.crt, secondaries/LAN.crt and secondaries/LAN.key to each LAN's gateway
    (/etc/insel/), and write /etc/insel/secondary.conf there (from
    /etc/insel/secondary.conf.example, insel-secondary.conf(5));
  - add users:  insel-principal user add alice@lan-a --db $db
  - start:      systemctl enable --now insel-principal   (here)
                systemctl enable --now insel-secondary   (on each gateway)
  - move $etc/ca.key somewhere offline; it is only needed to issue certificates.
TXT
