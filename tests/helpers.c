/* helpers.c — shared test utilities (see helpers.h). */
#define _DEFAULT_SOURCE
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rldt/checkpoint.h"
#include "rldt/pixels.h"

float *test_random_array(size_t n, float lo, float hi, uint64_t stream)
{
    float *x = malloc(sizeof(float) * (n ? n : 1));
    rldt_rng_t r;
    rldt_rng_init(&r, 1, stream);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rldt_rng_uniform(&r);
    return x;
}

double test_rel_err(double a, double b, double floor)
{
    double s = fmax(fmax(fabs(a), fabs(b)), floor);
    return fabs(a - b) / s;
}

double test_max_rel_err(const float *a, const float *b, size_t n, double floor)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = test_rel_err(a[i], b[i], floor);
        if (!(e <= m)) m = e; /* NaN propagates as the maximum */
    }
    return m;
}

char test_out[16384], test_err[16384];

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
    remove(path);
}

int test_run(const char *fmt, ...)
{
    char cmd[4096], o[128], e[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof cmd - 256, "test_run: command of %d bytes, longer than the %zu this helper holds", n,
              sizeof cmd - 256);
    snprintf(o, sizeof o, "/tmp/rldt_test_%d.out", (int)getpid());
    snprintf(e, sizeof e, "/tmp/rldt_test_%d.err", (int)getpid());
    snprintf(cmd + n, sizeof cmd - (size_t)n, " >%s 2>%s", o, e);
    int status = system(cmd);
    slurp(o, test_out, sizeof test_out);
    slurp(e, test_err, sizeof test_err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const char *test_bin(void)
{
    const char *b = getenv("RLDT_BIN");
    if (!b) cr_skip_test("skipped: RLDT_BIN not set (run through make test)");
    return b;
}

char *test_temp_path(const char *tag)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/rldt_test_%d_%s", (int)getpid(), tag);
    return p;
}

void test_tmpdir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/rldt_test_XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
}

void test_rmtree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

const rldt_env_spec_t *test_env(const char *name)
{
    const rldt_env_spec_t *s = rldt_env_find(name);
    cr_assert_not_null(s, "%s", rldt_error_message());
    return s;
}

void test_need_mujoco(const char *task)
{
    rldt_env_model_t *m;
    const rldt_env_spec_t *sp = test_env(task);
    rldt_status_t st = rldt_env_model_load(sp, &m);
    if (st && strstr(rldt_error_message(), "MuJoCo not installed")) {
        cr_assert(strstr(rldt_error_message(), "MuJoCo not installed: run make deps"), "%s", rldt_error_message());
        cr_skip_test("skipped: MuJoCo not installed (run make deps)");
    }
    if (st && strstr(rldt_error_message(), "Gymnasium's models")) cr_skip_test("skipped: %s", rldt_error_message());
    cr_assert_eq(st, RLDT_OK, "%s", rldt_error_message());
    rldt_env_model_free(sp, m);
}

void test_need_rendering(const char *task)
{
    rldt_env_t env;
    rldt_status_t st = rldt_env_init(&env, test_env(task), 0);
    if (st && (strstr(rldt_error_message(), "MuJoCo not installed") || strstr(rldt_error_message(), "Gymnasium's models")))
        cr_skip_test("skipped: %s", rldt_error_message());
    cr_assert_eq(st, RLDT_OK, "%s", rldt_error_message());
    rldt_renderer_t *r;
    st = rldt_env_renderer_create(&env, &r);
    if (!st) rldt_renderer_free(r);
    rldt_env_free(&env);
    if (st && (strstr(rldt_error_message(), "OSMesa") || strstr(rldt_error_message(), "libEGL")))
        cr_skip_test("skipped: %s", rldt_error_message());
    cr_assert_eq(st, RLDT_OK, "%s", rldt_error_message());
}

void test_export_check(const char *ckpt, const char *file, const char *dir)
{
    enum { B = 8 };
    rldt_ckpt_t *c;
    rldt_config_t cfg;
    rldt_policy_t p;
    rldt_pixels_t px;
    cr_assert_eq(rldt_ckpt_open(&c, ckpt, NULL), RLDT_OK, "%s", rldt_error_message());
    cr_assert_eq(rldt_policy_from_ckpt_pixels(c, &cfg, &p, &px, B, rldt_backend_cpu()), RLDT_OK, "%s", rldt_error_message());
    size_t n = p.nparams + px.enc.nparams, img = rldt_pixels_image_bytes(&px);
    float *w = malloc(sizeof(float) * n);
    cr_assert_eq(rldt_ckpt_read(c, RLDT_POLICY_WEIGHTS, w, n), RLDT_OK, "%s", rldt_error_message());
    rldt_ckpt_close(c);
    /* rldt's velocities for random (t, x, raw low-dim obs, image) */
    int D = p.spec.D, od = px.enc.ws ? px.od : p.spec.obs_dim;
    float *x = test_random_array((size_t)B * D, -1, 1, 1), *t = test_random_array(B, 0, 1, 2);
    float *raw = test_random_array((size_t)B * od, -3, 3, 3), *obs = malloc(sizeof(float) * B * p.spec.obs_dim);
    float *pix = test_random_array(B * img, 0, 256, 4);
    uint8_t *images = malloc(B * img + 1);
    for (size_t i = 0; i < B * img; i++) images[i] = (uint8_t)pix[i];
    rldt_pixels_observe(&px, &p, raw, obs, B);
    rldt_pixels_encode(&px, w, obs, images, B, NULL);
    const float *v = rldt_policy_forward(&p, w, x, t, obs, B);
    char cases[512];
    snprintf(cases, sizeof cases, "%s/cases.txt", dir);
    FILE *f = fopen(cases, "w");
    cr_assert(f, "cannot write %s", cases);
    for (int b = 0; b < B; b++) {
        fprintf(f, "%.9g", t[b]);
        for (int d = 0; d < D; d++) fprintf(f, " %.9g", x[b * D + d]);
        fprintf(f, " |");
        for (int d = 0; d < od; d++) fprintf(f, " %.9g", raw[b * od + d]);
        fprintf(f, " |");
        for (int d = 0; d < D; d++) fprintf(f, " %.9g", v[b * D + d]);
        if (img) fprintf(f, " |"); /* the image as rldt reads it, uint8 [h][w][c] */
        for (size_t i = 0; i < img; i++) fprintf(f, " %d", images[b * img + i]);
        fprintf(f, "\n");
    }
    fclose(f);
    int status = test_run(PYTHON " check_safetensors.py %s %s", file, cases);
    cr_log_info("%s", test_out);
    cr_assert_eq(status, 0, "numpy reimplementation disagrees: %s%s", test_out, test_err);
    rldt_pixels_free(&px);
    rldt_policy_free(&p);
    free(w), free(x), free(t), free(raw), free(obs), free(pix), free(images);
}
