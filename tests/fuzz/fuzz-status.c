// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz proc_status_parse(): any bytes as /proc/PID/status.  The unescaped
 * name must fit its array and the NSpid count its levels.
 */
#include "fuzz.h"
#include "proc/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_status st;

	memset(&st, 0xa5, sizeof(st));
	if (proc_status_parse((const char *)data, size, &st))
		return 0;
	FUZZ_CHECK(st.name_len <= sizeof(st.name));
	FUZZ_CHECK(st.nspid_count <= PROC_NSPID_MAX);
	return 0;
}
