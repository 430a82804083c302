// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Pass 2 of the core writer, and pss_linux_write_core().
 *
 * The output is written strictly in order from the fd's current offset:
 * headers, notes, padding, then each PT_LOAD's bytes.  Memory is streamed
 * from /proc/CLONE/mem (never process_vm_readv: the clone is stopped under
 * our tracer, /proc/PID/mem also reads PROT_NONE pages the way the kernel's
 * dumper does, with FOLL_FORCE, and process_vm_readv pins pages, which
 * unshares, that is copies, each copy-on-write page of the clone: measured
 * three times slower) in chunks of EC_CHUNK bytes
 * through a ring of EC_NSLOT buffers: the calling thread reads the next
 * chunks while a writing thread writes the previous ones, so a core costs
 * the slower of the two, not their sum, and a fixed 4 MiB of buffers.
 * To a regular file whose file system tells its O_DIRECT alignment, the
 * memory goes with O_DIRECT (through a second open of the same file): no
 * copy into the page cache, and the disk writes while the clone is read,
 * instead of the caller's fsync writing the whole core at the end; other
 * regular files get their writeback started every few MiB for the same
 * reason.  The bytes, holes and the fd's final offset are the same.
 * All-zero and unreadable pages are holes: skipped with lseek on a
 * seekable fd, written as zeros on a pipe; a core ending in a hole gets its
 * last byte written so that its size is right.  VM_IO/VM_PFNMAP mappings
 * ([vvar]) are never read: the kernel cannot pin their pages either and
 * writes them as zeros.
 *
 * Pages of private anonymous mappings that the clone never populated
 * (/proc/CLONE/pagemap: neither present nor swapped) read as zeros: they
 * are holes without being read, which also spares the clone the page tables
 * and zero-page mappings a read would create.  The core is the same byte
 * for byte.
 *
 * Unreadable pages of ordinary mappings (a file truncated under a mapping,
 * a clone released by another thread) are counted: the core stays
 * complete, with zeros, and the call returns ERROR_PARTIAL_COPY.
 */
#include "elfcore/elfcore.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define EC_OUTBUF (64u << 10)	/* small writes (headers, notes) are gathered */

static const uint8_t zero_page[EC_PAGE];

struct ec_out {
	int fd;
	bool seekable;			/* holes by lseek; else zeros */
	uint64_t pos;			/* bytes of the core produced, holes included */
	uint64_t skip;			/* a hole not yet applied */
	uint8_t *buf;			/* EC_OUTBUF bytes */
	size_t len;
	bool kick;			/* a regular file: start its writeback as we go */
	uint64_t off;			/* the file offset of the next byte */
	uint64_t kicked;		/* writeback started up to here */
	int dfd;			/* the same file opened O_DIRECT, or -1 */
	size_t dalign;			/* its offset, length and buffer alignment */
	bool moved;			/* fd's own offset is behind off (dfd writes, holes) */
};

/*
 * Start the writeback of what was written since the last call, every
 * EC_KICK bytes: the disk writes while the clone is still being read,
 * instead of the whole core waiting in the page cache for the caller's
 * fsync.  Only starts it (no wait); advisory, so a failure only ends it.
 */
#define EC_KICK (8u << 20)

static void out_kick(struct ec_out *o)
{
	if (!o->kick || o->off < o->kicked + EC_KICK)
		return;
	if (sync_file_range(o->fd, (off_t)o->kicked, (off_t)(o->off - o->kicked),
			    SYNC_FILE_RANGE_WRITE))
		o->kick = false;
	o->kicked = o->off;
}

/*
 * Aligned writes to a regular file go through dfd, with O_DIRECT: the disk
 * reads the ring's buffer itself, where a buffered write copies each byte
 * into the page cache first (measured: a quarter of the CPU a dump takes)
 * and leaves the whole core to the caller's fsync.  EINVAL (a file system
 * with other rules than it announced) ends dfd, and the bytes go the
 * buffered way.
 */
static bool out_direct_ok(const struct ec_out *o, const void *p, size_t len)
{
	uint64_t a = o->dalign - 1;

	return o->dfd >= 0 && !(((uintptr_t)p | len | o->off) & a);
}

static int out_direct(struct ec_out *o, const uint8_t **q, size_t *len)
{
	ssize_t n;

	while (*len) {
		n = pwrite(o->dfd, *q, *len, (off_t)o->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL) {
			close(o->dfd);
			o->dfd = -1;
			return 0;	/* the rest, buffered */
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		*q += n;
		*len -= (size_t)n;
		o->off += (uint64_t)n;
		o->kicked = o->off;	/* nothing of it in the page cache */
		o->moved = true;
		if (*len && !out_direct_ok(o, *q, *len))
			return 0;
	}
	return 0;
}

/* The file again, with O_DIRECT, when the file system says how to align
 * (statx STATX_DIOALIGN, 6.1+) within a page and the start is aligned.
 * Only an optimisation: any failure leaves the buffered way. */
static void out_direct_open(struct ec_out *o)
{
#ifdef STATX_DIOALIGN
	struct statx sx, dsx;
	char path[40];
	uint32_t a;
	int dfd;

	if (!o->kick || statx(o->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) ||
	    !(sx.stx_mask & STATX_DIOALIGN))
		return;
	a = MAX(sx.stx_dio_mem_align, sx.stx_dio_offset_align);
	if (!sx.stx_dio_offset_align || (a & (a - 1)) || a > EC_PAGE || (o->off & (a - 1)))
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", o->fd);
	dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC | O_NOCTTY);
	if (dfd < 0)
		return;
	/* The same inode (not a file that took the name meanwhile). */
	if (statx(dfd, "", AT_EMPTY_PATH, STATX_INO, &dsx) || dsx.stx_ino != sx.stx_ino ||
	    dsx.stx_dev_major != sx.stx_dev_major || dsx.stx_dev_minor != sx.stx_dev_minor) {
		close(dfd);
		return;
	}
	o->dfd = dfd;
	o->dalign = a;
#else
	(void)o;
#endif
}

static int out_raw(struct ec_out *o, const void *p, size_t len)
{
	const uint8_t *q = p;
	ssize_t n;
	int err;

	if (out_direct_ok(o, q, len)) {
		err = out_direct(o, &q, &len);
		if (err || !len)
			return err;
	}
	if (o->moved) {
		if (lseek(o->fd, (off_t)o->off, SEEK_SET) < 0)
			return -errno;
		o->moved = false;
	}
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
		o->off += (uint64_t)n;
	}
	out_kick(o);
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
	if (o->dfd >= 0 && n) {
		o->off += n;		/* the next write seeks */
		o->moved = true;
	} else if (o->seekable && n) {
		if (lseek(o->fd, (off_t)(o->off + n), SEEK_SET) < 0)
			return -errno;
		o->off += n;
		o->moved = false;
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

	if (!err)
		err = out_flush(o);
	if (!err && o->moved && lseek(o->fd, (off_t)o->off, SEEK_SET) < 0)
		err = -errno;
	return err;
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

/* ---- reading the clone ---- */

/* Read @len bytes of @m at @addr into @buf.  Unreadable pages become zeros
 * and are counted, unless an aux page or a special mapping (the gate page
 * may be unreadable for the kernel too: no loss) stands for them. */
static void range_read(struct ec_core *c, const struct ec_map *m, uint64_t addr, uint8_t *buf,
		       size_t len)
{
	size_t off;

	if (!m->aux_only && !mem_read(c->mem_fd, buf, len, addr))
		return;
	/* Page by page: keep what is readable, zeros for the rest. */
	for (off = 0; off < len; off += EC_PAGE) {
		size_t k = (size_t)MIN((uint64_t)len - off, EC_PAGE);

		if (!m->aux_only && !mem_read(c->mem_fd, buf + off, k, addr + off))
			continue;
		memset(buf + off, 0, k);
		if (!m->special && !(m->aux && aux_find(c, addr + off)))
			c->bad_pages++;
	}
}

/*
 * Is @m private anonymous memory, where a page the clone never populated
 * (neither present nor swapped in its pagemap) reads as zeros?  Not a file
 * mapping (such a page is read from the file), not shared memory (its pages
 * live in shmem whether or not this mm maps them), not a special mapping
 * ([vdso] pages are inserted at fault time), not hugetlb or driver memory.
 */
static bool map_is_private_anon(const struct ec_map *m)
{
	const uint64_t not_anon = PSS_LINUX_VM_SHARED | PSS_LINUX_VM_MAYSHARE | PSS_LINUX_VM_HUGETLB |
				  PSS_LINUX_VM_IO | PSS_LINUX_VM_PFNMAP | PSS_LINUX_VM_MIXEDMAP;
	const char *n = m->name;

	if (m->file || m->shared || m->special || m->no_read || m->aux_only)
		return false;
	if (m->have_vmflags && (m->vmflags & not_anon))
		return false;
	return !n[0] || !strcmp(n, "[heap]") || !strcmp(n, "[stack]") || !strncmp(n, "[anon:", 6);
}

/* pagemap bits 57..63: uffd-wp, guard region (6.15+), (59, 60 zero), file
 * page or shared anon, swapped, present.  An entry with none of them is a
 * page the clone never populated; anything else (a guard region included)
 * is read as it always was. */
#define EC_PM_POPULATED (~0ull << 57)

/* Mark in @zero the pages of [@addr, +@npages) the clone never populated;
 * false when pagemap cannot tell (then every page is read). */
static bool pagemap_holes(struct ec_core *c, uint64_t addr, size_t npages, uint64_t *ent,
			  bool *zero)
{
	size_t len = npages * sizeof(*ent), i;
	ssize_t n;

	n = pread(c->pagemap_fd, ent, len, (off_t)(addr / EC_PAGE * sizeof(*ent)));
	if (n != (ssize_t)len)
		return false;
	for (i = 0; i < npages; i++)
		zero[i] = !(ent[i] & EC_PM_POPULATED);
	return true;
}

/* ---- the pipeline: the caller reads the clone, a thread writes ---- */

#define EC_CHUNK (1u << 20)	/* bytes of memory read at once */
#define EC_CHUNK_PAGES (EC_CHUNK / EC_PAGE)
#define EC_NSLOT 4		/* chunks in flight (larger chunks measured slower) */

/* One chunk on its way from the clone to the fd. */
struct ec_slot {
	uint8_t *buf;			/* EC_CHUNK bytes */
	size_t len;			/* bytes of the chunk */
	bool hole;			/* nothing read: @len bytes of hole */
	bool known_zero;		/* zero[] marks pages never populated (not in buf) */
	bool zero[EC_CHUNK_PAGES];
};

/*
 * A ring of EC_NSLOT slots between the reading thread (the caller: pread of
 * /proc/CLONE/mem, the progress callback) and a writing thread that owns
 * the ec_out while memory streams (zero detection, write(2), lseek), so
 * the next chunk is read while the previous one is written.  head and tail
 * run freely; slot head % EC_NSLOT is the reader's while head - tail <
 * EC_NSLOT, slot tail % EC_NSLOT the writer's while tail < head.  Without
 * a thread (pthread_create failed) slot 0 is written at once.
 */
struct ec_pipe {
	struct ec_out *o;
	uint8_t *mem;			/* the slots' buffers, then o->buf */
	bool threaded;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t filled, emptied;
	unsigned head, tail;		/* slots queued, slots written */
	bool closing;			/* nothing more comes: end once the ring is empty */
	bool stop;			/* abandon what is queued */
	int err;			/* the writer's error */
	uint64_t done;			/* o->pos after the last slot written */
	struct ec_slot slot[EC_NSLOT];
	uint64_t ent[EC_CHUNK_PAGES];	/* pagemap entries of the chunk being read */
};

/* Write a chunk: runs of pages with data, holes for all-zero pages. */
static int chunk_write(struct ec_out *o, const struct ec_slot *sl)
{
	const uint8_t *buf = sl->buf;
	size_t off = 0, run = 0, len = sl->len;
	int err;

	while (off < len) {
		size_t k = (size_t)MIN((uint64_t)len - off, EC_PAGE);
		bool zero = sl->known_zero && sl->zero[off / EC_PAGE];

		if (zero || !memcmp(buf + off, zero_page, k)) {
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

static int slot_write(struct ec_out *o, const struct ec_slot *sl)
{
	if (sl->hole) {
		out_hole(o, sl->len);
		return 0;
	}
	return chunk_write(o, sl);
}

static void *writer_main(void *arg)
{
	struct ec_pipe *p = arg;
	int err;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->tail == p->head && !p->closing && !p->stop)
			pthread_cond_wait(&p->filled, &p->lock);
		if (p->stop || p->tail == p->head)
			break;
		pthread_mutex_unlock(&p->lock);
		err = slot_write(p->o, &p->slot[p->tail % EC_NSLOT]);
		pthread_mutex_lock(&p->lock);
		p->tail++;
		p->done = p->o->pos;
		if (err) {
			p->err = err;
			p->stop = true;
		}
		pthread_cond_signal(&p->emptied);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Start the writing thread, with every signal blocked: the caller's
 * handlers stay on the caller's threads. */
static void pipe_start(struct ec_pipe *p)
{
	sigset_t all, old;

	if (pthread_mutex_init(&p->lock, NULL))
		return;
	if (pthread_cond_init(&p->filled, NULL))
		goto out_lock;
	if (pthread_cond_init(&p->emptied, NULL))
		goto out_filled;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	p->threaded = !pthread_create(&p->thread, NULL, writer_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->threaded)
		return;
	pr_debug("core: no writer thread, writing inline");
	pthread_cond_destroy(&p->emptied);
out_filled:
	pthread_cond_destroy(&p->filled);
out_lock:
	pthread_mutex_destroy(&p->lock);
}

/* Wait for the writer to write what is queued (with @abandon: only to
 * stop) and end it.  The writer's error, or 0. */
static int pipe_end(struct ec_pipe *p, bool abandon)
{
	if (!p->threaded)
		return p->err;
	pthread_mutex_lock(&p->lock);
	p->closing = true;
	if (abandon)
		p->stop = true;
	pthread_cond_signal(&p->filled);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->threaded = false;
	pthread_cond_destroy(&p->emptied);
	pthread_cond_destroy(&p->filled);
	pthread_mutex_destroy(&p->lock);
	return p->err;
}

/* The next slot to fill, or NULL once the writer failed. */
static struct ec_slot *pipe_get(struct ec_pipe *p)
{
	struct ec_slot *sl = NULL;

	if (!p->threaded)
		return p->err ? NULL : &p->slot[0];
	pthread_mutex_lock(&p->lock);
	while (p->head - p->tail == EC_NSLOT && !p->stop)
		pthread_cond_wait(&p->emptied, &p->lock);
	if (!p->stop)
		sl = &p->slot[p->head % EC_NSLOT];
	pthread_mutex_unlock(&p->lock);
	return sl;
}

/* Queue the slot pipe_get() gave; 0 or the (inline) write's error. */
static int pipe_put(struct ec_pipe *p)
{
	if (!p->threaded) {
		p->err = slot_write(p->o, &p->slot[0]);
		p->done = p->o->pos;
		return p->err;
	}
	pthread_mutex_lock(&p->lock);
	p->head++;
	pthread_cond_signal(&p->filled);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Bytes of the core written so far (holes included). */
static uint64_t pipe_done(struct ec_pipe *p)
{
	uint64_t done;

	if (!p->threaded)
		return p->done;
	pthread_mutex_lock(&p->lock);
	done = p->done;
	pthread_mutex_unlock(&p->lock);
	return done;
}

/* Fill @sl with the chunk of @m at @addr as the snapshot saw it: pages the
 * clone never populated are only marked, the rest is read, then the
 * auxiliary pages are laid over. */
static void chunk_read(struct ec_core *c, struct ec_pipe *p, const struct ec_map *m,
		       uint64_t addr, struct ec_slot *sl)
{
	size_t np = (sl->len + EC_PAGE - 1) / EC_PAGE, i, j, off;
	const struct pss_auxpage *a;
	uint8_t *buf = sl->buf;

	sl->known_zero = c->use_pagemap && map_is_private_anon(m) &&
			 pagemap_holes(c, addr, np, p->ent, sl->zero);
	if (!sl->known_zero) {
		range_read(c, m, addr, buf, sl->len);
	} else {
		for (i = 0; i < np; i = j + 1) {
			if (sl->zero[i]) {
				j = i;
				continue;
			}
			for (j = i; j + 1 < np && !sl->zero[j + 1]; j++)
				;
			off = i * EC_PAGE;
			range_read(c, m, addr + off, buf + off,
				   (size_t)MIN((uint64_t)sl->len, (j + 1) * EC_PAGE) - off);
		}
	}
	if (!m->aux)
		return;
	for (off = 0; off < sl->len; off += EC_PAGE) {
		a = aux_find(c, addr + off);
		if (!a)
			continue;
		memcpy(buf + off, a->data, (size_t)MIN((uint64_t)sl->len - off, EC_PAGE));
		if (sl->known_zero)
			sl->zero[off / EC_PAGE] = false;
	}
}

struct ec_progress {
	int (*fn)(void *ctx, unsigned long long done, unsigned long long total);
	void *ctx;
};

static int progress_report(const struct ec_progress *p, uint64_t done, uint64_t total)
{
	if (p->fn && p->fn(p->ctx, done, total))
		return -ECANCELED;
	return 0;
}

static int dump_map(struct ec_core *c, struct ec_pipe *p, const struct ec_map *m,
		    const struct ec_progress *pr)
{
	uint64_t addr = m->start, end = m->start + m->filesz;
	struct ec_slot *sl;
	int err;

	while (addr < end) {
		sl = pipe_get(p);
		if (!sl)
			return p->err;
		sl->len = (size_t)MIN(end - addr, (uint64_t)EC_CHUNK);
		sl->hole = m->no_read;
		sl->known_zero = false;
		if (!m->no_read)
			chunk_read(c, p, m, addr, sl);
		addr += sl->len;
		err = pipe_put(p);
		if (!err)
			err = progress_report(pr, pipe_done(p), c->total);
		if (err)
			return err;
	}
	return 0;
}

/* Every PT_LOAD's bytes, through the pipeline; an error is the output's
 * (a write, or the progress callback). */
static int dump_maps(struct ec_core *c, struct ec_pipe *p, const struct ec_progress *pr)
{
	size_t i;
	int err = 0, werr;

	pipe_start(p);
	for (i = 0; !err && i < c->nmaps; i++)
		if (c->maps[i].filesz)
			err = dump_map(c, p, &c->maps[i], pr);
	werr = pipe_end(p, err != 0);
	return err ? err : werr;
}

int ec_write(struct ec_core *c, int fd,
	     int (*progress)(void *ctx, unsigned long long done, unsigned long long total),
	     void *progress_ctx)
{
	struct ec_progress pr = { progress, progress_ctx };
	struct ec_out o = { .fd = fd, .dfd = -1 };
	struct ec_pipe *p;
	uint8_t *hdr = NULL, *base;
	Elf64_Shdr sh;
	struct stat st;
	off_t start = lseek(fd, 0, SEEK_CUR);
	size_t i;
	int err;

	o.seekable = start >= 0 && !(fcntl(fd, F_GETFL) & O_APPEND);
	o.kick = o.seekable && !fstat(fd, &st) && S_ISREG(st.st_mode);
	o.off = o.kicked = o.seekable ? (uint64_t)start : 0;
	p = pss_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->mem = pss_malloc((size_t)EC_NSLOT * EC_CHUNK + EC_OUTBUF + EC_PAGE);
	if (!p->mem) {
		err = -ENOMEM;
		goto out_pipe;
	}
	p->o = &o;
	/* Page-aligned slots, for O_DIRECT. */
	base = p->mem + (EC_PAGE - (uintptr_t)p->mem % EC_PAGE) % EC_PAGE;
	for (i = 0; i < EC_NSLOT; i++)
		p->slot[i].buf = base + i * EC_CHUNK;
	o.buf = base + (size_t)EC_NSLOT * EC_CHUNK;
	out_direct_open(&o);
	c->out_failed = true;	/* until memory streaming starts */
	err = progress_report(&pr, o.pos, c->total);
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
	/* Reading never fails the write (unreadable pages are counted): an
	 * error from here on is the output's. */
	err = dump_maps(c, p, &pr);
	if (err)
		goto out_free;
	if (c->shoff) {
		ec_shdr_fill(c, &sh);
		err = out_write(&o, &sh, sizeof(sh));
	}
	if (!err)
		err = out_finish(&o);
	if (!err)
		err = progress_report(&pr, o.pos, c->total);
	if (!err)
		c->out_failed = false;
out_free:
	if (o.dfd >= 0)
		close(o.dfd);
	pss_free(hdr);
	pss_free(p->mem);
out_pipe:
	pss_free(p);
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
	/* Optional: without it every page is read. */
	c.pagemap_fd = openat(dir, "pagemap", O_RDONLY | O_CLOEXEC);
	c.use_pagemap = c.pagemap_fd >= 0;
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
	if (c.use_pagemap)
		close(c.pagemap_fd);
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
