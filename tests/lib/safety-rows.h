/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fault-matrix rows that hold with and without the VA clone, written
 * once: test-safety.c includes this with SAFETY_VA_CLONE 0 (captures with
 * THREAD_CONTEXT only), test-clone-safety.c with SAFETY_VA_CLONE 1 (the
 * same captures with PSS_CAPTURE_VA_CLONE added).  Rows 1-7, 11, 12, 13,
 * 14, 16, 17, 20, 22, 23 and 27 are here; each file keeps the rows only its
 * mode has.
 *
 * With the clone the blocker rows start the victim with --ppoll (its
 * command loop must not be injected into) and each capture is held a
 * moment at the after-setregs fault point to see which thread holds the
 * injected registers: it must be the one blocked in the row's syscall.
 * Every row with the clone also checks that no clone process is left.
 *
 * Fault points: PSS_FAULT=STEP:pause holds the capture at STEP until the
 * release file exists (fault_arm/fault_release in the harness).
 */
#ifndef PSS_TESTS_SAFETY_ROWS_H
#define PSS_TESTS_SAFETY_ROWS_H

#ifndef SAFETY_VA_CLONE
#error "define SAFETY_VA_CLONE (0 or 1) before including safety-rows.h"
#endif

#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#if SAFETY_VA_CLONE
#define CTX_FLAGS (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)
/* the children's threads block in read(): a call the clone can inject into */
#define CHILD_WAIT " read"
#else
#define CTX_FLAGS (PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)
#define CHILD_WAIT ""
#endif

static const bool va_clone = SAFETY_VA_CLONE;

/* The victim answers sanely, its command loop never saw EINTR, nobody
 * traces it, no thread is left in a stop and (clone) no clone is left
 * under it. */
static void check_victim_fine(struct target *t)
{
	char r[256];

	REQUIRE(target_cmd(t, "sigcount", r, sizeof(r)) > 0, "victim does not answer");
	CHECK_EQ_INT(reply_get(r, "stdin_eintr", -1), 0);
	if (t->idle_nr == SYS_ppoll)
		CHECK_EQ_INT(reply_get(r, "ppoll_eintr", -1), 0);
	CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	CHECK(no_thread_traced(t->pid), "a thread is still traced or in a ptrace stop");
	CHECK(proc_state(t->pid) != 'T', "victim left stopped");
	if (va_clone)
		CHECK_EQ_INT(clone_procs_under(t->pid, true), 0);
}

/* True once every thread of @pid is in state @st (within @ms). */
static bool all_threads_in(pid_t pid, char st, int ms)
{
	for (int i = 0; i < ms / 2; i++) {
		pid_t tids[64];
		int n = thread_ids(pid, tids, 64), ok = n > 0;

		for (int k = 0; k < n && k < 64; k++)
			if (thread_state(pid, tids[k]) != st)
				ok = 0;
		if (ok)
			return true;
		msleep(2);
	}
	return false;
}

/* ---- held captures ---- */

struct bg {
	pid_t pid;
	pthread_t th;
	DWORD result;
	HPSS snap;
	pid_t clone;
	char why[256];		/* the capturing thread's error text */
	atomic_int done;
};

static void *bg_capture(void *arg)
{
	struct bg *b = arg;

	b->result = capture_pid(b->pid, CTX_FLAGS, CONTEXT_ALL, &b->snap);
	snprintf(b->why, sizeof(b->why), "%s", capture_error_text());
	if (b->snap && va_clone)
		query_va_clone(b->snap, &b->clone);
	atomic_store(&b->done, 1);
	return NULL;
}

/* Start a capture of @pid in the background, held at fault point @step. */
static void held_start(struct bg *b, pid_t pid, const char *step)
{
	char spec[64];

	memset(b, 0, sizeof(*b));
	b->pid = pid;
	snprintf(spec, sizeof(spec), "%s:pause", step);
	fault_arm(spec);
	REQUIRE(pthread_create(&b->th, NULL, bg_capture, b) == 0, "pthread_create");
}

/* Release the held capture, free its snapshot (if any), return its code. */
static DWORD held_finish(struct bg *b, bool quiet)
{
	fault_release();
	pthread_join(b->th, NULL);
	fault_disarm();
	if (!quiet || b->result)
		diag("held capture returned %s%s%s", err_name(b->result), b->result ? ": " : "", b->why);
	if (b->snap)
		free_snap(b->snap);
	return b->result;
}

/* Give up on a held capture that never reached its point. */
static void held_abort(struct bg *b, const char *what)
{
	held_finish(b, false);
	REQUIRE(0, "%s", what);
}

/* held_stopped() - a capture of @pid held at after-interrupt, REQUIRED to
 * have every thread of @pid in ptrace stop. */
static void held_stopped(struct bg *b, pid_t pid)
{
	held_start(b, pid, "after-interrupt");
	if (!all_threads_in(pid, 't', 10000))
		held_abort(b, "the capture never held the target in ptrace stop (PSS_FAULT hook not honoured?)");
}

/*
 * capture_inject() - one clone capture of @pid, held for a moment at
 * after-setregs to see which thread holds the injected registers (its pc
 * in the vDSO, where the injection's syscall instruction is).  Return that
 * thread (0 if none was seen); the capture must succeed with a clone.
 */
static pid_t capture_inject(pid_t pid)
{
	struct bg b;
	pid_t tid;

	held_start(&b, pid, "after-setregs");
	tid = wait_pc_in_vdso(pid, 10000);
	fault_release();
	pthread_join(b.th, NULL);
	fault_disarm();
	CHECK(b.result == ERROR_SUCCESS && b.clone > 0, "clone capture: %s (%s)", err_name(b.result), b.why);
	if (b.snap)
		free_snap(b.snap);
	return tid;
}

/* @n captures of @pid.  Without the clone each must succeed; with it, each
 * must inject into one of @want[0..nwant) (any thread if nwant is 0). */
static void captures(pid_t pid, int n, const pid_t *want, int nwant)
{
	for (int i = 0; i < n; i++) {
		pid_t tid;
		bool ok = nwant == 0;

		if (!va_clone) {
			free_snap(capture_ok(pid, CTX_FLAGS, CONTEXT_ALL));
			continue;
		}
		tid = capture_inject(pid);
		for (int k = 0; k < nwant; k++)
			ok |= tid == want[k];
		CHECK(ok, "capture %d injected into thread %d, not the blocked one (%d)", i, tid,
		      nwant ? want[0] : 0);
	}
}

/* ---- rows 1-7: blocked calls complete as if nothing happened ---- */

/*
 * block_then_result() - the victim blocks a thread in @kind; after
 * @delay_ms three captures run (with the clone each injected into that
 * thread or a futex waiter); the blocked call must not have returned; then
 * the awaited event happens and the call's outcome is left in @res.
 */
static void block_then_result(struct target *t, const char *kind, unsigned ms, unsigned delay_ms,
			      char *res, size_t len)
{
	char r[256];
	pid_t want[4];
	int nwant = 0;
	long nr;

	if (va_clone) {
		start_victim_ppoll(t);
	} else {
		start_victim(t);
		target_cmdf(t, r, sizeof(r), "threads 2");
	}
	target_cmdf(t, r, sizeof(r), "block %s %u", kind, ms);
	want[nwant++] = (pid_t)reply_get(r, "tid", -1);
	nr = reply_get(r, "nr", -1);
	REQUIRE(want[0] > 0 && nr >= 0, "victim: %s", r);
	REQUIRE(wait_thread_syscall(t->pid, want[0], nr, 5000) == 0, "%s thread %d never blocked in syscall %ld",
		kind, want[0], nr);
	for (int i = 1; i <= 3; i++) {
		long w = reply_get(r, i == 1 ? "tid1" : i == 2 ? "tid2" : "tid3", 0);

		if (w) {
			REQUIRE(wait_thread_syscall(t->pid, (pid_t)w, nr, 5000) == 0, "waiter %ld not blocked", w);
			want[nwant++] = (pid_t)w;
		}
	}
	victim_idle(t);
	if (delay_ms)
		msleep(delay_ms);
	captures(t->pid, 3, want, nwant);
	if (!delay_ms) {
		target_cmdf(t, r, sizeof(r), "done %s", kind);
		CHECK_EQ_INT(reply_get(r, "done", -1), 0);
		CHECK_EQ_INT(reply_get(r, "early", 0), 0);
	}
	target_cmdf(t, res, len, "result %s", kind);
	diag("%s: %s", kind, res);
	REQUIRE(strncmp(res, "error", 5), "%s", res);
	check_victim_fine(t);
}

/* row_result() - REQUIRE ptrace, run block_then_result() on a victim that
 * lives until the test ends; return the blocked call's outcome. */
static const char *row_result(const char *kind, unsigned ms, unsigned delay_ms)
{
	static struct target t;
	static char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, kind, ms, delay_ms, r, sizeof(r));
	return r;
}

/* Proves (row 1): read() on a pipe gets the byte written after the
 * captures, no EINTR. */
TEST(row01_read_no_eintr)
{
	const char *r = row_result("read", 0, 0);

	CHECK_EQ_INT(reply_get(r, "ret", 0), 1);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK_EQ_INT(reply_get(r, "x0", 0), 'x');
}

/* Proves (row 2): clock_nanosleep(3 s) captured at 1.5 s returns 0 after at
 * least 3 s and well before a restarted full sleep would (4.5 s). */
TEST(row02_nanosleep_keeps_deadline)
{
	const char *r = row_result("nanosleep", 3000, 1500);
	long ms = reply_get(r, "elapsed_ms", -1);

	CHECK_EQ_INT(reply_get(r, "ret", -1), 0);
	CHECK(ms >= 3000, "slept only %ld ms of 3000", ms);
	CHECK(ms < 4400, "slept %ld ms: the sleep restarted with its full length", ms);
}

/* Proves (row 3): poll(NULL, 0, 3000) captured at 1.5 s returns 0 after its
 * timeout, never EINTR, not far beyond it. */
TEST(row03_poll_timeout)
{
	const char *r = row_result("poll", 3000, 1500);
	long ms = reply_get(r, "elapsed_ms", -1);

	CHECK_EQ_INT(reply_get(r, "ret", -1), 0);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK(ms >= 2990 && ms < 4400, "poll returned after %ld ms of 3000", ms);
}

/* Proves (row 4): futex waiters on a held mutex never acquire it early and
 * all acquire it once it is released. */
TEST(row04_futex_no_early_acquire)
{
	const char *r = row_result("futex", 0, 0);

	CHECK_EQ_INT(reply_get(r, "early", -1), 0);
	CHECK_EQ_INT(reply_get(r, "acquired", -1), 4);
}

/* Proves (row 5): epoll_wait(-1) sees no EINTR and returns the event added
 * after the captures exactly once. */
TEST(row05_epoll_wait_no_eintr)
{
	const char *r = row_result("epoll", 0, 0);

	CHECK_EQ_INT(reply_get(r, "ret", 0), 1);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK_EQ_HEX(reply_get(r, "x0", 0), 0x1234);
}

/* Proves (row 6): rt_sigtimedwait sees no EINTR and receives the SIGUSR2
 * sent after the captures once, with its payload, none left pending. */
TEST(row06_sigtimedwait_no_eintr)
{
	const char *r = row_result("sigtimedwait", 0, 0);

	CHECK_EQ_INT(reply_get(r, "ret", 0), SIGUSR2);
	CHECK_EQ_INT(reply_get(r, "x0", 0), 4242);
	CHECK_EQ_INT(reply_get(r, "usr2_pending", -1), 0);
}

/* Proves (row 7): accept() restarts transparently and accepts the later
 * connection. */
TEST(row07_accept_restarts)
{
	const char *r = row_result("accept", 0, 0);

	CHECK(reply_get(r, "ret", -1) >= 0, "accept: %s", r);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
}

/* Proves (row 7): wait4() restarts transparently, reaps the child's exit 7
 * and (clone) never returns the clone. */
TEST(row07_wait4_restarts)
{
	const char *r = row_result("wait4", 0, 0);
	int st = (int)reply_get(r, "x0", 0);

	CHECK(reply_get(r, "ret", -1) > 0, "wait4: %s", r);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child status %#x", st);
}

/* Proves (row 7): pause() is not ended by the captures; the later SIGUSR1
 * ends it once, with one handler run (EINTR is pause's only return). */
TEST(row07_pause_restarts)
{
	const char *r = row_result("pause", 0, 0);

	CHECK_EQ_INT(reply_get(r, "ret", 0), -1);
	CHECK_EQ_INT(reply_get(r, "errno", 0), EINTR);
	CHECK_EQ_INT(reply_get(r, "handled", -1), 1);
}

/* ---- rows 11, 12: signals ---- */

struct sent {
	int signo, value;
	bool seen;
};

/* Proves (row 11): blocked RT signals queued process-wide and to one thread
 * stay pending through captures with identical masks (a clone takes none
 * of them), then arrive exactly once each with their siginfo (SI_QUEUE,
 * our pid, the payload). */
TEST(row11_pending_rt_signals_exactly_once)
{
	struct target t;
	char r[4096], *p;
	struct sent sent[5];
	pid_t tids[16];
	uint64_t blk[16], pnd[16], shd;
	int nt, n = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	victim_idle(&t);
	for (int i = 0; i < 5; i++) {
		siginfo_t si = { 0 };
		int sig = i < 3 ? SIGRTMIN : SIGRTMIN + 1;

		si.si_signo = sig;
		si.si_code = SI_QUEUE;
		si.si_pid = getpid();
		si.si_uid = getuid();
		si.si_value.sival_int = (i < 3 ? 1000 : 2000) + i;
		if (i < 3)
			REQUIRE(syscall(SYS_rt_sigqueueinfo, t.pid, sig, &si) == 0, "rt_sigqueueinfo: %s",
				strerror(errno));
		else
			REQUIRE(syscall(SYS_rt_tgsigqueueinfo, t.pid, t.pid, sig, &si) == 0,
				"rt_tgsigqueueinfo: %s", strerror(errno));
		sent[n++] = (struct sent){ sig, si.si_value.sival_int, false };
	}
	nt = thread_ids(t.pid, tids, 16);
	for (int i = 0; i < nt; i++) {
		blk[i] = status_hex(t.pid, tids[i], "SigBlk");
		pnd[i] = status_hex(t.pid, tids[i], "SigPnd");
	}
	shd = status_hex(t.pid, 0, "ShdPnd");
	CHECK(shd & (1ull << (SIGRTMIN - 1)), "ShdPnd %#llx lacks SIGRTMIN", (unsigned long long)shd);
	captures(t.pid, 3, NULL, 0);
	for (int i = 0; i < nt; i++) {
		CHECK_EQ_HEX(status_hex(t.pid, tids[i], "SigBlk"), blk[i]);
		CHECK_EQ_HEX(status_hex(t.pid, tids[i], "SigPnd"), pnd[i]);
	}
	CHECK_EQ_HEX(status_hex(t.pid, 0, "ShdPnd"), shd);
	target_cmdf(&t, r, sizeof(r), "rtunblock");
	diag("victim: %s", r);
	CHECK_EQ_INT(reply_get(r, "n", -1), n);
	p = strstr(r, "list=");
	for (p = p ? p + 5 : NULL; p && *p;) {
		int signo, code, pid, value;
		bool found = false;

		if (sscanf(p, "%d:%d:%d:%d", &signo, &code, &pid, &value) != 4)
			break;
		CHECK_EQ_INT(code, SI_QUEUE);
		CHECK_EQ_INT(pid, getpid());
		for (int i = 0; i < n; i++)
			if (!sent[i].seen && sent[i].signo == signo && sent[i].value == value) {
				sent[i].seen = found = true;
				break;
			}
		CHECK(found, "signal %d value %d received but not sent (or twice)", signo, value);
		p = strchr(p, ',');
		if (p)
			p++;
	}
	for (int i = 0; i < n; i++)
		CHECK(sent[i].seen, "signal %d value %d lost", sent[i].signo, sent[i].value);
	check_victim_fine(&t);
}

struct sender {
	pid_t pid;
	atomic_int stop;
	long sent, sum;
};

static void *send_loop(void *arg)
{
	struct sender *s = arg;

	for (int i = 1; !atomic_load(&s->stop); i++) {
		union sigval v = { .sival_int = i };

		if (sigqueue(s->pid, SIGRTMIN + 4, v) == 0) {
			s->sent++;
			s->sum += i;
		}
		if (i % 64 == 0)
			usleep(200);
	}
	return NULL;
}

/* Wait until the victim has counted @want SIGRTMIN+4 (or 5 s); its reply in r. */
static void wait_rt4(struct target *t, long want, char *r, size_t len)
{
	for (int i = 0; i < 500; i++) {
		target_cmdf(t, r, len, "sigcount");
		if (reply_get(r, "rt4", 0) >= want)
			break;
		msleep(10);
	}
}

/* Proves (row 12): signals sent while captures hold the target are each
 * delivered exactly once (RT signals queue, so sent == received). */
TEST(row12_signals_during_captures_exactly_once)
{
	struct target t;
	char r[256];
	struct sender snd = { 0 };
	pthread_t th;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	snd.pid = t.pid;
	REQUIRE(pthread_create(&th, NULL, send_loop, &snd) == 0, "pthread_create");
	captures(t.pid, va_clone ? 20 : 40, NULL, 0);
	atomic_store(&snd.stop, 1);
	pthread_join(th, NULL);
	wait_rt4(&t, snd.sent, r, sizeof(r));
	diag("sent %ld signals; victim: %s", snd.sent, r);
	CHECK(snd.sent > 0, "no signal sent");
	CHECK_EQ_INT(reply_get(r, "rt4", -1), snd.sent);
	CHECK_EQ_INT(reply_get(r, "rt4sum", -1), snd.sum);
	check_victim_fine(&t);
}

/* Proves (row 12, exact instant): a signal sent while every thread is held
 * in ptrace stop (after-interrupt) is delivered exactly once after the
 * release. */
TEST(row12_signal_while_held)
{
	struct target t;
	char r[256];
	struct bg b;
	union sigval v = { .sival_int = 77 };

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	victim_idle(&t);
	held_stopped(&b, t.pid);
	REQUIRE(sigqueue(t.pid, SIGRTMIN + 4, v) == 0, "sigqueue");
	msleep(50);
	CHECK_ERR(held_finish(&b, false), ERROR_SUCCESS);
	wait_rt4(&t, 1, r, sizeof(r));
	msleep(50);
	target_cmdf(&t, r, sizeof(r), "sigcount");
	CHECK_EQ_INT(reply_get(r, "rt4", -1), 1);
	CHECK_EQ_INT(reply_get(r, "rt4sum", -1), 77);
	check_victim_fine(&t);
}

/* ---- rows 13, 14, 16, 17: stop states ---- */

/* A child of the victim with 3 threads (blocked in read() with the clone,
 * else in pause()); @stopped: in SIGSTOP group stop. */
static pid_t victim_child(struct target *t, bool stopped)
{
	char r[256];
	pid_t child;

	start_victim(t);
	target_cmdf(t, r, sizeof(r), stopped ? "stopchild STOP" CHILD_WAIT : "spawnchild" CHILD_WAIT);
	child = (pid_t)reply_get(r, "child", -1);
	REQUIRE(child > 0, "victim: %s", r);
	REQUIRE(all_threads_in(child, stopped ? 'T' : 'S', 5000), "child threads not %s",
		stopped ? "stopped" : "asleep");
	return child;
}

/* The child is left neither traced nor (clone) with a clone under it. */
static void check_child_untraced(pid_t child)
{
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK(no_thread_traced(child), "child thread left traced");
	if (va_clone)
		CHECK_EQ_INT(clone_procs_under(child, true), 0);
}

/* The victim's child resumes on SIGCONT, and its parent sees that. */
static void check_child_continues(struct target *t, pid_t child)
{
	char r[256];

	target_cmdf(t, r, sizeof(r), "contchild");
	CHECK_EQ_INT(reply_get(r, "code", 0), CLD_CONTINUED);
	CHECK(all_threads_in(child, 'S', 3000), "child not running after SIGCONT");
}

/* The child ends stopped, its parent saw exactly one CLD_STOPPED/SIGSTOP,
 * SIGCONT resumes it; nothing traced, no clone left (row 13). */
static void check_ends_stopped_once(struct target *t, pid_t child)
{
	char r[256];

	CHECK(all_threads_in(child, 'T', 3000), "child not stopped in every thread (state %c)", proc_state(child));
	check_child_untraced(child);
	target_cmdf(t, r, sizeof(r), "waitchild consume");
	CHECK(reply_get(r, "pid", 0) == child && reply_get(r, "code", 0) == CLD_STOPPED &&
	      reply_get(r, "status", 0) == SIGSTOP, "parent saw: %s", r);
	target_cmdf(t, r, sizeof(r), "waitchild");
	CHECK_EQ_INT(reply_get(r, "pid", -1), 0);	/* no second notification */
	check_child_continues(t, child);
}

/* Proves (row 13, all threads held): a SIGSTOP sent while the capture holds
 * the target (after-interrupt) leaves it stopped in every thread; its
 * parent sees exactly one CLD_STOPPED with SIGSTOP; SIGCONT resumes it. */
TEST(row13_sigstop_while_held)
{
	struct target t;
	struct bg b;
	pid_t child;

	REQUIRE_PTRACE();
	child = victim_child(&t, false);
	held_stopped(&b, child);
	kill(child, SIGSTOP);
	msleep(50);
	held_finish(&b, false);
	check_ends_stopped_once(&t, child);
}

/* Proves (row 14): SIGCONT sent while a capture holds a stopped target
 * leaves it running afterwards, untraced (with the clone the capture may
 * refuse: every thread was in group stop). */
TEST(row14_sigcont_while_held_stopped_target)
{
	struct target t;
	struct bg b;
	pid_t child;

	REQUIRE_PTRACE();
	child = victim_child(&t, true);
	held_stopped(&b, child);
	kill(child, SIGCONT);
	msleep(50);
	held_finish(&b, false);
	CHECK(all_threads_in(child, 'S', 3000), "child not running after SIGCONT (state %c)", proc_state(child));
	check_child_untraced(child);
}

/* Each thread of the stopped @child is listed, suspended once, with a
 * context (captures without the clone). */
static void check_stopped_threads(HPSS s)
{
	struct walk w;

	CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	CHECK_EQ_U64(w.count, 3);
	for (size_t k = 0; k < w.count; k++) {
		PSS_THREAD_ENTRY *e = WALK_ITEM(&w, PSS_THREAD_ENTRY, k);

		CHECK_EQ_U64(e->SuspendCount, 1);
		CHECK(e->ContextRecord != NULL, "stopped thread %u without context", e->ThreadId);
	}
	walk_release(&w);
}

/* One capture (number @i) of the stopped @child.  Without the clone it
 * must succeed and list every thread stopped; with it, every thread is in
 * group stop so nothing may be injected into and the contract's refusal is
 * as good as a success, and no clone may be left after the free. */
static void capture_stopped(pid_t child, int i)
{
	HPSS s = NULL;
	DWORD e;

	if (!va_clone) {
		s = capture_ok(child, CTX_FLAGS, CONTEXT_ALL);
		check_stopped_threads(s);
		free_snap(s);
		return;
	}
	e = capture_pid(child, CTX_FLAGS, CONTEXT_ALL, &s);
	CHECK(e == ERROR_SUCCESS || e == ERROR_NO_SYSTEM_RESOURCES, "capture %d: %s (%s)", i, err_name(e),
	      capture_error_text());
	if (i == 0)
		diag("clone capture of a stopped target: %s %s", err_name(e), e ? capture_error_text() : "");
	if (s)
		free_snap(s);
	CHECK(clone_procs_under(child, true) == 0, "after free %d: %d pss-clone left under the stopped "
	      "target (%d of them zombies)", i, clone_procs_under(child, true),
	      clone_procs_under(child, true) - clone_procs_under(child, false));
}

/* rows 16/17: a target stopped by @sig before the captures */
static void stopped_target(const char *sig, int signo)
{
	struct target t;
	char r[256];
	pid_t child;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "stopchild %s" CHILD_WAIT, sig);
	child = (pid_t)reply_get(r, "child", -1);
	REQUIRE(child > 0 && reply_get(r, "status", 0) == signo, "victim: %s", r);
	REQUIRE(all_threads_in(child, 'T', 3000), "child not stopped in every thread");
	for (int i = 0; i < 3; i++) {
		capture_stopped(child, i);
		CHECK(all_threads_in(child, 'T', 1000), "child not stopped in every thread after capture %d", i);
	}
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK(no_thread_traced(child), "child thread left traced");
	/* the original notification is still the one pending, and only it */
	target_cmdf(&t, r, sizeof(r), "waitchild");
	CHECK(reply_get(r, "pid", 0) == child && reply_get(r, "code", 0) == CLD_STOPPED &&
	      reply_get(r, "status", 0) == signo, "parent sees: %s", r);
	target_cmdf(&t, r, sizeof(r), "waitchild consume");
	target_cmdf(&t, r, sizeof(r), "waitchild");
	CHECK_EQ_INT(reply_get(r, "pid", -1), 0);
	check_child_continues(&t, child);
}

/* Proves (row 16): a SIGSTOPped target stays stopped in every thread, its
 * parent gets no second notification, SIGCONT resumes it. */
TEST(row16_stopped_by_sigstop)
{
	stopped_target("STOP", SIGSTOP);
}

/* Proves (row 17): as row 16 with SIGTSTP, and si_status stays SIGTSTP. */
TEST(row17_stopped_by_sigtstp)
{
	stopped_target("TSTP", SIGTSTP);
}

/* ---- rows 20, 22, 23, 27: churn, death, tracers ---- */

/* Proves (row 20): threads exiting continuously: every capture succeeds,
 * every listed thread was stopped (has a context) or is marked terminated,
 * and the target carries on. */
TEST(row20_thread_churn)
{
	struct target t;
	char r[256];
	int ok = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "churn");
	for (int i = 0; i < (va_clone ? 10 : 20); i++) {
		HPSS s = NULL;
		DWORD e = capture_pid(t.pid, CTX_FLAGS, CONTEXT_ALL, &s);
		struct walk w;

		CHECK(e == ERROR_SUCCESS, "capture %d: %s (%s)", i, err_name(e), capture_error_text());
		if (e)
			continue;
		ok++;
		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
		CHECK(w.count >= 2, "only %zu threads", w.count);
		for (size_t k = 0; k < w.count; k++) {
			PSS_THREAD_ENTRY *x = WALK_ITEM(&w, PSS_THREAD_ENTRY, k);

			CHECK(x->ContextRecord || (x->Flags & PSS_THREAD_FLAGS_TERMINATED),
			      "thread %u listed without a context and not terminated", x->ThreadId);
		}
		walk_release(&w);
		free_snap(s);
	}
	target_cmdf(&t, r, sizeof(r), "churn-stop");
	diag("%d captures; victim: %s", ok, r);
	CHECK(reply_get(r, "created", 0) > 0, "no thread churned");
	check_victim_fine(&t);
}

/* Proves (row 22): a zombie target gives ERROR_INVALID_HANDLE with context
 * capture (and the clone) asked too, and stays an untouched zombie. */
TEST(row22_zombie_target)
{
	struct target t;
	char r[64];
	HANDLE h;
	HPSS s = (HPSS)0x1;
	int st;

	REQUIRE_PTRACE();
	start_victim(&t);
	h = open_process(t.pid);
	target_cmd(&t, "exit 5", r, sizeof(r));
	for (int i = 0; i < 1000 && proc_state(t.pid) != 'Z'; i++)
		msleep(2);
	REQUIRE(proc_state(t.pid) == 'Z', "not a zombie: %c", proc_state(t.pid));
	CHECK_ERR(PssCaptureSnapshot(h, CTX_FLAGS, CONTEXT_ALL, &s), ERROR_INVALID_HANDLE);
	CHECK(s == NULL, "SnapshotHandle set after a failure");
	CHECK(proc_state(t.pid) == 'Z', "zombie changed state");
	CloseHandle(h);
	st = target_wait(&t, 2000);
	CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 5, "exit status %#x", st);
}

/* Proves (row 23): a target that exits by itself at a random moment during
 * repeated captures gives clean errors only and exits normally (status 0),
 * never left traced or stopped, and no live clone outlives it. */
TEST(row23_target_exits_during_capture)
{
	REQUIRE_PTRACE();
	srand((unsigned)getpid());
	for (int round = 0; round < (va_clone ? 5 : 6); round++) {
		struct target t;
		char r[64];
		int n = 0, st = -1;
		DWORD e = ERROR_SUCCESS;
		HANDLE h;

		start_victim(&t);
		target_cmdf(&t, r, sizeof(r), "threads 4");
		h = open_process(t.pid);
		target_cmdf(&t, r, sizeof(r), "exit-after %d", 5 + rand() % 40);
		for (; n < 2000; n++) {
			HPSS s = NULL;

			e = PssCaptureSnapshot(h, CTX_FLAGS, CONTEXT_ALL, &s);
			if (s)
				free_snap(s);
			if (e != ERROR_SUCCESS)
				break;
		}
		CHECK(e == ERROR_INVALID_HANDLE, "round %d: capture %d ended with %s (%s)", round, n,
		      err_name(e), capture_error_text());
		CloseHandle(h);
		st = target_wait(&t, 5000);
		CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d: victim status %#x", round, st);
		if (st < 0)
			diag("victim %d state %c tracer %d", t.pid, proc_state(t.pid), proc_tracer_pid(t.pid));
		target_kill(&t);
		if (va_clone) {
			/* orphaned clones would go to the harness, our subreaper */
			msleep(20);
			CHECK_EQ_INT(clone_procs_under(getppid(), false), 0);
		}
	}
}

/* Proves (row 27): an already traced target is ERROR_ACCESS_DENIED (with
 * the clone asked too, no clone made), and the existing tracer still
 * receives its events afterwards. */
TEST(row27_already_traced)
{
	struct target t;
	char r[256];
	HPSS s = (HPSS)0x1;
	pid_t kids[8];
	int st = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	victim_idle(&t);
	REQUIRE(ptrace(PTRACE_SEIZE, t.pid, 0, 0) == 0, "PTRACE_SEIZE: %s", strerror(errno));
	CHECK_ERR(capture_pid(t.pid, CTX_FLAGS, CONTEXT_ALL, &s), ERROR_ACCESS_DENIED);
	CHECK(s == NULL, "SnapshotHandle set after a failure");
	CHECK_EQ_INT(proc_tracer_pid(t.pid), getpid());
	CHECK_EQ_INT(children_of(t.pid, kids, 8), 0);
	/* our events still come to us */
	syscall(SYS_tgkill, t.pid, t.pid, SIGUSR1);
	CHECK(waitpid(t.pid, &st, __WALL) == t.pid && WIFSTOPPED(st) && WSTOPSIG(st) == SIGUSR1,
	      "tracer did not get the signal stop: %#x", st);
	ptrace(PTRACE_CONT, t.pid, 0, SIGUSR1);
	CHECK(ptrace(PTRACE_INTERRUPT, t.pid, 0, 0) == 0, "PTRACE_INTERRUPT: %s", strerror(errno));
	CHECK(waitpid(t.pid, &st, __WALL) == t.pid && WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP,
	      "tracer did not get the interrupt stop: %#x", st);
	CHECK(ptrace(PTRACE_DETACH, t.pid, 0, 0) == 0, "PTRACE_DETACH: %s", strerror(errno));
	target_cmdf(&t, r, sizeof(r), "sigcount");
	CHECK_EQ_INT(reply_get(r, "usr1", -1), 1);
	CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
}

#endif /* PSS_TESTS_SAFETY_ROWS_H */
