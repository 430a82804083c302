// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc_stat_parse() on captured /proc/PID/stat texts (a process, one of
 * its threads, kthreadd, a zombie, comms set with prctl(PR_SET_NAME) to
 * ") R 1 (x\n" and to bytes that are not UTF-8) and on hand-made hostile
 * ones.  Expected values were read off the fixtures by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "proc/proc.h"
#include "proc-fixture.h"

static int parse_fixture(const char *name, struct proc_stat *st)
{
	size_t len;
	char *buf = fixture_load(name, &len);
	int rc;

	rc = proc_stat_parse(buf, len, st);
	/* comm points into buf: keep buf alive for the caller's checks */
	if (rc == 0) {
		static char keep[8192];

		assert_true(len <= sizeof(keep));
		memcpy(keep, buf, len);
		st->comm.p = keep + (st->comm.p - buf);
	}
	free(buf);
	return rc;
}

static void test_self(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-self", &st), 0);
	assert_int_equal(st.pid, 3456);
	assert_str_equal_n(st.comm, "cap");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 3405);
	assert_int_equal(st.pgrp, 3405);
	assert_int_equal(st.session, 2485);
	assert_int_equal(st.tty_nr, 0);
	assert_int_equal(st.tpgid, -1);
	assert_int_equal(st.flags, 4194304);
	assert_int_equal(st.minflt, 113);
	assert_int_equal(st.cminflt, 17);
	assert_int_equal(st.priority, 20);
	assert_int_equal(st.nice, 0);
	assert_int_equal(st.num_threads, 2);
	assert_int_equal(st.starttime, 50910);
	assert_int_equal(st.vsize, 10973184);
	assert_int_equal(st.rss, 376);
	assert_true(st.rsslim == UINT64_MAX);
	assert_int_equal(st.startcode, 94914388357120ull);
	assert_int_equal(st.endcode, 94914388362305ull);
	assert_int_equal(st.startstack, 140734170558096ull);
	assert_int_equal(st.blocked, 16896);
	assert_int_equal(st.exit_signal, 17);
	assert_int_equal(st.processor, 1);
	assert_int_equal(st.start_data, 94914388372944ull);
	assert_int_equal(st.end_data, 94914388373920ull);
	assert_int_equal(st.start_brk, 94915079696384ull);
	assert_int_equal(st.arg_start, 140734170565280ull);
	assert_int_equal(st.arg_end, 140734170565286ull);
	assert_int_equal(st.env_start, 140734170565286ull);
	assert_int_equal(st.env_end, 140734170566642ull);
	assert_int_equal(st.exit_code, 0);
	assert_int_equal(st.nfields, 52);
}

static void test_thread(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-thread", &st), 0);
	assert_int_equal(st.pid, 3460);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.flags, 4194368);
	assert_int_equal(st.minflt, 1);
	assert_int_equal(st.wchan, 1);
	assert_int_equal(st.exit_signal, -1);
	assert_int_equal(st.processor, 0);
	assert_int_equal(st.nfields, 52);
}

static void test_kthread(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-kthreadd", &st), 0);
	assert_int_equal(st.pid, 2);
	assert_str_equal_n(st.comm, "kthreadd");
	assert_int_equal(st.ppid, 0);
	assert_int_equal(st.flags, 2129984);
	assert_true(st.flags & 0x00200000);	/* PF_KTHREAD */
	assert_int_equal(st.starttime, 6);
	assert_int_equal(st.vsize, 0);
	assert_int_equal(st.rss, 0);
	assert_true(st.rsslim == UINT64_MAX);
	assert_int_equal(st.sigignore, 2147483647);
	assert_int_equal(st.wchan, 1);
	assert_int_equal(st.processor, 1);
	assert_int_equal(st.arg_start, 0);
	assert_int_equal(st.nfields, 52);
}

static void test_zombie(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-zombie", &st), 0);
	assert_int_equal(st.pid, 3458);
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.ppid, 3456);
	assert_int_equal(st.flags, 4227148);
	assert_int_equal(st.vsize, 0);
	assert_int_equal(st.exit_code, 768);	/* _exit(3) */
}

static void test_comm_paren(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-comm-paren", &st), 0);
	assert_int_equal(st.pid, 4190);
	assert_str_equal_n(st.comm, ") R 1 (x\n");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 4182);
	assert_int_equal(st.starttime, 51869);
	assert_int_equal(st.nfields, 52);
}

static void test_comm_binary(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-comm-binary", &st), 0);
	assert_str_equal_n(st.comm, "a b\xff\xfe\\z\t)(");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, 4182);
	assert_int_equal(st.nfields, 52);
}

static void test_long_comm(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-long-comm", &st), 0);
	assert_int_equal(st.pid, 77);
	assert_int_equal(st.comm.len, 5000);
	assert_memory_equal(st.comm.p, "A) (BA) (B", 10);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 4);
	assert_int_equal(st.starttime, 22);
	assert_int_equal(st.exit_code, 52);
	assert_int_equal(st.nfields, 52);
}

static void test_old_kernels(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-old-44", &st), 0);
	assert_int_equal(st.nfields, 44);
	assert_int_equal(st.starttime, 50910);
	assert_int_equal(st.guest_time, 0);
	assert_int_equal(st.start_data, 0);	/* field 45: absent */
	assert_int_equal(st.env_end, 0);

	assert_int_equal(parse_fixture("stat-min-22", &st), 0);
	assert_int_equal(st.nfields, 22);
	assert_int_equal(st.starttime, 50910);
	assert_int_equal(st.vsize, 0);

	assert_int_equal(parse_fixture("stat-short-21", &st), -EINVAL);
}

static void test_extremes(void **state)
{
	struct proc_stat st;

	assert_int_equal(parse_fixture("stat-max", &st), 0);
	assert_int_equal(st.pid, INT32_MAX);
	assert_int_equal(st.state, 't');
	assert_int_equal(st.ppid, INT32_MIN);
	assert_int_equal(st.pgrp, INT32_MAX);
	assert_int_equal(st.tpgid, INT32_MIN);
	assert_true(st.flags == UINT32_MAX);
	assert_true(st.minflt == UINT64_MAX);
	assert_true(st.stime == UINT64_MAX);
	assert_true(st.cutime == INT64_MIN);
	assert_true(st.cstime == INT64_MAX);
	assert_true(st.itrealvalue == INT64_MAX);
	assert_true(st.starttime == UINT64_MAX);
	assert_true(st.rss == INT64_MIN);
	assert_true(st.cnswap == UINT64_MAX);
	assert_int_equal(st.exit_signal, INT32_MIN);
	assert_int_equal(st.processor, INT32_MAX);
	assert_true(st.rt_priority == UINT32_MAX);
	assert_true(st.policy == UINT32_MAX);
	assert_true(st.cguest_time == INT64_MIN);
	assert_true(st.env_end == UINT64_MAX);
	assert_int_equal(st.exit_code, INT32_MIN);
	assert_int_equal(st.nfields, 55);	/* three fields of a future kernel */

	assert_int_equal(parse_fixture("stat-overflow", &st), -EINVAL);
	assert_int_equal(parse_fixture("stat-s32-overflow", &st), -EINVAL);
}

static void test_garbage(void **state)
{
	static const char *bad[] = {
		"stat-empty", "stat-garbage", "stat-garbage2", "stat-truncated", "stat-trunc-comm",
	};
	struct proc_stat st, before;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&before, 0x5a, sizeof(before));
		st = before;
		assert_int_equal(parse_fixture(bad[i], &st), -EINVAL);
		/* ret is written only on success */
		assert_memory_equal(&st, &before, sizeof(st));
	}
	assert_int_equal(proc_stat_parse(NULL, 0, &st), -EINVAL);
}

static void test_inline_texts(void **state)
{
	static const struct {
		const char *text;
		int rc;
	} cases[] = {
		{ "1 (x) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5", 0 },		/* no newline */
		{ "1 (x) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5\n\n", 0 },
		{ "1 (x) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5 x\n", -EINVAL },
		{ "1 (x) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 -5\n", -EINVAL },	/* u64 */
		{ "1 (x) S  0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5\n", -EINVAL },
		{ "1 (x)S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", -EINVAL },
		{ "1 (x) 7 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", -EINVAL },
		{ "1 )x( S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", -EINVAL },
		{ "x1 (x) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", -EINVAL },
		{ "1(x) S 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", -EINVAL },
	};
	struct proc_stat st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].text);
		char *b = prefix_dup(cases[i].text, n);
		int rc = proc_stat_parse(b, n, &st);

		if (rc != cases[i].rc)
			fail_msg("case %zu \"%s\": %d, want %d", i, cases[i].text, rc, cases[i].rc);
		if (!rc)
			assert_int_equal(st.starttime, 5);
		free(b);
	}
}

/* Every prefix of every text, each in an exactly-sized buffer. */
static void test_prefixes(void **state)
{
	static const char *names[] = {
		"stat-self", "stat-comm-paren", "stat-comm-binary", "stat-max", "stat-kthreadd",
	};
	struct proc_stat st;

	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		size_t len;
		char *buf = fixture_load(names[f], &len);

		for (size_t n = 0; n <= len; n++) {
			char *p = prefix_dup(buf, n);
			int rc = proc_stat_parse(p, n, &st);

			assert_parser_rc(rc);
			if (!rc)
				assert_true(st.nfields >= 22);
			free(p);
		}
		assert_int_equal(proc_stat_parse(buf, len, &st), 0);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_kthread),
		cmocka_unit_test(test_zombie),
		{ "row52_comm_paren", test_comm_paren, NULL, NULL, NULL },
		cmocka_unit_test(test_comm_binary),
		cmocka_unit_test(test_long_comm),
		cmocka_unit_test(test_old_kernels),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_inline_texts),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
