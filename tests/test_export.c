/* test_export.c — `rldt export`: the safetensors file alone lets a numpy reimplementation of the velocity
 * field (tests/check_safetensors.py, written from the documented names) reproduce rldt's outputs; bad
 * arguments and checkpoints are refused. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rldt/checkpoint.h"
#include "rldt/export.h"
#include "rldt/policy.h"

/* Saves a random policy (LayerNorm, SiLU, two blocks, non-trivial normalisers) as a pretrain checkpoint. */
static void make_checkpoint(const char *path, rldt_policy_t *p, float **w)
{
    rldt_config_t cfg;
    rldt_config_defaults(&cfg);
    cfg.policy_chunk = 2;
    cfg.policy_width = 24;
    cfg.policy_blocks = 2;
    cfg.policy_layernorm = true;
    snprintf(cfg.policy_act, sizeof cfg.policy_act, "silu");
    rldt_policy_spec_t spec;
    cr_assert_eq(rldt_policy_spec_from_config(&cfg, 3, 2, &spec), RLDT_OK);
    cr_assert_eq(rldt_policy_init(p, &spec, 8, rldt_backend_cpu()), RLDT_OK);
    *w = malloc(sizeof(float) * p->nparams);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 17, 1);
    rldt_policy_init_params(p, *w, &rng);
    for (size_t i = 0; i < p->nparams; i++) (*w)[i] += 0.05f * rldt_rng_normal(&rng); /* LN gains off 1 */
    float mean[3] = {0.5f, -1, 2}, std[3] = {2, 0.5f, 1}, lo[2] = {-2, 0}, hi[2] = {2, 1};
    rldt_policy_set_normalizers(p, mean, std, lo, hi);
    rldt_ckpt_tensor_t t[5] = {{RLDT_POLICY_WEIGHTS, *w, p->nparams, 0}};
    rldt_policy_norm_tensors(p, t + 1);
    rldt_ckpt_scalar_t s[2] = {{"obs_dim", 3}, {"act_dim", 2}};
    char *json = rldt_config_to_json(&cfg);
    cr_assert_eq(rldt_ckpt_save(path, "pretrain", json, t, 5, s, 2), RLDT_OK, "%s", rldt_error_message());
    free(json);
}

Test(export, numpy_reimplementation_from_safetensors_matches)
{
    char dir[128], ckpt[256], out[256], cases[256];
    test_tmpdir(dir, sizeof dir);
    snprintf(ckpt, sizeof ckpt, "%s/p.ckpt", dir);
    snprintf(out, sizeof out, "%s/p.safetensors", dir);
    snprintf(cases, sizeof cases, "%s/cases.txt", dir);
    rldt_policy_t p;
    float *w;
    make_checkpoint(ckpt, &p, &w);
    cr_assert_eq(rldt_export_safetensors(ckpt, out), RLDT_OK, "%s", rldt_error_message());
    /* rldt's velocities for random (t, x, raw obs) */
    enum { B = 8 };
    int D = p.spec.D;
    float *x = test_random_array((size_t)B * D, -1, 1, 1), *t = test_random_array(B, 0, 1, 2);
    float *raw = test_random_array((size_t)B * 3, -3, 3, 3), obs[B * 3];
    rldt_policy_observe(&p, raw, obs, B);
    const float *v = rldt_policy_forward(&p, w, x, t, obs, B);
    FILE *f = fopen(cases, "w");
    for (int b = 0; b < B; b++) {
        fprintf(f, "%.9g", t[b]);
        for (int d = 0; d < D; d++) fprintf(f, " %.9g", x[b * D + d]);
        fprintf(f, " |");
        for (int d = 0; d < 3; d++) fprintf(f, " %.9g", raw[b * 3 + d]);
        fprintf(f, " |");
        for (int d = 0; d < D; d++) fprintf(f, " %.9g", v[b * D + d]);
        fprintf(f, "\n");
    }
    fclose(f);
    int status = test_run("/usr/bin/python3 check_safetensors.py %s %s", out, cases);
    cr_log_info("%s", test_out);
    cr_assert_eq(status, 0, "numpy reimplementation disagrees: %s%s", test_out, test_err);
    /* bad inputs: a missing checkpoint is a usage error naming it; an unwritable output an I/O error */
    cr_assert_eq(rldt_export_safetensors("/nonexistent/x.ckpt", out), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "/nonexistent/x.ckpt"));
    cr_assert_eq(rldt_export_safetensors(ckpt, "/nonexistent/dir/x.safetensors"), RLDT_ERR);
    test_rmtree(dir);
    rldt_policy_free(&p);
    free(w), free(x), free(t), free(raw);
}
