/* test_render.c — headless rendering of MuJoCo scenes (host/envs/mujoco/render.c) and the *_rgb tasks'
 * image observations: the same state renders to the same bytes (in one renderer, a second one, and a
 * vector env on 1 or 2 threads), images are not blank and change with the state, a bad camera or MUJOCO_GL
 * is named, env.render.* set the size and camera, and a dataset recorded by the library or by `rldt collect
 * policy=CKPT env=hopper_rgb` holds obs/agentview_image as uint8 [T, 84, 84, 3] with gzip, readable by h5py
 * and by rldt's reader. Skips, naming what is missing, without MuJoCo (or its models) or the GL library. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "rldt/dataset.h"
#include "rldt/env.h"
#include "rldt/render.h"

#define SIDE RLDT_RENDER_DEFAULT_SIZE
#define BYTES (SIDE * SIDE * 3)

/* Opens `task` into env and a renderer of its images; skips the test when MuJoCo, its models or the GL
 * library are missing (the message names which). */
static rldt_renderer_t *open_env(rldt_env_t *env, const char *task)
{
    rldt_status_t st = rldt_env_init(env, test_env(task), 0);
    if (st && (strstr(rldt_error_message(), "MuJoCo not installed") || strstr(rldt_error_message(), "Gymnasium's models")))
        cr_skip_test("skipped: %s", rldt_error_message());
    cr_assert_eq(st, RLDT_OK, "%s", rldt_error_message());
    rldt_renderer_t *r;
    st = rldt_env_renderer_create(env, &r);
    if (st && (strstr(rldt_error_message(), "OSMesa") || strstr(rldt_error_message(), "libEGL"))) {
        rldt_env_free(env);
        cr_skip_test("skipped: %s", rldt_error_message());
    }
    cr_assert_eq(st, RLDT_OK, "%s", rldt_error_message());
    return r;
}

static double variance(const uint8_t *p, size_t n)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += p[i], s2 += (double)p[i] * p[i];
    return s2 / (double)n - (s / (double)n) * (s / (double)n);
}

// ------------------------------------------------------------------------------------------------

Test(render, deterministic_nonblank_and_follows_the_state, .timeout = 120)
{
    rldt_env_t env;
    rldt_renderer_t *r = open_env(&env, "hopper_rgb");
    cr_assert(env.spec->image_h == SIDE && env.spec->image_w == SIDE && env.spec->image_c == 3);
    float obs[11];
    static uint8_t a[BYTES], b[BYTES], c[BYTES], d[BYTES];
    rldt_env_reset(&env, 7, obs);
    rldt_env_draw(&env, r, a);
    rldt_env_draw(&env, r, b);
    cr_assert(memcmp(a, b, BYTES) == 0, "the same state rendered twice differs");
    cr_assert_gt(variance(a, BYTES), 10.0, "the image is blank (variance %g)", variance(a, BYTES));

    rldt_renderer_t *r2;
    cr_assert_eq(rldt_env_renderer_create(&env, &r2), RLDT_OK, "%s", rldt_error_message());
    rldt_env_draw(&env, r2, c);
    cr_assert(memcmp(a, c, BYTES) == 0, "a second renderer draws the same state differently");
    rldt_renderer_free(r2);

    const float act[3] = {1.0f, -1.0f, 1.0f};
    for (int t = 0; t < 20; t++) rldt_env_step(&env, act, obs, NULL);
    rldt_env_draw(&env, r, d);
    size_t changed = 0;
    for (size_t i = 0; i < BYTES; i++) changed += a[i] != d[i];
    cr_assert_gt(changed, 50, "20 steps later only %zu bytes changed", changed);

    /* rows run top to bottom: the track camera sees the sky above the floor */
    double top = 0, bottom = 0;
    for (int x = 0; x < SIDE * 3; x++) top += a[x], bottom += a[(SIDE - 1) * SIDE * 3 + x];
    cr_assert_neq(top, bottom);
    rldt_renderer_free(r);
    rldt_env_free(&env);
}

Test(render, cameras_named_free_or_refused, .timeout = 120)
{
    rldt_env_t env;
    rldt_renderer_free(open_env(&env, "hopper_rgb"));
    const struct mjModel_ *m;
    cr_assert_not_null(rldt_env_mj_scene(&env, &m));
    rldt_renderer_t *r;
    rldt_render_opts_t o = {.width = 32, .height = 24, .camera = "nope"};
    cr_assert_eq(rldt_renderer_create(&r, m, &o), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "no camera 'nope'") && strstr(rldt_error_message(), "track"), "%s", rldt_error_message());
    o.width = 0;
    cr_assert_eq(rldt_renderer_create(&r, m, &o), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "out of range"), "%s", rldt_error_message());

    o = (rldt_render_opts_t){.width = 32, .height = 24, .camera = "free"};
    cr_assert_eq(rldt_renderer_create(&r, m, &o), RLDT_OK, "%s", rldt_error_message());
    float obs[11];
    uint8_t img[32 * 24 * 3];
    rldt_env_reset(&env, 1, obs);
    const struct mjModel_ *unused;
    rldt_renderer_draw(r, rldt_env_mj_scene(&env, &unused), img);
    cr_assert_gt(variance(img, sizeof img), 1.0);
    rldt_renderer_free(r);
    rldt_env_free(&env);

    rldt_env_t plain;
    cr_assert_eq(rldt_env_init(&plain, test_env("pendulum"), 0), RLDT_OK);
    cr_assert_eq(rldt_env_renderer_create(&plain, &r), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "no image observations"), "%s", rldt_error_message());
    rldt_env_free(&plain);
}

/* Steps a hopper_rgb vector env of n envs on `threads` threads for `steps` steps and returns its images. */
static uint8_t *vec_images(int n, int threads, int steps)
{
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, test_env("hopper_rgb"), n, 0, 3, 0, threads), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_vecenv_threads(v), threads);
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    float *act = test_random_array((size_t)n * 3, -1, 1, 5);
    for (int t = 0; t < steps; t++) cr_assert_eq(rldt_vecenv_step(v, act, 1, &out), RLDT_OK);
    uint8_t *img = malloc((size_t)n * BYTES);
    memcpy(img, rldt_vecenv_images(v), (size_t)n * BYTES);
    free(act);
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(v);
    return img;
}

Test(render, vector_env_images_same_on_any_thread_count, .timeout = 180)
{
    rldt_env_t env;
    rldt_renderer_free(open_env(&env, "hopper_rgb")); /* skips without MuJoCo or GL */
    rldt_env_free(&env);
    uint8_t *one = vec_images(4, 1, 5), *two = vec_images(4, 2, 5);
    cr_assert(memcmp(one, two, 4 * BYTES) == 0, "images differ between 1 and 2 threads");
    cr_assert(memcmp(one, one + BYTES, BYTES) != 0, "envs 0 and 1 (other seeds) render the same image");
    free(one);
    free(two);
}

/* Checks with h5py that every demo of the dataset at `path` holds obs/ and next_obs/agentview_image as
 * uint8 [T, 84, 84, 3] with gzip, the next image of step t being the image of step t + 1, not blank. */
static void check_h5(const char *path)
{
    int status = test_run(PYTHON " -c '\n"
                          "import h5py, numpy as np, sys\n"
                          "f = h5py.File(sys.argv[1], \"r\")\n"
                          "for name, d in f[\"data\"].items():\n"
                          "    im, nx = d[\"obs/agentview_image\"], d[\"next_obs/agentview_image\"]\n"
                          "    T = d.attrs[\"num_samples\"]\n"
                          "    assert im.shape == (T, 84, 84, 3) and im.dtype == np.uint8, (im.shape, im.dtype)\n"
                          "    assert nx.shape == im.shape and nx.dtype == np.uint8\n"
                          "    assert im.compression == \"gzip\", im.compression\n"
                          "    a, b = im[()], nx[()]\n"
                          "    assert (a[1:] == b[:-1]).all(), \"next image of step t is not the image of step t+1\"\n"
                          "    assert a.std() > 1 and not (a[0] == a[-1]).all()\n"
                          "print(\"ok\", len(f[\"data\"]))\n"
                          "' %s",
                          path);
    cr_assert_eq(status, 0, "h5py check failed:\n%s\n%s", test_out, test_err);
}

Test(render, recorded_dataset_holds_agentview_images, .timeout = 300)
{
    rldt_env_t env;
    rldt_renderer_free(open_env(&env, "hopper_rgb"));
    rldt_env_free(&env);
    const rldt_env_spec_t *sp = test_env("hopper_rgb");
    const int n = 2, max_steps = 12;
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, n, max_steps, 11, 0, 2), RLDT_OK, "%s", rldt_error_message());
    char *path = test_temp_path("render.h5");
    rldt_dataset_writer_t *w;
    cr_assert_eq(rldt_dataset_writer_open(&w, path, sp, max_steps, NULL), RLDT_OK, "%s", rldt_error_message());
    rldt_recorder_t *rec = rldt_recorder_create(sp, n, 1, max_steps);
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    out.record = rldt_recorder_capture(rec);
    float act[2 * 3] = {0.2f, -0.3f, 0.1f, -0.5f, 0.4f, 0.0f};
    int demos = 0;
    while (demos < 3) {
        cr_assert_eq(rldt_vecenv_step(v, act, 1, &out), RLDT_OK);
        for (int i = 0; i < n; i++) {
            cr_assert_eq(rldt_recorder_push(rec, i, out.steps[i], w), RLDT_OK, "%s", rldt_error_message());
            demos += out.terminated[i] || out.truncated[i];
        }
    }
    cr_assert_eq(rldt_dataset_writer_close(w, 0), RLDT_OK, "%s", rldt_error_message());
    rldt_recorder_free(rec);
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(v);

    check_h5(path);

    rldt_dataset_t ds;
    cr_assert_eq(rldt_dataset_load(&ds, path, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert(ds.meta.n_image_keys == 1 && strcmp(ds.meta.image_keys[0].name, "agentview_image") == 0);
    cr_assert(ds.meta.image_keys[0].h == SIDE && ds.meta.image_keys[0].w == SIDE && ds.meta.image_keys[0].c == 3);
    rldt_dataset_free(&ds);
    remove(path);
}

Test(render, mujoco_gl_must_name_a_headless_library, .timeout = 60)
{
    rldt_env_t env;
    rldt_status_t st = rldt_env_init(&env, test_env("hopper_rgb"), 0);
    if (st) cr_skip_test("skipped: %s", rldt_error_message());
    setenv("MUJOCO_GL", "glfw", 1); /* read once per process, at the first renderer */
    rldt_renderer_t *r;
    cr_assert_eq(rldt_env_renderer_create(&env, &r), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "MUJOCO_GL=glfw") && strstr(rldt_error_message(), "osmesa"), "%s", rldt_error_message());
    rldt_env_free(&env);
}

Test(render, env_render_keys_set_size_and_camera, .timeout = 120)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    const char *yaml = "env:\n  name: hopper_rgb\n  render:\n    width: 32\n    height: 24\n    camera: free\n";
    char *path = test_temp_path("render.yaml");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(yaml, f);
    fclose(f);
    cr_assert_eq(rldt_config_load_yaml(&cfg, path), RLDT_OK, "%s", rldt_error_message());
    remove(path);
    const rldt_env_spec_t *sp = rldt_env_from_config(&cfg);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    cr_assert(sp->image_w == 32 && sp->image_h == 24 && strcmp(sp->camera, "free") == 0 && strcmp(sp->name, "hopper_rgb") == 0);
    cr_assert_eq(rldt_env_from_config(&cfg), sp, "the same keys must give the same row");
    cr_assert(test_env("hopper_rgb")->image_w == SIDE, "the task's own row is unchanged");

    rldt_vecenv_t *v;
    rldt_status_t st = rldt_vecenv_create(&v, sp, 2, 0, 1, 0, 1);
    if (st && (strstr(rldt_error_message(), "MuJoCo not installed") || strstr(rldt_error_message(), "Gymnasium's models") ||
               strstr(rldt_error_message(), "OSMesa") || strstr(rldt_error_message(), "libEGL")))
        cr_skip_test("skipped: %s", rldt_error_message());
    cr_assert_eq(st, RLDT_OK, "%s", rldt_error_message());
    cr_assert_gt(variance(rldt_vecenv_images(v), 32 * 24 * 3), 1.0);
    rldt_vecenv_destroy(v);

    snprintf(cfg.env_name, sizeof cfg.env_name, "hopper");
    cr_assert_null(rldt_env_from_config(&cfg));
    cr_assert(strstr(rldt_error_message(), "task hopper has no image observations"), "%s", rldt_error_message());
}

/* Skips without a renderer; otherwise a tiny SAC run (the policy of the CLI tests below) in a fresh
 * temporary directory dir, its checkpoint at dir/s/sac.ckpt. */
static void tiny_sac(char *dir, size_t n, const char *args)
{
    rldt_env_t env;
    rldt_renderer_free(open_env(&env, "hopper_rgb"));
    rldt_env_free(&env);
    test_tmpdir(dir, n);
    int status = test_run("%s sac env.n_envs=2 eval.episodes=1 %s run.out_dir=%s run.name=s", test_bin(), args, dir);
    cr_assert_eq(status, 0, "sac failed:\n%s\n%s", test_out, test_err);
}

Test(render, collect_writes_images_from_a_policy, .timeout = 300)
{
    const char *bin = test_bin();
    char dir[256];
    tiny_sac(dir, sizeof dir, "env.name=hopper sac.steps=200 sac.start_steps=100 sac.update_after=100 sac.batch=32");
    int status = test_run("%s collect policy=%s/s/sac.ckpt env=hopper_rgb demos=3 threads=2 out=%s/h.h5", bin, dir, dir);
    cr_assert_eq(status, 0, "collect failed:\n%s\n%s", test_out, test_err);
    char path[300];
    snprintf(path, sizeof path, "%s/h.h5", dir);
    check_h5(path);
    test_rmtree(dir);
}

/* The width and height in a PNG's IHDR, or 0 when the file is not there. */
static int png_size(const char *path, int *w, int *h)
{
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    if (got < sizeof b) return 0;
    *w = (b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19];
    *h = (b[20] << 24) | (b[21] << 16) | (b[22] << 8) | b[23];
    return 1;
}

Test(render, eval_frames_are_the_image_observations, .timeout = 300)
{
    const char *bin = test_bin();
    char dir[256];
    tiny_sac(dir, sizeof dir, "env.name=hopper_rgb env.render.width=64 env.render.height=48 sac.steps=120 sac.start_steps=60 "
                              "sac.update_after=60 sac.batch=16");
    int status = test_run("%s eval %s/s/sac.ckpt episodes=1 frames=%s/frames", bin, dir, dir);
    cr_assert_eq(status, 0, "eval failed:\n%s\n%s", test_out, test_err);
    char path[320];
    int w = 0, h = 0;
    snprintf(path, sizeof path, "%s/frames/frame_00000.png", dir);
    cr_assert(png_size(path, &w, &h), "no %s:\n%s", path, test_out);
    cr_assert(w == 64 && h == 48, "frame is %dx%d, the task's images are 64x48", w, h);
    test_rmtree(dir);
}

Test(render, restored_snapshot_renders_its_own_images, .timeout = 180)
{
    rldt_env_t env;
    rldt_renderer_free(open_env(&env, "hopper_rgb"));
    rldt_env_free(&env);
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, test_env("hopper_rgb"), 2, 0, 9, 0, 2), RLDT_OK, "%s", rldt_error_message());
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    float act[2 * 3] = {0.5f, -0.5f, 0.5f, -0.3f, 0.3f, -0.3f};
    for (int t = 0; t < 3; t++) rldt_vecenv_step(v, act, 1, &out);
    uint8_t *snap = malloc(rldt_vecenv_snapshot_size(v)), *then = malloc(2 * BYTES);
    rldt_vecenv_snapshot(v, snap);
    memcpy(then, rldt_vecenv_images(v), 2 * BYTES);
    for (int t = 0; t < 5; t++) rldt_vecenv_step(v, act, 1, &out);
    cr_assert(memcmp(then, rldt_vecenv_images(v), 2 * BYTES) != 0);
    cr_assert_eq(rldt_vecenv_restore(v, snap, rldt_vecenv_snapshot_size(v)), RLDT_OK, "%s", rldt_error_message());
    cr_assert(memcmp(then, rldt_vecenv_images(v), 2 * BYTES) == 0, "the images after a restore are not the snapshot's");
    free(snap);
    free(then);
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(v);
}

Test(render, rendering_leaves_the_trajectories_alone, .timeout = 180)
{
    rldt_env_t env;
    rldt_renderer_free(open_env(&env, "hopper_rgb"));
    rldt_env_free(&env);
    const char *tasks[2] = {"hopper", "hopper_rgb"};
    float obs[2][60 * 2 * 11];
    for (int k = 0; k < 2; k++) {
        rldt_vecenv_t *v;
        cr_assert_eq(rldt_vecenv_create(&v, test_env(tasks[k]), 2, 0, 4, 0, 2), RLDT_OK, "%s", rldt_error_message());
        rldt_vec_out_t out;
        rldt_vecenv_out_alloc(v, &out);
        float *act = test_random_array(60 * 2 * 3, -1, 1, 8);
        for (int t = 0; t < 60; t++) {
            rldt_vecenv_step(v, act + t * 6, 1, &out);
            memcpy(obs[k] + t * 22, out.obs, 22 * sizeof(float));
        }
        free(act);
        rldt_vecenv_out_free(&out);
        rldt_vecenv_destroy(v);
    }
    cr_assert(memcmp(obs[0], obs[1], sizeof obs[0]) == 0, "hopper_rgb's observations differ from hopper's");
}
