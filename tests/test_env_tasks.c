/* test_env_tasks.c — the tasks one env at a time: Pendulum-v1 dynamics against a double-precision
 * reference, bandit2d and reach2d rewards, action clipping, step limits, and the scripted experts'
 * success floors on 100 seeds. */
#include <criterion/criterion.h>
#include <math.h>

#include "helpers.h"
#include "rldt/env.h"

/* ------------------------------------------------------------------------------------------------ */
/* pendulum */

/* Gym Pendulum-v1, written out again in double precision: returns the reward and advances (th, thdot). */
static double pendulum_reference(double *th, double *thdot, double u)
{
    u = u < -2.0 ? -2.0 : u > 2.0 ? 2.0 : u;
    double an = fmod(*th + RLDT_PI, 2.0 * RLDT_PI);
    if (an < 0.0) an += 2.0 * RLDT_PI;
    an -= RLDT_PI;
    double cost = an * an + 0.1 * *thdot * *thdot + 0.001 * u * u;
    double nd = *thdot + (3.0 * 10.0 / 2.0 * sin(*th) + 3.0 * u) * 0.05;
    nd = nd < -8.0 ? -8.0 : nd > 8.0 ? 8.0 : nd;
    *th += nd * 0.05;
    *thdot = nd;
    return -cost;
}

Test(env_tasks, pendulum_matches_gym_reference)
{
    rldt_env_t env;
    rldt_env_init(&env, test_env("pendulum"), 0);
    float obs[3];
    double s[2];
    rldt_env_reset(&env, 1234, obs);
    rldt_env_get_state(&env, s);
    cr_assert(fabs(s[0]) <= RLDT_PI && fabs(s[1]) <= 1.0, "reset state (%g, %g) outside U(-pi,pi) x U(-1,1)", s[0], s[1]);
    cr_assert_eq(obs[0], (float)cos(s[0]));
    cr_assert_eq(obs[1], (float)sin(s[0]));
    cr_assert_eq(obs[2], (float)s[1]);
    double th = s[0], thdot = s[1];
    for (int t = 0; t < 200; t++) {
        float u = (float)(3.0 * sin(0.37 * t)); /* swings past the torque limit, reaches the speed limit */
        double r = pendulum_reference(&th, &thdot, u);
        rldt_step_t st = rldt_env_step(&env, &u, obs, NULL);
        rldt_env_get_state(&env, s);
        cr_assert(fabs(s[0] - th) <= 1e-12 && fabs(s[1] - thdot) <= 1e-12, "step %d: state (%.17g, %.17g) vs (%.17g, %.17g)",
                  t, s[0], s[1], th, thdot);
        cr_assert_float_eq(st.reward, (float)r, 1e-5f * fabsf((float)r) + 1e-6f, "step %d reward", t);
        cr_assert_eq(obs[2], (float)thdot);
        cr_assert_not(st.terminated);
        cr_assert_eq(st.truncated, t == 199, "step %d: truncated only at the 200th step", t);
    }
    rldt_env_free(&env);
}

Test(env_tasks, pendulum_hand_computed_first_step)
{
    /* One step with u = 1.5 from the state reset seed 7 draws: cost term 0.001·1.5² = 0.00225,
     * angular acceleration 3g/(2l)·sin th + 3u = 15·sin th + 4.5, dt = 0.05 (semi-implicit Euler). */
    rldt_env_t env;
    rldt_env_init(&env, test_env("pendulum"), 0);
    float obs[3], u = 1.5f;
    double s[2];
    rldt_env_reset(&env, 7, obs);
    rldt_env_get_state(&env, s);
    double an = atan2(sin(s[0]), cos(s[0]));
    double expect_reward = -(an * an + 0.1 * s[1] * s[1] + 0.001 * 2.25);
    double expect_thdot = s[1] + (15.0 * sin(s[0]) + 4.5) * 0.05;
    rldt_step_t st = rldt_env_step(&env, &u, obs, NULL);
    double after[2];
    rldt_env_get_state(&env, after);
    cr_assert_float_eq(after[1], expect_thdot, 1e-12);
    cr_assert_float_eq(after[0], s[0] + expect_thdot * 0.05, 1e-12);
    cr_assert_float_eq(st.reward, (float)expect_reward, 1e-5);
    rldt_env_free(&env);
}

/* ------------------------------------------------------------------------------------------------ */
/* bandit2d */

static float bandit_reward(float x, float y, bool *success)
{
    rldt_env_t env;
    rldt_env_init(&env, test_env("bandit2d"), 0);
    float obs[2], a[2] = {x, y};
    rldt_env_reset(&env, 0, obs);
    cr_assert(obs[0] == 0.0f && obs[1] == 0.0f);
    rldt_step_t s = rldt_env_step(&env, a, obs, NULL);
    cr_assert(s.terminated && !s.truncated, "bandit2d ends after one step by termination");
    *success = s.success;
    rldt_env_free(&env);
    return s.reward;
}

Test(env_tasks, bandit2d_reward_landscape)
{
    bool ok;
    float left = bandit_reward(-0.6f, 0.5f, &ok);
    cr_assert(ok);
    float right = bandit_reward(0.6f, 0.5f, &ok);
    cr_assert(ok);
    cr_assert_float_eq(left, right, 1e-6f, "the two good peaks are equally good");
    cr_assert_float_eq(left, 1.0f, 1e-6f);
    float third = bandit_reward(0.0f, -0.6f, &ok);
    cr_assert_float_eq(third, 0.6f, 1e-5f);
    cr_assert_not(ok, "the weak peak is not a success");
    float middle = bandit_reward(0.0f, 0.5f, &ok);
    cr_assert_lt(middle, 0.05f, "between the peaks the reward is ~0 (got %g)", middle);
    /* a Gaussian bump: 0.1 away from a peak the reward is exp(-0.01 / 0.08) */
    float off = bandit_reward(-0.5f, 0.5f, &ok);
    cr_assert_float_eq(off, expf(-0.125f), 1e-5f);
    cr_assert(ok, "0.1 from a peak is a success (r = %g > 0.8)", off);
}

/* ------------------------------------------------------------------------------------------------ */
/* reach2d */

/* Steps toward `goal` with unit velocity until within 0.02; returns the reward of the last step. */
static rldt_step_t drive_to(rldt_env_t *env, float *obs, const float *goal, int *steps)
{
    rldt_step_t s = {0};
    while (hypotf(goal[0] - obs[0], goal[1] - obs[1]) > 0.02f && !s.terminated && !s.truncated) {
        float a[2] = {(goal[0] - obs[0]) / 0.05f, (goal[1] - obs[1]) / 0.05f};
        s = rldt_env_step(env, a, obs, NULL);
        (*steps)++;
        cr_assert(s.terminated || s.reward == 0.0f, "sparse: reward only on completion");
    }
    return s;
}

Test(env_tasks, reach2d_rewards_the_ordered_visit_only)
{
    rldt_env_t env;
    rldt_env_init(&env, test_env("reach2d"), 0);
    float obs[7];
    int steps = 0;
    rldt_env_reset(&env, 99, obs);
    float a[2] = {obs[2], obs[3]}, b[2] = {obs[4], obs[5]};
    cr_assert_geq(hypotf(a[0] - b[0], a[1] - b[1]), 0.5f);
    cr_assert_eq(obs[6], 0.0f);
    rldt_step_t s = drive_to(&env, obs, b, &steps); /* B first: nothing */
    cr_assert(!s.terminated && obs[6] == 0.0f, "visiting B before A neither rewards nor advances the phase");
    s = drive_to(&env, obs, a, &steps);
    cr_assert(!s.terminated && obs[6] == 1.0f, "reaching A sets the phase flag");
    s = drive_to(&env, obs, b, &steps);
    cr_assert(s.terminated && s.success && s.reward == 1.0f, "A then B: reward 1, success, terminated");
    cr_assert_lt(steps, 150);
    rldt_env_free(&env);
}

Test(env_tasks, reach2d_truncates_at_the_step_limit)
{
    rldt_env_t env;
    rldt_env_init(&env, test_env("reach2d"), 0);
    float obs[7], still[2] = {0, 0};
    rldt_env_reset(&env, 5, obs);
    rldt_step_t s = {0};
    int t = 0;
    while (!s.terminated && !s.truncated) {
        s = rldt_env_step(&env, still, obs, NULL);
        t++;
    }
    cr_assert(s.truncated && !s.success && t == 150, "standing still truncates at 150 (t = %d)", t);
    rldt_env_free(&env);
}

/* ------------------------------------------------------------------------------------------------ */
/* the generic parts */

Test(env_tasks, actions_are_clipped_and_nan_goes_to_the_middle)
{
    const rldt_env_spec_t *sp = test_env("reach2d");
    float in[2] = {NAN, -INFINITY}, out[2];
    rldt_env_clip_action(sp, in, out);
    cr_assert(out[0] == 0.0f && out[1] == -1.0f);
    rldt_env_t env;
    rldt_env_init(&env, test_env("pendulum"), 0);
    float obs[3], u = 100.0f, executed;
    rldt_env_reset(&env, 3, obs);
    rldt_env_step(&env, &u, obs, &executed);
    cr_assert_eq(executed, 2.0f, "torque clipped to max_torque");
    rldt_env_free(&env);
}

Test(env_tasks, max_steps_override_and_registry)
{
    rldt_env_t env;
    rldt_env_init(&env, test_env("pendulum"), 10);
    float obs[3], u = 0.0f;
    rldt_env_reset(&env, 1, obs);
    for (int t = 0; t < 10; t++) cr_assert_eq(rldt_env_step(&env, &u, obs, NULL).truncated, t == 9);
    rldt_env_free(&env);
    cr_assert_null(rldt_env_find("cartpole"));
    cr_assert(strstr(rldt_error_message(), "unknown env 'cartpole'") && strstr(rldt_error_message(), "pendulum"), "%s",
              rldt_error_message());
    /* the three pure-C tasks, the four MuJoCo locomotion tasks, the five manipulation tasks and the pixel
     * variants of the MuJoCo ones, each listed once */
    static const char *const names[] = {"bandit2d",      "pendulum",     "reach2d",         "hopper",    "walker2d",
                                        "halfcheetah",   "ant",          "lift",            "pickplace", "stack",
                                        "stack3",        "bins2",        "hopper_rgb",      "walker2d_rgb",
                                        "halfcheetah_rgb", "ant_rgb",    "lift_rgb",        "pickplace_rgb",
                                        "stack_rgb",     "stack3_rgb",   "bins2_rgb"};
    cr_assert_eq(rldt_env_count(), 21);
    for (int k = 0; k < 21; k++) {
        int found = 0;
        for (int i = 0; i < rldt_env_count(); i++) found += strcmp(rldt_env_spec_at(i)->name, names[k]) == 0;
        cr_assert_eq(found, 1, "task %s listed %d times", names[k], found);
    }
    for (int i = 0; i < rldt_env_count(); i++) {
        const rldt_env_spec_t *s = rldt_env_spec_at(i);
        cr_assert(s->obs_dim > 0 && s->act_dim > 0 && s->act_dim <= RLDT_ENV_MAX_ACT && s->state_dim > 0 && s->max_steps > 0);
        for (int j = 0; j < s->act_dim; j++) cr_assert_lt(s->act_low[j], s->act_high[j]);
        bool rgb = strstr(s->name, "_rgb") != NULL;
        cr_assert(rgb ? s->image_h == 84 && s->image_w == 84 && s->image_c == 3 && s->camera : s->image_h == 0, "%s", s->name);
    }
    const rldt_env_spec_t *hop = test_env("hopper"), *hop_rgb = test_env("hopper_rgb");
    cr_assert(hop_rgb->ops == hop->ops && hop_rgb->obs_dim == hop->obs_dim && strcmp(hop_rgb->camera, "track") == 0);
}

/* ------------------------------------------------------------------------------------------------ */
/* scripted experts: 100 seeded episodes each */

typedef struct {
    int successes;
    double mean_return;
    int left; /* bandit2d: episodes whose action went to the left peak */
} expert_stats_t;

static expert_stats_t run_expert(const char *name, float noise)
{
    rldt_env_t env;
    rldt_env_init(&env, test_env(name), 0);
    expert_stats_t st = {0};
    for (int e = 0; e < 100; e++) {
        float obs[16], act[RLDT_ENV_MAX_ACT];
        rldt_rng_t rng;
        rldt_rng_init(&rng, 42, rldt_rng_stream_id(RLDT_STREAM_POLICY, 0, (uint32_t)e));
        rldt_env_reset(&env, rldt_env_episode_seed(42, 0, 0, (uint64_t)e), obs);
        rldt_step_t s;
        do {
            rldt_env_expert(&env, &rng, noise, act);
            s = rldt_env_step(&env, act, obs, NULL);
            st.mean_return += s.reward / 100.0;
        } while (!s.terminated && !s.truncated);
        st.successes += s.success;
        st.left += act[0] < 0.0f;
    }
    rldt_env_free(&env);
    return st;
}

Test(env_tasks, expert_bandit2d_is_bimodal_and_succeeds)
{
    expert_stats_t clean = run_expert("bandit2d", 0.0f), noisy = run_expert("bandit2d", 0.05f);
    cr_assert_eq(clean.successes, 100);
    cr_assert(clean.left >= 30 && clean.left <= 70, "both peaks demonstrated (left %d of 100)", clean.left);
    cr_assert_geq(noisy.successes, 85, "noise 0.05: %d%% success", noisy.successes);
}

Test(env_tasks, expert_pendulum_swings_up)
{
    expert_stats_t clean = run_expert("pendulum", 0.0f), noisy = run_expert("pendulum", 0.1f);
    cr_assert_geq(clean.successes, 95, "%d%%", clean.successes);
    cr_assert_gt(clean.mean_return, -200.0, "mean return %g", clean.mean_return);
    cr_assert_geq(noisy.successes, 90, "noise 0.1: %d%%", noisy.successes);
    cr_assert_gt(noisy.mean_return, -200.0, "noise 0.1: mean return %g", noisy.mean_return);
}

Test(env_tasks, expert_reach2d_visits_both_goals)
{
    expert_stats_t clean = run_expert("reach2d", 0.0f), noisy = run_expert("reach2d", 0.3f);
    cr_assert_eq(clean.successes, 100);
    cr_assert_geq(noisy.successes, 95, "noise 0.3: %d%%", noisy.successes);
}
