// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The pss tool as a user runs it: info, threads, handles, vmmap and stacks
 * against a victim whose threads, mappings and fds are known
 * (tests/targets/cli-victim.c), in text and in --json; target selection
 * (several PIDs, -p, --name); stacks against eu-stack -p and gdb's
 * "thread apply all bt" on the same victim; and every error path with its
 * exit code and message.
 *
 * The tool is $PSS_TEST_BUILD/pss (tests/run-tests.sh sets it; default
 * build/).  JSON is parsed by python3's json module: each check is a small
 * python program given the document's path and the values the victim
 * reported, printing "FAIL: ..." for every mismatch.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define NOBODY 65534
#define OUT_MAX (1u << 20)

static char dir[128];

static void cleanup(void)
{
	char path[PATH_MAX];
	const char *names[] = { "out", "err", "file", "py" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* The scratch directory of this test: out, err, the mapped file. */
static const char *scratch(void)
{
	const char *tmp = getenv("TMPDIR");

	if (dir[0])
		return dir;
	snprintf(dir, sizeof(dir), "%s/pss-cli-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	chmod(dir, 0755);
	atexit(cleanup);
	return dir;
}

static const char *spath(const char *name)
{
	static char p[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", scratch(), name);
	return p[k];
}

static const char *pss_bin(void)
{
	static char path[PATH_MAX];
	const char *b = getenv("PSS_TEST_BUILD");

	snprintf(path, sizeof(path), "%s/pss", b && *b ? b : "build");
	REQUIRE(access(path, X_OK) == 0, "%s: %s", path, strerror(errno));
	return path;
}

struct run {
	int status;		/* exit code, or 128 + signal */
	char *out;		/* stdout (also in spath("out")) */
	char err[8192];
};

static void run_free(struct run *r)
{
	free(r->out);
	r->out = NULL;
}

/*
 * run_prog() - run @argv (argv[0] a path) to its end, at most 60 s, as
 * @uid (-1: ourselves), stdout to spath("out"), stderr to spath("err").
 */
static void run_prog(struct run *r, int uid, const char *const argv[])
{
	int ofd, efd, st = 0, n;
	uint64_t t0 = now_ns();
	pid_t pid;

	memset(r, 0, sizeof(*r));
	ofd = open(spath("out"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	efd = open(spath("err"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(ofd >= 0 && efd >= 0, "scratch files: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		dup2(ofd, STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		setenv("DEBUGINFOD_URLS", "", 1);
		if (uid >= 0 && (chdir("/") || setgroups(0, NULL) || setresgid(uid, uid, uid) ||
				 setresuid(uid, uid, uid)))
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(ofd);
	close(efd);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ns() - t0 > 60000000000ull) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			harness_fail(__FILE__, __LINE__, "%s did not finish in 60 s", argv[0]);
			break;
		}
		msleep(2);
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = malloc(OUT_MAX);
	REQUIRE(r->out, "malloc");
	if (read_text(spath("out"), r->out, OUT_MAX) < 0)
		r->out[0] = '\0';
	n = read_text(spath("err"), r->err, sizeof(r->err));
	if (n < 0)
		r->err[0] = '\0';
}

/* run_pss() - pss with @args (NULL-terminated, pss itself excluded). */
static void run_pss_v(struct run *r, int uid, const char *const args[])
{
	const char *argv[32];
	int n = 0;

	argv[n++] = pss_bin();
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	run_prog(r, uid, argv);
	if (r->status)
		diag("pss %s ... exit %d: %s", args[0], r->status, r->err);
}
#define PSS(r, ...) run_pss_v(r, -1, (const char *const[]){ __VA_ARGS__, NULL })
#define PSS_AS(r, uid, ...) run_pss_v(r, uid, (const char *const[]){ __VA_ARGS__, NULL })

/* Some line of @text holds @a and, unless NULL, @b. */
static bool has_line(const char *text, const char *a, const char *b)
{
	const char *p = text, *e;
	char line[4096];

	for (; *p; p = *e ? e + 1 : e) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		snprintf(line, sizeof(line), "%.*s", (int)(e - p), p);
		if (strstr(line, a) && (!b || strstr(line, b)))
			return true;
	}
	return false;
}
static void check_line(const char *text, const char *a, const char *b, int line)
{
	if (!has_line(text, a, b))
		harness_fail(__FILE__, line, "no line with '%s' and '%s' in:\n%s", a, b ? b : "",
			     text);
}
#define CHECK_LINE(text, a, b) check_line(text, a, b, __LINE__)

/*
 * py_check() - run the python program @prog on the JSON in spath("out")
 * with @args as sys.argv[2:]; it prints FAIL lines and exits 1 on a
 * mismatch.  The prelude gives it `doc` (the parsed document), `arg(i)`
 * (sys.argv[2+i] as a number when it is one) and `chk(cond, msg)`.
 */
static const char py_prelude[] =
	"import json, sys\n"
	"doc = json.load(open(sys.argv[1]))\n"
	"bad = []\n"
	"def arg(i):\n"
	"    s = sys.argv[2 + i]\n"
	"    try:\n"
	"        return int(s, 0)\n"
	"    except ValueError:\n"
	"        return s\n"
	"def chk(cond, msg):\n"
	"    if not cond:\n"
	"        bad.append(msg)\n";
static const char py_end[] =
	"\nfor b in bad:\n    print('FAIL:', b)\nsys.exit(1 if bad else 0)\n";

static void py_check_v(const char *prog, const char *const args[])
{
	char *script, json[PATH_MAX];
	const char *argv[32];
	struct run r;
	int n = 0;

	snprintf(json, sizeof(json), "%s", spath("py"));
	REQUIRE(rename(spath("out"), json) == 0, "rename: %s", strerror(errno));
	n = asprintf(&script, "%s%s%s", py_prelude, prog, py_end);
	REQUIRE(n > 0, "asprintf");
	n = 0;
	argv[n++] = "python3";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n++] = json;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	run_prog(&r, -1, argv);
	if (r.status) {
		harness_fail(__FILE__, __LINE__, "python check exit %d: %s%s", r.status, r.out, r.err);
		read_text(json, r.err, sizeof(r.err));
		diag("the JSON: %.2000s", r.err);
	}
	free(script);
	run_free(&r);
}
#define PY(prog, ...) py_check_v(prog, (const char *const[]){ __VA_ARGS__, NULL })

/* ---- the victim ---- */

struct cv {
	struct target t;
	char file[PATH_MAX];
	pid_t tid[3];		/* read, lock, pause */
	unsigned long long anon, anon_len, memfd_addr, file_addr;
	int memfd, listen, port, efd, pipe_r, pipe_w;
	char s[24][32];		/* the values as strings for python */
};

enum { S_PID, S_TREAD, S_TLOCK, S_TPAUSE, S_ANON, S_ANONLEN, S_MEMFD_ADDR, S_FILE_ADDR, S_MEMFD,
       S_LISTEN, S_PORT, S_EFD, S_PIPE_R, S_PIPE_W, S_PPID };

static void cv_start(struct cv *v)
{
	const char *argv[] = { v->file, NULL };
	char r[512];
	int fd;

	snprintf(v->file, sizeof(v->file), "%s", spath("file"));
	fd = open(v->file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0 && write(fd, "cli-victim mapped file\n", 23) == 23, "file");
	close(fd);
	REQUIRE(target_start(&v->t, "cli-victim", argv) == 0, "cli-victim did not start");
	target_cmdf(&v->t, r, sizeof(r), "info");
	v->tid[0] = (pid_t)reply_get(r, "tid_read", 0);
	v->tid[1] = (pid_t)reply_get(r, "tid_lock", 0);
	v->tid[2] = (pid_t)reply_get(r, "tid_pause", 0);
	v->anon = (unsigned long long)reply_get(r, "anon", 0);
	v->anon_len = (unsigned long long)reply_get(r, "anon_len", 0);
	v->memfd_addr = (unsigned long long)reply_get(r, "memfd_addr", 0);
	v->file_addr = (unsigned long long)reply_get(r, "file_addr", 0);
	v->memfd = (int)reply_get(r, "memfd", -1);
	v->listen = (int)reply_get(r, "listen", -1);
	v->port = (int)reply_get(r, "port", 0);
	v->efd = (int)reply_get(r, "efd", -1);
	v->pipe_r = (int)reply_get(r, "pipe_r", -1);
	v->pipe_w = (int)reply_get(r, "pipe_w", -1);
	REQUIRE(v->tid[0] && v->tid[1] && v->tid[2] && v->anon && v->port && v->pipe_w >= 0,
		"info: %s", r);
	/* The threads sit in read, futex and pause before anyone looks. */
	REQUIRE(wait_thread_syscall(v->t.pid, v->tid[0], SYS_read, 5000) == 0, "read thread");
	REQUIRE(wait_thread_syscall(v->t.pid, v->tid[1], SYS_futex, 5000) == 0, "lock thread");
	REQUIRE(wait_thread_syscall(v->t.pid, v->tid[2], SYS_pause, 5000) == 0, "pause thread");
	REQUIRE(wait_thread_syscall(v->t.pid, v->t.pid, SYS_read, 5000) == 0, "main thread");
	snprintf(v->s[S_PID], 32, "%d", v->t.pid);
	for (int i = 0; i < 3; i++)
		snprintf(v->s[S_TREAD + i], 32, "%d", v->tid[i]);
	snprintf(v->s[S_ANON], 32, "%llu", v->anon);
	snprintf(v->s[S_ANONLEN], 32, "%llu", v->anon_len);
	snprintf(v->s[S_MEMFD_ADDR], 32, "%llu", v->memfd_addr);
	snprintf(v->s[S_FILE_ADDR], 32, "%llu", v->file_addr);
	snprintf(v->s[S_MEMFD], 32, "%d", v->memfd);
	snprintf(v->s[S_LISTEN], 32, "%d", v->listen);
	snprintf(v->s[S_PORT], 32, "%d", v->port);
	snprintf(v->s[S_EFD], 32, "%d", v->efd);
	snprintf(v->s[S_PIPE_R], 32, "%d", v->pipe_r);
	snprintf(v->s[S_PIPE_W], 32, "%d", v->pipe_w);
	snprintf(v->s[S_PPID], 32, "%d", (int)getpid());
}

/* The victim is as we found it: answers, untraced, not stopped. */
static void cv_fine(struct cv *v)
{
	char r[512];

	REQUIRE(target_cmd(&v->t, "info", r, sizeof(r)) > 0, "victim does not answer");
	CHECK(strstr(r, "tid_read="), "victim: %s", r);
	CHECK_EQ_INT(proc_tracer_pid(v->t.pid), 0);
	CHECK(no_thread_traced(v->t.pid), "a thread is still traced or in a ptrace stop");
	CHECK(proc_state(v->t.pid) != 'T', "victim left stopped");
}

/* ---- text ---- */

TEST(text_output)
{
	struct cv v;
	struct run r;
	char a[64], b[64];

	cv_start(&v);
	PSS(&r, "threads", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	CHECK(has_line(r.out, "TID", "NAME"), "no header: %s", r.out);
	CHECK_LINE(r.out, v.s[S_TREAD], "cli-read");
	CHECK_LINE(r.out, v.s[S_TLOCK], "cli-lock");
	CHECK_LINE(r.out, v.s[S_TPAUSE], "cli-pause");
	CHECK_LINE(r.out, v.s[S_PID], "cli-victim");
	run_free(&r);

	PSS(&r, "vmmap", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	snprintf(a, sizeof(a), "%016llx %10llu", v.anon, v.anon_len / 1024);
	CHECK_LINE(r.out, a, "PRIVATE  READONLY");
	snprintf(a, sizeof(a), "%016llx", v.memfd_addr);
	CHECK_LINE(r.out, a, "MAPPED   READWRITE          /memfd:cli-memfd (deleted)");
	snprintf(a, sizeof(a), "%016llx", v.file_addr);
	CHECK_LINE(r.out, a, v.file);
	CHECK_LINE(r.out, "total", NULL);
	run_free(&r);

	PSS(&r, "handles", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	snprintf(a, sizeof(a), "%5d Socket ", v.listen);
	snprintf(b, sizeof(b), "127.0.0.1:%d (listen)", v.port);
	CHECK_LINE(r.out, a, b);
	snprintf(a, sizeof(a), "%5d EventFd     Event ", v.efd);
	CHECK_LINE(r.out, a, "count 5");
	snprintf(a, sizeof(a), "%5d Pipe ", v.pipe_r);
	CHECK_LINE(r.out, a, "pipe:[");
	snprintf(a, sizeof(a), "%5d Pipe ", v.pipe_w);
	CHECK_LINE(r.out, a, "pipe:[");
	snprintf(a, sizeof(a), "%5d MemFd       Section ", v.memfd);
	CHECK_LINE(r.out, a, "/memfd:cli-memfd (deleted)");
	run_free(&r);

	PSS(&r, "info", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	CHECK_LINE(r.out, "pid ", v.s[S_PID]);
	CHECK_LINE(r.out, "parent ", v.s[S_PPID]);
	CHECK_LINE(r.out, "command line", v.file);
	CHECK_LINE(r.out, "threads ", " 4");
	run_free(&r);
	cv_fine(&v);
	target_kill(&v.t);
}

/* ---- JSON ---- */

static const char py_threads[] =
	"pid, ppid = arg(0), arg(4)\n"
	"chk(isinstance(doc, dict) and doc['pid'] == pid, 'pid')\n"
	"ts = {t['tid']: t for t in doc['threads']}\n"
	"want = {pid: 'cli-victim', arg(1): 'cli-read', arg(2): 'cli-lock', arg(3): 'cli-pause'}\n"
	"chk(sorted(ts) == sorted(want), 'tids %s vs %s' % (sorted(ts), sorted(want)))\n"
	"for tid, name in want.items():\n"
	"    t = ts.get(tid, {})\n"
	"    chk(t.get('name') == name, 'tid %d name %r' % (tid, t.get('name')))\n"
	"    chk(t.get('state') == 'S', 'tid %d state %r' % (tid, t.get('state')))\n"
	"    chk(t.get('stopped') is False, 'tid %d stopped' % tid)\n"
	"    chk(('regs' in t) == (arg(5) == 'regs'), 'tid %d regs' % tid)\n"
	"    if 'regs' in t:\n"
	"        chk(t['regs']['rip'] > 0 and t['regs']['rsp'] > 0, 'tid %d rip/rsp' % tid)\n"
	"        chk(t['regs']['orig_rax'] == t['syscall'], 'tid %d orig_rax' % tid)\n"
	"chk(ts[arg(1)]['syscall'] == 0 and ts[arg(1)]['syscall_arg0'] == arg(6), 'read thread')\n"
	"chk(ts[arg(2)]['syscall'] == 202, 'lock thread in futex')\n"
	"chk(ts[arg(3)]['syscall'] == 34, 'pause thread in pause')\n"
	"chk(doc['complete'] is True, 'complete')\n"
	"chk(('pause_ms' in doc) == (arg(5) == 'regs'), 'pause_ms')\n";

static const char py_vmmap[] =
	"regs = doc['regions']\n"
	"chk(doc['pid'] == arg(0), 'pid')\n"
	"by = {r['address']: r for r in regs}\n"
	"a = by.get(arg(1), {})\n"
	"chk(a.get('size') == arg(2), 'anon size %r' % a.get('size'))\n"
	"chk(a.get('protect') == 'READONLY' and a.get('perms') == 'r--p', 'anon prot %r %r' % (a.get('protect'), a.get('perms')))\n"
	"chk(a.get('type') == 'PRIVATE' and a.get('state') == 'commit' and a.get('mapping') == '', 'anon type')\n"
	"g = by.get(arg(1) - 4096, {})\n"
	"chk(g.get('protect') == 'NOACCESS' and g.get('size') == 4096, 'guard page %r' % g)\n"
	"m = by.get(arg(3), {})\n"
	"chk(m.get('mapping', '').startswith('/memfd:cli-memfd'), 'memfd name %r' % m.get('mapping'))\n"
	"chk(m.get('size') == 12288 and m.get('perms') == 'rw-s' and m.get('type') == 'MAPPED', 'memfd %r' % m)\n"
	"chk(m.get('protect') == 'READWRITE', 'memfd protect')\n"
	"f = by.get(arg(4), {})\n"
	"chk(f.get('mapping') == arg(5) and f.get('perms') == 'r--p' and f.get('protect') == 'READONLY', 'file %r' % f)\n"
	"chk(f.get('deleted') is False and f.get('inode', 0) > 0, 'file inode')\n"
	"ends = [(r['address'], r['address'] + r['size']) for r in regs]\n"
	"chk(all(ends[i][1] <= ends[i + 1][0] for i in range(len(ends) - 1)), 'regions overlap or unsorted')\n"
	"chk(doc['total_size'] == sum(r['size'] for r in regs), 'total_size')\n"
	"chk(doc['complete'] is True, 'complete')\n";

static const char py_handles[] =
	"hs = {h['fd']: h for h in doc['handles']}\n"
	"chk(doc['pid'] == arg(0), 'pid')\n"
	"chk(len(hs) == len(doc['handles']), 'duplicate fds')\n"
	"s = hs.get(arg(1), {})\n"
	"so = s.get('socket', {})\n"
	"chk(s.get('type') == 'Socket' and so.get('listening') is True, 'listener %r' % s)\n"
	"chk(so.get('local') == '127.0.0.1:%d' % arg(2), 'listener address %r' % so.get('local'))\n"
	"chk(so.get('family') == 2 and so.get('type') == 1 and so.get('state') == 10, 'AF_INET SOCK_STREAM LISTEN')\n"
	"e = hs.get(arg(3), {})\n"
	"chk(e.get('type') == 'EventFd' and e.get('object_type') == 'Event', 'eventfd %r' % e)\n"
	"chk(e.get('eventfd', {}).get('count') == 5 and e['eventfd']['semaphore'] is False, 'eventfd count')\n"
	"pr, pw = hs.get(arg(4), {}), hs.get(arg(5), {})\n"
	"chk(pr.get('type') == 'Pipe' and pw.get('type') == 'Pipe', 'pipe types')\n"
	"chk(pr.get('name', '').startswith('pipe:[') and pr.get('name') == pw.get('name'), 'pipe names %r %r' % (pr.get('name'), pw.get('name')))\n"
	"chk(pr.get('inode') == pw.get('inode') and pr.get('inode', 0) > 0, 'pipe inode')\n"
	"m = hs.get(arg(6), {})\n"
	"chk(m.get('type') == 'MemFd' and m.get('object_type') == 'Section' and m.get('size') == 12288, 'memfd %r' % m)\n"
	"chk(doc['complete'] is True, 'complete')\n";

static const char py_info[] =
	"chk(doc['pid'] == arg(0) and doc['ppid'] == arg(1), 'pid/ppid')\n"
	"chk(doc['comm'] == 'cli-victim', 'comm %r' % doc['comm'])\n"
	"chk(doc['cmdline'][0].endswith('/cli-victim') and doc['cmdline'][1:] == [arg(2)], 'cmdline %r' % doc['cmdline'])\n"
	"chk(doc['exe'].endswith('/cli-victim'), 'exe')\n"
	"chk(doc['threads'] == 4 and doc['state'] == 'S' and doc['exited'] is False, 'threads/state')\n"
	"chk(doc['uid'] == 0 and doc['tracer_pid'] == 0 and doc['dumpable'] is True, 'uid/tracer/dumpable')\n"
	"chk(doc['virtual_size'] > 0 and doc['working_set'] > 0, 'sizes')\n"
	"chk(len(doc['created']) == 20 and doc['created'].endswith('Z'), 'created %r' % doc['created'])\n";

TEST(json_output)
{
	struct cv v;
	struct run r;

	cv_start(&v);
	PSS(&r, "threads", "--json", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	run_free(&r);
	PY(py_threads, v.s[S_PID], v.s[S_TREAD], v.s[S_TLOCK], v.s[S_TPAUSE], v.s[S_PPID], "-",
	   v.s[S_PIPE_R]);
	PSS(&r, "threads", "-r", "--json", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	run_free(&r);
	PY(py_threads, v.s[S_PID], v.s[S_TREAD], v.s[S_TLOCK], v.s[S_TPAUSE], v.s[S_PPID], "regs",
	   v.s[S_PIPE_R]);
	PSS(&r, "vmmap", "--json", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	run_free(&r);
	PY(py_vmmap, v.s[S_PID], v.s[S_ANON], v.s[S_ANONLEN], v.s[S_MEMFD_ADDR], v.s[S_FILE_ADDR],
	   v.file);
	PSS(&r, "handles", "--json", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	run_free(&r);
	PY(py_handles, v.s[S_PID], v.s[S_LISTEN], v.s[S_PORT], v.s[S_EFD], v.s[S_PIPE_R],
	   v.s[S_PIPE_W], v.s[S_MEMFD]);
	PSS(&r, "info", "--json", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	run_free(&r);
	PY(py_info, v.s[S_PID], v.s[S_PPID], v.file);
	cv_fine(&v);
	target_kill(&v.t);
}

/* Names are raw bytes: JSON escapes quotes, backslashes and control bytes,
 * and turns bytes that are not UTF-8 into U+FFFD. */
TEST(json_escaping)
{
	char r[128];
	struct run rr;
	struct cv v;

	REQUIRE_PTRACE();
	cv_start(&v);
	/* a " \ 0x01 0xff, 0xc3 before '(' (a broken sequence), é, z */
	target_cmdf(&v.t, r, sizeof(r), "rename 61225c01ffc328c3a97a");
	REQUIRE(!strcmp(r, "ok"), "rename: %s", r);
	PSS(&rr, "stacks", "--json", v.s[S_PID]);
	CHECK_EQ_INT(rr.status, 0);
	CHECK(strstr(rr.out, "\"a\\\"\\\\\\u0001\\ufffd\\ufffd(\xc3\xa9z\""), "raw: %.4000s", rr.out);
	run_free(&rr);
	PY("t = [t for t in doc['threads'] if t['tid'] == arg(0)][0]\n"
	   "chk(t['name'] == 'a\"\\\\\\x01\\ufffd\\ufffd(\\u00e9z', 'name %r' % t['name'])\n",
	   v.s[S_TPAUSE]);
	PSS(&rr, "threads", "--json", v.s[S_PID]);
	CHECK_EQ_INT(rr.status, 0);
	run_free(&rr);
	PY("t = [t for t in doc['threads'] if t['tid'] == arg(0)][0]\n"
	   "chk(t['name'].startswith('a\"\\\\\\x01') and t['name'].endswith('(\\u00e9z'), 'name %r' % t['name'])\n",
	   v.s[S_TPAUSE]);
	cv_fine(&v);
	target_kill(&v.t);
}

/* Several PIDs, -p, --name: one JSON array; a failed PID is an error object. */
TEST(targets)
{
	struct cv v1, v2;
	struct run r;
	char dead[16];
	pid_t pid;

	cv_start(&v1);
	cv_start(&v2);
	PSS(&r, "threads", "--json", "-p", v1.s[S_PID], v2.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	run_free(&r);
	PY("chk(isinstance(doc, list) and [d['pid'] for d in doc] == [arg(0), arg(1)], 'pids')\n"
	   "chk(all(len(d['threads']) == 4 for d in doc), 'threads')\n", v1.s[S_PID], v2.s[S_PID]);
	PSS(&r, "info", "--json", "--name", "cli-victim");
	CHECK_EQ_INT(r.status, 0);
	run_free(&r);
	PY("ps = [d['pid'] for d in doc]\n"
	   "chk(isinstance(doc, list) and arg(0) in ps and arg(1) in ps, 'pids %r' % ps)\n"
	   "chk(all(d['comm'] == 'cli-victim' for d in doc), 'comm')\n", v1.s[S_PID], v2.s[S_PID]);
	/* Text with several PIDs: a header per PID. */
	PSS(&r, "threads", "-p", v1.s[S_PID], "-p", v2.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	CHECK_LINE(r.out, "== pid ", v1.s[S_PID]);
	CHECK_LINE(r.out, "== pid ", v2.s[S_PID]);
	CHECK_LINE(r.out, v2.s[S_TPAUSE], "cli-pause");
	run_free(&r);
	/* One PID gone: exit 1 (partial), the array holds its error. */
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0);
	snprintf(dead, sizeof(dead), "%d", pid);
	PSS(&r, "handles", "--json", v1.s[S_PID], dead);
	CHECK_EQ_INT(r.status, 1);
	run_free(&r);
	PY("chk(len(doc) == 2 and doc[0]['pid'] == arg(0) and 'handles' in doc[0], 'first')\n"
	   "chk(doc[1]['pid'] == arg(1) and 'no such process' in doc[1]['error'], 'second %r' % doc[1])\n"
	   "chk(doc[1]['exit_status'] == 2, 'exit_status')\n", v1.s[S_PID], dead);
	cv_fine(&v1);
	cv_fine(&v2);
	target_kill(&v1.t);
	target_kill(&v2.t);
}

/* ---- stacks against eu-stack and gdb ---- */

#define MAXT 8
#define MAXF 64

/* Function names per thread, as one unwinder saw them. */
struct stacks {
	int n;
	pid_t tid[MAXT];
	int nf[MAXT];
	char fn[MAXT][MAXF][96];
};

static int st_thread(struct stacks *s, pid_t tid)
{
	for (int i = 0; i < s->n; i++)
		if (s->tid[i] == tid)
			return i;
	if (s->n == MAXT)
		return -1;
	s->tid[s->n] = tid;
	s->nf[s->n] = 0;
	return s->n++;
}

static void st_add(struct stacks *s, int t, const char *name, size_t len)
{
	if (t < 0 || s->nf[t] == MAXF)
		return;
	snprintf(s->fn[t][s->nf[t]++], 96, "%.*s", (int)len, name);
}

/* eu-stack's layout, which pss stacks shares: "TID n:", "#k 0xPC name[+off] ...". */
static void parse_eu(const char *text, struct stacks *s)
{
	const char *p = text, *q;
	int t = -1;

	memset(s, 0, sizeof(*s));
	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, "TID ", 4)) {
			t = st_thread(s, (pid_t)atoi(p + 4));
		} else if (*p == '#' && (q = strstr(p, " 0x"))) {
			q = strchr(q + 1, ' ');
			if (!q)
				continue;
			q++;
			st_add(s, t, q, strcspn(q, "+ \n"));
		}
	}
}

/* gdb: "Thread N (Thread 0x... (LWP tid) ...):", "#k  0xPC in name (args)" or "#0  name (...)". */
static void parse_gdb(const char *text, struct stacks *s)
{
	const char *p = text, *q;
	int t = -1;

	memset(s, 0, sizeof(*s));
	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, "Thread ", 7) && (q = strstr(p, "(LWP "))) {
			t = st_thread(s, (pid_t)atoi(q + 5));
		} else if (*p == '#') {
			q = p + strcspn(p, " ");
			q += strspn(q, " ");
			if (!strncmp(q, "0x", 2) && strstr(q, " in "))
				q = strstr(q, " in ") + 4;
			st_add(s, t, q, strcspn(q, " (\n"));
		}
	}
}

/* The victim's own functions in a thread's stack, innermost first. */
static void own_frames(const struct stacks *s, int t, char *buf, size_t len)
{
	static const char *const own[] = { "cli_wait_read", "cli_wait_lock", "cli_wait_pause",
					   "thread_read", "thread_lock", "thread_pause", "main" };
	size_t o = 0;

	buf[0] = '\0';
	for (int f = 0; t >= 0 && f < s->nf[t]; f++)
		for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++)
			if (!strcmp(s->fn[t][f], own[k]))
				o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s ", own[k]);
}

static void frames_str(const struct stacks *s, int t, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int f = 0; t >= 0 && f < s->nf[t]; f++)
		o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s ", s->fn[t][f]);
}

static bool have_tool(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

TEST(stacks_vs_eu_stack_and_gdb)
{
	static const char *const expect[3][2] = { { "cli_wait_read", "thread_read" },
						   { "cli_wait_lock", "thread_lock" },
						   { "cli_wait_pause", "thread_pause" } };
	struct stacks ps, eu, gd;
	char a[2048], b[2048], want[128];
	struct run r;
	struct cv v;

	REQUIRE_PTRACE();
	cv_start(&v);
	PSS(&r, "stacks", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	CHECK_LINE(r.out, "PID ", v.s[S_PID]);
	parse_eu(r.out, &ps);
	run_free(&r);
	CHECK_EQ_INT(ps.n, 4);
	for (int i = 0; i < 3; i++) {
		int t = st_thread(&ps, v.tid[i]);

		own_frames(&ps, t, a, sizeof(a));
		snprintf(want, sizeof(want), "%s %s ", expect[i][0], expect[i][1]);
		CHECK(!strcmp(a, want), "tid %d: own frames '%s', want '%s'", v.tid[i], a, want);
	}
	cv_fine(&v);

	/* The same frames as JSON. */
	PSS(&r, "stacks", "--json", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	run_free(&r);
	PY("ts = {t['tid']: [f['function'] for f in t['frames']] for t in doc['threads']}\n"
	   "chk(sorted(ts) == sorted([arg(0), arg(1), arg(2), arg(3)]), 'tids')\n"
	   "for i, fn in ((1, 'cli_wait_read'), (2, 'cli_wait_lock'), (3, 'cli_wait_pause')):\n"
	   "    chk(fn in ts[arg(i)], '%s in %r' % (fn, ts[arg(i)]))\n"
	   "names = {t['tid']: t['name'] for t in doc['threads']}\n"
	   "chk(names[arg(1)] == 'cli-read' and names[arg(3)] == 'cli-pause', 'names')\n"
	   "f = [t for t in doc['threads'] if t['tid'] == arg(1)][0]['frames']\n"
	   "own = [x for x in f if x['function'] == 'cli_wait_read'][0]\n"
	   "chk(own['module'].endswith('/cli-victim') and own['file'].endswith('cli-victim.c') and own['line'] > 0, 'file:line %r' % own)\n"
	   "chk(all(x['n'] == k for k, x in enumerate(f)) and all(x['pc'] > 0 for x in f), 'frame numbers')\n",
	   v.s[S_PID], v.s[S_TREAD], v.s[S_TLOCK], v.s[S_TPAUSE]);

	/* eu-stack -p, after pss is done: the same function names, frame for frame. */
	if (have_tool("eu-stack")) {
		run_prog(&r, -1, (const char *const[]){ "eu-stack", "-p", v.s[S_PID], NULL });
		CHECK_EQ_INT(r.status, 0);
		parse_eu(r.out, &eu);
		run_free(&r);
		CHECK_EQ_INT(eu.n, ps.n);
		for (int i = 0; i < ps.n; i++) {
			frames_str(&ps, i, a, sizeof(a));
			frames_str(&eu, st_thread(&eu, ps.tid[i]), b, sizeof(b));
			CHECK(!strcmp(a, b), "tid %d: pss '%s' vs eu-stack '%s'", ps.tid[i], a, b);
		}
		cv_fine(&v);
	} else {
		diag("eu-stack not installed: that comparison is not made");
	}

	/* gdb attaches only now, and detaches at the end of its batch. */
	if (have_tool("gdb")) {
		run_prog(&r, -1, (const char *const[]){ "gdb", "-nx", "-batch", "-p", v.s[S_PID],
			 "-ex", "set debuginfod enabled off", "-ex", "thread apply all bt", NULL });
		CHECK_EQ_INT(r.status, 0);
		parse_gdb(r.out, &gd);
		if (gd.n != ps.n)
			diag("gdb said: %.3000s", r.out);
		run_free(&r);
		CHECK_EQ_INT(gd.n, ps.n);
		for (int i = 0; i < ps.n; i++) {
			own_frames(&ps, i, a, sizeof(a));
			own_frames(&gd, st_thread(&gd, ps.tid[i]), b, sizeof(b));
			CHECK(a[0] && !strcmp(a, b), "tid %d: pss '%s' vs gdb '%s'", ps.tid[i], a, b);
		}
		cv_fine(&v);
	} else {
		diag("gdb not installed: that comparison is not made");
	}
	target_kill(&v.t);
}

/* ---- errors: exit codes and messages ---- */

/* stderr is one line, "pss: pid N: ..." for capture failures. */
static void check_one_line(const struct run *r)
{
	const char *nl = strchr(r->err, '\n');

	CHECK(nl && !nl[1], "stderr is not one line: '%s'", r->err);
}

TEST(error_usage_and_gone)
{
	char dead[16], kt[1024];
	struct run r;
	pid_t pid;

	PSS(&r, "threads");
	CHECK_EQ_INT(r.status, 64);
	CHECK(strstr(r.err, "no PID given"), "%s", r.err);
	run_free(&r);
	PSS(&r, "frobnicate", "1");
	CHECK_EQ_INT(r.status, 64);
	CHECK(strstr(r.err, "unknown command 'frobnicate'"), "%s", r.err);
	run_free(&r);
	PSS(&r, "vmmap", "12abc");
	CHECK_EQ_INT(r.status, 64);
	CHECK(strstr(r.err, "'12abc' is not a process id"), "%s", r.err);
	run_free(&r);
	PSS(&r, "info", "-p", "0");
	CHECK_EQ_INT(r.status, 64);
	run_free(&r);
	PSS(&r, "info", "--bogus", "1");
	CHECK_EQ_INT(r.status, 64);
	run_free(&r);

	PSS(&r, "info", "--name", "no-such-process-name-cli");
	CHECK_EQ_INT(r.status, 2);
	CHECK(strstr(r.err, "no process is named 'no-such-process-name-cli'"), "%s", r.err);
	check_one_line(&r);
	CHECK(!r.out[0], "stdout: %s", r.out);
	run_free(&r);

	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0);
	snprintf(dead, sizeof(dead), "%d", pid);
	const char *cmds[] = { "info", "threads", "handles", "vmmap", "stacks" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		PSS(&r, cmds[i], "--json", dead);
		CHECK_EQ_INT(r.status, 2);
		CHECK(strstr(r.err, "no such process") && strstr(r.err, dead), "%s: %s", cmds[i], r.err);
		CHECK(!r.out[0], "%s: stdout '%s'", cmds[i], r.out);
		check_one_line(&r);
		run_free(&r);
	}

	/* pid 2 is kthreadd where the pid namespace is the system's. */
	if (read_text("/proc/2/stat", kt, sizeof(kt)) > 0 && strstr(kt, "(kthreadd)")) {
		PSS(&r, "threads", "-r", "2");
		CHECK_EQ_INT(r.status, 2);
		CHECK(strstr(r.err, "pid 2 is a kernel thread"), "%s", r.err);
		check_one_line(&r);
		run_free(&r);
	} else {
		diag("pid 2 is not kthreadd here: the kernel-thread message is not checked");
	}
}

/* The number after "deferred_threads": in @json, -1 if absent. */
static long deferred_in(const char *json)
{
	const char *p = json ? strstr(json, "\"deferred_threads\":") : NULL;

	return p ? strtol(p + strlen("\"deferred_threads\":"), NULL, 10) : -1;
}

/*
 * Proves: with 300 idle threads, pss threads -r and pss dump read most of
 * them just after the pause and say so (deferred_threads in --json, a note
 * on the summary line), and --stop-all keeps every thread in the pause.
 */
TEST(stop_all_option)
{
	char r[256], pid[16], core[160];
	struct target t;
	struct run run;
	int e;

	REQUIRE_PTRACE();
	e = target_start(&t, "defer-victim", NULL);
	REQUIRE(e == 0, "cannot start defer-victim: %s", strerror(-e));
	target_cmdf(&t, r, sizeof(r), "sleepers 300");
	if (reply_get(r, "err", -1) == EAGAIN)
		SKIP("the kernel refuses 300 threads: %s", r);
	REQUIRE(reply_get(r, "n", -1) == 300, "victim: %s", r);
	victim_idle(&t);
	snprintf(pid, sizeof(pid), "%d", (int)t.pid);
	snprintf(core, sizeof(core), "%s", spath("core"));

	PSS(&run, "threads", "-r", "--json", pid);
	CHECK_EQ_INT(run.status, 0);
	CHECK(deferred_in(run.out) >= 250, "deferred_threads %ld", deferred_in(run.out));
	run_free(&run);
	PSS(&run, "threads", "-r", "--json", "--stop-all", pid);
	CHECK_EQ_INT(run.status, 0);
	CHECK_EQ_INT(deferred_in(run.out), 0);
	run_free(&run);

	PSS(&run, "dump", "--json", "-o", core, pid);
	CHECK_EQ_INT(run.status, 0);
	CHECK(deferred_in(run.out) >= 250, "deferred_threads %ld", deferred_in(run.out));
	CHECK(strstr(run.err, "idle threads read just after"), "summary: %s", run.err);
	run_free(&run);
	snprintf(core, sizeof(core), "%s.%d", spath("core"), (int)t.pid);
	unlink(core);
	snprintf(core, sizeof(core), "%s", spath("core"));
	PSS(&run, "dump", "--json", "--stop-all", "-o", core, pid);
	CHECK_EQ_INT(run.status, 0);
	CHECK_EQ_INT(deferred_in(run.out), 0);
	CHECK(!strstr(run.err, "idle threads"), "summary: %s", run.err);
	run_free(&run);
	snprintf(core, sizeof(core), "%s.%d", spath("core"), (int)t.pid);
	unlink(core);

	target_cmdf(&t, r, sizeof(r), "ping");
	CHECK(!strncmp(r, "pong", 4), "victim after the captures: %s", r);
	target_kill(&t);
}

/* Another tracer: 77, and the message names it by pid. */
TEST(error_already_traced)
{
	pid_t me = (pid_t)syscall(SYS_gettid);
	char want[64];
	struct run r;
	struct cv v;
	int st;

	REQUIRE_PTRACE();
	cv_start(&v);
	REQUIRE(ptrace(PTRACE_SEIZE, v.t.pid, 0, 0) == 0, "PTRACE_SEIZE: %s", strerror(errno));
	snprintf(want, sizeof(want), "already traced by pid %d", (int)me);
	PSS(&r, "threads", "-r", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 77);
	CHECK(strstr(r.err, want), "want '%s': %s", want, r.err);
	check_one_line(&r);
	run_free(&r);
	PSS(&r, "stacks", "--json", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 77);
	CHECK(strstr(r.err, want), "want '%s': %s", want, r.err);
	CHECK(!r.out[0], "stdout '%s'", r.out);
	run_free(&r);
	/* Let go: interrupt, wait for the stop, detach. */
	CHECK(ptrace(PTRACE_INTERRUPT, v.t.pid, 0, 0) == 0, "PTRACE_INTERRUPT: %s", strerror(errno));
	CHECK(waitpid(v.t.pid, &st, __WALL) == v.t.pid, "waitpid: %s", strerror(errno));
	CHECK(ptrace(PTRACE_DETACH, v.t.pid, 0, 0) == 0, "PTRACE_DETACH: %s", strerror(errno));
	cv_fine(&v);
	target_kill(&v.t);
}

/* ptrace refused by the kernel: pss as another uid, then against a target
 * that is not dumpable; 77 and the cause with its fix. */
TEST(error_ptrace_refused)
{
	char want[96];
	struct run r;
	struct cv v;

	if (geteuid() != 0)
		SKIP("needs root to run pss as uid %d", NOBODY);
	REQUIRE_PTRACE();
	cv_start(&v);
	/* pss as nobody against a root process. */
	PSS_AS(&r, NOBODY, "threads", "-r", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 77);
	snprintf(want, sizeof(want), "pid %d runs as uid 0 and you are uid %d without CAP_SYS_PTRACE",
		 v.t.pid, NOBODY);
	CHECK(strstr(r.err, want), "want '%s': %s", want, r.err);
	CHECK(strstr(r.err, "run pss as uid 0 or as root"), "the fix: %s", r.err);
	check_one_line(&r);
	run_free(&r);
	PSS_AS(&r, NOBODY, "stacks", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 77);
	CHECK(strstr(r.err, want), "want '%s': %s", want, r.err);
	run_free(&r);
	cv_fine(&v);

	/* The victim becomes nobody and not dumpable: same uid, still refused. */
	REQUIRE(target_cmd(&v.t, "become 65534", want, sizeof(want)) > 0 && !strcmp(want, "ok"),
		"become: %s", want);
	PSS_AS(&r, NOBODY, "threads", "-r", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 77);
	snprintf(want, sizeof(want), "pid %d is not dumpable", v.t.pid);
	CHECK(strstr(r.err, want), "want '%s': %s", want, r.err);
	CHECK(strstr(r.err, "only CAP_SYS_PTRACE may trace it: run pss as root"), "the fix: %s",
	      r.err);
	check_one_line(&r);
	run_free(&r);
	/* Root may: the same target, captured. */
	PSS(&r, "threads", "-r", v.s[S_PID]);
	CHECK_EQ_INT(r.status, 0);
	CHECK_LINE(r.out, v.s[S_TREAD], "cli-read");
	run_free(&r);
	cv_fine(&v);
	target_kill(&v.t);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
