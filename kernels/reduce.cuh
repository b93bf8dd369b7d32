// reduce.cuh — the deterministic reduction shared by the ops that return sums (sumsq, mse in reduce.cu;
// actor_grad in transport.cu). No floating-point atomics anywhere: a sum over n elements is
//
//   pass 1: grid = rldt_reduce_grid(n) blocks of RLDT_REDUCE_THREADS threads (a function of n alone, at most
//           RLDT_REDUCE_BLOCKS). Thread t of block c accumulates, in double, the elements
//           i = c*T + t, i + G*T, i + 2*G*T, ... (grid stride) in increasing i; the block then folds its T
//           values with rldt_block_sum (a shared-memory tree of fixed shape) and thread 0 writes the block's
//           partial to the persistent scratch buffer: partials[k*RLDT_REDUCE_BLOCKS + c] for sum k < nv.
//   pass 2: rldt_cuda_reduce_finish launches one block of RLDT_REDUCE_BLOCKS threads that folds the partials
//           with the same tree (missing blocks count as 0) and downloads the nv results.
//
// Every addition happens in an order fixed by n, so the same call gives the same bits on every run (and a
// resume is bit-exact on the same device), whatever the scheduling. The order differs from the CPU's
// sequential loop, so CPU and GPU agree to double rounding, not bit for bit.
#pragma once
#include "cuda_common.cuh"

#define RLDT_REDUCE_THREADS 256 // threads per block of pass 1 (a power of two)
#define RLDT_REDUCE_BLOCKS 1024 // most blocks of pass 1 = threads of pass 2 (a power of two, <= 1024): 256K
                                // threads, what an H100/H200 holds resident, for enough loads in flight
#define RLDT_REDUCE_MAXV 2      // most sums one reduction carries (actor_grad: transport and consistency)

// Blocks of pass 1 for n elements: enough for one element per thread, at most RLDT_REDUCE_BLOCKS.
static inline unsigned rldt_reduce_grid(size_t n)
{
    size_t g = (n + RLDT_REDUCE_THREADS - 1) / RLDT_REDUCE_THREADS;
    return (unsigned)(g < 1 ? 1 : g > RLDT_REDUCE_BLOCKS ? RLDT_REDUCE_BLOCKS : g);
}

// Block-wide sums of NV values (float or double) per thread, in a fixed tree: at width w = blockDim/2,
// blockDim/4, ..., 1, thread t < w adds slot t + w into slot t. On return every thread holds the NV block
// totals in v. sh is NV*blockDim values of shared memory; blockDim must be a power of two. Every thread of
// the block must call it (it has barriers); the trailing barrier lets the caller reuse sh right away.
template <int NV, typename V> __device__ void rldt_block_sum(V (&v)[NV], V *sh)
{
    unsigned t = threadIdx.x, T = blockDim.x;
    for (int k = 0; k < NV; k++) sh[k * T + t] = v[k];
    __syncthreads();
    for (unsigned w = T / 2; w > 0; w >>= 1) {
        if (t < w)
            for (int k = 0; k < NV; k++) sh[k * T + t] += sh[k * T + t + w];
        __syncthreads();
    }
    for (int k = 0; k < NV; k++) v[k] = sh[k * T];
    __syncthreads();
}

// The persistent device scratch of pass 1: RLDT_REDUCE_MAXV rows of RLDT_REDUCE_BLOCKS partials. Allocated
// on first use (never per call) and kept for the life of the process. Not reentrant: the ops that use it
// run on one stream from one host thread at a time, as every op of the backend does.
double *rldt_cuda_reduce_partials(void);

// Pass 2 over the partials pass 1 wrote (nblocks blocks, nv <= RLDT_REDUCE_MAXV sums): folds them on the
// device in the fixed tree and downloads the nv totals into out (host memory).
void rldt_cuda_reduce_finish(unsigned nblocks, int nv, double *out);
