/* cmd_finetune.c — `rldt finetune CONFIG init=CKPT [key=value ...]`: RLDT online fine-tuning.
 * `init=` and `resume=` are short for finetune.init= and finetune.resume=. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/finetune.h"
#include "rldt/log.h"

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
    const rldt_env_spec_t *spec = rldt_env_find(cfg.env_name);
    if (!spec) {
        rldt_error_set(RLDT_ERR_USAGE, "env.name: %s", rldt_error_message());
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    const rldt_backend_t *be = rldt_cli_backend(&cfg);
    if (!be) return rldt_cli_fail(RLDT_ERR_USAGE);
    rldt_finetune_result_t res;
    if ((st = rldt_finetune(&cfg, spec, be, &res))) return rldt_cli_fail(st);
    printf("fine-tuned %s: %d iterations, %ld env steps, %.0fs; eval success %.1f%% -> %.1f%%, return %.2f -> %.2f; "
           "%ld skipped updates\ncheckpoint: %s\n",
           cfg.env_name, res.iterations, res.env_steps, res.seconds, 100 * res.eval_first.success_rate,
           100 * res.eval_last.success_rate, res.eval_first.return_mean, res.eval_last.return_mean, res.skipped, res.ckpt_path);
    return 0;
}
