/* cmd_eval.c — `rldt eval CKPT [episodes=N] [export=FILE.h5] [deterministic=0|1] [seed=S] [n_envs=N]`:
 * evaluates a checkpoint's policy (its EMA weights) on its task, optionally writing the episodes as a
 * robomimic-layout dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rldt/checkpoint.h"
#include "rldt/log.h"
#include "rldt/rollout.h"

/* Parses a non-negative integer argument value; -1 on error. */
static long parse_count(const char *key, const char *text)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < 0) {
        rldt_error_set(RLDT_ERR_USAGE, "%s: expected a non-negative integer, got '%s'", key, text);
        return -1;
    }
    return v;
}

int rldt_cmd_eval(int argc, char **argv)
{
    if (argc < 2) return rldt_cli_usage("eval");
    const char *ckpt_path = argv[1], *export_path = NULL;
    long episodes = -2, seed = -2, n_envs = -2, det = -2;
    for (int i = 2; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq) {
            rldt_error_set(RLDT_ERR_USAGE, "expected key=value, got '%s'", argv[i]);
            return rldt_cli_fail(RLDT_ERR_USAGE);
        }
        size_t klen = (size_t)(eq - argv[i]);
        const char *val = eq + 1;
        long *slot = NULL;
        if (klen == 8 && !strncmp(argv[i], "episodes", 8)) slot = &episodes;
        else if (klen == 4 && !strncmp(argv[i], "seed", 4)) slot = &seed;
        else if (klen == 6 && !strncmp(argv[i], "n_envs", 6)) slot = &n_envs;
        else if (klen == 13 && !strncmp(argv[i], "deterministic", 13)) slot = &det;
        else if (klen == 6 && !strncmp(argv[i], "export", 6)) export_path = val;
        else {
            rldt_error_set(RLDT_ERR_USAGE, "unknown argument '%.*s' (expected episodes, export, deterministic, seed, n_envs)",
                           (int)klen, argv[i]);
            return rldt_cli_fail(RLDT_ERR_USAGE);
        }
        if (slot && (*slot = parse_count(argv[i], val)) < 0) return rldt_cli_fail(RLDT_ERR_USAGE);
    }
    rldt_ckpt_t *c;
    int st = rldt_ckpt_open(&c, ckpt_path, NULL);
    if (st) return rldt_cli_fail(st);
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    if ((st = rldt_config_from_json(&cfg, rldt_ckpt_config(c), ckpt_path))) {
        rldt_ckpt_close(c);
        return rldt_cli_fail(st);
    }
    char note[512];
    const rldt_backend_t *be = rldt_backend_select(cfg.run_device, note, sizeof note);
    if (!be) be = rldt_backend_cpu();
    rldt_info("%s", note);
    rldt_eval_opts_t o = {episodes >= 0 ? (int)episodes : (int)cfg.eval_episodes, n_envs > 0 ? (int)n_envs : (int)cfg.env_n_envs,
                          (int)cfg.run_threads, det >= 0 ? det != 0 : cfg.eval_deterministic,
                          seed >= 0 ? (uint64_t)seed : (uint64_t)cfg.run_seed + 7919u, (int)cfg.env_max_steps, NULL};
    rldt_policy_t p;
    if ((st = rldt_policy_from_ckpt(c, &cfg, &p, o.n_envs, be))) {
        rldt_ckpt_close(c);
        return rldt_cli_fail(st);
    }
    float *host = rldt_xmalloc(sizeof(float) * p.nparams), *params = be->alloc(sizeof(float) * p.nparams);
    st = rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, host, p.nparams);
    rldt_ckpt_close(c);
    const rldt_env_spec_t *spec = rldt_env_find(cfg.env_name);
    if (!st && !spec) st = rldt_error_set(RLDT_ERR_USAGE, "%s: unknown task in checkpoint", ckpt_path);
    if (!st && export_path) {
        char args[256];
        snprintf(args, sizeof args, "{\"source\": \"rldt eval\", \"episodes\": %d, \"deterministic\": %s}", o.episodes,
                 o.deterministic ? "true" : "false");
        st = rldt_dataset_writer_open(&o.export, export_path, spec, o.max_steps, args);
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
    return 0;
}
