// rng.cu — bulk Philox fills and random indices on the device. Thread b computes Philox block counter + b, i.e. elements 4b..4b+3,
// exactly as host/core/rng.c does on the CPU, so CPU and GPU fills agree to the last ulp of logf/cosf.
#include "cuda_common.cuh"
#include "rldt/philox.h"

// Each thread produces one whole Philox block (four values): one 10-round call per four outputs.
__global__ void fill_normal_kernel(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter)
{
    for (size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x; 4 * b < n; b += (size_t)gridDim.x * blockDim.x) {
        rldt_philox_block_t r = rldt_philox(seed, stream, counter + b);
        float z[4];
        rldt_box_muller(r.v[0], r.v[1], &z[0], &z[1]);
        rldt_box_muller(r.v[2], r.v[3], &z[2], &z[3]);
        for (int j = 0; j < 4 && 4 * b + j < n; j++) x[4 * b + j] = z[j];
    }
}

__global__ void fill_uniform_kernel(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter)
{
    for (size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x; 4 * b < n; b += (size_t)gridDim.x * blockDim.x) {
        rldt_philox_block_t r = rldt_philox(seed, stream, counter + b);
        for (int j = 0; j < 4 && 4 * b + j < n; j++) x[4 * b + j] = rldt_u32_to_uniform(r.v[j]);
    }
}

static void cuda_fill_normal(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter)
{
    if (!n) return;
    RLDT_LAUNCH(fill_normal_kernel, rldt_grid((n + 3) / 4, 256), 256, x, n, seed, stream, counter);
    CUDA_CHECK(cudaGetLastError());
}

static void cuda_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter)
{
    if (!n) return;
    RLDT_LAUNCH(fill_uniform_kernel, rldt_grid((n + 3) / 4, 256), 256, x, n, seed, stream, counter);
    CUDA_CHECK(cudaGetLastError());
}

// Random indices (draw_index): element i draws its word with rldt_philox_below_at, the host's formula, and
// looks its value up in `table` (a minibatch's rows) or takes it as is (a denoising step). One thread per
// element: each recomputes its Philox block (four threads share one), which is cheaper than the
// cross-thread exchange it would replace at these sizes (a minibatch of indices).
__global__ void draw_index_kernel(int *k, float *t, int t_div, const int *table, int offset, uint32_t below, size_t n,
                                  uint64_t seed, uint64_t stream, uint64_t counter)
{
    GRID_STRIDE(i, n) {
        int j = offset + (int)rldt_philox_below_at(seed, stream, counter, i, below);
        int v = table ? table[j] : j;
        if (k) k[i] = v;
        if (t) t[i] = (float)v / (float)t_div;
    }
}

static void cuda_draw_index(int *k, float *t, int t_div, const int *table, int offset, uint32_t below, size_t n,
                            uint64_t seed, uint64_t stream, uint64_t counter)
{
    if (!n) return;
    RLDT_LAUNCH(draw_index_kernel, rldt_grid(n, 256), 256, k, t, t_div, table, offset, below, n, seed, stream, counter);
    CUDA_CHECK(cudaGetLastError());
}

void rldt_cuda_register_rng(rldt_backend_t *be)
{
    be->draw_index = cuda_draw_index;
    be->fill_normal = cuda_fill_normal;
    be->fill_uniform = cuda_fill_uniform;
}
