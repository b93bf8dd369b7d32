/* rldt/philox.h — Philox4x32-10 counter-based RNG (Salmon et al., SC'11), header-only, identical on the
 * host (C) and the device (CUDA).
 *
 * A draw is a pure function of (seed, stream, counter): there is no hidden state, so any env, rank or op
 * can own an independent, reproducible stream, and a kernel thread can jump to its element directly.
 * Layout (the same as cuRAND's device API `curand_init(seed, subsequence=stream, offset=4*counter)`):
 *   key     = { seed & 0xffffffff, seed >> 32 }
 *   counter = { counter & 0xffffffff, counter >> 32, stream & 0xffffffff, stream >> 32 }
 * One block gives four 32-bit words. Element i of a bulk fill uses block (counter + i/4), word i%4, so a
 * fill of n values consumes ceil(n/4) counters and the next fill starts at counter + ceil(n/4).
 *
 * Floats: uniform in [0,1) from the top 24 bits; normals by Box–Muller from a pair of words with both
 * uniforms taken at cell centres ((k + 0.5)·2^-23, never 0 or 1), so log() is always finite. Host and device
 * use the same formulas; they may differ in the last ulp of logf/cosf/sinf, never in the bits drawn.
 *
 * cuRAND: the same bits as curand_init(seed, stream, 4*counter) on the device. cuRAND's host generator
 * (CURAND_RNG_PSEUDO_PHILOX4_32_10) also draws the same blocks but orders its bulk output subsequence-first
 * (group j = block (seed, stream j, counter 0)), and maps words to floats as (x + 0.5) * 2^-32; ours is
 * counter-first within one stream with 24-bit floats (tests/test_rng.c checks the bits). */
#ifndef RLDT_PHILOX_H
#define RLDT_PHILOX_H

#include <math.h>

#include "rldt/common.h"

typedef struct {
    uint32_t v[4];
} rldt_philox_block_t;

RLDT_HD void rldt_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/* The raw bijection: 10 rounds of Philox4x32 on counter `c` under key `k`. */
RLDT_HD rldt_philox_block_t rldt_philox4x32_10(rldt_philox_block_t c, uint32_t k0, uint32_t k1)
{
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        rldt_philox_mulhilo(0xD2511F53u, c.v[0], &hi0, &lo0);
        rldt_philox_mulhilo(0xCD9E8D57u, c.v[2], &hi1, &lo1);
        rldt_philox_block_t n;
        n.v[0] = hi1 ^ c.v[1] ^ k0;
        n.v[1] = lo1;
        n.v[2] = hi0 ^ c.v[3] ^ k1;
        n.v[3] = lo0;
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

/* Four random words for (seed, stream, counter). */
RLDT_HD rldt_philox_block_t rldt_philox(uint64_t seed, uint64_t stream, uint64_t counter)
{
    rldt_philox_block_t c;
    c.v[0] = (uint32_t)counter;
    c.v[1] = (uint32_t)(counter >> 32);
    c.v[2] = (uint32_t)stream;
    c.v[3] = (uint32_t)(stream >> 32);
    return rldt_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* A uniform float in [0, 1) from one word (24 significant bits). */
RLDT_HD float rldt_u32_to_uniform(uint32_t x) { return (float)(x >> 8) * 5.9604644775390625e-8f; }

/* A uniform float in (0, 1) at the centre of one of 2^23 cells: never 0, never 1 (23 bits so that the
 * largest cell centre, 1 - 2^-24, is exactly representable). */
RLDT_HD float rldt_u32_to_open_uniform(uint32_t x) { return ((float)(x >> 9) + 0.5f) * 1.1920928955078125e-7f; }

/* Two standard normals from two words (Box–Muller). */
RLDT_HD void rldt_box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
    float u1 = rldt_u32_to_open_uniform(a);
    float u2 = rldt_u32_to_open_uniform(b);
    float r = sqrtf(-2.0f * logf(u1));
    float th = 6.2831853071795864f * u2;
    *z0 = r * cosf(th);
    *z1 = r * sinf(th);
}

/* Element i of the normal fill that starts at `counter` (see the layout above). */
RLDT_HD float rldt_philox_normal_at(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t i)
{
    rldt_philox_block_t b = rldt_philox(seed, stream, counter + i / 4);
    unsigned lane = (unsigned)(i % 4);
    float z0, z1;
    rldt_box_muller(b.v[lane & 2u], b.v[(lane & 2u) + 1u], &z0, &z1);
    return (lane & 1u) ? z1 : z0;
}

/* Element i of the uniform [0,1) fill that starts at `counter`. */
RLDT_HD float rldt_philox_uniform_at(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t i)
{
    rldt_philox_block_t b = rldt_philox(seed, stream, counter + i / 4);
    return rldt_u32_to_uniform(b.v[i % 4]);
}

/* Element i of a fill of integers uniform in [0, n), n >= 1, that starts at `counter`: the word of element i
 * (as in the uniform fill) mapped by Lemire's multiply, floor(word·n / 2^32). Without rejection each value
 * has probability within 2^-32 of 1/n, and element i stays a pure function of (seed, stream, counter, i). */
RLDT_HD uint32_t rldt_philox_below_at(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t i, uint32_t n)
{
    rldt_philox_block_t b = rldt_philox(seed, stream, counter + i / 4);
    return (uint32_t)(((uint64_t)b.v[i % 4] * n) >> 32);
}

/* Counters consumed by a fill of n values. */
RLDT_HD uint64_t rldt_philox_blocks(uint64_t n) { return (n + 3) / 4; }

#endif
