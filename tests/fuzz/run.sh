#!/bin/bash
# Run the libFuzzer targets of one build (tests/fuzz/fuzz-*.c, built by
# make into BUILD/fuzz/), printing TAP lines for tests/run-tests.sh.
#
#   tests/fuzz/run.sh                  what make check runs: per target,
#                                      replay corpus/ and regress/ (no
#                                      mutation), then fuzz for
#                                      FUZZ_CHECK_TIME seconds (default 3,
#                                      at most FUZZ_CHECK_RUNS inputs)
#   tests/fuzz/run.sh --long S [BUILD] make fuzz: the same, fuzzing S seconds
#                                      per target, new inputs kept in
#                                      BUILD/fuzz/corpus/NAME
#
# BUILD defaults to $PSS_TEST_BUILD (set by run-tests.sh), then build/.
# Crashing inputs are saved in BUILD/fuzz/crashes/; once the bug is fixed,
# move the input to tests/fuzz/regress/NAME/ so every check replays it.
# Targets run FUZZ_JOBS at a time (default: the number of CPUs).
set -u
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
long=0
fuzz_time=${FUZZ_CHECK_TIME:-3}
runs=${FUZZ_CHECK_RUNS:-500000}
if [ "${1:-}" = --long ]; then
	long=1
	fuzz_time=${2:-60}
	runs=-1
	build=${3:-${PSS_TEST_BUILD:-$srcdir/build}}
else
	build=${PSS_TEST_BUILD:-$srcdir/build}
fi
build=$(cd "$build" 2>/dev/null && pwd) || { echo "no build directory" >&2; exit 1; }
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
# Leaks are findings too; a sanitizer report must fail the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fuzzers=$(ls "$build"/fuzz/fuzz-* 2>/dev/null | grep -v '\.[oa]$')
if [ -z "$fuzzers" ]; then
	echo "# no fuzz targets in $build/fuzz (clang or libclang-rt missing?)"
	exit 77
fi
crashes=$build/fuzz/crashes
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$crashes"

# Replay then fuzz one target; result lines go to $tmp/NAME.tap.
one() {
	local bin=$1 name=${1##*/fuzz-} out=$tmp/${1##*/fuzz-}
	local seeds=() files=() work
	for d in "$srcdir/tests/fuzz/corpus/$name" "$srcdir/tests/fuzz/regress/$name"; do
		[ -d "$d" ] && seeds+=("$d")
	done
	[ ${#seeds[@]} -gt 0 ] && mapfile -t files < <(find "${seeds[@]}" -type f | sort)
	if [ ${#files[@]} -eq 0 ]; then
		echo "not ok - fuzz-$name: no corpus in tests/fuzz/corpus/$name" >"$out.tap"
		return
	fi
	# Replay: each stored input once, as a regression test.
	if "$bin" -runs=1 "${files[@]}" >"$out.replay" 2>&1; then
		echo "ok - fuzz-$name replays ${#files[@]} stored inputs" >"$out.tap"
	else
		echo "not ok - fuzz-$name replay of the stored inputs failed" >"$out.tap"
		grep -E 'Running:|ERROR|SUMMARY|check failed|runtime error' "$out.replay" |
			tail -n 20 | sed 's/^/# /' >>"$out.tap"
	fi
	# Fuzz: new inputs go to a scratch corpus (or the build's own for --long).
	if [ "$long" = 1 ]; then
		work=$build/fuzz/corpus/$name
	else
		work=$tmp/$name.corpus
	fi
	mkdir -p "$work"
	if "$bin" -max_total_time="$fuzz_time" -runs="$runs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$crashes/$name-" -print_final_stats=1 \
		"$work" "${seeds[@]}" >"$out.fuzz" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out.fuzz")
		echo "ok - fuzz-$name fuzzed ${fuzz_time}s (${execs:-?} inputs), no crash" >>"$out.tap"
	else
		echo "not ok - fuzz-$name found a crash" >>"$out.tap"
		grep -E 'ERROR|SUMMARY|check failed|runtime error|artifact|Test unit written' \
			"$out.fuzz" | tail -n 20 | sed 's/^/# /' >>"$out.tap"
		echo "# fix it, then move the input from $crashes to tests/fuzz/regress/$name/" >>"$out.tap"
	fi
}

running=0
for bin in $fuzzers; do
	[ -x "$bin" ] || continue
	one "$bin" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

n=0
for bin in $fuzzers; do
	name=${bin##*/fuzz-}
	[ -f "$tmp/$name.tap" ] || continue
	while IFS= read -r line; do
		case "$line" in
		ok\ -*) n=$((n + 1)); echo "ok $n ${line#ok }" ;;
		not\ ok\ -*) n=$((n + 1)); echo "not ok $n ${line#not ok }" ;;
		*) echo "$line" ;;
		esac
	done <"$tmp/$name.tap"
done
echo "1..$n"
grep -q '^not ok' "$tmp"/*.tap && exit 1
exit 0
