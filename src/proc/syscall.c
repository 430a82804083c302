// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/PID/task/TID/syscall parser (fs/proc/base.c proc_pid_syscall()):
 *
 *	"running\n"                            the thread is on a CPU
 *	"-1 0x<sp> 0x<pc>\n"                   stopped, not in a syscall
 *	"<nr> 0x<a1> .. 0x<a6> 0x<sp> 0x<pc>\n"   blocked in syscall nr
 *
 * nr is decimal, the rest "0x%llx".  The "0x" is accepted but not required.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proc/proc.h"
#include "proc/scan.h"

/* Parse one syscall text into @ret (written only on success). */
int proc_syscall_parse(const char *buf, size_t len, struct proc_syscall *ret)
{
	struct proc_syscall sc = { 0 };
	uint64_t *words[8];
	unsigned i, n = 0;
	struct scan s;

	scan_init(&s, buf, len);
	if (scan_lit(&s, "running", 7)) {
		if (!scan_only_space(&s))
			return -EINVAL;
		sc.nr = -2;
		goto out;
	}
	if (scan_s64(&s, &sc.nr) || sc.nr < -1)
		return -EINVAL;
	if (sc.nr >= 0)
		for (i = 0; i < 6; i++)
			words[n++] = &sc.args[i];
	words[n++] = &sc.sp;
	words[n++] = &sc.pc;
	for (i = 0; i < n; i++)
		if (!scan_char(&s, ' ') || scan_x64_prefixed(&s, words[i]))
			return -EINVAL;
	if (!scan_only_space(&s))
		return -EINVAL;
out:
	*ret = sc;
	return 0;
}
