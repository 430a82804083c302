// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/PID/status parser: one "Key:\tvalue" per line.  A table maps the
 * keys we want to a value kind and a member; unknown keys are skipped, so
 * new kernel lines cost nothing.  A known key whose value does not parse
 * makes the whole text -EINVAL: a half-read status is worse than none.
 * The text must hold "Name:" and "Pid:" (every kernel prints both), which
 * also rejects empty and foreign text.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "proc/proc.h"
#include "proc/scan.h"

enum status_kind {
	K_NAME,		/* Name: with escapes */
	K_STATE,	/* first letter */
	K_S32,
	K_U32,
	K_U64,
	K_KB,		/* "N kB" -> bytes, sets have_vm */
	K_SIG,		/* 16 hex digits, sets have_sig */
	K_HEX,
	K_IDS,		/* 4 u32 */
	K_NSPID,	/* list of s32 */
};

struct status_key {
	const char *name;
	unsigned char kind;
	unsigned short off;
};

#define K(name, kind, member) { name, kind, offsetof(struct proc_status, member) }

static const struct status_key status_keys[] = {
	K("Name", K_NAME, name),
	K("State", K_STATE, state),
	K("Tgid", K_S32, tgid),
	K("Ngid", K_S32, ngid),
	K("Pid", K_S32, pid),
	K("PPid", K_S32, ppid),
	K("TracerPid", K_S32, tracer_pid),
	K("Uid", K_IDS, uid),
	K("Gid", K_IDS, gid),
	K("FDSize", K_U32, fdsize),
	K("NSpid", K_NSPID, nspid),
	K("VmPeak", K_KB, vm_peak),
	K("VmSize", K_KB, vm_size),
	K("VmLck", K_KB, vm_lck),
	K("VmPin", K_KB, vm_pin),
	K("VmHWM", K_KB, vm_hwm),
	K("VmRSS", K_KB, vm_rss),
	K("RssAnon", K_KB, rss_anon),
	K("RssFile", K_KB, rss_file),
	K("RssShmem", K_KB, rss_shmem),
	K("VmData", K_KB, vm_data),
	K("VmStk", K_KB, vm_stk),
	K("VmExe", K_KB, vm_exe),
	K("VmLib", K_KB, vm_lib),
	K("VmPTE", K_KB, vm_pte),
	K("VmSwap", K_KB, vm_swap),
	K("Threads", K_U32, threads),
	K("SigPnd", K_SIG, sig_pnd),
	K("ShdPnd", K_SIG, shd_pnd),
	K("SigBlk", K_SIG, sig_blk),
	K("SigIgn", K_SIG, sig_ign),
	K("SigCgt", K_SIG, sig_cgt),
	K("CapInh", K_HEX, cap_inh),
	K("CapPrm", K_HEX, cap_prm),
	K("CapEff", K_HEX, cap_eff),
	K("CapBnd", K_HEX, cap_bnd),
	K("CapAmb", K_HEX, cap_amb),
	K("NoNewPrivs", K_S32, no_new_privs),
	K("Seccomp", K_S32, seccomp),
	K("Seccomp_filters", K_S32, seccomp_filters),
	K("voluntary_ctxt_switches", K_U64, voluntary_ctxt_switches),
	K("nonvoluntary_ctxt_switches", K_U64, nonvoluntary_ctxt_switches),
};

#undef K

/*
 * Undo the escapes of "Name:": since Linux 4.x the kernel prints the comm
 * with '\n' as the two bytes "\n" and '\\' as "\\" (other bytes, tabs and
 * non-UTF-8 included, come raw).  Truncates at 63 bytes; out stays
 * NUL-terminated.
 */
static size_t status_name_unescape(const struct scan *v, char out[64])
{
	size_t i, n = 0;

	for (i = v->pos; i < v->len && n < 63; i++) {
		char c = v->buf[i];

		if (c == '\\' && i + 1 < v->len) {
			if (v->buf[i + 1] == 'n') {
				c = '\n';
				i++;
			} else if (v->buf[i + 1] == '\\') {
				i++;
			}
		}
		out[n++] = c;
	}
	out[n] = '\0';
	return n;
}

/* "N kB" into bytes. */
static int status_kb_scan(struct scan *v, uint64_t *ret)
{
	uint64_t kb;

	if (scan_u64(v, &kb) || kb > UINT64_MAX / 1024)
		return -EINVAL;
	scan_blanks(v);
	if (!scan_lit(v, "kB", 2))
		return -EINVAL;
	*ret = kb * 1024;
	return 0;
}

/* "NSpid:\t12\t1": at most PROC_NSPID_MAX levels are kept. */
static int status_nspid_scan(struct scan *v, struct proc_status *st)
{
	int32_t pid;

	st->nspid_count = 0;
	while (!scan_eof(v)) {
		if (scan_s32(v, &pid))
			return -EINVAL;
		if (st->nspid_count < PROC_NSPID_MAX)
			st->nspid[st->nspid_count++] = pid;
		scan_blanks(v);
	}
	return st->nspid_count ? 0 : -EINVAL;
}

/* Parse the value @v of @k into @st; the value must fill the line. */
static int status_value_scan(const struct status_key *k, struct scan *v, struct proc_status *st)
{
	char *dst = (char *)st + k->off;
	uint64_t u;
	int32_t i32;
	uint32_t u32;
	int i;

	/* Name: is "Name:\t" and the raw comm, which may itself start with a blank */
	if (k->kind == K_NAME)
		scan_char(v, '\t');
	else
		scan_blanks(v);
	switch (k->kind) {
	case K_NAME:
		st->name_len = status_name_unescape(v, st->name);
		return 0;
	case K_STATE:
		if (scan_eof(v))
			return -EINVAL;
		st->state = v->buf[v->pos];
		return 0;
	case K_S32:
		if (scan_s32(v, &i32))
			return -EINVAL;
		memcpy(dst, &i32, sizeof(i32));
		break;
	case K_U32:
		if (scan_u32_base(v, 10, &u32))
			return -EINVAL;
		memcpy(dst, &u32, sizeof(u32));
		break;
	case K_IDS:
		for (i = 0; i < 4; i++) {
			if (scan_u32_base(v, 10, &u32))
				return -EINVAL;
			memcpy(dst + i * sizeof(u32), &u32, sizeof(u32));
			scan_blanks(v);
		}
		break;
	case K_NSPID:
		return status_nspid_scan(v, st);
	case K_KB:
		if (status_kb_scan(v, &u))
			return -EINVAL;
		memcpy(dst, &u, sizeof(u));
		st->have_vm = true;
		break;
	case K_SIG:
	case K_HEX:
		if (scan_x64(v, &u))
			return -EINVAL;
		memcpy(dst, &u, sizeof(u));
		if (k->kind == K_SIG)
			st->have_sig = true;
		break;
	default:
		if (scan_u64(v, &u))
			return -EINVAL;
		memcpy(dst, &u, sizeof(u));
		break;
	}
	return scan_only_space(v) ? 0 : -EINVAL;
}

static const struct status_key *status_key_find(const struct scan *key)
{
	for (size_t i = 0; i < sizeof(status_keys) / sizeof(status_keys[0]); i++)
		if (scan_is(key, status_keys[i].name))
			return &status_keys[i];
	return NULL;
}

/*
 * Parse a whole status text into @ret (written only on success).  Lines
 * without a ':' are tolerated only when empty.
 */
int proc_status_parse(const char *buf, size_t len, struct proc_status *ret)
{
	struct proc_status st = { .seccomp = -1, .seccomp_filters = -1 };
	const struct status_key *k;
	struct scan s, line, key;
	bool have_name = false, have_pid = false;

	scan_init(&s, buf, len);
	while (scan_line(&s, &line)) {
		if (!line.len)
			continue;
		if (!scan_key(&line, &key))
			return -EINVAL;
		k = status_key_find(&key);
		if (!k)
			continue;
		if (status_value_scan(k, &line, &st))
			return -EINVAL;
		have_name |= k->kind == K_NAME;
		have_pid |= k->off == offsetof(struct proc_status, pid);
	}
	if (!have_name || !have_pid)
		return -EINVAL;
	*ret = st;
	return 0;
}
