/* cmd_eval.c — `rldt eval CKPT [episodes=N] [export=FILE.h5] [frames=DIR] [deterministic=0|1] [seed=S] [n_envs=N]`:
 * evaluates a checkpoint's acting policy (a flow policy, or a SAC actor) on its task, optionally writing the episodes as a
 * robomimic-layout dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/log.h"
#include "rldt/path.h"
#include "rldt/rollout.h"

enum { ARG_EPISODES, ARG_EXPORT, ARG_FRAMES, ARG_DET, ARG_SEED, ARG_ENVS, N_ARGS };
static const rldt_cli_arg_t args[N_ARGS] = {
    [ARG_EPISODES] = {"episodes", RLDT_ARG_INTEGER, "", 1, 1e7, "episodes to run (default: the checkpoint's eval.episodes)"},
    [ARG_EXPORT] = {"export", RLDT_ARG_TEXT, "", 0, 0, "write the episodes to this HDF5 file (robomimic layout)"},
    [ARG_FRAMES] = {"frames", RLDT_ARG_TEXT, "", 0, 0, "write env 0's first episode as PNG frames into this directory"},
    [ARG_DET] = {"deterministic", RLDT_ARG_INTEGER, "", 0, 1, "1: sample from x_0 = 0 (default: eval.deterministic)"},
    [ARG_SEED] = {"seed", RLDT_ARG_INTEGER, "", 0, 4294967295.0, "episode and noise seed (default: run.seed + 7919)"},
    [ARG_ENVS] = {"n_envs", RLDT_ARG_INTEGER, "", 1, 65536, "parallel envs (default: env.n_envs)"},
};

int rldt_cmd_eval(int argc, char **argv)
{
    if (argc < 2) return rldt_cli_usage("eval");
    const char *ckpt_path = argv[1], *text[N_ARGS];
    double num[N_ARGS];
    int bad = rldt_cli_args(args, N_ARGS, argc, argv, 2, text, num);
    if (bad) return bad;
    const char *export_path = text[ARG_EXPORT][0] ? text[ARG_EXPORT] : NULL;
    rldt_config_t cfg;
    bool is_sac;
    int st = rldt_cli_policy_config(ckpt_path, &cfg, &is_sac);
    if (st) return rldt_cli_fail(st);
    if (export_path) {
        /* the episodes must not replace the checkpoint, nor a file its run read (its dataset, its init) */
        rldt_path_input_t inputs[1 + RLDT_CONFIG_INPUTS] = {{ckpt_path, "checkpoint"}};
        int n_inputs = 1 + rldt_config_input_paths(&cfg, inputs + 1);
        if ((st = rldt_path_check_output(export_path, "export=", inputs, n_inputs, true))) return rldt_cli_fail(st);
    }
    const rldt_backend_t *be = rldt_cli_backend(&cfg);
    if (!be) be = rldt_backend_cpu();
    /* a SAC policy is evaluated by its mean action unless asked otherwise */
    rldt_eval_opts_t o = {text[ARG_EPISODES][0] ? (int)num[ARG_EPISODES] : (int)cfg.eval_episodes,
                          text[ARG_ENVS][0] ? (int)num[ARG_ENVS] : (int)cfg.env_n_envs, (int)cfg.run_threads,
                          text[ARG_DET][0] ? num[ARG_DET] != 0 : is_sac || cfg.eval_deterministic,
                          text[ARG_SEED][0] ? (uint64_t)num[ARG_SEED] : (uint64_t)cfg.run_seed + 7919u, (int)cfg.env_max_steps, NULL,
                          text[ARG_FRAMES][0] ? text[ARG_FRAMES] : NULL};
    const rldt_env_spec_t *spec = rldt_env_from_config(&cfg);
    if (!spec) st = rldt_error_set(RLDT_ERR_USAGE, "%s: the task of its config: %s", ckpt_path, rldt_error_message());
    rldt_cli_policy_t p;
    memset(&p, 0, sizeof p);
    if (!st) st = rldt_cli_policy_open(&p, ckpt_path, spec, &o, be);
    char collect_args[256];
    snprintf(collect_args, sizeof collect_args, "{\"source\": \"rldt eval\", \"episodes\": %d, \"deterministic\": %s}", o.episodes,
             o.deterministic ? "true" : "false");
    rldt_eval_result_t res;
    if (!st) st = rldt_cli_run_episodes(&p.agent, spec, &o, export_path, collect_args, &res);
    rldt_cli_policy_close(&p);
    if (st) return rldt_cli_fail(st);
    printf("%s: %d episodes, success %.1f%%, return %.2f ± %.2f, length %.1f, %ld env steps in %.1fs\n", cfg.env_name,
           res.episodes, 100 * res.success_rate, res.return_mean, res.return_std, res.length_mean, res.env_steps, res.seconds);
    if (export_path) printf("exported %d episodes to %s\n", res.episodes, export_path);
    if (o.frames_dir) printf("frames of the first episode in %s\n", o.frames_dir);
    return 0;
}
