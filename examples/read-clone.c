/*
 * read-clone: read a variable through the VA clone while the process runs
 * on, as Windows code does with PSS_CAPTURE_VA_CLONE and ReadProcessMemory.
 *
 *   read-clone --self-test    (snapshot ourselves, change a variable, read the
 *                              old value back from the clone, print TAP)
 */
#include <pss/processsnapshot.h>
#include <stdio.h>
#include <string.h>

static char message[32] = "value at the snapshot";

int main(int argc, char **argv)
{
	PSS_VA_CLONE_INFORMATION clone;
	char seen[sizeof(message)] = "";
	SIZE_T read = 0;
	HPSS snapshot;
	DWORD error;
	int ok;

	error = PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_VA_CLONE, 0, &snapshot);
	if (error != ERROR_SUCCESS) {
		printf("not ok 1 - read-clone: PssCaptureSnapshot failed: %lu\n", (unsigned long)error);
		return 1;
	}
	strcpy(message, "changed afterwards");
	error = PssQuerySnapshot(snapshot, PSS_QUERY_VA_CLONE_INFORMATION, &clone, sizeof(clone));
	if (error == ERROR_SUCCESS &&
	    !ReadProcessMemory(clone.VaCloneHandle, message, seen, sizeof(seen), &read))
		error = GetLastError();
	PssFreeSnapshot(GetCurrentProcess(), snapshot);
	ok = error == ERROR_SUCCESS && read == sizeof(seen) &&
	     !strcmp(seen, "value at the snapshot");
	if (argc > 1 && !strcmp(argv[1], "--self-test"))
		printf("%sok 1 - read-clone: the clone holds the value of the snapshot's instant\n",
		       ok ? "" : "not ");
	else
		printf("now: \"%s\"; in the clone: \"%s\"\n", message, seen);
	return !ok;
}
