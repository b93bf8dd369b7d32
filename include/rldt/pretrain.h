/* rldt/pretrain.h — behaviour-cloning pretraining of a flow-matching policy (RLDT.md §1).
 *
 * Minimises E_{t~U[0,1], z~N(0,I)} || v(x_t, t | s) - (a - z) ||^2 with x_t = (1 - t) z + t a over the
 * demonstration chunks of an HDF5 dataset (mask/train; validation loss on mask/valid; a robomimic file
 * without masks: all its demos for both; the observation is data.obs_keys side by side), with AdamW,
 * warm-up + cosine learning rate and an EMA of the weights (the EMA weights are evaluated and saved as
 * policy/weights). A chunk starts at any sample and takes the next `chunk` actions of its episode, repeating
 * the episode's last action past its end.
 *
 * Every random draw of step s comes from the stream (run.seed, RLDT_STREAM_TRAIN, s): a run resumed from
 * a checkpoint continues bit-for-bit on the same backend. */
#ifndef RLDT_PRETRAIN_H
#define RLDT_PRETRAIN_H

#include "rldt/backend.h"
#include "rldt/config.h"
#include "rldt/dataset.h"
#include "rldt/pixels.h"
#include "rldt/rollout.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    long steps;            /* steps taken in total (resumed ones included) */
    double train_loss;     /* mean over the last logging interval */
    double valid_loss;     /* EMA weights on the fixed validation batch */
    rldt_eval_result_t eval; /* the final evaluation (episodes = 0 if none ran) */
    long skipped;          /* updates skipped for a non-finite loss or gradient (resumed ones included) */
    char ckpt_path[512];   /* the final checkpoint */
} rldt_pretrain_result_t;

/* Runs pretraining as configured (cfg->pre_*, policy.*, data.path, eval.*), writing
 * <run.out_dir>/<run.name>/pretrain.ckpt (and pretrain_<step>.ckpt every pretrain.ckpt_every steps).
 * A step whose loss or gradient is not finite is skipped (no update) and counted; pretrain.max_skips of them
 * in a row stop the run with RLDT_ERR after saving the state to pretrain_stopped.ckpt. Checkpoints hold the
 * scalars step, adam_step, skipped, skips_in_a_row, obs_dim and act_dim; pretrain.resume checks each against
 * the config and the others before it is used (RLDT_ERR_USAGE naming the scalar and its value). A run
 * directory whose paths do not fit, or a checkpoint path that is the data.path file, is refused before
 * anything is loaded. */
rldt_status_t rldt_pretrain(const rldt_config_t *cfg, const rldt_backend_t *be, rldt_pretrain_result_t *res);
/* The demos pretraining learns from, as data.path, data.obs_keys and data.image_keys name them: /mask/train
 * into train (every demo of a robomimic file without masks) and, when valid is not NULL and the file has
 * validation demos, /mask/valid into valid. A file of another task than spec, or of other obs/act dims:
 * RLDT_ERR_USAGE naming the file and both shapes. On failure both are left empty. */
rldt_status_t rldt_pretrain_demos(const rldt_config_t *cfg, const rldt_env_spec_t *spec, rldt_dataset_t *train,
                                  rldt_dataset_t *valid);
/* The chunk that starts at sample s of d, as pretraining learns it: the observation standardised by p (a pixel
 * policy's feature columns 0 until encoded) into obs_row, and the next p->spec.chunk actions normalised to p's
 * [-1, 1] units into act_row, repeating the episode's last action past its end. */
void rldt_pretrain_chunk(const rldt_dataset_t *d, const rldt_policy_t *p, const rldt_pixels_t *px, size_t s, float *obs_row,
                         float *act_row);

#ifdef __cplusplus
}
#endif
#endif
