/* finetune_setup.c — a fine-tune's state built from its init or resume checkpoint: the policy, critics,
 * buffer and envs, and every buffer the rollouts and updates use (allocated once); and its teardown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "rldt/checkpoint.h"
#include "rldt/comm.h"

static rldt_status_t alloc_all(ft_t *f)
{
    const rldt_backend_t *be = f->be;
    size_t n = (size_t)f->n_envs, mb = (size_t)f->max_batch, D = (size_t)f->D, od = (size_t)f->od, K = (size_t)f->K;
    size_t pin = (size_t)f->pin, ib = f->img_bytes;
    size_t seg = (size_t)f->buf.capacity, steps = seg * (size_t)f->T, rsteps = (size_t)f->round_segs_max * (size_t)f->T;
    size_t M = (size_t)f->cfg->critic_samples;
    f->mirrored = be != rldt_backend_cpu();
    struct {
        void **p;
        size_t bytes;
    } dev[] = {{(void **)&f->r_obs, n * pin}, {(void **)&f->r_chain, (K + 1) * n * D}, {(void **)&f->r_xk, n * D},
               {(void **)&f->r_t, n}, {(void **)&f->r_at, n * D}, {(void **)&f->r_noise, n * D}, {(void **)&f->r_exec, n * D},
               {(void **)&f->u_obs, mb * pin}, {(void **)&f->u_act, mb * D}, {(void **)&f->u_tgt, mb}, {(void **)&f->u_x, mb * D},
               {(void **)&f->u_chain, (K + 1) * mb * D}, {(void **)&f->u_g, mb * D}, {(void **)&f->u_xk, mb * D},
               {(void **)&f->u_t, mb}, {(void **)&f->u_at, mb * D}, {(void **)&f->u_phi, mb * D}, {(void **)&f->u_h, mb},
               {(void **)&f->u_alpha, mb}, {(void **)&f->u_dv, mb * D}, {(void **)&f->u_ref, mb * D}, {(void **)&f->u_tmp, mb * D},
               {(void **)&f->vref, f->actor.n}, {(void **)&f->pretrained, f->actor.n}, {(void **)&f->d_G, steps},
               {(void **)&f->u_qnext, rsteps}, {(void **)&f->r_k, n}, {(void **)&f->u_k, mb}, {(void **)&f->u_idx, mb},
               {(void **)&f->d_rows, steps}, {(void **)&f->d_segrows, seg}, {(void **)&f->d_round, rsteps},
               {(void **)&f->u_boot, M * rsteps * D}, {(void **)&f->u_sgrad, f->actor.n}};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) /* every entry is 4-byte floats or ints */
        if (!(*dev[i].p = be->alloc(4 * dev[i].bytes))) return rldt_error_set(RLDT_ERR, "finetune: out of %s memory", be->name);
    if (f->mirrored) {
        struct {
            void **p;
            size_t bytes;
        } mirror[] = {{(void **)&f->d_obs, sizeof(float) * steps * od}, {(void **)&f->d_next, sizeof(float) * steps * od},
                      {(void **)&f->d_act, sizeof(float) * steps * D}, {(void **)&f->d_rew, sizeof(float) * steps},
                      {(void **)&f->d_term, steps}, {(void **)&f->d_ended, steps}};
        for (size_t i = 0; i < sizeof mirror / sizeof mirror[0]; i++)
            if (!(*mirror[i].p = be->alloc(mirror[i].bytes))) return rldt_error_set(RLDT_ERR, "finetune: out of %s memory", be->name);
    } else {
        f->d_obs = f->buf.obs, f->d_next = f->buf.next_obs, f->d_act = f->buf.act, f->d_rew = f->buf.rew;
        f->d_term = f->buf.term, f->d_ended = f->buf.ended;
    }
    if (ib) { /* a pixel policy's (finetune_pixels.c) */
        struct {
            void **p;
            size_t bytes;
        } px[] = {{(void **)&f->u_low, sizeof(float) * mb * od}, {(void **)&f->u_oref, sizeof(float) * mb * pin},
                  {(void **)&f->u_dfeat, sizeof(float) * mb * (size_t)f->px.F}, {(void **)&f->u_img, mb * ib},
                  {(void **)&f->r_img, n * ib}};
        for (size_t i = 0; i < sizeof px / sizeof px[0]; i++)
            if (!(*px[i].p = be->alloc(px[i].bytes))) return rldt_error_set(RLDT_ERR, "finetune: out of %s memory", be->name);
        f->h_img = rldt_xmalloc(mb * ib);
        f->h_idx = rldt_xmalloc(sizeof(int) * mb);
        f->h_row = rldt_xmalloc(sizeof(float) * pin);
    }
    f->h_obs = rldt_xmalloc(sizeof(float) * n * pin);
    f->h_exec = rldt_xmalloc(sizeof(float) * n * D);
    f->h_act = rldt_xmalloc(sizeof(float) * n * D);
    rldt_vecenv_out_alloc(f->venv, &f->out);
    f->seen_success = rldt_xcalloc(n, 1);
    f->prev_raw = rldt_xcalloc(n, sizeof(float));
    f->ep_ret = rldt_xcalloc(n, sizeof(float));
    f->round_segs = rldt_xmalloc(sizeof(int) * seg);
    f->rows = rldt_xmalloc(sizeof(int) * steps);
    f->slots = rldt_xmalloc(sizeof(int) * n);
    f->bad = rldt_xmalloc(n);
    f->rewards = rldt_xmalloc(sizeof(float) * n * (size_t)f->T);
    size_t logged = (size_t)ft_updates_per_rollout(f, f->cfg, true); /* per iteration, at most */
    f->sg_norm = rldt_xmalloc(sizeof(double) * logged * K);
    f->sg_update = rldt_xmalloc(sizeof(long) * logged);
    return RLDT_OK;
}

void ft_mirror(ft_t *f, int first, int n)
{
    if (!f->mirrored) return;
    const rldt_backend_t *be = f->be;
    const rldt_replay_t *b = &f->buf;
    for (int done = 0; done < n;) { /* at most two contiguous runs: up to the end of the buffer, then from 0 */
        int s = (first + done) % b->capacity, run = n - done < b->capacity - s ? n - done : b->capacity - s;
        size_t row = rldt_replay_step(b, s, 0), rows = (size_t)run * b->T, od = (size_t)b->obs_dim, D = (size_t)b->D;
        be->upload(f->d_obs + row * od, b->obs + row * od, sizeof(float) * rows * od);
        be->upload(f->d_next + row * od, b->next_obs + row * od, sizeof(float) * rows * od);
        be->upload(f->d_act + row * D, b->act + row * D, sizeof(float) * rows * D);
        be->upload(f->d_rew + row, b->rew + row, sizeof(float) * rows);
        be->upload(f->d_term + row, b->term + row, rows);
        be->upload(f->d_ended + row, b->ended + row, rows);
        done += run;
    }
}

void ft_free(ft_t *f)
{
    const rldt_backend_t *be = f->be;
    void *dev[] = {f->r_obs, f->r_chain, f->r_xk, f->r_t, f->r_at, f->r_noise, f->r_exec, f->r_k, f->u_obs, f->u_act,
                   f->u_tgt, f->u_x, f->u_chain, f->u_g, f->u_xk, f->u_t, f->u_at, f->u_phi, f->u_h, f->u_alpha, f->u_dv,
                   f->u_ref, f->u_tmp, f->u_k, f->u_idx, f->vref, f->pretrained, f->d_G, f->u_qnext, f->d_rows, f->d_segrows, f->d_round, f->u_boot,
                   f->u_sgrad, f->u_low, f->u_oref, f->u_dfeat, f->u_img, f->r_img};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) be->free(dev[i]);
    if (f->mirrored) {
        void *mirror[] = {f->d_obs, f->d_next, f->d_act, f->d_rew, f->d_term, f->d_ended};
        for (size_t i = 0; i < sizeof mirror / sizeof mirror[0]; i++)
            if (mirror[i]) be->free(mirror[i]);
    }
    void *host[] = {f->h_obs, f->h_exec, f->h_act, f->seen_success, f->prev_raw, f->ep_ret, f->round_segs, f->rows, f->slots, f->bad, f->rewards,
                    f->sg_norm, f->sg_update, f->h_img, f->h_idx, f->h_row};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
    if (f->out.obs) rldt_vecenv_out_free(&f->out);
    if (f->critic.net.ops) rldt_critic_free(&f->critic);
    if (f->actor.p) rldt_trainable_free(&f->actor);
    if (f->pol.ws) rldt_policy_free(&f->pol);
    rldt_pixels_free(&f->px);
    if (f->buf.obs) rldt_replay_free(&f->buf);
    rldt_vecenv_destroy(f->venv);
    ft_ppo_free(f);
}

// ---------------------------------------------------------------------------------------------------
// set-up

rldt_status_t ft_setup(ft_t *f, rldt_config_t *cfg, const rldt_env_spec_t *spec, const rldt_backend_t *be)
{
    const char *from = cfg->ft_resume[0] ? cfg->ft_resume : cfg->ft_init;
    if (!from[0]) return rldt_error_set(RLDT_ERR_USAGE, "finetune needs init=CHECKPOINT (or finetune.resume=CHECKPOINT)");
    if (cfg->ft_resume[0] && spec->gym)
        return rldt_error_set(RLDT_ERR_USAGE, "finetune.resume: %s is a Gymnasium env, whose state lives in its worker processes and "
                              "is not in checkpoints, so its fine-tunes cannot resume (start a new one with init=CHECKPOINT)", spec->name);
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
    f->algo = strcmp(cfg->ft_algo, "ppo") == 0 ? FT_PPO : strcmp(cfg->ft_algo, "bptt") == 0 ? FT_BPTT : FT_RLDT;
    int actor_rows = (int)cfg->actor_states * f->P;
    f->max_batch = 1024;
    if (f->algo == FT_PPO && cfg->ppo_minibatch > f->max_batch) f->max_batch = (int)cfg->ppo_minibatch;
    if (actor_rows > f->max_batch) f->max_batch = actor_rows;
    if (cfg->critic_batch > f->max_batch) f->max_batch = (int)cfg->critic_batch;
    if (f->n_envs > f->max_batch) f->max_batch = f->n_envs;
    /* the policy's shape comes from the checkpoint; the run's config records it */
    rldt_config_t from_cfg;
    st = rldt_policy_from_ckpt_pixels(c, &from_cfg, &f->pol, &f->px, f->max_batch, be);
    bool pixels = !st && f->px.enc.ws; /* a pixel policy: its low-dim columns come first */
    int od = pixels ? f->px.od : f->pol.spec.obs_dim;
    if (!st && (spec->obs_dim != od || spec->act_dim != f->pol.spec.act_dim))
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: policy for obs %d / act %d cannot drive %s (obs %d / act %d)", from, od,
                            f->pol.spec.act_dim, spec->name, spec->obs_dim, spec->act_dim);
    if (!st && pixels) {
        const rldt_encoder_spec_t *es = &f->px.enc.spec;
        st = rldt_pixels_check_task(es->h, es->w, es->c, spec);
        if (st) {
            char why[512];
            snprintf(why, sizeof why, "%s", rldt_error_message());
            st = rldt_error_set(st, "%s: %s", from, why);
        } else if (f->algo != FT_RLDT)
            st = rldt_error_set(RLDT_ERR_USAGE, "%s: a pixel policy (policy.encoder=%s) fine-tunes with finetune.algo=rldt only, not %s",
                                from, from_cfg.policy_encoder, cfg->ft_algo);
    }
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
    memcpy(cfg->policy_encoder, from_cfg.policy_encoder, sizeof cfg->policy_encoder);
    cfg->policy_encoder_feature = from_cfg.policy_encoder_feature;
    cfg->policy_encoder_shift = from_cfg.policy_encoder_shift;
    f->od = od;
    f->pin = f->pol.spec.obs_dim;
    f->img_bytes = rldt_pixels_image_bytes(&f->px);
    f->D = f->pol.spec.D;
    f->K = f->pol.spec.K;
    size_t na = f->pol.nparams + f->px.enc.nparams; /* a pixel policy's encoder follows it */
    float *w = rldt_xmalloc(sizeof(float) * na);
    st = rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, w, na);
    if (!st) st = rldt_trainable_init(&f->actor, be, na, w);
    free(w);
    rldt_rng_t rng;
    rldt_rng_init(&rng, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_INIT, 1, 0));
    if (!st)
        st = rldt_critic_init_pixels(&f->critic, f->od, f->D, (int)cfg->critic_width, (int)cfg->critic_depth, (int)cfg->critic_members,
                                     f->max_batch, be, &rng, pixels ? &f->px.enc.spec : NULL); /* its own encoder, as the policy's */
    int capacity = cfg->ft_buffer > 0 ? (int)cfg->ft_buffer : 20 * f->n_envs;
    if (capacity < f->n_envs || f->algo == FT_PPO) capacity = f->n_envs; /* PPO learns from the last rollout only */
    f->round_segs_max = cfg->ft_batch_segments > 0 ? (int)cfg->ft_batch_segments : f->n_envs; /* as ft_round takes them */
    if (f->round_segs_max > capacity) f->round_segs_max = capacity;
    const rldt_comm_t *world = rldt_comm_world();
    if (!st && world->size > 1 && capacity % f->n_envs) /* checkpoints lay the ranks' buffers out by whole rollouts */
        st = rldt_error_set(RLDT_ERR_USAGE, "finetune.buffer_segments %d is not a multiple of env.n_envs %d, as it must be on several ranks",
                            capacity, f->n_envs);
    if (!st) { /* each rank's envs: their episodes are seeded from (run.seed, rank, env) */
        rldt_replay_init(&f->buf, f->od, f->D, f->T, capacity);
        if (pixels) rldt_replay_add_images(&f->buf, f->img_bytes);
        st = rldt_vecenv_create(&f->venv, spec, f->n_envs, (int)cfg->env_max_steps, (uint64_t)cfg->run_seed, (uint32_t)world->rank,
                                (int)cfg->run_threads);
    }
    rldt_reward_scaler_init(&f->scaler);
    if (!st) st = alloc_all(f);
    if (!st && f->algo == FT_PPO) st = ft_ppo_init(f);
    if (!st) {
        be->copy(f->vref, f->actor.p, sizeof(float) * f->actor.n);
        be->copy(f->pretrained, f->actor.p, sizeof(float) * f->actor.n);
    }
    if (!st && cfg->ft_resume[0]) {
        st = ft_restore(f, c, &from_cfg);
        cfg->ft_demo_segments = from_cfg.ft_demo_segments; /* the buffer (demos included) is the checkpoint's */
    } else if (!st && cfg->ft_demo_segments > 0) {
        st = ft_demos(f);
    }
    rldt_ckpt_close(c);
    return st;
}
