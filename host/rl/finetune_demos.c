/* finetune_demos.c — finetune.demo_segments: a new fine-tune's buffer seeded with demonstrations.
 *
 * RLDT.md §7 starts with an empty buffer; this opt-in departs from it. Before the first rollout, the train
 * demos of data.path (read as pretraining reads them: rldt_pretrain_demos) go into the FIFO as the segments
 * one env running them back to back would have filled: each demo cut into chunks of policy.chunk steps from
 * its first step, each chunk one chunk-step (the observation it starts from and its actions, standardised and
 * normalised as pretraining learns them and clipped to [-1, 1] as rollouts store executed chunks; a last
 * partial chunk repeats the demo's last action, as pretraining pads it, and ends there as a rollout's chunk
 * stops where its episode ends), T chunk-steps a segment, episodes running on across segments. The chunk's
 * reward, next observation and flags follow ft_rollout: the raw reward is the sum over the chunk's steps, the
 * next observation the one after its last step (the terminal one at a demo's end), and rldt_transition makes
 * the stored transition (sparse tasks: increments, divided by max(1, the largest raw chunk reward of the
 * demos); dense tasks: raw, scaled later by the running |r| that only rollouts update). A file keeps no
 * per-step success or terminated flag: a demo's success is its last step's, and its last step counts as
 * terminated when the demo ended before the file's step limit (only the task can end it earlier), else as
 * truncated (a task that terminates exactly at its limit, like the one-step bandit2d, is misread: its last
 * chunk bootstraps). The steps of the last segment after the demos run out are zero with mask 0, as a dropped
 * segment's. Demo segments are then ordinary FIFO entries: older than every rollout's (never "fresh"),
 * evicted by new rollouts once the buffer is full. */
#include <math.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/comm.h"
#include "rldt/log.h"
#include "rldt/pretrain.h"

/* Fills the buffer from d: at most max_segs segments; the counts go to *segs, *steps and *successes. */
static rldt_status_t fill(ft_t *f, const rldt_dataset_t *d, int max_segs, int *segs, long *steps, long *successes)
{
    const rldt_config_t *cfg = f->cfg;
    rldt_replay_t *b = &f->buf;
    int od = f->od, D = f->D, C = f->pol.spec.chunk, T = f->T, s = -1, t = T, n = 0;
    float prev_raw = 0.0f, max_raw = 1.0f;
    uint8_t seen_success = 0;
    for (int e = 0; e < d->n_demos; e++) {
        size_t end = d->ep_start[e + 1], len = end - d->ep_start[e];
        for (size_t at = d->ep_start[e]; at < end; at += (size_t)C) {
            if (t == T) { /* the next segment */
                if (n == max_segs) goto full;
                s = rldt_replay_push(b), t = 0, n++;
            }
            size_t last = at + (size_t)C < end ? at + (size_t)C - 1 : end - 1, row = rldt_replay_step(b, s, t);
            float *act = rldt_replay_act(b, s, t), raw = 0.0f;
            rldt_pretrain_chunk(d, &f->pol, &f->px, at, rldt_replay_obs(b, s, t), act);
            for (int k = 0; k < D; k++) act[k] = act[k] < -1.0f ? -1.0f : (act[k] > 1.0f ? 1.0f : act[k]);
            rldt_policy_observe(&f->pol, d->next_obs + last * (size_t)od, rldt_replay_next_obs(b, s, t), 1);
            for (size_t j = at; j <= last; j++) raw += d->rewards[j];
            bool ends = last == end - 1, success = ends && d->ep_success[e];
            bool terminated = ends && len < (size_t)d->meta.max_steps, truncated = ends && !terminated;
            if (!isfinite(raw) || !ft_all_finite(rldt_replay_obs(b, s, t), (size_t)od) || !ft_all_finite(rldt_replay_next_obs(b, s, t), (size_t)od))
                return rldt_error_set(RLDT_ERR_USAGE, "finetune.demo_segments: demo_%d of %s gives a non-finite chunk at its step %zu "
                                      "(its observations overflow the policy's standardisation, or its rewards' sum)",
                                      d->demo_ids[e], cfg->data_path, at - d->ep_start[e]);
            if (raw > max_raw) max_raw = raw;
            rldt_transition_t x = rldt_transition(&prev_raw, &seen_success, raw, success, terminated, truncated, f->sparse,
                                                  cfg->reward_mask_success);
            b->rew[row] = x.reward;
            b->term[row] = x.terminal;
            b->ended[row] = x.ended;
            b->success[row] = success;
            b->mask[row] = x.mask;
            *successes += success;
            (*steps)++;
            t++;
        }
    }
full:
    for (; s >= 0 && t < T; t++) { /* the last segment's steps after the demos: masked out */
        size_t row = rldt_replay_step(b, s, t);
        memset(rldt_replay_obs(b, s, t), 0, sizeof(float) * (size_t)od);
        memset(rldt_replay_next_obs(b, s, t), 0, sizeof(float) * (size_t)od);
        memset(rldt_replay_act(b, s, t), 0, sizeof(float) * (size_t)D);
        b->rew[row] = 0.0f;
        b->term[row] = b->ended[row] = b->success[row] = b->mask[row] = 0;
    }
    if (f->sparse)
        for (size_t i = 0; i < (size_t)n * T; i++) b->rew[i] /= max_raw; /* the slots 0 .. n-1 of an empty buffer */
    *segs = n;
    return RLDT_OK;
}

rldt_status_t ft_demos(ft_t *f)
{
    const rldt_config_t *cfg = f->cfg;
    if (f->algo == FT_PPO)
        return rldt_error_set(RLDT_ERR_USAGE, "finetune.demo_segments=%ld: finetune.algo=ppo learns from its last rollout only "
                              "(no replay buffer to seed); set it to 0", cfg->ft_demo_segments);
    if (f->img_bytes)
        return rldt_error_set(RLDT_ERR_USAGE, "finetune.demo_segments=%ld: not supported for pixel policies (policy.encoder=%s); "
                              "set it to 0", cfg->ft_demo_segments, cfg->policy_encoder);
    if (rldt_comm_world()->size > 1)
        return rldt_error_set(RLDT_ERR_USAGE, "finetune.demo_segments=%ld: supported on one rank only", cfg->ft_demo_segments);
    if (f->buf.pushed)
        return rldt_error_set(RLDT_ERR, "finetune.demo_segments: the buffer is not empty");
    rldt_dataset_t d = {0};
    rldt_status_t st = rldt_pretrain_demos(cfg, f->spec, &d, NULL);
    if (st) {
        char why[512];
        snprintf(why, sizeof why, "%s", rldt_error_message());
        return rldt_error_set(st, "finetune.demo_segments: %s", why);
    }
    if (!d.meta.has_next_obs)
        st = rldt_error_set(RLDT_ERR_USAGE, "finetune.demo_segments: %s has no next_obs/ for its observation keys (a chunk's next "
                            "observation comes from there)", cfg->data_path);
    else if (d.meta.max_steps < 1)
        st = rldt_error_set(RLDT_ERR_USAGE, "finetune.demo_segments: %s: step limit %d (must be >= 1)", cfg->data_path, d.meta.max_steps);
    int max_segs = cfg->ft_demo_segments < f->buf.capacity ? (int)cfg->ft_demo_segments : f->buf.capacity, segs = 0;
    long steps = 0, successes = 0;
    if (!st) st = fill(f, &d, max_segs, &segs, &steps, &successes);
    if (!st) {
        f->demo_segments = segs;
        ft_mirror(f, 0, segs);
        rldt_info("finetune.demo_segments: %d demo segment(s) (%ld chunk-step transitions, %ld successes) from %d train demos of %s "
                  "in a buffer of %d", segs, steps, successes, d.n_demos, cfg->data_path, f->buf.capacity);
    }
    rldt_dataset_free(&d);
    return st;
}
