// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc_status_parse() on captured /proc/PID/status texts (a process, a
 * thread, kthreadd and a zombie, which have no Vm lines, and comms with
 * ") R 1 (x\n" and non-UTF-8 bytes) and on hand-made hostile ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "proc/proc.h"
#include "proc-fixture.h"

static int parse_fixture(const char *name, struct proc_status *st)
{
	size_t len;
	char *buf = fixture_load(name, &len);
	int rc = proc_status_parse(buf, len, st);

	free(buf);
	return rc;
}

static void test_self(void **state)
{
	struct proc_status st;

	assert_int_equal(parse_fixture("status-self", &st), 0);
	assert_string_equal(st.name, "cap");
	assert_int_equal(st.name_len, 3);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.tgid, 3456);
	assert_int_equal(st.ngid, 0);
	assert_int_equal(st.pid, 3456);
	assert_int_equal(st.ppid, 3405);
	assert_int_equal(st.tracer_pid, 0);
	assert_int_equal(st.uid[3], 0);
	assert_int_equal(st.fdsize, 256);
	assert_int_equal(st.nspid_count, 1);
	assert_int_equal(st.nspid[0], 3456);
	assert_true(st.have_vm);
	assert_int_equal(st.vm_peak, 10716 * 1024);
	assert_int_equal(st.vm_size, 10716 * 1024);
	assert_int_equal(st.vm_lck, 0);
	assert_int_equal(st.vm_hwm, 1632 * 1024);
	assert_int_equal(st.vm_rss, 1632 * 1024);
	assert_int_equal(st.rss_anon, 128 * 1024);
	assert_int_equal(st.rss_file, 1504 * 1024);
	assert_int_equal(st.vm_data, 8428 * 1024);
	assert_int_equal(st.vm_stk, 132 * 1024);
	assert_int_equal(st.vm_exe, 8 * 1024);
	assert_int_equal(st.vm_lib, 1528 * 1024);
	assert_int_equal(st.vm_pte, 48 * 1024);
	assert_int_equal(st.vm_swap, 0);
	assert_int_equal(st.threads, 2);
	assert_true(st.have_sig);
	/* SIGUSR1, SIGTERM and SIGRTMIN+2 (glibc's 34 + 2) were blocked */
	assert_int_equal(st.sig_blk, 0x0000000800004200ull);
	assert_int_equal(st.sig_cgt, 0x0000000100000000ull);
	assert_int_equal(st.sig_pnd, 0);
	assert_int_equal(st.cap_prm, 0x000001fffeffffffull);
	assert_int_equal(st.cap_eff, 0x000001fffeffffffull);
	assert_int_equal(st.cap_bnd, 0x000001fffeffffffull);
	assert_int_equal(st.cap_amb, 0);
	assert_int_equal(st.no_new_privs, 0);
	assert_int_equal(st.seccomp, 0);
	assert_int_equal(st.seccomp_filters, 0);
	assert_int_equal(st.voluntary_ctxt_switches, 2);
	assert_int_equal(st.nonvoluntary_ctxt_switches, 0);
}

static void test_thread(void **state)
{
	struct proc_status st;

	assert_int_equal(parse_fixture("status-thread", &st), 0);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.tgid, 3456);
	assert_int_equal(st.pid, 3460);
	assert_int_equal(st.nspid[0], 3460);
	assert_int_equal(st.voluntary_ctxt_switches, 1);
}

static void test_kthread(void **state)
{
	struct proc_status st;

	assert_int_equal(parse_fixture("status-kthreadd", &st), 0);
	assert_string_equal(st.name, "kthreadd");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.pid, 2);
	assert_int_equal(st.ppid, 0);
	assert_int_equal(st.fdsize, 64);
	assert_false(st.have_vm);
	assert_int_equal(st.vm_size, 0);
	assert_int_equal(st.vm_rss, 0);
	assert_true(st.have_sig);
	assert_true(st.sig_ign == UINT64_MAX);
	assert_int_equal(st.cap_eff, 0x000001ffffffffffull);
	assert_int_equal(st.voluntary_ctxt_switches, 56);
}

static void test_zombie(void **state)
{
	struct proc_status st;

	assert_int_equal(parse_fixture("status-zombie", &st), 0);
	assert_string_equal(st.name, "cap");
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.pid, 3458);
	assert_int_equal(st.ppid, 3456);
	assert_int_equal(st.fdsize, 0);
	assert_false(st.have_vm);
	assert_int_equal(st.threads, 1);
	assert_int_equal(st.sig_blk, 0x0000000800004200ull);
}

static void test_names(void **state)
{
	struct proc_status st;

	assert_int_equal(parse_fixture("status-comm-paren", &st), 0);
	assert_int_equal(st.name_len, 9);
	assert_memory_equal(st.name, ") R 1 (x\n", 10);

	assert_int_equal(parse_fixture("status-comm-binary", &st), 0);
	assert_int_equal(st.name_len, 10);
	assert_memory_equal(st.name, "a b\xff\xfe\\z\t)(", 11);

	assert_int_equal(parse_fixture("status-name-escape", &st), 0);
	assert_int_equal(st.name_len, 14);
	assert_memory_equal(st.name, "\n\\tab\there\\x \\", 15);
	assert_int_equal(st.pid, 5);

	/* 70 bytes: cut to 63 and still NUL-terminated */
	assert_int_equal(parse_fixture("status-max", &st), 0);
	assert_int_equal(st.name_len, 63);
	assert_int_equal(strlen(st.name), 63);
	assert_int_equal(st.name[62], 'K');
}

static void test_missing_and_unknown(void **state)
{
	struct proc_status st;

	assert_int_equal(parse_fixture("status-missing", &st), 0);
	assert_string_equal(st.name, "only");
	assert_int_equal(st.pid, 42);
	assert_int_equal(st.state, 0);
	assert_int_equal(st.nspid_count, 0);
	assert_false(st.have_vm);
	assert_false(st.have_sig);
	assert_int_equal(st.seccomp, -1);
	assert_int_equal(st.seccomp_filters, -1);

	assert_int_equal(parse_fixture("status-unknown", &st), 0);
	assert_string_equal(st.name, "unk");
	assert_int_equal(st.pid, 7);
	assert_int_equal(st.threads, 3);
	assert_int_equal(st.seccomp, 2);
	assert_int_equal(st.seccomp_filters, -1);
	assert_false(st.have_vm);
}

static void test_extremes(void **state)
{
	struct proc_status st;

	assert_int_equal(parse_fixture("status-max", &st), 0);
	assert_int_equal(st.state, 't');
	assert_int_equal(st.tgid, INT32_MAX);
	assert_int_equal(st.pid, INT32_MIN);
	assert_int_equal(st.tracer_pid, INT32_MAX);
	assert_true(st.uid[0] == UINT32_MAX);
	assert_int_equal(st.uid[1], 4294967294u);
	assert_int_equal(st.uid[2], 0);
	assert_int_equal(st.uid[3], 1);
	assert_int_equal(st.gid[0], 1);
	assert_int_equal(st.gid[2], 3);
	assert_true(st.gid[3] == UINT32_MAX);
	assert_true(st.fdsize == UINT32_MAX);
	assert_int_equal(st.nspid_count, PROC_NSPID_MAX);
	assert_int_equal(st.nspid[0], 1);
	assert_int_equal(st.nspid[7], 8);
	assert_true(st.have_vm);
	assert_true(st.vm_peak == 18014398509481983ull * 1024);
	assert_true(st.sig_pnd == UINT64_MAX);
	assert_int_equal(st.sig_blk, 0x8000000000000001ull);
	assert_true(st.cap_amb == UINT64_MAX);
	assert_int_equal(st.seccomp, -1);
	assert_int_equal(st.seccomp_filters, INT32_MIN);
	assert_true(st.voluntary_ctxt_switches == UINT64_MAX);
	assert_true(st.nonvoluntary_ctxt_switches == UINT64_MAX);
}

static void test_bad(void **state)
{
	static const char *bad[] = {
		"status-kb-overflow", "status-hex-overflow", "status-no-unit", "status-bad-value",
		"status-garbage", "status-empty", "status-truncated",
	};
	struct proc_status st, before;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&before, 0x5a, sizeof(before));
		st = before;
		if (parse_fixture(bad[i], &st) != -EINVAL)
			fail_msg("%s parsed", bad[i]);
		assert_memory_equal(&st, &before, sizeof(st));
	}
	assert_int_equal(proc_status_parse(NULL, 0, &st), -EINVAL);
}

static void test_prefixes(void **state)
{
	static const char *names[] = { "status-self", "status-max", "status-name-escape" };
	struct proc_status st;

	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		size_t len;
		char *buf = fixture_load(names[f], &len);

		for (size_t n = 0; n <= len; n++) {
			char *p = prefix_dup(buf, n);
			int rc = proc_status_parse(p, n, &st);

			assert_parser_rc(rc);
			if (!rc)
				assert_true(st.name_len < sizeof(st.name));
			free(p);
		}
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
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_missing_and_unknown),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
