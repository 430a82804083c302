// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Bad input of every kind gets its documented Win32 code, never a crash,
 * never a stopped target (fault matrix rows 65-69 and 71); plus the walk
 * marker, duplicate and allocator contracts of the header.  Run under ASan
 * by `make check`, so a library that dereferences a bad handle fails here.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>


/* Proves (row 65): NULL, random and freed snapshot handles are
 * ERROR_INVALID_HANDLE for every function, and nothing crashes. */
TEST(row65_bad_snapshot_handles)
{
	PSS_PROCESS_INFORMATION pi;
	PSS_THREAD_ENTRY te;
	HPSSWALK m;
	HPSS s, freed;
	uint64_t junk[64];
	HPSS bogus[] = { (HPSS)NULL, (HPSS)(uintptr_t)0xdeadbeef0ull, (HPSS)(uintptr_t)1,
			 (HPSS)junk, (HPSS)(uintptr_t)-1, (HPSS)(uintptr_t)&harness_main };

	memset(junk, 0x50, sizeof(junk));	/* even "PSS!"-looking bytes are no snapshot */
	REQUIRE_OK(PssWalkMarkerCreate(NULL, &m));
	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_THREADS, 0, &freed));
	REQUIRE_OK(PssFreeSnapshot(GetCurrentProcess(), freed));
	for (size_t i = 0; i <= sizeof(bogus) / sizeof(bogus[0]); i++) {
		s = i < sizeof(bogus) / sizeof(bogus[0]) ? bogus[i] : freed;
		CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi)),
			  ERROR_INVALID_HANDLE);
		CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)), ERROR_INVALID_HANDLE);
		CHECK_ERR(PssFreeSnapshot(GetCurrentProcess(), s), ERROR_INVALID_HANDLE);
		{
			HPSS d = (HPSS)0x1;

			CHECK_ERR(PssDuplicateSnapshot(GetCurrentProcess(), s, GetCurrentProcess(), &d, 0),
				  ERROR_INVALID_HANDLE);
		}
		{
			struct pss_linux_process_info lp = { .sz = sizeof(lp) };

			CHECK_ERR(pss_linux_query_process(s, &lp), ERROR_INVALID_HANDLE);
		}
	}
	/* bad markers */
	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_THREADS, 0, &s));
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, NULL, &te, sizeof(te)), ERROR_INVALID_HANDLE);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, (HPSSWALK)junk, &te, sizeof(te)), ERROR_INVALID_HANDLE);
	CHECK_ERR(PssWalkMarkerFree(NULL), ERROR_INVALID_HANDLE);
	CHECK_ERR(PssWalkMarkerFree((HPSSWALK)junk), ERROR_INVALID_HANDLE);
	CHECK_ERR(PssWalkMarkerSeekToBeginning((HPSSWALK)junk), ERROR_INVALID_HANDLE);
	{
		ULONG_PTR pos;

		CHECK_ERR(PssWalkMarkerGetPosition((HPSSWALK)junk, &pos), ERROR_INVALID_HANDLE);
		CHECK_ERR(PssWalkMarkerSetPosition((HPSSWALK)junk, 0), ERROR_INVALID_HANDLE);
	}
	CHECK_ERR(PssWalkMarkerFree(m), ERROR_SUCCESS);
	CHECK_ERR(PssWalkMarkerFree(m), ERROR_INVALID_HANDLE);	/* freed marker */
	free_snap(s);
}

/* Proves (row 66): the second free of a snapshot is ERROR_INVALID_HANDLE. */
TEST(row66_double_free)
{
	HPSS s;

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_NONE, 0, &s));
	CHECK_ERR(PssFreeSnapshot(GetCurrentProcess(), s), ERROR_SUCCESS);
	CHECK_ERR(PssFreeSnapshot(GetCurrentProcess(), s), ERROR_INVALID_HANDLE);
}

/* Proves (row 67): a marker of snapshot A used with B starts at B's
 * beginning (header); markers and snapshots are not interchangeable. */
TEST(row67_marker_of_other_snapshot)
{
	struct target t;
	char r[256];
	HPSS a, b;
	HPSSWALK m;
	PSS_THREAD_ENTRY te;
	size_t nb = 0;

	start_victim(&t);
	a = capture_ok(t.pid, PSS_CAPTURE_THREADS, 0);
	target_cmdf(&t, r, sizeof(r), "threads 4");
	b = capture_ok(t.pid, PSS_CAPTURE_THREADS, 0);
	REQUIRE_OK(PssWalkMarkerCreate(NULL, &m));
	CHECK_ERR(PssWalkSnapshot(a, PSS_WALK_THREADS, m, &te, sizeof(te)), ERROR_SUCCESS);
	CHECK_ERR(PssWalkSnapshot(a, PSS_WALK_THREADS, m, &te, sizeof(te)), ERROR_NO_MORE_ITEMS);
	while (PssWalkSnapshot(b, PSS_WALK_THREADS, m, &te, sizeof(te)) == ERROR_SUCCESS && nb < 100)
		nb++;
	CHECK_EQ_U64(nb, 5);	/* all of B, from its beginning */
	/* and back to A: from A's beginning again */
	CHECK_ERR(PssWalkSnapshot(a, PSS_WALK_THREADS, m, &te, sizeof(te)), ERROR_SUCCESS);
	CHECK_EQ_U64(te.ThreadId, t.pid);
	/* a marker as a snapshot and a snapshot as a marker */
	{
		PSS_THREAD_INFORMATION ti;

		CHECK_ERR(PssQuerySnapshot((HPSS)m, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)),
			  ERROR_INVALID_HANDLE);
		CHECK_ERR(PssWalkSnapshot(a, PSS_WALK_THREADS, (HPSSWALK)b, &te, sizeof(te)), ERROR_INVALID_HANDLE);
		CHECK_ERR(PssFreeSnapshot(GetCurrentProcess(), (HPSS)m), ERROR_INVALID_HANDLE);
		CHECK_ERR(PssWalkMarkerFree((HPSSWALK)a), ERROR_INVALID_HANDLE);
	}
	/* walking a freed snapshot with a live marker */
	free_snap(a);
	CHECK_ERR(PssWalkSnapshot(a, PSS_WALK_THREADS, m, &te, sizeof(te)), ERROR_INVALID_HANDLE);
	CHECK_ERR(PssWalkMarkerFree(m), ERROR_SUCCESS);
	free_snap(b);
}

/* Proves (row 68): NULL SnapshotHandle, reserved and unknown capture bits and
 * IPT tracing are refused before the target is touched: TracerPid stays 0
 * and no thread is ever seen stopped while the bad calls run. */
TEST(row68_bad_capture_flags_never_touch_target)
{
	struct target t;
	char r[64];
	HANDLE h;
	struct watch *w;
	static const DWORD bad_bits[] = { 0x2, 0x400, 0x4000, 0x8000, 0x100000, 0x01000000, 0x02000000 };
	const DWORD base = PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | PSS_CAPTURE_HANDLES;
	int sweeps = 0, bad;

	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	victim_idle(&t);
	h = open_process(t.pid);
	w = watch_start(t.pid);
	/* enough rounds for the watcher to sweep /proc many times meanwhile */
	for (uint64_t t0 = now_ns(); watch_sweeps(w) < 50 && now_ns() - t0 < 10000000000ull;) {
		HPSS s = (HPSS)0x1;

		CHECK_ERR(PssCaptureSnapshot(h, (PSS_CAPTURE_FLAGS)base, CONTEXT_ALL, NULL),
			  ERROR_INVALID_PARAMETER);
		for (size_t i = 0; i < sizeof(bad_bits) / sizeof(bad_bits[0]); i++) {
			s = (HPSS)0x1;
			CHECK_ERR(PssCaptureSnapshot(h, (PSS_CAPTURE_FLAGS)(base | bad_bits[i]), CONTEXT_ALL, &s),
				  ERROR_INVALID_PARAMETER);
			CHECK(s == NULL, "SnapshotHandle not set to NULL for bits %#x", bad_bits[i]);
		}
		s = (HPSS)0x1;
		CHECK_ERR(PssCaptureSnapshot(h, (PSS_CAPTURE_FLAGS)(base | PSS_CAPTURE_IPT_TRACE), CONTEXT_ALL, &s),
			  ERROR_NOT_SUPPORTED);
		CHECK(s == NULL, "SnapshotHandle not NULL after IPT refusal");
		CHECK_ERR(pss_linux_capture(h, (PSS_CAPTURE_FLAGS)base, CONTEXT_ALL,
					    &(struct pss_linux_options){ .sz = 1 }, &s), ERROR_INVALID_PARAMETER);
		if (harness_failures())
			break;
	}
	bad = watch_stop(w, &sweeps);
	CHECK_EQ_INT(bad, 0);
	diag("%d /proc sweeps during the bad calls", sweeps);
	CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
	CHECK(proc_state(t.pid) == 'S', "victim state %c", proc_state(t.pid));
	REQUIRE(target_cmd(&t, "ping", r, sizeof(r)) > 0, "victim gone quiet");
	/* not a process handle */
	{
		HPSS s = (HPSS)0x1;
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		CHECK_ERR(PssCaptureSnapshot((HANDLE)(intptr_t)fd, PSS_CAPTURE_NONE, 0, &s), ERROR_INVALID_HANDLE);
		CHECK_ERR(PssCaptureSnapshot((HANDLE)(intptr_t)9999, PSS_CAPTURE_NONE, 0, &s), ERROR_INVALID_HANDLE);
		CHECK_ERR(PssCaptureSnapshot(NULL, PSS_CAPTURE_NONE, 0, &s), ERROR_INVALID_HANDLE);
		close(fd);
	}
	CloseHandle(h);
}

/* Proves: a VA clone capture leaves the target untraced, and NOT_FOUND
 * answers the clone query of a snapshot taken without one. */
TEST(va_clone_query)
{
	PSS_VA_CLONE_INFORMATION vi;
	struct target t;
	HPSS s = NULL;

	start_victim(&t);
	REQUIRE_OK(capture_pid(t.pid, PSS_CAPTURE_THREADS, 0, &s));
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_VA_CLONE_INFORMATION, &vi, sizeof(vi)),
		  ERROR_NOT_FOUND);
	free_snap(s);
	s = NULL;
	REQUIRE_OK(capture_pid(t.pid, PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS, 0, &s));
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_VA_CLONE_INFORMATION, &vi, sizeof(vi)),
		  ERROR_SUCCESS);
	CHECK(GetProcessId(vi.VaCloneHandle) > 0, "VaCloneHandle is not a process handle");
	free_snap(s);
	CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
	CHECK(no_thread_traced(t.pid), "target traced after VA_CLONE");
}

/* Proves: unknown classes, NULL buffers and wrong lengths are refused in the
 * documented order (handle, class, buffer, length, captured). */
TEST(query_and_walk_argument_checks)
{
	HPSS s;
	HPSSWALK m;
	PSS_PROCESS_INFORMATION pi;
	PSS_THREAD_ENTRY te;
	PSS_VA_SPACE_INFORMATION vi;

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_THREADS, 0, &s));
	REQUIRE_OK(PssWalkMarkerCreate(NULL, &m));
	CHECK_ERR(PssQuerySnapshot(s, (PSS_QUERY_INFORMATION_CLASS)8, &pi, sizeof(pi)), ERROR_INVALID_PARAMETER);
	CHECK_ERR(PssQuerySnapshot(s, (PSS_QUERY_INFORMATION_CLASS)-1, &pi, sizeof(pi)), ERROR_INVALID_PARAMETER);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, NULL, sizeof(pi)), ERROR_INVALID_PARAMETER);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi) - 1), ERROR_BAD_LENGTH);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi) + 8), ERROR_BAD_LENGTH);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &pi, 0), ERROR_BAD_LENGTH);
	/* length is checked before "not captured" */
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_VA_SPACE_INFORMATION, &vi, 3), ERROR_BAD_LENGTH);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_VA_SPACE_INFORMATION, &vi, sizeof(vi)), ERROR_NOT_FOUND);
	/* class before buffer */
	CHECK_ERR(PssQuerySnapshot(s, (PSS_QUERY_INFORMATION_CLASS)99, NULL, 0), ERROR_INVALID_PARAMETER);
	CHECK_ERR(PssQuerySnapshot(NULL, (PSS_QUERY_INFORMATION_CLASS)99, NULL, 0), ERROR_INVALID_HANDLE);

	CHECK_ERR(PssWalkSnapshot(s, (PSS_WALK_INFORMATION_CLASS)5, m, &te, sizeof(te)), ERROR_INVALID_PARAMETER);
	CHECK_ERR(PssWalkSnapshot(s, (PSS_WALK_INFORMATION_CLASS)-1, m, &te, sizeof(te)), ERROR_INVALID_PARAMETER);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te) - 8), ERROR_BAD_LENGTH);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te) + 8), ERROR_BAD_LENGTH);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)), ERROR_SUCCESS);
	CHECK_EQ_U64(te.ThreadId, getpid());	/* the bad calls did not advance it */
	CHECK_ERR(PssWalkMarkerCreate(NULL, NULL), ERROR_INVALID_PARAMETER);
	{
		PSS_ALLOCATOR none = { NULL, NULL, NULL };
		HPSSWALK m2;

		CHECK_ERR(PssWalkMarkerCreate(&none, &m2), ERROR_INVALID_PARAMETER);
	}
	PssWalkMarkerFree(m);
	free_snap(s);
}

/* Proves (row 69): a walk with Buffer NULL answers ERROR_MORE_DATA while
 * items remain and never advances; ERROR_NO_MORE_ITEMS at the end. */
TEST(row69_null_buffer_does_not_advance)
{
	HPSS s;
	HPSSWALK m;
	PSS_THREAD_ENTRY te;
	ULONG_PTR p0, p1;
	int n = 0, want = thread_count(getpid());

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_THREADS, 0, &s));
	REQUIRE_OK(PssWalkMarkerCreate(NULL, &m));
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, NULL, 0), ERROR_MORE_DATA);
	REQUIRE_OK(PssWalkMarkerGetPosition(m, &p0));	/* bound to s and THREADS now */
	for (int i = 0; i < 5; i++)
		CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, NULL, 0), ERROR_MORE_DATA);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, NULL, sizeof(te)), ERROR_MORE_DATA);
	REQUIRE_OK(PssWalkMarkerGetPosition(m, &p1));
	CHECK_EQ_U64(p1, p0);
	while (PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)) == ERROR_SUCCESS && n < 1000) {
		if (n == 0)
			CHECK_EQ_U64(te.ThreadId, getpid());	/* still the first item */
		n++;
	}
	CHECK_EQ_INT(n, want);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, NULL, 0), ERROR_NO_MORE_ITEMS);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)), ERROR_NO_MORE_ITEMS);
	PssWalkMarkerFree(m);
	free_snap(s);
}

/* Proves: data that was not captured is ERROR_NOT_FOUND for every query and
 * walk class; HANDLE_TRACE is accepted and MEASURE_PERFORMANCE answers. */
TEST(not_captured_is_not_found)
{
	HPSS s;
	HPSSWALK m;
	union {
		PSS_PROCESS_INFORMATION pi;
		PSS_VA_CLONE_INFORMATION vc;
		PSS_AUXILIARY_PAGES_INFORMATION ap;
		PSS_VA_SPACE_INFORMATION va;
		PSS_HANDLE_INFORMATION hi;
		PSS_THREAD_INFORMATION ti;
		PSS_HANDLE_TRACE_INFORMATION ht;
		PSS_PERFORMANCE_COUNTERS pc;
		PSS_AUXILIARY_PAGE_ENTRY ape;
		PSS_VA_SPACE_ENTRY vae;
		PSS_HANDLE_ENTRY he;
		PSS_THREAD_ENTRY te;
		PSS_THREAD_NAME tn;
	} u;

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_NONE, 0, &s));
	REQUIRE_OK(PssWalkMarkerCreate(NULL, &m));
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &u, sizeof(u.pi)), ERROR_SUCCESS);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_VA_CLONE_INFORMATION, &u, sizeof(u.vc)), ERROR_NOT_FOUND);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_AUXILIARY_PAGES_INFORMATION, &u, sizeof(u.ap)), ERROR_NOT_FOUND);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_VA_SPACE_INFORMATION, &u, sizeof(u.va)), ERROR_NOT_FOUND);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_HANDLE_INFORMATION, &u, sizeof(u.hi)), ERROR_NOT_FOUND);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &u, sizeof(u.ti)), ERROR_NOT_FOUND);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_HANDLE_TRACE_INFORMATION, &u, sizeof(u.ht)), ERROR_NOT_FOUND);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_PERFORMANCE_COUNTERS, &u, sizeof(u.pc)), ERROR_NOT_FOUND);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_AUXILIARY_PAGES, m, &u, sizeof(u.ape)), ERROR_NOT_FOUND);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_VA_SPACE, m, &u, sizeof(u.vae)), ERROR_NOT_FOUND);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_HANDLES, m, &u, sizeof(u.he)), ERROR_NOT_FOUND);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &u, sizeof(u.te)), ERROR_NOT_FOUND);
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_THREAD_NAME, m, &u, sizeof(u.tn)), ERROR_NOT_FOUND);
	free_snap(s);

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_TRACE |
				      PSS_CREATE_MEASURE_PERFORMANCE | PSS_CREATE_BREAKAWAY |
				      PSS_CREATE_RELEASE_SECTION, 0, &s));
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_HANDLE_TRACE_INFORMATION, &u, sizeof(u.ht)), ERROR_SUCCESS);
	CHECK_EQ_U64(u.ht.Size, 0);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_PERFORMANCE_COUNTERS, &u, sizeof(u.pc)), ERROR_SUCCESS);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_HANDLE_INFORMATION, &u, sizeof(u.hi)), ERROR_SUCCESS);
	CHECK(u.hi.HandlesCaptured >= 3, "only %u handles in this process", u.hi.HandlesCaptured);
	PssWalkMarkerFree(m);
	free_snap(s);
}

/* Proves: PssDuplicateSnapshot in the same process gives an independently
 * freeable copy; CLOSE_SOURCE needs USE_VM_ALLOCATIONS; other processes and
 * bad arguments are refused. */
TEST(duplicate_snapshot)
{
	struct target t;
	HPSS s, d = NULL;
	HANDLE other;
	PSS_THREAD_INFORMATION ti;

	start_victim(&t);
	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_THREADS, 0, &s));
	REQUIRE_OK(PssDuplicateSnapshot(GetCurrentProcess(), s, GetCurrentProcess(), &d, PSS_DUPLICATE_NONE));
	CHECK(d != NULL && d != s, "duplicate %p of %p", (void *)d, (void *)s);
	free_snap(s);
	CHECK_ERR(PssQuerySnapshot(d, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)), ERROR_SUCCESS);
	CHECK_EQ_INT(ti.ThreadsCaptured, thread_count(getpid()));
	free_snap(d);

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_THREADS, 0, &s));
	d = (HPSS)0x1;
	CHECK_ERR(PssDuplicateSnapshot(GetCurrentProcess(), s, GetCurrentProcess(), &d,
				       PSS_DUPLICATE_CLOSE_SOURCE), ERROR_NOT_SUPPORTED);
	CHECK_ERR(PssDuplicateSnapshot(GetCurrentProcess(), s, GetCurrentProcess(), NULL, 0),
		  ERROR_INVALID_PARAMETER);
	CHECK_ERR(PssDuplicateSnapshot(GetCurrentProcess(), s, GetCurrentProcess(), &d,
				       (PSS_DUPLICATE_FLAGS)0x2), ERROR_INVALID_PARAMETER);
	other = open_process(t.pid);
	CHECK_ERR(PssDuplicateSnapshot(GetCurrentProcess(), s, other, &d, 0), ERROR_NOT_SUPPORTED);
	CHECK_ERR(PssFreeSnapshot(other, s), ERROR_NOT_SUPPORTED);
	CloseHandle(other);
	/* the refused CLOSE_SOURCE left the source alone */
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)), ERROR_SUCCESS);
	free_snap(s);

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_THREADS | PSS_CREATE_USE_VM_ALLOCATIONS,
				      0, &s));
	REQUIRE_OK(PssDuplicateSnapshot(GetCurrentProcess(), s, GetCurrentProcess(), &d,
					PSS_DUPLICATE_CLOSE_SOURCE));
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)), ERROR_INVALID_HANDLE);
	CHECK_ERR(PssQuerySnapshot(d, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)), ERROR_SUCCESS);
	free_snap(d);
}

/* Proves: Get/SetPosition round-trips to the same item; SeekToBeginning
 * rewinds; an impossible position is ERROR_INVALID_PARAMETER. */
TEST(marker_position_round_trip)
{
	struct target t;
	char r[256];
	HPSS s;
	HPSSWALK m;
	PSS_THREAD_ENTRY te;
	ULONG_PTR pos;
	DWORD second, first;

	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 4");
	s = capture_ok(t.pid, PSS_CAPTURE_THREADS, 0);
	REQUIRE_OK(PssWalkMarkerCreate(NULL, &m));
	REQUIRE_OK(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)));
	first = te.ThreadId;
	REQUIRE_OK(PssWalkMarkerGetPosition(m, &pos));
	REQUIRE_OK(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)));
	second = te.ThreadId;
	CHECK(second != first, "two walks gave the same thread");
	REQUIRE_OK(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)));
	REQUIRE_OK(PssWalkMarkerSetPosition(m, pos));
	REQUIRE_OK(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)));
	CHECK_EQ_U64(te.ThreadId, second);
	REQUIRE_OK(PssWalkMarkerSeekToBeginning(m));
	REQUIRE_OK(PssWalkSnapshot(s, PSS_WALK_THREADS, m, &te, sizeof(te)));
	CHECK_EQ_U64(te.ThreadId, first);
	CHECK_ERR(PssWalkMarkerSetPosition(m, (ULONG_PTR)-1), ERROR_INVALID_PARAMETER);
	CHECK_ERR(PssWalkMarkerGetPosition(m, NULL), ERROR_INVALID_PARAMETER);
	PssWalkMarkerFree(m);
	free_snap(s);
}

struct counting {
	int allocs, frees, fail;
	size_t live;
};

static void *WINAPI count_alloc(void *ctx, DWORD size)
{
	struct counting *c = ctx;

	if (c->fail)
		return NULL;
	c->allocs++;
	return malloc(size);
}

static void WINAPI count_free(void *ctx, void *p)
{
	struct counting *c = ctx;

	if (p)
		c->frees++;
	free(p);
}

/* Proves: a custom PSS_ALLOCATOR serves the marker's strings and contexts and
 * gets everything back at PssWalkMarkerFree; an allocator failure is
 * ERROR_NOT_ENOUGH_MEMORY and the marker does not advance. */
TEST(custom_allocator)
{
	struct counting c = { 0 };
	PSS_ALLOCATOR a = { &c, count_alloc, count_free };
	HPSS s;
	HPSSWALK m;
	PSS_HANDLE_ENTRY he, first;
	PSS_THREAD_NAME tn;
	int n = 0;

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION |
				      PSS_CAPTURE_THREADS, 0, &s));
	REQUIRE_OK(PssWalkMarkerCreate(&a, &m));
	REQUIRE_OK(PssWalkSnapshot(s, PSS_WALK_HANDLES, m, &first, sizeof(first)));
	REQUIRE_OK(PssWalkMarkerSeekToBeginning(m));
	c.fail = 1;
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_HANDLES, m, &he, sizeof(he)), ERROR_NOT_ENOUGH_MEMORY);
	c.fail = 0;
	REQUIRE_OK(PssWalkSnapshot(s, PSS_WALK_HANDLES, m, &he, sizeof(he)));
	CHECK(he.Handle == first.Handle, "the failed walk advanced the marker (%p vs %p)", he.Handle, first.Handle);
	while (PssWalkSnapshot(s, PSS_WALK_HANDLES, m, &he, sizeof(he)) == ERROR_SUCCESS && n < 10000) {
		CHECK(he.TypeName != NULL, "no TypeName");
		n++;
	}
	while (PssWalkSnapshot(s, PSS_WALK_THREAD_NAME, m, &tn, sizeof(tn)) == ERROR_SUCCESS && n < 20000)
		n++;
	CHECK(c.allocs > 0, "the allocator was never used for %d items with strings", n);
	REQUIRE_OK(PssWalkMarkerFree(m));
	CHECK_EQ_INT(c.frees, c.allocs);
	diag("%d allocations for %d items", c.allocs, n);
	free_snap(s);
}

static pid_t clone_with_pid(pid_t want)
{
	struct clone_args ca;
	pid_t tid = want;

	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)&tid;
	ca.set_tid_size = 1;
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

/* Proves (row 71): a handle whose process was reaped and whose pid now
 * belongs to another process is ERROR_INVALID_HANDLE, and the new process
 * is not touched. */
TEST(row71_pid_reuse_stale_handle)
{
	int p[2];
	pid_t old, now = -1;
	HANDLE h;
	HPSS s = (HPSS)0x1;
	char c;

	REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
	old = fork();
	REQUIRE(old >= 0, "fork");
	if (old == 0)
		_exit(0);
	h = open_process(old);
	waitpid(old, NULL, 0);
	/* the pid again: clone3 set_tid (root), else fork until it comes round */
	now = clone_with_pid(old);
	if (now < 0) {
		diag("clone3 set_tid: %s; forking until pid %d repeats", strerror(errno), old);
		for (int i = 0; i < 50000; i++) {
			now = fork();
			if (now == 0) {
				if (getpid() != old)
					_exit(0);
				break;
			}
			if (now < 0)
				break;
			if (now == old)
				break;
			waitpid(now, NULL, 0);
			now = -1;
		}
	}
	if (now == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	if (now != old) {
		CloseHandle(h);
		SKIP("pid %d did not come round again", old);
	}
	close(p[0]);
	wait_thread_syscall(now, now, 0, 5000);
	CHECK_ERR(PssCaptureSnapshot(h, PSS_CAPTURE_NONE, 0, &s), ERROR_INVALID_HANDLE);
	CHECK_ERR(PssCaptureSnapshot(h, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, CONTEXT_ALL, &s),
		  ERROR_INVALID_HANDLE);
	CHECK(s == NULL, "SnapshotHandle set after a failure");
	CHECK_EQ_U64(GetProcessId(h), 0);
	CHECK_EQ_INT(proc_tracer_pid(now), 0);
	CHECK(proc_state(now) == 'S', "new process state %c", proc_state(now));
	CloseHandle(h);
	close(p[1]);
	{
		int st = 0;

		CHECK(waitpid(now, &st, 0) == now && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "new process ended with status %#x", st);
	}
	/* and CloseHandle on a bad handle */
	CHECK(!CloseHandle((HANDLE)(intptr_t)9999), "CloseHandle(9999) succeeded");
	CHECK_EQ_U64(GetLastError(), ERROR_INVALID_HANDLE);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
