// SPDX-License-Identifier: LGPL-2.1-or-later
/* Helpers shared by the pss subcommands: capture with clear errors, text. */
#include "pss.h"
#include <stdint.h>
#include <string.h>
#include <time.h>

int cli_capture(pid_t pid, PSS_CAPTURE_FLAGS flags, DWORD ctx_flags, const struct cli_opts *o,
		HPSS *ret)
{
	struct pss_linux_options opts = { .sz = sizeof(opts), .timeout_ms = o->timeout_ms };
	HANDLE h;
	DWORD err;
	int eno;
	const char *why;

	err = pss_linux_open_pid(pid, &h);
	if (err) {
		fprintf(stderr, "pss: pid %d: %s\n", pid,
			err == ERROR_INVALID_PARAMETER ? "no such process" : pss_linux_error_message(err));
		return err == ERROR_ACCESS_DENIED ? EXIT_PERM : EXIT_FAILURE_;
	}
	err = pss_linux_capture(h, flags, ctx_flags, &opts, ret);
	CloseHandle(h);
	if (!err)
		return EXIT_OK;
	why = pss_linux_last_capture_error(&eno);
	fprintf(stderr, "pss: pid %d: %s%s%s\n", pid, pss_linux_error_message(err), *why ? ": " : "",
		why);
	return err == ERROR_ACCESS_DENIED ? EXIT_PERM : EXIT_FAILURE_;
}

void cli_free(HPSS s)
{
	if (s)
		PssFreeSnapshot(GetCurrentProcess(), s);
}

char *cli_utf16(const WCHAR *s, size_t bytes, char *buf, size_t cap)
{
	size_t i, n = bytes / 2, o = 0;
	uint32_t cp;

	for (i = 0; s && i < n && o + 4 < cap; i++) {
		cp = s[i];
		if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (s[i + 1] - 0xdc00);
			i++;
		}
		if (cp < 0x80) {
			buf[o++] = (char)cp;
		} else if (cp < 0x800) {
			buf[o++] = (char)(0xc0 | cp >> 6);
			buf[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			buf[o++] = (char)(0xe0 | cp >> 12);
			buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			buf[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			buf[o++] = (char)(0xf0 | cp >> 18);
			buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			buf[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	buf[o] = '\0';
	return buf;
}

static uint64_t ft64(FILETIME ft)
{
	return (uint64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime;
}

void cli_filetime(FILETIME ft, char *buf, size_t cap)
{
	uint64_t v = ft64(ft);
	time_t t;
	struct tm tm;

	if (v < 116444736000000000ull) {
		snprintf(buf, cap, "-");
		return;
	}
	t = (time_t)((v - 116444736000000000ull) / 10000000ull);
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

double cli_duration_s(FILETIME ft)
{
	return (double)ft64(ft) / 1e7;
}
