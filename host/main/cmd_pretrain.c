/* cmd_pretrain.c — `rldt pretrain CONFIG [key=value ...]`: behaviour-cloning pretraining. */
#include <stdio.h>

#include "cli.h"
#include "rldt/comm.h"
#include "rldt/dataset.h"
#include "rldt/log.h"
#include "rldt/memory.h"
#include "rldt/pretrain.h"

/* The run's memory and checkpoint size, estimated from the config and the dataset's header before
 * anything is allocated; refused when it does not fit. */
static rldt_status_t check_size(const rldt_config_t *cfg, const rldt_backend_t *be)
{
    const rldt_env_spec_t *spec = rldt_env_from_config(cfg);
    if (!spec) return rldt_error_set(RLDT_ERR_USAGE, "env.name: %s", rldt_error_message());
    rldt_dataset_meta_t meta;
    size_t samples;
    rldt_dataset_opts_t o = {cfg->data_obs_keys, cfg->data_image_keys[0] ? cfg->data_image_keys : NULL, NULL};
    rldt_status_t st = rldt_dataset_peek(cfg->data_path, &o, &meta, &samples);
    if (st) return st;
    const rldt_dataset_image_key_t *k = meta.n_image_keys == 1 ? &meta.image_keys[0] : NULL; /* a pixel policy's */
    char ckpt[512];
    if ((st = rldt_config_run_path(cfg, "pretrain.ckpt", ckpt, sizeof ckpt))) return st;
    rldt_mem_estimate_t e;
    rldt_mem_estimate_pretrain(&e, cfg, spec->obs_dim, spec->act_dim, (double)samples, rldt_dataset_sample_bytes(&meta), k ? k->h : 0,
                               k ? k->w : 0, k ? k->c : 0);
    return rldt_mem_check(&e, "pretrain", be, ckpt);
}

int rldt_cmd_pretrain(int argc, char **argv)
{
    if (argc < 2) return rldt_cli_usage("pretrain");
    rldt_config_t cfg;
    int st = rldt_cli_load_config(&cfg, argc, argv, NULL);
    if (st) return st;
    const rldt_backend_t *be = rldt_cli_backend(&cfg);
    if (!be) return rldt_cli_fail(RLDT_ERR_USAGE);
    if ((st = check_size(&cfg, be))) return rldt_cli_fail(st);
    rldt_pretrain_result_t res;
    if ((st = rldt_pretrain(&cfg, be, &res))) return rldt_cli_fail(st);
    if (rldt_comm_world()->rank == 0) /* rank 0 evaluated and wrote the checkpoint */
        printf("pretrained %s: %ld steps, train loss %.4f, val loss %.4f; eval success %.1f%%, return %.2f ± %.2f over %d episodes; "
               "%ld skipped updates\ncheckpoint: %s\n",
               cfg.env_name, res.steps, res.train_loss, res.valid_loss, 100 * res.eval.success_rate, res.eval.return_mean,
               res.eval.return_std, res.eval.episodes, res.skipped, res.ckpt_path);
    return 0;
}
