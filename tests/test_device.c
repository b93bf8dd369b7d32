/* test_device.c — RLDT fine-tuning end to end on the device backend (a GPU in `make test-gpu`, the kernel
 * emulator in `make test`): the same run on the CPU and on the device moves the actor and the critics (the
 * PPO baseline: the value network) the same way, a device run repeats bit for bit and resumes bit for bit, and a short bandit2d fine-tune on the
 * device learns. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>

#include "parity.h"
#include "training.h"
#include "rldt/checkpoint.h"
#include "rldt/finetune.h"
#include "rldt/pretrain.h"

/* The shared tiny pendulum run, two iterations, with actor steps from iteration 1 on (itr > warmup 0). */
static rldt_config_t tiny_pendulum(void)
{
    rldt_config_t cfg = training_tiny_pendulum();
    cfg.ft_critic_warmup = 0;
    cfg.ft_iterations = 2;
    return cfg;
}

static float *tensor(const char *ckpt, const char *name, size_t *n)
{
    rldt_ckpt_t *c;
    cr_assert_eq(rldt_ckpt_open(&c, ckpt, NULL), RLDT_OK, "%s", rldt_error_message());
    *n = rldt_ckpt_length(c, name);
    float *x = malloc(sizeof(float) * (*n ? *n : 1));
    cr_assert_eq(rldt_ckpt_read(c, name, x, *n), RLDT_OK, "%s", rldt_error_message());
    rldt_ckpt_close(c);
    return x;
}

static rldt_finetune_result_t run(rldt_config_t *cfg, const char *name, const rldt_backend_t *be)
{
    snprintf(cfg->run_name, sizeof cfg->run_name, "%s", name);
    rldt_finetune_result_t r;
    cr_assert_eq(rldt_finetune(cfg, rldt_env_find(cfg->env_name), be, &r), RLDT_OK, "%s", rldt_error_message());
    return r;
}

/* Two iterations of `cfg` on the CPU and on the device from the same pretrained policy and seeds: the device's
 * updates of the actor and of `critic` (the critics' or the value network's tensor) agree with the CPU's to
 * 2% (float rounding differs between backends and the rollouts' env states follow the sampled actions, so
 * the runs are close, not equal). */
static void updates_match_the_cpu(rldt_config_t cfg, const char *critic)
{
    const rldt_backend_t *dev = parity_backend();
    rldt_finetune_result_t a = run(&cfg, "cpu", rldt_backend_cpu()), b = run(&cfg, "dev", dev);
    const char *pairs[][2] = {{RLDT_POLICY_WEIGHTS, "policy/pretrained"}, {critic, NULL}};
    size_t n, n0;
    for (int p = 0; p < 2; p++) {
        float *x = tensor(a.ckpt_path, pairs[p][0], &n), *y = tensor(b.ckpt_path, pairs[p][0], &n0);
        cr_assert_eq(n, n0);
        /* the policy's start is in the checkpoint; the critic's (or value network's) is its initialisation:
         * the tensor of a run that does not change it (learning rate 0) */
        float *x0;
        if (pairs[p][1]) {
            x0 = tensor(a.ckpt_path, pairs[p][1], &n0);
        } else {
            rldt_config_t c0 = cfg;
            c0.ft_q_repeat = 1;
            c0.ft_critic_steps = 1;
            c0.ft_iterations = 1;
            c0.critic_lr = 0;
            rldt_finetune_result_t z = run(&c0, "init", rldt_backend_cpu());
            x0 = tensor(z.ckpt_path, critic, &n0);
        }
        double e = parity_update_mismatch(x, y, x0, n);
        cr_log_info("%s: device update differs from the CPU's by %.3g (relative)", pairs[p][0], e);
        cr_assert_lt(e, 0.02, "%s: device update differs from the CPU's by %.3g", pairs[p][0], e);
        free(x), free(y), free(x0);
    }
}

/* RLDT: rollouts, critic rounds, actor steps with the SVGD field. */
Test(device, finetune_updates_match_the_cpu, .init = training_setup, .fini = training_teardown, .timeout = 600)
{
    updates_match_the_cpu(tiny_pendulum(), "critic/online");
}

/* The PPO baseline: noisy-chain rollouts, value and surrogate steps. */
Test(device, ppo_updates_match_the_cpu, .init = training_setup, .fini = training_teardown, .timeout = 600)
{
    rldt_config_t cfg = tiny_pendulum();
    snprintf(cfg.ft_algo, sizeof cfg.ft_algo, "ppo");
    cfg.ppo_minibatch = 64;
    updates_match_the_cpu(cfg, "ppo/value");
}

/* The same run twice on the device gives identical bits (no float atomics, fixed reduction orders), and a
 * run resumed from its iteration-2 checkpoint ends identical to the uninterrupted one. */
Test(device, runs_repeat_and_resume_bit_for_bit, .init = training_setup, .fini = training_teardown, .timeout = 600)
{
    const rldt_backend_t *dev = parity_backend();
    rldt_config_t cfg = tiny_pendulum();
    cfg.ft_iterations = 4;
    cfg.ft_ckpt_every = 2;
    rldt_finetune_result_t a = run(&cfg, "a", dev), b = run(&cfg, "b", dev);
    char resume_from[600];
    snprintf(resume_from, sizeof resume_from, "%s/a/finetune_2.ckpt", training_dir);
    snprintf(cfg.ft_resume, sizeof cfg.ft_resume, "%s", resume_from);
    rldt_finetune_result_t c = run(&cfg, "resumed", dev);
    const char *names[] = {RLDT_POLICY_WEIGHTS, "actor/m", "actor/v", "critic/online", "critic/target", "replay/act"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t na, nb, nc;
        float *x = tensor(a.ckpt_path, names[i], &na), *y = tensor(b.ckpt_path, names[i], &nb),
              *z = tensor(c.ckpt_path, names[i], &nc);
        cr_assert(na == nb && na == nc);
        cr_assert(memcmp(x, y, sizeof(float) * na) == 0, "%s differs between two identical device runs", names[i]);
        cr_assert(memcmp(x, z, sizeof(float) * na) == 0, "%s differs after resume on the device", names[i]);
        free(x), free(y), free(z);
    }
}

/* bandit2d on the device: from a BC start spread over the peaks of the reward (eval return 0.41), ten RLDT
 * iterations raise the return by at least 0.15 (the same run on the CPU: 0.41 -> 0.72). */
Test(device, bandit2d_finetune_learns, .init = training_setup, .fini = training_teardown, .timeout = 900)
{
    const rldt_backend_t *dev = parity_backend();
    rldt_config_t cfg = training_pretrained("bandit2d", 500, 0.25, 64, 1, 1000);
    cfg.env_n_envs = 64;
    cfg.ft_n_steps = 8;
    cfg.ft_iterations = 10;
    cfg.actor_lr = 1e-4;
    cfg.eval_episodes = 200;
    cfg.ft_val_freq = 1000; /* evaluate the BC start (iteration 0) and the end */
    /* targets once per round: half the update time on the emulator (the per-step refresh is compared with the
     * CPU in finetune_updates_match_the_cpu) */
    snprintf(cfg.critic_target_refresh, sizeof cfg.critic_target_refresh, "round");
    rldt_finetune_result_t r = run(&cfg, "bandit", dev);
    cr_log_info("bandit2d on %s: eval return %.3f -> %.3f (%.1fs)", dev->name, r.eval_first.return_mean,
                r.eval_last.return_mean, r.seconds);
    cr_assert_geq(r.eval_last.return_mean, r.eval_first.return_mean + 0.15, "return %.3f -> %.3f",
                  r.eval_first.return_mean, r.eval_last.return_mean);
}
