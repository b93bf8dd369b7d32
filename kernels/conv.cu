// conv.cu — the convolution and image ops: im2col, col2im and the random-shift augmentation (rldt/conv.h,
// NHWC). They only move data: the convolution's arithmetic is the linear layer's (nn.cu, cuBLAS), which
// host/nn/conv.c runs on the im2col rows. Each kernel is a grid-stride loop with one output element per
// iteration, so every output element is written exactly once and no atomics are needed: col2im gathers (each
// input element sums the col entries that read it, in the shared tap order of rldt_col2im_elem) instead of
// scattering. Consecutive threads write consecutive elements (coalesced stores); the channel index is the
// fastest, so reads of a tap's C channels are contiguous as well.
#include "index.cuh"
#include "rldt/conv.h"

#define CONV_LAUNCH(kernel, n, ...)                                                                         \
    do {                                                                                                    \
        unsigned bs_ = rldt_block();                                                                        \
        RLDT_LAUNCH(kernel, rldt_grid((n), bs_), bs_, __VA_ARGS__);                                         \
        CUDA_CHECK(cudaGetLastError());                                                                     \
    } while (0)

// col[row][k] with row = (b*Ho + oy)*Wo + ox and k = (ky*R + kx)*C + c.
__global__ void im2col_kernel(float *col, const float *in, rldt_conv_t g, size_t n)
{
    unsigned ni = (unsigned)(g.R * g.R * g.C);
    GRID_STRIDE(e, n)
    {
        size_t row, k, b, pix;
        rldt_divmod(e, ni, &row, &k);
        rldt_divmod(row, (unsigned)(g.Ho * g.Wo), &b, &pix);
        int oy = (int)pix / g.Wo, ox = (int)pix % g.Wo, tap = (int)k / g.C, c = (int)k % g.C;
        long long src = rldt_im2col_src(g, (int)b, oy, ox, tap / g.R, tap % g.R);
        col[e] = src < 0 ? 0.0f : in[src + c];
    }
}

// din[b][y][x][c] = rldt_col2im_elem.
__global__ void col2im_kernel(float *din, const float *dcol, rldt_conv_t g, size_t n)
{
    GRID_STRIDE(e, n)
    {
        size_t px, c, b, yx;
        rldt_divmod(e, (unsigned)g.C, &px, &c);
        rldt_divmod(px, (unsigned)(g.H * g.W), &b, &yx);
        din[e] = rldt_col2im_elem(dcol, g, (int)b, (int)yx / g.W, (int)yx % g.W, (int)c);
    }
}

// out[b][y][x][c]: each element draws its image's offsets itself (two Philox blocks' worth of words, no
// second pass or shared table; a few dozen integer operations beside one byte read).
__global__ void image_shift_kernel(float *out, const uint8_t *in, int H, int W, int C, int pad, uint64_t seed,
                                   uint64_t stream, uint64_t counter, size_t n)
{
    GRID_STRIDE(e, n)
    {
        size_t px, c, b, yx;
        rldt_divmod(e, (unsigned)C, &px, &c);
        rldt_divmod(px, (unsigned)(H * W), &b, &yx);
        int dy = pad, dx = pad;
        if (pad) rldt_shift_offsets(seed, stream, counter, (int)b, pad, &dy, &dx);
        out[e] = rldt_shift_pixel(in, H, W, C, pad, dy, dx, (int)b, (int)yx / W, (int)yx % W, (int)c);
    }
}

static void cuda_im2col(float *col, const float *in, rldt_conv_t g, int B)
{
    size_t n = (size_t)(B > 0 ? B : 0) * rldt_conv_col_floats(&g);
    if (n) CONV_LAUNCH(im2col_kernel, n, col, in, g, n);
}

static void cuda_col2im(float *din, const float *dcol, rldt_conv_t g, int B)
{
    size_t n = (size_t)(B > 0 ? B : 0) * g.H * g.W * g.C;
    if (n) CONV_LAUNCH(col2im_kernel, n, din, dcol, g, n);
}

static void cuda_image_shift(float *out, const uint8_t *in, int B, int H, int W, int C, int pad, uint64_t seed,
                             uint64_t stream, uint64_t counter)
{
    size_t n = (size_t)(B > 0 ? B : 0) * H * W * C;
    if (n) CONV_LAUNCH(image_shift_kernel, n, out, in, H, W, C, pad, seed, stream, counter, n);
}

void rldt_cuda_register_conv(rldt_backend_t *be)
{
    be->im2col = cuda_im2col;
    be->col2im = cuda_col2im;
    be->image_shift = cuda_image_shift;
}
