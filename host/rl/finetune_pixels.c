/* finetune_pixels.c — a pixel policy's fine-tune: its batches' images and the two encoders' parts of the
 * updates (see finetune_internal.h).
 *
 * The buffer keeps each step's uint8 image and next image on the host (rldt/replay.h); a batch's images are
 * gathered there by the rows the backend drew (a download of the row indices) and uploaded, so the backend
 * holds no copy of the buffer's images. The actor's encoder (its parameters after the policy's in the
 * actor's buffer, as in pretraining) makes the policy's feature columns; the actor's RLDT loss (transport,
 * consistency and the regulariser) reaches it through rldt_policy_obs_grad, and v_ref, a copy of the whole
 * buffer, sees the features of its own copy of the encoder. Training batches (critic and actor steps) are
 * shifted (rldt/encoder.h) with draws from the round's or the actor step's counter-based stream, so a resumed
 * run draws the same shifts; rollouts and bootstrap values see the images unshifted. The critic's own
 * encoder lives in rldt_critic_t (rldt/critic.h). */
#include <string.h>

#include "finetune_internal.h"

void ft_gather_obs(ft_t *f, float *dst, const float *src, const int *idx, int n, int repeat, bool next)
{
    const rldt_backend_t *be = f->be;
    if (!f->img_bytes) {
        be->gather_rows(dst, src, idx, n, f->od, repeat);
        return;
    }
    be->gather_rows(f->u_low, src, idx, n, f->od, repeat);
    be->copy_cols(dst, f->pin, 0, f->u_low, f->od, 0, f->od, n);
    int rows = (n + repeat - 1) / repeat;
    be->download(f->h_idx, idx, sizeof(int) * (size_t)rows);
    const uint8_t *all = next ? f->buf.next_images : f->buf.images;
    for (int i = 0; i < n; i++)
        memcpy(f->h_img + (size_t)i * f->img_bytes, all + (size_t)f->h_idx[i / repeat] * f->img_bytes, f->img_bytes);
    be->upload(f->u_img, f->h_img, (size_t)n * f->img_bytes);
}

const float *ft_critic_obs(const ft_t *f, const float *dst) { return f->img_bytes ? f->u_low : dst; }

void ft_encode_actor(ft_t *f, const float *params, float *obs, int n, rldt_rng_t *aug)
{
    if (f->img_bytes) rldt_pixels_encode(&f->px, params, obs, f->u_img, n, aug);
}

void ft_feature_grad(ft_t *f, int n)
{
    if (!f->img_bytes) return;
    rldt_policy_obs_grad(&f->pol, f->px.dfeat, f->od, f->px.F);
    f->be->axpy(f->u_dfeat, 1.0f, f->px.dfeat, (size_t)n * f->px.F);
}

void ft_encoder_backward(ft_t *f)
{
    if (f->img_bytes) rldt_encoder_backward(&f->px.enc, f->actor.p + f->px.at, f->actor.g + f->px.at, f->u_dfeat, NULL);
}
