// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pss dump - an ELF core of a running process, like gcore, from a VA clone.
 *
 *   pss dump [-o PREFIX] [-a] [-z] [--freeze] [--json] [--progress] PID...
 *
 * For each PID: capture a snapshot with a copy-on-write clone (the target
 * stops only for the capture), stream the core from the clone with
 * pss_linux_write_core(), end the clone right after (its copy-on-write cost
 * ends with it), then publish the file.
 *
 * File safety.  The core is written to an unnamed O_TMPFILE in the
 * destination directory and linked to PREFIX.PID only when complete and
 * fsync'ed; a file system without O_TMPFILE gets a named temporary
 * ".NAME.XXXXXX" (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) renamed with
 * RENAME_NOREPLACE.  Neither step replaces anything: an existing file or
 * symlink at PREFIX.PID is left alone and reported.  On any failure the
 * temporary goes away (an O_TMPFILE by itself, even if we are killed); on
 * SIGINT/SIGTERM/SIGHUP the write is cancelled through the progress callback
 * and the normal error path cleans up; a second signal cleans up from the
 * handler and dies at once.  SIGXFSZ is ignored so that a file size limit
 * is an EFBIG write error, not a death.
 *
 * Compression (-z) runs in a second thread: the core is written into a pipe
 * whose other end that thread feeds to ZSTD_compressStream2.  When the
 * compressor fails it closes its end, so the core writer gets EPIPE and
 * stops.
 *
 * --freeze stops the whole target with SIGSTOP before the capture and
 * continues it with SIGCONT after the core is written (unless it was
 * already stopped): the honest way to keep it frozen without holding
 * ptrace for the whole dump.  Its parent sees a stop and a continue.
 *
 * Test hook: PSS_DUMP_NO_TMPFILE=1 forces the named temporary.
 */
#include "pss.h"
#include "json.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <zstd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

#define DUMP_FLAGS (PSS_CAPTURE_VA_CLONE | PSS_CAPTURE_THREADS | PSS_CAPTURE_THREAD_CONTEXT | \
		    PSS_CAPTURE_THREAD_CONTEXT_EXTENDED | PSS_CAPTURE_VA_SPACE | \
		    PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION | PSS_CAPTURE_HANDLES | \
		    PSS_CREATE_MEASURE_PERFORMANCE)

struct dump_opts {
	const char *prefix;	/* "core"; "-" is stdout */
	bool all;		/* -a: PSS_LINUX_CORE_ALL */
	bool zstd;		/* -z */
	bool freeze;		/* --freeze */
	bool json;		/* --json */
	bool progress;		/* progress lines on stderr */
	unsigned timeout_ms;
	bool stop_all;		/* --stop-all */
	const char *path;	/* pss watch: this exact name, not PREFIX.PID */
	HANDLE handle;		/* pss watch: the process, already open */
};

/* The destination of one core: a temporary in the final directory. */
struct outfile {
	int dirfd;		/* the directory of the final name (owned) */
	const char *name;	/* final name, relative to dirfd (points into path) */
	char path[PATH_MAX];	/* final path as the user gave it */
	char tmp[NAME_MAX + 1];	/* named temporary; "" for an O_TMPFILE */
	int fd;			/* the temporary (owned) */
};

/* What one dump did, for the summary and --json. */
struct dump_result {
	char file[PATH_MAX];		/* final path, or "-" */
	unsigned long long bytes;	/* bytes of the output (compressed with -z) */
	unsigned long long core_bytes;	/* bytes of the ELF core */
	double seconds;			/* capture to published file */
	double pause_ms;		/* how long the target was stopped */
	unsigned deferred;		/* idle threads read just after the pause */
	double capture_ms;		/* PSS_PERFORMANCE_COUNTERS.TotalWallClockPeriod */
	const char *status;		/* "ok", "partial", "failed" */
	char error[PATH_MAX + 512];
};

/* Progress of the core writer, and whether to cancel it. */
struct progress {
	const char *name;
	bool show, tty;
	uint64_t t0, last;		/* ns */
	unsigned long long done, total;
	atomic_bool *failed;		/* the compressor gave up */
};

/* Compressor thread: reads the core from a pipe, writes zstd frames. */
struct zsink {
	int in_fd;			/* read end of the pipe (owned by the thread) */
	int out_fd;			/* where the frames go (not owned) */
	pthread_t th;
	unsigned long long in_bytes, out_bytes;
	int err;			/* errno of a failed read/write */
	const char *zerr;		/* a zstd error name */
	atomic_bool failed;
};

/* State the signal handler may touch: what to undo on a second signal. */
static volatile sig_atomic_t dump_signal;
static volatile sig_atomic_t sig_dirfd = -1;
static char sig_tmp[NAME_MAX + 1];
static volatile sig_atomic_t sig_tmp_set;
static volatile sig_atomic_t sig_cont_pid;

/*
 * on_signal() - the first SIGINT/SIGTERM/SIGHUP asks the dump to stop (the
 * progress callback cancels the write, the error path cleans up); a second
 * one cleans up here, async-signal-safely, and dies of that signal.
 */
static void on_signal(int sig)
{
	if (!dump_signal) {
		dump_signal = sig;
		return;
	}
	if (sig_tmp_set && sig_dirfd >= 0)
		unlinkat(sig_dirfd, sig_tmp, 0);
	if (sig_cont_pid > 0)
		kill(sig_cont_pid, SIGCONT);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void signals_install(void)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

	/* SA_RESTART keeps the library's waits intact; a write blocked on a
	 * pipe nobody reads stays blocked, and the second signal ends it. */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	/* Errors, not deaths: EPIPE from a closed stdout or compressor pipe,
	 * EFBIG past RLIMIT_FSIZE. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
}

/* After the dump: die of the signal that interrupted it, as a shell expects. */
static void signals_reraise(void)
{
	int sig = dump_signal;

	if (!sig)
		return;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- output file ---- */

static int tmp_named(struct outfile *of)
{
	static const char az[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint64_t r = cli_mono_ns() ^ ((uint64_t)getpid() << 32);
	char suffix[7];
	int tries, fd;

	for (tries = 0; tries < 100; tries++) {
		for (int i = 0; i < 6; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			suffix[i] = az[(r >> 33) % (sizeof(az) - 1)];
		}
		suffix[6] = '\0';
		if (snprintf(of->tmp, sizeof(of->tmp), ".%.*s.%s", NAME_MAX - 9, of->name, suffix) < 0)
			return -EINVAL;
		/* The handler may unlink this name from now on; it is ours
		 * only if the O_EXCL open succeeds. */
		fd = openat(of->dirfd, of->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd >= 0) {
			memcpy(sig_tmp, of->tmp, sizeof(sig_tmp));
			sig_dirfd = of->dirfd;
			sig_tmp_set = 1;
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/*
 * out_open() - open a temporary for the final @path in its directory.
 * Return: 0; -EEXIST if something (a file, a symlink) is already at @path;
 * another negative errno.
 */
static int out_open(struct outfile *of, const char *path)
{
	char dir[PATH_MAX];
	const char *slash;
	struct stat st;
	const char *env;
	int fd;

	memset(of, 0, sizeof(*of));
	of->dirfd = of->fd = -1;
	if (snprintf(of->path, sizeof(of->path), "%s", path) >= (int)sizeof(of->path))
		return -ENAMETOOLONG;
	slash = strrchr(of->path, '/');
	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - of->path), of->path);
		if (!dir[0])
			strcpy(dir, "/");
		of->name = slash + 1;
	} else {
		strcpy(dir, ".");
		of->name = of->path;
	}
	if (!*of->name || strlen(of->name) > NAME_MAX)
		return -EINVAL;
	of->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (of->dirfd < 0)
		return -errno;
	if (!fstatat(of->dirfd, of->name, &st, AT_SYMLINK_NOFOLLOW))
		return -EEXIST;
	env = getenv("PSS_DUMP_NO_TMPFILE");
	fd = -EOPNOTSUPP;
	if (!env || strcmp(env, "1")) {
		fd = openat(of->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			fd = -errno;
	}
	/* Not every file system has O_TMPFILE (EOPNOTSUPP, or EISDIR and
	 * EINVAL from kernels and file systems that predate it). */
	if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL)
		fd = tmp_named(of);
	if (fd < 0)
		return fd;
	of->fd = fd;
	/* 0600 whatever the umask: a core holds the process's secrets. */
	if (fchmod(fd, 0600) < 0)
		return -errno;
	return 0;
}

/* out_abort() - drop the temporary; nothing remains. */
static void out_abort(struct outfile *of)
{
	if (of->fd >= 0)
		close(of->fd);
	if (of->tmp[0] && of->dirfd >= 0)
		unlinkat(of->dirfd, of->tmp, 0);
	sig_tmp_set = 0;
	if (of->dirfd >= 0)
		close(of->dirfd);
	of->fd = of->dirfd = -1;
	of->tmp[0] = '\0';
}

/* link_tmpfile() - give the O_TMPFILE its final name; never replaces. */
static int link_tmpfile(struct outfile *of)
{
	char proc[64];

	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd does not. */
	if (!linkat(of->fd, "", of->dirfd, of->name, AT_EMPTY_PATH))
		return 0;
	if (errno == EEXIST)
		return -EEXIST;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", of->fd);
	if (!linkat(AT_FDCWD, proc, of->dirfd, of->name, AT_SYMLINK_FOLLOW))
		return 0;
	return -errno;
}

/* rename_named() - rename the named temporary; never replaces. */
static int rename_named(struct outfile *of)
{
	if (!syscall(SYS_renameat2, of->dirfd, of->tmp, of->dirfd, of->name, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* No RENAME_NOREPLACE here: link() refuses to replace too. */
	if (linkat(of->dirfd, of->tmp, of->dirfd, of->name, 0) < 0)
		return -errno;
	unlinkat(of->dirfd, of->tmp, 0);
	return 0;
}

/*
 * out_commit() - make the complete core durable and give it its final name.
 * Return: 0 (the temporary is gone, the fds closed) or negative errno (the
 * caller still calls out_abort()).
 */
static int out_commit(struct outfile *of)
{
	int ret;

	if (fsync(of->fd) < 0)
		return -errno;
	ret = of->tmp[0] ? rename_named(of) : link_tmpfile(of);
	if (ret)
		return ret;
	of->tmp[0] = '\0';
	sig_tmp_set = 0;
	fsync(of->dirfd);
	close(of->fd);
	close(of->dirfd);
	of->fd = of->dirfd = -1;
	return 0;
}

/* ---- progress ---- */

/* The core writer's callback: print now and then; non-zero cancels. */
static int on_progress(void *ctx, unsigned long long done, unsigned long long total)
{
	struct progress *p = ctx;
	uint64_t now = cli_mono_ns();
	char a[32], b[32], c[32], left[32] = "";
	double s, rate;

	p->done = done;
	p->total = total;
	if (dump_signal || (p->failed && atomic_load(p->failed)))
		return 1;
	if (!p->show || now - p->last < (p->tty ? 200000000ull : 2000000000ull))
		return 0;
	p->last = now;
	s = (double)(now - p->t0) / 1e9;
	rate = s > 0 ? (double)done / s : 0;
	if (rate > 0 && total > done) {
		unsigned long long t = (unsigned long long)((double)(total - done) / rate + 0.5);

		snprintf(left, sizeof(left), ", %llu:%02llu left", t / 60, t % 60);
	}
	fprintf(stderr, "%s%s: %s of %s (%.0f%%), %s/s%s%s", p->tty ? "\r" : "", p->name,
		cli_fmt_size((double)done, a, sizeof(a)), cli_fmt_size((double)total, b, sizeof(b)),
		total ? 100.0 * (double)done / (double)total : 0.0,
		cli_fmt_size(rate, c, sizeof(c)), left, p->tty ? "\033[K" : "\n");
	return 0;
}

static void progress_end(struct progress *p)
{
	if (p->show && p->tty && p->last != p->t0)
		fprintf(stderr, "\r\033[K");
}

/* ---- zstd ---- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *c = buf;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR && !dump_signal)
			continue;
		if (n < 0)
			return -errno;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* zsink_compress() - run @in through the stream with @mode, writing out. */
static int zsink_compress(struct zsink *z, ZSTD_CCtx *cc, ZSTD_inBuffer *in, ZSTD_outBuffer *out,
			  ZSTD_EndDirective mode)
{
	size_t left;
	int ret;

	do {
		out->pos = 0;
		left = ZSTD_compressStream2(cc, out, in, mode);
		if (ZSTD_isError(left)) {
			z->zerr = ZSTD_getErrorName(left);
			return -EIO;
		}
		ret = write_all(z->out_fd, out->dst, out->pos);
		if (ret)
			return ret;
		z->out_bytes += out->pos;
	} while (mode == ZSTD_e_end ? left != 0 : in->pos < in->size);
	return 0;
}

static void *zsink_thread(void *arg)
{
	struct zsink *z = arg;
	size_t in_cap = 1 << 20, out_cap = ZSTD_CStreamOutSize();
	char *ibuf = malloc(in_cap), *obuf = malloc(out_cap);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_outBuffer out = { obuf, out_cap, 0 };
	ZSTD_inBuffer in;
	ssize_t n;
	int ret = -ENOMEM;

	if (!ibuf || !obuf || !cc)
		goto out;
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, ZSTD_CLEVEL_DEFAULT);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	for (;;) {
		n = read(z->in_fd, ibuf, in_cap);
		if (n < 0 && errno == EINTR && !dump_signal)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (!n)
			break;
		z->in_bytes += (unsigned long long)n;
		in = (ZSTD_inBuffer){ ibuf, (size_t)n, 0 };
		ret = zsink_compress(z, cc, &in, &out, ZSTD_e_continue);
		if (ret)
			goto out;
	}
	in = (ZSTD_inBuffer){ NULL, 0, 0 };
	ret = zsink_compress(z, cc, &in, &out, ZSTD_e_end);
out:
	if (ret) {
		z->err = -ret;
		atomic_store(&z->failed, true);
	}
	/* Closing the read end turns the core writer's next write into EPIPE. */
	close(z->in_fd);
	ZSTD_freeCCtx(cc);
	free(ibuf);
	free(obuf);
	return NULL;
}

/* zsink_start() - a pipe and its compressor thread; *ret_fd is the write end. */
static int zsink_start(struct zsink *z, int out_fd, int *ret_fd)
{
	int p[2], ret;

	memset(z, 0, sizeof(*z));
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* A bigger pipe means fewer context switches (1 MiB is the default
	 * unprivileged maximum); failure only costs speed. */
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	z->in_fd = p[0];
	z->out_fd = out_fd;
	ret = pthread_create(&z->th, NULL, zsink_thread, z);
	if (ret) {
		close(p[0]);
		close(p[1]);
		return -ret;
	}
	*ret_fd = p[1];
	return 0;
}

/* zsink_finish() - close the write end, wait for the last frame. */
static int zsink_finish(struct zsink *z, int wr_fd)
{
	close(wr_fd);
	pthread_join(z->th, NULL);
	return atomic_load(&z->failed) ? -(z->err ? z->err : EIO) : 0;
}

/* ---- the target ---- */

/* The state letter of /proc/@pid/stat, 0 if unreadable. */
static char target_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * freeze() - SIGSTOP the target through its pidfd (no pid reuse race) and
 * wait until it is in group stop.  Return: true if we stopped it (and so
 * must continue it), false if it was stopped already or refuses.
 */
static bool freeze(HANDLE h, pid_t pid)
{
	int pidfd = pss_linux_handle_pidfd(h);
	char st = target_state(pid);
	uint64_t t0;

	if (st == 'T' || st == 't')
		return false;
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGSTOP, NULL, 0) < 0) {
		fprintf(stderr, "pss dump: pid %d: --freeze: SIGSTOP: %s\n", pid, strerror(errno));
		return false;
	}
	sig_cont_pid = pid;
	for (t0 = cli_mono_ns(); cli_mono_ns() - t0 < 2000000000ull; ) {
		if (target_state(pid) == 'T')
			break;
		usleep(200);
	}
	return true;
}

static void thaw(HANDLE h, bool frozen)
{
	if (!frozen)
		return;
	syscall(SYS_pidfd_send_signal, pss_linux_handle_pidfd(h), SIGCONT, NULL, 0);
	sig_cont_pid = 0;
}

/* dump_open() - a process handle (a pidfd) for @pid.  Returns the exit code. */
static int dump_open(pid_t pid, HANDLE *ret_h, struct dump_result *r)
{
	DWORD err;

	err = pss_linux_open_pid(pid, ret_h);
	if (!err)
		return EXIT_OK;
	snprintf(r->error, sizeof(r->error), "%s",
		 err == ERROR_INVALID_PARAMETER ? "no such process" : pss_linux_error_message(err));
	return err == ERROR_ACCESS_DENIED ? EXIT_PERM : EXIT_FAILURE_;
}

/* dump_snapshot() - the capture a core needs.  Returns the exit code. */
static int dump_snapshot(HANDLE h, const struct dump_opts *o, HPSS *ret, struct dump_result *r)
{
	struct pss_linux_options opts = {
		.sz = sizeof(opts),
		.timeout_ms = o->timeout_ms,
		.flags = o->stop_all ? PSS_LINUX_CAPTURE_STOP_ALL : 0,
	};
	const char *why;
	DWORD err;
	int eno;

	/* No CONTEXT_DEBUG_REGISTERS: a core has no note for them, and their
	 * six PTRACE_PEEKUSER per thread would lengthen the pause. */
	err = pss_linux_capture(h, DUMP_FLAGS, CONTEXT_FULL | CONTEXT_SEGMENTS, &opts, ret);
	if (!err)
		return EXIT_OK;
	why = pss_linux_last_capture_error(&eno);
	snprintf(r->error, sizeof(r->error), "%s%s%s", pss_linux_error_message(err),
		 *why ? ": " : "", why);
	return err == ERROR_ACCESS_DENIED ? EXIT_PERM : EXIT_FAILURE_;
}

/* ---- one dump ---- */

static int interrupted(struct dump_result *r)
{
	snprintf(r->error, sizeof(r->error), "interrupted by %s", strsignal(dump_signal));
	return EXIT_FAILURE_;
}

/*
 * dump_write() - write the core of @s to @fd (through the compressor with
 * -z), then end the clone at once: its copy-on-write cost ends here, not
 * when the file is published.  Returns the exit code.
 */
static int dump_write(HPSS s, int fd, const struct dump_opts *o, struct progress *p,
		      struct dump_result *r)
{
	struct pss_linux_core_options co = {
		.sz = sizeof(co),
		.flags = o->all ? PSS_LINUX_CORE_ALL : 0,
		.progress = on_progress,
		.progress_ctx = p,
	};
	char why[256] = "";
	struct zsink z;
	int wfd = fd, zret = 0, eno = 0, ret;
	DWORD err;

	if (dump_signal)
		return interrupted(r);
	if (o->zstd) {
		ret = zsink_start(&z, fd, &wfd);
		if (ret) {
			snprintf(r->error, sizeof(r->error), "compressor: %s", strerror(-ret));
			return EXIT_FAILURE_;
		}
		p->failed = &z.failed;
	}
	err = pss_linux_write_core(s, wfd, &co);
	if (err)
		snprintf(why, sizeof(why), "%s", pss_linux_last_capture_error(&eno));
	pss_linux_release_clone(s);
	r->core_bytes = r->bytes = p->total;
	if (o->zstd) {
		zret = zsink_finish(&z, wfd);
		p->failed = NULL;
		r->core_bytes = z.in_bytes;
		r->bytes = z.out_bytes;
	}
	progress_end(p);
	if (dump_signal)
		return interrupted(r);
	if (zret) {
		/* The compressor's own failure, not the EPIPE it caused. */
		snprintf(r->error, sizeof(r->error), "writing %s: %s", r->file,
			 z.zerr ? z.zerr : strerror(-zret));
		return EXIT_FAILURE_;
	}
	if (err == ERROR_PARTIAL_COPY) {
		snprintf(r->error, sizeof(r->error), "some pages could not be read (written as zeros)");
		return EXIT_PARTIAL;
	}
	if (err) {
		/* The library's sentence names the failing step and errno; the
		 * generic text of the code is the fallback. */
		snprintf(r->error, sizeof(r->error), "writing %s: %s", r->file,
			 why[0] ? why : pss_linux_error_message(err));
		return EXIT_FAILURE_;
	}
	return EXIT_OK;
}

/* dump_publish() - fsync and name the file.  Returns the exit code. */
static int dump_publish(struct outfile *of, struct dump_result *r)
{
	struct stat st;
	int ret;

	if (!fstat(of->fd, &st))
		r->bytes = (unsigned long long)st.st_size;
	ret = out_commit(of);
	if (!ret)
		return EXIT_OK;
	if (ret == -EEXIST)
		snprintf(r->error, sizeof(r->error), "%s appeared during the dump; not overwritten",
			 r->file);
	else
		snprintf(r->error, sizeof(r->error), "%s: %s", r->file, strerror(-ret));
	return EXIT_FAILURE_;
}

/* dump_target() - the output file name, opened.  Returns the exit code. */
static int dump_target(pid_t pid, const struct dump_opts *o, struct outfile *of,
		       struct dump_result *r)
{
	int ret;

	if ((o->path ? snprintf(r->file, sizeof(r->file), "%s", o->path) :
	     snprintf(r->file, sizeof(r->file), "%s.%d%s", o->prefix, pid,
		      o->zstd ? ".zst" : "")) >= (int)sizeof(r->file)) {
		snprintf(r->error, sizeof(r->error), "output name too long");
		return EXIT_FAILURE_;
	}
	ret = out_open(of, r->file);
	if (!ret)
		return EXIT_OK;
	if (ret == -EEXIST)
		snprintf(r->error, sizeof(r->error), "%s exists; not overwritten", r->file);
	else
		snprintf(r->error, sizeof(r->error), "%s: %s", r->file, strerror(-ret));
	return EXIT_FAILURE_;
}

/* dump_one() - everything for one PID, in release order.  Returns the exit code. */
static int dump_one(pid_t pid, const struct dump_opts *o, struct dump_result *r)
{
	struct pss_linux_process_info li = { .sz = sizeof(li) };
	struct outfile of = { .dirfd = -1, .fd = -1 };
	PSS_PERFORMANCE_COUNTERS pc;
	struct progress p = { 0 };
	bool to_stdout = !strcmp(o->prefix, "-"), frozen = false;
	uint64_t t0 = cli_mono_ns(), tstop = 0;
	HANDLE h = NULL;
	HPSS s = NULL;
	int rc;

	if (to_stdout)
		snprintf(r->file, sizeof(r->file), "-");
	else if ((rc = dump_target(pid, o, &of, r)))
		goto out;
	h = o->handle;
	rc = h ? EXIT_OK : dump_open(pid, &h, r);
	if (rc)
		goto out_file;
	if (o->freeze) {
		frozen = freeze(h, pid);
		tstop = cli_mono_ns();
	}
	rc = dump_snapshot(h, o, &s, r);
	if (rc)
		goto out_thaw;
	pss_linux_query_process(s, &li);
	if (!PssQuerySnapshot(s, PSS_QUERY_PERFORMANCE_COUNTERS, &pc, sizeof(pc)))
		r->capture_ms = (double)pc.TotalWallClockPeriod / 1e3;
	p.name = to_stdout ? "core" : r->file;
	p.show = o->progress;
	p.tty = isatty(STDERR_FILENO);
	p.t0 = p.last = cli_mono_ns();
	rc = dump_write(s, to_stdout ? STDOUT_FILENO : of.fd, o, &p, r);
	r->pause_ms = frozen ? (double)(cli_mono_ns() - tstop) / 1e6 : (double)li.pause_ns / 1e6;
	r->deferred = li.deferred_threads;
	thaw(h, frozen);
	frozen = false;
	if (rc != EXIT_FAILURE_ && !to_stdout) {
		int prc = dump_publish(&of, r);

		if (prc)
			rc = prc;
	}
	PssFreeSnapshot(GetCurrentProcess(), s);
out_thaw:
	thaw(h, frozen);
	if (h != o->handle)
		CloseHandle(h);
out_file:
	if (!to_stdout)
		out_abort(&of);
out:
	r->seconds = (double)(cli_mono_ns() - t0) / 1e9;
	r->status = rc == EXIT_OK ? "ok" : rc == EXIT_PARTIAL ? "partial" : "failed";
	return rc;
}

int cli_dump_file(HANDLE h, pid_t pid, const char *path, bool zstd, unsigned timeout_ms,
		  bool stop_all, struct cli_dump_report *ret)
{
	struct dump_opts o = { .prefix = "core", .zstd = zstd, .timeout_ms = timeout_ms,
			       .stop_all = stop_all, .path = path, .handle = h };
	struct dump_result r;
	int rc;

	memset(&r, 0, sizeof(r));
	signals_install();
	rc = dump_one(pid, &o, &r);
	ret->bytes = r.bytes;
	ret->core_bytes = r.core_bytes;
	ret->seconds = r.seconds;
	ret->pause_ms = r.pause_ms;
	ret->signal = dump_signal;
	snprintf(ret->error, sizeof(ret->error), "%s", r.error);
	return rc;
}

/* ---- reporting ---- */

static void summary(pid_t pid, const struct dump_opts *o, const struct dump_result *r)
{
	char a[32], b[32], c[32];
	double rate = r->seconds > 0 ? (double)r->core_bytes / r->seconds : 0;

	if (!strcmp(r->status, "failed")) {
		fprintf(stderr, "pss dump: pid %d: %s\n", pid, r->error);
		return;
	}
	cli_fmt_size((double)r->bytes, a, sizeof(a));
	cli_fmt_size((double)r->core_bytes, b, sizeof(b));
	cli_fmt_size(rate, c, sizeof(c));
	if (!strcmp(r->file, "-"))
		fprintf(stderr, "pid %d (stdout): %s", pid, a);
	else
		fprintf(stderr, "%s: %s", r->file, a);
	if (o->zstd)
		fprintf(stderr, " (core %s)", b);
	fprintf(stderr, " in %.2f s (%s/s); target %s %.1f ms", r->seconds, c,
		o->freeze ? "stopped" : "paused", r->pause_ms);
	if (r->deferred)
		fprintf(stderr, " (%u idle threads read just after)", r->deferred);
	fprintf(stderr, "%s%s\n", r->error[0] ? "; " : "", r->error);
}

/* One JSON object per PID, one per line. */
static void json_result(pid_t pid, const struct dump_opts *o, const struct dump_result *r)
{
	printf("{\"pid\": %d, \"file\": ", pid);
	json_print_str(r->file);
	printf(", \"bytes\": %llu, \"core_bytes\": %llu, \"seconds\": %.6f, \"pause_ms\": %.3f, "
	       "\"deferred_threads\": %u, \"capture_ms\": %.3f, \"compressed\": %s, \"frozen\": %s, "
	       "\"status\": \"%s\"",
	       r->bytes, r->core_bytes, r->seconds, r->pause_ms, r->deferred, r->capture_ms,
	       o->zstd ? "true" : "false", o->freeze ? "true" : "false", r->status);
	if (r->error[0]) {
		printf(", \"error\": ");
		json_print_str(r->error);
	}
	printf("}\n");
	fflush(stdout);
}

/* ---- command line ---- */

static void dump_usage(FILE *f)
{
	fprintf(f,
		"Usage: pss dump [OPTIONS] PID...\n"
		"\n"
		"Write an ELF core of each process, like gcore, from a copy-on-write clone:\n"
		"the target stops only for the capture, not for the whole dump.\n"
		"\n"
		"Options:\n"
		"  -o, --output PREFIX  write PREFIX.PID (default core.PID); '-' writes the\n"
		"                       core to stdout (one PID only)\n"
		"  -p, --pid PID        a process to dump (may be repeated)\n"
		"  -a, --all            dump every mapping, ignoring coredump_filter and\n"
		"                       MADV_DONTDUMP\n"
		"  -z, --zstd           compress with zstd (PREFIX.PID.zst)\n"
		"      --freeze         keep the target stopped (SIGSTOP/SIGCONT) for the whole\n"
		"                       dump; its parent sees a stop and a continue\n"
		"      --json           print the summary as one JSON object per PID on stdout\n"
		"      --progress       show progress on stderr even when it is not a terminal\n"
		"  -t, --timeout MS     longest wait for a thread to stop (default 2000)\n"
		"      --stop-all       keep every thread in the pause (by default, with 256\n"
		"                       threads or more, idle ones are read just after it)\n"
		"  -h, --help           this text\n"
		"\n"
		"Files are created 0600 and appear only when complete; an existing file or\n"
		"symlink is never overwritten.\n"
		"\n"
		"Exit status: 0 ok, 1 partial (some PIDs failed, or pages were unreadable),\n"
		"2 failure, 64 usage, 77 permission denied (ptrace refused).\n");
}

enum { OPT_FREEZE = 0x100, OPT_JSON, OPT_PROGRESS, OPT_STOP_ALL };

/* dump_parse() - options into @o and PIDs into @pids.  Returns -1 to go on,
 * or the exit code. */
static int dump_parse(int argc, char **argv, struct dump_opts *o, pid_t *pids, int *npids)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "zstd", no_argument, NULL, 'z' },
		{ "freeze", no_argument, NULL, OPT_FREEZE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "stop-all", no_argument, NULL, OPT_STOP_ALL },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, n = 0;

	argv[0] = (char *)"pss dump";	/* getopt's messages */
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:p:azt:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->prefix = optarg;
			break;
		case 'p':
			if (cli_parse_pid(optarg, &pids[n])) {
				fprintf(stderr, "pss dump: '%s' is not a process id\n", optarg);
				return EXIT_USAGE;
			}
			n++;
			break;
		case 'a':
			o->all = true;
			break;
		case 'z':
			o->zstd = true;
			break;
		case OPT_FREEZE:
			o->freeze = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_PROGRESS:
			o->progress = true;
			break;
		case OPT_STOP_ALL:
			o->stop_all = true;
			break;
		case 't':
			o->timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			dump_usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "pss dump: see pss dump --help\n");
			return EXIT_USAGE;
		}
	}
	for (; optind < argc; optind++) {
		if (cli_parse_pid(argv[optind], &pids[n])) {
			fprintf(stderr, "pss dump: '%s' is not a process id\n", argv[optind]);
			return EXIT_USAGE;
		}
		n++;
	}
	*npids = n;
	return -1;
}

/* dump_check() - combinations that make no sense.  Returns -1 or EXIT_USAGE. */
static int dump_check(const struct dump_opts *o, int npids)
{
	bool to_stdout = !strcmp(o->prefix, "-");

	if (!npids) {
		fprintf(stderr, "pss dump: no PID given (see pss dump --help)\n");
		return EXIT_USAGE;
	}
	if (!o->prefix[0]) {
		fprintf(stderr, "pss dump: empty output prefix\n");
		return EXIT_USAGE;
	}
	if (to_stdout && npids > 1) {
		fprintf(stderr, "pss dump: -o - writes one core: give one PID\n");
		return EXIT_USAGE;
	}
	if (to_stdout && o->json) {
		fprintf(stderr, "pss dump: --json prints on stdout, which -o - uses for the core\n");
		return EXIT_USAGE;
	}
	if (to_stdout && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "pss dump: not writing a core to a terminal (redirect stdout)\n");
		return EXIT_USAGE;
	}
	return -1;
}

int cmd_dump(int argc, char **argv)
{
	struct dump_opts o = { .prefix = "core" };
	struct dump_result r;
	int i, rc, npids = 0, fails = 0, perms = 0, partial = 0;
	pid_t *pids;

	pids = calloc((size_t)argc + 1, sizeof(*pids));
	if (!pids) {
		fprintf(stderr, "pss dump: out of memory\n");
		return EXIT_FAILURE_;
	}
	rc = dump_parse(argc, argv, &o, pids, &npids);
	if (rc < 0)
		rc = dump_check(&o, npids);
	if (rc >= 0)
		goto out;
	if (!o.progress)
		o.progress = isatty(STDERR_FILENO);
	signals_install();
	for (i = 0; i < npids && !dump_signal; i++) {
		memset(&r, 0, sizeof(r));
		rc = dump_one(pids[i], &o, &r);
		summary(pids[i], &o, &r);
		if (o.json)
			json_result(pids[i], &o, &r);
		fails += rc == EXIT_FAILURE_ || rc == EXIT_PERM;
		perms += rc == EXIT_PERM;
		partial += rc == EXIT_PARTIAL;
	}
	signals_reraise();
	if (!fails && !partial)
		rc = EXIT_OK;
	else if (fails == npids)
		rc = perms == npids ? EXIT_PERM : EXIT_FAILURE_;
	else
		rc = EXIT_PARTIAL;
out:
	free(pids);
	return rc;
}
