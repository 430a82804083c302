// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz proc_hex_u64_parse(): any bytes as /proc/PID/coredump_filter.  A
 * text that parses must print back (as %llx) to the digits it held, less
 * leading zeros: no digit may be lost or invented.
 */
#include <ctype.h>

#include "fuzz.h"
#include "proc/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char want[32], got[32];
	uint64_t v;
	size_t i = 0, n = 0;

	if (proc_hex_u64_parse((const char *)data, size, &v))
		return 0;
	while (i < size && isspace(data[i]))
		i++;
	if (size - i >= 2 && data[i] == '0' && (data[i + 1] == 'x' || data[i + 1] == 'X'))
		i += 2;
	while (i < size && data[i] == '0' && i + 1 < size && isxdigit(data[i + 1]))
		i++;
	for (; i < size && isxdigit(data[i]); i++) {
		FUZZ_CHECK(n < sizeof(want) - 1);
		want[n++] = (char)tolower(data[i]);
	}
	want[n] = '\0';
	snprintf(got, sizeof(got), "%llx", (unsigned long long)v);
	FUZZ_CHECK(strcmp(want, got) == 0);
	return 0;
}
