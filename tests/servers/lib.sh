# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Shared by tests/servers/test-*.sh and bench/servers.sh: real servers from
# Debian's packages, started as our own children on 127.0.0.1, with their
# data in a temporary directory that is removed at exit; every process we
# start is remembered and ended by its pid.
#
# Source it after setting nothing; it sets $src, $build, $tmp, $helper.

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PSS_TEST_BUILD:-$src/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "not ok 1 - no build directory"; exit 1; }
pss=$build/pss
n=0
fails=0
started=""		# pids we started, ended by srv_cleanup

tap() {		# tap STATUS(0 = ok) DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}

note() { sed 's/^/# /'; }

skip_all() {	# skip_all REASON: the whole test is skipped (exit 77)
	echo "# SKIP $1"
	exit 77
}

need() {	# need PROGRAM PACKAGE...: skip unless PROGRAM is installed
	local prog=$1
	shift
	command -v "$prog" >/dev/null 2>&1 ||
		skip_all "$prog not installed (apt-get install $*; scripts/deps.sh test)"
}

# Remember a pid we started; srv_cleanup ends what is still alive.
remember() { started="$started $1"; }

# stop_pid PID [SIGNAL]: end one of our processes and reap it (bounded).
stop_pid() {
	local pid=$1 sig=${2:-TERM} i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -"$sig" "$pid" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		# a zombie child of ours still answers kill -0: wait reaps it
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
		kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

srv_cleanup() {
	local pid
	for pid in $started; do
		stop_pid "$pid" KILL
	done
	[ -n "${tmp:-}" ] && rm -rf "$tmp"
}

srv_setup() {	# srv_setup NAME: the temp dir, the cleanup trap, the snapshot helper
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/pss-$1.XXXXXX") || exit 1
	chmod 755 "$tmp"	# servers that drop root must reach their data
	trap srv_cleanup EXIT
	[ -x "$pss" ] && [ -e "$build/libpss.so" ] || { echo "not ok 1 - $pss or libpss.so not built"; exit 1; }
	helper=$tmp/snapshot-loop
	if ! out=$(${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$src/include" \
		"$src/tests/servers/snapshot-loop.c" -L"$build" -lpss -Wl,-rpath,"$build" \
		-o "$helper" 2>&1); then
		echo "not ok 1 - build tests/servers/snapshot-loop.c"
		echo "$out" | note
		exit 1
	fi
}

free_port() {	# a TCP port free on 127.0.0.1 right now
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {	# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT
	local i
	for i in $(seq $((${2:-20} * 10))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }	# boot-relative ticks

# The pids of @1's children named @2 (alive or zombie).
children_named() { pgrep -P "$1" -x "$2" 2>/dev/null | tr '\n' ' '; }

# zombies_of PID: its children in state Z, as "pid:comm" words.
zombies_of() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		[ "$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null)" = Z ] &&
			printf '%s:%s ' "$c" "$(cat "/proc/$c/comm" 2>/dev/null)"
	done
}

# snapshots COUNT PID...: the helper's COUNT rounds of full snapshots, one
# TAP line; its report in $snap_out ("pid PID captures N ... deferred D redone R").
snapshots() {
	local count=$1 rc
	shift
	snap_out=$("$helper" -n "$count" -i 50 "$@" 2>&1)
	rc=$?
	tap $rc "$count snapshots (VA_CLONE|THREADS|THREAD_CONTEXT|VA_SPACE|HANDLES) of $* captured, checked, freed"
	echo "$snap_out" | note
	return $rc
}

# dump_one PID LABEL: pss dump to the temp dir, checked to be an ELF core
# of PID larger than MIN_BYTES (default 1), then deleted.  One TAP line;
# sets $dump_pause_ms, $dump_seconds and $dump_deferred.
dump_one() {
	local pid=$1 label=$2 min=${3:-1} json rc file type bytes ok=0 why=""
	rm -f "$tmp/core.$pid"
	json=$("$pss" dump --json -o "$tmp/core" "$pid" 2>"$tmp/dump.err")
	rc=$?
	file=$tmp/core.$pid
	dump_pause_ms=$(echo "$json" | sed -n 's/.*"pause_ms": *\([0-9.]*\).*/\1/p')
	dump_seconds=$(echo "$json" | sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p')
	dump_deferred=$(echo "$json" | sed -n 's/.*"deferred_threads": *\([0-9]*\).*/\1/p')
	if [ $rc -ne 0 ]; then
		ok=1; why="pss dump exited $rc: $(head -c 300 "$tmp/dump.err")"
	elif [ ! -f "$file" ]; then
		ok=1; why="no $file"
	else
		type=$(readelf -h "$file" 2>/dev/null | awk '/Type:/ {print $2}')
		bytes=$(stat -c %s "$file")
		if [ "$(head -c 4 "$file" | od -An -tx1 | tr -d ' ')" != 7f454c46 ] || [ "$type" != CORE ]; then
			ok=1; why="not an ELF core (type '$type')"
		elif [ "$bytes" -lt "$min" ]; then
			ok=1; why="$bytes bytes, expected at least $min"
		elif ! readelf -n "$file" 2>/dev/null | grep -q NT_PRSTATUS; then
			ok=1; why="no NT_PRSTATUS note"
		fi
	fi
	tap $ok "pss dump of $label ($pid): an ELF core${why:+: $why}"
	[ -n "$json" ] && echo "$json" | note
	rm -f "$file"
	return $ok
}

# no_clone_under PID LABEL: no pss-clone child (alive or zombie) is left.
no_clone_under() {
	local c
	c=$(children_named "$1" pss-clone)
	tap "$([ -z "$c" ] && echo 0 || echo 1)" "no pss-clone left under $2${c:+: $c}"
}

# no_strays: none of the pids we started is alive, and this shell has no child left.
no_strays() {
	local pid alive="" kids
	for pid in $started "$@"; do
		[ -d "/proc/$pid" ] && alive="$alive $pid:$(cat "/proc/$pid/comm" 2>/dev/null)"
	done
	# a lone command in $(...) is exec'd: the only child seen is pgrep, which skips itself
	kids=$(pgrep -P $$)
	kids=$(for p in $kids; do printf '%s:%s ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)
	tap "$([ -z "$alive$kids" ] && echo 0 || echo 1)" \
		"no zombie or stray process afterwards${alive:+: alive$alive}${kids:+: children $kids}"
}

# The highest-versioned PostgreSQL server binaries, or nothing.
pg_bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && echo "$d"
}

# ---- the servers: each sets its pid (and port) variables, 0 on success ----

# start_redis: redis-server on a free port, no persistence, DEBUG allowed
# from loopback (for DEBUG POPULATE).  Sets $redis_pid, $redis_port.
start_redis() {
	redis_port=$(free_port)
	cat >"$tmp/redis.conf" <<-CONF
	bind 127.0.0.1
	port $redis_port
	dir $tmp
	dbfilename dump.rdb
	save ""
	appendonly no
	daemonize no
	supervised no
	enable-debug-command local
	logfile $tmp/redis.log
	CONF
	redis-server "$tmp/redis.conf" >/dev/null 2>&1 &
	redis_pid=$!
	remember $redis_pid
	wait_port "$redis_port" 20 && [ "$(rcli PING)" = PONG ]
}

rcli() { timeout 60 redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }

# start_nginx: a master and two workers serving $tmp/html on a free port.
# Sets $nginx_pid (the master), $nginx_port, $nginx_workers.
start_nginx() {
	local i
	nginx_port=$(free_port)
	mkdir -p "$tmp/html" "$tmp/nginx-tmp"
	cat >"$tmp/nginx.conf" <<-CONF
	daemon off;
	master_process on;
	worker_processes 2;
	pid $tmp/nginx.pid;
	error_log $tmp/nginx-error.log notice;
	events { worker_connections 256; }
	http {
		access_log off;
		client_body_temp_path $tmp/nginx-tmp/body;
		proxy_temp_path $tmp/nginx-tmp/proxy;
		fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
		uwsgi_temp_path $tmp/nginx-tmp/uwsgi;
		scgi_temp_path $tmp/nginx-tmp/scgi;
		default_type application/octet-stream;
		server {
			listen 127.0.0.1:$nginx_port;
			root $tmp/html;
		}
	}
	CONF
	nginx -p "$tmp" -e "$tmp/nginx-error.log" -c "$tmp/nginx.conf" >/dev/null 2>&1 &
	nginx_pid=$!
	remember $nginx_pid
	wait_port "$nginx_port" 20 || return 1
	for i in $(seq 50); do
		nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')
		[ "$(echo $nginx_workers | wc -w)" -ge 2 ] && return 0
		sleep 0.1
	done
	return 1
}

# start_postgres: initdb and a postmaster as an unprivileged user, TCP on
# 127.0.0.1 only, its socket in the temp dir.  Sets $pg_pid, $pg_port,
# $pg_user (the server's OS user), $pg_bin.
start_postgres() {
	pg_bin=$(pg_bindir) || return 1
	pg_port=$(free_port)
	pg_user=postgres
	id -u postgres >/dev/null 2>&1 || pg_user=nobody
	if [ "$(id -u)" = 0 ]; then
		as_pg=(setpriv --reuid="$pg_user" --regid="$(id -g "$pg_user")" --clear-groups --)
	else
		as_pg=()
		pg_user=$(id -un)
	fi
	mkdir -p "$tmp/pg"
	[ ${#as_pg[@]} -gt 0 ] && chown "$pg_user" "$tmp/pg"
	if ! (cd "$tmp/pg" && "${as_pg[@]}" "$pg_bin/initdb" -D "$tmp/pg/data" -U postgres \
		-A trust -E UTF8 --no-sync >"$tmp/pg/initdb.log" 2>&1); then
		note <"$tmp/pg/initdb.log"
		return 1
	fi
	(cd "$tmp/pg" && exec "${as_pg[@]}" "$pg_bin/postgres" -D "$tmp/pg/data" \
		-c listen_addresses=127.0.0.1 -p "$pg_port" -c unix_socket_directories="$tmp/pg" \
		-c fsync=off -c synchronous_commit=off -c full_page_writes=off \
		-c max_connections=40 -c shared_buffers=64MB >"$tmp/pg/server.log" 2>&1) &
	pg_pid=$!
	remember $pg_pid
	wait_port "$pg_port" 30 || return 1
	local i
	for i in $(seq 100); do
		[ "$(pq -c 'select 1' 2>/dev/null)" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

pq() { timeout 60 psql -X -q -At -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres "$@"; }
