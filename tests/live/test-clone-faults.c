// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The VA clone under faults: seccomp and syscall user dispatch (fault
 * matrix rows 29-34), resource limits (35, 36), the capturing process or
 * the tracer killed at every step of the capture (37, 38), a host that
 * waits on every child (39), self capture (61), concurrent captures (62),
 * pid namespaces (72), rseq (73) and temporary signal masks (74).
 *
 * The target is clone-victim-check (every thread checks itself, see that
 * file) unless a row needs another.  A clone is a child of the target
 * whose comm is "pss-clone"; it must never run: while a watcher samples
 * it, its state may only be 't' (ptrace stop) or 'Z'/'X' (dead), or it
 * must be on its way out (SIGKILL pending or PF_EXITING set).
 *
 * Captures that may be killed run in a forked "host" process: the test
 * process is a child subreaper, so a host's tracer ("pss-tracer") is
 * re-parented to us when the host dies and we can see it exit.
 */
#include "harness.h"
#include "../targets/clone-victim-check.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define CAP_SYS_ADMIN_BIT 21

/* ---- capabilities ---- */

static bool have_cap(int cap)
{
	return (status_hex(getpid(), 0, "CapEff") >> cap) & 1;
}

/* Drop @cap from the effective, permitted and inheritable sets. */
static int drop_cap(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[cap / 32].effective &= ~(1u << (cap % 32));
	d[cap / 32].permitted &= ~(1u << (cap % 32));
	d[cap / 32].inheritable &= ~(1u << (cap % 32));
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

/* capture_in_child's preparation: drop CAP_SYS_ADMIN, keep CAP_SYS_PTRACE. */
static int without_sys_admin(struct child_capture *res)
{
	res->prepare_err = drop_cap(CAP_SYS_ADMIN_BIT);
	return res->prepare_err || have_cap(CAP_SYS_ADMIN_BIT) || !have_cap(19 /* CAP_SYS_PTRACE */) ? 2 : 0;
}

/* capture_in_child's inspection: 1 if the snapshot has a clone of the victim. */
static int has_clone(HPSS s)
{
	PSS_VA_CLONE_INFORMATION vi = { 0 };

	return PssQuerySnapshot(s, PSS_QUERY_VA_CLONE_INFORMATION, &vi, sizeof(vi)) == 0 &&
	       vi.VaCloneHandle && is_clone((pid_t)GetProcessId(vi.VaCloneHandle));
}

/* ---- rows 29-34: seccomp and syscall user dispatch ---- */

static pid_t watch_victim;

/* capture_in_child's hook: start the watcher after the fork. */
static void start_watch(void *arg)
{
	*(struct watch **)arg = watch_start(watch_victim);
}

static void seccomp_start(struct target *t, const char *mode)
{
	const char *args[] = { mode, NULL };
	pid_t tids[8];
	int e = target_start(t, "clone-victim-seccomp", args), n;

	REQUIRE(e == 0, "cannot start clone-victim-seccomp %s: %s", mode, strerror(-e));
	n = thread_ids(t->pid, tids, 8);
	for (int i = 0; i < n && i < 8; i++)
		REQUIRE(wait_thread_syscall(t->pid, tids[i], SYS_read, 5000) == 0, "thread %d not in read()", tids[i]);
}

/* The victim answers, reports @sigsys SIGSYS so far (-1: strict, no
 * count), and has @clones clones (1 while a snapshot lives). */
static void seccomp_alive(struct target *t, long sigsys, int clones)
{
	char r[256];

	if (target_cmd(t, "ping", r, sizeof(r)) <= 0) {
		int st = target_wait(t, 2000);

		REQUIRE(0, "victim %d no longer answers: status 0x%x (%s)", t->pid, st,
			st >= 0 && WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exited");
	}
	REQUIRE(!strncmp(r, "pong", 4), "victim answered %s", r);
	if (sigsys >= 0)
		CHECK_EQ_INT(reply_get(r, "sigsys", -1), sigsys);
	CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	CHECK(no_thread_traced(t->pid), "a thread is still traced or stopped");
	CHECK_EQ_INT(clone_count(t->pid), clones);
}

/* The victim's filter still acts on its own clone exactly as before. */
static void seccomp_still_filters(struct target *t, const char *mode)
{
	char r[256];
	int st;

	if (!strcmp(mode, "errno")) {
		target_cmdf(t, r, sizeof(r), "clone");
		CHECK(reply_get(r, "ret", 0) == -1 && reply_get(r, "errno", 0) == EPERM, "own clone: %s", r);
		CHECK_EQ_INT(reply_get(r, "sigsys", -1), 0);
	} else if (!strcmp(mode, "trap")) {
		target_cmdf(t, r, sizeof(r), "clone");
		CHECK(reply_get(r, "ret", 0) == -1 && reply_get(r, "errno", 0) == ENOSYS, "own clone: %s", r);
		CHECK_EQ_INT(reply_get(r, "sigsys", -1), 1);
	} else if (!strcmp(mode, "sud")) {
		target_cmdf(t, r, sizeof(r), "sud-test");
		CHECK_EQ_INT(reply_get(r, "ret", 0), -ENOSYS);
		CHECK_EQ_INT(reply_get(r, "sigsys", -1), 1);
	} else {
		/* strict: any call but read/write kills; kill: clone kills */
		const char *cmd = !strcmp(mode, "strict") ? "getpid" : !strcmp(mode, "kill") ? "clone" : "thread-clone";
		int want = !strcmp(mode, "strict") ? SIGKILL : SIGSYS;

		if (!strcmp(mode, "thread-kill")) {
			/* the unfiltered main thread clones fine */
			target_cmdf(t, r, sizeof(r), "clone");
			CHECK(reply_get(r, "ret", 0) > 0, "main thread clone: %s", r);
		}
		CHECK(target_cmd(t, cmd, r, sizeof(r)) < 0, "victim survived '%s': %s", cmd, r);
		st = target_wait(t, 5000);
		CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == want, "victim after '%s': status 0x%x, want signal %d",
		      cmd, st, want);
	}
}

/*
 * seccomp_row() - with CAP_SYS_ADMIN the capture succeeds (seccomp is
 * suspended for our injection), the snapshot has a stopped clone, and the
 * target's filter never saw our clone: no SIGSYS, the target alive, and
 * its own filtered calls behave exactly as before.  Syscall user dispatch
 * (@mode "sud") is refused with ERROR_NOT_SUPPORTED, privileged or not.
 */
static void seccomp_row(const char *mode)
{
	struct target t;
	struct cwatch *w;
	HPSS s = NULL;
	DWORD r;
	long sigsys = !strcmp(mode, "strict") ? -1 : 0;

	REQUIRE_PTRACE();
	if (!have_cap(CAP_SYS_ADMIN_BIT))
		SKIP("needs CAP_SYS_ADMIN (the privileged path); see the _unprivileged test");
	seccomp_start(&t, mode);
	w = cwatch_start(t.pid);
	r = capture_pid(t.pid, CLONE_FLAGS, CONTEXT_ALL, &s);
	if (!strcmp(mode, "sud")) {
		CHECK_ERR(r, ERROR_NOT_SUPPORTED);
		CHECK(s == NULL, "a snapshot despite the refusal");
	} else {
		CHECK_ERR(r, ERROR_SUCCESS);
		if (s) {
			clone_of_snap(s, t.pid);
			seccomp_alive(&t, sigsys, 1);	/* ... while the snapshot lives */
		}
	}
	if (s) {
		free_snap(s);
		CHECK_EQ_INT(clone_count(t.pid), 0);
	}
	cwatch_end(w);
	seccomp_alive(&t, sigsys, 0);
	seccomp_still_filters(&t, mode);
}

/*
 * seccomp_row_unprivileged() - without CAP_SYS_ADMIN seccomp cannot be
 * suspended, so the capture is refused with ERROR_NOT_SUPPORTED before the
 * target is touched: no thread ever traced or stopped, no clone, the
 * filter still in force.  For a filter in one thread only (@mode
 * "thread-kill", row 33) the library may instead inject into an unfiltered
 * thread and succeed; either way the target lives on unharmed.
 */
static void seccomp_row_unprivileged(const char *mode)
{
	struct child_capture res;
	struct target t;
	struct watch *wt;
	int touched, sweeps;
	long sigsys = !strcmp(mode, "strict") ? -1 : 0;

	REQUIRE_PTRACE();
	if (!have_cap(CAP_SYS_ADMIN_BIT))
		SKIP("needs CAP_SYS_ADMIN to drop it in a child");
	seccomp_start(&t, mode);
	watch_victim = t.pid;
	res = capture_in_child(t.pid, CLONE_FLAGS, without_sys_admin, has_clone, start_watch, &wt);
	diag("without CAP_SYS_ADMIN: %s - %s", err_name(res.code), res.text);
	touched = watch_stop(wt, &sweeps);
	if (!strcmp(mode, "thread-kill")) {
		CHECK(res.code == ERROR_SUCCESS || res.code == ERROR_NOT_SUPPORTED,
		      "got %s (%u): %s", err_name(res.code), res.code, res.text);
		if (res.code == ERROR_SUCCESS)
			CHECK(res.inspect, "a successful capture without a clone");
	} else {
		CHECK(res.code == ERROR_NOT_SUPPORTED, "got %s (%u), want ERROR_NOT_SUPPORTED: %s",
		      err_name(res.code), res.code, res.text);
		CHECK(res.text[0] != 0, "no pss_linux_last_capture_error text for the refusal");
		if (strcmp(mode, "sud"))
			CHECK(touched == 0, "the target was traced or stopped in %d of %d samples before the "
			      "refusal (seccomp is visible in /proc: refuse before touching it)", touched, sweeps);
	}
	seccomp_alive(&t, sigsys, 0);
	seccomp_still_filters(&t, mode);
}

/* Proves (row 29): strict mode, privileged: the capture succeeds with
 * seccomp suspended; the target lives and strict mode still holds. */
TEST(row29_strict_privileged) { seccomp_row("strict"); }
/* Proves (row 29): strict mode without CAP_SYS_ADMIN: ERROR_NOT_SUPPORTED, untouched. */
TEST(row29_strict_unprivileged) { seccomp_row_unprivileged("strict"); }
/* Proves (row 30): KILL_PROCESS on clone, privileged: success, target alive,
 * its own clone is still killed by its filter afterwards. */
TEST(row30_filter_kill_privileged) { seccomp_row("kill"); }
/* Proves (row 30): KILL_PROCESS on clone without CAP_SYS_ADMIN: refused, untouched. */
TEST(row30_filter_kill_unprivileged) { seccomp_row_unprivileged("kill"); }
/* Proves (row 31): ERRNO(EPERM) on clone, privileged: success; its own clone still EPERM. */
TEST(row31_filter_errno_privileged) { seccomp_row("errno"); }
/* Proves (row 31): ERRNO(EPERM) without CAP_SYS_ADMIN: refused, untouched. */
TEST(row31_filter_errno_unprivileged) { seccomp_row_unprivileged("errno"); }
/* Proves (row 32): TRAP on clone, privileged: success with the SIGSYS count
 * still 0; its own clone still traps (count 1). */
TEST(row32_filter_trap_privileged) { seccomp_row("trap"); }
/* Proves (row 32): TRAP without CAP_SYS_ADMIN: refused, SIGSYS count 0. */
TEST(row32_filter_trap_unprivileged) { seccomp_row_unprivileged("trap"); }
/* Proves (row 33): a killing filter in one thread only, privileged: success;
 * the main thread still clones, the filtered thread's clone still kills. */
TEST(row33_filter_one_thread_privileged) { seccomp_row("thread-kill"); }
/* Proves (row 33): the same without CAP_SYS_ADMIN: success through an
 * unfiltered thread or ERROR_NOT_SUPPORTED; never a dead target. */
TEST(row33_filter_one_thread_unprivileged) { seccomp_row_unprivileged("thread-kill"); }
/* Proves (row 34): syscall user dispatch on: ERROR_NOT_SUPPORTED, no SIGSYS,
 * dispatch still on afterwards (its own out-of-range call still traps). */
TEST(row34_user_dispatch) { seccomp_row("sud"); }
/* Proves (row 34): the same without CAP_SYS_ADMIN. */
TEST(row34_user_dispatch_unprivileged) { seccomp_row_unprivileged("sud"); }

/* ---- rows 35, 36: the clone fails in the target ---- */

static char cg_dir[128], cg_parent_procs[128];

/* Leave the pids cgroup: put its tasks back and remove it (at exit too). */
static void cg_remove(void)
{
	char path[300], buf[4096], *p, *end;

	if (!cg_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	if (read_text(path, buf, sizeof(buf)) > 0) {
		for (p = buf;; p = end) {
			long pid = strtol(p, &end, 10);
			int fd;

			if (end == p)
				break;
			fd = open(cg_parent_procs, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				dprintf(fd, "%ld\n", pid);
				close(fd);
			}
		}
	}
	for (int i = 0; i < 100 && rmdir(cg_dir) < 0 && errno == EBUSY; i++)
		msleep(10);
	cg_dir[0] = 0;
}

/* Write "@v\n" (or "+pids\n" for @v < 0) into @path. */
static int write_file(const char *path, long v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if ((v < 0 ? dprintf(fd, "+pids\n") : dprintf(fd, "%ld\n", v)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* cg_create() - a new pids cgroup (v2 at /sys/fs/cgroup, else the v1 pids
 * hierarchy); fills @why and returns false when there is none we may use. */
static bool cg_create(char *why, size_t len)
{
	static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/pids" };
	char path[300], buf[256];

	for (size_t i = 0; i < 2; i++) {
		if (i == 0) {
			snprintf(path, sizeof(path), "%s/cgroup.controllers", roots[i]);
			if (read_text(path, buf, sizeof(buf)) <= 0 || !strstr(buf, "pids"))
				continue;
			snprintf(path, sizeof(path), "%s/cgroup.subtree_control", roots[i]);
			write_file(path, -1);
		}
		snprintf(cg_parent_procs, sizeof(cg_parent_procs), "%s/cgroup.procs", roots[i]);
		if (access(cg_parent_procs, W_OK))
			continue;
		snprintf(cg_dir, sizeof(cg_dir), "%s/pss-test-%d", roots[i], getpid());
		if (mkdir(cg_dir, 0755) < 0) {
			snprintf(why, len, "mkdir %s: %s", cg_dir, strerror(errno));
			cg_dir[0] = 0;
			continue;
		}
		atexit(cg_remove);
		snprintf(path, sizeof(path), "%s/pids.max", cg_dir);
		if (access(path, W_OK) == 0)
			return true;
		snprintf(why, len, "%s has no writable pids.max", cg_dir);
		cg_remove();
	}
	if (!why[0])
		snprintf(why, len, "no writable pids cgroup (v2 /sys/fs/cgroup or v1 /sys/fs/cgroup/pids)");
	return false;
}

/* Proves (row 35): with the victim's pids.max at its task count the
 * injected clone fails with EAGAIN: the capture fails cleanly with
 * ERROR_NO_SYSTEM_RESOURCES, the target notices nothing (registers,
 * blocked calls, signals) and no clone exists; the cgroup is removed. */
TEST(row35_pids_limit)
{
	char why[512] = "", path[300], buf[64];
	struct cv v;
	struct cwatch *w;
	HPSS s = NULL;
	int n, e;

	REQUIRE_PTRACE();
	if (geteuid() != 0)
		SKIP("needs root to create a pids cgroup");
	if (!cg_create(why, sizeof(why)))
		SKIP("%s", why);
	cv_start(&v, false);
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
	e = write_file(path, v.t.pid);
	REQUIRE(e == 0, "cannot move %d into %s: %s", v.t.pid, cg_dir, strerror(-e));
	n = thread_count(v.t.pid);
	snprintf(path, sizeof(path), "%s/pids.max", cg_dir);
	e = write_file(path, n);
	REQUIRE(e == 0, "cannot set pids.max: %s", strerror(-e));
	snprintf(path, sizeof(path), "%s/pids.current", cg_dir);
	REQUIRE(read_text(path, buf, sizeof(buf)) > 0 && atoi(buf) == n, "pids.current %s, want %d", buf, n);
	cv_queue_blocked(&v, 4);
	cv_feed(&v);
	w = cwatch_start(v.t.pid);
	for (int i = 0; i < 3; i++) {
		CHECK_ERR(capture_pid(v.t.pid, CLONE_FLAGS, CONTEXT_ALL, &s), ERROR_NO_SYSTEM_RESOURCES);
		CHECK(s == NULL, "a snapshot despite the failure");
		if (s)
			free_snap(s);
		s = NULL;
		cv_feed(&v);
	}
	cwatch_end(w);
	CHECK_EQ_INT(clone_count(v.t.pid), 0);
	cv_verify(&v, false);
	cg_remove();
	CHECK(access(path, F_OK) < 0, "the test cgroup is still there");
	/* Out of the cgroup the same victim can be captured again. */
	capture_free_clean(v.t.pid);
}

/* Proves (row 36): under strict overcommit a clone of a large target fails
 * with ENOMEM: ERROR_NOT_ENOUGH_MEMORY, the target untouched.  Only when
 * the machine already runs with vm.overcommit_memory=2. */
TEST(row36_strict_overcommit)
{
	char buf[16] = "";

	read_text("/proc/sys/vm/overcommit_memory", buf, sizeof(buf));
	if (atoi(buf) != 2)
		SKIP("vm.overcommit_memory is %d: switching the whole machine to strict overcommit "
		     "would make unrelated processes fail", atoi(buf));
	SKIP("strict overcommit is on, but sizing a target to exhaust CommitLimit safely is not automated");
}

/* ---- rows 37, 38: the capturing process or the tracer dies ---- */

static const char *const fault_steps[] = {
	"after-seize", "after-interrupt", "after-setregs", "after-clone-event",
	"after-exitkill", "after-restore", "before-detach", "in-free",
};

struct host {
	pid_t pid;
	int out;		/* the host's report pipe */
	pid_t tracer;		/* its tracer, once known */
};

/*
 * host_start() - fork a process that captures @victim with the clone and
 * frees the snapshot, with PSS_FAULT=@fault armed for that capture (a
 * warm-up capture without the clone starts its tracer first, so the host
 * can tell whether the tracer died).  It reports on a pipe
 * "warm=C cap=C free=C tracer=PID tracer_alive=0|1".
 */
static void host_start(struct host *h, pid_t victim, const char *fault, const char *release)
{
	int p[2];

	memset(h, 0, sizeof(*h));
	REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
	fflush(stdout);
	h->pid = fork();
	REQUIRE(h->pid >= 0, "fork");
	if (h->pid == 0) {
		char line[160];
		HPSS s = NULL;
		DWORD warm, cap, fr = 0xffff;
		pid_t kids[16], tr = 0;
		int n;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		warm = capture_pid(victim, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, CONTEXT_ALL, &s);
		if (s)
			PssFreeSnapshot(GetCurrentProcess(), s);
		s = NULL;
		n = children_of(getpid(), kids, 16);
		for (int i = 0; i < n; i++) {
			char comm[32];

			if (task_comm(kids[i], kids[i], comm, sizeof(comm)) > 0 && !strcmp(comm, "pss-tracer"))
				tr = kids[i];
		}
		snprintf(line, sizeof(line), "tracer=%d\n", tr);
		if (write(p[1], line, strlen(line)) < 0)
			_exit(3);
		if (release)
			setenv("PSS_FAULT_RELEASE", release, 1);
		setenv("PSS_FAULT", fault, 1);
		cap = capture_pid(victim, CLONE_FLAGS, CONTEXT_ALL, &s);
		if (s)
			fr = PssFreeSnapshot(GetCurrentProcess(), s);
		unsetenv("PSS_FAULT");
		snprintf(line, sizeof(line), "warm=%u cap=%u free=%u tracer_alive=%d\n", warm, cap, fr,
			 tr > 0 && proc_state(tr) != 0 && proc_state(tr) != 'Z');
		if (write(p[1], line, strlen(line)) < 0)
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	h->out = p[0];
}

/* Read what the host reported (after it ended) into @buf. */
static void host_report(struct host *h, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < len && (r = read(h->out, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	for (char *p = buf; (p = strchr(p, '\n'));)
		*p = ' ';
	close(h->out);
	h->tracer = (pid_t)reply_get(buf, "tracer", 0);
}

static int host_wait(struct host *h, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int st;

	do {
		if (waitpid(h->pid, &st, WNOHANG | __WALL) == h->pid)
			return st;
		msleep(2);
	} while (now_ns() < deadline);
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &st, __WALL);
	return -1;
}

/*
 * Parked threads for the steps a target of few threads never reaches:
 * with 256 threads or more a capture leaves the threads blocked in a call
 * out of its pause and reads them after it, at "before-deferred".
 */
#define DEFER_SLEEPERS 300

/* The victim for rows 37 and 38: self-checking, with blocked RT signals
 * queued and @sleepers parked threads, optionally stopped (SIGSTOP)
 * before the capture. */
static void fault_victim(struct cv *v, bool stopped, int sleepers)
{
	cv_start(v, false);
	if (sleepers)
		cv_sleepers(v, sleepers);
	cv_queue_blocked(v, 8);
	cv_feed(v);
	if (stopped) {
		REQUIRE(kill(v->t.pid, SIGSTOP) == 0, "SIGSTOP");
		for (int i = 0; i < 1000 && proc_state(v->t.pid) != 'T'; i++)
			msleep(2);
		REQUIRE(proc_state(v->t.pid) == 'T', "victim not stopped");
	}
}

/*
 * fault_row() - row 37: the capture (or the free, step "in-free") runs in
 * a host process; at @step the library's fault point SIGKILLs the host
 * (sigkill-self: the tracer must finish the stop, restore everything,
 * notice the death and remove every clone within ~2 s, then exit) or the
 * tracer itself (sigkill-tracer: clones die by EXITKILL; a zombie clone may
 * stay and the next capture of the victim reaps it).  Either way the victim
 * notices nothing and no clone ever runs.  With @sleepers parked threads
 * (fault_row_n) the capture defers them, so "before-deferred" is reached.
 */
/*
 * The documented exception (design section 7, PssCaptureSnapshot(3)): the
 * tracer *process itself* killed while one target thread holds the injected
 * registers (after-setregs .. after-exitkill) releases that thread with them,
 * and the target dies of SIGSEGV at its first instruction (rsp is 0), the
 * clone with it.  Killing the capturing process there is harmless (the
 * sigkill-self rows).  What must still hold: no clone ever ran, none and no
 * tracer is left, and the death is that SIGSEGV, not something random.
 */
static bool injection_window(const char *step)
{
	return !strcmp(step, "after-setregs") || !strcmp(step, "after-clone-event") ||
	       !strcmp(step, "after-exitkill");
}

/* The victim dies as the exception says: of SIGSEGV, at once or (when it
 * was stopped) as soon as it is continued. */
static void check_died_as_documented(struct cv *v, bool stopped)
{
	int st, i;

	if (stopped)
		kill(v->t.pid, SIGCONT);
	for (i = 0; i < 400 && proc_state(v->t.pid) != 'Z' && proc_state(v->t.pid) != 0; i++)
		msleep(5);
	st = target_wait(&v->t, 2000);
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "the victim did not die of the documented SIGSEGV: status 0x%x", st);
	diag("documented exception: the victim died of SIGSEGV with the tracer");
}

/* The next capture of a victim with parked threads: it too reads most of
 * them after the pause (or, if one ran after all, stops again with all). */
static void capture_free_deferred(struct cv *v)
{
	struct pss_linux_process_info pi = { .sz = sizeof(pi) };
	HPSS s = capture_ok(v->t.pid, CLONE_FLAGS, CONTEXT_ALL);

	clone_of_snap(s, v->t.pid);
	CHECK_ERR(pss_linux_query_process(s, &pi), ERROR_SUCCESS);
	diag("next capture: %u threads, %u deferred, %u stop attempt(s)", pi.num_threads, pi.deferred_threads,
	     pi.stop_attempts);
	CHECK(pi.deferred_threads >= (unsigned)v->sleepers - 10 || pi.stop_attempts == 2,
	      "the next capture deferred %u of %d parked threads in %u attempt(s)", pi.deferred_threads,
	      v->sleepers, pi.stop_attempts);
	free_and_check(s, v->t.pid);
}

static void fault_row_n(const char *step, bool kill_tracer, bool stopped, int sleepers)
{
	char fault[64], rep[256];
	struct host h;
	struct cv v;
	struct cwatch *w;
	int st;
	long ms;

	REQUIRE_PTRACE();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	fault_victim(&v, stopped, sleepers);
	snprintf(fault, sizeof(fault), "%s:%s", step, kill_tracer ? "sigkill-tracer" : "sigkill-self");
	host_start(&h, v.t.pid, fault, NULL);	/* single-threaded fork: see host_killed_row */
	w = cwatch_start(v.t.pid);
	st = host_wait(&h, 20000);
	host_report(&h, rep, sizeof(rep));
	diag("%s: host status 0x%x, report: %s", fault, st, rep);
	REQUIRE(st != -1, "the host hung for 20 s (fault %s)", fault);
	if (!kill_tracer) {
		REQUIRE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			"the host was not killed at %s (status 0x%x): fault point never reached?", step, st);
		ms = wait_cleanup(v.t.pid, 3000);
		CHECK(ms >= 0, "3 s after the host's death a clone or a tracer is still there");
		if (ms < 0)
			describe_clones(v.t.pid);
		else
			diag("clones and tracer gone %ld ms after the host's death", ms);
		if (sleepers)
			CHECK(cv_threads_held(v.t.pid) == 0, "the tracer is gone, yet %d of the victim's %d threads "
			      "are traced or stopped", cv_threads_held(v.t.pid), thread_count(v.t.pid));
	} else {
		pid_t c[16];
		int z, n;
		uint64_t deadline = now_ns() + 2000000000ull;

		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the host did not survive its tracer's death "
		      "(status 0x%x)", st);
		CHECK(reply_get(rep, "tracer_alive", -1) == 0, "the tracer survived fault %s: step never reached?",
		      fault);
		/* EXITKILL: any clone left is dead, a zombie at most */
		do {
			n = clones_of(v.t.pid, c, 16, &z);
			if (n == z)
				break;
			msleep(5);
		} while (now_ns() < deadline);
		CHECK(n == z, "%d clones of which only %d zombies 2 s after the tracer died", n, z);
		diag("%d zombie clone(s) left by the dead tracer", z);
	}
	cwatch_end(w);
	if (kill_tracer && injection_window(step)) {
		check_died_as_documented(&v, stopped);
		return;
	}
	v.zombie_ok = kill_tracer;
	/* A dead tracer cannot repair the EINTR of a stop it never collected
	 * (after-interrupt); the test's own SIGSTOP/SIGCONT makes epoll_wait
	 * return EINTR by itself (signal(7)). */
	v.ep_eintr_ok = stopped || (kill_tracer && !strcmp(step, "after-interrupt"));
	cv_verify(&v, stopped);
	v.zombie_ok = false;	/* ep_eintr_ok stays: the victim's counter is cumulative */
	/* The next capture of the victim succeeds and leaves no clone at all. */
	w = cwatch_start(v.t.pid);
	if (sleepers)
		capture_free_deferred(&v);
	else
		capture_free_clean(v.t.pid);
	cwatch_end(w);
	CHECK_EQ_INT(clone_count(v.t.pid), 0);
	cv_verify(&v, false);
}

static void fault_row(const char *step, bool kill_tracer, bool stopped)
{
	fault_row_n(step, kill_tracer, stopped, 0);
}

#define FAULT_TEST(name, idx, kt, stp) \
	TEST(name) { fault_row(fault_steps[idx], kt, stp); }

/* Proves (row 37): SIGKILL of the capturing process at each step. */
FAULT_TEST(row37_sigkill_self_after_seize, 0, false, false)
FAULT_TEST(row37_sigkill_self_after_interrupt, 1, false, false)
FAULT_TEST(row37_sigkill_self_after_setregs, 2, false, false)
FAULT_TEST(row37_sigkill_self_after_clone_event, 3, false, false)
FAULT_TEST(row37_sigkill_self_after_exitkill, 4, false, false)
FAULT_TEST(row37_sigkill_self_after_restore, 5, false, false)
FAULT_TEST(row37_sigkill_self_before_detach, 6, false, false)
FAULT_TEST(row37_sigkill_self_in_free, 7, false, false)
/* Proves (row 37): SIGKILL of the tracer process itself at each step. */
FAULT_TEST(row37_sigkill_tracer_after_seize, 0, true, false)
FAULT_TEST(row37_sigkill_tracer_after_interrupt, 1, true, false)
FAULT_TEST(row37_sigkill_tracer_after_setregs, 2, true, false)
FAULT_TEST(row37_sigkill_tracer_after_clone_event, 3, true, false)
FAULT_TEST(row37_sigkill_tracer_after_exitkill, 4, true, false)
FAULT_TEST(row37_sigkill_tracer_after_restore, 5, true, false)
FAULT_TEST(row37_sigkill_tracer_before_detach, 6, true, false)
FAULT_TEST(row37_sigkill_tracer_in_free, 7, true, false)
/* Proves (row 37 with row 16): a target stopped by SIGSTOP stays stopped. */
FAULT_TEST(row37_stopped_sigkill_self_after_setregs, 2, false, true)
FAULT_TEST(row37_stopped_sigkill_self_after_clone_event, 3, false, true)
FAULT_TEST(row37_stopped_sigkill_self_before_detach, 6, false, true)
FAULT_TEST(row37_stopped_sigkill_tracer_after_clone_event, 3, true, true)
FAULT_TEST(row37_stopped_sigkill_tracer_after_restore, 5, true, true)
/* Proves (row 37, deferred threads): with 300 parked threads, SIGKILL of
 * the capturing process at before-deferred (the pause over, the clone
 * made, no deferred thread touched yet): the tracer reads the deferred
 * threads, then removes the clone and exits; every thread of the victim
 * ends untraced and not stopped, no parked wait ever returned. */
TEST(row37_sigkill_self_before_deferred) { fault_row_n("before-deferred", false, false, DEFER_SLEEPERS); }
/* Proves (row 37, deferred threads): SIGKILL of the tracer itself at
 * before-deferred: the clone dies by EXITKILL (its corpse is reaped by the
 * next capture), the victim notices nothing, no thread is left traced. */
TEST(row37_sigkill_tracer_before_deferred) { fault_row_n("before-deferred", true, false, DEFER_SLEEPERS); }
/* The same with up to 64 deferred threads stopped (and an EINTR repair
 * possibly made in one): the kernel lets them go at the tracer's death. */
TEST(row37_sigkill_self_in_deferred) { fault_row_n("in-deferred", false, false, DEFER_SLEEPERS); }
TEST(row37_sigkill_tracer_in_deferred) { fault_row_n("in-deferred", true, false, DEFER_SLEEPERS); }

/* True once a task of the host or its tracer sleeps in the fault point's
 * nanosleep, on two samples 15 ms apart. */
static bool host_paused(struct host *h)
{
	for (int k = 0; k < 2; k++) {
		pid_t procs[2] = { h->pid, h->tracer }, tids[64];
		bool found = false;

		for (int p = 0; p < 2 && !found; p++) {
			int n = procs[p] > 0 ? thread_ids(procs[p], tids, 64) : 0;

			for (int i = 0; i < n && i < 64 && !found; i++) {
				long nr = thread_syscall(procs[p], tids[i]);

				found = nr == SYS_clock_nanosleep || nr == SYS_nanosleep;
			}
		}
		if (!found)
			return false;
		if (!k)
			msleep(15);
	}
	return true;
}

/* What we can see of @step from outside, once the host pauses there. */
static bool step_visible(const char *step, pid_t victim)
{
	pid_t kids[16];
	int n = children_of(victim, kids, 16);

	if (!strcmp(step, "after-seize"))
		return proc_tracer_pid(victim) > 0;
	if (!strcmp(step, "after-interrupt") || !strcmp(step, "after-setregs"))
		return thread_state(victim, victim) == 't' && n == 0;
	if (!strcmp(step, "in-free"))
		return n == 1 && proc_state(kids[0]) == 'Z';
	/* the pause is over: a live clone, and no thread traced or stopped */
	if (!strcmp(step, "before-deferred"))
		return n == 1 && proc_state(kids[0]) == 't' && cv_threads_held(victim) == 0;
	/* a batch of deferred threads stopped, the leader (in the pause) not */
	if (!strcmp(step, "in-deferred"))
		return n == 1 && cv_threads_held(victim) > 0 && thread_state(victim, victim) != 't';
	return thread_state(victim, victim) == 't' && n == 1;
}

/*
 * Proves (row 38): the host is SIGKILLed by the test (not by a fault
 * point) while the capture is paused at @step; then the pause is released:
 * the tracer finishes the stop, restores and detaches, removes every clone
 * within ~2 s and exits; the victim notices nothing.
 */
static void host_killed_row_n(const char *step, int sleepers)
{
	char fault[64], rep[256], release[64];
	struct host h;
	struct cv v;
	struct cwatch *w;
	uint64_t deadline;
	int st, fd;
	long ms;

	REQUIRE_PTRACE();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	fault_victim(&v, false, sleepers);
	snprintf(release, sizeof(release), "/tmp/pss-clone-release-%d", getpid());
	unlink(release);
	snprintf(fault, sizeof(fault), "%s:pause", step);
	/* Fork the host while we are single-threaded: a fork beside a running
	 * watcher thread can leave the child stuck on a lock of the sanitizer's
	 * allocator (twice seen under ASan; never in the plain build).  The
	 * host's first capture makes no clone, so the watcher misses nothing. */
	host_start(&h, v.t.pid, fault, release);
	w = cwatch_start(v.t.pid);
	/* the first line: the tracer's pid, after the warm-up capture */
	{
		char line[64];
		struct target rd = { .out_fd = h.out };

		/* A liveness bound, generous for a loaded machine under ASan. */
		REQUIRE(target_readline(&rd, line, sizeof(line), 30000) > 0, "the host reported nothing");
		h.tracer = (pid_t)reply_get(line, "tracer", 0);
		REQUIRE(h.tracer > 0, "the host has no tracer: %s", line);
	}
	deadline = now_ns() + 10000000000ull;
	while (!(host_paused(&h) && step_visible(step, v.t.pid)) && now_ns() < deadline)
		msleep(2);
	if (now_ns() >= deadline) {
		fd = open(release, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		close(fd);
		REQUIRE(0, "the capture never paused at %s", step);
	}
	REQUIRE(kill(h.pid, SIGKILL) == 0, "kill host");
	st = host_wait(&h, 5000);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "host status 0x%x", st);
	fd = open(release, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0, "create %s", release);
	close(fd);
	host_report(&h, rep, sizeof(rep));
	ms = wait_cleanup(v.t.pid, 4000);
	unlink(release);
	CHECK(ms >= 0, "a clone or the tracer is still there 4 s after the host's death (3 s after the release)");
	if (ms < 0)
		describe_clones(v.t.pid);
	else
		diag("%s: clones and tracer gone %ld ms after the release", step, ms);
	if (sleepers)
		CHECK(cv_threads_held(v.t.pid) == 0, "the tracer is gone, yet %d of the victim's %d threads are "
		      "traced or stopped", cv_threads_held(v.t.pid), thread_count(v.t.pid));
	cwatch_end(w);
	cv_verify(&v, false);
	if (sleepers)
		capture_free_deferred(&v);
	else
		capture_free_clean(v.t.pid);
	cv_verify(&v, false);
}

static void host_killed_row(const char *step)
{
	host_killed_row_n(step, 0);
}

TEST(row38_host_killed_after_seize) { host_killed_row("after-seize"); }
TEST(row38_host_killed_after_interrupt) { host_killed_row("after-interrupt"); }
TEST(row38_host_killed_after_setregs) { host_killed_row("after-setregs"); }
TEST(row38_host_killed_after_clone_event) { host_killed_row("after-clone-event"); }
TEST(row38_host_killed_after_exitkill) { host_killed_row("after-exitkill"); }
TEST(row38_host_killed_after_restore) { host_killed_row("after-restore"); }
TEST(row38_host_killed_before_detach) { host_killed_row("before-detach"); }
TEST(row38_host_killed_in_free) { host_killed_row("in-free"); }
/* Proves (row 38, deferred threads): with 300 parked threads, the host
 * killed while the capture is held at before-deferred (seen from outside:
 * a stopped clone under the victim, no thread of the victim traced or
 * stopped): released, the tracer reads the deferred threads, removes the
 * clone and exits; every thread ends untraced and not stopped. */
TEST(row38_host_killed_before_deferred) { host_killed_row_n("before-deferred", DEFER_SLEEPERS); }
/* The same with the first batch of deferred threads stopped and read. */
TEST(row38_host_killed_in_deferred) { host_killed_row_n("in-deferred", DEFER_SLEEPERS); }

/* ---- row 39: a host thread waits on every child ---- */

struct waiter {
	pthread_t th;
	atomic_int stop;
	long loops, ours, tracer, foreign;
	pid_t forked[4096];
	int nforked;
	pid_t first_foreign;
	char foreign_comm[32];
};

static bool is_tracer_comm(pid_t pid)
{
	char comm[32];

	return task_comm(pid, pid, comm, sizeof(comm)) > 0 && !strcmp(comm, "pss-tracer");
}

/* Loop on waitpid(-1, __WALL|WNOHANG); every ~20 ms fork a child that
 * exits at once, so the waits have legitimate children to find. */
static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	uint64_t next = now_ns();

	while (!atomic_load(&w->stop)) {
		int st;
		pid_t r;

		if (now_ns() >= next && w->nforked < 4096) {
			pid_t c = fork();

			if (c == 0)
				_exit(3);
			if (c > 0)
				w->forked[w->nforked++] = c;
			next = now_ns() + 20000000ull;
		}
		r = waitpid(-1, &st, __WALL | WNOHANG);
		w->loops++;
		if (r <= 0)
			continue;
		bool ours = false;

		for (int i = 0; i < w->nforked; i++)
			ours |= w->forked[i] == r;
		if (ours)
			w->ours++;
		else if (is_tracer_comm(r))
			w->tracer++;
		else if (w->foreign++ == 0)
			w->first_foreign = r;
	}
	return NULL;
}

/* Proves (row 39): while another thread of the capturing process loops on
 * waitpid(-1, __WALL|WNOHANG), captures with the clone still succeed and
 * are freed cleanly, and the host's waits only ever return the host's own
 * children (never the target, a tracee, or a clone). */
TEST(row39_hostile_waiter)
{
	struct waiter *w = calloc(1, sizeof(*w));
	struct cv v;
	struct cwatch *cw;

	REQUIRE_PTRACE();
	REQUIRE(w != NULL, "calloc");
	cv_start(&v, false);
	cv_queue_blocked(&v, 4);
	cw = cwatch_start(v.t.pid);
	REQUIRE(pthread_create(&w->th, NULL, waiter_thread, w) == 0, "pthread_create");
	for (int i = 0; i < 30; i++) {
		HPSS s = NULL;

		cv_feed(&v);
		CHECK_ERR(capture_pid(v.t.pid, CLONE_FLAGS, CONTEXT_ALL, &s), ERROR_SUCCESS);
		if (!s)
			continue;
		clone_of_snap(s, v.t.pid);
		free_and_check(s, v.t.pid);
	}
	atomic_store(&w->stop, 1);
	pthread_join(w->th, NULL);
	cwatch_end(cw);
	diag("waiter: %ld waits, %ld of our %d children, %ld tracer, %ld foreign", w->loops, w->ours, w->nforked,
	     w->tracer, w->foreign);
	CHECK(w->loops > 100, "the waiter barely ran (%ld waits)", w->loops);
	CHECK(w->foreign == 0, "the host's wait returned %ld foreign pids, first %d (victim %d)", w->foreign,
	      w->first_foreign, v.t.pid);
	CHECK(proc_state(v.t.pid) != 0, "the victim is gone");
	cv_verify(&v, false);
	free(w);
}

/* ---- row 61: self capture ---- */

static atomic_ulong self_counter;
static atomic_int self_stop;

static void *self_spin(void *arg)
{
	while (!atomic_load(&self_stop))
		atomic_fetch_add(&self_counter, 1);
	return NULL;
}

/* Proves (row 61): capturing our own process with the clone works while
 * another thread of ours keeps running: the clone is a stopped child of
 * ours holding our memory as it was (a buffer changed afterwards still
 * reads old there), the spinning thread goes on, and after the free no
 * clone is left and our own waitpid(-1) never sees one. */
TEST(row61_self_capture)
{
	static unsigned char buf[8192];
	pthread_t th;

	REQUIRE_PTRACE();
	REQUIRE(pthread_create(&th, NULL, self_spin, NULL) == 0, "pthread_create");
	for (int round = 0; round < 5; round++) {
		PSS_VA_CLONE_INFORMATION vi = { 0 };
		unsigned char got[sizeof(buf)];
		SIZE_T n = 0;
		unsigned long c0, c1;
		HPSS s = NULL;
		pid_t cpid;
		int st;

		memset(buf, 0x40 + round, sizeof(buf));
		c0 = atomic_load(&self_counter);
		CHECK_ERR(PssCaptureSnapshot(GetCurrentProcess(), CLONE_FLAGS, CONTEXT_ALL, &s), ERROR_SUCCESS);
		if (!s)
			break;
		memset(buf, 0xee, sizeof(buf));
		CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_VA_CLONE_INFORMATION, &vi, sizeof(vi)), ERROR_SUCCESS);
		cpid = vi.VaCloneHandle ? (pid_t)GetProcessId(vi.VaCloneHandle) : 0;
		CHECK(cpid > 0 && is_clone(cpid), "no clone %d", cpid);
		CHECK(clone_count(getpid()) == 1, "%d clones under us", clone_count(getpid()));
		CHECK(cpid > 0 && proc_state(cpid) == 't', "clone in state %c", cpid > 0 ? proc_state(cpid) : '?');
		CHECK(ReadProcessMemory(vi.VaCloneHandle, buf, got, sizeof(got), &n), "ReadProcessMemory: %s",
		      err_name(GetLastError()));
		CHECK_EQ_U64(n, sizeof(got));
		CHECK(got[0] == 0x40 + round && got[sizeof(got) - 1] == 0x40 + round,
		      "the clone reads 0x%02x, want the bytes of the capture instant 0x%02x", got[0], 0x40 + round);
		msleep(20);
		c1 = atomic_load(&self_counter);
		CHECK(c1 > c0, "our other thread stopped running");
		free_snap(s);
		CHECK_EQ_INT(clone_count(getpid()), 0);
		pid_t r = waitpid(-1, &st, __WALL | WNOHANG);
		CHECK(r == 0 || (r < 0 && errno == ECHILD) || (r > 0 && is_tracer_comm(r)),
		      "our waitpid(-1) returned %d (clone was %d)", r, cpid);
	}
	atomic_store(&self_stop, 1);
	pthread_join(th, NULL);
}

/* ---- row 62: concurrent captures of one target ---- */

struct racer {
	pid_t victim;
	pthread_barrier_t *bar;
	int rounds, ok, refused;
	DWORD other;
	pthread_t th;
};

static void *racer_thread(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < r->rounds; i++) {
		HPSS s = NULL;
		DWORD e;

		pthread_barrier_wait(r->bar);
		e = capture_pid(r->victim, PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT,
				CONTEXT_ALL, &s);
		if (e == ERROR_SUCCESS) {
			PSS_VA_CLONE_INFORMATION vi = { 0 };

			if (PssQuerySnapshot(s, PSS_QUERY_VA_CLONE_INFORMATION, &vi, sizeof(vi)) ||
			    !vi.VaCloneHandle || !is_clone((pid_t)GetProcessId(vi.VaCloneHandle)))
				r->other = 0xdead;
			else
				r->ok++;
			PssFreeSnapshot(GetCurrentProcess(), s);
		} else if (e == ERROR_ACCESS_DENIED || e == ERROR_BUSY) {
			r->refused++;
		} else {
			r->other = e;
		}
	}
	return NULL;
}

/* Proves (row 62): two threads of one process capture the same target
 * with the clone at the same instant, 25 times: each capture succeeds
 * (with its own clone) or is refused cleanly as busy/already traced; the
 * target notices nothing and no clone is left. */
TEST(row62_concurrent_threads)
{
	pthread_barrier_t bar;
	struct racer a = { 0 }, b = { 0 };
	struct cv v;
	struct cwatch *w;

	REQUIRE_PTRACE();
	cv_start(&v, false);
	cv_queue_blocked(&v, 4);
	w = cwatch_start(v.t.pid);
	pthread_barrier_init(&bar, NULL, 2);
	a.victim = b.victim = v.t.pid;
	a.bar = b.bar = &bar;
	a.rounds = b.rounds = 25;
	REQUIRE(pthread_create(&a.th, NULL, racer_thread, &a) == 0, "pthread_create");
	REQUIRE(pthread_create(&b.th, NULL, racer_thread, &b) == 0, "pthread_create");
	pthread_join(a.th, NULL);
	pthread_join(b.th, NULL);
	pthread_barrier_destroy(&bar);
	cwatch_end(w);
	diag("thread A: %d ok %d refused; thread B: %d ok %d refused", a.ok, a.refused, b.ok, b.refused);
	CHECK(a.other == 0 && b.other == 0, "unexpected results: %s / %s", err_name(a.other), err_name(b.other));
	CHECK(a.ok + b.ok > 0, "no capture succeeded");
	CHECK_EQ_INT(clone_count(v.t.pid), 0);
	cv_verify(&v, false);
}

/* Proves (row 62): two processes (two tracers) capture the same target at
 * once, 25 rounds: each capture succeeds or is refused cleanly; the target
 * notices nothing, no clone is left. */
TEST(row62_concurrent_processes)
{
	pthread_barrierattr_t ba;
	pthread_barrier_t *bar = mmap(NULL, sizeof(*bar), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct racer *rs = mmap(NULL, 2 * sizeof(*rs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[2];
	struct cv v;
	struct cwatch *w;

	REQUIRE_PTRACE();
	REQUIRE(bar != MAP_FAILED && rs != MAP_FAILED, "mmap");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	cv_start(&v, false);
	cv_queue_blocked(&v, 4);
	w = cwatch_start(v.t.pid);
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(bar, &ba, 2);
	memset(rs, 0, 2 * sizeof(*rs));
	fflush(stdout);
	for (int i = 0; i < 2; i++) {
		rs[i].victim = v.t.pid;
		rs[i].bar = bar;
		rs[i].rounds = 25;
		pids[i] = fork();
		REQUIRE(pids[i] >= 0, "fork");
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			racer_thread(&rs[i]);
			_exit(0);
		}
	}
	for (int i = 0; i < 2; i++) {
		int st;

		REQUIRE(waitpid(pids[i], &st, 0) == pids[i], "waitpid");
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "racer %d status 0x%x", i, st);
	}
	cwatch_end(w);
	diag("process A: %d ok %d refused; process B: %d ok %d refused", rs[0].ok, rs[0].refused, rs[1].ok,
	     rs[1].refused);
	CHECK(rs[0].other == 0 && rs[1].other == 0, "unexpected results: %s / %s", err_name(rs[0].other),
	      err_name(rs[1].other));
	CHECK(rs[0].ok + rs[1].ok > 0, "no capture succeeded");
	CHECK(wait_cleanup(v.t.pid, 3000) >= 0, "clones or tracers left after the racers exited");
	cv_verify(&v, false);
}

/* ---- row 72: another pid namespace ---- */

/* Proves (row 72): a target that is the init of a new pid namespace, and a
 * child of that init: capture with the clone and free; the snapshot
 * records both pids (NSpid, innermost 1 for the init), and afterwards the
 * namespace's init has no clone or zombie among its children (only its
 * own child), and that child has no children at all. */
TEST(row72_pid_namespace)
{
	int in[2], out[2], pp[2];
	struct target t = { 0 };
	char line[128];
	pid_t relay, init = 0, kid, kid_ns;
	HPSS s;
	struct pss_linux_process_info pi;

	REQUIRE_PTRACE();
	REQUIRE(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(pp, O_CLOEXEC) == 0, "pipe");
	fflush(stdout);
	relay = fork();
	REQUIRE(relay >= 0, "fork");
	if (relay == 0) {
		/* the relay: a new pid namespace for its children; its child is init */
		char path[512], exe[400];
		ssize_t n;
		pid_t c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWPID) < 0) {
			c = -errno;
			if (write(pp[1], &c, sizeof(c)) < 0)
				_exit(2);
			_exit(1);
		}
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = 0;
		if (strrchr(exe, '/'))
			*strrchr(exe, '/') = 0;
		snprintf(path, sizeof(path), "%s/%s/victim",
			 getenv("PSS_TEST_TARGETS") ? getenv("PSS_TEST_TARGETS") : exe,
			 getenv("PSS_TEST_TARGETS") ? "." : "../targets");
		c = fork();
		if (c == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			dup2(in[0], 0);
			dup2(out[1], 1);
			execl(path, path, (char *)NULL);
			_exit(127);
		}
		if (write(pp[1], &c, sizeof(c)) < 0)
			_exit(2);
		waitpid(c, NULL, 0);
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	close(pp[1]);
	REQUIRE(read(pp[0], &init, sizeof(init)) == sizeof(init), "relay reported nothing");
	if (init < 0) {
		kill(relay, SIGKILL);
		waitpid(relay, NULL, 0);
		SKIP("unshare(CLONE_NEWPID): %s", strerror(-init));
	}
	t.pid = init;
	t.in_fd = in[1];
	t.out_fd = out[0];
	REQUIRE(target_readline(&t, line, sizeof(line), 10000) > 0 && !strcmp(line, "ready 1"),
		"the namespace init did not start: %s", line);
	target_cmdf(&t, line, sizeof(line), "threads 2");
	target_cmdf(&t, line, sizeof(line), "fork-child");
	kid_ns = (pid_t)reply_get(line, "child", 0);
	REQUIRE(kid_ns > 1, "the init could not fork: %s", line);
	{
		pid_t kids[8];

		REQUIRE(children_of(init, kids, 8) == 1, "init has %d children", children_of(init, kids, 8));
		kid = kids[0];
		REQUIRE(wait_thread_syscall(kid, kid, SYS_pause, 5000) == 0, "the init's child never paused");
	}
	victim_idle(&t);
	for (int i = 0; i < 3; i++) {
		pid_t target = i == 1 ? kid : init;

		s = capture_ok(target, CLONE_FLAGS, CONTEXT_ALL);
		clone_of_snap(s, target);
		memset(&pi, 0, sizeof(pi));
		pi.sz = sizeof(pi);
		CHECK_ERR(pss_linux_query_process(s, &pi), ERROR_SUCCESS);
		CHECK(pi.nspid_count == 2 && pi.nspid[0] == target && pi.nspid[1] == (target == init ? 1 : kid_ns),
		      "NSpid of %d: count %u, %d %d", target, pi.nspid_count, pi.nspid[0], pi.nspid[1]);
		free_snap(s);
		{
			pid_t kids[8];
			int n = children_of(init, kids, 8);

			CHECK(n == 1 && kids[0] == kid, "init's children after free: %d (first %d)", n, n ? kids[0] : 0);
			CHECK_EQ_INT(children_of(kid, kids, 8), 0);
		}
	}
	REQUIRE(target_cmd(&t, "ping", line, sizeof(line)) > 0 && !strncmp(line, "pong", 4), "init: %s", line);
	CHECK(no_thread_traced(init) && no_thread_traced(kid), "left traced");
	CHECK(proc_state(kid) == 'S', "the init's child in state %c", proc_state(kid));
	kill(init, SIGKILL);
	kill(relay, SIGKILL);
	waitpid(relay, NULL, 0);
	close(t.in_fd);
	close(t.out_fd);
}

/* ---- row 73: rseq ---- */

/* Which thread of @victim created @child (its /proc/.../task/T/children). */
static pid_t parent_thread(pid_t victim, pid_t child)
{
	pid_t tids[64];
	int n = thread_ids(victim, tids, 64);

	for (int i = 0; i < n && i < 64; i++) {
		pid_t kids[64];
		int nk = task_children(victim, tids[i], kids, 64);

		for (int k = 0; k < nk && k < 64; k++)
			if (kids[k] == child)
				return tids[i];
	}
	return 0;
}

/* Proves (row 73): a target with one thread in a hot rseq-using loop
 * (sched_getcpu through glibc's rseq area) and others blocked: 20 captures
 * with the clone never inject into the rseq thread nor the register
 * spinner (the clone's creator is a blocked thread, per
 * /proc/PID/task/TID/children), and the loop's own checks (rseq still
 * registered, every cpu valid) never fail. */
TEST(row73_rseq_loop)
{
	struct cv v;
	struct cwatch *w;
	char r[1024];
	long it0;

	REQUIRE_PTRACE();
	cv_start(&v, true);
	REQUIRE(v.rseq > 0, "the victim has no rseq thread");
	target_cmdf(&v.t, r, sizeof(r), "info");
	if (reply_get(r, "rseq_size", 0) == 0)
		SKIP("glibc did not register rseq (rseq_size 0; glibc.pthread.rseq=0?)");
	target_cmdf(&v.t, r, sizeof(r), "check 0");
	it0 = reply_get(r, "rs_iters", 0);
	w = cwatch_start(v.t.pid);
	for (int i = 0; i < 20; i++) {
		HPSS s = capture_ok(v.t.pid, CLONE_FLAGS, CONTEXT_ALL);
		pid_t c = clone_of_snap(s, v.t.pid), by = parent_thread(v.t.pid, c);

		CHECK(by != 0, "no thread of %d lists clone %d as its child", v.t.pid, c);
		CHECK(by != v.rseq, "round %d: the clone was injected into the rseq thread %d", i, by);
		CHECK(by != v.regs, "round %d: the clone was injected into the running spinner %d", i, by);
		free_and_check(s, v.t.pid);
		cv_feed(&v);
	}
	cwatch_end(w);
	target_cmdf(&v.t, r, sizeof(r), "check 0");
	CHECK(reply_get(r, "rs_iters", 0) > it0, "the rseq loop stopped");
	CHECK_ZERO(r, "rs_bad");
	cv_verify(&v, false);
}

/* ---- row 74: calls with a temporary signal mask ---- */

/* Proves (row 74): ppoll, pselect6 and rt_sigsuspend with a temporary mask
 * that opens SIGUSR1: after three captures with the clone a SIGUSR1 sent
 * later still interrupts each call (EINTR, correct here) and runs the
 * handler exactly once on that thread, and the thread's normal mask
 * (SIGUSR1 blocked) is back after the call. */
TEST(row74_temporary_mask_calls)
{
	static const char *const calls[] = { "sigsuspend", "ppoll", "pselect" };
	struct target t;
	struct cwatch *w;
	char r[256];

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 1");
	for (size_t i = 0; i < 3; i++) {
		pid_t tid;

		target_cmdf(&t, r, sizeof(r), "block %s", calls[i]);
		tid = (pid_t)reply_get(r, "tid", 0);
		REQUIRE(tid > 0, "victim: %s", r);
		REQUIRE(wait_thread_syscall(t.pid, tid, reply_get(r, "nr", -1), 5000) == 0, "%s not blocked", calls[i]);
	}
	victim_idle(&t);
	w = cwatch_start(t.pid);
	for (int i = 0; i < 3; i++)
		capture_free_clean(t.pid);
	cwatch_end(w);
	for (size_t i = 0; i < 3; i++) {
		target_cmdf(&t, r, sizeof(r), "done %s", calls[i]);
		CHECK_EQ_INT(reply_get(r, "done", -1), 0);
		target_cmdf(&t, r, sizeof(r), "result %s", calls[i]);
		diag("%s: %s", calls[i], r);
		CHECK(reply_get(r, "ret", 0) == -1 && reply_get(r, "errno", 0) == EINTR, "%s: %s", calls[i], r);
		CHECK(reply_get(r, "handled", -1) == 1, "%s: the handler ran %lld times", calls[i],
		      reply_get(r, "handled", -1));
		CHECK(reply_get(r, "x1", 0) == 1, "%s: SIGUSR1 not blocked again after the call", calls[i]);
	}
	target_cmdf(&t, r, sizeof(r), "sigcount");
	CHECK_EQ_INT(reply_get(r, "usr1", -1), 3);
	CHECK_EQ_INT(reply_get(r, "stdin_eintr", -1), 0);
	CHECK(no_thread_traced(t.pid), "left traced");
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
