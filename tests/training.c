/* training.c — fixtures of the end-to-end tests (see training.h). */
#include "training.h"

#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"
#include "rldt/dataset.h"
#include "rldt/log.h"
#include "rldt/pretrain.h"

char training_dir[256];

void training_setup(void)
{
    test_tmpdir(training_dir, sizeof training_dir);
    rldt_log_set_level(RLDT_LOG_WARN);
}

void training_teardown(void) { test_rmtree(training_dir); }

const char *training_collect(const char *env, int demos, double noise, uint64_t seed)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.h5", training_dir, env);
    rldt_collect_opts_t o = {.spec = rldt_env_find(env), .demos = demos, .noise = noise, .seed = seed, .threads = 1, .path = path};
    cr_assert_eq(rldt_dataset_collect(&o), RLDT_OK, "%s", rldt_error_message());
    return path;
}

rldt_config_t training_config(const char *env, const char *data, const char *name)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    snprintf(cfg.env_name, sizeof cfg.env_name, "%s", env);
    snprintf(cfg.data_path, sizeof cfg.data_path, "%s", data);
    snprintf(cfg.run_out_dir, sizeof cfg.run_out_dir, "%s", training_dir);
    snprintf(cfg.run_name, sizeof cfg.run_name, "%s", name);
    cfg.run_threads = 1;
    cfg.run_blas_threads = 1;
    return cfg;
}

rldt_config_t training_pretrained(const char *env, int demos, double noise, int width, int chunk, long steps)
{
    rldt_config_t cfg = training_config(env, training_collect(env, demos, noise, 3), "bc");
    cfg.policy_width = width;
    cfg.policy_chunk = chunk;
    cfg.pre_steps = steps;
    cfg.pre_log_every = steps;
    cfg.eval_episodes = 1;
    rldt_pretrain_result_t res;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    snprintf(cfg.ft_init, sizeof cfg.ft_init, "%s", res.ckpt_path);
    snprintf(cfg.run_name, sizeof cfg.run_name, "ft");
    cfg.critic_width = 64;
    cfg.critic_depth = 2;
    cfg.ft_val_freq = 0;
    return cfg;
}

rldt_config_t training_tiny_pendulum(void) { return training_tiny("pendulum", 8, 2, 150); }

rldt_config_t training_tiny(const char *env, int demos, int chunk, long steps)
{
    rldt_config_t cfg = training_pretrained(env, demos, 0.1, 32, chunk, steps);
    cfg.env_n_envs = 4;
    cfg.ft_n_steps = 10;
    cfg.ft_q_repeat = 2;
    cfg.ft_critic_steps = 4;
    cfg.ft_critic_warmup = 1;
    cfg.critic_batch = 32;
    cfg.critic_width = 32;
    cfg.actor_states = 8;
    cfg.svgd_particles = 4;
    cfg.eval_episodes = 2;
    return cfg;
}

void training_lift_rgb_policies(bool low_dim)
{
    test_need_rendering("lift_rgb");
    const char *bin = test_bin(), *dir = training_dir;
    int status = test_run("%s collect " TRAINING_LIFT_RGB " demos=3 out=%s/l.h5", bin, dir);
    cr_assert_eq(status, 0, "collect failed:\n%s\n%s", test_out, test_err);
    /* the shipped pixel config (policy.encoder=drq, data.image_keys=agentview_image), at the tests' size */
    status = test_run("%s pretrain ../configs/lift_rgb.yaml " TRAINING_LIFT_RGB " data.path=%s/l.h5 policy.encoder_shift=1 "
                      "policy.width=32 policy.chunk=2 pretrain.steps=20 pretrain.batch=16 eval.episodes=1 run.out_dir=%s run.name=p",
                      bin, dir, dir);
    cr_assert_eq(status, 0, "pretrain failed:\n%s\n%s", test_out, test_err);
    if (!low_dim) return;
    status = test_run("%s pretrain " TRAINING_LIFT_RGB " data.path=%s/l.h5 policy.width=32 policy.chunk=2 pretrain.steps=20 "
                      "pretrain.batch=16 eval.episodes=1 run.out_dir=%s run.name=q", bin, dir, dir);
    cr_assert_eq(status, 0, "low-dim pretrain failed:\n%s\n%s", test_out, test_err);
}
