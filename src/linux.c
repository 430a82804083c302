// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The Linux-only detail of <pss/pss-linux.h> (process, thread, handle and
 * region information the Windows structures have no room for), and
 * VirtualQueryEx, which answers from a fresh VA-space capture.
 *
 * The sized structs are filled up to the caller's sz: a caller compiled
 * against an older, smaller struct gets its prefix, never an overrun.
 */
#include "snapshot.h"
#include <fcntl.h>
#include <unistd.h>

/* Copy min(caller's sz, ours) bytes, keeping the caller's sz. */
static DWORD sized_copy(void *dst, const void *src, size_t ours)
{
	size_t theirs = *(const size_t *)dst;

	if (theirs < sizeof(size_t))
		return ERROR_INVALID_PARAMETER;
	memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t),
	       MIN(theirs, ours) - sizeof(size_t));
	if (theirs > ours)
		memset((char *)dst + ours, 0, theirs - ours);
	return ERROR_SUCCESS;
}

PSS_API DWORD pss_linux_query_process(HPSS snapshot, struct pss_linux_process_info *ret)
{
	struct pss_snapshot *s;
	DWORD err;

	if (!ret)
		return ERROR_INVALID_PARAMETER;
	s = snapshot_get(snapshot, NULL);
	if (!s)
		return ERROR_INVALID_HANDLE;
	err = sized_copy(ret, &s->li, sizeof(s->li));
	snapshot_release(s);
	return err;
}

static void thread_info_fill(const struct pss_thread *t, struct pss_linux_thread_info *ti)
{
	const struct user_regs_struct *r = &t->r.regs;

	memset(ti, 0, sizeof(*ti));
	ti->sz = sizeof(*ti);
	ti->tid = t->tid;
	ti->state = t->state;
	memcpy(ti->comm, t->comm, MIN(t->comm_len, sizeof(ti->comm) - 1));
	ti->syscall_nr = (long)t->sc.nr;
	memcpy(ti->syscall_args, t->sc.args, sizeof(ti->syscall_args));
	ti->sig_blocked = t->sig_blk;
	ti->sig_pending = t->sig_pnd;
	ti->sig_shared_pending = t->sig_shd;
	ti->stopped_before = t->stopped_before;
	ti->have_regs = t->have_regs;
	if (t->have_regs) {
		_Static_assert(sizeof(ti->regs) == sizeof(*r), "pss_linux_regs is user_regs_struct");
		memcpy(&ti->regs, r, sizeof(ti->regs));
		ti->fpregs = &t->r.fpregs;
		ti->xstate = t->r.xstate;
		ti->xstate_len = t->r.xstate_len;
		memcpy(ti->debugregs, t->r.debugregs, sizeof(ti->debugregs));
		ti->sig_blocked = t->r.sigmask;
	}
	ti->utime_ns = t->utime_ns;
	ti->stime_ns = t->stime_ns;
	ti->start_time_ns = t->start_ns;
	ti->nice = t->nice;
	ti->policy = t->policy;
	ti->rt_priority = t->rt_priority;
	ti->processor = t->processor;
}

PSS_API DWORD pss_linux_query_thread(HPSS snapshot, pid_t tid, struct pss_linux_thread_info *ret)
{
	struct pss_linux_thread_info ti;
	struct pss_snapshot *s;
	DWORD err = ERROR_NOT_FOUND;
	size_t i;

	if (!ret)
		return ERROR_INVALID_PARAMETER;
	s = snapshot_get(snapshot, NULL);
	if (!s)
		return ERROR_INVALID_HANDLE;
	for (i = 0; s->have_threads && i < s->nthreads; i++) {
		if (s->threads[i].tid != tid)
			continue;
		thread_info_fill(&s->threads[i], &ti);
		err = sized_copy(ret, &ti, sizeof(ti));
		break;
	}
	snapshot_release(s);
	return err;
}

PSS_API DWORD pss_linux_query_handle(HPSS snapshot, int fd, struct pss_linux_handle_info *ret)
{
	struct pss_snapshot *s;
	DWORD err = ERROR_NOT_FOUND;
	size_t lo, hi, mid;

	if (!ret)
		return ERROR_INVALID_PARAMETER;
	s = snapshot_get(snapshot, NULL);
	if (!s)
		return ERROR_INVALID_HANDLE;
	/* Handles are in fd order. */
	lo = 0, hi = s->have_handles ? s->nhandles : 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->handles[mid].li.fd == fd) {
			err = sized_copy(ret, &s->handles[mid].li, sizeof(s->handles[mid].li));
			break;
		}
		if (s->handles[mid].li.fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	snapshot_release(s);
	return err;
}

PSS_API DWORD pss_linux_query_region(HPSS snapshot, unsigned index, struct pss_linux_region_info *ret)
{
	struct pss_linux_region_info ri;
	const struct pss_region *r = NULL;
	struct pss_snapshot *s;
	DWORD err;
	size_t i, n = 0;

	if (!ret)
		return ERROR_INVALID_PARAMETER;
	s = snapshot_get(snapshot, NULL);
	if (!s)
		return ERROR_INVALID_HANDLE;
	if (!s->have_vaspace) {
		err = ERROR_NOT_FOUND;
		goto out;
	}
	for (i = 0; i < s->nregions; i++) {
		if (s->regions[i].is_gap)
			continue;
		if (n++ == index) {
			r = &s->regions[i];
			break;
		}
	}
	if (!r) {
		err = ERROR_NO_MORE_ITEMS;
		goto out;
	}
	memset(&ri, 0, sizeof(ri));
	ri.sz = sizeof(ri);
	ri.start = r->m.start;
	ri.end = r->m.end;
	ri.offset = r->m.offset;
	ri.prot = r->m.prot;
	ri.shared = r->m.shared;
	ri.dev_major = r->m.dev_major;
	ri.dev_minor = r->m.dev_minor;
	ri.inode = r->m.inode;
	ri.name = r->name ? r->name : "";
	ri.deleted = r->m.deleted;
	ri.vmflags = r->smaps.vmflags;
	ri.rss = r->smaps.rss;
	ri.pss = r->smaps.pss;
	ri.anonymous = r->smaps.anonymous;
	ri.swap = r->smaps.swap;
	ri.private_dirty = r->smaps.private_dirty;
	ri.shared_dirty = r->smaps.shared_dirty;
	err = sized_copy(ret, &ri, sizeof(ri));
out:
	snapshot_release(s);
	return err;
}

/* VirtualQueryEx: the region holding lpAddress, from the process's current
 * map (or the clone's frozen one, for a VaCloneHandle). */
PSS_API SIZE_T VirtualQueryEx(HANDLE hProcess, LPCVOID lpAddress,
			      PMEMORY_BASIC_INFORMATION lpBuffer, SIZE_T dwLength)
{
	uint64_t addr = (uint64_t)(uintptr_t)lpAddress & ~4095ull;
	struct pss_snapshot *s;
	const PSS_VA_SPACE_ENTRY *e;
	size_t lo, hi, mid;
	char path[64];
	SIZE_T ret = 0;
	int procfd, err;
	pid_t pid;

	if (!lpBuffer || dwLength < sizeof(*lpBuffer)) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return 0;
	}
	pid = (pid_t)GetProcessId(hProcess);
	if (!pid)
		return 0;
	s = snapshot_new(0);
	if (!s) {
		SetLastError(ERROR_NOT_ENOUGH_MEMORY);
		return 0;
	}
	s->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = procfd < 0 ? -errno : vaspace_collect(s, procfd, false);
	if (procfd >= 0)
		close(procfd);
	if (err) {
		SetLastError(err == -ENOENT ? ERROR_INVALID_HANDLE : errno_to_win32(err));
		goto out;
	}
	lo = 0, hi = s->nregions;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		e = &s->regions[mid].e;
		if (addr < (uint64_t)(uintptr_t)e->BaseAddress)
			hi = mid;
		else if (addr >= (uint64_t)(uintptr_t)e->BaseAddress + e->RegionSize)
			lo = mid + 1;
		else
			break;
	}
	if (lo >= hi) {
		SetLastError(ERROR_INVALID_PARAMETER);	/* beyond user space */
		goto out;
	}
	memset(lpBuffer, 0, sizeof(*lpBuffer));
	lpBuffer->BaseAddress = (PVOID)(uintptr_t)addr;
	lpBuffer->RegionSize = (uint64_t)(uintptr_t)e->BaseAddress + e->RegionSize - addr;
	lpBuffer->State = e->State;
	lpBuffer->Protect = e->Protect;
	if (e->State != MEM_FREE) {
		lpBuffer->AllocationBase = e->AllocationBase;
		lpBuffer->AllocationProtect = e->AllocationProtect;
		lpBuffer->Type = e->Type;
	}
	ret = sizeof(*lpBuffer);
out:
	snapshot_free(s);
	return ret;
}
