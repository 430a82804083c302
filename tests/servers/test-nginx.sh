#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# nginx (a master and two workers) under wrk, snapshotted 20 times and
# dumped 3 times, master and worker both: every reply is a 200 with the
# exact bytes of the served file (wrk-check.lua), no socket error, no
# worker respawned, and no clone, zombie or stray process left afterwards.
#
#   tests/servers/test-nginx.sh       Prints TAP lines; 77 if nginx or wrk is missing.
set -u
. "$(dirname "$0")/lib.sh"

need nginx nginx
need wrk wrk
need python3 python3
need readelf binutils
srv_setup nginx

start_nginx
tap $? "nginx started on 127.0.0.1:${nginx_port:-?} (master ${nginx_pid:-?}, workers ${nginx_workers:-?})"
[ -n "${nginx_workers:-}" ] || { note <"$tmp/nginx-error.log"; exit 1; }
worker=${nginx_workers%% *}
born_master=$(start_time "$nginx_pid")
born_worker=$(start_time "$worker")

# 64 KiB of random bytes: a wrong or torn reply cannot pass for it.
head -c 65536 /dev/urandom >"$tmp/html/data.bin"
chmod 644 "$tmp/html/data.bin"
export PSS_WRK_EXPECT=$tmp/html/data.bin

# wrk in bounded 2 s runs (2 threads, 16 connections) until told to stop.
stop=$tmp/stop
(
	for i in $(seq 60); do
		[ -e "$stop" ] && break
		timeout 30 wrk -t2 -c16 -d2s --timeout 5s -s "$src/tests/servers/wrk-check.lua" \
			"http://127.0.0.1:$nginx_port/data.bin" >"$tmp/wrk.$i" 2>&1
		echo "$?" >"$tmp/wrk.$i.rc"
	done
) &
wrk_loop=$!
remember $wrk_loop
sleep 0.5

snapshots 20 "$nginx_pid" "$worker"
no_clone_under "$nginx_pid" "the nginx master after the snapshots"
no_clone_under "$worker" "the nginx worker after the snapshots"
for i in 1 2 3; do
	dump_one "$worker" "the nginx worker, dump $i of 3"
	dump_one "$nginx_pid" "the nginx master, dump $i of 3"
done
no_clone_under "$nginx_pid" "the nginx master after the dumps"
no_clone_under "$worker" "the nginx worker after the dumps"
z=$(zombies_of "$nginx_pid")
tap "$([ -z "$z" ] && echo 0 || echo 1)" "no zombie under the nginx master${z:+: $z}"

touch "$stop"
wait "$wrk_loop"
runs=0 bad="" checked=0
for f in "$tmp"/wrk.*.rc; do
	[ -e "$f" ] || continue
	runs=$((runs + 1))
	out=${f%.rc}
	c=$(sed -n 's/^checked \([0-9]*\) bad 0 requests \1$/\1/p' "$out")
	if [ "$(cat "$f")" != 0 ] || [ -z "$c" ] || [ "$c" -eq 0 ] ||
		! grep -q '^errors connect 0 read 0 write 0 status 0 timeout 0$' "$out" ||
		grep -qE 'Socket errors|Non-2xx' "$out"; then
		bad="$bad ${out##*/}"
	else
		checked=$((checked + c))
	fi
done
tap "$([ $runs -gt 0 ] && [ -z "$bad" ] && echo 0 || echo 1)" \
	"wrk: $runs bounded runs, $checked replies all 200 with the right 64 KiB, no socket error${bad:+ (failed:$bad)}"
for b in $bad; do note <"$tmp/$b"; done
[ -z "$bad" ] && [ $runs -gt 0 ] && note <"$tmp/wrk.$runs"

now_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
tap "$([ "$(start_time "$nginx_pid")" = "$born_master" ] && [ "$(start_time "$worker")" = "$born_worker" ] &&
	[ "$now_workers" = "$nginx_workers" ] && echo 0 || echo 1)" \
	"no restart: the same master and workers ($now_workers)"
tap "$(grep -qE 'exited on signal|\[(alert|emerg|crit)\]' "$tmp/nginx-error.log" && echo 1 || echo 0)" \
	"no worker death or alert in nginx's error log"
grep -E 'exited on signal|\[(alert|emerg|crit)\]' "$tmp/nginx-error.log" | head -5 | note

# QUIT: a graceful stop; the master reaps its workers before it exits.
stop_pid "$nginx_pid" QUIT
no_strays $nginx_workers
[ $fails -eq 0 ]
