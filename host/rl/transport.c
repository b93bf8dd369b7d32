/* transport.c — CPU references for the RLDT math (see rldt/transport.h): the SVGD field and the actor-loss
 * gradient loop over the shared per-query/per-element helpers; the running reward scale is host only. */
#include "rldt/transport.h"
#include "rldt/comm.h"

#include <math.h>

// ---------------------------------------------------------------------------------------------------
// SVGD field

void rldt_svgd_field_cpu(float *phi, float *h_out, float *alpha_out, const float *x, const float *a, const float *g,
                         int B, int Q, int P, int D, float tau)
{
    for (int b = 0; b < B; b++) {
        const float *ab = a + (size_t)b * P * D, *gb = g + (size_t)b * P * D;
        float alpha = rldt_svgd_alpha(gb, P, D, tau);
        alpha_out[b] = alpha;
        for (int i = 0; i < Q; i++) {
            size_t row = (size_t)b * Q + i;
            h_out[row] = rldt_svgd_query(phi + row * D, x + row * D, ab, gb, alpha, P, D);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// actor loss

void rldt_actor_grad_cpu(float *dv, double *loss_transport, double *loss_consist, const float *v, const float *phi,
                         const float *a, const float *xk, const float *t, int N, int D, int K, float c_cons)
{
    double lt = 0.0, lc = 0.0;
    float inv_n = 1.0f / (float)N;
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            float et, ec;
            dv[i] = inv_n * rldt_actor_grad_elem(v[i], phi[i], a[i], xk[i], t[n], K, c_cons, &et, &ec);
            lt += et;
            lc += ec;
        }
    *loss_transport = N ? lt / N : 0.0;
    *loss_consist = N ? lc / N : 0.0;
}

// ---------------------------------------------------------------------------------------------------
// reward scaling

void rldt_reward_scaler_init(rldt_reward_scaler_t *s)
{
    s->mean_abs = 1.0;
    s->updates = 0;
}

void rldt_reward_scaler_update(rldt_reward_scaler_t *s, const float *r, size_t n)
{
    double sum[2] = {0.0, (double)n}; /* sum |r| and the count, then over the ranks */
    for (size_t i = 0; i < n; i++) sum[0] += fabs((double)r[i]);
    rldt_comm_sum(sum, 2);
    if (sum[1] == 0) return;
    double m = sum[0] / sum[1];
    if (!(m >= RLDT_REWARD_MIN_BATCH_MEAN) || !isfinite(m)) return; /* an all-zero (or broken) batch says nothing about the scale */
    s->mean_abs = s->updates ? (1.0 - RLDT_REWARD_EMA_RATE) * s->mean_abs + RLDT_REWARD_EMA_RATE * m : m;
    s->updates++;
}

double rldt_reward_scaler_divisor(const rldt_reward_scaler_t *s) { return s->mean_abs > 1e-8 ? s->mean_abs : 1e-8; }
