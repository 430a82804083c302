/* A C++17 client: the headers compile warning-free, the layouts hold, and
 * the flag enums have the operators Windows code relies on. */
#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>
#include <cstdio>
#include "layout-asserts.h"

int main()
{
	PSS_CAPTURE_FLAGS flags = PSS_CAPTURE_NONE;
	int n = 0, bad = 0;

	flags |= PSS_CAPTURE_THREADS;
	flags |= PSS_CAPTURE_THREAD_CONTEXT | PSS_CREATE_MEASURE_PERFORMANCE;
	flags &= ~PSS_CREATE_MEASURE_PERFORMANCE;
	printf("ok %d - C++17 static layout assertions\n", ++n);
	bad = (unsigned)flags != 0x180u;
	printf("%sok %d - flags |= PSS_CAPTURE_THREADS works in C++\n", bad ? "not " : "", ++n);

	/* A real call through the library, as a C++ client links it. */
	HPSS snap = nullptr;
	DWORD err = PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_NONE, 0, &snap);
	PSS_PROCESS_INFORMATION pi = {};
	if (!err)
		err = PssQuerySnapshot(snap, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi));
	bool ok = !err && pi.ExitStatus == STILL_ACTIVE && pi.ImageFileName[0] == u'/';
	printf("%sok %d - C++ client captures itself (err %u)\n", ok ? "" : "not ", ++n, err);
	if (snap)
		PssFreeSnapshot(GetCurrentProcess(), snap);
	printf("1..%d\n", n);
	return bad || !ok;
}
