// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * snapshot-loop - take N full snapshots of running servers and free them,
 * through the public API only, checking each one.
 *
 *   snapshot-loop [-n COUNT] [-i INTERVAL_MS] PID...
 *
 * Each round captures every PID with VA_CLONE | THREADS | THREAD_CONTEXT |
 * VA_SPACE | HANDLES, checks what the snapshot says against /proc (its pid,
 * thread, region and handle counts, a live clone that is a "pss-clone"),
 * frees it, then checks that the clone is gone and that the target is left
 * neither stopped nor traced.  Prints one line per PID:
 *
 *   pid PID captures N max_pause_us U mean_pause_us M deferred D redone R
 *
 * (D: threads read just after the pause, summed over the captures; R:
 * captures whose stop was made again with every thread)
 *
 * and "error: ..." lines for anything wrong; exits 0 only if all is well.
 * Used by the server tests and bench/servers.sh; the servers are theirs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>

#define FLAGS (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | \
	       PSS_CAPTURE_VA_SPACE | PSS_CAPTURE_HANDLES)

struct target {
	pid_t pid;
	unsigned captures;
	unsigned long long max_pause_ns, sum_pause_ns;
	unsigned long long deferred;
	unsigned redone;
};

static int errors;

static void fail(pid_t pid, const char *what, const char *detail)
{
	printf("error: pid %d: %s%s%s\n", (int)pid, what, detail ? ": " : "", detail ? detail : "");
	errors++;
}

/* stat_of() - state and parent of @pid from /proc/PID/stat; false if gone. */
static bool stat_of(pid_t pid, char *state, pid_t *ppid, char comm[17])
{
	char path[64], buf[1024], *p, *open_paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: it ends at the last ')' */
	open_paren = strchr(buf, '(');
	p = strrchr(buf, ')');
	if (!open_paren || !p || p[1] != ' ')
		return false;
	if (comm) {
		size_t len = (size_t)(p - open_paren - 1);

		if (len > 16)
			len = 16;
		memcpy(comm, open_paren + 1, len);
		comm[len] = '\0';
	}
	*state = p[2];
	*ppid = (pid_t)strtol(p + 4, NULL, 10);
	return true;
}

/* count_dir() - entries of a /proc directory (tasks or fds), -1 if unreadable. */
static int count_dir(pid_t pid, const char *sub)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, sub);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* tracer_of() - TracerPid of @pid's status, -1 if unreadable. */
static long tracer_of(pid_t pid)
{
	char path[64], line[256];
	long tracer = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "TracerPid:", 10))
			tracer = strtol(line + 10, NULL, 10);
	fclose(f);
	return tracer;
}

/*
 * check_snapshot() - what the snapshot says agrees with /proc.  Counts of
 * threads and fds are compared loosely (a server may open a connection or
 * start a thread between the capture and the look at /proc), but never zero.
 * Returns the clone's pid, or 0.
 */
static pid_t check_snapshot(struct target *t, HPSS snap)
{
	PSS_PROCESS_INFORMATION pi;
	PSS_THREAD_INFORMATION ti;
	PSS_VA_SPACE_INFORMATION vi;
	PSS_HANDLE_INFORMATION hi;
	PSS_VA_CLONE_INFORMATION ci;
	struct pss_linux_process_info li = { .sz = sizeof(li) };
	char state, comm[17];
	pid_t clone_pid = 0, ppid;
	DWORD rc;

	rc = PssQuerySnapshot(snap, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi));
	if (rc || pi.ProcessId != (DWORD)t->pid)
		fail(t->pid, "process information", pss_linux_error_message(rc));
	rc = PssQuerySnapshot(snap, PSS_QUERY_THREAD_INFORMATION, &ti, sizeof(ti));
	if (rc || ti.ThreadsCaptured == 0 || ti.ContextLength == 0)
		fail(t->pid, "thread information", pss_linux_error_message(rc));
	else if ((int)ti.ThreadsCaptured > count_dir(t->pid, "task") + 4)
		fail(t->pid, "more threads captured than the process has", NULL);
	rc = PssQuerySnapshot(snap, PSS_QUERY_VA_SPACE_INFORMATION, &vi, sizeof(vi));
	if (rc || vi.RegionCount < 4)
		fail(t->pid, "VA space information", pss_linux_error_message(rc));
	rc = PssQuerySnapshot(snap, PSS_QUERY_HANDLE_INFORMATION, &hi, sizeof(hi));
	if (rc || hi.HandlesCaptured == 0)
		fail(t->pid, "handle information", pss_linux_error_message(rc));
	rc = pss_linux_query_process(snap, &li);
	if (rc)
		fail(t->pid, "pss_linux_query_process", pss_linux_error_message(rc));
	else {
		t->captures++;
		t->sum_pause_ns += li.pause_ns;
		t->deferred += li.deferred_threads;
		t->redone += li.stop_attempts > 1;
		if (li.pause_ns > t->max_pause_ns)
			t->max_pause_ns = li.pause_ns;
	}
	rc = PssQuerySnapshot(snap, PSS_QUERY_VA_CLONE_INFORMATION, &ci, sizeof(ci));
	if (rc || !ci.VaCloneHandle) {
		fail(t->pid, "VA clone information", pss_linux_error_message(rc));
		return 0;
	}
	clone_pid = (pid_t)GetProcessId(ci.VaCloneHandle);
	if (clone_pid <= 0 || !stat_of(clone_pid, &state, &ppid, comm)) {
		fail(t->pid, "the VA clone is not a live process", NULL);
		return 0;
	}
	if (strcmp(comm, "pss-clone"))
		fail(t->pid, "the VA clone is not named pss-clone", comm);
	return clone_pid;
}

/* one_round() - capture, check, free and check again for one target. */
static void one_round(struct target *t)
{
	HANDLE h = NULL;
	HPSS snap = NULL;
	pid_t clone_pid, ppid;
	char state, comm[17];
	DWORD rc;

	rc = pss_linux_open_pid(t->pid, &h);
	if (rc) {
		fail(t->pid, "open", pss_linux_error_message(rc));
		return;
	}
	rc = PssCaptureSnapshot(h, FLAGS, CONTEXT_ALL, &snap);
	if (rc) {
		fail(t->pid, "capture", pss_linux_error_message(rc));
		goto close_handle;
	}
	clone_pid = check_snapshot(t, snap);
	rc = PssFreeSnapshot(GetCurrentProcess(), snap);
	if (rc)
		fail(t->pid, "free", pss_linux_error_message(rc));
	/* the clone is reaped by the free: gone, or its pid already reused */
	if (clone_pid > 0 && stat_of(clone_pid, &state, &ppid, comm) && !strcmp(comm, "pss-clone"))
		fail(t->pid, "a pss-clone outlived PssFreeSnapshot", NULL);
	if (!stat_of(t->pid, &state, &ppid, NULL))
		fail(t->pid, "the target is gone", NULL);
	else if (state == 'T' || state == 't' || state == 'Z' || state == 'X')
		fail(t->pid, "the target is left stopped or dead", (char[]){ state, 0 });
	if (tracer_of(t->pid) != 0)
		fail(t->pid, "the target is left traced", NULL);
close_handle:
	CloseHandle(h);
}

int main(int argc, char **argv)
{
	struct target *targets;
	unsigned count = 20, interval_ms = 0;
	int opt, ntargets, i;

	while ((opt = getopt(argc, argv, "n:i:")) != -1) {
		switch (opt) {
		case 'n':
			count = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'i':
			interval_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: snapshot-loop [-n COUNT] [-i INTERVAL_MS] PID...\n");
			return 64;
		}
	}
	ntargets = argc - optind;
	if (ntargets <= 0) {
		fprintf(stderr, "usage: snapshot-loop [-n COUNT] [-i INTERVAL_MS] PID...\n");
		return 64;
	}
	targets = calloc((size_t)ntargets, sizeof(*targets));
	if (!targets)
		return 2;
	for (i = 0; i < ntargets; i++)
		targets[i].pid = (pid_t)strtol(argv[optind + i], NULL, 10);

	for (unsigned round = 0; round < count; round++) {
		for (i = 0; i < ntargets; i++)
			one_round(&targets[i]);
		if (interval_ms) {
			struct timespec ts = { interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	for (i = 0; i < ntargets; i++) {
		struct target *t = &targets[i];

		printf("pid %d captures %u max_pause_us %llu mean_pause_us %llu deferred %llu "
		       "redone %u\n", (int)t->pid, t->captures, t->max_pause_ns / 1000,
		       t->captures ? t->sum_pause_ns / t->captures / 1000 : 0, t->deferred,
		       t->redone);
	}
	free(targets);
	fflush(stdout);
	return errors ? 1 : 0;
}
