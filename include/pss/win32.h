/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * <pss/win32.h> - the small Win32 subset that Process Snapshotting clients use.
 *
 * Types have Windows' widths (DWORD is 32-bit, WCHAR is a UTF-16 code unit), so
 * every structure has the Windows x64 layout and P/Invoke declarations work
 * unchanged.  A process HANDLE is a pidfd: (HANDLE)(intptr_t)pidfd.
 * GetCurrentProcess() is the pseudo-handle (HANDLE)-1.
 *
 * Functions here follow the Win32 convention: failure is reported by the
 * return value (FALSE, NULL, 0) and the reason by GetLastError(), which is
 * per thread.
 */
#ifndef PSS_WIN32_H
#define PSS_WIN32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#include <cstdint>
extern "C" {
#endif

#ifndef PSS_API
#define PSS_API __attribute__((visibility("default")))
#endif

#define WINAPI
#define STDAPI_(t) t

/* Scalar types with their Windows widths (spec section 1.1). */
typedef uint8_t BYTE;
typedef uint16_t WORD;
typedef uint32_t DWORD;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef int BOOL;
typedef uint64_t UINT64;
typedef uint64_t DWORD64;
typedef uint64_t ULONGLONG;
typedef int64_t LONGLONG;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t SIZE_T;
typedef intptr_t LONG_PTR;
typedef void *HANDLE;
typedef void *PVOID;
typedef const void *LPCVOID;
typedef void *LPVOID;
typedef DWORD *PDWORD;
typedef SIZE_T *PSIZE_T;
#ifndef __cplusplus
#include <uchar.h>
#endif
typedef char16_t WCHAR;	/* a UTF-16 code unit, as on Windows (never wchar_t) */
typedef const WCHAR *PCWSTR;
typedef LONG HRESULT;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#define MAX_PATH 260
#define STILL_ACTIVE 259
#define INVALID_HANDLE_VALUE ((HANDLE)(LONG_PTR)-1)

/* DECLARE_HANDLE: a pointer to a distinct incomplete-looking struct. */
#define DECLARE_HANDLE(name) \
	struct name##__ { int unused; }; \
	typedef struct name##__ *name

/* Flag enums get bitwise operators in C++ (winnt.h DEFINE_ENUM_FLAG_OPERATORS). */
#ifdef __cplusplus
/* C++ linkage even inside extern "C" blocks, as winnt.h does. */
#define DEFINE_ENUM_FLAG_OPERATORS(T) \
	extern "C++" { \
	inline constexpr T operator|(T a, T b) { return T(((unsigned)a) | ((unsigned)b)); } \
	inline T &operator|=(T &a, T b) { return a = a | b; } \
	inline constexpr T operator&(T a, T b) { return T(((unsigned)a) & ((unsigned)b)); } \
	inline T &operator&=(T &a, T b) { return a = a & b; } \
	inline constexpr T operator~(T a) { return T(~((unsigned)a)); } \
	inline constexpr T operator^(T a, T b) { return T(((unsigned)a) ^ ((unsigned)b)); } \
	inline T &operator^=(T &a, T b) { return a = a ^ b; } \
	}
#else
#define DEFINE_ENUM_FLAG_OPERATORS(T)
#endif

/* winerror.h values (spec section 10). */
#define ERROR_SUCCESS 0u
#define NO_ERROR 0u
#define ERROR_INVALID_FUNCTION 1u
#define ERROR_FILE_NOT_FOUND 2u
#define ERROR_ACCESS_DENIED 5u
#define ERROR_INVALID_HANDLE 6u
#define ERROR_NOT_ENOUGH_MEMORY 8u
#define ERROR_OUTOFMEMORY 14u
#define ERROR_BAD_LENGTH 24u
#define ERROR_GEN_FAILURE 31u
#define ERROR_NOT_SUPPORTED 50u
#define ERROR_INVALID_PARAMETER 87u
#define ERROR_BUFFER_OVERFLOW 111u
#define ERROR_CALL_NOT_IMPLEMENTED 120u
#define ERROR_INSUFFICIENT_BUFFER 122u
#define ERROR_PROC_NOT_FOUND 127u
#define ERROR_BUSY 170u
#define ERROR_MORE_DATA 234u
#define ERROR_NO_MORE_ITEMS 259u
#define ERROR_PARTIAL_COPY 299u
#define ERROR_INVALID_ADDRESS 487u
#define ERROR_ARITHMETIC_OVERFLOW 534u
#define ERROR_NOACCESS 998u
#define ERROR_INVALID_FLAGS 1004u
#define ERROR_NOT_FOUND 1168u
#define ERROR_UNIDENTIFIED_ERROR 1287u
#define ERROR_NO_SYSTEM_RESOURCES 1450u
#define ERROR_COMMITMENT_LIMIT 1455u
#define ERROR_TIMEOUT 1460u

#define S_OK ((HRESULT)0)
#define S_FALSE ((HRESULT)1)
#define HRESULT_FROM_WIN32(e) \
	((HRESULT)(e) <= 0 ? (HRESULT)(e) : (HRESULT)((((DWORD)(e)) & 0x0000FFFFu) | 0x80070000u))

/* FILETIME: 100 ns units since 1601-01-01 UTC; only 4-byte aligned. */
typedef struct _FILETIME {
	DWORD dwLowDateTime;
	DWORD dwHighDateTime;
} FILETIME, *PFILETIME, *LPFILETIME;

typedef union _LARGE_INTEGER {
	struct {
		DWORD LowPart;
		LONG HighPart;
	};
	struct {
		DWORD LowPart;
		LONG HighPart;
	} u;
	LONGLONG QuadPart;
} LARGE_INTEGER;

/* Memory states, types and protections (spec section 8.3). */
#define MEM_COMMIT 0x00001000u
#define MEM_RESERVE 0x00002000u
#define MEM_FREE 0x00010000u
#define MEM_PRIVATE 0x00020000u
#define MEM_MAPPED 0x00040000u
#define MEM_IMAGE 0x01000000u

#define PAGE_NOACCESS 0x01u
#define PAGE_READONLY 0x02u
#define PAGE_READWRITE 0x04u
#define PAGE_WRITECOPY 0x08u
#define PAGE_EXECUTE 0x10u
#define PAGE_EXECUTE_READ 0x20u
#define PAGE_EXECUTE_READWRITE 0x40u
#define PAGE_EXECUTE_WRITECOPY 0x80u
#define PAGE_GUARD 0x100u
#define PAGE_NOCACHE 0x200u
#define PAGE_WRITECOMBINE 0x400u

typedef struct _MEMORY_BASIC_INFORMATION {
	PVOID BaseAddress;
	PVOID AllocationBase;
	DWORD AllocationProtect;
	WORD PartitionId;
	SIZE_T RegionSize;
	DWORD State;
	DWORD Protect;
	DWORD Type;
} MEMORY_BASIC_INFORMATION, *PMEMORY_BASIC_INFORMATION;

/* Process access rights (spec section 8.4).  A pidfd carries no rights of its
 * own: they are checked by the kernel (ptrace access mode) when used. */
#define PROCESS_TERMINATE 0x0001u
#define PROCESS_CREATE_THREAD 0x0002u
#define PROCESS_VM_OPERATION 0x0008u
#define PROCESS_VM_READ 0x0010u
#define PROCESS_VM_WRITE 0x0020u
#define PROCESS_DUP_HANDLE 0x0040u
#define PROCESS_CREATE_PROCESS 0x0080u
#define PROCESS_SET_INFORMATION 0x0200u
#define PROCESS_QUERY_INFORMATION 0x0400u
#define PROCESS_SUSPEND_RESUME 0x0800u
#define PROCESS_QUERY_LIMITED_INFORMATION 0x1000u
#define SYNCHRONIZE 0x00100000u
#define PROCESS_ALL_ACCESS 0x001FFFFFu
#define MAXIMUM_ALLOWED 0x02000000u

/* Priority classes and thread priorities (spec section 8.5). */
#define NORMAL_PRIORITY_CLASS 0x00000020u
#define IDLE_PRIORITY_CLASS 0x00000040u
#define HIGH_PRIORITY_CLASS 0x00000080u
#define REALTIME_PRIORITY_CLASS 0x00000100u
#define BELOW_NORMAL_PRIORITY_CLASS 0x00004000u
#define ABOVE_NORMAL_PRIORITY_CLASS 0x00008000u

#define THREAD_PRIORITY_IDLE (-15)
#define THREAD_PRIORITY_LOWEST (-2)
#define THREAD_PRIORITY_BELOW_NORMAL (-1)
#define THREAD_PRIORITY_NORMAL 0
#define THREAD_PRIORITY_ABOVE_NORMAL 1
#define THREAD_PRIORITY_HIGHEST 2
#define THREAD_PRIORITY_TIME_CRITICAL 15

/* AMD64 CONTEXT (spec section 9). */
#define CONTEXT_AMD64 0x00100000u
#define CONTEXT_CONTROL (CONTEXT_AMD64 | 0x00000001u)
#define CONTEXT_INTEGER (CONTEXT_AMD64 | 0x00000002u)
#define CONTEXT_SEGMENTS (CONTEXT_AMD64 | 0x00000004u)
#define CONTEXT_FLOATING_POINT (CONTEXT_AMD64 | 0x00000008u)
#define CONTEXT_DEBUG_REGISTERS (CONTEXT_AMD64 | 0x00000010u)
#define CONTEXT_FULL (CONTEXT_CONTROL | CONTEXT_INTEGER | CONTEXT_FLOATING_POINT)
#define CONTEXT_ALL (CONTEXT_CONTROL | CONTEXT_INTEGER | CONTEXT_SEGMENTS | \
		     CONTEXT_FLOATING_POINT | CONTEXT_DEBUG_REGISTERS)
#define CONTEXT_XSTATE (CONTEXT_AMD64 | 0x00000040u)
#define CONTEXT_KERNEL_CET (CONTEXT_AMD64 | 0x00000080u)
#define CONTEXT_EXCEPTION_ACTIVE 0x08000000u
#define CONTEXT_SERVICE_ACTIVE 0x10000000u
#define CONTEXT_UNWOUND_TO_CALL 0x20000000u
#define CONTEXT_EXCEPTION_REQUEST 0x40000000u
#define CONTEXT_EXCEPTION_REPORTING 0x80000000u

typedef struct __attribute__((aligned(16))) _M128A {
	ULONGLONG Low;
	LONGLONG High;
} M128A, *PM128A;

/* The FXSAVE image: identical to Linux's struct user_fpregs_struct. */
typedef struct __attribute__((aligned(16))) _XSAVE_FORMAT {
	WORD ControlWord;
	WORD StatusWord;
	BYTE TagWord;
	BYTE Reserved1;
	WORD ErrorOpcode;
	DWORD ErrorOffset;
	WORD ErrorSelector;
	WORD Reserved2;
	DWORD DataOffset;
	WORD DataSelector;
	WORD Reserved3;
	DWORD MxCsr;
	DWORD MxCsr_Mask;
	M128A FloatRegisters[8];
	M128A XmmRegisters[16];
	BYTE Reserved4[96];
} XSAVE_FORMAT, *PXSAVE_FORMAT, XMM_SAVE_AREA32, *PXMM_SAVE_AREA32;

typedef struct __attribute__((aligned(16))) _CONTEXT {
	DWORD64 P1Home;
	DWORD64 P2Home;
	DWORD64 P3Home;
	DWORD64 P4Home;
	DWORD64 P5Home;
	DWORD64 P6Home;
	DWORD ContextFlags;
	DWORD MxCsr;
	WORD SegCs;
	WORD SegDs;
	WORD SegEs;
	WORD SegFs;
	WORD SegGs;
	WORD SegSs;
	DWORD EFlags;
	DWORD64 Dr0;
	DWORD64 Dr1;
	DWORD64 Dr2;
	DWORD64 Dr3;
	DWORD64 Dr6;
	DWORD64 Dr7;
	DWORD64 Rax;
	DWORD64 Rcx;
	DWORD64 Rdx;
	DWORD64 Rbx;
	DWORD64 Rsp;
	DWORD64 Rbp;
	DWORD64 Rsi;
	DWORD64 Rdi;
	DWORD64 R8;
	DWORD64 R9;
	DWORD64 R10;
	DWORD64 R11;
	DWORD64 R12;
	DWORD64 R13;
	DWORD64 R14;
	DWORD64 R15;
	DWORD64 Rip;
	union {
		XMM_SAVE_AREA32 FltSave;
		struct {
			M128A Header[2];
			M128A Legacy[8];
			M128A Xmm0;
			M128A Xmm1;
			M128A Xmm2;
			M128A Xmm3;
			M128A Xmm4;
			M128A Xmm5;
			M128A Xmm6;
			M128A Xmm7;
			M128A Xmm8;
			M128A Xmm9;
			M128A Xmm10;
			M128A Xmm11;
			M128A Xmm12;
			M128A Xmm13;
			M128A Xmm14;
			M128A Xmm15;
		};
	};
	M128A VectorRegister[26];
	DWORD64 VectorControl;
	DWORD64 DebugControl;
	DWORD64 LastBranchToRip;
	DWORD64 LastBranchFromRip;
	DWORD64 LastExceptionToRip;
	DWORD64 LastExceptionFromRip;
} CONTEXT, *PCONTEXT;

/*
 * Extended context.  A context record captured with CONTEXT_XSTATE is laid
 * out as: CONTEXT (1232 bytes), CONTEXT_EX (24 bytes), padding, and at offset
 * 1280 from the start of the record the XSAVE area from its 64-byte header on
 * (the legacy 512 bytes live in CONTEXT.FltSave), in the standard
 * (non-compacted) format.  CONTEXT_EX offsets are relative to the CONTEXT_EX.
 */
typedef struct _CONTEXT_CHUNK {
	LONG Offset;
	DWORD Length;
} CONTEXT_CHUNK, *PCONTEXT_CHUNK;

typedef struct _CONTEXT_EX {
	CONTEXT_CHUNK All;
	CONTEXT_CHUNK Legacy;
	CONTEXT_CHUNK XState;
} CONTEXT_EX, *PCONTEXT_EX;

typedef struct _XSAVE_AREA_HEADER {
	DWORD64 Mask;
	DWORD64 CompactionMask;
	DWORD64 Reserved2[6];
} XSAVE_AREA_HEADER, *PXSAVE_AREA_HEADER;

#define XSTATE_LEGACY_FLOATING_POINT 0
#define XSTATE_LEGACY_SSE 1
#define XSTATE_AVX 2
#define XSTATE_MASK_LEGACY_FLOATING_POINT (1ull << XSTATE_LEGACY_FLOATING_POINT)
#define XSTATE_MASK_LEGACY_SSE (1ull << XSTATE_LEGACY_SSE)
#define XSTATE_MASK_LEGACY (XSTATE_MASK_LEGACY_FLOATING_POINT | XSTATE_MASK_LEGACY_SSE)
#define XSTATE_MASK_AVX (1ull << XSTATE_AVX)

/* The pseudo-handle for the calling process. */
#define PSS_CURRENT_PROCESS_HANDLE ((HANDLE)(LONG_PTR)-1)

/**
 * GetCurrentProcess() - the pseudo-handle (HANDLE)-1 for the calling process.
 * It needs no CloseHandle.  Accepted as a target by PssCaptureSnapshot and as
 * the owner process by PssFreeSnapshot and PssDuplicateSnapshot.
 */
static inline HANDLE GetCurrentProcess(void)
{
	return PSS_CURRENT_PROCESS_HANDLE;
}

/**
 * OpenProcess() - open a process handle (a pidfd, close-on-exec) for @dwProcessId.
 * @dwDesiredAccess: accepted and ignored: Linux checks ptrace access when
 *                   the handle is used, not when it is opened.
 * @bInheritHandle:  TRUE clears close-on-exec.
 * Return: the handle, or NULL with GetLastError() set to ERROR_INVALID_PARAMETER
 * (no such process, a thread id that is not a process, or pid 0),
 * ERROR_ACCESS_DENIED or ERROR_NO_SYSTEM_RESOURCES (out of file descriptors).
 */
PSS_API HANDLE OpenProcess(DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwProcessId);

/**
 * CloseHandle() - close a handle from OpenProcess.  GetCurrentProcess() is
 * accepted and ignored.  Never pass an HPSS or a VaCloneHandle: those are owned
 * by their snapshot.  Return: TRUE, or FALSE with ERROR_INVALID_HANDLE.
 */
PSS_API BOOL CloseHandle(HANDLE hObject);

/**
 * GetProcessId() - the pid a process handle refers to (for a pidfd, as seen
 * in the caller's pid namespace).  Return: the pid, or 0 with
 * ERROR_INVALID_HANDLE (not a process handle, or the process was reaped).
 */
PSS_API DWORD GetProcessId(HANDLE Process);

/**
 * ReadProcessMemory() - copy @nSize bytes at @lpBaseAddress of the process
 * into @lpBuffer.  Works on process handles and on a snapshot's VaCloneHandle
 * (it reads the clone with pread on /proc/PID/mem, which leaves copy-on-write
 * pages shared).  @lpNumberOfBytesRead (optional) receives the bytes copied.
 * Return: TRUE if everything was copied; FALSE with ERROR_PARTIAL_COPY if only
 * a prefix was (or ERROR_NOACCESS if nothing could be), ERROR_ACCESS_DENIED,
 * ERROR_INVALID_HANDLE or ERROR_INVALID_PARAMETER.
 */
PSS_API BOOL ReadProcessMemory(HANDLE hProcess, LPCVOID lpBaseAddress, LPVOID lpBuffer,
			       SIZE_T nSize, SIZE_T *lpNumberOfBytesRead);

/**
 * VirtualQueryEx() - describe the region of the process's address space that
 * contains @lpAddress: a mapping (MEM_COMMIT, or MEM_RESERVE for PROT_NONE)
 * or the free gap up to the next mapping (MEM_FREE).
 * Return: sizeof(MEMORY_BASIC_INFORMATION) on success, 0 with
 * ERROR_INVALID_PARAMETER (address beyond user space, or @dwLength too small),
 * ERROR_INVALID_HANDLE or ERROR_ACCESS_DENIED.
 */
PSS_API SIZE_T VirtualQueryEx(HANDLE hProcess, LPCVOID lpAddress,
			      PMEMORY_BASIC_INFORMATION lpBuffer, SIZE_T dwLength);

/** GetLastError() - the calling thread's last error from a function of this header. */
PSS_API DWORD GetLastError(void);

/** SetLastError() - set the calling thread's last error. */
PSS_API void SetLastError(DWORD dwErrCode);

/**
 * GetEnabledXStateFeatures() - the XSAVE feature mask (XCR0) of this machine,
 * as the kernel enables it for user space.
 */
PSS_API DWORD64 GetEnabledXStateFeatures(void);

/**
 * LocateXStateFeature() - find feature @FeatureId (XSTATE_AVX, ...) in a
 * context record captured with CONTEXT_XSTATE.  Features 0 and 1 are in
 * CONTEXT.FltSave.  @Length (optional) receives the feature's size.
 * Return: a pointer into @Context, or NULL if the record holds no extended
 * state or not that feature.
 */
PSS_API PVOID LocateXStateFeature(PCONTEXT Context, DWORD FeatureId, PDWORD Length);

#ifdef __cplusplus
}
#endif

#endif /* PSS_WIN32_H */
