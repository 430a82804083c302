// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pss info | threads | handles | vmmap: one capture each, printed as
 * aligned text or, with --json, as one JSON object per PID (keys in
 * pss(1), JSON OUTPUT; main.c wraps several PIDs in an array).  Walks use
 * the documented loop: call until the result is not ERROR_SUCCESS;
 * ERROR_NO_MORE_ITEMS ends it.  Text and JSON come from the same walk, so
 * they cannot disagree.
 */
#include "pss.h"
#include "json.h"
#include <inttypes.h>
#include <string.h>
#include <time.h>

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

/* FILETIME to ISO 8601 UTC ("2026-12-01T18:41:07Z"), "" before 1970. */
static void filetime_iso(FILETIME ft, char *buf, size_t cap)
{
	uint64_t v = (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime;
	struct tm tm;
	time_t t;

	buf[0] = '\0';
	if (v < 116444736000000000ull)
		return;
	t = (time_t)((v - 116444736000000000ull) / 10000000ull);
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void info_json(const PSS_PROCESS_INFORMATION *pi, const struct pss_linux_process_info *li,
		      const char *image)
{
	char created[64];
	size_t i, start;

	filetime_iso(pi->CreateTime, created, sizeof(created));
	json_obj_begin();
	json_kv_int("pid", pi->ProcessId);
	json_kv_int("ppid", pi->ParentProcessId);
	json_kv_str("image", image);
	json_kv_str("exe", li->exe);
	json_key("comm");
	json_strn(li->comm, strnlen(li->comm, sizeof(li->comm)));
	json_key("cmdline");
	json_arr_begin();
	for (i = start = 0; li->cmdline && i < li->cmdline_len; i++) {
		if (li->cmdline[i])
			continue;
		json_strn(li->cmdline + start, i - start);
		start = i + 1;
	}
	if (li->cmdline && start < li->cmdline_len)
		json_strn(li->cmdline + start, li->cmdline_len - start);
	json_arr_end();
	json_key("state");
	json_strn(&li->state, li->state ? 1 : 0);
	json_kv_bool("exited", pi->ExitStatus != STILL_ACTIVE);
	json_kv_bool("frozen", pi->Flags & PSS_PROCESS_FLAGS_FROZEN);
	json_kv_bool("dumpable", !(pi->Flags & PSS_PROCESS_FLAGS_PROTECTED));
	json_kv_uint("threads", li->num_threads);
	json_kv_str("created", created);
	json_kv_uint("start_time_ns", li->start_time_ns);
	json_kv_double("user_time_s", cli_duration_s(pi->UserTime));
	json_kv_double("kernel_time_s", cli_duration_s(pi->KernelTime));
	json_kv_str("priority_class", priority_class_name(pi->PriorityClass));
	json_kv_int("base_priority", pi->BasePriority);
	json_kv_int("nice", li->nice);
	json_kv_uint("affinity_mask", (uintptr_t)pi->AffinityMask);
	json_kv_uint("virtual_size", (uintptr_t)pi->VirtualSize);
	json_kv_uint("peak_virtual_size", (uintptr_t)pi->PeakVirtualSize);
	json_kv_uint("working_set", (uintptr_t)pi->WorkingSetSize);
	json_kv_uint("peak_working_set", (uintptr_t)pi->PeakWorkingSetSize);
	json_kv_uint("private_bytes", (uintptr_t)pi->PrivateUsage);
	json_kv_uint("page_faults", pi->PageFaultCount);
	json_kv_uint("rss_anon", li->rss_anon);
	json_kv_uint("rss_file", li->rss_file);
	json_kv_uint("rss_shmem", li->rss_shmem);
	json_kv_uint("swap", li->swap);
	json_kv_int("uid", li->uid);
	json_kv_int("euid", li->euid);
	json_kv_int("gid", li->gid);
	json_kv_int("egid", li->egid);
	json_kv_str("cwd", li->cwd);
	json_kv_uint("coredump_filter", li->coredump_filter);
	json_kv_int("seccomp_mode", li->seccomp_mode);
	json_kv_int("tracer_pid", li->tracer_pid);
	json_obj_end();
}

static void info_text(const PSS_PROCESS_INFORMATION *pi, const struct pss_linux_process_info *li,
		      const char *name)
{
	char created[64];
	size_t i;

	cli_filetime(pi->CreateTime, created, sizeof(created));
	printf("%-20s %u\n", "pid", pi->ProcessId);
	printf("%-20s %u\n", "parent", pi->ParentProcessId);
	printf("%-20s %s\n", "image", name);
	printf("%-20s ", "command line");
	for (i = 0; i < li->cmdline_len; i++)
		putchar(li->cmdline[i] ? li->cmdline[i] : ' ');
	putchar('\n');
	printf("%-20s %c (%s%s%s)\n", "state", li->state,
	       pi->ExitStatus == STILL_ACTIVE ? "running" : "exited",
	       pi->Flags & PSS_PROCESS_FLAGS_FROZEN ? ", frozen" : "",
	       pi->Flags & PSS_PROCESS_FLAGS_PROTECTED ? ", not dumpable" : "");
	printf("%-20s %u\n", "threads", li->num_threads);
	printf("%-20s %s\n", "created", created);
	printf("%-20s user %.2f s, kernel %.2f s\n", "cpu time", cli_duration_s(pi->UserTime),
	       cli_duration_s(pi->KernelTime));
	printf("%-20s %s (base %d, nice %d)\n", "priority class",
	       priority_class_name(pi->PriorityClass), pi->BasePriority, li->nice);
	printf("%-20s 0x%" PRIxPTR "\n", "affinity", (uintptr_t)pi->AffinityMask);
	printf("%-20s %" PRIuPTR " KiB (peak %" PRIuPTR " KiB)\n", "virtual size",
	       (uintptr_t)pi->VirtualSize / 1024, (uintptr_t)pi->PeakVirtualSize / 1024);
	printf("%-20s %" PRIuPTR " KiB (peak %" PRIuPTR " KiB)\n", "working set",
	       (uintptr_t)pi->WorkingSetSize / 1024, (uintptr_t)pi->PeakWorkingSetSize / 1024);
	printf("%-20s %" PRIuPTR " KiB\n", "private bytes", (uintptr_t)pi->PrivateUsage / 1024);
	printf("%-20s %u\n", "page faults", pi->PageFaultCount);
	printf("%-20s %d/%d (uid/euid)\n", "user", li->uid, li->euid);
	printf("%-20s %s\n", "cwd", li->cwd);
	printf("%-20s 0x%x\n", "coredump filter", li->coredump_filter);
	if (li->tracer_pid)
		printf("%-20s %d\n", "traced by", li->tracer_pid);
}

int cmd_info(pid_t pid, const struct cli_opts *o)
{
	struct pss_linux_process_info li = { .sz = sizeof(li) };
	PSS_PROCESS_INFORMATION pi;
	char name[1024];
	HPSS s;
	int rc;

	rc = cli_capture(pid, PSS_CAPTURE_NONE, 0, o, &s);
	if (rc)
		return rc;
	PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi));
	pss_linux_query_process(s, &li);
	cli_utf16(pi.ImageFileName, sizeof(pi.ImageFileName), name, sizeof(name));
	if (o->json)
		info_json(&pi, &li, name);
	else
		info_text(&pi, &li, name);
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

/* The registers as a JSON object, names as in struct user_regs_struct. */
static void regs_json(const struct pss_linux_regs *r)
{
	json_key("regs");
	json_obj_begin();
#define R(x) json_kv_uint(#x, r->x)
	R(rip); R(rsp); R(rbp); R(rax); R(rbx); R(rcx); R(rdx); R(rsi); R(rdi);
	R(r8); R(r9); R(r10); R(r11); R(r12); R(r13); R(r14); R(r15);
	R(eflags); R(orig_rax); R(fs_base); R(gs_base); R(cs); R(ss);
#undef R
	json_obj_end();
}

static void thread_json(const PSS_THREAD_ENTRY *te, const struct pss_linux_thread_info *ti,
			const char *name, const struct cli_opts *o)
{
	json_obj_begin();
	json_kv_uint("tid", te->ThreadId);
	json_kv_str("name", name);
	json_key("state");
	json_strn(&ti->state, ti->state ? 1 : 0);
	json_key("syscall");
	if (te->LastSyscallNumber == 0xFFFF)
		json_null();
	else
		json_uint(te->LastSyscallNumber);
	json_kv_uint("syscall_arg0", (uintptr_t)te->LastSyscallFirstArgument);
	json_kv_double("user_time_s", cli_duration_s(te->UserTime));
	json_kv_double("kernel_time_s", cli_duration_s(te->KernelTime));
	json_kv_int("priority", te->Priority);
	json_kv_int("nice", ti->nice);
	json_kv_uint("processor", ti->processor);
	json_kv_bool("stopped", te->SuspendCount != 0);
	if (o->regs && ti->have_regs)
		regs_json(&ti->regs);
	json_obj_end();
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
	if (o->json) {
		json_obj_begin();
		json_kv_int("pid", pid);
		json_key("threads");
		json_arr_begin();
	} else {
		printf("%-8s %-16s %-5s %-8s %-10s %9s %9s %4s\n", "TID", "NAME", "STATE",
		       "SYSCALL", "ARG0", "USER(s)", "SYS(s)", "PRIO");
	}
	while (!(err = PssWalkSnapshot(s, PSS_WALK_THREADS, w, &te, sizeof(te)))) {
		struct pss_linux_thread_info ti = { .sz = sizeof(ti) };
		char sc[16];

		if (PssWalkSnapshot(s, PSS_WALK_THREAD_NAME, wn, &tn, sizeof(tn)))
			tn.ThreadNameSize = 0;
		cli_utf16(tn.ThreadName, tn.ThreadNameSize, name, sizeof(name));
		pss_linux_query_thread(s, (pid_t)te.ThreadId, &ti);
		if (o->json) {
			thread_json(&te, &ti, name, o);
			continue;
		}
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
	if (o->json) {
		json_arr_end();
		if (o->regs) {
			json_kv_double("pause_ms", li.pause_ns / 1e6);
			json_kv_uint("deferred_threads", li.deferred_threads);
		}
		json_kv_bool("complete", err == ERROR_NO_MORE_ITEMS);
		json_obj_end();
	} else if (o->regs) {
		printf("target paused %.3f ms to read registers", li.pause_ns / 1e6);
		if (li.deferred_threads)
			printf(" (%u idle threads read just after)", li.deferred_threads);
		printf("\n");
	}
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

/* The type-specific members of one handle's JSON object. */
static void handle_json_detail(const struct pss_linux_handle_info *li, const PSS_HANDLE_ENTRY *e)
{
	const char *t = li->type_name ? li->type_name : "";

	if (!strcmp(t, "Socket")) {
		json_key("socket");
		json_obj_begin();
		json_kv_int("family", li->sock_family);
		json_kv_int("type", li->sock_type);
		json_kv_int("protocol", li->sock_protocol);
		json_kv_int("state", li->sock_state);
		json_kv_bool("listening", li->sock_state == 10);	/* TCP_LISTEN */
		json_kv_str("local", li->sock_local);
		json_kv_str("remote", li->sock_remote);
		json_obj_end();
	} else if (!strcmp(t, "EventFd")) {
		json_key("eventfd");
		json_obj_begin();
		json_kv_uint("count", li->eventfd_count);
		json_kv_bool("semaphore", li->eventfd_semaphore);
		json_obj_end();
	} else if (!strcmp(t, "PidFd")) {
		json_key("pidfd");
		json_obj_begin();
		json_kv_int("pid", li->pidfd_pid);
		json_obj_end();
	} else if (!strcmp(t, "TimerFd")) {
		json_key("timerfd");
		json_obj_begin();
		json_kv_int("clockid", li->timerfd_clockid);
		json_kv_uint("ticks", li->timerfd_ticks);
		json_kv_uint("value_ns", li->timerfd_value_ns);
		json_kv_uint("interval_ns", li->timerfd_interval_ns);
		json_obj_end();
	} else if (!strcmp(t, "SignalFd")) {
		json_key("signalfd");
		json_obj_begin();
		json_kv_uint("mask", li->signalfd_mask);
		json_obj_end();
	} else if (!strcmp(t, "Epoll")) {
		json_key("epoll");
		json_obj_begin();
		json_kv_uint("fds", li->epoll_targets);
		json_obj_end();
	} else if (!strcmp(t, "Inotify")) {
		json_key("inotify");
		json_obj_begin();
		json_kv_uint("watches", li->inotify_watches);
		json_obj_end();
	}
}

static void handle_json(int fd, const PSS_HANDLE_ENTRY *e, const char *type, const char *name,
			const struct pss_linux_handle_info *li, bool have_li, const char *detail)
{
	json_obj_begin();
	json_kv_int("fd", fd);
	json_kv_str("type", type);
	json_key("object_type");
	if (e->ObjectType == PSS_OBJECT_TYPE_UNKNOWN)
		json_null();
	else
		json_str(object_type_name(e->ObjectType));
	json_kv_bool("inherit", e->Attributes & 2);
	json_kv_str("name", name);
	json_kv_str("detail", detail);
	if (have_li) {
		json_key("link");
		json_str(li->link ? li->link : "");
		json_kv_uint("flags", li->fd_flags);
		json_kv_bool("cloexec", li->cloexec);
		json_kv_uint("pos", li->pos);
		json_kv_uint("inode", li->inode);
		json_kv_uint("mode", li->mode);
		json_kv_uint("size", li->size);
		handle_json_detail(li, e);
	}
	json_obj_end();
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
	if (o->json) {
		json_obj_begin();
		json_kv_int("pid", pid);
		json_key("handles");
		json_arr_begin();
	} else {
		printf("%5s %-11s %-9s %-3s %-44s %s\n", "FD", "TYPE", "OBJECT", "INH", "NAME",
		       "DETAIL");
	}
	while (!(err = PssWalkSnapshot(s, PSS_WALK_HANDLES, w, &e, sizeof(e)))) {
		struct pss_linux_handle_info li = { .sz = sizeof(li) };
		int fd = (int)(intptr_t)e.Handle;
		bool have_li;

		cli_utf16(e.TypeName, e.TypeNameLength, type, sizeof(type));
		cli_utf16(e.ObjectName, e.ObjectNameLength, name, sizeof(name));
		detail[0] = '\0';
		have_li = !pss_linux_query_handle(s, fd, &li);
		if (have_li)
			handle_detail(&li, &e, detail, sizeof(detail));
		if (o->json)
			handle_json(fd, &e, type, name, &li, have_li, detail);
		else
			printf("%5d %-11s %-9s %-3s %-44s %s\n", fd, type,
			       object_type_name(e.ObjectType), e.Attributes & 2 ? "yes" : "no", name,
			       detail);
	}
	if (o->json) {
		json_arr_end();
		json_kv_bool("complete", err == ERROR_NO_MORE_ITEMS);
		json_obj_end();
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

/* rwxp / rw-s as in /proc/PID/maps. */
static void prot_string(const struct pss_linux_region_info *ri, char buf[5])
{
	buf[0] = ri->prot & 1 ? 'r' : '-';	/* PROT_READ */
	buf[1] = ri->prot & 2 ? 'w' : '-';	/* PROT_WRITE */
	buf[2] = ri->prot & 4 ? 'x' : '-';	/* PROT_EXEC */
	buf[3] = ri->shared ? 's' : 'p';
	buf[4] = '\0';
}

static void region_json(const PSS_VA_SPACE_ENTRY *e, const struct pss_linux_region_info *ri,
			bool have_ri, const char *name)
{
	char prot[5];

	json_obj_begin();
	json_kv_uint("address", (uintptr_t)e->BaseAddress);
	json_kv_uint("size", (uintptr_t)e->RegionSize);
	json_kv_str("state", e->State == MEM_FREE ? "free" :
			     e->State == MEM_RESERVE ? "reserve" : "commit");
	if (e->State != MEM_FREE) {
		json_kv_str("type", type_name(e->Type));
		json_kv_str("protect", protect_name(e->Protect));
		json_kv_uint("protect_flags", e->Protect);
		json_kv_str("mapping", name);
	}
	if (have_ri) {
		prot_string(ri, prot);
		json_kv_str("perms", prot);
		json_kv_uint("offset", ri->offset);
		json_kv_uint("inode", ri->inode);
		json_kv_bool("deleted", ri->deleted);
		json_kv_uint("rss", ri->rss);
		json_kv_uint("pss", ri->pss);
		json_kv_uint("anonymous", ri->anonymous);
		json_kv_uint("swap", ri->swap);
		json_kv_uint("private_dirty", ri->private_dirty);
		json_kv_uint("shared_dirty", ri->shared_dirty);
	}
	json_obj_end();
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
	if (o->json) {
		json_obj_begin();
		json_kv_int("pid", pid);
		json_key("regions");
		json_arr_begin();
	} else {
		printf("%-16s %10s %10s %-8s %-8s %-18s %s\n", "ADDRESS", "KBYTES", "RSS", "STATE",
		       "TYPE", "PROTECT", "MAPPING");
	}
	while (!(err = PssWalkSnapshot(s, PSS_WALK_VA_SPACE, w, &e, sizeof(e)))) {
		struct pss_linux_region_info ri = { .sz = sizeof(ri) };
		bool have_ri;

		if (e.State == MEM_FREE) {
			if (o->verbose && o->json)
				region_json(&e, &ri, false, "");
			else if (o->verbose)
				printf("%016" PRIxPTR " %10" PRIuPTR " %10s %-8s\n",
				       (uintptr_t)e.BaseAddress, (uintptr_t)e.RegionSize / 1024, "",
				       "free");
			continue;
		}
		have_ri = !pss_linux_query_region(s, idx++, &ri);
		if (!have_ri)
			memset(&ri, 0, sizeof(ri));
		cli_utf16(e.MappedFileName, e.MappedFileNameLength, name, sizeof(name));
		if (!name[0] && ri.name)
			snprintf(name, sizeof(name), "%s", ri.name);
		total_rss += ri.rss;
		total_size += e.RegionSize;
		if (o->json) {
			region_json(&e, &ri, have_ri, name);
			continue;
		}
		printf("%016" PRIxPTR " %10" PRIuPTR " %10llu %-8s %-8s %-18s %s%s\n",
		       (uintptr_t)e.BaseAddress, (uintptr_t)e.RegionSize / 1024, ri.rss / 1024,
		       e.State == MEM_RESERVE ? "reserve" : "commit", type_name(e.Type),
		       protect_name(e.Protect), name, ri.deleted ? " (deleted)" : "");
	}
	if (o->json) {
		json_arr_end();
		json_kv_uint("total_size", total_size);
		json_kv_uint("total_rss", total_rss);
		json_kv_bool("complete", err == ERROR_NO_MORE_ITEMS);
		json_obj_end();
	} else {
		printf("%-16s %10llu %10llu\n", "total", (unsigned long long)total_size / 1024,
		       (unsigned long long)total_rss / 1024);
	}
	PssWalkMarkerFree(w);
	cli_free(s);
	return err == ERROR_NO_MORE_ITEMS ? EXIT_OK : EXIT_PARTIAL;
}
