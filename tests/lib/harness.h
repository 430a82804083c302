/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A tiny TAP harness for the live tests.
 *
 * Each TEST() runs in a forked child, so a crash or a hang fails that test
 * alone; the parent prints one TAP line per test and a plan line.  The
 * child starts victim programs with target_start(); every target is killed
 * and reaped by pid when the test ends, however it ends (the target also
 * has PR_SET_PDEATHSIG(SIGKILL) in case the test child itself dies, and
 * the parent is a child subreaper that ends and reaps whatever is left).
 *
 *   TEST(name) { CHECK(x == 1, "x is %d", x); REQUIRE(p, "no p"); }
 *   int main(int argc, char **argv) { return harness_main(argc, argv); }
 *
 * Env: PSS_TEST_TIMEOUT seconds per test (default 60); TESTS_FILTER or
 * argv[1] keeps the tests whose name contains it; PSS_TEST_TARGETS the
 * directory of the victim programs.
 */
#ifndef PSS_TESTS_HARNESS_H
#define PSS_TESTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <sys/types.h>
#include <pss/processsnapshot.h>
#include <pss/pss-linux.h>
#include "../targets/victim.h"

struct test_case {
	const char *name;
	void (*fn)(void);
	int line;
	struct test_case *next;
};

void harness_register(struct test_case *tc);
int harness_main(int argc, char **argv);

#define TEST(tname) \
	static void test_##tname(void); \
	static struct test_case tc_##tname = { #tname, test_##tname, __LINE__, NULL }; \
	__attribute__((constructor)) static void reg_##tname(void) { harness_register(&tc_##tname); } \
	static void test_##tname(void)

/* Diagnostics: always "# "-prefixed lines on stdout. */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void harness_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void harness_end_test(void) __attribute__((noreturn));
void harness_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
unsigned harness_failures(void);

#define CHECK(cond, ...) \
	do { if (!(cond)) harness_fail(__FILE__, __LINE__, "CHECK(" #cond ") " __VA_ARGS__); } while (0)
#define REQUIRE(cond, ...) \
	do { if (!(cond)) { harness_fail(__FILE__, __LINE__, "REQUIRE(" #cond ") " __VA_ARGS__); \
		harness_end_test(); } } while (0)
#define SKIP(...) harness_skip(__VA_ARGS__)

#define CHECK_CMP_(a, b, op, type, pfmt, fatal) \
	do { type a_ = (type)(a), b_ = (type)(b); \
		if (!(a_ op b_)) { \
			harness_fail(__FILE__, __LINE__, "%s " #op " %s: " pfmt " vs " pfmt, \
				     #a, #b, a_, b_); \
			if (fatal) harness_end_test(); \
		} } while (0)
#define CHECK_EQ_U64(a, b) CHECK_CMP_(a, b, ==, uint64_t, "%" PRIu64, 0)
#define CHECK_EQ_HEX(a, b) CHECK_CMP_(a, b, ==, uint64_t, "0x%" PRIx64, 0)
#define CHECK_EQ_INT(a, b) CHECK_CMP_(a, b, ==, long long, "%lld", 0)
#define CHECK_NE_INT(a, b) CHECK_CMP_(a, b, !=, long long, "%lld", 0)
#define CHECK_GE_U64(a, b) CHECK_CMP_(a, b, >=, uint64_t, "%" PRIu64, 0)
#define CHECK_LE_U64(a, b) CHECK_CMP_(a, b, <=, uint64_t, "%" PRIu64, 0)
#define REQUIRE_EQ_U64(a, b) CHECK_CMP_(a, b, ==, uint64_t, "%" PRIu64, 1)
#define REQUIRE_EQ_INT(a, b) CHECK_CMP_(a, b, ==, long long, "%lld", 1)

/* A Win32 code compared by name: CHECK_ERR(PssFreeSnapshot(...), ERROR_SUCCESS). */
const char *err_name(DWORD code);
#define CHECK_ERR_(call, want, fatal) \
	do { DWORD got_ = (call), want_ = (want); \
		if (got_ != want_) { \
			harness_fail(__FILE__, __LINE__, "%s: got %s (%u), want %s (%u)%s%s", #call, \
				     err_name(got_), got_, err_name(want_), want_, \
				     got_ ? " - " : "", got_ ? capture_error_text() : ""); \
			if (fatal) harness_end_test(); \
		} } while (0)
#define CHECK_ERR(call, want) CHECK_ERR_(call, want, 0)
#define REQUIRE_ERR(call, want) CHECK_ERR_(call, want, 1)
#define REQUIRE_OK(call) CHECK_ERR_(call, ERROR_SUCCESS, 1)
const char *capture_error_text(void);

/* ---- targets ---- */
struct target {
	pid_t pid;
	int in_fd;		/* we write commands here (the target's stdin) */
	int out_fd;		/* we read replies here (the target's stdout) */
	bool reaped;
	long idle_nr;		/* syscall of the idle command loop (0: read) */
	pid_t idle_tid;		/* thread running the command loop (0: the leader) */
};

/* target_start() - run $PSS_TEST_TARGETS/@prog with @argv (extra arguments,
 * NULL-terminated, may be NULL) and wait for its "ready <pid>" line.
 * Call it from the test's main thread (PDEATHSIG follows the forking
 * thread).  Return: 0 or negative errno. */
int target_start(struct target *t, const char *prog, const char *const argv[]);
/* target_cmd() - send one command line, read one reply line (newline
 * stripped) within 20 s.  Return: reply length or negative errno. */
int target_cmd(struct target *t, const char *cmd, char *reply, size_t len);
/* target_cmdf() - printf-style target_cmd that REQUIREs a reply. */
char *target_cmdf(struct target *t, char *reply, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* target_readline() - read one more line (e.g. after a command that
 * replies twice).  Return: length or negative errno. */
int target_readline(struct target *t, char *reply, size_t len, int timeout_ms);
/* target_kill() - SIGKILL and reap by pid; idempotent. */
void target_kill(struct target *t);
/* target_wait() - reap the target (blocking up to @timeout_ms) and return
 * its wait status, -1 on timeout, -2 if it was no longer our child to reap
 * (someone else reaped it). */
int target_wait(struct target *t, int timeout_ms);
/* Look up "key=value" in a reply; return the value or @dflt. */
long long reply_get(const char *reply, const char *key, long long dflt);
/* target_send() - send one command line without waiting for a reply. */
int target_send(struct target *t, const char *cmd);
/* Start a victim and REQUIRE it to come up and wait for commands. */
void start_victim(struct target *t);
/* start_victim_ppoll() - as start_victim, but its command loop waits in
 * ppoll() (a temporary-mask call the VA clone must not inject into). */
void start_victim_ppoll(struct target *t);
/* victim_idle() - wait until the victim's command thread sleeps in its
 * idle syscall (read(), or ppoll() for start_victim_ppoll). */
void victim_idle(struct target *t);

/* ---- /proc helpers ---- */
/* wait_thread_syscall() - poll /proc/PID/task/TID/syscall until the thread
 * is blocked in syscall @nr.  Return: 0, or -ETIMEDOUT. */
int wait_thread_syscall(pid_t pid, pid_t tid, long nr, int timeout_ms);
long thread_syscall(pid_t pid, pid_t tid);	/* -1 running/not in one, -2 error */
char proc_state(pid_t pid);			/* 0 if unreadable */
char thread_state(pid_t pid, pid_t tid);
int proc_tracer_pid(pid_t pid);			/* -1 if unreadable */
int thread_tracer_pid(pid_t pid, pid_t tid);
int thread_count(pid_t pid);			/* entries of /proc/PID/task */
int thread_ids(pid_t pid, pid_t *tids, int max);	/* sorted */
int children_of(pid_t pid, pid_t *kids, int max);
/* task_children() - the children created by thread @tid of @pid
 * (/proc/PID/task/TID/children): the first @max in @kids; return how many
 * there are (0 if unreadable). */
int task_children(pid_t pid, pid_t tid, pid_t *kids, int max);
/* status_field() - the text after "Key:" in /proc/PID/task/TID/status. */
int status_field(pid_t pid, pid_t tid, const char *key, char *buf, size_t len);
uint64_t status_hex(pid_t pid, pid_t tid, const char *key);
long long status_kb(pid_t pid, const char *key);
int read_text(const char *path, char *buf, size_t len);	/* bytes or -errno */
uint64_t now_ns(void);				/* CLOCK_MONOTONIC */
void msleep(unsigned ms);
/* no_thread_traced() - true if no thread of @pid has a tracer and none is
 * in a ptrace stop ('t'). */
bool no_thread_traced(pid_t pid);

/* A thread that samples TracerPid and the state of every thread of @pid
 * until stopped: watch_stop() returns how many samples saw a tracer or a
 * stop ('t' or 'T'), and the number of sweeps in *sweeps. */
struct watch;
struct watch *watch_start(pid_t pid);
int watch_stop(struct watch *w, int *sweeps);
int watch_sweeps(struct watch *w);

/* task_stat_field() - field @n (numbered as in proc(5): 1 pid, 2 comm,
 * 3 state, 4 ppid, ... 38 exit_signal) of /proc/PID/stat as a number;
 * LLONG_MIN if unreadable.  Fields 1 and 2 are not numbers here. */
long long task_stat_field(pid_t pid, int n);
/* task_sp_pc() - the stack and instruction pointers of a blocked or stopped
 * task from /proc/PID/task/TID/syscall.  Return: false if running/unreadable. */
bool task_sp_pc(pid_t pid, pid_t tid, uint64_t *sp, uint64_t *pc);
/* vdso_range() - the [vdso] mapping of @pid. */
bool vdso_range(pid_t pid, uint64_t *lo, uint64_t *hi);
/* wait_pc_in_vdso() - poll until a thread of @pid is stopped with its pc in
 * its [vdso] (an injection through the vDSO's syscall instruction holds
 * it there).  Return: that tid, or 0 after @ms. */
pid_t wait_pc_in_vdso(pid_t pid, int ms);
/* clone_procs_under() - processes named "pss-clone" whose parent is @parent
 * (any parent if @parent <= 0); zombies counted only with @zombies. */
int clone_procs_under(pid_t parent, bool zombies);

/* ---- ptrace ---- */
/* ptrace_permitted() - fork a child and try PTRACE_SEIZE on it; on refusal
 * fill @why with the reason (Yama scope, capability, seccomp). */
bool ptrace_permitted(char *why, size_t len);
#define REQUIRE_PTRACE() \
	do { char why_[256]; if (!ptrace_permitted(why_, sizeof(why_))) SKIP("ptrace refused: %s", why_); } while (0)

/* ---- snapshots ---- */
HANDLE open_process(pid_t pid);		/* REQUIREs success */
/* capture_pid() - open @pid, PssCaptureSnapshot, close; returns the code. */
DWORD capture_pid(pid_t pid, DWORD flags, DWORD ctx_flags, HPSS *snap);
/*
 * capture_in_child() - capture @victim from a forked child that first runs
 * @prepare (drop credentials, capabilities; 0 to go on, else the child's
 * exit code), then waits for the parent's go, captures with @flags and
 * CONTEXT_ALL, calls @inspect on the snapshot if there is one, and frees
 * it (exit 250 if the free fails).  The parent calls @before_go after the
 * fork (a watcher thread must start after it: a fork beside a running
 * thread can leave the child stuck on a lock of the sanitizer's
 * allocator).  REQUIREs that the child exits 0.  Returns its result.
 */
struct child_capture {
	DWORD code;			/* the capture's */
	int status;			/* the child's wait status */
	int prepare_err;		/* what @prepare left here */
	int inspect;			/* what @inspect returned */
	volatile int go;
	char text[240];			/* pss_linux_last_capture_error() */
};
struct child_capture capture_in_child(pid_t victim, DWORD flags, int (*prepare)(struct child_capture *),
				      int (*inspect)(HPSS snap), void (*before_go)(void *), void *arg);
/* scratch_dir() - a new empty directory $TMPDIR/pss-@tag-XXXXXX (at most 4
 * per test process), removed with its contents when the process exits. */
const char *scratch_dir(const char *tag);
/* capture_ok() - capture_pid that REQUIREs ERROR_SUCCESS. */
HPSS capture_ok(pid_t pid, DWORD flags, DWORD ctx_flags);
void free_snap(HPSS snap);		/* PssFreeSnapshot, CHECKed */
/* query_va_clone() - the snapshot's VaCloneHandle (NULL if none) and its pid. */
HANDLE query_va_clone(HPSS snap, pid_t *pid);

/* ---- the library's test fault points (PSS_FAULT) ---- */
/* fault_arm() - set PSS_FAULT=@spec and a fresh PSS_FAULT_RELEASE file. */
void fault_arm(const char *spec);
void fault_release(void);	/* create the release file: "pause" returns */
void fault_disarm(void);	/* unset both, remove the file */
/* FILETIME helpers: 100 ns units; unix_to_filetime(seconds since 1970 in ns). */
uint64_t filetime_u64(FILETIME ft);
uint64_t unix_ns_to_filetime(uint64_t ns);
uint64_t boot_time_ns(void);		/* CLOCK_REALTIME - CLOCK_BOOTTIME */
/* start time of a task in ns since boot (stat field 22). */
uint64_t task_start_ns(pid_t pid, pid_t tid);
/* The comm of a task (raw bytes, newline kept). */
int task_comm(pid_t pid, pid_t tid, char *buf, size_t len);
/* A whole walk of one class: entries copied into items (count of them);
 * strings stay valid until walk_release() frees the marker. */
struct walk {
	HPSSWALK marker;
	void *items;
	size_t count, size;
	DWORD err;		/* ERROR_NO_MORE_ITEMS on a complete walk */
};
DWORD walk_collect(HPSS snap, PSS_WALK_INFORMATION_CLASS cls, size_t entry_size, struct walk *w);
void walk_release(struct walk *w);
#define WALK_ITEM(w, type, i) (&((type *)(w)->items)[i])

/* utf16 helpers: a malloc'd UTF-8 copy of @units code units (or up to the
 * NUL when @units is (size_t)-1); an unpaired surrogate becomes U+FFFD. */
char *u16_to_utf8(const WCHAR *s, size_t units);
size_t u16_len(const WCHAR *s);
bool u16_eq(const WCHAR *s, size_t units, const char *utf8);

#endif /* PSS_TESTS_HARNESS_H */
