// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Test-only LD_PRELOAD object for tests/valgrind.sh: the pidfd system calls
 * that valgrind 3.19 (Debian 12) does not know.
 *
 * Valgrind answers a system call it has no wrapper for with ENOSYS, and
 * libpss cannot work without pidfd_open(2): every process handle is a
 * pidfd.  This object interposes libc's syscall(3), the one way the library
 * and the tests issue pidfd_open, pidfd_getfd and pidfd_send_signal.  It
 * first lets valgrind run the call as usual; only if valgrind answers ENOSYS
 * does it run the same call on the real CPU, outside the emulation
 * (VALGRIND_NON_SIMD_CALL1), and only for calls that read or write no
 * memory of the caller (pidfd_send_signal with a NULL siginfo), so memcheck
 * loses nothing it would have checked.  A valgrind that knows these calls
 * never takes that path.  Outside valgrind it only forwards to libc.
 *
 * Loaded in valgrind's client, it takes itself out of LD_PRELOAD, so the
 * programs the tests exec (victims, tools), which valgrind does not follow,
 * never load it.  (It stays in LD_PRELOAD for the native processes before
 * the client: the valgrind launcher is a shell script.)
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

struct native_call {
	long nr;
	long a[6];
};

long syscall(long nr, ...);

/* Runs on the host CPU: a raw system call, not seen by valgrind. */
static long native_syscall(unsigned long tid, struct native_call *c)
{
	register long r10 __asm__("r10") = c->a[3];
	register long r8 __asm__("r8") = c->a[4];
	register long r9 __asm__("r9") = c->a[5];
	long ret;

	(void)tid;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(c->nr), "D"(c->a[0]), "S"(c->a[1]), "d"(c->a[2]), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The calls valgrind 3.19 lacks that touch no memory of the caller. */
static bool memoryless(const struct native_call *c)
{
	switch (c->nr) {
	case SYS_pidfd_open:
	case SYS_pidfd_getfd:
		return true;
	case SYS_pidfd_send_signal:
		return c->a[2] == 0;
	}
	return false;
}

static long (*next_syscall)(long, ...);

/* Drop every LD_PRELOAD entry that names this object. */
static void drop_from_preload(void)
{
	const char *env = getenv("LD_PRELOAD"), *self = "/valgrind-preload.so";
	char buf[4096], *out = buf, *tok, *save;

	if (!env || strlen(env) >= sizeof(buf) / 2)
		return;
	strcpy(buf + sizeof(buf) / 2, env);
	*out = 0;
	for (tok = strtok_r(buf + sizeof(buf) / 2, ": ", &save); tok; tok = strtok_r(NULL, ": ", &save)) {
		size_t n = strlen(tok);

		if (n >= strlen(self) && !strcmp(tok + n - strlen(self), self))
			continue;
		if (out != buf)
			*out++ = ':';
		out = stpcpy(out, tok);
	}
	if (*buf)
		setenv("LD_PRELOAD", buf, 1);
	else
		unsetenv("LD_PRELOAD");
}

__attribute__((constructor)) static void preload_init(void)
{
	next_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	if (RUNNING_ON_VALGRIND)
		drop_from_preload();
}

long syscall(long nr, ...)
{
	static bool go_native;		/* valgrind said ENOSYS once: skip its warning */
	struct native_call c = { .nr = nr };
	va_list ap;
	long ret;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		c.a[i] = va_arg(ap, long);
	va_end(ap);
	if (!go_native || !memoryless(&c)) {
		ret = next_syscall(nr, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5]);
		if (ret != -1 || errno != ENOSYS || !RUNNING_ON_VALGRIND || !memoryless(&c))
			return ret;
		go_native = true;
	}
	ret = (long)VALGRIND_NON_SIMD_CALL1(native_syscall, &c);
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}
