// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pss watch, run as a subprocess against real victims: a CPU trigger that
 * stays quiet while the victim idles and fires while its spinner thread
 * burns a CPU, -n and -s (exactly N cores, their starts at least S seconds
 * apart, by the file names and by the --json times), an RSS trigger that
 * fires only once the victim's memory passes the line (not at half of it),
 * -z, the exit codes (the target exiting first, no such process, bad
 * usage) and SIGINT.
 *
 * The tool is $PSS_TEST_BUILD/pss (tests/run-tests.sh sets it; default
 * build/).  Cores go to a fresh directory of their own and the tool's
 * stdout and stderr to another, so "no core before the trigger" is checked
 * as "the directory is empty".  Cores are checked by parsing them: an
 * x86-64 ELF with e_type ET_CORE.
 */
#include "harness.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MIB (1024ull * 1024)

/* The names in @dir, sorted, at most @max of them; returns how many. */
static int dir_list(const char *dir, char names[][NAME_MAX + 1], int max)
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort), k = 0;

	for (int i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
			if (k < max)
				snprintf(names[k], NAME_MAX + 1, "%s", list[i]->d_name);
			k++;
		}
		free(list[i]);
	}
	if (n >= 0)
		free(list);
	return k;
}

static int dir_count(const char *dir)
{
	char names[1][NAME_MAX + 1];

	return dir_list(dir, names, 0);
}

/* ---- running pss ---- */

static const char *pss_bin(void)
{
	static char path[PATH_MAX];
	const char *b = getenv("PSS_TEST_BUILD");

	snprintf(path, sizeof(path), "%s/pss", b && *b ? b : "build");
	REQUIRE(access(path, X_OK) == 0, "%s: %s", path, strerror(errno));
	return path;
}

struct run {
	pid_t pid;
	int status;		/* exit code, or 128 + signal; -1 still running */
	char io[128];		/* directory of its stdout and stderr */
	char out[8192];		/* stdout */
	char err[8192];		/* stderr */
};

/* pss_start() - pss watch with @argv (after "watch"), in @cwd, stdout and
 * stderr to files in a directory of their own (one per test). */
static void pss_start(struct run *r, const char *cwd, const char *const argv[])
{
	static char io_dir[128];
	const char *args[32];
	char path[PATH_MAX + 16];
	int n = 0, ofd, efd;

	if (!io_dir[0])
		snprintf(io_dir, sizeof(io_dir), "%s", scratch_dir("watch"));
	memset(r, 0, sizeof(*r));
	r->status = -1;
	snprintf(r->io, sizeof(r->io), "%s", io_dir);
	args[n++] = pss_bin();
	args[n++] = "watch";
	for (int i = 0; argv[i] && n < 31; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	snprintf(path, sizeof(path), "%s/stdout", r->io);
	ofd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	snprintf(path, sizeof(path), "%s/stderr", r->io);
	efd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(ofd >= 0 && efd >= 0, "io files: %s", strerror(errno));
	r->pid = fork();
	REQUIRE(r->pid >= 0, "fork: %s", strerror(errno));
	if (!r->pid) {
		dup2(ofd, STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		if (cwd && chdir(cwd) < 0)
			_exit(126);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(ofd);
	close(efd);
}

/* pss_running() - true while pss has not exited (it is not reaped). */
static bool pss_running(struct run *r)
{
	siginfo_t si = { 0 };

	return !waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) && !si.si_pid;
}

/* pss_reap() - wait up to @ms for pss (then SIGKILL it and fail), read its
 * output. */
static void pss_reap(struct run *r, unsigned ms)
{
	char path[PATH_MAX + 16];
	uint64_t t0 = now_ns();
	int st = 0;

	while (waitpid(r->pid, &st, WNOHANG) == 0) {
		if (now_ns() - t0 > (uint64_t)ms * 1000000ull) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &st, 0);
			harness_fail(__FILE__, __LINE__, "pss %d did not finish in %u ms", r->pid, ms);
			break;
		}
		msleep(5);
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	snprintf(path, sizeof(path), "%s/stdout", r->io);
	if (read_text(path, r->out, sizeof(r->out)) < 0)
		r->out[0] = '\0';
	snprintf(path, sizeof(path), "%s/stderr", r->io);
	if (read_text(path, r->err, sizeof(r->err)) < 0)
		r->err[0] = '\0';
	diag("pss exit %d, stderr: %s", r->status, r->err);
}

static void pss_run(struct run *r, const char *cwd, const char *const argv[])
{
	pss_start(r, cwd, argv);
	pss_reap(r, 20000);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- checking results ---- */

/* json_field() - the text after "@key": in the @nth line (0-based) of
 * @out, up to the next ',' or '}'.  NULL if absent. */
static const char *json_field(const char *out, int nth, const char *key, char *buf, size_t len)
{
	char pat[64];
	const char *line = out, *end, *p;
	size_t n;

	for (int i = 0; i < nth && line; i++) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (!line || !*line)
		return NULL;
	end = strchr(line, '\n');
	if (!end)
		end = line + strlen(line);
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(line, pat);
	if (!p || p > end)
		return NULL;
	p += strlen(pat);
	n = strcspn(p, ",}\n");
	if (*p == '"') {
		p++;
		n = strcspn(p, "\"");
	}
	snprintf(buf, len, "%.*s", (int)n, p);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* is_core() - @path is an x86-64 ELF whose e_type is ET_CORE. */
static bool is_core(const char *path)
{
	Elf64_Ehdr eh;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, &eh, sizeof(eh));
	close(fd);
	return n == (ssize_t)sizeof(eh) && !memcmp(eh.e_ident, ELFMAG, SELFMAG) &&
	       eh.e_ident[EI_CLASS] == ELFCLASS64 && eh.e_type == ET_CORE &&
	       eh.e_machine == EM_X86_64;
}

/*
 * name_time() - parse PREFIX_TRIG_YYYYmmdd_HHMMSS.PID (local time) and
 * return the time in seconds since 1970, or -1 if @name has another form.
 */
static long long name_time(const char *name, const char *prefix, const char *trig, pid_t pid)
{
	char head[64], tail[32];
	struct tm tm = { 0 };
	const char *p;

	snprintf(head, sizeof(head), "%s_%s_", prefix, trig);
	if (strncmp(name, head, strlen(head)))
		return -1;
	p = strptime(name + strlen(head), "%Y%m%d_%H%M%S", &tm);
	snprintf(tail, sizeof(tail), ".%d", pid);
	if (!p || strcmp(p, tail))
		return -1;
	tm.tm_isdst = -1;
	return (long long)mktime(&tm);
}

/* The target was not disturbed: it answers, nobody traces it, nothing is
 * stopped. */
static void check_target_fine(struct target *t)
{
	char r[256];

	REQUIRE(target_cmd(t, "ping", r, sizeof(r)) > 0, "victim does not answer");
	CHECK(strstr(r, "pong"), "victim: %s", r);
	CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	CHECK(no_thread_traced(t->pid), "a thread is still traced or in a ptrace stop");
	CHECK(proc_state(t->pid) != 'T', "victim left stopped");
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();

	REQUIRE(pid >= 0, "fork");
	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

/* ---- tests ---- */

/* --cpu 50 -n 2 -s 1: nothing while the victim idles, then exactly two
 * cores at least a second apart once its spinner burns a CPU. */
TEST(cpu_two_dumps_apart)
{
	char names[4][NAME_MAX + 1], pidbuf[16], path[PATH_MAX + NAME_MAX], v[64], f[PATH_MAX];
	const char *dir = scratch_dir("watch");
	long long t_name[2];
	double t_json[2];
	struct target t;
	struct run r;
	char reply[128];
	time_t t_start, t_end;
	int n;

	REQUIRE_PTRACE();
	start_victim(&t);
	snprintf(pidbuf, sizeof(pidbuf), "%d", t.pid);
	t_start = time(NULL);
	pss_start(&r, dir, ARGS(pidbuf, "--cpu", "50", "-n", "2", "-s", "1", "-o", "w",
				"--interval", "200", "--json"));
	/* Idle: a second and a half of samples below the line. */
	msleep(1500);
	CHECK(pss_running(&r), "pss watch ended while the victim was idle");
	CHECK_EQ_INT(dir_count(dir), 0);
	target_cmdf(&t, reply, sizeof(reply), "spin");
	pss_reap(&r, 20000);
	t_end = time(NULL);
	CHECK_EQ_INT(r.status, 0);
	n = dir_list(dir, names, 4);
	REQUIRE_EQ_INT(n, 2);
	CHECK_EQ_INT(count_lines(r.out), 2);
	CHECK_EQ_INT(count_lines(r.err), 2);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		CHECK(is_core(path), "%s is not an ELF core", names[i]);
		t_name[i] = name_time(names[i], "w", "cpu", t.pid);
		CHECK(t_name[i] >= (long long)t_start && t_name[i] <= (long long)t_end,
		      "%s: time %lld outside [%lld, %lld]", names[i], t_name[i],
		      (long long)t_start, (long long)t_end);
		CHECK(strstr(r.err, names[i]), "stderr does not name %s", names[i]);
		/* JSON lines come in dump order, as do the sorted names. */
		REQUIRE(json_field(r.out, i, "file", f, sizeof(f)), "no file in: %s", r.out);
		CHECK(!strcmp(f, names[i]), "json file %s, on disk %s", f, names[i]);
		CHECK(json_field(r.out, i, "trigger", v, sizeof(v)) && !strcmp(v, "cpu"),
		      "trigger %s", v);
		CHECK(json_field(r.out, i, "value", v, sizeof(v)) && atof(v) >= 50,
		      "cpu value %s below the threshold", v);
		CHECK(json_field(r.out, i, "status", v, sizeof(v)) && !strcmp(v, "ok"), "status %s",
		      v);
		CHECK(json_field(r.out, i, "pause_ms", v, sizeof(v)) && atof(v) > 0, "pause %s", v);
		REQUIRE(json_field(r.out, i, "time", v, sizeof(v)), "no time");
		t_json[i] = atof(v);
		CHECK_EQ_INT((long long)t_json[i], t_name[i]);
	}
	CHECK(t_name[1] - t_name[0] >= 1, "names %s and %s less than 1 s apart", names[0],
	      names[1]);
	CHECK(t_json[1] - t_json[0] >= 1.0, "dumps %.6f and %.6f less than 1 s apart", t_json[0],
	      t_json[1]);
	check_target_fine(&t);
}

/* --rss 64M fires once the victim holds more than 64 MiB, not at 32 MiB. */
TEST(rss_fires_past_threshold)
{
	char names[2][NAME_MAX + 1], pidbuf[16], path[PATH_MAX + NAME_MAX], v[64], reply[256];
	const char *dir = scratch_dir("watch");
	long long kb;
	struct target t;
	struct run r;

	REQUIRE_PTRACE();
	start_victim(&t);
	kb = status_kb(t.pid, "VmRSS");
	REQUIRE(kb > 0 && kb < 24 * 1024, "victim starts with VmRSS %lld kB", kb);
	snprintf(pidbuf, sizeof(pidbuf), "%d", t.pid);
	pss_start(&r, dir, ARGS("-p", pidbuf, "--rss", "64M", "-o", "m", "--interval", "100",
				"--json"));
	msleep(700);
	CHECK(pss_running(&r), "pss watch ended before the victim grew");
	CHECK_EQ_INT(dir_count(dir), 0);
	/* Half the line: still nothing. */
	target_cmdf(&t, reply, sizeof(reply), "pat-alloc %llu 1 private", 32 * MIB);
	REQUIRE(reply_get(reply, "addr", 0), "pat-alloc: %s", reply);
	kb = status_kb(t.pid, "VmRSS");
	CHECK(kb < 64 * 1024, "victim already at %lld kB", kb);
	msleep(700);
	CHECK(pss_running(&r), "pss watch ended at %lld kB", kb);
	CHECK_EQ_INT(dir_count(dir), 0);
	/* Past it. */
	target_cmdf(&t, reply, sizeof(reply), "pat-alloc %llu 2 private", 48 * MIB);
	REQUIRE(reply_get(reply, "addr", 0), "pat-alloc: %s", reply);
	pss_reap(&r, 20000);
	CHECK_EQ_INT(r.status, 0);
	REQUIRE_EQ_INT(dir_list(dir, names, 2), 1);
	snprintf(path, sizeof(path), "%s/%s", dir, names[0]);
	CHECK(is_core(path), "%s is not an ELF core", names[0]);
	CHECK(name_time(names[0], "m", "rss", t.pid) > 0, "name %s", names[0]);
	CHECK(json_field(r.out, 0, "trigger", v, sizeof(v)) && !strcmp(v, "rss"), "trigger %s", v);
	CHECK(json_field(r.out, 0, "value", v, sizeof(v)) && strtoull(v, NULL, 10) >= 64 * MIB,
	      "rss value %s", v);
	CHECK_EQ_INT(count_lines(r.out), 1);
	check_target_fine(&t);
}

/* -z: the core is compressed, the name ends in .zst. */
TEST(zstd_name_and_magic)
{
	static const unsigned char magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	char names[2][NAME_MAX + 1], pidbuf[16], path[PATH_MAX + NAME_MAX], reply[128], want[32];
	const char *dir = scratch_dir("watch");
	unsigned char head[4] = { 0 };
	struct target t;
	struct run r;
	int fd;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, reply, sizeof(reply), "spin");
	snprintf(pidbuf, sizeof(pidbuf), "%d", t.pid);
	pss_run(&r, dir, ARGS(pidbuf, "--cpu", "50", "-z", "--interval", "200"));
	CHECK_EQ_INT(r.status, 0);
	REQUIRE_EQ_INT(dir_list(dir, names, 2), 1);
	snprintf(want, sizeof(want), ".%d.zst", t.pid);
	CHECK(!strncmp(names[0], "core_cpu_", 9) && strlen(names[0]) > strlen(want) &&
	      !strcmp(names[0] + strlen(names[0]) - strlen(want), want), "name %s", names[0]);
	snprintf(path, sizeof(path), "%s/%s", dir, names[0]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && read(fd, head, 4) == 4 && !memcmp(head, magic, 4),
	      "%s does not start with the zstd magic", names[0]);
	if (fd >= 0)
		close(fd);
	check_target_fine(&t);
}

/* The target exits before any trigger: exit 2, a message, no file. */
TEST(target_exits_first)
{
	char pidbuf[16], reply[64];
	const char *dir = scratch_dir("watch");
	struct target t;
	struct run r;
	uint64_t t0;
	int st;

	start_victim(&t);
	snprintf(pidbuf, sizeof(pidbuf), "%d", t.pid);
	target_cmdf(&t, reply, sizeof(reply), "exit-after 800");
	t0 = now_ns();
	pss_run(&r, dir, ARGS(pidbuf, "--cpu", "90", "--rss", "1T", "-n", "3"));
	CHECK_EQ_INT(r.status, 2);
	CHECK(strstr(r.err, "exited") && strstr(r.err, pidbuf), "stderr: %s", r.err);
	CHECK_EQ_INT(dir_count(dir), 0);
	/* The exit ended the wait: a fresh sample, not a timeout. */
	diag("watch ended %.2f s after exit-after 800", (double)(now_ns() - t0) / 1e9);
	st = target_wait(&t, 5000);
	CHECK(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "victim wait status %d", st);

	snprintf(pidbuf, sizeof(pidbuf), "%d", dead_pid());
	pss_run(&r, dir, ARGS(pidbuf, "--rss", "1G"));
	CHECK_EQ_INT(r.status, 2);
	CHECK(strstr(r.err, "no such process"), "stderr: %s", r.err);
	CHECK_EQ_INT(dir_count(dir), 0);
}

/* SIGINT while waiting: pss dies of it, no file. */
TEST(sigint_stops)
{
	char pidbuf[16];
	const char *dir = scratch_dir("watch");
	struct target t;
	struct run r;

	start_victim(&t);
	snprintf(pidbuf, sizeof(pidbuf), "%d", t.pid);
	pss_start(&r, dir, ARGS(pidbuf, "--rss", "1T", "--interval", "100"));
	msleep(500);
	REQUIRE(pss_running(&r), "pss watch ended early");
	kill(r.pid, SIGINT);
	pss_reap(&r, 5000);
	CHECK_EQ_INT(r.status, 128 + SIGINT);
	CHECK(strstr(r.err, "stopped by"), "stderr: %s", r.err);
	CHECK_EQ_INT(dir_count(dir), 0);
	check_target_fine(&t);
}

/* has_file_open() - whether process @pid has a file under @dir open (the
 * dump's temporary: an O_TMPFILE reads "DIR/#INODE (deleted)"). */
static bool has_file_open(pid_t pid, const char *dir)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = !strncmp(link, dir, strlen(dir)) && link[strlen(dir)] == '/';
	}
	closedir(d);
	return found;
}

/* SIGINT while a core is being written: either it was cancelled (pss dies
 * of SIGINT and the directory stays empty) or it had just completed (exit
 * 0, one whole core); never a partial file, a traced target or a clone. */
TEST(sigint_during_dump)
{
	char names[2][NAME_MAX + 1], pidbuf[16], reply[256];
	const char *dir = scratch_dir("watch");
	struct target t;
	struct run r;
	uint64_t t0;
	bool seen = false;
	int n, clones = -1;

	REQUIRE_PTRACE();
	start_victim(&t);
	snprintf(pidbuf, sizeof(pidbuf), "%d", t.pid);
	pss_start(&r, dir, ARGS(pidbuf, "--rss", "200M", "-z", "--interval", "50"));
	target_cmdf(&t, reply, sizeof(reply), "pat-alloc %llu 3 private", 256 * MIB);
	REQUIRE(reply_get(reply, "addr", 0), "pat-alloc: %s", reply);
	for (t0 = now_ns(); now_ns() - t0 < 10000000000ull && pss_running(&r); ) {
		seen = has_file_open(r.pid, dir);
		if (seen)
			break;
		msleep(1);
	}
	kill(r.pid, SIGINT);
	pss_reap(&r, 20000);
	n = dir_list(dir, names, 2);
	diag("temporary %s seen; exit %d; %d file(s)", seen ? "was" : "not", r.status, n);
	CHECK(r.status == 128 + SIGINT || r.status == 0, "exit %d", r.status);
	if (r.status == 128 + SIGINT) {
		CHECK_EQ_INT(n, 0);
		CHECK(strstr(r.err, "stopped by") && strstr(r.err, "0 of 1"), "stderr: %s", r.err);
	} else if (r.status == 0) {
		REQUIRE_EQ_INT(n, 1);
		CHECK(strstr(names[0], ".zst"), "name %s", names[0]);
	}
	for (int i = 0; i < 300 && (clones = clone_procs_under(t.pid, true)) > 0; i++)
		msleep(10);
	CHECK_EQ_INT(clones, 0);
	check_target_fine(&t);
}

/* Bad usage: exit 64 and no file, before anything is sampled. */
TEST(bad_usage)
{
	const char *const *const bad[] = {
		ARGS("--cpu", "50"),				/* no PID */
		ARGS("1"),					/* no trigger */
		ARGS("1", "2", "--cpu", "50"),			/* two PIDs */
		ARGS("-p", "1", "-p", "2", "--cpu", "50"),
		ARGS("abc", "--cpu", "50"),
		ARGS("1", "--cpu", "0"),
		ARGS("1", "--cpu", "lots"),
		ARGS("1", "--rss", "12Q"),
		ARGS("1", "--rss", "-5M"),
		ARGS("1", "--cpu", "50", "-n", "0"),
		ARGS("1", "--cpu", "50", "-s", "x"),
		ARGS("1", "--cpu", "50", "--interval", "5"),
		ARGS("1", "--cpu", "50", "-o", ""),
		ARGS("1", "--cpu", "50", "--bogus"),
	};
	const char *dir = scratch_dir("watch");
	struct run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pss_run(&r, dir, bad[i]);
		CHECK_EQ_INT(r.status, 64);
		CHECK(r.err[0], "usage error %zu printed nothing", i);
	}
	pss_run(&r, dir, ARGS("--help"));
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.out, "--cpu") && strstr(r.out, "--rss"), "help: %s", r.out);
	CHECK_EQ_INT(dir_count(dir), 0);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
