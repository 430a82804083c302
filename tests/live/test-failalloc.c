/*
 * Failure injection, the SQLite way (issue 6): the Nth allocation of the
 * library fails (PSS_FAULT_ALLOC=N) for every N a full capture and free
 * make, one capture per N in a fresh process.  Each must return a
 * documented code, and the target must be left untouched: untraced, not
 * stopped, no clone under it.  Under ASan, LeakSanitizer fails the child
 * on any leak.
 */
#include "harness.h"
#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLAGS (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | \
	       PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION |                \
	       PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION | PSS_CAPTURE_VA_SPACE |        \
	       PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION)
#define MAX_N 400

/* LeakSanitizer's explicit check, in ASan builds (the child leaves with
 * _exit, which skips the check at exit). */
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static bool documented(DWORD e)
{
	return e == ERROR_SUCCESS || e == ERROR_NOT_ENOUGH_MEMORY || e == ERROR_NO_SYSTEM_RESOURCES;
}

/* One capture and free in a child with allocation @n failing; its exit
 * status is the capture's code (0xff: the free failed). */
static int run_one(pid_t victim, int n)
{
	char env[32];
	pid_t p;
	int st;

	fflush(stdout);
	p = fork();
	if (p == 0) {
		HPSS s = NULL;
		DWORD e;

		snprintf(env, sizeof(env), "%d", n);
		setenv("PSS_FAULT_ALLOC", env, 1);
		e = capture_pid(victim, FLAGS, CONTEXT_ALL, &s);
		if (s && PssFreeSnapshot(GetCurrentProcess(), s))
			_exit(0xff);
		unsetenv("PSS_FAULT_ALLOC");
		if (__lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check())
			_exit(23);
		_exit(e > 0xfe ? 0xfe : (int)e);
	}
	if (p < 0 || waitpid(p, &st, 0) != p)
		return -1;
	return st;
}

/* Proves: whichever allocation fails, capture and free return a documented
 * code, leak nothing, and leave the target as it was. */
TEST(every_allocation_fails_in_turn)
{
	struct target t;
	int n, st, fails = 0, successes = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	for (n = 1; n <= MAX_N; n++) {
		st = run_one(t.pid, n);
		REQUIRE(st >= 0, "allocation %d: no child", n);
		CHECK(WIFEXITED(st), "allocation %d: the capturing process died (status %#x)", n, st);
		if (!WIFEXITED(st))
			break;
		CHECK(WEXITSTATUS(st) != 0xff, "allocation %d: PssFreeSnapshot failed", n);
		CHECK(documented((DWORD)WEXITSTATUS(st)) || WEXITSTATUS(st) == 23 /* LSan */,
		      "allocation %d: undocumented code %d", n, WEXITSTATUS(st));
		CHECK(WEXITSTATUS(st) != 23, "allocation %d: LeakSanitizer found a leak", n);
		for (int i = 0; i < 200 && (proc_tracer_pid(t.pid) || !no_thread_traced(t.pid)); i++)
			msleep(5);
		CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
		CHECK(proc_state(t.pid) != 'T', "allocation %d: victim left stopped", n);
		/* No live clone, ever.  A corpse may stay when the failed
		 * allocation was the zombie reap's own: the next capture reaps it
		 * (checked at the end). */
		for (int i = 0; i < 200 && clone_procs_under(t.pid, false) > 0; i++)
			msleep(5);
		CHECK_EQ_INT(clone_procs_under(t.pid, false), 0);
		if (harness_failures())
			break;
		/* Forty successes in a row: N is past the last allocation (some
		 * failures are tolerated on purpose: optional detail). */
		if (WEXITSTATUS(st) == 0) {
			if (++successes >= 40)
				break;
		} else {
			successes = 0;
			fails++;
		}
	}
	diag("%d captures failed cleanly before allocations ran out (N up to %d)", fails, n);
	{
		HPSS s = NULL;

		REQUIRE_OK(capture_pid(t.pid, FLAGS, CONTEXT_ALL, &s));
		PssFreeSnapshot(GetCurrentProcess(), s);
		CHECK_EQ_INT(clone_procs_under(t.pid, true), 0);
	}
	CHECK(fails > 10, "too few allocations were failed (%d): the fault point is not reached?", fails);
	{
		char r[64];

		CHECK(target_cmd(&t, "ping", r, sizeof(r)) > 0 && strstr(r, "pong"),
		      "the victim does not answer");
	}
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
