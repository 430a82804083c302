/* Every size and offset of the spec's x64 tables (spec/pss-api.md sections
 * 5, 8 and 9), as compile-time assertions shared by the C and C++ builds. */
#include <stddef.h>
#ifdef __cplusplus
#define SA static_assert
#define ALIGNOF alignof
#else
#define SA _Static_assert
#define ALIGNOF _Alignof
#endif
#define SIZE(t, n) SA(sizeof(t) == (n), "sizeof " #t)
#define OFF(t, f, n) SA(offsetof(t, f) == (n), #t "." #f)

SIZE(DWORD, 4); SIZE(LONG, 4); SIZE(WORD, 2); SIZE(WCHAR, 2); SIZE(BOOL, 4);
SIZE(ULONG_PTR, 8); SIZE(SIZE_T, 8); SIZE(HANDLE, 8); SIZE(ULONGLONG, 8);

SIZE(PSS_PROCESS_INFORMATION, 704);
OFF(PSS_PROCESS_INFORMATION, ExitStatus, 0);
OFF(PSS_PROCESS_INFORMATION, PebBaseAddress, 8);
OFF(PSS_PROCESS_INFORMATION, AffinityMask, 16);
OFF(PSS_PROCESS_INFORMATION, BasePriority, 24);
OFF(PSS_PROCESS_INFORMATION, ProcessId, 28);
OFF(PSS_PROCESS_INFORMATION, ParentProcessId, 32);
OFF(PSS_PROCESS_INFORMATION, Flags, 36);
OFF(PSS_PROCESS_INFORMATION, CreateTime, 40);
OFF(PSS_PROCESS_INFORMATION, ExitTime, 48);
OFF(PSS_PROCESS_INFORMATION, KernelTime, 56);
OFF(PSS_PROCESS_INFORMATION, UserTime, 64);
OFF(PSS_PROCESS_INFORMATION, PriorityClass, 72);
OFF(PSS_PROCESS_INFORMATION, PeakVirtualSize, 80);
OFF(PSS_PROCESS_INFORMATION, VirtualSize, 88);
OFF(PSS_PROCESS_INFORMATION, PageFaultCount, 96);
OFF(PSS_PROCESS_INFORMATION, PeakWorkingSetSize, 104);
OFF(PSS_PROCESS_INFORMATION, WorkingSetSize, 112);
OFF(PSS_PROCESS_INFORMATION, QuotaPeakPagedPoolUsage, 120);
OFF(PSS_PROCESS_INFORMATION, QuotaPagedPoolUsage, 128);
OFF(PSS_PROCESS_INFORMATION, QuotaPeakNonPagedPoolUsage, 136);
OFF(PSS_PROCESS_INFORMATION, QuotaNonPagedPoolUsage, 144);
OFF(PSS_PROCESS_INFORMATION, PagefileUsage, 152);
OFF(PSS_PROCESS_INFORMATION, PeakPagefileUsage, 160);
OFF(PSS_PROCESS_INFORMATION, PrivateUsage, 168);
OFF(PSS_PROCESS_INFORMATION, ExecuteFlags, 176);
OFF(PSS_PROCESS_INFORMATION, ImageFileName, 180);

SIZE(PSS_VA_CLONE_INFORMATION, 8);
SIZE(PSS_AUXILIARY_PAGES_INFORMATION, 4);
SIZE(PSS_VA_SPACE_INFORMATION, 4);
SIZE(PSS_HANDLE_INFORMATION, 4);
SIZE(PSS_THREAD_INFORMATION, 8);
OFF(PSS_THREAD_INFORMATION, ContextLength, 4);
SIZE(PSS_HANDLE_TRACE_INFORMATION, 16);
OFF(PSS_HANDLE_TRACE_INFORMATION, Size, 8);

SIZE(PSS_PERFORMANCE_COUNTERS, 96);
OFF(PSS_PERFORMANCE_COUNTERS, TotalCycleCount, 0);
OFF(PSS_PERFORMANCE_COUNTERS, TotalWallClockPeriod, 8);
OFF(PSS_PERFORMANCE_COUNTERS, VaCloneCycleCount, 16);
OFF(PSS_PERFORMANCE_COUNTERS, VaCloneWallClockPeriod, 24);
OFF(PSS_PERFORMANCE_COUNTERS, VaSpaceCycleCount, 32);
OFF(PSS_PERFORMANCE_COUNTERS, VaSpaceWallClockPeriod, 40);
OFF(PSS_PERFORMANCE_COUNTERS, AuxPagesCycleCount, 48);
OFF(PSS_PERFORMANCE_COUNTERS, AuxPagesWallClockPeriod, 56);
OFF(PSS_PERFORMANCE_COUNTERS, HandlesCycleCount, 64);
OFF(PSS_PERFORMANCE_COUNTERS, HandlesWallClockPeriod, 72);
OFF(PSS_PERFORMANCE_COUNTERS, ThreadsCycleCount, 80);
OFF(PSS_PERFORMANCE_COUNTERS, ThreadsWallClockPeriod, 88);

SIZE(PSS_AUXILIARY_PAGE_ENTRY, 80);
OFF(PSS_AUXILIARY_PAGE_ENTRY, Address, 0);
OFF(PSS_AUXILIARY_PAGE_ENTRY, BasicInformation, 8);
OFF(PSS_AUXILIARY_PAGE_ENTRY, CaptureTime, 56);
OFF(PSS_AUXILIARY_PAGE_ENTRY, PageContents, 64);
OFF(PSS_AUXILIARY_PAGE_ENTRY, PageSize, 72);

SIZE(PSS_VA_SPACE_ENTRY, 80);
OFF(PSS_VA_SPACE_ENTRY, BaseAddress, 0);
OFF(PSS_VA_SPACE_ENTRY, AllocationBase, 8);
OFF(PSS_VA_SPACE_ENTRY, AllocationProtect, 16);
OFF(PSS_VA_SPACE_ENTRY, RegionSize, 24);
OFF(PSS_VA_SPACE_ENTRY, State, 32);
OFF(PSS_VA_SPACE_ENTRY, Protect, 36);
OFF(PSS_VA_SPACE_ENTRY, Type, 40);
OFF(PSS_VA_SPACE_ENTRY, TimeDateStamp, 44);
OFF(PSS_VA_SPACE_ENTRY, SizeOfImage, 48);
OFF(PSS_VA_SPACE_ENTRY, ImageBase, 56);
OFF(PSS_VA_SPACE_ENTRY, CheckSum, 64);
OFF(PSS_VA_SPACE_ENTRY, MappedFileNameLength, 68);
OFF(PSS_VA_SPACE_ENTRY, MappedFileName, 72);

SIZE(PSS_HANDLE_ENTRY, 136);
OFF(PSS_HANDLE_ENTRY, Handle, 0);
OFF(PSS_HANDLE_ENTRY, Flags, 8);
OFF(PSS_HANDLE_ENTRY, ObjectType, 12);
OFF(PSS_HANDLE_ENTRY, CaptureTime, 16);
OFF(PSS_HANDLE_ENTRY, Attributes, 24);
OFF(PSS_HANDLE_ENTRY, GrantedAccess, 28);
OFF(PSS_HANDLE_ENTRY, HandleCount, 32);
OFF(PSS_HANDLE_ENTRY, PointerCount, 36);
OFF(PSS_HANDLE_ENTRY, PagedPoolCharge, 40);
OFF(PSS_HANDLE_ENTRY, NonPagedPoolCharge, 44);
OFF(PSS_HANDLE_ENTRY, CreationTime, 48);
OFF(PSS_HANDLE_ENTRY, TypeNameLength, 56);
OFF(PSS_HANDLE_ENTRY, TypeName, 64);
OFF(PSS_HANDLE_ENTRY, ObjectNameLength, 72);
OFF(PSS_HANDLE_ENTRY, ObjectName, 80);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation, 88);
SA(sizeof(((PSS_HANDLE_ENTRY *)0)->TypeSpecificInformation) == 48, "union size");
SA(sizeof(((PSS_HANDLE_ENTRY *)0)->TypeSpecificInformation.Process) == 40, "Process arm");
SA(sizeof(((PSS_HANDLE_ENTRY *)0)->TypeSpecificInformation.Thread) == 48, "Thread arm");
SA(sizeof(((PSS_HANDLE_ENTRY *)0)->TypeSpecificInformation.Section) == 24, "Section arm");
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Process.AffinityMask, 88 + 16);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Process.BasePriority, 88 + 24);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Process.ProcessId, 88 + 28);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Process.ParentProcessId, 88 + 32);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Process.Flags, 88 + 36);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Thread.ProcessId, 88 + 16);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Thread.ThreadId, 88 + 20);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Thread.AffinityMask, 88 + 24);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Thread.Priority, 88 + 32);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Thread.BasePriority, 88 + 36);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Thread.Win32StartAddress, 88 + 40);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Section.AllocationAttributes, 88 + 8);
OFF(PSS_HANDLE_ENTRY, TypeSpecificInformation.Section.MaximumSize, 88 + 16);

SIZE(PSS_THREAD_ENTRY, 120);
OFF(PSS_THREAD_ENTRY, ExitStatus, 0);
OFF(PSS_THREAD_ENTRY, TebBaseAddress, 8);
OFF(PSS_THREAD_ENTRY, ProcessId, 16);
OFF(PSS_THREAD_ENTRY, ThreadId, 20);
OFF(PSS_THREAD_ENTRY, AffinityMask, 24);
OFF(PSS_THREAD_ENTRY, Priority, 32);
OFF(PSS_THREAD_ENTRY, BasePriority, 36);
OFF(PSS_THREAD_ENTRY, LastSyscallFirstArgument, 40);
OFF(PSS_THREAD_ENTRY, LastSyscallNumber, 48);
OFF(PSS_THREAD_ENTRY, CreateTime, 52);
OFF(PSS_THREAD_ENTRY, ExitTime, 60);
OFF(PSS_THREAD_ENTRY, KernelTime, 68);
OFF(PSS_THREAD_ENTRY, UserTime, 76);
OFF(PSS_THREAD_ENTRY, Win32StartAddress, 88);
OFF(PSS_THREAD_ENTRY, CaptureTime, 96);
OFF(PSS_THREAD_ENTRY, Flags, 104);
OFF(PSS_THREAD_ENTRY, SuspendCount, 108);
OFF(PSS_THREAD_ENTRY, SizeOfContextRecord, 110);
OFF(PSS_THREAD_ENTRY, ContextRecord, 112);

SIZE(PSS_THREAD_NAME, 16);
OFF(PSS_THREAD_NAME, ThreadName, 8);
SIZE(PSS_ALLOCATOR, 24);
OFF(PSS_ALLOCATOR, AllocRoutine, 8);
OFF(PSS_ALLOCATOR, FreeRoutine, 16);

SIZE(MEMORY_BASIC_INFORMATION, 48);
OFF(MEMORY_BASIC_INFORMATION, AllocationBase, 8);
OFF(MEMORY_BASIC_INFORMATION, AllocationProtect, 16);
OFF(MEMORY_BASIC_INFORMATION, PartitionId, 20);
OFF(MEMORY_BASIC_INFORMATION, RegionSize, 24);
OFF(MEMORY_BASIC_INFORMATION, State, 32);
OFF(MEMORY_BASIC_INFORMATION, Protect, 36);
OFF(MEMORY_BASIC_INFORMATION, Type, 40);
SIZE(FILETIME, 8);
SA(ALIGNOF(FILETIME) == 4, "FILETIME is 4-byte aligned");
SIZE(LARGE_INTEGER, 8);
SIZE(M128A, 16);
SIZE(XSAVE_FORMAT, 512);
OFF(XSAVE_FORMAT, MxCsr, 24);
OFF(XSAVE_FORMAT, FloatRegisters, 32);
OFF(XSAVE_FORMAT, XmmRegisters, 160);
OFF(XSAVE_FORMAT, Reserved4, 416);

SIZE(CONTEXT, 1232);
SA(ALIGNOF(CONTEXT) == 16, "CONTEXT is 16-byte aligned");
OFF(CONTEXT, P6Home, 0x28);
OFF(CONTEXT, ContextFlags, 0x30);
OFF(CONTEXT, MxCsr, 0x34);
OFF(CONTEXT, SegCs, 0x38);
OFF(CONTEXT, SegDs, 0x3a);
OFF(CONTEXT, SegEs, 0x3c);
OFF(CONTEXT, SegFs, 0x3e);
OFF(CONTEXT, SegGs, 0x40);
OFF(CONTEXT, SegSs, 0x42);
OFF(CONTEXT, EFlags, 0x44);
OFF(CONTEXT, Dr0, 0x48);
OFF(CONTEXT, Dr3, 0x60);
OFF(CONTEXT, Dr6, 0x68);
OFF(CONTEXT, Dr7, 0x70);
OFF(CONTEXT, Rax, 0x78);
OFF(CONTEXT, Rcx, 0x80);
OFF(CONTEXT, Rdx, 0x88);
OFF(CONTEXT, Rbx, 0x90);
OFF(CONTEXT, Rsp, 0x98);
OFF(CONTEXT, Rbp, 0xa0);
OFF(CONTEXT, Rsi, 0xa8);
OFF(CONTEXT, Rdi, 0xb0);
OFF(CONTEXT, R8, 0xb8);
OFF(CONTEXT, R15, 0xf0);
OFF(CONTEXT, Rip, 0xf8);
OFF(CONTEXT, FltSave, 0x100);
OFF(CONTEXT, Header, 0x100);
OFF(CONTEXT, Legacy, 0x120);
OFF(CONTEXT, Xmm0, 0x1a0);
OFF(CONTEXT, Xmm15, 0x290);
OFF(CONTEXT, VectorRegister, 0x300);
OFF(CONTEXT, VectorControl, 0x4a0);
OFF(CONTEXT, DebugControl, 0x4a8);
OFF(CONTEXT, LastBranchToRip, 0x4b0);
OFF(CONTEXT, LastBranchFromRip, 0x4b8);
OFF(CONTEXT, LastExceptionToRip, 0x4c0);
OFF(CONTEXT, LastExceptionFromRip, 0x4c8);
SIZE(CONTEXT_EX, 24);

/* Values that ports depend on (spec sections 3 and 9.1). */
SA(PSS_CAPTURE_RESERVED_00004000 == 0x4000, "not 0x2001 as in one mingw header");
SA((unsigned)PSS_CREATE_RELEASE_SECTION == 0x80000000u, "release section");
SA(PSS_WALK_THREAD_NAME == 4, "thread name class");
SA(PSS_QUERY_PERFORMANCE_COUNTERS == 7, "perf class");
SA(PSS_OBJECT_TYPE_SEMAPHORE == 6, "semaphore");
SA(CONTEXT_ALL == 0x0010001Fu, "CONTEXT_ALL");
SA(CONTEXT_FULL == 0x0010000Bu, "CONTEXT_FULL");
SA(CONTEXT_XSTATE == 0x00100040u, "CONTEXT_XSTATE");
SA(ERROR_NO_MORE_ITEMS == 259 && ERROR_MORE_DATA == 234 && ERROR_BAD_LENGTH == 24, "errors");
SA(ERROR_NOT_FOUND == 1168 && ERROR_PARTIAL_COPY == 299, "errors");
SA(STILL_ACTIVE == 259 && MAX_PATH == 260, "misc");

/* Linux extensions sized by their sz: a field added later must lie past
 * the size of every earlier version (padding included), or an old
 * caller's padding would be read as the new field. */
SIZE(struct pss_linux_options, 24);
OFF(struct pss_linux_options, timeout_ms, 8);
OFF(struct pss_linux_options, flags, 16);
