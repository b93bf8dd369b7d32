/* finetune_bptt.c — the BPTT baseline's actor update (finetune.algo=bptt), the approach RLDT's expected
 * targets replace: the policy maximises Q of its final action by back-propagating dQ/da through all K Euler
 * steps of the sampling chain (rldt_policy_chain_backward), with RLDT's states, particles, regulariser toward
 * v_ref and Adam step (finetune_update.c).
 *
 * Loss over the N = states x P particles a_n = x_K (chains from noise, unclipped), with Q the mean over the
 * online critic members (as rldt_critic_action_grad differentiates it):
 *   L = -(1/N) Σ_n Q(s_n, a_n) + L_reg,  so dL/dx_K = -(1/N) ∇_a Q. */
#include <math.h>

#include "finetune_internal.h"

void ft_bptt_step(ft_t *f, int nseg, ft_stats_t *st)
{
    const rldt_backend_t *be = f->be;
    int members = f->critic.members;
    rldt_rng_t rng;
    double *norms;
    int N = ft_actor_begin(f, nseg, st, &rng, &norms);
    if (N == 0) return;
    size_t nx = (size_t)N * f->D;
    const float *a = f->u_chain + (size_t)f->K * nx;
    double q = 0;
    for (int m = 0; m < members; m++) q += be->sum(rldt_critic_q(&f->critic, m, false, f->u_obs, a, N), (size_t)N);
    double lq = -q / ((double)N * members);
    rldt_critic_action_grad(&f->critic, f->u_obs, a, N, f->u_g);
    double g_rms = sqrt(be->sumsq(f->u_g, nx) / N);
    be->scale(f->u_g, -1.0f / (float)N, nx);
    rldt_policy_chain_backward(&f->pol, f->actor.p, f->actor.g, f->u_obs, N, f->u_chain, f->u_g, f->u_dv, f->u_sgrad, norms);
    double lreg = ft_actor_regulariser(f, a, N, &rng);
    if (!ft_actor_apply(f, st, isfinite(lq) && isfinite(lreg))) return;
    st->transport += lq;   /* the metrics' loss_transport column: -mean Q */
    st->phi_norm += g_rms; /* phi_norm: the root-mean-square |dQ/da| over the particles */
    st->reg += lreg;
    st->actor_n++;
}
