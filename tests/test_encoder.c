/* test_encoder.c — the DrQ image encoder on the CPU backend: its gradients (every conv weight and bias, the
 * projection, LayerNorm and the input) against central differences, augmentation, a short fit, spec errors. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "rldt/encoder.h"
#include "rldt/optim.h"

/* A small encoder: 13 x 11 x 3 images, 2 layers of 4 channels (first stride 2), 6 features. */
static rldt_encoder_spec_t small_spec(void)
{
    return (rldt_encoder_spec_t){.h = 13, .w = 11, .c = 3, .layers = 2, .channels = 4, .stride0 = 2, .feature = 6, .shift = 2};
}

static double weighted(const float *out, const float *r, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * r[i];
    return s;
}

/* L = Σ r out: every parameter's and input's gradient against differences of the float forward (step 1e-3,
 * sums in double, as the MLP's checks in test_nn.c). A step that crosses a ReLU kink bends the central
 * difference (seen: 0.58 analytic, 0.548 central, 0.580 from the right, 0.498 from the left at the step
 * 1.25e-3): an element passes when the central difference or either one-sided difference agrees. */
Test(encoder, gradients_match_finite_differences)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    rldt_encoder_spec_t s = small_spec();
    rldt_encoder_t e;
    int B = 3;
    cr_assert_eq(rldt_encoder_init(&e, &s, B, cpu), RLDT_OK);
    size_t n = e.nparams, nx = (size_t)B * s.h * s.w * s.c, nout = (size_t)B * s.feature;
    cr_assert_eq(n, rldt_encoder_param_count(&s));
    float *P = malloc(sizeof(float) * n), *G = calloc(n, sizeof(float)), *din = malloc(sizeof(float) * nx);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 3, 4);
    rldt_encoder_init_params(&e, P, &rng);
    for (int f = 0; f < s.feature; f++) P[e.ln_param + f] = 0.5f + 0.1f * (float)f; /* gamma away from 1 */
    float *x = test_random_array(nx, -0.5f, 0.5f, 1), *r = test_random_array(nout, -1, 1, 2);
    double l0 = weighted(rldt_encoder_forward_float(&e, P, x, B), r, nout);
    rldt_encoder_backward(&e, P, G, r, din);
    const float h = 1e-3f;
    for (size_t i = 0; i < n + nx; i++) {
        float *v = i < n ? &P[i] : &x[i - n], keep = *v;
        double l[2];
        for (int k = 0; k < 2; k++) {
            *v = keep + (k ? -h : h);
            l[k] = weighted(rldt_encoder_forward_float(&e, P, x, B), r, nout);
        }
        *v = keep;
        double fd[3] = {(l[0] - l[1]) / (2.0 * h), (l[0] - l0) / h, (l0 - l[1]) / h}, got = i < n ? G[i] : din[i - n];
        double err = fmin(fabs(got - fd[0]), fmin(fabs(got - fd[1]), fabs(got - fd[2])));
        cr_assert_leq(err, 2e-2 * fmax(fabs(fd[0]), 0.05), "%s %zu: %g vs %g (central), %g (right), %g (left)",
                      i < n ? "param" : "input", i < n ? i : i - n, got, fd[0], fd[1], fd[2]);
    }
    free(P), free(G), free(din), free(x), free(r);
    rldt_encoder_free(&e);
}

/* Without augmentation the uint8 path equals the float path on v / 255 - 0.5; with it, the same stream gives
 * the same features and another stream others, and the stream advances by the blocks of 2B draws. */
Test(encoder, augmentation_is_reproducible)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    rldt_encoder_spec_t s = small_spec();
    rldt_encoder_t e;
    int B = 4;
    cr_assert_eq(rldt_encoder_init(&e, &s, B, cpu), RLDT_OK);
    size_t nx = (size_t)B * s.h * s.w * s.c, nout = (size_t)B * s.feature;
    float *P = malloc(sizeof(float) * e.nparams), *x = malloc(sizeof(float) * nx), *a = malloc(sizeof(float) * nout);
    uint8_t *img = malloc(nx);
    rldt_rng_t rng;
    rldt_rng_init(&rng, 5, 6);
    rldt_encoder_init_params(&e, P, &rng);
    for (size_t i = 0; i < nx; i++) img[i] = (uint8_t)rldt_rng_below(&rng, 256), x[i] = (float)img[i] / 255.0f - 0.5f;
    memcpy(a, rldt_encoder_forward(&e, P, img, B, NULL), sizeof(float) * nout);
    const float *b = rldt_encoder_forward_float(&e, P, x, B);
    for (size_t i = 0; i < nout; i++) cr_assert_eq(a[i], b[i]);
    rldt_rng_t s1, s2, s3;
    rldt_rng_init(&s1, 9, 1), rldt_rng_init(&s2, 9, 1), rldt_rng_init(&s3, 9, 2);
    memcpy(a, rldt_encoder_forward(&e, P, img, B, &s1), sizeof(float) * nout);
    cr_assert_eq(s1.counter, rldt_philox_blocks(2 * (uint64_t)B));
    b = rldt_encoder_forward(&e, P, img, B, &s2);
    for (size_t i = 0; i < nout; i++) cr_assert_eq(a[i], b[i]);
    b = rldt_encoder_forward(&e, P, img, B, &s3);
    cr_assert_gt(test_max_rel_err(a, b, nout, 1e-3), 1e-3, "another stream should shift differently");
    free(P), free(x), free(a), free(img);
    rldt_encoder_free(&e);
}

/* The encoder learns a pixel statistic: feature 0 regressed onto each image's mean brightness (random shifts
 * on), Adam for 150 steps; the loss falls by 5x. */
Test(encoder, fits_image_brightness)
{
    const rldt_backend_t *cpu = rldt_backend_cpu();
    rldt_encoder_spec_t s = small_spec();
    rldt_encoder_t e;
    int B = 16;
    cr_assert_eq(rldt_encoder_init(&e, &s, B, cpu), RLDT_OK);
    size_t img = (size_t)s.h * s.w * s.c, nout = (size_t)B * s.feature;
    float *P = malloc(sizeof(float) * e.nparams), *target = malloc(sizeof(float) * B), *dout = calloc(nout, sizeof(float));
    uint8_t *images = malloc(img * B);
    rldt_rng_t rng, aug;
    rldt_rng_init(&rng, 7, 8), rldt_rng_init(&aug, 7, 9);
    rldt_encoder_init_params(&e, P, &rng);
    rldt_trainable_t t;
    cr_assert_eq(rldt_trainable_init(&t, cpu, e.nparams, P), RLDT_OK);
    rldt_adam_t opt = rldt_adam_default();
    double first = 0, last = 0;
    for (int step = 0; step < 150; step++) {
        for (int b = 0; b < B; b++) { /* each image a flat level plus noise: its mean is the target */
            int level = (int)rldt_rng_below(&rng, 200);
            double sum = 0;
            for (size_t i = 0; i < img; i++) {
                images[b * img + i] = (uint8_t)(level + (int)rldt_rng_below(&rng, 56));
                sum += images[b * img + i];
            }
            target[b] = (float)(sum / (double)img / 255.0 - 0.5);
        }
        const float *out = rldt_encoder_forward(&e, t.p, images, B, &aug);
        double loss = 0;
        for (int b = 0; b < B; b++) {
            float d = out[(size_t)b * s.feature] - target[b];
            loss += (double)d * d / B;
            dout[(size_t)b * s.feature] = 2.0f * d / (float)B;
        }
        if (step < 10) first += loss / 10;
        if (step >= 140) last += loss / 10;
        rldt_trainable_zero_grad(&t);
        rldt_encoder_backward(&e, t.p, t.g, dout, NULL);
        rldt_trainable_step(&t, &opt, 3e-3f, 0.0f);
    }
    cr_assert_lt(last, first / 5, "loss %g -> %g", first, last);
    rldt_trainable_free(&t);
    free(P), free(target), free(dout), free(images);
    rldt_encoder_free(&e);
}

Test(encoder, spec_errors_name_the_field)
{
    rldt_encoder_spec_t s = rldt_encoder_drq(84, 84, 3);
    cr_assert_eq(rldt_encoder_spec_check(&s), RLDT_OK);
    rldt_encoder_t e;
    cr_assert_eq(rldt_encoder_init(&e, &s, 2, rldt_backend_cpu()), RLDT_OK);
    cr_assert_eq(e.flat, 35 * 35 * 32);
    rldt_encoder_free(&e);
    s.h = 10;
    cr_assert_eq(rldt_encoder_spec_check(&s), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "too small for 4 layers (layer 3"), "%s", rldt_error_message());
    s = rldt_encoder_drq(84, 84, 5);
    cr_assert_eq(rldt_encoder_spec_check(&s), RLDT_ERR_USAGE);
    cr_assert(strstr(rldt_error_message(), "image channels 5"));
    s = rldt_encoder_drq(84, 84, 3), s.layers = 0;
    cr_assert_eq(rldt_encoder_spec_check(&s), RLDT_ERR_USAGE);
    cr_assert_eq(rldt_encoder_param_count(&s), 0);
    s = rldt_encoder_drq(84, 84, 3);
    cr_assert_eq(rldt_encoder_init(&e, &s, 0, rldt_backend_cpu()), RLDT_ERR_USAGE);
}
