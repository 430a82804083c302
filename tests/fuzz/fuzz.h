/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared helpers of the libFuzzer targets (tests/fuzz/fuzz-*.c).  Each
 * target feeds its input, exactly as libFuzzer gives it (a buffer of the
 * input's size, so ASan sees any read past the end), to one parser or
 * mapping rule and then checks what the header promises of the result:
 * strings inside the buffer, counts within their arrays, iterators that
 * move forward.  A broken promise aborts, which libFuzzer reports as a
 * crash just like a sanitizer finding.
 */
#ifndef PSS_FUZZ_H
#define PSS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the broken promise named, so the report says what failed. */
#define FUZZ_CHECK(cond)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: check failed: %s\n",		\
				__FILE__, __LINE__, #cond);			\
			abort();						\
		}								\
	} while (0)

/* Is [p, p + len) inside [buf, buf + size)? */
static inline bool fuzz_within(const void *p, size_t len, const void *buf, size_t size)
{
	const char *c = p, *b = buf;

	if (!len)
		return true;	/* an empty string may point anywhere */
	return c >= b && c <= b + size && len <= (size_t)(b + size - c);
}

/* A NUL-terminated copy of data (for the parts of the API that take C
 * strings); abort on allocation failure, which no input should cause. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Little-endian u64 from up to 8 bytes (fewer are zero-extended). */
static inline uint64_t fuzz_u64(const uint8_t *data, size_t size)
{
	uint64_t v = 0;

	for (size_t i = 0; i < size && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

#endif /* PSS_FUZZ_H */
