// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pss stacks: symbolized backtraces of every thread, unwound by elfutils'
 * libdwfl over the snapshot itself - the clone's memory and the registers
 * the threads had at the stop - not over a core written to disk.  The
 * target is paused only for the capture; the unwinding happens while it
 * runs on.
 *
 *   modules   dwfl_linux_proc_report on the clone: its map is the target's
 *             at the instant of the stop
 *   threads   Dwfl_Thread_Callbacks: next_thread walks the snapshot's
 *             threads, set_initial_registers gives their captured
 *             registers, memory_read reads the clone (pread /proc/CLONE/mem)
 *
 * Text is eu-stack's layout ("TID n:", then "#k 0xPC function+off - module
 * (file:line)"); --json gives the same frames as {"pid", "threads":
 * [{"tid", "name", "frames": [...]}]} (keys in pss(1)).
 */
#include "pss.h"
#include "json.h"
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FRAMES 256

/* libdwfl hands set_initial_registers only the thread's own argument: the
 * snapshot being unwound is kept here (one unwind at a time). */
static struct stack_ctx *current;

struct stack_ctx {
	HPSS snap;
	pid_t pid;
	int memfd;			/* /proc/CLONE/mem */
	DWORD *tids;
	size_t ntids;
	bool json;
};

static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct stack_ctx *c = arg;

	return pread(c->memfd, result, sizeof(*result), (off_t)addr) == (ssize_t)sizeof(*result);
}

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct stack_ctx *c = arg;
	size_t i = (size_t)(uintptr_t)*thread_argp;

	if (i >= c->ntids)
		return 0;
	*thread_argp = (void *)(uintptr_t)(i + 1);
	return (pid_t)c->tids[i];
}

/* DWARF register numbers of x86-64: rax rdx rcx rbx rsi rdi rbp rsp r8-r15, then rip (16). */
static bool cb_set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	struct stack_ctx *c = current;
	struct pss_linux_thread_info ti = { .sz = sizeof(ti) };
	Dwarf_Word regs[17];

	if (!c || pss_linux_query_thread(c->snap, dwfl_thread_tid(thread), &ti) || !ti.have_regs)
		return false;
	regs[0] = ti.regs.rax, regs[1] = ti.regs.rdx, regs[2] = ti.regs.rcx, regs[3] = ti.regs.rbx;
	regs[4] = ti.regs.rsi, regs[5] = ti.regs.rdi, regs[6] = ti.regs.rbp, regs[7] = ti.regs.rsp;
	regs[8] = ti.regs.r8, regs[9] = ti.regs.r9, regs[10] = ti.regs.r10, regs[11] = ti.regs.r11;
	regs[12] = ti.regs.r12, regs[13] = ti.regs.r13, regs[14] = ti.regs.r14, regs[15] = ti.regs.r15;
	regs[16] = ti.regs.rip;
	return dwfl_thread_state_registers(thread, 0, 17, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = cb_next_thread,
	.memory_read = cb_memory_read,
	.set_initial_registers = cb_set_initial_registers,
};

static int print_frame(Dwfl_Frame *frame, void *arg)
{
	int *n = arg;
	Dwarf_Addr pc, lookup;
	bool activation;
	Dwfl_Module *mod;
	const char *name = NULL, *modname = NULL, *file = NULL;
	Dwfl_Line *l = NULL;
	GElf_Off off = 0;
	GElf_Sym sym;
	int line = 0;

	if (!dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	/* A return address points after the call: look up the call itself. */
	lookup = activation ? pc : pc - 1;
	mod = dwfl_addrmodule(dwfl_thread_dwfl(dwfl_frame_thread(frame)), lookup);
	if (mod) {
		modname = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		name = dwfl_module_addrinfo(mod, lookup, &off, &sym, NULL, NULL, NULL);
		l = dwfl_module_getsrc(mod, lookup);
		if (l)
			file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
	}
	if (name && off)
		off += activation ? 0 : 1;
	if (current && current->json) {
		json_obj_begin();
		json_kv_int("n", *n);
		json_kv_uint("pc", (uint64_t)pc);
		json_key("function");
		name ? json_str(name) : json_null();
		json_kv_uint("offset", name ? (uint64_t)off : 0);
		json_key("module");
		modname ? json_str(modname) : json_null();
		json_key("file");
		file ? json_str(file) : json_null();
		json_key("line");
		file ? json_int(line) : json_null();
		json_obj_end();
	} else {
		printf("#%-2d 0x%016" PRIx64 " %s", *n, (uint64_t)pc, name ? name : "??");
		if (name && off)
			printf("+0x%" PRIx64, (uint64_t)off);
		if (modname)
			printf(" - %s", modname);
		if (file)
			printf(" (%s:%d)", file, line);
		putchar('\n');
	}
	if (++*n >= MAX_FRAMES)
		return DWARF_CB_ABORT;
	return DWARF_CB_OK;
}

static int print_thread(Dwfl_Thread *thread, void *arg)
{
	struct stack_ctx *c = arg;
	struct pss_linux_thread_info ti = { .sz = sizeof(ti) };
	pid_t tid = dwfl_thread_tid(thread);
	int n = 0, err;

	if (!c->json) {
		printf("TID %d:\n", (int)tid);
		err = dwfl_thread_getframes(thread, print_frame, &n);
		if (err != 0 && err != DWARF_CB_ABORT && n == 0)
			printf("    (no frames: %s)\n", dwfl_errmsg(-1));
		return DWARF_CB_OK;
	}
	json_obj_begin();
	json_kv_int("tid", tid);
	if (pss_linux_query_thread(c->snap, tid, &ti))
		ti.comm[0] = '\0';
	json_key("name");
	json_strn(ti.comm, strnlen(ti.comm, sizeof(ti.comm)));
	json_key("frames");
	json_arr_begin();
	err = dwfl_thread_getframes(thread, print_frame, &n);
	json_arr_end();
	if (err != 0 && err != DWARF_CB_ABORT && n == 0)
		json_kv_str("error", dwfl_errmsg(-1));
	json_obj_end();
	return DWARF_CB_OK;
}

static int collect_tids(struct stack_ctx *c)
{
	PSS_THREAD_INFORMATION info;
	PSS_THREAD_ENTRY te;
	HPSSWALK w;

	if (PssQuerySnapshot(c->snap, PSS_QUERY_THREAD_INFORMATION, &info, sizeof(info)) ||
	    PssWalkMarkerCreate(NULL, &w))
		return -1;
	c->tids = calloc(info.ThreadsCaptured ? info.ThreadsCaptured : 1, sizeof(*c->tids));
	while (c->tids && c->ntids < info.ThreadsCaptured &&
	       !PssWalkSnapshot(c->snap, PSS_WALK_THREADS, w, &te, sizeof(te)))
		c->tids[c->ntids++] = te.ThreadId;
	PssWalkMarkerFree(w);
	return c->tids ? 0 : -1;
}

static int unwind(struct stack_ctx *c, pid_t clone)
{
	static const Dwfl_Callbacks callbacks = {
		.find_elf = dwfl_linux_proc_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
	};
	Dwfl *dwfl = dwfl_begin(&callbacks);
	int rc = EXIT_FAILURE_;

	if (!dwfl)
		return rc;
	if (dwfl_linux_proc_report(dwfl, clone) || dwfl_report_end(dwfl, NULL, NULL)) {
		fprintf(stderr, "pss stacks: pid %d: cannot list modules: %s\n", c->pid,
			dwfl_errmsg(-1));
		goto out;
	}
	current = c;
	if (!dwfl_attach_state(dwfl, NULL, c->pid, &thread_callbacks, c)) {
		fprintf(stderr, "pss stacks: pid %d: %s\n", c->pid, dwfl_errmsg(-1));
		goto out;
	}
	if (c->json) {
		json_obj_begin();
		json_kv_int("pid", c->pid);
		json_key("threads");
		json_arr_begin();
	} else {
		printf("PID %d - process\n", c->pid);
	}
	rc = dwfl_getthreads(dwfl, print_thread, c) == 0 ? EXIT_OK : EXIT_PARTIAL;
	if (c->json) {
		json_arr_end();
		json_kv_bool("complete", rc == EXIT_OK);
		json_obj_end();
	}
	current = NULL;
out:
	dwfl_end(dwfl);
	return rc;
}

int cmd_stacks(pid_t pid, const struct cli_opts *o)
{
	struct stack_ctx c = { .pid = pid, .memfd = -1, .json = o->json };
	PSS_VA_CLONE_INFORMATION vi;
	char path[64];
	pid_t clone;
	int rc;

	rc = cli_capture(pid, PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS, 0, o, &c.snap);
	if (rc)
		return rc;
	rc = EXIT_FAILURE_;
	if (PssQuerySnapshot(c.snap, PSS_QUERY_VA_CLONE_INFORMATION, &vi, sizeof(vi)))
		goto out;
	clone = (pid_t)GetProcessId(vi.VaCloneHandle);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)clone);
	c.memfd = open(path, O_RDONLY | O_CLOEXEC);
	if (c.memfd < 0 || collect_tids(&c)) {
		fprintf(stderr, "pss stacks: pid %d: cannot read the snapshot's memory\n", pid);
		goto out;
	}
	rc = unwind(&c, clone);
out:
	if (c.memfd >= 0)
		close(c.memfd);
	free(c.tids);
	cli_free(c.snap);
	return rc;
}
