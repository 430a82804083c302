// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live tests of PSS_CAPTURE_VA_SPACE: regions tile the address space in
 * order, every mapping of /proc/PID/maps is a region with the documented
 * State/Type/Protect and name, gaps are MEM_FREE; and VirtualQueryEx and
 * ReadProcessMemory on a process handle see the victim's known memory.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct map {
	unsigned long start, end, offset;
	char perms[5];
	char path[1024];
};

static int read_maps(pid_t pid, struct map *m, int max)
{
	char path[64], line[2048];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (n < max && fgets(line, sizeof(line), f)) {
		int off = 0;

		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "%lx-%lx %4s %lx %*x:%*x %*u %n", &m[n].start, &m[n].end, m[n].perms,
			   &m[n].offset, &off) < 4)
			continue;
		snprintf(m[n].path, sizeof(m[n].path), "%s", off ? line + off : "");
		n++;
	}
	fclose(f);
	return n;
}

struct fixture {
	struct target t;
	char dir[64];
	char reply[1024];
	struct map maps[4096];
	int nmaps;
	char exe[1024];
};

static void setup(struct fixture *f)
{
	char path[64];
	ssize_t n;

	snprintf(f->dir, sizeof(f->dir), "/tmp/pss-vaspace-XXXXXX");
	REQUIRE(mkdtemp(f->dir) != NULL, "mkdtemp");
	start_victim(&f->t);
	target_cmdf(&f->t, f->reply, sizeof(f->reply), "maps %s", f->dir);
	REQUIRE(reply_get(f->reply, "anon", 0) != 0, "victim: %s", f->reply);
	f->nmaps = read_maps(f->t.pid, f->maps, 4096);
	REQUIRE(f->nmaps > 5, "maps unreadable");
	snprintf(path, sizeof(path), "/proc/%d/exe", f->t.pid);
	n = readlink(path, f->exe, sizeof(f->exe) - 1);
	f->exe[n > 0 ? n : 0] = 0;
}

static void teardown(struct fixture *f)
{
	char path[128];

	target_kill(&f->t);
	snprintf(path, sizeof(path), "%s/name with space", f->dir);
	unlink(path);
	rmdir(f->dir);
}

static PSS_VA_SPACE_ENTRY *region_at(struct walk *w, unsigned long addr)
{
	for (size_t i = 0; i < w->count; i++) {
		PSS_VA_SPACE_ENTRY *e = WALK_ITEM(w, PSS_VA_SPACE_ENTRY, i);
		unsigned long b = (unsigned long)e->BaseAddress;

		if (addr >= b && addr - b < e->RegionSize)
			return e;
	}
	return NULL;
}

static char *region_name(const PSS_VA_SPACE_ENTRY *e)
{
	size_t units = e->MappedFileNameLength / sizeof(WCHAR);

	if (units && e->MappedFileName && e->MappedFileName[units - 1] == 0)
		units--;
	return u16_to_utf8(e->MappedFileName, units);
}

static void check_region(struct walk *w, const char *what, unsigned long addr, DWORD state,
			 DWORD type, DWORD protect, const char *name_part)
{
	PSS_VA_SPACE_ENTRY *e = region_at(w, addr);
	char *name;

	CHECK(e != NULL, "%s at %#lx: no region", what, addr);
	if (!e)
		return;
	name = region_name(e);
	CHECK(e->State == state, "%s: State %#x, want %#x", what, e->State, state);
	CHECK(e->Type == type, "%s: Type %#x, want %#x", what, e->Type, type);
	CHECK(e->Protect == protect, "%s: Protect %#x, want %#x", what, e->Protect, protect);
	if (name_part)
		CHECK(strstr(name, name_part) != NULL, "%s: MappedFileName '%s' lacks '%s'", what, name,
		      name_part);
	free(name);
}

#define USER_TOP 0x800000000000ul	/* 47-bit user space (4-level paging) */

/* Proves: the walk tiles the address space in increasing order without
 * overlap, gaps are MEM_FREE (never two in a row), RegionCount equals the
 * walk, and each /proc/PID/maps mapping is exactly one non-free region. */
TEST(regions_tile_address_space)
{
	struct fixture f;
	struct walk w;
	PSS_VA_SPACE_INFORMATION vi;
	HPSS s;
	size_t used = 0;
	int mi = 0;

	setup(&f);
	s = capture_ok(f.t.pid, PSS_CAPTURE_VA_SPACE | PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION, 0);
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_VA_SPACE_INFORMATION, &vi, sizeof(vi)));
	CHECK_ERR(walk_collect(s, PSS_WALK_VA_SPACE, sizeof(PSS_VA_SPACE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	CHECK_EQ_U64(vi.RegionCount, w.count);
	REQUIRE(w.count > 0, "empty walk");
	for (size_t i = 0; i < w.count; i++) {
		PSS_VA_SPACE_ENTRY *e = WALK_ITEM(&w, PSS_VA_SPACE_ENTRY, i);
		unsigned long b = (unsigned long)e->BaseAddress;

		CHECK(e->RegionSize > 0 && (e->RegionSize & 4095) == 0 && (b & 4095) == 0,
		      "region %zu: base %#lx size %#lx", i, b, (unsigned long)e->RegionSize);
		if (i > 0) {
			PSS_VA_SPACE_ENTRY *p = WALK_ITEM(&w, PSS_VA_SPACE_ENTRY, i - 1);

			/* [vsyscall] lies above user space: the tiling ends before it */
			CHECK((unsigned long)p->BaseAddress + p->RegionSize == b || b >= USER_TOP,
			      "region %zu at %#lx does not follow %#lx+%#lx", i, b,
			      (unsigned long)p->BaseAddress, (unsigned long)p->RegionSize);
			CHECK(!(p->State == MEM_FREE && e->State == MEM_FREE), "two free regions in a row at %#lx", b);
		}
		if (e->State == MEM_FREE)
			continue;
		/* the next mapping of /proc/PID/maps, in order */
		CHECK(mi < f.nmaps, "region %#lx beyond the last mapping", b);
		if (mi < f.nmaps) {
			CHECK(b == f.maps[mi].start && b + e->RegionSize == f.maps[mi].end,
			      "region %#lx-%#lx, mapping %#lx-%#lx %s", b, b + e->RegionSize,
			      f.maps[mi].start, f.maps[mi].end, f.maps[mi].path);
			mi++;
		}
		used++;
	}
	CHECK_EQ_INT(mi, f.nmaps);
	diag("%zu regions, %zu mappings", w.count, used);
	walk_release(&w);
	free_snap(s);
	teardown(&f);
}

/* Proves: State/Type/Protect/MappedFileName of the executable, libc, an
 * anonymous RW block, a PROT_NONE reservation, a memfd, a deleted file and a
 * file whose name has a space; section information for ELF images. */
TEST(region_kinds)
{
	struct fixture f;
	struct walk w;
	HPSS s;
	unsigned long exe_text = 0, exe_data = 0, libc_text = 0, libc_first = 0, libc_last = 0;
	PSS_VA_SPACE_ENTRY *e;

	setup(&f);
	for (int i = 0; i < f.nmaps; i++) {
		struct map *m = &f.maps[i];

		if (!strcmp(m->path, f.exe) && !strcmp(m->perms, "r-xp"))
			exe_text = m->start;
		if (!strcmp(m->path, f.exe) && !strcmp(m->perms, "rw-p"))
			exe_data = m->start;
		if (strstr(m->path, "/libc.so") || strstr(m->path, "/libc-")) {
			if (!libc_first)
				libc_first = m->start;
			libc_last = m->end;
			if (!strcmp(m->perms, "r-xp"))
				libc_text = m->start;
		}
	}
	REQUIRE(exe_text && libc_text, "no r-xp mapping of %s or libc", f.exe);
	s = capture_ok(f.t.pid, PSS_CAPTURE_VA_SPACE | PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION, 0);
	CHECK_ERR(walk_collect(s, PSS_WALK_VA_SPACE, sizeof(PSS_VA_SPACE_ENTRY), &w), ERROR_NO_MORE_ITEMS);

	check_region(&w, "exe text", exe_text, MEM_COMMIT, MEM_IMAGE, PAGE_EXECUTE_READ, f.exe);
	if (exe_data)
		check_region(&w, "exe data", exe_data, MEM_COMMIT, MEM_IMAGE, PAGE_WRITECOPY, f.exe);
	check_region(&w, "libc text", libc_text, MEM_COMMIT, MEM_IMAGE, PAGE_EXECUTE_READ, "libc");
	check_region(&w, "anonymous", (unsigned long)reply_get(f.reply, "anon", 0), MEM_COMMIT,
		     MEM_PRIVATE, PAGE_READWRITE, NULL);
	check_region(&w, "reservation", (unsigned long)reply_get(f.reply, "none", 0), MEM_RESERVE,
		     MEM_PRIVATE, PAGE_NOACCESS, NULL);
	check_region(&w, "memfd", (unsigned long)reply_get(f.reply, "memfd", 0), MEM_COMMIT, MEM_MAPPED,
		     PAGE_READWRITE, "pss-test-map");
	check_region(&w, "deleted", (unsigned long)reply_get(f.reply, "deleted", 0), MEM_COMMIT,
		     MEM_MAPPED, PAGE_WRITECOPY, "deleted-file");
	check_region(&w, "space", (unsigned long)reply_get(f.reply, "space", 0), MEM_COMMIT, MEM_MAPPED,
		     PAGE_READONLY, "name with space");

	e = region_at(&w, libc_text);
	if (e) {
		CHECK_EQ_HEX((unsigned long)e->ImageBase, libc_first);
		CHECK_EQ_HEX(e->SizeOfImage, libc_last - libc_first);
		CHECK_EQ_HEX((unsigned long)e->AllocationBase, libc_first);
	}
	e = region_at(&w, (unsigned long)reply_get(f.reply, "anon", 0));
	if (e)
		CHECK_EQ_HEX((unsigned long)e->AllocationBase, (unsigned long)e->BaseAddress);
	walk_release(&w);
	free_snap(s);
	teardown(&f);
}

/* Proves: pss_linux_query_region() indexes the mappings in order with the
 * names of /proc/PID/maps (deletion flagged), then ERROR_NO_MORE_ITEMS. */
TEST(linux_region_detail)
{
	struct fixture f;
	struct pss_linux_region_info ri;
	HPSS s;
	unsigned idx = 0;
	unsigned long del = 0, anon;

	setup(&f);
	del = (unsigned long)reply_get(f.reply, "deleted", 0);
	anon = (unsigned long)reply_get(f.reply, "anon", 0);
	s = capture_ok(f.t.pid, PSS_CAPTURE_VA_SPACE, 0);
	for (int i = 0; i < f.nmaps; i++) {
		struct map *m = &f.maps[i];
		DWORD r;
		char with_del[1100];

		memset(&ri, 0, sizeof(ri));
		ri.sz = sizeof(ri);
		r = pss_linux_query_region(s, idx++, &ri);
		CHECK_ERR(r, ERROR_SUCCESS);
		if (r)
			break;
		CHECK(ri.start == m->start && ri.end == m->end, "region %u %#llx-%#llx, mapping %#lx-%#lx",
		      idx - 1, ri.start, ri.end, m->start, m->end);
		snprintf(with_del, sizeof(with_del), "%s (deleted)", ri.name ? ri.name : "");
		CHECK(ri.name && (!strcmp(ri.name, m->path) || (ri.deleted && !strcmp(with_del, m->path))),
		      "region %u name '%s' deleted %d, maps '%s'", idx - 1, ri.name, ri.deleted, m->path);
		if (ri.start == del) {
			CHECK_EQ_INT(ri.deleted, 1);
			CHECK(ri.prot == 3 && !ri.shared, "deleted map prot %u shared %d", ri.prot, ri.shared);
		}
		if (ri.start <= anon && anon < ri.end)
			CHECK(ri.name && !strcmp(ri.name, "") && ri.prot == 3, "anon region name '%s' prot %u",
			      ri.name, ri.prot);
	}
	ri.sz = sizeof(ri);
	CHECK_ERR(pss_linux_query_region(s, idx, &ri), ERROR_NO_MORE_ITEMS);
	free_snap(s);
	s = capture_ok(f.t.pid, PSS_CAPTURE_THREADS, 0);
	CHECK_ERR(pss_linux_query_region(s, 0, &ri), ERROR_NOT_FOUND);
	free_snap(s);
	teardown(&f);
}

/* Proves: VirtualQueryEx describes the victim's regions (commit, reserve,
 * free) and ReadProcessMemory reads its known byte pattern. */
TEST(virtualqueryex_and_readprocessmemory)
{
	struct fixture f;
	MEMORY_BASIC_INFORMATION mbi;
	HANDLE h;
	unsigned long anon, none;
	size_t len;
	uint8_t *buf;
	SIZE_T got = 0;

	setup(&f);
	anon = (unsigned long)reply_get(f.reply, "anon", 0);
	none = (unsigned long)reply_get(f.reply, "none", 0);
	len = (size_t)reply_get(f.reply, "anon_len", 0);
	h = open_process(f.t.pid);

	CHECK_EQ_U64(VirtualQueryEx(h, (void *)(anon + 100), &mbi, sizeof(mbi)), sizeof(mbi));
	CHECK((unsigned long)mbi.BaseAddress <= anon &&
	      (unsigned long)mbi.BaseAddress + mbi.RegionSize >= anon + len, "anon region %p+%#lx",
	      mbi.BaseAddress, (unsigned long)mbi.RegionSize);
	CHECK_EQ_HEX(mbi.State, MEM_COMMIT);
	CHECK_EQ_HEX(mbi.Type, MEM_PRIVATE);
	CHECK_EQ_HEX(mbi.Protect, PAGE_READWRITE);

	CHECK_EQ_U64(VirtualQueryEx(h, (void *)none, &mbi, sizeof(mbi)), sizeof(mbi));
	CHECK_EQ_HEX(mbi.State, MEM_RESERVE);

	CHECK_EQ_U64(VirtualQueryEx(h, (void *)0x10000, &mbi, sizeof(mbi)), sizeof(mbi));
	CHECK_EQ_HEX(mbi.State, MEM_FREE);
	CHECK_EQ_U64(VirtualQueryEx(h, (void *)anon, &mbi, sizeof(mbi) - 1), 0);
	CHECK_EQ_U64(GetLastError(), ERROR_INVALID_PARAMETER);

	buf = malloc(len);
	REQUIRE(buf, "malloc");
	CHECK(ReadProcessMemory(h, (void *)anon, buf, len, &got), "ReadProcessMemory: %s",
	      err_name(GetLastError()));
	CHECK_EQ_U64(got, len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != vp_byte(i)) {
			CHECK_EQ_HEX(buf[i], vp_byte(i));
			diag("first difference at byte %zu", i);
			break;
		}
	/* nothing is mapped at 64 KiB: nothing can be copied */
	got = 1;
	CHECK(!ReadProcessMemory(h, (void *)0x10000, buf, 64, &got), "read of unmapped memory succeeded");
	CHECK_EQ_U64(GetLastError(), ERROR_NOACCESS);
	CHECK_EQ_U64(got, 0);
	free(buf);
	CloseHandle(h);
	teardown(&f);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
