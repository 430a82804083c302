// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pss watch - ProcDump-style triggers: cores when CPU or memory cross a line.
 *
 *   pss watch [-p] PID [--cpu PCT] [--rss SIZE] [-n COUNT] [-s SECONDS]
 *             [-o PREFIX] [-z] [--interval MS] [--json]
 *
 * Every interval the target's CPU use (the utime+stime delta of
 * /proc/PID/stat over the interval, as a percentage of one CPU, so several
 * busy threads exceed 100 as in ProcDump) and its resident set
 * (/proc/PID/status VmRSS) are sampled; when one reaches its threshold a
 * core is written by pss dump's code (cli_dump_file(): a VA clone, so the
 * target pauses only for the capture; a temporary file published only when
 * complete) as PREFIX_cpu_YYYYmmdd_HHMMSS.PID or PREFIX_rss_..., local time.
 * At most COUNT cores, the starts of two at least SECONDS apart.
 *
 * Sampling reads /proc by pid, so the process is held by a pidfd: it
 * becomes readable when the target exits, which ends the wait at once, and
 * a sample taken while it is not readable belongs to our process (its pid
 * cannot have been reused).
 *
 * Signals.  SIGINT, SIGTERM and SIGHUP are blocked while sampling and read
 * from a signalfd, so a signal between two samples ends the wait without a
 * race.  They are unblocked only during a dump, where pss dump's handler
 * cancels the write and its error path removes the temporary (no partial
 * file).  Either way watch then dies of the signal, as a shell expects.
 */
#include "pss.h"
#include "json.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

struct watch_opts {
	pid_t pid;
	double cpu;			/* percent of one CPU; 0: off */
	unsigned long long rss;		/* bytes; 0: off */
	unsigned count;			/* -n */
	unsigned gap_s;			/* -s */
	unsigned interval_ms;
	unsigned timeout_ms;
	bool stop_all;		/* --stop-all */
	const char *prefix;
	bool zstd, json;
};

/* One look at the target. */
struct sample {
	uint64_t t_ns;			/* CLOCK_MONOTONIC */
	unsigned long long ticks;	/* utime + stime, clock ticks */
	unsigned long long rss;		/* bytes */
};

/* What woke the wait between samples. */
enum wake { WAKE_TIMEOUT, WAKE_EXIT, WAKE_SIGNAL };

/* A signal that arrived while a dump had signals unblocked. */
static volatile sig_atomic_t watch_signal;

static const int stop_sigs[] = { SIGINT, SIGTERM, SIGHUP };

/* ---- sampling ---- */

/* read_small() - a /proc file of @pid into @buf (NUL-terminated).  Returns
 * 0 or negative errno. */
static int read_small(pid_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

/*
 * read_ticks() - utime + stime (fields 14 and 15 of /proc/PID/stat).  The
 * fields are counted after the last ')': comm may hold spaces and parens.
 */
static int read_ticks(pid_t pid, unsigned long long *ret)
{
	unsigned long long ut, st;
	char buf[1024], *p;
	int ret_, field;

	ret_ = read_small(pid, "stat", buf, sizeof(buf));
	if (ret_)
		return ret_;
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* p + 2 is field 3 (state); skip to field 14. */
	for (p += 2, field = 3; field < 14 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu %llu", &ut, &st) != 2)
		return -EINVAL;
	*ret = ut + st;
	return 0;
}

/* read_rss() - VmRSS of /proc/PID/status in bytes; -ENOENT when the line
 * is missing (a zombie has no memory). */
static int read_rss(pid_t pid, unsigned long long *ret)
{
	char buf[4096], *p;
	unsigned long long kb;
	int r;

	r = read_small(pid, "status", buf, sizeof(buf));
	if (r)
		return r;
	p = strstr(buf, "\nVmRSS:");
	if (!p || sscanf(p + 7, "%llu", &kb) != 1)
		return -ENOENT;
	*ret = kb * 1024;
	return 0;
}

/* target_gone() - whether the pidfd says the process has exited. */
static bool target_gone(int pidfd)
{
	struct pollfd pf = { .fd = pidfd, .events = POLLIN };

	return poll(&pf, 1, 0) > 0;
}

/*
 * take_sample() - CPU ticks and RSS now.  Return: 0; -ESRCH if the target
 * has exited (then or during the reads: a sample is trusted only if the
 * pidfd is still quiet after it); another negative errno.
 */
static int take_sample(pid_t pid, int pidfd, struct sample *s)
{
	int ret;

	s->t_ns = cli_mono_ns();
	ret = read_ticks(pid, &s->ticks);
	if (!ret)
		ret = read_rss(pid, &s->rss);
	if (target_gone(pidfd))
		return -ESRCH;
	return ret;
}

/* cpu_percent() - CPU use between two samples, in percent of one CPU. */
static double cpu_percent(const struct sample *a, const struct sample *b)
{
	double secs = (double)(b->t_ns - a->t_ns) / 1e9;
	long hz = sysconf(_SC_CLK_TCK);

	if (secs <= 0 || hz <= 0 || b->ticks < a->ticks)
		return 0;
	return (double)(b->ticks - a->ticks) / (double)hz / secs * 100.0;
}

/*
 * wait_event() - sleep until @deadline (monotonic ns), the target's exit or
 * a stop signal (its number in *sig).
 */
static enum wake wait_event(int pidfd, int sfd, uint64_t deadline, int *sig)
{
	struct pollfd pf[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
	struct signalfd_siginfo si;
	uint64_t now;
	int n;

	for (;;) {
		now = cli_mono_ns();
		n = poll(pf, 2, now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return WAKE_TIMEOUT;
		if (pf[1].revents && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			*sig = (int)si.ssi_signo;
			return WAKE_SIGNAL;
		}
		if (pf[0].revents)
			return WAKE_EXIT;
	}
}

/* ---- signals ---- */

static void on_watch_signal(int sig)
{
	if (!watch_signal)
		watch_signal = sig;
}

/* stop_signals() - block (@block) or unblock the stop signals. */
static void stop_signals(bool block, sigset_t *set)
{
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, set, NULL);
}

/*
 * signals_setup() - a catching handler (a signal pending when a dump first
 * unblocks them must not kill us before pss dump installs its own), then
 * block them and read them from a signalfd.  Returns the fd or -errno.
 */
static int signals_setup(sigset_t *set)
{
	struct sigaction sa = { .sa_handler = on_watch_signal, .sa_flags = SA_RESTART };
	int fd;

	sigemptyset(set);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stop_sigs) / sizeof(stop_sigs[0]); i++) {
		sigaddset(set, stop_sigs[i]);
		sigaction(stop_sigs[i], &sa, NULL);
	}
	stop_signals(true, set);
	fd = signalfd(-1, set, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* die_of() - end the process by @sig with its default action. */
static void die_of(int sig, sigset_t *set)
{
	signal(sig, SIG_DFL);
	stop_signals(false, set);
	raise(sig);
}

/* ---- one dump ---- */

/*
 * dump_name() - PREFIX_TRIGGER_YYYYmmdd_HHMMSS.PID[.zst] for now, local
 * time; a name already taken (two dumps in one second with -s 0) gets
 * _2, _3... after the time.  Returns 0 or -ENAMETOOLONG/-EEXIST.
 */
static int dump_name(const struct watch_opts *o, const char *trig, struct timespec *now,
		     char *buf, size_t cap)
{
	const char *ext = o->zstd ? ".zst" : "";
	char stamp[32];
	struct stat st;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, now);
	localtime_r(&now->tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d_%H%M%S", &tm);
	for (int k = 1; k < 100; k++) {
		if (k == 1)
			n = snprintf(buf, cap, "%s_%s_%s.%d%s", o->prefix, trig, stamp, o->pid, ext);
		else
			n = snprintf(buf, cap, "%s_%s_%s_%d.%d%s", o->prefix, trig, stamp, k,
				     o->pid, ext);
		if (n < 0 || (size_t)n >= cap)
			return -ENAMETOOLONG;
		if (lstat(buf, &st) < 0)
			return 0;
	}
	return -EEXIST;
}

/* report() - the stderr line of one dump, and its JSON object on stdout. */
static void report(const struct watch_opts *o, const char *file, const char *trig, double value,
		   const struct timespec *when, unsigned k, int rc, const struct cli_dump_report *r)
{
	const char *status = rc == EXIT_OK ? "ok" : rc == EXIT_PARTIAL ? "partial" : "failed";
	bool is_cpu = !strcmp(trig, "cpu");
	char a[32], b[32], c[32];

	if (is_cpu)
		snprintf(a, sizeof(a), "%.1f%%", value);
	else
		cli_fmt_size(value, a, sizeof(a));
	if (is_cpu)
		snprintf(b, sizeof(b), "%g%%", o->cpu);
	else
		cli_fmt_size((double)o->rss, b, sizeof(b));
	if (!strcmp(status, "failed"))
		fprintf(stderr, "pss watch: pid %d: %s %s >= %s: %s\n", o->pid, trig, a, b,
			r->error);
	else
		fprintf(stderr, "%s: %s %s >= %s; %s in %.2f s; target paused %.1f ms (%u of %u)%s%s\n",
			file, trig, a, b, cli_fmt_size((double)r->bytes, c, sizeof(c)), r->seconds,
			r->pause_ms, k, o->count, r->error[0] ? "; " : "", r->error);
	if (!o->json)
		return;
	printf("{\"pid\": %d, \"file\": ", o->pid);
	json_print_str(file);
	printf(", \"trigger\": \"%s\", \"value\": %.*f, \"threshold\": %.*f, \"time\": %lld.%06ld, "
	       "\"dump\": %u, \"count\": %u, \"bytes\": %llu, \"core_bytes\": %llu, "
	       "\"seconds\": %.6f, \"pause_ms\": %.3f, \"compressed\": %s, \"status\": \"%s\"",
	       trig, is_cpu ? 1 : 0, value, is_cpu ? 1 : 0, is_cpu ? o->cpu : (double)o->rss,
	       (long long)when->tv_sec, when->tv_nsec / 1000, k, o->count, r->bytes, r->core_bytes,
	       r->seconds, r->pause_ms, o->zstd ? "true" : "false", status);
	if (r->error[0]) {
		printf(", \"error\": ");
		json_print_str(r->error);
	}
	printf("}\n");
	fflush(stdout);
}

/*
 * watch_dump() - one core for trigger @trig, signals unblocked only while
 * it is written.  Returns the exit code of the dump; *sig is set when a
 * stop signal arrived meanwhile.
 */
static int watch_dump(const struct watch_opts *o, HANDLE h, sigset_t *set, const char *trig,
		      double value, unsigned k, int *sig)
{
	struct cli_dump_report r = { 0 };
	struct timespec when;
	char file[PATH_MAX];
	int rc, ret;

	ret = dump_name(o, trig, &when, file, sizeof(file));
	if (ret) {
		snprintf(r.error, sizeof(r.error), "%s_%s_...: %s", o->prefix, trig,
			 ret == -EEXIST ? "too many dumps in one second" : strerror(-ret));
		report(o, "", trig, value, &when, k, EXIT_FAILURE_, &r);
		return EXIT_FAILURE_;
	}
	stop_signals(false, set);
	rc = cli_dump_file(h, o->pid, file, o->zstd, o->timeout_ms, o->stop_all, &r);
	stop_signals(true, set);
	if (r.signal || watch_signal) {
		*sig = r.signal ? r.signal : watch_signal;
		if (rc == EXIT_FAILURE_)
			return rc;	/* cancelled: nothing to report */
	}
	report(o, file, trig, value, &when, k, rc, &r);
	return rc;
}

/* ---- the loop ---- */

/*
 * watch_loop() - sample, compare, dump; until COUNT cores, the target's
 * exit, a failed dump or a stop signal (*sig).  Returns the exit code.
 */
static int watch_loop(const struct watch_opts *o, HANDLE h, int sfd, sigset_t *set, int *sig)
{
	int pidfd = pss_linux_handle_pidfd(h);
	uint64_t gap_ns = (uint64_t)o->gap_s * 1000000000ull, last = 0;
	struct sample prev, cur;
	bool dumped = false, partial = false;
	unsigned done = 0;
	const char *trig;
	double cpu, value = 0;
	int ret, rc;

	ret = take_sample(o->pid, pidfd, &prev);
	for (;;) {
		if (ret == -ESRCH)
			goto exited;
		if (ret) {
			fprintf(stderr, "pss watch: pid %d: reading /proc: %s\n", o->pid,
				strerror(-ret));
			return EXIT_FAILURE_;
		}
		switch (wait_event(pidfd, sfd, prev.t_ns + (uint64_t)o->interval_ms * 1000000ull,
				   sig)) {
		case WAKE_SIGNAL:
			goto stopped;
		case WAKE_EXIT:
			goto exited;
		case WAKE_TIMEOUT:
			break;
		}
		ret = take_sample(o->pid, pidfd, &cur);
		if (ret)
			continue;
		cpu = cpu_percent(&prev, &cur);
		prev = cur;
		trig = NULL;
		if (o->cpu > 0 && cpu >= o->cpu) {
			trig = "cpu";
			value = cpu;
		} else if (o->rss && cur.rss >= o->rss) {
			trig = "rss";
			value = (double)cur.rss;
		}
		if (!trig || (dumped && cur.t_ns - last < gap_ns))
			continue;
		last = cli_mono_ns();
		dumped = true;
		rc = watch_dump(o, h, set, trig, value, done + 1, sig);
		if (*sig) {
			done += rc != EXIT_FAILURE_;
			goto stopped;
		}
		if (rc != EXIT_OK && rc != EXIT_PARTIAL) {
			if (target_gone(pidfd))
				goto exited;
			return rc;
		}
		partial |= rc == EXIT_PARTIAL;
		if (++done == o->count)
			return partial ? EXIT_PARTIAL : EXIT_OK;
		/* The dump's own time is no sample of the target's CPU. */
		ret = take_sample(o->pid, pidfd, &prev);
	}
exited:
	fprintf(stderr, "pss watch: pid %d exited after %u of %u dump%s\n", o->pid, done, o->count,
		o->count == 1 ? "" : "s");
	return EXIT_FAILURE_;
stopped:
	fprintf(stderr, "pss watch: pid %d: stopped by %s after %u of %u dump%s\n", o->pid,
		strsignal(*sig), done, o->count, o->count == 1 ? "" : "s");
	return EXIT_FAILURE_;
}

/* ---- command line ---- */

static void watch_usage(FILE *f)
{
	fprintf(f,
		"Usage: pss watch [OPTIONS] [-p] PID\n"
		"\n"
		"Watch a process and write an ELF core (as pss dump does: the target pauses\n"
		"only for the capture) when its CPU use or resident memory reaches a threshold.\n"
		"\n"
		"Triggers (at least one):\n"
		"      --cpu PCT        CPU use over one interval, in percent of one CPU\n"
		"                       (several busy threads can exceed 100)\n"
		"      --rss SIZE       resident set size (VmRSS); suffixes K, M, G, T (1024)\n"
		"Options:\n"
		"  -p, --pid PID        the process to watch\n"
		"  -n, --count N        stop after N dumps (default 1)\n"
		"  -s, --gap SECONDS    at least this long between two dumps (default 10)\n"
		"  -o, --output PREFIX  write PREFIX_cpu_YYYYmmdd_HHMMSS.PID or PREFIX_rss_...\n"
		"                       (local time; default prefix core)\n"
		"  -z, --zstd           compress with zstd (.zst appended)\n"
		"      --interval MS    sampling interval (default 1000)\n"
		"      --json           one JSON object per dump on stdout\n"
		"  -t, --timeout MS     longest wait for a thread to stop (default 2000)\n"
		"      --stop-all       keep every thread in the pause (see pss dump --help)\n"
		"  -h, --help           this text\n"
		"\n"
		"One line per dump on stderr: file, trigger, value, size and pause.\n"
		"\n"
		"Exit status: 0 after N dumps, 1 some pages were unreadable, 2 the target\n"
		"exited first or a dump failed, 64 usage, 77 permission denied.\n"
		"SIGINT, SIGTERM and SIGHUP stop it; a dump in progress leaves no file.\n");
}

/* parse_uint() - a decimal number in [@lo, @hi]. */
static int parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
		      unsigned long long *ret)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*ret = v;
	return 0;
}

/* parse_size() - "64M", "2G", "1.5G", "4096": bytes (binary units; a
 * trailing "B" or "iB" is allowed). */
static int parse_size(const char *s, unsigned long long *ret)
{
	double v, mul = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	}
	if (mul > 1 && *end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * mul < 1 || v * mul > 1e18)
		return -1;
	*ret = (unsigned long long)(v * mul);
	return 0;
}

static int bad_arg(const char *opt, const char *arg)
{
	fprintf(stderr, "pss watch: %s: '%s' is not valid (see pss watch --help)\n", opt, arg);
	return EXIT_USAGE;
}

enum { OPT_CPU = 0x100, OPT_RSS, OPT_INTERVAL, OPT_JSON, OPT_STOP_ALL };

/* watch_parse() - options into @o.  Returns -1 to go on, or the exit code. */
static int watch_parse(int argc, char **argv, struct watch_opts *o)
{
	static const struct option longopts[] = {
		{ "cpu", required_argument, NULL, OPT_CPU },
		{ "rss", required_argument, NULL, OPT_RSS },
		{ "pid", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "gap", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "zstd", no_argument, NULL, 'z' },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "stop-all", no_argument, NULL, OPT_STOP_ALL },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	const char *pid_arg = NULL;
	char *end;
	int c;

	argv[0] = (char *)"pss watch";	/* getopt's messages */
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:n:s:o:zt:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CPU:
			errno = 0;
			o->cpu = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->cpu > 0) || o->cpu > 1e6)
				return bad_arg("--cpu", optarg);
			break;
		case OPT_RSS:
			if (parse_size(optarg, &o->rss))
				return bad_arg("--rss", optarg);
			break;
		case 'p':
			if (pid_arg) {
				fprintf(stderr, "pss watch: one PID only\n");
				return EXIT_USAGE;
			}
			pid_arg = optarg;
			break;
		case 'n':
			if (parse_uint(optarg, 1, 1000000, &v))
				return bad_arg("-n", optarg);
			o->count = (unsigned)v;
			break;
		case 's':
			if (parse_uint(optarg, 0, 86400 * 365, &v))
				return bad_arg("-s", optarg);
			o->gap_s = (unsigned)v;
			break;
		case 'o':
			o->prefix = optarg;
			break;
		case 'z':
			o->zstd = true;
			break;
		case OPT_INTERVAL:
			if (parse_uint(optarg, 10, 3600000, &v))
				return bad_arg("--interval", optarg);
			o->interval_ms = (unsigned)v;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_STOP_ALL:
			o->stop_all = true;
			break;
		case 't':
			if (parse_uint(optarg, 0, 3600000, &v))
				return bad_arg("-t", optarg);
			o->timeout_ms = (unsigned)v;
			break;
		case 'h':
			watch_usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "pss watch: see pss watch --help\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc && !pid_arg)
		pid_arg = argv[optind++];
	if (optind < argc || !pid_arg) {
		fprintf(stderr, "pss watch: %s\n", pid_arg ? "one PID only" : "no PID given");
		return EXIT_USAGE;
	}
	if (parse_uint(pid_arg, 1, INT_MAX, &v)) {
		fprintf(stderr, "pss watch: '%s' is not a process id\n", pid_arg);
		return EXIT_USAGE;
	}
	o->pid = (pid_t)v;
	if (!o->cpu && !o->rss) {
		fprintf(stderr, "pss watch: no trigger: give --cpu and/or --rss\n");
		return EXIT_USAGE;
	}
	if (!o->prefix[0] || !strcmp(o->prefix, "-")) {
		fprintf(stderr, "pss watch: -o needs a file name prefix\n");
		return EXIT_USAGE;
	}
	return -1;
}

int cmd_watch(int argc, char **argv)
{
	struct watch_opts o = { .count = 1, .gap_s = 10, .interval_ms = 1000, .prefix = "core" };
	sigset_t set;
	HANDLE h;
	DWORD err;
	int rc, sfd, sig = 0;

	rc = watch_parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	err = pss_linux_open_pid(o.pid, &h);
	if (err) {
		fprintf(stderr, "pss watch: pid %d: %s\n", o.pid,
			err == ERROR_INVALID_PARAMETER ? "no such process" :
			pss_linux_error_message(err));
		return err == ERROR_ACCESS_DENIED ? EXIT_PERM : EXIT_FAILURE_;
	}
	sfd = signals_setup(&set);
	if (sfd < 0) {
		fprintf(stderr, "pss watch: signalfd: %s\n", strerror(-sfd));
		rc = EXIT_FAILURE_;
		goto out_handle;
	}
	if (o.json)
		setvbuf(stdout, NULL, _IOLBF, 0);
	rc = watch_loop(&o, h, sfd, &set, &sig);
	close(sfd);
out_handle:
	CloseHandle(h);
	if (sig) {
		fflush(stdout);
		die_of(sig, &set);
	}
	return rc;
}
