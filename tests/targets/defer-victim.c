// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The victim of test-defer: threads blocked in raw system calls whose
 * registers are all chosen, so a test can tell exactly what a capture
 * must have read for each of them, even for threads the library reads
 * after the pause.
 *
 * Each blocked thread has a slot (struct dv_call, 192 bytes, in one table)
 * and sits in dv_call(slot), which loads rbx, rbp, r12-r15 and the six
 * argument registers from the slot, stores its stack pointer there and
 * makes the call; the pc after the syscall instruction is dv_call_ret.
 * Slot layout (byte offsets): 0 tid, 8 index, 16 nr, 24 a[6], 72 cs[6]
 * (rbx rbp r12 r13 r14 r15), 120 ret, 128 sp, 136 val, 144 returns.
 *
 *   sleepers K   K more threads, thread i blocked forever in
 *                futex(&hold, FUTEX_WAIT_PRIVATE, 0, NULL, r8, r9) with the
 *                magic values of its index i (dv_magic below; r8 and r9,
 *                which FUTEX_WAIT ignores, hold magic values too)
 *                -> "n=<sleepers> err=<errno> table=<slots> stride=192 pc=<dv_call_ret>"
 *   reader       one more thread (its index next), blocked in
 *                read(pipe, buf, 1) with the magic values of its index
 *                except r12, which holds the slot's val (1000 at first).
 *                For each byte read: val++, then a line "bumped n=<val>"
 *                on stdout (written by that thread), then the same read()
 *                again, at the same pc and sp, with r12 = the new val.
 *                -> "n=<index> tid=<tid> wfd=<write end> rfd=<read end>"
 *   pwaiters K   as sleepers, but blocked in epoll_pwait(epfd, events, 1, -1,
 *                &mask, 8) on an epoll set nothing is ever added to: a call
 *                with a temporary signal mask that returns EINTR at a
 *                ptrace interrupt unless the tracer repairs it (r8 and r9
 *                are the mask and its size here, the slot says so)
 *                -> as sleepers
 *   returns      -> "n=<times any dv_call returned to C>"
 *   ping         -> "pong threads=<slots in use>"
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* the shared helpers this victim has no use for (the spinner, ...) */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "victim-common.h"
#include "defer-victim.h"

#include <linux/futex.h>
#include <sys/epoll.h>

#define DV_MAX 1024
#define DV_STACK (64u << 10)
void dv_call(struct dv_call *c);
extern const char dv_call_ret[];

__asm__(
	".text\n"
	".globl dv_call\n"
	".type dv_call, @function\n"
	"dv_call:\n"
	"	push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"	push %rdi\n"
	"	mov 72(%rdi), %rbx\n mov 80(%rdi), %rbp\n mov 88(%rdi), %r12\n"
	"	mov 96(%rdi), %r13\n mov 104(%rdi), %r14\n mov 112(%rdi), %r15\n"
	"	mov 16(%rdi), %rax\n"
	"	mov 32(%rdi), %rsi\n mov 40(%rdi), %rdx\n mov 48(%rdi), %r10\n"
	"	mov 56(%rdi), %r8\n mov 64(%rdi), %r9\n"
	"	mov %rsp, 128(%rdi)\n"
	"	mov 24(%rdi), %rdi\n"
	"	syscall\n"
	".globl dv_call_ret\n"
	"dv_call_ret:\n"
	"	pop %rdi\n"
	"	mov %rax, 120(%rdi)\n"
	"	pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
	"	ret\n"
	".size dv_call, .-dv_call\n");

static struct dv_call slots[DV_MAX];
static atomic_int nslots;
static uint32_t hold;		/* the sleepers' futex word, never changed */

static void slot_regs(struct dv_call *c, uint64_t idx)
{
	c->idx = idx;
	for (int k = 0; k < 6; k++)
		c->cs[k] = dv_magic(idx, k);
	c->a[4] = dv_magic(idx, 6);
	c->a[5] = dv_magic(idx, 7);
}

static void *sleeper(void *arg)
{
	struct dv_call *c = arg;

	c->nr = SYS_futex;
	c->a[0] = (uint64_t)(uintptr_t)&hold;
	c->a[1] = FUTEX_WAIT_PRIVATE;
	c->a[2] = 0;
	c->a[3] = 0;		/* no timeout */
	__atomic_store_n(&c->tid, gettid_(), __ATOMIC_RELEASE);
	for (;;) {
		dv_call(c);
		__atomic_add_fetch(&c->returns, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int epfd = -1;		/* the pwaiters' empty epoll set */
static uint64_t pw_mask = 1ull << (SIGUSR1 - 1);	/* their temporary mask */

static void *pwaiter(void *arg)
{
	struct dv_call *c = arg;
	static char events[64];	/* never written: nothing is ever ready */

	c->nr = SYS_epoll_pwait;
	c->a[0] = (uint64_t)epfd;
	c->a[1] = (uint64_t)(uintptr_t)events;
	c->a[2] = 1;
	c->a[3] = (uint64_t)-1;	/* no timeout */
	c->a[4] = (uint64_t)(uintptr_t)&pw_mask;
	c->a[5] = 8;
	__atomic_store_n(&c->tid, gettid_(), __ATOMIC_RELEASE);
	for (;;) {
		dv_call(c);
		__atomic_add_fetch(&c->returns, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct dv_call *c = arg;
	char line[64];
	char byte;

	c->nr = SYS_read;
	c->a[1] = (uint64_t)(uintptr_t)&byte;
	c->a[2] = 1;
	c->a[3] = 0x5a5a5a5a00000000ull | c->idx;	/* r10: read ignores it */
	c->val = DV_READER_START;
	__atomic_store_n(&c->tid, gettid_(), __ATOMIC_RELEASE);
	for (;;) {
		c->cs[2] = c->val;	/* r12: the counter, at every blocked instant */
		dv_call(c);
		if (c->ret == 1) {
			int n;

			c->val++;
			n = snprintf(line, sizeof(line), "bumped n=%llu\n", (unsigned long long)c->val);
			if (write(1, line, (size_t)n) != n)
				_exit(3);
		} else {
			__atomic_add_fetch(&c->returns, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/* Wait until the thread of @c has written its tid. */
static void wait_up(struct dv_call *c)
{
	while (!__atomic_load_n(&c->tid, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void cmd_sleepers(long k, void *(*fn)(void *))
{
	int err = 0, first = atomic_load(&nslots), made = 0;

	if (fn == pwaiter && epfd < 0 && (epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		reply("n=%d err=%d", first, errno);
		return;
	}

	for (long i = 0; i < k && first + made < DV_MAX; i++) {
		struct dv_call *c = &slots[first + made];

		slot_regs(c, (uint64_t)(first + made));
		err = spawn_idle(fn, c, DV_STACK);
		if (err)
			break;
		made++;
	}
	if (!err && made < k)
		err = ENOSPC;
	for (int i = 0; i < made; i++)
		wait_up(&slots[first + i]);
	atomic_store(&nslots, first + made);
	reply("n=%d err=%d table=%#llx stride=%zu pc=%#llx", first + made, err,
	      (unsigned long long)(uintptr_t)slots, sizeof(slots[0]),
	      (unsigned long long)(uintptr_t)dv_call_ret);
}

static void cmd_reader(void)
{
	int idx = atomic_load(&nslots), p[2], err;
	struct dv_call *c;

	if (idx >= DV_MAX || pipe(p)) {
		reply("n=-1 err=%d", idx >= DV_MAX ? ENOSPC : errno);
		return;
	}
	c = &slots[idx];
	slot_regs(c, (uint64_t)idx);
	c->a[0] = (uint64_t)p[0];
	err = spawn_idle(reader, c, DV_STACK);
	if (err) {
		reply("n=-1 err=%d", err);
		return;
	}
	wait_up(c);
	atomic_store(&nslots, idx + 1);
	reply("n=%d tid=%lld wfd=%d rfd=%d err=0", idx, (long long)c->tid, p[1], p[0]);
}

static void command(char *line)
{
	char *arg = cmd_split(line);

	if (!strcmp(line, "sleepers")) {
		cmd_sleepers(atol(arg), sleeper);
	} else if (!strcmp(line, "pwaiters")) {
		cmd_sleepers(atol(arg), pwaiter);
	} else if (!strcmp(line, "reader")) {
		cmd_reader();
	} else if (!strcmp(line, "returns")) {
		uint64_t n = 0;

		for (int i = 0; i < atomic_load(&nslots); i++)
			n += __atomic_load_n(&slots[i].returns, __ATOMIC_RELAXED);
		reply("n=%llu", (unsigned long long)n);
	} else if (!strcmp(line, "ping")) {
		reply("pong threads=%d", atomic_load(&nslots));
	} else {
		reply("error unknown command %s", line);
	}
}

int main(int argc, char **argv)
{
	return serve(command);
}
