/* cmd_sac.c — `rldt sac CONFIG [key=value ...]`: Soft Actor-Critic from scratch on the config's task (the
 * baseline, and the policy `rldt collect policy=` rolls out into datasets). Its memory is checked before
 * anything is allocated (rldt/memory.h). */
#include <stdio.h>

#include "cli.h"
#include "rldt/comm.h"
#include "rldt/memory.h"
#include "rldt/sac.h"

int rldt_cmd_sac(int argc, char **argv)
{
    if (argc < 2) return rldt_cli_usage("sac");
    if (rldt_comm_world()->size > 1) {
        fprintf(stderr, "rldt: sac does not run data-parallel (launched as %d ranks): run it as one process\n", rldt_comm_world()->size);
        return RLDT_ERR_USAGE;
    }
    rldt_config_t cfg;
    int st = rldt_cli_load_config(&cfg, argc, argv, NULL);
    if (st) return st;
    const rldt_env_spec_t *spec = rldt_env_from_config(&cfg);
    if (!spec) {
        rldt_error_set(RLDT_ERR_USAGE, "env.name: %s", rldt_error_message());
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    /* the run's outputs have paths that fit (the longest kept checkpoint name included) */
    static const char *const outputs[] = {"sac.ckpt", "sac_10000000000.ckpt", "metrics.csv", "metrics.jsonl"};
    char path[RLDT_PATH_MAX + 1];
    for (int i = 0; i < 4 && !st; i++) {
        st = rldt_config_run_path(&cfg, outputs[i], path, sizeof path);
        if (!st) st = rldt_config_check_output(&cfg, path, i < 2 ? "checkpoint" : "metrics file", i < 2);
    }
    if (st) return rldt_cli_fail(st);
    const rldt_backend_t *be = rldt_cli_backend(&cfg);
    if (!be) return rldt_cli_fail(RLDT_ERR_USAGE);
    rldt_mem_estimate_t e;
    rldt_mem_estimate_sac(&e, &cfg, spec);
    rldt_config_run_path(&cfg, "sac.ckpt", path, sizeof path);
    if ((st = rldt_mem_check(&e, "sac", be, path))) return rldt_cli_fail(st);
    rldt_sac_result_t res;
    if ((st = rldt_sac_train(&cfg, spec, be, &res))) return rldt_cli_fail(st);
    printf("sac %s: %ld env steps, %ld updates, %.0fs; eval return %.2f -> %.2f (success %.1f%%)\ncheckpoint: %s\n", cfg.env_name,
           res.env_steps, res.updates, res.seconds, res.eval_first.return_mean, res.eval_last.return_mean,
           100 * res.eval_last.success_rate, res.ckpt_path);
    return 0;
}
