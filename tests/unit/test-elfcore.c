// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The core writer on synthetic snapshots: the kernel's vma_dump_size()
 * rules, the notes (order, PRSTATUS/PRPSINFO/NT_FILE bytes), the layout
 * (offsets, page-aligned data, PN_XNUM) and a whole core written from a
 * file standing in for the clone's memory (holes, aux pages, pipe = file).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "elfcore/elfcore.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define R PROC_PROT_READ
#define W PROC_PROT_WRITE
#define X PROC_PROT_EXEC

static void test_dump_size(void **state)
{
	struct ec_map m = { .start = 0x10000, .end = 0x14000, .prot = R | W };
	const uint64_t whole = 0x4000;

	/* anonymous private: written or not */
	m.anon_vma = true;
	assert_int_equal(ec_dump_size(&m, 0x33, false), whole);
	assert_int_equal(ec_dump_size(&m, 0x32, false), 0);
	assert_int_equal(ec_dump_size(&m, 0x32, true), whole);
	m.anon_vma = false;
	assert_int_equal(ec_dump_size(&m, 0x33, false), 0);
	/* MADV_DONTDUMP, VM_IO */
	m.anon_vma = true;
	m.have_vmflags = true;
	m.vmflags = PSS_LINUX_VM_DONTDUMP;
	assert_int_equal(ec_dump_size(&m, 0x1ff, false), 0);
	assert_int_equal(ec_dump_size(&m, 0x33, true), whole);
	m.vmflags = PSS_LINUX_VM_IO;
	assert_int_equal(ec_dump_size(&m, 0x1ff, false), 0);
	/* special mappings: always, even DONTDUMP ([vvar]) */
	m.vmflags = PSS_LINUX_VM_DONTDUMP | PSS_LINUX_VM_IO | PSS_LINUX_VM_PFNMAP;
	m.special = true;
	assert_int_equal(ec_dump_size(&m, 0, false), whole);
	m.special = false;
	/* shared: without links (bit 1) or a real file (bit 3) */
	m.vmflags = PSS_LINUX_VM_SHARED;
	m.nlink0 = true;
	assert_int_equal(ec_dump_size(&m, 0x33, false), whole);
	assert_int_equal(ec_dump_size(&m, 0x31, false), 0);
	m.nlink0 = false;
	m.file = true;
	assert_int_equal(ec_dump_size(&m, 0x33, false), 0);
	assert_int_equal(ec_dump_size(&m, 0x08, false), whole);
	/* hugetlb */
	m.vmflags = PSS_LINUX_VM_HUGETLB;
	assert_int_equal(ec_dump_size(&m, 0x33, false), whole);
	assert_int_equal(ec_dump_size(&m, 0x13, false), 0);
	/* private file: written (bit 0), whole (bit 2), ELF header page (bit 4) */
	m.vmflags = 0;
	m.prot = R | X;
	m.anon_vma = false;
	assert_int_equal(ec_dump_size(&m, 0x33, false), 0);
	m.elf_head = true;
	assert_int_equal(ec_dump_size(&m, 0x33, false), EC_PAGE);
	assert_int_equal(ec_dump_size(&m, 0x23, false), 0);
	assert_int_equal(ec_dump_size(&m, 0x04, false), whole);
	m.pgoff = 0x1000;
	assert_int_equal(ec_dump_size(&m, 0x33, false), 0);
	m.anon_vma = true;
	assert_int_equal(ec_dump_size(&m, 0x33, false), whole);
}

/* ---- a synthetic snapshot ---- */

static uint8_t xstate[3][1024];
static uint64_t auxv[] = { 6 /* AT_PAGESZ */, 4096, 0, 0 };

struct fixture {
	struct pss_snapshot s;
	struct pss_thread th[3];
	struct ec_map maps[4];
	struct ec_core c;
	char cmdline[200];
};

static struct fixture *fixture_new(void)
{
	static const char cmd[] = "/usr/bin/prog\0-x\0arg";
	struct fixture *f = calloc(1, sizeof(*f));
	uint64_t xcr0 = 0x7;	/* x87 SSE AVX */

	assert_non_null(f);
	f->s.pid = 100;
	f->s.li.pid = 100;
	f->s.li.ppid = 1;
	f->s.li.pgrp = 100;
	f->s.li.sid = 50;
	f->s.li.uid = 1000;
	f->s.li.gid = 1001;
	f->s.li.state = 'S';
	f->s.li.nice = -2;
	strcpy(f->s.li.comm, "prog");
	memcpy(f->cmdline, cmd, sizeof(cmd));
	f->s.li.cmdline = f->cmdline;
	f->s.li.cmdline_len = sizeof(cmd);
	/* the leader is second in the list: it must come first in the core */
	for (int i = 0; i < 3; i++) {
		struct pss_thread *t = &f->th[i];

		t->tid = i == 1 ? 100 : 101 + i;
		t->have_regs = true;
		t->r.regs.rip = 0x1000 + (uint64_t)i;
		t->r.regs.rax = (uint64_t)-512;
		t->r.sigmask = 0x4000 + (uint64_t)i;
		t->sig_pnd = 0x10;
		t->utime_ns = 1500000000ull;
		memcpy(xstate[i] + 464, &xcr0, sizeof(xcr0));
		t->r.xstate = xstate[i];
		t->r.xstate_len = sizeof(xstate[i]);
	}
	f->s.threads = f->th;
	f->s.nthreads = 3;
	f->maps[0] = (struct ec_map){ .start = 0x10000, .end = 0x13000, .prot = R | W, .anon_vma = true,
				      .name = "" };
	f->maps[1] = (struct ec_map){ .start = 0x20000, .end = 0x22000, .prot = R | X, .file = true,
				      .elf_head = true, .name = "/usr/bin/prog" };
	f->maps[2] = (struct ec_map){ .start = 0x22000, .end = 0x23000, .prot = R, .file = true,
				      .pgoff = 0x2000, .deleted = true, .name = "/tmp/gone" };
	f->maps[3] = (struct ec_map){ .start = 0x30000, .end = 0x31000, .prot = R, .special = true,
				      .no_read = true, .name = "[vvar]" };
	f->c.s = &f->s;
	f->c.filter = EC_FILTER_DEFAULT;
	f->c.maps = f->maps;
	f->c.nmaps = 4;
	f->c.auxv = auxv;
	f->c.auxv_len = sizeof(auxv);
	f->c.mem_fd = -1;
	assert_int_equal(ec_threads_order(&f->c), 0);
	assert_int_equal(ec_file_note_build(&f->c), 0);
	ec_xfeat_build(&f->c, xstate[0], sizeof(xstate[0]));
	assert_int_equal(ec_layout(&f->c), 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	pss_free(f->c.threads);
	pss_free(f->c.file_note);
	pss_free(f->c.aux);
	free(f);
}

struct rec {
	uint8_t buf[1 << 16];
	size_t len;
};

static int rec_emit(void *ctx, const void *p, size_t len)
{
	struct rec *r = ctx;

	assert_true(r->len + len <= sizeof(r->buf));
	memcpy(r->buf + r->len, p, len);
	r->len += len;
	return 0;
}

/* The next note of @r at *off: its type, owner and descriptor. */
static uint32_t next_note(const struct rec *r, size_t *off, const char **owner, const uint8_t **desc,
			  size_t *len)
{
	const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(r->buf + *off);

	*owner = (const char *)(nh + 1);
	*desc = (const uint8_t *)*owner + ((nh->n_namesz + 3) & ~3u);
	*len = nh->n_descsz;
	*off += sizeof(*nh) + ((nh->n_namesz + 3) & ~3u) + ((nh->n_descsz + 3) & ~3u);
	return nh->n_type;
}

static void test_notes(void **state)
{
	static const uint32_t want[] = {
		NT_PRSTATUS, NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE, NT_PRFPREG, NT_X86_XSTATE,
		NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE, NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE,
		NT_X86_XSAVE_LAYOUT,
	};
	struct fixture *f = fixture_new();
	struct rec *r = calloc(1, sizeof(*r));
	struct elf_prstatus prs_buf, *prs = &prs_buf;
	struct elf_prpsinfo psi_buf, *psi = &psi_buf;
	uint64_t w_buf[64], *w = w_buf;
	uint32_t xf[4];
	const uint8_t *d;
	const char *owner;
	size_t off = 0, len, n = 0;
	int prstatus = 0;

	assert_int_equal(ec_notes_emit(&f->c, rec_emit, r), 0);
	assert_int_equal(r->len, f->c.notes_size);
	assert_int_equal(r->len % 4, 0);
	while (off < r->len) {
		uint32_t type = next_note(r, &off, &owner, &d, &len);

		assert_true(n < ARRAY_SIZE(want));
		assert_int_equal(type, want[n]);
		n++;
		assert_string_equal(owner, type == NT_X86_XSTATE || type == NT_X86_XSAVE_LAYOUT ?
				    "LINUX" : "CORE");
		switch (type) {
		case NT_PRSTATUS:
			assert_int_equal(len, 336);
			memcpy(prs, d, sizeof(*prs));	/* notes are only 4-aligned */
			/* leader first, then the others in snapshot order */
			assert_int_equal(prs->pr_pid, prstatus == 0 ? 100 : prstatus == 1 ? 101 : 103);
			assert_int_equal(prs->pr_ppid, 1);
			assert_int_equal(prs->pr_pgrp, 100);
			assert_int_equal(prs->pr_sid, 50);
			assert_int_equal(prs->pr_fpvalid, 1);
			assert_int_equal(prs->pr_info.si_signo, 0);
			assert_int_equal(prs->pr_reg[10], (uint64_t)-512);	/* rax, raw */
			assert_int_equal(prs->pr_reg[16], prstatus == 0 ? 0x1001 : prstatus == 1 ? 0x1000 : 0x1002);
			assert_int_equal(prs->pr_sighold, prstatus == 0 ? 0x4001 : prstatus == 1 ? 0x4000 : 0x4002);
			assert_int_equal(prs->pr_sigpend, 0x10);
			/* the leader carries the group's CPU time */
			assert_int_equal(prs->pr_utime.tv_sec, prstatus == 0 ? 4 : 1);
			assert_int_equal(prs->pr_utime.tv_usec, prstatus == 0 ? 500000 : 500000);
			prstatus++;
			break;
		case NT_PRPSINFO:
			assert_int_equal(len, 136);
			memcpy(psi, d, sizeof(*psi));
			assert_int_equal(psi->pr_sname, 'S');
			assert_int_equal(psi->pr_state, 1);
			assert_int_equal(psi->pr_nice, -2);
			assert_int_equal(psi->pr_uid, 1000);
			assert_int_equal(psi->pr_gid, 1001);
			assert_int_equal(psi->pr_pid, 100);
			assert_string_equal(psi->pr_fname, "prog");
			assert_string_equal(psi->pr_psargs, "/usr/bin/prog -x arg ");
			break;
		case NT_SIGINFO:
			assert_int_equal(len, 128);
			for (size_t i = 0; i < len; i++)
				assert_int_equal(d[i], 0);
			break;
		case NT_AUXV:
			assert_int_equal(len, sizeof(auxv));
			assert_memory_equal(d, auxv, sizeof(auxv));
			break;
		case NT_FILE:
			assert_true(len <= sizeof(w_buf));
			memcpy(w, d, len);
			assert_int_equal(w[0], 2);
			assert_int_equal(w[1], 4096);
			assert_int_equal(w[2], 0x20000);
			assert_int_equal(w[3], 0x22000);
			assert_int_equal(w[4], 0);
			assert_int_equal(w[5], 0x22000);
			assert_int_equal(w[6], 0x23000);
			assert_int_equal(w[7], 2);
			assert_string_equal((const char *)(w + 8), "/usr/bin/prog");
			assert_string_equal((const char *)(w + 8) + 14, "/tmp/gone (deleted)");
			assert_int_equal(len, 64 + 14 + 20);
			break;
		case NT_PRFPREG:
			assert_int_equal(len, 512);
			break;
		case NT_X86_XSTATE:
			assert_int_equal(len, 1024);
			break;
		case NT_X86_XSAVE_LAYOUT:
			/* AVX only: CPUID(0xd, 2) = 256 bytes at 576 */
			assert_int_equal(len, 16);
			memcpy(xf, d, sizeof(xf));
			assert_int_equal(xf[0], 2);
			assert_int_equal(xf[1], 256);
			assert_int_equal(xf[2], 576);
			break;
		}
	}
	assert_int_equal(n, ARRAY_SIZE(want));
	free(r);
	fixture_free(f);
}

static void test_layout(void **state)
{
	struct fixture *f = fixture_new();
	uint8_t *h = calloc(1, ec_headers_size(&f->c));
	const Elf64_Ehdr *eh = (const void *)h;
	const Elf64_Phdr *ph = (const void *)(h + 64);

	ec_headers_fill(&f->c, h);
	assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
	assert_int_equal(eh->e_ident[EI_OSABI], ELFOSABI_NONE);
	assert_int_equal(eh->e_type, ET_CORE);
	assert_int_equal(eh->e_machine, EM_X86_64);
	assert_int_equal(eh->e_phoff, 64);
	assert_int_equal(eh->e_phnum, 5);
	assert_int_equal(eh->e_shoff, 0);
	assert_int_equal(ph[0].p_type, PT_NOTE);
	assert_int_equal(ph[0].p_offset, 64 + 5 * 56);
	assert_int_equal(ph[0].p_filesz, f->c.notes_size);
	assert_int_equal(ph[0].p_align, 4);
	assert_int_equal(f->c.data_off % 4096, 0);
	assert_true(f->c.data_off >= ph[0].p_offset + ph[0].p_filesz);
	/* anon written: whole; ELF head: one page; pgoff != 0 file: none; [vvar]: whole */
	assert_int_equal(ph[1].p_offset, f->c.data_off);
	assert_int_equal(ph[1].p_filesz, 0x3000);
	assert_int_equal(ph[1].p_flags, PF_R | PF_W);
	assert_int_equal(ph[2].p_offset, f->c.data_off + 0x3000);
	assert_int_equal(ph[2].p_filesz, 0x1000);
	assert_int_equal(ph[2].p_memsz, 0x2000);
	assert_int_equal(ph[2].p_flags, PF_R | PF_X);
	assert_int_equal(ph[3].p_filesz, 0);
	assert_int_equal(ph[4].p_filesz, 0x1000);
	assert_int_equal(ph[4].p_vaddr, 0x30000);
	assert_int_equal(f->c.total, f->c.data_off + 0x5000);
	for (int i = 1; i < 5; i++)
		assert_int_equal(ph[i].p_align, 4096);
	free(h);
	fixture_free(f);
}

static void test_pn_xnum(void **state)
{
	struct fixture *f = fixture_new();
	size_t n = 70000;
	struct ec_map *maps = calloc(n, sizeof(*maps));
	const Elf64_Ehdr *eh;
	Elf64_Shdr sh;
	uint8_t *h;

	for (size_t i = 0; i < n; i++)
		maps[i] = (struct ec_map){ .start = 0x100000 + i * 0x2000, .end = 0x101000 + i * 0x2000,
					   .prot = R | W, .anon_vma = true, .name = "" };
	f->c.maps = maps;
	f->c.nmaps = n;
	assert_int_equal(ec_layout(&f->c), 0);
	h = calloc(1, ec_headers_size(&f->c));
	ec_headers_fill(&f->c, h);
	eh = (const void *)h;
	assert_int_equal(eh->e_phnum, PN_XNUM);
	assert_int_equal(eh->e_shnum, 1);
	assert_int_equal(eh->e_shentsize, sizeof(Elf64_Shdr));
	assert_int_equal(eh->e_shoff, f->c.data_off + n * 0x1000);
	assert_int_equal(f->c.total, eh->e_shoff + sizeof(Elf64_Shdr));
	ec_shdr_fill(&f->c, &sh);
	assert_int_equal(sh.sh_type, SHT_NULL);
	assert_int_equal(sh.sh_info, n + 1);
	free(h);
	free(maps);
	fixture_free(f);
}

/* A whole core: "memory" is a sparse file read at the mapping addresses. */
static void fill_page(uint8_t *p, int seed)
{
	for (int i = 0; i < 4096; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

static void test_write(void **state)
{
	struct fixture *f = fixture_new();
	char mem_path[] = "/tmp/pss-ut-mem-XXXXXX", core_path[] = "/tmp/pss-ut-core-XXXXXX";
	struct pss_auxpage aux[2];
	static uint8_t page[4096], auxdata[2][4096], got[4096];
	struct ec_map *maps;
	struct stat st;
	uint8_t *pipebuf;
	int fd, p[2], status;
	pid_t child;
	ssize_t n;
	size_t got_len = 0;

	fd = mkstemp(mem_path);
	assert_true(fd >= 0);
	fill_page(page, 1);
	assert_int_equal(pwrite(fd, page, 4096, 0x10000), 4096);
	fill_page(page, 3);
	assert_int_equal(pwrite(fd, page, 4096, 0x12000), 4096);	/* 0x11000 stays zero: a hole */
	f->c.mem_fd = fd;
	unlink(mem_path);
	/* an aux-only range (MADV_DONTFORK) after the special one */
	maps = pss_calloc(4, sizeof(*maps));	/* the merge may grow it */
	assert_non_null(maps);
	memcpy(maps, f->maps, sizeof(f->maps));
	f->c.maps = maps;
	f->c.nmaps = 4;
	fill_page(auxdata[0], 5);
	fill_page(auxdata[1], 6);
	for (int i = 0; i < 2; i++) {
		memset(&aux[i], 0, sizeof(aux[i]));
		aux[1 - i].e.Address = (void *)(uintptr_t)(0x40000 + 0x1000 * (1 - i));
		aux[i].e.BasicInformation.BaseAddress = (void *)0x40000;
		aux[i].e.BasicInformation.RegionSize = 0x3000;	/* the third page was not copied */
		aux[i].e.BasicInformation.Protect = PAGE_READWRITE;
		aux[i].data = auxdata[i];
	}
	aux[0].e.Address = (void *)0x40000;
	aux[1].e.Address = (void *)0x41000;
	f->s.aux = aux;
	f->s.naux = 2;
	assert_int_equal(ec_maps_merge_aux(&f->c), 0);
	maps = f->c.maps;
	assert_int_equal(f->c.nmaps, 5);
	assert_true(maps[4].aux_only);
	assert_int_equal(maps[4].start, 0x40000);
	assert_int_equal(maps[4].end, 0x43000);
	assert_int_equal(ec_layout(&f->c), 0);

	fd = mkstemp(core_path);
	assert_true(fd >= 0);
	unlink(core_path);
	assert_int_equal(ec_write(&f->c, fd, NULL, NULL), 0);
	/* the aux page that was not copied, and the ELF header page, which
	 * the "memory" file does not have */
	assert_int_equal(f->c.bad_pages, 2);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal((uint64_t)st.st_size, f->c.total);
	/* the anon map: page 0, a zero page, page 2 */
	fill_page(page, 1);
	assert_int_equal(pread(fd, got, 4096, (off_t)maps[0].offset), 4096);
	assert_memory_equal(got, page, 4096);
	assert_int_equal(pread(fd, got, 4096, (off_t)maps[0].offset + 0x1000), 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(got[i], 0);
	fill_page(page, 3);
	assert_int_equal(pread(fd, got, 4096, (off_t)maps[0].offset + 0x2000), 4096);
	assert_memory_equal(got, page, 4096);
	/* the aux pages, the third page zeros */
	assert_int_equal(pread(fd, got, 4096, (off_t)maps[4].offset + 0x1000), 4096);
	assert_memory_equal(got, auxdata[1], 4096);
	assert_int_equal(pread(fd, got, 4096, (off_t)maps[4].offset), 4096);
	assert_memory_equal(got, auxdata[0], 4096);

	/* the same core through a pipe, byte for byte */
	assert_int_equal(pipe(p), 0);
	pipebuf = calloc(1, f->c.total + 1);
	child = fork();
	if (child == 0) {
		close(p[0]);
		_exit(ec_write(&f->c, p[1], NULL, NULL) ? 1 : 0);
	}
	close(p[1]);
	while ((n = read(p[0], pipebuf + got_len, f->c.total + 1 - got_len)) > 0)
		got_len += (size_t)n;
	close(p[0]);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(got_len, f->c.total);
	{
		uint8_t *file = malloc(f->c.total);

		assert_int_equal(pread(fd, file, f->c.total, 0), (ssize_t)f->c.total);
		assert_memory_equal(file, pipebuf, f->c.total);
		free(file);
	}
	free(pipebuf);
	close(fd);
	close(f->c.mem_fd);
	pss_free(maps);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_size),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_pn_xnum),
		cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
