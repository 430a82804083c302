// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Optional logging: the library never prints.  A host that wants messages
 * installs a callback with pss_linux_set_log(); without one, pss_log() is a
 * load and a compare.
 */
#include "internal.h"
#include <stdio.h>

static pss_linux_log_fn log_fn;
static void *log_ctx;
static enum pss_linux_log_level log_max = PSS_LINUX_LOG_WARN;

PSS_API void pss_linux_set_log(pss_linux_log_fn fn, void *ctx, enum pss_linux_log_level max_level)
{
	log_ctx = ctx;
	log_max = max_level;
	__atomic_store_n(&log_fn, fn, __ATOMIC_RELEASE);
}

void pss_log(enum pss_linux_log_level level, const char *fmt, ...)
{
	pss_linux_log_fn fn = __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE);
	char buf[512];
	va_list ap;
	int saved = errno;

	/* The tracer never calls into the host: it may be frozen or dead. */
	if (!fn || level > log_max || tracer_is_self())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(log_ctx, level, buf);
	errno = saved;
}
