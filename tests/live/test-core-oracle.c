// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Oracle tests of pss_linux_write_core(): debuggers read our core of a
 * multi-threaded target as they read gdb's own gcore of the same target.
 *
 * core-victim has three helper threads blocked in known functions
 * (core_wait_read, core_wait_lock, core_wait_pause) and a known `buffer`.
 * We capture it (VA clone, threads, contexts, VA space), write our core,
 * then stop it with SIGSTOP and let gcore write a reference core of the
 * same, unchanged state.  Then:
 *   - gdb -batch on both: the same threads, registers (every thread), the
 *     same frames (function and address) and the same bytes of `buffer`;
 *   - eu-stack --core exits 0 on ours, with the frames it finds in gcore's;
 *   - readelf -n and eu-readelf -n list the same note types, in the same
 *     order, as a core the kernel writes of the same program (or, when
 *     core_pattern is a pipe, as the documented kernel order);
 *   - lldb, when installed, opens ours and lists every thread.
 * The second test does all of it again with 300 more threads in
 * core_wait_idle() (a futex wait nobody wakes): with 304 threads the
 * capture leaves the idle ones out of its pause and reads them after it,
 * one batch at a time ("deferred threads"), which it must do here in one
 * stop.  Every thread is compared, none sampled (gdb reads the 304 threads
 * of a core in well under a second), and an idle thread's registers must be
 * gcore's exactly: no restart fix-up is let pass for them.
 * Skipped (77) without gdb, gcore or eu-stack.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>

#define MAXOUT (16 << 20)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static bool have_tool(const char *name)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* Run @cmd through sh with stdout+stderr into a malloc'd string; exit code. */
static int run(const char *cmd, char **out)
{
	char *buf = calloc(1, MAXOUT + 1);
	size_t len = 0, n;
	FILE *f;
	int st;

	REQUIRE(buf, "calloc");
	f = popen(cmd, "r");
	REQUIRE(f, "popen %s", cmd);
	while (len < MAXOUT && (n = fread(buf + len, 1, MAXOUT - len, f)) > 0)
		len += n;
	if (len == MAXOUT) {
		char drain[4096];

		/* let the command end (cut output: the comparisons fail) */
		while (fread(drain, 1, sizeof(drain), f) > 0)
			;
	}
	st = pclose(f);
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void exe_path(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, len - 1);
	REQUIRE(n > 0, "readlink exe");
	buf[n] = 0;
}

static void wait_blocked(struct target *t, const pid_t tids[3])
{
	REQUIRE(wait_thread_syscall(t->pid, tids[0], SYS_read, 5000) == 0, "reader not blocked");
	REQUIRE(wait_thread_syscall(t->pid, tids[1], SYS_futex, 5000) == 0, "locker not blocked");
	REQUIRE(wait_thread_syscall(t->pid, tids[2], SYS_pause, 5000) == 0, "pauser not blocked");
	victim_idle(t);
}

#define MAX_IDLERS 400

/* core-victim, with @idlers more threads in core_wait_idle() (their tids in
 * @idle, sorted), every thread blocked where it should be. */
static void start_core_victim(struct target *t, pid_t tids[3], uint64_t *buffer, int idlers,
			      pid_t *idle)
{
	static pid_t all[MAX_IDLERS + 8];
	char reply[256];
	const char *p;
	int n, k = 0;

	REQUIRE(idlers <= MAX_IDLERS, "%d idlers", idlers);
	REQUIRE(target_start(t, "core-victim", NULL) == 0, "cannot start core-victim");
	target_cmdf(t, reply, sizeof(reply), "info");
	*buffer = strtoull(strstr(reply, "buffer=") + 7, NULL, 16);
	p = strstr(reply, "tids=");
	n = p ? sscanf(p, "tids=%d,%d,%d", &tids[0], &tids[1], &tids[2]) : 0;
	REQUIRE(n == 3, "info: %s", reply);
	if (idlers) {
		target_cmdf(t, reply, sizeof(reply), "idlers %d", idlers);
		if (reply_get(reply, "err", 0) == EAGAIN)
			SKIP("the kernel refuses %d threads: %s", idlers + 4, reply);
		REQUIRE(reply_get(reply, "n", -1) == idlers && !strstr(reply, "err="), "idlers: %s",
			reply);
		n = thread_ids(t->pid, all, MAX_IDLERS + 8);
		for (int i = 0; i < n; i++)
			if (all[i] != t->pid && all[i] != tids[0] && all[i] != tids[1] &&
			    all[i] != tids[2] && k < idlers)
				idle[k++] = all[i];
		REQUIRE(n == idlers + 4 && k == idlers, "%d threads, %d idle, want %d + 4", n, k,
			idlers);
		for (int i = 0; i < idlers; i++)
			REQUIRE(wait_thread_syscall(t->pid, idle[i], SYS_futex, 5000) == 0,
				"idle thread %d not blocked in futex (%ld)", idle[i],
				thread_syscall(t->pid, idle[i]));
	}
	wait_blocked(t, tids);
}

static DWORD write_core_file(HPSS snap, const char *path, unsigned flags)
{
	struct pss_linux_core_options o = { .sz = sizeof(o), .flags = flags };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	DWORD r;

	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	r = pss_linux_write_core(snap, fd, &o);
	close(fd);
	return r;
}

/* ---- gdb output, per LWP ---- */

#define MAXT (MAX_IDLERS + 8)
#define MAXL 64

struct lwp {
	int lwp;
	char frames[MAXL][160];		/* "ADDR FUNC" per frame */
	int nframes;
	char regs[MAXL][100];		/* "name value" */
	int nregs;
};

struct gdbout {
	struct lwp t[MAXT];
	int n;
	char mem[16][24];		/* x/8xg words */
	int nmem;
	int cur_lwp;			/* "* N ... LWP x" of info threads */
	struct lwp current;		/* its info registers */
	int info_lwps[MAXT];
	int ninfo;
};

static struct lwp *lwp_get(struct gdbout *g, int id)
{
	for (int i = 0; i < g->n; i++)
		if (g->t[i].lwp == id)
			return &g->t[i];
	REQUIRE(g->n < MAXT, "too many threads");
	g->t[g->n].lwp = id;
	return &g->t[g->n++];
}

/* "#1  0x000055555555 in core_wait_read (fd=3) at f.c:40" -> "0x0000555555 core_wait_read";
 * frame 0 at the start of a line has no address: "#0  f (...)" -> "- f". */
static void frame_key(const char *line, char *out, size_t len)
{
	const char *p = strchr(line, ' ');
	char addr[40] = "-", fn[100] = "?";

	while (p && *p == ' ')
		p++;
	if (p && !strncmp(p, "0x", 2)) {
		sscanf(p, "%39s", addr);
		p = strstr(p, " in ");
		p = p ? p + 4 : NULL;
	}
	if (p)
		sscanf(p, "%99[^ (]", fn);
	snprintf(out, len, "%s %s", addr, fn);
}

static void parse_gdb(const char *text, struct gdbout *g)
{
	const char *line = text;
	struct lwp *cur = NULL;
	int in_x = 0;

	memset(g, 0, sizeof(*g));
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char l[512], name[32], val[64];
		const char *lw;

		snprintf(l, sizeof(l), "%.*s", (int)MIN(n, sizeof(l) - 1), line);
		lw = strstr(l, "LWP ");
		if (!strcmp(l, "==current==")) {
			cur = &g->current;	/* info registers of the current thread */
		} else if (!strncmp(l, "Thread ", 7) && lw) {
			cur = lwp_get(g, atoi(lw + 4));
		} else if (lw && (l[0] == '*' || l[0] == ' ') && g->ninfo < MAXT &&
			   strstr(l, "  ")) {
			/* info threads: "* 1    Thread 0x... (LWP 12) f () at ..." */
			g->info_lwps[g->ninfo++] = atoi(lw + 4);
			if (l[0] == '*')
				g->cur_lwp = atoi(lw + 4);
		} else if (l[0] == '#' && cur && cur->nframes < MAXL) {
			frame_key(l, cur->frames[cur->nframes++], sizeof(cur->frames[0]));
		} else if (strstr(l, "<buffer>:") || (in_x && strstr(l, "<buffer+"))) {
			char *c = strchr(l, ':');
			char *tok;

			in_x = 1;
			for (tok = strtok(c + 1, " \t"); tok && g->nmem < 16; tok = strtok(NULL, " \t"))
				snprintf(g->mem[g->nmem++], sizeof(g->mem[0]), "%s", tok);
		} else if (cur && sscanf(l, "%31s %63s", name, val) == 2 && !strncmp(val, "0x", 2) &&
			   cur->nregs < MAXL && l[0] >= 'a' && l[0] <= 'z') {
			snprintf(cur->regs[cur->nregs++], sizeof(cur->regs[0]), "%s %s", name, val);
		}
		line += n + (nl ? 1 : 0);
	}
}

static int run_gdb(const char *exe, const char *core, struct gdbout *g, char **text)
{
	char cmd[4096];
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "gdb -nx -batch -ex 'set pagination off' -ex 'set width 0' "
		 "-ex 'info threads' -ex 'thread apply all bt' "
		 "-ex 'thread apply all info registers' "
		 "-ex 'thread apply all info registers orig_rax' "
		 "-ex 'echo ==current==\\n' -ex 'info registers' "
		 "-ex 'x/8xg &buffer' '%s' '%s' 2>&1", exe, core);
	rc = run(cmd, text);
	parse_gdb(*text, g);
	return rc;
}

static const struct lwp *lwp_find(const struct gdbout *g, int id)
{
	for (int i = 0; i < g->n; i++)
		if (g->t[i].lwp == id)
			return &g->t[i];
	return NULL;
}

static bool has_frame(const struct lwp *t, const char *fn)
{
	for (int i = 0; i < t->nframes; i++) {
		const char *sp = strchr(t->frames[i], ' ');

		if (sp && !strcmp(sp + 1, fn))
			return true;
	}
	return false;
}

static bool reg_value(const struct lwp *t, const char *name, uint64_t *ret)
{
	size_t n = strlen(name);

	for (int i = 0; i < t->nregs; i++) {
		if (!strncmp(t->regs[i], name, n) && t->regs[i][n] == ' ') {
			*ret = strtoull(t->regs[i] + n + 1, NULL, 16);
			return true;
		}
	}
	return false;
}

/*
 * A thread blocked in a syscall is stopped with the raw state (rax =
 * -ERESTART*, rip after the syscall instruction): our core records that,
 * as a kernel core does.  gdb attaching to the SIGSTOPped target may first
 * let a thread pass through the kernel's restart fix-up (rax = the syscall
 * number again, rip back on the syscall instruction) before it stops for
 * gdb.  Both are the same place; @ret_delta is what rip moved (2) then.
 */
static bool restarted(const struct lwp *o, const struct lwp *r, uint64_t *ret_delta)
{
	uint64_t orax, orip, oorig, rrax, rrip;

	*ret_delta = 0;
	if (!reg_value(o, "rax", &orax) || !reg_value(o, "rip", &orip) ||
	    !reg_value(o, "orig_rax", &oorig) || !reg_value(r, "rax", &rrax) ||
	    !reg_value(r, "rip", &rrip))
		return false;
	if ((int64_t)orax > -512 || (int64_t)orax < -516 || rrip != orip - 2 ||
	    (rrax != oorig && rrax != SYS_restart_syscall))
		return false;
	*ret_delta = 2;
	return true;
}

static void frame_adjust(char *frame, uint64_t delta)
{
	char fn[100];
	uint64_t a;

	if (!delta || sscanf(frame, "0x%" SCNx64 " %99s", &a, fn) != 2)
		return;
	snprintf(frame, 160, "0x%016" PRIx64 " %s", a - delta, fn);
}

/* The same thread in both; with @exact no restart fix-up is let pass (an
 * idle thread: it never leaves its futex wait, so gcore's stop finds it in
 * the raw state our capture read, rax = -ERESTARTSYS included). */
static void compare_lwp(const struct lwp *o, const struct lwp *r, bool exact)
{
	uint64_t delta;
	bool rs = !exact && restarted(o, r, &delta);

	if (rs)
		diag("LWP %d: gcore saw it after the syscall restart fix-up (rip - 2)", r->lwp);
	else
		delta = 0;
	CHECK(r->nframes > 1, "LWP %d: gcore's backtrace has %d frames", r->lwp, r->nframes);
	CHECK_EQ_INT(o->nframes, r->nframes);
	for (int k = 0; k < o->nframes && k < r->nframes; k++) {
		char f[160];

		snprintf(f, sizeof(f), "%s", o->frames[k]);
		if (k == 0)
			frame_adjust(f, delta);
		CHECK(!strcmp(f, r->frames[k]), "LWP %d frame %d: ours '%s', gcore '%s'", r->lwp, k,
		      o->frames[k], r->frames[k]);
	}
	CHECK(o->nregs >= 24 && o->nregs < MAXL, "LWP %d: %d registers", r->lwp, o->nregs);
	CHECK_EQ_INT(o->nregs, r->nregs);
	for (int k = 0; k < o->nregs && k < r->nregs; k++) {
		if (rs && (!strncmp(o->regs[k], "rax ", 4) || !strncmp(o->regs[k], "rip ", 4)))
			continue;	/* compared by restarted() */
		CHECK(!strcmp(o->regs[k], r->regs[k]), "LWP %d: ours '%s', gcore '%s'", r->lwp,
		      o->regs[k], r->regs[k]);
	}
}

static bool is_idle(const pid_t *idle, int nidle, int lwp)
{
	for (int i = 0; i < nidle; i++)
		if (idle[i] == lwp)
			return true;
	return false;
}

static void compare_gdb(const struct gdbout *ours, const struct gdbout *ref, const pid_t tids[3],
			pid_t pid, const pid_t *idle, int nidle)
{
	static const char *const fns[3] = { "core_wait_read", "core_wait_lock", "core_wait_pause" };

	CHECK_EQ_INT(ours->n, 4 + nidle);
	CHECK_EQ_INT(ours->n, ref->n);
	CHECK_EQ_INT(ours->ninfo, 4 + nidle);
	CHECK_EQ_INT(ref->ninfo, 4 + nidle);
	CHECK_EQ_INT(ours->cur_lwp, pid);
	CHECK_EQ_INT(ref->cur_lwp, pid);
	CHECK(ours->current.nregs >= 24, "info registers: %d registers", ours->current.nregs);
	for (int k = 0; k < ours->current.nregs; k++) {
		const struct lwp *o = lwp_find(ours, pid);
		uint64_t v, want;
		char name[32];

		/* the same values as "thread apply all" gave for the leader */
		if (o && sscanf(ours->current.regs[k], "%31s 0x%" SCNx64, name, &v) == 2 &&
		    reg_value(o, name, &want))
			CHECK_EQ_HEX(v, want);
	}
	for (int i = 0; i < ref->n; i++) {
		const struct lwp *o = NULL;

		for (int j = 0; j < ours->n; j++)
			if (ours->t[j].lwp == ref->t[i].lwp)
				o = &ours->t[j];
		CHECK(o != NULL, "LWP %d of gcore's core is missing in ours", ref->t[i].lwp);
		if (o)
			compare_lwp(o, &ref->t[i], is_idle(idle, nidle, o->lwp));
	}
	for (int k = 0; k < 3; k++) {
		for (int j = 0; j < ours->n; j++)
			if (ours->t[j].lwp == tids[k])
				CHECK(has_frame(&ours->t[j], fns[k]), "LWP %d has no frame %s", tids[k],
				      fns[k]);
	}
	for (int k = 0; k < nidle; k++) {
		const struct lwp *o = lwp_find(ours, idle[k]), *r = lwp_find(ref, idle[k]);

		CHECK(o && has_frame(o, "core_wait_idle"), "our LWP %d: no frame core_wait_idle",
		      idle[k]);
		CHECK(r && has_frame(r, "core_wait_idle"), "gcore's LWP %d: no frame core_wait_idle",
		      idle[k]);
	}
	CHECK_EQ_INT(ours->nmem, 8);
	CHECK_EQ_INT(ref->nmem, 8);
	for (int k = 0; k < ours->nmem && k < ref->nmem; k++) {
		CHECK(!strcmp(ours->mem[k], ref->mem[k]), "buffer[%d]: ours %s, gcore %s", k,
		      ours->mem[k], ref->mem[k]);
		CHECK_EQ_HEX(strtoull(ours->mem[k], NULL, 16), vp_word(1, (uint64_t)k));
	}
}

/* ---- eu-stack ---- */

/* "TID 12:" blocks of "#0  0x00007f... read" lines, as one string per TID. */
static int eu_frames(const char *text, int tid, char *out, size_t len)
{
	char key[32];
	const char *p;
	size_t n = 0;
	int frames = 0;

	snprintf(key, sizeof(key), "TID %d:\n", tid);
	p = strstr(text, key);
	out[0] = 0;
	if (!p)
		return 0;
	p += strlen(key);
	while (*p == '#') {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		n += (size_t)snprintf(out + n, len > n ? len - n : 0, "%.*s\n", (int)l, p);
		frames++;
		if (!nl)
			break;
		p = nl + 1;
	}
	return frames;
}

/* ---- note types ---- */

/* The note types of readelf -n (or eu-readelf -n) output, in order, one
 * word each, without gdb's own NT_GDB_TDESC. */
static void note_types(const char *text, bool eu, char *out, size_t len)
{
	const char *line = text;
	size_t n = 0;

	out[0] = 0;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		char owner[32], a[64], b[64], c[64];
		char buf[512];

		snprintf(buf, sizeof(buf), "%.*s", (int)MIN(l, sizeof(buf) - 1), line);
		if (sscanf(buf, " %31s %63s %63s %63s", owner, a, b, c) >= 3 &&
		    (!strcmp(owner, "CORE") || !strcmp(owner, "LINUX") || !strcmp(owner, "GDB"))) {
			/* readelf: OWNER 0xSIZE NT_TYPE ...; eu-readelf: OWNER SIZE TYPE */
			const char *type = eu ? b : (strncmp(b, "Unknown", 7) ? b : c);

			if (strcmp(type, "NT_GDB_TDESC") && strcmp(type, "GDB_TDESC"))
				n += (size_t)snprintf(out + n, len > n ? len - n : 0, "%s:%s ", owner, type);
		}
		line += l + (nl ? 1 : 0);
	}
}

struct fixture_dirs {
	char dir[64];
	char ours[128], ref[128], kcore[160];
};

/* A core the kernel writes of another core-victim (with as many idle
 * threads), in @d->dir/kernel/core. */
static const char *kernel_core(struct fixture_dirs *d, int idlers)
{
	static pid_t idle[MAX_IDLERS];
	static char pattern[256];
	struct target k;
	pid_t tids[3];
	uint64_t buf;
	char kdir[128], cmd[200];
	struct stat st;

	read_text("/proc/sys/kernel/core_pattern", pattern, sizeof(pattern));
	if (pattern[0] == '|' || strncmp(pattern, "core", 4))
		return NULL;
	snprintf(kdir, sizeof(kdir), "%s/kernel", d->dir);
	mkdir(kdir, 0700);
	start_core_victim(&k, tids, &buf, idlers, idle);
	snprintf(cmd, sizeof(cmd), "crash %s", kdir);
	target_send(&k, cmd);
	target_wait(&k, 20000);
	snprintf(d->kcore, sizeof(d->kcore), "%s/core", kdir);
	if (stat(d->kcore, &st) != 0) {
		/* core_uses_pid */
		snprintf(d->kcore, sizeof(d->kcore), "%s/core.%d", kdir, k.pid);
		if (stat(d->kcore, &st) != 0)
			return NULL;
	}
	return d->kcore;
}

static void cleanup(struct fixture_dirs *d)
{
	char cmd[160];
	char *out;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	run(cmd, &out);
	free(out);
}

/* The documented kernel order (research 4.2) for a process of @n threads
 * with xstate, when no kernel core can be made here. */
static void documented_types(int n, bool eu, char *out, size_t len)
{
	size_t k = (size_t)snprintf(out, len, eu ? "CORE:PRSTATUS CORE:PRPSINFO CORE:SIGINFO CORE:AUXV "
					      "CORE:FILE CORE:FPREGSET LINUX:X86_XSTATE " :
					      "CORE:NT_PRSTATUS CORE:NT_PRPSINFO CORE:NT_SIGINFO "
					      "CORE:NT_AUXV CORE:NT_FILE CORE:NT_FPREGSET LINUX:NT_X86_XSTATE ");

	for (int i = 1; i < n; i++)
		k += (size_t)snprintf(out + k, len - k, eu ? "CORE:PRSTATUS CORE:FPREGSET LINUX:X86_XSTATE " :
					      "CORE:NT_PRSTATUS CORE:NT_FPREGSET LINUX:NT_X86_XSTATE ");
}

/*
 * The whole oracle comparison, of core-victim with @idlers more threads
 * blocked for good in core_wait_idle().  With 256 threads or more in all,
 * the capture leaves those idle threads out of its pause and reads them
 * after it ("deferred threads"): it must do so here, in one stop.
 */
static void core_oracle(int idlers)
{
	DWORD flags = PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT |
		      PSS_CAPTURE_THREAD_CONTEXT_EXTENDED | PSS_CAPTURE_VA_SPACE |
		      PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION;
	static struct gdbout g_ours, g_ref;
	static pid_t idle[MAX_IDLERS];
	struct fixture_dirs d;
	struct target t;
	pid_t tids[3];
	uint64_t buf;
	char exe[1024], cmd[4096], *o_text, *r_text, *out;
	static char a[65536], b[65536];
	const char *kcore;
	HPSS snap;
	int rc;

	if (!have_tool("gdb") || !have_tool("gcore") || !have_tool("eu-stack") ||
	    !have_tool("readelf") || !have_tool("eu-readelf"))
		SKIP("gdb, gcore, eu-stack, readelf or eu-readelf is not installed");
	REQUIRE_PTRACE();
	snprintf(d.dir, sizeof(d.dir), "/tmp/pss-core-oracle-XXXXXX");
	REQUIRE(mkdtemp(d.dir), "mkdtemp");
	snprintf(d.ours, sizeof(d.ours), "%s/ours.core", d.dir);
	start_core_victim(&t, tids, &buf, idlers, idle);
	exe_path(t.pid, exe, sizeof(exe));

	snap = capture_ok(t.pid, flags, CONTEXT_ALL);
	if (idlers) {
		struct pss_linux_process_info li = { .sz = sizeof(li) };

		REQUIRE_OK(pss_linux_query_process(snap, &li));
		diag("%u threads, %u deferred, %u stop attempt(s), pause %.2f ms", li.num_threads,
		     li.deferred_threads, li.stop_attempts, li.pause_ns / 1e6);
		CHECK_EQ_INT(li.num_threads, 4 + idlers);
		CHECK(li.deferred_threads >= 250, "%u threads deferred", li.deferred_threads);
		CHECK_EQ_INT(li.stop_attempts, 1);
	}
	CHECK_ERR(write_core_file(snap, d.ours, 0), ERROR_SUCCESS);
	free_snap(snap);

	/* The reference: gcore of the same state, stopped. */
	REQUIRE(kill(t.pid, SIGSTOP) == 0, "SIGSTOP");
	for (int i = 0; i < 200 && proc_state(t.pid) != 'T'; i++)
		msleep(10);
	snprintf(cmd, sizeof(cmd), "gcore -o '%s/gcore' %d 2>&1", d.dir, t.pid);
	rc = run(cmd, &out);
	snprintf(d.ref, sizeof(d.ref), "%s/gcore.%d", d.dir, t.pid);
	REQUIRE(rc == 0 && access(d.ref, R_OK) == 0, "gcore failed (%d): %.2000s", rc, out);
	free(out);
	kill(t.pid, SIGCONT);

	rc = run_gdb(exe, d.ours, &g_ours, &o_text);
	CHECK_EQ_INT(rc, 0);
	run_gdb(exe, d.ref, &g_ref, &r_text);
	compare_gdb(&g_ours, &g_ref, tids, t.pid, idle, idlers);
	if (harness_failures())
		diag("gdb on our core:\n%.6000s", o_text);
	free(o_text);
	free(r_text);

	/* eu-stack: exits 0, the same frames as on gcore's core. */
	snprintf(cmd, sizeof(cmd), "eu-stack -e '%s' --core '%s' 2>&1", exe, d.ours);
	rc = run(cmd, &o_text);
	CHECK(rc == 0, "eu-stack on our core: %d\n%.3000s", rc, o_text);
	snprintf(cmd, sizeof(cmd), "eu-stack -e '%s' --core '%s' 2>&1", exe, d.ref);
	run(cmd, &r_text);
	for (int i = -1; i < 3 + idlers; i++) {
		int tid = i < 0 ? t.pid : i < 3 ? tids[i] : idle[i - 3];
		int no = eu_frames(o_text, tid, a, sizeof(a)), nr = eu_frames(r_text, tid, b, sizeof(b));
		const struct lwp *lo = lwp_find(&g_ours, tid), *lr = lwp_find(&g_ref, tid);
		uint64_t delta = 0, pc;
		char rest[4096];

		/* frame 0 moved back onto the syscall instruction, as in gdb's */
		if (lo && lr && restarted(lo, lr, &delta) &&
		    sscanf(a, "#0  0x%" SCNx64 "%4095[^\x01]", &pc, rest) == 2) {
			snprintf(a, sizeof(a), "#0  0x%016" PRIx64 "%s", pc - delta, rest);
		}

		CHECK(no > 1, "eu-stack: TID %d has %d frames in our core", tid, no);
		CHECK(no == nr && !strcmp(a, b), "eu-stack TID %d:\nours:\n%s\ngcore:\n%s", tid, a, b);
	}
	CHECK(strstr(o_text, "core_wait_read") && strstr(o_text, "core_wait_lock") &&
	      strstr(o_text, "core_wait_pause"), "eu-stack frames:\n%.3000s", o_text);
	free(o_text);
	free(r_text);

	/* readelf -n / eu-readelf -n: the kernel's note types and order. */
	kcore = kernel_core(&d, idlers);
	if (!kcore)
		diag("no kernel core here (core_pattern is a pipe or not \"core\"): "
		     "comparing with the documented kernel order");
	for (int eu = 0; eu < 2; eu++) {
		static char want[65536];

		snprintf(cmd, sizeof(cmd), "%s -n '%s' 2>&1", eu ? "eu-readelf" : "readelf", d.ours);
		rc = run(cmd, &o_text);
		CHECK_EQ_INT(rc, 0);
		note_types(o_text, eu, a, sizeof(a));
		if (kcore) {
			snprintf(cmd, sizeof(cmd), "%s -n '%s' 2>&1", eu ? "eu-readelf" : "readelf", kcore);
			run(cmd, &r_text);
			note_types(r_text, eu, want, sizeof(want));
			free(r_text);
		} else {
			documented_types(4 + idlers, eu, want, sizeof(want));
			/* the layout note of new kernels is optional there */
			a[strlen(want) < strlen(a) ? strlen(want) : strlen(a)] = 0;
		}
		CHECK(!strcmp(a, want), "%s note types:\nours:   %s\nkernel: %s",
		      eu ? "eu-readelf" : "readelf", a, want);
		CHECK(strstr(a, "PRSTATUS") != NULL, "%s", o_text);
		free(o_text);
	}

	/* lldb opens it and sees every thread. */
	if (have_tool("lldb")) {
		snprintf(cmd, sizeof(cmd), "lldb -c '%s' '%s' -b -o 'thread list' -o 'bt all' 2>&1",
			 d.ours, exe);
		rc = run(cmd, &o_text);
		CHECK(rc == 0, "lldb: %d\n%.3000s", rc, o_text);
		for (int i = 0; i < 3 + idlers; i++) {
			char tidstr[32];

			snprintf(tidstr, sizeof(tidstr), "tid = %d,", i < 3 ? tids[i] : idle[i - 3]);
			CHECK(strstr(o_text, tidstr) != NULL, "lldb lists no %s:\n%.3000s", tidstr, o_text);
		}
		CHECK(strstr(o_text, "core_wait_lock") != NULL, "lldb bt:\n%.3000s", o_text);
		free(o_text);
	} else {
		diag("lldb is not installed: its check is skipped");
	}
	target_kill(&t);
	cleanup(&d);
}

TEST(row50_gdb_eu_stack_readelf_lldb_read_our_core_as_gcore)
{
	core_oracle(0);
}

/* 300 idle threads more: 304 in all, the idle ones deferred. */
TEST(row50_deferred_threads_in_our_core_as_in_gcore)
{
	core_oracle(300);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
