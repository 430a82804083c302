// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The --json emitter (see json.h).  State is one stack of "has this
 * container had a member yet" bits; a key sets `after_key` so the value that
 * follows takes no comma.  Output goes through stdio to stdout: pss prints
 * one document per run, so a global emitter is all it needs.
 *
 * Strings: RFC 8259 requires escaping '"', '\\' and U+0000-U+001F; we also
 * escape DEL.  Input is checked as UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF): each byte of an invalid sequence becomes \ufffd.
 */
#include "json.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JSON_DEPTH 32

static bool had_member[JSON_DEPTH];
static int depth;
static bool after_key;
static bool wrote;		/* anything since the last json_done() */

/* Before any value or key: the comma that separates it from the last. */
static void json_sep(void)
{
	wrote = true;
	if (after_key) {
		after_key = false;
		return;
	}
	if (depth > 0 && depth <= JSON_DEPTH) {
		if (had_member[depth - 1])
			putchar(',');
		had_member[depth - 1] = true;
	}
}

static void json_open(char c)
{
	json_sep();
	putchar(c);
	if (depth < JSON_DEPTH)
		had_member[depth] = false;
	depth++;
}

static void json_close(char c)
{
	if (depth > 0)
		depth--;
	putchar(c);
}

void json_obj_begin(void) { json_open('{'); }
void json_obj_end(void) { json_close('}'); }
void json_arr_begin(void) { json_open('['); }
void json_arr_end(void) { json_close(']'); }

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void json_escaped(const unsigned char *s, size_t n)
{
	size_t i = 0, k;

	putchar('"');
	while (i < n) {
		unsigned char c = s[i];

		switch (c) {
		case '"': fputs("\\\"", stdout); i++; continue;
		case '\\': fputs("\\\\", stdout); i++; continue;
		case '\n': fputs("\\n", stdout); i++; continue;
		case '\t': fputs("\\t", stdout); i++; continue;
		case '\r': fputs("\\r", stdout); i++; continue;
		}
		if (c < 0x20 || c == 0x7f) {
			printf("\\u%04x", c);
			i++;
			continue;
		}
		k = utf8_seq(s + i, n - i);
		if (!k) {
			fputs("\\ufffd", stdout);
			i++;
			continue;
		}
		fwrite(s + i, 1, k, stdout);
		i += k;
	}
	putchar('"');
}

void json_key(const char *key)
{
	json_sep();
	json_escaped((const unsigned char *)key, strlen(key));
	putchar(':');
	after_key = true;
}

void json_str(const char *s)
{
	json_sep();
	json_escaped((const unsigned char *)s, strlen(s));
}

void json_strn(const char *s, size_t len)
{
	json_sep();
	json_escaped((const unsigned char *)s, len);
}

void json_int(long long v)
{
	json_sep();
	printf("%lld", v);
}

void json_uint(unsigned long long v)
{
	json_sep();
	printf("%llu", v);
}

/* JSON has no NaN or infinity: those are null. */
void json_double(double v)
{
	json_sep();
	if (isfinite(v))
		printf("%.9g", v);
	else
		fputs("null", stdout);
}

void json_bool(bool v)
{
	json_sep();
	fputs(v ? "true" : "false", stdout);
}

void json_null(void)
{
	json_sep();
	fputs("null", stdout);
}

void json_print_str(const char *s)
{
	json_escaped((const unsigned char *)s, strlen(s));
}

void json_done(void)
{
	if (!wrote)
		return;
	wrote = false;
	putchar('\n');
	fflush(stdout);
	depth = 0;
	after_key = false;
}
