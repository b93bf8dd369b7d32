/* training.h — fixtures of the end-to-end tests (pretraining, fine-tuning): a temporary run directory per
 * test, expert demos in it, and a small config that writes there. */
#ifndef RLDT_TEST_TRAINING_H
#define RLDT_TEST_TRAINING_H

#include <stdbool.h>

#include "rldt/config.h"

/* The current test's directory (made by training_setup, removed by training_teardown). */
extern char training_dir[256];
/* Criterion .init/.fini: a fresh directory, and log output limited to warnings. */
void training_setup(void);
void training_teardown(void);
/* Collects `demos` scripted-expert demos of `env` (action noise `noise`, one env thread) into
 * <training_dir>/<env>.h5 and returns that path (a static buffer). */
const char *training_collect(const char *env, int demos, double noise, uint64_t seed);
/* Defaults for task `env` reading `data`, writing <training_dir>/<name>/, single-threaded (tests run two
 * at a time on two cores). */
rldt_config_t training_config(const char *env, const char *data, const char *name);

/* Collects `demos` demos of `env`, pretrains a policy of the given width and chunk for `steps` steps on the
 * CPU into <training_dir>/bc/, and returns a config for fine-tuning it (run name "ft", critic 2 x 64, no
 * evaluation iterations). */
rldt_config_t training_pretrained(const char *env, int demos, double noise, int width, int chunk, long steps);
/* A tiny pendulum fine-tune (4 envs x 10 steps, 2 rounds of 4 critic steps, 32-wide networks, P = 4) of a
 * 150-step BC policy: seconds per iteration, for resume, NaN and device tests. */
rldt_config_t training_tiny_pendulum(void);
/* The same tiny fine-tune of task `env` from a policy of this chunk pretrained `steps` steps on `demos` demos. */
rldt_config_t training_tiny(const char *env, int demos, int chunk, long steps);

/* lift_rgb with 16 x 16 images and 40-step episodes: the CLI arguments of the pixel tests. */
#define TRAINING_LIFT_RGB "env.name=lift_rgb env.render.width=16 env.render.height=16 env.max_steps=40"
/* Through the CLI: 3 expert demos of TRAINING_LIFT_RGB into <training_dir>/l.h5 and a 20-step pixel policy
 * (policy.encoder=drq, width 32, chunk 2) pretrained on them into <training_dir>/p/pretrain.ckpt; with
 * `low_dim`, also a low-dim one into <training_dir>/q/. Skips the test where lift_rgb cannot render. */
void training_lift_rgb_policies(bool low_dim);

#endif
