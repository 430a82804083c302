// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The Pss* entry points: argument and handle checks, the capture sequence,
 * and the one place where internal errors become Win32 codes.
 *
 * Capture, in order (design section 4):
 *   1. validate everything before touching the target (flags, handles,
 *      zombie, kernel thread): bad input never stops anything;
 *   2. procinfo, then the thread list from /proc (no stop);
 *   3. only with THREAD_CONTEXT: the stop, on the tracer thread
 *      (freeze_capture_regs), then CONTEXT records built after the thaw;
 *   4. handles and VA space from /proc (no stop);
 *   5. the target must still be the process the handle named (pidfd).
 */
#include "snapshot.h"
#include "inject.h"
#include "freeze.h"
#include <fcntl.h>
#include <unistd.h>

#define CAPTURE_DEFINED_BITS                                                                  \
	(PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION |    \
	 PSS_CAPTURE_HANDLE_BASIC_INFORMATION | PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION | \
	 PSS_CAPTURE_HANDLE_TRACE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT |         \
	 PSS_CAPTURE_THREAD_CONTEXT_EXTENDED | PSS_CAPTURE_VA_SPACE |                          \
	 PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION | PSS_CAPTURE_IPT_TRACE |                    \
	 PSS_CREATE_BREAKAWAY_OPTIONAL | PSS_CREATE_BREAKAWAY | PSS_CREATE_FORCE_BREAKAWAY |   \
	 PSS_CREATE_USE_VM_ALLOCATIONS | PSS_CREATE_MEASURE_PERFORMANCE |                      \
	 PSS_CREATE_RELEASE_SECTION)

#define DEFAULT_TIMEOUT_MS 2000

struct capture_args {
	DWORD flags;
	DWORD context_flags;	/* 0: no contexts */
	unsigned timeout_ms;
	int pidfd;
	bool self;
	bool stop_all;		/* PSS_LINUX_CAPTURE_STOP_ALL */
};

/* Step 1: everything that can be refused without looking at the target. */
static DWORD capture_check_args(DWORD flags, DWORD ctx_flags, const struct pss_linux_options *o,
				struct capture_args *a)
{
	if (flags & ~(DWORD)CAPTURE_DEFINED_BITS) {
		capture_error_set(-EINVAL, "reserved or unknown capture flags 0x%x",
				  flags & ~(DWORD)CAPTURE_DEFINED_BITS);
		return ERROR_INVALID_PARAMETER;
	}
	if ((flags & PSS_CREATE_BREAKAWAY_OPTIONAL) &&
	    !(flags & (PSS_CREATE_BREAKAWAY | PSS_CREATE_FORCE_BREAKAWAY))) {
		capture_error_set(-EINVAL, "PSS_CREATE_BREAKAWAY_OPTIONAL needs PSS_CREATE_BREAKAWAY");
		return ERROR_INVALID_PARAMETER;
	}
	if (o) {
		if (o->sz < offsetof(struct pss_linux_options, timeout_ms) + sizeof(o->timeout_ms)) {
			capture_error_set(-EINVAL, "struct pss_linux_options: bad sz %zu", o->sz);
			return ERROR_INVALID_PARAMETER;
		}
		a->timeout_ms = o->timeout_ms;
		if (o->sz >= offsetof(struct pss_linux_options, flags) + sizeof(o->flags)) {
			if (o->flags & ~(unsigned long long)PSS_LINUX_CAPTURE_STOP_ALL) {
				capture_error_set(-EINVAL, "unknown pss_linux_options flags 0x%llx",
						  o->flags & ~(unsigned long long)PSS_LINUX_CAPTURE_STOP_ALL);
				return ERROR_INVALID_PARAMETER;
			}
			a->stop_all = o->flags & PSS_LINUX_CAPTURE_STOP_ALL;
		}
	}
	if (!a->timeout_ms)
		a->timeout_ms = DEFAULT_TIMEOUT_MS;
	a->flags = flags;
	if ((flags & PSS_CAPTURE_THREADS) && (flags & PSS_CAPTURE_THREAD_CONTEXT)) {
		if (flags & PSS_CAPTURE_THREAD_CONTEXT_EXTENDED)
			ctx_flags |= CONTEXT_XSTATE;
		if (!context_flags_valid(ctx_flags)) {
			capture_error_set(-EINVAL, "ThreadContextFlags 0x%x are not AMD64 CONTEXT_* flags",
					  ctx_flags);
			return ERROR_INVALID_PARAMETER;
		}
		a->context_flags = ctx_flags;
	}
	if (flags & PSS_CAPTURE_IPT_TRACE) {
		capture_error_set(-EOPNOTSUPP, "Intel Processor Trace capture is not supported");
		return ERROR_NOT_SUPPORTED;
	}
	return ERROR_SUCCESS;
}

/* Refuse targets we must not or cannot stop: zombies, kernel threads. */
static int capture_check_target(struct pss_snapshot *s, int procfd)
{
	char *buf;
	size_t len;
	struct proc_stat ps;
	int err;

	err = read_fileat(procfd, "stat", &buf, &len);
	if (err)
		goto gone;
	err = proc_stat_parse(buf, len, &ps);
	pss_free(buf);
	if (err)
		return err;
	if (ps.flags & 0x00200000u) {	/* PF_KTHREAD */
		capture_error_set(-EPERM, "pid %d is a kernel thread: it has no user space to snapshot",
				  s->pid);
		return -EPERM;
	}
	if (ps.state == 'Z' && ps.num_threads <= 1) {
		capture_error_set(-ESRCH, "pid %d is a zombie: it has exited and waits for its parent "
				  "to reap it", s->pid);
		return -ESRCH;
	}
	return 0;
gone:
	if (err == -ENOENT || err == -ESRCH) {
		capture_error_set(-ESRCH, "pid %d has exited", s->pid);
		return -ESRCH;
	}
	capture_error_set(err, "cannot read /proc/%d/stat: %s", s->pid, strerror(-err));
	return err;
}

struct freeze_job {
	struct pss_snapshot *s;
	struct freeze_opts opts;
	uint64_t pause_ns;
	unsigned attempts;
	pid_t stale_tid;		/* why the first attempt was -ESTALE */
	const char *stale_why;
};

/* In the tracer: the stop, and with a clone, its settling and (on failure)
 * its end, so no clone outlives a failed capture.  -ESTALE: a thread left
 * out of the pause had run after all (freeze.c, "deferred threads"): the
 * clone goes, and the stop is made again with every thread in the pause. */
static int freeze_job_run(void *arg)
{
	struct freeze_job *j = arg;
	struct clone_req *req = j->opts.clone;
	int err;

	for (;;) {
		j->attempts++;
		err = freeze_capture_regs(j->s, &j->opts, &j->pause_ns);
		if (err != -ESTALE || j->opts.no_defer)
			break;
		j->stale_tid = j->opts.stats->stale_tid;
		j->stale_why = j->opts.stats->stale_why;
		if (req && req->clone_pid > 0) {
			clone_destroy(j->s->pid, req->clone_pid, req->clone_pid, req->gadget);
			req->clone_pid = 0;
		}
		if (tracer_retiring()) {
			/* A thread never reached its stop (a deferred one, or the
			 * one that reaped the clone's corpse): it stays our tracee
			 * until the tracer exits after this job, and a stop of
			 * every thread would only wait for it in vain. */
			capture_error_set(-ETIMEDOUT, "a thread of pid %d did not stop (an "
					  "uninterruptible sleep?)", (int)j->s->pid);
			err = -ETIMEDOUT;
			break;
		}
		j->opts.no_defer = true;
	}
	if (err == -ESTALE)
		err = -EAGAIN;			/* cannot happen without deferral */
	if (req && req->clone_pid > 0) {
		if (err) {
			clone_destroy(j->s->pid, req->clone_pid, req->clone_pid, req->gadget);
			req->clone_pid = 0;
		} else {
			clone_settle(j->s->pid, req->clone_pid, req->clone_pid, req->gadget,
				     req->stack);
		}
	}
	return err;
}

/* Phase timing for PSS_CREATE_MEASURE_PERFORMANCE. */
struct phase {
	uint64_t ns, cycles;
};

static void phase_start(struct phase *p)
{
	p->ns = now_ns(CLOCK_MONOTONIC);
	p->cycles = cycles_now();
}

static void phase_end(const struct phase *p, UINT64 *ret_cycles, UINT64 *ret_us)
{
	*ret_cycles += cycles_now() - p->cycles;
	*ret_us += (now_ns(CLOCK_MONOTONIC) - p->ns) / 1000;
}

/* The stop, for thread contexts and the VA clone alike. */
static int capture_stop(struct pss_snapshot *s, const struct capture_args *a, int procfd)
{
	struct freeze_job job = { .s = s };
	struct freeze_stats st = { 0 };
	bool want_clone = a->flags & PSS_CAPTURE_VA_CLONE;
	struct clone_req req;
	int err;

	if (s->li.tracer_pid) {
		capture_error_set(-EBUSY, "pid %d is already traced by pid %d (a debugger or "
				  "tracer): detach it first", s->pid, s->li.tracer_pid);
		return -EBUSY;
	}
	if (want_clone) {
		err = vaclone_prepare(s, procfd, &req);
		if (err)
			return err;
		job.opts.clone = &req;
	}
	job.opts.timeout_ms = a->timeout_ms;
	job.opts.want_xstate = (a->context_flags & CONTEXT_XSTATE) == CONTEXT_XSTATE;
	job.opts.want_debugregs = (a->context_flags & CONTEXT_DEBUG_REGISTERS) ==
				  CONTEXT_DEBUG_REGISTERS;
	job.opts.pidfd = a->pidfd;
	job.opts.no_defer = a->stop_all;
	job.opts.stats = &st;
	err = tracer_run(freeze_job_run, &job);
	if (!err && st.threads)
		pr_debug("stop of %zu threads: interrupt %.1f ms, stops and registers %.1f ms, "
			 "rescan %.1f ms, clone %.1f ms (its syscall %.1f), release %.1f ms; "
			 "%lu waitpid, %lu idle",
			 st.threads - st.deferred, st.interrupt_ns / 1e6, st.stops_ns / 1e6,
			 st.rescan_ns / 1e6, st.clone_ns / 1e6, want_clone ? req.clone_ns / 1e6 : 0.0,
			 st.release_ns / 1e6, st.polls, st.idle_polls);
	if (!err && st.deferred)
		pr_debug("%zu threads blocked in a call were stopped after the pause, in "
			 "batches: %.1f ms, each stopped at most %.2f ms", st.deferred,
			 st.deferred_ns / 1e6, st.deferred_max_ns / 1e6);
	if (!err && st.defer_declined)
		pr_debug("no thread left out of the pause: %u idle threads had woken since the "
			 "thread list (a pool that wakes its threads in turn)", st.defer_declined);
	if (!err && job.attempts > 1)
		pr_debug("thread %d, left out of the pause, %s: stopped again, every thread "
			 "in the pause", (int)job.stale_tid, job.stale_why);
	if (!err && want_clone)
		err = vaclone_finish(s, &req);
	if (want_clone) {
		s->perf.VaCloneWallClockPeriod = req.clone_ns / 1000;
		s->perf.VaCloneCycleCount = req.clone_cycles;
		vaclone_release_req(&req);
	}
	if (err)
		return err;
	s->li.pause_ns = job.pause_ns;
	s->li.deferred_threads = (unsigned)st.deferred;
	s->li.stop_attempts = job.attempts;
	s->context_flags = a->context_flags;
	return a->context_flags ? threads_build_contexts(s) : 0;
}

static int capture_threads(struct pss_snapshot *s, const struct capture_args *a, int procfd)
{
	bool stop = a->context_flags || (a->flags & PSS_CAPTURE_VA_CLONE);
	int err;

	err = threads_collect(s, procfd, stop);	/* with a stop: the run counts too */
	if (err)
		return err;
	if (!stop)
		return 0;
	return capture_stop(s, a, procfd);
}

/* VA space from the clone's own /proc files: its map is the target's at the
 * instant of the stop. */
static int capture_vaspace(struct pss_snapshot *s, const struct capture_args *a, int procfd)
{
	bool section = a->flags & PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION;
	char path[40];
	int fd, err;

	if (s->clone_pid <= 0)
		return vaspace_collect(s, procfd, section);
	snprintf(path, sizeof(path), "/proc/%d", (int)s->clone_pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = vaspace_collect(s, fd, section);
	close(fd);
	return err;
}

static int capture_run(struct pss_snapshot *s, const struct capture_args *a)
{
	PSS_PERFORMANCE_COUNTERS *pc = &s->perf;
	struct phase total, ph;
	char path[64];
	int procfd, err;

	phase_start(&total);
	snprintf(path, sizeof(path), "/proc/%d", s->pid);
	procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0) {
		err = -errno;
		capture_error_set(err, "cannot open %s: %s", path, strerror(-err));
		return err == -ENOENT ? -ESRCH : err;
	}
	/* The pid might have been reused before we opened its /proc directory:
	 * the pidfd says whether it is still the process the handle named. */
	if (!pidfd_alive(a->pidfd)) {
		capture_error_set(-ESRCH, "the process of this handle has exited");
		err = -ESRCH;
		goto out;
	}
	err = capture_check_target(s, procfd);
	if (err)
		goto out;
	err = procinfo_collect(s, procfd);
	if (err)
		goto out;
	if (a->flags & (PSS_CAPTURE_THREADS | PSS_CAPTURE_VA_CLONE)) {
		phase_start(&ph);
		err = capture_threads(s, a, procfd);
		phase_end(&ph, &pc->ThreadsCycleCount, &pc->ThreadsWallClockPeriod);
		if (err)
			goto out;
		/* Threads were needed for the clone; report them only if asked. */
		s->have_threads = a->flags & PSS_CAPTURE_THREADS;
	}
	if (a->flags & PSS_CAPTURE_HANDLES) {
		phase_start(&ph);
		err = handles_collect(s, procfd, a->flags);
		phase_end(&ph, &pc->HandlesCycleCount, &pc->HandlesWallClockPeriod);
		if (err)
			goto out;
		s->have_handles = true;
	}
	if (a->flags & PSS_CAPTURE_HANDLE_TRACE)
		s->have_handle_trace = true;	/* tracing is never enabled on Linux: empty */
	if (a->flags & PSS_CAPTURE_VA_SPACE) {
		phase_start(&ph);
		err = capture_vaspace(s, a, procfd);
		phase_end(&ph, &pc->VaSpaceCycleCount, &pc->VaSpaceWallClockPeriod);
		if (err)
			goto out;
		s->have_vaspace = true;
	}
	if (!pidfd_alive(a->pidfd)) {
		capture_error_set(-ESRCH, "pid %d exited during the capture", s->pid);
		err = -ESRCH;
		goto out;
	}
	phase_end(&total, &pc->TotalCycleCount, &pc->TotalWallClockPeriod);
	s->have_perf = a->flags & PSS_CREATE_MEASURE_PERFORMANCE;
out:
	close(procfd);
	if (err == -ENOENT)
		err = -ESRCH;	/* /proc entries vanish when the target exits */
	if (err == -ESRCH)
		capture_error_set(err, "pid %d exited during the capture", s->pid);
	else if (err == -ECHILD)
		capture_error_set(err, "pid %d called execve during the capture: the image to "
				  "snapshot is gone; capture again", s->pid);
	return err;
}

/* Resolve the process handle to a pidfd we own for the capture. */
static DWORD capture_open_target(HANDLE h, struct capture_args *a, pid_t *ret_pid)
{
	bool self;
	int fd = handle_to_pidfd(h, &self);
	pid_t pid;

	if (fd < 0 && !self) {
		if (fd == -EBADF)
			capture_error_set(fd, "ProcessHandle is not a process handle (pidfd)");
		else		/* ENOMEM from /proc: not the handle's fault */
			capture_error_set(fd, "cannot check ProcessHandle: %s", strerror(-fd));
		return errno_to_win32(fd);
	}
	if (self) {
		pid = getpid();
		fd = pidfd_open_pid(pid);
		if (fd < 0)
			return errno_to_win32(fd);
	} else {
		pid = pidfd_get_pid(fd);
		if (pid < 0) {
			if (pid == -ESRCH || pid == -EBADF)
				capture_error_set(pid, "the process of this handle has exited");
			else
				capture_error_set(pid, "cannot read the handle's pid: %s", strerror(-pid));
			return errno_to_win32(pid);
		}
		fd = fd_dup_cloexec(fd);
		if (fd < 0)
			return errno_to_win32(fd);
		/* A handle to ourselves is the pseudo-handle in disguise. */
		self = pid == getpid();
	}
	a->pidfd = fd;
	a->self = self;
	*ret_pid = pid;
	return ERROR_SUCCESS;
}

PSS_API DWORD pss_linux_capture(HANDLE ProcessHandle, PSS_CAPTURE_FLAGS CaptureFlags,
				DWORD ThreadContextFlags, const struct pss_linux_options *opts,
				HPSS *SnapshotHandle)
{
	struct capture_args a = { .pidfd = -1 };
	struct pss_snapshot *s;
	pid_t pid = 0;
	bool vm;
	DWORD ret;
	int err;

	capture_error_clear();
	if (!SnapshotHandle)
		return ERROR_INVALID_PARAMETER;
	*SnapshotHandle = NULL;
	ret = capture_check_args((DWORD)CaptureFlags, ThreadContextFlags, opts, &a);
	if (ret)
		return ret;
	vm = alloc_set_vm(CaptureFlags & PSS_CREATE_USE_VM_ALLOCATIONS);
	ret = capture_open_target(ProcessHandle, &a, &pid);
	if (ret)
		goto out_mode;
	s = snapshot_new((DWORD)CaptureFlags);
	if (!s) {
		ret = ERROR_NOT_ENOUGH_MEMORY;
		goto out_close;
	}
	s->pid = pid;
	err = capture_run(s, &a);
	if (!err)
		err = desc_create(s, SnapshotHandle);
	if (err) {
		if (err == -ENOMEM)
			capture_error_set(err, "out of memory");
		if (err == -EPERM || err == -EACCES)
			capture_error_access(pid, err);
		snapshot_free(s);
		ret = errno_to_win32(err);
	}
out_close:
	close(a.pidfd);
out_mode:
	alloc_set_vm(vm);
	return ret;
}

PSS_API DWORD PssCaptureSnapshot(HANDLE ProcessHandle, PSS_CAPTURE_FLAGS CaptureFlags,
				 DWORD ThreadContextFlags, HPSS *SnapshotHandle)
{
	return pss_linux_capture(ProcessHandle, CaptureFlags, ThreadContextFlags, NULL,
				 SnapshotHandle);
}

/* Descriptors live in the calling process only: accept the pseudo-handle
 * and a real handle to ourselves. */
static bool is_own_process(HANDLE h)
{
	bool self;
	int fd = handle_to_pidfd(h, &self);

	if (self)
		return true;
	return fd >= 0 && pidfd_get_pid(fd) == getpid();
}

PSS_API DWORD PssFreeSnapshot(HANDLE ProcessHandle, HPSS SnapshotHandle)
{
	if (!is_own_process(ProcessHandle)) {
		/* A descriptor in another process: only remote VM descriptors could
		 * be freed there, and we never put any there. */
		return handle_to_pidfd(ProcessHandle, &(bool){ 0 }) < 0 ? ERROR_INVALID_HANDLE
									: ERROR_NOT_SUPPORTED;
	}
	return desc_destroy(SnapshotHandle) ? ERROR_INVALID_HANDLE : ERROR_SUCCESS;
}

PSS_API DWORD PssDuplicateSnapshot(HANDLE SourceProcessHandle, HPSS SnapshotHandle,
				   HANDLE TargetProcessHandle, HPSS *TargetSnapshotHandle,
				   PSS_DUPLICATE_FLAGS Flags)
{
	bool close_source = Flags & PSS_DUPLICATE_CLOSE_SOURCE;
	struct pss_snapshot *s;
	bool vm_alloc;
	int err;

	if (!TargetSnapshotHandle || (Flags & ~(DWORD)PSS_DUPLICATE_CLOSE_SOURCE))
		return ERROR_INVALID_PARAMETER;
	*TargetSnapshotHandle = NULL;
	s = snapshot_get(SnapshotHandle, NULL);
	if (!s)
		return ERROR_INVALID_HANDLE;
	vm_alloc = s->vm_alloc;
	snapshot_release(s);
	if (!is_own_process(SourceProcessHandle) || !is_own_process(TargetProcessHandle)) {
		if (close_source && vm_alloc)
			desc_destroy(SnapshotHandle);
		return ERROR_NOT_SUPPORTED;
	}
	if (close_source && !vm_alloc)
		return ERROR_NOT_SUPPORTED;
	err = desc_duplicate(SnapshotHandle, close_source, TargetSnapshotHandle);
	return err ? errno_to_win32(err) : ERROR_SUCCESS;
}

static size_t query_size(int cls)
{
	switch (cls) {
	case PSS_QUERY_PROCESS_INFORMATION:
		return sizeof(PSS_PROCESS_INFORMATION);
	case PSS_QUERY_VA_CLONE_INFORMATION:
		return sizeof(PSS_VA_CLONE_INFORMATION);
	case PSS_QUERY_AUXILIARY_PAGES_INFORMATION:
		return sizeof(PSS_AUXILIARY_PAGES_INFORMATION);
	case PSS_QUERY_VA_SPACE_INFORMATION:
		return sizeof(PSS_VA_SPACE_INFORMATION);
	case PSS_QUERY_HANDLE_INFORMATION:
		return sizeof(PSS_HANDLE_INFORMATION);
	case PSS_QUERY_THREAD_INFORMATION:
		return sizeof(PSS_THREAD_INFORMATION);
	case PSS_QUERY_HANDLE_TRACE_INFORMATION:
		return sizeof(PSS_HANDLE_TRACE_INFORMATION);
	case PSS_QUERY_PERFORMANCE_COUNTERS:
		return sizeof(PSS_PERFORMANCE_COUNTERS);
	}
	return 0;
}

static DWORD query_fill(const struct pss_snapshot *s, int clone_fd, int cls, void *buf)
{
	switch (cls) {
	case PSS_QUERY_PROCESS_INFORMATION:
		memcpy(buf, &s->pi, sizeof(s->pi));
		return ERROR_SUCCESS;
	case PSS_QUERY_VA_CLONE_INFORMATION:
		if (clone_fd < 0)
			return ERROR_NOT_FOUND;
		((PSS_VA_CLONE_INFORMATION *)buf)->VaCloneHandle = (HANDLE)(intptr_t)clone_fd;
		return ERROR_SUCCESS;
	case PSS_QUERY_AUXILIARY_PAGES_INFORMATION:
		if (!s->have_aux)
			return ERROR_NOT_FOUND;
		((PSS_AUXILIARY_PAGES_INFORMATION *)buf)->AuxPagesCaptured = (DWORD)s->naux;
		return ERROR_SUCCESS;
	case PSS_QUERY_VA_SPACE_INFORMATION:
		if (!s->have_vaspace)
			return ERROR_NOT_FOUND;
		((PSS_VA_SPACE_INFORMATION *)buf)->RegionCount = (DWORD)s->nregions;
		return ERROR_SUCCESS;
	case PSS_QUERY_HANDLE_INFORMATION:
		if (!s->have_handles)
			return ERROR_NOT_FOUND;
		((PSS_HANDLE_INFORMATION *)buf)->HandlesCaptured = (DWORD)s->nhandles;
		return ERROR_SUCCESS;
	case PSS_QUERY_THREAD_INFORMATION: {
		PSS_THREAD_INFORMATION *ti = buf;

		if (!s->have_threads)
			return ERROR_NOT_FOUND;
		ti->ThreadsCaptured = (DWORD)s->nthreads;
		ti->ContextLength = s->context_length;
		return ERROR_SUCCESS;
	}
	case PSS_QUERY_HANDLE_TRACE_INFORMATION: {
		PSS_HANDLE_TRACE_INFORMATION *ht = buf;

		if (!s->have_handle_trace)
			return ERROR_NOT_FOUND;
		ht->SectionHandle = NULL;
		ht->Size = 0;
		return ERROR_SUCCESS;
	}
	case PSS_QUERY_PERFORMANCE_COUNTERS:
		if (!s->have_perf)
			return ERROR_NOT_FOUND;
		memcpy(buf, &s->perf, sizeof(s->perf));
		return ERROR_SUCCESS;
	}
	return ERROR_INVALID_PARAMETER;
}

PSS_API DWORD PssQuerySnapshot(HPSS SnapshotHandle, PSS_QUERY_INFORMATION_CLASS InformationClass,
			       void *Buffer, DWORD BufferLength)
{
	int cls = (int)InformationClass, clone_fd = -1;
	struct pss_snapshot *s;
	DWORD ret;

	s = snapshot_get(SnapshotHandle, &clone_fd);
	if (!s)
		return ERROR_INVALID_HANDLE;
	if (!query_size(cls) || !Buffer)
		ret = ERROR_INVALID_PARAMETER;
	else if (BufferLength != query_size(cls))
		ret = ERROR_BAD_LENGTH;
	else
		ret = query_fill(s, clone_fd, cls, Buffer);
	snapshot_release(s);
	return ret;
}
