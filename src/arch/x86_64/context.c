// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Linux ptrace registers -> the Windows AMD64 CONTEXT record.
 *
 * Record layout (documented for clients in <pss/win32.h>):
 *
 *   0     CONTEXT            1232 bytes; sections filled per ContextFlags
 *   1232  CONTEXT_EX         24 bytes, only with CONTEXT_XSTATE and xstate:
 *                              All    = { -1232, total length }
 *                              Legacy = { -1232, 1232 }
 *                              XState = { 48, xstate_len - 512 }
 *   1256  padding to 64
 *   1280  XSAVE area from its 64-byte header on: bytes 512..xstate_len of
 *         the kernel's NT_X86_XSTATE image, standard (non-compacted)
 *         format, so feature i is at CPUID(0xD, i).EBX - 512 from here
 *
 * The legacy 512 bytes (x87, MXCSR, XMM) are in CONTEXT.FltSave, copied from
 * NT_PRFPREG, whose FXSAVE image is byte for byte an XMM_SAVE_AREA32.
 * Register values are raw, as the kernel's core would record them: a thread
 * stopped in an interrupted syscall shows rax = -ERESTART*, rip after the
 * syscall instruction.
 */
#include "internal.h"
#include "snapshot.h"

#define CTX_SIZE 1232u
#define CTX_EX_OFFSET 1232u
#define CTX_XSAVE_OFFSET 1280u
#define FXSAVE_SIZE 512u
#define XSAVE_HDR_SIZE 64u

#define CTX_KNOWN (CONTEXT_CONTROL | CONTEXT_INTEGER | CONTEXT_SEGMENTS | \
		   CONTEXT_FLOATING_POINT | CONTEXT_DEBUG_REGISTERS | CONTEXT_XSTATE)

_Static_assert(sizeof(CONTEXT) == CTX_SIZE, "CONTEXT is 1232 bytes");
_Static_assert(sizeof(CONTEXT_EX) == 24, "CONTEXT_EX is 24 bytes");
_Static_assert(sizeof(XSAVE_FORMAT) == sizeof(struct user_fpregs_struct),
	       "FXSAVE image and XMM_SAVE_AREA32 agree");
_Static_assert(CTX_EX_OFFSET + sizeof(CONTEXT_EX) <= CTX_XSAVE_OFFSET, "CONTEXT_EX fits");

/* Section @f (which carries CONTEXT_AMD64) is selected by @flags. */
static bool has(DWORD flags, DWORD f)
{
	return (flags & f) == f;
}

static bool xstate_usable(DWORD flags, size_t xstate_len)
{
	return has(flags, CONTEXT_XSTATE) && xstate_len >= FXSAVE_SIZE + XSAVE_HDR_SIZE;
}

/* CONTEXT_AMD64 plus known section bits only; i386 and status bits are
 * refused. */
bool context_flags_valid(DWORD flags)
{
	if (!(flags & CONTEXT_AMD64))
		return false;
	return !(flags & ~CTX_KNOWN);
}

/* Bytes of a record with @flags for a thread whose xstate image has
 * @xstate_len bytes (0: none). */
size_t context_record_size(DWORD flags, size_t xstate_len)
{
	if (xstate_usable(flags, xstate_len))
		return CTX_XSAVE_OFFSET + (xstate_len - FXSAVE_SIZE);
	return CTX_SIZE;
}

static void fill_control(CONTEXT *c, const struct user_regs_struct *g)
{
	c->SegCs = (WORD)g->cs;
	c->SegSs = (WORD)g->ss;
	c->EFlags = (DWORD)g->eflags;
	c->Rsp = g->rsp;
	c->Rip = g->rip;
}

static void fill_integer(CONTEXT *c, const struct user_regs_struct *g)
{
	c->Rax = g->rax;
	c->Rcx = g->rcx;
	c->Rdx = g->rdx;
	c->Rbx = g->rbx;
	c->Rbp = g->rbp;
	c->Rsi = g->rsi;
	c->Rdi = g->rdi;
	c->R8 = g->r8;
	c->R9 = g->r9;
	c->R10 = g->r10;
	c->R11 = g->r11;
	c->R12 = g->r12;
	c->R13 = g->r13;
	c->R14 = g->r14;
	c->R15 = g->r15;
}

static void fill_segments(CONTEXT *c, const struct user_regs_struct *g)
{
	c->SegDs = (WORD)g->ds;
	c->SegEs = (WORD)g->es;
	c->SegFs = (WORD)g->fs;
	c->SegGs = (WORD)g->gs;
}

static void fill_debug(CONTEXT *c, const uint64_t *dr)
{
	c->Dr0 = dr[0];
	c->Dr1 = dr[1];
	c->Dr2 = dr[2];
	c->Dr3 = dr[3];
	c->Dr6 = dr[6];
	c->Dr7 = dr[7];
}

/* CONTEXT_EX and the XSAVE area behind the CONTEXT. */
static void fill_xstate(uint8_t *rec, const struct thread_regs *r, size_t total)
{
	CONTEXT_EX *ex = (CONTEXT_EX *)(rec + CTX_EX_OFFSET);
	size_t xlen = r->xstate_len - FXSAVE_SIZE;

	ex->All.Offset = -(LONG)CTX_SIZE;
	ex->All.Length = (DWORD)total;
	ex->Legacy.Offset = -(LONG)CTX_SIZE;
	ex->Legacy.Length = CTX_SIZE;
	ex->XState.Offset = (LONG)(CTX_XSAVE_OFFSET - CTX_EX_OFFSET);
	ex->XState.Length = (DWORD)xlen;
	memcpy(rec + CTX_XSAVE_OFFSET, r->xstate + FXSAVE_SIZE, xlen);
}

/*
 * Fill the record at @out (@len bytes, from context_record_size()) with the
 * sections @flags selects; ContextFlags says which were filled (CONTEXT_XSTATE
 * is dropped when the thread has no extended state or @len is too short).
 */
void context_from_regs(const struct thread_regs *r, DWORD flags, void *out, size_t len)
{
	CONTEXT *c = out;
	DWORD filled = CONTEXT_AMD64;

	if (len < CTX_SIZE)
		return;
	memset(out, 0, len);
	if (has(flags, CONTEXT_CONTROL)) {
		fill_control(c, &r->regs);
		filled |= CONTEXT_CONTROL;
	}
	if (has(flags, CONTEXT_INTEGER)) {
		fill_integer(c, &r->regs);
		filled |= CONTEXT_INTEGER;
	}
	if (has(flags, CONTEXT_SEGMENTS)) {
		fill_segments(c, &r->regs);
		filled |= CONTEXT_SEGMENTS;
	}
	if (has(flags, CONTEXT_FLOATING_POINT)) {
		memcpy(&c->FltSave, &r->fpregs, sizeof(c->FltSave));
		c->MxCsr = r->fpregs.mxcsr;
		filled |= CONTEXT_FLOATING_POINT;
	}
	if (has(flags, CONTEXT_DEBUG_REGISTERS)) {
		fill_debug(c, r->debugregs);
		filled |= CONTEXT_DEBUG_REGISTERS;
	}
	if (r->xstate && xstate_usable(flags, r->xstate_len) &&
	    len >= context_record_size(flags, r->xstate_len)) {
		fill_xstate(out, r, context_record_size(flags, r->xstate_len));
		filled |= CONTEXT_XSTATE;
	}
	c->ContextFlags = filled;
}
