/* policy_io.c — a policy's place in a checkpoint: normalisers out, and the policy rebuilt from the
 * stored config and dimensions, every value checked before it is used (see rldt/policy.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rldt/checkpoint.h"
#include "rldt/pixels.h"
#include "rldt/policy.h"

int rldt_policy_norm_tensors(const rldt_policy_t *p, rldt_ckpt_tensor_t *out)
{
    out[0] = (rldt_ckpt_tensor_t){"norm/obs_mean", p->obs_mean, (size_t)p->spec.obs_dim, 0};
    out[1] = (rldt_ckpt_tensor_t){"norm/obs_std", p->obs_std, (size_t)p->spec.obs_dim, 0};
    out[2] = (rldt_ckpt_tensor_t){"norm/act_low", p->act_low, (size_t)p->spec.act_dim, 0};
    out[3] = (rldt_ckpt_tensor_t){"norm/act_high", p->act_high, (size_t)p->spec.act_dim, 0};
    return 4;
}

/* The normalisers must describe usable units: std > 0, low < high, with a finite range (the tensors are
 * already known to be finite). */
static rldt_status_t check_normalizers(const rldt_ckpt_t *c, const rldt_policy_t *p)
{
    const char *path = rldt_ckpt_path(c);
    for (int i = 0; i < p->spec.obs_dim; i++)
        if (!(p->obs_std[i] > 0.0f))
            return rldt_error_set(RLDT_ERR_USAGE,
                                  "checkpoint %s: tensor 'norm/obs_std' holds %g at %d (a standard deviation must be > 0)", path,
                                  p->obs_std[i], i);
    for (int i = 0; i < p->spec.act_dim; i++)
        if (!(p->act_low[i] < p->act_high[i]) || !isfinite(p->act_high[i] - p->act_low[i]))
            return rldt_error_set(RLDT_ERR_USAGE,
                                  "checkpoint %s: tensors 'norm/act_low' and 'norm/act_high' hold [%g, %g] at %d "
                                  "(need low < high, a finite range)",
                                  path, p->act_low[i], p->act_high[i], i);
    return RLDT_OK;
}

/* A pixel policy's image shape (scalars image_h, image_w, image_c) and its encoder for a network input of
 * obs_dim columns, the last policy.encoder_feature of them the features. */
static rldt_status_t pixels_from_ckpt(rldt_ckpt_t *c, const rldt_config_t *cfg, int64_t obs_dim, rldt_pixels_t *px, int max_batch,
                                      const rldt_backend_t *be)
{
    int64_t h = 0, w = 0, ch = 0;
    rldt_status_t st = rldt_ckpt_scalar_in(c, "image_h", 1, 4096, &h);
    if (!st) st = rldt_ckpt_scalar_in(c, "image_w", 1, 4096, &w);
    if (!st) st = rldt_ckpt_scalar_in(c, "image_c", 1, 4, &ch);
    if (!st && obs_dim <= cfg->policy_encoder_feature)
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: scalar 'obs_dim' is %lld, not more than the %ld image features of its config",
                            rldt_ckpt_path(c), (long long)obs_dim, cfg->policy_encoder_feature);
    if (st) return st;
    st = rldt_pixels_init(px, cfg, (int)(obs_dim - cfg->policy_encoder_feature), (int)h, (int)w, (int)ch, max_batch, be);
    if (st == RLDT_ERR_USAGE) { /* the stored shape does not fit the encoder */
        char why[256];
        snprintf(why, sizeof why, "%s", rldt_error_message());
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: its image encoder: %s", rldt_ckpt_path(c), why);
    }
    return st;
}

static rldt_status_t from_ckpt(rldt_ckpt_t *c, rldt_config_t *cfg, rldt_policy_t *p, rldt_pixels_t *px, int max_batch,
                               const rldt_backend_t *be)
{
    rldt_config_defaults(cfg);
    if (px) memset(px, 0, sizeof *px);
    int64_t obs_dim = 0, act_dim = 0;
    /* the dimensions must match the stored normalisers before anything is sized by them */
    int64_t obs_len = (int64_t)rldt_ckpt_length(c, "norm/obs_mean"), act_len = (int64_t)rldt_ckpt_length(c, "norm/act_low");
    rldt_status_t st = rldt_config_from_json(cfg, rldt_ckpt_config(c), "checkpoint config");
    bool pixels = !st && strcmp(cfg->policy_encoder, "none") != 0; /* its weights hold an image encoder too */
    if (pixels && !px)
        st = rldt_error_set(RLDT_ERR_USAGE,
                            "checkpoint %s: a pixel policy (policy.encoder=%s), whose image encoder this reader does not build",
                            rldt_ckpt_path(c), cfg->policy_encoder);
    if (!st && (obs_len == 0 || act_len == 0))
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' is missing or empty", rldt_ckpt_path(c),
                            obs_len == 0 ? "norm/obs_mean" : "norm/act_low");
    if (!st) st = rldt_ckpt_scalar_in(c, "obs_dim", obs_len, obs_len, &obs_dim);
    if (!st) st = rldt_ckpt_scalar_in(c, "act_dim", act_len, act_len, &act_dim);
    if (!st && pixels) st = pixels_from_ckpt(c, cfg, obs_dim, px, max_batch, be);
    rldt_policy_spec_t spec;
    if (!st) st = rldt_policy_spec_from_config(cfg, (int)obs_dim, (int)act_dim, &spec);
    if (!st) st = rldt_policy_init(p, &spec, max_batch, be);
    if (st) {
        if (px) rldt_pixels_free(px);
        return st;
    }
    size_t n = p->nparams + (pixels ? px->enc.nparams : 0);
    if (pixels) px->at = p->nparams; /* the encoder's parameters follow the policy's */
    if (rldt_ckpt_length(c, RLDT_POLICY_WEIGHTS) != n) /* before a caller sizes a buffer by the config */
        st = rldt_error_set(RLDT_ERR_USAGE,
                            "checkpoint %s: tensor '%s' does not hold the %zu weights of the policy its config describes",
                            rldt_ckpt_path(c), RLDT_POLICY_WEIGHTS, n);
    rldt_ckpt_tensor_t norm[4];
    rldt_policy_norm_tensors(p, norm);
    for (int i = 0; i < 4 && !st; i++) st = rldt_ckpt_read(c, norm[i].name, (float *)norm[i].data, norm[i].n);
    if (!st) st = check_normalizers(c, p);
    if (st) {
        rldt_policy_free(p);
        if (px) rldt_pixels_free(px);
    }
    return st;
}

rldt_status_t rldt_policy_from_ckpt(rldt_ckpt_t *c, rldt_config_t *cfg, rldt_policy_t *p, int max_batch, const rldt_backend_t *be)
{
    return from_ckpt(c, cfg, p, NULL, max_batch, be);
}

rldt_status_t rldt_policy_from_ckpt_pixels(rldt_ckpt_t *c, rldt_config_t *cfg, rldt_policy_t *p, rldt_pixels_t *px, int max_batch,
                                           const rldt_backend_t *be)
{
    return from_ckpt(c, cfg, p, px, max_batch, be);
}
