/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The HPSS object and what each capture facet fills in it.
 *
 * A snapshot is built by capture.c in one thread (plus the tracer thread for
 * the stop), then never changes: query and walk only read it.  Everything it
 * points to is owned by it and released by snapshot_free().
 *
 * Life cycle (capture.c):
 *   EMPTY -> (stop: freeze, read registers, thaw) -> RESUMED -> (facets read
 *   /proc) -> COMPLETE.  Any failure frees what exists through
 *   snapshot_free(), which may be called in every state.
 */
#ifndef PSS_SNAPSHOT_H
#define PSS_SNAPSHOT_H

#include "internal.h"
#include <sys/user.h>
#include "proc/proc.h"

#define SNAPSHOT_MAGIC 0x50535321u	/* "PSS!" */
#define WALK_MAGIC 0x5053574bu		/* "PSWK" */

/* Raw register state of one stopped thread, as ptrace gave it. */
struct thread_regs {
	struct user_regs_struct regs;		/* NT_PRSTATUS */
	struct user_fpregs_struct fpregs;	/* NT_PRFPREG: FXSAVE, 512 bytes */
	uint8_t *xstate;			/* NT_X86_XSTATE, pss_malloc, or NULL */
	size_t xstate_len;
	uint64_t debugregs[8];
	uint64_t sigmask;			/* PTRACE_GETSIGMASK */
};

struct pss_thread {
	PSS_THREAD_ENTRY e;		/* ready to copy; ContextRecord is NULL here */
	pid_t tid;
	char comm[17];			/* raw bytes */
	size_t comm_len;
	char state;			/* from task stat before any stop */
	struct proc_syscall sc;		/* nr -2 when unknown */
	uint64_t runs;			/* schedstat's run count, read before the rest */
	uint64_t vcsw;			/* voluntary_ctxt_switches of its status */
	bool have_runs;
	uint64_t sig_blk, sig_pnd, sig_shd;
	int seccomp;			/* Seccomp: of its status (0 off, 1 strict, 2 filter) */
	int nice;
	unsigned policy, rt_priority, processor;
	uint64_t utime_ns, stime_ns, start_ns;
	bool stopped_before;		/* group-stopped (or traced) when we came */
	bool have_regs;
	struct thread_regs r;
	CONTEXT *ctx;			/* built from r; pss_malloc; e.SizeOfContextRecord bytes */
};

struct pss_region {
	PSS_VA_SPACE_ENTRY e;		/* MappedFileName points to name16 (or NULL) */
	WCHAR *name16;			/* pss_malloc */
	bool is_gap;			/* MEM_FREE between mappings */
	/* Linux detail (mappings only) */
	struct proc_map m;		/* m.name points to name below */
	char *name;			/* pss_malloc, unescaped, NUL-terminated */
	struct proc_smaps smaps;
};

struct pss_handle {
	PSS_HANDLE_ENTRY e;		/* TypeName/ObjectName point to type16/name16 */
	WCHAR *type16;
	WCHAR *name16;
	struct pss_linux_handle_info li;	/* strings below are owned here */
	char *link;
	char *sock_local, *sock_remote;
};

struct pss_auxpage {
	PSS_AUXILIARY_PAGE_ENTRY e;	/* PageContents points to data */
	void *data;			/* this page's bytes, inside some entry's block */
	void *block;			/* owned: the copy of a whole range (first page only) */
	size_t block_len;
};

/*
 * The captured data.  Shared, read-only, by every descriptor duplicated
 * from the first one; freed with the last reference.
 */
struct pss_snapshot {
	unsigned refs;			/* descriptors + calls in flight; atomic */
	uint64_t id;			/* unique, never reused; walk markers remember it */
	DWORD capture_flags;
	DWORD context_flags;		/* what ContextRecords hold (0: none) */
	bool vm_alloc;			/* PSS_CREATE_USE_VM_ALLOCATIONS */
	pid_t pid;

	PSS_PROCESS_INFORMATION pi;
	struct pss_linux_process_info li;	/* strings below */
	char *exe, *cmdline, *cwd;
	uint64_t auxv_entry;

	struct pss_thread *threads;
	size_t nthreads;
	bool have_threads;
	DWORD context_length;		/* PSS_THREAD_INFORMATION.ContextLength */

	struct pss_region *regions;	/* gaps included, address order */
	size_t nregions;
	size_t nmappings;		/* regions that are not gaps */
	bool have_vaspace;

	struct pss_handle *handles;
	size_t nhandles;
	bool have_handles;
	bool have_handle_trace;

	struct pss_auxpage *aux;
	size_t naux;
	bool have_aux;

	int clone_pidfd;		/* -1 without a VA clone */
	pid_t clone_pid;		/* in our pid namespace (0: none) */
	pid_t clone_tns;		/* the same in the target's namespace */
	uint64_t gadget;		/* the syscall instruction used, for free */

	PSS_PERFORMANCE_COUNTERS perf;
	bool have_perf;
};

/*
 * An HPSS: one descriptor.  PssDuplicateSnapshot makes a second descriptor
 * for the same data, with its own duplicate of the VA clone handle, so each
 * is freed on its own.
 */
struct pss_desc {
	uint32_t magic;			/* SNAPSHOT_MAGIC while registered */
	struct pss_snapshot *s;		/* one reference */
	int clone_fd;			/* this descriptor's VaCloneHandle, or -1 */
	bool vm_alloc;
};

/* snapshot.c: the data, and a registry of live descriptors and markers, so
 * a bad handle is detected and never dereferenced blindly. */
struct pss_snapshot *snapshot_new(DWORD flags);
void snapshot_release(struct pss_snapshot *s);	/* drop a reference; frees at 0 */
void snapshot_free(struct pss_snapshot *s);	/* free now, in any state; NULL ok */
/* Make a descriptor for s (taking over the caller's reference) and register it. */
int desc_create(struct pss_snapshot *s, HPSS *ret);
/* Look up a descriptor; on success the data is referenced until
 * snapshot_release().  NULL if the handle is not a live snapshot. */
struct pss_snapshot *snapshot_get(HPSS h, int *ret_clone_fd);
/* Unregister and free a descriptor: -EBADF if it is not live. */
int desc_destroy(HPSS h);
int desc_duplicate(HPSS h, bool close_source, HPSS *ret);
/* clone.c: kill and reap the VA clone of s, leaving no zombie (in the tracer). */
void clone_free(struct pss_snapshot *s);

/* Walk markers share the registry (walk.c). */
bool registry_add(const void *p, uint32_t kind);
bool registry_remove(const void *p, uint32_t kind);
bool registry_has(const void *p, uint32_t kind);

/* ---- facets: each fills its part of s; 0 or -errno. ---- */

/* procinfo.c: PSS_PROCESS_INFORMATION and pss_linux_process_info.  Called
 * for every capture, never stops the target.  dirfd is /proc/PID. */
int procinfo_collect(struct pss_snapshot *s, int procfd);

/* procinfo.c: the one Windows priority table (nice/policy -> class and NT
 * level), shared by processes and threads. */
void priority_from_sched(int nice, unsigned policy, unsigned rt_priority, DWORD *ret_class,
			 int *ret_level);

/* threads.c: the thread list from /proc/PID/task with per-thread stat,
 * status and syscall (and, @for_stop, the run count the stop uses to leave
 * idle threads out of the pause); fills s->threads (e and the Linux
 * fields).  Never stops the target. */
int threads_collect(struct pss_snapshot *s, int procfd, bool for_stop);
/* Build the CONTEXT records from captured registers (after the thaw). */
int threads_build_contexts(struct pss_snapshot *s);

/* freeze.c (runs on the tracer thread): stop every thread of s->pid, read
 * registers into s->threads (matching by tid, adding threads that appeared),
 * repair the EINTR of the syscalls that would return it, and release every
 * thread exactly as it was.  Returns 0 or -errno with s untouched by
 * partial state except threads' r. */
struct clone_req;
/* Where a stop's time went (CLOCK_MONOTONIC ns), for the debug log: the
 * tracer never logs, its host does after the job. */
struct freeze_stats {
	size_t threads;
	uint64_t interrupt_ns;		/* first to last interrupt of the first pass */
	uint64_t stops_ns;		/* then until every one is stopped and read */
	uint64_t rescan_ns;		/* then until no thread is unknown */
	uint64_t clone_ns;		/* then until the clone is made */
	uint64_t release_ns;		/* then until the last thread is let go */
	size_t deferred;		/* threads stopped one batch at a time after it */
	uint64_t deferred_ns;		/* the time that took */
	uint64_t deferred_max_ns;	/* the longest any of them was stopped */
	unsigned defer_declined;	/* none deferred: this many idle ones had woken */
	pid_t stale_tid;		/* -ESTALE: the deferred thread that had run */
	const char *stale_why;
	unsigned long polls, idle_polls;	/* waitpid calls; those that found nothing */
};

struct freeze_opts {
	unsigned timeout_ms;
	bool want_xstate;
	bool want_debugregs;		/* six PTRACE_PEEKUSER per thread: only when asked */
	int pidfd;			/* the target, to confirm identity */
	struct clone_req *clone;	/* inject the VA clone inside the stop (inject.h) */
	struct freeze_stats *stats;	/* filled on success if not NULL */
	bool no_defer;			/* every thread in the pause (the redo) */
};
int freeze_capture_regs(struct pss_snapshot *s, const struct freeze_opts *o, uint64_t *ret_pause_ns);

/* tracer.c: the one thread that owns every ptrace relationship.  Runs fn(arg)
 * there and returns its result. */
int tracer_run(int (*fn)(void *arg), void *arg);

/* vaclone.c: the VA clone's preparation before the stop (refusals, the
 * syscall gadget, corpses to reap, auxiliary page buffers) and its hand-over
 * to the snapshot after it. */
int vaclone_prepare(struct pss_snapshot *s, int procfd, struct clone_req *req);
int vaclone_finish(struct pss_snapshot *s, struct clone_req *req);
void vaclone_release_req(struct clone_req *req);

/* vaspace.c: regions from /proc/PID/maps + smaps (gaps as MEM_FREE); with
 * section information, file names and ELF image data. */
int vaspace_collect(struct pss_snapshot *s, int procfd, bool section_info);

/* handles.c: fds from /proc/PID/fd + fdinfo; detail per the flags. */
int handles_collect(struct pss_snapshot *s, int procfd, DWORD flags);

/* arch/x86_64/context.c */
size_t context_record_size(DWORD flags, size_t xstate_len);
/* Fill a CONTEXT (+ CONTEXT_EX + XSAVE area when flags has CONTEXT_XSTATE
 * and r->xstate) into out of context_record_size() bytes. */
void context_from_regs(const struct thread_regs *r, DWORD flags, void *out, size_t len);
bool context_flags_valid(DWORD flags);

/* Process pseudo-handle and pidfd handles (process.c). */
int handle_to_pidfd(HANDLE h, bool *ret_is_self);	/* fd (not a dup) or -EBADF */

#endif /* PSS_SNAPSHOT_H */
