// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live tests of pss_linux_write_core() on core-victim: which mappings are
 * dumped (MADV_DONTDUMP, coredump_filter, PSS_LINUX_CORE_ALL), sparse
 * holes in a 64 MiB target, memory as of the snapshot instant while the
 * target rewrites it, a pipe as the output (byte for byte the file's
 * core), auxiliary pages for MADV_DONTFORK and MADV_WIPEONFORK ranges,
 * progress reports and refusals.  The cores are read back with a small ELF
 * reader here.
 */
#include "harness.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define PAGE 4096u
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define CAPTURE_FLAGS (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | \
		       PSS_CAPTURE_THREAD_CONTEXT_EXTENDED | PSS_CAPTURE_VA_SPACE)

struct core {
	uint8_t *p;
	size_t len;
	const Elf64_Phdr *ph;
	size_t phnum;
};

static void core_open(struct core *c, const char *path)
{
	struct stat st;
	const Elf64_Ehdr *eh;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	REQUIRE(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0, "core %s", path);
	c->len = (size_t)st.st_size;
	c->p = mmap(NULL, c->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	REQUIRE(c->p != MAP_FAILED, "mmap core");
	eh = (const Elf64_Ehdr *)c->p;
	REQUIRE(!memcmp(eh->e_ident, ELFMAG, SELFMAG) && eh->e_type == ET_CORE &&
		eh->e_machine == EM_X86_64, "not an x86-64 core");
	c->ph = (const Elf64_Phdr *)(c->p + eh->e_phoff);
	c->phnum = eh->e_phnum;
	REQUIRE(eh->e_phoff + c->phnum * sizeof(Elf64_Phdr) <= c->len, "phdrs");
	REQUIRE(c->ph[0].p_type == PT_NOTE, "PT_NOTE first");
}

static void core_close(struct core *c)
{
	munmap(c->p, c->len);
}

static const Elf64_Phdr *core_load(const struct core *c, uint64_t addr)
{
	for (size_t i = 0; i < c->phnum; i++)
		if (c->ph[i].p_type == PT_LOAD && addr >= c->ph[i].p_vaddr &&
		    addr < c->ph[i].p_vaddr + c->ph[i].p_memsz)
			return &c->ph[i];
	return NULL;
}

/* Copy @len bytes at @addr out of the core, across segments; false if a
 * byte is outside every segment's file part. */
static bool core_read(const struct core *c, uint64_t addr, void *out, size_t len)
{
	uint8_t *o = out;

	while (len) {
		const Elf64_Phdr *p = core_load(c, addr);
		uint64_t n;

		if (!p || addr >= p->p_vaddr + p->p_filesz || p->p_offset + p->p_filesz > c->len)
			return false;
		n = MIN(len, p->p_vaddr + p->p_filesz - addr);
		memcpy(o, c->p + p->p_offset + (addr - p->p_vaddr), n);
		o += n;
		addr += n;
		len -= n;
	}
	return true;
}

/* Does the core hold vp_word(@seed, ...) for @pages pages at @addr (only
 * every @every-th page written, the others zero)? */
static bool core_has_pattern(const struct core *c, uint64_t addr, size_t pages, uint64_t seed,
			     size_t every)
{
	uint64_t *w = malloc(pages * PAGE);
	bool ok = w && core_read(c, addr, w, pages * PAGE);

	if (!ok)
		diag("0x%" PRIx64 " +%zu pages is not in the core", addr, pages);
	for (size_t k = 0; ok && k < pages * PAGE / 8; k++) {
		uint64_t want = (k / (PAGE / 8)) % every ? 0 : vp_word(seed, k);

		if (w[k] != want) {
			diag("word %zu at 0x%" PRIx64 ": 0x%" PRIx64 ", want 0x%" PRIx64, k,
			     addr + k * 8, w[k], want);
			ok = false;
		}
	}
	free(w);
	return ok;
}

struct fix {
	struct target t;
	char dir[64], path[128];
	char reply[256];
};

static void fix_start(struct fix *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/pss-core-XXXXXX");
	REQUIRE(mkdtemp(f->dir), "mkdtemp");
	snprintf(f->path, sizeof(f->path), "%s/core", f->dir);
	REQUIRE(target_start(&f->t, "core-victim", NULL) == 0, "cannot start core-victim");
	victim_idle(&f->t);
}

static void fix_end(struct fix *f)
{
	target_kill(&f->t);
	unlink(f->path);
	rmdir(f->dir);
}

static uint64_t victim_map(struct fix *f, const char *kind, unsigned pages, unsigned seed)
{
	char *r = target_cmdf(&f->t, f->reply, sizeof(f->reply), "map %s %u %u", kind, pages, seed);
	const char *a = strstr(r, "addr=");

	REQUIRE(a, "map %s: %s", kind, r);
	return strtoull(a + 5, NULL, 16);
}

static DWORD write_core(HPSS snap, const char *path, unsigned flags)
{
	struct pss_linux_core_options o = { .sz = sizeof(o), .flags = flags };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	DWORD r;

	REQUIRE(fd >= 0, "open %s", path);
	r = pss_linux_write_core(snap, fd, &o);
	close(fd);
	return r;
}

static HPSS capture(struct fix *f)
{
	victim_idle(&f->t);
	return capture_ok(f->t.pid, CAPTURE_FLAGS, CONTEXT_ALL);
}

TEST(row48_dontdump_and_coredump_filter_honoured_all_dumps_everything)
{
	struct fix f;
	struct core c;
	uint64_t anon, dd, shm;
	HPSS snap;

	REQUIRE_PTRACE();
	fix_start(&f);
	anon = victim_map(&f, "anon", 16, 5);
	dd = victim_map(&f, "dontdump", 16, 6);
	shm = victim_map(&f, "shared", 16, 7);

	/* default filter 0x33: anonymous private and shared, no DONTDUMP */
	snap = capture(&f);
	REQUIRE_ERR(write_core(snap, f.path, 0), ERROR_SUCCESS);
	core_open(&c, f.path);
	CHECK(core_has_pattern(&c, anon, 16, 5, 1), "anonymous memory missing");
	CHECK(core_has_pattern(&c, shm, 16, 7, 1), "shared anonymous memory missing");
	CHECK(core_load(&c, dd) != NULL, "no PT_LOAD for the MADV_DONTDUMP mapping");
	CHECK(core_load(&c, dd) && core_load(&c, dd)->p_filesz == 0, "MADV_DONTDUMP dumped");
	for (size_t i = 1; i < c.phnum; i++)
		CHECK(c.ph[i].p_filesz == 0 || c.ph[i].p_filesz == c.ph[i].p_memsz ||
		      c.ph[i].p_filesz == PAGE, "PT_LOAD %zu: filesz 0x%" PRIx64 " memsz 0x%" PRIx64,
		      i, (uint64_t)c.ph[i].p_filesz, (uint64_t)c.ph[i].p_memsz);
	core_close(&c);
	/* PSS_LINUX_CORE_ALL: DONTDUMP too */
	REQUIRE_ERR(write_core(snap, f.path, PSS_LINUX_CORE_ALL), ERROR_SUCCESS);
	core_open(&c, f.path);
	CHECK(core_has_pattern(&c, dd, 16, 6, 1), "CORE_ALL: MADV_DONTDUMP memory missing");
	CHECK(core_has_pattern(&c, anon, 16, 5, 1), "CORE_ALL: anonymous memory missing");
	for (size_t i = 1; i < c.phnum; i++)
		CHECK_EQ_U64(c.ph[i].p_filesz, c.ph[i].p_memsz);
	core_close(&c);
	free_snap(snap);

	/* bit 0 off: anonymous private memory goes, shared stays */
	target_cmdf(&f.t, f.reply, sizeof(f.reply), "filter 0x32");
	REQUIRE(!strcmp(f.reply, "ok"), "%s", f.reply);
	snap = capture(&f);
	REQUIRE_ERR(write_core(snap, f.path, 0), ERROR_SUCCESS);
	core_open(&c, f.path);
	CHECK(core_load(&c, anon) && core_load(&c, anon)->p_filesz == 0,
	      "anonymous private memory dumped with filter 0x32");
	CHECK(core_has_pattern(&c, shm, 16, 7, 1), "filter 0x32: shared memory missing");
	core_close(&c);
	REQUIRE_ERR(write_core(snap, f.path, PSS_LINUX_CORE_ALL), ERROR_SUCCESS);
	core_open(&c, f.path);
	CHECK(core_has_pattern(&c, anon, 16, 5, 1), "CORE_ALL ignores the filter");
	core_close(&c);
	free_snap(snap);
	fix_end(&f);
}

TEST(large_target_dumps_with_sparse_holes)
{
	struct fix f;
	struct core c;
	struct stat st;
	uint64_t big;
	HPSS snap;

	REQUIRE_PTRACE();
	fix_start(&f);
	big = victim_map(&f, "sparse", 16384, 8);	/* 64 MiB, one page per MiB written */
	snap = capture(&f);
	REQUIRE_ERR(write_core(snap, f.path, 0), ERROR_SUCCESS);
	free_snap(snap);
	REQUIRE(stat(f.path, &st) == 0, "stat");
	core_open(&c, f.path);
	REQUIRE(core_load(&c, big), "no PT_LOAD for the 64 MiB mapping");
	CHECK_GE_U64(core_load(&c, big)->p_filesz, 64ull << 20);
	CHECK(core_has_pattern(&c, big, 16384, 8, 256), "64 MiB mapping content");
	CHECK_GE_U64((uint64_t)st.st_size, 64ull << 20);
	/* 64 written pages of the big mapping plus the rest of a small process */
	CHECK_LE_U64((uint64_t)st.st_blocks * 512, 24ull << 20);
	core_close(&c);
	fix_end(&f);
}

TEST(row50_core_holds_the_snapshot_instant_while_the_target_rewrites)
{
	struct fix f;
	struct core c;
	uint64_t buf, now[8];
	char path[64];
	HPSS snap;
	int fd;

	REQUIRE_PTRACE();
	fix_start(&f);
	target_cmdf(&f.t, f.reply, sizeof(f.reply), "info");
	buf = strtoull(strstr(f.reply, "buffer=") + 7, NULL, 16);
	snap = capture(&f);
	target_cmdf(&f.t, f.reply, sizeof(f.reply), "rewrite 9");
	snprintf(path, sizeof(path), "/proc/%d/mem", f.t.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	REQUIRE(fd >= 0 && pread(fd, now, sizeof(now), (off_t)buf) == sizeof(now), "target mem");
	close(fd);
	CHECK_EQ_HEX(now[0], vp_word(9, 0));
	REQUIRE_ERR(write_core(snap, f.path, 0), ERROR_SUCCESS);
	free_snap(snap);
	core_open(&c, f.path);
	CHECK(core_has_pattern(&c, buf, 1, 1, 1), "the core has not the snapshot's buffer");
	core_close(&c);
	fix_end(&f);
}

struct drain {
	int fd;
	uint8_t *buf;
	size_t len, cap;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	ssize_t n;

	for (;;) {
		if (d->len == d->cap) {
			d->cap = d->cap ? d->cap * 2 : (1 << 20);
			d->buf = realloc(d->buf, d->cap);
			if (!d->buf)
				return NULL;
		}
		n = read(d->fd, d->buf + d->len, d->cap - d->len);
		if (n <= 0)
			return NULL;
		d->len += (size_t)n;
	}
}

TEST(pipe_output_is_the_file_core_byte_for_byte)
{
	struct drain d = { 0 };
	struct fix f;
	struct core c;
	pthread_t th;
	HPSS snap;
	int p[2];

	REQUIRE_PTRACE();
	fix_start(&f);
	victim_map(&f, "sparse", 1024, 3);
	snap = capture(&f);
	REQUIRE_ERR(write_core(snap, f.path, 0), ERROR_SUCCESS);
	REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
	d.fd = p[0];
	REQUIRE(pthread_create(&th, NULL, drain_thread, &d) == 0, "thread");
	CHECK_ERR(pss_linux_write_core(snap, p[1], NULL), ERROR_SUCCESS);
	close(p[1]);
	pthread_join(th, NULL);
	close(p[0]);
	free_snap(snap);
	core_open(&c, f.path);
	CHECK_EQ_U64(d.len, c.len);
	CHECK(d.buf && d.len == c.len && !memcmp(d.buf, c.p, c.len), "pipe core differs");
	core_close(&c);
	free(d.buf);
	fix_end(&f);
}

TEST(aux_pages_fill_dontfork_and_wipeonfork_ranges)
{
	struct fix f;
	struct core c;
	uint64_t df, wf;
	HPSS snap;

	REQUIRE_PTRACE();
	fix_start(&f);
	df = victim_map(&f, "dontfork", 8, 11);
	wf = victim_map(&f, "wipeonfork", 8, 12);
	snap = capture(&f);
	REQUIRE_ERR(write_core(snap, f.path, 0), ERROR_SUCCESS);
	free_snap(snap);
	core_open(&c, f.path);
	CHECK(core_load(&c, df) != NULL, "no PT_LOAD for the MADV_DONTFORK range");
	CHECK(core_has_pattern(&c, df, 8, 11, 1), "MADV_DONTFORK range content");
	CHECK(core_has_pattern(&c, wf, 8, 12, 1), "MADV_WIPEONFORK range content");
	core_close(&c);
	fix_end(&f);
}

struct prog {
	unsigned long long last, total;
	unsigned calls, stop_after;
	bool backwards;
};

static int on_progress(void *ctx, unsigned long long done, unsigned long long total)
{
	struct prog *p = ctx;

	if (done < p->last || (p->total && total != p->total))
		p->backwards = true;
	p->last = done;
	p->total = total;
	return ++p->calls == p->stop_after;
}

TEST(progress_reports_and_refusals)
{
	struct pss_linux_core_options o = { .sz = sizeof(o), .progress = on_progress };
	struct prog pr = { 0 };
	struct fix f;
	struct stat st;
	HPSS snap, plain;
	int fd;

	REQUIRE_PTRACE();
	fix_start(&f);
	snap = capture(&f);
	o.progress_ctx = &pr;
	fd = open(f.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	REQUIRE(fd >= 0, "open");
	CHECK_ERR(pss_linux_write_core(snap, fd, &o), ERROR_SUCCESS);
	REQUIRE(fstat(fd, &st) == 0, "fstat");
	close(fd);
	CHECK(pr.calls >= 2, "%u progress calls", pr.calls);
	CHECK(!pr.backwards, "progress went backwards or changed its total");
	CHECK_EQ_U64(pr.last, (uint64_t)st.st_size);
	CHECK_EQ_U64(pr.total, (uint64_t)st.st_size);
	/* a non-zero return stops the write */
	pr = (struct prog){ .stop_after = 2 };
	fd = open(f.path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CHECK_ERR(pss_linux_write_core(snap, fd, &o), ERROR_GEN_FAILURE);
	CHECK_EQ_INT(pr.calls, 2);
	/* refusals */
	CHECK_ERR(pss_linux_write_core(NULL, fd, NULL), ERROR_INVALID_HANDLE);
	CHECK_ERR(pss_linux_write_core(snap, -1, NULL), ERROR_INVALID_HANDLE);
	o.sz = 4;
	CHECK_ERR(pss_linux_write_core(snap, fd, &o), ERROR_INVALID_PARAMETER);
	o = (struct pss_linux_core_options){ .sz = sizeof(o), .flags = 0x80 };
	CHECK_ERR(pss_linux_write_core(snap, fd, &o), ERROR_INVALID_PARAMETER);
	CHECK_ERR(pss_linux_release_clone(snap), ERROR_SUCCESS);
	CHECK_ERR(pss_linux_write_core(snap, fd, NULL), ERROR_NOT_FOUND);
	free_snap(snap);
	/* no VA clone */
	plain = capture_ok(f.t.pid, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT, CONTEXT_ALL);
	CHECK_ERR(pss_linux_write_core(plain, fd, NULL), ERROR_NOT_FOUND);
	free_snap(plain);
	close(fd);
	fix_end(&f);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
