// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live tests of PSS_QUERY_PROCESS_INFORMATION on PSS_CAPTURE_NONE snapshots:
 * every field with a Linux source agrees with /proc; priority classes follow
 * nice; a stopped target is FROZEN; and such a capture never stops anyone.
 */
#include "harness.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static PSS_PROCESS_INFORMATION query_pi(HPSS s)
{
	PSS_PROCESS_INFORMATION pi;

	memset(&pi, 0xa5, sizeof(pi));
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi)));
	return pi;
}

static unsigned long long stat_field(pid_t pid, int field)
{
	char path[64], buf[2048], *p;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_text(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return 0;
	p += 2;		/* field 3 */
	for (int f = 3; f < field && p; f++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		v = strtoull(p, NULL, 10);
	return v;
}

static void check_image_name(const PSS_PROCESS_INFORMATION *pi, pid_t pid)
{
	char path[64], exe[1024];
	char *got;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	got = u16_to_utf8(pi->ImageFileName, (size_t)-1);
	CHECK(!strcmp(got, exe), "ImageFileName '%s', exe '%s'", got, exe);
	CHECK(u16_len(pi->ImageFileName) < MAX_PATH, "ImageFileName not NUL-terminated");
	free(got);
}

/* Proves: pid, ppid, ImageFileName, memory counters, ExitStatus, priority
 * class, affinity and PebBaseAddress match /proc and the kernel's view. */
TEST(process_information_matches_proc)
{
	struct target t;
	PSS_PROCESS_INFORMATION pi;
	cpu_set_t cpus;
	ULONG_PTR mask = 0;
	long long vm, rss;
	HPSS s;

	start_victim(&t);
	s = capture_ok(t.pid, PSS_CAPTURE_NONE, 0);
	vm = status_kb(t.pid, "VmSize") * 1024;
	rss = status_kb(t.pid, "VmRSS") * 1024;
	pi = query_pi(s);
	CHECK_EQ_U64(pi.ProcessId, t.pid);
	CHECK_EQ_U64(pi.ParentProcessId, getpid());
	CHECK_EQ_U64(pi.ExitStatus, STILL_ACTIVE);
	CHECK_EQ_HEX(pi.PriorityClass, NORMAL_PRIORITY_CLASS);
	CHECK_EQ_INT(pi.BasePriority, 8);
	CHECK(!(pi.Flags & PSS_PROCESS_FLAGS_FROZEN), "running target FROZEN (%#x)", pi.Flags);
	CHECK(!(pi.Flags & PSS_PROCESS_FLAGS_WOW64), "x86-64 target WOW64");
	check_image_name(&pi, t.pid);
	/* the victim is idle: its sizes do not move between capture and now */
	CHECK((long long)pi.VirtualSize > vm - (1 << 20) && (long long)pi.VirtualSize < vm + (1 << 20),
	      "VirtualSize %lu, VmSize %lld", (unsigned long)pi.VirtualSize, vm);
	CHECK((long long)pi.WorkingSetSize > rss - (1 << 20) && (long long)pi.WorkingSetSize < rss + (1 << 20),
	      "WorkingSetSize %lu, VmRSS %lld", (unsigned long)pi.WorkingSetSize, rss);
	CHECK_GE_U64(pi.PeakVirtualSize, pi.VirtualSize);
	CHECK_GE_U64(pi.PeakWorkingSetSize, pi.WorkingSetSize);
	CHECK(filetime_u64(pi.ExitTime) == 0, "live process has an ExitTime");
	CHECK_EQ_HEX((unsigned long)pi.PebBaseAddress, stat_field(t.pid, 48));	/* arg_start */
	REQUIRE(sched_getaffinity(t.pid, sizeof(cpus), &cpus) == 0, "sched_getaffinity");
	for (int i = 0; i < 64; i++)
		if (CPU_ISSET(i, &cpus))
			mask |= (ULONG_PTR)1 << i;
	CHECK_EQ_HEX(pi.AffinityMask, mask);
	free_snap(s);
}

/* Proves: pss_linux_query_process() agrees with /proc for the ids, state,
 * exe, cmdline and nice, and reports that nothing was stopped or traced. */
TEST(linux_process_detail)
{
	struct target t;
	struct pss_linux_process_info lp;
	HPSS s;

	start_victim(&t);
	s = capture_ok(t.pid, PSS_CAPTURE_NONE, 0);
	memset(&lp, 0, sizeof(lp));
	lp.sz = sizeof(lp);
	REQUIRE_OK(pss_linux_query_process(s, &lp));
	CHECK_EQ_INT(lp.pid, t.pid);
	CHECK_EQ_INT(lp.ppid, getpid());
	CHECK_EQ_INT(lp.pgrp, getpgid(t.pid));
	CHECK_EQ_INT(lp.sid, getsid(t.pid));
	CHECK_EQ_INT(lp.uid, getuid());
	CHECK(lp.state == 'S', "state '%c'", lp.state);
	CHECK(!strcmp(lp.comm, "victim"), "comm '%s'", lp.comm);
	CHECK(lp.exe && strstr(lp.exe, "/victim"), "exe '%s'", lp.exe);
	CHECK(lp.cmdline && lp.cmdline_len > 0 && strstr(lp.cmdline, "victim"), "cmdline '%s'", lp.cmdline);
	CHECK_EQ_INT(lp.nice, 0);
	CHECK_EQ_INT(lp.tracer_pid, 0);
	CHECK_EQ_U64(lp.pause_ns, 0);
	CHECK_EQ_INT(lp.num_threads, 1);
	CHECK(lp.dumpable != 0, "a dumpable victim reported not dumpable");	/* -1: unknown */
	CHECK(lp.nspid_count >= 1 && lp.nspid[0] == t.pid, "nspid_count %u nspid[0] %d", lp.nspid_count,
	      lp.nspid[0]);
	CHECK(lp.auxv_entry != 0, "no AT_ENTRY");
	CHECK_EQ_U64(lp.start_time_ns, task_start_ns(t.pid, t.pid));
	lp.sz = 3;
	CHECK_ERR(pss_linux_query_process(s, &lp), ERROR_INVALID_PARAMETER);
	free_snap(s);
}

/* Proves: PriorityClass follows nice: 0 NORMAL, 10 BELOW_NORMAL, 19 IDLE. */
TEST(priority_class_follows_nice)
{
	struct target t;
	char r[128];
	HPSS s;

	start_victim(&t);
	target_cmdf(&t, r, sizeof(r), "nice 10");
	REQUIRE(reply_get(r, "ret", -1) == 0, "nice: %s", r);
	s = capture_ok(t.pid, PSS_CAPTURE_NONE, 0);
	CHECK_EQ_HEX(query_pi(s).PriorityClass, BELOW_NORMAL_PRIORITY_CLASS);
	free_snap(s);
	target_cmdf(&t, r, sizeof(r), "nice 9");	/* now 19 */
	s = capture_ok(t.pid, PSS_CAPTURE_NONE, 0);
	CHECK_EQ_HEX(query_pi(s).PriorityClass, IDLE_PRIORITY_CLASS);
	free_snap(s);
}

/* Proves: GetCurrentProcess() is accepted as the target. */
TEST(current_process_as_target)
{
	HPSS s = NULL;
	PSS_PROCESS_INFORMATION pi;

	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_NONE, 0, &s));
	pi = query_pi(s);
	CHECK_EQ_U64(pi.ProcessId, getpid());
	CHECK_EQ_U64(pi.ParentProcessId, getppid());
	check_image_name(&pi, getpid());
	free_snap(s);
	/* threads of the calling process, without stopping it */
	REQUIRE_OK(PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_THREADS, 0, &s));
	{
		PSS_THREAD_INFORMATION ti;

		REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti)));
		CHECK_EQ_INT(ti.ThreadsCaptured, thread_count(getpid()));
	}
	free_snap(s);
}

/* Proves: a SIGSTOPped target is FROZEN, and a NONE capture leaves it
 * stopped (state T) with no tracer; it runs again after SIGCONT. */
TEST(stopped_target_is_frozen)
{
	struct target t;
	char r[64];
	siginfo_t si;
	HPSS s;

	start_victim(&t);
	kill(t.pid, SIGSTOP);
	memset(&si, 0, sizeof(si));
	REQUIRE(waitid(P_PID, (id_t)t.pid, &si, WSTOPPED) == 0, "waitid");
	REQUIRE(proc_state(t.pid) == 'T', "state %c", proc_state(t.pid));
	s = capture_ok(t.pid, PSS_CAPTURE_NONE, 0);
	CHECK(query_pi(s).Flags & PSS_PROCESS_FLAGS_FROZEN, "stopped target not FROZEN");
	free_snap(s);
	CHECK(proc_state(t.pid) == 'T', "state %c after capture", proc_state(t.pid));
	CHECK_EQ_INT(proc_tracer_pid(t.pid), 0);
	kill(t.pid, SIGCONT);
	REQUIRE(target_cmd(&t, "ping", r, sizeof(r)) > 0, "no answer after SIGCONT");
	s = capture_ok(t.pid, PSS_CAPTURE_NONE, 0);
	CHECK(!(query_pi(s).Flags & PSS_PROCESS_FLAGS_FROZEN), "running target FROZEN");
	free_snap(s);
}

/* Proves: a NONE capture of a process handle whose process exited but is not
 * reaped (a zombie) fails cleanly with ERROR_INVALID_HANDLE (row 22). */
TEST(zombie_target_refused)
{
	struct target t;
	char r[64];
	HANDLE h;
	HPSS s = (HPSS)0x1;

	start_victim(&t);
	h = open_process(t.pid);
	target_cmd(&t, "exit 3", r, sizeof(r));
	for (int i = 0; i < 500 && proc_state(t.pid) != 'Z'; i++)
		msleep(2);
	REQUIRE(proc_state(t.pid) == 'Z', "victim not a zombie: %c", proc_state(t.pid));
	CHECK_ERR(PssCaptureSnapshot(h, PSS_CAPTURE_NONE, 0, &s), ERROR_INVALID_HANDLE);
	CHECK(s == NULL, "SnapshotHandle not NULL after a failure");
	CHECK(proc_state(t.pid) == 'Z', "zombie changed state");
	CloseHandle(h);
	{
		int st = target_wait(&t, 2000);

		CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3, "exit status %#x", st);
	}
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
