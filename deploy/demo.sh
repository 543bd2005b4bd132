#!/usr/bin/env bash
# The README's demo command: installs what is needed, builds insel, and runs the demo.
# The demo grows with the project towards "a principal, two sites in network namespaces, a
# call placed and traffic through it"; today it shows what exists.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null
exec bash deploy/demo-run.sh build
