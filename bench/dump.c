// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * dump - `pss dump` against gcore and against the disk.
 *
 * For each size (default 1 and 4 GiB) it starts one dump-target (memory
 * written, a clock thread measuring how long the process does not run, a
 * writer thread that keeps writing a fraction of its pages during each
 * dump, 25% by default), then measures, median of --runs:
 *   - plain      write(2) of the same number of bytes as pss's core from a
 *                1 MiB buffer, then fsync: what the disk can take through
 *                the page cache (the goal's reference);
 *   - O_DIRECT   the same with O_DIRECT, no page cache: what the disk takes
 *                at all (pss writes memory this way where it can);
 *   - pss dump   `pss dump --json` (the file is fsync'ed before it is
 *                named): wall time, the library's pause_ms, the target's
 *                own longest gap, and the extra memory the clone cost while
 *                it lived (the drop of MemAvailable during the dump);
 *   - gcore      gdb's gcore, then fsync of its file (so both tools pay
 *                for the flush): wall time, the target's gap (it is stopped
 *                throughout), the MemAvailable drop.
 * The cores go to --dir (default /var/tmp: a disk, not tmpfs), one at a
 * time, and are removed at once; a sync() before each measurement keeps
 * the previous file's removal out of the next one's time.  It prints one Markdown table and whether
 * the goals hold: pss faster than gcore, and at least 80% of the plain
 * write.
 *
 * Every process it starts is ended by pid (the target also dies with the
 * driver: PR_SET_PDEATHSIG); SIGINT/SIGTERM remove the current core.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZES 8
#define MAX_RUNS 15

struct opts {
	double sizes[MAX_SIZES];
	int nsizes;
	int runs;
	double dirty;
	int no_gcore;
	char dir[1024];
	char pss[PATH_MAX];
	char target[PATH_MAX];
};

struct target {
	pid_t pid;
	FILE *in, *out;
};

/* One measurement of one method. */
struct sample {
	double wall_s, pause_ms, gap_ms, bytes, extra_mib;
};

static char cur_file[PATH_MAX];		/* removed on a signal */
static pid_t cur_target;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	if (cur_file[0])
		unlink(cur_file);
	if (cur_target > 0)
		kill(cur_target, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die(const char *msg)
{
	fprintf(stderr, "dump: %s\n", msg);
	if (cur_file[0])
		unlink(cur_file);
	if (cur_target > 0)
		kill(cur_target, SIGKILL);
	exit(2);
}

/* ---- the target ---- */

static void target_start(struct target *t, const struct opts *o, double gib)
{
	int in[2], out[2];
	char arg[32], line[256];

	if (pipe(in) || pipe(out))
		die("pipe");
	snprintf(arg, sizeof(arg), "%g", gib);
	t->pid = fork();
	if (t->pid < 0)
		die("fork");
	if (!t->pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(o->target, o->target, arg, (char *)NULL);
		_exit(127);
	}
	cur_target = t->pid;
	close(in[0]);
	close(out[1]);
	t->in = fdopen(in[1], "w");
	t->out = fdopen(out[0], "r");
	if (!t->out || !fgets(line, sizeof(line), t->out) || strncmp(line, "ready", 5))
		die("the target did not start");
}

static void target_cmd(struct target *t, const char *cmd, char *reply, size_t len)
{
	fprintf(t->in, "%s\n", cmd);
	fflush(t->in);
	if (!fgets(reply, (int)len, t->out))
		die("the target does not answer");
}

static double target_gap_ms(struct target *t)
{
	char r[64];

	target_cmd(t, "report", r, sizeof(r));
	return strtod(r + 7, NULL) / 1000;
}

static void target_stop(struct target *t)
{
	char r[64];

	target_cmd(t, "quit", r, sizeof(r));
	fclose(t->in);
	fclose(t->out);
	waitpid(t->pid, NULL, 0);
	cur_target = 0;
}

/* ---- MemAvailable while a dump runs ---- */

struct memwatch {
	pthread_t th;
	atomic_int stop;
	long long base_kb, min_kb;
};

static long long mem_available_kb(void)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static void *memwatch_loop(void *arg)
{
	struct memwatch *w = arg;

	while (!atomic_load(&w->stop)) {
		long long kb = mem_available_kb();

		if (kb >= 0 && kb < w->min_kb)
			w->min_kb = kb;
		usleep(2000);
	}
	return NULL;
}

static void memwatch_start(struct memwatch *w)
{
	atomic_store(&w->stop, 0);
	w->base_kb = w->min_kb = mem_available_kb();
	pthread_create(&w->th, NULL, memwatch_loop, w);
}

static double memwatch_stop_mib(struct memwatch *w)
{
	atomic_store(&w->stop, 1);
	pthread_join(w->th, NULL);
	return (double)(w->base_kb - w->min_kb) / 1024;
}

/* ---- subprocesses ---- */

/* run() - @argv with stdout into @out (may be NULL), stderr kept in a
 * buffer printed on failure.  Returns the exit status. */
static int run(char *const argv[], char *out, size_t len)
{
	int p[2], status;
	size_t o = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		dup2(null, 2);
		close(p[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out ? out + o : (char[4096]){ 0 }, out ? len - 1 - o : 4096)) > 0)
		if (out)
			o += (size_t)n;
	if (out)
		out[o] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static double json_num(const char *json, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\": ", key);
	p = strstr(json, k);
	return p ? strtod(p + strlen(k), NULL) : -1;
}

static double file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (double)st.st_size;
}

static void fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* ---- the methods ---- */

/* Before each measurement: the previous file's unlink still discards its
 * blocks (the file system may be mounted with discard) and its dirty
 * metadata waits for a commit; sync() takes that out of the next method's
 * time. */
static void settle(void)
{
	sync();
	usleep(200000);
}

/* Around a dump by either tool: the disk settled, the target's gap zeroed
 * and its writer started, MemAvailable watched; then the writer stopped,
 * the extra memory and the target's longest gap taken. */
static void dump_begin(const struct opts *o, struct target *t, struct memwatch *w)
{
	char r[64], dirty[32];

	snprintf(dirty, sizeof(dirty), "dirty %g", o->dirty);
	settle();
	target_cmd(t, "reset", r, sizeof(r));
	target_cmd(t, dirty, r, sizeof(r));
	memwatch_start(w);
}

static void dump_end(struct target *t, struct memwatch *w, struct sample *s)
{
	char r[64];

	s->extra_mib = memwatch_stop_mib(w);
	target_cmd(t, "clean", r, sizeof(r));
	s->gap_ms = target_gap_ms(t);
}

static void measure_pss(const struct opts *o, struct target *t, struct sample *s)
{
	char prefix[1100], pid[16], out[4096];
	char *argv[] = { (char *)o->pss, "dump", "--json", "-o", prefix, pid, NULL };
	struct memwatch w;
	double t0;
	int rc;

	snprintf(prefix, sizeof(prefix), "%s/bench-core", o->dir);
	snprintf(pid, sizeof(pid), "%d", t->pid);
	snprintf(cur_file, sizeof(cur_file), "%s.%d", prefix, t->pid);
	dump_begin(o, t, &w);
	t0 = now_s();
	rc = run(argv, out, sizeof(out));
	s->wall_s = now_s() - t0;
	dump_end(t, &w, s);
	if (rc != 0 && rc != 1) {
		fprintf(stderr, "dump: pss dump exited %d: %s\n", rc, out);
		die("pss dump failed");
	}
	s->pause_ms = json_num(out, "pause_ms");
	s->bytes = json_num(out, "bytes");
	unlink(cur_file);
	cur_file[0] = '\0';
}

static void measure_gcore(const struct opts *o, struct target *t, struct sample *s)
{
	char prefix[1100], pid[16];
	char *argv[] = { "gcore", "-o", prefix, pid, NULL };
	struct memwatch w;
	double t0;
	int rc;

	snprintf(prefix, sizeof(prefix), "%s/bench-gcore", o->dir);
	snprintf(pid, sizeof(pid), "%d", t->pid);
	snprintf(cur_file, sizeof(cur_file), "%s.%d", prefix, t->pid);
	dump_begin(o, t, &w);
	t0 = now_s();
	rc = run(argv, NULL, 0);
	fsync_path(cur_file);
	s->wall_s = now_s() - t0;
	dump_end(t, &w, s);
	if (rc)
		die("gcore failed");
	s->pause_ms = s->gap_ms;
	s->bytes = file_size(cur_file);
	unlink(cur_file);
	cur_file[0] = '\0';
}

/* The limit: @bytes written sequentially from a buffer, then fsync; with
 * @direct through O_DIRECT (the disk reads the buffer, no page cache: the
 * way pss writes memory to a file system that allows it). */
static void measure_plain(const struct opts *o, double bytes, bool direct, struct sample *s)
{
	size_t chunk = 1 << 20;
	char *buf = aligned_alloc(4096, chunk);
	double left = bytes, t0;
	int fd;

	if (!buf)
		die("out of memory");
	memset(buf, 0x5a, chunk);
	snprintf(cur_file, sizeof(cur_file), "%s/bench-plain.%d", o->dir, getpid());
	settle();
	fd = open(cur_file, O_WRONLY | O_CREAT | O_EXCL | (direct ? O_DIRECT : 0), 0600);
	if (fd < 0)
		die("cannot create the plain-write file");
	t0 = now_s();
	while (left > 0) {
		size_t n = left < (double)chunk ? (size_t)left : chunk;
		ssize_t w;

		/* O_DIRECT takes whole blocks: the tail goes buffered. */
		if (direct && n % 4096)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT);
		w = write(fd, buf, n);
		if (w <= 0)
			die("plain write failed");
		left -= (double)w;
	}
	fsync(fd);
	s->wall_s = now_s() - t0;
	close(fd);
	unlink(cur_file);
	cur_file[0] = '\0';
	free(buf);
	s->bytes = bytes;
	s->pause_ms = s->gap_ms = s->extra_mib = 0;
}

/* ---- report ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of each field over @n samples into @m. */
static void median(const struct sample *s, int n, struct sample *m)
{
	double v[MAX_RUNS];

	for (size_t f = 0; f < sizeof(*m) / sizeof(double); f++) {
		for (int i = 0; i < n; i++)
			v[i] = ((const double *)&s[i])[f];
		qsort(v, (size_t)n, sizeof(double), cmp_double);
		((double *)m)[f] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	}
}

static double gbps(const struct sample *s)
{
	return s->wall_s > 0 ? s->bytes / s->wall_s / 1e9 : 0;
}

static void row(double gib, const char *name, const struct sample *s, const struct sample *plain,
		bool memory)
{
	char pause[32] = "-", gap[32] = "-", mem[32] = "-";

	if (s->pause_ms > 0)
		snprintf(pause, sizeof(pause), "%.1f", s->pause_ms);
	if (s->gap_ms > 0)
		snprintf(gap, sizeof(gap), "%.1f", s->gap_ms);
	if (memory)
		snprintf(mem, sizeof(mem), "%.0f", s->extra_mib);
	printf("| %g GiB | %-10s | %7.2f | %8s | %8s | %6.2f | %6.2f | %4.0f%% | %8s |\n", gib, name,
	       s->wall_s, pause, gap, s->bytes / (double)(1ull << 30), gbps(s),
	       gbps(plain) > 0 ? 100 * gbps(s) / gbps(plain) : 0, mem);
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dump [--sizes 1,4] [--runs N] [--dirty FRACTION] [--dir DIR] [--no-gcore]\n"
		"            [--quick] [--pss PATH] [--target PATH]\n"
		"  --sizes    target sizes in GiB (default 1,4)\n"
		"  --runs     runs per method, median reported (default 3)\n"
		"  --dirty    fraction of its memory the target rewrites during a dump (0.25)\n"
		"  --dir      where the cores are written (default /var/tmp)\n"
		"  --quick    --sizes 0.25 --runs 1\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	o->sizes[0] = 1;
	o->sizes[1] = 4;
	o->nsizes = 2;
	o->runs = 3;
	o->dirty = 0.25;
	snprintf(o->dir, sizeof(o->dir), "/var/tmp");
	/* build/bench/dump: the tool is build/pss, the target build/bench/. */
	snprintf(o->pss, sizeof(o->pss), "%.*s/../pss", PATH_MAX - 8, self);
	snprintf(o->target, sizeof(o->target), "%.*s/dump-target", PATH_MAX - 16, self);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--sizes") && v) {
			char *s = strdup(v), *tok, *save;

			o->nsizes = 0;
			for (tok = strtok_r(s, ",", &save); tok && o->nsizes < MAX_SIZES;
			     tok = strtok_r(NULL, ",", &save))
				o->sizes[o->nsizes++] = atof(tok);
			free(s);
			i++;
		} else if (!strcmp(a, "--runs") && v) {
			o->runs = atoi(v);
			i++;
		} else if (!strcmp(a, "--dirty") && v) {
			o->dirty = atof(v);
			i++;
		} else if (!strcmp(a, "--dir") && v) {
			snprintf(o->dir, sizeof(o->dir), "%s", v);
			i++;
		} else if (!strcmp(a, "--pss") && v) {
			snprintf(o->pss, sizeof(o->pss), "%s", v);
			i++;
		} else if (!strcmp(a, "--target") && v) {
			snprintf(o->target, sizeof(o->target), "%s", v);
			i++;
		} else if (!strcmp(a, "--no-gcore")) {
			o->no_gcore = 1;
		} else if (!strcmp(a, "--quick")) {
			o->sizes[0] = 0.25;
			o->nsizes = 1;
			o->runs = 1;
		} else {
			usage(!strcmp(a, "--help") ? stdout : stderr);
			exit(!strcmp(a, "--help") ? 0 : 2);
		}
	}
	if (o->runs < 1 || o->runs > MAX_RUNS)
		o->runs = 3;
}

int main(int argc, char **argv)
{
	struct sample sp[MAX_RUNS], sg[MAX_RUNS], sw[MAX_RUNS], sd[MAX_RUNS], mp, mg, mw, md;
	struct target t;
	struct opts o = { 0 };
	bool ok = true;

	parse(argc, argv, &o);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (access(o.pss, X_OK) || access(o.target, X_OK))
		die("build first: make && make -f bench/bench.mk bench (or --pss/--target)");
	if (!o.no_gcore && system("command -v gcore >/dev/null 2>&1"))
		o.no_gcore = 1;
	printf("pss dump vs gcore vs a plain write+fsync; cores in %s; the target rewrites %.0f%% of "
	       "its memory during each dump; median of %d run(s)\n\n", o.dir, o.dirty * 100, o.runs);
	printf("| size | method | wall s | pause ms | gap ms | core GiB | GB/s | of plain | extra MiB |\n");
	printf("|------|--------|-------:|---------:|-------:|---------:|-----:|---------:|----------:|\n");
	for (int z = 0; z < o.nsizes; z++) {
		struct sample warm;

		target_start(&t, &o, o.sizes[z]);
		/* Whoever writes first pays for fresh page-cache memory in this VM
		 * (measured: the first 4 GiB write takes twice as long): warm up
		 * once, then alternate which of pss and plain goes first. */
		measure_plain(&o, o.sizes[z] * 1073741824.0, false, &warm);
		for (int r = 0; r < o.runs; r++) {
			if (r & 1) {
				measure_plain(&o, o.sizes[z] * 1073741824.0, false, &sw[r]);
				measure_pss(&o, &t, &sp[r]);
			} else {
				measure_pss(&o, &t, &sp[r]);
				measure_plain(&o, sp[r].bytes, false, &sw[r]);
			}
			measure_plain(&o, sp[r].bytes, true, &sd[r]);
			if (!o.no_gcore)
				measure_gcore(&o, &t, &sg[r]);
		}
		target_stop(&t);
		median(sw, o.runs, &mw);
		median(sp, o.runs, &mp);
		median(sd, o.runs, &md);
		row(o.sizes[z], "plain", &mw, &mw, false);
		row(o.sizes[z], "O_DIRECT", &md, &mw, false);
		row(o.sizes[z], "pss dump", &mp, &mw, true);
		ok &= gbps(&mp) >= 0.8 * gbps(&mw);
		if (!o.no_gcore) {
			median(sg, o.runs, &mg);
			row(o.sizes[z], "gcore", &mg, &mw, true);
			ok &= gbps(&mp) > gbps(&mg);
		}
		fflush(stdout);
	}
	printf("\npause ms: the library's pause_ms for pss (gcore: the target's gap, it is stopped "
	       "throughout); gap ms: the longest time the target's clock thread did not run; "
	       "extra MiB: the drop of MemAvailable while the dump ran.\n");
	printf("goals (pss above gcore, and >= 80%% of the plain write): %s\n", ok ? "met" : "NOT met");
	return 0;
}
