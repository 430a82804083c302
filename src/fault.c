// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Test-only fault points (see fault.h).  The environment is read at every
 * call: fault points sit on slow paths (a capture), and tests change
 * PSS_FAULT between captures in one process.  Nothing here allocates, so a
 * fault point is safe inside the stop and on the tracer thread.
 */
#include "internal.h"
#include "fault.h"

#ifdef PSS_FAULT_INJECTION
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define FAULT_POLL_NS (10 * 1000 * 1000L)	/* 10 ms */
#define FAULT_PAUSE_POLLS 3000			/* 30 s */

/* The action for @step in a "STEP:ACTION,..." list, copied into act[cap]. */
static bool fault_lookup(const char *spec, const char *step, char *act, size_t cap)
{
	size_t slen = strlen(step);
	const char *p = spec;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > slen && !strncmp(p, step, slen) && p[slen] == ':') {
			size_t alen = MIN(len - slen - 1, cap - 1);

			memcpy(act, p + slen + 1, alen);
			act[alen] = '\0';
			return true;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* "pause": wait for the release file, so a test can act at this instant. */
static void fault_pause(void)
{
	const char *release = getenv("PSS_FAULT_RELEASE");
	struct timespec ts = { 0, FAULT_POLL_NS };
	int i;

	for (i = 0; i < FAULT_PAUSE_POLLS; i++) {
		if (release && !access(release, F_OK))
			return;
		nanosleep(&ts, NULL);
	}
}

/* Perform the action the test asked for at @step, if any. */
void fault_point(const char *step)
{
	const char *spec = getenv("PSS_FAULT");
	char act[32];

	if (!spec || !fault_lookup(spec, step, act, sizeof(act)))
		return;
	if (!strcmp(act, "sigkill-self"))
		kill(tracer_host_pid(), SIGKILL);	/* the process that called the API */
	else if (!strcmp(act, "sigkill-tracer"))
		kill(getpid(), SIGKILL);		/* whoever runs this step */
	else if (!strcmp(act, "pause"))
		fault_pause();
}
#endif /* PSS_FAULT_INJECTION */
