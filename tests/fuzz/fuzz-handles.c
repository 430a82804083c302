// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz the handle facet's mapping rules.  The input is
 *
 *	link '\n' mode '\n' fdinfo-text
 *
 * (mode in octal; its bit 30 withholds the stat, bit 31 the pidfd's
 * process).  The link is classified with and without the fdinfo, the
 * handle is built by handle_fill() exactly as a capture builds it and
 * released again (ASan checks that nothing leaks or is freed twice), and
 * the link's inode, the flag rules and the address formatter are run on
 * the same bytes.  A built handle must name a known type, carry UTF-16
 * strings as long as its length fields say, and set a HAVE_ bit only for
 * what was asked.
 */
#include <inttypes.h>
#include <sys/socket.h>

#include "facets.h"
#include "fuzz.h"

#define ALL_DETAIL (PSS_CAPTURE_HANDLE_NAME_INFORMATION | PSS_CAPTURE_HANDLE_BASIC_INFORMATION | \
		    PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION)

/* Cut the next '\n'-ended field off [*p, end). */
static const uint8_t *next_field(const uint8_t **p, const uint8_t *end, size_t *len)
{
	const uint8_t *start = *p, *nl = memchr(start, '\n', (size_t)(end - start));

	*len = (size_t)((nl ? nl : end) - start);
	*p = nl ? nl + 1 : end;
	return start;
}

static uint32_t octal(const uint8_t *s, size_t len)
{
	uint32_t v = 0;

	for (size_t i = 0; i < len && s[i] >= '0' && s[i] <= '7'; i++)
		v = v << 3 | (uint32_t)(s[i] - '0');
	return v;
}

static void wide_check(const WCHAR *w, WORD bytes)
{
	FUZZ_CHECK(w && bytes % 2 == 0 && w[bytes / 2] == 0);
	for (size_t i = 0; i < bytes / 2u; i++)
		FUZZ_CHECK(w[i] != 0);
}

static void link_inode_check(const char *link)
{
	char want[32];
	uint64_t ino;
	size_t n, l = strlen(link);

	if (!handle_link_inode(link, &ino))
		return;
	/* "word:[N]": the link ends in the decimal digits of N and ']' */
	n = (size_t)snprintf(want, sizeof(want), "%" PRIu64 "]", ino);
	FUZZ_CHECK(l > n && strcmp(link + l - n, want) == 0);
	FUZZ_CHECK(strstr(link, ":[") && strstr(link, ":[") != link);
}

static void fill_check(const char *link, unsigned mode, const struct proc_fdinfo *fi,
		       const uint8_t *raw, size_t raw_len)
{
	struct handle_proc_info pp = {
		.valid = true, .exited = mode & 1, .exit_status = 3, .ppid = 1, .peb = 0x1000,
	};
	struct stat st = { .st_mode = mode & 0177777, .st_size = (off_t)fuzz_u64(raw, raw_len),
			   .st_nlink = (nlink_t)(mode >> 3) };
	struct handle_input in = {
		.fd = 3, .fi = fi, .st = (mode >> 30) & 1 ? NULL : &st,
		.pidfd_proc = (mode >> 31) & 1 ? NULL : &pp, .capture_flags = ALL_DETAIL >> (mode & 3),
	};
	struct pss_handle h = { 0 };
	DWORD cf = in.capture_flags;
	int err;

	in.link = pss_strdup(link);
	if (!in.link)
		return;
	err = handle_fill(&h, &in);
	FUZZ_CHECK(err == 0 || err == -ENOMEM);
	if (!err) {
		wide_check(h.e.TypeName, h.e.TypeNameLength);
		FUZZ_CHECK(strlen(h.li.type_name) * 2 == h.e.TypeNameLength);
		FUZZ_CHECK(!!(h.e.Flags & PSS_HANDLE_HAVE_NAME) ==
			   !!(cf & PSS_CAPTURE_HANDLE_NAME_INFORMATION));
		FUZZ_CHECK(!!(h.e.Flags & PSS_HANDLE_HAVE_BASIC_INFORMATION) ==
			   !!(cf & PSS_CAPTURE_HANDLE_BASIC_INFORMATION));
		FUZZ_CHECK(!(h.e.Flags & PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION) ||
			   (cf & PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION));
		if (h.e.Flags & PSS_HANDLE_HAVE_NAME)
			wide_check(h.e.ObjectName, h.e.ObjectNameLength);
		FUZZ_CHECK(h.li.link == h.link && strcmp(h.link, link) == 0);
	}
	handle_release(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *f;
	struct proc_fdinfo fi;
	uint8_t addr[16] = { 0 };
	char abuf[64], *link;
	size_t len;
	unsigned mode;
	enum handle_kind k;
	bool have_fi;

	f = next_field(&p, end, &len);
	link = fuzz_strndup(f, len);
	memcpy(addr, f, len < sizeof(addr) ? len : sizeof(addr));
	f = next_field(&p, end, &len);
	mode = octal(f, len);
	have_fi = proc_fdinfo_parse((const char *)p, (size_t)(end - p), &fi) == 0;
	if (!have_fi)
		memset(&fi, 0, sizeof(fi));

	k = handle_classify(link, mode, NULL);
	FUZZ_CHECK(k >= HK_FILE && k <= HK_ANON_INODE);
	k = handle_classify(link, mode, &fi);
	FUZZ_CHECK(k >= HK_FILE && k <= HK_ANON_INODE);
	FUZZ_CHECK(handle_kind_name(k) && handle_kind_name((enum handle_kind)(mode & 0xff)));
	handle_object_type(k, link, fi.eventfd_semaphore);
	FUZZ_CHECK(handle_attributes(fi.flags) == 0 || handle_attributes(fi.flags) == PSS_OBJ_INHERIT);
	FUZZ_CHECK(handle_granted_access(fi.flags) != 0 && handle_granted_access(mode) != 0);
	link_inode_check(link);
	sock_addr_format(AF_INET, addr, (uint16_t)mode, abuf, sizeof(abuf));
	sock_addr_format(AF_INET6, addr, (uint16_t)mode, abuf, sizeof(abuf));
	sock_addr_format(AF_INET6, addr, (uint16_t)mode, abuf, 5);
	fill_check(link, mode, &fi, data, size);
	free(link);
	return 0;
}
