// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * demo-target - the process `make demo` captures.
 *
 * Four threads with something to show: a worker doing light CPU work, one
 * thread blocked in read() on a pipe, one in nanosleep, one in epoll_wait;
 * open files of several kinds (a temp file, a TCP listener on 127.0.0.1, a
 * unix socketpair, an eventfd).  It prints its pid and runs until killed or
 * until the given number of seconds (default 600) has passed.
 *
 *   demo-target [seconds]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>

static int pipe_fds[2];
static int epfd;
static volatile unsigned long work_done;

/* A worker that computes a little and rests a little. */
static void *worker(void *arg)
{
	prctl(PR_SET_NAME, "demo-worker");
	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		unsigned long x = 1;

		for (int i = 0; i < 200000; i++)
			x = x * 6364136223846793005ul + 1442695040888963407ul;
		work_done += x & 1;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *reader(void *arg)
{
	char c;

	prctl(PR_SET_NAME, "demo-reader");
	while (read(pipe_fds[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static void *sleeper(void *arg)
{
	prctl(PR_SET_NAME, "demo-sleeper");
	for (;;) {
		struct timespec ts = { 3600, 0 };

		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *poller(void *arg)
{
	struct epoll_event ev;

	prctl(PR_SET_NAME, "demo-epoll");
	for (;;)
		epoll_wait(epfd, &ev, 1, -1);
	return NULL;
}

static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	unsigned seconds = argc > 1 ? (unsigned)atoi(argv[1]) : 600;
	char path[] = "/tmp/pss-demo-XXXXXX";
	struct epoll_event ev = { .events = EPOLLIN };
	void *(*fns[])(void *) = { worker, reader, sleeper, poller };
	int sv[2], efd, tmp, tcp, port = 0;
	pthread_t th;

	tmp = mkstemp(path);
	if (tmp >= 0) {
		unlink(path);	/* shows as "(deleted)" in the fd list */
		if (write(tmp, "libpss demo\n", 12) != 12)
			perror("write");
	}
	if (pipe2(pipe_fds, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("pipe/socketpair");
		return 1;
	}
	efd = eventfd(0, EFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = efd;
	if (efd < 0 || epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) < 0) {
		perror("eventfd/epoll");
		return 1;
	}
	tcp = listener(&port);
	if (tcp < 0) {
		perror("listener");
		return 1;
	}
	for (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (pthread_create(&th, NULL, fns[i], NULL)) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	printf("%d\n", getpid());
	fflush(stdout);
	fprintf(stderr, "demo-target: pid %d, 5 threads, listening on 127.0.0.1:%d, exits in %u s\n",
		getpid(), port, seconds);
	sleep(seconds);
	return 0;
}
