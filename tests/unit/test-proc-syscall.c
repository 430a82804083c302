// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc_syscall_parse() on /proc/TID/syscall captured from a thread blocked
 * in read(28, buf, 1), a child in pause(), a busy child ("running") and
 * the same child stopped by SIGSTOP ("-1 sp pc"), and on hostile texts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/syscall.h>

#include "proc/proc.h"
#include "proc-fixture.h"

static int parse_fixture(const char *name, struct proc_syscall *sc)
{
	size_t len;
	char *buf = fixture_load(name, &len);
	int rc = proc_syscall_parse(buf, len, sc);

	free(buf);
	return rc;
}

static void test_blocked(void **state)
{
	struct proc_syscall sc;

	assert_int_equal(parse_fixture("syscall-blocked-read", &sc), 0);
	assert_int_equal(sc.nr, SYS_read);
	assert_int_equal(sc.args[0], 28);		/* the pipe's read end */
	assert_int_equal(sc.args[1], 0x7f65f9ec9ecfull);
	assert_int_equal(sc.args[2], 1);
	assert_int_equal(sc.args[3], 0x7f65f9eddb60ull);
	assert_int_equal(sc.args[4], 0);
	assert_int_equal(sc.args[5], 0x7fff3a3e68a7ull);
	assert_int_equal(sc.sp, 0x7f65f9ec9e90ull);
	assert_int_equal(sc.pc, 0x7f65f9fc62ecull);

	assert_int_equal(parse_fixture("syscall-pause", &sc), 0);
	assert_int_equal(sc.nr, SYS_pause);
	assert_int_equal(sc.args[0], 0);
	assert_int_equal(sc.args[3], 0x7f65f9ee7fa0ull);
	assert_int_equal(sc.args[5], 0x7f65f9ecb740ull);
	assert_int_equal(sc.sp, 0x7fff3a3e6988ull);
	assert_int_equal(sc.pc, 0x7f65f9fa1dd0ull);
}

static void test_running_and_stopped(void **state)
{
	struct proc_syscall sc;

	memset(&sc, 0x5a, sizeof(sc));
	assert_int_equal(parse_fixture("syscall-running", &sc), 0);
	assert_int_equal(sc.nr, -2);
	assert_int_equal(sc.sp, 0);
	assert_int_equal(sc.args[0], 0);

	memset(&sc, 0x5a, sizeof(sc));
	assert_int_equal(parse_fixture("syscall-stopped", &sc), 0);
	assert_int_equal(sc.nr, -1);
	assert_int_equal(sc.args[0], 0);
	assert_int_equal(sc.args[5], 0);
	assert_int_equal(sc.sp, 0x7ffe5dc9cd30ull);
	assert_int_equal(sc.pc, 0x55fd650522b6ull);
}

static void test_extremes(void **state)
{
	struct proc_syscall sc;

	assert_int_equal(parse_fixture("syscall-max", &sc), 0);
	assert_true(sc.nr == INT64_MAX);
	assert_true(sc.args[0] == UINT64_MAX);
	assert_int_equal(sc.args[1], 0);
	assert_int_equal(sc.args[5], 4);
	assert_true(sc.sp == UINT64_MAX);
	assert_int_equal(sc.pc, 0x8000000000000000ull);

	assert_int_equal(parse_fixture("syscall-long", &sc), 0);
	assert_int_equal(sc.nr, 1);
	assert_int_equal(sc.args[0], 1);
	assert_int_equal(sc.args[5], 6);
	assert_int_equal(sc.sp, 7);
	assert_int_equal(sc.pc, 8);
}

static void test_bad(void **state)
{
	static const char *bad[] = {
		"syscall-short", "syscall-garbage", "syscall-bad-nr", "syscall-hex-overflow",
		"syscall-empty",
	};
	static const char *texts[] = {
		"running x\n", "-1 0x1\n", "-1 0x1 0x2 0x3\n", "0 0x1 0x2 0x3 0x4 0x5 0x6 0x7\n",
		"0  0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n", "0x0 0x1 0x2\n", "-1 0x 0x2\n",
	};
	struct proc_syscall sc, before;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&before, 0x5a, sizeof(before));
		sc = before;
		if (parse_fixture(bad[i], &sc) != -EINVAL)
			fail_msg("%s parsed", bad[i]);
		assert_memory_equal(&sc, &before, sizeof(sc));
	}
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n = strlen(texts[i]);
		char *b = prefix_dup(texts[i], n);

		if (proc_syscall_parse(b, n, &sc) != -EINVAL)
			fail_msg("\"%s\" parsed", texts[i]);
		free(b);
	}
	/* the "0x" may be missing */
	assert_int_equal(proc_syscall_parse("-1 10 ff", 8, &sc), 0);
	assert_int_equal(sc.sp, 0x10);
	assert_int_equal(sc.pc, 0xff);
}

static void test_prefixes(void **state)
{
	static const char *names[] = {
		"syscall-blocked-read", "syscall-running", "syscall-stopped", "syscall-max",
	};
	struct proc_syscall sc;

	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		size_t len;
		char *buf = fixture_load(names[f], &len);

		for (size_t n = 0; n <= len; n++) {
			char *p = prefix_dup(buf, n);

			assert_parser_rc(proc_syscall_parse(p, n, &sc));
			free(p);
		}
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocked),
		cmocka_unit_test(test_running_and_stopped),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
