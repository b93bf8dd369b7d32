/* test_env_vec.c — the vector env: bit-identical replays, independence of env indices, thread-count
 * invariance, chunked stepping (stops at the episode end, sums rewards), gymnasium auto-reset and the
 * per-step capture. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "rldt/env.h"

#define MAX_N 16
#define MAX_CHUNK 8

/* Caller-owned output arrays for up to MAX_N envs. */
typedef struct {
    float obs[MAX_N * 8], final_obs[MAX_N * 8], reward[MAX_N];
    int steps[MAX_N];
    uint8_t terminated[MAX_N], truncated[MAX_N], success[MAX_N];
    rldt_vec_out_t out;
} outputs_t;

static void outputs_init(outputs_t *o)
{
    memset(o, 0, sizeof *o);
    o->out = (rldt_vec_out_t){o->obs, o->final_obs, o->reward, o->steps, o->terminated, o->truncated, o->success, NULL, NULL};
}

/* Deterministic actions in [-1.5, 1.5]·bounds for (iteration, env), independent of the vector env. */
static void fill_actions(const rldt_env_spec_t *sp, int n, int chunk, int iter, float *a)
{
    rldt_rng_t r;
    rldt_rng_init(&r, 777, (uint64_t)iter);
    for (int i = 0; i < n * chunk * sp->act_dim; i++) a[i] = 1.5f * sp->act_high[0] * (2.0f * rldt_rng_uniform(&r) - 1.0f);
}

/* Runs `iters` chunked steps and returns everything the vector env reported, concatenated (caller frees). */
static uint8_t *rollout(const char *task, int n, int chunk, int threads, uint64_t seed, uint32_t rank, int iters, size_t *bytes)
{
    const rldt_env_spec_t *sp = test_env(task);
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, n, 0, seed, rank, threads), RLDT_OK);
    size_t per = sizeof(outputs_t);
    uint8_t *log = calloc((size_t)iters + 1, per);
    memcpy(log, rldt_vecenv_obs(v), (size_t)n * (size_t)sp->obs_dim * sizeof(float));
    float a[MAX_N * MAX_CHUNK * RLDT_ENV_MAX_ACT];
    for (int it = 0; it < iters; it++) {
        outputs_t o;
        outputs_init(&o);
        fill_actions(sp, n, chunk, it, a);
        rldt_vecenv_step(v, a, chunk, &o.out);
        o.out = (rldt_vec_out_t){0}; /* pointers differ between runs: compare the data only */
        memcpy(log + per * (size_t)(it + 1), &o, per);
    }
    rldt_vecenv_destroy(v);
    *bytes = per * ((size_t)iters + 1);
    return log;
}

Test(env_vec, same_seed_replays_bit_identically)
{
    size_t n1, n2;
    uint8_t *a = rollout("pendulum", 8, 4, 1, 5, 0, 120, &n1), *b = rollout("pendulum", 8, 4, 1, 5, 0, 120, &n2);
    cr_assert(n1 == n2 && memcmp(a, b, n1) == 0, "two runs with seed 5 differ");
    free(b);
    b = rollout("pendulum", 8, 4, 1, 6, 0, 120, &n2);
    cr_assert(memcmp(a, b, n1) != 0, "seed 6 replays seed 5");
    free(a);
    free(b);
}

Test(env_vec, thread_count_does_not_change_results)
{
    const char *tasks[] = {"pendulum", "reach2d", "bandit2d"};
    for (int t = 0; t < 3; t++) {
        size_t n1, n2, n3;
        uint8_t *one = rollout(tasks[t], 13, 3, 1, 11, 0, 80, &n1);
        uint8_t *two = rollout(tasks[t], 13, 3, 2, 11, 0, 80, &n2);
        uint8_t *all = rollout(tasks[t], 13, 3, 0, 11, 0, 80, &n3);
        cr_assert(memcmp(one, two, n1) == 0, "%s: threads=1 and threads=2 differ", tasks[t]);
        cr_assert(memcmp(one, all, n1) == 0, "%s: threads=1 and threads=0 differ", tasks[t]);
        free(one);
        free(two);
        free(all);
    }
}

Test(env_vec, env_indices_and_ranks_get_their_own_episodes)
{
    rldt_vecenv_t *v, *w;
    cr_assert_eq(rldt_vecenv_create(&v, test_env("reach2d"), 4, 0, 1, 0, 1), RLDT_OK);
    cr_assert_eq(rldt_vecenv_create(&w, test_env("reach2d"), 4, 0, 1, 1, 1), RLDT_OK);
    const float *o = rldt_vecenv_obs(v), *p = rldt_vecenv_obs(w);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < i; j++) cr_assert(memcmp(o + 7 * i, o + 7 * j, 7 * sizeof(float)) != 0, "envs %d and %d start alike", i, j);
        cr_assert(memcmp(o + 7 * i, p + 7 * i, 7 * sizeof(float)) != 0, "ranks 0 and 1 start env %d alike", i);
        /* env i's first episode is the one its derived seed gives a lone env */
        rldt_env_t env;
        float first[7];
        rldt_env_init(&env, test_env("reach2d"), 0);
        rldt_env_reset(&env, rldt_env_episode_seed(1, 0, (uint32_t)i, 0), first);
        cr_assert(memcmp(first, o + 7 * i, sizeof first) == 0);
        rldt_env_free(&env);
        cr_assert_eq(rldt_vecenv_episodes(v, i), 1);
    }
    cr_assert_eq(rldt_vecenv_size(v), 4);
    cr_assert_eq(rldt_vecenv_threads(v), 1);
    rldt_vecenv_destroy(v);
    rldt_vecenv_destroy(w);
}

Test(env_vec, chunk_sums_rewards_and_stops_at_truncation)
{
    /* pendulum limited to 10 steps, chunks of 4: 4 + 4 + 2 steps, truncated in the third chunk */
    const rldt_env_spec_t *sp = test_env("pendulum");
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, 2, 10, 3, 0, 2), RLDT_OK);
    rldt_env_t ref;
    rldt_env_init(&ref, sp, 10);
    float ref_obs[3];
    rldt_env_reset(&ref, rldt_env_episode_seed(3, 0, 1, 0), ref_obs);
    float a[2 * 4];
    int expect_steps[3] = {4, 4, 2};
    for (int c = 0; c < 3; c++) {
        for (int k = 0; k < 8; k++) a[k] = 0.3f * (float)(k + c) - 1.0f;
        outputs_t o;
        outputs_init(&o);
        rldt_vecenv_step(v, a, 4, &o.out);
        float sum = 0.0f;
        rldt_step_t s = {0};
        for (int k = 0; k < expect_steps[c]; k++) {
            s = rldt_env_step(&ref, a + 4 + k, ref_obs, NULL);
            sum += s.reward;
        }
        cr_assert_eq(o.steps[1], expect_steps[c], "chunk %d ran %d steps", c, o.steps[1]);
        cr_assert_eq(o.reward[1], sum, "chunk %d: reward %g is not the sum %g of its steps", c, o.reward[1], sum);
        cr_assert_eq(o.truncated[1], c == 2);
        cr_assert_eq(o.terminated[1], 0);
        if (c == 2) cr_assert(memcmp(o.final_obs + 3, ref_obs, sizeof ref_obs) == 0, "final_obs is the terminal observation");
    }
    rldt_env_free(&ref);
    rldt_vecenv_destroy(v);
}

Test(env_vec, chunk_stops_at_termination)
{
    float a[3 * 5 * 2];
    for (int i = 0; i < 30; i++) a[i] = (i % 2) ? 0.5f : -0.6f; /* the left peak */
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, test_env("bandit2d"), 3, 0, 9, 0, 1), RLDT_OK);
    outputs_t o;
    outputs_init(&o);
    rldt_vecenv_step(v, a, 5, &o.out);
    for (int i = 0; i < 3; i++) {
        cr_assert(o.steps[i] == 1 && o.terminated[i] && !o.truncated[i] && o.success[i], "env %d: one step then terminated", i);
        cr_assert_float_eq(o.reward[i], 1.0f, 1e-6f, "only the executed step's reward counts");
        cr_assert_eq(rldt_vecenv_episodes(v, i), 2, "auto-reset started episode 2");
    }
    rldt_vecenv_destroy(v);
}

Test(env_vec, auto_reset_returns_the_next_episode_and_keeps_the_final_obs)
{
    const rldt_env_spec_t *sp = test_env("pendulum");
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, 1, 3, 21, 2, 1), RLDT_OK);
    rldt_env_t ref;
    rldt_env_init(&ref, sp, 3);
    float ref_obs[3], next_first[3], u = 0.5f;
    rldt_env_reset(&ref, rldt_env_episode_seed(21, 2, 0, 0), ref_obs);
    for (int t = 0; t < 3; t++) {
        outputs_t o;
        outputs_init(&o);
        for (int j = 0; j < 3; j++) o.final_obs[j] = -99.0f;
        rldt_vecenv_step(v, &u, 1, &o.out);
        rldt_env_step(&ref, &u, ref_obs, NULL);
        if (t < 2) {
            cr_assert(memcmp(o.obs, ref_obs, sizeof ref_obs) == 0 && !o.truncated[0]);
            cr_assert_eq(o.final_obs[0], -99.0f, "final_obs untouched while the episode runs");
        } else {
            cr_assert(o.truncated[0]);
            cr_assert(memcmp(o.final_obs, ref_obs, sizeof ref_obs) == 0, "final_obs holds the terminal observation");
            rldt_env_reset(&ref, rldt_env_episode_seed(21, 2, 0, 1), next_first);
            cr_assert(memcmp(o.obs, next_first, sizeof next_first) == 0, "obs is episode 1's first observation");
            cr_assert(memcmp(rldt_vecenv_obs(v), next_first, sizeof next_first) == 0);
        }
    }
    float obs[3];
    rldt_vecenv_reset(v, obs);
    rldt_env_reset(&ref, rldt_env_episode_seed(21, 2, 0, 2), next_first);
    cr_assert(memcmp(obs, next_first, sizeof obs) == 0, "an explicit reset starts episode 2");
    cr_assert_eq(rldt_vecenv_episodes(v, 0), 3);
    rldt_env_free(&ref);
    rldt_vecenv_destroy(v);
}

Test(env_vec, record_captures_each_step)
{
    const rldt_env_spec_t *sp = test_env("reach2d");
    enum { N = 3, C = 6 };
    rldt_vecenv_t *v;
    cr_assert_eq(rldt_vecenv_create(&v, sp, N, 4, 8, 0, 2), RLDT_OK); /* 4-step episodes: a chunk of 6 is cut */
    float start[N * 7];
    memcpy(start, rldt_vecenv_obs(v), sizeof start);
    float a[N * C * 2], obs[N * C * 7], act[N * C * 2], rew[N * C], next[N * C * 7];
    double states[N * C * 7];
    uint8_t dones[N * C], succ[N * C];
    for (int i = 0; i < N * C * 2; i++) a[i] = 3.0f;
    rldt_vec_record_t rec = {.obs = obs, .actions = act, .rewards = rew, .next_obs = next, .states = states, .dones = dones, .successes = succ};
    outputs_t o;
    outputs_init(&o);
    o.out.record = &rec;
    rldt_vecenv_step(v, a, C, &o.out);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(o.steps[i], 4);
        cr_assert(o.truncated[i]);
        cr_assert(memcmp(obs + i * C * 7, start + i * 7, 7 * sizeof(float)) == 0, "row 0 holds the start observation");
        for (int k = 0; k < 4; k++) {
            int row = i * C + k;
            cr_assert(act[2 * row] == 1.0f && act[2 * row + 1] == 1.0f, "the executed (clipped) action is recorded");
            cr_assert_eq(dones[row], k == 3);
            cr_assert_eq(rew[row], 0.0f);
            for (int j = 0; j < 7; j++) cr_assert_eq((float)states[row * 7 + j], obs[row * 7 + j], "reach2d's state is its obs");
            if (k < 3) cr_assert(memcmp(next + row * 7, obs + (row + 1) * 7, 7 * sizeof(float)) == 0, "next_obs[k] = obs[k+1]");
        }
        cr_assert(memcmp(next + (i * C + 3) * 7, o.final_obs + i * 7, 7 * sizeof(float)) == 0);
    }
    rldt_vecenv_destroy(v);
}

Test(env_vec, snapshot_restore_continues_bit_for_bit)
{
    const char *tasks[] = {"pendulum", "reach2d", "bandit2d"};
    for (int t = 0; t < 3; t++) {
        const rldt_env_spec_t *sp = test_env(tasks[t]);
        rldt_vecenv_t *v, *w;
        cr_assert_eq(rldt_vecenv_create(&v, sp, 5, 0, 13, 0, 2), RLDT_OK);
        cr_assert_eq(rldt_vecenv_create(&w, sp, 5, 0, 99, 0, 1), RLDT_OK); /* other seed: restore must overwrite it */
        float a[5 * 3 * RLDT_ENV_MAX_ACT];
        outputs_t o, p;
        for (int it = 0; it < 70; it++) {
            outputs_init(&o);
            fill_actions(sp, 5, 3, it, a);
            rldt_vecenv_step(v, a, 3, &o.out);
        }
        size_t bytes = rldt_vecenv_snapshot_size(v);
        uint8_t *snap = malloc(bytes);
        rldt_vecenv_snapshot(v, snap);
        cr_assert_eq(rldt_vecenv_restore(w, snap, bytes), RLDT_OK, "%s", rldt_error_message());
        cr_assert(memcmp(rldt_vecenv_obs(v), rldt_vecenv_obs(w), 5 * (size_t)sp->obs_dim * sizeof(float)) == 0);
        for (int it = 70; it < 140; it++) {
            outputs_init(&o);
            outputs_init(&p);
            fill_actions(sp, 5, 3, it, a);
            rldt_vecenv_step(v, a, 3, &o.out);
            rldt_vecenv_step(w, a, 3, &p.out);
            o.out = p.out = (rldt_vec_out_t){0};
            cr_assert(memcmp(&o, &p, sizeof o) == 0, "%s: restored env diverges at chunk %d", tasks[t], it);
        }
        for (int i = 0; i < 5; i++) cr_assert_eq(rldt_vecenv_episodes(v, i), rldt_vecenv_episodes(w, i));
        cr_assert_eq(rldt_vecenv_restore(w, snap, bytes - 1), RLDT_ERR_USAGE);
        rldt_vecenv_t *other;
        cr_assert_eq(rldt_vecenv_create(&other, sp, 4, 0, 13, 0, 1), RLDT_OK);
        cr_assert_eq(rldt_vecenv_restore(other, snap, bytes), RLDT_ERR_USAGE, "a snapshot of 5 envs does not fit 4");
        cr_assert(strstr(rldt_error_message(), "env snapshot"), "%s", rldt_error_message());
        rldt_vecenv_destroy(other);
        free(snap);
        rldt_vecenv_destroy(v);
        rldt_vecenv_destroy(w);
    }
}
