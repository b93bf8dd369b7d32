/* replay.c — the FIFO segment buffer (see rldt/replay.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/common.h"
#include "rldt/replay.h"

void rldt_replay_init(rldt_replay_t *r, int obs_dim, int D, int T, int capacity)
{
    memset(r, 0, sizeof *r);
    r->obs_dim = obs_dim;
    r->D = D;
    r->T = T;
    r->capacity = capacity;
    size_t steps = (size_t)capacity * T;
    r->obs = rldt_xcalloc(steps * obs_dim, sizeof(float));
    r->next_obs = rldt_xcalloc(steps * obs_dim, sizeof(float));
    r->act = rldt_xcalloc(steps * D, sizeof(float));
    r->rew = rldt_xcalloc(steps, sizeof(float));
    r->term = rldt_xcalloc(steps, 1);
    r->ended = rldt_xcalloc(steps, 1);
    r->success = rldt_xcalloc(steps, 1);
    r->mask = rldt_xcalloc(steps, 1);
    r->order = rldt_xmalloc(sizeof(int) * (size_t)capacity);
}

void rldt_replay_free(rldt_replay_t *r)
{
    free(r->obs), free(r->next_obs), free(r->act), free(r->rew);
    free(r->term), free(r->ended), free(r->success), free(r->mask), free(r->order);
    free(r->images), free(r->next_images);
    memset(r, 0, sizeof *r);
}

void rldt_replay_add_images(rldt_replay_t *r, size_t image_bytes)
{
    size_t steps = (size_t)r->capacity * r->T;
    r->image_bytes = image_bytes;
    r->images = rldt_xcalloc(steps, image_bytes);
    r->next_images = rldt_xcalloc(steps, image_bytes);
}

int rldt_replay_push(rldt_replay_t *r)
{
    int slot = (int)(r->pushed % r->capacity);
    r->pushed++;
    if (r->count < r->capacity) r->count++;
    return slot;
}

int rldt_replay_newest(const rldt_replay_t *r, int i) { return (int)((r->pushed - 1 - i) % r->capacity); }

/* Moves k distinct picks from ids[0..n) to its front (partial Fisher-Yates). */
static void pick(int *ids, int n, int k, rldt_rng_t *rng)
{
    for (int i = 0; i < k; i++) {
        int j = i + (int)rldt_rng_below(rng, (uint32_t)(n - i));
        int tmp = ids[i];
        ids[i] = ids[j];
        ids[j] = tmp;
    }
}

void rldt_replay_sample(rldt_replay_t *r, int fresh, int n, double new_fraction, rldt_rng_t *rng, int *out)
{
    if (fresh > r->count) fresh = r->count;
    int older = r->count - fresh;
    int want_new = (int)ceil(new_fraction * n - 1e-9);
    if (want_new < n - older) want_new = n - older; /* not enough old ones: take more new */
    if (want_new > fresh) want_new = fresh;
    int *ids = r->order;
    for (int i = 0; i < r->count; i++) ids[i] = rldt_replay_newest(r, i);
    pick(ids, fresh, want_new, rng);
    pick(ids + fresh, older, n - want_new, rng);
    memcpy(out, ids, sizeof(int) * (size_t)want_new);
    memcpy(out + want_new, ids + fresh, sizeof(int) * (size_t)(n - want_new));
}
