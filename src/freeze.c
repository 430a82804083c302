// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The stop: seize and interrupt every thread of the target, read each
 * thread's registers, repair the EINTR some calls would see, release every
 * thread exactly as it was.  Runs in the tracer (tracer.c), which
 * owns the ptrace relationships and has every signal blocked.
 *
 *   prepare   (target running)  table from s->threads, buffers allocated
 *   seize     PTRACE_SEIZE(PTRACE_O_TRACEEXEC) each tid of /proc/PID/task,
 *             then PTRACE_INTERRUPT each: every interrupt is sent before we
 *             wait for any, so a thousand threads stop in parallel
 *   wait      waitpid(tid, __WALL) per thread, polled against a deadline;
 *             every stop is classified by (event, WSTOPSIG), never by order;
 *             a thread is read as soon as it stops:
 *             NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE, debug registers,
 *             signal mask; EINTR repair (see freeze_eintr_repairable)
 *   rescan    until a scan made while every seized thread is stopped finds
 *             nothing new (a stopped thread cannot create threads), at most
 *             FREEZE_MAX_PASSES scans
 *   release   PTRACE_DETACH every thread in one tight loop (data = the
 *             signal of a signal-delivery-stop, else 0)
 *   deferred  (256 threads or more) the threads left out of the pause,
 *             blocked in a call and proven not to have run: seized, read
 *             and let go 64 at a time (see "deferred threads" below)
 *   merge     (target running again) registers into s->threads by tid
 *
 * The next issue injects the clone between "rescan" and "release"; threads
 * flagged no_inject (signal-delivery-stop, group stop) must not be chosen.
 *
 * Kernel facts this relies on (checked on Linux 6.18):
 * - PTRACE_INTERRUPT reports PTRACE_EVENT_STOP with SIGTRAP for a running or
 *   sleeping thread, and with the stop signal for a group-stopped one.
 * - PTRACE_DETACH of a group-stopped thread puts it back into the group
 *   stop (__ptrace_unlink), so nothing is re-sent.  Pending traps (ours, and
 *   the one SEIZE arms on a stopped task) are cleared at detach.
 * - PTRACE_DETACH needs a stopped tracee.  A thread that never reaches its
 *   stop (vfork parent, uninterruptible sleep) can only be released by the
 *   tracer's exit: see tracer_retire().
 * - A traced thread that dies stays a zombie until its tracer reaps it, so
 *   dead threads are reaped here with waitpid.
 */
#include "internal.h"
#include "snapshot.h"
#include "freeze.h"
#include "fault.h"
#include "inject.h"
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FXSAVE_SW_RESERVED 464		/* bytes 464-511 of FXSAVE: software's */
#define FREEZE_RT_MIN_THREADS 64	/* fewer: the 4 policy calls cost more than they save */
#define FREEZE_DEFER_MIN_THREADS 256	/* fewer: the pause is short anyway */
#define FREEZE_DEFER_BATCH 64		/* deferred threads stopped at a time */
#define FREEZE_DEFER_WOKE_RUNS 3	/* runs since the list of a thread woken "once" */
#define FREEZE_DEFER_MAX_WOKE 1		/* more such threads: a churning pool, no deferral */
#define FREEZE_DEFER_WAIT_NS (200 * 1000 * 1000ull)	/* for a batch's stops */
#define FREEZE_MAX_PASSES 10		/* task list scans before -EAGAIN */
#define FREEZE_DEFAULT_TIMEOUT_MS 2000
#define FREEZE_GRACE_NS (100 * 1000 * 1000ull)	/* waiting for stops on error paths */
#define FREEZE_POLL_MIN_NS 20000L	/* 20 us */
#define FREEZE_POLL_MAX_NS 1000000L	/* 1 ms */

#ifndef ERESTARTNOHAND
#define ERESTARTNOHAND 514		/* kernel-internal, include/linux/errno.h */
#endif

enum frz_state {
	FT_UNSEIZED,			/* listed, not (yet) seized */
	FT_PENDING,			/* seized and interrupted, stop not seen yet */
	FT_STOPPED,			/* in a ptrace stop we can read and detach */
	FT_DEAD,			/* died while traced, not yet reaped */
	FT_GONE,			/* exited, reaped, or never there */
};

struct frz_thread {
	pid_t tid;
	uint8_t state;			/* enum frz_state */
	bool group_stop;		/* was in a group stop when we came */
	bool sig_stop;			/* signal-delivery-stop: sig goes back at detach */
	bool no_inject;			/* never run injected code in this thread */
	bool eintr_fixed;		/* saved rax rewritten -EINTR -> -ERESTARTNOHAND */
	bool have_regs;
	bool deferred;			/* idle in a call: stopped after the pause */
	bool xstate_own;		/* r.xstate is its own block, not in the pool */
	unsigned scan_gen;		/* last scan that listed this tid */
	int sig;			/* the dequeued signal of a signal-delivery-stop */
	int exit_status;		/* wait status when it died under us; -1 unknown */
	ssize_t sidx;			/* index in s->threads, -1 if it appeared later */
	uint64_t runs;			/* deferred: its run count before the pause */
	siginfo_t si;			/* siginfo of the dequeued signal */
	struct thread_regs r;		/* r.xstate preallocated (xsize bytes) */
};

struct freeze {
	struct pss_snapshot *s;
	pid_t pid;
	int taskfd;
	struct frz_thread *t;		/* pss_malloc; grows geometrically */
	size_t n, cap;
	uint32_t *hash;			/* open addressing: index + 1, 0 = empty */
	size_t hcap;			/* a power of two, >= 2 * cap */
	size_t xsize;			/* xstate buffer bytes (0: none) */
	uint8_t *xpool;		/* xpool_n buffers of xsize bytes, touched */
	size_t xpool_n, xpool_used;
	unsigned gen;			/* current scan */
	unsigned pending;		/* threads in FT_PENDING */
	unsigned nseized;		/* every thread we ever seized */
	uint64_t deadline;		/* CLOCK_MONOTONIC ns */
	uint64_t stop_start;		/* CLOCK_MONOTONIC ns of the first interrupt */
	uint64_t t_interrupted;		/* the first pass's last interrupt sent */
	uint64_t t_stopped;		/* every thread of the first pass stopped */
	uint64_t t_stable;		/* a rescan found nobody new */
	unsigned long polls, idle_polls;	/* waitpid calls; those that found nothing */
	bool releasing;			/* in freeze_release: stops are only let go */
	bool leader_zombie;		/* the leader is a corpse (it called pthread_exit) */
	bool want_debugregs;
	size_t ndeferred;		/* threads with t->deferred */
	size_t first_deferred;		/* index of the first of them */
	unsigned defer_declined;	/* idle threads woken since the list, if too many */
	pid_t stale_tid;		/* the deferred thread that ran after all */
	const char *stale_why;
	uint64_t t_deferred;		/* the deferred threads all read */
	uint64_t deferred_max_ns;	/* the longest batch, first interrupt to last detach */
};

/*
 * The syscalls whose -EINTR we rewrite to -ERESTARTNOHAND at our own
 * PTRACE_EVENT_STOP.  A syscall belongs here only if (a) it returns -EINTR
 * to user space whenever a signal is pending, our trap included (signal(7),
 * "Interruption of system calls ... by stop signals"), (b) restarting it
 * with the same arguments is harmless (nothing was consumed before the
 * EINTR), and (c) the restart keeps its signal semantics: with a real
 * signal and a handler the kernel turns -ERESTARTNOHAND back into -EINTR
 * (handle_signal), without one it re-runs the call.
 *   232 epoll_wait, 281 epoll_pwait, 441 epoll_pwait2: nothing is consumed
 *       before EINTR.  The pwait variants keep their temporary mask with
 *       TIF_RESTORE_SIGMASK when they return -EINTR; on restart the kernel
 *       restores the saved mask (arch_do_signal_or_restart) and the call
 *       installs the temporary mask again, so a signal only that mask
 *       admits still ends the restarted call with EINTR and runs its
 *       handler inside the temporary mask, as before.
 *   128 rt_sigtimedwait: the awaited set is only unblocked while it sleeps
 *       and the mask is restored before it returns, so the restart waits
 *       for the same set again; a later awaited signal is still taken.
 *    65 semop, 220 semtimedop: a sleeping semop has not applied its
 *       operations (they are retried as a whole after the wake-up).
 * The cost, accepted by POSIX: a relative timeout starts again in full.
 * Deliberately not here: read/recv on sockets with SO_RCVTIMEO (a driver
 * may return -EINTR for reasons of its own), the ppoll/pselect/sigsuspend
 * family (they already return -ERESTARTNOHAND or use the restart block).
 */
bool freeze_eintr_repairable(long nr)
{
	switch (nr) {
	case SYS_epoll_wait:		/* 232 */
	case SYS_epoll_pwait:		/* 281 */
	case 441:			/* epoll_pwait2 (Linux 5.11) */
	case SYS_rt_sigtimedwait:	/* 128 */
	case SYS_semop:			/* 65 */
	case SYS_semtimedop:		/* 220 */
		return true;
	default:
		return false;
	}
}

/* ---- the thread table ---- */

static size_t frz_hash_slot(const struct freeze *f, pid_t tid)
{
	return ((uint32_t)tid * 2654435761u) & (f->hcap - 1);
}

static struct frz_thread *frz_find(const struct freeze *f, pid_t tid)
{
	size_t i;

	for (i = frz_hash_slot(f, tid); f->hash[i]; i = (i + 1) & (f->hcap - 1)) {
		if (f->t[f->hash[i] - 1].tid == tid)
			return &f->t[f->hash[i] - 1];
	}
	return NULL;
}

/* Rebuild the hash for @hcap slots. */
static int frz_rehash(struct freeze *f, size_t hcap)
{
	uint32_t *h = pss_calloc(hcap, sizeof(*h));
	size_t k, i;

	if (!h)
		return -ENOMEM;
	pss_free(f->hash);
	f->hash = h;
	f->hcap = hcap;
	for (k = 0; k < f->n; k++) {
		for (i = frz_hash_slot(f, f->t[k].tid); h[i]; i = (i + 1) & (hcap - 1))
			;
		h[i] = k + 1;
	}
	return 0;
}

/* Add @tid (not present yet).  Allocates only when the preallocated table is
 * full, so inside the stop this happens for threads born since the scan. */
static struct frz_thread *frz_add(struct freeze *f, pid_t tid, ssize_t sidx)
{
	struct frz_thread *t;
	size_t i;

	if (f->n == f->cap) {
		size_t hcap = f->hcap;

		if (pss_vec_grow(&f->t, &f->cap, f->n + 1, sizeof(*f->t)))
			return NULL;
		while (hcap < 2 * f->cap)
			hcap *= 2;
		if (hcap != f->hcap && frz_rehash(f, hcap))
			return NULL;
	}
	t = &f->t[f->n];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->sidx = sidx;
	t->exit_status = -1;
	if (f->xsize && f->xpool_used < f->xpool_n) {
		t->r.xstate = f->xpool + f->xpool_used++ * f->xsize;
	} else if (f->xsize) {
		t->r.xstate = pss_malloc(f->xsize);
		if (!t->r.xstate)
			return NULL;
		memset(t->r.xstate, 0, f->xsize);	/* no page fault inside the stop */
		t->xstate_own = true;
	}
	for (i = frz_hash_slot(f, tid); f->hash[i]; i = (i + 1) & (f->hcap - 1))
		;
	f->hash[i] = ++f->n;
	return t;
}

static void frz_release_table(struct freeze *f)
{
	size_t k;

	for (k = 0; k < f->n; k++)
		if (f->t[k].xstate_own)
			pss_free(f->t[k].r.xstate);
	pss_free(f->xpool);
	f->xpool = NULL;
	f->xpool_n = f->xpool_used = 0;
	pss_free(f->t);
	pss_free(f->hash);
	f->t = NULL;
	f->hash = NULL;
	f->n = f->cap = 0;
}

/* Before the stop: the table holds every thread threads_collect listed, each
 * with its xstate buffer, plus room for some newcomers. */
static int freeze_prepare(struct freeze *f, struct pss_snapshot *s, bool want_xstate)
{
	char path[40];
	size_t k, cap, hcap = 64;

	f->s = s;
	f->pid = s->pid;
	f->xsize = want_xstate ? xstate_regset_size() : 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)s->pid);
	f->taskfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->taskfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;

	cap = s->nthreads + 16;
	f->t = pss_calloc(cap, sizeof(*f->t));
	if (!f->t)
		goto out_nomem;
	f->cap = cap;
	if (f->xsize) {
		/* One block for the XSAVE images of the threads we know, each
		 * page touched now: with 10,000 threads of an AMX machine
		 * (11 KiB each) the page faults would otherwise take tens of
		 * milliseconds inside the stop. */
		f->xpool = pss_calloc(cap, f->xsize);
		if (!f->xpool)
			goto out_nomem;
		memset(f->xpool, 0, cap * f->xsize);
		f->xpool_n = cap;
	}
	while (hcap < 2 * cap)
		hcap *= 2;
	if (frz_rehash(f, hcap))
		goto out_nomem;
	for (k = 0; k < s->nthreads; k++) {
		if (frz_find(f, s->threads[k].tid))
			continue;
		if (!frz_add(f, s->threads[k].tid, (ssize_t)k))
			goto out_nomem;
	}
	return 0;

out_nomem:
	frz_release_table(f);
	close(f->taskfd);
	f->taskfd = -1;
	return -ENOMEM;
}

/* ---- seize ---- */

/* EPERM from PTRACE_SEIZE: someone else traces the thread (-EBUSY), it is a
 * zombie (gone: 0), or we may not trace it at all (-EPERM).  A rare path, so
 * a /proc read inside the stop is fine here. */
static int freeze_seize_eperm(struct freeze *f, pid_t tid)
{
	struct proc_status st;
	char path[24], *buf;
	size_t len;
	int err;

	snprintf(path, sizeof(path), "%d/status", (int)tid);
	err = read_fileat(f->taskfd, path, &buf, &len);
	if (err)
		return err == -ENOENT ? 0 : -EPERM;
	err = proc_status_parse(buf, len, &st);
	pss_free(buf);
	if (err)
		return -EPERM;
	if (st.tracer_pid) {
		pr_debug("thread %d is already traced by pid %d", (int)tid, (int)st.tracer_pid);
		return -EBUSY;
	}
	if (st.state == 'Z' || st.state == 'X') {
		/* The leader's corpse stays in the thread count until the
		 * whole group is gone (a non-leader's is reaped at once). */
		if (tid == f->pid)
			f->leader_zombie = true;
		return 0;
	}
	return -EPERM;
}

/* task_dir_scan callback: mark every tid of this scan with the scan's
 * generation; tids never seen before join the table as FT_UNSEIZED. */
static int freeze_scan_cb(pid_t tid, void *arg)
{
	struct freeze *f = arg;
	struct frz_thread *t = frz_find(f, tid);

	if (!t) {
		t = frz_add(f, tid, -1);
		if (!t)
			return -ENOMEM;
	}
	t->scan_gen = f->gen;
	return 0;
}

/*
 * The loop that lets every thread go runs under SCHED_FIFO where we may
 * use it (CAP_SYS_NICE or RLIMIT_RTPRIO).  Otherwise each detached thread
 * preempts the tracer and runs its few microseconds back into its call,
 * through a copy-on-write fault after the clone (glibc's rseq area is
 * written on every return to user space), before the next one is let go:
 * the last thread waits for the work of all the others, 90-95 ms of
 * detaches at 10,000 threads instead of 45-55.  Real-time, the tracer
 * detaches them all at syscall speed while they run on the other CPUs,
 * and on ours once the loop ends.  Only that tight loop of non-blocking
 * calls runs real-time: the interrupts gain nothing from it (the stops
 * then only come later), and a wait would starve the threads it waits for.
 */
static int rt_policy = -1;		/* what the tracer ran under before */
static struct sched_param rt_saved;

static bool rt_enter(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	rt_policy = sched_getscheduler(0);
	if (rt_policy < 0 || rt_policy == SCHED_FIFO || rt_policy == SCHED_RR ||
	    sched_getparam(0, &rt_saved))
		return false;
	return !sched_setscheduler(0, SCHED_FIFO, &sp);
}

static void rt_leave(void)
{
	sched_setscheduler(0, rt_policy, &rt_saved);
}

/* One pass: scan the task list, seize every listed thread not seized yet,
 * then interrupt each of them.  *ret_new is how many we seized. */
static int freeze_seize_pass(struct freeze *f, unsigned *ret_new)
{
	unsigned seized = 0;
	size_t k;
	int err;

	f->gen++;
	err = task_dir_scan(f->taskfd, freeze_scan_cb, f);
	if (err)
		return err;
	for (k = 0; k < f->n; k++) {
		struct frz_thread *t = &f->t[k];

		if (t->state != FT_UNSEIZED || t->scan_gen != f->gen || t->deferred)
			continue;
		if (!ptrace(PTRACE_SEIZE, t->tid, 0, PTRACE_O_TRACEEXEC)) {
			t->state = FT_PENDING;
			f->pending++;
			f->nseized++;
			seized++;
			continue;
		}
		if (errno == ESRCH) {		/* exited since the scan */
			t->state = FT_GONE;
			continue;
		}
		if (errno != EPERM)
			return -errno;
		err = freeze_seize_eperm(f, t->tid);
		if (err)
			return err;
		t->state = FT_GONE;		/* a zombie thread (e.g. the leader
						 * after pthread_exit) */
	}
	if (f->gen == 1)
		fault_point("after-seize");
	/* Interrupt only after seizing the whole batch: the pipelined stop.
	 * A seized thread runs on until its interrupt, so the pause starts
	 * here, not at the first seize (with 10,000 threads the seizes alone
	 * take tens of milliseconds during which nothing is stopped). */
	if (!f->stop_start)
		f->stop_start = now_ns(CLOCK_MONOTONIC);
	for (k = 0; k < f->n; k++) {
		struct frz_thread *t = &f->t[k];

		/* ESRCH: it is dying; its exit comes through waitpid. */
		if (t->state == FT_PENDING && t->scan_gen == f->gen)
			ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);
	}
	if (f->gen == 1) {
		f->t_interrupted = now_ns(CLOCK_MONOTONIC);
		fault_point("after-interrupt");
	}
	*ret_new = seized;
	return 0;
}

/* ---- wait and classify ---- */

static int freeze_read_stopped(struct freeze *f, struct frz_thread *t);

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Classify the wait status of a pending thread.  -ECHILD if the target
 * exec'd (the image we came for is gone). */
static int freeze_classify(struct freeze *f, struct frz_thread *t, int status)
{
	int event = status >> 16, sig;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->state = FT_GONE;		/* the wait reaped it */
		t->exit_status = status;
		f->pending--;
		return 0;
	}
	if (!WIFSTOPPED(status))
		return 0;			/* WIFCONTINUED: not with __WALL stops */
	sig = WSTOPSIG(status);
	t->state = FT_STOPPED;
	f->pending--;
	switch (event) {
	case PTRACE_EVENT_STOP:
		if (sig == SIGTRAP)
			return 0;		/* our interrupt of a running thread */
		/* A group stop (the stop signal is reported): SuspendCount 1,
		 * never resume this thread.  Any other signal here would be a
		 * kernel we do not know: take the stop, touch nothing. */
		t->group_stop = is_stop_signal(sig);
		t->no_inject = true;
		return 0;
	case PTRACE_EVENT_EXEC:
		pr_debug("thread %d exec'd during the capture", (int)t->tid);
		t->no_inject = true;
		return -ECHILD;
	case 0:
		/* Signal-delivery-stop: the thread dequeued @sig.  It goes back
		 * as the data of PTRACE_DETACH, the one way ptrace(2) re-injects
		 * a signal with its siginfo, so it is delivered exactly once. */
		t->sig_stop = true;
		t->no_inject = true;
		t->sig = sig;
		if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &t->si))
			memset(&t->si, 0, sizeof(t->si));
		return 0;
	default:
		/* No other event is enabled; treat it as a plain stop. */
		t->no_inject = true;
		return 0;
	}
}

/* Wait until no thread is pending or @deadline passes (-ETIMEDOUT).  Polls
 * each pending thread with WNOHANG (never waitpid(-1): the host may have
 * children of its own) and sleeps a little when nothing moved. */
static int freeze_wait_stops(struct freeze *f, uint64_t deadline)
{
	long nap = FREEZE_POLL_MIN_NS;
	int err = 0;

	while (f->pending) {
		bool moved = false;
		size_t k;

		for (k = 0; k < f->n && f->pending; k++) {
			struct frz_thread *t = &f->t[k];
			int status, e;
			pid_t r;

			if (t->state != FT_PENDING)
				continue;
			r = waitpid(t->tid, &status, __WALL | __WNOTHREAD | WNOHANG);
			f->polls++;
			if (!r) {
				f->idle_polls++;
				continue;
			}
			moved = true;
			if (r < 0) {
				/* ECHILD: no longer our tracee (a host thread's
				 * waitpid(-1) reaped it): nothing to release. */
				t->state = FT_GONE;
				f->pending--;
				continue;
			}
			e = freeze_classify(f, t, status);
			if (e && !err)
				err = e;
			/* Read it at once: pipelined with the stops of the
			 * others, and it shortens the window in which a death
			 * of the tracer would leave an unrepaired EINTR. */
			if (t->state == FT_STOPPED && !f->releasing && !err)
				err = freeze_read_stopped(f, t);
		}
		if (err)
			return err;
		if (moved) {
			nap = FREEZE_POLL_MIN_NS;
			continue;
		}
		if (now_ns(CLOCK_MONOTONIC) >= deadline)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ 0, nap }, NULL);
		nap = MIN(nap * 2, FREEZE_POLL_MAX_NS);
	}
	return 0;
}

static size_t freeze_count_stopped(const struct freeze *f)
{
	size_t k, n = 0;

	for (k = 0; k < f->n; k++)
		n += f->t[k].state == FT_STOPPED;
	return n;
}

/*
 * Whether the kernel's thread count says no thread is unknown to us, so
 * that the rescan can be skipped (with 10,000 threads it costs ~10 ms of
 * pause).  Only once nothing is pending.  Every thread we count is
 * certainly in the kernel's count (signal->nr_threads, "Threads:"): a
 * stopped one, one that died under us (we have not reaped it), and the
 * leader's corpse.  So an equal count leaves no room for a thread we do
 * not know; any doubt (a read error, a count that differs either way)
 * means a rescan.
 */
static bool freeze_all_known(struct freeze *f)
{
	struct proc_status st;
	size_t k, known = f->leader_zombie;
	char *buf;
	size_t len;
	int err;

	if (read_fileat(f->taskfd, "../status", &buf, &len))
		return false;
	err = proc_status_parse(buf, len, &st);
	pss_free(buf);
	if (err)
		return false;
	for (k = 0; k < f->n; k++)
		known += f->t[k].state == FT_STOPPED || f->t[k].state == FT_DEAD ||
			 (f->t[k].deferred && f->t[k].state == FT_UNSEIZED);
	return st.threads == known;
}

/* Seize and stop every thread: passes until a scan made with everything
 * stopped finds nobody new, or until the thread count says there is
 * nobody new to find. */
static int freeze_stop_all(struct freeze *f)
{
	unsigned pass, seized = 0;
	int err;

	for (pass = 0; pass < FREEZE_MAX_PASSES; pass++) {
		err = freeze_seize_pass(f, &seized);
		if (err)
			return err;
		if (!f->nseized)		/* no thread left to seize */
			return f->ndeferred ? -ESTALE : -ESRCH;
		if (!seized && !f->pending)
			break;			/* stable */
		err = freeze_wait_stops(f, f->deadline);
		if (err)
			return err;
		if (!f->t_stopped)
			f->t_stopped = now_ns(CLOCK_MONOTONIC);
		if (freeze_all_known(f))
			break;
	}
	if (pass < FREEZE_MAX_PASSES) {
		f->t_stable = now_ns(CLOCK_MONOTONIC);
		if (freeze_count_stopped(f))
			return 0;
		return f->ndeferred ? -ESTALE : -ESRCH;
	}
	pr_debug("threads of %d kept appearing after %d scans", (int)f->pid, FREEZE_MAX_PASSES);
	return -EAGAIN;
}

/* ---- registers ---- */

static int getregset(pid_t tid, int type, void *buf, size_t *len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = *len };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)(long)type, &iov))
		return -errno;
	*len = iov.iov_len;		/* the kernel shortens it to the real size */
	return 0;
}

/* Read one stopped thread's register sets (the kernel core's raw state). */
static int freeze_read_thread(struct freeze *f, struct frz_thread *t)
{
	static const int dr[] = { 0, 1, 2, 3, 6, 7 };
	struct thread_regs *r = &t->r;
	size_t len, i;
	int err;

	len = sizeof(r->regs);
	err = getregset(t->tid, NT_PRSTATUS, &r->regs, &len);
	if (err)
		return err;
	r->xstate_len = 0;
	if (r->xstate) {
		len = f->xsize;
		if (!getregset(t->tid, NT_X86_XSTATE, r->xstate, &len))
			r->xstate_len = len;
	}
	if (r->xstate_len >= sizeof(r->fpregs)) {
		/* One call fewer per thread: the XSAVE image begins with the
		 * FXSAVE legacy area that NT_PRFPREG returns, which differs
		 * only in the software-reserved tail (the xstate marker
		 * there, zeros in NT_PRFPREG). */
		memcpy(&r->fpregs, r->xstate, FXSAVE_SW_RESERVED);
		memset((char *)&r->fpregs + FXSAVE_SW_RESERVED, 0,
		       sizeof(r->fpregs) - FXSAVE_SW_RESERVED);
	} else {
		len = sizeof(r->fpregs);
		err = getregset(t->tid, NT_PRFPREG, &r->fpregs, &len);
		if (err)
			return err;
	}
	for (i = 0; f->want_debugregs && i < ARRAY_SIZE(dr); i++) {
		errno = 0;
		r->debugregs[dr[i]] = (uint64_t)ptrace(PTRACE_PEEKUSER, t->tid,
			(void *)offsetof(struct user, u_debugreg[dr[i]]), 0);
		if (errno)
			r->debugregs[dr[i]] = 0;
	}
	if (ptrace(PTRACE_GETSIGMASK, t->tid, (void *)sizeof(r->sigmask), &r->sigmask))
		r->sigmask = 0;
	t->have_regs = true;
	return 0;
}

/* The EINTR repair (see freeze_eintr_repairable), only at a stop we caused:
 * not a group stop (the stop signal itself already made the call return
 * -EINTR, as it would without us), not a signal-delivery-stop (a real
 * signal is being delivered: EINTR is the truth).  t->r keeps the raw
 * registers; only the thread's live copy is changed. */
static void freeze_repair_eintr(struct frz_thread *t)
{
	struct user_regs_struct regs;
	struct iovec iov = { .iov_base = &regs, .iov_len = sizeof(regs) };

	if (t->group_stop || t->sig_stop || !t->have_regs)
		return;
	if ((long)t->r.regs.orig_rax < 0 || (long)t->r.regs.rax != -EINTR)
		return;
	if (!freeze_eintr_repairable((long)t->r.regs.orig_rax))
		return;
	regs = t->r.regs;
	regs.rax = (unsigned long long)-ERESTARTNOHAND;
	if (!ptrace(PTRACE_SETREGSET, t->tid, (void *)NT_PRSTATUS, &iov))
		t->eintr_fixed = true;
}

/* Registers of a thread that just reached its stop, then the repair. */
static int freeze_read_stopped(struct freeze *f, struct frz_thread *t)
{
	int err = freeze_read_thread(f, t);

	if (err == -ESRCH) {
		/* SIGKILLed while stopped; it is dying. */
		t->state = FT_DEAD;
		return 0;
	}
	if (err)
		return err;	/* ENOMEM (regset_get_alloc): stopped, detached as such */
	freeze_repair_eintr(t);
	return 0;
}

/* ---- release ---- */

/* Detach one stopped thread, handing back the signal it dequeued. */
static void freeze_detach_one(struct frz_thread *t)
{
	long data = t->sig_stop ? t->sig : 0;

	if (!ptrace(PTRACE_DETACH, t->tid, 0, (void *)data))
		t->state = FT_GONE;
	else
		t->state = FT_DEAD;		/* ESRCH: killed meanwhile */
}

/* Reap threads that died while traced (they stay zombies until their
 * tracer waits for them); returns how many are still unreaped. */
static unsigned freeze_reap_dead(struct freeze *f)
{
	unsigned left = 0;
	size_t k;

	for (k = 0; k < f->n; k++) {
		struct frz_thread *t = &f->t[k];
		int status;
		pid_t r;

		if (t->state != FT_DEAD)
			continue;
		r = waitpid(t->tid, &status, __WALL | __WNOTHREAD | WNOHANG);
		if (r > 0 && WIFSTOPPED(status)) {
			/* It was alive after all (a stop we had not read):
			 * let it go. */
			freeze_detach_one(t);
			if (t->state == FT_DEAD)
				left++;
		} else if (r == 0) {
			left++;
		} else {
			t->state = FT_GONE;
		}
	}
	return left;
}

/*
 * Release every thread we seized.  Stopped ones are detached first, in one
 * tight loop (that ends the pause).  On error paths some may still be
 * pending: give them a short grace to reach their stop and detach them as
 * they do.  Whatever is left (a thread that will not stop, a corpse not yet
 * reported) is released by retiring the tracer.  Returns the
 * CLOCK_MONOTONIC time the last stopped thread was let go.
 */
static uint64_t freeze_release(struct freeze *f)
{
	uint64_t thawed, grace;
	bool rt;
	size_t k;

	f->releasing = true;
	rt = f->n >= FREEZE_RT_MIN_THREADS && rt_enter();
	for (k = 0; k < f->n; k++) {
		if (f->t[k].state == FT_STOPPED)
			freeze_detach_one(&f->t[k]);
	}
	if (rt)
		rt_leave();
	thawed = now_ns(CLOCK_MONOTONIC);

	grace = thawed + FREEZE_GRACE_NS;
	while (f->pending && now_ns(CLOCK_MONOTONIC) < grace) {
		/* Errors do not matter here: whatever stops is let go. */
		freeze_wait_stops(f, MIN(grace, now_ns(CLOCK_MONOTONIC) + 1000000));
		for (k = 0; k < f->n; k++) {
			if (f->t[k].state == FT_STOPPED)
				freeze_detach_one(&f->t[k]);
		}
	}
	while (freeze_reap_dead(f) && now_ns(CLOCK_MONOTONIC) < grace)
		nanosleep(&(struct timespec){ 0, FREEZE_POLL_MAX_NS }, NULL);

	if (f->pending || freeze_reap_dead(f)) {
		pr_debug("%u thread(s) of %d never stopped; retiring the tracer to release them",
			 f->pending, (int)f->pid);
		tracer_retire();
	}
	return thawed;
}

/* ---- deferred threads ---- */

/*
 * With thousands of threads most sit blocked in a call (a pool waiting on
 * a futex, epoll_wait, accept) and stopping each costs the pause ~10 us of
 * wake-up, stop, wake-up and restart.  A thread that does not run cannot
 * change its registers or the memory, so such a thread need not be in the
 * pause at all if we can prove it did not run from before the pause until
 * we stop it after.  The proof is the kernel's count of the thread's runs
 * (schedstat: +1 each time it is put on a CPU):
 *   collect  runs A, then /proc/TID/syscall shows it blocked in call C
 *            (the kernel checks the thread is off the CPU around that read),
 *            state S (interruptible: our interrupt wakes it)
 *   prepare  runs again == A: not run since, so still blocked in C: deferred
 *            (none is, if more than one idle thread woke once or so since
 *            the list: a pool that wakes its threads in turn)
 *   pause    the other threads stopped, the clone made, the others let go
 *   after    PTRACE_SEIZE, runs again == A (no run until now), interrupt;
 *            at its stop runs == A + 1 (the one run is the way to our
 *            stop), or more with voluntary switches up by one only (the
 *            extra runs were preemptions), and orig_rax, rip, rsp and the
 *            argument registers are C's, rax a code of an interrupted call
 * Anything else (it ran, it died, it stopped otherwise, its registers
 * differ) makes the whole stop -ESTALE: the caller throws the clone away
 * and stops again with every thread in the pause (o->no_defer).
 * Left open: a thread woken in the microsecond between the last count and
 * the interrupt that returns to user space and enters the same call at the
 * same stack within that one run: its callee-saved registers could be
 * those of the later entry (the memory is the instant's either way).
 */
static bool temp_mask_syscall(long nr);

static void freeze_pick_deferred(struct freeze *f)
{
	struct pss_snapshot *s = f->s;
	unsigned woke = 0;
	bool kept = false;
	size_t k;

	if (f->n < FREEZE_DEFER_MIN_THREADS)
		return;
	for (k = 0; k < f->n; k++) {
		struct frz_thread *t = &f->t[k];
		const struct pss_thread *st;
		uint64_t runs;

		if (t->sidx < 0)
			continue;
		st = &s->threads[t->sidx];
		/* A run count of 0 is a kernel that does not count (a thread
		 * that exists has run at least once). */
		if (st->state != 'S' || st->sc.nr < 0 || !st->have_runs || !st->runs)
			continue;
		if (!strncmp(st->comm, "iou-", 4))
			continue;		/* io_uring workers: no user context */
		if (task_read_runs(f->taskfd, t->tid, &runs))
			continue;
		if (runs != st->runs) {
			/* Woken once or so since the list: a thread of a pool
			 * that wakes its threads in turn (see below).  A thread
			 * that ran many times is one busy thread. */
			woke += runs - st->runs <= FREEZE_DEFER_WOKE_RUNS;
			continue;
		}
		/* The first such thread stays in the pause: a thread blocked in
		 * a call is the best host for the clone's injection (and if it
		 * will not do, freeze_make_clone asks for a stop of all). */
		if (!kept && !temp_mask_syscall(st->sc.nr)) {
			kept = true;
			continue;
		}
		t->deferred = true;
		t->runs = runs;
		if (!f->ndeferred++)
			f->first_deferred = k;
	}
	if (woke > FREEZE_DEFER_MAX_WOKE) {
		/* A pool that wakes its idle threads in turn (a job queue):
		 * if a few woke in the short time since the list, some of
		 * those left out would wake before they are read, and the
		 * stop would only be made twice.  Keep them all in it. */
		for (k = 0; k < f->n; k++)
			f->t[k].deferred = false;
		f->ndeferred = 0;
		f->defer_declined = woke;
		return;
	}
	if (!kept && f->ndeferred) {
		/* every one in a call with a temporary mask: keep one anyway */
		f->t[f->first_deferred].deferred = false;
		if (--f->ndeferred) {
			for (k = f->first_deferred + 1; !f->t[k].deferred; k++)
				;
			f->first_deferred = k;
		}
	}
}

/* Record the first reason the stop must be made again; -ESTALE. */
static int freeze_stale(struct freeze *f, const struct frz_thread *t, const char *why)
{
	if (!f->stale_why) {
		f->stale_tid = t ? t->tid : 0;
		f->stale_why = why;
	}
	return -ESTALE;
}

/* voluntary_ctxt_switches of a thread, UINT64_MAX when unknown. */
static uint64_t task_vcsw(struct freeze *f, pid_t tid)
{
	struct proc_status st;
	uint64_t v = UINT64_MAX;
	char path[40], *buf;
	size_t len;

	snprintf(path, sizeof(path), "%d/status", (int)tid);
	if (read_fileat(f->taskfd, path, &buf, &len))
		return v;
	if (!proc_status_parse(buf, len, &st))
		v = st.voluntary_ctxt_switches;
	pss_free(buf);
	return v;
}

/* A deferred thread at its stop: did it stay as it was (see above)? */
static int freeze_deferred_check(struct freeze *f, const struct frz_thread *t)
{
	const struct proc_syscall *sc = &f->s->threads[t->sidx].sc;
	const struct user_regs_struct *r = &t->r.regs;
	long rax = (long)r->rax;
	uint64_t runs;

	if (t->state != FT_STOPPED || !t->have_regs || t->no_inject)
		return freeze_stale(f, t, "another stop than ours");
	if (task_read_runs(f->taskfd, t->tid, &runs) || runs < t->runs + 1)
		return freeze_stale(f, t, "ran before its stop");
	/* More than the one run to our stop: preempted on its way there, or
	 * it had run and slept again before our interrupt.  The second sleeps
	 * voluntarily and the first does not, so count voluntary switches:
	 * one more than when it was listed (its stop). */
	if (runs != t->runs + 1 && task_vcsw(f, t->tid) != f->s->threads[t->sidx].vcsw + 1)
		return freeze_stale(f, t, "ran and slept again before its stop");
	if ((long)r->orig_rax != sc->nr || r->rip != sc->pc || r->rsp != sc->sp ||
	    r->rdi != sc->args[0] || r->rsi != sc->args[1] || r->rdx != sc->args[2] ||
	    r->r10 != sc->args[3] || r->r8 != sc->args[4] || r->r9 != sc->args[5])
		return freeze_stale(f, t, "in another call");
	if (rax != -EINTR && !inject_restartable(r))
		return freeze_stale(f, t, "its call had ended");
	return 0;
}

/*
 * After the pause: stop, read and let go the deferred threads, a batch at a
 * time (each is stopped only for its batch).  0, -ESTALE when one of them
 * proved to have run, or an error.  Whatever it stopped is let go.
 */
static int freeze_deferred(struct freeze *f)
{
	size_t k = 0, b, batch[FREEZE_DEFER_BATCH];
	int err = 0;

	f->releasing = false;
	while (k < f->n && !err) {
		uint64_t t0 = now_ns(CLOCK_MONOTONIC), dt;
		size_t nb = 0;

		for (; k < f->n && nb < ARRAY_SIZE(batch); k++) {
			struct frz_thread *t = &f->t[k];
			uint64_t runs;

			if (!t->deferred)
				continue;
			if (ptrace(PTRACE_SEIZE, t->tid, 0, PTRACE_O_TRACEEXEC)) {
				err = errno == ESRCH || errno == EPERM ?
				      freeze_stale(f, t, "ended") : -errno;
				break;
			}
			t->state = FT_PENDING;
			f->pending++;
			f->nseized++;
			/* The last count right before the interrupt (a seize
			 * changes nothing for the thread): the window left open
			 * above is the time between these two calls. */
			if (task_read_runs(f->taskfd, t->tid, &runs) || runs != t->runs)
				err = freeze_stale(f, t, "ran during the pause");
			ptrace(PTRACE_INTERRUPT, t->tid, 0, 0);	/* seized: stopped to let go */
			batch[nb++] = k;
			if (err)
				break;
		}
		if (nb) {
			int e = freeze_wait_stops(f, now_ns(CLOCK_MONOTONIC) + FREEZE_DEFER_WAIT_NS);

			/* A deferred thread that does not reach its stop went
			 * into another sleep: it ran. */
			if (e && !err)
				err = e == -ETIMEDOUT ? freeze_stale(f, &f->t[batch[0]], "never stopped")
						      : e;
		}
		if (nb && batch[0] == f->first_deferred)
			fault_point("in-deferred");
		for (b = 0; b < nb; b++) {
			struct frz_thread *t = &f->t[batch[b]];

			if (!err)
				err = freeze_deferred_check(f, t);
			if (t->state == FT_STOPPED)
				freeze_detach_one(t);
		}
		dt = now_ns(CLOCK_MONOTONIC) - t0;
		f->deferred_max_ns = MAX(f->deferred_max_ns, dt);
	}
	freeze_release(f);		/* anything still pending or dead */
	f->t_deferred = now_ns(CLOCK_MONOTONIC);
	return err;
}

/* ---- merge into the snapshot (target running again) ---- */

static int frz_to_snapshot(struct frz_thread *ft, struct pss_thread *st)
{
	uint8_t *x = ft->r.xstate;

	if (x && !ft->xstate_own) {
		/* From the pool: the snapshot gets its own copy, of the size
		 * the kernel really wrote. */
		x = NULL;
		if (ft->r.xstate_len) {
			x = pss_malloc(ft->r.xstate_len);
			if (!x)
				return -ENOMEM;
			memcpy(x, ft->r.xstate, ft->r.xstate_len);
		}
	}
	st->r = ft->r;			/* the xstate buffer moves to the snapshot */
	st->r.xstate = x;
	ft->r.xstate = NULL;
	ft->xstate_own = false;
	st->have_regs = true;
	if (ft->group_stop) {
		st->stopped_before = true;
		st->e.SuspendCount = 1;
	}
	return 0;
}

/* Append a thread that was not in the list threads_collect made. */
static int freeze_merge_new(struct freeze *f, struct frz_thread *ft, size_t *cap)
{
	struct pss_snapshot *s = f->s;
	struct pss_thread *st;
	int err;

	if (pss_vec_grow(&s->threads, cap, s->nthreads + 1, sizeof(*s->threads)))
		return -ENOMEM;
	st = &s->threads[s->nthreads];
	memset(st, 0, sizeof(*st));
	err = threads_fill_one(s, f->taskfd, ft->tid, st, false);
	if (err == -ENOENT || err == -ESRCH) {
		/* Exited right after the thaw: keep what we know. */
		st->tid = ft->tid;
		st->e.ProcessId = (DWORD)s->pid;
		st->e.ThreadId = (DWORD)ft->tid;
		st->e.ExitStatus = STILL_ACTIVE;
		st->sc.nr = -2;
	} else if (err) {
		return err;
	}
	err = frz_to_snapshot(ft, st);
	if (err)
		return err;
	s->nthreads++;
	return 0;
}

/* Mark a listed thread that had vanished by the time of the stop. */
static void freeze_mark_terminated(struct pss_thread *st, int status)
{
	st->e.Flags |= PSS_THREAD_FLAGS_TERMINATED;
	st->have_regs = false;
	st->e.ExitStatus = status >= 0 && WIFEXITED(status) ? (DWORD)WEXITSTATUS(status) : 0;
}

/*
 * Move the captured registers into s->threads: by tid, confirming identity
 * with the starttime (a tid can be reused between threads_collect and the
 * stop), appending threads born since, marking threads that vanished.
 */
static int freeze_merge(struct freeze *f)
{
	struct pss_snapshot *s = f->s;
	size_t k, n0 = s->nthreads, cap = s->nthreads;
	bool *matched;
	int err = 0;

	matched = pss_calloc(n0 ? n0 : 1, sizeof(*matched));
	if (!matched)
		return -ENOMEM;
	for (k = 0; k < f->n && !err; k++) {
		struct frz_thread *ft = &f->t[k];
		uint64_t start;

		if (!ft->have_regs)
			continue;
		if (ft->sidx >= 0) {
			struct pss_thread *st = &s->threads[ft->sidx];

			if (threads_read_starttime(f->taskfd, ft->tid, &start) ||
			    ticks_to_ns(start) == st->start_ns) {
				err = frz_to_snapshot(ft, st);
				matched[ft->sidx] = true;
				continue;
			}
			/* Same tid, another thread: the listed one is gone. */
		}
		err = freeze_merge_new(f, ft, &cap);
	}
	for (k = 0; k < n0 && !err; k++) {
		if (!matched[k]) {
			struct frz_thread *ft = frz_find(f, s->threads[k].tid);

			freeze_mark_terminated(&s->threads[k], ft ? ft->exit_status : -1);
		}
	}
	pss_free(matched);
	return err;
}

/* ---- the VA clone, inside the stop ---- */

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#ifndef PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG
#define PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG 0x4211
#endif
#define INJECT_TIMEOUT_NS (5000ull * 1000 * 1000)	/* a clone of a huge target */
#define REAP_BUSY_TRIES 100		/* x 2 ms: another capture of the target */

/* Calls that run with a temporary signal mask: injecting into them would
 * turn the temporary mask into the thread's real one (PTRACE_SETSIGMASK
 * clears TIF_RESTORE_SIGMASK). */
static bool temp_mask_syscall(long nr)
{
	return nr == SYS_ppoll || nr == SYS_pselect6 || nr == SYS_rt_sigsuspend ||
	       nr == SYS_epoll_pwait || nr == 441 /* epoll_pwait2 */;
}

/* The registers a thread resumes with: raw, but with our EINTR repair. */
static void frz_live_regs(const struct frz_thread *t, struct user_regs_struct *r)
{
	*r = t->r.regs;
	if (t->eintr_fixed)
		r->rax = (unsigned long long)-ERESTARTNOHAND;
}

/* A thread running user code is safe to inject into unless it is inside an
 * rseq critical section (its rseq_cs is set): the kernel would clear that
 * when the thread returns to user space at our gadget. */
static bool rseq_idle(pid_t pid, pid_t tid)
{
	struct {
		uint64_t rseq_abi_pointer;
		uint32_t rseq_abi_size, signature, flags, pad;
	} conf;
	uint64_t cs = 1;
	char path[40];
	int fd;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, (void *)sizeof(conf), &conf) <= 0)
		return errno == EIO || errno == EINVAL;	/* kernel without it: no rseq */
	if (!conf.rseq_abi_pointer)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, &cs, sizeof(cs), (off_t)(conf.rseq_abi_pointer + 8)) != sizeof(cs))
		cs = 1;
	close(fd);
	return cs == 0;
}

static bool sud_off(pid_t tid)
{
	struct {
		uint64_t mode, selector, offset, len;
	} sud;

	if (ptrace(PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG, tid, (void *)sizeof(sud), &sud))
		return true;		/* before Linux 6.4: assume off */
	return sud.mode == 0;
}

/*
 * How good a thread is for the injection (0: never).  Best: blocked in a
 * call the kernel restarts by itself (it is not in an rseq critical section
 * and no user computation is disturbed).  Less good: the same inside a
 * group stop, or in a call with a temporary signal mask (ppoll, pselect,
 * sigsuspend, epoll_pwait): PTRACE_GETSIGMASK gave the thread's real mask
 * and PTRACE_SETSIGMASK clears TIF_RESTORE_SIGMASK, which is consistent
 * only because the call restarts from scratch and installs its temporary
 * mask again.  As good: stopped on its way out of a call that has its
 * result (orig_rax >= 0, rax no restart code): the registers put back hold
 * that result and the kernel returns it as it would have (a busy server is
 * nearly always caught there).  Last: running user code outside rseq.
 * orig_rax is -1 for every entry but a syscall (entry_64.S sets it), so
 * orig_rax >= 0 does mean "in a syscall", never a stale value.
 */
static int frz_inject_rank(const struct freeze *f, const struct frz_thread *t, bool check_rseq)
{
	const struct pss_thread *st = t->sidx >= 0 && f->s ? &f->s->threads[t->sidx] : NULL;
	struct user_regs_struct r;
	int rank;

	/* A thread stopped to deliver a signal keeps it for PTRACE_DETACH,
	 * except a stop signal, which we can raise again after the injection
	 * (its sender is not observable). */
	if (t->state != FT_STOPPED || !t->have_regs || (t->sig_stop && !is_stop_signal(t->sig)))
		return 0;
	if (st && !strncmp(st->comm, "iou-", 4))
		return 0;		/* io_uring workers have no user context */
	frz_live_regs(t, &r);
	if ((long)r.orig_rax >= 0) {
		rank = inject_restartable(&r) ? 4 : 3;
		if (t->group_stop || t->sig_stop)
			rank--;
		if (rank == 4 && temp_mask_syscall((long)r.orig_rax))
			rank--;
		return MAX(rank, 2);
	}
	if (!check_rseq || rseq_idle(f->pid, t->tid))
		return 1;
	return 0;
}

/* The best host for the injection.  Threads in user space cost a read of
 * their rseq area each: looked at only when no blocked thread will do. */
static struct frz_thread *freeze_pick_injector(struct freeze *f)
{
	struct frz_thread *best = NULL;
	int best_rank = 1, rank;
	size_t k;

	for (k = 0; k < f->n && best_rank < 4; k++) {
		rank = frz_inject_rank(f, &f->t[k], false);
		if (rank > best_rank) {
			best = &f->t[k];
			best_rank = rank;
		}
	}
	for (k = 0; !best && k < f->n; k++) {
		if (frz_inject_rank(f, &f->t[k], true) == 1)
			best = &f->t[k];
	}
	return best;
}

/* Copy the auxiliary pages (ranges the clone will not hold) while stopped. */
static void freeze_copy_aux(struct freeze *f, struct clone_req *req)
{
	char path[40];
	size_t i;
	int fd;

	if (!req->naux)
		return;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)f->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < req->naux; i++) {
		struct pss_auxpage *a = &req->aux[i];

		if (!a->block)
			continue;
		if (pread(fd, a->block, a->block_len, (off_t)(uintptr_t)a->e.Address) !=
		    (ssize_t)a->block_len)
			memset(a->block, 0, a->block_len);
	}
	close(fd);
}

/* Inject the clone (and the reaping of earlier clones' corpses) into one
 * stopped thread, and give that thread back exactly as it was. */
static int freeze_make_clone(struct freeze *f, struct clone_req *req)
{
	static const uint64_t clone_args[6] = { CLONE_FILES | CLONE_FS, 0, 0, 0, 0, 0 };
	struct frz_thread *t = freeze_pick_injector(f);
	struct inject ij = { .gadget = req->gadget, .want_clone = true };
	struct user_regs_struct live;
	uint64_t t0, c0;
	long ret;
	size_t i;
	int err, err2;

	if (!t && f->ndeferred)
		return freeze_stale(f, NULL, "none in the pause can run the clone");
	if (!t) {
		capture_error_set(-EAGAIN, "no thread of pid %d can safely run the clone syscall: "
				  "each is in an rseq critical section, an io_uring worker, having "
				  "a signal delivered, or in a syscall that does not restart",
				  (int)f->pid);
		return -EAGAIN;
	}
	if (!sud_off(t->tid)) {
		capture_error_set(-EOPNOTSUPP, "thread %d uses syscall user dispatch (Wine?): an "
				  "injected syscall would raise SIGSYS", (int)t->tid);
		return -EOPNOTSUPP;
	}
	ij.tid = t->tid;
	ij.suspend_seccomp = req->suspend_seccomp;
	if (t->sig_stop) {
		/* Our first resume discards the dequeued stop signal: it is
		 * raised again after the release, as one that came a moment
		 * later. */
		t->sig_stop = false;
		ij.stop_sig = t->sig;
	}
	ij.deadline = now_ns(CLOCK_MONOTONIC) + INJECT_TIMEOUT_NS;
	freeze_copy_aux(f, req);
	frz_live_regs(t, &live);
	req->stack = live.rsp;
	err = inject_begin(&ij);
	if (err) {
		if (err == -EPERM && ij.suspend_seccomp)
			capture_error_set(-EOPNOTSUPP, "pid %d uses seccomp: suspending it for the "
					  "clone needs CAP_SYS_ADMIN", (int)f->pid);
		return err == -EPERM ? -EOPNOTSUPP : err;
	}
	for (i = 0; i < req->nzombies; i++) {
		static const uint64_t wnohang_wall = 0x40000000 | 1;	/* __WALL|WNOHANG */
		uint64_t a[6] = { (uint64_t)req->zombies[i], 0, wnohang_wall, 0, 0, 0 };

		ij.want_clone = false;
		err = inject_syscall(&ij, &live, SYS_wait4, a, &ret, NULL);
		if (err)
			goto out_end;
	}
	ij.want_clone = true;
	ij.name_stack = live.rsp;
	t0 = now_ns(CLOCK_MONOTONIC);
	c0 = cycles_now();
	err = inject_syscall(&ij, &live, SYS_clone, clone_args, &ret, &req->clone_pid);
	req->clone_ns = now_ns(CLOCK_MONOTONIC) - t0;
	req->clone_cycles = cycles_now() - c0;
	if (!err && ret < 0) {
		err = (int)ret;
		capture_error_set(err, "clone() failed in pid %d: %s", (int)f->pid, strerror((int)-ret));
	}
out_end:
	err2 = inject_end(&ij, &live, t->r.sigmask);
	req->stop_sig = ij.stop_sig;
	if (!err)
		err = err2;

	if (err && ij.child > 0)
		req->clone_pid = ij.child;	/* the caller destroys it */
	return err;
}

/* task_dir_scan callback: remember up to a few threads blocked in a call
 * we could inject into, from their /proc syscall line (no stop needed). */
struct reap_scan {
	int taskfd;
	pid_t cand[8];
	size_t n;
};

static int reap_scan_cb(pid_t tid, void *arg)
{
	struct reap_scan *rs = arg;
	struct proc_syscall sc;
	char path[32], *buf;
	size_t len;

	if (rs->n == ARRAY_SIZE(rs->cand))
		return 0;
	snprintf(path, sizeof(path), "%d/syscall", (int)tid);
	if (read_fileat(rs->taskfd, path, &buf, &len))
		return 0;
	/* Threads blocked in a call first: they are the best hosts. */
	if (!proc_syscall_parse(buf, len, &sc) && sc.nr >= 0 && rs->n) {
		rs->cand[rs->n++] = rs->cand[0];
		rs->cand[0] = tid;
	} else {
		rs->cand[rs->n++] = tid;
	}
	pss_free(buf);
	return 0;
}

/* Try to reap @zombies through thread @tid: stop it alone, inject, release.
 * -EAGAIN if the thread turned out unsuitable (it is released untouched). */
static int reap_through(struct freeze *f, pid_t tid, const pid_t *zombies, size_t n,
			uint64_t gadget)
{
	struct inject ij = { .tid = tid, .gadget = gadget };
	struct user_regs_struct live;
	struct frz_thread *t;
	long ret;
	size_t i;
	int err = 0;

	/* An injected call under seccomp needs it suspended (CAP_SYS_ADMIN). */
	ij.suspend_seccomp = task_seccomp_mode(tid) > 0;
	if (ij.suspend_seccomp && !have_cap_sys_admin())
		return -EAGAIN;
	t = frz_add(f, tid, -1);
	if (!t)
		return -ENOMEM;
	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACEEXEC))
		return -errno;
	t->state = FT_PENDING;
	f->pending = 1;
	f->nseized = 1;
	ptrace(PTRACE_INTERRUPT, tid, 0, 0);
	err = freeze_wait_stops(f, now_ns(CLOCK_MONOTONIC) + 500 * 1000 * 1000ull);
	if (!err && frz_inject_rank(f, t, true) < 1)
		err = -EAGAIN;
	if (!err) {
		frz_live_regs(t, &live);
		if (t->sig_stop) {
			t->sig_stop = false;	/* raised again below, as in freeze_make_clone */
			ij.stop_sig = t->sig;
		}
		ij.deadline = now_ns(CLOCK_MONOTONIC) + INJECT_TIMEOUT_NS;
		err = inject_begin(&ij);
		for (i = 0; !err && i < n; i++) {
			uint64_t a[6] = { (uint64_t)zombies[i], 0, 0x40000000 | 1, 0, 0, 0 };

			err = inject_syscall(&ij, &live, SYS_wait4, a, &ret, NULL);
		}
		inject_end(&ij, &live, t->r.sigmask);
	}
	freeze_release(f);
	if (ij.stop_sig)
		kill(f->pid, ij.stop_sig);
	return err;
}

/*
 * Reap corpses of our clones, which the kernel gave back to the target (their
 * real parent), by injecting wait4(pid, NULL, __WALL|WNOHANG, NULL) into one
 * thread of the target that is blocked in a restartable call: a stop of one
 * thread for about a millisecond.  Best effort: a target with no such
 * thread keeps the zombie until a later capture reaps it.
 */
int freeze_reap_zombies(pid_t pid, const pid_t *zombies, size_t n, uint64_t gadget)
{
	struct freeze f = { .pid = pid, .taskfd = -1 };
	struct reap_scan rs = { 0 };
	char path[40];
	size_t k;
	int err = -EAGAIN, tries;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	f.taskfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f.taskfd < 0)
		return -ESRCH;
	rs.taskfd = f.taskfd;
	task_dir_scan(f.taskfd, reap_scan_cb, &rs);
	for (k = 0, tries = 0; k < rs.n && err == -EAGAIN; k++) {
		f.t = pss_calloc(4, sizeof(*f.t));
		f.cap = 4;
		if (!f.t || frz_rehash(&f, 16)) {
			err = -ENOMEM;
			frz_release_table(&f);
			break;
		}
		f.n = 0;
		f.pending = 0;
		f.releasing = false;
		err = reap_through(&f, rs.cand[k], zombies, n, gadget);
		frz_release_table(&f);
		/* Another capture holds the thread for a moment: wait for it. */
		if (err == -EPERM && ++tries < REAP_BUSY_TRIES) {
			nanosleep(&(struct timespec){ 0, 2 * 1000 * 1000 }, NULL);
			k--;
			err = -EAGAIN;
		} else if (err == -EPERM) {
			err = -EAGAIN;
		}
	}
	close(f.taskfd);
	return err;
}

/*
 * Stop every thread of s->pid, read its registers into s->threads and let
 * it go exactly as it was.  Runs in the tracer.  On failure every
 * thread is released and s is untouched.  *ret_pause_ns (success only) is
 * the time from the first PTRACE_SEIZE to the last PTRACE_DETACH.
 */
int freeze_capture_regs(struct pss_snapshot *s, const struct freeze_opts *o, uint64_t *ret_pause_ns)
{
	struct freeze f = { .taskfd = -1 };
	unsigned timeout = o->timeout_ms ? o->timeout_ms : FREEZE_DEFAULT_TIMEOUT_MS;
	uint64_t t0, t1, t_clone;
	int err;

	f.want_debugregs = o->want_debugregs;
	err = freeze_prepare(&f, s, o->want_xstate);
	if (err)
		return err;
	if (!o->no_defer)
		freeze_pick_deferred(&f);

	t0 = now_ns(CLOCK_MONOTONIC);
	f.deadline = t0 + (uint64_t)timeout * 1000000ull;
	err = freeze_stop_all(&f);
	if (!err && o->clone)
		err = freeze_make_clone(&f, o->clone);
	if (!err)
		fault_point("before-detach");
	t_clone = now_ns(CLOCK_MONOTONIC);
	t1 = freeze_release(&f);
	if (!err && f.ndeferred) {
		fault_point("before-deferred");
		err = freeze_deferred(&f);
	}
	if (!err && o->stats && f.stop_start) {
		*o->stats = (struct freeze_stats){
			.threads = f.n,
			.interrupt_ns = f.t_interrupted - f.stop_start,
			.stops_ns = f.t_stopped - f.t_interrupted,
			.rescan_ns = f.t_stable - f.t_stopped,
			.clone_ns = t_clone - f.t_stable,
			.release_ns = t1 - t_clone,
			.deferred = f.ndeferred,
			.deferred_ns = f.ndeferred ? f.t_deferred - t1 : 0,
			.deferred_max_ns = f.deferred_max_ns,
			.defer_declined = f.defer_declined,
			.polls = f.polls,
			.idle_polls = f.idle_polls,
		};
	}
	if (err == -ESTALE && o->stats) {
		o->stats->stale_tid = f.stale_tid;
		o->stats->stale_why = f.stale_why ? f.stale_why : "no thread left in the pause";
	}
	/* A stop signal that arrived during the injection was suppressed: it
	 * takes effect now, as if it had come a moment later. */
	if (o->clone && o->clone->stop_sig)
		kill(f.pid, o->clone->stop_sig);
	if (err)
		goto out_free;

	if (o->pidfd >= 0 && !pidfd_alive(o->pidfd)) {
		err = -ESRCH;			/* the whole process died under us */
		goto out_free;
	}
	err = freeze_merge(&f);
	if (!err)
		*ret_pause_ns = t1 - (f.stop_start ? f.stop_start : t0);
out_free:
	frz_release_table(&f);
	close(f.taskfd);
	return err;
}
