/* rldt/conv.h — 2-D convolution and image augmentation: the shapes, the per-element index math both
 * backends share, and the convolution layer built from backend ops (host/nn/conv.c).
 *
 * Layout: NHWC. An image batch is x[((b*H + y)*W + x)*C + c], the layout of the uint8 images in datasets
 * (obs/<key> [T, h, w, c]), so nothing is transposed on the way in. A filter bank is W[K][R][R][C] (K output
 * channels, R x R taps over C input channels) followed by the bias [K]: row k of W is the [R][R][C] patch
 * it dots with, so with im2col a convolution is exactly a linear layer
 *     out[b][oy][ox][:] = col[(b*Ho + oy)*Wo + ox][:] W^T + bias,   col rows of R*R*C floats,
 * and the backend's linear_forward / linear_backward (their fused bias, activation and bias gradient, their
 * GEMMs) do all the arithmetic; the backends add only im2col and col2im (index moves, no arithmetic beyond
 * col2im's sums). Zero padding of `pad` pixels on each side, any stride >= 1.
 *
 * Augmentation (DrQ's random shift): each image of a batch is padded by `pad` pixels with edge replication
 * and cropped back to H x W at a random offset (dy, dx) in [0, 2 pad]^2, i.e. pixel (y, x) reads the source
 * pixel (clamp(y + dy - pad), clamp(x + dx - pad)). Offsets are Philox draws: image b uses elements 2b (dy)
 * and 2b + 1 (dx) of the rldt_philox_below_at fill at (seed, stream, counter) with n = 2 pad + 1, so the
 * backends shift identically and a batch consumes rldt_philox_blocks(2B) counters. The same op converts the
 * bytes to floats, v / 255 - 0.5 (DrQ's centring); pad = 0 converts without shifting (evaluation). */
#ifndef RLDT_CONV_H
#define RLDT_CONV_H

#include "rldt/common.h"
#include "rldt/nn.h"
#include "rldt/philox.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One convolution's geometry: input H x W x C, R x R taps, stride, zero padding; Ho x Wo output (from
 * rldt_conv_shape). */
typedef struct {
    int H, W, C, R, stride, pad;
    int Ho, Wo;
} rldt_conv_t;

/* The geometry with Ho = (H + 2 pad - R) / stride + 1 (Wo likewise); RLDT_ERR_USAGE naming the bad value
 * when a size is < 1, the stride < 1, the padding < 0 or the taps do not fit the padded input. */
rldt_status_t rldt_conv_shape(rldt_conv_t *g, int H, int W, int C, int R, int stride, int pad);

/* Floats of one image's im2col rows: Ho * Wo rows of R * R * C. */
static inline size_t rldt_conv_col_floats(const rldt_conv_t *g) { return (size_t)g->Ho * g->Wo * g->R * g->R * g->C; }

// ---------------------------------------------------------------------------------------------------
// per-element index math (host and device)

/* The offset in an image batch of channel 0 of the input pixel that tap (ky, kx) of output pixel (b, oy, ox)
 * reads, or -1 where the tap falls in the zero padding. */
RLDT_HD long long rldt_im2col_src(rldt_conv_t g, int b, int oy, int ox, int ky, int kx)
{
    int y = oy * g.stride + ky - g.pad, x = ox * g.stride + kx - g.pad;
    if (y < 0 || y >= g.H || x < 0 || x >= g.W) return -1;
    return (((long long)b * g.H + y) * g.W + x) * g.C;
}

/* Element (b, y, x, c) of col2im: the sum of every col entry that im2col copied from input (b, y, x, c),
 * taps in increasing (ky, kx) order (the same additions in the same order on every backend). */
RLDT_HD float rldt_col2im_elem(const float *dcol, rldt_conv_t g, int b, int y, int x, int c)
{
    float s = 0.0f;
    int row = g.R * g.R * g.C;
    for (int ky = 0; ky < g.R; ky++) {
        int ty = y + g.pad - ky; /* = oy * stride for the output row that reads (y, x) through tap ky */
        if (ty < 0 || ty % g.stride || ty / g.stride >= g.Ho) continue;
        for (int kx = 0; kx < g.R; kx++) {
            int tx = x + g.pad - kx;
            if (tx < 0 || tx % g.stride || tx / g.stride >= g.Wo) continue;
            size_t r = ((size_t)b * g.Ho + ty / g.stride) * g.Wo + tx / g.stride;
            s += dcol[r * row + (size_t)(ky * g.R + kx) * g.C + c];
        }
    }
    return s;
}

/* Image b's random shift (dy, dx), each in [0, 2 pad] (see the augmentation above); (pad, pad) is none. */
RLDT_HD void rldt_shift_offsets(uint64_t seed, uint64_t stream, uint64_t counter, int b, int pad, int *dy, int *dx)
{
    uint32_t n = (uint32_t)(2 * pad + 1);
    *dy = (int)rldt_philox_below_at(seed, stream, counter, 2 * (uint64_t)b, n);
    *dx = (int)rldt_philox_below_at(seed, stream, counter, 2 * (uint64_t)b + 1, n);
}

/* Element (b, y, x, c) of the shifted float image: the byte at the clamped source pixel, v / 255 - 0.5. */
RLDT_HD float rldt_shift_pixel(const uint8_t *in, int H, int W, int C, int pad, int dy, int dx, int b, int y, int x, int c)
{
    int sy = y + dy - pad, sx = x + dx - pad;
    sy = sy < 0 ? 0 : sy >= H ? H - 1 : sy;
    sx = sx < 0 ? 0 : sx >= W ? W - 1 : sx;
    return (float)in[(((size_t)b * H + sy) * W + sx) * C + c] / 255.0f - 0.5f;
}

// ---------------------------------------------------------------------------------------------------
// the convolution layer (host/nn/conv.c): im2col + the backend's fused linear layer, in chunks of images

struct rldt_backend;

/* Images per chunk so that a chunk's im2col rows fit in `col_floats` floats (at least 1, at most B). */
int rldt_conv_chunk(const rldt_conv_t *g, size_t col_floats, int B);

/* Forward over B images in[B][H][W][C]: pre[B][Ho][Wo][K] = conv(in, W) + bias and post = act(pre) (post
 * may be NULL; post may be pre itself, which keeps only act(pre): enough for backward when act is ReLU or
 * identity, whose derivative reads the same from act(pre) as from pre). `col` is scratch of
 * rldt_conv_chunk(g, col_floats, B) images' rows (col_floats floats). Wb is W[K][R][R][C] then bias[K]. */
void rldt_conv2d_forward(const struct rldt_backend *be, float *pre, float *post, const float *in, const float *Wb,
                         rldt_act_t act, const rldt_conv_t *g, int K, int B, float *col, size_t col_floats);

/* Backward of rldt_conv2d_forward: dpre = dpost * act'(pre) (dpre may be dpost), din[B][H][W][C] = the
 * input gradient (overwritten; skipped when din is NULL), dWb += the weight and bias gradients (skipped when
 * dWb is NULL). `col` and `dcol` are scratch of col_floats floats each (dcol unused when din is NULL); in is
 * the forward's input, whose im2col rows are remade chunk by chunk. */
void rldt_conv2d_backward(const struct rldt_backend *be, float *din, float *dWb, float *dpre, const float *dpost,
                          const float *pre, rldt_act_t act, const float *in, const float *Wb, const rldt_conv_t *g,
                          int K, int B, float *col, float *dcol, size_t col_floats);

#ifdef __cplusplus
}
#endif
#endif
