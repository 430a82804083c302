// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Run one system call inside a stopped target thread, then give the thread
 * back exactly as it was.  Used for the VA clone (clone) and for reaping the
 * clone's corpse (wait4).  Runs in the tracer, with the thread in a ptrace
 * stop of ours.
 *
 *   inject_begin   block every signal in the thread (PTRACE_SETSIGMASK), set
 *                  TRACESYSGOOD (+ TRACECLONE, + SUSPEND_SECCOMP when asked)
 *   inject_syscall registers: the thread's own, with rax = nr, the args,
 *                  orig_rax = -1 (no restart processing of injected state),
 *                  rip = an existing `syscall` instruction (the vDSO's: no
 *                  code is ever patched), rsp = rbp = 0 (see below);
 *                  PTRACE_SYSCALL to the entry stop, again to the exit stop
 *                  (for clone, through PTRACE_EVENT_CLONE: the child is
 *                  waited for at its first stop and gets PTRACE_O_EXITKILL)
 *   inject_end     the thread's own registers, raw, its mask, its options
 *
 * Raw, not with the restart rule applied by hand: the thread ends at a
 * syscall-exit stop, and PTRACE_DETACH (__ptrace_unlink ->
 * ptrace_signal_wake_up) always sets TIF_SIGPENDING, so on its way out the
 * thread passes through arch_do_signal_or_restart() with these registers:
 * with no signal the kernel restarts the call itself (-ERESTART* and
 * orig_rax); with a signal whose handler runs it turns -ERESTARTNOHAND into
 * EINTR as it would have without us; in a group stop it waits there with
 * the registers it had.  A fix-up by hand would change all three.
 *
 * Why rsp = rbp = 0: the `syscall` instruction needs no stack, and a clone
 * starts with the registers its parent had at the call.  Should the tracer
 * die before PTRACE_O_EXITKILL reaches the clone (the kernel then releases
 * it), its first instruction after the gadget faults on address 0 and it
 * dies without running any code of the target.
 *
 * Signals: everything the thread receives meanwhile stays pending (all
 * blocked) and is delivered after the release; SIGSTOP and its kin cannot be
 * blocked: they are suppressed here and reported in ij->stop_sig so the
 * caller raises them again after the release.
 */
#include "internal.h"
#include "snapshot.h"
#include "inject.h"
#include "fault.h"
#include <elf.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef PTRACE_O_SUSPEND_SECCOMP
#define PTRACE_O_SUSPEND_SECCOMP (1 << 21)
#endif
#define ERESTARTSYS 512		/* kernel-internal, include/linux/errno.h */
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516
#define X86_EFLAGS_TF 0x100

#define INJECT_NAP_NS 10000L		/* 10 us between polls of a stop */
#define INJECT_STEP_NS (5000ull * 1000 * 1000)	/* after a fault point's pause */

static int setregs(pid_t tid, const struct user_regs_struct *r)
{
	struct iovec iov = { .iov_base = (void *)r, .iov_len = sizeof(*r) };

	return ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) ? -errno : 0;
}

static int getregs(pid_t tid, struct user_regs_struct *r)
{
	struct iovec iov = { .iov_base = r, .iov_len = sizeof(*r) };

	return ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) ? -errno : 0;
}

bool inject_restartable(const struct user_regs_struct *r)
{
	long rax = (long)r->rax;

	if ((long)r->orig_rax < 0)
		return false;
	return rax == -ERESTARTSYS || rax == -ERESTARTNOINTR || rax == -ERESTARTNOHAND ||
	       rax == -ERESTART_RESTARTBLOCK;
}

/* Wait for the next stop of @tid before the deadline; 0, -ESRCH if it died,
 * -ETIMEDOUT. */
static int inject_wait(struct inject *ij, pid_t tid, int *status)
{
	pid_t r;

	for (;;) {
		r = waitpid(tid, status, __WALL | __WNOTHREAD | WNOHANG);
		if (r == tid)
			return WIFSTOPPED(*status) ? 0 : -ESRCH;
		if (r < 0)
			return -ESRCH;
		if (now_ns(CLOCK_MONOTONIC) > ij->deadline)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ 0, INJECT_NAP_NS }, NULL);
	}
}

/* Resume @tid to its next syscall stop and wait for it, stepping over the
 * stops that may come first.  *ret_event gets PTRACE_EVENT_CLONE when that
 * stop came instead (the caller then resumes again). */
static int inject_step(struct inject *ij, int *ret_event)
{
	int status, sig, event, err;
	long data = 0;

	for (;;) {
		if (ptrace(PTRACE_SYSCALL, ij->tid, 0, (void *)data))
			return -errno;
		data = 0;
		err = inject_wait(ij, ij->tid, &status);
		if (err)
			return err;
		sig = WSTOPSIG(status);
		event = status >> 16;
		if (sig == (SIGTRAP | 0x80))
			return 0;
		if (event == PTRACE_EVENT_CLONE) {
			*ret_event = event;
			return 0;
		}
		if (event == PTRACE_EVENT_EXEC)
			return -ECHILD;
		if (event == PTRACE_EVENT_STOP)
			continue;	/* a group stop, or the trap SEIZE armed */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			ij->stop_sig = sig;	/* suppressed; raised after the release */
			continue;
		}
		/* Every other signal is blocked: one that is delivered anyway is
		 * forced by the kernel (a fault, seccomp's SIGSYS).  Suppress it:
		 * it was caused by our injected state, not the program. */
		pr_debug("thread %d: signal %d during injection suppressed", (int)ij->tid, sig);
		ij->forced_sig = sig;
	}
}

int inject_begin(struct inject *ij)
{
	uint64_t all = ~0ull;
	long base = ij->keep_exitkill ? PTRACE_O_EXITKILL : PTRACE_O_TRACEEXEC;
	long opts = base | PTRACE_O_TRACESYSGOOD;

	if (ij->want_clone)
		opts |= PTRACE_O_TRACECLONE;
	if (ij->suspend_seccomp)
		opts |= PTRACE_O_SUSPEND_SECCOMP;
	if (ptrace(PTRACE_SETOPTIONS, ij->tid, 0, (void *)opts))
		return -errno;
	if (ptrace(PTRACE_SETSIGMASK, ij->tid, (void *)sizeof(all), &all)) {
		int err = -errno;

		ptrace(PTRACE_SETOPTIONS, ij->tid, 0, (void *)base);
		return err;
	}
	return 0;
}

/* The clone's first stop: give it PTRACE_O_EXITKILL at once, so it dies
 * with its tracer. */
static int inject_take_child(struct inject *ij, pid_t child)
{
	int status, err;

	err = inject_wait(ij, child, &status);
	if (err)
		return err;
	if (ptrace(PTRACE_SETOPTIONS, child, 0, (void *)(long)PTRACE_O_EXITKILL))
		return -errno;
	/* Named before anything else can happen to it, so even a corpse that a
	 * dead tracer leaves behind is recognised (and reaped) later. */
	if (ij->name_stack && clone_name(child, ij->gadget, ij->name_stack, ij->suspend_seccomp))
		pr_debug("clone %d keeps the target's name", (int)child);
	return 0;
}

int inject_syscall(struct inject *ij, const struct user_regs_struct *base, long nr,
		   const uint64_t args[6], long *ret, pid_t *ret_child)
{
	struct user_regs_struct r = *base;
	unsigned long child = 0;
	int err, event = 0;

	r.rax = (unsigned long long)nr;
	r.orig_rax = (unsigned long long)-1;
	r.rdi = args[0], r.rsi = args[1], r.rdx = args[2];
	r.r10 = args[3], r.r8 = args[4], r.r9 = args[5];
	r.rip = ij->gadget;
	r.rsp = 0;
	r.rbp = 0;
	r.eflags &= ~(unsigned long long)X86_EFLAGS_TF;
	err = setregs(ij->tid, &r);
	if (err)
		return err;
	ij->injected = true;
	if (ij->want_clone) {
		fault_point("after-setregs");
		ij->deadline = MAX(ij->deadline, now_ns(CLOCK_MONOTONIC) + INJECT_STEP_NS);
	}
	err = inject_step(ij, &event);		/* to the entry stop */
	if (err)
		return err;
	err = inject_step(ij, &event);		/* to the exit stop, or the clone event */
	if (err)
		return err;
	if (event == PTRACE_EVENT_CLONE) {
		if (ptrace(PTRACE_GETEVENTMSG, ij->tid, 0, &child))
			return -errno;
		ij->child = (pid_t)child;
		fault_point("after-clone-event");
		/* A test's pause at a fault point is not the target's slowness. */
		ij->deadline = MAX(ij->deadline, now_ns(CLOCK_MONOTONIC) + INJECT_STEP_NS);
		err = inject_take_child(ij, (pid_t)child);
		if (err) {
			/* At this event stop the kernel has yet to store the
			 * call's result (the clone's pid) in rax, over the
			 * registers inject_end would put back: finish the call
			 * first, to its exit stop. */
			ij->deadline = MAX(ij->deadline, now_ns(CLOCK_MONOTONIC) + INJECT_STEP_NS);
			event = 0;
			if (inject_step(ij, &event))
				pr_debug("thread %d: no exit stop after the clone event", (int)ij->tid);
			return err;
		}
		fault_point("after-exitkill");
		ij->deadline = MAX(ij->deadline, now_ns(CLOCK_MONOTONIC) + INJECT_STEP_NS);
		event = 0;
		err = inject_step(ij, &event);	/* to the exit stop */
		if (err)
			return err;
	}
	err = getregs(ij->tid, &r);
	if (err)
		return err;
	*ret = (long)r.rax;
	if (ret_child)
		*ret_child = (pid_t)child;
	return 0;
}

int inject_end(struct inject *ij, const struct user_regs_struct *orig, uint64_t sigmask)
{
	int err = 0;

	if (ij->injected) {
		err = setregs(ij->tid, orig);
		ij->injected = false;
	}
	if (ptrace(PTRACE_SETSIGMASK, ij->tid, (void *)sizeof(sigmask), &sigmask) && !err)
		err = -errno;
	if (ptrace(PTRACE_SETOPTIONS, ij->tid, 0,
		   (void *)(long)(ij->keep_exitkill ? PTRACE_O_EXITKILL : PTRACE_O_TRACEEXEC)) && !err)
		err = -errno;
	if (ij->want_clone)
		fault_point("after-restore");
	return err;
}
