/* bench_encoder.c — throughput of the DrQ image encoder (rldt/encoder.h: 84 x 84 x 3 uint8 frames, 4 conv
 * layers of 32 channels, first stride 2, feature 50) in images per second: the augmented forward alone and
 * forward + backward (parameter gradients, no input gradient: what training an actor or critic costs), at
 * batches 64 and 256, as the median of 5 repeats of a calibrated loop (~0.3 s).
 *
 * Also runs the same on cuda-emu (when its plugin is found) at batch 8 and compares features and gradients
 * with the CPU's: the emulator runs the CUDA kernels on the CPU, so its times say nothing about a GPU and
 * are not printed. On a CUDA device the GPU is timed too.
 * Usage: bench_encoder [threads]  (the CPU backend's threads; default: its own default) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rldt/encoder.h"

#define REPEATS 5
#define REPEAT_SECONDS 0.3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

typedef struct {
    rldt_encoder_t e;
    float *P, *G, *dout;
    uint8_t *img;
    rldt_rng_t aug;
    int B;
} run_t;

static void setup(run_t *r, const rldt_backend_t *be, int B, const float *P_host, const uint8_t *img_host, const float *dout_host)
{
    rldt_encoder_spec_t s = rldt_encoder_drq(84, 84, 3);
    if (rldt_encoder_init(&r->e, &s, B, be)) {
        fprintf(stderr, "bench_encoder: %s\n", rldt_error_message());
        exit(1);
    }
    size_t nx = (size_t)B * 84 * 84 * 3, nout = (size_t)B * s.feature;
    r->B = B;
    r->P = be->alloc(sizeof(float) * r->e.nparams);
    r->G = be->alloc(sizeof(float) * r->e.nparams);
    r->dout = be->alloc(sizeof(float) * nout);
    r->img = be->alloc(nx);
    be->upload(r->P, P_host, sizeof(float) * r->e.nparams);
    be->upload(r->dout, dout_host, sizeof(float) * nout);
    be->upload(r->img, img_host, nx);
    rldt_rng_init(&r->aug, 1, 2);
}

static void teardown(run_t *r)
{
    const rldt_backend_t *be = r->e.be;
    be->free(r->P), be->free(r->G), be->free(r->dout), be->free(r->img);
    rldt_encoder_free(&r->e);
}

static void step(run_t *r, int backward)
{
    rldt_encoder_forward(&r->e, r->P, r->img, r->B, &r->aug);
    if (backward) rldt_encoder_backward(&r->e, r->P, r->G, r->dout, NULL);
}

/* Images per second: the median over REPEATS of a loop calibrated to ~REPEAT_SECONDS. */
static double throughput(run_t *r, int backward)
{
    const rldt_backend_t *be = r->e.be;
    step(r, backward);
    be->sync();
    double t0 = now();
    step(r, backward);
    be->sync();
    int iters = (int)(REPEAT_SECONDS / fmax(now() - t0, 1e-6)) + 1;
    double rate[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        t0 = now();
        for (int i = 0; i < iters; i++) step(r, backward);
        be->sync();
        rate[k] = (double)iters * r->B / (now() - t0);
    }
    qsort(rate, REPEATS, sizeof rate[0], cmp_double);
    return rate[REPEATS / 2];
}

/* Largest |a - b| / max(|a|, |b|, rms(b)) of n floats downloaded from `be` against host b. */
static double compare(const rldt_backend_t *be, const float *dev, const float *b, size_t n)
{
    float *a = malloc(sizeof(float) * n);
    be->download(a, dev, sizeof(float) * n);
    double ss = 0, worst = 0;
    for (size_t i = 0; i < n; i++) ss += (double)b[i] * b[i];
    double rms = sqrt(ss / (double)n);
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / fmax(fmax(fabs(a[i]), fabs(b[i])), fmax(rms, 1e-30));
        worst = isfinite(a[i]) ? fmax(worst, e) : INFINITY;
    }
    free(a);
    return worst;
}

/* The device's features and gradients against the CPU's for one augmented step at batch B. */
static void check(const rldt_backend_t *dev, int B, const float *P, const uint8_t *img, const float *dout)
{
    run_t c, d;
    setup(&c, rldt_backend_cpu(), B, P, img, dout);
    setup(&d, dev, B, P, img, dout);
    step(&c, 1);
    step(&d, 1);
    size_t nout = (size_t)B * c.e.spec.feature;
    printf("%s vs cpu at batch %d: features max rel err %.2e, gradients %.2e\n", dev->name, B,
           compare(dev, d.e.out, c.e.out, nout), compare(dev, d.G, c.G, c.e.nparams));
    teardown(&c);
    teardown(&d);
}

int main(int argc, char **argv)
{
    if (argc > 1) rldt_backend_cpu_threads(atoi(argv[1]));
    rldt_encoder_spec_t s = rldt_encoder_drq(84, 84, 3);
    size_t np = rldt_encoder_param_count(&s), nx = (size_t)256 * 84 * 84 * 3;
    float *P = malloc(sizeof(float) * np), *dout = malloc(sizeof(float) * 256 * s.feature);
    uint8_t *img = malloc(nx);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 3, 4);
    rldt_encoder_t tmp;
    if (rldt_encoder_init(&tmp, &s, 1, rldt_backend_cpu())) return 1;
    rldt_encoder_init_params(&tmp, P, &rng);
    rldt_encoder_free(&tmp);
    for (size_t i = 0; i < nx; i++) img[i] = (uint8_t)rldt_rng_below(&rng, 256);
    for (int i = 0; i < 256 * s.feature; i++) dout[i] = rldt_rng_uniform(&rng) - 0.5f;
    printf("DrQ encoder 84x84x3, 4 x conv3x3(32), first stride 2, feature 50: %zu parameters\n", np);
    char why[256];
    const rldt_backend_t *bes[2] = {rldt_backend_cpu(), rldt_backend_cuda(why, sizeof why)};
    for (int k = 0; k < 2 && bes[k]; k++) {
        printf("%s (%s)\n", bes[k]->name, bes[k]->device);
        for (int B = 64; B <= 256; B *= 4) {
            run_t r;
            setup(&r, bes[k], B, P, img, dout);
            double f = throughput(&r, 0), fb = throughput(&r, 1);
            printf("  batch %3d: forward %8.0f images/s, forward+backward %8.0f images/s\n", B, f, fb);
            teardown(&r);
        }
    }
    if (bes[1]) check(bes[1], 64, P, img, dout);
    const rldt_backend_t *emu = rldt_backend_cuda_emu(why, sizeof why);
    if (emu)
        check(emu, 8, P, img, dout);
    else
        printf("cuda-emu: %s\n", why);
    free(P), free(dout), free(img);
    return 0;
}
