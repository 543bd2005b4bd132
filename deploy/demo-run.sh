#!/usr/bin/env bash
# Runs the demo against a build directory (deploy/demo.sh builds it first).
set -euo pipefail
build=${1:-build}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "insel programs built in $build/"
for p in principal/insel-principal secondary/insel-secondary auxiliary/insel-auxiliary client/insel; do
	"$build/$p" --version
done

say "Addressing plan of the demo's two LANs and the simulated Internet"
"$build/principal/insel-principal" plan 10.1.0.0/24 10.2.0.0/24 198.18.0.0/15
