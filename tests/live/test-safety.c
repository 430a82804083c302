// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The target is sacred: captures with THREAD_CONTEXT stop the target for a
 * moment, and afterwards every blocked call must complete as if nothing
 * happened, every signal must arrive exactly once, stop states must be
 * kept, and dying, stopped, zombie or already traced targets must give
 * clean errors (fault matrix rows 1-7, 11-14, 16, 17, 20, 22, 23, 27, 74).
 *
 * Rows 12-14 use the library's test fault hook: PSS_FAULT=after-interrupt:
 * pause holds the capture, with every thread stopped, until the file named
 * by PSS_FAULT_RELEASE exists.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
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

#define CTX_FLAGS (PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)

/* The victim answers sanely, its stdin read never saw EINTR, nobody traces
 * it and no thread is left in a stop. */
static void check_victim_fine(struct target *t)
{
	char r[256];

	REQUIRE(target_cmd(t, "sigcount", r, sizeof(r)) > 0, "victim does not answer");
	CHECK_EQ_INT(reply_get(r, "stdin_eintr", -1), 0);
	CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	CHECK(no_thread_traced(t->pid), "a thread is still traced or in a ptrace stop");
	CHECK(proc_state(t->pid) != 'T', "victim left stopped");
}

static void captures(pid_t pid, int n)
{
	for (int i = 0; i < n; i++) {
		HPSS s = capture_ok(pid, CTX_FLAGS, CONTEXT_ALL);

		free_snap(s);
	}
}

/*
 * block_then_result() - the victim blocks a thread in @kind; after @delay_ms
 * three context captures run; the blocked call must not have returned; then
 * the awaited event happens and the call's outcome is left in @res.
 */
static void block_then_result(struct target *t, const char *kind, unsigned ms, unsigned delay_ms,
			      char *res, size_t len)
{
	char r[256];
	pid_t tid;
	long nr;

	start_victim(t);
	target_cmdf(t, r, sizeof(r), "threads 2");
	target_cmdf(t, r, sizeof(r), "block %s %u", kind, ms);
	tid = (pid_t)reply_get(r, "tid", -1);
	nr = reply_get(r, "nr", -1);
	REQUIRE(tid > 0 && nr >= 0, "victim: %s", r);
	REQUIRE(wait_thread_syscall(t->pid, tid, nr, 5000) == 0, "%s thread %d never blocked in syscall %ld",
		kind, tid, nr);
	for (int i = 1; i <= 3; i++) {
		long w = reply_get(r, i == 1 ? "tid1" : i == 2 ? "tid2" : "tid3", 0);

		if (w)
			REQUIRE(wait_thread_syscall(t->pid, (pid_t)w, nr, 5000) == 0, "waiter %ld not blocked", w);
	}
	victim_idle(t);
	if (delay_ms)
		msleep(delay_ms);
	captures(t->pid, 3);
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

/* Proves (row 1): read() on a pipe gets the byte written after the capture, no EINTR. */
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

/* Proves (row 2): clock_nanosleep(3 s) captured at 1.5 s returns 0 after at
 * least 3 s and well before a restarted full sleep would (4.5 s). */
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

/* Proves (row 3): poll(NULL, 0, 3000) captured at 1.5 s returns 0 after its
 * timeout, never EINTR, not far beyond it. */
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

/* Proves (row 4): futex waiters on a held mutex never acquire it early and
 * all acquire it once it is released. */
TEST(row04_futex_no_early_acquire)
{
	struct target t;
	char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, "futex", 0, 0, r, sizeof(r));
	CHECK_EQ_INT(reply_get(r, "early", -1), 0);
	CHECK_EQ_INT(reply_get(r, "acquired", -1), 4);
}

/* Proves (row 5): epoll_wait(-1) sees no EINTR and returns the event added
 * after the capture exactly once. */
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

/* Proves (row 6): rt_sigtimedwait sees no EINTR and receives the SIGUSR2
 * sent after the capture once, with its payload, none left pending. */
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

/* Proves (row 7): accept() restarts transparently and accepts the later connection. */
TEST(row07_accept_restarts)
{
	struct target t;
	char r[256];

	REQUIRE_PTRACE();
	block_then_result(&t, "accept", 0, 0, r, sizeof(r));
	CHECK(reply_get(r, "ret", -1) >= 0, "accept: %s", r);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
}

/* Proves (row 7): wait4() restarts transparently and reaps the child's exit 7. */
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

/* Proves (row 7): pause() is not ended by the capture; the later SIGUSR1
 * ends it once, with one handler run (EINTR is pause's only return). */
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

/* Proves (rows 7, 74): sigsuspend, ppoll and pselect keep their temporary
 * masks: not ended by the capture, ended once by the later SIGUSR1, with the
 * handler run once and the normal mask back afterwards. */
TEST(row74_temporary_mask_calls)
{
	static const char *const calls[] = { "sigsuspend", "ppoll", "pselect" };

	REQUIRE_PTRACE();
	for (size_t i = 0; i < 3; i++) {
		struct target t;
		char r[256];

		block_then_result(&t, calls[i], 0, 0, r, sizeof(r));
		CHECK(reply_get(r, "ret", 0) == -1 && reply_get(r, "errno", 0) == EINTR, "%s: %s", calls[i], r);
		CHECK(reply_get(r, "handled", -1) == 1, "%s: handler ran %lld times", calls[i],
		      reply_get(r, "handled", -1));
		CHECK(reply_get(r, "x1", 0) == 1, "%s: SIGUSR1 not blocked again after the call", calls[i]);
		target_kill(&t);
	}
}

struct sent {
	int signo, value;
	bool seen;
};

/* Proves (row 11): blocked RT signals queued process-wide and to one thread
 * stay pending through captures with identical masks, then arrive exactly
 * once each with their siginfo (SI_QUEUE, our pid, the payload). */
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
	for (int i = 0; i < 3; i++) {
		siginfo_t si = { 0 };

		si.si_signo = SIGRTMIN;
		si.si_code = SI_QUEUE;
		si.si_pid = getpid();
		si.si_uid = getuid();
		si.si_value.sival_int = 1000 + i;
		REQUIRE(syscall(SYS_rt_sigqueueinfo, t.pid, SIGRTMIN, &si) == 0, "rt_sigqueueinfo: %s",
			strerror(errno));
		sent[n++] = (struct sent){ SIGRTMIN, 1000 + i, false };
	}
	for (int i = 0; i < 2; i++) {
		siginfo_t si = { 0 };

		si.si_signo = SIGRTMIN + 1;
		si.si_code = SI_QUEUE;
		si.si_pid = getpid();
		si.si_uid = getuid();
		si.si_value.sival_int = 2000 + i;
		REQUIRE(syscall(SYS_rt_tgsigqueueinfo, t.pid, t.pid, SIGRTMIN + 1, &si) == 0,
			"rt_tgsigqueueinfo: %s", strerror(errno));
		sent[n++] = (struct sent){ SIGRTMIN + 1, 2000 + i, false };
	}
	nt = thread_ids(t.pid, tids, 16);
	for (int i = 0; i < nt; i++) {
		blk[i] = status_hex(t.pid, tids[i], "SigBlk");
		pnd[i] = status_hex(t.pid, tids[i], "SigPnd");
	}
	shd = status_hex(t.pid, 0, "ShdPnd");
	CHECK(shd & (1ull << (SIGRTMIN - 1)), "ShdPnd %#llx lacks SIGRTMIN", (unsigned long long)shd);
	captures(t.pid, 3);
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
	captures(t.pid, 40);
	atomic_store(&snd.stop, 1);
	pthread_join(th, NULL);
	wait_rt4(&t, snd.sent, r, sizeof(r));
	diag("sent %ld signals; victim: %s", snd.sent, r);
	CHECK(snd.sent > 0, "no signal sent");
	CHECK_EQ_INT(reply_get(r, "rt4", -1), snd.sent);
	CHECK_EQ_INT(reply_get(r, "rt4sum", -1), snd.sum);
	check_victim_fine(&t);
}

/* ---- the fault hook ---- */

static char release_path[64];

static void hook_arm(void)
{
	snprintf(release_path, sizeof(release_path), "/tmp/pss-release-%d", getpid());
	unlink(release_path);
	setenv("PSS_FAULT_RELEASE", release_path, 1);
	setenv("PSS_FAULT", "after-interrupt:pause", 1);
}

static void hook_release(void)
{
	int fd = open(release_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

static void hook_disarm(void)
{
	unsetenv("PSS_FAULT");
	unsetenv("PSS_FAULT_RELEASE");
	unlink(release_path);
}

struct bg {
	pid_t pid;
	pthread_t th;
	DWORD result;
	HPSS snap;
	atomic_int done;
};

static void *bg_capture(void *arg)
{
	struct bg *b = arg;

	b->result = capture_pid(b->pid, CTX_FLAGS, CONTEXT_ALL, &b->snap);
	atomic_store(&b->done, 1);
	return NULL;
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

/* Start a capture that pauses with every thread of @pid in ptrace stop. */
static void held_capture(struct bg *b, pid_t pid)
{
	memset(b, 0, sizeof(*b));
	b->pid = pid;
	hook_arm();
	REQUIRE(pthread_create(&b->th, NULL, bg_capture, b) == 0, "pthread_create");
	if (!all_threads_in(pid, 't', 10000)) {
		hook_release();
		pthread_join(b->th, NULL);
		hook_disarm();
		if (b->snap)
			free_snap(b->snap);
		REQUIRE(0, "the capture never held %d in ptrace stop (PSS_FAULT hook not honoured?)", pid);
	}
}

static DWORD release_capture(struct bg *b)
{
	hook_release();
	pthread_join(b->th, NULL);
	hook_disarm();
	if (b->snap)
		free_snap(b->snap);
	diag("held capture returned %s", err_name(b->result));
	return b->result;
}

/* Proves (row 12, exact instant): a signal sent while every thread is held
 * in ptrace stop is delivered exactly once after the release. */
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
	held_capture(&b, t.pid);
	REQUIRE(sigqueue(t.pid, SIGRTMIN + 4, v) == 0, "sigqueue");
	msleep(50);
	CHECK_ERR(release_capture(&b), ERROR_SUCCESS);
	wait_rt4(&t, 1, r, sizeof(r));
	msleep(50);
	target_cmdf(&t, r, sizeof(r), "sigcount");
	CHECK_EQ_INT(reply_get(r, "rt4", -1), 1);
	CHECK_EQ_INT(reply_get(r, "rt4sum", -1), 77);
	check_victim_fine(&t);
}

/* Proves (row 13): a SIGSTOP sent while the capture holds the target leaves
 * it stopped in every thread afterwards; its parent sees exactly one
 * CLD_STOPPED with SIGSTOP; SIGCONT resumes it. */
TEST(row13_sigstop_during_capture)
{
	struct target t;
	char r[256];
	struct bg b;
	pid_t child;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "spawnchild");
	child = (pid_t)reply_get(r, "child", -1);
	REQUIRE(child > 0, "victim: %s", r);
	REQUIRE(all_threads_in(child, 'S', 5000), "child threads not asleep");
	held_capture(&b, child);
	kill(child, SIGSTOP);
	msleep(50);
	release_capture(&b);
	CHECK(all_threads_in(child, 'T', 3000), "child not stopped in every thread (state %c)",
	      proc_state(child));
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK(no_thread_traced(child), "child thread left traced");
	target_cmdf(&t, r, sizeof(r), "waitchild consume");
	CHECK(reply_get(r, "pid", 0) == child && reply_get(r, "code", 0) == CLD_STOPPED &&
	      reply_get(r, "status", 0) == SIGSTOP, "parent saw: %s", r);
	target_cmdf(&t, r, sizeof(r), "waitchild");
	CHECK_EQ_INT(reply_get(r, "pid", -1), 0);	/* no second notification */
	target_cmdf(&t, r, sizeof(r), "contchild");
	CHECK_EQ_INT(reply_get(r, "code", 0), CLD_CONTINUED);
	CHECK(all_threads_in(child, 'S', 3000), "child not running after SIGCONT");
}

/* Proves (row 14): SIGCONT sent while the capture holds a stopped target
 * leaves it running afterwards. */
TEST(row14_sigcont_during_capture)
{
	struct target t;
	char r[256];
	struct bg b;
	pid_t child;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "stopchild");
	child = (pid_t)reply_get(r, "child", -1);
	REQUIRE(child > 0 && all_threads_in(child, 'T', 3000), "victim: %s", r);
	held_capture(&b, child);
	kill(child, SIGCONT);
	msleep(50);
	release_capture(&b);
	CHECK(all_threads_in(child, 'S', 3000), "child not running after SIGCONT (state %c)",
	      proc_state(child));
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK(no_thread_traced(child), "child thread left traced");
}

/* rows 16/17: a target stopped by @sig before the capture */
static void stopped_target(const char *sig, int signo)
{
	struct target t;
	char r[256];
	pid_t child;
	struct walk w;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "stopchild %s", sig);
	child = (pid_t)reply_get(r, "child", -1);
	REQUIRE(child > 0 && reply_get(r, "status", 0) == signo, "victim: %s", r);
	REQUIRE(all_threads_in(child, 'T', 3000), "child not stopped in every thread");
	for (int i = 0; i < 3; i++) {
		HPSS s = capture_ok(child, CTX_FLAGS, CONTEXT_ALL);

		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
		CHECK_EQ_U64(w.count, 3);
		for (size_t k = 0; k < w.count; k++) {
			PSS_THREAD_ENTRY *e = WALK_ITEM(&w, PSS_THREAD_ENTRY, k);

			CHECK_EQ_U64(e->SuspendCount, 1);
			CHECK(e->ContextRecord != NULL, "stopped thread %u without context", e->ThreadId);
		}
		walk_release(&w);
		free_snap(s);
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

/* Proves (row 17): as row 16 with SIGTSTP, and si_status stays SIGTSTP. */
TEST(row17_stopped_by_sigtstp)
{
	stopped_target("TSTP", SIGTSTP);
}

/* Proves (row 20): threads exiting continuously: 20 captures succeed, every
 * listed thread was stopped (has a context) or is marked terminated, and
 * the target carries on. */
TEST(row20_thread_churn)
{
	struct target t;
	char r[256];
	int ok = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "churn");
	for (int i = 0; i < 20; i++) {
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
 * capture too, and stays an untouched zombie. */
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
 * never left traced or stopped. */
TEST(row23_target_exits_during_capture)
{
	REQUIRE_PTRACE();
	srand((unsigned)getpid());
	for (int round = 0; round < 6; round++) {
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
	}
}

/* Proves (row 27): an already traced target is ERROR_ACCESS_DENIED, and the
 * existing tracer still receives its events afterwards. */
TEST(row27_already_traced)
{
	struct target t;
	char r[256];
	HPSS s = (HPSS)0x1;
	int st = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	victim_idle(&t);
	REQUIRE(ptrace(PTRACE_SEIZE, t.pid, 0, 0) == 0, "PTRACE_SEIZE: %s", strerror(errno));
	CHECK_ERR(capture_pid(t.pid, CTX_FLAGS, CONTEXT_ALL, &s), ERROR_ACCESS_DENIED);
	CHECK(s == NULL, "SnapshotHandle set after a failure");
	CHECK_EQ_INT(proc_tracer_pid(t.pid), getpid());
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

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
