// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc_auxv_get() on a captured /proc/PID/auxv (whose values the capturing
 * program also printed with getauxval()) and on damaged vectors: no
 * AT_NULL, a partial last entry, AT_NULL in the middle, empty.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>

#include "proc/proc.h"
#include "proc-fixture.h"

static void test_self(void **state)
{
	size_t len;
	char *buf = fixture_load("auxv-self", &len);
	uint64_t v;

	assert_int_equal(len, 23 * 16);
	assert_int_equal(proc_auxv_get(buf, len, AT_PAGESZ, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(proc_auxv_get(buf, len, AT_CLKTCK, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(proc_auxv_get(buf, len, AT_UID, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(proc_auxv_get(buf, len, AT_HWCAP2, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(proc_auxv_get(buf, len, AT_SYSINFO_EHDR, &v), 0);
	assert_int_equal(v, 0x7f65fa0c3000ull);
	assert_int_equal(proc_auxv_get(buf, len, AT_RANDOM, &v), 0);
	assert_int_equal(v, 0x7fff3a3e7149ull);
	assert_int_equal(proc_auxv_get(buf, len, AT_MINSIGSTKSZ, &v), 0);
	assert_int_equal(v, 11952);
	assert_int_equal(proc_auxv_get(buf, len, AT_PHDR, &v), 0);
	assert_int_equal(v, 0x5652fa66d040ull);
	assert_int_equal(proc_auxv_get(buf, len, AT_ENTRY, &v), 0);
	assert_int_equal(v, 0x5652fa66f360ull);
	assert_int_equal(proc_auxv_get(buf, len, 28, &v), 0);	/* AT_RSEQ_ALIGN */
	assert_int_equal(v, 32);

	v = 77;
	assert_int_equal(proc_auxv_get(buf, len, 12345, &v), -ENOENT);
	assert_int_equal(v, 77);
	assert_int_equal(proc_auxv_get(buf, len, AT_NULL, &v), 0);
	assert_int_equal(v, 0);

	/* unaligned copy: every entry must still be found */
	{
		char *odd = malloc(len + 1);

		assert_non_null(odd);
		memcpy(odd + 1, buf, len);
		assert_int_equal(proc_auxv_get(odd + 1, len, AT_ENTRY, &v), 0);
		assert_int_equal(v, 0x5652fa66f360ull);
		free(odd);
	}
	free(buf);
}

static void test_damaged(void **state)
{
	size_t len;
	char *buf;
	uint64_t v;

	buf = fixture_load("auxv-no-null", &len);
	assert_int_equal(proc_auxv_get(buf, len, AT_CLKTCK, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(proc_auxv_get(buf, len, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(proc_auxv_get(buf, len, AT_RANDOM, &v), -ENOENT);
	free(buf);

	/* AT_RANDOM's entry is cut after 3 bytes of its value */
	buf = fixture_load("auxv-truncated", &len);
	assert_int_equal(len, 43);
	assert_int_equal(proc_auxv_get(buf, len, AT_CLKTCK, &v), 0);
	assert_int_equal(proc_auxv_get(buf, len, AT_RANDOM, &v), -ENOENT);
	free(buf);

	buf = fixture_load("auxv-early-null", &len);
	assert_int_equal(proc_auxv_get(buf, len, AT_PAGESZ, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(proc_auxv_get(buf, len, AT_CLKTCK, &v), -ENOENT);
	free(buf);

	buf = fixture_load("auxv-empty", &len);
	assert_int_equal(len, 0);
	assert_int_equal(proc_auxv_get(buf, len, AT_PAGESZ, &v), -ENOENT);
	assert_int_equal(proc_auxv_get(NULL, 0, AT_PAGESZ, &v), -ENOENT);
	free(buf);
}

static void test_prefixes(void **state)
{
	size_t len;
	char *buf = fixture_load("auxv-self", &len);
	uint64_t v;

	for (size_t n = 0; n <= len; n++) {
		char *p = prefix_dup(buf, n);
		/* AT_RSEQ_ALIGN is the last entry before AT_NULL, at offset 336 */
		int rc = proc_auxv_get(p, n, 28, &v);

		assert_int_equal(rc, n >= 352 ? 0 : -ENOENT);
		free(p);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
