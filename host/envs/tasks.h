/* tasks.h — the spec rows defined by the task files in host/envs/, gathered by host/envs/env_registry.c. */
#ifndef RLDT_ENVS_TASKS_H
#define RLDT_ENVS_TASKS_H

#include "rldt/env.h"

extern const rldt_env_spec_t rldt_env_bandit2d;
extern const rldt_env_spec_t rldt_env_pendulum;
extern const rldt_env_spec_t rldt_env_reach2d;
/* MuJoCo locomotion (host/envs/mujoco/locomotion.c) */
extern const rldt_env_spec_t rldt_env_hopper;
extern const rldt_env_spec_t rldt_env_walker2d;
extern const rldt_env_spec_t rldt_env_halfcheetah;
extern const rldt_env_spec_t rldt_env_ant;
/* MuJoCo manipulation (host/envs/mujoco/manip.c) */
extern const rldt_env_spec_t rldt_env_lift;
extern const rldt_env_spec_t rldt_env_pickplace;
extern const rldt_env_spec_t rldt_env_stack;
extern const rldt_env_spec_t rldt_env_stack3;
extern const rldt_env_spec_t rldt_env_bins2;

#endif
