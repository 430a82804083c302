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

#endif /* PSS_TESTS_VICTIM_H */
