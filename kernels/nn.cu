// nn.cu — the neural-network ops: the fused linear layer (cuBLAS for its GEMMs, our kernels for the bias,
// residual, activation and bias gradient around them), the activations and LayerNorm; and the GEMM
// precision (fp32, tf32 or bf16), one setting per process.
//
// Semantics are those of the CPU twins in host/nn/backend_cpu.c; the per-element activation math is the
// shared rldt_act_f / rldt_act_df of rldt/nn.h. Every sum over rows (bias, gamma and beta gradients) is a
// fixed-order two-pass reduction without atomics, so a backward pass gives the same bits on every run.
//
// Row-major [rows][cols] on our side, column-major in cuBLAS: a row-major X[r][c] is the column-major
// matrix X^T (c x r, leading dimension c). So row-major C = A B^T is the column-major C^T = B A^T, i.e.
// cuBLAS computes with the operands swapped, and no transposed copy is ever made.
#include <string.h>

#include "cuda_common.cuh"
#include "index.cuh"
#include "reduce.cuh"
#include "rldt/nn.h"
#ifndef RLDT_CUDA_EMU
#include <cuda_bf16.h>
#endif

#define NN_THREADS 256 // threads per block of the grid-stride elementwise kernels

#define CUBLAS_CHECK(call)                                                                                  \
    do {                                                                                                    \
        cublasStatus_t st_ = (call);                                                                        \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                                 \
            fprintf(stderr, "rldt cuda: %s failed at %s:%d: cuBLAS status %d\n", #call, __FILE__, __LINE__,   \
                    (int)st_);                                                                              \
            abort();                                                                                        \
        }                                                                                                   \
    } while (0)

// One kernel instantiation per activation, so each kernel body is that activation's straight-line code
// instead of a switch per element (as the CPU loops are).
#define NN_LAUNCH_ACT(a, kernel, grid, block, ...)                                                          \
    switch (a) {                                                                                            \
    case RLDT_ACT_RELU: RLDT_LAUNCH(kernel<RLDT_ACT_RELU>, grid, block, __VA_ARGS__); break;                \
    case RLDT_ACT_SILU: RLDT_LAUNCH(kernel<RLDT_ACT_SILU>, grid, block, __VA_ARGS__); break;                \
    case RLDT_ACT_MISH: RLDT_LAUNCH(kernel<RLDT_ACT_MISH>, grid, block, __VA_ARGS__); break;                \
    case RLDT_ACT_TANH: RLDT_LAUNCH(kernel<RLDT_ACT_TANH>, grid, block, __VA_ARGS__); break;                \
    default: RLDT_LAUNCH(kernel<RLDT_ACT_IDENTITY>, grid, block, __VA_ARGS__); break;                       \
    }

// ---------------------------------------------------------------------------------------------------
// persistent scratch: grown to the largest request, never freed (the process owns it until exit), so a
// training loop allocates only on its first iteration. Not reentrant: the ops run on one stream from one
// host thread, as every op of the backend does.

typedef struct {
    void *p;
    size_t bytes;
} nn_scratch_t;

static void *nn_scratch(nn_scratch_t *s, size_t bytes)
{
    if (s->bytes < bytes) {
        if (s->p) CUDA_CHECK(cudaFree(s->p)); // cudaFree waits for the kernels still reading it
        CUDA_CHECK(cudaMalloc(&s->p, bytes));
        s->bytes = bytes;
    }
    return s->p;
}

static nn_scratch_t nn_partials_buf; // per-block column sums of the two-pass reductions (floats)
static nn_scratch_t nn_bf16_buf[3];  // bf16 copies of the GEMM operands (slots: input, weights, gradient)

// ---------------------------------------------------------------------------------------------------
// GEMM precision and the cuBLAS handle
//
//   fp32 (default) cublasSgemm in full fp32: what the parity bounds of the CPU comparison assume.
//   tf32           the same calls with CUBLAS_TF32_TENSOR_OP_MATH: tensor cores round the inputs to 10
//                  mantissa bits and accumulate in fp32.
//   bf16           the operands are rounded to bf16 (round to nearest even) into scratch buffers by a small
//                  kernel, then cublasGemmEx with bf16 inputs, fp32 output and CUBLAS_COMPUTE_32F; weights,
//                  gradients and everything outside the GEMMs stay fp32 (fp32 master weights).

typedef enum { NN_FP32 = 0, NN_TF32, NN_BF16 } nn_precision_t;
static const char *const nn_precision_names[] = {"fp32", "tf32", "bf16"};
static nn_precision_t nn_precision = NN_FP32;

static cublasHandle_t nn_handle;
static bool nn_handle_made;

static void nn_apply_math_mode(void)
{
    CUBLAS_CHECK(cublasSetMathMode(nn_handle, nn_precision == NN_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

// One handle per process, made at the first GEMM (creating one costs milliseconds and device memory).
static cublasHandle_t nn_cublas(void)
{
    if (!nn_handle_made) {
        CUBLAS_CHECK(cublasCreate(&nn_handle));
        nn_handle_made = true;
        nn_apply_math_mode();
    }
    return nn_handle;
}

bool rldt_cuda_nn_set_precision(const char *name, char *why, size_t len)
{
    if (!name || !*name) name = "fp32";
    for (int p = NN_FP32; p <= NN_BF16; p++)
        if (strcmp(name, nn_precision_names[p]) == 0) {
            nn_precision = (nn_precision_t)p;
            if (nn_handle_made) nn_apply_math_mode();
            return true;
        }
    snprintf(why, len, "RLDT_PRECISION='%.40s': expected fp32, tf32 or bf16", name);
    return false;
}

// x rounded to bf16, element by element (round to nearest even).
__global__ void to_bf16_kernel(__nv_bfloat16 *dst, const float *src, size_t n)
{
    GRID_STRIDE(i, n) dst[i] = __float2bfloat16(src[i]);
}

// A GEMM operand in the process's precision: x itself (fp32, tf32), or its bf16 copy in scratch slot `slot`.
// The bf16 copy of a weight matrix is remade at every call: O(weights) against the GEMM's O(B x weights),
// and the weights change at every optimiser step anyway.
static const void *nn_operand(const float *x, size_t n, int slot)
{
    if (nn_precision != NN_BF16) return x;
    __nv_bfloat16 *h = (__nv_bfloat16 *)nn_scratch(&nn_bf16_buf[slot], sizeof(__nv_bfloat16) * (n ? n : 1));
    if (n) RLDT_LAUNCH(to_bf16_kernel, rldt_grid(n, NN_THREADS), NN_THREADS, h, x, n);
    CUDA_CHECK(cudaGetLastError());
    return h;
}

// Column-major C (m x n, ldc) = op(A) op(B) + beta C, on operands from nn_operand.
static void nn_gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void *A, int lda,
                    const void *B, int ldb, float beta, float *C, int ldc)
{
    const float one = 1.0f;
    if (nn_precision == NN_BF16)
        CUBLAS_CHECK(cublasGemmEx(nn_cublas(), ta, tb, m, n, k, &one, A, CUDA_R_16BF, lda, B, CUDA_R_16BF, ldb, &beta,
                                  C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    else
        CUBLAS_CHECK(cublasSgemm(nn_cublas(), ta, tb, m, n, k, &one, (const float *)A, lda, (const float *)B, ldb,
                                 &beta, C, ldc));
}

// ---------------------------------------------------------------------------------------------------
// deterministic column sums: out[c] += Σ_r v[r][c] over the rows of a [B][C] matrix
//
// Pass 1 (fused into the kernel that produces v): blocks of COL_TILE x ROW_LANES threads on a grid of
// ceil(C / COL_TILE) x G blocks. Thread (x, y) of block (bx, by) owns column c = bx*COL_TILE + x and sums the
// rows r = by*ROW_LANES + y, then r + G*ROW_LANES, r + 2*G*ROW_LANES, ... in increasing order (a warp reads 32
// adjacent columns of one row: coalesced). nn_write_partials folds the ROW_LANES lanes of a column in order
// y = 0, 1, ... and writes the block's sum to partial[k][by][c].
// Pass 2 (col_sum_finish_kernel): out[c] += Σ_by partial[k][by][c] in increasing by.
// G = nn_row_blocks(B) depends on B alone, so every addition happens in an order fixed by the shape: the
// same bits on every run (the order differs from the CPU's row loop, so CPU and GPU agree to rounding).

#define COL_TILE 32        // columns per block: one warp across a row
#define ROW_LANES 8        // rows a block reads at once (COL_TILE x ROW_LANES = 256 threads)
#define ROWS_PER_BLOCK 64  // rows per block before the cap (8 per thread)
#define MAX_ROW_BLOCKS 128 // most blocks along the rows: partials per column

static unsigned nn_row_blocks(int B)
{
    unsigned g = (unsigned)((B + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    return g < 1 ? 1 : g > MAX_ROW_BLOCKS ? MAX_ROW_BLOCKS : g;
}

// Pass 1's last step (every thread of the block calls it: it has a barrier). v holds this thread's NV sums
// of column c; sh is NV*ROW_LANES*COL_TILE floats of shared memory; partial is [NV][gridDim.y][C].
template <int NV> __device__ void nn_write_partials(const float (&v)[NV], float *sh, float *partial, int c, int C)
{
    for (int k = 0; k < NV; k++) sh[(k * ROW_LANES + threadIdx.y) * COL_TILE + threadIdx.x] = v[k];
    __syncthreads();
    if (threadIdx.y == 0 && c < C)
        for (int k = 0; k < NV; k++) {
            float s = 0.0f;
            for (int y = 0; y < ROW_LANES; y++) s += sh[(k * ROW_LANES + y) * COL_TILE + threadIdx.x];
            partial[((size_t)k * gridDim.y + blockIdx.y) * C + c] = s;
        }
}

// Pass 2: out0[c] += Σ_g partial[0][g][c], and out1 likewise from partial[1] when not NULL.
__global__ void col_sum_finish_kernel(float *out0, float *out1, const float *partial, int G, int C)
{
    GRID_STRIDE(c, (size_t)C)
    {
        float s = 0.0f;
        for (int g = 0; g < G; g++) s += partial[(size_t)g * C + c];
        out0[c] += s;
        if (out1) {
            float t = 0.0f;
            for (int g = 0; g < G; g++) t += partial[(size_t)(G + g) * C + c];
            out1[c] += t;
        }
    }
}

static void nn_col_sum_finish(float *out0, float *out1, const float *partial, unsigned G, int C)
{
    RLDT_LAUNCH(col_sum_finish_kernel, rldt_grid((size_t)C, NN_THREADS), NN_THREADS, out0, out1, partial, (int)G, C);
    CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------------------------------------------
// activations

// Four elements per thread through 16-byte loads and stores where every pointer is 16-byte aligned (vec),
// then the n % 4 left (all n otherwise) one per thread. One float per thread keeps too few bytes in flight
// per SM to cover the memory latency: the one-element kernels ran at 58% of the copy rate on an H200, where
// axpy, which loads two floats per thread, ran at 81%. The per-element math is unchanged.
template <rldt_act_t A> __device__ inline float4 act_f4(float4 v)
{
    return make_float4(rldt_act_f(A, v.x), rldt_act_f(A, v.y), rldt_act_f(A, v.z), rldt_act_f(A, v.w));
}

template <rldt_act_t A> __global__ void act_forward_kernel(float *out, const float *in, size_t n, int vec)
{
    const size_t n4 = vec ? n / 4 : 0;
    GRID_STRIDE(i, n4) reinterpret_cast<float4 *>(out)[i] = act_f4<A>(reinterpret_cast<const float4 *>(in)[i]);
    GRID_STRIDE(i, n - 4 * n4) out[4 * n4 + i] = rldt_act_f(A, in[4 * n4 + i]);
}

template <rldt_act_t A> __global__ void act_backward_kernel(float *din, const float *dout, const float *in, size_t n, int vec)
{
    const size_t n4 = vec ? n / 4 : 0;
    GRID_STRIDE(i, n4)
    {
        float4 g = reinterpret_cast<const float4 *>(dout)[i], x = reinterpret_cast<const float4 *>(in)[i];
        reinterpret_cast<float4 *>(din)[i] = make_float4(g.x * rldt_act_df(A, x.x), g.y * rldt_act_df(A, x.y),
                                                         g.z * rldt_act_df(A, x.z), g.w * rldt_act_df(A, x.w));
    }
    GRID_STRIDE(i, n - 4 * n4) din[4 * n4 + i] = dout[4 * n4 + i] * rldt_act_df(A, in[4 * n4 + i]);
}

static void cuda_act_forward(rldt_act_t a, float *out, const float *in, size_t n)
{
    if (!n) return;
    int vec = rldt_aligned16(out) && rldt_aligned16(in);
    NN_LAUNCH_ACT(a, act_forward_kernel, rldt_grid(vec ? (n + 3) / 4 : n, NN_THREADS), NN_THREADS, out, in, n, vec);
    CUDA_CHECK(cudaGetLastError());
}

static void cuda_act_backward(rldt_act_t a, float *din, const float *dout, const float *in, size_t n)
{
    if (!n) return;
    int vec = rldt_aligned16(din) && rldt_aligned16(dout) && rldt_aligned16(in);
    NN_LAUNCH_ACT(a, act_backward_kernel, rldt_grid(vec ? (n + 3) / 4 : n, NN_THREADS), NN_THREADS, din, dout, in, n,
                  vec);
    CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------------------------------------------
// the linear layer, forward: GEMM, then one epilogue pass
//
// The GEMM writes pre = in W^T with beta = 0, then linear_epilogue_kernel adds the bias (and the residual)
// and applies the activation in one pass: it reads pre (and res) once and writes pre and post once. The
// alternative (initialise pre = b + res, a GEMM with beta = 1, then an activation pass) writes pre once more,
// has the GEMM read it back, reads it again for the activation, and takes three launches instead of two.
// When res is pre itself the residual is already there: the GEMM accumulates onto it (beta = 1) and the
// epilogue adds only the bias.

template <rldt_act_t A>
__global__ void linear_epilogue_kernel(float *pre, float *post, const float *b, const float *res, int no, size_t n)
{
    GRID_STRIDE(i, n)
    {
        size_t r, c;
        rldt_divmod(i, (unsigned)no, &r, &c); // the bias index (32-bit division below 2^32 elements)
        float v = pre[i] + (res ? res[i] + b[c] : b[c]);
        pre[i] = v;
        if (post) post[i] = rldt_act_f(A, v);
    }
}

static void cuda_linear_forward(float *pre, float *post, const float *in, const float *W, const float *b,
                                const float *res, rldt_act_t act, int B, int ni, int no)
{
    if (B <= 0 || no <= 0) return;
    bool res_in_pre = res == pre;
    // row-major pre[B][no] = in[B][ni] W[no][ni]^T  <=>  column-major pre^T (no x B) = W^T' in^T, with
    // W^T' the transpose of the column-major W buffer (ni x no, ld ni) and in^T its buffer (ni x B, ld ni)
    const void *w = nn_operand(W, (size_t)no * ni, 1), *x = nn_operand(in, (size_t)B * ni, 0);
    nn_gemm(CUBLAS_OP_T, CUBLAS_OP_N, no, B, ni, w, ni, x, ni, res_in_pre ? 1.0f : 0.0f, pre, no);
    size_t n = (size_t)B * no;
    NN_LAUNCH_ACT(post ? act : RLDT_ACT_IDENTITY, linear_epilogue_kernel, rldt_grid(n, NN_THREADS), NN_THREADS, pre,
                  post, b, res_in_pre ? NULL : res, no, n);
    CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------------------------------------------
// the linear layer, backward: one prologue kernel, then the GEMMs
//
// linear_dpre_kernel computes dpre = dpost * act'(pre) (+ dres) and, in the same pass, pass 1 of the bias
// gradient's column sums (db = Σ_rows dpre). Fused, dpre is written once and never read back for db (a
// separate column-sum kernel would read all of [B][no] again). With write = 0 (identity, no dres, dpre ==
// dpost: dpre is dpost as it is) it only sums. Then din = dpre W (beta 0) and dW += dpre^T in (beta 1).

template <rldt_act_t A>
__global__ void linear_dpre_kernel(float *dpre, const float *dpost, const float *dres, const float *pre, int write,
                                   float *partial, int B, int no)
{
    __shared__ float sh[ROW_LANES * COL_TILE];
    int c = blockIdx.x * COL_TILE + threadIdx.x;
    float s[1] = {0.0f};
    if (c < no)
        for (size_t r = blockIdx.y * ROW_LANES + threadIdx.y; r < (size_t)B; r += (size_t)gridDim.y * ROW_LANES) {
            size_t i = r * no + c;
            float d = dpost[i];
            if (write) {
                if (A != RLDT_ACT_IDENTITY) d *= rldt_act_df(A, pre[i]);
                if (dres) d += dres[i];
                dpre[i] = d;
            }
            s[0] += d;
        }
    if (partial) nn_write_partials<1>(s, sh, partial, c, no); // uniform over the block: the barrier is safe
}

static void cuda_linear_backward(float *din, float *dW, float *db, float *dpre, const float *dpost, const float *dres,
                                 const float *pre, rldt_act_t act, const float *in, const float *W, int B, int ni,
                                 int no)
{
    if (B <= 0 || no <= 0) return;
    int write = act != RLDT_ACT_IDENTITY || dres || dpre != dpost;
    unsigned G = nn_row_blocks(B);
    float *partial = dW ? (float *)nn_scratch(&nn_partials_buf, sizeof(float) * G * (size_t)no) : NULL;
    if (write || partial) {
        dim3 grid((unsigned)((no + COL_TILE - 1) / COL_TILE), G), block(COL_TILE, ROW_LANES);
        NN_LAUNCH_ACT(act, linear_dpre_kernel, grid, block, dpre, dpost, dres, pre, write, partial, B, no);
        CUDA_CHECK(cudaGetLastError());
    }
    if (partial) nn_col_sum_finish(db, NULL, partial, G, no);
    if (!din && !dW) return;
    const void *d = nn_operand(dpre, (size_t)B * no, 2);
    if (din) {
        // row-major din[B][ni] = dpre[B][no] W[no][ni]  <=>  column-major din^T (ni x B) = W-buffer (ni x no)
        // times dpre-buffer (no x B)
        const void *w = nn_operand(W, (size_t)no * ni, 1);
        nn_gemm(CUBLAS_OP_N, CUBLAS_OP_N, ni, B, no, w, ni, d, no, 0.0f, din, ni);
    }
    if (dW) {
        // row-major dW[no][ni] += dpre^T in  <=>  column-major dW^T (ni x no) += in-buffer (ni x B) times the
        // transposed dpre-buffer (B x no)
        const void *x = nn_operand(in, (size_t)B * ni, 0);
        nn_gemm(CUBLAS_OP_N, CUBLAS_OP_T, ni, no, B, x, ni, d, no, 1.0f, dW, ni);
    }
}

// ---------------------------------------------------------------------------------------------------
// LayerNorm: one warp per row for the row statistics; the gamma/beta gradients by column tiles
//
// Per row: mean m = Σx / C, variance v = Σ(x - m)^2 / C (biased, two passes over the row as on the CPU),
// rstd s = 1 / sqrt(v + eps), out = (x - m) s gamma + beta. Backward, with norm = (x - m) s and
// dn = dout gamma: din = s (dn - mean(dn) - norm mean(dn norm)); dgamma += Σ_rows dout norm, dbeta += Σ_rows
// dout (the two-pass column sums above). Lane l of a row's warp sums columns l, l + 32, ... in order, then
// the warp adds the 32 partial sums in a fixed butterfly of shuffles (ln_warp_sum): deterministic, and no
// shared memory or block barriers. (One block per row with two block-wide trees of eight barriers each ran
// the forward pass at 28% of the copy rate on an H200, 65,536 x 512.) A row's later passes re-read it from L1.

#define LN_THREADS 256 // threads per block: LN_THREADS / 32 rows at a time
#define LN_MAX_BLOCKS 8192 // most blocks (8 rows each); more rows loop

// Σ over the warp's 32 lanes of v, the same bits in every lane: each step adds two equal-shaped partial sums,
// and float addition is commutative.
__device__ inline float ln_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static unsigned ln_grid(int B)
{
    unsigned rows_per_block = LN_THREADS / 32, g = (unsigned)((B + rows_per_block - 1) / rows_per_block);
    return g < LN_MAX_BLOCKS ? g : LN_MAX_BLOCKS;
}

// The rows of warp w of the grid: w, w + (warps in the grid), ... (uniform over the warp: the shuffles are safe)
#define LN_ROWS(r, B)                                                                                       \
    for (int r = (int)((blockIdx.x * blockDim.x + threadIdx.x) / 32); r < (B); r += (int)(gridDim.x * blockDim.x / 32))

__global__ void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                                         const float *beta, int B, int C)
{
    const int lane = (int)threadIdx.x % 32;
    LN_ROWS(r, B) {
        const float *x = in + (size_t)r * C;
        float *y = out + (size_t)r * C;
        float sum = 0.0f, sq = 0.0f;
        for (int c = lane; c < C; c += 32) sum += x[c];
        float m = ln_warp_sum(sum) / (float)C;
        for (int c = lane; c < C; c += 32) sq += (x[c] - m) * (x[c] - m);
        float s = 1.0f / sqrtf(ln_warp_sum(sq) / (float)C + RLDT_LN_EPS);
        for (int c = lane; c < C; c += 32) y[c] = (x[c] - m) * s * gamma[c] + beta[c];
        if (lane == 0) {
            mean[r] = m;
            rstd[r] = s;
        }
    }
}

static void cuda_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                                   const float *beta, int B, int C)
{
    if (B <= 0 || C <= 0) return;
    RLDT_LAUNCH(layernorm_forward_kernel, ln_grid(B), LN_THREADS, out, mean, rstd, in, gamma, beta, B, C);
    CUDA_CHECK(cudaGetLastError());
}

// din per row: the two row sums (of dn and of dn * norm) in one pass, then din.
__global__ void layernorm_backward_kernel(float *din, const float *dout, const float *in, const float *mean,
                                          const float *rstd, const float *gamma, int B, int C)
{
    const int lane = (int)threadIdx.x % 32;
    LN_ROWS(r, B) {
        const float *x = in + (size_t)r * C, *dy = dout + (size_t)r * C;
        float *dx = din + (size_t)r * C;
        float m = mean[r], s = rstd[r], v0 = 0.0f, v1 = 0.0f;
        for (int c = lane; c < C; c += 32) {
            float norm = (x[c] - m) * s, dn = __fmul_rn(dy[c], gamma[c]);
            v0 += dn;
            v1 += dn * norm;
        }
        float dmean = ln_warp_sum(v0) / (float)C, dproj = ln_warp_sum(v1) / (float)C;
        for (int c = lane; c < C; c += 32) {
            float norm = (x[c] - m) * s;
            /* __fmul_rn: the product rounded as in the sum above (nvcc would fuse it into the subtraction), so
             * dn − dmean cancels exactly where the CPU's does (C = 1 gives din = 0 on both) */
            dx[c] = s * (__fmul_rn(dy[c], gamma[c]) - dmean - norm * dproj);
        }
    }
}

// Pass 1 of dgamma = Σ_rows dout norm and dbeta = Σ_rows dout (column tiles, as linear_dpre_kernel).
__global__ void layernorm_param_partials_kernel(float *partial, const float *dout, const float *in, const float *mean,
                                                const float *rstd, int B, int C)
{
    __shared__ float sh[2 * ROW_LANES * COL_TILE];
    int c = blockIdx.x * COL_TILE + threadIdx.x;
    float v[2] = {0.0f, 0.0f};
    if (c < C)
        for (size_t r = blockIdx.y * ROW_LANES + threadIdx.y; r < (size_t)B; r += (size_t)gridDim.y * ROW_LANES) {
            size_t i = r * C + c;
            v[0] += dout[i] * ((in[i] - mean[r]) * rstd[r]);
            v[1] += dout[i];
        }
    nn_write_partials<2>(v, sh, partial, c, C);
}

static void cuda_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                    const float *mean, const float *rstd, const float *gamma, int B, int C)
{
    if (B <= 0 || C <= 0) return;
    RLDT_LAUNCH(layernorm_backward_kernel, ln_grid(B), LN_THREADS, din, dout, in, mean, rstd, gamma, B, C);
    CUDA_CHECK(cudaGetLastError());
    if (!dgamma) return;
    unsigned G = nn_row_blocks(B);
    float *partial = (float *)nn_scratch(&nn_partials_buf, sizeof(float) * 2 * G * (size_t)C);
    dim3 pgrid((unsigned)((C + COL_TILE - 1) / COL_TILE), G), pblock(COL_TILE, ROW_LANES);
    RLDT_LAUNCH(layernorm_param_partials_kernel, pgrid, pblock, partial, dout, in, mean, rstd, B, C);
    CUDA_CHECK(cudaGetLastError());
    nn_col_sum_finish(dgamma, dbeta, partial, G, C);
}

// ---------------------------------------------------------------------------------------------------

void rldt_cuda_register_nn(rldt_backend_t *be)
{
    be->linear_forward = cuda_linear_forward;
    be->linear_backward = cuda_linear_backward;
    be->act_forward = cuda_act_forward;
    be->act_backward = cuda_act_backward;
    be->layernorm_forward = cuda_layernorm_forward;
    be->layernorm_backward = cuda_layernorm_backward;
    size_t len = strlen(be->device);
    snprintf(be->device + len, sizeof be->device - len, ", %s GEMMs", nn_precision_names[nn_precision]);
}
