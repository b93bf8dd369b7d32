/* test_parity_conv.c — the device backend's convolution and image ops (im2col, col2im, image_shift) and the
 * convolution layer built on them (rldt_conv2d_forward/backward), against the CPU backend (see parity.h):
 * random inputs, every check under each of the emulator's thread orders, device outputs starting as NaN.
 *
 * Bounds: im2col and image_shift move values (the shift's offsets are the same Philox draws on both sides,
 * v / 255 - 0.5 is correctly rounded on both): bit-equal. col2im adds the same terms in the same order:
 * bit-equal as well. The layer's outputs and gradients go through the GEMMs (another summation order):
 * 1e-4 relative to max(|device|, |cpu|, rms(cpu)), as the linear layer's parity bound (test_parity_nn.c);
 * the same for the whole encoder (rldt/encoder.h: the shift, three layers, projection, LayerNorm, tanh). */
#define _POSIX_C_SOURCE 200809L
#include "parity.h"
#include "rldt/conv.h"
#include "rldt/encoder.h"

#define TOL_LAYER 1e-4

/* Downloads n floats and asserts they equal ref bit for bit. */
static void expect_equal(const rldt_backend_t *be, const float *dev, const float *ref, size_t n, const char *what)
{
    float *h = malloc(sizeof(float) * (n ? n : 1));
    be->download(h, dev, sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(&h[i], &ref[i], sizeof(float)) == 0, "%s: element %zu: %.9g vs %.9g", what, i, h[i], ref[i]);
    free(h);
}

/* |device - cpu| / max(|device|, |cpu|, rms(cpu)) <= tol for every element, all written. */
static void expect_layer(const rldt_backend_t *be, const float *dev, const float *ref, size_t n, const char *what)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)ref[i] * ref[i];
    expect_close_floor(be, dev, ref, n, TOL_LAYER, fmax(sqrt(ss / (double)(n ? n : 1)), 1e-30), what);
}

/* Geometries: (H, W, C, R, stride, pad, B) — DrQ's first and later layers at small sizes, padding, odd sizes,
 * a stride that does not divide the input, 1 x 1 taps. */
static const int geoms[][7] = {
    {9, 9, 3, 3, 2, 0, 3}, {7, 7, 32, 3, 1, 0, 2}, {6, 5, 4, 3, 1, 1, 2}, {8, 11, 2, 3, 3, 2, 2}, {5, 5, 6, 1, 1, 0, 3},
};

/* One device run of im2col and col2im against the CPU's col and din. */
static void check_im2col(const rldt_backend_t *cu, const float *X, const float *DCOL, const float *col, const float *din,
                         rldt_conv_t g, int B, size_t t)
{
    size_t nin = (size_t)B * g.H * g.W * g.C, ncol = (size_t)B * rldt_conv_col_floats(&g);
    float *COL = nan_dev(cu, ncol), *DIN = nan_dev(cu, nin);
    char what[96];
    cu->im2col(COL, X, g, B);
    cu->col2im(DIN, DCOL, g, B);
    snprintf(what, sizeof what, "im2col geometry %zu", t);
    expect_equal(cu, COL, col, ncol, what);
    snprintf(what, sizeof what, "col2im geometry %zu", t);
    expect_equal(cu, DIN, din, nin, what);
    cu->free(COL);
    cu->free(DIN);
}

Test(parity, im2col_col2im)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    for (size_t t = 0; t < sizeof geoms / sizeof geoms[0]; t++) {
        const int *q = geoms[t];
        rldt_conv_t g;
        cr_assert_eq(rldt_conv_shape(&g, q[0], q[1], q[2], q[3], q[4], q[5]), RLDT_OK);
        int B = q[6];
        size_t nin = (size_t)B * g.H * g.W * g.C, ncol = (size_t)B * rldt_conv_col_floats(&g);
        float *x = test_random_array(nin, -1, 1, 10 + t), *dcol = test_random_array(ncol, -1, 1, 20 + t);
        float *col = malloc(sizeof(float) * ncol), *din = malloc(sizeof(float) * nin);
        cpu->im2col(col, x, g, B);
        cpu->col2im(din, dcol, g, B);
        float *X = to_dev(cu, x, nin), *DCOL = to_dev(cu, dcol, ncol);
        PARITY_ORDERS(cu, check_im2col(cu, X, DCOL, col, din, g, B, t));
        cu->free(X);
        cu->free(DCOL);
        free(x), free(dcol), free(col), free(din);
    }
}

/* One device run of image_shift against the CPU's output. */
static void check_shift(const rldt_backend_t *cu, const uint8_t *IMG, const float *ref, int B, int H, int W, int C, int pad)
{
    size_t n = (size_t)B * H * W * C;
    float *OUT = nan_dev(cu, n);
    cu->image_shift(OUT, IMG, B, H, W, C, pad, 99, 3, 17);
    expect_equal(cu, OUT, ref, n, pad ? "image_shift pad 4" : "image_shift pad 0");
    cu->free(OUT);
}

Test(parity, image_shift)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    int B = 5, H = 12, W = 10, C = 3;
    size_t n = (size_t)B * H * W * C;
    uint8_t *img = malloc(n);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 7, 1);
    for (size_t i = 0; i < n; i++) img[i] = (uint8_t)rldt_rng_below(&rng, 256);
    uint8_t *IMG = cu->alloc(n);
    cu->upload(IMG, img, n);
    float *ref = malloc(sizeof(float) * n);
    for (int pad = 0; pad <= 4; pad += 4) {
        cpu->image_shift(ref, img, B, H, W, C, pad, 99, 3, 17);
        PARITY_ORDERS(cu, check_shift(cu, IMG, ref, B, H, W, C, pad));
    }
    cu->free(IMG);
    free(img), free(ref);
}

typedef struct {
    rldt_conv_t g;
    int K, B;
    size_t ncol;
    const float *X, *WB, *DY;    /* device inputs */
    float *COL, *DCOL;           /* device scratch */
    const float *pre, *post, *dpre, *din, *dW; /* the CPU's results */
    size_t t;
} layer_case_t;

/* One device run of the layer forward and backward against the CPU's results. */
static void check_layer(const rldt_backend_t *cu, const layer_case_t *c)
{
    const rldt_conv_t *g = &c->g;
    size_t nin = (size_t)c->B * g->H * g->W * g->C, nout = (size_t)c->B * g->Ho * g->Wo * c->K;
    size_t nw = (size_t)c->K * g->R * g->R * g->C + c->K;
    float *PRE = nan_dev(cu, nout), *POST = nan_dev(cu, nout), *DIN = nan_dev(cu, nin), *DPRE = nan_dev(cu, nout);
    float *dw0 = test_random_array(nw, -1, 1, 60 + c->t), *DW = to_dev(cu, dw0, nw);
    char what[96];
    rldt_conv2d_forward(cu, PRE, POST, c->X, c->WB, RLDT_ACT_RELU, g, c->K, c->B, c->COL, c->ncol);
    snprintf(what, sizeof what, "conv2d geometry %zu: pre", c->t);
    expect_layer(cu, PRE, c->pre, nout, what);
    snprintf(what, sizeof what, "conv2d geometry %zu: post", c->t);
    expect_layer(cu, POST, c->post, nout, what);
    cu->upload(PRE, c->pre, sizeof(float) * nout);
    rldt_conv2d_backward(cu, DIN, DW, DPRE, c->DY, PRE, RLDT_ACT_RELU, c->X, c->WB, g, c->K, c->B, c->COL, c->DCOL, c->ncol);
    snprintf(what, sizeof what, "conv2d geometry %zu: dpre", c->t);
    expect_layer(cu, DPRE, c->dpre, nout, what);
    snprintf(what, sizeof what, "conv2d geometry %zu: din", c->t);
    expect_layer(cu, DIN, c->din, nin, what);
    snprintf(what, sizeof what, "conv2d geometry %zu: dW, db (accumulated)", c->t);
    expect_layer(cu, DW, c->dW, nw, what);
    cu->free(PRE), cu->free(POST), cu->free(DIN), cu->free(DPRE), cu->free(DW);
    free(dw0);
}

/* The layer on both backends, with a col budget of two images so that it runs in chunks (and a last chunk
 * of one image), relu fused; the backward on the CPU's pre-activation, weights gradients accumulating onto
 * random values. */
Test(parity, conv2d_layer)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    for (size_t t = 0; t < sizeof geoms / sizeof geoms[0]; t++) {
        const int *q = geoms[t];
        rldt_conv_t g;
        cr_assert_eq(rldt_conv_shape(&g, q[0], q[1], q[2], q[3], q[4], q[5]), RLDT_OK);
        int B = q[6] + 2, K = 8, ni = g.R * g.R * g.C;
        size_t nin = (size_t)B * g.H * g.W * g.C, nout = (size_t)B * g.Ho * g.Wo * K, nw = (size_t)K * ni + K;
        size_t ncol = 2 * rldt_conv_col_floats(&g);
        float *x = test_random_array(nin, -1, 1, 30 + t), *Wb = test_random_array(nw, -0.5f, 0.5f, 40 + t);
        float *dy = test_random_array(nout, -1, 1, 50 + t), *dW = test_random_array(nw, -1, 1, 60 + t);
        float *pre = malloc(sizeof(float) * nout), *post = malloc(sizeof(float) * nout), *din = malloc(sizeof(float) * nin);
        float *dpre = malloc(sizeof(float) * nout), *col = malloc(sizeof(float) * ncol), *dcol = malloc(sizeof(float) * ncol);
        rldt_conv2d_forward(cpu, pre, post, x, Wb, RLDT_ACT_RELU, &g, K, B, col, ncol);
        float *X = to_dev(cu, x, nin), *WB = to_dev(cu, Wb, nw), *DY = to_dev(cu, dy, nout);
        float *COL = cu->alloc(sizeof(float) * ncol), *DCOL = cu->alloc(sizeof(float) * ncol);
        rldt_conv2d_backward(cpu, din, dW, dpre, dy, pre, RLDT_ACT_RELU, x, Wb, &g, K, B, col, dcol, ncol);
        layer_case_t c = {g, K, B, ncol, X, WB, DY, COL, DCOL, pre, post, dpre, din, dW, t};
        PARITY_ORDERS(cu, check_layer(cu, &c));
        cu->free(X), cu->free(WB), cu->free(DY), cu->free(COL), cu->free(DCOL);
        free(x), free(Wb), free(dy), free(dW), free(pre), free(post), free(din), free(dpre), free(col), free(dcol);
    }
}

/* The DrQ encoder end to end on a small spec: augmented forward, backward with parameter and input
 * gradients (chunked layers are conv2d_layer's case). */
static void check_encoder(const rldt_backend_t *cu, const rldt_encoder_spec_t *s, int B, const float *P, const uint8_t *IMG_host,
                          const float *dout, const float *feat, const float *G, const float *din)
{
    rldt_encoder_t e;
    cr_assert_eq(rldt_encoder_init(&e, s, B, cu), RLDT_OK);
    size_t nx = (size_t)B * s->h * s->w * s->c, nout = (size_t)B * s->feature;
    float *PD = to_dev(cu, P, e.nparams), *GD = cu->alloc(sizeof(float) * e.nparams), *DOUT = to_dev(cu, dout, nout);
    float *DIN = nan_dev(cu, nx);
    uint8_t *IMG = cu->alloc(nx);
    cu->upload(IMG, IMG_host, nx);
    rldt_rng_t aug;
    rldt_rng_init(&aug, 11, 12);
    expect_layer(cu, rldt_encoder_forward(&e, PD, IMG, B, &aug), feat, nout, "encoder features");
    rldt_encoder_backward(&e, PD, GD, DOUT, DIN);
    expect_layer(cu, GD, G, e.nparams, "encoder parameter gradients");
    expect_layer(cu, DIN, din, nx, "encoder input gradients");
    cu->free(PD), cu->free(GD), cu->free(DOUT), cu->free(DIN), cu->free(IMG);
    rldt_encoder_free(&e);
}

Test(parity, encoder)
{
    const rldt_backend_t *cu = parity_backend(), *cpu = rldt_backend_cpu();
    rldt_encoder_spec_t s = {.h = 15, .w = 13, .c = 3, .layers = 3, .channels = 8, .stride0 = 2, .feature = 10, .shift = 3};
    int B = 4;
    rldt_encoder_t e;
    cr_assert_eq(rldt_encoder_init(&e, &s, B, cpu), RLDT_OK);
    size_t nx = (size_t)B * s.h * s.w * s.c, nout = (size_t)B * s.feature;
    float *P = malloc(sizeof(float) * e.nparams), *G = calloc(e.nparams, sizeof(float)), *din = malloc(sizeof(float) * nx);
    float *feat = malloc(sizeof(float) * nout), *dout = test_random_array(nout, -1, 1, 70);
    uint8_t *img = malloc(nx);
    rldt_rng_t rng, aug;
    rldt_rng_init(&rng, 13, 14), rldt_rng_init(&aug, 11, 12);
    rldt_encoder_init_params(&e, P, &rng);
    for (size_t i = 0; i < nx; i++) img[i] = (uint8_t)rldt_rng_below(&rng, 256);
    memcpy(feat, rldt_encoder_forward(&e, P, img, B, &aug), sizeof(float) * nout);
    rldt_encoder_backward(&e, P, G, dout, din);
    rldt_encoder_free(&e);
    PARITY_ORDERS(cu, check_encoder(cu, &s, B, P, img, dout, feat, G, din));
    free(P), free(G), free(din), free(feat), free(dout), free(img);
}
