#!/bin/bash
# make demo: start the bundled demo target and show what a snapshot of it holds.
set -euo pipefail
build=${1:-build}
pss="$build/pss"
target="$build/tests/targets/demo-target"
out=$(mktemp -d)
trap 'kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$out"' EXIT

"$target" 600 >"$out/target.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	grep -q "demo-target: pid" "$out/target.out" 2>/dev/null && break
	sleep 0.05
done
grep -q "demo-target: pid" "$out/target.out" || { echo "demo: the demo target did not start" >&2; exit 1; }

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
echo "Demo target: pid $pid (4 threads, files, sockets, an eventfd)"
step "$pss" info "$pid"
step "$pss" threads --regs "$pid"
step "$pss" handles "$pid"
step "$pss" vmmap "$pid"
state=$(awk '{print $3}' "/proc/$pid/stat")
echo
echo "The demo target is still running (state $state): only 'threads --regs' stopped it, for"
echo "the time shown above."
