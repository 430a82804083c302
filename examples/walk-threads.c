/*
 * walk-threads: capture a process's threads with their register contexts and
 * print them, written as one would on Windows.
 *
 *   walk-threads [PID]        (default: this process)
 *   walk-threads --self-test  (capture itself, check the result, print TAP)
 */
#include <pss/processsnapshot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int walk(HANDLE process, int quiet)
{
	HPSS snapshot = NULL;
	HPSSWALK walk = NULL;
	PSS_THREAD_INFORMATION info;
	PSS_THREAD_ENTRY thread;
	DWORD error, count = 0;

	error = PssCaptureSnapshot(process, PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT,
				   CONTEXT_ALL, &snapshot);
	if (error != ERROR_SUCCESS) {
		fprintf(stderr, "PssCaptureSnapshot failed: %lu\n", (unsigned long)error);
		return -1;
	}
	error = PssQuerySnapshot(snapshot, PSS_QUERY_THREAD_INFORMATION, &info, sizeof(info));
	if (error == ERROR_SUCCESS && !quiet)
		printf("%lu threads, %lu-byte contexts\n", (unsigned long)info.ThreadsCaptured,
		       (unsigned long)info.ContextLength);
	error = PssWalkMarkerCreate(NULL, &walk);
	while (error == ERROR_SUCCESS) {
		error = PssWalkSnapshot(snapshot, PSS_WALK_THREADS, walk, &thread, sizeof(thread));
		if (error != ERROR_SUCCESS)
			break;
		count++;
		if (!quiet && thread.ContextRecord)
			printf("thread %lu: Rip=%016llx Rsp=%016llx Rbp=%016llx\n",
			       (unsigned long)thread.ThreadId,
			       (unsigned long long)thread.ContextRecord->Rip,
			       (unsigned long long)thread.ContextRecord->Rsp,
			       (unsigned long long)thread.ContextRecord->Rbp);
		else if (!thread.ContextRecord)
			count = 0x80000000u;	/* a live thread without its context */
	}
	PssWalkMarkerFree(walk);
	PssFreeSnapshot(GetCurrentProcess(), snapshot);
	if (error != ERROR_NO_MORE_ITEMS)
		return -1;
	return count == info.ThreadsCaptured ? (int)count : -1;
}

int main(int argc, char **argv)
{
	HANDLE process = GetCurrentProcess();
	int n;

	if (argc > 1 && !strcmp(argv[1], "--self-test")) {
		n = walk(process, 1);
		printf("%sok 1 - walk-threads: every thread of ourselves has a context (%d)\n",
		       n >= 1 ? "" : "not ", n);
		return n >= 1 ? 0 : 1;
	}
	if (argc > 1) {
		process = OpenProcess(PROCESS_ALL_ACCESS, FALSE, (DWORD)strtoul(argv[1], NULL, 10));
		if (!process) {
			fprintf(stderr, "OpenProcess failed: %lu\n", (unsigned long)GetLastError());
			return 1;
		}
	}
	n = walk(process, 0);
	if (process != GetCurrentProcess())
		CloseHandle(process);
	return n < 0;
}
