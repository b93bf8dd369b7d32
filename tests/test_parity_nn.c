/* test_parity_nn.c — the device backend's neural-network ops (the fused linear layer, activations,
 * LayerNorm), whole MLPs, the GEMM precisions and the determinism of the backward reductions, against the
 * CPU backend (see parity.h). Every check runs under PARITY_ORDERS (each of the emulator's thread orders);
 * device outputs start as NaN, so an element a kernel misses fails.
 *
 * Error measure (nn_check): |device - cpu| / max(|device|, |cpu|, rms(cpu)) over the elements of an output.
 * For a typical element that is its relative error; an element near 0 (a dot product or a column sum whose
 * O(1) terms cancelled) is measured against the output's typical magnitude, since adding the same terms in
 * another order (cuBLAS's blocking, a tree instead of a loop) moves it by rounding errors of that scale.
 * Bounds, on inputs of unit scale and GEMM widths <= 64 (the precision tests) or <= 256 (the MLPs):
 *   fp32 GEMMs and everything around them           1e-4 (measured: ~1e-6)
 *   tf32 GEMMs (inputs rounded to 10 mantissa bits) 4e-3 (per product up to 2^-10; max over ~10^4 outputs)
 *   bf16 GEMM inputs (7 mantissa bits, fp32 sums)   2e-2 (per product up to 2^-8; max over ~10^4 outputs)
 *   activations (elementwise)                       1e-5 (an ulp or two of the device's expf/tanhf)
 *   activation gradients                            1e-4 (those ulps, amplified where the derivative of
 *                                                   Mish/SiLU cancels: it crosses zero near x = -1.2; seen
 *                                                   1.4e-5 on an H200) */
#define _POSIX_C_SOURCE 200809L
#include "parity.h"
#include "rldt/nn.h"

/* An op the device backend does not have yet is skipped by name. */
#define NEED(op)                                                                                           \
    if (!cu->op) cr_skip_test("skipped: the device backend has no " #op " kernel yet")

#define NEED_NN()                                                                                          \
    do {                                                                                                   \
        NEED(linear_forward);                                                                              \
        NEED(linear_backward);                                                                             \
        NEED(act_forward);                                                                                 \
        NEED(act_backward);                                                                                \
        NEED(layernorm_forward);                                                                           \
        NEED(layernorm_backward);                                                                          \
    } while (0)

#define TOL_FP32 1e-4
#define TOL_TF32 4e-3
#define TOL_BF16 2e-2
#define TOL_ACT 1e-5
#define TOL_ACT_BWD 1e-4

/* The device backend with GEMM precision `prec` (the plugin reads $RLDT_PRECISION when it opens, once per
 * process: Criterion runs every test in a process of its own). */
static const rldt_backend_t *nn_backend(const char *prec)
{
    setenv("RLDT_PRECISION", prec, 1);
    const rldt_backend_t *be = parity_backend();
    char tag[32];
    snprintf(tag, sizeof tag, "%s GEMMs", prec);
    cr_assert(strstr(be->device, tag), "device '%s' should run %s", be->device, tag);
    return be;
}

/* Downloads n floats and checks them against the CPU's (see the error measure above); returns the largest
 * error. */
static double nn_check(const rldt_backend_t *be, const float *dev, const float *ref, size_t n, double tol,
                       const char *what)
{
    float *h = malloc(sizeof(float) * (n ? n : 1));
    be->download(h, dev, sizeof(float) * n);
    double ss = 0.0, worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) ss += (double)ref[i] * ref[i];
    double rms = n ? sqrt(ss / (double)n) : 0.0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(isfinite(h[i]), "%s: element %zu not written (%g)", what, i, h[i]);
        double e = test_rel_err(h[i], ref[i], fmax(rms, 1e-30));
        if (e > worst) worst = e, at = i;
    }
    cr_assert_leq(worst, tol, "%s: element %zu: %.9g vs %.9g (error %g > %g, rms %g)", what, at, n ? h[at] : 0.0,
                  n ? ref[at] : 0.0, worst, tol, rms);
    free(h);
    return worst;
}

static float *host_copy(const float *x, size_t n)
{
    float *c = malloc(sizeof(float) * (n ? n : 1));
    memcpy(c, x, sizeof(float) * n);
    return c;
}

// ---------------------------------------------------------------------------------------------------
// the fused linear layer

enum {
    RES = 1,            /* forward adds a residual */
    RES_IN_PRE = 2,     /* ... which is pre itself (the residual block's accumulation in place) */
    NO_POST = 4,        /* forward without post (act ignored) */
    DRES = 8,           /* backward adds a residual gradient */
    DPRE_IN_PLACE = 16, /* dpre is dpost's buffer */
    NO_DW = 32,         /* input gradients only (dW, db NULL) */
    NO_DIN = 64,        /* din NULL */
};

/* One forward and one backward of a linear layer [B] x [ni] -> [no] with `flags`; returns the largest
 * error seen. The backward runs on the CPU's pre-activation on both sides (uploaded), so that an act' with
 * a kink (relu) sees the same inputs. dW and db accumulate onto random values. */
static double check_linear(const rldt_backend_t *cu, int B, int ni, int no, rldt_act_t act, int flags, double tol,
                           uint64_t st)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    size_t nx = (size_t)B * ni, nw = (size_t)no * ni, ny = (size_t)B * no;
    float *x = test_random_array(nx, -1, 1, st), *W = test_random_array(nw, -1, 1, st + 1);
    float *b = test_random_array((size_t)no, -1, 1, st + 2), *res = test_random_array(ny, -1, 1, st + 3);
    float *dy = test_random_array(ny, -1, 1, st + 4), *dres = test_random_array(ny, -1, 1, st + 5);
    float *dW = test_random_array(nw, -1, 1, st + 6), *db = test_random_array((size_t)no, -1, 1, st + 7);
    float *pre = host_copy(res, ny), *post = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    float *dpre = host_copy(dy, ny);
    char what[160];
#define WHAT(s) (snprintf(what, sizeof what, "linear B=%d ni=%d no=%d act=%d flags=%d: %s", B, ni, no, (int)act, flags, s), what)
    double worst = 0.0;

    /* forward */
    const float *r = flags & RES_IN_PRE ? pre : flags & RES ? res : NULL;
    float *X = to_dev(cu, x, nx), *Wd = to_dev(cu, W, nw), *Bd = to_dev(cu, b, (size_t)no);
    float *PRE = flags & RES_IN_PRE ? to_dev(cu, res, ny) : nan_dev(cu, ny), *POST = nan_dev(cu, ny);
    float *RESd = to_dev(cu, res, ny);
    const float *R = flags & RES_IN_PRE ? PRE : flags & RES ? RESd : NULL;
    int with_post = !(flags & NO_POST);
    cpu->linear_forward(pre, with_post ? post : NULL, x, W, b, r, act, B, ni, no);
    cu->linear_forward(PRE, with_post ? POST : NULL, X, Wd, Bd, R, act, B, ni, no);
    worst = fmax(worst, nn_check(cu, PRE, pre, ny, tol, WHAT("pre")));
    if (with_post) worst = fmax(worst, nn_check(cu, POST, post, ny, tol, WHAT("post")));

    /* backward */
    cu->upload(PRE, pre, sizeof(float) * ny);
    float *DY = to_dev(cu, dy, ny), *DRESd = to_dev(cu, dres, ny), *DPRE = flags & DPRE_IN_PLACE ? DY : nan_dev(cu, ny);
    float *DX = nan_dev(cu, nx), *GW = to_dev(cu, dW, nw), *GB = to_dev(cu, db, (size_t)no);
    int with_dw = !(flags & NO_DW), with_din = !(flags & NO_DIN);
    cpu->linear_backward(with_din ? dx : NULL, with_dw ? dW : NULL, with_dw ? db : NULL, dpre,
                         flags & DPRE_IN_PLACE ? dpre : dy, flags & DRES ? dres : NULL, pre, act, x, W, B, ni, no);
    cu->linear_backward(with_din ? DX : NULL, with_dw ? GW : NULL, with_dw ? GB : NULL, DPRE, DY,
                        flags & DRES ? DRESd : NULL, PRE, act, X, Wd, B, ni, no);
    worst = fmax(worst, nn_check(cu, DPRE, dpre, ny, tol, WHAT("dpre")));
    if (with_din) worst = fmax(worst, nn_check(cu, DX, dx, nx, tol, WHAT("din")));
    if (with_dw) {
        worst = fmax(worst, nn_check(cu, GW, dW, nw, tol, WHAT("dW (accumulated)")));
        worst = fmax(worst, nn_check(cu, GB, db, (size_t)no, tol, WHAT("db (accumulated)")));
    } else {
        float *h = malloc(sizeof(float) * nw); /* untouched */
        cu->download(h, GW, sizeof(float) * nw);
        cr_assert(memcmp(h, dW, sizeof(float) * nw) == 0, "%s", WHAT("dW written without dW"));
        free(h);
    }
#undef WHAT
    float *devs[] = {X, Wd, Bd, PRE, POST, RESd, DY, DRESd, DX, GW, GB};
    for (size_t k = 0; k < sizeof devs / sizeof *devs; k++) cu->free(devs[k]);
    if (!(flags & DPRE_IN_PLACE)) cu->free(DPRE);
    free(x), free(W), free(b), free(res), free(dy), free(dres), free(dW), free(db), free(pre), free(post), free(dx);
    free(dpre);
    return worst;
}

/* Every activation, every variant of the call, on odd shapes: B = 1, one output, widths not a multiple of
 * 32, B past one tile of the bias-gradient reduction (64 rows per block). */
Test(parity, linear)
{
    const rldt_backend_t *cu = nn_backend("fp32");
    NEED_NN();
    static const int shapes[][3] = {{37, 45, 29}, {1, 7, 3}, {1, 1, 1}, {300, 64, 33}, {70, 5, 1}}; /* B, ni, no */
    static const int variants[] = {0, RES | DRES, RES_IN_PRE | DRES | DPRE_IN_PLACE, DPRE_IN_PLACE, NO_POST | NO_DW,
                                   NO_DIN, RES | NO_DIN | DRES | NO_DW};
    double worst = 0.0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int a = RLDT_ACT_IDENTITY; a <= RLDT_ACT_TANH; a++)
            for (size_t v = 0; v < sizeof variants / sizeof *variants; v++)
                PARITY_ORDERS(cu, worst = fmax(worst, check_linear(cu, shapes[s][0], shapes[s][1], shapes[s][2], (rldt_act_t)a,
                                                                   variants[v], TOL_FP32, 10 + 20 * s + v)));
    cr_log_info("fp32: largest error %.3g (bound %.0e)", worst, TOL_FP32);
}

/* B past the cap on row blocks (128 blocks of 64 rows): each thread of the reduction takes many rows. */
Test(parity, linear_large_batch)
{
    const rldt_backend_t *cu = nn_backend("fp32");
    NEED_NN();
    PARITY_ORDERS(cu, check_linear(cu, 8300, 5, 3, RLDT_ACT_SILU, RES | DRES, TOL_FP32, 500));
    PARITY_ORDERS(cu, check_linear(cu, 8300, 3, 40, RLDT_ACT_IDENTITY, DPRE_IN_PLACE, TOL_FP32, 510));
}

/* The precisions: the bound of each holds, and the rounding really happens: an error of at least `least`
 * (bf16 inputs are rounded by our own kernel on every device; TF32 rounding is checked on the emulator only,
 * since a GPU's cuBLAS may pick a kernel without tensor cores for small shapes). */
static void check_precision(const char *prec, double tol, double least, bool on_gpu_too)
{
    const rldt_backend_t *cu = nn_backend(prec);
    NEED_NN();
    static const int shapes[][3] = {{37, 45, 29}, {300, 64, 33}, {1, 64, 64}, {64, 64, 1}};
    double worst = 0.0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int v = 0; v < 2; v++) {
            rldt_act_t act = v ? RLDT_ACT_MISH : RLDT_ACT_IDENTITY;
            int flags = v ? RES | DRES : 0;
            PARITY_ORDERS(cu, worst = fmax(worst, check_linear(cu, shapes[s][0], shapes[s][1], shapes[s][2], act, flags,
                                                               tol, 700 + 20 * s + v)));
        }
    cr_log_info("%s: largest error %.3g (bound %.0e)", prec, worst, tol);
    if (on_gpu_too || strcmp(cu->name, "cuda-emu") == 0)
        cr_assert_geq(worst, least, "%s: error %g: the GEMM inputs were not rounded", prec, worst);
}

Test(parity, linear_tf32) { check_precision("tf32", TOL_TF32, 1e-4, false); }
Test(parity, linear_bf16) { check_precision("bf16", TOL_BF16, 1e-3, true); }

/* Any other name makes the plugin refuse to open, saying why (checked on the emulator, which always opens). */
Test(parity, unknown_precision_is_refused)
{
    setenv("RLDT_PRECISION", "fp16", 1);
    char why[256] = "";
    cr_assert_null(rldt_backend_cuda_emu(why, sizeof why));
    cr_assert(strstr(why, "RLDT_PRECISION='fp16'"), "reason: %s", why);
}

// ---------------------------------------------------------------------------------------------------
// activations

/* The first n floats of a poisoned device buffer are still NaN (an op wrote nothing before its view). */
static void expect_untouched(const rldt_backend_t *cu, const float *dev, size_t n)
{
    float h[4];
    for (size_t i = 0; i < n && i < 4; i++) {
        cu->download(&h[i], dev + i, sizeof(float));
        cr_assert(isnan(h[i]), "element %zu before the output view was written (%g)", i, h[i]);
    }
}

/* The activations over n elements whose output starts `off` floats into its buffer (the inputs `off_in`):
 * views off a 16-byte boundary take the kernels' one-element path, aligned ones the four-element path and
 * its tail. */
static void check_activations(const rldt_backend_t *cu, size_t n, size_t off, size_t off_in)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    float *x = test_random_array(n + off_in, -6, 6, 7), *g = test_random_array(n + off_in, -1, 1, 8),
          *y = malloc(sizeof(float) * n);
    float *dx = to_dev(cu, x, n + off_in), *dg = to_dev(cu, g, n + off_in);
    for (int a = RLDT_ACT_IDENTITY; a <= RLDT_ACT_TANH; a++) {
        float *dy = nan_dev(cu, n + off);
        cpu->act_forward((rldt_act_t)a, y, x + off_in, n);
        cu->act_forward((rldt_act_t)a, dy + off, dx + off_in, n);
        nn_check(cu, dy + off, y, n, TOL_ACT, "act_forward");
        expect_untouched(cu, dy, off);
        cu->free(dy);
        dy = nan_dev(cu, n + off);
        cpu->act_backward((rldt_act_t)a, y, g + off_in, x + off_in, n);
        cu->act_backward((rldt_act_t)a, dy + off, dg + off_in, dx + off_in, n);
        nn_check(cu, dy + off, y, n, TOL_ACT_BWD, "act_backward");
        expect_untouched(cu, dy, off);
        cu->free(dy);
    }
    cu->free(dx), cu->free(dg);
    free(x), free(g), free(y);
}

Test(parity, activations)
{
    const rldt_backend_t *cu = nn_backend("fp32");
    NEED_NN();
    PARITY_ORDERS(cu, check_activations(cu, 1, 0, 0));
    PARITY_ORDERS(cu, check_activations(cu, 10007, 0, 0)); /* four at a time, then a tail of 3 */
    PARITY_ORDERS(cu, check_activations(cu, 6, 0, 0));
    PARITY_ORDERS(cu, check_activations(cu, 1001, 1, 1)); /* unaligned output and inputs */
    PARITY_ORDERS(cu, check_activations(cu, 1001, 0, 3)); /* aligned output, unaligned inputs */
}

// ---------------------------------------------------------------------------------------------------
// LayerNorm

static void check_layernorm(const rldt_backend_t *cu, int B, int C, int with_params, uint64_t st)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    size_t n = (size_t)B * C;
    float *x = test_random_array(n, -2, 2, st), *gm = test_random_array((size_t)C, 0.5f, 1.5f, st + 1);
    float *bt = test_random_array((size_t)C, -1, 1, st + 2), *dy = test_random_array(n, -1, 1, st + 3);
    float *dgm = test_random_array((size_t)C, -1, 1, st + 4), *dbt = test_random_array((size_t)C, -1, 1, st + 5);
    for (size_t i = 0; i < n; i += 7) x[i] += 3.0f; /* rows not centred */
    float *y = malloc(sizeof(float) * n), *mean = malloc(sizeof(float) * B), *rstd = malloc(sizeof(float) * B);
    float *dx = malloc(sizeof(float) * n);
    float *X = to_dev(cu, x, n), *GM = to_dev(cu, gm, (size_t)C), *BT = to_dev(cu, bt, (size_t)C);
    float *DY = to_dev(cu, dy, n), *Y = nan_dev(cu, n), *MEAN = nan_dev(cu, (size_t)B), *RSTD = nan_dev(cu, (size_t)B);
    float *DX = nan_dev(cu, n), *DGM = to_dev(cu, dgm, (size_t)C), *DBT = to_dev(cu, dbt, (size_t)C);
    char what[128];
#define WHAT(s) (snprintf(what, sizeof what, "layernorm B=%d C=%d: %s", B, C, s), what)
    cpu->layernorm_forward(y, mean, rstd, x, gm, bt, B, C);
    cu->layernorm_forward(Y, MEAN, RSTD, X, GM, BT, B, C);
    nn_check(cu, Y, y, n, TOL_FP32, WHAT("out"));
    nn_check(cu, MEAN, mean, (size_t)B, TOL_FP32, WHAT("mean"));
    nn_check(cu, RSTD, rstd, (size_t)B, TOL_FP32, WHAT("rstd"));
    /* backward from the CPU's statistics on both sides */
    cu->upload(MEAN, mean, sizeof(float) * B);
    cu->upload(RSTD, rstd, sizeof(float) * B);
    cpu->layernorm_backward(dx, with_params ? dgm : NULL, with_params ? dbt : NULL, dy, x, mean, rstd, gm, B, C);
    cu->layernorm_backward(DX, with_params ? DGM : NULL, with_params ? DBT : NULL, DY, X, MEAN, RSTD, GM, B, C);
    nn_check(cu, DX, dx, n, TOL_FP32, WHAT("din"));
    nn_check(cu, DGM, dgm, (size_t)C, TOL_FP32, WHAT("dgamma (accumulated)"));
    nn_check(cu, DBT, dbt, (size_t)C, TOL_FP32, WHAT("dbeta (accumulated)"));
#undef WHAT
    float *devs[] = {X, GM, BT, DY, Y, MEAN, RSTD, DX, DGM, DBT};
    for (size_t k = 0; k < sizeof devs / sizeof *devs; k++) cu->free(devs[k]);
    free(x), free(gm), free(bt), free(dy), free(dgm), free(dbt), free(y), free(mean), free(rstd), free(dx);
}

/* C = 1 (zero variance), C below, at and not a multiple of 32, C past one block of threads (256) and past
 * 1024; B = 1, B past the reduction's row tiles, and B past the rows of the most row blocks (8192 blocks of
 * 8 rows: the warps loop). */
Test(parity, layernorm)
{
    const rldt_backend_t *cu = nn_backend("fp32");
    NEED_NN();
    static const int shapes[][2] = {{33, 300}, {1, 7}, {70, 1}, {2, 32}, {5, 1500}, {300, 64}, {2100, 3}, {66000, 2}}; /* B, C */
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int p = 0; p < 2; p++) PARITY_ORDERS(cu, check_layernorm(cu, shapes[s][0], shapes[s][1], p, 40 + 10 * s));
}

// ---------------------------------------------------------------------------------------------------
// whole networks: forward and backward of an rldt_mlp_t on both backends from the same parameters

static void check_mlp(const rldt_backend_t *cu, rldt_mlp_spec_t spec, int B, uint64_t st)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    rldt_mlp_t mc, md;
    cr_assert_eq(rldt_mlp_init(&mc, &spec, B, cpu), RLDT_OK);
    cr_assert_eq(rldt_mlp_init(&md, &spec, B, cu), RLDT_OK);
    size_t np = mc.nparams, nx = (size_t)B * spec.in, ny = (size_t)B * spec.out;
    float *P = malloc(sizeof(float) * np), *G = calloc(np, sizeof(float)), *din = malloc(sizeof(float) * nx);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 5, st);
    rldt_mlp_init_params(&mc, P, &rng);
    for (int i = 0; i < mc.nops; i++) /* LayerNorm parameters away from (1, 0), so their gradients matter */
        if (mc.ops[i].kind == RLDT_OP_LAYERNORM)
            for (int c = 0; c < 2 * mc.ops[i].in; c++) P[mc.ops[i].param + c] += 0.3f * (2.0f * rldt_rng_uniform(&rng) - 1.0f);
    float *x = test_random_array(nx, -1, 1, st + 1), *dout = test_random_array(ny, -1, 1, st + 2);
    float *Pd = to_dev(cu, P, np), *Gd = cu->alloc(sizeof(float) * np), *X = to_dev(cu, x, nx);
    float *DOUT = to_dev(cu, dout, ny), *DIN = nan_dev(cu, nx);
    char what[160];
#define WHAT(s) (snprintf(what, sizeof what, "mlp %dx%d residual=%d ln=%d act=%d: %s", spec.width, spec.depth, \
                          spec.residual, spec.layernorm, (int)spec.act, s), what)
    const float *yc = rldt_mlp_forward(&mc, P, x, B), *yd = rldt_mlp_forward(&md, Pd, X, B);
    nn_check(cu, yd, yc, ny, TOL_FP32, WHAT("output"));
    rldt_mlp_backward(&mc, P, G, dout, din);
    rldt_mlp_backward(&md, Pd, Gd, DOUT, DIN);
    nn_check(cu, DIN, din, nx, TOL_FP32, WHAT("input gradient"));
    for (int i = 0; i < mc.nops; i++) { /* each op's parameter gradients against their own scale */
        const rldt_mlp_op_t *op = &mc.ops[i];
        size_t n = op->kind == RLDT_OP_LINEAR ? (size_t)op->in * op->out : op->kind == RLDT_OP_LAYERNORM ? (size_t)op->in : 0;
        if (!n) continue;
        char part[64];
        snprintf(part, sizeof part, "op %d %s", i, op->kind == RLDT_OP_LINEAR ? "dW" : "dgamma");
        nn_check(cu, Gd + op->param, G + op->param, n, TOL_FP32, WHAT(part));
        snprintf(part, sizeof part, "op %d %s", i, op->kind == RLDT_OP_LINEAR ? "db" : "dbeta");
        nn_check(cu, Gd + op->param + n, G + op->param + n, (size_t)op->out, TOL_FP32, WHAT(part));
    }
#undef WHAT
    cu->free(Pd), cu->free(Gd), cu->free(X), cu->free(DOUT), cu->free(DIN);
    rldt_mlp_free(&mc);
    rldt_mlp_free(&md);
    free(P), free(G), free(din), free(x), free(dout);
}

/* The policy's shape: residual, 2 blocks of width 64, Mish, without and with LayerNorm. */
Test(parity, mlp_step_residual)
{
    const rldt_backend_t *cu = nn_backend("fp32");
    NEED_NN();
    rldt_mlp_spec_t spec = {.in = 23, .out = 6, .width = 64, .depth = 2, .residual = true, .act = RLDT_ACT_MISH,
                            .layernorm = false, .init = RLDT_INIT_TORCH};
    PARITY_ORDERS(cu, check_mlp(cu, spec, 37, 800));
    spec.layernorm = true;
    PARITY_ORDERS(cu, check_mlp(cu, spec, 37, 810));
}

/* The critic's shape: plain, 3 hidden layers of 256, SiLU, one output, N(0, 0.1^2) weights. */
Test(parity, mlp_step_critic)
{
    const rldt_backend_t *cu = nn_backend("fp32");
    NEED_NN();
    rldt_mlp_spec_t spec = {.in = 17, .out = 1, .width = 256, .depth = 3, .residual = false, .act = RLDT_ACT_SILU,
                            .layernorm = false, .init = RLDT_INIT_NORMAL01};
    PARITY_ORDERS(cu, check_mlp(cu, spec, 50, 820));
}

// ---------------------------------------------------------------------------------------------------
// determinism (issue 9 item 4): the bias, gamma and beta gradients are fixed-order column sums, so the
// same backward gives the same bits every time and under every thread order.

static void backward_grads(const rldt_backend_t *cu, float *const in[6], int B, int C, float *out)
{
    float *X = in[0], *W = in[1], *DY = in[2], *PRE = in[3], *MEAN = in[4], *RSTD = in[5];
    float *GW = cu->alloc(sizeof(float) * C * C), *GB = cu->alloc(sizeof(float) * C), *DPRE = nan_dev(cu, (size_t)B * C);
    float *DX = nan_dev(cu, (size_t)B * C), *DG = cu->alloc(sizeof(float) * C), *DB = cu->alloc(sizeof(float) * C);
    cu->linear_backward(DX, GW, GB, DPRE, DY, NULL, PRE, RLDT_ACT_SILU, X, W, B, C, C);
    cu->download(out, GB, sizeof(float) * C);
    cu->layernorm_backward(DX, DG, DB, DY, X, MEAN, RSTD, W, B, C);
    cu->download(out + C, DG, sizeof(float) * C);
    cu->download(out + 2 * C, DB, sizeof(float) * C);
    cu->free(GW), cu->free(GB), cu->free(DPRE), cu->free(DX), cu->free(DG), cu->free(DB);
}

static void check_repeat(const rldt_backend_t *cu, float *const in[6], int B, int C, float *first, int *runs)
{
    float *again = malloc(sizeof(float) * 3 * C);
    for (int rep = 0; rep < 2; rep++) {
        backward_grads(cu, in, B, C, again);
        if ((*runs)++ == 0) memcpy(first, again, sizeof(float) * 3 * C);
        for (int i = 0; i < 3 * C; i++)
            cr_assert(memcmp(&first[i], &again[i], sizeof(float)) == 0, "run %d: %s[%d] %.9g, first run %.9g", *runs,
                      i < C ? "db" : i < 2 * C ? "dgamma" : "dbeta", i % C, again[i], first[i]);
    }
    free(again);
}

Test(parity, nn_backward_is_deterministic)
{
    const rldt_backend_t *cu = nn_backend("fp32");
    NEED_NN();
    int B = 1000, C = 37;
    size_t n = (size_t)B * C;
    float *x = test_random_array(n, -1, 1, 900), *w = test_random_array((size_t)C * C, -1, 1, 901);
    float *dy = test_random_array(n, -1, 1, 902), *stats = test_random_array(2 * (size_t)B, 0.5f, 1.5f, 903);
    float *in[6] = {to_dev(cu, x, n), to_dev(cu, w, (size_t)C * C), to_dev(cu, dy, n), to_dev(cu, x, n),
                    to_dev(cu, stats, (size_t)B), to_dev(cu, stats + B, (size_t)B)};
    float *first = malloc(sizeof(float) * 3 * C);
    int runs = 0;
    PARITY_ORDERS(cu, check_repeat(cu, in, B, C, first, &runs));
    for (int k = 0; k < 6; k++) cu->free(in[k]);
    free(x), free(w), free(dy), free(stats), free(first);
}
