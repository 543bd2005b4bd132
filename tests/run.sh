#!/usr/bin/env bash
# The README's test command: installs what is needed, builds insel three ways and runs the
# whole suite.
#   1. gcc, warnings as errors: unit tests, the fast suite (a call on loopback, no root)
#      and the scale suite (1,000 calls through one gateway: affordable without ASan);
#   2. clang with AddressSanitizer and UndefinedBehaviorSanitizer, warnings as errors:
#      every test (unit and network-namespace integration) but the PostgreSQL copies of
#      the directory's unit tests (suite pg, run by stage 1); network-namespace tests with
#      tight time bounds alone, the others two at a time (tests/netns/meson.build);
#   3. clang with libFuzzer: each fuzz target for a few seconds from its seed corpus, two
#      at a time. Built and run beside stage 2, at the lowest CPU priority: stage 2 is
#      mostly network-namespace tests that wait on their daemons' timers and leave most of
#      both cores idle (about 15% busy), which this stage takes instead of 2 minutes of
#      its own.
# Ends with one line "N passed, N failed, N skipped" (a skip is never counted as a pass)
# and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# 5 s per target: the seed corpora are small (784 KiB in all), so their replay takes
# milliseconds either way and the rest is exploration; 31 targets two at a time take
# about 80 s instead of 155 s of the 30-minute budget. Longer runs are by hand (HACKING.md).
fuzz_seconds=${INSEL_FUZZ_SECONDS:-5}

bash deploy/install-deps.sh || exit 1

passed=0
failed=0
skipped=0
failures=()
skips=()

setup() {  # setup DIR ARGS... : configure once, reconfigure afterwards
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
	else
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
	fi || { cat "$dir.setup.log"; return 1; }
}

# Adds a meson run's results (from its JSON log) to the totals.
count_meson() {
	local dir=$1 label=$2 line
	while read -r line; do
		case "$line" in
		PASS*) passed=$((passed + 1)) ;;
		SKIP*) skipped=$((skipped + 1)); skips+=("$label: ${line#SKIP }") ;;
		FAIL*) failed=$((failed + 1)); failures+=("$label: ${line#FAIL }") ;;
		esac
	done < <(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] == "SKIP":
        print("SKIP " + t["name"])
    else:
        ok = t["result"] in ("OK", "EXPECTEDFAIL")
        print(("PASS " if ok else "FAIL ") + t["name"])
PY
)
}

stage() {  # stage LABEL DIR MESON-TEST-ARGS...
	local label=$1 dir=$2
	shift 2
	echo "== $label"
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		cat "$dir.build.log"
		failed=$((failed + 1)); failures+=("$label: build")
		return
	fi
	meson test -C "$dir" --print-errorlogs "$@" || true
	count_meson "$dir" "$label"
}

export CC=gcc
if setup build-gcc -Dwerror=true; then
	stage "gcc -Werror, unit, fast, scale and PostgreSQL tests" build-gcc --suite unit \
		--suite fast --suite scale --suite pg
else
	failed=$((failed + 1)); failures+=("gcc: configure")
fi

# The fuzz stage: builds the targets and runs each; every verdict goes to a file
# (build-fuzz/fuzz-NAME.result "ok" or "failed", build-fuzz.result "built" or not), read
# by fuzz_count once it is done.
fuzz_one() {  # fuzz_one TARGET: one target from a copy of its seed corpus
	local target=$1 name corpus
	name=${target##*/fuzz-}
	corpus=$(mktemp -d)
	cp -r "$top/tests/fuzz/corpus/$name/." "$corpus/" 2>/dev/null || true
	if "$target" -max_total_time="$fuzz_seconds" -max_len=4096 -timeout=10 \
		"$corpus" >"build-fuzz/fuzz-$name.log" 2>&1; then
		echo ok >"build-fuzz/fuzz-$name.result"
	else
		echo failed >"build-fuzz/fuzz-$name.result"
	fi
	rm -rf "$corpus"
}
export -f fuzz_one
export top fuzz_seconds
# The build's fuzz targets, as ninja names them: every executable called fuzz-*.
fuzz_outputs() {
	meson introspect build-fuzz --targets | python3 -c '
import json, os, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz-"):
        print(os.path.relpath(t["filename"][0], sys.argv[1]))' "$PWD/build-fuzz"
}
fuzz_stage() {
	local fuzz_built targets=() target
	rm -f build-fuzz.result build-fuzz/fuzz-*.result
	# Only the targets, not the daemons, client and library that none of them links: 142
	# objects instead of 250, about half the fuzz build's CPU time.
	setup build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
		-Db_lundef=false && mapfile -t fuzz_built < <(fuzz_outputs) &&
		[ "${#fuzz_built[@]}" -gt 0 ] &&
		ninja -C build-fuzz "${fuzz_built[@]}" >build-fuzz.build.log 2>&1 || return 1
	echo built >build-fuzz.result
	for target in build-fuzz/tests/fuzz/fuzz-*; do
		[ -f "$target" ] && [ -x "$target" ] && targets+=("$target")
	done
	# The machine has two cores and each target uses one: two run at once.
	printf '%s\0' "${targets[@]}" | xargs -0 -n 1 -P 2 bash -c 'fuzz_one "$0"'
}
# Adds the fuzz stage's verdicts to the totals.
fuzz_count() {
	local target name
	echo "== fuzz targets, ${fuzz_seconds}s each, two at a time (beside the ASan stage)"
	if [ "$(cat build-fuzz.result 2>/dev/null)" != built ]; then
		cat build-fuzz.setup.log build-fuzz.build.log 2>/dev/null
		failed=$((failed + 1)); failures+=("fuzz: build")
		return
	fi
	for target in build-fuzz/tests/fuzz/fuzz-*; do
		[ -f "$target" ] && [ -x "$target" ] || continue
		name=${target##*/fuzz-}
		if [ "$(cat "build-fuzz/fuzz-$name.result" 2>/dev/null)" = ok ]; then
			echo "fuzz-$name: $(grep -o 'Done [0-9]* runs' "build-fuzz/fuzz-$name.log")"
			passed=$((passed + 1))
		else
			tail -40 "build-fuzz/fuzz-$name.log"
			failed=$((failed + 1)); failures+=("fuzz-$name")
		fi
	done
}

export CC=clang
# Nice 19: the ASan stage's processes take the CPU whenever they want it.
rm -f build-fuzz.result
nice -n 19 bash -c "$(declare -f setup fuzz_outputs fuzz_stage); fuzz_stage" \
	>build-fuzz.stage.log 2>&1 &
fuzz_pid=$!
if setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false; then
	stage "clang ASan+UBSan, all tests but scale and pg" build-asan --no-suite scale \
		--no-suite pg
else
	failed=$((failed + 1)); failures+=("asan: configure")
fi
wait "$fuzz_pid"
fuzz_count

echo
for f in "${failures[@]}"; do
	echo "FAILED: $f"
done
for s in "${skips[@]}"; do
	echo "SKIPPED: $s"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
