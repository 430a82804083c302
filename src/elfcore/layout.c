// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Pass 1 of the core writer: what goes in the core and where.
 *
 * The core, as the kernel lays it out (fs/binfmt_elf.c:elf_core_dump()):
 *
 *   0                 Elf64_Ehdr: ET_CORE, EM_X86_64, ELFOSABI_NONE,
 *                     e_phoff 64, e_phnum (PN_XNUM when >= 0xffff)
 *   64                Elf64_Phdr[phnum]: PT_NOTE first (p_align 4), then one
 *                     PT_LOAD per mapping in address order ([vsyscall] last,
 *                     it has the highest address): p_vaddr, p_memsz = the
 *                     mapping, p_filesz = 0, one page or the whole mapping,
 *                     p_flags from its protection, p_align 4096
 *   notes_off         the notes (notes.c), each padded to 4
 *   data_off          (page aligned) the dumped bytes of each PT_LOAD, in
 *                     order, back to back; unreadable or all-zero pages are
 *                     holes (write.c)
 *   shoff             with PN_XNUM only: one Elf64_Shdr (SHT_NULL) whose
 *                     sh_info holds the real number of program headers
 *
 * Which mappings are dumped follows vma_dump_size() under the target's
 * coredump_filter (research 4.4); the clone has the target's mappings
 * except MADV_DONTFORK ones, which come back here from the auxiliary pages.
 */
#include "elfcore/elfcore.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Names the kernel dumps whole whatever the filter: special mappings with
 * vm_ops->name, and the gate VMA. */
static bool name_is_special(const char *name)
{
	static const char *const names[] = {
		"[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]", "[uprobes]",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

uint64_t ec_dump_size(const struct ec_map *m, unsigned filter, bool all)
{
	uint64_t whole = m->end - m->start;
	uint64_t vf = m->have_vmflags ? m->vmflags : 0;
	bool shared = m->have_vmflags ? !!(vf & PSS_LINUX_VM_SHARED) : m->shared;

	if (all || m->special)
		return whole;
	if (vf & PSS_LINUX_VM_DONTDUMP)
		return 0;
	if (vf & PSS_LINUX_VM_HUGETLB)
		return filter & (shared ? EC_FILTER_HUGETLB_SHARED : EC_FILTER_HUGETLB_PRIVATE) ?
		       whole : 0;
	if (vf & PSS_LINUX_VM_IO)
		return 0;
	if (shared)
		return filter & (m->nlink0 ? EC_FILTER_ANON_SHARED : EC_FILTER_MAPPED_SHARED) ?
		       whole : 0;
	if (m->anon_vma && (filter & EC_FILTER_ANON_PRIVATE))
		return whole;
	if (!m->file)
		return 0;
	if (filter & EC_FILTER_MAPPED_PRIVATE)
		return whole;
	if ((filter & EC_FILTER_ELF_HEADERS) && m->pgoff == 0 && (m->prot & PROC_PROT_READ) &&
	    m->elf_head)
		return MIN(EC_PAGE, whole);
	return 0;
}

/* One region of the snapshot (or of the clone's smaps) as a core map. */
static void map_from_region(struct ec_map *e, const struct pss_region *r)
{
	const char *name = r->name ? r->name : "";
	bool bracket = name[0] == '[';

	memset(e, 0, sizeof(*e));
	e->start = r->m.start;
	e->end = r->m.end;
	e->pgoff = r->m.offset;
	e->prot = r->m.prot;
	e->shared = r->m.shared;
	e->have_vmflags = r->smaps.have_vmflags;
	e->vmflags = r->smaps.vmflags;
	e->deleted = r->m.deleted;
	e->name = name;
	/* vm_file: an inode and a path ("[anon_shmem:x]" hides its shmem
	 * file; it stays out of NT_FILE, as its name is not a path). */
	e->file = r->m.inode != 0 && !bracket;
	e->special = bracket && name_is_special(name);
	e->no_read = (e->vmflags & (PSS_LINUX_VM_IO | PSS_LINUX_VM_PFNMAP)) ||
		     !strcmp(name, "[vvar]") || !strcmp(name, "[vvar_vclock]");
	/* An anon_vma exists once a private page was written (or swapped);
	 * without smaps detail, assume it for writable anonymous memory. */
	if (r->smaps.have_vmflags)
		e->anon_vma = r->smaps.anonymous + r->smaps.swap > 0;
	else
		e->anon_vma = !e->file && (e->prot & PROC_PROT_WRITE);
	/* Shared memory without a link: /dev/zero, memfd, SysV, unlinked. */
	e->nlink0 = e->deleted || !strncmp(name, "[anon_shmem:", 12);
}

int ec_maps_collect(struct ec_core *c, int procfd)
{
	const struct pss_region *regs = c->s->regions;
	size_t n = c->s->nregions, i;
	int err;

	if (!c->s->have_vaspace && procfd >= 0) {
		c->tmp = pss_calloc(1, sizeof(*c->tmp));
		if (!c->tmp)
			return -ENOMEM;
		err = vaspace_collect(c->tmp, procfd, false);
		if (err)
			return err;
		regs = c->tmp->regions;
		n = c->tmp->nregions;
	}
	c->maps = pss_calloc(n + 1, sizeof(*c->maps));
	if (!c->maps)
		return -ENOMEM;
	c->nmaps = 0;
	for (i = 0; i < n; i++)
		if (!regs[i].is_gap)
			map_from_region(&c->maps[c->nmaps++], &regs[i]);
	return ec_maps_merge_aux(c);
}

static int aux_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)(*(const struct pss_auxpage *const *)a)->e.Address;
	uintptr_t y = (uintptr_t)(*(const struct pss_auxpage *const *)b)->e.Address;

	return x < y ? -1 : x > y;
}

static int map_cmp(const void *a, const void *b)
{
	const struct ec_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static unsigned prot_from_protect(DWORD p)
{
	switch (p & 0xff) {
	case PAGE_READONLY:
		return PROC_PROT_READ;
	case PAGE_READWRITE:
		return PROC_PROT_READ | PROC_PROT_WRITE;
	case PAGE_EXECUTE_READ:
		return PROC_PROT_READ | PROC_PROT_EXEC;
	case PAGE_EXECUTE_READWRITE:
		return PROC_PROT_READ | PROC_PROT_WRITE | PROC_PROT_EXEC;
	default:
		return 0;
	}
}

/* The map holding @addr, or NULL (maps sorted, disjoint). */
static struct ec_map *map_find(struct ec_map *maps, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < maps[mid].start)
			hi = mid;
		else if (addr >= maps[mid].end)
			lo = mid + 1;
		else
			return &maps[mid];
	}
	return NULL;
}

/*
 * Auxiliary pages (MADV_DONTFORK and MADV_WIPEONFORK ranges copied from the
 * target during the stop): a range the clone has (WIPEONFORK, zero there)
 * takes its bytes from them; a range it lacks (DONTFORK) becomes a map of
 * its own, anonymous and written, as the target had it.
 */
int ec_maps_merge_aux(struct ec_core *c)
{
	const struct pss_snapshot *s = c->s;
	size_t i, nnew = 0, cap = c->nmaps;
	uint64_t last_base = 0;
	struct ec_map *m;

	if (!s->naux)
		return 0;
	c->aux = pss_malloc(s->naux * sizeof(*c->aux));
	if (!c->aux)
		return -ENOMEM;
	for (i = 0; i < s->naux; i++)
		c->aux[i] = &s->aux[i];
	c->naux = s->naux;
	qsort(c->aux, c->naux, sizeof(*c->aux), aux_cmp);
	for (i = 0; i < c->naux; i++) {
		const MEMORY_BASIC_INFORMATION *bi = &c->aux[i]->e.BasicInformation;
		uint64_t base = (uintptr_t)bi->BaseAddress;

		if (i && base == last_base)
			continue;
		last_base = base;
		m = map_find(c->maps, c->nmaps, (uintptr_t)c->aux[i]->e.Address);
		if (m) {
			m->aux = true;
			m->anon_vma = true;	/* the target had written pages there */
			continue;
		}
		if (pss_vec_grow(&c->maps, &cap, c->nmaps + nnew + 1, sizeof(*c->maps)))
			return -ENOMEM;
		m = &c->maps[c->nmaps + nnew++];
		memset(m, 0, sizeof(*m));
		m->start = base;
		m->end = base + bi->RegionSize;
		m->prot = prot_from_protect(bi->Protect);
		m->anon_vma = true;
		m->aux = m->aux_only = true;
		m->name = "";
	}
	if (nnew) {
		c->nmaps += nnew;
		qsort(c->maps, c->nmaps, sizeof(*c->maps), map_cmp);
	}
	return 0;
}

int ec_threads_order(struct ec_core *c)
{
	const struct pss_snapshot *s = c->s;
	size_t i, n = 0;

	c->threads = pss_calloc(s->nthreads + 1, sizeof(*c->threads));
	if (!c->threads)
		return -ENOMEM;
	/* The first NT_PRSTATUS is the "current" thread of debuggers: in a
	 * kernel core the signalled one, here the leader. */
	for (i = 0; i < s->nthreads; i++)
		if (s->threads[i].have_regs && s->threads[i].tid == s->pid)
			c->threads[n++] = &s->threads[i];
	for (i = 0; i < s->nthreads; i++)
		if (s->threads[i].have_regs && s->threads[i].tid != s->pid)
			c->threads[n++] = &s->threads[i];
	c->nthreads = n;
	return n ? 0 : -ENOENT;
}

int ec_layout(struct ec_core *c)
{
	bool all = c->flags & PSS_LINUX_CORE_ALL;
	uint64_t off;
	size_t i;

	c->phnum = c->nmaps + 1;
	c->notes_off = sizeof(Elf64_Ehdr) + (uint64_t)c->phnum * sizeof(Elf64_Phdr);
	c->notes_size = ec_notes_size(c);
	c->data_off = (c->notes_off + c->notes_size + EC_PAGE - 1) & ~(EC_PAGE - 1);
	off = c->data_off;
	for (i = 0; i < c->nmaps; i++) {
		struct ec_map *m = &c->maps[i];

		m->filesz = ec_dump_size(m, c->filter, all);
		m->offset = off;
		off += m->filesz;
	}
	c->shoff = c->phnum >= PN_XNUM ? off : 0;
	c->total = off + (c->shoff ? sizeof(Elf64_Shdr) : 0);
	return 0;
}

size_t ec_headers_size(const struct ec_core *c)
{
	return sizeof(Elf64_Ehdr) + c->phnum * sizeof(Elf64_Phdr);
}

void ec_headers_fill(const struct ec_core *c, void *buf)
{
	Elf64_Ehdr *eh = buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(eh + 1);
	size_t i;

	memset(buf, 0, ec_headers_size(c));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh->e_type = ET_CORE;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = c->phnum >= PN_XNUM ? PN_XNUM : (Elf64_Half)c->phnum;
	if (c->shoff) {
		eh->e_shoff = c->shoff;
		eh->e_shentsize = sizeof(Elf64_Shdr);
		eh->e_shnum = 1;
		eh->e_shstrndx = SHN_UNDEF;
	}
	ph[0].p_type = PT_NOTE;
	ph[0].p_offset = c->notes_off;
	ph[0].p_filesz = c->notes_size;
	ph[0].p_align = 4;
	for (i = 0; i < c->nmaps; i++) {
		const struct ec_map *m = &c->maps[i];
		Elf64_Phdr *p = &ph[i + 1];

		p->p_type = PT_LOAD;
		p->p_offset = m->offset;
		p->p_vaddr = m->start;
		p->p_filesz = m->filesz;
		p->p_memsz = m->end - m->start;
		p->p_flags = (m->prot & PROC_PROT_READ ? PF_R : 0) |
			     (m->prot & PROC_PROT_WRITE ? PF_W : 0) |
			     (m->prot & PROC_PROT_EXEC ? PF_X : 0);
		p->p_align = EC_PAGE;
	}
}

void ec_shdr_fill(const struct ec_core *c, Elf64_Shdr *sh)
{
	memset(sh, 0, sizeof(*sh));
	sh->sh_type = SHT_NULL;
	sh->sh_size = 1;		/* e_shnum */
	sh->sh_link = SHN_UNDEF;	/* e_shstrndx */
	sh->sh_info = (Elf64_Word)c->phnum;
}

static void tmp_free(struct pss_snapshot *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nregions; i++) {
		pss_free(t->regions[i].name16);
		pss_free(t->regions[i].name);
	}
	pss_free(t->regions);
	pss_free(t);
}

void ec_core_release(struct ec_core *c)
{
	pss_free(c->maps);
	pss_free(c->threads);
	pss_free(c->auxv);
	pss_free(c->file_note);
	pss_free(c->aux);
	tmp_free(c->tmp);
	if (c->mem_fd >= 0)
		close(c->mem_fd);
	c->maps = NULL;
	c->threads = NULL;
	c->auxv = c->file_note = NULL;
	c->aux = NULL;
	c->tmp = NULL;
	c->mem_fd = -1;
}
