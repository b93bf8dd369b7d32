/* rldt/finetune.h — RLDT online fine-tuning of a pretrained flow policy (RLDT.md §3–7).
 *
 * The loop reads like the algorithm box: every finetune.val_freq-th iteration only evaluates (fresh
 * episodes, no updates); every other one rolls out all envs for finetune.n_steps chunk-steps with
 * exploration (§6) into the FIFO segment buffer, then runs finetune.q_repeat rounds; each round draws
 * a batch of segments (at least finetune.new_fraction fresh), computes TD(λ) targets with bootstrap values
 * from M policy samples and the target critics (§5), takes finetune.critic_steps critic steps and, once the
 * iteration index exceeds finetune.critic_warmup, finetune.actor_steps actor steps on the transport loss
 * (§3–4). v_ref
 * is refreshed to the current policy at the end of each iteration (or stays the pretrained one with
 * finetune.anchor).
 *
 * Outputs in <run.out_dir>/<run.name>/: metrics.jsonl and metrics.csv (one row per iteration),
 * finetune.ckpt (and finetune_<itr>.ckpt every finetune.ckpt_every iterations). Every random draw comes
 * from a stream keyed by (run.seed, purpose, counter), and checkpoints hold the whole state (actor, v_ref,
 * critics, optimiser moments, the buffer, the reward scale, the envs): a resumed run continues bit-for-bit
 * on the same backend. Non-finite observations, rewards, losses or gradients skip the affected data or
 * update and are counted; finetune.max_skips consecutive skips stop the run with a checkpoint.
 *
 * A pixel policy (policy.encoder=drq, rldt/pixels.h) fine-tunes with finetune.algo=rldt in a task whose
 * images have its shape: the actor's loss trains its encoder too, the critic ensemble has its own shared
 * encoder with a Polyak target (rldt/critic.h), and the buffer and checkpoints keep each step's image and
 * next image (rldt/replay.h; host/rl/finetune_pixels.c).
 *
 * Data parallel (rldt/comm.h): every rank of the world calls rldt_finetune with the same config. Each steps
 * its own env.n_envs envs and samples its own batches (streams from rldt_comm_seed; rank 0's are the
 * single-process ones); gradients are averaged in every optimiser step and every decision that changes the
 * control flow is taken over the world, so the ranks stay bit-identical (checked every iteration; a
 * difference is an error). Rank 0 evaluates and writes the outputs; a checkpoint holds the world's envs and
 * buffers and resumes on any world size that splits them evenly (see finetune.c). Only rank 0's *res holds
 * the evaluations. */
#ifndef RLDT_FINETUNE_H
#define RLDT_FINETUNE_H

#include "rldt/backend.h"
#include "rldt/config.h"
#include "rldt/env.h"
#include "rldt/rollout.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int iterations;             /* completed */
    long env_steps;
    rldt_eval_result_t eval_first, eval_last; /* first and last evaluation */
    long skipped;               /* skipped updates and dropped segments */
    double seconds;
    char ckpt_path[512];
} rldt_finetune_result_t;

/* Fine-tunes the policy of cfg->ft_init (a pretrain or finetune checkpoint) on task `spec` (the envs'
 * obs/act dims must match the policy's), or resumes cfg->ft_resume. */
rldt_status_t rldt_finetune(const rldt_config_t *cfg, const rldt_env_spec_t *spec, const rldt_backend_t *be,
                            rldt_finetune_result_t *res);

#ifdef __cplusplus
}
#endif
#endif
