/* test_pixel_eval.c — a pixel policy acting from a task's images, end to end through the CLI: `rldt collect`
 * writes a hopper_rgb dataset (32 x 32 images, from a short SAC run), `rldt pretrain` trains a DrQ-encoded
 * policy on it and evaluates it in hopper_rgb, `rldt eval` gives the same episodes twice from one seed,
 * `rldt collect policy=` records with it, a task without images or with images of another size is refused
 * by name, and so is a checkpoint whose image shape was edited. Skips, naming what is missing, without MuJoCo (or its models) or the GL library. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "rldt/env.h"

/* `rldt eval`'s summary without its timing ("..., N env steps in T s"). */
static void eval_summary(char *out, size_t len)
{
    snprintf(out, len, "%s", test_out);
    char *t = strstr(out, " env steps in ");
    cr_assert_not_null(t, "no eval summary in:\n%s", test_out);
    *t = '\0';
}

Test(pixels, pretrain_eval_and_collect_from_images, .timeout = 300)
{
    test_need_rendering("hopper_rgb");
    const char *bin = test_bin();
    char dir[256], first[1024], second[1024];
    test_tmpdir(dir, sizeof dir);
    const char *task = "env.name=hopper_rgb env.render.width=32 env.render.height=32 env.n_envs=2";
    int status = test_run("%s sac %s sac.steps=120 sac.start_steps=60 sac.update_after=60 sac.batch=16 eval.episodes=1 "
                          "run.out_dir=%s run.name=s", bin, task, dir);
    cr_assert_eq(status, 0, "sac failed:\n%s\n%s", test_out, test_err);
    status = test_run("%s collect policy=%s/s/sac.ckpt demos=3 threads=2 out=%s/h.h5", bin, dir, dir);
    cr_assert_eq(status, 0, "collect failed:\n%s\n%s", test_out, test_err);
    status = test_run("%s pretrain %s data.path=%s/h.h5 data.image_keys=agentview_image policy.encoder=drq pretrain.steps=20 "
                      "pretrain.batch=16 pretrain.log_every=10 eval.episodes=2 run.out_dir=%s run.name=p", bin, task, dir, dir);
    cr_assert_eq(status, 0, "pretrain failed:\n%s\n%s", test_out, test_err);
    cr_assert(strstr(test_err, "eval @ step 20: hopper_rgb"), "the pixel policy was not evaluated:\n%s", test_err);
    status = test_run("%s eval %s/p/pretrain.ckpt episodes=2 seed=5", bin, dir);
    cr_assert_eq(status, 0, "eval failed:\n%s\n%s", test_out, test_err);
    eval_summary(first, sizeof first);
    status = test_run("%s eval %s/p/pretrain.ckpt episodes=2 seed=5", bin, dir);
    cr_assert_eq(status, 0, "eval failed:\n%s\n%s", test_out, test_err);
    eval_summary(second, sizeof second);
    cr_assert_str_eq(first, second, "one seed, two evaluations");
    status = test_run("%s collect policy=%s/p/pretrain.ckpt demos=2 out=%s/c.h5", bin, dir, dir);
    cr_assert_eq(status, 0, "collect with the pixel policy failed:\n%s\n%s", test_out, test_err);
    status = test_run("%s collect policy=%s/p/pretrain.ckpt env=hopper_rgb demos=1 out=%s/d.h5", bin, dir, dir);
    cr_assert_eq(status, 2, "84 x 84 images for a 32 x 32 policy:\n%s\n%s", test_out, test_err);
    cr_assert(strstr(test_err, "the policy sees 32 x 32 x 3 images but task hopper_rgb observes 84 x 84 x 3 ones"), "%s", test_err);
    status = test_run("%s collect policy=%s/p/pretrain.ckpt env=hopper demos=1 out=%s/d.h5", bin, dir, dir);
    cr_assert_eq(status, 2, "a task without images:\n%s\n%s", test_out, test_err);
    cr_assert(strstr(test_err, "task hopper observes none"), "%s", test_err);
    struct {
        const char *edit, *needle;
    } cases[] = {
        {"scalar image_h 0", "scalar 'image_h' is 0"},
        {"scalar image_w 5000", "scalar 'image_w' is 5000"},
        {"scalar image_c 9", "scalar 'image_c' is 9"},
        {"scalar image_h 4", "its image encoder"},                 /* too small for the encoder's layers */
        {"scalar image_h 84", "does not hold the"},                /* an encoder of other weights */
        {"no_scalar image_w", "image_w"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        status = test_run(PYTHON " make_bad_checkpoint.py %s/p/pretrain.ckpt %s/bad.ckpt %s", dir, dir, cases[i].edit);
        cr_assert_eq(status, 0, "%s: %s", cases[i].edit, test_err);
        status = test_run("%s eval %s/bad.ckpt episodes=1", bin, dir);
        cr_assert_eq(status, 2, "%s: exit %d:\n%s", cases[i].edit, status, test_err);
        cr_assert(strstr(test_err, cases[i].needle), "%s: message lacks '%s': %s", cases[i].edit, cases[i].needle, test_err);
    }
    test_rmtree(dir);
}
