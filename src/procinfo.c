// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The process facet: PSS_PROCESS_INFORMATION and pss_linux_process_info,
 * from /proc/PID/{stat,status,exe,cmdline,cwd,auxv,smaps_rollup,
 * coredump_filter} and sched_getaffinity.  Never stops the target.
 *
 * Priority mapping (documented in PssCaptureSnapshot(3)): the nice value of
 * the main thread picks a Windows class and its NT base level:
 *
 *   nice >= 15 or SCHED_IDLE   IDLE_PRIORITY_CLASS          4
 *   5 .. 14                    BELOW_NORMAL_PRIORITY_CLASS  6
 *   -4 .. 4                    NORMAL_PRIORITY_CLASS        8
 *   -14 .. -5                  ABOVE_NORMAL_PRIORITY_CLASS  10
 *   <= -15                     HIGH_PRIORITY_CLASS          13
 *   SCHED_FIFO / SCHED_RR      REALTIME_PRIORITY_CLASS      24
 */
#include "snapshot.h"
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

/* Shared with threads.c: one table for processes and threads. */
void priority_from_sched(int nice, unsigned policy, unsigned rt_priority, DWORD *ret_class,
			 int *ret_level)
{
	DWORD cls;
	int level;

	if (policy == SCHED_FIFO || policy == SCHED_RR) {
		cls = REALTIME_PRIORITY_CLASS;
		level = 16 + (int)(rt_priority * 15 / 99);
		if (level > 31)
			level = 31;
	} else if (policy == SCHED_IDLE || nice >= 15) {
		cls = IDLE_PRIORITY_CLASS, level = 4;
	} else if (nice >= 5) {
		cls = BELOW_NORMAL_PRIORITY_CLASS, level = 6;
	} else if (nice > -5) {
		cls = NORMAL_PRIORITY_CLASS, level = 8;
	} else if (nice > -15) {
		cls = ABOVE_NORMAL_PRIORITY_CLASS, level = 10;
	} else {
		cls = HIGH_PRIORITY_CLASS, level = 13;
	}
	if (ret_class)
		*ret_class = cls;
	if (ret_level)
		*ret_level = level;
}

/* 32-bit executables run as WOW64 would on Windows. */
static bool exe_is_32bit(int procfd)
{
	unsigned char ident[EI_NIDENT];
	bool ret = false;
	int fd;

	fd = openat(procfd, "exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, ident, sizeof(ident), 0) == (ssize_t)sizeof(ident) &&
	    !memcmp(ident, ELFMAG, SELFMAG) && ident[EI_CLASS] == ELFCLASS32)
		ret = true;
	close(fd);
	return ret;
}

/* Linux keeps no dumpable flag in /proc text, but makes /proc/PID root-owned
 * when a non-root process is not dumpable.  -1 when we cannot tell. */
static int guess_dumpable(int procfd, const struct proc_status *st)
{
	struct stat sb;

	if (fstat(procfd, &sb))
		return -1;
	if (st->uid[1] == 0)
		return -1;
	return sb.st_uid == st->uid[1] ? 1 : 0;
}

static void fill_counters(struct pss_snapshot *s, int procfd, const struct proc_stat *ps,
			  const struct proc_status *st)
{
	PSS_PROCESS_INFORMATION *pi = &s->pi;
	struct proc_smaps roll;
	uint64_t private_bytes;
	char *buf;
	size_t len;

	pi->PeakVirtualSize = st->vm_peak;
	pi->VirtualSize = st->vm_size ? st->vm_size : ps->vsize;
	pi->PageFaultCount = (DWORD)(ps->minflt + ps->majflt);
	pi->PeakWorkingSetSize = st->vm_hwm;
	pi->WorkingSetSize = st->vm_rss;
	/* Page tables are the kernel memory a process costs: "non-paged pool". */
	pi->QuotaNonPagedPoolUsage = st->vm_pte;
	pi->QuotaPeakNonPagedPoolUsage = st->vm_pte;
	private_bytes = st->rss_anon + st->vm_swap;
	memset(&roll, 0, sizeof(roll));
	if (!read_fileat(procfd, "smaps_rollup", &buf, &len)) {
		if (!proc_smaps_rollup_parse(buf, len, &roll))
			private_bytes = roll.private_clean + roll.private_dirty + roll.swap;
		pss_free(buf);
	}
	/* Commit charge: private memory, resident or swapped.  Linux keeps no peak. */
	pi->PagefileUsage = private_bytes;
	pi->PeakPagefileUsage = private_bytes;
	pi->PrivateUsage = private_bytes;
	s->li.rss_anon = st->rss_anon;
	s->li.rss_file = st->rss_file;
	s->li.rss_shmem = st->rss_shmem;
	s->li.swap = st->vm_swap;
}

static int fill_strings(struct pss_snapshot *s, int procfd)
{
	char *buf;
	size_t len;
	int err;

	err = read_linkat(procfd, "exe", &s->exe);
	if (err == -ENOMEM)
		return err;
	if (err && !(s->exe = pss_strdup("")))
		return -ENOMEM;
	err = read_linkat(procfd, "cwd", &s->cwd);
	if (err == -ENOMEM)
		return err;
	if (err && !(s->cwd = pss_strdup("")))
		return -ENOMEM;
	err = read_fileat(procfd, "cmdline", &s->cmdline, &len);
	if (err == -ENOMEM)
		return err;
	if (err) {
		if (!(s->cmdline = pss_strdup("")))
			return -ENOMEM;
		len = 0;
	}
	s->li.exe = s->exe;
	s->li.cwd = s->cwd;
	s->li.cmdline = s->cmdline;
	s->li.cmdline_len = len;
	utf8_to_utf16_buf(s->exe, strlen(s->exe), s->pi.ImageFileName, MAX_PATH);

	if (!read_fileat(procfd, "coredump_filter", &buf, &len)) {
		uint64_t v;

		if (!proc_hex_u64_parse(buf, len, &v))
			s->li.coredump_filter = (unsigned)v;
		pss_free(buf);
	}
	if (!read_fileat(procfd, "auxv", &buf, &len)) {
		proc_auxv_get(buf, len, AT_ENTRY, &s->auxv_entry);
		s->li.auxv_entry = s->auxv_entry;
		pss_free(buf);
	}
	return 0;
}

static void fill_from_stat(struct pss_snapshot *s, const struct proc_stat *ps)
{
	PSS_PROCESS_INFORMATION *pi = &s->pi;
	struct pss_linux_process_info *li = &s->li;

	pi->PebBaseAddress = (void *)(uintptr_t)ps->arg_start;
	pi->CreateTime = filetime_from_boot_ticks(ps->starttime);
	pi->KernelTime = filetime_from_duration_ns(ticks_to_ns(ps->stime));
	pi->UserTime = filetime_from_duration_ns(ticks_to_ns(ps->utime));
	pi->ProcessId = (DWORD)ps->pid;
	pi->ParentProcessId = (DWORD)ps->ppid;
	priority_from_sched((int)ps->nice, ps->policy, ps->rt_priority, &pi->PriorityClass,
			    &pi->BasePriority);
	li->pid = ps->pid;
	li->ppid = ps->ppid;
	li->pgrp = ps->pgrp;
	li->sid = ps->session;
	li->state = ps->state;
	memcpy(li->comm, ps->comm.p, MIN(ps->comm.len, sizeof(li->comm) - 1));
	li->nice = (int)ps->nice;
	li->policy = ps->policy;
	li->rt_priority = ps->rt_priority;
	li->num_threads = (unsigned)ps->num_threads;
	li->start_time_ns = ticks_to_ns(ps->starttime);
}

int procinfo_collect(struct pss_snapshot *s, int procfd)
{
	PSS_PROCESS_INFORMATION *pi = &s->pi;
	struct pss_linux_process_info *li = &s->li;
	struct proc_status st;
	struct proc_stat ps;
	cpu_set_t cpus;
	char *buf;
	size_t len;
	int err, i;

	err = read_fileat(procfd, "stat", &buf, &len);
	if (err)
		return err;
	err = proc_stat_parse(buf, len, &ps);
	if (!err)
		fill_from_stat(s, &ps);
	pss_free(buf);
	if (err)
		return err;

	err = read_fileat(procfd, "status", &buf, &len);
	if (err)
		return err;
	err = proc_status_parse(buf, len, &st);
	pss_free(buf);
	if (err)
		return err;

	pi->ExitStatus = STILL_ACTIVE;
	li->tracer_pid = st.tracer_pid;
	li->uid = st.uid[0], li->euid = st.uid[1];
	li->gid = st.gid[0], li->egid = st.gid[1];
	li->seccomp_mode = st.seccomp;
	li->dumpable = guess_dumpable(procfd, &st);
	li->nspid_count = MIN(st.nspid_count, ARRAY_SIZE(li->nspid));
	for (i = 0; i < (int)li->nspid_count; i++)
		li->nspid[i] = st.nspid[i];
	li->capture_time_ns = now_ns(CLOCK_REALTIME);

	if (ps.state == 'T' || ps.state == 't' || st.tracer_pid)
		pi->Flags |= PSS_PROCESS_FLAGS_FROZEN;
	if (li->dumpable == 0)
		pi->Flags |= PSS_PROCESS_FLAGS_PROTECTED;
	if (exe_is_32bit(procfd))
		pi->Flags |= PSS_PROCESS_FLAGS_WOW64;

	CPU_ZERO(&cpus);
	if (!sched_getaffinity(s->pid, sizeof(cpus), &cpus)) {
		for (i = 0; i < 64; i++)
			if (CPU_ISSET(i, &cpus))
				pi->AffinityMask |= (ULONG_PTR)1 << i;
	}
	fill_counters(s, procfd, &ps, &st);
	return fill_strings(s, procfd);
}
