// elementwise.cu — the per-element ops: axpy, axpy_cols, minimum, fill, copy_cols, flow_pair, chain_select,
// expected_target, time_features, gather_rows. Each kernel is a grid-stride loop over size_t indices, one element per
// iteration; the 2D ops run over the B*ncols (or N*D) elements of the block they touch, so a row's columns
// are adjacent threads (coalesced) whatever the leading dimensions are. The per-element math is the RLDT_HD
// code of the headers (rldt_flow_pair_elem, rldt_time_feature), the code the CPU backend runs. They are
// bandwidth-bound: one read of each input and one write of each output per element. Block size: rldt_block()
// (256, or the sweep of bench/bench_kernels); the results do not depend on it.
#include "index.cuh"
#include "rldt/nn.h"

// One launch over n elements, rldt_block() threads per block, and its error check.
#define EW_LAUNCH(kernel, n, ...)                                                                           \
    do {                                                                                                    \
        unsigned bs_ = rldt_block();                                                                        \
        RLDT_LAUNCH(kernel, rldt_grid((n), bs_), bs_, __VA_ARGS__);                                         \
        CUDA_CHECK(cudaGetLastError());                                                                     \
    } while (0)

// y_i += a·x_i
__global__ void axpy_kernel(float *y, float a, const float *x, size_t n)
{
    GRID_STRIDE(i, n) y[i] += a * x[i];
}

static void cuda_axpy(float *y, float a, const float *x, size_t n)
{
    if (!n) return;
    EW_LAUNCH(axpy_kernel, n, y, a, x, n);
}

// out_i = x_i + dt·v_i: an Euler step of the flow written straight into the chain's next slot (one pass;
// an axpy into x plus a copy into the chain would read and write the N×D block twice).
__global__ void euler_step_kernel(float *out, const float *x, const float *v, float dt, size_t n)
{
    GRID_STRIDE(i, n) out[i] = x[i] + dt * v[i];
}

static void cuda_euler_step(float *out, const float *x, const float *v, float dt, size_t n)
{
    if (!n) return;
    EW_LAUNCH(euler_step_kernel, n, out, x, v, dt, n);
}

// y[b*ld_y + c] += a·x[b*ld_x + c] for element e = b*ncols + c of the B×ncols block.
__global__ void axpy_cols_kernel(float *y, int ld_y, const float *x, int ld_x, float a, int ncols, size_t n)
{
    GRID_STRIDE(e, n)
    {
        size_t b, c;
        rldt_divmod(e, (unsigned)ncols, &b, &c);
        y[b * ld_y + c] += a * x[b * ld_x + c];
    }
}

static void cuda_axpy_cols(float *y, int ld_y, const float *x, int ld_x, float a, int ncols, int B)
{
    if (B <= 0 || ncols <= 0) return;
    size_t n = (size_t)B * (size_t)ncols;
    EW_LAUNCH(axpy_cols_kernel, n, y, ld_y, x, ld_x, a, ncols, n);
}

// y_i = min(y_i, x_i) (fminf: a NaN loses to a number, as on the CPU)
__global__ void minimum_kernel(float *y, const float *x, size_t n)
{
    GRID_STRIDE(i, n) y[i] = fminf(y[i], x[i]);
}

static void cuda_minimum(float *y, const float *x, size_t n)
{
    if (!n) return;
    EW_LAUNCH(minimum_kernel, n, y, x, n);
}

// x_i = value; four per thread through float4 stores where x is 16-byte aligned (vec), then the n % 4 left:
// one store per thread ran at 40% of the copy rate on an H200 at the default block of 256 threads.
__global__ void fill_kernel(float *x, float value, size_t n, int vec)
{
    const size_t n4 = vec ? n / 4 : 0;
    GRID_STRIDE(i, n4) reinterpret_cast<float4 *>(x)[i] = make_float4(value, value, value, value);
    GRID_STRIDE(i, n - 4 * n4) x[4 * n4 + i] = value;
}

static void cuda_fill(float *x, float value, size_t n)
{
    if (!n) return;
    int vec = rldt_aligned16(x);
    EW_LAUNCH(fill_kernel, vec ? (n + 3) / 4 : n, x, value, n, vec);
}

// dst[b*ld_dst + dst_off + c] = src[b*ld_src + src_off + c] for element e = b*ncols + c. One kernel instead of
// B row copies (cudaMemcpy2D would do too; this keeps every op a kernel the emulator runs).
__global__ void copy_cols_kernel(float *dst, int ld_dst, int dst_off, const float *src, int ld_src, int src_off,
                                 int ncols, size_t n)
{
    GRID_STRIDE(e, n)
    {
        size_t b, c;
        rldt_divmod(e, (unsigned)ncols, &b, &c);
        dst[b * ld_dst + dst_off + c] = src[b * ld_src + src_off + c];
    }
}

static void cuda_copy_cols(float *dst, int ld_dst, int dst_off, const float *src, int ld_src, int src_off, int ncols,
                           int B)
{
    if (B <= 0 || ncols <= 0) return;
    size_t n = (size_t)B * (size_t)ncols;
    EW_LAUNCH(copy_cols_kernel, n, dst, ld_dst, dst_off, src, ld_src, src_off, ncols, n);
}

// Flow-matching pairs, element i = b*D + d: xt = (1 − t_b)·z + t_b·a and target = a − z
// (rldt_flow_pair_elem). Fused: both outputs come from one read of a and z, where two axpy-style passes
// would read them twice.
__global__ void flow_pair_kernel(float *xt, float *target, const float *a, const float *z, const float *t, int D,
                                 size_t n)
{
    GRID_STRIDE(i, n) rldt_flow_pair_elem(t[rldt_row(i, (unsigned)D)], a[i], z[i], &xt[i], &target[i]);
}

static void cuda_flow_pair(float *xt, float *target, const float *a, const float *z, const float *t, int B, int D)
{
    if (B <= 0 || D <= 0) return;
    size_t n = (size_t)B * (size_t)D;
    EW_LAUNCH(flow_pair_kernel, n, xt, target, a, z, t, D, n);
}

// out[n][d] = chain[k_n][n][d], the chain stored [K+1][N][D]: a gather of one step per row.
__global__ void chain_select_kernel(float *out, const float *chain, const int *k, int N, int D, size_t total)
{
    GRID_STRIDE(e, total)
    {
        size_t row, d;
        rldt_divmod(e, (unsigned)D, &row, &d);
        out[e] = chain[((size_t)k[row] * (size_t)N + row) * (size_t)D + d];
    }
}

static void cuda_chain_select(float *out, const float *chain, const int *k, int N, int D)
{
    if (N <= 0 || D <= 0) return;
    size_t n = (size_t)N * (size_t)D;
    EW_LAUNCH(chain_select_kernel, n, out, chain, k, N, D, n);
}

// Expected targets a† = x + (1 − t_n)·v (RLDT.md §2), element i = n*D + d; the expression of
// cpu_expected_target, written the same way so both round alike.
__global__ void expected_target_kernel(float *out, const float *x, const float *v, const float *t, int D, size_t n)
{
    GRID_STRIDE(i, n) out[i] = x[i] + (1.0f - t[rldt_row(i, (unsigned)D)]) * v[i];
}

static void cuda_expected_target(float *out, const float *x, const float *v, const float *t, int N, int D)
{
    if (N <= 0 || D <= 0) return;
    size_t n = (size_t)N * (size_t)D;
    EW_LAUNCH(expected_target_kernel, n, out, x, v, t, D, n);
}

// Row gather dst[i][c] = src[rows[i / repeat]][c], element e = i*width + c: adjacent threads copy adjacent
// columns of a row (coalesced reads of each source row and writes of dst).
// dst row i = src row rows[i / repeat], moved as units of U floats (U = 4: float4s, for widths that are a
// multiple of 4 with 16-byte aligned rows; one float per thread ran at 21-35% of the copy rate on an H200 at
// width 24). w = width / U units per row.
template <typename T>
__global__ void gather_rows_kernel(T *dst, const T *src, const int *rows, int w, int repeat, size_t n)
{
    GRID_STRIDE(e, n)
    {
        size_t i, c;
        rldt_divmod(e, (unsigned)w, &i, &c);
        dst[e] = src[(size_t)rows[i / (unsigned)repeat] * (size_t)w + c];
    }
}

static void cuda_gather_rows(float *dst, const float *src, const int *rows, int n, int width, int repeat)
{
    if (n <= 0 || width <= 0) return;
    if (width % 4 == 0 && rldt_aligned16(dst) && rldt_aligned16(src)) {
        size_t total = (size_t)n * (size_t)(width / 4);
        EW_LAUNCH(gather_rows_kernel<float4>, total, reinterpret_cast<float4 *>(dst), reinterpret_cast<const float4 *>(src),
                  rows, width / 4, repeat, total);
    } else {
        size_t total = (size_t)n * (size_t)width;
        EW_LAUNCH(gather_rows_kernel<float>, total, dst, src, rows, width, repeat, total);
    }
}

// Sinusoidal time features: out[r][j] = rldt_time_feature(t_r, j, dim) for element e = r*dim + j.
__global__ void time_features_kernel(float *out, const float *t, int dim, size_t n)
{
    GRID_STRIDE(e, n)
    {
        size_t r, j;
        rldt_divmod(e, (unsigned)dim, &r, &j);
        out[e] = rldt_time_feature(t[r], (int)j, dim);
    }
}

static void cuda_time_features(float *out, const float *t, int B, int dim)
{
    if (B <= 0 || dim <= 0) return;
    size_t n = (size_t)B * (size_t)dim;
    EW_LAUNCH(time_features_kernel, n, out, t, dim, n);
}

void rldt_cuda_register_elementwise(rldt_backend_t *be)
{
    be->axpy = cuda_axpy;
    be->axpy_cols = cuda_axpy_cols;
    be->minimum = cuda_minimum;
    be->fill = cuda_fill;
    be->copy_cols = cuda_copy_cols;
    be->flow_pair = cuda_flow_pair;
    be->chain_select = cuda_chain_select;
    be->euler_step = cuda_euler_step;
    be->expected_target = cuda_expected_target;
    be->time_features = cuda_time_features;
    be->gather_rows = cuda_gather_rows;
}
