/* rldt/rng.h — host-side streams over Philox (rldt/philox.h).
 *
 * An rldt_rng_t is a (seed, stream) pair plus a running counter: the sequential interface for host code
 * (env resets, minibatch indices, parameter init). Bulk fills use the same element layout as the device
 * kernels, so a fill of n normals on the CPU equals the same fill on the GPU. Stream ids are derived from
 * purposes and indices with rldt_rng_stream_id so different consumers never overlap. */
#ifndef RLDT_RNG_H
#define RLDT_RNG_H

#include "rldt/common.h"
#include "rldt/philox.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t seed;
    uint64_t stream;
    uint64_t counter; /* next unused Philox block */
    uint32_t buf[4];  /* words of the current block not yet handed out */
    int nbuf;
} rldt_rng_t;

/* Stream id for (purpose, a, b): e.g. (RLDT_STREAM_ENV, rank, env index). Purposes keep the 16 top bits. */
enum { RLDT_STREAM_INIT = 1, RLDT_STREAM_ENV = 2, RLDT_STREAM_DATA = 3, RLDT_STREAM_POLICY = 4, RLDT_STREAM_TRAIN = 5 };
uint64_t rldt_rng_stream_id(uint32_t purpose, uint32_t a, uint32_t b);

/* A fresh stream at counter 0. */
void rldt_rng_init(rldt_rng_t *r, uint64_t seed, uint64_t stream);
/* Next 32-bit word. */
uint32_t rldt_rng_u32(rldt_rng_t *r);
/* Uniform float in [0,1). */
float rldt_rng_uniform(rldt_rng_t *r);
/* Uniform integer in [0, n), n > 0 (rejection sampling: no modulo bias). */
uint32_t rldt_rng_below(rldt_rng_t *r, uint32_t n);
/* One standard normal (uses a fresh pair of words). */
float rldt_rng_normal(rldt_rng_t *r);
/* Fills x[0..n) with N(0,1) using the bulk layout (block counter + i/4, lane i%4) starting at the
 * stream's next block, then advances the stream past the blocks used. Same values as the CUDA fill. */
void rldt_rng_fill_normal(rldt_rng_t *r, float *x, size_t n);
/* Same for uniform [0,1). */
void rldt_rng_fill_uniform(rldt_rng_t *r, float *x, size_t n);
/* The bulk fills themselves, from an explicit (seed, stream, first counter): x[i] = element i of the fill
 * (rldt_philox_normal_at / rldt_philox_uniform_at), one Philox block per four elements. These are the CPU
 * backend's fill ops. */
void rldt_philox_fill_normal(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter);
void rldt_philox_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t stream, uint64_t counter);
/* A stream's position as RLDT_RNG_STATE integers (counter, buffered words, their count), for checkpoints;
 * restoring it into a stream of the same (seed, stream) continues where it left off. Restore checks the
 * values (RLDT_ERR_USAGE naming `what`). */
#define RLDT_RNG_STATE 6
void rldt_rng_state(const rldt_rng_t *r, int64_t out[RLDT_RNG_STATE]);
rldt_status_t rldt_rng_set_state(rldt_rng_t *r, const int64_t in[RLDT_RNG_STATE], const char *what);
/* Claims ceil(n/4) blocks for a device fill and returns the first counter (drops buffered words). */
uint64_t rldt_rng_claim(rldt_rng_t *r, size_t n);

#ifdef __cplusplus
}
#endif
#endif
