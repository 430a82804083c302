#!/bin/bash
# Run every test program of one build and count its TAP lines.
#   tests/run-tests.sh BUILD_DIR
# Env: TESTS=substring keeps only matching programs; RESULTS=file appends
# "passed failed skipped" for tests/summary.sh; TEST_TIMEOUT seconds per program.
set -u
build=${1:?usage: run-tests.sh BUILD_DIR}
timeout_s=${TEST_TIMEOUT:-300}
label=$build
[ "${SANITIZE:-}" = 1 ] && label="$build (ASan+UBSan)"
export CMOCKA_MESSAGE_OUTPUT=TAP
export PSS_TEST_BUILD=$(cd "$build" && pwd)
export PSS_TEST_TARGETS="$PSS_TEST_BUILD/tests/targets"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0 failed=0 skipped=0
progs=$(ls "$build"/tests/layout/test-* "$build"/tests/unit/test-* "$build"/tests/live/test-* \
	"$build"/examples/* 2>/dev/null | grep -v '\.o$' || true)
# Scripts of the source tree (the install test, the bounded fuzz run, the
# real servers) run once, in the plain build.
srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$srcdir/tests/lib/tap.sh"
if [ "${SANITIZE:-}" != 1 ]; then
	progs="$progs $(ls "$srcdir"/tests/install/test-*.sh "$srcdir"/tests/fuzz/run.sh \
		"$srcdir"/tests/servers/test-*.sh 2>/dev/null || true)"
fi
echo "== tests of $label"
for prog in $progs; do
	[ -x "$prog" ] || continue
	name=${prog#"$build"/}
	name=${name#"$srcdir"/}
	if [ -n "${TESTS:-}" ] && [[ "$name" != *"$TESTS"* ]]; then continue; fi
	out=$(mktemp)
	case "$name" in
	examples/*) args="--self-test" ;;
	*) args="" ;;
	esac
	timeout -k 10 "$timeout_s" "$prog" $args >"$out" 2>&1
	rc=$?
	tap_count "$out"
	tap_verdict "$name" "$rc" "$out"
	tap_report "$name" "$out"
	rm -f "$out"
done
echo "$label: $passed passed, $failed failed, $skipped skipped"
[ -n "${RESULTS:-}" ] && echo "$passed $failed $skipped" >>"$RESULTS"
exit 0
