/* bench_step.c — end-to-end benchmark of one RLDT actor step, one critic step and one sampling pass on a
 * backend, with a time breakdown by phase and the GEMM rate reached next to the backend's GEMM peak measured
 * in the same run (a large square linear_forward). The passes and shapes are bench/step.h's.
 *
 * usage: bench_step [small|medium|hopper] [cpu|cuda|cuda-emu]
 * With `check` as the device the small shape runs on the CPU and on the emulator (or a GPU) and the losses
 * of both are printed side by side (a correctness check, not a timing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/backend.h"
#include "rldt/transport.h"
#include "step.h"

/* One actor step, one critic step and one sampling pass; seconds per phase into t[]. */
static void run_step(step_t *x, double *t)
{
    actor_step(x, t);
    critic_step(x, t);
    sampling_pass(x, t);
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
