/* rldt/memory.h — what a run will need, estimated before anything is allocated, and what the machine has.
 *
 * Each command that trains or collects builds an estimate from its config (network shapes, batch sizes,
 * the replay buffer, workspaces, the dataset) and calls rldt_mem_check before allocating: it logs the
 * estimate as part of the run header and refuses the run, with the estimate, when it does not fit.
 *   host memory:   compared with MemAvailable of /proc/meminfo (memory the kernel can hand out without
 *                  swapping), or less in a container (rldt_mem_available). Backend memory counts as host
 *                  memory on the CPU backends (cpu, cuda-emu).
 *   GPU memory:    the backend part is compared with the free memory the backend reports (mem_free: a
 *                  GPU's, from the driver) when it computes in memory of its own.
 *   disk:          the largest file the run writes (a checkpoint, or the dataset of `rldt collect`) is
 *                  compared with the free space of the file system that will hold it; a file that will not
 *                  fit is warned about, not refused (free space changes while a run goes on, and the
 *                  writers fail cleanly when it runs out).
 * Estimates are in bytes as doubles (absurd configs overflow no integer) and are upper bounds: every array
 * is counted at its full size (the workspaces as rldt_mlp_init sizes them), though pages of a zeroed buffer
 * the run has not used yet cost nothing until it does. */
#ifndef RLDT_MEMORY_H
#define RLDT_MEMORY_H

#include "rldt/backend.h"
#include "rldt/config.h"
#include "rldt/env.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RLDT_MEM_ITEMS 8

typedef struct {
    const char *what; /* e.g. "policy: parameters, gradients, Adam moments, EMA" */
    double host;      /* bytes in host memory */
    double device;    /* bytes in the backend's memory */
} rldt_mem_item_t;

typedef struct {
    rldt_mem_item_t item[RLDT_MEM_ITEMS];
    int n;
    double disk;           /* bytes of the largest file written */
    const char *disk_what; /* what that file is ("checkpoint", "dataset") */
} rldt_mem_estimate_t;

/* Host and backend bytes of everything (sums of the items). */
double rldt_mem_host_total(const rldt_mem_estimate_t *e);
double rldt_mem_device_total(const rldt_mem_estimate_t *e);

/* Pretraining (rldt pretrain): the policy of policy.* for obs_dim/act_dim with its trainer (parameters,
 * gradients, Adam moments, EMA, host copies for checkpoints), batches of pretrain.batch, and a dataset of
 * `samples` samples of `sample_bytes` bytes each (what rldt_dataset_load holds per sample). A pixel policy
 * (policy.encoder not none) of image_h x image_w x image_c images (all 0: none) adds its encoder's
 * parameters to the trained ones, and its workspace and the batches' images. */
void rldt_mem_estimate_pretrain(rldt_mem_estimate_t *e, const rldt_config_t *cfg, int obs_dim, int act_dim, double samples,
                                double sample_bytes, int image_h, int image_w, int image_c);
/* Fine-tuning (rldt finetune) of task `spec` on backend `be`: the actor, v_ref and the pretrained copy, the
 * critic ensemble (critic.*), the replay buffer (finetune.buffer_segments x finetune.n_steps; a second copy
 * in the backend's memory unless be is the CPU backend, NULL: counted), rollout and update buffers, the
 * envs, and the checkpoint. The policy's shape is read from `policy` (the config stored in the init or
 * resume checkpoint); everything else from cfg. A pixel policy (policy.encoder not none) in a task with
 * images adds its encoder and the critic's, their workspaces, and two images per buffer step (the image and
 * the next one) on the host and in the checkpoint. */
void rldt_mem_estimate_finetune(rldt_mem_estimate_t *e, const rldt_config_t *cfg, const rldt_config_t *policy,
                                const rldt_env_spec_t *spec, const rldt_backend_t *be);
/* Parameters of a fine-tune's actor (the policy of `policy`'s policy.* keys, for obs_dim/act_dim) and of its
 * critic ensemble (cfg's critic.* keys): the floats each data-parallel gradient average moves. */
void rldt_mem_param_counts(const rldt_config_t *cfg, const rldt_config_t *policy, int obs_dim, int act_dim, double *actor,
                           double *critic);
/* SAC (rldt sac) on task `spec`: the actor and the twin critics of sac.* with their trainers and workspaces
 * (batches of sac.batch), the replay buffer (sac.buffer, capped at sac.steps), the envs and the checkpoint. */
void rldt_mem_estimate_sac(rldt_mem_estimate_t *e, const rldt_config_t *cfg, const rldt_env_spec_t *spec);
/* Collecting `demos` expert demos of `spec` (rldt collect): the dataset file, counted at max_steps steps per
 * demo (an upper bound for tasks whose episodes can end early), and the writer's memory. */
void rldt_mem_estimate_collect(rldt_mem_estimate_t *e, const rldt_env_spec_t *spec, double demos);

/* Bytes the kernel reports as MemAvailable in /proc/meminfo, lowered to what the process's cgroup (v2
 * memory.max - memory.current, or v1) still allows and to $RLDT_MEM_AVAILABLE (bytes) when set; < 0 when
 * none of them can be read. */
double rldt_mem_available(void);
/* Free bytes (for an unprivileged user) of the file system that holds `path`, or of its nearest existing
 * parent directory when path does not exist yet; < 0 when unknown. */
double rldt_disk_available(const char *path);

/* Logs the estimate ("<command> memory estimate: ... host memory (...), ... on the GPU, ... checkpoint on
 * disk; available: ...") and checks it: host total (plus backend total on a backend that computes in host
 * memory, be->mem_free() < 0) against `mem_avail` bytes (< 0: not checked), and on a backend with memory of
 * its own the backend total against be->mem_free(); a run that does not fit: RLDT_ERR_USAGE with the
 * estimate, each item and what is available. e->disk beyond `disk_avail` (< 0: unknown) is a warning. */
rldt_status_t rldt_mem_check_against(const rldt_mem_estimate_t *e, const char *command, const rldt_backend_t *be,
                                     double mem_avail, double disk_avail);
/* rldt_mem_check_against with the machine's MemAvailable and the free space where `out_path` will go
 * (NULL: no disk check). */
rldt_status_t rldt_mem_check(const rldt_mem_estimate_t *e, const char *command, const rldt_backend_t *be, const char *out_path);

/* Formats bytes as "812 MB", "3.1 GB" or "34 TB" into buf (decimal units). Returns buf. */
const char *rldt_mem_format(double bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
