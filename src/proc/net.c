// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/net socket tables, searched by inode (the number behind a
 * "socket:[N]" fd link).
 *
 * tcp/udp/raw (net/ipv4/tcp_ipv4.c get_tcp4_sock() and friends):
 *
 *	"%4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08lX %08X %5u %8d %lu ..."
 *	 sl   local        remote       st  tx:rx     tr:when   retr uid timeout inode
 *
 * An address is the in-memory (network order) address printed as 32-bit
 * host-order words: one for IPv4, four for IPv6, so copying each word's
 * value back to memory restores the bytes on either endianness.  Ports are
 * already host order.
 *
 * unix (net/unix/af_unix.c unix_seq_show()):
 *
 *	"%pK: %08X %08X %08X %04X %02X %5lu" [" " path] "\n"
 *	 Num  RefCount Protocol Flags Type St Inode
 *
 * The path is raw bytes ('@' first and for each NUL of an abstract name);
 * a newline in a bound path therefore splits the line, and the tail is
 * skipped as a line that does not parse.
 *
 * Header lines and lines that do not parse are skipped; when the inode is
 * not found, -EINVAL says some line was unreadable, -ENOENT that none was.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "proc/proc.h"
#include "proc/scan.h"

/* "%08X..." (@words words) then ":%04X" into network-order bytes and a port. */
static int net_addr_scan(struct scan *s, unsigned words, uint8_t *addr, uint16_t *port)
{
	struct scan w;
	uint64_t v;
	uint32_t word;
	unsigned i;

	if (s->len - s->pos < 8 * words)
		return -EINVAL;
	for (i = 0; i < words; i++) {
		scan_init(&w, s->buf + s->pos, 8);
		if (scan_x64(&w, &v) || !scan_eof(&w))
			return -EINVAL;
		word = (uint32_t)v;
		memcpy(addr + 4 * i, &word, sizeof(word));
		s->pos += 8;
	}
	if (!scan_char(s, ':') || scan_x64(s, &v) || v > UINT16_MAX)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* Skip one blank-separated field. */
static int net_field_skip(struct scan *s)
{
	size_t start;

	scan_blanks(s);
	start = s->pos;
	while (!scan_eof(s) && s->buf[s->pos] != ' ' && s->buf[s->pos] != '\t')
		s->pos++;
	return s->pos > start ? 0 : -EINVAL;
}

/* Parse one tcp/udp/raw table line. */
static int net_inet_line_parse(struct scan *s, int family, struct proc_inet_sock *sk)
{
	unsigned words = family == AF_INET ? 1 : 4;
	uint64_t v;
	int i;

	memset(sk, 0, sizeof(*sk));
	sk->family = family;
	scan_blanks(s);
	if (scan_u64(s, &v) || !scan_char(s, ':') || !scan_blanks(s) ||
	    net_addr_scan(s, words, sk->local_addr, &sk->local_port) || !scan_blanks(s) ||
	    net_addr_scan(s, words, sk->remote_addr, &sk->remote_port) || !scan_blanks(s) ||
	    scan_x64(s, &v) || v > 0xff)
		return -EINVAL;
	sk->state = (int)v;
	/* tx_queue:rx_queue tr:tm->when retrnsmt uid timeout */
	for (i = 0; i < 5; i++)
		if (net_field_skip(s))
			return -EINVAL;
	if (!scan_blanks(s) || scan_u64(s, &sk->inode))
		return -EINVAL;
	if (!scan_eof(s) && !scan_blanks(s))
		return -EINVAL;
	return 0;
}

/* Is this a table row ("  N: ...") rather than the column header? */
static bool net_inet_is_row(const struct scan *line)
{
	struct scan s = *line;
	uint64_t v;

	scan_blanks(&s);
	return !scan_u64(&s, &v) && scan_char(&s, ':');
}

/*
 * Find the socket @inode in a tcp/udp/raw table of @family (AF_INET or
 * AF_INET6).  @ret is written only on success.
 */
int proc_net_inet_find(const char *buf, size_t len, int family, uint64_t inode,
		       struct proc_inet_sock *ret)
{
	struct proc_inet_sock sk;
	struct scan s, line;
	bool bad = false;

	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	scan_init(&s, buf, len);
	while (scan_line(&s, &line)) {
		if (!net_inet_is_row(&line))
			continue;
		if (net_inet_line_parse(&line, family, &sk)) {
			bad = true;
			continue;
		}
		if (sk.inode == inode) {
			*ret = sk;
			return 0;
		}
	}
	return bad ? -EINVAL : -ENOENT;
}

/* Parse one /proc/net/unix line. */
static int net_unix_line_parse(struct scan *s, struct proc_unix_sock *sk)
{
	uint64_t v;

	memset(sk, 0, sizeof(*sk));
	if (scan_x64(s, &v) || !scan_char(s, ':') ||			/* Num */
	    !scan_blanks(s) || scan_x64(s, &v) ||			/* RefCount */
	    !scan_blanks(s) || scan_x64(s, &v) ||			/* Protocol */
	    !scan_blanks(s) || scan_u32_base(s, 16, &sk->flags) ||
	    !scan_blanks(s) || scan_u32_base(s, 16, &sk->type) ||
	    !scan_blanks(s) || scan_u32_base(s, 16, &sk->state) ||
	    !scan_blanks(s) || scan_u64(s, &sk->inode))
		return -EINVAL;
	sk->path.p = s->buf + s->pos;
	if (scan_eof(s))
		return 0;
	/* exactly one space: a relative path may itself start with one */
	if (!scan_char(s, ' '))
		return -EINVAL;
	sk->path.p = s->buf + s->pos;
	sk->path.len = s->len - s->pos;
	return 0;
}

/* Find the socket @inode in /proc/net/unix.  @ret is written only on success. */
int proc_net_unix_find(const char *buf, size_t len, uint64_t inode, struct proc_unix_sock *ret)
{
	struct proc_unix_sock sk;
	struct scan s, line;
	bool bad = false, first = true;

	scan_init(&s, buf, len);
	while (scan_line(&s, &line)) {
		/* the "Num       RefCount Protocol ..." header */
		if (first && line.len >= 4 && !memcmp(line.buf, "Num ", 4)) {
			first = false;
			continue;
		}
		first = false;
		if (net_unix_line_parse(&line, &sk)) {
			bad = true;
			continue;
		}
		if (sk.inode == inode) {
			*ret = sk;
			return 0;
		}
	}
	return bad ? -EINVAL : -ENOENT;
}
