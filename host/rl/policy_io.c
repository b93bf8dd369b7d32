/* policy_io.c — a policy's place in a checkpoint: normalisers out, and the policy rebuilt from the
 * stored config and dimensions, every value checked before it is used (see rldt/policy.h). */
#include <math.h>
#include <string.h>

#include "rldt/checkpoint.h"
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

rldt_status_t rldt_policy_from_ckpt(rldt_ckpt_t *c, rldt_config_t *cfg, rldt_policy_t *p, int max_batch,
                                    const rldt_backend_t *be)
{
    rldt_config_defaults(cfg);
    int64_t obs_dim = 0, act_dim = 0;
    /* the dimensions must match the stored normalisers before anything is sized by them */
    int64_t obs_len = (int64_t)rldt_ckpt_length(c, "norm/obs_mean"), act_len = (int64_t)rldt_ckpt_length(c, "norm/act_low");
    rldt_status_t st = rldt_config_from_json(cfg, rldt_ckpt_config(c), "checkpoint config");
    if (!st && strcmp(cfg->policy_encoder, "none") != 0) /* its weights hold an image encoder too */
        st = rldt_error_set(RLDT_ERR_USAGE,
                            "checkpoint %s: a pixel policy (policy.encoder=%s): evaluation and fine-tuning run on low-dim "
                            "observations only for now",
                            rldt_ckpt_path(c), cfg->policy_encoder);
    if (!st && (obs_len == 0 || act_len == 0))
        st = rldt_error_set(RLDT_ERR_USAGE, "checkpoint %s: tensor '%s' is missing or empty", rldt_ckpt_path(c),
                            obs_len == 0 ? "norm/obs_mean" : "norm/act_low");
    if (!st) st = rldt_ckpt_scalar_in(c, "obs_dim", obs_len, obs_len, &obs_dim);
    if (!st) st = rldt_ckpt_scalar_in(c, "act_dim", act_len, act_len, &act_dim);
    rldt_policy_spec_t spec;
    if (!st) st = rldt_policy_spec_from_config(cfg, (int)obs_dim, (int)act_dim, &spec);
    if (!st) st = rldt_policy_init(p, &spec, max_batch, be);
    if (st) return st;
    if (rldt_ckpt_length(c, RLDT_POLICY_WEIGHTS) != p->nparams) /* before a caller sizes a buffer by the config */
        st = rldt_error_set(RLDT_ERR_USAGE,
                            "checkpoint %s: tensor '%s' does not hold the %zu weights of the policy its config describes",
                            rldt_ckpt_path(c), RLDT_POLICY_WEIGHTS, p->nparams);
    rldt_ckpt_tensor_t norm[4];
    rldt_policy_norm_tensors(p, norm);
    for (int i = 0; i < 4 && !st; i++) st = rldt_ckpt_read(c, norm[i].name, (float *)norm[i].data, norm[i].n);
    if (!st) st = check_normalizers(c, p);
    if (st) rldt_policy_free(p);
    return st;
}
