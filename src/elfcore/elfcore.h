/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ELF core writer (design section 8): a core of a snapshot with a VA
 * clone, in the kernel's layout (fs/binfmt_elf.c), written in two passes.
 *
 *   layout.c  the mapping list (regions of the clone, auxiliary pages), the
 *             kernel's vma_dump_size() rules, pass 1 (offsets and sizes) and
 *             the ELF and program headers
 *   notes.c   the notes, in the kernel's order, through one emitter used by
 *             both passes (so their sizes cannot disagree)
 *   write.c   pass 2: headers, notes, then memory streamed from the clone
 *             with holes, and pss_linux_write_core()
 *
 * The pieces work on a struct ec_core that unit tests can fill by hand
 * (synthetic threads, maps and a file standing in for /proc/CLONE/mem).
 */
#ifndef PSS_ELFCORE_H
#define PSS_ELFCORE_H

#include "snapshot.h"
#include <elf.h>
#include <sys/procfs.h>

#define EC_PAGE 4096ull

#ifndef NT_X86_XSAVE_LAYOUT
#define NT_X86_XSAVE_LAYOUT 0x205	/* Linux 6.16+: the XSAVE component table */
#endif

/* Kernel coredump_filter bits (include/linux/sched/coredump.h, minus 2). */
#define EC_FILTER_ANON_PRIVATE (1u << 0)
#define EC_FILTER_ANON_SHARED (1u << 1)
#define EC_FILTER_MAPPED_PRIVATE (1u << 2)
#define EC_FILTER_MAPPED_SHARED (1u << 3)
#define EC_FILTER_ELF_HEADERS (1u << 4)
#define EC_FILTER_HUGETLB_PRIVATE (1u << 5)
#define EC_FILTER_HUGETLB_SHARED (1u << 6)
#define EC_FILTER_DEFAULT 0x33u

/* One mapping of the core: one PT_LOAD. */
struct ec_map {
	uint64_t start, end;
	uint64_t pgoff;			/* file offset in bytes (maps "offset") */
	unsigned prot;			/* PROC_PROT_* */
	uint64_t vmflags;		/* PSS_LINUX_VM_*, valid with have_vmflags */
	bool have_vmflags;
	bool shared;			/* 's' in maps */
	bool file;			/* backed by a file (vm_file): goes to NT_FILE */
	bool deleted;			/* " (deleted)" */
	bool anon_vma;			/* private, with anonymous pages (smaps Anonymous/Swap) */
	bool nlink0;			/* shared file without links: shmem, memfd, /dev/zero */
	bool special;			/* [vdso] [vvar] [vsyscall] ...: always dumped */
	bool no_read;			/* VM_IO / VM_PFNMAP ([vvar]): never read, zeros */
	bool elf_head;			/* the first page is an ELF header, or the file is executable */
	bool aux;			/* auxiliary pages override (part of) its content */
	bool aux_only;			/* absent in the clone (MADV_DONTFORK): aux pages only */
	const char *name;		/* unescaped, NUL-terminated; "" for anonymous */
	/* pass 1 */
	uint64_t filesz;		/* bytes dumped: 0, one page, or end - start */
	uint64_t offset;		/* file offset of its data */
};

/* One record of NT_X86_XSAVE_LAYOUT (struct x86_xfeat_component). */
struct ec_xfeat {
	uint32_t type, size, offset, flags;
};

struct ec_core {
	const struct pss_snapshot *s;	/* threads, li, aux pages */
	unsigned flags;			/* PSS_LINUX_CORE_* */
	unsigned filter;		/* coredump_filter */
	struct ec_map *maps;		/* address order; pss_malloc */
	size_t nmaps;
	const struct pss_thread **threads;	/* note order: the leader first; pss_malloc */
	size_t nthreads;
	void *auxv;			/* NT_AUXV bytes; pss_malloc */
	size_t auxv_len;
	void *file_note;		/* NT_FILE bytes; pss_malloc */
	size_t file_note_len;
	struct ec_xfeat xfeat[64];	/* NT_X86_XSAVE_LAYOUT */
	size_t nxfeat;
	const struct pss_auxpage **aux;	/* s->aux sorted by Address; pss_malloc */
	size_t naux;
	struct pss_snapshot *tmp;	/* regions read here when the capture had none */
	/* pass 1 */
	size_t phnum;			/* PT_NOTE + one PT_LOAD per map */
	uint64_t notes_off, notes_size;
	uint64_t data_off;		/* page aligned */
	uint64_t shoff;			/* the PN_XNUM section header (0: none) */
	uint64_t total;			/* size of the whole core */
	/* pass 2 */
	int mem_fd;			/* /proc/CLONE/mem, or any file read at the address */
	int pagemap_fd;			/* /proc/CLONE/pagemap, valid with use_pagemap */
	bool use_pagemap;		/* never-populated anonymous pages are not read */
	uint64_t bad_pages;		/* unreadable pages written as zeros */
	bool out_failed;		/* the error came from writing (or the progress callback) */
};

/* ---- layout.c ---- */

/* The kernel's vma_dump_size(): bytes of @m to dump under @filter; with
 * @all (PSS_LINUX_CORE_ALL) everything whole. */
uint64_t ec_dump_size(const struct ec_map *m, unsigned filter, bool all);
/* Fill c->maps from the snapshot's regions (or the clone's smaps read into
 * c->tmp when @procfd >= 0 and the capture had no VA space), then merge the
 * auxiliary pages: ranges absent from the clone become maps of their own. */
int ec_maps_collect(struct ec_core *c, int procfd);
/* Sort s->aux into c->aux and merge aux ranges into c->maps (needs c->maps). */
int ec_maps_merge_aux(struct ec_core *c);
/* The thread order of the notes: the leader (tid == pid) first, then every
 * other thread with registers.  -ENOENT if none has registers. */
int ec_threads_order(struct ec_core *c);
/* Pass 1: note size, dump sizes, every offset.  Needs maps, threads, auxv,
 * file note and xfeat. */
int ec_layout(struct ec_core *c);
/* Bytes of the ELF header and program headers; fill them into @buf. */
size_t ec_headers_size(const struct ec_core *c);
void ec_headers_fill(const struct ec_core *c, void *buf);
/* The single section header of a PN_XNUM core (c->shoff != 0). */
void ec_shdr_fill(const struct ec_core *c, Elf64_Shdr *sh);
void ec_core_release(struct ec_core *c);

/* ---- notes.c ---- */

/* Called with consecutive pieces of the note segment; 0 or -errno. */
typedef int (*ec_emit_fn)(void *ctx, const void *p, size_t len);
/* Emit every note in the kernel's order (research 4.2). */
int ec_notes_emit(const struct ec_core *c, ec_emit_fn emit, void *ctx);
/* Bytes ec_notes_emit() produces. */
uint64_t ec_notes_size(const struct ec_core *c);
void ec_fill_prstatus(const struct ec_core *c, const struct pss_thread *t, struct elf_prstatus *out);
void ec_fill_prpsinfo(const struct pss_snapshot *s, struct elf_prpsinfo *out);
/* Build c->file_note from the file-backed maps. */
int ec_file_note_build(struct ec_core *c);
/* Fill c->xfeat from CPUID for the XCR0 of @xstate (its bytes 464..471). */
void ec_xfeat_build(struct ec_core *c, const uint8_t *xstate, size_t len);

/* ---- write.c ---- */

/* Pass 2: write the laid-out core to @fd from its current offset. */
int ec_write(struct ec_core *c, int fd,
	     int (*progress)(void *ctx, unsigned long long done, unsigned long long total),
	     void *progress_ctx);

#endif /* PSS_ELFCORE_H */
