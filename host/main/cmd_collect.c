/* cmd_collect.c — `rldt collect env=NAME demos=N noise=X seed=S out=FILE.h5 [threads=T] [env.KEY=VALUE ...]`:
 * scripted-expert demonstrations in the robomimic HDF5 layout; env.* config keys open Gymnasium and robosuite
 * envs (env.name=robosuite:Lift env.kwargs=... env.max_steps=...), whose experts run in the workers. With
 * policy=CKPT, the episodes of a trained policy instead (a SAC actor's mean action or a flow policy sampled
 * from x_0 = 0, plus optional Gaussian noise), written the same way: a D4RL-style "medium" or "expert" dataset
 * from a checkpoint (whose config gives the env.* keys). Takes plain key=value arguments, each checked against
 * the table below, besides the env.* config keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/dataset.h"
#include "rldt/memory.h"
#include "rldt/path.h"

#define TEXT_(x) #x
#define TEXT_OF(x) TEXT_(x)

enum { ARG_ENV, ARG_POLICY, ARG_DEMOS, ARG_NOISE, ARG_SEED, ARG_OUT, ARG_THREADS, ARG_ENVS, N_ARGS };
static const rldt_cli_arg_t args[N_ARGS] = {
    [ARG_ENV] = {"env", RLDT_ARG_TEXT, "", 0, 0, "task name (with policy=: the checkpoint's task unless given)"},
    [ARG_POLICY] = {"policy", RLDT_ARG_TEXT, "", 0, 0, "checkpoint whose policy acts instead of the scripted expert (sac, pretrain or finetune)"},
    [ARG_DEMOS] = {"demos", RLDT_ARG_INTEGER, "100", 1, 1e7, "episodes to record"},
    [ARG_NOISE] = {"noise", RLDT_ARG_NUMBER, "", 0, 100, "std of the Gaussian noise added to the actions (default 0.05 for the expert, 0 for a policy)"},
    [ARG_SEED] = {"seed", RLDT_ARG_INTEGER, "0", 0, 4294967295.0, "seed of the episodes, the noise and the train/valid split"},
    [ARG_OUT] = {"out", RLDT_ARG_TEXT, NULL, 0, 0, "output HDF5 file (written to OUT.tmp, then renamed)"},
    [ARG_THREADS] = {"threads", RLDT_ARG_INTEGER, "0", 0, 1024, "env threads (0 = one per core)"},
    [ARG_ENVS] = {"envs", RLDT_ARG_INTEGER, TEXT_OF(RLDT_COLLECT_ENVS), 1, 4096, "envs stepped side by side (the episodes written are the first to finish)"},
};

/* Prints the task table after an unknown task name. */
static int unknown_task(void)
{
    rldt_cli_fail(RLDT_ERR_USAGE);
    fprintf(stderr, "tasks:\n");
    for (int i = 0; i < rldt_env_count(); i++) fprintf(stderr, "  %-16s %s\n", rldt_env_spec_at(i)->name, rldt_env_spec_at(i)->summary);
    return RLDT_ERR_USAGE;
}

/* The episodes of the policy in checkpoint `path` (deterministic, with noise) into the dataset. */
static int collect_policy(const char **text, const double *num, const char *path)
{
    rldt_config_t cfg;
    bool is_sac;
    rldt_status_t st = rldt_cli_policy_config(path, &cfg, &is_sac);
    if (st) return rldt_cli_fail(st);
    const rldt_env_spec_t *spec = text[ARG_ENV][0] ? rldt_env_find(text[ARG_ENV]) : rldt_env_from_config(&cfg);
    if (!spec) return unknown_task();
    rldt_path_input_t inputs[1] = {{path, "policy checkpoint"}};
    rldt_mem_estimate_t e;
    rldt_mem_estimate_collect(&e, spec, num[ARG_DEMOS]);
    st = rldt_path_check_output(text[ARG_OUT], "out=", inputs, 1, true);
    if (!st) st = rldt_mem_check(&e, "collect", NULL, text[ARG_OUT]);
    if (st) return rldt_cli_fail(st);
    const rldt_backend_t *be = rldt_cli_backend(&cfg);
    if (!be) be = rldt_backend_cpu();
    float noise = (float)num[ARG_NOISE];
    rldt_eval_opts_t o = {(int)num[ARG_DEMOS], (int)num[ARG_ENVS], (int)num[ARG_THREADS], true, (uint64_t)num[ARG_SEED], 0, NULL, NULL};
    rldt_cli_policy_t p;
    rldt_noisy_agent_t noisy;
    rldt_agent_t agent;
    rldt_eval_result_t res;
    st = rldt_cli_policy_open(&p, path, spec, &o, be);
    if (!st) {
        agent = p.agent;
        if (noise > 0) rldt_noisy_agent_init(&noisy, &p.agent, noise, o.seed, &agent);
        char collect[512];
        snprintf(collect, sizeof collect, "{\"expert\": \"policy\", \"policy_kind\": \"%s\", \"noise\": %g, \"seed\": %llu, \"demos\": %d, "
                 "\"envs\": %d}", is_sac ? "sac" : "flow", noise, (unsigned long long)o.seed, o.episodes, o.n_envs);
        st = rldt_cli_run_episodes(&agent, spec, &o, text[ARG_OUT], collect, &res);
    }
    rldt_cli_policy_close(&p);
    if (st) return rldt_cli_fail(st);
    printf("collect %s: wrote %d episodes of the %s policy (noise %g), return %.2f ± %.2f, success %.1f%%, %.0f samples to %s\n",
           spec->name, res.episodes, is_sac ? "SAC" : "flow", noise, res.return_mean, res.return_std, 100 * res.success_rate,
           res.length_mean * res.episodes, text[ARG_OUT]);
    return 0;
}

/* Moves the env.* config keys of argv[1..argc) into cfg (its defaults first; *keys counts them, *named says
 * whether env.name was one) and the rest into rest[1..]; returns the count of rest (with argv[0]), or -1 after
 * a bad key or value. */
static int split_env_keys(int argc, char **argv, rldt_config_t *cfg, int *keys, bool *named, char **rest)
{
    rldt_config_defaults(cfg);
    *keys = 0;
    *named = false;
    int n = 0;
    rest[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (strncmp(argv[i], "env.", 4) != 0 || !eq) {
            rest[n++] = argv[i];
            continue;
        }
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - argv[i]), argv[i]);
        if (rldt_config_set(cfg, key, eq + 1, "command line", 0)) return -1;
        *named |= strcmp(key, "env.name") == 0;
        ++*keys;
    }
    return n;
}

int rldt_cmd_collect(int argc, char **argv)
{
    const char *text[N_ARGS];
    double num[N_ARGS];
    rldt_config_t cfg;
    bool named;
    int keys;
    char **rest = rldt_xmalloc((size_t)argc * sizeof *rest);
    int n_rest = split_env_keys(argc, argv, &cfg, &keys, &named, rest);
    int bad = n_rest < 0 ? rldt_cli_fail(RLDT_ERR_USAGE) : rldt_cli_args(args, N_ARGS, n_rest, rest, 1, text, num);
    free(rest);
    if (bad) return bad;
    if (text[ARG_POLICY][0] && keys) {
        rldt_error_set(RLDT_ERR_USAGE, "collect policy=%s: the env.* keys come from the checkpoint's config (give env=NAME for "
                       "another native task)", text[ARG_POLICY]);
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    if (text[ARG_POLICY][0]) return collect_policy(text, num, text[ARG_POLICY]);
    if (!text[ARG_ENV][0] && !named) {
        rldt_error_set(RLDT_ERR_USAGE, "missing argument env=NAME (the scripted expert) or policy=CHECKPOINT");
        return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    if (text[ARG_ENV][0]) snprintf(cfg.env_name, sizeof cfg.env_name, "%s", text[ARG_ENV]);
    const rldt_env_spec_t *spec = rldt_env_from_config(&cfg);
    if (!spec) return strchr(cfg.env_name, ':') ? rldt_cli_fail(RLDT_ERR_USAGE) : unknown_task(); /* worker envs: the worker's error */
    rldt_mem_estimate_t e;
    rldt_mem_estimate_collect(&e, spec, num[ARG_DEMOS]);
    rldt_status_t checked = rldt_path_check_output(text[ARG_OUT], "out=", NULL, 0, true);
    if (!checked) checked = rldt_mem_check(&e, "collect", NULL, text[ARG_OUT]);
    if (checked) return rldt_cli_fail(checked);
    rldt_collect_opts_t o = {
        .spec = spec,
        .demos = (int)num[ARG_DEMOS],
        .noise = text[ARG_NOISE][0] ? num[ARG_NOISE] : 0.05,
        .seed = (uint64_t)num[ARG_SEED],
        .threads = (int)num[ARG_THREADS],
        .max_steps = (int)cfg.env_max_steps,
        .envs = (int)num[ARG_ENVS],
        .path = text[ARG_OUT],
    };
    rldt_status_t st = rldt_dataset_collect(&o);
    return st ? rldt_cli_fail(st) : 0;
}
