/* test_mujoco.c — the MuJoCo locomotion tasks (host/envs/mujoco/): step-for-step parity with Gymnasium's
 * *-v5 envs (tests/check_gym_mujoco.py through `rldt envstep`), the task table's shapes, reset noise,
 * models given with env.model (same joints load, others are refused naming the joint or actuator), an
 * unstable simulation ending its episode, the vector env (thread-count invariance, snapshot resume) and
 * the missing scripted expert. Without MuJoCo in the build the tasks must say how to install it, and the
 * rest skips; without the test venv the parity test skips. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/env.h"

static const char *const tasks[] = {"hopper", "walker2d", "halfcheetah", "ant"};

static bool all_finite(const float *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

// ------------------------------------------------------------------------------------------------
// parity with Gymnasium

Test(mujoco, steps_equal_gymnasium_v5, .timeout = 600)
{
    test_need_mujoco("hopper");
    const char *python = getenv("RLDT_MUJOCO_PYTHON");
    if (!python || access(python, X_OK) != 0) cr_skip_test("skipped: no test venv at %s (run make deps)", python ? python : "(unset)");
    int status = test_run("'%s' check_gym_mujoco.py --rldt '%s'", python, test_bin());
    printf("%s", test_out);
    cr_assert_eq(status, 0, "parity with Gymnasium failed (%d):\n%s\n%s", status, test_out, test_err);
    for (int i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s ", tasks[i]);
        cr_assert(strstr(test_out, want), "no result for %s:\n%s", tasks[i], test_out);
    }
    cr_assert_null(strstr(test_out, "FAIL"), "%s", test_out);
}

// ------------------------------------------------------------------------------------------------
// the table and the models

Test(mujoco, tasks_have_gymnasium_v5_shapes)
{
    static const int obs[] = {11, 17, 17, 105}, act[] = {3, 6, 6, 8}, state[] = {12, 18, 18, 29};
    for (int i = 0; i < 4; i++) {
        const rldt_env_spec_t *s = test_env(tasks[i]);
        cr_assert_eq(s->obs_dim, obs[i], "%s", tasks[i]);
        cr_assert_eq(s->act_dim, act[i], "%s", tasks[i]);
        cr_assert_eq(s->state_dim, state[i], "%s", tasks[i]);
        cr_assert_eq(s->max_steps, 1000, "%s", tasks[i]);
        cr_assert_eq(s->reward_kind, RLDT_REWARD_DENSE);
        for (int j = 0; j < s->act_dim; j++) cr_assert(s->act_low[j] == -1.0f && s->act_high[j] == 1.0f);
        cr_assert_not_null(s->ops->model_load);
    }
}

Test(mujoco, every_task_loads_and_steps_finite)
{
    test_need_mujoco("hopper");
    for (int i = 0; i < 4; i++) {
        const rldt_env_spec_t *sp = test_env(tasks[i]);
        rldt_env_t env;
        cr_assert_eq(rldt_env_init(&env, sp, 0), RLDT_OK, "%s: %s", tasks[i], rldt_error_message());
        float obs[128], a[RLDT_ENV_MAX_ACT];
        double st[64];
        rldt_env_reset(&env, 3, obs);
        rldt_rng_t r;
        rldt_rng_init(&r, 5, 0);
        for (int t = 0; t < 50; t++) {
            for (int j = 0; j < sp->act_dim; j++) a[j] = 2.0f * rldt_rng_uniform(&r) - 1.0f;
            rldt_step_t s = rldt_env_step(&env, a, obs, NULL);
            cr_assert(all_finite(obs, sp->obs_dim) && isfinite(s.reward), "%s step %d", tasks[i], t);
            if (s.terminated) rldt_env_reset(&env, (uint64_t)t, obs);
        }
        rldt_env_get_state(&env, st);
        for (int j = 0; j < sp->state_dim; j++) cr_assert(isfinite(st[j]));
        rldt_env_free(&env);
    }
}

/* Reset noise: hopper's qpos and qvel within ±5e-3 of (qpos0, 0), halfcheetah's qvel with std 0.1. */
Test(mujoco, reset_noise_has_gymnasium_scale)
{
    test_need_mujoco("hopper");
    rldt_env_t env;
    cr_assert_eq(rldt_env_init(&env, test_env("hopper"), 0), RLDT_OK, "%s", rldt_error_message());
    double st[12], lo = 1.0, hi = -1.0;
    float obs[11];
    for (int e = 0; e < 200; e++) {
        rldt_env_reset(&env, (uint64_t)e, obs);
        rldt_env_get_state(&env, st);
        for (int j = 0; j < 12; j++) {
            double dev = st[j] - (j == 1 ? 1.25 : 0.0);
            cr_assert_leq(fabs(dev), 5e-3, "hopper state %d: %g", j, st[j]);
            lo = fmin(lo, dev), hi = fmax(hi, dev);
        }
    }
    cr_assert(lo < -4e-3 && hi > 4e-3, "noise does not fill ±5e-3: [%g, %g]", lo, hi);
    rldt_env_free(&env);

    cr_assert_eq(rldt_env_init(&env, test_env("halfcheetah"), 0), RLDT_OK, "%s", rldt_error_message());
    double sum = 0, sq = 0;
    int n = 0;
    for (int e = 0; e < 300; e++) {
        float o[17];
        rldt_env_reset(&env, (uint64_t)e, o);
        for (int j = 8; j < 17; j++) sum += o[j], sq += (double)o[j] * o[j], n++;
    }
    double sd = sqrt(sq / n - (sum / n) * (sum / n));
    cr_assert(sd > 0.09 && sd < 0.11, "halfcheetah qvel noise std %g, want 0.1", sd);
    rldt_env_free(&env);
}

/* A hopper with Gymnasium's joints and actuators but its own shapes; FOOT names the last joint, RANGE the
 * actuators' control range. */
static const char *mini_hopper =
    "<mujoco model='mini'><option timestep='0.002' integrator='RK4'/><worldbody>"
    "<geom name='floor' type='plane' size='20 20 .1'/>"
    "<body name='torso' pos='0 0 1.25'>"
    "<joint name='rootx' type='slide' axis='1 0 0' pos='0 0 -1.25' limited='false'/>"
    "<joint name='rootz' type='slide' axis='0 0 1' pos='0 0 -1.25' ref='1.25' limited='false'/>"
    "<joint name='rooty' type='hinge' axis='0 1 0' limited='false'/><geom type='capsule' size='0.06 0.2'/>"
    "<body name='thigh' pos='0 0 -0.2'><joint name='thigh_joint' type='hinge' axis='0 -1 0' range='-150 0'/>"
    "<geom type='capsule' pos='0 0 -0.225' size='0.05 0.225'/>"
    "<body name='leg' pos='0 0 -0.7'><joint name='leg_joint' type='hinge' axis='0 -1 0' pos='0 0 0.25' range='-150 0'/>"
    "<geom type='capsule' size='0.04 0.25'/>"
    "<body name='foot' pos='0.13 0 -0.35'><joint name='%s' type='hinge' axis='0 -1 0' pos='-0.13 0 0.1' range='-45 45'/>"
    "<geom type='capsule' pos='-0.065 0 0.1' quat='0.7071 0 -0.7071 0' size='0.06 0.195'/>"
    "</body></body></body></body></worldbody><actuator>"
    "<motor joint='thigh_joint' ctrllimited='true' ctrlrange='%s' gear='200'/>"
    "<motor joint='leg_joint' ctrllimited='true' ctrlrange='-1 1' gear='200'/>"
    "<motor joint='%s' ctrllimited='true' ctrlrange='-1 1' gear='200'/></actuator></mujoco>";

static const char *write_model(const char *tag, const char *foot, const char *range)
{
    const char *path = test_temp_path(tag);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, mini_hopper, foot, range, foot);
    fclose(f);
    return path;
}

Test(mujoco, env_model_loads_a_model_with_the_same_joints)
{
    test_need_mujoco("hopper");
    const char *path = write_model("mini.xml", "foot_joint", "-1 1");
    const rldt_env_spec_t *sp = rldt_env_find_model("hopper", path);
    cr_assert_not_null(sp, "%s", rldt_error_message());
    cr_assert_str_eq(sp->model, path);
    cr_assert_eq(rldt_env_find_model("hopper", path), sp, "the same pair must give the same row");
    cr_assert_eq(rldt_env_find_model("hopper", ""), test_env("hopper"));
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, 3, 0, 1, 0, 2), RLDT_OK, "%s", rldt_error_message());
    float a[3 * 3] = {0.5f, -0.5f, 0.2f, 0, 0, 0, -1, 1, -1};
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    for (int t = 0; t < 20; t++) {
        rldt_vecenv_step(v, a, 1, &out);
        cr_assert(all_finite(out.obs, 3 * 11));
    }
    rldt_vecenv_out_free(&out);
    rldt_vecenv_destroy(v);
    remove(path);
}

Test(mujoco, bad_models_are_refused_with_their_names)
{
    test_need_mujoco("hopper");
    struct {
        const char *path, *want1, *want2;
    } cases[] = {
        {"/nonexistent/hopper.xml", "model file /nonexistent/hopper.xml not found", "env.model"},
        {write_model("joint.xml", "ankle", "-1 1"), "joint 5 is 'ankle' (hinge)", "needs 'foot_joint'"},
        {write_model("range.xml", "foot_joint", "-2 2"), "actuator 0", "[-2, 2]"},
        {test_temp_path("broken.xml"), "cannot load model", "broken.xml"},
    };
    FILE *f = fopen(cases[3].path, "w");
    fputs("<mujoco><worldbody><body name='x'>", f);
    fclose(f);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rldt_env_spec_t *sp = rldt_env_find_model("hopper", cases[i].path);
        rldt_vecenv_t *v;
        cr_assert_eq(rldt_vecenv_create(&v, sp, 2, 0, 1, 0, 1), RLDT_ERR_USAGE, "%s", cases[i].path);
        const char *msg = rldt_error_message();
        cr_assert(strstr(msg, "hopper") && strstr(msg, cases[i].want1) && strstr(msg, cases[i].want2), "%s", msg);
        rldt_env_t env;
        cr_assert_eq(rldt_env_init(&env, sp, 0), RLDT_ERR_USAGE);
        rldt_env_free(&env); /* nothing to free, and safe */
        if (i) remove(cases[i].path);
    }
    /* the ant's observation needs its 14 bodies: another task's model is refused at its first joint */
    const rldt_env_spec_t *sp = rldt_env_find_model("ant", write_model("ant.xml", "foot_joint", "-1 1"));
    rldt_env_t env;
    cr_assert_eq(rldt_env_init(&env, sp, 0), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "joint 0 is 'rootx' (slide), the task needs 'root' (free)"), "%s", rldt_error_message());
    cr_assert_null(rldt_env_find_model("pendulum", "x.xml"));
    cr_assert(strstr(rldt_error_message(), "not a MuJoCo task"), "%s", rldt_error_message());
}

// ------------------------------------------------------------------------------------------------
// bad states

Test(mujoco, unstable_simulation_ends_the_episode_without_nan)
{
    test_need_mujoco("hopper");
    for (int i = 0; i < 4; i++) {
        const rldt_env_spec_t *sp = test_env(tasks[i]);
        rldt_env_t env;
        cr_assert_eq(rldt_env_init(&env, sp, 0), RLDT_OK, "%s", rldt_error_message());
        double st[64];
        float obs[128], a[RLDT_ENV_MAX_ACT] = {0};
        rldt_env_reset(&env, 1, obs);
        rldt_env_get_state(&env, st);
        st[sp->state_dim - 1] = 1e11; /* beyond MuJoCo's mjMAXVAL: its check resets the data */
        cr_assert_eq(rldt_env_set_state(&env, st, obs), RLDT_OK);
        rldt_step_t s = rldt_env_step(&env, a, obs, NULL);
        cr_assert(s.terminated && !s.success && s.reward == 0.0f, "%s: terminated %d reward %g", tasks[i], s.terminated, s.reward);
        cr_assert(all_finite(obs, sp->obs_dim), "%s", tasks[i]);
        s = rldt_env_step(&env, a, obs, NULL); /* stepping on from there is unstable again, not a fresh start */
        cr_assert(s.terminated && all_finite(obs, sp->obs_dim), "%s: second step", tasks[i]);
        st[0] = NAN;
        cr_assert_eq(rldt_env_set_state(&env, st, obs), RLDT_ERR_USAGE);
        cr_assert(strstr(rldt_error_message(), "not a finite number"), "%s", rldt_error_message());
        rldt_env_reset(&env, 2, obs); /* and the env is usable again */
        s = rldt_env_step(&env, a, obs, NULL);
        cr_assert(!s.terminated && all_finite(obs, sp->obs_dim), "%s", tasks[i]);
        rldt_env_free(&env);
    }
}

Test(mujoco, collect_needs_a_scripted_expert)
{
    test_need_mujoco("hopper");
    rldt_env_t env;
    cr_assert_eq(rldt_env_init(&env, test_env("walker2d"), 0), RLDT_OK);
    float obs[17], a[6] = {9, 9, 9, 9, 9, 9};
    rldt_env_reset(&env, 1, obs);
    rldt_rng_t r;
    rldt_rng_init(&r, 1, 0);
    cr_assert_eq(rldt_env_expert(&env, &r, 0.1f, a), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "walker2d has no scripted expert"), "%s", rldt_error_message());
    for (int j = 0; j < 6; j++) cr_assert_eq(a[j], 0.0f);
    rldt_env_free(&env);
}

// ------------------------------------------------------------------------------------------------
// the vector env: one model, one data per env

/* Steps a vector env `iters` times with fixed random actions from `from` on; returns observations and rewards. */
static float *vec_run(rldt_vecenv_t *v, const rldt_env_spec_t *sp, int n, int from, int iters)
{
    size_t od = (size_t)sp->obs_dim, per = (size_t)n * (od + 2);
    float *log = calloc((size_t)iters * per, sizeof *log), a[8 * RLDT_ENV_MAX_ACT];
    rldt_vec_out_t out;
    rldt_vecenv_out_alloc(v, &out);
    for (int it = 0; it < iters; it++) {
        rldt_rng_t r;
        rldt_rng_init(&r, 11, (uint64_t)(from + it));
        for (int j = 0; j < n * sp->act_dim; j++) a[j] = 2.0f * rldt_rng_uniform(&r) - 1.0f;
        rldt_vecenv_step(v, a, 1, &out);
        float *row = log + (size_t)it * per;
        memcpy(row, out.obs, (size_t)n * od * sizeof(float));
        for (int i = 0; i < n; i++) row[(size_t)n * od + 2 * (size_t)i] = out.reward[i], row[(size_t)n * od + 2 * (size_t)i + 1] = out.terminated[i];
    }
    rldt_vecenv_out_free(&out);
    return log;
}

Test(mujoco, vector_env_is_thread_invariant_and_resumes_bit_exact, .timeout = 120)
{
    test_need_mujoco("hopper");
    const char *names[] = {"hopper", "ant"};
    const int n = 5, iters = 60, cut = 25;
    for (int k = 0; k < 2; k++) {
        const rldt_env_spec_t *sp = test_env(names[k]);
        size_t bytes = (size_t)iters * (size_t)n * ((size_t)sp->obs_dim + 2) * sizeof(float);
        rldt_vecenv_t *v1, *v2, *w;
        cr_assert_eq(rldt_vecenv_create(&v1, sp, n, 0, 7, 0, 1), RLDT_OK, "%s", rldt_error_message());
        cr_assert_eq(rldt_vecenv_create(&v2, sp, n, 0, 7, 0, 2), RLDT_OK, "%s", rldt_error_message());
        float *one = vec_run(v1, sp, n, 0, iters), *two = vec_run(v2, sp, n, 0, iters);
        cr_assert(memcmp(one, two, bytes) == 0, "%s: 1 and 2 threads differ", names[k]);

        /* snapshot after `cut` steps, restored into a vector env of another seed */
        rldt_vecenv_t *u;
        cr_assert_eq(rldt_vecenv_create(&u, sp, n, 0, 7, 0, 2), RLDT_OK);
        free(vec_run(u, sp, n, 0, cut));
        uint8_t *snap = malloc(rldt_vecenv_snapshot_size(u));
        rldt_vecenv_snapshot(u, snap);
        cr_assert_eq(rldt_vecenv_create(&w, sp, n, 0, 99, 0, 1), RLDT_OK);
        free(vec_run(w, sp, n, 100, 3)); /* its simulations elsewhere */
        cr_assert_eq(rldt_vecenv_restore(w, snap, rldt_vecenv_snapshot_size(u)), RLDT_OK, "%s", rldt_error_message());
        for (int i = 0; i < n; i++) { /* the restored state reads back before any step */
            double su[64], sw[64];
            rldt_env_get_state(rldt_vecenv_env(u, i), su);
            rldt_env_get_state(rldt_vecenv_env(w, i), sw);
            cr_assert(memcmp(su, sw, (size_t)sp->state_dim * sizeof(double)) == 0, "%s env %d: state after restore", names[k], i);
        }
        float *rest = vec_run(w, sp, n, cut, iters - cut);
        size_t row = bytes / (size_t)iters;
        cr_assert(memcmp(rest, (uint8_t *)one + (size_t)cut * row, (size_t)(iters - cut) * row) == 0, "%s: resume differs", names[k]);
        int ended = 0;
        for (int it = 0; it < iters; it++)
            for (int i = 0; i < n; i++) ended += one[(size_t)it * row / sizeof(float) + (size_t)n * (size_t)sp->obs_dim + 2 * (size_t)i + 1] != 0;
        if (k == 0) cr_assert_gt(ended, 0, "hopper: random actions should end some episodes (auto-reset untested)");
        free(one), free(two), free(rest), free(snap);
        rldt_vecenv_destroy(v1), rldt_vecenv_destroy(v2), rldt_vecenv_destroy(u), rldt_vecenv_destroy(w);
    }
}
