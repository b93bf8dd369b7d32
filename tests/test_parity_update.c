/* test_parity_update.c — the device backend's ops of the fine-tuning update loop against the CPU backend (see
 * parity.h): random indices (draw_index), row gathers, TD(λ) targets, the exploration noise and the sum
 * reduction. They keep an iteration on the device: the update gathers its minibatches from the replay
 * buffer's device copy and computes its targets there. Every check runs under PARITY_ORDERS; device outputs
 * start as NaN (or -1 for indices), so an element a kernel misses fails, and so does one it writes outside
 * its rows.
 *
 * Bounds: draw_index, gather_rows exact (integer arithmetic, copies); td_lambda 1e-6 relative (a double
 * recursion the GPU may contract into FMAs); explore 1e-6 with floor 1 (|values| <= 1: one FMA of a + σ·noise,
 * σ a correctly rounded sqrt); sum 1e-12 relative (positive terms, only the order of the double additions
 * differs). */
#include "parity.h"
#include "rldt/philox.h"
#include "rldt/transport.h"

static int *int_dev(const rldt_backend_t *be, const int *h, size_t n)
{
    int *d = be->alloc(sizeof(int) * (n ? n : 1));
    cr_assert_not_null(d);
    if (n) be->upload(d, h, sizeof(int) * n);
    return d;
}

static int *int_poison(const rldt_backend_t *be, size_t n)
{
    int *h = malloc(sizeof(int) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) h[i] = -1;
    int *d = int_dev(be, h, n);
    free(h);
    return d;
}

static void expect_ints(const rldt_backend_t *be, const int *dev, const int *ref, size_t n, const char *what)
{
    int *h = malloc(sizeof(int) * (n ? n : 1));
    be->download(h, dev, sizeof(int) * n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(h[i], ref[i], "%s: element %zu: %d vs %d", what, i, h[i], ref[i]);
    free(h);
}

// ---------------------------------------------------------------------------------------------------
// draw_index

static void check_draw_index(const rldt_backend_t *cu, const rldt_backend_t *cpu, size_t n, uint32_t below)
{
    enum { OFF = 3 };
    int *table = malloc(sizeof(int) * (below + OFF));
    for (uint32_t j = 0; j < below + OFF; j++) table[j] = (int)(7919u * j % 100003u); /* distinct, unordered */
    int *k = malloc(sizeof(int) * n), *TAB = int_dev(cu, table, below + OFF), *Kd = int_poison(cu, n);
    float *t = malloc(sizeof(float) * n), *Td = nan_dev(cu, n);
    /* steps with their times, no table */
    cpu->draw_index(k, t, (int)below, NULL, 0, below, n, 9, 4, 100);
    cu->draw_index(Kd, Td, (int)below, NULL, 0, below, n, 9, 4, 100);
    expect_ints(cu, Kd, k, n, "draw_index k");
    expect_close(cu, Td, t, n, 0.0, "draw_index t");
    for (size_t i = 0; i < n; i++) {
        cr_assert(k[i] >= 0 && (uint32_t)k[i] < below, "k[%zu] = %d outside [0, %u)", i, k[i], below);
        cr_assert_eq(k[i], (int)rldt_philox_below_at(9, 4, 100, i, below));
        cr_assert_eq(t[i], (float)k[i] / (float)below);
    }
    /* rows looked up in a table from an offset, indices only */
    cu->upload(Kd, (int[]){-1}, sizeof(int)); /* element 0 poisoned again */
    cpu->draw_index(k, NULL, 0, table, OFF, below, n, 9, 5, 7);
    cu->draw_index(Kd, NULL, 0, TAB, OFF, below, n, 9, 5, 7);
    expect_ints(cu, Kd, k, n, "draw_index rows");
    for (size_t i = 0; i < n; i++) cr_assert_eq(k[i], table[OFF + rldt_philox_below_at(9, 5, 7, i, below)]);
    cu->free(TAB), cu->free(Kd), cu->free(Td);
    free(table), free(k), free(t);
}

Test(parity, draw_index)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    static const size_t sizes[] = {1, 3, 5, 257, 70001};
    static const uint32_t belows[] = {1, 2, 8, 50000};
    for (size_t s = 0; s < 5; s++)
        for (size_t b = 0; b < 4; b++) PARITY_ORDERS(cu, check_draw_index(cu, cpu, sizes[s], belows[b]));
}

/* The draws are uniform: 200,000 draws below 10 put each value within 2% of 20,000 (the count is binomial,
 * sd 134: 30 sd), and the mapping reaches both ends. */
Test(parity, draw_index_is_uniform)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    enum { N = 200000, BELOW = 10 };
    int *k = malloc(sizeof(int) * N), count[BELOW] = {0};
    cpu->draw_index(k, NULL, 0, NULL, 0, BELOW, N, 1, 2, 3);
    for (int i = 0; i < N; i++) count[k[i]]++;
    for (int v = 0; v < BELOW; v++) cr_assert(abs(count[v] - N / BELOW) < N / BELOW / 50, "value %d drawn %d times", v, count[v]);
    free(k);
}

// ---------------------------------------------------------------------------------------------------
// gather_rows

/* n rows of `width` into a destination that starts `off` floats into its buffer (off % 4 != 0: the one-float
 * path; widths that are multiples of 4 with off = 0 take the float4 path) */
static void check_gather(const rldt_backend_t *cu, const rldt_backend_t *cpu, int n, int width, int repeat, int off)
{
    int nsrc = 97, nrows = (n + repeat - 1) / repeat;
    size_t nd = (size_t)n * width;
    float *src = test_random_array((size_t)nsrc * width, -5, 5, (uint64_t)(n * 31 + width));
    int *rows = malloc(sizeof(int) * (size_t)nrows);
    for (int i = 0; i < nrows; i++) rows[i] = (i * 37 + 11) % nsrc;
    float *dst = malloc(sizeof(float) * nd), *SRC = to_dev(cu, src, (size_t)nsrc * width);
    float *DST = nan_dev(cu, nd + (size_t)off);
    int *ROWS = int_dev(cu, rows, (size_t)nrows);
    cpu->gather_rows(dst, src, rows, n, width, repeat);
    cu->gather_rows(DST + off, SRC, ROWS, n, width, repeat);
    expect_close(cu, DST + off, dst, nd, 0.0, "gather_rows");
    for (int i = 0; i < n; i++)
        for (int c = 0; c < width; c++) cr_assert_eq(dst[(size_t)i * width + c], src[(size_t)rows[i / repeat] * width + c]);
    cu->free(SRC), cu->free(DST), cu->free(ROWS);
    free(src), free(rows), free(dst);
}

Test(parity, gather_rows)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    static const int ns[] = {1, 7, 300, 5000}, widths[] = {1, 3, 4, 24, 33, 67}, repeats[] = {1, 3, 8};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 6; b++)
            for (int c = 0; c < 3; c++) PARITY_ORDERS(cu, check_gather(cu, cpu, ns[a], widths[b], repeats[c], 0));
    PARITY_ORDERS(cu, check_gather(cu, cpu, 300, 24, 3, 1));
}

// ---------------------------------------------------------------------------------------------------
// td_lambda

/* nseg segments of T steps stored at a permutation of the slots of a buffer of cap >= nseg segments; G
 * starts NaN, so rows outside the round must stay NaN and rows inside must be written. */
static void check_td(const rldt_backend_t *cu, const rldt_backend_t *cpu, int nseg, int T, int cap, uint64_t st)
{
    size_t steps = (size_t)cap * T, nq = (size_t)nseg * T;
    float *r = test_random_array(steps, -2, 3, st), *q = test_random_array(nq, -20, 40, st + 1);
    uint8_t *term = malloc(steps), *ended = malloc(steps);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 3, st);
    for (size_t i = 0; i < steps; i++) {
        term[i] = rldt_rng_below(&rng, 10) == 0;
        ended[i] = term[i] || rldt_rng_below(&rng, 8) == 0;
    }
    q[nq / 2] = NAN; /* a broken bootstrap value: clipped to q_lo */
    int *segrows = malloc(sizeof(int) * (size_t)nseg);
    for (int s = 0; s < nseg; s++) segrows[s] = ((s * 7 + 3) % cap) * T; /* cap is prime to 7: distinct slots */
    float *G = malloc(sizeof(float) * steps);
    for (size_t i = 0; i < steps; i++) G[i] = NAN;
    float *R = to_dev(cu, r, steps), *Q = to_dev(cu, q, nq), *GD = nan_dev(cu, steps);
    uint8_t *TERM = cu->alloc(steps), *END = cu->alloc(steps);
    cu->upload(TERM, term, steps);
    cu->upload(END, ended, steps);
    int *SEG = int_dev(cu, segrows, (size_t)nseg);
    cpu->td_lambda(G, r, term, ended, q, segrows, nseg, T, 0.97f, 0.8f, 2.5, -10.0f, 30.0f);
    cu->td_lambda(GD, R, TERM, END, Q, SEG, nseg, T, 0.97f, 0.8f, 2.5, -10.0f, 30.0f);
    float *h = malloc(sizeof(float) * steps);
    cu->download(h, GD, sizeof(float) * steps);
    for (size_t i = 0; i < steps; i++) {
        if (isnan(G[i])) {
            cr_assert(isnan(h[i]), "td_lambda: row %zu outside the round's segments written (%g)", i, h[i]);
            continue;
        }
        cr_assert(isfinite(h[i]), "td_lambda: row %zu not written", i);
        cr_assert_leq(test_rel_err(h[i], G[i], 1e-3), 1e-6, "td_lambda row %zu: %.9g vs %.9g", i, h[i], G[i]);
    }
    /* the CPU op is the per-segment recursion at each segment's rows */
    for (int s = 0; s < nseg; s++) {
        float one[64];
        size_t row = (size_t)segrows[s];
        rldt_td_lambda(one, r + row, term + row, ended + row, q + (size_t)s * T, T, 0.97f, 0.8f, 2.5, -10.0f, 30.0f);
        cr_assert_eq(memcmp(one, G + row, sizeof(float) * (size_t)T), 0, "segment %d", s);
    }
    cu->free(R), cu->free(Q), cu->free(GD), cu->free(TERM), cu->free(END), cu->free(SEG);
    free(r), free(q), free(term), free(ended), free(segrows), free(G), free(h);
}

Test(parity, td_lambda)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    PARITY_ORDERS(cu, check_td(cu, cpu, 1, 1, 3, 1));
    PARITY_ORDERS(cu, check_td(cu, cpu, 3, 5, 10, 2));
    PARITY_ORDERS(cu, check_td(cu, cpu, 200, 64, 401, 3));
    PARITY_ORDERS(cu, check_td(cu, cpu, 300, 7, 300, 4)); /* every slot */
}

// ---------------------------------------------------------------------------------------------------
// explore

static void check_explore(const rldt_backend_t *cu, const rldt_backend_t *cpu, int N, int D, uint64_t st)
{
    size_t n = (size_t)N * D;
    float *a = test_random_array(n, -1.2f, 1.2f, st), *at = test_random_array(n, -1.2f, 1.2f, st + 1);
    float *z = malloc(sizeof(float) * n), *ex = malloc(sizeof(float) * n);
    cpu->fill_normal(z, n, 5, 6, 7);
    float *A = to_dev(cu, a, n), *AT = to_dev(cu, at, n), *Z = to_dev(cu, z, n), *EX = nan_dev(cu, n);
    cpu->explore(ex, a, at, z, N, D);
    cu->explore(EX, A, AT, Z, N, D);
    expect_close_floor(cu, EX, ex, n, 1e-6, 1.0, "explore");
    for (size_t i = 0; i < n; i++) cr_assert(ex[i] >= -1.0f && ex[i] <= 1.0f, "exec[%zu] = %g not clipped", i, ex[i]);
    cu->free(A), cu->free(AT), cu->free(Z), cu->free(EX);
    free(a), free(at), free(z), free(ex);
}

Test(parity, explore)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    static const int Ns[] = {1, 5, 300}, Ds[] = {1, 7, 40};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) PARITY_ORDERS(cu, check_explore(cu, cpu, Ns[a], Ds[b], (uint64_t)(a * 3 + b)));
}

// ---------------------------------------------------------------------------------------------------
// sum

static void check_sum(const rldt_backend_t *cu, const rldt_backend_t *cpu, size_t n)
{
    float *x = test_random_array(n, 0, 2, 40 + n % 5);
    float *dx = to_dev(cu, x, n);
    double ref = cpu->sum(x, n), got = cu->sum(dx, n), plain = 0;
    for (size_t i = 0; i < n; i++) plain += x[i];
    cr_assert_leq(test_rel_err(got, ref, 1e-300), 1e-12, "sum n=%zu: %.17g vs %.17g", n, got, ref);
    cr_assert_leq(test_rel_err(ref, plain, 1e-300), 1e-12, "sum n=%zu on the CPU: %.17g vs %.17g", n, ref, plain);
    cu->free(dx);
    free(x);
}

Test(parity, sum)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    static const size_t sizes[] = {1, 2, 255, 257, 65537, 300007, 1100003}; /* the last wraps the grid */
    for (size_t s = 0; s < 7; s++) PARITY_ORDERS(cu, check_sum(cu, cpu, sizes[s]));
    cr_assert_eq(cu->sum(NULL, 0), 0.0);
}
