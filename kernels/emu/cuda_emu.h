// cuda_emu.h — the part of the CUDA runtime and device language the kernels use, for the host C++ compiler:
// with -DRLDT_CUDA_EMU, kernels/cuda_common.cuh includes this instead of <cuda_runtime.h>/<cublas_v2.h>,
// and kernels/*.cu build into the `cuda-emu` backend plugin, which runs every kernel on the CPU.
//
// How a launch runs (kernels/emu/emu.cpp): the blocks of the grid run one after another; the threads of a
// block run as cooperative fibers on the launching OS thread. A fiber runs until it reaches a barrier
// (__syncthreads, or a warp operation: __syncwarp, shuffles, votes) or returns. When every runnable fiber
// has stopped, the scheduler releases the barriers that are complete: __syncthreads when every thread of the
// block that has not exited waits there; a warp operation when every lane named in the masks of the waiting
// lanes (and not exited) waits at a warp operation. If no fiber can run and some have not finished, the
// kernel deadlocked: the scheduler names the kernel and the block, and aborts.
//
// The order in which runnable fibers resume between barriers (and the order of the blocks) comes from
// $RLDT_EMU_ORDER, read at every launch, or rldt_emu_set_order(): "forward" (the default), "reverse", or
// "random:<seed>" (a fresh seeded permutation at every barrier phase). A kernel that is missing a barrier
// gives order-dependent results, which a parity test run under the three orders catches.
//
// Memory model: device memory is host memory (cudaMalloc is malloc, filled with 0xff bytes so reads of
// unwritten memory give NaN), so AddressSanitizer sees out-of-bounds indexing in kernels. __shared__
// variables are function-local statics: launches are serialised process-wide by a lock, blocks run one after
// another, so a static is per block (and ASan sees out-of-bounds indexing in it too). Dynamic shared memory
// (RLDT_DYNAMIC_SHARED) is one buffer per launch, refilled with 0xff bytes before each block. Atomics are
// plain read-modify-writes (fibers never interleave inside one). What this proves is indexing, barriers,
// warp exchanges and reductions; not speed, and not the GPU's weak memory ordering between blocks.
//
// For kernel authors: __CUDA_ARCH__ is not defined here (RLDT_HD functions take their host path); each
// thread has a 64 KiB stack ($RLDT_EMU_STACK_KB to change); kernels must not use thread_local (GCC 12's
// LeakSanitizer crashes at exit on TLS in a dlopen'ed library); a .cu file may include <cuda_runtime.h>,
// <cublas_v2.h> or <cuda_bf16.h>, which resolve to kernels/emu/include/ in this build.
#pragma once
#ifndef __cplusplus
#error "cuda_emu.h is C++ (the kernels are compiled with the host C++ compiler)"
#endif
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cublas_emu.h"

#ifndef RLDT_EMU_API
#define RLDT_EMU_API __attribute__((visibility("default")))
#endif

// ---------------------------------------------------------------------------------------------------
// qualifiers

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __shared__ static

// ---------------------------------------------------------------------------------------------------
// built-in variables and types

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// Set by the scheduler before it resumes a fiber.
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
constexpr int warpSize = 32;

struct __align__(8) float2 { float x, y; };
struct float3 { float x, y, z; };
struct __align__(16) float4 { float x, y, z, w; };
struct __align__(16) double2 { double x, y; };
struct __align__(8) int2 { int x, y; };
struct __align__(16) int4 { int x, y, z, w; };
struct __align__(8) uint2 { unsigned int x, y; };
struct __align__(16) uint4 { unsigned int x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }

// ---------------------------------------------------------------------------------------------------
// runtime API (the subset the backend uses)

enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidSymbol = 13,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorNotReady = 600,
    cudaErrorLaunchOutOfResources = 701,
    cudaErrorLaunchFailure = 719,
    cudaErrorNotSupported = 801,
    cudaErrorUnknown = 999,
};
typedef cudaError_t cudaError;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

typedef struct CUstream_st *cudaStream_t; // only the default stream (0) exists
typedef struct CUevent_st *cudaEvent_t;

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem, sharedMemPerBlock, sharedMemPerBlockOptin, sharedMemPerMultiprocessor, totalConstMem;
    int regsPerBlock, regsPerMultiprocessor, warpSize, maxThreadsPerBlock, maxThreadsDim[3], maxGridSize[3];
    int major, minor, multiProcessorCount, maxThreadsPerMultiProcessor, l2CacheSize, memoryBusWidth;
    int pciBusID, pciDeviceID, pciDomainID;
};

enum cudaDeviceAttr {
    cudaDevAttrMaxThreadsPerBlock = 1,
    cudaDevAttrMaxSharedMemoryPerBlock = 8,
    cudaDevAttrWarpSize = 10,
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrComputeCapabilityMinor = 76,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

enum cudaFuncAttribute {
    cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
    cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

#define cudaEventDefault 0x00u
#define cudaEventBlockingSync 0x01u
#define cudaEventDisableTiming 0x02u

const char *cudaGetErrorString(cudaError_t err);
const char *cudaGetErrorName(cudaError_t err);
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaRuntimeGetVersion(int *version);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaDeviceReset(void);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);

cudaError_t cudaMalloc(void **ptr, size_t bytes);
cudaError_t cudaMallocHost(void **ptr, size_t bytes);
cudaError_t cudaFree(void *ptr);
cudaError_t cudaFreeHost(void *ptr);
cudaError_t cudaMemset(void *ptr, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t stream = 0);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemcpy2D(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind kind);
template <class T> inline cudaError_t cudaMalloc(T **ptr, size_t bytes) { return cudaMalloc((void **)ptr, bytes); }

// The symbol is the __device__ variable itself (by reference), as with the runtime's C++ templates.
cudaError_t rldt_emu_symbol_copy(void *dst, const void *src, size_t count, size_t offset, size_t symbol_size);
template <class T>
inline cudaError_t cudaMemcpyToSymbol(const T &symbol, const void *src, size_t count, size_t offset = 0,
                                      cudaMemcpyKind kind = cudaMemcpyHostToDevice)
{
    return rldt_emu_symbol_copy((char *)&symbol + offset, src, count, offset, sizeof(T));
}
template <class T>
inline cudaError_t cudaMemcpyFromSymbol(void *dst, const T &symbol, size_t count, size_t offset = 0,
                                        cudaMemcpyKind kind = cudaMemcpyDeviceToHost)
{
    return rldt_emu_symbol_copy(dst, (const char *)&symbol + offset, count, offset, sizeof(T));
}

cudaError_t cudaEventCreate(cudaEvent_t *event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);

// Above 48 KiB of dynamic shared memory a kernel needs cudaFuncAttributeMaxDynamicSharedMemorySize first, as
// on the GPU; the emulator checks it (up to the sm_90 limit of 227 KiB).
cudaError_t rldt_emu_func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value);
template <class F> inline cudaError_t cudaFuncSetAttribute(F *kernel, cudaFuncAttribute attr, int value)
{
    return rldt_emu_func_set_attribute((const void *)kernel, attr, value);
}

// ---------------------------------------------------------------------------------------------------
// launches: RLDT_LAUNCH (cuda_common.cuh) and RLDT_LAUNCH_SHMEM wrap the kernel call in a lambda that every
// emulated thread runs; RLDT_DYNAMIC_SHARED is a pointer to the launch's dynamic shared memory.

#define RLDT_LAUNCH_SHMEM(kernel, grid, block, bytes, ...)                                                 \
    rldt_emu_launch_shmem(#kernel, (const void *)(kernel), (grid), (block), (bytes), [=] { kernel(__VA_ARGS__); })
#define RLDT_DYNAMIC_SHARED(type, name) type *name = static_cast<type *>(rldt_emu_dynamic_shared())

void rldt_emu_launch_body(const char *name, const void *kernel, dim3 grid, dim3 block, size_t shmem,
                          void (*body)(const void *), const void *ctx);
template <class F>
inline void rldt_emu_launch_shmem(const char *name, const void *kernel, dim3 grid, dim3 block, size_t shmem,
                                  const F &f)
{
    rldt_emu_launch_body(name, kernel, grid, block, shmem, [](const void *c) { (*static_cast<const F *>(c))(); }, &f);
}
template <class F> inline void rldt_emu_launch(const char *name, dim3 grid, dim3 block, const F &f)
{
    rldt_emu_launch_shmem(name, nullptr, grid, block, 0, f);
}
// The current launch's dynamic shared memory (16-byte aligned at least).
void *rldt_emu_dynamic_shared(void);

// Sets the thread order of later launches ("forward", "reverse", "random:<seed>"); NULL goes back to
// $RLDT_EMU_ORDER. A bad string is reported and the call does nothing.
extern "C" RLDT_EMU_API int rldt_emu_set_order(const char *order);

// ---------------------------------------------------------------------------------------------------
// barriers, warp intrinsics (fiber switches; see emu.cpp)

void __syncthreads(void);
int __syncthreads_count(int pred);
int __syncthreads_and(int pred);
int __syncthreads_or(int pred);
void __syncwarp(unsigned mask = 0xffffffffu);
unsigned __activemask(void);
unsigned __ballot_sync(unsigned mask, int pred);
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
int __all_sync(unsigned mask, int pred);
inline void __threadfence(void) {}
inline void __threadfence_block(void) {}
inline void __threadfence_system(void) {}

enum rldt_emu_shfl_mode { RLDT_EMU_SHFL_IDX, RLDT_EMU_SHFL_UP, RLDT_EMU_SHFL_DOWN, RLDT_EMU_SHFL_XOR };
// Exchanges 8 bytes between the lanes of a warp (write, warp barrier, read, warp barrier). Reading a lane
// that does not take part gives all-ones bits (NaN for floats).
uint64_t rldt_emu_shfl(unsigned mask, uint64_t bits, rldt_emu_shfl_mode mode, int lane_arg, int width);
template <class T> inline T rldt_emu_shfl_t(unsigned mask, T var, rldt_emu_shfl_mode mode, int arg, int width)
{
    static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
    uint64_t b = 0;
    memcpy(&b, &var, sizeof(T));
    b = rldt_emu_shfl(mask, b, mode, arg, width);
    T out;
    memcpy(&out, &b, sizeof(T));
    return out;
}
template <class T> inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize)
{
    return rldt_emu_shfl_t(mask, var, RLDT_EMU_SHFL_IDX, src_lane, width);
}
template <class T> inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize)
{
    return rldt_emu_shfl_t(mask, var, RLDT_EMU_SHFL_UP, (int)delta, width);
}
template <class T> inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize)
{
    return rldt_emu_shfl_t(mask, var, RLDT_EMU_SHFL_DOWN, (int)delta, width);
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize)
{
    return rldt_emu_shfl_t(mask, var, RLDT_EMU_SHFL_XOR, lane_mask, width);
}

// ---------------------------------------------------------------------------------------------------
// atomics: plain read-modify-writes (a fiber never yields inside one). Integer adds wrap as on the GPU.

#define RLDT_EMU_ATOMIC(T, name, expr)                                                                     \
    inline T name(T *a, T v)                                                                               \
    {                                                                                                      \
        T o = *a;                                                                                          \
        *a = (expr);                                                                                       \
        return o;                                                                                          \
    }
RLDT_EMU_ATOMIC(int, atomicAdd, (int)((unsigned)o + (unsigned)v))
RLDT_EMU_ATOMIC(unsigned, atomicAdd, o + v)
RLDT_EMU_ATOMIC(unsigned long long, atomicAdd, o + v)
RLDT_EMU_ATOMIC(float, atomicAdd, o + v)
RLDT_EMU_ATOMIC(double, atomicAdd, o + v)
RLDT_EMU_ATOMIC(int, atomicSub, (int)((unsigned)o - (unsigned)v))
RLDT_EMU_ATOMIC(unsigned, atomicSub, o - v)
RLDT_EMU_ATOMIC(int, atomicExch, v)
RLDT_EMU_ATOMIC(unsigned, atomicExch, v)
RLDT_EMU_ATOMIC(unsigned long long, atomicExch, v)
RLDT_EMU_ATOMIC(float, atomicExch, v)
RLDT_EMU_ATOMIC(int, atomicMax, o > v ? o : v)
RLDT_EMU_ATOMIC(unsigned, atomicMax, o > v ? o : v)
RLDT_EMU_ATOMIC(long long, atomicMax, o > v ? o : v)
RLDT_EMU_ATOMIC(unsigned long long, atomicMax, o > v ? o : v)
RLDT_EMU_ATOMIC(int, atomicMin, o < v ? o : v)
RLDT_EMU_ATOMIC(unsigned, atomicMin, o < v ? o : v)
RLDT_EMU_ATOMIC(long long, atomicMin, o < v ? o : v)
RLDT_EMU_ATOMIC(unsigned long long, atomicMin, o < v ? o : v)
RLDT_EMU_ATOMIC(int, atomicAnd, o & v)
RLDT_EMU_ATOMIC(unsigned, atomicAnd, o & v)
RLDT_EMU_ATOMIC(unsigned long long, atomicAnd, o & v)
RLDT_EMU_ATOMIC(int, atomicOr, o | v)
RLDT_EMU_ATOMIC(unsigned, atomicOr, o | v)
RLDT_EMU_ATOMIC(unsigned long long, atomicOr, o | v)
RLDT_EMU_ATOMIC(int, atomicXor, o ^ v)
RLDT_EMU_ATOMIC(unsigned, atomicXor, o ^ v)
RLDT_EMU_ATOMIC(unsigned long long, atomicXor, o ^ v)
RLDT_EMU_ATOMIC(unsigned, atomicInc, o >= v ? 0u : o + 1u)
RLDT_EMU_ATOMIC(unsigned, atomicDec, (o == 0u || o > v) ? v : o - 1u)
#undef RLDT_EMU_ATOMIC
#define RLDT_EMU_ATOMIC_CAS(T)                                                                             \
    inline T atomicCAS(T *a, T compare, T v)                                                               \
    {                                                                                                      \
        T o = *a;                                                                                          \
        if (o == compare) *a = v;                                                                          \
        return o;                                                                                          \
    }
RLDT_EMU_ATOMIC_CAS(int)
RLDT_EMU_ATOMIC_CAS(unsigned)
RLDT_EMU_ATOMIC_CAS(unsigned long long)
RLDT_EMU_ATOMIC_CAS(unsigned short)
#undef RLDT_EMU_ATOMIC_CAS

// ---------------------------------------------------------------------------------------------------
// device math: the fast intrinsics are the libm functions (the GPU's are less accurate: a parity bound
// that passes here can still fail on a GPU, which is why GPU runs stay the proof of precision)

inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float *s, float *c) { *s = sinf(x), *c = cosf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; } // NaN -> 0, as on the GPU
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float __double2float_rn(double x) { return (float)x; }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline double __int2double_rn(int x) { return (double)x; }
// float -> int conversions saturate and send NaN to 0, as the GPU's cvt does
inline int rldt_emu_f2i(float x)
{
    return x != x ? 0 : x >= 2147483648.0f ? 2147483647 : x <= -2147483648.0f ? (-2147483647 - 1) : (int)x;
}
inline int __float2int_rn(float x) { return rldt_emu_f2i(rintf(x)); }
inline int __float2int_rz(float x) { return rldt_emu_f2i(truncf(x)); }
inline int __float2int_rd(float x) { return rldt_emu_f2i(floorf(x)); }
inline int __float2int_ru(float x) { return rldt_emu_f2i(ceilf(x)); }
inline unsigned __float2uint_rn(float x)
{
    float r = rintf(x);
    return r != r || r <= 0.0f ? 0u : r >= 4294967296.0f ? 4294967295u : (unsigned)r;
}
inline int __float_as_int(float x) { int i; memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; memcpy(&x, &i, 8); return x; }

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
inline int __clzll(long long x) { return x ? __builtin_clzll((unsigned long long)x) : 64; }
inline unsigned __brev(unsigned x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}
template <class T> inline T __ldg(const T *p) { return *p; }

// bfloat16 (cuda_bf16.h): 16 bits, the top half of a float; conversions round to nearest even
struct __nv_bfloat16 {
    unsigned short x;
};
typedef __nv_bfloat16 nv_bfloat16;
inline __nv_bfloat16 __float2bfloat16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    __nv_bfloat16 h;
    if ((u & 0x7fffffffu) > 0x7f800000u) h.x = (unsigned short)((u >> 16) | 0x40u); // NaN stays a (quiet) NaN
    else h.x = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return h;
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h)
{
    uint32_t u = (uint32_t)h.x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// the device min/max overloads
#define RLDT_EMU_MINMAX(T)                                                                                 \
    inline T min(T a, T b) { return a < b ? a : b; }                                                       \
    inline T max(T a, T b) { return a > b ? a : b; }
RLDT_EMU_MINMAX(int)
RLDT_EMU_MINMAX(unsigned)
RLDT_EMU_MINMAX(long)
RLDT_EMU_MINMAX(unsigned long)
RLDT_EMU_MINMAX(long long)
RLDT_EMU_MINMAX(unsigned long long)
#undef RLDT_EMU_MINMAX
inline unsigned min(int a, unsigned b) { return min((unsigned)a, b); }
inline unsigned min(unsigned a, int b) { return min(a, (unsigned)b); }
inline unsigned max(int a, unsigned b) { return max((unsigned)a, b); }
inline unsigned max(unsigned a, int b) { return max(a, (unsigned)b); }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
