/* manip.c — lift, pickplace, stack, stack3 and bins2: sparse-reward manipulation with a two-finger gripper on a
 * Cartesian stage (the models: manip_model.h), one table row of constants per task and one step function
 * for all.
 *
 *   action (4, in [-1, 1]): Δx, Δy, Δz of the hand, MANIP_MOVE m per step at 1 (the x, y, z servos aim at
 *           the hand's position plus that, inside the stage's range), and grip: −1 fully open, +1 closed
 *           (both finger servos aim at MANIP_TRAVEL·(1 − grip)/2; on a cube the force limit holds them)
 *   step:   20 Hz control: mj_step FRAME_SKIP = 5 times at 10 ms
 *   obs:    hand position (3), hand velocity (3), finger opening (1); per cube its position (3), quaternion
 *           (4) and position minus the hand's (3); per placement (all but lift) where the cube
 *           must go minus where it is (3)
 *   reward: 1 on the step the task succeeds (which ends the episode, terminated), else 0
 *   success: lift: cube_a's centre above LIFT_Z (it starts at MANIP_HALF on the table). The others: every
 *           placement holds and the fingers have let go (opening > RELEASED): a cube is placed on
 *           another when their centres are within PLACE_XY horizontally and 2·MANIP_HALF ± PLACE_Z apart
 *           vertically; in the bin when its centre is inside the bin's floor less MANIP_HALF and below the
 *           walls' top. pickplace: cube_a in the bin; stack: cube_a on cube_b; stack3: cube_b on cube_a,
 *           then cube_c on cube_b (a tower a, b, c); bins2: cube_a into bin_a, then cube_b into bin_b
 *   reset:  the hand at x, y ~ U(±0.1), z ~ U(0.12, 0.2), fingers open; cubes resting on the table with yaw
 *           ~ U(±π/4), x ~ U(±0.12), y ~ U(±0.12) (pickplace, bins2: U(−0.15, 0.05), the bins are at
 *           y = 0.2), at least SEPARATION apart (redrawn until they are), all at rest
 * The expert is a waypoint controller on the state alone (no memory, so any state has an action): for the
 * first placement that does not hold yet (lift: raise cube_a to LIFT_GOAL) it reaches above the cube,
 * descends with the fingers open, closes, rises to the carrying height, moves over the goal, descends and
 * opens; the action is the waypoint's offset over MANIP_MOVE, clipped.
 * State and snapshots as the locomotion tasks: the integration state is plain data, the mjData follows. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../tasks.h"
#include "manip_model.h"
#include "sim.h"

#define FRAME_SKIP 5
#define MANIP_MOVE 0.025 /* hand displacement per step at |action| = 1 (m) */
#define LIFT_Z 0.1       /* lift: success height of the cube's centre */
#define LIFT_GOAL 0.15   /* lift: where the expert takes it */
#define PLACE_XY 0.02
#define PLACE_Z 0.006
#define RELEASED (2.0 * MANIP_HALF + 0.01) /* finger opening that no longer holds a cube */
#define SEPARATION 0.08  /* least distance between cube centres at reset */
#define MAX_YAW 0.7853981633974483 /* π/4: the cubes' yaw at reset is U(±MAX_YAW) */
#define CARRY_Z 0.15     /* the expert carries a cube's centre this high */
#define HOVER 0.1        /* and reaches this far above a cube before descending on it */
#define BASE_OBS 7
#define CUBE_OBS 10
#define MAX_CUBES 3
#define HAND 0             /* qpos of the hand's x, y, z */
#define FINGERS 3          /* qpos of finger_l, finger_r */
#define CUBE(i) (5 + 7 * (i)) /* qpos of cube i: position, quaternion */

#define BIN(b) (-1 - (b)) /* a placement's base that is the task's bin b */
#define MAX_BINS 2

/* A placement: cube `cube` goes onto cube `base` (>= 0), or into bin b (base = BIN(b)). */
typedef struct {
    int cube, base;
} place_t;

typedef struct {
    rldt_sim_want_t want;
    int ncubes;
    int nplace; /* 0: lift */
    place_t place[MAX_CUBES - 1];
    double y_lo, y_hi;        /* reset range of the cubes' y */
    double bin[MAX_BINS][2];  /* the bins' centres (x, y), as in the model */
} manip_task_t;

typedef struct {
    double sim[RLDT_SIM_STATE_MAX]; /* rldt_sim_save after the last reset or step */
    /* runtime: not in snapshots */
    const rldt_env_model_t *model;
    rldt_sim_data_t data;
} manip_t;

#define PLAIN_SIZE offsetof(manip_t, model)

static double clamp(double x, double lo, double hi) { return fmin(fmax(x, lo), hi); }

static const double *saved_qpos(const manip_t *s) { return s->sim + RLDT_SIM_SAVED_QPOS; }

// ------------------------------------------------------------------------------------------------
// the task's geometry, on a qpos

static double opening(const double *qpos) { return qpos[FINGERS] + qpos[FINGERS + 1]; }

/* The centre (x, y) of the bin that placement p of task t fills (p->base = BIN(b)). */
static const double *bin_of(const manip_task_t *t, const place_t *p) { return t->bin[-1 - p->base]; }

/* Where placement p of task t wants its cube's centre. */
static void goal_of(const manip_task_t *t, const place_t *p, const double *qpos, double *g)
{
    if (p->base < 0) {
        const double *b = bin_of(t, p);
        g[0] = b[0], g[1] = b[1], g[2] = MANIP_HALF;
        return;
    }
    const double *b = qpos + CUBE(p->base);
    g[0] = b[0], g[1] = b[1], g[2] = b[2] + 2.0 * MANIP_HALF;
}

/* The cube is where placement p of task t wants it (the fingers may still hold it). */
static bool placed(const manip_task_t *t, const place_t *p, const double *qpos)
{
    const double *c = qpos + CUBE(p->cube);
    if (p->base < 0) {
        const double *b = bin_of(t, p);
        return fabs(c[0] - b[0]) < MANIP_BIN_HALF - MANIP_HALF && fabs(c[1] - b[1]) < MANIP_BIN_HALF - MANIP_HALF && c[2] < MANIP_BIN_WALL;
    }
    double g[3];
    goal_of(t, p, qpos, g);
    return hypot(c[0] - g[0], c[1] - g[1]) < PLACE_XY && fabs(c[2] - g[2]) < PLACE_Z;
}

/* Index of the first placement that does not hold, or nplace when all do and the fingers let go. */
static int stage(const manip_task_t *t, const double *qpos)
{
    for (int k = 0; k < t->nplace; k++)
        if (!placed(t, &t->place[k], qpos)) return k;
    return opening(qpos) > RELEASED ? t->nplace : t->nplace - 1;
}

static bool success(const manip_task_t *t, const double *qpos)
{
    if (t->nplace == 0) return qpos[CUBE(0) + 2] > LIFT_Z;
    return stage(t, qpos) == t->nplace;
}

// ------------------------------------------------------------------------------------------------
// reset, observation, step

static void observe(const manip_t *s, float *obs)
{
    const manip_task_t *t = s->model->task;
    const double *q = s->data.qpos, *v = s->data.qvel;
    int k = 0;
    for (int j = 0; j < 3; j++) obs[k++] = (float)q[HAND + j];
    for (int j = 0; j < 3; j++) obs[k++] = (float)v[HAND + j];
    obs[k++] = (float)opening(q);
    for (int i = 0; i < t->ncubes; i++) {
        const double *c = q + CUBE(i);
        for (int j = 0; j < 7; j++) obs[k++] = (float)c[j];
        for (int j = 0; j < 3; j++) obs[k++] = (float)(c[j] - q[HAND + j]);
    }
    for (int p = 0; p < t->nplace; p++) {
        double g[3];
        goal_of(t, &t->place[p], q, g);
        for (int j = 0; j < 3; j++) obs[k++] = (float)(g[j] - q[CUBE(t->place[p].cube) + j]);
    }
}

static double uniform(rldt_rng_t *rng, double lo, double hi) { return lo + (hi - lo) * (double)rldt_rng_uniform(rng); }

static void start(manip_t *s, const double *qpos, const double *qvel, float *obs)
{
    rldt_sim_set(s->model->sim, &s->data, qpos, qvel);
    rldt_sim_save(s->model->sim, &s->data, s->sim);
    observe(s, obs);
}

static void manip_reset(void *state, rldt_rng_t *rng, float *obs)
{
    manip_t *s = state;
    const manip_task_t *t = s->model->task;
    double qpos[RLDT_SIM_STATE_MAX], qvel[RLDT_SIM_STATE_MAX] = {0};
    qpos[HAND] = uniform(rng, -0.1, 0.1);
    qpos[HAND + 1] = uniform(rng, -0.1, 0.1);
    qpos[HAND + 2] = uniform(rng, 0.12, 0.2);
    qpos[FINGERS] = qpos[FINGERS + 1] = MANIP_TRAVEL;
    for (int i = 0; i < t->ncubes; i++) {
        double *c = qpos + CUBE(i);
        bool apart;
        do {
            c[0] = uniform(rng, -0.12, 0.12);
            c[1] = uniform(rng, t->y_lo, t->y_hi);
            apart = true;
            for (int j = 0; j < i; j++) apart = apart && hypot(c[0] - qpos[CUBE(j)], c[1] - qpos[CUBE(j) + 1]) >= SEPARATION;
        } while (!apart);
        double yaw = uniform(rng, -MAX_YAW, MAX_YAW);
        c[2] = MANIP_HALF;
        c[3] = cos(0.5 * yaw), c[4] = 0.0, c[5] = 0.0, c[6] = sin(0.5 * yaw);
    }
    start(s, qpos, qvel, obs);
}

static void manip_set_state(void *state, const double *in, float *obs)
{
    manip_t *s = state;
    start(s, in, in + s->model->sim->nq, obs);
}

static void manip_get_state(const void *state, double *out)
{
    const manip_t *s = state;
    const rldt_sim_model_t *m = s->model->sim;
    memcpy(out, saved_qpos(s), (size_t)(m->nq + m->nv) * sizeof *out);
}

static rldt_step_t manip_step(void *state, const float *action, float *obs)
{
    manip_t *s = state;
    const manip_task_t *t = s->model->task;
    const rldt_sim_model_t *m = s->model->sim;
    rldt_sim_data_t *d = &s->data;
    static const double lo[3] = {-MANIP_XY, -MANIP_XY, MANIP_Z_LO}, hi[3] = {MANIP_XY, MANIP_XY, MANIP_Z_HI};
    const double *q = saved_qpos(s); /* not d->qpos: a snapshot may have been restored into the plain state */
    float ctrl[5];
    for (int j = 0; j < 3; j++) ctrl[j] = (float)clamp(q[HAND + j] + MANIP_MOVE * action[j], lo[j], hi[j]);
    ctrl[3] = ctrl[4] = (float)(MANIP_TRAVEL * 0.5 * (1.0 - action[3]));
    if (!rldt_sim_step_from(m, d, s->sim, ctrl, FRAME_SKIP, t->want.task)) {
        observe(s, obs);
        return (rldt_step_t){.terminated = true};
    }
    rldt_sim_save(m, d, s->sim);
    observe(s, obs);
    bool ok = success(t, d->qpos);
    return (rldt_step_t){.reward = ok ? 1.0f : 0.0f, .terminated = ok, .success = ok};
}

// ------------------------------------------------------------------------------------------------
// the scripted expert

/* The action that moves the hand toward `target` (clipped to the action range) with grip `grip`. */
static void toward(const double *hand, const double *target, double grip, float *action)
{
    for (int j = 0; j < 3; j++) action[j] = (float)clamp((target[j] - hand[j]) / MANIP_MOVE, -1.0, 1.0);
    action[3] = (float)grip;
}

/* Takes cube `cube` to `goal` (its centre), and lets go there when `release`. */
static void carry(const double *qpos, int cube, const double *goal, bool release, float *action)
{
    const double *h = qpos + HAND, *c = qpos + CUBE(cube);
    double target[3] = {h[0], h[1], h[2]};
    double open = opening(qpos), to_cube = hypot(c[0] - h[0], c[1] - h[1]);
    bool held = open < 2.0 * MANIP_HALF + 0.006 && to_cube < 0.02 && fabs(c[2] - h[2]) < 0.02;
    double off[3] = {goal[0] - c[0], goal[1] - c[1], goal[2] - c[2]}, to_goal = hypot(off[0], off[1]);
    if (release && to_goal < 0.01 && fabs(off[2]) < PLACE_Z) { /* there: open, then back off upward */
        if (open > RELEASED) target[2] = h[2] + MANIP_MOVE;
        toward(h, target, -1.0, action);
        return;
    }
    if (!held) {
        double grasp_z = c[2] + 0.005, hover = c[2] + HOVER;
        if (to_cube > 0.02 && h[2] < hover - 0.03) { /* low and off: rise first */
            target[2] = hover;
        } else if (to_cube > 0.008) {
            target[0] = c[0], target[1] = c[1], target[2] = hover;
        } else {
            target[0] = c[0], target[1] = c[1], target[2] = grasp_z;
        }
        bool at_grasp = to_cube < 0.008 && fabs(h[2] - grasp_z) < 0.008;
        toward(h, target, at_grasp ? 1.0 : -1.0, action);
        return;
    }
    /* held: move the hand so that the cube goes where wanted */
    double carry_z = fmax(goal[2], CARRY_Z);
    if (to_goal > 0.02 && c[2] < carry_z - 0.03) {
        target[2] = h[2] + (carry_z - c[2]);
    } else if (to_goal > 0.008) {
        for (int j = 0; j < 2; j++) target[j] = h[j] + off[j];
        target[2] = h[2] + (carry_z - c[2]);
    } else {
        for (int j = 0; j < 3; j++) target[j] = h[j] + off[j];
        target[2] += 0.002;
    }
    toward(h, target, 1.0, action);
}

static void manip_expert(const void *state, rldt_rng_t *rng, float *action)
{
    const manip_t *s = state;
    const manip_task_t *t = s->model->task;
    const double *q = saved_qpos(s);
    if (t->nplace == 0) {
        const double *c = q + CUBE(0);
        double goal[3] = {c[0], c[1], LIFT_GOAL};
        carry(q, 0, goal, false, action);
        return;
    }
    int k = stage(t, q);
    if (k == t->nplace) k--; /* done: keep the last placement's "let go" */
    double goal[3];
    goal_of(t, &t->place[k], q, goal);
    carry(q, t->place[k].cube, goal, true, action);
}

// ------------------------------------------------------------------------------------------------
// ops and the task table

static rldt_status_t manip_attach(void *state, const rldt_env_model_t *model)
{
    manip_t *s = state;
    s->model = model;
    return rldt_sim_data_make(model->sim, &s->data);
}

static void manip_detach(void *state)
{
    manip_t *s = state;
    rldt_sim_data_free(&s->data);
}

static struct mjData_ *manip_mj_scene(void *state, const struct mjModel_ **model)
{
    manip_t *s = state;
    return rldt_sim_scene(s->model, &s->data, s->sim, model);
}

static const char *const joints[] = {"x", "y", "z", "finger_l", "finger_r", "cube_a", "cube_b", "cube_c"};
static const rldt_sim_joint_t joint_types[] = {RLDT_SIM_SLIDE, RLDT_SIM_SLIDE, RLDT_SIM_SLIDE, RLDT_SIM_SLIDE,
                                               RLDT_SIM_SLIDE, RLDT_SIM_FREE,  RLDT_SIM_FREE,  RLDT_SIM_FREE};

#define RED "0.85 0.2 0.2 1"
#define GREEN "0.2 0.7 0.3 1"
#define BLUE "0.2 0.4 0.85 1"

static const manip_task_t lift = {
    .want = {"lift", "lift.xml (built in)", 6, joints, joint_types, 5, 1.0, 0,
             MANIP_XML_HEAD MANIP_XML_CUBE("cube_a", RED) MANIP_XML_TAIL},
    .ncubes = 1, .y_lo = -0.12, .y_hi = 0.12,
};

static const manip_task_t pickplace = {
    .want = {"pickplace", "pickplace.xml (built in)", 6, joints, joint_types, 5, 1.0, 0,
             MANIP_XML_HEAD MANIP_XML_CUBE("cube_a", RED) MANIP_XML_BIN MANIP_XML_TAIL},
    .ncubes = 1, .nplace = 1, .place = {{0, BIN(0)}}, .y_lo = -0.15, .y_hi = 0.05, .bin = {{MANIP_BIN_X, MANIP_BIN_Y}},
};

static const manip_task_t stack = {
    .want = {"stack", "stack.xml (built in)", 7, joints, joint_types, 5, 1.0, 0,
             MANIP_XML_HEAD MANIP_XML_CUBE("cube_a", RED) MANIP_XML_CUBE("cube_b", GREEN) MANIP_XML_TAIL},
    .ncubes = 2, .nplace = 1, .place = {{0, 1}}, .y_lo = -0.12, .y_hi = 0.12,
};

static const manip_task_t stack3 = {
    .want = {"stack3", "stack3.xml (built in)", 8, joints, joint_types, 5, 1.0, 0,
             MANIP_XML_HEAD MANIP_XML_CUBE("cube_a", RED) MANIP_XML_CUBE("cube_b", GREEN) MANIP_XML_CUBE("cube_c", BLUE)
                 MANIP_XML_TAIL},
    .ncubes = 3, .nplace = 2, .place = {{1, 0}, {2, 1}}, .y_lo = -0.12, .y_hi = 0.12,
};

static const manip_task_t bins2 = {
    .want = {"bins2", "bins2.xml (built in)", 7, joints, joint_types, 5, 1.0, 0,
             MANIP_XML_HEAD MANIP_XML_CUBE("cube_a", RED) MANIP_XML_CUBE("cube_b", GREEN) MANIP_XML_BINS2 MANIP_XML_TAIL},
    .ncubes = 2, .nplace = 2, .place = {{0, BIN(0)}, {1, BIN(1)}}, .y_lo = -0.15, .y_hi = 0.05,
    .bin = {{-MANIP_BINS2_X, MANIP_BIN_Y}, {MANIP_BINS2_X, MANIP_BIN_Y}},
};

#define MANIP_OPS(name)                                                                                                  \
    static rldt_status_t name##_load(const char *path, rldt_env_model_t **out)                                         \
    {                                                                                                                    \
        return rldt_sim_task_load(&name.want, &name, FRAME_SKIP, path, out);                                             \
    }                                                                                                                    \
    static const rldt_env_ops_t name##_ops = {                                                                           \
        .state_size = PLAIN_SIZE, .reset = manip_reset, .step = manip_step, .get_state = manip_get_state,               \
        .expert = manip_expert, .set_state = manip_set_state, .runtime_size = sizeof(manip_t) - PLAIN_SIZE,             \
        .model_load = name##_load, .model_free = rldt_sim_task_free, .attach = manip_attach, .detach = manip_detach,    \
        .mj_scene = manip_mj_scene,                                                                                      \
    };

MANIP_OPS(lift)
MANIP_OPS(pickplace)
MANIP_OPS(stack)
MANIP_OPS(stack3)
MANIP_OPS(bins2)

#define GRIPPER_ACTION .act_dim = 4, .act_low = {-1, -1, -1, -1}, .act_high = {1, 1, 1, 1}
#define OBS_DIM(ncubes, nplace) (BASE_OBS + CUBE_OBS * (ncubes) + 3 * (nplace))
#define STATE_DIM(ncubes) (2 * 5 + 13 * (ncubes)) /* qpos (5 + 7 per cube) and qvel (5 + 6 per cube) */
#define PLACED "; placed: centres within success_threshold horizontally, one cube side ± 6 mm apart vertically"

const rldt_env_spec_t rldt_env_lift = {
    .name = "lift",
    .summary = "gripper on a Cartesian stage lifts a cube off the table (MuJoCo; sparse reward, 100 steps)",
    .obs_dim = OBS_DIM(1, 0), .state_dim = STATE_DIM(1), GRIPPER_ACTION,
    .max_steps = 100, .reward_kind = RLDT_REWARD_SPARSE, .control_hz = 20.0, .success_threshold = (float)LIFT_Z,
    .success = "the cube's centre is above success_threshold metres (it rests at 0.02)", .obs_key = "state", .ops = &lift_ops,
};

const rldt_env_spec_t rldt_env_pickplace = {
    .name = "pickplace",
    .summary = "gripper carries a cube into a bin and lets go (MuJoCo; sparse reward, 200 steps)",
    .obs_dim = OBS_DIM(1, 1), .state_dim = STATE_DIM(1), GRIPPER_ACTION,
    .max_steps = 200, .reward_kind = RLDT_REWARD_SPARSE, .control_hz = 20.0, .success_threshold = (float)(MANIP_BIN_HALF - MANIP_HALF),
    .success = "the cube's centre is within success_threshold of the bin's centre on both axes, below the walls' top, and "
               "the fingers have let go",
    .obs_key = "state", .ops = &pickplace_ops,
};

const rldt_env_spec_t rldt_env_stack = {
    .name = "stack",
    .summary = "gripper stacks cube A onto cube B (MuJoCo; sparse reward, 200 steps)",
    .obs_dim = OBS_DIM(2, 1), .state_dim = STATE_DIM(2), GRIPPER_ACTION,
    .max_steps = 200, .reward_kind = RLDT_REWARD_SPARSE, .control_hz = 20.0, .success_threshold = (float)PLACE_XY,
    .success = "cube A is placed on cube B and the fingers have let go" PLACED, .obs_key = "state", .ops = &stack_ops,
};

const rldt_env_spec_t rldt_env_stack3 = {
    .name = "stack3",
    .summary = "gripper builds a tower of three cubes in order: B onto A, then C onto B (MuJoCo; sparse reward, 400 steps)",
    .obs_dim = OBS_DIM(3, 2), .state_dim = STATE_DIM(3), GRIPPER_ACTION,
    .max_steps = 400, .reward_kind = RLDT_REWARD_SPARSE, .control_hz = 20.0, .success_threshold = (float)PLACE_XY,
    .success = "cube B is placed on cube A, cube C on cube B, and the fingers have let go" PLACED, .obs_key = "state",
    .ops = &stack3_ops,
};

const rldt_env_spec_t rldt_env_bins2 = {
    .name = "bins2",
    .summary = "gripper puts cube A into its bin, then cube B into the other (MuJoCo; sparse reward, 400 steps)",
    .obs_dim = OBS_DIM(2, 2), .state_dim = STATE_DIM(2), GRIPPER_ACTION,
    .max_steps = 400, .reward_kind = RLDT_REWARD_SPARSE, .control_hz = 20.0, .success_threshold = (float)(MANIP_BIN_HALF - MANIP_HALF),
    .success = "cube A is in bin A and cube B in bin B (each centre within success_threshold of its bin's centre on both "
               "axes, below the walls' top), and the fingers have let go",
    .obs_key = "state", .ops = &bins2_ops,
};
