// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * matrix-victim - a single-threaded target whose credentials the tests
 * choose (fault matrix rows 57-59: who may trace whom).
 *
 * It prints "ready <pid>" and answers one line per command on stdin:
 *   become UID DUMPABLE CAP  setgroups(0), setresgid/setresuid to UID, keep
 *                            capability number CAP in the permitted set
 *                            (-1: none), then PR_SET_DUMPABLE DUMPABLE
 *                            -> "ok uid=U dumpable=D"
 *   ptracer-any              PR_SET_PTRACER_ANY (Yama) -> "ok" or "error ..."
 *   map HEX                  mmap one page of the file whose path is HEX
 *                            (hex bytes: any byte but NUL, a newline too)
 *                            read-only, private -> "addr=0x..."
 *   recv MS                  a thread blocks in recvfrom() on a socketpair
 *                            with SO_RCVTIMEO of MS ms (row 8) -> "tid=T"
 *   recv-result              join it -> "ret=R errno=E ms=ELAPSED"
 *   ping                     -> "pong pid=PID"
 *   exit N
 * Until "recv" it is single-threaded, so the credentials "become" sets on
 * its one thread are the process's.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/capability.h>
/* the spinner is not used here */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "victim-common.h"

static void cmd_become(const char *arg)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
	int uid = -1, dumpable = 1, cap = -1;

	if (sscanf(arg, "%d %d %d", &uid, &dumpable, &cap) != 3 || uid < 0 || cap >= 64) {
		reply("error usage: become UID DUMPABLE CAP");
		return;
	}
	if (cap >= 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)) {
		reply("error keepcaps: %s", strerror(errno));
		return;
	}
	if (setgroups(0, NULL) || setresgid((gid_t)uid, (gid_t)uid, (gid_t)uid) ||
	    setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid)) {
		reply("error setresuid: %s", strerror(errno));
		return;
	}
	if (cap >= 0) {
		/* only @cap stays, permitted but not effective */
		d[cap / 32].permitted = 1u << (cap % 32);
		if (syscall(SYS_capset, &h, d)) {
			reply("error capset: %s", strerror(errno));
			return;
		}
	}
	/* the uid change reset it to fs.suid_dumpable */
	if (prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0)) {
		reply("error dumpable: %s", strerror(errno));
		return;
	}
	reply("ok uid=%d dumpable=%d", (int)getuid(), prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

static void cmd_map(const char *hex)
{
	char path[1024];
	size_t n = 0;
	unsigned byte;
	void *p;
	int fd;

	while (n + 1 < sizeof(path) && sscanf(hex + 2 * n, "%2x", &byte) == 1 && byte)
		path[n++] = (char)byte;
	path[n] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		reply("error open: %s", strerror(errno));
		return;
	}
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		reply("error mmap: %s", strerror(errno));
	else
		reply("addr=%p", p);
}

static struct {
	int fd[2];
	pthread_t th;
	pid_t tid;
	long ret;
	int err;
	uint64_t ns;
} rcv;

static void *recv_thread(void *arg)
{
	uint64_t t0 = mono_ns();
	char c;

	rcv.tid = gettid_();
	rcv.ret = syscall(SYS_recvfrom, rcv.fd[0], &c, 1, 0, NULL, NULL);
	rcv.err = rcv.ret < 0 ? errno : 0;
	rcv.ns = mono_ns() - t0;
	return NULL;
}

static void cmd_recv(unsigned ms)
{
	struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000 };
	sigset_t all, old;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rcv.fd) ||
	    setsockopt(rcv.fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		reply("error recv: %s", strerror(errno));
		return;
	}
	/* no signal of ours ever interrupts it */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rcv.tid = start_thread(&rcv.th, recv_thread, NULL, "recv", &all);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	reply("tid=%d", rcv.tid);
}

static void command(char *line)
{
	char *arg = cmd_split(line);

	if (!strcmp(line, "ping")) {
		reply("pong pid=%d", getpid());
	} else if (!strcmp(line, "become")) {
		cmd_become(arg);
	} else if (!strcmp(line, "map")) {
		cmd_map(arg);
	} else if (!strcmp(line, "recv")) {
		cmd_recv((unsigned)atoi(arg));
	} else if (!strcmp(line, "recv-result")) {
		pthread_join(rcv.th, NULL);
		reply("ret=%ld errno=%d ms=%llu", rcv.ret, rcv.err, (unsigned long long)(rcv.ns / 1000000));
	} else if (!strcmp(line, "ptracer-any")) {
		if (prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0))
			reply("error ptracer: %s", strerror(errno));
		else
			reply("ok");
	} else if (!strcmp(line, "exit")) {
		reply("bye");
		_exit(atoi(arg));
	} else {
		reply("error unknown command %s", line);
	}
}

int main(void)
{
	return serve(command);
}
