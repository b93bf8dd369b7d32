/* test_transport.c — the RLDT math (rldt/transport.h) against direct double-precision implementations
 * written out here from RLDT.md §3–5: the SVGD field (both median parities, the lower-median convention,
 * bandwidth clamping, the repulsion's sign and its accuracy far from the origin, α clipping), the actor
 * loss gradient (closed form and finite differences), TD(λ) targets (one-step, Monte Carlo, the forward
 * view and a hand-computed case with a termination and a truncation) and the dense-reward scaler. */
#include <criterion/criterion.h>
#include <float.h>
#include <string.h>

#include "helpers.h"
#include "rldt/transport.h"

// ---------------------------------------------------------------------------------------------------
// direct references (double)

static int cmp_double(const void *p, const void *q)
{
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* φ, h and α exactly as RLDT.md §3 writes them, in double, from the same float inputs. */
static void field_reference(double *phi, double *h, double *alpha, const float *x, const float *a, const float *g,
                            int B, int Q, int P, int D, double tau)
{
    double d2[RLDT_MAX_PARTICLES], sorted[RLDT_MAX_PARTICLES];
    for (int b = 0; b < B; b++) {
        const float *ab = a + (size_t)b * P * D, *gb = g + (size_t)b * P * D;
        double norms = 0.0;
        for (int j = 0; j < P; j++) {
            double sq = 0.0;
            for (int d = 0; d < D; d++) sq += (double)gb[j * D + d] * gb[j * D + d];
            norms += sqrt(sq);
        }
        double al = tau * fmin(norms / P, 1e5);
        alpha[b] = al;
        for (int i = 0; i < Q; i++) {
            const float *xi = x + ((size_t)b * Q + i) * D;
            for (int j = 0; j < P; j++) {
                double sq = 0.0;
                for (int d = 0; d < D; d++) sq += ((double)xi[d] - ab[j * D + d]) * ((double)xi[d] - ab[j * D + d]);
                d2[j] = sorted[j] = sq;
            }
            qsort(sorted, (size_t)P, sizeof(double), cmp_double);
            double hi = fmax(sorted[(P - 1) / 2] / (2.0 * log(P + 1.0)), 1e-8);
            h[(size_t)b * Q + i] = hi;
            for (int d = 0; d < D; d++) {
                double s = 0.0;
                for (int j = 0; j < P; j++) {
                    double k = exp(-d2[j] / (2.0 * hi));
                    s += k * (gb[j * D + d] + al * ((double)xi[d] - ab[j * D + d]) / hi);
                }
                phi[((size_t)b * Q + i) * D + d] = s / P;
            }
        }
    }
}

/* Runs the field and its reference and checks φ (relative to the largest |φ|), h and α. */
static void check_field(const float *x, const float *a, const float *g, int B, int Q, int P, int D, float tau,
                        double tol)
{
    size_t nphi = (size_t)B * Q * D, nh = (size_t)B * Q;
    float *phi = malloc(sizeof(float) * nphi), *h = malloc(sizeof(float) * nh), *alpha = malloc(sizeof(float) * B);
    double *rphi = malloc(sizeof(double) * nphi), *rh = malloc(sizeof(double) * nh), *ralpha = malloc(sizeof(double) * B);
    rldt_svgd_field_cpu(phi, h, alpha, x, a, g, B, Q, P, D, tau);
    field_reference(rphi, rh, ralpha, x, a, g, B, Q, P, D, tau);
    double scale = 0.0;
    for (size_t i = 0; i < nphi; i++) scale = fmax(scale, fabs(rphi[i]));
    for (size_t i = 0; i < nphi; i++)
        cr_assert_lt(test_rel_err(phi[i], rphi[i], 1e-3 * scale), tol, "B=%d Q=%d P=%d D=%d tau=%g phi[%zu]: %g vs %g",
                     B, Q, P, D, tau, i, phi[i], rphi[i]);
    for (size_t i = 0; i < nh; i++)
        cr_assert_lt(test_rel_err(h[i], rh[i], 0.0), 1e-5, "P=%d D=%d h[%zu]: %g vs %g", P, D, i, h[i], rh[i]);
    for (int b = 0; b < B; b++)
        cr_assert_lt(test_rel_err(alpha[b], ralpha[b], 0.0), 1e-5, "alpha[%d]: %g vs %g", b, alpha[b], ralpha[b]);
    free(phi), free(h), free(alpha), free(rphi), free(rh), free(ralpha);
}

/* Random particles and gradients, and one query per particle near it (as the expected targets a†_k sit
 * near their chain's final action); Q = P. */
static void check_field_random(int B, int P, int D, float tau, uint64_t stream)
{
    size_t n = (size_t)B * P * D;
    float *a = test_random_array(n, -1, 1, stream), *g = test_random_array(n, -1, 1, stream + 1);
    float *x = test_random_array(n, -0.3f, 0.3f, stream + 2);
    for (size_t i = 0; i < n; i++) x[i] += a[i];
    check_field(x, a, g, B, P, P, D, tau, 1e-4);
    free(a), free(g), free(x);
}

// ---------------------------------------------------------------------------------------------------
// SVGD field

Test(transport, field_even_particles_matches_direct)
{
    static const int shapes[][2] = {{1, 1}, {3, 4}, {2, 16}, {4, 28}}; /* {B, D} */
    for (int s = 0; s < 4; s++) {
        check_field_random(shapes[s][0], 8, shapes[s][1], 0.001f, 3000 + 10 * (uint64_t)s);
        check_field_random(shapes[s][0], 8, shapes[s][1], 0.5f, 3100 + 10 * (uint64_t)s); /* repulsion matters */
    }
}

Test(transport, field_odd_particles_matches_direct)
{
    static const int shapes[][2] = {{1, 2}, {5, 3}, {2, 12}}; /* {B, D} */
    for (int s = 0; s < 3; s++) {
        check_field_random(shapes[s][0], 5, shapes[s][1], 0.001f, 3200 + 10 * (uint64_t)s);
        check_field_random(shapes[s][0], 5, shapes[s][1], 0.5f, 3300 + 10 * (uint64_t)s);
    }
}

Test(transport, field_other_query_counts_and_particle_limits)
{
    static const int shapes[][4] = {{2, 3, 6, 5}, {3, 2, 1, 4}, {1, 4, RLDT_MAX_PARTICLES, 7}}; /* {B, Q, P, D} */
    for (int s = 0; s < 3; s++) {
        int B = shapes[s][0], Q = shapes[s][1], P = shapes[s][2], D = shapes[s][3];
        uint64_t st = 3400 + 10 * (uint64_t)s;
        float *a = test_random_array((size_t)B * P * D, -1, 1, st), *g = test_random_array((size_t)B * P * D, -2, 2, st + 1);
        float *x = test_random_array((size_t)B * Q * D, -1.5f, 1.5f, st + 2);
        check_field(x, a, g, B, Q, P, D, 0.2f, 1e-4);
        free(a), free(g), free(x);
    }
}

Test(transport, lower_median_convention)
{
    float even[8] = {5, 1, 7, 3, 8, 2, 6, 4}, odd[5] = {9, 2, 7, 4, 5}, two[2] = {3, 1}, one[1] = {42};
    cr_assert_eq(rldt_svgd_lower_median(even, 8), 4.0f); /* 4th smallest of 8, not 5 nor 4.5 */
    for (int i = 0; i < 8; i++) cr_assert_eq(even[i], (float)(i + 1), "sorted in place");
    cr_assert_eq(rldt_svgd_lower_median(odd, 5), 5.0f);
    cr_assert_eq(rldt_svgd_lower_median(two, 2), 1.0f);
    cr_assert_eq(rldt_svgd_lower_median(one, 1), 42.0f);

    /* D = 1, query at 0, particles at ±1..±8 in shuffled order: squared distances 1, 4, ..., 64. The lower
     * median of 8 is 16 (upper 25, midpoint 20.5). */
    float a[8] = {-5, 3, -8, 1, -6, 4, -2, 7}, g[8] = {0}, x[1] = {0};
    float phi[1], h[1], alpha[1];
    rldt_svgd_field_cpu(phi, h, alpha, x, a, g, 1, 1, 8, 1, 0.001f);
    cr_assert_eq(h[0], rldt_svgd_bandwidth(16.0f, 8));
    cr_assert_lt(test_rel_err(h[0], 16.0 / (2.0 * log(9.0)), 0.0), 1e-6);
    cr_assert_gt(test_rel_err(h[0], 25.0 / (2.0 * log(9.0)), 0.0), 0.3);
    /* odd P = 5 with the query's own particle included: distances 0, 1, 4, 9, 16 → median 4. */
    float a5[5] = {0, -2, 1, 4, -3}, g5[5] = {0};
    rldt_svgd_field_cpu(phi, h, alpha, x, a5, g5, 1, 1, 5, 1, 0.001f);
    cr_assert_eq(h[0], rldt_svgd_bandwidth(4.0f, 5));
}

Test(transport, bandwidth_clamped_when_particles_collapse)
{
    enum { P = 8, D = 3 };
    float c[D] = {0.7f, -1.2f, 3.5f}, a[P * D], x[P * D], phi[P * D], h[P], alpha[1];
    float *g = test_random_array(P * D, -1, 1, 3500);
    for (int j = 0; j < P; j++) memcpy(a + j * D, c, sizeof c), memcpy(x + j * D, c, sizeof c);
    rldt_svgd_field_cpu(phi, h, alpha, x, a, g, 1, P, P, D, 0.5f);
    for (int i = 0; i < P; i++) {
        cr_assert_eq(h[i], RLDT_SVGD_MIN_BANDWIDTH);
        for (int d = 0; d < D; d++) {
            double mean_g = 0.0; /* every kernel weight is 1 and every repulsion vector 0 */
            for (int j = 0; j < P; j++) mean_g += g[j * D + d];
            mean_g /= P;
            cr_assert(isfinite(phi[i * D + d]));
            cr_assert_lt(test_rel_err(phi[i * D + d], mean_g, 1e-6), 1e-6, "%g vs %g", phi[i * D + d], mean_g);
        }
    }
    /* nearly collapsed (spread 1e-5, squared distances ~1e-10 < the clamp): finite and as the reference */
    float *jitter = test_random_array(P * D, -1e-5f, 1e-5f, 3501);
    for (int i = 0; i < P * D; i++) a[i] += jitter[i];
    rldt_svgd_field_cpu(phi, h, alpha, x, a, g, 1, P, P, D, 0.5f);
    for (int i = 0; i < P; i++) cr_assert_eq(h[i], RLDT_SVGD_MIN_BANDWIDTH);
    for (int i = 0; i < P * D; i++) cr_assert(isfinite(phi[i]));
    check_field(x, a, g, 1, P, P, D, 0.5f, 1e-4);
    free(g), free(jitter);
}

Test(transport, repulsion_pushes_away_from_particles)
{
    /* g = 0 leaves φ(x) = (α/(P h))·Σ_j k_j (x − a_j) = (α Σk/(P h))·(x − ā), with ā the kernel-weighted mean
     * of the particles: φ points from their mass toward (and past) x. The state's own α would be 0 with
     * g = 0, so the query helper gets α = 0.3 directly. */
    enum { P = 8, D = 2, TRIALS = 20 };
    float g[P * D] = {0}, phi[D], x[D];
    for (int trial = 0; trial < TRIALS; trial++) {
        float *a = test_random_array(P * D, -0.5f, 0.5f, 3600 + (uint64_t)trial);
        float *off = test_random_array(D, -1, 1, 3700 + (uint64_t)trial);
        for (int d = 0; d < D; d++) x[d] = a[d] + (trial % 2 ? off[d] : 0.0f); /* odd: the query is particle 0 */
        float h = rldt_svgd_query(phi, x, a, g, 0.3f, P, D);
        double away[D] = {0}, dot = 0.0, nphi = 0.0, naway = 0.0;
        for (int j = 0; j < P; j++) {
            double sq = 0.0;
            for (int d = 0; d < D; d++) sq += ((double)x[d] - a[j * D + d]) * ((double)x[d] - a[j * D + d]);
            for (int d = 0; d < D; d++) away[d] += exp(-sq / (2.0 * h)) * ((double)x[d] - a[j * D + d]);
        }
        for (int d = 0; d < D; d++) dot += phi[d] * away[d], nphi += (double)phi[d] * phi[d], naway += away[d] * away[d];
        cr_assert_gt(dot / sqrt(nphi * naway), 0.9999, "trial %d: cos(φ, x − ā) = %g", trial, dot / sqrt(nphi * naway));
        free(a), free(off);
    }
    /* a cloud symmetric about the x axis, query to the right of all of it → φ along +x only */
    float cloud[P * D] = {1, 1, 1, -1, -1, 1, -1, -1, 2, 2, 2, -2, -2, 2, -2, -2}, xq[D] = {3.0f, 0.0f};
    rldt_svgd_query(phi, xq, cloud, g, 0.3f, P, D);
    cr_assert_gt(phi[0], 0.0f);
    cr_assert_lt(fabsf(phi[1]), 1e-6f * phi[0]);
}

Test(transport, repulsion_accurate_far_from_origin)
{
    /* Particles collapsed onto the float grid around (1000, −1000), at most one ulp apart per coordinate, and
     * each query one ulp to the right of its particle: squared distances <= 5 ulp² ~ 2e-8 clamp h, kernel
     * weights are 0.4..1 and the repulsion vectors are ~1e-4, which x·Σk − Σk·a would lose entirely (Σk·a
     * ~ 8000 carries float rounding ~1e-3). */
    enum { P = 8, D = 2 };
    const float ulp = 1.0f / 16384.0f; /* spacing of floats in [512, 1024) */
    float a[P * D], x[P * D];
    float *g = test_random_array(P * D, -1, 1, 3800);
    for (int j = 0; j < P; j++) {
        a[j * D] = 1000.0f + (float)(j % 2) * ulp;
        a[j * D + 1] = -1000.0f - (float)((j / 2) % 2) * ulp;
        x[j * D] = a[j * D] + ulp;
        x[j * D + 1] = a[j * D + 1];
    }
    float phi[P * D], h[P], alpha[1];
    rldt_svgd_field_cpu(phi, h, alpha, x, a, g, 1, P, P, D, 0.5f);
    for (int i = 0; i < P; i++) cr_assert_eq(h[i], RLDT_SVGD_MIN_BANDWIDTH);
    check_field(x, a, g, 1, P, P, D, 0.5f, 1e-4);
    free(g);
}

Test(transport, alpha_clipped)
{
    enum { P = 4, D = 3 };
    float g[P * D];
    for (int j = 0; j < P; j++)
        for (int d = 0; d < D; d++) g[j * D + d] = d == 0 ? 3e5f * (float)(j + 1) : 0.0f; /* norms 3e5..1.2e6 */
    cr_assert_eq(rldt_svgd_alpha(g, P, D, 0.001f), 0.001f * 1e5f);
    float small[2 * 2] = {3, 4, 0, 1}; /* norms 5 and 1: mean 3, below the cap */
    cr_assert_float_eq(rldt_svgd_alpha(small, 2, 2, 0.5f), 1.5f, 1e-6);
    float mixed[2] = {1.5e5f, 1e4f}; /* D = 1: mean 8e4 passes, even though one norm exceeds the cap */
    cr_assert_float_eq(rldt_svgd_alpha(mixed, 2, 1, 1.0f), 8e4f, 1e-1);

    /* the clipped α enters the field: huge gradients, random particles */
    float *a = test_random_array(P * D, -1, 1, 3900), *x = test_random_array(P * D, -1, 1, 3901);
    float phi[P * D], h[P], alpha[1];
    rldt_svgd_field_cpu(phi, h, alpha, x, a, g, 1, P, P, D, 0.001f);
    cr_assert_eq(alpha[0], 0.001f * 1e5f);
    check_field(x, a, g, 1, P, P, D, 0.001f, 1e-4);
    free(a), free(x);
}

// ---------------------------------------------------------------------------------------------------
// actor loss

/* L_transport and L_consist in double for velocities v (double). */
static void actor_loss_reference(double *lt, double *lc, const double *v, const float *phi, const float *a,
                                 const float *xk, const float *t, int N, int D, int K, double c)
{
    *lt = *lc = 0.0;
    for (int n = 0; n < N; n++) {
        double omt = 1.0 - t[n], dot = 0.0, sq = 0.0;
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            dot += v[i] * phi[i] / omt;
            double r = v[i] - ((double)a[i] - xk[i]) / omt;
            sq += r * r;
        }
        *lt += -dot / K;
        *lc += c / ((double)K * K) * sq;
    }
    *lt /= N;
    *lc /= N;
}

typedef struct {
    int N, D, K;
    float *v, *phi, *a, *xk, *t;
} actor_case_t;

static actor_case_t actor_case(int N, int D, int K, uint64_t stream)
{
    actor_case_t c = {N, D, K, NULL, NULL, NULL, NULL, NULL};
    size_t n = (size_t)N * D;
    c.v = test_random_array(n, -2, 2, stream);
    c.phi = test_random_array(n, -1, 1, stream + 1);
    c.a = test_random_array(n, -1, 1, stream + 2);
    c.xk = test_random_array(n, -1.5f, 1.5f, stream + 3);
    c.t = malloc(sizeof(float) * N);
    rldt_rng_t r;
    rldt_rng_init(&r, 1, stream + 4);
    for (int i = 0; i < N; i++) c.t[i] = (float)(i < 2 ? (K - 1) * i : (int)rldt_rng_below(&r, (uint32_t)K)) / (float)K;
    return c;
}

static void actor_case_free(actor_case_t *c) { free(c->v), free(c->phi), free(c->a), free(c->xk), free(c->t); }

Test(transport, actor_grad_matches_closed_form)
{
    actor_case_t c = actor_case(12, 7, 8, 4000);
    float cc = 0.5f;
    size_t n = (size_t)c.N * c.D;
    float *dv = malloc(sizeof(float) * n);
    double lt, lc, rt, rc, *vd = malloc(sizeof(double) * n);
    rldt_actor_grad_cpu(dv, &lt, &lc, c.v, c.phi, c.a, c.xk, c.t, c.N, c.D, c.K, cc);
    for (size_t i = 0; i < n; i++) vd[i] = c.v[i];
    actor_loss_reference(&rt, &rc, vd, c.phi, c.a, c.xk, c.t, c.N, c.D, c.K, cc);
    cr_assert_lt(test_rel_err(lt, rt, 1e-6), 1e-5, "L_transport %g vs %g", lt, rt);
    cr_assert_lt(test_rel_err(lc, rc, 1e-6), 1e-5, "L_consist %g vs %g", lc, rc);
    for (int p = 0; p < c.N; p++) {
        double omt = 1.0 - c.t[p];
        for (int d = 0; d < c.D; d++) {
            size_t i = (size_t)p * c.D + d;
            /* d/dv of the two means: −φ/(N K (1−t)) + 2 c (v − (a − x_k)/(1−t)) / (N K²) */
            double resid = vd[i] - ((double)c.a[i] - c.xk[i]) / omt;
            double ref = (-c.phi[i] / (c.K * omt) + 2.0 * cc * resid / ((double)c.K * c.K)) / c.N;
            cr_assert_lt(test_rel_err(dv[i], ref, 1e-5), 1e-5, "dv[%zu]: %g vs %g", i, dv[i], ref);
        }
    }
    /* the consistency term's minimiser: v = (a − x_k)/(1 − t) and φ = 0 give zero gradient and zero loss */
    for (size_t i = 0; i < n; i++) c.phi[i] = 0.0f;
    for (int p = 0; p < c.N; p++)
        for (int d = 0; d < c.D; d++) {
            size_t i = (size_t)p * c.D + d;
            c.v[i] = (c.a[i] - c.xk[i]) / (1.0f - c.t[p]);
        }
    rldt_actor_grad_cpu(dv, &lt, &lc, c.v, c.phi, c.a, c.xk, c.t, c.N, c.D, c.K, cc);
    cr_assert_eq(lt, 0.0);
    cr_assert_lt(lc, 1e-12);
    for (size_t i = 0; i < n; i++) cr_assert_lt(fabsf(dv[i]), 1e-6f);
    free(dv), free(vd);
    actor_case_free(&c);
}

Test(transport, actor_grad_matches_finite_differences)
{
    /* each term alone (c_cons = 0: transport only; φ = 0: consistency only), then both */
    for (int which = 0; which < 3; which++) {
        actor_case_t c = actor_case(6, 5, 4, 4100 + 10 * (uint64_t)which);
        size_t n = (size_t)c.N * c.D;
        float cc = which == 0 ? 0.0f : 0.5f;
        if (which == 1)
            for (size_t i = 0; i < n; i++) c.phi[i] = 0.0f;
        float *dv = malloc(sizeof(float) * n);
        double lt, lc, *vd = malloc(sizeof(double) * n);
        rldt_actor_grad_cpu(dv, &lt, &lc, c.v, c.phi, c.a, c.xk, c.t, c.N, c.D, c.K, cc);
        for (size_t i = 0; i < n; i++) vd[i] = c.v[i];
        for (size_t i = 0; i < n; i++) {
            double step = 1e-3, pt, pc, mt, mc;
            vd[i] = c.v[i] + step;
            actor_loss_reference(&pt, &pc, vd, c.phi, c.a, c.xk, c.t, c.N, c.D, c.K, cc);
            vd[i] = c.v[i] - step;
            actor_loss_reference(&mt, &mc, vd, c.phi, c.a, c.xk, c.t, c.N, c.D, c.K, cc);
            vd[i] = c.v[i];
            double fd = ((pt + pc) - (mt + mc)) / (2.0 * step); /* quadratic in v: exact up to rounding */
            cr_assert_lt(test_rel_err(dv[i], fd, 1e-4), 1e-4, "case %d dv[%zu]: %g vs %g", which, i, dv[i], fd);
        }
        free(dv), free(vd);
        actor_case_free(&c);
    }
}

// ---------------------------------------------------------------------------------------------------
// TD(λ)

/* A random segment: rewards, bootstrap values, and episode ends (some terminated, some truncated). */
typedef struct {
    int T;
    float *r, *q;
    uint8_t *term, *end;
} td_case_t;

static td_case_t td_case(int T, uint64_t stream)
{
    td_case_t c = {T, test_random_array((size_t)T, -1, 2, stream), test_random_array((size_t)T, 0, 5, stream + 1),
                   malloc((size_t)T), malloc((size_t)T)};
    rldt_rng_t r;
    rldt_rng_init(&r, 1, stream + 2);
    for (int t = 0; t < T; t++) {
        uint32_t u = rldt_rng_below(&r, 10); /* 1 in 10 terminated, 1 in 10 truncated */
        c.term[t] = u == 0;
        c.end[t] = u <= 1;
    }
    return c;
}

static void td_case_free(td_case_t *c) { free(c->r), free(c->q), free(c->term), free(c->end); }

/* Forward view: with e the first step >= t where the episode ends (or the segment's last step) and L = e − t + 1,
 *   G_t = (1 − λ) Σ_{n=1}^{L−1} λ^{n−1} G^(n) + λ^{L−1} G^(L),
 *   G^(n) = Σ_{i<n} γ^i r_{t+i} + γ^n (1 − d_{t+n−1}) qnext_{t+n−1}. */
static double td_forward_view(const td_case_t *c, int t, double gamma, double lambda)
{
    int e = t;
    while (e < c->T - 1 && !c->end[e] && !c->term[e]) e++;
    int L = e - t + 1;
    double G = 0.0, rsum = 0.0;
    for (int n = 1; n <= L; n++) {
        int last = t + n - 1;
        rsum += pow(gamma, n - 1) * c->r[last];
        double Gn = rsum + pow(gamma, n) * (c->term[last] ? 0.0 : c->q[last]);
        G += (n < L ? (1.0 - lambda) * pow(lambda, n - 1) : pow(lambda, L - 1)) * Gn;
    }
    return G;
}

Test(transport, td_lambda_zero_is_one_step)
{
    td_case_t c = td_case(50, 4200);
    float G[50];
    rldt_td_lambda(G, c.r, c.term, c.end, c.q, c.T, 0.99f, 0.0f, 1.0, -FLT_MAX, FLT_MAX);
    for (int t = 0; t < c.T; t++) {
        double ref = c.r[t] + (c.term[t] ? 0.0 : (double)0.99f * c.q[t]);
        cr_assert_lt(test_rel_err(G[t], ref, 1e-6), 1e-6, "t=%d: %g vs %g", t, G[t], ref);
    }
    td_case_free(&c);
}

Test(transport, td_lambda_one_is_monte_carlo_with_bootstrap)
{
    td_case_t c = td_case(60, 4300);
    float G[60];
    double gamma = 0.95f;
    rldt_td_lambda(G, c.r, c.term, c.end, c.q, c.T, (float)gamma, 1.0f, 1.0, -FLT_MAX, FLT_MAX);
    for (int t = 0; t < c.T; t++) {
        /* discounted rewards to the episode's (or segment's) end, then the bootstrap unless terminated */
        double ref = 0.0, disc = 1.0;
        int i = t;
        for (;; i++) {
            ref += disc * c.r[i];
            disc *= gamma;
            if (c.end[i] || c.term[i] || i == c.T - 1) break;
        }
        if (!c.term[i]) ref += disc * c.q[i];
        cr_assert_lt(test_rel_err(G[t], ref, 1e-6), 1e-6, "t=%d: %g vs %g", t, G[t], ref);
    }
    td_case_free(&c);
}

Test(transport, td_lambda_matches_forward_view)
{
    static const float lambdas[] = {0.0f, 0.3f, 0.5f, 0.9f, 1.0f};
    td_case_t c = td_case(80, 4400);
    float G[80];
    for (int l = 0; l < 5; l++) {
        rldt_td_lambda(G, c.r, c.term, c.end, c.q, c.T, 0.99f, lambdas[l], 1.0, -FLT_MAX, FLT_MAX);
        for (int t = 0; t < c.T; t++) {
            double ref = td_forward_view(&c, t, 0.99f, lambdas[l]);
            cr_assert_lt(test_rel_err(G[t], ref, 1e-6), 2e-6, "lambda=%g t=%d: %g vs %g", lambdas[l], t, G[t], ref);
        }
    }
    td_case_free(&c);
}

Test(transport, td_lambda_half_hand_computed)
{
    /* step 0 continues into 1; step 1 terminates; step 2 is truncated (ended, not terminated); step 3 is the
     * segment's last step. γ = 0.9, λ = 0.5:
     *   G3 = 4 + 0.9·40 = 40             (segment end: bootstrap)
     *   G2 = 3 + 0.9·30 = 30             (truncation: bootstrap from q2, not from G3 — chaining gives 34.5)
     *   G1 = 2                           (termination: no bootstrap)
     *   G0 = 1 + 0.9·(0.5·10 + 0.5·2) = 6.4 */
    float r[4] = {1, 2, 3, 4}, q[4] = {10, 20, 30, 40}, G[4];
    uint8_t term[4] = {0, 1, 0, 0}, end[4] = {0, 1, 1, 0};
    rldt_td_lambda(G, r, term, end, q, 4, 0.9f, 0.5f, 1.0, -FLT_MAX, FLT_MAX);
    const double expect[4] = {6.4, 2.0, 30.0, 40.0};
    for (int t = 0; t < 4; t++) cr_assert_lt(test_rel_err(G[t], expect[t], 1e-6), 1e-6, "t=%d: %g", t, G[t]);
    /* rewards divided by 2 and bootstraps clipped to [12, 25] (q = 12, 20, 25, 25; a NaN bootstrap is q_lo):
     *   G3 = 2 + 0.9·25 = 24.5, G2 = 1.5 + 0.9·25 = 24, G1 = 1, G0 = 0.5 + 0.9·(0.5·12 + 0.5·1) = 6.35 */
    q[0] = NAN;
    rldt_td_lambda(G, r, term, end, q, 4, 0.9f, 0.5f, 2.0, 12.0f, 25.0f);
    const double clipped[4] = {6.35, 1.0, 24.0, 24.5};
    for (int t = 0; t < 4; t++) cr_assert_lt(test_rel_err(G[t], clipped[t], 1e-6), 1e-6, "t=%d: %g", t, G[t]);
}

// ---------------------------------------------------------------------------------------------------
// stored transitions

/* A sparse env that does not end the episode on success: raw rewards 0, 0.5 (a partial reward), 1
 * (success), 1, 0.2, then a truncation, then a new episode. Increments 0, 0.5, 0.5, 0, −0.8; terminal from
 * the success step on; with mask_after_success the steps after the success step get mask 0; the truncation
 * resets the episode state. */
Test(transport, sparse_transitions_by_hand)
{
    static const float raw[7] = {0, 0.5f, 1, 1, 0.2f, 0.2f, 0.3f};
    static const bool success[7] = {0, 0, 1, 1, 0, 0, 0}, trunc[7] = {0, 0, 0, 0, 0, 1, 0};
    static const float reward[7] = {0, 0.5f, 0.5f, 0, -0.8f, 0, 0.3f};
    static const uint8_t terminal[7] = {0, 0, 1, 1, 1, 1, 0}, ended[7] = {0, 0, 1, 1, 1, 1, 0};
    static const uint8_t mask[7] = {1, 1, 1, 0, 0, 0, 1};
    float prev = 0;
    uint8_t seen = 0;
    for (int t = 0; t < 7; t++) {
        rldt_transition_t x = rldt_transition(&prev, &seen, raw[t], success[t], false, trunc[t], true, true);
        cr_assert_float_eq(x.reward, reward[t], 1e-6, "t=%d: reward %g", t, x.reward);
        cr_assert_eq(x.terminal, terminal[t], "t=%d", t);
        cr_assert_eq(x.ended, ended[t], "t=%d", t);
        cr_assert_eq(x.mask, mask[t], "t=%d", t);
    }
    /* without mask_after_success every step keeps mask 1; a non-finite reward does not become the next
     * step's previous reward */
    prev = 0, seen = 0;
    for (int t = 0; t < 4; t++) cr_assert_eq(rldt_transition(&prev, &seen, raw[t], success[t], false, false, true, false).mask, 1);
    prev = 0.5f;
    cr_assert(isnan(rldt_transition(&prev, &seen, NAN, false, false, false, true, false).reward));
    cr_assert_eq(prev, 0.5f);
    /* dense: the raw reward, terminal only when the task terminates, success changes nothing */
    prev = 0, seen = 0;
    rldt_transition_t d = rldt_transition(&prev, &seen, -3.5f, true, false, false, false, false);
    cr_assert(d.reward == -3.5f && !d.terminal && !d.ended && d.mask);
    d = rldt_transition(&prev, &seen, 2.0f, false, true, false, false, true);
    cr_assert(d.reward == 2.0f && d.terminal && d.ended && !d.mask);
}

// ---------------------------------------------------------------------------------------------------
// reward scaling

Test(transport, reward_scaler_tracks_running_mean_abs)
{
    rldt_reward_scaler_t s;
    rldt_reward_scaler_init(&s);
    float r[3] = {-2, 4, 0.5f};
    cr_assert_eq(rldt_reward_scaler_divisor(&s), 1.0); /* before any update: identity */
    rldt_reward_scaler_update(&s, r, 0); /* empty batch: no change */
    cr_assert_eq(s.updates, 0);

    float b1[2] = {-2, 4}; /* first batch sets the mean: 3 */
    rldt_reward_scaler_update(&s, b1, 2);
    cr_assert_float_eq(s.mean_abs, 3.0, 1e-12);
    float b2[4] = {1, -1, 1, -1}; /* EMA: 0.99·3 + 0.01·1 */
    rldt_reward_scaler_update(&s, b2, 4);
    cr_assert_float_eq(s.mean_abs, 2.98, 1e-12);
    cr_assert_float_eq(rldt_reward_scaler_divisor(&s), 2.98, 1e-12);

    /* constant |r| = 5: the mean converges as 5 − (2.98 − 5)·0.99^n */
    double ref = 2.98;
    float b3[2] = {5, -5};
    for (int i = 0; i < 500; i++) {
        rldt_reward_scaler_update(&s, b3, 2);
        ref = 0.99 * ref + 0.01 * 5.0;
    }
    cr_assert_float_eq(s.mean_abs, ref, 1e-9);
    cr_assert_lt(fabs(s.mean_abs - 5.0), 0.02);
    cr_assert_eq(s.updates, 502);
}

/* Near-zero batches are skipped (issue 10): an all-zero first batch used to set the mean to 0, so the
 * next rewards were scaled by 1e8 (and by 100 after a batch with |r| = 1). */
Test(transport, reward_scaler_skips_near_zero_batches)
{
    rldt_reward_scaler_t s;
    rldt_reward_scaler_init(&s);
    float zeros[4] = {0, 0, -0.0f, 0}, tiny[2] = {5e-9f, -5e-9f};
    rldt_reward_scaler_update(&s, zeros, 4);
    rldt_reward_scaler_update(&s, tiny, 2);
    cr_assert_eq(s.updates, 0);
    cr_assert_eq(s.mean_abs, 1.0);
    float ones[2] = {1, -1};
    rldt_reward_scaler_update(&s, ones, 2); /* the first batch taken sets the mean */
    cr_assert_eq(s.updates, 1);
    cr_assert_float_eq(s.mean_abs, 1.0, 1e-12);
    rldt_reward_scaler_update(&s, zeros, 4); /* and a later all-zero batch does not pull it down */
    float nan_batch[2] = {NAN, 1};
    rldt_reward_scaler_update(&s, nan_batch, 2);
    cr_assert_eq(s.updates, 1);
    cr_assert_float_eq(s.mean_abs, 1.0, 1e-12);
    cr_assert_float_eq(rldt_reward_scaler_divisor(&s), 1.0, 1e-12);
    /* the divisor keeps its floor (a mean restored from a checkpoint, say) */
    s.mean_abs = 0.0;
    cr_assert_eq(rldt_reward_scaler_divisor(&s), 1e-8);
}
