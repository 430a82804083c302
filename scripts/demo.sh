#!/bin/bash
# make demo: start the bundled demo target, show what a snapshot of it holds,
# dump a core of it while it runs on, and read the core back with gdb.
set -euo pipefail
build=${1:-build}
pss="$build/pss"
target="$build/tests/targets/demo-target"
out=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$out"
}
trap cleanup EXIT

"$target" 600 >"$out/target.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	grep -q "demo-target: pid" "$out/target.out" 2>/dev/null && break
	sleep 0.05
done
grep -q "demo-target: pid" "$out/target.out" || { echo "demo: the demo target did not start" >&2; exit 1; }

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
echo "Demo target: pid $pid (a worker, threads blocked in read, nanosleep and epoll_wait,"
echo "files, a TCP listener, a socketpair, an eventfd)"
step "$pss" info "$pid"
step "$pss" threads "$pid"
step "$pss" handles "$pid"
step "$pss" stacks "$pid"
step "$pss" dump -o "$out/core" "$pid"
printf '\n\033[1m$ gdb -batch -ex "thread apply all bt" %s %s\033[0m\n' "$target" "$out/core.$pid"
gdb -batch -nx -ex "set pagination off" -ex "thread apply all bt" "$target" "$out/core.$pid" 2>/dev/null |
	awk '/^Thread/ { p = 1 } p && /^(Thread|#)/' | head -40
if command -v gcore >/dev/null; then
	printf '\n\033[1m$ gcore -o %s %s   (for comparison)\033[0m\n' "$out/gcore" "$pid"
	t0=$(date +%s%N)
	gcore -o "$out/gcore" "$pid" >/dev/null 2>&1 || true
	t1=$(date +%s%N)
	echo "gcore stopped the target for the whole dump: $(( (t1 - t0) / 1000000 )) ms"
fi
state=$(awk '{print $3}' "/proc/$pid/stat")
echo
echo "The demo target is still running (state $state), untraced (TracerPid $(awk '/TracerPid/{print $2}' /proc/$pid/status))."
