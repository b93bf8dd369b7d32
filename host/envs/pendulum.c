/* pendulum.c — torque-limited swing-up, Gym Pendulum-v1 dynamics and reward, in double precision as Gym
 * computes them (numpy float64), observations handed out as float32.
 *
 *   thdot' = clip(thdot + (3g/(2l)·sin th + 3/(m l²)·u)·dt, ±8),  th' = th + thdot'·dt
 *   reward = −(angle_normalize(th)² + 0.1·thdot² + 0.001·u²)   (on the state before the step)
 * with g = 10, m = l = 1, dt = 0.05, |u| <= 2; th = 0 is upright. Reset: th ~ U(−π, π), thdot ~ U(−1, 1).
 * 200 steps, then truncation (never termination).
 * Success (dense task, reported for completeness): the pole has been within 0.3 rad of upright for the
 * last 50 consecutive steps (2.5 s).
 * Expert: energy pumping (u ∝ (E* − E)·thdot with E = ½thdot² + 15·cos th, E* = 15 at rest upright) far
 * from the top, a PD catch (u = −10·th − 2·thdot) near it. */
#include <math.h>

#include "tasks.h"

#define G 10.0
#define MASS 1.0
#define LEN 1.0
#define DT 0.05
#define MAX_SPEED 8.0
#define MAX_TORQUE 2.0
#define UPRIGHT_RAD 0.3
#define UPRIGHT_STEPS 50

typedef struct {
    double th, thdot;
    int upright; /* consecutive steps ending within UPRIGHT_RAD of the top */
} pendulum_t;

/* Gym's angle_normalize: ((x + π) mod 2π) − π with a floored modulo, in [−π, π). */
static double angle_normalize(double x)
{
    double r = fmod(x + RLDT_PI, 2.0 * RLDT_PI);
    if (r < 0.0) r += 2.0 * RLDT_PI;
    return r - RLDT_PI;
}

static void observe(const pendulum_t *p, float *obs)
{
    obs[0] = (float)cos(p->th);
    obs[1] = (float)sin(p->th);
    obs[2] = (float)p->thdot;
}

static void pendulum_reset(void *state, rldt_rng_t *rng, float *obs)
{
    pendulum_t *p = state;
    p->th = RLDT_PI * (2.0 * (double)rldt_rng_uniform(rng) - 1.0);
    p->thdot = 2.0 * (double)rldt_rng_uniform(rng) - 1.0;
    p->upright = 0;
    observe(p, obs);
}

static rldt_step_t pendulum_step(void *state, const float *action, float *obs)
{
    pendulum_t *p = state;
    double u = fmin(fmax((double)action[0], -MAX_TORQUE), MAX_TORQUE);
    double th = p->th, thdot = p->thdot, an = angle_normalize(th);
    double cost = an * an + 0.1 * thdot * thdot + 0.001 * u * u;
    double newthdot = thdot + (3.0 * G / (2.0 * LEN) * sin(th) + 3.0 / (MASS * LEN * LEN) * u) * DT;
    newthdot = fmin(fmax(newthdot, -MAX_SPEED), MAX_SPEED);
    p->th = th + newthdot * DT;
    p->thdot = newthdot;
    p->upright = fabs(angle_normalize(p->th)) < UPRIGHT_RAD ? p->upright + 1 : 0;
    observe(p, obs);
    return (rldt_step_t){.reward = (float)-cost, .success = p->upright >= UPRIGHT_STEPS};
}

static void pendulum_get_state(const void *state, double *out)
{
    const pendulum_t *p = state;
    out[0] = p->th;
    out[1] = p->thdot;
}

static void pendulum_expert(const void *state, rldt_rng_t *rng, float *action)
{
    const pendulum_t *p = state;
    double th = angle_normalize(p->th), thdot = p->thdot;
    double u;
    if (fabs(th) < 0.6 && fabs(thdot) < 3.0) {
        u = -10.0 * th - 2.0 * thdot;
    } else {
        double energy = 0.5 * thdot * thdot + 1.5 * G / LEN * cos(th);
        u = 0.5 * (1.5 * G / LEN - energy) * thdot;
    }
    action[0] = (float)fmin(fmax(u, -MAX_TORQUE), MAX_TORQUE);
}

/* The pole from the pivot at the centre (angle 0 points up), the bob, and the torque as a bar at the bottom. */
static void pendulum_render(const double *state, const float *action, rldt_canvas_t *c)
{
    int cx = c->w / 2, cy = c->h / 2, len = (c->h < c->w ? c->h : c->w) * 2 / 5;
    int bx = cx + (int)lround(len * sin(state[0])), by = cy - (int)lround(len * cos(state[0]));
    for (int d = -2; d <= 2; d++) rldt_canvas_line(c, cx + d, cy, bx + d, by, 0x8c564b);
    rldt_canvas_disc(c, bx, by, len / 8, 0xd62728);
    rldt_canvas_disc(c, cx, cy, 4, 0x202020);
    int tx = cx + (int)lround(action[0] / MAX_TORQUE * (c->w / 2 - 10));
    for (int d = 0; d < 5; d++) rldt_canvas_line(c, cx, c->h - 12 + d, tx, c->h - 12 + d, 0x1f77b4);
}

static const rldt_env_ops_t ops = {.state_size = sizeof(pendulum_t), .reset = pendulum_reset, .step = pendulum_step,
                                   .get_state = pendulum_get_state, .expert = pendulum_expert, .render = pendulum_render};

const rldt_env_spec_t rldt_env_pendulum = {
    .name = "pendulum",
    .summary = "Gym Pendulum-v1 swing-up (dense reward, 200 steps)",
    .obs_dim = 3,
    .act_dim = 1,
    .state_dim = 2,
    .act_low = {-MAX_TORQUE},
    .act_high = {MAX_TORQUE},
    .max_steps = 200,
    .reward_kind = RLDT_REWARD_DENSE,
    .control_hz = 1.0 / DT,
    .success_threshold = UPRIGHT_RAD,
    .success = "within success_threshold rad of upright for the last 50 steps",
    .obs_key = "state",
    .ops = &ops,
};
