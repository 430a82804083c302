// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/PID/stat parser.  The line is "pid (comm) state f4 f5 ... fN\n".
 * comm is raw bytes that may hold spaces, parentheses and newlines, so it
 * runs from the first '(' to the LAST ')' of the text (nothing after comm
 * can contain ')').  Fields 4.. are decimal, one space apart; proc(5) lists
 * 52 of them today, older kernels print fewer (44 on 2.6.x) and newer ones
 * may print more: we keep what is there, count it in nfields and require at
 * least field 22 (starttime), without which a process cannot be identified.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proc/proc.h"
#include "proc/scan.h"

enum stat_kind { K_S32, K_U32, K_S64, K_U64 };

struct stat_field {
	unsigned short off;
	unsigned char kind;
};

#define F(member, k) { offsetof(struct proc_stat, member), k }

/* Fields 4..52 of proc(5), in order. */
static const struct stat_field stat_fields[] = {
	F(ppid, K_S32), F(pgrp, K_S32), F(session, K_S32), F(tty_nr, K_S32),	/* 4-7 */
	F(tpgid, K_S32), F(flags, K_U32), F(minflt, K_U64), F(cminflt, K_U64),	/* 8-11 */
	F(majflt, K_U64), F(cmajflt, K_U64), F(utime, K_U64), F(stime, K_U64),	/* 12-15 */
	F(cutime, K_S64), F(cstime, K_S64), F(priority, K_S64), F(nice, K_S64),	/* 16-19 */
	F(num_threads, K_S64), F(itrealvalue, K_S64), F(starttime, K_U64),	/* 20-22 */
	F(vsize, K_U64), F(rss, K_S64), F(rsslim, K_U64), F(startcode, K_U64),	/* 23-26 */
	F(endcode, K_U64), F(startstack, K_U64), F(kstkesp, K_U64),		/* 27-29 */
	F(kstkeip, K_U64), F(signal, K_U64), F(blocked, K_U64),			/* 30-32 */
	F(sigignore, K_U64), F(sigcatch, K_U64), F(wchan, K_U64),		/* 33-35 */
	F(nswap, K_U64), F(cnswap, K_U64), F(exit_signal, K_S32),		/* 36-38 */
	F(processor, K_S32), F(rt_priority, K_U32), F(policy, K_U32),		/* 39-41 */
	F(delayacct_blkio_ticks, K_U64), F(guest_time, K_U64),			/* 42-43 */
	F(cguest_time, K_S64), F(start_data, K_U64), F(end_data, K_U64),	/* 44-46 */
	F(start_brk, K_U64), F(arg_start, K_U64), F(arg_end, K_U64),		/* 47-49 */
	F(env_start, K_U64), F(env_end, K_U64), F(exit_code, K_S32),		/* 50-52 */
};

#undef F

#define STAT_MIN_FIELDS 22

/* Scan one number of @kind into the member at @f->off of @st. */
static int stat_field_scan(struct scan *s, const struct stat_field *f, struct proc_stat *st)
{
	char *dst = (char *)st + f->off;
	uint64_t u;
	int64_t i;
	int32_t i32;
	uint32_t u32;

	switch (f->kind) {
	case K_S32:
		if (scan_s32(s, &i32))
			return -EINVAL;
		memcpy(dst, &i32, sizeof(i32));
		return 0;
	case K_U32:
		if (scan_u32_base(s, 10, &u32))
			return -EINVAL;
		memcpy(dst, &u32, sizeof(u32));
		return 0;
	case K_S64:
		if (scan_s64(s, &i))
			return -EINVAL;
		memcpy(dst, &i, sizeof(i));
		return 0;
	default:
		if (scan_u64(s, &u))
			return -EINVAL;
		memcpy(dst, &u, sizeof(u));
		return 0;
	}
}

/* A field past the ones we know: any decimal number, skipped. */
static int stat_extra_scan(struct scan *s)
{
	uint64_t u;

	scan_char(s, '-');
	return scan_u64(s, &u);
}

/*
 * Parse a whole stat text into @ret (written only on success).  Returns
 * -EINVAL for a missing comm, a non-number, an overflowing number, fewer
 * than 22 fields or anything but blanks after the last field.
 */
int proc_stat_parse(const char *buf, size_t len, struct proc_stat *ret)
{
	struct proc_stat st = { 0 };
	const char *open, *close;
	struct scan s;
	unsigned n, nfields;

	if (!len)
		return -EINVAL;
	open = memchr(buf, '(', len);
	if (!open)
		return -EINVAL;
	close = memrchr(buf, ')', len);
	if (!close || close < open)
		return -EINVAL;

	/* field 1: the pid, then " (" */
	scan_init(&s, buf, (size_t)(open - buf));
	if (scan_s32(&s, &st.pid) || !scan_char(&s, ' ') || !scan_eof(&s))
		return -EINVAL;
	st.comm.p = open + 1;
	st.comm.len = (size_t)(close - open - 1);

	/* field 3: ") S" */
	scan_init(&s, buf, len);
	s.pos = (size_t)(close - buf) + 1;
	if (!scan_char(&s, ' ') || scan_eof(&s))
		return -EINVAL;
	st.state = s.buf[s.pos++];
	if (!((st.state >= 'A' && st.state <= 'Z') || (st.state >= 'a' && st.state <= 'z')))
		return -EINVAL;
	nfields = 3;

	for (n = 0;; n++) {
		if (!scan_char(&s, ' ') || scan_peek(&s) == '\n' || scan_eof(&s))
			break;
		if (n < sizeof(stat_fields) / sizeof(stat_fields[0])) {
			if (stat_field_scan(&s, &stat_fields[n], &st))
				return -EINVAL;
		} else if (stat_extra_scan(&s)) {
			return -EINVAL;
		}
		nfields++;
	}
	if (!scan_only_space(&s) || nfields < STAT_MIN_FIELDS)
		return -EINVAL;
	st.nfields = nfields;
	*ret = st;
	return 0;
}
