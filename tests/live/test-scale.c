// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live tests at scale: a victim with 10,000 threads, one with 200,000 fds,
 * one with 65,000 mappings.  Each capture must succeed, count exactly what
 * /proc counts (tasks, fds, maps lines), leave the victim answering,
 * untraced, unstopped and without a clone, and the snapshot's memory must
 * grow about linearly: the heap bytes a snapshot of N items holds are
 * compared with those of N/4 (a property, never a timing).
 *
 * Where the kernel refuses the size (pid limits, nr_open, max_map_count)
 * the tests use the largest size allowed and say so in a diag line, or
 * skip with the reason if even that is refused.  A sysctl raised here is
 * put back before the test ends.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#define SCALE_THREADS 10000
#define SCALE_FDS 200000
#define SCALE_MAPS 65000
#define SCALE_HANDLE_FLAGS (PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION | \
			    PSS_CAPTURE_HANDLE_BASIC_INFORMATION | \
			    PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION)
/* 4x the items may cost at most this many times the memory */
#define LINEAR_MAX_RATIO 8.0
#define USER_TOP 0x800000000000ull	/* x86-64, 4-level paging */

/* ---- /proc counts ---- */

static long sysctl_read(const char *path)
{
	char buf[64];

	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	return atol(buf);
}

static int sysctl_write(const char *path, long v)
{
	char buf[32];
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	snprintf(buf, sizeof(buf), "%ld\n", v);
	if (fputs(buf, f) < 0)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* sysctl_raise() - make @path at least @want; *old is what to put back
 * (-1: nothing changed).  Return: the value now in force. */
static long sysctl_raise(const char *path, long want, long *old)
{
	long cur = sysctl_read(path);

	*old = -1;
	if (cur < 0 || cur >= want)
		return cur;
	if (sysctl_write(path, want)) {
		diag("cannot raise %s from %ld to %ld: %s", path, cur, want, strerror(errno));
		return cur;
	}
	*old = cur;
	return sysctl_read(path);
}

static void sysctl_restore(const char *path, long old)
{
	if (old >= 0)
		CHECK(sysctl_write(path, old) == 0, "cannot restore %s to %ld", path, old);
}

static long dir_entries(const char *path)
{
	struct dirent *d;
	DIR *dir = opendir(path);
	long n = 0;

	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static long fd_count(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	return dir_entries(path);
}

static long task_count(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	return dir_entries(path);
}

static long maps_lines(pid_t pid)
{
	char path[64], line[4096];
	FILE *f;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strchr(line, '\n'))
			n++;
	fclose(f);
	return n;
}

/* Every task of @pid: no tracer, not in a ptrace stop or a group stop. */
static long tasks_traced_or_stopped(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	long bad = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		pid_t tid = atoi(d->d_name);
		char st;

		if (tid <= 0)
			continue;
		st = thread_state(pid, tid);
		if (thread_tracer_pid(pid, tid) > 0 || st == 't' || st == 'T')
			bad++;
	}
	closedir(dir);
	return bad;
}

/*
 * The heap bytes in use, in KiB: the allocator's own count (ASan's when
 * the test runs under it, glibc's otherwise), which neither the page
 * cache of freed memory nor a quarantine blurs.  The snapshot lives on
 * the heap: only the tracer allocates with mmap, and what it allocates is
 * freed or, for the xstate buffers CONTEXT_ALL does not ask for, moved.
 */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static long long heap_kb(void)
{
	struct mallinfo2 mi;

	if (__sanitizer_get_current_allocated_bytes)
		return (long long)(__sanitizer_get_current_allocated_bytes() >> 10);
	mi = mallinfo2();
	return (long long)((mi.uordblks + mi.hblkhd) >> 10);
}

/*
 * walk_each() - walk every entry of @cls one at a time (a walk of 100,000
 * entries collected by realloc per entry is quadratic under ASan), calling
 * @fn on each.  Return: the entries walked; *ret_err the code that ended
 * the walk (ERROR_NO_MORE_ITEMS when complete).
 */
static size_t walk_each(HPSS s, PSS_WALK_INFORMATION_CLASS cls, void *buf, size_t size,
			void (*fn)(const void *entry, void *ctx), void *ctx, DWORD *ret_err)
{
	HPSSWALK marker;
	size_t n = 0;
	DWORD r;

	r = PssWalkMarkerCreate(NULL, &marker);
	if (r) {
		*ret_err = r;
		return 0;
	}
	while (!(r = PssWalkSnapshot(s, cls, marker, buf, (DWORD)size)) && n < 10000000) {
		fn(buf, ctx);
		n++;
	}
	PssWalkMarkerFree(marker);
	*ret_err = r;
	return n;
}

/* ---- the victim ---- */

static void start_scale_victim(struct target *t)
{
	int r = target_start(t, "scale-victim", NULL);

	REQUIRE(r == 0, "cannot start scale-victim: %s", strerror(-r));
	victim_idle(t);
}

/* The victim answers, nothing of it is traced or stopped, no clone is left. */
static void check_unharmed(struct target *t)
{
	char r[256];

	CHECK(target_cmd(t, "ping", r, sizeof(r)) > 0 && !strncmp(r, "pong", 4),
	      "victim does not answer: %s", r);
	CHECK_EQ_INT(tasks_traced_or_stopped(t->pid), 0);
	CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	CHECK_EQ_INT(clone_procs_under(t->pid, true), 0);
	CHECK(proc_state(t->pid) != 'Z' && proc_state(t->pid) != 0, "victim died");
}

/* The memory growth for N items vs N/4: at most LINEAR_MAX_RATIO times. */
static void check_linear(const char *what, long n4, long long kb4, long n, long long kb)
{
	double ratio = kb4 > 0 ? (double)kb / (double)kb4 : 0;

	diag("%s: snapshot of %ld takes %lld KiB, of %ld takes %lld KiB (x%.2f for x%.2f)",
	     what, n4, kb4, n, kb, ratio, (double)n / (double)n4);
	CHECK(kb4 > 0 && kb > kb4, "%s: no growth measured (%lld KiB, %lld KiB)", what, kb4, kb);
	CHECK(ratio < LINEAR_MAX_RATIO * ((double)n / (double)n4) / 4.0,
	      "%s: memory grows faster than linearly (x%.2f)", what, ratio);
}

/* ---- threads ---- */

static void add_threads(struct target *t, long k, long *total)
{
	char r[256];

	target_cmdf(t, r, sizeof(r), "threads %ld", k);
	*total = reply_get(r, "n", -1);
	if (reply_get(r, "err", -1) != 0) {
		if (*total < 16)
			SKIP("the kernel refuses threads: %s (pid_max %ld, threads-max %ld)",
			     strerror((int)reply_get(r, "err", 0)),
			     sysctl_read("/proc/sys/kernel/pid_max"),
			     sysctl_read("/proc/sys/kernel/threads-max"));
		diag("the kernel stopped thread creation at %ld: %s", *total,
		     strerror((int)reply_get(r, "err", 0)));
	}
	victim_idle(t);
}

struct tid_check {
	pid_t *tids;		/* sorted, from /proc */
	char *seen;
	size_t n;
	long missing, noctx;
};

static void tid_check_one(const void *entry, void *ctx)
{
	const PSS_THREAD_ENTRY *e = entry;
	struct tid_check *c = ctx;
	pid_t key = (pid_t)e->ThreadId, *hit;

	hit = bsearch(&key, c->tids, c->n, sizeof(*c->tids), cmp_pid);
	if (!hit || c->seen[hit - c->tids]++)
		c->missing++;
	if (!e->ContextRecord)
		c->noctx++;
}

/* Capture THREADS+THREAD_CONTEXT+VA_CLONE; check the counts and the tids.
 * Return the growth of our resident set while the snapshot lives. */
static long long capture_threads_checked(struct target *t, unsigned long long *pause_ns)
{
	struct pss_linux_process_info li = { .sz = sizeof(li) };
	PSS_THREAD_INFORMATION ti;
	long long before, kb;
	long tasks = task_count(t->pid);
	pid_t clone_pid = 0;
	HPSS s;

	before = heap_kb();
	s = capture_ok(t->pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | PSS_CAPTURE_VA_CLONE,
		       CONTEXT_ALL);
	kb = heap_kb() - before;
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)));
	CHECK_EQ_U64(ti.ThreadsCaptured, tasks);
	CHECK_EQ_INT(task_count(t->pid), tasks);
	CHECK(ti.ContextLength > 0, "no context length");
	CHECK(query_va_clone(s, &clone_pid) != NULL && clone_pid > 0, "no VA clone");
	REQUIRE_OK(pss_linux_query_process(s, &li));
	*pause_ns = li.pause_ns;

	{
		/* every tid of /proc is walked once, with its context */
		struct tid_check c = { .n = (size_t)tasks + 64 };
		PSS_THREAD_ENTRY e;
		size_t walked;
		DWORD werr;

		c.tids = calloc(c.n, sizeof(*c.tids));
		c.seen = calloc(c.n, 1);
		REQUIRE(c.tids && c.seen, "out of memory");
		c.n = (size_t)thread_ids(t->pid, c.tids, (int)c.n);
		CHECK_EQ_INT(c.n, tasks);
		walked = walk_each(s, PSS_WALK_THREADS, &e, sizeof(e), tid_check_one, &c, &werr);
		CHECK_ERR(werr, ERROR_NO_MORE_ITEMS);
		CHECK_EQ_U64(walked, tasks);
		CHECK_EQ_INT(c.missing, 0);
		CHECK_EQ_INT(c.noctx, 0);
		free(c.tids);
		free(c.seen);
	}
	free_snap(s);
	return kb;
}

/* Proves: 10,000 threads (64 KiB stacks) are all captured with their
 * contexts and a VA clone, ThreadsCaptured and the walked tids equal
 * /proc/PID/task, the victim is unharmed, and the snapshot's memory for
 * N threads is about 4 times that for N/4. */
TEST(row54_threads_10000)
{
	long want = SCALE_THREADS, old_pid_max, old_threads_max, total;
	unsigned long long pause4, pause;
	long long kb4, kb;
	struct target t;

	REQUIRE_PTRACE();
	sysctl_raise("/proc/sys/kernel/pid_max", want + 4096, &old_pid_max);
	sysctl_raise("/proc/sys/kernel/threads-max", want + 4096, &old_threads_max);
	start_scale_victim(&t);
	add_threads(&t, want / 4, &total);
	kb4 = capture_threads_checked(&t, &pause4);
	check_unharmed(&t);
	add_threads(&t, want - total, &total);
	if (total < want)
		diag("threads: %ld instead of %ld", total, want);
	kb = capture_threads_checked(&t, &pause);
	check_unharmed(&t);
	diag("threads: %ld in the victim, pause %.1f ms (%.1f ms at %ld)", total + 1,
	     pause / 1e6, pause4 / 1e6, want / 4 + 1);
	check_linear("threads", want / 4, kb4, total, kb);
	target_kill(&t);
	sysctl_restore("/proc/sys/kernel/threads-max", old_threads_max);
	sysctl_restore("/proc/sys/kernel/pid_max", old_pid_max);
}

/* ---- fds ---- */

static void add_fds(struct target *t, long k, long *total)
{
	char r[256];

	target_cmdf(t, r, sizeof(r), "fds %ld", k);
	*total = reply_get(r, "n", -1);
	if (reply_get(r, "err", -1) != 0)
		diag("the victim stopped at %ld fds: %s", *total, strerror((int)reply_get(r, "err", 0)));
	REQUIRE(*total > 0, "victim made no fd: %s", r);
	victim_idle(t);
}

struct fd_check {
	pid_t pid;
	char *seen;		/* by fd number */
	long max, bad;
};

/* Each walked fd is open in the victim, walked once, and has a type. */
static void fd_check_one(const void *entry, void *ctx)
{
	const PSS_HANDLE_ENTRY *e = entry;
	struct fd_check *c = ctx;
	long fd = (long)(intptr_t)e->Handle;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", c->pid, fd);
	if (fd < 0 || fd > c->max || c->seen[fd]++ || access(path, F_OK) || !e->TypeName)
		c->bad++;
}

/* Capture every handle detail; the handles are exactly /proc/PID/fd. */
static long long capture_fds_checked(struct target *t)
{
	struct fd_check c = { .pid = t->pid };
	PSS_HANDLE_INFORMATION hi;
	PSS_HANDLE_ENTRY e;
	long long before, kb;
	long fds = fd_count(t->pid);
	struct rlimit rl;
	size_t walked;
	DWORD werr;
	HPSS s;

	/* fds are below the victim's limit, which is ours */
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	c.max = (long)rl.rlim_cur;
	c.seen = calloc((size_t)c.max + 1, 1);
	REQUIRE(c.seen, "out of memory");
	before = heap_kb();
	s = capture_ok(t->pid, SCALE_HANDLE_FLAGS, 0);
	kb = heap_kb() - before;
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_HANDLE_INFORMATION, &hi, sizeof(hi)));
	CHECK_EQ_U64(hi.HandlesCaptured, fds);
	CHECK_EQ_INT(fd_count(t->pid), fds);
	walked = walk_each(s, PSS_WALK_HANDLES, &e, sizeof(e), fd_check_one, &c, &werr);
	CHECK_ERR(werr, ERROR_NO_MORE_ITEMS);
	CHECK_EQ_U64(walked, fds);
	CHECK_EQ_INT(c.bad, 0);
	free(c.seen);
	free_snap(s);
	return kb;
}

/* Proves: 200,000 fds (or the most RLIMIT_NOFILE may reach as root) are all
 * captured with names, basic and type-specific detail, HandlesCaptured and
 * the walked fds equal /proc/PID/fd, and memory grows about linearly. */
TEST(row55_fds_200000)
{
	long want = SCALE_FDS, nr_open, old_nr_open, total, base;
	struct rlimit rl;
	long long kb4, kb;
	struct target t;

	nr_open = sysctl_raise("/proc/sys/fs/nr_open", want + 1024, &old_nr_open);
	if (nr_open > 0 && nr_open < want + 1024) {
		diag("fs.nr_open is %ld and cannot be raised: %ld fds instead of %ld",
		     nr_open, nr_open - 1024, want);
		want = nr_open - 1024;
	}
	/* The victim inherits this test process's limit (only this test's
	 * child has it).  Raising the hard limit needs CAP_SYS_RESOURCE. */
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	if ((long)rl.rlim_max < want + 1024) {
		struct rlimit up = { (rlim_t)want + 1024, (rlim_t)want + 1024 };

		if (setrlimit(RLIMIT_NOFILE, &up)) {
			diag("RLIMIT_NOFILE cannot be raised above %ld (%s): %ld fds instead of %ld",
			     (long)rl.rlim_max, strerror(errno), (long)rl.rlim_max - 1024, want);
			want = (long)rl.rlim_max - 1024;
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	} else if ((long)rl.rlim_cur < want + 1024) {
		rl.rlim_cur = (rlim_t)want + 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sysctl_restore("/proc/sys/fs/nr_open", old_nr_open);
	REQUIRE(want >= 4096, "RLIMIT_NOFILE leaves room for %ld fds only", want);
	start_scale_victim(&t);
	base = fd_count(t.pid);
	add_fds(&t, want / 4, &total);
	kb4 = capture_fds_checked(&t);
	check_unharmed(&t);
	add_fds(&t, want - total, &total);
	if (total < want)
		diag("fds: %ld instead of %ld (the kernel refused more)", total, want);
	kb = capture_fds_checked(&t);
	check_unharmed(&t);
	diag("fds: %ld open in the victim", fd_count(t.pid));
	check_linear("fds", want / 4 + base, kb4, total + base, kb);
	target_kill(&t);
}

/* ---- mappings ---- */

struct va_check {
	uintptr_t next;		/* where the previous region ended (0: none yet) */
	long used, bad;
};

/* Regions tile user space ([vsyscall] lies above it); count the mappings. */
static void va_check_one(const void *entry, void *ctx)
{
	const PSS_VA_SPACE_ENTRY *e = entry;
	struct va_check *c = ctx;
	uintptr_t b = (uintptr_t)e->BaseAddress;

	if (e->State != MEM_FREE)
		c->used++;
	if (c->next && b < USER_TOP && b != c->next)
		c->bad++;
	c->next = b + e->RegionSize;
}

static long long capture_maps_checked(struct target *t)
{
	struct va_check c = { 0 };
	PSS_VA_SPACE_INFORMATION vi;
	PSS_VA_SPACE_ENTRY e;
	long long before, kb;
	long lines = maps_lines(t->pid);
	size_t walked;
	DWORD werr;
	HPSS s;

	before = heap_kb();
	s = capture_ok(t->pid, PSS_CAPTURE_VA_SPACE | PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION, 0);
	kb = heap_kb() - before;
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_VA_SPACE_INFORMATION, &vi, sizeof(vi)));
	walked = walk_each(s, PSS_WALK_VA_SPACE, &e, sizeof(e), va_check_one, &c, &werr);
	CHECK_ERR(werr, ERROR_NO_MORE_ITEMS);
	CHECK_EQ_U64(vi.RegionCount, walked);
	CHECK_EQ_INT(c.used, lines);
	CHECK_EQ_INT(maps_lines(t->pid), lines);
	CHECK_EQ_INT(c.bad, 0);
	free_snap(s);
	return kb;
}

static void add_maps(struct target *t, long k, long *total)
{
	char r[256];

	target_cmdf(t, r, sizeof(r), "maps %ld", k);
	*total = reply_get(r, "n", -1);
	REQUIRE(reply_get(r, "err", -1) == 0, "victim could not make %ld mappings: %s", k, r);
	victim_idle(t);
}

/* Proves: 65,000 mappings (or what vm.max_map_count leaves room for) are
 * all regions of the snapshot, one per /proc/PID/maps line, tiling the
 * space, and memory grows about linearly. */
TEST(row56_mappings_65000)
{
	long want = SCALE_MAPS, max_maps = sysctl_read("/proc/sys/vm/max_map_count"), base, total;
	long long kb4, kb;
	struct target t;

	start_scale_victim(&t);
	base = maps_lines(t.pid);
	if (max_maps > 0 && want + base + 64 > max_maps) {
		long fit = (max_maps - base - 64) & ~1L;

		diag("vm.max_map_count is %ld: %ld mappings instead of %ld", max_maps, fit, want);
		want = fit;
	}
	REQUIRE(want >= 4096, "vm.max_map_count %ld leaves no room", max_maps);
	add_maps(&t, (want / 4) & ~1L, &total);
	kb4 = capture_maps_checked(&t);
	check_unharmed(&t);
	add_maps(&t, (want - total) & ~1L, &total);
	kb = capture_maps_checked(&t);
	check_unharmed(&t);
	diag("mappings: %ld lines in the victim's maps", maps_lines(t.pid));
	check_linear("mappings", (want / 4) + base, kb4, total + base, kb);
	target_kill(&t);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
