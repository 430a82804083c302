/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private glue between the stop machinery (freeze.c, tracer.c), the thread
 * facet (threads.c) and the x86-64 helpers (arch/x86_64/xstate.c).  The
 * facet prototypes themselves are in snapshot.h.
 */
#ifndef PSS_FREEZE_H
#define PSS_FREEZE_H

#include "snapshot.h"

/* tracer.c: called by a job in the tracer that leaves a tracee it
 * cannot detach (interrupt sent, stop never reached): the tracer exits after
 * the job, which makes the kernel detach every tracee and cancel pending
 * traps; the next tracer_run starts a new tracer. */
void tracer_retire(void);
/* tracer.c: tracer_retire() was called in this job: some thread is still
 * our tracee until the tracer exits. */
bool tracer_retiring(void);

/* threads.c: call cb(tid, arg) for each entry of an open /proc/PID/task
 * directory (rewound first).  No allocation: safe inside the stop.  Stops
 * at the first negative return of cb and returns it; 0 at the end. */
int task_dir_scan(int taskfd, int (*cb)(pid_t tid, void *arg), void *arg);

/* threads.c: fill @t from /proc/PID/task/@tid (stat, status, syscall,
 * affinity) as threads_collect does, with the run count first if @runs.
 * -ENOENT/-ESRCH if the thread is gone. */
int threads_fill_one(struct pss_snapshot *s, int taskfd, pid_t tid, struct pss_thread *t,
		     bool runs);

/* threads.c: how many times the thread has been put on a CPU (the third
 * field of /proc/PID/task/TID/schedstat, CONFIG_SCHED_INFO).  No allocation. */
int task_read_runs(int taskfd, pid_t tid, uint64_t *ret);

/* threads.c: the thread's starttime (clock ticks since boot) from its stat. */
int threads_read_starttime(int taskfd, pid_t tid, uint64_t *ret);

/* freeze.c: the syscalls whose -EINTR at our interrupt-stop is rewritten
 * to -ERESTARTNOHAND (exported for the unit test of the whitelist). */
bool freeze_eintr_repairable(long nr);

/* arch/x86_64/xstate.c: bytes to offer PTRACE_GETREGSET NT_X86_XSTATE
 * (the largest XSAVE image of this CPU), 0 if the CPU has no XSAVE. */
size_t xstate_regset_size(void);

#endif /* PSS_FREEZE_H */
