// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pause - how long a capture stops its target, against gcore and fork().
 *
 * For each memory size and thread count it starts one pause-target (never
 * two at once: a big target plus its worst-case COW copy must fit in RAM),
 * waits until the target's memory is written, then measures, as the
 * target's own clock threads see it (their longest gap between two clock
 * reads):
 *   - idle      the gap with nothing happening (scheduler noise);
 *   - libpss    PssCaptureSnapshot(VA_CLONE|THREADS|THREAD_CONTEXT), then
 *               PssFreeSnapshot; also the library's own pause_ns;
 *   - fork      the target's own fork() time, the floor a COW clone costs;
 *   - gcore     gdb's gcore writing a core into a temporary directory that
 *               is removed right after.
 * It prints one Markdown table of medians and ranges, then whether the
 * goals hold: pause <= 1.5 x fork + 1 ms; gcore at least 20x longer at
 * 1 GiB and 100x at 4 GiB and beyond.
 *
 * Every process it starts is ended by pid: at the end, on error, and on
 * SIGINT/SIGTERM/SIGHUP.  The targets also die with the driver
 * (PR_SET_PDEATHSIG).
 */
#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZES 16
#define MAX_THREAD_COUNTS 8
#define MAX_RUNS 100

struct opts {
	double sizes[MAX_SIZES];
	int nsizes;
	int threads[MAX_THREAD_COUNTS];
	int nthreads;
	int runs;
	int gcore_runs;
	double gcore_max_gib;
	int thp;
	int duty;
	int no_clone;
	char target[PATH_MAX];
};

/* Samples of one quantity, in ms; n == 0 means "not measured". */
struct series {
	double v[MAX_RUNS];
	int n;
};

struct row {
	double gib;
	int threads;
	double touch_ms;
	struct series idle, pss, pss_lib, fork, gcore;
	const char *gcore_note;		/* why gcore was not run */
};

/* The processes to end on any exit; touched by the signal handler. */
static volatile pid_t cur_target = -1;
static volatile pid_t cur_gcore = -1;
static char core_dir[64];
static char core_file[128];

static struct {
	int in_fd, out_fd;		/* to the target's stdin, from its stdout */
	char buf[4096];
	size_t len;
} tgt = { -1, -1, "", 0 };

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* End every child by pid, reap it, remove the core directory.  Only
 * async-signal-safe calls: the signal handler uses it too. */
static void cleanup(void)
{
	pid_t p;

	if ((p = cur_target) > 0) {
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		cur_target = -1;
	}
	if ((p = cur_gcore) > 0) {
		/* gcore is a script that runs gdb: end its whole process group. */
		kill(-p, SIGKILL);
		waitpid(p, NULL, 0);
		cur_gcore = -1;
	}
	if (core_file[0])
		unlink(core_file);
	if (core_dir[0])
		rmdir(core_dir);
}

static void on_signal(int sig)
{
	static const char msg[] = "\npause: interrupted, targets killed\n";

	cleanup();
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(128 + sig);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("pause: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	cleanup();
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- talking to the target ---- */

/* One line from the target into @line (newline stripped), within @timeout_ms. */
static void target_read_line(char *line, size_t size, int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;
	char *nl;
	ssize_t n;

	while (!(nl = memchr(tgt.buf, '\n', tgt.len))) {
		struct pollfd pfd = { .fd = tgt.out_fd, .events = POLLIN };
		int left = (int)(deadline - now_ms());

		if (left <= 0)
			die("target %d: no reply within %d ms", cur_target, timeout_ms);
		if (poll(&pfd, 1, left) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (tgt.len == sizeof(tgt.buf))
			die("target: line too long");
		n = read(tgt.out_fd, tgt.buf + tgt.len, sizeof(tgt.buf) - tgt.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("target %d exited unexpectedly", cur_target);
		tgt.len += (size_t)n;
	}
	*nl = '\0';
	n = nl - tgt.buf < (ssize_t)size ? nl - tgt.buf : (ssize_t)size - 1;
	memcpy(line, tgt.buf, (size_t)n);
	line[n] = '\0';
	tgt.len -= (size_t)(nl + 1 - tgt.buf);
	memmove(tgt.buf, nl + 1, tgt.len);
}

/* Send @cmd and return the number after @key in the reply. */
static long long target_cmd(const char *cmd, const char *key, int timeout_ms)
{
	char line[256], want[64];
	size_t klen;

	if (dprintf(tgt.in_fd, "%s\n", cmd) < 0)
		die("target: write %s: %s", cmd, strerror(errno));
	target_read_line(line, sizeof(line), timeout_ms);
	if (!key)
		return 0;
	klen = (size_t)snprintf(want, sizeof(want), "%s ", key);
	if (strncmp(line, want, klen))
		die("target: %s: unexpected reply \"%s\"", cmd, line);
	return strtoll(line + klen, NULL, 10);
}

/* Start a target of @gib GiB with @threads clock threads; wait until ready. */
static double target_start(const struct opts *o, double gib, int threads)
{
	int to[2], from[2];
	char gibs[32], ths[16], line[256];
	unsigned long long touch_ms = 0;
	int pid;
	pid_t p;

	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	snprintf(gibs, sizeof(gibs), "%g", gib);
	snprintf(ths, sizeof(ths), "%d", threads);
	p = fork();
	if (p < 0)
		die("fork: %s", strerror(errno));
	if (p == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		char *av[8] = { (char *)o->target, "--gib", gibs, "--threads", ths };
		int ac = 5;

		if (o->thp)
			av[ac++] = "--thp";
		if (o->duty)
			av[ac++] = "--duty";
		execv(o->target, av);
		fprintf(stderr, "pause: exec %s: %s\n", o->target, strerror(errno));
		_exit(127);
	}
	cur_target = p;
	close(to[0]);
	close(from[1]);
	tgt.in_fd = to[1];
	tgt.out_fd = from[0];
	tgt.len = 0;
	/* Writing memory runs at a few GB/s here, faults at 10-30 us each. */
	target_read_line(line, sizeof(line), 60000 + (int)(gib * 60000));
	if (sscanf(line, "ready pid %d touch_ms %llu", &pid, &touch_ms) != 2 || pid != p)
		die("target: unexpected first line \"%s\"", line);
	return (double)touch_ms;
}

/* Ask the target to quit; reap it (SIGKILL if it does not go). */
static void target_stop(void)
{
	pid_t p = cur_target;

	if (p <= 0)
		return;
	if (dprintf(tgt.in_fd, "quit\n") > 0) {
		for (int i = 0; i < 500; i++) {
			if (waitpid(p, NULL, WNOHANG) == p) {
				cur_target = -1;
				break;
			}
			sleep_ms(10);
		}
	}
	cleanup();
	close(tgt.in_fd);
	close(tgt.out_fd);
	tgt.in_fd = tgt.out_fd = -1;
}

/* ---- the measurements ---- */

/* Reset the target's gaps; the caller then does something; gap_ms() reads. */
static void gap_reset(void)
{
	target_cmd("reset", NULL, 10000);
}

static double gap_ms(void)
{
	return (double)target_cmd("report", "gap_us", 30000) / 1e3;
}

/* One libpss capture + free; the pause the target saw and the library's. */
static void measure_pss(const struct opts *o, struct row *r)
{
	PSS_CAPTURE_FLAGS flags = PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT;
	struct pss_linux_process_info pi = { .sz = sizeof(pi) };
	HANDLE h;
	HPSS snap = NULL;
	DWORD e;

	if (!o->no_clone)
		flags |= PSS_CAPTURE_VA_CLONE;
	e = pss_linux_open_pid(cur_target, &h);
	if (e)
		die("pss_linux_open_pid(%d): %s", cur_target, pss_linux_error_message(e));
	gap_reset();
	e = PssCaptureSnapshot(h, flags, CONTEXT_ALL, &snap);
	if (e) {
		CloseHandle(h);
		die("PssCaptureSnapshot(%d): %s (%s)%s", cur_target, pss_linux_error_message(e),
		    pss_linux_last_capture_error(NULL),
		    e == ERROR_NOT_SUPPORTED && !o->no_clone ? "; try --no-clone" : "");
	}
	e = pss_linux_query_process(snap, &pi);
	if (e)
		die("pss_linux_query_process: %s", pss_linux_error_message(e));
	e = PssFreeSnapshot(GetCurrentProcess(), snap);
	if (e)
		die("PssFreeSnapshot: %s", pss_linux_error_message(e));
	CloseHandle(h);
	r->pss.v[r->pss.n++] = gap_ms();
	r->pss_lib.v[r->pss_lib.n++] = (double)pi.pause_ns / 1e6;
}

static void measure_fork(struct row *r)
{
	r->fork.v[r->fork.n++] = (double)target_cmd("fork", "fork_us", 120000) / 1e3;
}

/* One gcore run into a fresh temporary directory, removed right after. */
static void measure_gcore(struct row *r)
{
	char prefix[96], pidstr[16];
	pid_t p;
	int st;

	snprintf(core_dir, sizeof(core_dir), "/tmp/pss-bench-XXXXXX");
	if (!mkdtemp(core_dir)) {
		core_dir[0] = '\0';
		die("mkdtemp: %s", strerror(errno));
	}
	snprintf(prefix, sizeof(prefix), "%s/core", core_dir);
	snprintf(pidstr, sizeof(pidstr), "%d", cur_target);
	snprintf(core_file, sizeof(core_file), "%s.%s", prefix, pidstr);
	gap_reset();
	p = fork();
	if (p < 0)
		die("fork: %s", strerror(errno));
	if (p == 0) {
		int null = open("/dev/null", O_RDWR);

		setpgid(0, 0);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("gcore", "gcore", "-o", prefix, pidstr, (char *)NULL);
		_exit(127);
	}
	setpgid(p, p);		/* also here: either may run first */
	cur_gcore = p;
	while (waitpid(p, &st, 0) < 0) {
		if (errno != EINTR)
			die("waitpid gcore: %s", strerror(errno));
	}
	cur_gcore = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) || access(core_file, F_OK))
		die("gcore %s failed (status %#x)%s", pidstr, st,
		    WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": is gdb installed?" : "");
	r->gcore.v[r->gcore.n++] = gap_ms();
	unlink(core_file);
	rmdir(core_dir);
	core_file[0] = core_dir[0] = '\0';
}

/* ---- statistics and the table ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const struct series *s)
{
	double t[MAX_RUNS];

	if (!s->n)
		return NAN;
	memcpy(t, s->v, sizeof(double) * (size_t)s->n);
	qsort(t, (size_t)s->n, sizeof(double), cmp_double);
	return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

static void minmax(const struct series *s, double *lo, double *hi)
{
	*lo = *hi = s->v[0];
	for (int i = 1; i < s->n; i++) {
		if (s->v[i] < *lo)
			*lo = s->v[i];
		if (s->v[i] > *hi)
			*hi = s->v[i];
	}
}

/* "12.3 (11.0-15.2)" with a precision that suits the magnitude. */
static const char *fmt_series(char *buf, size_t size, const struct series *s)
{
	double lo, hi, m = median(s);

	if (!s->n) {
		snprintf(buf, size, "-");
		return buf;
	}
	minmax(s, &lo, &hi);
	if (hi >= 100)
		snprintf(buf, size, "%.0f (%.0f-%.0f)", m, lo, hi);
	else if (hi >= 1)
		snprintf(buf, size, "%.1f (%.1f-%.1f)", m, lo, hi);
	else
		snprintf(buf, size, "%.2f (%.2f-%.2f)", m, lo, hi);
	return buf;
}

static const char *fmt_ratio(char *buf, size_t size, double x)
{
	if (isnan(x))
		snprintf(buf, size, "-");
	else if (x >= 10)
		snprintf(buf, size, "%.0f", x);
	else
		snprintf(buf, size, "%.2f", x);
	return buf;
}

static double fork_budget(const struct row *r)
{
	return 1.5 * median(&r->fork) + 1.0;
}

static double gcore_ratio(const struct row *r)
{
	return r->gcore.n ? median(&r->gcore) / median(&r->pss) : NAN;
}

static void print_table(const struct opts *o, const struct row *rows, int nrows)
{
	char a[64], b[64], c[64], d[64], e[64], f[64], g[64];

	printf("\nTarget pause (ms, median and range over runs; capture flags %s; %s pages; "
	       "clock threads %s)\n\n",
	       o->no_clone ? "THREADS|THREAD_CONTEXT" : "VA_CLONE|THREADS|THREAD_CONTEXT",
	       o->thp ? "THP" : "4 KiB", o->duty ? "100 us spin / 900 us sleep" : "spinning");
	printf("| size GiB | threads | idle gap ms | libpss pause ms | lib-measured ms | fork ms | "
	       "gcore pause ms | libpss/(1.5*fork+1ms) | gcore/libpss |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		printf("| %g | %d | %s | %s | %s | %s | %s | %s | %s |\n", r->gib, r->threads,
		       fmt_series(a, sizeof(a), &r->idle), fmt_series(b, sizeof(b), &r->pss),
		       fmt_series(c, sizeof(c), &r->pss_lib), fmt_series(d, sizeof(d), &r->fork),
		       r->gcore.n ? fmt_series(e, sizeof(e), &r->gcore) : r->gcore_note,
		       fmt_ratio(f, sizeof(f), median(&r->pss) / fork_budget(r)),
		       fmt_ratio(g, sizeof(g), gcore_ratio(r)));
	}
}

/* The goals of the issue, one verdict line each; returns 0 if all hold. */
static int print_goals(const struct row *rows, int nrows)
{
	int fails = 0;

	printf("\nGoals (on medians):\n");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		double pss = median(&r->pss), budget = fork_budget(r), gr = gcore_ratio(r);
		double want = r->gib >= 4 ? 100 : r->gib >= 1 ? 20 : 0;
		int ok = pss <= budget;

		fails += !ok;
		printf("  %g GiB, %d thread%s: pause %.1f ms <= 1.5 x fork + 1 ms = %.1f ms: %s",
		       r->gib, r->threads, r->threads > 1 ? "s" : "", pss, budget,
		       ok ? "holds" : "FAILS");
		if (want > 0 && !isnan(gr)) {
			ok = gr >= want;
			fails += !ok;
			printf("; gcore/libpss %.0fx >= %.0fx: %s", gr, want, ok ? "holds" : "FAILS");
			/* The best any COW clone can do is a pause as long as fork(). */
			if (!ok)
				printf(" (gcore/fork is %.0fx)", median(&r->gcore) / median(&r->fork));
		} else if (want > 0) {
			printf("; gcore/libpss >= %.0fx: not measured", want);
		}
		printf("\n");
	}
	printf("%s\n", fails ? "Some goals fail." : "All goals hold.");
	return fails ? 1 : 0;
}

/* ---- driver ---- */

/* MemAvailable in GiB, or -1. */
static double mem_available_gib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long long kb;
	double r = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			r = (double)kb / (1 << 20);
	fclose(f);
	return r;
}

static void run_row(const struct opts *o, struct row *r)
{
	double avail = mem_available_gib();

	/* The target plus a worst-case COW copy of all of it, plus slack. */
	if (avail >= 0 && avail < 2 * r->gib + 1)
		die("%g GiB needs %.1f GiB of free memory, %.1f available", r->gib,
		    2 * r->gib + 1, avail);
	fprintf(stderr, "pause: %g GiB, %d thread(s): starting target...", r->gib, r->threads);
	r->touch_ms = target_start(o, r->gib, r->threads);
	fprintf(stderr, " pid %d, memory written in %.0f ms\n", cur_target, r->touch_ms);
	sleep_ms(200);

	for (int i = 0; i < o->runs; i++) {
		gap_reset();
		sleep_ms(100);
		r->idle.v[r->idle.n++] = gap_ms();
	}
	for (int i = 0; i < o->runs; i++) {
		measure_pss(o, r);
		fprintf(stderr, "  libpss run %d: target saw %.2f ms, library says %.2f ms\n", i + 1,
			r->pss.v[i], r->pss_lib.v[i]);
		sleep_ms(100);
	}
	for (int i = 0; i < o->runs; i++) {
		measure_fork(r);
		fprintf(stderr, "  fork run %d: %.2f ms\n", i + 1, r->fork.v[i]);
		sleep_ms(50);
	}
	if (r->gib > o->gcore_max_gib) {
		r->gcore_note = "skipped";
	} else {
		for (int i = 0; i < o->gcore_runs; i++) {
			measure_gcore(r);
			fprintf(stderr, "  gcore run %d: %.1f ms\n", i + 1, r->gcore.v[i]);
			sleep_ms(100);
		}
		if (!o->gcore_runs)
			r->gcore_note = "skipped";
	}
	target_stop();
}

static int parse_list(const char *s, double *out, int max)
{
	int n = 0;
	char *end;

	while (*s) {
		if (n == max)
			return -1;
		out[n] = strtod(s, &end);
		if (end == s || out[n] <= 0)
			return -1;
		n++;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return n;
}

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: pause [options]\n"
		"  --sizes LIST        GiB of target memory, e.g. 0.25,1 (default 0.25,1,4,8)\n"
		"  --threads LIST      clock threads in the target (default 1,8)\n"
		"  --runs N            libpss and fork runs per row (default 5)\n"
		"  --gcore-runs N      gcore runs per row (default 3; 0: no gcore)\n"
		"  --gcore-max-gib X   skip gcore above X GiB (default 8)\n"
		"  --thp               transparent huge pages (default: MADV_NOHUGEPAGE)\n"
		"  --duty              clock threads spin 100 us, sleep 900 us (default: spin)\n"
		"  --no-clone          capture THREADS|THREAD_CONTEXT without VA_CLONE\n"
		"  --quick             0.25 and 1 GiB, 1 thread, 2 runs (a smoke run)\n"
		"  --target PATH       the pause-target binary (default: next to pause)\n");
	exit(code);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	double t[MAX_THREAD_COUNTS];
	ssize_t n;

	*o = (struct opts){ .sizes = { 0.25, 1, 4, 8 }, .nsizes = 4, .threads = { 1, 8 },
			    .nthreads = 2, .runs = 5, .gcore_runs = 3, .gcore_max_gib = 8 };
	n = readlink("/proc/self/exe", o->target, sizeof(o->target) - 32);
	if (n > 0) {
		o->target[n] = '\0';
		strcpy(strrchr(o->target, '/') + 1, "pause-target");
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int k;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(0);
		} else if (!strcmp(a, "--quick")) {
			o->sizes[0] = 0.25, o->sizes[1] = 1, o->nsizes = 2;
			o->threads[0] = 1, o->nthreads = 1;
			o->runs = o->gcore_runs = 2;
		} else if (!strcmp(a, "--thp")) {
			o->thp = 1;
		} else if (!strcmp(a, "--duty")) {
			o->duty = 1;
		} else if (!strcmp(a, "--no-clone")) {
			o->no_clone = 1;
		} else if (!v) {
			usage(2);
		} else if (!strcmp(a, "--sizes")) {
			if ((o->nsizes = parse_list(v, o->sizes, MAX_SIZES)) <= 0)
				usage(2);
			i++;
		} else if (!strcmp(a, "--threads")) {
			if ((k = parse_list(v, t, MAX_THREAD_COUNTS)) <= 0)
				usage(2);
			for (o->nthreads = 0; o->nthreads < k; o->nthreads++)
				o->threads[o->nthreads] = (int)t[o->nthreads];
			i++;
		} else if (!strcmp(a, "--runs")) {
			o->runs = atoi(v), i++;
		} else if (!strcmp(a, "--gcore-runs")) {
			o->gcore_runs = atoi(v), i++;
		} else if (!strcmp(a, "--gcore-max-gib")) {
			o->gcore_max_gib = strtod(v, NULL), i++;
		} else if (!strcmp(a, "--target")) {
			snprintf(o->target, sizeof(o->target), "%s", v), i++;
		} else {
			usage(2);
		}
	}
	if (o->runs < 1 || o->runs > MAX_RUNS || o->gcore_runs < 0 || o->gcore_runs > MAX_RUNS)
		usage(2);
	if (access(o->target, X_OK))
		die("%s: %s (use --target)", o->target, strerror(errno));
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	static struct row rows[MAX_SIZES * MAX_THREAD_COUNTS];
	struct opts o;
	int nrows = 0;

	parse_args(argc, argv, &o);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (int i = 0; i < o.nsizes; i++) {
		for (int j = 0; j < o.nthreads; j++) {
			struct row *r = &rows[nrows++];

			r->gib = o.sizes[i];
			r->threads = o.threads[j];
			run_row(&o, r);
		}
	}
	cleanup();
	print_table(&o, rows, nrows);
	return print_goals(rows, nrows);
}
