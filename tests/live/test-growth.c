// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fault matrix row 19: threads created continuously while captures run.
 * The victim's "grow" thread creates parked threads one after another;
 * each new thread writes its tid to an array as its first act.  A capture
 * with the VA clone must list, with a register context, every thread
 * whose tid the clone's copy of that array holds: those threads ran before
 * the clone's instant, so they existed while every thread was stopped.
 * A thread the stop missed (created between a task-list scan and its
 * creator's stop, and never seized) would run on through the clone and be
 * in the array but not in the snapshot.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAPTURES 20
#define GROW 3000

static int cmp_dword(const void *a, const void *b)
{
	DWORD x = *(const DWORD *)a, y = *(const DWORD *)b;

	return (x > y) - (x < y);
}

static bool rpm(HANDLE h, uint64_t addr, void *buf, size_t len)
{
	SIZE_T got = 0;

	return ReadProcessMemory(h, (LPCVOID)(uintptr_t)addr, buf, len, &got) && got == len;
}

/* Proves (row 19): under continuous thread creation every capture succeeds
 * and lists, with a context, every thread that had run by the clone's
 * instant; the victim carries on and nothing stays traced. */
TEST(row19_threads_created_continuously)
{
	static pid_t tids[4096];
	static DWORD listed[8192];
	uint64_t tids_addr, started_addr;
	struct target t;
	char r[256];
	int max, checked = 0, grew = 0, last = -1;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "grow %d", GROW);
	tids_addr = (uint64_t)reply_get(r, "tids", 0);
	started_addr = (uint64_t)reply_get(r, "started", 0);
	max = (int)reply_get(r, "max", 0);
	REQUIRE(tids_addr && started_addr && max >= GROW, "victim: %s", r);

	for (int i = 0; i < CAPTURES; i++) {
		HPSS s = NULL;
		DWORD e = capture_pid(t.pid, PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS |
				      PSS_CAPTURE_THREAD_CONTEXT, CONTEXT_ALL, &s);
		struct walk w;
		HANDLE h;
		pid_t cpid;
		int started, n;

		CHECK(e == ERROR_SUCCESS, "capture %d: %s (%s)", i, err_name(e), capture_error_text());
		if (e)
			continue;
		h = query_va_clone(s, &cpid);
		CHECK(h != NULL, "capture %d: no clone", i);
		if (!h || !rpm(h, started_addr, &started, sizeof(started))) {
			CHECK(0, "capture %d: cannot read the clone's counter", i);
			free_snap(s);
			continue;
		}
		n = started < GROW ? started : GROW;
		CHECK(rpm(h, tids_addr, tids, sizeof(pid_t) * (size_t)n),
		      "capture %d: cannot read the clone's tids", i);
		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w),
			  ERROR_NO_MORE_ITEMS);
		REQUIRE(w.count <= sizeof(listed) / sizeof(listed[0]), "%zu threads", w.count);
		for (size_t k = 0; k < w.count; k++) {
			PSS_THREAD_ENTRY *x = WALK_ITEM(&w, PSS_THREAD_ENTRY, k);

			CHECK(x->ContextRecord || (x->Flags & PSS_THREAD_FLAGS_TERMINATED),
			      "thread %u without a context", x->ThreadId);
			listed[k] = x->ThreadId;
		}
		qsort(listed, w.count, sizeof(DWORD), cmp_dword);
		for (int k = 0; k < n; k++) {
			DWORD tid = (DWORD)tids[k];

			/* 0: counted but its tid not stored yet at the instant */
			if (!tid)
				continue;
			CHECK(bsearch(&tid, listed, w.count, sizeof(DWORD), cmp_dword),
			      "capture %d: thread %u ran before the clone but is not listed", i, tid);
			checked++;
		}
		if (started > last && last >= 0)
			grew++;
		last = started;
		walk_release(&w);
		free_snap(s);
	}
	target_cmdf(&t, r, sizeof(r), "grow-stop");
	diag("%d tids checked over %d captures; victim: %s", checked, CAPTURES, r);
	CHECK(grew > 0, "the victim created no thread between captures");
	REQUIRE(target_cmd(&t, "sigcount", r, sizeof(r)) > 0, "victim does not answer");
	CHECK_EQ_INT(reply_get(r, "stdin_eintr", -1), 0);
	CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
	CHECK(no_thread_traced(t.pid), "a thread is still traced or in a ptrace stop");
	CHECK(proc_state(t.pid) != 'T', "victim left stopped");
	CHECK_EQ_INT(clone_procs_under(t.pid, true), 0);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
