#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# PostgreSQL under pgbench -c 4 (TPC-B-like), the postmaster and one of
# pgbench's backends snapshotted 20 times and dumped 3 times each, while a
# second pgbench checks arithmetic the server computes: no failed or
# aborted transaction, the TPC-B invariants hold afterwards (accounts,
# tellers and branches each sum to the history, one history row per
# transaction), no server restart, and no clone, zombie or stray process.
#
#   tests/servers/test-postgres.sh    Prints TAP lines; 77 if PostgreSQL is missing.
set -u
. "$(dirname "$0")/lib.sh"

pg_bindir >/dev/null || skip_all "no PostgreSQL server (apt-get install postgresql; scripts/deps.sh test)"
need pgbench postgresql-contrib
need psql postgresql-client
need setpriv util-linux
need readelf binutils
srv_setup postgres

start_postgres
tap $? "postgres started on 127.0.0.1:${pg_port:-?} as $pg_user (postmaster ${pg_pid:-?})"
pq -c 'select 1' >/dev/null 2>&1 || { note <"$tmp/pg/server.log"; exit 1; }
born=$(pq -c 'select pg_postmaster_start_time()')
born_proc=$(start_time "$pg_pid")

pgb() { PGAPPNAME=$1 timeout 120 pgbench -h 127.0.0.1 -p "$pg_port" -U postgres "${@:2}" postgres; }
pgb pss-init -i -q -s 4 >"$tmp/init.log" 2>&1
tap $? "pgbench -i -s 4"

# The check script: the server computes, the client verifies; a wrong
# answer divides by zero, which fails the transaction and the run.
cat >"$tmp/check.sql" <<'SQL'
\set v random(1, 1000000000)
SELECT :v::bigint * 3 + 1 AS r, length(repeat('x', (:v % 1000)::int)) AS l \gset
\if :r != :v * 3 + 1
SELECT 1 / 0;
\endif
\if :l != :v % 1000
SELECT 1 / 0;
\endif
SQL

# Bounded in time: long enough for the snapshots and dumps below.
duration=12
pgb pss-bench -c 4 -j 2 -T $duration -n >"$tmp/bench.log" 2>&1 &
bench_pid=$!
remember $bench_pid
pgb pss-check -c 1 -T $duration -n -f "$tmp/check.sql" >"$tmp/check.log" 2>&1 &
check_pid=$!
remember $check_pid
t_start=$SECONDS

# pgbench first opens a connection of its own to look at the tables and
# closes it before its clients connect, under the same application name:
# a backend picked too early can be that one, about to exit.  So wait for
# the -c 4 clients' backends, the same four pids twice 0.2 s apart.
backend="" seen=""
for i in $(seq 100); do
	now=$(pq -c "select string_agg(pid::text, ' ' order by pid) from pg_stat_activity
		where application_name = 'pss-bench' and backend_type = 'client backend'" 2>/dev/null)
	if [ "$(echo $now | wc -w)" -eq 4 ] && [ "$now" = "$seen" ]; then
		backend=${now%% *}
		break
	fi
	seen=$now
	sleep 0.2
done
tap "$([ -n "$backend" ] && echo 0 || echo 1)" "a backend of pgbench: ${backend:-none}"
backend_born=$(start_time "${backend:-0}")

snapshots 20 "$pg_pid" ${backend:+"$backend"}
no_clone_under "$pg_pid" "the postmaster after the snapshots"
[ -n "$backend" ] && no_clone_under "$backend" "the backend after the snapshots"
for i in 1 2 3; do
	[ -n "$backend" ] && dump_one "$backend" "the pgbench backend, dump $i of 3"
	dump_one "$pg_pid" "the postmaster, dump $i of 3"
done
no_clone_under "$pg_pid" "the postmaster after the dumps"
[ -n "$backend" ] && no_clone_under "$backend" "the backend after the dumps"
tap "$([ -n "$backend" ] && [ "$(start_time "$backend")" = "$backend_born" ] && echo 0 || echo 1)" \
	"the backend lived through it all (the work took $((SECONDS - t_start)) s of pgbench's $duration)"

wait "$bench_pid"
rc=$?
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$tmp/bench.log")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$tmp/bench.log")
tap "$([ $rc -eq 0 ] && [ "${processed:-0}" -gt 0 ] && [ "${failed:-x}" = 0 ] &&
	! grep -qiE 'aborted|error' "$tmp/bench.log" && echo 0 || echo 1)" \
	"pgbench -c 4: ${processed:-?} transactions, ${failed:-?} failed, exit $rc"
grep -E 'processed|failed|latency|tps|abort|rror' "$tmp/bench.log" | head -12 | note
wait "$check_pid"
rc=$?
cprocessed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$tmp/check.log")
cfailed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$tmp/check.log")
tap "$([ $rc -eq 0 ] && [ "${cprocessed:-0}" -gt 0 ] && [ "${cfailed:-x}" = 0 ] &&
	! grep -qiE 'aborted|error' "$tmp/check.log" && echo 0 || echo 1)" \
	"checking pgbench: ${cprocessed:-?} answers checked, ${cfailed:-?} wrong or failed, exit $rc"
grep -iE 'abort|rror' "$tmp/check.log" | head -5 | note

inv=$(pq -c "select (select sum(abalance) from pgbench_accounts) = h.s
		and (select sum(tbalance) from pgbench_tellers) = h.s
		and (select sum(bbalance) from pgbench_branches) = h.s, h.n
	from (select coalesce(sum(delta), 0) as s, count(*) as n from pgbench_history) h")
tap "$([ "$inv" = "t|${processed:-x}" ] && echo 0 || echo 1)" \
	"TPC-B invariants: balances sum to the history, one row per transaction ($inv)"
tap "$([ "$(pq -c 'select pg_postmaster_start_time()')" = "$born" ] &&
	[ "$(start_time "$pg_pid")" = "$born_proc" ] && echo 0 || echo 1)" \
	"no server restart (same postmaster and start time)"
tap "$(grep -qE 'terminated by signal|was terminated|server process .* exited|PANIC' "$tmp/pg/server.log" &&
	echo 1 || echo 0)" "no backend crash in the server log"
grep -E 'terminated by signal|was terminated|exited|PANIC' "$tmp/pg/server.log" | head -5 | note
z=$(zombies_of "$pg_pid" | tr ' ' '\n' | grep pss-clone)
tap "$([ -z "$z" ] && echo 0 || echo 1)" "no pss-clone zombie under the postmaster${z:+: $z}"

# INT: a fast shutdown; the postmaster ends its children before it exits.
kids=$(pgrep -P "$pg_pid" | tr '\n' ' ')
stop_pid "$pg_pid" INT
no_strays $kids $backend
[ $fails -eq 0 ]
