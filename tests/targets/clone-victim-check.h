/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The test side of clone-victim-check, for the live tests of the VA clone
 * (include after harness.h): start the victim, feed its pipes and signals,
 * verify its self-checks; find the clones of a target in /proc and watch
 * that none of them ever runs; follow orphaned tracers.
 *
 * A clone is a child of the target whose comm is "pss-clone"; it must never
 * run: while a watcher samples it, its state may only be 't' (ptrace stop)
 * or 'Z'/'X' (dead), unless it is on its way out (SIGKILL pending, or
 * PF_EXITING set), which is how a killed clone looks for a moment.
 *
 * Everything is static and marked unused: each test program uses a part.
 */
#ifndef PSS_TESTS_CLONE_VICTIM_CHECK_H
#define PSS_TESTS_CLONE_VICTIM_CHECK_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define CV_UNUSED __attribute__((unused))
#define CLONE_FLAGS (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)
#define PF_EXITING_ 0x00000004u
#define SIGKILL_BIT (1ull << (SIGKILL - 1))

/* ---- clones seen from /proc ---- */

/* The state letter and flags (stat field 9) of @pid; false if gone. */
static CV_UNUSED bool stat_state_flags(pid_t pid, char *state, unsigned *flags)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_text(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return false;
	if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %u", state, flags) != 2)
		return false;
	return true;
}

static CV_UNUSED bool is_clone(pid_t pid)
{
	char comm[32];

	return task_comm(pid, pid, comm, sizeof(comm)) > 0 && !strcmp(comm, "pss-clone");
}

/* One look at @pid: true if it is in a state where it could run code. */
static CV_UNUSED bool clone_looks_running(pid_t pid, char *seen)
{
	char st;
	unsigned fl;
	uint64_t pnd;

	if (!stat_state_flags(pid, &st, &fl))
		return false;
	*seen = st;
	if (st == 't' || st == 'Z' || st == 'X' || (fl & PF_EXITING_))
		return false;
	pnd = status_hex(pid, 0, "SigPnd");
	if (pnd != UINT64_MAX && ((pnd | status_hex(pid, 0, "ShdPnd")) & SIGKILL_BIT))
		return false;		/* on its way out */
	/* it may have dequeued its SIGKILL between the two reads */
	if (!stat_state_flags(pid, &st, &fl))
		return false;
	*seen = st;
	return !(st == 't' || st == 'Z' || st == 'X' || (fl & PF_EXITING_));
}

/*
 * clone_runs() - true if clone @pid runs: seen in any state but 't', 'Z',
 * 'X' while not dying (SIGKILL pending or PF_EXITING), and still so on
 * every look for 100 ms.  One look is not enough: the kernel runs a clone
 * on its way into its first ptrace stop and while the library's injected
 * prctl names it, and neither runs a user instruction, but on a busy
 * machine the clone may wait for a CPU in state R for a while; a clone
 * that escaped to user space stays running, or asleep in the target's
 * code, for good.
 */
static CV_UNUSED bool clone_runs(pid_t pid, char *seen)
{
	uint64_t until = now_ns() + 100000000ull;

	while (clone_looks_running(pid, seen)) {
		if (now_ns() > until)
			return true;
		msleep(1);
	}
	return false;
}

/* Victims that never have children of their own: every child is a clone,
 * named or not yet named (a clone is named only after the release). */
static pid_t cv_pure[32];

static CV_UNUSED void cv_pure_add(pid_t pid)
{
	for (int i = 0; i < 32; i++)
		if (!cv_pure[i]) {
			cv_pure[i] = pid;
			return;
		}
}

static CV_UNUSED bool cv_is_pure(pid_t pid)
{
	for (int i = 0; i < 32; i++)
		if (cv_pure[i] == pid)
			return true;
	return false;
}

/* clones_of() - the clones among @victim's children (named pss-clone, or
 * any child of a clone-victim-check); *zombies of them dead. */
static CV_UNUSED int clones_of(pid_t victim, pid_t *out, int max, int *zombies)
{
	pid_t kids[256];
	int n = children_of(victim, kids, 256), k = 0;

	if (zombies)
		*zombies = 0;
	for (int i = 0; i < n; i++) {
		if (!is_clone(kids[i]) && !cv_is_pure(victim))
			continue;
		if (zombies && proc_state(kids[i]) == 'Z')
			(*zombies)++;
		if (k < max)
			out[k] = kids[i];
		k++;
	}
	return k;
}

static CV_UNUSED int clone_count(pid_t victim)
{
	pid_t c[64];

	return clones_of(victim, c, 64, NULL);
}

/* A watcher thread: every ~1 ms, any clone of the victim that runs is a failure. */
struct cwatch {
	pid_t victim;
	pthread_t th;
	atomic_int stop, bad, seen, sweeps;
	char what[160];
};

static CV_UNUSED void *cwatch_thread(void *arg)
{
	struct cwatch *w = arg;

	while (!atomic_load(&w->stop)) {
		pid_t c[64];
		int n = clones_of(w->victim, c, 64, NULL);

		for (int i = 0; i < n && i < 64; i++) {
			char st = '?';

			atomic_fetch_add(&w->seen, 1);
			if (clone_runs(c[i], &st) && atomic_fetch_add(&w->bad, 1) == 0)
				snprintf(w->what, sizeof(w->what), "clone %d of %d seen in state %c", c[i],
					 w->victim, st);
		}
		atomic_fetch_add(&w->sweeps, 1);
		msleep(1);
	}
	return NULL;
}

static CV_UNUSED struct cwatch *cwatch_start(pid_t victim)
{
	struct cwatch *w = calloc(1, sizeof(*w));

	REQUIRE(w != NULL, "calloc");
	w->victim = victim;
	REQUIRE(pthread_create(&w->th, NULL, cwatch_thread, w) == 0, "pthread_create");
	return w;
}

static CV_UNUSED void cwatch_end(struct cwatch *w)
{
	atomic_store(&w->stop, 1);
	pthread_join(w->th, NULL);
	diag("clone watcher: %d sweeps, %d clone samples", atomic_load(&w->sweeps), atomic_load(&w->seen));
	CHECK(atomic_load(&w->bad) == 0, "a clone ran: %s (%d bad samples)", w->what, atomic_load(&w->bad));
	free(w);
}

/* The clone of a live snapshot: its pid, checked against the contract. */
static CV_UNUSED pid_t clone_of_snap(HPSS s, pid_t victim)
{
	PSS_VA_CLONE_INFORMATION vi;
	char path[64], buf[1024], *p, st = 0;
	int ppid = -1, exit_signal = -1;
	pid_t cpid;

	memset(&vi, 0, sizeof(vi));
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_VA_CLONE_INFORMATION, &vi, sizeof(vi)), ERROR_SUCCESS);
	REQUIRE(vi.VaCloneHandle != NULL, "no VaCloneHandle");
	cpid = (pid_t)GetProcessId(vi.VaCloneHandle);
	REQUIRE(cpid > 0, "GetProcessId(VaCloneHandle) = %d", cpid);
	snprintf(path, sizeof(path), "/proc/%d/stat", cpid);
	REQUIRE(read_text(path, buf, sizeof(buf)) > 0 && (p = strrchr(buf, ')')), "no %s", path);
	sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
		      "%*u %*u %*d %*u %*u %*u %*u %*u %*u %*u %*u %*u %*u %*u %*u %*u %d",
	       &st, &ppid, &exit_signal);
	CHECK(st == 't', "clone %d in state %c, not t", cpid, st);
	CHECK_EQ_INT(ppid, victim);
	CHECK_EQ_INT(exit_signal, 0);
	CHECK(is_clone(cpid), "clone %d comm is not pss-clone", cpid);
	return cpid;
}

/* ---- the self-checking victim ---- */

struct cv {
	struct target t;
	pid_t main, reader, sleeper, epoll, futex, regs, rseq;
	int rfd, efd;			/* our write ends of its two fed pipes */
	unsigned char rseq_b, eseq_b;
	long rd_sent, ep_sent, rt1_sent, rt2_sent, rt3_sent, rt2_sum, rt3_sum, fx_sent;
	long long spin_iters;
	int sleepers;			/* parked threads ("sleepers N") */
	bool zombie_ok;			/* a dead tracer's corpse may be there */
	bool ep_eintr_ok;		/* one EINTR of epoll_wait is not ours (see callers) */
};

static CV_UNUSED int open_fd_of(pid_t pid, long fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", pid, fd);
	return open(path, O_WRONLY | O_CLOEXEC);
}

static CV_UNUSED void cv_start(struct cv *v, bool rseq)
{
	const char *args[] = { rseq ? "rseq" : NULL, NULL };
	char r[512];
	int e;

	memset(v, 0, sizeof(*v));
	e = target_start(&v->t, "clone-victim-check", args);
	REQUIRE(e == 0, "cannot start clone-victim-check: %s", strerror(-e));
	cv_pure_add(v->t.pid);
	target_cmdf(&v->t, r, sizeof(r), "info");
	v->main = v->t.pid;
	v->reader = (pid_t)reply_get(r, "reader", 0);
	v->sleeper = (pid_t)reply_get(r, "sleeper", 0);
	v->epoll = (pid_t)reply_get(r, "epoll", 0);
	v->futex = (pid_t)reply_get(r, "futex", 0);
	v->regs = (pid_t)reply_get(r, "regs", 0);
	v->rseq = (pid_t)reply_get(r, "rseq", 0);
	v->rfd = open_fd_of(v->t.pid, reply_get(r, "reader_w", -1));
	v->efd = open_fd_of(v->t.pid, reply_get(r, "epoll_w", -1));
	REQUIRE(v->rfd >= 0 && v->efd >= 0, "cannot open the victim's pipes: %s", strerror(errno));
	REQUIRE(wait_thread_syscall(v->t.pid, v->reader, SYS_read, 5000) == 0, "reader not in read()");
	REQUIRE(wait_thread_syscall(v->t.pid, v->epoll, SYS_epoll_wait, 5000) == 0, "epoller not in epoll_wait()");
	REQUIRE(wait_thread_syscall(v->t.pid, v->futex, SYS_futex, 5000) == 0, "futexer not in futex()");
	REQUIRE(wait_thread_syscall(v->t.pid, v->sleeper, SYS_clock_nanosleep, 5000) == 0,
		"sleeper not in clock_nanosleep()");
	victim_idle(&v->t);
}

/* Threads of @pid that have a tracer or sit in a ptrace or group stop
 * ('t' or 'T'), out of every thread it has. */
static CV_UNUSED int cv_threads_held(pid_t pid)
{
	pid_t tids[2048];
	int n = thread_ids(pid, tids, 2048), held = 0;

	for (int i = 0; i < n && i < 2048; i++) {
		char st = thread_state(pid, tids[i]);

		if (thread_tracer_pid(pid, tids[i]) > 0 || st == 't' || st == 'T')
			held++;
	}
	return held;
}

/*
 * cv_sleepers() - give the victim @n parked threads (blocked forever in a
 * futex wait) and wait until each of them sits in futex(); skip the test
 * if the kernel will not make that many threads.
 */
static CV_UNUSED void cv_sleepers(struct cv *v, int n)
{
	pid_t tids[2048];
	char r[256], comm[32];
	int nt, parked = 0;

	target_cmdf(&v->t, r, sizeof(r), "sleepers %d", n);
	if (reply_get(r, "err", -1) == EAGAIN)
		SKIP("the kernel refuses %d more threads: %s", n, r);
	REQUIRE(reply_get(r, "err", -1) == 0 && reply_get(r, "pk_n", -1) == v->sleepers + n, "victim: %s", r);
	v->sleepers += n;
	nt = thread_ids(v->t.pid, tids, 2048);
	REQUIRE(nt > 0 && nt <= 2048, "victim has %d threads", nt);
	for (int i = 0; i < nt; i++) {
		if (task_comm(v->t.pid, tids[i], comm, sizeof(comm)) <= 0 || strcmp(comm, "parked"))
			continue;
		parked++;
		REQUIRE(wait_thread_syscall(v->t.pid, tids[i], SYS_futex, 5000) == 0,
			"parked thread %d not in futex() (now %ld)", tids[i], thread_syscall(v->t.pid, tids[i]));
	}
	REQUIRE(parked == v->sleepers, "%d parked threads found, want %d", parked, v->sleepers);
	victim_idle(&v->t);
}

static CV_UNUSED void sendq(pid_t pid, pid_t tid, int sig, int value)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = value;
	if (tid)
		CHECK(syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &si) == 0, "rt_tgsigqueueinfo: %s",
		      strerror(errno));
	else
		CHECK(syscall(SYS_rt_sigqueueinfo, pid, sig, &si) == 0, "rt_sigqueueinfo: %s", strerror(errno));
}

/* One event of each kind: a byte to each pipe, one counted SIGRTMIN+1. */
static CV_UNUSED void cv_feed(struct cv *v)
{
	unsigned char b = v->rseq_b++;

	CHECK(write(v->rfd, &b, 1) == 1, "write reader pipe: %s", strerror(errno));
	b = v->eseq_b++;
	CHECK(write(v->efd, &b, 1) == 1, "write epoll pipe: %s", strerror(errno));
	v->rd_sent++;
	v->ep_sent++;
	sendq(v->t.pid, 0, SIGRTMIN + 1, (int)v->rt1_sent++);
}

/* Queue @n blocked signals: SIGRTMIN+2 process-wide, SIGRTMIN+3 to main. */
static CV_UNUSED void cv_queue_blocked(struct cv *v, int n)
{
	for (int i = 0; i < n; i++) {
		sendq(v->t.pid, 0, SIGRTMIN + 2, (int)v->rt2_sent);
		v->rt2_sum += v->rt2_sent++;
		sendq(v->t.pid, v->t.pid, SIGRTMIN + 3, (int)v->rt3_sent);
		v->rt3_sum += v->rt3_sent++;
	}
}

#define CHECK_ZERO(r, key) \
	CHECK(reply_get(r, key, -1) == 0, "victim %s = %lld", key, reply_get(r, key, -1))

/*
 * cv_verify() - the victim noticed nothing: every event sent arrived once,
 * in order, no call returned EINTR or early, the registers held, the queued
 * blocked signals are still there once each, no parked thread's wait
 * ever returned, nobody traces it and no thread is left stopped (unless
 * @stopped: then it must still be in group stop, and is continued here
 * first).
 */
static CV_UNUSED void cv_verify(struct cv *v, bool stopped)
{
	char r[1024];
	uint64_t deadline;

	if (proc_state(v->t.pid) == 'Z' || proc_state(v->t.pid) == 0) {
		int st = target_wait(&v->t, 2000);

		REQUIRE(0, "the victim %d died: status 0x%x (%s)", v->t.pid, st,
			st >= 0 && WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");
	}
	if (stopped) {
		pid_t tids[64];
		int n = thread_ids(v->t.pid, tids, 64);

		for (int i = 0; i < n && i < 64; i++)
			CHECK(thread_state(v->t.pid, tids[i]) == 'T', "thread %d in state %c, not still stopped",
			      tids[i], thread_state(v->t.pid, tids[i]));
		CHECK(kill(v->t.pid, SIGCONT) == 0, "SIGCONT");
	}
	CHECK_EQ_INT(proc_tracer_pid(v->t.pid), 0);
	CHECK(no_thread_traced(v->t.pid), "a victim thread is still traced or in a ptrace stop");
	if (v->sleepers && !stopped)
		CHECK(cv_threads_held(v->t.pid) == 0, "%d of the victim's %d threads are traced or stopped",
		      cv_threads_held(v->t.pid), thread_count(v->t.pid));
	cv_feed(v);
	target_cmdf(&v->t, r, sizeof(r), "futex-wake");
	CHECK_EQ_INT(reply_get(r, "futex_wakes", -1), ++v->fx_sent);
	deadline = now_ns() + 5000000000ull;
	do {
		target_cmdf(&v->t, r, sizeof(r), "check %ld", v->rt1_sent);
		if (reply_get(r, "rd_bytes", -1) == v->rd_sent && reply_get(r, "ep_bytes", -1) == v->ep_sent &&
		    reply_get(r, "rt1_n", -1) == v->rt1_sent)
			break;
		msleep(5);
	} while (now_ns() < deadline);
	CHECK_EQ_INT(reply_get(r, "rd_bytes", -1), v->rd_sent);
	CHECK_EQ_INT(reply_get(r, "ep_bytes", -1), v->ep_sent);
	CHECK_EQ_INT(reply_get(r, "rt1_n", -1), v->rt1_sent);
	CHECK_ZERO(r, "spin_bad");
	CHECK_ZERO(r, "stdin_eintr");
	CHECK_ZERO(r, "rd_bad");
	CHECK_ZERO(r, "rd_eintr");
	CHECK_ZERO(r, "rd_err");
	CHECK_ZERO(r, "sl_eintr");
	CHECK_ZERO(r, "sl_err");
	CHECK_ZERO(r, "sl_short");
	CHECK_ZERO(r, "ep_bad");
	if (v->ep_eintr_ok)
		CHECK(reply_get(r, "ep_eintr", -1) <= 1, "victim ep_eintr = %lld",
		      reply_get(r, "ep_eintr", -1));
	else
		CHECK_ZERO(r, "ep_eintr");
	CHECK_ZERO(r, "ep_err");
	CHECK_ZERO(r, "ep_zero");
	CHECK_ZERO(r, "fx_eintr");
	CHECK_ZERO(r, "fx_err");
	CHECK_ZERO(r, "fx_spurious");
	CHECK_ZERO(r, "rs_bad");
	CHECK_ZERO(r, "pk_returns");
	CHECK_EQ_INT(reply_get(r, "pk_n", -1), v->sleepers);
	CHECK_ZERO(r, "rt1_dup");
	CHECK_ZERO(r, "rt1_bad");
	CHECK_ZERO(r, "rt1_missing");
	CHECK(reply_get(r, "spin_iters", 0) > v->spin_iters, "the register spinner stopped (%lld)",
	      reply_get(r, "spin_iters", 0));
	v->spin_iters = reply_get(r, "spin_iters", 0);
	if (harness_failures())
		diag("victim: %s", r);
	target_cmdf(&v->t, r, sizeof(r), "rtcheck %ld %ld", v->rt2_sent, v->rt3_sent);
	CHECK_EQ_INT(reply_get(r, "rt2_n", -1), v->rt2_sent);
	CHECK_EQ_INT(reply_get(r, "rt3_n", -1), v->rt3_sent);
	CHECK_EQ_INT(reply_get(r, "rt2_sum", -1), v->rt2_sum);
	CHECK_EQ_INT(reply_get(r, "rt3_sum", -1), v->rt3_sum);
	CHECK_ZERO(r, "rt2_dup");
	CHECK_ZERO(r, "rt3_dup");
	CHECK_ZERO(r, "rt2_missing");
	CHECK_ZERO(r, "rt3_missing");
	CHECK_ZERO(r, "rt2_bad");
	CHECK_ZERO(r, "rt3_bad");
	/* the target's own wait never sees a clone (but a corpse left by a
	 * dead tracer is its child until the next capture reaps it) */
	if (v->zombie_ok)
		return;
	target_cmdf(&v->t, r, sizeof(r), "waitany");
	CHECK(reply_get(r, "ret", 1) == 0 || (reply_get(r, "ret", 1) == -1 && reply_get(r, "errno", 0) == ECHILD),
	      "the victim's waitpid(-1) returned %s", r);
}

/* Free a snapshot and check its clone is gone, no zombie left. */
static CV_UNUSED void free_and_check(HPSS s, pid_t victim)
{
	free_snap(s);
	CHECK_EQ_INT(clone_count(victim), 0);
}

/* One capture + free by this process (the "next capture" of a victim). */
static CV_UNUSED void capture_free_clean(pid_t victim)
{
	HPSS s = capture_ok(victim, CLONE_FLAGS, CONTEXT_ALL);

	clone_of_snap(s, victim);
	free_and_check(s, victim);
}

/* Our children named pss-tracer (re-parented to us, a child subreaper). */
static CV_UNUSED int orphan_tracers(pid_t *out, int max, bool *alive)
{
	pid_t kids[256];
	int n = children_of(getpid(), kids, 256), k = 0;

	*alive = false;
	for (int i = 0; i < n; i++) {
		char comm[32];

		if (task_comm(kids[i], kids[i], comm, sizeof(comm)) <= 0 || strcmp(comm, "pss-tracer"))
			continue;
		if (proc_state(kids[i]) != 'Z')
			*alive = true;
		if (k < max)
			out[k++] = kids[i];
	}
	return k;
}

/*
 * wait_cleanup() - after the host died: within @ms no clone of @victim is
 * left (not even a zombie) and every orphaned tracer has exited (we reap
 * it).  Returns the milliseconds it took, -1 on timeout.
 */
static CV_UNUSED long wait_cleanup(pid_t victim, int ms)
{
	uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)ms * 1000000ull;

	for (;;) {
		pid_t tr[32];
		bool alive;
		int nt = orphan_tracers(tr, 32, &alive);

		for (int i = 0; i < nt; i++)
			if (proc_state(tr[i]) == 'Z')
				waitpid(tr[i], NULL, __WALL | WNOHANG);
		if (!alive && clone_count(victim) == 0)
			return (long)((now_ns() - t0) / 1000000);
		if (now_ns() > deadline)
			return -1;
		msleep(5);
	}
}

static CV_UNUSED void describe_clones(pid_t victim)
{
	pid_t c[16];
	int z, n = clones_of(victim, c, 16, &z);

	for (int i = 0; i < n && i < 16; i++)
		diag("clone %d left under %d in state %c", c[i], victim, proc_state(c[i]));
}

#endif /* PSS_TESTS_CLONE_VICTIM_CHECK_H */
