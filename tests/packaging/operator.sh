#!/usr/bin/env bash
# The README's "Operating insel", run as written: every command block of that section,
# in order, on the machine its marker names (tests/packaging/readme_steps.py extracts
# them), from building the Debian packages to the first call. Then traffic through that
# call, both ways, proves it carries.
#
# Each machine (build, principal, gw-a, gw-b, a1, b1) is a network namespace of
# tests/netns/lib.sh's two-site topology and a throwaway root of its own: an overlay over
# / whose writes go to a tmpfs, in a mount namespace private to this test, entered with
# chroot. Nothing is installed on the real machine and no address exists outside the
# namespaces. systemd does not run here (nor in CI): `systemctl` on those machines is
# tests/packaging/systemctl.sh, which runs the installed unit's ExecStart as its User
# and Group with its capabilities (and says what it leaves out). The passwords the
# README's users would type come from the markers (INSEL_PASSWORD); the README's own
# `echo ... |` feeds the operator's.
#
# INSEL_DEBS=DIR skips building: the packages are taken from DIR instead (for re-runs).
# INSEL_LINTIAN=1 runs lintian on the packages built (no tags at the time of writing).
# Needs root, unshare, setpriv, overlayfs, dpkg-buildpackage and scdoc; else SKIP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root (namespaces, chroot, overlay mounts)"
	exit 77
fi
for tool in unshare setpriv chroot dpkg-buildpackage dh scdoc apt-get ip nft; do
	if ! command -v "$tool" >/dev/null; then
		echo "SKIP: $tool is not installed (deploy/install-deps.sh installs it)"
		exit 77
	fi
done
if [ -z "${INSEL_OPERATOR_PRIVATE:-}" ]; then
	# Everything below in a mount namespace of its own: the machines' roots vanish with it.
	exec env INSEL_OPERATOR_PRIVATE=1 unshare -m --propagation private bash "$0" "$@"
fi
if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then
	echo "SKIP: no overlayfs in this kernel"
	exit 77
fi

# The namespaces' names too: other tests and `ip netns list` outside see none of them.
mkdir -p /run/netns
mount -t tmpfs -o mode=0755 insel-operator-netns /run/netns

source "$top/tests/netns/lib.sh"
netns_begin
ROOTS=$NETNS_TMP/machines
STEPS=$NETNS_TMP/steps
mkdir -p "$ROOTS" "$STEPS"
mount -t tmpfs -o size=3g,mode=0755 insel-machines "$ROOTS"

# Clean-up: the daemons the stand-in systemd started (by their PID files), the machines'
# mounts (before lib.sh removes the temp folder: never rm through a mount), then lib.sh's.
machines_cleanup() {
	local pidf
	for pidf in "$ROOTS"/*/root/run/test-systemd/*.pid; do
		[ -f "$pidf" ] || continue
		kill "$(cat "$pidf")" 2>/dev/null || true
	done
	sleep 0.5
	for pidf in "$ROOTS"/*/root/run/test-systemd/*.pid; do
		[ -f "$pidf" ] || continue
		kill -9 "$(cat "$pidf")" 2>/dev/null || true
	done
	if ! umount -R "$ROOTS" 2>/dev/null; then
		umount -R -l "$ROOTS" 2>/dev/null || true
	fi
	if mountpoint -q "$ROOTS"; then
		NETNS_TMP=""  # leave the folder rather than delete through a mount
	fi
	netns_cleanup
}
trap machines_cleanup EXIT

# A machine: its root (overlay over /, writes to the tmpfs) with its own /proc, /dev,
# /run and /tmp, and the stand-in systemctl.
machine() {  # machine NAME
	local m=$ROOTS/$1 dev
	mkdir -p "$m/upper" "$m/work" "$m/root"
	mount -t overlay "insel-$1" -o "lowerdir=/,upperdir=$m/upper,workdir=$m/work" "$m/root"
	mount -t proc proc "$m/root/proc"
	mount -t tmpfs -o mode=0755 run "$m/root/run"
	mount -t tmpfs -o mode=1777 tmp "$m/root/tmp"
	dev=$m/root/dev
	mount -t tmpfs -o mode=0755 dev "$dev"
	mknod -m 0666 "$dev/null" c 1 3
	mknod -m 0666 "$dev/zero" c 1 5
	mknod -m 0666 "$dev/full" c 1 7
	mknod -m 0666 "$dev/random" c 1 8
	mknod -m 0666 "$dev/urandom" c 1 9
	mknod -m 0666 "$dev/tty" c 5 0
	mkdir -m 0755 "$dev/net" "$dev/pts" "$dev/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$dev/pts"
	ln -s pts/ptmx "$dev/ptmx"
	mknod -m 0666 "$dev/net/tun" c 10 200
	install -m 0755 "$here/systemctl.sh" "$m/root/usr/local/sbin/systemctl"
	# A fresh machine: no insel installed, no state, nothing from the host's own runs.
	rm -rf "$m/root/etc/insel" "$m/root/var/lib/insel"
}

# Runs a script on a machine: in its network namespace (the build machine has only
# loopback), chrooted into its root, with a login shell's environment.
on() {  # on NAME [ENV=VALUE...] -- SCRIPT-FILE
	local name=$1 ns=$1 envs=()
	shift
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ "$name" = build ] && ns=build
	ip netns exec "${NS}$ns" unshare -m --propagation private sh -c '
		mount --rbind /sys "$1/sys" && shift && exec chroot "$@"' sh \
		"$ROOTS/$name/root" "$ROOTS/$name/root" /usr/bin/env -i HOME=/root \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive DEB_BUILD_OPTIONS="nocheck parallel=2" \
		"${envs[@]}" /bin/bash -e "/tmp/step.sh"
}

step_file() {  # step_file NAME SCRIPT: puts SCRIPT where `on` runs it
	install -m 0644 "$2" "$ROOTS/$1/root/tmp/step.sh"
}

# The source goes onto the build machine as a fresh checkout would have it (tracked and
# new files, no build folders).
source_to_build_machine() {
	local dest=$ROOTS/build/root/usr/src/insel
	mkdir -p "$dest"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$top" ls-files -co --exclude-standard -z |
			tar -C "$top" --null --no-recursion --ignore-failed-read -T - -cf - |
			tar -xf - -C "$dest"
	else
		tar -C "$top" --exclude='./build*' --exclude='./obj-*' -cf - . | tar -xf - -C "$dest"
	fi
}

carry() {  # carry FROM:PATTERN TO:DIR...
	local from=${1%%:*} pattern=${1#*:} to f n=0
	shift
	for to in "$@"; do
		for f in "$ROOTS/$from/root"$pattern; do
			[ -e "$f" ] || fail "carry: nothing at $from:$pattern"
			install -D -m 0644 "$f" "$ROOTS/${to%%:*}/root${to#*:}/$(basename "$f")"
			n=$((n + 1))
		done
	done
	echo "carried $n file(s) from $from:$pattern"
}

wait_lans_up() {  # the principal's directory shows both LANs up (bounded)
	local out
	for _ in $(seq 1 100); do
		out=$(ip netns exec "${NS}principal" chroot "$ROOTS/principal/root" \
			insel-principal lan list --json 2>/dev/null || true)
		if [ "$(grep -o '"state": *"up"' <<<"$out" | wc -l)" -ge 2 ]; then
			return 0
		fi
		sleep 0.2
	done
	tail -n 20 "$ROOTS"/*/root/var/log/insel-*.log >&2 || true
	fail "the gateways did not register within 20 s"
}

ns_add build
topo_two_sites
for m in build principal gw-a gw-b a1 b1; do
	machine "$m"
done
source_to_build_machine
started=$SECONDS

count=$(python3 "$here/readme_steps.py" "$top/README.md" "$STEPS")
echo "README, \"Operating insel\": $count steps"
call_out=""
for stepf in "$STEPS"/*.step; do
	read -r kind host flags <"$stepf"
	script=${stepf%.step}.sh
	if [ "$kind" = carry ]; then
		# shellcheck disable=SC2086 # the destinations are words
		carry "$host" $flags
		continue
	fi
	if [ "$host" = build ] && [ -n "${INSEL_DEBS:-}" ]; then
		echo "== build: skipped, packages from $INSEL_DEBS"
		cp "$INSEL_DEBS"/insel-*_amd64.deb "$ROOTS/build/root/root/"
		continue
	fi
	password=""
	[[ " $flags" == *" password="* ]] && password=${flags#*password=}
	envs=()
	[ -z "$password" ] || envs+=("INSEL_PASSWORD=$password")
	echo "== $host${flags:+ ($flags)}:"
	sed 's/^/   $ /' "$script"
	step_file "$host" "$script"
	[ "$host" != build ] || echo "cd /usr/src/insel" | cat - "$script" >"$ROOTS/build/root/tmp/step.sh"
	log=$NETNS_TMP/step-$(basename "$stepf" .step).log
	case " $flags " in
	*" background "*)
		on "$host" "${envs[@]}" -- >"$log" 2>&1 &
		LAST_PID=$!
		NETNS_PIDS+=("$LAST_PID")
		for _ in $(seq 1 100); do
			grep -q "listening for calls" "$log" && break
			kill -0 "$LAST_PID" 2>/dev/null || { cat "$log"; fail "the background block ended"; }
			sleep 0.1
		done
		grep -q "listening for calls" "$log" || { cat "$log"; fail "insel listen did not start"; }
		cat "$log"
		;;
	*" wait-up "*)
		wait_lans_up
		on "$host" -- 2>&1 | tee "$log"
		;;
	*)
		if ! on "$host" "${envs[@]}" -- >"$log" 2>&1; then
			tail -n 60 "$log"
			tail -n 20 "$ROOTS"/*/root/var/log/insel-*.log 2>/dev/null || true
			fail "the README's block on $host failed"
		fi
		if [ "$host" = build ]; then
			tail -n 3 "$log"
		else
			grep -v '^\(Selecting\|Preparing\|Unpacking\|Setting up\|Processing\|Reading\|Building\|Note\|(Reading\)' "$log" || true
		fi
		case " $flags " in *" call "*) call_out=$(cat "$log") ;; esac
		;;
	esac
	echo "   ($((SECONDS - started)) s so far)"
done

# With INSEL_LINTIAN=1, what lintian says of the packages (about 30 s; an error fails).
if [ -n "${INSEL_LINTIAN:-}" ] && command -v lintian >/dev/null && [ -z "${INSEL_DEBS:-}" ]; then
	lintian_out=$(lintian "$ROOTS"/build/root/usr/src/insel_*_amd64.changes 2>&1 |
		grep -v 'running with root privileges' || true)
	echo "lintian: ${lintian_out:-no tags}"
	! grep -q '^E:' <<<"$lintian_out" || fail "lintian reports errors"
fi

# The call the README placed carries datagrams: an echo on bob's host, alice's
# application sending to her gateway as `insel call` said.
call=$(sed -n 's/^call \([0-9a-f]\{16\}\) .*/\1/p' <<<"$call_out" | head -n 1)
[ -n "$call" ] || fail "the README's insel call printed no call id"
pass "the README's first call is up: $call"
spawn_in_ns b1 "$NETNS_TMP/echo.log" python3 "$top/tests/netns/udp_tool.py" echo 5004 \
	--count 20 --timeout 20
sleep 0.3
out=$(in_ns a1 python3 "$top/tests/netns/udp_tool.py" send 10.1.0.1 5004 --count 20 \
	--size 500) || fail "datagrams through the call: $out"
pass "alice's datagrams reached bob's host and came back through the call ($out)"
# The daemons run as the units say: the principal as insel, the secondaries as root.
uid=$(ps -o uid= -p "$(cat "$ROOTS/principal/root/run/test-systemd/insel-principal.pid")")
[ "${uid// /}" = "$(chroot "$ROOTS/principal/root" id -u insel)" ] ||
	fail "the principal runs as uid $uid, not insel's"
pass "insel-principal runs as the system user insel the package made"
pass "the README's operator path, $count steps, in $((SECONDS - started)) s"
