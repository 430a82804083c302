/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <pss/pss-linux.h> - what Linux adds to the Process Snapshotting API.
 *
 * Process handles from a pid or a pidfd, capture options (a timeout, a log
 * callback), error messages, and Linux-only detail about a snapshot's
 * process, threads, handles and regions that the Windows structures have no
 * room for.  Every struct here starts with `size_t sz`, which the caller sets
 * to sizeof(the struct) it was compiled with; the library fills only that
 * much, so old binaries keep working when a struct grows.
 *
 * Strings returned in these structs point into the snapshot and stay valid
 * until PssFreeSnapshot.
 */
#ifndef PSS_PSS_LINUX_H
#define PSS_PSS_LINUX_H

#include <sys/types.h>
#include <pss/processsnapshot.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * pss_linux_open_pid() - open a process handle (a pidfd) for @pid.
 * Return: ERROR_SUCCESS; ERROR_INVALID_PARAMETER (no such process, a thread
 * id that is not a process, pid <= 0, NULL @ret_handle); ERROR_ACCESS_DENIED;
 * ERROR_NO_SYSTEM_RESOURCES (out of file descriptors).
 */
PSS_API DWORD pss_linux_open_pid(pid_t pid, HANDLE *ret_handle);

/**
 * pss_linux_open_pidfd() - make a process handle from a pidfd the caller
 * owns; the handle holds a duplicate, so the caller keeps @pidfd.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE (not a pidfd);
 * ERROR_INVALID_PARAMETER; ERROR_NO_SYSTEM_RESOURCES (out of file descriptors).
 */
PSS_API DWORD pss_linux_open_pidfd(int pidfd, HANDLE *ret_handle);

/** pss_linux_handle_pidfd() - the pidfd behind a process handle, or -1. */
PSS_API int pss_linux_handle_pidfd(HANDLE handle);

/** Log levels of the optional log callback. */
enum pss_linux_log_level {
	PSS_LINUX_LOG_ERROR = 0,
	PSS_LINUX_LOG_WARN = 1,
	PSS_LINUX_LOG_INFO = 2,
	PSS_LINUX_LOG_DEBUG = 3,
};

typedef void (*pss_linux_log_fn)(void *ctx, enum pss_linux_log_level level, const char *msg);

/**
 * pss_linux_set_log() - install a process-wide log callback (NULL: none, the
 * default).  The library never prints; messages of @max_level and below go
 * to @fn, from whichever thread does the work.
 */
PSS_API void pss_linux_set_log(pss_linux_log_fn fn, void *ctx, enum pss_linux_log_level max_level);

/** Options of pss_linux_capture(); zero means "the default" for every field. */
struct pss_linux_options {
	size_t sz;		/* sizeof(struct pss_linux_options) */
	unsigned timeout_ms;	/* longest wait for a thread to stop; default 2000 */
	/* PSS_LINUX_CAPTURE_*; at offset 16, past the padding of the first
	 * version of this struct (sz 16), so that a caller built against it
	 * never has its padding read as flags. */
	unsigned long long flags;
};

/* Every thread in the pause: no thread blocked in a call is left out of it
 * and stopped afterwards (see pss_linux_process_info.deferred_threads). */
#define PSS_LINUX_CAPTURE_STOP_ALL 0x1u

/**
 * pss_linux_capture() - PssCaptureSnapshot with Linux options.  @opts may be
 * NULL.  Return: as PssCaptureSnapshot; ERROR_INVALID_PARAMETER for a bad
 * @opts->sz.
 */
PSS_API DWORD pss_linux_capture(HANDLE ProcessHandle, PSS_CAPTURE_FLAGS CaptureFlags,
				DWORD ThreadContextFlags, const struct pss_linux_options *opts,
				HPSS *SnapshotHandle);

/**
 * pss_linux_error_message() - a one-line English description of a Win32
 * code as libpss uses it ("ERROR_ACCESS_DENIED: ..."); never NULL.
 */
PSS_API const char *pss_linux_error_message(DWORD code);

/**
 * pss_linux_last_capture_error() - for the calling thread's last failed
 * capture, the errno behind the Win32 code and a sentence naming the cause
 * and the fix (e.g. "pid 42 is already traced by pid 17 (gdb)"); empty after
 * a success.  Valid until the thread's next capture.
 */
PSS_API const char *pss_linux_last_capture_error(int *ret_errno);

/** What a snapshot knows of its process beyond PSS_PROCESS_INFORMATION. */
struct pss_linux_process_info {
	size_t sz;
	pid_t pid, ppid, pgrp, sid;
	pid_t tracer_pid;		/* TracerPid before the capture (0: none) */
	uid_t uid, euid;
	gid_t gid, egid;
	char state;			/* R, S, D, T, t, Z, ... from /proc/PID/stat */
	char comm[17];			/* raw bytes of comm, NUL-terminated */
	const char *exe;		/* full path of /proc/PID/exe ("" if unreadable) */
	const char *cmdline;		/* argv, NUL-separated */
	size_t cmdline_len;
	const char *cwd;		/* /proc/PID/cwd ("" if unreadable) */
	int nice;
	unsigned policy;		/* SCHED_* */
	unsigned rt_priority;
	unsigned num_threads;
	int seccomp_mode;		/* 0 off, 1 strict, 2 filter; -1 unknown */
	int dumpable;			/* 1 dumpable, 0 not, -1 unknown */
	unsigned coredump_filter;	/* /proc/PID/coredump_filter */
	unsigned long long start_time_ns;	/* since boot */
	unsigned long long capture_time_ns;	/* CLOCK_REALTIME of the capture */
	unsigned long long pause_ns;	/* how long the target was stopped (0: never) */
	unsigned nspid_count;		/* ids in nested pid namespaces */
	pid_t nspid[8];
	unsigned long long auxv_entry;	/* AT_ENTRY */
	unsigned long long rss_anon, rss_file, rss_shmem, swap;	/* bytes */
	/* The stop (0 when the capture never stopped the target).  Threads
	 * that sat blocked in a system call from before the pause until after
	 * it are not part of the pause: each is stopped on its own afterwards
	 * and kept only if the kernel's count of its runs shows it never ran
	 * in between (so its registers are those of the instant). */
	unsigned deferred_threads;	/* threads read that way, after the pause */
	unsigned stop_attempts;		/* 2: one of them had run, and the stop was
					 * made again with every thread in the pause */
};

/** pss_linux_query_process() - Return: ERROR_SUCCESS, ERROR_INVALID_HANDLE or ERROR_INVALID_PARAMETER. */
PSS_API DWORD pss_linux_query_process(HPSS snapshot, struct pss_linux_process_info *ret);

/** x86-64 registers in struct user_regs_struct order, as ptrace and NT_PRSTATUS have them. */
struct pss_linux_regs {
	unsigned long long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	unsigned long long rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
	unsigned long long fs_base, gs_base, ds, es, fs, gs;
};

/** A thread as Linux sees it. */
struct pss_linux_thread_info {
	size_t sz;
	pid_t tid;
	char state;			/* from /proc/PID/task/TID/stat */
	char comm[17];			/* raw bytes, NUL-terminated */
	long syscall_nr;		/* -1 not in a syscall, -2 running/unknown */
	unsigned long long syscall_args[6];
	unsigned long long sig_blocked;	/* signal mask (signals 1-64) */
	unsigned long long sig_pending;	/* thread-private pending */
	unsigned long long sig_shared_pending;
	int stopped_before;		/* in group stop or traced before the capture */
	int have_regs;			/* regs, fpregs and xstate are valid */
	struct pss_linux_regs regs;	/* raw: rax may be -ERESTART*, as in a kernel core */
	const void *fpregs;		/* 512-byte FXSAVE image */
	const void *xstate;		/* NT_X86_XSTATE image (standard format) */
	size_t xstate_len;
	unsigned long long debugregs[8];
	unsigned long long utime_ns, stime_ns;
	unsigned long long start_time_ns;	/* since boot */
	int nice;
	unsigned policy, rt_priority, processor;
};

/**
 * pss_linux_query_thread() - detail of thread @tid of the snapshot.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE; ERROR_INVALID_PARAMETER;
 * ERROR_NOT_FOUND (threads not captured, or no such thread).
 */
PSS_API DWORD pss_linux_query_thread(HPSS snapshot, pid_t tid, struct pss_linux_thread_info *ret);

/** What a file descriptor is, beyond PSS_HANDLE_ENTRY. */
struct pss_linux_handle_info {
	size_t sz;
	int fd;
	const char *type_name;		/* "File", "Socket", ... (as TypeName) */
	const char *link;		/* /proc/PID/fd/N target, raw bytes */
	unsigned fd_flags;		/* open flags from fdinfo (O_*), octal in /proc */
	int cloexec;
	unsigned long long pos;
	unsigned long long inode;
	unsigned mnt_id;
	unsigned mode;			/* st_mode of the open file (0 if unknown) */
	unsigned long long size;	/* st_size */
	/* Sockets (type "Socket"): family AF_*, type SOCK_*, protocol IPPROTO_*. */
	int sock_family, sock_type, sock_protocol;
	int sock_state;			/* TCP_* for TCP, else 0 */
	const char *sock_local;		/* "127.0.0.1:8080", a unix path, or "" */
	const char *sock_remote;
	/* eventfd */
	unsigned long long eventfd_count;
	int eventfd_semaphore;
	/* timerfd */
	int timerfd_clockid;
	unsigned long long timerfd_ticks;
	unsigned long long timerfd_value_ns, timerfd_interval_ns;
	/* signalfd */
	unsigned long long signalfd_mask;
	/* inotify: number of watches; epoll: number of registered fds */
	unsigned inotify_watches;
	unsigned epoll_targets;
	/* pidfd: the process it refers to (-1 if exited) */
	pid_t pidfd_pid;
};

/**
 * pss_linux_query_handle() - detail of fd @fd of the snapshot.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE; ERROR_INVALID_PARAMETER;
 * ERROR_NOT_FOUND (handles not captured, or no such fd).
 */
PSS_API DWORD pss_linux_query_handle(HPSS snapshot, int fd, struct pss_linux_handle_info *ret);

/** A mapping of /proc/PID/maps and smaps. */
struct pss_linux_region_info {
	size_t sz;
	unsigned long long start, end, offset;
	unsigned prot;			/* PROT_READ | PROT_WRITE | PROT_EXEC */
	int shared;			/* MAP_SHARED ('s') */
	unsigned dev_major, dev_minor;
	unsigned long long inode;
	const char *name;		/* "" for anonymous; "[heap]", "[stack]", a path */
	int deleted;			/* the file was unlinked */
	unsigned long long vmflags;	/* PSS_LINUX_VM_* bits from smaps VmFlags */
	unsigned long long rss, pss, anonymous, swap, private_dirty, shared_dirty;	/* bytes */
};

#define PSS_LINUX_VM_DONTDUMP (1ull << 0)	/* dd */
#define PSS_LINUX_VM_DONTCOPY (1ull << 1)	/* dc: MADV_DONTFORK */
#define PSS_LINUX_VM_WIPEONFORK (1ull << 2)	/* wf */
#define PSS_LINUX_VM_IO (1ull << 3)		/* io */
#define PSS_LINUX_VM_PFNMAP (1ull << 4)		/* pf */
#define PSS_LINUX_VM_LOCKED (1ull << 5)		/* lo */
#define PSS_LINUX_VM_HUGETLB (1ull << 6)	/* ht */
#define PSS_LINUX_VM_SHARED (1ull << 7)		/* sh */
#define PSS_LINUX_VM_ACCOUNT (1ull << 8)	/* ac */
#define PSS_LINUX_VM_GROWSDOWN (1ull << 9)	/* gd */
#define PSS_LINUX_VM_MIXEDMAP (1ull << 10)	/* mm */
#define PSS_LINUX_VM_HUGEPAGE (1ull << 11)	/* hg */
#define PSS_LINUX_VM_NOHUGEPAGE (1ull << 12)	/* nh */
#define PSS_LINUX_VM_MERGEABLE (1ull << 13)	/* mg */
#define PSS_LINUX_VM_SOFTDIRTY (1ull << 14)	/* sd */
#define PSS_LINUX_VM_SHADOW_STACK (1ull << 15)	/* ss */
#define PSS_LINUX_VM_READ (1ull << 16)		/* rd */
#define PSS_LINUX_VM_WRITE (1ull << 17)		/* wr */
#define PSS_LINUX_VM_EXEC (1ull << 18)		/* ex */
#define PSS_LINUX_VM_MAYSHARE (1ull << 19)	/* ms */
#define PSS_LINUX_VM_SEALED (1ull << 20)	/* sl */
#define PSS_LINUX_VM_DROPPABLE (1ull << 21)	/* dp */

/**
 * pss_linux_query_region() - mapping number @index (0-based, address order;
 * gaps are not counted) of the snapshot.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE; ERROR_INVALID_PARAMETER;
 * ERROR_NOT_FOUND (VA space not captured); ERROR_NO_MORE_ITEMS (past the end).
 */
PSS_API DWORD pss_linux_query_region(HPSS snapshot, unsigned index, struct pss_linux_region_info *ret);

/* ---- ELF cores ---- */

/** Options of pss_linux_write_core(); zero means the default. */
struct pss_linux_core_options {
	size_t sz;		/* sizeof(struct pss_linux_core_options) */
	unsigned flags;		/* PSS_LINUX_CORE_* */
	/* Called now and then from the writing thread with bytes written so far
	 * and the total; a non-zero return stops the write (ERROR_CANCELLED is
	 * not Win32 PSS: the call then returns ERROR_GEN_FAILURE). */
	int (*progress)(void *ctx, unsigned long long done, unsigned long long total);
	void *progress_ctx;
};

/* Dump every mapping, ignoring coredump_filter and MADV_DONTDUMP (gcore -a). */
#define PSS_LINUX_CORE_ALL 0x1u

/**
 * pss_linux_write_core() - write an ELF core of the snapshot to @fd.
 * The snapshot must hold a VA clone (PSS_CAPTURE_VA_CLONE): memory is read
 * from the clone (and auxiliary pages), registers are those the threads had
 * at the stop.  The layout is the kernel's (ET_CORE, PT_NOTE then one PT_LOAD
 * per mapping, PN_XNUM past 65535): gdb, lldb, eu-stack and readelf read it.
 * @fd is written sequentially from its current offset (a pipe works); holes
 * are written as zeros on pipes and skipped with lseek on files.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE; ERROR_INVALID_PARAMETER;
 * ERROR_NOT_FOUND (no VA clone, or no threads); ERROR_PARTIAL_COPY (some pages
 * could not be read: written as zeros); ERROR_NOT_ENOUGH_MEMORY;
 * ERROR_GEN_FAILURE (a write failed: errno in pss_linux_last_capture_error).
 */
PSS_API DWORD pss_linux_write_core(HPSS snapshot, int fd, const struct pss_linux_core_options *opts);

/**
 * pss_linux_release_clone() - end the snapshot's VA clone now (kill and reap
 * it, leaving no zombie), keeping everything else of the snapshot.  Frees
 * the copy-on-write memory the clone pins as soon as its memory is no
 * longer needed (e.g. right after pss_linux_write_core).  Later memory
 * reads through VaCloneHandle fail.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE; ERROR_NOT_FOUND (no clone).
 */
PSS_API DWORD pss_linux_release_clone(HPSS snapshot);

#ifdef __cplusplus
}
#endif

#endif /* PSS_PSS_LINUX_H */
