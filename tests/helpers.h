/* helpers.h — small shared utilities for the tests: random arrays and float comparisons. */
#ifndef RLDT_TEST_HELPERS_H
#define RLDT_TEST_HELPERS_H

#include <math.h>
#include <stdlib.h>

#include "rldt/env.h"
#include "rldt/rng.h"

/* The Python the tests run their helper scripts with: Debian's, which has h5py and numpy. */
#define PYTHON "/usr/bin/python3"

/* A malloc'ed array of n values uniform in [lo, hi) from stream `stream` of seed 1. */
float *test_random_array(size_t n, float lo, float hi, uint64_t stream);
/* Relative error |a - b| / max(|a|, |b|, floor). */
double test_rel_err(double a, double b, double floor);
/* Largest relative error over two arrays (floor as above). */
double test_max_rel_err(const float *a, const float *b, size_t n, double floor);

/* stdout and stderr of the last test_run. */
extern char test_out[16384], test_err[16384];
/* Runs a shell command line, captures its stdout/stderr into test_out/test_err, returns the exit status. */
int test_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The CLI binary under test ($RLDT_BIN, set by `make test`); skips the test when it is not set. */
const char *test_bin(void);
/* A per-process path /tmp/rldt_test_<pid>_<tag> (a small ring of static buffers). */
char *test_temp_path(const char *tag);
/* A fresh temporary directory into buf, and its removal. */
void test_tmpdir(char *buf, size_t len);
void test_rmtree(const char *dir);

/* Checks the safetensors export `file` of checkpoint `ckpt`: tests/check_safetensors.py, from the file alone,
 * must reproduce the velocities rldt's policy (and, for a pixel policy, its encoder) computes from the checkpoint
 * on random inputs (cases written into dir). Fails the test otherwise. */
void test_export_check(const char *ckpt, const char *file, const char *dir);

/* The task table's row `name`; fails the test when there is none. */
const rldt_env_spec_t *test_env(const char *name);
/* Skips the test when this build has no MuJoCo (after checking that `task` says how to get it) or, for a
 * task on Gymnasium's models, no venv holding them; fails it on any other error loading the task's model. */
void test_need_mujoco(const char *task);
/* Skips the test, naming what is missing, unless the images of `task` (a *_rgb task) can be made and
 * rendered here (MuJoCo, its models, an OSMesa or EGL library). */
void test_need_rendering(const char *task);

#endif
