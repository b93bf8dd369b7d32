/* rng.c — sequential host streams and bulk fills over Philox4x32-10 (see rldt/rng.h). */
#include "rldt/rng.h"

uint64_t rldt_rng_stream_id(uint32_t purpose, uint32_t a, uint32_t b)
{
    return ((uint64_t)(purpose & 0xffffu) << 48) ^ ((uint64_t)(a & 0xffffu) << 32) ^ (uint64_t)b;
}

void rldt_rng_init(rldt_rng_t *r, uint64_t seed, uint64_t stream)
{
    r->seed = seed;
    r->stream = stream;
    r->counter = 0;
    r->nbuf = 0;
}

uint32_t rldt_rng_u32(rldt_rng_t *r)
{
    if (r->nbuf <= 0 || r->nbuf > 4) { /* > 4 or < 0 only in a damaged restored state: start a fresh block */
        rldt_philox_block_t b = rldt_philox(r->seed, r->stream, r->counter++);
        for (int i = 0; i < 4; i++) r->buf[i] = b.v[3 - i]; /* handed out from the back: v[0] first */
        r->nbuf = 4;
    }
    return r->buf[--r->nbuf];
}

float rldt_rng_uniform(rldt_rng_t *r) { return rldt_u32_to_uniform(rldt_rng_u32(r)); }

uint32_t rldt_rng_below(rldt_rng_t *r, uint32_t n)
{
    uint32_t limit = (uint32_t)(-n) % n; /* 2^32 mod n: reject the short top range */
    for (;;) {
        uint32_t x = rldt_rng_u32(r);
        if (x >= limit) return x % n;
    }
}

float rldt_rng_normal(rldt_rng_t *r)
{
    uint32_t a = rldt_rng_u32(r), b = rldt_rng_u32(r);
    float z0, z1;
    rldt_box_muller(a, b, &z0, &z1);
    return z0;
}

void rldt_rng_state(const rldt_rng_t *r, int64_t out[RLDT_RNG_STATE])
{
    out[0] = (int64_t)r->counter;
    out[1] = r->nbuf;
    for (int i = 0; i < 4; i++) out[2 + i] = r->buf[i];
}

rldt_status_t rldt_rng_set_state(rldt_rng_t *r, const int64_t in[RLDT_RNG_STATE], const char *what)
{
    if (in[0] < 0 || in[1] < 0 || in[1] > 4)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: random stream state (counter %lld, %lld buffered words) is invalid", what,
                              (long long)in[0], (long long)in[1]);
    for (int i = 0; i < 4; i++)
        if (in[2 + i] < 0 || in[2 + i] > (int64_t)UINT32_MAX)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: random stream word %lld is not 32-bit", what, (long long)in[2 + i]);
    r->counter = (uint64_t)in[0];
    r->nbuf = (int)in[1];
    for (int i = 0; i < 4; i++) r->buf[i] = (uint32_t)in[2 + i];
    return RLDT_OK;
}

uint64_t rldt_rng_claim(rldt_rng_t *r, size_t n)
{
    uint64_t first = r->counter;
    r->counter += rldt_philox_blocks(n);
    r->nbuf = 0;
    return first;
}

void rldt_philox_fill_normal(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter)
{
    for (size_t i = 0; i < n; i += 4) {
        rldt_philox_block_t b = rldt_philox(seed, stream, counter + i / 4);
        float z[4];
        rldt_box_muller(b.v[0], b.v[1], &z[0], &z[1]);
        rldt_box_muller(b.v[2], b.v[3], &z[2], &z[3]);
        for (size_t j = 0; j < 4 && i + j < n; j++) x[i + j] = z[j];
    }
}

void rldt_philox_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter)
{
    for (size_t i = 0; i < n; i += 4) {
        rldt_philox_block_t b = rldt_philox(seed, stream, counter + i / 4);
        for (size_t j = 0; j < 4 && i + j < n; j++) x[i + j] = rldt_u32_to_uniform(b.v[j]);
    }
}

void rldt_rng_fill_normal(rldt_rng_t *r, float *x, size_t n)
{
    uint64_t c = rldt_rng_claim(r, n);
    rldt_philox_fill_normal(x, n, r->seed, r->stream, c);
}

void rldt_rng_fill_uniform(rldt_rng_t *r, float *x, size_t n)
{
    uint64_t c = rldt_rng_claim(r, n);
    rldt_philox_fill_uniform(x, n, r->seed, r->stream, c);
}
