// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The VA-space facet's mapping rules on synthetic mappings: prot and
 * sharing -> PAGE_*, backing -> MEM_* type and state, and the region
 * builder: MEM_FREE gaps, the tail gap before [vsyscall], allocation bases
 * of file runs, image spans and build-id words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "facets.h"

#define R PROC_PROT_READ
#define W PROC_PROT_WRITE
#define X PROC_PROT_EXEC

static void test_protect(void **state)
{
	static const struct {
		unsigned prot;
		DWORD priv_file, priv_anon, shared;
	} tab[] = {
		{ 0, PAGE_NOACCESS, PAGE_NOACCESS, PAGE_NOACCESS },
		{ R, PAGE_READONLY, PAGE_READONLY, PAGE_READONLY },
		{ R | W, PAGE_WRITECOPY, PAGE_READWRITE, PAGE_READWRITE },
		{ W, PAGE_WRITECOPY, PAGE_READWRITE, PAGE_READWRITE },
		{ X, PAGE_EXECUTE, PAGE_EXECUTE, PAGE_EXECUTE },
		{ R | X, PAGE_EXECUTE_READ, PAGE_EXECUTE_READ, PAGE_EXECUTE_READ },
		{ R | W | X, PAGE_EXECUTE_WRITECOPY, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_READWRITE },
		{ W | X, PAGE_EXECUTE_WRITECOPY, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_READWRITE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(tab); i++) {
		assert_int_equal(va_protect(tab[i].prot, false, true), tab[i].priv_file);
		assert_int_equal(va_protect(tab[i].prot, false, false), tab[i].priv_anon);
		assert_int_equal(va_protect(tab[i].prot, true, true), tab[i].shared);
		assert_int_equal(va_protect(tab[i].prot, true, false), tab[i].shared);
	}
}

static void test_classify_type_state(void **state)
{
	struct proc_map anon = { 0 }, file = { .inode = 42, .dev_major = 254 };

	assert_int_equal(va_classify(&anon, ""), VA_ANON);
	assert_int_equal(va_classify(&anon, "[heap]"), VA_ANON);
	assert_int_equal(va_classify(&anon, "[stack]"), VA_ANON);
	assert_int_equal(va_classify(&anon, "[anon:jit]"), VA_ANON);
	assert_int_equal(va_classify(&anon, "[vvar]"), VA_ANON);
	assert_int_equal(va_classify(&anon, "[vsyscall]"), VA_ANON);
	assert_int_equal(va_classify(&anon, "[vdso]"), VA_VDSO);
	assert_int_equal(va_classify(&file, "/usr/lib/libc.so.6"), VA_FILE);
	assert_int_equal(va_classify(&file, "/memfd:x"), VA_FILE);
	assert_int_equal(va_classify(&file, "/SYSV00000000"), VA_FILE);
	assert_int_equal(va_classify(&file, ""), VA_FILE);

	assert_int_equal(va_type(VA_ANON, false, false), MEM_PRIVATE);
	assert_int_equal(va_type(VA_ANON, true, false), MEM_MAPPED);
	assert_int_equal(va_type(VA_VDSO, false, false), MEM_IMAGE);
	assert_int_equal(va_type(VA_FILE, false, true), MEM_IMAGE);
	assert_int_equal(va_type(VA_FILE, false, false), MEM_MAPPED);
	/* A shared map of an ELF file is data, not an image. */
	assert_int_equal(va_type(VA_FILE, true, true), MEM_MAPPED);

	assert_int_equal(va_state(VA_ANON, 0, false), MEM_RESERVE);
	assert_int_equal(va_state(VA_ANON, 0, true), MEM_COMMIT);
	assert_int_equal(va_state(VA_ANON, R, false), MEM_COMMIT);
	assert_int_equal(va_state(VA_FILE, 0, false), MEM_COMMIT);

	file.shared = false;
	assert_true(va_wants_elf_probe(VA_FILE, &file));
	file.shared = true;
	assert_false(va_wants_elf_probe(VA_FILE, &file));
	assert_false(va_wants_elf_probe(VA_ANON, &anon));
	assert_false(va_wants_elf_probe(VA_VDSO, &anon));
}

/* One synthetic mapping for the builder. */
static int add(struct va_builder *b, uint64_t start, uint64_t end, unsigned prot, bool shared,
	       uint64_t offset, uint64_t inode, const char *name, const struct va_elf_info *elf)
{
	struct pss_region r = { 0 };
	int err;

	r.m.start = start;
	r.m.end = end;
	r.m.prot = prot;
	r.m.shared = shared;
	r.m.offset = offset;
	r.m.inode = inode;
	r.m.dev_major = inode ? 254 : 0;
	r.name = pss_strdup(name);
	assert_non_null(r.name);
	err = va_builder_add(b, &r, elf);
	pss_free(r.name);	/* NULL when the builder took it */
	return err;
}

static const struct pss_region *region_at(const struct va_builder *b, uint64_t base)
{
	for (size_t i = 0; i < b->n; i++)
		if ((uint64_t)(uintptr_t)b->r[i].e.BaseAddress == base)
			return &b->r[i];
	fail_msg("no region at %#llx", (unsigned long long)base);
	return NULL;
}

static void assert_contiguous(const struct va_builder *b)
{
	uint64_t next = 0;

	for (size_t i = 0; i < b->n; i++) {
		uint64_t base = (uint64_t)(uintptr_t)b->r[i].e.BaseAddress;

		if (base >= VA_KERNEL_HALF)
			break;
		assert_true(base == next);
		assert_true(b->r[i].e.RegionSize > 0);
		next = base + b->r[i].e.RegionSize;
	}
	assert_true(next == VA_USER_END);
}

static void build_sample(struct va_builder *b, bool section_info)
{
	const struct va_elf_info exe = { .is_elf = true, .have_build_id = true,
					 .build_id = { 0x268f5806, 0xcab3f047 } };
	const struct va_elf_info lib = { .is_elf = true };
	const struct va_elf_info data = { .is_elf = false };

	va_builder_init(b, section_info);
	/* the executable: three segments */
	assert_int_equal(add(b, 0x400000, 0x401000, R, false, 0, 10, "/bin/prog", &exe), 0);
	assert_int_equal(add(b, 0x401000, 0x403000, R | X, false, 0x1000, 10, "/bin/prog", &exe), 0);
	assert_int_equal(add(b, 0x404000, 0x405000, R | W, false, 0x3000, 10, "/bin/prog", &exe), 0);
	assert_int_equal(add(b, 0x405000, 0x406000, R | W, false, 0, 0, "", NULL), 0);	/* .bss */
	assert_int_equal(add(b, 0x600000, 0x621000, R | W, false, 0, 0, "[heap]", NULL), 0);
	/* a reservation, shared anonymous memory */
	assert_int_equal(add(b, 0x7f0000000000, 0x7f0000100000, 0, false, 0, 0, "", NULL), 0);
	assert_int_equal(add(b, 0x7f0000100000, 0x7f0000110000, R | W, true, 0, 7, "/dev/zero", NULL), 0);
	/* a library whose segments an anonymous hole interrupts */
	assert_int_equal(add(b, 0x7f0000200000, 0x7f0000210000, R, false, 0, 20, "/lib/liba.so", &lib), 0);
	assert_int_equal(add(b, 0x7f0000210000, 0x7f0000220000, 0, false, 0, 0, "", NULL), 0);
	assert_int_equal(add(b, 0x7f0000220000, 0x7f0000230000, R | W, false, 0x10000, 20,
			     "/lib/liba.so", &lib), 0);
	/* a data file mapped twice from its start: two allocations */
	assert_int_equal(add(b, 0x7f0000300000, 0x7f0000301000, R, false, 0, 30, "/data\nfile", &data), 0);
	assert_int_equal(add(b, 0x7f0000301000, 0x7f0000302000, R, false, 0, 30, "/data\nfile", &data), 0);
	assert_int_equal(add(b, 0x7ffff7fc0000, 0x7ffff7fc2000, R | X, false, 0, 0, "[vdso]", &exe), 0);
	assert_int_equal(add(b, 0x7ffffffde000, 0x7ffffffff000, R | W, false, 0, 0, "[stack]", NULL), 0);
	assert_int_equal(add(b, 0xffffffffff600000, 0xffffffffff601000, X, false, 0, 0, "[vsyscall]", NULL), 0);
	assert_int_equal(va_builder_finish(b), 0);
}

static void test_builder_layout(void **state)
{
	const struct pss_region *r;
	struct va_builder b;

	build_sample(&b, false);
	assert_int_equal(b.nmappings, 15);
	assert_contiguous(&b);
	/* the first region is the gap from 0 */
	assert_true(b.r[0].is_gap);
	assert_null(b.r[0].e.BaseAddress);
	assert_int_equal(b.r[0].e.RegionSize, 0x400000);
	assert_int_equal(b.r[0].e.State, MEM_FREE);
	assert_int_equal(b.r[0].e.Protect, PAGE_NOACCESS);
	assert_int_equal(b.r[0].e.Type, 0);
	assert_null(b.r[0].e.AllocationBase);
	/* the stack ends exactly at the end of user space: no tail gap;
	 * [vsyscall] comes last */
	r = &b.r[b.n - 1];
	assert_false(r->is_gap);
	assert_string_equal(r->name, "[vsyscall]");
	assert_int_equal(r->e.Protect, PAGE_EXECUTE);
	assert_int_equal(r->e.Type, MEM_PRIVATE);
	assert_string_equal(b.r[b.n - 2].name, "[stack]");

	r = region_at(&b, 0x401000);
	assert_int_equal(r->e.Type, MEM_IMAGE);
	assert_int_equal(r->e.Protect, PAGE_EXECUTE_READ);
	assert_true(r->e.AllocationBase == (void *)0x400000);
	assert_int_equal(r->e.AllocationProtect, PAGE_READONLY);
	assert_true(region_at(&b, 0x403000)->is_gap);	/* the hole inside the image */
	r = region_at(&b, 0x404000);
	assert_int_equal(r->e.Protect, PAGE_WRITECOPY);
	assert_true(r->e.AllocationBase == (void *)0x400000);
	r = region_at(&b, 0x405000);
	assert_int_equal(r->e.Type, MEM_PRIVATE);
	assert_int_equal(r->e.Protect, PAGE_READWRITE);
	assert_true(r->e.AllocationBase == (void *)0x405000);
	r = region_at(&b, 0x7f0000000000);
	assert_int_equal(r->e.State, MEM_RESERVE);
	assert_int_equal(r->e.Protect, PAGE_NOACCESS);
	r = region_at(&b, 0x7f0000100000);
	assert_int_equal(r->e.Type, MEM_MAPPED);
	assert_int_equal(r->e.Protect, PAGE_READWRITE);
	/* the library run survives its anonymous hole */
	r = region_at(&b, 0x7f0000220000);
	assert_true(r->e.AllocationBase == (void *)0x7f0000200000);
	assert_int_equal(r->e.Protect, PAGE_WRITECOPY);
	assert_true(region_at(&b, 0x7f0000210000)->e.AllocationBase == (void *)0x7f0000210000);
	/* offset 0 again: a new allocation */
	r = region_at(&b, 0x7f0000301000);
	assert_int_equal(r->e.Type, MEM_MAPPED);
	assert_true(r->e.AllocationBase == (void *)0x7f0000301000);
	/* no section information: no names, no image data */
	for (size_t i = 0; i < b.n; i++) {
		assert_null(b.r[i].e.MappedFileName);
		assert_int_equal(b.r[i].e.MappedFileNameLength, 0);
		assert_null(b.r[i].e.ImageBase);
		assert_int_equal(b.r[i].e.SizeOfImage, 0);
		if (!b.r[i].is_gap)
			assert_ptr_equal(b.r[i].m.name.p, b.r[i].name);
	}
	va_builder_release(&b);
}

static void test_builder_section_info(void **state)
{
	const struct pss_region *r;
	struct va_builder b;

	build_sample(&b, true);
	r = region_at(&b, 0x404000);
	assert_true(r->e.ImageBase == (void *)0x400000);
	assert_int_equal(r->e.SizeOfImage, 0x5000);
	assert_int_equal(r->e.CheckSum, 0x268f5806);
	assert_int_equal(r->e.TimeDateStamp, 0xcab3f047);
	assert_int_equal(r->e.MappedFileNameLength, 2 * strlen("/bin/prog"));
	assert_true(r->e.MappedFileName[0] == u'/' && r->e.MappedFileName[9] == 0);
	/* .bss after the image is private memory without a name */
	r = region_at(&b, 0x405000);
	assert_null(r->e.ImageBase);
	assert_null(r->e.MappedFileName);
	/* an image without a build-id */
	r = region_at(&b, 0x7f0000200000);
	assert_true(r->e.ImageBase == (void *)0x7f0000200000);
	assert_int_equal(r->e.SizeOfImage, 0x30000);
	assert_int_equal(r->e.CheckSum, 0);
	assert_int_equal(r->e.TimeDateStamp, 0);
	assert_null(region_at(&b, 0x7f0000210000)->e.ImageBase);
	/* data files: a name (the unescaped newline kept), no image data */
	r = region_at(&b, 0x7f0000300000);
	assert_null(r->e.ImageBase);
	assert_int_equal(r->e.MappedFileNameLength, 2 * strlen("/data\nfile"));
	assert_true(r->e.MappedFileName[5] == u'\n');
	r = region_at(&b, 0x7ffff7fc0000);
	assert_int_equal(r->e.Type, MEM_IMAGE);
	assert_true(r->e.ImageBase == (void *)0x7ffff7fc0000);
	assert_int_equal(r->e.SizeOfImage, 0x2000);
	assert_int_equal(r->e.CheckSum, 0x268f5806);
	assert_int_equal(r->e.MappedFileNameLength, 2 * strlen("[vdso]"));
	assert_null(region_at(&b, 0x600000)->e.MappedFileName);	/* [heap] */
	va_builder_release(&b);
}

static void test_builder_edges(void **state)
{
	struct va_builder b;

	/* no mappings at all (kernel thread, zombie): no regions */
	va_builder_init(&b, true);
	assert_int_equal(va_builder_finish(&b), 0);
	assert_int_equal(b.n, 0);
	va_builder_release(&b);

	/* no [vsyscall]: the tail gap closes the list */
	va_builder_init(&b, false);
	assert_int_equal(add(&b, 0x1000, 0x2000, R, false, 0, 0, "", NULL), 0);
	/* out of order or empty: refused, nothing added */
	assert_int_equal(add(&b, 0x1800, 0x3000, R, false, 0, 0, "", NULL), -EINVAL);
	assert_int_equal(add(&b, 0x5000, 0x5000, R, false, 0, 0, "", NULL), -EINVAL);
	assert_int_equal(add(&b, 0x2000, 0x3000, R | W, false, 0, 0, "", NULL), 0);
	assert_int_equal(va_builder_finish(&b), 0);
	assert_int_equal(b.nmappings, 2);
	assert_int_equal(b.n, 4);	/* gap, map, map (adjacent: no gap), tail */
	assert_true(b.r[3].is_gap);
	assert_true((uint64_t)(uintptr_t)b.r[3].e.BaseAddress == 0x3000);
	assert_contiguous(&b);
	va_builder_release(&b);

	/* a mapping right at 0 has no leading gap */
	va_builder_init(&b, false);
	assert_int_equal(add(&b, 0, 0x1000, R, false, 0, 0, "", NULL), 0);
	assert_int_equal(add(&b, 0xffffffffff600000, 0xffffffffff601000, X, false, 0, 0, "[vsyscall]", NULL), 0);
	assert_int_equal(va_builder_finish(&b), 0);
	assert_int_equal(b.n, 3);
	assert_false(b.r[0].is_gap);
	assert_true(b.r[1].is_gap);
	assert_true((uint64_t)(uintptr_t)b.r[1].e.BaseAddress + b.r[1].e.RegionSize == VA_USER_END);
	va_builder_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protect),
		cmocka_unit_test(test_classify_type_state),
		cmocka_unit_test(test_builder_layout),
		cmocka_unit_test(test_builder_section_info),
		cmocka_unit_test(test_builder_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
