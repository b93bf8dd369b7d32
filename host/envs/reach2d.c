/* reach2d.c — a sparse-reward, long-horizon point-mass task: visit goal A, then goal B.
 *
 * A velocity-controlled point mass in [−1, 1]²: p' = clip(p + 0.05·a, −1, 1) with a in [−1, 1]².
 * At reset the start p and goals A, B are drawn uniformly in [−0.9, 0.9]² with ‖A − B‖ >= 0.5. Reaching A
 * (‖p − A‖ < 0.1) sets the phase flag; reaching B afterwards gives reward 1, success, and terminates the
 * episode. Every other step rewards 0. At most 150 steps (the longest route is ~102).
 * Observation (7): p, A, B, phase (0 before A is reached, 1 after).
 * Expert: proportional velocity toward the current goal, a = clip(20·(goal − p), ±1) per axis. */
#include <math.h>

#include "tasks.h"

#define STEP 0.05f
#define GOAL_RADIUS 0.1f
#define GOAL_RANGE 0.9f
#define MIN_SEPARATION 0.5f

typedef struct {
    float p[2], a[2], b[2];
    float phase;
} reach2d_t;

static void observe(const reach2d_t *s, float *obs)
{
    obs[0] = s->p[0], obs[1] = s->p[1];
    obs[2] = s->a[0], obs[3] = s->a[1];
    obs[4] = s->b[0], obs[5] = s->b[1];
    obs[6] = s->phase;
}

static void draw_point(rldt_rng_t *rng, float *x)
{
    for (int j = 0; j < 2; j++) x[j] = GOAL_RANGE * (2.0f * rldt_rng_uniform(rng) - 1.0f);
}

static float dist(const float *x, const float *y) { return hypotf(x[0] - y[0], x[1] - y[1]); }

static void reach2d_reset(void *state, rldt_rng_t *rng, float *obs)
{
    reach2d_t *s = state;
    draw_point(rng, s->p);
    draw_point(rng, s->a);
    do draw_point(rng, s->b);
    while (dist(s->a, s->b) < MIN_SEPARATION);
    s->phase = 0.0f;
    observe(s, obs);
}

static rldt_step_t reach2d_step(void *state, const float *action, float *obs)
{
    reach2d_t *s = state;
    for (int j = 0; j < 2; j++) s->p[j] = fminf(fmaxf(s->p[j] + STEP * action[j], -1.0f), 1.0f);
    rldt_step_t r = {0};
    if (s->phase == 0.0f && dist(s->p, s->a) < GOAL_RADIUS) {
        s->phase = 1.0f;
    } else if (s->phase == 1.0f && dist(s->p, s->b) < GOAL_RADIUS) {
        r.reward = 1.0f;
        r.terminated = r.success = true;
    }
    observe(s, obs);
    return r;
}

static void reach2d_get_state(const void *state, double *out)
{
    float obs[7];
    observe(state, obs);
    for (int j = 0; j < 7; j++) out[j] = obs[j];
}

static void reach2d_expert(const void *state, rldt_rng_t *rng, float *action)
{
    const reach2d_t *s = state;
    const float *goal = s->phase == 0.0f ? s->a : s->b;
    for (int j = 0; j < 2; j++) action[j] = fminf(fmaxf((goal[j] - s->p[j]) / STEP, -1.0f), 1.0f);
}

/* The arena [-1, 1]^2: goal A (green, grey once reached), goal B (red), the point mass (blue) and its
 * velocity command. */
static void reach2d_render(const double *state, const float *action, rldt_canvas_t *c)
{
    int side = c->w < c->h ? c->w : c->h;
#define PX(v) ((int)lround(((v) + 1.0) * 0.5 * (side - 1)))
#define PY(v) ((int)lround((1.0 - (v)) * 0.5 * (side - 1)))
    int r = (int)lround(GOAL_RADIUS * 0.5 * side);
    rldt_canvas_disc(c, PX(state[2]), PY(state[3]), r, state[6] > 0.5 ? 0xb0b0b0 : 0x2ca02c);
    rldt_canvas_disc(c, PX(state[4]), PY(state[5]), r, 0xd62728);
    rldt_canvas_disc(c, PX(state[0]), PY(state[1]), r / 2 + 1, 0x1f77b4);
    rldt_canvas_line(c, PX(state[0]), PY(state[1]), PX(state[0] + 0.2 * action[0]), PY(state[1] + 0.2 * action[1]), 0x202020);
#undef PX
#undef PY
}

static const rldt_env_ops_t ops = {.state_size = sizeof(reach2d_t), .reset = reach2d_reset, .step = reach2d_step,
                                   .get_state = reach2d_get_state, .expert = reach2d_expert, .render = reach2d_render};

const rldt_env_spec_t rldt_env_reach2d = {
    .name = "reach2d",
    .summary = "point mass that must visit goal A then goal B (sparse reward, 150 steps)",
    .obs_dim = 7,
    .act_dim = 2,
    .state_dim = 7,
    .act_low = {-1.0f, -1.0f},
    .act_high = {1.0f, 1.0f},
    .max_steps = 150,
    .reward_kind = RLDT_REWARD_SPARSE,
    .control_hz = 1.0 / STEP,
    .success_threshold = GOAL_RADIUS,
    .success = "reached goal A, then goal B, each within success_threshold",
    .obs_key = "state",
    .ops = &ops,
};
