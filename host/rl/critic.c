/* critic.c — the Q ensemble with Polyak targets (see rldt/critic.h). */
#include <stdlib.h>
#include <string.h>

#include "rldt/critic.h"

rldt_status_t rldt_critic_init(rldt_critic_t *c, int obs_dim, int D, int width, int depth, int members, int max_batch,
                               const rldt_backend_t *be, rldt_rng_t *rng)
{
    return rldt_critic_init_pixels(c, obs_dim, D, width, depth, members, max_batch, be, rng, NULL);
}

rldt_status_t rldt_critic_init_pixels(rldt_critic_t *c, int obs_dim, int D, int width, int depth, int members, int max_batch,
                                      const rldt_backend_t *be, rldt_rng_t *rng, const rldt_encoder_spec_t *enc)
{
    memset(c, 0, sizeof *c);
    if (members < 1 || members > RLDT_MAX_MEMBERS)
        return rldt_error_set(RLDT_ERR_USAGE, "critic: %d ensemble members (1 to %d)", members, RLDT_MAX_MEMBERS);
    c->obs_dim = obs_dim;
    c->D = D;
    c->members = members;
    c->max_batch = max_batch;
    c->be = be;
    rldt_status_t st = enc ? rldt_encoder_init(&c->enc, enc, max_batch, be) : RLDT_OK;
    if (st) return st;
    c->F = enc ? enc->feature : 0;
    rldt_mlp_spec_t spec = {obs_dim + c->F + D, 1, width, depth, false, RLDT_ACT_SILU, false, RLDT_INIT_NORMAL01};
    st = rldt_mlp_init(&c->net, &spec, max_batch, be);
    if (st) {
        rldt_critic_free(c);
        return st;
    }
    c->member_params = c->net.nparams;
    c->enc_at = c->member_params * (size_t)members;
    size_t n = c->enc_at + (enc ? c->enc.nparams : 0);
    float *init = rldt_xmalloc(sizeof(float) * n);
    for (int m = 0; m < members; m++) rldt_mlp_init_params(&c->net, init + (size_t)m * c->member_params, rng);
    if (enc) rldt_encoder_init_params(&c->enc, init + c->enc_at, rng);
    st = rldt_trainable_init(&c->online, be, n, init);
    free(init);
    size_t in = (size_t)max_batch * (obs_dim + c->F + D);
    if (!st) {
        c->target = be->alloc(sizeof(float) * n);
        c->in = be->alloc(sizeof(float) * in);
        c->din = be->alloc(sizeof(float) * in);
        c->ones = be->alloc(sizeof(float) * (size_t)max_batch);
        c->q = be->alloc(sizeof(float) * (size_t)max_batch);
        c->dq = be->alloc(sizeof(float) * (size_t)max_batch);
        if (enc) c->dfeat = be->alloc(sizeof(float) * (size_t)max_batch * c->F);
        if (!c->target || !c->in || !c->din || !c->ones || !c->q || !c->dq || (enc && !c->dfeat))
            st = rldt_error_set(RLDT_ERR, "critic: out of %s memory", be->name);
    }
    if (st) {
        rldt_critic_free(c);
        return st;
    }
    be->copy(c->target, c->online.p, sizeof(float) * n);
    be->fill(c->ones, 1.0f, (size_t)max_batch);
    return RLDT_OK;
}

void rldt_critic_free(rldt_critic_t *c)
{
    const rldt_backend_t *be = c->be;
    float *bufs[] = {c->target, c->in, c->din, c->ones, c->q, c->dq, c->dfeat};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) be->free(bufs[i]);
    if (c->online.p) rldt_trainable_free(&c->online);
    if (c->net.ops) rldt_mlp_free(&c->net);
    if (c->enc.ws) rldt_encoder_free(&c->enc);
    memset(c, 0, sizeof *c);
}

static const float *member_params(const rldt_critic_t *c, int m, bool target)
{
    return (target ? c->target : c->online.p) + (size_t)m * c->member_params;
}

/* The members' input width: [obs | features | act]. */
static int width_in(const rldt_critic_t *c) { return c->obs_dim + c->F + c->D; }

/* Packs [obs | features | act] into c->in (the features of the last rldt_critic_encode). */
static void pack(rldt_critic_t *c, const float *obs, const float *act, int B)
{
    int in = width_in(c);
    c->be->copy_cols(c->in, in, 0, obs, c->obs_dim, 0, c->obs_dim, B);
    if (c->F) c->be->copy_cols(c->in, in, c->obs_dim, c->feat, c->F, 0, c->F, B);
    c->be->copy_cols(c->in, in, c->obs_dim + c->F, act, c->D, 0, c->D, B);
}

void rldt_critic_encode(rldt_critic_t *c, bool target, const uint8_t *images, int B, rldt_rng_t *aug)
{
    if (!c->F) return;
    c->feat = rldt_encoder_forward(&c->enc, (target ? c->target : c->online.p) + c->enc_at, images, B, aug);
}

const float *rldt_critic_q(rldt_critic_t *c, int m, bool target, const float *obs, const float *act, int B)
{
    pack(c, obs, act, B);
    return rldt_mlp_forward(&c->net, member_params(c, m, target), c->in, B);
}

void rldt_critic_target_min(rldt_critic_t *c, const float *obs, const float *act, int B, float *out)
{
    pack(c, obs, act, B);
    for (int m = 0; m < c->members; m++) {
        const float *q = rldt_mlp_forward(&c->net, member_params(c, m, true), c->in, B);
        if (m == 0)
            c->be->copy(out, q, sizeof(float) * (size_t)B);
        else
            c->be->minimum(out, q, (size_t)B);
    }
}

void rldt_critic_bootstrap(rldt_critic_t *c, const float *obs, const float *acts, int M, size_t stride, int B, float *out,
                           float *tmp)
{
    c->be->fill(out, 0.0f, (size_t)B);
    for (int m = 0; m < M; m++) {
        rldt_critic_target_min(c, obs, acts + (size_t)m * stride, B, tmp);
        c->be->axpy(out, 1.0f / (float)M, tmp, (size_t)B);
    }
}

void rldt_critic_action_grad(rldt_critic_t *c, const float *obs, const float *act, int B, float *g)
{
    int in = width_in(c);
    pack(c, obs, act, B);
    c->be->fill(g, 0.0f, (size_t)B * c->D);
    for (int m = 0; m < c->members; m++) {
        const float *P = member_params(c, m, false);
        rldt_mlp_forward(&c->net, P, c->in, B);
        rldt_mlp_backward(&c->net, P, NULL, c->ones, c->din);
        /* the action block of the input gradient, averaged over members */
        c->be->axpy_cols(g, c->D, c->din + c->obs_dim + c->F, in, 1.0f / (float)c->members, c->D, B);
    }
}

const float *rldt_critic_member_action_grad(rldt_critic_t *c, int m, const float *obs, const float *act, int B, float *g)
{
    const float *P = member_params(c, m, false);
    pack(c, obs, act, B);
    const float *q = rldt_mlp_forward(&c->net, P, c->in, B);
    rldt_mlp_backward(&c->net, P, NULL, c->ones, c->din);
    c->be->copy_cols(g, c->D, 0, c->din, width_in(c), c->obs_dim + c->F, c->D, B);
    return q;
}

double rldt_critic_accumulate(rldt_critic_t *c, int m, const float *obs, const float *act, const float *targets, int B)
{
    const float *P = member_params(c, m, false);
    float *G = c->online.g + (size_t)m * c->member_params;
    pack(c, obs, act, B);
    const float *q = rldt_mlp_forward(&c->net, P, c->in, B);
    double loss = c->be->mse(q, targets, c->dq, (size_t)B);
    rldt_mlp_backward(&c->net, P, G, c->dq, c->F ? c->din : NULL);
    if (c->F) { /* through the features into the shared encoder (its last forward: these rows, online) */
        c->be->copy_cols(c->dfeat, c->F, 0, c->din, width_in(c), c->obs_dim, c->F, B);
        rldt_encoder_backward(&c->enc, c->online.p + c->enc_at, c->online.g + c->enc_at, c->dfeat, NULL);
    }
    return loss;
}

void rldt_critic_polyak(rldt_critic_t *c, float tau) { c->be->lerp(c->target, c->online.p, tau, c->online.n); }
