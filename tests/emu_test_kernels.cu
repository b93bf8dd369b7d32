// emu_test_kernels.cu — kernels that test the kernel emulator itself (kernels/emu/), built with it into a
// test-only plugin (librldt_emu_test.so) that tests/test_emu.c loads: barrier and warp semantics, a reduction
// with and without its barrier, deadlock detection, launch checks, dynamic shared memory, atomics, the
// cuBLAS mapping and an out-of-bounds read for AddressSanitizer. Each entry point takes and returns host
// arrays and returns the launch's cudaError_t (0 is success).
#include "cuda_common.cuh"

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace {

template <class T> T *dev_copy(const T *h, size_t n)
{
    T *d = nullptr;
    CUDA_CHECK(cudaMalloc(&d, sizeof(T) * n));
    if (h) CUDA_CHECK(cudaMemcpy(d, h, sizeof(T) * n, cudaMemcpyHostToDevice));
    return d;
}

template <class T> void to_host(T *h, const T *d, size_t n)
{
    CUDA_CHECK(cudaMemcpy(h, d, sizeof(T) * n, cudaMemcpyDeviceToHost));
}

} // namespace

// A block of 256 threads sums its 256 inputs with a shared-memory tree; without the barrier inside the loop
// a thread can read a slot its partner has not updated yet, and which one it reads depends on the order.
template <bool Barrier> __global__ void block_sum_kernel(const float *x, float *out)
{
    __shared__ float sh[256];
    unsigned t = threadIdx.x;
    sh[t] = x[blockIdx.x * 256 + t];
    __syncthreads();
    for (unsigned w = 128; w > 0; w >>= 1) {
        if (t < w) sh[t] += sh[t + w];
        if (Barrier) __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = sh[0];
}

EXPORT int emu_test_block_sum(const float *x, int blocks, int with_barrier, float *out)
{
    float *dx = dev_copy(x, (size_t)blocks * 256), *dout = dev_copy<float>(nullptr, (size_t)blocks);
    if (with_barrier) RLDT_LAUNCH(block_sum_kernel<true>, blocks, 256, dx, dout);
    else RLDT_LAUNCH(block_sum_kernel<false>, blocks, 256, dx, dout);
    int err = cudaGetLastError();
    to_host(out, dout, (size_t)blocks);
    cudaFree(dx), cudaFree(dout);
    return err;
}

// Warp sums: a __shfl_down_sync tree (lane 0 gets the total) and a __shfl_xor_sync butterfly (every lane).
__global__ void warp_sum_kernel(const float *x, float *down, float *butterfly)
{
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = x[i], b = x[i];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    for (int o = 16; o > 0; o >>= 1) b += __shfl_xor_sync(0xffffffffu, b, o);
    if (threadIdx.x % 32 == 0) down[i / 32] = v;
    butterfly[i] = b;
}

EXPORT int emu_test_warp_sum(const float *x, int blocks, int threads, float *down, float *butterfly)
{
    size_t n = (size_t)blocks * threads;
    float *dx = dev_copy(x, n), *dd = dev_copy<float>(nullptr, n / 32), *db = dev_copy<float>(nullptr, n);
    RLDT_LAUNCH(warp_sum_kernel, blocks, threads, dx, dd, db);
    int err = cudaGetLastError();
    to_host(down, dd, n / 32);
    to_host(butterfly, db, n);
    cudaFree(dx), cudaFree(dd), cudaFree(db);
    return err;
}

// Every shuffle flavour on one warp, lane l offering 100 + l: out[k * 32 + l] for flavour k.
__global__ void shuffle_kernel(int *out, double *dbl)
{
    int l = threadIdx.x, v = 100 + l;
    const unsigned all = 0xffffffffu;
    out[0 * 32 + l] = __shfl_sync(all, v, 5);
    out[1 * 32 + l] = __shfl_up_sync(all, v, 3);
    out[2 * 32 + l] = __shfl_down_sync(all, v, 3);
    out[3 * 32 + l] = __shfl_xor_sync(all, v, 6);
    out[4 * 32 + l] = __shfl_down_sync(all, v, 3, 8);
    out[5 * 32 + l] = __shfl_sync(all, v, 2, 8);
    out[6 * 32 + l] = __shfl_up_sync(all, v, 1, 4);
    dbl[l] = __shfl_sync(all, 0.5 * l + 1e-12, 31); // 8-byte values
}

EXPORT int emu_test_shuffle(int *out, double *dbl)
{
    int *d = dev_copy<int>(nullptr, 7 * 32);
    double *dd = dev_copy<double>(nullptr, 32);
    RLDT_LAUNCH(shuffle_kernel, 1, 32, d, dd);
    int err = cudaGetLastError();
    to_host(out, d, 7 * 32);
    to_host(dbl, dd, 32);
    cudaFree(d), cudaFree(dd);
    return err;
}

// Votes on a warp, and warp operations by half a warp (mask 0x0000ffff) while the other half goes on to a
// __syncthreads: out[0] ballot(l % 3 == 0), out[1] any(l == 7), out[2] all(l < 32), out[3] all(l < 31),
// out[4] the half-warp ballot, out[5 + l] the half-warp xor shuffle (lanes 16..31 keep their value).
__global__ void vote_kernel(unsigned *out)
{
    unsigned l = threadIdx.x % 32;
    const unsigned all = 0xffffffffu;
    unsigned b = __ballot_sync(all, l % 3 == 0);
    int any = __any_sync(all, l == 7), all1 = __all_sync(all, l < 32), all2 = __all_sync(all, l < 31);
    unsigned half = 0, v = l;
    if (l < 16) {
        half = __ballot_sync(0x0000ffffu, 1);
        v = __shfl_xor_sync(0x0000ffffu, v, 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) out[0] = b, out[1] = (unsigned)any, out[2] = (unsigned)all1, out[3] = (unsigned)all2, out[4] = half;
    if (threadIdx.x < 32) out[5 + l] = v;
}

EXPORT int emu_test_vote(unsigned *out)
{
    unsigned *d = dev_copy<unsigned>(nullptr, 37);
    RLDT_LAUNCH(vote_kernel, 1, 64, d);
    int err = cudaGetLastError();
    to_host(out, d, 37);
    cudaFree(d);
    return err;
}

// Threads past `live` return at once; __syncthreads waits only for the others (as on sm_70+):
// out[t] = (t + 1) % live staged through shared memory, out[live] = __syncthreads_count(t odd).
__global__ void early_exit_kernel(int *out, int live)
{
    __shared__ int sh[64];
    int t = (int)threadIdx.x;
    if (t >= live) return;
    sh[t] = t;
    __syncthreads();
    out[t] = sh[(t + 1) % live];
    int c = __syncthreads_count(t % 2);
    if (t == 0) out[live] = c;
}

EXPORT int emu_test_early_exit(int *out, int live)
{
    int *d = dev_copy<int>(nullptr, (size_t)live + 1);
    RLDT_LAUNCH(early_exit_kernel, 1, 64, d, live);
    int err = cudaGetLastError();
    to_host(out, d, (size_t)live + 1);
    cudaFree(d);
    return err;
}

// Half of each warp waits at __syncthreads, the other half at a full-warp __syncwarp: neither can complete.
__global__ void deadlock_kernel(int *x)
{
    if (threadIdx.x % 32 < 16) __syncthreads();
    else __syncwarp();
    x[threadIdx.x] = 1;
}

EXPORT int emu_test_deadlock(void)
{
    int *d = dev_copy<int>(nullptr, 64);
    RLDT_LAUNCH(deadlock_kernel, 1, 64, d);
    return cudaGetLastError();
}

// Every (block, thread) of a 3-D grid of 3-D blocks writes its linear ids: out[b * T + t] = b * 65536 + t.
__global__ void geometry_kernel(unsigned *out)
{
    unsigned T = blockDim.x * blockDim.y * blockDim.z;
    unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    out[b * T + t] = b * 65536u + t;
}

EXPORT int emu_test_geometry(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                             unsigned *out)
{
    size_t n = (size_t)gx * gy * gz * bx * by * bz;
    unsigned *d = dev_copy<unsigned>(nullptr, n ? n : 1);
    RLDT_LAUNCH(geometry_kernel, dim3(gx, gy, gz), dim3(bx, by, bz), d);
    int err = cudaGetLastError();
    if (!err) to_host(out, d, n);
    cudaFree(d);
    return err;
}

// Dynamic shared memory: each block reverses its slice through it.
__global__ void reverse_kernel(const float *x, float *y)
{
    RLDT_DYNAMIC_SHARED(float, sh);
    unsigned t = threadIdx.x;
    size_t i = (size_t)blockIdx.x * blockDim.x + t;
    sh[t] = x[i];
    __syncthreads();
    y[i] = sh[blockDim.x - 1 - t];
}

// bytes: the dynamic shared memory to ask for; opt_in: raise the kernel's limit first (needed above 48 KiB).
EXPORT int emu_test_dynamic_shared(const float *x, float *y, int blocks, int threads, size_t bytes, int opt_in)
{
    size_t n = (size_t)blocks * threads;
    float *dx = dev_copy(x, n), *dy = dev_copy<float>(nullptr, n);
    if (opt_in) CUDA_CHECK(cudaFuncSetAttribute(reverse_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    RLDT_LAUNCH_SHMEM(reverse_kernel, blocks, threads, bytes, dx, dy);
    int err = cudaGetLastError();
    to_host(y, dy, n);
    cudaFree(dx), cudaFree(dy);
    return err;
}

// Atomics from every thread of `blocks` blocks of 100: out = {count, max thread id, CAS-loop count};
// fsum = the float atomicAdd count, dsum the double one.
__global__ void atomics_kernel(int *out, float *fsum, double *dsum)
{
    int id = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    atomicAdd(&out[0], 1);
    atomicMax(&out[1], id);
    int old = out[2], seen;
    while ((seen = atomicCAS(&out[2], old, old + 1)) != old) old = seen;
    atomicAdd(fsum, 1.0f);
    atomicAdd(dsum, 0.5);
}

EXPORT int emu_test_atomics(int blocks, int *out, float *fsum, double *dsum)
{
    int zero[3] = {0, -1, 0};
    int *d = dev_copy(zero, 3);
    float *f = dev_copy<float>(nullptr, 1);
    double *g = dev_copy<double>(nullptr, 1);
    CUDA_CHECK(cudaMemset(f, 0, sizeof(float)));
    CUDA_CHECK(cudaMemset(g, 0, sizeof(double)));
    RLDT_LAUNCH(atomics_kernel, blocks, 100, d, f, g);
    int err = cudaGetLastError();
    to_host(out, d, 3);
    to_host(fsum, f, 1);
    to_host(dsum, g, 1);
    cudaFree(d), cudaFree(f), cudaFree(g);
    return err;
}

// Reads one element past the end of x (a bug AddressSanitizer must report in the kernel).
__global__ void oob_kernel(const float *x, float *y, int n)
{
    int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i <= n) y[i % n] = x[i];
}

EXPORT int emu_test_oob(int n)
{
    float *dx = dev_copy<float>(nullptr, (size_t)n), *dy = dev_copy<float>(nullptr, (size_t)n);
    RLDT_LAUNCH(oob_kernel, 1, n + 1, dx, dy, n);
    int err = cudaGetLastError();
    cudaFree(dx), cudaFree(dy);
    return err;
}

// __device__ variables through the symbol copies, and the sticky-until-read launch error.
__device__ float symbol_var[4];

EXPORT int emu_test_runtime(char *msg, size_t len)
{
    float in[4] = {1, 2, 3, 4}, out[4] = {0};
    if (cudaMemcpyToSymbol(symbol_var, in, sizeof in) || cudaMemcpyFromSymbol(out, symbol_var, sizeof out) ||
        memcmp(in, out, sizeof in))
        return snprintf(msg, len, "symbol round trip failed"), 1;
    if (cudaMemcpyToSymbol(symbol_var, in, sizeof in, 4) != cudaErrorInvalidValue)
        return snprintf(msg, len, "an out-of-range symbol copy was accepted"), 1;
    cudaGetLastError();
    int dev = -1;
    cudaDeviceProp p;
    if (cudaGetDeviceCount(&dev) || dev != 1 || cudaGetDeviceProperties(&p, 0) || p.major != 9 || p.warpSize != 32)
        return snprintf(msg, len, "device properties are not an sm_90 device"), 1;
    unsigned one = 0, *pone = &one;
    RLDT_LAUNCH(geometry_kernel, 1, 1025, pone); // too many threads per block: nothing runs
    if (cudaPeekAtLastError() != cudaErrorInvalidConfiguration || cudaGetLastError() != cudaErrorInvalidConfiguration ||
        cudaGetLastError() != cudaSuccess || one != 0)
        return snprintf(msg, len, "a 1025-thread block was not refused, or the error was not cleared by reading it"), 1;
    RLDT_LAUNCH(geometry_kernel, dim3(1, 65536), 32, pone);
    if (cudaGetLastError() != cudaErrorInvalidConfiguration) return snprintf(msg, len, "grid.y > 65535 accepted"), 1;
    float *p0 = nullptr;
    if (cudaMalloc(&p0, 8) || !p0 || ((uintptr_t)p0 % 256) || cudaFree(p0))
        return snprintf(msg, len, "cudaMalloc is not 256-byte aligned"), 1;
    cudaEvent_t a, b;
    float ms = -1;
    if (cudaEventCreate(&a) || cudaEventCreate(&b) || cudaEventRecord(a) || cudaEventRecord(b) ||
        cudaEventSynchronize(b) || cudaEventElapsedTime(&ms, a, b) || ms < 0 || cudaEventDestroy(a) || cudaEventDestroy(b))
        return snprintf(msg, len, "events failed"), 1;
    __nv_bfloat16 h = __float2bfloat16(1.00390625f); // halfway between two bf16 values: rounds to even (1.0)
    __nv_bfloat16 h2 = __float2bfloat16(1.01171875f); // halfway, rounds to even (1.015625)
    if (__bfloat162float(h) != 1.0f || __bfloat162float(h2) != 1.015625f)
        return snprintf(msg, len, "bf16 rounding is not round-to-nearest-even"), 1;
    return 0;
}

// ---------------------------------------------------------------------------------------------------
// the cuBLAS mapping against a plain triple loop (column-major, as cuBLAS)

namespace {

float tf32(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x1000u) & 0xffffe000u;
    memcpy(&x, &u, 4);
    return x;
}

// C = alpha op(A) op(B) + beta C in double; round: 0 none, 1 bf16, 2 tf32 on the inputs
void ref_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc, int round)
{
    auto r = [&](float v) { return round == 1 ? __bfloat162float(__float2bfloat16(v)) : round == 2 ? tf32(v) : v; };
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                float a = ta ? A[(size_t)i * lda + p] : A[(size_t)p * lda + i];
                float b = tb ? B[(size_t)p * ldb + j] : B[(size_t)j * ldb + p];
                s += (double)r(a) * r(b);
            }
            float c = C[(size_t)j * ldc + i];
            C[(size_t)j * ldc + i] = (float)(alpha * s + (beta != 0.0f ? beta * (double)c : 0.0));
        }
}

double max_rel(const float *a, const float *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
        if (!(d <= e)) e = d; // NaN wins
    }
    return e;
}

float *random_floats(size_t n, uint32_t seed)
{
    float *x = (float *)malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
    }
    return x;
}

} // namespace

// Returns 0, or 1 with the failing case in msg.
EXPORT int emu_test_gemm(char *msg, size_t len)
{
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return snprintf(msg, len, "cublasCreate failed"), 1;
    const int m = 37, n = 29, k = 45, ld = 50; // odd sizes, leading dimensions larger than the rows
    float *A = random_floats((size_t)4 * ld * ld, 1), *B = random_floats((size_t)4 * ld * ld, 2); // room for 3 batches
    float *C = random_floats((size_t)ld * n, 3), *R = (float *)malloc(sizeof(float) * ld * n);
    float alpha = 0.75f, beta = -0.5f, zero = 0.0f;
    int fails = 0;
    for (int ta = 0; ta < 2 && !fails; ta++)
        for (int tb = 0; tb < 2 && !fails; tb++)
            for (int b0 = 0; b0 < 2 && !fails; b0++) {
                float *Cd = dev_copy(C, (size_t)ld * n);
                if (b0) // beta = 0 must not read C: poison it
                    for (int i = 0; i < ld * n; i++) Cd[i] = NAN;
                memcpy(R, C, sizeof(float) * ld * n);
                ref_gemm(ta, tb, m, n, k, alpha, A, ld, B, ld, b0 ? 0.0f : beta, R, ld, 0);
                cublasStatus_t st = cublasSgemm(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
                                                k, &alpha, A, ld, B, ld, b0 ? &zero : &beta, Cd, ld);
                double e = 1;
                for (int j = 0; j < n && st == CUBLAS_STATUS_SUCCESS; j++) e = j ? fmax(e, max_rel(Cd + j * ld, R + j * ld, m)) : max_rel(Cd, R, m);
                if (st != CUBLAS_STATUS_SUCCESS || !(e < 1e-5))
                    fails = snprintf(msg, len, "sgemm ta=%d tb=%d beta0=%d: status %d, error %g", ta, tb, b0, st, e);
                cudaFree(Cd);
            }
    // strided batched: 3 products of m x k times k x n
    if (!fails) {
        float *Cb = dev_copy<float>(nullptr, (size_t)3 * m * n), *Rb = (float *)calloc((size_t)3 * m * n, sizeof(float));
        cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, m, (long long)m * k, B, k,
                                  (long long)k * n, &zero, Cb, m, (long long)m * n, 3);
        for (int b = 0; b < 3; b++)
            ref_gemm(false, false, m, n, k, alpha, A + (size_t)b * m * k, m, B + (size_t)b * k * n, k, 0.0f,
                     Rb + (size_t)b * m * n, m, 0);
        double e = max_rel(Cb, Rb, (size_t)3 * m * n);
        if (!(e < 1e-5)) fails = snprintf(msg, len, "strided batched: error %g", e);
        cudaFree(Cb), free(Rb);
    }
    // GemmEx: bf16 inputs with fp32 and bf16 outputs, and fp32 inputs under TF32
    if (!fails) {
        __nv_bfloat16 *Ah = (__nv_bfloat16 *)malloc(sizeof(__nv_bfloat16) * m * k);
        __nv_bfloat16 *Bh = (__nv_bfloat16 *)malloc(sizeof(__nv_bfloat16) * k * n);
        __nv_bfloat16 *Ch = (__nv_bfloat16 *)malloc(sizeof(__nv_bfloat16) * m * n);
        for (int i = 0; i < m * k; i++) Ah[i] = __float2bfloat16(A[i]);
        for (int i = 0; i < k * n; i++) Bh[i] = __float2bfloat16(B[i]);
        float *Cf = (float *)malloc(sizeof(float) * m * n), *Rf = (float *)calloc((size_t)m * n, sizeof(float));
        ref_gemm(false, false, m, n, k, alpha, A, m, B, k, 0.0f, Rf, m, 1);
        cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, Ah, CUDA_R_16BF, m, Bh, CUDA_R_16BF,
                                         k, &zero, Cf, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        double e = st ? 1 : max_rel(Cf, Rf, (size_t)m * n);
        if (!(e < 1e-5)) fails = snprintf(msg, len, "GemmEx bf16 -> fp32: status %d, error %g", st, e);
        st = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, Ah, CUDA_R_16BF, m, Bh, CUDA_R_16BF, k, &zero, Ch,
                          CUDA_R_16BF, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        for (int i = 0; i < m * n; i++) Cf[i] = __bfloat162float(Ch[i]);
        e = st ? 1 : max_rel(Cf, Rf, (size_t)m * n);
        if (!fails && !(e < 8e-3)) fails = snprintf(msg, len, "GemmEx bf16 -> bf16: status %d, error %g", st, e);
        memset(Rf, 0, sizeof(float) * m * n);
        ref_gemm(false, false, m, n, k, alpha, A, m, B, k, 0.0f, Rf, m, 2);
        st = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, CUDA_R_32F, m, B, CUDA_R_32F, k, &zero, Cf,
                          CUDA_R_32F, m, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT);
        e = st ? 1 : max_rel(Cf, Rf, (size_t)m * n);
        if (!fails && !(e < 1e-5)) fails = snprintf(msg, len, "GemmEx fp32 under TF32: status %d, error %g", st, e);
        cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH);
        st = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, m, B, k, &zero, Cf, m);
        e = st ? 1 : max_rel(Cf, Rf, (size_t)m * n);
        if (!fails && !(e < 1e-5)) fails = snprintf(msg, len, "Sgemm under CUBLAS_TF32_TENSOR_OP_MATH: error %g", e);
        if (!fails && cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, A, m - 1, B, k, &zero, Cf, m) !=
                          CUBLAS_STATUS_INVALID_VALUE)
            fails = snprintf(msg, len, "lda < m was accepted");
        free(Ah), free(Bh), free(Ch), free(Cf), free(Rf);
    }
    cublasDestroy(h);
    free(A), free(B), free(C), free(R);
    return fails ? 1 : 0;
}
