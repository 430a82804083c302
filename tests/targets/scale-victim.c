// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The victim of the scale tests and of bench/scale: a process that grows,
 * on command, to thousands of threads, hundreds of thousands of fds or tens
 * of thousands of mappings, and answers on stdin while a capture runs.
 *
 *   threads K    K more threads (64 KiB stacks), each asleep in FUTEX_WAIT
 *                -> "n=<threads made so far> err=<errno of the first failure>"
 *   fds K        K more fds (dups of /dev/null, with an eventfd and a pipe
 *                now and then), RLIMIT_NOFILE raised first if needed
 *                -> "n=<fds made so far> err=<errno>"
 *   maps K       one anonymous area of K pages, every other page made
 *                read-only: K more entries in /proc/PID/maps
 *                -> "n=<pages> err=<errno>"
 *   fork K       K times fork() a child that exits at once, timing each
 *                fork() call: the floor of a copy-on-write clone of this
 *                address space (bench/scale) -> "n=<median fork() us>"
 *   wakers K     K more threads (64 KiB stacks), each waking every 10 ms from
 *                a nanosleep: a pool that is never idle for long
 *                -> "n=<threads made so far> err=<errno of the first failure>"
 *   clock        (re)start the clock thread, made after every thread so
 *                far, so the last one a stop lets go: it spins 100 us and
 *                sleeps 900 us, and keeps its longest time off the CPU -> "n=1"
 *   gap          that longest time in us since the last gap -> "n=<us>"
 *   ping         -> "pong threads=<made> fds=<made> maps=<pages>"
 *
 * Sizes are counted by the victim itself so that a test can tell a refusal
 * of the kernel (err=EAGAIN, EMFILE, ENOMEM) from a failure of the library.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* the shared helpers this victim has no use for (the spinner, ...) */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "victim-common.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define SCALE_STACK (64u << 10)

static uint32_t hold;		/* futex word the sleepers wait on, never changed */
static long nthreads, nfds, npages;

/* A sleeper: FUTEX_WAIT restarts by itself after a ptrace stop. */
static void *sleeper(void *arg)
{
	for (;;)
		syscall(SYS_futex, &hold, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

/* A waker: 10 ms asleep, a moment awake, again. */
static void *waker(void *arg)
{
	for (;;)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	return NULL;
}

static void cmd_threads(long k, void *(*fn)(void *))
{
	int err = 0;

	for (long i = 0; i < k; i++) {
		err = spawn_idle(fn, NULL, SCALE_STACK);
		if (err)
			break;
		nthreads++;
	}
	reply("n=%ld err=%d", nthreads, err);
}

/* raise_nofile() - make room for @want fds (root may go up to nr_open). */
static int raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return errno;
	if ((long)rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want;
	if ((long)rl.rlim_max < want)
		rl.rlim_max = want;
	return setrlimit(RLIMIT_NOFILE, &rl) ? errno : 0;
}

static void cmd_fds(long k)
{
	int base, err, p[2];
	long made = 0;

	err = raise_nofile(nfds + k + 64);
	base = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (base < 0) {
		reply("n=%ld err=%d", nfds, errno);
		return;
	}
	while (made < k) {
		int fd;

		if (made % 1024 == 0 && k - made >= 2) {
			/* a little variety: a pipe pair every 1024 fds */
			if (pipe(p)) {
				err = errno;
				break;
			}
			made += 2;
			continue;
		}
		fd = made % 512 == 1 ? eventfd(0, 0) : dup(base);
		if (fd < 0) {
			err = errno;
			break;
		}
		made++;
	}
	close(base);
	nfds += made;
	reply("n=%ld err=%d", nfds, err);
}

static void cmd_maps(long k)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *a;
	int err = 0;

	a = mmap(NULL, (size_t)k * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		reply("n=%ld err=%d", npages, errno);
		return;
	}
	/* odd pages read-only: no two neighbours can merge, k VMAs */
	for (long i = 1; i < k; i += 2) {
		if (mprotect(a + i * pg, pg, PROT_READ)) {
			err = errno;
			break;
		}
	}
	if (!err)
		npages += k;
	reply("n=%ld err=%d", npages, err);
}

static _Atomic uint64_t max_gap_ns;
static atomic_int clock_gen;

static void gap_seen(uint64_t gap)
{
	if (gap > atomic_load(&max_gap_ns))
		atomic_store(&max_gap_ns, gap);
}

/* Spin 100 us, sleep 900 us: a gap while spinning, or lateness after the
 * sleep, is time the thread did not run.  Ends when a newer clock starts. */
static void *clock_thread(void *arg)
{
	int gen = (int)(intptr_t)arg;
	struct timespec ts = { 0, 900000 };

	while (atomic_load(&clock_gen) == gen) {
		uint64_t start, prev, t;

		start = prev = mono_ns();
		while ((t = mono_ns()) - start < 100000) {
			gap_seen(t - prev);
			prev = t;
		}
		nanosleep(&ts, NULL);
		t = mono_ns();
		gap_seen(t - prev > 900000 ? t - prev - 900000 : 0);
	}
	return NULL;
}

static void cmd_clock(void)
{
	pthread_attr_t attr;
	pthread_t th;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&th, &attr, clock_thread,
			     (void *)(intptr_t)(atomic_fetch_add(&clock_gen, 1) + 1));
	pthread_attr_destroy(&attr);
	atomic_store(&max_gap_ns, 0);
	reply("n=%d err=%d", !err, err);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static void cmd_fork(long k)
{
	long us[64];
	int err = 0;

	k = k < 1 ? 1 : k > 64 ? 64 : k;
	for (long i = 0; i < k; i++) {
		struct timespec a, b;
		pid_t p;

		clock_gettime(CLOCK_MONOTONIC, &a);
		p = fork();
		if (!p)
			_exit(0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (p < 0) {
			err = errno;
			k = i;
			break;
		}
		waitpid(p, NULL, 0);
		us[i] = (b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000;
	}
	if (!k) {
		reply("n=0 err=%d", err);
		return;
	}
	qsort(us, (size_t)k, sizeof(us[0]), cmp_long);
	reply("n=%ld err=%d", us[k / 2], err);
}

static void command(char *line)
{
	char *arg = cmd_split(line);
	long n = atol(arg);

	if (!strcmp(line, "threads"))
		cmd_threads(n, sleeper);
	else if (!strcmp(line, "wakers"))
		cmd_threads(n, waker);
	else if (!strcmp(line, "fds"))
		cmd_fds(n);
	else if (!strcmp(line, "maps"))
		cmd_maps(n);
	else if (!strcmp(line, "clock"))
		cmd_clock();
	else if (!strcmp(line, "gap"))
		reply("n=%llu err=0", (unsigned long long)(atomic_exchange(&max_gap_ns, 0) / 1000));
	else if (!strcmp(line, "fork"))
		cmd_fork(n);
	else if (!strcmp(line, "ping"))
		reply("pong threads=%ld fds=%ld maps=%ld", nthreads, nfds, npages);
	else
		reply("error unknown command %s", line);
}

int main(int argc, char **argv)
{
	return serve(command);
}
