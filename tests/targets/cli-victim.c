// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli-victim - the target of the pss command-line tests (test-cli).
 *
 * What pss must find in it, all known to the test:
 *   threads   "cli-read" blocked in cli_wait_read() (read on a pipe nobody
 *             writes), "cli-lock" in cli_wait_lock() (a mutex the main
 *             thread holds), "cli-pause" in cli_wait_pause() (pause()); the
 *             main thread reads commands
 *   mappings  5 read-only anonymous pages between two PROT_NONE guard pages
 *             (so the kernel cannot merge them with a neighbour); a memfd
 *             "cli-memfd" mapped shared; the file argv[1] mapped read-only
 *   fds       a TCP listener on 127.0.0.1 (port chosen by the kernel), an
 *             eventfd holding 5, the pipe, the memfd
 *
 * It prints "ready <pid>" and answers one line per command on stdin:
 *   info          tid_read= tid_lock= tid_pause= anon= anon_len= memfd=
 *                 memfd_addr= file_addr= listen= port= efd= pipe_r= pipe_w=
 *   become UID    setresgid/setresuid to UID in every thread, then
 *                 PR_SET_DUMPABLE 0 -> ok
 *   rename HEX    name the pause thread with these raw bytes (any bytes but
 *                 NUL, at most 15) -> ok
 *   exit
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define PAGE 4096u

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static volatile pid_t tids[3];
static volatile long sink;

__attribute__((noinline)) long cli_wait_read(int fd)
{
	char c;
	long r = read(fd, &c, 1);

	sink += r;
	return r;
}

__attribute__((noinline)) long cli_wait_lock(void)
{
	long r = pthread_mutex_lock(&held);

	sink += r;
	return r;
}

__attribute__((noinline)) long cli_wait_pause(void)
{
	long r = pause();

	sink += r;
	return r;
}

static void *thread_read(void *arg)
{
	prctl(PR_SET_NAME, "cli-read");
	tids[0] = (pid_t)syscall(SYS_gettid);
	for (;;)
		cli_wait_read((int)(intptr_t)arg);
	return NULL;
}

static void *thread_lock(void *arg)
{
	prctl(PR_SET_NAME, "cli-lock");
	tids[1] = (pid_t)syscall(SYS_gettid);
	for (;;)
		cli_wait_lock();
	return NULL;
}

static void *thread_pause(void *arg)
{
	prctl(PR_SET_NAME, "cli-pause");
	tids[2] = (pid_t)syscall(SYS_gettid);
	for (;;)
		cli_wait_pause();
	return NULL;
}

static int listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	char line[256], *anon, *mem, *file = NULL;
	int p[2], memfd, lfd, efd, port = 0, ffd;
	char hex[64], name[16];
	pthread_t th, th_pause;
	unsigned uid, byte;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_mutex_lock(&held);
	anon = mmap(NULL, 7 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED || mprotect(anon + PAGE, 5 * PAGE, PROT_READ))
		return 1;
	anon += PAGE;
	memfd = memfd_create("cli-memfd", 0);
	if (memfd < 0 || ftruncate(memfd, 3 * PAGE))
		return 1;
	mem = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		return 1;
	memset(mem, 0x5a, 3 * PAGE);
	if (argc > 1) {
		ffd = open(argv[1], O_RDONLY | O_CLOEXEC);
		if (ffd < 0)
			return 1;
		file = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, ffd, 0);
		close(ffd);
		if (file == MAP_FAILED)
			return 1;
	}
	lfd = listener(&port);
	efd = eventfd(5, 0);
	if (lfd < 0 || efd < 0 || pipe(p))
		return 1;
	pthread_create(&th, NULL, thread_read, (void *)(intptr_t)p[0]);
	pthread_create(&th, NULL, thread_lock, NULL);
	pthread_create(&th_pause, NULL, thread_pause, NULL);
	while (!tids[0] || !tids[1] || !tids[2])
		usleep(1000);
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "info")) {
			printf("tid_read=%d tid_lock=%d tid_pause=%d anon=%p anon_len=%u memfd=%d "
			       "memfd_addr=%p file_addr=%p listen=%d port=%d efd=%d pipe_r=%d "
			       "pipe_w=%d\n", tids[0], tids[1], tids[2], (void *)anon, 5 * PAGE,
			       memfd, (void *)mem, (void *)file, lfd, port, efd, p[0], p[1]);
		} else if (sscanf(line, "become %u", &uid) == 1) {
			if (setresgid(uid, uid, uid) || setresuid(uid, uid, uid) ||
			    prctl(PR_SET_DUMPABLE, 0))
				printf("error become %s\n", strerror(errno));
			else
				printf("ok\n");
		} else if (sscanf(line, "rename %63s", hex) == 1) {
			for (i = 0; i < 15 && sscanf(hex + 2 * i, "%2x", &byte) == 1; i++)
				name[i] = (char)byte;
			name[i] = '\0';
			errno = pthread_setname_np(th_pause, name);
			printf(errno ? "error rename %s\n" : "ok\n", strerror(errno));
		} else if (!strcmp(line, "exit")) {
			return 0;
		} else {
			printf("error unknown command\n");
		}
	}
	return 0;
}
