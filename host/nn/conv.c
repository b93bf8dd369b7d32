/* conv.c — the convolution layer as im2col + the backend's fused linear layer (see rldt/conv.h).
 *
 * A chunk of images at a time: im2col writes the chunk's patch rows into `col`, then linear_forward makes
 * the chunk's output rows (GEMM, bias and activation fused). Backward remakes each chunk's rows (cheaper in
 * memory than keeping every layer's rows: they are R*R times the layer's input) and runs linear_backward on
 * them: the weight and bias gradients accumulate chunk after chunk, and the patch-row gradient goes back to
 * the input through col2im. The same code runs on every backend: the arithmetic is the backend's. */
#include "rldt/backend.h"
#include "rldt/conv.h"

rldt_status_t rldt_conv_shape(rldt_conv_t *g, int H, int W, int C, int R, int stride, int pad)
{
    if (H < 1 || W < 1 || C < 1) return rldt_error_set(RLDT_ERR_USAGE, "conv: input %d x %d x %d has a size < 1", H, W, C);
    if (R < 1) return rldt_error_set(RLDT_ERR_USAGE, "conv: kernel size %d < 1", R);
    if (stride < 1) return rldt_error_set(RLDT_ERR_USAGE, "conv: stride %d < 1", stride);
    if (pad < 0) return rldt_error_set(RLDT_ERR_USAGE, "conv: padding %d < 0", pad);
    if (H + 2 * pad < R || W + 2 * pad < R)
        return rldt_error_set(RLDT_ERR_USAGE, "conv: a %d x %d kernel does not fit a %d x %d input padded by %d", R, R,
                              H, W, pad);
    *g = (rldt_conv_t){H, W, C, R, stride, pad, (H + 2 * pad - R) / stride + 1, (W + 2 * pad - R) / stride + 1};
    return RLDT_OK;
}

int rldt_conv_chunk(const rldt_conv_t *g, size_t col_floats, int B)
{
    size_t n = col_floats / rldt_conv_col_floats(g);
    return n < 1 ? 1 : n > (size_t)B ? (B > 0 ? B : 1) : (int)n;
}

void rldt_conv2d_forward(const rldt_backend_t *be, float *pre, float *post, const float *in, const float *Wb,
                         rldt_act_t act, const rldt_conv_t *g, int K, int B, float *col, size_t col_floats)
{
    int chunk = rldt_conv_chunk(g, col_floats, B), rows = g->Ho * g->Wo, ni = g->R * g->R * g->C;
    size_t in_img = (size_t)g->H * g->W * g->C, out_img = (size_t)rows * K;
    for (int b = 0; b < B; b += chunk) {
        int nb = B - b < chunk ? B - b : chunk;
        be->im2col(col, in + b * in_img, *g, nb);
        be->linear_forward(pre + b * out_img, post ? post + b * out_img : NULL, col, Wb, Wb + (size_t)K * ni, NULL,
                           act, nb * rows, ni, K);
    }
}

void rldt_conv2d_backward(const rldt_backend_t *be, float *din, float *dWb, float *dpre, const float *dpost,
                          const float *pre, rldt_act_t act, const float *in, const float *Wb, const rldt_conv_t *g,
                          int K, int B, float *col, float *dcol, size_t col_floats)
{
    int chunk = rldt_conv_chunk(g, col_floats, B), rows = g->Ho * g->Wo, ni = g->R * g->R * g->C;
    size_t in_img = (size_t)g->H * g->W * g->C, out_img = (size_t)rows * K;
    for (int b = 0; b < B; b += chunk) {
        int nb = B - b < chunk ? B - b : chunk;
        size_t o = b * out_img;
        if (dWb) be->im2col(col, in + b * in_img, *g, nb);
        be->linear_backward(din ? dcol : NULL, dWb, dWb ? dWb + (size_t)K * ni : NULL, dpre + o, dpost + o, NULL,
                            pre + o, act, col, Wb, nb * rows, ni, K);
        if (din) be->col2im(din + b * in_img, dcol, *g, nb);
    }
}
