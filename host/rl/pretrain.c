/* pretrain.c — behaviour-cloning pretraining of the flow policy (see rldt/pretrain.h).
 *
 * Pixel observations (policy.encoder = drq with data.image_keys = one uint8 key): a DrQ encoder
 * (rldt/encoder.h) turns each sample's image into policy.encoder_feature features that fill the last columns
 * of the policy's observation, after the standardised low-dim ones (whose normalisers there are mean 0,
 * std 1). Its parameters follow the policy's in the one trained buffer (so Adam, the EMA, clipping, the
 * rank average and the checkpoint tensors policy/params and policy/weights cover both), its images are
 * randomly shifted in training (policy.encoder_shift; the step's stream draws the shifts after z and t) and
 * not for the validation loss, and the loss's gradient at the features flows back through it (rldt/pixels.h).
 * Evaluation runs when the task observes images of the dataset's shape (a *_rgb task), and is skipped with a
 * note otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rldt/checkpoint.h"
#include "rldt/comm.h"
#include "rldt/pixels.h"
#include "rldt/log.h"
#include "rldt/path.h"
#include "rldt/pretrain.h"

// ---------------------------------------------------------------------------------------------------
// minibatches of demonstration chunks

void rldt_pretrain_chunk(const rldt_dataset_t *d, const rldt_policy_t *p, const rldt_pixels_t *px, size_t s, float *obs_row,
                         float *act_row)
{
    int ad = p->spec.act_dim;
    rldt_pixels_observe(px, p, d->obs + s * (size_t)d->meta.obs_dim, obs_row, 1);
    size_t last = d->ep_start[d->ep_index[s] + 1] - 1;
    for (int k = 0; k < p->spec.chunk; k++) {
        size_t j = s + (size_t)k <= last ? s + (size_t)k : last;
        rldt_policy_normalize_actions(p, d->actions + j * ad, act_row + (size_t)k * ad, 1);
    }
}

/* Device buffers of one step. */
typedef struct {
    float *obs_h, *act_h;                /* host staging */
    uint8_t *img_h, *img;                /* the rows' images, host and device (pixel observations only) */
    size_t img_bytes;                    /* of one image; 0: none */
    float *obs, *act, *z, *t, *xt, *target, *grad;
} batch_t;

static rldt_status_t batch_init(batch_t *b, const rldt_backend_t *be, int B, int od, int D, size_t img_bytes)
{
    memset(b, 0, sizeof *b);
    b->obs_h = rldt_xmalloc(sizeof(float) * (size_t)B * od);
    b->act_h = rldt_xmalloc(sizeof(float) * (size_t)B * D);
    float **dev[] = {&b->obs, &b->act, &b->z, &b->t, &b->xt, &b->target, &b->grad};
    size_t len[] = {(size_t)B * od, (size_t)B * D, (size_t)B * D, (size_t)B, (size_t)B * D, (size_t)B * D, (size_t)B * D};
    for (int i = 0; i < 7; i++)
        if (!(*dev[i] = be->alloc(sizeof(float) * len[i]))) return rldt_error_set(RLDT_ERR, "pretrain: out of %s memory", be->name);
    b->img_bytes = img_bytes;
    if (img_bytes) {
        b->img_h = rldt_xmalloc(img_bytes * (size_t)B);
        if (!(b->img = be->alloc(img_bytes * (size_t)B))) return rldt_error_set(RLDT_ERR, "pretrain: out of %s memory", be->name);
    }
    return RLDT_OK;
}

static void batch_free(batch_t *b, const rldt_backend_t *be)
{
    float *dev[] = {b->obs, b->act, b->z, b->t, b->xt, b->target, b->grad};
    for (int i = 0; i < 7; i++)
        if (dev[i]) be->free(dev[i]);
    if (b->img) be->free(b->img);
    free(b->obs_h), free(b->act_h), free(b->img_h);
}

/* Uploads the chunks at `samples`, draws z and t from `rng` and forms the flow-matching pairs. */
static void batch_fill(batch_t *b, const rldt_dataset_t *d, const rldt_policy_t *p, const rldt_pixels_t *px, const size_t *samples,
                       int B, rldt_rng_t *rng)
{
    const rldt_backend_t *be = p->be;
    int od = p->spec.obs_dim, D = p->spec.D;
    for (int r = 0; r < B; r++) rldt_pretrain_chunk(d, p, px, samples[r], b->obs_h + (size_t)r * od, b->act_h + (size_t)r * D);
    be->upload(b->obs, b->obs_h, sizeof(float) * (size_t)B * od);
    if (b->img_bytes) {
        for (int r = 0; r < B; r++) memcpy(b->img_h + (size_t)r * b->img_bytes, d->images[0] + samples[r] * b->img_bytes, b->img_bytes);
        be->upload(b->img, b->img_h, b->img_bytes * (size_t)B);
    }
    be->upload(b->act, b->act_h, sizeof(float) * (size_t)B * D);
    be->fill_normal(b->z, (size_t)B * D, rng->seed, rng->stream, rldt_rng_claim(rng, (size_t)B * D));
    be->fill_uniform(b->t, (size_t)B, rng->seed, rng->stream, rldt_rng_claim(rng, (size_t)B));
    be->flow_pair(b->xt, b->target, b->act, b->z, b->t, B, D);
}

/* Checks data.image_keys and policy.encoder together and builds the encoder for train's images. */
static rldt_status_t pixels_init(rldt_pixels_t *px, const rldt_config_t *cfg, const rldt_dataset_t *train, int max_batch,
                                 const rldt_backend_t *be)
{
    memset(px, 0, sizeof *px);
    bool enc = strcmp(cfg->policy_encoder, "none") != 0, img = cfg->data_image_keys[0] != '\0';
    if (enc && !img)
        return rldt_error_set(RLDT_ERR_USAGE, "policy.encoder=%s needs data.image_keys (the uint8 image key of obs/ to encode)",
                              cfg->policy_encoder);
    if (img && !enc)
        return rldt_error_set(RLDT_ERR_USAGE, "data.image_keys='%s' needs an image encoder (policy.encoder=drq)", cfg->data_image_keys);
    if (!enc) return RLDT_OK;
    if (train->meta.n_image_keys != 1)
        return rldt_error_set(RLDT_ERR_USAGE, "data.image_keys='%s': one image key is supported, %d named", cfg->data_image_keys,
                              train->meta.n_image_keys);
    const rldt_dataset_image_key_t *k = &train->meta.image_keys[0];
    rldt_status_t st = rldt_pixels_init(px, cfg, train->meta.obs_dim, k->h, k->w, k->c, max_batch, be);
    if (st) {
        char why[256];
        snprintf(why, sizeof why, "%s", rldt_error_message());
        return rldt_error_set(st, "data.image_keys=%s: %s", k->name, why);
    }
    return RLDT_OK;
}

/* The policy's normalisers: the dataset's for its low-dim columns, identity for the encoder's features. */
static void set_normalizers(rldt_policy_t *p, const rldt_dataset_t *d, const rldt_env_spec_t *spec)
{
    int n = p->spec.obs_dim, od = d->meta.obs_dim;
    float *mean = rldt_xmalloc(sizeof(float) * (size_t)n), *std = rldt_xmalloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < n; i++) {
        mean[i] = i < od ? d->obs_mean[i] : 0.0f;
        std[i] = i < od ? d->obs_std[i] : 1.0f;
    }
    rldt_policy_set_normalizers(p, mean, std, spec->act_low, spec->act_high);
    free(mean), free(std);
}

// ---------------------------------------------------------------------------------------------------
// checkpoints

/* The loop's counters, kept in checkpoints beside the trainer's Adam step. */
typedef struct {
    long step;           /* steps done */
    long skipped;        /* of them, skipped for a non-finite loss or gradient (no Adam step) */
    long skips_in_a_row; /* the current run of skipped steps (pretrain.max_skips of them stop the run) */
} progress_t;

static rldt_status_t save(const char *path, const rldt_config_t *cfg, const rldt_policy_t *p, const rldt_pixels_t *px,
                          const rldt_trainable_t *tr, const float *ema_dev, const progress_t *pg)
{
    if (rldt_comm_world()->rank != 0) return RLDT_OK; /* rank 0 writes the run's files */
    rldt_status_t st = rldt_config_check_output(cfg, path, "checkpoint", true);
    if (st) return st;
    const rldt_backend_t *be = p->be;
    size_t n = tr->n;
    float *host = rldt_xmalloc(sizeof(float) * n * 4);
    be->download(host, tr->p, sizeof(float) * n);
    be->download(host + n, ema_dev, sizeof(float) * n);
    be->download(host + 2 * n, tr->m, sizeof(float) * n);
    be->download(host + 3 * n, tr->v, sizeof(float) * n);
    rldt_ckpt_tensor_t t[8] = {{"policy/params", host, n, 0}, {RLDT_POLICY_WEIGHTS, host + n, n, 0}, {"optim/m", host + 2 * n, n, 0},
                               {"optim/v", host + 3 * n, n, 0}};
    rldt_policy_norm_tensors(p, t + 4);
    const rldt_encoder_spec_t *es = &px->enc.spec; /* a pixel policy's image shape (rldt_policy_from_ckpt_pixels) */
    rldt_ckpt_scalar_t s[9] = {{"step", pg->step}, {"adam_step", tr->step},
                               {"skipped", pg->skipped}, {"skips_in_a_row", pg->skips_in_a_row},
                               {"obs_dim", p->spec.obs_dim}, {"act_dim", p->spec.act_dim},
                               {"image_h", es->h}, {"image_w", es->w}, {"image_c", es->c}};
    char *json = rldt_config_to_json(cfg);
    st = rldt_ckpt_save(path, "pretrain", json, t, 8, s, px->enc.ws ? 9 : 6);
    free(json);
    free(host);
    return st;
}

/* Reads and checks every scalar of a pretrain checkpoint before any is used: the step within
 * pretrain.steps, the skip counts within the steps, one Adam step per update that went through, and the
 * dimensions the config's task has. */
static rldt_status_t read_progress(rldt_ckpt_t *c, const rldt_config_t *cfg, const rldt_policy_t *p, progress_t *pg, long *adam_step)
{
    int64_t step = 0, skipped = 0, run = 0, adam = 0, dim = 0;
    rldt_status_t st = rldt_ckpt_scalar_in(c, "step", 0, cfg->pre_steps, &step);
    if (!st) st = rldt_ckpt_scalar_in(c, "skipped", 0, step, &skipped);
    if (!st) st = rldt_ckpt_scalar_in(c, "skips_in_a_row", 0, skipped, &run);
    if (!st) st = rldt_ckpt_scalar_in(c, "adam_step", step - skipped, step - skipped, &adam);
    if (!st) st = rldt_ckpt_scalar_in(c, "obs_dim", p->spec.obs_dim, p->spec.obs_dim, &dim);
    if (!st) st = rldt_ckpt_scalar_in(c, "act_dim", p->spec.act_dim, p->spec.act_dim, &dim);
    if (st) return st;
    *pg = (progress_t){(long)step, (long)skipped, (long)run};
    *adam_step = (long)adam;
    return RLDT_OK;
}

/* Restores counters, weights, EMA and moments from `path` into an initialised trainer. The checkpoint's
 * network shape must match the config's. */
static rldt_status_t resume(const char *path, const rldt_config_t *cfg, rldt_policy_t *p, rldt_trainable_t *tr, float *ema_dev,
                            progress_t *pg)
{
    rldt_ckpt_t *c;
    rldt_status_t st = rldt_path_check_input(path, "checkpoint (pretrain.resume)");
    if (!st) st = rldt_ckpt_open(&c, path, "pretrain");
    if (st) return st;
    size_t n = tr->n;
    float *host = rldt_xmalloc(sizeof(float) * n);
    float *dst[4] = {tr->p, ema_dev, tr->m, tr->v};
    const char *names[4] = {"policy/params", RLDT_POLICY_WEIGHTS, "optim/m", "optim/v"};
    st = read_progress(c, cfg, p, pg, &tr->step);
    for (int i = 0; i < 4 && !st; i++) {
        st = rldt_ckpt_read(c, names[i], host, n);
        if (!st) p->be->upload(dst[i], host, sizeof(float) * n);
    }
    free(host);
    rldt_ckpt_close(c);
    return st;
}

// ---------------------------------------------------------------------------------------------------
// the loop

/* Mean loss of `params` on the fixed validation batch. */
static double valid_loss(rldt_policy_t *p, rldt_pixels_t *px, const float *params, batch_t *vb, int B)
{
    rldt_pixels_encode(px, params, vb->obs, vb->img, B, NULL);
    const float *v = rldt_policy_forward(p, params, vb->xt, vb->t, vb->obs, B);
    return p->be->mse(v, vb->target, NULL, (size_t)B * p->spec.D);
}

static rldt_status_t evaluate(const rldt_config_t *cfg, rldt_policy_t *p, rldt_pixels_t *px, const float *params,
                              const rldt_env_spec_t *spec, long step, rldt_eval_result_t *res)
{
    if (rldt_comm_world()->rank != 0) return RLDT_OK; /* rank 0 evaluates for the log */
    const rldt_encoder_spec_t *es = &px->enc.spec;
    if (px->enc.ws && (es->h != spec->image_h || es->w != spec->image_w || es->c != spec->image_c)) {
        rldt_info("eval @ step %ld skipped: the policy sees %d x %d x %d images, task %s observes %d x %d x %d", step, es->h, es->w,
                  es->c, spec->name, spec->image_h, spec->image_w, spec->image_c);
        return RLDT_OK;
    }
    rldt_eval_opts_t o = {(int)cfg->eval_episodes, (int)cfg->env_n_envs, (int)cfg->run_threads, cfg->eval_deterministic,
                          (uint64_t)cfg->run_seed + 1000003u * (uint64_t)step, (int)cfg->env_max_steps, NULL, NULL};
    rldt_status_t st = rldt_evaluate(p, px, params, spec, &o, res);
    if (!st)
        rldt_info("eval @ step %ld: %s success %.1f%%  return %.2f ± %.2f  length %.1f  (%d episodes, %.1fs)", step,
                  spec->name, 100 * res->success_rate, res->return_mean, res->return_std, res->length_mean, res->episodes,
                  res->seconds);
    return st;
}

rldt_status_t rldt_pretrain_demos(const rldt_config_t *cfg, const rldt_env_spec_t *spec, rldt_dataset_t *train, rldt_dataset_t *valid)
{
    /* train on /mask/train and validate on /mask/valid. A robomimic file without masks trains and validates
     * on all its demos; rldt's own files always carry the split, and one without it is refused as damaged. */
    rldt_dataset_meta_t meta;
    size_t total;
    bool masked = false;
    rldt_dataset_opts_t o = {cfg->data_obs_keys, cfg->data_image_keys[0] ? cfg->data_image_keys : NULL, NULL};
    rldt_status_t st = rldt_dataset_peek(cfg->data_path, &o, &meta, &total);
    if (!st) st = rldt_dataset_has_mask(cfg->data_path, "train", &masked);
    o.mask = masked || meta.rldt_spec ? "train" : NULL;
    if (!st) st = rldt_dataset_load_opts(train, cfg->data_path, &o);
    o.mask = "valid";
    if (!st && valid && train->n_valid > 0) st = rldt_dataset_load_opts(valid, cfg->data_path, &o);
    if (!st && (strcmp(train->meta.env_name, spec->name) != 0 || train->meta.obs_dim != spec->obs_dim ||
                train->meta.act_dim != spec->act_dim))
        st = rldt_error_set(RLDT_ERR_USAGE, "%s holds %s demos (obs %d, act %d) but env.name is %s (obs %d, act %d)",
                            cfg->data_path, train->meta.env_name, train->meta.obs_dim, train->meta.act_dim, spec->name,
                            spec->obs_dim, spec->act_dim);
    if (st) {
        rldt_dataset_free(train);
        if (valid) rldt_dataset_free(valid);
    }
    return st;
}

rldt_status_t rldt_pretrain(const rldt_config_t *cfg, const rldt_backend_t *be, rldt_pretrain_result_t *res)
{
    memset(res, 0, sizeof *res);
    rldt_backend_cpu_threads((int)cfg->run_blas_threads);
    const rldt_env_spec_t *spec = rldt_env_from_config(cfg);
    if (!spec) return rldt_error_set(RLDT_ERR_USAGE, "env.name: %s", rldt_error_message());
    /* the outputs' paths first: too long or the same file as the data is refused before any work */
    char dir[sizeof res->ckpt_path], longest[64];
    snprintf(longest, sizeof longest, "pretrain_%ld.ckpt", cfg->pre_steps); /* longer than pretrain_stopped.ckpt too */
    rldt_status_t st = rldt_path_format(dir, sizeof dir, "%s/%s", cfg->run_out_dir, cfg->run_name);
    if (!st) st = rldt_config_run_path(cfg, longest, res->ckpt_path, sizeof res->ckpt_path);
    if (!st) st = rldt_config_run_path(cfg, "pretrain.ckpt", res->ckpt_path, sizeof res->ckpt_path);
    if (!st) st = rldt_config_check_output(cfg, res->ckpt_path, "checkpoint", true);
    if (st) return st;
    rldt_dataset_t train = {0}, valid = {0};
    st = rldt_pretrain_demos(cfg, spec, &train, &valid);
    if (!st && train.n_samples > UINT32_MAX)
        st = rldt_error_set(RLDT_ERR_USAGE, "%s: %zu samples; at most 2^32 are supported", cfg->data_path, train.n_samples);
    if (st) {
        rldt_dataset_free(&train);
        rldt_dataset_free(&valid);
        return st;
    }
    const rldt_dataset_t *vset = valid.n_samples ? &valid : &train;
    int B = (int)cfg->pre_batch, VB = vset->n_samples < 1024 ? (int)vset->n_samples : 1024;
    int maxb = B > VB ? B : VB;
    if (maxb < (int)cfg->env_n_envs) maxb = (int)cfg->env_n_envs;
    rldt_policy_spec_t pspec;
    rldt_policy_t p = {0};
    rldt_trainable_t tr = {0};
    batch_t b = {0}, vb = {0};
    rldt_pixels_t px = {0};
    float *ema = NULL, *init = NULL;
    progress_t pg = {0};
    size_t *samples = rldt_xmalloc(sizeof(size_t) * (size_t)maxb);
    st = rldt_policy_spec_from_config(cfg, spec->obs_dim, spec->act_dim, &pspec);
    if (!st) st = pixels_init(&px, cfg, &train, maxb, be);
    if (!st) pspec.obs_dim += px.F, pspec.body_spec.in += px.F;
    if (!st) st = rldt_policy_init(&p, &pspec, maxb, be);
    if (st) goto done;
    px.at = p.nparams; /* the encoder's parameters follow the policy's */
    size_t n_train = p.nparams + px.enc.nparams, img_bytes = rldt_pixels_image_bytes(&px);
    set_normalizers(&p, &train, spec);
    init = rldt_xmalloc(sizeof(float) * n_train);
    rldt_rng_t rng;
    rldt_rng_init(&rng, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_INIT, 0, 0));
    rldt_policy_init_params(&p, init, &rng);
    if (px.enc.ws) rldt_encoder_init_params(&px.enc, init + px.at, &rng);
    st = rldt_trainable_init(&tr, be, n_train, init);
    if (!st && !(ema = be->alloc(sizeof(float) * n_train))) st = rldt_error_set(RLDT_ERR, "pretrain: out of memory");
    if (!st) st = batch_init(&b, be, B, pspec.obs_dim, pspec.D, img_bytes);
    if (!st) st = batch_init(&vb, be, VB, pspec.obs_dim, pspec.D, img_bytes);
    if (st) goto done;
    be->copy(ema, tr.p, sizeof(float) * n_train);
    if (cfg->pre_resume[0]) {
        if ((st = resume(cfg->pre_resume, cfg, &p, &tr, ema, &pg))) goto done;
        rldt_info("resumed from %s at step %ld (%ld updates skipped, %ld of them in a row)", cfg->pre_resume, pg.step, pg.skipped,
                  pg.skips_in_a_row);
    }
    /* the fixed validation batch: evenly spaced samples, noise from its own stream */
    for (int r = 0; r < VB; r++) samples[r] = (size_t)r * vset->n_samples / (size_t)VB;
    rldt_rng_init(&rng, (uint64_t)cfg->run_seed, rldt_rng_stream_id(RLDT_STREAM_DATA, 1, 0));
    batch_fill(&vb, vset, &p, &px, samples, VB, &rng);

    if ((st = rldt_mkdirs(dir))) goto done;
    rldt_info("pretrain %s on %s: %zu train samples in %d demos, %zu params%s, batch %d x %d rank(s), %ld steps, backend %s",
              spec->name, cfg->data_path, train.n_samples, train.n_demos, n_train, px.enc.ws ? " (image encoder included)" : "", B,
              rldt_comm_world()->size, cfg->pre_steps, be->name);

    rldt_adam_t opt = {0.9f, 0.999f, 1e-8f, (float)cfg->pre_wd, true};
    rldt_sched_t sched = {RLDT_SCHED_COSINE, (float)cfg->pre_lr, (float)cfg->pre_lr_final, cfg->pre_warmup, cfg->pre_steps};
    double t_start = rldt_now(), loss_sum = 0;
    long loss_n = 0, first = pg.step;
    while (pg.step < cfg->pre_steps) {
        long step = pg.step++; /* pg.step: the steps done, this one included */
        rldt_rng_init(&rng, rldt_comm_seed((uint64_t)cfg->run_seed), rldt_rng_stream_id(RLDT_STREAM_TRAIN, 0, (uint32_t)step));
        for (int r = 0; r < B; r++) samples[r] = rldt_rng_below(&rng, (uint32_t)train.n_samples);
        batch_fill(&b, &train, &p, &px, samples, B, &rng);
        rldt_pixels_encode(&px, tr.p, b.obs, b.img, B, &rng);
        const float *v = rldt_policy_forward(&p, tr.p, b.xt, b.t, b.obs, B);
        double loss = be->mse(v, b.target, b.grad, (size_t)B * pspec.D);
        /* a non-finite loss skips the update too: its gradient is made NaN, so that with several ranks the
         * averaged gradient is NaN on every rank and all of them skip (no Adam step anywhere) */
        rldt_trainable_zero_grad(&tr);
        if (isfinite(loss)) {
            rldt_policy_backward(&p, tr.p, tr.g, b.grad);
            rldt_pixels_backward(&px, &p, tr.p, tr.g);
        } else
            be->fill(tr.g, NAN, tr.n);
        float gnorm = rldt_trainable_step(&tr, &opt, rldt_sched_lr(&sched, step), (float)cfg->pre_clip);
        if (!isfinite(gnorm)) {
            pg.skipped++;
            pg.skips_in_a_row++;
            rldt_warn("step %ld: non-finite loss or gradient (loss %g, |g| %g): update skipped (%ld in a row)", step, loss, gnorm,
                      pg.skips_in_a_row);
            if (pg.skips_in_a_row >= cfg->pre_max_skips) {
                char path[sizeof res->ckpt_path];
                rldt_status_t saved = rldt_config_run_path(cfg, "pretrain_stopped.ckpt", path, sizeof path);
                if (!saved) saved = save(path, cfg, &p, &px, &tr, ema, &pg);
                st = rldt_error_set(RLDT_ERR, "%ld consecutive non-finite updates (pretrain.max_skips): stopped at step %ld; state saved to %s%s",
                                    pg.skips_in_a_row, pg.step, path, saved ? " (saving failed too)" : "");
                goto done;
            }
        } else {
            pg.skips_in_a_row = 0;
            be->lerp(ema, tr.p, 1.0f - (float)cfg->pre_ema, tr.n);
            loss_sum += loss;
            loss_n++;
        }
        if (pg.step % cfg->pre_log_every == 0 || pg.step == cfg->pre_steps) {
            if (!rldt_comm_agree(be, tr.p, tr.n)) {
                st = rldt_error_set(RLDT_ERR, "step %ld: the ranks' parameters differ (a rank diverged): stopped", pg.step);
                goto done;
            }
            double el = rldt_now() - t_start, rate = (double)(pg.step - first) / (el > 0 ? el : 1e-9);
            res->train_loss = loss_n ? loss_sum / loss_n : NAN;
            res->valid_loss = valid_loss(&p, &px, ema, &vb, VB);
            rldt_info("step %ld/%ld  loss %.4f  val %.4f  lr %.2e  %.0f steps/s  ETA %.0fs", pg.step, cfg->pre_steps,
                      res->train_loss, res->valid_loss, rldt_sched_lr(&sched, step), rate, (double)(cfg->pre_steps - pg.step) / rate);
            loss_sum = 0;
            loss_n = 0;
        }
        if (cfg->pre_ckpt_every > 0 && pg.step % cfg->pre_ckpt_every == 0 && pg.step < cfg->pre_steps) {
            char name[64], path[sizeof res->ckpt_path];
            snprintf(name, sizeof name, "pretrain_%ld.ckpt", pg.step);
            if ((st = rldt_config_run_path(cfg, name, path, sizeof path))) goto done;
            if ((st = save(path, cfg, &p, &px, &tr, ema, &pg))) goto done;
            rldt_info("checkpoint %s", path);
        }
        if (cfg->pre_eval_every > 0 && pg.step % cfg->pre_eval_every == 0 && pg.step < cfg->pre_steps)
            if ((st = evaluate(cfg, &p, &px, ema, spec, pg.step, &res->eval))) goto done;
    }
    if ((st = save(res->ckpt_path, cfg, &p, &px, &tr, ema, &pg))) goto done;
    rldt_info("checkpoint %s", res->ckpt_path);
    st = evaluate(cfg, &p, &px, ema, spec, pg.step, &res->eval);
done:
    res->steps = pg.step;
    res->skipped = pg.skipped;
    batch_free(&b, be);
    batch_free(&vb, be);
    rldt_pixels_free(&px);
    if (ema) be->free(ema);
    if (tr.p) rldt_trainable_free(&tr);
    if (p.ws) rldt_policy_free(&p);
    free(samples), free(init);
    rldt_dataset_free(&train);
    rldt_dataset_free(&valid);
    return st;
}
