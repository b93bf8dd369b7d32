/* rldt/export.h — exporting a checkpoint's policy for other frameworks.
 *
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header, then raw little-endian float32 data. Tensor names, in network order:
 *   time_mlp.linear<i>.weight [out, in], time_mlp.linear<i>.bias [out]   the time-embedding MLP
 *   body.linear<i>.weight / .bias, body.norm<i>.weight / .bias [W]       the residual body (norms only with
 *                                                                         policy.layernorm)
 *   normalizer.obs_mean, normalizer.obs_std [obs_dim], normalizer.act_low, normalizer.act_high [act_dim]
 * Weights are [out, in] like torch.nn.Linear, so `linear.weight.copy_(tensor)` loads them as they are.
 * __metadata__ holds the resolved config (JSON) under "rldt_config" and the architecture in words under
 * "rldt_architecture". */
#ifndef RLDT_EXPORT_H
#define RLDT_EXPORT_H

#include "rldt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the acting weights (RLDT_POLICY_WEIGHTS) of the checkpoint at ckpt_path to out_path
 * (atomically). Bad checkpoint: RLDT_ERR_USAGE; unwritable output: RLDT_ERR. */
rldt_status_t rldt_export_safetensors(const char *ckpt_path, const char *out_path);

#ifdef __cplusplus
}
#endif
#endif
