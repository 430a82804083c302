// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Helpers shared by the pss subcommands: capture with clear errors, text.
 *
 * Errors: one line on stderr per failed PID, naming the cause and the fix.
 * The library explains most failures itself (pss_linux_last_capture_error:
 * another tracer and its pid, a target gone, seccomp).  A bare EPERM from
 * ptrace is the kernel's ptrace_may_access() saying no, and only the caller
 * can tell why: we replay its checks in its order - same uid (real,
 * effective, saved) and gid or CAP_SYS_PTRACE, then dumpable or
 * CAP_SYS_PTRACE (a non-dumpable task's /proc/PID/ files belong to root),
 * then Yama's ptrace_scope - from /proc, and name the first
 * that fails.
 */
#include "pss.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define CAP_SYS_PTRACE_BIT 19
#define PF_KTHREAD_FLAG 0x00200000u

static char last_error[768];

const char *cli_last_error(void)
{
	return last_error;
}

/* Up to @cap-1 bytes of a small /proc file; false if unreadable. */
static bool read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n > 0;
}

/* The numbers after "@key:" in /proc/PID/status (pid 0: self), up to 4. */
static int status_ids(pid_t pid, const char *key, unsigned long long ids[4], int base)
{
	char path[64], buf[4096], *p, *end;
	size_t kl = strlen(key);
	int n = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	if (!read_small(path, buf, sizeof(buf)))
		return 0;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) || p[kl] != ':')
			continue;
		p += kl + 1;
		while (n < 4) {
			ids[n] = strtoull(p, &end, base);
			if (end == p)
				break;
			n++;
			p = end;
		}
		break;
	}
	return n;
}

static bool have_cap_sys_ptrace(void)
{
	unsigned long long cap[4];

	return status_ids(0, "CapEff", cap, 16) == 1 && (cap[0] >> CAP_SYS_PTRACE_BIT & 1);
}

/* Yama's kernel.yama.ptrace_scope, -1 without Yama. */
static int yama_scope(void)
{
	char buf[16];

	if (!read_small("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

/* PF_KTHREAD in field 9 of /proc/PID/stat (after the parenthesised comm). */
static bool is_kernel_thread(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long flags;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!read_small(path, buf, sizeof(buf)) || !(p = strrchr(buf, ')')))
		return false;
	for (i = 0, p++; i < 6 && p; i++)	/* from before field 3 to before 9 */
		p = strchr(p + 1, ' ');
	if (!p)
		return false;
	flags = strtoul(p, NULL, 10);
	return flags & PF_KTHREAD_FLAG;
}

/* Why ptrace_may_access() refused @pid, with the fix, into @buf. */
static void explain_ptrace_refusal(pid_t pid, const char *lib, char *buf, size_t cap)
{
	unsigned long long tu[4] = { 0 }, tg[4] = { 0 };
	uid_t u = getuid();
	gid_t g = getgid();
	bool cap_ptrace = have_cap_sys_ptrace();
	char path[64];
	struct stat st;
	int scope = yama_scope(), nu, ng;

	nu = status_ids(pid, "Uid", tu, 10);
	ng = status_ids(pid, "Gid", tg, 10);
	if (!cap_ptrace && nu >= 3 && ng >= 3 &&
	    (tu[0] != u || tu[1] != u || tu[2] != u || tg[0] != g || tg[1] != g || tg[2] != g)) {
		if (tu[0] == tu[1] && tu[1] == tu[2] && tu[0] != u)
			snprintf(buf, cap, "ptrace refused: pid %d runs as uid %llu and you are uid %u "
				 "without CAP_SYS_PTRACE: run pss as uid %llu or as root (or grant "
				 "it CAP_SYS_PTRACE)", (int)pid, tu[0], (unsigned)u, tu[0]);
		else
			snprintf(buf, cap, "ptrace refused: pid %d has uids %llu/%llu/%llu and gids "
				 "%llu/%llu/%llu (real/effective/saved; a set-id program?) and you "
				 "(uid %u, gid %u) lack CAP_SYS_PTRACE: run pss as root (or grant it "
				 "CAP_SYS_PTRACE)", (int)pid, tu[0], tu[1], tu[2], tg[0], tg[1],
				 tg[2], (unsigned)u, (unsigned)g);
		return;
	}
	/* A non-dumpable task's /proc files (not its directory) belong to root. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!cap_ptrace && nu >= 2 && tu[1] != 0 && !stat(path, &st) && st.st_uid == 0) {
		snprintf(buf, cap, "ptrace refused: pid %d is not dumpable (/proc/%d/ is owned by root "
			 "while it runs as uid %llu: it changed credentials or called "
			 "prctl(PR_SET_DUMPABLE, 0)); only CAP_SYS_PTRACE may trace it: run pss as "
			 "root", (int)pid, (int)pid, tu[1]);
		return;
	}
	if (scope == 3) {
		snprintf(buf, cap, "ptrace refused by Yama: kernel.yama.ptrace_scope is 3 (no "
			 "process may be traced, and it cannot be lowered until a reboot)");
		return;
	}
	if (scope == 2 && !cap_ptrace) {
		snprintf(buf, cap, "ptrace refused by Yama: kernel.yama.ptrace_scope is 2 (only "
			 "CAP_SYS_PTRACE may trace): run pss as root or grant it CAP_SYS_PTRACE");
		return;
	}
	if (scope == 1 && !cap_ptrace) {
		snprintf(buf, cap, "ptrace refused by Yama: kernel.yama.ptrace_scope is 1 (only an "
			 "ancestor may trace): run pss as root, grant it CAP_SYS_PTRACE, or "
			 "sysctl kernel.yama.ptrace_scope=0");
		return;
	}
	if (lib && *lib)
		snprintf(buf, cap, "%s", lib);
	else
		snprintf(buf, cap, "ptrace refused, not for uid, dumpability or Yama: a security "
			 "module (SELinux, AppArmor) or a seccomp filter on pss may deny it; check "
			 "the audit log");
}

/* "ERROR_ACCESS_DENIED" out of "ERROR_ACCESS_DENIED: access denied: ...". */
static void error_name(DWORD err, char *buf, size_t cap)
{
	const char *m = pss_linux_error_message(err);
	size_t n = strcspn(m, ":");

	snprintf(buf, cap, "%.*s", (int)n, m);
}

/* Print and remember one failure; return its exit code. */
static int fail(pid_t pid, DWORD err, const char *why, int code)
{
	char name[64];

	error_name(err, name, sizeof(name));
	snprintf(last_error, sizeof(last_error), "%s", why);
	fprintf(stderr, "pss: pid %d: %s (%s)\n", (int)pid, why, name);
	return code;
}

int cli_capture(pid_t pid, PSS_CAPTURE_FLAGS flags, DWORD ctx_flags, const struct cli_opts *o,
		HPSS *ret)
{
	struct pss_linux_options opts = {
		.sz = sizeof(opts),
		.timeout_ms = o->timeout_ms,
		.flags = o->stop_all ? PSS_LINUX_CAPTURE_STOP_ALL : 0,
	};
	char buf[640];
	const char *why;
	bool explained;
	HANDLE h;
	DWORD err;
	int eno;

	last_error[0] = '\0';
	*ret = NULL;
	err = pss_linux_open_pid(pid, &h);
	if (err == ERROR_INVALID_PARAMETER)
		return fail(pid, err, "no such process (it has exited, or the pid is wrong)",
			    EXIT_FAILURE_);
	if (err)
		return fail(pid, err, pss_linux_error_message(err),
			    err == ERROR_ACCESS_DENIED ? EXIT_PERM : EXIT_FAILURE_);
	err = pss_linux_capture(h, flags, ctx_flags, &opts, ret);
	CloseHandle(h);
	if (!err)
		return EXIT_OK;
	*ret = NULL;
	why = pss_linux_last_capture_error(&eno);
	explained = *why;
	if (!explained)
		why = pss_linux_error_message(err);
	if (is_kernel_thread(pid)) {
		snprintf(buf, sizeof(buf), "pid %d is a kernel thread: it has no user space to "
			 "snapshot (pick a user process)", (int)pid);
		return fail(pid, err, buf, EXIT_FAILURE_);
	}
	if (err != ERROR_ACCESS_DENIED)
		return fail(pid, err, why, EXIT_FAILURE_);
	/* EBUSY: another tracer, named with its pid by the library.  A bare
	 * refusal (EPERM/EACCES, or no explanation at all) is ptrace's. */
	if (eno == EPERM || eno == EACCES || !explained) {
		explain_ptrace_refusal(pid, pss_linux_last_capture_error(NULL), buf, sizeof(buf));
		why = buf;
	}
	return fail(pid, err, why, EXIT_PERM);
}

void cli_free(HPSS s)
{
	if (s)
		PssFreeSnapshot(GetCurrentProcess(), s);
}

char *cli_utf16(const WCHAR *s, size_t bytes, char *buf, size_t cap)
{
	size_t i, n = bytes / 2, o = 0;
	uint32_t cp;

	for (i = 0; s && i < n && o + 4 < cap; i++) {
		cp = s[i];
		if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (s[i + 1] - 0xdc00);
			i++;
		}
		if (cp < 0x80) {
			buf[o++] = (char)cp;
		} else if (cp < 0x800) {
			buf[o++] = (char)(0xc0 | cp >> 6);
			buf[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			buf[o++] = (char)(0xe0 | cp >> 12);
			buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			buf[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			buf[o++] = (char)(0xf0 | cp >> 18);
			buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			buf[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	buf[o] = '\0';
	return buf;
}

static uint64_t ft64(FILETIME ft)
{
	return (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime;
}

void cli_filetime(FILETIME ft, char *buf, size_t cap)
{
	uint64_t v = ft64(ft);
	time_t t;
	struct tm tm;

	if (v < 116444736000000000ull) {
		snprintf(buf, cap, "-");
		return;
	}
	t = (time_t)((v - 116444736000000000ull) / 10000000ull);
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

double cli_duration_s(FILETIME ft)
{
	return (double)ft64(ft) / 1e7;
}

/* Does process @pid go by @name: its comm, or the basename of its argv[0]?
 * Kernel threads and zombies (empty cmdline) never match. */
static bool process_named(pid_t pid, const char *name)
{
	char path[64], comm[64], cmd[4096], *base;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	if (!n)
		return false;
	cmd[n] = '\0';
	base = strrchr(cmd, '/');
	base = base ? base + 1 : cmd;
	if (!strcmp(base, name))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (!read_small(path, comm, sizeof(comm)))
		return false;
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, name);
}

int cli_find_by_name(const char *name, pid_t **pids, size_t *npids)
{
	struct dirent *de;
	pid_t pid, *p;
	DIR *d;
	char *end;
	long v;

	d = opendir("/proc");
	if (!d) {
		fprintf(stderr, "pss: cannot list /proc: %s\n", strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		v = strtol(de->d_name, &end, 10);
		if (*end || v <= 0 || v > INT_MAX)
			continue;
		pid = (pid_t)v;
		if (pid == getpid() || !process_named(pid, name))
			continue;
		p = realloc(*pids, (*npids + 1) * sizeof(*p));
		if (!p) {
			closedir(d);
			fprintf(stderr, "pss: out of memory\n");
			return -1;
		}
		*pids = p;
		p[(*npids)++] = pid;
	}
	closedir(d);
	return 0;
}

uint64_t cli_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "1.02 GiB": three significant digits in binary units. */
char *cli_fmt_size(double b, char *buf, size_t cap)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = 0;

	while (b >= 1024 && u < 5) {
		b /= 1024;
		u++;
	}
	if (!u)
		snprintf(buf, cap, "%.0f B", b);
	else
		snprintf(buf, cap, "%.*f %s", b < 10 ? 2 : b < 100 ? 1 : 0, b, unit[u]);
	return buf;
}

int cli_parse_pid(const char *s, pid_t *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX)
		return -1;
	*ret = (pid_t)v;
	return 0;
}
