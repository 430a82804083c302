// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz proc_stat_parse(): any bytes as /proc/PID/stat.  On success comm
 * must lie inside the input and at least the 22 fields the parser insists
 * on must have been counted.
 */
#include "fuzz.h"
#include "proc/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct proc_stat st;

	memset(&st, 0xa5, sizeof(st));
	if (proc_stat_parse(buf, size, &st))
		return 0;
	FUZZ_CHECK(fuzz_within(st.comm.p, st.comm.len, buf, size));
	FUZZ_CHECK(st.nfields >= 22);
	return 0;
}
