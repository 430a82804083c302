// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/PID/maps, smaps and smaps_rollup.  A mapping's header line is
 *
 *	start-end perms offset major:minor inode[ padding name]
 *
 * (fs/proc/task_mmu.c show_map_vma(): the name is padded to a column and
 * absent for plain anonymous memory, which leaves one trailing space).
 * The name runs to the end of the line and may hold spaces; the kernel
 * writes a '\n' inside a path as the four bytes "\012" (mangle_path) and
 * appends " (deleted)" to unlinked files.  Neither is reversible in
 * general: a file may really be called "x (deleted)" or contain the four
 * bytes "\012" (a backslash is printed as it is), so the name is kept raw
 * and the deleted flag is a hint; vaspace.c decides both with stat().
 *
 * In smaps each header is followed by "Key:   N kB" lines and "VmFlags:";
 * a line starting "hex-hex " begins the next mapping.  A bad line makes
 * its whole mapping -EINVAL, and the iterator then stands on the next
 * header, so one damaged entry does not hide the rest.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <pss/pss-linux.h>

#include "proc/proc.h"
#include "proc/scan.h"

void proc_maps_iter_init(struct proc_maps_iter *it, const char *buf, size_t len)
{
	it->buf = buf;
	it->len = len;
	it->pos = 0;
}

/* Does @line start with "hex-hex "?  That is what makes a header. */
static bool maps_line_is_header(const struct scan *line)
{
	struct scan s = *line;
	uint64_t v;

	return !scan_x64(&s, &v) && scan_char(&s, '-') && !scan_x64(&s, &v) && scan_char(&s, ' ');
}

/* The four permission letters "rwxp" / "r--s". */
static int maps_perms_scan(struct scan *s, struct proc_map *m)
{
	static const char want[3] = { 'r', 'w', 'x' };
	int i, c;

	for (i = 0; i < 3; i++) {
		c = scan_peek(s);
		if (c == want[i])
			m->prot |= 1u << i;
		else if (c != '-')
			return -EINVAL;
		s->pos++;
	}
	if (scan_char(s, 's'))
		m->shared = true;
	else if (!scan_char(s, 'p'))
		return -EINVAL;
	return 0;
}

/* Parse one header line (no '\n') into @ret, written only on success. */
static int maps_header_parse(struct scan *s, struct proc_map *ret)
{
	static const char deleted[] = " (deleted)";
	const size_t dlen = sizeof(deleted) - 1;
	struct proc_map m = { 0 };

	if (scan_x64(s, &m.start) || !scan_char(s, '-') || scan_x64(s, &m.end) ||
	    !scan_char(s, ' ') || maps_perms_scan(s, &m) || !scan_char(s, ' ') ||
	    scan_x64(s, &m.offset) || !scan_char(s, ' ') ||
	    scan_u32_base(s, 16, &m.dev_major) || !scan_char(s, ':') ||
	    scan_u32_base(s, 16, &m.dev_minor) || !scan_char(s, ' ') ||
	    scan_u64(s, &m.inode))
		return -EINVAL;
	if (m.end < m.start)
		return -EINVAL;
	if (!scan_eof(s) && !scan_blanks(s))
		return -EINVAL;
	/* the padding is spaces only; a name never starts with one (it is a
	 * path, "[heap]", "[anon:...]" or "/memfd:...") */
	m.name.p = s->buf + s->pos;
	m.name.len = s->len - s->pos;
	if (m.name.len >= dlen && !memcmp(m.name.p + m.name.len - dlen, deleted, dlen)) {
		m.name.len -= dlen;
		m.deleted = true;
	}
	*ret = m;
	return 0;
}

/*
 * Next line of maps text.  Returns 0, -ENOENT at the end, or -EINVAL for a
 * line that is not a mapping (the iterator has moved past it).
 */
int proc_maps_next(struct proc_maps_iter *it, struct proc_map *ret)
{
	struct scan s, line;

	scan_init(&s, it->buf, it->len);
	s.pos = it->pos;
	if (!scan_line(&s, &line))
		return -ENOENT;
	it->pos = s.pos;
	return maps_header_parse(&line, ret);
}

struct smaps_key {
	const char *name;
	unsigned short off;
};

#define K(name, member) { name, offsetof(struct proc_smaps, member) }

/* The "N kB" counters we keep; others (THPeligible, ProtectionKey, KSM,
 * Pss_Dirty, ...) are skipped whatever they hold. */
static const struct smaps_key smaps_keys[] = {
	K("Size", size),
	K("KernelPageSize", kernel_page_size),
	K("Rss", rss),
	K("Pss", pss),
	K("Shared_Clean", shared_clean),
	K("Shared_Dirty", shared_dirty),
	K("Private_Clean", private_clean),
	K("Private_Dirty", private_dirty),
	K("Referenced", referenced),
	K("Anonymous", anonymous),
	K("Swap", swap),
	K("SwapPss", swap_pss),
	K("Locked", locked),
	K("AnonHugePages", anon_huge_pages),
	K("ShmemPmdMapped", shmem_pmd_mapped),
	K("FilePmdMapped", file_pmd_mapped),
};

#undef K

/* One "Key: N kB" or "VmFlags: .." line of an smaps entry. */
static int smaps_counter_parse(struct scan *line, struct proc_smaps *sm)
{
	struct scan key;
	uint64_t kb;

	if (!scan_key(line, &key))
		return -EINVAL;
	if (scan_is(&key, "VmFlags")) {
		sm->vmflags = proc_vmflags_parse(line->buf + line->pos, line->len - line->pos);
		sm->have_vmflags = true;
		return 0;
	}
	for (size_t i = 0; i < sizeof(smaps_keys) / sizeof(smaps_keys[0]); i++) {
		if (!scan_is(&key, smaps_keys[i].name))
			continue;
		scan_blanks(line);
		if (scan_u64(line, &kb) || kb > UINT64_MAX / 1024)
			return -EINVAL;
		scan_blanks(line);
		if (!scan_lit(line, "kB", 2) || !scan_only_space(line))
			return -EINVAL;
		kb *= 1024;
		memcpy((char *)sm + smaps_keys[i].off, &kb, sizeof(kb));
		return 0;
	}
	return 0;
}

/*
 * Next mapping of smaps text: its header into @ret and its counters into
 * @smaps (may be NULL).  Both are written only on success.  Returns 0,
 * -ENOENT at the end, or -EINVAL when the header or one of its lines is
 * bad; the iterator then stands on the next header line.
 */
int proc_smaps_next(struct proc_maps_iter *it, struct proc_map *ret, struct proc_smaps *smaps)
{
	struct proc_smaps sm = { 0 };
	struct proc_map m;
	struct scan s, line;
	size_t at;
	int err;

	scan_init(&s, it->buf, it->len);
	s.pos = it->pos;
	if (!scan_line(&s, &line))
		return -ENOENT;
	err = maps_header_parse(&line, &m);
	for (;;) {
		at = s.pos;
		if (!scan_line(&s, &line))
			break;
		if (maps_line_is_header(&line)) {
			s.pos = at;
			break;
		}
		if (!err)
			err = smaps_counter_parse(&line, &sm);
	}
	it->pos = s.pos;
	if (err)
		return err;
	*ret = m;
	if (smaps)
		*smaps = sm;
	return 0;
}

/* /proc/PID/smaps_rollup: one "[rollup]" header and the summed counters. */
int proc_smaps_rollup_parse(const char *buf, size_t len, struct proc_smaps *ret)
{
	struct proc_maps_iter it;
	struct proc_map m;

	proc_maps_iter_init(&it, buf, len);
	return proc_smaps_next(&it, &m, ret) ? -EINVAL : 0;
}

/* Copy @name into @out (@cap bytes), turning the "\012" escapes into '\n':
 * all of them with @all, else escape number i (0-based) when bit i of @mask
 * is set (escapes past the 64th stay as they are). */
static size_t map_name_copy(struct proc_str name, bool all, uint64_t mask, char *out, size_t cap)
{
	size_t i, n = 0;
	unsigned k = 0;

	for (i = 0; i < name.len && n < cap; i++) {
		if (name.p[i] == '\\' && name.len - i >= 4 && !memcmp(name.p + i, "\\012", 4)) {
			bool turn = all || (k < 64 && (mask >> k & 1));

			k++;
			if (turn) {
				out[n++] = '\n';
				i += 3;
				continue;
			}
		}
		out[n++] = name.p[i];
	}
	return n;
}

/* Turn each "\012" of a maps name back into '\n'; other bytes are copied. */
size_t proc_map_name_unescape(struct proc_str name, char *out, size_t cap)
{
	return map_name_copy(name, true, 0, out, cap);
}

size_t proc_map_name_variant(struct proc_str name, uint64_t mask, char *out, size_t cap)
{
	return map_name_copy(name, false, mask, out, cap);
}

unsigned proc_map_name_escapes(struct proc_str name)
{
	unsigned k = 0;

	for (size_t i = 0; i + 4 <= name.len; i++) {
		if (name.p[i] == '\\' && !memcmp(name.p + i, "\\012", 4)) {
			k++;
			i += 3;
		}
	}
	return k;
}

struct vmflag {
	char name[3];
	uint64_t bit;
};

/* fs/proc/task_mmu.c show_smap_vma_flags() mnemonics that pss-linux.h names. */
static const struct vmflag vmflags[] = {
	{ "dd", PSS_LINUX_VM_DONTDUMP }, { "dc", PSS_LINUX_VM_DONTCOPY },
	{ "wf", PSS_LINUX_VM_WIPEONFORK }, { "io", PSS_LINUX_VM_IO },
	{ "pf", PSS_LINUX_VM_PFNMAP }, { "lo", PSS_LINUX_VM_LOCKED },
	{ "ht", PSS_LINUX_VM_HUGETLB }, { "sh", PSS_LINUX_VM_SHARED },
	{ "ac", PSS_LINUX_VM_ACCOUNT }, { "gd", PSS_LINUX_VM_GROWSDOWN },
	{ "mm", PSS_LINUX_VM_MIXEDMAP }, { "hg", PSS_LINUX_VM_HUGEPAGE },
	{ "nh", PSS_LINUX_VM_NOHUGEPAGE }, { "mg", PSS_LINUX_VM_MERGEABLE },
	{ "sd", PSS_LINUX_VM_SOFTDIRTY }, { "ss", PSS_LINUX_VM_SHADOW_STACK },
	{ "rd", PSS_LINUX_VM_READ }, { "wr", PSS_LINUX_VM_WRITE },
	{ "ex", PSS_LINUX_VM_EXEC }, { "ms", PSS_LINUX_VM_MAYSHARE },
	{ "sl", PSS_LINUX_VM_SEALED }, { "dp", PSS_LINUX_VM_DROPPABLE },
};

/* "rd wr mr mw me ac sd " into PSS_LINUX_VM_* bits; unknown words are ignored. */
uint64_t proc_vmflags_parse(const char *s, size_t len)
{
	uint64_t bits = 0;
	size_t i = 0, start;

	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
			i++;
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\n')
			i++;
		if (i - start != 2)
			continue;
		for (size_t k = 0; k < sizeof(vmflags) / sizeof(vmflags[0]); k++)
			if (s[start] == vmflags[k].name[0] && s[start + 1] == vmflags[k].name[1])
				bits |= vmflags[k].bit;
	}
	return bits;
}
