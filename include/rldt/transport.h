/* rldt/transport.h — the RLDT math (RLDT.md §2–5): the SVGD transport field built from the critic, the
 * actor's transport + consistency loss and its gradient, TD(λ) targets, and dense-reward scaling.
 *
 * Layout: rows of D floats, row-major; a state's P particles are consecutive rows, states follow each other
 * (a[b][j][d] = a[(b*P + j)*D + d]). The per-query and per-element math is RLDT_HD, so a CUDA kernel runs the
 * same code as the CPU references below (rldt_svgd_field_cpu, rldt_actor_grad_cpu), which only loop over it.
 *
 * Nothing here carries gradient except the actor velocity v: φ, h, α and the kernel weights are constants
 * of the actor loss (RLDT.md §3). The delta-kernel ablation (φ = ∇_a Q at the query itself) needs no field:
 * the caller passes the critic gradient at the query as φ to the actor loss. */
#ifndef RLDT_TRANSPORT_H
#define RLDT_TRANSPORT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rldt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of particles per state. The field keeps one query's P squared distances in fixed local
 * arrays (registers/local memory on the GPU), so callers must check P <= RLDT_MAX_PARTICLES before calling;
 * the functions below do not check it. */
#define RLDT_MAX_PARTICLES 64

/* Floor on the RBF bandwidth h (keeps the kernel finite when the particles have collapsed onto the query). */
#define RLDT_SVGD_MIN_BANDWIDTH 1e-8f
/* Cap on the mean critic-gradient norm inside the temperature α_s. */
#define RLDT_SVGD_MAX_GRAD_NORM 1e5f

// ---------------------------------------------------------------------------------------------------
// SVGD field: per-query pieces (host and device)

/* Sorts v[0..n) ascending in place (insertion sort: n <= RLDT_MAX_PARTICLES) and returns the lower median,
 * the element of rank ⌊(n−1)/2⌋: the middle one for odd n, the smaller of the two middle ones for even n
 * (the 4th smallest of 8). An empty array (n < 1) has median 0. */
RLDT_HD float rldt_svgd_lower_median(float *v, int n)
{
    if (n < 1) return 0.0f;
    for (int i = 1; i < n; i++) {
        float key = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > key) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = key;
    }
    return v[(n - 1) / 2];
}

/* RBF bandwidth from the median squared distance of a query to the P particles:
 *   h = median / (2·ln(P + 1)), then h <- max(h, 1e-8).
 * At the median distance the kernel weight is exp(−ln(P+1)) = 1/(P+1). The denominator has its own function
 * so that a caller with many queries (the CUDA kernel) computes the logarithm once. */
RLDT_HD float rldt_svgd_bandwidth_den(int P) { return 2.0f * logf((float)P + 1.0f); }
RLDT_HD float rldt_svgd_bandwidth_of(float median_sq, float den)
{
    float h = median_sq / den;
    return h > RLDT_SVGD_MIN_BANDWIDTH ? h : RLDT_SVGD_MIN_BANDWIDTH;
}
RLDT_HD float rldt_svgd_bandwidth(float median_sq, int P) { return rldt_svgd_bandwidth_of(median_sq, rldt_svgd_bandwidth_den(P)); }

/* Temperature of one state: α_s = τ·min(mean_j ‖g_j‖, 1e5) over its P critic gradients g[j][0..D)
 * (Euclidean norms). A NaN mean stays NaN (it is not clipped away) so a broken critic shows up downstream. */
RLDT_HD float rldt_svgd_alpha(const float *g, int P, int D, float tau)
{
    float sum = 0.0f;
    for (int j = 0; j < P; j++) {
        float sq = 0.0f;
        for (int d = 0; d < D; d++) sq += g[j * D + d] * g[j * D + d];
        sum += sqrtf(sq);
    }
    float mean = sum / (float)P;
    return tau * (mean > RLDT_SVGD_MAX_GRAD_NORM ? RLDT_SVGD_MAX_GRAD_NORM : mean);
}

/* The field at one query x[0..D) against one state's particles a[P][D] with critic gradients g[P][D] and
 * temperature alpha (from rldt_svgd_alpha); writes phi[0..D) and returns the bandwidth h it used:
 *   φ(x) = (1/P) Σ_j k_j·[g_j + α·(x − a_j)/h],  k_j = exp(−‖x − a_j‖²/(2h)),
 *   h = rldt_svgd_bandwidth(lower median_j ‖x − a_j‖², P)   (over all P particles, the query's own included).
 * The repulsion is accumulated as Σ_j k_j·(x − a_j): the form x·Σk − Σk·a cancels catastrophically in float
 * when h is clamped and the particles sit close together far from the origin. P <= RLDT_MAX_PARTICLES. */
RLDT_HD float rldt_svgd_query(float *phi, const float *x, const float *a, const float *g, float alpha, int P, int D)
{
    float k[RLDT_MAX_PARTICLES], sorted[RLDT_MAX_PARTICLES];
    for (int j = 0; j < P; j++) {
        float sq = 0.0f;
        for (int d = 0; d < D; d++) {
            float diff = x[d] - a[j * D + d];
            sq += diff * diff;
        }
        k[j] = sorted[j] = sq;
    }
    float h = rldt_svgd_bandwidth(rldt_svgd_lower_median(sorted, P), P);
    for (int j = 0; j < P; j++) k[j] = expf(-k[j] / (2.0f * h));
    float rep_scale = alpha / h, inv_p = 1.0f / (float)P;
    for (int d = 0; d < D; d++) {
        float drive = 0.0f, repulse = 0.0f; /* Σ k_j g_j and Σ k_j (x − a_j) along d */
        for (int j = 0; j < P; j++) {
            drive += k[j] * g[j * D + d];
            repulse += k[j] * (x[d] - a[j * D + d]);
        }
        phi[d] = (drive + rep_scale * repulse) * inv_p;
    }
    return h;
}

// ---------------------------------------------------------------------------------------------------
// SVGD field: CPU reference

/* The transport field for B states (RLDT.md §3). Per state b: P particles a[b][j][0..D) (the unclipped final
 * chain values), their critic gradients g[b][j][..] (∇_a Q averaged over the ensemble members), and Q query
 * points x[b][i][..] (in RLDT Q = P: the expected target a†_k of each particle). Writes
 *   phi[b][i][..]  = φ(x_{b,i}) (rldt_svgd_query),
 *   h_out[b*Q + i] = the bandwidth used for that query,
 *   alpha_out[b]   = α_s = rldt_svgd_alpha(g[b], P, D, tau).
 * 1 <= P <= RLDT_MAX_PARTICLES (the caller checks). No allocation. */
void rldt_svgd_field_cpu(float *phi, float *h_out, float *alpha_out, const float *x, const float *a, const float *g,
                         int B, int Q, int P, int D, float tau);

// ---------------------------------------------------------------------------------------------------
// actor loss

/* One element of one particle's actor loss (RLDT.md §4) at time t = k/K < 1: with velocity output v, field
 * component phi, final action a and chain point xk, and u = (a − xk)/(1 − t) the velocity that reaches a,
 *   ℓ_T = −(1/K)·v·φ/(1 − t),   ℓ_C = (c_cons/K²)·(v − u)²,
 * stores ℓ_T and ℓ_C and returns d(ℓ_T + ℓ_C)/dv = −φ/(K(1 − t)) + (2·c_cons/K²)·(v − u). Summing over the D
 * elements gives the particle's terms (inner product and squared norm over the chunk). */
RLDT_HD float rldt_actor_grad_elem(float v, float phi, float a, float xk, float t, int K, float c_cons,
                                   float *l_transport, float *l_consist)
{
    float inv_1mt = 1.0f / (1.0f - t), inv_k = 1.0f / (float)K;
    float resid = v - (a - xk) * inv_1mt;
    float c = c_cons * inv_k * inv_k;
    *l_transport = -inv_k * v * phi * inv_1mt;
    *l_consist = c * resid * resid;
    return -inv_k * phi * inv_1mt + 2.0f * c * resid;
}

/* The transport and consistency terms of the actor loss over N particles (rows of D) and their gradient
 * with respect to the velocity outputs (φ held constant). Particle n has time t[n] = k/K (k < K, so
 * t < 1), velocity v[n], field phi[n], final action a[n] and chain point xk[n]:
 *   L_transport = mean_n [ −(1/K)·⟨v_n, φ_n/(1 − t_n)⟩ ]
 *   L_consist   = mean_n [ (c_cons/K²)·‖v_n − (a_n − x_k,n)/(1 − t_n)‖² ]
 * Writes dv[n] = d(L_transport + L_consist)/dv_n (each term a mean over N, so 1/N scales the gradient) and
 * the two loss values (accumulated in double). */
void rldt_actor_grad_cpu(float *dv, double *loss_transport, double *loss_consist, const float *v, const float *phi,
                         const float *a, const float *xk, const float *t, int N, int D, int K, float c_cons);

// ---------------------------------------------------------------------------------------------------
// critic targets

/* TD(λ) targets for one stored trajectory segment of T steps, computed backwards (RLDT.md §5). Per step t:
 * r[t] the reward (summed over the chunk), terminated[t] = d_t (the task ended the episode: no bootstrap),
 * ended[t] = the episode ended at t for any reason (terminated or truncated), qnext[t] = Q̄(s'_t), the
 * bootstrap value of step t's next state (min over members, mean over policy samples). The reward is scaled
 * and the bootstrap clipped first (RLDT.md §5): r_t <- (float)(r[t] / r_div) (r_div = 1 on sparse tasks), and
 * q_t <- min(max(qnext[t], q_lo), q_hi) (a NaN bootstrap becomes q_lo). Then
 *   G_t = r_t + γ(1 − d_t)·[(1 − λ)·q_t + λ·G_{t+1}]
 * Boundary rule: the λ-return chains into G_{t+1} only when step t+1 continues the same episode inside the
 * segment. At the segment's last step (t = T−1) and at every step with ended[t] = 1, G_{t+1} is replaced by
 * q_t, so those steps get the one-step target G_t = r_t + γ(1 − d_t)·q_t: a truncated episode bootstraps
 * from its last next state, and the next stored step, which starts a new episode, never leaks into it. The
 * recursion runs in double. Shared by the CPU backend and the CUDA kernel (one thread per segment). */
RLDT_HD void rldt_td_lambda(float *G, const float *r, const uint8_t *terminated, const uint8_t *ended, const float *qnext,
                            int T, float gamma, float lambda, double r_div, float q_lo, float q_hi)
{
    double next = 0.0; /* G_{t+1}; unused at t = T−1 */
    for (int t = T - 1; t >= 0; t--) {
        double q = fminf(fmaxf(qnext[t], q_lo), q_hi);
        double ahead = (t == T - 1 || ended[t]) ? q : next; /* the boundary rule: no chaining across episodes */
        double cont = terminated[t] ? 0.0 : (double)gamma;
        double rt = (float)(r[t] / r_div);
        next = rt + cont * ((1.0 - lambda) * q + lambda * ahead);
        G[t] = (float)next;
    }
}

/* What the replay buffer stores of one env step (RLDT.md §5). */
typedef struct {
    float reward;     /* dense: the env's reward; sparse: the increment raw − previous raw (the caller divides
                       * a rollout's increments by max(1, its largest raw reward)) */
    uint8_t terminal; /* d = 1: no bootstrap beyond this step */
    uint8_t ended;    /* the episode ended here (terminated, truncated) or the step is terminal: TD(λ) does not
                       * chain across it */
    uint8_t mask;     /* 0: the losses ignore this state (after the episode's first success, with
                       * reward.mask_after_success) */
} rldt_transition_t;

/* One env step into a stored transition, updating its env's episode state: `prev_raw`, the raw reward of the
 * episode's previous step (0 at its start), and `seen_success`, whether the episode has succeeded before.
 * Sparse tasks: the reward is the one-time increment raw − prev_raw, and from the episode's first success
 * on every step is terminal (the success step included: for envs that do not end the episode on success,
 * nothing after it is bootstrapped from). Dense tasks: the reward is raw, terminal is terminated. Every
 * task: mask = 0 after the first success when mask_after_success (the success step itself keeps 1). At the
 * episode's end (terminated or truncated) the state resets. */
static inline rldt_transition_t rldt_transition(float *prev_raw, uint8_t *seen_success, float raw, bool success,
                                                bool terminated, bool truncated, bool sparse, bool mask_after_success)
{
    rldt_transition_t x;
    bool after_success = sparse && (*seen_success || success);
    x.reward = sparse ? raw - *prev_raw : raw;
    x.terminal = terminated || after_success;
    x.ended = terminated || truncated || after_success;
    x.mask = !(mask_after_success && *seen_success);
    *seen_success = *seen_success || success;
    if (isfinite(raw)) *prev_raw = raw; /* a non-finite reward drops its segment; it must not poison the next */
    if (terminated || truncated) *seen_success = 0, *prev_raw = 0.0f;
    return x;
}

// ---------------------------------------------------------------------------------------------------
// exploration (RLDT.md §6)

/* One env's executed chunk: with σ = ‖a − a†‖ over the chunk's D values (in double, in index order),
 * exec[d] = clip(a[d] + σ·noise[d], −1, 1). */
RLDT_HD void rldt_explore_row(float *exec, const float *a, const float *at, const float *noise, int D)
{
    double s2 = 0.0;
    for (int d = 0; d < D; d++) s2 += (double)(a[d] - at[d]) * (a[d] - at[d]);
    float sigma = (float)sqrt(s2);
    for (int d = 0; d < D; d++) {
        float e = a[d] + sigma * noise[d];
        exec[d] = e < -1.0f ? -1.0f : (e > 1.0f ? 1.0f : e);
    }
}

// ---------------------------------------------------------------------------------------------------
// dense-reward scaling (host)

/* EMA rate of the running mean of |r|. */
#define RLDT_REWARD_EMA_RATE 0.01
/* A batch whose mean |r| is below this (or not finite) is skipped, as in the reference implementation: an
 * all-zero batch (a sparse stretch, envs that have not moved yet) would otherwise set the first mean to 0
 * and the divisor to its 1e-8 floor, scaling the next rewards by 1e8. */
#define RLDT_REWARD_MIN_BATCH_MEAN 1e-8

/* Dense rewards are divided by a running mean of |r| (RLDT.md §5). */
typedef struct {
    double mean_abs; /* the running mean of |r| */
    long updates;    /* batches seen */
} rldt_reward_scaler_t;

/* No batches seen; mean_abs = 1, so scaling before the first update is the identity. */
void rldt_reward_scaler_init(rldt_reward_scaler_t *s);
/* Folds a batch of n rewards into the running mean, one EMA step per call whatever n is: with
 * m = mean_i |r_i| (in double), the first batch sets mean_abs = m (no bias toward the initial value);
 * later ones set mean_abs <- (1 − 0.01)·mean_abs + 0.01·m. n = 0, and a batch with m < 1e-8
 * (RLDT_REWARD_MIN_BATCH_MEAN) or m not finite, change nothing (`updates` counts only the batches taken).
 * With data parallelism the batch is every rank's: each rank passes its own rewards, m is the mean over all
 * of them, and every rank takes the same step (a collective: every rank calls it, n = 0 included). */
void rldt_reward_scaler_update(rldt_reward_scaler_t *s, const float *r, size_t n);
/* The divisor of the rewards (the r_div of rldt_td_lambda): max(mean_abs, 1e-8). */
double rldt_reward_scaler_divisor(const rldt_reward_scaler_t *s);

#ifdef __cplusplus
}
#endif
#endif
