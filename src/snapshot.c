// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The HPSS object.
 *
 *   capture.c:  snapshot_new() -> facets fill it -> desc_create() -> HPSS
 *   query/walk: snapshot_get(HPSS) ... snapshot_release()
 *   free:       desc_destroy(HPSS) -> snapshot_release() -> snapshot_free()
 *
 * The data (struct pss_snapshot) never changes after capture and is
 * reference-counted: every descriptor holds one reference and every API call
 * in flight holds one, so freeing a snapshot while another thread walks it
 * is safe (the walk finishes on data that lives until it returns).
 *
 * Handles are checked against a registry of live objects before they are
 * touched: a random value, a freed handle, a walk marker passed as a
 * snapshot or a double free is answered ERROR_INVALID_HANDLE, never a crash.
 */
#include "snapshot.h"
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

/* ---- registry: an open-addressed set of (pointer, kind) ---- */

struct reg_slot {
	const void *p;		/* NULL: empty; REG_TOMB: deleted */
	uint32_t kind;
};

#define REG_TOMB ((const void *)1)

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg_slot *reg_slots;
static size_t reg_cap, reg_used;	/* used counts tombstones too */

static size_t reg_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x;
}

static struct reg_slot *reg_find(const void *p, uint32_t kind)
{
	size_t i, n;

	if (!reg_cap)
		return NULL;
	for (i = reg_hash(p) & (reg_cap - 1), n = 0; n < reg_cap; i = (i + 1) & (reg_cap - 1), n++) {
		if (!reg_slots[i].p)
			return NULL;
		if (reg_slots[i].p == p && reg_slots[i].kind == kind)
			return &reg_slots[i];
	}
	return NULL;
}

/* Rehash into a table of ncap slots; always with the heap, since the
 * registry outlives any one capture's allocation mode. */
static bool reg_rehash(size_t ncap)
{
	struct reg_slot *old = reg_slots, *ns;
	size_t ocap = reg_cap, i, j;
	bool vm = alloc_set_vm(false);

	ns = pss_calloc(ncap, sizeof(*ns));
	alloc_set_vm(vm);
	if (!ns)
		return false;
	reg_slots = ns;
	reg_cap = ncap;
	reg_used = 0;
	for (i = 0; i < ocap; i++) {
		if (!old[i].p || old[i].p == REG_TOMB)
			continue;
		for (j = reg_hash(old[i].p) & (ncap - 1); ns[j].p; j = (j + 1) & (ncap - 1))
			;
		ns[j] = old[i];
		reg_used++;
	}
	pss_free(old);
	return true;
}

bool registry_add(const void *p, uint32_t kind)
{
	size_t i;
	bool ok = true;

	pthread_mutex_lock(&reg_lock);
	if ((reg_used + 1) * 2 > reg_cap && !reg_rehash(reg_cap ? reg_cap * 2 : 64)) {
		ok = false;
		goto out;
	}
	for (i = reg_hash(p) & (reg_cap - 1); reg_slots[i].p && reg_slots[i].p != REG_TOMB;
	     i = (i + 1) & (reg_cap - 1))
		;
	if (!reg_slots[i].p)
		reg_used++;
	reg_slots[i].p = p;
	reg_slots[i].kind = kind;
out:
	pthread_mutex_unlock(&reg_lock);
	return ok;
}

static bool registry_remove_locked(const void *p, uint32_t kind)
{
	struct reg_slot *slot = reg_find(p, kind);

	if (!slot)
		return false;
	slot->p = REG_TOMB;
	slot->kind = 0;
	return true;
}

bool registry_remove(const void *p, uint32_t kind)
{
	bool ok;

	pthread_mutex_lock(&reg_lock);
	ok = registry_remove_locked(p, kind);
	pthread_mutex_unlock(&reg_lock);
	return ok;
}

bool registry_has(const void *p, uint32_t kind)
{
	bool ok;

	if (!p || p == REG_TOMB)
		return false;
	pthread_mutex_lock(&reg_lock);
	ok = reg_find(p, kind) != NULL;
	pthread_mutex_unlock(&reg_lock);
	return ok;
}

/* ---- the data ---- */

struct pss_snapshot *snapshot_new(DWORD flags)
{
	static uint64_t next_id;
	struct pss_snapshot *s;

	s = pss_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->refs = 1;
	s->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	s->capture_flags = flags;
	s->vm_alloc = flags & PSS_CREATE_USE_VM_ALLOCATIONS;
	s->clone_pidfd = -1;
	s->li.sz = sizeof(s->li);
	return s;
}

static void threads_free(struct pss_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nthreads; i++) {
		pss_free(s->threads[i].r.xstate);
		pss_free(s->threads[i].ctx);
	}
	pss_free(s->threads);
}

static void regions_free(struct pss_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nregions; i++) {
		pss_free(s->regions[i].name16);
		pss_free(s->regions[i].name);
	}
	pss_free(s->regions);
}

static void handles_free(struct pss_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nhandles; i++) {
		struct pss_handle *h = &s->handles[i];

		pss_free(h->type16);
		pss_free(h->name16);
		pss_free(h->link);
		pss_free(h->sock_local);
		pss_free(h->sock_remote);
	}
	pss_free(s->handles);
}

static void aux_free(struct pss_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->naux; i++) {
		/* Copies of target memory: wipe them, they may hold secrets. */
		if (s->aux[i].block)
			explicit_bzero(s->aux[i].block, s->aux[i].block_len);
		pss_free(s->aux[i].block);
	}
	pss_free(s->aux);
}

/* Free everything the snapshot owns, whatever state a capture left it in. */
void snapshot_free(struct pss_snapshot *s)
{
	if (!s)
		return;
	threads_free(s);
	regions_free(s);
	handles_free(s);
	aux_free(s);
	if (s->clone_pid > 0)
		clone_free(s);
	if (s->clone_pidfd >= 0)
		close(s->clone_pidfd);
	pss_free(s->exe);
	pss_free(s->cmdline);
	pss_free(s->cwd);
	pss_free(s);
}

void snapshot_release(struct pss_snapshot *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		snapshot_free(s);
}

/* ---- descriptors ---- */

int desc_create(struct pss_snapshot *s, HPSS *ret)
{
	struct pss_desc *d;
	bool vm = alloc_set_vm(s->vm_alloc);

	d = pss_calloc(1, sizeof(*d));
	alloc_set_vm(vm);
	if (!d)
		return -ENOMEM;
	d->magic = SNAPSHOT_MAGIC;
	d->s = s;
	d->vm_alloc = s->vm_alloc;
	d->clone_fd = -1;
	if (s->clone_pidfd >= 0) {
		d->clone_fd = fd_dup_cloexec(s->clone_pidfd);
		if (d->clone_fd < 0) {
			int err = d->clone_fd;

			pss_free(d);
			return err;
		}
	}
	if (!registry_add(d, SNAPSHOT_MAGIC)) {
		if (d->clone_fd >= 0)
			close(d->clone_fd);
		pss_free(d);
		return -ENOMEM;
	}
	*ret = (HPSS)d;
	return 0;
}

struct pss_snapshot *snapshot_get(HPSS h, int *ret_clone_fd)
{
	struct pss_desc *d = (struct pss_desc *)h;
	struct pss_snapshot *s = NULL;

	if (!h)
		return NULL;
	pthread_mutex_lock(&reg_lock);
	if (reg_find(d, SNAPSHOT_MAGIC) && d->magic == SNAPSHOT_MAGIC) {
		s = d->s;
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
		if (ret_clone_fd)
			*ret_clone_fd = d->clone_fd;
	}
	pthread_mutex_unlock(&reg_lock);
	return s;
}

int desc_destroy(HPSS h)
{
	struct pss_desc *d = (struct pss_desc *)h;
	bool found;

	if (!h)
		return -EBADF;
	pthread_mutex_lock(&reg_lock);
	found = registry_remove_locked(d, SNAPSHOT_MAGIC);
	pthread_mutex_unlock(&reg_lock);
	if (!found)
		return -EBADF;
	d->magic = 0;
	if (d->clone_fd >= 0)
		close(d->clone_fd);
	snapshot_release(d->s);
	pss_free(d);
	return 0;
}

int desc_duplicate(HPSS h, bool close_source, HPSS *ret)
{
	struct pss_snapshot *s = snapshot_get(h, NULL);
	int err;

	if (!s)
		return -EBADF;
	/* The new descriptor takes over the reference snapshot_get() took. */
	err = desc_create(s, ret);
	if (err)
		snapshot_release(s);
	if (close_source)
		desc_destroy(h);
	return err;
}
