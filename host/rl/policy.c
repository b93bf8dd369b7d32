/* policy.c — the flow-matching velocity field, its Euler sampler (and back-propagation through it) and
 * expected targets (see rldt/policy.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/policy.h"

rldt_status_t rldt_policy_spec_from_config(const rldt_config_t *cfg, int obs_dim, int act_dim, rldt_policy_spec_t *s)
{
    int act = rldt_act_parse(cfg->policy_act);
    if (act < 0) return rldt_error_set(RLDT_ERR_USAGE, "policy.activation: unknown '%s'", cfg->policy_act);
    if (cfg->policy_time_dim % 2) return rldt_error_set(RLDT_ERR_USAGE, "policy.time_dim must be even, got %ld", cfg->policy_time_dim);
    memset(s, 0, sizeof *s);
    s->obs_dim = obs_dim;
    s->act_dim = act_dim;
    s->chunk = (int)cfg->policy_chunk;
    s->D = s->chunk * act_dim;
    s->K = (int)cfg->policy_k;
    s->time_dim = (int)cfg->policy_time_dim;
    s->time_spec = (rldt_mlp_spec_t){s->time_dim, s->time_dim, 2 * s->time_dim, 1, false, RLDT_ACT_MISH, false, RLDT_INIT_TORCH};
    s->body_spec = (rldt_mlp_spec_t){s->D + s->time_dim + obs_dim, s->D, (int)cfg->policy_width, (int)cfg->policy_blocks,
                                     true, (rldt_act_t)act, cfg->policy_layernorm, RLDT_INIT_TORCH};
    return RLDT_OK;
}

// ---------------------------------------------------------------------------------------------------
// workspace layout (floats): t [B] | time features [B][td] | time-embedding gradient [B][td] |
//                             body input [B][in] | its gradient [B][in]

static float *ws_t(const rldt_policy_t *p) { return p->ws; }
static float *ws_tf(const rldt_policy_t *p) { return p->ws + p->max_batch; }
static float *ws_dte(const rldt_policy_t *p) { return ws_tf(p) + (size_t)p->max_batch * p->spec.time_dim; }
static float *ws_in(const rldt_policy_t *p) { return ws_dte(p) + (size_t)p->max_batch * p->spec.time_dim; }
static float *ws_din(const rldt_policy_t *p) { return ws_in(p) + (size_t)p->max_batch * p->spec.body_spec.in; }

rldt_status_t rldt_policy_init(rldt_policy_t *p, const rldt_policy_spec_t *s, int max_batch, const rldt_backend_t *be)
{
    memset(p, 0, sizeof *p);
    if (s->obs_dim < 1 || s->act_dim < 1 || s->chunk < 1 || s->K < 1)
        return rldt_error_set(RLDT_ERR_USAGE, "policy: bad dimensions (obs %d, act %d, chunk %d, K %d)", s->obs_dim,
                              s->act_dim, s->chunk, s->K);
    p->spec = *s;
    p->be = be;
    p->max_batch = max_batch;
    rldt_status_t st = rldt_mlp_init(&p->time_mlp, &s->time_spec, max_batch, be);
    if (!st) st = rldt_mlp_init(&p->body, &s->body_spec, max_batch, be);
    if (st) {
        rldt_policy_free(p);
        return st;
    }
    p->body_offset = p->time_mlp.nparams;
    p->nparams = p->time_mlp.nparams + p->body.nparams;
    size_t ws = (size_t)max_batch * (1 + 2 * (size_t)s->time_dim + 2 * (size_t)s->body_spec.in);
    p->ws = be->alloc(sizeof(float) * ws);
    if (!p->ws) {
        rldt_policy_free(p);
        return rldt_error_set(RLDT_ERR, "policy: cannot allocate a %zu-float workspace", ws);
    }
    p->obs_mean = rldt_xcalloc((size_t)s->obs_dim, sizeof(float));
    p->obs_std = rldt_xmalloc(sizeof(float) * (size_t)s->obs_dim);
    p->act_low = rldt_xmalloc(sizeof(float) * (size_t)s->act_dim);
    p->act_high = rldt_xmalloc(sizeof(float) * (size_t)s->act_dim);
    for (int i = 0; i < s->obs_dim; i++) p->obs_std[i] = 1.0f;
    for (int i = 0; i < s->act_dim; i++) {
        p->act_low[i] = -1.0f;
        p->act_high[i] = 1.0f;
    }
    return RLDT_OK;
}

void rldt_policy_free(rldt_policy_t *p)
{
    if (p->time_mlp.ops) rldt_mlp_free(&p->time_mlp);
    if (p->body.ops) rldt_mlp_free(&p->body);
    if (p->ws) p->be->free(p->ws);
    free(p->obs_mean), free(p->obs_std), free(p->act_low), free(p->act_high);
    memset(p, 0, sizeof *p);
}

void rldt_policy_init_params(const rldt_policy_t *p, float *params, rldt_rng_t *rng)
{
    rldt_mlp_init_params(&p->time_mlp, params, rng);
    rldt_mlp_init_params(&p->body, params + p->body_offset, rng);
}

void rldt_policy_set_normalizers(rldt_policy_t *p, const float *obs_mean, const float *obs_std, const float *act_low,
                                 const float *act_high)
{
    for (int i = 0; i < p->spec.obs_dim; i++) {
        p->obs_mean[i] = obs_mean[i];
        p->obs_std[i] = obs_std[i] > 1e-3f ? obs_std[i] : 1e-3f;
    }
    memcpy(p->act_low, act_low, sizeof(float) * (size_t)p->spec.act_dim);
    memcpy(p->act_high, act_high, sizeof(float) * (size_t)p->spec.act_dim);
}

// ---------------------------------------------------------------------------------------------------
// the network

const float *rldt_policy_forward(rldt_policy_t *p, const float *P, const float *x, const float *t, const float *obs,
                                 int B)
{
    const rldt_backend_t *be = p->be;
    const rldt_policy_spec_t *s = &p->spec;
    int in = s->body_spec.in;
    be->time_features(ws_tf(p), t, B, s->time_dim);
    const float *temb = rldt_mlp_forward(&p->time_mlp, P, ws_tf(p), B);
    be->copy_cols(ws_in(p), in, 0, x, s->D, 0, s->D, B);
    be->copy_cols(ws_in(p), in, s->D, temb, s->time_dim, 0, s->time_dim, B);
    be->copy_cols(ws_in(p), in, s->D + s->time_dim, obs, s->obs_dim, 0, s->obs_dim, B);
    return rldt_mlp_forward(&p->body, P + p->body_offset, ws_in(p), B);
}

void rldt_policy_backward_x(rldt_policy_t *p, const float *P, float *G, const float *dv, float *dx)
{
    const rldt_policy_spec_t *s = &p->spec;
    int B = p->body.batch, in = s->body_spec.in;
    rldt_mlp_backward(&p->body, P + p->body_offset, G + p->body_offset, dv, ws_din(p));
    /* the input gradient's column blocks: x, then the time embedding */
    if (dx) p->be->axpy_cols(dx, s->D, ws_din(p), in, 1.0f, s->D, B);
    p->be->copy_cols(ws_dte(p), s->time_dim, 0, ws_din(p), in, s->D, s->time_dim, B);
    rldt_mlp_backward(&p->time_mlp, P, G, ws_dte(p), NULL);
}

void rldt_policy_backward(rldt_policy_t *p, const float *P, float *G, const float *dv) { rldt_policy_backward_x(p, P, G, dv, NULL); }

void rldt_policy_obs_grad(const rldt_policy_t *p, float *dobs, int first, int n)
{
    const rldt_policy_spec_t *s = &p->spec;
    p->be->copy_cols(dobs, n, 0, ws_din(p), s->body_spec.in, s->D + s->time_dim + first, n, p->body.batch);
}

// ---------------------------------------------------------------------------------------------------
// sampling

void rldt_policy_sample(rldt_policy_t *p, const float *P, const float *obs, int B, float *x, float *chain)
{
    const rldt_backend_t *be = p->be;
    int K = p->spec.K;
    size_t n = (size_t)B * p->spec.D;
    /* with a chain, step k reads slot k and writes slot k+1; x receives the last slot at the end */
    if (chain && chain != x) be->copy(chain, x, sizeof(float) * n);
    for (int k = 0; k < K; k++) {
        float *xk = chain ? chain + (size_t)k * n : x, *next = chain ? xk + n : x;
        be->fill(ws_t(p), (float)k / (float)K, (size_t)B);
        const float *v = rldt_policy_forward(p, P, xk, ws_t(p), obs, B);
        be->euler_step(next, xk, v, 1.0f / (float)K, n);
    }
    if (chain && chain != x) be->copy(x, chain + (size_t)K * n, sizeof(float) * n);
}

void rldt_policy_chain_backward(rldt_policy_t *p, const float *P, float *G, const float *obs, int B, const float *chain,
                                float *dx, float *dv, float *scratch, double *norms)
{
    const rldt_backend_t *be = p->be;
    int K = p->spec.K;
    size_t n = (size_t)B * p->spec.D;
    for (int k = K - 1; k >= 0; k--) { /* x_{k+1} = x_k + v_k / K: dL/dv_k = dx / K, dx += (dv_k/dx_k)^T dL/dv_k */
        be->fill(ws_t(p), (float)k / (float)K, (size_t)B);
        rldt_policy_forward(p, P, chain + (size_t)k * n, ws_t(p), obs, B);
        be->copy(dv, dx, sizeof(float) * n);
        be->scale(dv, 1.0f / (float)K, n);
        rldt_policy_backward_x(p, P, G, dv, dx);
        if (norms) norms[k] = rldt_policy_grad_norm(p, P, dv, scratch);
    }
}

double rldt_policy_grad_norm(rldt_policy_t *p, const float *P, const float *dv, float *scratch)
{
    p->be->fill(scratch, 0.0f, p->nparams);
    rldt_policy_backward(p, P, scratch, dv);
    return sqrt(p->be->sumsq(scratch, p->nparams));
}

void rldt_policy_expected_target(rldt_policy_t *p, const float *P, const float *xk, int k, const float *obs, int B,
                                 float *out)
{
    const rldt_backend_t *be = p->be;
    float tk = (float)k / (float)p->spec.K;
    size_t n = (size_t)B * p->spec.D;
    be->fill(ws_t(p), tk, (size_t)B);
    const float *v = rldt_policy_forward(p, P, xk, ws_t(p), obs, B);
    be->copy(out, xk, sizeof(float) * n);
    be->axpy(out, 1.0f - tk, v, n);
}

// ---------------------------------------------------------------------------------------------------
// host-side unit conversions

void rldt_policy_observe(const rldt_policy_t *p, const float *raw, float *out, int B)
{
    int od = p->spec.obs_dim;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < od; i++) out[b * od + i] = (raw[b * od + i] - p->obs_mean[i]) / p->obs_std[i];
}

void rldt_policy_normalize_actions(const rldt_policy_t *p, const float *raw, float *out, int n)
{
    int ad = p->spec.act_dim;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < ad; i++) {
            float lo = p->act_low[i], hi = p->act_high[i];
            out[r * ad + i] = 2.0f * (raw[r * ad + i] - lo) / (hi - lo) - 1.0f;
        }
}

void rldt_policy_act(const rldt_policy_t *p, const float *norm, float *out, int n)
{
    int ad = p->spec.act_dim;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < ad; i++) {
            float u = norm[r * ad + i];
            u = u < -1.0f ? -1.0f : (u > 1.0f ? 1.0f : u);
            float lo = p->act_low[i], hi = p->act_high[i];
            out[r * ad + i] = lo + 0.5f * (u + 1.0f) * (hi - lo);
        }
}
