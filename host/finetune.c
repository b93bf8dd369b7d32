/* finetune.c — the RLDT fine-tuning loop: set-up, iterations, metrics, checkpoints (see rldt/finetune.h;
 * the rollout is in finetune_rollout.c, the critic/actor round in finetune_update.c). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/checkpoint.h"
#include "rldt/log.h"
#include "rldt/pretrain.h"

bool ft_skip(ft_t *f, ft_stats_t *st, const char *what)
{
    st->skipped++;
    f->skipped++;
    f->consecutive_skips++;
    rldt_warn("iteration %ld: non-finite %s loss or gradient, update skipped (%ld in a row)", f->itr, what, f->consecutive_skips);
    return f->consecutive_skips < f->cfg->ft_max_skips;
}

void ft_ok(ft_t *f) { f->consecutive_skips = 0; }

// ---------------------------------------------------------------------------------------------------
// buffers

static rldt_status_t alloc_all(ft_t *f)
{
    const rldt_backend_t *be = f->be;
    size_t n = (size_t)f->n_envs, mb = (size_t)f->max_batch, D = (size_t)f->D, od = (size_t)f->od, K = (size_t)f->K;
    struct {
        float **p;
        size_t len;
    } dev[] = {{&f->r_obs, n * od}, {&f->r_chain, (K + 1) * n * D}, {&f->r_xk, n * D}, {&f->r_t, n}, {&f->r_at, n * D},
               {&f->u_obs, mb * od}, {&f->u_act, mb * D}, {&f->u_tgt, mb}, {&f->u_x, mb * D}, {&f->u_chain, (K + 1) * mb * D},
               {&f->u_g, mb * D}, {&f->u_xk, mb * D}, {&f->u_t, mb}, {&f->u_at, mb * D}, {&f->u_phi, mb * D}, {&f->u_h, mb},
               {&f->u_alpha, mb}, {&f->u_dv, mb * D}, {&f->u_ref, mb * D}, {&f->u_tmp, mb * D}, {&f->vref, f->actor.n},
               {&f->pretrained, f->actor.n}};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (!(*dev[i].p = be->alloc(sizeof(float) * dev[i].len))) return rldt_error_set(RLDT_ERR, "finetune: out of %s memory", be->name);
    if (!(f->r_k = be->alloc(sizeof(int) * n)) || !(f->u_k = be->alloc(sizeof(int) * mb)))
        return rldt_error_set(RLDT_ERR, "finetune: out of %s memory", be->name);
    f->h_obs = rldt_xmalloc(sizeof(float) * n * od);
    f->h_x = rldt_xmalloc(sizeof(float) * n * D);
    f->h_at = rldt_xmalloc(sizeof(float) * n * D);
    f->h_exec = rldt_xmalloc(sizeof(float) * n * D);
    f->h_act = rldt_xmalloc(sizeof(float) * n * D);
    f->h_t = rldt_xmalloc(sizeof(float) * n);
    f->h_k = rldt_xmalloc(sizeof(int) * n);
    rldt_vecenv_out_alloc(f->venv, &f->out);
    f->seen_success = rldt_xcalloc(n, 1);
    f->ep_ret = rldt_xcalloc(n, sizeof(float));
    f->s_obs = rldt_xmalloc(sizeof(float) * mb * od);
    f->s_act = rldt_xmalloc(sizeof(float) * mb * D);
    f->s_tgt = rldt_xmalloc(sizeof(float) * mb);
    f->s_t = rldt_xmalloc(sizeof(float) * mb);
    f->s_k = rldt_xmalloc(sizeof(int) * mb);
    size_t seg = (size_t)f->buf.capacity;
    f->G = rldt_xmalloc(sizeof(float) * seg * f->T);
    f->qnext = rldt_xmalloc(sizeof(float) * seg * f->T);
    f->round_segs = rldt_xmalloc(sizeof(int) * seg);
    return RLDT_OK;
}

static void free_all(ft_t *f)
{
    const rldt_backend_t *be = f->be;
    void *dev[] = {f->r_obs, f->r_chain, f->r_xk, f->r_t, f->r_at, f->r_k, f->u_obs, f->u_act, f->u_tgt, f->u_x,
                   f->u_chain, f->u_g, f->u_xk, f->u_t, f->u_at, f->u_phi, f->u_h, f->u_alpha, f->u_dv, f->u_ref,
                   f->u_tmp, f->u_k, f->vref, f->pretrained};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) be->free(dev[i]);
    void *host[] = {f->h_obs, f->h_x, f->h_at, f->h_exec, f->h_act, f->h_t, f->h_k, f->seen_success, f->ep_ret,
                    f->s_obs, f->s_act, f->s_tgt, f->s_t, f->s_k, f->G, f->qnext, f->round_segs};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
    if (f->out.obs) rldt_vecenv_out_free(&f->out);
    if (f->critic.net.ops) rldt_critic_free(&f->critic);
    if (f->actor.p) rldt_trainable_free(&f->actor);
    if (f->pol.ws) rldt_policy_free(&f->pol);
    if (f->buf.obs) rldt_replay_free(&f->buf);
    rldt_vecenv_destroy(f->venv);
}

// ---------------------------------------------------------------------------------------------------
// checkpoints: everything a bit-exact resume needs

/* A host copy of n floats of backend memory. */
static float *host_copy(const rldt_backend_t *be, const float *dev, size_t n)
{
    float *h = rldt_xmalloc(sizeof(float) * (n ? n : 1));
    be->download(h, dev, sizeof(float) * n);
    return h;
}

#define N_DEV_TENSORS 9

static rldt_status_t save(ft_t *f, const char *path)
{
    const rldt_backend_t *be = f->be;
    size_t na = f->actor.n, nc = f->critic.online.n;
    const float *dev[N_DEV_TENSORS] = {f->actor.p, f->vref, f->pretrained, f->actor.m, f->actor.v,
                                       f->critic.online.p, f->critic.target, f->critic.online.m, f->critic.online.v};
    const char *names[N_DEV_TENSORS] = {RLDT_POLICY_WEIGHTS, "policy/ref", "policy/pretrained", "actor/m", "actor/v",
                                        "critic/online", "critic/target", "critic/m", "critic/v"};
    size_t len[N_DEV_TENSORS] = {na, na, na, na, na, nc, nc, nc, nc};
    rldt_ckpt_tensor_t t[32];
    int nt = 0;
    float *copies[N_DEV_TENSORS];
    for (int i = 0; i < N_DEV_TENSORS; i++) {
        copies[i] = host_copy(be, dev[i], len[i]);
        t[nt++] = (rldt_ckpt_tensor_t){names[i], copies[i], len[i], 0};
    }
    nt += rldt_policy_norm_tensors(&f->pol, t + nt);
    const rldt_replay_t *b = &f->buf;
    size_t steps = (size_t)b->capacity * b->T;
    t[nt++] = (rldt_ckpt_tensor_t){"replay/obs", b->obs, steps * b->obs_dim, 0};
    t[nt++] = (rldt_ckpt_tensor_t){"replay/next_obs", b->next_obs, steps * b->obs_dim, 0};
    t[nt++] = (rldt_ckpt_tensor_t){"replay/act", b->act, steps * b->D, 0};
    t[nt++] = (rldt_ckpt_tensor_t){"replay/rew", b->rew, steps, 0};
    t[nt++] = (rldt_ckpt_tensor_t){"replay/term", b->term, steps, 1};
    t[nt++] = (rldt_ckpt_tensor_t){"replay/ended", b->ended, steps, 1};
    t[nt++] = (rldt_ckpt_tensor_t){"replay/success", b->success, steps, 1};
    t[nt++] = (rldt_ckpt_tensor_t){"replay/mask", b->mask, steps, 1};
    t[nt++] = (rldt_ckpt_tensor_t){"rollout/seen_success", f->seen_success, (size_t)f->n_envs, 1};
    t[nt++] = (rldt_ckpt_tensor_t){"rollout/episode_return", f->ep_ret, (size_t)f->n_envs, 0};
    size_t env_bytes = rldt_vecenv_snapshot_size(f->venv);
    uint8_t *env = rldt_xmalloc(env_bytes);
    rldt_vecenv_snapshot(f->venv, env);
    t[nt++] = (rldt_ckpt_tensor_t){"rollout/envs", env, env_bytes, 1};
    int64_t scale_bits;
    memcpy(&scale_bits, &f->scaler.mean_abs, sizeof scale_bits);
    rldt_ckpt_scalar_t s[] = {{"itr", f->itr}, {"actor_updates", f->actor_updates}, {"env_steps", f->env_steps},
                              {"skipped", f->skipped}, {"actor_adam_step", f->actor.step},
                              {"critic_adam_step", f->critic.online.step}, {"replay_count", b->count},
                              {"replay_pushed", b->pushed}, {"reward_updates", f->scaler.updates},
                              {"reward_mean_abs_bits", scale_bits}, {"obs_dim", f->od}, {"act_dim", f->spec->act_dim}};
    char *json = rldt_config_to_json(f->cfg);
    rldt_status_t st = rldt_ckpt_save(path, "finetune", json, t, nt, s, (int)(sizeof s / sizeof s[0]));
    free(json);
    free(env);
    for (int i = 0; i < N_DEV_TENSORS; i++) free(copies[i]);
    return st;
}

/* Restores the whole training state from a finetune checkpoint into an initialised run. */
static rldt_status_t restore(ft_t *f, rldt_ckpt_t *c)
{
    const rldt_backend_t *be = f->be;
    size_t na = f->actor.n, nc = f->critic.online.n;
    float *dev[N_DEV_TENSORS] = {f->actor.p, f->vref, f->pretrained, f->actor.m, f->actor.v,
                                 f->critic.online.p, f->critic.target, f->critic.online.m, f->critic.online.v};
    const char *names[N_DEV_TENSORS] = {RLDT_POLICY_WEIGHTS, "policy/ref", "policy/pretrained", "actor/m", "actor/v",
                                        "critic/online", "critic/target", "critic/m", "critic/v"};
    size_t len[N_DEV_TENSORS] = {na, na, na, na, na, nc, nc, nc, nc};
    rldt_status_t st = RLDT_OK;
    for (int i = 0; i < N_DEV_TENSORS && !st; i++) {
        float *h = rldt_xmalloc(sizeof(float) * len[i]);
        st = rldt_ckpt_read(c, names[i], h, len[i]);
        if (!st) be->upload(dev[i], h, sizeof(float) * len[i]);
        free(h);
    }
    rldt_replay_t *b = &f->buf;
    size_t steps = (size_t)b->capacity * b->T;
    if (!st) st = rldt_ckpt_read(c, "replay/obs", b->obs, steps * b->obs_dim);
    if (!st) st = rldt_ckpt_read(c, "replay/next_obs", b->next_obs, steps * b->obs_dim);
    if (!st) st = rldt_ckpt_read(c, "replay/act", b->act, steps * b->D);
    if (!st) st = rldt_ckpt_read(c, "replay/rew", b->rew, steps);
    if (!st) st = rldt_ckpt_read_bytes(c, "replay/term", b->term, steps);
    if (!st) st = rldt_ckpt_read_bytes(c, "replay/ended", b->ended, steps);
    if (!st) st = rldt_ckpt_read_bytes(c, "replay/success", b->success, steps);
    if (!st) st = rldt_ckpt_read_bytes(c, "replay/mask", b->mask, steps);
    if (!st) st = rldt_ckpt_read_bytes(c, "rollout/seen_success", f->seen_success, (size_t)f->n_envs);
    if (!st) st = rldt_ckpt_read(c, "rollout/episode_return", f->ep_ret, (size_t)f->n_envs);
    if (!st) {
        size_t env_bytes = rldt_vecenv_snapshot_size(f->venv);
        uint8_t *env = rldt_xmalloc(env_bytes);
        st = rldt_ckpt_read_bytes(c, "rollout/envs", env, env_bytes);
        if (!st) st = rldt_vecenv_restore(f->venv, env, env_bytes);
        free(env);
    }
    int64_t v[10];
    const char *sn[10] = {"itr", "actor_updates", "env_steps", "skipped", "actor_adam_step", "critic_adam_step",
                          "replay_count", "replay_pushed", "reward_updates", "reward_mean_abs_bits"};
    for (int i = 0; i < 10 && !st; i++) st = rldt_ckpt_scalar(c, sn[i], &v[i]);
    if (st) return st;
    f->itr = v[0];
    f->actor_updates = v[1];
    f->env_steps = v[2];
    f->skipped = v[3];
    f->actor.step = v[4];
    f->critic.online.step = v[5];
    b->count = (int)v[6];
    b->pushed = v[7];
    f->scaler.updates = v[8];
    memcpy(&f->scaler.mean_abs, &v[9], sizeof f->scaler.mean_abs);
    return RLDT_OK;
}

// ---------------------------------------------------------------------------------------------------
// set-up

static rldt_status_t setup(ft_t *f, rldt_config_t *cfg, const rldt_env_spec_t *spec, const rldt_backend_t *be)
{
    const char *from = cfg->ft_resume[0] ? cfg->ft_resume : cfg->ft_init;
    if (!from[0]) return rldt_error_set(RLDT_ERR_USAGE, "finetune needs init=CHECKPOINT (or finetune.resume=CHECKPOINT)");
    rldt_ckpt_t *c;
    rldt_status_t st = rldt_ckpt_open(&c, from, cfg->ft_resume[0] ? "finetune" : NULL);
    if (st) return st;
    f->cfg = cfg;
    f->spec = spec;
    f->be = be;
    f->P = (int)cfg->svgd_particles;
    f->n_envs = (int)cfg->env_n_envs;
    f->T = (int)cfg->ft_n_steps;
    f->sparse = spec->reward_kind == RLDT_REWARD_SPARSE;
    int actor_rows = (int)cfg->actor_states * f->P;
    f->max_batch = 1024;
    if (actor_rows > f->max_batch) f->max_batch = actor_rows;
    if (cfg->critic_batch > f->max_batch) f->max_batch = (int)cfg->critic_batch;
    if (f->n_envs > f->max_batch) f->max_batch = f->n_envs;
    /* the policy's shape comes from the checkpoint; the run's config records it */
    rldt_config_t from_cfg;
    st = rldt_policy_from_ckpt(c, &from_cfg, &f->pol, f->max_batch, be);
    if (!st && (spec->obs_dim != f->pol.spec.obs_dim || spec->act_dim != f->pol.spec.act_dim))
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: policy for obs %d / act %d cannot drive %s (obs %d / act %d)", from,
                            f->pol.spec.obs_dim, f->pol.spec.act_dim, spec->name, spec->obs_dim, spec->act_dim);
    if (st) {
        rldt_ckpt_close(c);
        return st;
    }
    cfg->policy_chunk = from_cfg.policy_chunk;
    cfg->policy_k = from_cfg.policy_k;
    cfg->policy_width = from_cfg.policy_width;
    cfg->policy_blocks = from_cfg.policy_blocks;
    cfg->policy_layernorm = from_cfg.policy_layernorm;
    cfg->policy_time_dim = from_cfg.policy_time_dim;
    memcpy(cfg->policy_act, from_cfg.policy_act, sizeof cfg->policy_act);
    f->od = f->pol.spec.obs_dim;
    f->D = f->pol.spec.D;
    f->K = f->pol.spec.K;
    float *w = rldt_xmalloc(sizeof(float) * f->pol.nparams);
    st = rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, w, f->pol.nparams);
    if (!st) st = rldt_trainable_init(&f->actor, be, f->pol.nparams, w);
    free(w);
    rldt_rng_t rng;
    rldt_rng_init(&rng, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_INIT, 1, 0));
    if (!st)
        st = rldt_critic_init(&f->critic, f->od, f->D, (int)cfg->critic_width, (int)cfg->critic_depth, (int)cfg->critic_members,
                              f->max_batch, be, &rng);
    int capacity = cfg->ft_buffer > 0 ? (int)cfg->ft_buffer : 20 * f->n_envs;
    if (capacity < f->n_envs) capacity = f->n_envs;
    if (!st) {
        rldt_replay_init(&f->buf, f->od, f->D, f->T, capacity);
        st = rldt_vecenv_create(&f->venv, spec, f->n_envs, (int)cfg->env_max_steps, (uint64_t)cfg->run_seed, 0, (int)cfg->run_threads);
    }
    rldt_reward_scaler_init(&f->scaler);
    if (!st) st = alloc_all(f);
    if (!st) {
        be->copy(f->vref, f->actor.p, sizeof(float) * f->actor.n);
        be->copy(f->pretrained, f->actor.p, sizeof(float) * f->actor.n);
    }
    if (!st && cfg->ft_resume[0]) st = restore(f, c);
    rldt_ckpt_close(c);
    return st;
}

// ---------------------------------------------------------------------------------------------------
// the loop

static void write_metrics(FILE *jsonl, FILE *csv, const ft_t *f, const ft_stats_t *s, const rldt_eval_result_t *ev,
                          double env_sps, double update_s)
{
    double cn = s->critic_n ? s->critic_n : 1, an = s->actor_n ? s->actor_n : 1;
    fprintf(jsonl,
            "{\"itr\":%ld,\"env_steps\":%ld,\"env_steps_per_s\":%.1f,\"update_s\":%.3f,\"eval_episodes\":%d,"
            "\"eval_success\":%.4f,\"eval_return\":%.4f,\"critic_loss\":%.6g,\"loss_transport\":%.6g,"
            "\"loss_consist\":%.6g,\"loss_reg\":%.6g,\"phi_norm\":%.6g,\"bandwidth\":%.6g,\"alpha\":%.6g,\"skipped\":%ld}\n",
            f->itr, f->env_steps, env_sps, update_s, ev ? ev->episodes : 0, ev ? ev->success_rate : NAN,
            ev ? ev->return_mean : NAN, s->critic_loss / cn, s->transport / an, s->consist / an, s->reg / an,
            s->phi_norm / an, s->bandwidth / an, s->alpha / an, s->skipped);
    fprintf(csv, "%ld,%ld,%.1f,%.3f,%d,%.4f,%.4f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%ld\n", f->itr, f->env_steps, env_sps,
            update_s, ev ? ev->episodes : 0, ev ? ev->success_rate : NAN, ev ? ev->return_mean : NAN, s->critic_loss / cn,
            s->transport / an, s->consist / an, s->reg / an, s->phi_norm / an, s->bandwidth / an, s->alpha / an, s->skipped);
    fflush(jsonl);
    fflush(csv);
}

static rldt_status_t evaluate(ft_t *f, rldt_eval_result_t *res)
{
    const rldt_config_t *cfg = f->cfg;
    rldt_eval_opts_t o = {(int)cfg->eval_episodes, f->n_envs, (int)cfg->run_threads, cfg->eval_deterministic,
                          (uint64_t)cfg->run_seed + 1000003u * (uint64_t)(f->itr + 1), (int)cfg->env_max_steps, NULL, NULL};
    return rldt_evaluate(&f->pol, f->actor.p, f->spec, &o, res);
}

rldt_status_t rldt_finetune(const rldt_config_t *cfg_in, const rldt_env_spec_t *spec, const rldt_backend_t *be,
                            rldt_finetune_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (cfg_in->svgd_particles > RLDT_MAX_PARTICLES)
        return rldt_error_set(RLDT_ERR_USAGE, "svgd.particles %ld exceeds %d", cfg_in->svgd_particles, RLDT_MAX_PARTICLES);
    rldt_config_t cfg = *cfg_in;
    rldt_backend_cpu_threads((int)cfg.run_blas_threads);
    ft_t f;
    memset(&f, 0, sizeof f);
    rldt_status_t st = setup(&f, &cfg, spec, be);
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/%s", cfg.run_out_dir, cfg.run_name);
    if (!st) st = rldt_mkdirs(dir);
    FILE *jsonl = NULL, *csv = NULL;
    if (!st) {
        const char *mode = cfg.ft_resume[0] ? "a" : "w";
        snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
        jsonl = fopen(path, mode);
        snprintf(path, sizeof path, "%s/metrics.csv", dir);
        csv = fopen(path, mode);
        if (!jsonl || !csv) st = rldt_error_set(RLDT_ERR, "cannot write metrics in %s", dir);
        else if (!cfg.ft_resume[0])
            fputs("itr,env_steps,env_steps_per_s,update_s,eval_episodes,eval_success,eval_return,critic_loss,loss_transport,"
                  "loss_consist,loss_reg,phi_norm,bandwidth,alpha,skipped\n", csv);
    }
    if (st) goto done;
    rldt_info("finetune %s from %s: %zu policy params, %d x %zu critic params, %d envs x %d chunk-steps, P=%d, K=%d, "
              "kernel %s, backend %s", spec->name, cfg.ft_resume[0] ? cfg.ft_resume : cfg.ft_init, f.actor.n,
              f.critic.members, f.critic.member_params, f.n_envs, f.T, f.P, f.K, cfg.svgd_kernel, be->name);
    double t_run = rldt_now();
    bool first_eval = true;
    snprintf(res->ckpt_path, sizeof res->ckpt_path, "%s/finetune.ckpt", dir);
    for (; f.itr < cfg.ft_iterations; f.itr++) {
        ft_stats_t s = {0};
        rldt_eval_result_t ev, *evp = NULL;
        if (cfg.ft_val_freq > 0 && f.itr % cfg.ft_val_freq == 0) {
            if ((st = evaluate(&f, &ev))) goto done;
            evp = &ev;
            if (first_eval) res->eval_first = ev;
            first_eval = false;
            res->eval_last = ev;
        }
        double t0 = rldt_now();
        long steps0 = f.env_steps;
        int fresh = ft_rollout(&f, &s);
        double t1 = rldt_now();
        for (int r = 0; r < cfg.ft_q_repeat && f.consecutive_skips < cfg.ft_max_skips; r++) ft_round(&f, fresh, r, &s);
        if (!cfg.ft_anchor) be->copy(f.vref, f.actor.p, sizeof(float) * f.actor.n);
        double t2 = rldt_now(), sps = (double)(f.env_steps - steps0) / (t1 - t0 > 0 ? t1 - t0 : 1e-9);
        write_metrics(jsonl, csv, &f, &s, evp, sps, t2 - t1);
        double an = s.actor_n ? s.actor_n : 1;
        char evs[96] = "";
        if (evp) snprintf(evs, sizeof evs, " | eval success %.0f%% return %.2f", 100 * ev.success_rate, ev.return_mean);
        rldt_info("itr %ld/%ld | env steps %ld (%.0f/s) | update %.1fs%s | Q loss %.4g | L_T %.4g L_C %.4g L_R %.4g | "
                  "|phi| %.3g h %.3g alpha %.3g%s",
                  f.itr + 1, cfg.ft_iterations, f.env_steps, sps, t2 - t1, evs, s.critic_n ? s.critic_loss / s.critic_n : NAN,
                  s.transport / an, s.consist / an, s.reg / an, s.phi_norm / an, s.bandwidth / an, s.alpha / an,
                  s.skipped ? " | skipped updates" : "");
        if (f.consecutive_skips >= cfg.ft_max_skips) {
            f.itr++;
            snprintf(path, sizeof path, "%s/finetune_stopped.ckpt", dir);
            st = save(&f, path);
            st = rldt_error_set(RLDT_ERR, "%ld consecutive non-finite updates: stopped; state saved to %s%s", f.consecutive_skips,
                                path, st ? " (saving failed too)" : "");
            goto done;
        }
        if (cfg.ft_ckpt_every > 0 && (f.itr + 1) % cfg.ft_ckpt_every == 0 && f.itr + 1 < cfg.ft_iterations) {
            f.itr++;
            snprintf(path, sizeof path, "%s/finetune_%ld.ckpt", dir, f.itr);
            st = save(&f, path);
            f.itr--;
            if (st) goto done;
            rldt_info("checkpoint %s", path);
        }
    }
    if ((st = save(&f, res->ckpt_path))) goto done;
    rldt_info("checkpoint %s", res->ckpt_path);
    rldt_eval_result_t ev;
    if ((st = evaluate(&f, &ev))) goto done;
    if (first_eval) res->eval_first = ev;
    res->eval_last = ev;
    rldt_info("final eval: success %.1f%%, return %.2f ± %.2f (%d episodes)", 100 * ev.success_rate, ev.return_mean,
              ev.return_std, ev.episodes);
    res->seconds = rldt_now() - t_run;
done:
    res->iterations = (int)f.itr;
    res->env_steps = f.env_steps;
    res->skipped = f.skipped;
    if (jsonl) fclose(jsonl);
    if (csv) fclose(csv);
    free_all(&f);
    return st;
}
