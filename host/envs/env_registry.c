/* env_registry.c — the task table: one row per task, each defined beside its physics in host/envs/; and the
 * rows with another model file (env.model), kept for the life of the process. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tasks.h"

static const rldt_env_spec_t *const tasks[] = {&rldt_env_bandit2d, &rldt_env_pendulum, &rldt_env_reach2d, &rldt_env_hopper,
                                               &rldt_env_walker2d, &rldt_env_halfcheetah, &rldt_env_ant};
static const int n_tasks = (int)(sizeof tasks / sizeof tasks[0]);

const rldt_env_spec_t *rldt_env_spec_at(int i) { return i >= 0 && i < n_tasks ? tasks[i] : NULL; }

int rldt_env_count(void) { return n_tasks; }

const rldt_env_spec_t *rldt_env_find(const char *name)
{
    char known[256] = "";
    for (int i = 0; i < n_tasks; i++) {
        if (name && strcmp(tasks[i]->name, name) == 0) return tasks[i];
        if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, tasks[i]->name, sizeof known - strlen(known) - 1);
    }
    rldt_error_set(RLDT_ERR_USAGE, "unknown env '%s' (known: %s)", name ? name : "", known);
    return NULL;
}

/* Rows with a model file, appended and never freed (a list: a process sees a handful). */
typedef struct variant {
    rldt_env_spec_t spec;
    struct variant *next;
} variant_t;

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
        char *copy = rldt_xmalloc(strlen(model) + 1);
        v->spec.model = strcpy(copy, model);
        v->next = variants;
        variants = v;
    }
    pthread_mutex_unlock(&variants_mutex);
    return &v->spec;
}
