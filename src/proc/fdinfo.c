// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/PID/fdinfo/N parser.  Every fd has "pos:", "flags:" (octal),
 * "mnt_id:" (3.15+) and "ino:" (5.14+); the file's type adds its own lines
 * (formats as printed by Linux 6.x):
 *
 *	eventfd   "eventfd-count: %16llx" (hex!), "eventfd-id: %d",
 *	          "eventfd-semaphore: %d" (6.6+)
 *	timerfd   "clockid: %d", "ticks: %llu", "settime flags: 0%o",
 *	          "it_value: (%llu, %llu)", "it_interval: (%llu, %llu)"
 *	signalfd  "sigmask:\t%016llx"
 *	inotify   one "inotify wd:%x ino:%lx ..." line per watch
 *	epoll     one "tfd: %8d events: %8x data: %16llx ..." line per target
 *	pidfd     "Pid:\t%d" (-1 once reaped), "NSpid:\t%d\t%d..."
 *
 * Keys are split at the first ':'.  Unknown keys and lines without a ':'
 * are skipped (drivers add their own, e.g. drm-*); a known key with a bad
 * value, or a text without pos and flags, is -EINVAL.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proc/proc.h"
#include "proc/scan.h"

#define NSEC_PER_SEC 1000000000ull

/* "(sec, nsec)" of timerfd's it_value/it_interval into nanoseconds. */
static int fdinfo_timespec_scan(struct scan *v, uint64_t *ret)
{
	uint64_t sec, nsec;

	if (!scan_char(v, '(') || scan_u64(v, &sec) || !scan_char(v, ',') || !scan_blanks(v) ||
	    scan_u64(v, &nsec) || !scan_char(v, ')'))
		return -EINVAL;
	if (nsec >= NSEC_PER_SEC || sec > (UINT64_MAX - nsec) / NSEC_PER_SEC)
		return -EINVAL;
	*ret = sec * NSEC_PER_SEC + nsec;
	return 0;
}

/* pidfd "NSpid:" list; keeps at most PROC_NSPID_MAX levels. */
static int fdinfo_nspid_scan(struct scan *v, struct proc_fdinfo *fi)
{
	int32_t pid;

	fi->pidfd_nspid_count = 0;
	while (!scan_eof(v)) {
		if (scan_s32(v, &pid))
			return -EINVAL;
		if (fi->pidfd_nspid_count < PROC_NSPID_MAX)
			fi->pidfd_nspid[fi->pidfd_nspid_count++] = pid;
		scan_blanks(v);
	}
	return fi->pidfd_nspid_count ? 0 : -EINVAL;
}

/* The generic lines every fd has.  Returns 1 if @key is not one of them. */
static int fdinfo_common_scan(const struct scan *key, struct scan *v, struct proc_fdinfo *fi,
			      unsigned *seen)
{
	int64_t pos;

	if (scan_is(key, "pos")) {
		/* loff_t, printed "%lli"; negative only for odd devices */
		if (scan_s64(v, &pos))
			return -EINVAL;
		fi->pos = (uint64_t)pos;
		*seen |= 1;
	} else if (scan_is(key, "flags")) {
		if (scan_u32_base(v, 8, &fi->flags))
			return -EINVAL;
		*seen |= 2;
	} else if (scan_is(key, "mnt_id")) {
		if (scan_u32_base(v, 10, &fi->mnt_id))
			return -EINVAL;
	} else if (scan_is(key, "ino")) {
		if (scan_u64(v, &fi->ino))
			return -EINVAL;
		fi->have_ino = true;
	} else {
		return 1;
	}
	return 0;
}

/* eventfd, timerfd, signalfd and pidfd lines.  Returns 1 for other keys. */
static int fdinfo_typed_scan(const struct scan *key, struct scan *v, struct proc_fdinfo *fi)
{
	uint64_t u;

	if (scan_is(key, "eventfd-count")) {
		if (scan_x64(v, &fi->eventfd_count))
			return -EINVAL;
		fi->have_eventfd = true;
	} else if (scan_is(key, "eventfd-id")) {
		if (scan_u64(v, &fi->eventfd_id))
			return -EINVAL;
	} else if (scan_is(key, "eventfd-semaphore")) {
		if (scan_u64(v, &u))
			return -EINVAL;
		fi->eventfd_semaphore = u != 0;
	} else if (scan_is(key, "clockid")) {
		if (scan_s32(v, &fi->timerfd_clockid))
			return -EINVAL;
		fi->have_timerfd = true;
	} else if (scan_is(key, "ticks")) {
		if (scan_u64(v, &fi->timerfd_ticks))
			return -EINVAL;
	} else if (scan_is(key, "settime flags")) {
		if (scan_u32_base(v, 8, &fi->timerfd_settime_flags))
			return -EINVAL;
	} else if (scan_is(key, "it_value")) {
		if (fdinfo_timespec_scan(v, &fi->timerfd_value_ns))
			return -EINVAL;
	} else if (scan_is(key, "it_interval")) {
		if (fdinfo_timespec_scan(v, &fi->timerfd_interval_ns))
			return -EINVAL;
	} else if (scan_is(key, "sigmask")) {
		if (scan_x64(v, &fi->signalfd_mask))
			return -EINVAL;
		fi->have_signalfd = true;
	} else if (scan_is(key, "Pid")) {
		if (scan_s32(v, &fi->pidfd_pid))
			return -EINVAL;
		fi->have_pidfd = true;
	} else if (scan_is(key, "NSpid")) {
		return fdinfo_nspid_scan(v, fi);
	} else {
		return 1;
	}
	return 0;
}

/* Parse one fdinfo text into @ret (written only on success). */
int proc_fdinfo_parse(const char *buf, size_t len, struct proc_fdinfo *ret)
{
	struct proc_fdinfo fi = { 0 };
	struct scan s, line, key;
	unsigned seen = 0;
	int err;

	scan_init(&s, buf, len);
	while (scan_line(&s, &line)) {
		/* a line without ':' belongs to no key we know; skip it */
		if (!scan_key(&line, &key))
			continue;
		/* per-watch and per-target lines: only counted */
		if (scan_is(&key, "inotify wd")) {
			fi.inotify_watches++;
			continue;
		}
		if (scan_is(&key, "tfd")) {
			fi.epoll_targets++;
			continue;
		}
		scan_blanks(&line);
		err = fdinfo_common_scan(&key, &line, &fi, &seen);
		if (err > 0)
			err = fdinfo_typed_scan(&key, &line, &fi);
		if (err > 0)
			continue;	/* unknown key */
		if (err || !scan_only_space(&line))
			return -EINVAL;
	}
	if (seen != 3)
		return -EINVAL;
	*ret = fi;
	return 0;
}
