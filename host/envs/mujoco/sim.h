/* sim.h — the MuJoCo glue under the locomotion and manipulation tasks (private to host/envs/mujoco/).
 *
 * sim.c is the only file that includes MuJoCo's headers: it loads and checks a model, makes one data per
 * env, steps it as Gymnasium's MujocoEnv does, and saves/restores the integration state. The tasks read
 * the simulation through the plain views below, so they build without MuJoCo; without MuJoCo (RLDT_MUJOCO=0)
 * every load fails with "MuJoCo not installed: run make deps" and nothing else is ever called. */
#ifndef RLDT_ENVS_MUJOCO_SIM_H
#define RLDT_ENVS_MUJOCO_SIM_H

#include <stdbool.h>

#include "rldt/common.h"
#include "rldt/env.h"

/* Joint types, as MuJoCo numbers them (mjtJoint). */
typedef enum { RLDT_SIM_FREE = 0, RLDT_SIM_BALL = 1, RLDT_SIM_SLIDE = 2, RLDT_SIM_HINGE = 3 } rldt_sim_joint_t;

/* What a task requires of a model: its joints in order (names and types), actuator count with control
 * range [-ctrl_limit, ctrl_limit], and body count (0: any). */
typedef struct {
    const char *task;
    const char *default_file; /* file name among Gymnasium's MJCF assets (or the built-in model's name) */
    int njoint;
    const char *const *joint_names;
    const rldt_sim_joint_t *joint_types;
    int nu;
    double ctrl_limit;
    int nbody;
    const char *default_xml; /* when not NULL, the MJCF text of the task's built-in model (instead of a file) */
} rldt_sim_want_t;

/* The most doubles rldt_sim_save writes (time, qpos, qvel, act, warm start); larger models are refused. */
#define RLDT_SIM_STATE_MAX 256

/* A loaded model: sizes and the initial configuration (Gymnasium's init_qpos / init_qvel). */
typedef struct {
    int nq, nv, nu, nbody;
    double timestep;
    const double *qpos0;    /* [nq] the model's reference configuration */
    const void *mj;         /* const mjModel * */
    char path[1024];        /* the file it came from */
} rldt_sim_model_t;

/* One env's simulation: views into its mjData. */
typedef struct {
    double *qpos, *qvel;    /* [nq], [nv] */
    const double *cfrc_ext; /* [nbody][6] external contact forces (after rldt_sim_step) */
    const double *xpos;     /* [nbody][3] body positions as the last forward pass computed them */
    void *mj;               /* mjData * */
} rldt_sim_data_t;

/* Loads `path` (NULL: want->default_xml, else want->default_file among Gymnasium's assets) and checks it
 * against `want`; messages name the task, the file and the joint, actuator or body that differs. */
rldt_status_t rldt_sim_load(const rldt_sim_want_t *want, const char *path, rldt_sim_model_t **out);
void rldt_sim_free(rldt_sim_model_t *m);
/* Makes one data for `m` (RLDT_ERR when MuJoCo cannot allocate it). */
rldt_status_t rldt_sim_data_make(const rldt_sim_model_t *m, rldt_sim_data_t *out);
void rldt_sim_data_free(rldt_sim_data_t *d);

/* Gymnasium's reset + set_state: mj_resetData, qpos and qvel copied in, mj_forward. */
void rldt_sim_set(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *qpos, const double *qvel);
/* mj_forward and mj_rnePostConstraint: the derived quantities (xpos, cfrc_ext) of the current state. */
void rldt_sim_forward(const rldt_sim_model_t *m, rldt_sim_data_t *d);
/* Gymnasium's do_simulation: ctrl = action, mj_step frame_skip times, then mj_rnePostConstraint (for
 * cfrc_ext). False when MuJoCo found the simulation unstable (a bad qpos, qvel or qacc, which makes it
 * reset the data) or left a non-finite qpos or qvel; its warning is then in the log. */
bool rldt_sim_step(const rldt_sim_model_t *m, rldt_sim_data_t *d, const float *action, int frame_skip);
/* rldt_sim_step from the integration state `saved` (rldt_sim_save's, restored first: a no-op unless a
 * snapshot was restored into it); when the step fails, warns naming `task`, puts the data back at `saved`
 * (forward pass included) and returns false: the task ends its episode there. */
bool rldt_sim_step_from(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *saved, const float *action, int frame_skip,
                        const char *task);
/* The integration state (time, qpos, qvel, act, warm start, in MuJoCo's mjtState order, so qpos then qvel
 * start at index RLDT_SIM_SAVED_QPOS): at most RLDT_SIM_STATE_MAX doubles. Restoring it continues the
 * simulation bit for bit. */
#define RLDT_SIM_SAVED_QPOS 1
void rldt_sim_save(const rldt_sim_model_t *m, const rldt_sim_data_t *d, double *out);
void rldt_sim_restore(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *in);
/* Restores a saved state and computes what drawing it needs (mj_kinematics, mj_comPos, mj_camlight: body,
 * geom, camera and light poses; tracking cameras follow subtree centres of mass). mj_step starts from the
 * state alone, so this never changes a trajectory. */
void rldt_sim_pose(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *in);

/* A simulator task's loaded model (rldt/env.h's opaque rldt_env_model_t), the same for every MuJoCo task:
 * the task's constants (its own struct), the MuJoCo model and the control period. */
struct rldt_env_model {
    const void *task;
    rldt_sim_model_t *sim;
    double dt; /* timestep · frame_skip */
};

/* rldt_sim_load, then the env model of `task` around it. */
rldt_status_t rldt_sim_task_load(const rldt_sim_want_t *want, const void *task, int frame_skip, const char *path,
                                 rldt_env_model_t **out);
void rldt_sim_task_free(rldt_env_model_t *m);
/* A task env's scene for the renderer (rldt_env_ops_t.mj_scene): its data d posed at the saved state `saved`
 * (rldt_sim_pose: the plain state, so after a restored snapshot too), with *model its MuJoCo model. */
struct mjData_ *rldt_sim_scene(const rldt_env_model_t *m, rldt_sim_data_t *d, const double *saved, const struct mjModel_ **model);

#endif
