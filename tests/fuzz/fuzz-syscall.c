// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz proc_syscall_parse(): any bytes as /proc/PID/task/TID/syscall.
 * The number is a syscall (>= 0), -1 (blocked outside one) or -2
 * ("running"); nothing else may come back.
 */
#include "fuzz.h"
#include "proc/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_syscall sc;

	if (proc_syscall_parse((const char *)data, size, &sc))
		return 0;
	FUZZ_CHECK(sc.nr >= -2);
	return 0;
}
