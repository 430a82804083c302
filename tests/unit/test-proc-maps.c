// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The maps/smaps/smaps_rollup parsers on a captured process that mapped
 * files named "fx dir/a b", "new\nline", "fake (deleted)" (not deleted),
 * "twice (deleted)" (deleted) and "gone" (deleted) plus an anonymous
 * MADV_DONTDUMP region, and on hand-made hostile texts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pss/pss-linux.h>

#include "proc/proc.h"
#include "proc-fixture.h"

#define MAX_MAPS 64

struct maps_result {
	char *buf;			/* the text, freed by maps_result_free() */
	size_t len;
	unsigned count;
	int rc[MAX_MAPS];
	struct proc_map map[MAX_MAPS];
	struct proc_smaps sm[MAX_MAPS];
};

/* Run the iterator over fixture @name; -ENOENT ends it. */
static void maps_collect(const char *name, bool smaps, struct maps_result *r)
{
	struct proc_maps_iter it;

	memset(r, 0, sizeof(*r));
	r->buf = fixture_load(name, &r->len);
	proc_maps_iter_init(&it, r->buf, r->len);
	for (;;) {
		int rc = smaps ? proc_smaps_next(&it, &r->map[r->count], &r->sm[r->count])
			       : proc_maps_next(&it, &r->map[r->count]);

		if (rc == -ENOENT)
			break;
		assert_true(rc == 0 || rc == -EINVAL);
		assert_true(r->count < MAX_MAPS);
		r->rc[r->count++] = rc;
	}
	/* -ENOENT stays -ENOENT */
	assert_int_equal(proc_maps_next(&it, &r->map[0]), -ENOENT);
}

static void maps_result_free(struct maps_result *r)
{
	free(r->buf);
}

static void test_maps_self(void **state)
{
	struct maps_result r;
	const struct proc_map *m;

	maps_collect("maps-self", false, &r);
	assert_int_equal(r.count, 32);
	for (unsigned i = 0; i < r.count; i++)
		assert_int_equal(r.rc[i], 0);

	m = &r.map[0];
	assert_int_equal(m->start, 0x5652fa66d000ull);
	assert_int_equal(m->end, 0x5652fa66f000ull);
	assert_int_equal(m->prot, PROC_PROT_READ);
	assert_false(m->shared);
	assert_int_equal(m->offset, 0);
	assert_int_equal(m->dev_major, 0xfe);
	assert_int_equal(m->dev_minor, 0);
	assert_int_equal(m->inode, 10952881);
	assert_str_equal_n(m->name, "/tmp/cap/cap");
	assert_false(m->deleted);

	m = &r.map[1];
	assert_int_equal(m->prot, PROC_PROT_READ | PROC_PROT_EXEC);
	assert_int_equal(m->offset, 0x2000);

	assert_str_equal_n(r.map[5].name, "[heap]");
	assert_int_equal(r.map[5].prot, PROC_PROT_READ | PROC_PROT_WRITE);

	/* anonymous: no name, one trailing space in the text */
	m = &r.map[6];
	assert_int_equal(m->start, 0x7f65f96ca000ull);
	assert_int_equal(m->prot, 0);
	assert_int_equal(m->name.len, 0);
	assert_int_equal(m->inode, 0);

	m = &r.map[16];
	assert_true(m->shared);
	assert_int_equal(m->prot, PROC_PROT_READ);
	assert_str_equal_n(m->name, "/tmp/cap/twice (deleted)");
	assert_true(m->deleted);

	/* really called "fake (deleted)": the parser only hints deleted (the
	 * VA-space facet settles it with stat) */
	assert_str_equal_n(r.map[17].name, "/tmp/cap/fake");
	assert_true(r.map[17].deleted);

	assert_str_equal_n(r.map[18].name, "/tmp/cap/gone");
	assert_true(r.map[18].deleted);
	assert_int_equal(r.map[18].inode, 10952877);

	assert_str_equal_n(r.map[19].name, "/tmp/cap/new\\012line");
	assert_false(r.map[19].deleted);

	assert_str_equal_n(r.map[20].name, "/tmp/cap/fx dir/a b");
	assert_int_equal(r.map[20].end - r.map[20].start, 0x2000);

	assert_str_equal_n(r.map[24].name, "[vdso]");
	m = &r.map[31];
	assert_int_equal(m->start, 0xffffffffff600000ull);
	assert_int_equal(m->end, 0xffffffffff601000ull);
	assert_int_equal(m->prot, PROC_PROT_EXEC);
	assert_str_equal_n(m->name, "[vsyscall]");
	maps_result_free(&r);
}

static void test_maps_hostile(void **state)
{
	static const int want[] = { 0, 0, -EINVAL, 0, 0, -EINVAL, -EINVAL, 0, -EINVAL, -EINVAL, 0, 0 };
	struct maps_result r;
	const struct proc_map *m;

	maps_collect("maps-hostile", false, &r);
	assert_int_equal(r.count, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < r.count; i++)
		if (r.rc[i] != want[i])
			fail_msg("line %u: %d, want %d", i, r.rc[i], want[i]);

	assert_str_equal_n(r.map[0].name, "/usr/bin/dbus-daemon");
	assert_int_equal(r.map[0].dev_major, 8);
	assert_int_equal(r.map[0].dev_minor, 2);

	m = &r.map[1];
	assert_true(m->start == 0xffffffffffff0000ull);
	assert_true(m->end == UINT64_MAX);
	assert_true(m->offset == UINT64_MAX);
	assert_int_equal(m->prot, PROC_PROT_READ | PROC_PROT_WRITE | PROC_PROT_EXEC);
	assert_true(m->shared);
	assert_int_equal(m->dev_major, 0xfff);
	assert_int_equal(m->dev_minor, 0xfffff);
	assert_true(m->inode == UINT64_MAX);
	assert_int_equal(m->name.len, 5005);
	assert_memory_equal(m->name.p, "/tmp/nnnn", 9);
	assert_int_equal(m->name.p[5004], 'n');

	assert_int_equal(r.map[3].start, 0x7f0000000000ull);
	assert_int_equal(r.map[3].name.len, 0);

	assert_str_equal_n(r.map[4].name, "/dev/zero (deleted)");
	assert_true(r.map[4].deleted);

	assert_str_equal_n(r.map[7].name, "[anon:my name (deleted)]");
	assert_false(r.map[7].deleted);

	assert_str_equal_n(r.map[10].name, "\\012");
	assert_true(r.map[10].deleted);

	assert_str_equal_n(r.map[11].name, "/tmp/trunc");
	assert_int_equal(r.map[11].offset, 0x1000);
	assert_int_equal(r.map[11].inode, 1234);
	maps_result_free(&r);

	maps_collect("maps-truncated", false, &r);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.rc[0], -EINVAL);
	maps_result_free(&r);

	maps_collect("maps-empty", false, &r);
	assert_int_equal(r.count, 0);
	maps_result_free(&r);
}

static void test_smaps_self(void **state)
{
	struct maps_result r, plain;
	const struct proc_smaps *sm;

	maps_collect("smaps-self", true, &r);
	assert_int_equal(r.count, 32);
	for (unsigned i = 0; i < r.count; i++) {
		assert_int_equal(r.rc[i], 0);
		assert_true(r.sm[i].have_vmflags);
	}
	/* the headers are maps lines: same as maps-self, taken just before */
	maps_collect("maps-self", false, &plain);
	for (unsigned i = 0; i < r.count; i++) {
		assert_int_equal(r.map[i].start, plain.map[i].start);
		assert_int_equal(r.map[i].name.len, plain.map[i].name.len);
	}
	maps_result_free(&plain);

	sm = &r.sm[0];
	assert_int_equal(sm->size, 8 * 1024);
	assert_int_equal(sm->kernel_page_size, 4096);
	assert_int_equal(sm->rss, 8 * 1024);
	assert_int_equal(sm->pss, 4 * 1024);
	assert_int_equal(sm->shared_dirty, 8 * 1024);
	assert_int_equal(sm->private_dirty, 0);
	assert_int_equal(sm->referenced, 8 * 1024);
	assert_int_equal(sm->vmflags, PSS_LINUX_VM_READ);

	/* the MADV_DONTDUMP region, shared with a forked child at capture */
	sm = &r.sm[15];
	assert_int_equal(r.map[15].start, 0x7f65fa0b2000ull);
	assert_int_equal(sm->size, 12 * 1024);
	assert_int_equal(sm->rss, 4 * 1024);
	assert_int_equal(sm->pss, 2 * 1024);
	assert_int_equal(sm->shared_dirty, 4 * 1024);
	assert_int_equal(sm->anonymous, 4 * 1024);
	assert_int_equal(sm->vmflags, PSS_LINUX_VM_READ | PSS_LINUX_VM_WRITE |
			 PSS_LINUX_VM_ACCOUNT | PSS_LINUX_VM_DONTDUMP);

	assert_int_equal(r.sm[16].vmflags, PSS_LINUX_VM_READ | PSS_LINUX_VM_SHARED |
			 PSS_LINUX_VM_MAYSHARE);
	assert_str_equal_n(r.map[16].name, "/tmp/cap/twice (deleted)");
	assert_str_equal_n(r.map[20].name, "/tmp/cap/fx dir/a b");
	assert_int_equal(r.sm[20].size, 8 * 1024);
	assert_int_equal(r.sm[20].rss, 0);

	/* [vvar]: rd mr pf io de dd */
	assert_int_equal(r.sm[22].vmflags, PSS_LINUX_VM_READ | PSS_LINUX_VM_PFNMAP |
			 PSS_LINUX_VM_IO | PSS_LINUX_VM_DONTDUMP);
	/* [stack]: rd wr mr mw me gd ac */
	assert_int_equal(r.sm[30].vmflags, PSS_LINUX_VM_READ | PSS_LINUX_VM_WRITE |
			 PSS_LINUX_VM_GROWSDOWN | PSS_LINUX_VM_ACCOUNT);
	/* [vsyscall]: ex */
	assert_int_equal(r.sm[31].vmflags, PSS_LINUX_VM_EXEC);
	maps_result_free(&r);
}

static void test_smaps_hostile(void **state)
{
	static const int want[] = { -EINVAL, 0, -EINVAL, 0, -EINVAL, -EINVAL, -EINVAL };
	struct maps_result r;

	maps_collect("smaps-hostile", true, &r);
	assert_int_equal(r.count, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < r.count; i++)
		if (r.rc[i] != want[i])
			fail_msg("entry %u: %d, want %d", i, r.rc[i], want[i]);

	assert_str_equal_n(r.map[1].name, "/bin/x");
	assert_int_equal(r.sm[1].size, 4096);
	assert_int_equal(r.sm[1].rss, 4096);
	assert_true(r.sm[1].have_vmflags);
	assert_int_equal(r.sm[1].vmflags, PSS_LINUX_VM_READ | PSS_LINUX_VM_EXEC |
			 PSS_LINUX_VM_DROPPABLE | PSS_LINUX_VM_SHADOW_STACK | PSS_LINUX_VM_SEALED);

	assert_int_equal(r.map[3].start, 0x402000);
	assert_false(r.sm[3].have_vmflags);
	assert_int_equal(r.sm[3].vmflags, 0);
	assert_true(r.sm[3].size == 18014398509481983ull * 1024);
	assert_true(r.sm[3].locked == 18014398509481983ull * 1024);
	assert_int_equal(r.sm[3].rss, 0);
	maps_result_free(&r);

	/* NULL smaps is allowed */
	{
		struct proc_maps_iter it;
		struct proc_map m;
		size_t len;
		char *buf = fixture_load("smaps-self", &len);
		unsigned n = 0;

		proc_maps_iter_init(&it, buf, len);
		while (proc_smaps_next(&it, &m, NULL) == 0)
			n++;
		assert_int_equal(n, 32);
		free(buf);
	}
}

static void test_rollup(void **state)
{
	struct proc_smaps sm, before;
	size_t len;
	char *buf = fixture_load("smaps_rollup-self", &len);

	assert_int_equal(proc_smaps_rollup_parse(buf, len, &sm), 0);
	free(buf);
	assert_int_equal(sm.rss, 1636 * 1024);
	assert_int_equal(sm.pss, 407 * 1024);
	assert_int_equal(sm.shared_clean, 1484 * 1024);
	assert_int_equal(sm.shared_dirty, 72 * 1024);
	assert_int_equal(sm.private_clean, 0);
	assert_int_equal(sm.private_dirty, 80 * 1024);
	assert_int_equal(sm.referenced, 1636 * 1024);
	assert_int_equal(sm.anonymous, 132 * 1024);
	assert_int_equal(sm.swap, 0);
	assert_int_equal(sm.size, 0);		/* rollup has no Size: */
	assert_false(sm.have_vmflags);

	static const char *bad[] = {
		"smaps_rollup-garbage", "smaps_rollup-empty", "smaps_rollup-bad-counter",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&before, 0x5a, sizeof(before));
		sm = before;
		buf = fixture_load(bad[i], &len);
		assert_int_equal(proc_smaps_rollup_parse(buf, len, &sm), -EINVAL);
		assert_memory_equal(&sm, &before, sizeof(sm));
		free(buf);
	}
}

static void test_unescape(void **state)
{
	static const char raw[] = "/tmp/new\\012line\\01\\\\012";
	struct proc_str s = { raw, sizeof(raw) - 1 };
	char out[64];
	size_t n;

	n = proc_map_name_unescape(s, out, sizeof(out));
	assert_int_equal(n, 18);
	assert_memory_equal(out, "/tmp/new\nline\\01\\\n", 18);
	/* truncated at cap, never written past it */
	memset(out, 'X', sizeof(out));
	n = proc_map_name_unescape(s, out, 9);
	assert_int_equal(n, 9);
	assert_memory_equal(out, "/tmp/new\n", 9);
	assert_int_equal(out[9], 'X');
	n = proc_map_name_unescape(s, out, 0);
	assert_int_equal(n, 0);
	/* a trailing partial escape stays as it is */
	s.p = "a\\01";
	s.len = 4;
	n = proc_map_name_unescape(s, out, sizeof(out));
	assert_int_equal(n, 4);
	assert_memory_equal(out, "a\\01", 4);
	s.p = NULL;
	s.len = 0;
	assert_int_equal(proc_map_name_unescape(s, out, sizeof(out)), 0);
}

/* Partial unescapes: the candidates the VA-space facet stats. */
static void test_name_variant(void **state)
{
	static const char raw[] = "/a\\012b\\01\\012c\\012";
	struct proc_str s = { raw, sizeof(raw) - 1 };
	char out[64], big[300];
	size_t n;

	assert_int_equal(proc_map_name_escapes(s), 3);
	n = proc_map_name_variant(s, 0, out, sizeof(out));
	assert_int_equal(n, s.len);
	assert_memory_equal(out, raw, n);
	n = proc_map_name_variant(s, 1, out, sizeof(out));
	assert_int_equal(n, 16);
	assert_memory_equal(out, "/a\nb\\01\\012c\\012", 16);
	n = proc_map_name_variant(s, 2, out, sizeof(out));
	assert_int_equal(n, 16);
	assert_memory_equal(out, "/a\\012b\\01\nc\\012", 16);
	n = proc_map_name_variant(s, 7, out, sizeof(out));
	assert_int_equal(n, proc_map_name_unescape(s, big, sizeof(big)));
	assert_memory_equal(out, big, n);
	/* never past cap */
	memset(out, 'X', sizeof(out));
	n = proc_map_name_variant(s, 1, out, 3);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "/a\nX", 4);
	/* a partial escape is no escape */
	s.p = "\\01\\\\012";
	s.len = 8;
	assert_int_equal(proc_map_name_escapes(s), 1);
	n = proc_map_name_variant(s, 1, out, sizeof(out));
	assert_int_equal(n, 5);
	assert_memory_equal(out, "\\01\\\n", 5);
	/* escapes past the 64th stay as they are */
	for (int i = 0; i < 66; i++)
		memcpy(big + 4 * i, "\\012", 4);
	s.p = big;
	s.len = 4 * 66;
	assert_int_equal(proc_map_name_escapes(s), 66);
	n = proc_map_name_variant(s, UINT64_MAX, out, sizeof(out));
	assert_int_equal(n, sizeof(out));
	{
		char *wide = malloc(s.len);

		assert_non_null(wide);
		n = proc_map_name_variant(s, UINT64_MAX, wide, s.len);
		assert_int_equal(n, 64 + 8);
		assert_memory_equal(wide + 64, "\\012\\012", 8);
		free(wide);
	}
	s.p = NULL;
	s.len = 0;
	assert_int_equal(proc_map_name_escapes(s), 0);
	assert_int_equal(proc_map_name_variant(s, 1, out, sizeof(out)), 0);
}

static void test_vmflags(void **state)
{
	static const struct {
		const char *text;
		uint64_t bits;
	} cases[] = {
		{ "dd dc wf io pf lo ht sh ac gd mm hg nh mg sd ss rd wr ex ms sl dp",
		  (1ull << 22) - 1 },
		{ "", 0 },
		{ "   ", 0 },
		{ "rd", PSS_LINUX_VM_READ },
		{ "rdwr ex", PSS_LINUX_VM_EXEC },
		{ "r wr  xx mr mw me de um uw ", PSS_LINUX_VM_WRITE },
		{ "\tsd\t", PSS_LINUX_VM_SOFTDIRTY },
		{ "lo\n", PSS_LINUX_VM_LOCKED },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].text);
		char *b = prefix_dup(cases[i].text, n);

		assert_int_equal(proc_vmflags_parse(b, n), cases[i].bits);
		free(b);
	}
	/* a flag cut in half is not the flag */
	assert_int_equal(proc_vmflags_parse("rd w", 4), PSS_LINUX_VM_READ);
}

static void prefixes_of(const char *name, bool smaps)
{
	size_t len;
	char *buf = fixture_load(name, &len);

	for (size_t n = 0; n <= len; n++) {
		char *p = prefix_dup(buf, n);
		struct proc_maps_iter it;
		struct proc_map m;
		struct proc_smaps sm;
		size_t steps = 0;
		int rc;

		proc_maps_iter_init(&it, p, n);
		do {
			rc = smaps ? proc_smaps_next(&it, &m, &sm) : proc_maps_next(&it, &m);
			assert_parser_rc(rc);
			if (!rc) {
				assert_true(m.name.p >= p && m.name.p + m.name.len <= p + n);
				assert_true(m.start <= m.end);
			}
			assert_true(it.pos <= n);
			assert_true(++steps <= n + 1);	/* always progresses */
		} while (rc != -ENOENT);
		if (smaps)
			assert_parser_rc(proc_smaps_rollup_parse(p, n, &sm));
		free(p);
	}
	free(buf);
}

static void test_prefixes(void **state)
{
	prefixes_of("maps-self", false);
	prefixes_of("maps-hostile", false);
	prefixes_of("smaps-self", true);
	prefixes_of("smaps-hostile", true);
	prefixes_of("smaps_rollup-self", true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_self),
		{ "row53_maps_hostile", test_maps_hostile, NULL, NULL, NULL },
		cmocka_unit_test(test_smaps_self),
		cmocka_unit_test(test_smaps_hostile),
		cmocka_unit_test(test_rollup),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_name_variant),
		cmocka_unit_test(test_vmflags),
		cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
