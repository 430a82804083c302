// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc_fdinfo_parse() on fdinfo captured from one process holding an
 * eventfd (EFD_SEMAPHORE, 5 written), an eventfd at 0xffffffff, timerfds
 * (relative 100 s + 500 ns with a 2.25 s interval; absolute REALTIME),
 * a signalfd (SIGUSR1, SIGTERM, SIGRTMIN+2), inotify with 3 watches, epoll
 * with 2 targets, pidfds of a live and of a reaped child, a file at
 * offset 123, an O_APPEND file, a pipe and a socket; and on hostile texts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>

#include "proc/proc.h"
#include "proc-fixture.h"

/* the kernel's value; glibc defines O_LARGEFILE as 0 on x86-64 */
#define K_O_LARGEFILE 0100000

static int parse_fixture(const char *name, struct proc_fdinfo *fi)
{
	size_t len;
	char *buf = fixture_load(name, &len);
	int rc = proc_fdinfo_parse(buf, len, fi);

	free(buf);
	return rc;
}

static void test_plain(void **state)
{
	struct proc_fdinfo fi;

	assert_int_equal(parse_fixture("fdinfo-file", &fi), 0);
	assert_int_equal(fi.pos, 123);
	assert_int_equal(fi.flags, O_RDONLY | K_O_LARGEFILE);
	assert_int_equal(fi.mnt_id, 27);
	assert_true(fi.have_ino);
	assert_int_equal(fi.ino, 861);
	assert_false(fi.have_eventfd || fi.have_timerfd || fi.have_signalfd || fi.have_pidfd);
	assert_int_equal(fi.inotify_watches, 0);
	assert_int_equal(fi.epoll_targets, 0);

	assert_int_equal(parse_fixture("fdinfo-file-append", &fi), 0);
	assert_int_equal(fi.pos, 0);
	assert_int_equal(fi.flags, O_WRONLY | O_APPEND | O_CLOEXEC | K_O_LARGEFILE);
	assert_int_equal(fi.ino, 10952862);

	assert_int_equal(parse_fixture("fdinfo-pipe", &fi), 0);
	assert_int_equal(fi.flags, 0);
	assert_int_equal(fi.mnt_id, 16);
	assert_int_equal(fi.ino, 5034);

	assert_int_equal(parse_fixture("fdinfo-socket", &fi), 0);
	assert_int_equal(fi.flags, O_RDWR);
	assert_int_equal(fi.mnt_id, 10);
	assert_int_equal(fi.ino, 5035);
}

static void test_eventfd(void **state)
{
	struct proc_fdinfo fi;

	assert_int_equal(parse_fixture("fdinfo-eventfd-sem", &fi), 0);
	assert_int_equal(fi.flags, O_RDWR | O_CLOEXEC);
	assert_int_equal(fi.ino, 1044);
	assert_true(fi.have_eventfd);
	assert_int_equal(fi.eventfd_count, 5);
	assert_int_equal(fi.eventfd_id, 3);
	assert_true(fi.eventfd_semaphore);

	/* the count is hex: 0xffffffff prints as "ffffffff" */
	assert_int_equal(parse_fixture("fdinfo-eventfd", &fi), 0);
	assert_int_equal(fi.flags, O_RDWR | O_NONBLOCK);
	assert_true(fi.have_eventfd);
	assert_int_equal(fi.eventfd_count, 0xffffffffull);
	assert_int_equal(fi.eventfd_id, 4);
	assert_false(fi.eventfd_semaphore);
}

static void test_timerfd(void **state)
{
	struct proc_fdinfo fi;

	assert_int_equal(parse_fixture("fdinfo-timerfd", &fi), 0);
	assert_true(fi.have_timerfd);
	assert_int_equal(fi.timerfd_clockid, 1);	/* CLOCK_MONOTONIC */
	assert_int_equal(fi.timerfd_ticks, 0);
	assert_int_equal(fi.timerfd_settime_flags, 0);
	assert_int_equal(fi.timerfd_value_ns, 99795360084ull);	/* time left at capture */
	assert_int_equal(fi.timerfd_interval_ns, 2250000000ull);

	assert_int_equal(parse_fixture("fdinfo-timerfd-abs", &fi), 0);
	assert_int_equal(fi.timerfd_clockid, 0);	/* CLOCK_REALTIME */
	assert_int_equal(fi.timerfd_settime_flags, 1);	/* TFD_TIMER_ABSTIME */
	assert_int_equal(fi.timerfd_value_ns, 3599462442021ull);
	assert_int_equal(fi.timerfd_interval_ns, 0);
	assert_int_equal(fi.flags, O_RDWR | O_NONBLOCK);
}

static void test_signalfd_inotify_epoll(void **state)
{
	struct proc_fdinfo fi;

	assert_int_equal(parse_fixture("fdinfo-signalfd", &fi), 0);
	assert_true(fi.have_signalfd);
	assert_int_equal(fi.signalfd_mask, (1ull << 9) | (1ull << 14) | (1ull << 35));

	assert_int_equal(parse_fixture("fdinfo-inotify", &fi), 0);
	assert_int_equal(fi.inotify_watches, 3);
	assert_int_equal(fi.epoll_targets, 0);
	assert_int_equal(fi.flags, 0);

	assert_int_equal(parse_fixture("fdinfo-epoll", &fi), 0);
	assert_int_equal(fi.epoll_targets, 2);
	assert_int_equal(fi.inotify_watches, 0);
	assert_false(fi.have_eventfd);
}

static void test_pidfd(void **state)
{
	struct proc_fdinfo fi;

	assert_int_equal(parse_fixture("fdinfo-pidfd", &fi), 0);
	assert_true(fi.have_pidfd);
	assert_int_equal(fi.pidfd_pid, 3457);
	assert_int_equal(fi.pidfd_nspid_count, 1);
	assert_int_equal(fi.pidfd_nspid[0], 3457);
	assert_int_equal(fi.mnt_id, 4);
	assert_int_equal(fi.ino, 3458);

	assert_int_equal(parse_fixture("fdinfo-pidfd-reaped", &fi), 0);
	assert_true(fi.have_pidfd);
	assert_int_equal(fi.pidfd_pid, -1);
	assert_int_equal(fi.pidfd_nspid_count, 1);
	assert_int_equal(fi.pidfd_nspid[0], -1);
}

static void test_hostile(void **state)
{
	static const char *bad[] = {
		"fdinfo-missing", "fdinfo-bad-flags", "fdinfo-timer-overflow", "fdinfo-bad-nsec",
		"fdinfo-garbage", "fdinfo-empty",
	};
	struct proc_fdinfo fi, before;

	assert_int_equal(parse_fixture("fdinfo-hostile", &fi), 0);
	assert_true(fi.pos == UINT64_MAX);		/* "-1" */
	assert_true(fi.flags == UINT32_MAX);
	assert_false(fi.have_ino);
	assert_true(fi.have_eventfd);
	assert_true(fi.eventfd_count == UINT64_MAX);
	assert_true(fi.eventfd_id == UINT64_MAX);
	assert_int_equal(fi.epoll_targets, 1);
	assert_false(fi.have_timerfd);			/* no clockid: line */
	assert_true(fi.timerfd_value_ns == UINT64_MAX);
	assert_true(fi.have_pidfd);
	assert_int_equal(fi.pidfd_pid, -1);
	assert_int_equal(fi.pidfd_nspid_count, PROC_NSPID_MAX);
	assert_int_equal(fi.pidfd_nspid[7], 8);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&before, 0x5a, sizeof(before));
		fi = before;
		if (parse_fixture(bad[i], &fi) != -EINVAL)
			fail_msg("%s parsed", bad[i]);
		assert_memory_equal(&fi, &before, sizeof(fi));
	}
	assert_int_equal(proc_fdinfo_parse(NULL, 0, &fi), -EINVAL);
}

static void test_prefixes(void **state)
{
	static const char *names[] = {
		"fdinfo-eventfd-sem", "fdinfo-timerfd", "fdinfo-signalfd", "fdinfo-inotify",
		"fdinfo-epoll", "fdinfo-pidfd", "fdinfo-file", "fdinfo-hostile",
	};
	struct proc_fdinfo fi;

	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		size_t len;
		char *buf = fixture_load(names[f], &len);

		for (size_t n = 0; n <= len; n++) {
			char *p = prefix_dup(buf, n);

			assert_parser_rc(proc_fdinfo_parse(p, n, &fi));
			free(p);
		}
		assert_int_equal(proc_fdinfo_parse(buf, len, &fi), 0);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_eventfd),
		cmocka_unit_test(test_timerfd),
		cmocka_unit_test(test_signalfd_inotify_epoll),
		cmocka_unit_test(test_pidfd),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
