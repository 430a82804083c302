// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * scale - capture time and target pause at scale: threads, fds, mappings.
 *
 * One scale-victim at a time grows to each size in turn (it only ever
 * grows, so each row reuses the victim of the row before):
 *   threads   1,000 and 10,000 sleeping threads (64 KiB stacks):
 *             THREADS|THREAD_CONTEXT (CONTEXT_ALL), then with VA_CLONE and
 *             PSS_LINUX_CAPTURE_STOP_ALL (every thread in the pause), then
 *             with VA_CLONE as the library does by default (threads blocked
 *             in a call that have not run stopped after the pause), then as
 *             pss dump asks; then 1,000 more threads that wake every
 *             10 ms (a pool never idle for long), with and without
 *             STOP_ALL: how often a deferred thread wakes and the stop is
 *             made again ("redone");
 *   fds       20,000 and 200,000 fds (or the most RLIMIT_NOFILE allows):
 *             HANDLES with every detail bit, then with VA_CLONE;
 *   mappings  16,000 and 65,000 maps entries (or what vm.max_map_count
 *             leaves room for): VA_SPACE with section information, then
 *             with VA_CLONE.
 * Each row is --runs captures (default 5); it prints the median and the
 * worst capture time (the PssCaptureSnapshot call) and pause
 * (pss_linux_process_info.pause_ns, 0 when the flags never stop the
 * target), and for the thread rows the median "last gap": the longest time
 * the victim's clock thread, made after all the others and so the last
 * one a stop lets go, did not run (what the pause is for the thread that
 * waits longest, as the target itself sees it), the median number of
 * threads stopped after the pause and how many runs had to stop again
 * with every thread (one had run); one Markdown table, the
 * floors (a bare ptrace stop, the target's fork()), the stage times of the
 * median run, then whether the pause at 10,000 threads is under 50 ms.
 *
 * The victim is ended by pid when the driver ends, on error and on
 * SIGINT/SIGTERM/SIGHUP; it also dies with the driver (PR_SET_PDEATHSIG).
 */
#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <dirent.h>
#include <sys/ptrace.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 100
#define GOAL_THREADS 10000
#define WAKERS 1000		/* threads waking every 10 ms, added at the end */
#define GOAL_PAUSE_MS 50.0
#define HANDLE_FLAGS (PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION | \
		      PSS_CAPTURE_HANDLE_BASIC_INFORMATION | \
		      PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION)
#define VA_FLAGS (PSS_CAPTURE_VA_SPACE | PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION)
#define THREAD_FLAGS (PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)

struct victim {
	pid_t pid;
	int in, out;
};

static struct victim vic = { -1, -1, -1 };
static int runs = 5;

static void victim_end(void)
{
	if (vic.pid > 0) {
		kill(vic.pid, SIGKILL);
		waitpid(vic.pid, NULL, 0);
		vic.pid = -1;
	}
	if (vic.in >= 0)
		close(vic.in);
	if (vic.out >= 0)
		close(vic.out);
	vic.in = vic.out = -1;
}

static void on_signal(int sig)
{
	if (vic.pid > 0)
		kill(vic.pid, SIGKILL);
	_exit(128 + sig);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("scale: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	victim_end();
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One reply line of the victim (60 s at most: 200,000 fds take a while). */
static void victim_read(char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { .fd = vic.out, .events = POLLIN };
		char c;

		if (poll(&p, 1, 60000) <= 0 || read(vic.out, &c, 1) != 1)
			die("the victim does not answer");
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = 0;
}

static long victim_cmd(const char *cmd, long arg, int *err)
{
	char line[256];
	const char *e;
	int n;

	n = snprintf(line, sizeof(line), "%s %ld\n", cmd, arg);
	if (write(vic.in, line, (size_t)n) != n)
		die("cannot talk to the victim");
	victim_read(line, sizeof(line));
	e = strstr(line, "err=");
	*err = e ? atoi(e + 4) : -1;
	if (strncmp(line, "n=", 2))
		die("victim: %s", line);
	return atol(line + 2);
}

static void victim_start(const char *path)
{
	char line[64];
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	vic.pid = fork();
	if (vic.pid < 0)
		die("fork: %s", strerror(errno));
	if (!vic.pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	vic.in = in[1];
	vic.out = out[0];
	victim_read(line, sizeof(line));
	if (strncmp(line, "ready ", 6))
		die("%s did not start: %s", path, line);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct row {
	double cap_med, cap_max, pause_med, pause_max;
	double gap_med;			/* the victim's clock thread: -1 without */
	unsigned deferred;		/* median threads stopped after the pause */
	unsigned redone;		/* runs whose stop was made a second time */
	char stages[768];
};

/* The library's debug line on where the stop's time went ("stop of N
 * threads: ..."), kept per run so the median run's can be printed. */
static char stages[MAX_RUNS][768];
static int stage_run = -1;

static void on_log(void *ctx, enum pss_linux_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	if (stage_run >= 0 && !strncmp(msg, "stop of ", 8))
		snprintf(stages[stage_run], sizeof(stages[0]), "%s", msg);
	/* the line on the threads stopped after the pause follows it */
	if (stage_run >= 0 && strstr(msg, "stopped after the pause")) {
		size_t l = strlen(stages[stage_run]);

		snprintf(stages[stage_run] + l, sizeof(stages[0]) - l, "; %s", msg);
	}
}

/* @runs captures of the victim with @flags; medians and worst cases. */
static bool with_clock;		/* the victim runs its clock thread */

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return (x > y) - (x < y);
}

/* @lflags: pss_linux_options.flags (PSS_LINUX_CAPTURE_STOP_ALL). */
static struct row measure(DWORD flags, DWORD ctx, unsigned lflags)
{
	struct pss_linux_options o = { .sz = sizeof(o), .flags = lflags };
	double cap[MAX_RUNS], pause[MAX_RUNS], gap[MAX_RUNS];
	unsigned deferred[MAX_RUNS];
	int err;
	struct row r = { 0 };
	HANDLE h;

	if (pss_linux_open_pid(vic.pid, &h))
		die("cannot open pid %d", (int)vic.pid);
	for (int i = 0; i < runs; i++) {
		struct pss_linux_process_info li = { .sz = sizeof(li) };
		double t0;
		HPSS s;
		DWORD e;

		stages[i][0] = 0;
		if (with_clock)
			victim_cmd("gap", 0, &err);	/* zero it */
		stage_run = i;
		t0 = now_ms();
		e = pss_linux_capture(h, flags, ctx, &o, &s);
		cap[i] = now_ms() - t0;
		stage_run = -1;
		if (e)
			die("capture: %s (%s)", pss_linux_error_message(e),
			    pss_linux_last_capture_error(NULL));
		if (pss_linux_query_process(s, &li))
			die("pss_linux_query_process failed");
		pause[i] = li.pause_ns / 1e6;
		deferred[i] = li.deferred_threads;
		r.redone += li.stop_attempts > 1;
		gap[i] = with_clock ? victim_cmd("gap", 0, &err) / 1e3 : -1;
		PssFreeSnapshot(GetCurrentProcess(), s);
	}
	CloseHandle(h);
	/* the stage line of the run with the median pause */
	{
		double sorted[MAX_RUNS];
		int m = 0;

		memcpy(sorted, pause, sizeof(double) * (size_t)runs);
		qsort(sorted, (size_t)runs, sizeof(double), cmp_double);
		for (int i = 0; i < runs; i++)
			if (pause[i] == sorted[runs / 2])
				m = i;
		memcpy(r.stages, stages[m], sizeof(r.stages));
		r.stages[sizeof(r.stages) - 1] = 0;
	}
	qsort(cap, (size_t)runs, sizeof(double), cmp_double);
	qsort(pause, (size_t)runs, sizeof(double), cmp_double);
	qsort(gap, (size_t)runs, sizeof(double), cmp_double);
	qsort(deferred, (size_t)runs, sizeof(unsigned), cmp_unsigned);
	r.deferred = deferred[runs / 2];
	r.gap_med = gap[runs / 2];
	r.cap_med = cap[runs / 2];
	r.cap_max = cap[runs - 1];
	r.pause_med = pause[runs / 2];
	r.pause_max = pause[runs - 1];
	return r;
}

/*
 * The floor of any ptrace-based stop of every thread: seize each thread,
 * interrupt each, wait for each stop, detach each, reading nothing.  The
 * time from the first interrupt to the last detach, median of @runs.
 */
static double bare_stop(pid_t pid)
{
	double t[MAX_RUNS];
	static pid_t tids[200000];

	for (int i = 0; i < runs; i++) {
		char path[64];
		struct dirent *d;
		size_t n = 0;
		double t0;
		DIR *dir;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		dir = opendir(path);
		if (!dir)
			die("%s: %s", path, strerror(errno));
		while ((d = readdir(dir)) && n < sizeof(tids) / sizeof(tids[0])) {
			if (d->d_name[0] == '.')
				continue;
			tids[n] = atoi(d->d_name);
			if (!ptrace(PTRACE_SEIZE, tids[n], 0, 0))
				n++;
		}
		closedir(dir);
		t0 = now_ms();
		for (size_t k = 0; k < n; k++)
			ptrace(PTRACE_INTERRUPT, tids[k], 0, 0);
		for (size_t k = 0; k < n; k++)
			waitpid(tids[k], NULL, __WALL);
		for (size_t k = 0; k < n; k++)
			ptrace(PTRACE_DETACH, tids[k], 0, 0);
		t[i] = now_ms() - t0;
	}
	qsort(t, (size_t)runs, sizeof(double), cmp_double);
	return t[runs / 2];
}

static void print_row(const char *what, long n, const char *flags, struct row r)
{
	char gap[16] = "-";

	if (r.gap_med >= 0)
		snprintf(gap, sizeof(gap), "%.1f", r.gap_med);
	printf("| %-8s | %7ld | %-28s | %8.1f | %8.1f | %7.1f | %7.1f | %8s | %8u | %6u |\n", what,
	       n, flags, r.cap_med, r.cap_max, r.pause_med, r.pause_max, gap, r.deferred, r.redone);
	fflush(stdout);
}

static long read_long(const char *path)
{
	char buf[64];
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f && fgets(buf, sizeof(buf), f))
		v = atol(buf);
	if (f)
		fclose(f);
	return v;
}

static long maps_lines(pid_t pid)
{
	char path[64], line[4096];
	long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strchr(line, '\n') != NULL;
	fclose(f);
	return n;
}

static char floors[2048], breakdown[8192];

static double bench_threads(const char *victim)
{
	static const long sizes[] = { 1000, GOAL_THREADS };
	double goal_pause = -1;
	size_t fl = 0, bl = 0;
	long have = 0, fork_us;
	int err;

	victim_start(victim);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct row r;

		have = victim_cmd("threads", sizes[i] - 1 - have, &err);
		if (err)
			fprintf(stderr, "scale: threads stop at %ld: %s\n", have + 1, strerror(err));
		/* a new clock thread, the last one made: the last one let go */
		with_clock = victim_cmd("clock", 0, &err) == 1;
		r = measure(THREAD_FLAGS, CONTEXT_ALL, 0);
		print_row("threads", have + 1, "THREADS+CONTEXT", r);
		r = measure(THREAD_FLAGS | PSS_CAPTURE_VA_CLONE, CONTEXT_ALL, PSS_LINUX_CAPTURE_STOP_ALL);
		print_row("threads", have + 1, "+VA_CLONE, STOP_ALL", r);
		bl += (size_t)snprintf(breakdown + bl, sizeof(breakdown) - bl,
				       "- CONTEXT_ALL+VA_CLONE, STOP_ALL, %ld threads: %s\n", have + 1,
				       r.stages);
		r = measure(THREAD_FLAGS | PSS_CAPTURE_VA_CLONE, CONTEXT_ALL, 0);
		print_row("threads", have + 1, "THREADS+CONTEXT+VA_CLONE", r);
		if (sizes[i] == GOAL_THREADS && have + 1 >= GOAL_THREADS)
			goal_pause = r.pause_med;
		bl += (size_t)snprintf(breakdown + bl, sizeof(breakdown) - bl,
				       "- CONTEXT_ALL+VA_CLONE, %ld threads: %s\n", have + 1, r.stages);
		/* what pss dump asks for: no debug registers, with XSTATE */
		r = measure(THREAD_FLAGS | PSS_CAPTURE_THREAD_CONTEXT_EXTENDED | PSS_CAPTURE_VA_CLONE,
			    CONTEXT_FULL | CONTEXT_SEGMENTS, 0);
		print_row("threads", have + 1, "as pss dump (no debug regs)", r);
		bl += (size_t)snprintf(breakdown + bl, sizeof(breakdown) - bl,
				       "- as pss dump, %ld threads: %s\n", have + 1, r.stages);
		fork_us = victim_cmd("fork", 5, &err);
		with_clock = false;
		fl += (size_t)snprintf(floors + fl, sizeof(floors) - fl,
				       "| %7ld | %17.1f | %20.1f |\n", have + 1,
				       bare_stop(vic.pid), fork_us / 1e3);
		/* after the floors, which are of the idle pool alone */
		if (sizes[i] == GOAL_THREADS && have + 1 >= GOAL_THREADS) {
			/* a pool that is never idle for long: idle threads left
			 * out of the pause may wake before they are read */
			long n = victim_cmd("wakers", WAKERS, &err);

			with_clock = !err && victim_cmd("clock", 0, &err) == 1;
			if (with_clock) {
				r = measure(THREAD_FLAGS | PSS_CAPTURE_VA_CLONE, CONTEXT_ALL,
					    PSS_LINUX_CAPTURE_STOP_ALL);
				print_row("threads", n + 1, "+1,000 waking /10ms, STOP_ALL", r);
				r = measure(THREAD_FLAGS | PSS_CAPTURE_VA_CLONE, CONTEXT_ALL, 0);
				print_row("threads", n + 1, "+1,000 waking /10ms, VA_CLONE", r);
				bl += (size_t)snprintf(breakdown + bl, sizeof(breakdown) - bl,
						       "- CONTEXT_ALL+VA_CLONE, %ld threads, 1,000 "
						       "waking: %s\n", n + 1, r.stages);
				have = n;
				with_clock = false;
			}
		}
	}
	victim_end();
	return goal_pause;
}

/* Room for @want fds: the victim inherits our limit. */
static long fd_room(long want)
{
	struct rlimit rl, up = { (rlim_t)want + 1024, (rlim_t)want + 1024 };
	long nr_open = read_long("/proc/sys/fs/nr_open");

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (nr_open > 0 && nr_open < want + 1024)
		up.rlim_cur = up.rlim_max = (rlim_t)nr_open;
	if (up.rlim_max < rl.rlim_max)
		up.rlim_max = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &up)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	return (long)rl.rlim_cur - 1024 < want ? (long)rl.rlim_cur - 1024 : want;
}

static void bench_fds(const char *victim)
{
	long sizes[] = { 20000, 200000 }, room = fd_room(200000), have = 0;
	int err;

	if (room < 200000) {
		/* the most we may have, and a quarter of it */
		fprintf(stderr, "scale: RLIMIT_NOFILE/nr_open allow %ld fds, not 200000\n", room);
		sizes[1] = room;
		if (sizes[0] > room / 4)
			sizes[0] = room / 4;
	}
	victim_start(victim);
	for (size_t i = 0; i < 2; i++) {
		struct row r;

		have = victim_cmd("fds", sizes[i] - have, &err);
		if (err)
			fprintf(stderr, "scale: fds stop at %ld: %s\n", have, strerror(err));
		r = measure(HANDLE_FLAGS, 0, 0);
		print_row("fds", have, "HANDLES (all detail)", r);
		r = measure(HANDLE_FLAGS | PSS_CAPTURE_VA_CLONE, 0, 0);
		print_row("fds", have, "HANDLES+VA_CLONE", r);
	}
	victim_end();
}

static void bench_maps(const char *victim)
{
	long sizes[] = { 16000, 65000 }, have = 0, base, max_maps;
	int err;

	max_maps = read_long("/proc/sys/vm/max_map_count");
	victim_start(victim);
	base = maps_lines(vic.pid);
	for (size_t i = 0; i < 2; i++) {
		struct row r;
		long k;

		if (max_maps > 0 && sizes[i] + base + 64 > max_maps) {
			sizes[i] = max_maps - base - 64;
			fprintf(stderr, "scale: vm.max_map_count %ld leaves room for %ld mappings\n",
				max_maps, sizes[i]);
		}
		k = (sizes[i] - have) & ~1L;
		have = victim_cmd("maps", k, &err);
		if (err)
			die("the victim cannot map %ld more: %s", k, strerror(err));
		r = measure(VA_FLAGS, 0, 0);
		print_row("mappings", maps_lines(vic.pid), "VA_SPACE", r);
		r = measure(VA_FLAGS | PSS_CAPTURE_VA_CLONE, 0, 0);
		print_row("mappings", maps_lines(vic.pid), "VA_SPACE+VA_CLONE", r);
	}
	victim_end();
}

static void usage(FILE *f)
{
	fprintf(f, "usage: scale [--runs N] [--quick] [--only threads|fds|maps]\n"
		"  --runs N     captures per row (default 5, at most %d)\n"
		"  --quick      2 runs per row\n"
		"  --only WHAT  one family of rows\n", MAX_RUNS);
}

int main(int argc, char **argv)
{
	char victim[PATH_MAX], *slash;
	const char *only = NULL;
	double goal;
	ssize_t n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--quick")) {
			runs = 2;
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS) {
		usage(stderr);
		return 2;
	}
	/* the victim sits next to us */
	n = readlink("/proc/self/exe", victim, sizeof(victim) - 32);
	if (n <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	victim[n] = 0;
	slash = strrchr(victim, '/');
	strcpy(slash + 1, "scale-victim");
	pss_linux_set_log(on_log, NULL, PSS_LINUX_LOG_DEBUG);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	printf("Capture time and target pause at scale (ms, median and worst of %d runs)\n\n", runs);
	printf("| what     |   count | flags                        | capture  | worst    | pause   | worst   | last gap | deferred | redone |\n");
	printf("|----------|--------:|------------------------------|---------:|---------:|--------:|--------:|---------:|---------:|-------:|\n");
	goal = -1;
	if (!only || !strcmp(only, "threads"))
		goal = bench_threads(victim);
	if (!only || !strcmp(only, "fds"))
		bench_fds(victim);
	if (!only || !strcmp(only, "maps"))
		bench_maps(victim);
	if (floors[0]) {
		printf("\nFloors on this machine (ms, median): every thread seized, interrupted, waited\n"
		       "for and detached by a bare ptrace loop reading nothing; the target's own fork()\n\n");
		printf("| threads | bare ptrace stop  | target's fork()      |\n");
		printf("|--------:|------------------:|---------------------:|\n");
		fputs(floors, stdout);
		printf("\nWhere the median pause went (the library's debug log):\n%s", breakdown);
	}
	if (goal >= 0)
		printf("\nGoal: pause under %.0f ms at %d threads (VA_CLONE, median): %.1f ms, %s\n",
		       GOAL_PAUSE_MS, GOAL_THREADS, goal, goal < GOAL_PAUSE_MS ? "met" : "NOT met");
	return 0;
}
