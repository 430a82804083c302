// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The tracer: the one task that owns every ptrace relationship.
 *
 * It is a separate *process* that shares our address space and fd table
 * (clone(CLONE_VM|CLONE_FILES|CLONE_FS), not CLONE_THREAD).  Why not a
 * thread of the host:
 *   - if the host is killed (SIGKILL) in the middle of a stop, a thread dies
 *     with it and the kernel releases the target with whatever registers we
 *     had put in it; a process of its own finishes the stop, puts every
 *     register back, and only then notices that its host is gone;
 *   - ptrace'd tasks are eligible for every wait() in the tracer's thread
 *     group: a host thread looping on waitpid(-1) would steal our stops, and
 *     a target that is the host's child would be reaped by our waits;
 *   - tracee stops send SIGCHLD to the tracer, not to the host.
 * Sharing the address space keeps the hand-off trivial: a job is a function
 * and an argument in our memory, run there by the tracer.
 *
 *   host thread                          tracer process (all signals blocked)
 *   tracer_run(fn, arg)
 *     lock submit_lock (host only)
 *     slot = &job; futex wake   ------>  futex wait on slot (1 s timeout)
 *     futex wait on job.done    <------  fn(arg); job.done = 1; futex wake
 *
 * The tracer never takes a lock a host thread might hold (a killed host
 * leaves its locks held): the slot and job.done are futex words, and the
 * tracer allocates only in VM mode (mmap, never the heap, which a frozen or
 * dead host thread may have locked) and never calls the host's log
 * callback.
 *
 * It runs on the TLS of an "anchor" thread: a pthread that creates the
 * tracer and then only waits for it to exit, so libc's per-thread state
 * (errno, ...) has one user at a time.  When the host dies the tracer is
 * re-parented; it sees getppid() change and exits (the next issue's clones
 * are killed there first).
 *
 * Retirement: a tracee that has been sent PTRACE_INTERRUPT but never reached
 * a stop (a vfork parent, a thread in uninterruptible sleep) cannot be
 * detached, and its pending trap cannot be cancelled; the death of its
 * tracer releases it (exit_ptrace).  A job left with such a tracee calls
 * tracer_retire(): the tracer exits after the job, the caller waits until it
 * is reaped, and the next job starts a new tracer.
 */
#include "internal.h"
#include "snapshot.h"
#include "freeze.h"
#include "inject.h"
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TRACER_STACK_SIZE (8u << 20)
#define TRACER_IDLE_NS 100000000L	/* check for the host's death 10 times a second */

struct tracer_job {
	int (*fn)(void *arg);
	void *arg;
	int ret;
	uint32_t done;			/* futex word: 0 running, 1 done */
	bool retire;			/* the tracer exits after this job */
};

static pthread_once_t tracer_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;	/* host threads only */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;	/* host threads only */
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;

static struct tracer_job *slot;		/* the job handed over; NULL when none */
static uint32_t slot_seq;		/* futex word bumped at each hand-over */
static uint32_t tracer_alive;		/* futex word: 1 while a tracer runs */
static pid_t tracer_pid;		/* 0: none */
static pid_t host_pid;			/* the tracer's parent when it started */
static bool retire_requested;

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static void tracer_atfork_child(void)
{
	/* No tracer exists in the child; its first job starts one. */
	pthread_mutex_init(&submit_lock, NULL);
	pthread_mutex_init(&start_lock, NULL);
	pthread_cond_init(&start_cond, NULL);
	slot = NULL;
	slot_seq = 0;
	tracer_alive = 0;
	tracer_pid = 0;
}

static void tracer_init_once(void)
{
	pthread_atfork(NULL, NULL, tracer_atfork_child);
}

bool tracer_is_self(void)
{
	pid_t t = __atomic_load_n(&tracer_pid, __ATOMIC_RELAXED);

	return t > 0 && (pid_t)syscall(SYS_gettid) == t;
}

pid_t tracer_host_pid(void)
{
	return tracer_is_self() ? host_pid : getpid();
}

void tracer_retire(void)
{
	if (tracer_is_self())
		retire_requested = true;
}

bool tracer_retiring(void)
{
	return tracer_is_self() && retire_requested;
}

/* The tracer process.  Runs jobs until one retires it or the host dies. */
static int tracer_main(void *unused)
{
	struct timespec idle = { TRACER_IDLE_NS / 1000000000L, TRACER_IDLE_NS % 1000000000L };
	struct tracer_job *job;
	uint32_t seq;

	prctl(PR_SET_NAME, "pss-tracer", 0, 0, 0);
	/* Out of the host's process group: a kill(-pgrp) or a terminal's
	 * SIGKILL-free signals aimed at the host's job never reach the tracer
	 * in the middle of a stop. */
	setpgid(0, 0);
	alloc_set_vm(true);
	for (;;) {
		seq = __atomic_load_n(&slot_seq, __ATOMIC_ACQUIRE);
		job = __atomic_exchange_n(&slot, NULL, __ATOMIC_ACQ_REL);
		if (!job) {
			if (getppid() != host_pid) {
				/* The host is gone: nobody will free its clones. */
				clones_destroy_all();
				break;
			}
			futex(&slot_seq, FUTEX_WAIT_PRIVATE, seq, &idle);
			continue;
		}
		job->ret = job->fn(job->arg);
		job->retire = retire_requested;
		__atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
		futex(&job->done, FUTEX_WAKE_PRIVATE, 1, NULL);
		if (retire_requested)
			break;
	}
	return 0;
}

/* The anchor thread: lends its TLS to the tracer and reaps it.  @stack is
 * the tracer's stack, which the anchor unmaps once the tracer is gone. */
static void *anchor_main(void *stack)
{
	pid_t pid;
	int status;

	pid = clone(tracer_main, (char *)stack + TRACER_STACK_SIZE,
		    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_UNTRACED, NULL);
	pthread_mutex_lock(&start_lock);
	tracer_pid = pid > 0 ? pid : -errno;
	if (pid > 0) {
		/* Under Yama ptrace_scope 1 the tracer may trace us (self-capture). */
		prctl(PR_SET_PTRACER, pid, 0, 0, 0);
		__atomic_store_n(&tracer_alive, 1, __ATOMIC_RELEASE);
	}
	pthread_cond_broadcast(&start_cond);
	pthread_mutex_unlock(&start_lock);
	if (pid <= 0) {
		munmap(stack, TRACER_STACK_SIZE);
		return NULL;
	}

	/* Exit signal 0: only a __WALL wait sees it.  ECHILD means a host
	 * thread's waitpid(-1, __WALL) took it: it has exited all the same. */
	while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
	munmap(stack, TRACER_STACK_SIZE);
	pthread_mutex_lock(&start_lock);
	tracer_pid = 0;
	__atomic_store_n(&tracer_alive, 0, __ATOMIC_RELEASE);
	futex(&tracer_alive, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
	pthread_cond_broadcast(&start_cond);
	pthread_mutex_unlock(&start_lock);
	return NULL;
}

/* Start a tracer if none runs (submit_lock held).  The anchor is created
 * with every signal blocked, so neither it nor the tracer ever runs a
 * handler of the host. */
static int tracer_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	void *stack;
	pthread_t th;
	int err;

	if (__atomic_load_n(&tracer_alive, __ATOMIC_ACQUIRE))
		return 0;
	/* A retired tracer's anchor may still be finishing: wait for it. */
	pthread_mutex_lock(&start_lock);
	while (tracer_pid > 0)
		pthread_cond_wait(&start_cond, &start_lock);
	pthread_mutex_unlock(&start_lock);

	stack = mmap(NULL, TRACER_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -ENOMEM;
	host_pid = getpid();
	retire_requested = false;
	if (pthread_attr_init(&attr)) {
		munmap(stack, TRACER_STACK_SIZE);
		return -ENOMEM;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_mutex_lock(&start_lock);
	tracer_pid = 0;
	err = pthread_create(&th, &attr, anchor_main, stack);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		pthread_mutex_unlock(&start_lock);
		munmap(stack, TRACER_STACK_SIZE);
		return -err;
	}
	while (!tracer_pid)
		pthread_cond_wait(&start_cond, &start_lock);
	err = tracer_pid < 0 ? tracer_pid : 0;
	if (err)
		tracer_pid = 0;
	pthread_mutex_unlock(&start_lock);
	return err;
}

/* Wait for job completion, or for the tracer's death (-ECHILD). */
static int tracer_wait_job(struct tracer_job *job)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	while (!__atomic_load_n(&job->done, __ATOMIC_ACQUIRE)) {
		if (!__atomic_load_n(&tracer_alive, __ATOMIC_ACQUIRE))
			return -ECHILD;
		futex(&job->done, FUTEX_WAIT_PRIVATE, 0, &ts);
	}
	return 0;
}

/* After a retirement, wait until the tracer has been reaped: only then has
 * the kernel detached its tracees. */
static void tracer_wait_retired(void)
{
	pthread_mutex_lock(&start_lock);
	while (tracer_pid > 0)
		pthread_cond_wait(&start_cond, &start_lock);
	pthread_mutex_unlock(&start_lock);
}

/*
 * Run fn(arg) in the tracer and return its result.  Safe from any thread;
 * jobs run one at a time.  In the tracer itself (a job that needs another
 * job), fn runs directly.  -ECHILD if the tracer died during the job.
 */
int tracer_run(int (*fn)(void *arg), void *arg)
{
	struct tracer_job job = { .fn = fn, .arg = arg };
	int err, cancel;

	if (tracer_is_self())
		return fn(arg);
	pthread_once(&tracer_once, tracer_init_once);
	/* job lives on our stack: we must not be cancelled while it is handed over. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&submit_lock);
	err = tracer_start();
	if (err)
		goto out;
	__atomic_store_n(&slot, &job, __ATOMIC_RELEASE);
	__atomic_add_fetch(&slot_seq, 1, __ATOMIC_ACQ_REL);
	futex(&slot_seq, FUTEX_WAKE_PRIVATE, 1, NULL);
	err = tracer_wait_job(&job);
	if (err) {
		/* Died before taking it, or during it. */
		__atomic_store_n(&slot, NULL, __ATOMIC_RELEASE);
		goto out;
	}
	if (job.retire)
		tracer_wait_retired();
	capture_error_adopt();
	err = job.ret;
out:
	pthread_mutex_unlock(&submit_lock);
	pthread_setcancelstate(cancel, NULL);
	return err;
}
