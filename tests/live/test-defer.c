// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Deferred threads: with 256 threads or more, a capture that stops the
 * target leaves out of the pause the threads that sit blocked in a system
 * call and have not run since the thread list was read, and reads each of
 * them afterwards (after the VA clone is made), keeping it only if it
 * still has not run; if one has, the whole stop is made again with every
 * thread in the pause.
 *
 * The victim (defer-victim) blocks its threads in raw system calls with
 * every register chosen: rbx, rbp, r12-r15, r8 and r9 hold values that
 * name the thread's index, the argument registers and the stack pointer
 * sit in the thread's slot in memory, and the pc is the instruction after
 * the victim's one syscall instruction.  So each thread's captured
 * registers can be compared, exactly, with what it holds, and with the
 * memory of the snapshot's clone (the slot table, read through
 * VaCloneHandle, maps each tid to its index).
 *
 * Fault point: PSS_FAULT=before-deferred:pause holds the capture after the
 * pause (threads of the pause released, clone made) and before any
 * deferred thread is touched.
 */
#include "harness.h"
#include "../targets/defer-victim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#define DEFER_FLAGS (PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | PSS_CAPTURE_VA_CLONE)
#define MANY_SLEEPERS 300
#define FEW_SLEEPERS 10
#define MAX_TIDS 1024

struct dv {
	struct target t;
	uint64_t table;		/* address of the slot table in the victim */
	uint64_t pc;		/* dv_call_ret: the pc of every blocked slot thread */
	int nslots;		/* sleepers, then the reader if any */
	int reader_idx;		/* -1: none */
	long sleeper_nr;	/* SYS_futex, or SYS_epoll_pwait for pwaiters */
	pid_t reader_tid;
	int reader_wfd;		/* the write end of its pipe, in the victim */
};

/* ---- the victim ---- */

/* Every thread of the victim blocked where it should be: the leader in
 * read(0), the reader in read(), every other thread in futex(). */
static void dv_wait_blocked(struct dv *v)
{
	pid_t tids[MAX_TIDS];
	int n = thread_ids(v->t.pid, tids, MAX_TIDS);

	REQUIRE(n == v->nslots + 1, "victim has %d threads, want %d", n, v->nslots + 1);
	for (int i = 0; i < n; i++) {
		long nr = tids[i] == v->t.pid ? SYS_read : tids[i] == v->reader_tid ? SYS_read :
			  v->sleeper_nr;

		REQUIRE(wait_thread_syscall(v->t.pid, tids[i], nr, 5000) == 0,
			"thread %d not blocked in syscall %ld (now %ld)", tids[i], nr,
			thread_syscall(v->t.pid, tids[i]));
	}
}

/* Start defer-victim with @sleepers futex threads and, with @reader, the
 * pipe reader; wait until every thread is blocked. */
static void dv_start_as(struct dv *v, int sleepers, bool reader, bool pwait)
{
	char r[512];
	int e;

	memset(v, 0, sizeof(*v));
	v->reader_idx = -1;
	v->sleeper_nr = pwait ? SYS_epoll_pwait : SYS_futex;
	e = target_start(&v->t, "defer-victim", NULL);
	REQUIRE(e == 0, "cannot start defer-victim: %s", strerror(-e));
	target_cmdf(&v->t, r, sizeof(r), "%s %d", pwait ? "pwaiters" : "sleepers", sleepers);
	if (reply_get(r, "err", -1) == EAGAIN)
		SKIP("the kernel refuses %d threads: %s", sleepers, r);
	REQUIRE(reply_get(r, "err", -1) == 0 && reply_get(r, "n", -1) == sleepers, "victim: %s", r);
	REQUIRE(reply_get(r, "stride", 0) == (long long)sizeof(struct dv_call), "slot size: %s", r);
	v->table = (uint64_t)reply_get(r, "table", 0);
	v->pc = (uint64_t)reply_get(r, "pc", 0);
	REQUIRE(v->table && v->pc, "victim: %s", r);
	v->nslots = sleepers;
	if (reader) {
		target_cmdf(&v->t, r, sizeof(r), "reader");
		v->reader_idx = (int)reply_get(r, "n", -1);
		v->reader_tid = (pid_t)reply_get(r, "tid", -1);
		v->reader_wfd = (int)reply_get(r, "wfd", -1);
		REQUIRE(v->reader_idx == sleepers && v->reader_tid > 0 && v->reader_wfd >= 0,
			"victim: %s", r);
		v->nslots++;
	}
	victim_idle(&v->t);
	dv_wait_blocked(v);
}

static void dv_start(struct dv *v, int sleepers, bool reader)
{
	dv_start_as(v, sleepers, reader, false);
}

/* Threads of @pid with a tracer, in a ptrace stop or in a group stop. */
static int threads_traced_or_stopped(pid_t pid)
{
	pid_t tids[MAX_TIDS];
	int n = thread_ids(pid, tids, MAX_TIDS), bad = 0;

	for (int i = 0; i < n && i < MAX_TIDS; i++) {
		char st = thread_state(pid, tids[i]);

		if (thread_tracer_pid(pid, tids[i]) != 0 || st == 't' || st == 'T')
			bad++;
	}
	return bad;
}

/*
 * The victim after the capture (and after the snapshot is freed): it
 * answers, no dv_call ever returned to C (no EINTR, no spurious wake-up),
 * every thread is back in its call, untraced, not stopped, and no clone
 * (nor its corpse) is left under it.
 */
static void dv_check_unharmed(struct dv *v)
{
	char r[256];
	int clones = -1;

	CHECK(target_cmd(&v->t, "ping", r, sizeof(r)) > 0 && !strncmp(r, "pong", 4),
	      "victim does not answer: %s", r);
	target_cmdf(&v->t, r, sizeof(r), "returns");
	CHECK_EQ_INT(reply_get(r, "n", -1), 0);
	victim_idle(&v->t);
	dv_wait_blocked(v);
	CHECK_EQ_INT(threads_traced_or_stopped(v->t.pid), 0);
	CHECK_EQ_INT(proc_tracer_pid(v->t.pid), 0);
	for (int i = 0; i < 200; i++) {
		clones = clone_procs_under(v->t.pid, true);
		if (clones == 0)
			break;
		msleep(10);
	}
	CHECK_EQ_INT(clones, 0);
	CHECK(proc_state(v->t.pid) != 'Z' && proc_state(v->t.pid) != 0, "victim died");
}

/* ---- the snapshot ---- */

static bool rpm(HANDLE h, uint64_t addr, void *buf, size_t len)
{
	SIZE_T got = 0;

	return ReadProcessMemory(h, (LPCVOID)(uintptr_t)addr, buf, len, &got) && got == len;
}

/* One register compared; the first few mismatches are shown. */
static void reg_eq(int *bad, pid_t tid, const char *name, uint64_t got, uint64_t want)
{
	if (got == want)
		return;
	if ((*bad)++ < 12)
		diag("thread %d: %s = %#" PRIx64 ", want %#" PRIx64, tid, name, got, want);
}

/*
 * dv_check_snapshot() - every slot thread's registers, read by
 * pss_linux_query_thread and in its CONTEXT record, are exactly what it
 * holds: the magic values of its index (the reader: r12 = its counter in
 * the clone's memory), the call's number and arguments, the pc after the
 * syscall instruction and the stack pointer the slot recorded.  Every
 * thread of the victim is walked once, with a context.  Return the
 * reader's slot as the clone has it (zeroed if none).
 */
static struct dv_call dv_check_snapshot(struct dv *v, HPSS s)
{
	struct dv_call *slots, reader = { 0 };
	PSS_THREAD_INFORMATION ti;
	pid_t cpid = 0, tids[MAX_TIDS];
	int ntids = thread_ids(v->t.pid, tids, MAX_TIDS), bad = 0, noctx = 0;
	char *seen;
	struct walk w;
	HANDLE h;

	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)));
	CHECK_EQ_U64(ti.ThreadsCaptured, v->nslots + 1);
	h = query_va_clone(s, &cpid);
	REQUIRE(h && cpid > 0, "no VA clone in the snapshot");
	CHECK_EQ_INT(clone_procs_under(v->t.pid, false), 1);

	slots = calloc((size_t)v->nslots, sizeof(*slots));
	seen = calloc(MAX_TIDS, 1);
	REQUIRE(slots && seen, "out of memory");
	REQUIRE(rpm(h, v->table, slots, (size_t)v->nslots * sizeof(*slots)),
		"ReadProcessMemory(clone, slot table): %s", err_name(GetLastError()));

	for (int i = 0; i < v->nslots; i++) {
		struct pss_linux_thread_info li = { .sz = sizeof(li) };
		const struct dv_call *c = &slots[i];
		const struct pss_linux_regs *g = &li.regs;
		pid_t tid = (pid_t)c->tid;
		bool is_reader = i == v->reader_idx;
		DWORD e;

		if (c->idx != (uint64_t)i || tid <= 0) {
			if (bad++ < 12)
				diag("slot %d in the clone: index %" PRIu64 ", tid %d", i, c->idx, tid);
			continue;
		}
		e = pss_linux_query_thread(s, tid, &li);
		if (e || !li.have_regs) {
			if (bad++ < 12)
				diag("thread %d (slot %d): query %s, have_regs %d", tid, i, err_name(e),
				     li.have_regs);
			continue;
		}
		reg_eq(&bad, tid, "rbx", g->rbx, dv_magic((uint64_t)i, 0));
		reg_eq(&bad, tid, "rbp", g->rbp, dv_magic((uint64_t)i, 1));
		reg_eq(&bad, tid, "r12", g->r12, is_reader ? c->val : dv_magic((uint64_t)i, 2));
		reg_eq(&bad, tid, "r13", g->r13, dv_magic((uint64_t)i, 3));
		reg_eq(&bad, tid, "r14", g->r14, dv_magic((uint64_t)i, 4));
		reg_eq(&bad, tid, "r15", g->r15, dv_magic((uint64_t)i, 5));
		reg_eq(&bad, tid, "r8", g->r8,
		       v->sleeper_nr == SYS_futex || is_reader ? dv_magic((uint64_t)i, 6) : c->a[4]);
		reg_eq(&bad, tid, "r9", g->r9,
		       v->sleeper_nr == SYS_futex || is_reader ? dv_magic((uint64_t)i, 7) : c->a[5]);
		reg_eq(&bad, tid, "orig_rax", g->orig_rax,
		       is_reader ? SYS_read : (uint64_t)v->sleeper_nr);
		reg_eq(&bad, tid, "orig_rax (slot)", g->orig_rax, c->nr);
		reg_eq(&bad, tid, "rdi", g->rdi, c->a[0]);
		reg_eq(&bad, tid, "rsi", g->rsi, c->a[1]);
		reg_eq(&bad, tid, "rdx", g->rdx, c->a[2]);
		reg_eq(&bad, tid, "r10", g->r10, c->a[3]);
		reg_eq(&bad, tid, "rip", g->rip, v->pc);
		reg_eq(&bad, tid, "rsp", g->rsp, c->sp);
		if (is_reader)
			reader = *c;
	}
	CHECK_EQ_INT(bad, 0);

	/* the CONTEXT records say the same, and every thread has one */
	REQUIRE_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	CHECK_EQ_U64(w.count, ntids);
	bad = 0;
	for (size_t k = 0; k < w.count; k++) {
		const PSS_THREAD_ENTRY *x = WALK_ITEM(&w, PSS_THREAD_ENTRY, k);
		struct pss_linux_thread_info li = { .sz = sizeof(li) };
		const CONTEXT *c = x->ContextRecord;
		pid_t tid = (pid_t)x->ThreadId;
		int at = -1;

		for (int i = 0; i < ntids; i++)
			if (tids[i] == tid)
				at = i;
		if (at < 0 || seen[at]++) {
			if (bad++ < 12)
				diag("walked thread %d: not in the victim, or walked twice", tid);
			continue;
		}
		if (!c) {
			noctx++;
			continue;
		}
		if (pss_linux_query_thread(s, tid, &li) || !li.have_regs) {
			if (bad++ < 12)
				diag("walked thread %d has no registers in pss_linux_query_thread", tid);
			continue;
		}
		reg_eq(&bad, tid, "Rbx", c->Rbx, li.regs.rbx);
		reg_eq(&bad, tid, "Rbp", c->Rbp, li.regs.rbp);
		reg_eq(&bad, tid, "R12", c->R12, li.regs.r12);
		reg_eq(&bad, tid, "R13", c->R13, li.regs.r13);
		reg_eq(&bad, tid, "R14", c->R14, li.regs.r14);
		reg_eq(&bad, tid, "R15", c->R15, li.regs.r15);
		reg_eq(&bad, tid, "R8", c->R8, li.regs.r8);
		reg_eq(&bad, tid, "R9", c->R9, li.regs.r9);
		reg_eq(&bad, tid, "Rsp", c->Rsp, li.regs.rsp);
		reg_eq(&bad, tid, "Rip", c->Rip, li.regs.rip);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(noctx, 0);
	walk_release(&w);
	free(seen);
	free(slots);
	return reader;
}

/*
 * The library's word on why a stop was made again ("thread N, left out of
 * the pause, ..."), kept for a diag line.  The callback may run on the
 * tracer: it only copies.
 */
static char redo_why[256];

static void log_keep(void *ctx, enum pss_linux_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	if (strstr(msg, "left out of the pause") && !redo_why[0]) {
		size_t n = strlen(msg);

		n = n < sizeof(redo_why) - 1 ? n : sizeof(redo_why) - 1;
		memcpy(redo_why, msg, n);
		redo_why[n] = 0;
	}
}

static struct pss_linux_process_info query_process(HPSS s)
{
	struct pss_linux_process_info li = { .sz = sizeof(li) };

	REQUIRE_OK(pss_linux_query_process(s, &li));
	diag("%u threads, %u deferred, %u stop attempt(s), pause %.2f ms", li.num_threads,
	     li.deferred_threads, li.stop_attempts, li.pause_ns / 1e6);
	if (redo_why[0])
		diag("library: %s", redo_why);
	redo_why[0] = 0;
	return li;
}

/* ---- a capture held at a fault point ---- */

struct bg {
	pid_t pid;
	pthread_t th;
	DWORD result;
	HPSS snap;
	char why[256];
	atomic_int done;
};

static void *bg_capture(void *arg)
{
	struct bg *b = arg;

	b->result = capture_pid(b->pid, DEFER_FLAGS, CONTEXT_ALL, &b->snap);
	snprintf(b->why, sizeof(b->why), "%s", b->result ? capture_error_text() : "");
	atomic_store(&b->done, 1);
	return NULL;
}

static void bg_start(struct bg *b, pid_t pid, const char *fault)
{
	memset(b, 0, sizeof(*b));
	b->pid = pid;
	fault_arm(fault);
	REQUIRE(pthread_create(&b->th, NULL, bg_capture, b) == 0, "pthread_create");
}

/* Release the capture and wait for it; the snapshot stays in b->snap. */
static DWORD bg_finish(struct bg *b)
{
	fault_release();
	pthread_join(b->th, NULL);
	fault_disarm();
	if (b->result)
		diag("held capture returned %s: %s", err_name(b->result), b->why);
	return b->result;
}

static void bg_abort(struct bg *b, const char *what)
{
	bg_finish(b);
	if (b->snap)
		free_snap(b->snap);
	REQUIRE(0, "%s", what);
}

/*
 * held_before_deferred() - true once the capture of @pid is held at
 * before-deferred: its clone exists and no thread is traced any more
 * (the pause is over; the deferred threads are not touched yet), while
 * the capture has not returned.
 */
static bool held_before_deferred(struct bg *b, pid_t pid, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (atomic_load(&b->done))
			return false;
		if (clone_procs_under(pid, false) >= 1 && threads_traced_or_stopped(pid) == 0)
			return !atomic_load(&b->done);
		msleep(1);
	}
	return false;
}

/* ---- the tests ---- */

/* One capture of @v, checked exactly; the snapshot's stop record. */
static struct pss_linux_process_info dv_capture_checked(struct dv *v)
{
	struct pss_linux_process_info li;
	HPSS s = capture_ok(v->t.pid, DEFER_FLAGS, CONTEXT_ALL);

	li = query_process(s);
	dv_check_snapshot(v, s);
	free_snap(s);
	return li;
}

/*
 * Proves: with 301 threads blocked (300 in a raw futex wait, the command
 * loop in read), most are read after the pause (deferred_threads >= 250)
 * in one stop attempt, and every thread's registers are exactly those it
 * holds: rbx, rbp, r12-r15, r8, r9 naming its index, orig_rax = futex,
 * the arguments and rsp its slot in the clone's memory records, the pc
 * after its syscall instruction.  The victim never sees its calls return,
 * and is left untraced, not stopped, without a clone.
 */
TEST(deferred_contexts_exact)
{
	struct pss_linux_process_info li;
	struct dv v;

	REQUIRE_PTRACE();
	dv_start(&v, MANY_SLEEPERS, false);
	li = dv_capture_checked(&v);
	CHECK_EQ_INT(li.num_threads, MANY_SLEEPERS + 1);
	CHECK_GE_U64(li.deferred_threads, 250);
	CHECK_LE_U64(li.deferred_threads, MANY_SLEEPERS + 1);
	CHECK_EQ_INT(li.stop_attempts, 1);
	CHECK(li.pause_ns > 0, "pause_ns is 0 for a capture that stopped the target");
	dv_check_unharmed(&v);
	target_kill(&v.t);
}

/*
 * Proves: a deferred thread that runs between the pause and its own read
 * makes the capture start over.  The capture is held at before-deferred;
 * then the reader thread (blocked in read() on a pipe, deferred) gets a
 * byte: it counts it (counter 1000 -> 1001 in memory) and blocks in the
 * same read() again, at the same pc, sp and arguments, with r12 = the new
 * counter.  Only the kernel's run count can tell.  Released, the capture
 * succeeds with stop_attempts 2 and nothing deferred, every context is
 * exact, and the reader's r12 equals the counter in the clone's memory
 * (1001): registers and memory are of one instant.  One clone is left
 * while the snapshot lives, none after.
 */
TEST(deferred_thread_that_runs_is_redone)
{
	struct pss_linux_process_info li;
	struct dv_call reader;
	struct dv v;
	struct bg b;
	char path[64], r[256];
	int fd;

	REQUIRE_PTRACE();
	dv_start(&v, MANY_SLEEPERS, true);
	bg_start(&b, v.t.pid, "before-deferred:pause");
	if (!held_before_deferred(&b, v.t.pid, 10000))
		bg_abort(&b, "the capture was never held at before-deferred (PSS_FAULT hook not reached)");
	/* still held a moment later: this is the fault point, not the end */
	msleep(100);
	if (atomic_load(&b.done) || threads_traced_or_stopped(v.t.pid))
		bg_abort(&b, "the capture went on without the release file (not held at before-deferred)");

	/* wake the reader alone: a byte into its pipe, through /proc */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", v.t.pid, v.reader_wfd);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		bg_abort(&b, "cannot open the reader's pipe through /proc");
	if (write(fd, "x", 1) != 1) {
		close(fd);
		bg_abort(&b, "cannot write to the reader's pipe");
	}
	close(fd);
	if (target_readline(&v.t, r, sizeof(r), 5000) <= 0 || reply_get(r, "n", -1) != DV_READER_START + 1)
		bg_abort(&b, "the reader did not count the byte");
	if (wait_thread_syscall(v.t.pid, v.reader_tid, SYS_read, 5000))
		bg_abort(&b, "the reader is not back in read()");
	CHECK(!atomic_load(&b.done), "the capture returned before its release");

	REQUIRE_ERR(bg_finish(&b), ERROR_SUCCESS);
	REQUIRE(b.snap, "no snapshot");
	li = query_process(b.snap);
	CHECK_EQ_INT(li.stop_attempts, 2);
	CHECK_EQ_INT(li.deferred_threads, 0);
	CHECK_EQ_INT(li.num_threads, MANY_SLEEPERS + 2);
	reader = dv_check_snapshot(&v, b.snap);
	CHECK_EQ_INT(reader.val, DV_READER_START + 1);
	free_snap(b.snap);
	dv_check_unharmed(&v);
	target_kill(&v.t);
}

/*
 * Proves: below 256 threads nothing is deferred: 11 blocked threads are
 * all stopped in the pause (deferred_threads 0, stop_attempts 1) and their
 * contexts are exact; the victim is unharmed.
 */
TEST(fewer_threads_not_deferred)
{
	struct pss_linux_process_info li;
	struct dv v;

	REQUIRE_PTRACE();
	dv_start(&v, FEW_SLEEPERS, false);
	li = dv_capture_checked(&v);
	CHECK_EQ_INT(li.num_threads, FEW_SLEEPERS + 1);
	CHECK_EQ_INT(li.deferred_threads, 0);
	CHECK_EQ_INT(li.stop_attempts, 1);
	dv_check_unharmed(&v);
	target_kill(&v.t);
}

/*
 * Proves: threads blocked in epoll_pwait (a call with a temporary signal
 * mask, which a ptrace interrupt makes return EINTR unless the tracer
 * repairs it) are deferred too, read exactly (r8 the mask pointer, r9 its
 * size), and none of them sees its call return, not even after several
 * captures; the leader, blocked in read, is the one kept in the pause.
 */
TEST(deferred_pwait_threads)
{
	struct pss_linux_process_info li;
	char r[64];
	struct dv v;

	REQUIRE_PTRACE();
	dv_start_as(&v, MANY_SLEEPERS, false, true);
	for (int round = 0; round < 3; round++) {
		li = dv_capture_checked(&v);
		CHECK(li.deferred_threads >= 250, "round %d: %u deferred", round, li.deferred_threads);
		CHECK_EQ_INT(li.stop_attempts, 1);
	}
	target_cmdf(&v.t, r, sizeof(r), "returns");
	CHECK_EQ_INT(reply_get(r, "n", -1), 0);
	dv_check_unharmed(&v);
	target_kill(&v.t);
}

/*
 * Proves: PSS_LINUX_CAPTURE_STOP_ALL keeps every thread in the pause (none
 * deferred, one attempt) with the same exact registers, and an unknown
 * pss_linux_options flag is refused before the target is touched.
 */
TEST(stop_all_option)
{
	struct pss_linux_options o = { .sz = sizeof(o), .flags = PSS_LINUX_CAPTURE_STOP_ALL };
	struct pss_linux_process_info li;
	HANDLE h;
	HPSS s = NULL;
	struct dv v;

	REQUIRE_PTRACE();
	dv_start(&v, MANY_SLEEPERS, false);
	REQUIRE(pss_linux_open_pid(v.t.pid, &h) == ERROR_SUCCESS, "open pid %d", (int)v.t.pid);
	CHECK_EQ_INT(pss_linux_capture(h, DEFER_FLAGS, CONTEXT_ALL, &o, &s), ERROR_SUCCESS);
	REQUIRE(s, "no snapshot");
	li = query_process(s);
	CHECK_EQ_INT(li.deferred_threads, 0);
	CHECK_EQ_INT(li.stop_attempts, 1);
	CHECK(li.pause_ns > 0, "pause_ns 0");
	dv_check_snapshot(&v, s);
	free_snap(s);

	s = NULL;
	o.flags = 0x80;
	CHECK_EQ_INT(pss_linux_capture(h, DEFER_FLAGS, CONTEXT_ALL, &o, &s),
		     ERROR_INVALID_PARAMETER);
	CHECK(!s, "a snapshot for a refused call");
	CHECK_EQ_INT(threads_traced_or_stopped(v.t.pid), 0);
	CloseHandle(h);
	dv_check_unharmed(&v);
	target_kill(&v.t);
}

int main(int argc, char **argv)
{
	pss_linux_set_log(log_keep, NULL, PSS_LINUX_LOG_DEBUG);
	return harness_main(argc, argv);
}
