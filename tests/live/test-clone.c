// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The VA clone (PSS_CAPTURE_VA_CLONE): a snapshot holds the target's
 * memory as it was at the instant of the stop while the target runs on.
 *
 * Each test names what it proves and its fault-matrix row.  Memory is
 * checked against patterns that are pure functions of a seed (victim.h):
 * the victim fills a region, the snapshot is taken, the victim overwrites
 * the region, and the clone must still read the first pattern.  The clone
 * is reached only through the public API: PSS_QUERY_VA_CLONE_INFORMATION,
 * ReadProcessMemory, VirtualQueryEx and GetProcessId on VaCloneHandle;
 * /proc is read to check what the kernel sees (state, parent, children).
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define PG 4096ull
#define CLONE_CTX (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)

/* ---- helpers ---- */

static uint64_t rget(const char *r, const char *key)
{
	return (uint64_t)reply_get(r, key, 0);
}

/* Read exactly @len bytes at @addr through @h. */
static bool rpm(HANDLE h, uint64_t addr, void *buf, size_t len)
{
	SIZE_T got = 0;

	return ReadProcessMemory(h, (LPCVOID)(uintptr_t)addr, buf, len, &got) && got == len;
}

/* Capture @pid with the clone (and @extra), REQUIRE the clone's handle. */
static HPSS clone_capture(pid_t pid, DWORD extra, HANDLE *h, pid_t *cpid)
{
	HPSS s = capture_ok(pid, PSS_CAPTURE_VA_CLONE | extra,
			    (extra & PSS_CAPTURE_THREAD_CONTEXT) ? CONTEXT_ALL : 0);

	*h = query_va_clone(s, cpid);
	if (!*h || *cpid <= 0) {
		free_snap(s);
		REQUIRE(0, "no VaCloneHandle in a VA_CLONE snapshot (pid %d)", *cpid);
	}
	return s;
}

/* victim_two_fds() - start a victim, send it @cmd, and return the numbers
 * it answers under @k1 and @k2 (REQUIRED, both >= 0). */
static void victim_two_fds(struct target *t, const char *cmd, const char *k1, int *v1, const char *k2, int *v2)
{
	char r[256];

	start_victim(t);
	target_cmdf(t, r, sizeof(r), "%s", cmd);
	*v1 = (int)reply_get(r, k1, -1);
	*v2 = (int)reply_get(r, k2, -1);
	REQUIRE(*v1 >= 0 && *v2 >= 0, "victim: %s", r);
}

/* Words of a pattern region that differ from vp_word(@seed) over [w0, w1),
 * with the first bad word index in *first. */
static size_t pat_bad(const uint64_t *p, uint64_t w0, uint64_t w1, uint64_t seed, uint64_t *first)
{
	size_t bad = 0;

	for (uint64_t w = w0; w < w1; w++) {
		if (p[w - w0] != vp_word(seed, w)) {
			if (!bad && first)
				*first = w;
			bad++;
		}
	}
	return bad;
}

/* Is pid @cpid gone, or no longer a child of @parent (reused)?  Polls 1 s. */
static bool gone_within_1s(pid_t cpid, pid_t parent)
{
	for (int i = 0; i < 200; i++) {
		long long pp = task_stat_field(cpid, 4);

		if (pp == LLONG_MIN || pp != parent)
			return true;
		msleep(5);
	}
	return false;
}

static bool is_child(pid_t parent, pid_t kid)
{
	pid_t kids[256];
	int n = children_of(parent, kids, 256);

	for (int i = 0; i < n; i++)
		if (kids[i] == kid)
			return true;
	return false;
}

/* The victim's own waitpid(-1, __WALL|WNOHANG) must not see @cpid: it
 * returns 0 (children running) or -1/ECHILD. */
static void check_waitany(struct target *t, pid_t cpid)
{
	char r[256];
	long long ret;

	target_cmdf(t, r, sizeof(r), "waitany");
	ret = reply_get(r, "ret", -2);
	CHECK(ret == 0 || (ret == -1 && reply_get(r, "errno", 0) == ECHILD),
	      "victim's waitpid(-1) after free: %s (clone was %d)", r, cpid);
}

/* After a free: the clone is gone, the target has no clone child, its
 * waitpid(-1) sees nothing (row 40). */
static void check_clone_freed(struct target *t, pid_t cpid)
{
	CHECK(gone_within_1s(cpid, t->pid), "clone %d still a child of %d 1 s after free (state %c)",
	      cpid, t->pid, (char)task_stat_field(cpid, 3));
	CHECK(!is_child(t->pid, cpid), "clone %d still listed in /proc/%d/task/*/children", cpid, t->pid);
	CHECK_EQ_INT(clone_procs_under(t->pid, true), 0);
	check_waitany(t, cpid);
}

static void check_victim_fine(struct target *t)
{
	char r[256];

	REQUIRE(target_cmd(t, "sigcount", r, sizeof(r)) > 0, "victim does not answer");
	CHECK_EQ_INT(reply_get(r, "stdin_eintr", -1), 0);
	CHECK_EQ_INT(proc_tracer_pid(t->pid), 0);
	CHECK(no_thread_traced(t->pid), "a thread of the victim is still traced or in a ptrace stop");
	CHECK(proc_state(t->pid) != 'T', "victim left stopped");
}

/* ---- memory at the instant ---- */

#define GEN_BYTES (256 * 1024)

/*
 * Proves (design invariant 6, issue 3's first test): the clone holds the
 * generation that was current at the capture, every word of it, while the
 * target's own buffer has moved on to later generations.  The victim
 * starts rewriting the buffer in a tight loop right after the snapshot.
 */
TEST(clone_reads_the_generation_of_the_instant)
{
	struct target t;
	char r[256];
	uint64_t hdr, words, n, g = 0, first = 0, bad = 0, stale = 0, now = 0;
	uint64_t *buf;
	HANDLE h, th;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "gen-alloc %d", GEN_BYTES);
	hdr = rget(r, "hdr"), words = rget(r, "words"), n = rget(r, "n");
	REQUIRE(hdr && words && n == GEN_BYTES / 8, "victim: %s", r);
	target_cmdf(&t, r, sizeof(r), "gen-set 41");
	victim_idle(&t);
	s = clone_capture(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, &h, &cpid);
	target_cmdf(&t, r, sizeof(r), "gen-run");
	for (int i = 0; i < 2000 && now < 45; i++) {
		now = rget(target_cmdf(&t, r, sizeof(r), "gen-now"), "gen");
		msleep(1);
	}
	REQUIRE(now >= 45, "the victim's writer did not advance (gen %llu)", (unsigned long long)now);

	buf = malloc(n * 8);
	REQUIRE(buf, "malloc");
	REQUIRE(rpm(h, hdr, &g, sizeof(g)), "ReadProcessMemory(clone, counter): %s", err_name(GetLastError()));
	CHECK_EQ_U64(g, 41);
	REQUIRE(rpm(h, words, buf, n * 8), "ReadProcessMemory(clone, buffer): %s", err_name(GetLastError()));
	for (uint64_t i = 0; i < n; i++)
		if (buf[i] != vp_gen_word(41, i) && !bad++)
			first = i;
	CHECK(bad == 0, "%llu of %llu words of the clone are not generation 41 (first: word %llu = %#llx)",
	      (unsigned long long)bad, (unsigned long long)n, (unsigned long long)first,
	      (unsigned long long)buf[first]);
	/* The target itself has moved on: no word of generation 41 is left. */
	th = open_process(t.pid);
	REQUIRE(rpm(th, words, buf, n * 8), "ReadProcessMemory(target): %s", err_name(GetLastError()));
	for (uint64_t i = 0; i < n; i++)
		stale += buf[i] >> 32 == 41;
	CHECK(stale == 0, "the target still holds %llu words of generation 41", (unsigned long long)stale);
	CloseHandle(th);
	target_cmdf(&t, r, sizeof(r), "gen-stop");
	free(buf);
	free_snap(s);
	check_victim_fine(&t);
}

/*
 * Proves (invariant 6, with the writer running during the stop): the
 * clone's buffer and its generation counter are one instant: words
 * [0, k) hold generation c+1 and [k, n) generation c, where c is the
 * counter read from the clone itself (the writer was stopped at word k).
 * Five captures, the writer never paused.
 */
TEST(clone_is_consistent_while_the_target_writes)
{
	struct target t;
	char r[256];
	uint64_t hdr, words, n, prev = 0;
	uint64_t *buf;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "gen-alloc %d", GEN_BYTES);
	hdr = rget(r, "hdr"), words = rget(r, "words"), n = rget(r, "n");
	REQUIRE(hdr && words && n, "victim: %s", r);
	target_cmdf(&t, r, sizeof(r), "gen-run");
	buf = malloc(n * 8);
	REQUIRE(buf, "malloc");
	for (int round = 0; round < 5; round++) {
		uint64_t c = 0, k = 0, bad = 0;
		HANDLE h;
		pid_t cpid;
		HPSS s;

		msleep(20);
		s = clone_capture(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, &h, &cpid);
		msleep(5);	/* the writer moves on */
		REQUIRE(rpm(h, hdr, &c, sizeof(c)) && rpm(h, words, buf, n * 8),
			"ReadProcessMemory(clone): %s", err_name(GetLastError()));
		while (k < n && buf[k] == vp_gen_word(c + 1, k))
			k++;
		for (uint64_t i = k; i < n; i++)
			bad += buf[i] != vp_gen_word(c, i);
		CHECK(bad == 0, "round %d: counter %llu, %llu words of generation %llu, then %llu words "
		      "that are not generation %llu", round, (unsigned long long)c, (unsigned long long)k,
		      (unsigned long long)c + 1, (unsigned long long)bad, (unsigned long long)c);
		CHECK(c > prev, "round %d: counter %llu did not advance from %llu", round,
		      (unsigned long long)c, (unsigned long long)prev);
		prev = c;
		free_snap(s);
	}
	free(buf);
	target_cmdf(&t, r, sizeof(r), "gen-stop");
	CHECK(rget(r, "gen") > prev, "victim at generation %llu, clone saw %llu", (unsigned long long)rget(r, "gen"),
	      (unsigned long long)prev);
	check_victim_fine(&t);
}

#define BIG (256ull << 20)
#define CHUNK (4ull << 20)

/*
 * Proves (invariant 6 at scale): a 256 MiB buffer filled with one pattern
 * and overwritten by the target after the capture still reads as the
 * first pattern through the clone, three words of every page sampled;
 * the target itself reads the second pattern.
 */
TEST(clone_keeps_256mib_overwritten_after_capture)
{
	struct target t;
	char r[256];
	uint64_t addr, bad = 0, first = 0, cur = 0;
	uint64_t *buf;
	HANDLE h, th;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 11 private", BIG);
	addr = rget(r, "addr");
	REQUIRE(addr, "victim: %s", r);
	victim_idle(&t);
	s = clone_capture(t.pid, 0, &h, &cpid);
	target_cmdf(&t, r, sizeof(r), "pat-fill %#llx %llu 12", (unsigned long long)addr, BIG);
	CHECK_EQ_INT(reply_get(r, "mismatches", -1), 0);
	buf = malloc(CHUNK);
	REQUIRE(buf, "malloc");
	for (uint64_t off = 0; off < BIG; off += CHUNK) {
		REQUIRE(rpm(h, addr + off, buf, CHUNK), "ReadProcessMemory(clone, +%#llx): %s",
			(unsigned long long)off, err_name(GetLastError()));
		for (uint64_t pg = 0; pg < CHUNK / PG; pg++) {
			uint64_t w0 = (off + pg * PG) / 8, idx[3] = { 0, 1 + (pg * 37) % 510, 511 };

			for (int k = 0; k < 3; k++) {
				uint64_t w = pg * 512 + idx[k];

				if (buf[w] != vp_word(11, w0 + idx[k]) && !bad++)
					first = w0 + idx[k];
			}
		}
	}
	CHECK(bad == 0, "%llu sampled words of the clone changed (first: word %llu)", (unsigned long long)bad,
	      (unsigned long long)first);
	th = open_process(t.pid);
	CHECK(rpm(th, addr + BIG / 2, &cur, 8) && cur == vp_word(12, BIG / 16),
	      "the target does not hold its new pattern (%#llx)", (unsigned long long)cur);
	CloseHandle(th);
	free(buf);
	free_snap(s);
	check_victim_fine(&t);
}

/* ---- the clone's handle ---- */

static const PSS_VA_SPACE_ENTRY *va_find(struct walk *w, uint64_t addr)
{
	for (size_t i = 0; i < w->count; i++) {
		const PSS_VA_SPACE_ENTRY *e = WALK_ITEM(w, PSS_VA_SPACE_ENTRY, i);
		uint64_t b = (uint64_t)(uintptr_t)e->BaseAddress;

		if (addr >= b && addr - b < e->RegionSize)
			return e;
	}
	return NULL;
}

static DWORD vq_state(HANDLE h, uint64_t addr, MEMORY_BASIC_INFORMATION *mbi)
{
	memset(mbi, 0, sizeof(*mbi));
	if (VirtualQueryEx(h, (LPCVOID)(uintptr_t)addr, mbi, sizeof(*mbi)) != sizeof(*mbi))
		return 0;
	return mbi->State;
}

/*
 * Proves (contract of VaCloneHandle): GetProcessId gives the clone's pid;
 * the kernel sees it in a traced stop ('t'), as a child of the target,
 * named "pss-clone", with exit signal 0 (no SIGCHLD to the target); the
 * target itself is not traced.  VirtualQueryEx and ReadProcessMemory on
 * the handle describe the address space of the instant: a mapping the
 * victim unmaps after the capture is still there with its bytes, one it
 * maps after the capture is free; the target shows the opposite.  The
 * snapshot's VA_SPACE walk agrees.
 */
TEST(clone_handle_is_a_process_handle)
{
	struct target t;
	char r[256], comm[64];
	uint64_t a, b, pat[3 * PG / 8], x;
	MEMORY_BASIC_INFORMATION mbi;
	const PSS_VA_SPACE_ENTRY *e;
	struct walk w;
	HANDLE h, th;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	a = rget(target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 21 private", 3 * PG), "addr");
	REQUIRE(a, "victim: %s", r);
	victim_idle(&t);
	s = clone_capture(t.pid, PSS_CAPTURE_VA_SPACE, &h, &cpid);
	CHECK(cpid != t.pid, "the clone is the target");
	CHECK_EQ_INT(GetProcessId(h), cpid);
	CHECK_EQ_INT(task_stat_field(cpid, 3), 't');
	CHECK_EQ_INT(task_stat_field(cpid, 4), t.pid);
	CHECK_EQ_INT(task_stat_field(cpid, 38), 0);
	CHECK(task_comm(cpid, cpid, comm, sizeof(comm)) > 0 && !strcmp(comm, "pss-clone"), "clone comm '%s'", comm);
	CHECK(is_child(t.pid, cpid), "clone %d not in /proc/%d/task/*/children", cpid, t.pid);
	CHECK(no_thread_traced(t.pid), "the target stayed traced");

	b = rget(target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 22 private", 5 * PG), "addr");
	REQUIRE(b, "victim: %s", r);
	target_cmdf(&t, r, sizeof(r), "munmap %#llx %llu", (unsigned long long)a, 3 * PG);
	CHECK_EQ_INT(reply_get(r, "ret", -1), 0);
	th = open_process(t.pid);

	CHECK_EQ_HEX(vq_state(h, a, &mbi), MEM_COMMIT);
	CHECK_EQ_HEX(mbi.Type, MEM_PRIVATE);
	CHECK_EQ_HEX(mbi.Protect, PAGE_READWRITE);
	CHECK_EQ_HEX((uint64_t)(uintptr_t)mbi.BaseAddress, a);
	CHECK_EQ_HEX(vq_state(th, a, &mbi), MEM_FREE);
	CHECK_EQ_HEX(vq_state(h, b, &mbi), MEM_FREE);
	CHECK_EQ_HEX(vq_state(th, b, &mbi), MEM_COMMIT);
	CHECK(rpm(h, a, pat, sizeof(pat)), "ReadProcessMemory(clone, unmapped-after region): %s",
	      err_name(GetLastError()));
	CHECK_EQ_U64(pat_bad(pat, 0, 3 * PG / 8, 21, NULL), 0);
	CHECK(!rpm(h, b, &x, sizeof(x)), "the clone reads a mapping made after the capture");
	CHECK(!rpm(th, a, &x, sizeof(x)), "the target still reads its unmapped region");

	CHECK_ERR(walk_collect(s, PSS_WALK_VA_SPACE, sizeof(PSS_VA_SPACE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	e = va_find(&w, a);
	CHECK(e && e->State == MEM_COMMIT, "snapshot VA: region at %#llx state %#x", (unsigned long long)a,
	      e ? e->State : 0);
	e = va_find(&w, b);
	CHECK(!e || e->State == MEM_FREE, "snapshot VA lists the later mapping %#llx (state %#x)",
	      (unsigned long long)b, e->State);
	walk_release(&w);
	CloseHandle(th);
	free_snap(s);
	check_victim_fine(&t);
}

/*
 * Proves (VA_SPACE is read from the clone, consistent to the instant): the
 * victim maps and unmaps a region in a loop, with a state word that says
 * which; in each snapshot the region is listed exactly when the state word
 * read from the clone says it was mapped (states in between are skipped).
 * A VA space read from the running target after the stop would disagree
 * about half the time.
 */
TEST(va_space_matches_the_clone_instant)
{
	struct target t;
	char r[256];
	uint64_t st_addr, x;
	int decided = 0;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "toggle-start");
	st_addr = rget(r, "state"), x = rget(r, "addr");
	REQUIRE(st_addr && x, "victim: %s", r);
	for (int i = 0; i < 12; i++) {
		MEMORY_BASIC_INFORMATION mbi;
		const PSS_VA_SPACE_ENTRY *e;
		struct walk w;
		HANDLE h;
		pid_t cpid;
		int st = -1;
		bool listed;
		HPSS s;

		msleep(3);
		s = clone_capture(t.pid, PSS_CAPTURE_VA_SPACE, &h, &cpid);
		REQUIRE(rpm(h, st_addr, &st, sizeof(st)), "ReadProcessMemory(clone, state): %s",
			err_name(GetLastError()));
		CHECK_ERR(walk_collect(s, PSS_WALK_VA_SPACE, sizeof(PSS_VA_SPACE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
		e = va_find(&w, x);
		listed = e && e->State != MEM_FREE;
		if (st == VP_TOGGLE_MAPPED || st == VP_TOGGLE_UNMAPPED) {
			decided++;
			CHECK(listed == (st == VP_TOGGLE_MAPPED), "capture %d: state word %d but region %s", i, st,
			      listed ? "listed" : "absent");
		}
		/* VirtualQueryEx on the clone sees the same frozen map */
		CHECK((vq_state(h, x, &mbi) == MEM_COMMIT) == listed, "capture %d: VirtualQueryEx(clone) %#x, walk %s",
		      i, mbi.State, listed ? "listed" : "absent");
		walk_release(&w);
		free_snap(s);
	}
	target_cmdf(&t, r, sizeof(r), "toggle-stop");
	diag("%d of 12 captures in a decided state; victim: %s", decided, r);
	CHECK(decided >= 3, "only %d captures saw a decided toggler state", decided);
	CHECK(rget(r, "flips") > 0, "the toggler never ran");
	check_victim_fine(&t);
}

/*
 * Proves (documented in the header: MAP_SHARED memory is live): a shared
 * anonymous mapping written after the capture shows the new bytes through
 * the clone, while a private one beside it keeps the old ones.
 */
TEST(shared_memory_is_live_through_the_clone)
{
	struct target t;
	char r[256];
	uint64_t sh, pr, buf[4 * PG / 8];
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	sh = rget(target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 31 shared", 4 * PG), "addr");
	pr = rget(target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 32 private", 4 * PG), "addr");
	REQUIRE(sh && pr, "victim: %s", r);
	victim_idle(&t);
	s = clone_capture(t.pid, 0, &h, &cpid);
	target_cmdf(&t, r, sizeof(r), "pat-fill %#llx %llu 33", (unsigned long long)sh, 4 * PG);
	target_cmdf(&t, r, sizeof(r), "pat-fill %#llx %llu 34", (unsigned long long)pr, 4 * PG);
	REQUIRE(rpm(h, sh, buf, sizeof(buf)), "ReadProcessMemory(clone, shared): %s", err_name(GetLastError()));
	CHECK_EQ_U64(pat_bad(buf, 0, 4 * PG / 8, 33, NULL), 0);
	REQUIRE(rpm(h, pr, buf, sizeof(buf)), "ReadProcessMemory(clone, private): %s", err_name(GetLastError()));
	CHECK_EQ_U64(pat_bad(buf, 0, 4 * PG / 8, 32, NULL), 0);
	free_snap(s);
	check_victim_fine(&t);
}

/* ---- free (row 40) and duplicates ---- */

/*
 * Proves (row 40, invariant 2): after PssFreeSnapshot the clone is gone
 * within 1 s, no clone is left in /proc/TARGET/task/STAR/children (not even a
 * zombie), and the target's own waitpid(-1, __WALL|WNOHANG) returns 0 or
 * ECHILD: it never sees the clone.  Three rounds, nothing accumulates.
 */
TEST(row40_free_leaves_no_clone_and_no_zombie)
{
	struct target t;

	REQUIRE_PTRACE();
	start_victim(&t);
	for (int round = 0; round < 3; round++) {
		HANDLE h;
		pid_t cpid;
		HPSS s;

		victim_idle(&t);
		s = clone_capture(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, &h, &cpid);
		CHECK(is_child(t.pid, cpid), "round %d: clone %d is not a child of the target", round, cpid);
		free_snap(s);
		check_clone_freed(&t, cpid);
	}
	check_victim_fine(&t);
}

/*
 * Proves (PssDuplicateSnapshot shares the clone): a duplicate names the
 * same clone; freeing the original leaves it alive and readable through
 * the duplicate (still the bytes of the instant); freeing the duplicate
 * removes it as row 40 requires.
 */
TEST(duplicate_shares_the_clone_until_the_last_free)
{
	struct target t;
	char r[256];
	uint64_t a, buf[2 * PG / 8];
	HANDLE h1, h2;
	pid_t c1, c2;
	HPSS s, d = NULL;

	REQUIRE_PTRACE();
	start_victim(&t);
	a = rget(target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 41 private", 2 * PG), "addr");
	REQUIRE(a, "victim: %s", r);
	victim_idle(&t);
	s = clone_capture(t.pid, 0, &h1, &c1);
	REQUIRE_OK(PssDuplicateSnapshot(GetCurrentProcess(), s, GetCurrentProcess(), &d, PSS_DUPLICATE_NONE));
	REQUIRE(d, "no duplicate");
	h2 = query_va_clone(d, &c2);
	REQUIRE(h2, "the duplicate has no VaCloneHandle");
	CHECK_EQ_INT(c2, c1);
	target_cmdf(&t, r, sizeof(r), "pat-fill %#llx %llu 42", (unsigned long long)a, 2 * PG);
	free_snap(s);
	msleep(50);
	CHECK_EQ_INT(task_stat_field(c1, 3), 't');
	CHECK_EQ_INT(task_stat_field(c1, 4), t.pid);
	CHECK(rpm(h2, a, buf, sizeof(buf)), "ReadProcessMemory(duplicate's clone): %s", err_name(GetLastError()));
	CHECK_EQ_U64(pat_bad(buf, 0, 2 * PG / 8, 41, NULL), 0);
	free_snap(d);
	check_clone_freed(&t, c1);
	check_victim_fine(&t);
}

/*
 * Proves (row 41): SIGTERM sent to the target's whole process group while a
 * snapshot lives reaches the target (it handles it and runs on) and the
 * clone, which never runs: it stays in its traced stop, its memory intact;
 * PssFreeSnapshot still succeeds and leaves nothing (row 40 checks).
 */
TEST(row41_group_sigterm_never_runs_the_clone)
{
	struct target t;
	char r[256];
	uint64_t a, buf[PG / 8];
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "setpgid");
	REQUIRE(reply_get(r, "pgid", 0) == t.pid, "victim: %s", r);
	target_cmdf(&t, r, sizeof(r), "sigterm");
	a = rget(target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 51 private", PG), "addr");
	victim_idle(&t);
	s = clone_capture(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, &h, &cpid);
	REQUIRE_EQ_INT(getpgid(cpid), t.pid);
	REQUIRE(kill(-t.pid, SIGTERM) == 0, "kill(-%d, SIGTERM): %s", t.pid, strerror(errno));
	for (int i = 0; i < 500; i++) {
		target_cmdf(&t, r, sizeof(r), "sigcount");
		if (reply_get(r, "term", 0) >= 1)
			break;
		msleep(2);
	}
	CHECK_EQ_INT(reply_get(r, "term", -1), 1);
	for (int i = 0; i < 30; i++) {
		char st = (char)task_stat_field(cpid, 3);

		if (st != 't') {
			CHECK(st == 't', "clone %d left its traced stop after SIGTERM: state %c", cpid, st);
			break;
		}
		msleep(10);
	}
	CHECK(rpm(h, a, buf, sizeof(buf)) && pat_bad(buf, 0, PG / 8, 51, NULL) == 0,
	      "the clone's memory after SIGTERM is not the instant's");
	free_snap(s);
	check_clone_freed(&t, cpid);
	check_victim_fine(&t);
}

/* ---- shared kernel objects (rows 42-45): the clone holds no reference ---- */

/*
 * Proves (row 42, "no effect at all"): the target closes its pipe's write
 * end while a snapshot lives; a reader (this process, through its own open
 * of the pipe) gets EOF at once, before the free.  The snapshot's handle
 * list, read at the stop, still has the write end.
 */
TEST(row42_pipe_reader_gets_eof_while_snapshot_lives)
{
	struct target t;
	struct pss_linux_handle_info hi = { .sz = sizeof(hi) };
	struct pollfd pfd;
	char r[256], path[64], c;
	int rfd, wfd, fd;
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	victim_two_fds(&t, "pipe", "r", &rfd, "w", &wfd);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", t.pid, rfd);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(read(fd, &c, 1) == -1 && errno == EAGAIN, "no writer before the test closed it?");
	victim_idle(&t);
	s = clone_capture(t.pid, PSS_CAPTURE_HANDLES, &h, &cpid);
	CHECK_ERR(pss_linux_query_handle(s, wfd, &hi), ERROR_SUCCESS);
	target_cmdf(&t, r, sizeof(r), "close %d %d", wfd, rfd);
	CHECK_EQ_INT(reply_get(r, "ret", -1), 0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	CHECK(poll(&pfd, 1, 2000) == 1 && (pfd.revents & POLLHUP), "no EOF while the snapshot lives "
	      "(revents %#x): the clone holds the write end", pfd.revents);
	CHECK(read(fd, &c, 1) == 0, "read after the close: not EOF");
	close(fd);
	free_snap(s);
	check_victim_fine(&t);
}

static int bind_port(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r, err;

	if (fd < 0)
		return -errno;
	r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	err = errno;
	close(fd);
	return r < 0 ? -err : 0;
}

/*
 * Proves (row 43, "no effect at all"): the target closes its listening
 * socket while a snapshot lives; binding its port (without SO_REUSEADDR)
 * succeeds at once, before the free.
 */
TEST(row43_closed_listener_frees_the_port_while_snapshot_lives)
{
	struct target t;
	char r[256];
	int lfd, port;
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	victim_two_fds(&t, "listen", "fd", &lfd, "port", &port);
	REQUIRE(port > 0, "victim listens on port %d", port);
	CHECK_EQ_INT(bind_port(port), -EADDRINUSE);
	victim_idle(&t);
	s = clone_capture(t.pid, 0, &h, &cpid);
	target_cmdf(&t, r, sizeof(r), "close %d", lfd);
	CHECK_EQ_INT(bind_port(port), 0);
	free_snap(s);
	check_victim_fine(&t);
}

/*
 * Proves (row 44, "no effect at all"): the target holds flock(LOCK_EX) and
 * closes the fd while a snapshot lives; another open file description gets
 * the lock at once, before the free.
 */
TEST(row44_flock_released_when_the_target_closes)
{
	struct target t;
	char r[256], path[64];
	int lfd, fd;
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	snprintf(path, sizeof(path), "/tmp/pss-flock-%d", getpid());
	target_cmdf(&t, r, sizeof(r), "flock %s", path);
	lfd = (int)reply_get(r, "fd", -1);
	REQUIRE(lfd >= 0, "victim: %s", r);
	fd = open(path, O_RDWR | O_CLOEXEC);
	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK, "lock not held by the victim");
	victim_idle(&t);
	s = clone_capture(t.pid, 0, &h, &cpid);
	target_cmdf(&t, r, sizeof(r), "close %d", lfd);
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0, "lock still held after the target closed it: %s", strerror(errno));
	close(fd);
	unlink(path);
	free_snap(s);
	check_victim_fine(&t);
}

/*
 * Proves (row 45, "no effect at all"): the target's epoll set holds an
 * always-readable eventfd; the target closes the eventfd while a snapshot
 * lives and its epoll_wait stops reporting it at once (the file is
 * released: nobody else, no clone, holds it).
 */
TEST(row45_epoll_forgets_a_closed_fd_while_snapshot_lives)
{
	struct target t;
	char r[256];
	int ep, efd;
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	victim_two_fds(&t, "epoll-ready", "ep", &ep, "efd", &efd);
	target_cmdf(&t, r, sizeof(r), "epoll-check %d", ep);
	CHECK_EQ_INT(reply_get(r, "n", -1), 1);
	victim_idle(&t);
	s = clone_capture(t.pid, 0, &h, &cpid);
	target_cmdf(&t, r, sizeof(r), "close %d", efd);
	target_cmdf(&t, r, sizeof(r), "epoll-check %d", ep);
	CHECK(reply_get(r, "n", -1) == 0, "epoll still reports the closed eventfd: %s", r);
	free_snap(s);
	check_victim_fine(&t);
}

/* ---- auxiliary pages (rows 46, 47) ---- */

/* Pages of @pid's mappings whose smaps VmFlags have "dc" or "wf". */
static long dc_wf_pages(pid_t pid)
{
	char path[64], *buf, *line, *save;
	unsigned long long a = 0, b = 0;
	long pages = 0;
	size_t cap = 4 << 20;

	buf = malloc(cap);
	REQUIRE(buf, "malloc");
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	REQUIRE(read_text(path, buf, cap) > 0, "read %s", path);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long x, y;

		if (sscanf(line, "%llx-%llx ", &x, &y) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			a = x, b = y;
			continue;
		}
		if (!strncmp(line, "VmFlags:", 8) && (strstr(line, " dc") || strstr(line, " wf")))
			pages += (long)((b - a) / PG);
	}
	free(buf);
	return pages;
}

#define DF_PAGES 8
#define WF_PAGES 5

/*
 * Proves (rows 46, 47): MADV_DONTFORK and MADV_WIPEONFORK regions, which
 * the clone cannot hold, are copied during the stop: AuxPagesCaptured is
 * the number of their pages, the walk gives one entry per page, each
 * PageContents is exactly the pattern the target held at the instant
 * (the target overwrites both regions after the capture), never zeros;
 * every page appears once, with its region's information.  The
 * DONTFORK range is absent from the clone, so it cannot be read there as
 * if it were real data.  The target's regions stay intact and keep their
 * flags.  Without VA_CLONE both the query and the walk are ERROR_NOT_FOUND.
 */
TEST(row46_47_auxiliary_pages_hold_the_instant_bytes)
{
	struct target t;
	char r[256];
	uint64_t df, wf, x;
	int seen_df[DF_PAGES] = { 0 }, seen_wf[WF_PAGES] = { 0 };
	PSS_AUXILIARY_PAGES_INFORMATION ai = { 0 };
	PSS_AUXILIARY_PAGE_ENTRY ae;
	struct walk w;
	HPSSWALK m;
	long want;
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	df = rget(target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 61 dontfork", DF_PAGES * PG), "addr");
	wf = rget(target_cmdf(&t, r, sizeof(r), "pat-alloc %llu 62 wipeonfork", WF_PAGES * PG), "addr");
	REQUIRE(df && wf, "victim: %s", r);
	want = dc_wf_pages(t.pid);
	CHECK_EQ_INT(want, DF_PAGES + WF_PAGES);
	victim_idle(&t);
	s = clone_capture(t.pid, PSS_CAPTURE_VA_SPACE, &h, &cpid);
	/* the target's regions are intact, and then it overwrites them */
	target_cmdf(&t, r, sizeof(r), "pat-check %#llx %llu 61", (unsigned long long)df, DF_PAGES * PG);
	CHECK_EQ_INT(reply_get(r, "mismatches", -1), 0);
	target_cmdf(&t, r, sizeof(r), "pat-check %#llx %llu 62", (unsigned long long)wf, WF_PAGES * PG);
	CHECK_EQ_INT(reply_get(r, "mismatches", -1), 0);
	CHECK_EQ_INT(dc_wf_pages(t.pid), want);
	target_cmdf(&t, r, sizeof(r), "pat-fill %#llx %llu 63", (unsigned long long)df, DF_PAGES * PG);
	target_cmdf(&t, r, sizeof(r), "pat-fill %#llx %llu 64", (unsigned long long)wf, WF_PAGES * PG);

	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_AUXILIARY_PAGES_INFORMATION, &ai, sizeof(ai)));
	CHECK_EQ_INT(ai.AuxPagesCaptured, want);
	CHECK_ERR(walk_collect(s, PSS_WALK_AUXILIARY_PAGES, sizeof(PSS_AUXILIARY_PAGE_ENTRY), &w),
		  ERROR_NO_MORE_ITEMS);
	CHECK_EQ_U64(w.count, ai.AuxPagesCaptured);
	for (size_t i = 0; i < w.count; i++) {
		const PSS_AUXILIARY_PAGE_ENTRY *e = WALK_ITEM(&w, PSS_AUXILIARY_PAGE_ENTRY, i);
		uint64_t a = (uint64_t)(uintptr_t)e->Address, base = (uint64_t)(uintptr_t)e->BasicInformation.BaseAddress;
		uint64_t seed, w0, first = 0;
		int *seen;

		CHECK_EQ_U64(e->PageSize, PG);
		CHECK(e->PageContents != NULL, "aux page %#llx without contents", (unsigned long long)a);
		CHECK(a >= base && a - base < e->BasicInformation.RegionSize, "aux page %#llx outside its region "
		      "%#llx+%#llx", (unsigned long long)a, (unsigned long long)base,
		      (unsigned long long)e->BasicInformation.RegionSize);
		CHECK_EQ_HEX(e->BasicInformation.State, MEM_COMMIT);
		/* private anonymous read-write, as the VA space reports it */
		CHECK_EQ_HEX(e->BasicInformation.Protect, PAGE_READWRITE);
		CHECK_EQ_HEX(e->BasicInformation.Type, MEM_PRIVATE);
		CHECK(filetime_u64(e->CaptureTime) != 0, "aux page %#llx without CaptureTime", (unsigned long long)a);
		if (a >= df && a < df + DF_PAGES * PG) {
			seed = 61, w0 = (a - df) / 8, seen = &seen_df[(a - df) / PG];
		} else if (a >= wf && a < wf + WF_PAGES * PG) {
			seed = 62, w0 = (a - wf) / 8, seen = &seen_wf[(a - wf) / PG];
		} else {
			CHECK(0, "aux page %#llx outside the DONTFORK and WIPEONFORK regions", (unsigned long long)a);
			continue;
		}
		(*seen)++;
		if (e->PageContents && e->PageSize == PG)
			CHECK(pat_bad(e->PageContents, w0, w0 + PG / 8, seed, &first) == 0,
			      "aux page %#llx: word %llu is not the instant's (seed %llu)", (unsigned long long)a,
			      (unsigned long long)first, (unsigned long long)seed);
	}
	for (int i = 0; i < DF_PAGES; i++)
		CHECK(seen_df[i] == 1, "DONTFORK page %d listed %d times", i, seen_df[i]);
	for (int i = 0; i < WF_PAGES; i++)
		CHECK(seen_wf[i] == 1, "WIPEONFORK page %d listed %d times", i, seen_wf[i]);
	walk_release(&w);
	CHECK(!rpm(h, df, &x, sizeof(x)), "the clone reads the DONTFORK range (%#llx)", (unsigned long long)x);
	if (rpm(h, wf, &x, sizeof(x)))
		diag("ReadProcessMemory(clone) of the WIPEONFORK range reads %#llx (raw clone memory)",
		     (unsigned long long)x);
	free_snap(s);

	/* without the clone there are no auxiliary pages */
	s = capture_ok(t.pid, PSS_CAPTURE_VA_SPACE, 0);
	CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_AUXILIARY_PAGES_INFORMATION, &ai, sizeof(ai)), ERROR_NOT_FOUND);
	REQUIRE_OK(PssWalkMarkerCreate(NULL, &m));
	CHECK_ERR(PssWalkSnapshot(s, PSS_WALK_AUXILIARY_PAGES, m, &ae, sizeof(ae)), ERROR_NOT_FOUND);
	PssWalkMarkerFree(m);
	free_snap(s);
	check_victim_fine(&t);
}

/* ---- performance counters ---- */

/*
 * Proves (PSS_CREATE_MEASURE_PERFORMANCE with VA_CLONE): the clone phase is
 * measured (cycles and wall clock nonzero, within the total) and the
 * target's pause is reported (pause_ns > 0).  No speed is asserted.
 */
TEST(measure_performance_counts_the_clone)
{
	struct target t;
	PSS_PERFORMANCE_COUNTERS pc;
	struct pss_linux_process_info li = { .sz = sizeof(li) };
	HANDLE h;
	pid_t cpid;
	HPSS s;

	REQUIRE_PTRACE();
	start_victim(&t);
	s = clone_capture(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | PSS_CAPTURE_VA_SPACE |
			  PSS_CREATE_MEASURE_PERFORMANCE, &h, &cpid);
	memset(&pc, 0, sizeof(pc));
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_PERFORMANCE_COUNTERS, &pc, sizeof(pc)));
	diag("total %llu cycles / %llu; clone %llu cycles / %llu", (unsigned long long)pc.TotalCycleCount,
	     (unsigned long long)pc.TotalWallClockPeriod, (unsigned long long)pc.VaCloneCycleCount,
	     (unsigned long long)pc.VaCloneWallClockPeriod);
	CHECK(pc.VaCloneCycleCount > 0, "VaCloneCycleCount is 0");
	CHECK(pc.VaCloneWallClockPeriod > 0, "VaCloneWallClockPeriod is 0");
	CHECK_GE_U64(pc.TotalWallClockPeriod, pc.VaCloneWallClockPeriod);
	CHECK_GE_U64(pc.TotalCycleCount, pc.VaCloneCycleCount);
	REQUIRE_OK(pss_linux_query_process(s, &li));
	CHECK(li.pause_ns > 0, "pause_ns is 0 after a stop");
	free_snap(s);
	check_victim_fine(&t);
}

/* ---- self capture (row 61) ---- */

static uint64_t self_buf[16 * PG / 8];

/*
 * Proves (row 61): capturing the calling process itself with
 * VA_CLONE|THREADS|THREAD_CONTEXT works and never deadlocks (the harness
 * timeout fails a hang); the clone, a child of ours, reads our buffer's
 * contents of the instant after we change it; our thread is listed with a
 * context; after the free no clone of ours is left and our own waits never
 * see it.  Twice, so the second capture finds a clean state.
 */
TEST(row61_self_capture_with_clone)
{
	pid_t me = getpid(), tid = (pid_t)syscall(SYS_gettid);

	REQUIRE_PTRACE();
	for (int round = 0; round < 2; round++) {
		uint64_t buf[16 * PG / 8], first = 0;
		PSS_THREAD_ENTRY *e = NULL;
		char comm[64] = "";
		siginfo_t si;
		struct walk w;
		HANDLE h;
		pid_t cpid;
		HPSS s = NULL;

		for (size_t i = 0; i < sizeof(self_buf) / 8; i++)
			self_buf[i] = vp_word(71, i);
		REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), CLONE_CTX, CONTEXT_ALL, &s));
		for (size_t i = 0; i < sizeof(self_buf) / 8; i++)
			self_buf[i] = vp_word(72, i);
		h = query_va_clone(s, &cpid);
		REQUIRE(h && cpid > 0, "no VaCloneHandle in a self snapshot");
		CHECK_EQ_INT(task_stat_field(cpid, 4), me);
		CHECK_EQ_INT(task_stat_field(cpid, 3), 't');
		CHECK(task_comm(cpid, cpid, comm, sizeof(comm)) > 0 && !strcmp(comm, "pss-clone"), "comm '%s'", comm);
		CHECK(rpm(h, (uint64_t)(uintptr_t)self_buf, buf, sizeof(buf)), "ReadProcessMemory(own clone): %s",
		      err_name(GetLastError()));
		CHECK(pat_bad(buf, 0, sizeof(buf) / 8, 71, &first) == 0, "round %d: own clone word %llu changed",
		      round, (unsigned long long)first);
		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
		for (size_t i = 0; i < w.count; i++)
			if (WALK_ITEM(&w, PSS_THREAD_ENTRY, i)->ThreadId == (DWORD)tid)
				e = WALK_ITEM(&w, PSS_THREAD_ENTRY, i);
		CHECK(e && e->ContextRecord, "our thread %d not listed with a context", tid);
		walk_release(&w);
		free_snap(s);
		CHECK(gone_within_1s(cpid, me), "own clone %d still our child after free", cpid);
		CHECK_EQ_INT(clone_procs_under(me, true), 0);
		memset(&si, 0, sizeof(si));
		CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 || si.si_pid != cpid,
		      "our own wait sees the clone %d", cpid);
	}
	CHECK(no_thread_traced(me), "a thread of ours stayed traced");
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
