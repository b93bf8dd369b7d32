/* test_gym_bridge.c — Gymnasium envs through the bridge (host/envs/bridge/): Pendulum-v1 equal to the native
 * pendulum step for step (auto-reset, chunks cut by the step limit, per-step capture), Dict observations
 * flattened by env.obs_keys, an image key of a Dict passed as the spec's image (every byte, auto-reset, the
 * capture, `rldt collect` writing obs/agentview_image), a worker killed mid-run and a worker that raises (an
 * error within seconds naming the env, never a hang), `rldt collect` with a scripted expert computed in the
 * workers, bad input (unknown id, non-Box actions, a plain image observation, bad kwargs
 * JSON, a missing interpreter) refused by name through the CLI, and fine-tune, eval (with export) and
 * pretraining (from that export) on Pendulum-v1. The test envs are in tests/gym_test_envs.py. Every test
 * skips without the test venv (make deps). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/backend.h"
#include "rldt/env.h"
#include "rldt/finetune.h"
#include "rldt/pretrain.h"
#include "training.h"

#define TEST_ENVS "gym:gym_test_envs:rldt_test/"

/* The test venv's interpreter; skips the test when it or its gymnasium is missing. */
static const char *need_gym(void)
{
    const char *python = getenv("RLDT_MUJOCO_PYTHON");
    if (!python || access(python, X_OK) != 0) cr_skip_test("skipped: no test venv at %s (run make deps)", python ? python : "(unset)");
    if (test_run("'%s' -c 'import gymnasium'", python) != 0) cr_skip_test("skipped: %s has no gymnasium (run make deps)", python);
    return python;
}

/* The spec of a Gymnasium env from env.* settings (kwargs, obs_keys may be ""). */
static const rldt_env_spec_t *gym_spec(const char *name, const char *kwargs, const char *obs_keys, int workers)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    char w[16];
    snprintf(w, sizeof w, "%d", workers);
    cr_assert_eq(rldt_config_set(&cfg, "env.name", name, "test", 0), RLDT_OK);
    cr_assert_eq(rldt_config_set(&cfg, "env.kwargs", kwargs, "test", 0), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_config_set(&cfg, "env.obs_keys", obs_keys, "test", 0), RLDT_OK);
    cr_assert_eq(rldt_config_set(&cfg, "env.python", need_gym(), "test", 0), RLDT_OK);
    cr_assert_eq(rldt_config_set(&cfg, "env.workers", w, "test", 0), RLDT_OK);
    return rldt_env_from_config(&cfg);
}

static rldt_vec_record_t record_alloc(int n, int chunk, int od, int ad)
{
    size_t rows = (size_t)n * (size_t)chunk;
    return (rldt_vec_record_t){.obs = calloc(rows * od, sizeof(float)), .actions = calloc(rows * ad, sizeof(float)),
                               .rewards = calloc(rows, sizeof(float)), .next_obs = calloc(rows * od, sizeof(float)),
                               .dones = calloc(rows, 1), .successes = calloc(rows, 1)};
}

static void record_free(rldt_vec_record_t *r)
{
    free(r->obs), free(r->actions), free(r->rewards), free(r->next_obs), free(r->dones), free(r->successes);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

// ------------------------------------------------------------------------------------------------
// Pendulum-v1 against the native pendulum

/* Pendulum-v1 (Gymnasium's class, started from the states the native pendulum resets to) and rldt's
 * pendulum, 3 envs in 2 workers, 10-step episodes (the host's limit, below Pendulum-v1's 200) in chunks of
 * 3 (so chunks are cut), actions beyond the bounds (clipped): every output and every captured step agree. */
Test(gym, pendulum_equals_native, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    need_gym();
    enum { N = 3, CHUNK = 3, ITERS = 30, EPISODES = 12, LIMIT = 10 };
    const uint64_t seed = 42;
    const rldt_env_spec_t *native = rldt_env_find("pendulum");
    /* the native episodes' start states, by reset seed */
    char starts[256];
    snprintf(starts, sizeof starts, "%s/pendulum_starts.json", training_dir);
    FILE *f = fopen(starts, "w");
    cr_assert_not_null(f);
    fprintf(f, "{");
    rldt_env_t env;
    cr_assert_eq(rldt_env_init(&env, native, 0), RLDT_OK);
    for (int i = 0; i < N; i++)
        for (int e = 0; e < EPISODES; e++) {
            uint64_t s = rldt_env_episode_seed(seed, 0, (uint32_t)i, (uint64_t)e);
            float obs[3];
            double st[2];
            rldt_env_reset(&env, s, obs);
            rldt_env_get_state(&env, st);
            fprintf(f, "%s\"%llu\": [%.17g, %.17g]", i || e ? ", " : "", (unsigned long long)s, st[0], st[1]);
        }
    fprintf(f, "}\n");
    fclose(f);
    rldt_env_free(&env);
    char kwargs[320];
    snprintf(kwargs, sizeof kwargs, "{\"starts_file\": \"%s\"}", starts);
    const rldt_env_spec_t *gym = gym_spec(TEST_ENVS "PendulumAt-v0", kwargs, "", 2);
    cr_assert_not_null(gym, "%s", rldt_error_message());
    cr_assert_eq(gym->obs_dim, 3);
    cr_assert_eq(gym->act_dim, 1);
    cr_assert_eq(gym->max_steps, 200);
    cr_assert_eq(gym->act_low[0], -2.0f);
    cr_assert_eq(gym->act_high[0], 2.0f);
    cr_assert_eq(gym->reward_kind, RLDT_REWARD_DENSE);

    rldt_vecenv_t *vg, *vn;
    cr_assert_eq(rldt_vecenv_create(&vg, gym, N, LIMIT, seed, 0, 1), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_vecenv_create(&vn, native, N, LIMIT, seed, 0, 1), RLDT_OK);
    cr_assert_eq(rldt_vecenv_threads(vg), 2, "two worker processes");
    double worst = max_diff(rldt_vecenv_obs(vg), rldt_vecenv_obs(vn), N * 3);
    rldt_vec_out_t og, on;
    rldt_vecenv_out_alloc(vg, &og);
    rldt_vecenv_out_alloc(vn, &on);
    rldt_vec_record_t rg = record_alloc(N, CHUNK, 3, 1), rn = record_alloc(N, CHUNK, 3, 1);
    og.record = &rg, on.record = &rn;
    rldt_rng_t r;
    rldt_rng_init(&r, 5, 0);
    int ends = 0;
    for (int it = 0; it < ITERS; it++) {
        float a[N * CHUNK];
        for (int j = 0; j < N * CHUNK; j++) a[j] = 2.5f * (2.0f * rldt_rng_uniform(&r) - 1.0f);
        cr_assert_eq(rldt_vecenv_step(vg, a, CHUNK, &og), RLDT_OK, "%s", rldt_error_message());
        cr_assert_eq(rldt_vecenv_step(vn, a, CHUNK, &on), RLDT_OK);
        for (int i = 0; i < N; i++) {
            cr_assert_eq(og.steps[i], on.steps[i], "iteration %d env %d", it, i);
            cr_assert_eq(og.terminated[i], on.terminated[i]);
            cr_assert_eq(og.truncated[i], on.truncated[i], "iteration %d env %d", it, i);
            cr_assert_eq(og.success[i], 0);
            worst = fmax(worst, fabs(og.reward[i] - on.reward[i]) / 10);
            if (og.truncated[i]) worst = fmax(worst, max_diff(og.final_obs + 3 * i, on.final_obs + 3 * i, 3)), ends++;
            for (int k = 0; k < og.steps[i]; k++) {
                size_t row = (size_t)i * CHUNK + k;
                cr_assert_eq(rg.actions[row], rn.actions[row], "executed actions are clipped alike");
                cr_assert_eq(rg.dones[row], rn.dones[row]);
                worst = fmax(worst, max_diff(rg.obs + 3 * row, rn.obs + 3 * row, 3));
                worst = fmax(worst, max_diff(rg.next_obs + 3 * row, rn.next_obs + 3 * row, 3));
                worst = fmax(worst, fabs(rg.rewards[row] - rn.rewards[row]) / 10);
            }
        }
        worst = fmax(worst, max_diff(og.obs, on.obs, N * 3));
        for (int i = 0; i < N; i++) cr_assert_eq(rldt_vecenv_episodes(vg, i), rldt_vecenv_episodes(vn, i));
    }
    printf("gym bridge: Pendulum-v1 vs native pendulum, %d episode ends, largest difference %.3g\n", ends, worst);
    cr_assert_gt(ends, 2 * N, "episodes must end (and auto-reset) during the run");
    /* Gymnasium computes the torque terms in float32 (its action's dtype), rldt in double */
    cr_assert_lt(worst, 1e-5, "largest difference %g", worst);
    uint8_t snap[4096];
    cr_assert_leq(rldt_vecenv_snapshot_size(vg), sizeof snap);
    rldt_vecenv_snapshot(vg, snap);
    cr_assert_eq(rldt_vecenv_restore(vg, snap, rldt_vecenv_snapshot_size(vg)), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "cannot resume"), "%s", rldt_error_message());
    record_free(&rg), record_free(&rn);
    rldt_vecenv_out_free(&og), rldt_vecenv_out_free(&on);
    rldt_vecenv_destroy(vg);
    rldt_vecenv_destroy(vn);
}

// ------------------------------------------------------------------------------------------------
// Dict observations

/* obs = [goal, pos0, pos1, vel0..2] from keys "goal, pos,vel"; rewards, success and ends are the env's. */
Test(gym, dict_observation_flattened_by_obs_keys, .timeout = 60)
{
    const rldt_env_spec_t *sp = gym_spec(TEST_ENVS "DictPoint-v0", "", "goal, pos,vel", 1);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    cr_assert_eq(sp->obs_dim, 6);
    cr_assert_eq(sp->act_dim, 2);
    cr_assert_eq(sp->max_steps, 6);
    rldt_vecenv_t *v;
    const uint64_t seed = 3;
    cr_assert_eq(rldt_vecenv_create(&v, sp, 2, 0, seed, 0, 0), RLDT_OK, "%s", rldt_error_message());
    for (int i = 0; i < 2; i++) {
        float base = (float)(rldt_env_episode_seed(seed, 0, (uint32_t)i, 0) % 1000);
        const float *o = rldt_vecenv_obs(v) + 6 * i;
        float want[6] = {base + 0.5f, 0, base, 0, 0, -1};
        for (int j = 0; j < 6; j++) cr_assert_eq(o[j], want[j], "env %d value %d: %g, want %g", i, j, o[j], want[j]);
    }
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    /* env 0 ends by its own rule at step 3 (action[1] > 0.5), env 1 by the time limit at step 6 */
    float a[2 * 4 * 2] = {0};
    for (int k = 0; k < 4; k++) a[2 * k] = 0.25f, a[2 * k + 1] = k == 2 ? 0.75f : 0.0f, a[8 + 2 * k] = -0.5f;
    cr_assert_eq(rldt_vecenv_step(v, a, 4, &out), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(out.steps[0], 3);
    cr_assert(out.terminated[0] && !out.truncated[0] && out.success[0]);
    cr_assert_float_eq(out.reward[0], 3 * 0.25f + 1 + 2 + 3, 1e-5);
    float base0 = (float)(rldt_env_episode_seed(seed, 0, 0, 0) % 1000);
    float final0[6] = {base0 + 0.5f, 3, base0, 0.25f, 0.75f, -1};
    for (int j = 0; j < 6; j++) cr_assert_eq(out.final_obs[j], final0[j], "final value %d", j);
    float next0 = (float)(rldt_env_episode_seed(seed, 0, 0, 1) % 1000);
    cr_assert_eq(out.obs[0], next0 + 0.5f, "the next episode's first observation");
    cr_assert_eq(rldt_vecenv_episodes(v, 0), 2);
    cr_assert_eq(out.steps[1], 4);
    cr_assert(!out.terminated[1] && !out.truncated[1]);
    cr_assert_eq(out.obs[6 + 1], 4.0f, "pos0 counts the steps");
    cr_assert_eq(rldt_vecenv_step(v, a, 4, &out), RLDT_OK);
    cr_assert_eq(out.steps[1], 2);
    cr_assert(out.truncated[1] && !out.terminated[1], "Gymnasium's time limit truncates");
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(v);

    cr_assert_null(gym_spec(TEST_ENVS "DictPoint-v0", "", "", 1));
    cr_assert(strstr(rldt_error_message(), "name the ones to use with env.obs_keys"), "%s", rldt_error_message());
    cr_assert(strstr(rldt_error_message(), "goal, pos, vel"), "%s", rldt_error_message());
    cr_assert_null(gym_spec(TEST_ENVS "DictPoint-v0", "", "pos,speed", 1));
    cr_assert(strstr(rldt_error_message(), "no key 'speed'"), "%s", rldt_error_message());
}

// ------------------------------------------------------------------------------------------------
// failing workers

/* One of two workers killed with SIGKILL between steps: the next step fails within seconds naming the
 * worker's env and the signal; destroying the vector env does not hang either. */
Test(gym, killed_worker_ends_the_step_with_an_error, .init = training_setup, .fini = training_teardown, .timeout = 60)
{
    const char *dir = training_dir;
    char kwargs[320];
    snprintf(kwargs, sizeof kwargs, "{\"pid_dir\": \"%s\"}", dir);
    const rldt_env_spec_t *sp = gym_spec(TEST_ENVS "DictPoint-v0", kwargs, "pos", 2);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, 4, 0, 1, 0, 0), RLDT_OK, "%s", rldt_error_message());
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    float a[8] = {0};
    cr_assert_eq(rldt_vecenv_step(v, a, 1, &out), RLDT_OK, "%s", rldt_error_message());
    /* the pid files: the probe's worker (gone) and the two workers of v; kill the live ones' last */
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    long victim = 0;
    for (struct dirent *e; (e = readdir(d));) {
        long pid = atol(e->d_name);
        if (pid > 0 && kill((pid_t)pid, 0) == 0 && pid > victim) victim = pid;
    }
    closedir(d);
    cr_assert_gt(victim, 0, "no live worker found in %s", dir);
    cr_assert_eq(kill((pid_t)victim, SIGKILL), 0);
    double t0 = rldt_now();
    rldt_status_t st = rldt_vecenv_step(v, a, 1, &out);
    double took = rldt_now() - t0;
    cr_assert_eq(st, RLDT_ERR);
    cr_assert_lt(took, 3.0, "the error took %.1f s", took);
    cr_assert(strstr(rldt_error_message(), "killed by signal 9"), "%s", rldt_error_message());
    cr_assert(strstr(rldt_error_message(), "envs 2-3"), "%s", rldt_error_message());
    cr_assert_eq(rldt_vecenv_step(v, a, 1, &out), RLDT_ERR, "the bridge stays failed");
    t0 = rldt_now();
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(v);
    cr_assert_lt(rldt_now() - t0, 3.0);
}

/* env 2's action makes its Python step raise: the error names env 2 and carries the exception's text. */
Test(gym, raising_worker_reports_the_exception_and_env, .timeout = 60)
{
    const rldt_env_spec_t *sp = gym_spec(TEST_ENVS "DictPoint-v0", "{\"raise_above\": 0.5}", "pos,goal", 2);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, 3, 0, 1, 0, 0), RLDT_OK, "%s", rldt_error_message());
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    float a[6] = {0, 0, 0, 0, 0.875f, 0};
    double t0 = rldt_now();
    cr_assert_eq(rldt_vecenv_step(v, a, 1, &out), RLDT_ERR);
    cr_assert_lt(rldt_now() - t0, 3.0);
    cr_assert(strstr(rldt_error_message(), "env 2 "), "%s", rldt_error_message());
    cr_assert(strstr(rldt_error_message(), "ValueError: action 0.875 above raise_above 0.5"), "%s", rldt_error_message());
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(v);
}

// ------------------------------------------------------------------------------------------------
// scripted experts in the workers

/* DictPoint's expert (its rldt_expert_action) through `rldt collect` with env.* keys: 3 demos of 3 steps
 * each from 2 envs in 2 workers, all successful, the expert's exact actions (noise 0); an expert that raises
 * ends the collect naming the env and the exception. */
Test(gym, collect_with_the_workers_expert, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    const char *python = need_gym();
    char out[512];
    snprintf(out, sizeof out, "%s/dict.h5", training_dir);
    int rc = test_run("'%s' collect env.name=" TEST_ENVS "DictPoint-v0 env.obs_keys=pos,goal env.python='%s' env.workers=2 envs=2 "
                      "demos=3 noise=0 out='%s'", test_bin(), python, out);
    cr_assert_eq(rc, 0, "%s", test_err);
    rc = test_run("'%s' dataset info '%s'", test_bin(), out);
    cr_assert_eq(rc, 0, "%s", test_err);
    cr_assert(strstr(test_out, "samples       9 (episode length min 3, mean 3.0, max 3)"), "%s", test_out);
    cr_assert(strstr(test_out, "success       3/3"), "%s", test_out);
    cr_assert(strstr(test_out, "action min    [0.25, 0]") && strstr(test_out, "action max    [0.25, 0.75]"), "%s", test_out);

    rc = test_run("'%s' collect env.name=" TEST_ENVS "DictPoint-v0 'env.kwargs={\"expert_raises\": true}' env.obs_keys=pos "
                  "env.python='%s' env.workers=1 envs=2 demos=1 out='%s/bad.h5'", test_bin(), python, training_dir);
    cr_assert_eq(rc, 1, "exit %d\n%s", rc, test_err);
    cr_assert(strstr(test_err, "env 0 (Gymnasium worker 0): RuntimeError: expert failed at step 0"), "%s", test_err);
}

// ------------------------------------------------------------------------------------------------
// image observations

enum { IMG_H = 6, IMG_W = 5, IMG_BYTES = IMG_H * IMG_W * 3 };

/* DictImage's image at step t of the episode of `base` (tests/gym_test_envs.py: image). */
static void want_image(int t, int base, uint8_t *im)
{
    for (int r = 0; r < IMG_H; r++)
        for (int c = 0; c < IMG_W; c++)
            for (int ch = 0; ch < 3; ch++) im[(r * IMG_W + c) * 3 + ch] = (uint8_t)((base + 7 * t + 11 * r + 3 * c + ch) % 256);
}

static void assert_image(const uint8_t *got, int t, int base, const char *what)
{
    uint8_t want[IMG_BYTES];
    want_image(t, base, want);
    for (int j = 0; j < IMG_BYTES; j++) cr_assert_eq(got[j], want[j], "%s: byte %d is %d, want %d (step %d)", what, j, got[j], want[j], t);
}

/* The image key `pixels` of DictImage (obs_keys "pixels, state"; 2 envs in 2 workers) is the spec's 6 x 5 x 3
 * image, its bytes the env's: the first images, the capture's images and next_images through a chunk in
 * which env 0's episode ends (its terminal image in next_images, the next episode's in rldt_vecenv_images),
 * a truncation, and rldt_vecenv_reset_env. Two image keys, an image key alone and a one-channel image are
 * refused by name. */
Test(gym, dict_image_observation, .timeout = 60)
{
    const rldt_env_spec_t *sp = gym_spec(TEST_ENVS "DictImage-v0", "", "pixels, state", 2);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    cr_assert_eq(sp->obs_dim, 2);
    cr_assert_eq(sp->act_dim, 1);
    cr_assert(sp->image_h == IMG_H && sp->image_w == IMG_W && sp->image_c == 3, "%d x %d x %d", sp->image_h, sp->image_w, sp->image_c);
    cr_assert_str_eq(sp->camera, "pixels");
    enum { N = 2, CHUNK = 4 };
    const uint64_t seed = 7;
    int base[N];
    for (int i = 0; i < N; i++) base[i] = (int)(rldt_env_episode_seed(seed, 0, (uint32_t)i, 0) % 251);
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, N, 0, seed, 0, 0), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_vecenv_threads(v), 2);
    for (int i = 0; i < N; i++) {
        assert_image(rldt_vecenv_images(v) + i * IMG_BYTES, 0, base[i], "first image");
        cr_assert_eq(rldt_vecenv_obs(v)[2 * i + 1], (float)base[i]);
    }
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    uint8_t images[N * CHUNK * IMG_BYTES], next_images[N * CHUNK * IMG_BYTES];
    rldt_vec_record_t rec = {.images = images, .next_images = next_images};
    out.record = &rec;
    float a[N * CHUNK] = {0, 0, 0.75f, 0}; /* env 0 ends at step 3; env 1 runs on */
    cr_assert_eq(rldt_vecenv_step(v, a, CHUNK, &out), RLDT_OK, "%s", rldt_error_message());
    cr_assert(out.steps[0] == 3 && out.terminated[0] && out.steps[1] == 4);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < out.steps[i]; k++) {
            assert_image(images + (i * CHUNK + k) * IMG_BYTES, k, base[i], "captured image");
            assert_image(next_images + (i * CHUNK + k) * IMG_BYTES, k + 1, base[i], "captured next image");
        }
    int next0 = (int)(rldt_env_episode_seed(seed, 0, 0, 1) % 251);
    assert_image(rldt_vecenv_images(v), 0, next0, "env 0's next episode");
    assert_image(rldt_vecenv_images(v) + IMG_BYTES, 4, base[1], "env 1 after 4 steps");
    cr_assert_eq(rldt_vecenv_step(v, a, CHUNK, &out), RLDT_OK, "%s", rldt_error_message());
    cr_assert(out.steps[1] == 1 && out.truncated[1], "DictImage's time limit is 5 steps");
    assert_image(next_images + CHUNK * IMG_BYTES, 5, base[1], "the terminal image of a truncated episode");
    assert_image(rldt_vecenv_images(v) + IMG_BYTES, 0, (int)(rldt_env_episode_seed(seed, 0, 1, 1) % 251), "env 1's next episode");
    float obs[2];
    cr_assert_eq(rldt_vecenv_reset_env(v, 1, 1234, obs), RLDT_OK);
    assert_image(rldt_vecenv_images(v) + IMG_BYTES, 0, 1234 % 251, "reset_env");
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(v);

    static const struct {
        const char *keys, *want;
    } bad[] = {
        {"state,pixels,pixels2", "env.obs_keys names 2 image keys (pixels, pixels2): the bridge takes one"},
        {"pixels", "env.obs_keys names only the image key pixels: name a float key beside it"},
        {"state,gray", "the bridge takes RGB images (H x W x 3)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_null(gym_spec(TEST_ENVS "DictImage-v0", "", bad[i].keys, 1), "%s", bad[i].keys);
        cr_assert(strstr(rldt_error_message(), bad[i].want), "%s: want '%s' in: %s", bad[i].keys, bad[i].want, rldt_error_message());
    }
}

/* Checks with h5py that every frame of obs/ and next_obs/agentview_image in the file at `path` is DictImage's
 * image(t, base) of its obs/state (tests/gym_test_envs.py), uint8 [T, 6, 5, 3]; `frames` of them in all. */
static void assert_dataset_images(const char *path, int frames)
{
    int rc = test_run(PYTHON " -c \"import sys, h5py, numpy as np; f = h5py.File(sys.argv[1]); n = 0; r, c, ch = np.indices((6, 5, 3))\n"
                      "for d in f['data'].values():\n"
                      "    for g in ('obs', 'next_obs'):\n"
                      "        im, st = d[g + '/agentview_image'], d[g + '/state'][:]\n"
                      "        assert im.dtype == np.uint8 and im.shape == (len(st), 6, 5, 3), (im.dtype, im.shape)\n"
                      "        for k, (t, b) in enumerate(st.astype(int)): assert (im[k] == (b + 7 * t + 11 * r + 3 * c + ch) %% 256).all(), (g, k); n += 1\n"
                      "assert n == int(sys.argv[2]), n\" '%s' %d", path, frames);
    cr_assert_eq(rc, 0, "%s: %s", path, test_err);
}

/* `rldt collect` of DictImage (its expert ends each episode at step 3) writes obs/ and next_obs/agentview_image
 * as uint8 [T, 6, 5, 3], every frame the image of its obs/state, as native image tasks do; so does `rldt eval
 * export=` of a policy pretrained on that file (2 episodes run to the 5-step limit), whose `frames=` writes
 * PNGs. */
Test(gym, collect_and_eval_write_the_images, .init = training_setup, .fini = training_teardown, .timeout = 120)
{
    const char *python = need_gym();
    char env[512], data[512];
    snprintf(env, sizeof env, "env.name=" TEST_ENVS "DictImage-v0 env.obs_keys=state,pixels env.python='%s' env.workers=2", python);
    snprintf(data, sizeof data, "%s/images.h5", training_dir);
    int rc = test_run("'%s' collect %s envs=2 demos=3 noise=0 out='%s'", test_bin(), env, data);
    cr_assert_eq(rc, 0, "%s", test_err);
    rc = test_run("'%s' dataset info '%s'", test_bin(), data);
    cr_assert_eq(rc, 0, "%s", test_err);
    cr_assert(strstr(test_out, "image         obs/agentview_image uint8 [T, 6, 5, 3] (and next_obs)"), "%s", test_out);
    cr_assert(strstr(test_out, "success       3/3"), "%s", test_out);
    assert_dataset_images(data, 3 * 3 * 2);

    rc = test_run("'%s' pretrain ../configs/pendulum.yaml %s env.n_envs=2 data.path='%s' pretrain.steps=10 pretrain.log_every=10 "
                  "eval.episodes=1 policy.width=16 run.name=img run.out_dir='%s'", test_bin(), env, data, training_dir);
    cr_assert_eq(rc, 0, "%s", test_err);
    rc = test_run("'%s' eval '%s/img/pretrain.ckpt' episodes=2 n_envs=2 export='%s/rollouts.h5' frames='%s/frames'", test_bin(),
                  training_dir, training_dir, training_dir);
    cr_assert_eq(rc, 0, "%s", test_err);
    char path[600];
    snprintf(path, sizeof path, "%s/rollouts.h5", training_dir);
    assert_dataset_images(path, 2 * 5 * 2);
    snprintf(path, sizeof path, "%s/frames/frame_00004.png", training_dir);
    cr_assert_eq(access(path, R_OK), 0, "eval frames=: no %s", path);
}

// ------------------------------------------------------------------------------------------------
// the CLI

/* envstep drives a Gymnasium env; bad input is refused by name with exit code 2. */
Test(gym, cli_envstep_and_bad_input, .timeout = 120)
{
    const char *python = need_gym();
    const char *bin = test_bin();
    int rc = test_run("printf 'reset 7\\nstep 1.5\\nstep -9\\n' | '%s' envstep env.name=gym:Pendulum-v1 env.python='%s'", bin, python);
    cr_assert_eq(rc, 0, "%s", test_err);
    cr_assert(strncmp(test_out, "obs ", 4) == 0 && strstr(test_out, "\nstep "), "%s", test_out);
    static const struct {
        const char *args, *want;
    } bad[] = {
        {"env.name=gym:NoSuchEnv-v0", "NameNotFound"},
        {"env.name=gym:CartPole-v1", "the action space is Discrete(2), not a Box"},
        {"env.name=" TEST_ENVS "ImageObs-v0", "the bridge takes images as one key of a Dict observation"},
        {"env.name=gym:Pendulum-v1 'env.kwargs={\"g\": 9.8'", "env.kwargs is not a JSON object"},
        {"env.name=gym:Pendulum-v1 'env.kwargs={\"no_such_arg\": 1}'", "unexpected keyword argument 'no_such_arg'"},
        {"env.name=gym:Pendulum-v1 env.obs_keys=pos", "env.obs_keys is set but the observation space is Box"},
        {"env.name=gym:Pendulum-v1 env.python=/no/such/python", "cannot start the Gymnasium worker with env.python=/no/such/python"},
        {"env.name=gym:", "names no Gymnasium id"},
        {"env.name=robosuite:Lift", "robosuite cannot be imported"}, /* the Gymnasium venv has no robosuite */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool own_python = strstr(bad[i].args, "env.python=") != NULL;
        rc = test_run("'%s' envstep %s %s%s </dev/null", bin, bad[i].args, own_python ? "" : "env.python=", own_python ? "" : python);
        cr_assert_eq(rc, 2, "%s: exit %d\n%s", bad[i].args, rc, test_err);
        cr_assert(strstr(test_err, bad[i].want), "%s: want '%s' in:\n%s", bad[i].args, bad[i].want, test_err);
    }
    rc = test_run("'%s' collect env=gym:Pendulum-v1 demos=1 out=%s", bin, test_temp_path("gym_collect.h5"));
    cr_assert_eq(rc, 2, "%s", test_err);
    cr_assert(strstr(test_err, "no scripted expert"), "%s", test_err);
}

// ------------------------------------------------------------------------------------------------
// training on a Gymnasium env

/* A tiny fine-tune on Pendulum-v1 (2 workers) from a native-pendulum BC policy; its resume is refused;
 * `rldt eval` runs it and exports the rollouts (states of width 0), from which pretraining on gym:Pendulum-v1
 * runs. */
Test(gym, finetune_eval_pretrain, .init = training_setup, .fini = training_teardown, .timeout = 300)
{
    const char *python = need_gym();
    rldt_config_t cfg = training_tiny_pendulum();
    cfg.ft_iterations = 1;
    snprintf(cfg.env_name, sizeof cfg.env_name, "gym:Pendulum-v1");
    snprintf(cfg.env_python, sizeof cfg.env_python, "%s", python);
    cfg.env_workers = 2;
    const rldt_env_spec_t *sp = rldt_env_from_config(&cfg);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    rldt_finetune_result_t res;
    cr_assert_eq(rldt_finetune(&cfg, sp, rldt_backend_cpu(), &res), RLDT_OK, "%s", rldt_error_message());
    cr_assert_gt(res.env_steps, 0);
    snprintf(cfg.ft_resume, sizeof cfg.ft_resume, "%s", res.ckpt_path);
    cr_assert_eq(rldt_finetune(&cfg, sp, rldt_backend_cpu(), &res), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "cannot resume"), "%s", rldt_error_message());

    char export[512];
    snprintf(export, sizeof export, "%s/rollouts.h5", training_dir);
    int rc = test_run("'%s' eval '%s' episodes=2 n_envs=2 export='%s'", test_bin(), cfg.ft_resume, export);
    cr_assert_eq(rc, 0, "%s", test_err);
    cr_assert(strstr(test_out, "gym:Pendulum-v1: 2 episodes"), "%s", test_out);
    rc = test_run("'%s' dataset info '%s'", test_bin(), export);
    cr_assert_eq(rc, 0, "%s", test_err);
    cr_assert(strstr(test_out, "float64 [T, 0]"), "%s", test_out);

    rldt_config_t pre = training_config("gym:Pendulum-v1", export, "bc_gym");
    snprintf(pre.env_python, sizeof pre.env_python, "%s", python);
    pre.env_n_envs = 2;
    pre.policy_width = 32;
    pre.policy_chunk = 2;
    pre.pre_steps = 20;
    pre.pre_log_every = 20;
    pre.eval_episodes = 1;
    rldt_pretrain_result_t pres;
    cr_assert_eq(rldt_pretrain(&pre, rldt_backend_cpu(), &pres), RLDT_OK, "%s", rldt_error_message());
}
