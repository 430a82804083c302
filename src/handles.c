// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The handle facet: one PSS_HANDLE_ENTRY per file descriptor, from
 * /proc/PID/fd (the link), /proc/PID/fdinfo (flags, position, the type's
 * own lines) and a stat of the fd link.  Never stops the target: the fd
 * table is read while the process runs, so an fd may close or be reused
 * under us; entries that vanish are skipped, and an fd whose link and
 * fdinfo disagree on the inode is read again.
 *
 * Sockets get their family, addresses and state from the target's network
 * namespace tables (/proc/PID/net/...).  Each table is read at most once
 * per capture, only when a socket is seen, and indexed by inode, so a
 * process with 200k fds costs linear time and bounded memory per fd.
 *
 * Mapping (design section 3): TypeName from the link text and st_mode;
 * pidfd -> Process, eventfd -> Event (Semaphore with EFD_SEMAPHORE), memfd
 * and /dev/shm files -> Section, the rest Unknown.  Attributes has
 * OBJ_INHERIT unless the fd is close-on-exec; GrantedAccess is
 * FILE_GENERIC_READ and/or FILE_GENERIC_WRITE from the open mode;
 * HandleCount is 1 (Linux counts references per open file, not per fd);
 * PointerCount is st_nlink (1 when unknown or unlinked).
 */
#include "facets.h"
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif

/* ---- pure mapping rules (facets.h) ---- */

static const char *const kind_names[] = {
	[HK_FILE] = "File",
	[HK_DIRECTORY] = "Directory",
	[HK_PIPE] = "Pipe",
	[HK_SOCKET] = "Socket",
	[HK_EVENTFD] = "EventFd",
	[HK_EPOLL] = "Epoll",
	[HK_TIMERFD] = "TimerFd",
	[HK_SIGNALFD] = "SignalFd",
	[HK_INOTIFY] = "Inotify",
	[HK_PIDFD] = "PidFd",
	[HK_MEMFD] = "MemFd",
	[HK_CHARDEV] = "CharDevice",
	[HK_BLOCKDEV] = "BlockDevice",
	[HK_ANON_INODE] = "AnonInode",
};

const char *handle_kind_name(enum handle_kind k)
{
	if ((unsigned)k >= ARRAY_SIZE(kind_names) || !kind_names[k])
		return "File";
	return kind_names[k];
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The anon_inode names of fs/anon_inodes.c users that have a kind. */
static enum handle_kind anon_inode_kind(const char *name)
{
	static const struct {
		const char *name;
		enum handle_kind kind;
	} tab[] = {
		{ "[eventfd]", HK_EVENTFD },
		{ "[eventpoll]", HK_EPOLL },
		{ "[timerfd]", HK_TIMERFD },
		{ "[signalfd]", HK_SIGNALFD },
		{ "inotify", HK_INOTIFY },
		{ "[pidfd]", HK_PIDFD },
	};

	for (size_t i = 0; i < ARRAY_SIZE(tab); i++)
		if (strcmp(name, tab[i].name) == 0)
			return tab[i].kind;
	return HK_ANON_INODE;
}

/*
 * Classify one fd.  The link text decides for the pseudo files (sockets,
 * pipes, anon inodes, memfds); the mode for paths.  fdinfo catches the
 * kinds whose link text changed across kernels (pidfds of pidfs are
 * "pidfd:[N]" on some kernels, "anon_inode:[pidfd]" on others).
 */
enum handle_kind handle_classify(const char *link, unsigned mode, const struct proc_fdinfo *fi)
{
	if (starts_with(link, "socket:") || S_ISSOCK(mode))
		return HK_SOCKET;
	if (starts_with(link, "pipe:"))
		return HK_PIPE;
	if (starts_with(link, "pidfd:"))
		return HK_PIDFD;
	if (starts_with(link, "anon_inode:")) {
		enum handle_kind k = anon_inode_kind(link + strlen("anon_inode:"));

		if (k == HK_ANON_INODE && fi) {
			if (fi->have_pidfd)
				return HK_PIDFD;
			if (fi->have_eventfd)
				return HK_EVENTFD;
			if (fi->have_timerfd)
				return HK_TIMERFD;
			if (fi->have_signalfd)
				return HK_SIGNALFD;
		}
		return k;
	}
	/* memfd_create names its file "memfd:NAME"; the link reads
	 * "/memfd:NAME (deleted)" because the file was never linked. */
	if (starts_with(link, "/memfd:"))
		return HK_MEMFD;
	if (fi && fi->have_pidfd)
		return HK_PIDFD;
	if (S_ISFIFO(mode))
		return HK_PIPE;
	if (S_ISDIR(mode))
		return HK_DIRECTORY;
	if (S_ISCHR(mode))
		return HK_CHARDEV;
	if (S_ISBLK(mode))
		return HK_BLOCKDEV;
	return HK_FILE;
}

PSS_OBJECT_TYPE handle_object_type(enum handle_kind k, const char *link, bool eventfd_semaphore)
{
	switch (k) {
	case HK_PIDFD:
		return PSS_OBJECT_TYPE_PROCESS;
	case HK_EVENTFD:
		return eventfd_semaphore ? PSS_OBJECT_TYPE_SEMAPHORE : PSS_OBJECT_TYPE_EVENT;
	case HK_MEMFD:
		return PSS_OBJECT_TYPE_SECTION;
	case HK_FILE:
		/* POSIX shared memory: shm_open() files live in /dev/shm. */
		return starts_with(link, "/dev/shm/") ? PSS_OBJECT_TYPE_SECTION : PSS_OBJECT_TYPE_UNKNOWN;
	default:
		return PSS_OBJECT_TYPE_UNKNOWN;
	}
}

DWORD handle_attributes(unsigned fd_flags)
{
	return (fd_flags & O_CLOEXEC) ? 0 : PSS_OBJ_INHERIT;
}

DWORD handle_granted_access(unsigned fd_flags)
{
	if (fd_flags & O_PATH)
		return PSS_SYNCHRONIZE | PSS_FILE_READ_ATTRIBUTES;
	switch (fd_flags & O_ACCMODE) {
	case O_RDONLY:
		return PSS_FILE_GENERIC_READ;
	case O_WRONLY:
		return PSS_FILE_GENERIC_WRITE;
	default:		/* O_RDWR (and the odd mode 3 of some drivers) */
		return PSS_FILE_GENERIC_READ | PSS_FILE_GENERIC_WRITE;
	}
}

/* Append decimal digit c to *v; false on overflow. */
static bool u64_digit(uint64_t *v, char c)
{
	uint64_t d = (uint64_t)(c - '0');

	if (*v > (UINT64_MAX - d) / 10)
		return false;
	*v = *v * 10 + d;
	return true;
}

bool handle_link_inode(const char *link, uint64_t *ret)
{
	const char *p = strstr(link, ":[");
	uint64_t v = 0;

	if (!p || p == link)
		return false;
	p += 2;
	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		if (!u64_digit(&v, *p))
			return false;
	if (p[0] != ']' || p[1] != '\0')
		return false;
	*ret = v;
	return true;
}

void sock_addr_format(int family, const uint8_t addr[16], uint16_t port, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, a, sizeof(a)))
		a[0] = '\0';
	if (family == AF_INET6)
		snprintf(buf, cap, "[%s]:%u", a, (unsigned)port);
	else
		snprintf(buf, cap, "%s:%u", a, (unsigned)port);
}

/* UTF-16 copy of s for a WORD byte length: at most 0x7fff units. */
static int utf16_word(const char *s, WCHAR **ret, WORD *ret_bytes)
{
	int n = utf8_to_utf16(s, strlen(s), ret);

	if (n < 0)
		return n;
	if (n > 0x7fff) {
		n = 0x7fff;
		(*ret)[n] = 0;
	}
	*ret_bytes = (WORD)(n * 2);
	return 0;
}

/* The type-specific union arm; returns whether the type has one. */
static bool handle_fill_specific(PSS_HANDLE_ENTRY *e, const struct handle_input *in)
{
	const struct proc_fdinfo *fi = in->fi;
	const struct handle_proc_info *pp = in->pidfd_proc;

	switch (e->ObjectType) {
	case PSS_OBJECT_TYPE_PROCESS:
		/* Pid -1: the process was reaped; nothing more is known. */
		e->TypeSpecificInformation.Process.ProcessId =
			fi->have_pidfd && fi->pidfd_pid > 0 ? (DWORD)fi->pidfd_pid : 0;
		if (pp && pp->valid) {
			e->TypeSpecificInformation.Process.ExitStatus =
				pp->exited ? pp->exit_status : STILL_ACTIVE;
			e->TypeSpecificInformation.Process.ParentProcessId = pp->ppid;
			e->TypeSpecificInformation.Process.AffinityMask = pp->affinity;
			e->TypeSpecificInformation.Process.BasePriority = pp->base_priority;
			e->TypeSpecificInformation.Process.PebBaseAddress = (void *)(uintptr_t)pp->peb;
			e->TypeSpecificInformation.Process.Flags = pp->flags;
		}
		return true;
	case PSS_OBJECT_TYPE_EVENT:
		e->TypeSpecificInformation.Event.ManualReset = TRUE;
		e->TypeSpecificInformation.Event.Signaled = fi->eventfd_count > 0;
		return true;
	case PSS_OBJECT_TYPE_SEMAPHORE:
		e->TypeSpecificInformation.Semaphore.CurrentCount =
			(LONG)MIN(fi->eventfd_count, (uint64_t)0x7fffffff);
		e->TypeSpecificInformation.Semaphore.MaximumCount = 0x7fffffff;
		return true;
	case PSS_OBJECT_TYPE_SECTION:
		e->TypeSpecificInformation.Section.MaximumSize.QuadPart =
			in->st ? (LONGLONG)in->st->st_size : 0;
		return true;
	default:
		return false;
	}
}

/* The Linux detail that fdinfo and stat give (sockets come later). */
static void handle_fill_linux(struct pss_handle *h, enum handle_kind k,
			      const struct handle_input *in)
{
	struct pss_linux_handle_info *li = &h->li;
	const struct proc_fdinfo *fi = in->fi;

	li->sz = sizeof(*li);
	li->fd = in->fd;
	li->type_name = handle_kind_name(k);
	li->link = h->link;
	li->fd_flags = fi->flags;
	li->cloexec = !!(fi->flags & O_CLOEXEC);
	li->pos = fi->pos;
	li->inode = fi->have_ino ? fi->ino : in->st ? in->st->st_ino : 0;
	li->mnt_id = fi->mnt_id;
	li->mode = in->st ? in->st->st_mode : 0;
	li->size = in->st ? (unsigned long long)in->st->st_size : 0;
	li->sock_local = "";
	li->sock_remote = "";
	li->eventfd_count = fi->eventfd_count;
	li->eventfd_semaphore = fi->eventfd_semaphore;
	li->timerfd_clockid = fi->timerfd_clockid;
	li->timerfd_ticks = fi->timerfd_ticks;
	li->timerfd_value_ns = fi->timerfd_value_ns;
	li->timerfd_interval_ns = fi->timerfd_interval_ns;
	li->signalfd_mask = fi->signalfd_mask;
	li->inotify_watches = fi->inotify_watches;
	li->epoll_targets = fi->epoll_targets;
	li->pidfd_pid = k == HK_PIDFD ? (fi->have_pidfd ? fi->pidfd_pid : -1) : 0;
}

/* Build one handle from what was read of its fd (see facets.h). */
int handle_fill(struct pss_handle *h, const struct handle_input *in)
{
	unsigned mode = in->st ? in->st->st_mode : 0;
	enum handle_kind k = handle_classify(in->link, mode, in->fi);
	PSS_HANDLE_ENTRY *e = &h->e;
	DWORD cf = in->capture_flags;
	int err;

	h->link = in->link;
	handle_fill_linux(h, k, in);

	e->Handle = (HANDLE)(uintptr_t)in->fd;
	e->ObjectType = handle_object_type(k, in->link, in->fi->eventfd_semaphore);
	e->CaptureTime = in->capture_time;
	err = utf16_word(h->li.type_name, &h->type16, &e->TypeNameLength);
	if (err)
		return err;
	e->TypeName = h->type16;
	if (e->ObjectType != PSS_OBJECT_TYPE_UNKNOWN)
		e->Flags |= PSS_HANDLE_HAVE_TYPE;

	if (cf & PSS_CAPTURE_HANDLE_NAME_INFORMATION) {
		err = utf16_word(h->link, &h->name16, &e->ObjectNameLength);
		if (err)
			return err;
		e->ObjectName = h->name16;
		e->Flags |= PSS_HANDLE_HAVE_NAME;
	}
	if (cf & PSS_CAPTURE_HANDLE_BASIC_INFORMATION) {
		e->Attributes = handle_attributes(in->fi->flags);
		e->GrantedAccess = handle_granted_access(in->fi->flags);
		e->HandleCount = 1;
		e->PointerCount = in->st && in->st->st_nlink ? (DWORD)MIN(in->st->st_nlink, UINT32_MAX) : 1;
		e->Flags |= PSS_HANDLE_HAVE_BASIC_INFORMATION;
	}
	if ((cf & PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION) && handle_fill_specific(e, in))
		e->Flags |= PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION;
	return 0;
}

void handle_release(struct pss_handle *h)
{
	pss_free(h->type16);
	pss_free(h->name16);
	pss_free(h->link);
	pss_free(h->sock_local);
	pss_free(h->sock_remote);
	h->type16 = h->name16 = NULL;
	h->link = h->sock_local = h->sock_remote = NULL;
}

/* ---- the socket tables ---- */

static int net_ent_cmp(const void *a, const void *b)
{
	const struct net_index_ent *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Field @field (0-based, blank-separated) of line [p, end) as a decimal. */
static bool line_field_u64(const char *p, const char *end, unsigned field, uint64_t *ret)
{
	uint64_t v = 0;
	unsigned f = 0;

	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			return false;
		if (f == field)
			break;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		f++;
	}
	if (*p < '0' || *p > '9')
		return false;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		if (!u64_digit(&v, *p))
			return false;
	*ret = v;
	return true;
}

int net_index_build(const char *buf, size_t len, unsigned inode_field, struct net_index *ret)
{
	struct net_index ix = { 0 };
	const char *p = buf, *end = buf + len, *nl;
	size_t cap = 0;

	nl = memchr(p, '\n', len);
	ix.header_len = nl ? (size_t)(nl + 1 - buf) : len;
	for (p = buf + ix.header_len; p < end; p = nl + 1) {
		struct net_index_ent ent;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		if (!line_field_u64(p, nl, inode_field, &ent.inode) || ent.inode == 0)
			continue;
		ent.off = (size_t)(p - buf);
		ent.len = (size_t)(nl - p) + (nl < end);
		if (pss_vec_grow(&ix.v, &cap, ix.n + 1, sizeof(*ix.v))) {
			pss_free(ix.v);
			return -ENOMEM;
		}
		ix.v[ix.n++] = ent;
		if (nl == end)
			break;
	}
	if (ix.n > 1)
		qsort(ix.v, ix.n, sizeof(*ix.v), net_ent_cmp);
	*ret = ix;
	return 0;
}

const struct net_index_ent *net_index_find(const struct net_index *ix, uint64_t inode)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->v[mid].inode == inode)
			return &ix->v[mid];
		if (ix->v[mid].inode < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void net_index_release(struct net_index *ix)
{
	pss_free(ix->v);
	ix->v = NULL;
	ix->n = 0;
}

enum net_table_kind { NT_INET, NT_UNIX, NT_NETLINK };

static const struct net_table_desc {
	const char *path;
	enum net_table_kind kind;
	int family, type, protocol;
	unsigned inode_field;
} net_tables[] = {
	{ "net/tcp", NT_INET, AF_INET, SOCK_STREAM, IPPROTO_TCP, 9 },
	{ "net/tcp6", NT_INET, AF_INET6, SOCK_STREAM, IPPROTO_TCP, 9 },
	{ "net/udp", NT_INET, AF_INET, SOCK_DGRAM, IPPROTO_UDP, 9 },
	{ "net/udp6", NT_INET, AF_INET6, SOCK_DGRAM, IPPROTO_UDP, 9 },
	{ "net/unix", NT_UNIX, AF_UNIX, 0, 0, 6 },
	{ "net/raw", NT_INET, AF_INET, SOCK_RAW, 0, 9 },
	{ "net/raw6", NT_INET, AF_INET6, SOCK_RAW, 0, 9 },
	{ "net/netlink", NT_NETLINK, AF_NETLINK, SOCK_RAW, 0, 9 },
};

/* The tables of one capture, read lazily. */
struct net_tables {
	bool loaded[ARRAY_SIZE(net_tables)];
	char *buf[ARRAY_SIZE(net_tables)];
	struct net_index ix[ARRAY_SIZE(net_tables)];
};

static void net_tables_release(struct net_tables *nt)
{
	for (size_t i = 0; i < ARRAY_SIZE(net_tables); i++) {
		pss_free(nt->buf[i]);
		net_index_release(&nt->ix[i]);
	}
}

/* Read and index table i once; a table that cannot be read is empty. */
static int net_table_load(struct net_tables *nt, size_t i, int procfd)
{
	size_t len;
	int err;

	if (nt->loaded[i])
		return 0;
	nt->loaded[i] = true;
	err = read_fileat(procfd, net_tables[i].path, &nt->buf[i], &len);
	if (err == -ENOMEM)
		return err;
	if (err) {
		pr_debug("handles: %s unreadable (%d)", net_tables[i].path, err);
		nt->buf[i] = NULL;
		return 0;
	}
	err = net_index_build(nt->buf[i], len, net_tables[i].inode_field, &nt->ix[i]);
	return err;
}

/*
 * One line of a table as the pure parsers want it: the header, then the
 * line, in a scratch buffer, so each lookup parses two lines instead of
 * the whole table.
 */
static int net_line(const struct net_tables *nt, size_t i, const struct net_index_ent *ent,
		    char *scratch, size_t cap, size_t *ret_len)
{
	const struct net_index *ix = &nt->ix[i];

	if (ix->header_len + ent->len > cap)
		return -E2BIG;
	memcpy(scratch, nt->buf[i], ix->header_len);
	memcpy(scratch + ix->header_len, nt->buf[i] + ent->off, ent->len);
	*ret_len = ix->header_len + ent->len;
	return 0;
}

static int sock_fill_inet(struct pss_handle *h, const struct net_table_desc *d, const char *line,
			  size_t len, uint64_t inode)
{
	struct pss_linux_handle_info *li = &h->li;
	struct proc_inet_sock is;
	char a[INET6_ADDRSTRLEN + 16];

	if (proc_net_inet_find(line, len, d->family, inode, &is))
		return 0;
	li->sock_family = d->family;
	li->sock_type = d->type;
	/* A raw socket's "port" in the table is its protocol number. */
	li->sock_protocol = d->type == SOCK_RAW ? is.local_port : d->protocol;
	li->sock_state = d->protocol == IPPROTO_TCP ? is.state : 0;
	sock_addr_format(d->family, is.local_addr, is.local_port, a, sizeof(a));
	h->sock_local = pss_strdup(a);
	sock_addr_format(d->family, is.remote_addr, is.remote_port, a, sizeof(a));
	h->sock_remote = pss_strdup(a);
	if (!h->sock_local || !h->sock_remote)
		return -ENOMEM;
	li->sock_local = h->sock_local;
	li->sock_remote = h->sock_remote;
	return 0;
}

static int sock_fill_unix(struct pss_handle *h, const char *line, size_t len, uint64_t inode)
{
	struct pss_linux_handle_info *li = &h->li;
	struct proc_unix_sock us;

	if (proc_net_unix_find(line, len, inode, &us))
		return 0;
	li->sock_family = AF_UNIX;
	li->sock_type = (int)us.type;
	if (us.path.len) {
		h->sock_local = pss_strndup(us.path.p, us.path.len);
		if (!h->sock_local)
			return -ENOMEM;
		li->sock_local = h->sock_local;
	}
	return 0;
}

/* Find the socket's inode in the tables and fill its Linux detail. */
static int sock_fill(struct pss_handle *h, struct net_tables *nt, int procfd)
{
	char scratch[4096];
	uint64_t inode;
	size_t len;
	int err;

	if (!handle_link_inode(h->link, &inode))
		inode = h->li.inode;
	for (size_t i = 0; i < ARRAY_SIZE(net_tables); i++) {
		const struct net_table_desc *d = &net_tables[i];
		const struct net_index_ent *ent;

		err = net_table_load(nt, i, procfd);
		if (err)
			return err;
		ent = net_index_find(&nt->ix[i], inode);
		if (!ent)
			continue;
		if (d->kind == NT_NETLINK) {
			uint64_t proto = 0;

			/* "sk Eth Pid ...": Eth is the netlink protocol. */
			line_field_u64(nt->buf[i] + ent->off, nt->buf[i] + ent->off + ent->len, 1, &proto);
			h->li.sock_family = AF_NETLINK;
			h->li.sock_type = SOCK_RAW;
			h->li.sock_protocol = (int)proto;
			return 0;
		}
		if (net_line(nt, i, ent, scratch, sizeof(scratch), &len))
			return 0;
		if (d->kind == NT_UNIX)
			return sock_fill_unix(h, scratch, len, inode);
		return sock_fill_inet(h, d, scratch, len, inode);
	}
	return 0;
}

/* ---- reading one fd ---- */

/* What a pidfd's process looks like now, from /proc/PID/stat. */
static void pidfd_proc_read(int procroot, pid_t pid, struct handle_proc_info *ret)
{
	struct proc_stat ps;
	char path[32], *buf;
	size_t len;
	cpu_set_t set;
	int level = 8;

	memset(ret, 0, sizeof(*ret));
	if (pid <= 0 || procroot < 0)
		return;
	snprintf(path, sizeof(path), "%d/stat", (int)pid);
	if (read_fileat(procroot, path, &buf, &len))
		return;
	if (proc_stat_parse(buf, len, &ps) == 0) {
		ret->valid = true;
		ret->ppid = ps.ppid > 0 ? (DWORD)ps.ppid : 0;
		ret->peb = ps.arg_start;
		priority_from_sched((int)ps.nice, ps.policy, ps.rt_priority, NULL, &level);
		ret->base_priority = level;
		if (ps.state == 'T' || ps.state == 't')
			ret->flags |= PSS_PROCESS_FLAGS_FROZEN;
		/* A zombie: exit_code is the wait status (field 52, Linux 3.5+). */
		if (ps.state == 'Z' || ps.state == 'X') {
			int st = ps.exit_code;

			ret->exited = true;
			ret->exit_status = WIFEXITED(st) ? (DWORD)WEXITSTATUS(st) :
					   WIFSIGNALED(st) ? 128u + (DWORD)WTERMSIG(st) : 0;
		}
	}
	pss_free(buf);
	CPU_ZERO(&set);
	if (ret->valid && !ret->exited && sched_getaffinity(pid, sizeof(set), &set) == 0) {
		for (int c = 0; c < 64; c++)
			if (CPU_ISSET(c, &set))
				ret->affinity |= (ULONG_PTR)1 << c;
	}
}

/* One capture's state. */
struct handles_ctx {
	struct pss_snapshot *s;
	int procfd, fddir, infodir, procroot;
	DWORD flags;
	struct net_tables nt;
};

/*
 * Read fd @fd into h.  Returns 0, 1 when the fd vanished (skip it), or a
 * negative errno.  The fd may be closed and reused between the three
 * reads; a disagreement on the inode means that happened, so read again.
 */
static int handle_read_one(struct handles_ctx *c, int fd, struct pss_handle *h)
{
	struct handle_proc_info pp;
	struct handle_input in = { 0 };
	struct proc_fdinfo fi;
	struct stat st;
	char name[16], *link = NULL, *buf = NULL;
	size_t len;
	bool have_st;
	int err, tries = 0;

	snprintf(name, sizeof(name), "%d", fd);
again:
	err = read_linkat(c->fddir, name, &link);
	if (err == -ENOENT)
		return 1;
	if (err)
		return err;
	err = read_fileat(c->infodir, name, &buf, &len);
	if (err == -ENOENT)
		goto out_vanished;
	if (err)
		goto out_free_link;
	err = proc_fdinfo_parse(buf, len, &fi);
	pss_free(buf);
	if (err)
		memset(&fi, 0, sizeof(fi));
	/* stat follows the magic link to the open file without opening it. */
	have_st = fstatat(c->fddir, name, &st, 0) == 0;
	if (!have_st && errno == ENOENT)
		goto out_vanished;
	if (have_st && fi.have_ino && fi.ino != st.st_ino && ++tries < 3) {
		pss_free(link);
		goto again;
	}

	in.fd = fd;
	in.link = link;
	in.fi = &fi;
	in.st = have_st ? &st : NULL;
	in.capture_flags = c->flags;
	in.capture_time = filetime_from_unix_ns(now_ns(CLOCK_REALTIME));
	if (fi.have_pidfd && (c->flags & PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION)) {
		pidfd_proc_read(c->procroot, fi.pidfd_pid, &pp);
		in.pidfd_proc = &pp;
	}
	err = handle_fill(h, &in);	/* link belongs to h from here */
	if (!err && strcmp(h->li.type_name, "Socket") == 0)
		err = sock_fill(h, &c->nt, c->procfd);
	return err;

out_vanished:
	err = 1;
out_free_link:
	pss_free(link);
	return err;
}

/* ---- listing /proc/PID/fd ---- */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The fd numbers, ascending.  getdents64 rather than readdir: no libc
 * allocation (the snapshot may be in VM-allocation mode). */
static int fd_list(int fddir, int **ret, size_t *ret_n)
{
	const size_t bufsz = 32768;
	int *v = NULL;
	size_t n = 0, cap = 0;
	bool sorted = true;
	char *buf;
	long r;
	int err = 0;

	buf = pss_malloc(bufsz);
	if (!buf)
		return -ENOMEM;
	while ((r = syscall(SYS_getdents64, fddir, buf, bufsz)) > 0) {
		for (long off = 0; off < r;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			char *end;
			long fd;

			off += d->d_reclen;
			if (d->d_name[0] < '0' || d->d_name[0] > '9')
				continue;
			fd = strtol(d->d_name, &end, 10);
			if (*end || fd < 0 || fd > INT32_MAX)
				continue;
			if (pss_vec_grow(&v, &cap, n + 1, sizeof(*v))) {
				err = -ENOMEM;
				goto out_free;
			}
			if (n && v[n - 1] > fd)
				sorted = false;
			v[n++] = (int)fd;
		}
	}
	if (r < 0) {
		err = -errno;
		goto out_free;
	}
	/* The kernel lists the fd table in order; sort only if it did not. */
	if (!sorted)
		qsort(v, n, sizeof(*v), int_cmp);
	pss_free(buf);
	*ret = v;
	*ret_n = n;
	return 0;
out_free:
	pss_free(v);
	pss_free(buf);
	return err;
}

static int handles_read_all(struct handles_ctx *c, const int *fds, size_t nfds)
{
	struct pss_snapshot *s = c->s;
	struct pss_handle *hv;
	size_t n = 0;
	int err = 0;

	hv = pss_calloc(nfds ? nfds : 1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	for (size_t i = 0; i < nfds; i++) {
		err = handle_read_one(c, fds[i], &hv[n]);
		if (err < 0) {
			handle_release(&hv[n]);
			goto out_free;
		}
		if (err == 0)
			n++;
		err = 0;
	}
	s->handles = hv;
	s->nhandles = n;
	s->have_handles = true;
	return 0;
out_free:
	for (size_t i = 0; i < n; i++)
		handle_release(&hv[i]);
	pss_free(hv);
	return err;
}

/*
 * Fill s->handles from /proc/PID/fd.  @flags are the capture flags (only
 * the PSS_CAPTURE_HANDLE_* detail bits matter).  Returns 0 or -errno
 * (-EACCES, -ESRCH: the process is gone, -ENOMEM); s is untouched on
 * failure.
 */
int handles_collect(struct pss_snapshot *s, int procfd, DWORD flags)
{
	struct handles_ctx c = { .s = s, .procfd = procfd, .flags = flags, .procroot = -1 };
	int *fds = NULL;
	size_t nfds = 0;
	int err;

	c.fddir = openat(procfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.fddir < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	c.infodir = openat(procfd, "fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.infodir < 0) {
		err = errno == ENOENT ? -ESRCH : -errno;
		goto out_close_fddir;
	}
	/* The procfs root that procfd lives in: pidfd "Pid:" values are
	 * in its namespace. */
	c.procroot = openat(procfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd_list(c.fddir, &fds, &nfds);
	if (err)
		goto out_close;
	err = handles_read_all(&c, fds, nfds);
	pss_free(fds);
	net_tables_release(&c.nt);
out_close:
	if (c.procroot >= 0)
		close(c.procroot);
	close(c.infodir);
out_close_fddir:
	close(c.fddir);
	return err;
}
