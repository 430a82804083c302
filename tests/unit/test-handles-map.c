// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The handle facet's mapping rules on synthetic input: fd link text, mode
 * and fdinfo -> TypeName and ObjectType; open flags -> Attributes and
 * GrantedAccess; which PSS_HANDLE_HAVE_* bits each capture flag yields; the
 * socket-table index.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "facets.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

static const struct {
	const char *link;
	unsigned mode;
	const char *type;
	PSS_OBJECT_TYPE obj;
} kinds[] = {
	{ "socket:[4242]", S_IFSOCK | 0777, "Socket", PSS_OBJECT_TYPE_UNKNOWN },
	{ "socket:[4242]", 0, "Socket", PSS_OBJECT_TYPE_UNKNOWN },
	{ "pipe:[17]", S_IFIFO | 0600, "Pipe", PSS_OBJECT_TYPE_UNKNOWN },
	{ "/tmp/a fifo", S_IFIFO | 0600, "Pipe", PSS_OBJECT_TYPE_UNKNOWN },
	{ "anon_inode:[eventfd]", 0600, "EventFd", PSS_OBJECT_TYPE_EVENT },
	{ "anon_inode:[eventpoll]", 0600, "Epoll", PSS_OBJECT_TYPE_UNKNOWN },
	{ "anon_inode:[timerfd]", 0600, "TimerFd", PSS_OBJECT_TYPE_UNKNOWN },
	{ "anon_inode:[signalfd]", 0600, "SignalFd", PSS_OBJECT_TYPE_UNKNOWN },
	{ "anon_inode:inotify", 0600, "Inotify", PSS_OBJECT_TYPE_UNKNOWN },
	{ "anon_inode:[pidfd]", 0600, "PidFd", PSS_OBJECT_TYPE_PROCESS },
	{ "pidfd:[1234]", S_IFREG | 0700, "PidFd", PSS_OBJECT_TYPE_PROCESS },
	{ "anon_inode:[io_uring]", 0600, "AnonInode", PSS_OBJECT_TYPE_UNKNOWN },
	{ "anon_inode:bpf-map", 0600, "AnonInode", PSS_OBJECT_TYPE_UNKNOWN },
	{ "/memfd:cache (deleted)", S_IFREG | 0777, "MemFd", PSS_OBJECT_TYPE_SECTION },
	{ "/memfd:", S_IFREG | 0777, "MemFd", PSS_OBJECT_TYPE_SECTION },
	{ "/dev/shm/seg", S_IFREG | 0600, "File", PSS_OBJECT_TYPE_SECTION },
	{ "/dev/shmx", S_IFREG | 0600, "File", PSS_OBJECT_TYPE_UNKNOWN },
	{ "/tmp", S_IFDIR | 01777, "Directory", PSS_OBJECT_TYPE_UNKNOWN },
	{ "/dev/null", S_IFCHR | 0666, "CharDevice", PSS_OBJECT_TYPE_UNKNOWN },
	{ "/dev/vda", S_IFBLK | 0660, "BlockDevice", PSS_OBJECT_TYPE_UNKNOWN },
	{ "/etc/passwd", S_IFREG | 0644, "File", PSS_OBJECT_TYPE_UNKNOWN },
	{ "/etc/passwd (deleted)", 0, "File", PSS_OBJECT_TYPE_UNKNOWN },
	{ "", 0, "File", PSS_OBJECT_TYPE_UNKNOWN },
};

static void test_classify_table(void **state)
{
	struct proc_fdinfo fi = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		enum handle_kind k = handle_classify(kinds[i].link, kinds[i].mode, &fi);

		assert_string_equal(handle_kind_name(k), kinds[i].type);
		assert_int_equal(handle_object_type(k, kinds[i].link, false), kinds[i].obj);
		/* Without fdinfo the link and mode alone decide the same. */
		assert_int_equal(handle_classify(kinds[i].link, kinds[i].mode, NULL), k);
	}
}

/* An unfamiliar anon_inode name is settled by the fdinfo groups. */
static void test_classify_by_fdinfo(void **state)
{
	struct proc_fdinfo fi = { 0 };

	fi.have_pidfd = true;
	assert_int_equal(handle_classify("anon_inode:[something]", 0, &fi), HK_PIDFD);
	assert_int_equal(handle_classify("/pidfs-like-name", S_IFREG, &fi), HK_PIDFD);
	memset(&fi, 0, sizeof(fi));
	fi.have_eventfd = true;
	assert_int_equal(handle_classify("anon_inode:[something]", 0, &fi), HK_EVENTFD);
	/* ... but never overrides a clear link. */
	assert_int_equal(handle_classify("socket:[9]", 0, &fi), HK_SOCKET);
	assert_int_equal(handle_object_type(HK_EVENTFD, "anon_inode:[eventfd]", true),
			 PSS_OBJECT_TYPE_SEMAPHORE);
}

static void test_access_and_attributes(void **state)
{
	assert_int_equal(handle_granted_access(O_RDONLY), 0x120089);
	assert_int_equal(handle_granted_access(O_WRONLY | O_APPEND), 0x120116);
	assert_int_equal(handle_granted_access(O_RDWR | O_LARGEFILE), 0x120089 | 0x120116);
	assert_int_equal(handle_granted_access(O_PATH | O_CLOEXEC), 0x100080);
	assert_int_equal(handle_attributes(O_RDONLY), 0x2);
	assert_int_equal(handle_attributes(O_RDWR | O_CLOEXEC), 0);
	assert_int_equal(O_CLOEXEC, 02000000);	/* the bit fdinfo shows */
}

static void test_link_inode(void **state)
{
	uint64_t v = 0;

	assert_true(handle_link_inode("socket:[4242]", &v));
	assert_int_equal(v, 4242);
	assert_true(handle_link_inode("pipe:[18446744073709551615]", &v));
	assert_true(v == UINT64_MAX);
	assert_false(handle_link_inode("pipe:[18446744073709551616]", &v));
	assert_false(handle_link_inode("socket:[]", &v));
	assert_false(handle_link_inode("socket:[12]x", &v));
	assert_false(handle_link_inode("socket:[12", &v));
	assert_false(handle_link_inode(":[12]", &v));
	assert_false(handle_link_inode("/tmp/file", &v));
}

static void test_sock_addr_format(void **state)
{
	uint8_t a[16] = { 127, 0, 0, 1 };
	char buf[64];

	sock_addr_format(AF_INET, a, 8080, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:8080");
	memset(a, 0, sizeof(a));
	a[15] = 1;
	sock_addr_format(AF_INET6, a, 80, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:80");
	memset(a, 0, sizeof(a));
	sock_addr_format(AF_INET6, a, 0, buf, sizeof(buf));
	assert_string_equal(buf, "[::]:0");
}

static const char tcp_table[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 900 1 0 100 0 0 10 0\n"
	"   1: 0100007F:9C4A 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 17 1 0 20 4 30 10 -1\n"
	"   2: 0100007F:9C4B 0100007F:1F90 06 00000000:00000000 03:00000F2A 00000000     0        0 0 3 0\n"
	"   3: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5000 1 0 100 0 0 10 0\n";

static void test_net_index(void **state)
{
	struct net_index ix;
	const struct net_index_ent *e;
	struct proc_inet_sock is;
	char line[512];

	assert_int_equal(net_index_build(tcp_table, strlen(tcp_table), 9, &ix), 0);
	assert_int_equal(ix.n, 3);		/* the TIME_WAIT line has inode 0 */
	assert_int_equal(ix.header_len, strchr(tcp_table, '\n') + 1 - tcp_table);
	assert_null(net_index_find(&ix, 0));
	assert_null(net_index_find(&ix, 18));
	e = net_index_find(&ix, 17);
	assert_non_null(e);
	assert_true(!memcmp(tcp_table + e->off, "   1:", 5));
	/* The header and the one line are enough for the pure parser. */
	memcpy(line, tcp_table, ix.header_len);
	memcpy(line + ix.header_len, tcp_table + e->off, e->len);
	assert_int_equal(proc_net_inet_find(line, ix.header_len + e->len, AF_INET, 17, &is), 0);
	assert_int_equal(is.local_port, 0x9c4a);
	assert_int_equal(is.remote_port, 8080);
	assert_int_equal(is.state, 1);
	e = net_index_find(&ix, 5000);
	assert_non_null(e);
	assert_true(!memcmp(tcp_table + e->off, "   3:", 5));
	assert_non_null(net_index_find(&ix, 900));
	net_index_release(&ix);

	/* An empty table, and one without a newline at the end. */
	assert_int_equal(net_index_build("", 0, 9, &ix), 0);
	assert_int_equal(ix.n, 0);
	net_index_release(&ix);
	assert_int_equal(net_index_build("Num X\nffff: 1 2 3 4 5 77", 24, 6, &ix), 0);
	assert_int_equal(ix.n, 1);
	assert_non_null(net_index_find(&ix, 77));
	net_index_release(&ix);
}

/* handle_fill() with every detail bit, and with none. */
static void test_fill_eventfd_semaphore(void **state)
{
	const DWORD all = PSS_CAPTURE_HANDLE_NAME_INFORMATION | PSS_CAPTURE_HANDLE_BASIC_INFORMATION |
			  PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION;
	struct proc_fdinfo fi = { .flags = O_RDWR | O_CLOEXEC, .have_eventfd = true,
				  .eventfd_count = 3, .eventfd_semaphore = true };
	struct stat st = { .st_mode = 0600, .st_nlink = 1 };
	struct handle_input in = { .fd = 19, .fi = &fi, .st = &st, .capture_flags = all };
	struct pss_handle h = { 0 };

	in.link = pss_strdup("anon_inode:[eventfd]");
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_true(h.e.Handle == (HANDLE)(uintptr_t)19);
	assert_int_equal(h.e.ObjectType, PSS_OBJECT_TYPE_SEMAPHORE);
	assert_int_equal(h.e.Flags, PSS_HANDLE_HAVE_TYPE | PSS_HANDLE_HAVE_NAME |
			 PSS_HANDLE_HAVE_BASIC_INFORMATION | PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION);
	assert_int_equal(h.e.TypeNameLength, 2 * strlen("EventFd"));
	assert_true(h.e.TypeName[0] == u'E' && h.e.TypeName[6] == u'd' && h.e.TypeName[7] == 0);
	assert_int_equal(h.e.ObjectNameLength, 2 * strlen("anon_inode:[eventfd]"));
	assert_true(h.e.ObjectName[20] == 0);
	assert_int_equal(h.e.Attributes, 0);
	assert_int_equal(h.e.GrantedAccess, 0x12019f);
	assert_int_equal(h.e.HandleCount, 1);
	assert_int_equal(h.e.PointerCount, 1);
	assert_int_equal(h.e.TypeSpecificInformation.Semaphore.CurrentCount, 3);
	assert_int_equal(h.e.TypeSpecificInformation.Semaphore.MaximumCount, 0x7fffffff);
	assert_string_equal(h.li.type_name, "EventFd");
	assert_string_equal(h.li.link, "anon_inode:[eventfd]");
	assert_int_equal(h.li.cloexec, 1);
	assert_int_equal(h.li.eventfd_count, 3);
	assert_int_equal(h.li.eventfd_semaphore, 1);
	assert_string_equal(h.li.sock_local, "");
	handle_release(&h);

	/* No detail bits: the type and its name only. */
	memset(&h, 0, sizeof(h));
	fi.eventfd_semaphore = false;
	fi.eventfd_count = 0;
	fi.flags = O_RDWR;
	in.capture_flags = 0;
	in.link = pss_strdup("anon_inode:[eventfd]");
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_int_equal(h.e.ObjectType, PSS_OBJECT_TYPE_EVENT);
	assert_int_equal(h.e.Flags, PSS_HANDLE_HAVE_TYPE);
	assert_null(h.e.ObjectName);
	assert_int_equal(h.e.ObjectNameLength, 0);
	assert_non_null(h.e.TypeName);
	assert_int_equal(h.e.Attributes, 0);
	handle_release(&h);

	/* Type-specific alone, unsignaled manual-reset event. */
	memset(&h, 0, sizeof(h));
	in.capture_flags = PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION;
	in.link = pss_strdup("anon_inode:[eventfd]");
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_int_equal(h.e.Flags, PSS_HANDLE_HAVE_TYPE | PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION);
	assert_int_equal(h.e.TypeSpecificInformation.Event.ManualReset, TRUE);
	assert_int_equal(h.e.TypeSpecificInformation.Event.Signaled, FALSE);
	handle_release(&h);
}

/* A plain file: no type bit, no type-specific arm, basic info from stat. */
static void test_fill_file(void **state)
{
	const DWORD all = PSS_CAPTURE_HANDLE_NAME_INFORMATION | PSS_CAPTURE_HANDLE_BASIC_INFORMATION |
			  PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION;
	struct proc_fdinfo fi = { .flags = O_WRONLY | O_APPEND, .pos = 77, .mnt_id = 27,
				  .ino = 5, .have_ino = true };
	struct stat st = { .st_mode = S_IFREG | 0644, .st_nlink = 3, .st_size = 1000, .st_ino = 5 };
	struct handle_input in = { .fd = 4, .fi = &fi, .st = &st, .capture_flags = all };
	struct pss_handle h = { 0 };

	in.link = pss_strdup("/var/log/x \xc3\xa9");	/* UTF-8 e-acute */
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_int_equal(h.e.ObjectType, PSS_OBJECT_TYPE_UNKNOWN);
	assert_int_equal(h.e.Flags, PSS_HANDLE_HAVE_NAME | PSS_HANDLE_HAVE_BASIC_INFORMATION);
	assert_int_equal(h.e.ObjectNameLength, 2 * 12);
	assert_true(h.e.ObjectName[11] == 0xe9);
	assert_int_equal(h.e.Attributes, PSS_OBJ_INHERIT);
	assert_int_equal(h.e.GrantedAccess, 0x120116);
	assert_int_equal(h.e.PointerCount, 3);
	assert_int_equal(h.li.pos, 77);
	assert_int_equal(h.li.mnt_id, 27);
	assert_int_equal(h.li.size, 1000);
	assert_int_equal(h.li.inode, 5);
	assert_int_equal(h.li.mode, S_IFREG | 0644);
	assert_int_equal(h.li.pidfd_pid, 0);
	handle_release(&h);

	/* Unlinked, and stat not allowed: PointerCount 1. */
	memset(&h, 0, sizeof(h));
	in.st = NULL;
	in.link = pss_strdup("/tmp/gone (deleted)");
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_int_equal(h.e.PointerCount, 1);
	assert_int_equal(h.li.mode, 0);
	handle_release(&h);
}

static void test_fill_pidfd_and_section(void **state)
{
	struct proc_fdinfo fi = { .flags = O_RDWR | O_CLOEXEC, .have_pidfd = true, .pidfd_pid = 4321 };
	struct handle_proc_info pp = { .valid = true, .ppid = 1, .affinity = 3, .base_priority = 8,
				       .peb = 0x7ffe0000 };
	struct handle_input in = { .fd = 7, .fi = &fi, .pidfd_proc = &pp,
				   .capture_flags = PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION };
	struct stat st = { .st_mode = S_IFREG | 0777, .st_size = 12345 };
	struct pss_handle h = { 0 };

	in.link = pss_strdup("anon_inode:[pidfd]");
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_int_equal(h.e.ObjectType, PSS_OBJECT_TYPE_PROCESS);
	assert_true(h.e.Flags & PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION);
	assert_int_equal(h.e.TypeSpecificInformation.Process.ProcessId, 4321);
	assert_int_equal(h.e.TypeSpecificInformation.Process.ExitStatus, STILL_ACTIVE);
	assert_int_equal(h.e.TypeSpecificInformation.Process.ParentProcessId, 1);
	assert_int_equal(h.e.TypeSpecificInformation.Process.AffinityMask, 3);
	assert_int_equal(h.li.pidfd_pid, 4321);
	handle_release(&h);

	/* A zombie reports its exit status; a reaped one (Pid -1) no id. */
	memset(&h, 0, sizeof(h));
	pp.exited = true;
	pp.exit_status = 42;
	in.link = pss_strdup("anon_inode:[pidfd]");
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_int_equal(h.e.TypeSpecificInformation.Process.ExitStatus, 42);
	handle_release(&h);
	memset(&h, 0, sizeof(h));
	fi.pidfd_pid = -1;
	in.pidfd_proc = NULL;
	in.link = pss_strdup("anon_inode:[pidfd]");
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_int_equal(h.e.TypeSpecificInformation.Process.ProcessId, 0);
	assert_int_equal(h.li.pidfd_pid, -1);
	handle_release(&h);

	memset(&h, 0, sizeof(h));
	memset(&fi, 0, sizeof(fi));
	in.st = &st;
	in.link = pss_strdup("/memfd:blob (deleted)");
	assert_int_equal(handle_fill(&h, &in), 0);
	assert_int_equal(h.e.ObjectType, PSS_OBJECT_TYPE_SECTION);
	assert_string_equal(h.li.type_name, "MemFd");
	assert_int_equal(h.e.TypeSpecificInformation.Section.MaximumSize.QuadPart, 12345);
	handle_release(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_classify_by_fdinfo),
		cmocka_unit_test(test_access_and_attributes),
		cmocka_unit_test(test_link_inode),
		cmocka_unit_test(test_sock_addr_format),
		cmocka_unit_test(test_net_index),
		cmocka_unit_test(test_fill_eventfd_semaphore),
		cmocka_unit_test(test_fill_file),
		cmocka_unit_test(test_fill_pidfd_and_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
