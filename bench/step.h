/* step.h — the RLDT passes the step benchmarks time (bench_step.c, bench_profile.c): one actor step, one
 * critic step and one sampling pass on random observations, at three shapes.
 *
 *   small   obs 3, act 1, chunk 4, K 8, P 8, 256 states, policy width 256 x 3 blocks, critic 3 x 256, 2048 rows
 *   medium  obs 11, act 3, chunk 4, K 8, P 8, 1,024 states, width 512 x 3 blocks, critic 3 x 256, 8,192 rows
 *   hopper  obs 11, act 3, chunk 4, K 8, P 8, 6,400 states, width 512 x 3 blocks, critic 3 x 256, 50,000 rows
 *           (the published hopper settings)
 * (critic rows: the transitions each member trains on per critic step.) The actor step is the fine-tuning
 * actor step of host/rl/finetune_update.c, op for op: the states gathered from the replay buffer's device
 * copy, P particle chains (K Euler steps), the critic's action gradient at the final actions, the velocity
 * at one drawn step with its expected target, the SVGD field, the transport + consistency gradient, the
 * regulariser toward v_ref, the Adam step and the logged sums; the critic step gathers each member's
 * minibatch from the buffer's copy the same way. Each phase is timed to a device sync. */
#ifndef RLDT_BENCH_STEP_H
#define RLDT_BENCH_STEP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/backend.h"
#include "rldt/critic.h"
#include "rldt/policy.h"

typedef struct {
    const char *name;
    int od, act, chunk, K, P, states, width, blocks, cwidth, cdepth, crows, members;
} shape_t;

static const shape_t shapes[] = {
    {"small", 3, 1, 4, 8, 8, 256, 256, 3, 256, 3, 2048, 2},
    {"medium", 11, 3, 4, 8, 8, 1024, 512, 3, 256, 3, 8192, 2},
    {"hopper", 11, 3, 4, 8, 8, 6400, 512, 3, 256, 3, 50000, 2},
};

enum { PH_SAMPLE, PH_QGRAD, PH_VEL, PH_FIELD, PH_ACTOR_BWD, PH_REG, PH_ADAM, PH_CRITIC, PH_SAMPLING, N_PH };
static const char *const ph_names[N_PH] = {"actor: particle chains (K steps)", "actor: critic action gradient",
                                           "actor: velocity + expected target", "actor: SVGD field",
                                           "actor: transport/consistency backward", "actor: regulariser fwd+bwd",
                                           "actor: Adam step", "critic step (all members)", "sampling pass (K steps)"};

typedef struct {
    const rldt_backend_t *be;
    const shape_t *s;
    int N, D;
    rldt_policy_t pol;
    rldt_trainable_t actor;
    float *vref;
    rldt_critic_t critic;
    float *obs, *chain, *g, *xk, *t, *at, *phi, *h, *alpha, *dv, *ref, *tmp, *x;
    float *cobs, *cact, *ctgt; /* the replay buffer's device copy: crows transitions */
    float *bobs, *bact, *btgt; /* a critic minibatch gathered from it */
    int *k, *idx, *rows, *hrows;
    double stats;
    double flops[N_PH];
    double loss[3];
} step_t;

static float *dev_uniform(const rldt_backend_t *be, size_t n, uint64_t stream, float lo, float hi)
{
    float *d = be->alloc(sizeof(float) * n);
    if (!d) {
        fprintf(stderr, "bench_step: out of %s memory (%zu floats)\n", be->name, n);
        exit(1);
    }
    be->fill_uniform(d, n, 11, stream, 0);
    be->scale(d, hi - lo, n);
    float *one = rldt_xmalloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) one[i] = lo;
    float *dl = be->alloc(sizeof(float) * n);
    be->upload(dl, one, sizeof(float) * n);
    be->axpy(d, 1.0f, dl, n);
    be->free(dl);
    free(one);
    return d;
}

/* GEMM FLOPs of one forward of an MLP over B rows (backward: twice that with parameter gradients). */
static double mlp_flops(const rldt_mlp_t *m, int B)
{
    double f = 0;
    for (int i = 0; i < m->nops; i++)
        if (m->ops[i].kind == RLDT_OP_LINEAR) f += 2.0 * B * m->ops[i].in * m->ops[i].out;
    return f;
}

static void step_init(step_t *x, const rldt_backend_t *be, const shape_t *s)
{
    memset(x, 0, sizeof *x);
    x->be = be;
    x->s = s;
    x->N = s->states * s->P;
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.policy_chunk = s->chunk;
    cfg.policy_k = s->K;
    cfg.policy_width = s->width;
    cfg.policy_blocks = s->blocks;
    rldt_policy_spec_t spec;
    rldt_policy_spec_from_config(&cfg, s->od, s->act, &spec);
    x->D = spec.D;
    int mb = x->N > s->crows ? x->N : s->crows;
    if (rldt_policy_init(&x->pol, &spec, mb, be)) {
        fprintf(stderr, "bench_step: %s\n", rldt_error_message());
        exit(1);
    }
    float *w = rldt_xmalloc(sizeof(float) * x->pol.nparams);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 3, 1);
    rldt_policy_init_params(&x->pol, w, &rng);
    if (rldt_trainable_init(&x->actor, be, x->pol.nparams, w) ||
        rldt_critic_init(&x->critic, s->od, x->D, s->cwidth, s->cdepth, s->members, mb, be, &rng)) {
        fprintf(stderr, "bench_step: %s\n", rldt_error_message());
        exit(1);
    }
    free(w);
    size_t N = (size_t)x->N, D = (size_t)x->D, K = (size_t)s->K, cr = (size_t)s->crows;
    x->vref = be->alloc(sizeof(float) * x->pol.nparams);
    be->copy(x->vref, x->actor.p, sizeof(float) * x->pol.nparams);
    x->obs = dev_uniform(be, N * s->od, 1, -1, 1);
    x->chain = dev_uniform(be, (K + 1) * N * D, 2, -1, 1);
    float **bufs[] = {&x->g, &x->xk, &x->at, &x->phi, &x->dv, &x->ref, &x->tmp, &x->x};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) *bufs[i] = dev_uniform(be, N * D, 3 + i, -1, 1);
    x->t = dev_uniform(be, N, 20, 0, 0.5f);
    x->h = dev_uniform(be, N, 21, 0, 1);
    x->alpha = dev_uniform(be, N, 22, 0, 1);
    x->cobs = dev_uniform(be, cr * s->od, 23, -1, 1);
    x->cact = dev_uniform(be, cr * D, 24, -1, 1);
    x->ctgt = dev_uniform(be, cr, 25, -1, 1);
    x->bobs = dev_uniform(be, cr * s->od, 26, -1, 1);
    x->bact = dev_uniform(be, cr * D, 27, -1, 1);
    x->btgt = dev_uniform(be, cr, 28, -1, 1);
    x->k = be->alloc(sizeof(int) * N);
    x->idx = be->alloc(sizeof(int) * cr);
    x->rows = be->alloc(sizeof(int) * (size_t)s->states);
    x->hrows = rldt_xmalloc(sizeof(int) * (size_t)s->states);
    for (int i = 0; i < s->states; i++) x->hrows[i] = (int)rldt_rng_below(&rng, (uint32_t)s->crows); /* states <= crows */
    /* GEMM FLOPs per phase */
    double pf = mlp_flops(&x->pol.body, x->N) + mlp_flops(&x->pol.time_mlp, x->N);
    double cf = mlp_flops(&x->critic.net, x->N);
    x->flops[PH_SAMPLE] = K * pf;
    x->flops[PH_QGRAD] = s->members * 2 * cf; /* forward + input-gradient backward */
    x->flops[PH_VEL] = pf;
    x->flops[PH_ACTOR_BWD] = 2 * pf;
    x->flops[PH_REG] = 2 * pf + 2 * pf;
    x->flops[PH_CRITIC] = s->members * 3 * mlp_flops(&x->critic.net, s->crows);
    x->flops[PH_SAMPLING] = K * pf;
}

static void step_free(step_t *x)
{
    const rldt_backend_t *be = x->be;
    float *bufs[] = {x->vref, x->obs, x->chain, x->g, x->xk, x->at, x->phi, x->dv, x->ref, x->tmp, x->x,
                     x->t, x->h, x->alpha, x->cobs, x->cact, x->ctgt, x->bobs, x->bact, x->btgt};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) be->free(bufs[i]);
    be->free(x->k), be->free(x->idx), be->free(x->rows);
    free(x->hrows);
    rldt_critic_free(&x->critic);
    rldt_trainable_free(&x->actor);
    rldt_policy_free(&x->pol);
}

/* Seconds since *t0 into t[ph], after a device sync; *t0 moves on. */
static void lap(const rldt_backend_t *be, double *t, int ph, double *t0)
{
    be->sync();
    double now = rldt_now();
    t[ph] = now - *t0;
    *t0 = now;
}

/* One actor step (phases PH_SAMPLE .. PH_ADAM of t[]). */
static void actor_step(step_t *x, double *t)
{
    const rldt_backend_t *be = x->be;
    int N = x->N, D = x->D, K = x->s->K, P = x->s->P, S = x->s->states;
    size_t nx = (size_t)N * D;
    double t0 = rldt_now();
    be->upload(x->rows, x->hrows, sizeof(int) * (size_t)S); /* the states' rows, chosen on the host */
    be->gather_rows(x->obs, x->cobs, x->rows, N, x->s->od, P);
    be->fill_normal(x->chain, nx, 5, 1, 0);
    rldt_policy_sample(&x->pol, x->actor.p, x->obs, N, x->chain, x->chain);
    lap(be, t, PH_SAMPLE, &t0);
    const float *a = x->chain + (size_t)K * nx;
    rldt_critic_action_grad(&x->critic, x->obs, a, N, x->g);
    lap(be, t, PH_QGRAD, &t0);
    be->draw_index(x->k, x->t, K, NULL, 0, (uint32_t)K, (size_t)N, 5, 4, 0);
    be->chain_select(x->xk, x->chain, x->k, N, D);
    rldt_trainable_zero_grad(&x->actor);
    const float *v = rldt_policy_forward(&x->pol, x->actor.p, x->xk, x->t, x->obs, N);
    be->expected_target(x->at, x->xk, v, x->t, N, D);
    lap(be, t, PH_VEL, &t0);
    be->svgd_field(x->phi, x->h, x->alpha, x->at, a, x->g, S, P, P, D, 1e-3f);
    lap(be, t, PH_FIELD, &t0);
    be->actor_grad(x->dv, &x->loss[0], &x->loss[1], v, x->phi, a, x->xk, x->t, N, D, K, 0.5f);
    rldt_policy_backward(&x->pol, x->actor.p, x->actor.g, x->dv);
    lap(be, t, PH_ACTOR_BWD, &t0);
    be->draw_index(NULL, x->t, K, NULL, 0, (uint32_t)K, (size_t)N, 5, 5, 0);
    be->fill_normal(x->tmp, nx, 5, 2, 0);
    be->flow_pair(x->x, x->at, a, x->tmp, x->t, N, D);
    be->copy(x->ref, rldt_policy_forward(&x->pol, x->vref, x->x, x->t, x->obs, N), sizeof(float) * nx);
    const float *v2 = rldt_policy_forward(&x->pol, x->actor.p, x->x, x->t, x->obs, N);
    x->loss[2] = be->mse(v2, x->ref, x->dv, nx);
    rldt_policy_backward(&x->pol, x->actor.p, x->actor.g, x->dv);
    lap(be, t, PH_REG, &t0);
    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, 0.0f, false};
    rldt_trainable_step(&x->actor, &opt, 1e-5f, 0.0f);
    x->stats = be->sumsq(x->phi, nx) + be->sum(x->h, (size_t)N) + be->sum(x->alpha, (size_t)S); /* the logged means */
    lap(be, t, PH_ADAM, &t0);
}

/* One critic step: every member on crows rows drawn from the buffer and gathered, one Adam step, the Polyak
 * update (PH_CRITIC). */
static void critic_step(step_t *x, double *t)
{
    const rldt_backend_t *be = x->be;
    int B = x->s->crows;
    double t0 = rldt_now();
    rldt_trainable_zero_grad(&x->critic.online);
    for (int m = 0; m < x->critic.members; m++) {
        be->draw_index(x->idx, NULL, 0, NULL, 0, (uint32_t)B, (size_t)B, 5, 6, (uint64_t)m * (uint64_t)B);
        be->gather_rows(x->bobs, x->cobs, x->idx, B, x->s->od, 1);
        be->gather_rows(x->bact, x->cact, x->idx, B, x->D, 1);
        be->gather_rows(x->btgt, x->ctgt, x->idx, B, 1, 1);
        rldt_critic_accumulate(&x->critic, m, x->bobs, x->bact, x->btgt, B);
    }
    rldt_adam_t copt = {0.9f, 0.999f, 1e-8f, 0.0f, true};
    rldt_trainable_step(&x->critic.online, &copt, 1e-3f, 0.0f);
    rldt_critic_polyak(&x->critic, 0.005f);
    lap(x->be, t, PH_CRITIC, &t0);
}

/* One K-step sampling pass over the N rows (PH_SAMPLING). */
static void sampling_pass(step_t *x, double *t)
{
    double t0 = rldt_now();
    x->be->fill_normal(x->chain, (size_t)x->N * x->D, 5, 3, 0);
    rldt_policy_sample(&x->pol, x->actor.p, x->obs, x->N, x->chain, NULL);
    lap(x->be, t, PH_SAMPLING, &t0);
}

#endif
