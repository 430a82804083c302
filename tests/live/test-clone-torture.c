// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The torture test of the VA clone (issue 3; design section 7, invariant
 * 2; fault matrix rows 37 and 38 at random instants).
 *
 * Round after round a host process starts capturing a target with the
 * clone (capture + free in a loop) and is SIGKILLed by the test after a
 * random delay of 0..3 ms (CLOCK_MONOTONIC) from the instant it starts.
 * The target, clone-victim-check, checks its own registers (a spinner),
 * its signals (one counted SIGRTMIN+1 with a sequence payload per round,
 * blocked SIGRTMIN+2/+3 queued before the run) and its syscall results
 * (read on a pipe we feed every round, a 20 ms clock_nanosleep loop timing
 * itself, epoll_wait on a second fed pipe, a futex waiter woken every 16
 * rounds).  Expected:
 *   - the target never notices: no mismatch, no EINTR, no early return,
 *     every signal exactly once;
 *   - no clone ever runs: a watcher thread samples the target's children
 *     every ~1 ms for the whole run (state 't' or dead only);
 *   - every orphaned tracer ("pss-tracer", re-parented to us, a child
 *     subreaper) exits within ~2 s (3 s allowed) of being orphaned;
 *   - afterwards at most zombie clones remain (a dead capturer's tracer
 *     could not reap them), and one more capture + free of the target
 *     leaves none.
 *
 * Env: PSS_TORTURE_ROUNDS (default 300), PSS_TORTURE_SEED (default: the
 * clock; printed, so a failure can be replayed).
 */
#include "harness.h"
#include "../targets/clone-victim-check.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define TRACER_GRACE_NS 3000000000ull	/* an orphaned tracer exits within this */
#define MAX_DELAY_US 3000

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* host_loop() - the capturing process: say "go", then capture the target
 * with the clone and free it until killed. */
static void __attribute__((noreturn)) host_loop(pid_t victim, int go_fd)
{
	char go = 'g';

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (write(go_fd, &go, 1) != 1)
		_exit(2);
	for (;;) {
		HPSS s = NULL;

		capture_pid(victim, CLONE_FLAGS, CONTEXT_ALL, &s);
		if (s)
			PssFreeSnapshot(GetCurrentProcess(), s);
	}
}

/* Orphaned tracers: when first seen, reaped once dead; too old is a failure. */
struct orphans {
	pid_t pid[1024];
	uint64_t first[1024];
	int n, seen, late;
	pid_t late_pid;
};

static void orphans_sweep(struct orphans *o)
{
	pid_t tr[64];
	bool alive;
	int n = orphan_tracers(tr, 64, &alive);
	uint64_t now = now_ns();

	for (int i = 0; i < n; i++) {
		int k;

		for (k = 0; k < o->n && o->pid[k] != tr[i]; k++)
			;
		if (k == o->n) {
			if (o->n == 1024) {
				memmove(o->pid, o->pid + 512, 512 * sizeof(o->pid[0]));
				memmove(o->first, o->first + 512, 512 * sizeof(o->first[0]));
				o->n = 512;
				k = o->n;
			}
			o->pid[k] = tr[i];
			o->first[k] = now;
			o->n++;
			o->seen++;
		}
		if (proc_state(tr[i]) == 'Z') {
			waitpid(tr[i], NULL, __WALL | WNOHANG);
		} else if (now - o->first[k] > TRACER_GRACE_NS && o->first[k]) {
			if (o->late++ == 0)
				o->late_pid = tr[i];
			o->first[k] = 0;	/* report each one once */
		}
	}
}

/* Proves (issue 3 torture; rows 37/38 at random instants): see the top of
 * this file for every expectation. */
TEST(torture_random_sigkill)
{
	const char *e = getenv("PSS_TORTURE_ROUNDS"), *se = getenv("PSS_TORTURE_SEED");
	int rounds = e && atoi(e) > 0 ? atoi(e) : 300, killed_early = 0, hung = 0, in_stop = 0, with_clone = 0;
	struct orphans *o = calloc(1, sizeof(*o));
	uint64_t t_start = now_ns(), deadline;
	struct cwatch *w;
	struct cv v;
	pid_t c[64];
	int n, z;

	REQUIRE_PTRACE();
	REQUIRE(o != NULL, "calloc");
	rng_state = se && *se ? strtoull(se, NULL, 0) : now_ns();
	if (!rng_state)
		rng_state = 1;
	diag("%d rounds, PSS_TORTURE_SEED=%llu", rounds, (unsigned long long)rng_state);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	cv_start(&v, false);
	cv_queue_blocked(&v, 16);
	w = cwatch_start(v.t.pid);
	for (int r = 0; r < rounds; r++) {
		struct timespec until;
		uint64_t t0, delay_ns = (rng() % (MAX_DELAY_US + 1)) * 1000ull;
		int p[2], st;
		pid_t host;
		char go;

		REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
		fflush(stdout);
		host = fork();
		REQUIRE(host >= 0, "fork: %s", strerror(errno));
		if (host == 0) {
			close(p[0]);
			host_loop(v.t.pid, p[1]);
		}
		close(p[1]);
		if (read(p[0], &go, 1) != 1)
			killed_early++;
		t0 = now_ns() + delay_ns;
		until.tv_sec = (time_t)(t0 / 1000000000ull);
		until.tv_nsec = (long)(t0 % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
			;
		if (proc_tracer_pid(v.t.pid) > 0)
			in_stop++;	/* killed while the target was held */
		if (clone_count(v.t.pid) > 0)
			with_clone++;
		kill(host, SIGKILL);
		if (waitpid(host, &st, __WALL) != host)
			hung++;
		close(p[0]);
		cv_feed(&v);
		if (r % 16 == 15) {
			char reply[64];

			target_cmdf(&v.t, reply, sizeof(reply), "futex-wake");
			CHECK_EQ_INT(reply_get(reply, "futex_wakes", -1), ++v.fx_sent);
		}
		orphans_sweep(o);
		if (atomic_load(&w->bad))
			break;		/* a clone ran: no point going on */
	}
	diag("%d rounds in %llu ms; %d tracers orphaned; killed %d times with the target held, "
	     "%d times with a clone present", rounds, (unsigned long long)((now_ns() - t_start) / 1000000),
	     o->seen, in_stop, with_clone);
	CHECK(killed_early == 0 && hung == 0, "%d hosts never started, %d not reaped", killed_early, hung);
	/* every orphaned tracer exits, within the grace period */
	deadline = now_ns() + TRACER_GRACE_NS + 500000000ull;
	for (;;) {
		pid_t tr[64];
		bool alive;

		orphans_sweep(o);
		orphan_tracers(tr, 64, &alive);
		if (!alive || now_ns() > deadline)
			break;
		msleep(10);
	}
	{
		pid_t tr[64];
		bool alive;

		n = orphan_tracers(tr, 64, &alive);
		CHECK(!alive, "%d pss-tracer processes still alive after the run (first %d)", n, n ? tr[0] : 0);
	}
	CHECK(o->late == 0, "%d orphaned tracers lived longer than 3 s (first %d)", o->late, o->late_pid);
	cwatch_end(w);
	/* only zombies may be left, and the next capture reaps them */
	deadline = now_ns() + 2000000000ull;
	do {
		n = clones_of(v.t.pid, c, 64, &z);
		if (n == z)
			break;
		msleep(10);
	} while (now_ns() < deadline);
	diag("%d clones left under the victim, %d of them zombies", n, z);
	CHECK(n == z, "%d live clones left after every capturer and tracer died", n - z);
	/* A corpse stays the victim's child until the next capture reaps it
	 * (a tracer's last reap can lose the target to another capture). */
	v.zombie_ok = z > 0;
	cv_verify(&v, false);
	v.zombie_ok = false;
	w = cwatch_start(v.t.pid);
	capture_free_clean(v.t.pid);
	cwatch_end(w);
	CHECK_EQ_INT(clone_count(v.t.pid), 0);
	cv_verify(&v, false);
	free(o);
}

int main(int argc, char **argv)
{
	/* 300 rounds take seconds; leave room for ASan and slow machines */
	setenv("PSS_TEST_TIMEOUT", "150", 0);
	return harness_main(argc, argv);
}
