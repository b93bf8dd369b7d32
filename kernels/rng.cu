// rng.cu — bulk Philox fills on the device. Thread b computes Philox block counter + b, i.e. elements 4b..4b+3,
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

void rldt_cuda_register_rng(rldt_backend_t *be)
{
    be->fill_normal = cuda_fill_normal;
    be->fill_uniform = cuda_fill_uniform;
}
