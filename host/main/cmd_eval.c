/* cmd_eval.c — `rldt eval CKPT [episodes=N] [export=FILE.h5] [frames=DIR] [deterministic=0|1] [seed=S] [n_envs=N]`:
 * evaluates a checkpoint's acting policy on its task, optionally writing the episodes as a
 * robomimic-layout dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/checkpoint.h"
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
    rldt_ckpt_t *c;
    int st = rldt_path_check_input(ckpt_path, "checkpoint");
    if (!st) st = rldt_ckpt_open(&c, ckpt_path, NULL);
    if (st) return rldt_cli_fail(st);
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    if ((st = rldt_config_from_json(&cfg, rldt_ckpt_config(c), ckpt_path))) {
        rldt_ckpt_close(c);
        return rldt_cli_fail(st);
    }
    if (export_path) {
        /* the episodes must not replace the checkpoint, nor a file its run read (its dataset, its init) */
        rldt_path_input_t inputs[1 + RLDT_CONFIG_INPUTS] = {{ckpt_path, "checkpoint"}};
        int n_inputs = 1 + rldt_config_input_paths(&cfg, inputs + 1);
        if ((st = rldt_path_check_output(export_path, "export=", inputs, n_inputs, true))) {
            rldt_ckpt_close(c);
            return rldt_cli_fail(st);
        }
    }
    const rldt_backend_t *be = rldt_cli_backend(&cfg);
    if (!be) be = rldt_backend_cpu();
    rldt_eval_opts_t o = {text[ARG_EPISODES][0] ? (int)num[ARG_EPISODES] : (int)cfg.eval_episodes,
                          text[ARG_ENVS][0] ? (int)num[ARG_ENVS] : (int)cfg.env_n_envs, (int)cfg.run_threads,
                          text[ARG_DET][0] ? num[ARG_DET] != 0 : cfg.eval_deterministic,
                          text[ARG_SEED][0] ? (uint64_t)num[ARG_SEED] : (uint64_t)cfg.run_seed + 7919u, (int)cfg.env_max_steps, NULL,
                          text[ARG_FRAMES][0] ? text[ARG_FRAMES] : NULL};
    rldt_policy_t p;
    if ((st = rldt_policy_from_ckpt(c, &cfg, &p, o.n_envs, be))) {
        rldt_ckpt_close(c);
        return rldt_cli_fail(st);
    }
    float *host = rldt_xmalloc(sizeof(float) * p.nparams), *params = be->alloc(sizeof(float) * p.nparams);
    st = rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, host, p.nparams);
    rldt_ckpt_close(c);
    const rldt_env_spec_t *spec = rldt_env_from_config(&cfg);
    if (!st && !spec) st = rldt_error_set(RLDT_ERR_USAGE, "%s: the task of its config: %s", ckpt_path, rldt_error_message());
    if (!st && export_path) {
        char collect_args[256];
        snprintf(collect_args, sizeof collect_args, "{\"source\": \"rldt eval\", \"episodes\": %d, \"deterministic\": %s}", o.episodes,
                 o.deterministic ? "true" : "false");
        st = rldt_dataset_writer_open(&o.export, export_path, spec, o.max_steps, collect_args);
    }
    rldt_eval_result_t res;
    if (!st) {
        be->upload(params, host, sizeof(float) * p.nparams);
        st = rldt_evaluate(&p, params, spec, &o, &res);
    }
    if (o.export) {
        if (st) rldt_dataset_writer_abort(o.export);
        else st = rldt_dataset_writer_close(o.export, o.seed);
    }
    free(host);
    be->free(params);
    rldt_policy_free(&p);
    if (st) return rldt_cli_fail(st);
    printf("%s: %d episodes, success %.1f%%, return %.2f ± %.2f, length %.1f, %ld env steps in %.1fs\n", cfg.env_name,
           res.episodes, 100 * res.success_rate, res.return_mean, res.return_std, res.length_mean, res.env_steps, res.seconds);
    if (export_path) printf("exported %d episodes to %s\n", res.episodes, export_path);
    if (o.frames_dir) printf("frames of the first episode in %s\n", o.frames_dir);
    return 0;
}
