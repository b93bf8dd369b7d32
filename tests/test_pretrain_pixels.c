/* test_pretrain_pixels.c — pretraining on pixel observations (policy.encoder = drq, data.image_keys): a
 * pendulum dataset whose low-dim key tells nothing (obs/blank, zeros) and whose images draw the state
 * (tests/make_robomimic_files.py pixels); the encoder must carry the state into the policy. Also: resume is
 * bit-exact with the encoder in the trained buffer, a pixel checkpoint is refused where low-dim observations
 * would be fed to it, a half-configured encoder is refused by name, the checkpoint's policy acts on its images
 * (the same images give the same actions, others other actions), and the device backend (a GPU in
 * `make test-gpu`, the kernel emulator in `make test`) moves the weights and acts as the CPU does. */
#include "parity.h" /* first: it defines _DEFAULT_SOURCE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "training.h"
#include "rldt/checkpoint.h"
#include "rldt/policy.h"
#include "rldt/pretrain.h"
#include "rldt/rollout.h"

/* 20 pendulum expert demos with obs/pixels [T, 16, 16, 1] and obs/blank; a config reading blank and, when
 * `pixels`, encoding the images (shift 1: the pictures are small). */
static rldt_config_t pixel_config(const char *name, bool pixels)
{
    static char data[512];
    if (!data[0] || strncmp(data, training_dir, strlen(training_dir)) != 0) {
        snprintf(data, sizeof data, "%s", training_collect("pendulum", 20, 0.1, 1));
        cr_assert_eq(test_run(PYTHON " make_robomimic_files.py pixels %s", data), 0, "%s", test_err);
    }
    rldt_config_t cfg = training_config("pendulum", data, name);
    snprintf(cfg.data_obs_keys, sizeof cfg.data_obs_keys, "blank");
    if (pixels) {
        snprintf(cfg.data_image_keys, sizeof cfg.data_image_keys, "pixels");
        snprintf(cfg.policy_encoder, sizeof cfg.policy_encoder, "drq");
        cfg.policy_encoder_shift = 1;
    }
    cfg.policy_width = 64;
    cfg.policy_chunk = 1;
    cfg.pre_batch = 64;
    cfg.pre_lr_final = cfg.pre_lr;
    cfg.eval_episodes = 1;
    return cfg;
}

/* 1200 steps each: with the images the training loss (mean of the last 300 steps) must fall below 0.8 of
 * the blind policy's and below 0.6 of its own first 300 steps' (seen: 0.32 against 0.48 blind, validation
 * 0.24 against 0.38; 0.68 over the first 300 steps). */
Test(pretrain_pixels, images_carry_the_state, .init = training_setup, .fini = training_teardown, .timeout = 240)
{
    rldt_pretrain_result_t blind, seeing, first;
    rldt_config_t cfg = pixel_config("blind", false);
    cfg.pre_steps = 1200;
    cfg.pre_log_every = 300;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &blind), RLDT_OK, "%s", rldt_error_message());
    cfg = pixel_config("first", true);
    cfg.pre_steps = 300;
    cfg.pre_log_every = 300;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &first), RLDT_OK, "%s", rldt_error_message());
    cfg = pixel_config("seeing", true);
    cfg.pre_steps = 1200;
    cfg.pre_log_every = 300;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &seeing), RLDT_OK, "%s", rldt_error_message());
    cr_log_info("pixel pretrain: blind %.4f (val %.4f), seeing %.4f (val %.4f), seeing's first 300 steps %.4f", blind.train_loss,
                blind.valid_loss, seeing.train_loss, seeing.valid_loss, first.train_loss);
    cr_assert_lt(seeing.train_loss, 0.8 * blind.train_loss, "seeing %g vs blind %g", seeing.train_loss, blind.train_loss);
    cr_assert_lt(seeing.train_loss, 0.6 * first.train_loss, "seeing %g vs its first steps %g", seeing.train_loss, first.train_loss);
    cr_assert_eq(seeing.eval.episodes, 0, "pendulum observes no images: the pixel policy's evaluation is skipped");
}

/* The final checkpoint's tensors: policy/params, policy/weights, optim/m, optim/v (n floats each). */
static float *read_params(const char *path, size_t *n)
{
    rldt_ckpt_t *c;
    cr_assert_eq(rldt_ckpt_open(&c, path, "pretrain"), RLDT_OK, "%s", rldt_error_message());
    *n = rldt_ckpt_length(c, "policy/params");
    float *x = malloc(sizeof(float) * 4 * *n);
    const char *names[4] = {"policy/params", RLDT_POLICY_WEIGHTS, "optim/m", "optim/v"};
    for (int i = 0; i < 4; i++) cr_assert_eq(rldt_ckpt_read(c, names[i], x + i * *n, *n), RLDT_OK, "%s", rldt_error_message());
    rldt_ckpt_close(c);
    return x;
}

Test(pretrain_pixels, resume_is_bit_exact_and_the_checkpoint_is_pretraining_only, .init = training_setup,
     .fini = training_teardown, .timeout = 120)
{
    rldt_config_t cfg = pixel_config("straight", true);
    cfg.pre_steps = 40;
    cfg.pre_batch = 16;
    cfg.pre_ckpt_every = 20;
    cfg.pre_log_every = 1000;
    rldt_pretrain_result_t straight, resumed;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &straight), RLDT_OK, "%s", rldt_error_message());
    snprintf(cfg.run_name, sizeof cfg.run_name, "resumed");
    snprintf(cfg.pre_resume, sizeof cfg.pre_resume, "%s/straight/pretrain_20.ckpt", training_dir);
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &resumed), RLDT_OK, "%s", rldt_error_message());
    size_t n1, n2;
    float *a = read_params(straight.ckpt_path, &n1), *b = read_params(resumed.ckpt_path, &n2);
    rldt_policy_spec_t ps;
    cr_assert_eq(rldt_policy_spec_from_config(&cfg, 3 + 50, 1, &ps), RLDT_OK);
    rldt_policy_t p;
    cr_assert_eq(rldt_policy_init(&p, &ps, 1, rldt_backend_cpu()), RLDT_OK);
    cr_assert_gt(n1, p.nparams, "the encoder's parameters follow the policy's (%zu floats in all, policy %zu)", n1, p.nparams);
    rldt_policy_free(&p);
    cr_assert_eq(n1, n2);
    cr_assert(memcmp(a, b, sizeof(float) * 4 * n1) == 0, "resumed run differs from the uninterrupted one");
    free(a), free(b);
    /* the low-dim reader (rldt_policy_from_ckpt) builds no encoder: refused, by name */
    rldt_ckpt_t *c;
    cr_assert_eq(rldt_ckpt_open(&c, straight.ckpt_path, "pretrain"), RLDT_OK);
    rldt_config_t from;
    cr_assert_eq(rldt_policy_from_ckpt(c, &from, &p, 4, rldt_backend_cpu()), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "a pixel policy (policy.encoder=drq)"), "%s", rldt_error_message());
    rldt_ckpt_close(c);
}

Test(pretrain_pixels, half_configured_encoders_are_refused, .init = training_setup, .fini = training_teardown)
{
    rldt_config_t cfg = pixel_config("half", true);
    rldt_pretrain_result_t res;
    cfg.data_image_keys[0] = '\0';
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &res), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "policy.encoder=drq needs data.image_keys"), "%s", rldt_error_message());
    cfg = pixel_config("half", true);
    snprintf(cfg.policy_encoder, sizeof cfg.policy_encoder, "none");
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &res), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "data.image_keys='pixels' needs an image encoder"), "%s", rldt_error_message());
    cfg = pixel_config("half", true);
    snprintf(cfg.data_image_keys, sizeof cfg.data_image_keys, "pixels,pixels");
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &res), RLDT_ERR_USAGE);
}

/* 10 steps of pixel pretraining on the CPU and on the device from the same seed: the device's update of
 * every weight (policy and encoder) agrees with the CPU's to 1% (the GEMMs round differently; the shifts,
 * noise and minibatches are the same draws). The starting weights are a run's at learning rate 0. */
Test(device, pixel_pretrain_updates_match_the_cpu, .init = training_setup, .fini = training_teardown, .timeout = 600)
{
    const rldt_backend_t *dev = parity_backend();
    rldt_config_t cfg = pixel_config("cpu", true);
    cfg.pre_steps = 10;
    cfg.pre_batch = 16;
    cfg.pre_warmup = 0;
    cfg.pre_log_every = 10;
    rldt_pretrain_result_t a, b, z;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &a), RLDT_OK, "%s", rldt_error_message());
    snprintf(cfg.run_name, sizeof cfg.run_name, "dev");
    cr_assert_eq(rldt_pretrain(&cfg, dev, &b), RLDT_OK, "%s", rldt_error_message());
    snprintf(cfg.run_name, sizeof cfg.run_name, "init");
    cfg.pre_lr = cfg.pre_lr_final = 0;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &z), RLDT_OK, "%s", rldt_error_message());
    size_t n, n1, n0;
    float *x = read_params(a.ckpt_path, &n), *y = read_params(b.ckpt_path, &n1), *x0 = read_params(z.ckpt_path, &n0);
    cr_assert(n == n1 && n == n0);
    double e = parity_update_mismatch(x, y, x0, n);
    cr_log_info("pixel pretrain: %s update differs from the CPU's by %.3g (relative)", dev->name, e);
    cr_assert_lt(e, 0.01, "%s update differs from the CPU's by %.3g", dev->name, e);
    cr_assert_lt(fabs(a.train_loss - b.train_loss), 1e-3 * fabs(a.train_loss), "loss %g vs %g", a.train_loss, b.train_loss);
    free(x), free(y), free(x0);
}

// ---------------------------------------------------------------------------------------------------
// acting from a pixel checkpoint

#define ACT_N 4

/* A 30-step pixel pretraining's final checkpoint (its path in a static buffer). */
static const char *pixel_ckpt(void)
{
    rldt_config_t cfg = pixel_config("act", true);
    cfg.pre_steps = 30;
    cfg.pre_batch = 16;
    cfg.pre_log_every = 1000;
    static rldt_pretrain_result_t r;
    cr_assert_eq(rldt_pretrain(&cfg, rldt_backend_cpu(), &r), RLDT_OK, "%s", rldt_error_message());
    return r.ckpt_path;
}

/* Deterministic actions [ACT_N] of the checkpoint's policy on `be` for zero low-dim observations (obs/blank) and 16 x 16
 * images that are a gradient scaled by `scale`. */
static void act_on(const char *path, const rldt_backend_t *be, int scale, float *actions)
{
    rldt_ckpt_t *c;
    rldt_config_t cfg;
    rldt_policy_t p;
    rldt_pixels_t px;
    cr_assert_eq(rldt_ckpt_open(&c, path, "pretrain"), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_policy_from_ckpt_pixels(c, &cfg, &p, &px, ACT_N, be), RLDT_OK, "%s", rldt_error_message());
    cr_assert(px.enc.ws && px.enc.spec.h == 16 && px.enc.spec.w == 16 && px.enc.spec.c == 1 && px.od == 3);
    size_t n = p.nparams + px.enc.nparams;
    float *host = malloc(sizeof(float) * n), *dev = be->alloc(sizeof(float) * n);
    cr_assert_eq(rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, host, n), RLDT_OK, "%s", rldt_error_message());
    rldt_ckpt_close(c);
    be->upload(dev, host, sizeof(float) * n);
    uint8_t images[ACT_N * 256];
    for (int i = 0; i < ACT_N * 256; i++) images[i] = (uint8_t)((i % 256 + 37 * (i / 256)) * scale % 256);
    float obs[ACT_N * 3] = {0};
    rldt_actor_t a;
    cr_assert_eq(rldt_actor_init(&a, &p, &px, ACT_N, 5, 1), RLDT_OK, "%s", rldt_error_message());
    rldt_actor_act(&a, dev, obs, images, true, actions);
    rldt_actor_free(&a);
    be->free(dev);
    free(host);
    rldt_pixels_free(&px);
    rldt_policy_free(&p);
}

Test(pretrain_pixels, the_checkpoint_acts_on_its_images, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    const char *path = pixel_ckpt();
    float a[ACT_N], b[ACT_N], other[ACT_N];
    act_on(path, rldt_backend_cpu(), 1, a);
    act_on(path, rldt_backend_cpu(), 1, b);
    act_on(path, rldt_backend_cpu(), 3, other);
    cr_assert(memcmp(a, b, sizeof a) == 0, "the same images must give the same actions (no shift when acting)");
    cr_assert(memcmp(a, other, sizeof a) != 0, "other images must give other actions");
}

/* The device's actions from the same checkpoint and images agree with the CPU's to 1e-3 (the GEMMs round
 * differently). */
Test(device, pixel_actions_match_the_cpu, .init = training_setup, .fini = training_teardown, .timeout = 600)
{
    const char *path = pixel_ckpt();
    float a[ACT_N], b[ACT_N];
    act_on(path, rldt_backend_cpu(), 1, a);
    act_on(path, parity_backend(), 1, b);
    double worst = 0;
    for (int i = 0; i < ACT_N; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    cr_log_info("pixel actions: %s differs from the CPU by %.3g at most", parity_backend()->name, worst);
    for (int i = 0; i < ACT_N; i++) cr_assert_lt(fabs(a[i] - b[i]), 1e-3, "action %d: cpu %g, device %g", i, a[i], b[i]);
}
