// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The tracer thread: the one thread of the host process that owns every
 * ptrace relationship.
 *
 * Why a thread of its own: a tracee belongs to the *thread* that attached
 * it, not to the process, so if the API caller's thread exits the kernel
 * detaches its tracees (kernel/ptrace.c exit_ptrace).  Capture and free may
 * come from different threads, and the capturing thread may be gone when the
 * snapshot is freed.  So every piece of ptrace work is handed to one
 * long-lived thread through a queue and the caller waits for the result.
 *
 *   caller thread                       tracer thread (all signals blocked)
 *   tracer_run(fn, arg)  -- job -->     loop: take job, fn(arg), mark done
 *        waits on job.done  <-- cond --
 *
 * The tracer is created lazily (pthread_once registers the fork handlers;
 * the thread itself is started under the queue lock when a job arrives and
 * none runs).  After fork() the child has no tracer thread: the atfork child
 * handler resets the queue so the child's first job starts a fresh one.
 *
 * Retirement: a tracee that has been sent PTRACE_INTERRUPT but never reached
 * a stop (a vfork parent, a thread in uninterruptible sleep) cannot be
 * detached - PTRACE_DETACH needs a stopped tracee - and its pending trap
 * cannot be cancelled.  The only clean release is the death of the tracer:
 * exit_ptrace() detaches every tracee and clears pending traps.  A job that
 * is left with such a tracee calls tracer_retire(); the thread then exits
 * after the job, the caller waits until the kernel has finished the thread's
 * exit (its /proc/self/task entry is gone, which happens after exit_ptrace),
 * and the next job starts a new tracer.
 *
 * The tracer inherits the caller's allocation mode for each job
 * (alloc_set_vm is per thread), so snapshots captured in VM mode get VM
 * blocks even when they are filled here.
 */
#include "internal.h"
#include "snapshot.h"
#include "freeze.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define TRACER_EXIT_POLL_NS (200 * 1000L)	/* 0.2 ms */
#define TRACER_EXIT_POLLS 10000			/* 2 s */

struct tracer_job {
	int (*fn)(void *arg);
	void *arg;
	bool vm;			/* the caller's allocation mode */
	int ret;
	bool done;
	pid_t retired_tid;		/* the tracer exited after this job */
	struct tracer_job *next;
};

static pthread_once_t tracer_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t tracer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tracer_work = PTHREAD_COND_INITIALIZER;	/* queue not empty */
static pthread_cond_t tracer_done = PTHREAD_COND_INITIALIZER;	/* some job finished */
static struct tracer_job *queue_head, *queue_tail;
static bool tracer_running;
static pid_t tracer_tid;			/* kernel tid of the running tracer */
static __thread bool on_tracer;			/* true on the tracer thread */
static __thread bool retire_requested;

/* Fork handlers: hold the lock across fork() so the child gets a consistent
 * queue, then give the child an empty queue and no tracer. */
static void tracer_atfork_prepare(void)
{
	pthread_mutex_lock(&tracer_lock);
}

static void tracer_atfork_parent(void)
{
	pthread_mutex_unlock(&tracer_lock);
}

static void tracer_atfork_child(void)
{
	/* The jobs queued in the parent belong to threads that do not exist
	 * here; forget them. */
	pthread_mutex_init(&tracer_lock, NULL);
	pthread_cond_init(&tracer_work, NULL);
	pthread_cond_init(&tracer_done, NULL);
	queue_head = queue_tail = NULL;
	tracer_running = false;
	tracer_tid = 0;
	on_tracer = false;
	retire_requested = false;
}

static void tracer_init_once(void)
{
	pthread_atfork(tracer_atfork_prepare, tracer_atfork_parent, tracer_atfork_child);
}

/* Ask the tracer thread to exit after the current job (tracer thread only). */
void tracer_retire(void)
{
	if (on_tracer)
		retire_requested = true;
}

/* The tracer thread: run jobs forever, or until a job asks it to retire. */
static void *tracer_main(void *unused)
{
	struct tracer_job *job;
	sigset_t all;

	/* Blocked at creation already; again here in case a host's
	 * pthread_create wrapper changed that.  No signal handler of the host
	 * ever runs on this thread, and no signal interrupts a ptrace wait. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	prctl(PR_SET_NAME, "pss-tracer", 0, 0, 0);
	on_tracer = true;

	pthread_mutex_lock(&tracer_lock);
	tracer_tid = gettid();
	for (;;) {
		while (!queue_head)
			pthread_cond_wait(&tracer_work, &tracer_lock);
		job = queue_head;
		queue_head = job->next;
		if (!queue_head)
			queue_tail = NULL;
		pthread_mutex_unlock(&tracer_lock);

		alloc_set_vm(job->vm);
		job->ret = job->fn(job->arg);
		alloc_set_vm(false);

		pthread_mutex_lock(&tracer_lock);
		if (retire_requested) {
			/* Jobs still queued go to the next tracer, which the
			 * next tracer_run starts; wake their callers so one of
			 * them does so. */
			tracer_running = false;
			tracer_tid = 0;
			job->retired_tid = gettid();
		}
		job->done = true;
		pthread_cond_broadcast(&tracer_done);
		if (job->retired_tid)
			break;
	}
	pthread_mutex_unlock(&tracer_lock);
	return NULL;
}

/* Start the tracer thread (tracer_lock held), detached, all signals blocked
 * from its first instruction on. */
static int tracer_start_locked(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	int err;

	if (tracer_running)
		return 0;
	if (pthread_attr_init(&attr))
		return -ENOMEM;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = pthread_create(&th, &attr, tracer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		return -err;
	tracer_running = true;
	return 0;
}

/* Wait until thread @tid of our process has completely exited: its
 * /proc/self/task entry goes away in release_task(), after exit_ptrace()
 * has detached its tracees.  Bounded; tids are not reused that fast. */
static void tracer_wait_exit(pid_t tid)
{
	struct timespec ts = { 0, TRACER_EXIT_POLL_NS };
	char path[48];
	int i;

	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
	for (i = 0; i < TRACER_EXIT_POLLS; i++) {
		if (access(path, F_OK) && errno == ENOENT)
			return;
		nanosleep(&ts, NULL);
	}
	pr_warn("tracer thread %d did not exit in time", (int)tid);
}

/*
 * Run fn(arg) on the tracer thread and return its result.  Safe from any
 * thread; jobs run one at a time in submission order.  Called on the tracer
 * thread itself (a job that needs another job), fn runs directly.
 */
int tracer_run(int (*fn)(void *arg), void *arg)
{
	struct tracer_job job = { .fn = fn, .arg = arg };
	bool vm;
	int err, cancel;

	if (on_tracer)
		return fn(arg);
	vm = alloc_set_vm(false);
	alloc_set_vm(vm);
	job.vm = vm;

	pthread_once(&tracer_once, tracer_init_once);
	/* job lives on our stack: we must not be cancelled while it is queued. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&tracer_lock);
	if (queue_tail)
		queue_tail->next = &job;
	else
		queue_head = &job;
	queue_tail = &job;
	pthread_cond_signal(&tracer_work);
	while (!job.done) {
		/* Start a tracer if none runs: first use, after fork, or
		 * after a retirement. */
		if (!tracer_running) {
			err = tracer_start_locked();
			if (err) {
				struct tracer_job **pp = &queue_head;

				/* Unqueue ourselves and fail. */
				while (*pp != &job)
					pp = &(*pp)->next;
				*pp = job.next;
				queue_tail = NULL;
				for (struct tracer_job *j = queue_head; j; j = j->next)
					queue_tail = j;
				pthread_mutex_unlock(&tracer_lock);
				pthread_setcancelstate(cancel, NULL);
				return err;
			}
		}
		pthread_cond_wait(&tracer_done, &tracer_lock);
	}
	pthread_mutex_unlock(&tracer_lock);
	if (job.retired_tid)
		tracer_wait_exit(job.retired_tid);
	pthread_setcancelstate(cancel, NULL);
	return job.ret;
}
