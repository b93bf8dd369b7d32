/* bench_render.c — headless rendering throughput (host/envs/mujoco/render.c).
 *
 * 1. One renderer drawing the same hopper state over and over: frames per second at 84x84 (the *_rgb
 *    tasks' size) and, for scale, 256x256; the cost of mjv_updateScene + mjr_render + mjr_readPixels + the
 *    row flip, on the calling thread.
 * 2. The *_rgb tasks in a vector env of 16 envs, chunk 1, random actions: env steps per second at 1 and 2
 *    threads, each step rendering one 84x84 frame per env (one GL context per thread), beside the same
 *    task without images; frames/s = steps/s. Beside them the CPU time of all threads per step: on a busy
 *    machine the 2-thread rate cannot rise, but equal CPU per step at 1 and 2 threads shows no contention.
 * Each number is the median of REPEATS timed repeats of ~REPEAT_SECONDS. Prints the GL library in use
 * (MUJOCO_GL: osmesa or egl) and LP_NUM_THREADS (Mesa's rasteriser threads; rldt sets 0 unless given).
 * Usage: bench_render (skips, saying why, without MuJoCo, its models or a GL library) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rldt/env.h"

#define REPEATS 5
#define REPEAT_SECONDS 0.5
#define N_ENVS 16

static int cmp_double(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Median rate of work(ctx, iters) in iterations per second; *cpu (if not NULL) gets the median CPU
 * seconds of all the process's threads per iteration. */
static double rate(void (*work)(void *ctx, long iters), void *ctx, double *cpu)
{
    long iters = 4;
    for (;;) { /* calibrate: iterations for ~REPEAT_SECONDS */
        double t0 = rldt_now();
        work(ctx, iters);
        double dt = rldt_now() - t0;
        if (dt > 0.1) {
            iters = (long)((double)iters * REPEAT_SECONDS / dt) + 1;
            break;
        }
        iters *= 4;
    }
    double r[REPEATS], c[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        double t0 = rldt_now(), c0 = cpu_seconds();
        work(ctx, iters);
        r[k] = (double)iters / (rldt_now() - t0);
        c[k] = (cpu_seconds() - c0) / (double)iters;
    }
    if (cpu) *cpu = median(c, REPEATS);
    return median(r, REPEATS);
}

// ------------------------------------------------------------------------------------------------
// 1. one renderer

typedef struct {
    rldt_renderer_t *r;
    struct mjData_ *d;
    uint8_t *rgb;
} draw_job_t;

static void draw_frames(void *ctx, long iters)
{
    draw_job_t *j = ctx;
    for (long i = 0; i < iters; i++) rldt_renderer_draw(j->r, j->d, j->rgb);
}

static int one_renderer(void)
{
    rldt_env_t env;
    if (rldt_env_init(&env, rldt_env_find("hopper"), 0)) {
        printf("skipped: %s\n", rldt_error_message());
        return 1;
    }
    float obs[11];
    rldt_env_reset(&env, 1, obs);
    const struct mjModel_ *m;
    struct mjData_ *d = rldt_env_mj_scene(&env, &m);
    static const int sizes[] = {84, 256};
    for (int k = 0; k < 2; k++) {
        rldt_render_opts_t o = {.width = sizes[k], .height = sizes[k], .camera = "track"};
        draw_job_t j = {.d = d, .rgb = rldt_xmalloc((size_t)sizes[k] * (size_t)sizes[k] * 3)};
        if (rldt_renderer_create(&j.r, m, &o)) {
            printf("skipped: %s\n", rldt_error_message());
            free(j.rgb);
            rldt_env_free(&env);
            return 1;
        }
        if (k == 0) printf("GL: %s, LP_NUM_THREADS=%s\n", rldt_render_gl(), getenv("LP_NUM_THREADS") ? getenv("LP_NUM_THREADS") : "(unset)");
        printf("one renderer, hopper, camera track, %dx%d: %.0f frames/s\n", sizes[k], sizes[k], rate(draw_frames, &j, NULL));
        rldt_renderer_free(j.r);
        free(j.rgb);
    }
    rldt_env_free(&env);
    return 0;
}

// ------------------------------------------------------------------------------------------------
// 2. vector envs with images

typedef struct {
    rldt_vecenv_t *v;
    rldt_vec_out_t out;
    float *actions;
} step_job_t;

static void step_envs(void *ctx, long iters)
{
    step_job_t *j = ctx;
    for (long i = 0; i < iters; i++) rldt_vecenv_step(j->v, j->actions, 1, &j->out);
}

/* Env steps/s of N_ENVS envs of `task` on `threads` threads, and in *cpu_ms the CPU milliseconds of all
 * threads per env step; -1 when it cannot run here. */
static double env_rate(const char *task, int threads, double *cpu_ms)
{
    const rldt_env_spec_t *sp = rldt_env_find(task);
    step_job_t j;
    if (!sp || rldt_vecenv_create(&j.v, sp, N_ENVS, 0, 1, 0, threads)) return -1.0;
    j.actions = rldt_xmalloc((size_t)N_ENVS * (size_t)sp->act_dim * sizeof(float));
    rldt_rng_t rng;
    rldt_rng_init(&rng, 7, 0);
    for (int i = 0; i < N_ENVS * sp->act_dim; i++) j.actions[i] = 2.0f * rldt_rng_uniform(&rng) - 1.0f;
    rldt_vecenv_out_alloc(j.v, &j.out);
    double r = (double)N_ENVS * rate(step_envs, &j, cpu_ms);
    *cpu_ms *= 1e3 / N_ENVS;
    rldt_vecenv_out_free(&j.out);
    free(j.actions);
    rldt_vecenv_destroy(j.v);
    return r;
}

int main(void)
{
    printf("bench_render: median of %d repeats of ~%.1f s\n", REPEATS, REPEAT_SECONDS);
    if (one_renderer()) return 0;
    printf("\nvector env of %d envs, chunk 1: env steps/s (with images: one %dx%d frame per step)\n", N_ENVS, RLDT_RENDER_DEFAULT_SIZE,
           RLDT_RENDER_DEFAULT_SIZE);
    printf("(and CPU ms of all threads per env step: equal at 1 and 2 threads when the threads do not contend)\n");
    printf("%-16s %12s %12s %12s %12s\n", "task", "1 thread", "2 threads", "cpu ms 1thr", "cpu ms 2thr");
    for (int i = 0; i < rldt_env_count(); i++) {
        const rldt_env_spec_t *sp = rldt_env_spec_at(i);
        if (!sp->image_h) continue;
        const char *base = "";
        for (int k = 0; k < rldt_env_count(); k++) /* the same task without images */
            if (rldt_env_spec_at(k)->ops == sp->ops && !rldt_env_spec_at(k)->image_h) base = rldt_env_spec_at(k)->name;
        const char *names[2] = {sp->name, base};
        for (int k = 0; k < 2; k++) {
            double c1, c2, one = env_rate(names[k], 1, &c1), two = env_rate(names[k], 2, &c2);
            if (one < 0 || two < 0)
                printf("%-16s skipped: %s\n", names[k], rldt_error_message());
            else
                printf("%-16s %12.0f %12.0f %12.3f %12.3f\n", names[k], one, two, c1, c2);
        }
    }
    return 0;
}
