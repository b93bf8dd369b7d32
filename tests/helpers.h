/* helpers.h — small shared utilities for the tests: random arrays and float comparisons. */
#ifndef RLDT_TEST_HELPERS_H
#define RLDT_TEST_HELPERS_H

#include <math.h>
#include <stdlib.h>

#include "rldt/rng.h"

/* A malloc'ed array of n values uniform in [lo, hi) from stream `stream` of seed 1. */
float *test_random_array(size_t n, float lo, float hi, uint64_t stream);
/* Relative error |a - b| / max(|a|, |b|, floor). */
double test_rel_err(double a, double b, double floor);
/* Largest relative error over two arrays (floor as above). */
double test_max_rel_err(const float *a, const float *b, size_t n, double floor);

#endif
