/* policy_io.c — a policy's place in a checkpoint: normalisers out, and the policy rebuilt from the
 * stored config and dimensions (see rldt/policy.h). */
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

rldt_status_t rldt_policy_from_ckpt(rldt_ckpt_t *c, rldt_config_t *cfg, rldt_policy_t *p, int max_batch,
                                    const rldt_backend_t *be)
{
    rldt_config_defaults(cfg);
    int64_t obs_dim, act_dim;
    rldt_status_t st = rldt_config_from_json(cfg, rldt_ckpt_config(c), "checkpoint config");
    if (!st) st = rldt_ckpt_scalar(c, "obs_dim", &obs_dim);
    if (!st) st = rldt_ckpt_scalar(c, "act_dim", &act_dim);
    rldt_policy_spec_t spec;
    if (!st) st = rldt_policy_spec_from_config(cfg, (int)obs_dim, (int)act_dim, &spec);
    if (!st) st = rldt_policy_init(p, &spec, max_batch, be);
    if (st) return st;
    rldt_ckpt_tensor_t norm[4];
    rldt_policy_norm_tensors(p, norm);
    for (int i = 0; i < 4 && !st; i++) st = rldt_ckpt_read(c, norm[i].name, (float *)norm[i].data, norm[i].n);
    if (st) rldt_policy_free(p);
    return st;
}
