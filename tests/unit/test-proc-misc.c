// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * proc_hex_u64_parse() on a captured /proc/PID/coredump_filter ("00000033"
 * is the kernel default) and on hand-made texts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "proc/proc.h"
#include "proc-fixture.h"

static int parse_fixture(const char *name, uint64_t *v)
{
	size_t len;
	char *buf = fixture_load(name, &len);
	int rc = proc_hex_u64_parse(buf, len, v);

	free(buf);
	return rc;
}

static void test_hex(void **state)
{
	uint64_t v;

	assert_int_equal(parse_fixture("coredump_filter-self", &v), 0);
	assert_int_equal(v, 0x33);
	assert_int_equal(parse_fixture("hex-max", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_fixture("hex-prefixed", &v), 0);
	assert_int_equal(v, 0x7f);

	static const char *bad[] = {
		"hex-overflow", "hex-garbage", "hex-empty", "hex-newline-only",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 99;
		if (parse_fixture(bad[i], &v) != -EINVAL)
			fail_msg("%s parsed", bad[i]);
		assert_int_equal(v, 99);
	}
	assert_int_equal(proc_hex_u64_parse(NULL, 0, &v), -EINVAL);
	assert_int_equal(proc_hex_u64_parse("0x", 2, &v), -EINVAL);
	assert_int_equal(proc_hex_u64_parse("1 2", 3, &v), -EINVAL);
	/* the length bounds the text, not a NUL */
	assert_int_equal(proc_hex_u64_parse("12345", 2, &v), 0);
	assert_int_equal(v, 0x12);
}

static void test_prefixes(void **state)
{
	static const char *names[] = { "coredump_filter-self", "hex-max", "hex-prefixed" };
	uint64_t v;

	for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
		size_t len;
		char *buf = fixture_load(names[f], &len);

		for (size_t n = 0; n <= len; n++) {
			char *p = prefix_dup(buf, n);

			assert_parser_rc(proc_hex_u64_parse(p, n, &v));
			free(p);
		}
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
