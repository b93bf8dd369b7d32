/* test_rng.c — Philox4x32-10: published known-answer vectors, the stream layout, the float samplers, and
 * bit-for-bit agreement with cuRAND's host Philox generator where libcurand is installed. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <string.h>

#include "rldt/rng.h"

/* Random123's kat_vectors for philox4x32 with 10 rounds: counter[4], key[2] -> output[4]. */
static const uint32_t kat[3][10] = {
    {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
     0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
     0x24126ea1},
};

Test(rng, philox_known_answers)
{
    for (int k = 0; k < 3; k++) {
        rldt_philox_block_t c = {{kat[k][0], kat[k][1], kat[k][2], kat[k][3]}};
        rldt_philox_block_t out = rldt_philox4x32_10(c, kat[k][4], kat[k][5]);
        for (int i = 0; i < 4; i++) cr_assert_eq(out.v[i], kat[k][6 + i], "vector %d word %d: %08x", k, i, out.v[i]);
    }
}

Test(rng, key_and_counter_layout)
{
    /* seed -> key words, counter -> words 0-1, stream -> words 2-3 */
    uint64_t seed = 0x299f31d0a4093822ull, stream = 0x0370734413198a2eull, counter = 0x85a308d3243f6a88ull;
    rldt_philox_block_t out = rldt_philox(seed, stream, counter);
    for (int i = 0; i < 4; i++) cr_assert_eq(out.v[i], kat[2][6 + i]);
}

Test(rng, sequential_stream_matches_bulk_words)
{
    rldt_rng_t r;
    rldt_rng_init(&r, 7, 3);
    for (uint64_t c = 0; c < 5; c++) {
        rldt_philox_block_t b = rldt_philox(7, 3, c);
        for (int i = 0; i < 4; i++) cr_assert_eq(rldt_rng_u32(&r), b.v[i]);
    }
}

Test(rng, streams_are_independent_and_reproducible)
{
    float a[64], b[64], c[64];
    rldt_rng_t r1, r2, r3;
    rldt_rng_init(&r1, 42, rldt_rng_stream_id(RLDT_STREAM_ENV, 0, 1));
    rldt_rng_init(&r2, 42, rldt_rng_stream_id(RLDT_STREAM_ENV, 0, 1));
    rldt_rng_init(&r3, 42, rldt_rng_stream_id(RLDT_STREAM_ENV, 0, 2));
    rldt_rng_fill_normal(&r1, a, 64);
    rldt_rng_fill_normal(&r2, b, 64);
    rldt_rng_fill_normal(&r3, c, 64);
    cr_assert(memcmp(a, b, sizeof a) == 0);
    int same = 0;
    for (int i = 0; i < 64; i++) same += a[i] == c[i];
    cr_assert_lt(same, 2);
}

Test(rng, bulk_fill_element_layout_and_advance)
{
    rldt_rng_t r;
    rldt_rng_init(&r, 11, 5);
    float x[10], y[3];
    rldt_rng_fill_normal(&r, x, 10); /* consumes 3 blocks */
    cr_assert_eq(r.counter, 3);
    for (int i = 0; i < 10; i++) cr_assert_eq(x[i], rldt_philox_normal_at(11, 5, 0, (uint64_t)i));
    rldt_rng_fill_uniform(&r, y, 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(y[i], rldt_philox_uniform_at(11, 5, 3, (uint64_t)i));
}

Test(rng, a_saved_state_continues_the_stream_and_a_bad_one_is_refused)
{
    rldt_rng_t a, b;
    rldt_rng_init(&a, 7, 9);
    for (int i = 0; i < 5; i++) rldt_rng_u32(&a); /* mid-block: words buffered */
    int64_t st[RLDT_RNG_STATE];
    rldt_rng_state(&a, st);
    cr_assert_eq(st[1], 3, "5 words drawn: 3 of the second block left");
    rldt_rng_init(&b, 7, 9);
    cr_assert_eq(rldt_rng_set_state(&b, st, "test"), RLDT_OK, "%s", rldt_error_message());
    for (int i = 0; i < 10; i++) cr_assert_eq(rldt_rng_u32(&a), rldt_rng_u32(&b), "word %d", i);
    int64_t bad[RLDT_RNG_STATE];
    memcpy(bad, st, sizeof bad);
    bad[1] = 5;
    cr_assert_eq(rldt_rng_set_state(&b, bad, "ckpt.h5"), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "ckpt.h5"), "%s", rldt_error_message());
    memcpy(bad, st, sizeof bad);
    bad[3] = (int64_t)1 << 40;
    cr_assert_eq(rldt_rng_set_state(&b, bad, "ckpt.h5"), RLDT_ERR_USAGE);
    bad[3] = st[3];
    bad[0] = -1;
    cr_assert_eq(rldt_rng_set_state(&b, bad, "ckpt.h5"), RLDT_ERR_USAGE);
}

Test(rng, normal_moments)
{
    enum { N = 1 << 20 };
    float *x = malloc(sizeof(float) * N);
    rldt_rng_t r;
    rldt_rng_init(&r, 123, 0);
    rldt_rng_fill_normal(&r, x, N);
    double m = 0, v = 0, k = 0;
    float lo = 0, hi = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(isfinite(x[i]));
        m += x[i];
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
    }
    m /= N;
    for (int i = 0; i < N; i++) {
        double d = x[i] - m;
        v += d * d;
        k += d * d * d * d;
    }
    v /= N;
    k = k / N / (v * v);
    /* standard errors at N = 2^20: mean 0.001, variance 0.0014, kurtosis 0.0048 */
    cr_assert_lt(fabs(m), 0.005, "mean %g", m);
    cr_assert_lt(fabs(v - 1.0), 0.007, "variance %g", v);
    cr_assert_lt(fabs(k - 3.0), 0.03, "kurtosis %g", k);
    cr_assert(lo < -4.0f && hi > 4.0f, "tails [%g, %g]", lo, hi);
    free(x);
}

Test(rng, uniform_range_and_below_unbiased)
{
    rldt_rng_t r;
    rldt_rng_init(&r, 9, 9);
    int counts[3] = {0};
    double m = 0;
    for (int i = 0; i < 300000; i++) {
        float u = rldt_rng_uniform(&r);
        cr_assert(u >= 0.0f && u < 1.0f);
        m += u;
        counts[rldt_rng_below(&r, 3)]++;
    }
    cr_assert_lt(fabs(m / 300000 - 0.5), 0.003);
    for (int i = 0; i < 3; i++) cr_assert_lt(abs(counts[i] - 100000), 1500, "bucket %d: %d", i, counts[i]);
    cr_assert_gt(rldt_u32_to_open_uniform(0), 0.0f);
    cr_assert_lt(rldt_u32_to_open_uniform(0xffffffffu), 1.0f);
}

/* cuRAND's host generator (CURAND_RNG_PSEUDO_PHILOX4_32_10, default ordering) emits the block for
 * (seed, subsequence j, counter 0) as its j-th group of four words: the same Philox and key/counter layout
 * as ours, with its bulk output ordered subsequence-first. Checked here over the first 4096 groups. */
typedef int (*curand_create_fn)(void **, int);
typedef int (*curand_seed_fn)(void *, unsigned long long);
typedef int (*curand_gen_fn)(void *, unsigned int *, size_t);
typedef int (*curand_destroy_fn)(void *);

Test(rng, matches_curand_host_philox)
{
    void *h = dlopen("libcurand.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("/usr/local/cuda/lib64/libcurand.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) cr_skip_test("skipped: libcurand not installed");
    curand_create_fn create = (curand_create_fn)dlsym(h, "curandCreateGeneratorHost");
    curand_seed_fn set_seed = (curand_seed_fn)dlsym(h, "curandSetPseudoRandomGeneratorSeed");
    curand_gen_fn generate = (curand_gen_fn)dlsym(h, "curandGenerate");
    curand_destroy_fn destroy = (curand_destroy_fn)dlsym(h, "curandDestroyGenerator");
    cr_assert(create && set_seed && generate && destroy);
    void *gen = NULL;
    cr_assert_eq(create(&gen, 161 /* CURAND_RNG_PSEUDO_PHILOX4_32_10 */), 0);
    uint64_t seed = 0x1234abcd5678ull;
    cr_assert_eq(set_seed(gen, seed), 0);
    enum { GROUPS = 4096 };
    unsigned int *words = malloc(sizeof(unsigned int) * 4 * GROUPS);
    cr_assert_eq(generate(gen, words, 4 * GROUPS), 0);
    for (uint64_t j = 0; j < GROUPS; j++) {
        rldt_philox_block_t b = rldt_philox(seed, j, 0);
        for (int i = 0; i < 4; i++) cr_assert_eq(words[4 * j + (uint64_t)i], b.v[i], "group %lu word %d", (unsigned long)j, i);
    }
    free(words);
    destroy(gen);
    /* libcurand stays loaded: unloading it drops the C++ runtime its allocations belong to */
}
