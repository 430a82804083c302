// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * clone-victim-seccomp - a target that restricts its own system calls, for
 * fault matrix rows 29-34 (seccomp and syscall user dispatch).
 *
 *   clone-victim-seccomp MODE
 *     strict       seccomp strict mode, then a raw read/write command loop
 *                  (only read, write, exit and sigreturn are allowed)
 *     kill         a filter: clone -> SECCOMP_RET_KILL_PROCESS
 *     errno        a filter: clone -> SECCOMP_RET_ERRNO(EPERM)
 *     trap         a filter: clone -> SECCOMP_RET_TRAP (SIGSYS counted)
 *     thread-kill  only the helper thread installs the KILL_PROCESS filter
 *     sud          syscall user dispatch on: only system calls made from
 *                  libc's text are allowed, any other raises SIGSYS
 *
 * The filters are classic BPF written by hand (no libseccomp); they test
 * only the clone number (56), so pthread_create (clone3) keeps working.
 * Every mode but strict has a helper thread blocked in read() on a private
 * pipe besides the main thread blocked in read() on stdin; the filters of
 * kill, errno and trap cover both (TSYNC).  Strict mode is single-threaded
 * because a strict-mode violation kills only the offending thread.
 *
 * Commands (filter and sud modes; one line each, "key=value" replies):
 *   ping          pong with the SIGSYS count
 *   clone         a raw clone(SIGCHLD) from the main thread: its result
 *                 (a child that does run exits at once and is reaped)
 *   thread-clone  the helper thread makes the raw clone (thread-kill)
 *   sud-test      a raw getpid from this program's own text (sud: SIGSYS)
 *   waitany       waitpid(-1, __WALL|WNOHANG) as the target sees it
 * Strict mode understands "ping" (answers "pong") and "getpid" (which the
 * kernel answers with SIGKILL, proving strict mode still holds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYSCALL_DISPATCH_FILTER_ALLOW
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#define SYSCALL_DISPATCH_FILTER_BLOCK 1
#endif

static atomic_long sigsys_count;
static volatile char sud_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
static int helper_pipe[2];
static atomic_long helper_ret = 1, helper_errno;
static atomic_int helper_done;

/* A SIGSYS (filter TRAP or user dispatch): count it and make the call
 * return -ENOSYS, as if the kernel had no such call. */
static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	atomic_fetch_add(&sigsys_count, 1);
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
}

/* install_filter() - clone -> @action, everything else allowed; in every
 * thread with @all_threads (TSYNC), else in the calling thread only. */
static int install_filter(uint32_t action, int all_threads)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fp = { .len = sizeof(prog) / sizeof(prog[0]), .filter = prog };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (all_threads)
		return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp);
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp);
}

/* The raw clone the filter watches: a child that runs exits at once. */
static long raw_clone(long *err)
{
	long r = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);

	if (r == 0)
		_exit(0);
	*err = r < 0 ? errno : 0;
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r;
}

static void *helper(void *arg)
{
	const char *mode = arg;
	char c;

	if (!strcmp(mode, "thread-kill") && install_filter(SECCOMP_RET_KILL_PROCESS, 0) < 0) {
		perror("helper filter");
		_exit(1);
	}
	atomic_store(&helper_done, 1);
	for (;;) {
		long r = syscall(SYS_read, helper_pipe[0], &c, 1), e = 0;

		if (r <= 0)
			continue;
		r = raw_clone(&e);
		atomic_store(&helper_errno, e);
		atomic_store(&helper_ret, r);
	}
	return NULL;
}

/* getpid from this program's own text: outside the dispatch range. */
static long own_getpid(void)
{
	long r = __NR_getpid;

	__asm__ volatile("syscall" : "+a"(r) : : "rcx", "r11", "memory");
	return r;
}

/* The r-xp mapping holding libc's syscall(): the range dispatch allows. */
static int libc_text(unsigned long *start, unsigned long *end)
{
	unsigned long a = (unsigned long)(uintptr_t)&syscall;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) == 3 && a >= s && a < e &&
		    perms[2] == 'x') {
			*start = s;
			*end = e;
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

/* Strict mode: raw read/write only; anything else is SIGKILL. */
static void strict_loop(void)
{
	char ready[64], buf[64];
	int n = snprintf(ready, sizeof(ready), "ready %d\n", getpid());
	size_t len = 0;

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) < 0)
		_exit(1);
	syscall(SYS_write, 1, ready, (size_t)n);
	for (;;) {
		char c;

		if (syscall(SYS_read, 0, &c, 1) != 1)
			syscall(SYS_exit, 0);
		if (c != '\n') {
			if (len < sizeof(buf) - 1)
				buf[len++] = c;
			continue;
		}
		buf[len] = 0;
		len = 0;
		if (!strcmp(buf, "getpid"))
			syscall(SYS_getpid);
		syscall(SYS_write, 1, "pong\n", 5);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	struct sigaction sa;
	pthread_t th;
	char line[256];
	unsigned long s, e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	/* Strict mode kills only the offending thread: keep it alone. */
	if (!strcmp(mode, "strict"))
		strict_loop();
	if (pipe(helper_pipe) < 0)
		return 1;
	if (pthread_create(&th, NULL, helper, (void *)mode))
		return 1;
	while (!atomic_load(&helper_done))
		usleep(1000);
	if (!strcmp(mode, "kill"))
		install_filter(SECCOMP_RET_KILL_PROCESS, 1) < 0 ? exit(1) : (void)0;
	else if (!strcmp(mode, "errno"))
		install_filter(SECCOMP_RET_ERRNO | EPERM, 1) < 0 ? exit(1) : (void)0;
	else if (!strcmp(mode, "trap"))
		install_filter(SECCOMP_RET_TRAP, 1) < 0 ? exit(1) : (void)0;
	else if (!strcmp(mode, "sud")) {
		if (libc_text(&s, &e) < 0 ||
		    prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, s, e - s, &sud_selector) < 0) {
			perror("syscall user dispatch");
			return 1;
		}
		sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
	} else if (strcmp(mode, "thread-kill")) {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 1;
	}
	printf("ready %d\n", getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		long r, err = 0;

		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "ping")) {
			printf("pong sigsys=%ld\n", atomic_load(&sigsys_count));
		} else if (!strcmp(line, "clone")) {
			r = raw_clone(&err);
			printf("ret=%ld errno=%ld sigsys=%ld\n", r, err, atomic_load(&sigsys_count));
		} else if (!strcmp(line, "thread-clone")) {
			atomic_store(&helper_ret, 1);
			if (write(helper_pipe[1], "c", 1) != 1)
				return 1;
			while (atomic_load(&helper_ret) == 1)
				usleep(1000);
			printf("ret=%ld errno=%ld\n", atomic_load(&helper_ret), atomic_load(&helper_errno));
		} else if (!strcmp(line, "sud-test")) {
			r = own_getpid();
			printf("ret=%ld sigsys=%ld\n", r, atomic_load(&sigsys_count));
		} else if (!strcmp(line, "waitany")) {
			pid_t w = waitpid(-1, NULL, __WALL | WNOHANG);

			printf("ret=%d errno=%d\n", w, w < 0 ? errno : 0);
		} else {
			printf("error unknown command %s\n", line);
		}
		fflush(stdout);
	}
	return 0;
}
