// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live tests of PSS_CAPTURE_THREADS: the thread list, ids, times and names
 * of a victim with known threads agree with /proc, and a THREADS capture
 * (no THREAD_CONTEXT) never stops or traces the target.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 5

static int parse_tids(const char *reply, pid_t *tids, int max)
{
	const char *p = strstr(reply, "tids=");
	int n = 0;

	if (!p)
		return 0;
	for (p += 5; *p && n < max; p++) {
		tids[n++] = (pid_t)strtol(p, (char **)&p, 10);
		if (*p != ',')
			break;
	}
	return n;
}

static int cmp_dword(const void *a, const void *b)
{
	DWORD x = *(const DWORD *)a, y = *(const DWORD *)b;

	return (x > y) - (x < y);
}

/* Proves: ThreadsCaptured and the set of ThreadIds equal /proc/PID/task, every
 * entry names the process, and no context is reported without THREAD_CONTEXT. */
TEST(thread_ids_match_proc)
{
	struct target t;
	char r[4096];
	pid_t want[64];
	DWORD got[64];
	PSS_THREAD_INFORMATION ti;
	struct walk w;
	HPSS s;
	int n;

	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads %d", NTHREADS);
	REQUIRE(reply_get(r, "n", -1) == NTHREADS, "victim: %s", r);
	n = thread_ids(t.pid, want, 64);
	REQUIRE_EQ_INT(n, NTHREADS + 1);

	s = capture_ok(t.pid, PSS_CAPTURE_THREADS, 0);
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)));
	CHECK_EQ_U64(ti.ThreadsCaptured, n);
	CHECK_EQ_U64(ti.ContextLength, 0);

	CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	REQUIRE_EQ_U64(w.count, n);
	for (size_t i = 0; i < w.count; i++) {
		PSS_THREAD_ENTRY *e = WALK_ITEM(&w, PSS_THREAD_ENTRY, i);

		got[i] = e->ThreadId;
		CHECK_EQ_U64(e->ProcessId, t.pid);
		CHECK(e->ContextRecord == NULL, "thread %u has a context without THREAD_CONTEXT", e->ThreadId);
		CHECK_EQ_U64(e->SizeOfContextRecord, 0);
		CHECK(!(e->Flags & PSS_THREAD_FLAGS_TERMINATED), "live thread %u marked terminated",
		      e->ThreadId);
		CHECK_EQ_U64(e->ExitStatus, STILL_ACTIVE);
		CHECK_EQ_U64(e->SuspendCount, 0);
		/* Win32StartAddress: AT_ENTRY for the main thread (header) */
		if (e->ThreadId == (DWORD)t.pid)
			CHECK(e->Win32StartAddress != NULL, "main thread without a start address");
	}
	qsort(got, w.count, sizeof(DWORD), cmp_dword);
	for (int i = 0; i < n; i++)
		CHECK_EQ_U64(got[i], want[i]);
	walk_release(&w);
	free_snap(s);
}

/* Proves: thread CreateTime and the process CreateTime are the tasks' start
 * times from /proc (boot time + starttime) as FILETIME. */
TEST(create_times_match_proc)
{
	struct target t;
	char r[4096];
	pid_t tids[8];
	struct walk w;
	PSS_PROCESS_INFORMATION pi;
	HPSS s;
	uint64_t boot = boot_time_ns(), slack = 2ull * 10000000ull;	/* 2 s in FILETIME units */

	start_victim(&t);
	msleep(30);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	REQUIRE_EQ_INT(parse_tids(r, tids, 8), 2);
	s = capture_ok(t.pid, PSS_CAPTURE_THREADS, 0);
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi)));
	{
		uint64_t want = unix_ns_to_filetime(boot + task_start_ns(t.pid, t.pid));
		uint64_t got = filetime_u64(pi.CreateTime);

		CHECK(got + slack > want && got < want + slack, "process CreateTime %llu, /proc says %llu",
		      (unsigned long long)got, (unsigned long long)want);
	}
	CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	for (size_t i = 0; i < w.count; i++) {
		PSS_THREAD_ENTRY *e = WALK_ITEM(&w, PSS_THREAD_ENTRY, i);
		uint64_t want = unix_ns_to_filetime(boot + task_start_ns(t.pid, (pid_t)e->ThreadId));
		uint64_t got = filetime_u64(e->CreateTime);

		CHECK(got + slack > want && got < want + slack, "thread %u CreateTime %llu, /proc says %llu",
		      e->ThreadId, (unsigned long long)got, (unsigned long long)want);
		CHECK(filetime_u64(e->ExitTime) == 0, "live thread %u has an ExitTime", e->ThreadId);
	}
	walk_release(&w);
	free_snap(s);
}

/* Proves: PSS_WALK_THREAD_NAME yields one name per thread, in thread-walk
 * order, equal to each task's comm, including a hostile comm (row 52). */
TEST(row52_thread_names_match_comm)
{
	struct target t;
	char r[4096];
	struct walk wt, wn;
	HPSS s;
	struct pss_linux_process_info lp;

	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 3");
	target_cmdf(&t, r, sizeof(r), "name ) R 1 (x\\n");
	s = capture_ok(t.pid, PSS_CAPTURE_THREADS, 0);
	CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &wt), ERROR_NO_MORE_ITEMS);
	CHECK_ERR(walk_collect(s, PSS_WALK_THREAD_NAME, sizeof(PSS_THREAD_NAME), &wn), ERROR_NO_MORE_ITEMS);
	REQUIRE_EQ_U64(wn.count, wt.count);
	REQUIRE_EQ_U64(wt.count, 4);
	for (size_t i = 0; i < wn.count; i++) {
		PSS_THREAD_NAME *nm = WALK_ITEM(&wn, PSS_THREAD_NAME, i);
		PSS_THREAD_ENTRY *e = WALK_ITEM(&wt, PSS_THREAD_ENTRY, i);
		size_t units = nm->ThreadNameSize / sizeof(WCHAR);
		char comm[64], *got;

		REQUIRE(nm->ThreadName != NULL || units == 0, "NULL ThreadName with size %u", nm->ThreadNameSize);
		if (units && nm->ThreadName[units - 1] == 0)
			units--;	/* a size that counts the NUL */
		got = u16_to_utf8(nm->ThreadName, units);
		task_comm(t.pid, (pid_t)e->ThreadId, comm, sizeof(comm));
		CHECK(!strcmp(got, comm), "thread %u name '%s', comm '%s'", e->ThreadId, got, comm);
		if (e->ThreadId == (DWORD)t.pid)
			CHECK(!strcmp(got, ") R 1 (x\n"), "hostile main-thread name reported as '%s'", got);
		free(got);
	}
	lp.sz = sizeof(lp);
	REQUIRE_OK(pss_linux_query_process(s, &lp));
	CHECK(!strcmp(lp.comm, ") R 1 (x\n"), "pss_linux_process_info.comm '%s'", lp.comm);
	CHECK_EQ_INT(lp.pid, t.pid);
	CHECK_EQ_INT(lp.num_threads, 4);
	walk_release(&wn);
	walk_release(&wt);
	free_snap(s);
}

/* Proves: a thread blocked in read() is reported in syscall 0 with its first
 * argument (the pipe fd) through the entry and pss_linux_query_thread. */
TEST(blocked_thread_syscall_reported)
{
	struct target t;
	char r[256];
	pid_t tid;
	struct walk w;
	struct pss_linux_thread_info li;
	HPSS s;
	bool seen = false;

	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "block read");
	tid = (pid_t)reply_get(r, "tid", -1);
	REQUIRE(wait_thread_syscall(t.pid, tid, 0, 5000) == 0, "thread %d never blocked in read", tid);
	s = capture_ok(t.pid, PSS_CAPTURE_THREADS, 0);
	CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	for (size_t i = 0; i < w.count; i++) {
		PSS_THREAD_ENTRY *e = WALK_ITEM(&w, PSS_THREAD_ENTRY, i);

		if (e->ThreadId != (DWORD)tid)
			continue;
		seen = true;
		CHECK_EQ_U64(e->LastSyscallNumber, 0);
		CHECK(e->LastSyscallFirstArgument != NULL, "read's first argument (an fd > 2) missing");
	}
	CHECK(seen, "blocked thread %d not walked", tid);
	memset(&li, 0, sizeof(li));
	li.sz = sizeof(li);
	REQUIRE_OK(pss_linux_query_thread(s, tid, &li));
	CHECK_EQ_INT(li.tid, tid);
	CHECK_EQ_INT(li.syscall_nr, 0);
	CHECK(li.state == 'S', "state '%c'", li.state);
	CHECK(!strcmp(li.comm, "read"), "comm '%s'", li.comm);
	CHECK_EQ_INT(li.have_regs, 0);
	CHECK_ERR(pss_linux_query_thread(s, 1, &li), ERROR_NOT_FOUND);
	walk_release(&w);
	free_snap(s);
}

struct watcher {
	pid_t pid;
	atomic_int stop;
	atomic_int traced, stopped, samples;
};

static void *watch(void *arg)
{
	struct watcher *wa = arg;

	while (!atomic_load(&wa->stop)) {
		pid_t tids[64];
		int n = thread_ids(wa->pid, tids, 64);

		for (int i = 0; i < n && i < 64; i++) {
			char st = thread_state(wa->pid, tids[i]);

			if (thread_tracer_pid(wa->pid, tids[i]) > 0)
				atomic_fetch_add(&wa->traced, 1);
			if (st == 't' || st == 'T')
				atomic_fetch_add(&wa->stopped, 1);
		}
		atomic_fetch_add(&wa->samples, 1);
	}
	return NULL;
}

/* Proves: PSS_CAPTURE_THREADS (and NONE) never trace or stop the target:
 * TracerPid stays 0 in every thread while captures loop, pause_ns is 0, and
 * a spinning counter keeps advancing (design section 2, "pay only..."). */
TEST(threads_capture_never_stops_target)
{
	struct target t;
	char r[256];
	struct watcher wa = { 0 };
	pthread_t th;
	unsigned long long c0, c1;

	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 3");
	target_cmdf(&t, r, sizeof(r), "spin");
	wa.pid = t.pid;
	REQUIRE(pthread_create(&th, NULL, watch, &wa) == 0, "pthread_create");
	c0 = (unsigned long long)reply_get(target_cmdf(&t, r, sizeof(r), "counter"), "count", 0);
	for (int i = 0; i < 200; i++) {
		HPSS s = capture_ok(t.pid, i % 2 ? PSS_CAPTURE_THREADS : PSS_CAPTURE_NONE, 0);
		struct pss_linux_process_info lp;

		memset(&lp, 0, sizeof(lp));
		lp.sz = sizeof(lp);
		CHECK_ERR(pss_linux_query_process(s, &lp), ERROR_SUCCESS);
		CHECK_EQ_U64(lp.pause_ns, 0);
		CHECK_EQ_INT(lp.tracer_pid, 0);
		free_snap(s);
	}
	atomic_store(&wa.stop, 1);
	pthread_join(th, NULL);
	c1 = (unsigned long long)reply_get(target_cmdf(&t, r, sizeof(r), "counter"), "count", 0);
	diag("%d /proc samples while capturing; counter %llu -> %llu", atomic_load(&wa.samples), c0, c1);
	CHECK_EQ_INT(atomic_load(&wa.traced), 0);
	CHECK_EQ_INT(atomic_load(&wa.stopped), 0);
	CHECK(c1 > c0, "spinner counter did not advance (%llu -> %llu)", c0, c1);
	CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
