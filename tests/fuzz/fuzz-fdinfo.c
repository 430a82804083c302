// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz proc_fdinfo_parse(): any bytes as /proc/PID/fdinfo/N.  A pidfd's
 * NSpid count must stay within its array.
 */
#include "fuzz.h"
#include "proc/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_fdinfo fi;

	if (proc_fdinfo_parse((const char *)data, size, &fi))
		return 0;
	FUZZ_CHECK(fi.pidfd_nspid_count <= PROC_NSPID_MAX);
	return 0;
}
