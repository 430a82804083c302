// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The VA-space facet: one PSS_VA_SPACE_ENTRY per mapping of /proc/PID/smaps
 * (maps when smaps is unreadable) and one MEM_FREE entry per gap, in
 * address order: from 0 to the first mapping, between mappings, and from
 * the last mapping to the end of user space (VA_USER_END); [vsyscall], up in
 * the kernel half, comes after that last gap.  Never stops the target.
 *
 * Mapping rules (design section 3, PssCaptureSnapshot(3)):
 *   State    MEM_RESERVE for PROT_NONE anonymous private maps, else MEM_COMMIT
 *   Type     anonymous private ("", [heap], [stack], [anon:..]) MEM_PRIVATE;
 *            anonymous shared, memfd, /dev/shm, SysV, data files MEM_MAPPED;
 *            private maps of ELF objects (ET_EXEC/ET_DYN) and [vdso] MEM_IMAGE
 *   Protect  rwx + private/shared: a writable private file map is
 *            PAGE_WRITECOPY (PAGE_EXECUTE_WRITECOPY with x)
 *   AllocationBase/AllocationProtect: the first mapping of the file run
 *            (consecutive maps of one dev/inode, starting at offset 0)
 *   names    the path as the file is really called: "\012" and " (deleted)"
 *            are settled with stat (see "mapping names" below); both with and
 *            without section information (pss_linux_query_region)
 *   with section information: MappedFileName (that path), and for
 *            images ImageBase (the run's base), SizeOfImage (the run's span),
 *            CheckSum/TimeDateStamp (the first two 32-bit words of the GNU
 *            build-id, 0 without one).
 *
 * Cost: one streaming pass over smaps in a fixed window, plus one ELF
 * header (and, with section information, the program headers and the
 * build-id note) per distinct private file, cached by (dev, inode), and a
 * few stats per name holding "\012" or " (deleted)" (the last decision
 * reused by runs of one file), so 65k mappings cost linear time.
 */
#include "facets.h"
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- pure mapping rules (facets.h) ---- */

enum va_kind va_classify(const struct proc_map *m, const char *name)
{
	if (strcmp(name, "[vdso]") == 0)
		return VA_VDSO;
	if (name[0] == '[')
		return VA_ANON;		/* [heap] [stack] [anon:x] [anon_shmem:x] [vvar] ... */
	if (name[0] == '\0')
		return m->inode ? VA_FILE : VA_ANON;
	return VA_FILE;
}

DWORD va_protect(unsigned prot, bool shared, bool file)
{
	bool r = prot & PROC_PROT_READ, w = prot & PROC_PROT_WRITE, x = prot & PROC_PROT_EXEC;
	bool cow = file && !shared;

	/* x86 cannot map write-only: w implies r, as on Windows. */
	if (x) {
		if (w)
			return cow ? PAGE_EXECUTE_WRITECOPY : PAGE_EXECUTE_READWRITE;
		return r ? PAGE_EXECUTE_READ : PAGE_EXECUTE;
	}
	if (w)
		return cow ? PAGE_WRITECOPY : PAGE_READWRITE;
	return r ? PAGE_READONLY : PAGE_NOACCESS;
}

DWORD va_state(enum va_kind k, unsigned prot, bool shared)
{
	return k == VA_ANON && !shared && !(prot & 7) ? MEM_RESERVE : MEM_COMMIT;
}

DWORD va_type(enum va_kind k, bool shared, bool is_elf)
{
	switch (k) {
	case VA_VDSO:
		return MEM_IMAGE;
	case VA_ANON:
		return shared ? MEM_MAPPED : MEM_PRIVATE;
	default:
		return !shared && is_elf ? MEM_IMAGE : MEM_MAPPED;
	}
}

bool va_wants_elf_probe(enum va_kind k, const struct proc_map *m)
{
	return k == VA_FILE && !m->shared;
}

void va_builder_init(struct va_builder *b, bool section_info)
{
	memset(b, 0, sizeof(*b));
	b->section_info = section_info;
}

void region_release(struct pss_region *r)
{
	pss_free(r->name16);
	pss_free(r->name);
	r->name16 = NULL;
	r->name = NULL;
}

void va_builder_release(struct va_builder *b)
{
	for (size_t i = 0; i < b->n; i++)
		region_release(&b->r[i]);
	pss_free(b->r);
	b->r = NULL;
	b->n = b->cap = b->nmappings = 0;
}

static struct pss_region *va_push(struct va_builder *b)
{
	if (pss_vec_grow(&b->r, &b->cap, b->n + 1, sizeof(*b->r)))
		return NULL;
	memset(&b->r[b->n], 0, sizeof(*b->r));
	return &b->r[b->n++];
}

static int va_push_gap(struct va_builder *b, uint64_t start, uint64_t end)
{
	struct pss_region *g = va_push(b);

	if (!g)
		return -ENOMEM;
	g->is_gap = true;
	g->e.BaseAddress = (void *)(uintptr_t)start;
	g->e.RegionSize = end - start;
	g->e.State = MEM_FREE;
	g->e.Protect = PAGE_NOACCESS;
	return 0;
}

static void va_set_image(PSS_VA_SPACE_ENTRY *e, uint64_t base, uint64_t end,
			 const struct va_elf_info *elf)
{
	e->ImageBase = (void *)(uintptr_t)base;
	e->SizeOfImage = (DWORD)MIN(end - base, (uint64_t)UINT32_MAX);
	if (elf && elf->have_build_id) {
		e->CheckSum = elf->build_id[0];
		e->TimeDateStamp = elf->build_id[1];
	}
}

/* A run is over: give its image mappings their base, span and build-id. */
static void va_run_close(struct va_builder *b)
{
	struct pss_region *first, *last;

	if (!b->in_run)
		return;
	b->in_run = false;
	first = &b->r[b->run_first];
	last = &b->r[b->run_last];
	if (!b->section_info || first->e.Type != MEM_IMAGE)
		return;
	for (size_t i = b->run_first; i <= b->run_last; i++) {
		struct pss_region *r = &b->r[i];

		if (r->is_gap || r->e.Type != MEM_IMAGE || r->m.inode != b->run_inode ||
		    r->m.dev_major != b->run_major || r->m.dev_minor != b->run_minor)
			continue;
		va_set_image(&r->e, first->m.start, last->m.end, &b->run_elf);
	}
}

/* File maps continue the run of the last file map of the same dev/inode,
 * unless they start the file again at offset 0 (a second mmap of it). */
static bool va_run_continues(const struct va_builder *b, const struct proc_map *m)
{
	return b->in_run && m->offset != 0 && m->inode == b->run_inode &&
	       m->dev_major == b->run_major && m->dev_minor == b->run_minor;
}

static int va_gaps_before(struct va_builder *b, uint64_t start)
{
	int err = 0;

	if (start >= VA_KERNEL_HALF) {
		/* [vsyscall]: close user space first, no gap in the kernel half. */
		if (!b->user_end_done && b->prev_end < VA_USER_END)
			err = va_push_gap(b, b->prev_end, VA_USER_END);
		b->user_end_done = true;
	} else if (start > b->prev_end) {
		err = va_push_gap(b, b->prev_end, start);
	}
	return err;
}

/* The entry fields that depend on the mapping alone. */
static void va_fill_entry(struct pss_region *r, enum va_kind k, const struct va_elf_info *elf)
{
	const struct proc_map *m = &r->m;
	PSS_VA_SPACE_ENTRY *e = &r->e;

	e->BaseAddress = (void *)(uintptr_t)m->start;
	e->RegionSize = m->end - m->start;
	e->State = va_state(k, m->prot, m->shared);
	e->Protect = va_protect(m->prot, m->shared, k == VA_FILE);
	e->Type = va_type(k, m->shared, elf && elf->is_elf);
	e->AllocationBase = e->BaseAddress;
	e->AllocationProtect = e->Protect;
}

static int va_fill_name(struct pss_region *r, enum va_kind k)
{
	int n;

	if (k == VA_ANON || !r->name[0])
		return 0;
	n = utf8_to_utf16(r->name, strlen(r->name), &r->name16);
	if (n < 0)
		return n;
	if (n > 0x7fff) {
		n = 0x7fff;
		r->name16[n] = 0;
	}
	r->e.MappedFileName = r->name16;
	r->e.MappedFileNameLength = (WORD)(n * 2);
	return 0;
}

int va_builder_add(struct va_builder *b, struct pss_region *map, const struct va_elf_info *elf)
{
	const char *name = map->name ? map->name : "";
	enum va_kind k = va_classify(&map->m, name);
	struct pss_region *r;
	int err;

	if (map->m.end <= map->m.start || map->m.start < b->prev_end)
		return -EINVAL;
	err = va_gaps_before(b, map->m.start);
	if (err)
		return err;
	r = va_push(b);
	if (!r)
		return -ENOMEM;
	*r = *map;
	r->is_gap = false;
	r->name16 = NULL;
	map->name = NULL;		/* the builder owns it now */
	if (!r->name) {
		r->name = pss_strdup("");
		if (!r->name) {
			b->n--;
			return -ENOMEM;
		}
	}
	r->m.name.p = r->name;
	r->m.name.len = strlen(r->name);
	b->nmappings++;
	b->prev_end = r->m.end;
	va_fill_entry(r, k, elf);

	if (k == VA_FILE) {
		if (va_run_continues(b, &r->m)) {
			const struct pss_region *first = &b->r[b->run_first];

			r->e.AllocationBase = first->e.BaseAddress;
			r->e.AllocationProtect = first->e.Protect;
		} else {
			va_run_close(b);
			b->in_run = true;
			b->run_first = b->n - 1;
			b->run_major = r->m.dev_major;
			b->run_minor = r->m.dev_minor;
			b->run_inode = r->m.inode;
			b->run_elf = elf ? *elf : (struct va_elf_info){ 0 };
		}
		b->run_last = b->n - 1;
	} else if (k == VA_VDSO && b->section_info) {
		va_set_image(&r->e, r->m.start, r->m.end, elf);
	}
	if (b->section_info)
		return va_fill_name(r, k);
	return 0;
}

int va_builder_finish(struct va_builder *b)
{
	va_run_close(b);
	/* No mappings: a kernel thread or a zombie has no address space. */
	if (!b->nmappings || b->user_end_done || b->prev_end >= VA_USER_END)
		return 0;
	b->user_end_done = true;
	return va_push_gap(b, b->prev_end, VA_USER_END);
}

/* ---- ELF probing ---- */

/* Where the bytes of an ELF object come from: its file, or the target's
 * memory at the object's load base. */
struct elf_src {
	int fd;
	bool mem;
	uint64_t base;		/* mem: address of file offset 0 */
};

static bool src_read(const struct elf_src *src, uint64_t off, void *buf, size_t len)
{
	uint64_t at = src->mem ? src->base + off : off;
	ssize_t r;

	if (at > INT64_MAX - len)
		return false;
	do
		r = pread(src->fd, buf, len, (off_t)at);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)len;
}

/* The program headers that matter, in one shape for both classes. */
struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, filesz, align;
};

#define ELF_MAX_PHNUM 512
#define ELF_MAX_NOTE (64u << 10)

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Find NT_GNU_BUILD_ID "GNU" in one note segment's bytes. */
static bool note_build_id(const unsigned char *p, size_t len, size_t align, uint32_t ret[2])
{
	size_t off = 0;

	while (off + 12 <= len) {
		uint32_t namesz, descsz, type;
		size_t desc;

		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		desc = off + 12 + align_up(namesz, align);
		if (namesz > len || descsz > len || desc > len || desc + descsz > len)
			return false;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(p + off + 12, "GNU", 4)) {
			unsigned char id[8] = { 0 };

			memcpy(id, p + desc, MIN(descsz, sizeof(id)));
			memcpy(&ret[0], id, 4);
			memcpy(&ret[1], id + 4, 4);
			return true;
		}
		off = desc + align_up(descsz, align);
	}
	return false;
}

static bool elf_read_phdrs(const struct elf_src *src, const unsigned char *eh, struct elf_phdr *ph,
			   unsigned *ret_n)
{
	bool is64 = eh[EI_CLASS] == ELFCLASS64;
	uint64_t phoff;
	unsigned phnum, phentsize;
	unsigned char *raw;
	bool ok;

	if (is64) {
		Elf64_Ehdr e;	/* copied: eh is a byte buffer, maybe unaligned */

		memcpy(&e, eh, sizeof(e));
		phoff = e.e_phoff, phnum = e.e_phnum, phentsize = e.e_phentsize;
		if (phentsize != sizeof(Elf64_Phdr))
			return false;
	} else {
		Elf32_Ehdr e;

		memcpy(&e, eh, sizeof(e));
		phoff = e.e_phoff, phnum = e.e_phnum, phentsize = e.e_phentsize;
		if (phentsize != sizeof(Elf32_Phdr))
			return false;
	}
	if (!phnum || phnum > ELF_MAX_PHNUM)
		return false;
	raw = pss_malloc((size_t)phnum * phentsize);
	if (!raw)
		return false;
	ok = src_read(src, phoff, raw, (size_t)phnum * phentsize);
	for (unsigned i = 0; ok && i < phnum; i++) {
		if (is64) {
			Elf64_Phdr p;

			memcpy(&p, raw + (size_t)i * phentsize, sizeof(p));
			ph[i] = (struct elf_phdr){ p.p_type, p.p_offset, p.p_vaddr, p.p_filesz, p.p_align };
		} else {
			Elf32_Phdr p;

			memcpy(&p, raw + (size_t)i * phentsize, sizeof(p));
			ph[i] = (struct elf_phdr){ p.p_type, p.p_offset, p.p_vaddr, p.p_filesz, p.p_align };
		}
	}
	pss_free(raw);
	*ret_n = phnum;
	return ok;
}

/*
 * The build-id through the program headers: PT_NOTE segments, read from
 * the file at p_offset, or from memory at the load bias + p_vaddr.
 */
static void elf_build_id(const struct elf_src *src, const unsigned char *eh,
			 struct va_elf_info *ret)
{
	struct elf_phdr *ph;
	uint64_t first_load = UINT64_MAX;
	unsigned n = 0;

	ph = pss_calloc(ELF_MAX_PHNUM, sizeof(*ph));
	if (!ph)
		return;
	if (!elf_read_phdrs(src, eh, ph, &n))
		goto out_free;
	for (unsigned i = 0; i < n; i++)
		if (ph[i].type == PT_LOAD && first_load == UINT64_MAX)
			first_load = ph[i].vaddr & ~0xfffull;
	for (unsigned i = 0; i < n && !ret->have_build_id; i++) {
		unsigned char *note;
		uint64_t off;

		if (ph[i].type != PT_NOTE || !ph[i].filesz || ph[i].filesz > ELF_MAX_NOTE)
			continue;
		if (src->mem && first_load == UINT64_MAX)
			break;
		/* In memory the note sits at bias + p_vaddr; src_read adds base. */
		off = src->mem ? ph[i].vaddr - first_load : ph[i].offset;
		note = pss_malloc(ph[i].filesz);
		if (!note)
			break;
		if (src_read(src, off, note, ph[i].filesz))
			ret->have_build_id = note_build_id(note, ph[i].filesz, ph[i].align == 8 ? 8 : 4,
							   ret->build_id);
		pss_free(note);
	}
out_free:
	pss_free(ph);
}

/* Is src an ELF executable or shared object?  And its build-id if asked.
 * Returns false only when the header could not be read. */
static bool elf_inspect(const struct elf_src *src, bool want_build_id, struct va_elf_info *ret)
{
	unsigned char eh[64];
	uint16_t type;

	if (!src_read(src, 0, eh, sizeof(eh)))
		return false;
	if (memcmp(eh, ELFMAG, SELFMAG) ||
	    (eh[EI_CLASS] != ELFCLASS64 && eh[EI_CLASS] != ELFCLASS32) || eh[EI_DATA] != ELFDATA2LSB)
		return true;		/* read, and not ELF */
	memcpy(&type, eh + 16, 2);	/* e_type: same offset in both classes */
	if (type != ET_EXEC && type != ET_DYN)
		return true;		/* an ELF file, but not a loadable object */
	ret->is_elf = true;
	if (want_build_id)
		elf_build_id(src, eh, ret);
	return true;
}

/* One capture's state. */
struct va_ctx {
	int procfd;
	int memfd;		/* /proc/PID/mem, opened on first need; -1 */
	bool mem_tried;
	bool section_info;
	/* ELF results by (dev, inode): open addressing, at most half full */
	struct elf_cache_ent {
		uint64_t inode;
		uint32_t major, minor;
		bool used;
		struct va_elf_info info;
	} *cache;
	size_t cache_cap, cache_n;
	/* name decisions (va_name_decide): a scratch path, and the last
	 * decision with the raw text and dev/inode it was made for */
	char *path;		/* VA_PATH_CAP bytes, allocated on first need */
	char *memo_raw;		/* VA_PATH_CAP bytes with path */
	size_t memo_len;
	bool memo_valid, memo_deleted;
	uint32_t memo_major, memo_minor;
	uint64_t memo_inode;
	struct va_name_choice {
		uint64_t mask;		/* which "\012" escapes are newlines */
		bool all;		/* every one of them */
		bool keep_suffix;	/* " (deleted)" is part of a live file's name */
	} memo;
};

static size_t cache_slot(const struct va_ctx *c, uint32_t major, uint32_t minor, uint64_t inode)
{
	uint64_t dev = (uint64_t)major << 32 | minor;
	uint64_t h = inode * 0x9e3779b97f4a7c15ull ^ dev * 0xc2b2ae3d27d4eb4full;
	size_t i = (size_t)(h ^ h >> 29) & (c->cache_cap - 1);

	while (c->cache[i].used && (c->cache[i].inode != inode || c->cache[i].major != major ||
				    c->cache[i].minor != minor))
		i = (i + 1) & (c->cache_cap - 1);
	return i;
}

static int cache_grow(struct va_ctx *c)
{
	struct elf_cache_ent *old = c->cache;
	size_t oldcap = c->cache_cap, cap = oldcap ? oldcap * 2 : 256;

	c->cache = pss_calloc(cap, sizeof(*c->cache));
	if (!c->cache) {
		c->cache = old;
		return -ENOMEM;
	}
	c->cache_cap = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used)
			c->cache[cache_slot(c, old[i].major, old[i].minor, old[i].inode)] = old[i];
	pss_free(old);
	return 0;
}

static int mem_fd(struct va_ctx *c)
{
	if (!c->mem_tried) {
		c->mem_tried = true;
		c->memfd = openat(c->procfd, "mem", O_RDONLY | O_CLOEXEC);
	}
	return c->memfd;
}

static bool stat_matches(const struct stat *st, const struct proc_map *m)
{
	return S_ISREG(st->st_mode) && st->st_ino == m->inode && major(st->st_dev) == m->dev_major &&
	       minor(st->st_dev) == m->dev_minor;
}

/* Open the file of mapping m, trying map_files then the path. */
static int va_open_mapped(struct va_ctx *c, const struct pss_region *map, bool *ret_not_regular)
{
	const struct proc_map *m = &map->m;
	const int oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	char path[64];
	struct stat st;
	int fd;

	*ret_not_regular = false;
	/* map_files/START-END is the mapping's own file, even unlinked (needs
	 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE).  stat first: a device map
	 * must not be opened (opening a device can have side effects). */
	snprintf(path, sizeof(path), "map_files/%" PRIx64 "-%" PRIx64, m->start, m->end);
	if (fstatat(c->procfd, path, &st, 0) == 0) {
		if (!S_ISREG(st.st_mode)) {
			*ret_not_regular = true;
			return -1;
		}
		fd = openat(c->procfd, path, oflags);
		if (fd >= 0)
			return fd;
	}
	/* The path is in the target's mount namespace: trust it only when
	 * dev and inode match the mapping. */
	if (map->name[0] != '/' || m->deleted || stat(map->name, &st))
		return -1;
	if (!S_ISREG(st.st_mode) && st.st_ino == m->inode) {
		*ret_not_regular = true;
		return -1;
	}
	if (!stat_matches(&st, m))
		return -1;
	fd = open(map->name, oflags);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !stat_matches(&st, m)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the ELF identity of the file behind map (its first mapping seen). */
static void va_probe(struct va_ctx *c, const struct pss_region *map, struct va_elf_info *ret)
{
	const uint64_t no_read = PSS_LINUX_VM_IO | PSS_LINUX_VM_PFNMAP | PSS_LINUX_VM_MIXEDMAP;
	struct elf_src src = { .fd = -1 };
	bool not_regular;

	memset(ret, 0, sizeof(*ret));
	src.fd = va_open_mapped(c, map, &not_regular);
	if (src.fd >= 0) {
		bool ok = elf_inspect(&src, c->section_info, ret);

		close(src.fd);
		if (ok)
			return;
	}
	if (not_regular)
		return;
	/* Last resort: the target's memory, if this map holds file offset 0.
	 * Never VM_IO/PFNMAP/MIXEDMAP memory: reading it can reach a driver
	 * or device registers. */
	if (map->m.offset != 0 || (map->smaps.have_vmflags && (map->smaps.vmflags & no_read)))
		return;
	src.fd = mem_fd(c);
	src.mem = true;
	src.base = map->m.start;
	if (src.fd >= 0)
		elf_inspect(&src, c->section_info, ret);
}

/* The ELF result for map's file, from the cache or a probe. */
static int va_elf_lookup(struct va_ctx *c, const struct pss_region *map, struct va_elf_info *ret)
{
	const struct proc_map *m = &map->m;
	size_t i;
	int err;

	if ((c->cache_n + 1) * 2 > c->cache_cap) {
		err = cache_grow(c);
		if (err)
			return err;
	}
	i = cache_slot(c, m->dev_major, m->dev_minor, m->inode);
	if (!c->cache[i].used) {
		c->cache[i].used = true;
		c->cache[i].inode = m->inode;
		c->cache[i].major = m->dev_major;
		c->cache[i].minor = m->dev_minor;
		va_probe(c, map, &c->cache[i].info);
		c->cache_n++;
	}
	*ret = c->cache[i].info;
	return 0;
}

/* ---- mapping names ---- */

/*
 * The kernel prints a '\n' of a path as "\012" but a backslash as it is,
 * and appends " (deleted)" to an unlinked file, so "a\012b (deleted)" may
 * be any of four files.  A candidate is the name when it stats to the
 * mapping's dev/inode, in the target's root (/proc/PID/root) or else in
 * ours.  Only a name with an escape or the suffix costs a stat, and runs
 * of mappings of one file reuse the last decision.
 */
static const char va_deleted[] = " (deleted)";
#define VA_DELETED_LEN (sizeof(va_deleted) - 1)
#define VA_PATH_CAP (PATH_MAX + 8)
#define VA_MIX_ESCAPES 4	/* every mix of up to 4 escapes is tried */

static bool stat_is_map(const struct stat *st, const struct proc_map *m)
{
	return st->st_ino == m->inode && major(st->st_dev) == m->dev_major &&
	       minor(st->st_dev) == m->dev_minor;
}

/* Does @path, an absolute path at c->path + 4, name the file of mapping @m? */
static bool va_path_is_map(struct va_ctx *c, const char *path, const struct proc_map *m)
{
	struct stat st;

	memcpy(c->path, "root", 4);	/* "root/..." under /proc/PID */
	if (fstatat(c->procfd, c->path, &st, 0) == 0 && stat_is_map(&st, m))
		return true;
	return stat(path, &st) == 0 && stat_is_map(&st, m);
}

/* Try the candidates of @text: as printed, every escape a newline, then
 * (up to VA_MIX_ESCAPES escapes) each mix; true with @ret set on a hit. */
static bool va_name_try(struct va_ctx *c, const struct proc_map *m, struct proc_str text,
			struct va_name_choice *ret)
{
	unsigned k = proc_map_name_escapes(text);
	uint64_t n = k == 0 ? 1 : k <= VA_MIX_ESCAPES ? 1ull << k : 2;
	char *path = c->path + 4;	/* after "root" */
	size_t len;

	if (text.len > PATH_MAX)
		return false;
	for (uint64_t i = 0; i < n; i++) {
		struct va_name_choice ch = { .mask = i >= 2 ? i - 1 : 0, .all = i == 1 };

		len = ch.all ? proc_map_name_unescape(text, path, text.len)
			     : proc_map_name_variant(text, ch.mask, path, text.len);
		path[len] = '\0';
		if (va_path_is_map(c, path, m)) {
			*ret = ch;
			return true;
		}
	}
	return false;
}

/*
 * Decide what the maps text of @m names: *@ret says which escapes to undo
 * and whether " (deleted)" belongs to the name.  First the names that keep
 * the suffix (a live file really so called), then those without it.  No
 * candidate matching (the file is gone, or out of our sight): the text as
 * the kernel printed it, deleted as it said.
 */
static int va_name_decide(struct va_ctx *c, const struct proc_map *m, struct va_name_choice *ret)
{
	struct proc_str text = m->name;

	*ret = (struct va_name_choice){ 0 };
	if (!m->inode || !text.len || text.p[0] != '/' || text.len + VA_DELETED_LEN > PATH_MAX)
		return 0;
	if (!c->path) {
		c->path = pss_malloc(2 * VA_PATH_CAP);
		if (!c->path)
			return -ENOMEM;
		c->memo_raw = c->path + VA_PATH_CAP;
	}
	if (c->memo_valid && c->memo_inode == m->inode && c->memo_major == m->dev_major &&
	    c->memo_minor == m->dev_minor && c->memo_deleted == m->deleted &&
	    c->memo_len == text.len && !memcmp(c->memo_raw, text.p, text.len)) {
		*ret = c->memo;
		return 0;
	}
	if (m->deleted) {
		/* the suffix as text: copy it after the name */
		memcpy(c->memo_raw, text.p, text.len);
		memcpy(c->memo_raw + text.len, va_deleted, VA_DELETED_LEN);
		if (va_name_try(c, m, (struct proc_str){ c->memo_raw, text.len + VA_DELETED_LEN }, ret))
			ret->keep_suffix = true;
	}
	if (!ret->keep_suffix && proc_map_name_escapes(text))
		va_name_try(c, m, text, ret);
	memcpy(c->memo_raw, text.p, text.len);
	c->memo_len = text.len;
	c->memo_deleted = m->deleted;
	c->memo_inode = m->inode;
	c->memo_major = m->dev_major;
	c->memo_minor = m->dev_minor;
	c->memo = *ret;
	c->memo_valid = true;
	return 0;
}

/* The name of mapping @m, decided, into @reg (name and m.name, m.deleted). */
static int va_name_set(struct va_ctx *c, const struct proc_map *m, struct pss_region *reg)
{
	struct va_name_choice ch = { 0 };
	struct proc_str text = m->name;
	size_t n;
	int err;

	if (m->deleted || (text.len >= 4 && memmem(text.p, text.len, "\\012", 4))) {
		err = va_name_decide(c, m, &ch);
		if (err)
			return err;
	}
	reg->name = pss_malloc(text.len + VA_DELETED_LEN + 1);
	if (!reg->name)
		return -ENOMEM;
	if (ch.keep_suffix) {
		memcpy(reg->name, text.p, text.len);
		memcpy(reg->name + text.len, va_deleted, VA_DELETED_LEN);
		text = (struct proc_str){ reg->name, text.len + VA_DELETED_LEN };
		reg->m.deleted = false;
	}
	/* in place is safe: the output never runs ahead of the input */
	n = ch.all ? proc_map_name_unescape(text, reg->name, text.len)
		   : proc_map_name_variant(text, ch.mask, reg->name, text.len);
	reg->name[n] = '\0';
	reg->m.name.p = reg->name;
	reg->m.name.len = n;
	return 0;
}

/* ---- reading smaps in a window ---- */

#define VA_WINDOW (1u << 20)

/*
 * Where the text in [0, len) can be cut so that everything before is
 * whole entries: the start of the last header line.  Header lines begin
 * with a lowercase hex address; smaps field lines with a capital letter.
 */
static size_t last_entry_start(const char *buf, size_t len)
{
	for (size_t i = len; i > 0; i--) {
		if (buf[i - 1] != '\n' || i == len)
			continue;
		if ((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f'))
			return i;
	}
	return 0;
}

struct va_input {
	int fd;
	bool smaps;
	char *buf;
	size_t len;
	bool eof;
};

/* Make the window hold more text; false at the end of the file. */
static int va_fill(struct va_input *in)
{
	ssize_t r;

	while (!in->eof && in->len < VA_WINDOW) {
		r = read(in->fd, in->buf + in->len, VA_WINDOW - in->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ESRCH ? -ESRCH : -errno;
		if (r == 0)
			in->eof = true;
		in->len += (size_t)r;
	}
	return 0;
}

static int va_add_one(struct va_ctx *c, struct va_builder *b, const struct proc_map *m,
		      const struct proc_smaps *sm)
{
	struct pss_region reg = { .m = *m };
	struct va_elf_info elf = { 0 }, *elfp = NULL;
	enum va_kind k;
	int err;

	if (sm)
		reg.smaps = *sm;
	err = va_name_set(c, m, &reg);
	if (err)
		return err;
	k = va_classify(&reg.m, reg.name);
	if (va_wants_elf_probe(k, &reg.m)) {
		err = va_elf_lookup(c, &reg, &elf);
		if (err)
			goto out_free;
		elfp = &elf;
	} else if (k == VA_VDSO && c->section_info) {
		struct elf_src src = { .fd = mem_fd(c), .mem = true, .base = m->start };

		if (src.fd >= 0)
			elf_inspect(&src, true, &elf);
		elfp = &elf;
	}
	err = va_builder_add(b, &reg, elfp);
	if (err == -EINVAL) {
		/* smaps is read in pieces while the map changes: a mapping
		 * that overlaps the previous one is from after a change. */
		pr_debug("vaspace: mapping %" PRIx64 "-%" PRIx64 " out of order, skipped", m->start, m->end);
		err = 0;
	}
out_free:
	pss_free(reg.name);	/* NULL if the builder took it */
	return err;
}

/* Parse the whole entries of the window, keep the partial tail. */
static int va_parse_window(struct va_ctx *c, struct va_builder *b, struct va_input *in)
{
	struct proc_maps_iter it;
	struct proc_map m;
	struct proc_smaps sm;
	size_t cut = in->eof ? in->len : last_entry_start(in->buf, in->len);
	int r;

	proc_maps_iter_init(&it, in->buf, cut);
	for (;;) {
		memset(&sm, 0, sizeof(sm));
		r = in->smaps ? proc_smaps_next(&it, &m, &sm) : proc_maps_next(&it, &m);
		if (r == -ENOENT)
			break;
		if (r == -EINVAL)
			continue;
		if (r)
			return r;
		r = va_add_one(c, b, &m, in->smaps ? &sm : NULL);
		if (r)
			return r;
	}
	memmove(in->buf, in->buf + cut, in->len - cut);
	in->len -= cut;
	return 0;
}

static int va_read(struct va_ctx *c, struct va_builder *b)
{
	struct va_input in = { .smaps = true };
	int err;

	in.fd = openat(c->procfd, "smaps", O_RDONLY | O_CLOEXEC);
	if (in.fd < 0) {
		in.smaps = false;
		in.fd = openat(c->procfd, "maps", O_RDONLY | O_CLOEXEC);
		if (in.fd < 0)
			return errno == ENOENT ? -ESRCH : -errno;
	}
	in.buf = pss_malloc(VA_WINDOW);
	if (!in.buf) {
		err = -ENOMEM;
		goto out_close;
	}
	do {
		err = va_fill(&in);
		if (err)
			break;
		/* A window without a whole entry cannot happen (entries are
		 * about 1 KiB); treat it as the end rather than loop. */
		if (!in.eof && last_entry_start(in.buf, in.len) == 0)
			in.eof = true;
		err = va_parse_window(c, b, &in);
	} while (!err && !in.eof);
	pss_free(in.buf);
out_close:
	close(in.fd);
	return err;
}

/*
 * Fill s->regions from /proc/PID/smaps (procfd is /proc/PID, of the target
 * or of its VA clone).  With section_info, file names and image data too.
 * Returns 0 or -errno (-ESRCH: the process is gone, -EACCES, -ENOMEM); s is
 * untouched on failure.
 */
int vaspace_collect(struct pss_snapshot *s, int procfd, bool section_info)
{
	struct va_ctx c = { .procfd = procfd, .memfd = -1, .section_info = section_info };
	struct va_builder b;
	int err;

	va_builder_init(&b, section_info);
	err = va_read(&c, &b);
	if (!err)
		err = va_builder_finish(&b);
	if (c.memfd >= 0)
		close(c.memfd);
	pss_free(c.cache);
	pss_free(c.path);
	if (err) {
		va_builder_release(&b);
		return err;
	}
	s->regions = b.r;
	s->nregions = b.n;
	s->nmappings = b.nmappings;
	s->have_vaspace = true;
	return 0;
}
