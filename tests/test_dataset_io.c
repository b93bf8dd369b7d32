/* test_dataset_io.c — the dataset library: write → read round trip (image path included), collection
 * determinism and episode layout, the seeded train/valid split, clean failures (no partial files,
 * messages naming the file and the object). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/dataset.h"

/* ------------------------------------------------------------------------------------------------ */
/* round trip */

typedef struct {
    int T;
    float obs[8 * 3], next_obs[8 * 3], actions[8], rewards[8];
    uint8_t image[8 * 60], next_image[8 * 60], dones[8];
    double states[8 * 2];
} demo_data_t;

static void make_demo(demo_data_t *d, int T, uint64_t seed)
{
    rldt_rng_t r;
    rldt_rng_init(&r, seed, 1);
    d->T = T;
    for (int i = 0; i < T * 3; i++) d->obs[i] = rldt_rng_normal(&r), d->next_obs[i] = rldt_rng_normal(&r);
    for (int i = 0; i < T * 60; i++) d->image[i] = (uint8_t)rldt_rng_u32(&r), d->next_image[i] = (uint8_t)rldt_rng_u32(&r);
    for (int t = 0; t < T; t++) {
        d->actions[t] = 2.0f * rldt_rng_uniform(&r) - 1.0f;
        d->rewards[t] = rldt_rng_normal(&r);
        d->dones[t] = t == T - 1;
        d->states[2 * t] = (double)rldt_rng_normal(&r) * 1e-3 + 1e6;
        d->states[2 * t + 1] = -1.0 / 3.0 * t;
    }
}

Test(dataset_io, round_trip_with_images_is_exact)
{
    rldt_env_spec_t spec = *test_env("pendulum");
    spec.image_h = 4, spec.image_w = 5, spec.image_c = 3;
    spec.obs_key = "proprio";
    const char *path = test_temp_path("io_roundtrip.h5");
    rldt_dataset_writer_t *w;
    cr_assert_eq(rldt_dataset_writer_open(&w, path, &spec, 0, "{\"note\":\"test\"}"), RLDT_OK, "%s", rldt_error_message());
    int lengths[3] = {5, 1, 8};
    demo_data_t demos[3];
    for (int e = 0; e < 3; e++) {
        make_demo(&demos[e], lengths[e], (uint64_t)e);
        demo_data_t *d = &demos[e];
        rldt_demo_t demo = {d->T, d->obs, d->next_obs, d->image, d->next_image, d->actions, d->rewards, d->dones, d->states, e == 1};
        cr_assert_eq(rldt_dataset_writer_add(w, &demo), RLDT_OK, "%s", rldt_error_message());
    }
    cr_assert_eq(rldt_dataset_writer_close(w, 0), RLDT_OK, "%s", rldt_error_message());

    rldt_dataset_t ds;
    cr_assert_eq(rldt_dataset_load(&ds, path, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_str_eq(ds.meta.env_name, "pendulum");
    cr_assert_str_eq(ds.meta.obs_key, "proprio");
    cr_assert(ds.meta.obs_dim == 3 && ds.meta.act_dim == 1 && ds.meta.state_dim == 2 && ds.meta.max_steps == 200);
    cr_assert(ds.meta.image_h == 4 && ds.meta.image_w == 5 && ds.meta.image_c == 3);
    cr_assert(ds.meta.act_low[0] == -2.0f && ds.meta.act_high[0] == 2.0f && ds.meta.reward_kind == RLDT_REWARD_DENSE);
    cr_assert(ds.n_demos == 3 && ds.file_demos == 3 && ds.n_samples == 14);
    cr_assert(ds.n_train == 2 && ds.n_valid == 1, "3 demos: at least one valid (robomimic fails on an empty mask)");
    cr_assert_str_eq(ds.collect_args, "{\"note\":\"test\"}");
    double sum[3] = {0}, sq[3] = {0};
    for (int e = 0; e < 3; e++) {
        const demo_data_t *d = &demos[e];
        size_t at = ds.ep_start[e];
        cr_assert_eq(ds.demo_ids[e], e);
        cr_assert_eq(ds.ep_start[e + 1] - at, (size_t)d->T);
        cr_assert_eq(ds.ep_success[e], e == 1);
        cr_assert(memcmp(ds.obs + at * 3, d->obs, (size_t)d->T * 3 * sizeof(float)) == 0, "demo %d obs", e);
        cr_assert(memcmp(ds.next_obs + at * 3, d->next_obs, (size_t)d->T * 3 * sizeof(float)) == 0, "demo %d next_obs", e);
        cr_assert(memcmp(ds.images[0] + at * 60, d->image, (size_t)d->T * 60) == 0, "demo %d image", e);
        cr_assert(memcmp(ds.next_images[0] + at * 60, d->next_image, (size_t)d->T * 60) == 0, "demo %d next image", e);
        cr_assert(memcmp(ds.actions + at, d->actions, (size_t)d->T * sizeof(float)) == 0, "demo %d actions", e);
        cr_assert(memcmp(ds.rewards + at, d->rewards, (size_t)d->T * sizeof(float)) == 0, "demo %d rewards", e);
        cr_assert(memcmp(ds.dones + at, d->dones, (size_t)d->T) == 0, "demo %d dones", e);
        cr_assert(memcmp(ds.states + at * 2, d->states, (size_t)d->T * 2 * sizeof(double)) == 0, "demo %d states", e);
        float ret = 0.0f;
        for (int t = 0; t < d->T; t++) {
            ret += d->rewards[t];
            cr_assert_eq(ds.ep_index[at + (size_t)t], e);
            for (int j = 0; j < 3; j++) sum[j] += d->obs[3 * t + j], sq[j] += (double)d->obs[3 * t + j] * d->obs[3 * t + j];
        }
        cr_assert_float_eq(ds.ep_return[e], ret, 1e-5f);
    }
    for (int j = 0; j < 3; j++) {
        double mean = sum[j] / 14.0, sd = sqrt(sq[j] / 14.0 - mean * mean);
        cr_assert_float_eq(ds.obs_mean[j], mean, 1e-5);
        cr_assert_float_eq(ds.obs_std[j], sd, 1e-4);
    }
    rldt_dataset_free(&ds);
    remove(path);
}

/* ------------------------------------------------------------------------------------------------ */
/* collection */

static void collect(const char *task, int demos, uint64_t seed, int threads, const char *path)
{
    rldt_collect_opts_t o = {.spec = test_env(task), .demos = demos, .noise = 0.1, .seed = seed, .threads = threads, .path = path};
    cr_assert_eq(rldt_dataset_collect(&o), RLDT_OK, "%s", rldt_error_message());
}

Test(dataset_io, collected_episodes_have_clean_boundaries)
{
    const char *path = test_temp_path("io_reach.h5");
    collect("reach2d", 25, 4, 2, path);
    rldt_dataset_t d;
    cr_assert_eq(rldt_dataset_load(&d, path, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert(d.n_demos == 25 && d.n_train == 23 && d.n_valid == 2);
    for (int e = 0; e < d.n_demos; e++) {
        size_t a = d.ep_start[e], b = d.ep_start[e + 1];
        cr_assert(d.ep_success[e] && d.ep_return[e] == 1.0f, "demo %d: the expert succeeds", e);
        cr_assert_eq(d.rewards[b - 1], 1.0f);
        for (size_t s = a; s < b; s++) {
            cr_assert_eq(d.dones[s], s == b - 1, "demo %d: done only on the last step", e);
            cr_assert_eq(d.ep_start[d.ep_index[s] + 1] - s, b - s, "steps left in the episode");
            if (s + 1 < b) cr_assert(memcmp(d.next_obs + 7 * s, d.obs + 7 * (s + 1), 7 * sizeof(float)) == 0);
            for (int j = 0; j < 2; j++) cr_assert(d.actions[2 * s + j] >= -1.0f && d.actions[2 * s + j] <= 1.0f);
        }
        cr_assert_eq(d.obs[7 * a + 6], 0.0f, "each demo starts in phase 0 (a fresh episode)");
    }
    for (int j = 0; j < 2; j++) cr_assert(d.act_min[j] >= -1.0f && d.act_max[j] <= 1.0f && d.act_min[j] < d.act_max[j]);
    rldt_dataset_free(&d);
    remove(path);
}

Test(dataset_io, collection_is_deterministic_and_prefix_stable)
{
    const char *a = test_temp_path("io_det_a.h5"), *b = test_temp_path("io_det_b.h5"), *c = test_temp_path("io_det_c.h5");
    collect("pendulum", 12, 9, 2, a);
    collect("pendulum", 12, 9, 1, b);
    collect("pendulum", 5, 9, 2, c);
    rldt_dataset_t x, y, z;
    cr_assert_eq(rldt_dataset_load(&x, a, NULL), RLDT_OK);
    cr_assert_eq(rldt_dataset_load(&y, b, NULL), RLDT_OK);
    cr_assert_eq(rldt_dataset_load(&z, c, NULL), RLDT_OK);
    cr_assert_eq(x.n_samples, y.n_samples);
    cr_assert(memcmp(x.obs, y.obs, x.n_samples * 3 * sizeof(float)) == 0, "threads=2 and threads=1 collect the same obs");
    cr_assert(memcmp(x.actions, y.actions, x.n_samples * sizeof(float)) == 0);
    cr_assert(memcmp(x.states, y.states, x.n_samples * 2 * sizeof(double)) == 0);
    cr_assert(memcmp(x.obs, z.obs, z.n_samples * 3 * sizeof(float)) == 0, "5 demos are the first 5 of 12");
    rldt_dataset_free(&x);
    rldt_dataset_free(&y);
    rldt_dataset_free(&z);
    remove(a), remove(b), remove(c);
}

Test(dataset_io, masks_split_by_seed_and_select_demos)
{
    const char *p1 = test_temp_path("io_mask1.h5"), *p2 = test_temp_path("io_mask2.h5");
    collect("bandit2d", 50, 1, 1, p1);
    collect("bandit2d", 50, 2, 1, p2);
    rldt_dataset_t tr, va, va2;
    cr_assert_eq(rldt_dataset_load(&tr, p1, "train"), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_dataset_load(&va, p1, "valid"), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_dataset_load(&va2, p2, "valid"), RLDT_OK, "%s", rldt_error_message());
    cr_assert(tr.n_demos == 45 && va.n_demos == 5 && tr.file_demos == 50 && tr.n_samples == 45);
    bool seen[50] = {0};
    for (int e = 0; e < tr.n_demos; e++) seen[tr.demo_ids[e]] = true;
    for (int e = 0; e < va.n_demos; e++) {
        cr_assert_not(seen[va.demo_ids[e]], "demo_%d is in both masks", va.demo_ids[e]);
        seen[va.demo_ids[e]] = true;
        if (e) cr_assert_lt(va.demo_ids[e - 1], va.demo_ids[e], "mask demos load in ascending order");
    }
    for (int i = 0; i < 50; i++) cr_assert(seen[i], "demo_%d is in no mask", i);
    cr_assert(memcmp(va.demo_ids, va2.demo_ids, 5 * sizeof(int)) != 0, "seeds 1 and 2 split alike");
    rldt_dataset_t none;
    cr_assert_eq(rldt_dataset_load(&none, p1, "test"), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "/mask/test"), "%s", rldt_error_message());
    rldt_dataset_free(&none);
    rldt_dataset_free(&tr);
    rldt_dataset_free(&va);
    rldt_dataset_free(&va2);
    remove(p1), remove(p2);
}

/* ------------------------------------------------------------------------------------------------ */
/* failures */

Test(dataset_io, failed_writes_leave_no_file)
{
    rldt_dataset_writer_t *w;
    cr_assert_eq(rldt_dataset_writer_open(&w, "/dev/null/x.h5", test_env("pendulum"), 0, NULL), RLDT_ERR);
    cr_assert(strstr(rldt_error_message(), "/dev/null/x.h5.tmp"), "%s", rldt_error_message());
    const char *path = test_temp_path("io_abort.h5");
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_eq(rldt_dataset_writer_open(&w, path, test_env("pendulum"), 0, NULL), RLDT_OK);
    cr_assert_eq(access(tmp, F_OK), 0, "writes go to <path>.tmp");
    rldt_demo_t empty = {0};
    cr_assert_eq(rldt_dataset_writer_add(w, &empty), RLDT_ERR_USAGE);
    rldt_dataset_writer_abort(w);
    cr_assert(access(path, F_OK) != 0 && access(tmp, F_OK) != 0, "abort removes the temporary file");
    /* an image spec without images: the add fails, nothing is left */
    rldt_env_spec_t spec = *test_env("pendulum");
    spec.image_h = spec.image_w = spec.image_c = 2;
    demo_data_t d;
    make_demo(&d, 2, 0);
    rldt_demo_t demo = {d.T, d.obs, d.next_obs, NULL, NULL, d.actions, d.rewards, d.dones, d.states, false};
    cr_assert_eq(rldt_dataset_writer_open(&w, path, &spec, 0, NULL), RLDT_OK);
    cr_assert_eq(rldt_dataset_writer_add(w, &demo), RLDT_ERR);
    cr_assert(strstr(rldt_error_message(), "/data/demo_0"), "%s", rldt_error_message());
    rldt_dataset_writer_abort(w);
    cr_assert(access(path, F_OK) != 0 && access(tmp, F_OK) != 0);
}

Test(dataset_io, bad_files_are_named_in_errors)
{
    rldt_dataset_t d;
    cr_assert_eq(rldt_dataset_load(&d, "/nonexistent/file.h5", NULL), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "/nonexistent/file.h5"), "%s", rldt_error_message());
    const char *path = test_temp_path("io_text.h5");
    FILE *f = fopen(path, "w");
    fputs("not hdf5\n", f);
    fclose(f);
    cr_assert_eq(rldt_dataset_load(&d, path, NULL), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "not an HDF5 file"), "%s", rldt_error_message());
    remove(path);
    rldt_dataset_free(&d);
}

Test(dataset_io, env_args_fields_are_checked)
{
    rldt_dataset_meta_t m;
    char *json = rldt_dataset_env_args(test_env("reach2d"), 0);
    cr_assert_eq(rldt_dataset_parse_env_args(json, &m, "x"), RLDT_OK, "%s", rldt_error_message());
    cr_assert(m.obs_dim == 7 && m.act_dim == 2 && m.state_dim == 7 && m.max_steps == 150 && m.reward_kind == RLDT_REWARD_SPARSE);
    free(json);
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{", "not valid JSON"},
        {"{\"env_name\": \"p\"}", "env_kwargs"},
        {"{\"env_name\": \"p\", \"env_kwargs\": {\"obs_dim\": 0}}", "env_kwargs.obs_dim"},
        {"{\"env_name\": \"p\", \"env_kwargs\": {\"obs_dim\": 3, \"act_dim\": 2, \"state_dim\": 1, \"max_steps\": 5,"
         " \"act_low\": [-1], \"act_high\": [1, 1]}}",
         "env_kwargs.act_low"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(rldt_dataset_parse_env_args(bad[i].json, &m, "f.h5: /data.env_args"), RLDT_ERR_USAGE);
        cr_assert(strstr(rldt_error_message(), bad[i].needle) && strstr(rldt_error_message(), "f.h5"), "case %zu: %s", i,
                  rldt_error_message());
    }
}

/* A robosuite task's env_args: robomimic's own fields (the worker's, untouched), rldt's spec in env_args.rldt
 * with rldt's env name; parsed back from there. */
Test(dataset_io, env_args_of_a_robosuite_task)
{
    rldt_env_spec_t sp = *test_env("reach2d");
    sp.name = "robosuite:Lift";
    sp.robomimic_env = "{\"env_name\":\"Lift\",\"type\":1,\"env_version\":\"1.5.2\",\"env_kwargs\":{\"robots\":\"Panda\"}}";
    char *json = rldt_dataset_env_args(&sp, 40);
    cr_assert(strstr(json, "\"env_name\":\"Lift\",\"type\":1,\"env_version\":\"1.5.2\",\"env_kwargs\":{\"robots\":\"Panda\"},"
                           "\"rldt\":{\"env_name\":\"robosuite:Lift\",\"obs_dim\":7,"), "%s", json);
    rldt_dataset_meta_t m;
    cr_assert_eq(rldt_dataset_parse_env_args(json, &m, "x"), RLDT_OK, "%s", rldt_error_message());
    free(json);
    cr_assert_str_eq(m.env_name, "robosuite:Lift");
    cr_assert(m.rldt_spec && m.env_type == 1 && m.obs_dim == 7 && m.act_dim == 2 && m.max_steps == 40 && m.actions_normalized);
    cr_assert_eq(rldt_dataset_parse_env_args("{\"env_name\": \"Lift\", \"type\": 1, \"env_kwargs\": {}, \"rldt\": 3}", &m, "f.h5"),
                 RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "env_args.rldt is not a JSON object"), "%s", rldt_error_message());
}

Test(dataset_io, recorder_writes_chunked_episodes_as_demos)
{
    /* pendulum cut to 10 steps, chunks of 4 actions: each env's episode is 4 + 4 + 2 steps */
    const rldt_env_spec_t *sp = test_env("pendulum");
    enum { N = 2, C = 4 };
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, N, 10, 5, 0, 2), RLDT_OK);
    rldt_recorder_t *rec = rldt_recorder_create(sp, N, C, 10);
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    out.record = rldt_recorder_capture(rec);
    const char *path = test_temp_path("io_recorder.h5");
    rldt_dataset_writer_t *w;
    cr_assert_eq(rldt_dataset_writer_open(&w, path, sp, 10, NULL), RLDT_OK);
    float a[N * C], executed[N][10];
    for (int c = 0; c < 3; c++) {
        for (int k = 0; k < N * C; k++) a[k] = 0.7f * (float)(k - 3 + c);
        rldt_vecenv_step(v, a, C, &out);
        for (int i = 0; i < N; i++) {
            for (int k = 0; k < out.steps[i]; k++) rldt_env_clip_action(sp, a + i * C + k, &executed[i][4 * c + k]);
            cr_assert_eq(rldt_recorder_push(rec, i, out.steps[i], w), RLDT_OK, "%s", rldt_error_message());
        }
    }
    cr_assert_eq(rldt_dataset_writer_samples(w), 20);
    cr_assert_eq(rldt_dataset_writer_close(w, 0), RLDT_OK);
    rldt_dataset_t d;
    cr_assert_eq(rldt_dataset_load(&d, path, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert(d.n_demos == 2 && d.ep_start[1] == 10 && d.n_samples == 20 && d.meta.max_steps == 10);
    for (int i = 0; i < N; i++) {
        cr_assert(memcmp(d.actions + 10 * i, executed[i], sizeof executed[i]) == 0, "env %d's clipped actions in order", i);
        for (int t = 0; t < 10; t++) cr_assert_eq(d.dones[10 * i + t], t == 9);
        for (int t = 0; t < 9; t++) cr_assert(memcmp(d.next_obs + 3 * (10 * i + t), d.obs + 3 * (10 * i + t + 1), 12) == 0);
    }
    rldt_dataset_free(&d);
    rldt_vecenv_out_free(&out);
    rldt_recorder_free(rec);
    rldt_vecenv_destroy(v);
    remove(path);
}
