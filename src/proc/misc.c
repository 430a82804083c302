// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Small one-value /proc files: /proc/PID/coredump_filter ("%08lx\n") and
 * the like.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proc/proc.h"
#include "proc/scan.h"

/* One hex number (optional "0x"), optionally surrounded by blanks/newline. */
int proc_hex_u64_parse(const char *buf, size_t len, uint64_t *ret)
{
	struct scan s;
	uint64_t v;

	scan_init(&s, buf, len);
	scan_blanks(&s);
	if (scan_x64_prefixed(&s, &v) || !scan_only_space(&s))
		return -EINVAL;
	*ret = v;
	return 0;
}
