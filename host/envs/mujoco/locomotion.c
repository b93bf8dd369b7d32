/* locomotion.c — hopper, walker2d, halfcheetah and ant: Gymnasium's Hopper-v5, Walker2d-v5, HalfCheetah-v5
 * and Ant-v5 on MuJoCo's C API, one table row of constants per task and one step function for all.
 *
 * As Gymnasium computes them (gymnasium/envs/mujoco/<task>_v5.py with their default arguments):
 *   step:   ctrl = action, mj_step frame_skip times, mj_rnePostConstraint; dt = timestep · frame_skip
 *   reward: forward_weight · (x_after − x_before)/dt + healthy_reward · healthy − ctrl_weight · Σ action²
 *           (ant also − contact_weight · Σ clip(cfrc_ext, ±1)², over every body); x is qpos[0], for ant
 *           the torso's xpos (as the last forward pass inside mj_step left it)
 *   obs:    qpos without the first 1 (ant: 2) entries, qvel (hopper and walker2d clip it to ±10), and for
 *           ant clip(cfrc_ext, ±1) of every body but the world
 *   ends:   terminated when not healthy (halfcheetah never); truncated after 1000 steps (rldt_env_step)
 *   reset:  qpos = qpos0 + U(±s), qvel = U(±s) (hopper, walker2d) or s·N(0, 1) (halfcheetah, ant)
 * The reset draws come from rldt's RNG (Gymnasium's come from numpy's), so episodes start from other
 * samples of the same distribution; rldt_env_set_state starts one from given qpos and qvel, which is how
 * tests/check_gym_mujoco.py compares the two step by step.
 * A step MuJoCo finds unstable (it resets the data on a bad qpos, qvel or qacc) or that leaves a
 * non-finite state ends the episode (terminated, reward 0) with a warning; the observation is the last
 * stable one, so no NaN reaches a batch.
 * State: the integration state (rldt_sim_save) and the torso position, plain numbers that snapshots copy;
 * the mjData (one per env) and the shared model come after them. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../tasks.h"
#include "sim.h"

typedef struct loco_task loco_task_t;

struct loco_task {
    rldt_sim_want_t want;
    int frame_skip;
    double forward_weight, ctrl_weight, healthy_reward, contact_weight;
    int skip_qpos;    /* leading qpos entries left out of the observation */
    double qvel_clip; /* 0: qvel unclipped */
    bool cfrc_obs;    /* clip(cfrc_ext[1:], ±1) ends the observation */
    int x_body;       /* > 0: forward progress from this body's xpos, else from qpos[0] */
    double reset_noise;
    bool normal_qvel_noise;
    /* NULL: always healthy, never terminates */
    bool (*healthy)(const loco_task_t *t, const double *qpos, const double *qvel, int nq, int nv);
    double z_lo, z_hi, angle_lo, angle_hi, state_limit;
};

typedef struct {
    double sim[RLDT_SIM_STATE_MAX]; /* rldt_sim_save after the last reset or step */
    double body_xy[2];              /* x_body's xpos (x, y) then */
    /* runtime: not in snapshots */
    const rldt_env_model_t *model;
    rldt_sim_data_t data;
} loco_t;

#define PLAIN_SIZE offsetof(loco_t, model)

// ------------------------------------------------------------------------------------------------
// health: Gymnasium's is_healthy of each task

/* Hopper-v5: z and angle strictly inside their ranges, qpos[2:] and qvel strictly inside ±state_limit. */
static bool hopper_healthy(const loco_task_t *t, const double *qpos, const double *qvel, int nq, int nv)
{
    bool ok = t->z_lo < qpos[1] && qpos[1] < t->z_hi && t->angle_lo < qpos[2] && qpos[2] < t->angle_hi;
    for (int i = 2; ok && i < nq; i++) ok = -t->state_limit < qpos[i] && qpos[i] < t->state_limit;
    for (int i = 0; ok && i < nv; i++) ok = -t->state_limit < qvel[i] && qvel[i] < t->state_limit;
    return ok;
}

/* Walker2d-v5: z and angle strictly inside their ranges. */
static bool walker_healthy(const loco_task_t *t, const double *qpos, const double *qvel, int nq, int nv)
{
    return t->z_lo < qpos[1] && qpos[1] < t->z_hi && t->angle_lo < qpos[2] && qpos[2] < t->angle_hi;
}

/* Ant-v5: a finite state and z = qpos[2] inside [z_lo, z_hi] (bounds included). */
static bool ant_healthy(const loco_task_t *t, const double *qpos, const double *qvel, int nq, int nv)
{
    bool ok = t->z_lo <= qpos[2] && qpos[2] <= t->z_hi;
    for (int i = 0; ok && i < nq; i++) ok = isfinite(qpos[i]);
    for (int i = 0; ok && i < nv; i++) ok = isfinite(qvel[i]);
    return ok;
}

// ------------------------------------------------------------------------------------------------
// the shared part

static void observe(const loco_t *s, float *obs)
{
    const loco_task_t *t = s->model->task;
    const rldt_sim_model_t *m = s->model->sim;
    const rldt_sim_data_t *d = &s->data;
    int k = 0;
    for (int i = t->skip_qpos; i < m->nq; i++) obs[k++] = (float)d->qpos[i];
    for (int i = 0; i < m->nv; i++) obs[k++] = (float)(t->qvel_clip > 0.0 ? fmin(fmax(d->qvel[i], -t->qvel_clip), t->qvel_clip) : d->qvel[i]);
    if (t->cfrc_obs)
        for (int i = 6; i < 6 * m->nbody; i++) obs[k++] = (float)fmin(fmax(d->cfrc_ext[i], -1.0), 1.0);
}

/* Keeps what the next step starts from in the plain state. */
static void remember(loco_t *s)
{
    rldt_sim_save(s->model->sim, &s->data, s->sim);
    int b = ((const loco_task_t *)s->model->task)->x_body;
    s->body_xy[0] = s->data.xpos[3 * b];
    s->body_xy[1] = s->data.xpos[3 * b + 1];
}

static void start(loco_t *s, const double *qpos, const double *qvel, float *obs)
{
    rldt_sim_set(s->model->sim, &s->data, qpos, qvel);
    remember(s);
    observe(s, obs);
}

static void loco_reset(void *state, rldt_rng_t *rng, float *obs)
{
    loco_t *s = state;
    const loco_task_t *t = s->model->task;
    const rldt_sim_model_t *m = s->model->sim;
    double qpos[RLDT_SIM_STATE_MAX], qvel[RLDT_SIM_STATE_MAX], e = t->reset_noise;
    for (int i = 0; i < m->nq; i++) qpos[i] = m->qpos0[i] + e * (2.0 * (double)rldt_rng_uniform(rng) - 1.0);
    for (int i = 0; i < m->nv; i++)
        qvel[i] = t->normal_qvel_noise ? e * (double)rldt_rng_normal(rng) : e * (2.0 * (double)rldt_rng_uniform(rng) - 1.0);
    start(s, qpos, qvel, obs);
}

static void loco_set_state(void *state, const double *in, float *obs)
{
    loco_t *s = state;
    start(s, in, in + s->model->sim->nq, obs);
}

static void loco_get_state(const void *state, double *out)
{
    const loco_t *s = state; /* from the plain state: after a snapshot is restored, the mjData catches up at the next step */
    const rldt_sim_model_t *m = s->model->sim;
    memcpy(out, s->sim + RLDT_SIM_SAVED_QPOS, (size_t)(m->nq + m->nv) * sizeof *out);
}

static rldt_step_t loco_step(void *state, const float *action, float *obs)
{
    loco_t *s = state;
    const loco_task_t *t = s->model->task;
    const rldt_sim_model_t *m = s->model->sim;
    rldt_sim_data_t *d = &s->data;
    double x_before = t->x_body ? s->body_xy[0] : s->sim[RLDT_SIM_SAVED_QPOS];
    if (!rldt_sim_step_from(m, d, s->sim, action, t->frame_skip, t->want.task)) {
        observe(s, obs);
        return (rldt_step_t){.terminated = true};
    }
    double x_after = t->x_body ? d->xpos[3 * t->x_body] : d->qpos[0];
    bool healthy = !t->healthy || t->healthy(t, d->qpos, d->qvel, m->nq, m->nv);
    double ctrl = 0.0, contact = 0.0;
    for (int j = 0; j < m->nu; j++) ctrl += (double)action[j] * (double)action[j];
    if (t->contact_weight > 0.0)
        for (int i = 0; i < 6 * m->nbody; i++) {
            double f = fmin(fmax(d->cfrc_ext[i], -1.0), 1.0);
            contact += f * f;
        }
    double reward = t->forward_weight * (x_after - x_before) / s->model->dt + (healthy ? t->healthy_reward : 0.0) -
                    t->ctrl_weight * ctrl - t->contact_weight * contact;
    remember(s);
    observe(s, obs);
    return (rldt_step_t){.reward = (float)reward, .terminated = t->healthy && !healthy, .success = healthy};
}

static rldt_status_t loco_attach(void *state, const rldt_env_model_t *model)
{
    loco_t *s = state;
    s->model = model;
    return rldt_sim_data_make(model->sim, &s->data);
}

static void loco_detach(void *state)
{
    loco_t *s = state;
    rldt_sim_data_free(&s->data);
}

static struct mjData_ *loco_mj_scene(void *state, const struct mjModel_ **model)
{
    loco_t *s = state;
    return rldt_sim_scene(s->model, &s->data, s->sim, model);
}

// ------------------------------------------------------------------------------------------------
// the four tasks: Gymnasium's default arguments

static const rldt_sim_joint_t planar[] = {RLDT_SIM_SLIDE, RLDT_SIM_SLIDE, RLDT_SIM_HINGE, RLDT_SIM_HINGE, RLDT_SIM_HINGE,
                                          RLDT_SIM_HINGE, RLDT_SIM_HINGE, RLDT_SIM_HINGE, RLDT_SIM_HINGE};

static const char *const hopper_joints[] = {"rootx", "rootz", "rooty", "thigh_joint", "leg_joint", "foot_joint"};
static const loco_task_t hopper = {
    .want = {"hopper", "hopper.xml", 6, hopper_joints, planar, 3, 1.0, 0},
    .frame_skip = 4, .forward_weight = 1.0, .ctrl_weight = 1e-3, .healthy_reward = 1.0,
    .skip_qpos = 1, .qvel_clip = 10.0, .reset_noise = 5e-3, .healthy = hopper_healthy,
    .z_lo = 0.7, .z_hi = INFINITY, .angle_lo = -0.2, .angle_hi = 0.2, .state_limit = 100.0,
};

static const char *const walker_joints[] = {"rootx", "rootz", "rooty", "thigh_joint", "leg_joint", "foot_joint",
                                            "thigh_left_joint", "leg_left_joint", "foot_left_joint"};
static const loco_task_t walker2d = {
    .want = {"walker2d", "walker2d_v5.xml", 9, walker_joints, planar, 6, 1.0, 0},
    .frame_skip = 4, .forward_weight = 1.0, .ctrl_weight = 1e-3, .healthy_reward = 1.0,
    .skip_qpos = 1, .qvel_clip = 10.0, .reset_noise = 5e-3, .healthy = walker_healthy,
    .z_lo = 0.8, .z_hi = 2.0, .angle_lo = -1.0, .angle_hi = 1.0,
};

static const char *const cheetah_joints[] = {"rootx", "rootz", "rooty", "bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot"};
static const loco_task_t halfcheetah = {
    .want = {"halfcheetah", "half_cheetah.xml", 9, cheetah_joints, planar, 6, 1.0, 0},
    .frame_skip = 5, .forward_weight = 1.0, .ctrl_weight = 0.1,
    .skip_qpos = 1, .reset_noise = 0.1, .normal_qvel_noise = true,
};

static const char *const ant_joints[] = {"root", "hip_1", "ankle_1", "hip_2", "ankle_2", "hip_3", "ankle_3", "hip_4", "ankle_4"};
static const rldt_sim_joint_t ant_types[] = {RLDT_SIM_FREE, RLDT_SIM_HINGE, RLDT_SIM_HINGE, RLDT_SIM_HINGE, RLDT_SIM_HINGE,
                                             RLDT_SIM_HINGE, RLDT_SIM_HINGE, RLDT_SIM_HINGE, RLDT_SIM_HINGE};
static const loco_task_t ant = {
    .want = {"ant", "ant.xml", 9, ant_joints, ant_types, 8, 1.0, 14},
    .frame_skip = 5, .forward_weight = 1.0, .ctrl_weight = 0.5, .healthy_reward = 1.0, .contact_weight = 5e-4,
    .skip_qpos = 2, .cfrc_obs = true, .x_body = 1, .reset_noise = 0.1, .normal_qvel_noise = true, .healthy = ant_healthy,
    .z_lo = 0.2, .z_hi = 1.0,
};

#define LOCO_OPS(name, task)                                                                                             \
    static rldt_status_t name##_load(const char *path, rldt_env_model_t **out)                                         \
    {                                                                                                                    \
        return rldt_sim_task_load(&task.want, &task, task.frame_skip, path, out);                                        \
    }                                                                                                                    \
    static const rldt_env_ops_t name##_ops = {                                                                           \
        .state_size = PLAIN_SIZE, .reset = loco_reset, .step = loco_step, .get_state = loco_get_state,                  \
        .set_state = loco_set_state, .runtime_size = sizeof(loco_t) - PLAIN_SIZE, .model_load = name##_load,            \
        .model_free = rldt_sim_task_free, .attach = loco_attach, .detach = loco_detach, .mj_scene = loco_mj_scene,       \
    };

LOCO_OPS(hopper, hopper)
LOCO_OPS(walker2d, walker2d)
LOCO_OPS(halfcheetah, halfcheetah)
LOCO_OPS(ant, ant)

#define HEALTHY_SUCCESS "the last step was healthy (the episode reached the step limit without falling)"

const rldt_env_spec_t rldt_env_hopper = {
    .name = "hopper",
    .summary = "Gymnasium Hopper-v5 on MuJoCo (one-legged hopping; dense reward, 1000 steps)",
    .obs_dim = 11, .act_dim = 3, .state_dim = 12,
    .act_low = {-1, -1, -1}, .act_high = {1, 1, 1},
    .max_steps = 1000, .reward_kind = RLDT_REWARD_DENSE, .control_hz = 125.0,
    .success = HEALTHY_SUCCESS, .obs_key = "state", .ops = &hopper_ops,
};

const rldt_env_spec_t rldt_env_walker2d = {
    .name = "walker2d",
    .summary = "Gymnasium Walker2d-v5 on MuJoCo (two-legged walking; dense reward, 1000 steps)",
    .obs_dim = 17, .act_dim = 6, .state_dim = 18,
    .act_low = {-1, -1, -1, -1, -1, -1}, .act_high = {1, 1, 1, 1, 1, 1},
    .max_steps = 1000, .reward_kind = RLDT_REWARD_DENSE, .control_hz = 125.0,
    .success = HEALTHY_SUCCESS, .obs_key = "state", .ops = &walker2d_ops,
};

const rldt_env_spec_t rldt_env_halfcheetah = {
    .name = "halfcheetah",
    .summary = "Gymnasium HalfCheetah-v5 on MuJoCo (planar running; dense reward, 1000 steps)",
    .obs_dim = 17, .act_dim = 6, .state_dim = 18,
    .act_low = {-1, -1, -1, -1, -1, -1}, .act_high = {1, 1, 1, 1, 1, 1},
    .max_steps = 1000, .reward_kind = RLDT_REWARD_DENSE, .control_hz = 20.0,
    .success = "always (the task has no failure state)", .obs_key = "state", .ops = &halfcheetah_ops,
};

const rldt_env_spec_t rldt_env_ant = {
    .name = "ant",
    .summary = "Gymnasium Ant-v5 on MuJoCo (quadruped walking; dense reward, 1000 steps)",
    .obs_dim = 105, .act_dim = 8, .state_dim = 29,
    .act_low = {-1, -1, -1, -1, -1, -1, -1, -1}, .act_high = {1, 1, 1, 1, 1, 1, 1, 1},
    .max_steps = 1000, .reward_kind = RLDT_REWARD_DENSE, .control_hz = 20.0,
    .success = HEALTHY_SUCCESS, .obs_key = "state", .ops = &ant_ops,
};
