/* bench_ops.c — microbenchmarks of the backend ops at the sizes RLDT trains at, on every backend present.
 *
 * For each op: inputs are drawn once, the op runs on the CPU backend and, when a CUDA device is usable, on
 * the CUDA backend too (outputs compared with the CPU's: max relative error printed), then each backend is
 * timed as the median of 7 repeats of a calibrated loop (~0.2 s). Sizes: a critic layer (1024 x 256 ->
 * 256; also with a residual input and a ReLU epilogue), activations over 256k uniform [-1, 1) inputs (half
 * negative: a branch would mispredict), the transport field (256 states x 8 particles, chunk 4 x act 6),
 * the optimiser over 1M parameters, and a whole policy sampling pass (1024 rows, K = 8, width 256).
 * Usage: bench_ops */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/backend.h"
#include "rldt/policy.h"

#define REPEATS 7
#define REPEAT_SECONDS 0.2

static int cmp_double(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

/* The buffers an op reads and writes, on one backend. */
typedef struct {
    const rldt_backend_t *be;
    float *a, *b, *c, *d, *e, *f;
    rldt_policy_t *pol;
} bufs_t;

enum { B = 1024, W = 256, NP = 1 << 20, S = 256, P = 8, DCH = 24, FILL = 1 << 20 };

static void op_linear_fwd(bufs_t *x) { x->be->linear_forward(x->c, NULL, x->a, x->b, x->d, NULL, RLDT_ACT_IDENTITY, B, W, W); }
static void op_linear_bwd(bufs_t *x) { x->be->linear_backward(x->e, x->f, x->d, x->c, x->c, NULL, x->c, RLDT_ACT_IDENTITY, x->a, x->b, B, W, W); }
static void op_layernorm(bufs_t *x) { x->be->layernorm_forward(x->c, x->e, x->e + B, x->a, x->b, x->d, B, W); }
static void op_linear_fused(bufs_t *x) { x->be->linear_forward(x->c, x->e, x->a, x->b, x->d, x->f, RLDT_ACT_RELU, B, W, W); }
static void op_relu(bufs_t *x) { x->be->act_forward(RLDT_ACT_RELU, x->c, x->a, (size_t)B * W); }
static void op_relu_bwd(bufs_t *x) { x->be->act_backward(RLDT_ACT_RELU, x->c, x->b, x->a, (size_t)B * W); }
static void op_silu(bufs_t *x) { x->be->act_forward(RLDT_ACT_SILU, x->c, x->a, (size_t)B * W); }
static void op_silu_bwd(bufs_t *x) { x->be->act_backward(RLDT_ACT_SILU, x->c, x->b, x->a, (size_t)B * W); }
static void op_mish(bufs_t *x) { x->be->act_forward(RLDT_ACT_MISH, x->c, x->a, (size_t)B * W); }
static void op_mish_bwd(bufs_t *x) { x->be->act_backward(RLDT_ACT_MISH, x->c, x->b, x->a, (size_t)B * W); }
static void op_adam(bufs_t *x)
{
    rldt_adam_t o = rldt_adam_default();
    x->be->adam_step(&o, 1e-3f, 10, x->a, x->b, x->c, x->d, NP);
}
static void op_fill_normal(bufs_t *x) { x->be->fill_normal(x->c, FILL, 1, 2, 3); }
static void op_svgd(bufs_t *x) { x->be->svgd_field(x->c, x->e, x->f, x->a, x->b, x->d, S, P, P, DCH, 1e-3f); }
static void op_sample(bufs_t *x)
{
    x->be->copy(x->c, x->a, sizeof(float) * B * 4);
    rldt_policy_sample(x->pol, x->f, x->b, B, x->c, NULL);
}

#define ALL_OPS ((size_t)-1)

typedef struct {
    const char *name;
    void (*run)(bufs_t *);
    double flops; /* per call, for GFLOP/s; 0: time per call only */
    size_t out_n; /* floats of x->c compared across backends (0: none) */
    size_t need;  /* offsetof the backend op it runs, or ALL_OPS for whole passes */
} op_t;

static const op_t ops[] = {
    {"linear_forward 1024x256->256", op_linear_fwd, 2.0 * B * W * W, (size_t)B * W, offsetof(rldt_backend_t, linear_forward)},
    {"linear_backward 1024x256->256", op_linear_bwd, 4.0 * B * W * W, 0, offsetof(rldt_backend_t, linear_backward)},
    {"linear_forward +res, relu (fused)", op_linear_fused, 2.0 * B * W * W, (size_t)B * W, offsetof(rldt_backend_t, linear_forward)},
    {"layernorm_forward 1024x256", op_layernorm, 0, (size_t)B * W, offsetof(rldt_backend_t, layernorm_forward)},
    {"act_forward relu 256k", op_relu, 0, (size_t)B * W, offsetof(rldt_backend_t, act_forward)},
    {"act_backward relu 256k", op_relu_bwd, 0, (size_t)B * W, offsetof(rldt_backend_t, act_backward)},
    {"act_forward silu 256k", op_silu, 0, (size_t)B * W, offsetof(rldt_backend_t, act_forward)},
    {"act_backward silu 256k", op_silu_bwd, 0, (size_t)B * W, offsetof(rldt_backend_t, act_backward)},
    {"act_forward mish 256k", op_mish, 0, (size_t)B * W, offsetof(rldt_backend_t, act_forward)},
    {"act_backward mish 256k", op_mish_bwd, 0, (size_t)B * W, offsetof(rldt_backend_t, act_backward)},
    {"adam_step 1M params", op_adam, 0, NP, offsetof(rldt_backend_t, adam_step)},
    {"fill_normal 1M", op_fill_normal, 0, FILL, offsetof(rldt_backend_t, fill_normal)},
    {"svgd_field 256 states x 8, D=24", op_svgd, 0, (size_t)S * P * DCH, offsetof(rldt_backend_t, svgd_field)},
    {"policy sample 1024 rows, K=8, W=256", op_sample, 0, 0, ALL_OPS},
};

/* Whether backend `be` has what op `op` runs. */
static int available(const rldt_backend_t *be, const op_t *op)
{
    if (op->need == ALL_OPS) return rldt_backend_missing_op(be) == NULL;
    void (*fn)(void);
    memcpy(&fn, (const char *)be + op->need, sizeof fn);
    return fn != NULL;
}

static float *dev_random(const rldt_backend_t *be, size_t n, uint64_t stream)
{
    float *h = rldt_xmalloc(sizeof(float) * n), *d = be->alloc(sizeof(float) * n);
    rldt_rng_t r;
    rldt_rng_init(&r, 5, stream);
    for (size_t i = 0; i < n; i++) h[i] = 2.0f * rldt_rng_uniform(&r) - 1.0f;
    be->upload(d, h, sizeof(float) * n);
    free(h);
    return d;
}

static void bufs_init(bufs_t *x, const rldt_backend_t *be, rldt_policy_t *pol, const float *policy_params_host)
{
    size_t big = NP > (size_t)B * W ? NP : (size_t)B * W;
    x->be = be;
    x->a = dev_random(be, big, 1);
    x->b = dev_random(be, big, 2);
    x->c = dev_random(be, big, 3);
    x->d = dev_random(be, big, 4);
    x->e = dev_random(be, big, 5);
    x->f = dev_random(be, big, 6);
    /* adam needs v >= 0 */
    be->scale(x->d, 0.0f, NP);
    x->pol = pol;
    if (pol) be->upload(x->f, policy_params_host, sizeof(float) * pol->nparams);
}

static void bufs_free(bufs_t *x)
{
    float *all[] = {x->a, x->b, x->c, x->d, x->e, x->f};
    for (int i = 0; i < 6; i++) x->be->free(all[i]);
}

/* Median seconds per call. */
static double time_op(const op_t *op, bufs_t *x)
{
    long iters = 1;
    for (;;) {
        double t0 = rldt_now();
        for (long i = 0; i < iters; i++) op->run(x);
        x->be->sync();
        double dt = rldt_now() - t0;
        if (dt > 0.02) {
            iters = (long)((double)iters * REPEAT_SECONDS / dt) + 1;
            break;
        }
        iters *= 4;
    }
    double t[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        double t0 = rldt_now();
        for (long i = 0; i < iters; i++) op->run(x);
        x->be->sync();
        t[r] = (rldt_now() - t0) / (double)iters;
    }
    qsort(t, REPEATS, sizeof t[0], cmp_double);
    return t[REPEATS / 2];
}

int main(void)
{
    char why[256];
    const rldt_backend_t *backends[2] = {rldt_backend_cpu(), rldt_backend_cuda(why, sizeof why)};
    printf("backends: cpu (%s); cuda %s\n", backends[0]->device, backends[1] ? backends[1]->device : why);
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    rldt_policy_spec_t spec;
    rldt_policy_spec_from_config(&cfg, 17, 1, &spec); /* chunk 4 x act 1 = D 4, width 256, one block */
    rldt_policy_t pols[2];
    float *params = NULL;
    bufs_t x[2];
    int nb = backends[1] ? 2 : 1;
    for (int k = 0; k < nb; k++) {
        if (rldt_policy_init(&pols[k], &spec, B, backends[k])) {
            fprintf(stderr, "bench_ops: %s\n", rldt_error_message());
            return 1;
        }
        if (!params) {
            params = rldt_xmalloc(sizeof(float) * pols[k].nparams);
            rldt_rng_t r;
            rldt_rng_init(&r, 1, 1);
            rldt_policy_init_params(&pols[k], params, &r);
        }
        bufs_init(&x[k], backends[k], &pols[k], params);
    }
    printf("%-38s %14s %14s %10s %12s\n", "op", "cpu", "cuda", "speedup", "max rel err");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const op_t *op = &ops[i];
        double t[2] = {0, 0}, err = -1;
        for (int k = 0; k < nb; k++) {
            if (!available(backends[k], op)) continue;
            t[k] = time_op(op, &x[k]);
        }
        if (nb == 2 && t[1] > 0 && op->out_n) { /* same inputs (same streams), same op: compare outputs */
            float *hc = rldt_xmalloc(sizeof(float) * op->out_n), *hg = rldt_xmalloc(sizeof(float) * op->out_n);
            op->run(&x[0]);
            op->run(&x[1]);
            backends[0]->download(hc, x[0].c, sizeof(float) * op->out_n);
            backends[1]->download(hg, x[1].c, sizeof(float) * op->out_n);
            err = 0;
            for (size_t j = 0; j < op->out_n; j++) {
                double s = fabs(hc[j]) > 1e-3 ? fabs(hc[j]) : 1e-3, e = fabs(hc[j] - hg[j]) / s;
                if (e > err) err = e;
            }
            free(hc), free(hg);
        }
        char c0[32], c1[32], sp[16] = "-", er[16] = "-";
        if (op->flops) snprintf(c0, sizeof c0, "%.1f GFLOP/s", op->flops / t[0] * 1e-9);
        else snprintf(c0, sizeof c0, "%.3g ms", t[0] * 1e3);
        if (t[1] > 0) {
            if (op->flops) snprintf(c1, sizeof c1, "%.1f GFLOP/s", op->flops / t[1] * 1e-9);
            else snprintf(c1, sizeof c1, "%.3g ms", t[1] * 1e3);
            snprintf(sp, sizeof sp, "%.1fx", t[0] / t[1]);
        } else {
            snprintf(c1, sizeof c1, "-");
        }
        if (err >= 0) snprintf(er, sizeof er, "%.2g", err);
        printf("%-38s %14s %14s %10s %12s\n", op->name, c0, c1, sp, er);
    }
    for (int k = 0; k < nb; k++) {
        bufs_free(&x[k]);
        rldt_policy_free(&pols[k]);
    }
    free(params);
    return 0;
}
