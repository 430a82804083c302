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
 *
 * With the argument --ppoll the command loop waits for stdin in ppoll()
 * (a temporary-mask call, which the VA clone injection must not use), so
 * that a capture has to inject into one of the blocked helper threads.
 *
 * The VA clone tests add memory with known contents ("pat-alloc",
 * "gen-alloc": see victim.h), a mapping toggler, kernel objects to close
 * while a snapshot lives (pipe, listener, flock, epoll), an exec from a
 * helper thread, a vfork pair, a ptraced child and a leader that exits.
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
#include <poll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include "victim-common.h"

/* ---- signals ---- */

static atomic_long usr1_count, usr1_sum, rt4_count, rt4_sum, term_count;
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

static void on_term(int sig, siginfo_t *si, void *uc)
{
	atomic_fetch_add(&term_count, 1);
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

/* spawn() - start a thread and return its tid once it runs.  The thread
 * blocks SIGUSR1 and SIGRTMIN+4 unless @take_usr1. */
static pid_t spawn(pthread_t *th, void *(*fn)(void *), void *arg, const char *name, int take_usr1)
{
	sigset_t block;

	sigemptyset(&block);
	if (!take_usr1) {
		sigaddset(&block, SIGUSR1);
		sigaddset(&block, SIGRTMIN + 4);
	}
	return start_thread(th, fn, arg, name, &block);
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

/* grow: a thread creating parked threads one after another, up to a
 * number (row 19).  Each new thread writes its tid to grow_tids[] as its
 * first act, so a capture's clone tells which threads had run by the
 * clone's instant: all of them must be in the snapshot. */
#define GROW_MAX 4096
#define GROW_FUTEX_WAIT_PRIVATE 128	/* FUTEX_WAIT | FUTEX_PRIVATE_FLAG */
static pid_t grow_tids[GROW_MAX];
static atomic_int grow_started, grow_stop;
static uint32_t grow_park;	/* futex word, never changed */
static pthread_t grow_th;

static void *grow_child(void *arg)
{
	int i = atomic_fetch_add(&grow_started, 1);

	if (i < GROW_MAX)
		__atomic_store_n(&grow_tids[i], (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (;;)
		syscall(SYS_futex, &grow_park, GROW_FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

static void *grow_thread(void *arg)
{
	int n = (int)(intptr_t)arg, made = 0;
	struct timespec gap = { 0, 100000 };	/* 0.1 ms: creation spans many captures */
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (made < n && made < GROW_MAX && !atomic_load(&grow_stop)) {
		pthread_t t;

		if (pthread_create(&t, &attr, grow_child, NULL) == 0)
			made++;
		nanosleep(&gap, NULL);
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

/* sleepers: parked threads (64 KiB stacks, no fd each, every signal
 * blocked) in FUTEX_WAIT on a word never changed, each counting the times
 * its call returned: with nothing ever waking them, any return is one a
 * capture caused (the deferred-threads path of test-failsys). */
#define SLEEPERS_MAX 1024
static uint32_t sleepers_word;		/* never changed */
static atomic_int sleepers_n, sleepers_up;
static atomic_long sleepers_returns;

static void *sleeper_thread(void *arg)
{
	atomic_fetch_add(&sleepers_up, 1);
	for (;;) {
		syscall(SYS_futex, &sleepers_word, GROW_FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		atomic_fetch_add(&sleepers_returns, 1);
	}
	return NULL;
}

/* "sleepers K": K more (0: none, a query) -> "n=<sleepers> err=<errno>
 * returns=<calls that returned>", once every one has started. */
static void cmd_sleepers(int k)
{
	int err = 0;

	for (int i = 0; i < k && !err; i++) {
		if (atomic_load(&sleepers_n) >= SLEEPERS_MAX)
			err = ENOSPC;
		else if (!(err = spawn_idle(sleeper_thread, NULL, 64 << 10)))
			atomic_fetch_add(&sleepers_n, 1);
	}
	while (atomic_load(&sleepers_up) < atomic_load(&sleepers_n))
		sched_yield();
	reply("n=%d err=%d returns=%ld", atomic_load(&sleepers_n), err, atomic_load(&sleepers_returns));
}

/* altstack: a thread parked inside a SIGUSR2 handler that runs on its
 * alternate signal stack, blocked in read() on a pipe (row 10).  The
 * handler records, once the byte comes, what it saw: still on the
 * altstack, the same altstack, the read's result. */
#define ALT_SIZE (64 << 10)
static char *alt_mem;
static int alt_pipe[2] = { -1, -1 };
static atomic_int alt_in, alt_done;
static struct {
	long got;		/* the read's result */
	int err;		/* its errno */
	int onstack;		/* sigaltstack() said SS_ONSTACK after the read */
	int same;		/* the same ss_sp and ss_size */
	int sp_in;		/* a local lay inside the altstack */
	char byte;
} alt_res;

static void alt_handler(int sig)
{
	stack_t now;
	char c = 0, here;
	long n;

	atomic_store(&alt_in, 1);
	n = syscall(SYS_read, alt_pipe[0], &c, 1);
	alt_res.got = n;
	alt_res.err = n < 0 ? errno : 0;
	alt_res.byte = c;
	sigaltstack(NULL, &now);
	alt_res.onstack = !!(now.ss_flags & SS_ONSTACK);
	alt_res.same = now.ss_sp == alt_mem && now.ss_size == ALT_SIZE;
	alt_res.sp_in = &here >= alt_mem && &here < alt_mem + ALT_SIZE;
	atomic_store(&alt_done, 1);
}

static void *alt_thread(void *arg)
{
	stack_t ss = { .ss_sp = alt_mem, .ss_size = ALT_SIZE };
	struct sigaction sa;
	sigset_t usr2;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alt_handler;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaltstack(&ss, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
	for (;;)
		pause();
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

/* ---- the register spinner (fault matrix row 9; regs_spin in victim-common.h) ---- */

static struct spin_ctl *spin_ctl;

/*
 * regs_read(ctl in %rdi): load rbx, rbp, r8, r10, r12-r15 and ymm0-15 with
 * the pattern of ctl, make one raw read(ctl->fd, ctl->buf, 1), store its
 * result and count a mismatch if any register but rax, rcx and r11 (which
 * the syscall instruction defines) differs afterwards: the check of a
 * thread that a capture injects into while it is blocked (row 9 for the
 * injected thread).
 */
struct rr_ctl {
	uint64_t gp[VP_NGP];
	uint64_t vec[16][4];
	uint64_t scratch[4];
	uint64_t fd, buf, ret, mismatches, r8, r10;
};
_Static_assert(__builtin_offsetof(struct rr_ctl, fd) == 592, "layout");
_Static_assert(__builtin_offsetof(struct rr_ctl, r10) == 632, "layout");

void regs_read(struct rr_ctl *ctl);

__asm__(
	".text\n"
	".globl regs_read\n"
	".type regs_read, @function\n"
	"regs_read:\n"
	"	push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"	mov %rdi, %r9\n"
	"	mov 0(%r9), %rbx\n mov 8(%r9), %rbp\n mov 16(%r9), %r12\n"
	"	mov 24(%r9), %r13\n mov 32(%r9), %r14\n mov 40(%r9), %r15\n"
	"	.irp k,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu 48+32*\\k(%r9), %ymm\\k\n"
	"	.endr\n"
	"	mov 624(%r9), %r8\n mov 632(%r9), %r10\n"
	"	mov 592(%r9), %rdi\n mov 600(%r9), %rsi\n mov $1, %edx\n xor %eax, %eax\n"
	"	syscall\n"
	"	mov %rax, 608(%r9)\n"
	"	cmp 0(%r9), %rbx\n jne 3f\n cmp 8(%r9), %rbp\n jne 3f\n"
	"	cmp 16(%r9), %r12\n jne 3f\n cmp 24(%r9), %r13\n jne 3f\n"
	"	cmp 32(%r9), %r14\n jne 3f\n cmp 40(%r9), %r15\n jne 3f\n"
	"	cmp 624(%r9), %r8\n jne 3f\n cmp 632(%r9), %r10\n jne 3f\n"
	"	cmp 592(%r9), %rdi\n jne 3f\n cmp 600(%r9), %rsi\n jne 3f\n"
	"	cmp $1, %rdx\n jne 3f\n"
	"	.irp k,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu %ymm\\k, 560(%r9)\n"
	"	.irp q,0,1,2,3\n"
	"	mov 560+8*\\q(%r9), %rax\n"
	"	cmp 48+32*\\k+8*\\q(%r9), %rax\n"
	"	jne 3f\n"
	"	.endr\n"
	"	.endr\n"
	"	jmp 4f\n"
	"3:\n"
	"	incq 616(%r9)\n"
	"4:\n"
	"	vzeroupper\n"
	"	pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
	"	ret\n"
	".size regs_read, .-regs_read\n");

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
	spin_ctl = spin_new(seed);
	if (!spin_ctl) {
		reply("error regs: no memory");
		return;
	}
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
	    K_WAIT4, K_PAUSE, K_SIGSUSPEND, K_PPOLL, K_PSELECT, K_REGREAD, K_NR };

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
	[K_REGREAD] = { "regread", SYS_read },	/* read() with checked registers */
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
	struct rr_ctl *rr;
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
	case K_REGREAD:
		regs_read(b->rr);
		b->ret = (long)b->rr->ret;
		if (b->ret < 0) {
			errno = (int)-b->ret;
			b->ret = -1;
		}
		b->x[0] = (long)b->rr->mismatches;
		b->x[1] = *(char *)(uintptr_t)b->rr->buf;
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
	case K_REGREAD:
		if (pipe(b->fd) < 0)
			goto fail;
		b->rr = aligned_alloc(64, sizeof(*b->rr) + 64);
		memset(b->rr, 0, sizeof(*b->rr));
		for (int i = 0; i < VP_NGP; i++)
			b->rr->gp[i] = vp_gp(0x77, i);
		for (int r = 0; r < 16; r++)
			for (int q = 0; q < 4; q++)
				b->rr->vec[r][q] = vp_vec(0x77, r, q);
		b->rr->fd = (uint64_t)b->fd[0];
		b->rr->buf = (uint64_t)(uintptr_t)&b->x[1];
		b->rr->r8 = 0x0808080808080808ull;
		b->rr->r10 = 0x1010101010101010ull;
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
	case K_REGREAD:
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
static int child_read_fd = -1;	/* "read": the child's threads block in read() */

static void *child_idle(void *arg)
{
	char c;

	for (;;) {
		if (child_read_fd >= 0)
			syscall(SYS_read, child_read_fd, &c, 1);
		else
			pause();
	}
	return NULL;
}

/* Fork a child with 3 threads, stop it with @sig (0: leave it running) and
 * see the stop (WNOWAIT: the notification stays pending for "waitchild").
 * With @use_read its threads block in read() on a pipe, else in pause(). */
static void cmd_stopchild(int sig, int use_read)
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
		if (use_read) {
			int q[2];

			if (pipe(q) < 0)
				_exit(1);
			child_read_fd = q[0];	/* q[1] stays open: no EOF */
		}
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTSTP, SIG_DFL);
		pthread_create(&th, NULL, child_idle, NULL);
		pthread_create(&th, NULL, child_idle, NULL);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		child_idle(NULL);
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


/* ---- memory with known contents (VA clone tests) ---- */

/* pat-alloc BYTES SEED KIND: a mapping of KIND (private, shared, dontfork,
 * wipeonfork) filled with vp_word(SEED). */
static void cmd_pat_alloc(const char *arg)
{
	char kind[32] = "private";
	unsigned long long len = 0, seed = 0;
	int flags = MAP_ANONYMOUS, adv = -1;
	uint64_t *p;

	sscanf(arg, "%llu %llu %31s", &len, &seed, kind);
	flags |= !strcmp(kind, "shared") ? MAP_SHARED : MAP_PRIVATE;
	if (!strcmp(kind, "dontfork"))
		adv = MADV_DONTFORK;
	else if (!strcmp(kind, "wipeonfork"))
		adv = MADV_WIPEONFORK;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED || (adv >= 0 && madvise(p, len, adv) < 0)) {
		reply("error pat-alloc: %s", strerror(errno));
		return;
	}
	for (uint64_t w = 0; w < len / 8; w++)
		p[w] = vp_word(seed, w);
	reply("addr=%p len=%llu", (void *)p, len);
}

/* pat-fill ADDR LEN SEED / pat-check ADDR LEN SEED */
static void cmd_pat(const char *arg, int check)
{
	unsigned long long addr = 0, len = 0, seed = 0, bad = 0;
	volatile uint64_t *p;

	sscanf(arg, "%llx %llu %llu", &addr, &len, &seed);
	p = (volatile uint64_t *)(uintptr_t)addr;
	for (uint64_t w = 0; w < len / 8; w++) {
		if (!check)
			p[w] = vp_word(seed, w);
		else if (p[w] != vp_word(seed, w))
			bad++;
	}
	reply("mismatches=%llu", bad);
}

/* The generation buffer: a header page with the counter of complete
 * generations, then n words rewritten in order by "gen-set" or, in a
 * loop, by the writer thread of "gen-run". */
static uint64_t *gen_hdr;
static size_t gen_n;
static atomic_int gen_stop;
static pthread_t gen_th;
static int gen_running;

static void gen_fill(uint64_t g)
{
	volatile uint64_t *w = (volatile uint64_t *)((char *)gen_hdr + VP_GEN_HDR);

	for (size_t i = 0; i < gen_n; i++)
		w[i] = vp_gen_word(g, i);
	__atomic_store_n(&gen_hdr[0], g, __ATOMIC_RELEASE);
}

static void *gen_thread(void *arg)
{
	while (!atomic_load(&gen_stop))
		gen_fill(__atomic_load_n(&gen_hdr[0], __ATOMIC_RELAXED) + 1);
	return NULL;
}

static void cmd_gen(const char *cmd, const char *arg)
{
	if (!strcmp(cmd, "gen-alloc")) {
		size_t len = (size_t)strtoull(arg, NULL, 0);

		gen_hdr = mmap(NULL, VP_GEN_HDR + len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (gen_hdr == MAP_FAILED) {
			reply("error gen-alloc: %s", strerror(errno));
			return;
		}
		gen_n = len / 8;
		gen_fill(1);
		reply("hdr=%p words=%p n=%zu gen=1", (void *)gen_hdr, (char *)gen_hdr + VP_GEN_HDR, gen_n);
	} else if (!gen_hdr) {
		reply("error no gen buffer");
	} else if (!strcmp(cmd, "gen-set")) {
		gen_fill(strtoull(arg, NULL, 0));
		reply("gen=%llu", (unsigned long long)gen_hdr[0]);
	} else if (!strcmp(cmd, "gen-run")) {
		atomic_store(&gen_stop, 0);
		reply("tid=%d", spawn(&gen_th, gen_thread, NULL, "gen-writer", 0));
		gen_running = 1;
	} else if (!strcmp(cmd, "gen-stop")) {
		atomic_store(&gen_stop, 1);
		if (gen_running)
			pthread_join(gen_th, NULL);
		gen_running = 0;
		reply("gen=%llu", (unsigned long long)__atomic_load_n(&gen_hdr[0], __ATOMIC_ACQUIRE));
	} else {
		reply("gen=%llu", (unsigned long long)__atomic_load_n(&gen_hdr[0], __ATOMIC_ACQUIRE));
	}
}

/* The mapping toggler: maps and unmaps one region at a fixed address in a
 * loop; toggle_state says which, with a pause in each decided state. */
static int toggle_state;
static void *toggle_addr;
static size_t toggle_len;
static atomic_int toggle_stop;
static atomic_long toggle_flips;
static pthread_t toggle_th;

static void toggle_dwell(void)
{
	for (volatile int i = 0; i < 20000; i++)
		;
}

static void *toggle_thread(void *arg)
{
	while (!atomic_load(&toggle_stop)) {
		void *p;

		__atomic_store_n(&toggle_state, VP_TOGGLE_MAPPING, __ATOMIC_SEQ_CST);
		p = mmap(toggle_addr, toggle_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != toggle_addr) {
			if (p != MAP_FAILED)
				munmap(p, toggle_len);
			__atomic_store_n(&toggle_state, VP_TOGGLE_UNMAPPED, __ATOMIC_SEQ_CST);
			continue;
		}
		__atomic_store_n(&toggle_state, VP_TOGGLE_MAPPED, __ATOMIC_SEQ_CST);
		toggle_dwell();
		__atomic_store_n(&toggle_state, VP_TOGGLE_UNMAPPING, __ATOMIC_SEQ_CST);
		munmap(toggle_addr, toggle_len);
		__atomic_store_n(&toggle_state, VP_TOGGLE_UNMAPPED, __ATOMIC_SEQ_CST);
		atomic_fetch_add(&toggle_flips, 1);
		toggle_dwell();
	}
	return NULL;
}

static void cmd_toggle(int start)
{
	if (!start) {
		atomic_store(&toggle_stop, 1);
		pthread_join(toggle_th, NULL);
		reply("flips=%ld", atomic_load(&toggle_flips));
		return;
	}
	toggle_len = 3 * 4096;
	toggle_addr = mmap(NULL, toggle_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (toggle_addr == MAP_FAILED) {
		reply("error toggle: %s", strerror(errno));
		return;
	}
	munmap(toggle_addr, toggle_len);
	atomic_store(&toggle_stop, 0);
	spawn(&toggle_th, toggle_thread, NULL, "toggler", 0);
	reply("state=%p addr=%p len=%zu", (void *)&toggle_state, toggle_addr, toggle_len);
}

/* ---- kernel objects to close while a snapshot lives (rows 42-45) ---- */

static void cmd_objects(const char *cmd, const char *arg)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x4545 };
	int fd, fd2, port = 0, p[2];

	if (!strcmp(cmd, "pipe")) {
		if (pipe(p) < 0)
			goto fail;
		reply("r=%d w=%d", p[0], p[1]);
	} else if (!strcmp(cmd, "listen")) {
		fd = tcp_listener(&port);
		if (fd < 0)
			goto fail;
		reply("fd=%d port=%d", fd, port);
	} else if (!strcmp(cmd, "flock")) {
		fd = open(arg, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
			goto fail;
		reply("fd=%d", fd);
	} else if (!strcmp(cmd, "epoll-ready")) {
		/* an eventfd that is always readable, in an epoll set */
		fd = epoll_create1(0);
		fd2 = eventfd(1, 0);
		if (fd < 0 || fd2 < 0 || epoll_ctl(fd, EPOLL_CTL_ADD, fd2, &ev) < 0)
			goto fail;
		reply("ep=%d efd=%d", fd, fd2);
	} else if (!strcmp(cmd, "epoll-check")) {
		struct epoll_event out[4];
		int n = epoll_wait(atoi(arg), out, 4, 0);

		reply("n=%d data=%llu", n < 0 ? -errno : n, n > 0 ? (unsigned long long)out[0].data.u64 : 0);
	} else {	/* close FD... */
		const char *q = arg;
		char *end;
		int r = 0;

		for (long v = strtol(q, &end, 10); end != q; q = end, v = strtol(q, &end, 10))
			if (close((int)v) < 0)
				r = -errno;
		reply("ret=%d", r);
	}
	return;
fail:
	reply("error %s: %s", cmd, strerror(errno));
}

/* ---- exec from a helper thread (row 24) ---- */

static int exec_pipe[2] = { -1, -1 };

static void *exec_thread(void *arg)
{
	char c;
	char *const argv[] = { "victim", NULL };

	while (read(exec_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	execv("/proc/self/exe", argv);
	_exit(126);
}

/* ---- vfork (rows 25, 26) ---- */

static int vfork_fd = -1;	/* reports of the vforking child */

struct vfork_report {
	int ret, err, elapsed_ms, status;
};

/* Fork P; P vforks G, which reports its pid and sleeps @ms before _exit(0);
 * P reports what vfork returned and G's exit status on vfork_fd. */
static void cmd_vfork(unsigned ms)
{
	int p[2];
	pid_t parent, g = 0;
	struct pollfd pfd;

	if (pipe2(p, O_CLOEXEC) < 0) {
		reply("error pipe: %s", strerror(errno));
		return;
	}
	parent = fork();
	if (parent == 0) {
		struct vfork_report rep = { 0 };
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
		uint64_t t0;
		pid_t c;
		int st = 0;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(0);
		close(1);
		close(p[0]);
		t0 = mono_ns();
		c = vfork();
		if (c == 0) {
			pid_t me = (pid_t)syscall(SYS_getpid);

			syscall(SYS_write, p[1], &me, sizeof(me));
			syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
			_exit(0);
		}
		rep.ret = c;
		rep.err = c < 0 ? errno : 0;
		rep.elapsed_ms = (int)((mono_ns() - t0) / 1000000);
		if (c > 0 && waitpid(c, &st, 0) == c)
			rep.status = st;
		else
			rep.status = -1;
		if (write(p[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (parent < 0 || poll(&pfd, 1, 10000) != 1 || read(p[0], &g, sizeof(g)) != sizeof(g)) {
		reply("error vfork: %s", strerror(errno));
		return;
	}
	vfork_fd = p[0];
	reply("parent=%d child=%d", parent, g);
}

static void cmd_vfork_result(void)
{
	struct vfork_report rep;
	struct pollfd pfd = { .fd = vfork_fd, .events = POLLIN };

	if (vfork_fd < 0 || poll(&pfd, 1, 15000) != 1 || read(vfork_fd, &rep, sizeof(rep)) != sizeof(rep)) {
		reply("error vfork-result: no report");
		return;
	}
	reply("ret=%d errno=%d elapsed_ms=%d status=%d", rep.ret, rep.err, rep.elapsed_ms, rep.status);
}

/* ---- the victim as a tracer of its own child (row 28) ---- */

static pid_t traced_child = -1;

static void cmd_trace(int check)
{
	char path[64], buf[4096], *p;
	int st = 0, tracer = -1;
	long r;

	if (!check) {
		traced_child = fork();
		if (traced_child == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(0);
			close(1);
			for (;;)
				pause();
		}
		r = ptrace(PTRACE_SEIZE, traced_child, 0, 0);
		reply("child=%d ret=%ld errno=%d", traced_child, r, r < 0 ? errno : 0);
		return;
	}
	/* our tracee still answers to us: interrupt, see the stop, resume */
	r = ptrace(PTRACE_INTERRUPT, traced_child, 0, 0);
	if (r == 0 && waitpid(traced_child, &st, __WALL) != traced_child)
		r = -1;
	if (r == 0)
		r = ptrace(PTRACE_CONT, traced_child, 0, 0);
	snprintf(path, sizeof(path), "/proc/%d/status", traced_child);
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = 0;
		p = strstr(buf, "TracerPid:");
		if (p)
			tracer = atoi(p + 10);
	}
	reply("ret=%ld stopped=%d event=%d tracer=%d", r, WIFSTOPPED(st), st >> 16, tracer);
}

/* ---- the leader exits, the others carry on (row 21) ---- */

static void command(char *line);

static void *cmd_loop_thread(void *arg)
{
	command_loop(command);
	exit(0);
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

static void command(char *line)
{
	char *arg = cmd_split(line);
	sigset_t m;

	if (!strcmp(line, "ping")) {
		reply("pong pid=%d", getpid());
	} else if (!strcmp(line, "threads")) {
		cmd_threads(atoi(arg));
	} else if (!strcmp(line, "sleepers")) {
		cmd_sleepers(atoi(arg));
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
		reply("usr1=%ld usr1sum=%ld rt4=%ld rt4sum=%ld stdin_eintr=%ld term=%ld ppoll_eintr=%ld",
		      atomic_load(&usr1_count), atomic_load(&usr1_sum), atomic_load(&rt4_count),
		      atomic_load(&rt4_sum), atomic_load(&stdin_eintr), atomic_load(&term_count),
		      atomic_load(&ppoll_eintr));
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
	} else if (!strcmp(line, "altstack")) {
		pid_t tid;

		alt_mem = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (alt_mem == MAP_FAILED || pipe(alt_pipe)) {
			reply("error %s", strerror(errno));
			return;
		}
		tid = spawn(NULL, alt_thread, NULL, "altstack", 0);
		while (!atomic_load(&alt_in))
			usleep(1000);
		reply("ok tid=%d lo=%#lx hi=%#lx", tid, (unsigned long)(uintptr_t)alt_mem,
		      (unsigned long)(uintptr_t)(alt_mem + ALT_SIZE));
	} else if (!strcmp(line, "altstack-go")) {
		if (write(alt_pipe[1], "k", 1) != 1) {
			reply("error %s", strerror(errno));
			return;
		}
		for (int i = 0; i < 2000 && !atomic_load(&alt_done); i++)
			usleep(1000);
		reply("done=%d got=%ld err=%d byte=%d onstack=%d same=%d sp_in=%d",
		      atomic_load(&alt_done), alt_res.got, alt_res.err, alt_res.byte, alt_res.onstack,
		      alt_res.same, alt_res.sp_in);
	} else if (!strcmp(line, "grow")) {
		atomic_store(&grow_stop, 0);
		spawn(&grow_th, grow_thread, (void *)(intptr_t)atoi(arg), "grow", 0);
		reply("ok tids=%#lx started=%#lx max=%d", (unsigned long)(uintptr_t)grow_tids,
		      (unsigned long)(uintptr_t)&grow_started, GROW_MAX);
	} else if (!strcmp(line, "grow-stop")) {
		atomic_store(&grow_stop, 1);
		pthread_join(grow_th, NULL);
		reply("started=%d", atomic_load(&grow_started));
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
		cmd_stopchild(!strncmp(arg, "TSTP", 4) ? SIGTSTP : SIGSTOP, !!strstr(arg, "read"));
	} else if (!strcmp(line, "spawnchild")) {
		cmd_stopchild(0, !!strstr(arg, "read"));
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
	} else if (!strcmp(line, "pat-alloc")) {
		cmd_pat_alloc(arg);
	} else if (!strcmp(line, "pat-fill") || !strcmp(line, "pat-check")) {
		cmd_pat(arg, !strcmp(line, "pat-check"));
	} else if (!strcmp(line, "munmap")) {
		unsigned long long a = 0, l = 0;

		sscanf(arg, "%llx %llu", &a, &l);
		reply("ret=%d", munmap((void *)(uintptr_t)a, l) < 0 ? -errno : 0);
	} else if (!strncmp(line, "gen-", 4)) {
		cmd_gen(line, arg);
	} else if (!strcmp(line, "toggle-start") || !strcmp(line, "toggle-stop")) {
		cmd_toggle(!strcmp(line, "toggle-start"));
	} else if (!strcmp(line, "pipe") || !strcmp(line, "listen") || !strcmp(line, "flock") ||
		   !strncmp(line, "epoll-", 6) || !strcmp(line, "close")) {
		cmd_objects(line, arg);
	} else if (!strcmp(line, "waitany")) {
		/* must never see a VA clone: 0 (children running) or ECHILD */
		int st = 0;
		pid_t r = waitpid(-1, &st, __WALL | WNOHANG);

		reply("ret=%d errno=%d status=%d", r, r < 0 ? errno : 0, st);
	} else if (!strcmp(line, "setpgid")) {
		int r = setpgid(0, 0) < 0 ? -errno : 0;

		reply("ret=%d pgid=%d", r, getpgrp());
	} else if (!strcmp(line, "sigterm")) {
		install(SIGTERM, on_term);
		reply("ok");
	} else if (!strcmp(line, "exec-arm")) {
		if (pipe2(exec_pipe, O_CLOEXEC) < 0)
			reply("error pipe: %s", strerror(errno));
		else
			reply("tid=%d", spawn(NULL, exec_thread, NULL, "execer", 0));
	} else if (!strcmp(line, "exec-go")) {
		/* no reply: the new program's "ready" line answers */
		if (write(exec_pipe[1], "x", 1) != 1)
			reply("error exec-go: %s", strerror(errno));
	} else if (!strcmp(line, "vfork")) {
		cmd_vfork(arg[0] ? (unsigned)atoi(arg) : 3000);
	} else if (!strcmp(line, "vfork-result")) {
		cmd_vfork_result();
	} else if (!strcmp(line, "trace-child")) {
		cmd_trace(0);
	} else if (!strcmp(line, "trace-check")) {
		cmd_trace(1);
	} else if (!strcmp(line, "leader-exit")) {
		/* another thread takes over the commands; the leader leaves */
		reply("tid=%d", spawn(NULL, cmd_loop_thread, NULL, "cmdloop", 1));
		pthread_exit(NULL);
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

	main_ppoll = argc > 1 && !strcmp(argv[1], "--ppoll");
	/* Blocked everywhere, from the start (threads inherit the mask). */
	rt_block_set(&m);
	sigaddset(&m, SIGUSR2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	install(SIGUSR1, on_usr1);
	install(SIGRTMIN + 4, on_rt4);
	for (int i = 0; i < 4; i++)
		install(SIGRTMIN + i, on_rt);
	return serve(command);
}
