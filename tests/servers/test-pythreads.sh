#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# CPython (Debian's python3, a runtime nobody here wrote) serving on
# loopback from a pool of 400 worker threads, each blocked in queue.get()
# (a futex wait inside the interpreter) until a job comes: the shape of a
# large service whose threads are mostly idle, so the library leaves most
# of them out of the pause and reads them just after it.  A checking client
# (another python3) keeps requests in flight and verifies every reply.
# Idle, 10 snapshots and a dump leave most workers out of the pause; busy,
# 10 snapshots and 2 dumps keep them in it (they wake in turn) without
# stopping twice.  Every reply correct, no client error, no exception in
# the server, the pool intact (same process, same threads), gdb reads every
# thread of the cores, no clone, zombie or stray process afterwards.
#
#   tests/servers/test-pythreads.sh    Prints TAP lines; 77 if python3 is missing.
set -u
. "$(dirname "$0")/lib.sh"

need python3 python3
need gdb gdb
srv_setup pythreads

workers=400
port=$(free_port)
cat >"$tmp/pool.py" <<'PY'
import hashlib, queue, socket, sys, threading

port, nworkers = int(sys.argv[1]), int(sys.argv[2])
jobs = queue.Queue()
served = [0] * nworkers

def worker(i):
    while True:
        n, reply = jobs.get()          # blocked here: a futex wait
        reply.put((i, hashlib.sha256(str(n).encode()).hexdigest()))
        served[i] += 1

def client(conn):
    f = conn.makefile("rw")
    for line in f:
        line = line.strip()
        if line == "served":
            f.write("%d %d\n" % (sum(1 for s in served if s), sum(served)))
        else:
            reply = queue.Queue()
            jobs.put((int(line), reply))
            i, h = reply.get()
            f.write("%s %s\n" % (line, h))
        f.flush()
    conn.close()

for i in range(nworkers):
    threading.Thread(target=worker, args=(i,), daemon=True).start()
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=client, args=(conn,), daemon=True).start()
PY

# The client: CONNS connections, each asking for sha256(str(n)) of its own
# numbers in turn until the stop file appears; every reply is recomputed.
cat >"$tmp/check.py" <<'PY'
import hashlib, os, socket, sys, threading

port, conns, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
stats = {"ok": 0, "bad": 0, "err": 0}
lock = threading.Lock()

def run(c):
    n = c * 1000000
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        f = s.makefile("rw")
        while not os.path.exists(stop):
            n += 1
            f.write("%d\n" % n)
            f.flush()
            got = f.readline().split()
            want = hashlib.sha256(str(n).encode()).hexdigest()
            with lock:
                stats["ok" if got == [str(n), want] else "bad"] += 1
    except Exception as e:
        with lock:
            stats["err"] += 1
        print("error:", e, file=sys.stderr)

ts = [threading.Thread(target=run, args=(c,)) for c in range(conns)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("ok %d bad %d err %d" % (stats["ok"], stats["bad"], stats["err"]))
PY

python3 -u "$tmp/pool.py" "$port" "$workers" >"$tmp/pool.out" 2>"$tmp/pool.err" &
pool=$!
remember $pool
for i in $(seq 100); do
	grep -q ready "$tmp/pool.out" 2>/dev/null && break
	sleep 0.1
done
tap "$(grep -q ready "$tmp/pool.out" && echo 0 || echo 1)" "python3 pool of $workers threads on port $port (pid $pool)"
threads0=$(awk '/^Threads:/ {print $2}' "/proc/$pool/status")
born=$(start_time "$pool")

# dump_check LABEL MIN_DEFERRED: one pss dump, read back by gdb, which must
# see every thread (the workers, and a handler per open connection).
dump_check() {
	local rc json dd gt now
	rm -f "$tmp/core.$pool"
	now=$(awk '/^Threads:/ {print $2}' "/proc/$pool/status")
	json=$("$pss" dump --json -o "$tmp/core" "$pool" 2>"$tmp/dump.err")
	rc=$?
	dd=$(echo "$json" | sed -n 's/.*"deferred_threads": *\([0-9]*\).*/\1/p')
	gt=$(gdb -batch -nx -ex "info threads" "$(readlink "/proc/$pool/exe")" "$tmp/core.$pool" \
		2>/dev/null | grep -c '^[ *] *[0-9]* *Thread .*LWP [0-9]')
	tap "$([ $rc -eq 0 ] && [ "${dd:-0}" -ge "$2" ] && [ "$gt" -eq "$now" ] && echo 0 || echo 1)" \
		"pss dump, $1: exit $rc, ${dd:-?} threads read after the pause, gdb sees $gt of $now"
	[ $rc -eq 0 ] || head -c 300 "$tmp/dump.err" | note
	echo "$json" | note
	rm -f "$tmp/core.$pool"
}

# Idle: every worker waits for a job; most are left out of the pause.
snapshots 10 "$pool"
deferred=$(echo "$snap_out" | awk '/^pid / {print $10}')
tap "$([ "${deferred:-0}" -ge $((10 * workers * 9 / 10)) ] && echo 0 || echo 1)" \
	"idle workers left out of the pause: ${deferred:-?} thread reads after it in 10 snapshots"
dump_check "idle" $((workers * 9 / 10))

# Busy: four connections keep jobs in flight, so the workers wake in turn
# (a queue hands each job to the longest waiter): the library must see it
# and keep them in the pause, not stop twice.
python3 -u "$tmp/check.py" "$port" 4 "$tmp/stop" >"$tmp/check.out" 2>"$tmp/check.err" &
checker=$!
remember $checker
sleep 0.5
snapshots 10 "$pool"
redone=$(echo "$snap_out" | awk '/^pid / {print $12}')
tap "$([ "${redone:-99}" -le 3 ] && echo 0 || echo 1)" \
	"a pool that wakes its threads in turn: ${redone:-?} of 10 stops made twice (at most 3)"
for i in 1 2; do
	dump_check "busy, $i of 2" 0
done
no_clone_under "$pool" "the pool after the snapshots and dumps"

touch "$tmp/stop"
wait "$checker"
rc=$?
res=$(tail -1 "$tmp/check.out")
ok=$(echo "$res" | awk '{print $2}')
tap "$([ $rc -eq 0 ] && [ "${ok:-0}" -gt 0 ] && [ "$res" = "ok $ok bad 0 err 0" ] && echo 0 || echo 1)" \
	"checking client: $res (exit $rc)"
head -5 "$tmp/check.err" | note

# How many workers served, and how many jobs in all (for the log).
served=$(python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rw")
f.write("served\n"); f.flush()
print(f.readline().strip())
PY
)
# The connections' handler threads end with their connections.
for i in $(seq 40); do
	[ "$(awk '/^Threads:/ {print $2}' "/proc/$pool/status" 2>/dev/null)" = "$threads0" ] && break
	sleep 0.05
done
tap "$([ -d "/proc/$pool" ] && [ "$(start_time "$pool")" = "$born" ] &&
	[ "$(awk '/^Threads:/ {print $2}' "/proc/$pool/status")" = "$threads0" ] &&
	[ -z "$(grep -v '^$' "$tmp/pool.err")" ] && echo 0 || echo 1)" \
	"the pool lived through it all: same process, $threads0 threads, no exception (workers that served, jobs: ${served:-?})"
head -5 "$tmp/pool.err" | note
z=$(zombies_of "$pool")
tap "$([ -z "$z" ] && echo 0 || echo 1)" "no zombie under the pool${z:+: $z}"

stop_pid "$pool" KILL
no_strays
[ $fails -eq 0 ]
