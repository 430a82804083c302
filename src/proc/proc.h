/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pure parsers of /proc text.  Each takes (buf, len) - the whole file, not
 * necessarily NUL-terminated - and fills a caller-provided struct.  They do
 * no I/O and no allocation (strings are returned as pointer+length into
 * buf), so every one is tested on stored fixtures and fuzzed.
 *
 * Return 0 or -EINVAL for text that cannot be parsed; -ENOENT from an
 * iterator at the end.  Unknown keys are ignored, missing keys leave the
 * field 0 and its have_ bit clear.  Numbers accept the full 64-bit range.
 */
#ifndef PSS_PROC_H
#define PSS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string inside the parsed buffer. */
struct proc_str {
	const char *p;
	size_t len;
};

/* /proc/PID/stat and /proc/PID/task/TID/stat (proc(5) fields 1-52).
 * comm is found between the first '(' and the LAST ')' of the text, so a
 * comm holding ") R 1 (" or a newline is reported exactly. */
struct proc_stat {
	int32_t pid;
	struct proc_str comm;		/* raw bytes, at most 16 (64 for kthreads) */
	char state;
	int32_t ppid, pgrp, session, tty_nr, tpgid;
	uint32_t flags;			/* PF_* (PF_KTHREAD = 0x00200000) */
	uint64_t minflt, cminflt, majflt, cmajflt;
	uint64_t utime, stime;		/* clock ticks */
	int64_t cutime, cstime;
	int64_t priority, nice;
	int64_t num_threads;
	int64_t itrealvalue;
	uint64_t starttime;		/* clock ticks since boot */
	uint64_t vsize;			/* bytes */
	int64_t rss;			/* pages */
	uint64_t rsslim;
	uint64_t startcode, endcode, startstack, kstkesp, kstkeip;
	uint64_t signal, blocked, sigignore, sigcatch;	/* obsolete decimal masks */
	uint64_t wchan, nswap, cnswap;
	int32_t exit_signal, processor;
	uint32_t rt_priority, policy;
	uint64_t delayacct_blkio_ticks, guest_time;
	int64_t cguest_time;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
	int32_t exit_code;
	unsigned nfields;		/* how many fields the text had (>= 44 on any kernel we support) */
};
int proc_stat_parse(const char *buf, size_t len, struct proc_stat *ret);

/* /proc/PID/status.  Sizes ("kB") are converted to bytes; masks are hex. */
#define PROC_NSPID_MAX 8
struct proc_status {
	char name[64];			/* "Name:" with the kernel's escapes undone (\n, \\) */
	size_t name_len;
	char state;			/* first letter of "State:" */
	int32_t tgid, ngid, pid, ppid, tracer_pid;
	uint32_t uid[4], gid[4];	/* real, effective, saved, fs */
	uint32_t fdsize;
	int32_t nspid[PROC_NSPID_MAX];
	unsigned nspid_count;
	uint64_t vm_peak, vm_size, vm_lck, vm_pin, vm_hwm, vm_rss;
	uint64_t rss_anon, rss_file, rss_shmem;
	uint64_t vm_data, vm_stk, vm_exe, vm_lib, vm_pte, vm_swap;
	uint32_t threads;
	uint64_t sig_pnd, shd_pnd, sig_blk, sig_ign, sig_cgt;	/* signals 1-64 */
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int32_t no_new_privs;
	int32_t seccomp;		/* -1 if absent */
	int32_t seccomp_filters;	/* -1 if absent */
	uint64_t voluntary_ctxt_switches, nonvoluntary_ctxt_switches;
	bool have_vm;			/* Vm* lines present (absent for kernel threads and zombies) */
	bool have_sig;
};
int proc_status_parse(const char *buf, size_t len, struct proc_status *ret);

/* One line of /proc/PID/maps (also the header lines of smaps). */
#define PROC_PROT_READ 0x1
#define PROC_PROT_WRITE 0x2
#define PROC_PROT_EXEC 0x4
struct proc_map {
	uint64_t start, end, offset;
	uint32_t dev_major, dev_minor;
	uint64_t inode;
	unsigned prot;			/* PROC_PROT_* */
	bool shared;			/* 's' rather than 'p' */
	struct proc_str name;		/* raw: "\012" escapes kept, " (deleted)" removed */
	bool deleted;			/* the name ended in " (deleted)" (the suffix is
					 * ambiguous: callers may confirm it; the
					 * suffix bytes still follow name.p) */
};

/* smaps extras for one mapping (sizes in bytes). */
struct proc_smaps {
	uint64_t size, kernel_page_size, rss, pss, shared_clean, shared_dirty;
	uint64_t private_clean, private_dirty, referenced, anonymous, swap, swap_pss, locked;
	uint64_t anon_huge_pages, shmem_pmd_mapped, file_pmd_mapped;
	uint64_t vmflags;		/* PSS_LINUX_VM_* bits of <pss/pss-linux.h> */
	bool have_vmflags;
};

/* An iterator over maps or smaps text. */
struct proc_maps_iter {
	const char *buf;
	size_t len, pos;
};
void proc_maps_iter_init(struct proc_maps_iter *it, const char *buf, size_t len);
/* Next mapping of maps text: 0, -ENOENT at the end, -EINVAL for a bad line
 * (the iterator then skips it, so the caller may continue). */
int proc_maps_next(struct proc_maps_iter *it, struct proc_map *ret);
/* Next mapping of smaps text with its counters; @smaps may be NULL. */
int proc_smaps_next(struct proc_maps_iter *it, struct proc_map *ret, struct proc_smaps *smaps);
/* smaps_rollup: the counters of the single summary entry. */
int proc_smaps_rollup_parse(const char *buf, size_t len, struct proc_smaps *ret);
/* Undo the maps escape of '\n' ("\012") into out (cap bytes); returns the
 * length written (truncated at cap). */
size_t proc_map_name_unescape(struct proc_str name, char *out, size_t cap);
/* The same with only some escapes undone: escape number i (0-based, in
 * text order) becomes '\n' when bit i of @mask is set, the others and any
 * past the 64th stay "\012". */
size_t proc_map_name_variant(struct proc_str name, uint64_t mask, char *out, size_t cap);
/* How many "\012" escapes the name holds. */
unsigned proc_map_name_escapes(struct proc_str name);
/* Parse one VmFlags value list ("rd wr mr mw me ac sd") into PSS_LINUX_VM_*. */
uint64_t proc_vmflags_parse(const char *s, size_t len);

/* /proc/PID/fdinfo/N.  have_* bits say which optional groups were present. */
struct proc_fdinfo {
	uint64_t pos;
	uint32_t flags;			/* octal in the text */
	uint32_t mnt_id;
	uint64_t ino;
	bool have_ino;
	/* eventfd */
	bool have_eventfd;
	uint64_t eventfd_count;
	uint64_t eventfd_id;
	bool eventfd_semaphore;		/* "eventfd-semaphore: 1" (absent on old kernels) */
	/* timerfd */
	bool have_timerfd;
	int32_t timerfd_clockid;
	uint64_t timerfd_ticks;
	uint32_t timerfd_settime_flags;
	uint64_t timerfd_value_ns, timerfd_interval_ns;
	/* signalfd */
	bool have_signalfd;
	uint64_t signalfd_mask;		/* "sigmask:" hex */
	/* inotify: number of "inotify wd:" lines */
	unsigned inotify_watches;
	/* epoll: number of "tfd:" lines */
	unsigned epoll_targets;
	/* pidfd */
	bool have_pidfd;
	int32_t pidfd_pid;		/* "Pid:"; -1 if the process was reaped */
	int32_t pidfd_nspid[PROC_NSPID_MAX];
	unsigned pidfd_nspid_count;
};
int proc_fdinfo_parse(const char *buf, size_t len, struct proc_fdinfo *ret);

/* /proc/PID/task/TID/syscall: "nr a1..a6 sp pc" (hex args), "-1 sp pc"
 * (blocked outside a syscall) or "running". */
struct proc_syscall {
	int64_t nr;			/* -1 not in a syscall; -2 "running" */
	uint64_t args[6];
	uint64_t sp, pc;
};
int proc_syscall_parse(const char *buf, size_t len, struct proc_syscall *ret);

/* /proc/PID/auxv: native (u64, u64) pairs up to AT_NULL.  Returns 0 and
 * the value, or -ENOENT if @type is absent. */
int proc_auxv_get(const void *buf, size_t len, uint64_t type, uint64_t *ret);

/* /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}: find the line of socket @inode. */
struct proc_inet_sock {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t local_addr[16], remote_addr[16];	/* network byte order */
	uint16_t local_port, remote_port;		/* host order */
	int state;			/* TCP_* state number (hex "st") */
	uint64_t inode;
};
int proc_net_inet_find(const char *buf, size_t len, int family, uint64_t inode,
		       struct proc_inet_sock *ret);

/* /proc/net/unix: find the line of socket @inode. */
struct proc_unix_sock {
	uint32_t type;			/* SOCK_STREAM, ... */
	uint32_t state;			/* SS_* (01 unconnected, 03 connected) */
	uint32_t flags;			/* __SO_ACCEPTCON (0x10000) when listening */
	uint64_t inode;
	struct proc_str path;		/* may be empty; '@' for abstract names */
};
int proc_net_unix_find(const char *buf, size_t len, uint64_t inode, struct proc_unix_sock *ret);

/* /proc/PID/cmdline etc. need no parser; /proc/PID/coredump_filter is hex. */
int proc_hex_u64_parse(const char *buf, size_t len, uint64_t *ret);

#endif /* PSS_PROC_H */
