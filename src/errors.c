// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * errno -> Win32 at the API edge, messages for codes, and the per-thread
 * explanation of the last capture failure.  The tables are in errors.def.
 */
#include "internal.h"
#include <stdio.h>

DWORD errno_to_win32(int err)
{
	if (err >= 0)
		return ERROR_SUCCESS;
	switch (-err) {
#define ERRNO_MAP(e, w) case e: return w;
#include "errors.def"
#undef ERRNO_MAP
	default:
		return ERROR_UNIDENTIFIED_ERROR;
	}
}

PSS_API const char *pss_linux_error_message(DWORD code)
{
	switch (code) {
#define WIN32_MSG(w, text) case w: return #w ": " text;
#include "errors.def"
#undef WIN32_MSG
	default:
		return "ERROR_UNIDENTIFIED_ERROR: unknown error";
	}
}

static __thread char last_msg[512];
static __thread int last_errno;
/* The tracer is a process of its own running on another thread's TLS:
 * its explanations go here, and tracer_run() hands them to its caller. */
static char tracer_msg[512];
static int tracer_errno;

void capture_error_clear(void)
{
	last_msg[0] = '\0';
	last_errno = 0;
}

/* Record why a capture failed, in words that name the cause and the fix.
 * The first explanation wins: it is the closest to the cause. */
void capture_error_set(int err, const char *fmt, ...)
{
	bool tracer = tracer_is_self();
	char *msg = tracer ? tracer_msg : last_msg;
	va_list ap;

	if (msg[0])
		return;
	if (tracer)
		tracer_errno = err < 0 ? -err : err;
	else
		last_errno = err < 0 ? -err : err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
}

/* The explanation of a refused ptrace or /proc/PID/mem access (the
 * kernel's ptrace access mode check), unless a closer one was given. */
void capture_error_access(pid_t pid, int err)
{
	capture_error_set(err, "the kernel refuses to let this process trace pid %d: a tracer needs "
			  "the target's uid and gid (real, effective and saved) and a dumpable "
			  "target without capabilities beyond its own, or CAP_SYS_PTRACE; Yama's "
			  "ptrace_scope and LSMs can refuse more", (int)pid);
}

/* After a tracer job: take over what the tracer explained. */
void capture_error_adopt(void)
{
	if (!tracer_msg[0])
		return;
	if (!last_msg[0]) {
		memcpy(last_msg, tracer_msg, sizeof(last_msg));
		last_errno = tracer_errno;
	}
	tracer_msg[0] = '\0';
}

PSS_API const char *pss_linux_last_capture_error(int *ret_errno)
{
	if (ret_errno)
		*ret_errno = last_errno;
	return last_msg;
}
