/* backend_cpu.c — the CPU backend: the reference implementation of every op in rldt_backend_t. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "rldt/backend.h"
#include "rldt/philox.h"

static void *cpu_alloc(size_t bytes) { return calloc(1, bytes ? bytes : 1); }
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
static void cpu_sync(void) {}

static void cpu_fill_normal(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter)
{
    for (size_t i = 0; i < n; i++) x[i] = rldt_philox_normal_at(seed, stream, counter, i);
}

static void cpu_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter)
{
    for (size_t i = 0; i < n; i++) x[i] = rldt_philox_uniform_at(seed, stream, counter, i);
}

static void cpu_adam_step(const rldt_adam_t *o, float lr, long step, float *p, const float *g, float *m, float *v, size_t n)
{
    float bc1, bc2;
    rldt_adam_bias_corrections(o, step, &bc1, &bc2);
    for (size_t i = 0; i < n; i++) rldt_adam_elem(o, lr, bc1, bc2, &p[i], g[i], &m[i], &v[i]);
}

static void cpu_lerp(float *dst, const float *src, float w, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] += w * (src[i] - dst[i]);
}

static void cpu_scale(float *y, float a, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] *= a;
}

static double cpu_sumsq(const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}

static rldt_backend_t cpu_backend = {
    .abi = RLDT_BACKEND_ABI,
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .sync = cpu_sync,
    .fill_normal = cpu_fill_normal,
    .fill_uniform = cpu_fill_uniform,
    .adam_step = cpu_adam_step,
    .lerp = cpu_lerp,
    .scale = cpu_scale,
    .sumsq = cpu_sumsq,
};

const rldt_backend_t *rldt_backend_cpu(void)
{
    if (!cpu_backend.device[0]) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(cpu_backend.device, sizeof cpu_backend.device, "CPU, %ld cores, OpenBLAS", ncpu);
    }
    return &cpu_backend;
}
