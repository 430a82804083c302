// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz the maps iterator and the name unescape: any bytes as
 * /proc/PID/maps.  Every step must move the iterator forward and stay in
 * the text; every mapping must have start <= end and its name inside the
 * text; unescaping the name must never write past the room given (checked
 * with buffers of exactly that size, full and cut short) and never grow it.
 */
#include <errno.h>

#include "fuzz.h"
#include "proc/proc.h"

static void name_check(const struct proc_map *m, const char *buf, size_t size)
{
	size_t n, cap;
	char *out;

	FUZZ_CHECK(fuzz_within(m->name.p, m->name.len, buf, size));
	out = malloc(m->name.len + 1);
	FUZZ_CHECK(out);
	n = proc_map_name_unescape(m->name, out, m->name.len);
	FUZZ_CHECK(n <= m->name.len);
	free(out);
	/* a short buffer cuts the name, it must not overflow */
	cap = m->name.len / 2;
	out = malloc(cap + 1);
	FUZZ_CHECK(out);
	n = proc_map_name_unescape(m->name, out, cap);
	FUZZ_CHECK(n <= cap);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct proc_maps_iter it;
	struct proc_map m;
	size_t prev;
	int r;

	proc_maps_iter_init(&it, buf, size);
	for (;;) {
		prev = it.pos;
		r = proc_maps_next(&it, &m);
		if (r == -ENOENT)
			break;
		FUZZ_CHECK(r == 0 || r == -EINVAL);
		FUZZ_CHECK(it.pos > prev && it.pos <= size);
		if (r)
			continue;
		FUZZ_CHECK(m.start <= m.end);
		FUZZ_CHECK((m.prot & ~7u) == 0);
		name_check(&m, buf, size);
	}
	return 0;
}
