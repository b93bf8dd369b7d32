/* cpu_parallel.c — the CPU backend's threads (see cpu_parallel.h) and the check of OpenBLAS's kernels. */
#define _GNU_SOURCE
#include "cpu_parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>

#include <cblas.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "../envs/env_pool.h"
#include "rldt/backend.h"
#include "rldt/log.h"

/* Elementwise loops shorter than this run inline: a hand-off to the pool costs a few microseconds. */
#define RANGE_MIN ((size_t)1 << 15)

static int nthreads;           /* 0 until the first op: then OpenBLAS's default */
static rldt_env_pool_t *pool;  /* started by the first op that splits */
static rldt_env_pool_t *forked; /* a pool whose workers a fork left behind (kept only to stay reachable) */

/* A forked child has the pool's memory but none of its threads: start a new one there if needed. */
static void forget_pool_in_child(void)
{
    forked = pool;
    pool = NULL;
}

/* Takes the thread count from OpenBLAS once, then keeps OpenBLAS on the calling thread for good. */
static void take_threads(int n)
{
    if (n <= 0 && nthreads) return;
    if (n <= 0) n = openblas_get_num_threads();
    n = n < 1 ? 1 : n > RLDT_CPU_MAX_THREADS ? RLDT_CPU_MAX_THREADS : n;
    if (pool && n != nthreads) {
        rldt_env_pool_destroy(pool);
        pool = NULL;
    }
    nthreads = n;
    openblas_set_num_threads(1);
}

void rldt_backend_cpu_threads(int n) { take_threads(n); }

int rldt_cpu_threads(void)
{
    take_threads(0);
    return nthreads;
}

typedef struct {
    rldt_cpu_part_fn fn;
    void *ctx;
    int parts;
} parts_job_t;

/* Every op runs with denormals flushed to zero (inputs and results, as GPUs' fast paths and most CPU
 * training stacks do): on x86 each denormal operand or result costs a microcode assist, and late in a long
 * fine-tune tiny gradients and moments made the same update 3.4x slower (bench/RESULTS.md, "Denormals").
 * The thread's own mode comes back when the op ends, so the caller's code (physics, I/O) is unaffected. */
static unsigned flush_denormals(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u); /* FTZ (bit 15) and DAZ (bit 6) */
    return old;
#else
    return 0;
#endif
}

static void restore_mode(unsigned old)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(old);
#else
    (void)old;
#endif
}

static void run_parts(void *ctx, int worker, int begin, int end)
{
    const parts_job_t *j = ctx;
    unsigned mode = flush_denormals();
    for (int p = begin; p < end; p++) j->fn(j->ctx, p, j->parts);
    restore_mode(mode);
}

int rldt_cpu_parallel(rldt_cpu_part_fn fn, void *ctx, int parts)
{
    static atomic_flag busy = ATOMIC_FLAG_INIT;
    static bool atfork;
    int t = rldt_cpu_threads();
    parts = parts < 1 ? 1 : parts > t ? t : parts;
    /* an op called while another thread's op holds the pool runs inline */
    bool held = parts > 1 && !atomic_flag_test_and_set_explicit(&busy, memory_order_acquire);
    if (held && !pool) {
        if (!atfork) atfork = pthread_atfork(NULL, NULL, forget_pool_in_child) == 0;
        if (rldt_env_pool_create(&pool, t)) { /* no threads to be had: run inline from now on */
            pool = NULL;
            nthreads = 1;
            held = false;
            atomic_flag_clear_explicit(&busy, memory_order_release);
        }
    }
    if (!held) {
        unsigned mode = flush_denormals();
        fn(ctx, 0, 1);
        restore_mode(mode);
        return 1;
    }
    parts_job_t job = {fn, ctx, parts};
    rldt_env_pool_run(pool, run_parts, &job, parts);
    atomic_flag_clear_explicit(&busy, memory_order_release);
    return parts;
}

typedef struct {
    rldt_cpu_range_fn body;
    const void *args;
    size_t n;
} range_job_t;

static void run_range(void *ctx, int p, int parts)
{
    const range_job_t *j = ctx;
    j->body(j->args, rldt_cpu_split(j->n, p, parts, 16), rldt_cpu_split(j->n, p + 1, parts, 16), p);
}

int rldt_cpu_range(rldt_cpu_range_fn body, const void *args, size_t n)
{
    range_job_t job = {body, args, n};
    return rldt_cpu_parallel(run_range, &job, n < RANGE_MIN ? 1 : rldt_cpu_threads());
}

const char *rldt_cpu_blas_advice(const char *core, bool avx2_fma, bool avx512)
{
    /* OpenBLAS's x86 cores without AVX2 kernels: its fallbacks for models it does not know */
    static const char *const old[] = {"Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2",
                                      "Penryn", "Dunnington", "Nehalem", "Sandybridge"};
    if (!core) return NULL;
    bool is_old = false;
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) is_old |= strcasecmp(core, old[i]) == 0;
    if (!is_old) return NULL;
    return avx512 ? "SkylakeX" : avx2_fma ? "Haswell" : NULL;
}

void rldt_cpu_blas_check(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (getenv("OPENBLAS_CORETYPE")) return;
    __builtin_cpu_init();
    bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    const char *core = openblas_get_corename(), *advice = rldt_cpu_blas_advice(core, avx2_fma, avx512);
    if (advice)
        rldt_warn("OpenBLAS runs its %s kernels on this CPU, which has %s: the CPU backend's GEMMs run several times "
                  "slower than they can (it does not know this CPU model); export OPENBLAS_CORETYPE=%s before running rldt",
                  core, avx512 ? "AVX-512" : "AVX2", advice);
#endif
}
