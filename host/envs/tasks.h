/* tasks.h — the spec rows defined by the task files in host/envs/, gathered by host/envs/env_registry.c. */
#ifndef RLDT_ENVS_TASKS_H
#define RLDT_ENVS_TASKS_H

#include "rldt/env.h"

extern const rldt_env_spec_t rldt_env_bandit2d;
extern const rldt_env_spec_t rldt_env_pendulum;
extern const rldt_env_spec_t rldt_env_reach2d;

#endif
