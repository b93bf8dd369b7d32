/* test_emu.c — the kernel emulator (kernels/emu/, backend "cuda-emu"): the backend's ops against the CPU under
 * every thread order, and the emulator's own semantics through the test kernels of tests/emu_test_kernels.cu
 * (a test-only plugin, $RLDT_EMU_TEST_LIB): a reduction missing its barrier gives order-dependent results
 * while the correct one does not, warp shuffles and votes, barriers with exited threads, deadlock
 * detection, launch checks, dynamic shared memory, atomics, the cuBLAS mapping, and (under SANITIZE=1)
 * AddressSanitizer reporting an out-of-bounds read inside a kernel. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/backend.h"

static const char *const orders[] = {"forward", "reverse", "random:1", "random:12345"};
#define NORDERS (sizeof orders / sizeof orders[0])

static const rldt_backend_t *emu_or_skip(void)
{
    char why[256];
    const rldt_backend_t *be = rldt_backend_cuda_emu(why, sizeof why);
    if (!be) cr_skip_test("skipped: no cuda-emu backend (%s)", why);
    return be;
}

/* A function of the test-kernel plugin. */
static void *test_fn(const char *name)
{
    static void *h;
    const char *path = getenv("RLDT_EMU_TEST_LIB");
    if (!h && (!path || !path[0])) cr_skip_test("skipped: RLDT_EMU_TEST_LIB is not set (make test sets it)");
    if (!h) h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "cannot load %s: %s", path, dlerror());
    void *f = dlsym(h, name);
    cr_assert_not_null(f, "%s lacks %s", path, name);
    return f;
}
#define TEST_FN(type, name) ((type)test_fn(#name))

/* Runs fn(arg) in a child process; returns its wait status with its stderr in err. */
static int run_child(void (*fn)(void *), void *arg, char *err, size_t len)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        fn(arg);
        _exit(0);
    }
    close(fd[1]);
    size_t used = 0;
    ssize_t r;
    while (used < len - 1 && (r = read(fd[0], err + used, len - 1 - used)) > 0) used += (size_t)r;
    err[used] = '\0';
    char sink[4096];
    while (read(fd[0], sink, sizeof sink) > 0) {} /* the rest, so that the child never blocks on the pipe */
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

/* --------------------------------------------------------------------------------------------------- */
/* the backend */

Test(emu, backend_identity_and_selection)
{
    const rldt_backend_t *emu = emu_or_skip();
    cr_assert_str_eq(emu->name, "cuda-emu");
    cr_assert(strstr(emu->device, "emulated"), "device: %s", emu->device);
    cr_assert_eq(emu->abi, RLDT_BACKEND_ABI);
    char note[512];
    const rldt_backend_t *sel = rldt_backend_select("cuda-emu", note, sizeof note);
    if (rldt_backend_missing_op(emu)) {
        cr_assert_null(sel);
        cr_assert(strstr(rldt_error_message(), "cuda-emu"), "%s", rldt_error_message());
    } else {
        cr_assert_eq(sel, emu);
        cr_assert(strstr(note, "cuda-emu"), "note: %s", note);
    }
    cr_assert_neq(rldt_backend_select("auto", note, sizeof note), emu, "auto must never pick the emulator");
}

/* The optimiser, RNG and reduction ops against the CPU under every thread order; the reductions give the
 * same bits under every order (a fixed tree). */
Test(emu, ops_match_cpu_under_every_order, .timeout = 120)
{
    const rldt_backend_t *emu = emu_or_skip(), *cpu = rldt_backend_cpu();
    size_t n = 300007; /* more than one grid-stride pass of the reductions, and a partial tail */
    float *x = test_random_array(n, -1, 1, 31), *g = test_random_array(n, -1, 1, 32), *h = malloc(sizeof(float) * n);
    float *ref = malloc(sizeof(float) * n), *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    float *X = emu->alloc(sizeof(float) * n), *G = emu->alloc(sizeof(float) * n), *D = emu->alloc(sizeof(float) * n);
    float *M = emu->alloc(sizeof(float) * n), *V = emu->alloc(sizeof(float) * n);
    double first_sumsq = 0;
    rldt_adam_t o = rldt_adam_default();
    for (size_t k = 0; k < NORDERS; k++) {
        setenv("RLDT_EMU_ORDER", orders[k], 1);
        cpu->fill_normal(ref, n, 9, 2, 77);
        emu->fill_normal(D, n, 9, 2, 77);
        emu->download(h, D, sizeof(float) * n);
        cr_assert_leq(test_max_rel_err(h, ref, n, 1e-3), 1e-5, "fill_normal under %s", orders[k]);

        emu->upload(X, x, sizeof(float) * n);
        emu->upload(G, g, sizeof(float) * n);
        memcpy(ref, x, sizeof(float) * n);
        cpu->lerp(ref, g, 0.3f, n);
        emu->lerp(X, G, 0.3f, n);
        cpu->scale(ref, -1.5f, n);
        emu->scale(X, -1.5f, n);
        emu->download(h, X, sizeof(float) * n);
        cr_assert_leq(test_max_rel_err(h, ref, n, 1e-3), 1e-6, "lerp + scale under %s", orders[k]);

        double s = emu->sumsq(X, n), sc = cpu->sumsq(ref, n);
        cr_assert_lt(test_rel_err(s, sc, 1e-12), 1e-9, "sumsq under %s: %.17g vs %.17g", orders[k], s, sc);
        if (k == 0) first_sumsq = s;
        cr_assert_eq(s, first_sumsq, "sumsq differs between thread orders: %.17g vs %.17g", s, first_sumsq);

        memset(m, 0, sizeof(float) * n), memset(v, 0, sizeof(float) * n);
        emu->upload(M, m, sizeof(float) * n);
        emu->upload(V, v, sizeof(float) * n);
        cpu->adam_step(&o, 1e-3f, 1, ref, g, m, v, n);
        emu->adam_step(&o, 1e-3f, 1, X, G, M, V, n);
        emu->download(h, X, sizeof(float) * n);
        cr_assert_leq(test_max_rel_err(h, ref, n, 1e-3), 1e-6, "adam_step under %s", orders[k]);
    }
    emu->free(X), emu->free(G), emu->free(D), emu->free(M), emu->free(V);
    free(x), free(g), free(h), free(ref), free(m), free(v);
}

/* --------------------------------------------------------------------------------------------------- */
/* barriers and thread order */

typedef int (*block_sum_fn)(const float *, int, int, float *);

Test(emu, missing_barrier_is_order_dependent)
{
    block_sum_fn block_sum = TEST_FN(block_sum_fn, emu_test_block_sum);
    enum { BLOCKS = 8 };
    float *x = test_random_array(BLOCKS * 256, 0, 1, 41), good[NORDERS][BLOCKS], bad[NORDERS][BLOCKS];
    double exact[BLOCKS];
    for (int b = 0; b < BLOCKS; b++) {
        exact[b] = 0;
        for (int t = 0; t < 256; t++) exact[b] += x[b * 256 + t];
    }
    for (size_t k = 0; k < NORDERS; k++) {
        setenv("RLDT_EMU_ORDER", orders[k], 1);
        cr_assert_eq(block_sum(x, BLOCKS, 1, good[k]), 0);
        cr_assert_eq(block_sum(x, BLOCKS, 0, bad[k]), 0);
        for (int b = 0; b < BLOCKS; b++) {
            cr_assert_lt(test_rel_err(good[k][b], exact[b], 1e-6), 1e-5, "correct kernel, %s, block %d", orders[k], b);
            cr_assert_eq(good[k][b], good[0][b], "the correct kernel must not depend on the order (%s)", orders[k]);
        }
    }
    int differ = 0, wrong_forward = 0;
    for (int b = 0; b < BLOCKS; b++) {
        differ += bad[0][b] != bad[1][b];
        wrong_forward += test_rel_err(bad[0][b], exact[b], 1e-6) > 1e-5;
    }
    cr_assert_gt(differ, 0, "without its barrier the reduction gave the same sums in forward and reverse order");
    cr_assert_gt(wrong_forward, 0, "without its barrier the reduction was right in forward order");
    /* a seeded random order repeats */
    float again[BLOCKS];
    setenv("RLDT_EMU_ORDER", orders[2], 1);
    cr_assert_eq(block_sum(x, BLOCKS, 0, again), 0);
    cr_assert_arr_eq(again, bad[2], sizeof again, "random:1 did not repeat");
    free(x);
}

Test(emu, barrier_waits_only_for_live_threads)
{
    int (*early_exit)(int *, int) = TEST_FN(int (*)(int *, int), emu_test_early_exit);
    for (size_t k = 0; k < NORDERS; k++) {
        setenv("RLDT_EMU_ORDER", orders[k], 1);
        int out[41];
        cr_assert_eq(early_exit(out, 40), 0);
        for (int t = 0; t < 40; t++) cr_assert_eq(out[t], (t + 1) % 40, "%s: thread %d", orders[k], t);
        cr_assert_eq(out[40], 20, "__syncthreads_count over the 40 live threads: %d", out[40]);
    }
}

static void deadlock_child(void *arg)
{
    setenv("RLDT_EMU_ORDER", (const char *)arg, 1);
    ((int (*)(void))test_fn("emu_test_deadlock"))();
}

Test(emu, deadlock_is_reported)
{
    test_fn("emu_test_deadlock");
    char err[4096];
    int status = run_child(deadlock_child, "reverse", err, sizeof err);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "expected an abort, status %#x; stderr: %s", status, err);
    cr_assert(strstr(err, "deadlock in kernel deadlock_kernel"), "stderr: %s", err);
}

static void bad_order_child(void *arg)
{
    setenv("RLDT_EMU_ORDER", "sideways", 1);
    ((int (*)(void))test_fn("emu_test_deadlock"))();
}

Test(emu, bad_order_is_refused)
{
    test_fn("emu_test_deadlock");
    char err[4096];
    int status = run_child(bad_order_child, NULL, err, sizeof err);
    cr_assert(WIFSIGNALED(status), "status %#x", status);
    cr_assert(strstr(err, "RLDT_EMU_ORDER=sideways"), "stderr: %s", err);
}

/* --------------------------------------------------------------------------------------------------- */
/* warps */

Test(emu, warp_shuffle_reductions)
{
    int (*warp_sum)(const float *, int, int, float *, float *) =
        TEST_FN(int (*)(const float *, int, int, float *, float *), emu_test_warp_sum);
    enum { BLOCKS = 3, THREADS = 96, N = BLOCKS * THREADS };
    float *x = test_random_array(N, -1, 1, 43), down[N / 32], bfly[N];
    for (size_t k = 0; k < NORDERS; k++) {
        setenv("RLDT_EMU_ORDER", orders[k], 1);
        cr_assert_eq(warp_sum(x, BLOCKS, THREADS, down, bfly), 0);
        for (int w = 0; w < N / 32; w++) {
            double s = 0;
            for (int l = 0; l < 32; l++) s += x[w * 32 + l];
            cr_assert_lt(test_rel_err(down[w], s, 1e-6), 1e-5, "%s: __shfl_down_sync tree, warp %d: %g vs %g",
                         orders[k], w, down[w], s);
            for (int l = 0; l < 32; l++)
                cr_assert_lt(test_rel_err(bfly[w * 32 + l], s, 1e-6), 1e-5, "%s: xor butterfly, warp %d lane %d",
                             orders[k], w, l);
        }
    }
    free(x);
}

Test(emu, shuffle_flavours_and_widths)
{
    int (*shuffle)(int *, double *) = TEST_FN(int (*)(int *, double *), emu_test_shuffle);
    int out[7 * 32];
    double dbl[32];
    setenv("RLDT_EMU_ORDER", "random:3", 1);
    cr_assert_eq(shuffle(out, dbl), 0);
    for (int l = 0; l < 32; l++) {
        int v = 100 + l;
        cr_assert_eq(out[0 * 32 + l], 105, "shfl lane %d", l);
        cr_assert_eq(out[1 * 32 + l], l < 3 ? v : v - 3, "shfl_up lane %d", l);
        cr_assert_eq(out[2 * 32 + l], l + 3 >= 32 ? v : v + 3, "shfl_down lane %d", l);
        cr_assert_eq(out[3 * 32 + l], 100 + (l ^ 6), "shfl_xor lane %d", l);
        cr_assert_eq(out[4 * 32 + l], l % 8 + 3 >= 8 ? v : v + 3, "shfl_down width 8, lane %d", l);
        cr_assert_eq(out[5 * 32 + l], 100 + (l & ~7) + 2, "shfl width 8, lane %d", l);
        cr_assert_eq(out[6 * 32 + l], l % 4 < 1 ? v : v - 1, "shfl_up width 4, lane %d", l);
        cr_assert_eq(dbl[l], 0.5 * 31 + 1e-12, "8-byte shuffle, lane %d", l);
    }
}

Test(emu, votes_and_partial_masks)
{
    int (*vote)(unsigned *) = TEST_FN(int (*)(unsigned *), emu_test_vote);
    for (size_t k = 0; k < NORDERS; k++) {
        setenv("RLDT_EMU_ORDER", orders[k], 1);
        unsigned out[37];
        cr_assert_eq(vote(out), 0);
        unsigned ballot = 0;
        for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
        cr_assert_eq(out[0], ballot, "ballot %#x", out[0]);
        cr_assert_eq(out[1], 1u);
        cr_assert_eq(out[2], 1u);
        cr_assert_eq(out[3], 0u);
        cr_assert_eq(out[4], 0xffffu, "half-warp ballot %#x", out[4]);
        for (unsigned l = 0; l < 32; l++) cr_assert_eq(out[5 + l], l < 16 ? l ^ 1 : l, "half-warp shuffle, lane %u", l);
    }
}

/* --------------------------------------------------------------------------------------------------- */
/* launches, memory, atomics, cuBLAS */

Test(emu, grid_and_block_geometry)
{
    int (*geometry)(unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned *) =
        TEST_FN(int (*)(unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned *), emu_test_geometry);
    const unsigned shapes[][6] = {{3, 2, 2, 4, 3, 2}, {5, 1, 1, 33, 1, 1}, {1, 1, 1, 1024, 1, 1}, {2, 3, 1, 8, 8, 16}};
    setenv("RLDT_EMU_ORDER", "random:5", 1);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const unsigned *q = shapes[s];
        unsigned nb = q[0] * q[1] * q[2], T = q[3] * q[4] * q[5], *out = malloc(sizeof(unsigned) * nb * T);
        cr_assert_eq(geometry(q[0], q[1], q[2], q[3], q[4], q[5], out), 0);
        for (unsigned b = 0; b < nb; b++)
            for (unsigned t = 0; t < T; t++)
                cr_assert_eq(out[b * T + t], b * 65536u + t, "shape %zu: block %u thread %u", s, b, t);
        free(out);
    }
}

Test(emu, dynamic_shared_memory)
{
    int (*reverse)(const float *, float *, int, int, size_t, int) =
        TEST_FN(int (*)(const float *, float *, int, int, size_t, int), emu_test_dynamic_shared);
    enum { BLOCKS = 4, THREADS = 128, N = BLOCKS * THREADS };
    float *x = test_random_array(N, -1, 1, 44), y[N];
    cr_assert_eq(reverse(x, y, BLOCKS, THREADS, THREADS * sizeof(float), 0), 0);
    for (int i = 0; i < N; i++) cr_assert_eq(y[i], x[i / THREADS * THREADS + THREADS - 1 - i % THREADS], "element %d", i);
    cr_assert_eq(reverse(x, y, 1, THREADS, 64 * 1024, 0), 1, "64 KiB of dynamic shared memory without opting in");
    cr_assert_eq(reverse(x, y, 1, THREADS, 64 * 1024, 1), 0, "64 KiB after cudaFuncSetAttribute");
    free(x);
}

Test(emu, atomics)
{
    int (*atomics)(int, int *, float *, double *) = TEST_FN(int (*)(int, int *, float *, double *), emu_test_atomics);
    int out[3];
    float f;
    double d;
    setenv("RLDT_EMU_ORDER", "random:9", 1);
    cr_assert_eq(atomics(7, out, &f, &d), 0);
    cr_assert_eq(out[0], 700);
    cr_assert_eq(out[1], 699);
    cr_assert_eq(out[2], 700);
    cr_assert_eq(f, 700.0f);
    cr_assert_eq(d, 350.0);
}

Test(emu, runtime_api)
{
    int (*runtime)(char *, size_t) = TEST_FN(int (*)(char *, size_t), emu_test_runtime);
    char msg[256] = "";
    cr_assert_eq(runtime(msg, sizeof msg), 0, "%s", msg);
}

Test(emu, cublas_on_openblas)
{
    int (*gemm)(char *, size_t) = TEST_FN(int (*)(char *, size_t), emu_test_gemm);
    char msg[256] = "";
    cr_assert_eq(gemm(msg, sizeof msg), 0, "%s", msg);
}

static void oob_child(void *arg) { ((int (*)(int))test_fn("emu_test_oob"))(100); }

/* Device memory is host memory, so AddressSanitizer sees a kernel read past the end of a buffer (and the
 * fiber switches are annotated, so it reports nothing else). */
Test(emu, asan_reports_out_of_bounds_in_a_kernel)
{
#if defined(__SANITIZE_ADDRESS__)
    test_fn("emu_test_oob");
    char err[16384];
    int status = run_child(oob_child, NULL, err, sizeof err);
    cr_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the out-of-bounds read went unreported");
    cr_assert(strstr(err, "heap-buffer-overflow"), "stderr: %.2000s", err);
    cr_assert(strstr(err, "oob_kernel"), "stderr: %.2000s", err);
    cr_assert(strstr(err, "in kernel oob_kernel, block (0,0,0), thread (100,0,0)"), "stderr: %.2000s", err);
#else
    (void)oob_child;
    cr_skip_test("skipped: needs SANITIZE=1 (AddressSanitizer)");
#endif
}
