// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The target is sacred: captures with THREAD_CONTEXT stop the target for a
 * moment, and afterwards every blocked call must complete as if nothing
 * happened, every signal must arrive exactly once, stop states must be
 * kept, and dying, stopped, zombie or already traced targets must give
 * clean errors (fault matrix rows 1-7, 11-14, 16, 17, 20, 22, 23, 27, 74).
 *
 * The rows test-clone-safety.c runs again with the VA clone are written
 * once, in safety-rows.h; row 74 is only here (with the clone the command
 * loop itself waits in ppoll).  Rows 12-14 use the library's test fault
 * hook: PSS_FAULT=after-interrupt:pause holds the capture, with every
 * thread stopped, until the file named by PSS_FAULT_RELEASE exists.
 */
#define SAFETY_VA_CLONE 0
#include "safety-rows.h"

/* Proves (rows 7, 74): sigsuspend, ppoll and pselect keep their temporary
 * masks: not ended by the capture, ended once by the later SIGUSR1, with the
 * handler run once and the normal mask back afterwards. */
TEST(row74_temporary_mask_calls)
{
	static const char *const calls[] = { "sigsuspend", "ppoll", "pselect" };

	REQUIRE_PTRACE();
	for (size_t i = 0; i < 3; i++) {
		struct target t;
		char r[256];

		block_then_result(&t, calls[i], 0, 0, r, sizeof(r));
		CHECK(reply_get(r, "ret", 0) == -1 && reply_get(r, "errno", 0) == EINTR, "%s: %s", calls[i], r);
		CHECK(reply_get(r, "handled", -1) == 1, "%s: handler ran %lld times", calls[i],
		      reply_get(r, "handled", -1));
		CHECK(reply_get(r, "x1", 0) == 1, "%s: SIGUSR1 not blocked again after the call", calls[i]);
		target_kill(&t);
	}
}

int main(int argc, char **argv)
{
	return harness_main(argc, argv);
}
