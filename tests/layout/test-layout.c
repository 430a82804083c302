/* The public headers compile as strict C11 with every Windows x64 size and
 * offset of the spec (layout-asserts.h, checked at compile time), and the
 * values round-trip at run time through the enum types. */
#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>
#include <stdio.h>
#include "layout-asserts.h"

int main(void)
{
	PSS_CAPTURE_FLAGS f = PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT;
	PSS_CAPTURE_FLAGS r = PSS_CREATE_RELEASE_SECTION;
	int n = 0, bad = 0;

	printf("ok %d - C11 static layout assertions\n", ++n);
	bad = (unsigned)f != 0x180u || (unsigned)r != 0x80000000u || sizeof(f) != 4;
	printf("%sok %d - capture flag values in the enum type\n", bad ? "not " : "", ++n);
	printf("1..%d\n", n);
	return bad;
}
