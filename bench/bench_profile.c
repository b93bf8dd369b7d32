/* bench_profile.c — an op-level profile of RLDT's three heavy passes on the CPU backend: one actor step,
 * one critic step and one policy sampling pass, with the share of their time spent inside GEMM calls and
 * the GEMM peak of this machine measured in the same run.
 *
 * The passes and shapes are bench/step.h's (the modules' own code: rldt/policy.h, rldt/critic.h,
 * rldt/optim.h and backend ops, in the order host/rl/finetune_update.c runs them), on the CPU backend.
 *  - Every backend op is timed through a copy of the backend's table whose entries wrap the real ones.
 *  - Every cblas_sgemm is timed by the wrapper below: this binary defines cblas_sgemm, so the library's
 *    calls bind to it, and it calls OpenBLAS's through dlsym(RTLD_NEXT). A call counts its wall time times
 *    the OpenBLAS threads it ran with (core-seconds), so GEMMs split over the backend's own threads and
 *    GEMMs split by OpenBLAS count alike.
 *  - GEMM share = GEMM core-seconds / (backend threads x the pass's wall time).
 *  - ideal = the pass's GEMM flops at the peak; peak = the better of a 2048^3 sgemm on OpenBLAS's threads
 *    and the same GEMM as a backend linear layer. "x ideal" = wall time / ideal (the target: 1.15).
 *  - CPU time (user, system) per wall second shows threads that spin.
 * Times are the median over the repeats of each pass; the op table averages them.
 *
 * usage: bench_profile [small|medium|hopper|all] [repeats] [pass|all] [threads]
 * (defaults: small, 5, every pass — actor_step, critic_step, sampling —, and OpenBLAS's default thread count,
 * as run.blas_threads = 0 gives). One line per pass starts "RESULT" for scripts (bench/ab.sh). */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rldt/backend.h"
#include "step.h"

// ---------------------------------------------------------------------------------------------------
// GEMM and op timers

enum { MAX_OPS = 32 };

static atomic_int cur_op;                               /* the backend op running (index into op_names) */
static atomic_uint_fast64_t gemm_ns[MAX_OPS], gemm_flops[MAX_OPS], op_ns[MAX_OPS], op_calls[MAX_OPS];
static atomic_bool counting;
static const char *op_names[MAX_OPS] = {"(outside ops)"};
static int nops = 1;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

typedef void (*sgemm_fn)(OPENBLAS_CONST enum CBLAS_ORDER, OPENBLAS_CONST enum CBLAS_TRANSPOSE,
                         OPENBLAS_CONST enum CBLAS_TRANSPOSE, OPENBLAS_CONST blasint, OPENBLAS_CONST blasint,
                         OPENBLAS_CONST blasint, OPENBLAS_CONST float, OPENBLAS_CONST float *, OPENBLAS_CONST blasint,
                         OPENBLAS_CONST float *, OPENBLAS_CONST blasint, OPENBLAS_CONST float, float *,
                         OPENBLAS_CONST blasint);

void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint M, OPENBLAS_CONST blasint N,
                 OPENBLAS_CONST blasint K, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *A,
                 OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *B, OPENBLAS_CONST blasint ldb,
                 OPENBLAS_CONST float beta, float *C, OPENBLAS_CONST blasint ldc)
{
    static _Atomic(sgemm_fn) real;
    sgemm_fn f = atomic_load(&real);
    if (!f) {
        f = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
        atomic_store(&real, f);
    }
    uint64_t t0 = now_ns();
    f(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (!atomic_load_explicit(&counting, memory_order_relaxed)) return;
    uint64_t dt = now_ns() - t0;
    int op = atomic_load_explicit(&cur_op, memory_order_relaxed);
    atomic_fetch_add(&gemm_ns[op], dt * (uint64_t)openblas_get_num_threads());
    atomic_fetch_add(&gemm_flops[op], 2ull * (uint64_t)M * (uint64_t)N * (uint64_t)K);
}

/* The real CPU backend and the timed copy of its table. */
static const rldt_backend_t *real;
static rldt_backend_t timed;

static uint64_t op_enter(int op)
{
    atomic_store_explicit(&cur_op, op, memory_order_relaxed);
    return now_ns();
}

static void op_leave(int op, uint64_t t0)
{
    atomic_fetch_add(&op_ns[op], now_ns() - t0);
    atomic_fetch_add(&op_calls[op], 1);
    atomic_store_explicit(&cur_op, 0, memory_order_relaxed);
}

/* One wrapper per op: W(name, return type, parameters, arguments). */
#define OPS(W)                                                                                             \
    W(upload, void, (void *d, const void *s, size_t n), (d, s, n))                                         \
    W(download, void, (void *d, const void *s, size_t n), (d, s, n))                                       \
    W(copy, void, (void *d, const void *s, size_t n), (d, s, n))                                           \
    W(fill_normal, void, (float *x, size_t n, uint64_t s, uint64_t st, uint64_t c), (x, n, s, st, c))      \
    W(adam_step, void, (const rldt_adam_t *o, float lr, long k, float *p, const float *g, float *m, float *v, size_t n), \
      (o, lr, k, p, g, m, v, n))                                                                           \
    W(lerp, void, (float *d, const float *s, float w, size_t n), (d, s, w, n))                             \
    W(scale, void, (float *y, float a, size_t n), (y, a, n))                                               \
    W(sumsq, double, (const float *x, size_t n), (x, n))                                                   \
    W(linear_forward, void, (float *pre, float *post, const float *in, const float *Wt, const float *b, const float *res, \
                             rldt_act_t act, int B, int ni, int no), (pre, post, in, Wt, b, res, act, B, ni, no)) \
    W(linear_backward, void, (float *din, float *dW, float *db, float *dpre, const float *dpost, const float *dres,   \
                              const float *pre, rldt_act_t act, const float *in, const float *Wt, int B, int ni, int no), \
      (din, dW, db, dpre, dpost, dres, pre, act, in, Wt, B, ni, no))                                       \
    W(axpy, void, (float *y, float a, const float *x, size_t n), (y, a, x, n))                             \
    W(axpy_cols, void, (float *y, int ly, const float *x, int lx, float a, int nc, int B), (y, ly, x, lx, a, nc, B)) \
    W(minimum, void, (float *y, const float *x, size_t n), (y, x, n))                                      \
    W(fill, void, (float *x, float v, size_t n), (x, v, n))                                                \
    W(copy_cols, void, (float *d, int ld, int doff, const float *s, int ls, int soff, int nc, int B),      \
      (d, ld, doff, s, ls, soff, nc, B))                                                                   \
    W(flow_pair, void, (float *xt, float *tg, const float *a, const float *z, const float *t, int B, int D), \
      (xt, tg, a, z, t, B, D))                                                                             \
    W(chain_select, void, (float *o, const float *c, const int *k, int N, int D), (o, c, k, N, D))         \
    W(expected_target, void, (float *o, const float *x, const float *v, const float *t, int N, int D), (o, x, v, t, N, D)) \
    W(svgd_field, void, (float *phi, float *h, float *al, const float *x, const float *a, const float *g, int B, int Q, \
                         int P, int D, float tau), (phi, h, al, x, a, g, B, Q, P, D, tau))                 \
    W(actor_grad, void, (float *dv, double *lt, double *lc, const float *v, const float *phi, const float *a,        \
                         const float *xk, const float *t, int N, int D, int K, float c), (dv, lt, lc, v, phi, a, xk, t, N, D, K, c)) \
    W(time_features, void, (float *o, const float *t, int B, int dim), (o, t, B, dim))                     \
    W(mse, double, (const float *p, const float *t, float *g, size_t n), (p, t, g, n))

#define OP_ENUM(name, ret, params, args) OP_##name,
enum { OP_NONE = 0, OPS(OP_ENUM) OP_COUNT };
#undef OP_ENUM

#define RET_void(call) call
#define RET_double(call) double r_ = call
#define RETURN_void
#define RETURN_double return r_;
#define WRAP(name, ret, params, args)                                                                      \
    static ret timed_##name params                                                                         \
    {                                                                                                      \
        uint64_t t0_ = op_enter(OP_##name);                                                                \
        RET_##ret(real->name args);                                                                        \
        op_leave(OP_##name, t0_);                                                                          \
        RETURN_##ret                                                                                       \
    }
OPS(WRAP)
#undef WRAP

static const rldt_backend_t *timed_backend(void)
{
    real = rldt_backend_cpu();
    timed = *real;
#define INSTALL(name, ret, params, args)                                                                   \
    timed.name = timed_##name;                                                                             \
    op_names[OP_##name] = #name;
    OPS(INSTALL)
#undef INSTALL
    nops = OP_COUNT;
    return &timed;
}

static void reset_counters(void)
{
    for (int i = 0; i < MAX_OPS; i++) gemm_ns[i] = gemm_flops[i] = op_ns[i] = op_calls[i] = 0;
}

// ---------------------------------------------------------------------------------------------------
// measuring

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double cpu_seconds(double *sys)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    *sys = (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec;
}

/* The best of a 2048^3 sgemm on OpenBLAS's own threads and as a backend linear layer (identity, the
 * backend's threads), in GFLOP/s. */
static double gemm_peak(const rldt_backend_t *be, int threads, double *blas, double *layer)
{
    enum { n = 2048 };
    float *A = dev_uniform(be, (size_t)n * n, 21, -1, 1), *Bm = dev_uniform(be, (size_t)n * n, 22, -1, 1);
    float *C = be->alloc(sizeof(float) * n * n), *bias = be->alloc(sizeof(float) * n);
    int saved = openblas_get_num_threads();
    double best[2] = {0, 0};
    for (int way = 0; way < 2; way++) {
        openblas_set_num_threads(way == 0 ? threads : saved);
        for (int r = 0; r < 4; r++) {
            double t0 = rldt_now();
            if (way == 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, A, n, Bm, n, 0.0f, C, n);
            else
                be->linear_forward(C, NULL, A, Bm, bias, NULL, RLDT_ACT_IDENTITY, n, n, n);
            double g = 2.0 * n * n * n / (rldt_now() - t0) * 1e-9;
            if (r && g > best[way]) best[way] = g; /* the first call warms up */
        }
    }
    openblas_set_num_threads(saved);
    be->free(A), be->free(Bm), be->free(C), be->free(bias);
    *blas = best[0], *layer = best[1];
    return best[0] > best[1] ? best[0] : best[1];
}

static const char *only_pass; /* NULL: every pass */

static void profile(step_t *x, const char *pass, void (*run)(step_t *, double *), int repeats, int threads, double peak)
{
    if (only_pass && strcmp(only_pass, pass)) return;
    double phases[N_PH];
    const char *shape = x->s->name;
    run(x, phases); /* warm-up: first-touch of the workspaces, thread start */
    reset_counters();
    atomic_store(&counting, true);
    double wall[64], sys0, user0 = cpu_seconds(&sys0), total = 0;
    for (int r = 0; r < repeats; r++) {
        double t0 = rldt_now();
        run(x, phases);
        wall[r] = rldt_now() - t0;
        total += wall[r];
    }
    double sys1, user1 = cpu_seconds(&sys1);
    atomic_store(&counting, false);
    qsort(wall, (size_t)repeats, sizeof wall[0], cmp_double);
    double med = wall[repeats / 2], gns = 0, flops = 0;
    for (int i = 0; i < nops; i++) gns += (double)gemm_ns[i], flops += (double)gemm_flops[i];
    gns *= 1e-9 / repeats, flops /= repeats;
    double mean = total / repeats, share = gns / (threads * mean), ideal = flops / (peak * 1e9);
    printf("\n%s %s: median %.1f ms over %d (min %.1f, max %.1f)\n", shape, pass, med * 1e3, repeats, wall[0] * 1e3,
           wall[repeats - 1] * 1e3);
    printf("  %-18s %7s %10s %7s %10s %9s %9s\n", "op", "calls", "ms/pass", "% pass", "GEMM ms", "GFLOP", "GFLOP/s");
    double accounted = 0;
    for (int i = 1; i < nops; i++) {
        if (!op_calls[i]) continue;
        double ms = (double)op_ns[i] * 1e-6 / repeats, gms = (double)gemm_ns[i] * 1e-6 / repeats / threads;
        double gf = (double)gemm_flops[i] / repeats * 1e-9;
        accounted += ms;
        char rate[16] = "-";
        if (gf > 0) snprintf(rate, sizeof rate, "%.1f", gf / (gms * 1e-3));
        printf("  %-18s %7.0f %10.2f %6.1f%% %10.2f %9.2f %9s\n", op_names[i], (double)op_calls[i] / repeats, ms,
               100.0 * ms / (mean * 1e3), gms, gf, rate);
    }
    printf("  %-18s %7s %10.2f %6.1f%%\n", "(between ops)", "", mean * 1e3 - accounted, 100.0 * (1.0 - accounted / (mean * 1e3)));
    printf("  GEMM: %.1f%% of %d threads' time, %.2f GFLOP at %.1f GFLOP/s inside the calls; peak %.1f GFLOP/s: "
           "pass = %.2f x ideal\n",
           100.0 * share, threads, flops * 1e-9, flops / (gns / threads) * 1e-9, peak, mean / ideal);
    printf("  CPU time per wall second: user %.2f, system %.2f\n", (user1 - user0) / total, (sys1 - sys0) / total);
    printf("RESULT %s %s median_ms %.2f gemm_share %.4f x_ideal %.3f sys_per_wall %.3f cpu_per_wall %.3f threads %d "
           "peak %.1f\n",
           shape, pass, med * 1e3, share, mean / ideal, (sys1 - sys0) / total, (user1 - user0 + sys1 - sys0) / total,
           threads, peak);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "small";
    int repeats = argc > 2 ? atoi(argv[2]) : 5, known = !strcmp(which, "all");
    only_pass = argc > 3 && strcmp(argv[3], "all") ? argv[3] : NULL;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) known |= !strcmp(which, shapes[s].name);
    int threads = argc > 4 ? atoi(argv[4]) : openblas_get_num_threads(); /* before the backend takes OpenBLAS over */
    if (repeats < 1 || repeats > 64 || !known || threads < 1) {
        fprintf(stderr, "usage: bench_profile [small|medium|hopper|all] [repeats 1..64] [actor_step|critic_step|sampling|all] "
                        "[threads]\n");
        return 2;
    }
    const rldt_backend_t *be = timed_backend();
    rldt_backend_cpu_threads(threads);
    double blas, layer, peak = gemm_peak(real, threads, &blas, &layer);
    printf("bench_profile: %s, %d threads; %s (core %s)\n", real->device, threads, openblas_get_config(),
           openblas_get_corename());
    printf("GEMM peak (2048^3): %.1f GFLOP/s on OpenBLAS's threads, %.1f as a backend linear layer\n", blas, layer);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (strcmp(which, shapes[s].name) && strcmp(which, "all")) continue;
        step_t x;
        step_init(&x, be, &shapes[s]);
        profile(&x, "actor_step", actor_step, repeats, threads, peak);
        profile(&x, "critic_step", critic_step, repeats, threads, peak);
        profile(&x, "sampling", sampling_pass, repeats, threads, peak);
        step_free(&x);
    }
    return 0;
}
