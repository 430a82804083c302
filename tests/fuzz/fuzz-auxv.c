// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz proc_auxv_get(): any bytes as /proc/PID/auxv, unaligned on
 * purpose (the file need not be), looked up for the types libpss asks
 * for, for AT_NULL and for the type named by the input's first word.  A
 * found value must be the value of the first (type, value) pair of that
 * type before AT_NULL, which this target recomputes on its own.
 */
#include "fuzz.h"
#include "proc/proc.h"

/* The reference: the same search, written the obvious way. */
static int auxv_ref(const uint8_t *p, size_t n, uint64_t type, uint64_t *ret)
{
	for (size_t off = 0; off + 16 <= n; off += 16) {
		uint64_t t = fuzz_u64(p + off, 8);

		if (t == type) {
			*ret = fuzz_u64(p + off + 8, 8);
			return 0;
		}
		if (t == 0)
			break;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t types[] = { 0, 6, 25, 31, 33, 16, fuzz_u64(data, size) };
	uint8_t *copy;

	/* one byte in, so the pairs are never 8-byte aligned */
	copy = malloc(size + 1);
	FUZZ_CHECK(copy);
	memcpy(copy + 1, data, size);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint64_t v = 0, want = 0;
		int r = proc_auxv_get(copy + 1, size, types[i], &v);
		int ref = auxv_ref(copy + 1, size, types[i], &want);

		FUZZ_CHECK((r == 0) == (ref == 0));
		FUZZ_CHECK(r != 0 || v == want);
	}
	free(copy);
	return 0;
}
