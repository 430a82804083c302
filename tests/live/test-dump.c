// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pss dump, run as a subprocess against real victims: names and modes of
 * the files it writes, that it never overwrites a file or follows a
 * symlink, that a failed or interrupted dump leaves nothing behind and the
 * target untouched, -z against the plain core, -o - on stdout, --json,
 * --freeze, the summary's pause and the exit codes.
 *
 * The tool is $PSS_TEST_BUILD/pss (tests/run-tests.sh sets it; default
 * build/).  Each test runs it in a fresh directory of its own, so "nothing
 * left behind" is checked as "the directory holds exactly these names".
 * Cores are checked by parsing them: ELF ET_CORE, every PT_LOAD inside the
 * file, and the victim's pattern region (vp_word(), see victim.h) at its
 * address.
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
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PAT_LEN (4u << 20)
#define PAT_SEED 7

/* The names in @dir, sorted, joined by spaces ("" if empty). */
static char *dir_names(const char *dir, char *buf, size_t len)
{
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, ".."))
			o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s", o ? " " : "",
					      list[i]->d_name);
		free(list[i]);
	}
	if (n >= 0)
		free(list);
	return buf;
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

struct run_opts {
	const char *cwd;	/* working directory */
	long long fsize;	/* RLIMIT_FSIZE in bytes (0: none) */
	int umask_;		/* umask in the child (-1: inherit) */
	const char *env;	/* one "NAME=value" to add, or NULL */
	int out_fd;		/* stdout, or -1: the file io/stdout */
};

struct run {
	int status;		/* exit code, or 128 + signal */
	char out_path[PATH_MAX];	/* where stdout went (out_fd -1) */
	char err[16384];	/* stderr */
};

static char io_dir[128];

/* pss_spawn() - start pss with @argv (argv[0] excluded); stderr goes to
 * io/stderr, stdout to @ro->out_fd or io/stdout. */
static pid_t pss_spawn(const struct run_opts *ro, const char *const argv[], struct run *r)
{
	const char *args[32];
	char errp[PATH_MAX];
	int n = 0, ofd, efd;
	pid_t pid;

	if (!io_dir[0])
		snprintf(io_dir, sizeof(io_dir), "%s", scratch_dir("dump"));
	snprintf(r->out_path, sizeof(r->out_path), "%s/stdout", io_dir);
	snprintf(errp, sizeof(errp), "%s/stderr", io_dir);
	args[n++] = pss_bin();
	for (; argv[n - 1] && n < 31; n++)
		args[n] = argv[n - 1];
	args[n] = NULL;
	ofd = ro->out_fd >= 0 ? dup(ro->out_fd) : open(r->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(ofd >= 0 && efd >= 0, "io files: %s", strerror(errno));
	pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		struct rlimit rl = { (rlim_t)ro->fsize, (rlim_t)ro->fsize };

		dup2(ofd, STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		if (ro->cwd && chdir(ro->cwd) < 0)
			_exit(126);
		if (ro->fsize)
			setrlimit(RLIMIT_FSIZE, &rl);
		if (ro->umask_ >= 0)
			umask((mode_t)ro->umask_);
		if (ro->env)
			putenv((char *)ro->env);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(ofd);
	close(efd);
	return pid;
}

/* pss_reap() - wait for pss (up to 60 s, then SIGKILL), read its stderr. */
static void pss_reap(pid_t pid, struct run *r)
{
	char errp[PATH_MAX];
	int st = 0, n;
	uint64_t t0 = now_ns();

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ns() - t0 > 60000000000ull) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			harness_fail(__FILE__, __LINE__, "pss %d did not finish in 60 s", pid);
			break;
		}
		msleep(2);
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	snprintf(errp, sizeof(errp), "%s/stderr", io_dir);
	n = read_text(errp, r->err, sizeof(r->err));
	if (n < 0)
		r->err[0] = '\0';
	diag("pss exit %d, stderr: %s", r->status, r->err);
}

/* pss_run() - run pss to the end. */
static void pss_run(const struct run_opts *ro, struct run *r, const char *const argv[])
{
	pss_reap(pss_spawn(ro, argv, r), r);
}

#define RUN(ro, r, ...) pss_run(ro, r, (const char *const[]){ __VA_ARGS__, NULL })
#define RUN_OPTS(dir) { .cwd = (dir), .umask_ = -1, .out_fd = -1 }

/* ---- victims ---- */

/* A victim with a PAT_LEN pattern region (ptrace REQUIRED: the caller
 * dumps it); its address in *addr, its pid as the text of a command-line
 * argument in @pid (16 bytes). */
static void victim_with_pattern(struct target *t, uint64_t *addr, char pid[16])
{
	char r[256];

	REQUIRE_PTRACE();
	start_victim(t);
	snprintf(pid, 16, "%d", t->pid);
	target_cmdf(t, r, sizeof(r), "pat-alloc %u %d private", PAT_LEN, PAT_SEED);
	*addr = (uint64_t)reply_get(r, "addr", 0);
	REQUIRE(*addr, "pat-alloc: %s", r);
}

/* The target was not disturbed: it answers, nobody traces it, nothing is
 * stopped, and no clone of ours is left under it. */
static void check_target_fine(struct target *t)
{
	char r[256];
	int clones = -1;

	REQUIRE(target_cmd(t, "ping", r, sizeof(r)) > 0, "victim does not answer");
	CHECK(strstr(r, "pong"), "victim: %s", r);
	/* When pss died of a signal, its tracer finishes what it was doing (a
	 * stop of a few milliseconds at most) before it lets the target go. */
	for (int i = 0; i < 200 && (proc_tracer_pid(t->pid) || !no_thread_traced(t->pid)); i++)
		msleep(10);
	CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	CHECK(no_thread_traced(t->pid), "a thread is still traced or in a ptrace stop");
	CHECK(proc_state(t->pid) != 'T', "victim left stopped");
	/* The clone is reaped by the time pss exits; allow its zombie a
	 * moment to be collected when pss died of a signal. */
	for (int i = 0; i < 300 && (clones = clone_procs_under(t->pid, true)) > 0; i++)
		msleep(10);
	CHECK_EQ_INT(clones, 0);
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

/* ---- reading cores ---- */

struct core {
	unsigned char *data;
	size_t len;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
	unsigned phnum;
};

static bool read_all(const char *path, unsigned char **ret, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t o = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		goto fail;
	*ret = malloc((size_t)st.st_size + 1);
	if (!*ret)
		goto fail;
	while (o < (size_t)st.st_size) {
		ssize_t n = read(fd, *ret + o, (size_t)st.st_size - o);

		if (n <= 0)
			break;
		o += (size_t)n;
	}
	close(fd);
	*len = o;
	return true;
fail:
	if (fd >= 0)
		close(fd);
	return false;
}

/* core_load() - read @path and CHECK that it is a well-formed x86-64 core:
 * ET_CORE, a PT_NOTE, PT_LOADs whose file bytes lie inside the file. */
static bool core_load(const char *path, struct core *c)
{
	unsigned notes = 0, loads = 0;

	memset(c, 0, sizeof(*c));
	if (!read_all(path, &c->data, &c->len)) {
		harness_fail(__FILE__, __LINE__, "cannot read %s: %s", path, strerror(errno));
		return false;
	}
	c->eh = (Elf64_Ehdr *)c->data;
	if (c->len < sizeof(*c->eh) || memcmp(c->eh->e_ident, ELFMAG, SELFMAG) ||
	    c->eh->e_ident[EI_CLASS] != ELFCLASS64 || c->eh->e_type != ET_CORE ||
	    c->eh->e_machine != EM_X86_64) {
		harness_fail(__FILE__, __LINE__, "%s (%zu bytes) is not an x86-64 ELF core", path, c->len);
		return false;
	}
	c->phnum = c->eh->e_phnum;
	if (c->phnum == PN_XNUM && c->eh->e_shoff + sizeof(Elf64_Shdr) <= c->len)
		c->phnum = ((Elf64_Shdr *)(c->data + c->eh->e_shoff))->sh_info;
	if (c->eh->e_phoff + (uint64_t)c->phnum * sizeof(Elf64_Phdr) > c->len) {
		harness_fail(__FILE__, __LINE__, "%s: program headers past the end", path);
		return false;
	}
	c->ph = (Elf64_Phdr *)(c->data + c->eh->e_phoff);
	for (unsigned i = 0; i < c->phnum; i++) {
		notes += c->ph[i].p_type == PT_NOTE;
		loads += c->ph[i].p_type == PT_LOAD;
		CHECK(c->ph[i].p_offset + c->ph[i].p_filesz <= c->len,
		      "%s: segment %u [%#llx +%#llx] past the end (%zu)", path, i,
		      (unsigned long long)c->ph[i].p_offset, (unsigned long long)c->ph[i].p_filesz, c->len);
	}
	CHECK(notes >= 1, "%s has no PT_NOTE", path);
	CHECK(loads >= 1, "%s has no PT_LOAD", path);
	return notes >= 1 && loads >= 1;
}

static void core_free(struct core *c)
{
	free(c->data);
	memset(c, 0, sizeof(*c));
}

/* The file bytes of [addr, addr+len) in the core, or NULL. */
static const unsigned char *core_mem(const struct core *c, uint64_t addr, size_t len)
{
	for (unsigned i = 0; i < c->phnum; i++) {
		const Elf64_Phdr *p = &c->ph[i];

		if (p->p_type == PT_LOAD && addr >= p->p_vaddr && addr + len <= p->p_vaddr + p->p_filesz)
			return c->data + p->p_offset + (addr - p->p_vaddr);
	}
	return NULL;
}

/* CHECK that the core holds the victim's pattern region. */
static void check_pattern(const struct core *c, uint64_t addr)
{
	const uint64_t *w = (const uint64_t *)core_mem(c, addr, PAT_LEN);
	uint64_t bad = 0;

	CHECK(w, "no PT_LOAD holds the pattern region at %#llx", (unsigned long long)addr);
	if (!w)
		return;
	for (uint64_t i = 0; i < PAT_LEN / 8; i++)
		bad += w[i] != vp_word(PAT_SEED, i);
	CHECK_EQ_U64(bad, 0);
}

static void check_core_file(const char *path, uint64_t addr)
{
	struct core c;

	if (core_load(path, &c))
		check_pattern(&c, addr);
	core_free(&c);
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? (mode_t)-1 : st.st_mode;
}

/* The "target paused N ms" figure of the summary, or -1. */
static double summary_pause(const char *err)
{
	const char *p = strstr(err, "target paused ");

	return p ? strtod(p + 14, NULL) : -1;
}

/* ---- tests ---- */

/* gcore's naming: core.PID in the working directory, 0600 even under
 * umask 0, a valid core with the victim's memory, a summary with the pause
 * time, and nothing else left in the directory. */
TEST(default_name_mode_and_summary)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	struct target t;
	struct run r;
	char pid[16], path[PATH_MAX], want[64], names[512];
	uint64_t addr;

	victim_with_pattern(&t, &addr, pid);
	ro.umask_ = 0;
	RUN(&ro, &r, "dump", pid);
	CHECK_EQ_INT(r.status, 0);
	snprintf(path, sizeof(path), "%s/core.%d", dir, t.pid);
	snprintf(want, sizeof(want), "core.%d", t.pid);
	CHECK(!strcmp(dir_names(dir, names, sizeof(names)), want), "directory holds '%s'", names);
	CHECK(S_ISREG(file_mode(path)), "core.%d is not a regular file", t.pid);
	CHECK_EQ_HEX(file_mode(path) & 07777, 0600);
	check_core_file(path, addr);
	CHECK(strstr(r.err, want), "summary does not name the file: %s", r.err);
	CHECK(summary_pause(r.err) > 0, "no pause time in the summary: %s", r.err);
	check_target_fine(&t);
}

/* -o PREFIX (with a directory part) writes PREFIX.PID; -p PIDs repeat. */
TEST(prefix_and_several_pids)
{
	const char *dir = scratch_dir("dump"), *out = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	struct target t1, t2;
	struct run r;
	char p1[16], p2[16], prefix[PATH_MAX - 32], path[PATH_MAX], names[512], want[128];
	uint64_t a1, a2;

	victim_with_pattern(&t1, &a1, p1);
	victim_with_pattern(&t2, &a2, p2);
	snprintf(prefix, sizeof(prefix), "%s/snap", out);
	RUN(&ro, &r, "dump", "-o", prefix, "-p", p1, "--pid", p2);
	CHECK_EQ_INT(r.status, 0);
	CHECK(!strcmp(dir_names(dir, names, sizeof(names)), ""), "cwd holds '%s'", names);
	snprintf(want, sizeof(want), "snap.%d snap.%d", t1.pid < t2.pid ? t1.pid : t2.pid,
		 t1.pid < t2.pid ? t2.pid : t1.pid);
	CHECK(!strcmp(dir_names(out, names, sizeof(names)), want), "output dir holds '%s'", names);
	snprintf(path, sizeof(path), "%s.%d", prefix, t1.pid);
	CHECK_EQ_HEX(file_mode(path) & 07777, 0600);
	check_core_file(path, a1);
	snprintf(path, sizeof(path), "%s.%d", prefix, t2.pid);
	check_core_file(path, a2);
	check_target_fine(&t1);
	check_target_fine(&t2);
}

/* A file at the path is left as it is, the error names it, exit 2, and
 * the target is never touched. */
TEST(row63_existing_file_untouched)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	static const char sentinel[] = "sentinel, not a core\n";
	char pid[16], path[PATH_MAX], buf[128];
	struct target t;
	struct run r;
	int fd;

	REQUIRE_PTRACE();
	start_victim(&t);
	snprintf(pid, sizeof(pid), "%d", t.pid);
	snprintf(path, sizeof(path), "%s/core.%d", dir, t.pid);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	REQUIRE(fd >= 0 && write(fd, sentinel, strlen(sentinel)) == (ssize_t)strlen(sentinel), "sentinel");
	close(fd);
	RUN(&ro, &r, "dump", pid);
	CHECK_EQ_INT(r.status, 2);
	CHECK(strstr(r.err, "exists"), "stderr: %s", r.err);
	CHECK(read_text(path, buf, sizeof(buf)) == (int)strlen(sentinel) && !strcmp(buf, sentinel),
	      "the existing file changed: '%s'", buf);
	CHECK_EQ_HEX(file_mode(path) & 07777, 0644);
	CHECK(!strcmp(dir_names(dir, buf, sizeof(buf)), strrchr(path, '/') + 1), "dir holds '%s'", buf);
	check_target_fine(&t);
}

/* A symlink at the path (to a sentinel, or dangling) is not followed,
 * not replaced, and reported with exit 2. */
TEST(row63_existing_symlink_untouched)
{
	const char *dir = scratch_dir("dump"), *other = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	static const char sentinel[] = "sentinel\n";
	char pid[16], link[PATH_MAX], victim_file[PATH_MAX], dangling[PATH_MAX], buf[PATH_MAX];
	struct target t;
	struct run r;
	int fd;

	REQUIRE_PTRACE();
	start_victim(&t);
	snprintf(pid, sizeof(pid), "%d", t.pid);
	snprintf(victim_file, sizeof(victim_file), "%s/precious", other);
	fd = open(victim_file, O_WRONLY | O_CREAT | O_EXCL, 0644);
	REQUIRE(fd >= 0 && write(fd, sentinel, strlen(sentinel)) == (ssize_t)strlen(sentinel), "sentinel");
	close(fd);
	snprintf(link, sizeof(link), "%s/core.%d", dir, t.pid);
	REQUIRE(symlink(victim_file, link) == 0, "symlink: %s", strerror(errno));
	RUN(&ro, &r, "dump", pid);
	CHECK_EQ_INT(r.status, 2);
	CHECK(strstr(r.err, "exists"), "stderr: %s", r.err);
	CHECK(S_ISLNK(file_mode(link)), "the symlink was replaced");
	CHECK(readlink(link, buf, sizeof(buf)) == (ssize_t)strlen(victim_file), "symlink changed");
	CHECK(read_text(victim_file, buf, sizeof(buf)) == (int)strlen(sentinel) && !strcmp(buf, sentinel),
	      "the symlink's target changed: '%s'", buf);
	/* A dangling symlink must not be followed to create its target. */
	unlink(link);
	snprintf(dangling, sizeof(dangling), "%s/created-through-link", other);
	REQUIRE(symlink(dangling, link) == 0, "symlink: %s", strerror(errno));
	RUN(&ro, &r, "dump", pid);
	CHECK_EQ_INT(r.status, 2);
	CHECK(access(dangling, F_OK) < 0 && errno == ENOENT, "pss followed a dangling symlink");
	CHECK(S_ISLNK(file_mode(link)), "the dangling symlink was replaced");
	check_target_fine(&t);
}

/* A write that fails (RLIMIT_FSIZE far below the core's size) leaves no
 * core and no temporary, exits 2 with the reason, and the target is left
 * running, untraced and without a clone: plain, zstd, and with the named
 * temporary (file systems without O_TMPFILE). */
static void fsize_case(const char *mode)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	char pid[16], names[512];
	struct target t;
	struct run r;
	uint64_t addr;

	victim_with_pattern(&t, &addr, pid);
	ro.fsize = 256 * 1024;
	if (!strcmp(mode, "named"))
		ro.env = "PSS_DUMP_NO_TMPFILE=1";
	if (!strcmp(mode, "zstd"))
		RUN(&ro, &r, "dump", "-z", pid);
	else
		RUN(&ro, &r, "dump", pid);
	diag("mode %s", mode);
	CHECK_EQ_INT(r.status, 2);
	CHECK(strstr(r.err, "File too large"), "stderr does not give the reason: %s", r.err);
	CHECK(!strcmp(dir_names(dir, names, sizeof(names)), ""), "left behind: '%s'", names);
	check_target_fine(&t);
	target_cmdf(&t, names, sizeof(names), "pat-check %#llx %u %d", (unsigned long long)addr,
		    PAT_LEN, PAT_SEED);
	CHECK(reply_get(names, "mismatches", -1) == 0, "victim memory changed: %s", names);
	target_kill(&t);
}

TEST(row64_failed_write_leaves_nothing)
{
	REQUIRE_PTRACE();
	fsize_case("tmpfile");
	fsize_case("named");
	fsize_case("zstd");
}

/* -z: a .zst file, 0600, that decompresses to a core of the same layout as
 * the plain core of the same (stopped) victim, with the same memory. */
TEST(zstd_matches_plain)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	char pid[16], plain[PATH_MAX], zst[PATH_MAX], unz[PATH_MAX], cmd[3 * PATH_MAX];
	struct core a, b;
	struct target t;
	struct run r;
	uint64_t addr;

	victim_with_pattern(&t, &addr, pid);
	/* The victim idles in read(): both snapshots see the same threads and
	 * mappings, so the two cores have the same layout. */
	RUN(&ro, &r, "dump", pid);
	CHECK_EQ_INT(r.status, 0);
	RUN(&ro, &r, "dump", "-z", "-o", "z", pid);
	CHECK_EQ_INT(r.status, 0);
	snprintf(plain, sizeof(plain), "%s/core.%d", dir, t.pid);
	snprintf(zst, sizeof(zst), "%s/z.%d.zst", dir, t.pid);
	snprintf(unz, sizeof(unz), "%s/unz", io_dir);
	CHECK_EQ_HEX(file_mode(zst) & 07777, 0600);
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s' > '%s'", zst, unz);
	REQUIRE(system(cmd) == 0, "zstd -d failed on %s", zst);
	REQUIRE(core_load(plain, &a) && core_load(unz, &b), "cores");
	CHECK_EQ_U64(b.len, a.len);
	CHECK_EQ_INT(b.phnum, a.phnum);
	for (unsigned i = 0; i < a.phnum && i < b.phnum; i++) {
		CHECK(a.ph[i].p_type == b.ph[i].p_type && a.ph[i].p_vaddr == b.ph[i].p_vaddr &&
		      a.ph[i].p_filesz == b.ph[i].p_filesz && a.ph[i].p_memsz == b.ph[i].p_memsz &&
		      a.ph[i].p_offset == b.ph[i].p_offset && a.ph[i].p_flags == b.ph[i].p_flags,
		      "program header %u differs", i);
	}
	check_pattern(&b, addr);
	check_pattern(&a, addr);
	core_free(&a);
	core_free(&b);
	check_target_fine(&t);
}

/* -o - writes a valid core to stdout and creates no file; -o - -z writes
 * zstd to stdout. */
TEST(stdout_core)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	char pid[16], names[512], cmd[3 * PATH_MAX], unz[PATH_MAX];
	struct target t;
	struct run r;
	uint64_t addr;

	victim_with_pattern(&t, &addr, pid);
	RUN(&ro, &r, "dump", "-o", "-", pid);
	CHECK_EQ_INT(r.status, 0);
	CHECK(!strcmp(dir_names(dir, names, sizeof(names)), ""), "cwd holds '%s'", names);
	check_core_file(r.out_path, addr);
	CHECK(summary_pause(r.err) > 0, "no pause time in the summary: %s", r.err);

	RUN(&ro, &r, "dump", "-z", "-o", "-", pid);
	CHECK_EQ_INT(r.status, 0);
	snprintf(unz, sizeof(unz), "%s/unz", io_dir);
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c < '%s' > '%s'", r.out_path, unz);
	REQUIRE(system(cmd) == 0, "zstd -d failed on the -z -o - output");
	check_core_file(unz, addr);
	CHECK(!strcmp(dir_names(dir, names, sizeof(names)), ""), "cwd holds '%s'", names);
	check_target_fine(&t);
}

/* python3 checks @json_path: one object with these values. */
static int py_check(const char *json_path, const char *expr)
{
	char cmd[PATH_MAX + 1024];

	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if (%s) else 1)' < '%s'",
		 expr, json_path);
	return system(cmd);
}

/* --json prints one parseable object with the right pid, file, status and
 * numbers; a failed pid gets status "failed". */
TEST(json_summary)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	char pid[16], gone[16], expr[512], body[4096];
	struct target t;
	struct run r;
	uint64_t addr;

	REQUIRE_PTRACE();
	if (system("python3 -c 'import json' 2>/dev/null") != 0)
		SKIP("python3 is not installed");
	victim_with_pattern(&t, &addr, pid);
	RUN(&ro, &r, "dump", "--json", pid);
	CHECK_EQ_INT(r.status, 0);
	read_text(r.out_path, body, sizeof(body));
	diag("json: %s", body);
	snprintf(expr, sizeof(expr),
		 "d[\"pid\"] == %d and d[\"file\"] == \"core.%d\" and d[\"status\"] == \"ok\" and "
		 "d[\"compressed\"] is False and d[\"bytes\"] > %u and d[\"pause_ms\"] > 0 and "
		 "d[\"seconds\"] > 0 and d[\"pause_ms\"] <= d[\"seconds\"] * 1000",
		 t.pid, t.pid, PAT_LEN);
	CHECK(py_check(r.out_path, expr) == 0, "JSON does not parse or is wrong: %s", body);

	/* A file name that is not UTF-8, with a control byte: still JSON. */
	RUN(&ro, &r, "dump", "--json", "-o", "bad\xff\x01name", pid);
	CHECK_EQ_INT(r.status, 0);
	read_text(r.out_path, body, sizeof(body));
	snprintf(expr, sizeof(expr), "d[\"file\"] == \"bad\\ufffd\\u0001name.%d\" and d[\"status\"] == \"ok\"",
		 t.pid);
	CHECK(py_check(r.out_path, expr) == 0, "JSON of an odd file name: %s", body);

	snprintf(gone, sizeof(gone), "%d", dead_pid());
	RUN(&ro, &r, "dump", "--json", gone);
	CHECK_EQ_INT(r.status, 2);
	snprintf(expr, sizeof(expr), "d[\"pid\"] == %s and d[\"status\"] == \"failed\" and len(d[\"error\"]) > 0",
		 gone);
	read_text(r.out_path, body, sizeof(body));
	CHECK(py_check(r.out_path, expr) == 0, "JSON of a failure: %s", body);
	check_target_fine(&t);
}

/* Exit codes: 64 for bad usage (before touching anything), 2 for a pid
 * that does not exist, 1 when one of two PIDs fails. */
TEST(exit_codes)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	char pid[16], gone[16], names[512], want[64];
	struct target t;
	struct run r;

	REQUIRE_PTRACE();
	start_victim(&t);
	snprintf(pid, sizeof(pid), "%d", t.pid);
	snprintf(gone, sizeof(gone), "%d", dead_pid());
	RUN(&ro, &r, "dump");
	CHECK_EQ_INT(r.status, 64);
	RUN(&ro, &r, "dump", "--no-such-option", pid);
	CHECK_EQ_INT(r.status, 64);
	RUN(&ro, &r, "dump", "12abc");
	CHECK_EQ_INT(r.status, 64);
	RUN(&ro, &r, "dump", "-o", "-", pid, pid);
	CHECK_EQ_INT(r.status, 64);
	RUN(&ro, &r, "dump", "-o", "-", "--json", pid);
	CHECK_EQ_INT(r.status, 64);
	CHECK(!strcmp(dir_names(dir, names, sizeof(names)), ""), "usage errors left '%s'", names);
	RUN(&ro, &r, "dump", gone);
	CHECK_EQ_INT(r.status, 2);
	CHECK(strstr(r.err, "no such process"), "stderr: %s", r.err);
	RUN(&ro, &r, "dump", pid, gone);
	CHECK_EQ_INT(r.status, 1);
	snprintf(want, sizeof(want), "core.%d", t.pid);
	CHECK(!strcmp(dir_names(dir, names, sizeof(names)), want), "dir holds '%s'", names);
	RUN(&ro, &r, "dump", "--help");
	CHECK_EQ_INT(r.status, 0);
	check_target_fine(&t);
}

/* --freeze: the parent sees the target continued, the target runs
 * afterwards, and the reported stop covers the whole dump; a target that
 * was stopped before stays stopped. */
TEST(freeze)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	char pid[16], body[4096];
	siginfo_t si;
	struct target t;
	struct run r;
	uint64_t addr;

	victim_with_pattern(&t, &addr, pid);
	RUN(&ro, &r, "dump", "--freeze", "--json", pid);
	CHECK_EQ_INT(r.status, 0);
	CHECK(strstr(r.err, "target stopped"), "summary: %s", r.err);
	/* Once continued, the kernel reports the continue (the stop before it
	 * is no longer waitable): a continue means pss stopped it. */
	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_PID, (id_t)t.pid, &si, WCONTINUED | WNOHANG) == 0 && si.si_pid == t.pid &&
	      si.si_code == CLD_CONTINUED, "no continue reported to the parent");
	read_text(r.out_path, body, sizeof(body));
	CHECK(py_check(r.out_path, "d[\"frozen\"] is True and d[\"pause_ms\"] > 0") == 0, "json: %s", body);
	check_target_fine(&t);

	/* Already stopped: pss must not continue it. */
	REQUIRE(kill(t.pid, SIGSTOP) == 0, "SIGSTOP");
	for (int i = 0; i < 500 && proc_state(t.pid) != 'T'; i++)
		msleep(2);
	RUN(&ro, &r, "dump", "--freeze", "-o", "again", pid);
	CHECK_EQ_INT(r.status, 0);
	msleep(50);
	CHECK(proc_state(t.pid) == 'T', "a target stopped before the dump was continued (state %c)",
	      proc_state(t.pid));
	kill(t.pid, SIGCONT);
	check_target_fine(&t);
}

/* SIGINT while the capture holds the target (the library's fault point
 * pauses it there): the named temporary disappears, pss dies of SIGINT,
 * the target is released. */
TEST(sigint_cleans_up)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	char pid[16], names[512];
	struct target t;
	struct run r;
	pid_t p;
	int seen = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	snprintf(pid, sizeof(pid), "%d", t.pid);
	ro.env = "PSS_DUMP_NO_TMPFILE=1";
	fault_arm("after-interrupt:pause");
	p = pss_spawn(&ro, (const char *const[]){ "dump", pid, NULL }, &r);
	/* Wait for the temporary and for the target to be held. */
	for (int i = 0; i < 5000 && !seen; i++) {
		seen = dir_names(dir, names, sizeof(names))[0] == '.' && proc_tracer_pid(t.pid) > 0;
		if (!seen)
			msleep(1);
	}
	CHECK(seen, "never saw the temporary and the held target (dir '%s')", names);
	kill(p, SIGINT);
	msleep(100);
	fault_release();
	pss_reap(p, &r);
	fault_disarm();
	CHECK_EQ_INT(r.status, 128 + SIGINT);
	CHECK(!strcmp(dir_names(dir, names, sizeof(names)), ""), "left behind: '%s'", names);
	check_target_fine(&t);
}

/* Two signals while the core is stuck on a full stdout pipe: pss dies at
 * the second, and the library still ends the clone and frees the target. */
TEST(second_signal_while_blocked)
{
	const char *dir = scratch_dir("dump");
	struct run_opts ro = RUN_OPTS(dir);
	char pid[16];
	struct target t;
	struct run r;
	uint64_t addr;
	int pfd[2], queued = 0;
	siginfo_t si;
	pid_t p;

	victim_with_pattern(&t, &addr, pid);
	REQUIRE(pipe(pfd) == 0, "pipe");
	ro.out_fd = pfd[1];
	p = pss_spawn(&ro, (const char *const[]){ "dump", "-o", "-", pid, NULL }, &r);
	close(pfd[1]);
	/* Full: the queued byte count stops growing (pss blocks in write). */
	for (int i = 0, last = -1, same = 0; i < 1000 && same < 4; i++) {
		msleep(20);
		ioctl(pfd[0], FIONREAD, &queued);
		same = queued > 0 && queued == last ? same + 1 : 0;
		last = queued;
	}
	CHECK(queued >= 4096, "the pipe never filled (%d bytes)", queued);
	kill(p, SIGINT);
	msleep(200);
	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_PID, (id_t)p, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0,
	      "pss died at the first signal");
	kill(p, SIGINT);
	pss_reap(p, &r);
	close(pfd[0]);
	CHECK_EQ_INT(r.status, 128 + SIGINT);
	check_target_fine(&t);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
