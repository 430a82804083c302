// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Small helpers: clocks and FILETIME, UTF-8 -> UTF-16, reading /proc files
 * and links whole, pidfds.
 */
#include "internal.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define FILETIME_UNIX_EPOCH 116444736000000000ull	/* 1601 -> 1970 in 100 ns */

uint64_t now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static FILETIME filetime_from_100ns(uint64_t v)
{
	FILETIME ft = { .dwLowDateTime = (DWORD)v, .dwHighDateTime = (DWORD)(v >> 32) };

	return ft;
}

FILETIME filetime_from_unix_ns(uint64_t ns)
{
	return filetime_from_100ns(ns / 100 + FILETIME_UNIX_EPOCH);
}

FILETIME filetime_from_duration_ns(uint64_t ns)
{
	return filetime_from_100ns(ns / 100);
}

uint64_t ticks_to_ns(uint64_t ticks)
{
	static long hz;

	if (!hz) {
		hz = sysconf(_SC_CLK_TCK);
		if (hz <= 0)
			hz = 100;
	}
	return ticks * (1000000000ull / (uint64_t)hz);
}

/* starttime in /proc/PID/stat counts clock ticks of CLOCK_BOOTTIME. */
FILETIME filetime_from_boot_ticks(uint64_t ticks)
{
	uint64_t boot_epoch = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_BOOTTIME);

	return filetime_from_unix_ns(boot_epoch + ticks_to_ns(ticks));
}

uint64_t cycles_now(void)
{
	return __rdtsc();
}

/* Decode one UTF-8 sequence at s[0..len); invalid input yields U+FFFD and
 * consumes one byte.  Returns the code point and sets *used. */
static uint32_t utf8_decode(const unsigned char *s, size_t len, size_t *used)
{
	uint32_t cp, min;
	size_t n, i;

	if (s[0] < 0x80) {
		*used = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		goto bad;
	}
	if (n > len)
		goto bad;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto bad;
	*used = n;
	return cp;
bad:
	*used = 1;
	return 0xfffd;
}

/* Convert into buf when it is large enough; always returns the full count. */
static size_t utf8_to_utf16_into(const char *s, size_t len, WCHAR *buf, size_t cap)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n = 0, used;
	uint32_t cp;

	while (i < len) {
		cp = utf8_decode(u + i, len - i, &used);
		i += used;
		if (cp >= 0x10000) {
			if (n + 2 <= cap) {
				cp -= 0x10000;
				buf[n] = (WCHAR)(0xd800 | (cp >> 10));
				buf[n + 1] = (WCHAR)(0xdc00 | (cp & 0x3ff));
			}
			n += 2;
		} else {
			if (n + 1 <= cap)
				buf[n] = (WCHAR)cp;
			n++;
		}
	}
	return n;
}

int utf8_to_utf16(const char *s, size_t len, WCHAR **ret)
{
	size_t n = utf8_to_utf16_into(s, len, NULL, 0);
	WCHAR *w;

	if (n > INT32_MAX / 2)
		return -EOVERFLOW;
	w = pss_malloc((n + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	utf8_to_utf16_into(s, len, w, n);
	w[n] = 0;
	*ret = w;
	return (int)n;
}

size_t utf8_to_utf16_buf(const char *s, size_t len, WCHAR *buf, size_t cap)
{
	size_t n;

	if (!cap)
		return 0;
	n = utf8_to_utf16_into(s, len, buf, cap - 1);
	if (n > cap - 1) {
		n = cap - 1;
		/* Never end on half a surrogate pair. */
		if (n && (buf[n - 1] & 0xfc00) == 0xd800)
			n--;
	}
	buf[n] = 0;
	return n;
}

int read_fileat(int dirfd, const char *path, char **ret_buf, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf, *nb;
	ssize_t r;
	int fd, err;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = pss_malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		if (len + 1 >= cap) {
			nb = pss_realloc(buf, cap * 2);
			if (!nb) {
				err = -ENOMEM;
				goto out_free;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out_free;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(fd);
	*ret_buf = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
out_free:
	pss_free(buf);
out_close:
	close(fd);
	return err;
}

int read_file(const char *path, char **ret_buf, size_t *ret_len)
{
	return read_fileat(AT_FDCWD, path, ret_buf, ret_len);
}

int read_linkat(int dirfd, const char *path, char **ret)
{
	size_t cap = 256;
	char *buf;
	ssize_t r;

	for (;;) {
		buf = pss_malloc(cap);
		if (!buf)
			return -ENOMEM;
		r = readlinkat(dirfd, path, buf, cap);
		if (r < 0) {
			int err = -errno;

			pss_free(buf);
			return err;
		}
		if ((size_t)r < cap) {
			buf[r] = '\0';
			*ret = buf;
			return 0;
		}
		pss_free(buf);
		if (cap >= 1 << 20)
			return -ENAMETOOLONG;
		cap *= 4;
	}
}

int read_link(const char *path, char **ret)
{
	return read_linkat(AT_FDCWD, path, ret);
}

/* A pidfd never takes fds 0-2: a NULL-looking HANDLE would be confusing and
 * a host that closed stdio would get its pidfd reused as stdout. */
int pidfd_open_pid(pid_t pid)
{
	int fd, nfd;

	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	if (fd >= 3)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd < 0 ? -errno : nfd;
}

/* The pid of a pidfd from its fdinfo "Pid:" line; -ESRCH once reaped.
 * No allocation: it runs before anything else of a capture. */
pid_t pidfd_get_pid(int pidfd)
{
	char path[64], buf[512], *p;
	ssize_t n;
	long pid;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -EBADF : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		n = -errno;	/* ENOMEM: the kernel's, not a bad handle */
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	p = strstr(buf, "\nPid:");
	if (!p)
		return -EBADF;
	pid = strtol(p + 5, NULL, 10);
	return pid > 0 ? (pid_t)pid : -ESRCH;
}

int pidfd_check(int fd)
{
	char path[64], link[64];
	ssize_t n;

	if (fd < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT || errno == EBADF ? -EBADF : -errno;
	link[n] = '\0';
	/* "anon_inode:[pidfd]" before pidfs (6.9), "pidfd:[N]" after some kernels. */
	return strstr(link, "pidfd") ? 0 : -EBADF;
}

bool is_pidfd(int fd)
{
	return pidfd_check(fd) == 0;
}

bool pidfd_alive(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno == EPERM;
}

int fd_dup_cloexec(int fd)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	return nfd < 0 ? -errno : nfd;
}
