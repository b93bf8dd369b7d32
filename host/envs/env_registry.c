/* env_registry.c — the task table: one row per task, each defined beside its physics in host/envs/; the
 * rows with another model file (env.model), and the rows of Gymnasium envs (env.name=gym:<id>, and
 * robosuite's tasks, env.name=robosuite:<Task>) learned from a worker, both kept for the life of the process. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge.h"
#include "tasks.h"

#define GYM_PREFIX "gym:"

static bool has_prefix(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Names of envs stepped by the bridge's workers. */
static bool is_worker_env(const char *name) { return has_prefix(name, GYM_PREFIX) || has_prefix(name, RLDT_BRIDGE_ROBOSUITE); }

static const rldt_env_spec_t *const base_tasks[] = {&rldt_env_bandit2d, &rldt_env_pendulum, &rldt_env_reach2d, &rldt_env_hopper,
                                                    &rldt_env_walker2d, &rldt_env_halfcheetah, &rldt_env_ant,      &rldt_env_lift,
                                                    &rldt_env_pickplace, &rldt_env_stack,      &rldt_env_stack3,
                                                    &rldt_env_bins2};
#define N_BASE (sizeof base_tasks / sizeof base_tasks[0])

/* Pixel variants, one line each: <task>_rgb is the MuJoCo task whose observations also carry an RGB image
 * (RLDT_RENDER_DEFAULT_SIZE square) rendered from a camera of its model. */
static const struct {
    const rldt_env_spec_t *base;
    const char *camera;
} rgb_tasks[] = {
    {&rldt_env_hopper, "track"},
    {&rldt_env_walker2d, "track"},
    {&rldt_env_halfcheetah, "track"},
    {&rldt_env_ant, "track"},
    {&rldt_env_lift, "agentview"},
    {&rldt_env_pickplace, "agentview"},
    {&rldt_env_stack, "agentview"},
    {&rldt_env_stack3, "agentview"},
    {&rldt_env_bins2, "agentview"},
};
#define N_RGB (sizeof rgb_tasks / sizeof rgb_tasks[0])

static const rldt_env_spec_t *tasks[N_BASE + N_RGB];
static const int n_tasks = (int)(N_BASE + N_RGB);
static pthread_once_t tasks_once = PTHREAD_ONCE_INIT;

static void build_tasks(void)
{
    static rldt_env_spec_t rgb[N_RGB];
    static char names[N_RGB][64], summaries[N_RGB][320];
    for (size_t i = 0; i < N_BASE; i++) tasks[i] = base_tasks[i];
    for (size_t i = 0; i < N_RGB; i++) {
        const rldt_env_spec_t *b = rgb_tasks[i].base;
        snprintf(names[i], sizeof names[i], "%s_rgb", b->name);
        snprintf(summaries[i], sizeof summaries[i], "%s, plus %dx%d RGB images from camera '%s'", b->summary, RLDT_RENDER_DEFAULT_SIZE,
                 RLDT_RENDER_DEFAULT_SIZE, rgb_tasks[i].camera);
        rgb[i] = *b;
        rgb[i].name = names[i];
        rgb[i].summary = summaries[i];
        rgb[i].image_h = rgb[i].image_w = RLDT_RENDER_DEFAULT_SIZE;
        rgb[i].image_c = 3;
        rgb[i].camera = rgb_tasks[i].camera;
        tasks[N_BASE + i] = &rgb[i];
    }
}

const rldt_env_spec_t *rldt_env_spec_at(int i)
{
    pthread_once(&tasks_once, build_tasks);
    return i >= 0 && i < n_tasks ? tasks[i] : NULL;
}

int rldt_env_count(void) { return n_tasks; }

const rldt_env_spec_t *rldt_env_find(const char *name)
{
    if (name && is_worker_env(name)) {
        rldt_error_set(RLDT_ERR_USAGE, "%s is a Gymnasium env: it is not in rldt's task table (commands open it from env.name "
                       "and the other env.* keys)", name);
        return NULL;
    }
    pthread_once(&tasks_once, build_tasks);
    char known[512] = "";
    for (int i = 0; i < n_tasks; i++) {
        if (name && strcmp(tasks[i]->name, name) == 0) return tasks[i];
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, tasks[i]->name, sizeof known - strlen(known) - 1);
    }
    rldt_error_set(RLDT_ERR_USAGE, "unknown env '%s' (known: %s)", name ? name : "", known);
    return NULL;
}

/* Rows with a model file or of a Gymnasium env, appended and never freed (a list: a process sees a handful). */
typedef struct variant {
    rldt_env_spec_t spec;
    rldt_gym_t gym; /* Gymnasium envs: spec.gym points here; its strings are owned */
    bool sparse;    /* Gymnasium envs: env.reward was sparse (the rows are looked up by their env.* keys) */
    struct variant *next;
} variant_t;

static char *copy_text(const char *s) { return strcpy(rldt_xmalloc(strlen(s) + 1), s); }

static bool same_text(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

static variant_t *variants;
static pthread_mutex_t variants_mutex = PTHREAD_MUTEX_INITIALIZER;

/* The row `row` with another model file and image observations of another size or camera (each NULL, 0
 * or "" keeps the row's own), kept in the variant list; under variants_mutex. */
static const rldt_env_spec_t *variant_locked(const rldt_env_spec_t *row, const char *model, int w, int h, const char *camera)
{
    model = model && *model ? model : row->model;
    w = w ? w : row->image_w, h = h ? h : row->image_h;
    camera = camera && *camera ? camera : row->camera;
    if (same_text(model, row->model) && w == row->image_w && h == row->image_h && same_text(camera, row->camera)) return row;
    variant_t *v = variants;
    while (v && !(!v->spec.gym && strcmp(v->spec.name, row->name) == 0 && same_text(v->spec.model, model) && v->spec.image_w == w &&
                  v->spec.image_h == h && same_text(v->spec.camera, camera)))
        v = v->next;
    if (!v) {
        v = rldt_xcalloc(1, sizeof *v);
        v->spec = *row;
        v->spec.model = model ? copy_text(model) : NULL;
        v->spec.image_w = w, v->spec.image_h = h;
        v->spec.camera = camera ? copy_text(camera) : NULL;
        v->next = variants;
        variants = v;
    }
    return &v->spec;
}

static const rldt_env_spec_t *variant(const char *name, const char *model, int w, int h, const char *camera)
{
    const rldt_env_spec_t *row = rldt_env_find(name);
    if (!row) return NULL;
    if (model && *model && !row->ops->model_load) {
        rldt_error_set(RLDT_ERR_USAGE, "env.model=%s: task %s has no model file (it is not a MuJoCo task)", model, name);
        return NULL;
    }
    if ((w || h || (camera && *camera)) && !row->image_h) {
        rldt_error_set(RLDT_ERR_USAGE, "env.render.*: task %s has no image observations (the tasks with images end in _rgb)", name);
        return NULL;
    }
    pthread_mutex_lock(&variants_mutex);
    const rldt_env_spec_t *sp = variant_locked(row, model, w, h, camera);
    pthread_mutex_unlock(&variants_mutex);
    return sp;
}

const rldt_env_spec_t *rldt_env_find_model(const char *name, const char *model) { return variant(name, model, 0, 0, NULL); }

// ------------------------------------------------------------------------------------------------
// Gymnasium envs

static const rldt_env_ops_t gym_ops = {0}; /* no per-env functions: the vector env steps them through the bridge */

static bool cfg_sparse(const rldt_config_t *cfg) { return strcmp(cfg->env_reward, "sparse") == 0; }

/* A row for gym (id, kwargs, ...) from one worker's spec, with what its info adds: a scripted expert, the
 * reward kind (else env.reward's), robomimic's env_args, the image key (the row's `camera`). */
static rldt_status_t gym_row(const char *name, const rldt_gym_t *gym, const rldt_config_t *cfg, variant_t *v)
{
    rldt_bridge_t *b;
    rldt_bridge_spec_t s;
    rldt_gym_t one = *gym;
    one.workers = 1;
    rldt_status_t st = rldt_bridge_open(&b, name, &one, 1, 0, &s);
    if (st) return st;
    rldt_bridge_close(b);
    if (s.max_steps == 0 && cfg->env_max_steps == 0)
        return rldt_error_set(RLDT_ERR_USAGE, "%s has no step limit (its spec's max_episode_steps): set env.max_steps", name);
    cJSON *info = cJSON_Parse(s.info);
    if (!cJSON_IsObject(info)) {
        cJSON_Delete(info);
        return rldt_error_set(RLDT_ERR, "%s: the Gymnasium worker's info is not a JSON object: %.200s", name, s.info);
    }
    const cJSON *sparse = cJSON_GetObjectItemCaseSensitive(info, "sparse");
    const cJSON *robomimic = cJSON_GetObjectItemCaseSensitive(info, "robomimic");
    const char *image_key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "image_key"));
    bool robosuite = has_prefix(name, RLDT_BRIDGE_ROBOSUITE);
    v->gym = (rldt_gym_t){.id = copy_text(gym->id), .kwargs = copy_text(gym->kwargs), .python = copy_text(gym->python),
                          .obs_keys = copy_text(gym->obs_keys), .workers = gym->workers};
    v->sparse = cfg_sparse(cfg);
    char summary[320];
    snprintf(summary, sizeof summary, "%s's %s in worker processes (the bridge)", robosuite ? "robosuite" : "Gymnasium",
             robosuite ? name + strlen(RLDT_BRIDGE_ROBOSUITE) : gym->id);
    v->spec = (rldt_env_spec_t){
        .name = copy_text(name), .summary = copy_text(summary), .obs_dim = s.obs_dim, .act_dim = s.act_dim,
        .max_steps = s.max_steps ? s.max_steps : (int)cfg->env_max_steps,
        .image_h = s.image_h, .image_w = s.image_w, .image_c = s.image_c, .camera = image_key ? copy_text(image_key) : NULL,
        .reward_kind = (cJSON_IsBool(sparse) ? cJSON_IsTrue(sparse) : v->sparse) ? RLDT_REWARD_SPARSE : RLDT_REWARD_DENSE,
        .success = robosuite ? "robosuite's env._check_success(), which ends the episode"
                             : "info[\"is_success\"] or info[\"success\"] of the step",
        .obs_key = "state", .ops = &gym_ops, .gym = &v->gym,
        .worker_expert = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(info, "expert")),
        .robomimic_env = cJSON_IsObject(robomimic) ? cJSON_PrintUnformatted(robomimic) : NULL,
    };
    cJSON_Delete(info);
    memcpy(v->spec.act_low, s.act_low, sizeof s.act_low);
    memcpy(v->spec.act_high, s.act_high, sizeof s.act_high);
    return RLDT_OK;
}

static const rldt_env_spec_t *find_gym(const rldt_config_t *cfg)
{
    if (*cfg->env_model) {
        rldt_error_set(RLDT_ERR_USAGE, "env.model=%s: %s is a Gymnasium env (give its model through env.kwargs)", cfg->env_model, cfg->env_name);
        return NULL;
    }
    bool robosuite = has_prefix(cfg->env_name, RLDT_BRIDGE_ROBOSUITE);
    const char *id = robosuite ? cfg->env_name : cfg->env_name + strlen(GYM_PREFIX); /* the worker makes robosuite: ids */
    if (robosuite ? !id[strlen(RLDT_BRIDGE_ROBOSUITE)] : !*id) {
        rldt_error_set(RLDT_ERR_USAGE, robosuite ? "env.name=robosuite: names no task (example: robosuite:Lift)"
                                                 : "env.name=gym: names no Gymnasium id (example: gym:Pendulum-v1)");
        return NULL;
    }
    rldt_gym_t gym = {.id = id, .kwargs = cfg->env_kwargs, .python = cfg->env_python, .obs_keys = cfg->env_obs_keys, .workers = (int)cfg->env_workers};
    pthread_mutex_lock(&variants_mutex);
    variant_t *v = variants;
    while (v && !(v->spec.gym && strcmp(v->spec.name, cfg->env_name) == 0 && same_text(v->gym.kwargs, gym.kwargs) &&
                  same_text(v->gym.python, gym.python) && same_text(v->gym.obs_keys, gym.obs_keys) && v->gym.workers == gym.workers &&
                  v->sparse == cfg_sparse(cfg)))
        v = v->next;
    pthread_mutex_unlock(&variants_mutex);
    if (v) return &v->spec;
    /* the worker starts outside the lock: it takes seconds */
    v = rldt_xcalloc(1, sizeof *v);
    if (gym_row(cfg->env_name, &gym, cfg, v)) {
        free(v);
        return NULL;
    }
    pthread_mutex_lock(&variants_mutex);
    v->next = variants;
    variants = v;
    pthread_mutex_unlock(&variants_mutex);
    return &v->spec;
}

const rldt_env_spec_t *rldt_env_from_config(const rldt_config_t *cfg)
{
    if (is_worker_env(cfg->env_name)) return find_gym(cfg);
    return variant(cfg->env_name, cfg->env_model, (int)cfg->env_render_width, (int)cfg->env_render_height, cfg->env_render_camera);
}
