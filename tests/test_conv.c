/* test_conv.c — the convolution layer and the image ops on the CPU backend: the forward against a direct
 * convolution in double, the backward (weights, bias, input) against central differences of that double
 * reference, the augmentation's shifts and conversion, and the shape errors. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "rldt/backend.h"
#include "rldt/conv.h"

/* out[b][oy][ox][k] = bias[k] + Σ W[k][ky][kx][c] x[b][oy s + ky - pad][ox s + kx - pad][c] in double. */
static void conv_ref(double *out, const double *x, const double *Wb, const rldt_conv_t *g, int K, int B)
{
    size_t ni = (size_t)g->R * g->R * g->C;
    for (int b = 0; b < B; b++)
        for (int oy = 0; oy < g->Ho; oy++)
            for (int ox = 0; ox < g->Wo; ox++)
                for (int k = 0; k < K; k++) {
                    double s = Wb[(size_t)K * ni + k];
                    for (int ky = 0; ky < g->R; ky++)
                        for (int kx = 0; kx < g->R; kx++) {
                            int y = oy * g->stride + ky - g->pad, xx = ox * g->stride + kx - g->pad;
                            if (y < 0 || y >= g->H || xx < 0 || xx >= g->W) continue;
                            for (int c = 0; c < g->C; c++)
                                s += Wb[k * ni + ((size_t)ky * g->R + kx) * g->C + c] *
                                     x[(((size_t)b * g->H + y) * g->W + xx) * g->C + c];
                        }
                    out[(((size_t)b * g->Ho + oy) * g->Wo + ox) * K + k] = s;
                }
}

/* L = Σ r tanh(conv(x)) in double. */
static double loss_ref(const double *x, const double *Wb, const float *r, const rldt_conv_t *g, int K, int B)
{
    size_t nout = (size_t)B * g->Ho * g->Wo * K;
    double *out = malloc(sizeof(double) * nout), L = 0.0;
    conv_ref(out, x, Wb, g, K, B);
    for (size_t i = 0; i < nout; i++) L += r[i] * tanh(out[i]);
    free(out);
    return L;
}

static double *to_double(const float *x, size_t n)
{
    double *d = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static const int geoms[][7] = {{9, 9, 3, 3, 2, 0, 2}, {6, 5, 4, 3, 1, 1, 2}, {8, 7, 2, 3, 3, 2, 1}};

Test(conv, forward_matches_direct_convolution)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    for (size_t t = 0; t < sizeof geoms / sizeof geoms[0]; t++) {
        const int *q = geoms[t];
        rldt_conv_t g;
        cr_assert_eq(rldt_conv_shape(&g, q[0], q[1], q[2], q[3], q[4], q[5]), RLDT_OK);
        int B = q[6] + 1, K = 5;
        size_t nin = (size_t)B * g.H * g.W * g.C, nout = (size_t)B * g.Ho * g.Wo * K, nw = (size_t)K * g.R * g.R * g.C + K;
        float *x = test_random_array(nin, -1, 1, 1 + t), *Wb = test_random_array(nw, -1, 1, 2 + t);
        float *pre = malloc(sizeof(float) * nout), *col = malloc(sizeof(float) * rldt_conv_col_floats(&g));
        double *Wd = to_double(Wb, nw), *xd = to_double(x, nin), *ref = malloc(sizeof(double) * nout);
        rldt_conv2d_forward(cpu, pre, NULL, x, Wb, RLDT_ACT_IDENTITY, &g, K, B, col, rldt_conv_col_floats(&g));
        conv_ref(ref, xd, Wd, &g, K, B);
        for (size_t i = 0; i < nout; i++) cr_assert_leq(fabs(pre[i] - ref[i]), 1e-5 * (1 + fabs(ref[i])), "geometry %zu, %zu", t, i);
        free(x), free(Wb), free(pre), free(col), free(Wd), free(xd), free(ref);
    }
}

/* Every weight, bias and input gradient of L = Σ r tanh(conv(x)) against central differences (step 1e-4)
 * of the double reference; the layer computes in float, so the bound is float rounding over R*R*C terms. */
Test(conv, backward_matches_finite_differences)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    for (size_t t = 0; t < sizeof geoms / sizeof geoms[0]; t++) {
        const int *q = geoms[t];
        rldt_conv_t g;
        cr_assert_eq(rldt_conv_shape(&g, q[0], q[1], q[2], q[3], q[4], q[5]), RLDT_OK);
        int B = q[6], K = 3;
        size_t nin = (size_t)B * g.H * g.W * g.C, nout = (size_t)B * g.Ho * g.Wo * K, nw = (size_t)K * g.R * g.R * g.C + K;
        size_t ncol = rldt_conv_col_floats(&g); /* one image per chunk: the gradients accumulate over chunks */
        float *x = test_random_array(nin, -1, 1, 11 + t), *Wb = test_random_array(nw, -0.5f, 0.5f, 12 + t);
        float *r = test_random_array(nout, -1, 1, 13 + t);
        float *pre = malloc(sizeof(float) * nout), *post = malloc(sizeof(float) * nout), *din = malloc(sizeof(float) * nin);
        float *dpre = malloc(sizeof(float) * nout), *dW = calloc(nw, sizeof(float));
        float *col = malloc(sizeof(float) * ncol), *dcol = malloc(sizeof(float) * ncol);
        rldt_conv2d_forward(cpu, pre, post, x, Wb, RLDT_ACT_TANH, &g, K, B, col, ncol);
        rldt_conv2d_backward(cpu, din, dW, dpre, r, pre, RLDT_ACT_TANH, x, Wb, &g, K, B, col, dcol, ncol);
        double *Wd = to_double(Wb, nw), *xd = to_double(x, nin), h = 1e-4;
        for (size_t i = 0; i < nw + nin; i++) {
            double *p = i < nw ? &Wd[i] : &xd[i - nw], v = *p;
            *p = v + h;
            double lp = loss_ref(xd, Wd, r, &g, K, B);
            *p = v - h;
            double lm = loss_ref(xd, Wd, r, &g, K, B);
            *p = v;
            double fd = (lp - lm) / (2 * h), got = i < nw ? dW[i] : din[i - nw];
            const char *what = i < nw - K ? "weight" : i < nw ? "bias" : "input";
            cr_assert_leq(fabs(got - fd), 2e-3 * fmax(fabs(fd), 0.1), "geometry %zu: %s %zu: %g vs %g", t, what,
                          i < nw ? i : i - nw, got, fd);
        }
        free(x), free(Wb), free(r), free(pre), free(post), free(din), free(dpre), free(dW), free(col), free(dcol);
        free(Wd), free(xd);
    }
}

Test(conv, image_shift_replicates_edges_within_pad)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    int B = 64, H = 6, W = 5, C = 2, pad = 2;
    size_t img = (size_t)H * W * C, n = (size_t)B * img;
    uint8_t *in = malloc(n);
    for (size_t i = 0; i < n; i++) in[i] = (uint8_t)(i * 37 % 251);
    float *out = malloc(sizeof(float) * n);
    cpu->image_shift(out, in, B, H, W, C, 0, 5, 6, 7);
    for (size_t i = 0; i < n; i++) cr_assert_eq(out[i], (float)in[i] / 255.0f - 0.5f);
    cpu->image_shift(out, in, B, H, W, C, pad, 5, 6, 7);
    int seen[5][5] = {{0}};
    for (int b = 0; b < B; b++) {
        int dy, dx;
        rldt_shift_offsets(5, 6, 7, b, pad, &dy, &dx);
        cr_assert(dy >= 0 && dy <= 2 * pad && dx >= 0 && dx <= 2 * pad);
        seen[dy][dx]++;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < C; c++) {
                    int sy = y + dy - pad, sx = x + dx - pad;
                    sy = sy < 0 ? 0 : sy > H - 1 ? H - 1 : sy;
                    sx = sx < 0 ? 0 : sx > W - 1 ? W - 1 : sx;
                    float want = (float)in[(size_t)b * img + ((size_t)sy * W + sx) * C + c] / 255.0f - 0.5f;
                    cr_assert_eq(out[(size_t)b * img + ((size_t)y * W + x) * C + c], want);
                }
    }
    int distinct = 0;
    for (int i = 0; i < 25; i++) distinct += seen[i / 5][i % 5] > 0;
    cr_assert_geq(distinct, 15, "64 images drew only %d of the 25 shifts", distinct);
    free(in), free(out);
}

Test(conv, shape_errors_name_the_value)
{
    rldt_conv_t g;
    cr_assert_eq(rldt_conv_shape(&g, 84, 84, 3, 3, 2, 0), RLDT_OK);
    cr_assert(g.Ho == 41 && g.Wo == 41);
    cr_assert_eq(rldt_conv_shape(&g, 0, 5, 3, 3, 1, 0), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "size < 1"));
    cr_assert_eq(rldt_conv_shape(&g, 5, 5, 3, 3, 0, 0), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "stride 0"));
    cr_assert_eq(rldt_conv_shape(&g, 2, 2, 3, 5, 1, 1), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "does not fit"));
    cr_assert_eq(rldt_conv_shape(&g, 5, 5, 3, 3, 1, -1), RLDT_ERR_USAGE);
}
