/* sac.c — the SAC agent: the tanh-Gaussian head, acting, one update, the checkpoint (see rldt/sac.h; the
 * training loop is in sac_train.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/checkpoint.h"
#include "rldt/sac.h"

// ---------------------------------------------------------------------------------------------------
// the head

void rldt_sac_head_forward(const float *out, const float *eps, int B, int A, float *a, float *logp)
{
    for (int b = 0; b < B; b++) {
        const float *mu = out + (size_t)b * 2 * A, *ls = mu + A;
        double lp = 0;
        for (int j = 0; j < A; j++) lp += rldt_sac_head_elem(mu[j], ls[j], eps ? eps[(size_t)b * A + j] : 0.0f, &a[(size_t)b * A + j]);
        if (logp) logp[b] = (float)lp;
    }
}

void rldt_sac_head_backward(const float *out, const float *eps, const float *a, const float *da, const float *dlogp, int B,
                            int A, float *dout)
{
    for (int b = 0; b < B; b++) {
        const float *mu = out + (size_t)b * 2 * A, *ls = mu + A;
        float *dmu = dout + (size_t)b * 2 * A, *dls = dmu + A;
        for (int j = 0; j < A; j++) {
            size_t i = (size_t)b * A + j;
            rldt_sac_head_grad(mu[j], ls[j], eps[i], a[i], da[i], dlogp[b], &dmu[j], &dls[j]);
        }
    }
}

void rldt_sac_to_env(const rldt_env_spec_t *spec, const float *a, int n, float *out)
{
    int A = spec->act_dim;
    for (int b = 0; b < n; b++)
        for (int j = 0; j < A; j++) {
            size_t i = (size_t)b * A + j;
            out[i] = spec->act_low[j] + 0.5f * (a[i] + 1.0f) * (spec->act_high[j] - spec->act_low[j]);
        }
}

// ---------------------------------------------------------------------------------------------------
// set-up

rldt_status_t rldt_sac_init(rldt_sac_t *s, const rldt_config_t *cfg, int obs_dim, int act_dim, int acting,
                            const rldt_backend_t *be)
{
    memset(s, 0, sizeof *s);
    if (obs_dim < 1 || act_dim < 1 || act_dim > RLDT_ENV_MAX_ACT)
        return rldt_error_set(RLDT_ERR_USAGE, "sac: observation width %d, action width %d (need >= 1 and <= %d actions)", obs_dim,
                              act_dim, RLDT_ENV_MAX_ACT);
    int B = (int)cfg->sac_batch, mb = B > acting ? B : acting, A = act_dim;
    s->obs_dim = obs_dim, s->act_dim = A, s->width = (int)cfg->sac_width, s->depth = (int)cfg->sac_depth, s->max_batch = mb;
    s->be = be;
    s->opt = rldt_adam_default();
    s->actor_lr = (float)cfg->sac_actor_lr, s->critic_lr = (float)cfg->sac_critic_lr, s->alpha_lr = (float)cfg->sac_alpha_lr;
    s->gamma = (float)cfg->sac_gamma, s->tau = (float)cfg->sac_tau;
    s->target_entropy = (float)(cfg->sac_entropy_per_dim * A);
    rldt_rng_init(&s->rng, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_TRAIN, 1, 0));
    rldt_rng_t init;
    rldt_rng_init(&init, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_INIT, 1, 0));
    rldt_mlp_spec_t spec = {obs_dim, 2 * A, s->width, s->depth, false, RLDT_ACT_RELU, false, RLDT_INIT_TORCH};
    rldt_status_t st = rldt_mlp_init(&s->actor_net, &spec, mb, be);
    if (st) return st;
    float *p = rldt_xmalloc(sizeof(float) * s->actor_net.nparams);
    rldt_mlp_init_params(&s->actor_net, p, &init);
    st = rldt_trainable_init(&s->actor, be, s->actor_net.nparams, p);
    free(p);
    if (!st) st = rldt_critic_init(&s->critic, obs_dim, A, s->width, s->depth, 2, mb, be, &init);
    float log_alpha = logf((float)cfg->sac_alpha_init);
    if (!st) st = rldt_trainable_init(&s->log_alpha, be, 1, &log_alpha);
    if (st) {
        rldt_sac_free(s);
        return st;
    }
    size_t od = (size_t)obs_dim, n = (size_t)mb;
    struct {
        float **p;
        size_t floats;
    } dev[] = {{&s->d_obs, n * od}, {&s->d_next, n * od}, {&s->d_act, n * A}, {&s->d_new, n * A}, {&s->d_y, n},
               {&s->d_dout, n * 2 * A}, {&s->d_g, n * A}};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (!(*dev[i].p = be->alloc(sizeof(float) * dev[i].floats))) {
            rldt_sac_free(s);
            return rldt_error_set(RLDT_ERR, "sac: out of %s memory", be->name);
        }
    s->h_out = rldt_xmalloc(sizeof(float) * n * 2 * A);
    s->h_eps = rldt_xmalloc(sizeof(float) * n * 2 * A);
    s->h_act = rldt_xmalloc(sizeof(float) * n * A);
    s->h_batch_act = rldt_xmalloc(sizeof(float) * n * A);
    s->h_logp = rldt_xmalloc(sizeof(float) * n);
    s->h_y = rldt_xmalloc(sizeof(float) * n);
    for (int m = 0; m < 2; m++) {
        s->h_q[m] = rldt_xmalloc(sizeof(float) * n);
        s->h_g[m] = rldt_xmalloc(sizeof(float) * n * A);
    }
    s->h_da = rldt_xmalloc(sizeof(float) * n * A);
    s->h_dlogp = rldt_xmalloc(sizeof(float) * n);
    s->h_dout = rldt_xmalloc(sizeof(float) * n * 2 * A);
    s->h_obs = rldt_xmalloc(sizeof(float) * n * od);
    s->h_next = rldt_xmalloc(sizeof(float) * n * od);
    s->h_rew = rldt_xmalloc(sizeof(float) * n);
    s->h_term = rldt_xmalloc(n);
    return RLDT_OK;
}

void rldt_sac_free(rldt_sac_t *s)
{
    const rldt_backend_t *be = s->be;
    float *dev[] = {s->d_obs, s->d_next, s->d_act, s->d_new, s->d_y, s->d_dout, s->d_g};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) be->free(dev[i]);
    void *host[] = {s->h_out, s->h_eps, s->h_act, s->h_batch_act, s->h_logp, s->h_y, s->h_q[0], s->h_q[1], s->h_g[0],
                    s->h_g[1], s->h_da, s->h_dlogp, s->h_dout, s->h_obs, s->h_next, s->h_rew, s->h_term};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
    if (s->log_alpha.p) rldt_trainable_free(&s->log_alpha);
    if (s->critic.net.ops) rldt_critic_free(&s->critic);
    if (s->actor.p) rldt_trainable_free(&s->actor);
    if (s->actor_net.ops) rldt_mlp_free(&s->actor_net);
    memset(s, 0, sizeof *s);
}

float rldt_sac_alpha(const rldt_sac_t *s)
{
    float log_alpha;
    s->be->download(&log_alpha, s->log_alpha.p, sizeof log_alpha);
    return expf(log_alpha);
}

// ---------------------------------------------------------------------------------------------------
// acting and learning

/* The actor's output [B][2A] at observations already on the backend, downloaded into s->h_out. */
static void actor_out(rldt_sac_t *s, const float *d_obs, int B)
{
    const float *out = rldt_mlp_forward(&s->actor_net, s->actor.p, d_obs, B);
    s->be->download(s->h_out, out, sizeof(float) * (size_t)B * 2 * s->act_dim);
}

static void fill_normal(rldt_rng_t *rng, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = rldt_rng_normal(rng);
}

void rldt_sac_act(rldt_sac_t *s, const float *obs, int n, bool deterministic, rldt_rng_t *rng, float *actions)
{
    s->be->upload(s->d_obs, obs, sizeof(float) * (size_t)n * s->obs_dim);
    actor_out(s, s->d_obs, n);
    if (!deterministic) fill_normal(rng, s->h_eps, (size_t)n * s->act_dim);
    rldt_sac_head_forward(s->h_out, deterministic ? NULL : s->h_eps, n, s->act_dim, actions, NULL);
}

/* Takes an Adam step of t; a non-finite gradient skips it and counts the skip. */
static void step(rldt_trainable_t *t, const rldt_adam_t *opt, float lr, rldt_sac_stats_t *st)
{
    float norm = rldt_trainable_step(t, opt, lr, 0.0f);
    if (!isfinite(norm)) st->skipped++;
}

void rldt_sac_update_batch(rldt_sac_t *s, const float *obs, const float *act, const float *rew, const uint8_t *term,
                           const float *next, int B, const float *eps_next, const float *eps_now, rldt_sac_stats_t *st)
{
    const rldt_backend_t *be = s->be;
    int A = s->act_dim;
    size_t od = (size_t)s->obs_dim, nA = (size_t)B * A;
    be->upload(s->d_obs, obs, sizeof(float) * B * od);
    be->upload(s->d_next, next, sizeof(float) * B * od);
    be->upload(s->d_act, act, sizeof(float) * nA);
    float alpha = rldt_sac_alpha(s);

    /* critic: y = r + gamma (1 - terminated) (min Q'(s', a') - alpha log pi(a'|s')) */
    actor_out(s, s->d_next, B);
    rldt_sac_head_forward(s->h_out, eps_next, B, A, s->h_act, s->h_logp);
    be->upload(s->d_new, s->h_act, sizeof(float) * nA);
    rldt_critic_target_min(&s->critic, s->d_next, s->d_new, B, s->d_y);
    be->download(s->h_y, s->d_y, sizeof(float) * B);
    for (int b = 0; b < B; b++)
        s->h_y[b] = rew[b] + (term[b] ? 0.0f : s->gamma * (s->h_y[b] - alpha * s->h_logp[b]));
    be->upload(s->d_y, s->h_y, sizeof(float) * B);
    rldt_trainable_zero_grad(&s->critic.online);
    double critic_loss = 0;
    for (int m = 0; m < 2; m++) critic_loss += rldt_critic_accumulate(&s->critic, m, s->d_obs, s->d_act, s->d_y, B);
    step(&s->critic.online, &s->opt, s->critic_lr, st);

    /* actor: mean alpha log pi(a~|s) - min Q(s, a~), the gradient of the min through the smaller member */
    actor_out(s, s->d_obs, B);
    rldt_sac_head_forward(s->h_out, eps_now, B, A, s->h_act, s->h_logp);
    be->upload(s->d_new, s->h_act, sizeof(float) * nA);
    for (int m = 0; m < 2; m++) {
        const float *q = rldt_critic_member_action_grad(&s->critic, m, s->d_obs, s->d_new, B, s->d_g);
        be->download(s->h_q[m], q, sizeof(float) * B);
        be->download(s->h_g[m], s->d_g, sizeof(float) * nA);
    }
    double actor_loss = 0, logp_sum = 0, q_sum = 0;
    for (int b = 0; b < B; b++) {
        int m = s->h_q[1][b] < s->h_q[0][b];
        float qmin = s->h_q[m][b];
        for (int j = 0; j < A; j++) s->h_da[(size_t)b * A + j] = -s->h_g[m][(size_t)b * A + j] / (float)B;
        s->h_dlogp[b] = alpha / (float)B;
        actor_loss += alpha * s->h_logp[b] - qmin;
        logp_sum += s->h_logp[b];
        q_sum += qmin;
    }
    rldt_sac_head_backward(s->h_out, eps_now, s->h_act, s->h_da, s->h_dlogp, B, A, s->h_dout);
    be->upload(s->d_dout, s->h_dout, sizeof(float) * nA * 2);
    rldt_trainable_zero_grad(&s->actor);
    rldt_mlp_backward(&s->actor_net, s->actor.p, s->actor.g, s->d_dout, NULL);
    step(&s->actor, &s->opt, s->actor_lr, st);

    /* temperature: d/dlog_alpha of -mean log_alpha (log pi + H) */
    float g_alpha = (float)(-(logp_sum / B + s->target_entropy));
    be->upload(s->log_alpha.g, &g_alpha, sizeof g_alpha);
    step(&s->log_alpha, &s->opt, s->alpha_lr, st);

    rldt_critic_polyak(&s->critic, s->tau);
    s->updates++;
    float log_alpha = logf(alpha);
    st->critic_loss += critic_loss;
    st->actor_loss += actor_loss / B;
    st->alpha_loss += -log_alpha * (logp_sum / B + s->target_entropy);
    st->entropy += -logp_sum / B;
    st->q += q_sum / B;
    st->n++;
}

void rldt_sac_update(rldt_sac_t *s, const rldt_replay_t *buf, int B, rldt_sac_stats_t *st)
{
    size_t od = (size_t)s->obs_dim, A = (size_t)s->act_dim;
    for (int b = 0; b < B; b++) {
        int slot = (int)rldt_rng_below(&s->rng, (uint32_t)buf->count);
        memcpy(s->h_obs + b * od, rldt_replay_obs(buf, slot, 0), sizeof(float) * od);
        memcpy(s->h_next + b * od, rldt_replay_next_obs(buf, slot, 0), sizeof(float) * od);
        memcpy(s->h_batch_act + b * A, rldt_replay_act(buf, slot, 0), sizeof(float) * A);
        s->h_rew[b] = buf->rew[slot];
        s->h_term[b] = buf->term[slot];
    }
    fill_normal(&s->rng, s->h_eps, 2 * (size_t)B * A);
    rldt_sac_update_batch(s, s->h_obs, s->h_batch_act, s->h_rew, s->h_term, s->h_next, B, s->h_eps, s->h_eps + (size_t)B * A,
                          st);
}

void rldt_sac_store(rldt_replay_t *buf, const float *obs, const float *unit, const rldt_vec_out_t *out, int n)
{
    size_t od = (size_t)buf->obs_dim, A = (size_t)buf->D;
    for (int i = 0; i < n; i++) {
        bool ended = out->terminated[i] || out->truncated[i];
        int slot = rldt_replay_push(buf);
        memcpy(rldt_replay_obs(buf, slot, 0), obs + i * od, sizeof(float) * od);
        memcpy(rldt_replay_act(buf, slot, 0), unit + i * A, sizeof(float) * A);
        memcpy(rldt_replay_next_obs(buf, slot, 0), (ended ? out->final_obs : out->obs) + i * od, sizeof(float) * od);
        buf->rew[slot] = out->reward[i];
        buf->term[slot] = out->terminated[i];
        buf->ended[slot] = ended;
    }
}

// ---------------------------------------------------------------------------------------------------
// the evaluation agent

static void agent_act(void *ctx, const float *obs, const uint8_t *images, int n, bool deterministic, float *actions)
{
    rldt_sac_agent_t *a = ctx;
    (void)images;
    rldt_sac_act(a->sac, obs, n, deterministic, &a->rng, a->unit);
    rldt_sac_to_env(a->spec, a->unit, n, actions);
}

void rldt_sac_agent_init(rldt_sac_agent_t *a, rldt_sac_t *s, const rldt_env_spec_t *spec, uint64_t seed, rldt_agent_t *out)
{
    a->sac = s;
    a->spec = spec;
    rldt_rng_init(&a->rng, seed, rldt_rng_stream_id(RLDT_STREAM_POLICY, 1, 0));
    a->unit = rldt_xmalloc(sizeof(float) * (size_t)s->max_batch * s->act_dim);
    *out = (rldt_agent_t){.obs_dim = s->obs_dim, .act_dim = s->act_dim, .chunk = 1, .max_batch = s->max_batch, .act = agent_act,
                          .ctx = a};
}

void rldt_sac_agent_free(rldt_sac_agent_t *a)
{
    free(a->unit);
    a->unit = NULL;
}

// ---------------------------------------------------------------------------------------------------
// the checkpoint

/* The agent's tensors: where they live on the backend and their names. */
typedef struct {
    const char *name;
    float *dev;
    size_t n;
} sac_tensor_t;

static int sac_tensors(const rldt_sac_t *s, sac_tensor_t *t)
{
    const rldt_trainable_t *tr[3] = {&s->actor, &s->critic.online, &s->log_alpha};
    static const char *const names[3][3] = {{"actor/params", "actor/adam_m", "actor/adam_v"},
                                            {"critic/params", "critic/adam_m", "critic/adam_v"},
                                            {"log_alpha/params", "log_alpha/adam_m", "log_alpha/adam_v"}};
    int n = 0;
    for (int i = 0; i < 3; i++) {
        t[n++] = (sac_tensor_t){names[i][0], tr[i]->p, tr[i]->n};
        t[n++] = (sac_tensor_t){names[i][1], tr[i]->m, tr[i]->n};
        t[n++] = (sac_tensor_t){names[i][2], tr[i]->v, tr[i]->n};
    }
    t[n++] = (sac_tensor_t){"critic/target", s->critic.target, s->critic.online.n};
    return n;
}
#define SAC_TENSORS 10

rldt_status_t rldt_sac_save(const rldt_sac_t *s, const rldt_config_t *cfg, long env_steps, const rldt_sac_extra_t *extra,
                            const char *path)
{
    sac_tensor_t t[SAC_TENSORS];
    int n_extra = extra ? extra->n_tensors : 0, n_extra_sc = extra ? extra->n_scalars : 0;
    rldt_ckpt_tensor_t *ct = rldt_xmalloc(sizeof *ct * (size_t)(SAC_TENSORS + n_extra));
    int n = sac_tensors(s, t);
    for (int i = 0; i < n; i++) {
        float *host = rldt_xmalloc(sizeof(float) * t[i].n);
        s->be->download(host, t[i].dev, sizeof(float) * t[i].n);
        ct[i] = (rldt_ckpt_tensor_t){t[i].name, host, t[i].n, 0};
    }
    rldt_ckpt_scalar_t own[] = {{"obs_dim", s->obs_dim},           {"act_dim", s->act_dim},
                                {"env_steps", env_steps},          {"updates", s->updates},
                                {"actor_steps", s->actor.step},    {"critic_steps", s->critic.online.step},
                                {"alpha_steps", s->log_alpha.step}};
    int n_own = (int)(sizeof own / sizeof own[0]);
    rldt_ckpt_scalar_t *sc = rldt_xmalloc(sizeof *sc * (size_t)(n_own + n_extra_sc));
    memcpy(sc, own, sizeof own);
    if (n_extra) memcpy(ct + n, extra->tensors, sizeof *ct * (size_t)n_extra);
    if (n_extra_sc) memcpy(sc + n_own, extra->scalars, sizeof *sc * (size_t)n_extra_sc);
    char *json = rldt_config_to_json(cfg);
    rldt_status_t st = rldt_ckpt_save(path, RLDT_SAC_KIND, json, ct, n + n_extra, sc, n_own + n_extra_sc);
    free(json);
    for (int i = 0; i < n; i++) free((void *)ct[i].data);
    free(ct), free(sc);
    return st;
}

rldt_status_t rldt_sac_restore(rldt_sac_t *s, rldt_ckpt_t *c)
{
    static const char *const step_names[4] = {"actor_steps", "critic_steps", "alpha_steps", "updates"};
    int64_t steps[4] = {0};
    rldt_status_t st = RLDT_OK;
    sac_tensor_t t[SAC_TENSORS];
    int n = sac_tensors(s, t);
    for (int i = 0; i < n && !st; i++) {
        float *host = rldt_xmalloc(sizeof(float) * t[i].n);
        st = rldt_ckpt_read(c, t[i].name, host, t[i].n);
        if (!st) s->be->upload(t[i].dev, host, sizeof(float) * t[i].n);
        free(host);
    }
    for (int i = 0; i < 4 && !st; i++) st = rldt_ckpt_scalar_in(c, step_names[i], 0, INT64_MAX / 2, &steps[i]);
    if (st) return st;
    s->actor.step = steps[0], s->critic.online.step = steps[1], s->log_alpha.step = steps[2], s->updates = steps[3];
    return RLDT_OK;
}

rldt_status_t rldt_sac_load(rldt_sac_t *s, rldt_config_t *cfg, const char *path, int acting, const rldt_backend_t *be)
{
    memset(s, 0, sizeof *s);
    if (!be) be = rldt_backend_cpu();
    rldt_ckpt_t *c;
    rldt_status_t st = rldt_ckpt_open(&c, path, RLDT_SAC_KIND);
    if (st) return st;
    rldt_config_defaults(cfg);
    int64_t od = 0, ad = 0;
    st = rldt_config_from_json(cfg, rldt_ckpt_config(c), path);
    if (!st) st = rldt_ckpt_scalar_in(c, "obs_dim", 1, 1 << 20, &od);
    if (!st) st = rldt_ckpt_scalar_in(c, "act_dim", 1, RLDT_ENV_MAX_ACT, &ad);
    if (!st) {
        st = rldt_sac_init(s, cfg, (int)od, (int)ad, acting, be);
        if (!st && (st = rldt_sac_restore(s, c))) rldt_sac_free(s);
    }
    rldt_ckpt_close(c);
    return st;
}
