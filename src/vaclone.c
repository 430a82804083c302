// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The capture side of PSS_CAPTURE_VA_CLONE, in the calling thread: all that
 * can be prepared before the stop (so the stop stays short) and taken over
 * after it.
 *
 * Before: refuse what cannot be cloned safely (a vfork child sharing its
 * parent's memory), find a `syscall` instruction in the target's vDSO, list
 * corpses of earlier clones to reap, and size the auxiliary pages (ranges
 * the clone will not hold: MADV_DONTFORK is absent in a child,
 * MADV_WIPEONFORK reads as zero) with their buffers, up to a budget.
 * After: a pidfd for the clone (the VaCloneHandle) and the clone's pid in
 * the target's pid namespace, for the wait4 that reaps it at free.
 */
#include "snapshot.h"
#include "facets.h"
#include "inject.h"
#include <dirent.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>

#define AUX_BUDGET (64ull << 20)	/* bytes of auxiliary pages per capture */
#define PAGE 4096u

static bool shares_mm_with_parent(pid_t pid, pid_t ppid)
{
	return ppid > 0 && syscall(SYS_kcmp, pid, ppid, KCMP_VM, 0, 0) == 0;
}

/* A `syscall` instruction (0f 05) in the target's vDSO, read through
 * /proc/PID/mem: the target's own code, never patched. */
static int find_gadget(struct pss_snapshot *s, int procfd, uint64_t *ret)
{
	unsigned char img[2 * PAGE];
	char *buf, dir[40] = ".", path[56];
	size_t len, i;
	uint64_t vdso = 0;
	ssize_t n;
	int fd, err;

	/* A leader that called pthread_exit is a zombie without memory: go
	 * through a live thread (they all share the address space). */
	for (i = 0; i < s->nthreads; i++) {
		if (s->threads[i].state != 'Z' && s->threads[i].state != 'X') {
			snprintf(dir, sizeof(dir), "task/%d", (int)s->threads[i].tid);
			break;
		}
	}
	snprintf(path, sizeof(path), "%s/auxv", dir);
	err = read_fileat(procfd, path, &buf, &len);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	proc_auxv_get(buf, len, 33 /* AT_SYSINFO_EHDR */, &vdso);
	pss_free(buf);
	if (!vdso)
		return len ? -EOPNOTSUPP : -ESRCH;	/* an exiting task has no auxv */
	snprintf(path, sizeof(path), "%s/mem", dir);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, img, sizeof(img), (off_t)vdso);
	err = n < 0 ? -errno : 0;	/* ENOMEM: mem_rw's page, not a missing gadget */
	close(fd);
	if (err)
		return err;
	for (i = 0; n > 2 && i + 1 < (size_t)n; i++) {
		if (img[i] == 0x0f && img[i + 1] == 0x05) {
			*ret = vdso + i;
			return 0;
		}
	}
	return -EOPNOTSUPP;
}

static int read_pid_stat(pid_t pid, struct proc_stat *ps, char **ret_buf)
{
	char path[40];
	size_t len;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	err = read_file(path, ret_buf, &len);
	if (err)
		return err;
	err = proc_stat_parse(*ret_buf, len, ps);
	if (err)
		pss_free(*ret_buf);
	return err;
}

/* The pid of @pid as its own namespace sees it (last NSpid entry). */
pid_t pid_in_own_ns(pid_t pid)
{
	struct proc_status st;
	char path[40], *buf;
	size_t len;
	pid_t ret = pid;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_file(path, &buf, &len))
		return pid;
	if (!proc_status_parse(buf, len, &st) && st.nspid_count)
		ret = st.nspid[st.nspid_count - 1];
	pss_free(buf);
	return ret;
}

/* Corpses of earlier clones: zombie children named "pss-clone" with exit
 * signal 0 (nothing else a program makes looks like that). */
static int find_zombies(struct pss_snapshot *s, struct clone_req *req, size_t *cap)
{
	pid_t **zp = (pid_t **)&req->zombies;
	struct pss_thread *t;
	struct proc_stat ps;
	char path[64], *buf, *sbuf, *p, *end;
	size_t i, len;
	long child;

	for (i = 0; i < s->nthreads; i++) {
		t = &s->threads[i];
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)s->pid, (int)t->tid);
		if (read_file(path, &buf, &len))
			continue;
		for (p = buf; *p; p = end) {
			child = strtol(p, &end, 10);
			if (end == p)
				break;
			if (child <= 0 || read_pid_stat((pid_t)child, &ps, &sbuf))
				continue;
			if (ps.state == 'Z' && ps.exit_signal == 0 && ps.comm.len == 9 &&
			    !memcmp(ps.comm.p, "pss-clone", 9) &&
			    !pss_vec_grow(zp, cap, req->nzombies + 1, sizeof(pid_t)))
				(*zp)[req->nzombies++] = pid_in_own_ns((pid_t)child);
			pss_free(sbuf);
		}
		pss_free(buf);
	}
	return 0;
}

/* One block per range, one entry per page pointing into it. */
static int aux_add_range(struct clone_req *req, size_t *cap, const struct proc_map *m,
			 uint64_t *budget)
{
	uint64_t len = MIN(m->end - m->start, *budget), off;
	size_t first = req->naux, npages = len / PAGE;
	struct pss_auxpage *a;
	FILETIME now = filetime_from_unix_ns(now_ns(CLOCK_REALTIME));
	void *block;

	if (!npages)
		return 0;
	if (pss_vec_grow(&req->aux, cap, req->naux + npages, sizeof(*req->aux)))
		return -ENOMEM;
	block = pss_malloc(len);
	if (!block)
		return -ENOMEM;
	for (off = 0; off < len; off += PAGE) {
		a = &req->aux[req->naux++];
		memset(a, 0, sizeof(*a));
		a->data = (char *)block + off;
		a->e.Address = (void *)(uintptr_t)(m->start + off);
		a->e.BasicInformation.BaseAddress = (void *)(uintptr_t)m->start;
		a->e.BasicInformation.AllocationBase = (void *)(uintptr_t)m->start;
		a->e.BasicInformation.AllocationProtect = va_protect(m->prot, m->shared, m->inode != 0);
		a->e.BasicInformation.RegionSize = m->end - m->start;
		a->e.BasicInformation.State = MEM_COMMIT;
		a->e.BasicInformation.Protect = va_protect(m->prot, m->shared, m->inode != 0);
		a->e.BasicInformation.Type = m->inode || m->shared ? MEM_MAPPED : MEM_PRIVATE;
		a->e.CaptureTime = now;
		a->e.PageContents = a->data;
		a->e.PageSize = PAGE;
	}
	req->aux[first].block = block;
	req->aux[first].block_len = len;
	/* block is in the first entry: one owner, wiped and freed once. */
	*budget -= len;
	return 0;
}

/* Ranges the clone will not hold, from the target's smaps (read before the
 * stop: such ranges are set up once by the programs that use them). */
static int find_aux(struct pss_snapshot *s, int procfd, struct clone_req *req)
{
	uint64_t budget = AUX_BUDGET;
	struct proc_maps_iter it;
	struct proc_smaps sm;
	struct proc_map m;
	size_t cap = 0, len;
	char *buf;
	int err;

	if (read_fileat(procfd, "smaps", &buf, &len))
		return 0;	/* no detail: nothing we know to copy */
	proc_maps_iter_init(&it, buf, len);
	while ((err = proc_smaps_next(&it, &m, &sm)) != -ENOENT) {
		if (err || !(sm.vmflags & (PSS_LINUX_VM_DONTCOPY | PSS_LINUX_VM_WIPEONFORK)))
			continue;
		if (sm.vmflags & (PSS_LINUX_VM_IO | PSS_LINUX_VM_PFNMAP) || !(m.prot & PROC_PROT_READ))
			continue;	/* never read device memory */
		err = aux_add_range(req, &cap, &m, &budget);
		if (err)
			break;
		if (!budget) {
			pr_info("pid %d: auxiliary pages beyond %llu MiB not captured", (int)s->pid,
				(unsigned long long)(AUX_BUDGET >> 20));
			break;
		}
	}
	pss_free(buf);
	return err == -ENOENT ? 0 : err;
}

/* The target exited (or is exiting: a zombie leader with no live thread). */
static bool target_gone(int procfd)
{
	struct proc_status st;
	struct proc_stat ps;
	char *buf;
	size_t len;
	bool gone = true;

	if (read_fileat(procfd, "stat", &buf, &len))
		return true;
	if (!proc_stat_parse(buf, len, &ps))
		gone = ps.state == 'X' || (ps.state == 'Z' && ps.num_threads <= 1);
	pss_free(buf);
	if (gone || read_fileat(procfd, "status", &buf, &len))
		return true;
	/* In exit_group the address space goes (exit_mm) before the state
	 * says so: the Vm lines of status vanish with it. */
	if (!proc_status_parse(buf, len, &st))
		gone = !st.have_vm;
	pss_free(buf);
	return gone;
}

void vaclone_release_req(struct clone_req *req)
{
	size_t i;

	for (i = 0; i < req->naux; i++)
		pss_free(req->aux[i].block);
	pss_free(req->aux);
	pss_free((void *)req->zombies);
	memset(req, 0, sizeof(*req));
}

int vaclone_prepare(struct pss_snapshot *s, int procfd, struct clone_req *req)
{
	size_t zcap = 0;
	size_t i;
	int err;

	memset(req, 0, sizeof(*req));
	if (shares_mm_with_parent(s->pid, s->li.ppid)) {
		capture_error_set(-EOPNOTSUPP, "pid %d is a vfork child: it shares its parent's "
				  "memory until it execs; capture the parent instead", (int)s->pid);
		return -EOPNOTSUPP;
	}
	err = find_gadget(s, procfd, &req->gadget);
	if (err == -ENOMEM)
		return err;
	if (err && target_gone(procfd))
		return -ESRCH;
	if (err == -EPERM || err == -EACCES) {
		capture_error_access(s->pid, err);
		return err;
	}
	if (err) {
		capture_error_set(err, "no syscall instruction found in the vDSO of pid %d",
				  (int)s->pid);
		return err;
	}
	for (i = 0; i < s->nthreads; i++)
		if (s->threads[i].seccomp > 0)
			req->suspend_seccomp = true;
	/* Refuse before touching the target: an injected clone would meet the
	 * target's filter (kill, trap, errno) unless seccomp is suspended. */
	if (req->suspend_seccomp && !have_cap_sys_admin()) {
		capture_error_set(-EOPNOTSUPP, "pid %d runs under seccomp: a VA clone needs "
				  "CAP_SYS_ADMIN to suspend it for the injected clone() "
				  "(run as root, or capture without PSS_CAPTURE_VA_CLONE)",
				  (int)s->pid);
		return -EOPNOTSUPP;
	}
	err = find_zombies(s, req, &zcap);
	if (!err)
		err = find_aux(s, procfd, req);
	if (err)
		vaclone_release_req(req);
	return err;
}

/* The stop made a clone: give its handle and pages to the snapshot. */
int vaclone_finish(struct pss_snapshot *s, struct clone_req *req)
{
	int fd = pidfd_open_pid(req->clone_pid);

	s->clone_pid = req->clone_pid;
	s->clone_tns = pid_in_own_ns(req->clone_pid);
	s->gadget = req->gadget;
	s->aux = req->aux;
	s->naux = req->naux;
	s->have_aux = true;
	req->aux = NULL;
	req->naux = 0;
	if (fd < 0)
		return fd;	/* snapshot_free still kills and reaps the clone */
	s->clone_pidfd = fd;
	return 0;
}

int task_seccomp_mode(pid_t tid)
{
	struct proc_status st;
	char path[40], *buf;
	size_t len;
	int mode = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (read_file(path, &buf, &len))
		return 0;
	if (!proc_status_parse(buf, len, &st) && st.seccomp > 0)
		mode = st.seccomp;
	pss_free(buf);
	return mode;
}

bool have_cap_sys_admin(void)
{
	struct proc_status st;
	char *buf;
	size_t len;
	bool ret = false;

	if (read_file("/proc/thread-self/status", &buf, &len))
		return false;
	if (!proc_status_parse(buf, len, &st))
		ret = st.cap_eff & (1ull << 21);	/* CAP_SYS_ADMIN */
	pss_free(buf);
	return ret;
}
