// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The target is sacred, with the VA clone: the rows of test-safety.c again
 * (fault matrix 1-7, 9, 11-14, 16, 17, 20, 22, 23, 27) with
 * PSS_CAPTURE_VA_CLONE added, plus the rows only the injection has: 13/14
 * with signals sent while the injection thread holds injected registers,
 * 15 (target killed once the clone exists), 21 (leader exited), 24 (exec
 * mid-capture), 25/26 (vfork parent and child) and 28 (the target is a
 * tracer itself).
 *
 * The injection runs in one of the target's blocked threads.  The blocker
 * rows start the victim with --ppoll, so its command loop waits in ppoll()
 * (a temporary-mask call the library must not inject into) and the thread
 * blocked in the row's syscall is the one to inject into.  Which thread was
 * used is seen by holding each capture a moment at the after-setregs fault
 * point: the injected thread is the one whose pc is in the vDSO (the
 * injection uses the vDSO's syscall instruction).  So "no EINTR, registers
 * unchanged" covers the injected thread itself.
 *
 * Fault points: PSS_FAULT=STEP:pause holds the capture at STEP until the
 * release file exists (fault_arm/fault_release in the harness).
 */
#include "harness.h"

#include <errno.h>
#include <limits.h>
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

#define CTX_FLAGS (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)

/* The victim answers sanely, its command loop never saw EINTR, nobody
 * traces it, no thread is left in a stop and no clone is left under it. */
static void check_victim_fine(struct target *t)
{
	char r[256];

	REQUIRE(target_cmd(t, "sigcount", r, sizeof(r)) > 0, "victim does not answer");
	CHECK_EQ_INT(reply_get(r, "stdin_eintr", -1), 0);
	CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	CHECK(no_thread_traced(t->pid), "a thread is still traced or in a ptrace stop");
	CHECK(proc_state(t->pid) != 'T', "victim left stopped");
	CHECK_EQ_INT(clone_procs_under(t->pid, true), 0);
}

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
	if (b->snap)
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

/* @n captures; CHECK each injected into one of @want[0..nwant) (if nwant). */
static void captures(pid_t pid, int n, const pid_t *want, int nwant)
{
	for (int i = 0; i < n; i++) {
		pid_t tid = capture_inject(pid);
		bool ok = nwant == 0;

		for (int k = 0; k < nwant; k++)
			ok |= tid == want[k];
		CHECK(ok, "capture %d injected into thread %d, not the blocked one (%d)", i, tid,
		      nwant ? want[0] : 0);
	}
}

/*
 * block_then_result() - a --ppoll victim blocks a thread in @kind; after
 * @delay_ms three clone captures run, each injected into that thread (or a
 * futex waiter); the blocked call must not have returned; then the awaited
 * event happens and the call's outcome is left in @res.
 */
static void block_then_result(struct target *t, const char *kind, unsigned ms, unsigned delay_ms,
			      char *res, size_t len)
{
	char r[256];
	pid_t want[4];
	int nwant = 0;
	long nr;

	start_victim_ppoll(t);
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
	target_cmdf(t, r, sizeof(r), "sigcount");
	CHECK_EQ_INT(reply_get(r, "ppoll_eintr", -1), 0);
	check_victim_fine(t);
}

/* Proves (row 1, injected thread): read() on a pipe gets the byte written
 * after the captures, no EINTR. */
TEST(row01_read_no_eintr)
{
	struct target t;
	char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, "read", 0, 0, r, sizeof(r));
	CHECK_EQ_INT(reply_get(r, "ret", 0), 1);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK_EQ_INT(reply_get(r, "x0", 0), 'x');
}

/* Proves (row 2, injected thread): clock_nanosleep(3 s) captured at 1.5 s
 * returns 0 after at least 3 s, not restarted with its full length. */
TEST(row02_nanosleep_keeps_deadline)
{
	struct target t;
	char r[256];
	long ms;

	REQUIRE_PTRACE();
	block_then_result(&t, "nanosleep", 3000, 1500, r, sizeof(r));
	ms = reply_get(r, "elapsed_ms", -1);
	CHECK_EQ_INT(reply_get(r, "ret", -1), 0);
	CHECK(ms >= 3000, "slept only %ld ms of 3000", ms);
	CHECK(ms < 4400, "slept %ld ms: the sleep restarted with its full length", ms);
}

/* Proves (row 3, injected thread): poll(NULL, 0, 3000) captured at 1.5 s
 * returns 0 after its timeout, never EINTR, not far beyond it. */
TEST(row03_poll_timeout)
{
	struct target t;
	char r[256];
	long ms;

	REQUIRE_PTRACE();
	block_then_result(&t, "poll", 3000, 1500, r, sizeof(r));
	ms = reply_get(r, "elapsed_ms", -1);
	CHECK_EQ_INT(reply_get(r, "ret", -1), 0);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK(ms >= 2990 && ms < 4400, "poll returned after %ld ms of 3000", ms);
}

/* Proves (row 4, injected waiter): futex waiters on a held mutex never
 * acquire it early and all acquire it once it is released. */
TEST(row04_futex_no_early_acquire)
{
	struct target t;
	char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, "futex", 0, 0, r, sizeof(r));
	CHECK_EQ_INT(reply_get(r, "early", -1), 0);
	CHECK_EQ_INT(reply_get(r, "acquired", -1), 4);
}

/* Proves (row 5, injected thread): epoll_wait(-1) sees no EINTR and
 * returns the event added after the captures exactly once. */
TEST(row05_epoll_wait_no_eintr)
{
	struct target t;
	char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, "epoll", 0, 0, r, sizeof(r));
	CHECK_EQ_INT(reply_get(r, "ret", 0), 1);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK_EQ_HEX(reply_get(r, "x0", 0), 0x1234);
}

/* Proves (row 6, injected thread): rt_sigtimedwait sees no EINTR and
 * receives the SIGUSR2 sent afterwards once, with its payload. */
TEST(row06_sigtimedwait_no_eintr)
{
	struct target t;
	char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, "sigtimedwait", 0, 0, r, sizeof(r));
	CHECK_EQ_INT(reply_get(r, "ret", 0), SIGUSR2);
	CHECK_EQ_INT(reply_get(r, "x0", 0), 4242);
	CHECK_EQ_INT(reply_get(r, "usr2_pending", -1), 0);
}

/* Proves (row 7, injected thread): accept() restarts transparently. */
TEST(row07_accept_restarts)
{
	struct target t;
	char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, "accept", 0, 0, r, sizeof(r));
	CHECK(reply_get(r, "ret", -1) >= 0, "accept: %s", r);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
}

/* Proves (row 7, injected thread): wait4() restarts transparently, reaps
 * the child's exit 7, and never returns the clone. */
TEST(row07_wait4_restarts)
{
	struct target t;
	char r[256];
	int st;

	REQUIRE_PTRACE();
	block_then_result(&t, "wait4", 0, 0, r, sizeof(r));
	CHECK(reply_get(r, "ret", -1) > 0, "wait4: %s", r);
	st = (int)reply_get(r, "x0", 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child status %#x", st);
}

/* Proves (row 7, injected thread): pause() is not ended by the captures;
 * the later SIGUSR1 ends it once, with one handler run. */
TEST(row07_pause_restarts)
{
	struct target t;
	char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, "pause", 0, 0, r, sizeof(r));
	CHECK_EQ_INT(reply_get(r, "ret", 0), -1);
	CHECK_EQ_INT(reply_get(r, "errno", 0), EINTR);
	CHECK_EQ_INT(reply_get(r, "handled", -1), 1);
}

/*
 * Proves (row 9, for the injected thread and the others): 20 clone
 * captures inject into the thread blocked in a raw read() whose
 * registers (rbx, rbp, rdi, rsi, rdx, r8, r10, r12-r15, ymm0-15) are
 * checked by the thread itself when the read returns: the read returns
 * its byte, no EINTR, no register changed; the register spinner beside it
 * never sees a change either.
 */
TEST(row09_injected_thread_registers_unchanged)
{
	struct target t;
	char r[256];
	pid_t rr;
	unsigned long long it0, it1;

	REQUIRE_PTRACE();
	start_victim_ppoll(&t);
	target_cmdf(&t, r, sizeof(r), "regs 90");
	it0 = (unsigned long long)reply_get(target_cmdf(&t, r, sizeof(r), "check"), "iterations", 0);
	target_cmdf(&t, r, sizeof(r), "block regread");
	rr = (pid_t)reply_get(r, "tid", -1);
	REQUIRE(rr > 0 && wait_thread_syscall(t.pid, rr, 0, 5000) == 0, "regread thread not blocked: %s", r);
	victim_idle(&t);
	captures(t.pid, 20, &rr, 1);
	target_cmdf(&t, r, sizeof(r), "done regread");
	CHECK_EQ_INT(reply_get(r, "done", -1), 0);
	target_cmdf(&t, r, sizeof(r), "result regread");
	diag("regread: %s", r);
	CHECK_EQ_INT(reply_get(r, "ret", 0), 1);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK_EQ_INT(reply_get(r, "x0", -1), 0);	/* register mismatches */
	CHECK_EQ_INT(reply_get(r, "x1", 0), 'x');
	target_cmdf(&t, r, sizeof(r), "check");
	it1 = (unsigned long long)reply_get(r, "iterations", 0);
	CHECK_EQ_INT(reply_get(r, "mismatches", -1), 0);
	CHECK(it1 > it0, "spinner stopped spinning (%llu -> %llu)", it0, it1);
	check_victim_fine(&t);
}

struct sent {
	int signo, value;
	bool seen;
};

/* Proves (row 11): blocked RT signals queued process-wide and to one thread
 * stay pending through clone captures with identical masks (the clone takes
 * none of them), then arrive exactly once each with their siginfo. */
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

static void wait_rt4(struct target *t, long want, char *r, size_t len)
{
	for (int i = 0; i < 500; i++) {
		target_cmdf(t, r, len, "sigcount");
		if (reply_get(r, "rt4", 0) >= want)
			break;
		msleep(10);
	}
}

/* Proves (row 12): signals sent while clone captures hold the target are
 * each delivered exactly once (RT signals queue: sent == received). */
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
	captures(t.pid, 20, NULL, 0);
	atomic_store(&snd.stop, 1);
	pthread_join(th, NULL);
	wait_rt4(&t, snd.sent, r, sizeof(r));
	diag("sent %ld signals; victim: %s", snd.sent, r);
	CHECK(snd.sent > 0, "no signal sent");
	CHECK_EQ_INT(reply_get(r, "rt4", -1), snd.sent);
	CHECK_EQ_INT(reply_get(r, "rt4sum", -1), snd.sum);
	check_victim_fine(&t);
}

/* ---- held captures ---- */

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

/* Proves (row 12, exact instant): a signal sent while every thread is held
 * in ptrace stop (after-interrupt) is delivered exactly once after the
 * clone capture completes. */
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
	held_start(&b, t.pid, "after-interrupt");
	if (!all_threads_in(t.pid, 't', 10000))
		held_abort(&b, "the capture never held the victim in ptrace stop");
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

/* A child of the victim with 3 threads blocked in read(); @stopped: in
 * SIGSTOP group stop. */
static pid_t victim_child(struct target *t, bool stopped)
{
	char r[256];
	pid_t child;

	start_victim(t);
	target_cmdf(t, r, sizeof(r), stopped ? "stopchild STOP read" : "spawnchild read");
	child = (pid_t)reply_get(r, "child", -1);
	REQUIRE(child > 0, "victim: %s", r);
	REQUIRE(all_threads_in(child, stopped ? 'T' : 'S', 5000), "child threads not %s",
		stopped ? "stopped" : "asleep");
	return child;
}

/* The child ends stopped, its parent saw exactly one CLD_STOPPED/SIGSTOP,
 * SIGCONT resumes it; nothing traced, no clone left (row 13). */
static void check_ends_stopped_once(struct target *t, pid_t child)
{
	char r[256];

	CHECK(all_threads_in(child, 'T', 3000), "child not stopped in every thread (state %c)", proc_state(child));
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK(no_thread_traced(child), "child thread left traced");
	CHECK_EQ_INT(clone_procs_under(child, true), 0);
	target_cmdf(t, r, sizeof(r), "waitchild consume");
	CHECK(reply_get(r, "pid", 0) == child && reply_get(r, "code", 0) == CLD_STOPPED &&
	      reply_get(r, "status", 0) == SIGSTOP, "parent saw: %s", r);
	target_cmdf(t, r, sizeof(r), "waitchild");
	CHECK_EQ_INT(reply_get(r, "pid", -1), 0);	/* no second notification */
	target_cmdf(t, r, sizeof(r), "contchild");
	CHECK_EQ_INT(reply_get(r, "code", 0), CLD_CONTINUED);
	CHECK(all_threads_in(child, 'S', 3000), "child not running after SIGCONT");
}

/* Proves (row 13, all threads held): SIGSTOP sent while the clone capture
 * holds the target (after-interrupt) leaves it stopped, one CLD_STOPPED. */
TEST(row13_sigstop_while_held)
{
	struct target t;
	struct bg b;
	pid_t child;

	REQUIRE_PTRACE();
	child = victim_child(&t, false);
	held_start(&b, child, "after-interrupt");
	if (!all_threads_in(child, 't', 10000))
		held_abort(&b, "the capture never held the child in ptrace stop");
	kill(child, SIGSTOP);
	msleep(50);
	held_finish(&b, false);
	check_ends_stopped_once(&t, child);
}

/* Proves (row 13, during injection): SIGSTOP sent while the injection
 * thread holds injected registers (after-setregs: its pc in the vDSO)
 * leaves the target stopped with SIGSTOP in every thread, the parent sees
 * exactly one CLD_STOPPED, nothing stays traced and no clone is left
 * (whether the capture then succeeded or failed cleanly). */
TEST(row13_sigstop_during_injection)
{
	struct target t;
	struct bg b;
	pid_t child, inj;

	REQUIRE_PTRACE();
	child = victim_child(&t, false);
	held_start(&b, child, "after-setregs");
	inj = wait_pc_in_vdso(child, 10000);
	if (!inj)
		held_abort(&b, "the capture never reached after-setregs (no thread with its pc in [vdso])");
	diag("injection thread %d holds injected registers", inj);
	kill(child, SIGSTOP);
	msleep(50);
	held_finish(&b, false);
	check_ends_stopped_once(&t, child);
}

/* Proves (row 14, during injection): SIGCONT sent while the injection
 * thread holds injected registers changes nothing: the capture succeeds,
 * the target ends running, untraced, its parent sees no stop. */
TEST(row14_sigcont_during_injection)
{
	struct target t;
	char r[256];
	struct bg b;
	pid_t child, inj;

	REQUIRE_PTRACE();
	child = victim_child(&t, false);
	held_start(&b, child, "after-setregs");
	inj = wait_pc_in_vdso(child, 10000);
	if (!inj)
		held_abort(&b, "the capture never reached after-setregs (no thread with its pc in [vdso])");
	kill(child, SIGCONT);
	msleep(50);
	CHECK_ERR(held_finish(&b, false), ERROR_SUCCESS);
	CHECK(all_threads_in(child, 'S', 3000), "child not running (state %c)", proc_state(child));
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK(no_thread_traced(child), "child thread left traced");
	CHECK_EQ_INT(clone_procs_under(child, true), 0);
	target_cmdf(&t, r, sizeof(r), "waitchild");
	CHECK_EQ_INT(reply_get(r, "pid", -1), 0);
}

/* Proves (row 14, stopped target): SIGCONT sent while a clone capture
 * holds a stopped target leaves it running afterwards, untraced, no clone
 * left (the capture may refuse: every thread was in group stop). */
TEST(row14_sigcont_while_held_stopped_target)
{
	struct target t;
	struct bg b;
	pid_t child;

	REQUIRE_PTRACE();
	child = victim_child(&t, true);
	held_start(&b, child, "after-interrupt");
	if (!all_threads_in(child, 't', 10000))
		held_abort(&b, "the capture never held the child in ptrace stop");
	kill(child, SIGCONT);
	msleep(50);
	held_finish(&b, false);
	CHECK(all_threads_in(child, 'S', 3000), "child not running after SIGCONT (state %c)", proc_state(child));
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK(no_thread_traced(child), "child thread left traced");
	CHECK_EQ_INT(clone_procs_under(child, true), 0);
}

/* Proves (row 15): the target SIGKILLed once the clone exists (held at
 * after-clone-event): the capture returns an error and no snapshot; the
 * clone never runs and is gone or a corpse within 2 s; nothing is left
 * traced; the tracer leaves no zombie of ours. */
TEST(row15_target_killed_after_clone_event)
{
	struct target t;
	char r[256];
	struct bg b;
	pid_t kids[8], me = getpid(), cpid = 0;
	int n = 0, st;
	char cs = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	victim_idle(&t);
	REQUIRE(children_of(t.pid, kids, 8) == 0, "victim has children already");
	held_start(&b, t.pid, "after-clone-event");
	for (int i = 0; i < 5000 && n == 0; i++) {
		n = children_of(t.pid, kids, 8);
		if (!n)
			msleep(2);
	}
	if (n != 1)
		held_abort(&b, "no clone appeared under the victim (after-clone-event not reached)");
	cpid = kids[0];
	kill(t.pid, SIGKILL);
	msleep(50);
	CHECK(held_finish(&b, false) != ERROR_SUCCESS, "the capture of a killed target succeeded");
	CHECK(b.snap == NULL, "a snapshot of a killed target");
	st = target_wait(&t, 5000);
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "victim status %#x", st);
	for (int i = 0; i < 400; i++) {
		cs = proc_state(cpid);
		if (cs == 0 || cs == 'Z')
			break;
		msleep(5);
	}
	CHECK(cs == 0 || cs == 'Z', "clone %d still alive (state %c, tracer %d)", cpid, cs, proc_tracer_pid(cpid));
	n = children_of(me, kids, 8);
	for (int i = 0; i < n; i++)
		CHECK(proc_state(kids[i]) != 'Z', "zombie child %d of ours", kids[i]);
	/* the orphaned clone went to the harness (our subreaper): not alive */
	CHECK_EQ_INT(clone_procs_under(getppid(), false), 0);
}

/* rows 16/17: a target stopped by @sig before the clone captures */
static void stopped_target(const char *sig, int signo)
{
	struct target t;
	char r[256];
	pid_t child;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "stopchild %s read", sig);
	child = (pid_t)reply_get(r, "child", -1);
	REQUIRE(child > 0 && reply_get(r, "status", 0) == signo, "victim: %s", r);
	REQUIRE(all_threads_in(child, 'T', 3000), "child not stopped in every thread");
	for (int i = 0; i < 3; i++) {
		HPSS s = NULL;
		DWORD e = capture_pid(child, CTX_FLAGS, CONTEXT_ALL, &s);

		/* every thread is in group stop: nothing may be injected into,
		 * so the contract's refusal is as good as a success */
		CHECK(e == ERROR_SUCCESS || e == ERROR_NO_SYSTEM_RESOURCES, "capture %d: %s (%s)", i, err_name(e),
		      capture_error_text());
		if (i == 0)
			diag("clone capture of a stopped target: %s %s", err_name(e), e ? capture_error_text() : "");
		if (s)
			free_snap(s);
		CHECK(all_threads_in(child, 'T', 1000), "child not stopped in every thread after capture %d", i);
		CHECK(clone_procs_under(child, true) == 0, "after free %d: %d pss-clone left under the stopped "
		      "target (%d of them zombies)", i, clone_procs_under(child, true),
		      clone_procs_under(child, true) - clone_procs_under(child, false));
	}
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK(no_thread_traced(child), "child thread left traced");
	target_cmdf(&t, r, sizeof(r), "waitchild");
	CHECK(reply_get(r, "pid", 0) == child && reply_get(r, "code", 0) == CLD_STOPPED &&
	      reply_get(r, "status", 0) == signo, "parent sees: %s", r);
	target_cmdf(&t, r, sizeof(r), "waitchild consume");
	target_cmdf(&t, r, sizeof(r), "waitchild");
	CHECK_EQ_INT(reply_get(r, "pid", -1), 0);
	target_cmdf(&t, r, sizeof(r), "contchild");
	CHECK_EQ_INT(reply_get(r, "code", 0), CLD_CONTINUED);
	CHECK(all_threads_in(child, 'S', 3000), "child not running after SIGCONT");
}

/* Proves (row 16): a SIGSTOPped target stays stopped in every thread, its
 * parent gets no second notification, SIGCONT resumes it. */
TEST(row16_stopped_by_sigstop)
{
	stopped_target("STOP", SIGSTOP);
}

/* Proves (row 17): as row 16 with SIGTSTP; si_status stays SIGTSTP. */
TEST(row17_stopped_by_sigtstp)
{
	stopped_target("TSTP", SIGTSTP);
}

/* Proves (row 20): threads exiting continuously: 10 clone captures succeed,
 * every listed thread has a context or is marked terminated, the target
 * carries on. */
TEST(row20_thread_churn)
{
	struct target t;
	char r[256];
	int ok = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "churn");
	for (int i = 0; i < 10; i++) {
		HPSS s = NULL;
		DWORD e = capture_pid(t.pid, CTX_FLAGS, CONTEXT_ALL, &s);
		struct walk w;

		CHECK(e == ERROR_SUCCESS, "capture %d: %s (%s)", i, err_name(e), capture_error_text());
		if (e)
			continue;
		ok++;
		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
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

/* Proves (row 21): the leader called pthread_exit while other threads
 * live: the clone capture either succeeds (leader listed as terminated or
 * not at all, the others with contexts) or fails cleanly; the victim runs
 * on untraced and no clone is left. */
TEST(row21_leader_exited)
{
	struct target t;
	char r[256];
	HPSS s = NULL;
	DWORD e;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	target_cmdf(&t, r, sizeof(r), "leader-exit");
	t.idle_tid = (pid_t)reply_get(r, "tid", 0);
	REQUIRE(t.idle_tid > 0, "victim: %s", r);
	for (int i = 0; i < 1000 && thread_state(t.pid, t.pid) != 'Z'; i++)
		msleep(2);
	REQUIRE(thread_state(t.pid, t.pid) == 'Z', "leader not exited (%c)", thread_state(t.pid, t.pid));
	victim_idle(&t);
	e = capture_pid(t.pid, CTX_FLAGS, CONTEXT_ALL, &s);
	diag("capture with an exited leader: %s %s", err_name(e), e ? capture_error_text() : "");
	if (e == ERROR_SUCCESS) {
		struct walk w;

		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
		for (size_t k = 0; k < w.count; k++) {
			PSS_THREAD_ENTRY *x = WALK_ITEM(&w, PSS_THREAD_ENTRY, k);

			if (x->ThreadId == (DWORD)t.pid)
				CHECK(x->Flags & PSS_THREAD_FLAGS_TERMINATED, "exited leader not marked terminated");
			else
				CHECK(x->ContextRecord != NULL, "live thread %u without a context", x->ThreadId);
		}
		CHECK(w.count >= 3, "only %zu threads listed", w.count);
		walk_release(&w);
		free_snap(s);
	} else {
		CHECK(s == NULL, "SnapshotHandle set after a failure");
	}
	target_cmdf(&t, r, sizeof(r), "ping");
	CHECK(!strncmp(r, "pong", 4), "victim: %s", r);
	check_victim_fine(&t);
}

/* Proves (row 22): a zombie target is ERROR_INVALID_HANDLE with the clone
 * asked too, and stays an untouched zombie. */
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
 * repeated clone captures gives clean errors only, exits normally, is never
 * left traced or stopped, and no live clone outlives it. */
TEST(row23_target_exits_during_capture)
{
	REQUIRE_PTRACE();
	srand((unsigned)getpid());
	for (int round = 0; round < 5; round++) {
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
		target_kill(&t);
		/* orphaned clones would go to the harness, our subreaper */
		msleep(20);
		CHECK_EQ_INT(clone_procs_under(getppid(), false), 0);
	}
}

/* Proves (row 24): the target execs (from a helper thread) while the
 * capture holds it seized (after-seize): the capture gives a clean error
 * and no snapshot, the new program starts and runs untraced, and no clone
 * is left. */
TEST(row24_target_execs_mid_capture)
{
	struct target t;
	char r[256];
	struct bg b;
	DWORD e;
	int traced = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	target_cmdf(&t, r, sizeof(r), "exec-arm");
	REQUIRE(reply_get(r, "tid", 0) > 0, "victim: %s", r);
	victim_idle(&t);
	held_start(&b, t.pid, "after-seize");
	for (int i = 0; i < 5000 && traced < thread_count(t.pid); i++) {
		pid_t tids[16];
		int n = thread_ids(t.pid, tids, 16);

		traced = 0;
		for (int k = 0; k < n && k < 16; k++)
			traced += thread_tracer_pid(t.pid, tids[k]) > 0;
		if (traced < n)
			msleep(2);
	}
	if (traced < 4)
		held_abort(&b, "the capture never seized every thread");
	REQUIRE(target_send(&t, "exec-go") == 0, "send exec-go");
	msleep(100);
	e = held_finish(&b, false);
	CHECK(e != ERROR_SUCCESS, "the capture of a target that exec'd in the middle succeeded");
	REQUIRE(target_readline(&t, r, sizeof(r), 10000) > 0, "the new program never said ready");
	CHECK(!strncmp(r, "ready ", 6) && atoi(r + 6) == t.pid, "after exec: '%s'", r);
	victim_idle(&t);
	target_cmdf(&t, r, sizeof(r), "ping");
	CHECK(!strncmp(r, "pong", 4), "new program: %s", r);
	CHECK_EQ_INT(thread_count(t.pid), 1);
	check_victim_fine(&t);
}

/* rows 25/26: the victim forks P, which vforks G (sleeping 3 s) */
static void vfork_pair(struct target *t, pid_t *parent, pid_t *child)
{
	char r[256];

	start_victim(t);
	target_cmdf(t, r, sizeof(r), "vfork 3000");
	*parent = (pid_t)reply_get(r, "parent", 0);
	*child = (pid_t)reply_get(r, "child", 0);
	REQUIRE(*parent > 0 && *child > 0, "victim: %s", r);
	for (int i = 0; i < 1000 && proc_state(*parent) != 'D'; i++)
		msleep(2);
	REQUIRE(proc_state(*parent) == 'D', "vfork parent not waiting (%c)", proc_state(*parent));
	REQUIRE(wait_thread_syscall(*child, *child, SYS_clock_nanosleep, 5000) == 0, "vfork child not asleep");
}

/* After the vfork child's exit: P's vfork returned G with no EINTR, G
 * exited 0, and P is not left stopped or traced. */
static void check_vfork_done(struct target *t, pid_t parent, pid_t child)
{
	char r[256];
	char st = 0;

	target_cmdf(t, r, sizeof(r), "vfork-result");
	diag("vfork parent: %s", r);
	CHECK_EQ_INT(reply_get(r, "ret", 0), child);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK_EQ_INT(reply_get(r, "status", -1), 0);
	for (int i = 0; i < 500; i++) {
		st = proc_state(parent);
		if (st == 'S' && proc_tracer_pid(parent) == 0)
			break;
		msleep(4);
	}
	CHECK(st == 'S', "vfork parent left in state %c", st);
	CHECK_EQ_INT(proc_tracer_pid(parent), 0);
	CHECK_EQ_INT(clone_procs_under(parent, true), 0);
}

/* Proves (row 25): a vfork parent gives ERROR_TIMEOUT after the configured
 * timeout, long before its vfork ends (the child still sleeps when the
 * capture returns); afterwards its vfork returns the child with no EINTR
 * and it is not left stopped or traced. */
TEST(row25_vfork_parent_times_out)
{
	struct target t;
	struct pss_linux_options o = { .sz = sizeof(o), .timeout_ms = 500 };
	pid_t parent, child;
	HANDLE h;
	HPSS s = (HPSS)0x1;
	char cs;

	REQUIRE_PTRACE();
	vfork_pair(&t, &parent, &child);
	h = open_process(parent);
	CHECK_ERR(pss_linux_capture(h, CTX_FLAGS, CONTEXT_ALL, &o, &s), ERROR_TIMEOUT);
	CHECK(s == NULL, "SnapshotHandle set after a failure");
	cs = proc_state(child);
	CHECK(cs == 'S', "the capture waited for the vfork child (state %c)", cs);
	CloseHandle(h);
	check_vfork_done(&t, parent, child);
}

/* Proves (row 26): a vfork child (it shares its parent's memory) is refused
 * with ERROR_NOT_SUPPORTED, untouched: it finishes its sleep and exits 0. */
TEST(row26_vfork_child_refused)
{
	struct target t;
	pid_t parent, child;
	HPSS s = (HPSS)0x1;

	REQUIRE_PTRACE();
	vfork_pair(&t, &parent, &child);
	CHECK_ERR(capture_pid(child, CTX_FLAGS, CONTEXT_ALL, &s), ERROR_NOT_SUPPORTED);
	CHECK(s == NULL, "SnapshotHandle set after a failure");
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK_EQ_INT(proc_tracer_pid(parent), 0);
	check_vfork_done(&t, parent, child);
}

/* Proves (row 27): an already traced target is ERROR_ACCESS_DENIED with the
 * clone asked too, and the existing tracer still receives its events. */
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

/* Proves (row 28): a target that traces its own child is captured with
 * the clone; its tracee stays traced by it and still reports to it (an
 * interrupt stop it waits for), before and after the free. */
TEST(row28_target_is_a_tracer)
{
	struct target t;
	char r[256];
	pid_t child;
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "trace-child");
	child = (pid_t)reply_get(r, "child", 0);
	REQUIRE(child > 0 && reply_get(r, "ret", -1) == 0, "victim: %s", r);
	REQUIRE_EQ_INT(proc_tracer_pid(child), t.pid);
	victim_idle(&t);
	s = capture_ok(t.pid, CTX_FLAGS, CONTEXT_ALL);
	h = query_va_clone(s, &cpid);
	CHECK(h && cpid > 0, "no VaCloneHandle");
	CHECK_EQ_INT(proc_tracer_pid(child), t.pid);
	target_cmdf(&t, r, sizeof(r), "trace-check");
	CHECK(reply_get(r, "ret", -1) == 0 && reply_get(r, "stopped", 0) == 1 &&
	      reply_get(r, "event", 0) == PTRACE_EVENT_STOP && reply_get(r, "tracer", 0) == t.pid,
	      "the victim's tracee while the snapshot lives: %s", r);
	free_snap(s);
	target_cmdf(&t, r, sizeof(r), "trace-check");
	CHECK(reply_get(r, "ret", -1) == 0 && reply_get(r, "stopped", 0) == 1 &&
	      reply_get(r, "tracer", 0) == t.pid, "the victim's tracee after the free: %s", r);
	CHECK(no_thread_traced(t.pid), "victim left traced");
	CHECK_EQ_INT(clone_procs_under(t.pid, true), 0);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
