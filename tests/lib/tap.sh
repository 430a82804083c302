# Shell functions of tests/run-tests.sh and tests/valgrind.sh: count one
# program's TAP output and report it.  Sourced; they set and use the
# globals p f s (this program) and passed failed skipped (the run).

# tap_count OUT - p, s, f from the TAP lines of file OUT.
tap_count() {
	p=$(grep -cE '^ok ' "$1" | head -1); s=$(grep -cE '^ok .*# ?(SKIP|skip)' "$1")
	f=$(grep -cE '^not ok ' "$1")
	p=$((p - s))
}

# tap_verdict NAME RC OUT - the exit status's say: 77 with no result is a
# skip; another non-zero status with no failure, or status 0 with no
# result at all, is a failure (written to OUT).
tap_verdict() {
	if [ "$2" -eq 77 ] && [ $((p + f + s)) -eq 0 ]; then s=1; fi
	if [ "$2" -ne 0 ] && [ "$2" -ne 77 ] && [ "$f" -eq 0 ]; then
		f=1; echo "not ok - $1 exited with status $2" >>"$3"
	fi
	if [ "$2" -eq 0 ] && [ $((p + f + s)) -eq 0 ]; then
		f=1; echo "not ok - $1 printed no test result" >>"$3"
	fi
}

# tap_report NAME OUT - add to the run's totals; print one line, or on a
# failure the failing lines and the tail of the output.
tap_report() {
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		echo "FAIL $1 ($p passed, $f failed, $s skipped)"
		grep -E '^not ok' "$2" | sed 's/^/    /'
		grep -vE '^ok ' "$2" | tail -n 60 | sed 's/^/    /'
	else
		printf 'ok   %-45s %3d passed %2d skipped\n' "$1" "$p" "$s"
		if [ "$s" -gt 0 ]; then grep -E '# ?(SKIP|skip)' "$2" | sed 's/^/    /'; fi
	fi
}
