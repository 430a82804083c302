/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pure mapping rules of the handle and VA-space facets (handles.c,
 * vaspace.c), split out so unit tests can drive them with synthetic input.
 * Nothing here reads /proc or any file; the only side effect is allocation
 * through pss_malloc.
 */
#ifndef PSS_FACETS_H
#define PSS_FACETS_H

#include "snapshot.h"
#include <sys/stat.h>

/* ---- handles ---- */

/* What an fd refers to; one TypeName each (handle_kind_name()). */
enum handle_kind {
	HK_FILE,
	HK_DIRECTORY,
	HK_PIPE,
	HK_SOCKET,
	HK_EVENTFD,
	HK_EPOLL,
	HK_TIMERFD,
	HK_SIGNALFD,
	HK_INOTIFY,
	HK_PIDFD,
	HK_MEMFD,
	HK_CHARDEV,
	HK_BLOCKDEV,
	HK_ANON_INODE,
};

/* Classify an fd from its /proc/PID/fd link, st_mode of the open file (0 if
 * unknown) and fdinfo (NULL if unknown; its eventfd/pidfd/timerfd/signalfd
 * groups settle the kind when the link text is unfamiliar). */
enum handle_kind handle_classify(const char *link, unsigned mode, const struct proc_fdinfo *fi);
/* "File", "Socket", ... (static strings). */
const char *handle_kind_name(enum handle_kind k);
/* pidfd -> PROCESS; eventfd -> EVENT (SEMAPHORE with EFD_SEMAPHORE); memfd
 * and files under /dev/shm/ -> SECTION; everything else UNKNOWN. */
PSS_OBJECT_TYPE handle_object_type(enum handle_kind k, const char *link, bool eventfd_semaphore);

#define PSS_OBJ_INHERIT 0x00000002u
#define PSS_FILE_GENERIC_READ 0x00120089u
#define PSS_FILE_GENERIC_WRITE 0x00120116u
#define PSS_FILE_READ_ATTRIBUTES 0x00000080u
#define PSS_SYNCHRONIZE 0x00100000u
/* Attributes: OBJ_INHERIT unless the fd is close-on-exec (fdinfo flags). */
DWORD handle_attributes(unsigned fd_flags);
/* GrantedAccess from the open mode: read -> FILE_GENERIC_READ, write ->
 * FILE_GENERIC_WRITE, O_RDWR both; O_PATH -> SYNCHRONIZE |
 * FILE_READ_ATTRIBUTES (the fd can be used for fstat and *at only). */
DWORD handle_granted_access(unsigned fd_flags);
/* The N of "socket:[N]", "pipe:[N]" (any "word:[N]" link); false if none. */
bool handle_link_inode(const char *link, uint64_t *ret);
/* "127.0.0.1:8080" / "[::1]:80" into buf; addr in network byte order. */
void sock_addr_format(int family, const uint8_t addr[16], uint16_t port, char *buf, size_t cap);

/* What handle_fill() needs to know of the process a pidfd refers to. */
struct handle_proc_info {
	bool valid;		/* the rest was read (process still known) */
	bool exited;		/* zombie or reaped */
	DWORD exit_status;
	DWORD ppid;
	ULONG_PTR affinity;
	LONG base_priority;
	uint64_t peb;		/* arg_start, the PEB's role (design section 3) */
	DWORD flags;		/* PSS_PROCESS_FLAGS_FROZEN when stopped */
};

/* Everything handle_fill() reads; the link is moved into the handle. */
struct handle_input {
	int fd;
	char *link;			/* pss_malloc; owned by the handle on success */
	const struct proc_fdinfo *fi;	/* never NULL */
	const struct stat *st;		/* NULL when fstatat was not allowed */
	const struct handle_proc_info *pidfd_proc;	/* pidfds only; may be NULL */
	DWORD capture_flags;		/* PSS_CAPTURE_HANDLE_* detail bits */
	FILETIME capture_time;
};

/* Fill h (zeroed by the caller) from in: the PSS_HANDLE_ENTRY with its
 * UTF-16 strings and the Linux detail (sockets excepted: handles.c adds
 * those).  Returns 0 or -ENOMEM; on failure h owns whatever it got
 * (release with handle_release()) and in->link belongs to h either way. */
int handle_fill(struct pss_handle *h, const struct handle_input *in);
/* Free what a pss_handle owns (not h itself). */
void handle_release(struct pss_handle *h);

/* An index of /proc/PID/net/<table> by socket inode: built once per capture
 * in O(n log n), looked up in O(log n). */
struct net_index_ent {
	uint64_t inode;
	size_t off, len;		/* the line in the table text */
};
struct net_index {
	struct net_index_ent *v;	/* pss_malloc, sorted by inode */
	size_t n;
	size_t header_len;		/* the first line, newline included */
};
/* Index text whose whitespace-separated field @inode_field (0-based) of each
 * line after the header is the inode. */
int net_index_build(const char *buf, size_t len, unsigned inode_field, struct net_index *ret);
const struct net_index_ent *net_index_find(const struct net_index *ix, uint64_t inode);
void net_index_release(struct net_index *ix);

/* ---- VA space ---- */

#define VA_USER_END 0x7ffffffff000ull		/* TASK_SIZE with 4-level paging */
#define VA_KERNEL_HALF 0xffff800000000000ull	/* [vsyscall] lives up here */

/* What backs a mapping, as far as the Windows fields care. */
enum va_kind {
	VA_ANON,		/* "", [heap], [stack], [anon:...], [vvar], [vsyscall], ... */
	VA_VDSO,		/* [vdso]: an ELF image the kernel provides */
	VA_FILE,		/* a path: files, memfd, /dev/shm, SysV, shared anon */
};
enum va_kind va_classify(const struct proc_map *m, const char *name);
/* PAGE_* from prot and sharing; "file" means a private file mapping can
 * be copy-on-write (PAGE_WRITECOPY rather than PAGE_READWRITE). */
DWORD va_protect(unsigned prot, bool shared, bool file);
DWORD va_state(enum va_kind k, unsigned prot, bool shared);
DWORD va_type(enum va_kind k, bool shared, bool is_elf);
/* Only private file mappings can be images: read their ELF header. */
bool va_wants_elf_probe(enum va_kind k, const struct proc_map *m);

/* What the ELF probe found for one (dev, inode). */
struct va_elf_info {
	bool is_elf;			/* ET_EXEC or ET_DYN */
	bool have_build_id;
	uint32_t build_id[2];		/* its first two 32-bit words */
};

/* Builds s->regions in one pass: gaps, allocation bases and image spans. */
struct va_builder {
	struct pss_region *r;		/* pss_malloc; gaps included */
	size_t n, cap;
	size_t nmappings;
	uint64_t prev_end;		/* end of the last region (0 at first) */
	bool user_end_done;		/* the gap up to VA_USER_END was emitted */
	bool section_info;
	/* the current file run (same dev/inode, resumed past anonymous maps) */
	bool in_run;
	size_t run_first, run_last;	/* region indexes */
	uint32_t run_major, run_minor;
	uint64_t run_inode;
	struct va_elf_info run_elf;
};
void va_builder_init(struct va_builder *b, bool section_info);
/* Append a mapping (map->m, map->name, map->smaps filled; map->m.start
 * above the previous end).  Computes the entry fields; map->name moves into
 * the builder on success.  elf is the probe result for file mappings (NULL
 * for none).  Returns 0, -EINVAL for a mapping out of order (skipped, name
 * not taken), -ENOMEM. */
int va_builder_add(struct va_builder *b, struct pss_region *map, const struct va_elf_info *elf);
/* Close the last run and the tail gap. */
int va_builder_finish(struct va_builder *b);
void va_builder_release(struct va_builder *b);
void region_release(struct pss_region *r);


#endif /* PSS_FACETS_H */
