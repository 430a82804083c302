/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small JSON emitter for pss --json: one document on stdout, written as
 * it goes.  The emitter keeps a stack of open containers and puts the
 * commas; strings are escaped per RFC 8259 (quote, backslash, control
 * bytes) and bytes that are not valid UTF-8 become U+FFFD, so whatever a
 * process names itself, the output parses.
 *
 *   json_obj_begin(); json_key("pid"); json_int(42); json_obj_end();
 *   json_kv_str("name", s) is json_key("name"); json_str(s);
 */
#ifndef PSS_CLI_JSON_H
#define PSS_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>

void json_obj_begin(void);
void json_obj_end(void);
void json_arr_begin(void);
void json_arr_end(void);
void json_key(const char *key);
void json_str(const char *s);
void json_strn(const char *s, size_t len);	/* @len bytes, NULs included */
void json_int(long long v);
void json_uint(unsigned long long v);
void json_double(double v);
void json_bool(bool v);
void json_null(void);
/* @s as one JSON string, outside the emitter's state: for the JSON lines
 * that pss dump and pss watch print one object at a time. */
void json_print_str(const char *s);
/* The document is complete: end it with a newline and flush (nothing if
 * nothing was written). */
void json_done(void);

static inline void json_kv_str(const char *k, const char *v) { json_key(k); json_str(v ? v : ""); }
static inline void json_kv_int(const char *k, long long v) { json_key(k); json_int(v); }
static inline void json_kv_uint(const char *k, unsigned long long v) { json_key(k); json_uint(v); }
static inline void json_kv_double(const char *k, double v) { json_key(k); json_double(v); }
static inline void json_kv_bool(const char *k, bool v) { json_key(k); json_bool(v); }

#endif
