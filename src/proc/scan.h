/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bounded scanners shared by the /proc parsers.  A struct scan is a window
 * (buf, len) with a read position; nothing here looks at buf[len] or
 * beyond, nothing assumes a NUL terminator, nothing allocates.  Number
 * scanners take at least one digit, accept the whole 64-bit range and fail
 * with -EINVAL on overflow, leaving the position where it was.
 */
#ifndef PSS_PROC_SCAN_H
#define PSS_PROC_SCAN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct scan {
	const char *buf;	/* not owned; may be NULL when len is 0 */
	size_t len;
	size_t pos;		/* 0 <= pos <= len */
};

static inline void scan_init(struct scan *s, const char *buf, size_t len)
{
	s->buf = buf;
	s->len = len;
	s->pos = 0;
}

static inline bool scan_eof(const struct scan *s)
{
	return s->pos >= s->len;
}

/* The next byte, or -1 at the end. */
static inline int scan_peek(const struct scan *s)
{
	return s->pos < s->len ? (unsigned char)s->buf[s->pos] : -1;
}

/* Consume @c if it is the next byte. */
static inline bool scan_char(struct scan *s, char c)
{
	if (s->pos < s->len && s->buf[s->pos] == c) {
		s->pos++;
		return true;
	}
	return false;
}

/* Consume the @n bytes of @lit if they come next. */
static inline bool scan_lit(struct scan *s, const char *lit, size_t n)
{
	if (s->len - s->pos < n || memcmp(s->buf + s->pos, lit, n))
		return false;
	s->pos += n;
	return true;
}

/* Skip spaces and tabs; returns how many were skipped. */
static inline size_t scan_blanks(struct scan *s)
{
	size_t start = s->pos;

	while (s->pos < s->len && (s->buf[s->pos] == ' ' || s->buf[s->pos] == '\t'))
		s->pos++;
	return s->pos - start;
}

/* True if only blanks and newlines are left. */
static inline bool scan_only_space(const struct scan *s)
{
	for (size_t i = s->pos; i < s->len; i++)
		if (s->buf[i] != ' ' && s->buf[i] != '\t' && s->buf[i] != '\n')
			return false;
	return true;
}

/*
 * Cut the next line (without its '\n') out of @s into @line and move @s
 * past it.  A last line without '\n' counts; returns false at the end.
 */
static inline bool scan_line(struct scan *s, struct scan *line)
{
	const char *nl;
	size_t n;

	if (s->pos >= s->len)
		return false;
	n = s->len - s->pos;
	nl = memchr(s->buf + s->pos, '\n', n);
	if (nl)
		n = (size_t)(nl - (s->buf + s->pos));
	scan_init(line, s->buf + s->pos, n);
	s->pos += nl ? n + 1 : n;
	return true;
}

/* Value of one digit in @base (8, 10 or 16), or -1. */
static inline int scan_digit(int c, unsigned base)
{
	int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return (unsigned)v < base ? v : -1;
}

/* An unsigned number in @base; no sign, no prefix. */
static inline int scan_u64_base(struct scan *s, unsigned base, uint64_t *ret)
{
	size_t pos = s->pos;
	uint64_t v = 0;
	int d;

	while ((d = scan_digit(pos < s->len ? (unsigned char)s->buf[pos] : -1, base)) >= 0) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -EINVAL;
		v = v * base + (uint64_t)d;
		pos++;
	}
	if (pos == s->pos)
		return -EINVAL;
	s->pos = pos;
	*ret = v;
	return 0;
}

static inline int scan_u64(struct scan *s, uint64_t *ret)
{
	return scan_u64_base(s, 10, ret);
}

static inline int scan_x64(struct scan *s, uint64_t *ret)
{
	return scan_u64_base(s, 16, ret);
}

/* Hex with an optional "0x"/"0X" prefix. */
static inline int scan_x64_prefixed(struct scan *s, uint64_t *ret)
{
	size_t pos = s->pos;
	int err;

	if (s->len - pos >= 3 && s->buf[pos] == '0' && (s->buf[pos + 1] | 0x20) == 'x' &&
	    scan_digit((unsigned char)s->buf[pos + 2], 16) >= 0)
		s->pos += 2;
	err = scan_x64(s, ret);
	if (err)
		s->pos = pos;
	return err;
}

/* A signed decimal number with an optional '-'; full int64_t range. */
static inline int scan_s64(struct scan *s, int64_t *ret)
{
	size_t pos = s->pos;
	bool neg = scan_char(s, '-');
	uint64_t v;

	if (scan_u64(s, &v))
		goto fail;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			goto fail;
		*ret = v ? -(int64_t)(v - 1) - 1 : 0;
	} else {
		if (v > INT64_MAX)
			goto fail;
		*ret = (int64_t)v;
	}
	return 0;
fail:
	s->pos = pos;
	return -EINVAL;
}

static inline int scan_s32(struct scan *s, int32_t *ret)
{
	size_t pos = s->pos;
	int64_t v;

	if (scan_s64(s, &v))
		return -EINVAL;
	if (v < INT32_MIN || v > INT32_MAX) {
		s->pos = pos;
		return -EINVAL;
	}
	*ret = (int32_t)v;
	return 0;
}

static inline int scan_u32_base(struct scan *s, unsigned base, uint32_t *ret)
{
	size_t pos = s->pos;
	uint64_t v;

	if (scan_u64_base(s, base, &v))
		return -EINVAL;
	if (v > UINT32_MAX) {
		s->pos = pos;
		return -EINVAL;
	}
	*ret = (uint32_t)v;
	return 0;
}

/* Split "key:value" at the first ':'; @line then points just past it. */
static inline bool scan_key(struct scan *line, struct scan *key)
{
	const char *colon;

	if (!line->len)
		return false;
	colon = memchr(line->buf, ':', line->len);
	if (!colon)
		return false;
	scan_init(key, line->buf, (size_t)(colon - line->buf));
	line->pos = key->len + 1;
	return true;
}

/* Does the window @key hold exactly the text @name? */
static inline bool scan_is(const struct scan *key, const char *name)
{
	size_t n = strlen(name);

	return key->len == n && !memcmp(key->buf, name, n);
}

#endif /* PSS_PROC_SCAN_H */
