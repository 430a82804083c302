#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# bench/servers.sh [--runs N]: what a dump costs a real server's clients.
#
# For Redis (1 GiB dataset, redis-benchmark), nginx (a worker, wrk) and
# PostgreSQL (a backend of pgbench -c 4): the client's worst latency (and
# p99) in a window without a dump, then in the same window with a `pss
# dump` started 0.5 s in; our pause (pause_ms of `pss dump --json`) and the
# longest pause of 5 full snapshots; for Redis also the same window around
# a BGSAVE and Redis's own latest_fork_usec.  The servers are started as in
# tests/servers/, on 127.0.0.1, in a temporary directory; a server whose
# package is missing is left out.  With --runs N each window runs N times
# and the worst of each figure is kept.
set -u
runs=1
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	-h|--help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: bench/servers.sh [--runs N]" >&2; exit 64 ;;
	esac
done
. "$(dirname "$0")/../tests/servers/lib.sh"
srv_setup bench
tap() { :; }		# the shared helpers' TAP lines are for the tests
rows=()

worst() {	# worst A B: the larger of two decimals
	awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'
}

# dump_during PID: start a pss dump in 0.5 s, in the background; sets $dump_job.
dump_during() {
	(sleep 0.5; "$pss" dump --json -o "$tmp/core" "$1" >"$tmp/dump.json" 2>"$tmp/dump.err"
	 rm -f "$tmp/core.$1") &
	dump_job=$!
	remember $dump_job
}

# dump_result: "pause_ms seconds" of the last dump_during, or "failed".
dump_result() {
	wait "$dump_job"
	if grep -q '"status": "ok"' "$tmp/dump.json" 2>/dev/null; then
		sed -n 's/.*"seconds": *\([0-9.]*\).*"pause_ms": *\([0-9.]*\).*/\2 \1/p' "$tmp/dump.json"
	else
		echo "failed failed"
		sed 's/^/  dump failed: /' "$tmp/dump.err" >&2
	fi
}

snap_pause() {	# longest pause of 5 full snapshots of PID, in ms
	"$helper" -n 5 "$1" 2>/dev/null | awk '/max_pause_us/ { printf "%.1f", $6 / 1000 }' || true
}

# ---- Redis ----
redis_window() {	# "max_ms p99_ms" of one redis-benchmark run
	timeout 120 redis-benchmark -h 127.0.0.1 -p "$redis_port" --dbnum 1 -c 8 -n 200000 \
		-r 100000 -d 64 -t set,get --csv 2>/dev/null |
		awk -F'"' '/^"(SET|GET)"/ { if ($14 > p) p = $14; if ($16 > m) m = $16 }
			END { printf "%s %s\n", m, p }'
}

bench_redis() {
	local r base_m=0 base_p=0 d_m=0 d_p=0 b_m=0 b_p=0 pause=0 secs=0 fork=0 dp ds i
	start_redis || { echo "redis: did not start" >&2; return; }
	rcli DEBUG POPULATE 1048576 key 1024 >/dev/null
	for i in $(seq "$runs"); do
		read -r m p < <(redis_window); base_m=$(worst "$base_m" "$m"); base_p=$(worst "$base_p" "$p")
		dump_during "$redis_pid"
		read -r m p < <(redis_window); d_m=$(worst "$d_m" "$m"); d_p=$(worst "$d_p" "$p")
		read -r dp ds < <(dump_result); pause=$(worst "$pause" "$dp"); secs=$(worst "$secs" "$ds")
		(sleep 0.5; rcli BGSAVE >/dev/null) &
		remember $!
		read -r m p < <(redis_window); b_m=$(worst "$b_m" "$m"); b_p=$(worst "$b_p" "$p")
		while rcli INFO persistence | grep -q '^rdb_bgsave_in_progress:1'; do sleep 0.2; done
		r=$(rcli INFO stats | sed -n 's/^latest_fork_usec:\([0-9]*\).*/\1/p')
		fork=$(worst "$fork" "$r")
		rm -f "$tmp/dump.rdb"
	done
	rows+=("redis 1 GiB|redis-benchmark -c 8|$base_m ($base_p)|$d_m ($d_p)|$pause|$secs|$(snap_pause "$redis_pid")|$b_m ($b_p)|$(awk -v u="$fork" 'BEGIN { printf "%.1f", u / 1000 }')")
	stop_pid "$redis_pid" TERM
}

# ---- nginx ----
nginx_window() {	# "max_ms p99_ms" of one 4 s wrk run
	timeout 60 wrk -t2 -c16 -d4s --timeout 5s -s "$src/tests/servers/wrk-check.lua" \
		"http://127.0.0.1:$nginx_port/data.bin" 2>/dev/null |
		awk '/^latency max_us/ { printf "%.3f %.3f\n", $3 / 1000, $5 / 1000 }'
}

bench_nginx() {
	local base_m=0 base_p=0 d_m=0 d_p=0 pause=0 secs=0 dp ds i worker
	start_nginx || { echo "nginx: did not start" >&2; return; }
	worker=${nginx_workers%% *}
	head -c 65536 /dev/urandom >"$tmp/html/data.bin"
	chmod 644 "$tmp/html/data.bin"
	export PSS_WRK_EXPECT=$tmp/html/data.bin
	for i in $(seq "$runs"); do
		read -r m p < <(nginx_window); base_m=$(worst "$base_m" "$m"); base_p=$(worst "$base_p" "$p")
		dump_during "$worker"
		read -r m p < <(nginx_window); d_m=$(worst "$d_m" "$m"); d_p=$(worst "$d_p" "$p")
		read -r dp ds < <(dump_result); pause=$(worst "$pause" "$dp"); secs=$(worst "$secs" "$ds")
	done
	rows+=("nginx worker|wrk -t2 -c16|$base_m ($base_p)|$d_m ($d_p)|$pause|$secs|$(snap_pause "$worker")|-|-")
	stop_pid "$nginx_pid" QUIT
}

# ---- PostgreSQL ----
pg_window() {	# "max_ms p99_ms" of one 4 s pgbench -c 4 run, from its per-transaction log
	rm -f "$tmp"/pglog*
	(cd "$tmp" && PGAPPNAME=pss-bench timeout 60 pgbench -h 127.0.0.1 -p "$pg_port" -U postgres \
		-c 4 -j 2 -T 4 -n -l --log-prefix="$tmp/pglog" postgres >/dev/null 2>&1)
	cat "$tmp"/pglog* 2>/dev/null | awk '{ print $3 }' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.3f %.3f\n", v[NR] / 1000, v[int(NR * 0.99)] / 1000 }'
}

pg_backend() {	# a backend of the running pgbench, waiting for it to connect
	local b i
	for i in $(seq 50); do
		b=$(pq -c "select pid from pg_stat_activity where application_name = 'pss-bench'
			and backend_type = 'client backend' order by pid limit 1" 2>/dev/null)
		[ -n "$b" ] && { echo "$b"; return; }
		sleep 0.02
	done
}

bench_postgres() {
	local base_m=0 base_p=0 d_m=0 d_p=0 pause=0 secs=0 dp ds i backend="" snap=""
	command -v pgbench >/dev/null && start_postgres || { echo "postgres: did not start" >&2; return; }
	pq -c 'select 1' >/dev/null
	PGAPPNAME=pss-init timeout 120 pgbench -h 127.0.0.1 -p "$pg_port" -U postgres -i -q -s 4 \
		postgres >/dev/null 2>&1
	for i in $(seq "$runs"); do
		read -r m p < <(pg_window); base_m=$(worst "$base_m" "$m"); base_p=$(worst "$base_p" "$p")
		# the backend exists only while pgbench runs: find it, then dump it
		(sleep 0.3; b=$(pg_backend); echo "$b" >"$tmp/backend"
		 [ -n "$b" ] && "$pss" dump --json -o "$tmp/core" "$b" >"$tmp/dump.json" 2>"$tmp/dump.err"
		 [ -n "$b" ] && snap_pause "$b" >"$tmp/snap"; rm -f "$tmp/core.$b") &
		dump_job=$!
		remember $dump_job
		read -r m p < <(pg_window); d_m=$(worst "$d_m" "$m"); d_p=$(worst "$d_p" "$p")
		read -r dp ds < <(dump_result); pause=$(worst "$pause" "$dp"); secs=$(worst "$secs" "$ds")
		snap=$(cat "$tmp/snap" 2>/dev/null)
	done
	rows+=("postgres backend|pgbench -c 4|$base_m ($base_p)|$d_m ($d_p)|$pause|$secs|${snap:-failed}|-|-")
	stop_pid "$pg_pid" INT
}

command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null && bench_redis
command -v nginx >/dev/null && command -v wrk >/dev/null && bench_nginx
pg_bindir >/dev/null && bench_postgres

echo "Client latency in ms: worst (p99) over a window, $runs run(s) each; pauses in ms."
printf '%-17s %-20s %-17s %-17s %-9s %-7s %-9s %-17s %s\n' server client "no dump" "during dump" \
	"pause" "dump s" "snapshot" "during BGSAVE" "fork"
for r in "${rows[@]}"; do
	IFS='|' read -r a b c d e f g h i <<<"$r"
	printf '%-17s %-20s %-17s %-17s %-9s %-7s %-9s %-17s %s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h" "$i"
done
echo "pause: pss dump's pause_ms; snapshot: longest pause of 5 full snapshots"
echo "(VA_CLONE|THREADS|THREAD_CONTEXT|VA_SPACE|HANDLES); fork: Redis's latest_fork_usec after BGSAVE."
