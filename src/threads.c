// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The threads facet: PSS_THREAD_ENTRY and the Linux detail of every thread,
 * from /proc/PID/task/TID/{stat,status,syscall} and sched_getaffinity().
 * threads_collect() never stops the target; the registers come from the
 * stop (freeze.c) and become CONTEXT records in threads_build_contexts().
 *
 * Priorities.  Linux has a nice value (per thread) and a policy; Windows a
 * priority class and a level 0-31.  One table, used for Priority and
 * BasePriority alike (Linux has no dynamic boost to report):
 *
 *   policy / nice                 NT class        level
 *   SCHED_IDLE, or nice >= 15     IDLE            4
 *   nice 5 .. 14                  BELOW_NORMAL    6
 *   nice -4 .. 4                  NORMAL          8
 *   nice -14 .. -5                ABOVE_NORMAL    10
 *   nice <= -15                   HIGH            13
 *   SCHED_FIFO, SCHED_RR          REALTIME        16 + rt_priority * 15 / 99 (max 31)
 *   SCHED_DEADLINE                REALTIME        31
 *
 * Threads that vanish while we read them (ENOENT, ESRCH) are skipped: the
 * list is the set of threads that existed for the whole scan.
 */
#include "internal.h"
#include "snapshot.h"
#include "freeze.h"
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

/* Call cb for each numeric entry of the task directory (see freeze.h). */
int task_dir_scan(int taskfd, int (*cb)(pid_t tid, void *arg), void *arg)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n, off;
	int err;

	if (lseek(taskfd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		n = getdents64(taskfd, buf, sizeof(buf));
		if (n < 0)
			return errno == ENOENT ? -ESRCH : -errno;
		if (n == 0)
			return 0;
		for (off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			char *end;
			long tid;

			off += d->d_reclen;
			if (d->d_name[0] < '1' || d->d_name[0] > '9')
				continue;
			tid = strtol(d->d_name, &end, 10);
			if (*end || tid <= 0 || tid > INT32_MAX)
				continue;
			err = cb((pid_t)tid, arg);
			if (err < 0)
				return err;
		}
	}
}

/* The NT priority level of a thread: the one table of procinfo.c.
 * SCHED_DEADLINE threads run before everything: the top level. */
static int nt_priority(int nice, unsigned policy, unsigned rt_priority)
{
	int level;

	if (policy == SCHED_DEADLINE)
		return 31;
	priority_from_sched(nice, policy, rt_priority, NULL, &level);
	return level;
}

static int read_task_file(int taskfd, pid_t tid, const char *name, char **buf, size_t *len)
{
	char path[48];
	int err;

	snprintf(path, sizeof(path), "%d/%s", (int)tid, name);
	err = read_fileat(taskfd, path, buf, len);
	/* A thread that exited leaves an empty or missing file. */
	if (!err && !*len) {
		pss_free(*buf);
		return -ESRCH;
	}
	return err;
}

int task_read_runs(int taskfd, pid_t tid, uint64_t *ret)
{
	char path[40], buf[96];
	unsigned long long runs;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%d/schedstat", (int)tid);
	fd = openat(taskfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	if (sscanf(buf, "%*u %*u %llu", &runs) != 1)
		return -EINVAL;
	*ret = runs;
	return 0;
}

/* stat: times, state, scheduling, comm. */
static int fill_from_stat(int taskfd, pid_t tid, struct pss_thread *t)
{
	struct proc_stat st;
	char *buf;
	size_t len;
	int err;

	err = read_task_file(taskfd, tid, "stat", &buf, &len);
	if (err)
		return err;
	err = proc_stat_parse(buf, len, &st);
	if (err)
		goto out_free;
	t->comm_len = MIN(st.comm.len, sizeof(t->comm) - 1);
	memcpy(t->comm, st.comm.p, t->comm_len);
	t->comm[t->comm_len] = '\0';
	t->state = st.state;
	t->nice = (int)st.nice;
	t->policy = st.policy;
	t->rt_priority = st.rt_priority;
	t->processor = (unsigned)st.processor;
	t->utime_ns = ticks_to_ns(st.utime);
	t->stime_ns = ticks_to_ns(st.stime);
	t->start_ns = ticks_to_ns(st.starttime);
	t->e.CreateTime = filetime_from_boot_ticks(st.starttime);
	t->e.KernelTime = filetime_from_duration_ns(t->stime_ns);
	t->e.UserTime = filetime_from_duration_ns(t->utime_ns);
	t->e.Priority = nt_priority(t->nice, t->policy, t->rt_priority);
	t->e.BasePriority = t->e.Priority;
	/* 'T' stopped (group stop), 't' stopped by a tracer. */
	t->stopped_before = st.state == 'T' || st.state == 't';
	t->e.SuspendCount = t->stopped_before ? 1 : 0;
	t->e.ExitStatus = STILL_ACTIVE;
	if (st.state == 'Z' || st.state == 'X') {
		/* A zombie thread: the leader after pthread_exit(). */
		t->e.Flags |= PSS_THREAD_FLAGS_TERMINATED;
		t->e.ExitStatus = st.nfields >= 52 ? (DWORD)((st.exit_code >> 8) & 0xff) : 0;
	}
out_free:
	pss_free(buf);
	return err;
}

/* status: signal masks.  Optional: a parse failure leaves them 0. */
static int fill_from_status(int taskfd, pid_t tid, struct pss_thread *t)
{
	struct proc_status st;
	char *buf;
	size_t len;
	int err;

	err = read_task_file(taskfd, tid, "status", &buf, &len);
	if (err)
		return err;
	if (!proc_status_parse(buf, len, &st)) {
		t->sig_blk = st.sig_blk;
		t->sig_pnd = st.sig_pnd;
		t->sig_shd = st.shd_pnd;
		t->seccomp = st.seccomp;
		t->vcsw = st.voluntary_ctxt_switches;
	}
	pss_free(buf);
	return 0;
}

/* syscall: the call the thread is blocked in.  Needs ptrace access; without
 * it (or "running") the syscall is unknown (0xFFFF). */
static void fill_from_syscall(int taskfd, pid_t tid, struct pss_thread *t)
{
	char *buf;
	size_t len;

	t->sc.nr = -2;
	if (!read_task_file(taskfd, tid, "syscall", &buf, &len)) {
		if (proc_syscall_parse(buf, len, &t->sc))
			t->sc.nr = -2;
		pss_free(buf);
	}
	if (t->sc.nr >= 0) {
		t->e.LastSyscallNumber = (WORD)t->sc.nr;
		t->e.LastSyscallFirstArgument = (void *)(uintptr_t)t->sc.args[0];
	} else {
		t->e.LastSyscallNumber = 0xFFFF;
		t->e.LastSyscallFirstArgument = NULL;
	}
}

/* The first 64 CPUs the thread may run on, as a mask. */
static ULONG_PTR thread_affinity(pid_t tid)
{
	cpu_set_t set;
	ULONG_PTR mask = 0;
	int cpu;

	if (sched_getaffinity(tid, sizeof(set), &set))
		return 0;
	for (cpu = 0; cpu < 64; cpu++) {
		if (CPU_ISSET(cpu, &set))
			mask |= (ULONG_PTR)1 << cpu;
	}
	return mask;
}

/* Fill one thread from /proc (see freeze.h). */
int threads_fill_one(struct pss_snapshot *s, int taskfd, pid_t tid, struct pss_thread *t,
		     bool runs)
{
	int err;

	memset(t, 0, sizeof(*t));
	t->tid = tid;
	/* The run count first: if a later read finds it unchanged, the thread
	 * has been off the CPU ever since, and what stat, status and syscall
	 * say of it still holds (see freeze_pick_deferred). */
	t->have_runs = runs && !task_read_runs(taskfd, tid, &t->runs);
	err = fill_from_stat(taskfd, tid, t);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	err = fill_from_status(taskfd, tid, t);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	fill_from_syscall(taskfd, tid, t);
	t->e.AffinityMask = thread_affinity(tid);
	t->e.ProcessId = (DWORD)s->pid;
	t->e.ThreadId = (DWORD)tid;
	t->e.CaptureTime = filetime_from_unix_ns(now_ns(CLOCK_REALTIME));
	t->e.Win32StartAddress = tid == s->pid ? (void *)(uintptr_t)s->auxv_entry : NULL;
	return 0;
}

int threads_read_starttime(int taskfd, pid_t tid, uint64_t *ret)
{
	struct proc_stat st;
	char *buf;
	size_t len;
	int err;

	err = read_task_file(taskfd, tid, "stat", &buf, &len);
	if (err)
		return err;
	err = proc_stat_parse(buf, len, &st);
	pss_free(buf);
	if (!err)
		*ret = st.starttime;
	return err;
}

struct collect_ctx {
	struct pss_snapshot *s;
	int taskfd;
	size_t cap;
	bool runs;
};

static int collect_cb(pid_t tid, void *arg)
{
	struct collect_ctx *c = arg;
	struct pss_snapshot *s = c->s;
	int err;

	if (pss_vec_grow(&s->threads, &c->cap, s->nthreads + 1, sizeof(*s->threads)))
		return -ENOMEM;
	err = threads_fill_one(s, c->taskfd, tid, &s->threads[s->nthreads], c->runs);
	if (err == -ESRCH)
		return 0;		/* vanished while we read it */
	if (err)
		return err;
	s->nthreads++;
	return 0;
}

/*
 * The thread list from /proc/PID/task (procfd is /proc/PID).  Never stops
 * the target.  Fills s->threads and s->nthreads; s->have_threads on success.
 */
int threads_collect(struct pss_snapshot *s, int procfd, bool for_stop)
{
	struct collect_ctx c = { .s = s, .runs = for_stop };
	int err;

	c.taskfd = openat(procfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.taskfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	c.cap = s->nthreads;
	err = task_dir_scan(c.taskfd, collect_cb, &c);
	close(c.taskfd);
	if (err)
		return err;
	if (!s->nthreads)
		return -ESRCH;		/* every thread exited: the process is gone */
	s->have_threads = true;
	return 0;
}

/* The CONTEXT record of one thread with captured registers. */
static int build_one(struct pss_snapshot *s, struct pss_thread *t, size_t *ret_size)
{
	size_t size = context_record_size(s->context_flags, t->r.xstate_len);

	t->ctx = pss_calloc(1, size);		/* 16-byte aligned, like every block */
	if (!t->ctx)
		return -ENOMEM;
	context_from_regs(&t->r, s->context_flags, t->ctx, size);
	t->e.SizeOfContextRecord = (WORD)size;
	*ret_size = size;
	return 0;
}

/*
 * After the thaw: for each thread with registers, the CONTEXT record (with
 * s->context_flags; 0 means registers were read but no record is wanted),
 * TebBaseAddress = fs_base, and the syscall from the registers, which are
 * exact at the instant of the stop.  s->context_length is the largest
 * record (records differ only if some thread had no extended state).
 */
int threads_build_contexts(struct pss_snapshot *s)
{
	size_t k, size, longest = 0;
	int err;

	for (k = 0; k < s->nthreads; k++) {
		struct pss_thread *t = &s->threads[k];
		long nr;

		if (!t->have_regs)
			continue;
		t->e.TebBaseAddress = (void *)(uintptr_t)t->r.regs.fs_base;
		nr = (long)t->r.regs.orig_rax;
		t->e.LastSyscallNumber = nr >= 0 && nr <= 0xFFFE ? (WORD)nr : 0xFFFF;
		t->e.LastSyscallFirstArgument = nr >= 0 ? (void *)(uintptr_t)t->r.regs.rdi : NULL;
		if (!s->context_flags || t->ctx)
			continue;
		err = build_one(s, t, &size);
		if (err)
			return err;
		longest = MAX(longest, size);
	}
	s->context_length = (DWORD)longest;
	return 0;
}
