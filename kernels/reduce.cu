// reduce.cu — the ops that return a sum: sumsq (global-norm clipping), sum (logged means) and mse (a loss and its gradient),
// both deterministic two-pass reductions in double (kernels/reduce.cuh), and the shared pass 2.
#include "reduce.cuh"

static double *reduce_scratch_alloc(void)
{
    void *p = NULL;
    CUDA_CHECK(cudaMalloc(&p, sizeof(double) * RLDT_REDUCE_MAXV * (RLDT_REDUCE_BLOCKS + 1)));
    return (double *)p;
}

// [RLDT_REDUCE_MAXV][RLDT_REDUCE_BLOCKS] partials, then RLDT_REDUCE_MAXV totals. A function-local static:
// allocated once, on first use, thread-safely (C++11).
double *rldt_cuda_reduce_partials(void)
{
    static double *scratch = reduce_scratch_alloc();
    return scratch;
}

// Pass 2: one block of RLDT_REDUCE_BLOCKS threads; thread c loads block c's partial of sum k (0 past
// nblocks), the block folds them (rldt_block_sum) and thread 0 stores total k.
__global__ void reduce_partials_kernel(const double *partials, unsigned nblocks, int nv, double *totals)
{
    __shared__ double sh[RLDT_REDUCE_BLOCKS];
    for (int k = 0; k < nv; k++) {
        double v[1] = {threadIdx.x < nblocks ? partials[(size_t)k * RLDT_REDUCE_BLOCKS + threadIdx.x] : 0.0};
        rldt_block_sum<1>(v, sh);
        if (threadIdx.x == 0) totals[k] = v[0];
    }
}

void rldt_cuda_reduce_finish(unsigned nblocks, int nv, double *out)
{
    double *partials = rldt_cuda_reduce_partials(), *totals = partials + RLDT_REDUCE_MAXV * RLDT_REDUCE_BLOCKS;
    RLDT_LAUNCH(reduce_partials_kernel, 1, RLDT_REDUCE_BLOCKS, partials, nblocks, nv, totals);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaMemcpy(out, totals, sizeof(double) * (size_t)nv, cudaMemcpyDeviceToHost));
}

// sumsq and sum: Σ x_i² (each square formed in double, as on the CPU) or Σ x_i, in double. One kernel
// template: SQUARE is a compile-time constant, so each instance is branch-free. Four elements per thread
// and step through float4 loads when x is 16-byte aligned (vec), then the n % 4 left: one float per thread
// keeps too few bytes in flight to cover the memory latency (49% of the copy rate on an H200).
template <bool SQUARE> __device__ inline double sum_term(float x) { return SQUARE ? (double)x * (double)x : (double)x; }

template <bool SQUARE> __global__ void sum_kernel(const float *x, size_t n, int vec, double *partials)
{
    __shared__ double sh[RLDT_REDUCE_THREADS];
    double v[1] = {0.0};
    const size_t n4 = vec ? n / 4 : 0;
    GRID_STRIDE(i, n4) {
        float4 q = reinterpret_cast<const float4 *>(x)[i];
        v[0] += sum_term<SQUARE>(q.x);
        v[0] += sum_term<SQUARE>(q.y);
        v[0] += sum_term<SQUARE>(q.z);
        v[0] += sum_term<SQUARE>(q.w);
    }
    GRID_STRIDE(i, n - 4 * n4)
        v[0] += sum_term<SQUARE>(x[4 * n4 + i]);
    rldt_block_sum<1>(v, sh);
    if (threadIdx.x == 0) partials[blockIdx.x] = v[0];
}

template <bool SQUARE> static double cuda_sum_of(const float *x, size_t n)
{
    if (!n) return 0.0;
    int vec = rldt_aligned16(x);
    unsigned grid = rldt_reduce_grid(vec ? (n + 3) / 4 : n);
    double s;
    RLDT_LAUNCH(sum_kernel<SQUARE>, grid, RLDT_REDUCE_THREADS, x, n, vec, rldt_cuda_reduce_partials());
    CUDA_CHECK(cudaGetLastError());
    rldt_cuda_reduce_finish(grid, 1, &s);
    return s;
}

static double cuda_sumsq(const float *x, size_t n) { return cuda_sum_of<true>(x, n); }
static double cuda_sum(const float *x, size_t n) { return cuda_sum_of<false>(x, n); }

// mse: with d_i = pred_i − target_i (float, as on the CPU), returns (1/n) Σ d_i² (the sum in double) and,
// when grad is non-NULL, writes grad_i = 2·d_i/n. Fused: the gradient is written in the same pass that
// reads pred and target for the loss, so the two inputs are read once instead of twice.
__global__ void mse_kernel(const float *pred, const float *target, float *grad, size_t n, double *partials)
{
    __shared__ double sh[RLDT_REDUCE_THREADS];
    double v[1] = {0.0};
    float fn = (float)n;
    GRID_STRIDE(i, n) {
        float d = pred[i] - target[i];
        v[0] += (double)d * (double)d;
        if (grad) grad[i] = 2.0f * d / fn;
    }
    rldt_block_sum<1>(v, sh);
    if (threadIdx.x == 0) partials[blockIdx.x] = v[0];
}

static double cuda_mse(const float *pred, const float *target, float *grad, size_t n)
{
    if (!n) return 0.0;
    unsigned grid = rldt_reduce_grid(n);
    double s;
    RLDT_LAUNCH(mse_kernel, grid, RLDT_REDUCE_THREADS, pred, target, grad, n, rldt_cuda_reduce_partials());
    CUDA_CHECK(cudaGetLastError());
    rldt_cuda_reduce_finish(grid, 1, &s);
    return s / (double)n;
}

void rldt_cuda_register_reduce(rldt_backend_t *be)
{
    be->sumsq = cuda_sumsq;
    be->sum = cuda_sum;
    be->mse = cuda_mse;
}
