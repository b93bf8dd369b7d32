// transport.cu — the RLDT ops (RLDT.md §3–4): the SVGD transport field, one block per state, and the
// actor-loss gradient with its two loss sums (a deterministic reduction, kernels/reduce.cuh). The per-query
// and per-element math mirrors rldt/transport.h (rldt_svgd_query, rldt_svgd_alpha, rldt_actor_grad_elem):
// the same float operations in the same order per output, spread over threads.
#include "reduce.cuh"
#include "rldt/transport.h"

// ---------------------------------------------------------------------------------------------------
// svgd_field

#define SVGD_MAX_THREADS 256
#define SVGD_TILE_PAIRS 4096 // most (query, particle) pairs per tile: their distances/weights sit in shared memory

// The rank order of a query's squared distances: ascending, NaN after every number, ties broken by particle
// index. A strict total order, so the ranks of a row are a permutation of 0..P−1 and exactly one element has
// rank ⌊(P−1)/2⌋; its value is the lower median rldt_svgd_lower_median returns (for numbers, ties give equal
// values whichever one is picked).
__device__ inline bool svgd_before(float u, int ju, float v, int jv)
{
    bool un = u != u, vn = v != v;
    if (un || vn) return un == vn ? ju < jv : vn;
    return u < v || (u == v && ju < jv);
}

// One block per state b (blockIdx.x). Dynamic shared memory, in floats:
//   dk  [qt][P]   squared distances ‖x_i − a_j‖² of the tile's queries, then the kernel weights k_ij
//   hq  [qt]      the tile's bandwidths h_i
//   red [P + 1]   the gradient norms ‖g_j‖, then α_s in red[P]
//   as, gs [P][lda] each (when staged)  the state's particles a[b] and critic gradients g[b], row stride
//                 lda = D|1: odd, so the threads of a warp that read one d of 32 different particles hit 32
//                 different banks. Not staged (the state does not fit the device's shared memory), a and g
//                 are read from global memory with stride D: same math, more traffic.
// Phases (a barrier after each; no thread reads what another writes in the same phase):
//   load  a[b], g[b] into shared memory
//   α     thread j: ‖g_j‖ = sqrtf(Σ_d g_jd²) (d ascending); thread 0: α_s = τ·min(Σ_j ‖g_j‖ / P, 1e5) (j
//         ascending): the float order of rldt_svgd_alpha. Written to alpha_out[b].
//   then per tile of qt queries:
//   dist  thread per pair (i, j): dk_ij = Σ_d (x_id − a_jd)² (d ascending, as rldt_svgd_query)
//   med   thread per pair: rank of dk_ij in row i (svgd_before); the thread holding rank ⌊(P−1)/2⌋ (one per
//         row) sets h_i = rldt_svgd_bandwidth(median, P). Counting ranks replaces the CPU's sort of a local
//         copy, parallel over j and with no per-thread arrays (no local memory).
//   k     thread per pair: k_ij = expf(−dk_ij / (2 h_i)); thread (i, 0) writes h_out.
//   φ     thread per (i, d): φ_id = (Σ_j k_ij g_jd + (α/h_i)·Σ_j k_ij (x_id − a_jd)) / P (j ascending), the
//         repulsion summed as Σ k (x − a), never x Σk − Σ k a (RLDT.md §3).
// Fusion: the whole field of a state is one launch; a[b] and g[b] are read from global memory once per state
// (not once per query), and the P×Q distances and weights never leave shared memory.
__global__ void svgd_field_kernel(float *phi, float *h_out, float *alpha_out, const float *x, const float *a,
                                  const float *g, int Q, int P, int D, float tau, int qt, int staged)
{
    RLDT_DYNAMIC_SHARED(float, sh);
    const int T = (int)blockDim.x, tid = (int)threadIdx.x, lda = staged ? (D | 1) : D;
    const size_t b = blockIdx.x;
    float *dk = sh, *hq = dk + qt * P, *red = hq + qt, *as = red + P + 1, *gs = as + P * lda;
    const float *ab = a + b * P * D, *gb = g + b * P * D;

    if (staged) {
        for (int e = tid; e < P * D; e += T) {
            int j = e / D, d = e % D;
            as[j * lda + d] = ab[e];
            gs[j * lda + d] = gb[e];
        }
        ab = as;
        gb = gs;
    }
    __syncthreads();

    for (int j = tid; j < P; j += T) {
        float sq = 0.0f;
        for (int d = 0; d < D; d++) sq += gb[j * lda + d] * gb[j * lda + d];
        red[j] = sqrtf(sq);
    }
    __syncthreads();
    if (tid == 0) {
        float sum = 0.0f;
        for (int j = 0; j < P; j++) sum += red[j];
        float mean = sum / (float)P;
        red[P] = alpha_out[b] = tau * (mean > RLDT_SVGD_MAX_GRAD_NORM ? RLDT_SVGD_MAX_GRAD_NORM : mean);
    }
    __syncthreads();
    const float alpha = red[P], inv_p = 1.0f / (float)P;
    const int rank = (P - 1) / 2;

    for (int q0 = 0; q0 < Q; q0 += qt) {
        const int nq = Q - q0 < qt ? Q - q0 : qt;
        const size_t row0 = b * Q + q0; // first query row of the tile
        const float *xq = x + row0 * D;

        for (int p = tid; p < nq * P; p += T) {
            const float *xi = xq + (size_t)(p / P) * D, *aj = ab + (p % P) * lda;
            float sq = 0.0f;
            for (int d = 0; d < D; d++) {
                float diff = xi[d] - aj[d];
                sq += diff * diff;
            }
            dk[p] = sq;
        }
        __syncthreads();

        for (int p = tid; p < nq * P; p += T) {
            int i = p / P, j = p % P, before = 0;
            float v = dk[p];
            for (int j2 = 0; j2 < P; j2++) before += svgd_before(dk[i * P + j2], j2, v, j);
            if (before == rank) hq[i] = rldt_svgd_bandwidth(v, P);
        }
        __syncthreads();

        for (int p = tid; p < nq * P; p += T) {
            int i = p / P;
            if (p % P == 0) h_out[row0 + i] = hq[i];
            dk[p] = expf(-dk[p] / (2.0f * hq[i]));
        }
        __syncthreads();

        for (int e = tid; e < nq * D; e += T) {
            int i = e / D, d = e % D;
            const float *ki = dk + i * P;
            float xd = xq[e], drive = 0.0f, repulse = 0.0f;
            for (int j = 0; j < P; j++) {
                drive += ki[j] * gb[j * lda + d];
                repulse += ki[j] * (xd - ab[j * lda + d]);
            }
            phi[row0 * D + e] = (drive + (alpha / hq[i]) * repulse) * inv_p;
        }
        __syncthreads(); // the next tile overwrites dk and hq
    }
}

// Largest dynamic shared memory one block of svgd_field_kernel may use: the device's opt-in limit (227 KiB
// on sm_90, 163 KiB on sm_80, the emulator's like sm_90). The kernel's attribute is raised to it once, on first
// use (the default is 48 KiB).
static size_t svgd_shmem_limit(void)
{
    static size_t limit = [] {
        int dev = 0, optin = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
        CUDA_CHECK(cudaFuncSetAttribute(svgd_field_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
        return (size_t)optin;
    }();
    return limit;
}

// Launch shape: B blocks (one per state); qt = the queries per tile, at most SVGD_TILE_PAIRS pairs; threads =
// enough for the larger of the tile's pairs and (query, d) elements, a multiple of 32, at most 256. The
// outputs do not depend on qt or the block size (each is computed by one thread in a fixed order).
static void cuda_svgd_field(float *phi, float *h_out, float *alpha_out, const float *x, const float *a, const float *g,
                            int B, int Q, int P, int D, float tau)
{
    if (B <= 0 || P <= 0 || D <= 0) return; /* the CPU reference needs P >= 1 too (the caller checks) */
    int qt = Q < 1 ? 1 : Q, cap = SVGD_TILE_PAIRS / P > 1 ? SVGD_TILE_PAIRS / P : 1;
    if (qt > cap) qt = cap;
    size_t base = sizeof(float) * ((size_t)qt * P + (size_t)qt + (size_t)P + 1);
    size_t stage_bytes = base + sizeof(float) * 2 * (size_t)P * (size_t)(D | 1);
    int staged = stage_bytes <= svgd_shmem_limit();
    size_t work = (size_t)qt * (size_t)(P > D ? P : D);
    unsigned threads = work >= SVGD_MAX_THREADS ? SVGD_MAX_THREADS : (unsigned)((work + 31) / 32 * 32);
    RLDT_LAUNCH_SHMEM(svgd_field_kernel, (unsigned)B, threads, staged ? stage_bytes : base, phi, h_out, alpha_out, x,
                      a, g, Q, P, D, tau, qt, staged);
    CUDA_CHECK(cudaGetLastError());
}

// ---------------------------------------------------------------------------------------------------
// actor_grad

// dv_i = (1/N)·rldt_actor_grad_elem(v_i, φ_i, a_i, x_k,i, t_n, K, c_cons) for element i = n*D + d, and the
// sums of its ℓ_T and ℓ_C terms in double, reduced with the fixed-order two-pass scheme of reduce.cuh.
// Fused: the gradient and both loss sums come from one read of v, φ, a and x_k (three separate passes would
// read them three times).
__global__ void actor_grad_kernel(float *dv, const float *v, const float *phi, const float *a, const float *xk,
                                  const float *t, int D, int K, float c_cons, float inv_n, size_t n, double *partials)
{
    __shared__ double sh[2 * RLDT_REDUCE_THREADS];
    double s[2] = {0.0, 0.0};
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float et, ec;
        dv[i] = inv_n * rldt_actor_grad_elem(v[i], phi[i], a[i], xk[i], t[i / (size_t)D], K, c_cons, &et, &ec);
        s[0] += et;
        s[1] += ec;
    }
    rldt_block_sum<2>(s, sh);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = s[0];
        partials[RLDT_REDUCE_BLOCKS + blockIdx.x] = s[1];
    }
}

static void cuda_actor_grad(float *dv, double *loss_transport, double *loss_consist, const float *v, const float *phi,
                            const float *a, const float *xk, const float *t, int N, int D, int K, float c_cons)
{
    *loss_transport = *loss_consist = 0.0;
    if (N <= 0 || D <= 0) return;
    size_t n = (size_t)N * (size_t)D;
    unsigned grid = rldt_reduce_grid(n);
    double sums[2];
    RLDT_LAUNCH(actor_grad_kernel, grid, RLDT_REDUCE_THREADS, dv, v, phi, a, xk, t, D, K, c_cons, 1.0f / (float)N, n,
                rldt_cuda_reduce_partials());
    CUDA_CHECK(cudaGetLastError());
    rldt_cuda_reduce_finish(grid, 2, sums);
    *loss_transport = sums[0] / N;
    *loss_consist = sums[1] / N;
}

void rldt_cuda_register_transport(rldt_backend_t *be)
{
    be->svgd_field = cuda_svgd_field;
    be->actor_grad = cuda_actor_grad;
}
