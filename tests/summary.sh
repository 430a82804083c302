#!/bin/sh
# Add up the results of tests/run-tests.sh runs and print the closing line.
set -eu
p=0 f=0 s=0
while read -r a b c; do p=$((p + a)); f=$((f + b)); s=$((s + c)); done <"$1"
echo "$p passed, $f failed, $s skipped"
[ "$f" -eq 0 ]
