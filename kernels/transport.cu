// transport.cu — the RLDT ops (RLDT.md §3–6): the SVGD transport field, one block per state, the
// actor-loss gradient with its two loss sums (a deterministic reduction, kernels/reduce.cuh), the TD(λ)
// targets and the exploration noise. The math mirrors rldt/transport.h (rldt_svgd_query, rldt_svgd_alpha,
// rldt_actor_grad_elem, rldt_td_lambda, rldt_explore_row): the same float operations in the same order per
// output, spread over threads.
#include "index.cuh"
#include "reduce.cuh"
#include "rldt/transport.h"

// ---------------------------------------------------------------------------------------------------
// svgd_field

#define SVGD_BLOCK 256        // threads per block: S states of G threads each (S·G <= 256)
#define SVGD_STAGE 4           // loads in flight per thread and array while staging
#define SVGD_TILE_FLOATS 4096 // a tile of queries keeps at most this many distances (qt·P) and x floats (qt·ld)

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

// A thread's walk over the flat indices tid, tid + G, tid + 2G, ... of a [rows][w] array as (row, col), with
// no division per step: the stride G = dr·w + dc is split once. (Integer division by a run-time value is
// some twenty instructions on the GPU, more than the work of most steps here.)
struct svgd_walk {
    int r, c, dr, dc, w;
};
__device__ inline svgd_walk svgd_walk_start(int tid, int G, int w) { return {tid / w, tid % w, G / w, G % w, w}; }
__device__ inline void svgd_walk_next(svgd_walk &k)
{
    k.r += k.dr;
    k.c += k.dc;
    if (k.c >= k.w) k.c -= k.w, k.r++;
}

// A group of G threads per state; a block holds S = blockDim/G states (b = blockIdx·S + group), so that small
// states (P = 8, D = 24: a few hundred floats) still fill the SM with states in flight. Each group has its
// own slice of the dynamic shared memory, `group_floats` floats:
//   dk  [qt][P]    squared distances ‖x_i − a_j‖² of the tile's queries, then the kernel weights k_ij
//   hq  [qt]       the tile's bandwidths h_i
//   rs  [qt]       the tile's repulsion scales α/h_i
//   red [P + 1]    the gradient norms ‖g_j‖, then α_s in red[P]
//   as, gs [P][ld] (staged) the state's particles a[b] and critic gradients g[b]
//   xs  [qt][ld]   (staged) the tile's queries
// with row stride ld = D|1: odd, so the threads of a warp that read one d of 32 different rows hit 32
// different banks. Not staged (the state does not fit the device's shared memory), a, g and x are read
// from global memory with stride D: the same math, more traffic.
// Phases, one barrier after each (no thread reads what another writes in the same phase); a group past
// the last state (b >= B) does no work but takes part in every barrier:
//   stage   a[b], g[b] (first tile) and the tile's queries x into shared memory
//   dist    thread per pair (i, j): dk_ij = Σ_d (x_id − a_jd)² (d ascending, as rldt_svgd_query);
//           first tile: thread j also computes ‖g_j‖ = sqrtf(Σ_d g_jd²) (d ascending)
//   median  thread per pair: the rank of dk_ij in row i (svgd_before); the one thread holding rank ⌊(P−1)/2⌋
//           sets h_i = rldt_svgd_bandwidth(median, P). Counting ranks replaces the CPU's sort of a local copy:
//           parallel over j, and no per-thread arrays (no local memory). First tile: thread 0 sets
//           α_s = τ·min(Σ_j ‖g_j‖ / P, 1e5) (j ascending: the float order of rldt_svgd_alpha), alpha_out[b].
//   k       thread per pair: k_ij = expf(−dk_ij / (2 h_i)); thread (i, 0) writes h_out and sets α/h_i
//   φ       thread per (i, d): φ_id = (Σ_j k_ij g_jd + (α/h_i)·Σ_j k_ij (x_id − a_jd)) / P (j ascending), the
//           repulsion summed as Σ k (x − a), never x Σk − Σ k a (RLDT.md §3)
// Fusion: a state's whole field is one pass over its data: a[b], g[b] and x[b] are read from global memory
// once (not once per query), and the Q×P distances and weights never leave shared memory.
// __launch_bounds__: at most 64 registers (no spills), so 4 blocks of 256 threads fit an SM.
__global__ void __launch_bounds__(SVGD_BLOCK, 4) svgd_field_kernel(float *__restrict__ phi, float *__restrict__ h_out, float *__restrict__ alpha_out,
                                  const float *__restrict__ x, const float *__restrict__ a,
                                  const float *__restrict__ g, int B, int Q, int P, int D, float tau, int qt, int staged,
                                  int G, int group_floats)
{
    RLDT_DYNAMIC_SHARED(float, sh);
    const int grp = (int)threadIdx.x / G, tid = (int)threadIdx.x % G;
    const int ld = staged ? (D | 1) : D; // row stride of a, g and the queries
    const size_t b = (size_t)blockIdx.x * (blockDim.x / G) + grp;
    const bool active = b < (size_t)B;
    float *dk = sh + (size_t)grp * group_floats, *hq = dk + qt * P, *rs = hq + qt, *red = rs + qt, *as = red + P + 1;
    float *gs = as + P * ld, *xs = gs + P * ld;
    const float *a_b = active ? a + b * P * D : a, *g_b = active ? g + b * P * D : g; // the state's rows
    const float *ab = staged ? as : a_b, *gb = staged ? gs : g_b; // where the phases read them
    const int rank = (P - 1) / 2;
    const float inv_p = 1.0f / (float)P;

    for (int q0 = 0; q0 == 0 || q0 < Q; q0 += qt) { // one pass when Q = 0: α is still written
        const int nq = Q - q0 < qt ? Q - q0 : qt;
        const size_t row0 = b * Q + q0; // first query row of the tile
        const float *x_t = active ? x + row0 * D : x, *xq = staged ? xs : x_t;
        if (active && staged) {
            // stage a[b] and g[b] (first tile) and the tile's queries: SVGD_STAGE loads of each in flight per
            // thread before their stores (a load-store loop would wait one memory latency per element)
            const int na = q0 == 0 ? P * D : 0, nx = nq * D, nmax = na > nx ? na : nx;
            svgd_walk k = svgd_walk_start(tid, G, D); // (row, column) of e, for the shared-memory layout
            for (int e0 = tid; e0 < nmax; e0 += SVGD_STAGE * G) {
                float va[SVGD_STAGE], vg[SVGD_STAGE], vx[SVGD_STAGE];
#pragma unroll
                for (int u = 0; u < SVGD_STAGE; u++) {
                    int e = e0 + u * G;
                    va[u] = e < na ? a_b[e] : 0.0f;
                    vg[u] = e < na ? g_b[e] : 0.0f;
                    vx[u] = e < nx ? x_t[e] : 0.0f;
                }
#pragma unroll
                for (int u = 0; u < SVGD_STAGE; u++, svgd_walk_next(k)) {
                    int e = e0 + u * G, at = k.r * ld + k.c;
                    if (e < na) as[at] = va[u], gs[at] = vg[u];
                    if (e < nx) xs[at] = vx[u];
                }
            }
        }
        __syncthreads();

        if (active) {
            for (int j = tid; q0 == 0 && j < P; j += G) {
                float sq = 0.0f;
                for (int d = 0; d < D; d++) sq += gb[j * ld + d] * gb[j * ld + d];
                red[j] = sqrtf(sq);
            }
            for (svgd_walk k = svgd_walk_start(tid, G, P); k.r < nq; svgd_walk_next(k)) {
                const float *xi = xq + k.r * ld, *aj = ab + k.c * ld;
                float sq = 0.0f;
                for (int d = 0; d < D; d++) {
                    float diff = xi[d] - aj[d];
                    sq += diff * diff;
                }
                dk[k.r * P + k.c] = sq;
            }
        }
        __syncthreads();

        if (active) {
            if (q0 == 0 && tid == 0) {
                float sum = 0.0f;
                for (int j = 0; j < P; j++) sum += red[j];
                float mean = sum / (float)P;
                red[P] = alpha_out[b] = tau * (mean > RLDT_SVGD_MAX_GRAD_NORM ? RLDT_SVGD_MAX_GRAD_NORM : mean);
            }
            for (svgd_walk k = svgd_walk_start(tid, G, P); k.r < nq; svgd_walk_next(k)) {
                const float *row = dk + k.r * P, v = row[k.c];
                int before = 0;
                for (int j2 = 0; j2 < P; j2++) before += svgd_before(row[j2], j2, v, k.c);
                if (before == rank) hq[k.r] = rldt_svgd_bandwidth(v, P);
            }
        }
        __syncthreads();

        if (active)
            for (svgd_walk k = svgd_walk_start(tid, G, P); k.r < nq; svgd_walk_next(k)) {
                float h = hq[k.r], *kij = dk + k.r * P + k.c;
                if (k.c == 0) h_out[row0 + k.r] = h, rs[k.r] = red[P] / h;
                *kij = expf(-*kij / (2.0f * h));
            }
        __syncthreads();

        if (active)
            for (svgd_walk k = svgd_walk_start(tid, G, D); k.r < nq; svgd_walk_next(k)) {
                const int i = k.r, d = k.c;
                const float *ki = dk + i * P;
                float xd = xq[i * ld + d], drive = 0.0f, repulse = 0.0f;
                for (int j = 0; j < P; j++) {
                    drive += ki[j] * gb[j * ld + d];
                    repulse += ki[j] * (xd - ab[j * ld + d]);
                }
                phi[(row0 + i) * D + d] = (drive + rs[i] * repulse) * inv_p;
            }
        __syncthreads(); // the next tile overwrites xs, dk, hq and rs
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

// Threads per state: enough for about eight elements of the widest phase each (qt·max(P, D)), a multiple of
// 32 from 32 to SVGD_BLOCK; $RLDT_SVGD_THREADS overrides it (the benchmark's sweep; the outputs do not depend
// on it: each is computed by one thread in a fixed order). Measured on an H200, this picks the fastest of
// 32/64/128/256 within 1% at P = 8, D = 24 (32), P = 16, D = 64 (128) and P = 64, D = 256 (256).
static int svgd_group_threads(int qt, int P, int D)
{
    const char *s = getenv("RLDT_SVGD_THREADS");
    int G = s ? atoi(s) : 0;
    if (G >= 1 && G <= SVGD_BLOCK) return G;
    long work = (long)qt * (P > D ? P : D) / 8;
    work = (work + 31) / 32 * 32;
    return (int)(work < 32 ? 32 : work > SVGD_BLOCK ? SVGD_BLOCK : work);
}

// Launch shape: ceil(B / S) blocks of S·G threads (S states of G threads); qt queries per tile (at most
// SVGD_TILE_FLOATS distances and x floats); a, g and x staged in shared memory when one state fits the
// device's limit, with as many states per block as fit.
static void cuda_svgd_field(float *phi, float *h_out, float *alpha_out, const float *x, const float *a, const float *g,
                            int B, int Q, int P, int D, float tau)
{
    if (B <= 0 || P <= 0 || D < 0) return; /* the CPU reference needs P >= 1 too (the caller checks) */
    size_t ld = (size_t)(D | 1), limit = svgd_shmem_limit();
    int qt = Q < 1 ? 1 : Q;
    if ((size_t)qt * P > SVGD_TILE_FLOATS) qt = SVGD_TILE_FLOATS / P > 1 ? SVGD_TILE_FLOATS / P : 1;
    if ((size_t)qt * ld > SVGD_TILE_FLOATS) qt = SVGD_TILE_FLOATS / (int)ld > 1 ? SVGD_TILE_FLOATS / (int)ld : 1;
    size_t small = (size_t)qt * P + 2 * (size_t)qt + (size_t)P + 1, big = small + (2 * (size_t)P + (size_t)qt) * ld;
    int staged = sizeof(float) * big <= limit;
    size_t group_floats = staged ? big : small;
    int G = svgd_group_threads(qt, P, D), S = SVGD_BLOCK / G;
    while (S > 1 && sizeof(float) * group_floats * (size_t)S > limit) S--;
    unsigned grid = (unsigned)((B + S - 1) / S);
    RLDT_LAUNCH_SHMEM(svgd_field_kernel, grid, (unsigned)(S * G), sizeof(float) * group_floats * (size_t)S, phi, h_out,
                      alpha_out, x, a, g, B, Q, P, D, tau, qt, staged, G, (int)group_floats);
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
        dv[i] = inv_n * rldt_actor_grad_elem(v[i], phi[i], a[i], xk[i], t[rldt_row(i, (unsigned)D)], K, c_cons, &et, &ec);
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

// ---------------------------------------------------------------------------------------------------
// td_lambda and explore: per-segment and per-env recursions, one thread each

// TD(λ) targets: thread s runs segment s's backward recursion (rldt_td_lambda, the CPU's code: a chain of
// T dependent steps, inherently sequential). A round has at most a few thousand segments of T ≤ a few
// hundred steps, so this is a small kernel whose win is that the targets never leave the device.
__global__ void td_lambda_kernel(float *G, const float *r, const uint8_t *terminated, const uint8_t *ended,
                                 const float *qnext, const int *seg_rows, int nseg, int T, float gamma, float lambda,
                                 double r_div, float q_lo, float q_hi)
{
    for (int s = blockIdx.x * blockDim.x + threadIdx.x; s < nseg; s += gridDim.x * blockDim.x) {
        size_t row = (size_t)seg_rows[s];
        rldt_td_lambda(G + row, r + row, terminated + row, ended + row, qnext + (size_t)s * T, T, gamma, lambda, r_div,
                       q_lo, q_hi);
    }
}

static void cuda_td_lambda(float *G, const float *r, const uint8_t *terminated, const uint8_t *ended, const float *qnext,
                           const int *seg_rows, int nseg, int T, float gamma, float lambda, double r_div, float q_lo,
                           float q_hi)
{
    if (nseg <= 0 || T <= 0) return;
    RLDT_LAUNCH(td_lambda_kernel, rldt_grid((size_t)nseg, 128), 128, G, r, terminated, ended, qnext, seg_rows, nseg, T,
                gamma, lambda, r_div, q_lo, q_hi);
    CUDA_CHECK(cudaGetLastError());
}

// Exploration: thread n forms env n's σ over its chunk and writes the clipped, noised chunk
// (rldt_explore_row, the CPU's code: σ summed in the same order, so the executed actions match the CPU's
// bit for bit up to sqrt). N is the env count (hundreds to thousands) and D a chunk (tens): one pass.
__global__ void explore_kernel(float *exec, const float *a, const float *at, const float *noise, int N, int D)
{
    for (int n = blockIdx.x * blockDim.x + threadIdx.x; n < N; n += gridDim.x * blockDim.x) {
        size_t o = (size_t)n * D;
        rldt_explore_row(exec + o, a + o, at + o, noise + o, D);
    }
}

static void cuda_explore(float *exec, const float *a, const float *at, const float *noise, int N, int D)
{
    if (N <= 0 || D <= 0) return;
    RLDT_LAUNCH(explore_kernel, rldt_grid((size_t)N, 128), 128, exec, a, at, noise, N, D);
    CUDA_CHECK(cudaGetLastError());
}

void rldt_cuda_register_transport(rldt_backend_t *be)
{
    be->td_lambda = cuda_td_lambda;
    be->explore = cuda_explore;
    be->svgd_field = cuda_svgd_field;
    be->actor_grad = cuda_actor_grad;
}
