/* pixels.c — low-dim observation + image -> a pixel policy's input (see rldt/pixels.h). */
#include <stdio.h>
#include <string.h>

#include "rldt/pixels.h"

rldt_status_t rldt_pixels_init(rldt_pixels_t *px, const rldt_config_t *cfg, int od, int h, int w, int c, int max_batch,
                               const rldt_backend_t *be)
{
    memset(px, 0, sizeof *px);
    px->od = od;
    rldt_encoder_spec_t s = rldt_encoder_drq(h, w, c);
    s.feature = (int)cfg->policy_encoder_feature;
    s.shift = (int)cfg->policy_encoder_shift;
    px->F = s.feature;
    rldt_status_t st = rldt_encoder_init(&px->enc, &s, max_batch, be);
    if (!st && !(px->dfeat = be->alloc(sizeof(float) * (size_t)max_batch * px->F)))
        st = rldt_error_set(RLDT_ERR, "image encoder: out of %s memory", be->name);
    if (st) rldt_pixels_free(px);
    return st;
}

void rldt_pixels_free(rldt_pixels_t *px)
{
    if (px->dfeat) px->enc.be->free(px->dfeat);
    if (px->enc.ws) rldt_encoder_free(&px->enc);
    memset(px, 0, sizeof *px);
}

rldt_status_t rldt_pixels_check_task(int h, int w, int c, const rldt_env_spec_t *spec)
{
    if (h && !spec->image_h)
        return rldt_error_set(RLDT_ERR_USAGE, "the policy sees %d x %d images but task %s observes none (its *_rgb variant does)", h, w,
                              spec->name);
    if (h && (spec->image_h != h || spec->image_w != w || spec->image_c != c))
        return rldt_error_set(RLDT_ERR_USAGE,
                              "the policy sees %d x %d x %d images but task %s observes %d x %d x %d ones (env.render.height "
                              "and env.render.width set the task's)",
                              h, w, c, spec->name, spec->image_h, spec->image_w, spec->image_c);
    return RLDT_OK;
}

size_t rldt_pixels_image_bytes(const rldt_pixels_t *px)
{
    return px->enc.ws ? (size_t)px->enc.spec.h * px->enc.spec.w * px->enc.spec.c : 0;
}

void rldt_pixels_observe(const rldt_pixels_t *px, const rldt_policy_t *p, const float *raw, float *out, int B)
{
    int n = p->spec.obs_dim, od = px && px->enc.ws ? px->od : n;
    for (int b = B - 1; b >= 0; b--) { /* backwards: out may be raw itself, with wider rows */
        memmove(out + (size_t)b * n, raw + (size_t)b * od, sizeof(float) * (size_t)od);
        memset(out + (size_t)b * n + od, 0, sizeof(float) * (size_t)(n - od));
    }
    rldt_policy_observe(p, out, out, B);
}

void rldt_pixels_encode(rldt_pixels_t *px, const float *params, float *obs, const uint8_t *images, int B, rldt_rng_t *aug)
{
    if (!px->enc.ws) return;
    const float *f = rldt_encoder_forward(&px->enc, params + px->at, images, B, aug);
    px->enc.be->copy_cols(obs, px->od + px->F, px->od, f, px->F, 0, px->F, B);
}

void rldt_pixels_backward(rldt_pixels_t *px, const rldt_policy_t *p, const float *params, float *grads)
{
    if (!px->enc.ws) return;
    rldt_policy_obs_grad(p, px->dfeat, px->od, px->F);
    rldt_encoder_backward(&px->enc, params + px->at, grads + px->at, px->dfeat, NULL);
}
