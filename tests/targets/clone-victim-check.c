// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * clone-victim-check - a target that checks itself continuously, for the
 * VA clone fault tests and the torture test.
 *
 * Every thread does one thing a capture must never disturb and counts
 * what it sees; "check" reports every counter on one line:
 *   reader   read() on a pipe the test feeds through /proc/PID/fd/N; the
 *            bytes must come in sequence (0, 1, 2, ...), no EINTR;
 *   sleeper  clock_nanosleep(20 ms) in a loop: 0 every time and never
 *            shorter than asked;
 *   epoller  epoll_wait(-1) on a second fed pipe: never EINTR, never 0,
 *            every byte in sequence;
 *   futex    FUTEX_WAIT on a word the main thread sets and wakes on
 *            "futex-wake": no EINTR, no return without a wake;
 *   regs     the register spinner (rbx, rbp, r12-r15, ymm0-15 hold known
 *            values; every iteration compares them);
 *   rseq     (argument "rseq") a hot sched_getcpu() loop; glibc's rseq
 *            registration must stay intact and every cpu number valid;
 *   parked   ("sleepers N", any number of them, named "parked") blocked
 *            forever in FUTEX_WAIT on a word nobody changes or wakes: the
 *            call must never return (a capture of 256 threads or more
 *            reads such threads after its pause, see "deferred threads").
 * Every helper thread blocks every signal, so no handler and no EINTR can
 * ever reach it legitimately.  The main thread reads commands (raw read,
 * EINTR counted) and takes the signals:
 *   SIGRTMIN+1  unblocked: sent by the test with a sequence number as
 *               payload; each number must arrive exactly once;
 *   SIGRTMIN+2  blocked until "rtcheck": queued process-wide while blocked;
 *   SIGRTMIN+3  blocked until "rtcheck": queued to the main thread.
 *
 * Replies are "key=value" pairs.  "info" gives the fds and thread ids.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "victim-common.h"

#define SLEEP_NS (20 * 1000 * 1000L)
#define MAX_SEQ 65536

/* ---- counters ---- */

static atomic_long rd_bytes, rd_bad, rd_eintr, rd_err;
static atomic_long sl_iters, sl_eintr, sl_err, sl_short;
static atomic_long ep_wakes, ep_bytes, ep_bad, ep_eintr, ep_err, ep_zero;
static atomic_long fx_wakes, fx_eintr, fx_err, fx_spurious;
static atomic_long rs_iters, rs_bad;
static atomic_long pk_returns;
static atomic_int pk_up;
static atomic_uint fx_word;
static uint32_t pk_hold;	/* the parked threads' futex word, never changed */

/* SIGRTMIN+1..+3: how often each sequence number arrived. */
static atomic_uchar seen[4][MAX_SEQ];
static atomic_long sig_n[4], sig_dup[4], sig_bad[4], sig_sum[4];

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	int k = sig - SIGRTMIN, v = si->si_value.sival_int;

	if (k < 1 || k > 3 || si->si_code != SI_QUEUE || v < 0 || v >= MAX_SEQ) {
		if (k >= 0 && k < 4)
			atomic_fetch_add(&sig_bad[k], 1);
		return;
	}
	atomic_fetch_add(&sig_n[k], 1);
	atomic_fetch_add(&sig_sum[k], v);
	if (atomic_fetch_add(&seen[k][v], 1) != 0)
		atomic_fetch_add(&sig_dup[k], 1);
}

/* ---- threads ---- */

static pid_t tid_reader, tid_sleeper, tid_epoll, tid_futex, tid_regs, tid_rseq;
static int reader_pipe[2], epoll_pipe[2], epfd;

/* spawn() - start a detached thread with every signal blocked. */
static pid_t spawn(void *(*fn)(void *), const char *name)
{
	sigset_t all;
	pid_t tid;

	sigfillset(&all);
	tid = start_thread(NULL, fn, NULL, name, &all);
	if (tid < 0) {
		perror("pthread_create");
		exit(1);
	}
	return tid;
}

static void *reader_thread(void *arg)
{
	unsigned char buf[256], expect = 0;

	for (;;) {
		long r = syscall(SYS_read, reader_pipe[0], buf, sizeof(buf));

		if (r < 0) {
			atomic_fetch_add(errno == EINTR ? &rd_eintr : &rd_err, 1);
			continue;
		}
		if (r == 0) {
			atomic_fetch_add(&rd_err, 1);
			return NULL;
		}
		for (long i = 0; i < r; i++)
			if (buf[i] != expect++)
				atomic_fetch_add(&rd_bad, 1);
		atomic_fetch_add(&rd_bytes, r);
	}
}

static __attribute__((noreturn)) void *sleeper_thread(void *arg)
{
	struct timespec ts = { 0, SLEEP_NS };

	for (;;) {
		uint64_t t0 = mono_ns();
		long r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
		uint64_t t1 = mono_ns();

		if (r != 0)
			atomic_fetch_add(errno == EINTR ? &sl_eintr : &sl_err, 1);
		else if (t1 - t0 < (uint64_t)SLEEP_NS)
			atomic_fetch_add(&sl_short, 1);
		atomic_fetch_add(&sl_iters, 1);
	}
}

static __attribute__((noreturn)) void *epoll_thread(void *arg)
{
	struct epoll_event ev[4];
	unsigned char buf[256], expect = 0;

	for (;;) {
		long r = syscall(SYS_epoll_wait, epfd, ev, 4, -1);

		if (r < 0) {
			atomic_fetch_add(errno == EINTR ? &ep_eintr : &ep_err, 1);
			continue;
		}
		if (r == 0) {
			atomic_fetch_add(&ep_zero, 1);
			continue;
		}
		atomic_fetch_add(&ep_wakes, 1);
		/* The read end is non-blocking: take whatever is there. */
		while ((r = read(epoll_pipe[0], buf, sizeof(buf))) > 0) {
			for (long i = 0; i < r; i++)
				if (buf[i] != expect++)
					atomic_fetch_add(&ep_bad, 1);
			atomic_fetch_add(&ep_bytes, r);
		}
	}
}

static __attribute__((noreturn)) void *futex_thread(void *arg)
{
	for (;;) {
		while (atomic_load(&fx_word) == 0) {
			long r = syscall(SYS_futex, &fx_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);

			if (r < 0 && errno == EINTR)
				atomic_fetch_add(&fx_eintr, 1);
			else if (r < 0 && errno != EAGAIN)
				atomic_fetch_add(&fx_err, 1);
			else if (r == 0 && atomic_load(&fx_word) == 0)
				atomic_fetch_add(&fx_spurious, 1);
		}
		atomic_store(&fx_word, 0);
		atomic_fetch_add(&fx_wakes, 1);
	}
}

/* ---- the register spinner (victim-common.h: the same as victim.c's) ---- */

static struct spin_ctl *spin;

static void *regs_thread(void *arg)
{
	regs_spin(spin);	/* spin->stop stays 0: forever */
	return NULL;
}

/* rseq: glibc registered the area at thread start; it must stay so. */
static __attribute__((noreturn)) void *rseq_thread(void *arg)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	struct rseq *rs = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);

	for (;;) {
		int cpu = sched_getcpu();
		int32_t rcpu = (int32_t)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);

		if (cpu < 0 || cpu >= ncpu || rcpu < 0 || rcpu >= ncpu)
			atomic_fetch_add(&rs_bad, 1);
		atomic_fetch_add(&rs_iters, 1);
	}
}

/* parked: its FUTEX_WAIT never returns; if it does, count it and wait again. */
static __attribute__((noreturn)) void *parked_thread(void *arg)
{
	prctl(PR_SET_NAME, "parked");
	atomic_fetch_add(&pk_up, 1);
	for (;;) {
		syscall(SYS_futex, &pk_hold, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		atomic_fetch_add(&pk_returns, 1);
	}
}

#define PARKED_STACK (64u << 10)

/* "sleepers N": N more parked threads (small stacks, every signal
 * blocked); reply once each of them runs: how many in all, and the
 * pthread_create error that stopped us early, if any. */
static void cmd_sleepers(long n)
{
	int err = 0, want = atomic_load(&pk_up);

	for (long i = 0; i < n && !err; i++) {
		err = spawn_idle(parked_thread, NULL, PARKED_STACK);
		if (!err)
			want++;
	}
	while (atomic_load(&pk_up) < want)
		sched_yield();
	reply("pk_n=%d err=%d", want, err);
}

/* ---- commands ---- */

static void cmd_futex_wake(void)
{
	long before = atomic_load(&fx_wakes);
	uint64_t t0 = mono_ns();

	atomic_store(&fx_word, 1);
	syscall(SYS_futex, &fx_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	while (atomic_load(&fx_wakes) == before && mono_ns() - t0 < 5000000000ull)
		usleep(1000);
	reply("futex_wakes=%ld", atomic_load(&fx_wakes));
}

/* The seen[] numbers 0..n-1 of signal k: how many are missing. */
static long missing(int k, long n)
{
	long miss = 0;

	for (long i = 0; i < n && i < MAX_SEQ; i++)
		if (atomic_load(&seen[k][i]) == 0)
			miss++;
	return miss;
}

static void cmd_check(long rt1_expected)
{
	reply("spin_bad=%llu spin_iters=%llu stdin_eintr=%ld "
	      "rd_bytes=%ld rd_bad=%ld rd_eintr=%ld rd_err=%ld "
	      "sl_iters=%ld sl_eintr=%ld sl_err=%ld sl_short=%ld "
	      "ep_wakes=%ld ep_bytes=%ld ep_bad=%ld ep_eintr=%ld ep_err=%ld ep_zero=%ld "
	      "fx_wakes=%ld fx_eintr=%ld fx_err=%ld fx_spurious=%ld "
	      "rs_iters=%ld rs_bad=%ld pk_n=%d pk_returns=%ld "
	      "rt1_n=%ld rt1_dup=%ld rt1_bad=%ld rt1_missing=%ld",
	      (unsigned long long)__atomic_load_n(&spin->mismatches, __ATOMIC_ACQUIRE),
	      (unsigned long long)__atomic_load_n(&spin->iterations, __ATOMIC_ACQUIRE),
	      atomic_load(&stdin_eintr),
	      atomic_load(&rd_bytes), atomic_load(&rd_bad), atomic_load(&rd_eintr), atomic_load(&rd_err),
	      atomic_load(&sl_iters), atomic_load(&sl_eintr), atomic_load(&sl_err), atomic_load(&sl_short),
	      atomic_load(&ep_wakes), atomic_load(&ep_bytes), atomic_load(&ep_bad), atomic_load(&ep_eintr),
	      atomic_load(&ep_err), atomic_load(&ep_zero),
	      atomic_load(&fx_wakes), atomic_load(&fx_eintr), atomic_load(&fx_err),
	      atomic_load(&fx_spurious),
	      atomic_load(&rs_iters), atomic_load(&rs_bad),
	      atomic_load(&pk_up), atomic_load(&pk_returns),
	      atomic_load(&sig_n[1]), atomic_load(&sig_dup[1]), atomic_load(&sig_bad[1]),
	      missing(1, rt1_expected));
}

/* Let the queued SIGRTMIN+2/+3 in, then block them again, and report. */
static void cmd_rtcheck(long n2, long n3)
{
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 2);
	sigaddset(&m, SIGRTMIN + 3);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	reply("rt2_n=%ld rt2_dup=%ld rt2_bad=%ld rt2_missing=%ld rt2_sum=%ld "
	      "rt3_n=%ld rt3_dup=%ld rt3_bad=%ld rt3_missing=%ld rt3_sum=%ld",
	      atomic_load(&sig_n[2]), atomic_load(&sig_dup[2]), atomic_load(&sig_bad[2]),
	      missing(2, n2), atomic_load(&sig_sum[2]),
	      atomic_load(&sig_n[3]), atomic_load(&sig_dup[3]), atomic_load(&sig_bad[3]),
	      missing(3, n3), atomic_load(&sig_sum[3]));
}

static void command(char *line)
{
	char *arg = cmd_split(line);

	if (!strcmp(line, "ping")) {
		reply("pong pid=%d", getpid());
	} else if (!strcmp(line, "info")) {
		reply("main=%d reader=%d sleeper=%d epoll=%d futex=%d regs=%d rseq=%d "
		      "reader_w=%d epoll_w=%d rseq_size=%u",
		      getpid(), tid_reader, tid_sleeper, tid_epoll, tid_futex, tid_regs, tid_rseq,
		      reader_pipe[1], epoll_pipe[1], __rseq_size);
	} else if (!strcmp(line, "futex-wake")) {
		cmd_futex_wake();
	} else if (!strcmp(line, "sleepers")) {
		cmd_sleepers(atol(arg));
	} else if (!strcmp(line, "check")) {
		cmd_check(atol(arg));
	} else if (!strcmp(line, "rtcheck")) {
		long n2 = 0, n3 = 0;

		sscanf(arg, "%ld %ld", &n2, &n3);
		cmd_rtcheck(n2, n3);
	} else if (!strcmp(line, "waitany")) {
		/* What the target's own wait sees: never a clone of ours. */
		int st;
		pid_t r = waitpid(-1, &st, __WALL | WNOHANG);

		reply("ret=%d errno=%d", r, r < 0 ? errno : 0);
	} else if (!strcmp(line, "exit")) {
		reply("bye");
		_exit(0);
	} else {
		reply("error unknown command %s", line);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 };
	struct sigaction sa;
	sigset_t m;

	for (int k = 1; k <= 3; k++) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_rt;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGRTMIN + k, &sa, NULL);
	}
	sigemptyset(&m);
	sigaddset(&m, SIGRTMIN + 2);
	sigaddset(&m, SIGRTMIN + 3);
	sigprocmask(SIG_BLOCK, &m, NULL);
	if (pipe(reader_pipe) < 0 || pipe2(epoll_pipe, O_NONBLOCK) < 0)
		return 1;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, epoll_pipe[0], &ev) < 0)
		return 1;
	spin = spin_new(7);
	if (!spin)
		return 1;
	tid_reader = spawn(reader_thread, "reader");
	tid_sleeper = spawn(sleeper_thread, "sleeper");
	tid_epoll = spawn(epoll_thread, "epoller");
	tid_futex = spawn(futex_thread, "futexer");
	tid_regs = spawn(regs_thread, "regs");
	if (argc > 1 && !strcmp(argv[1], "rseq"))
		tid_rseq = spawn(rseq_thread, "rseq");
	while (__atomic_load_n(&spin->iterations, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	return serve(command);
}
