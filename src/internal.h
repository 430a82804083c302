/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private helpers shared by every file of libpss: allocation, logging,
 * clocks, UTF-16, reading /proc.  Functions return 0 or a negative errno;
 * predicates return bool.  Nothing here prints.
 */
#ifndef PSS_INTERNAL_H
#define PSS_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define PSS_API __attribute__((visibility("default")))
#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x) __builtin_expect(!!(x), 1)

/* ---- alloc.c: every allocation of the library goes through these. ----
 * In VM mode (PSS_CREATE_USE_VM_ALLOCATIONS, set per thread with
 * alloc_set_vm()) blocks come from mmap, never the heap; pss_free() and
 * pss_realloc() tell the two kinds apart by a header.  Test builds can fail
 * the Nth allocation (PSS_FAULT_ALLOC=N). */
void *pss_malloc(size_t size);
void *pss_calloc(size_t n, size_t size);
void *pss_realloc(void *p, size_t size);
void pss_free(void *p);
char *pss_strndup(const char *s, size_t n);
char *pss_strdup(const char *s);
bool alloc_set_vm(bool vm);	/* returns the previous mode */

/* A growable array: `pss_vec_grow(&p, &cap, n, sizeof(*p))` makes room for
 * at least n elements.  Returns 0 or -ENOMEM; *p is untouched on failure. */
int pss_vec_grow(void *pp, size_t *cap, size_t n, size_t elem);

/* tracer.c: true in the tracer process (which must never call the host's
 * log callback nor take its locks); the pid of the process using libpss. */
bool tracer_is_self(void);
pid_t tracer_host_pid(void);

/* ---- log.c ---- */
void pss_log(enum pss_linux_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define pr_err(...) pss_log(PSS_LINUX_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) pss_log(PSS_LINUX_LOG_WARN, __VA_ARGS__)
#define pr_info(...) pss_log(PSS_LINUX_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) pss_log(PSS_LINUX_LOG_DEBUG, __VA_ARGS__)

/* The calling thread's explanation of its last capture failure (errors.c). */
void capture_error_clear(void);
void capture_error_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void capture_error_adopt(void);	/* after a tracer job: its explanation becomes ours */
void capture_error_access(pid_t pid, int err);	/* EPERM/EACCES of ptrace or /proc/PID/mem */

/* ---- errors.c: errno -> Win32, in one table (errors.def). ---- */
DWORD errno_to_win32(int err);	/* err is a negative errno or 0 */

/* ---- util.c ---- */
uint64_t now_ns(int clock);			/* clock_gettime in ns */
FILETIME filetime_from_unix_ns(uint64_t ns);	/* absolute: since 1601 */
FILETIME filetime_from_duration_ns(uint64_t ns);	/* a duration in 100 ns */
FILETIME filetime_from_boot_ticks(uint64_t ticks);	/* stat starttime -> absolute */
uint64_t ticks_to_ns(uint64_t ticks);		/* clock ticks (USER_HZ) -> ns */
uint64_t cycles_now(void);			/* rdtsc */

/* UTF-8 (or any bytes) to NUL-terminated UTF-16.  Invalid bytes become
 * U+FFFD.  Returns the number of code units, not counting the NUL, or a
 * negative errno.  *ret is from pss_malloc. */
int utf8_to_utf16(const char *s, size_t len, WCHAR **ret);
/* The same into a fixed buffer of cap units, truncating, always terminated. */
size_t utf8_to_utf16_buf(const char *s, size_t len, WCHAR *buf, size_t cap);

/* Read a whole file (from /proc) into a NUL-terminated pss_malloc buffer.
 * Returns 0 or a negative errno (-ENOENT, -EACCES, -ESRCH, ...). */
int read_file(const char *path, char **ret_buf, size_t *ret_len);
int read_fileat(int dirfd, const char *path, char **ret_buf, size_t *ret_len);
/* readlink into a NUL-terminated pss_malloc buffer of any length. */
int read_link(const char *path, char **ret);
int read_linkat(int dirfd, const char *path, char **ret);

/* pidfds */
int pidfd_open_pid(pid_t pid);			/* fd (cloexec, >= 3) or -errno */
pid_t pidfd_get_pid(int pidfd);			/* pid, or -errno (-ESRCH: reaped) */
bool pidfd_alive(int pidfd);			/* the process has not exited */
bool is_pidfd(int fd);
int pidfd_check(int fd);	/* 0: a pidfd; -EBADF: not one; -errno: cannot tell (ENOMEM) */
int fd_dup_cloexec(int fd);			/* a close-on-exec duplicate >= 3, or -errno */

#endif /* PSS_INTERNAL_H */
