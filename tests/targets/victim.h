/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the victim program and the live tests agree on: the register
 * pattern of the spinner thread and the byte pattern of the anonymous
 * mapping.  Both are pure functions of a seed, so a test can compare the
 * values a snapshot reports with what the victim holds without asking it.
 */
#ifndef PSS_TESTS_VICTIM_H
#define PSS_TESTS_VICTIM_H

#include <stdint.h>

/* General registers the spinner keeps, in this order (index k below). */
enum { VP_RBX, VP_RBP, VP_R12, VP_R13, VP_R14, VP_R15, VP_NGP };

/* vp_gp() - the value the spinner keeps in general register @k. */
static inline uint64_t vp_gp(uint64_t seed, int k)
{
	return seed * 0x0101010101010101ull + (uint64_t)k;
}

/* vp_vec() - qword @q (0-3, low to high) of ymm register @reg (0-15). */
static inline uint64_t vp_vec(uint64_t seed, int reg, int q)
{
	return seed * 0x0101010101010101ull + 0x100 + (uint64_t)(reg * 4 + q);
}

/* vp_byte() - byte @i of the victim's anonymous pattern mapping. */
static inline uint8_t vp_byte(uint64_t i)
{
	return (uint8_t)(i * 7 + 0x5a);
}

/*
 * vp_word() - 64-bit word @w (byte offset / 8) of a pattern region filled
 * with @seed ("pat-alloc", "pat-fill").  Never zero, and different in
 * every page and for every seed, so a page read at the wrong address or
 * from the wrong instant shows.
 */
static inline uint64_t vp_word(uint64_t seed, uint64_t w)
{
	return ((seed + 1) << 48) ^ ((w + 1) * 0x9e3779b97f4a7c15ull) ^ (w >> 9);
}

/*
 * vp_gen_word() - word @i of the generation buffer ("gen-alloc") when it
 * holds generation @gen: the generation in the high half, a hash of the
 * index in the low half, so each word tells which generation wrote it.
 */
static inline uint64_t vp_gen_word(uint64_t gen, uint64_t i)
{
	return (gen << 32) | (uint32_t)((i + 1) * 2654435761u);
}

/* Layout of the generation buffer's header page: the counter of complete
 * generations sits at offset 0, the words start one page later. */
#define VP_GEN_HDR 4096

/* States of the mapping toggler ("toggle-start"): 0 and 2 are decided
 * (the region is absent / present), 1 and 3 are in between. */
enum { VP_TOGGLE_UNMAPPED, VP_TOGGLE_MAPPING, VP_TOGGLE_MAPPED, VP_TOGGLE_UNMAPPING };

#endif /* PSS_TESTS_VICTIM_H */
