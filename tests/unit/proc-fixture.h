/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fixture helpers for the /proc parser tests (include after <cmocka.h>).
 * Fixtures live in tests/fixtures/proc; the directory is found from
 * $PSS_FIXTURES, the working directory, or by walking up from the test
 * binary (build/tests/unit/x or build/asan/tests/unit/x).  Every buffer
 * is malloc'd at exactly the text's size, so under ASan a parser that
 * reads one byte too far is caught.
 */
#ifndef PSS_TEST_PROC_FIXTURE_H
#define PSS_TEST_PROC_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fixture_dir(void)
{
	static char dir[PATH_MAX + 32];
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	const char *env = getenv("PSS_FIXTURES");
	struct stat st;
	ssize_t n;
	int up;

	if (dir[0])
		return dir;
	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s", env);
		return dir;
	}
	if (!stat("tests/fixtures/proc", &st)) {
		snprintf(dir, sizeof(dir), "tests/fixtures/proc");
		return dir;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (up = 0; up < 8; up++) {
			char *slash = strrchr(exe, '/');

			if (!slash)
				break;
			*slash = '\0';
			snprintf(probe, sizeof(probe), "%s/tests/fixtures/proc", exe);
			if (!stat(probe, &st)) {
				snprintf(dir, sizeof(dir), "%s", probe);
				return dir;
			}
		}
	}
	fail_msg("cannot find tests/fixtures/proc (set PSS_FIXTURES)");
	return NULL;
}

/* Load fixture @name into an exactly-sized malloc buffer (NULL if empty). */
static char *fixture_load(const char *name, size_t *len)
{
	char path[PATH_MAX + 64];
	struct stat st;
	char *buf = NULL;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open fixture %s: %s", path, strerror(errno));
	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	if (*len) {
		buf = malloc(*len);
		assert_non_null(buf);
		got = read(fd, buf, *len);
		assert_int_equal(got, (ssize_t)*len);
	}
	close(fd);
	return buf;
}

/* A copy of the first @n bytes of @buf in a buffer of exactly @n bytes. */
static char *prefix_dup(const char *buf, size_t n)
{
	char *p;

	if (!n)
		return NULL;
	p = malloc(n);
	assert_non_null(p);
	memcpy(p, buf, n);
	return p;
}

/* Is @rc one of the results a parser may give? */
#define assert_parser_rc(rc) \
	assert_true((rc) == 0 || (rc) == -EINVAL || (rc) == -ENOENT)

#define assert_str_equal_n(pstr, lit) do {					\
	assert_int_equal((pstr).len, sizeof(lit) - 1);				\
	assert_memory_equal((pstr).p, lit, sizeof(lit) - 1);			\
} while (0)

#endif /* PSS_TEST_PROC_FIXTURE_H */
