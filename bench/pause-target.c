// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pause-target - the victim of the pause benchmark.
 *
 * It maps N GiB of private anonymous memory, writes every 4 KiB page (so the
 * page tables are fully populated, which is what fork() and a COW clone
 * must copy), and starts T clock threads.  Each clock thread spins reading
 * CLOCK_MONOTONIC and keeps the longest gap between two consecutive reads:
 * that gap is the longest time the thread did not run, so a capture, gcore
 * or fork that stops the process shows up as the gap, measured from inside.
 *
 * By default the memory is MADV_NOHUGEPAGE, so the page-table copy is that
 * of 4 KiB pages (2 MiB of PTEs per GiB); --thp asks for MADV_HUGEPAGE.
 *
 * With more spinning threads than CPUs, the scheduler alone makes gaps of
 * several ms that hide the pause.  --duty spins 100 us then sleeps 900 us:
 * a gap across a sleep counts only its lateness (time past the requested
 * wake-up), so a stop still shows in full while the threads leave the
 * CPUs mostly idle.
 *
 * Commands, one per line on stdin; one reply line on stdout:
 *   reset   zero every thread's longest gap            -> "ok"
 *   report  longest gap over all threads since reset   -> "gap_us N"
 *   fork    time fork() of a child that _exit(0)s      -> "fork_us N"
 *   quit    exit                                       -> "bye"
 * At start, once memory is written and the threads run:
 *   "ready pid P touch_ms M"
 *
 * Reset races the clock threads, so each thread stores its maximum tagged
 * with the reset generation it belongs to; report ignores stale tags.
 * Report first waits until every thread has taken a clock sample after the
 * report request, so a thread that was stopped and not yet rescheduled
 * still gets its gap counted.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MAX_THREADS 64
#define GEN_SHIFT 40			/* low 40 bits: gap in ns (up to ~18 min) */
#define GAP_MASK ((1ull << GEN_SHIFT) - 1)

struct clock_thread {
	_Alignas(64) _Atomic uint64_t max;	/* gen << GEN_SHIFT | gap ns */
	_Atomic uint64_t last_ns;		/* the latest clock sample */
};

static struct clock_thread clocks[MAX_THREADS];
static _Atomic uint64_t generation = 1;
static int nthreads = 1;
static int duty;

#define DUTY_SPIN_NS 100000ull
#define DUTY_SLEEP_NS 900000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spin on the clock forever, keeping the longest gap of this generation. */
static void *clock_loop(void *arg)
{
	struct clock_thread *c = arg;
	uint64_t gen = 0, local = 0, prev = now_ns(), now, g, gap, slept = 0;
	uint64_t spin_start = prev;
	struct timespec ts = { 0, (long)DUTY_SLEEP_NS };

	for (;;) {
		now = now_ns();
		/* Across a sleep, only the lateness is a gap. */
		gap = now - prev > slept ? now - prev - slept : 0;
		slept = 0;
		g = atomic_load_explicit(&generation, memory_order_acquire);
		if (g != gen) {
			/* A reset: start over, the gap across it belongs to no one. */
			gen = g;
			local = 0;
		} else if (gap > local) {
			local = gap;
			atomic_store_explicit(&c->max, gen << GEN_SHIFT | (local & GAP_MASK),
					      memory_order_relaxed);
		}
		atomic_store_explicit(&c->last_ns, now, memory_order_release);
		prev = now;
		if (duty && now - spin_start >= DUTY_SPIN_NS) {
			nanosleep(&ts, NULL);
			slept = DUTY_SLEEP_NS;
			spin_start = now_ns();
		}
	}
	return NULL;
}

/* The longest gap over all threads since the last reset, in ns. */
static uint64_t report_gap(void)
{
	uint64_t t0 = now_ns(), gen = atomic_load(&generation), best = 0;

	/* Wait (up to 10 s) until every thread has run since the request. */
	for (int i = 0; i < nthreads; i++) {
		while (atomic_load(&clocks[i].last_ns) <= t0 && now_ns() - t0 < 10000000000ull)
			sched_yield();
	}
	for (int i = 0; i < nthreads; i++) {
		uint64_t m = atomic_load(&clocks[i].max);

		if (m >> GEN_SHIFT == gen && (m & GAP_MASK) > best)
			best = m & GAP_MASK;
	}
	return best;
}

/* fork() a child that exits at once; the parent's time in fork(), in ns. */
static long long fork_ns(void)
{
	uint64_t t0, t1;
	pid_t pid;
	int st;

	t0 = now_ns();
	pid = fork();
	if (pid == 0)
		_exit(0);
	t1 = now_ns();
	if (pid < 0)
		return -errno;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return (long long)(t1 - t0);
}

/* Map and write @bytes of anonymous memory; THP off unless @thp. */
static int populate(size_t bytes, int thp)
{
	char *p;

	if (!bytes)
		return 0;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (madvise(p, bytes, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		return -errno;
	/* One call instead of a fault per page; fall back on old kernels. */
	if (madvise(p, bytes, MADV_POPULATE_WRITE)) {
		for (size_t off = 0; off < bytes; off += 4096)
			p[off] = 1;
	}
	/* Make every page's content distinct, like real data. */
	for (size_t off = 0; off < bytes; off += 4096)
		*(uint64_t *)(p + off) = off | 1;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: pause-target [--gib N] [--threads T] [--thp] [--duty]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double gib = 0.25;
	int thp = 0, r;
	uint64_t t0;
	char line[64];
	pthread_t th;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--gib") && i + 1 < argc)
			gib = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--thp"))
			thp = 1;
		else if (!strcmp(argv[i], "--duty"))
			duty = 1;
		else
			usage();
	}
	if (gib < 0 || nthreads < 1 || nthreads > MAX_THREADS)
		usage();
	/* Never outlive the driver. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	t0 = now_ns();
	r = populate((size_t)(gib * (1ull << 30)) & ~4095ull, thp);
	if (r) {
		fprintf(stderr, "pause-target: memory: %s\n", strerror(-r));
		return 1;
	}
	for (int i = 0; i < nthreads; i++) {
		atomic_store(&clocks[i].last_ns, now_ns());
		r = pthread_create(&th, NULL, clock_loop, &clocks[i]);
		if (r) {
			fprintf(stderr, "pause-target: pthread_create: %s\n", strerror(r));
			return 1;
		}
	}
	printf("ready pid %d touch_ms %llu\n", getpid(),
	       (unsigned long long)((now_ns() - t0) / 1000000));

	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "reset", 5)) {
			atomic_fetch_add(&generation, 1);
			printf("ok\n");
		} else if (!strncmp(line, "report", 6)) {
			printf("gap_us %llu\n", (unsigned long long)(report_gap() / 1000));
		} else if (!strncmp(line, "fork", 4)) {
			long long ns = fork_ns();

			if (ns < 0)
				printf("error fork %s\n", strerror((int)-ns));
			else
				printf("fork_us %lld\n", ns / 1000);
		} else if (!strncmp(line, "quit", 4)) {
			printf("bye\n");
			break;
		} else {
			printf("error unknown command\n");
		}
	}
	return 0;
}
