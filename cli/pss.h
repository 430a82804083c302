/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pss tool: shared declarations of its subcommands. */
#ifndef PSS_CLI_H
#define PSS_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>

/* Exit codes (documented in pss(1)). */
#define EXIT_OK 0
#define EXIT_PARTIAL 1
#define EXIT_FAILURE_ 2
#define EXIT_USAGE 64
#define EXIT_PERM 77

struct cli_opts {
	bool regs;		/* threads: print registers */
	bool verbose;
	bool json;		/* --json: one document on stdout (json.h) */
	unsigned timeout_ms;
	bool stop_all;		/* --stop-all: PSS_LINUX_CAPTURE_STOP_ALL */
};

/* One capture of pid with flags; prints the reason on failure and returns
 * the exit code (0 and *ret on success). */
int cli_capture(pid_t pid, PSS_CAPTURE_FLAGS flags, DWORD ctx_flags, const struct cli_opts *o,
		HPSS *ret);
void cli_free(HPSS s);
/* The one-line reason cli_capture printed last ("" after a success). */
const char *cli_last_error(void);
/* Append to *pids (realloc'd; *npids entries) every process whose comm or
 * argv[0] basename is @name, pss itself excepted.  Return: 0, or -1 after
 * printing why. */
int cli_find_by_name(const char *name, pid_t **pids, size_t *npids);
/* UTF-16 (len in bytes) to UTF-8 into buf; returns buf. */
char *cli_utf16(const WCHAR *s, size_t bytes, char *buf, size_t cap);
/* FILETIME to "YYYY-MM-DD HH:MM:SS" (absolute) or seconds (duration). */
void cli_filetime(FILETIME ft, char *buf, size_t cap);
double cli_duration_s(FILETIME ft);
uint64_t cli_mono_ns(void);				/* CLOCK_MONOTONIC in ns */
/* A process id in decimal (1..INT_MAX) into *ret; -1 if @s is not one. */
int cli_parse_pid(const char *s, pid_t *ret);
char *cli_fmt_size(double bytes, char *buf, size_t cap);	/* "1.02 GiB" */

int cmd_info(pid_t pid, const struct cli_opts *o);
int cmd_threads(pid_t pid, const struct cli_opts *o);
int cmd_handles(pid_t pid, const struct cli_opts *o);
int cmd_vmmap(pid_t pid, const struct cli_opts *o);
/* pss dump: its own options (argv[0] is "dump"). */
int cmd_dump(int argc, char **argv);
int cmd_stacks(pid_t pid, const struct cli_opts *o);

/* What one core written by cli_dump_file() cost. */
struct cli_dump_report {
	unsigned long long bytes;	/* of the file (compressed with -z) */
	unsigned long long core_bytes;	/* of the ELF core */
	double seconds;			/* capture to published file */
	double pause_ms;		/* how long the target was stopped */
	int signal;			/* the signal that cancelled it, or 0 */
	char error[PATH_MAX + 512];	/* why it failed or was partial, or "" */
};
/* One core of the process @h (pid @pid) in exactly @path, with pss dump's
 * capture, file safety and signal handling (cmd-dump.c); for pss watch.
 * Returns the exit code. */
int cli_dump_file(HANDLE h, pid_t pid, const char *path, bool zstd, unsigned timeout_ms,
		  bool stop_all, struct cli_dump_report *ret);
/* pss watch: its own options (argv[0] is "watch"). */
int cmd_watch(int argc, char **argv);

#endif
