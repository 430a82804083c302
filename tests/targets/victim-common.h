/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the victim programs (victim.c, clone-victim-check.c) share: the
 * one-line replies, the clock, thread start-up, the register spinner and
 * the command loop on stdin.  Include it once, in the program's one
 * source file (it defines the spinner's assembly symbol).
 *
 * The command loop reads stdin with raw read() so that its syscall number
 * is known to the tests and every EINTR is counted (stdin_eintr), never
 * hidden by a retry.  With main_ppoll set it first waits in ppoll(), a
 * temporary-mask call (EINTRs counted in ppoll_eintr).
 */
#ifndef PSS_TESTS_VICTIM_COMMON_H
#define PSS_TESTS_VICTIM_COMMON_H

#include <errno.h>
#include <poll.h>
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
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "victim.h"

/* ---- replies, clock ---- */

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

/*
 * start_thread() - start @fn(@arg) named @name with the signals of @block
 * blocked besides the caller's; detached unless @th.  Return its tid once
 * it runs, or -1 if it could not be created.
 */
static pid_t start_thread(pthread_t *th, void *(*fn)(void *), void *arg, const char *name,
			  const sigset_t *block)
{
	struct start s = { fn, arg, name, 0, 0 };
	sigset_t old;
	pthread_t dummy;
	int r;

	pthread_sigmask(SIG_BLOCK, block, &old);
	r = pthread_create(th ? th : &dummy, NULL, trampoline, &s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -1;
	if (!th)
		pthread_detach(dummy);
	while (!atomic_load(&s.up))
		sched_yield();
	return s.tid;
}

/*
 * spawn_idle() - one detached thread of @fn(@arg) with a @stack-byte stack
 * and every signal blocked (the command thread takes them all): the shape
 * of the hundreds or thousands of idle threads the scale and deferred-stop
 * tests give a victim.  0 or the pthread_create error.
 */
static inline int spawn_idle(void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, stack);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&th, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return err;
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
 * flags and memory, until ctl->stop; a mismatch is counted and the
 * registers reloaded.
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

/* spin_new() - a spinner control block holding the values of @seed. */
static struct spin_ctl *spin_new(uint64_t seed)
{
	struct spin_ctl *ctl = aligned_alloc(64, sizeof(*ctl) + 64);

	if (!ctl)
		return NULL;
	memset(ctl, 0, sizeof(*ctl));
	for (int k = 0; k < VP_NGP; k++)
		ctl->gp[k] = vp_gp(seed, k);
	for (int r = 0; r < 16; r++)
		for (int q = 0; q < 4; q++)
			ctl->vec[r][q] = vp_vec(seed, r, q);
	return ctl;
}

/* ---- the command loop ---- */

static atomic_long stdin_eintr, ppoll_eintr;
static int main_ppoll;	/* wait for stdin in ppoll() first */

/* read_line() - one command line from stdin, newline stripped.  Return its
 * length, or -1 at EOF or on an error. */
static int read_line(char *buf, size_t len)
{
	size_t n = 0;

	for (;;) {
		char c;
		long r;

		if (main_ppoll) {
			/* wait in a temporary-mask call, then read what is there */
			struct pollfd pfd = { .fd = 0, .events = POLLIN };
			sigset_t cur;

			pthread_sigmask(SIG_BLOCK, NULL, &cur);
			r = ppoll(&pfd, 1, NULL, &cur);
			if (r < 0 && errno == EINTR) {
				atomic_fetch_add(&ppoll_eintr, 1);
				continue;
			}
		}
		r = syscall(SYS_read, 0, &c, 1);
		if (r < 0 && errno == EINTR) {
			/* SA_RESTART and the library's care make this impossible */
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

/* cmd_split() - cut @line at its first space; return the argument text
 * (empty if none). */
static char *cmd_split(char *line)
{
	char *arg = strchr(line, ' ');

	if (arg)
		*arg++ = 0;
	else
		arg = line + strlen(line);
	return arg;
}

/* command_loop() - run @command on each line of stdin until EOF. */
static void command_loop(void (*command)(char *line))
{
	char line[4096];

	while (read_line(line, sizeof(line)) >= 0)
		command(line);
}

/* serve() - say "ready <pid>", then run the command loop. */
static int serve(void (*command)(char *line))
{
	printf("ready %d\n", getpid());
	fflush(stdout);
	command_loop(command);
	return 0;
}

#endif /* PSS_TESTS_VICTIM_COMMON_H */
