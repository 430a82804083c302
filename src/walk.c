// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * HPSSWALK markers and PssWalkSnapshot.
 *
 * A marker holds a position (snapshot id, class, index) and every block it
 * handed out (strings, context records, page copies), which live until
 * PssWalkMarkerFree.  Blocks come from the marker's PSS_ALLOCATOR when it
 * has one; each block carries a small header that links it into the
 * marker's list, so nothing else needs to be remembered.
 *
 * Positions are opaque to callers: (class + 1) << 56 | index, with 0 for a
 * fresh marker.  A marker used with another snapshot or class than its last
 * call starts that sequence at the beginning.
 */
#include "snapshot.h"

#define POS_CLASS_SHIFT 56
#define POS_INDEX_MASK ((1ull << POS_CLASS_SHIFT) - 1)

struct walk_block {
	struct walk_block *next;
	void *raw;		/* what the allocator returned */
	uint64_t pad;
} __attribute__((aligned(16)));

struct pss_walk {
	uint32_t magic;
	bool have_alloc;
	PSS_ALLOCATOR alloc;
	uint64_t snap_id;	/* 0: not used yet */
	int cls;		/* -1: not used yet */
	uint64_t index;
	struct walk_block *blocks;
};

static void *walk_raw_alloc(struct pss_walk *w, size_t size)
{
	if (size > UINT32_MAX)
		return NULL;
	if (w->have_alloc)
		return w->alloc.AllocRoutine(w->alloc.Context, (DWORD)size);
	return pss_malloc(size);
}

static void walk_raw_free(struct pss_walk *w, void *p)
{
	if (w->have_alloc)
		w->alloc.FreeRoutine(w->alloc.Context, p);
	else
		pss_free(p);
}

/* A 16-byte aligned block owned by the marker. */
static void *walk_alloc(struct pss_walk *w, size_t size)
{
	struct walk_block *b;
	uintptr_t p;
	void *raw;

	raw = walk_raw_alloc(w, size + 2 * sizeof(*b));
	if (!raw)
		return NULL;
	p = ((uintptr_t)raw + sizeof(*b) + 15) & ~(uintptr_t)15;
	b = (struct walk_block *)p - 1;
	b->raw = raw;
	b->next = w->blocks;
	w->blocks = b;
	return (void *)p;
}

/* Undo the most recent walk_alloc calls down to @mark (an entry failed half way). */
static void walk_unwind(struct pss_walk *w, struct walk_block *mark)
{
	while (w->blocks != mark) {
		struct walk_block *b = w->blocks;

		w->blocks = b->next;
		walk_raw_free(w, b->raw);
	}
}

static const void *walk_dup(struct pss_walk *w, const void *src, size_t len, bool *failed)
{
	void *d;

	if (!src)
		return NULL;
	d = walk_alloc(w, len);
	if (!d) {
		*failed = true;
		return NULL;
	}
	memcpy(d, src, len);
	return d;
}

/* UTF-16 strings are handed out with a terminating NUL, beyond their length. */
static const WCHAR *walk_dup16(struct pss_walk *w, const WCHAR *src, WORD bytes, bool *failed)
{
	WCHAR *d;

	if (!src)
		return NULL;
	d = walk_alloc(w, (size_t)bytes + sizeof(WCHAR));
	if (!d) {
		*failed = true;
		return NULL;
	}
	memcpy(d, src, bytes);
	d[bytes / sizeof(WCHAR)] = 0;
	return d;
}

static struct pss_walk *walk_get(HPSSWALK h)
{
	struct pss_walk *w = (struct pss_walk *)h;

	if (!registry_has(w, WALK_MAGIC) || w->magic != WALK_MAGIC)
		return NULL;
	return w;
}

PSS_API DWORD PssWalkMarkerCreate(PSS_ALLOCATOR const *Allocator, HPSSWALK *WalkMarkerHandle)
{
	struct pss_walk *w;

	if (!WalkMarkerHandle)
		return ERROR_INVALID_PARAMETER;
	*WalkMarkerHandle = NULL;
	if (Allocator && (!Allocator->AllocRoutine || !Allocator->FreeRoutine))
		return ERROR_INVALID_PARAMETER;
	/* The marker itself comes from the allocator too, when there is one. */
	if (Allocator)
		w = Allocator->AllocRoutine(Allocator->Context, sizeof(*w));
	else
		w = pss_malloc(sizeof(*w));
	if (!w)
		return ERROR_NOT_ENOUGH_MEMORY;
	memset(w, 0, sizeof(*w));
	w->magic = WALK_MAGIC;
	w->cls = -1;
	if (Allocator) {
		w->have_alloc = true;
		w->alloc = *Allocator;
	}
	if (!registry_add(w, WALK_MAGIC)) {
		if (Allocator)
			Allocator->FreeRoutine(Allocator->Context, w);
		else
			pss_free(w);
		return ERROR_NOT_ENOUGH_MEMORY;
	}
	*WalkMarkerHandle = (HPSSWALK)w;
	return ERROR_SUCCESS;
}

PSS_API DWORD PssWalkMarkerFree(HPSSWALK WalkMarkerHandle)
{
	struct pss_walk *w = (struct pss_walk *)WalkMarkerHandle;
	PSS_ALLOCATOR a;
	bool have;

	if (!w || !registry_remove(w, WALK_MAGIC))
		return ERROR_INVALID_HANDLE;
	walk_unwind(w, NULL);
	w->magic = 0;
	have = w->have_alloc;
	a = w->alloc;
	if (have)
		a.FreeRoutine(a.Context, w);
	else
		pss_free(w);
	return ERROR_SUCCESS;
}

PSS_API DWORD PssWalkMarkerGetPosition(HPSSWALK WalkMarkerHandle, ULONG_PTR *Position)
{
	struct pss_walk *w = walk_get(WalkMarkerHandle);

	if (!w)
		return ERROR_INVALID_HANDLE;
	if (!Position)
		return ERROR_INVALID_PARAMETER;
	*Position = w->cls < 0 ? 0 : ((ULONG_PTR)(w->cls + 1) << POS_CLASS_SHIFT) | w->index;
	return ERROR_SUCCESS;
}

PSS_API DWORD PssWalkMarkerSetPosition(HPSSWALK WalkMarkerHandle, ULONG_PTR Position)
{
	struct pss_walk *w = walk_get(WalkMarkerHandle);
	uint64_t cls = (uint64_t)Position >> POS_CLASS_SHIFT;

	if (!w)
		return ERROR_INVALID_HANDLE;
	if (Position == 0) {
		w->index = 0;
		return ERROR_SUCCESS;
	}
	if (cls < 1 || cls > PSS_WALK_THREAD_NAME + 1)
		return ERROR_INVALID_PARAMETER;
	/* The position belongs to the snapshot the marker walks now. */
	w->cls = (int)cls - 1;
	w->index = Position & POS_INDEX_MASK;
	return ERROR_SUCCESS;
}

PSS_API DWORD PssWalkMarkerSeekToBeginning(HPSSWALK WalkMarkerHandle)
{
	struct pss_walk *w = walk_get(WalkMarkerHandle);

	if (!w)
		return ERROR_INVALID_HANDLE;
	w->index = 0;
	return ERROR_SUCCESS;
}

static size_t entry_size(int cls)
{
	switch (cls) {
	case PSS_WALK_AUXILIARY_PAGES:
		return sizeof(PSS_AUXILIARY_PAGE_ENTRY);
	case PSS_WALK_VA_SPACE:
		return sizeof(PSS_VA_SPACE_ENTRY);
	case PSS_WALK_HANDLES:
		return sizeof(PSS_HANDLE_ENTRY);
	case PSS_WALK_THREADS:
		return sizeof(PSS_THREAD_ENTRY);
	case PSS_WALK_THREAD_NAME:
		return sizeof(PSS_THREAD_NAME);
	}
	return 0;
}

/* Whether the class was captured, and how many items it has. */
static bool walk_count(const struct pss_snapshot *s, int cls, size_t *ret)
{
	switch (cls) {
	case PSS_WALK_AUXILIARY_PAGES:
		*ret = s->naux;
		return s->have_aux;
	case PSS_WALK_VA_SPACE:
		*ret = s->nregions;
		return s->have_vaspace;
	case PSS_WALK_HANDLES:
		*ret = s->nhandles;
		return s->have_handles;
	case PSS_WALK_THREADS:
	case PSS_WALK_THREAD_NAME:
		*ret = s->nthreads;
		return s->have_threads;
	}
	return false;
}

/* Copy item @i of @cls into @buf, with every pointer into marker memory. */
static int walk_fill(struct pss_walk *w, const struct pss_snapshot *s, int cls, size_t i, void *buf)
{
	bool failed = false;

	switch (cls) {
	case PSS_WALK_AUXILIARY_PAGES: {
		PSS_AUXILIARY_PAGE_ENTRY *e = buf;

		*e = s->aux[i].e;
		e->PageContents = (void *)walk_dup(w, s->aux[i].data, e->PageSize, &failed);
		break;
	}
	case PSS_WALK_VA_SPACE: {
		PSS_VA_SPACE_ENTRY *e = buf;

		*e = s->regions[i].e;
		e->MappedFileName = walk_dup16(w, e->MappedFileName, e->MappedFileNameLength, &failed);
		break;
	}
	case PSS_WALK_HANDLES: {
		PSS_HANDLE_ENTRY *e = buf;

		*e = s->handles[i].e;
		e->TypeName = walk_dup16(w, e->TypeName, e->TypeNameLength, &failed);
		e->ObjectName = walk_dup16(w, e->ObjectName, e->ObjectNameLength, &failed);
		break;
	}
	case PSS_WALK_THREADS: {
		PSS_THREAD_ENTRY *e = buf;

		*e = s->threads[i].e;
		e->ContextRecord = (CONTEXT *)walk_dup(w, s->threads[i].ctx, e->SizeOfContextRecord,
						       &failed);
		if (!e->ContextRecord)
			e->SizeOfContextRecord = failed ? e->SizeOfContextRecord : 0;
		break;
	}
	case PSS_WALK_THREAD_NAME: {
		PSS_THREAD_NAME *e = buf;
		const struct pss_thread *t = &s->threads[i];
		WCHAR name16[32];
		size_t n = utf8_to_utf16_buf(t->comm, t->comm_len, name16, ARRAY_SIZE(name16));

		e->ThreadNameSize = (WORD)(n * sizeof(WCHAR));
		e->ThreadName = walk_dup16(w, name16, e->ThreadNameSize, &failed);
		break;
	}
	}
	return failed ? -ENOMEM : 0;
}

PSS_API DWORD PssWalkSnapshot(HPSS SnapshotHandle, PSS_WALK_INFORMATION_CLASS InformationClass,
			      HPSSWALK WalkMarkerHandle, void *Buffer, DWORD BufferLength)
{
	int cls = (int)InformationClass;
	struct pss_snapshot *s;
	struct walk_block *mark;
	struct pss_walk *w;
	size_t count;
	DWORD ret;

	s = snapshot_get(SnapshotHandle, NULL);
	if (!s)
		return ERROR_INVALID_HANDLE;
	w = walk_get(WalkMarkerHandle);
	if (!w) {
		ret = ERROR_INVALID_HANDLE;
		goto out;
	}
	if (cls < PSS_WALK_AUXILIARY_PAGES || cls > PSS_WALK_THREAD_NAME) {
		ret = ERROR_INVALID_PARAMETER;
		goto out;
	}
	if (Buffer && BufferLength != entry_size(cls)) {
		ret = ERROR_BAD_LENGTH;
		goto out;
	}
	if (!walk_count(s, cls, &count)) {
		ret = ERROR_NOT_FOUND;
		goto out;
	}
	if (w->snap_id != s->id || w->cls != cls) {
		w->snap_id = s->id;
		w->cls = cls;
		w->index = 0;
	}
	if (w->index >= count) {
		ret = ERROR_NO_MORE_ITEMS;
		goto out;
	}
	if (!Buffer) {
		ret = ERROR_MORE_DATA;
		goto out;
	}
	mark = w->blocks;
	if (walk_fill(w, s, cls, (size_t)w->index, Buffer)) {
		walk_unwind(w, mark);
		ret = ERROR_NOT_ENOUGH_MEMORY;
		goto out;
	}
	w->index++;
	ret = ERROR_SUCCESS;
out:
	snapshot_release(s);
	return ret;
}
