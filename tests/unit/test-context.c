// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ptrace registers -> AMD64 CONTEXT records (src/arch/x86_64/context.c,
 * xstate.c), on synthetic register sets: every register lands at the offset
 * the Windows x64 layout gives it, flags select sections, the CONTEXT_EX
 * chunks describe the XSAVE area, and LocateXStateFeature finds features in
 * it.  Also the EINTR-repair whitelist of freeze.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <cpuid.h>

#include "internal.h"
#include "snapshot.h"
#include "freeze.h"

#define FXSAVE 512u
#define XHDR 64u

/* A register set whose every field has a distinct, recognisable value. */
static void fill_regs(struct thread_regs *r)
{
	uint64_t *g = (uint64_t *)&r->regs;
	uint8_t *fp = (uint8_t *)&r->fpregs;
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < sizeof(r->regs) / 8; i++)
		g[i] = 0x1100000000000000ull * (i % 15 + 1) + i;
	/* Selectors and flags are narrower in CONTEXT: keep them in range. */
	r->regs.cs = 0x33;
	r->regs.ss = 0x2b;
	r->regs.ds = 0x11;
	r->regs.es = 0x12;
	r->regs.fs = 0x13;
	r->regs.gs = 0x14;
	r->regs.eflags = 0x246;
	for (i = 0; i < sizeof(r->fpregs); i++)
		fp[i] = (uint8_t)(i * 7 + 3);
	r->fpregs.mxcsr = 0x1f80;
	for (i = 0; i < 8; i++)
		r->debugregs[i] = 0xd000 + i;
}

static uint64_t at64(const void *rec, size_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)rec + off, sizeof(v));
	return v;
}

static uint32_t at32(const void *rec, size_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)rec + off, sizeof(v));
	return v;
}

static uint16_t at16(const void *rec, size_t off)
{
	uint16_t v;

	memcpy(&v, (const uint8_t *)rec + off, sizeof(v));
	return v;
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(context_record_size(CONTEXT_ALL, 0), 1232);
	assert_int_equal(context_record_size(CONTEXT_ALL | CONTEXT_XSTATE, 0), 1232);
	/* Too short to hold even the XSAVE header: no extended part. */
	assert_int_equal(context_record_size(CONTEXT_ALL | CONTEXT_XSTATE, 512), 1232);
	assert_int_equal(context_record_size(CONTEXT_ALL, 2688), 1232);
	assert_int_equal(context_record_size(CONTEXT_ALL | CONTEXT_XSTATE, 2688), 1280 + 2688 - 512);
}

static void test_flags_valid(void **state)
{
	(void)state;
	assert_true(context_flags_valid(CONTEXT_ALL));
	assert_true(context_flags_valid(CONTEXT_FULL));
	assert_true(context_flags_valid(CONTEXT_ALL | CONTEXT_XSTATE));
	assert_true(context_flags_valid(CONTEXT_CONTROL));
	assert_true(context_flags_valid(CONTEXT_AMD64));
	assert_false(context_flags_valid(0));
	assert_false(context_flags_valid(0x0001003F));		/* i386 CONTEXT_ALL */
	assert_false(context_flags_valid(0x00010001));		/* i386 CONTROL */
	assert_false(context_flags_valid(CONTEXT_ALL | 0x00010000));
	assert_false(context_flags_valid(CONTEXT_KERNEL_CET));
	assert_false(context_flags_valid(CONTEXT_ALL | CONTEXT_EXCEPTION_REQUEST));
	assert_false(context_flags_valid(0x0000001F));		/* no architecture bit */
}

/* CONTEXT_ALL: every register at its offset of the spec's x64 table. */
static void test_every_register(void **state)
{
	struct thread_regs r;
	uint8_t rec[1232] __attribute__((aligned(16)));
	const struct user_regs_struct *g = &r.regs;

	(void)state;
	fill_regs(&r);
	memset(rec, 0xee, sizeof(rec));
	context_from_regs(&r, CONTEXT_ALL, rec, sizeof(rec));

	assert_int_equal(at32(rec, 0x30), CONTEXT_ALL);
	assert_int_equal(at32(rec, 0x34), 0x1f80);
	assert_int_equal(at16(rec, 0x38), 0x33);
	assert_int_equal(at16(rec, 0x3a), 0x11);
	assert_int_equal(at16(rec, 0x3c), 0x12);
	assert_int_equal(at16(rec, 0x3e), 0x13);
	assert_int_equal(at16(rec, 0x40), 0x14);
	assert_int_equal(at16(rec, 0x42), 0x2b);
	assert_int_equal(at32(rec, 0x44), 0x246);
	assert_int_equal(at64(rec, 0x48), 0xd000);
	assert_int_equal(at64(rec, 0x50), 0xd001);
	assert_int_equal(at64(rec, 0x58), 0xd002);
	assert_int_equal(at64(rec, 0x60), 0xd003);
	assert_int_equal(at64(rec, 0x68), 0xd006);
	assert_int_equal(at64(rec, 0x70), 0xd007);
	assert_int_equal(at64(rec, 0x78), g->rax);
	assert_int_equal(at64(rec, 0x80), g->rcx);
	assert_int_equal(at64(rec, 0x88), g->rdx);
	assert_int_equal(at64(rec, 0x90), g->rbx);
	assert_int_equal(at64(rec, 0x98), g->rsp);
	assert_int_equal(at64(rec, 0xa0), g->rbp);
	assert_int_equal(at64(rec, 0xa8), g->rsi);
	assert_int_equal(at64(rec, 0xb0), g->rdi);
	assert_int_equal(at64(rec, 0xb8), g->r8);
	assert_int_equal(at64(rec, 0xc0), g->r9);
	assert_int_equal(at64(rec, 0xc8), g->r10);
	assert_int_equal(at64(rec, 0xd0), g->r11);
	assert_int_equal(at64(rec, 0xd8), g->r12);
	assert_int_equal(at64(rec, 0xe0), g->r13);
	assert_int_equal(at64(rec, 0xe8), g->r14);
	assert_int_equal(at64(rec, 0xf0), g->r15);
	assert_int_equal(at64(rec, 0xf8), g->rip);
	/* FltSave is the FXSAVE image byte for byte; Xmm0 at 0x1a0. */
	assert_memory_equal(rec + 0x100, &r.fpregs, 512);
	assert_memory_equal(rec + 0x1a0, (uint8_t *)&r.fpregs + 160, 16);
	/* Nothing we do not fill is left with garbage. */
	for (size_t i = 0x300; i < sizeof(rec); i++)
		assert_int_equal(rec[i], 0);
	for (size_t i = 0; i < 0x30; i++)
		assert_int_equal(rec[i], 0);
}

/* Each flag fills its section and nothing else; ContextFlags says so. */
static void test_sections(void **state)
{
	static const DWORD one[] = { CONTEXT_CONTROL, CONTEXT_INTEGER, CONTEXT_SEGMENTS,
				     CONTEXT_FLOATING_POINT, CONTEXT_DEBUG_REGISTERS };
	struct thread_regs r;
	CONTEXT c;
	size_t i;

	(void)state;
	fill_regs(&r);
	for (i = 0; i < ARRAY_SIZE(one); i++) {
		context_from_regs(&r, one[i], &c, sizeof(c));
		assert_int_equal(c.ContextFlags, one[i]);
		assert_true((c.Rip != 0) == (one[i] == CONTEXT_CONTROL));
		assert_true((c.Rsp != 0) == (one[i] == CONTEXT_CONTROL));
		assert_true((c.Rax != 0) == (one[i] == CONTEXT_INTEGER));
		assert_true((c.R15 != 0) == (one[i] == CONTEXT_INTEGER));
		assert_true((c.SegDs != 0) == (one[i] == CONTEXT_SEGMENTS));
		assert_true((c.SegCs != 0) == (one[i] == CONTEXT_CONTROL));
		assert_true((c.MxCsr != 0) == (one[i] == CONTEXT_FLOATING_POINT));
		assert_true((c.FltSave.ControlWord != 0) == (one[i] == CONTEXT_FLOATING_POINT));
		assert_true((c.Dr7 != 0) == (one[i] == CONTEXT_DEBUG_REGISTERS));
	}
	/* XSTATE asked for, but the thread has none: the flag is dropped. */
	context_from_regs(&r, CONTEXT_FULL | CONTEXT_XSTATE, &c, sizeof(c));
	assert_int_equal(c.ContextFlags, CONTEXT_FULL);
}

/* A synthetic NT_X86_XSTATE image holding the AVX upper halves. */
static void test_xstate(void **state)
{
	static uint8_t recbuf[8192] __attribute__((aligned(16)));
	unsigned avx_size = 0, avx_off = 0, ecx, edx;
	struct thread_regs r;
	uint8_t xs[4096];
	size_t xlen, total, i;
	uint8_t *rec;
	CONTEXT_EX *ex;
	DWORD len = 0;
	void *p;

	(void)state;
	if (!__get_cpuid_count(0xd, XSTATE_AVX, &avx_size, &avx_off, &ecx, &edx) || avx_size != 256)
		skip();				/* no AVX on this CPU */
	fill_regs(&r);
	xlen = avx_off + avx_size;
	assert_true(xlen <= sizeof(xs));
	memset(xs, 0, sizeof(xs));
	memcpy(xs, &r.fpregs, FXSAVE);
	xs[FXSAVE] = 0x7;			/* XSTATE_BV: x87, SSE, AVX */
	for (i = 0; i < avx_size; i++)
		xs[avx_off + i] = (uint8_t)(0x80 + i);
	r.xstate = xs;
	r.xstate_len = xlen;

	total = context_record_size(CONTEXT_ALL | CONTEXT_XSTATE, xlen);
	assert_int_equal(total, 1280 + xlen - FXSAVE);
	assert_true(total <= sizeof(recbuf));
	rec = recbuf;
	context_from_regs(&r, CONTEXT_ALL | CONTEXT_XSTATE, rec, total);
	assert_int_equal(((CONTEXT *)rec)->ContextFlags, CONTEXT_ALL | CONTEXT_XSTATE);

	ex = (CONTEXT_EX *)(rec + 1232);
	assert_int_equal(ex->All.Offset, -1232);
	assert_int_equal(ex->All.Length, total);
	assert_int_equal(ex->Legacy.Offset, -1232);
	assert_int_equal(ex->Legacy.Length, 1232);
	assert_int_equal(ex->XState.Offset, 1280 - 1232);
	assert_int_equal(ex->XState.Length, xlen - FXSAVE);
	assert_int_equal(((XSAVE_AREA_HEADER *)(rec + 1280))->Mask, 0x7);
	assert_memory_equal(rec + 1280, xs + FXSAVE, xlen - FXSAVE);

	p = LocateXStateFeature((PCONTEXT)rec, XSTATE_AVX, &len);
	assert_ptr_equal(p, rec + 1280 + (avx_off - FXSAVE));
	assert_int_equal(len, 256);
	assert_int_equal(((uint8_t *)p)[0], 0x80);
	assert_int_equal(((uint8_t *)p)[255], (uint8_t)(0x80 + 255));
	/* Legacy features are FltSave. */
	assert_ptr_equal(LocateXStateFeature((PCONTEXT)rec, XSTATE_LEGACY_SSE, &len),
			 &((CONTEXT *)rec)->FltSave);
	/* Not in the header mask, beyond the record, or no XSTATE: NULL. */
	assert_null(LocateXStateFeature((PCONTEXT)rec, 5, NULL));
	((XSAVE_AREA_HEADER *)(rec + 1280))->Mask = 0x3;
	assert_null(LocateXStateFeature((PCONTEXT)rec, XSTATE_AVX, NULL));
	((XSAVE_AREA_HEADER *)(rec + 1280))->Mask = 0x7;
	((CONTEXT *)rec)->ContextFlags = CONTEXT_ALL;
	assert_null(LocateXStateFeature((PCONTEXT)rec, XSTATE_AVX, NULL));
	assert_null(LocateXStateFeature((PCONTEXT)rec, XSTATE_LEGACY_SSE, NULL));
}

/* XCR0 always has x87 and SSE when the OS enabled XSAVE. */
static void test_enabled_features(void **state)
{
	DWORD64 m = GetEnabledXStateFeatures();

	(void)state;
	assert_int_equal(m & XSTATE_MASK_LEGACY, XSTATE_MASK_LEGACY);
	assert_int_equal(GetEnabledXStateFeatures(), m);
}

/* The calls whose EINTR the stop repairs, and some it must leave alone. */
static void test_eintr_whitelist(void **state)
{
	static const long yes[] = { 232, 281, 441, 128, 65, 220 };
	/* read, poll, futex, clock_nanosleep, ppoll, pselect6, rt_sigsuspend,
	 * pause, nanosleep, restart_syscall, clone, wait4 */
	static const long no[] = { 0, 7, 202, 230, 271, 270, 130, 34, 35, 219, 56, 61, -1 };
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(yes); i++)
		assert_true(freeze_eintr_repairable(yes[i]));
	for (i = 0; i < ARRAY_SIZE(no); i++)
		assert_false(freeze_eintr_repairable(no[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_flags_valid),
		cmocka_unit_test(test_every_register),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_xstate),
		cmocka_unit_test(test_enabled_features),
		cmocka_unit_test(test_eintr_whitelist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
