// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The live-test harness: registration, a forked child per test with a
 * timeout, TAP output, victim targets and small /proc readers.
 *
 * Result passing: the child writes its outcome (failures, skip reason)
 * into a MAP_SHARED page created before the fork, so a child that dies
 * after a SKIP or a failure still reports what it knew.  Ending a test
 * (pass, REQUIRE, SKIP) always goes through harness_end_test(), which
 * kills and reaps every target the test started.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static struct test_case *tests;

struct shared_result {
	atomic_uint failures;
	int skipped;
	char reason[512];
};
static struct shared_result *result;

#define MAX_TARGETS 64
static pid_t target_pids[MAX_TARGETS];

void harness_register(struct test_case *tc)
{
	struct test_case **p = &tests;

	/* Keep source order whatever order the constructors ran in. */
	while (*p && (*p)->line < tc->line)
		p = &(*p)->next;
	tc->next = *p;
	*p = tc;
}

void diag(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	char *line, *save;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
	fflush(stdout);
}

void harness_fail(const char *file, int line, const char *fmt, ...)
{
	char buf[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (result)
		atomic_fetch_add(&result->failures, 1);
	diag("%s:%d: %s", file, line, buf);
}

unsigned harness_failures(void)
{
	return result ? atomic_load(&result->failures) : 0;
}

/* Kill and reap every target still recorded; called at every test end. */
static void kill_targets(void)
{
	for (int i = 0; i < MAX_TARGETS; i++) {
		if (target_pids[i] <= 0)
			continue;
		kill(target_pids[i], SIGKILL);
		waitpid(target_pids[i], NULL, __WALL);
		target_pids[i] = 0;
	}
}

void harness_end_test(void)
{
	kill_targets();
	fflush(stdout);
	fflush(stderr);
	/* exit(), not _exit(): LeakSanitizer checks the test at exit. */
	exit(0);
}

void harness_skip(const char *fmt, ...)
{
	va_list ap;

	if (result) {
		va_start(ap, fmt);
		vsnprintf(result->reason, sizeof(result->reason), fmt, ap);
		va_end(ap);
		result->skipped = 1;
	}
	harness_end_test();
}

const char *capture_error_text(void)
{
	const char *s = pss_linux_last_capture_error(NULL);

	return s ? s : "";
}

const char *err_name(DWORD code)
{
	switch (code) {
#define E(x) case x: return #x
	E(ERROR_SUCCESS); E(ERROR_INVALID_FUNCTION); E(ERROR_FILE_NOT_FOUND);
	E(ERROR_ACCESS_DENIED); E(ERROR_INVALID_HANDLE); E(ERROR_NOT_ENOUGH_MEMORY);
	E(ERROR_OUTOFMEMORY); E(ERROR_BAD_LENGTH); E(ERROR_GEN_FAILURE);
	E(ERROR_NOT_SUPPORTED); E(ERROR_INVALID_PARAMETER); E(ERROR_BUFFER_OVERFLOW);
	E(ERROR_CALL_NOT_IMPLEMENTED); E(ERROR_INSUFFICIENT_BUFFER); E(ERROR_PROC_NOT_FOUND);
	E(ERROR_BUSY); E(ERROR_MORE_DATA); E(ERROR_NO_MORE_ITEMS); E(ERROR_PARTIAL_COPY);
	E(ERROR_INVALID_ADDRESS); E(ERROR_ARITHMETIC_OVERFLOW); E(ERROR_NOACCESS);
	E(ERROR_INVALID_FLAGS); E(ERROR_NOT_FOUND); E(ERROR_UNIDENTIFIED_ERROR);
	E(ERROR_NO_SYSTEM_RESOURCES); E(ERROR_COMMITMENT_LIMIT); E(ERROR_TIMEOUT);
#undef E
	}
	return "ERROR_?";
}

/* ---- running the tests ---- */

/* End and reap every child the harness process still has (orphaned
 * targets come to us as subreaper), by pid. */
static void reap_leftovers(void)
{
	pid_t kids[256];
	int n, rounds = 0;

	while ((n = children_of(getpid(), kids, 256)) > 0 && rounds++ < 50) {
		for (int i = 0; i < n; i++)
			kill(kids[i], SIGKILL);
		for (int i = 0; i < n; i++)
			waitpid(kids[i], NULL, __WALL);
	}
	while (waitpid(-1, NULL, __WALL | WNOHANG) > 0)
		;
}

static int run_one(struct test_case *tc, unsigned timeout_s, int *timed_out)
{
	int status = 0, pidfd;
	pid_t pid;
	struct pollfd pfd;

	memset(result, 0, sizeof(*result));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		memset(target_pids, 0, sizeof(target_pids));
		tc->fn();
		harness_end_test();
	}
	*timed_out = 0;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		pfd.fd = pidfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(timeout_s * 1000)) == 0) {
			*timed_out = 1;
			kill(pid, SIGKILL);
		}
		close(pidfd);
	}
	waitpid(pid, &status, 0);
	reap_leftovers();
	return status;
}

int harness_main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : getenv("TESTS_FILTER");
	const char *to = getenv("PSS_TEST_TIMEOUT");
	unsigned timeout_s = to && atoi(to) > 0 ? (unsigned)atoi(to) : 60;
	unsigned n = 0, failed = 0, skipped = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	result = mmap(NULL, sizeof(*result), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (result == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return 1;
	}
	for (struct test_case *tc = tests; tc; tc = tc->next) {
		int status, timed_out = 0;

		if (filter && *filter && !strstr(tc->name, filter))
			continue;
		n++;
		status = run_one(tc, timeout_s, &timed_out);
		if (timed_out) {
			printf("# test %s timed out after %u s\n", tc->name, timeout_s);
			printf("not ok %u - %s\n", n, tc->name);
			failed++;
		} else if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (WIFSIGNALED(status))
				printf("# test %s died of signal %d (%s)\n", tc->name,
				       WTERMSIG(status), strsignal(WTERMSIG(status)));
			else
				printf("# test %s exited with status %d\n", tc->name, WEXITSTATUS(status));
			printf("not ok %u - %s\n", n, tc->name);
			failed++;
		} else if (atomic_load(&result->failures)) {
			printf("not ok %u - %s\n", n, tc->name);
			failed++;
		} else if (result->skipped) {
			printf("ok %u - %s # SKIP %s\n", n, tc->name, result->reason);
			skipped++;
		} else {
			printf("ok %u - %s\n", n, tc->name);
		}
	}
	printf("1..%u\n", n);
	if (failed)
		return 1;
	return n && skipped == n ? 77 : 0;
}

/* ---- targets ---- */

static void record_target(pid_t pid)
{
	for (int i = 0; i < MAX_TARGETS; i++)
		if (target_pids[i] <= 0) {
			target_pids[i] = pid;
			return;
		}
}

static void forget_target(pid_t pid)
{
	for (int i = 0; i < MAX_TARGETS; i++)
		if (target_pids[i] == pid)
			target_pids[i] = 0;
}

/* The targets directory: $PSS_TEST_TARGETS, else <dir of this binary>/../targets. */
static void targets_dir(char *buf, size_t len)
{
	const char *env = getenv("PSS_TEST_TARGETS");
	char exe[PATH_MAX - 64];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0) {
		snprintf(buf, len, "build/tests/targets");
		return;
	}
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(buf, len, "%s/../targets", exe);
}

int target_readline(struct target *t, char *reply, size_t len, int timeout_ms)
{
	size_t n = 0;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;

	/* Byte by byte: no buffering to lose between two calls. */
	for (;;) {
		struct pollfd pfd = { .fd = t->out_fd, .events = POLLIN };
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;
		char c;
		ssize_t r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -ETIMEDOUT : -errno;
		r = read(t->out_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -EPIPE : -errno;
		if (c == '\n')
			break;
		if (n + 1 < len)
			reply[n++] = c;
	}
	if (len)
		reply[n] = 0;
	return (int)n;
}

int target_start(struct target *t, const char *prog, const char *const argv[])
{
	char dir[PATH_MAX], path[PATH_MAX + 64], line[128];
	const char *args[32];
	int in[2], out[2], n = 0, r;
	pid_t parent = getpid(), pid;

	memset(t, 0, sizeof(*t));
	t->pid = -1;
	targets_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, prog);
	args[n++] = path;
	for (int i = 0; argv && argv[i] && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		r = -errno;
		goto close_in;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto close_out;
	}
	if (pid == 0) {
		/* Last resort if the test child dies: the kernel kills us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(path, (char *const *)args);
		fprintf(stderr, "# exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	record_target(pid);
	close(in[0]);
	close(out[1]);
	t->pid = pid;
	t->in_fd = in[1];
	t->out_fd = out[0];
	r = target_readline(t, line, sizeof(line), 20000);
	if (r < 0 || strncmp(line, "ready ", 6) != 0 || atoi(line + 6) != pid) {
		diag("target %s did not start: %s", path, r < 0 ? strerror(-r) : line);
		target_kill(t);
		return r < 0 ? r : -EPROTO;
	}
	return 0;

close_out:
	close(out[0]);
	close(out[1]);
close_in:
	close(in[0]);
	close(in[1]);
	return r;
}

void start_victim(struct target *t)
{
	int r = target_start(t, "victim", NULL);

	REQUIRE(r == 0, "cannot start the victim: %s", strerror(-r));
	victim_idle(t);
}

void start_victim_ppoll(struct target *t)
{
	static const char *const args[] = { "--ppoll", NULL };
	int r = target_start(t, "victim", args);

	REQUIRE(r == 0, "cannot start the victim: %s", strerror(-r));
	t->idle_nr = SYS_ppoll;
	victim_idle(t);
}

void victim_idle(struct target *t)
{
	pid_t tid = t->idle_tid > 0 ? t->idle_tid : t->pid;

	/* after a reply the command thread goes back to read(0, ...) (or ppoll) */
	REQUIRE(wait_thread_syscall(t->pid, tid, t->idle_nr, 5000) == 0,
		"victim %d not back in syscall %ld", t->pid, t->idle_nr);
}

int target_send(struct target *t, const char *cmd)
{
	size_t n = strlen(cmd);
	char buf[1024];

	if (n + 2 > sizeof(buf))
		return -E2BIG;
	memcpy(buf, cmd, n);
	buf[n++] = '\n';
	return write(t->in_fd, buf, n) == (ssize_t)n ? 0 : -EPIPE;
}

int target_cmd(struct target *t, const char *cmd, char *reply, size_t len)
{
	size_t n = strlen(cmd);
	char buf[1024];

	if (n + 2 > sizeof(buf))
		return -E2BIG;
	memcpy(buf, cmd, n);
	buf[n++] = '\n';
	if (write(t->in_fd, buf, n) != (ssize_t)n)
		return -EPIPE;
	return target_readline(t, reply, len, 20000);
}

char *target_cmdf(struct target *t, char *reply, size_t len, const char *fmt, ...)
{
	char cmd[900];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = target_cmd(t, cmd, reply, len);
	REQUIRE(r >= 0, "victim command '%s': %s", cmd, strerror(-r));
	if (!strncmp(reply, "error", 5))
		diag("victim command '%s' answered: %s", cmd, reply);
	return reply;
}

void target_kill(struct target *t)
{
	if (t->pid > 0 && !t->reaped) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, __WALL);
		forget_target(t->pid);
		t->reaped = true;
	}
	if (t->in_fd > 0)
		close(t->in_fd);
	if (t->out_fd > 0)
		close(t->out_fd);
	t->in_fd = t->out_fd = -1;
}

int target_wait(struct target *t, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int status;

	if (t->pid <= 0 || t->reaped)
		return -1;
	do {
		pid_t r = waitpid(t->pid, &status, WNOHANG | __WALL);

		if (r == t->pid) {
			t->reaped = true;
			forget_target(t->pid);
			return status;
		}
		if (r < 0 && errno == ECHILD) {
			/* someone else reaped our child */
			diag("target %d was reaped by someone else (waitpid: ECHILD)", t->pid);
			t->reaped = true;
			forget_target(t->pid);
			return -2;
		}
		msleep(5);
	} while (now_ns() < deadline);
	return -1;
}

long long reply_get(const char *reply, const char *key, long long dflt)
{
	size_t kl = strlen(key);
	const char *p = reply;

	while ((p = strstr(p, key))) {
		if ((p == reply || p[-1] == ' ') && p[kl] == '=')
			return strtoll(p + kl + 1, NULL, 0);
		p += kl;
	}
	return dflt;
}

/* ---- /proc ---- */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = 0;
	return (int)n;
}

long thread_syscall(pid_t pid, pid_t tid)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -2;
	if (!strncmp(buf, "running", 7))
		return -1;
	return strtol(buf, NULL, 10);
}

int wait_thread_syscall(pid_t pid, pid_t tid, long nr, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	char st;

	do {
		/* Sleeping in the call, not merely passing through it. */
		st = thread_state(pid, tid);
		if (thread_syscall(pid, tid) == nr && (st == 'S' || st == 'D' || st == 'I'))
			return 0;
		msleep(2);
	} while (now_ns() < deadline);
	return -ETIMEDOUT;
}

/* The state letter after the last ')' of a stat file. */
static char stat_state(const char *path)
{
	char buf[1024];
	char *p;

	if (read_text(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

char proc_state(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return stat_state(path);
}

char thread_state(pid_t pid, pid_t tid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	return stat_state(path);
}

int status_field(pid_t pid, pid_t tid, const char *key, char *out, size_t len)
{
	char path[64], buf[8192];
	size_t kl = strlen(key);
	char *p, *e;

	if (tid > 0)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -ENOENT;
	for (p = buf; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			e = strchr(p, '\n');
			snprintf(out, len, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
			return 0;
		}
	}
	return -ENOENT;
}

uint64_t status_hex(pid_t pid, pid_t tid, const char *key)
{
	char buf[64];

	if (status_field(pid, tid, key, buf, sizeof(buf)) < 0)
		return UINT64_MAX;
	return strtoull(buf, NULL, 16);
}

long long status_kb(pid_t pid, const char *key)
{
	char buf[64];

	if (status_field(pid, 0, key, buf, sizeof(buf)) < 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

int proc_tracer_pid(pid_t pid)
{
	return thread_tracer_pid(pid, 0);
}

int thread_tracer_pid(pid_t pid, pid_t tid)
{
	char buf[32];

	if (status_field(pid, tid, "TracerPid", buf, sizeof(buf)) < 0)
		return -1;
	return atoi(buf);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int thread_ids(pid_t pid, pid_t *tids, int max)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (n < max)
			tids[n] = atoi(de->d_name);
		n++;
	}
	closedir(d);
	if (tids)
		qsort(tids, (size_t)(n < max ? n : max), sizeof(pid_t), cmp_pid);
	return n;
}

int thread_count(pid_t pid)
{
	return thread_ids(pid, NULL, 0);
}

int task_children(pid_t pid, pid_t tid, pid_t *kids, int max)
{
	char path[96], buf[4096], *p, *end;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return 0;
	for (p = buf;; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (n < max)
			kids[n] = (pid_t)v;
		n++;
	}
	return n;
}

int children_of(pid_t pid, pid_t *kids, int max)
{
	pid_t tids[512];
	int nt = thread_ids(pid, tids, 512), n = 0;

	for (int i = 0; i < nt && i < 512; i++)
		n += task_children(pid, tids[i], kids + (n < max ? n : max), n < max ? max - n : 0);
	return n < max ? n : max;
}

bool no_thread_traced(pid_t pid)
{
	pid_t tids[512];
	int n = thread_ids(pid, tids, 512);

	for (int i = 0; i < n && i < 512; i++) {
		int tp = thread_tracer_pid(pid, tids[i]);

		if (tp > 0 || thread_state(pid, tids[i]) == 't')
			return false;
	}
	return true;
}

struct watch {
	pid_t pid;
	pthread_t th;
	atomic_int stop, bad, sweeps;
};

static void *watch_thread(void *arg)
{
	struct watch *w = arg;

	while (!atomic_load(&w->stop)) {
		pid_t tids[256];
		int n = thread_ids(w->pid, tids, 256);

		for (int i = 0; i < n && i < 256; i++) {
			char st = thread_state(w->pid, tids[i]);

			if (thread_tracer_pid(w->pid, tids[i]) > 0 || st == 't' || st == 'T')
				atomic_fetch_add(&w->bad, 1);
		}
		atomic_fetch_add(&w->sweeps, 1);
	}
	return NULL;
}

struct watch *watch_start(pid_t pid)
{
	struct watch *w = calloc(1, sizeof(*w));

	REQUIRE(w != NULL, "calloc");
	w->pid = pid;
	REQUIRE(pthread_create(&w->th, NULL, watch_thread, w) == 0, "pthread_create");
	return w;
}

int watch_sweeps(struct watch *w)
{
	return atomic_load(&w->sweeps);
}

int watch_stop(struct watch *w, int *sweeps)
{
	int bad;

	atomic_store(&w->stop, 1);
	pthread_join(w->th, NULL);
	bad = atomic_load(&w->bad);
	if (sweeps)
		*sweeps = atomic_load(&w->sweeps);
	free(w);
	return bad;
}

long long task_stat_field(pid_t pid, int n)
{
	char path[64], buf[2048], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (n < 3 || read_text(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return LLONG_MIN;
	p += 2;		/* field 3 */
	for (int f = 3; f < n; f++) {
		p = strchr(p, ' ');
		if (!p)
			return LLONG_MIN;
		p++;
	}
	if (n == 3)
		return *p;
	return strtoll(p, NULL, 10);
}

bool task_sp_pc(pid_t pid, pid_t tid, uint64_t *sp, uint64_t *pc)
{
	char path[96], buf[512];
	unsigned long long v[9];
	long nr;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", pid, tid > 0 ? tid : pid);
	if (read_text(path, buf, sizeof(buf)) <= 0 || !strncmp(buf, "running", 7))
		return false;
	nr = strtol(buf, NULL, 10);
	/* "NR a1 .. a6 sp pc" in a syscall, "-1 sp pc" outside one */
	n = sscanf(buf, "%*d %llx %llx %llx %llx %llx %llx %llx %llx", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	if (nr == -1 && n >= 2) {
		*sp = v[0];
		*pc = v[1];
		return true;
	}
	if (n == 8) {
		*sp = v[6];
		*pc = v[7];
		return true;
	}
	return false;
}

bool vdso_range(pid_t pid, uint64_t *lo, uint64_t *hi)
{
	char path[64], *buf, *line;
	bool found = false;
	size_t cap = 1 << 20;

	buf = malloc(cap);
	if (!buf)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (read_text(path, buf, cap) > 0) {
		for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
			char *nl = strchr(line, '\n');
			char *v = strstr(line, "[vdso]");

			if (v && (!nl || v < nl)) {
				unsigned long long a, b;

				if (sscanf(line, "%llx-%llx", &a, &b) == 2) {
					*lo = a;
					*hi = b;
					found = true;
				}
				break;
			}
		}
	}
	free(buf);
	return found;
}

pid_t wait_pc_in_vdso(pid_t pid, int ms)
{
	uint64_t lo, hi, deadline = now_ns() + (uint64_t)ms * 1000000ull;

	if (!vdso_range(pid, &lo, &hi))
		return 0;
	do {
		pid_t tids[256];
		int n = thread_ids(pid, tids, 256);

		for (int i = 0; i < n && i < 256; i++) {
			uint64_t sp, pc;

			if (thread_state(pid, tids[i]) == 't' && task_sp_pc(pid, tids[i], &sp, &pc) &&
			    pc >= lo && pc < hi)
				return tids[i];
		}
		msleep(1);
	} while (now_ns() < deadline);
	return 0;
}

int clone_procs_under(pid_t parent, bool zombies)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t pid;
		char comm[64];
		long long st;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		pid = atoi(de->d_name);
		if (task_comm(pid, pid, comm, sizeof(comm)) <= 0 || strcmp(comm, "pss-clone"))
			continue;
		if (parent > 0 && task_stat_field(pid, 4) != parent)
			continue;
		st = task_stat_field(pid, 3);
		if (st == 'Z' && !zombies)
			continue;
		if (st != LLONG_MIN)
			n++;
	}
	closedir(d);
	return n;
}

/* ---- ptrace ---- */

bool ptrace_permitted(char *why, size_t len)
{
	char buf[64] = "";
	pid_t pid;
	long r;
	int err;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return false;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	r = ptrace(PTRACE_SEIZE, pid, 0, 0);
	err = errno;
	if (r == 0)
		ptrace(PTRACE_DETACH, pid, 0, 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, __WALL);
	if (r == 0)
		return true;
	if (read_text("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) > 0 && atoi(buf) > 0)
		snprintf(why, len, "PTRACE_SEIZE: %s; Yama ptrace_scope is %d", strerror(err), atoi(buf));
	else if (status_field(getpid(), 0, "Seccomp", buf, sizeof(buf)) == 0 && atoi(buf) != 0)
		snprintf(why, len, "PTRACE_SEIZE: %s; this process runs under seccomp mode %s",
			 strerror(err), buf);
	else
		snprintf(why, len, "PTRACE_SEIZE: %s; no CAP_SYS_PTRACE (CapEff %s)", strerror(err),
			 status_field(getpid(), 0, "CapEff", buf, sizeof(buf)) == 0 ? buf : "?");
	return false;
}

/* ---- snapshots ---- */

HANDLE open_process(pid_t pid)
{
	HANDLE h = OpenProcess(PROCESS_ALL_ACCESS, FALSE, (DWORD)pid);

	REQUIRE(h != NULL, "OpenProcess(%d): %s", pid, err_name(GetLastError()));
	return h;
}

static char scratch[4][PATH_MAX];
static int nscratch;

static void rm_tree(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR)
			rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void scratch_cleanup(void)
{
	for (int i = 0; i < nscratch; i++)
		rm_tree(scratch[i]);
}

const char *scratch_dir(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *d;

	REQUIRE(nscratch < 4, "too many scratch dirs");
	snprintf(scratch[nscratch], sizeof(scratch[0]), "%s/pss-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
		 tag);
	d = mkdtemp(scratch[nscratch]);
	REQUIRE(d, "mkdtemp: %s", strerror(errno));
	if (!nscratch)
		atexit(scratch_cleanup);
	nscratch++;
	return d;
}

struct child_capture capture_in_child(pid_t victim, DWORD flags, int (*prepare)(struct child_capture *),
				      int (*inspect)(HPSS snap), void (*before_go)(void *), void *arg)
{
	struct child_capture *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct child_capture out;
	pid_t pid;
	int st = 0;

	REQUIRE(res != MAP_FAILED, "mmap");
	memset(res, 0, sizeof(*res));
	res->code = 0xffffffffu;
	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		HPSS s = NULL;
		int rc;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		rc = prepare ? prepare(res) : 0;
		if (rc)
			_exit(rc);
		for (int i = 0; i < 10000 && !res->go; i++)
			usleep(1000);
		res->code = capture_pid(victim, flags, CONTEXT_ALL, &s);
		snprintf(res->text, sizeof(res->text), "%s", capture_error_text());
		if (s && inspect)
			res->inspect = inspect(s);
		if (s && PssFreeSnapshot(GetCurrentProcess(), s))
			_exit(250);
		_exit(0);
	}
	if (before_go)
		before_go(arg);
	res->go = 1;
	REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid");
	res->status = st;
	out = *res;
	munmap(res, sizeof(*res));
	REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the capturing child failed: exit %d (status 0x%x, %d)",
		WIFEXITED(st) ? WEXITSTATUS(st) : -1, st, out.prepare_err);
	return out;
}

DWORD capture_pid(pid_t pid, DWORD flags, DWORD ctx_flags, HPSS *snap)
{
	HANDLE h = OpenProcess(PROCESS_ALL_ACCESS, FALSE, (DWORD)pid);
	DWORD r;

	*snap = NULL;
	if (!h)
		return GetLastError();
	r = PssCaptureSnapshot(h, (PSS_CAPTURE_FLAGS)flags, ctx_flags, snap);
	CloseHandle(h);
	return r;
}

HPSS capture_ok(pid_t pid, DWORD flags, DWORD ctx_flags)
{
	HPSS s = NULL;

	REQUIRE_OK(capture_pid(pid, flags, ctx_flags, &s));
	REQUIRE(s != NULL, "capture succeeded without a snapshot");
	return s;
}

void free_snap(HPSS snap)
{
	CHECK_ERR(PssFreeSnapshot(GetCurrentProcess(), snap), ERROR_SUCCESS);
}

HANDLE query_va_clone(HPSS snap, pid_t *pid)
{
	PSS_VA_CLONE_INFORMATION ci = { 0 };

	*pid = 0;
	if (PssQuerySnapshot(snap, PSS_QUERY_VA_CLONE_INFORMATION, &ci, sizeof(ci)) != ERROR_SUCCESS)
		return NULL;
	if (ci.VaCloneHandle)
		*pid = (pid_t)GetProcessId(ci.VaCloneHandle);
	return ci.VaCloneHandle;
}

static char fault_release_path[64];

void fault_arm(const char *spec)
{
	snprintf(fault_release_path, sizeof(fault_release_path), "/tmp/pss-release-%d", getpid());
	unlink(fault_release_path);
	setenv("PSS_FAULT_RELEASE", fault_release_path, 1);
	setenv("PSS_FAULT", spec, 1);
}

void fault_release(void)
{
	int fd = open(fault_release_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

void fault_disarm(void)
{
	unsetenv("PSS_FAULT");
	unsetenv("PSS_FAULT_RELEASE");
	if (fault_release_path[0])
		unlink(fault_release_path);
}

uint64_t filetime_u64(FILETIME ft)
{
	return ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
}

uint64_t unix_ns_to_filetime(uint64_t ns)
{
	return ns / 100 + 116444736000000000ull;
}

uint64_t boot_time_ns(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((uint64_t)rt.tv_sec - (uint64_t)bt.tv_sec) * 1000000000ull +
	       (uint64_t)rt.tv_nsec - (uint64_t)bt.tv_nsec;
}

uint64_t task_start_ns(pid_t pid, pid_t tid)
{
	char path[64], buf[2048], *p;
	unsigned long long start = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid > 0 ? tid : pid);
	if (read_text(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	/* field 22; p + 2 is field 3 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &start) != 1)
		return 0;
	return start * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

int task_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64];
	int n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid > 0 ? tid : pid);
	n = read_text(path, buf, len);
	/* comm ends with one newline added by the kernel */
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	return n;
}

DWORD walk_collect(HPSS snap, PSS_WALK_INFORMATION_CLASS cls, size_t entry_size, struct walk *w)
{
	DWORD r;

	memset(w, 0, sizeof(*w));
	w->size = entry_size;
	r = PssWalkMarkerCreate(NULL, &w->marker);
	if (r != ERROR_SUCCESS) {
		w->err = r;
		return r;
	}
	for (;;) {
		char *items;

		items = realloc(w->items, (w->count + 1) * entry_size);
		if (!items) {
			w->err = ERROR_NOT_ENOUGH_MEMORY;
			return w->err;
		}
		w->items = items;
		memset(items + w->count * entry_size, 0, entry_size);
		r = PssWalkSnapshot(snap, cls, w->marker, items + w->count * entry_size,
				    (DWORD)entry_size);
		if (r != ERROR_SUCCESS)
			break;
		if (++w->count > 1000000) {
			r = ERROR_GEN_FAILURE;	/* a walk that never ends */
			break;
		}
	}
	w->err = r;
	return r;
}

void walk_release(struct walk *w)
{
	if (w->marker)
		PssWalkMarkerFree(w->marker);
	free(w->items);
	memset(w, 0, sizeof(*w));
}

size_t u16_len(const WCHAR *s)
{
	size_t n = 0;

	while (s && s[n])
		n++;
	return n;
}

char *u16_to_utf8(const WCHAR *s, size_t units)
{
	char *out, *p;

	if (!s)
		return strdup("");
	if (units == (size_t)-1)
		units = u16_len(s);
	out = malloc(units * 3 + 1);
	if (!out)
		return NULL;
	p = out;
	for (size_t i = 0; i < units; i++) {
		uint32_t c = s[i];

		if (c >= 0xd800 && c < 0xdc00 && i + 1 < units && s[i + 1] >= 0xdc00 && s[i + 1] < 0xe000) {
			c = 0x10000 + ((c - 0xd800) << 10) + (s[i + 1] - 0xdc00u);
			i++;
		} else if (c >= 0xd800 && c < 0xe000) {
			c = 0xfffd;
		}
		if (c < 0x80) {
			*p++ = (char)c;
		} else if (c < 0x800) {
			*p++ = (char)(0xc0 | (c >> 6));
			*p++ = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			*p++ = (char)(0xe0 | (c >> 12));
			*p++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*p++ = (char)(0x80 | (c & 0x3f));
		} else {
			*p++ = (char)(0xf0 | (c >> 18));
			*p++ = (char)(0x80 | ((c >> 12) & 0x3f));
			*p++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*p++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*p = 0;
	return out;
}

bool u16_eq(const WCHAR *s, size_t units, const char *utf8)
{
	char *u = u16_to_utf8(s, units);
	bool eq = u && !strcmp(u, utf8);

	free(u);
	return eq;
}
