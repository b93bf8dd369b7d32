/* rldt/backend.h — the compute backends: one table of ops, implemented twice.
 *
 * The CPU backend (host/nn/backend_cpu.c) is the reference: plain C11, OpenBLAS for GEMM. The CUDA backend
 * (kernels/, one .cu per op family) is a plugin, librldt_cuda.so, loaded with dlopen only when asked for, so CPU-only runs
 * never map the CUDA libraries. Both implement every entry of rldt_backend_t on memory they own
 * (alloc/free/upload/download); per-element math both share is in the headers as RLDT_HD functions.
 * Every CUDA op has a parity test against its CPU twin (tests/test_parity.c). */
#ifndef RLDT_BACKEND_H
#define RLDT_BACKEND_H

#include <stdbool.h>

#include "rldt/common.h"
#include "rldt/conv.h"
#include "rldt/nn.h"
#include "rldt/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_BACKEND_ABI 6

/* Collectives among the ranks' devices, implemented by the GPU plugin with NCCL (kernels/nccl.cu); comm.c
 * bootstraps them over MPI and uses them for the gradient average (see rldt/comm.h). Each call returns 0, or
 * non-zero with the reason in `why` (the communicator is then aborted: the caller ends the job). */
typedef struct rldt_backend_collectives {
    const char *name; /* the engine in run headers: "nccl" */
    size_t id_bytes;  /* the size of a communicator id */
    /* a new communicator id into id[0 .. id_bytes) (rank 0 makes it; every rank must receive its bytes) */
    int (*make_id)(void *id, char *why, size_t len);
    /* joins the communicator `id` of `size` ranks as `rank`, on this process's device; every rank calls it */
    int (*join)(const void *id, int rank, int size, double timeout_s, char *why, size_t len);
    /* buf[0..n) (device memory) <- the mean over the ranks; returns when it is done, or after timeout_s
     * seconds without completion (a rank that died or stopped) with an error */
    int (*average)(float *buf, size_t n, double timeout_s, char *why, size_t len);
    /* leaves the communicator (nothing when not joined) */
    void (*leave)(void);
} rldt_backend_collectives_t;

typedef struct rldt_backend {
    int abi;              /* RLDT_BACKEND_ABI of the build that made it */
    const char *name;     /* "cpu" or "cuda" */
    char device[128];     /* e.g. "x86_64 CPU, 2 threads" or "NVIDIA H100 80GB HBM3 (sm_90)" */

    /* memory: buffers live where the backend computes */
    void *(*alloc)(size_t bytes);     /* zero-filled; NULL on failure */
    void (*free)(void *p);
    void (*upload)(void *dst, const void *src, size_t bytes);
    void (*download)(void *dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes); /* within the backend's memory */
    void (*sync)(void);
    /* free bytes of the backend's own memory (a GPU's), or < 0 when it computes in host memory (cpu,
     * cuda-emu): the memory check compares a run's device estimate with it */
    double (*mem_free)(void);
    /* the devices' collectives (NCCL), or NULL where the backend has none (cpu; cuda-emu, whose "device" is
     * this process's host memory): comm.c then reduces host memory over MPI */
    const rldt_backend_collectives_t *collectives;

    /* RNG: x[i] = element i of the Philox fill (seed, stream, counter) (see rldt/philox.h) */
    void (*fill_normal)(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter);
    void (*fill_uniform)(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter);
    /* random indices: with j_i = offset + rldt_philox_below_at(seed, stream, counter, i, below) and
     * v_i = table ? table[j_i] : j_i, writes k[i] = v_i (k may be NULL) and t[i] = (float)v_i / (float)t_div
     * (t may be NULL) for i < n. Draws minibatch rows (table: the candidate rows) and denoising steps k with
     * their times t = k/K on the device, so no index array crosses from the host per step. */
    void (*draw_index)(int *k, float *t, int t_div, const int *table, int offset, uint32_t below, size_t n, uint64_t seed,
                       uint64_t stream, uint64_t counter);
    /* optimiser: one Adam/AdamW step over n flat parameters (see rldt/optim.h) */
    void (*adam_step)(const rldt_adam_t *opt, float lr, long step, float *p, const float *g, float *m, float *v, size_t n);
    /* averaging: dst <- dst + w * (src - dst)  (EMA with w = 1 - decay, Polyak with w = tau) */
    void (*lerp)(float *dst, const float *src, float w, size_t n);
    /* y <- a * y for n floats (gradient clipping scale) */
    void (*scale)(float *y, float a, size_t n);
    /* sum of squares of x[0..n) in double precision (global-norm clipping) */
    double (*sumsq)(const float *x, size_t n);
    /* sum of x[0..n) in double precision (the logged means) */
    double (*sum)(const float *x, size_t n);

    /* neural-network ops (rldt/nn.h). Row-major; W is [no][ni] and b is [no]; "+=" marks accumulation. */
    /* Linear layer with its epilogue fused: pre[B][no] = in[B][ni] W^T + b (+ res[B][no] when res is not
     * NULL; res may be pre itself), then post[B][no] = act(pre) when post is not NULL (act is ignored
     * otherwise). Bias, residual add and activation cost no extra pass over [B][no] of their own. */
    void (*linear_forward)(float *pre, float *post, const float *in, const float *W, const float *b, const float *res,
                           rldt_act_t act, int B, int ni, int no);
    /* Backward of linear_forward: dpre[B][no] = dpost * act'(pre) (+ dres when not NULL), the gradient at
     * the pre-activation (with act = identity and no dres, dpre may be dpost itself and is then left as it
     * is); din[B][ni] = dpre W (skipped when din is NULL); dW += dpre^T in and db += the column sums of dpre
     * (both skipped when dW is NULL: input gradients only). */
    void (*linear_backward)(float *din, float *dW, float *db, float *dpre, const float *dpost, const float *dres,
                            const float *pre, rldt_act_t act, const float *in, const float *W, int B, int ni, int no);
    /* out[i] = act(in[i]) */
    void (*act_forward)(rldt_act_t a, float *out, const float *in, size_t n);
    /* din[i] = dout[i] * act'(in[i]) */
    void (*act_backward)(rldt_act_t a, float *din, const float *dout, const float *in, size_t n);
    /* per row: out = (in - mean) * rstd * gamma + beta, saving mean[B] and rstd[B] */
    void (*layernorm_forward)(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                              const float *beta, int B, int C);
    /* din[B][C] (overwritten); dgamma, dbeta += (skipped when dgamma is NULL) */
    void (*layernorm_backward)(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                               const float *mean, const float *rstd, const float *gamma, int B, int C);
    /* y[i] += a * x[i] */
    void (*axpy)(float *y, float a, const float *x, size_t n);
    /* rows b < B: y[b*ld_y + c] += a * x[b*ld_x + c] for c < ncols (offset a block with the pointers) */
    void (*axpy_cols)(float *y, int ld_y, const float *x, int ld_x, float a, int ncols, int B);
    /* y[i] = min(y[i], x[i]) */
    void (*minimum)(float *y, const float *x, size_t n);
    /* x[i] = value */
    void (*fill)(float *x, float value, size_t n);
    /* rows b < B: dst[b*ld_dst + dst_off + c] = src[b*ld_src + src_off + c] for c < ncols (packs a block of
     * columns into a wider matrix, or extracts one) */
    void (*copy_cols)(float *dst, int ld_dst, int dst_off, const float *src, int ld_src, int src_off, int ncols,
                      int B);
    /* flow-matching pairs on the straight path: for row b with time t[b],
     * xt = (1 - t) z + t a  and  target = a - z  (each [B][D]) */
    void (*flow_pair)(float *xt, float *target, const float *a, const float *z, const float *t, int B, int D);
    /* out[n] = chain[k[n]][n] for n < N: row n of step k[n] of a chain stored [K+1][N][D] */
    void (*chain_select)(float *out, const float *chain, const int *k, int N, int D);
    /* one Euler step of the flow: out[i] = x[i] + dt * v[i] (out may be x). Sampling writes each step
     * straight into the next slot of the chain, so a step is one pass instead of an update plus a copy. */
    void (*euler_step)(float *out, const float *x, const float *v, float dt, size_t n);
    /* expected targets a† = x + (1 - t[n]) v, row-wise over [N][D] */
    void (*expected_target)(float *out, const float *x, const float *v, const float *t, int N, int D);
    /* row gather: dst[i][c] = src[rows[i / repeat]][c] for i < n, c < width (a minibatch out of the replay
     * buffer; repeat > 1 gives each row `repeat` consecutive copies, e.g. a state for each of its particles) */
    void (*gather_rows)(float *dst, const float *src, const int *rows, int n, int width, int repeat);
    /* exploration: per row n < N, exec[n] = clip(a[n] + ‖a[n] − at[n]‖·noise[n], −1, 1) over its D values
     * (rldt_explore_row) */
    void (*explore)(float *exec, const float *a, const float *at, const float *noise, int N, int D);

    /* convolution and images (rldt/conv.h; NHWC). im2col: col[(b*Ho + oy)*Wo + ox][(ky*R + kx)*C + c] = the
     * input pixel (b, oy*stride + ky - pad, ox*stride + kx - pad) channel c, 0 in the padding, for b < B.
     * col2im: din[B][H][W][C] = the sum of the dcol entries im2col would copy from each input element
     * (rldt_col2im_elem; overwritten, no accumulation). */
    void (*im2col)(float *col, const float *in, rldt_conv_t g, int B);
    void (*col2im)(float *din, const float *dcol, rldt_conv_t g, int B);
    /* out[B][H][W][C] = the uint8 images in[B][H][W][C] shifted by up to pad pixels (edge replication) and
     * converted to v / 255 - 0.5 (rldt_shift_offsets, rldt_shift_pixel); pad = 0: converted only */
    void (*image_shift)(float *out, const uint8_t *in, int B, int H, int W, int C, int pad, uint64_t seed,
                        uint64_t stream, uint64_t counter);

    /* RLDT ops (rldt/transport.h): the SVGD transport field and the actor-loss gradient */
    void (*svgd_field)(float *phi, float *h_out, float *alpha_out, const float *x, const float *a, const float *g, int B,
                       int Q, int P, int D, float tau);
    void (*actor_grad)(float *dv, double *loss_transport, double *loss_consist, const float *v, const float *phi,
                       const float *a, const float *xk, const float *t, int N, int D, int K, float c_cons);
    /* TD(λ) targets of nseg segments of T steps stored from row seg_rows[s] on (rows of r, terminated, ended
     * and G): G[seg_rows[s] + t] from rldt_td_lambda with the bootstrap values qnext[s*T + t] (round order),
     * rewards divided by r_div and bootstraps clipped to [q_lo, q_hi] */
    void (*td_lambda)(float *G, const float *r, const uint8_t *terminated, const uint8_t *ended, const float *qnext,
                      const int *seg_rows, int nseg, int T, float gamma, float lambda, double r_div, float q_lo, float q_hi);

    /* out[B][dim] = sinusoidal features of t[B] (rldt_time_feature) */
    void (*time_features)(float *out, const float *t, int B, int dim);
    /* mean over n of (pred - target)^2; grad (may be NULL) = d mean / d pred = 2 (pred - target) / n */
    double (*mse)(const float *pred, const float *target, float *grad, size_t n);
} rldt_backend_t;

/* The name of the first op `be` lacks, or NULL when it implements them all (a backend under construction
 * may publish only some kernels; rldt_backend_select never picks an incomplete one automatically). */
const char *rldt_backend_missing_op(const rldt_backend_t *be);

/* The CPU backend (always available). */
const rldt_backend_t *rldt_backend_cpu(void);
/* Sets the CPU backend's threads: its GEMMs (single-threaded OpenBLAS calls, one row block per thread) and
 * its long elementwise loops run on them. n <= 0 keeps the current setting, at first OpenBLAS's default
 * thread count. Process-wide; OpenBLAS itself stays on one thread from the backend's first op on. */
void rldt_backend_cpu_threads(int n);
/* The OPENBLAS_CORETYPE worth setting when OpenBLAS runs kernels `core` (openblas_get_corename()) older than
 * the CPU's vector units, as an OpenBLAS that does not know the CPU's model (some VMs hide it) falls back to
 * its SSE kernels: "SkylakeX" on a CPU with AVX-512 (F, BW, DQ, VL), "Haswell" on one with AVX2 and FMA;
 * NULL when the kernels fit the CPU. */
const char *rldt_cpu_blas_advice(const char *core, bool avx2_fma, bool avx512);
/* Warns, with rldt_cpu_blas_advice's value, when this process's OpenBLAS runs such old kernels on this CPU
 * and OPENBLAS_CORETYPE is not set (a set one is the user's choice). x86 only: elsewhere it does nothing. */
void rldt_cpu_blas_check(void);

/* Probes the CUDA plugin without choosing it. Returns the backend if a device is usable, else NULL with
 * the reason in `why` ("not built", "plugin not found", "insufficient driver", "no device", ...). */
const rldt_backend_t *rldt_backend_cuda(char *why, size_t whylen);
/* The same for the kernel emulator plugin (backend "cuda-emu": the CUDA kernels run on the CPU). */
const rldt_backend_t *rldt_backend_cuda_emu(char *why, size_t whylen);

/* Picks a backend by name: "auto" (CUDA if usable, else CPU), "cpu", "cuda" or "cuda-emu" (error if unusable).
 * On error returns NULL with rldt_error_message() set; `note` (may be NULL) receives one line for the log,
 * e.g. "CUDA: unavailable (insufficient driver) — using CPU". */
const rldt_backend_t *rldt_backend_select(const char *want, char *note, size_t notelen);

/* The symbol the plugin exports: fills `why` and returns NULL when no device is usable. It makes device
 * local_rank % (the devices visible) the process's own (one GPU per rank of a node; with one visible
 * device, as CUDA_VISIBLE_DEVICES or srun --gpus-per-task leave it, that device). */
typedef const rldt_backend_t *(*rldt_backend_open_fn)(int local_rank, char *why, size_t whylen);
#define RLDT_CUDA_PLUGIN_SYMBOL "rldt_cuda_backend_open"

#ifdef __cplusplus
}
#endif
#endif
