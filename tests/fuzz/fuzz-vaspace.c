// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz the VA-space facet's region builder: any bytes as /proc/PID/smaps
 * (maps text parses too), fed to the builder the way vaspace.c feeds it:
 * each mapping's name unescaped into a buffer of its raw length, then
 * classified, then added with an ELF probe result (made up here from the
 * inode, since no file is read), with and without section information.
 *
 * What the regions must satisfy afterwards: address order without
 * overlap; no hole in user space (gaps fill it from 0 to VA_USER_END, and
 * only a jump into the kernel half is allowed); no empty region; the
 * mapping count matches; every allocation base at or below its region;
 * every image span covering its region; every file name a proper UTF-16
 * string of the length stated.  Release must free everything (ASan's
 * leak check runs at exit).
 */
#include <errno.h>

#include "facets.h"
#include "fuzz.h"

/* What the ELF probe might have said of this file. */
static void fake_elf(const struct proc_map *m, struct va_elf_info *elf)
{
	elf->is_elf = m->inode % 3 != 0;
	elf->have_build_id = m->inode & 4;
	elf->build_id[0] = (uint32_t)m->inode;
	elf->build_id[1] = (uint32_t)(m->inode >> 32);
}

/* vaspace.c's va_add_one() without the file system. */
static int add_one(struct va_builder *b, const struct proc_map *m, const struct proc_smaps *sm)
{
	struct pss_region reg = { .m = *m, .smaps = *sm };
	struct va_elf_info elf;
	const struct va_elf_info *elfp = NULL;
	enum va_kind k;
	size_t n;
	int err;

	reg.name = pss_malloc(m->name.len + 1);
	if (!reg.name)
		return -ENOMEM;
	n = proc_map_name_unescape(m->name, reg.name, m->name.len);
	FUZZ_CHECK(n <= m->name.len);
	reg.name[n] = '\0';
	reg.m.name.p = reg.name;
	reg.m.name.len = n;
	k = va_classify(&reg.m, reg.name);
	if (va_wants_elf_probe(k, &reg.m) || k == VA_VDSO) {
		fake_elf(&reg.m, &elf);
		elfp = &elf;
	}
	err = va_builder_add(b, &reg, elfp);
	if (err == -EINVAL)
		err = 0;	/* out of order: skipped, name still ours */
	pss_free(reg.name);
	return err;
}

static void regions_check(const struct va_builder *b)
{
	size_t maps = 0;
	uint64_t user_end = 0;

	for (size_t i = 0; i < b->n; i++) {
		const struct pss_region *r = &b->r[i];
		const PSS_VA_SPACE_ENTRY *e = &r->e;
		uint64_t base = (uintptr_t)e->BaseAddress, end = base + e->RegionSize;

		FUZZ_CHECK(e->RegionSize > 0 && end > base);
		if (i == 0)
			FUZZ_CHECK(base == 0 || base >= VA_KERNEL_HALF);
		else
			FUZZ_CHECK(base == (uintptr_t)b->r[i - 1].e.BaseAddress + b->r[i - 1].e.RegionSize ||
				   (base >= VA_KERNEL_HALF &&
				    base > (uintptr_t)b->r[i - 1].e.BaseAddress));
		if (base < VA_KERNEL_HALF && end > user_end)
			user_end = end;
		if (r->is_gap) {
			FUZZ_CHECK(e->State == MEM_FREE && !r->name);
			continue;
		}
		maps++;
		FUZZ_CHECK(r->name && r->m.name.p == r->name);
		FUZZ_CHECK(base == r->m.start && end == r->m.end);
		FUZZ_CHECK((uintptr_t)e->AllocationBase <= base);
		if (e->ImageBase && e->SizeOfImage < UINT32_MAX)
			FUZZ_CHECK((uintptr_t)e->ImageBase <= base &&
				   end <= (uintptr_t)e->ImageBase + e->SizeOfImage);
		if (e->MappedFileName) {
			FUZZ_CHECK(b->section_info);
			FUZZ_CHECK(e->MappedFileNameLength % 2 == 0 &&
				   e->MappedFileName[e->MappedFileNameLength / 2] == 0);
		}
	}
	FUZZ_CHECK(maps == b->nmappings);
	FUZZ_CHECK(!maps || user_end >= VA_USER_END);
}

static void build(const char *buf, size_t size, bool section_info)
{
	struct proc_maps_iter it;
	struct va_builder b;
	struct proc_map m;
	struct proc_smaps sm;
	int r;

	va_builder_init(&b, section_info);
	proc_maps_iter_init(&it, buf, size);
	for (;;) {
		memset(&sm, 0, sizeof(sm));
		r = proc_smaps_next(&it, &m, &sm);
		if (r == -ENOENT)
			break;
		if (r == -EINVAL)
			continue;
		FUZZ_CHECK(r == 0);
		if (add_one(&b, &m, &sm))
			goto out_release;
	}
	if (va_builder_finish(&b))
		goto out_release;
	regions_check(&b);
out_release:
	va_builder_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	build((const char *)data, size, false);
	build((const char *)data, size, true);
	return 0;
}
