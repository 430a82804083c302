#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Redis with a 1 GiB dataset, snapshotted 20 times and dumped 3 times while
# redis-benchmark and a checking client (redis-check.py) work on it: no
# client error, every reply right, the dataset unchanged, the server never
# restarted, and no clone, zombie or stray process left afterwards.
#
#   tests/servers/test-redis.sh       Prints TAP lines; 77 if Redis is missing.
set -u
. "$(dirname "$0")/lib.sh"

need redis-server redis-server
need redis-cli redis-tools
need redis-benchmark redis-tools
need python3 python3
need readelf binutils
srv_setup redis

keys=1048576	# of 1 KiB each: 1 GiB of values
start_redis
tap $? "redis-server started on 127.0.0.1:$redis_port (pid $redis_pid)"
[ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null || { note <"$tmp/redis.log"; exit 1; }

r=$(rcli DEBUG POPULATE $keys key 1024)
used=$(rcli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
tap "$([ "$r" = OK ] && [ "${used:-0}" -ge $((1 << 30)) ] && echo 0 || echo 1)" \
	"DEBUG POPULATE: $keys keys of 1 KiB, used_memory $used"

# A sample of keys spread over the dataset: their digests now, compared after.
sample=$(seq 0 $((keys / 500)) $((keys - 1)) | sed 's/^/key:/')
before=$(rcli DEBUG DIGEST-VALUE $sample | md5sum)
run_id=$(rcli INFO server | sed -n 's/^run_id:\([0-9a-f]*\).*/\1/p')
born=$(start_time "$redis_pid")

# The clients, each bounded in time: redis-benchmark in db 1, runs of a
# bounded -n until told to stop (it exits non-zero at the first error reply
# or lost connection); the checking client in db 2.
stop=$tmp/stop
(
	for i in $(seq 60); do
		[ -e "$stop" ] && break
		timeout 60 redis-benchmark -h 127.0.0.1 -p "$redis_port" --dbnum 1 -c 8 -n 40000 \
			-r 100000 -d 64 -t set,get,incr,lpush,lpop --csv >"$tmp/bench.$i" 2>&1
		echo "$?" >"$tmp/bench.$i.rc"
	done
) &
bench_pid=$!
remember $bench_pid
timeout 300 python3 "$src/tests/servers/redis-check.py" "$redis_port" 2 "$stop" 240 >"$tmp/check.out" 2>&1 &
check_pid=$!
remember $check_pid
sleep 0.5

snapshots 20 "$redis_pid"
no_clone_under "$redis_pid" "redis-server after the snapshots"
for i in 1 2 3; do
	dump_one "$redis_pid" "redis-server, dump $i of 3" $((1 << 30))
done
no_clone_under "$redis_pid" "redis-server after the dumps"
z=$(zombies_of "$redis_pid")
tap "$([ -z "$z" ] && echo 0 || echo 1)" "no zombie under redis-server${z:+: $z}"

touch "$stop"
wait "$check_pid"
rc=$?
tap $rc "checking client: every SET/GET/INCR reply right during the snapshots and dumps"
note <"$tmp/check.out"
wait "$bench_pid"
runs=0 bad=""
for f in "$tmp"/bench.*.rc; do
	[ -e "$f" ] || continue
	runs=$((runs + 1))
	out=${f%.rc}
	if [ "$(cat "$f")" != 0 ] || grep -qiE 'error|timeout|refused|reset' "$out" ||
		! grep -q '^"SET"' "$out"; then
		bad="$bad ${out##*/}"
	fi
done
tap "$([ $runs -gt 0 ] && [ -z "$bad" ] && echo 0 || echo 1)" \
	"redis-benchmark: $runs bounded runs, no error${bad:+ (failed:$bad)}"
[ -n "$bad" ] && for b in $bad; do note <"$tmp/$b"; done
[ -z "$bad" ] && [ $runs -gt 0 ] && note <"$tmp/bench.$runs"

after=$(rcli DEBUG DIGEST-VALUE $sample | md5sum)
tap "$([ "$before" = "$after" ] && echo 0 || echo 1)" "the digests of $(echo $sample | wc -w) sampled keys are unchanged"
bad=0
for k in 0 1 4097 262144 524287 1000000 $((keys - 1)); do
	v=$(rcli GETRANGE "key:$k" 0 $((${#k} + 5)))
	l=$(rcli STRLEN "key:$k")
	[ "$v" = "value:$k" ] && [ "$l" = 1024 ] || { bad=1; echo "key:$k: '$v' length $l" | note; }
done
tap $bad "sampled values read back as DEBUG POPULATE wrote them"
size=$(rcli -n 0 DBSIZE)
tap "$([ "$size" = $keys ] && echo 0 || echo 1)" "db 0 still holds $keys keys ($size)"
now_id=$(rcli INFO server | sed -n 's/^run_id:\([0-9a-f]*\).*/\1/p')
tap "$([ -n "$run_id" ] && [ "$run_id" = "$now_id" ] && [ "$(start_time "$redis_pid")" = "$born" ] &&
	echo 0 || echo 1)" "no server restart (same pid, start time and run_id)"
tap "$(grep -qE 'crashed by signal|BUG REPORT|Guru Meditation' "$tmp/redis.log" && echo 1 || echo 0)" \
	"no crash report in the Redis log"

stop_pid "$redis_pid" TERM
no_strays
[ $fails -eq 0 ]
