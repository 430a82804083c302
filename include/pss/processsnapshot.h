/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <pss/processsnapshot.h> - the Windows Process Snapshotting (PSS) API on Linux.
 *
 * Names, values and x64 layouts are Windows' own, so code written against
 * Windows' processsnapshot.h compiles unchanged and P/Invoke declarations
 * keep working.  Every function returns a Win32 error code (ERROR_SUCCESS is
 * 0) and never sets GetLastError().
 *
 * How Linux fills the structures (the full tables are in PssCaptureSnapshot(3)):
 *   - a process handle is a pidfd (OpenProcess, or pss_linux_open_pid() in
 *     <pss/pss-linux.h>); GetCurrentProcess() is accepted;
 *   - PSS_CAPTURE_NONE, THREADS, HANDLES and VA_SPACE read /proc and never
 *     stop the target; THREAD_CONTEXT stops every thread for the moment it
 *     takes to read their registers (ptrace seize + interrupt, then detach);
 *   - PSS_CAPTURE_VA_CLONE adds, inside that same stop, a copy-on-write clone
 *     of the address space: a clone() injected into one target thread, which
 *     never runs and is read through VaCloneHandle (a pidfd) while the target
 *     runs on.  The pause is close to the target's own fork() time.  With the
 *     clone, VA_SPACE is the clone's map: the target's at the instant of the
 *     stop.  HANDLES is read from the target just after the stop (the clone
 *     shares the target's fd table, so it holds no file open that the target
 *     closes);
 *   - times are FILETIME (100 ns units, since 1601 for absolute times);
 *     performance wall-clock periods are microseconds (PSS_PERF_RESOLUTION);
 *   - a snapshot is immutable once captured: query and walk it from any
 *     number of threads, each with its own walk marker.
 *
 * Decisions where Windows is silent:
 *   - BufferLength must equal the structure's size, else ERROR_BAD_LENGTH;
 *   - PssWalkSnapshot with Buffer == NULL never advances: it answers
 *     ERROR_MORE_DATA while an item remains, then ERROR_NO_MORE_ITEMS;
 *   - a marker used with another snapshot or class than in its last call
 *     starts at the beginning of that sequence;
 *   - unknown and reserved capture bits are ERROR_INVALID_PARAMETER; detail
 *     bits without their base bit are ignored;
 *   - data that was not captured is ERROR_NOT_FOUND;
 *   - PSS_CAPTURE_HANDLE_TRACE is accepted and yields an empty trace;
 *     PSS_CAPTURE_IPT_TRACE is ERROR_NOT_SUPPORTED.
 */
#ifndef PSS_PROCESSSNAPSHOT_H
#define PSS_PROCESSSNAPSHOT_H

#include <pss/win32.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PSS_PERF_RESOLUTION 1000000

DECLARE_HANDLE(HPSS);
DECLARE_HANDLE(HPSSWALK);

typedef enum {
	PSS_HANDLE_NONE = 0x00,
	PSS_HANDLE_HAVE_TYPE = 0x01,
	PSS_HANDLE_HAVE_NAME = 0x02,
	PSS_HANDLE_HAVE_BASIC_INFORMATION = 0x04,
	PSS_HANDLE_HAVE_TYPE_SPECIFIC_INFORMATION = 0x08
} PSS_HANDLE_FLAGS;
DEFINE_ENUM_FLAG_OPERATORS(PSS_HANDLE_FLAGS)

typedef enum {
	PSS_OBJECT_TYPE_UNKNOWN = 0,
	PSS_OBJECT_TYPE_PROCESS = 1,
	PSS_OBJECT_TYPE_THREAD = 2,
	PSS_OBJECT_TYPE_MUTANT = 3,
	PSS_OBJECT_TYPE_EVENT = 4,
	PSS_OBJECT_TYPE_SECTION = 5,
	PSS_OBJECT_TYPE_SEMAPHORE = 6
} PSS_OBJECT_TYPE;

#if defined(__GNUC__) && !defined(__cplusplus)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"	/* 0x80000000 does not fit an int */
#endif
typedef enum {
	PSS_CAPTURE_NONE = 0x00000000,
	PSS_CAPTURE_VA_CLONE = 0x00000001,
	PSS_CAPTURE_RESERVED_00000002 = 0x00000002,
	PSS_CAPTURE_HANDLES = 0x00000004,
	PSS_CAPTURE_HANDLE_NAME_INFORMATION = 0x00000008,
	PSS_CAPTURE_HANDLE_BASIC_INFORMATION = 0x00000010,
	PSS_CAPTURE_HANDLE_TYPE_SPECIFIC_INFORMATION = 0x00000020,
	PSS_CAPTURE_HANDLE_TRACE = 0x00000040,
	PSS_CAPTURE_THREADS = 0x00000080,
	PSS_CAPTURE_THREAD_CONTEXT = 0x00000100,
	PSS_CAPTURE_THREAD_CONTEXT_EXTENDED = 0x00000200,
	PSS_CAPTURE_RESERVED_00000400 = 0x00000400,
	PSS_CAPTURE_VA_SPACE = 0x00000800,
	PSS_CAPTURE_VA_SPACE_SECTION_INFORMATION = 0x00001000,
	PSS_CAPTURE_IPT_TRACE = 0x00002000,
	PSS_CAPTURE_RESERVED_00004000 = 0x00004000,

	PSS_CREATE_BREAKAWAY_OPTIONAL = 0x04000000,
	PSS_CREATE_BREAKAWAY = 0x08000000,
	PSS_CREATE_FORCE_BREAKAWAY = 0x10000000,
	PSS_CREATE_USE_VM_ALLOCATIONS = 0x20000000,
	PSS_CREATE_MEASURE_PERFORMANCE = 0x40000000,
	PSS_CREATE_RELEASE_SECTION = 0x80000000u
} PSS_CAPTURE_FLAGS;
#if defined(__GNUC__) && !defined(__cplusplus)
#pragma GCC diagnostic pop
#endif
DEFINE_ENUM_FLAG_OPERATORS(PSS_CAPTURE_FLAGS)

typedef enum {
	PSS_QUERY_PROCESS_INFORMATION = 0,
	PSS_QUERY_VA_CLONE_INFORMATION = 1,
	PSS_QUERY_AUXILIARY_PAGES_INFORMATION = 2,
	PSS_QUERY_VA_SPACE_INFORMATION = 3,
	PSS_QUERY_HANDLE_INFORMATION = 4,
	PSS_QUERY_THREAD_INFORMATION = 5,
	PSS_QUERY_HANDLE_TRACE_INFORMATION = 6,
	PSS_QUERY_PERFORMANCE_COUNTERS = 7
} PSS_QUERY_INFORMATION_CLASS;

typedef enum {
	PSS_WALK_AUXILIARY_PAGES = 0,
	PSS_WALK_VA_SPACE = 1,
	PSS_WALK_HANDLES = 2,
	PSS_WALK_THREADS = 3,
	PSS_WALK_THREAD_NAME = 4
} PSS_WALK_INFORMATION_CLASS;

typedef enum {
	PSS_DUPLICATE_NONE = 0x00,
	PSS_DUPLICATE_CLOSE_SOURCE = 0x01
} PSS_DUPLICATE_FLAGS;
DEFINE_ENUM_FLAG_OPERATORS(PSS_DUPLICATE_FLAGS)

typedef enum {
	PSS_PROCESS_FLAGS_NONE = 0x00000000,
	PSS_PROCESS_FLAGS_PROTECTED = 0x00000001,
	PSS_PROCESS_FLAGS_WOW64 = 0x00000002,
	PSS_PROCESS_FLAGS_RESERVED_03 = 0x00000004,
	PSS_PROCESS_FLAGS_RESERVED_04 = 0x00000008,
	PSS_PROCESS_FLAGS_FROZEN = 0x00000010
} PSS_PROCESS_FLAGS;
DEFINE_ENUM_FLAG_OPERATORS(PSS_PROCESS_FLAGS)

typedef enum {
	PSS_THREAD_FLAGS_NONE = 0x0000,
	PSS_THREAD_FLAGS_TERMINATED = 0x0001
} PSS_THREAD_FLAGS;
DEFINE_ENUM_FLAG_OPERATORS(PSS_THREAD_FLAGS)

/*
 * PSS_PROCESS_INFORMATION - about the original process (query class 0).
 * Linux sources: ExitStatus STILL_ACTIVE; PebBaseAddress = arg_start of
 * /proc/PID/stat; AffinityMask from sched_getaffinity (first 64 CPUs);
 * BasePriority/PriorityClass from nice and policy (table in
 * PssCaptureSnapshot(3)); times from stat; counters from status (VmPeak,
 * VmSize, VmHWM, VmRSS, VmSwap) and smaps_rollup; Flags FROZEN when stopped
 * or traced, PROTECTED when not dumpable, WOW64 for an ia32 process;
 * ImageFileName = /proc/PID/exe in UTF-16, NUL-terminated, truncated.
 */
typedef struct {
	DWORD ExitStatus;
	void *PebBaseAddress;
	ULONG_PTR AffinityMask;
	LONG BasePriority;
	DWORD ProcessId;
	DWORD ParentProcessId;
	PSS_PROCESS_FLAGS Flags;
	FILETIME CreateTime;
	FILETIME ExitTime;
	FILETIME KernelTime;
	FILETIME UserTime;
	DWORD PriorityClass;
	ULONG_PTR PeakVirtualSize;
	ULONG_PTR VirtualSize;
	DWORD PageFaultCount;
	ULONG_PTR PeakWorkingSetSize;
	ULONG_PTR WorkingSetSize;
	ULONG_PTR QuotaPeakPagedPoolUsage;
	ULONG_PTR QuotaPagedPoolUsage;
	ULONG_PTR QuotaPeakNonPagedPoolUsage;
	ULONG_PTR QuotaNonPagedPoolUsage;
	ULONG_PTR PagefileUsage;
	ULONG_PTR PeakPagefileUsage;
	ULONG_PTR PrivateUsage;
	DWORD ExecuteFlags;
	WCHAR ImageFileName[MAX_PATH];
} PSS_PROCESS_INFORMATION;

typedef struct {
	HANDLE VaCloneHandle;
} PSS_VA_CLONE_INFORMATION;

typedef struct {
	DWORD AuxPagesCaptured;
} PSS_AUXILIARY_PAGES_INFORMATION;

typedef struct {
	DWORD RegionCount;
} PSS_VA_SPACE_INFORMATION;

typedef struct {
	DWORD HandlesCaptured;
} PSS_HANDLE_INFORMATION;

typedef struct {
	DWORD ThreadsCaptured;
	DWORD ContextLength;
} PSS_THREAD_INFORMATION;

typedef struct {
	HANDLE SectionHandle;
	DWORD Size;
} PSS_HANDLE_TRACE_INFORMATION;

typedef struct {
	UINT64 TotalCycleCount;
	UINT64 TotalWallClockPeriod;
	UINT64 VaCloneCycleCount;
	UINT64 VaCloneWallClockPeriod;
	UINT64 VaSpaceCycleCount;
	UINT64 VaSpaceWallClockPeriod;
	UINT64 AuxPagesCycleCount;
	UINT64 AuxPagesWallClockPeriod;
	UINT64 HandlesCycleCount;
	UINT64 HandlesWallClockPeriod;
	UINT64 ThreadsCycleCount;
	UINT64 ThreadsWallClockPeriod;
} PSS_PERFORMANCE_COUNTERS;

typedef struct {
	void *Address;
	MEMORY_BASIC_INFORMATION BasicInformation;
	FILETIME CaptureTime;
	void *PageContents;
	DWORD PageSize;
} PSS_AUXILIARY_PAGE_ENTRY;

/*
 * PSS_VA_SPACE_ENTRY - one region.  Linux: each mapping of /proc/PID/maps and
 * each gap between them (MEM_FREE).  PROT_NONE anonymous mappings are
 * MEM_RESERVE; anonymous private memory MEM_PRIVATE; ELF files MEM_IMAGE;
 * other files and shared memory MEM_MAPPED.  AllocationBase is the start of
 * the first mapping of the same file (or the region itself).  For MEM_IMAGE
 * with section information: ImageBase = load address, SizeOfImage = span of
 * the object's mappings, and CheckSum/TimeDateStamp = the first 8 bytes of
 * its GNU build-id (0 without one).
 */
typedef struct {
	void *BaseAddress;
	void *AllocationBase;
	DWORD AllocationProtect;
	ULONG_PTR RegionSize;
	DWORD State;
	DWORD Protect;
	DWORD Type;
	DWORD TimeDateStamp;
	DWORD SizeOfImage;
	void *ImageBase;
	DWORD CheckSum;
	WORD MappedFileNameLength;
	const WCHAR *MappedFileName;
} PSS_VA_SPACE_ENTRY;

/*
 * PSS_HANDLE_ENTRY - one file descriptor.  Handle is the fd number;
 * ObjectName the /proc/PID/fd link; TypeName one of File, Directory, Pipe,
 * Socket, EventFd, Epoll, TimerFd, SignalFd, Inotify, PidFd, MemFd,
 * CharDevice, BlockDevice, AnonInode.  pidfds are Process, eventfds Event
 * (Semaphore with EFD_SEMAPHORE), memfds Section; others Unknown.
 */
typedef struct {
	HANDLE Handle;
	PSS_HANDLE_FLAGS Flags;
	PSS_OBJECT_TYPE ObjectType;
	FILETIME CaptureTime;
	DWORD Attributes;
	DWORD GrantedAccess;
	DWORD HandleCount;
	DWORD PointerCount;
	DWORD PagedPoolCharge;
	DWORD NonPagedPoolCharge;
	FILETIME CreationTime;
	WORD TypeNameLength;
	const WCHAR *TypeName;
	WORD ObjectNameLength;
	const WCHAR *ObjectName;
	union {
		struct {
			DWORD ExitStatus;
			void *PebBaseAddress;
			ULONG_PTR AffinityMask;
			LONG BasePriority;
			DWORD ProcessId;
			DWORD ParentProcessId;
			DWORD Flags;
		} Process;
		struct {
			DWORD ExitStatus;
			void *TebBaseAddress;
			DWORD ProcessId;
			DWORD ThreadId;
			ULONG_PTR AffinityMask;
			int Priority;
			int BasePriority;
			void *Win32StartAddress;
		} Thread;
		struct {
			LONG CurrentCount;
			BOOL Abandoned;
			DWORD OwnerProcessId;
			DWORD OwnerThreadId;
		} Mutant;
		struct {
			BOOL ManualReset;
			BOOL Signaled;
		} Event;
		struct {
			void *BaseAddress;
			DWORD AllocationAttributes;
			LARGE_INTEGER MaximumSize;
		} Section;
		struct {
			LONG CurrentCount;
			LONG MaximumCount;
		} Semaphore;
	} TypeSpecificInformation;
} PSS_HANDLE_ENTRY;

/*
 * PSS_THREAD_ENTRY - one thread.  TebBaseAddress = fs_base (the TLS
 * pointer; 0 without THREAD_CONTEXT); LastSyscallNumber and
 * LastSyscallFirstArgument = the syscall the thread is in (from
 * /proc/TID/syscall, or its registers when stopped), else 0xFFFF and NULL;
 * Win32StartAddress = AT_ENTRY for the main thread, else 0; SuspendCount 1
 * if the thread was stopped before the capture; Priority/BasePriority are NT
 * levels (normal = 8).  ContextRecord is NULL unless contexts were captured.
 */
typedef struct {
	DWORD ExitStatus;
	void *TebBaseAddress;
	DWORD ProcessId;
	DWORD ThreadId;
	ULONG_PTR AffinityMask;
	int Priority;
	int BasePriority;
	void *LastSyscallFirstArgument;
	WORD LastSyscallNumber;
	FILETIME CreateTime;
	FILETIME ExitTime;
	FILETIME KernelTime;
	FILETIME UserTime;
	void *Win32StartAddress;
	FILETIME CaptureTime;
	PSS_THREAD_FLAGS Flags;
	WORD SuspendCount;
	WORD SizeOfContextRecord;
	CONTEXT *ContextRecord;
} PSS_THREAD_ENTRY;

typedef struct {
	WORD ThreadNameSize;
	const WCHAR *ThreadName;
} PSS_THREAD_NAME;

typedef struct {
	void *Context;
	void *(WINAPI *AllocRoutine)(void *Context, DWORD Size);
	void (WINAPI *FreeRoutine)(void *Context, void *Address);
} PSS_ALLOCATOR;

/**
 * PssCaptureSnapshot() - capture a snapshot of a process.
 * @ProcessHandle:      a pidfd handle (OpenProcess) or GetCurrentProcess();
 *                      it may be closed as soon as the call returns.
 * @CaptureFlags:       PSS_CAPTURE_* and PSS_CREATE_* bits.
 * @ThreadContextFlags: CONTEXT_* flags (CONTEXT_AMD64 based) for
 *                      PSS_CAPTURE_THREAD_CONTEXT; ignored otherwise.
 *                      PSS_CAPTURE_THREAD_CONTEXT_EXTENDED adds CONTEXT_XSTATE.
 * @SnapshotHandle:     receives the snapshot; set to NULL first.
 *
 * The breakaway flags are accepted and have no effect (a Linux clone stays
 * in the target's cgroup).  PSS_CREATE_USE_VM_ALLOCATIONS makes every
 * allocation of the capture and of the snapshot come from mmap, never the
 * heap.  PSS_CREATE_RELEASE_SECTION is accepted.
 *
 * Return: ERROR_SUCCESS; ERROR_INVALID_PARAMETER (NULL @SnapshotHandle,
 * reserved or unknown bits, bad @ThreadContextFlags); ERROR_INVALID_HANDLE
 * (not a process handle, or the process is gone or is a zombie);
 * ERROR_ACCESS_DENIED (ptrace or /proc access refused, the target is already
 * traced, a kernel thread); ERROR_NOT_SUPPORTED (PSS_CAPTURE_IPT_TRACE; a VA
 * clone of a vfork child, of a seccomp target without CAP_SYS_ADMIN, or with
 * syscall user dispatch on); ERROR_NO_SYSTEM_RESOURCES (no thread can safely
 * run the clone syscall, threads keep appearing, the pids limit refused the
 * clone); ERROR_NOT_ENOUGH_MEMORY; ERROR_TIMEOUT (a thread did not stop in
 * time, e.g. a vfork parent).  After a failure the target runs on exactly as
 * before.  Safe to call from any thread, also on the calling process itself.
 */
PSS_API DWORD PssCaptureSnapshot(HANDLE ProcessHandle, PSS_CAPTURE_FLAGS CaptureFlags,
				 DWORD ThreadContextFlags, HPSS *SnapshotHandle);

/**
 * PssFreeSnapshot() - free a snapshot and everything it owns.
 * @ProcessHandle:  the process the descriptor lives in: GetCurrentProcess()
 *                  (a handle to the calling process itself is accepted too).
 * With the last descriptor of a snapshot its VA clone is killed and reaped,
 * and the corpse the kernel hands back to the target (its parent) is reaped
 * by a wait4 injected into one target thread (a stop of that thread of about
 * a millisecond): no process or zombie is left.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE for NULL, unknown or already
 * freed snapshots; ERROR_NOT_SUPPORTED for another process.  Walk markers
 * stay allocated; walking a freed snapshot gives ERROR_INVALID_HANDLE.
 */
PSS_API DWORD PssFreeSnapshot(HANDLE ProcessHandle, HPSS SnapshotHandle);

/**
 * PssQuerySnapshot() - copy one single-instance record into @Buffer.
 * @BufferLength must be the record's size.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE; ERROR_INVALID_PARAMETER
 * (unknown class, NULL @Buffer); ERROR_BAD_LENGTH; ERROR_NOT_FOUND (not
 * captured).  Checks are made in that order.
 */
PSS_API DWORD PssQuerySnapshot(HPSS SnapshotHandle, PSS_QUERY_INFORMATION_CLASS InformationClass,
			       void *Buffer, DWORD BufferLength);

/**
 * PssWalkSnapshot() - return the item at the marker's position and advance.
 * Strings and context records in the entry live in memory owned by the
 * marker (from its allocator) until PssWalkMarkerFree.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE (snapshot or marker);
 * ERROR_INVALID_PARAMETER (unknown class); ERROR_BAD_LENGTH; ERROR_NOT_FOUND
 * (not captured); ERROR_MORE_DATA (@Buffer NULL and an item remains);
 * ERROR_NO_MORE_ITEMS; ERROR_NOT_ENOUGH_MEMORY (the marker's allocator failed;
 * the marker does not advance).
 */
PSS_API DWORD PssWalkSnapshot(HPSS SnapshotHandle, PSS_WALK_INFORMATION_CLASS InformationClass,
			      HPSSWALK WalkMarkerHandle, void *Buffer, DWORD BufferLength);

/**
 * PssDuplicateSnapshot() - duplicate a snapshot descriptor.  Only within the
 * calling process: the copy is freed independently (its VA clone handle is a
 * duplicate too).  PSS_DUPLICATE_CLOSE_SOURCE frees the source, even when the
 * duplication fails, and only for snapshots captured with
 * PSS_CREATE_USE_VM_ALLOCATIONS.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE; ERROR_INVALID_PARAMETER (NULL
 * @TargetSnapshotHandle, unknown flags); ERROR_NOT_SUPPORTED (another
 * process, or CLOSE_SOURCE without VM allocations); ERROR_NOT_ENOUGH_MEMORY.
 */
PSS_API DWORD PssDuplicateSnapshot(HANDLE SourceProcessHandle, HPSS SnapshotHandle,
				   HANDLE TargetProcessHandle, HPSS *TargetSnapshotHandle,
				   PSS_DUPLICATE_FLAGS Flags);

/**
 * PssWalkMarkerCreate() - create a walk marker at the beginning.
 * @Allocator: optional; must outlive the marker.  Its routines are called
 *             only from PssWalkMarkerCreate, PssWalkSnapshot and
 *             PssWalkMarkerFree, on the calling thread.
 * Return: ERROR_SUCCESS; ERROR_INVALID_PARAMETER (NULL @WalkMarkerHandle, or
 * an allocator without routines); ERROR_NOT_ENOUGH_MEMORY.
 */
PSS_API DWORD PssWalkMarkerCreate(PSS_ALLOCATOR const *Allocator, HPSSWALK *WalkMarkerHandle);

/** PssWalkMarkerFree() - free a marker and all it handed out. ERROR_INVALID_HANDLE for a bad one. */
PSS_API DWORD PssWalkMarkerFree(HPSSWALK WalkMarkerHandle);

/** PssWalkMarkerGetPosition() - store the marker's opaque position in @Position. */
PSS_API DWORD PssWalkMarkerGetPosition(HPSSWALK WalkMarkerHandle, ULONG_PTR *Position);

/**
 * PssWalkMarkerSetPosition() - restore a position from PssWalkMarkerGetPosition.
 * Return: ERROR_SUCCESS; ERROR_INVALID_HANDLE; ERROR_INVALID_PARAMETER for a
 * position that cannot be one.
 */
PSS_API DWORD PssWalkMarkerSetPosition(HPSSWALK WalkMarkerHandle, ULONG_PTR Position);

/** PssWalkMarkerSeekToBeginning() - rewind the marker. */
PSS_API DWORD PssWalkMarkerSeekToBeginning(HPSSWALK WalkMarkerHandle);

#ifdef __cplusplus
}
#endif

#endif /* PSS_PROCESSSNAPSHOT_H */
