/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Injected system calls (inject.c) and the VA clone built on them
 * (freeze.c, clone.c).  Tracer only.
 */
#ifndef PSS_INJECT_H
#define PSS_INJECT_H

#include "snapshot.h"

struct inject {
	pid_t tid;			/* a thread in a ptrace stop of ours */
	uint64_t gadget;		/* address of a `syscall` instruction in the target */
	uint64_t deadline;		/* CLOCK_MONOTONIC ns */
	bool want_clone;		/* PTRACE_O_TRACECLONE, fault points */
	bool suspend_seccomp;		/* PTRACE_O_SUSPEND_SECCOMP (needs CAP_SYS_ADMIN) */
	bool keep_exitkill;		/* the tracee is a clone: its options keep EXITKILL */
	uint64_t name_stack;		/* name the clone at once, its name written below this */
	/* out */
	bool injected;			/* the thread holds injected registers */
	int stop_sig;			/* a stop signal suppressed meanwhile, to raise again */
	int forced_sig;			/* a forced signal suppressed meanwhile */
	pid_t child;			/* the clone, once it exists */
};

/* The thread is blocked in a system call the kernel restarts by itself. */
bool inject_restartable(const struct user_regs_struct *r);

int inject_begin(struct inject *ij);
/* Run syscall @nr(args) in ij->tid; the result in *ret (-errno of the call
 * itself is a result, not an error).  For clone, *ret_child is the child,
 * stopped, with PTRACE_O_EXITKILL. */
int inject_syscall(struct inject *ij, const struct user_regs_struct *base, long nr,
		   const uint64_t args[6], long *ret, pid_t *ret_child);
/* Put back the thread's registers (@orig, raw: see inject.c), mask and
 * options.  The thread must then be detached, not resumed otherwise. */
int inject_end(struct inject *ij, const struct user_regs_struct *orig, uint64_t sigmask);

/* vaclone.c: the pid of @pid as its own pid namespace sees it. */
pid_t pid_in_own_ns(pid_t pid);

/* clone.c: the VA clone's life after the stop, and its end. */
struct clone_req {
	uint64_t gadget;
	const pid_t *zombies;		/* leftover clones of earlier captures, to reap */
	size_t nzombies;
	struct pss_auxpage *aux;	/* pages to copy during the stop (buffers ready) */
	size_t naux;
	bool suspend_seccomp;
	/* out */
	pid_t clone_pid;
	uint64_t stack;			/* the injected thread's stack pointer */
	int stop_sig;
	uint64_t clone_ns;		/* how long the clone syscall took */
	uint64_t clone_cycles;
};

/* Inside the stop: name the clone "pss-clone" (an injected prctl). */
int clone_name(pid_t clone, uint64_t gadget, uint64_t stack, bool suspend_seccomp);
/* After the release: make the clone the OOM killer's first choice, and
 * remember it so the tracer kills it if our host dies. */
int clone_settle(pid_t target, pid_t clone, pid_t clone_tns, uint64_t gadget, uint64_t stack);
/* Kill and reap a clone, then reap its corpse in the target by injecting
 * wait4 into one of the target's threads. */
int clone_destroy(pid_t target, pid_t clone, pid_t clone_in_target_ns, uint64_t gadget);
/* Tracer exit path: destroy every clone still alive. */
void clones_destroy_all(void);
/* The Seccomp: mode of a task from its status (0 when unknown). */
int task_seccomp_mode(pid_t tid);
/* The calling thread has CAP_SYS_ADMIN (needed to suspend seccomp). */
bool have_cap_sys_admin(void);
/* freeze.c: stop one suitable thread of @pid, inject wait4 for each pid of
 * @zombies (pids in the target's namespace), release it. */
int freeze_reap_zombies(pid_t pid, const pid_t *zombies, size_t n, uint64_t gadget);

#endif /* PSS_INJECT_H */
