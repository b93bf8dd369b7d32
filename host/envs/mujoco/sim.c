/* sim.c — MuJoCo's C API behind the locomotion and manipulation tasks (see sim.h): model loading (a file or
 * a task's built-in MJCF text) and checking, one mjData per env, Gymnasium's step sequence, state
 * save/restore, and MuJoCo's warnings and errors routed to the log.
 *
 * Built against the MuJoCo 3.3.x library that scripts/install-mujoco.sh unpacks from the pinned PyPI wheel
 * (RLDT_MUJOCO=1, set by the Makefile when it finds it); without it every load reports how to install it.
 * The locomotion tasks' default models are Gymnasium's MJCF files in the test venv (RLDT_MUJOCO_ASSETS, set by
 * the Makefile); the manipulation tasks carry their own (host/envs/mujoco/manip_model.h). */
#define _POSIX_C_SOURCE 200809L
#include "sim.h"

#include <stdlib.h>

#include "rldt/log.h"

#if RLDT_MUJOCO

#include <math.h>
#include <mujoco/mujoco.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The state rldt_sim_save keeps: all that mj_step reads and a step can change, since controls are set
 * before every step and nothing applies forces. */
#define STATE_SIG (mjSTATE_FULLPHYSICS | mjSTATE_WARMSTART)

// ------------------------------------------------------------------------------------------------
// handlers: MuJoCo's default ones print and exit

static void on_warning(const char *msg) { rldt_warn("MuJoCo: %s", msg); }

/* mju_error's callers do not expect it to return, so after logging the only safe way on is to stop. */
static void on_error(const char *msg)
{
    rldt_errorlog("MuJoCo error: %s (rldt cannot continue after it)", msg);
    abort();
}

static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t load_mutex = PTHREAD_MUTEX_INITIALIZER;

static void install_handlers(void)
{
    mju_user_warning = on_warning;
    mju_user_error = on_error;
}

// ------------------------------------------------------------------------------------------------
// loading and checking

static const char *joint_type_name(int t)
{
    static const char *names[] = {"free", "ball", "slide", "hinge"};
    return t >= 0 && t < 4 ? names[t] : "unknown";
}

static rldt_status_t check(const rldt_sim_want_t *w, const mjModel *m, const char *path)
{
    for (int j = 0; j < w->njoint && j < m->njnt; j++) {
        const char *name = mj_id2name(m, mjOBJ_JOINT, j);
        if (!name || strcmp(name, w->joint_names[j]) != 0 || m->jnt_type[j] != (int)w->joint_types[j])
            return rldt_error_set(RLDT_ERR_USAGE, "%s: model %s: joint %d is '%s' (%s), the task needs '%s' (%s)", w->task, path, j,
                                  name ? name : "(unnamed)", joint_type_name(m->jnt_type[j]), w->joint_names[j],
                                  joint_type_name(w->joint_types[j]));
    }
    if (m->njnt != w->njoint) {
        int j = m->njnt < w->njoint ? m->njnt : w->njoint;
        const char *name = m->njnt > j ? mj_id2name(m, mjOBJ_JOINT, j) : w->joint_names[j];
        return rldt_error_set(RLDT_ERR_USAGE, "%s: model %s has %d joints, the task needs %d: joint %d '%s' is %s", w->task, path,
                              m->njnt, w->njoint, j, name ? name : "(unnamed)", m->njnt > j ? "extra" : "missing");
    }
    if (m->nu != w->nu)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: model %s has %d actuators, the task needs %d", w->task, path, m->nu, w->nu);
    for (int a = 0; a < m->nu; a++) {
        const double *r = m->actuator_ctrlrange + 2 * a;
        if (!m->actuator_ctrllimited[a] || r[0] != -w->ctrl_limit || r[1] != w->ctrl_limit) {
            const char *name = mj_id2name(m, mjOBJ_ACTUATOR, a);
            return rldt_error_set(RLDT_ERR_USAGE, "%s: model %s: actuator %d (%s) has control range [%g, %g]%s, the task needs [%g, %g]",
                                  w->task, path, a, name ? name : "unnamed", r[0], r[1], m->actuator_ctrllimited[a] ? "" : " unlimited",
                                  -w->ctrl_limit, w->ctrl_limit);
        }
    }
    if (w->nbody && m->nbody != w->nbody)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: model %s has %d bodies (world included), the task's observation needs %d", w->task,
                              path, m->nbody, w->nbody);
    if (m->na != 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: model %s has %d actuator activations, the task has none", w->task, path, m->na);
    if (mj_stateSize(m, STATE_SIG) > RLDT_SIM_STATE_MAX)
        return rldt_error_set(RLDT_ERR_USAGE, "%s: model %s has a state of %d numbers, more than the %d rldt keeps", w->task, path,
                              mj_stateSize(m, STATE_SIG), RLDT_SIM_STATE_MAX);
    return RLDT_OK;
}

/* mj_loadXML of a file, or of the built-in text `xml` through a virtual file named `file`. */
static mjModel *load_xml(const char *file, const char *xml, char *err, int err_size)
{
    pthread_mutex_lock(&load_mutex);
    mjModel *m;
    if (xml) {
        mjVFS vfs;
        mj_defaultVFS(&vfs);
        m = mj_addBufferVFS(&vfs, file, xml, (int)strlen(xml)) == 0 ? mj_loadXML(file, &vfs, err, err_size) : NULL;
        mj_deleteVFS(&vfs);
    } else {
        m = mj_loadXML(file, NULL, err, err_size);
    }
    pthread_mutex_unlock(&load_mutex);
    return m;
}

rldt_status_t rldt_sim_load(const rldt_sim_want_t *want, const char *path, rldt_sim_model_t **out)
{
    *out = NULL;
    pthread_once(&handlers_once, install_handlers);
    if (mj_version() != mjVERSION_HEADER)
        return rldt_error_set(RLDT_ERR, "MuJoCo library %s does not match the headers rldt was built with (%d): rebuild with make",
                              mj_versionString(), mjVERSION_HEADER);
    char file[1024];
    const char *xml = path && *path ? NULL : want->default_xml;
    if (path && *path) {
        snprintf(file, sizeof file, "%s", path);
    } else if (xml) {
        snprintf(file, sizeof file, "%s", want->default_file);
    } else {
#ifdef RLDT_MUJOCO_ASSETS
        const char *assets = RLDT_MUJOCO_ASSETS;
#else
        const char *assets = "";
#endif
        if (!*assets)
            return rldt_error_set(RLDT_ERR_USAGE, "%s: Gymnasium's models were not found when rldt was built (run make deps, then make), "
                                  "or name a model file with env.model=PATH", want->task);
        snprintf(file, sizeof file, "%s/%s", assets, want->default_file);
    }
    struct stat st;
    if (!xml && (stat(file, &st) != 0 || !S_ISREG(st.st_mode)))
        return rldt_error_set(RLDT_ERR_USAGE, "%s: model file %s not found%s", want->task, file,
                              path && *path ? " (env.model)" : " (Gymnasium's models: run make deps)");
    char err[1000] = "";
    mjModel *m = load_xml(file, xml, err, sizeof err);
    if (!m) return rldt_error_set(RLDT_ERR_USAGE, "%s: cannot load model %s: %s", want->task, file, err[0] ? err : "unknown error");
    if (err[0]) rldt_warn("%s: model %s: %s", want->task, file, err);
    rldt_status_t s = check(want, m, file);
    if (s) {
        mj_deleteModel(m);
        return s;
    }
    rldt_sim_model_t *sm = rldt_xcalloc(1, sizeof *sm);
    *sm = (rldt_sim_model_t){.nq = m->nq, .nv = m->nv, .nu = m->nu, .nbody = m->nbody, .timestep = m->opt.timestep, .qpos0 = m->qpos0, .mj = m};
    snprintf(sm->path, sizeof sm->path, "%s", file);
    *out = sm;
    return RLDT_OK;
}

void rldt_sim_free(rldt_sim_model_t *m)
{
    if (!m) return;
    mj_deleteModel((mjModel *)m->mj);
    free(m);
}

// ------------------------------------------------------------------------------------------------
// data and stepping

static void bind(rldt_sim_data_t *d, mjData *md)
{
    *d = (rldt_sim_data_t){.qpos = md->qpos, .qvel = md->qvel, .cfrc_ext = md->cfrc_ext, .xpos = md->xpos, .mj = md};
}

rldt_status_t rldt_sim_data_make(const rldt_sim_model_t *m, rldt_sim_data_t *out)
{
    mjData *md = mj_makeData(m->mj);
    if (!md) return rldt_error_set(RLDT_ERR, "MuJoCo could not allocate the simulation data of %s", m->path);
    bind(out, md);
    return RLDT_OK;
}

void rldt_sim_data_free(rldt_sim_data_t *d)
{
    if (d->mj) mj_deleteData(d->mj);
    *d = (rldt_sim_data_t){0};
}

void rldt_sim_set(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *qpos, const double *qvel)
{
    const mjModel *mm = m->mj;
    mjData *md = d->mj;
    mj_resetData(mm, md);
    memcpy(md->qpos, qpos, (size_t)mm->nq * sizeof *qpos);
    memcpy(md->qvel, qvel, (size_t)mm->nv * sizeof *qvel);
    mj_forward(mm, md);
}

void rldt_sim_forward(const rldt_sim_model_t *m, rldt_sim_data_t *d)
{
    mj_forward(m->mj, d->mj);
    mj_rnePostConstraint(m->mj, d->mj);
}

/* The warnings of MuJoCo's checks of a bad qpos, qvel or qacc. Each check resets the data and then counts
 * its warning (so a count of 1 survives the reset); the counts are cleared before a step and read after it. */
static const int instability[] = {mjWARN_BADQPOS, mjWARN_BADQVEL, mjWARN_BADQACC};

bool rldt_sim_step(const rldt_sim_model_t *m, rldt_sim_data_t *d, const float *action, int frame_skip)
{
    const mjModel *mm = m->mj;
    mjData *md = d->mj;
    for (int w = 0; w < 3; w++) md->warning[instability[w]].number = 0;
    for (int j = 0; j < mm->nu; j++) md->ctrl[j] = (double)action[j];
    for (int k = 0; k < frame_skip; k++) mj_step(mm, md);
    mj_rnePostConstraint(mm, md);
    bool ok = true;
    for (int w = 0; w < 3; w++) ok = ok && md->warning[instability[w]].number == 0;
    for (int i = 0; ok && i < mm->nq; i++) ok = isfinite(md->qpos[i]);
    for (int i = 0; ok && i < mm->nv; i++) ok = isfinite(md->qvel[i]);
    return ok;
}

void rldt_sim_save(const rldt_sim_model_t *m, const rldt_sim_data_t *d, double *out) { mj_getState(m->mj, d->mj, out, STATE_SIG); }

void rldt_sim_restore(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *in) { mj_setState(m->mj, d->mj, in, STATE_SIG); }

void rldt_sim_pose(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *in)
{
    mj_setState(m->mj, d->mj, in, STATE_SIG);
    mj_kinematics(m->mj, d->mj);
    mj_comPos(m->mj, d->mj);
    mj_camlight(m->mj, d->mj);
}

#else /* no MuJoCo in this build */

rldt_status_t rldt_sim_load(const rldt_sim_want_t *want, const char *path, rldt_sim_model_t **out)
{
    *out = NULL;
    return rldt_error_set(RLDT_ERR, "%s: MuJoCo not installed: run make deps (then make)", want->task);
}

void rldt_sim_free(rldt_sim_model_t *m) { (void)m; }

rldt_status_t rldt_sim_data_make(const rldt_sim_model_t *m, rldt_sim_data_t *out)
{
    *out = (rldt_sim_data_t){0};
    return rldt_error_set(RLDT_ERR, "MuJoCo not installed: run make deps (then make)");
}

void rldt_sim_data_free(rldt_sim_data_t *d) { (void)d; }

void rldt_sim_set(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *qpos, const double *qvel) {}

void rldt_sim_forward(const rldt_sim_model_t *m, rldt_sim_data_t *d) {}

bool rldt_sim_step(const rldt_sim_model_t *m, rldt_sim_data_t *d, const float *action, int frame_skip) { return false; }

void rldt_sim_save(const rldt_sim_model_t *m, const rldt_sim_data_t *d, double *out) {}

void rldt_sim_restore(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *in) {}

void rldt_sim_pose(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *in) {}

#endif

// ------------------------------------------------------------------------------------------------
// what every MuJoCo task shares: its env model and its checked step

struct mjData_ *rldt_sim_scene(const rldt_env_model_t *m, rldt_sim_data_t *d, const double *saved, const struct mjModel_ **model)
{
    *model = m->sim->mj;
    rldt_sim_pose(m->sim, d, saved);
    return d->mj;
}

rldt_status_t rldt_sim_task_load(const rldt_sim_want_t *want, const void *task, int frame_skip, const char *path,
                                 rldt_env_model_t **out)
{
    rldt_sim_model_t *sim;
    rldt_status_t st = rldt_sim_load(want, path, &sim);
    if (st) return st;
    rldt_env_model_t *m = rldt_xcalloc(1, sizeof *m);
    *m = (rldt_env_model_t){.task = task, .sim = sim, .dt = sim->timestep * frame_skip};
    *out = m;
    return RLDT_OK;
}

bool rldt_sim_step_from(const rldt_sim_model_t *m, rldt_sim_data_t *d, const double *saved, const float *action, int frame_skip,
                        const char *task)
{
    rldt_sim_restore(m, d, saved);
    if (rldt_sim_step(m, d, action, frame_skip)) return true;
    rldt_warn("%s: the simulation became unstable; the episode ends at its last stable state", task);
    rldt_sim_restore(m, d, saved);
    rldt_sim_forward(m, d);
    return false;
}

void rldt_sim_task_free(rldt_env_model_t *m)
{
    rldt_sim_free(m->sim);
    free(m);
}
