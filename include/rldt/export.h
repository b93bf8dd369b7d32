/* rldt/export.h — exporting a checkpoint's policy for other frameworks.
 *
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header, then raw little-endian float32 data. Tensor names, in network order:
 *   time_mlp.linear<i>.weight [out, in], time_mlp.linear<i>.bias [out]   the time-embedding MLP
 *   body.linear<i>.weight / .bias, body.norm<i>.weight / .bias [W]       the residual body (norms only with
 *                                                                         policy.layernorm)
 *   normalizer.obs_mean, normalizer.obs_std [obs_dim], normalizer.act_low, normalizer.act_high [act_dim]
 * and, for a pixel policy (policy.encoder=drq), its image encoder (rldt/encoder.h) in PyTorch's layouts:
 *   encoder.conv<i>.weight [channels, in_channels, 3, 3], encoder.conv<i>.bias [channels]   torch.nn.Conv2d
 *                                                         (NCHW; permuted from rldt's [out][3][3][in])
 *   encoder.proj.weight [feature, flat], encoder.proj.bias [feature]   its columns in the flatten order of
 *                                                         NCHW activations, [channels][Ho][Wo] (rldt's NHWC
 *                                                         [Ho][Wo][channels] reordered), so that
 *                                                         proj(conv_out.flatten(1)) is exact
 *   encoder.norm.weight, encoder.norm.bias [feature]      torch.nn.LayerNorm (eps 1e-5), then tanh
 * The encoder takes the uint8 image as v / 255 - 0.5 (permuted from [h][w][c] to [c][h][w]) through the
 * conv layers (ReLU after each, no padding, the first with stride stride0) with no augmentation (the random
 * shift is for training only). A pixel policy's body input is [x | temb | (low-dim obs - obs_mean) / obs_std |
 * encoder(image)]: its normalizer.obs_* cover only the low-dim columns (low_dim of them); the features enter
 * as they are.
 * Weights are [out, in] like torch.nn.Linear, so `linear.weight.copy_(tensor)` loads them as they are.
 * __metadata__ holds the resolved config (JSON) under "rldt_config", the architecture in words under
 * "rldt_architecture" and, for a pixel policy, the encoder's shape under "rldt_encoder" (JSON: image_hwc
 * [h, w, c], layers, channels, stride0, feature, low_dim). */
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
