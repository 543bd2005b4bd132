#!/usr/bin/env bash
# Installs, with apt-get, everything insel needs to build, test and run its demo on Debian 12.
# Idempotent: when every package is already there it changes nothing and asks no mirror.
# With --bench it adds the yardstick tunnels the benchmarks compare insel with (socat,
# OpenVPN); neither the tests nor the demo need them.
set -euo pipefail

packages=(
	# toolchain and build
	gcc clang libclang-rt-14-dev meson ninja-build pkg-config python3
	# libraries insel links against
	libgnutls28-dev nettle-dev libuv1-dev libjansson-dev libsqlite3-dev libinih-dev zlib1g-dev
	libseccomp-dev
	# the directory's PostgreSQL engine (libpq), and the server its tests start (pg_lib.sh)
	libpq-dev postgresql
	# the HTTP(S) server of /metrics and the web view
	libmicrohttpd-dev
	# unit tests
	libcmocka-dev
	# integration tests, demo and benchmarks: namespaces, NAT, real applications
	iproute2 nftables netcat-openbsd iperf3 iputils-ping iputils-tracepath sqlite3 procps
	tcpdump
	# NAT tests (tests/netns/nat.sh): flushing a router's mappings to simulate a rebinding
	conntrack
	# STUN interoperability: our codec against coturn's turnserver (tests/integration/stun.sh)
	coturn
	gnutls-bin
	# the web view's test in a real browser (tests/netns/webview.sh): headless Chromium,
	# its WebDriver and Debian's Python bindings for it
	chromium chromium-driver python3-selenium
	# manual pages (man/*.scd) and their check (groff); the Debian packages and their test
	scdoc groff-base man-db debhelper dpkg-dev fakeroot lintian util-linux
)
if [ "${1:-}" = --bench ]; then
	packages+=(socat openvpn)
elif [ $# -gt 0 ]; then
	echo "usage: install-deps.sh [--bench]" >&2
	exit 2
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
