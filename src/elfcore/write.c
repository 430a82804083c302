// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Pass 2 of the core writer, and pss_linux_write_core().
 *
 * The output is written strictly in order from the fd's current offset:
 * headers, notes, padding, then each PT_LOAD's bytes.  Memory is streamed
 * from /proc/CLONE/mem (never process_vm_readv: the clone is stopped under
 * our tracer, and /proc/PID/mem also reads PROT_NONE pages the way the
 * kernel's dumper does, with FOLL_FORCE) in chunks of EC_CHUNK bytes, so
 * a core of any size costs one buffer.  All-zero and unreadable pages are
 * holes: skipped with lseek on a seekable fd, written as zeros on a pipe;
 * a core ending in a hole gets its last byte written so that its size is
 * right.  VM_IO/VM_PFNMAP mappings ([vvar]) are never read: the kernel
 * cannot pin their pages either and writes them as zeros.
 *
 * Unreadable pages of ordinary mappings (a file truncated under a mapping,
 * a clone released by another thread) are counted: the core stays
 * complete, with zeros, and the call returns ERROR_PARTIAL_COPY.
 */
#include "elfcore/elfcore.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define EC_CHUNK (1u << 20)	/* bytes of memory read at once */
#define EC_OUTBUF (64u << 10)	/* small writes (headers, notes) are gathered */

static const uint8_t zero_page[EC_PAGE];

struct ec_out {
	int fd;
	bool seekable;			/* holes by lseek; else zeros */
	uint64_t pos;			/* bytes of the core produced, holes included */
	uint64_t skip;			/* a hole not yet applied */
	uint8_t *buf;			/* EC_OUTBUF bytes */
	size_t len;
};

static int out_raw(struct ec_out *o, const void *p, size_t len)
{
	const uint8_t *q = p;
	ssize_t n;

	while (len) {
		n = write(o->fd, q, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		q += n;
		len -= (size_t)n;
	}
	return 0;
}

static int out_flush(struct ec_out *o)
{
	int err = o->len ? out_raw(o, o->buf, o->len) : 0;

	o->len = 0;
	return err;
}

/* Apply a pending hole, keeping @keep bytes of it to be written as zeros. */
static int out_skip_now(struct ec_out *o, uint64_t keep)
{
	uint64_t n = o->skip - keep;
	int err;

	if (!o->skip)
		return 0;
	err = out_flush(o);
	if (err)
		return err;
	if (o->seekable && n) {
		if (lseek(o->fd, (off_t)n, SEEK_CUR) < 0)
			return -errno;
	} else {
		keep = o->skip;
	}
	while (keep) {
		size_t k = (size_t)MIN(keep, (uint64_t)EC_PAGE);

		err = out_raw(o, zero_page, k);
		if (err)
			return err;
		keep -= k;
	}
	o->skip = 0;
	return 0;
}

static int out_write(struct ec_out *o, const void *p, size_t len)
{
	int err = out_skip_now(o, 0);

	if (err)
		return err;
	o->pos += len;
	if (len >= EC_OUTBUF / 2) {
		err = out_flush(o);
		return err ? err : out_raw(o, p, len);
	}
	if (o->len + len > EC_OUTBUF) {
		err = out_flush(o);
		if (err)
			return err;
	}
	memcpy(o->buf + o->len, p, len);
	o->len += len;
	return 0;
}

static void out_hole(struct ec_out *o, uint64_t len)
{
	o->skip += len;
	o->pos += len;
}

/* The end: a trailing hole must still make the file that long. */
static int out_finish(struct ec_out *o)
{
	int err = out_skip_now(o, o->skip ? 1 : 0);

	return err ? err : out_flush(o);
}

static int emit_out(void *ctx, const void *p, size_t len)
{
	return out_write(ctx, p, len);
}

/* Read @len bytes of the clone at @addr; 0 or -errno.  Addresses in the
 * kernel half ([vsyscall]) are beyond pread's signed offsets: /proc/PID/mem
 * takes them through lseek. */
static int mem_read(int fd, void *buf, size_t len, uint64_t addr)
{
	ssize_t n;

	if (addr >= (1ull << 63)) {
		if (lseek(fd, (off_t)addr, SEEK_SET) == (off_t)-1)
			return -errno;
		n = read(fd, buf, len);
	} else {
		n = pread(fd, buf, len, (off_t)addr);
	}
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static const struct pss_auxpage *aux_find(const struct ec_core *c, uint64_t addr)
{
	size_t lo = 0, hi = c->naux;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t a = (uintptr_t)c->aux[mid]->e.Address;

		if (addr < a)
			hi = mid;
		else if (addr > a)
			lo = mid + 1;
		else
			return c->aux[mid];
	}
	return NULL;
}

/* Fill @buf with the @len bytes of @m at @addr as the snapshot saw them. */
static void chunk_read(struct ec_core *c, const struct ec_map *m, uint64_t addr, uint8_t *buf,
		       size_t len)
{
	const struct pss_auxpage *a;
	size_t off;

	if (m->aux_only || mem_read(c->mem_fd, buf, len, addr)) {
		/* Page by page: keep what is readable, zeros for the rest. */
		for (off = 0; off < len; off += EC_PAGE) {
			size_t k = (size_t)MIN((uint64_t)len - off, EC_PAGE);

			if (!m->aux_only && !mem_read(c->mem_fd, buf + off, k, addr + off))
				continue;
			memset(buf + off, 0, k);
			/* The gate page and special mappings may be unreadable
			 * for the kernel too; that is no loss. */
			if (!m->special && !(m->aux && aux_find(c, addr + off)))
				c->bad_pages++;
		}
	}
	if (!m->aux)
		return;
	for (off = 0; off < len; off += EC_PAGE) {
		a = aux_find(c, addr + off);
		if (a)
			memcpy(buf + off, a->data, (size_t)MIN((uint64_t)len - off, EC_PAGE));
	}
}

/* Write a chunk: runs of pages with data, holes for all-zero pages. */
static int chunk_write(struct ec_out *o, const uint8_t *buf, size_t len)
{
	size_t off = 0, run = 0;
	int err;

	while (off < len) {
		size_t k = (size_t)MIN((uint64_t)len - off, EC_PAGE);
		bool zero = !memcmp(buf + off, zero_page, k);

		if (zero) {
			if (off > run) {
				err = out_write(o, buf + run, off - run);
				if (err)
					return err;
			}
			out_hole(o, k);
			run = off + k;
		}
		off += k;
	}
	return len > run ? out_write(o, buf + run, len - run) : 0;
}

struct ec_progress {
	int (*fn)(void *ctx, unsigned long long done, unsigned long long total);
	void *ctx;
};

static int progress_report(const struct ec_progress *p, const struct ec_out *o, uint64_t total)
{
	if (p->fn && p->fn(p->ctx, o->pos, total))
		return -ECANCELED;
	return 0;
}

static int dump_map(struct ec_core *c, struct ec_out *o, const struct ec_map *m, uint8_t *buf,
		    const struct ec_progress *p)
{
	uint64_t addr = m->start, end = m->start + m->filesz;
	int err;

	while (addr < end) {
		size_t n = (size_t)MIN(end - addr, (uint64_t)EC_CHUNK);

		if (m->no_read) {
			out_hole(o, n);
		} else {
			chunk_read(c, m, addr, buf, n);
			err = chunk_write(o, buf, n);
			if (err) {
				c->out_failed = true;
				return err;
			}
		}
		addr += n;
		err = progress_report(p, o, c->total);
		if (err) {
			c->out_failed = true;
			return err;
		}
	}
	return 0;
}

int ec_write(struct ec_core *c, int fd,
	     int (*progress)(void *ctx, unsigned long long done, unsigned long long total),
	     void *progress_ctx)
{
	struct ec_progress p = { progress, progress_ctx };
	struct ec_out o = { .fd = fd };
	uint8_t *buf, *hdr = NULL;
	Elf64_Shdr sh;
	size_t i;
	int err;

	o.seekable = lseek(fd, 0, SEEK_CUR) >= 0 && !(fcntl(fd, F_GETFL) & O_APPEND);
	buf = pss_malloc(EC_CHUNK + EC_OUTBUF);
	if (!buf)
		return -ENOMEM;
	o.buf = buf + EC_CHUNK;
	c->out_failed = true;	/* until memory streaming starts */
	err = progress_report(&p, &o, c->total);
	if (err)
		goto out_free;
	hdr = pss_malloc(ec_headers_size(c));
	if (!hdr) {
		err = -ENOMEM;
		c->out_failed = false;
		goto out_free;
	}
	ec_headers_fill(c, hdr);
	err = out_write(&o, hdr, ec_headers_size(c));
	if (!err)
		err = ec_notes_emit(c, emit_out, &o);
	if (err)
		goto out_free;
	out_hole(&o, c->data_off - o.pos);
	c->out_failed = false;
	for (i = 0; !err && i < c->nmaps; i++)
		if (c->maps[i].filesz)
			err = dump_map(c, &o, &c->maps[i], buf, &p);
	if (err)
		goto out_free;
	c->out_failed = true;
	if (c->shoff) {
		ec_shdr_fill(c, &sh);
		err = out_write(&o, &sh, sizeof(sh));
	}
	if (!err)
		err = out_finish(&o);
	if (!err)
		err = progress_report(&p, &o, c->total);
	if (!err)
		c->out_failed = false;
out_free:
	pss_free(hdr);
	pss_free(buf);
	return err;
}

/* ---- from a snapshot ---- */

/* Does the first page of @m hold an ELF header, or is its file executable?
 * (vma_dump_size(): the first page of such mappings is dumped.) */
static void probe_elf_heads(struct ec_core *c)
{
	struct stat st;
	uint8_t magic[SELFMAG];
	size_t i;

	for (i = 0; i < c->nmaps; i++) {
		struct ec_map *m = &c->maps[i];

		if (!m->file || m->pgoff || !(m->prot & PROC_PROT_READ) || m->no_read)
			continue;
		if (!mem_read(c->mem_fd, magic, sizeof(magic), m->start) &&
		    !memcmp(magic, ELFMAG, SELFMAG))
			m->elf_head = true;
		else if (m->name[0] == '/' && !m->deleted && !stat(m->name, &st) &&
			 (st.st_mode & 0111))
			m->elf_head = true;
	}
}

static unsigned read_filter(const struct pss_snapshot *s, int dirfd)
{
	uint64_t v;
	size_t len;
	char *buf;

	/* The clone inherited the filter with the mm at the snapshot instant. */
	if (!read_fileat(dirfd, "coredump_filter", &buf, &len)) {
		int err = proc_hex_u64_parse(buf, len, &v);

		pss_free(buf);
		if (!err)
			return (unsigned)v;
	}
	return s->li.coredump_filter;
}

/* Open the clone's /proc directory and mem, and make sure they are the
 * clone's: its pidfd still alive after the open means the pid was not
 * reused (a released clone is reaped, and its pidfd then reports it). */
static int clone_open(const struct pss_snapshot *s, int *ret_dir, int *ret_mem)
{
	pid_t clone = __atomic_load_n(&s->clone_pid, __ATOMIC_ACQUIRE);
	char path[32];
	int dir, mem;

	if (clone <= 0 || s->clone_pidfd < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/proc/%d", (int)clone);
	dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -ENOENT;
	mem = openat(dir, "mem", O_RDONLY | O_CLOEXEC);
	if (mem < 0 || !pidfd_alive(s->clone_pidfd)) {
		if (mem >= 0)
			close(mem);
		close(dir);
		return -ENOENT;
	}
	*ret_dir = dir;
	*ret_mem = mem;
	return 0;
}

static int core_write(const struct pss_snapshot *s, int fd, unsigned flags,
		      const struct pss_linux_core_options *opts, bool *ret_out_failed)
{
	struct ec_core c = { .s = s, .flags = flags, .mem_fd = -1 };
	const struct pss_thread *t0;
	int dir, err;

	err = clone_open(s, &dir, &c.mem_fd);
	if (err) {
		capture_error_set(err, "the snapshot has no VA clone (PSS_CAPTURE_VA_CLONE), "
				  "or it was released");
		return err;
	}
	err = ec_threads_order(&c);
	if (err) {
		capture_error_set(err, "the snapshot has no thread registers "
				  "(PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT)");
		goto out;
	}
	c.filter = read_filter(s, dir);
	if (read_fileat(dir, "auxv", (char **)&c.auxv, &c.auxv_len))
		c.auxv_len = 0;
	err = ec_maps_collect(&c, dir);
	if (err)
		goto out;
	probe_elf_heads(&c);
	err = ec_file_note_build(&c);
	if (err)
		goto out;
	t0 = c.threads[0];
	ec_xfeat_build(&c, t0->r.xstate, t0->r.xstate_len);
	err = ec_layout(&c);
	if (!err)
		err = ec_write(&c, fd, opts ? opts->progress : NULL, opts ? opts->progress_ctx : NULL);
	*ret_out_failed = err && c.out_failed;
	if (!err && c.bad_pages) {
		capture_error_set(-EIO, "%llu pages of the clone could not be read: written as zeros",
				  (unsigned long long)c.bad_pages);
		err = -EFAULT;
	}
out:
	close(dir);
	ec_core_release(&c);
	return err;
}

PSS_API DWORD pss_linux_write_core(HPSS snapshot, int fd, const struct pss_linux_core_options *opts)
{
	const struct pss_linux_core_options *o = NULL;
	struct pss_snapshot *s;
	unsigned flags = 0;
	bool out_failed = false;
	int fl, err;

	capture_error_clear();
	if (opts) {
		if (opts->sz < offsetof(struct pss_linux_core_options, flags) + sizeof(opts->flags))
			return ERROR_INVALID_PARAMETER;
		flags = opts->flags;
		if (flags & ~PSS_LINUX_CORE_ALL)
			return ERROR_INVALID_PARAMETER;
		if (opts->sz >= offsetof(struct pss_linux_core_options, progress_ctx) +
				sizeof(opts->progress_ctx))
			o = opts;
	}
	fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
		return ERROR_INVALID_HANDLE;
	s = snapshot_get(snapshot, NULL);
	if (!s)
		return ERROR_INVALID_HANDLE;
	err = core_write(s, fd, flags, o, &out_failed);
	snapshot_release(s);
	if (!err)
		return ERROR_SUCCESS;
	if (out_failed) {
		if (err == -ECANCELED)
			capture_error_set(err, "the core write was stopped by the progress callback");
		else
			capture_error_set(err, "writing the core to fd %d failed: %s", fd, strerror(-err));
		return ERROR_GEN_FAILURE;
	}
	if (err == -EFAULT)
		return ERROR_PARTIAL_COPY;
	if (err == -ENOENT || err == -ESRCH)
		return ERROR_NOT_FOUND;
	return errno_to_win32(err);
}
