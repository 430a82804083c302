// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The VA clone after the stop: settle it, and end it without a trace.
 *
 * The clone was made by an injected clone(CLONE_FILES|CLONE_FS, exit signal
 * 0) (freeze.c) and sits in its first ptrace stop with PTRACE_O_EXITKILL: it
 * never runs target code.  Here, with the target already running again:
 *   - it is named "pss-clone" (an injected prctl(PR_SET_NAME) in the clone
 *     itself, its name written into its private copy of the stack), so a
 *     corpse a dead tracer left behind is recognised by the next capture;
 *   - its oom_score_adj is 1000: the OOM killer takes it before anything;
 *   - it joins the tracer's list of live clones, which the tracer destroys
 *     if the process that asked for them dies.
 * The end: SIGKILL, reaped as its tracer, and then the corpse, which the
 * kernel hands back to the target (its real parent; exit signal 0 is never
 * auto-reaped), reaped by an injected wait4 in one target thread.
 *
 * Everything here runs in the tracer (tracer_run), the clone's tracer.
 */
#include "internal.h"
#include "snapshot.h"
#include "inject.h"
#include "fault.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <elf.h>

#define CLONE_NAME "pss-clone"

struct live_clone {
	pid_t target, clone, clone_tns;
	uint64_t gadget;
};

/* Tracer-only state: touched by jobs and the tracer's exit path alone. */
static struct live_clone *live;
static size_t nlive, live_cap;

static void live_add(pid_t target, pid_t clone, pid_t tns, uint64_t gadget)
{
	if (pss_vec_grow(&live, &live_cap, nlive + 1, sizeof(*live)))
		return;		/* then only EXITKILL covers it */
	live[nlive++] = (struct live_clone){ target, clone, tns, gadget };
}

static void live_del(pid_t clone)
{
	size_t i;

	for (i = 0; i < nlive; i++) {
		if (live[i].clone == clone) {
			live[i] = live[--nlive];
			return;
		}
	}
}

/* Name the clone by running prctl(PR_SET_NAME) in it: it executes the
 * gadget's syscall instruction and nothing else.  Done inside the stop, so
 * that even a corpse a dead tracer leaves behind carries the name. */
int clone_name(pid_t clone, uint64_t gadget, uint64_t stack, bool suspend_seccomp)
{
	struct inject ij = { .tid = clone, .gadget = gadget, .keep_exitkill = true,
			     .suspend_seccomp = suspend_seccomp };
	struct user_regs_struct r;
	struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
	char name[16] = CLONE_NAME;
	uint64_t addr, words[2];
	long ret;
	int err;

	if (ptrace(PTRACE_GETREGSET, clone, (void *)NT_PRSTATUS, &iov))
		return -errno;
	/* Below the red zone of the stack the clone inherited (its own rsp is
	 * 0: @stack is the injected thread's real one).  The write lands in the
	 * clone's private copy of the page, never in the target. */
	addr = (stack - 512) & ~15ull;
	memcpy(words, name, sizeof(words));
	if (ptrace(PTRACE_POKEDATA, clone, (void *)addr, (void *)words[0]) ||
	    ptrace(PTRACE_POKEDATA, clone, (void *)(addr + 8), (void *)words[1]))
		return -errno;
	ij.deadline = now_ns(CLOCK_MONOTONIC) + 1000000000ull;
	err = inject_begin(&ij);
	if (err)
		return err;
	err = inject_syscall(&ij, &r, SYS_prctl, (uint64_t[6]){ PR_SET_NAME, addr, 0, 0, 0, 0 },
			     &ret, NULL);
	/* No inject_end: the clone never runs again. */
	return err ? err : (int)ret;
}

static void write_oom_score_adj(pid_t pid)
{
	char path[48];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1000", 4) != 4)
		pr_debug("cannot raise oom_score_adj of clone %d", (int)pid);
	close(fd);
}

int clone_settle(pid_t target, pid_t clone, pid_t tns, uint64_t gadget, uint64_t stack)
{
	write_oom_score_adj(clone);
	live_add(target, clone, pid_in_own_ns(clone), gadget);
	return 0;
}

/* Is @pid a zombie child of @target right now? */
static bool zombie_of(pid_t pid, pid_t target)
{
	struct proc_stat ps;
	char path[40], *buf;
	size_t len;
	bool ret = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, &buf, &len))
		return false;
	if (!proc_stat_parse(buf, len, &ps))
		ret = ps.state == 'Z' && ps.ppid == target;
	pss_free(buf);
	return ret;
}

int clone_destroy(pid_t target, pid_t clone, pid_t tns, uint64_t gadget)
{
	int status, err = 0, tries;

	live_del(clone);
	kill(clone, SIGKILL);
	/* As its tracer: this takes the ptrace side of the corpse and hands it
	 * to its real parent, the target.  A stop we never collected (the
	 * clone's first one, when the capture failed early) may be reported
	 * before the death: wait on until the death itself. */
	for (tries = 0; tries < 2000; tries++) {
		pid_t r = waitpid(clone, &status, __WALL | WNOHANG);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (r == clone && (WIFEXITED(status) || WIFSIGNALED(status))))
			break;
		if (r == clone)
			kill(clone, SIGKILL);
		else
			nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	}
	fault_point("in-free");
	if (target > 0 && zombie_of(clone, target))
		err = freeze_reap_zombies(target, &tns, 1, gadget);
	return err;
}

void clones_destroy_all(void)
{
	while (nlive) {
		struct live_clone c = live[nlive - 1];

		clone_destroy(c.target, c.clone, c.clone_tns, c.gadget);
	}
	pss_free(live);
	live = NULL;
	live_cap = 0;
}

struct free_job {
	const struct pss_snapshot *s;
};

static int clone_free_job(void *arg)
{
	const struct pss_snapshot *s = ((struct free_job *)arg)->s;

	return clone_destroy(s->pid, s->clone_pid, s->clone_tns, s->gadget);
}

void clone_free(struct pss_snapshot *s)
{
	struct free_job job = { .s = s };

	if (tracer_run(clone_free_job, &job))
		pr_debug("clone %d of %d: its corpse may stay until the next capture",
			 (int)s->clone_pid, (int)s->pid);
	s->clone_pid = 0;
}

PSS_API DWORD pss_linux_release_clone(HPSS snapshot)
{
	struct pss_snapshot *s = snapshot_get(snapshot, NULL);
	struct pss_snapshot tmp;
	pid_t clone;

	if (!s)
		return ERROR_INVALID_HANDLE;
	/* One caller wins the clone; duplicates of the descriptor share it. */
	clone = __atomic_exchange_n(&s->clone_pid, 0, __ATOMIC_ACQ_REL);
	if (clone <= 0) {
		snapshot_release(s);
		return ERROR_NOT_FOUND;
	}
	tmp = *s;
	tmp.clone_pid = clone;
	clone_free(&tmp);
	snapshot_release(s);
	return ERROR_SUCCESS;
}
