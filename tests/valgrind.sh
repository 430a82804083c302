#!/bin/bash
# Run the test programs of one build under valgrind memcheck and count
# their TAP lines, as tests/run-tests.sh does.
#   tests/valgrind.sh BUILD_DIR
# Env: TESTS="pattern..." keeps only programs whose name contains one of the
# space-separated patterns (a pattern ending in '$' must end the name); RESULTS=file appends
# "passed failed skipped" for tests/summary.sh; TEST_TIMEOUT seconds per
# program; VALGRIND=path.
#
# Only the test programs (the library's users) run under valgrind, with
# every process they fork; the programs they exec (victims, the pss tool,
# gdb...) run natively (--trace-children=no).  A program fails if one of
# its processes reports a memcheck error or a definite or indirect leak,
# counted from the ERROR SUMMARY of every process's log.
# tests/valgrind-preload.c supplies the pidfd calls valgrind 3.19 lacks.
set -u
build=${1:?usage: valgrind.sh BUILD_DIR}
timeout_s=${TEST_TIMEOUT:-600}
vg=${VALGRIND:-valgrind}
srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$srcdir/tests/lib/tap.sh"
command -v "$vg" >/dev/null || { echo "valgrind.sh: no $vg (scripts/deps.sh test)" >&2; exit 1; }
export CMOCKA_MESSAGE_OUTPUT=TAP
export PSS_TEST_BUILD=$(cd "$build" && pwd)
export PSS_TEST_TARGETS="$PSS_TEST_BUILD/tests/targets"
# A live test's own timeout (harness.c): memcheck runs the tests 10-50 times slower.
export PSS_TEST_TIMEOUT=${PSS_TEST_TIMEOUT:-120}
preload=$PSS_TEST_BUILD/tests/valgrind-preload.so
${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -shared -fPIC \
	"$srcdir/tests/valgrind-preload.c" -o "$preload" -ldl || exit 1
# --fair-sched=yes: valgrind runs one thread at a time, and its default lock
# lets a spinning thread take it again and again; the row 70 test's walker
# then starved the thread that frees, its marker kept every block it was
# handed (they live until PssWalkMarkerFree), and the test grew to 8 GiB.
vgopts=(--tool=memcheck --error-exitcode=99 --leak-check=full --fair-sched=yes
	--errors-for-leak-kinds=definite,indirect --trace-children=no
	--suppressions="$srcdir/tests/valgrind.supp" --num-callers=30
	# test-vaspace puts a 4 MiB array on the stack
	--max-stackframe=8388608)
# What valgrind cannot run faithfully, with why; "program" or
# "program:test-glob".  Their memcheck errors still count; only their TAP
# failures become skips.
known=(
	# Self-capture with the VA clone: the library injects into its own
	# threads, which run valgrind's code, not the vDSO (ERROR_NOT_SUPPORTED).
	"examples/read-clone"
	"tests/live/test-clone:row61_self_capture_with_clone"
	"tests/live/test-clone-faults:row61_self_capture"
	# The fault points kill the host or the tracer with kill(2), which
	# valgrind emulates for its own process (the tracer shares its state).
	"tests/live/test-clone-faults:row37_*"
	# Forks until a pid repeats (valgrind has no clone3 set_tid): too slow.
	"tests/live/test-badinput:*pid_reuse_stale_handle"
	# CPUID is emulated: no AVX-512 in valgrind's CPU, so the xstate note
	# differs from gdb's gcore of the same victim.
	"tests/live/test-core-oracle"
	# Valgrind fakes /proc/self/exe; the library reads /proc/PID/exe.
	"tests/live/test-procinfo:current_process_as_target"
	# Needs captures faster than the victim's 3000 thread creations.
	"tests/live/test-growth:row19_threads_created_continuously"
	# Measures glibc's malloc statistics, which valgrind's allocator replaces.
	"tests/live/test-scale"
)
known_test() {	# program test
	local k
	for k in "${known[@]}"; do
		# shellcheck disable=SC2053
		[[ "$1" == "$k" || ( "$k" == *:* && "$1:$2" == $k ) ]] && return 0
	done
	return 1
}
passed=0 failed=0 skipped=0
progs=$(ls "$build"/tests/layout/test-* "$build"/tests/unit/test-* "$build"/tests/live/test-* \
	"$build"/examples/* 2>/dev/null | grep -v '\.o$' || true)
echo "== tests of $build (valgrind memcheck)"
start=$(date +%s)
for prog in $progs; do
	[ -x "$prog" ] || continue
	name=${prog#"$build"/}
	if [ -n "${TESTS:-}" ]; then
		keep=0
		for pat in $TESTS; do
			case "$pat" in
			*'$') [[ "$name" == *"${pat%'$'}" ]] && keep=1 ;;
			*) [[ "$name" == *"$pat"* ]] && keep=1 ;;
			esac
		done
		[ "$keep" = 1 ] || continue
	fi
	if known_test "$name" ""; then
		printf 'ok   %-45s   0 passed  1 skipped\n    # SKIP not under valgrind (tests/valgrind.sh)\n' "$name"
		skipped=$((skipped + 1))
		continue
	fi
	out=$(mktemp) logs=$(mktemp -d)
	case "$name" in
	examples/*) args="--self-test" ;;
	*) args="" ;;
	esac
	LD_PRELOAD=$preload timeout -k 10 "$timeout_s" "$vg" "${vgopts[@]}" \
		--log-file="$logs/%p.log" "$prog" $args >"$out" 2>&1
	rc=$?
	tap_count "$out"
	# TAP failures of the tests valgrind cannot run become skips.
	conv=0
	while read -r t; do
		if known_test "$name" "$t"; then
			f=$((f - 1)) s=$((s + 1)) conv=$((conv + 1))
			sed -i "s/^not ok \([0-9]*\) - $t\$/ok \1 - $t # SKIP not under valgrind/" "$out"
		fi
	done < <(sed -n 's/^not ok [0-9]* - \([A-Za-z0-9_]*\)$/\1/p' "$out" | sort -u)
	# The harness exits 1 for those failures alone.
	if [ "$rc" -eq 1 ] && [ "$conv" -gt 0 ] && [ "$f" -eq 0 ]; then rc=0; fi
	# Every process valgrind ran wrote one log with an ERROR SUMMARY line
	# (none if it was killed); their sum is the program's memcheck errors.
	errs=$(cat "$logs"/*.log 2>/dev/null | sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' |
		awk '{ n += $1 } END { print n + 0 }')
	if [ "$errs" -gt 0 ]; then
		f=$((f + 1)); echo "not ok - $name: memcheck found $errs errors" >>"$out"
	fi
	tap_verdict "$name" "$rc" "$out"
	tap_report "$name" "$out"
	if [ "$f" -gt 0 ]; then
		# The logs of the processes with errors, without valgrind's banner.
		for log in "$logs"/*.log; do
			grep -qE 'ERROR SUMMARY: [1-9]' "$log" 2>/dev/null || continue
			grep -E '^==[0-9]+== ' "$log" | grep -vE '== (Memcheck|Copyright|Using Valgrind|Command|Parent PID|$)' |
				head -n 200 | sed 's/^/    /'
		done
	fi
	rm -rf "$out" "$logs"
done
echo "$build (valgrind memcheck): $passed passed, $failed failed, $skipped skipped in $(( $(date +%s) - start )) s"
[ -n "${RESULTS:-}" ] && echo "$passed $failed $skipped" >>"$RESULTS"
[ "$failed" -eq 0 ]
