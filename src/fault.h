/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test-only fault points, in the spirit of CRIU's CRIU_FAULT: the test suite
 * names a step of the capture and what should happen there, so error paths
 * and "the tracer died here" cases can be provoked at an exact instant.
 *
 *   PSS_FAULT="STEP:ACTION[,STEP:ACTION...]"
 *
 * Steps (add new ones where the code reaches them):
 *   after-seize      every thread of the first scan is seized, none interrupted
 *   after-interrupt  every thread of the first scan has been sent PTRACE_INTERRUPT
 *   before-detach    every register set is read; nothing released yet
 *   before-deferred  the pause is over (its threads let go, the clone made);
 *                    no deferred thread touched yet (freeze.c)
 *   in-deferred      the first batch of deferred threads stopped and read,
 *                    none let go yet
 * Actions:
 *   sigkill-self     SIGKILL the process that called the API (the tracer
 *                    finishes the stop: the target must not notice)
 *   sigkill-tracer   SIGKILL the tracer process itself, in the middle of
 *                    its work
 *   pause            block until the file named by PSS_FAULT_RELEASE exists
 *                    (polled every 10 ms, at most 30 s)
 *
 * Compiled only with -DPSS_FAULT_INJECTION (every build but RELEASE=1); in
 * release builds fault_point() is an empty inline.
 */
#ifndef PSS_FAULT_H
#define PSS_FAULT_H

#ifdef PSS_FAULT_INJECTION
void fault_point(const char *step);
#else
static inline void fault_point(const char *step)
{
	(void)step;
}
#endif

#endif /* PSS_FAULT_H */
