// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz the smaps iterator (with and without counters), smaps_rollup and
 * the VmFlags list: any bytes as /proc/PID/smaps.  The iterator must move
 * forward on every step, stay in the text and return the same mappings
 * whether or not the caller wants the counters; VmFlags must only set
 * bits that pss-linux.h names.
 */
#include <errno.h>

#include <pss/pss-linux.h>

#include "fuzz.h"
#include "proc/proc.h"

/* Every bit pss-linux.h defines (dd .. dp). */
#define VM_KNOWN ((PSS_LINUX_VM_DROPPABLE << 1) - 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct proc_maps_iter a, b;
	struct proc_map ma, mb;
	struct proc_smaps sm;
	size_t prev;
	int ra, rb;

	proc_maps_iter_init(&a, buf, size);
	proc_maps_iter_init(&b, buf, size);
	for (;;) {
		prev = a.pos;
		ra = proc_smaps_next(&a, &ma, &sm);
		rb = proc_smaps_next(&b, &mb, NULL);
		FUZZ_CHECK(ra == rb && a.pos == b.pos);
		if (ra == -ENOENT)
			break;
		FUZZ_CHECK(ra == 0 || ra == -EINVAL);
		FUZZ_CHECK(a.pos > prev && a.pos <= size);
		if (ra)
			continue;
		FUZZ_CHECK(ma.start == mb.start && ma.end == mb.end && ma.name.p == mb.name.p);
		FUZZ_CHECK(ma.start <= ma.end);
		FUZZ_CHECK(fuzz_within(ma.name.p, ma.name.len, buf, size));
		FUZZ_CHECK((sm.vmflags & ~VM_KNOWN) == 0);
	}
	if (!proc_smaps_rollup_parse(buf, size, &sm))
		FUZZ_CHECK((sm.vmflags & ~VM_KNOWN) == 0);
	FUZZ_CHECK((proc_vmflags_parse(buf, size) & ~VM_KNOWN) == 0);
	return 0;
}
