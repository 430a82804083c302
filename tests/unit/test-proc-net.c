// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc_net_inet_find() and proc_net_unix_find() on /proc/net/{tcp,tcp6,unix}
 * captured while the capturing program held: a listener on 127.0.0.1:45678
 * and a client connected to it, a listener on 2001:db8::1234:5678 port
 * 45679 (IP_FREEBIND), a listener on [::1]:45680 and a client of it, a
 * listening unix stream socket at a path, an abstract datagram socket
 * "\0pss-abstract", a seqpacket socketpair and a client of the listener.
 * Inode numbers come from fstat() in that program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "proc/proc.h"
#include "proc-fixture.h"

static void addr_equal(const uint8_t *got, int family, const char *text)
{
	uint8_t want[16] = { 0 };

	assert_int_equal(inet_pton(family, text, want), 1);
	assert_memory_equal(got, want, family == AF_INET ? 4 : 16);
}

static void test_tcp(void **state)
{
	struct proc_inet_sock sk;
	size_t len;
	char *buf = fixture_load("net-tcp", &len);

	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, 5035, &sk), 0);
	assert_int_equal(sk.family, AF_INET);
	addr_equal(sk.local_addr, AF_INET, "127.0.0.1");
	assert_int_equal(sk.local_port, 45678);
	addr_equal(sk.remote_addr, AF_INET, "0.0.0.0");
	assert_int_equal(sk.remote_port, 0);
	assert_int_equal(sk.state, TCP_LISTEN);
	assert_int_equal(sk.inode, 5035);

	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, 5036, &sk), 0);
	addr_equal(sk.local_addr, AF_INET, "127.0.0.1");
	assert_int_equal(sk.local_port, 0xBA4C);
	addr_equal(sk.remote_addr, AF_INET, "127.0.0.1");
	assert_int_equal(sk.remote_port, 45678);
	assert_int_equal(sk.state, TCP_ESTABLISHED);

	/* the machine's own listener on port 2024 */
	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, 127, &sk), 0);
	assert_int_equal(sk.local_port, 2024);

	sk.inode = 4242;
	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, 5037, &sk), -ENOENT);
	assert_int_equal(sk.inode, 4242);
	/* IPv4 lines do not parse as IPv6 ones */
	assert_int_equal(proc_net_inet_find(buf, len, AF_INET6, 5035, &sk), -EINVAL);
	assert_int_equal(proc_net_inet_find(buf, len, AF_UNIX, 5035, &sk), -EINVAL);
	free(buf);
}

static void test_tcp6(void **state)
{
	struct proc_inet_sock sk;
	size_t len;
	char *buf = fixture_load("net-tcp6", &len);

	assert_int_equal(proc_net_inet_find(buf, len, AF_INET6, 5037, &sk), 0);
	assert_int_equal(sk.family, AF_INET6);
	addr_equal(sk.local_addr, AF_INET6, "2001:db8::1234:5678");
	assert_int_equal(sk.local_port, 45679);
	addr_equal(sk.remote_addr, AF_INET6, "::");
	assert_int_equal(sk.state, TCP_LISTEN);

	assert_int_equal(proc_net_inet_find(buf, len, AF_INET6, 5038, &sk), 0);
	addr_equal(sk.local_addr, AF_INET6, "::1");
	assert_int_equal(sk.local_port, 45680);

	assert_int_equal(proc_net_inet_find(buf, len, AF_INET6, 5039, &sk), 0);
	addr_equal(sk.local_addr, AF_INET6, "::1");
	assert_int_equal(sk.local_port, 0xE550);
	addr_equal(sk.remote_addr, AF_INET6, "::1");
	assert_int_equal(sk.remote_port, 45680);
	assert_int_equal(sk.state, TCP_ESTABLISHED);

	assert_int_equal(proc_net_inet_find(buf, len, AF_INET6, 5035, &sk), -ENOENT);
	free(buf);
}

static void test_inet_hostile(void **state)
{
	static const uint8_t ones[4] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t remote[4] = { 0x0d, 0x0c, 0x0b, 0x0a };
	struct proc_inet_sock sk;
	size_t len;
	char *buf = fixture_load("net-tcp-hostile", &len);

	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, UINT64_MAX, &sk), 0);
	assert_memory_equal(sk.local_addr, ones, 4);
	assert_int_equal(sk.local_port, 0xffff);
	assert_memory_equal(sk.remote_addr, remote, 4);	/* 0x0A0B0C0D in host order */
	assert_int_equal(sk.remote_port, 1);
	assert_int_equal(sk.state, 0x0C);

	/* the last line stops right after the inode */
	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, 100, &sk), 0);
	assert_int_equal(sk.local_port, 22);

	/* lines 0, 1, 2 and 4 are broken: not found, and we say the text was bad */
	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, 77, &sk), -EINVAL);
	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, 99, &sk), -EINVAL);
	free(buf);

	buf = fixture_load("net-tcp-empty", &len);
	assert_int_equal(proc_net_inet_find(buf, len, AF_INET, 1, &sk), -ENOENT);
	free(buf);
}

static void test_unix(void **state)
{
	struct proc_unix_sock sk;
	size_t len;
	char *buf = fixture_load("net-unix", &len);

	assert_int_equal(proc_net_unix_find(buf, len, 5040, &sk), 0);
	assert_int_equal(sk.type, SOCK_STREAM);
	assert_int_equal(sk.state, 1);
	assert_int_equal(sk.flags, 0x10000);	/* __SO_ACCEPTCON: listening */
	assert_int_equal(sk.inode, 5040);
	assert_str_equal_n(sk.path, "/tmp/cap/sock");

	assert_int_equal(proc_net_unix_find(buf, len, 5041, &sk), 0);
	assert_int_equal(sk.type, SOCK_DGRAM);
	assert_int_equal(sk.flags, 0);
	assert_str_equal_n(sk.path, "@pss-abstract");

	assert_int_equal(proc_net_unix_find(buf, len, 5042, &sk), 0);
	assert_int_equal(sk.type, SOCK_SEQPACKET);
	assert_int_equal(sk.state, 3);
	assert_int_equal(sk.path.len, 0);
	assert_int_equal(proc_net_unix_find(buf, len, 5043, &sk), 0);
	assert_int_equal(sk.type, SOCK_SEQPACKET);

	assert_int_equal(proc_net_unix_find(buf, len, 5044, &sk), 0);
	assert_int_equal(sk.type, SOCK_STREAM);
	assert_int_equal(sk.state, 3);
	assert_int_equal(sk.path.len, 0);

	/* the server end waiting in accept(): inode 0, state SS_CONNECTING */
	assert_int_equal(proc_net_unix_find(buf, len, 0, &sk), 0);
	assert_int_equal(sk.state, 2);
	assert_str_equal_n(sk.path, "/tmp/cap/sock");

	assert_int_equal(proc_net_unix_find(buf, len, 5035, &sk), -ENOENT);
	free(buf);
}

static void test_unix_hostile(void **state)
{
	struct proc_unix_sock sk;
	size_t len;
	char *buf = fixture_load("net-unix-hostile", &len);

	assert_int_equal(proc_net_unix_find(buf, len, 7001, &sk), 0);
	assert_str_equal_n(sk.path, "/tmp/with space");
	assert_int_equal(sk.flags, 0x10000);
	/* a newline in the path cuts the line: we get the part before it */
	assert_int_equal(proc_net_unix_find(buf, len, 7002, &sk), 0);
	assert_str_equal_n(sk.path, "/tmp/new");
	assert_int_equal(proc_net_unix_find(buf, len, 7003, &sk), 0);
	assert_str_equal_n(sk.path, "@abs@with@nuls");
	assert_int_equal(sk.type, SOCK_DGRAM);
	assert_int_equal(proc_net_unix_find(buf, len, 7004, &sk), 0);
	assert_str_equal_n(sk.path, " leading-space");
	assert_int_equal(sk.type, SOCK_SEQPACKET);
	assert_int_equal(sk.state, 3);
	assert_int_equal(proc_net_unix_find(buf, len, UINT64_MAX, &sk), 0);
	assert_int_equal(sk.path.len, 0);
	/* "line" and "garbage garbage" do not parse */
	assert_int_equal(proc_net_unix_find(buf, len, 9999, &sk), -EINVAL);
	free(buf);

	buf = fixture_load("net-unix-empty", &len);
	assert_int_equal(proc_net_unix_find(buf, len, 1, &sk), -ENOENT);
	free(buf);
}

static void test_prefixes(void **state)
{
	static const struct {
		const char *name;
		int family;
		uint64_t inode;
	} files[] = {
		{ "net-tcp", AF_INET, 5036 }, { "net-tcp6", AF_INET6, 5039 },
		{ "net-tcp-hostile", AF_INET, 100 }, { "net-unix", 0, 5041 },
		{ "net-unix-hostile", 0, UINT64_MAX },
	};

	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		size_t len;
		char *buf = fixture_load(files[f].name, &len);

		for (size_t n = 0; n <= len; n++) {
			char *p = prefix_dup(buf, n);
			struct proc_inet_sock in;
			struct proc_unix_sock un;
			int rc;

			if (files[f].family) {
				rc = proc_net_inet_find(p, n, files[f].family, files[f].inode, &in);
			} else {
				rc = proc_net_unix_find(p, n, files[f].inode, &un);
				if (!rc)
					assert_true(un.path.p >= p && un.path.p + un.path.len <= p + n);
			}
			assert_parser_rc(rc);
			free(p);
		}
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_tcp6),
		cmocka_unit_test(test_inet_hostile),
		cmocka_unit_test(test_unix),
		cmocka_unit_test(test_unix_hostile),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
