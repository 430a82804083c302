// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/PID/auxv lookup.  The file is the process's auxiliary vector as
 * the kernel built it at exec: native (type, value) pairs of unsigned
 * longs, 16 bytes each on x86-64, ending with AT_NULL.  The buffer need
 * not be aligned, so entries are copied out rather than cast; a trailing
 * partial entry is ignored.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proc/proc.h"

#define AUXV_AT_NULL 0

/*
 * The value of the first entry of @type.  AT_NULL ends the search (asking
 * for AT_NULL itself finds the terminator, with value 0 on any sane text).
 */
int proc_auxv_get(const void *buf, size_t len, uint64_t type, uint64_t *ret)
{
	const unsigned char *p = buf;
	uint64_t e[2];
	size_t off;

	for (off = 0; len - off >= sizeof(e); off += sizeof(e)) {
		memcpy(e, p + off, sizeof(e));
		if (e[0] == type) {
			*ret = e[1];
			return 0;
		}
		if (e[0] == AUXV_AT_NULL)
			break;
	}
	return -ENOENT;
}
