/* helpers.c — shared test utilities (see helpers.h). */
#include "helpers.h"

float *test_random_array(size_t n, float lo, float hi, uint64_t stream)
{
    float *x = malloc(sizeof(float) * (n ? n : 1));
    rldt_rng_t r;
    rldt_rng_init(&r, 1, stream);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rldt_rng_uniform(&r);
    return x;
}

double test_rel_err(double a, double b, double floor)
{
    double s = fmax(fmax(fabs(a), fabs(b)), floor);
    return fabs(a - b) / s;
}

double test_max_rel_err(const float *a, const float *b, size_t n, double floor)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = test_rel_err(a[i], b[i], floor);
        if (!(e <= m)) m = e; /* NaN propagates as the maximum */
    }
    return m;
}
