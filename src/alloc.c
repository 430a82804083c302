// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Every allocation of libpss goes through here.
 *
 * Two kinds of block share one header: heap blocks (malloc) and VM blocks
 * (one anonymous mmap each), used while the calling thread is in VM mode
 * (PSS_CREATE_USE_VM_ALLOCATIONS: the host's heap may be corrupt, so neither
 * the capture nor the snapshot touches it).  pss_free() reads the header to
 * know which kind it is freeing, so a snapshot captured in VM mode can be
 * freed from any thread.
 *
 * Test builds can fail the Nth allocation (PSS_FAULT_ALLOC=N counts from 1)
 * to prove that every error path unwinds cleanly.
 */
#include "internal.h"
#include <stdlib.h>
#include <sys/mman.h>

#define ALLOC_HEAP 0x48454150u	/* "HEAP" */
#define ALLOC_VM 0x564d5f5fu	/* "VM__" */

struct alloc_hdr {
	size_t size;		/* user bytes */
	uint32_t kind;
	uint32_t pad;
} __attribute__((aligned(16)));

static __thread bool vm_mode;

bool alloc_set_vm(bool vm)
{
	bool old = vm_mode;

	vm_mode = vm;
	return old;
}

#ifdef PSS_FAULT_INJECTION
/* Fail the Nth allocation of the process (1-based) when PSS_FAULT_ALLOC=N. */
static bool alloc_should_fail(void)
{
	static long fail_at = -1;
	static long count;
	const char *e;

	if (fail_at < 0) {
		e = getenv("PSS_FAULT_ALLOC");
		fail_at = e ? atol(e) : 0;
	}
	if (!fail_at)
		return false;
	return __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED) == fail_at;
}
#else
static inline bool alloc_should_fail(void)
{
	return false;
}
#endif

void *pss_malloc(size_t size)
{
	struct alloc_hdr *h;
	size_t total;

	if (alloc_should_fail())
		return NULL;
	if (__builtin_add_overflow(size, sizeof(*h), &total))
		return NULL;
	if (vm_mode) {
		h = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (h == MAP_FAILED)
			return NULL;
		h->kind = ALLOC_VM;
	} else {
		h = malloc(total);
		if (!h)
			return NULL;
		h->kind = ALLOC_HEAP;
	}
	h->size = size;
	return h + 1;
}

void *pss_calloc(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, size, &total))
		return NULL;
	p = pss_malloc(total);
	/* mmap memory is already zero; heap memory is not. */
	if (p && !vm_mode)
		memset(p, 0, total);
	return p;
}

void pss_free(void *p)
{
	struct alloc_hdr *h;

	if (!p)
		return;
	h = (struct alloc_hdr *)p - 1;
	if (h->kind == ALLOC_VM)
		munmap(h, h->size + sizeof(*h));
	else
		free(h);
}

void *pss_realloc(void *p, size_t size)
{
	struct alloc_hdr *h;
	void *n;

	if (!p)
		return pss_malloc(size);
	h = (struct alloc_hdr *)p - 1;
	if (h->kind == ALLOC_HEAP && !vm_mode) {
		size_t total;

		if (alloc_should_fail())
			return NULL;
		if (__builtin_add_overflow(size, sizeof(*h), &total))
			return NULL;
		h = realloc(h, total);
		if (!h)
			return NULL;
		h->size = size;
		return h + 1;
	}
	n = pss_malloc(size);
	if (!n)
		return NULL;
	memcpy(n, p, MIN(size, h->size));
	pss_free(p);
	return n;
}

char *pss_strndup(const char *s, size_t n)
{
	char *d = pss_malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *pss_strdup(const char *s)
{
	return pss_strndup(s, strlen(s));
}

int pss_vec_grow(void *pp, size_t *cap, size_t n, size_t elem)
{
	void **p = pp;
	size_t ncap, bytes;
	void *np;

	if (n <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < n) {
		if (__builtin_mul_overflow(ncap, 2, &ncap))
			return -ENOMEM;
	}
	if (__builtin_mul_overflow(ncap, elem, &bytes))
		return -ENOMEM;
	np = pss_realloc(*p, bytes);
	if (!np)
		return -ENOMEM;
	/* Keep new slots zeroed so half-filled elements are always safe to free. */
	memset((char *)np + *cap * elem, 0, (ncap - *cap) * elem);
	*p = np;
	*cap = ncap;
	return 0;
}
