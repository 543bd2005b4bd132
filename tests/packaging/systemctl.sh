#!/usr/bin/env bash
# A stand-in for systemctl on the test's machines, where systemd is not running (CI has
# none either): `systemctl enable [--now] UNIT` and `start UNIT` run the unit file's
# ExecStart the way systemd would as far as identity goes: as its User and Group, with
# its AmbientCapabilities and a bounding set of its CapabilityBoundingSet, after making
# its StateDirectory and RuntimeDirectory (owned by the User). It does not apply the
# file-system protections (ProtectSystem, PrivateTmp, ...): the machine is a throwaway
# root already. `stop UNIT` sends SIGTERM. The daemon's output goes to
# /var/log/UNIT.log, its PID to /run/test-systemd/UNIT.pid (for the test's clean-up).
set -euo pipefail

unit_file() {
	local name=$1 d
	[[ $name == *.service ]] || name=$name.service
	for d in /etc/systemd/system /usr/local/lib/systemd/system /lib/systemd/system \
		/usr/lib/systemd/system; do
		if [ -f "$d/$name" ]; then
			echo "$d/$name"
			return 0
		fi
	done
	echo "systemctl: unit $name not found" >&2
	return 1
}

key() {  # key FILE NAME: the value of NAME= in [Service] (the last one)
	awk -F= -v k="$2" '/^\[/{s=($0=="[Service]")} s && $1==k {sub(/^[^=]*=/, ""); v=$0} END{print v}' "$1"
}

caps_list() {  # "CAP_A CAP_B" -> "+a,+b"
	local out=() c
	for c in $1; do
		c=${c#CAP_}
		out+=("+${c,,}")
	done
	(IFS=,; echo "${out[*]}")
}

start() {
	local file name user group state runtime ambient bounding exec args=() pidf
	file=$(unit_file "$1")
	name=$(basename "$file" .service)
	pidf=/run/test-systemd/$name.pid
	if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
		return 0
	fi
	user=$(key "$file" User)
	group=$(key "$file" Group)
	state=$(key "$file" StateDirectory)
	runtime=$(key "$file" RuntimeDirectory)
	ambient=$(key "$file" AmbientCapabilities)
	bounding=$(key "$file" CapabilityBoundingSet)
	exec=$(key "$file" ExecStart)
	for d in $state; do
		install -d -m "$(key "$file" StateDirectoryMode | sed 's/^$/0755/')" "/var/lib/$d"
		[ -z "$user" ] || chown -R "$user:${group:-$user}" "/var/lib/$d"
	done
	for d in $runtime; do
		install -d -m 0755 ${user:+-o "$user"} ${group:+-g "$group"} "/run/$d"
	done
	if [ -n "$user" ]; then
		args+=(--reuid "$user" --regid "${group:-$user}" --init-groups)
	fi
	if [ -n "$ambient" ]; then
		args+=(--inh-caps "$(caps_list "$ambient")" --ambient-caps "$(caps_list "$ambient")")
	fi
	if [ -n "$bounding" ]; then
		args+=(--bounding-set "-all,$(caps_list "$bounding")")
	elif grep -q '^CapabilityBoundingSet=$' "$file"; then
		args+=(--bounding-set -all)
	fi
	install -d /run/test-systemd
	# shellcheck disable=SC2086 # ExecStart is split into words, as systemd does
	setsid setpriv "${args[@]}" -- $exec </dev/null >"/var/log/$name.log" 2>&1 &
	echo $! >"$pidf"
}

stop() {
	local name=${1%.service} pidf
	pidf=/run/test-systemd/$name.pid
	[ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null || true
}

case "${1:-}" in
enable)
	shift
	now=false
	if [ "${1:-}" = --now ]; then
		now=true
		shift
	fi
	for u in "$@"; do
		/usr/bin/systemctl enable "$u"
		! $now || start "$u"
	done
	;;
start | restart)
	shift
	for u in "$@"; do start "$u"; done
	;;
stop)
	shift
	for u in "$@"; do stop "$u"; done
	;;
*)
	echo "systemctl (test stand-in): only enable [--now], start, stop" >&2
	exit 1
	;;
esac
