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

void capture_error_clear(void)
{
	last_msg[0] = '\0';
	last_errno = 0;
}

/* Record why a capture failed, in words that name the cause and the fix.
 * The first explanation wins: it is the closest to the cause. */
void capture_error_set(int err, const char *fmt, ...)
{
	va_list ap;

	if (last_msg[0])
		return;
	last_errno = err < 0 ? -err : err;
	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
}

PSS_API const char *pss_linux_last_capture_error(int *ret_errno)
{
	if (ret_errno)
		*ret_errno = last_errno;
	return last_msg;
}
