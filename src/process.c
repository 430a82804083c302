// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Process handles and the Win32 functions of <pss/win32.h> that take them.
 *
 * A process HANDLE is a pidfd, (HANDLE)(intptr_t)fd; GetCurrentProcess()
 * is (HANDLE)-1.  Memory is read with pread on /proc/PID/mem, never
 * process_vm_readv: on a VA clone the latter unshares every page it reads.
 */
#include "snapshot.h"
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

static __thread DWORD last_error;

PSS_API DWORD GetLastError(void)
{
	return last_error;
}

PSS_API void SetLastError(DWORD dwErrCode)
{
	last_error = dwErrCode;
}

int handle_to_pidfd(HANDLE h, bool *ret_is_self)
{
	intptr_t v = (intptr_t)h;

	*ret_is_self = h == PSS_CURRENT_PROCESS_HANDLE;
	if (*ret_is_self)
		return -EBADF;
	if (v < 0 || v > INT_MAX)
		return -EBADF;
	return pidfd_check((int)v) ?: (int)v;
}

/* The pid behind a handle, -errno if it is not one or the process was reaped. */
static pid_t handle_pid(HANDLE h)
{
	bool self;
	int fd = handle_to_pidfd(h, &self);

	if (self)
		return getpid();
	if (fd < 0)
		return -EBADF;
	return pidfd_get_pid(fd);
}

PSS_API DWORD pss_linux_open_pid(pid_t pid, HANDLE *ret_handle)
{
	int fd;

	if (!ret_handle || pid <= 0)
		return ERROR_INVALID_PARAMETER;
	fd = pidfd_open_pid(pid);
	/* ESRCH: no such process; EINVAL/ENOENT: a thread id, not a process. */
	if (fd == -ESRCH || fd == -EINVAL || fd == -ENOENT)
		return ERROR_INVALID_PARAMETER;
	if (fd < 0)
		return errno_to_win32(fd);
	*ret_handle = (HANDLE)(intptr_t)fd;
	return ERROR_SUCCESS;
}

PSS_API DWORD pss_linux_open_pidfd(int pidfd, HANDLE *ret_handle)
{
	int fd;

	if (!ret_handle)
		return ERROR_INVALID_PARAMETER;
	if (!is_pidfd(pidfd))
		return ERROR_INVALID_HANDLE;
	fd = fd_dup_cloexec(pidfd);
	if (fd < 0)
		return errno_to_win32(fd);
	*ret_handle = (HANDLE)(intptr_t)fd;
	return ERROR_SUCCESS;
}

PSS_API int pss_linux_handle_pidfd(HANDLE handle)
{
	bool self;
	int fd = handle_to_pidfd(handle, &self);

	return fd < 0 ? -1 : fd;
}

PSS_API HANDLE OpenProcess(DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwProcessId)
{
	HANDLE h = NULL;
	DWORD err;

	if (dwProcessId == 0 || dwProcessId > INT_MAX) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return NULL;
	}
	err = pss_linux_open_pid((pid_t)dwProcessId, &h);
	if (err) {
		SetLastError(err);
		return NULL;
	}
	if (bInheritHandle)
		fcntl((int)(intptr_t)h, F_SETFD, 0);
	return h;
}

PSS_API BOOL CloseHandle(HANDLE hObject)
{
	bool self;
	int fd = handle_to_pidfd(hObject, &self);

	if (self)
		return TRUE;
	/* Out of memory checking it (not -EBADF): close it all the same, or
	 * a failed check would leak the caller's descriptor. */
	if (fd < 0 && fd != -EBADF)
		fd = (int)(intptr_t)hObject;
	if (fd < 0 || close(fd)) {
		SetLastError(ERROR_INVALID_HANDLE);
		return FALSE;
	}
	return TRUE;
}

PSS_API DWORD GetProcessId(HANDLE Process)
{
	pid_t pid = handle_pid(Process);

	if (pid <= 0) {
		SetLastError(ERROR_INVALID_HANDLE);
		return 0;
	}
	return (DWORD)pid;
}

/* Open /proc/PID/mem of a handle's process for reading. */
static int handle_open_mem(HANDLE h)
{
	char path[64];
	pid_t pid = handle_pid(h);
	int fd;

	if (pid <= 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -EBADF : -errno;
	return fd;
}

PSS_API BOOL ReadProcessMemory(HANDLE hProcess, LPCVOID lpBaseAddress, LPVOID lpBuffer,
			       SIZE_T nSize, SIZE_T *lpNumberOfBytesRead)
{
	uint64_t addr = (uint64_t)(uintptr_t)lpBaseAddress;
	size_t done = 0;
	ssize_t r;
	int fd;

	if (lpNumberOfBytesRead)
		*lpNumberOfBytesRead = 0;
	if (!lpBuffer && nSize) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	fd = handle_open_mem(hProcess);
	if (fd < 0) {
		SetLastError(fd == -EBADF ? ERROR_INVALID_HANDLE : ERROR_ACCESS_DENIED);
		return FALSE;
	}
	while (done < nSize) {
		/* /proc/PID/mem takes the address as the file offset: beyond
		 * INT64_MAX it is not a user address at all. */
		if (addr + done > (uint64_t)INT64_MAX)
			break;
		r = pread(fd, (char *)lpBuffer + done, nSize - done, (off_t)(addr + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	close(fd);
	if (lpNumberOfBytesRead)
		*lpNumberOfBytesRead = done;
	if (done == nSize)
		return TRUE;
	SetLastError(done ? ERROR_PARTIAL_COPY : ERROR_NOACCESS);
	return FALSE;
}
