// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz the VA-space facet's ELF probe: any bytes as a mapped file (or, for
 * [vdso], as the target's memory at the object's base).  The probe is
 * static in vaspace.c, so this target includes that file; the bytes sit
 * in a memfd that stands in for the file or for /proc/PID/mem.  An object
 * that is not ET_EXEC/ET_DYN must not be called an image, and a build-id
 * only comes with an image.
 */
#include <sys/mman.h>

#include "../../src/vaspace.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct va_elf_info info;
	struct elf_src src;
	bool read;

	if (fd < 0)
		fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	for (int mem = 0; mem < 2; mem++) {
		src = (struct elf_src){ .fd = fd, .mem = mem, .base = 0 };
		memset(&info, 0, sizeof(info));
		read = elf_inspect(&src, true, &info);
		FUZZ_CHECK(read == (size >= 64));
		if (info.is_elf) {
			uint16_t type;

			memcpy(&type, data + 16, 2);
			FUZZ_CHECK(!memcmp(data, ELFMAG, SELFMAG) && (type == ET_EXEC || type == ET_DYN));
		}
		FUZZ_CHECK(!info.have_build_id || info.is_elf);
	}
	return 0;
}
