/* test_pretrain.c — behaviour-cloning pretraining end to end on the CPU: both bandit2d modes survive,
 * pendulum BC gets close to its expert, resume is bit-exact, and damaged checkpoints and mismatched
 * datasets are refused with a message naming the problem. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "training.h"
#include "rldt/checkpoint.h"
#include "rldt/log.h"
#include "rldt/pretrain.h"

/* Loads a checkpoint's policy and its EMA weights onto the CPU backend. */
static float *load_policy(const char *path, rldt_policy_t *p, int max_batch)
{
    rldt_ckpt_t *c;
    cr_assert_eq(rldt_ckpt_open(&c, path, "pretrain"), RLDT_OK, "%s", rldt_error_message());
    rldt_config_t cfg;
    cr_assert_eq(rldt_policy_from_ckpt(c, &cfg, p, max_batch, rldt_backend_cpu()), RLDT_OK, "%s", rldt_error_message());
    float *params = malloc(sizeof(float) * p->nparams);
    cr_assert_eq(rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, params, p->nparams), RLDT_OK);
    rldt_ckpt_close(c);
    return params;
}

/* bandit2d's demos aim at (-0.6, 0.5) or (0.6, 0.5), half each; the BC flow policy must keep both modes
 * (each 35-65% of stochastic samples) and put most samples near a peak. */
Test(pretrain, bandit2d_keeps_both_demonstration_modes, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    const char *data = training_collect("bandit2d", 400, 0.05, 1);
    rldt_config_t cfg = training_config("bandit2d", data, "bandit");
    cfg.policy_chunk = 1;
    cfg.policy_width = 128;
    cfg.pre_steps = 1500;
    cfg.pre_warmup = 50;
    cfg.pre_log_every = 1500;
    cfg.eval_episodes = 100;
    rldt_pretrain_result_t res;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    rldt_policy_t p;
    enum { N = 2000 };
    float *params = load_policy(res.ckpt_path, &p, N);
    rldt_actor_t actor;
    cr_assert_eq(rldt_actor_init(&actor, &p, NULL, N, 99, 1), RLDT_OK);
    float *obs = calloc(N * 2, sizeof(float)), *act = malloc(sizeof(float) * N * 2);
    rldt_actor_act(&actor, params, obs, NULL, false, act);
    int left = 0, right = 0;
    for (int i = 0; i < N; i++) {
        float x = act[2 * i], y = act[2 * i + 1];
        left += hypotf(x + 0.6f, y - 0.5f) < 0.25f;
        right += hypotf(x - 0.6f, y - 0.5f) < 0.25f;
    }
    cr_log_info("bandit2d BC: left %d, right %d of %d; eval success %.2f", left, right, N, res.eval.success_rate);
    cr_assert_geq(left + right, N * 8 / 10, "only %d of %d samples near a demonstrated peak", left + right, N);
    cr_assert(left >= (left + right) * 35 / 100 && right >= (left + right) * 35 / 100, "modes %d / %d", left, right);
    rldt_actor_free(&actor);
    rldt_policy_free(&p);
    free(params), free(obs), free(act);
}

/* Pendulum: 50 expert demos (action noise 0.1); a 1500-step BC policy evaluated deterministically must
 * reach a cost within 1.5x the demonstrations' (returns are negative costs), far from a zero-torque policy. */
Test(pretrain, pendulum_bc_approaches_the_expert, .init = training_setup, .fini = training_teardown, .timeout = 180)
{
    const char *data = training_collect("pendulum", 50, 0.1, 1);
    rldt_dataset_t d;
    cr_assert_eq(rldt_dataset_load(&d, data, NULL), RLDT_OK);
    double expert = 0;
    for (int e = 0; e < d.n_demos; e++) expert += d.ep_return[e];
    expert /= d.n_demos;
    rldt_dataset_free(&d);
    rldt_config_t cfg = training_config("pendulum", data, "pendulum");
    cfg.policy_width = 128;
    cfg.pre_steps = 1500;
    cfg.pre_log_every = 1500;
    cfg.eval_episodes = 50;
    cfg.eval_deterministic = true;
    rldt_pretrain_result_t res;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    cr_log_info("pendulum: expert demos %.1f, BC %.1f", expert, res.eval.return_mean);
    cr_assert_eq(res.eval.episodes, 50);
    cr_assert_geq(res.eval.return_mean, 1.5 * expert, "BC return %.1f vs expert %.1f", res.eval.return_mean, expert);
    cr_assert_lt(res.valid_loss, 0.5);
}

/* Reads every training tensor of a checkpoint, and its counters into counts[4]. */
static float *read_all(const char *path, size_t *n, int64_t *counts)
{
    rldt_ckpt_t *c;
    cr_assert_eq(rldt_ckpt_open(&c, path, "pretrain"), RLDT_OK, "%s", rldt_error_message());
    *n = rldt_ckpt_length(c, "policy/params");
    float *all = malloc(sizeof(float) * *n * 4);
    const char *names[4] = {"policy/params", RLDT_POLICY_WEIGHTS, "optim/m", "optim/v"};
    for (int i = 0; i < 4; i++) cr_assert_eq(rldt_ckpt_read(c, names[i], all + (size_t)i * *n, *n), RLDT_OK);
    const char *counters[4] = {"step", "adam_step", "skipped", "skips_in_a_row"};
    for (int i = 0; i < 4; i++) cr_assert_eq(rldt_ckpt_scalar(c, counters[i], &counts[i]), RLDT_OK, "%s", rldt_error_message());
    rldt_ckpt_close(c);
    return all;
}

Test(pretrain, resume_is_bit_exact, .init = training_setup, .fini = training_teardown, .timeout = 60)
{
    char path[600];
    const char *data = training_collect("pendulum", 10, 0.1, 1);
    rldt_config_t cfg = training_config("pendulum", data, "straight");
    cfg.policy_width = 32;
    cfg.pre_steps = 40;
    cfg.pre_batch = 32;
    cfg.pre_warmup = 5;
    cfg.pre_ckpt_every = 20;
    cfg.pre_log_every = 1000;
    cfg.eval_episodes = 1;
    rldt_pretrain_result_t straight, resumed;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &straight), RLDT_OK, "%s", rldt_error_message());
    snprintf(cfg.run_name, sizeof cfg.run_name, "resumed");
    snprintf(cfg.pre_resume, sizeof cfg.pre_resume, "%s/straight/pretrain_20.ckpt", training_dir);
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &resumed), RLDT_OK, "%s", rldt_error_message());
    size_t n1, n2;
    int64_t ca[4], cb[4], ch[4];
    float *a = read_all(straight.ckpt_path, &n1, ca), *b = read_all(resumed.ckpt_path, &n2, cb);
    cr_assert_eq(n1, n2);
    cr_assert(memcmp(a, b, sizeof(float) * 4 * n1) == 0, "resumed run differs from the uninterrupted one");
    cr_assert(memcmp(ca, cb, sizeof ca) == 0 && ca[0] == 40 && ca[1] == 40, "counters: step %lld adam %lld vs %lld %lld",
              (long long)ca[0], (long long)ca[1], (long long)cb[0], (long long)cb[1]);
    cr_assert_eq(resumed.steps, 40);
    /* and the half-way checkpoint really is different from the end (the test is not vacuous) */
    snprintf(path, sizeof path, "%s/straight/pretrain_20.ckpt", training_dir);
    float *h = read_all(path, &n2, ch);
    cr_assert_eq(ch[0], 20);
    cr_assert(memcmp(a, h, sizeof(float) * n1) != 0);
    free(a), free(b), free(h);
}

// ---------------------------------------------------------------------------------------------------
// bad input

static void write_small_ckpt(const char *path, float fill)
{
    float w[4096];
    for (int i = 0; i < 4096; i++) w[i] = fill;
    rldt_ckpt_tensor_t t = {"policy/params", w, 4096, 0};
    rldt_ckpt_scalar_t s = {"step", 7};
    cr_assert_eq(rldt_ckpt_save(path, "pretrain", "{}", &t, 1, &s, 1), RLDT_OK, "%s", rldt_error_message());
}

Test(pretrain, damaged_checkpoints_are_refused_by_name, .init = training_setup, .fini = training_teardown)
{
    char path[300], cut[300];
    snprintf(path, sizeof path, "%s/a.ckpt", training_dir);
    write_small_ckpt(path, 1.25f);
    rldt_ckpt_t *c;
    float buf[4096];
    /* intact: reads back; wrong kind and wrong length are named */
    cr_assert_eq(rldt_ckpt_open(&c, path, "pretrain"), RLDT_OK);
    cr_assert_eq(rldt_ckpt_read(c, "policy/params", buf, 4096), RLDT_OK);
    cr_assert_eq(buf[100], 1.25f);
    cr_assert_eq(rldt_ckpt_read(c, "policy/params", buf, 100), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "4096 values, expected 100"), "%s", rldt_error_message());
    cr_assert_eq(rldt_ckpt_read(c, "policy/ema", buf, 4096), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "'policy/ema' is missing"));
    rldt_ckpt_close(c);
    cr_assert_eq(rldt_ckpt_open(&c, path, "finetune"), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "expected 'finetune'"));
    /* truncated: refused at open */
    FILE *f = fopen(path, "rb");
    char *bytes = malloc(1 << 20);
    size_t len = fread(bytes, 1, 1 << 20, f);
    fclose(f);
    snprintf(cut, sizeof cut, "%s/cut.ckpt", training_dir);
    f = fopen(cut, "wb");
    fwrite(bytes, 1, len / 2, f);
    fclose(f);
    cr_assert_eq(rldt_ckpt_open(&c, cut, NULL), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "truncated or corrupt"), "%s", rldt_error_message());
    /* one flipped byte inside the weights: the checksum catches it */
    float needle = 1.25f;
    size_t at = 0;
    for (size_t i = 0; i + 4 <= len && !at; i++)
        if (memcmp(bytes + i, &needle, 4) == 0) at = i + 4 * 50;
    cr_assert_gt(at, 0);
    bytes[at] ^= 0x40;
    f = fopen(path, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    cr_assert_eq(rldt_ckpt_open(&c, path, "pretrain"), RLDT_OK);
    cr_assert_eq(rldt_ckpt_read(c, "policy/params", buf, 4096), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "checksum"), "%s", rldt_error_message());
    rldt_ckpt_close(c);
    /* not a checkpoint at all */
    cr_assert_eq(rldt_ckpt_open(&c, "../configs/pendulum.yaml", NULL), RLDT_ERR_USAGE);
    free(bytes);
}

Test(pretrain, dataset_of_another_task_is_refused, .init = training_setup, .fini = training_teardown)
{
    const char *data = training_collect("bandit2d", 20, 0.0, 1);
    rldt_config_t cfg = training_config("pendulum", data, "mismatch");
    rldt_pretrain_result_t res;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &res), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "bandit2d demos") && strstr(rldt_error_message(), "env.name is pendulum"),
              "%s", rldt_error_message());
}

Test(pretrain, cli_rejects_bad_checkpoints_with_exit_2, .init = training_setup, .fini = training_teardown)
{
    char path[300];
    snprintf(path, sizeof path, "%s/junk.ckpt", training_dir);
    FILE *f = fopen(path, "w");
    fputs("not hdf5", f);
    fclose(f);
    cr_assert_eq(test_run("%s eval %s episodes=1", test_bin(), path), 2, "%s", test_err);
    cr_assert(strstr(test_err, "junk.ckpt") && strstr(test_err, "not a readable HDF5"), "%s", test_err);
    /* arguments are checked before the file: unknown names and empty numbers are named */
    cr_assert_eq(test_run("%s eval %s bogus=1", test_bin(), path), 2);
    cr_assert(strstr(test_err, "unknown argument 'bogus=1'"), "%s", test_err);
    cr_assert_eq(test_run("%s eval %s seed=", test_bin(), path), 2);
    cr_assert(strstr(test_err, "seed=''"), "%s", test_err);
    cr_assert_eq(test_run("%s export %s", test_bin(), path), 2);
    cr_assert_eq(test_run("%s export %s out=%s/x.safetensors format=onnx", test_bin(), path, training_dir), 2);
    cr_assert(strstr(test_err, "format=onnx"), "%s", test_err);
}
