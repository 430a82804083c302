// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The target is sacred, with the VA clone: the rows of test-safety.c again
 * (fault matrix 1-7, 11-14, 16, 17, 20, 22, 23, 27, written once in
 * safety-rows.h) with PSS_CAPTURE_VA_CLONE added, plus the rows only the
 * injection has: 9 (the injected thread's registers), 13/14 with signals
 * sent while the injection thread holds injected registers, 15 (target
 * killed once the clone exists), 21 (leader exited), 24 (exec
 * mid-capture), 25/26 (vfork parent and child) and 28 (the target is a
 * tracer itself).
 *
 * The injection runs in one of the target's blocked threads.  The blocker
 * rows start the victim with --ppoll, so its command loop waits in ppoll()
 * (a temporary-mask call the library must not inject into) and the thread
 * blocked in the row's syscall is the one to inject into.  Which thread was
 * used is seen by holding each capture a moment at the after-setregs fault
 * point: the injected thread is the one whose pc is in the vDSO (the
 * injection uses the vDSO's syscall instruction).  So "no EINTR, registers
 * unchanged" covers the injected thread itself.
 *
 * Fault points: PSS_FAULT=STEP:pause holds the capture at STEP until the
 * release file exists (fault_arm/fault_release in the harness).
 */
#define SAFETY_VA_CLONE 1
#include "safety-rows.h"

/*
 * Proves (row 9, for the injected thread and the others): 20 clone
 * captures inject into the thread blocked in a raw read() whose
 * registers (rbx, rbp, rdi, rsi, rdx, r8, r10, r12-r15, ymm0-15) are
 * checked by the thread itself when the read returns: the read returns
 * its byte, no EINTR, no register changed; the register spinner beside it
 * never sees a change either.
 */
TEST(row09_injected_thread_registers_unchanged)
{
	struct target t;
	char r[256];
	pid_t rr;
	unsigned long long it0, it1;

	REQUIRE_PTRACE();
	start_victim_ppoll(&t);
	target_cmdf(&t, r, sizeof(r), "regs 90");
	it0 = (unsigned long long)reply_get(target_cmdf(&t, r, sizeof(r), "check"), "iterations", 0);
	target_cmdf(&t, r, sizeof(r), "block regread");
	rr = (pid_t)reply_get(r, "tid", -1);
	REQUIRE(rr > 0 && wait_thread_syscall(t.pid, rr, 0, 5000) == 0, "regread thread not blocked: %s", r);
	victim_idle(&t);
	captures(t.pid, 20, &rr, 1);
	target_cmdf(&t, r, sizeof(r), "done regread");
	CHECK_EQ_INT(reply_get(r, "done", -1), 0);
	target_cmdf(&t, r, sizeof(r), "result regread");
	diag("regread: %s", r);
	CHECK_EQ_INT(reply_get(r, "ret", 0), 1);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK_EQ_INT(reply_get(r, "x0", -1), 0);	/* register mismatches */
	CHECK_EQ_INT(reply_get(r, "x1", 0), 'x');
	target_cmdf(&t, r, sizeof(r), "check");
	it1 = (unsigned long long)reply_get(r, "iterations", 0);
	CHECK_EQ_INT(reply_get(r, "mismatches", -1), 0);
	CHECK(it1 > it0, "spinner stopped spinning (%llu -> %llu)", it0, it1);
	check_victim_fine(&t);
}

/*
 * signal_during_injection() - a victim child (threads in read()) whose
 * capture is held at after-setregs, the injection thread holding injected
 * registers (its pc in the vDSO); @sig is sent to it then.  Return the
 * child, the capture still held in @b.
 */
static pid_t signal_during_injection(struct target *t, struct bg *b, int sig)
{
	pid_t child, inj;

	child = victim_child(t, false);
	held_start(b, child, "after-setregs");
	inj = wait_pc_in_vdso(child, 10000);
	if (!inj)
		held_abort(b, "the capture never reached after-setregs (no thread with its pc in [vdso])");
	diag("injection thread %d holds injected registers", inj);
	kill(child, sig);
	msleep(50);
	return child;
}

/* Proves (row 13, during injection): SIGSTOP sent while the injection
 * thread holds injected registers leaves the target stopped with SIGSTOP
 * in every thread, the parent sees exactly one CLD_STOPPED, nothing stays
 * traced and no clone is left (whether the capture then succeeded or
 * failed cleanly). */
TEST(row13_sigstop_during_injection)
{
	struct target t;
	struct bg b;
	pid_t child;

	REQUIRE_PTRACE();
	child = signal_during_injection(&t, &b, SIGSTOP);
	held_finish(&b, false);
	check_ends_stopped_once(&t, child);
}

/* Proves (row 14, during injection): SIGCONT sent while the injection
 * thread holds injected registers changes nothing: the capture succeeds,
 * the target ends running, untraced, its parent sees no stop. */
TEST(row14_sigcont_during_injection)
{
	struct target t;
	char r[256];
	struct bg b;
	pid_t child;

	REQUIRE_PTRACE();
	child = signal_during_injection(&t, &b, SIGCONT);
	CHECK_ERR(held_finish(&b, false), ERROR_SUCCESS);
	CHECK(all_threads_in(child, 'S', 3000), "child not running (state %c)", proc_state(child));
	check_child_untraced(child);
	target_cmdf(&t, r, sizeof(r), "waitchild");
	CHECK_EQ_INT(reply_get(r, "pid", -1), 0);
}

/* Proves (row 15): the target SIGKILLed once the clone exists (held at
 * after-clone-event): the capture returns an error and no snapshot; the
 * clone never runs and is gone or a corpse within 2 s; nothing is left
 * traced; the tracer leaves no zombie of ours. */
TEST(row15_target_killed_after_clone_event)
{
	struct target t;
	char r[256];
	struct bg b;
	pid_t kids[8], me = getpid(), cpid = 0;
	int n = 0, st;
	char cs = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	victim_idle(&t);
	REQUIRE(children_of(t.pid, kids, 8) == 0, "victim has children already");
	held_start(&b, t.pid, "after-clone-event");
	for (int i = 0; i < 5000 && n == 0; i++) {
		n = children_of(t.pid, kids, 8);
		if (!n)
			msleep(2);
	}
	if (n != 1)
		held_abort(&b, "no clone appeared under the victim (after-clone-event not reached)");
	cpid = kids[0];
	kill(t.pid, SIGKILL);
	msleep(50);
	CHECK(held_finish(&b, false) != ERROR_SUCCESS, "the capture of a killed target succeeded");
	CHECK(b.snap == NULL, "a snapshot of a killed target");
	st = target_wait(&t, 5000);
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "victim status %#x", st);
	for (int i = 0; i < 400; i++) {
		cs = proc_state(cpid);
		if (cs == 0 || cs == 'Z')
			break;
		msleep(5);
	}
	CHECK(cs == 0 || cs == 'Z', "clone %d still alive (state %c, tracer %d)", cpid, cs, proc_tracer_pid(cpid));
	n = children_of(me, kids, 8);
	for (int i = 0; i < n; i++)
		CHECK(proc_state(kids[i]) != 'Z', "zombie child %d of ours", kids[i]);
	/* the orphaned clone went to the harness (our subreaper): not alive */
	CHECK_EQ_INT(clone_procs_under(getppid(), false), 0);
}

/* Proves (row 21): the leader called pthread_exit while other threads
 * live: the clone capture either succeeds (leader listed as terminated or
 * not at all, the others with contexts) or fails cleanly; the victim runs
 * on untraced and no clone is left. */
TEST(row21_leader_exited)
{
	struct target t;
	char r[256];
	HPSS s = NULL;
	DWORD e;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	target_cmdf(&t, r, sizeof(r), "leader-exit");
	t.idle_tid = (pid_t)reply_get(r, "tid", 0);
	REQUIRE(t.idle_tid > 0, "victim: %s", r);
	for (int i = 0; i < 1000 && thread_state(t.pid, t.pid) != 'Z'; i++)
		msleep(2);
	REQUIRE(thread_state(t.pid, t.pid) == 'Z', "leader not exited (%c)", thread_state(t.pid, t.pid));
	victim_idle(&t);
	e = capture_pid(t.pid, CTX_FLAGS, CONTEXT_ALL, &s);
	diag("capture with an exited leader: %s %s", err_name(e), e ? capture_error_text() : "");
	if (e == ERROR_SUCCESS) {
		struct walk w;

		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
		for (size_t k = 0; k < w.count; k++) {
			PSS_THREAD_ENTRY *x = WALK_ITEM(&w, PSS_THREAD_ENTRY, k);

			if (x->ThreadId == (DWORD)t.pid)
				CHECK(x->Flags & PSS_THREAD_FLAGS_TERMINATED, "exited leader not marked terminated");
			else
				CHECK(x->ContextRecord != NULL, "live thread %u without a context", x->ThreadId);
		}
		CHECK(w.count >= 3, "only %zu threads listed", w.count);
		walk_release(&w);
		free_snap(s);
	} else {
		CHECK(s == NULL, "SnapshotHandle set after a failure");
	}
	target_cmdf(&t, r, sizeof(r), "ping");
	CHECK(!strncmp(r, "pong", 4), "victim: %s", r);
	check_victim_fine(&t);
}

/* Proves (row 24): the target execs (from a helper thread) while the
 * capture holds it seized (after-seize): the capture gives a clean error
 * and no snapshot, the new program starts and runs untraced, and no clone
 * is left. */
TEST(row24_target_execs_mid_capture)
{
	struct target t;
	char r[256];
	struct bg b;
	DWORD e;
	int traced = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "threads 2");
	target_cmdf(&t, r, sizeof(r), "exec-arm");
	REQUIRE(reply_get(r, "tid", 0) > 0, "victim: %s", r);
	victim_idle(&t);
	held_start(&b, t.pid, "after-seize");
	for (int i = 0; i < 5000 && traced < thread_count(t.pid); i++) {
		pid_t tids[16];
		int n = thread_ids(t.pid, tids, 16);

		traced = 0;
		for (int k = 0; k < n && k < 16; k++)
			traced += thread_tracer_pid(t.pid, tids[k]) > 0;
		if (traced < n)
			msleep(2);
	}
	if (traced < 4)
		held_abort(&b, "the capture never seized every thread");
	REQUIRE(target_send(&t, "exec-go") == 0, "send exec-go");
	msleep(100);
	e = held_finish(&b, false);
	CHECK(e != ERROR_SUCCESS, "the capture of a target that exec'd in the middle succeeded");
	REQUIRE(target_readline(&t, r, sizeof(r), 10000) > 0, "the new program never said ready");
	CHECK(!strncmp(r, "ready ", 6) && atoi(r + 6) == t.pid, "after exec: '%s'", r);
	victim_idle(&t);
	target_cmdf(&t, r, sizeof(r), "ping");
	CHECK(!strncmp(r, "pong", 4), "new program: %s", r);
	CHECK_EQ_INT(thread_count(t.pid), 1);
	check_victim_fine(&t);
}

/* rows 25/26: the victim forks P, which vforks G (sleeping 3 s) */
static void vfork_pair(struct target *t, pid_t *parent, pid_t *child)
{
	char r[256];

	start_victim(t);
	target_cmdf(t, r, sizeof(r), "vfork 3000");
	*parent = (pid_t)reply_get(r, "parent", 0);
	*child = (pid_t)reply_get(r, "child", 0);
	REQUIRE(*parent > 0 && *child > 0, "victim: %s", r);
	for (int i = 0; i < 1000 && proc_state(*parent) != 'D'; i++)
		msleep(2);
	REQUIRE(proc_state(*parent) == 'D', "vfork parent not waiting (%c)", proc_state(*parent));
	REQUIRE(wait_thread_syscall(*child, *child, SYS_clock_nanosleep, 5000) == 0, "vfork child not asleep");
}

/* After the vfork child's exit: P's vfork returned G with no EINTR, G
 * exited 0, and P is not left stopped or traced. */
static void check_vfork_done(struct target *t, pid_t parent, pid_t child)
{
	char r[256];
	char st = 0;

	target_cmdf(t, r, sizeof(r), "vfork-result");
	diag("vfork parent: %s", r);
	CHECK_EQ_INT(reply_get(r, "ret", 0), child);
	CHECK_EQ_INT(reply_get(r, "errno", -1), 0);
	CHECK_EQ_INT(reply_get(r, "status", -1), 0);
	for (int i = 0; i < 500; i++) {
		st = proc_state(parent);
		if (st == 'S' && proc_tracer_pid(parent) == 0)
			break;
		msleep(4);
	}
	CHECK(st == 'S', "vfork parent left in state %c", st);
	CHECK_EQ_INT(proc_tracer_pid(parent), 0);
	CHECK_EQ_INT(clone_procs_under(parent, true), 0);
}

/* Proves (row 25): a vfork parent gives ERROR_TIMEOUT after the configured
 * timeout, long before its vfork ends (the child still sleeps when the
 * capture returns); afterwards its vfork returns the child with no EINTR
 * and it is not left stopped or traced. */
TEST(row25_vfork_parent_times_out)
{
	struct target t;
	struct pss_linux_options o = { .sz = sizeof(o), .timeout_ms = 500 };
	pid_t parent, child;
	HANDLE h;
	HPSS s = (HPSS)0x1;
	char cs;

	REQUIRE_PTRACE();
	vfork_pair(&t, &parent, &child);
	h = open_process(parent);
	CHECK_ERR(pss_linux_capture(h, CTX_FLAGS, CONTEXT_ALL, &o, &s), ERROR_TIMEOUT);
	CHECK(s == NULL, "SnapshotHandle set after a failure");
	cs = proc_state(child);
	CHECK(cs == 'S', "the capture waited for the vfork child (state %c)", cs);
	CloseHandle(h);
	check_vfork_done(&t, parent, child);
}

/* Proves (row 26): a vfork child (it shares its parent's memory) is refused
 * with ERROR_NOT_SUPPORTED, untouched: it finishes its sleep and exits 0. */
TEST(row26_vfork_child_refused)
{
	struct target t;
	pid_t parent, child;
	HPSS s = (HPSS)0x1;

	REQUIRE_PTRACE();
	vfork_pair(&t, &parent, &child);
	CHECK_ERR(capture_pid(child, CTX_FLAGS, CONTEXT_ALL, &s), ERROR_NOT_SUPPORTED);
	CHECK(s == NULL, "SnapshotHandle set after a failure");
	CHECK_EQ_INT(proc_tracer_pid(child), 0);
	CHECK_EQ_INT(proc_tracer_pid(parent), 0);
	check_vfork_done(&t, parent, child);
}

/* Proves (row 28): a target that traces its own child is captured with
 * the clone; its tracee stays traced by it and still reports to it (an
 * interrupt stop it waits for), before and after the free. */
TEST(row28_target_is_a_tracer)
{
	struct target t;
	char r[256];
	pid_t child;
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "trace-child");
	child = (pid_t)reply_get(r, "child", 0);
	REQUIRE(child > 0 && reply_get(r, "ret", -1) == 0, "victim: %s", r);
	REQUIRE_EQ_INT(proc_tracer_pid(child), t.pid);
	victim_idle(&t);
	s = capture_ok(t.pid, CTX_FLAGS, CONTEXT_ALL);
	h = query_va_clone(s, &cpid);
	CHECK(h && cpid > 0, "no VaCloneHandle");
	CHECK_EQ_INT(proc_tracer_pid(child), t.pid);
	target_cmdf(&t, r, sizeof(r), "trace-check");
	CHECK(reply_get(r, "ret", -1) == 0 && reply_get(r, "stopped", 0) == 1 &&
	      reply_get(r, "event", 0) == PTRACE_EVENT_STOP && reply_get(r, "tracer", 0) == t.pid,
	      "the victim's tracee while the snapshot lives: %s", r);
	free_snap(s);
	target_cmdf(&t, r, sizeof(r), "trace-check");
	CHECK(reply_get(r, "ret", -1) == 0 && reply_get(r, "stopped", 0) == 1 &&
	      reply_get(r, "tracer", 0) == t.pid, "the victim's tracee after the free: %s", r);
	CHECK(no_thread_traced(t.pid), "victim left traced");
	CHECK_EQ_INT(clone_procs_under(t.pid, true), 0);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
