/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What defer-victim and test-defer share: the slot each blocked thread of
 * the victim makes its call from, and the register values it holds there.
 */
#ifndef PSS_TESTS_DEFER_VICTIM_H
#define PSS_TESTS_DEFER_VICTIM_H

#include <stdint.h>

#define DV_READER_START 1000	/* the reader's first counter value */

/* One blocked thread's call, 192 bytes; the victim's assembly uses the
 * byte offsets in the comments. */
struct dv_call {
	int64_t tid;		/* 0 */
	uint64_t idx;		/* 8 */
	uint64_t nr;		/* 16 */
	uint64_t a[6];		/* 24: rdi rsi rdx r10 r8 r9 */
	uint64_t cs[6];		/* 72: rbx rbp r12 r13 r14 r15 */
	int64_t ret;		/* 120 */
	uint64_t sp;		/* 128: rsp at the syscall */
	uint64_t val;		/* 136: the reader's counter */
	uint64_t returns;	/* 144: times the call returned */
	uint64_t pad[5];
};
_Static_assert(sizeof(struct dv_call) == 192, "slot layout");
_Static_assert(__builtin_offsetof(struct dv_call, cs) == 72, "slot layout");
_Static_assert(__builtin_offsetof(struct dv_call, sp) == 128, "slot layout");
_Static_assert(__builtin_offsetof(struct dv_call, val) == 136, "slot layout");

/*
 * dv_magic() - the value thread @idx keeps in register @k: 0-5 rbx, rbp,
 * r12, r13, r14, r15; 6 r8, 7 r9.
 */
static inline uint64_t dv_magic(uint64_t idx, int k)
{
	uint64_t r12 = 0x5050000000000000ull | idx;

	switch (k) {
	case 0: return 0x5b5b000000000000ull | idx << 16 | 0xb;
	case 1: return 0x5bb5000000000000ull | idx << 8 | 0xbb;
	case 2: return r12;
	case 3: return ~r12;
	case 4: return r12 ^ 0x00ff00ff00ff00ffull;
	case 5: return (idx + 1) * 0x9e3779b97f4a7c15ull;
	case 6: return 0x5858000000000000ull | idx << 4 | 0x8;
	default: return 0x5959000000000000ull | idx << 4 | 0x9;
	}
}

#endif /* PSS_TESTS_DEFER_VICTIM_H */
