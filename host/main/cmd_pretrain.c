/* cmd_pretrain.c — `rldt pretrain CONFIG [key=value ...]`: behaviour-cloning pretraining. */
#include <stdio.h>

#include "cli.h"
#include "rldt/log.h"
#include "rldt/pretrain.h"

int rldt_cmd_pretrain(int argc, char **argv)
{
    if (argc < 2) return rldt_cli_usage("pretrain");
    rldt_config_t cfg;
    int st = rldt_cli_load_config(&cfg, argc, argv, NULL);
    if (st) return st;
    const rldt_backend_t *be = rldt_cli_backend(&cfg);
    if (!be) return rldt_cli_fail(RLDT_ERR_USAGE);
    rldt_pretrain_result_t res;
    if ((st = rldt_pretrain(&cfg, be, &res))) return rldt_cli_fail(st);
    printf("pretrained %s: %ld steps, train loss %.4f, val loss %.4f; eval success %.1f%%, return %.2f ± %.2f over %d episodes\n"
           "checkpoint: %s\n",
           cfg.env_name, res.steps, res.train_loss, res.valid_loss, 100 * res.eval.success_rate, res.eval.return_mean,
           res.eval.return_std, res.eval.episodes, res.ckpt_path);
    return 0;
}
