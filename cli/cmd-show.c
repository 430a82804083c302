// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pss info | threads | handles | vmmap: one capture each, printed as
 * aligned text.  Walks use the documented loop: call until the result is not
 * ERROR_SUCCESS; ERROR_NO_MORE_ITEMS ends it.
 */
#include "pss.h"
#include <inttypes.h>
#include <string.h>

static const char *priority_class_name(DWORD c)
{
	switch (c) {
	case IDLE_PRIORITY_CLASS: return "idle";
	case BELOW_NORMAL_PRIORITY_CLASS: return "below-normal";
	case NORMAL_PRIORITY_CLASS: return "normal";
	case ABOVE_NORMAL_PRIORITY_CLASS: return "above-normal";
	case HIGH_PRIORITY_CLASS: return "high";
	case REALTIME_PRIORITY_CLASS: return "realtime";
	}
	return "?";
}

int cmd_info(pid_t pid, const struct cli_opts *o)
{
	struct pss_linux_process_info li = { .sz = sizeof(li) };
	PSS_PROCESS_INFORMATION pi;
	char name[1024], created[64];
	HPSS s;
	size_t i;
	int rc;

	rc = cli_capture(pid, PSS_CAPTURE_NONE, 0, o, &s);
	if (rc)
		return rc;
	PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi));
	pss_linux_query_process(s, &li);
	cli_utf16(pi.ImageFileName, sizeof(pi.ImageFileName), name, sizeof(name));
	cli_filetime(pi.CreateTime, created, sizeof(created));
	printf("%-20s %u\n", "pid", pi.ProcessId);
	printf("%-20s %u\n", "parent", pi.ParentProcessId);
	printf("%-20s %s\n", "image", name);
	printf("%-20s ", "command line");
	for (i = 0; i < li.cmdline_len; i++)
		putchar(li.cmdline[i] ? li.cmdline[i] : ' ');
	putchar('\n');
	printf("%-20s %c (%s%s%s)\n", "state", li.state,
	       pi.ExitStatus == STILL_ACTIVE ? "running" : "exited",
	       pi.Flags & PSS_PROCESS_FLAGS_FROZEN ? ", frozen" : "",
	       pi.Flags & PSS_PROCESS_FLAGS_PROTECTED ? ", not dumpable" : "");
	printf("%-20s %u\n", "threads", li.num_threads);
	printf("%-20s %s\n", "created", created);
	printf("%-20s user %.2f s, kernel %.2f s\n", "cpu time", cli_duration_s(pi.UserTime),
	       cli_duration_s(pi.KernelTime));
	printf("%-20s %s (base %d, nice %d)\n", "priority class", priority_class_name(pi.PriorityClass),
	       pi.BasePriority, li.nice);
	printf("%-20s 0x%" PRIxPTR "\n", "affinity", (uintptr_t)pi.AffinityMask);
	printf("%-20s %" PRIuPTR " KiB (peak %" PRIuPTR " KiB)\n", "virtual size",
	       (uintptr_t)pi.VirtualSize / 1024, (uintptr_t)pi.PeakVirtualSize / 1024);
	printf("%-20s %" PRIuPTR " KiB (peak %" PRIuPTR " KiB)\n", "working set",
	       (uintptr_t)pi.WorkingSetSize / 1024, (uintptr_t)pi.PeakWorkingSetSize / 1024);
	printf("%-20s %" PRIuPTR " KiB\n", "private bytes", (uintptr_t)pi.PrivateUsage / 1024);
	printf("%-20s %u\n", "page faults", pi.PageFaultCount);
	printf("%-20s %d/%d (uid/euid)\n", "user", li.uid, li.euid);
	printf("%-20s %s\n", "cwd", li.cwd);
	printf("%-20s 0x%x\n", "coredump filter", li.coredump_filter);
	if (li.tracer_pid)
		printf("%-20s %d\n", "traced by", li.tracer_pid);
	cli_free(s);
	return EXIT_OK;
}

static void print_regs(const struct pss_linux_regs *r)
{
	printf("      rip %016llx rsp %016llx rbp %016llx rax %016llx\n", r->rip, r->rsp, r->rbp,
	       r->rax);
	printf("      rbx %016llx rcx %016llx rdx %016llx rsi %016llx\n", r->rbx, r->rcx, r->rdx,
	       r->rsi);
	printf("      rdi %016llx r8  %016llx r9  %016llx r10 %016llx\n", r->rdi, r->r8, r->r9,
	       r->r10);
	printf("      r11 %016llx r12 %016llx r13 %016llx r14 %016llx\n", r->r11, r->r12, r->r13,
	       r->r14);
	printf("      r15 %016llx efl %016llx fs_base %016llx orig_rax %lld\n", r->r15, r->eflags,
	       r->fs_base, (long long)r->orig_rax);
}

int cmd_threads(pid_t pid, const struct cli_opts *o)
{
	PSS_CAPTURE_FLAGS flags = PSS_CAPTURE_THREADS;
	struct pss_linux_process_info li = { .sz = sizeof(li) };
	PSS_THREAD_ENTRY te;
	PSS_THREAD_NAME tn;
	HPSSWALK w, wn;
	char name[64];
	DWORD err;
	HPSS s;
	int rc;

	if (o->regs)
		flags |= PSS_CAPTURE_THREAD_CONTEXT;
	rc = cli_capture(pid, flags, CONTEXT_ALL, o, &s);
	if (rc)
		return rc;
	pss_linux_query_process(s, &li);
	if (PssWalkMarkerCreate(NULL, &w) || PssWalkMarkerCreate(NULL, &wn)) {
		fprintf(stderr, "pss: out of memory\n");
		cli_free(s);
		return EXIT_FAILURE_;
	}
	printf("%-8s %-16s %-5s %-8s %-10s %9s %9s %4s\n", "TID", "NAME", "STATE", "SYSCALL",
	       "ARG0", "USER(s)", "SYS(s)", "PRIO");
	while (!(err = PssWalkSnapshot(s, PSS_WALK_THREADS, w, &te, sizeof(te)))) {
		struct pss_linux_thread_info ti = { .sz = sizeof(ti) };
		char sc[16];

		if (PssWalkSnapshot(s, PSS_WALK_THREAD_NAME, wn, &tn, sizeof(tn)))
			tn.ThreadNameSize = 0;
		cli_utf16(tn.ThreadName, tn.ThreadNameSize, name, sizeof(name));
		pss_linux_query_thread(s, (pid_t)te.ThreadId, &ti);
		if (te.LastSyscallNumber == 0xFFFF)
			snprintf(sc, sizeof(sc), "-");
		else
			snprintf(sc, sizeof(sc), "%u", te.LastSyscallNumber);
		printf("%-8u %-16s %-5c %-8s 0x%-8" PRIxPTR " %9.2f %9.2f %4d%s\n", te.ThreadId, name,
		       ti.state ? ti.state : '?', sc, (uintptr_t)te.LastSyscallFirstArgument,
		       cli_duration_s(te.UserTime), cli_duration_s(te.KernelTime), te.Priority,
		       te.SuspendCount ? " stopped" : "");
		if (o->regs && ti.have_regs)
			print_regs(&ti.regs);
	}
	if (o->regs)
		printf("target paused %.3f ms to read registers\n", li.pause_ns / 1e6);
	PssWalkMarkerFree(w);
	PssWalkMarkerFree(wn);
	cli_free(s);
	return err == ERROR_NO_MORE_ITEMS ? EXIT_OK : EXIT_PARTIAL;
}

static const char *object_type_name(PSS_OBJECT_TYPE t)
{
	switch (t) {
	case PSS_OBJECT_TYPE_PROCESS: return "Process";
	case PSS_OBJECT_TYPE_THREAD: return "Thread";
	case PSS_OBJECT_TYPE_MUTANT: return "Mutant";
	case PSS_OBJECT_TYPE_EVENT: return "Event";
	case PSS_OBJECT_TYPE_SECTION: return "Section";
	case PSS_OBJECT_TYPE_SEMAPHORE: return "Semaphore";
	default: return "-";
	}
}

static void handle_detail(const struct pss_linux_handle_info *li, const PSS_HANDLE_ENTRY *e,
			  char *buf, size_t cap)
{
	buf[0] = '\0';
	if (!strcmp(li->type_name, "Socket") && li->sock_local && *li->sock_local)
	{
		bool listen = li->sock_state == 10;	/* TCP_LISTEN */
		bool remote = !listen && li->sock_remote && *li->sock_remote;

		snprintf(buf, cap, "%s%s%s%s", li->sock_local, remote ? " -> " : "",
			 remote ? li->sock_remote : "", listen ? " (listen)" : "");
	}
	else if (e->ObjectType == PSS_OBJECT_TYPE_EVENT || e->ObjectType == PSS_OBJECT_TYPE_SEMAPHORE)
		snprintf(buf, cap, "count %llu%s", li->eventfd_count,
			 li->eventfd_semaphore ? " (semaphore)" : "");
	else if (e->ObjectType == PSS_OBJECT_TYPE_PROCESS)
		snprintf(buf, cap, "pid %d", li->pidfd_pid);
	else if (e->ObjectType == PSS_OBJECT_TYPE_SECTION)
		snprintf(buf, cap, "%llu bytes", li->size);
	else if (!strcmp(li->type_name, "TimerFd"))
		snprintf(buf, cap, "interval %.3f s, ticks %llu", li->timerfd_interval_ns / 1e9,
			 li->timerfd_ticks);
	else if (!strcmp(li->type_name, "SignalFd"))
		snprintf(buf, cap, "mask 0x%llx", li->signalfd_mask);
	else if (!strcmp(li->type_name, "Epoll"))
		snprintf(buf, cap, "%u fds", li->epoll_targets);
	else if (!strcmp(li->type_name, "Inotify"))
		snprintf(buf, cap, "%u watches", li->inotify_watches);
	else if (!strcmp(li->type_name, "File"))
		snprintf(buf, cap, "pos %llu", li->pos);
}

int cmd_handles(pid_t pid, const struct cli_opts *o)
{
	PSS_CAPTURE_FLAGS flags = PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION |
				  PSS_CAPTURE_HANDLE_BASIC_INFORMATION |
				  PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION;
	char type[64], name[4096], detail[256];
	PSS_HANDLE_ENTRY e;
	HPSSWALK w;
	DWORD err;
	HPSS s;
	int rc;

	rc = cli_capture(pid, flags, 0, o, &s);
	if (rc)
		return rc;
	if (PssWalkMarkerCreate(NULL, &w)) {
		cli_free(s);
		return EXIT_FAILURE_;
	}
	printf("%5s %-11s %-9s %-3s %-44s %s\n", "FD", "TYPE", "OBJECT", "INH", "NAME", "DETAIL");
	while (!(err = PssWalkSnapshot(s, PSS_WALK_HANDLES, w, &e, sizeof(e)))) {
		struct pss_linux_handle_info li = { .sz = sizeof(li) };
		int fd = (int)(intptr_t)e.Handle;

		cli_utf16(e.TypeName, e.TypeNameLength, type, sizeof(type));
		cli_utf16(e.ObjectName, e.ObjectNameLength, name, sizeof(name));
		detail[0] = '\0';
		if (!pss_linux_query_handle(s, fd, &li))
			handle_detail(&li, &e, detail, sizeof(detail));
		printf("%5d %-11s %-9s %-3s %-44s %s\n", fd, type, object_type_name(e.ObjectType),
		       e.Attributes & 2 ? "yes" : "no", name, detail);
	}
	PssWalkMarkerFree(w);
	cli_free(s);
	return err == ERROR_NO_MORE_ITEMS ? EXIT_OK : EXIT_PARTIAL;
}

static const char *protect_name(DWORD p)
{
	switch (p & 0xff) {
	case PAGE_NOACCESS: return "NOACCESS";
	case PAGE_READONLY: return "READONLY";
	case PAGE_READWRITE: return "READWRITE";
	case PAGE_WRITECOPY: return "WRITECOPY";
	case PAGE_EXECUTE: return "EXECUTE";
	case PAGE_EXECUTE_READ: return "EXECUTE_READ";
	case PAGE_EXECUTE_READWRITE: return "EXECUTE_READWRITE";
	case PAGE_EXECUTE_WRITECOPY: return "EXECUTE_WRITECOPY";
	}
	return "?";
}

static const char *type_name(DWORD t)
{
	switch (t) {
	case MEM_IMAGE: return "IMAGE";
	case MEM_MAPPED: return "MAPPED";
	case MEM_PRIVATE: return "PRIVATE";
	}
	return "-";
}

int cmd_vmmap(pid_t pid, const struct cli_opts *o)
{
	PSS_CAPTURE_FLAGS flags = PSS_CAPTURE_VA_SPACE | PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION;
	uint64_t total_rss = 0, total_size = 0;
	PSS_VA_SPACE_ENTRY e;
	char name[4096];
	unsigned idx = 0;
	HPSSWALK w;
	DWORD err;
	HPSS s;
	int rc;

	rc = cli_capture(pid, flags, 0, o, &s);
	if (rc)
		return rc;
	if (PssWalkMarkerCreate(NULL, &w)) {
		cli_free(s);
		return EXIT_FAILURE_;
	}
	printf("%-16s %10s %10s %-8s %-8s %-18s %s\n", "ADDRESS", "KBYTES", "RSS", "STATE", "TYPE",
	       "PROTECT", "MAPPING");
	while (!(err = PssWalkSnapshot(s, PSS_WALK_VA_SPACE, w, &e, sizeof(e)))) {
		struct pss_linux_region_info ri = { .sz = sizeof(ri) };

		if (e.State == MEM_FREE) {
			if (o->verbose)
				printf("%016" PRIxPTR " %10" PRIuPTR " %10s %-8s\n", (uintptr_t)e.BaseAddress,
				       (uintptr_t)e.RegionSize / 1024, "", "free");
			continue;
		}
		if (pss_linux_query_region(s, idx++, &ri))
			memset(&ri, 0, sizeof(ri));
		cli_utf16(e.MappedFileName, e.MappedFileNameLength, name, sizeof(name));
		if (!name[0] && ri.name)
			snprintf(name, sizeof(name), "%s", ri.name);
		printf("%016" PRIxPTR " %10" PRIuPTR " %10llu %-8s %-8s %-18s %s%s\n",
		       (uintptr_t)e.BaseAddress, (uintptr_t)e.RegionSize / 1024, ri.rss / 1024,
		       e.State == MEM_RESERVE ? "reserve" : "commit", type_name(e.Type),
		       protect_name(e.Protect), name, ri.deleted ? " (deleted)" : "");
		total_rss += ri.rss;
		total_size += e.RegionSize;
	}
	printf("%-16s %10llu %10llu\n", "total", (unsigned long long)total_size / 1024,
	       (unsigned long long)total_rss / 1024);
	PssWalkMarkerFree(w);
	cli_free(s);
	return err == ERROR_NO_MORE_ITEMS ? EXIT_OK : EXIT_PARTIAL;
}
