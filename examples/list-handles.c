/*
 * list-handles: list a process's handles with their type and name, as
 * Windows code does with PSS_CAPTURE_HANDLES.
 *
 *   list-handles [PID]        (default: this process)
 *   list-handles --self-test  (open a file, find it in our own handles, print TAP)
 */
#define _DEFAULT_SOURCE	/* mkstemp, for the self-test */
#include <pss/processsnapshot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

/* UTF-16 to ASCII for printing (names here are ASCII). */
static void narrow(const WCHAR *s, WORD bytes, char *out, size_t cap)
{
	size_t i, n = bytes / sizeof(WCHAR);

	for (i = 0; i < n && i + 1 < cap; i++)
		out[i] = s[i] < 128 ? (char)s[i] : '?';
	out[i] = '\0';
}

static int list(HANDLE process, const char *want, int quiet)
{
	HPSS snapshot;
	HPSSWALK walk;
	PSS_HANDLE_ENTRY handle;
	char type[64], name[512];
	int found = 0;
	DWORD error;

	error = PssCaptureSnapshot(process, PSS_CAPTURE_HANDLES | PSS_CAPTURE_HANDLE_NAME_INFORMATION |
					    PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION, 0, &snapshot);
	if (error != ERROR_SUCCESS)
		return -1;
	PssWalkMarkerCreate(NULL, &walk);
	while (PssWalkSnapshot(snapshot, PSS_WALK_HANDLES, walk, &handle, sizeof(handle)) ==
	       ERROR_SUCCESS) {
		narrow(handle.TypeName, handle.TypeNameLength, type, sizeof(type));
		narrow(handle.ObjectName, handle.ObjectNameLength, name, sizeof(name));
		if (!quiet)
			printf("%4llu %-10s %s\n", (unsigned long long)(ULONG_PTR)handle.Handle, type,
			       name);
		if (want && !strcmp(type, "File") && strstr(name, want))
			found = 1;
	}
	PssWalkMarkerFree(walk);
	PssFreeSnapshot(GetCurrentProcess(), snapshot);
	return found;
}

int main(int argc, char **argv)
{
	HANDLE process = GetCurrentProcess();

	if (argc > 1 && !strcmp(argv[1], "--self-test")) {
		char path[] = "/tmp/list-handles-XXXXXX";
		int fd = mkstemp(path), found;

		found = list(process, path, 1);
		close(fd);
		unlink(path);
		printf("%sok 1 - list-handles: our own open file is listed as a File\n",
		       found == 1 ? "" : "not ");
		return found != 1;
	}
	if (argc > 1)
		process = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)atoi(argv[1]));
	if (!process)
		return 1;
	return list(process, NULL, 0) < 0;
}
