// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live tests of thread contexts: a register spinner holds a known pattern
 * in rbx, rbp, r12-r15 and ymm0-15; captured CONTEXT records (plain and
 * with CONTEXT_XSTATE) must show exactly that pattern, and the spinner must
 * never see a register change under it (fault matrix row 9).
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#define SEED 0x5aull

/* Start a victim with a register spinner; returns the spinner's tid. */
static pid_t start_spinner(struct target *t, uint64_t seed)
{
	char r[256];
	pid_t tid;

	start_victim(t);
	target_cmdf(t, r, sizeof(r), "threads 2");
	target_cmdf(t, r, sizeof(r), "regs %llu", (unsigned long long)seed);
	tid = (pid_t)reply_get(r, "tid", -1);
	REQUIRE(tid > 0, "victim: %s", r);
	return tid;
}

static PSS_THREAD_ENTRY *find_thread(struct walk *w, pid_t tid)
{
	for (size_t i = 0; i < w->count; i++)
		if (WALK_ITEM(w, PSS_THREAD_ENTRY, i)->ThreadId == (DWORD)tid)
			return WALK_ITEM(w, PSS_THREAD_ENTRY, i);
	return NULL;
}

/* The general and XMM registers of @c against the spinner's pattern. */
static void check_gp_xmm(const CONTEXT *c, uint64_t seed)
{
	const M128A *xmm = &c->Xmm0;

	CHECK_EQ_HEX(c->Rbx, vp_gp(seed, VP_RBX));
	CHECK_EQ_HEX(c->Rbp, vp_gp(seed, VP_RBP));
	CHECK_EQ_HEX(c->R12, vp_gp(seed, VP_R12));
	CHECK_EQ_HEX(c->R13, vp_gp(seed, VP_R13));
	CHECK_EQ_HEX(c->R14, vp_gp(seed, VP_R14));
	CHECK_EQ_HEX(c->R15, vp_gp(seed, VP_R15));
	for (int k = 0; k < 16; k++) {
		CHECK(xmm[k].Low == vp_vec(seed, k, 0) && (uint64_t)xmm[k].High == vp_vec(seed, k, 1),
		      "xmm%d = %016llx:%016llx, want %016llx:%016llx", k, (unsigned long long)xmm[k].High,
		      (unsigned long long)xmm[k].Low, (unsigned long long)vp_vec(seed, k, 1),
		      (unsigned long long)vp_vec(seed, k, 0));
		CHECK(c->FltSave.XmmRegisters[k].Low == xmm[k].Low, "FltSave and Xmm%d views differ", k);
	}
	CHECK_EQ_HEX(c->SegCs, 0x33);
	CHECK_EQ_HEX(c->SegSs, 0x2b);
	CHECK(c->Rip != 0 && c->Rsp != 0, "rip %llx rsp %llx", (unsigned long long)c->Rip,
	      (unsigned long long)c->Rsp);
	CHECK(c->MxCsr == c->FltSave.MxCsr, "MxCsr %x vs FltSave.MxCsr %x", c->MxCsr, c->FltSave.MxCsr);
}

/* Proves: CONTEXT_ALL records hold the spinner's general and XMM registers;
 * SizeOfContextRecord equals ContextLength; ContextFlags reports what was
 * captured; no extended state without CONTEXT_XSTATE. */
TEST(context_all_matches_spinner)
{
	struct target t;
	pid_t tid;
	HPSS s;
	struct walk w;
	PSS_THREAD_INFORMATION ti;
	PSS_THREAD_ENTRY *e;

	REQUIRE_PTRACE();
	tid = start_spinner(&t, SEED);
	s = capture_ok(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, CONTEXT_ALL);
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)));
	CHECK_GE_U64(ti.ContextLength, sizeof(CONTEXT));
	CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	CHECK_EQ_U64(w.count, 4);
	for (size_t i = 0; i < w.count; i++) {
		PSS_THREAD_ENTRY *x = WALK_ITEM(&w, PSS_THREAD_ENTRY, i);

		CHECK(x->ContextRecord != NULL, "thread %u has no context", x->ThreadId);
		CHECK_EQ_U64(x->SizeOfContextRecord, ti.ContextLength);
		CHECK(x->TebBaseAddress != NULL, "thread %u: no fs_base as TebBaseAddress", x->ThreadId);
	}
	e = find_thread(&w, tid);
	REQUIRE(e && e->ContextRecord, "spinner %d not walked with a context", tid);
	CHECK((e->ContextRecord->ContextFlags & CONTEXT_ALL) == CONTEXT_ALL, "ContextFlags %#x",
	      e->ContextRecord->ContextFlags);
	CHECK(!(e->ContextRecord->ContextFlags & 0x40), "CONTEXT_XSTATE without asking: %#x",
	      e->ContextRecord->ContextFlags);
	check_gp_xmm(e->ContextRecord, SEED);
	CHECK(LocateXStateFeature(e->ContextRecord, XSTATE_AVX, NULL) == NULL,
	      "AVX state located in a record without CONTEXT_XSTATE");
	walk_release(&w);
	free_snap(s);
	CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
	CHECK(no_thread_traced(t.pid), "a thread stayed traced or stopped");
}

/* Proves: CONTEXT_XSTATE records carry the XSAVE area at offset 1280 in the
 * standard layout; LocateXStateFeature(XSTATE_AVX) gives 256 bytes holding
 * the upper halves of ymm0-15 exactly as the spinner loaded them. */
TEST(context_xstate_ymm_matches_spinner)
{
	struct target t;
	pid_t tid;
	HPSS s;
	struct walk w;
	PSS_THREAD_INFORMATION ti;
	PSS_THREAD_ENTRY *e;
	const uint64_t *ymmh;
	const XSAVE_AREA_HEADER *xh;
	const CONTEXT_EX *cx;
	DWORD len = 0;
	struct pss_linux_thread_info li;

	REQUIRE_PTRACE();
	REQUIRE(GetEnabledXStateFeatures() & XSTATE_MASK_AVX, "no AVX on this machine");
	tid = start_spinner(&t, SEED + 1);
	s = capture_ok(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT |
		       PSS_CAPTURE_THREAD_CONTEXT_EXTENDED, CONTEXT_ALL | CONTEXT_XSTATE);
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)));
	CHECK(ti.ContextLength > 1280 + sizeof(XSAVE_AREA_HEADER), "ContextLength %u", ti.ContextLength);
	CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	e = find_thread(&w, tid);
	REQUIRE(e && e->ContextRecord, "spinner %d not walked with a context", tid);
	CHECK_EQ_U64(e->SizeOfContextRecord, ti.ContextLength);
	CHECK((e->ContextRecord->ContextFlags & (CONTEXT_ALL | CONTEXT_XSTATE)) ==
	      (CONTEXT_ALL | CONTEXT_XSTATE), "ContextFlags %#x", e->ContextRecord->ContextFlags);
	check_gp_xmm(e->ContextRecord, SEED + 1);

	cx = (const CONTEXT_EX *)((const char *)e->ContextRecord + sizeof(CONTEXT));
	CHECK_EQ_INT(cx->XState.Offset, 1280 - (LONG)sizeof(CONTEXT));
	CHECK(1280 + cx->XState.Length <= e->SizeOfContextRecord, "XState chunk %u bytes past the record",
	      cx->XState.Length);
	xh = (const XSAVE_AREA_HEADER *)((const char *)e->ContextRecord + 1280);
	CHECK(xh->Mask & XSTATE_MASK_AVX, "XSAVE header mask %#llx lacks AVX", (unsigned long long)xh->Mask);
	CHECK_EQ_HEX(xh->CompactionMask, 0);

	ymmh = LocateXStateFeature(e->ContextRecord, XSTATE_AVX, &len);
	REQUIRE(ymmh != NULL, "LocateXStateFeature(XSTATE_AVX) returned NULL");
	CHECK_EQ_U64(len, 256);
	CHECK((const char *)ymmh >= (const char *)e->ContextRecord + 1280 &&
	      (const char *)ymmh + 256 <= (const char *)e->ContextRecord + e->SizeOfContextRecord,
	      "AVX state outside the record");
	for (int k = 0; k < 16; k++)
		CHECK(ymmh[2 * k] == vp_vec(SEED + 1, k, 2) && ymmh[2 * k + 1] == vp_vec(SEED + 1, k, 3),
		      "ymm%d upper = %016llx:%016llx, want %016llx:%016llx", k,
		      (unsigned long long)ymmh[2 * k + 1], (unsigned long long)ymmh[2 * k],
		      (unsigned long long)vp_vec(SEED + 1, k, 3), (unsigned long long)vp_vec(SEED + 1, k, 2));

	memset(&li, 0, sizeof(li));
	li.sz = sizeof(li);
	REQUIRE_OK(pss_linux_query_thread(s, tid, &li));
	CHECK_EQ_INT(li.have_regs, 1);
	CHECK_EQ_HEX(li.regs.rbx, vp_gp(SEED + 1, VP_RBX));
	CHECK_EQ_HEX(li.regs.r15, vp_gp(SEED + 1, VP_R15));
	CHECK(li.fpregs != NULL && li.xstate != NULL && li.xstate_len >= 832, "xstate %p len %zu",
	      li.xstate, li.xstate_len);
	CHECK_EQ_HEX(li.regs.rip, e->ContextRecord->Rip);
	walk_release(&w);
	free_snap(s);
}

/* Proves (row 9): 100 context captures never change a register under the
 * spinner; it keeps running between them and reports 0 mismatches. */
TEST(row09_hundred_captures_no_register_mismatch)
{
	struct target t;
	char r[256];
	pid_t tid;
	unsigned long long it0, it1;

	REQUIRE_PTRACE();
	tid = start_spinner(&t, SEED + 2);
	it0 = (unsigned long long)reply_get(target_cmdf(&t, r, sizeof(r), "check"), "iterations", 0);
	for (int i = 0; i < 100; i++) {
		bool ext = i % 2;
		HPSS s = capture_ok(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT |
				    (ext ? PSS_CAPTURE_THREAD_CONTEXT_EXTENDED : 0),
				    CONTEXT_ALL | (ext ? CONTEXT_XSTATE : 0));
		struct walk w;
		PSS_THREAD_ENTRY *e;

		CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
		e = find_thread(&w, tid);
		CHECK(e && e->ContextRecord, "capture %d: no spinner context", i);
		if (e && e->ContextRecord && e->ContextRecord->Rbx != vp_gp(SEED + 2, VP_RBX))
			CHECK_EQ_HEX(e->ContextRecord->Rbx, vp_gp(SEED + 2, VP_RBX));
		walk_release(&w);
		free_snap(s);
		if (harness_failures() > 5)
			break;
	}
	target_cmdf(&t, r, sizeof(r), "check");
	it1 = (unsigned long long)reply_get(r, "iterations", 0);
	CHECK_EQ_INT(reply_get(r, "mismatches", -1), 0);
	CHECK(it1 > it0, "spinner stopped spinning (%llu -> %llu)", it0, it1);
	CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
	CHECK(no_thread_traced(t.pid), "a thread stayed traced or stopped");
	CHECK(proc_state(t.pid) != 'T', "target left stopped");
}

/* Proves: a narrower request (CONTEXT_CONTROL | CONTEXT_INTEGER) is honoured
 * and still holds the integer registers. */
TEST(context_integer_only)
{
	struct target t;
	pid_t tid;
	HPSS s;
	struct walk w;
	PSS_THREAD_ENTRY *e;

	REQUIRE_PTRACE();
	tid = start_spinner(&t, SEED + 3);
	s = capture_ok(t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT,
		       CONTEXT_CONTROL | CONTEXT_INTEGER);
	CHECK_ERR(walk_collect(s, PSS_WALK_THREADS, sizeof(PSS_THREAD_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	e = find_thread(&w, tid);
	REQUIRE(e && e->ContextRecord, "no spinner context");
	CHECK((e->ContextRecord->ContextFlags & (CONTEXT_CONTROL | CONTEXT_INTEGER)) ==
	      (CONTEXT_CONTROL | CONTEXT_INTEGER), "ContextFlags %#x", e->ContextRecord->ContextFlags);
	CHECK_EQ_HEX(e->ContextRecord->R12, vp_gp(SEED + 3, VP_R12));
	CHECK_EQ_HEX(e->ContextRecord->Rbp, vp_gp(SEED + 3, VP_RBP));
	walk_release(&w);
	free_snap(s);
}

/* Proves: the spinner's checker can fail: a register changed behind its
 * back through ptrace is counted as a mismatch (so row 9's 0 means something). */
TEST(spinner_detects_a_changed_register)
{
	struct target t;
	struct user_regs_struct regs;
	char r[256];
	pid_t tid;
	int st;

	REQUIRE_PTRACE();
	tid = start_spinner(&t, SEED + 4);
	REQUIRE(ptrace(PTRACE_SEIZE, tid, 0, 0) == 0, "PTRACE_SEIZE: %s", strerror(errno));
	REQUIRE(ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0, "PTRACE_INTERRUPT: %s", strerror(errno));
	REQUIRE(waitpid(tid, &st, __WALL) == tid && WIFSTOPPED(st), "no stop: %#x", st);
	REQUIRE(ptrace(PTRACE_GETREGS, tid, 0, &regs) == 0, "PTRACE_GETREGS: %s", strerror(errno));
	CHECK_EQ_HEX(regs.r13, vp_gp(SEED + 4, VP_R13));
	regs.r13 ^= 0x100;
	REQUIRE(ptrace(PTRACE_SETREGS, tid, 0, &regs) == 0, "PTRACE_SETREGS: %s", strerror(errno));
	REQUIRE(ptrace(PTRACE_DETACH, tid, 0, 0) == 0, "PTRACE_DETACH: %s", strerror(errno));
	for (int i = 0; i < 200; i++) {
		target_cmdf(&t, r, sizeof(r), "check");
		if (reply_get(r, "mismatches", 0) > 0)
			break;
		msleep(5);
	}
	CHECK(reply_get(r, "mismatches", 0) >= 1, "changed r13 went unnoticed: %s", r);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
