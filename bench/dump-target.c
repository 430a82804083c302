// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dump-target - the victim of the dump benchmark.
 *
 * It maps N GiB of private anonymous memory and writes every 4 KiB page
 * with non-zero bytes (so a core holds real data, not holes), then starts
 * two threads:
 *   - a clock thread that spins reading CLOCK_MONOTONIC (100 us of spinning,
 *     then a 900 us sleep whose lateness counts) and keeps the longest gap:
 *     the longest time the process did not run, as it sees it;
 *   - a writer thread that, while "dirty" is on, writes one word into each
 *     page of the first FRACTION of the memory, one round every 100 ms: the
 *     service keeps changing memory during a dump, and every page it writes
 *     while a copy-on-write clone lives costs one page copy (at its first
 *     write).  A round takes a few ms unless pages are copied; the writer
 *     sleeps for the rest of the 100 ms, as a service waits for requests (a
 *     writer spinning round after round would instead measure what one
 *     busy core costs a dump on a 2-core machine, and gcore, which stops
 *     the target, would not pay it).
 *
 * Commands, one per line on stdin; one reply line on stdout:
 *   reset          zero the longest gap                -> "ok"
 *   report         the longest gap since reset         -> "gap_us N"
 *   dirty F        start writing fraction F (0..1)     -> "ok"
 *   clean          stop writing; pages written so far  -> "pages N"
 *   quit           exit                                -> "bye"
 * At start, once memory is written: "ready pid P touch_ms M".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ull
#define SPIN_NS 100000ull
#define SLEEP_NS 900000ull
#define ROUND_NS 100000000ull	/* the writer's round: 100 ms */

static unsigned char *mem;
static size_t npages;
static _Atomic uint64_t max_gap;
static _Atomic int dirty_on;
static _Atomic size_t dirty_pages;	/* of the region the writer covers */
static _Atomic uint64_t pages_written;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spin, then sleep; a gap while spinning, or lateness after the sleep, is
 * time the thread did not run. */
static void *clock_loop(void *arg)
{
	struct timespec ts = { 0, (long)SLEEP_NS };
	uint64_t prev, t, start, gap;

	(void)arg;
	for (;;) {
		start = prev = now_ns();
		while ((t = now_ns()) - start < SPIN_NS) {
			gap = t - prev;
			if (gap > atomic_load(&max_gap))
				atomic_store(&max_gap, gap);
			prev = t;
		}
		nanosleep(&ts, NULL);
		t = now_ns();
		gap = t - prev > SLEEP_NS ? t - prev - SLEEP_NS : 0;
		if (gap > atomic_load(&max_gap))
			atomic_store(&max_gap, gap);
	}
	return NULL;
}

/* While dirty_on: one word per page of the dirty range, round after round. */
static void *writer_loop(void *arg)
{
	uint64_t round = 1;

	(void)arg;
	for (;;) {
		uint64_t t0 = now_ns(), spent;

		if (!atomic_load(&dirty_on) || !atomic_load(&dirty_pages)) {
			usleep(1000);
			continue;
		}
		for (size_t i = 0; i < atomic_load(&dirty_pages) && atomic_load(&dirty_on); i++) {
			((volatile uint64_t *)(mem + i * PAGE))[1] = round;
			atomic_fetch_add(&pages_written, 1);
		}
		round++;
		spent = now_ns() - t0;
		if (spent < ROUND_NS)
			nanosleep(&(struct timespec){ 0, (long)(ROUND_NS - spent) }, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double gib = argc > 1 ? atof(argv[1]) : 1;
	pthread_t th;
	char line[256];
	uint64_t t0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	npages = (size_t)(gib * (double)(1ull << 30)) / PAGE;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(mem, npages * PAGE, MADV_NOHUGEPAGE);
	t0 = now_ns();
	for (size_t i = 0; i < npages; i++)
		for (size_t w = 0; w < PAGE / 8; w += 64)
			((uint64_t *)(mem + i * PAGE))[w] = (i + 1) * 0x9e3779b97f4a7c15ull ^ w;
	pthread_create(&th, NULL, clock_loop, NULL);
	pthread_create(&th, NULL, writer_loop, NULL);
	printf("ready pid %d touch_ms %llu\n", getpid(), (unsigned long long)((now_ns() - t0) / 1000000));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "reset", 5)) {
			atomic_store(&max_gap, 0);
			printf("ok\n");
		} else if (!strncmp(line, "report", 6)) {
			usleep(3000);	/* let a descheduled clock thread take its sample */
			printf("gap_us %llu\n", (unsigned long long)(atomic_load(&max_gap) / 1000));
		} else if (!strncmp(line, "dirty ", 6)) {
			double f = atof(line + 6);

			atomic_store(&dirty_pages, (size_t)(f * (double)npages));
			atomic_store(&pages_written, 0);
			atomic_store(&dirty_on, 1);
			printf("ok\n");
		} else if (!strncmp(line, "clean", 5)) {
			atomic_store(&dirty_on, 0);
			printf("pages %llu\n", (unsigned long long)atomic_load(&pages_written));
		} else if (!strncmp(line, "quit", 4)) {
			printf("bye\n");
			fflush(stdout);
			return 0;
		} else {
			printf("error\n");
		}
		fflush(stdout);
	}
	return 0;
}
