/* test_finetune_pixels.c — RLDT fine-tuning of a pixel policy (policy.encoder = drq) through the CLI, on
 * lift_rgb with 16 x 16 images: `rldt collect` writes three expert demos, `rldt pretrain` a pixel policy
 * from them (a few steps), `rldt finetune` trains it. The runs change the actor's encoder (the policy's
 * weights after the velocity network's) and the critic's own encoder (after the members' in critic/online)
 * with finite losses, and the memory estimate counts the images and encoders; a run resumed from a mid-run
 * checkpoint ends with the same tensors (networks, moments, the image buffer) and metrics rows; `rldt eval`
 * acts with the fine-tuned pixel policy and `rldt export` writes it; the critic's encoder gradient through
 * the TD loss matches finite differences and its Q depends on the image; a pixel checkpoint with a task
 * without images, with images of another size or with another finetune.algo is refused by name, while
 * `rldt export` writes it with its encoder (tests/check_safetensors.py reproduces its velocities from the
 * file) and a low-dim checkpoint still fine-tunes in the *_rgb task. On the device backend (a GPU in `make
 * test-gpu`, the kernel emulator in `make test`) the same pixel fine-tune trains both encoders and resumes
 * bit for bit.
 * Skips, naming what is missing, without MuJoCo (or its models) or the GL library. */
#include "parity.h" /* first: it defines _DEFAULT_SOURCE */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "training.h"
#include "rldt/checkpoint.h"
#include "rldt/critic.h"
#include "rldt/encoder.h"
#include "rldt/export.h"
#include "rldt/policy.h"

/* Fine-tunes in TRAINING_LIFT_RGB (training.h), small and fast: 4 envs x 5 chunk-steps of 2 actions per iteration (episodes of 40 steps end, truncated,
 * in the fourth iteration: the terminal images are kept), critic steps from the first iteration, actor steps
 * from the second. */
#define FINETUNE                                                                                                        \
    "env.n_envs=4 finetune.n_steps=5 finetune.q_repeat=2 finetune.critic_steps=3 finetune.actor_steps=2 "            \
    "finetune.critic_warmup=0 finetune.val_freq=0 critic.batch=32 critic.width=32 critic.depth=2 actor.states=8 " \
    "svgd.particles=4 eval.episodes=1 run.threads=1 run.out_dir=%s"

/* The encoder's parameters of a 16 x 16 x 3 pixel policy of the default policy.encoder_feature. */
static size_t encoder_params(void)
{
    rldt_encoder_spec_t s = rldt_encoder_drq(16, 16, 3);
    return rldt_encoder_param_count(&s);
}

/* A float tensor of a checkpoint (freed by the caller); *n its length. */
static float *tensor(const char *path, const char *name, size_t *n)
{
    rldt_ckpt_t *c;
    cr_assert_eq(rldt_ckpt_open(&c, path, NULL), RLDT_OK, "%s", rldt_error_message());
    *n = rldt_ckpt_length(c, name);
    cr_assert_gt(*n, 0, "%s: no tensor %s", path, name);
    float *x = malloc(sizeof(float) * *n);
    cr_assert_eq(rldt_ckpt_read(c, name, x, *n), RLDT_OK, "%s", rldt_error_message());
    rldt_ckpt_close(c);
    return x;
}

/* Whether the last `tail` floats of tensor `name` differ between two checkpoints. */
static bool tail_differs(const char *a, const char *b, const char *name, size_t tail)
{
    size_t na, nb;
    float *x = tensor(a, name, &na), *y = tensor(b, name, &nb);
    cr_assert_eq(na, nb, "%s: %zu vs %zu", name, na, nb);
    cr_assert_gt(na, tail);
    bool differs = memcmp(x + na - tail, y + nb - tail, sizeof(float) * tail) != 0;
    free(x), free(y);
    return differs;
}

/* The metrics rows of a run from iteration `from` on, without the timing columns (env_steps_per_s,
 * update_s), into out. */
static void metrics_rows(const char *run, int from, char *out, size_t len)
{
    char path[512], line[1024];
    snprintf(path, sizeof path, "%s/%s/metrics.csv", training_dir, run);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "%s", path);
    size_t at = 0;
    out[0] = '\0';
    cr_assert_not_null(fgets(line, sizeof line, fp)); /* header */
    while (fgets(line, sizeof line, fp)) {
        if (atoi(line) < from) continue;
        char *cols[32];
        int nc = 0;
        for (char *tok = strtok(line, ",\n"); tok && nc < 32; tok = strtok(NULL, ",\n")) cols[nc++] = tok;
        for (int i = 0; i < nc; i++)
            if (i != 2 && i != 3) at += (size_t)snprintf(out + at, len - at, "%s,", cols[i]);
        at += (size_t)snprintf(out + at, len - at, "\n");
    }
    fclose(fp);
}

/* Fine-tunes the lift_rgb pixel policy for 4 iterations on backend `device` (NULL: the default) into run f
 * with a checkpoint at iteration 2, and resumes that checkpoint into run g: the memory estimate counts the
 * images, both encoders trained (the actor's after the velocity network in the policy's weights, the
 * critic's after the members in critic/online), and the two runs end with the same networks and moments.
 * The checkpoints' paths go to ckpt: [0] the pretrained policy, [1] iteration 2, [2] f's end, [3] g's end. */
static void finetune_and_resume(const char *device, char ckpt[4][512])
{
    training_lift_rgb_policies(false);
    const char *bin = test_bin(), *dir = training_dir, *on = device ? device : "the default backend";
    char dev_arg[64] = "";
    if (device) snprintf(dev_arg, sizeof dev_arg, "run.device=%s", device);
    int status = test_run("%s finetune " TRAINING_LIFT_RGB " " FINETUNE " %s init=%s/p/pretrain.ckpt finetune.iterations=4 "
                          "finetune.ckpt_every=2 run.name=f", bin, dir, dev_arg, dir);
    cr_assert_eq(status, 0, "finetune on %s failed:\n%s\n%s", on, test_out, test_err);
    cr_assert(strstr(test_err, "images (the buffer's images and next images, batches) and the actor's and critic's image encoders"),
              "the memory estimate does not count the images:\n%s", test_err);
    char backend[64];
    snprintf(backend, sizeof backend, "backend %s,", device ? device : "");
    cr_assert(!device || strstr(test_err, backend), "the run did not use %s:\n%s", on, test_err);
    snprintf(ckpt[0], 512, "%s/p/pretrain.ckpt", dir);
    snprintf(ckpt[1], 512, "%s/f/finetune_2.ckpt", dir);
    snprintf(ckpt[2], 512, "%s/f/finetune.ckpt", dir);
    snprintf(ckpt[3], 512, "%s/g/finetune.ckpt", dir);
    status = test_run("%s finetune " TRAINING_LIFT_RGB " " FINETUNE " %s finetune.resume=%s finetune.iterations=4 run.name=g", bin, dir,
                      dev_arg, ckpt[1]);
    cr_assert_eq(status, 0, "resume on %s failed:\n%s\n%s", on, test_out, test_err);
    size_t ne = encoder_params();
    cr_assert(tail_differs(ckpt[0], ckpt[2], RLDT_POLICY_WEIGHTS, ne), "the actor's image encoder did not change on %s", on);
    cr_assert(tail_differs(ckpt[1], ckpt[2], "critic/online", ne), "the critic's image encoder did not change on %s", on);
    cr_assert(tail_differs(ckpt[1], ckpt[2], "critic/target", ne), "the critic's target encoder did not change on %s", on);
    static const char *const names[] = {RLDT_POLICY_WEIGHTS, "policy/ref", "actor/m", "actor/v", "critic/online", "critic/target",
                                        "critic/m", "critic/v", "replay/obs", "replay/next_obs", "replay/act", "replay/rew"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t na, nb;
        float *x = tensor(ckpt[2], names[i], &na), *y = tensor(ckpt[3], names[i], &nb);
        cr_assert_eq(na, nb, "%s", names[i]);
        cr_assert(memcmp(x, y, sizeof(float) * na) == 0, "%s differs after the resume on %s", names[i], on);
        free(x), free(y);
    }
}

Test(finetune_pixels, trains_both_encoders_and_resumes_bit_exact, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    char ckpt[4][512];
    finetune_and_resume(NULL, ckpt);
    char rows[8192], again[8192];
    metrics_rows("f", 0, rows, sizeof rows);
    /* per row (timing columns left out): itr, env_steps, 3 eval columns, critic_loss, the 3 actor losses, ... */
    int n_rows = 0;
    for (char *row = rows; *row; row = strchr(row, '\n') + 1, n_rows++) {
        double v[9];
        char *at = row;
        for (int k = 0; k < 9; k++, at = strchr(at, ',') + 1) v[k] = strtod(at, NULL);
        cr_assert(isfinite(v[5]), "iteration %d: critic loss %g", n_rows, v[5]);
        for (int k = 6; k < 9 && n_rows > 0; k++) cr_assert(isfinite(v[k]), "iteration %d: actor loss %d is %g", n_rows, k - 6, v[k]);
    }
    cr_assert_eq(n_rows, 4, "%s", rows);
    /* the fine-tuned pixel policy acts in `rldt eval` */
    int status = test_run("%s eval %s episodes=2 seed=5", test_bin(), ckpt[2]);
    cr_assert_eq(status, 0, "eval failed:\n%s\n%s", test_out, test_err);
    cr_assert(strstr(test_out, "lift_rgb: 2 episodes"), "%s", test_out);
    /* and exports with its fine-tuned encoder, the file alone reproducing its velocities */
    char out[512];
    snprintf(out, sizeof out, "%s/f.safetensors", training_dir);
    cr_assert_eq(rldt_export_safetensors(ckpt[2], out), RLDT_OK, "%s", rldt_error_message());
    test_export_check(ckpt[2], out, training_dir);
    /* the image buffer resumed too, and holds rendered frames */
    static const char *const images[] = {"replay/images", "replay/next_images"};
    for (int i = 0; i < 2; i++) {
        rldt_ckpt_t *a, *b;
        cr_assert_eq(rldt_ckpt_open(&a, ckpt[2], "finetune"), RLDT_OK, "%s", rldt_error_message());
        cr_assert_eq(rldt_ckpt_open(&b, ckpt[3], "finetune"), RLDT_OK, "%s", rldt_error_message());
        size_t n = rldt_ckpt_length(a, images[i]);
        cr_assert_eq(n, 4 * 20 * 5 * 16 * 16 * 3, "%s holds %zu bytes", images[i], n); /* 20 x n_envs segments of 5 steps */
        cr_assert_eq(rldt_ckpt_length(b, images[i]), n);
        uint8_t *x = malloc(n), *y = malloc(n);
        cr_assert_eq(rldt_ckpt_read_bytes(a, images[i], x, n), RLDT_OK, "%s", rldt_error_message());
        cr_assert_eq(rldt_ckpt_read_bytes(b, images[i], y, n), RLDT_OK, "%s", rldt_error_message());
        cr_assert(memcmp(x, y, n) == 0, "%s differs after the resume", images[i]);
        size_t lit = 0;
        for (size_t j = 0; j < n; j++) lit += x[j] != 0;
        cr_assert_gt(lit, n / 10, "%s: mostly black (%zu of %zu bytes lit)", images[i], lit, n);
        free(x), free(y);
        rldt_ckpt_close(a), rldt_ckpt_close(b);
    }
    metrics_rows("f", 2, rows, sizeof rows);
    metrics_rows("g", 2, again, sizeof again);
    cr_assert_str_eq(rows, again, "metrics rows after the resume differ");
}

/* Mean TD loss of member 0 of a pixel critic at (obs, images, act) -> tgt, its gradient added to the online
 * gradients. */
static double td_loss(rldt_critic_t *c, const float *obs, const uint8_t *images, const float *act, const float *tgt, int B)
{
    rldt_critic_encode(c, false, images, B, NULL);
    return rldt_critic_accumulate(c, 0, obs, act, tgt, B);
}

Test(finetune_pixels, critic_encoder_gradient_matches_finite_differences_and_q_sees_the_image)
{
    int od = 3, D = 4, B = 6, h = 12, w = 12, ch = 3;
    rldt_encoder_spec_t es = rldt_encoder_drq(h, w, ch);
    es.feature = 8;
    es.layers = 2;
    es.channels = 4;
    rldt_critic_t c;
    rldt_rng_t rng;
    rldt_rng_init(&rng, 4, RLDT_STREAM_INIT);
    cr_assert_eq(rldt_critic_init_pixels(&c, od, D, 16, 2, 2, B, rldt_backend_cpu(), &rng, &es), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(c.online.n, c.enc_at + rldt_encoder_param_count(&es));
    float *obs = test_random_array((size_t)B * od, -1, 1, 1), *act = test_random_array((size_t)B * D, -1, 1, 2);
    float *tgt = test_random_array((size_t)B, -1, 1, 3), *noise = test_random_array((size_t)B * h * w * ch, 0, 255, 4);
    uint8_t *img = malloc((size_t)B * h * w * ch), *other = malloc((size_t)B * h * w * ch);
    for (int i = 0; i < B * h * w * ch; i++) img[i] = (uint8_t)noise[i], other[i] = (uint8_t)(255 - img[i]);
    /* Q sees the image: the same obs and action with other images give other values */
    rldt_critic_encode(&c, false, img, B, NULL);
    float q1[6], q2[6];
    memcpy(q1, rldt_critic_q(&c, 0, false, obs, act, B), sizeof q1);
    rldt_critic_encode(&c, false, other, B, NULL);
    memcpy(q2, rldt_critic_q(&c, 0, false, obs, act, B), sizeof q2);
    for (int b = 0; b < B; b++) cr_assert(fabsf(q1[b] - q2[b]) > 1e-6f, "row %d: Q %g with either image", b, q1[b]);
    /* the action gradient reaches no parameter */
    rldt_trainable_zero_grad(&c.online);
    float g[24];
    rldt_critic_encode(&c, false, img, B, NULL);
    rldt_critic_action_grad(&c, obs, act, B, g);
    for (size_t i = 0; i < c.online.n; i++) cr_assert_eq(c.online.g[i], 0.0f, "the action gradient reached parameter %zu", i);
    /* the TD loss's gradient at the encoder's parameters (conv, projection, LayerNorm) against central
     * differences */
    td_loss(&c, obs, img, act, tgt, B);
    float *grad = malloc(sizeof(float) * c.online.n);
    memcpy(grad, c.online.g, sizeof(float) * c.online.n);
    rldt_encoder_t *e = &c.enc;
    size_t probe[] = {e->conv_param[0], e->conv_param[0] + 7, e->conv_param[1] + 3, e->proj_param + 5, e->proj_param + 101, e->ln_param + 2,
                      e->ln_param + es.feature + 1};
    int checked = 0;
    for (size_t k = 0; k < sizeof probe / sizeof probe[0]; k++) {
        size_t i = c.enc_at + probe[k];
        float keep = c.online.p[i], step = 1e-2f;
        c.online.p[i] = keep + step;
        double lp = td_loss(&c, obs, img, act, tgt, B);
        c.online.p[i] = keep - step;
        double lm = td_loss(&c, obs, img, act, tgt, B);
        c.online.p[i] = keep;
        double fd = (lp - lm) / (2 * step);
        cr_assert(fabs(fd - grad[i]) <= 2e-3 + 0.05 * fabs(fd), "encoder parameter %zu: gradient %g, finite difference %g", probe[k],
                  grad[i], fd);
        checked += fabs(fd) > 1e-5;
    }
    cr_assert_geq(checked, 4, "too few probed parameters move the loss");
    free(grad), free(img), free(other), free(obs), free(act), free(tgt), free(noise);
    rldt_critic_free(&c);
}

Test(finetune_pixels, refusals_export_and_a_low_dim_policy_in_the_rgb_task, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    training_lift_rgb_policies(true);
    const char *bin = test_bin(), *dir = training_dir;
    struct {
        const char *args, *needle;
    } cases[] = {
        {"env.name=lift", "task lift observes none"},
        {"env.name=lift_rgb env.render.width=32 env.render.height=32", "task lift_rgb observes 32 x 32 x 3 ones"},
        {TRAINING_LIFT_RGB " finetune.algo=ppo", "fine-tunes with finetune.algo=rldt only, not ppo"},
        {TRAINING_LIFT_RGB " finetune.algo=bptt", "fine-tunes with finetune.algo=rldt only, not bptt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int status = test_run("%s finetune %s " FINETUNE " init=%s/p/pretrain.ckpt finetune.iterations=1 run.name=r", bin, cases[i].args,
                              dir, dir);
        cr_assert_eq(status, 2, "%s: exit %d:\n%s", cases[i].args, status, test_err);
        cr_assert(strstr(test_err, cases[i].needle), "%s: message lacks '%s': %s", cases[i].args, cases[i].needle, test_err);
        cr_assert(strstr(test_err, "pretrain.ckpt"), "%s: the message does not name the checkpoint: %s", cases[i].args, test_err);
    }
    /* `rldt export` writes the pixel policy with its encoder: the file alone reproduces its velocities */
    char ckpt[512], out[512];
    snprintf(ckpt, sizeof ckpt, "%s/p/pretrain.ckpt", dir);
    snprintf(out, sizeof out, "%s/p.safetensors", dir);
    int status = test_run("%s export %s out=%s", bin, ckpt, out);
    cr_assert_eq(status, 0, "export of a pixel policy: exit %d:\n%s", status, test_err);
    test_export_check(ckpt, out, dir);
    /* a low-dim policy fine-tunes in the *_rgb task as in its low-dim twin: no images kept */
    status = test_run("%s finetune " TRAINING_LIFT_RGB " " FINETUNE " init=%s/q/pretrain.ckpt finetune.iterations=2 run.name=l", bin, dir, dir);
    cr_assert_eq(status, 0, "low-dim policy in lift_rgb:\n%s\n%s", test_out, test_err);
    char path[512];
    snprintf(path, sizeof path, "%s/l/finetune.ckpt", dir);
    rldt_ckpt_t *c;
    cr_assert_eq(rldt_ckpt_open(&c, path, "finetune"), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_ckpt_length(c, "replay/images"), 0, "a low-dim fine-tune kept images");
    rldt_ckpt_close(c);
}

/* The pixel fine-tune on the device: both encoders train, and a run resumed from its iteration-2 checkpoint
 * ends with the same bits as the uninterrupted one (the batches' images go up from the host buffer). */
Test(device, pixel_finetune_trains_both_encoders_and_resumes_bit_for_bit, .init = training_setup, .fini = training_teardown,
     .timeout = 600)
{
    char ckpt[4][512];
    finetune_and_resume(parity_backend()->name, ckpt);
}
