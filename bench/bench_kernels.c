/* bench_kernels.c — per-kernel benchmark of the device backend (llm.c dev/cuda style): each op is first
 * checked against the CPU backend on the same inputs (max relative error printed), then timed (median of
 * repeats) over a sweep of thread-block sizes, and its achieved rate is shown next to the device's peaks
 * measured in the same run: copy bandwidth (a device-to-device copy of 1 GiB, bytes read + written) and
 * GEMM rate (a square linear_forward of 8192).
 *
 * usage: bench_kernels [cuda|cuda-emu] [small|full] [NAME]
 *   small: sizes divided by 256 (what the emulator can run in seconds; it proves the op, not the speed).
 *   NAME:  only the ops whose name contains it (the peaks are always measured).
 * Block sizes are swept through RLDT_CUDA_BLOCK, which every grid-stride kernel of the plugin reads at
 * launch; kernels with a fixed shape (one block per state or row) ignore it. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/backend.h"

#define REPEATS 7

static int cmp_double(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

typedef struct {
    const rldt_backend_t *be;
    size_t n;              /* elements of the elementwise ops */
    int rows, cols;        /* layernorm / linear shape */
    int S, P, D;           /* svgd_field */
    float *a, *b, *c, *d, *e, *f, *g;
    int *grows; /* gather_rows: n / GATHER_WIDTH rows of a, scattered */
} bufs_t;

#define GATHER_WIDTH 24 /* a hopper-sized action chunk, the width the update's gathers move */

static float *filled(const rldt_backend_t *be, size_t n, uint64_t stream)
{
    float *x = be->alloc(sizeof(float) * (n ? n : 1));
    if (!x) {
        fprintf(stderr, "bench_kernels: out of %s memory\n", be->name);
        exit(1);
    }
    be->fill_uniform(x, n, 7, stream, 0);
    return x;
}

static void bufs_init(bufs_t *x, const rldt_backend_t *be, size_t n, int rows, int cols, int S, int P, int D)
{
    *x = (bufs_t){be, n, rows, cols, S, P, D, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t big = n;
    if ((size_t)rows * cols > big) big = (size_t)rows * cols;
    if ((size_t)S * P * D > big) big = (size_t)S * P * D;
    float **all[] = {&x->a, &x->b, &x->c, &x->d, &x->e, &x->f, &x->g};
    for (int i = 0; i < 7; i++) *all[i] = filled(be, big, (uint64_t)i + 1);
    size_t nr = n / GATHER_WIDTH ? n / GATHER_WIDTH : 1;
    int *h = rldt_xmalloc(sizeof(int) * nr);
    for (size_t i = 0; i < nr; i++) h[i] = (int)(i * 7919 % nr); /* a permutation when nr is prime to 7919 */
    x->grows = be->alloc(sizeof(int) * nr);
    be->upload(x->grows, h, sizeof(int) * nr);
    free(h);
}

static void bufs_free(bufs_t *x)
{
    float *all[] = {x->a, x->b, x->c, x->d, x->e, x->f, x->g};
    for (int i = 0; i < 7; i++) x->be->free(all[i]);
    x->be->free(x->grows);
}

static void op_copy(bufs_t *x) { x->be->copy(x->c, x->a, sizeof(float) * x->n); }
static void op_fill(bufs_t *x) { x->be->fill(x->c, 0.5f, x->n); }
static void op_axpy(bufs_t *x) { x->be->axpy(x->c, 0.5f, x->a, x->n); }
static void op_silu(bufs_t *x) { x->be->act_forward(RLDT_ACT_SILU, x->c, x->a, x->n); }
static void op_silu_bwd(bufs_t *x) { x->be->act_backward(RLDT_ACT_SILU, x->c, x->b, x->a, x->n); }
static void op_adam(bufs_t *x)
{
    rldt_adam_t o = rldt_adam_default();
    x->be->adam_step(&o, 1e-4f, 10, x->c, x->a, x->d, x->e, x->n);
}
static void op_normal(bufs_t *x) { x->be->fill_normal(x->c, x->n, 1, 2, 3); }
static void op_sumsq(bufs_t *x) { x->be->fill(x->c, (float)x->be->sumsq(x->a, x->n), 1); }
static void op_sum(bufs_t *x) { x->be->fill(x->c, (float)x->be->sum(x->a, x->n), 1); }
static void op_gather(bufs_t *x) { x->be->gather_rows(x->c, x->a, x->grows, (int)(x->n / GATHER_WIDTH), GATHER_WIDTH, 1); }
static void op_mse(bufs_t *x) { x->be->fill(x->d, (float)x->be->mse(x->a, x->b, x->c, x->n), 1); }
static void op_layernorm(bufs_t *x) { x->be->layernorm_forward(x->c, x->d, x->e, x->a, x->b, x->f, x->rows, x->cols); }
static void op_linear(bufs_t *x)
{
    x->be->linear_forward(x->d, x->c, x->a, x->b, x->f, NULL, RLDT_ACT_RELU, x->rows, x->cols, x->cols);
}
static void op_svgd(bufs_t *x) { x->be->svgd_field(x->c, x->d, x->e, x->a, x->b, x->f, x->S, x->P, x->P, x->D, 1e-3f); }
static void op_actor_grad(bufs_t *x)
{
    double lt, lc;
    size_t N = (size_t)x->S * x->P;
    x->be->fill(x->g, 0.25f, N); /* t = 1/4 */
    x->be->actor_grad(x->c, &lt, &lc, x->a, x->b, x->d, x->e, x->g, (int)N, x->D, 8, 0.5f);
}

typedef struct {
    const char *name;
    void (*run)(bufs_t *);
    int kind;    /* 0: bytes per element of n; 1: svgd/actor (per S*P*D element); 2: layernorm (per rows*cols); 3: GEMM */
    double per;  /* bytes per element (kinds 0-2) */
    int sweep;   /* grid-stride kernel: sweep block sizes */
    size_t out;  /* offsetof the op (skipped when the backend lacks it) */
} op_t;

#define AT(op) offsetof(rldt_backend_t, op)
static const op_t ops[] = {
    {"copy (peak bandwidth)", op_copy, 0, 8, 0, AT(copy)},
    {"fill", op_fill, 0, 4, 1, AT(fill)},
    {"axpy", op_axpy, 0, 12, 1, AT(axpy)},
    {"act_forward silu", op_silu, 0, 8, 1, AT(act_forward)},
    {"act_backward silu", op_silu_bwd, 0, 12, 1, AT(act_backward)},
    {"adam_step", op_adam, 0, 28, 1, AT(adam_step)},
    {"fill_normal", op_normal, 0, 4, 1, AT(fill_normal)},
    {"sumsq", op_sumsq, 0, 4, 0, AT(sumsq)},
    {"sum", op_sum, 0, 4, 0, AT(sum)},
    {"mse (+grad)", op_mse, 0, 12, 0, AT(mse)},
    {"gather_rows (width 24)", op_gather, 0, 8 + 4.0 / GATHER_WIDTH, 1, AT(gather_rows)},
    {"layernorm_forward", op_layernorm, 2, 8, 0, AT(layernorm_forward)},
    {"svgd_field", op_svgd, 1, 16, 0, AT(svgd_field)},
    {"actor_grad", op_actor_grad, 1, 20, 1, AT(actor_grad)},
    {"linear_forward + relu", op_linear, 3, 0, 0, AT(linear_forward)},
};

static int has(const rldt_backend_t *be, size_t off)
{
    void (*fn)(void);
    memcpy(&fn, (const char *)be + off, sizeof fn);
    return fn != NULL;
}

static double median_seconds(const op_t *op, bufs_t *x)
{
    op->run(x);
    x->be->sync();
    long iters = 1;
    for (;;) {
        double t0 = rldt_now();
        for (long i = 0; i < iters; i++) op->run(x);
        x->be->sync();
        double dt = rldt_now() - t0;
        if (dt > 0.05 || iters > (1L << 20)) {
            iters = dt > 0.05 ? iters : iters * 2;
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

static double work(const op_t *op, const bufs_t *x)
{
    switch (op->kind) {
    case 0: return op->per * (double)x->n;
    case 1: return op->per * (double)x->S * x->P * x->D;
    case 2: return op->per * (double)x->rows * x->cols;
    default: return 2.0 * x->rows * (double)x->cols * x->cols;
    }
}

/* Max relative error of the device op's output c against the CPU's on the same inputs. */
static double check(const op_t *op, bufs_t *dev, bufs_t *cpu)
{
    size_t n = op->kind == 0 ? dev->n : op->kind == 1 ? (size_t)dev->S * dev->P * dev->D : (size_t)dev->rows * dev->cols;
    float *h = rldt_xmalloc(sizeof(float) * n);
    float *in[] = {cpu->a, cpu->b, cpu->c, cpu->d, cpu->e, cpu->f, cpu->g};
    float *din[] = {dev->a, dev->b, dev->c, dev->d, dev->e, dev->f, dev->g};
    for (int i = 0; i < 7; i++) { /* the same inputs on both sides */
        dev->be->download(h, din[i], sizeof(float) * n);
        memcpy(in[i], h, sizeof(float) * n);
    }
    op->run(cpu);
    op->run(dev);
    dev->be->download(h, dev->c, sizeof(float) * n);
    double err = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fmax(fabs(cpu->c[i]), 1e-3), e = fabs(h[i] - cpu->c[i]) / s;
        if (!(e <= err)) err = e; /* NaN counts as the worst */
    }
    free(h);
    return err;
}

int main(int argc, char **argv)
{
    const char *want = argc > 1 ? argv[1] : "cuda";
    int small = argc > 2 && strcmp(argv[2], "small") == 0;
    const char *only = argc > 3 ? argv[3] : "";
    if (argc > 2 && !small && strcmp(argv[2], "full") != 0) {
        fprintf(stderr, "bench_kernels: size '%s' is neither small nor full\n", argv[2]);
        return 2;
    }
    char note[512];
    const rldt_backend_t *be = rldt_backend_select(want, note, sizeof note);
    if (!be || be == rldt_backend_cpu()) {
        fprintf(stderr, "bench_kernels: needs a device backend (cuda or cuda-emu): %s\n", be ? note : rldt_error_message());
        return 2;
    }
    printf("# %s\n", note);
    size_t div = small ? 256 : 1;
    size_t n = ((size_t)64 << 20) / div; /* 64M floats: 256 MiB per buffer, well past the L2 */
    int rows = (int)(65536 / div), cols = 512, S = (int)(8192 / (small ? 64 : 1)), P = 8, D = 24;
    bufs_t x, chk, ref; /* x for timing; chk and ref (CPU), 1/64 of the size, for the correctness check */
    bufs_init(&x, be, n, rows, cols, S, P, D);
    bufs_init(&chk, be, n / 64, rows / 64, cols, S / 64 ? S / 64 : 1, P, D);
    bufs_init(&ref, rldt_backend_cpu(), n / 64, rows / 64, cols, S / 64 ? S / 64 : 1, P, D);
    /* peaks */
    double bw = work(&ops[0], &x) / median_seconds(&ops[0], &x);
    bufs_t sq;
    int gn = small ? 256 : 8192;
    bufs_init(&sq, be, 0, gn, gn, 0, 0, 0);
    double gemm = 2.0 * gn * (double)gn * gn / median_seconds(&(op_t){"gemm", op_linear, 3, 0, 0, 0}, &sq);
    bufs_free(&sq);
    printf("# peaks measured here: copy %.1f GB/s (read + write), GEMM %.1f GFLOP/s (fp32 linear_forward %d^3)\n",
           bw * 1e-9, gemm * 1e-9, gn);
    printf("# sizes: elementwise %zu floats; layernorm/linear %d x %d; svgd/actor %d states x %d particles x D %d\n", n,
           rows, cols, S, P, D);
    printf("%-24s %6s %11s %12s %9s %12s\n", "op", "block", "median ms", "rate", "of peak", "max rel err");
    static const int blocks[] = {64, 128, 256, 512, 1024};
    for (size_t i = 1; i < sizeof ops / sizeof ops[0]; i++) {
        const op_t *op = &ops[i];
        if (!strstr(op->name, only)) continue;
        if (!has(be, op->out)) {
            printf("%-24s (no kernel)\n", op->name);
            continue;
        }
        double err = op->kind == 3 || op->run == op_sumsq || op->run == op_mse ? -1 : check(op, &chk, &ref);
        int nb = op->sweep ? 5 : 1;
        for (int k = 0; k < nb; k++) {
            char blk[16] = "-";
            if (op->sweep) {
                snprintf(blk, sizeof blk, "%d", blocks[k]);
                setenv("RLDT_CUDA_BLOCK", blk, 1);
            }
            double t = median_seconds(op, &x), rate = work(op, &x) / t;
            char r[32], e[16] = "-";
            snprintf(r, sizeof r, op->kind == 3 ? "%.1f GFLOP/s" : "%.1f GB/s", rate * 1e-9);
            if (err >= 0 && k == 0) snprintf(e, sizeof e, "%.2g", err);
            printf("%-24s %6s %11.4f %12s %8.0f%% %12s\n", op->name, blk, t * 1e3, r, 100 * rate / (op->kind == 3 ? gemm : bw), e);
        }
        unsetenv("RLDT_CUDA_BLOCK");
    }
    bufs_free(&x);
    bufs_free(&chk);
    bufs_free(&ref);
    return 0;
}
