/* bench_step.c — end-to-end benchmark of one RLDT actor step, one critic step and one sampling pass on a
 * backend, with a time breakdown by phase and the GEMM rate reached next to the backend's GEMM peak measured
 * in the same run (a large square linear_forward).
 *
 * usage: bench_step [small|medium|hopper] [cpu|cuda|cuda-emu]
 *   small   obs 3, act 1, chunk 4, K 8, P 8, 256 states, policy width 256 x 3 blocks, critic 3 x 256, 2048 rows
 *   medium  obs 11, act 3, chunk 4, K 8, P 8, 1,024 states, width 512 x 3 blocks, critic 3 x 256, 8,192 rows
 *   hopper  obs 11, act 3, chunk 4, K 8, P 8, 6,400 states, width 512 x 3 blocks, critic 3 x 256, 50,000 rows
 *           (the published hopper settings)
 * The step is the fine-tuning actor step of host/rl/finetune_update.c, op for op, on random observations:
 * P particle chains (K Euler steps), the critic's action gradient at the final actions, the velocity at one
 * drawn step with its expected target, the SVGD field, the transport + consistency gradient, the regulariser
 * toward v_ref, and the Adam step. Each phase is timed to a device sync; the median of the repeats is shown.
 * With `check` as the device the small shape runs on the CPU and on the emulator (or a GPU) and the losses
 * of both are printed side by side (a correctness check, not a timing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/backend.h"
#include "rldt/critic.h"
#include "rldt/policy.h"
#include "rldt/transport.h"

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
    float *obs, *chain, *g, *xk, *t, *at, *phi, *h, *alpha, *dv, *ref, *tmp, *x, *cobs, *cact, *ctgt;
    int *k;
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
    int *hk = rldt_xmalloc(sizeof(int) * N);
    float *ht = rldt_xmalloc(sizeof(float) * N);
    for (size_t n = 0; n < N; n++) {
        hk[n] = (int)rldt_rng_below(&rng, (uint32_t)K);
        ht[n] = (float)hk[n] / (float)K;
    }
    x->k = be->alloc(sizeof(int) * N);
    be->upload(x->k, hk, sizeof(int) * N);
    be->upload(x->t, ht, sizeof(float) * N);
    free(hk), free(ht);
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
                     x->t, x->h, x->alpha, x->cobs, x->cact, x->ctgt};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) be->free(bufs[i]);
    be->free(x->k);
    rldt_critic_free(&x->critic);
    rldt_trainable_free(&x->actor);
    rldt_policy_free(&x->pol);
}

/* One actor step, one critic step and one sampling pass; seconds per phase into t[]. */
static void run_step(step_t *x, double *t)
{
    const rldt_backend_t *be = x->be;
    int N = x->N, D = x->D, K = x->s->K, P = x->s->P, S = x->s->states;
    size_t nx = (size_t)N * D;
    double t0 = rldt_now();
#define LAP(ph)                                                                                            \
    do {                                                                                                   \
        be->sync();                                                                                        \
        double now_ = rldt_now();                                                                          \
        t[ph] = now_ - t0;                                                                                 \
        t0 = now_;                                                                                         \
    } while (0)
    be->fill_normal(x->chain, nx, 5, 1, 0);
    rldt_policy_sample(&x->pol, x->actor.p, x->obs, N, x->chain, x->chain);
    LAP(PH_SAMPLE);
    const float *a = x->chain + (size_t)K * nx;
    rldt_critic_action_grad(&x->critic, x->obs, a, N, x->g);
    LAP(PH_QGRAD);
    be->chain_select(x->xk, x->chain, x->k, N, D);
    rldt_trainable_zero_grad(&x->actor);
    const float *v = rldt_policy_forward(&x->pol, x->actor.p, x->xk, x->t, x->obs, N);
    be->expected_target(x->at, x->xk, v, x->t, N, D);
    LAP(PH_VEL);
    be->svgd_field(x->phi, x->h, x->alpha, x->at, a, x->g, S, P, P, D, 1e-3f);
    LAP(PH_FIELD);
    be->actor_grad(x->dv, &x->loss[0], &x->loss[1], v, x->phi, a, x->xk, x->t, N, D, K, 0.5f);
    rldt_policy_backward(&x->pol, x->actor.p, x->actor.g, x->dv);
    LAP(PH_ACTOR_BWD);
    be->fill_normal(x->tmp, nx, 5, 2, 0);
    be->flow_pair(x->x, x->at, a, x->tmp, x->t, N, D);
    be->copy(x->ref, rldt_policy_forward(&x->pol, x->vref, x->x, x->t, x->obs, N), sizeof(float) * nx);
    const float *v2 = rldt_policy_forward(&x->pol, x->actor.p, x->x, x->t, x->obs, N);
    x->loss[2] = be->mse(v2, x->ref, x->dv, nx);
    rldt_policy_backward(&x->pol, x->actor.p, x->actor.g, x->dv);
    LAP(PH_REG);
    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, 0.0f, false};
    rldt_trainable_step(&x->actor, &opt, 1e-5f, 0.0f);
    LAP(PH_ADAM);
    rldt_trainable_zero_grad(&x->critic.online);
    for (int m = 0; m < x->critic.members; m++)
        rldt_critic_accumulate(&x->critic, m, x->cobs, x->cact, x->ctgt, x->s->crows);
    rldt_adam_t copt = {0.9f, 0.999f, 1e-8f, 0.0f, true};
    rldt_trainable_step(&x->critic.online, &copt, 1e-3f, 0.0f);
    rldt_critic_polyak(&x->critic, 0.005f);
    LAP(PH_CRITIC);
    be->fill_normal(x->chain, nx, 5, 3, 0);
    rldt_policy_sample(&x->pol, x->actor.p, x->obs, N, x->chain, NULL);
    LAP(PH_SAMPLING);
#undef LAP
}

static int cmp_double(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

/* GEMM peak of the backend: the median rate of a large square linear_forward (no bias work to speak of). */
static double gemm_peak(const rldt_backend_t *be, int n)
{
    float *a = dev_uniform(be, (size_t)n * n, 30, -1, 1), *w = dev_uniform(be, (size_t)n * n, 31, -1, 1);
    float *b = dev_uniform(be, (size_t)n, 32, -1, 1), *y = be->alloc(sizeof(float) * n * n);
    double r[5];
    be->linear_forward(y, NULL, a, w, b, NULL, RLDT_ACT_IDENTITY, n, n, n);
    for (int i = 0; i < 5; i++) {
        be->sync();
        double t0 = rldt_now();
        be->linear_forward(y, NULL, a, w, b, NULL, RLDT_ACT_IDENTITY, n, n, n);
        be->sync();
        r[i] = 2.0 * n * n * (double)n / (rldt_now() - t0);
    }
    be->free(a), be->free(w), be->free(b), be->free(y);
    qsort(r, 5, sizeof r[0], cmp_double);
    return r[2];
}

static const rldt_backend_t *pick(const char *name)
{
    char note[512];
    const rldt_backend_t *be = rldt_backend_select(name, note, sizeof note);
    if (!be) {
        fprintf(stderr, "bench_step: %s\n", rldt_error_message());
        exit(2);
    }
    printf("# %s\n", note);
    return be;
}

int main(int argc, char **argv)
{
    const char *shape_name = argc > 1 ? argv[1] : "small", *dev = argc > 2 ? argv[2] : "auto";
    const shape_t *s = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].name, shape_name) == 0) s = &shapes[i];
    if (!s) {
        fprintf(stderr, "usage: bench_step [small|medium|hopper] [auto|cpu|cuda|cuda-emu|check]\n");
        return 2;
    }
    if (strcmp(dev, "check") == 0) { /* CPU vs the device backend: the same step, its three losses */
        const rldt_backend_t *bes[2] = {rldt_backend_cpu(), NULL};
        char why[256];
        bes[1] = rldt_backend_cuda(why, sizeof why);
        if (!bes[1]) bes[1] = pick("cuda-emu");
        double loss[2][3], t[N_PH];
        for (int k = 0; k < 2; k++) {
            step_t x;
            step_init(&x, bes[k], s);
            run_step(&x, t);
            memcpy(loss[k], x.loss, sizeof x.loss);
            step_free(&x);
        }
        const char *ln[3] = {"transport", "consistency", "regulariser mse"};
        double worst = 0;
        for (int i = 0; i < 3; i++) {
            double e = fabs(loss[0][i] - loss[1][i]) / fmax(fabs(loss[0][i]), 1e-6);
            worst = fmax(worst, e);
            printf("%-16s cpu %.9g  %s %.9g  rel err %.2g\n", ln[i], loss[0][i], bes[1]->name, loss[1][i], e);
        }
        return worst < 1e-3 ? 0 : 1;
    }
    const rldt_backend_t *be = pick(dev);
    step_t x;
    step_init(&x, be, s);
    printf("# shape %s: %d states x %d particles (N = %d rows), D = %d, K = %d, policy %d x %d blocks (%zu params), "
           "critic %d x %d x %d members, %d critic rows\n",
           s->name, s->states, s->P, x.N, x.D, s->K, s->width, s->blocks, x.pol.nparams, s->cdepth, s->cwidth, s->members,
           s->crows);
    enum { REPEATS = 5 };
    double t[REPEATS][N_PH];
    run_step(&x, t[0]); /* warm-up */
    for (int r = 0; r < REPEATS; r++) run_step(&x, t[r]);
    double peak = gemm_peak(be, strcmp(be->name, "cuda") == 0 ? 8192 : 1024);
    printf("# GEMM peak (square linear_forward): %.1f GFLOP/s\n", peak * 1e-9);
    printf("%-40s %12s %14s %12s\n", "phase", "median ms", "GEMM GFLOP/s", "of peak");
    double tot_actor = 0, fl_actor = 0;
    for (int p = 0; p < N_PH; p++) {
        double col[REPEATS];
        for (int r = 0; r < REPEATS; r++) col[r] = t[r][p];
        qsort(col, REPEATS, sizeof col[0], cmp_double);
        double med = col[REPEATS / 2], rate = x.flops[p] / med;
        if (p <= PH_ADAM) tot_actor += med, fl_actor += x.flops[p];
        if (x.flops[p] > 0)
            printf("%-40s %12.3f %14.1f %11.0f%%\n", ph_names[p], med * 1e3, rate * 1e-9, 100 * rate / peak);
        else
            printf("%-40s %12.3f %14s %12s\n", ph_names[p], med * 1e3, "-", "-");
    }
    printf("%-40s %12.3f %14.1f %11.0f%%\n", "actor step (total)", tot_actor * 1e3, fl_actor / tot_actor * 1e-9,
           100 * fl_actor / tot_actor / peak);
    step_free(&x);
    return 0;
}
