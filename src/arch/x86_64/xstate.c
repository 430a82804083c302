// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * XSAVE facts of this CPU (CPUID leaf 0xD, XCR0) and the two public
 * helpers that find extended state in a context record.
 *
 * The XSAVE area of a record (see context.c) is in the standard format, so
 * feature i >= 2 lives at CPUID(0xD, i).EBX - 512 bytes after the XSAVE
 * header and is CPUID(0xD, i).EAX bytes long.  Features 0 (x87) and 1 (SSE)
 * are the legacy area, i.e. CONTEXT.FltSave.  Everything is computed once.
 */
#include "internal.h"
#include "snapshot.h"
#include "freeze.h"
#include <cpuid.h>

#define FXSAVE_SIZE 512u
#define CTX_EX_OFFSET 1232u

#define CPUID1_ECX_XSAVE (1u << 26)
#define CPUID1_ECX_OSXSAVE (1u << 27)

/* Does the CPU have XSAVE and has the kernel turned it on? */
static bool cpu_has_osxsave(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	return (c & (CPUID1_ECX_XSAVE | CPUID1_ECX_OSXSAVE)) ==
	       (CPUID1_ECX_XSAVE | CPUID1_ECX_OSXSAVE);
}

static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

/* XCR0, the features the kernel enabled for user space (cached). */
PSS_API DWORD64 GetEnabledXStateFeatures(void)
{
	static uint64_t xcr0;
	static bool known;

	if (!__atomic_load_n(&known, __ATOMIC_ACQUIRE)) {
		uint64_t v = cpu_has_osxsave() ? read_xcr0() : XSTATE_MASK_LEGACY;

		__atomic_store_n(&xcr0, v, __ATOMIC_RELAXED);
		__atomic_store_n(&known, true, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&xcr0, __ATOMIC_RELAXED);
}

/* Bytes to offer NT_X86_XSTATE: the largest of the size for XCR0 (EBX) and
 * for every supported feature (ECX); the kernel shortens the iovec to the
 * real image size (about 11 KB with AMX tile data). */
size_t xstate_regset_size(void)
{
	static size_t size;
	unsigned a, b, c, d;

	if (__atomic_load_n(&size, __ATOMIC_RELAXED))
		return size == 1 ? 0 : size;
	if (!cpu_has_osxsave() || !__get_cpuid_count(0xd, 0, &a, &b, &c, &d)) {
		__atomic_store_n(&size, 1, __ATOMIC_RELAXED);	/* "none" */
		return 0;
	}
	__atomic_store_n(&size, (size_t)MAX(b, c), __ATOMIC_RELAXED);
	return MAX(b, c);
}

/*
 * Find feature @FeatureId in a record captured with CONTEXT_XSTATE.  NULL if
 * the record has no extended state, the feature is not in the record's
 * XSAVE header mask, or it lies outside the record's area.
 */
PSS_API PVOID LocateXStateFeature(PCONTEXT Context, DWORD FeatureId, PDWORD Length)
{
	const CONTEXT_EX *ex;
	XSAVE_AREA_HEADER *hdr;
	unsigned size, off, c, d;

	if (!Context || (Context->ContextFlags & CONTEXT_XSTATE) != CONTEXT_XSTATE)
		return NULL;
	if (FeatureId == XSTATE_LEGACY_FLOATING_POINT || FeatureId == XSTATE_LEGACY_SSE) {
		if (Length)
			*Length = sizeof(Context->FltSave);
		return &Context->FltSave;
	}
	if (FeatureId >= 64)
		return NULL;
	ex = (const CONTEXT_EX *)((uint8_t *)Context + CTX_EX_OFFSET);
	if (ex->XState.Length < sizeof(*hdr))
		return NULL;
	hdr = (XSAVE_AREA_HEADER *)((uint8_t *)ex + ex->XState.Offset);
	if (!(hdr->Mask & (1ull << FeatureId)))
		return NULL;
	if (!__get_cpuid_count(0xd, FeatureId, &size, &off, &c, &d) || !size || off < FXSAVE_SIZE)
		return NULL;		/* unknown, or a supervisor feature */
	if ((uint64_t)off - FXSAVE_SIZE + size > ex->XState.Length)
		return NULL;
	if (Length)
		*Length = size;
	return (uint8_t *)hdr + (off - FXSAVE_SIZE);
}
