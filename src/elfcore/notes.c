// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The notes of the core, in the kernel's order (fs/binfmt_elf.c:
 * write_note_info(); checked on a 6.18 core, research 4.2):
 *
 *   first thread (the leader):  CORE NT_PRSTATUS (336)   CORE NT_PRPSINFO (136)
 *                               CORE NT_SIGINFO (128)    CORE NT_AUXV
 *                               CORE NT_FILE             CORE NT_PRFPREG (512)
 *                               LINUX NT_X86_XSTATE (the XSAVE image)
 *   every other thread:         NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE
 *   once, at the end:           LINUX NT_X86_XSAVE_LAYOUT (CPUID leaf 0xd)
 *
 * Each note: Elf64_Nhdr {namesz, descsz, type}, the owner NUL-terminated
 * and padded to 4, the descriptor padded to 4.
 *
 * NT_FILE (fill_files_note()):
 *   long count; long page_size;
 *   struct { long start, end, file_ofs_in_pages; } files[count];
 *   char names[]: count NUL-terminated paths, in the same order
 * with one entry per file-backed mapping, dumped or not.
 *
 * A live snapshot has no signal: si_signo, pr_cursig and NT_SIGINFO are 0.
 * Registers are the raw ones of the stop (rax may be -ERESTART*), as the
 * kernel records them inside get_signal().
 */
#include "elfcore/elfcore.h"
#include <cpuid.h>

_Static_assert(sizeof(struct elf_prstatus) == 336, "elf_prstatus is the kernel's");
_Static_assert(sizeof(struct elf_prpsinfo) == 136, "elf_prpsinfo is the kernel's");
_Static_assert(sizeof(elf_gregset_t) == sizeof(struct user_regs_struct), "pr_reg");
_Static_assert(sizeof(struct user_fpregs_struct) == 512, "FXSAVE");

#define SIGINFO_SIZE 128
#define PRARGSZ 80	/* ELF_PRARGSZ */

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static int note(ec_emit_fn emit, void *ctx, const char *owner, uint32_t type, const void *desc,
		size_t len)
{
	static const char zeros[4];
	Elf64_Nhdr nh;
	char name[8] = { 0 };
	size_t namesz = strlen(owner) + 1;
	int err;

	nh.n_namesz = (Elf64_Word)namesz;
	nh.n_descsz = (Elf64_Word)len;
	nh.n_type = type;
	memcpy(name, owner, namesz);
	err = emit(ctx, &nh, sizeof(nh));
	if (!err)
		err = emit(ctx, name, pad4(namesz));
	if (!err && len)
		err = emit(ctx, desc, len);
	if (!err && pad4(len) != len)
		err = emit(ctx, zeros, pad4(len) - len);
	return err;
}

static struct timeval tv_from_ns(uint64_t ns)
{
	return (struct timeval){ .tv_sec = (time_t)(ns / 1000000000ull),
				 .tv_usec = (suseconds_t)(ns % 1000000000ull / 1000) };
}

/* fill_prstatus(): the leader carries the whole group's CPU times. */
void ec_fill_prstatus(const struct ec_core *c, const struct pss_thread *t, struct elf_prstatus *out)
{
	const struct pss_snapshot *s = c->s;
	uint64_t ut = t->utime_ns, st = t->stime_ns;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->pr_sigpend = t->sig_pnd;
	out->pr_sighold = t->have_regs ? t->r.sigmask : t->sig_blk;
	out->pr_pid = t->tid;
	out->pr_ppid = s->li.ppid;
	out->pr_pgrp = s->li.pgrp;
	out->pr_sid = s->li.sid;
	if (t->tid == s->pid) {
		ut = st = 0;
		for (i = 0; i < s->nthreads; i++) {
			ut += s->threads[i].utime_ns;
			st += s->threads[i].stime_ns;
		}
	}
	out->pr_utime = tv_from_ns(ut);
	out->pr_stime = tv_from_ns(st);
	memcpy(out->pr_reg, &t->r.regs, sizeof(out->pr_reg));
	out->pr_fpvalid = 1;
}

/* fill_psinfo(): pr_state is the index of the state letter in "RSDTZW". */
void ec_fill_prpsinfo(const struct pss_snapshot *s, struct elf_prpsinfo *out)
{
	static const char states[] = "RSDTZW";
	const char *p;
	char st = s->li.state == 't' ? 'T' : s->li.state;
	size_t len = MIN(s->li.cmdline_len, (size_t)PRARGSZ - 1), i;

	memset(out, 0, sizeof(*out));
	p = st ? strchr(states, st) : NULL;
	out->pr_state = p ? (char)(p - states) : 1;
	out->pr_sname = states[(int)out->pr_state];
	out->pr_zomb = out->pr_sname == 'Z';
	out->pr_nice = (char)s->li.nice;
	out->pr_uid = s->li.uid;
	out->pr_gid = s->li.gid;
	out->pr_pid = s->li.pid;
	out->pr_ppid = s->li.ppid;
	out->pr_pgrp = s->li.pgrp;
	out->pr_sid = s->li.sid;
	memcpy(out->pr_fname, s->li.comm, MIN(strlen(s->li.comm), sizeof(out->pr_fname)));
	/* argv with its NULs turned into spaces, at most 79 bytes, as the
	 * kernel copies it (the last argument's NUL becomes a space too). */
	if (s->li.cmdline)
		memcpy(out->pr_psargs, s->li.cmdline, len);
	for (i = 0; i < len; i++)
		if (out->pr_psargs[i] == '\0')
			out->pr_psargs[i] = ' ';
}

int ec_file_note_build(struct ec_core *c)
{
	static const char del[] = " (deleted)";
	size_t i, count = 0, size = 2 * sizeof(uint64_t), k = 0;
	uint64_t *w;
	char *names;

	for (i = 0; i < c->nmaps; i++) {
		if (!c->maps[i].file)
			continue;
		count++;
		size += 3 * sizeof(uint64_t) + strlen(c->maps[i].name) + 1 +
			(c->maps[i].deleted ? sizeof(del) - 1 : 0);
	}
	if (!count)
		return 0;
	c->file_note = pss_calloc(1, size);
	if (!c->file_note)
		return -ENOMEM;
	w = c->file_note;
	w[0] = count;
	w[1] = EC_PAGE;
	names = (char *)(w + 2 + 3 * count);
	for (i = 0; i < c->nmaps; i++) {
		const struct ec_map *m = &c->maps[i];
		size_t n = strlen(m->name);

		if (!m->file)
			continue;
		w[2 + 3 * k] = m->start;
		w[3 + 3 * k] = m->end;
		w[4 + 3 * k] = m->pgoff / EC_PAGE;
		k++;
		memcpy(names, m->name, n);
		names += n;
		if (m->deleted) {
			memcpy(names, del, sizeof(del) - 1);
			names += sizeof(del) - 1;
		}
		*names++ = '\0';
	}
	c->file_note_len = size;
	return 0;
}

/* dump_xsave_layout_desc(): one record per extended feature (2..63) of the
 * image's XCR0 (the kernel stores its user features at byte 464). */
void ec_xfeat_build(struct ec_core *c, const uint8_t *xstate, size_t len)
{
	unsigned eax, ebx, ecx, edx, i;
	uint64_t xcr0;

	c->nxfeat = 0;
	if (!xstate || len < 472)
		return;
	memcpy(&xcr0, xstate + 464, sizeof(xcr0));
	for (i = 2; i < 64; i++) {
		if (!(xcr0 & (1ull << i)))
			continue;
		__cpuid_count(0xd, i, eax, ebx, ecx, edx);
		if (!eax || (uint64_t)ebx + eax > len)
			continue;
		c->xfeat[c->nxfeat++] = (struct ec_xfeat){ .type = i, .size = eax, .offset = ebx };
	}
	(void)ecx;
	(void)edx;
}

static int thread_notes(const struct ec_core *c, const struct pss_thread *t, bool first,
			ec_emit_fn emit, void *ctx)
{
	static const uint8_t siginfo[SIGINFO_SIZE];
	struct elf_prstatus prs;
	struct elf_prpsinfo psi;
	int err;

	ec_fill_prstatus(c, t, &prs);
	err = note(emit, ctx, "CORE", NT_PRSTATUS, &prs, sizeof(prs));
	if (!err && first) {
		ec_fill_prpsinfo(c->s, &psi);
		err = note(emit, ctx, "CORE", NT_PRPSINFO, &psi, sizeof(psi));
		if (!err)
			err = note(emit, ctx, "CORE", NT_SIGINFO, siginfo, sizeof(siginfo));
		if (!err && c->auxv_len)
			err = note(emit, ctx, "CORE", NT_AUXV, c->auxv, c->auxv_len);
		if (!err && c->file_note_len)
			err = note(emit, ctx, "CORE", NT_FILE, c->file_note, c->file_note_len);
	}
	if (!err)
		err = note(emit, ctx, "CORE", NT_PRFPREG, &t->r.fpregs, sizeof(t->r.fpregs));
	if (!err && t->r.xstate && t->r.xstate_len)
		err = note(emit, ctx, "LINUX", NT_X86_XSTATE, t->r.xstate, t->r.xstate_len);
	return err;
}

int ec_notes_emit(const struct ec_core *c, ec_emit_fn emit, void *ctx)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < c->nthreads; i++)
		err = thread_notes(c, c->threads[i], i == 0, emit, ctx);
	if (!err && c->nxfeat)
		err = note(emit, ctx, "LINUX", NT_X86_XSAVE_LAYOUT, c->xfeat,
			   c->nxfeat * sizeof(c->xfeat[0]));
	return err;
}

static int count_emit(void *ctx, const void *p, size_t len)
{
	*(uint64_t *)ctx += len;
	return 0;
}

uint64_t ec_notes_size(const struct ec_core *c)
{
	uint64_t n = 0;

	ec_notes_emit(c, count_emit, &n);
	return n;
}
