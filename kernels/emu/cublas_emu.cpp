// cublas_emu.cpp — the cuBLAS subset of cublas_emu.h on OpenBLAS. Column-major like cuBLAS; alpha and beta
// are host values (the default pointer mode; device memory is host memory here anyway). beta = 0 never
// reads C, as in cuBLAS (C may hold NaN).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "emu/cuda_emu.h"

struct cublasContext {
    cublasMath_t math;
    float *scratch[3]; // packed A, B and C for the converting paths (grow-only)
    size_t cap[3];
};

namespace {

// TF32 keeps 10 of the 23 mantissa bits; tensor cores round to nearest (ties away from zero).
float round_tf32(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
    memcpy(&x, &u, 4);
    return x;
}

float round_bf16(float x) { return __bfloat162float(__float2bfloat16(x)); }

enum Rounding { ROUND_NONE, ROUND_TF32, ROUND_BF16 };

float *scratch(cublasHandle_t h, int i, size_t n)
{
    if (n > h->cap[i]) {
        free(h->scratch[i]);
        h->scratch[i] = (float *)malloc(n * sizeof(float));
        h->cap[i] = h->scratch[i] ? n : 0;
    }
    return h->scratch[i];
}

// Copies a rows x cols column-major matrix (leading dimension ld) of fp32 or bf16 into a tight fp32 one.
void pack(float *dst, const void *src, cudaDataType type, int rows, int cols, int ld, Rounding r)
{
    for (int c = 0; c < cols; c++)
        for (int i = 0; i < rows; i++) {
            size_t at = (size_t)c * ld + i;
            float v = type == CUDA_R_16BF ? __bfloat162float(((const __nv_bfloat16 *)src)[at]) : ((const float *)src)[at];
            dst[(size_t)c * rows + i] = r == ROUND_TF32 ? round_tf32(v) : r == ROUND_BF16 ? round_bf16(v) : v;
        }
}

CBLAS_TRANSPOSE op(cublasOperation_t t) { return t == CUBLAS_OP_N ? CblasNoTrans : CblasTrans; }

bool valid_op(cublasOperation_t t) { return t == CUBLAS_OP_N || t == CUBLAS_OP_T || t == CUBLAS_OP_C; }

// Argument checks shared by the GEMMs, as cuBLAS makes them.
cublasStatus_t check(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, int lda,
                     int ldb, int ldc)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
    int ra = ta == CUBLAS_OP_N ? m : k, rb = tb == CUBLAS_OP_N ? k : n;
    if (lda < (ra > 1 ? ra : 1) || ldb < (rb > 1 ? rb : 1) || ldc < (m > 1 ? m : 1)) return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

// C = alpha op(A) op(B) + beta C on fp32 data; when r is not ROUND_NONE the inputs are rounded first.
void sgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
           const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc, Rounding r)
{
    if (m == 0 || n == 0) return;
    if (beta == 0.0f)
        for (int j = 0; j < n; j++) memset(C + (size_t)j * ldc, 0, sizeof(float) * (size_t)m);
    if (k == 0 || alpha == 0.0f) {
        if (beta != 0.0f && beta != 1.0f)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) C[(size_t)j * ldc + i] *= beta;
        return;
    }
    if (r != ROUND_NONE) {
        int ra = ta == CUBLAS_OP_N ? m : k, ca = ta == CUBLAS_OP_N ? k : m;
        int rb = tb == CUBLAS_OP_N ? k : n, cb = tb == CUBLAS_OP_N ? n : k;
        float *a = scratch(h, 0, (size_t)ra * ca), *b = scratch(h, 1, (size_t)rb * cb);
        if (!a || !b) {
            fprintf(stderr, "rldt cuda-emu: out of memory in a GEMM\n");
            abort();
        }
        pack(a, A, CUDA_R_32F, ra, ca, lda, r);
        pack(b, B, CUDA_R_32F, rb, cb, ldb, r);
        A = a, lda = ra, B = b, ldb = rb;
    }
    cblas_sgemm(CblasColMajor, op(ta), op(tb), m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

} // namespace

cublasStatus_t cublasCreate(cublasHandle_t *handle)
{
    *handle = (cublasHandle_t)calloc(1, sizeof(cublasContext));
    return *handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
}

cublasStatus_t cublasDestroy(cublasHandle_t h)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    for (int i = 0; i < 3; i++) free(h->scratch[i]);
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t h, struct CUstream_st *stream)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    return stream ? CUBLAS_STATUS_INVALID_VALUE : CUBLAS_STATUS_SUCCESS; // only the default stream exists
}

cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_TENSOR_OP_MATH && mode != CUBLAS_PEDANTIC_MATH &&
        mode != CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    h->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t h, cublasMath_t *mode)
{
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    *mode = h->math;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t s)
{
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc)
{
    cublasStatus_t s = check(h, ta, tb, m, n, k, lda, ldb, ldc);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    sgemm(h, ta, tb, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc,
          h->math == CUBLAS_TF32_TENSOR_OP_MATH ? ROUND_TF32 : ROUND_NONE);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const float *alpha, const float *A, int lda, long long strideA,
                                         const float *B, int ldb, long long strideB, const float *beta, float *C,
                                         int ldc, long long strideC, int batch)
{
    cublasStatus_t s = check(h, ta, tb, m, n, k, lda, ldb, ldc);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
    for (int i = 0; i < batch; i++)
        sgemm(h, ta, tb, m, n, k, *alpha, A + i * strideA, lda, B + i * strideB, ldb, *beta, C + i * strideC, ldc,
              h->math == CUBLAS_TF32_TENSOR_OP_MATH ? ROUND_TF32 : ROUND_NONE);
    return CUBLAS_STATUS_SUCCESS;
}

// fp32 inputs: C fp32, compute 32F (TF32 under CUBLAS_TF32_TENSOR_OP_MATH), 32F_FAST_TF32 or 32F_FAST_16BF.
// bf16 inputs: C bf16 or fp32, compute 32F. Other combinations are CUBLAS_STATUS_NOT_SUPPORTED here.
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B,
                            cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo)
{
    cublasStatus_t s = check(h, ta, tb, m, n, k, lda, ldb, ldc);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
    if (Atype != Btype || (Atype != CUDA_R_32F && Atype != CUDA_R_16BF)) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (Ctype != CUDA_R_32F && !(Ctype == CUDA_R_16BF && Atype == CUDA_R_16BF)) return CUBLAS_STATUS_NOT_SUPPORTED;
    Rounding r = ROUND_NONE;
    switch (compute) {
    case CUBLAS_COMPUTE_32F: r = h->math == CUBLAS_TF32_TENSOR_OP_MATH ? ROUND_TF32 : ROUND_NONE; break;
    case CUBLAS_COMPUTE_32F_PEDANTIC: break;
    case CUBLAS_COMPUTE_32F_FAST_TF32: r = ROUND_TF32; break;
    case CUBLAS_COMPUTE_32F_FAST_16BF: r = ROUND_BF16; break;
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (Atype == CUDA_R_16BF) r = ROUND_NONE; // bf16 values are exact in fp32
    float a = *(const float *)alpha, b = *(const float *)beta;
    if (Atype == CUDA_R_32F) {
        sgemm(h, ta, tb, m, n, k, a, (const float *)A, lda, (const float *)B, ldb, b, (float *)C, ldc, r);
        return CUBLAS_STATUS_SUCCESS;
    }
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    int ra = ta == CUBLAS_OP_N ? m : k, ca = ta == CUBLAS_OP_N ? k : m;
    int rb = tb == CUBLAS_OP_N ? k : n, cb = tb == CUBLAS_OP_N ? n : k;
    float *pa = scratch(h, 0, (size_t)ra * ca + 1), *pb = scratch(h, 1, (size_t)rb * cb + 1);
    if (!pa || !pb) return CUBLAS_STATUS_ALLOC_FAILED;
    pack(pa, A, Atype, ra, ca, lda, ROUND_NONE);
    pack(pb, B, Btype, rb, cb, ldb, ROUND_NONE);
    if (Ctype == CUDA_R_32F) {
        sgemm(h, ta, tb, m, n, k, a, pa, ra, pb, rb, b, (float *)C, ldc, ROUND_NONE);
        return CUBLAS_STATUS_SUCCESS;
    }
    // bf16 output: accumulate in fp32, round once at the end
    float *pc = scratch(h, 2, (size_t)m * n);
    if (!pc) return CUBLAS_STATUS_ALLOC_FAILED;
    __nv_bfloat16 *c16 = (__nv_bfloat16 *)C;
    if (b != 0.0f) pack(pc, C, CUDA_R_16BF, m, n, ldc, ROUND_NONE);
    sgemm(h, ta, tb, m, n, k, a, pa, ra, pb, rb, b, pc, m, ROUND_NONE);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) c16[(size_t)j * ldc + i] = __float2bfloat16(pc[(size_t)j * m + i]);
    return CUBLAS_STATUS_SUCCESS;
}
