/* env_registry.c — the task table: one row per task, each defined beside its physics in host/envs/. */
#include <string.h>

#include "tasks.h"

static const rldt_env_spec_t *const tasks[] = {&rldt_env_bandit2d, &rldt_env_pendulum, &rldt_env_reach2d};
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
