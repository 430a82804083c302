// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Live tests of PSS_CAPTURE_HANDLES: a victim opens one fd of every kind;
 * each must come back with its TypeName, ObjectType, ObjectName (the
 * /proc/PID/fd link), Flags per the detail bits asked, type-specific data,
 * and the Linux detail of pss_linux_query_handle().
 */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define ALL_HANDLE_FLAGS (PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION | \
			  PSS_CAPTURE_HANDLE_BASIC_INFORMATION | \
			  PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION)

static const struct kind {
	const char *key;	/* in the victim's reply */
	const char *type;	/* TypeName */
	PSS_OBJECT_TYPE otype;
} kinds[] = {
	{ "file", "File", PSS_OBJECT_TYPE_UNKNOWN },
	{ "dir", "Directory", PSS_OBJECT_TYPE_UNKNOWN },
	{ "pipe_r", "Pipe", PSS_OBJECT_TYPE_UNKNOWN },
	{ "pipe_w", "Pipe", PSS_OBJECT_TYPE_UNKNOWN },
	{ "sock0", "Socket", PSS_OBJECT_TYPE_UNKNOWN },
	{ "tcp", "Socket", PSS_OBJECT_TYPE_UNKNOWN },
	{ "eventfd", "EventFd", PSS_OBJECT_TYPE_EVENT },
	{ "eventfd_sem", "EventFd", PSS_OBJECT_TYPE_SEMAPHORE },
	{ "epoll", "Epoll", PSS_OBJECT_TYPE_UNKNOWN },
	{ "timerfd", "TimerFd", PSS_OBJECT_TYPE_UNKNOWN },
	{ "signalfd", "SignalFd", PSS_OBJECT_TYPE_UNKNOWN },
	{ "inotify", "Inotify", PSS_OBJECT_TYPE_UNKNOWN },
	{ "pidfd", "PidFd", PSS_OBJECT_TYPE_PROCESS },
	{ "memfd", "MemFd", PSS_OBJECT_TYPE_SECTION },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

struct fixture {
	struct target t;
	char dir[64];
	char reply[1024];
};

static void setup(struct fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/pss-handles-XXXXXX");
	REQUIRE(mkdtemp(f->dir) != NULL, "mkdtemp");
	start_victim(&f->t);
	target_cmdf(&f->t, f->reply, sizeof(f->reply), "fds %s", f->dir);
	REQUIRE(reply_get(f->reply, "memfd", -1) > 0, "victim: %s", f->reply);
}

static void teardown(struct fixture *f)
{
	char path[128];

	target_kill(&f->t);
	snprintf(path, sizeof(path), "%s/victim-file.txt", f->dir);
	unlink(path);
	rmdir(f->dir);
}

static PSS_HANDLE_ENTRY *find_fd(struct walk *w, int fd)
{
	for (size_t i = 0; i < w->count; i++)
		if (WALK_ITEM(w, PSS_HANDLE_ENTRY, i)->Handle == (HANDLE)(intptr_t)fd)
			return WALK_ITEM(w, PSS_HANDLE_ENTRY, i);
	return NULL;
}

/* A WCHAR string of @bytes bytes as UTF-8 (a trailing NUL is not part of it). */
static char *wstr(const WCHAR *s, WORD bytes)
{
	size_t units = bytes / sizeof(WCHAR);

	if (units && s && s[units - 1] == 0)
		units--;
	return u16_to_utf8(s, units);
}

static int count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Proves: every fd kind has the right TypeName, ObjectType, ObjectName and
 * Flags with all detail bits; HandlesCaptured equals /proc/PID/fd. */
TEST(every_fd_kind_typed_and_named)
{
	struct fixture f;
	struct walk w;
	PSS_HANDLE_INFORMATION hi;
	HPSS s;
	int nfds;

	setup(&f);
	nfds = count_fds(f.t.pid);
	s = capture_ok(f.t.pid, ALL_HANDLE_FLAGS, 0);
	REQUIRE_OK(PssQuerySnapshot(s, PSS_QUERY_HANDLE_INFORMATION, &hi, sizeof(hi)));
	CHECK_EQ_INT(hi.HandlesCaptured, nfds);
	CHECK_ERR(walk_collect(s, PSS_WALK_HANDLES, sizeof(PSS_HANDLE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	CHECK_EQ_U64(w.count, hi.HandlesCaptured);
	for (size_t i = 0; i < NKINDS; i++) {
		int fd = (int)reply_get(f.reply, kinds[i].key, -1);
		PSS_HANDLE_ENTRY *e = find_fd(&w, fd);
		char path[64], link[4096] = "", *type, *name;
		ssize_t n;

		CHECK(e != NULL, "%s fd %d not walked", kinds[i].key, fd);
		if (!e)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", f.t.pid, fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = 0;
		type = wstr(e->TypeName, e->TypeNameLength);
		name = wstr(e->ObjectName, e->ObjectNameLength);
		CHECK(!strcmp(type, kinds[i].type), "%s: TypeName '%s', want '%s'", kinds[i].key, type,
		      kinds[i].type);
		CHECK(!strcmp(name, link), "%s: ObjectName '%s', link '%s'", kinds[i].key, name, link);
		CHECK(e->ObjectType == kinds[i].otype, "%s: ObjectType %d, want %d", kinds[i].key,
		      e->ObjectType, kinds[i].otype);
		CHECK(e->Flags & PSS_HANDLE_HAVE_NAME, "%s: no HAVE_NAME (%#x)", kinds[i].key, e->Flags);
		CHECK(e->Flags & PSS_HANDLE_HAVE_BASIC_INFORMATION, "%s: no HAVE_BASIC_INFORMATION (%#x)",
		      kinds[i].key, e->Flags);
		if (kinds[i].otype != PSS_OBJECT_TYPE_UNKNOWN) {
			CHECK(e->Flags & PSS_HANDLE_HAVE_TYPE, "%s: no HAVE_TYPE (%#x)", kinds[i].key, e->Flags);
			CHECK(e->Flags & PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION,
			      "%s: no HAVE_TYPE_SPECIFIC_INFORMATION (%#x)", kinds[i].key, e->Flags);
		}
		free(type);
		free(name);
	}
	walk_release(&w);
	free_snap(s);
	teardown(&f);
}

/* Proves: the type-specific union: pidfd = Process with the pid it refers
 * to; eventfd count 5 = signalled manual-reset Event; EFD_SEMAPHORE eventfd
 * = Semaphore with its count; memfd = Section with MaximumSize 12345. */
TEST(type_specific_information)
{
	struct fixture f;
	struct walk w;
	PSS_HANDLE_ENTRY *e;
	HPSS s;

	setup(&f);
	s = capture_ok(f.t.pid, ALL_HANDLE_FLAGS, 0);
	CHECK_ERR(walk_collect(s, PSS_WALK_HANDLES, sizeof(PSS_HANDLE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	e = find_fd(&w, (int)reply_get(f.reply, "pidfd", -1));
	REQUIRE(e, "pidfd not walked");
	CHECK_EQ_INT(e->ObjectType, PSS_OBJECT_TYPE_PROCESS);
	CHECK_EQ_U64(e->TypeSpecificInformation.Process.ProcessId, f.t.pid);
	CHECK_EQ_U64(e->TypeSpecificInformation.Process.ParentProcessId, getpid());
	CHECK_EQ_U64(e->TypeSpecificInformation.Process.ExitStatus, STILL_ACTIVE);

	e = find_fd(&w, (int)reply_get(f.reply, "eventfd", -1));
	REQUIRE(e, "eventfd not walked");
	CHECK_EQ_INT(e->ObjectType, PSS_OBJECT_TYPE_EVENT);
	CHECK_EQ_INT(e->TypeSpecificInformation.Event.Signaled, TRUE);
	CHECK_EQ_INT(e->TypeSpecificInformation.Event.ManualReset, TRUE);

	e = find_fd(&w, (int)reply_get(f.reply, "eventfd_sem", -1));
	REQUIRE(e, "semaphore eventfd not walked");
	CHECK_EQ_INT(e->ObjectType, PSS_OBJECT_TYPE_SEMAPHORE);
	CHECK_EQ_INT(e->TypeSpecificInformation.Semaphore.CurrentCount, 3);

	e = find_fd(&w, (int)reply_get(f.reply, "memfd", -1));
	REQUIRE(e, "memfd not walked");
	CHECK_EQ_INT(e->ObjectType, PSS_OBJECT_TYPE_SECTION);
	CHECK_EQ_INT(e->TypeSpecificInformation.Section.MaximumSize.QuadPart, 12345);
	walk_release(&w);
	free_snap(s);
	teardown(&f);
}

/* Proves: Flags follow the detail bits: with PSS_CAPTURE_HANDLES alone there
 * is no name, basic or type-specific information; each detail bit adds its
 * own flag; Attributes mark the inheritable (not close-on-exec) fd. */
TEST(flags_follow_detail_bits)
{
	struct fixture f;
	struct walk w;
	PSS_HANDLE_ENTRY *e, *ecl;
	HPSS s;
	int efd;

	setup(&f);
	efd = (int)reply_get(f.reply, "eventfd", -1);
	s = capture_ok(f.t.pid, PSS_CAPTURE_HANDLES, 0);
	CHECK_ERR(walk_collect(s, PSS_WALK_HANDLES, sizeof(PSS_HANDLE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	REQUIRE(w.count > 0, "no handles");
	for (size_t i = 0; i < w.count; i++) {
		e = WALK_ITEM(&w, PSS_HANDLE_ENTRY, i);
		CHECK(!(e->Flags & (PSS_HANDLE_HAVE_NAME | PSS_HANDLE_HAVE_BASIC_INFORMATION |
				    PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION)),
		      "fd %ld: Flags %#x without detail bits", (long)(intptr_t)e->Handle, e->Flags);
		CHECK(e->TypeName != NULL && e->TypeNameLength > 0, "fd %ld: no TypeName",
		      (long)(intptr_t)e->Handle);
	}
	walk_release(&w);
	free_snap(s);

	s = capture_ok(f.t.pid, PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION, 0);
	CHECK_ERR(walk_collect(s, PSS_WALK_HANDLES, sizeof(PSS_HANDLE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	e = find_fd(&w, efd);
	REQUIRE(e, "eventfd not walked");
	CHECK(e->Flags & PSS_HANDLE_HAVE_NAME, "Flags %#x", e->Flags);
	CHECK(!(e->Flags & (PSS_HANDLE_HAVE_BASIC_INFORMATION | PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION)),
	      "Flags %#x", e->Flags);
	CHECK(e->ObjectName && e->ObjectNameLength, "no ObjectName with NAME_INFORMATION");
	walk_release(&w);
	free_snap(s);

	s = capture_ok(f.t.pid, PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_BASIC_INFORMATION, 0);
	CHECK_ERR(walk_collect(s, PSS_WALK_HANDLES, sizeof(PSS_HANDLE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	e = find_fd(&w, (int)reply_get(f.reply, "file", -1));		/* not close-on-exec */
	ecl = find_fd(&w, (int)reply_get(f.reply, "dir", -1));		/* close-on-exec */
	REQUIRE(e && ecl, "file or dir fd not walked");
	CHECK(e->Flags & PSS_HANDLE_HAVE_BASIC_INFORMATION, "Flags %#x", e->Flags);
	CHECK(!(e->Flags & PSS_HANDLE_HAVE_NAME), "Flags %#x", e->Flags);
	CHECK(e->Attributes != ecl->Attributes,
	      "inheritable and close-on-exec fds have the same Attributes %#x", e->Attributes);
	CHECK(e->Attributes & 0x2, "OBJ_INHERIT (0x2) missing on the inheritable fd: %#x", e->Attributes);
	CHECK(e->GrantedAccess != 0, "no GrantedAccess for an O_RDWR file");
	walk_release(&w);
	free_snap(s);

	s = capture_ok(f.t.pid, PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION, 0);
	CHECK_ERR(walk_collect(s, PSS_WALK_HANDLES, sizeof(PSS_HANDLE_ENTRY), &w), ERROR_NO_MORE_ITEMS);
	e = find_fd(&w, efd);
	REQUIRE(e, "eventfd not walked");
	CHECK(e->Flags & PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION, "Flags %#x", e->Flags);
	CHECK_EQ_INT(e->TypeSpecificInformation.Event.Signaled, TRUE);
	walk_release(&w);
	free_snap(s);

	/* detail bits without PSS_CAPTURE_HANDLES are ignored (header) */
	s = capture_ok(f.t.pid, PSS_CAPTURE_HANDLE_NAME_INFORMATION, 0);
	{
		PSS_HANDLE_INFORMATION hi;

		CHECK_ERR(PssQuerySnapshot(s, PSS_QUERY_HANDLE_INFORMATION, &hi, sizeof(hi)), ERROR_NOT_FOUND);
	}
	free_snap(s);
	teardown(&f);
}

static struct pss_linux_handle_info query_fd(HPSS s, int fd)
{
	struct pss_linux_handle_info li;

	memset(&li, 0, sizeof(li));
	li.sz = sizeof(li);
	CHECK_ERR(pss_linux_query_handle(s, fd, &li), ERROR_SUCCESS);
	return li;
}

/* Proves: pss_linux_query_handle() detail per kind: the TCP listener's
 * address, port and LISTEN state; eventfd counts and semaphore flag; timerfd
 * interval; signalfd mask; inotify watches; epoll targets; pidfd pid. */
TEST(linux_handle_detail)
{
	struct fixture f;
	struct pss_linux_handle_info li;
	char want[64];
	HPSS s;
	int fd;

	setup(&f);
	s = capture_ok(f.t.pid, ALL_HANDLE_FLAGS, 0);

	li = query_fd(s, (int)reply_get(f.reply, "tcp", -1));
	CHECK_EQ_INT(li.sock_family, AF_INET);
	CHECK_EQ_INT(li.sock_type, SOCK_STREAM);
	CHECK_EQ_INT(li.sock_state, 10);	/* TCP_LISTEN */
	snprintf(want, sizeof(want), "127.0.0.1:%lld", reply_get(f.reply, "port", -1));
	CHECK(li.sock_local && !strcmp(li.sock_local, want), "sock_local '%s', want '%s'",
	      li.sock_local ? li.sock_local : "(null)", want);
	CHECK(li.type_name && !strcmp(li.type_name, "Socket"), "type_name %s", li.type_name);

	li = query_fd(s, (int)reply_get(f.reply, "sock0", -1));
	CHECK_EQ_INT(li.sock_family, AF_UNIX);

	li = query_fd(s, (int)reply_get(f.reply, "eventfd", -1));
	CHECK_EQ_U64(li.eventfd_count, 5);
	CHECK_EQ_INT(li.eventfd_semaphore, 0);
	li = query_fd(s, (int)reply_get(f.reply, "eventfd_sem", -1));
	CHECK_EQ_U64(li.eventfd_count, 3);
	CHECK_EQ_INT(li.eventfd_semaphore, 1);

	li = query_fd(s, (int)reply_get(f.reply, "timerfd", -1));
	CHECK_EQ_U64(li.timerfd_interval_ns, 10000000000ull);
	CHECK_EQ_INT(li.timerfd_clockid, CLOCK_MONOTONIC);
	CHECK(li.timerfd_value_ns > 0 && li.timerfd_value_ns <= 10000000000ull, "timerfd value %llu",
	      li.timerfd_value_ns);

	li = query_fd(s, (int)reply_get(f.reply, "signalfd", -1));
	CHECK_EQ_HEX(li.signalfd_mask, 1ull << (SIGUSR2 - 1));

	li = query_fd(s, (int)reply_get(f.reply, "inotify", -1));
	CHECK_EQ_U64(li.inotify_watches, 1);
	li = query_fd(s, (int)reply_get(f.reply, "epoll", -1));
	CHECK_EQ_U64(li.epoll_targets, 1);
	li = query_fd(s, (int)reply_get(f.reply, "pidfd", -1));
	CHECK_EQ_INT(li.pidfd_pid, f.t.pid);

	fd = (int)reply_get(f.reply, "file", -1);
	li = query_fd(s, fd);
	CHECK_EQ_INT(li.fd, fd);
	CHECK(S_ISREG(li.mode), "file mode %o", li.mode);
	CHECK_EQ_U64(li.size, 6);
	CHECK_EQ_U64(li.pos, 6);
	CHECK_EQ_INT(li.cloexec, 0);
	CHECK_EQ_HEX(li.fd_flags & O_ACCMODE, O_RDWR);
	li = query_fd(s, (int)reply_get(f.reply, "dir", -1));
	CHECK_EQ_INT(li.cloexec, 1);
	CHECK(S_ISDIR(li.mode), "dir mode %o", li.mode);
	li = query_fd(s, (int)reply_get(f.reply, "memfd", -1));
	CHECK_EQ_U64(li.size, 12345);
	CHECK(li.link && strstr(li.link, "pss-test-memfd"), "memfd link '%s'", li.link);

	CHECK_ERR(pss_linux_query_handle(s, 9999, &li), ERROR_NOT_FOUND);
	free_snap(s);
	teardown(&f);
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
