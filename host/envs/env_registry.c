/* env_registry.c — the task table: one row per task, each defined beside its physics in host/envs/; the
 * rows with another model file (env.model), and the rows of Gymnasium envs (env.name=gym:<id>) learned
 * from a worker, both kept for the life of the process. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge.h"
#include "tasks.h"

#define GYM_PREFIX "gym:"

static const rldt_env_spec_t *const tasks[] = {&rldt_env_bandit2d, &rldt_env_pendulum, &rldt_env_reach2d,   &rldt_env_hopper,
                                               &rldt_env_walker2d, &rldt_env_halfcheetah, &rldt_env_ant,      &rldt_env_lift,
                                               &rldt_env_pickplace, &rldt_env_stack,      &rldt_env_stack3};
static const int n_tasks = (int)(sizeof tasks / sizeof tasks[0]);

const rldt_env_spec_t *rldt_env_spec_at(int i) { return i >= 0 && i < n_tasks ? tasks[i] : NULL; }

int rldt_env_count(void) { return n_tasks; }

const rldt_env_spec_t *rldt_env_find(const char *name)
{
    if (name && strncmp(name, GYM_PREFIX, strlen(GYM_PREFIX)) == 0) {
        rldt_error_set(RLDT_ERR_USAGE, "%s is a Gymnasium env: it is not in rldt's task table and has no scripted expert "
                       "(pretrain, finetune, eval and envstep open it from env.name and the other env.* keys)", name);
        return NULL;
    }
    char known[256] = "";
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
    struct variant *next;
} variant_t;

static char *copy_text(const char *s) { return strcpy(rldt_xmalloc(strlen(s) + 1), s); }

static variant_t *variants;
static pthread_mutex_t variants_mutex = PTHREAD_MUTEX_INITIALIZER;

const rldt_env_spec_t *rldt_env_find_model(const char *name, const char *model)
{
    const rldt_env_spec_t *row = rldt_env_find(name);
    if (!row || !model || !*model) return row;
    if (!row->ops->model_load) {
        rldt_error_set(RLDT_ERR_USAGE, "env.model=%s: task %s has no model file (it is not a MuJoCo task)", model, name);
        return NULL;
    }
    pthread_mutex_lock(&variants_mutex);
    variant_t *v = variants;
    while (v && !(v->spec.ops == row->ops && strcmp(v->spec.model, model) == 0)) v = v->next;
    if (!v) {
        v = rldt_xcalloc(1, sizeof *v);
        v->spec = *row;
        v->spec.model = copy_text(model);
        v->next = variants;
        variants = v;
    }
    pthread_mutex_unlock(&variants_mutex);
    return &v->spec;
}

// ------------------------------------------------------------------------------------------------
// Gymnasium envs

static const rldt_env_ops_t gym_ops = {0}; /* no per-env functions: the vector env steps them through the bridge */

static bool same_text(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* A row for gym (id, kwargs, ...) from one worker's spec. */
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
    v->gym = (rldt_gym_t){.id = copy_text(gym->id), .kwargs = copy_text(gym->kwargs), .python = copy_text(gym->python),
                          .obs_keys = copy_text(gym->obs_keys), .workers = gym->workers};
    char summary[320];
    snprintf(summary, sizeof summary, "Gymnasium's %s in worker processes (the bridge)", gym->id);
    v->spec = (rldt_env_spec_t){
        .name = copy_text(name), .summary = copy_text(summary), .obs_dim = s.obs_dim, .act_dim = s.act_dim,
        .max_steps = s.max_steps ? s.max_steps : (int)cfg->env_max_steps,
        .reward_kind = strcmp(cfg->env_reward, "sparse") == 0 ? RLDT_REWARD_SPARSE : RLDT_REWARD_DENSE,
        .success = "info[\"is_success\"] or info[\"success\"] of the step", .obs_key = "state", .ops = &gym_ops, .gym = &v->gym,
    };
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
    const char *id = cfg->env_name + strlen(GYM_PREFIX);
    if (!*id) {
        rldt_error_set(RLDT_ERR_USAGE, "env.name=gym: names no Gymnasium id (example: gym:Pendulum-v1)");
        return NULL;
    }
    rldt_gym_t gym = {.id = id, .kwargs = cfg->env_kwargs, .python = cfg->env_python, .obs_keys = cfg->env_obs_keys, .workers = (int)cfg->env_workers};
    pthread_mutex_lock(&variants_mutex);
    variant_t *v = variants;
    while (v && !(v->spec.gym && strcmp(v->spec.name, cfg->env_name) == 0 && same_text(v->gym.kwargs, gym.kwargs) &&
                  same_text(v->gym.python, gym.python) && same_text(v->gym.obs_keys, gym.obs_keys) && v->gym.workers == gym.workers &&
                  (v->spec.reward_kind == RLDT_REWARD_SPARSE) == (strcmp(cfg->env_reward, "sparse") == 0)))
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
    if (strncmp(cfg->env_name, GYM_PREFIX, strlen(GYM_PREFIX)) == 0) return find_gym(cfg);
    return rldt_env_find_model(cfg->env_name, cfg->env_model);
}
