/* cmd_finetune.c — `rldt finetune CONFIG init=CKPT [key=value ...]`: RLDT online fine-tuning, on one
 * process or, under mpirun/srun, on every rank of a data-parallel world (rank 0 prints the summary).
 * `init=` and `resume=` are short for finetune.init= and finetune.resume=. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/comm.h"
#include "rldt/checkpoint.h"
#include "rldt/finetune.h"
#include "rldt/log.h"
#include "rldt/memory.h"

/* Before anything is allocated: the checkpoint to start from is a regular file, the run's outputs have
 * paths that fit and replace none of its inputs, and its memory and checkpoint fit the machine (the
 * policy's shape comes from the checkpoint's config). */
static rldt_status_t check_run(const rldt_config_t *cfg, const rldt_env_spec_t *spec, const rldt_backend_t *be)
{
    const char *from = cfg->ft_resume[0] ? cfg->ft_resume : cfg->ft_init;
    if (!from[0]) return rldt_error_set(RLDT_ERR_USAGE, "finetune needs init=CHECKPOINT (or finetune.resume=CHECKPOINT)");
    rldt_status_t st = rldt_path_check_input(from, cfg->ft_resume[0] ? "checkpoint (finetune.resume)" : "checkpoint (init=)");
    /* the same limit as rldt_finetune_result_t.ckpt_path, which holds the longest of these */
    static const char *const outputs[] = {"finetune_stopped.ckpt", "finetune.ckpt", "metrics.csv", "metrics.jsonl"};
    char ckpt[sizeof ((rldt_finetune_result_t *)0)->ckpt_path];
    for (int i = 0; i < 4 && !st; i++) {
        st = rldt_config_run_path(cfg, outputs[i], ckpt, sizeof ckpt);
        if (!st) st = rldt_config_check_output(cfg, ckpt, i < 2 ? "checkpoint" : "metrics file", i < 2);
    }
    rldt_ckpt_t *c;
    if (!st) st = rldt_ckpt_open(&c, from, NULL);
    if (st) return st;
    rldt_config_t policy;
    rldt_config_defaults(&policy);
    st = rldt_config_from_json(&policy, rldt_ckpt_config(c), from);
    rldt_ckpt_close(c);
    if (st) return st;
    rldt_mem_estimate_t e;
    rldt_mem_estimate_finetune(&e, cfg, &policy, spec, be);
    rldt_config_run_path(cfg, "finetune.ckpt", ckpt, sizeof ckpt);
    return rldt_mem_check(&e, "finetune", be, ckpt);
}

int rldt_cmd_finetune(int argc, char **argv)
{
    if (argc < 2) return rldt_cli_usage("finetune");
    char **args = rldt_xmalloc(sizeof(char *) * (size_t)argc);
    char **owned = rldt_xcalloc((size_t)argc, sizeof(char *));
    for (int i = 0; i < argc; i++) {
        args[i] = argv[i];
        const char *alias = !strncmp(argv[i], "init=", 5) ? "finetune.init=" : !strncmp(argv[i], "resume=", 7) ? "finetune.resume=" : NULL;
        if (alias) {
            size_t len = strlen(alias) + strlen(strchr(argv[i], '=') + 1) + 1;
            owned[i] = rldt_xmalloc(len);
            snprintf(owned[i], len, "%s%s", alias, strchr(argv[i], '=') + 1);
            args[i] = owned[i];
        }
    }
    rldt_config_t cfg;
    int st = rldt_cli_load_config(&cfg, argc, args, NULL);
    for (int i = 0; i < argc; i++) free(owned[i]);
    free(owned), free(args);
    if (st) return st;
    const rldt_env_spec_t *spec = rldt_env_from_config(&cfg);
    if (!spec) {
        rldt_error_set(RLDT_ERR_USAGE, "env.name: %s", rldt_error_message());
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    const rldt_backend_t *be = rldt_cli_backend(&cfg);
    if (!be) return rldt_cli_fail(RLDT_ERR_USAGE);
    if ((st = check_run(&cfg, spec, be))) return rldt_cli_fail(st);
    rldt_finetune_result_t res;
    if ((st = rldt_finetune(&cfg, spec, be, &res))) return rldt_cli_fail(st);
    if (rldt_comm_world()->rank == 0) /* rank 0 evaluated and wrote the checkpoint */
        printf("fine-tuned %s: %d iterations, %ld env steps, %.0fs; eval success %.1f%% -> %.1f%%, return %.2f -> %.2f; "
               "%ld skipped updates\ncheckpoint: %s\n",
               cfg.env_name, res.iterations, res.env_steps, res.seconds, 100 * res.eval_first.success_rate,
               100 * res.eval_last.success_rate, res.eval_first.return_mean, res.eval_last.return_mean, res.skipped, res.ckpt_path);
    return 0;
}
