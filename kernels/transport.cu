// transport.cu — the RLDT ops (RLDT.md §3–6): the SVGD transport field (a group of threads per state), the
// actor-loss gradient with its two loss sums (a deterministic reduction, kernels/reduce.cuh), the TD(λ)
// targets and the exploration noise. The math mirrors rldt/transport.h (rldt_svgd_query, rldt_svgd_alpha,
// rldt_actor_grad_elem, rldt_td_lambda, rldt_explore_row): the same float operations in the same order per
// output, spread over threads.
#include <type_traits>

#include "index.cuh"
#include "reduce.cuh"
#include "rldt/transport.h"

// ---------------------------------------------------------------------------------------------------
// svgd_field

#define SVGD_BLOCK 256        // threads per block: S states of G threads each (S·G <= 256)
#define SVGD_STAGE 4          // units (floats or float4s) in flight per thread while staging
#define SVGD_TILE_FLOATS 4096 // a tile of queries keeps at most this many distances (qt·P) and x floats (qt·ld)

// The rank order of a query's squared distances: by bit pattern, ties broken by particle index. Distances are
// sums of squares (+0, positive or NaN, never −0), whose bit patterns as unsigned integers order as their
// values and put NaN after every number: an integer compare instead of four float tests. A strict total order,
// so the ranks of a row are a permutation of 0..P−1 and exactly one element has rank ⌊(P−1)/2⌋; its value is
// the lower median rldt_svgd_lower_median returns (for numbers, ties give equal values whichever one is picked).
__device__ inline bool svgd_before(float u, int ju, float v, int jv)
{
    unsigned bu = __float_as_uint(u), bv = __float_as_uint(v);
    return bu < bv || (bu == bv && ju < jv);
}

// A thread's walk over the flat indices tid, tid + G, tid + 2G, ... of a [rows][w] array as (row, col), with
// no division per step: the stride G = dr·w + dc is split once. Integer division by a run-time value is
// some twenty instructions on the GPU, more than the work of most steps here, so the start divides in float:
// ⌊(n + 0.5)·(1/w)⌋ is ⌊n/w⌋ for 0 <= n <= 256 (tid < G <= SVGD_BLOCK), as the fraction part of (n + 0.5)/w
// stays at least 0.5/w from an integer and the float error is below 2^-22·(n + 0.5)/w.
struct svgd_walk {
    int r, c, dr, dc, w;
};
__device__ inline svgd_walk svgd_walk_start(int tid, int G, int w)
{
    const float inv = 1.0f / (float)w;
    const int r = (int)(((float)tid + 0.5f) * inv), dr = (int)(((float)G + 0.5f) * inv);
    return {r, tid - r * w, dr, G - dr * w, w};
}
__device__ inline void svgd_walk_next(svgd_walk &k)
{
    k.r += k.dr;
    k.c += k.dc;
    if (k.c >= k.w) k.c -= k.w, k.r++;
}

// s + Σ (u − v)² over the four lanes, in order (the order of the CPU's loop over d)
__device__ inline float svgd_sq4(float s, float4 u, float4 v)
{
    float d0 = u.x - v.x, d1 = u.y - v.y, d2 = u.z - v.z, d3 = u.w - v.w;
    s += d0 * d0;
    s += d1 * d1;
    s += d2 * d2;
    return s + d3 * d3;
}

// Copies the tile's rows into shared memory, row r (D floats, contiguous in global memory) to dst + r·ld
// with the columns from D to the next multiple of 4 set to 0 (the columns past that are never read). The
// rows are the state's P rows of a, then its P rows of g (nab = 2P: the first tile; nab = 0 after it), then
// the tile's query rows of x: one walk over as, gs and xs, which lie one after the other. U = 4 moves float4s
// (D % 4 == 0 and 16-byte aligned rows), else single floats; SVGD_STAGE units in flight per thread before
// their stores (a load-store loop would wait one memory latency per unit).
template <int U>
__device__ inline void svgd_stage(float *dst, const float *a_b, const float *g_b, const float *x_t, int nab, int P,
                                  int rows, int D, int ld, int tid, int G)
{
    typedef typename std::conditional<U == 4, float4, float>::type T; // a unit of staging
    const int w = ((D + 3) & ~3) / U, n = rows * w; // units per row, units in all
    svgd_walk k = svgd_walk_start(tid, G, w);
    for (int e0 = tid; e0 < n; e0 += SVGD_STAGE * G) {
        T v[SVGD_STAGE];
        int at[SVGD_STAGE];
#pragma unroll
        for (int u = 0; u < SVGD_STAGE; u++, svgd_walk_next(k)) {
            const int r = k.r, c = k.c * U;
            const float *src = r < nab ? (r < P ? a_b + r * D : g_b + (r - P) * D) : x_t + (r - nab) * D;
            at[u] = r * ld + c;
            v[u] = e0 + u * G < n && c < D ? *reinterpret_cast<const T *>(src + c) : T{};
        }
#pragma unroll
        for (int u = 0; u < SVGD_STAGE; u++)
            if (e0 + u * G < n) *reinterpret_cast<T *>(dst + at[u]) = v[u];
    }
}

// Floats of a group's slice before as (the layout below): dk, hq, rs and red, rounded up to a multiple of 4 so
// that as, gs and xs start on 16 bytes.
__host__ __device__ inline int svgd_head_floats(int qt, int P) { return (qt * P + 2 * qt + P + 1 + 3) & ~3; }

// A group of G threads per state; a block holds S = blockDim/G states (b = blockIdx·S + group), so that small
// states (P = 8, D = 24: a few hundred floats) still fill the SM with states in flight. Each group has its
// own slice of the dynamic shared memory, `group_floats` floats:
//   dk  [qt][P]    squared distances ‖x_i − a_j‖² of the tile's queries, then the kernel weights k_ij
//   hq  [qt]       the tile's bandwidths h_i
//   rs  [qt]       the tile's repulsion scales α/h_i
//   red [P + 1]    the gradient norms ‖g_j‖, then α_s in red[P]
//   STAGED only, from the next multiple of 4 floats:
//   as, gs [P][ld] a[b] and the critic gradients g[b]
//   xs  [qt][ld]   the tile's queries
// with row stride ld = (D rounded up to a multiple of 4) | 4: every phase reads a row as float4s (one
// shared-memory instruction per four floats: the kernel is bound by instruction issue, not by memory), and
// ld ≡ 4 (mod 8) puts the rows that the eight threads of a quarter-warp read in eight different groups of
// four banks. The zeros after column D in a row's last float4 add exact zeros to every sum. Not STAGED (the
// state does not fit the device's shared memory), a, g and x are read from global memory a float at a time
// with stride ld = D: the same math, more traffic and more instructions.
// Phases, one barrier after each (no thread reads what another writes in the same phase); a group past
// the last state (b >= B) does no work but takes part in every barrier:
//   stage   a[b], g[b] (first tile) and the tile's queries x into shared memory (svgd_stage)
//   dist    thread per pair (i, j): dk_ij = Σ_d (x_id − a_jd)² (d ascending, as rldt_svgd_query);
//           first tile: thread j also computes ‖g_j‖ = sqrtf(Σ_d g_jd²) (d ascending)
//   median  thread per pair: the rank of dk_ij in row i (svgd_before); the one thread holding rank ⌊(P−1)/2⌋
//           sets h_i = rldt_svgd_bandwidth(median, P) (its logarithm taken once per thread). Counting ranks
//           replaces the CPU's sort of a local copy: parallel over j, and no per-thread arrays (no local
//           memory). First tile: thread 0 sets α_s = τ·min(Σ_j ‖g_j‖ / P, 1e5) (j ascending: the float
//           order of rldt_svgd_alpha), alpha_out[b].
//   k       thread per pair: k_ij = expf(−dk_ij / (2 h_i)); thread (i, 0) writes h_out and sets α/h_i
//   φ       thread per query and four columns (i, d..d+3) (STAGED; per (i, d) otherwise):
//           φ_id = (Σ_j k_ij g_jd + (α/h_i)·Σ_j k_ij (x_id − a_jd)) / P (j ascending), the repulsion summed
//           as Σ k (x − a), never x Σk − Σ k a (RLDT.md §3)
// Fusion: a state's whole field is one pass over its data: a[b], g[b] and x[b] are read from global memory
// once (not once per query), and the Q×P distances and weights never leave shared memory.
// __launch_bounds__: at most 64 registers (no spills), so 4 blocks of 256 threads fit an SM.
template <bool STAGED>
__global__ void __launch_bounds__(SVGD_BLOCK, 4)
    svgd_field_kernel(float *__restrict__ phi, float *__restrict__ h_out, float *__restrict__ alpha_out,
                      const float *__restrict__ x, const float *__restrict__ a, const float *__restrict__ g, int B, int Q,
                      int P, int D, float tau, int qt, int ld, int vec, int G, int group_floats)
{
    RLDT_DYNAMIC_SHARED(float, sh);
    const int grp = (int)threadIdx.x / G, tid = (int)threadIdx.x % G;
    const size_t b = (size_t)blockIdx.x * (blockDim.x / G) + grp;
    const bool active = b < (size_t)B;
    float *dk = sh + (size_t)grp * group_floats, *hq = dk + qt * P, *rs = hq + qt, *red = rs + qt;
    float *as = dk + svgd_head_floats(qt, P), *gs = as + P * ld, *xs = gs + P * ld;
    const float *a_b = active ? a + b * P * D : a, *g_b = active ? g + b * P * D : g; // the state's rows
    const float *ab = STAGED ? as : a_b, *gb = STAGED ? gs : g_b; // where the phases read them
    const int rank = (P - 1) / 2, W4 = (D + 3) / 4; // W4: float4s per row holding data
    const float inv_p = 1.0f / (float)P;

    for (int q0 = 0; q0 == 0 || q0 < Q; q0 += qt) { // one pass when Q = 0: α is still written
        const int nq = Q - q0 < qt ? Q - q0 : qt;
        const size_t row0 = b * Q + q0; // first query row of the tile
        const float *x_t = active ? x + row0 * D : x, *xq = STAGED ? xs : x_t;
        if (STAGED && active) {
            const int nab = q0 == 0 ? 2 * P : 0; // a[b] and g[b] with the first tile
            if (vec)
                svgd_stage<4>(nab ? as : xs, a_b, g_b, x_t, nab, P, nab + nq, D, ld, tid, G);
            else
                svgd_stage<1>(nab ? as : xs, a_b, g_b, x_t, nab, P, nab + nq, D, ld, tid, G);
        }
        __syncthreads();

        if (active) {
            for (int j = tid; q0 == 0 && j < P; j += G) {
                float sq = 0.0f;
                if (STAGED) {
                    const float4 *gj = reinterpret_cast<const float4 *>(gb + j * ld), z = {};
                    for (int c = 0; c < W4; c++) sq = svgd_sq4(sq, gj[c], z);
                } else
                    for (int d = 0; d < D; d++) sq += gb[j * ld + d] * gb[j * ld + d];
                red[j] = sqrtf(sq);
            }
            for (svgd_walk k = svgd_walk_start(tid, G, P); k.r < nq; svgd_walk_next(k)) {
                const float *xi = xq + k.r * ld, *aj = ab + k.c * ld;
                float sq = 0.0f;
                if (STAGED) {
                    const float4 *xi4 = reinterpret_cast<const float4 *>(xi), *aj4 = reinterpret_cast<const float4 *>(aj);
                    for (int c = 0; c < W4; c++) sq = svgd_sq4(sq, xi4[c], aj4[c]);
                } else
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
            const float den = rldt_svgd_bandwidth_den(P);
            for (svgd_walk k = svgd_walk_start(tid, G, P); k.r < nq; svgd_walk_next(k)) {
                const float *row = dk + k.r * P, v = row[k.c];
                int before = 0;
                for (int j2 = 0; j2 < P; j2++) before += svgd_before(row[j2], j2, v, k.c);
                if (before == rank) hq[k.r] = rldt_svgd_bandwidth_of(v, den);
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
            for (svgd_walk k = svgd_walk_start(tid, G, STAGED ? W4 : D); k.r < nq; svgd_walk_next(k)) {
                const int i = k.r;
                const float *ki = dk + i * P;
                float *out = phi + (row0 + i) * D;
                if (STAGED) {
                    const int c = k.c;
                    const float4 xd = reinterpret_cast<const float4 *>(xq + i * ld)[c];
                    float4 drive = {}, rep = {};
#pragma unroll 2 // deeper unrolling spills registers under the 64-register bound
                    for (int j = 0; j < P; j++) {
                        const float kj = ki[j];
                        const float4 gj = reinterpret_cast<const float4 *>(gb + j * ld)[c];
                        const float4 aj = reinterpret_cast<const float4 *>(ab + j * ld)[c];
                        drive.x += kj * gj.x, drive.y += kj * gj.y, drive.z += kj * gj.z, drive.w += kj * gj.w;
                        rep.x += kj * (xd.x - aj.x), rep.y += kj * (xd.y - aj.y);
                        rep.z += kj * (xd.z - aj.z), rep.w += kj * (xd.w - aj.w);
                    }
                    const float r = rs[i];
                    const float4 f = make_float4((drive.x + r * rep.x) * inv_p, (drive.y + r * rep.y) * inv_p,
                                                 (drive.z + r * rep.z) * inv_p, (drive.w + r * rep.w) * inv_p);
                    if (vec)
                        reinterpret_cast<float4 *>(out)[c] = f;
                    else {
                        const int d = 4 * c;
                        out[d] = f.x;
                        if (d + 1 < D) out[d + 1] = f.y;
                        if (d + 2 < D) out[d + 2] = f.z;
                        if (d + 3 < D) out[d + 3] = f.w;
                    }
                } else {
                    const int d = k.c;
                    float xd = xq[i * ld + d], drive = 0.0f, repulse = 0.0f;
                    for (int j = 0; j < P; j++) {
                        drive += ki[j] * gb[j * ld + d];
                        repulse += ki[j] * (xd - ab[j * ld + d]);
                    }
                    out[d] = (drive + rs[i] * repulse) * inv_p;
                }
            }
        __syncthreads(); // the next tile overwrites xs, dk, hq and rs
    }
}

// Largest dynamic shared memory one block of svgd_field_kernel may use: the device's opt-in limit (227 KiB
// on sm_90, 163 KiB on sm_80, the emulator's like sm_90). The kernels' attribute is raised to it once, on first
// use (the default is 48 KiB).
static size_t svgd_shmem_limit(void)
{
    static size_t limit = [] {
        int dev = 0, optin = 0;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
        CUDA_CHECK(cudaFuncSetAttribute(svgd_field_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
        CUDA_CHECK(cudaFuncSetAttribute(svgd_field_kernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
        return (size_t)optin;
    }();
    return limit;
}

// Threads per state: the power of two from 8 to SVGD_BLOCK nearest above one per 12 elements of the widest
// phase (qt·max(P, D)); $RLDT_SVGD_THREADS overrides it (the benchmark's sweep; the outputs do not depend on
// it: each is computed by one thread in a fixed order). Small states share a warp (P = 8, D = 24: two per
// warp), which shares each phase's fixed cost (the walk's start, the loop set-up, the barrier) between them.
static int svgd_group_threads(int qt, int P, int D)
{
    const char *s = getenv("RLDT_SVGD_THREADS");
    int G = s ? atoi(s) : 0;
    if (G >= 1 && G <= SVGD_BLOCK) return G;
    long work = (long)qt * (P > D ? P : D) / 12;
    for (G = 8; G < work && G < SVGD_BLOCK;) G *= 2;
    return G;
}

// Launch shape: ceil(B / S) blocks of S·G threads (S states of G threads); qt queries per tile (at most
// SVGD_TILE_FLOATS distances and x floats); a, g and x staged in shared memory when one state fits the
// device's limit, with as many states per block as fit.
static void cuda_svgd_field(float *phi, float *h_out, float *alpha_out, const float *x, const float *a, const float *g,
                            int B, int Q, int P, int D, float tau)
{
    if (B <= 0 || P <= 0 || D < 0) return; /* the CPU reference needs P >= 1 too (the caller checks) */
    size_t ld = (size_t)(((D + 3) & ~3) | 4), limit = svgd_shmem_limit();
    int qt = Q < 1 ? 1 : Q;
    if ((size_t)qt * P > SVGD_TILE_FLOATS) qt = SVGD_TILE_FLOATS / P > 1 ? SVGD_TILE_FLOATS / P : 1;
    if ((size_t)qt * ld > SVGD_TILE_FLOATS) qt = SVGD_TILE_FLOATS / (int)ld > 1 ? SVGD_TILE_FLOATS / (int)ld : 1;
    size_t small = (size_t)qt * P + 2 * (size_t)qt + (size_t)P + 1, big = (size_t)svgd_head_floats(qt, P) + (2 * (size_t)P + (size_t)qt) * ld;
    int staged = sizeof(float) * big <= limit;
    size_t group_floats = staged ? big : small;
    int G = svgd_group_threads(qt, P, D), S = SVGD_BLOCK / G;
    while (S > 1 && sizeof(float) * group_floats * (size_t)S > limit) S--;
    unsigned grid = (unsigned)((B + S - 1) / S);
    // float4 loads of the rows and stores of φ: rows of whole float4s, 16-byte aligned
    int vec = D % 4 == 0 && rldt_aligned16(phi) && rldt_aligned16(x) && rldt_aligned16(a) && rldt_aligned16(g);
    if (staged)
        RLDT_LAUNCH_SHMEM(svgd_field_kernel<true>, grid, (unsigned)(S * G), sizeof(float) * group_floats * (size_t)S, phi,
                          h_out, alpha_out, x, a, g, B, Q, P, D, tau, qt, (int)ld, vec, G, (int)group_floats);
    else
        RLDT_LAUNCH_SHMEM(svgd_field_kernel<false>, grid, (unsigned)(S * G), sizeof(float) * group_floats * (size_t)S, phi,
                          h_out, alpha_out, x, a, g, B, Q, P, D, tau, qt, D, 0, G, (int)group_floats);
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
    GRID_STRIDE(i, n) {
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
