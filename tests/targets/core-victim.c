// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core-victim - the target of the core writer's tests.
 *
 * Three helper threads block at known places in known functions and stay
 * there: core_wait_read() in read() on a pipe nobody writes, core_wait_lock()
 * in pthread_mutex_lock() (futex) on a mutex the main thread holds, and
 * core_wait_pause() in pause().  All three syscalls restart with the same
 * number after a stop, so the registers a debugger sees stay the same from
 * one stop to the next.  The global `buffer` holds vp_word(1, i).
 * On demand ("idlers"), more threads block forever in core_wait_idle(), a
 * futex wait on a word nobody changes or wakes: they never run again, so
 * a capture of 256 threads or more leaves them out of its pause.
 *
 * It prints "ready <pid>" and answers one line per command on stdin:
 *   info                      buffer=ADDR tids=T1,T2,T3 (read, lock, pause)
 *   idlers N                  start N more threads named cv-idle, each on
 *                             its way into core_wait_idle() when the reply
 *                             comes -> n=N (or err=ERRNO n=STARTED)
 *   rewrite SEED              buffer[i] = vp_word(SEED, i)
 *   map KIND PAGES SEED       mmap PAGES pages, fill with vp_word(SEED, word);
 *                             KIND: anon, dontdump, dontfork, wipeonfork,
 *                             shared (anonymous MAP_SHARED), sparse (only one
 *                             page per MiB written) -> addr=ADDR len=BYTES
 *   fill ADDR PAGES SEED      rewrite such a mapping (its every page)
 *   filter HEX                write /proc/self/coredump_filter
 *   crash DIR                 chdir(DIR), RLIMIT_CORE unlimited, abort()
 *   exit
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include "victim.h"

#define PAGE 4096u

uint64_t buffer[512];
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static volatile pid_t tids[3];
static volatile long sink;
static uint32_t idle_word;		/* never changes: FUTEX_WAIT sleeps for good */
static volatile int idle_started;

__attribute__((noinline)) long core_wait_read(int fd)
{
	char c;
	long r = read(fd, &c, 1);

	sink += r;
	return r;
}

__attribute__((noinline)) long core_wait_lock(void)
{
	long r = pthread_mutex_lock(&held);

	sink += r;
	return r;
}

__attribute__((noinline)) long core_wait_pause(void)
{
	long r = pause();

	sink += r;
	return r;
}

__attribute__((noinline)) long core_wait_idle(void)
{
	long r = syscall(SYS_futex, &idle_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);

	sink += r;
	return r;
}

static void *thread_read(void *arg)
{
	prctl(PR_SET_NAME, "cv-read");
	tids[0] = (pid_t)syscall(SYS_gettid);
	for (;;)
		core_wait_read((int)(intptr_t)arg);
	return NULL;
}

static void *thread_lock(void *arg)
{
	prctl(PR_SET_NAME, "cv-lock");
	tids[1] = (pid_t)syscall(SYS_gettid);
	for (;;)
		core_wait_lock();
	return NULL;
}

static void *thread_pause(void *arg)
{
	prctl(PR_SET_NAME, "cv-pause");
	tids[2] = (pid_t)syscall(SYS_gettid);
	for (;;)
		core_wait_pause();
	return NULL;
}

static void *thread_idle(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "cv-idle");
	__atomic_add_fetch(&idle_started, 1, __ATOMIC_SEQ_CST);
	for (;;)
		core_wait_idle();
	return NULL;
}

/* @n threads of small stacks (the cores stay small) in core_wait_idle(). */
static void cmd_idlers(int n)
{
	pthread_attr_t attr;
	pthread_t th;
	int want = idle_started, e = 0, i;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < n && !e; i++) {
		e = pthread_create(&th, &attr, thread_idle, NULL);
		want += !e;
	}
	pthread_attr_destroy(&attr);
	while (__atomic_load_n(&idle_started, __ATOMIC_SEQ_CST) < want)
		usleep(1000);
	if (e)
		printf("err=%d n=%d\n", e, i - 1);
	else
		printf("n=%d\n", n);
}

static void fill(uint64_t *p, size_t pages, uint64_t seed, size_t every)
{
	for (size_t pg = 0; pg < pages; pg += every)
		for (size_t w = 0; w < PAGE / 8; w++)
			p[pg * PAGE / 8 + w] = vp_word(seed, pg * PAGE / 8 + w);
}

static void cmd_map(const char *kind, size_t pages, uint64_t seed)
{
	size_t len = pages * PAGE;
	int flags = MAP_ANONYMOUS | (strcmp(kind, "shared") ? MAP_PRIVATE : MAP_SHARED);
	uint64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	int adv = -1;

	if (p == MAP_FAILED) {
		printf("error mmap %s\n", strerror(errno));
		return;
	}
	if (!strcmp(kind, "dontdump"))
		adv = MADV_DONTDUMP;
	else if (!strcmp(kind, "dontfork"))
		adv = MADV_DONTFORK;
	else if (!strcmp(kind, "wipeonfork"))
		adv = MADV_WIPEONFORK;
	if (adv >= 0 && madvise(p, len, adv)) {
		printf("error madvise %s\n", strerror(errno));
		return;
	}
	fill(p, pages, seed, strcmp(kind, "sparse") ? 1 : 256);
	printf("addr=%p len=%zu\n", (void *)p, len);
}

static void cmd_filter(const char *hex)
{
	FILE *f = fopen("/proc/self/coredump_filter", "w");

	if (!f || fprintf(f, "%s", hex) < 0 || fclose(f)) {
		printf("error filter %s\n", strerror(errno));
		return;
	}
	printf("ok\n");
}

static void cmd_crash(const char *dir)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	if (chdir(dir) || setrlimit(RLIMIT_CORE, &rl)) {
		printf("error crash %s\n", strerror(errno));
		return;
	}
	prctl(PR_SET_DUMPABLE, 1);
	printf("crashing\n");
	fflush(stdout);
	abort();
}

int main(void)
{
	char line[256], kind[32], arg[200];
	unsigned long long a, b, c;
	pthread_t th;
	int p[2], n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fill(buffer, sizeof(buffer) / PAGE, 1, 1);
	pthread_mutex_lock(&held);
	if (pipe(p))
		return 1;
	pthread_create(&th, NULL, thread_read, (void *)(intptr_t)p[0]);
	pthread_create(&th, NULL, thread_lock, NULL);
	pthread_create(&th, NULL, thread_pause, NULL);
	while (!tids[0] || !tids[1] || !tids[2])
		usleep(1000);
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "info")) {
			printf("buffer=%p tids=%d,%d,%d\n", (void *)buffer, tids[0], tids[1], tids[2]);
		} else if (sscanf(line, "idlers %d", &n) == 1 && n >= 0) {
			cmd_idlers(n);
		} else if (sscanf(line, "rewrite %llu", &a) == 1) {
			fill(buffer, sizeof(buffer) / PAGE, a, 1);
			printf("ok\n");
		} else if (sscanf(line, "map %31s %llu %llu", kind, &a, &b) == 3) {
			cmd_map(kind, (size_t)a, b);
		} else if (sscanf(line, "fill %llx %llu %llu", &a, &b, &c) == 3) {
			fill((uint64_t *)(uintptr_t)a, (size_t)b, c, 1);
			printf("ok\n");
		} else if (sscanf(line, "filter %31s", kind) == 1) {
			cmd_filter(kind);
		} else if (sscanf(line, "crash %199s", arg) == 1) {
			cmd_crash(arg);
		} else if (!strcmp(line, "exit")) {
			return 0;
		} else {
			printf("error unknown command\n");
		}
	}
	return 0;
}
