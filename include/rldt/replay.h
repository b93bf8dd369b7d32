/* rldt/replay.h — the FIFO trajectory buffer of RLDT fine-tuning (RLDT.md §7).
 *
 * The unit is a segment: one env's T consecutive chunk-steps from one iteration's rollout (it may span
 * episode boundaries; `ended` marks them). Per step it keeps the standardised observation and the one
 * after the chunk (the terminal one where the episode ended), the executed action chunk in normalised
 * units, the chunk's summed reward, terminated / ended / success flags and a loss mask (0 for states the
 * losses must ignore: after a success when reward.mask_after_success is on). Capacity is counted in
 * segments; pushing into a full buffer overwrites the oldest. SAC (rldt/sac.h) keeps its transitions in one
 * with T = 1: raw observations, actions in [-1, 1], one env step per segment, sampled uniformly.
 * Pixel fine-tunes also keep each step's uint8 image, as the env gave it, and the one after the chunk (the
 * terminal one where the episode ended: the bootstrap value of a truncated step needs it). */
#ifndef RLDT_REPLAY_H
#define RLDT_REPLAY_H

#include <stdbool.h>

#include "rldt/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int obs_dim, D, T, capacity;
    int count;   /* segments held (<= capacity) */
    long pushed; /* segments ever pushed; the next goes to slot pushed % capacity */
    float *obs, *next_obs; /* [capacity][T][obs_dim] */
    float *act;            /* [capacity][T][D] */
    float *rew;            /* [capacity][T] */
    uint8_t *term, *ended, *success, *mask; /* [capacity][T] */
    int *order; /* [capacity] scratch of rldt_replay_sample */
    size_t image_bytes;             /* of one image; 0: no images */
    uint8_t *images, *next_images;  /* [capacity][T][image_bytes] (rldt_replay_add_images) */
} rldt_replay_t;

/* Allocates an empty buffer. */
void rldt_replay_init(rldt_replay_t *r, int obs_dim, int D, int T, int capacity);
void rldt_replay_free(rldt_replay_t *r);
/* Gives an empty buffer room for an image and a next image of image_bytes each per step. */
void rldt_replay_add_images(rldt_replay_t *r, size_t image_bytes);
/* Claims the slot of the next segment (the caller fills its T steps) and returns it. */
int rldt_replay_push(rldt_replay_t *r);
/* The slot of the i-th newest segment (i = 0: the newest), i < count. */
int rldt_replay_newest(const rldt_replay_t *r, int i);
/* Picks n distinct segments (n <= count) for a round: at least ceil(new_fraction * n) of them, as far as
 * available, among the `fresh` newest, the rest uniformly from all others. Writes slots to out. */
void rldt_replay_sample(rldt_replay_t *r, int fresh, int n, double new_fraction, rldt_rng_t *rng, int *out);

/* Row pointers of step t of segment slot s. */
static inline float *rldt_replay_obs(const rldt_replay_t *r, int s, int t) { return r->obs + ((size_t)s * r->T + t) * r->obs_dim; }
static inline float *rldt_replay_next_obs(const rldt_replay_t *r, int s, int t) { return r->next_obs + ((size_t)s * r->T + t) * r->obs_dim; }
static inline float *rldt_replay_act(const rldt_replay_t *r, int s, int t) { return r->act + ((size_t)s * r->T + t) * r->D; }
static inline uint8_t *rldt_replay_image(const rldt_replay_t *r, int s, int t, bool next)
{
    return (next ? r->next_images : r->images) + ((size_t)s * r->T + t) * r->image_bytes;
}
static inline size_t rldt_replay_step(const rldt_replay_t *r, int s, int t) { return (size_t)s * r->T + t; }

#ifdef __cplusplus
}
#endif
#endif
