// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Fuzz the socket tables: any bytes as /proc/net/{tcp,tcp6,unix}, read
 * the way handles.c reads them.  The text is indexed by inode (field 9 of
 * the inet tables, 6 of unix); every indexed line must lie in the text,
 * the index must be sorted and find what it holds.  Each indexed inode is
 * then looked up in the whole text and in "header + that line" (what the
 * capture parses) with the inet parser for both families and the unix
 * parser; a socket found must carry the inode asked for, its path must be
 * inside the text, and its addresses must format into a short buffer and
 * a long one without overflow.  Inode 0 and an inode of no line are
 * looked up too.
 */
#include <errno.h>
#include <sys/socket.h>

#include "facets.h"
#include "fuzz.h"

static void format_check(int family, const uint8_t addr[16], uint16_t port)
{
	char shortbuf[7], longbuf[64];

	sock_addr_format(family, addr, port, shortbuf, sizeof(shortbuf));
	FUZZ_CHECK(memchr(shortbuf, '\0', sizeof(shortbuf)));
	sock_addr_format(family, addr, port, longbuf, sizeof(longbuf));
	FUZZ_CHECK(memchr(longbuf, '\0', sizeof(longbuf)));
}

/* Look @inode up in @text with every parser. */
static void lookup(const char *text, size_t len, uint64_t inode)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct proc_inet_sock is;
	struct proc_unix_sock us;

	for (size_t i = 0; i < 2; i++) {
		int r = proc_net_inet_find(text, len, families[i], inode, &is);

		FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT);
		if (r)
			continue;
		FUZZ_CHECK(is.inode == inode && is.family == families[i]);
		format_check(is.family, is.local_addr, is.local_port);
		format_check(is.family, is.remote_addr, is.remote_port);
	}
	if (!proc_net_unix_find(text, len, inode, &us)) {
		FUZZ_CHECK(us.inode == inode);
		FUZZ_CHECK(fuzz_within(us.path.p, us.path.len, text, len));
	}
}

/* Index @buf on @field and check the index against the text. */
static void index_check(const char *buf, size_t size, unsigned field)
{
	struct net_index ix;
	char *line;

	FUZZ_CHECK(net_index_build(buf, size, field, &ix) == 0);
	FUZZ_CHECK(ix.header_len <= size);
	for (size_t i = 0; i < ix.n; i++) {
		const struct net_index_ent *e = &ix.v[i], *f;

		FUZZ_CHECK(e->off >= ix.header_len && e->off <= size && e->len <= size - e->off);
		FUZZ_CHECK(e->inode != 0);
		FUZZ_CHECK(i == 0 || ix.v[i - 1].inode <= e->inode);
		f = net_index_find(&ix, e->inode);
		FUZZ_CHECK(f && f->inode == e->inode);
		/* bounded: a table of many lines need not cost n^2 per input */
		if (i >= 64)
			continue;
		lookup(buf, size, e->inode);
		line = malloc(ix.header_len + e->len);
		FUZZ_CHECK(line);
		memcpy(line, buf, ix.header_len);
		memcpy(line + ix.header_len, buf + e->off, e->len);
		lookup(line, ix.header_len + e->len, e->inode);
		free(line);
	}
	if (ix.n)
		FUZZ_CHECK(!net_index_find(&ix, ix.v[ix.n - 1].inode + 1) ||
			   ix.v[ix.n - 1].inode == UINT64_MAX);
	FUZZ_CHECK(!net_index_find(&ix, 0));
	net_index_release(&ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	index_check(buf, size, 9);
	index_check(buf, size, 6);
	lookup(buf, size, 0);
	lookup(buf, size, fuzz_u64(data, size));
	return 0;
}
