/* rldt/ppo.h — the math of the PPO baseline (finetune.algo=ppo): PPO through the denoising chain, in the
 * style of DPPO (Ren et al., "Diffusion Policy Policy Optimization", 2024).
 *
 * The flow policy's K Euler steps become a chain of Gaussian policies: step k draws
 *   x_{k+1} ~ N(μ_k, σ² I),  μ_k = x_k + v(x_k, k/K | s) / K,
 * with a fixed σ (ppo.sigma, in normalised action units), and the env executes clip(x_K, −1, 1). Every
 * denoising step of an env step is one sample of the clipped surrogate, with that env step's advantage
 * (generalised advantage estimation over the chunk-steps, a value network V(s) as the baseline). The
 * functions below are the per-sample and per-segment formulas, written once for the trainer
 * (host/rl/finetune_ppo.c) and the tests. */
#ifndef RLDT_PPO_H
#define RLDT_PPO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Generalised advantage estimates of one stored segment of T chunk-steps, computed backwards in double. Per
 * step t: r[t] the reward (divided by r_div first, as the critic's targets are: the running mean |r| on dense
 * tasks, 1 on sparse ones), v[t] = V(s_t), vnext[t] = V(s'_t), terminal[t] = no bootstrap beyond step t,
 * ended[t] = the episode ended at t (the trace does not run across it). With
 *   δ_t = r_t + γ(1 − terminal_t)·V(s'_t) − V(s_t),   A_t = δ_t + γλ·A_{t+1},
 * where A_{t+1} is 0 at the segment's last step and wherever ended[t] = 1. Writes A[t] and the value
 * targets ret[t] = A_t + V(s_t). */
void rldt_gae(float *adv, float *ret, const float *r, const float *v, const float *vnext, const uint8_t *terminal,
              const uint8_t *ended, int T, float gamma, float lambda, double r_div);

/* The clipped surrogate of one denoising step (one sample) and its gradient with respect to the velocity
 * v[0..D) the policy outputs at (x_k, k/K | s). With μ = xk + v/K, z = (xnext − μ)/σ,
 * log π = −‖z‖²/2 (the constant cancels in the ratio), ratio ρ = exp(log π − logp_old) and advantage A:
 *   ℓ = −min(ρA, clip(ρ, 1 − ε, 1 + ε)·A) · w
 * Writes dv[d] = dℓ/dv_d = −w·A·ρ·z_d/(σK) where the unclipped term is the minimum (0 where the clip is
 * active: ρ > 1 + ε with A > 0, ρ < 1 − ε with A < 0), stores ρ in *ratio and returns ℓ. w: the sample's
 * weight in the minibatch loss (1/B for a mean). */
double rldt_ppo_sample(float *dv, float *ratio, const float *xk, const float *xnext, const float *v, int D, int K,
                       float sigma, float logp_old, float adv, float clip, float w);

/* log π of a noisy step: −‖z‖²/2 for z = (xnext − xk − v/K)/σ (in double, returned as float). */
float rldt_ppo_logp(const float *xk, const float *xnext, const float *v, int D, int K, float sigma);

#ifdef __cplusplus
}
#endif
#endif
