// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * victim - the multi-mode target program of the live tests.
 *
 * It prints "ready <pid>" and then reads one command per line on stdin and
 * answers one line on stdout ("key=value" pairs, or "error ...").  Each
 * command builds one situation a capture must not disturb: threads blocked
 * in a given syscall, a register spinner, queued signals, one fd of each
 * kind, mappings of each kind.  Blocking calls are made with raw syscall()
 * so that their numbers are known and an EINTR is seen, never hidden by a
 * libc retry loop; every blocker records its return value, errno and
 * elapsed time, which "result" reports.
 *
 * Signals: SIGUSR2 and SIGRTMIN..SIGRTMIN+3 are blocked in every thread
 * from the start (sigtimedwait, signalfd and the queued-signal rows need
 * them blocked); helper threads also block SIGUSR1 and SIGRTMIN+4 unless
 * they wait for them, so process-directed signals land on the main thread,
 * whose stdin read restarts (SA_RESTART) and counts any EINTR it sees.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include "victim.h"

/* ---- replies ---- */

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* ---- signals ---- */

static atomic_long usr1_count, usr1_sum, rt4_count, rt4_sum, stdin_eintr;
static __thread int tl_usr1;	/* SIGUSR1 handlers run on this thread */

struct rt_rec {
	int signo, code, pid, value;
};
static struct rt_rec rt_recs[256];
static atomic_int rt_nrecs;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	atomic_fetch_add(&usr1_count, 1);
	atomic_fetch_add(&usr1_sum, si->si_value.sival_int);
	tl_usr1++;
}

static void on_rt4(int sig, siginfo_t *si, void *uc)
{
	atomic_fetch_add(&rt4_count, 1);
	atomic_fetch_add(&rt4_sum, si->si_value.sival_int);
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	int i = atomic_fetch_add(&rt_nrecs, 1);

	if (i < 256)
		rt_recs[i] = (struct rt_rec){ sig, si->si_code, si->si_pid, si->si_value.sival_int };
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void rt_block_set(sigset_t *s)
{
	sigemptyset(s);
	for (int i = 0; i < 4; i++)
		sigaddset(s, SIGRTMIN + i);
}

/* ---- threads ---- */

struct start {
	void *(*fn)(void *);
	void *arg;
	const char *name;
	pid_t tid;
	atomic_int up;
};

static void *trampoline(void *p)
{
	struct start *s = p;
	void *(*fn)(void *) = s->fn;
	void *arg = s->arg;

	if (s->name)
		prctl(PR_SET_NAME, s->name);
	s->tid = gettid_();
	atomic_store(&s->up, 1);
	return fn(arg);
}

/* spawn() - start a thread and return its tid once it runs.  The thread
 * blocks SIGUSR1 and SIGRTMIN+4 unless @take_usr1. */
static pid_t spawn(pthread_t *th, void *(*fn)(void *), void *arg, const char *name, int take_usr1)
{
	struct start s = { fn, arg, name, 0, 0 };
	sigset_t block, old;
	pthread_t dummy;

	sigemptyset(&block);
	if (!take_usr1) {
		sigaddset(&block, SIGUSR1);
		sigaddset(&block, SIGRTMIN + 4);
	}
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (pthread_create(th ? th : &dummy, NULL, trampoline, &s)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!th)
		pthread_detach(dummy);
	while (!atomic_load(&s.up))
		sched_yield();
	return s.tid;
}

/* idle threads: blocked in read() on a private pipe */
static void *idle_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;

	while (syscall(SYS_read, fd, &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static void cmd_threads(int n)
{
	char buf[4096];
	size_t off = 0;

	off += (size_t)snprintf(buf, sizeof(buf), "n=%d tids=", n);
	for (int i = 0; i < n && i < 256; i++) {
		int p[2];
		char name[16];
		pid_t tid;

		if (pipe(p) < 0) {
			reply("error pipe %s", strerror(errno));
			return;
		}
		snprintf(name, sizeof(name), "idle-%d", i);
		tid = spawn(NULL, idle_thread, (void *)(intptr_t)p[0], name, 0);
		if (off < sizeof(buf) - 16)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d", i ? "," : "", tid);
	}
	reply("%s", buf);
}

/* spinner: a counter that must keep advancing */
static atomic_ulong spin_counter;

static void *spin_thread(void *arg)
{
	for (;;)
		atomic_fetch_add(&spin_counter, 1);
	return NULL;
}

/* churn: short-lived threads created and joined continuously (row 20) */
static atomic_int churn_stop;
static atomic_long churn_created;
static pthread_t churn_th;

static void *short_thread(void *arg)
{
	return NULL;
}

static void *churn_thread(void *arg)
{
	while (!atomic_load(&churn_stop)) {
		pthread_t t;

		if (pthread_create(&t, NULL, short_thread, NULL) == 0) {
			pthread_join(t, NULL);
			atomic_fetch_add(&churn_created, 1);
		}
	}
	return NULL;
}

static void *exit_after_thread(void *arg)
{
	unsigned ms = (unsigned)(uintptr_t)arg;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* ---- the register spinner (fault matrix row 9) ---- */

struct spin_ctl {
	uint64_t gp[VP_NGP];
	uint64_t vec[16][4];
	uint64_t scratch[4];
	uint64_t mismatches;
	uint64_t iterations;
	uint64_t stop;
};
_Static_assert(__builtin_offsetof(struct spin_ctl, vec) == 48, "layout");
_Static_assert(__builtin_offsetof(struct spin_ctl, scratch) == 560, "layout");
_Static_assert(__builtin_offsetof(struct spin_ctl, mismatches) == 592, "layout");
_Static_assert(__builtin_offsetof(struct spin_ctl, iterations) == 600, "layout");
_Static_assert(__builtin_offsetof(struct spin_ctl, stop) == 608, "layout");

void regs_spin(struct spin_ctl *ctl);

/*
 * regs_spin(ctl in %rdi): load rbx, rbp, r12-r15 and ymm0-15 from ctl and
 * check them against ctl in a loop that touches no other state but rax,
 * flags and memory; a mismatch is counted and the registers reloaded.
 */
__asm__(
	".text\n"
	".globl regs_spin\n"
	".type regs_spin, @function\n"
	"regs_spin:\n"
	"	push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"1:\n"
	"	mov 0(%rdi), %rbx\n mov 8(%rdi), %rbp\n mov 16(%rdi), %r12\n"
	"	mov 24(%rdi), %r13\n mov 32(%rdi), %r14\n mov 40(%rdi), %r15\n"
	"	.irp k,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu 48+32*\\k(%rdi), %ymm\\k\n"
	"	.endr\n"
	"2:\n"
	"	cmp 0(%rdi), %rbx\n jne 3f\n cmp 8(%rdi), %rbp\n jne 3f\n"
	"	cmp 16(%rdi), %r12\n jne 3f\n cmp 24(%rdi), %r13\n jne 3f\n"
	"	cmp 32(%rdi), %r14\n jne 3f\n cmp 40(%rdi), %r15\n jne 3f\n"
	"	.irp k,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu %ymm\\k, 560(%rdi)\n"
	"	.irp q,0,1,2,3\n"
	"	mov 560+8*\\q(%rdi), %rax\n"
	"	cmp 48+32*\\k+8*\\q(%rdi), %rax\n"
	"	jne 3f\n"
	"	.endr\n"
	"	.endr\n"
	"	lock incq 600(%rdi)\n"
	"	cmpq $0, 608(%rdi)\n"
	"	je 2b\n"
	"	vzeroupper\n"
	"	pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
	"	ret\n"
	"3:\n"
	"	lock incq 592(%rdi)\n"
	"	jmp 1b\n"
	".size regs_spin, .-regs_spin\n");

static struct spin_ctl *spin_ctl;

static void *regs_thread(void *arg)
{
	regs_spin(arg);
	return NULL;
}

static void cmd_regs(uint64_t seed)
{
	sigset_t all, old;
	pid_t tid;

	if (spin_ctl) {
		reply("error regs already running");
		return;
	}
	spin_ctl = aligned_alloc(64, sizeof(*spin_ctl) + 64);
	memset(spin_ctl, 0, sizeof(*spin_ctl));
	for (int k = 0; k < VP_NGP; k++)
		spin_ctl->gp[k] = vp_gp(seed, k);
	for (int r = 0; r < 16; r++)
		for (int q = 0; q < 4; q++)
			spin_ctl->vec[r][q] = vp_vec(seed, r, q);
	/* No signal handler ever runs on the spinner. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	tid = spawn(NULL, regs_thread, spin_ctl, "regs", 1);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* Wait for the first full check so the registers are loaded. */
	while (__atomic_load_n(&spin_ctl->iterations, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	reply("tid=%d seed=%llu", tid, (unsigned long long)seed);
}

/* ---- blockers (fault matrix rows 1-7, 74) ---- */

enum kind { K_READ, K_NANOSLEEP, K_POLL, K_FUTEX, K_EPOLL, K_SIGTIMEDWAIT, K_ACCEPT,
	    K_WAIT4, K_PAUSE, K_SIGSUSPEND, K_PPOLL, K_PSELECT, K_NR };

static const struct {
	const char *name;
	long nr;
} kinds[K_NR] = {
	[K_READ] = { "read", SYS_read },
	[K_NANOSLEEP] = { "nanosleep", SYS_clock_nanosleep },
	[K_POLL] = { "poll", SYS_poll },
	[K_FUTEX] = { "futex", SYS_futex },
	[K_EPOLL] = { "epoll", SYS_epoll_wait },
	[K_SIGTIMEDWAIT] = { "sigtimedwait", SYS_rt_sigtimedwait },
	[K_ACCEPT] = { "accept", SYS_accept },
	[K_WAIT4] = { "wait4", SYS_wait4 },
	[K_PAUSE] = { "pause", SYS_pause },
	[K_SIGSUSPEND] = { "sigsuspend", SYS_rt_sigsuspend },
	[K_PPOLL] = { "ppoll", SYS_ppoll },
	[K_PSELECT] = { "pselect", SYS_pselect6 },
};

#define FUTEX_WAITERS 4

struct blocker {
	int kind;
	int active;
	pthread_t th;
	pid_t tid;
	atomic_int done;
	long ret;
	int err;
	unsigned ms;		/* timeout or sleep length */
	uint64_t t0, t1;
	long x[3];		/* per kind: byte, event data, siginfo, status, ... */
	int fd[2];		/* pipe, epoll, listener, child pipe */
	int port;
	pid_t child;
	/* futex */
	pthread_t wth[FUTEX_WAITERS];
	pid_t wtid[FUTEX_WAITERS];
};

static struct blocker blockers[K_NR];
static pthread_mutex_t futex_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int futex_released, futex_early, futex_acquired;

static void temp_mask_without_usr1(sigset_t *m)
{
	pthread_sigmask(SIG_BLOCK, NULL, m);
	sigdelset(m, SIGUSR1);
}

static void *futex_waiter(void *arg)
{
	pthread_mutex_lock(&futex_mutex);
	if (!atomic_load(&futex_released))
		atomic_fetch_add(&futex_early, 1);
	atomic_fetch_add(&futex_acquired, 1);
	pthread_mutex_unlock(&futex_mutex);
	return NULL;
}

static void *blocker_thread(void *arg)
{
	struct blocker *b = arg;
	struct timespec ts = { b->ms / 1000, (long)(b->ms % 1000) * 1000000L };
	struct epoll_event ev[4];
	siginfo_t si;
	sigset_t set;
	char c = 0;
	int status = 0;
	struct { const sigset_t *ss; size_t len; } psel;

	b->t0 = mono_ns();
	switch (b->kind) {
	case K_READ:
		b->ret = syscall(SYS_read, b->fd[0], &c, 1);
		b->x[0] = c;
		break;
	case K_NANOSLEEP:
		/* clock_nanosleep returns the error number, not -1/errno */
		b->ret = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
		break;
	case K_POLL:
		b->ret = syscall(SYS_poll, NULL, 0, (int)b->ms);
		break;
	case K_EPOLL:
		b->ret = syscall(SYS_epoll_wait, b->fd[0], ev, 4, -1);
		b->x[0] = b->ret > 0 ? (long)ev[0].data.u64 : 0;
		break;
	case K_SIGTIMEDWAIT:
		sigemptyset(&set);
		sigaddset(&set, SIGUSR2);
		b->ret = syscall(SYS_rt_sigtimedwait, &set, &si, NULL, 8);
		b->x[0] = b->ret > 0 ? si.si_value.sival_int : 0;
		b->x[1] = b->ret > 0 ? si.si_code : 0;
		break;
	case K_ACCEPT:
		b->ret = syscall(SYS_accept, b->fd[0], NULL, NULL);
		break;
	case K_WAIT4:
		b->ret = syscall(SYS_wait4, b->child, &status, 0, NULL);
		b->x[0] = status;
		break;
	case K_PAUSE:
		b->ret = syscall(SYS_pause);
		break;
	case K_SIGSUSPEND:
		temp_mask_without_usr1(&set);
		b->ret = syscall(SYS_rt_sigsuspend, &set, 8);
		break;
	case K_PPOLL:
		temp_mask_without_usr1(&set);
		b->ret = syscall(SYS_ppoll, NULL, 0, NULL, &set, 8);
		break;
	case K_PSELECT:
		temp_mask_without_usr1(&set);
		psel.ss = &set;
		psel.len = 8;
		b->ret = syscall(SYS_pselect6, 0, NULL, NULL, NULL, NULL, &psel);
		break;
	}
	b->err = b->ret < 0 ? errno : 0;
	b->t1 = mono_ns();
	b->x[2] = tl_usr1;
	if (b->kind == K_SIGSUSPEND || b->kind == K_PPOLL || b->kind == K_PSELECT) {
		/* The temporary mask must be gone again: SIGUSR1 blocked. */
		pthread_sigmask(SIG_BLOCK, NULL, &set);
		b->x[1] = sigismember(&set, SIGUSR1);
	}
	atomic_store(&b->done, 1);
	return NULL;
}

static int find_kind(const char *name)
{
	for (int k = 0; k < K_NR; k++)
		if (!strcmp(kinds[k].name, name))
			return k;
	return -1;
}

static int tcp_listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void cmd_block(const char *name, unsigned ms)
{
	int k = find_kind(name);
	struct blocker *b;
	int take = 0;

	if (k < 0) {
		reply("error unknown syscall %s", name);
		return;
	}
	b = &blockers[k];
	if (b->active) {
		reply("error %s already blocked", name);
		return;
	}
	memset(b, 0, sizeof(*b));
	b->kind = k;
	b->ms = ms ? ms : 2000;
	switch (k) {
	case K_READ:
		if (pipe(b->fd) < 0)
			goto fail;
		break;
	case K_EPOLL:
		b->fd[0] = epoll_create1(EPOLL_CLOEXEC);
		if (b->fd[0] < 0)
			goto fail;
		break;
	case K_ACCEPT:
		b->fd[0] = tcp_listener(&b->port);
		if (b->fd[0] < 0)
			goto fail;
		break;
	case K_WAIT4:
		if (pipe(b->fd) < 0)
			goto fail;
		b->child = fork();
		if (b->child < 0)
			goto fail;
		if (b->child == 0) {
			char c;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(0);
			close(1);
			close(b->fd[1]);
			while (read(b->fd[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(7);
		}
		close(b->fd[0]);
		b->fd[0] = -1;
		break;
	case K_FUTEX:
		pthread_mutex_lock(&futex_mutex);
		atomic_store(&futex_released, 0);
		atomic_store(&futex_early, 0);
		atomic_store(&futex_acquired, 0);
		for (int i = 0; i < FUTEX_WAITERS; i++)
			b->wtid[i] = spawn(&b->wth[i], futex_waiter, NULL, "futex-waiter", 0);
		b->active = 1;
		b->tid = b->wtid[0];
		reply("tid=%d tid1=%d tid2=%d tid3=%d n=%d nr=%ld", b->wtid[0], b->wtid[1],
		      b->wtid[2], b->wtid[3], FUTEX_WAITERS, kinds[k].nr);
		return;
	case K_PAUSE:
	case K_SIGSUSPEND:
	case K_PPOLL:
	case K_PSELECT:
		/* pause needs SIGUSR1 open; the others open it only in the call */
		take = k == K_PAUSE;
		break;
	}
	b->tid = spawn(&b->th, blocker_thread, b, name, take);
	b->active = 1;
	if (k == K_ACCEPT)
		reply("tid=%d nr=%ld port=%d", b->tid, kinds[k].nr, b->port);
	else if (k == K_WAIT4)
		reply("tid=%d nr=%ld child=%d", b->tid, kinds[k].nr, b->child);
	else
		reply("tid=%d nr=%ld", b->tid, kinds[k].nr);
	return;
fail:
	reply("error block %s: %s", name, strerror(errno));
}

static int join_within(pthread_t th, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(th, NULL, &ts);
}

/* Make the awaited event happen, wait for the blocked call, report it. */
static void cmd_result(const char *name)
{
	int k = find_kind(name), fd;
	struct blocker *b;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234 };
	sigset_t pend;
	union sigval v = { .sival_int = 4242 };

	if (k < 0 || !blockers[k].active) {
		reply("error %s not blocked", name);
		return;
	}
	b = &blockers[k];
	switch (k) {
	case K_READ:
		if (write(b->fd[1], "x", 1) != 1)
			goto fail;
		break;
	case K_EPOLL:
		fd = eventfd(1, EFD_CLOEXEC);
		if (fd < 0 || epoll_ctl(b->fd[0], EPOLL_CTL_ADD, fd, &ev) < 0)
			goto fail;
		break;
	case K_SIGTIMEDWAIT:
		if (sigqueue(getpid(), SIGUSR2, v) < 0)
			goto fail;
		break;
	case K_ACCEPT:
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		a.sin_port = htons((uint16_t)b->port);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			goto fail;
		break;
	case K_WAIT4:
		if (write(b->fd[1], "x", 1) != 1)
			goto fail;
		break;
	case K_FUTEX:
		atomic_store(&futex_released, 1);
		pthread_mutex_unlock(&futex_mutex);
		for (int i = 0; i < FUTEX_WAITERS; i++)
			if (join_within(b->wth[i], 10000))
				goto fail;
		b->active = 0;
		reply("ret=0 errno=0 early=%d acquired=%d", atomic_load(&futex_early),
		      atomic_load(&futex_acquired));
		return;
	case K_PAUSE:
	case K_SIGSUSPEND:
	case K_PPOLL:
	case K_PSELECT:
		if (syscall(SYS_tgkill, getpid(), b->tid, SIGUSR1) < 0)
			goto fail;
		break;
	}
	if (join_within(b->th, 10000)) {
		reply("error %s did not return", name);
		return;
	}
	b->active = 0;
	sigpending(&pend);
	reply("ret=%ld errno=%d elapsed_ms=%llu x0=%ld x1=%ld handled=%ld usr2_pending=%d", b->ret,
	      b->err, (unsigned long long)((b->t1 - b->t0) / 1000000), b->x[0], b->x[1], b->x[2],
	      sigismember(&pend, SIGUSR2));
	return;
fail:
	reply("error result %s: %s", name, strerror(errno));
}

static void cmd_done(const char *name)
{
	int k = find_kind(name);

	if (k < 0 || !blockers[k].active) {
		reply("error %s not blocked", name);
		return;
	}
	if (k == K_FUTEX)
		reply("done=%d early=%d", atomic_load(&futex_acquired) > 0, atomic_load(&futex_early));
	else
		reply("done=%d ret=%ld errno=%d", atomic_load(&blockers[k].done), blockers[k].ret,
		      blockers[k].err);
}

/* ---- fds ---- */

static void cmd_fds(const char *dir)
{
	char path[4096];
	int file, dfd, p[2], sv[2], tcp, port = 0, efd, esem, ep, tfd, sfd, ino, pfd, mfd;
	struct itimerspec its = { { 10, 0 }, { 10, 0 } };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 };
	sigset_t m;

	snprintf(path, sizeof(path), "%s/victim-file.txt", dir);
	file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);	/* inheritable on purpose */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (file < 0 || dfd < 0 || write(file, "hello\n", 6) != 6)
		goto fail;
	if (pipe2(p, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	tcp = tcp_listener(&port);
	efd = eventfd(5, EFD_CLOEXEC);
	esem = eventfd(3, EFD_CLOEXEC | EFD_SEMAPHORE);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (tcp < 0 || efd < 0 || esem < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
		goto fail;
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0)
		goto fail;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	sfd = signalfd(-1, &m, SFD_CLOEXEC);
	ino = inotify_init1(IN_CLOEXEC);
	if (sfd < 0 || ino < 0 || inotify_add_watch(ino, dir, IN_CREATE | IN_DELETE) < 0)
		goto fail;
	pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	mfd = memfd_create("pss-test-memfd", MFD_CLOEXEC);
	if (pfd < 0 || mfd < 0 || ftruncate(mfd, 12345) < 0)
		goto fail;
	reply("file=%d dir=%d pipe_r=%d pipe_w=%d sock0=%d sock1=%d tcp=%d port=%d eventfd=%d "
	      "eventfd_sem=%d epoll=%d timerfd=%d signalfd=%d inotify=%d pidfd=%d memfd=%d",
	      file, dfd, p[0], p[1], sv[0], sv[1], tcp, port, efd, esem, ep, tfd, sfd, ino, pfd, mfd);
	return;
fail:
	reply("error fds: %s", strerror(errno));
}

/* ---- maps ---- */

static void *map_file(const char *path, size_t len, int prot, int flags, int unlink_it)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	void *p;

	if (fd < 0)
		return MAP_FAILED;
	if (ftruncate(fd, (off_t)len) < 0) {
		close(fd);
		return MAP_FAILED;
	}
	p = mmap(NULL, len, prot, flags, fd, 0);
	close(fd);
	if (unlink_it)
		unlink(path);
	return p;
}

static void cmd_maps(const char *dir)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t anon_len = 4 * pg, none_len = 16 * pg, memfd_len = 2 * pg, del_len = 2 * pg, sp_len = pg;
	char path[4096];
	uint8_t *anon, *none, *mem, *del, *sp;
	int mfd;

	anon = mmap(NULL, anon_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, none_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	mfd = memfd_create("pss-test-map", MFD_CLOEXEC);
	if (anon == MAP_FAILED || none == MAP_FAILED || mfd < 0 || ftruncate(mfd, (off_t)memfd_len) < 0)
		goto fail;
	mem = mmap(NULL, memfd_len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	close(mfd);
	snprintf(path, sizeof(path), "%s/deleted-file", dir);
	del = map_file(path, del_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, 1);
	snprintf(path, sizeof(path), "%s/name with space", dir);
	sp = map_file(path, sp_len, PROT_READ, MAP_SHARED, 0);
	if (mem == MAP_FAILED || del == MAP_FAILED || sp == MAP_FAILED)
		goto fail;
	for (size_t i = 0; i < anon_len; i++)
		anon[i] = vp_byte(i);
	memset(mem, 0x33, memfd_len);
	del[0] = 1;	/* one private copy-on-write page */
	reply("anon=%p anon_len=%zu none=%p none_len=%zu memfd=%p memfd_len=%zu deleted=%p "
	      "deleted_len=%zu space=%p space_len=%zu", anon, anon_len, none, none_len, mem,
	      memfd_len, del, del_len, sp, sp_len);
	return;
fail:
	reply("error maps: %s", strerror(errno));
}

/* ---- a stopped child of the victim (rows 16, 17) ---- */

static pid_t stopped_child = -1;

static void *child_idle(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

/* Fork a child with 3 threads, stop it with @sig (0: leave it running) and
 * see the stop (WNOWAIT: the notification stays pending for "waitchild"). */
static void cmd_stopchild(int sig)
{
	siginfo_t si;
	char path[64], st = 0;
	int p[2];
	char c;

	if (pipe(p) < 0) {
		reply("error pipe: %s", strerror(errno));
		return;
	}
	stopped_child = fork();
	if (stopped_child == 0) {
		pthread_t th;
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(0);
		close(1);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTSTP, SIG_DFL);
		pthread_create(&th, NULL, child_idle, NULL);
		pthread_create(&th, NULL, child_idle, NULL);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (stopped_child < 0 || read(p[0], &c, 1) != 1) {
		reply("error child: %s", strerror(errno));
		return;
	}
	close(p[0]);
	if (!sig) {
		reply("child=%d", stopped_child);
		return;
	}
	kill(stopped_child, sig);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)stopped_child, &si, WSTOPPED | WNOWAIT) < 0) {
		reply("error waitid: %s", strerror(errno));
		return;
	}
	/* the leader in group stop before we answer */
	snprintf(path, sizeof(path), "/proc/%d/stat", stopped_child);
	for (int i = 0; i < 1000 && st != 'T'; i++) {
		char buf[512], *q;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		int n = fd < 0 ? -1 : (int)read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		q = strrchr(buf, ')');
		st = q ? q[2] : 0;
		if (st != 'T')
			usleep(1000);
	}
	reply("child=%d code=%d status=%d state=%c", stopped_child, si.si_code, si.si_status, st);
}

/* Report (and with @consume, take) the child's pending stop notification. */
static void cmd_waitchild(int consume)
{
	siginfo_t si;
	int r;

	memset(&si, 0, sizeof(si));
	r = waitid(P_PID, (id_t)stopped_child, &si, WSTOPPED | WNOHANG | (consume ? 0 : WNOWAIT));
	reply("ret=%d pid=%d code=%d status=%d", r < 0 ? -errno : r, si.si_pid, si.si_code, si.si_status);
}

static void cmd_contchild(void)
{
	siginfo_t si;
	int r;

	kill(stopped_child, SIGCONT);
	memset(&si, 0, sizeof(si));
	r = waitid(P_PID, (id_t)stopped_child, &si, WCONTINUED);
	reply("ret=%d pid=%d code=%d", r < 0 ? -errno : r, si.si_pid, si.si_code);
}

/* ---- commands ---- */

/* Decode \n, \t, \\ and \xHH so hostile names can be sent on one line. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s != '\\' || !s[1]) {
			*o++ = *s;
			continue;
		}
		s++;
		if (*s == 'n')
			*o++ = '\n';
		else if (*s == 't')
			*o++ = '\t';
		else if (*s == 'x' && s[1] && s[2]) {
			char h[3] = { s[1], s[2], 0 };

			*o++ = (char)strtol(h, NULL, 16);
			s += 2;
		} else
			*o++ = *s;
	}
	*o = 0;
}

static int read_line(char *buf, size_t len)
{
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(0, &c, 1);

		if (r < 0 && errno == EINTR) {
			/* SA_RESTART should make this impossible */
			atomic_fetch_add(&stdin_eintr, 1);
			continue;
		}
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < len)
			buf[n++] = c;
	}
	buf[n] = 0;
	return (int)n;
}

static void command(char *line)
{
	char *arg = strchr(line, ' ');
	sigset_t m;

	if (arg)
		*arg++ = 0;
	else
		arg = line + strlen(line);
	if (!strcmp(line, "ping")) {
		reply("pong pid=%d", getpid());
	} else if (!strcmp(line, "threads")) {
		cmd_threads(atoi(arg));
	} else if (!strcmp(line, "spin")) {
		reply("tid=%d", spawn(NULL, spin_thread, NULL, "spinner", 0));
	} else if (!strcmp(line, "counter")) {
		reply("count=%lu", atomic_load(&spin_counter));
	} else if (!strcmp(line, "block")) {
		char name[32] = "";
		unsigned ms = 0;

		sscanf(arg, "%31s %u", name, &ms);
		cmd_block(name, ms);
	} else if (!strcmp(line, "result")) {
		cmd_result(arg);
	} else if (!strcmp(line, "done")) {
		cmd_done(arg);
	} else if (!strcmp(line, "regs")) {
		cmd_regs(strtoull(arg, NULL, 0));
	} else if (!strcmp(line, "check")) {
		if (!spin_ctl)
			reply("error no spinner");
		else
			reply("mismatches=%llu iterations=%llu",
			      (unsigned long long)__atomic_load_n(&spin_ctl->mismatches, __ATOMIC_ACQUIRE),
			      (unsigned long long)__atomic_load_n(&spin_ctl->iterations, __ATOMIC_ACQUIRE));
	} else if (!strcmp(line, "sigcount")) {
		reply("usr1=%ld usr1sum=%ld rt4=%ld rt4sum=%ld stdin_eintr=%ld", atomic_load(&usr1_count),
		      atomic_load(&usr1_sum), atomic_load(&rt4_count), atomic_load(&rt4_sum),
		      atomic_load(&stdin_eintr));
	} else if (!strcmp(line, "rtunblock")) {
		/* Pending process-wide and main-thread signals arrive here, now. */
		char buf[4096];
		size_t off;
		int n;

		rt_block_set(&m);
		pthread_sigmask(SIG_UNBLOCK, &m, NULL);
		pthread_sigmask(SIG_BLOCK, &m, NULL);
		n = atomic_load(&rt_nrecs);
		off = (size_t)snprintf(buf, sizeof(buf), "n=%d list=", n);
		for (int i = 0; i < n && i < 256 && off < sizeof(buf) - 64; i++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d:%d:%d:%d", i ? "," : "",
						rt_recs[i].signo, rt_recs[i].code, rt_recs[i].pid,
						rt_recs[i].value);
		reply("%s", buf);
	} else if (!strcmp(line, "sigmask")) {
		pthread_sigmask(SIG_BLOCK, NULL, &m);
		reply("rtblocked=%d usr2blocked=%d", sigismember(&m, SIGRTMIN), sigismember(&m, SIGUSR2));
	} else if (!strcmp(line, "fds")) {
		cmd_fds(arg);
	} else if (!strcmp(line, "maps")) {
		cmd_maps(arg);
	} else if (!strcmp(line, "name")) {
		unescape(arg);
		prctl(PR_SET_NAME, arg);
		reply("ok");
	} else if (!strcmp(line, "churn")) {
		atomic_store(&churn_stop, 0);
		spawn(&churn_th, churn_thread, NULL, "churn", 0);
		reply("ok");
	} else if (!strcmp(line, "churn-stop")) {
		atomic_store(&churn_stop, 1);
		pthread_join(churn_th, NULL);
		reply("created=%ld", atomic_load(&churn_created));
	} else if (!strcmp(line, "exit-after")) {
		spawn(NULL, exit_after_thread, (void *)(uintptr_t)atoi(arg), "exiter", 0);
		reply("ok");
	} else if (!strcmp(line, "fork-child")) {
		pid_t c = fork();

		if (c == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(0);
			close(1);
			for (;;)
				pause();
		}
		reply("child=%d", c);
	} else if (!strcmp(line, "stopchild")) {
		cmd_stopchild(!strcmp(arg, "TSTP") ? SIGTSTP : SIGSTOP);
	} else if (!strcmp(line, "spawnchild")) {
		cmd_stopchild(0);
	} else if (!strcmp(line, "waitchild")) {
		cmd_waitchild(!strcmp(arg, "consume"));
	} else if (!strcmp(line, "contchild")) {
		cmd_contchild();
	} else if (!strcmp(line, "stop-self")) {
		reply("stopping");
		raise(SIGSTOP);
	} else if (!strcmp(line, "nice")) {
		errno = 0;
		reply("ret=%d", nice(atoi(arg)) == -1 && errno ? -errno : 0);
	} else if (!strcmp(line, "exit")) {
		reply("bye");
		_exit(atoi(arg));
	} else {
		reply("error unknown command %s", line);
	}
}

int main(int argc, char **argv)
{
	sigset_t m;
	char line[4096];

	/* Blocked everywhere, from the start (threads inherit the mask). */
	rt_block_set(&m);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	install(SIGUSR1, on_usr1);
	install(SIGRTMIN + 4, on_rt4);
	for (int i = 0; i < 4; i++)
		install(SIGRTMIN + i, on_rt);
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (read_line(line, sizeof(line)) >= 0)
		command(line);
	return 0;
}
