// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fault matrix rows that no other live test gathers: a timed recv and a
 * doubly stopped target (rows 8, 18); the core of a live target ([vvar]
 * never read, NT_PRSTATUS as the target had its registers, a long argv
 * truncated in NT_PRPSINFO: rows 49-51); hostile mapping names (row 53);
 * who may capture whom (a non-dumpable or other-uid target, a target with
 * more capabilities, Yama scope 1, a kernel thread: rows 57-60); and a
 * snapshot freed while another thread walks it (row 70).
 *
 * The "unprivileged caller" rows fork a child that drops to uid 65534 with
 * no capability and no supplementary group before it calls the library;
 * each such row first shows that the same caller does capture the same kind
 * of target once the row's obstacle is absent, so the refusal it then
 * asserts comes from that obstacle.  Yama is read, never changed.
 */
#include "harness.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#define NOBODY 65534
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define CAP_NET_BIND_SERVICE_BIT 10
#define PTRACE_FLAGS (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)
#define CORE_FLAGS (PTRACE_FLAGS | PSS_CAPTURE_THREAD_CONTEXT_EXTENDED | PSS_CAPTURE_VA_SPACE)

/* ---- rows 8, 18: blocked and stopped targets ---- */

/* Proves (row 8, its documented outcome): a recvfrom() with SO_RCVTIMEO
 * (3 s) captured while it sleeps returns -1 with EINTR once the capture
 * releases it (a timeout would be EAGAIN): the kernel ends a timed socket
 * wait with EINTR, not a restart, and libpss deliberately leaves it so (a
 * driver may return EINTR for reasons of its own).  Without a capture the
 * same call times out (EAGAIN), so the EINTR is the capture's. */
TEST(row08_recv_rcvtimeo_sees_eintr)
{
	struct target t;
	char reply[128];
	pid_t tid;

	REQUIRE_PTRACE();
	REQUIRE(target_start(&t, "matrix-victim", NULL) == 0, "cannot start matrix-victim");
	target_cmdf(&t, reply, sizeof(reply), "recv 200");
	tid = (pid_t)reply_get(reply, "tid", 0);
	REQUIRE(tid > 0, "recv: %s", reply);
	target_cmdf(&t, reply, sizeof(reply), "recv-result");
	CHECK(reply_get(reply, "ret", 0) == -1 && reply_get(reply, "errno", 0) == EAGAIN,
	      "uncaptured recv: %s", reply);
	target_kill(&t);

	REQUIRE(target_start(&t, "matrix-victim", NULL) == 0, "cannot start matrix-victim");
	target_cmdf(&t, reply, sizeof(reply), "recv 3000");
	tid = (pid_t)reply_get(reply, "tid", 0);
	REQUIRE(tid > 0, "recv: %s", reply);
	REQUIRE(wait_thread_syscall(t.pid, tid, SYS_recvfrom, 2000) == 0, "not blocked in recvfrom");
	free_snap(capture_ok(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, CONTEXT_ALL));
	target_cmdf(&t, reply, sizeof(reply), "recv-result");
	diag("captured recv: %s", reply);
	CHECK(reply_get(reply, "ret", 0) == -1 && reply_get(reply, "errno", 0) == EINTR,
	      "captured recv: %s", reply);
	CHECK(no_thread_traced(t.pid), "the victim is left traced");
	target_kill(&t);
}

/* Wait up to a second for each of the @n threads @tids of @pid to be in
 * state 'T'. */
static void all_stopped(pid_t pid, const pid_t *tids, int n)
{
	for (int k = 0; k < 200; k++) {
		int stopped = 0;

		for (int i = 0; i < n; i++)
			stopped += thread_state(pid, tids[i]) == 'T';
		if (stopped == n)
			return;
		msleep(5);
	}
}

/* Proves (row 18): a target stopped twice (kill and tgkill SIGSTOP) stays
 * stopped in every thread through a capture (and a capture with the
 * clone, which may refuse cleanly), its parent (this test) gets exactly
 * the one stop report, and SIGCONT resumes it for good. */
TEST(row18_double_stop)
{
	siginfo_t si = { 0 };
	struct target t;
	char reply[128];
	pid_t tids[8];
	int st = 0, n;
	DWORD r;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, reply, sizeof(reply), "threads 3");
	REQUIRE(kill(t.pid, SIGSTOP) == 0 && syscall(SYS_tgkill, t.pid, t.pid, SIGSTOP) == 0, "SIGSTOP");
	REQUIRE(waitid(P_PID, (id_t)t.pid, &si, WSTOPPED | WNOWAIT) == 0 && si.si_code == CLD_STOPPED &&
		si.si_status == SIGSTOP, "no stop report");
	n = thread_ids(t.pid, tids, 8);
	REQUIRE(n == 4, "%d threads", n);
	all_stopped(t.pid, tids, n);
	free_snap(capture_ok(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, CONTEXT_ALL));
	r = capture_pid(t.pid, PTRACE_FLAGS, CONTEXT_ALL, &s);
	diag("with the clone: %s %s", err_name(r), r ? capture_error_text() : "");
	if (r == ERROR_SUCCESS)
		free_snap(s);
	/* A detached group-stopped thread is woken to re-enter the group
	 * stop inside the kernel (it never returns to user space): allow it
	 * that moment before asking for 'T'. */
	all_stopped(t.pid, tids, n);
	for (int i = 0; i < n; i++)
		CHECK(thread_state(t.pid, tids[i]) == 'T', "thread %d is '%c'", tids[i],
		      thread_state(t.pid, tids[i]));
	CHECK(no_thread_traced(t.pid), "the victim is left traced");
	CHECK_EQ_INT(waitpid(t.pid, &st, WUNTRACED | WNOHANG), t.pid);
	CHECK(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "status 0x%x", st);
	CHECK_EQ_INT(waitpid(t.pid, &st, WUNTRACED | WNOHANG), 0);
	REQUIRE(kill(t.pid, SIGCONT) == 0, "SIGCONT");
	target_cmdf(&t, reply, sizeof(reply), "ping");
	CHECK(!strncmp(reply, "pong", 4), "victim: %s", reply);
	msleep(50);
	CHECK(proc_state(t.pid) != 'T', "stopped again by the second SIGSTOP");
	CHECK_EQ_INT(waitpid(t.pid, &st, WUNTRACED | WNOHANG), 0);
	target_kill(&t);
}

/* ---- a core of a live target, read back ---- */

struct core {
	uint8_t *p;
	size_t len;
	const Elf64_Phdr *ph;
	unsigned phnum;
};

static void core_of(HPSS snap, struct core *c)
{
	char path[] = "/tmp/pss-matrix-core-XXXXXX";
	const Elf64_Ehdr *eh;
	struct stat st;
	int fd = mkstemp(path);

	REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	REQUIRE_ERR(pss_linux_write_core(snap, fd, NULL), ERROR_SUCCESS);
	REQUIRE(fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof(Elf64_Ehdr), "core size");
	c->len = (size_t)st.st_size;
	c->p = mmap(NULL, c->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	REQUIRE(c->p != MAP_FAILED, "mmap the core");
	eh = (const Elf64_Ehdr *)c->p;
	REQUIRE(!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_type == ET_CORE, "not an ELF core");
	REQUIRE(eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) <= c->len, "program headers");
	c->ph = (const Elf64_Phdr *)(c->p + eh->e_phoff);
	c->phnum = eh->e_phnum;
}

static const Elf64_Phdr *core_load_at(const struct core *c, uint64_t addr)
{
	for (unsigned i = 0; i < c->phnum; i++)
		if (c->ph[i].p_type == PT_LOAD && c->ph[i].p_vaddr == addr)
			return &c->ph[i];
	return NULL;
}

struct note {
	uint32_t type;
	const char *name;
	const uint8_t *desc;
	uint32_t descsz;
};

/* Every note of the PT_NOTE segment into @out (at most @max); REQUIREs
 * that they tile the segment exactly. */
static unsigned core_notes(const struct core *c, struct note *out, unsigned max)
{
	const Elf64_Phdr *pn = NULL;
	unsigned n = 0;
	uint64_t off;

	for (unsigned i = 0; i < c->phnum && !pn; i++)
		if (c->ph[i].p_type == PT_NOTE)
			pn = &c->ph[i];
	REQUIRE(pn && pn->p_offset + pn->p_filesz <= c->len, "no PT_NOTE");
	for (off = 0; off + sizeof(Elf64_Nhdr) <= pn->p_filesz && n < max; n++) {
		const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(c->p + pn->p_offset + off);
		uint64_t name_off = off + sizeof(*nh), desc_off = name_off + ((nh->n_namesz + 3u) & ~3u);

		REQUIRE(desc_off + nh->n_descsz <= pn->p_filesz, "note %u overruns PT_NOTE", n);
		out[n] = (struct note){ nh->n_type, (const char *)(c->p + pn->p_offset + name_off),
					c->p + pn->p_offset + desc_off, nh->n_descsz };
		off = desc_off + ((nh->n_descsz + 3u) & ~3u);
	}
	REQUIRE(off == pn->p_filesz, "the notes end at %" PRIu64 ", PT_NOTE at %" PRIu64, off,
		(uint64_t)pn->p_filesz);
	return n;
}

/* The start and end of the first mapping of @pid named exactly @name. */
static bool map_named(pid_t pid, const char *name, uint64_t *lo, uint64_t *hi)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *nm = strrchr(line, ' ');

		line[strcspn(line, "\n")] = 0;
		found = nm && !strcmp(nm + 1, name) &&
			sscanf(line, "%" SCNx64 "-%" SCNx64, lo, hi) == 2;
	}
	fclose(f);
	return found;
}

/* Proves (row 10): a thread parked in a signal handler that runs on its
 * alternate stack (blocked in read() there) is captured with its stack
 * pointer on that stack, with and without the clone (which may inject
 * into it: it waits in a restartable call); afterwards the handler's read
 * gets the byte written later, with no EINTR, and the handler still runs
 * on the same alternate stack, marked SS_ONSTACK. */
TEST(row10_handler_on_sigaltstack)
{
	static const DWORD flags[] = {
		PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT,
		PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT,
	};
	struct target t;
	char reply[256];
	uint64_t lo, hi;
	DWORD tid;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, reply, sizeof(reply), "altstack");
	tid = (DWORD)reply_get(reply, "tid", 0);
	lo = (uint64_t)reply_get(reply, "lo", 0);
	hi = (uint64_t)reply_get(reply, "hi", 0);
	REQUIRE(tid && lo && hi > lo, "victim: %s", reply);
	REQUIRE(wait_thread_syscall(t.pid, (pid_t)tid, SYS_read, 2000) == 0, "handler not in read()");
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		HPSS s = capture_ok(t.pid, flags[f], CONTEXT_ALL);
		struct walk w;
		bool seen = false;

		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
		for (size_t k = 0; k < w.count; k++) {
			PSS_THREAD_ENTRY *x = WALK_ITEM(&w, PSS_THREAD_ENTRY, k);

			if (x->ThreadId != tid)
				continue;
			seen = true;
			REQUIRE(x->ContextRecord, "no context for the handler's thread");
			CHECK(x->ContextRecord->Rsp >= lo && x->ContextRecord->Rsp < hi,
			      "flags %#x: rsp %#llx outside the altstack %#llx-%#llx", flags[f],
			      (unsigned long long)x->ContextRecord->Rsp, (unsigned long long)lo,
			      (unsigned long long)hi);
		}
		CHECK(seen, "thread %u not listed", tid);
		walk_release(&w);
		free_snap(s);
		/* back in its read (it may take a moment to re-enter it) */
		CHECK(wait_thread_syscall(t.pid, (pid_t)tid, SYS_read, 2000) == 0,
		      "flags %#x: the handler's thread is not back in read()", flags[f]);
	}
	target_cmdf(&t, reply, sizeof(reply), "altstack-go");
	diag("handler: %s", reply);
	CHECK_EQ_INT(reply_get(reply, "done", 0), 1);
	CHECK_EQ_INT(reply_get(reply, "got", -9), 1);
	CHECK_EQ_INT(reply_get(reply, "err", -1), 0);
	CHECK_EQ_INT(reply_get(reply, "byte", 0), 'k');
	CHECK_EQ_INT(reply_get(reply, "onstack", 0), 1);
	CHECK_EQ_INT(reply_get(reply, "same", 0), 1);
	CHECK_EQ_INT(reply_get(reply, "sp_in", 0), 1);
	CHECK(no_thread_traced(t.pid), "the victim is left traced");
	CHECK_EQ_INT(clone_procs_under(t.pid, true), 0);
	target_kill(&t);
}

/* Proves (row 49): [vvar] (VM_IO|VM_PFNMAP, present in every process) is
 * never read: the capture and the core succeed, its PT_LOAD is there and
 * holds only zeros (its real pages hold the clock data), while [vdso]
 * next to it is read (its ELF header is in the core). */
TEST(row49_vvar_is_not_read)
{
	uint64_t lo, hi, vlo, vhi;
	const Elf64_Phdr *p;
	struct target t;
	struct core c;
	HPSS snap;

	REQUIRE_PTRACE();
	start_victim(&t);
	if (!map_named(t.pid, "[vvar]", &lo, &hi))
		SKIP("this kernel maps no [vvar]");
	REQUIRE(vdso_range(t.pid, &vlo, &vhi), "no [vdso]");
	snap = capture_ok(t.pid, CORE_FLAGS, CONTEXT_ALL);
	core_of(snap, &c);
	free_snap(snap);
	p = core_load_at(&c, lo);
	REQUIRE(p != NULL, "no PT_LOAD for [vvar] at 0x%" PRIx64, lo);
	CHECK_EQ_U64(p->p_memsz, hi - lo);
	REQUIRE(p->p_offset + p->p_filesz <= c.len, "[vvar] segment past the end");
	diag("[vvar] 0x%" PRIx64 ": %" PRIu64 " of %" PRIu64 " bytes in the core", lo,
	     (uint64_t)p->p_filesz, (uint64_t)p->p_memsz);
	for (uint64_t i = 0; i < p->p_filesz; i++)
		if (c.p[p->p_offset + i]) {
			CHECK(0, "[vvar] byte %" PRIu64 " is 0x%02x: it was read", i, c.p[p->p_offset + i]);
			break;
		}
	p = core_load_at(&c, vlo);
	REQUIRE(p != NULL, "no PT_LOAD for [vdso]");
	CHECK(p->p_filesz >= SELFMAG && p->p_offset + SELFMAG <= c.len &&
	      !memcmp(c.p + p->p_offset, ELFMAG, SELFMAG), "[vdso] not read into the core");
	munmap(c.p, c.len);
	CHECK(no_thread_traced(t.pid), "the victim is still traced");
	target_cmdf(&t, (char[64]){ 0 }, 64, "ping");
	target_kill(&t);
}

/* The registers of thread @tid from the core's NT_PRSTATUS notes into
 * @out (notes are only 4-aligned: copied out). */
static bool prstatus_regs(const struct note *nt, unsigned n, pid_t tid, struct user_regs_struct *out)
{
	for (unsigned i = 0; i < n; i++) {
		struct elf_prstatus ps;

		if (nt[i].type != NT_PRSTATUS || strcmp(nt[i].name, "CORE") || nt[i].descsz != sizeof(ps))
			continue;
		memcpy(&ps, nt[i].desc, sizeof(ps));
		if (ps.pr_pid == tid) {
			memcpy(out, &ps.pr_reg, sizeof(*out));
			return true;
		}
	}
	return false;
}

/* Proves (row 50): the core's NT_PRSTATUS holds the registers as the
 * target had them, not the injected ones: the register spinner's six
 * callee-saved registers hold its pattern, and every thread blocked in
 * read() (one of them hosted the clone injection) has the stack and
 * instruction pointers /proc gave before the capture and orig_rax 0. */
TEST(row50_prstatus_holds_the_registers_before_injection)
{
	static struct note nt[256];
	struct user_regs_struct regs, *r = &regs;
	uint64_t sp[2], pc[2];
	pid_t tids[2];
	struct target t;
	struct core c;
	char reply[256];
	unsigned n;
	pid_t spin, cpid;
	HPSS snap;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, reply, sizeof(reply), "regs 77");
	spin = (pid_t)reply_get(reply, "tid", 0);
	REQUIRE(spin > 0, "regs: %s", reply);
	target_cmdf(&t, reply, sizeof(reply), "block read");
	tids[1] = (pid_t)reply_get(reply, "tid", 0);
	REQUIRE(tids[1] > 0, "block read: %s", reply);
	tids[0] = t.pid;
	REQUIRE(wait_thread_syscall(t.pid, tids[1], SYS_read, 5000) == 0, "reader not in read()");
	victim_idle(&t);
	for (int i = 0; i < 2; i++)
		REQUIRE(task_sp_pc(t.pid, tids[i], &sp[i], &pc[i]), "no sp/pc for %d", tids[i]);
	snap = capture_ok(t.pid, CORE_FLAGS, CONTEXT_ALL);
	REQUIRE(query_va_clone(snap, &cpid) != NULL && cpid > 0, "no VA clone: nothing was injected");
	core_of(snap, &c);
	free_snap(snap);
	n = core_notes(&c, nt, 256);
	REQUIRE(prstatus_regs(nt, n, spin, r), "no NT_PRSTATUS for the spinner %d", spin);
	CHECK_EQ_HEX(r->rbx, vp_gp(77, VP_RBX));
	CHECK_EQ_HEX(r->rbp, vp_gp(77, VP_RBP));
	CHECK_EQ_HEX(r->r12, vp_gp(77, VP_R12));
	CHECK_EQ_HEX(r->r13, vp_gp(77, VP_R13));
	CHECK_EQ_HEX(r->r14, vp_gp(77, VP_R14));
	CHECK_EQ_HEX(r->r15, vp_gp(77, VP_R15));
	for (int i = 0; i < 2; i++) {
		REQUIRE(prstatus_regs(nt, n, tids[i], r), "no NT_PRSTATUS for %d", tids[i]);
		CHECK_EQ_HEX(r->orig_rax, SYS_read);
		CHECK_EQ_HEX(r->rsp, sp[i]);
		CHECK_EQ_HEX(r->rip, pc[i]);
	}
	munmap(c.p, c.len);
	target_cmdf(&t, reply, sizeof(reply), "check");
	CHECK(reply_get(reply, "mismatches", -1) == 0, "spinner: %s", reply);
	target_kill(&t);
}

/* Proves (row 51): a command line longer than pr_psargs is cut to its
 * first 79 bytes (NULs as spaces, then a NUL) in an NT_PRPSINFO of the
 * exact size, and the notes after it are intact. */
TEST(row51_long_argv_truncated_in_prpsinfo)
{
	static struct note nt[256];
	static char arg[121], cmdline[4096];
	const char *const argv[] = { arg, "second", NULL };
	static struct elf_prpsinfo psi_buf;
	const struct elf_prpsinfo *psi = NULL;
	char path[64], want[ELF_PRARGSZ];
	unsigned n, after = 0;
	struct target t;
	struct core c;
	HPSS snap;
	int len;

	REQUIRE_PTRACE();
	for (int i = 0; i < 120; i++)
		arg[i] = (char)('a' + i % 26);
	REQUIRE(target_start(&t, "victim", argv) == 0, "cannot start the victim");
	victim_idle(&t);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", t.pid);
	len = read_text(path, cmdline, sizeof(cmdline));
	REQUIRE(len > ELF_PRARGSZ, "cmdline of %d bytes", len);
	memcpy(want, cmdline, ELF_PRARGSZ - 1);
	for (int i = 0; i < ELF_PRARGSZ - 1; i++)
		if (!want[i])
			want[i] = ' ';
	want[ELF_PRARGSZ - 1] = 0;
	snap = capture_ok(t.pid, CORE_FLAGS, CONTEXT_ALL);
	core_of(snap, &c);
	free_snap(snap);
	n = core_notes(&c, nt, 256);
	for (unsigned i = 0; i < n; i++) {
		if (nt[i].type == NT_PRPSINFO && !strcmp(nt[i].name, "CORE")) {
			CHECK_EQ_U64(nt[i].descsz, sizeof(psi_buf));
			memcpy(&psi_buf, nt[i].desc, MIN(nt[i].descsz, sizeof(psi_buf)));
			psi = &psi_buf;
		} else if (psi) {
			after++;
		}
	}
	REQUIRE(psi != NULL, "no NT_PRPSINFO");
	CHECK(!memcmp(psi->pr_psargs, want, ELF_PRARGSZ), "pr_psargs '%.80s', want '%s'",
	      psi->pr_psargs, want);
	CHECK(!strncmp(psi->pr_fname, "victim", sizeof(psi->pr_fname)), "pr_fname '%.16s'", psi->pr_fname);
	CHECK_EQ_INT(psi->pr_pid, t.pid);
	CHECK(after >= 3, "only %u notes after NT_PRPSINFO", after);
	munmap(c.p, c.len);
	target_kill(&t);
}

/* ---- row 53 ---- */

/* Create @dir/@name holding one page; map it in the victim; its address. */
static uint64_t victim_maps_file(struct target *t, const char *dir, const char *name)
{
	char path[512], hex[1100], reply[128];
	static const char page[4096];
	size_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0 && write(fd, page, sizeof(page)) == (ssize_t)sizeof(page), "create %s", path);
	close(fd);
	for (n = 0; path[n]; n++)
		snprintf(hex + 2 * n, 3, "%02x", (unsigned char)path[n]);
	target_cmdf(t, reply, sizeof(reply), "map %s", hex);
	REQUIRE(reply_get(reply, "addr", 0) > 0, "map %s: %s", name, reply);
	return (uint64_t)reply_get(reply, "addr", 0);
}

/* The region of the snapshot that starts at @addr. */
static bool region_at(HPSS snap, uint64_t addr, struct pss_linux_region_info *ri)
{
	for (unsigned i = 0;; i++) {
		ri->sz = sizeof(*ri);
		if (pss_linux_query_region(snap, i, ri) != ERROR_SUCCESS)
			return false;
		if (ri->start == addr)
			return true;
	}
}

/* Proves (row 53): the names /proc/PID/maps prints ambiguously come back
 * as the files are really called.  A newline (printed "\012") and a file
 * literally named with the four bytes "\012" (printed the same), both
 * side by side, and a mix of the two; a live file called "... (deleted)"
 * is not flagged deleted; an unlinked one is, under its own name, also
 * when that name ends in " (deleted)".  An unlinked file with a newline
 * cannot be looked up: it is reported as the kernel printed it.  Each
 * mapping is one region of one page. */
TEST(row53_hostile_mapping_names)
{
	static const struct {
		const char *name;	/* the file */
		bool unlink;
		const char *want;	/* the name reported (after the directory) */
	} cases[] = {
		{ "nl\nname", false, "nl\nname" },
		{ "gone", true, "gone" },
		{ "lit\\012name", false, "lit\\012name" },
		{ "fake (deleted)", false, "fake (deleted)" },
		{ "twin\nx", false, "twin\nx" },
		{ "twin\\012x", false, "twin\\012x" },
		{ "mix\\012a\nb", false, "mix\\012a\nb" },
		{ "nl\nfake (deleted)", false, "nl\nfake (deleted)" },
		{ "dfake (deleted)", true, "dfake (deleted)" },
		{ "dnl\nx", true, "dnl\\012x" },
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	char dir[] = "/tmp/pss-matrix-XXXXXX", path[512], want[512];
	struct pss_linux_region_info ri;
	uint64_t addr[N];
	struct target t;
	HPSS snap;

	REQUIRE(mkdtemp(dir), "mkdtemp");
	REQUIRE(target_start(&t, "matrix-victim", NULL) == 0, "cannot start matrix-victim");
	for (int i = 0; i < N; i++)
		addr[i] = victim_maps_file(&t, dir, cases[i].name);
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		REQUIRE(!cases[i].unlink || unlink(path) == 0, "unlink %s", path);
	}
	snap = capture_ok(t.pid, PSS_CAPTURE_VA_SPACE | PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION, 0);
	for (int i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "%s/%s", dir, cases[i].want);
		REQUIRE(region_at(snap, addr[i], &ri), "no region at 0x%" PRIx64 " (%s)", addr[i], want);
		CHECK_EQ_U64(ri.end - ri.start, 4096);
		CHECK(!strcmp(ri.name, want), "name '%s', want '%s'", ri.name, want);
		CHECK(ri.deleted == cases[i].unlink, "'%s' deleted %d", want, ri.deleted);
	}
	free_snap(snap);
	target_kill(&t);
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		unlink(path);
	}
	rmdir(dir);
}

/* ---- who may capture whom ---- */

static int yama_scope(void)
{
	char buf[16];

	return read_text("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) > 0 ? atoi(buf) : -1;
}

/* capture_in_child's preparation: uid/gid 65534, no supplementary group,
 * no capability left. */
static int as_nobody(struct child_capture *res)
{
	(void)res;
	if (setgroups(0, NULL))
		return 1;
	if (setresgid(NOBODY, NOBODY, NOBODY))
		return 2;
	if (setresuid(NOBODY, NOBODY, NOBODY))
		return 3;
	if (status_hex(getpid(), 0, "CapEff") || status_hex(getpid(), 0, "CapPrm"))
		return 4;
	return 0;
}

struct sampler {
	pid_t victim;
	struct watch *w;
};

/* capture_in_child's hook: a watcher of the victim that has sampled twice. */
static void start_sampling(void *arg)
{
	struct sampler *sm = arg;

	sm->w = watch_start(sm->victim);
	while (watch_sweeps(sm->w) < 2)
		msleep(1);
}

/*
 * capture_as_nobody() - in a forked child with uid/gid 65534, no
 * supplementary group and no capability, capture @victim with @flags and
 * free the snapshot.  While it runs a watcher samples the victim's
 * TracerPid and thread states; return how many samples saw a tracer or a
 * stop in *seen.  Return: the capture's code.
 */
static DWORD capture_as_nobody(pid_t victim, DWORD flags, int *seen, char *text, size_t len)
{
	struct sampler sm = { .victim = victim };
	struct child_capture res;

	res = capture_in_child(victim, flags, as_nobody, NULL, start_sampling, &sm);
	*seen = watch_stop(sm.w, NULL);
	snprintf(text, len, "%s", res.text);
	diag("as uid %d: %s - %s", NOBODY, err_name(res.code), res.code ? text : "");
	return res.code;
}

/* A matrix-victim that becomes uid @uid (-1: stays root), dumpable or not,
 * keeping capability @cap (-1: none); with Yama at scope 1 it names any
 * process its tracer (@ptracer_any), as a debugger would. */
static void start_cred_victim(struct target *t, int uid, int dumpable, int cap, bool ptracer_any)
{
	char reply[128];

	REQUIRE(target_start(t, "matrix-victim", NULL) == 0, "cannot start matrix-victim");
	if (uid >= 0) {
		target_cmdf(t, reply, sizeof(reply), "become %d %d %d", uid, dumpable, cap);
		REQUIRE(!strncmp(reply, "ok", 2) && reply_get(reply, "dumpable", -1) == dumpable, "become: %s",
			reply);
	}
	if (ptracer_any && yama_scope() == 1) {
		target_cmdf(t, reply, sizeof(reply), "ptracer-any");
		REQUIRE(!strcmp(reply, "ok"), "ptracer-any: %s", reply);
	}
	victim_idle(t);
}

/* Skip when no unprivileged tracer can trace anything here (so that the
 * row's control capture cannot succeed). */
static void require_unprivileged_ptrace(void)
{
	if (geteuid() != 0)
		SKIP("needs root to run the caller as uid %d and the victim as chosen", NOBODY);
	REQUIRE_PTRACE();
	if (yama_scope() >= 2)
		SKIP("Yama ptrace_scope %d: no unprivileged caller may trace", yama_scope());
}

/* The refusal of a row: captures as uid 65534 (the stop alone, and with
 * the VA clone) are ERROR_ACCESS_DENIED, no sample ever saw
 * the victim traced or stopped, and it still answers, untraced. */
static void check_refused(struct target *t)
{
	static const DWORD flags[] = { PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, PTRACE_FLAGS };
	char reply[64], text[240];

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		int seen = -1;

		CHECK_ERR(capture_as_nobody(t->pid, flags[i], &seen, text, sizeof(text)),
			  ERROR_ACCESS_DENIED);
		/* the reason names the kernel's check, not a symptom of it */
		CHECK(strstr(text, "CAP_SYS_PTRACE") != NULL, "flags %#x: reason '%s'", flags[i], text);
		CHECK_EQ_INT(seen, 0);
		CHECK(no_thread_traced(t->pid), "the victim is left traced");
		CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	}
	target_cmdf(t, reply, sizeof(reply), "ping");
	CHECK(!strncmp(reply, "pong", 4), "victim: %s", reply);
}

/* The control of rows 57-59: the same unprivileged caller captures a
 * dumpable victim of its own uid that has no capability. */
static void control_capture_succeeds(void)
{
	struct target t;
	char text[240];
	int seen;

	start_cred_victim(&t, NOBODY, 1, -1, true);
	CHECK_ERR(capture_as_nobody(t.pid, PTRACE_FLAGS, &seen, text, sizeof(text)), ERROR_SUCCESS);
	diag("the watcher saw the successful capture in %d samples", seen);	/* may miss it */
	CHECK(no_thread_traced(t.pid), "the victim is left traced");
	target_kill(&t);
}

/* Proves (row 57): an unprivileged caller gets ERROR_ACCESS_DENIED, with no
 * partial attach, for a target of its own uid that is not dumpable and for
 * a target of another uid (root, as a setuid program would run); the same
 * caller captures the same target made dumpable. */
TEST(row57_non_dumpable_or_other_uid_target_unprivileged_caller)
{
	struct target t;

	require_unprivileged_ptrace();
	control_capture_succeeds();

	start_cred_victim(&t, NOBODY, 0, -1, true);
	check_refused(&t);
	target_kill(&t);

	start_cred_victim(&t, -1, 1, -1, true);
	check_refused(&t);
	target_kill(&t);
}

/* Proves (row 58): a target of the caller's uid, dumpable, that keeps one
 * permitted capability the caller lacks (CAP_NET_BIND_SERVICE) is
 * ERROR_ACCESS_DENIED with no partial attach; without it, captured. */
TEST(row58_target_with_more_capabilities_than_caller)
{
	struct target t;

	require_unprivileged_ptrace();
	control_capture_succeeds();

	start_cred_victim(&t, NOBODY, 1, CAP_NET_BIND_SERVICE_BIT, true);
	REQUIRE_EQ_U64(status_hex(t.pid, 0, "CapPrm"), 1ull << CAP_NET_BIND_SERVICE_BIT);
	check_refused(&t);
	target_kill(&t);
}

/* Proves (row 59): with Yama ptrace_scope 1 an unprivileged caller may not
 * capture a dumpable target of its uid that is not its descendant
 * (ERROR_ACCESS_DENIED, no partial attach), and may once the target names
 * it (PR_SET_PTRACER_ANY).  Scope 2 and 3 refuse every unprivileged caller. */
TEST(row59_yama_scope_non_descendant)
{
	int scope = yama_scope();
	struct target t;

	if (scope < 0)
		SKIP("Yama is not active here (no /proc/sys/kernel/yama/ptrace_scope)");
	if (scope == 0)
		SKIP("Yama ptrace_scope is 0 (classic ptrace permissions); not changed by tests");
	if (geteuid() != 0)
		SKIP("needs root to run the caller as uid %d", NOBODY);
	REQUIRE_PTRACE();
	start_cred_victim(&t, NOBODY, 1, -1, false);
	check_refused(&t);
	target_kill(&t);
	if (scope == 1)
		control_capture_succeeds();
}

/* Proves (row 60): a kernel thread (pid 2, kthreadd) is refused before any
 * ptrace with ERROR_ACCESS_DENIED and the reason, for captures that would
 * stop it and /proc-only ones alike; it is never traced. */
TEST(row60_kernel_thread_refused)
{
	static const DWORD flags[] = { PTRACE_FLAGS, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT,
				       PSS_CAPTURE_VA_SPACE | PSS_CAPTURE_HANDLES };
	long long pf = task_stat_field(2, 9);
	HPSS s;

	if (pf == LLONG_MIN || !(pf & 0x00200000))
		SKIP("pid 2 is not a kernel thread here (a pid namespace?)");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		DWORD r = capture_pid(2, flags[i], CONTEXT_ALL, &s);

		CHECK_ERR(r, ERROR_ACCESS_DENIED);
		CHECK(s == NULL, "a snapshot of a kernel thread");
		CHECK(strstr(capture_error_text(), "kernel thread") != NULL, "reason: %s",
		      capture_error_text());
		if (s)
			free_snap(s);
	}
	CHECK_EQ_INT(proc_tracer_pid(2), 0);
}

/* ---- row 70 ---- */

struct walker {
	HPSS snap;
	pid_t pid;
	atomic_int walks;	/* complete walks so far */
	atomic_int freed;	/* 1 once PssFreeSnapshot has returned */
	int after_free;		/* calls that began after the free: all must fail */
	int bad;		/* codes other than the expected ones */
	DWORD bad_code;
	int wrong_tid;
};

/* Walk threads (reading each context), VA space and handles over and
 * over until the snapshot is gone; then a few more calls. */
static void *walk_thread(void *arg)
{
	static const PSS_WALK_INFORMATION_CLASS cls[] = { PSS_WALK_THREADS, PSS_WALK_VA_SPACE,
							  PSS_WALK_HANDLES };
	struct walker *w = arg;
	HPSSWALK m;
	int tail = 0;

	if (PssWalkMarkerCreate(NULL, &m))
		return NULL;
	for (unsigned k = 0; tail < 20; k++) {
		union {
			PSS_THREAD_ENTRY t;
			PSS_VA_SPACE_ENTRY v;
			PSS_HANDLE_ENTRY h;
		} e;
		DWORD size = k % 3 == 0 ? sizeof(e.t) : k % 3 == 1 ? sizeof(e.v) : sizeof(e.h);
		bool was_freed = atomic_load(&w->freed);
		DWORD r;

		PssWalkMarkerSetPosition(m, 0);
		while ((r = PssWalkSnapshot(w->snap, cls[k % 3], m, &e, size)) == ERROR_SUCCESS) {
			if (k % 3 == 0 && (pid_t)e.t.ProcessId != w->pid)
				w->wrong_tid++;
			if (k % 3 == 0 && e.t.ContextRecord)
				(void)*(volatile DWORD64 *)&e.t.ContextRecord->Rip;
			if (k % 3 == 2 && e.h.TypeName)
				(void)*(volatile WCHAR *)e.h.TypeName;
		}
		if (was_freed) {
			tail++;
			w->after_free += r == ERROR_INVALID_HANDLE;
		}
		if (r != ERROR_NO_MORE_ITEMS && r != ERROR_INVALID_HANDLE) {
			w->bad++;
			w->bad_code = r;
		}
		if (r == ERROR_NO_MORE_ITEMS)
			atomic_fetch_add(&w->walks, 1);
	}
	PssWalkMarkerFree(m);
	return NULL;
}

/* Proves (row 70): a snapshot freed by one thread while another walks it
 * (threads with contexts, VA space, handles) never crashes the walker
 * (nor trips ASan): each call finishes or answers ERROR_INVALID_HANDLE,
 * every call begun after the free answers ERROR_INVALID_HANDLE, and the
 * free itself succeeds and leaves no clone; 100 rounds, half with a clone. */
TEST(row70_free_while_another_thread_walks)
{
	struct target t;
	char reply[128];

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, reply, sizeof(reply), "threads 3");
	for (int round = 0; round < 100; round++) {
		DWORD flags = PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | PSS_CAPTURE_VA_SPACE |
			      PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION |
			      PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION |
			      (round % 2 ? PSS_CAPTURE_VA_CLONE : 0);
		struct walker w = { .pid = t.pid };
		pthread_t th;

		victim_idle(&t);
		w.snap = capture_ok(t.pid, flags, CONTEXT_ALL);
		REQUIRE(pthread_create(&th, NULL, walk_thread, &w) == 0, "pthread_create");
		/* free in the middle of a walk: after 1 + round % 4 complete ones */
		while (atomic_load(&w.walks) < 1 + round % 4)
			sched_yield();
		CHECK_ERR(PssFreeSnapshot(GetCurrentProcess(), w.snap), ERROR_SUCCESS);
		atomic_store(&w.freed, 1);
		pthread_join(th, NULL);
		CHECK(w.bad == 0, "round %d: %d walk calls answered %s", round, w.bad, err_name(w.bad_code));
		CHECK_EQ_INT(w.after_free, 20);
		CHECK_EQ_INT(w.wrong_tid, 0);
		CHECK_ERR(PssFreeSnapshot(GetCurrentProcess(), w.snap), ERROR_INVALID_HANDLE);
		if (harness_failures())
			break;
	}
	for (int i = 0; i < 100 && clone_procs_under(t.pid, true); i++)
		msleep(10);
	CHECK_EQ_INT(clone_procs_under(t.pid, true), 0);
	CHECK(no_thread_traced(t.pid), "the victim is left traced");
	target_cmdf(&t, reply, sizeof(reply), "ping");
	CHECK(!strncmp(reply, "pong", 4), "victim: %s", reply);
	target_kill(&t);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
