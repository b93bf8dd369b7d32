/* bandit2d.c — a one-step task whose best policy is bimodal.
 *
 * Action a in [−1, 1]²; the observation is a constant zero vector (obs_dim 2). The reward is a sum of
 * Gaussian bumps  r(a) = Σ_i h_i·exp(−‖a − p_i‖² / (2w²)),  w = 0.2, with two equally good peaks
 * (−0.6, 0.5) and (0.6, 0.5) of height 1 and a weaker one at (0, −0.6) of height 0.6. Every episode is one
 * step and ends by termination. Success: r > 0.8 (within ~0.13 of a good peak).
 * Expert: aims at one of the two good peaks, chosen 50/50, so noisy demonstrations are bimodal. */
#include <math.h>

#include "tasks.h"

#define WIDTH 0.2f
#define SUCCESS_REWARD 0.8f

static const float peaks[3][3] = {{-0.6f, 0.5f, 1.0f}, {0.6f, 0.5f, 1.0f}, {0.0f, -0.6f, 0.6f}}; /* x, y, height */

typedef struct {
    int done; /* the one step was taken */
} bandit2d_t;

/* The reward landscape. */
static float bandit2d_reward(const float *a)
{
    float r = 0.0f;
    for (int i = 0; i < 3; i++) {
        float dx = a[0] - peaks[i][0], dy = a[1] - peaks[i][1];
        r += peaks[i][2] * expf(-(dx * dx + dy * dy) / (2.0f * WIDTH * WIDTH));
    }
    return r;
}

static void bandit2d_reset(void *state, rldt_rng_t *rng, float *obs)
{
    ((bandit2d_t *)state)->done = 0;
    obs[0] = obs[1] = 0.0f;
}

static rldt_step_t bandit2d_step(void *state, const float *action, float *obs)
{
    ((bandit2d_t *)state)->done = 1;
    obs[0] = obs[1] = 0.0f;
    float r = bandit2d_reward(action);
    return (rldt_step_t){.reward = r, .terminated = true, .success = r > SUCCESS_REWARD};
}

static void bandit2d_get_state(const void *state, double *out) { out[0] = ((const bandit2d_t *)state)->done; }

static void bandit2d_expert(const void *state, rldt_rng_t *rng, float *action)
{
    int peak = (int)rldt_rng_below(rng, 2);
    action[0] = peaks[peak][0];
    action[1] = peaks[peak][1];
}

/* The action square [-1, 1]^2: the three peaks (discs of radius WIDTH, shaded by height) and the action. */
static void bandit2d_render(const double *state, const float *action, rldt_canvas_t *c)
{
    int side = c->w < c->h ? c->w : c->h;
    for (int i = 0; i < 3; i++) {
        int x = (int)lroundf((peaks[i][0] + 1.0f) * 0.5f * (side - 1)), y = (int)lroundf((1.0f - peaks[i][1]) * 0.5f * (side - 1));
        rldt_canvas_disc(c, x, y, (int)lroundf(WIDTH * 0.5f * side), peaks[i][2] > 0.9f ? 0xffbb78 : 0xffe0c0);
    }
    rldt_canvas_disc(c, (int)lroundf((action[0] + 1.0f) * 0.5f * (side - 1)), (int)lroundf((1.0f - action[1]) * 0.5f * (side - 1)), 4,
                     0x1f77b4);
}

static const rldt_env_ops_t ops = {.state_size = sizeof(bandit2d_t), .reset = bandit2d_reset, .step = bandit2d_step,
                                   .get_state = bandit2d_get_state, .expert = bandit2d_expert, .render = bandit2d_render};

const rldt_env_spec_t rldt_env_bandit2d = {
    .name = "bandit2d",
    .summary = "one-step 2-D bandit with two equal peaks and a weaker third (bimodal optimum)",
    .obs_dim = 2,
    .act_dim = 2,
    .state_dim = 1,
    .act_low = {-1.0f, -1.0f},
    .act_high = {1.0f, 1.0f},
    .max_steps = 1,
    .reward_kind = RLDT_REWARD_DENSE,
    .control_hz = 1.0,
    .success_threshold = SUCCESS_REWARD,
    .success = "reward > success_threshold (the action is near one of the two good peaks)",
    .obs_key = "state",
    .ops = &ops,
};
