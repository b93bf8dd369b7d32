/* test_export.c — `rldt export`: the safetensors file alone lets a numpy reimplementation of the velocity
 * field (tests/check_safetensors.py, written from the documented names) reproduce rldt's outputs, for a
 * low-dim policy and for a pixel policy with its image encoder; bad arguments and checkpoints are refused. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/checkpoint.h"
#include "rldt/export.h"
#include "rldt/pixels.h"
#include "rldt/policy.h"

/* Saves a random policy (LayerNorm, SiLU, two blocks, non-trivial normalisers) as a pretrain checkpoint; with
 * `pixels`, a pixel policy whose DrQ encoder (4 features) sees 20 x 22 x 3 images (the last layer 3 x 4, so the
 * projection's reordered columns matter), its normalisers identity on the feature columns as pretraining's. */
static void make_checkpoint(const char *path, bool pixels)
{
    enum { OD = 3, F = 4 };
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.policy_chunk = 2;
    cfg.policy_width = 24;
    cfg.policy_blocks = 2;
    cfg.policy_layernorm = true;
    snprintf(cfg.policy_act, sizeof cfg.policy_act, "silu");
    if (pixels) {
        snprintf(cfg.policy_encoder, sizeof cfg.policy_encoder, "drq");
        cfg.policy_encoder_feature = F;
    }
    int obs_dim = OD + (pixels ? F : 0);
    rldt_policy_spec_t spec;
    rldt_policy_t p;
    rldt_pixels_t px = {0};
    cr_assert_eq(rldt_policy_spec_from_config(&cfg, obs_dim, 2, &spec), RLDT_OK);
    cr_assert_eq(rldt_policy_init(&p, &spec, 8, rldt_backend_cpu()), RLDT_OK);
    if (pixels)
        cr_assert_eq(rldt_pixels_init(&px, &cfg, OD, 20, 22, 3, 1, rldt_backend_cpu()), RLDT_OK, "%s", rldt_error_message());
    size_t n = p.nparams + px.enc.nparams;
    float *w = malloc(sizeof(float) * n);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 17, 1);
    rldt_policy_init_params(&p, w, &rng);
    if (pixels) rldt_encoder_init_params(&px.enc, w + p.nparams, &rng);
    for (size_t i = 0; i < n; i++) w[i] += 0.05f * rldt_rng_normal(&rng); /* LN gains off 1 */
    float mean[OD + F] = {0.5f, -1, 2}, std[OD + F] = {2, 0.5f, 1, 1, 1, 1, 1}, lo[2] = {-2, 0}, hi[2] = {2, 1};
    rldt_policy_set_normalizers(&p, mean, std, lo, hi);
    rldt_ckpt_tensor_t t[5] = {{RLDT_POLICY_WEIGHTS, w, n, 0}};
    rldt_policy_norm_tensors(&p, t + 1);
    rldt_ckpt_scalar_t s[5] = {{"obs_dim", obs_dim}, {"act_dim", 2}, {"image_h", 20}, {"image_w", 22}, {"image_c", 3}};
    char *json = rldt_config_to_json(&cfg);
    cr_assert_eq(rldt_ckpt_save(path, "pretrain", json, t, 5, s, pixels ? 5 : 2), RLDT_OK, "%s", rldt_error_message());
    free(json), free(w);
    rldt_pixels_free(&px);
    rldt_policy_free(&p);
}

/* Exports a random checkpoint (make_checkpoint) and has the numpy reimplementation check the file
 * (test_export_check); with `bad_inputs`, bad arguments too: a missing checkpoint is a usage error naming it,
 * an unwritable output an I/O error. */
static void export_matches(bool pixels, bool bad_inputs)
{
    char dir[128], ckpt[256], out[256];
    test_tmpdir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/p.ckpt", dir);
    snprintf(out, sizeof out, "%s/p.safetensors", dir);
    make_checkpoint(ckpt, pixels);
    cr_assert_eq(rldt_export_safetensors(ckpt, out), RLDT_OK, "%s", rldt_error_message());
    test_export_check(ckpt, out, dir);
    if (bad_inputs) {
        cr_assert_eq(rldt_export_safetensors("/nonexistent/x.ckpt", out), RLDT_ERR_USAGE);
        cr_assert(strstr(rldt_error_message(), "/nonexistent/x.ckpt"));
        cr_assert_eq(rldt_export_safetensors(ckpt, "/nonexistent/dir/x.safetensors"), RLDT_ERR);
    }
    test_rmtree(dir);
}

Test(export, numpy_reimplementation_from_safetensors_matches)
{
    export_matches(false, true);
}

/* A pixel policy's export adds its encoder in PyTorch's layouts: the numpy reimplementation runs the NCHW
 * convolutions, the projection and the LayerNorm from the file alone (and, where torch is installed, loads
 * them into torch.nn.Conv2d, Linear and LayerNorm and gets the same features). */
Test(export, pixel_policy_numpy_reimplementation_with_its_encoder_matches)
{
    export_matches(true, false);
}
